package media

import (
	"fmt"
	"math"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/interleave"
	"github.com/spurtvoip/spurt/jitter"
)

// Interleaving (package interleave's wire format, in a payload type of its own).
//
// Sending. With InterleaveConfig.Depth = D, D consecutive 20 ms chunks form a
// group: each chunk is cut into D units (5 ms at D = 4) and packet j of the
// group carries unit j of every chunk. The D packets leave together once the
// group's last chunk is captured, with consecutive sequence numbers and the
// timestamp of the group's first chunk; the first packet of a talk spurt's
// first group has the marker bit. A talk spurt is extended to a whole number
// of groups: when the voice activity detector ends a spurt in the middle of
// a group, the frames after it are sent as they are until the group is full,
// so no group ever holds made-up audio and timestamps never overlap. Only at
// the end of the input (Sender.Flush) is the last group completed with whole
// chunks of the codec's silence, timestamped after the last real chunk.
//
// Receiving. Packets are reassembled into chunks (interleave.Deinterleaver)
// before the playout buffer. A group is handed to the buffer, as D chunks
// with consecutive sequence numbers from the group's first, once all its
// packets are in, once a packet of a later group shows that the rest will not
// come, or when its playout time comes. Its chunks enter the buffer with the
// arrival of the group's last packet, so the wait for the group shows in the
// playout delay. Only the first chunk of a group is observed by the playout
// strategy: the others arrive with it, earlier in media time only because the
// sender held them back, and treating them as independent samples would
// inflate the delay deviation with the interleaver's own sawtooth. Units
// whose packet never came are concealed (see conceal.go) or left silent.

// InterleaveConfig turns on interleaving for a call. It suits G.711 only,
// whose payload bytes are independent samples.
type InterleaveConfig struct {
	// PayloadType is the dynamic payload type negotiated for interleaved audio.
	PayloadType uint8
	// Depth is how many chunks each group we send spreads over (and how many
	// packets it takes), interleave.MinDepth to interleave.MaxDepth; zero
	// sends plain audio.
	Depth int
	// PeerDepth is the depth the peer sends with, from its SDP; zero when it
	// does not interleave.
	PeerDepth int
}

// Scheme names the interleaving this side sends: "interleave:4", or "none".
func (c *InterleaveConfig) Scheme() string {
	if c == nil || c.Depth == 0 {
		return "none"
	}
	return fmt.Sprintf("interleave:%d", c.Depth)
}

// interleaveChunkBytes is the chunk interleaving cuts up: 20 ms of G.711.
const interleaveChunkBytes = 160

// ValidInterleaveDepth reports whether d is an interleaving depth a call can
// use: from interleave.MinDepth to MaxDepth and dividing a 20 ms G.711 chunk
// into whole units (2, 4, 5 or 8). 0, no interleaving, is not one.
func ValidInterleaveDepth(d int) bool {
	return d >= interleave.MinDepth && d <= interleave.MaxDepth && interleaveChunkBytes%d == 0
}

func (c *InterleaveConfig) validate(mediaPT uint8, bytesPerChunk int) error {
	okDepth := func(d int) bool { return d == 0 || ValidInterleaveDepth(d) }
	switch {
	case c.PayloadType > 127:
		return fmt.Errorf("rtpcall: interleave payload type %d is not a 7-bit payload type", c.PayloadType)
	case c.PayloadType == mediaPT:
		return fmt.Errorf("rtpcall: interleave payload type %d is already the media's", c.PayloadType)
	case !okDepth(c.Depth) || !okDepth(c.PeerDepth):
		return fmt.Errorf("rtpcall: interleave depth must be 0 or %d..%d and divide %d", interleave.MinDepth, interleave.MaxDepth, interleaveChunkBytes)
	case bytesPerChunk != interleaveChunkBytes:
		return fmt.Errorf("rtpcall: interleaving needs a codec with one byte per sample, such as G.711")
	}
	return nil
}

// openGroup is what the receiver knows of a group the deinterleaver holds.
type openGroup struct {
	used    bool
	key     int64         // extended timestamp of the group's first chunk
	ts      uint32        // the same, as on the wire
	seq     uint16        // sequence number of the group's packet 0
	marker  bool          // packet 0 arrived with the marker bit
	arrival time.Duration // of its latest packet
	opened  time.Duration // arrival of its first packet
}

// aheadChunk is a reassembled chunk kept after it went into the playout
// buffer, so that concealment can see the start of the chunk after a hole.
type aheadChunk struct {
	ok    bool
	seq   uint16
	ts    uint32
	holes uint8
	data  [interleaveChunkBytes]byte
}

// aheadSlots is how many chunks are kept for look-ahead: 1.28 s of them, more
// than any playout delay between a chunk's reassembly and its playout.
const aheadSlots = 64

// interleaveReceiver is the interleaving state of the receive pipeline.
type interleaveReceiver struct {
	pt             uint8
	depth          int
	chunk          int // samples per chunk
	deint          *interleave.Deinterleaver
	ts             extender
	groups         [4]openGroup // the deinterleaver keeps two open; room for the group being closed
	lastPush       time.Duration
	lastEmitted    int64  // key of the newest group handed to the buffer
	lastEmittedSeq uint16 // and the sequence number of its packet 0
	anyEmitted     bool
	emit           func(interleave.Chunk)

	ahead    []aheadChunk  // chunks handed to the buffer, by sequence number
	aheadDec codec.Decoder // decodes the start of the next chunk (G.711 keeps no state)
	aheadPCM []int16
}

// newInterleaveReceiver builds the interleaving state for a G.711 codec.
// Units that never came are filled with the codec's silence (its encoding of
// zero: 0xFF in µ-law, 0xD5 in A-law), so that with concealment off they play
// as silence whatever the law.
func newInterleaveReceiver(cfg *InterleaveConfig, cd codec.Codec) (*interleaveReceiver, error) {
	fill, err := silenceByte(cd)
	if err != nil {
		return nil, err
	}
	d, err := interleave.NewDeinterleaver(cfg.PeerDepth, interleaveChunkBytes, fill)
	if err != nil {
		return nil, fmt.Errorf("rtpcall: %w", err)
	}
	return &interleaveReceiver{pt: cfg.PayloadType, depth: cfg.PeerDepth, chunk: interleaveChunkBytes, deint: d,
		ahead: make([]aheadChunk, aheadSlots), aheadDec: cd.NewDecoder(), aheadPCM: make([]int16, 0, interleaveChunkBytes)}, nil
}

// silenceByte is the byte a one-byte-per-sample codec encodes silence as.
func silenceByte(cd codec.Codec) (byte, error) {
	enc, err := cd.NewEncoder().Encode(nil, make([]int16, interleaveChunkBytes))
	if err != nil {
		return 0, fmt.Errorf("rtpcall: codec %s: %w", cd.Name, err)
	}
	if len(enc) != interleaveChunkBytes {
		return 0, fmt.Errorf("rtpcall: interleaving needs a codec with one byte per sample, such as G.711")
	}
	for _, b := range enc {
		if b != enc[0] {
			return 0, fmt.Errorf("rtpcall: codec %s encodes silence unevenly: cannot fill interleaving holes", cd.Name)
		}
	}
	return enc[0], nil
}

func (ir *interleaveReceiver) group(key int64) *openGroup {
	for i := range ir.groups {
		if g := &ir.groups[i]; g.used && g.key == key {
			return g
		}
	}
	return nil
}

// newGroup returns a free entry, or the oldest (whose group is long gone).
func (ir *interleaveReceiver) newGroup() *openGroup {
	oldest := &ir.groups[0]
	for i := range ir.groups {
		g := &ir.groups[i]
		if !g.used {
			return g
		}
		if g.key < oldest.key {
			oldest = g
		}
	}
	return oldest
}

// resync hands on every open group as it stands and forgets which groups
// were handed on, so that groups with any key are taken again.
func (ir *interleaveReceiver) resync() {
	ir.deint.Close(math.MaxInt64, ir.emit)
	ir.deint.Reset()
	for i := range ir.groups {
		ir.groups[i].used = false
	}
	ir.anyEmitted = false
}

func (ir *interleaveReceiver) open() bool {
	for _, g := range ir.groups {
		if g.used {
			return true
		}
	}
	return false
}

// handleInterleaved takes one interleaved packet (received or rebuilt).
func (r *Receiver) handleInterleaved(seq uint16, ts uint32, marker bool, payload []byte, arrival time.Duration, recovered bool) {
	ir := r.il
	_, index, err := interleave.ParseHeader(payload)
	if err != nil || len(payload) != 1+ir.chunk {
		r.stats.Malformed++
		return
	}
	key := ir.ts.extend(ts)
	groupSeq := seq - uint16(index)
	if ir.group(key) == nil && ir.anyEmitted && key <= ir.lastEmitted {
		if int16(groupSeq-ir.lastEmittedSeq) <= 0 {
			r.lateInterleaved(recovered) // its group has been played, or handed on without it
			return
		}
		// Later in sequence than the newest group handed on, yet not later
		// in time: the timestamps went back (a sender that restarted them,
		// or a bogus packet that ran ahead). Start reassembling afresh
		// rather than take the rest of the stream as late.
		ir.resync()
	}
	// A packet of a later group: the open groups before it are as complete
	// as they will be (a group's packets leave together). Only the groups
	// actually open are closed, so that a packet with a wild timestamp cannot
	// declare every group before it finished.
	newestOlder, anyOlder := int64(0), false
	for _, g := range ir.groups {
		if g.used && g.key < key && (!anyOlder || g.key > newestOlder) {
			newestOlder, anyOlder = g.key, true
		}
	}
	if anyOlder {
		ir.deint.Close(newestOlder, ir.emit)
	}
	g := ir.group(key)
	created := g == nil
	if g == nil {
		g = ir.newGroup()
		*g = openGroup{used: true, key: key, ts: ts, seq: groupSeq, opened: arrival}
	}
	g.arrival = max(g.arrival, arrival)
	if index == 0 && marker {
		g.marker = true
	}
	added, err := ir.deint.Add(key, payload, ir.emit)
	if created && (err != nil || added == interleave.AddedLate) {
		g.used = false
	}
	switch {
	case err != nil:
		r.stats.Malformed++
	case added == interleave.AddedLate:
		r.lateInterleaved(recovered)
	case added == interleave.AddedDuplicate:
		r.stats.Duplicates++
	case recovered:
		r.stats.Recovered++
		r.xor.record(seq).flags |= seenCopyQueued // see rebuiltTwinIn
	}
}

// rebuiltTwinIn takes a received interleaved packet that was rebuilt from
// XOR parity before it came (its group's packets leave together, so the
// parity can overtake it) and reports whether it was: the deinterleaver
// holds its units already, so it is neither late nor a duplicate from the
// network. If it came by its group's playout time it was not lost either,
// and the rebuild recovered nothing.
func (r *Receiver) rebuiltTwinIn(seq uint16, ts uint32, arrival time.Duration) bool {
	rec := r.xor.record(seq)
	twin := rec.flags&seenCopyQueued != 0 && rec.flags&seenPrimary == 0
	rec.flags |= seenPrimary
	if !twin {
		return false
	}
	key := r.il.ts.extend(ts)
	playAt := r.duration64(key-int64(r.src.firstTS)) + r.buffer.Stats().PlayoutOffset
	if (r.il.group(key) != nil || arrival <= playAt) && r.stats.Recovered > 0 {
		r.stats.Recovered--
	}
	return true
}

func (r *Receiver) lateInterleaved(recovered bool) {
	if recovered {
		r.stats.FECLate++
	} else {
		r.stats.Late++
	}
}

// emitChunk hands one reassembled chunk to the playout buffer.
func (r *Receiver) emitChunk(c interleave.Chunk) {
	ir := r.il
	g := ir.group(c.Group)
	if g == nil {
		return // cannot happen: every group Add saw has an entry
	}
	if !ir.anyEmitted || c.Group > ir.lastEmitted {
		ir.lastEmitted, ir.lastEmittedSeq, ir.anyEmitted = c.Group, g.seq, true
	}
	arrival := max(g.arrival, ir.lastPush)
	ir.lastPush = arrival
	out := r.buffer.Push(jitter.Packet{
		SequenceNumber: g.seq + uint16(c.Index),
		Timestamp:      g.ts + uint32(c.Index*ir.chunk),
		Marker:         g.marker && c.Index == 0,
		Samples:        ir.chunk,
		Payload:        c.Payload,
		Meta:           jitter.Meta{Holes: c.Holes},
		// only the group's first chunk is a sample of the network's timing
		Unobserved: c.Index > 0,
	}, arrival)
	switch out {
	case jitter.OutcomeQueued:
		a := &ir.ahead[int(g.seq+uint16(c.Index))%aheadSlots]
		*a = aheadChunk{ok: true, seq: g.seq + uint16(c.Index), ts: g.ts + uint32(c.Index*ir.chunk), holes: c.Holes}
		copy(a.data[:], c.Payload)
	case jitter.OutcomeLate:
		r.stats.Late++
	default:
		// a duplicate too: the deinterleaver takes each packet once, so only
		// a bogus group can bring a chunk whose place another one holds
		r.stats.Refused++
	}
	if c.Index == ir.depth-1 {
		g.used = false
	}
}

// groupTimeout bounds how long a group stays open whatever its timestamp
// says, so that a packet with a wild timestamp cannot hold a group open.
const groupTimeout = time.Second

// closeDueGroups hands the buffer every open group whose playout time has
// come by now, complete or not (waiting longer would make all of it late),
// or that has been open for groupTimeout.
func (r *Receiver) closeDueGroups(now time.Duration) {
	ir := r.il
	if !ir.open() {
		return
	}
	offset := r.buffer.Stats().PlayoutOffset
	if r.buffer.Stats().Spurts == 0 {
		offset = r.buffer.SpurtOffset()
	}
	for range len(ir.groups) {
		var oldest *openGroup
		for i := range ir.groups {
			if g := &ir.groups[i]; g.used && (oldest == nil || g.key < oldest.key) {
				oldest = g
			}
		}
		if oldest == nil {
			return
		}
		if r.duration64(oldest.key-int64(r.src.firstTS))+offset > now && now-oldest.opened < groupTimeout {
			// not due; a newer group may have timed out behind it
			for i := range ir.groups {
				if g := &ir.groups[i]; g.used && now-g.opened >= groupTimeout {
					ir.deint.Close(g.key, ir.emit)
					g.used = false
				}
			}
			return
		}
		ir.deint.Close(oldest.key, ir.emit)
		oldest.used = false
	}
}

// audioAfter returns the decoded received units at the start of the chunk
// that follows the one with sequence number seq and timestamp ts, if that
// chunk is in the playout buffer; nil otherwise. The slice is valid until the
// next call.
func (ir *interleaveReceiver) audioAfter(seq uint16, ts uint32) []int16 {
	a := &ir.ahead[int(seq+1)%aheadSlots]
	if !a.ok || a.seq != seq+1 || a.ts != ts+uint32(ir.chunk) {
		return nil
	}
	unit := ir.chunk / ir.depth
	good := 0
	for good < ir.depth && a.holes&(1<<good) == 0 {
		good++
	}
	pcm, err := ir.aheadDec.Decode(ir.aheadPCM[:0], a.data[:good*unit])
	if err != nil {
		return nil
	}
	return pcm
}
