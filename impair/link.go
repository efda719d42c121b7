package impair

import "time"

// Link is a virtual one-way network: packets offered to it go through a Path
// (loss, delay, duplication, the receiver's clock) and wait in a Releaser
// until the caller's clock reaches their delivery time. Several paths may
// share one Link (media and parity, media and RTCP), so that their packets
// come out in one arrival order, ties in the order they were sent.
//
// It is the one simulation of a network that the benchmarks, the media
// core's tests and a live call's impairment all use. Like its parts it is
// clockless and allocates nothing once built; it is not safe for concurrent
// use.
type Link struct {
	rel      *Releaser
	lost     uint64 // packets the paths' loss models dropped
	overflow uint64 // copies the delay line had no room for
}

// NewLink returns a Link whose delay line holds at most capacity packets of
// at most maxPacket bytes each (see NewReleaser).
func NewLink(capacity, maxPacket int) *Link {
	return &Link{rel: NewReleaser(capacity, maxPacket)}
}

// Send offers pkt, sent at time at on the sender's clock, to path p and
// queues every copy that survives it (see Path.SendAll): none if lost, two if
// duplicated. A nil p is a perfect network delivering at once. It returns how
// many copies were queued and the first error of a copy that did not fit
// (ErrReleaserFull, ErrPacketTooLarge), which Overflow counts.
func (l *Link) Send(p *Path, pkt []byte, at time.Duration) (copies int, err error) {
	if p == nil {
		return l.push(pkt, at, &err), err
	}
	arrived := 0
	p.SendAll(at, func(deliverAt time.Duration) {
		arrived++
		copies += l.push(pkt, deliverAt, &err)
	})
	if arrived == 0 {
		l.lost++
	}
	return copies, err
}

// SendOnce is Send ignoring the path's duplication model (Path.Send): the
// packet arrives once or not at all. Live calls have always impaired their
// packets this way.
func (l *Link) SendOnce(p *Path, pkt []byte, at time.Duration) (queued bool, err error) {
	deliverAt := at
	if p != nil {
		var ok bool
		if deliverAt, ok = p.Send(at); !ok {
			l.lost++
			return false, nil
		}
	}
	return l.push(pkt, deliverAt, &err) == 1, err
}

// push queues one copy, keeping the first error in *first.
func (l *Link) push(pkt []byte, deliverAt time.Duration, first *error) int {
	if err := l.rel.Push(pkt, deliverAt); err != nil {
		l.overflow++
		if *first == nil {
			*first = err
		}
		return 0
	}
	return 1
}

// Deliver hands fn every packet due by until, in order of arrival (ties in
// the order sent), with its arrival time on the receiver's clock, and returns
// how many it handed over. pkt is valid only during the call; fn may Send. A
// nil fn discards the packets.
func (l *Link) Deliver(until time.Duration, fn func(pkt []byte, at time.Duration)) int {
	delivered := 0
	for {
		at, ok := l.rel.Next()
		if !ok || at > until {
			return delivered
		}
		if fn == nil {
			delivered += l.rel.Due(at, nil)
			continue
		}
		delivered += l.rel.Due(at, func(pkt []byte) { fn(pkt, at) })
	}
}

// Next reports when the earliest queued packet arrives, ok=false if none is.
func (l *Link) Next() (at time.Duration, ok bool) { return l.rel.Next() }

// Len is how many packets are in flight.
func (l *Link) Len() int { return l.rel.Len() }

// Lost is how many packets the paths' loss models dropped.
func (l *Link) Lost() uint64 { return l.lost }

// Overflow is how many copies were dropped for want of room in the delay
// line (or for being larger than its slots).
func (l *Link) Overflow() uint64 { return l.overflow }
