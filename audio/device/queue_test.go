package device

import (
	"slices"
	"testing"
	"time"
)

func ramp(from, n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16(from + i)
	}
	return s
}

func TestSampleQueue(t *testing.T) {
	tests := []struct {
		name        string
		capacity    int
		pushes      [][]int16
		wantDropped int
		want        []int16
	}{
		{"in order", 10, [][]int16{ramp(0, 3), ramp(3, 4)}, 0, ramp(0, 7)},
		{"exactly full", 6, [][]int16{ramp(0, 3), ramp(3, 3)}, 0, ramp(0, 6)},
		{"full: the oldest make room", 5, [][]int16{ramp(0, 4), ramp(4, 3)}, 2, ramp(2, 5)},
		{"one push larger than the queue", 4, [][]int16{ramp(0, 2), ramp(2, 7)}, 5, ramp(5, 4)},
		{"wraps around the ring", 4, [][]int16{ramp(0, 3), ramp(3, 3), ramp(6, 2)}, 4, ramp(4, 4)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newSampleQueue(tt.capacity)
			dropped := 0
			for _, p := range tt.pushes {
				dropped += q.push(p)
			}
			q.close()
			var got []int16
			out := make([]int16, 3)
			for range 100 {
				n, open := q.pop(out, time.Second)
				got = append(got, out[:n]...)
				if n == 0 && !open {
					break
				}
			}
			if dropped != tt.wantDropped || !slices.Equal(got, tt.want) {
				t.Errorf("dropped %d, popped %v; want %d and %v", dropped, got, tt.wantDropped, tt.want)
			}
		})
	}
}

// pop waits for samples; push and close wake it.
func TestSampleQueueWakesReader(t *testing.T) {
	q := newSampleQueue(16)
	got := make(chan []int16)
	go func() {
		var all []int16
		out := make([]int16, 4)
		for {
			n, open := q.pop(out, 5*time.Second)
			all = append(all, out[:n]...)
			if n == 0 && !open {
				got <- all
				return
			}
		}
	}()
	for i := range 5 {
		time.Sleep(2 * time.Millisecond)
		if d := q.push(ramp(3*i, 3)); d != 0 {
			t.Errorf("push %d dropped %d", i, d)
		}
	}
	q.close()
	if d := q.push(ramp(0, 2)); d != 2 {
		t.Errorf("a push after close dropped %d, want all 2", d)
	}
	select {
	case all := <-got:
		if !slices.Equal(all, ramp(0, 15)) {
			t.Errorf("reader got %v", all)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reader still waiting after close")
	}
}

func TestSampleQueuePushAllocatesNothing(t *testing.T) {
	q := newSampleQueue(800)
	pcm := ramp(0, 160)
	out := make([]int16, 160)
	if allocs := testing.AllocsPerRun(100, func() {
		q.push(pcm)
		q.pop(out, time.Second)
		q.push(pcm)
		q.tryPop(out)
	}); allocs != 0 {
		t.Errorf("%v allocations per push and pop", allocs)
	}
}

// pop gives up after its timeout when nothing comes; tryPop never waits.
func TestSampleQueueTimesOut(t *testing.T) {
	q := newSampleQueue(16)
	out := make([]int16, 4)
	if n := q.tryPop(out); n != 0 {
		t.Errorf("tryPop on an empty queue: %d", n)
	}
	start := time.Now()
	n, open := q.pop(out, 50*time.Millisecond)
	if took := time.Since(start); n != 0 || !open || took < 50*time.Millisecond || took > 2*time.Second {
		t.Errorf("pop on an empty queue: %d samples, open %v, after %v; want 0, open, after 50 ms", n, open, took)
	}
	q.push(ramp(0, 2))
	if n := q.tryPop(out); n != 2 || q.len() != 0 {
		t.Errorf("tryPop: %d samples, %d left", n, q.len())
	}
}
