//go:build cgo && !nodevice && !race

// Not under the race detector: its checkptr instrumentation trips over the
// PortAudio binding's pointer arithmetic when a stream is opened.

package device

import (
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/internal/audiotest"
	"github.com/spurtvoip/spurt/internal/testtool"
)

// TestDevicesKeepRealTime runs the microphone and the speaker against a
// private PulseAudio server with clocked null sinks (PortAudio's ALSA device
// "pulse"): a sound card that keeps real time, without hardware. The speaker
// takes a second of tone without ever making the writer wait, and Close
// returns once it has played; the microphone delivers what is played into
// it, at the pace of real time.
func TestDevicesKeepRealTime(t *testing.T) {
	testtool.PulseAudio(t)
	frame := make([]int16, audio.FrameSamples)

	out, err := OpenOutput("pulse")
	if err != nil {
		t.Fatal(err)
	}
	tone := audio.NewTone(440, 8000, time.Second)
	start := time.Now()
	var writing time.Duration
	for range 50 {
		if err := tone.ReadFrame(frame); err != nil {
			t.Fatal(err)
		}
		w := time.Now()
		if err := out.WriteSamples(frame); err != nil {
			t.Fatal(err)
		}
		writing += time.Since(w)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
	if played := time.Since(start); played < 900*time.Millisecond {
		t.Errorf("a second of audio played in %v: the speaker does not keep real time", played)
	}
	if writing > 100*time.Millisecond {
		t.Errorf("writing a second of audio kept the writer waiting %v: WriteSamples must not block", writing)
	}

	// Play 6 s of 700 Hz into the microphone's sink and record a second of it.
	wav := filepath.Join(t.TempDir(), "tone.wav")
	pcm := make([]int16, 6*audio.SampleRate)
	src := audio.NewTone(700, 8000, 6*time.Second)
	for i := 0; i < len(pcm); i += audio.FrameSamples {
		if err := src.ReadFrame(pcm[i : i+audio.FrameSamples]); err != nil {
			t.Fatal(err)
		}
	}
	if err := audio.WriteWAVFile(wav, pcm); err != nil {
		t.Fatal(err)
	}
	player := exec.Command("paplay", "--device="+testtool.MicSink, wav)
	if err := player.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = player.Process.Kill(); _ = player.Wait() })
	in, err := OpenInput("pulse")
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	// Let the tone start, and take what was captured meanwhile, so that the
	// second timed below is captured while it is read.
	for range 15 {
		if err := in.ReadFrame(frame); err != nil {
			t.Fatal(err)
		}
	}
	var heard []int16
	start = time.Now()
	for range 50 {
		if err := in.ReadFrame(frame); err != nil {
			t.Fatal(err)
		}
		heard = append(heard, frame...)
	}
	if took := time.Since(start); took < 800*time.Millisecond {
		t.Errorf("recording a second took %v: the microphone does not keep real time", took)
	}
	if share := audiotest.ToneShare(heard[len(heard)/2:], 700, audio.SampleRate); share < 0.8 {
		t.Errorf("the microphone's last half second holds %.2f of its energy at 700 Hz, want the tone played into it", share)
	}
}
