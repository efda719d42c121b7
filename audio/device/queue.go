package device

import "sync"

// sampleQueue is a bounded FIFO of samples between one writer that must not
// block (a call's event loop) and one reader that may (a goroutine feeding a
// sound card). When full, a push makes room by dropping the oldest samples.
type sampleQueue struct {
	mu     sync.Mutex
	ready  *sync.Cond // signalled when samples arrive or the queue closes
	buf    []int16    // ring storage
	head   int        // index of the oldest sample
	n      int        // samples held
	closed bool
}

func newSampleQueue(capacity int) *sampleQueue {
	q := &sampleQueue{buf: make([]int16, capacity)}
	q.ready = sync.NewCond(&q.mu)
	return q
}

// push appends pcm and returns how many of the oldest samples it dropped to
// make room. It never blocks and never allocates; a closed queue drops
// everything.
func (q *sampleQueue) push(pcm []int16) (dropped int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
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
	q.ready.Signal()
	return dropped
}

// pop waits until samples are queued or the queue is closed, then moves up
// to len(out) of them into out. It reports how many, and whether the queue
// is still open (once closed, it returns what is left, then 0).
func (q *sampleQueue) pop(out []int16) (n int, open bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for q.n == 0 && !q.closed {
		q.ready.Wait()
	}
	for n < len(out) && q.n > 0 {
		k := copy(out[n:], q.buf[q.head:min(len(q.buf), q.head+q.n)])
		q.head = (q.head + k) % len(q.buf)
		q.n -= k
		n += k
	}
	return n, !q.closed
}

// close wakes the reader; what is queued can still be popped.
func (q *sampleQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	q.ready.Broadcast()
}
