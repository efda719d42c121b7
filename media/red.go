package media

import (
	"errors"
	"fmt"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/fec"
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
// Receiving. The primary goes to the playout buffer; the repair stage
// fec.REDReceiver offers the buffer the copies of packets that have not
// arrived, each as that packet arriving with the one that carried it, and
// decodes the copies in the secondary codec with one decoder running over all
// of them in order, as the sender's encoder ran over every chunk. The
// receiver gives an adaptive strategy the redundancy span as headroom at
// each talk spurt (see fec.REDReceiver.Span); the extra delay shows in the
// playout delay figures. A fixed playout delay is left as set: choose it
// above the span for copies to be of use.

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
	// PeerDistance is the number of copies the peer's SDP names, a hint at
	// what it sends: while the peer's packets are RED, the playout delay
	// leaves room for the widest of it and the copies they carry; while
	// they are plain it is ignored (a peer that sends no copies may still
	// name a layout, the one it accepts).
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
		payload:   make([]byte, 0, MaxPacketSize),
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
