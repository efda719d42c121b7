package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/internal/audiotest"
	"github.com/spurtvoip/spurt/internal/testtool"
)

var (
	deviceBuildOnce sync.Once
	deviceBinPath   string
	deviceBuildErr  error
)

// deviceBinary builds cmd/call with sound-card support (cgo and PortAudio),
// as `make build` does where PortAudio's headers are installed.
func deviceBinary(t *testing.T) string {
	t.Helper()
	testtool.Require(t, "pkg-config", "pkg-config")
	if err := exec.Command("pkg-config", "--exists", "portaudio-2.0").Run(); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("PortAudio's headers are not installed, but CI must run this test (apt-get install portaudio19-dev)")
		}
		t.Skip("PortAudio's headers not installed; skipping (apt-get install portaudio19-dev)")
	}
	deviceBuildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "spurt-device")
		if err != nil {
			deviceBuildErr = err
			return
		}
		deviceBinPath = filepath.Join(dir, "call")
		out, err := exec.Command("go", "build", "-o", deviceBinPath, ".").CombinedOutput()
		if err != nil {
			deviceBuildErr = fmt.Errorf("go build with PortAudio: %v\n%s", err, out)
		}
	})
	if deviceBuildErr != nil {
		t.Fatal(deviceBuildErr)
	}
	return deviceBinPath
}

// TestCallWithSoundDevices places a call whose listener talks through a
// microphone and a speaker, the way two laptops do, with PulseAudio's
// clocked null sinks standing in for the sound card: a 700 Hz tone played
// into the microphone must reach the dialer, the dialer's 440 Hz tone must
// come out of the speaker, the card's clock must pace the sending, and the
// speaker must not hold up the call.
func TestCallWithSoundDevices(t *testing.T) {
	// not parallel: testtool.PulseAudio sets PULSE_SERVER for the process
	bin := deviceBinary(t)
	testtool.PulseAudio(t)
	dir := t.TempDir()

	micTone := filepath.Join(dir, "mic.wav")
	pcm := make([]int16, 10*audio.SampleRate)
	src := audio.NewTone(700, 8000, 10*time.Second)
	for i := 0; i < len(pcm); i += audio.FrameSamples {
		if err := src.ReadFrame(pcm[i : i+audio.FrameSamples]); err != nil {
			t.Fatal(err)
		}
	}
	if err := audio.WriteWAVFile(micTone, pcm); err != nil {
		t.Fatal(err)
	}
	player := exec.Command("paplay", "--device="+testtool.MicSink, micTone)
	var speaker bytes.Buffer
	recorder := exec.Command("parec", "--device="+testtool.SpeakerSink+".monitor", "--rate=8000", "--channels=1", "--format=s16le")
	recorder.Stdout = &speaker
	for _, c := range []*exec.Cmd{player, recorder} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	}

	port := freePort(t)
	const seconds = 6
	lstats, dstats, heardPath := filepath.Join(dir, "l.json"), filepath.Join(dir, "d.json"), filepath.Join(dir, "heard.wav")
	l := waitListening(t, startBinary(t, bin, "listen", "--addr", fmt.Sprintf("127.0.0.1:%d", port),
		"--in-device", "pulse", "--out-device", "pulse", "--vad=false", "--duration", fmt.Sprintf("%ds", seconds),
		"--stats-json", lstats, "--quiet"))
	d := startBinary(t, bin, "dial", fmt.Sprintf("127.0.0.1:%d", port), "--in", "tone:440", "--out", heardPath,
		"--vad=false", "--duration", fmt.Sprintf("%ds", seconds), "--stats-json", dstats, "--quiet")
	if code := d.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("dialer exit code %d", code)
	}
	if code := l.wait(t, 20*time.Second); code != 0 {
		t.Fatalf("listener exit code %d", code)
	}
	_ = recorder.Process.Kill()
	_ = recorder.Wait()

	ls := readStats(t, lstats)
	// The card's clock paces the listener's sending. Through PulseAudio
	// the first captured samples take about 2 s to come (then exactly 50
	// frames a second), 3.5 s on a loaded machine (126 packets sent), so
	// this checks for pacing, not the count: an unpaced device would flood
	// thousands of packets in a few seconds.
	if sent := num(t, ls, "packets_sent"); sent < 0.25*50*seconds || sent > 50*seconds+5 {
		t.Errorf("the listener sent %v packets from its microphone in a %d s call, want about %d", sent, seconds, 50*seconds)
	}
	// The speaker must not hold up the listener's loop, which sends what
	// the microphone captured: with a speaker that blocked the loop, the
	// dialer measured 22 ms of interarrival jitter; with a queue, 0.2-3.4
	// on an idle machine. But a busy machine delays every process's
	// sending and reading too: there both directions measured 5-27 ms, the
	// dialer's file-paced packets, which no sound card touches, as much as
	// the microphone's (within 7 ms). So the other direction, at the same
	// moment, is the yardstick: what the microphone's packets suffer
	// beyond it is the listener's own doing.
	micJitter, fileJitter := num(t, readStats(t, dstats), "jitter_ms"), num(t, ls, "jitter_ms")
	t.Logf("interarrival jitter: the microphone's packets at the dialer %.1f ms, the dialer's at the listener %.1f ms", micJitter, fileJitter)
	if micJitter > fileJitter+10 {
		t.Errorf("the microphone's packets reached the dialer with %.1f ms of interarrival jitter, the dialer's the listener with %.1f: the speaker held up the listener's loop?",
			micJitter, fileJitter)
	}

	heard, err := audio.ReadWAVFile(heardPath)
	if err != nil {
		t.Fatal(err)
	}
	if share := bestToneShare(heard, 700); share < 0.8 {
		t.Errorf("the dialer heard at most %.2f of a quarter second's energy at 700 Hz, want the tone played into the microphone", share)
	}
	played := make([]int16, speaker.Len()/2)
	if err := binary.Read(bytes.NewReader(speaker.Bytes()[:2*len(played)]), binary.LittleEndian, played); err != nil {
		t.Fatal(err)
	}
	if share := bestToneShare(played, 440); share < 0.8 {
		t.Errorf("the speaker played at most %.2f of a quarter second's energy at 440 Hz (%d samples recorded), want the dialer's tone", share, len(played))
	}
}

// bestToneShare is the largest share of energy at hz over the quarter
// seconds of pcm.
func bestToneShare(pcm []int16, hz float64) float64 {
	const window = audio.SampleRate / 4
	best := 0.0
	for i := 0; i+window <= len(pcm); i += window / 2 {
		best = max(best, audiotest.ToneShare(pcm[i:i+window], hz, audio.SampleRate))
	}
	return best
}
