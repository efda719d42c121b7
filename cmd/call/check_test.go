package main

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
)

// TestToneInput: only tone:HZ is a tone, with 0 < HZ < 4000; a bare "tone"
// asks for the frequency, and a file whose name starts with "tone" is a file.
func TestToneInput(t *testing.T) {
	tests := []struct {
		in     string
		hz     float64
		isTone bool
		errMsg string
	}{
		{"tone:440", 440, true, ""},
		{"TONE:1000.5", 1000.5, true, ""},
		{"tone:3999", 3999, true, ""},
		{"tones.wav", 0, false, ""},
		{"tone.wav", 0, false, ""},
		{"toner:5", 0, false, ""},
		{"none", 0, false, ""},
		{"", 0, false, ""},
		{"tone", 0, true, "write --in tone:440"},
		{"tone:", 0, true, "not a frequency"},
		{"tone:abc", 0, true, "not a frequency"},
		{"tone:NaN", 0, true, "not a frequency"},
		{"tone:Inf", 0, true, "not a frequency"},
		{"tone:0", 0, true, "0 < HZ < 4000"},
		{"tone:-5", 0, true, "0 < HZ < 4000"},
		{"tone:4000", 0, true, "0 < HZ < 4000"},
		{"tone:5000", 0, true, "0 < HZ < 4000"},
	}
	for _, tt := range tests {
		hz, isTone, err := parseTone(tt.in)
		if hz != tt.hz || isTone != tt.isTone || (err == nil) != (tt.errMsg == "") ||
			(err != nil && !strings.Contains(err.Error(), tt.errMsg)) {
			t.Errorf("--in %q: %v Hz, tone %v, err %v; want %v Hz, tone %v, error %q", tt.in, hz, isTone, err, tt.hz, tt.isTone, tt.errMsg)
		}
	}
}

// TestCheckOutputFiles: the files a call writes at its end are checked when
// the flags are, before anyone is called or answered.
func TestCheckOutputFiles(t *testing.T) {
	dir := t.TempDir()
	existing := filepath.Join(dir, "old.json")
	if err := os.WriteFile(existing, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args   []string
		errMsg string
	}{
		{[]string{"--out", filepath.Join(dir, "new.wav")}, ""},
		{[]string{"--stats-json", existing}, ""},
		{[]string{"--out", "none", "--stats-json", filepath.Join(dir, "s.json"), "--trace-out", filepath.Join(dir, "t.csv")}, ""},
		{[]string{"--out", dir}, "is a directory"},
		{[]string{"--out", filepath.Join(dir, "nodir", "x.wav")}, "does not exist"},
		{[]string{"--out", filepath.Join(existing, "x.wav")}, "not a directory"},
		{[]string{"--stats-json", filepath.Join(dir, "nodir", "s.json")}, "--stats-json"},
		{[]string{"--stats-json", dir}, "is a directory"},
		{[]string{"--trace-out", filepath.Join(dir, "nodir", "t.csv")}, "--trace-out"},
		{[]string{"--in", "tone:abc"}, "not a frequency"},
		{[]string{"--in", "tone"}, "tone:440"},
	}
	for _, tt := range tests {
		err := resolveArgs(t, tt.args...)
		if (err == nil) != (tt.errMsg == "") || (err != nil && !strings.Contains(err.Error(), tt.errMsg)) {
			t.Errorf("%q: %v, want error %q", tt.args, err, tt.errMsg)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the check left files behind: %v", entries)
	}
	if b, _ := os.ReadFile(existing); string(b) != "x" {
		t.Errorf("the check changed an existing file: %q", b)
	}
}

// resolveArgs parses args as a calling subcommand does and checks them.
func resolveArgs(t *testing.T, args ...string) error {
	t.Helper()
	fs := newFlagSet("dial", io.Discard)
	var f callFlags
	f.register(fs)
	if _, err := parse(fs, args); err != nil {
		return err
	}
	return f.resolve(fs)
}

// TestCheckBeforeListening: a bad --in or output file is a usage error
// (exit 2) before the listener waits for a caller, not after it answered.
func TestCheckBeforeListening(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ flag, value, want string }{
		{"--in", "tone:abc", "not a frequency"},
		{"--in", "tone:5000", "0 < HZ < 4000"},
		{"--in", "tone", "tone:440"},
		{"--in", filepath.Join(dir, "tones.wav"), "no such file"},
		{"--out", dir, "is a directory"},
		{"--stats-json", filepath.Join(dir, "nodir", "s.json"), "does not exist"},
	} {
		args := []string{"listen", "--addr", "127.0.0.1:0", "--in", "none", "--out", "none", "--quiet", tt.flag, tt.value}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := run(ctx, args, io.Discard, io.Discard)
		cancel()
		var u usageError
		if !errors.As(err, &u) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s %s: %v, want a usage error saying %q", tt.flag, tt.value, err, tt.want)
		}
	}
}

// TestStatsSurviveOutputFailure: when the --out WAV can no longer be written
// (here the file size limit, as a full disk), the call ends with the error
// but its --stats-json is still written and the WAV's header matches its data.
func TestStatsSurviveOutputFailure(t *testing.T) {
	if _, err := exec.LookPath("sh"); err != nil {
		t.Skip("no sh to set the file size limit")
	}
	bin := callBinary(t)
	dir := t.TempDir()
	wav, stats := filepath.Join(dir, "out.wav"), filepath.Join(dir, "stats.json")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// ulimit -f counts 1024-byte blocks: 20 KiB is 1.3 s of audio
	// the call sends to itself: a free port, found by taking and freeing it
	probe, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	self := probe.LocalAddr().String()
	probe.Close()
	cmd := exec.CommandContext(ctx, "sh", "-c", `ulimit -f 20 && exec "$0" "$@"`, bin,
		"rtp", "--local", self, "--remote", self, "--in", "tone:440", "--duration", "4s",
		"--out", wav, "--stats-json", stats, "--quiet")
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "file too large") {
		t.Fatalf("err %v, output:\n%s\nwant the call to fail writing its output", err, out)
	}
	if _, err := os.Stat(stats); err != nil {
		t.Errorf("no --stats-json after the output failed: %v\n%s", err, out)
	}
	info, err := os.Stat(wav)
	if err != nil {
		t.Fatal(err)
	}
	r, err := audio.OpenWAV(wav)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if got, max := r.Duration(), time.Duration(info.Size()-44)*time.Second/(2*audio.SampleRate); got <= 0 || got > max {
		t.Errorf("the WAV's header says %v of audio, its data holds %v", got, max)
	}
}
