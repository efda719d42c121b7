package jitter

import (
	"fmt"
	"math"
	"time"
)

// Strategy chooses the playout offset for each talk spurt. Times are
// durations: mediaTime is the packet's RTP timestamp as time since the
// stream's first timestamp (unwrapped), arrival is on the receiver's clock.
type Strategy interface {
	// Observe takes every received non-duplicate packet, in arrival order.
	Observe(mediaTime, arrival time.Duration)
	// SpurtOffset is asked at a spurt's first packet, after Observe for it:
	// that packet plays at mediaTime + SpurtOffset().
	SpurtOffset() time.Duration
	// Name identifies the strategy: "ewma" or "fixed".
	Name() string
}

// EWMAConfig tunes the adaptive strategy. Start from [DefaultEWMAConfig]: zero
// values are not replaced by defaults.
type EWMAConfig struct {
	// K is the safety factor on the deviation: offset = d + K*v.
	K float64
	// Alpha and Beta are the weights of the PREVIOUS estimate of d and v in
	// each update (Ramjee et al.'s convention), both strictly between 0 and 1.
	Alpha, Beta float64
	// InitialDeviation is v before any sample. It is used only with a warm-up;
	// the classic cold start begins at v = 0.
	InitialDeviation time.Duration
	// WarmupPackets is how many packets are averaged plainly (new-sample
	// weight max(1/n, 1-alpha)) before the exponential weights take over.
	// 0 selects the classic cold start of the paper, unmodified.
	WarmupPackets int
}

// DefaultEWMAConfig returns the paper's K = 4 and alpha = beta = 0.998002,
// with a 32-packet warm-up starting from a 10 ms deviation.
func DefaultEWMAConfig() EWMAConfig {
	return EWMAConfig{
		K:                4,
		Alpha:            0.998002,
		Beta:             0.998002,
		InitialDeviation: 10 * time.Millisecond,
		WarmupPackets:    32,
	}
}

// EWMA is the adaptive playout strategy of Ramjee et al. (1994), algorithm 1,
// with an optional warm-up; see the package documentation.
type EWMA struct {
	cfg     EWMAConfig
	samples uint64  // packets observed
	d, v    float64 // estimates, in nanoseconds
}

// NewEWMA validates cfg and returns a strategy that has seen no packet yet.
func NewEWMA(cfg EWMAConfig) (*EWMA, error) {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case !finite(cfg.K) || cfg.K < 0:
		return nil, fmt.Errorf("jitter: ewma: K %v must be finite and not negative", cfg.K)
	case !finite(cfg.Alpha) || cfg.Alpha <= 0 || cfg.Alpha >= 1:
		return nil, fmt.Errorf("jitter: ewma: alpha %v must lie strictly between 0 and 1", cfg.Alpha)
	case !finite(cfg.Beta) || cfg.Beta <= 0 || cfg.Beta >= 1:
		return nil, fmt.Errorf("jitter: ewma: beta %v must lie strictly between 0 and 1", cfg.Beta)
	case cfg.InitialDeviation < 0:
		return nil, fmt.Errorf("jitter: ewma: initial deviation %v must not be negative", cfg.InitialDeviation)
	case cfg.WarmupPackets < 0:
		return nil, fmt.Errorf("jitter: ewma: warm-up of %d packets must not be negative", cfg.WarmupPackets)
	}
	e := &EWMA{cfg: cfg}
	if cfg.WarmupPackets > 0 {
		e.v = float64(cfg.InitialDeviation)
	}
	return e, nil
}

// Observe updates d and then v with the packet's transit.
func (e *EWMA) Observe(mediaTime, arrival time.Duration) {
	transit := float64(arrival - mediaTime)
	e.samples++
	if e.samples == 1 {
		// d_1 = n_1. The first deviation |n_1 - d_1| is zero by construction
		// and says nothing: v keeps its starting value (0 on a cold start).
		e.d = transit
		return
	}
	newD, newV := 1-e.cfg.Alpha, 1-e.cfg.Beta
	if e.samples <= uint64(e.cfg.WarmupPackets) {
		avg := 1 / float64(e.samples)
		newD, newV = max(newD, avg), max(newV, avg)
	}
	e.d += newD * (transit - e.d)
	e.v += newV * (math.Abs(transit-e.d) - e.v)
}

// SpurtOffset returns d + K*v.
func (e *EWMA) SpurtOffset() time.Duration { return durationOf(e.d + e.cfg.K*e.v) }

// Name returns "ewma".
func (e *EWMA) Name() string { return "ewma" }

// Estimates returns the current delay estimate d and deviation estimate v.
// Before any packet d is 0 and v its starting value.
func (e *EWMA) Estimates() (d, v time.Duration) { return durationOf(e.d), durationOf(e.v) }

// Config returns the configuration the strategy was built with.
func (e *EWMA) Config() EWMAConfig { return e.cfg }

// Fixed plays every spurt a constant delay after the fastest packet seen so
// far: offset = min(arrival - mediaTime) + delay. A plain "media time + delay"
// is meaningless because the sender's and receiver's clocks are unrelated;
// the minimum transit is the best estimate of that clock offset plus the
// propagation delay, and the fixed delay is the headroom for jitter above
// it. The minimum only falls, so the offset can shrink between spurts (as
// faster packets show up) but never grows: a receiver whose clock runs faster
// than the sender's will see ever more late loss, which is what a fixed
// buffer does.
type Fixed struct {
	delay      time.Duration
	minTransit time.Duration
	seen       bool
}

// maxFixedDelay bounds NewFixed's delay: a minute is far beyond any playout
// delay a conversation, or the buffer's capacity, can use.
const maxFixedDelay = time.Minute

// NewFixed returns a fixed-delay strategy; delay must lie in [0, 1 min].
func NewFixed(delay time.Duration) (*Fixed, error) {
	if delay < 0 || delay > maxFixedDelay {
		return nil, fmt.Errorf("jitter: fixed: delay %v must lie between 0 and %v", delay, maxFixedDelay)
	}
	return &Fixed{delay: delay}, nil
}

// Observe records the packet's transit if it is the fastest so far.
func (f *Fixed) Observe(mediaTime, arrival time.Duration) {
	transit := arrival - mediaTime
	if !f.seen || transit < f.minTransit {
		f.minTransit, f.seen = transit, true
	}
}

// SpurtOffset returns the minimum transit seen plus the fixed delay (just
// the delay before any packet).
func (f *Fixed) SpurtOffset() time.Duration { return f.minTransit + f.delay }

// Name returns "fixed".
func (f *Fixed) Name() string { return "fixed" }

// Delay returns the fixed delay above the fastest packet.
func (f *Fixed) Delay() time.Duration { return f.delay }

// durationOf rounds nanoseconds to a Duration, saturating instead of
// overflowing.
func durationOf(ns float64) time.Duration {
	switch {
	case math.IsNaN(ns):
		return 0
	case ns >= math.MaxInt64:
		return math.MaxInt64
	case ns <= math.MinInt64:
		return math.MinInt64
	}
	return time.Duration(math.Round(ns))
}
