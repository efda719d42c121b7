package impair

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

var errNilRand = errors.New("nil *rand.Rand: pass a seeded generator, e.g. rand.New(rand.NewPCG(seed, 0))")

// Bernoulli loses each packet independently with a fixed probability.
type Bernoulli struct {
	p   float64
	rng *rand.Rand
}

// NewBernoulli returns a loss model that loses each packet with probability p,
// which must lie in [0, 1]. The model draws from rng, so a fixed seed gives a
// fixed loss pattern.
func NewBernoulli(p float64, rng *rand.Rand) (*Bernoulli, error) {
	if math.IsNaN(p) || p < 0 || p > 1 {
		return nil, fmt.Errorf("impair: bernoulli loss probability %v: must be in [0, 1]", p)
	}
	if rng == nil {
		return nil, fmt.Errorf("impair: bernoulli loss: %w", errNilRand)
	}
	return &Bernoulli{p: p, rng: rng}, nil
}

// Lost reports whether the next packet is lost. It draws one number from the
// generator per call, whatever p is.
func (b *Bernoulli) Lost() bool {
	return b.rng.Float64() < b.p
}

// MeanLoss returns the long-run share of packets lost: p.
func (b *Bernoulli) MeanLoss() float64 { return b.p }

// MeanBurst returns the mean length of a run of consecutive losses:
// 1/(1−p). It is +Inf for p = 1 (one endless run) and 0 for p = 0 (no runs).
func (b *Bernoulli) MeanBurst() float64 {
	switch b.p {
	case 0:
		return 0
	case 1:
		return math.Inf(1)
	}
	return 1 / (1 - b.p)
}

// UniformJitter delays each packet by a fixed base plus an independent
// uniformly distributed extra in [0, jitter).
type UniformJitter struct {
	base   time.Duration
	jitter time.Duration
	rng    *rand.Rand
}

// NewUniformJitter returns a delay model giving base + U[0, jitter) per packet.
// Neither duration may be negative; jitter 0 gives a constant delay of base.
func NewUniformJitter(base, jitter time.Duration, rng *rand.Rand) (*UniformJitter, error) {
	if base < 0 || jitter < 0 {
		return nil, fmt.Errorf("impair: uniform jitter base %v, jitter %v: must not be negative", base, jitter)
	}
	if base > math.MaxInt64-jitter {
		return nil, fmt.Errorf("impair: uniform jitter base %v + jitter %v overflows", base, jitter)
	}
	if rng == nil {
		return nil, fmt.Errorf("impair: uniform jitter: %w", errNilRand)
	}
	return &UniformJitter{base: base, jitter: jitter, rng: rng}, nil
}

// Delay returns the delay of the next packet. It draws one number from the
// generator per call unless jitter is 0.
func (u *UniformJitter) Delay() time.Duration {
	if u.jitter == 0 {
		return u.base
	}
	return u.base + time.Duration(u.rng.Int64N(int64(u.jitter)))
}
