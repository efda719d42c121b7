package device

import (
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
)

// These tests run in both builds: with PortAudio (cgo, no nodevice tag) they
// talk to whatever sound devices the machine has, possibly none; without it
// they check every function reports ErrUnavailable.

func TestList(t *testing.T) {
	devices, err := List()
	if errors.Is(err, ErrUnavailable) {
		if devices != nil {
			t.Errorf("List returned devices %v with ErrUnavailable", devices)
		}
		return
	}
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	defaultsIn, defaultsOut := 0, 0
	for _, d := range devices {
		t.Logf("%+v", d)
		if d.Name == "" || d.MaxInputChannels < 0 || d.MaxOutputChannels < 0 {
			t.Errorf("implausible device %+v", d)
		}
		if d.DefaultInput {
			defaultsIn++
			if d.MaxInputChannels < 1 {
				t.Errorf("default input %q has no input channels", d.Name)
			}
		}
		if d.DefaultOutput {
			defaultsOut++
			if d.MaxOutputChannels < 1 {
				t.Errorf("default output %q has no output channels", d.Name)
			}
		}
	}
	if defaultsIn > 1 || defaultsOut > 1 {
		t.Errorf("%d default inputs and %d default outputs", defaultsIn, defaultsOut)
	}
	// Listing twice must work: initialisation is released each time.
	again, err := List()
	if err != nil || len(again) != len(devices) {
		t.Errorf("second List: %d devices, %v; first had %d", len(again), err, len(devices))
	}
}

func TestOpenMissingDevice(t *testing.T) {
	const name = "no such sound card 7f3a"
	_, listErr := List()
	in, err := OpenInput(name)
	if err == nil {
		_ = in.Close()
		t.Fatal("OpenInput of a missing device succeeded")
	}
	out, err2 := OpenOutput(name)
	if err2 == nil {
		_ = out.Close()
		t.Fatal("OpenOutput of a missing device succeeded")
	}
	for _, err := range []error{err, err2} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name the device", err)
		}
		switch {
		case errors.Is(listErr, ErrUnavailable):
			if !errors.Is(err, ErrUnavailable) {
				t.Errorf("error %v, want ErrUnavailable", err)
			}
		case listErr == nil:
			if !errors.Is(err, ErrNotFound) {
				t.Errorf("error %v, want ErrNotFound", err)
			}
		}
	}
}

func TestOpenDefaultWithoutDevices(t *testing.T) {
	devices, err := List()
	if err != nil {
		t.Skipf("no PortAudio: %v", err)
	}
	for _, d := range devices {
		if d.DefaultInput || d.DefaultOutput {
			t.Skip("this machine has a default sound device; set SPURT_TEST_SOUNDCARD=1 to exercise it")
		}
	}
	if in, err := OpenInput(""); err == nil {
		_ = in.Close()
		t.Error("OpenInput(\"\") succeeded with no default input device")
	}
	if out, err := OpenOutput(""); err == nil {
		_ = out.Close()
		t.Error("OpenOutput(\"\") succeeded with no default output device")
	}
}

// TestSoundCard plays a tone and records from the default devices. It needs
// real hardware, so it runs only with SPURT_TEST_SOUNDCARD=1.
func TestSoundCard(t *testing.T) {
	if os.Getenv("SPURT_TEST_SOUNDCARD") != "1" {
		t.Skip("set SPURT_TEST_SOUNDCARD=1 to test the default sound devices")
	}
	out, err := OpenOutput("")
	if err != nil {
		t.Fatal(err)
	}
	tone := audio.NewTone(440, 3000, 500*time.Millisecond)
	frame := make([]int16, audio.FrameSamples)
	start := time.Now()
	for range 25 {
		if err := tone.ReadFrame(frame); err != nil {
			t.Fatal(err)
		}
		if err := out.WriteSamples(frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 400*time.Millisecond {
		t.Errorf("playing 500 ms took only %v: output does not pace itself", elapsed)
	}
	in, err := OpenInput("")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	start = time.Now()
	for range 25 {
		if err := in.ReadFrame(frame); err != nil {
			t.Fatal(err)
		}
	}
	if elapsed := time.Since(start); elapsed < 400*time.Millisecond {
		t.Errorf("recording 500 ms took only %v: input does not pace itself", elapsed)
	}
}
