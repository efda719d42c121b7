package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/internal/audiotest"
)

// These tests run the real `call` binary the way a user does: two processes
// talking over real UDP and TCP on 127.0.0.1.

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// TestMain removes the binaries the tests built.
func TestMain(m *testing.M) {
	code := m.Run()
	for _, bin := range []string{binPath, deviceBinPath} {
		if bin != "" {
			_ = os.RemoveAll(filepath.Dir(bin))
		}
	}
	os.Exit(code)
}

// callBinary builds cmd/call once per test run (without sound-card support:
// no test needs a sound card).
func callBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "spurt-e2e")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "call")
		out, err := exec.Command("go", "build", "-tags", "nodevice", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

const speechWAV = "../../testdata/speech.wav"

// speechClip writes the first d of the bundled speech (9.3 s) to a file of
// the test's own and returns its path and samples. Most calls here check
// what a real call over sockets does, not how its statistics converge: a
// clip of a few seconds shows that as well as the whole file, in a third
// of the time. The first 3 s hold three talk spurts.
func speechClip(t *testing.T, d time.Duration) (string, []int16) {
	t.Helper()
	speech, err := audio.ReadWAVFile(speechWAV)
	if err != nil {
		t.Fatal(err)
	}
	n := int(d.Seconds() * audio.SampleRate)
	if n <= 0 || n > len(speech) {
		t.Fatalf("a clip of %v from %d samples of speech", d, len(speech))
	}
	path := filepath.Join(t.TempDir(), fmt.Sprintf("speech-%v.wav", d))
	if err := audio.WriteWAVFile(path, speech[:n]); err != nil {
		t.Fatal(err)
	}
	return path, speech[:n]
}

// proc is a running `call` process.
type proc struct {
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer // read while the process still writes
	done           chan error
}

func start(t *testing.T, args ...string) *proc {
	t.Helper()
	return startBinary(t, callBinary(t), args...)
}

// startBinary starts the call binary at bin with args.
func startBinary(t *testing.T, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), done: make(chan error, 1)}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("%s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), p.stdout.String(), p.stderr.String())
		}
	})
	return p
}

// wait waits (bounded) for the process to exit and returns its exit code.
func (p *proc) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // keep it for Cleanup
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			t.Fatalf("waiting for call: %v", err)
		}
		return 0
	case <-time.After(limit):
		t.Fatalf("call %v still running after %v", p.cmd.Args[1:], limit)
		return -1
	}
}

// freePort finds a port free for both TCP and UDP on 127.0.0.1 (the listener
// uses the same number for both).
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// listenAt starts a listener and waits until it takes calls.
func listenAt(t *testing.T, port int, args ...string) *proc {
	t.Helper()
	return waitListening(t, start(t, append([]string{"listen", "--addr", fmt.Sprintf("127.0.0.1:%d", port)}, args...)...))
}

// waitListening waits until listener p takes calls.
func waitListening(t *testing.T, p *proc) *proc {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), "waiting for a call") {
		if time.Now().After(deadline) {
			t.Fatalf("listener did not start: %s", p.stderr.String())
		}
		select {
		case err := <-p.done:
			p.done <- err
			t.Fatalf("listener exited: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	return p
}

func readStats(t *testing.T, path string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("stats JSON: %v\n%s", err, b)
	}
	return m
}

func num(t *testing.T, m map[string]any, key string) float64 {
	t.Helper()
	v, ok := m[key].(float64)
	if !ok {
		t.Fatalf("stats key %q = %v, want a number", key, m[key])
	}
	return v
}

// TestCallExchangesSpeech is the basic promise: two processes exchange the
// bundled speech both ways; what each hears matches what the other sent (to
// G.711's precision) once each talk spurt is aligned. Concealment is off:
// on loopback a chunk or two may still come late (the EWMA's headroom is a
// couple of milliseconds there), and the comparison leaves silent gaps out
// but would count concealed audio, which is not the sent waveform, as error.
func TestCallExchangesSpeech(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clip, sent := speechClip(t, 3*time.Second)
	port := freePort(t)
	l := listenAt(t, port, "--in", clip, "--out", filepath.Join(dir, "l.wav"),
		"--stats-json", filepath.Join(dir, "l.json"), "--quiet", "--plc=false")
	d := start(t, "dial", fmt.Sprintf("127.0.0.1:%d", port), "--in", clip, "--out", filepath.Join(dir, "d.wav"),
		"--stats-json", filepath.Join(dir, "d.json"), "--quiet", "--plc=false")
	if code := d.wait(t, 40*time.Second); code != 0 {
		t.Fatalf("dial exit code %d", code)
	}
	if code := l.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("listen exit code %d", code)
	}
	for _, side := range []string{"l", "d"} {
		heard, err := audio.ReadWAVFile(filepath.Join(dir, side+".wav"))
		if err != nil {
			t.Fatal(err)
		}
		// each talk spurt may play with its own delay: search ±100 ms per spurt
		r := audiotest.Compare(sent, heard, 2*audio.SampleRate, 800)
		t.Logf("%s heard: SNR %.1f dB, coverage %.3f, %d segments, lag %d samples", side, r.SNR, r.Coverage, r.Segments, r.Lag)
		if r.SNR < 30 {
			t.Errorf("%s: SNR %.1f dB, want > 30 dB (G.711 round trip)", side, r.SNR)
		}
		st := readStats(t, filepath.Join(dir, side+".json"))
		late := num(t, st, "late_lost")
		// everything arrived: every chunk not played late must be there
		if r.Coverage < 0.97-late/100 {
			t.Errorf("%s: coverage %.3f with %v late, want nearly all speech heard", side, r.Coverage, late)
		}
		for _, key := range []string{"codec", "packets_sent", "packets_received", "network_lost", "late_lost",
			"duplicates", "talkspurts", "playout_delay_ms_mean", "playout_delay_ms_p95", "buffer_delay_ms_mean",
			"rtt_ms", "jitter_ms", "k", "alpha", "beta"} {
			if _, ok := st[key]; !ok {
				t.Errorf("%s: stats lack %q", side, key)
			}
		}
		if st["codec"] != "PCMU" || num(t, st, "network_lost") != 0 || num(t, st, "talkspurts") < 2 {
			t.Errorf("%s: codec %v network_lost %v talkspurts %v", side, st["codec"], st["network_lost"], st["talkspurts"])
		}
		if num(t, st, "packets_received") != num(t, st, "packets_expected") {
			t.Errorf("%s: received %v of %v expected on a lossless path", side, st["packets_received"], st["packets_expected"])
		}
		if v := st["playout_delay_ms_mean"]; v == nil || v.(float64) <= 0 || v.(float64) > 1000 {
			t.Errorf("%s: playout delay mean %v ms", side, v)
		}
	}
	if !strings.Contains(d.stdout.String(), "call ended") || !strings.Contains(l.stdout.String(), "call ended") {
		t.Errorf("both sides should print a summary")
	}
}

// TestCallLossIsInjectedAndCounted: --loss drops sent packets (Bernoulli,
// seeded); the receiver counts them as network loss.
func TestCallLossIsInjectedAndCounted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clip, sent := speechClip(t, 4*time.Second)
	port := freePort(t)
	l := listenAt(t, port, "--in", "none", "--out", "none", "--stats-json", filepath.Join(dir, "l.json"), "--quiet")
	d := start(t, "dial", fmt.Sprintf("127.0.0.1:%d", port), "--in", clip, "--out", "none", "--vad=false",
		"--loss", "10%", "--seed", "3", "--jitter", "30ms", "--quiet")
	if code := d.wait(t, 40*time.Second); code != 0 {
		t.Fatalf("dial exit code %d", code)
	}
	l.wait(t, 10*time.Second)
	st := readStats(t, filepath.Join(dir, "l.json"))
	expected, lost := num(t, st, "packets_expected"), num(t, st, "network_lost")
	// 200 packets at p = 0.1: sd = sqrt(200*0.1*0.9) = 4.2; allow 4 sd
	frames := float64(len(sent) / audio.FrameSamples)
	sd := math.Sqrt(expected * 0.1 * 0.9)
	if expected < 0.85*frames || math.Abs(lost-0.1*expected) > 4*sd {
		t.Errorf("lost %v of %v (%v frames sent), want about 10%% ± %.0f", lost, expected, frames, 4*sd)
	}
	if num(t, st, "jitter_ms") < 2 {
		t.Errorf("jitter %v ms with 30 ms injected jitter", st["jitter_ms"])
	}
}

// TestHangUpEndsTheOtherSide: Ctrl-C on one side ends the call on the other
// within 2 s, both print summaries, both exit 0.
func TestHangUpEndsTheOtherSide(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	l := listenAt(t, port, "--in", "tone:440", "--out", "none", "--quiet")
	d := start(t, "dial", fmt.Sprintf("127.0.0.1:%d", port), "--in", "tone:300", "--out", "none", "--quiet")
	time.Sleep(1500 * time.Millisecond)
	if err := d.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t, 5*time.Second); code != 0 {
		t.Errorf("dialer exit code %d after Ctrl-C", code)
	}
	hungUp := time.Now()
	if code := l.wait(t, 5*time.Second); code != 0 {
		t.Errorf("listener exit code %d", code)
	}
	if took := time.Since(hungUp); took > 2*time.Second {
		t.Errorf("listener took %v to notice the hang-up, want < 2 s", took)
	}
	if !strings.Contains(l.stdout.String(), "peer hung up") {
		t.Errorf("listener summary should say the peer hung up:\n%s", l.stdout.String())
	}
}

// TestPeerThatVanishes: a peer killed without a word (no BYE) still ends the
// call promptly (its signaling connection closes with it).
func TestPeerThatVanishes(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	l := listenAt(t, port, "--in", "tone:440", "--out", "none", "--quiet")
	d := start(t, "dial", fmt.Sprintf("127.0.0.1:%d", port), "--in", "tone:300", "--out", "none", "--quiet")
	time.Sleep(time.Second)
	_ = d.cmd.Process.Kill()
	killed := time.Now()
	l.wait(t, 5*time.Second)
	if took := time.Since(killed); took > 2*time.Second {
		t.Errorf("listener took %v to notice, want < 2 s", took)
	}
}

func TestNoCommonCodec(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	l := listenAt(t, port, "--codecs", "pcma", "--in", "none", "--out", "none", "--quiet")
	d := start(t, "dial", fmt.Sprintf("127.0.0.1:%d", port), "--codecs", "pcmu", "--in", "none", "--out", "none", "--quiet")
	dc, lc := d.wait(t, 10*time.Second), l.wait(t, 10*time.Second)
	if dc == 0 || lc == 0 {
		t.Fatalf("exit codes dial %d listen %d, want both non-zero", dc, lc)
	}
	for name, p := range map[string]*proc{"dial": d, "listen": l} {
		msg := p.stderr.String()
		if !strings.Contains(msg, "pcmu") || !strings.Contains(msg, "pcma") || !strings.Contains(msg, "no common codec") {
			t.Errorf("%s should name both codec lists, said:\n%s", name, msg)
		}
	}
}

// TestListenerSurvivesBadCallers: garbage and oversized signaling get a clear
// warning, do not crash the listener, and a real caller still gets through.
func TestListenerSurvivesBadCallers(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	l := listenAt(t, port, "--in", "none", "--out", "none", "--quiet")
	for _, junk := range []string{"GET / HTTP/1.1\r\n\r\n", "SPURT/1 OFFER 99999999\n", "SPURT/1 OFFER 20\nv=0\r\nnot sdp at all\n"} {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = c.Write([]byte(junk))
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _ = c.Read(make([]byte, 512)) // the listener answers with an error or closes
		c.Close()
	}
	c, _ := net.Dial("tcp", addr) // a silent port probe
	c.Close()
	d := start(t, "dial", addr, "--in", "tone:300", "--out", "none", "--duration", "1s", "--quiet")
	if code := d.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("a good caller after bad ones: exit code %d", code)
	}
	l.wait(t, 5*time.Second)
	if n := strings.Count(l.stderr.String(), "refused a caller"); n != 3 {
		t.Errorf("listener warned about %d bad callers, want 3:\n%s", n, l.stderr.String())
	}
}

// TestSilentCallersDoNotHoldTheLine: connections that never offer do not
// keep a real caller waiting; two callers offering at once get one call and
// one busy signal.
func TestSilentCallersDoNotHoldTheLine(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	l := listenAt(t, port, "--in", "none", "--out", "none", "--quiet")
	for range 3 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close() // silent until the test ends
	}
	started := time.Now()
	d := start(t, "dial", addr, "--in", "tone:300", "--out", "none", "--duration", "1s", "--quiet")
	busy := start(t, "dial", addr, "--in", "tone:300", "--out", "none", "--duration", "1s", "--quiet")
	codes := []int{d.wait(t, 15*time.Second), busy.wait(t, 15*time.Second)}
	if took := time.Since(started); took > 6*time.Second {
		t.Errorf("the calls took %v behind three silent connections; want them answered at once", took)
	}
	if slices.Contains(codes, 0) == slices.Equal(codes, []int{0, 0}) {
		t.Fatalf("exit codes %v: want one call (0) and one busy caller (non-zero)", codes)
	}
	loser := busy
	if codes[0] != 0 {
		loser = d
	}
	if !strings.Contains(loser.stderr.String(), "busy") {
		t.Errorf("the caller that lost the line should hear it is busy, said:\n%s", loser.stderr.String())
	}
	l.wait(t, 5*time.Second)
}

// TestUsageErrors: wrong flags and bad input files give clear errors and the
// usage exit code, never a crash.
func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	wav16k := filepath.Join(dir, "16k.wav")
	writeWAVHeader(t, wav16k, 16000)
	tests := []struct {
		args     []string
		wantCode int
		wantMsg  string
	}{
		{[]string{}, 2, "no subcommand"},
		{[]string{"frobnicate"}, 2, "unknown subcommand"},
		{[]string{"dial"}, 2, "HOST:PORT"},
		{[]string{"dial", "127.0.0.1:1", "--codecs", "opus"}, 2, "unknown codec"},
		{[]string{"dial", "127.0.0.1:1", "--loss", "lots"}, 2, "-loss"},
		{[]string{"dial", "127.0.0.1:1", "--bogus"}, 2, "unknown flag --bogus"},
		// bad values are usage errors before any sound card or peer is touched
		{[]string{"dial", "127.0.0.1:1", "--k", "-1"}, 2, "K -1"},
		{[]string{"listen", "--alpha", "2"}, 2, "alpha 2"},
		{[]string{"listen", "--addr", "nonsense"}, 2, "--addr"},
		{[]string{"listen", "--rtp-port", "70000"}, 2, "--rtp-port 70000"},
		{[]string{"dial", "127.0.0.1:1", "--rtp-port", "-5"}, 2, "--rtp-port -5"},
		{[]string{"rtp", "--remote", "127.0.0.1:9", "--playout", "sideways", "--in", "none", "--out", "none"}, 2, "--playout"},
		{[]string{"rtp", "--remote", "127.0.0.1:9", "--playout", "fixed", "--in", "none", "--out", "none"}, 2, "needs a delay"},
		{[]string{"rtp", "--remote", "127.0.0.1:9", "--alpha", "1.5", "--in", "none", "--out", "none"}, 2, "alpha"},
		{[]string{"rtp", "--remote", "127.0.0.1:9", "--fec", "xor", "--in", "none", "--out", "none"}, 2, "need a negotiated call"},
		{[]string{"rtp", "--remote", "127.0.0.1:9", "--interleave", "4", "--in", "none", "--out", "none"}, 2, "need a negotiated call"},
		{[]string{"rtp", "--local", "127.0.0.1:0", "--remote", "127.0.0.1:9", "--in", wav16k, "--out", "none"}, 1, "sox"},
		{[]string{"rtp", "--local", "127.0.0.1:0", "--remote", "127.0.0.1:9", "--in", filepath.Join(dir, "missing.wav"), "--out", "none"}, 1, "missing.wav"},
		{[]string{"dial", "127.0.0.1:1", "--in", "none", "--out", "none"}, 1, "connection refused"},
		// the audio ends are checked before anyone is called or answered:
		// a listener without a working speaker must not wait for a call
		{[]string{"listen", "--addr", "127.0.0.1:0", "--in", "none", "--out-device", "no-such-card-xyz"}, 1, "no speaker"},
		{[]string{"dial", "127.0.0.1:1", "--in-device", "no-such-card-xyz", "--out", "none"}, 1, "no microphone"},
		{[]string{"listen", "--addr", "127.0.0.1:0", "--in", "none", "--out", filepath.Join(dir, "nodir", "x.wav")}, 2, "does not exist"},
	}
	// Built before the first run's limit starts: on a loaded machine the
	// build alone took over 20 s, and a command whose context had expired
	// before it started reported exit 0 and no output.
	bin := callBinary(t)
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, tt.args...)
			out, err := cmd.CombinedOutput()
			code := 0
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("running call: %v", err)
			}
			if code != tt.wantCode || !strings.Contains(string(out), tt.wantMsg) {
				t.Errorf("exit %d, output:\n%s\nwant exit %d and %q", code, out, tt.wantCode, tt.wantMsg)
			}
			if strings.Contains(string(out), "panic") || strings.Contains(string(out), "goroutine ") {
				t.Errorf("crashed:\n%s", out)
			}
		})
	}
}

func writeWAVHeader(t *testing.T, path string, rate int) {
	t.Helper()
	// a valid WAV at another rate, made by hand so the test needs no tool
	var b bytes.Buffer
	data := make([]byte, 3200)
	le := func(v uint32, n int) {
		for i := 0; i < n; i++ {
			b.WriteByte(byte(v >> (8 * i)))
		}
	}
	b.WriteString("RIFF")
	le(uint32(36+len(data)), 4)
	b.WriteString("WAVEfmt ")
	le(16, 4)
	le(1, 2)
	le(1, 2)
	le(uint32(rate), 4)
	le(uint32(rate*2), 4)
	le(2, 2)
	le(16, 2)
	b.WriteString("data")
	le(uint32(len(data)), 4)
	b.Write(data)
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
