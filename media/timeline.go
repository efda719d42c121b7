package media

import "time"

// timeline is the receiver's output: one continuous stream of samples on the
// receiver's clock, sample n playing at time n/rate. Chunks are written at the
// sample their playout instant names (silence fills what nothing covers), and
// samples are committed to the sink once the clock has passed them. Samples
// scheduled further ahead than the ring holds, or behind what was already
// committed, are clipped and counted: they can only come from a misbehaving
// peer, since the playout buffer schedules nothing in the past.
type timeline struct {
	rate      int
	ring      []int16 // future samples, indexed by absolute sample number modulo len
	committed int64   // samples handed to the sink so far
	scheduled int64   // one past the last sample any chunk was written to
	clipped   uint64  // samples dropped because they fell outside the ring
}

func newTimeline(rate int, horizon time.Duration) *timeline {
	size := int(horizon.Seconds() * float64(rate))
	return &timeline{rate: rate, ring: make([]int16, size)}
}

// sampleAt converts a time on the receiver's clock to a sample number.
func (tl *timeline) sampleAt(t time.Duration) int64 {
	return (int64(t)*int64(tl.rate) + int64(time.Second)/2) / int64(time.Second)
}

// place writes pcm so that its first sample plays at time at.
func (tl *timeline) place(at time.Duration, pcm []int16) {
	from, to := tl.reserve(at, len(pcm))
	start := tl.sampleAt(at) + int64(from)
	for i, s := range pcm[from:to] {
		tl.ring[(start+int64(i))%int64(len(tl.ring))] = s
	}
}

// reserve schedules n samples to play from time at, counting those that fall
// outside the ring as clipped, and returns the part of them [from, to) that
// fits.
func (tl *timeline) reserve(at time.Duration, n int) (from, to int) {
	start := tl.sampleAt(at)
	if start < tl.committed {
		skip := tl.committed - start
		if skip >= int64(n) {
			tl.clipped += uint64(n)
			return 0, 0
		}
		tl.clipped += uint64(skip)
		from = int(skip)
		start = tl.committed
	}
	to = n
	limit := tl.committed + int64(len(tl.ring))
	if end := start + int64(to-from); end > limit {
		keep := max(limit-start, 0)
		tl.clipped += uint64(int64(to-from) - keep)
		to = from + int(keep)
	}
	tl.scheduled = max(tl.scheduled, start+int64(to-from))
	return from, to
}

// skip advances the timeline to time now without writing anything out: the
// receiver without audio keeps time, and counts clipping, all the same.
func (tl *timeline) skip(now time.Duration) {
	tl.committed = max(tl.committed, tl.sampleAt(now))
}

// commit hands every sample before time now to write, in order, and clears
// them from the ring. It returns write's first error.
func (tl *timeline) commit(now time.Duration, write func([]int16) error) error {
	until := tl.sampleAt(now)
	size := int64(len(tl.ring))
	for tl.committed < until {
		from := tl.committed % size
		n := min(until-tl.committed, size-from)
		part := tl.ring[from : from+n]
		err := write(part)
		clear(part)
		tl.committed += n
		if err != nil {
			return err
		}
	}
	return nil
}

// pending reports whether scheduled audio has not been committed yet.
func (tl *timeline) pending() bool { return tl.scheduled > tl.committed }
