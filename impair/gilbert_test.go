package impair

import (
	"math"
	"testing"
)

// lossStats measures a loss model over n packets: the share lost, the mean
// length of runs of consecutive losses, and the standard error of each. The
// loss rate's standard error comes from 100 batch means, which allows for
// the correlation between neighbouring packets in bursty models.
type lossStats struct {
	rate, rateErr   float64
	burst, burstErr float64
	runs            int
}

func measureLoss(model LossModel, n int) lossStats {
	const batches = 100
	batchSize := n / batches
	var batchRates [batches]float64
	var lostTotal, run, runs int
	var runSum, runSquares float64
	endRun := func() {
		if run > 0 {
			runs++
			runSum += float64(run)
			runSquares += float64(run) * float64(run)
			run = 0
		}
	}
	for b := range batches {
		lost := 0
		for range batchSize {
			if model.Lost() {
				lost++
				run++
			} else {
				endRun()
			}
		}
		batchRates[b] = float64(lost) / float64(batchSize)
		lostTotal += lost
	}
	endRun()
	var s lossStats
	s.rate = float64(lostTotal) / float64(batches*batchSize)
	var dev float64
	for _, r := range batchRates {
		dev += (r - s.rate) * (r - s.rate)
	}
	s.rateErr = math.Sqrt(dev/(batches-1)) / math.Sqrt(batches)
	s.runs = runs
	if runs > 0 {
		s.burst = runSum / float64(runs)
		variance := runSquares/float64(runs) - s.burst*s.burst
		s.burstErr = math.Sqrt(max(variance, 0) / float64(runs))
	}
	return s
}

type analyticLoss interface {
	LossModel
	MeanLoss() float64
	MeanBurst() float64
}

// Over 10⁶ packets the measured loss rate and mean burst length must be
// within 5 standard errors (plus 10⁻⁹ for exact cases) of the analytic values.
func TestLossModelsMatchAnalyticMeans(t *testing.T) {
	const packets = 1_000_000
	newGE := func(p, r, good, bad float64) func(uint64) analyticLoss {
		return func(seed uint64) analyticLoss {
			g, err := NewGilbertElliott(p, r, good, bad, seeded(seed))
			if err != nil {
				t.Fatal(err)
			}
			return g
		}
	}
	newBernoulli := func(p float64) func(uint64) analyticLoss {
		return func(seed uint64) analyticLoss {
			b, err := NewBernoulli(p, seeded(seed))
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
	}
	tests := []struct {
		name      string
		model     func(seed uint64) analyticLoss
		wantLoss  float64 // by hand from the formulas in the doc comments
		wantBurst float64
	}{
		{"bernoulli 1%", newBernoulli(0.01), 0.01, 1 / 0.99},
		{"bernoulli 20%", newBernoulli(0.2), 0.2, 1.25},
		{"gilbert p=0.01 r=0.3", newGE(0.01, 0.3, 0, 1), 0.01 / 0.31, 1 / 0.3},
		{"gilbert p=0.01 r=0.25", newGE(0.01, 0.25, 0, 1), 0.01 / 0.26, 4},
		{"gilbert p=0.05 r=0.5", newGE(0.05, 0.5, 0, 1), 0.05 / 0.55, 2},
		// lossGood 0, lossBad h: πB·h and 1/(1 − h(1−r)).
		{"elliott h=0.5", newGE(0.02, 0.1, 0, 0.5), 0.02 / 0.12 * 0.5, 1 / (1 - 0.5*0.9)},
		// Both states lose: πG = 0.1/0.11, πB = 0.01/0.11; see MeanBurst for P(L,L).
		{"elliott both lossy", newGE(0.01, 0.1, 0.002, 0.7),
			(0.1*0.002 + 0.01*0.7) / 0.11,
			((0.1*0.002 + 0.01*0.7) / 0.11) / ((0.1*0.002+0.01*0.7)/0.11 -
				(0.1/0.11*0.002*(0.99*0.002+0.01*0.7) + 0.01/0.11*0.7*(0.1*0.002+0.9*0.7)))},
		{"gilbert never bad", newGE(0, 0.5, 0, 1), 0, 0},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			model := tc.model(uint64(100 + i))
			if got := model.MeanLoss(); math.Abs(got-tc.wantLoss) > 1e-12 {
				t.Errorf("MeanLoss() = %v, want %v", got, tc.wantLoss)
			}
			if got := model.MeanBurst(); math.Abs(got-tc.wantBurst) > 1e-9 {
				t.Errorf("MeanBurst() = %v, want %v", got, tc.wantBurst)
			}
			s := measureLoss(model, packets)
			if math.Abs(s.rate-tc.wantLoss) > 5*s.rateErr+1e-9 {
				t.Errorf("measured loss %.5f ± %.5f, want %.5f", s.rate, s.rateErr, tc.wantLoss)
			}
			if math.Abs(s.burst-tc.wantBurst) > 5*s.burstErr+1e-9 {
				t.Errorf("measured mean burst %.4f ± %.4f over %d runs, want %.4f", s.burst, s.burstErr, s.runs, tc.wantBurst)
			}
			t.Logf("loss %.5f (want %.5f ± %.5f), burst %.4f (want %.4f ± %.4f, %d runs)",
				s.rate, tc.wantLoss, 5*s.rateErr, s.burst, tc.wantBurst, 5*s.burstErr, s.runs)
		})
	}
}

// A Gilbert model's losses depend on the previous packet, unlike Bernoulli's:
// P(loss | previous lost) = 1 − r, far above the mean loss.
func TestGilbertIsBursty(t *testing.T) {
	const p, r, packets = 0.01, 0.3, 200_000
	g, err := NewGilbertElliott(p, r, 0, 1, seeded(9))
	if err != nil {
		t.Fatal(err)
	}
	afterLoss, lostAfterLoss := 0, 0
	prev := false
	for range packets {
		lost := g.Lost()
		if prev {
			afterLoss++
			if lost {
				lostAfterLoss++
			}
		}
		prev = lost
	}
	got := float64(lostAfterLoss) / float64(afterLoss)
	sigma := math.Sqrt((1 - r) * r / float64(afterLoss))
	if math.Abs(got-(1-r)) > 5*sigma {
		t.Errorf("P(loss | previous lost) = %.4f over %d, want %.2f ± %.4f", got, afterLoss, 1-r, 5*sigma)
	}
}

func TestGilbertAnalyticEdgeCases(t *testing.T) {
	tests := []struct {
		name                    string
		p, r, good, bad         float64
		wantLoss, wantBurstLoss float64
	}{
		{"stuck in good, lossless", 0, 0, 0, 1, 0, 0},
		{"stuck in good, lossy", 0, 0, 0.5, 1, 0.5, 2},
		{"bad forever", 1, 0, 0, 1, 1, math.Inf(1)},
		{"all lost", 0.3, 0.4, 1, 1, 1, math.Inf(1)},
		{"alternating states", 1, 1, 0, 1, 0.5, 1},
		{"no loss anywhere", 0.2, 0.2, 0, 0, 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			g, err := NewGilbertElliott(tc.p, tc.r, tc.good, tc.bad, seeded(1))
			if err != nil {
				t.Fatal(err)
			}
			if got := g.MeanLoss(); math.Abs(got-tc.wantLoss) > 1e-12 {
				t.Errorf("MeanLoss() = %v, want %v", got, tc.wantLoss)
			}
			if got := g.MeanBurst(); got != tc.wantBurstLoss && math.Abs(got-tc.wantBurstLoss) > 1e-9 {
				t.Errorf("MeanBurst() = %v, want %v", got, tc.wantBurstLoss)
			}
		})
	}
	for _, tc := range []struct {
		p         float64
		wantBurst float64
	}{{0, 0}, {0.5, 2}, {1, math.Inf(1)}} {
		b, err := NewBernoulli(tc.p, seeded(1))
		if err != nil {
			t.Fatal(err)
		}
		if got := b.MeanBurst(); got != tc.wantBurst {
			t.Errorf("Bernoulli(%v).MeanBurst() = %v, want %v", tc.p, got, tc.wantBurst)
		}
	}
}

// Two draws per packet whatever the state, so a fixed seed gives a fixed
// pattern, and a different seed a different one.
func TestGilbertDeterministic(t *testing.T) {
	pattern := func(seed uint64) []bool {
		g, err := NewGilbertElliott(0.05, 0.3, 0.01, 0.9, seeded(seed))
		if err != nil {
			t.Fatal(err)
		}
		out := make([]bool, 5000)
		for i := range out {
			out[i] = g.Lost()
		}
		return out
	}
	a, b, c := pattern(5), pattern(5), pattern(6)
	differs := false
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("packet %d: same seed gave %v and %v", i, a[i], b[i])
		}
		differs = differs || a[i] != c[i]
	}
	if !differs {
		t.Error("seeds 5 and 6 gave the same pattern")
	}
}

func TestGilbertRejects(t *testing.T) {
	tests := []struct {
		name            string
		p, r, good, bad float64
		nilRand         bool
	}{
		{"p negative", -0.1, 0.5, 0, 1, false},
		{"r above 1", 0.1, 1.5, 0, 1, false},
		{"lossGood NaN", 0.1, 0.5, math.NaN(), 1, false},
		{"lossBad Inf", 0.1, 0.5, 0, math.Inf(1), false},
		{"nil rng", 0.1, 0.5, 0, 1, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rng := seeded(1)
			if tc.nilRand {
				rng = nil
			}
			if _, err := NewGilbertElliott(tc.p, tc.r, tc.good, tc.bad, rng); err == nil {
				t.Error("got nil error")
			} else {
				t.Log(err)
			}
		})
	}
}
