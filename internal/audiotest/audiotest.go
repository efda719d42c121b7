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
	Segments int     // runs of non-silent received frames (talk spurts, roughly)
	Lag      int     // the global lag in samples: received[i] ~ reference[i-Lag]
}

// FrameSamples is the unit of alignment: one 20 ms chunk at 8 kHz. A playout
// buffer moves audio only in whole chunks (and whole talk spurts), so each
// received chunk is a copy of some stretch of the reference.
const FrameSamples = 160

// gapSamples is the run of exact zeros (5 ms) taken as a gap in what was
// played (suppressed silence, or a chunk that never came) rather than as
// decoded sound: G.711 decodes quiet speech to zero only in short runs.
const gapSamples = 40

// Compare aligns received against reference and measures them. The whole
// signal is first aligned at the lag (0 ≤ lag ≤ maxLag) of greatest
// correlation; then each received 20 ms frame is matched within ±frameLag
// samples of it, since a playout buffer plays each talk spurt with its own
// delay. The SNR is over the audio that was played; gaps in it (runs of
// gapSamples zeros or more) count only against Coverage, which counts each
// reference sample once, however many frames matched it.
func Compare(reference, received []int16, maxLag, frameLag int) Result {
	lag := bestLag(reference, received, 0, maxLag, 4)
	lag = bestLag(reference, received, max(lag-8, 0), lag+8, 1)
	res := Result{Lag: lag}
	used := make([]bool, len(reference))
	gap := gaps(received, gapSamples)
	var sig, noise float64
	inSegment := false
	for from := 0; from+FrameSamples <= len(received); from += FrameSamples {
		to := from + FrameSamples
		if energy(received, from, to) == 0 {
			inSegment = false
			continue
		}
		if !inSegment {
			res.Segments++
			inSegment = true
		}
		l := bestLagRange(reference, received, gap, from, to, lag-frameLag, lag+frameLag)
		for i := from; i < to; i++ {
			if gap[i] {
				continue
			}
			x := sampleAt(reference, i-l)
			e := x - float64(received[i])
			sig += x * x
			noise += e * e
			if j := i - l; j >= 0 && j < len(used) {
				used[j] = true
			}
		}
	}
	var covered, total float64
	for i, s := range reference {
		e := float64(s) * float64(s)
		total += e
		if used[i] {
			covered += e
		}
	}
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

// bestLagRange finds the lag in [lo, hi] at which received samples
// [from, to), less those in gaps, differ least from the reference.
func bestLagRange(ref, got []int16, gap []bool, from, to, lo, hi int) int {
	best, bestErr := lo, math.Inf(1)
	for l := lo; l <= hi; l++ {
		var e float64
		for i := from; i < to && e < bestErr; i++ {
			if gap[i] {
				continue
			}
			d := sampleAt(ref, i-l) - float64(got[i])
			e += d * d
		}
		if e < bestErr {
			best, bestErr = l, e
		}
	}
	return best
}

// gaps marks the samples of s that lie in runs of at least n zeros.
func gaps(s []int16, n int) []bool {
	g := make([]bool, len(s))
	for i := 0; i < len(s); {
		if s[i] != 0 {
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == 0 {
			j++
		}
		if j-i >= n {
			for k := i; k < j; k++ {
				g[k] = true
			}
		}
		i = j
	}
	return g
}
