package bench

import (
	"math"
	"math/rand/v2"
	"time"

	"github.com/spurtvoip/spurt/vad"
)

// Means of the synthetic on/off speech model: exponentially distributed talk
// spurts of 1.0 s and silences of 1.35 s on average, the classic two-state
// model of a single talker's speech activity (Brady, 1969, measured means of
// about this size), giving about 43 % activity.
const (
	SyntheticTalkMean    = 1000 * time.Millisecond
	SyntheticSilenceMean = 1350 * time.Millisecond
)

// loudAmplitude is the synthetic talk frames' sample magnitude: a random-sign
// square wave at -6 dBFS, far enough above the VAD's noise floor that even a
// 10 s spurt stays speech while the floor creeps up.
const loudAmplitude = 16384

// source produces the frames of one talker. It is a clockless generator:
// frame n is the n-th 20 ms frame.
type source interface {
	// next returns the next frame; the slice is valid until the next call.
	next() []int16
}

// synthetic is the on/off model: loud frames during talk, digital silence
// between. Fed through a VAD with no hangover, the talk spurts the sender
// forms are exactly the model's.
type synthetic struct {
	rng           *rand.Rand
	frame         time.Duration
	talking       bool
	left          int // frames left in the current period
	loud, silence []int16
}

func newSynthetic(seed uint64, frameSamples int, frame time.Duration) *synthetic {
	rng := rand.New(rand.NewPCG(seed, 0x73706565636800)) // "speech"
	loud := make([]int16, frameSamples)
	for i := range loud {
		loud[i] = loudAmplitude
		if rng.IntN(2) == 0 {
			loud[i] = -loudAmplitude
		}
	}
	s := &synthetic{rng: rng, frame: frame, loud: loud, silence: make([]int16, frameSamples)}
	s.talking = rng.Float64() < float64(SyntheticTalkMean)/float64(SyntheticTalkMean+SyntheticSilenceMean)
	s.left = s.period()
	return s
}

// period draws the length in frames of the period now starting, at least one.
func (s *synthetic) period() int {
	mean := SyntheticSilenceMean
	if s.talking {
		mean = SyntheticTalkMean
	}
	return max(1, int(math.Round(s.rng.ExpFloat64()*float64(mean)/float64(s.frame))))
}

func (s *synthetic) next() []int16 {
	if s.left == 0 {
		s.talking = !s.talking
		s.left = s.period()
	}
	s.left--
	if s.talking {
		return s.loud
	}
	return s.silence
}

// looped plays recorded speech over and over, from a starting offset.
type looped struct {
	pcm   []int16 // a whole number of frames
	pos   int
	frame int
}

func newLooped(pcm []int16, frameSamples, start int) *looped {
	n := len(pcm) / frameSamples * frameSamples
	return &looped{pcm: pcm[:n], pos: start % n / frameSamples * frameSamples, frame: frameSamples}
}

func (l *looped) next() []int16 {
	f := l.pcm[l.pos : l.pos+l.frame]
	l.pos += l.frame
	if l.pos == len(l.pcm) {
		l.pos = 0
	}
	return f
}

// syntheticVAD is the detector the synthetic source goes through: the
// default one without hangover, so that spurts are the model's own.
func syntheticVAD() (*vad.Detector, error) {
	cfg := vad.DefaultConfig()
	cfg.Hangover = 0
	return vad.New(cfg)
}
