//go:build cgo && !nodevice

package device

import (
	"os"
	"syscall"

	"github.com/gordonklaus/portaudio"
)

// initialize initialises PortAudio with the process's standard error pointed
// at /dev/null: ALSA and JACK print dozens of lines there while PortAudio
// probes for cards and servers that do not exist, on every machine without
// them, and none of it is an error of ours. SPURT_AUDIO_DEBUG=1 keeps them.
// Callers hold portAudioMu.
func initialize() error {
	if os.Getenv("SPURT_AUDIO_DEBUG") != "" {
		return portaudio.Initialize()
	}
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		return portaudio.Initialize()
	}
	defer devNull.Close()
	saved, err := syscall.Dup(2)
	if err != nil {
		return portaudio.Initialize()
	}
	defer syscall.Close(saved)
	if err := syscall.Dup3(int(devNull.Fd()), 2, 0); err != nil {
		return portaudio.Initialize()
	}
	defer syscall.Dup3(saved, 2, 0)
	return portaudio.Initialize()
}
