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

// Fidelity compares a received signal with its reference over the
// reference's whole length at one lag, so that audio missing from the
// received signal (a chunk lost and played as silence, or never played)
// counts fully as error, unlike in Compare, which leaves gaps out of its SNR.
// It suits a call that plays everything with one delay (no silence
// suppression, one talk spurt).
type Fidelity struct {
	SNR          float64 // dB: reference energy over error energy, gaps included
	SegmentalSNR float64 // dB: mean over the reference's active 20 ms frames of their SNR, each clamped to [-10, 35]
	// SpectralDistance is the log-spectral distance in dB (RMS over
	// frequency of the difference of the log power spectra), averaged over
	// the reference's active frames; 0 is identical. Unlike the SNRs it does
	// not punish a codec that keeps the spectrum but not the waveform (GSM).
	SpectralDistance float64
	Lag              int // received[i] ~ reference[i-Lag]
}

// Segmental SNR limits, the usual ones, so that a few frames cannot dominate
// the mean: a frame worse than -10 dB (louder error than signal; a missing
// frame is 0 dB) counts as -10, a perfect one as 35 rather than infinity.
const (
	minSegmentSNR = -10
	maxSegmentSNR = 35
)

// CompareWhole finds the lag (0 ≤ lag ≤ maxLag) of greatest correlation and
// measures received against reference at it, sample for sample, over every
// sample of the reference. Frames of the reference with less than 1 % of its
// mean frame energy (pauses) are left out of the segmental SNR.
func CompareWhole(reference, received []int16, maxLag int) Fidelity {
	lag := bestLag(reference, received, 0, maxLag, 4)
	lag = bestLag(reference, received, max(lag-8, 0), lag+8, 1)
	f := Fidelity{Lag: lag}
	frames := len(reference) / FrameSamples
	if frames == 0 {
		return f
	}
	sigs := make([]float64, frames)
	noises := make([]float64, frames)
	var sig, noise float64
	for fr := range frames {
		for i := fr * FrameSamples; i < (fr+1)*FrameSamples; i++ {
			x := float64(reference[i])
			e := x - sampleAt(received, i+lag)
			sigs[fr] += x * x
			noises[fr] += e * e
		}
		sig += sigs[fr]
		noise += noises[fr]
	}
	f.SNR = snr(sig, noise, math.Inf(1))
	threshold := 0.01 * sig / float64(frames)
	var sum float64
	var active int
	for fr := range frames {
		if sigs[fr] <= threshold || sigs[fr] == 0 {
			continue
		}
		s := snr(sigs[fr], noises[fr], maxSegmentSNR)
		sum += min(max(s, minSegmentSNR), maxSegmentSNR)
		active++
	}
	if active > 0 {
		f.SegmentalSNR = sum / float64(active)
	}
	f.SpectralDistance = spectralDistance(reference, received, lag, sigs, threshold)
	return f
}

// spectralDistance is the mean log-spectral distance over the frames whose
// energy (sigs) is above threshold. Power spectra come from a Hann-windowed
// DFT of each frame; both get a floor 40 dB below the reference's mean bin
// power, so that silence where speech should be costs a large but finite
// distance.
func spectralDistance(reference, received []int16, lag int, sigs []float64, threshold float64) float64 {
	const bins = FrameSamples/2 + 1
	var window [FrameSamples]float64
	for i := range window {
		window[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/FrameSamples)
	}
	var cos, sin [FrameSamples]float64
	for i := range cos {
		cos[i] = math.Cos(2 * math.Pi * float64(i) / FrameSamples)
		sin[i] = math.Sin(2 * math.Pi * float64(i) / FrameSamples)
	}
	spectrum := func(sample func(int) float64, out *[bins]float64) {
		for k := range out {
			var re, im float64
			for n := range FrameSamples {
				x := window[n] * sample(n)
				re += x * cos[k*n%FrameSamples]
				im -= x * sin[k*n%FrameSamples]
			}
			out[k] = re*re + im*im
		}
	}
	var total float64
	for _, e := range sigs {
		total += e
	}
	// Parseval: a frame's energy spread over its bins, windowed (Hann keeps 3/8)
	floor := 1e-4 * total / float64(len(sigs)) * FrameSamples * 3 / 8 / bins
	var ref, got [bins]float64
	var sum float64
	var active int
	for fr, e := range sigs {
		if e <= threshold || e == 0 {
			continue
		}
		start := fr * FrameSamples
		spectrum(func(n int) float64 { return float64(reference[start+n]) }, &ref)
		spectrum(func(n int) float64 { return sampleAt(received, start+n+lag) }, &got)
		var d2 float64
		for k := range ref {
			d := 10 * math.Log10((ref[k]+floor)/(got[k]+floor))
			d2 += d * d
		}
		sum += math.Sqrt(d2 / bins)
		active++
	}
	if active == 0 {
		return 0
	}
	return sum / float64(active)
}

func snr(sig, noise, perfect float64) float64 {
	switch {
	case noise > 0:
		return 10 * math.Log10(sig/noise)
	case sig > 0:
		return perfect
	}
	return 0
}

// ToneShare returns the share of pcm's energy at frequency hz (sample rate
// rate), measured with the Goertzel filter: about 1 for a pure tone at hz,
// near 0 for silence, noise or another tone. It is 0 for silent input.
func ToneShare(pcm []int16, hz float64, rate int) float64 {
	if len(pcm) == 0 {
		return 0
	}
	coeff := 2 * math.Cos(2*math.Pi*hz/float64(rate))
	var s1, s2, energy float64
	for _, x := range pcm {
		v := float64(x)
		s1, s2 = v+coeff*s1-s2, s1
		energy += v * v
	}
	if energy == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - coeff*s1*s2 // |X(hz)|^2
	// For a pure tone of amplitude A over N samples |X|^2 is about
	// (N A / 2)^2 and the energy about N A^2 / 2: the ratio below is 1.
	return power / (energy * float64(len(pcm)) / 2)
}
