package jitter

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

func TestNewQuantileRejects(t *testing.T) {
	def := DefaultQuantileConfig()
	tests := []struct {
		name string
		edit func(*QuantileConfig)
	}{
		{"quantile 1", func(c *QuantileConfig) { c.Quantile = 1 }},
		{"quantile NaN", func(c *QuantileConfig) { c.Quantile = math.NaN() }},
		{"forget 0", func(c *QuantileConfig) { c.Forget = 0 }},
		{"zero bin", func(c *QuantileConfig) { c.BinWidth = 0 }},
		{"range below a bin", func(c *QuantileConfig) { c.MaxDelay = c.BinWidth / 2 }},
		{"too many bins", func(c *QuantileConfig) { c.BinWidth = time.Microsecond; c.MaxDelay = time.Second }},
		{"no window", func(c *QuantileConfig) { c.Window = 0 }},
	}
	for _, tt := range tests {
		cfg := def
		tt.edit(&cfg)
		if _, err := NewQuantile(cfg); err == nil {
			t.Errorf("%s: NewQuantile accepted %+v", tt.name, cfg)
		}
	}
}

func TestQuantileTracksDistribution(t *testing.T) {
	// Transit = 40 ms + a draw; the target above the baseline (about 40 ms,
	// the fastest draw) should be the distribution's quantile.
	tests := []struct {
		name     string
		q        float64
		draw     func(*rand.Rand) float64 // ms
		want, to float64                  // ms
	}{
		{"uniform 0-100 ms, p95", 0.95, func(r *rand.Rand) float64 { return 100 * r.Float64() }, 95, 3},
		{"uniform 0-100 ms, p50", 0.5, func(r *rand.Rand) float64 { return 100 * r.Float64() }, 50, 4},
		{"exponential 10 ms, p95", 0.95, func(r *rand.Rand) float64 { return 10 * r.ExpFloat64() }, 10 * math.Log(20), 3},
	}
	for _, tt := range tests {
		cfg := DefaultQuantileConfig()
		cfg.Quantile = tt.q
		cfg.Window = time.Hour // a fixed baseline isolates the histogram
		s, err := NewQuantile(cfg)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(1, 2))
		for i := range 20000 {
			media := time.Duration(i) * 20 * time.Millisecond
			s.Observe(media, media+40*time.Millisecond+time.Duration(tt.draw(rng)*1e6))
		}
		got := float64(s.Target()) / 1e6
		if math.Abs(got-tt.want) > tt.to {
			t.Errorf("%s: target %.1f ms, want %.1f ± %.0f", tt.name, got, tt.want, tt.to)
		}
		if off := s.SpurtOffset(); off < 40*time.Millisecond+s.Target() || off > 41*time.Millisecond+s.Target() {
			t.Errorf("%s: offset %v is not the ~40 ms baseline plus the target %v", tt.name, off, s.Target())
		}
	}
}

func TestQuantileForgetsAndRenormalises(t *testing.T) {
	cfg := DefaultQuantileConfig()
	cfg.Forget = 0.9 // memory of ~10 packets: weights pass 1e100 within ~2200 packets
	s, err := NewQuantile(cfg)
	if err != nil {
		t.Fatal(err)
	}
	observe := func(from, n int, jitter time.Duration) {
		for i := from; i < from+n; i++ {
			media := time.Duration(i) * 20 * time.Millisecond
			s.Observe(media, media+time.Duration(i%2)*jitter)
		}
	}
	observe(0, 5000, 80*time.Millisecond)
	if got := s.Target(); got < 80*time.Millisecond {
		t.Fatalf("target %v under 80 ms jitter, want at least 80 ms", got)
	}
	observe(5000, 100, 0)
	if got := s.Target(); got > time.Millisecond {
		t.Errorf("target %v after 100 jitter-free packets with a 10-packet memory, want 1 ms", got)
	}
}

func TestQuantileAllocatesNothing(t *testing.T) {
	s, err := NewQuantile(DefaultQuantileConfig())
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		media := time.Duration(i) * 20 * time.Millisecond
		s.Observe(media, media+time.Duration(i%13)*time.Millisecond)
		_ = s.SpurtOffset()
		i++
	})
	if allocs != 0 {
		t.Errorf("Observe+SpurtOffset allocate %v times", allocs)
	}
}

func BenchmarkQuantileObserve(b *testing.B) {
	s, err := NewQuantile(DefaultQuantileConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		media := time.Duration(i) * 20 * time.Millisecond
		s.Observe(media, media+time.Duration(i%13)*time.Millisecond)
	}
}
