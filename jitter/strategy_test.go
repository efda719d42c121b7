package jitter

import (
	"math"
	"strings"
	"testing"
	"time"
)

// msf converts milliseconds, possibly fractional, to nanoseconds.
func msf(x float64) float64 { return x * float64(time.Millisecond) }

// TestEWMARecurrence checks d, v and the offset after each packet against
// values worked out by hand from the recurrences (comments show the working;
// transits in ms). Media time is zero throughout, so transit = arrival.
func TestEWMARecurrence(t *testing.T) {
	type step struct {
		transit float64 // ms
		d, v    float64 // ms, after the packet
	}
	tests := []struct {
		name  string
		cfg   EWMAConfig
		steps []step
	}{
		{
			// Cold start: d1 = n1, v1 = 0, then weights 1-alpha = .25 and
			// 1-beta = .5 on the new sample. Alpha != beta catches a swap.
			name: "cold start, alpha .75, beta .5",
			cfg:  EWMAConfig{K: 2, Alpha: 0.75, Beta: 0.5, InitialDeviation: 10 * time.Millisecond},
			steps: []step{
				{100, 100, 0},
				{120, 105, 7.5},          // d = .75*100 + .25*120; v = .5*0 + .5*|120-105|
				{90, 101.25, 9.375},      // d = .75*105 + .25*90;  v = .5*7.5 + .5*|90-101.25|
				{101.25, 101.25, 4.6875}, // d unchanged; v = .5*9.375 + .5*0
			},
		},
		{
			// Warm-up of 4 with the paper's alpha: running averages, v
			// starting at 10 ms in place of the first deviation.
			name: "warm-up 4, paper's alpha",
			cfg:  EWMAConfig{K: 4, Alpha: 0.998002, Beta: 0.998002, InitialDeviation: 10 * time.Millisecond, WarmupPackets: 4},
			steps: []step{
				{100, 100, 10},
				{120, 110, 10},                      // d = (100+120)/2; v = (10 + |120-110|)/2
				{90, 310.0 / 3, 100.0 / 9},          // d = 110 + (90-110)/3; v = 10 + (40/3 - 10)/3
				{110, 105, 115.0 / 12},              // d = 310/3 + (110-310/3)/4; v = 100/9*3/4 + 5/4
				{130, 105.04995, 9.614036033233333}, // d = 105 + .001998*25; v = 115/12 + .001998*(24.95005 - 115/12)
			},
		},
		{
			// Warm-up weights are max(1/n, 1-alpha) and max(1/n, 1-beta):
			// with 1-alpha = .4 and 1-beta = .3, 1/n stops mattering for d at
			// n = 3 and for v at n = 4, before the warm-up of 5 is over.
			name: "warm-up floor, alpha .6, beta .7",
			cfg:  EWMAConfig{K: 1, Alpha: 0.6, Beta: 0.7, InitialDeviation: 5 * time.Millisecond, WarmupPackets: 5},
			steps: []step{
				{0, 0, 5},
				{10, 5, 5},             // w = 1/2 both: d = 5; v = 5 + (5-5)/2
				{40, 19, 31.0 / 3},     // wd = .4: d = 5 + .4*35; wv = 1/3: v = 5 + (21-5)/3
				{20, 19.4, 7.41333333}, // wd = .4: d = 19 + .4*1; wv = .3: v = 31/3 + .3*(.6 - 31/3)
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEWMA(tc.cfg)
			if err != nil {
				t.Fatal(err)
			}
			for i, st := range tc.steps {
				e.Observe(0, time.Duration(msf(st.transit)))
				d, v := e.Estimates()
				const tol = 2 // ns: rounding only
				if math.Abs(float64(d)-msf(st.d)) > tol || math.Abs(float64(v)-msf(st.v)) > tol {
					t.Fatalf("after packet %d: d, v = %v, %v; want %.6fms, %.6fms", i+1, d, v, st.d, st.v)
				}
				want := msf(st.d + tc.cfg.K*st.v)
				if got := e.SpurtOffset(); math.Abs(float64(got)-want) > 3*tc.cfg.K+tol {
					t.Fatalf("after packet %d: offset %v, want %.6fms", i+1, got, want/1e6)
				}
			}
		})
	}
}

// TestEWMAClockOffset checks that d absorbs any offset between the clocks:
// transit is all that matters, not media time or arrival on their own.
func TestEWMAClockOffset(t *testing.T) {
	a, _ := NewEWMA(DefaultEWMAConfig())
	b, _ := NewEWMA(DefaultEWMAConfig())
	skew := 7*time.Hour + 3*time.Millisecond
	for i, transit := range []time.Duration{40, 55, 38, 70, 41} {
		media := time.Duration(i) * 20 * time.Millisecond
		a.Observe(media, media+transit*time.Millisecond)
		b.Observe(media+skew, media+skew+transit*time.Millisecond)
	}
	da, va := a.Estimates()
	db, vb := b.Estimates()
	if da != db || va != vb {
		t.Fatalf("estimates depend on the clock offset: (%v, %v) vs (%v, %v)", da, va, db, vb)
	}
}

func TestEWMABeforeAnyPacket(t *testing.T) {
	tests := []struct {
		name   string
		warmup int
		wantV  time.Duration
	}{
		{"warm-up starts at the initial deviation", 8, 12 * time.Millisecond},
		{"cold start ignores it", 0, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEWMA(EWMAConfig{K: 3, Alpha: 0.9, Beta: 0.9, InitialDeviation: 12 * time.Millisecond, WarmupPackets: tc.warmup})
			if err != nil {
				t.Fatal(err)
			}
			if d, v := e.Estimates(); d != 0 || v != tc.wantV {
				t.Fatalf("estimates (%v, %v), want (0, %v)", d, v, tc.wantV)
			}
			if got := e.SpurtOffset(); got != 3*tc.wantV {
				t.Fatalf("offset %v, want %v", got, 3*tc.wantV)
			}
		})
	}
}

func TestNewEWMAValidates(t *testing.T) {
	def := DefaultEWMAConfig()
	with := func(f func(*EWMAConfig)) EWMAConfig { c := def; f(&c); return c }
	tests := []struct {
		name    string
		cfg     EWMAConfig
		wantErr string // "" for valid
	}{
		{"default", def, ""},
		{"K zero", with(func(c *EWMAConfig) { c.K = 0 }), ""},
		{"cold start", with(func(c *EWMAConfig) { c.WarmupPackets = 0; c.InitialDeviation = 0 }), ""},
		{"K negative", with(func(c *EWMAConfig) { c.K = -1 }), "K"},
		{"K NaN", with(func(c *EWMAConfig) { c.K = math.NaN() }), "K"},
		{"K infinite", with(func(c *EWMAConfig) { c.K = math.Inf(1) }), "K"},
		{"alpha zero", with(func(c *EWMAConfig) { c.Alpha = 0 }), "alpha"},
		{"alpha one", with(func(c *EWMAConfig) { c.Alpha = 1 }), "alpha"},
		{"alpha NaN", with(func(c *EWMAConfig) { c.Alpha = math.NaN() }), "alpha"},
		{"beta zero", with(func(c *EWMAConfig) { c.Beta = 0 }), "beta"},
		{"beta above one", with(func(c *EWMAConfig) { c.Beta = 1.5 }), "beta"},
		{"beta infinite", with(func(c *EWMAConfig) { c.Beta = math.Inf(-1) }), "beta"},
		{"negative deviation", with(func(c *EWMAConfig) { c.InitialDeviation = -time.Millisecond }), "deviation"},
		{"negative warm-up", with(func(c *EWMAConfig) { c.WarmupPackets = -1 }), "warm-up"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e, err := NewEWMA(tc.cfg)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if e.Config() != tc.cfg || e.Name() != "ewma" {
					t.Fatalf("Config() = %+v, Name() = %q", e.Config(), e.Name())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one about %q", err, tc.wantErr)
			}
		})
	}
}

func TestFixed(t *testing.T) {
	const delay = 60 * time.Millisecond
	f, err := NewFixed(delay)
	if err != nil {
		t.Fatal(err)
	}
	if f.Name() != "fixed" || f.Delay() != delay {
		t.Fatalf("Name() = %q, Delay() = %v", f.Name(), f.Delay())
	}
	if got := f.SpurtOffset(); got != delay {
		t.Fatalf("offset before any packet %v, want %v", got, delay)
	}
	// Arrival on a receiver clock 1 h ahead of the sender's.
	const skew = time.Hour
	steps := []struct {
		media, transit, wantOffset time.Duration
	}{
		{0, 50 * time.Millisecond, skew + 110*time.Millisecond},
		{20 * time.Millisecond, 80 * time.Millisecond, skew + 110*time.Millisecond}, // slower: no change
		{40 * time.Millisecond, 30 * time.Millisecond, skew + 90*time.Millisecond},  // faster: min falls
		{60 * time.Millisecond, 31 * time.Millisecond, skew + 90*time.Millisecond},
	}
	for i, st := range steps {
		f.Observe(st.media, st.media+skew+st.transit)
		if got := f.SpurtOffset(); got != st.wantOffset {
			t.Fatalf("after packet %d: offset %v, want %v", i+1, got, st.wantOffset)
		}
	}
}

func TestNewFixedValidates(t *testing.T) {
	for _, tc := range []struct {
		delay time.Duration
		ok    bool
	}{
		{0, true}, {100 * time.Millisecond, true}, {time.Minute, true},
		{-time.Millisecond, false}, {time.Minute + 1, false},
	} {
		if _, err := NewFixed(tc.delay); (err == nil) != tc.ok {
			t.Errorf("NewFixed(%v): error %v, want ok=%v", tc.delay, err, tc.ok)
		}
	}
}
