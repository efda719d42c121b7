package impair

import (
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// packet makes a 160-byte payload carrying id in its first 4 bytes.
func packet(buf []byte, id uint32) []byte {
	binary.BigEndian.PutUint32(buf, id)
	for i := 4; i < len(buf); i++ {
		buf[i] = byte(id) ^ byte(i)
	}
	return buf
}

// checkPacket reports whether pkt is intact and returns its id.
func checkPacket(pkt []byte) (uint32, bool) {
	if len(pkt) < 4 {
		return 0, false
	}
	id := binary.BigEndian.Uint32(pkt)
	for i := 4; i < len(pkt); i++ {
		if pkt[i] != byte(id)^byte(i) {
			return id, false
		}
	}
	return id, true
}

// TestReleaserReorders runs a 20 ms packet stream through a jittered Path and
// a Releaser, stepping the clock as a shell would (to each Next time), and checks
// that packets come out on time, in deliverAt order, and overtake each other
// exactly when the jitter exceeds the packet spacing.
func TestReleaserReorders(t *testing.T) {
	const packets, spacing = 2000, 20 * time.Millisecond
	tests := []struct {
		jitter      time.Duration
		wantReorder bool
	}{
		{0, false},
		{10 * time.Millisecond, false},
		{spacing, false}, // U[0, spacing) never quite overtakes
		{60 * time.Millisecond, true},
		{200 * time.Millisecond, true},
	}
	for _, tc := range tests {
		t.Run(tc.jitter.String(), func(t *testing.T) {
			u, err := NewUniformJitter(30*time.Millisecond, tc.jitter, seeded(9))
			if err != nil {
				t.Fatal(err)
			}
			path := Path{Delay: u}
			r := NewReleaser(64, 160)
			due := make(map[uint32]time.Duration, packets)
			var got []uint32
			var now, lastAt time.Duration
			buf := make([]byte, 160)
			deliver := func(pkt []byte) {
				id, intact := checkPacket(pkt)
				if !intact {
					t.Fatalf("packet %d corrupted", id)
				}
				at := due[id]
				if at > now || at < lastAt {
					t.Fatalf("packet %d due %v released at %v after one due %v", id, at, now, lastAt)
				}
				lastAt = at
				got = append(got, id)
			}
			// Event loop: the next event is either the next send or the next release.
			for id := uint32(0); id < packets || r.Len() > 0; {
				sendAt := time.Duration(id) * spacing
				if next, ok := r.Next(); ok && (id >= packets || next <= sendAt) {
					now = next
					if n := r.Due(now, deliver); n == 0 {
						t.Fatalf("Due(%v) released nothing though Next said %v", now, next)
					}
					continue
				}
				now = sendAt
				at, _ := path.Send(now)
				due[id] = at
				if err := r.Push(packet(buf, id), at); err != nil {
					t.Fatalf("Push packet %d: %v", id, err)
				}
				id++
			}
			if len(got) != packets {
				t.Fatalf("released %d packets, want %d", len(got), packets)
			}
			reordered := 0
			for i := 1; i < len(got); i++ {
				if got[i] < got[i-1] {
					reordered++
				}
			}
			if (reordered > 0) != tc.wantReorder {
				t.Errorf("%d packets overtaken, want reordering %v", reordered, tc.wantReorder)
			}
			t.Logf("jitter %v: %d of %d packets released out of order", tc.jitter, reordered, packets)
		})
	}
}

func TestReleaserTiesInPushOrder(t *testing.T) {
	r := NewReleaser(8, 4)
	ms := time.Millisecond
	pushes := []struct {
		id byte
		at time.Duration
	}{{0, 5 * ms}, {1, 3 * ms}, {2, 5 * ms}, {3, 3 * ms}, {4, 5 * ms}, {5, 1 * ms}, {6, 5 * ms}}
	for _, p := range pushes {
		if err := r.Push([]byte{p.id}, p.at); err != nil {
			t.Fatal(err)
		}
	}
	var got []byte
	r.Due(10*ms, func(pkt []byte) { got = append(got, pkt[0]) })
	if want := []byte{5, 1, 3, 0, 2, 4, 6}; !slices.Equal(got, want) {
		t.Errorf("released %v, want %v", got, want)
	}
}

// TestReleaserMatchesReference drives random pushes and releases and compares
// with a sorted-slice model of the contract.
func TestReleaserMatchesReference(t *testing.T) {
	type entry struct {
		at  time.Duration
		seq int
		pkt []byte
	}
	rng := seeded(11)
	const capacity, maxPacket = 16, 8
	r := NewReleaser(capacity, maxPacket)
	var model []entry
	var now time.Duration
	seq := 0
	for step := range 20_000 {
		switch rng.IntN(3) {
		case 0, 1:
			pkt := make([]byte, rng.IntN(maxPacket+2))
			for i := range pkt {
				pkt[i] = byte(rng.Uint32())
			}
			at := now + time.Duration(rng.IntN(5))*time.Millisecond // few distinct times: many ties
			err := r.Push(pkt, at)
			switch {
			case len(pkt) > maxPacket:
				if !errors.Is(err, ErrPacketTooLarge) {
					t.Fatalf("step %d: Push of %d bytes: %v, want ErrPacketTooLarge", step, len(pkt), err)
				}
			case len(model) == capacity:
				if !errors.Is(err, ErrReleaserFull) {
					t.Fatalf("step %d: Push when full: %v, want ErrReleaserFull", step, err)
				}
			case err != nil:
				t.Fatalf("step %d: Push: %v", step, err)
			default:
				model = append(model, entry{at, seq, slices.Clone(pkt)})
				seq++
				slices.SortStableFunc(model, func(a, b entry) int { return int(a.at - b.at) })
			}
			clear(pkt) // the Releaser must have copied it
		case 2:
			now += time.Duration(rng.IntN(3)) * time.Millisecond
			var want [][]byte
			for len(model) > 0 && model[0].at <= now {
				want = append(want, model[0].pkt)
				model = model[1:]
			}
			i := 0
			n := r.Due(now, func(pkt []byte) {
				if i >= len(want) || !slices.Equal(pkt, want[i]) {
					t.Fatalf("step %d: release %d = %v, want %v", step, i, pkt, want)
				}
				i++
			})
			if n != len(want) || i != len(want) {
				t.Fatalf("step %d: Due released %d (fn called %d), want %d", step, n, i, len(want))
			}
		}
		if r.Len() != len(model) {
			t.Fatalf("step %d: Len %d, want %d", step, r.Len(), len(model))
		}
		next, ok := r.Next()
		if ok != (len(model) > 0) || (ok && next != model[0].at) {
			t.Fatalf("step %d: Next = %v, %v; want first of %d pending", step, next, ok, len(model))
		}
	}
}

func TestReleaserCapacity(t *testing.T) {
	r := NewReleaser(3, 10)
	for i := range 3 {
		if err := r.Push([]byte{byte(i)}, time.Duration(i)); err != nil {
			t.Fatalf("Push %d: %v", i, err)
		}
	}
	if err := r.Push([]byte{9}, 0); !errors.Is(err, ErrReleaserFull) {
		t.Fatalf("Push into full releaser: %v, want ErrReleaserFull", err)
	}
	if n := r.Due(0, nil); n != 1 {
		t.Fatalf("Due(0) released %d, want 1", n)
	}
	if err := r.Push([]byte{9}, 0); err != nil {
		t.Fatalf("Push after a release: %v", err)
	}
	if err := r.Push(make([]byte, 11), 0); !errors.Is(err, ErrPacketTooLarge) {
		t.Fatalf("Push of 11 bytes into 10-byte slots: %v, want ErrPacketTooLarge", err)
	}
}

func TestReleaserDegenerateSizes(t *testing.T) {
	tests := []struct {
		capacity, maxPacket int
		pkt                 []byte
		wantErr             error
	}{
		{0, 160, []byte{1}, ErrReleaserFull},
		{-5, 160, []byte{1}, ErrReleaserFull},
		{4, 0, []byte{1}, ErrPacketTooLarge},
		{4, -1, []byte{1}, ErrPacketTooLarge},
		{4, 0, nil, nil},
		{1, 1, []byte{7}, nil},
	}
	for _, tc := range tests {
		r := NewReleaser(tc.capacity, tc.maxPacket)
		if err := r.Push(tc.pkt, 0); !errors.Is(err, tc.wantErr) {
			t.Errorf("NewReleaser(%d, %d).Push(%d bytes) = %v, want %v", tc.capacity, tc.maxPacket, len(tc.pkt), err, tc.wantErr)
			continue
		}
		var got [][]byte
		r.Due(0, func(pkt []byte) { got = append(got, slices.Clone(pkt)) })
		if wantN := map[bool]int{true: 1, false: 0}[tc.wantErr == nil]; len(got) != wantN || (wantN == 1 && !slices.Equal(got[0], tc.pkt)) {
			t.Errorf("NewReleaser(%d, %d): released %v, want %d copies of %v", tc.capacity, tc.maxPacket, got, wantN, tc.pkt)
		}
	}
}

func TestReleaserPushFromCallback(t *testing.T) {
	r := NewReleaser(2, 4)
	if err := r.Push([]byte{1}, 0); err != nil {
		t.Fatal(err)
	}
	var got []byte
	n := r.Due(0, func(pkt []byte) {
		got = append(got, pkt[0])
		if pkt[0] < 5 {
			if err := r.Push([]byte{pkt[0] + 1}, 0); err != nil {
				t.Errorf("Push from callback: %v", err)
			}
		}
	})
	if want := []byte{1, 2, 3, 4, 5}; n != len(want) || !slices.Equal(got, want) {
		t.Errorf("released %d: %v, want %v", n, got, want)
	}
}

// steadyReleaser returns a Releaser loaded as in a call with 100 ms of
// jitter, and a step function that sends and releases one 20 ms packet.
func steadyReleaser(tb testing.TB) func() {
	tb.Helper()
	r := NewReleaser(64, 172)
	rng := rand.New(rand.NewPCG(1, 2))
	pkt := make([]byte, 172)
	var now time.Duration
	deliver := func(p []byte) { pkt[0] ^= p[0] }
	step := func() {
		if err := r.Push(pkt, now+time.Duration(rng.Int64N(int64(100*time.Millisecond)))); err != nil {
			tb.Fatalf("Push: %v", err)
		}
		r.Due(now, deliver)
		now += 20 * time.Millisecond
	}
	for range 100 {
		step()
	}
	return step
}

func TestReleaserZeroAllocs(t *testing.T) {
	step := steadyReleaser(t)
	if allocs := testing.AllocsPerRun(10_000, step); allocs != 0 {
		t.Errorf("Push+Due allocates %v per packet, want 0", allocs)
	}
	r := NewReleaser(1, 1)
	_ = r.Push([]byte{1}, 0)
	if allocs := testing.AllocsPerRun(1000, func() { _ = r.Push([]byte{1}, 0) }); allocs != 0 {
		t.Errorf("Push into a full releaser allocates %v, want 0", allocs)
	}
}

func BenchmarkReleaserPushDue(b *testing.B) {
	step := steadyReleaser(b)
	b.ReportAllocs()
	for b.Loop() {
		step()
	}
}

func BenchmarkPathSend(b *testing.B) {
	loss, err := NewBernoulli(0.05, seeded(1))
	if err != nil {
		b.Fatal(err)
	}
	delay, err := NewUniformJitter(40*time.Millisecond, 60*time.Millisecond, seeded(2))
	if err != nil {
		b.Fatal(err)
	}
	p := Path{Loss: loss, Delay: delay}
	var now time.Duration
	b.ReportAllocs()
	for b.Loop() {
		p.Send(now)
		now += 20 * time.Millisecond
	}
}
