package interleave

import (
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/spurtvoip/spurt/internal/rtpseq"
	"github.com/spurtvoip/spurt/jitter"
)

// Reassembler is the receive-side repair stage for interleaved RTP: it takes
// the packets of an interleaved stream as they arrive and hands a playout
// buffer the chunks they carry, as packets of their own.
//
// A group goes to the buffer, as D chunks with consecutive sequence numbers
// from the group's first packet's, once all its packets are in, once a packet
// of a later group shows that the rest will not come (a group's packets leave
// together), or when its playout time comes (CloseDue). Its chunks enter the
// buffer with the arrival of the group's latest packet, so the wait for the
// group shows in the playout delay. Only the first chunk of a group is
// observed by the playout strategy: the others arrive with it, earlier in
// media time only because the sender held them back, and observing them
// would inflate the delay deviation with the interleaver's own sawtooth.
//
// It keeps each queued chunk's units for a while, so that concealment can see
// the received audio at the start of the chunk after a hole (After).
type Reassembler struct {
	depth int
	chunk int // bytes (samples) per chunk
	deint *Deinterleaver
	push  jitter.PushFunc
	ts    rtpseq.Unwrapper

	groups         [4]openGroup // the deinterleaver keeps two open; room for the group being closed
	lastPush       time.Duration
	lastEmitted    int64  // key of the newest group handed to the buffer
	lastEmittedSeq uint16 // and the sequence number of its packet 0
	anyEmitted     bool
	emit           func(Chunk) // bound once

	ahead []aheadChunk // chunks handed to the buffer, by sequence number
}

// openGroup is what the reassembler knows of a group the deinterleaver holds.
type openGroup struct {
	used    bool
	key     int64         // extended timestamp of the group's first chunk
	ts      uint32        // the same, as on the wire
	seq     uint16        // sequence number of the group's packet 0
	marker  bool          // packet 0 arrived with the marker bit
	arrival time.Duration // of its latest packet
	opened  time.Duration // arrival of its first packet
}

// aheadChunk is a reassembled chunk kept after it went into the buffer.
type aheadChunk struct {
	ok    bool
	seq   uint16
	ts    uint32
	holes uint8
	data  []byte // chunk bytes, storage allocated once
}

const (
	// aheadSlots is how many chunks are kept for look-ahead: 1.28 s of 20 ms
	// chunks, more than any playout delay between a chunk's reassembly and
	// its playout.
	aheadSlots = 64
	// groupTimeout bounds how long a group stays open whatever its timestamp
	// says, so that a packet with a wild timestamp cannot hold a group open.
	groupTimeout = time.Second
)

// NewReassembler builds the stage for groups of depth chunks of chunkBytes
// bytes, filling units that never came with fill (the codec's silence). push
// hands a chunk to the playout buffer and returns what the buffer did.
func NewReassembler(depth, chunkBytes int, fill byte, push jitter.PushFunc) (*Reassembler, error) {
	d, err := NewDeinterleaver(depth, chunkBytes, fill)
	if err != nil {
		return nil, err
	}
	if push == nil {
		return nil, errors.New("interleave: a reassembler needs somewhere to push chunks")
	}
	ra := &Reassembler{depth: depth, chunk: chunkBytes, deint: d, push: push, ahead: make([]aheadChunk, aheadSlots)}
	data := make([]byte, aheadSlots*chunkBytes)
	for i := range ra.ahead {
		ra.ahead[i].data = data[i*chunkBytes : (i+1)*chunkBytes]
	}
	ra.emit = ra.emitChunk
	return ra, nil
}

// Depth is the number of chunks (and packets) in a group.
func (ra *Reassembler) Depth() int { return ra.depth }

// Key unwraps an interleaved packet's RTP timestamp into its group's key.
func (ra *Reassembler) Key(ts uint32) int64 { return ra.ts.Unwrap(ts) }

// Holds reports whether the group with this key is open, waiting for packets.
func (ra *Reassembler) Holds(key int64) bool { return ra.group(key) != nil }

// Pending reports whether any group is open.
func (ra *Reassembler) Pending() bool {
	for _, g := range ra.groups {
		if g.used {
			return true
		}
	}
	return false
}

// Add takes one interleaved packet (received, or rebuilt by an earlier stage)
// and says what it did with it: AddedTaken, AddedLate (its group has gone to
// the buffer, or been given up) or AddedDuplicate, or an error wrapping
// ErrMalformed for a payload that does not follow the wire format.
func (ra *Reassembler) Add(seq uint16, ts uint32, marker bool, payload []byte, arrival time.Duration) (Added, error) {
	_, index, err := ParseHeader(payload)
	if err != nil {
		return 0, err
	}
	if len(payload) != 1+ra.chunk {
		return 0, fmt.Errorf("%w: payload of %d bytes, want %d", ErrMalformed, len(payload), 1+ra.chunk)
	}
	key := ra.ts.Unwrap(ts)
	groupSeq := seq - uint16(index)
	if ra.group(key) == nil && ra.anyEmitted && key <= ra.lastEmitted {
		if int16(groupSeq-ra.lastEmittedSeq) <= 0 {
			return AddedLate, nil // its group has been played, or handed on without it
		}
		// Later in sequence than the newest group handed on, yet not later
		// in time: the timestamps went back (a sender that restarted them,
		// or a bogus packet that ran ahead). Start reassembling afresh
		// rather than take the rest of the stream as late.
		ra.resync()
	}
	// A packet of a later group: the open groups before it are as complete
	// as they will be (a group's packets leave together). Only the groups
	// actually open are closed, so that a packet with a wild timestamp cannot
	// declare every group before it finished.
	newestOlder, anyOlder := int64(0), false
	for _, g := range ra.groups {
		if g.used && g.key < key && (!anyOlder || g.key > newestOlder) {
			newestOlder, anyOlder = g.key, true
		}
	}
	if anyOlder {
		ra.deint.Close(newestOlder, ra.emit)
	}
	g := ra.group(key)
	created := g == nil
	if g == nil {
		g = ra.newGroup()
		*g = openGroup{used: true, key: key, ts: ts, seq: groupSeq, opened: arrival}
	}
	g.arrival = max(g.arrival, arrival)
	if index == 0 && marker {
		g.marker = true
	}
	added, err := ra.deint.Add(key, payload, ra.emit)
	if created && (err != nil || added == AddedLate) {
		g.used = false
	}
	return added, err
}

// CloseDue hands the buffer every open group whose playout time (playAt of
// its key) has come by now, complete or not (waiting longer would make all of
// it late), or that has been open for groupTimeout.
func (ra *Reassembler) CloseDue(now time.Duration, playAt func(key int64) time.Duration) {
	if !ra.Pending() {
		return
	}
	for range len(ra.groups) {
		var oldest *openGroup
		for i := range ra.groups {
			if g := &ra.groups[i]; g.used && (oldest == nil || g.key < oldest.key) {
				oldest = g
			}
		}
		if oldest == nil {
			return
		}
		if playAt(oldest.key) > now && now-oldest.opened < groupTimeout {
			// not due; a newer group may have timed out behind it
			for i := range ra.groups {
				if g := &ra.groups[i]; g.used && now-g.opened >= groupTimeout {
					ra.deint.Close(g.key, ra.emit)
					g.used = false
				}
			}
			return
		}
		ra.deint.Close(oldest.key, ra.emit)
		oldest.used = false
	}
}

// After returns the received units at the start of the chunk that follows
// the one with sequence number seq and timestamp ts, if that chunk went to
// the buffer: the bytes before its first hole (nil if none). Valid until the
// next Add or CloseDue.
func (ra *Reassembler) After(seq uint16, ts uint32) []byte {
	a := &ra.ahead[int(seq+1)%aheadSlots]
	if !a.ok || a.seq != seq+1 || a.ts != ts+uint32(ra.chunk) {
		return nil
	}
	good := 0
	for good < ra.depth && a.holes&(1<<good) == 0 {
		good++
	}
	return a.data[:good*(ra.chunk/ra.depth)]
}

func (ra *Reassembler) group(key int64) *openGroup {
	for i := range ra.groups {
		if g := &ra.groups[i]; g.used && g.key == key {
			return g
		}
	}
	return nil
}

// newGroup returns a free entry, or the oldest (whose group is long gone).
func (ra *Reassembler) newGroup() *openGroup {
	oldest := &ra.groups[0]
	for i := range ra.groups {
		g := &ra.groups[i]
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
func (ra *Reassembler) resync() {
	ra.deint.Close(math.MaxInt64, ra.emit)
	ra.deint.Reset()
	for i := range ra.groups {
		ra.groups[i].used = false
	}
	ra.anyEmitted = false
}

// emitChunk hands one reassembled chunk to the playout buffer.
func (ra *Reassembler) emitChunk(c Chunk) {
	g := ra.group(c.Group)
	if g == nil {
		return // cannot happen: every group Add saw has an entry
	}
	if !ra.anyEmitted || c.Group > ra.lastEmitted {
		ra.lastEmitted, ra.lastEmittedSeq, ra.anyEmitted = c.Group, g.seq, true
	}
	arrival := max(g.arrival, ra.lastPush)
	ra.lastPush = arrival
	seq, ts := g.seq+uint16(c.Index), g.ts+uint32(c.Index*ra.chunk)
	out := ra.push(jitter.Packet{
		SequenceNumber: seq,
		Timestamp:      ts,
		Marker:         g.marker && c.Index == 0,
		Samples:        ra.chunk,
		Payload:        c.Payload,
		Meta:           jitter.Meta{Holes: c.Holes},
		// only the group's first chunk is a sample of the network's timing
		Unobserved: c.Index > 0,
	}, arrival)
	if out == jitter.OutcomeQueued {
		a := &ra.ahead[int(seq)%aheadSlots]
		a.ok, a.seq, a.ts, a.holes = true, seq, ts, c.Holes
		copy(a.data, c.Payload)
	}
	if c.Index == ra.depth-1 {
		g.used = false
	}
}
