package interleave

import (
	"fmt"
	"math/bits"
)

// openGroups is how many groups a Deinterleaver keeps open at once: the group
// being received and the one before it, so that packets of neighbouring groups
// may arrive interleaved or reordered.
const openGroups = 2

// Chunk is one reassembled chunk, handed to the emit callback of a
// Deinterleaver.
type Chunk struct {
	Group   int64  // the caller's key of the chunk's group
	Index   int    // position of the chunk in its group, 0..depth-1
	Payload []byte // chunkBytes bytes, valid only during the emit call
	Holes   uint8  // bit u set: unit u was never received and holds the fill byte
}

// DeinterleaverStats counts what a Deinterleaver saw.
type DeinterleaverStats struct {
	Groups      uint64 // groups emitted
	Incomplete  uint64 // groups emitted with at least one packet missing
	LostPackets uint64 // packets missing from the emitted groups
	Duplicates  uint64 // packets of an open group that was already received, ignored
	Late        uint64 // packets of a group already emitted or closed, or older than the open window, ignored
	Malformed   uint64 // payloads refused with an error wrapping ErrMalformed
}

// Deinterleaver reassembles chunks from the packet payloads built by an
// Interleaver. It keeps two groups open so that packets of neighbouring
// groups may arrive mixed or reordered, and emits whole groups, strictly in
// the order of their keys. A group is emitted once all its packets are in and
// no older group is still open, or when Close gives up on it, or when a packet
// of a third, newer group needs its slot; a complete group waits for an older
// incomplete one.
//
// Group keys are the caller's: any int64 that grows from group to group, such
// as the extended (unwrapped) RTP timestamp shared by a group's packets. Once
// a group is emitted or closed, packets for it or any older key are late. A
// Deinterleaver cannot know of a group none of whose packets has arrived, so
// such a group is simply never emitted: its chunks are missing, as they would
// be without interleaving, and the caller's playout buffer sees the gap.
//
// All memory is allocated by NewDeinterleaver; Add and Close allocate nothing
// except on the error path. A Deinterleaver is not safe for concurrent use,
// and emit must not call back into it.
type Deinterleaver struct {
	depth int
	chunk int   // N, bytes per chunk
	unit  int   // N/D
	all   uint8 // received mask of a complete group

	blank     []byte // a group's worth of fill bytes, copied into each new slot
	slots     [openGroups]groupSlot
	closed    int64 // every group with a key <= closed is finished
	anyClosed bool  // whether closed means anything yet
	stats     DeinterleaverStats
}

// groupSlot holds one open group. Chunk c owns data[c*N:(c+1)*N].
type groupSlot struct {
	key      int64
	open     bool
	received uint8 // bit j set: packet j is in
	data     []byte
}

// NewDeinterleaver returns a Deinterleaver for groups of depth chunks of
// chunkBytes bytes each; units whose packet never arrives hold the byte fill
// (0xFF is mu-law silence, 0xD5 A-law), so a codec can still decode them.
func NewDeinterleaver(depth, chunkBytes int, fill byte) (*Deinterleaver, error) {
	unit, err := checkShape(depth, chunkBytes)
	if err != nil {
		return nil, err
	}
	d := &Deinterleaver{depth: depth, chunk: chunkBytes, unit: unit, all: uint8(1<<depth - 1)}
	n := depth * chunkBytes
	backing := make([]byte, (openGroups+1)*n)
	for i := range d.slots {
		d.slots[i].data = backing[i*n : (i+1)*n : (i+1)*n]
	}
	d.blank = backing[openGroups*n:]
	for k := range d.blank {
		d.blank[k] = fill
	}
	return d, nil
}

// Stats reports the Deinterleaver's counters.
func (d *Deinterleaver) Stats() DeinterleaverStats { return d.stats }

// Reset forgets every open group, without emitting it, and which groups were
// finished, as for a new stream whose keys start afresh. Counters are kept.
func (d *Deinterleaver) Reset() {
	for i := range d.slots {
		d.slots[i].open = false
	}
	d.anyClosed = false
}

// Added says what Add did with a packet.
type Added uint8

// What Add does with a well-formed packet.
const (
	// AddedTaken: its units are in their group.
	AddedTaken Added = iota
	// AddedLate: its group was emitted or closed already; ignored.
	AddedLate
	// AddedDuplicate: its group has its units already; ignored.
	AddedDuplicate
)

// Add takes one received packet payload of the group with key group and says
// what it did with it. When this completes the oldest open group, emit is
// called for each of its chunks in order (and then for any newer group that
// was complete and waiting).
//
// A payload that does not follow the wire format is refused with an error
// wrapping ErrMalformed. A duplicate, or a packet of a group already emitted
// or closed, is counted and ignored: that is the network's doing, not an
// error.
func (d *Deinterleaver) Add(group int64, payload []byte, emit func(Chunk)) (Added, error) {
	j, err := d.parse(payload)
	if err != nil {
		d.stats.Malformed++
		return 0, err
	}
	if d.anyClosed && group <= d.closed {
		d.stats.Late++
		return AddedLate, nil
	}
	s := d.slotFor(group, emit)
	if s == nil {
		d.stats.Late++
		return AddedLate, nil
	}
	bit := uint8(1) << j
	if s.received&bit != 0 {
		d.stats.Duplicates++
		return AddedDuplicate, nil
	}
	s.received |= bit
	units := payload[1:]
	for c := range d.depth {
		copy(s.data[c*d.chunk+j*d.unit:c*d.chunk+(j+1)*d.unit], units[c*d.unit:(c+1)*d.unit])
	}
	d.emitComplete(emit)
	return AddedTaken, nil
}

// Close gives up on every open group with a key up to and including group, as
// when the caller has seen a later group or the playout deadline has come:
// they are emitted in order with their missing units marked as holes. Packets
// that arrive later for these groups, or for any older key, are counted as
// late. Newer groups that were complete and waiting are emitted after them.
func (d *Deinterleaver) Close(group int64, emit func(Chunk)) {
	for range openGroups {
		s := d.oldestOpen()
		if s == nil || s.key > group {
			break
		}
		d.emitGroup(s, emit)
	}
	if !d.anyClosed || group > d.closed {
		d.closed, d.anyClosed = group, true
	}
	d.emitComplete(emit)
}

// parse checks payload against the wire format and this Deinterleaver's shape
// and returns the packet's index in its group.
func (d *Deinterleaver) parse(payload []byte) (index int, err error) {
	if len(payload) != 1+d.chunk {
		return 0, fmt.Errorf("interleave: payload of %d bytes, want %d: %w", len(payload), 1+d.chunk, ErrMalformed)
	}
	depth, index, err := ParseHeader(payload)
	if err != nil {
		return 0, err
	}
	if depth != d.depth {
		return 0, fmt.Errorf("interleave: header says depth %d, stream has %d: %w", depth, d.depth, ErrMalformed)
	}
	return index, nil
}

// slotFor returns the open slot of group, opening one if needed. With every
// slot taken, the oldest group is emitted as it stands to make room, unless
// group is older than all of them: then it returns nil (group is too late).
func (d *Deinterleaver) slotFor(group int64, emit func(Chunk)) *groupSlot {
	var free *groupSlot
	for i := range d.slots {
		s := &d.slots[i]
		if !s.open {
			free = s
		} else if s.key == group {
			return s
		}
	}
	if free == nil {
		oldest := d.oldestOpen()
		if group < oldest.key {
			return nil
		}
		d.emitGroup(oldest, emit)
		free = oldest
	}
	free.key, free.open, free.received = group, true, 0
	copy(free.data, d.blank)
	return free
}

// oldestOpen returns the open slot with the smallest key, or nil.
func (d *Deinterleaver) oldestOpen() *groupSlot {
	var oldest *groupSlot
	for i := range d.slots {
		s := &d.slots[i]
		if s.open && (oldest == nil || s.key < oldest.key) {
			oldest = s
		}
	}
	return oldest
}

// emitComplete emits groups from the oldest open one on while they are complete.
func (d *Deinterleaver) emitComplete(emit func(Chunk)) {
	for range openGroups {
		s := d.oldestOpen()
		if s == nil || s.received != d.all {
			return
		}
		d.emitGroup(s, emit)
	}
}

// emitGroup hands the chunks of s to emit, closes s and marks its key finished.
func (d *Deinterleaver) emitGroup(s *groupSlot, emit func(Chunk)) {
	holes := d.all &^ s.received
	s.open = false
	d.closed, d.anyClosed = s.key, true
	d.stats.Groups++
	if holes != 0 {
		d.stats.Incomplete++
		d.stats.LostPackets += uint64(bits.OnesCount8(holes))
	}
	if emit == nil {
		return
	}
	for c := range d.depth {
		emit(Chunk{Group: s.key, Index: c, Payload: s.data[c*d.chunk : (c+1)*d.chunk : (c+1)*d.chunk], Holes: holes})
	}
}
