package impair

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func seeded(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x5eed)) }

func TestBernoulliLossRate(t *testing.T) {
	const draws = 100_000
	for _, p := range []float64{0, 0.001, 0.01, 0.05, 0.2, 0.5, 0.9, 1} {
		b, err := NewBernoulli(p, seeded(uint64(p*1000)+1))
		if err != nil {
			t.Fatalf("NewBernoulli(%v): %v", p, err)
		}
		lost := 0
		for range draws {
			if b.Lost() {
				lost++
			}
		}
		mean := draws * p
		sigma := math.Sqrt(draws * p * (1 - p))
		if math.Abs(float64(lost)-mean) > 4*sigma {
			t.Errorf("p=%v: lost %d of %d, want %.0f ± %.1f (4σ)", p, lost, draws, mean, 4*sigma)
		}
	}
}

// A Bernoulli loss is memoryless: the loss rate right after a loss is p too.
// (Bursty models added later must fail this check.)
func TestBernoulliIndependent(t *testing.T) {
	const draws, p = 100_000, 0.3
	b, err := NewBernoulli(p, seeded(7))
	if err != nil {
		t.Fatal(err)
	}
	afterLoss, lostAfterLoss := 0, 0
	prev := false
	for range draws {
		lost := b.Lost()
		if prev {
			afterLoss++
			if lost {
				lostAfterLoss++
			}
		}
		prev = lost
	}
	n := float64(afterLoss)
	sigma := math.Sqrt(n * p * (1 - p))
	if math.Abs(float64(lostAfterLoss)-n*p) > 4*sigma {
		t.Errorf("P(loss | previous lost) = %.4f over %d, want %v ± %.4f", float64(lostAfterLoss)/n, afterLoss, p, 4*sigma/n)
	}
}

func TestModelsDeterministic(t *testing.T) {
	newPair := func(seed uint64) (*Bernoulli, *UniformJitter) {
		b, err := NewBernoulli(0.1, seeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		u, err := NewUniformJitter(10*time.Millisecond, 40*time.Millisecond, seeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		return b, u
	}
	b1, u1 := newPair(42)
	b2, u2 := newPair(42)
	b3, u3 := newPair(43)
	lossDiffers, delayDiffers := false, false
	for i := range 10_000 {
		l1, l2, l3 := b1.Lost(), b2.Lost(), b3.Lost()
		d1, d2, d3 := u1.Delay(), u2.Delay(), u3.Delay()
		if l1 != l2 || d1 != d2 {
			t.Fatalf("packet %d: same seed gave loss %v/%v, delay %v/%v", i, l1, l2, d1, d2)
		}
		lossDiffers = lossDiffers || l1 != l3
		delayDiffers = delayDiffers || d1 != d3
	}
	if !lossDiffers || !delayDiffers {
		t.Errorf("different seeds gave identical sequences (loss differs %v, delay differs %v)", lossDiffers, delayDiffers)
	}
}

func TestUniformJitterBoundsAndMean(t *testing.T) {
	const draws = 100_000
	tests := []struct{ base, jitter time.Duration }{
		{0, 0},
		{50 * time.Millisecond, 0},
		{0, time.Nanosecond},
		{0, 30 * time.Millisecond},
		{40 * time.Millisecond, 60 * time.Millisecond},
		{time.Second, 3 * time.Millisecond},
	}
	for _, tc := range tests {
		u, err := NewUniformJitter(tc.base, tc.jitter, seeded(uint64(tc.jitter)))
		if err != nil {
			t.Fatalf("NewUniformJitter(%v, %v): %v", tc.base, tc.jitter, err)
		}
		var sum float64
		lo, hi := time.Duration(math.MaxInt64), time.Duration(math.MinInt64)
		for range draws {
			d := u.Delay()
			lo, hi = min(lo, d), max(hi, d)
			sum += float64(d)
		}
		if lo < tc.base || (tc.jitter > 0 && hi >= tc.base+tc.jitter) || (tc.jitter == 0 && hi != tc.base) {
			t.Errorf("base %v jitter %v: delays span [%v, %v], want [base, base+jitter)", tc.base, tc.jitter, lo, hi)
		}
		// Uniform on the integers 0..J-1: mean (J-1)/2, variance (J²-1)/12.
		j := float64(tc.jitter)
		wantMean := float64(tc.base) + max(j-1, 0)/2
		sigmaMean := math.Sqrt(max(j*j-1, 0)/12) / math.Sqrt(draws)
		if got := sum / draws; math.Abs(got-wantMean) > 4*sigmaMean+1e-9*wantMean {
			t.Errorf("base %v jitter %v: mean %.1f ns, want %.1f ± %.1f", tc.base, tc.jitter, got, wantMean, 4*sigmaMean)
		}
	}
}

func TestModelConstructorsReject(t *testing.T) {
	rng := seeded(1)
	tests := []struct {
		name string
		err  func() error
	}{
		{"loss below 0", func() error { _, err := NewBernoulli(-0.01, rng); return err }},
		{"loss above 1", func() error { _, err := NewBernoulli(1.01, rng); return err }},
		{"loss NaN", func() error { _, err := NewBernoulli(math.NaN(), rng); return err }},
		{"loss +Inf", func() error { _, err := NewBernoulli(math.Inf(1), rng); return err }},
		{"loss nil rng", func() error { _, err := NewBernoulli(0.5, nil); return err }},
		{"negative base", func() error { _, err := NewUniformJitter(-time.Millisecond, 0, rng); return err }},
		{"negative jitter", func() error { _, err := NewUniformJitter(0, -time.Millisecond, rng); return err }},
		{"overflowing delay", func() error { _, err := NewUniformJitter(math.MaxInt64-5, 10, rng); return err }},
		{"jitter nil rng", func() error { _, err := NewUniformJitter(0, time.Millisecond, nil); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil {
				t.Fatal("got nil error")
			}
			t.Log(err)
		})
	}
}

// scriptedLoss and scriptedDelay replay fixed decisions and count calls.
type scriptedLoss struct {
	lost  []bool
	calls int
}

func (s *scriptedLoss) Lost() bool { v := s.lost[s.calls%len(s.lost)]; s.calls++; return v }

type scriptedDelay struct {
	delays []time.Duration
	calls  int
}

func (s *scriptedDelay) Delay() time.Duration {
	v := s.delays[s.calls%len(s.delays)]
	s.calls++
	return v
}

func TestPathSend(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name    string
		loss    []bool          // nil: no loss model
		delays  []time.Duration // nil: no delay model
		wantAt  []time.Duration // for packets sent at 0, 20, 40, 60 ms
		wantOK  []bool
		wantDel int // delay-model calls expected
	}{
		{"perfect", nil, nil, []time.Duration{0, 20 * ms, 40 * ms, 60 * ms}, []bool{true, true, true, true}, 0},
		{"loss only", []bool{false, true}, nil, []time.Duration{0, 0, 40 * ms, 0}, []bool{true, false, true, false}, 0},
		{"delay only", nil, []time.Duration{5 * ms, 50 * ms}, []time.Duration{5 * ms, 70 * ms, 45 * ms, 110 * ms}, []bool{true, true, true, true}, 4},
		{"negative delay clamped", nil, []time.Duration{-ms}, []time.Duration{0, 20 * ms, 40 * ms, 60 * ms}, []bool{true, true, true, true}, 4},
		// The delay of a lost packet is drawn and discarded: packet 2 gets the third delay.
		{"loss and delay", []bool{false, true}, []time.Duration{ms, 2 * ms, 3 * ms, 4 * ms}, []time.Duration{ms, 0, 43 * ms, 0}, []bool{true, false, true, false}, 4},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var p Path
			var sd *scriptedDelay
			if tc.loss != nil {
				p.Loss = &scriptedLoss{lost: tc.loss}
			}
			if tc.delays != nil {
				sd = &scriptedDelay{delays: tc.delays}
				p.Delay = sd
			}
			for i := range tc.wantAt {
				at, ok := p.Send(time.Duration(i) * 20 * ms)
				if at != tc.wantAt[i] || ok != tc.wantOK[i] {
					t.Errorf("packet %d: Send = %v, %v; want %v, %v", i, at, ok, tc.wantAt[i], tc.wantOK[i])
				}
			}
			if sd != nil && sd.calls != tc.wantDel {
				t.Errorf("delay model called %d times, want %d", sd.calls, tc.wantDel)
			}
		})
	}
}

func TestPathWithModelsZeroAllocs(t *testing.T) {
	b, err := NewBernoulli(0.1, seeded(3))
	if err != nil {
		t.Fatal(err)
	}
	u, err := NewUniformJitter(20*time.Millisecond, 40*time.Millisecond, seeded(4))
	if err != nil {
		t.Fatal(err)
	}
	p := Path{Loss: b, Delay: u}
	var now time.Duration
	if allocs := testing.AllocsPerRun(1000, func() {
		p.Send(now)
		now += 20 * time.Millisecond
	}); allocs != 0 {
		t.Errorf("Path.Send allocates %v per packet, want 0", allocs)
	}
}
