// Package audiotest owns the measurements tests make on received audio: it
// aligns what a call played with what was sent, talk spurt by talk spurt (each
// spurt may be played with its own delay), and reports how close they are.
package audiotest

import (
	"math"
)

// Result compares a received signal with the reference it should reproduce.
type Result struct {
	SNR      float64 // dB: reference energy over error energy, on the aligned segments
	Coverage float64 // share of the reference's energy found in the received segments
	Segments int     // stretches of received sound (talk spurts, roughly)
	Lag      int     // the global lag in samples: received[i] ~ reference[i-Lag]
}

// Compare aligns received against reference and measures them. The whole
// signal is first aligned at the lag (0 ≤ lag ≤ maxLag) of greatest
// correlation; then each stretch of received sound is re-aligned within
// ±spurtLag samples of it, since a playout buffer may move each talk spurt.
func Compare(reference, received []int16, maxLag, spurtLag int) Result {
	lag := bestLag(reference, received, 0, maxLag, 4)
	lag = bestLag(reference, received, max(lag-8, 0), lag+8, 1)
	var res Result
	res.Lag = lag
	var sig, noise, covered float64
	for _, seg := range segments(received, 80) {
		res.Segments++
		l := bestLagRange(reference, received, seg[0], seg[1], lag-spurtLag, lag+spurtLag)
		for i := seg[0]; i < seg[1]; i++ {
			x := sampleAt(reference, i-l)
			e := x - float64(received[i])
			sig += x * x
			noise += e * e
		}
		covered += energy(reference, seg[0]-l, seg[1]-l)
	}
	total := energy(reference, 0, len(reference))
	if total > 0 {
		res.Coverage = covered / total
	}
	switch {
	case noise > 0:
		res.SNR = 10 * math.Log10(sig/noise)
	case sig > 0:
		res.SNR = math.Inf(1)
	}
	return res
}

func sampleAt(s []int16, i int) float64 {
	if i < 0 || i >= len(s) {
		return 0
	}
	return float64(s[i])
}

func energy(s []int16, from, to int) float64 {
	var e float64
	for i := max(from, 0); i < min(to, len(s)); i++ {
		e += float64(s[i]) * float64(s[i])
	}
	return e
}

// bestLag finds the lag in [lo, hi] maximising the correlation of the whole
// signals, looking at every step-th sample.
func bestLag(ref, got []int16, lo, hi, step int) int {
	best, bestCorr := lo, math.Inf(-1)
	for l := lo; l <= hi; l++ {
		var c float64
		for i := max(l, 0); i < len(got) && i-l < len(ref); i += step {
			c += float64(ref[i-l]) * float64(got[i])
		}
		if c > bestCorr {
			best, bestCorr = l, c
		}
	}
	return best
}

// bestLagRange is bestLag over received samples [from, to) only.
func bestLagRange(ref, got []int16, from, to, lo, hi int) int {
	best, bestCorr := lo, math.Inf(-1)
	for l := lo; l <= hi; l++ {
		var c float64
		for i := from; i < to; i++ {
			c += sampleAt(ref, i-l) * float64(got[i])
		}
		if c > bestCorr {
			best, bestCorr = l, c
		}
	}
	return best
}

// segments returns the [from, to) stretches of s that are not silent, where a
// run of at least minGap zero samples separates two stretches.
func segments(s []int16, minGap int) [][2]int {
	var out [][2]int
	start, zeros := -1, 0
	for i, v := range s {
		if v != 0 {
			if start < 0 {
				start = i
			}
			zeros = 0
			continue
		}
		if start >= 0 {
			zeros++
			if zeros >= minGap {
				out = append(out, [2]int{start, i - zeros + 1})
				start, zeros = -1, 0
			}
		}
	}
	if start >= 0 {
		out = append(out, [2]int{start, len(s) - zeros})
	}
	return out
}
