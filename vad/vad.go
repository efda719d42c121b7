// Package vad owns voice activity detection: deciding, frame by frame, whether
// a 20 ms frame is speech, so that the sender can suppress silence and form
// talk spurts.
//
// The Detector compares each frame's energy with a noise floor it tracks from
// the input itself: the floor follows the quietest frames down at once and
// creeps up slowly, so steady background noise is learnt within a second or
// two while the gaps between words keep the floor from climbing into speech.
// A frame is loud when its level is MarginDB above the floor and above
// MinLevelDB. Onset loud frames in a row open a talk spurt; the spurt is held
// open for Hangover frames after the last loud frame so that quiet word
// endings and short pauses are not chopped.
//
// A steady tone is a signal, not background noise: a frame whose samples a
// second-order linear predictor foretells to within 20 dB (tonalResidual) (a sine is
// foretold exactly; noise and the spectrum of speech are not) raises the floor
// no higher than tonalFloorDB, so a tone well above typical room noise is sent
// for as long as it lasts, while a faint hum is still learnt as noise.
//
// Levels are RMS in dBFS relative to a full-scale square wave (a full-scale
// sine is -3 dBFS). The Detector is a clockless state machine: one decision per
// call, in frame order. The adaptation rates assume 20 ms frames.
package vad

import (
	"fmt"
	"math"
)

const (
	// noiseRiseDB is how far the noise floor may rise per frame: 5 dB/s at 20 ms.
	noiseRiseDB = 0.1
	// silenceDB stands for the level of an all-zero frame, whose log is -Inf.
	silenceDB = -200.0
	// fullScalePower is the mean square of a full-scale square wave.
	fullScalePower = 32768.0 * 32768.0
	// tonalResidual is the prediction gain (residual over signal power, here
	// 20 dB) from which a frame counts as a tone: white noise gains about
	// 0 dB, speech rarely more than 10 dB, a clean sine 40 dB or more.
	tonalResidual = 0.01
	// tonalFloorDB is as high as tonal frames may raise the noise floor: the
	// level of quiet room noise, so tones louder than tonalFloorDB+MarginDB
	// stay speech.
	tonalFloorDB = -50.0
)

// Config tunes a Detector. Start from DefaultConfig.
type Config struct {
	Hangover   int     // frames kept as speech after energy drops (default 10 = 200 ms) so spurts don't chop words; >= 0
	Onset      int     // consecutive loud frames needed to open a spurt (default 1); >= 1
	MarginDB   float64 // how far above the tracked noise floor a frame must be to be loud (default 10 dB); >= 0
	MinLevelDB float64 // absolute level in dBFS at or below which nothing is speech (default -55 dBFS); <= 0
}

// DefaultConfig returns settings for 8 kHz telephone speech in 20 ms frames.
// Onset is 1 so that no word loses its first frame; the noise floor, not the
// onset, is what keeps background noise out.
func DefaultConfig() Config {
	return Config{Hangover: 10, Onset: 1, MarginDB: 10, MinLevelDB: -55}
}

// Detector decides frame by frame whether the input is speech.
// It is not safe for concurrent use; use one per stream.
type Detector struct {
	cfg Config
	// lowestFloorDB bounds the noise floor from below. Any floor under it gives
	// the same threshold (MinLevelDB), so bounding it stops one digitally silent
	// frame from dragging the floor so low that it takes minutes to recover.
	lowestFloorDB float64
	floorDB       float64 // tracked noise floor
	loudRun       int     // consecutive loud frames ending at the last one, capped at Onset
	holdFrames    int     // frames still to be marked speech, counting down
}

// New returns a Detector for cfg, or an error naming the first invalid field.
func New(cfg Config) (*Detector, error) {
	switch {
	case cfg.Hangover < 0:
		return nil, fmt.Errorf("vad: Hangover %d frames: must not be negative", cfg.Hangover)
	case cfg.Onset < 1:
		return nil, fmt.Errorf("vad: Onset %d frames: must be at least 1", cfg.Onset)
	case math.IsNaN(cfg.MarginDB) || math.IsInf(cfg.MarginDB, 0) || cfg.MarginDB < 0:
		return nil, fmt.Errorf("vad: MarginDB %v: must be a finite number of dB >= 0", cfg.MarginDB)
	case math.IsNaN(cfg.MinLevelDB) || cfg.MinLevelDB < silenceDB || cfg.MinLevelDB > 0:
		return nil, fmt.Errorf("vad: MinLevelDB %v: must be in dBFS from %v to 0", cfg.MinLevelDB, silenceDB)
	}
	lowest := cfg.MinLevelDB - cfg.MarginDB
	return &Detector{cfg: cfg, lowestFloorDB: lowest, floorDB: lowest}, nil
}

// Speech takes the next frame of 16-bit PCM and reports whether it is speech.
// An empty frame carries no level: it counts as a quiet frame and leaves the
// noise floor alone.
func (d *Detector) Speech(frame []int16) bool {
	loud := false
	if len(frame) > 0 {
		level := levelDB(frame)
		threshold := max(d.floorDB+d.cfg.MarginDB, d.cfg.MinLevelDB)
		loud = level > threshold
		d.trackFloor(level, tonal(frame))
	}

	if loud {
		d.loudRun = min(d.loudRun+1, d.cfg.Onset)
	} else {
		d.loudRun = 0
	}
	inSpurt := d.holdFrames > 0
	if loud && (inSpurt || d.loudRun >= d.cfg.Onset) {
		d.holdFrames = d.cfg.Hangover + 1 // this frame, then the hangover
	}
	if d.holdFrames == 0 {
		return false
	}
	d.holdFrames--
	return true
}

// trackFloor moves the noise floor towards level: down at once, up slowly,
// and for a tonal frame no higher than tonalFloorDB.
func (d *Detector) trackFloor(level float64, tonal bool) {
	if level < d.floorDB {
		d.floorDB = max(level, d.lowestFloorDB)
		return
	}
	ceiling := level
	if tonal {
		ceiling = min(level, max(tonalFloorDB, d.floorDB))
	}
	d.floorDB += max(0, min(ceiling-d.floorDB, noiseRiseDB))
}

// tonal reports whether the best second-order linear predictor of the
// frame's samples (least squares over the frame, the covariance method)
// leaves a residual at most tonalResidual of their power: a sine satisfies
// x[n] = 2cos(w)x[n-1] - x[n-2] exactly.
func tonal(frame []int16) bool {
	// p[i][j] is the sum over n of x[n-i]*x[n-j], n from 2 to the end.
	var p00, p01, p02, p11, p12, p22 float64
	for n := 2; n < len(frame); n++ {
		x0, x1, x2 := float64(frame[n]), float64(frame[n-1]), float64(frame[n-2])
		p00 += x0 * x0
		p01 += x0 * x1
		p02 += x0 * x2
		p11 += x1 * x1
		p12 += x1 * x2
		p22 += x2 * x2
	}
	det := p11*p22 - p12*p12
	if p00 == 0 || det <= 0 {
		return false // silence, or too little signal to fit a predictor
	}
	a1 := (p01*p22 - p02*p12) / det
	a2 := (p02*p11 - p01*p12) / det
	residual := p00 - a1*p01 - a2*p02
	return residual <= p00*tonalResidual
}

// levelDB returns the RMS level of frame in dBFS; frame must not be empty.
func levelDB(frame []int16) float64 {
	var sum int64 // at most 2^30 per sample: no overflow below 2^33 samples
	for _, s := range frame {
		sum += int64(s) * int64(s)
	}
	if sum == 0 {
		return silenceDB
	}
	return 10 * math.Log10(float64(sum)/float64(len(frame))/fullScalePower)
}
