//go:build !cgo || nodevice

package device

import (
	"fmt"

	"github.com/spurtvoip/spurt/audio"
)

// List reports the sound devices; in this build there are none.
func List() ([]Info, error) {
	return nil, fmt.Errorf("device: list: %w", ErrUnavailable)
}

// OpenInput opens a microphone; in this build it always fails.
func OpenInput(name string) (audio.Source, error) {
	return nil, fmt.Errorf("device: open input %q: %w", name, ErrUnavailable)
}

// OpenOutput opens a speaker; in this build it always fails.
func OpenOutput(name string) (audio.Sink, error) {
	return nil, fmt.Errorf("device: open output %q: %w", name, ErrUnavailable)
}

// CheckInput reports whether a microphone can be opened; in this build none can.
func CheckInput(name string) error {
	return fmt.Errorf("device: input %q: %w", name, ErrUnavailable)
}

// CheckOutput reports whether a speaker can be opened; in this build none can.
func CheckOutput(name string) error {
	return fmt.Errorf("device: output %q: %w", name, ErrUnavailable)
}
