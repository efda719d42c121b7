package plc

import "math"

// harmonicTone is a voiced-speech-like test signal: a fundamental of f0 Hz and
// four harmonics with falling amplitudes, peaking near 10000.
func harmonicTone(f0 float64, rate, n int) []int16 {
	amps := []float64{1, 0.6, 0.45, 0.3, 0.15}
	phases := []float64{0, 0.7, 1.9, 2.6, 4.1}
	out := make([]int16, n)
	for i := range out {
		var v float64
		for h, a := range amps {
			v += a * math.Sin(2*math.Pi*f0*float64(h+1)*float64(i)/float64(rate)+phases[h])
		}
		out[i] = int16(math.Round(4000 * v))
	}
	return out
}
