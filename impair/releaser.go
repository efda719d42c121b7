package impair

import (
	"errors"
	"time"
)

// Errors returned by Releaser.Push. They are returned unwrapped and carry no
// per-call detail so that a drop under overload costs no allocation.
var (
	ErrReleaserFull   = errors.New("impair: releaser full, packet dropped")
	ErrPacketTooLarge = errors.New("impair: packet larger than releaser slot, packet dropped")
)

// Releaser is a clockless delay line. Packets are pushed with the time they
// are due and come back out of Due in order of that time, so packets given
// different delays overtake each other just as they would on a real network.
// Packets due at the same time come out in the order they were pushed.
//
// All memory is allocated by NewReleaser; Push and Due allocate nothing.
// A Releaser is not safe for concurrent use.
type Releaser struct {
	maxPacket int
	data      []byte          // slot i owns data[i*maxPacket : (i+1)*maxPacket]
	size      []int           // bytes held in each slot
	deliverAt []time.Duration // due time of each slot
	order     []uint64        // push sequence number of each slot, breaks ties
	free      []int           // stack of unused slots
	pending   []int           // min-heap of used slots keyed on (deliverAt, order)
	pushes    uint64
}

// NewReleaser returns a Releaser holding at most capacity packets of at most
// maxPacket bytes each. A capacity or maxPacket below zero is taken as zero,
// which makes every Push (of a non-empty packet, for maxPacket) fail.
func NewReleaser(capacity, maxPacket int) *Releaser {
	capacity = max(capacity, 0)
	maxPacket = max(maxPacket, 0)
	r := &Releaser{
		maxPacket: maxPacket,
		data:      make([]byte, capacity*maxPacket),
		size:      make([]int, capacity),
		deliverAt: make([]time.Duration, capacity),
		order:     make([]uint64, capacity),
		free:      make([]int, capacity),
		pending:   make([]int, 0, capacity),
	}
	for i := range r.free {
		r.free[i] = capacity - 1 - i // pop slot 0 first
	}
	return r
}

// Push copies pkt into the Releaser, to come out of Due at deliverAt or later.
// It returns ErrPacketTooLarge or ErrReleaserFull, and keeps nothing, if the
// packet does not fit; the caller counts such drops.
func (r *Releaser) Push(pkt []byte, deliverAt time.Duration) error {
	if len(pkt) > r.maxPacket {
		return ErrPacketTooLarge
	}
	if len(r.free) == 0 {
		return ErrReleaserFull
	}
	slot := r.free[len(r.free)-1]
	r.free = r.free[:len(r.free)-1]
	r.size[slot] = copy(r.data[slot*r.maxPacket:], pkt)
	r.deliverAt[slot] = deliverAt
	r.order[slot] = r.pushes
	r.pushes++
	r.pending = append(r.pending, slot)
	r.siftUp(len(r.pending) - 1)
	return nil
}

// Due releases every packet whose deliverAt is at or before now, earliest
// first, calling fn with each, and returns how many it released. pkt is only
// valid during the call to fn. fn may call Push; a nil fn discards the packets.
func (r *Releaser) Due(now time.Duration, fn func(pkt []byte)) int {
	released := 0
	for len(r.pending) > 0 && r.deliverAt[r.pending[0]] <= now {
		slot := r.popMin()
		if fn != nil {
			start := slot * r.maxPacket
			fn(r.data[start : start+r.size[slot] : start+r.size[slot]])
		}
		r.free = append(r.free, slot)
		released++
	}
	return released
}

// Next reports the earliest deliverAt still pending, so the caller can set a
// timer, or ok=false if the Releaser is empty.
func (r *Releaser) Next() (deliverAt time.Duration, ok bool) {
	if len(r.pending) == 0 {
		return 0, false
	}
	return r.deliverAt[r.pending[0]], true
}

// Len returns the number of packets pending.
func (r *Releaser) Len() int { return len(r.pending) }

// earlier reports whether pending[i] comes out before pending[j].
func (r *Releaser) earlier(i, j int) bool {
	a, b := r.pending[i], r.pending[j]
	if r.deliverAt[a] != r.deliverAt[b] {
		return r.deliverAt[a] < r.deliverAt[b]
	}
	return r.order[a] < r.order[b]
}

func (r *Releaser) siftUp(i int) {
	for i > 0 {
		parent := (i - 1) / 2
		if !r.earlier(i, parent) {
			return
		}
		r.pending[i], r.pending[parent] = r.pending[parent], r.pending[i]
		i = parent
	}
}

func (r *Releaser) siftDown(i int) {
	n := len(r.pending)
	for {
		first := i
		if left := 2*i + 1; left < n && r.earlier(left, first) {
			first = left
		}
		if right := 2*i + 2; right < n && r.earlier(right, first) {
			first = right
		}
		if first == i {
			return
		}
		r.pending[i], r.pending[first] = r.pending[first], r.pending[i]
		i = first
	}
}

func (r *Releaser) popMin() int {
	last := len(r.pending) - 1
	top := r.pending[0]
	r.pending[0] = r.pending[last]
	r.pending = r.pending[:last]
	if last > 0 {
		r.siftDown(0)
	}
	return top
}
