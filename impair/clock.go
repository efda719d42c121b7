package impair

import (
	"math"
	"time"
)

// Clock is the receiver's clock as seen from the sender's: it reads Offset
// ahead at time zero and runs SkewPPM parts per million fast (slow if
// negative), as two free-running crystal oscillators do. The zero Clock is the
// sender's own clock.
type Clock struct {
	Offset  time.Duration
	SkewPPM float64
}

// Receiver maps a true time t (the sender's clock) to the receiver's clock
// reading at that moment: t + Offset + t·SkewPPM·10⁻⁶, rounded to the
// nanosecond and saturating rather than overflowing. A NaN skew counts as zero.
func (c Clock) Receiver(t time.Duration) time.Duration {
	reading := addSaturating(t, c.Offset)
	if c.SkewPPM == 0 || math.IsNaN(c.SkewPPM) {
		return reading
	}
	drift := math.Round(float64(t) * c.SkewPPM * 1e-6)
	switch {
	case drift >= math.MaxInt64:
		return addSaturating(reading, math.MaxInt64)
	case drift <= math.MinInt64:
		return addSaturating(reading, math.MinInt64)
	}
	return addSaturating(reading, time.Duration(drift))
}
