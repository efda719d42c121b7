//go:build cgo && !nodevice && !linux

package device

import "github.com/gordonklaus/portaudio"

// initialize initialises PortAudio; only Linux's ALSA and JACK are noisy
// enough to need quieting (quiet_linux.go).
func initialize() error { return portaudio.Initialize() }
