// Package spurt is the module's root. It holds the files the module bundles
// for its commands: the speech sample, embedded so that `call bench --source
// speech` finds it wherever the binary runs.
package spurt

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spurtvoip/spurt/audio"
)

// speechWAV is testdata/speech.wav: 9 s of espeak-ng speech as an 8 kHz
// mono 16-bit WAV file, made by scripts/make-speech.sh.
//
//go:embed testdata/speech.wav
var speechWAV string

// SpeechSample returns the bundled speech sample's samples, as
// audio.ReadWAVFile reads testdata/speech.wav.
func SpeechSample() ([]int16, error) {
	r, err := audio.NewWAVReader(strings.NewReader(speechWAV))
	if err != nil {
		return nil, fmt.Errorf("bundled speech sample: %w", err)
	}
	samples := int(r.Duration() / (time.Second / audio.SampleRate))
	pcm := make([]int16, 0, r.Frames()*audio.FrameSamples)
	frame := make([]int16, audio.FrameSamples)
	for range r.Frames() + 1 {
		err := r.ReadFrame(frame)
		if errors.Is(err, io.EOF) {
			return pcm[:min(samples, len(pcm))], nil // the last frame was padded
		}
		if err != nil {
			return nil, fmt.Errorf("bundled speech sample: %w", err)
		}
		pcm = append(pcm, frame...)
	}
	return nil, errors.New("bundled speech sample: longer than its header says")
}
