package impair

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// maxDraw caps a single random draw of the unbounded delay distributions, so
// that no draw can overflow a time.Duration; a packet an hour late is lost to
// any playout buffer anyway.
const maxDraw = time.Hour

// maxScale bounds the mean or scale of an unbounded distribution so that the
// cap at maxDraw changes its mean negligibly.
const maxScale = time.Minute

// Constant is a DelayModel that delays every packet by the same amount.
// A negative Constant delays by zero.
type Constant time.Duration

// Delay returns the constant delay.
func (c Constant) Delay() time.Duration { return max(time.Duration(c), 0) }

// ExponentialJitter delays each packet by a fixed base plus an independent
// exponentially distributed extra: P(extra > x) = exp(−x/mean), so the mean
// delay is base + mean and the median extra is mean·ln 2.
type ExponentialJitter struct {
	base time.Duration
	mean float64 // nanoseconds
	rng  *rand.Rand
}

// NewExponentialJitter returns a delay model giving base + Exp(mean) per
// packet. Neither duration may be negative and mean may be at most a minute;
// a single draw is capped at an hour. Mean 0 gives a constant delay of base.
func NewExponentialJitter(base, mean time.Duration, rng *rand.Rand) (*ExponentialJitter, error) {
	if err := checkBase("exponential jitter", base); err != nil {
		return nil, err
	}
	if mean < 0 || mean > maxScale {
		return nil, fmt.Errorf("impair: exponential jitter mean %v: must be in [0, %v]", mean, maxScale)
	}
	if rng == nil {
		return nil, fmt.Errorf("impair: exponential jitter: %w", errNilRand)
	}
	return &ExponentialJitter{base: base, mean: float64(mean), rng: rng}, nil
}

// Delay returns the delay of the next packet. It draws from the generator
// once per call (rarely more: the ziggurat method retries) unless mean is 0.
func (e *ExponentialJitter) Delay() time.Duration {
	if e.mean == 0 {
		return e.base
	}
	return e.base + drawn(e.rng.ExpFloat64()*e.mean)
}

// Mean returns the mean delay, base + mean.
func (e *ExponentialJitter) Mean() time.Duration {
	return e.base + time.Duration(e.mean)
}

// ParetoJitter delays each packet by a fixed base plus an independent
// heavy-tailed extra from a Pareto distribution shifted to start at zero
// (the Lomax, or Pareto type II, distribution):
//
//	P(extra > x) = (1 + x/scale)^(−shape),  x ≥ 0,
//
// so the mean delay is base + scale/(shape−1). The variance is finite only
// for shape > 2; smaller shapes give the occasional very late packet that
// real queues produce.
type ParetoJitter struct {
	base     time.Duration
	scale    float64 // nanoseconds
	shape    float64
	invShape float64
	rng      *rand.Rand
}

// NewParetoJitter returns a delay model giving base plus a Lomax(scale,
// shape) extra per packet. shape must be finite and above 1 (so the mean is
// finite); scale must be in [0, 1 minute]; a single draw is capped at an hour.
// Scale 0 gives a constant delay of base.
func NewParetoJitter(base, scale time.Duration, shape float64, rng *rand.Rand) (*ParetoJitter, error) {
	if err := checkBase("pareto jitter", base); err != nil {
		return nil, err
	}
	if scale < 0 || scale > maxScale {
		return nil, fmt.Errorf("impair: pareto jitter scale %v: must be in [0, %v]", scale, maxScale)
	}
	if !(shape > 1) || math.IsInf(shape, 0) {
		return nil, fmt.Errorf("impair: pareto jitter shape %v: must be finite and above 1", shape)
	}
	if rng == nil {
		return nil, fmt.Errorf("impair: pareto jitter: %w", errNilRand)
	}
	return &ParetoJitter{base: base, scale: float64(scale), shape: shape, invShape: 1 / shape, rng: rng}, nil
}

// Delay returns the delay of the next packet. It draws one number from the
// generator per call unless scale is 0.
func (p *ParetoJitter) Delay() time.Duration {
	if p.scale == 0 {
		return p.base
	}
	u := 1 - p.rng.Float64() // in (0, 1], so the power is finite
	return p.base + drawn(p.scale*(math.Pow(u, -p.invShape)-1))
}

// Mean returns the mean delay, base + scale/(shape−1), ignoring the cap on a
// single draw.
func (p *ParetoJitter) Mean() time.Duration {
	return p.base + time.Duration(p.scale/(p.shape-1))
}

// Spikes is the delay component of sudden stalls, as Ramjee et al. observed on
// Internet paths: with some probability per packet the extra delay jumps to a
// height H, then drains linearly at slope s — it falls by s for every unit of
// send time that passes — until it is back at zero. With s = 1 every packet
// sent during the drain arrives at the same moment, as packets queued behind
// a stall do; smaller slopes spread them out. A spike that begins while
// another is draining restarts it at H, so spikes never stack.
//
// Spikes adds only the spike itself; combine it with a base and jitter using
// Sum. It is a TimedDelayModel: the drain needs the send time.
type Spikes struct {
	probability float64
	height      time.Duration
	slope       float64
	onset       time.Duration // send time of the current spike
	active      bool
	last        time.Duration // previous send time, for Delay
	rng         *rand.Rand
}

// NewSpikes returns a spike model: a spike starts at a packet with the given
// probability in [0, 1], jumps to height (0 to an hour) and drains at slope
// in (0, 1]. A slope above 1 would let later packets overtake earlier ones,
// which a queue cannot do.
func NewSpikes(probability float64, height time.Duration, slope float64, rng *rand.Rand) (*Spikes, error) {
	if math.IsNaN(probability) || probability < 0 || probability > 1 {
		return nil, fmt.Errorf("impair: spike probability %v: must be in [0, 1]", probability)
	}
	if height < 0 || height > maxDraw {
		return nil, fmt.Errorf("impair: spike height %v: must be in [0, %v]", height, maxDraw)
	}
	if !(slope > 0 && slope <= 1) {
		return nil, fmt.Errorf("impair: spike drain slope %v: must be in (0, 1]", slope)
	}
	if rng == nil {
		return nil, fmt.Errorf("impair: spikes: %w", errNilRand)
	}
	return &Spikes{probability: probability, height: height, slope: slope, rng: rng}, nil
}

// DelayAt returns the spike delay of the next packet, sent at send: what is
// left of the current spike after draining since its onset, or the full
// height if a new spike starts at this packet. It draws one number from the
// generator per call.
func (s *Spikes) DelayAt(send time.Duration) time.Duration {
	s.last = send
	var delay time.Duration
	if s.active {
		elapsed := max(float64(send)-float64(s.onset), 0)
		drained := s.slope * elapsed
		if drained >= float64(s.height) {
			s.active = false
		} else {
			delay = s.height - time.Duration(math.Round(drained))
		}
	}
	if s.rng.Float64() < s.probability {
		s.active, s.onset, delay = true, send, s.height
	}
	return delay
}

// Delay is DelayAt for a caller that has no send time: it takes the packet as
// sent at the same moment as the previous one, so no drain happens between
// the two. Path always calls DelayAt.
func (s *Spikes) Delay() time.Duration { return s.DelayAt(s.last) }

// SumDelay is the sum of several delay models' delays; see Sum.
type SumDelay struct {
	parts []sumPart
}

type sumPart struct {
	model DelayModel
	timed TimedDelayModel // model, if it is one
}

// Sum returns a delay model whose delay is the sum of the given models'
// delays (each counted as zero if negative, the total saturating rather than
// overflowing). Each component is consulted once per packet, in order; nil
// models are skipped. Sum is a TimedDelayModel and passes the send time on to
// the components that are.
func Sum(models ...DelayModel) *SumDelay {
	s := &SumDelay{parts: make([]sumPart, 0, len(models))}
	for _, m := range models {
		if m == nil {
			continue
		}
		timed, _ := m.(TimedDelayModel)
		s.parts = append(s.parts, sumPart{model: m, timed: timed})
	}
	return s
}

// Delay returns the sum of the components' Delay.
func (s *SumDelay) Delay() time.Duration {
	var total time.Duration
	for _, part := range s.parts {
		total = addSaturating(total, max(part.model.Delay(), 0))
	}
	return total
}

// DelayAt returns the sum of the components' delays for a packet sent at
// send, calling DelayAt on the components that have it and Delay on the rest.
func (s *SumDelay) DelayAt(send time.Duration) time.Duration {
	var total time.Duration
	for _, part := range s.parts {
		var d time.Duration
		if part.timed != nil {
			d = part.timed.DelayAt(send)
		} else {
			d = part.model.Delay()
		}
		total = addSaturating(total, max(d, 0))
	}
	return total
}

// checkBase validates the base delay of a jitter model with unbounded draws.
func checkBase(model string, base time.Duration) error {
	if base < 0 || base > math.MaxInt64-maxDraw {
		return fmt.Errorf("impair: %s base %v: must be in [0, %v]", model, base, time.Duration(math.MaxInt64-maxDraw))
	}
	return nil
}

// drawn converts a drawn extra delay in nanoseconds to a Duration in
// [0, maxDraw]; NaN counts as zero.
func drawn(ns float64) time.Duration {
	switch {
	case !(ns > 0):
		return 0
	case ns >= float64(maxDraw):
		return maxDraw
	}
	return time.Duration(math.Round(ns))
}
