package impair

import (
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Duplicator duplicates each packet independently with a fixed probability;
// the copy arrives a fixed lag after the original. It is a DuplicateModel for
// Path.Duplicate.
type Duplicator struct {
	p   float64
	lag time.Duration
	rng *rand.Rand
}

// NewDuplicator returns a duplication model that duplicates each packet with
// probability p in [0, 1], the copy arriving lag (0 to an hour) after the
// original.
func NewDuplicator(p float64, lag time.Duration, rng *rand.Rand) (*Duplicator, error) {
	if math.IsNaN(p) || p < 0 || p > 1 {
		return nil, fmt.Errorf("impair: duplicate probability %v: must be in [0, 1]", p)
	}
	if lag < 0 || lag > maxDraw {
		return nil, fmt.Errorf("impair: duplicate lag %v: must be in [0, %v]", lag, maxDraw)
	}
	if rng == nil {
		return nil, fmt.Errorf("impair: duplicator: %w", errNilRand)
	}
	return &Duplicator{p: p, lag: lag, rng: rng}, nil
}

// Duplicate reports whether the next packet is duplicated, and the lag of the
// copy. It draws one number from the generator per call, whatever p is.
func (d *Duplicator) Duplicate() (lag time.Duration, ok bool) {
	if d.rng.Float64() < d.p {
		return d.lag, true
	}
	return 0, false
}
