package audio

import (
	"fmt"
	"io"
	"math"
	"time"
)

// samplePeriod is the time one sample lasts at SampleRate.
const samplePeriod = time.Second / SampleRate

// tone is a Source of a sine wave, computed sample by sample.
type tone struct {
	step      float64 // cycles per sample
	phase     float64 // cycles, in [0, 1)
	amplitude float64
	remaining int64 // samples left; -1 for endless
	closed    bool
}

// NewTone returns a Source of a sine wave of freqHz hertz and peak amplitude
// amplitude, lasting duration (rounded to whole samples), or without end if
// duration is 0. A negative duration gives no samples. Frequencies at or above
// the Nyquist frequency (4000 Hz) alias; a frequency that is not finite gives
// silence.
func NewTone(freqHz float64, amplitude int16, duration time.Duration) Source {
	step := freqHz / SampleRate
	if math.IsNaN(step) || math.IsInf(step, 0) {
		step = 0
	}
	step -= math.Floor(step) // only the fractional cycle per sample matters
	return &tone{step: step, amplitude: float64(amplitude), remaining: durationSamples(duration)}
}

// Silence returns a Source of digital silence lasting duration, or without end
// if duration is 0.
func Silence(duration time.Duration) Source {
	return NewTone(0, 0, duration)
}

// durationSamples converts d to a number of samples, rounding to nearest; 0
// means endless (-1) and a negative d means none.
func durationSamples(d time.Duration) int64 {
	switch {
	case d == 0:
		return -1
	case d < 0:
		return 0
	}
	n := int64(d / samplePeriod)
	if d%samplePeriod >= samplePeriod/2 {
		n++
	}
	return n
}

func (t *tone) ReadFrame(pcm []int16) error {
	if t.closed {
		return fmt.Errorf("tone: read: %w", ErrClosed)
	}
	if t.remaining == 0 {
		return io.EOF
	}
	n := len(pcm)
	if t.remaining > 0 && int64(n) > t.remaining {
		n = int(t.remaining)
	}
	for i := range pcm[:n] {
		v := math.Round(t.amplitude * math.Sin(2*math.Pi*t.phase))
		pcm[i] = int16(max(math.MinInt16, min(math.MaxInt16, v)))
		t.phase += t.step
		if t.phase >= 1 {
			t.phase--
		}
	}
	clear(pcm[n:])
	if t.remaining > 0 {
		t.remaining -= int64(n)
	}
	return nil
}

func (t *tone) Close() error {
	t.closed = true
	return nil
}
