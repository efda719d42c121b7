package jitter

import (
	"testing"
	"time"
)

func TestNewSpikeRejects(t *testing.T) {
	def := DefaultSpikeConfig()
	tests := []struct {
		name string
		edit func(*SpikeConfig)
	}{
		{"negative K", func(c *SpikeConfig) { c.K = -1 }},
		{"alpha 1", func(c *SpikeConfig) { c.Alpha = 1 }},
		{"beta 0", func(c *SpikeConfig) { c.Beta = 0 }},
		{"no spike start", func(c *SpikeConfig) { c.SpikeStart = 0 }},
		{"negative spike end", func(c *SpikeConfig) { c.SpikeEnd = -time.Millisecond }},
	}
	for _, tt := range tests {
		cfg := def
		tt.edit(&cfg)
		if _, err := NewSpike(cfg); err == nil {
			t.Errorf("%s: NewSpike accepted %+v", tt.name, cfg)
		}
	}
	if _, err := NewSpike(def); err != nil {
		t.Fatalf("default config: %v", err)
	}
}

// spikeTrace returns transits: flat at base with a small alternating wobble,
// then a spike of height at packet start that drains back to back (transit
// falling by one packet interval per packet), then flat again.
func spikeTrace(base, height time.Duration, start, total int) []time.Duration {
	out := make([]time.Duration, total)
	extra := time.Duration(0)
	for i := range out {
		if i == start {
			extra = height
		}
		wobble := time.Duration(i%2) * time.Millisecond
		out[i] = base + extra + wobble
		extra = max(extra-20*time.Millisecond, 0)
	}
	return out
}

func TestSpikeDetectsAndEndsSpike(t *testing.T) {
	s, err := NewSpike(DefaultSpikeConfig())
	if err != nil {
		t.Fatal(err)
	}
	e, err := NewEWMA(DefaultEWMAConfig())
	if err != nil {
		t.Fatal(err)
	}
	const start = 200
	transits := spikeTrace(50*time.Millisecond, 300*time.Millisecond, start, 400)
	for i, n := range transits {
		media := time.Duration(i) * 20 * time.Millisecond
		s.Observe(media, media+n)
		e.Observe(media, media+n)
		in, _ := s.InSpike()
		switch {
		case i < start && in:
			t.Fatalf("packet %d: spike mode before the spike", i)
		case i == start:
			if !in {
				t.Fatalf("packet %d: the 300 ms jump did not start spike mode", i)
			}
			// In spike mode d follows the transit: a spurt starting now
			// plays after the spiked packet arrives; the slow EWMA does not.
			if got := s.SpurtOffset(); got < n {
				t.Errorf("spike offset %v at the spike, below its transit %v", got, n)
			}
			if got := e.SpurtOffset(); got >= n {
				t.Errorf("ewma offset %v at the spike unexpectedly covers it (%v)", got, n)
			}
		case i > start+30 && in:
			t.Fatalf("packet %d: still in spike mode long after the drain", i)
		}
	}
	if _, spikes := s.InSpike(); spikes != 1 {
		t.Errorf("detected %d spikes, want 1", spikes)
	}
	d, _ := s.Estimates()
	if d < 45*time.Millisecond || d > 56*time.Millisecond {
		t.Errorf("delay estimate %v after the spike, want back near 50 ms", d)
	}
}

func TestSpikeAllocatesNothing(t *testing.T) {
	s, err := NewSpike(DefaultSpikeConfig())
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	allocs := testing.AllocsPerRun(1000, func() {
		media := time.Duration(i) * 20 * time.Millisecond
		s.Observe(media, media+time.Duration(i%7)*time.Millisecond)
		_ = s.SpurtOffset()
		i++
	})
	if allocs != 0 {
		t.Errorf("Observe+SpurtOffset allocate %v times", allocs)
	}
}

func BenchmarkSpikeObserve(b *testing.B) {
	s, err := NewSpike(DefaultSpikeConfig())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		media := time.Duration(i) * 20 * time.Millisecond
		s.Observe(media, media+time.Duration(i%7)*time.Millisecond)
	}
}
