package impair

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// TestLinkDeliversWhatThePathDecides sends a packet stream over a lossy,
// jittered, duplicating path and checks the Link against the path's own
// decisions, replayed from the same seeds: every copy SendAll reports comes
// out of Deliver once, at its time, in order of arrival (ties in send
// order), and nothing before the clock reaches it.
func TestLinkDeliversWhatThePathDecides(t *testing.T) {
	const packets, spacing = 3000, 20 * time.Millisecond
	build := func() *Path {
		loss, err := NewBernoulli(0.1, seeded(1))
		if err != nil {
			t.Fatal(err)
		}
		jitter, err := NewUniformJitter(30*time.Millisecond, 70*time.Millisecond, seeded(2))
		if err != nil {
			t.Fatal(err)
		}
		dup, err := NewDuplicator(0.05, 3*time.Millisecond, seeded(3))
		if err != nil {
			t.Fatal(err)
		}
		return &Path{Loss: loss, Delay: jitter, Duplicate: dup, Clock: Clock{Offset: time.Second, SkewPPM: 40}}
	}

	// What the path decides, replayed on its own, in arrival order.
	type copyOf struct {
		id uint32
		at time.Duration
	}
	var want []copyOf
	lost := 0
	reference := build()
	for i := range packets {
		n := len(want)
		reference.SendAll(time.Duration(i)*spacing, func(at time.Duration) { want = append(want, copyOf{uint32(i), at}) })
		if len(want) == n {
			lost++
		}
	}
	slices.SortStableFunc(want, func(a, b copyOf) int { return int(a.at - b.at) })

	path := build()
	link := NewLink(64, 160)
	var got []copyOf
	buf := make([]byte, 160)
	for i := range packets {
		now := time.Duration(i) * spacing
		link.Deliver(path.Clock.Receiver(now), func(pkt []byte, at time.Duration) {
			id, ok := checkPacket(pkt)
			if !ok {
				t.Fatalf("packet %d corrupted", id)
			}
			if at > path.Clock.Receiver(now) {
				t.Fatalf("packet %d due at %v delivered by %v", id, at, path.Clock.Receiver(now))
			}
			got = append(got, copyOf{id, at})
		})
		copies, err := link.Send(path, packet(buf, uint32(i)), now)
		if err != nil || copies > 2 {
			t.Fatalf("packet %d: %d copies, error %v", i, copies, err)
		}
	}
	link.Deliver(time.Duration(1<<62), func(pkt []byte, at time.Duration) {
		id, _ := checkPacket(pkt)
		got = append(got, copyOf{id, at})
	})
	if !slices.Equal(got, want) {
		t.Fatalf("delivered %d copies, the path decided %d; first difference at %d", len(got), len(want), firstDifference(got, want))
	}
	if link.Lost() != uint64(lost) || link.Overflow() != 0 || link.Len() != 0 {
		t.Errorf("lost %d (want %d), overflow %d, %d still queued", link.Lost(), lost, link.Overflow(), link.Len())
	}
	if len(want) <= packets-lost {
		t.Errorf("no duplicates in %d copies of %d packets delivered", len(want), packets-lost)
	}
}

func firstDifference[T comparable](a, b []T) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestLinkSharedByTwoPaths: two paths sharing a Link deliver in one arrival
// order, and packets arriving together come out in the order sent, whichever
// path carried them; a nil path delivers at once.
func TestLinkSharedByTwoPaths(t *testing.T) {
	slow := &Path{Delay: Constant(30 * time.Millisecond)}
	fast := &Path{Delay: Constant(10 * time.Millisecond)}
	link := NewLink(8, 4)
	sends := []struct {
		path *Path
		id   byte
		at   time.Duration
	}{
		{slow, 1, 0},                     // arrives 30 ms
		{fast, 2, 20 * time.Millisecond}, // arrives 30 ms, after 1
		{nil, 3, 25 * time.Millisecond},  // arrives 25 ms
		{fast, 4, 5 * time.Millisecond},  // arrives 15 ms
	}
	for _, s := range sends {
		if n, err := link.Send(s.path, []byte{s.id}, s.at); n != 1 || err != nil {
			t.Fatalf("packet %d: %d copies, error %v", s.id, n, err)
		}
	}
	var order []byte
	var times []time.Duration
	collect := func(pkt []byte, at time.Duration) { order, times = append(order, pkt[0]), append(times, at) }
	if n := link.Deliver(29*time.Millisecond, collect); n != 2 {
		t.Errorf("by 29 ms: %d delivered, want 2", n)
	}
	if n := link.Deliver(30*time.Millisecond, collect); n != 2 {
		t.Errorf("at 30 ms: %d delivered, want 2", n)
	}
	ms := time.Millisecond
	if !slices.Equal(order, []byte{4, 3, 1, 2}) || !slices.Equal(times, []time.Duration{15 * ms, 25 * ms, 30 * ms, 30 * ms}) {
		t.Errorf("delivered %v at %v, want [4 3 1 2] at [15ms 25ms 30ms 30ms]", order, times)
	}
}

// TestLinkCountsWhatItDrops: a full delay line and an oversized packet are
// counted and reported, a lost packet is counted, and SendOnce ignores the
// path's duplication where Send does not.
func TestLinkCountsWhatItDrops(t *testing.T) {
	always, err := NewDuplicator(1, time.Millisecond, seeded(4))
	if err != nil {
		t.Fatal(err)
	}
	dup := &Path{Duplicate: always}
	lose, err := NewBernoulli(1, seeded(5))
	if err != nil {
		t.Fatal(err)
	}
	lossy := &Path{Loss: lose}

	link := NewLink(3, 4)
	if n, err := link.Send(dup, []byte{1}, 0); n != 2 || err != nil {
		t.Errorf("duplicated packet: %d copies (error %v), want 2", n, err)
	}
	if ok, err := link.SendOnce(dup, []byte{2}, 0); !ok || err != nil {
		t.Errorf("SendOnce: queued %v, error %v", ok, err)
	}
	if link.Len() != 3 {
		t.Errorf("%d queued, want 3 (SendOnce made no copy)", link.Len())
	}
	if n, err := link.Send(nil, []byte{3}, 0); n != 0 || !errors.Is(err, ErrReleaserFull) {
		t.Errorf("into a full line: %d copies, error %v; want 0 and %v", n, err, ErrReleaserFull)
	}
	link.Deliver(time.Hour, nil)
	if n, err := link.Send(nil, []byte{1, 2, 3, 4, 5}, 0); n != 0 || !errors.Is(err, ErrPacketTooLarge) {
		t.Errorf("oversized: %d copies, error %v; want 0 and %v", n, err, ErrPacketTooLarge)
	}
	if n, err := link.Send(lossy, []byte{6}, 0); n != 0 || err != nil {
		t.Errorf("lost packet: %d copies, error %v", n, err)
	}
	if ok, err := link.SendOnce(lossy, []byte{7}, 0); ok || err != nil {
		t.Errorf("lost packet (SendOnce): queued %v, error %v", ok, err)
	}
	if link.Overflow() != 2 || link.Lost() != 2 || link.Len() != 0 {
		t.Errorf("overflow %d, lost %d, %d queued; want 2, 2, 0", link.Overflow(), link.Lost(), link.Len())
	}
}

// TestLinkAllocatesNothing: sending and delivering allocate nothing.
func TestLinkAllocatesNothing(t *testing.T) {
	jitter, err := NewUniformJitter(30*time.Millisecond, 40*time.Millisecond, seeded(6))
	if err != nil {
		t.Fatal(err)
	}
	path := &Path{Delay: jitter}
	link := NewLink(16, 160)
	pkt := make([]byte, 160)
	var now time.Duration
	delivered := 0
	count := func([]byte, time.Duration) { delivered++ }
	step := func() {
		now += 20 * time.Millisecond
		link.Deliver(now, count)
		if _, err := link.Send(path, pkt, now); err != nil {
			t.Fatal(err)
		}
	}
	if allocs := testing.AllocsPerRun(1000, step); allocs != 0 {
		t.Errorf("%v allocations per packet, want 0", allocs)
	}
	if delivered < 900 {
		t.Errorf("%d packets delivered", delivered)
	}
}

// BenchmarkLink measures one packet sent over a jittered path and delivered.
func BenchmarkLink(b *testing.B) {
	jitter, err := NewUniformJitter(30*time.Millisecond, 40*time.Millisecond, seeded(7))
	if err != nil {
		b.Fatal(err)
	}
	path := &Path{Delay: jitter}
	link := NewLink(64, 160)
	pkt := make([]byte, 160)
	var now time.Duration
	b.ReportAllocs()
	for b.Loop() {
		now += 20 * time.Millisecond
		link.Deliver(now, nil)
		if _, err := link.Send(path, pkt, now); err != nil {
			b.Fatal(err)
		}
	}
}
