package audiotest

import (
	"math"
	"math/rand/v2"
	"testing"
)

// bursts makes a reference of tone bursts separated by digital silence.
func bursts(n int) []int16 {
	s := make([]int16, n)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range s {
		if (i/2000)%2 == 0 {
			s[i] = int16(3000*rng.NormFloat64()*math.Abs(math.Sin(float64(i)*0.0011)) + 1)
		}
	}
	return s
}

func TestCompare(t *testing.T) {
	ref := bursts(40000)
	rng := rand.New(rand.NewPCG(1, 2))
	tests := []struct {
		name       string
		make       func() []int16
		minSNR     float64
		maxSNR     float64
		minCover   float64
		wantLagMin int
	}{
		{"exact copy delayed 800", func() []int16 { return shift(ref, 800) }, 200, math.Inf(1), 0.99, 800},
		{"small noise", func() []int16 {
			g := shift(ref, 300)
			for i := range g {
				if g[i] != 0 {
					g[i] += int16(rng.IntN(21) - 10) // ±10 on ±8000: about 50 dB
				}
			}
			return g
		}, 45, 60, 0.99, 300},
		{"each burst moved differently", func() []int16 {
			g := make([]int16, len(ref)+1000)
			for i, v := range ref {
				j := i + 500 + (i/4000)%3*7 // bursts land 0, 7 or 14 samples apart
				if j < len(g) {
					g[j] = v
				}
			}
			return g
		}, 100, math.Inf(1), 0.99, 500},
		{"half the bursts missing", func() []int16 {
			g := shift(ref, 100)
			for i := range g {
				if (i/4000)%2 == 1 {
					g[i] = 0
				}
			}
			return g
		}, 100, math.Inf(1), 0.3, 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := Compare(ref, tt.make(), 2000, 40)
			if r.SNR < tt.minSNR || r.SNR > tt.maxSNR {
				t.Errorf("SNR %.1f dB, want in [%v, %v]", r.SNR, tt.minSNR, tt.maxSNR)
			}
			if r.Coverage < tt.minCover {
				t.Errorf("coverage %.3f, want >= %v", r.Coverage, tt.minCover)
			}
			if r.Lag < tt.wantLagMin || r.Lag > tt.wantLagMin+20 {
				t.Errorf("lag %d, want about %d", r.Lag, tt.wantLagMin)
			}
		})
	}
	// half missing must not count as covered
	r := Compare(ref, make([]int16, len(ref)), 100, 10)
	if r.Coverage != 0 || r.Segments != 0 {
		t.Errorf("silence: coverage %v segments %d, want 0, 0", r.Coverage, r.Segments)
	}
}

func shift(s []int16, by int) []int16 {
	g := make([]int16, len(s)+by)
	copy(g[by:], s)
	return g
}

func TestToneShare(t *testing.T) {
	tone := func(hz float64, n int) []int16 {
		s := make([]int16, n)
		for i := range s {
			s[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/8000))
		}
		return s
	}
	noise := make([]int16, 8000)
	for i := range noise {
		noise[i] = int16((i*7919)%2001 - 1000)
	}
	tests := []struct {
		name   string
		pcm    []int16
		lo, hi float64
	}{
		{"the tone", tone(440, 8000), 0.95, 1.05},
		{"another tone", tone(700, 8000), 0, 0.01},
		{"silence", make([]int16, 800), 0, 0},
		{"noise", noise, 0, 0.01},
	}
	for _, tt := range tests {
		if got := ToneShare(tt.pcm, 440, 8000); got < tt.lo || got > tt.hi {
			t.Errorf("%s: share %.4f, want [%g, %g]", tt.name, got, tt.lo, tt.hi)
		}
	}
}
