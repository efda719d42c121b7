package fec

import (
	"errors"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/jitter"
)

// REDReceiver is the receive-side repair stage for redundant audio (RFC
// 2198). The caller hands it every packet of the stream whose audio it plays
// (RED or plain); it offers the playout buffer the copies that stand for
// packets that have not arrived, and decodes copies at playout.
//
// A redundant block at timestamp offset k chunks stands for packet seq-k; if
// that packet has not arrived, the copy is pushed to the buffer as that
// packet, with the arrival time of the packet that carried it. So the
// playout strategy sees the recovery as what it is, a packet that came k
// chunks late, and a copy that comes after the chunk's playout time is late
// like any packet. A primary that arrives after its copy was queued replaces
// it if the copy has not been played yet; after that it counts as late.
//
// Playout delay. A copy arrives k chunks after its primary would have, so an
// adaptive buffer can only use it if its playout delay leaves that much room:
// Span is the headroom to give it at each talk spurt, while the peer's
// packets are RED the widest of what the peer announced and the largest
// offset its packets have carried so far; while they are plain, nothing.
type REDReceiver struct {
	pt      uint8
	secPT   uint8
	primary codec.Decoder // checks the primary's and same-codec copies' lengths
	copies  copyDecoder
	blocks  []Block
	seen    []seenRecord
	replace []replacement
	pending uint64 // copies queued in place of a missing packet and not yet played or replaced
	push    jitter.PushFunc

	span      time.Duration
	announced time.Duration
	widest    time.Duration
	rate      int
}

// REDReceiverConfig configures a REDReceiver.
type REDReceiverConfig struct {
	PayloadType  uint8       // the RED payload type
	Primary      codec.Codec // the stream's codec
	Secondary    codec.Codec // the copies' codec when it is not the primary's
	PeerDistance int         // copies the peer announced
	// Push hands a copy to the playout buffer and returns what the buffer did.
	Push jitter.PushFunc
}

// Flags of the per-sequence-number record.
const (
	seenPrimary    uint8 = 1 << iota // the packet itself arrived
	seenCopy                         // a copy was offered to the buffer
	seenCopyQueued                   // ... and queued
	seenCopyPlayed                   // ... and played
)

const (
	// seenSlots covers every packet a playout buffer of the default
	// capacity (512) holds.
	seenSlots        = 512
	replacementSlots = 64 // primaries arriving after their copies, kept until played
	// decodedSlots is how many decoded copies are kept for playout, by
	// sequence number: 1.28 s of 20 ms chunks, more than any copy waits
	// between its arrival and its playout time. A copy whose slot was
	// taken is decoded again at playout by the stray decoder.
	decodedSlots = 64
	// maxPrimary bounds a primary kept for replacement: an RTP payload.
	maxPrimary = 1500
)

type seenRecord struct {
	seq   uint16
	flags uint8
}

type replacement struct {
	ok   bool
	seq  uint16
	n    int
	data [maxPrimary]byte
}

// NewREDReceiver builds the stage; chunk is the samples in one packet.
func NewREDReceiver(cfg REDReceiverConfig, chunk int) (*REDReceiver, error) {
	if cfg.Push == nil || cfg.Primary.NewDecoder == nil || cfg.Secondary.NewDecoder == nil || cfg.Secondary.NewEncoder == nil {
		return nil, errors.New("fec: a RED receiver needs its codecs and somewhere to push copies")
	}
	announced := time.Duration(cfg.PeerDistance) * time.Duration(chunk) * time.Second / time.Duration(cfg.Primary.ClockRate)
	rr := &REDReceiver{
		pt:      cfg.PayloadType,
		secPT:   cfg.Secondary.PayloadType,
		primary: cfg.Primary.NewDecoder(),
		copies: copyDecoder{
			dec:     cfg.Secondary.NewDecoder(),
			stray:   cfg.Secondary.NewDecoder(),
			bridge:  cfg.Secondary.NewEncoder(),
			primary: cfg.Primary.NewDecoder(),
		},
		blocks:    make([]Block, 0, MaxREDBlocks),
		seen:      make([]seenRecord, seenSlots),
		replace:   make([]replacement, replacementSlots),
		push:      cfg.Push,
		span:      announced,
		announced: announced,
		rate:      cfg.Primary.ClockRate,
	}
	// Storage for a chunk in every slot up front, so that the slots a long
	// call reaches only now and then do not allocate on the packet path.
	pcm := make([]int16, decodedSlots*chunk)
	for i := range rr.copies.ring {
		rr.copies.ring[i].pcm = pcm[i*chunk : i*chunk : (i+1)*chunk]
	}
	data := make([]byte, primarySlots*maxPrimary)
	for i := range rr.copies.primaries {
		rr.copies.primaries[i].data = data[i*maxPrimary : i*maxPrimary : (i+1)*maxPrimary]
	}
	return rr, nil
}

// PayloadType is the RED payload type the stage takes.
func (rr *REDReceiver) PayloadType() uint8 { return rr.pt }

// SecondaryPayloadType is the copies' codec's payload type: a chunk whose
// Meta names it is decoded with DecodeCopy.
func (rr *REDReceiver) SecondaryPayloadType() uint8 { return rr.secPT }

// Span is the playout headroom copies need now (see REDReceiver).
func (rr *REDReceiver) Span() time.Duration { return rr.span }

// Pending is the copies queued in the buffer in place of a missing packet,
// not yet played or replaced: recoveries still to come.
func (rr *REDReceiver) Pending() uint64 { return rr.pending }

// Split parses an RFC 2198 payload into its redundant blocks and its
// primary. A primary in another payload type than the codec's, and a
// redundant block at offset zero, in a payload type other than the codec's
// and the secondary's, or that does not decode, make the whole packet
// malformed. An empty redundant block is allowed (RFC 2198 does not forbid
// it, and RFC 4103 sends them): it carries nothing and is skipped. The
// blocks are valid until the next call.
func (rr *REDReceiver) Split(payload []byte, primaryPT uint8) (redundant []Block, primary []byte, ok bool) {
	blocks, err := ParseRED(payload, rr.blocks)
	if err != nil {
		return nil, nil, false
	}
	rr.blocks = blocks
	last := len(blocks) - 1
	if blocks[last].PT != primaryPT {
		return nil, nil, false
	}
	for _, b := range blocks[:last] {
		dec := rr.primary
		switch b.PT {
		case primaryPT:
		case rr.secPT:
			dec = rr.copies.dec
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

// Arrival is one packet of the stream whose primary arrived, for Arrived.
type Arrival struct {
	Seq       uint16
	TS        uint32
	Samples   int     // the primary's length
	RED       bool    // the packet was RED, carrying Redundant
	Redundant []Block // from Split
	Primary   []byte
	PrimaryPT uint8
	Arrival   time.Duration
	// First marks the stream's first packet: its copies only warm the
	// decoder up. ExtSeq is the packet's extended sequence number and
	// BaseSeq that of the stream's first packet since the sender's last
	// restart: a copy standing for a packet before it is not the stream's.
	First           bool
	ExtSeq, BaseSeq int64
}

// REDReport says what Arrived did.
type REDReport struct {
	// CopyTried: a copy was offered for this packet earlier but not queued,
	// so the buffer's duplicate verdict on the packet means late.
	CopyTried bool
	// Replaced: a copy stands in this packet's place already; the packet
	// must not be pushed. LateAfterCopy: ... and the copy has played, so
	// the packet came too late.
	Replaced, LateAfterCopy bool
	// Malformed is the copies that cannot stand for a packet (their offset
	// is not a whole number of chunks back, or their length differs from
	// the primary's), left unused.
	Malformed int
}

// Arrived does the RED work for one packet: it follows the span, decodes the
// copies and offers the missing ones to the playout buffer, and settles the
// packet's own place.
func (rr *REDReceiver) Arrived(a Arrival) REDReport {
	var rep REDReport
	rr.noteSpan(a.RED, a.Redundant, a.Samples)
	rr.copies.notePrimary(a.Seq, a.Primary)
	rep.Malformed = rr.pushCopies(a)
	rec := rr.record(a.Seq)
	if rec.flags&seenCopyQueued != 0 && rec.flags&seenPrimary == 0 {
		rec.flags |= seenPrimary
		if rec.flags&seenCopyPlayed != 0 {
			rep.LateAfterCopy = true
		} else {
			rr.keepReplacement(a.Seq, a.Primary)
		}
		rep.Replaced = true
		return rep
	}
	rep.CopyTried = rec.flags&seenCopy != 0 && rec.flags&seenPrimary == 0
	rec.flags |= seenPrimary
	return rep
}

// pushCopies runs the copies of packet a through the continuous decoder and
// offers the playout buffer those of packets that have not arrived, as those
// packets, arriving now, and returns how many copies could not be used.
func (rr *REDReceiver) pushCopies(a Arrival) (malformed int) {
	for _, b := range a.Redundant {
		if len(b.Payload) == 0 {
			continue
		}
		back, ok := usableOffset(b, a.Samples)
		if !ok {
			malformed++
			continue
		}
		copySeq := a.Seq - uint16(back)
		secondary := b.PT != a.PrimaryPT
		dec, meta := rr.primary, jitter.Meta{Origin: jitter.Copy}
		if secondary {
			dec, meta.PayloadType = rr.copies.dec, b.PT
		}
		if n, err := dec.Samples(b.Payload); err != nil || n != a.Samples {
			malformed++
			continue
		}
		inStream := !a.First && a.ExtSeq-int64(back) >= a.BaseSeq
		var rec *seenRecord
		if inStream {
			rec = rr.record(copySeq)
		}
		need := inStream && rec.flags == 0 // neither the packet nor a copy came yet
		if secondary {
			rr.copies.decode(copySeq, b.Payload, need)
		}
		if !need {
			continue
		}
		rec.flags |= seenCopy
		if rr.push(jitter.Packet{
			SequenceNumber: copySeq,
			Timestamp:      a.TS - uint32(b.TimestampOffset),
			Samples:        a.Samples,
			Payload:        b.Payload,
			Meta:           meta,
		}, a.Arrival) == jitter.OutcomeQueued {
			rec.flags |= seenCopyQueued
			rr.pending++
		}
	}
	return malformed
}

// Playing is called when a copy of packet seq comes up for playout. It
// returns the packet itself if that arrived in time after all (replaced);
// otherwise the copy plays, and is a recovery.
func (rr *REDReceiver) Playing(seq uint16) (primary []byte, replaced bool) {
	if p, ok := rr.takeReplacement(seq); ok {
		return p, true
	}
	if s := &rr.seen[int(seq)%seenSlots]; s.seq == seq {
		s.flags |= seenCopyPlayed
	}
	if rr.pending > 0 {
		rr.pending--
	}
	return nil, false
}

// DecodeCopy appends the PCM of the secondary-codec copy of packet seq to
// dst: as the continuous decoder decoded it, or decoded now.
func (rr *REDReceiver) DecodeCopy(dst []int16, seq uint16, payload []byte) ([]int16, error) {
	return rr.copies.play(dst, seq, payload)
}

func (rr *REDReceiver) record(seq uint16) *seenRecord {
	s := &rr.seen[int(seq)%seenSlots]
	if s.seq != seq {
		*s = seenRecord{seq: seq}
	}
	return s
}

// usableOffset reports how many chunks of samples back a redundant block
// stands, and whether the receiver can use it: a whole number of chunks, at
// most MaxREDBlocks back.
func usableOffset(b Block, samples int) (chunks int, ok bool) {
	off := int(b.TimestampOffset)
	if samples <= 0 || off%samples != 0 || off/samples > MaxREDBlocks {
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
func (rr *REDReceiver) noteSpan(isRED bool, redundant []Block, samples int) {
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
func (rr *REDReceiver) keepReplacement(seq uint16, payload []byte) {
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
func (rr *REDReceiver) takeReplacement(seq uint16) ([]byte, bool) {
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
		return // cannot happen: Split checked the copy
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
