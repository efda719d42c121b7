package device

import "math"

// A resampler converts a stream of samples from one rate to another with a
// polyphase windowed-sinc filter. It is a clockless state machine: samples in,
// samples out. After construction it allocates only if fed more samples at
// once than it was sized for.
//
// With the rates in lowest terms out/in = up/down, output n lies at input
// position n*down/up. Its value is the input convolved with a low-pass
// prototype filter designed at the rate in*up; of that filter only every up-th
// tap meets a real input sample, so each output uses one of up "phases" of
// taps coefficients.
type resampler struct {
	up, down int
	taps     int       // coefficients per phase
	coeffs   []float32 // phase p is coeffs[p*taps : (p+1)*taps], oldest sample first
	history  []float32 // input not yet consumed; starts with taps-1 zeros
	position int       // next output's position in history, in 1/up input samples
}

// newResampler returns a resampler from inRate to outRate Hz sized for input
// chunks of up to maxChunk samples. Both rates must be positive.
func newResampler(inRate, outRate, maxChunk int) *resampler {
	g := gcd(inRate, outRate)
	up, down := outRate/g, inRate/g
	// Pass up to 0.425 and stop from 0.575 of the lower rate, centred on its
	// Nyquist frequency: the 300-3400 Hz speech band passes, and anything that
	// aliases into it is stopped. A Blackman window (about 74 dB stopband)
	// needs about 5.5/width taps for a transition of width cycles per sample.
	lower := float64(min(inRate, outRate))
	width := 0.15 * lower / float64(inRate)
	taps := int(math.Ceil(5.5 / width))
	cutoff := 0.5 * lower / float64(inRate*up) // cycles per prototype sample

	n := taps * up
	centre := float64(n-1) / 2
	prototype := make([]float64, n)
	for j := range prototype {
		x := float64(j) - centre
		sinc := 2 * cutoff
		if x != 0 {
			sinc = math.Sin(2*math.Pi*cutoff*x) / (math.Pi * x)
		}
		a := 2 * math.Pi * float64(j) / float64(n-1)
		if n == 1 {
			a = math.Pi
		}
		prototype[j] = sinc * (0.42 - 0.5*math.Cos(a) + 0.08*math.Cos(2*a))
	}
	coeffs := make([]float32, n)
	for p := range up {
		// Output at phase p weighs history[base+m] by prototype[p+(taps-1-m)*up].
		// Scale each phase to unit gain at DC so a constant stays constant.
		sum := 0.0
		for m := range taps {
			sum += prototype[p+(taps-1-m)*up]
		}
		for m := range taps {
			coeffs[p*taps+m] = float32(prototype[p+(taps-1-m)*up] / sum)
		}
	}
	history := make([]float32, taps-1, taps-1+maxChunk)
	return &resampler{up: up, down: down, taps: taps, coeffs: coeffs, history: history}
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// process appends to dst the output that the input so far allows and returns
// the extended slice. Over a long run it yields len(in)*up/down samples per
// call on average; the filter delays them by about taps/2 input samples.
func (r *resampler) process(dst []int16, in []int16) []int16 {
	for _, s := range in {
		r.history = append(r.history, float32(s))
	}
	for {
		base := r.position / r.up
		if base+r.taps > len(r.history) {
			break
		}
		phase := r.position % r.up
		c := r.coeffs[phase*r.taps : (phase+1)*r.taps]
		window := r.history[base : base+r.taps]
		var acc float32
		for m, x := range window {
			acc += c[m] * x
		}
		dst = append(dst, saturate(acc))
		r.position += r.down
	}
	consumed := r.position / r.up
	kept := copy(r.history, r.history[consumed:])
	r.history = r.history[:kept]
	r.position -= consumed * r.up
	return dst
}

// saturate rounds x to the nearest int16, clipping at the ends.
func saturate(x float32) int16 {
	v := math.Round(float64(x))
	return int16(max(math.MinInt16, min(math.MaxInt16, v)))
}

// mixDownInto averages the interleaved channels of chunk into dst (which
// must hold chunk's frames) and returns the mono samples.
func mixDownInto(dst, chunk []int16, channels int) []int16 {
	frames := len(chunk) / channels
	for i := range frames {
		sum := 0
		for c := range channels {
			sum += int(chunk[i*channels+c])
		}
		dst[i] = int16(sum / channels)
	}
	return dst[:frames]
}

// spread copies mono samples into every channel of an interleaved chunk.
func spread(chunk, mono []int16, channels int) {
	for i, v := range mono {
		for c := range channels {
			chunk[i*channels+c] = v
		}
	}
}
