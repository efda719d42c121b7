package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/codec/gsm"
	"github.com/spurtvoip/spurt/internal/testtool"
)

// transcodeSpeech is a voiced, speech-like signal with a little noise, 10
// frames and 77 samples long so the last frame is partial.
func transcodeSpeech() []int16 {
	rng := rand.New(rand.NewPCG(21, 22))
	pcm := make([]int16, 10*gsm.FrameSamples+77)
	phase := 0.0
	for i := range pcm {
		tsec := float64(i) / 8000
		phase += 2 * math.Pi * (120 + 50*math.Sin(2*math.Pi*3*tsec)) / 8000
		v := 0.0
		for h := 1.0; h <= 8; h++ {
			v += math.Sin(h*phase) / h
		}
		pcm[i] = int16(max(-32768, min(32767, 7000*v+300*rng.NormFloat64())))
	}
	return pcm
}

func littleEndian(pcm []int16) []byte {
	b := make([]byte, 0, 2*len(pcm))
	for _, s := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}

// requireLittleEndianHost skips byte comparisons with toast -l, which uses
// host byte order, where that is not the little-endian of --raw.
func requireLittleEndianHost(t *testing.T) {
	t.Helper()
	var probe [2]byte
	binary.NativeEndian.PutUint16(probe[:], 1)
	if probe[0] != 1 {
		t.Skip("toast -l uses host byte order, which is not little-endian here")
	}
}

// runLibgsm runs toast or untoast as a filter on stdin.
func runLibgsm(t *testing.T, tool string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(testtool.Require(t, tool, "libgsm-tools"), args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", tool, args, err, stderr.Bytes())
	}
	return out
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func runTranscode(t *testing.T, args ...string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if err := transcode(args, &stdout, &stderr); err != nil {
		t.Fatalf("transcode %v: %v\nstderr: %s", args, err, stderr.Bytes())
	}
}

func TestTranscodeRawMatchesToast(t *testing.T) {
	requireLittleEndianHost(t)
	dir := t.TempDir()
	raw := littleEndian(transcodeSpeech())
	in := writeFile(t, filepath.Join(dir, "in.raw"), raw)
	out := filepath.Join(dir, "out.gsm")
	runTranscode(t, "--to", "gsm", "--raw", in, out)
	got, want := readFile(t, out), runLibgsm(t, "toast", raw, "-l", "-c")
	if len(want) != 11*gsm.FrameSize {
		t.Fatalf("toast wrote %d bytes for 10 frames and a partial one, want %d", len(want), 11*gsm.FrameSize)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("call transcode --to gsm --raw differs from toast -l -c (%d and %d bytes)", len(got), len(want))
	}

	decoded := filepath.Join(dir, "decoded.raw")
	runTranscode(t, "--from", "gsm", "--raw", out, decoded)
	if got, want := readFile(t, decoded), runLibgsm(t, "untoast", want, "-l", "-c"); !bytes.Equal(got, want) {
		t.Fatalf("call transcode --from gsm --raw differs from untoast -l -c (%d and %d bytes)", len(got), len(want))
	}
}

func TestTranscodeWAV(t *testing.T) {
	dir := t.TempDir()
	speech := transcodeSpeech()
	wavIn := filepath.Join(dir, "in.wav")
	if err := audio.WriteWAVFile(wavIn, speech); err != nil {
		t.Fatal(err)
	}
	rawIn := writeFile(t, filepath.Join(dir, "in.raw"), littleEndian(speech))
	fromWAV, fromRaw := filepath.Join(dir, "wav.gsm"), filepath.Join(dir, "raw.gsm")
	runTranscode(t, "--to", "GSM", wavIn, fromWAV) // codec names ignore case
	runTranscode(t, "--to", "gsm", "--raw", rawIn, fromRaw)
	frames := readFile(t, fromWAV)
	if !bytes.Equal(frames, readFile(t, fromRaw)) {
		t.Fatal("encoding a WAV file and the same samples raw give different frames")
	}
	want, err := gsm.NewEncoder().Encode(nil, append(speech, make([]int16, 160-77)...))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(frames, want) {
		t.Fatal("transcode's frames differ from the encoder's on the zero-padded samples")
	}

	wavOut, rawOut := filepath.Join(dir, "out.wav"), filepath.Join(dir, "out.raw")
	runTranscode(t, "--from", "gsm", fromWAV, wavOut)
	runTranscode(t, "--from", "gsm", "--raw", fromWAV, rawOut)
	pcm, err := audio.ReadWAVFile(wavOut)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(littleEndian(pcm), readFile(t, rawOut)) {
		t.Fatal("decoding to WAV and to raw give different samples")
	}
	decoded, err := gsm.NewDecoder().Decode(nil, frames)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(littleEndian(pcm), littleEndian(decoded)) {
		t.Fatal("transcode's samples differ from the decoder's")
	}
}

func TestTranscodeVerbose(t *testing.T) {
	dir := t.TempDir()
	in := writeFile(t, filepath.Join(dir, "in.raw"), littleEndian(transcodeSpeech()))
	var stdout, stderr bytes.Buffer
	if err := transcode([]string{"--to", "gsm", "--raw", "-v", in, filepath.Join(dir, "out.gsm")}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if got := stdout.String(); !strings.Contains(got, "encoded 11 GSM 06.10 frames (220ms of speech)") {
		t.Errorf("summary %q does not report 11 frames and 220ms", got)
	}
	stdout.Reset()
	if err := transcode([]string{"--to", "gsm", "--raw", in, filepath.Join(dir, "quiet.gsm")}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	if stdout.Len() != 0 {
		t.Errorf("without -v transcode printed %q", stdout.String())
	}
}

func TestTranscodeHelp(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := transcode([]string{"-h"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) {
		t.Fatalf("-h gave %v, want flag.ErrHelp", err)
	}
	if !strings.Contains(stderr.String(), "call transcode --to gsm") {
		t.Errorf("help text lacks the synopsis:\n%s", stderr.String())
	}
}

func TestTranscodeErrors(t *testing.T) {
	dir := t.TempDir()
	good, err := gsm.NewEncoder().Encode(nil, make([]int16, 3*gsm.FrameSamples))
	if err != nil {
		t.Fatal(err)
	}
	wav16k := []byte("RIFF\x24\x00\x00\x00WAVEfmt \x10\x00\x00\x00\x01\x00\x01\x00\x80\x3e\x00\x00\x00\x7d\x00\x00\x02\x00\x10\x00data\x00\x00\x00\x00")
	files := map[string]string{
		"good.gsm":   writeFile(t, filepath.Join(dir, "good.gsm"), good),
		"16k.wav":    writeFile(t, filepath.Join(dir, "16k.wav"), wav16k),
		"notwav.wav": writeFile(t, filepath.Join(dir, "notwav.wav"), []byte("hello")),
	}
	out := filepath.Join(dir, "out")
	tests := []struct {
		name   string
		args   []string
		usage  bool   // a usageError (exit status 2)
		is     error  // the error must wrap this, if set
		substr string // and say this
	}{
		{"unknown --to", []string{"--to", "opus", files["good.gsm"], out}, true, nil, `--to "opus"`},
		{"unknown --from", []string{"--from", "pcmu", files["good.gsm"], out}, true, nil, `--from "pcmu"`},
		{"neither direction", []string{files["good.gsm"], out}, true, nil, "exactly one of"},
		{"both directions", []string{"--to", "gsm", "--from", "gsm", files["good.gsm"], out}, true, nil, "exactly one of"},
		{"one file", []string{"--to", "gsm", files["good.gsm"]}, true, nil, "got 1 arguments"},
		{"three files", []string{"--to", "gsm", "a", "b", "c"}, true, nil, "got 3 arguments"},
		{"unknown flag", []string{"--bitrate", "13k"}, true, nil, "bitrate"},
		{"missing input", []string{"--from", "gsm", filepath.Join(dir, "absent.gsm"), out}, false, os.ErrNotExist, "absent.gsm"},
		{"same file", []string{"--from", "gsm", "--raw", files["good.gsm"], files["good.gsm"]}, true, nil, "same file"},
		{"16 kHz WAV", []string{"--to", "gsm", files["16k.wav"], out}, false, audio.ErrUnsupportedFormat, "16000 Hz"},
		{"not a WAV", []string{"--to", "gsm", files["notwav.wav"], out}, false, nil, "notwav.wav"},
		{"output directory missing", []string{"--from", "gsm", files["good.gsm"], filepath.Join(dir, "no", "such", "dir.wav")}, false, os.ErrNotExist, "dir.wav"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			err := transcode(tt.args, &stdout, &stderr)
			if err == nil {
				t.Fatal("no error")
			}
			var u usageError
			if errors.As(err, &u) != tt.usage {
				t.Errorf("error %q: usage error %v, want %v", err, !tt.usage, tt.usage)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("error %q does not wrap %v", err, tt.is)
			}
			if !strings.Contains(err.Error(), tt.substr) {
				t.Errorf("error %q does not say %q", err, tt.substr)
			}
			if _, serr := os.Stat(out); serr == nil {
				t.Errorf("a failed transcode left its output behind")
				os.Remove(out)
			}
		})
	}
	if got := readFile(t, files["good.gsm"]); !bytes.Equal(got, good) {
		t.Error("the same-file case damaged the input")
	}
}

// TestTranscodeDamagedInputLikeLibgsm: input that toast or untoast cannot
// wholly convert gives the same output as theirs, byte for byte, and a
// warning on stderr naming what was dropped. A trailing fragment (an odd
// byte of raw input, a partial final frame) is dropped and the exit status
// is 0, as theirs; a frame with a bad signature stops the decoding, the
// output keeping the frames before it as untoast's does, but our exit status
// is 1 (untoast's is 0): the frames after it were not decoded.
func TestTranscodeDamagedInputLikeLibgsm(t *testing.T) {
	requireLittleEndianHost(t)
	dir := t.TempDir()
	speech := littleEndian(transcodeSpeech()) // 10 frames and 77 samples
	frames := runLibgsm(t, "toast", speech, "-l", "-c")
	badAt := func(frame int) []byte {
		b := append([]byte(nil), frames...)
		b[frame*gsm.FrameSize] = 0x20 | b[frame*gsm.FrameSize]&0x0f
		return b
	}
	tests := []struct {
		name    string
		encode  bool
		input   []byte
		warning string // on stderr; "" for none
		stopped string // the error, for a bad frame; "" for none
		outLen  int    // bytes toast or untoast write
	}{
		{"raw input of an odd length", true, speech[:641], "ends in half a sample (an odd number of bytes, 641): its last byte was dropped", "", 2 * gsm.FrameSize},
		{"an odd byte after a partial frame", true, speech[:643], "odd number of bytes, 643", "", 3 * gsm.FrameSize},
		{"one byte", true, speech[:1], "odd number of bytes, 1", "", 0},
		{"raw input of an even length", true, speech[:642], "", "", 3 * gsm.FrameSize},
		{"a .gsm file cut inside a frame", false, frames[:2*gsm.FrameSize+10], "truncated: it ends 10 bytes into frame 2 (frames are 33 bytes); those 10 bytes were dropped", "", 2 * 320},
		{"a frame with a bad signature", false, badAt(3), "", "frame 3 (byte offset 99) has signature 0x2, not 0xD: malformed GSM frame; decoding stopped there, as untoast stops, and the output holds the 3 frames before it", 3 * 320},
		{"a bad first frame", false, badAt(0), "", "frame 0 (byte offset 0)", 0},
		{"a whole .gsm file", false, frames, "", "", 11 * 320},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := writeFile(t, filepath.Join(dir, fmt.Sprintf("in%d", i)), tt.input)
			out := filepath.Join(dir, fmt.Sprintf("out%d", i))
			args, tool := []string{"--from", "gsm", "--raw", in, out}, "untoast"
			if tt.encode {
				args, tool = []string{"--to", "gsm", "--raw", in, out}, "toast"
			}
			var stdout, stderr bytes.Buffer
			err := transcode(args, &stdout, &stderr)
			want := runLibgsm(t, tool, tt.input, "-l", "-c")
			if got := readFile(t, out); !bytes.Equal(got, want) || len(got) != tt.outLen {
				t.Errorf("wrote %d bytes, %s -l -c %d, want %d and the same bytes", len(got), tool, len(want), tt.outLen)
			}
			if tt.warning == "" && stderr.Len() > 0 || !strings.Contains(stderr.String(), tt.warning) {
				t.Errorf("stderr %q, want %q", stderr.String(), tt.warning)
			}
			if tt.stopped == "" {
				if err != nil {
					t.Errorf("error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.stopped) || !errors.Is(err, gsm.ErrMalformedFrame) {
				t.Fatalf("error %v, want one saying %q", err, tt.stopped)
			}
			if code := exitCode(err, io.Discard); code != 1 {
				t.Errorf("exit status %d, want 1", code)
			}
		})
	}

	// A WAV output stopped by a bad frame is a whole WAV file of the frames before it.
	in := writeFile(t, filepath.Join(dir, "bad.gsm"), badAt(3))
	wavOut := filepath.Join(dir, "stopped.wav")
	if err := transcode([]string{"--from", "gsm", in, wavOut}, io.Discard, io.Discard); err == nil {
		t.Fatal("a bad frame gave no error")
	}
	pcm, err := audio.ReadWAVFile(wavOut)
	if err != nil {
		t.Fatalf("the output of a stopped decoding: %v", err)
	}
	want, err := gsm.NewDecoder().Decode(nil, frames[:3*gsm.FrameSize])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(pcm, want) {
		t.Errorf("the WAV holds %d samples, want the %d of the 3 good frames", len(pcm), len(want))
	}
}
