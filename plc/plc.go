// Package plc owns packet loss concealment: filling missing audio with
// pitch-based waveform repetition in the manner of ITU-T G.711 Appendix I.
//
// A [Concealer] sits after the decoder and sees every piece of audio in play
// order: received pieces go through Good, missing ones are made by Conceal.
// Pieces may have any length, so the 5 ms holes left by interleaving and
// whole 20 ms chunks are handled alike.
//
// # Method
//
// The Concealer keeps the last 48.75 ms of output as history. At the first
// missing sample it estimates the pitch period from the history by normalised
// autocorrelation of its newest 20 ms with lags of 5 to 15 ms (40..120
// samples at 8 kHz): a coarse search on the signal decimated 2:1 (at 8 kHz),
// then a full-resolution search around the coarse best. Unlike Appendix I,
// it then prefers a half or a third of that lag if it correlates nearly as
// well, since a periodic signal correlates as well at two periods as at one
// and the widening below assumes the loop is one period. The missing audio is
// the last pitch period repeated; the period's last quarter is overlap-added
// with the quarter period before it, so that each loop joins smoothly onto
// its own start.
//
// After the first 10 ms of a loss the loop is widened to the last two
// periods, after 20 ms to the last three, each time cross-fading over a
// quarter period into the older material, which makes long losses sound less
// buzzy. From 10 ms on the synthetic signal is attenuated linearly by 20% per
// 10 ms, so that it is silent from 60 ms on. The first good piece after a
// loss is overlap-added from the continued synthetic signal into the real
// one over a quarter period, plus 4 ms for every 10 ms the loss lasted
// beyond the first, at most 10 ms.
//
// # Holes with audio after them
//
// Interleaving leaves short holes (5 ms at depth 4) with received audio on
// both sides. [Concealer.ConcealBefore] fills such a hole from both sides:
// the synthetic continuation of the past above, cross-faded linearly over the
// hole into a backward extrapolation from the audio after it. That is the
// stretch of history preceding the best match, by normalised correlation,
// for the first 2.5 ms after the hole, searched over one longest pitch period
// of lags (so one period of a voiced sound is always among them), scaled to
// the level of the audio after the hole and shifted over the hole's last
// quarter period to end exactly on its first sample. Being continuous at
// both ends, it needs no overlap-add into the received audio after it, which
// is played untouched. When nothing matches (correlation below 0.3: unvoiced
// sound, silence) it falls back to the one-sided method.
//
// # Differences from Appendix I
//
// Appendix I delays its output by 3.75 ms so that it can overlap-add the end
// of the real signal into the synthetic one at the start of a loss. This
// package adds no delay: at the start of a loss the synthetic signal is
// instead shifted to continue from the last real sample and the shift is
// faded out over a quarter period, which keeps the waveform continuous
// without touching audio already played. The same join is made when a loss
// resumes while the recovery overlap-add is still running, in which case the
// loss continues where it stopped (loop position and attenuation included)
// instead of starting afresh. Arithmetic is floating point.
//
// A Concealer is a clockless state machine: it counts samples, not time, and
// allocates nothing after New.
package plc

import (
	"fmt"
	"math"
)

// Timings at 8 kHz, from G.711 Appendix I. New scales them to the rate.
const (
	baseRate       = 8000
	baseMinPitch   = 40  // 5 ms, 200 Hz
	baseMaxPitch   = 120 // 15 ms, 66.7 Hz
	baseCorrLen    = 160 // 20 ms correlation window
	baseDecimation = 2   // coarse pitch search on every other sample
	baseTenMs      = 80
	baseFourMs     = 32
	maxPeriods     = 3 // widest loop, periods of history repeated
	// baseHistory is 48.75 ms: three longest periods plus a quarter of one.
	baseHistory = maxPeriods*baseMaxPitch + baseMaxPitch/4
	maxRate     = 6 * baseRate
	// tieMargin is how much better a longer lag must correlate to be chosen
	// over a shorter one, so a multiple of the period does not win a tie.
	tieMargin = 1e-6
	// subMultipleRatio is how well, relative to the best lag, a third or half
	// of it must correlate to be taken as the period instead.
	subMultipleRatio = 0.95
	// baseMatchLen is how much of the audio after a hole ConcealBefore
	// matches against the history: 2.5 ms. A longer match must reach
	// further back into the history, whose waveform is less like the hole's
	// (on the test speech, 5 ms scored 0.4 dB and 10 ms 1.5 dB lower SNR
	// over 5 ms holes).
	baseMatchLen = 20
	// minMatch is the normalised correlation below which the audio after a
	// hole is taken to have no counterpart in the history.
	minMatch = 0.3
	// maxMatchGain bounds the level the backward extrapolation is scaled
	// up by, so that a faint match cannot be blown up into a loud one.
	maxMatchGain = 1.5
)

type state uint8

const (
	stateIdle       state = iota // passing good audio through
	stateConcealing              // inside a loss
	stateRecovering              // overlap-adding the synthetic signal into good audio
)

// Concealer fills missing pieces of one audio stream. It is not safe for
// concurrent use; use one per stream.
type Concealer struct {
	// Sizes in samples at the stream's rate.
	historyLen int
	minPitch   int
	maxPitch   int
	corrLen    int
	decimation int
	matchLen   int
	tenMs      int
	fourMs     int
	silentFrom int // 60 ms: synthetic samples from here on are zero

	history []int16   // the newest historyLen output samples, oldest first
	source  []float64 // history as it was when the loss began: the loop's material

	state   state
	pitch   int // period of the loop, samples
	quarter int // pitch/4: overlap-add length at loop joins
	periods int // periods in the loop, 1..maxPeriods
	pos     int // next loop sample, 0..periods*pitch-1
	lost    int // synthetic samples made since the loss began, capped at silentFrom

	// Cross-fade from the narrower loop after widening; fadePeriods 0 = none.
	fadePeriods int
	fadePos     int
	fadeDone    int

	// Join correction: at the start (or resumption) of a loss the synthetic
	// signal is shifted by joinStep, fading to nothing over a quarter period.
	lastSynth float64 // the last synthetic sample made, before join correction
	joinStep  float64
	joinDone  int

	recoveryLen  int // samples of the overlap-add into good audio
	recoveryDone int
}

// New returns a Concealer for audio at sampleRate Hz, which must be a
// multiple of 8000 up to 48000 (telephone audio is 8000).
func New(sampleRate int) (*Concealer, error) {
	if sampleRate < baseRate || sampleRate > maxRate || sampleRate%baseRate != 0 {
		return nil, fmt.Errorf("plc: sample rate %d Hz: must be a multiple of %d up to %d", sampleRate, baseRate, maxRate)
	}
	k := sampleRate / baseRate
	c := &Concealer{
		historyLen: k * baseHistory,
		minPitch:   k * baseMinPitch,
		maxPitch:   k * baseMaxPitch,
		corrLen:    k * baseCorrLen,
		decimation: k * baseDecimation,
		matchLen:   k * baseMatchLen,
		tenMs:      k * baseTenMs,
		fourMs:     k * baseFourMs,
		silentFrom: 6 * k * baseTenMs,
	}
	c.history = make([]int16, c.historyLen)
	c.source = make([]float64, c.historyLen)
	return c, nil
}

// Reset forgets the history and any loss in progress, as at the start of a
// new stream.
func (c *Concealer) Reset() {
	clear(c.history)
	c.state = stateIdle
}

// Good passes a piece of correctly received audio through the concealer, in
// place: it records it as history, and if audio before it was concealed, it
// smooths the join by overlap-adding the continued synthetic signal into the
// start of pcm. The overlap-add may run on into the next pieces.
func (c *Concealer) Good(pcm []int16) {
	if len(pcm) == 0 {
		return
	}
	if c.state == stateConcealing {
		c.startRecovery()
	}
	if c.state == stateRecovering {
		n := min(len(pcm), c.recoveryLen-c.recoveryDone)
		for k := range pcm[:n] {
			synth := c.nextSynth() + c.nextJoinCorrection()
			c.recoveryDone++
			w := float64(c.recoveryDone) / float64(c.recoveryLen+1)
			pcm[k] = toInt16(w*float64(pcm[k]) + (1-w)*synth)
		}
		if c.recoveryDone == c.recoveryLen {
			c.state = stateIdle
		}
	}
	c.remember(pcm)
}

// Conceal fills out with a synthetic continuation of the audio so far, for a
// missing piece of any length (typically 5, 10 or 20 ms). Consecutive calls
// continue one loss.
func (c *Concealer) Conceal(out []int16) {
	if len(out) == 0 {
		return
	}
	switch c.state {
	case stateIdle:
		c.startLoss()
	case stateRecovering:
		// Lost again before the overlap-add finished: carry on with the same
		// synthetic signal, joined onto what was last played.
		c.startJoin(c.lastSynth)
		c.state = stateConcealing
	}
	for k := range out {
		out[k] = toInt16(c.nextSynth() + c.nextJoinCorrection())
	}
	c.remember(out)
}

// ConcealBefore fills out, a missing piece of any length, when the audio
// that follows it is known: next, the good samples that will be passed to
// Good right after out. Interleaving leaves such holes (a 5 ms unit between
// received units). The piece is interpolated from both sides: the synthetic
// continuation of the past that Conceal makes is cross-faded into a
// backward extrapolation of next, which is the stretch of the pre-loss
// history that precedes the best match for next's start, at the lag (one
// pitch period's worth of candidates past the hole) whose normalised
// correlation is highest, scaled to next's level. The backward part ends on
// next's first sample, so Good does not overlap-add anything into next. When
// no lag correlates well (unvoiced sound, silence, no history), or the loss
// has gone on too long for the history to reach, it does what Conceal does.
// next is only read.
func (c *Concealer) ConcealBefore(out, next []int16) {
	if len(out) == 0 {
		return
	}
	if len(next) == 0 {
		c.Conceal(out)
		return
	}
	if c.state != stateConcealing {
		// A fresh loss: the history holds everything up to the hole,
		// including a recovery still in progress.
		c.startLoss()
	}
	elapsed := c.lost // synthetic samples already made in this loss
	for k := range out {
		out[k] = toInt16(c.nextSynth() + c.nextJoinCorrection())
	}
	if c.blendBackward(out, next, elapsed) {
		c.state = stateIdle
	}
	c.remember(out)
}

// blendBackward cross-fades the forward synthetic signal in out, which
// starts elapsed samples into the loss, into the backward extrapolation of
// next, and reports whether a good enough match for next was found.
func (c *Concealer) blendBackward(out, next []int16, elapsed int) bool {
	h, n, l := c.historyLen, min(len(next), c.matchLen), len(out)
	if elapsed >= c.silentFrom {
		return false
	}
	// Lag tau maps next's first sample, elapsed+l samples into the loss, onto
	// source index h+elapsed+l-tau: the match must lie wholly in source, and
	// so must the hole's counterpart, which starts tau-l samples before it.
	lo := elapsed + l + n
	hi := min(lo+c.maxPitch, h+elapsed)
	if lo > hi {
		return false
	}
	var nn float64
	for _, v := range next[:n] {
		nn += float64(v) * float64(v)
	}
	if nn == 0 {
		return false
	}
	bestTau, bestScore, bestSS := 0, math.Inf(-1), 0.0
	for tau := lo; tau <= hi; tau++ {
		seg := c.source[h+elapsed+l-tau:]
		var xy, ss float64
		for i, v := range next[:n] {
			xy += float64(v) * seg[i]
			ss += seg[i] * seg[i]
		}
		if ss == 0 {
			continue
		}
		if s := xy / math.Sqrt(nn*ss); s > bestScore+tieMargin {
			bestTau, bestScore, bestSS = tau, s, ss
		}
	}
	if bestScore < minMatch {
		return false
	}
	gain := min(math.Sqrt(nn/bestSS), maxMatchGain)
	back := c.source[h+elapsed-bestTau:] // back[i] stands for out[i]
	// The sample after the hole's counterpart predicts next[0]; the rest of
	// the error is taken out over the hole's last quarter period so that the
	// join is continuous.
	miss := float64(next[0]) - gain*back[l]
	fix := max(min(c.quarter, l), 1)
	for i := range out {
		b := gain * back[i]
		if k := i - (l - fix); k >= 0 {
			b += miss * float64(k+1) / float64(fix+1)
		}
		w := float64(i+1) / float64(l+1)
		out[i] = toInt16((1-w)*float64(out[i]) + w*b)
	}
	return true
}

// startLoss sets up the synthetic signal from the history.
func (c *Concealer) startLoss() {
	for i, s := range c.history {
		c.source[i] = float64(s)
	}
	c.pitch = c.estimatePitch()
	c.quarter = c.pitch / 4
	c.periods, c.pos, c.lost, c.fadePeriods = 1, 0, 0, 0
	// The loop starts one period back; the sample before that is what the
	// synthetic signal continues from.
	c.startJoin(c.source[c.historyLen-c.pitch-1])
	c.state = stateConcealing
}

// startJoin arranges for the next synthetic samples to be shifted so that they
// continue from the last output sample as they would from predecessor.
func (c *Concealer) startJoin(predecessor float64) {
	c.joinStep = float64(c.history[c.historyLen-1]) - predecessor
	c.joinDone = 0
}

// nextJoinCorrection is the shift for the next synthetic sample.
func (c *Concealer) nextJoinCorrection() float64 {
	if c.joinDone >= c.quarter {
		return 0
	}
	r := c.joinStep * float64(c.quarter-c.joinDone) / float64(c.quarter)
	c.joinDone++
	return r
}

// startRecovery sizes the overlap-add into good audio: a quarter period, plus
// 4 ms for every 10 ms the loss lasted beyond the first, at most 10 ms.
func (c *Concealer) startRecovery() {
	extraTens := (c.lost - 1) / c.tenMs
	c.recoveryLen = min(c.quarter+extraTens*c.fourMs, c.tenMs)
	c.recoveryDone = 0
	c.state = stateRecovering
}

// nextSynth makes the next sample of the synthetic signal.
func (c *Concealer) nextSynth() float64 {
	if c.lost >= c.silentFrom {
		c.lastSynth = 0
		return 0
	}
	if c.lost > 0 && c.lost%c.tenMs == 0 && c.periods < maxPeriods {
		c.widen()
	}
	v := c.loopSample(c.periods, c.pos)
	c.pos = (c.pos + 1) % (c.periods * c.pitch)
	if c.fadePeriods != 0 {
		old := c.loopSample(c.fadePeriods, c.fadePos)
		c.fadePos = (c.fadePos + 1) % (c.fadePeriods * c.pitch)
		c.fadeDone++
		a := float64(c.fadeDone) / float64(c.quarter+1)
		v = a*v + (1-a)*old
		if c.fadeDone == c.quarter {
			c.fadePeriods = 0
		}
	}
	v *= c.gain(c.lost)
	c.lost++
	c.lastSynth = v
	return v
}

// widen adds the next older period to the loop. Reading goes on at the same
// phase in the new, oldest period, cross-faded from the old loop.
func (c *Concealer) widen() {
	c.fadePeriods, c.fadePos, c.fadeDone = c.periods, c.pos, 0
	c.periods++
	c.pos %= c.pitch
}

// loopSample is sample i of the loop over the last n periods of source. Its
// last quarter period is overlap-added with the quarter period before the
// loop's start, so that the loop ends where its start's predecessor is.
func (c *Concealer) loopSample(n, i int) float64 {
	start := c.historyLen - n*c.pitch
	tail := n*c.pitch - c.quarter
	if i < tail {
		return c.source[start+i]
	}
	k := i - tail
	a := float64(k+1) / float64(c.quarter+1)
	return (1-a)*c.source[start+i] + a*c.source[start-c.quarter+k]
}

// gain is the attenuation of synthetic sample t of a loss: none for 10 ms,
// then falling linearly by 0.2 per 10 ms to zero at 60 ms.
func (c *Concealer) gain(t int) float64 {
	if t < c.tenMs {
		return 1
	}
	return max(0, 1-0.2*float64(t-c.tenMs)/float64(c.tenMs))
}

// estimatePitch returns the lag, in minPitch..maxPitch, at which the newest
// corrLen samples of source correlate best with the samples before them:
// the best lag on the decimated signal, refined at full resolution, then
// replaced by a third or half of itself if that correlates nearly as well,
// since a periodic signal correlates as well at two periods as at one.
func (c *Concealer) estimatePitch() int {
	coarse, _ := c.bestLag(c.minPitch, c.maxPitch, c.decimation)
	best, score := c.bestLag(coarse-c.decimation+1, coarse+c.decimation-1, 1)
	if score <= 0 {
		return best
	}
	for m := maxPeriods; m >= 2; m-- {
		sub := (best + m/2) / m
		if lag, s := c.bestLag(sub-1, sub+1, 1); s >= subMultipleRatio*score {
			return lag
		}
	}
	return best
}

// bestLag returns the lag from lo to hi (clipped to minPitch..maxPitch),
// stepping by step, with the highest correlation, and that correlation. A
// longer lag must beat a shorter one by tieMargin. With no lag in range it
// returns minPitch and -Inf.
func (c *Concealer) bestLag(lo, hi, step int) (lag int, score float64) {
	lag, score = c.minPitch, math.Inf(-1)
	for l := max(lo, c.minPitch); l <= min(hi, c.maxPitch); l += step {
		if s := c.correlation(l, step); s > score+tieMargin {
			lag, score = l, s
		}
	}
	return lag, score
}

// correlation is the normalised correlation, in -1..1, of the newest corrLen
// samples of source with those lag samples earlier, using every step-th one.
func (c *Concealer) correlation(lag, step int) float64 {
	x := c.source[c.historyLen-c.corrLen:]
	y := c.source[c.historyLen-c.corrLen-lag : c.historyLen-lag]
	var xy, xx, yy float64
	for i := 0; i < c.corrLen; i += step {
		xy += x[i] * y[i]
		xx += x[i] * x[i]
		yy += y[i] * y[i]
	}
	if xx == 0 || yy == 0 {
		return 0
	}
	return xy / math.Sqrt(xx*yy)
}

// remember appends output samples to the history.
func (c *Concealer) remember(pcm []int16) {
	if len(pcm) >= c.historyLen {
		copy(c.history, pcm[len(pcm)-c.historyLen:])
		return
	}
	copy(c.history, c.history[len(pcm):])
	copy(c.history[c.historyLen-len(pcm):], pcm)
}

// toInt16 rounds v to the nearest sample value, clipping at full scale.
func toInt16(v float64) int16 {
	v = math.Round(v)
	switch {
	case v > math.MaxInt16:
		return math.MaxInt16
	case v < math.MinInt16:
		return math.MinInt16
	}
	return int16(v)
}
