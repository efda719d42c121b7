package media

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
// codec are decoded by one decoder running over all of them in order (see
// copyDecoder), as the sender's encoder ran over every chunk.
//
// Playout delay. A copy arrives k chunks after its primary would have, so an
// adaptive buffer can only use it if its playout delay leaves that much room.
// The receiver therefore adds the redundancy span to the strategy's offset at
// each talk spurt: while the peer's packets are RED, the widest of what the
// peer announced and the largest offset its packets have carried so far;
// while they are plain, nothing. The extra delay shows in the playout delay
// figures. A fixed playout delay is left as set: choose it above the span
// for copies to be of use.

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

// Receive side.

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
	// decodedSlots is how many decoded copies are kept for playout, by
	// sequence number: 1.28 s of 20 ms chunks, more than any copy waits
	// between its arrival and its playout time. A copy whose slot was
	// taken is decoded again at playout by the stray decoder.
	decodedSlots = 64
)

type seenRecord struct {
	seq   uint16
	flags uint8
}

type replacement struct {
	ok   bool
	seq  uint16
	n    int
	data [MaxPacketSize]byte
}

// redReceiver is the RED state of the receive pipeline.
type redReceiver struct {
	pt      uint8
	secPT   uint8
	copies  copyDecoder
	blocks  []fec.Block
	seen    []seenRecord
	replace []replacement
	pending uint64 // copies queued in place of a missing packet and not yet played or replaced

	// The redundancy span added to the adaptive playout offset: the widest
	// of what the peer announced and the widest offset its RED packets have
	// carried, while its packets are RED; zero while they are plain.
	span      time.Duration
	announced time.Duration
	widest    time.Duration
	rate      int
}

func newREDReceiver(cfg *REDConfig, primary codec.Codec) *redReceiver {
	announced := time.Duration(cfg.PeerDistance) * 20 * time.Millisecond
	rr := &redReceiver{
		pt:    cfg.PayloadType,
		secPT: cfg.Secondary.PayloadType,
		copies: copyDecoder{
			dec:     cfg.Secondary.NewDecoder(),
			stray:   cfg.Secondary.NewDecoder(),
			bridge:  cfg.Secondary.NewEncoder(),
			primary: primary.NewDecoder(),
		},
		blocks:    make([]fec.Block, 0, fec.MaxREDBlocks),
		seen:      make([]seenRecord, seenSlots),
		replace:   make([]replacement, replacementSlots),
		span:      announced,
		announced: announced,
		rate:      primary.ClockRate,
	}
	// Storage for a 20 ms chunk in every slot up front, so that the slots a
	// long call reaches only now and then do not allocate on the packet path.
	chunk := primary.ClockRate / 50
	pcm := make([]int16, decodedSlots*chunk)
	for i := range rr.copies.ring {
		rr.copies.ring[i].pcm = pcm[i*chunk : i*chunk : (i+1)*chunk]
	}
	data := make([]byte, primarySlots*MaxPacketSize)
	for i := range rr.copies.primaries {
		rr.copies.primaries[i].data = data[i*MaxPacketSize : i*MaxPacketSize : (i+1)*MaxPacketSize]
	}
	return rr
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
	if rr.pending > 0 {
		rr.pending--
	}
}

// usableOffset reports how many chunks of samples back a redundant block
// stands, and whether the receiver can use it: a whole number of chunks, at
// most fec.MaxREDBlocks back.
func usableOffset(b fec.Block, samples int) (chunks int, ok bool) {
	off := int(b.TimestampOffset)
	if samples <= 0 || off%samples != 0 || off/samples > fec.MaxREDBlocks {
		return 0, false
	}
	return off / samples, true
}

// noteSpan follows the redundancy span of the peer's packets. Plain packets
// make it zero. For RED packets it is the widest of what the peer announced
// and the widest usable offset any of its packets has carried so far: the
// first packets of a talk spurt carry fewer copies, and if the stream's
// first full packets are lost, the first packet seen must not fix the span
// for the whole call.
func (rr *redReceiver) noteSpan(isRED bool, redundant []fec.Block, samples int) {
	if !isRED {
		rr.span = 0
		return
	}
	for _, b := range redundant {
		if _, ok := usableOffset(b, samples); ok && len(b.Payload) > 0 {
			rr.widest = max(rr.widest, time.Duration(b.TimestampOffset)*time.Second/time.Duration(rr.rate))
		}
	}
	rr.span = max(rr.announced, rr.widest)
}

// keepReplacement stores a primary that arrived after its copy was queued.
func (rr *redReceiver) keepReplacement(seq uint16, payload []byte) {
	r := &rr.replace[int(seq)%replacementSlots]
	if len(payload) > len(r.data) {
		return
	}
	r.ok, r.seq, r.n = true, seq, copy(r.data[:], payload)
	if rr.pending > 0 {
		rr.pending--
	}
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

// copyDecoder decodes the copies in the secondary codec. A stateful codec
// such as GSM predicts each frame from the ones before, so a decoder that saw
// only the recovered chunks would start each of them from the state the last
// recovered chunk left, seconds earlier, and play little better than noise.
// Instead one decoder runs over the copies in sequence order as they arrive,
// the first copy of every chunk whether its own packet arrived or not, just
// as the sender's encoder ran over every chunk; the PCM of the chunks whose
// packets are missing is kept (a small ring of frames) until they play. A
// chunk's later copies (red:2 carries each chunk twice) are not decoded again.
//
// The decoder cannot see every chunk: with red:1 the copy of the chunk just
// before a lost packet was in that packet, so every recovered chunk would
// follow a hole in the decoder's input, which costs most of what continuity
// gains. Where the decoder would skip chunks whose primaries did arrive, it
// is fed instead the primary re-encoded in the secondary codec by a bridge
// encoder started afresh: the frame is not the sender's, but it carries the
// chunk's spectrum and residual into the decoder's state. A copy that arrives
// behind the decoder (its packets reordered) is decoded at playout by a
// second decoder, as is one whose frame in the ring was reused.
type copyDecoder struct {
	dec     codec.Decoder // continuous, over the copies in sequence order
	stray   codec.Decoder // for copies the continuous decoder has passed
	next    uint16        // the sequence number after the last chunk dec decoded
	started bool
	ring    [decodedSlots]decodedCopy

	bridge    codec.Encoder // re-encodes primaries for chunks without a copy
	primary   codec.Decoder // decodes those primaries
	primaries [primarySlots]storedPrimary
	scratch   []int16 // decoded audio that is not kept
	frame     []byte  // a bridge frame
}

// bridgeChunks is how many chunks before a copy the bridge fills at most:
// the decoder's memory (a 120-sample pitch history and the filters) reaches
// about one chunk back.
const (
	bridgeChunks = 2
	primarySlots = 8
)

type decodedCopy struct {
	ok  bool
	seq uint16
	pcm []int16 // grown once to a chunk's length, then reused
}

type storedPrimary struct {
	ok   bool
	seq  uint16
	data []byte // grown once to a primary's length, then reused
}

// notePrimary keeps the primary of packet seq for the bridge.
func (cd *copyDecoder) notePrimary(seq uint16, payload []byte) {
	p := &cd.primaries[int(seq)%primarySlots]
	p.ok, p.seq, p.data = true, seq, append(p.data[:0], payload...)
}

// decode runs the continuous decoder over the copy of packet seq, if it has
// not passed seq already, and keeps the PCM if keep is set.
func (cd *copyDecoder) decode(seq uint16, payload []byte, keep bool) {
	if behind := int16(cd.next - seq); cd.started && behind > 0 {
		if behind <= decodedSlots {
			return // decoded already, or arriving out of order
		}
		cd.started = false // far behind: the sender restarted; start afresh
	}
	if cd.started && seq != cd.next {
		cd.fill(seq)
	}
	slot := &cd.ring[int(seq)%decodedSlots]
	dst := cd.scratch[:0]
	if keep {
		dst = slot.pcm[:0]
	}
	pcm, err := cd.dec.Decode(dst, payload)
	if err != nil {
		return // cannot happen: splitRED checked the copy
	}
	cd.next, cd.started = seq+1, true
	if keep {
		slot.ok, slot.seq, slot.pcm = true, seq, pcm
	} else {
		cd.scratch = pcm
	}
}

// fill feeds the decoder, for the chunks just before seq that it has no copy
// of, their primaries re-encoded by the bridge, which starts afresh at the
// first of a run of them.
func (cd *copyDecoder) fill(seq uint16) {
	from := cd.next
	if int16(seq-from) > bridgeChunks {
		from = seq - bridgeChunks
	}
	fresh := true
	for s := from; s != seq; s++ {
		p := &cd.primaries[int(s)%primarySlots]
		if !p.ok || p.seq != s {
			fresh = true
			continue
		}
		pcm, err := cd.primary.Decode(cd.scratch[:0], p.data)
		if err != nil {
			continue
		}
		cd.scratch = pcm
		if fresh {
			if r, ok := cd.bridge.(interface{ Reset() }); ok {
				r.Reset()
			}
			fresh = false
		}
		frame, err := cd.bridge.Encode(cd.frame[:0], pcm)
		if err != nil {
			continue // the chunk is not a whole number of the secondary's frames
		}
		cd.frame = frame
		if pcm, err = cd.dec.Decode(cd.scratch[:0], frame); err == nil {
			cd.scratch = pcm
		}
	}
}

// play appends the PCM of the copy of packet seq to dst: as the continuous
// decoder decoded it, or decoded now by the stray decoder.
func (cd *copyDecoder) play(dst []int16, seq uint16, payload []byte) ([]int16, error) {
	if slot := &cd.ring[int(seq)%decodedSlots]; slot.ok && slot.seq == seq {
		slot.ok = false
		return append(dst, slot.pcm...), nil
	}
	return cd.stray.Decode(dst, payload)
}

// splitRED parses an RFC 2198 payload into its redundant blocks and its
// primary. A primary in another payload type than the codec's, and a
// redundant block at offset zero, in a payload type other than the codec's
// and the secondary's, or that does not decode, make the whole packet
// malformed. An empty redundant block is allowed (RFC 2198 does not forbid
// it, and RFC 4103 sends them): it carries nothing and is skipped.
func (r *Receiver) splitRED(payload []byte) (redundant []fec.Block, primary []byte, ok bool) {
	blocks, err := fec.ParseRED(payload, r.red.blocks)
	if err != nil {
		return nil, nil, false
	}
	r.red.blocks = blocks
	last := len(blocks) - 1
	if blocks[last].PT != r.codec.PayloadType {
		return nil, nil, false
	}
	for _, b := range blocks[:last] {
		dec := r.dec
		switch b.PT {
		case r.codec.PayloadType:
		case r.red.secPT:
			dec = r.red.copies.dec
		default:
			return nil, nil, false
		}
		if b.TimestampOffset == 0 {
			return nil, nil, false
		}
		if len(b.Payload) == 0 {
			continue
		}
		if n, err := dec.Samples(b.Payload); err != nil || n == 0 {
			return nil, nil, false
		}
	}
	return blocks[:last], blocks[last].Payload, true
}

// redPrimaryArrived does the RED work for packet seq, whose primary has
// samples samples, redundant the copies it carried (if it is a RED packet):
// it follows the span, decodes the copies and offers the missing ones to the
// playout buffer, and settles the packet's own place. done means a copy
// stands in the packet's place already, so the packet must not be pushed;
// copyTried that a copy was offered for it earlier but not queued.
func (r *Receiver) redPrimaryArrived(isRED, first bool, seq uint16, ts uint32, samples int, redundant []fec.Block, primary []byte, arrival time.Duration) (copyTried, done bool) {
	r.red.noteSpan(isRED, redundant, samples)
	r.syncHeadroom()
	r.red.copies.notePrimary(seq, primary)
	r.pushCopies(seq, ts, samples, redundant, arrival, first)
	rec := r.red.record(seq)
	if rec.flags&seenCopyQueued != 0 && rec.flags&seenPrimary == 0 {
		// A copy stands in this packet's place already.
		rec.flags |= seenPrimary
		if rec.flags&seenCopyPlayed != 0 {
			r.stats.Late++
		} else {
			r.red.keepReplacement(seq, primary)
		}
		return false, true
	}
	copyTried = rec.flags&seenCopy != 0 && rec.flags&seenPrimary == 0
	rec.flags |= seenPrimary
	return copyTried, false
}

// pushCopies runs the copies of packet seq (ts) through the continuous
// decoder and offers the playout buffer those of packets that have not
// arrived, as those packets, arriving now. Copies in the first packet of the
// stream only warm the decoder up. A copy whose timestamp offset is not a
// whole number of chunks (of the primary's length) back, or whose length
// differs from the primary's, cannot stand for a packet: it is counted in
// FECMalformed and left unused.
func (r *Receiver) pushCopies(seq uint16, ts uint32, samples int, redundant []fec.Block, arrival time.Duration, first bool) {
	for _, b := range redundant {
		if len(b.Payload) == 0 {
			continue
		}
		back, ok := usableOffset(b, samples)
		if !ok {
			r.stats.FECMalformed++
			continue
		}
		copySeq := seq - uint16(back)
		secondary := b.PT != r.codec.PayloadType
		dec, meta := r.dec, jitter.Meta{Origin: jitter.Copy}
		if secondary {
			dec, meta.PayloadType = r.red.copies.dec, b.PT
		}
		if n, err := dec.Samples(b.Payload); err != nil || n != samples {
			r.stats.FECMalformed++
			continue
		}
		// before the stream as we know it (since its first packet, or the
		// sender's last restart): nothing to stand for
		inStream := !first && r.src.extend(seq)-int64(back) >= r.src.baseSeq
		var rec *seenRecord
		if inStream {
			rec = r.red.record(copySeq)
		}
		need := inStream && rec.flags == 0 // neither the packet nor a copy came yet
		if secondary {
			r.red.copies.decode(copySeq, b.Payload, need)
		}
		if !need {
			continue
		}
		rec.flags |= seenCopy
		if r.push(copySeq, ts-uint32(b.TimestampOffset), false, samples, meta, b.Payload, arrival) == jitter.OutcomeQueued {
			rec.flags |= seenCopyQueued
			r.red.pending++
		}
	}
}
