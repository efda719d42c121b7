// Package timescale owns time-scale modification of decoded speech: making
// 8 kHz 16-bit mono audio shorter (accelerate) or longer (stretch) without
// changing its pitch, so that a playout buffer can drain or grow smoothly
// instead of dropping or inserting whole frames.
//
// A [Scaler] takes one frame at a time together with a wish (how many samples
// to remove or add) and writes a frame that is shorter or longer by whole
// pitch periods, joined by a waveform-similarity overlap-add (WSOLA, as in
// WebRTC NetEq's accelerate and preemptive expand or PJSIP's WSOLA). It
// reports the change it made, which may be less than was wished, or none.
//
// # Method
//
// The Scaler keeps the last 30 ms of its output as history and adds no delay:
// a cut is made inside the current frame, a repeat may reach back into the
// history. For every frame that should change it sorts the frame into silent,
// quiet (15 dB or more below the loudest recent frame), unvoiced (many zero
// crossings, little periodicity), voiced, or onset (four times the energy of
// the frame before). Silence is shortened or lengthened by exactly the wished
// number of samples (as far as the allowance goes) with a 2 ms cross-fade and
// no search. Otherwise the pitch period (5 to 15 ms) is found by normalised
// autocorrelation, a whole number of periods is removed or repeated at the
// quietest place in the frame, the lag is refined to the best match there,
// and the two sides are cross-faded over up to one period (at most 7.5 ms).
// Quiet and unvoiced frames are changed whenever asked, by as many periods
// as the wish and the allowance take; a voiced frame by one period, only when
// the rate allowance would otherwise be lost (so that the changes fall into
// the pauses, tails and fricatives around it) and only if the join correlates
// well; an onset never. Each frame ends on its own last sample, so
// the next one continues from it.
//
// # Rate bound
//
// The total change is bounded by a token bucket that fills by Rate samples
// for every input sample and holds at most [MaxChange]: over any run of
// frames the samples removed plus added are at most Rate times the input
// length plus MaxChange.
//
// A Scaler is a clockless state machine: it counts samples, not time, keeps
// bounded state preallocated by New, and allocates nothing per frame.
package timescale

import (
	"errors"
	"fmt"
	"math"
)

// Sizes at 8 kHz.
const (
	// SampleRate is the only rate a Scaler works at.
	SampleRate = 8000
	// MaxInput is the longest frame Process takes (60 ms).
	MaxInput = 480
	// MaxChange is the most one call removes or adds (15 ms, the longest
	// pitch period), and the capacity of the rate allowance.
	MaxChange = maxLag

	minLag      = 40  // 5 ms, 200 Hz: shortest pitch period searched
	maxLag      = 120 // 15 ms, 66.7 Hz: longest pitch period searched
	historyLen  = 240 // 30 ms of output kept for the search and for repeating
	pitchWindow = 80  // 10 ms correlated in the pitch search
	maxFade     = 60  // longest cross-fade of a pitch join
	minFade     = 16  // shortest cross-fade of a pitch join (2 ms)
	silenceFade = 16  // cross-fade of a join in silence
	refineLag   = 2   // lag refined by ± this many samples at the join
)

// Classification thresholds.
const (
	// silenceEnergy is the mean square below which a frame is silence (RMS
	// 30, about -61 dBFS).
	silenceEnergy = 30 * 30
	// quietRatio: a frame is quiet when its energy is this far below the
	// loudest recent frame (15 dB).
	quietRatio = 1.0 / 31.6
	// levelDecay is how much the loudest-recent-frame level falls per 20 ms
	// (0.04 dB, about 2 dB per second).
	levelDecay = 0.99
	// onsetRatio: a frame this many times louder than the one before starts
	// a sound and is never cut.
	onsetRatio = 4
	// voicedCorrelation is the normalised correlation at the pitch lag from
	// which a frame counts as voiced.
	voicedCorrelation = 0.6
	// unvoicedCrossings is the share of samples with a zero crossing from
	// which an aperiodic frame counts as unvoiced (a fricative).
	unvoicedCrossings = 0.25
	// minJoinCorrelation: a voiced join that matches worse than this is not
	// made.
	minJoinCorrelation = 0.5
	// subharmonicRatio: a half or a third of the best lag is preferred when
	// it correlates this well relative to the best.
	subharmonicRatio = 0.9
)

// DefaultRate is the rate bound New uses for a zero Config.Rate: at most 10 %
// of the input removed or added. Measured on the bundled speech sample asking
// for all the rate allows, at 10 % six joins in ten still fall into silence
// and the others change the spectrum around them by under 1 dB (log-spectral
// distance in mel bands) on average; at 20 % fewer than half fall into
// silence and the mean passes 1 dB. 10 % drains or builds 100 ms of playout
// delay in a second of speech.
const DefaultRate = 0.10

// Errors Process returns for bad arguments.
var (
	ErrInputTooLong = errors.New("timescale: frame longer than MaxInput")
	ErrOutputShort  = errors.New("timescale: output buffer shorter than the input")
)

// Config sets up a Scaler.
type Config struct {
	// Rate bounds the change: at most this share of the input is removed or
	// added, on average (see the package doc). 0 means DefaultRate; it must be
	// in (0, 1].
	Rate float64
}

// A Scaler shortens or lengthens speech frame by frame. The zero value is not
// usable; call New.
type Scaler struct {
	rate   float64
	bucket float64 // rate allowance in samples, at most MaxChange

	// work holds the history (its newest histLen samples end at historyLen)
	// followed by the current frame, as float32 for the analysis.
	work    [historyLen + MaxInput]float32
	energy  [historyLen + MaxInput + 1]float64 // prefix sums of work squared
	histLen int

	level   float64 // energy of the loudest recent frame, decaying
	prevE   float64 // energy of the previous frame
	stats   Stats
	eagerly bool // tests only: change any non-silent frame when asked
}

// Stats counts what a Scaler did.
type Stats struct {
	Removed, Added int64 // samples removed and added
	Joins          int64 // joins made (each removes or adds once)
	SilentJoins    int64 // of which in silence
	Deferred       int64 // frames asked to change that were left alone
}

// New returns a Scaler with empty history and a full rate allowance.
func New(cfg Config) (*Scaler, error) {
	rate := cfg.Rate
	if rate == 0 {
		rate = DefaultRate
	}
	if !(rate > 0 && rate <= 1) { // also refuses NaN
		return nil, fmt.Errorf("timescale: rate %v outside (0, 1]", cfg.Rate)
	}
	return &Scaler{rate: rate, bucket: MaxChange}, nil
}

// Rate is the rate bound in use.
func (s *Scaler) Rate() float64 { return s.rate }

// Stats reports what the Scaler has done so far.
func (s *Scaler) Stats() Stats { return s.stats }

// Gap tells the Scaler that audio it did not see was played since its last
// frame (a concealed loss, a new talk spurt), so that it does not overlap or
// repeat across it. The rate allowance is kept.
func (s *Scaler) Gap() {
	s.histLen = 0
	s.prevE = 0
}

// Process time-scales one frame. in holds the frame (at most MaxInput
// samples); want is the wished change in samples, negative to shorten and
// positive to lengthen. The result goes to out[:len(in)+change]; out must be
// at least as long as in, and any room beyond len(in) bounds how much can be
// added (len(in)+MaxChange is always enough). change has the sign of want
// (or is zero) and |change| ≤ |want|. Process does not keep in or out.
//
// In sound the change comes in whole pitch periods (5 to 15 ms), so want
// should be the whole change still wished for (the playout buffer's excess or
// shortfall), not a per-frame step: a wish smaller than the period waits for
// silence, where any number of samples can go.
func (s *Scaler) Process(out, in []int16, want int) (change int, err error) {
	n := len(in)
	if n > MaxInput {
		return 0, fmt.Errorf("%w: %d samples", ErrInputTooLong, n)
	}
	if len(out) < n {
		return 0, fmt.Errorf("%w: %d < %d", ErrOutputShort, len(out), n)
	}
	want = max(-MaxChange, min(want, MaxChange, len(out)-n))
	s.bucket = min(s.bucket+s.rate*float64(n), MaxChange)
	s.load(in)
	e, crossings := s.frameEnergy(n)

	if want != 0 && n > 0 {
		s.sumEnergy(n)
		change = s.scale(out, in, want, e, crossings)
	}
	if change == 0 {
		copy(out, in)
	}
	s.level = max(e, s.level*math.Pow(levelDecay, float64(n)/(SampleRate/50)))
	s.prevE = e
	s.remember(out[:n+change])
	return change, nil
}

// scale makes the change for one frame, writing out, and returns it (0 if
// the frame is left alone and out untouched).
func (s *Scaler) scale(out, in []int16, want int, e float64, crossings int) int {
	n := len(in)
	budget := min(abs(want), int(s.bucket))
	if budget <= 0 {
		s.stats.Deferred++
		return 0
	}
	var change int
	if e < silenceEnergy {
		change = s.scaleSilence(out, in, want, budget)
		if change != 0 {
			s.stats.SilentJoins++
		}
	} else {
		lag, corr := s.pitch(n)
		quiet := e < s.level*quietRatio
		unvoiced := corr < minJoinCorrelation && float64(crossings) > unvoicedCrossings*float64(n)
		onset := e > onsetRatio*s.prevE
		voiced := corr >= voicedCorrelation
		// A loud voiced frame is changed only when waiting would waste
		// allowance: the bucket would overflow with the next frame.
		full := s.bucket+s.rate*float64(n) > MaxChange
		allowed := !onset && (quiet || unvoiced || (voiced && full))
		allowed = allowed || (s.eagerly && lag > 0)
		if allowed && lag > 0 && lag <= budget {
			change = s.scalePitch(out, in, want, lag, budget, quiet || unvoiced)
		}
	}
	if change == 0 {
		s.stats.Deferred++
		return 0
	}
	s.bucket -= float64(abs(change))
	s.stats.Joins++
	if change < 0 {
		s.stats.Removed -= int64(change)
	} else {
		s.stats.Added += int64(change)
	}
	return change
}

// scaleSilence removes or repeats exactly budget samples (fewer if the frame
// or the history is too short), which in silence needs no pitch.
func (s *Scaler) scaleSilence(out, in []int16, want, budget int) int {
	n := len(in)
	if want < 0 {
		// One sample after the fade is kept so that the frame ends on its
		// own last sample, from which the next frame continues.
		lag := min(budget, n-2)
		if lag <= 0 {
			return 0
		}
		fade := min(silenceFade, n-lag-1)
		s.shorten(out, in, 0, lag, fade)
		return -lag
	}
	fade := min(silenceFade, n)
	at := n - fade
	lag := min(budget, s.histLen+at)
	// Repeat history only if it is silent too, or a word's end comes back.
	from := historyLen + at - lag
	if lag > at && s.energy[historyLen+at]-s.energy[from] >= silenceEnergy*float64(lag) {
		lag = min(lag, at)
	}
	if lag <= 0 {
		return 0
	}
	s.stretch(out, in, at, lag, fade)
	return lag
}

// scalePitch removes or repeats a whole number of pitch periods at the
// quietest place in the frame. loose allows a poorly matching join and more
// than one period at once (quiet and unvoiced sound, where a mismatch is not
// heard); otherwise a single period goes, as a longer jump in voiced speech
// is easier to hear.
func (s *Scaler) scalePitch(out, in []int16, want, period, budget int, loose bool) int {
	n := len(in)
	periods := budget / period
	if !loose {
		periods = min(periods, 1)
	}
	if want < 0 {
		// The cut and its fade must fit in this frame (the history has
		// been played), ending before its last sample, from which the next
		// frame continues.
		periods = min(periods, (n-minFade-1)/period)
		if periods < 1 {
			return 0
		}
		lag := periods * period
		fade := min(period, maxFade, n-lag-1)
		at := s.quietest(0, n-lag-fade-1, lag+fade, 0)
		lag, corr := s.refine(at, lag, fade, n, budget, true)
		if corr < minJoinCorrelation && !loose {
			return 0
		}
		s.shorten(out, in, at, lag, fade)
		return -lag
	}
	periods = min(periods, (s.histLen+n-minFade)/period)
	if periods < 1 {
		return 0
	}
	lag := periods * period
	fade := min(period, maxFade, n)
	first := max(0, lag+refineLag-s.histLen)
	last := n - fade
	if first > last {
		first = max(0, lag-s.histLen)
		if first > last {
			return 0
		}
	}
	at := s.quietest(first, last, lag+fade, -lag)
	lag, corr := s.refine(at, lag, fade, n, budget, false)
	if corr < minJoinCorrelation && !loose {
		return 0
	}
	s.stretch(out, in, at, lag, fade)
	return lag
}

// quietest returns the position p in [first, last] where the span of width
// samples starting at p+offset (frame coordinates) has the least energy.
func (s *Scaler) quietest(first, last, width, offset int) int {
	best, bestE := first, math.Inf(1)
	for p := first; p <= last; p++ {
		from := historyLen + p + offset
		e := s.energy[from+width] - s.energy[from]
		if e < bestE {
			best, bestE = p, e
		}
	}
	return best
}

// refine searches lags within refineLag of lag for the one whose fade window
// best matches the one at frame position at, and returns it with its
// normalised correlation. A shortening join compares with the audio lag
// later, a stretching one with the audio lag earlier; both stay within the
// frame, the history and the budget.
func (s *Scaler) refine(at, lag, fade, n, budget int, shortening bool) (int, float64) {
	a := s.work[historyLen+at : historyLen+at+fade]
	bestLag, bestCorr := lag, math.Inf(-1)
	for l := lag - refineLag; l <= lag+refineLag; l++ {
		if l < 1 || l > budget {
			continue
		}
		var from int
		if shortening {
			if at+l+fade >= n {
				continue
			}
			from = historyLen + at + l
		} else {
			if at-l < -s.histLen {
				continue
			}
			from = historyLen + at - l
		}
		c := correlation(a, s.work[from:from+fade], 1)
		if c > bestCorr {
			bestLag, bestCorr = l, c
		}
	}
	return bestLag, bestCorr
}

// shorten writes in without the lag samples after at, cross-fading in[at:]
// into in[at+lag:] over fade samples.
func (s *Scaler) shorten(out, in []int16, at, lag, fade int) {
	copy(out, in[:at])
	step := 1 / float32(fade+1)
	for k := range fade {
		w := float32(k+1) * step
		out[at+k] = toInt16((1-w)*float32(in[at+k]) + w*float32(in[at+lag+k]))
	}
	copy(out[at+fade:], in[at+lag+fade:])
}

// stretch writes in with lag samples repeated: after at it cross-fades
// in[at:] into the audio lag samples earlier (reaching into the history if
// need be) over fade samples and goes on from there.
func (s *Scaler) stretch(out, in []int16, at, lag, fade int) {
	copy(out, in[:at])
	step := 1 / float32(fade+1)
	back := historyLen + at - lag // index of the repeated audio in work
	for k := range fade {
		w := float32(k+1) * step
		out[at+k] = toInt16((1-w)*float32(in[at+k]) + w*s.work[back+k])
	}
	// The rest is the audio from at-lag+fade on: history first, then in.
	p := at + fade
	for j := at - lag + fade; j < 0; j++ {
		out[p] = int16(s.work[historyLen+j])
		p++
	}
	copy(out[p:], in[max(0, at-lag+fade):])
}

// load puts the frame after the history in work.
func (s *Scaler) load(in []int16) {
	for i, v := range in {
		s.work[historyLen+i] = float32(v)
	}
}

// sumEnergy fills the energy prefix sums over the history and a frame of n
// samples.
func (s *Scaler) sumEnergy(n int) {
	start := historyLen - s.histLen
	end := historyLen + n
	s.energy[start] = 0
	acc := 0.0
	for i := start; i < end; i++ {
		v := float64(s.work[i])
		acc += v * v
		s.energy[i+1] = acc
	}
}

// frameEnergy returns the frame's mean square and its zero crossings.
func (s *Scaler) frameEnergy(n int) (float64, int) {
	if n == 0 {
		return 0, 0
	}
	x := s.work[historyLen : historyLen+n]
	sum := float64(x[0]) * float64(x[0])
	crossings := 0
	for i := 1; i < n; i++ {
		sum += float64(x[i]) * float64(x[i])
		if (x[i] >= 0) != (x[i-1] >= 0) {
			crossings++
		}
	}
	return sum / float64(n), crossings
}

// remember makes the newest historyLen samples of history followed by out
// the new history.
func (s *Scaler) remember(out []int16) {
	m := len(out)
	if m >= historyLen {
		for i, v := range out[m-historyLen:] {
			s.work[i] = float32(v)
		}
		s.histLen = historyLen
		return
	}
	copy(s.work[:historyLen-m], s.work[m:historyLen])
	for i, v := range out {
		s.work[historyLen-m+i] = float32(v)
	}
	s.histLen = min(historyLen, s.histLen+m)
}

// pitch estimates the pitch period at the end of the frame (history and
// frame together) by normalised autocorrelation of the newest pitchWindow
// samples: a coarse search on every other sample and lag, a full-resolution
// one around the best, then a preference for a half or a third of it. It
// returns 0 when there is too little audio.
func (s *Scaler) pitch(n int) (lag int, corr float64) {
	end := historyLen + n
	start := historyLen - s.histLen
	window := pitchWindow
	hi := min(maxLag, end-window-start)
	if hi < minLag {
		return 0, 0
	}
	a := s.work[end-window : end]
	best, bestCorr := 0, 0.0
	for l := minLag; l <= hi; l += 2 {
		c := correlation(a, s.work[end-window-l:end-l], 2)
		if c > bestCorr {
			best, bestCorr = l, c
		}
	}
	if best == 0 {
		return 0, 0
	}
	full, fullCorr := s.bestNear(a, end, best, 1, hi)
	lag, corr = full, fullCorr
	for _, div := range [2]int{2, 3} {
		l := (full + div/2) / div
		if l+1 < minLag {
			break
		}
		if sl, sc := s.bestNear(a, end, l, 1, hi); sc >= subharmonicRatio*fullCorr {
			lag, corr = sl, sc
		}
	}
	return lag, corr
}

// bestNear returns the lag within radius of lag (and within [minLag, hi])
// whose audio best matches a, the window ending at end.
func (s *Scaler) bestNear(a []float32, end, lag, radius, hi int) (int, float64) {
	bestLag, bestCorr := 0, math.Inf(-1)
	for l := max(minLag, lag-radius); l <= min(hi, lag+radius); l++ {
		c := correlation(a, s.work[end-len(a)-l:end-l], 1)
		if c > bestCorr {
			bestLag, bestCorr = l, c
		}
	}
	return bestLag, bestCorr
}

// correlation is the normalised cross-correlation of a and b (same length)
// over every step-th sample, 0 if either is all zero there. A step of 2
// halves the cost of a coarse search.
func correlation(a, b []float32, step int) float64 {
	b = b[:len(a)]
	var ab, aa, bb float32
	for i := 0; i < len(a); i += step {
		x, y := a[i], b[i]
		ab += x * y
		aa += x * x
		bb += y * y
	}
	if aa <= 0 || bb <= 0 {
		return 0
	}
	return float64(ab) / math.Sqrt(float64(aa)*float64(bb))
}

func toInt16(v float32) int16 {
	v = float32(math.Round(float64(v)))
	return int16(max(math.MinInt16, min(v, math.MaxInt16)))
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
