package device

import (
	"sync"
	"time"
)

// sampleQueue is a bounded FIFO of samples between a sound card's callback,
// which must never block, and the caller's side. When full, a push makes room
// by dropping the oldest samples. Neither side allocates.
type sampleQueue struct {
	mu     sync.Mutex
	ready  chan struct{} // holds a token when samples arrived or the queue closed
	buf    []int16       // ring storage
	head   int           // index of the oldest sample
	n      int           // samples held
	closed bool
	timer  *time.Timer // pop's, reused
}

func newSampleQueue(capacity int) *sampleQueue {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &sampleQueue{buf: make([]int16, capacity), ready: make(chan struct{}, 1), timer: t}
}

// push appends pcm and returns how many of the oldest samples it dropped to
// make room. It never blocks; a closed queue drops everything.
func (q *sampleQueue) push(pcm []int16) (dropped int) {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return len(pcm)
	}
	if len(pcm) > len(q.buf) {
		dropped = len(pcm) - len(q.buf)
		pcm = pcm[dropped:]
	}
	if over := q.n + len(pcm) - len(q.buf); over > 0 {
		q.head = (q.head + over) % len(q.buf)
		q.n -= over
		dropped += over
	}
	for len(pcm) > 0 {
		tail := (q.head + q.n) % len(q.buf)
		k := copy(q.buf[tail:min(len(q.buf), tail+len(pcm))], pcm)
		q.n += k
		pcm = pcm[k:]
	}
	q.mu.Unlock()
	q.wake()
	return dropped
}

func (q *sampleQueue) wake() {
	select {
	case q.ready <- struct{}{}:
	default: // a token is waiting already
	}
}

// tryPop moves up to len(out) queued samples into out without waiting and
// returns how many.
func (q *sampleQueue) tryPop(out []int16) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for n < len(out) && q.n > 0 {
		k := copy(out[n:], q.buf[q.head:min(len(q.buf), q.head+q.n)])
		q.head = (q.head + k) % len(q.buf)
		q.n -= k
		n += k
	}
	return n
}

// pop waits up to timeout for samples, then moves up to len(out) of them
// into out. It reports how many, and whether the queue is still open (once
// closed, it returns what is left without waiting, then 0). One goroutine
// at a time may pop.
func (q *sampleQueue) pop(out []int16, timeout time.Duration) (n int, open bool) {
	q.timer.Reset(timeout)
	defer q.timer.Stop()
	for {
		q.mu.Lock()
		closed := q.closed
		q.mu.Unlock()
		if n := q.tryPop(out); n > 0 || closed {
			return n, !closed
		}
		select {
		case <-q.ready:
		case <-q.timer.C:
			return 0, true
		}
	}
}

// len is the number of samples queued.
func (q *sampleQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}

// close wakes the reader; what is queued can still be popped.
func (q *sampleQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.wake()
}
