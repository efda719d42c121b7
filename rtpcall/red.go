package rtpcall

import (
	"errors"
	"fmt"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/fec"
	"github.com/spurtvoip/spurt/jitter"
)

// Redundant audio (RFC 2198).
//
// Sending. With REDConfig.Distance = n every RTP packet carries the current
// chunk (the primary, in the call's codec) and, as redundant blocks, the
// secondary codec's encoding of the n chunks sent just before it, oldest
// first. One secondary encoder is fed every sent chunk, so its state runs
// continuously. A chunk rides along only if it went out in the packets right
// before (sequence numbers and timestamps both contiguous): the first packets
// of a talk spurt carry fewer copies, and the last chunk of a spurt has no
// copy at all, since nothing follows it.
//
// Receiving. The primary goes to the playout buffer as before. A redundant
// block at timestamp offset k chunks stands for packet seq-k; if that packet
// has not arrived, the copy is pushed to the buffer as that packet, with the
// arrival time of the packet that carried it. So the playout strategy sees
// the recovery as what it is, a packet that came k chunks late, and a copy
// that comes after the chunk's playout time is late like any packet. A
// primary that arrives after its copy was queued replaces it if the copy has
// not been played yet; after that it counts as late. Copies in the secondary
// codec are decoded by a decoder of their own: it sees only the recovered
// chunks, not a continuous stream, so for a stateful codec such as GSM the
// decoded copy is an approximation of what a continuous decoder would give.
//
// Playout delay. A copy arrives k chunks after its primary would have, so an
// adaptive buffer can only use it if its playout delay leaves that much room.
// The receiver therefore adds the redundancy span (the largest timestamp
// offset in the peer's latest RED packet, or before the first one what the
// peer announced) to the strategy's offset at each talk spurt; the extra
// delay shows in the playout delay figures. A fixed playout delay is left as
// set: choose it above the span for copies to be of use.

// MaxREDDistance is the most earlier chunks a packet can carry as copies.
const MaxREDDistance = 4

// REDConfig turns on RFC 2198 redundant audio for a call.
type REDConfig struct {
	// PayloadType is the dynamic payload type negotiated for red/8000.
	PayloadType uint8
	// Secondary is the encoding of the redundant copies (GSM 06.10 in Spurt).
	Secondary codec.Codec
	// Distance is how many earlier chunks each packet we send carries as
	// copies: 1 (chunk n-1 rides with chunk n) up to MaxREDDistance. Zero
	// sends plain audio while still receiving the peer's RED packets.
	Distance int
	// PeerDistance is what the peer announced it sends (from its SDP), used
	// for the playout delay until its packets show the real span.
	PeerDistance int
}

// Scheme names the redundancy this side sends: "red:1", "red:2", or "none".
func (c *REDConfig) Scheme() string {
	if c == nil || c.Distance == 0 {
		return "none"
	}
	return fmt.Sprintf("red:%d", c.Distance)
}

func (c *REDConfig) validate(primary codec.Codec) error {
	switch {
	case c.PayloadType > 127:
		return fmt.Errorf("rtpcall: RED payload type %d is not a 7-bit payload type", c.PayloadType)
	case c.PayloadType == primary.PayloadType || c.PayloadType == c.Secondary.PayloadType:
		return fmt.Errorf("rtpcall: RED payload type %d is already the codec's", c.PayloadType)
	case c.Secondary.NewEncoder == nil || c.Secondary.NewDecoder == nil:
		return errors.New("rtpcall: RED needs a secondary codec")
	case c.Secondary.ClockRate != primary.ClockRate:
		return fmt.Errorf("rtpcall: RED secondary %s runs at %d Hz, the codec %s at %d Hz",
			c.Secondary.Name, c.Secondary.ClockRate, primary.Name, primary.ClockRate)
	case c.Distance < 0 || c.Distance > MaxREDDistance || c.PeerDistance < 0 || c.PeerDistance > MaxREDDistance:
		return fmt.Errorf("rtpcall: RED distance must lie between 0 and %d", MaxREDDistance)
	}
	return nil
}

// redEncoder builds the RED payloads of the send pipeline.
type redEncoder struct {
	pt        uint8
	primaryPT uint8
	secPT     uint8
	distance  int
	enc       codec.Encoder
	history   [MaxREDDistance]sentCopy // the last chunks sent, by packet count modulo distance
	blocks    [MaxREDDistance]fec.Block
	payload   []byte
}

// sentCopy is the secondary encoding of one chunk that was sent.
type sentCopy struct {
	ok   bool
	seq  uint16
	ts   uint32
	n    int
	data [fec.MaxREDBlockLength]byte
}

func newREDEncoder(cfg *REDConfig, primaryPT uint8) *redEncoder {
	return &redEncoder{
		pt:        cfg.PayloadType,
		primaryPT: primaryPT,
		secPT:     cfg.Secondary.PayloadType,
		distance:  cfg.Distance,
		enc:       cfg.Secondary.NewEncoder(),
		payload:   make([]byte, 0, maxPacketSize),
	}
}

// build encodes pcm with the secondary codec for later packets and returns
// the RED payload for the packet seq, ts whose primary block is primary.
func (e *redEncoder) build(pcm []int16, primary []byte, seq uint16, ts uint32, frame int) ([]byte, error) {
	blocks := e.blocks[:0]
	for k := e.distance; k >= 1; k-- {
		c := &e.history[int(seq-uint16(k))%e.distance]
		if c.ok && c.seq == seq-uint16(k) && c.ts == ts-uint32(k*frame) {
			blocks = append(blocks, fec.Block{PT: e.secPT, TimestampOffset: uint16(k * frame), Payload: c.data[:c.n]})
		}
	}
	payload, err := fec.AppendRED(e.payload[:0], e.primaryPT, primary, blocks)
	if err != nil {
		return nil, fmt.Errorf("rtpcall: building RED payload: %w", err)
	}
	e.payload = payload
	// Encode this chunk only now: its slot held the copy of seq-distance.
	c := &e.history[int(seq)%e.distance]
	c.ok = false
	enc, err := e.enc.Encode(c.data[:0], pcm)
	if err != nil {
		return nil, fmt.Errorf("rtpcall: encoding the redundant copy: %w", err)
	}
	if len(enc) > len(c.data) {
		return nil, fmt.Errorf("rtpcall: redundant copy of %d bytes is longer than an RFC 2198 block", len(enc))
	}
	c.ok, c.seq, c.ts, c.n = true, seq, ts, copy(c.data[:], enc)
	return payload, nil
}

// Receive side.

// Tags prefixed to every payload the receiver stores in its playout buffer,
// so that Render knows how each chunk must be decoded.
const (
	tagPrimary   byte = 0
	tagSecondary byte = 1 << 0 // coded with the secondary codec
	tagCopy      byte = 1 << 1 // a redundant copy, not the packet itself
)

// Flags of the per-sequence-number record.
const (
	seenPrimary    uint8 = 1 << iota // the packet itself arrived
	seenCopy                         // a copy was offered to the buffer
	seenCopyQueued                   // ... and queued
	seenCopyPlayed                   // ... and played
)

const (
	seenSlots        = 512 // the playout buffer's default capacity: covers every packet it holds
	replacementSlots = 64  // primaries arriving after their copies, kept until played
)

type seenRecord struct {
	seq   uint16
	flags uint8
}

type replacement struct {
	ok   bool
	seq  uint16
	n    int
	data [maxPacketSize]byte
}

// redReceiver is the RED state of the receive pipeline.
type redReceiver struct {
	pt      uint8
	secPT   uint8
	secDec  codec.Decoder
	blocks  []fec.Block
	seen    []seenRecord
	replace []replacement
	span    time.Duration // redundancy span added to the adaptive playout offset
	rate    int
}

func newREDReceiver(cfg *REDConfig, rate int) *redReceiver {
	return &redReceiver{
		pt:      cfg.PayloadType,
		secPT:   cfg.Secondary.PayloadType,
		secDec:  cfg.Secondary.NewDecoder(),
		blocks:  make([]fec.Block, 0, fec.MaxREDBlocks),
		seen:    make([]seenRecord, seenSlots),
		replace: make([]replacement, replacementSlots),
		span:    time.Duration(cfg.PeerDistance) * 20 * time.Millisecond,
		rate:    rate,
	}
}

func (rr *redReceiver) record(seq uint16) *seenRecord {
	s := &rr.seen[int(seq)%seenSlots]
	if s.seq != seq {
		*s = seenRecord{seq: seq}
	}
	return s
}

// markPlayed notes that the copy standing for seq was played.
func (rr *redReceiver) markPlayed(seq uint16) {
	if s := &rr.seen[int(seq)%seenSlots]; s.seq == seq {
		s.flags |= seenCopyPlayed
	}
}

// noteSpan follows the redundancy span of the peer's packets: the largest
// timestamp offset of the latest packet with copies, zero for plain packets.
// A RED packet without copies (a spurt's first) leaves it as it was.
func (rr *redReceiver) noteSpan(isRED bool, redundant []fec.Block) {
	if !isRED {
		rr.span = 0
		return
	}
	if len(redundant) == 0 {
		return
	}
	var most uint16
	for _, b := range redundant {
		most = max(most, b.TimestampOffset)
	}
	rr.span = time.Duration(most) * time.Second / time.Duration(rr.rate)
}

// keepReplacement stores a primary that arrived after its copy was queued.
func (rr *redReceiver) keepReplacement(seq uint16, payload []byte) {
	r := &rr.replace[int(seq)%replacementSlots]
	if len(payload) > len(r.data) {
		return
	}
	r.ok, r.seq, r.n = true, seq, copy(r.data[:], payload)
}

// takeReplacement returns the primary kept for seq, if any.
func (rr *redReceiver) takeReplacement(seq uint16) ([]byte, bool) {
	r := &rr.replace[int(seq)%replacementSlots]
	if !r.ok || r.seq != seq {
		return nil, false
	}
	r.ok = false
	return r.data[:r.n], true
}

// spanStrategy adds the redundancy span to an adaptive strategy's offset, so
// that copies arriving with later packets can still play (see above).
type spanStrategy struct {
	jitter.Strategy
	rr *redReceiver
}

func (s spanStrategy) SpurtOffset() time.Duration { return s.Strategy.SpurtOffset() + s.rr.span }
