// Package device owns sound cards through PortAudio: listing them and opening
// a microphone as an audio.Source or a speaker as an audio.Sink at Spurt's
// 8 kHz mono 16-bit format, resampling when a card will not run at 8 kHz.
//
// It needs cgo and the PortAudio library. Built without cgo or with the
// nodevice tag, every function returns ErrUnavailable, so the rest of Spurt
// still builds and works with WAV files.
package device

import "errors"

// ErrUnavailable is returned by every function of a build without sound-card
// support.
var ErrUnavailable = errors.New("built without sound-card support (cgo disabled or nodevice tag); use --in/--out files")

// ErrNotFound is returned (wrapped) when no sound device matches a name.
var ErrNotFound = errors.New("no such sound device")

// Info describes one sound device.
type Info struct {
	Name              string // what OpenInput and OpenOutput take
	HostAPI           string // e.g. "ALSA", "Core Audio", "Windows WASAPI"
	MaxInputChannels  int
	MaxOutputChannels int
	DefaultInput      bool // the system's default microphone
	DefaultOutput     bool // the system's default speaker
}
