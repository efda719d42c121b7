package jitter

import (
	"fmt"
	"math"
	"time"
)

// QuantileConfig tunes the histogram strategy. Start from
// [DefaultQuantileConfig]: zero values are not replaced by defaults.
type QuantileConfig struct {
	// Quantile is the share of packets that should arrive in time, in (0, 1).
	Quantile float64
	// Forget is the weight each sample already in the histogram keeps when a
	// new one arrives, in (0, 1): the histogram's memory is about
	// 1/(1-Forget) packets.
	Forget float64
	// BinWidth is the histogram's resolution and MaxDelay its range above
	// the baseline; delays beyond it count in the last bin. At most 1<<16 bins.
	BinWidth, MaxDelay time.Duration
	// Window is how long the baseline (the fastest transit) is remembered:
	// the baseline is the minimum over the current and the previous window.
	Window time.Duration
}

// DefaultQuantileConfig returns the 95th percentile over a forgetting
// histogram with a memory of about 1400 packets (forget factor 0.9993, as
// WebRTC NetEq's delay manager uses), 1 ms bins up to 2 s, and a 2 s baseline
// window.
func DefaultQuantileConfig() QuantileConfig {
	return QuantileConfig{
		Quantile: 0.95,
		Forget:   0.9993,
		BinWidth: time.Millisecond,
		MaxDelay: 2 * time.Second,
		Window:   2 * time.Second,
	}
}

// maxQuantileBins bounds the histogram's size.
const maxQuantileBins = 1 << 16

// Quantile is a delay-histogram strategy in the manner of WebRTC NetEq's delay
// manager: each packet's relative delay, its transit above the fastest
// transit of the last one or two windows (the baseline), goes into a
// histogram whose older samples fade geometrically; a spurt plays at the
// baseline plus the configured quantile of that histogram. Unlike an
// average-plus-deviation rule it makes no assumption about the shape of the
// delay distribution, so a heavy tail or a bimodal delay sets the target
// where the share of late packets is the one asked for.
//
// The fading is done lazily: instead of scaling every bin at every packet,
// each new sample weighs 1/Forget times the previous one, and the histogram
// is renormalised when the weights grow large. It never allocates after
// NewQuantile.
type Quantile struct {
	cfg    QuantileConfig
	bins   []float64
	weight float64 // weight of the next sample
	total  float64 // sum of bins

	seen            bool
	windowStart     time.Duration // arrival time starting the current window
	curMin, prevMin time.Duration // fastest transit in the current and previous windows
	havePrev        bool
	baseline        time.Duration
}

// NewQuantile validates cfg and returns a strategy that has seen no packet.
func NewQuantile(cfg QuantileConfig) (*Quantile, error) {
	finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
	switch {
	case !finite(cfg.Quantile) || cfg.Quantile <= 0 || cfg.Quantile >= 1:
		return nil, fmt.Errorf("jitter: quantile: quantile %v must lie strictly between 0 and 1", cfg.Quantile)
	case !finite(cfg.Forget) || cfg.Forget <= 0 || cfg.Forget >= 1:
		return nil, fmt.Errorf("jitter: quantile: forget factor %v must lie strictly between 0 and 1", cfg.Forget)
	case cfg.BinWidth <= 0 || cfg.MaxDelay < cfg.BinWidth:
		return nil, fmt.Errorf("jitter: quantile: bin width %v and range %v must be positive, the range at least one bin", cfg.BinWidth, cfg.MaxDelay)
	case cfg.MaxDelay/cfg.BinWidth >= maxQuantileBins:
		return nil, fmt.Errorf("jitter: quantile: %v in bins of %v is more than %d bins", cfg.MaxDelay, cfg.BinWidth, maxQuantileBins)
	case cfg.Window <= 0:
		return nil, fmt.Errorf("jitter: quantile: baseline window %v must be positive", cfg.Window)
	}
	return &Quantile{cfg: cfg, bins: make([]float64, cfg.MaxDelay/cfg.BinWidth+1), weight: 1}, nil
}

// Observe updates the baseline and adds the packet's relative delay to the
// histogram.
func (q *Quantile) Observe(mediaTime, arrival time.Duration) {
	transit := arrival - mediaTime
	if !q.seen {
		q.seen = true
		q.windowStart, q.curMin = arrival, transit
	}
	if arrival-q.windowStart >= q.cfg.Window {
		q.prevMin, q.havePrev = q.curMin, true
		q.windowStart, q.curMin = arrival, transit
	}
	q.curMin = min(q.curMin, transit)
	q.baseline = q.curMin
	if q.havePrev {
		q.baseline = min(q.baseline, q.prevMin)
	}
	rel := transit - q.baseline // never negative
	i := min(int(rel/q.cfg.BinWidth), len(q.bins)-1)
	q.bins[i] += q.weight
	q.total += q.weight
	q.weight /= q.cfg.Forget
	if q.weight > 1e100 {
		q.renormalise()
	}
}

// renormalise scales the histogram so that the next sample weighs 1 again.
func (q *Quantile) renormalise() {
	scale := 1 / q.weight
	for i := range q.bins {
		q.bins[i] *= scale
	}
	q.total *= scale
	q.weight = 1
}

// SpurtOffset returns the baseline plus the quantile of the relative delays:
// the upper edge of the first bin at which the faded count reaches the
// quantile, so that at least that share of the histogram would be in time.
func (q *Quantile) SpurtOffset() time.Duration {
	return q.baseline + q.Target()
}

// Target returns the quantile of the relative delay histogram (0 before any
// packet): the playout delay above the baseline.
func (q *Quantile) Target() time.Duration {
	if q.total == 0 {
		return 0
	}
	want := q.cfg.Quantile * q.total
	var sum float64
	for i, n := range q.bins {
		sum += n
		if sum >= want {
			return time.Duration(i+1) * q.cfg.BinWidth
		}
	}
	return time.Duration(len(q.bins)) * q.cfg.BinWidth
}

// Name returns "quantile".
func (q *Quantile) Name() string { return "quantile" }

// Config returns the configuration the strategy was built with.
func (q *Quantile) Config() QuantileConfig { return q.cfg }
