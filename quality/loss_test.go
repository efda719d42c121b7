package quality

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/spurtvoip/spurt/impair"
)

// pattern turns "..xx.x" into loss flags: x lost, . received.
func pattern(s string) []bool {
	out := make([]bool, len(s))
	for i := range s {
		out[i] = s[i] == 'x'
	}
	return out
}

// Worked by hand: BurstR = (lost/runs)·(1 − lost/packets).
func TestLossPattern(t *testing.T) {
	tests := []struct {
		pattern                    string
		wantRate, wantBurst, wantR float64
	}{
		{"", 0, 0, 1},
		{"........", 0, 0, 1},
		{"xxxx", 1, 4, 1}, // all lost: nothing to say about bursts
		{"x.......", 1.0 / 8, 1, 7.0 / 8},
		{"..xx..x.", 3.0 / 8, 1.5, 1.5 * 5 / 8},
		{"x.x.x.x.x.", 0.5, 1, 0.5}, // spread out: below random
		{"xxxxx.....", 0.5, 5, 2.5},
		{".........x", 0.1, 1, 0.9}, // a run still going at the end counts
		{"....xxxx" + strings.Repeat(".", 92), 0.04, 4, 3.84},
	}
	for _, tc := range tests {
		var lp LossPattern
		for _, lost := range pattern(tc.pattern) {
			lp.Add(lost)
		}
		if lp.Packets() != uint64(len(tc.pattern)) || lp.Losses() != uint64(strings.Count(tc.pattern, "x")) {
			t.Errorf("%q: %d packets, %d lost", tc.pattern, lp.Packets(), lp.Losses())
		}
		if !near(lp.LossRate(), tc.wantRate, 1e-12) || !near(lp.MeanBurst(), tc.wantBurst, 1e-12) || !near(lp.BurstR(), tc.wantR, 1e-12) {
			t.Errorf("%q: rate %v, mean burst %v, BurstR %v; want %v, %v, %v",
				tc.pattern, lp.LossRate(), lp.MeanBurst(), lp.BurstR(), tc.wantRate, tc.wantBurst, tc.wantR)
		}
		if got := burstRFromPattern(pattern(tc.pattern)); got != lp.BurstR() {
			t.Errorf("%q: burstRFromPattern = %v, LossPattern.BurstR = %v", tc.pattern, got, lp.BurstR())
		}
	}
}

// transitionBurstR is G.107's 1/(p + r) with p and r estimated from the
// pattern's transitions, for comparison.
func transitionBurstR(lost []bool) float64 {
	var n [2][2]float64 // n[from][to], 1 = lost
	for i := 1; i < len(lost); i++ {
		from, to := 0, 0
		if lost[i-1] {
			from = 1
		}
		if lost[i] {
			to = 1
		}
		n[from][to]++
	}
	p := n[0][1] / (n[0][0] + n[0][1])
	r := n[1][0] / (n[1][0] + n[1][1])
	return 1 / (p + r)
}

// Over long patterns from impair's loss models, BurstR approaches 1 for
// independent loss and 1/(p + r) for a Gilbert–Elliott chain, agreeing with
// the transition-count estimate of 1/(p + r).
func TestBurstRFromModels(t *testing.T) {
	const packets = 1_000_000
	rng := func(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }
	bernoulli, err := impair.NewBernoulli(0.05, rng(1))
	if err != nil {
		t.Fatal(err)
	}
	gilbert, err := impair.NewGilbertElliott(0.01, 0.25, 0, 1, rng(2))
	if err != nil {
		t.Fatal(err)
	}
	gilbert2, err := impair.NewGilbertElliott(0.05, 0.5, 0, 1, rng(3))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		model impair.LossModel
		want  float64
		tol   float64 // relative; about 5 standard errors at 10⁶ packets
	}{
		{"bernoulli 5%", bernoulli, 1, 0.01},
		{"gilbert p=0.01 r=0.25", gilbert, 1 / 0.26, 0.05},
		{"gilbert p=0.05 r=0.5", gilbert2, 1 / 0.55, 0.02},
	}
	for _, tc := range tests {
		lost := make([]bool, packets)
		for i := range lost {
			lost[i] = tc.model.Lost()
		}
		got := burstRFromPattern(lost)
		if math.Abs(got-tc.want) > tc.tol*tc.want {
			t.Errorf("%s: BurstR %.4f, want %.4f ± %.0f%%", tc.name, got, tc.want, 100*tc.tol)
		}
		if other := transitionBurstR(lost); math.Abs(got-other) > 0.01*other {
			t.Errorf("%s: BurstR %.4f, but 1/(p+r) from transitions %.4f", tc.name, got, other)
		}
		t.Logf("%s: BurstR %.4f (model %.4f, transitions %.4f)", tc.name, got, tc.want, transitionBurstR(lost))
	}
}

func TestLossPatternAddZeroAllocs(t *testing.T) {
	var lp LossPattern
	i := 0
	if allocs := testing.AllocsPerRun(10_000, func() {
		lp.Add(i%7 == 0)
		i++
	}); allocs != 0 {
		t.Errorf("Add allocates %v per packet, want 0", allocs)
	}
}

func BenchmarkLossPatternAdd(b *testing.B) {
	var lp LossPattern
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		lp.Add(i%7 == 0)
		i++
	}
}

func BenchmarkR(b *testing.B) {
	in := Input{Codec: CodecG711PLC, MouthToEar: 180e6, PacketLoss: 0.02, BurstR: 1.5}
	b.ReportAllocs()
	for b.Loop() {
		_ = MOS(R(in))
	}
}

// burstRFromPattern returns the burst ratio of a loss pattern given as one
// flag per packet in sequence order, true for lost; see LossPattern.BurstR.
func burstRFromPattern(lost []bool) float64 {
	var lp LossPattern
	for _, l := range lost {
		lp.Add(l)
	}
	return lp.BurstR()
}
