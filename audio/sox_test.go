package audio

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func requireSox(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("sox")
	if err != nil {
		t.Skip("sox not on PATH; install it (apt-get install sox) to run the WAV interop tests")
	}
	return path
}

func runTool(t *testing.T, name string, args ...string) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", name, args, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

func TestSoxReadsOurWAV(t *testing.T) {
	sox := requireSox(t)
	path := filepath.Join(t.TempDir(), "ours.wav")
	pcm := make([]int16, 12345)
	src := NewTone(1000, 10000, 0)
	for i := 0; i < len(pcm); i += FrameSamples {
		frame := make([]int16, FrameSamples)
		if err := src.ReadFrame(frame); err != nil {
			t.Fatal(err)
		}
		copy(pcm[i:], frame)
	}
	if err := WriteWAVFile(path, pcm); err != nil {
		t.Fatal(err)
	}
	// "sox --i" is soxi; ask for one field at a time.
	for _, tt := range []struct{ flag, want string }{
		{"-r", "8000"},
		{"-c", "1"},
		{"-b", "16"},
		{"-s", strconv.Itoa(len(pcm))},
		{"-e", "Signed Integer PCM"},
	} {
		if got := runTool(t, sox, "--i", tt.flag, path); got != tt.want {
			t.Errorf("sox --i %s = %q, want %q", tt.flag, got, tt.want)
		}
	}
	// sox's stat of the content: a 1 kHz tone of amplitude 10000/32768.
	stat := runStat(t, sox, path)
	if got := stat["Maximum amplitude"]; math.Abs(got-10000.0/32768) > 0.001 {
		t.Errorf("sox stat maximum amplitude %v, want %v", got, 10000.0/32768)
	}
	if got := stat["Rough   frequency"]; math.Abs(got-1000) > 50 {
		t.Errorf("sox stat rough frequency %v, want 1000", got)
	}
}

// runStat runs "sox file -n stat" and parses its "name: value" lines.
func runStat(t *testing.T, sox, path string) map[string]float64 {
	t.Helper()
	var stderr bytes.Buffer
	cmd := exec.Command(sox, path, "-n", "stat")
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sox stat: %v\n%s", err, stderr.String())
	}
	stats := map[string]float64{}
	for line := range strings.Lines(stderr.String()) {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			stats[strings.TrimSpace(name)] = v
		}
	}
	return stats
}

func TestWeReadSoxWAV(t *testing.T) {
	sox := requireSox(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "sox.wav")
	runTool(t, sox, "-n", "-r", "8000", "-c", "1", "-b", "16", path, "synth", "1", "sine", "440")
	r, err := OpenWAV(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if r.Duration() != time.Second || r.Frames() != 50 {
		t.Errorf("Duration %v Frames %d, want 1s and 50", r.Duration(), r.Frames())
	}
	got, frames, err := readAll(t, r, 100)
	if err != io.EOF || frames != 50 {
		t.Fatalf("%d frames then %v, want 50 then io.EOF", frames, err)
	}
	// A full-scale 440 Hz sine: count rising zero crossings, check the peak.
	crossings, peak := 0, 0
	for i := 1; i < len(got); i++ {
		if got[i-1] < 0 && got[i] >= 0 {
			crossings++
		}
		peak = max(peak, abs(int(got[i])))
	}
	if crossings < 438 || crossings > 441 {
		t.Errorf("%d rising zero crossings in 1 s, want about 440", crossings)
	}
	if want := runStat(t, sox, path)["Maximum amplitude"] * 32768; math.Abs(float64(peak)-want) > 1 {
		t.Errorf("peak %d, sox stat says %.0f", peak, want)
	}

	// sox's own conversion advice must give a file we accept.
	stereo := filepath.Join(dir, "stereo.wav")
	runTool(t, sox, "-n", "-r", "44100", "-c", "2", "-b", "16", stereo, "synth", "0.5", "sine", "440")
	if _, err := ReadWAVFile(stereo); !errors.Is(err, ErrUnsupportedFormat) {
		t.Fatalf("44.1 kHz stereo: %v, want ErrUnsupportedFormat", err)
	}
	converted := filepath.Join(dir, "converted.wav")
	runTool(t, sox, stereo, "-r", "8000", "-c", "1", "-b", "16", converted)
	pcm, err := ReadWAVFile(converted)
	if err != nil || len(pcm) != 4000 {
		t.Errorf("converted file: %d samples, %v; want 4000", len(pcm), err)
	}

	// Written to a pipe, sox cannot fix the header: it must still read cleanly.
	piped := runToolBytes(t, sox, "-n", "-r", "8000", "-c", "1", "-b", "16", "-t", "wav", "-", "synth", "0.1", "sine", "440")
	pr, err := NewWAVReader(bytes.NewReader(piped))
	if err != nil {
		t.Fatal(err)
	}
	if _, frames, err := readAll(t, pr, 100); err != io.EOF || frames != 5 {
		t.Errorf("piped: %d frames then %v, want 5 then io.EOF", frames, err)
	}
}

func runToolBytes(t *testing.T, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	return out
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}
