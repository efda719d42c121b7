package jitter

import (
	"fmt"
	"math"
	"time"
)

// SpikeConfig tunes the spike-detecting strategy. Start from
// [DefaultSpikeConfig]: zero values are not replaced by defaults.
type SpikeConfig struct {
	// K is the safety factor on the deviation: offset = d + K*v.
	K float64
	// Alpha and Beta are the weights of the PREVIOUS estimate of d and v in
	// normal mode, strictly between 0 and 1 (0.875 in the paper, a much
	// faster average than algorithm 1's).
	Alpha, Beta float64
	// SpikeStart is the jump between consecutive transits, beyond twice the
	// deviation, that opens a spike: |n_i - n_{i-1}| > 2|v| + SpikeStart.
	SpikeStart time.Duration
	// SpikeEnd is the level of the decaying slope measure below which the
	// spike is over and normal mode resumes.
	SpikeEnd time.Duration
}

// DefaultSpikeConfig returns the constants of Ramjee et al.'s algorithm 4:
// K = 4, alpha = beta = 0.875, and the spike thresholds 800 and 63 of the
// paper's pseudo-code, read as ticks of its 8 kHz timestamp clock: 100 ms and
// 7.875 ms.
func DefaultSpikeConfig() SpikeConfig {
	return SpikeConfig{
		K:          4,
		Alpha:      0.875,
		Beta:       0.875,
		SpikeStart: 100 * time.Millisecond,
		SpikeEnd:   7875 * time.Microsecond,
	}
}

// Spike is algorithm 4 of Ramjee, Kurose, Towsley and Schulzrinne (1994): the
// delay estimate d follows a fast EWMA in normal mode; when the transit jumps
// by more than twice the deviation plus SpikeStart a delay spike has begun and
// the strategy switches to spike mode, where d follows the transit itself
// (d_i = d_{i-1} + n_i - n_{i-1}) so that a spurt starting during the spike
// plays late enough, and where a slope measure
//
//	slope_i = slope_{i-1}/2 + |2n_i - n_{i-1} - n_{i-2}| / 8
//
// tracks how fast the transit is still changing; once it falls to SpikeEnd
// the spike is over, that packet leaves the estimates untouched, and normal
// mode resumes. The deviation is updated in both modes:
// v_i = beta*v_{i-1} + (1-beta)*|n_i - d_i|. Spurts play at d + K*v.
type Spike struct {
	cfg         SpikeConfig
	samples     uint64
	d, v        float64 // estimates, in nanoseconds
	prev, prev2 float64 // n_{i-1}, n_{i-2}
	slope       float64 // the paper's "var", in nanoseconds
	spike       bool
	spikes      uint64
}

// NewSpike validates cfg and returns a strategy that has seen no packet yet.
func NewSpike(cfg SpikeConfig) (*Spike, error) {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case !finite(cfg.K) || cfg.K < 0:
		return nil, fmt.Errorf("jitter: spike: K %v must be finite and not negative", cfg.K)
	case !finite(cfg.Alpha) || cfg.Alpha <= 0 || cfg.Alpha >= 1:
		return nil, fmt.Errorf("jitter: spike: alpha %v must lie strictly between 0 and 1", cfg.Alpha)
	case !finite(cfg.Beta) || cfg.Beta <= 0 || cfg.Beta >= 1:
		return nil, fmt.Errorf("jitter: spike: beta %v must lie strictly between 0 and 1", cfg.Beta)
	case cfg.SpikeStart <= 0 || cfg.SpikeEnd <= 0:
		return nil, fmt.Errorf("jitter: spike: thresholds %v and %v must be positive", cfg.SpikeStart, cfg.SpikeEnd)
	}
	return &Spike{cfg: cfg}, nil
}

// Observe runs one step of algorithm 4 with the packet's transit.
func (s *Spike) Observe(mediaTime, arrival time.Duration) {
	n := float64(arrival - mediaTime)
	s.samples++
	switch s.samples {
	case 1:
		s.d, s.prev, s.prev2 = n, n, n
		return
	case 2:
		s.prev2 = s.prev
	}
	if !s.spike {
		if math.Abs(n-s.prev) > 2*math.Abs(s.v)+float64(s.cfg.SpikeStart) {
			s.spike, s.slope = true, 0
			s.spikes++
		}
	} else {
		s.slope = s.slope/2 + math.Abs(2*n-s.prev-s.prev2)/8
		if s.slope <= float64(s.cfg.SpikeEnd) {
			s.spike = false
			s.prev2, s.prev = s.prev, n
			return
		}
	}
	if s.spike {
		s.d += n - s.prev
	} else {
		s.d = s.cfg.Alpha*s.d + (1-s.cfg.Alpha)*n
	}
	s.v = s.cfg.Beta*s.v + (1-s.cfg.Beta)*math.Abs(n-s.d)
	s.prev2, s.prev = s.prev, n
}

// SpurtOffset returns d + K*v.
func (s *Spike) SpurtOffset() time.Duration { return durationOf(s.d + s.cfg.K*s.v) }

// Name returns "spike".
func (s *Spike) Name() string { return "spike" }

// Estimates returns the current delay and deviation estimates.
func (s *Spike) Estimates() (d, v time.Duration) { return durationOf(s.d), durationOf(s.v) }

// InSpike reports whether the strategy is in spike mode, and how many spikes
// it has detected so far.
func (s *Spike) InSpike() (inSpike bool, spikes uint64) { return s.spike, s.spikes }

// Config returns the configuration the strategy was built with.
func (s *Spike) Config() SpikeConfig { return s.cfg }
