package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/internal/audiotest"
	"github.com/spurtvoip/spurt/internal/testtool"
)

// These tests check `call` against independent RTP implementations: ffmpeg
// receives what we send (from the SDP --sdp-out writes) and sends what we
// receive, and tshark's dissectors judge our packets on the wire.

// lockedBuffer collects a process's output while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// tool is a running program (ffmpeg, tshark, or call itself). Stopping it
// sends SIGINT, so that ffmpeg and tshark finish their files; a program
// that ignores it is killed after a few seconds, and one that outlives the
// limit given to runTool is stopped the same way.
type tool struct {
	cmd            *exec.Cmd
	stdout, stderr lockedBuffer
	stop           context.CancelFunc
	done           chan struct{}
	err            error
}

func runTool(t *testing.T, limit time.Duration, name string, args ...string) *tool {
	t.Helper()
	ctx, stop := context.WithTimeout(context.Background(), limit)
	p := &tool{cmd: exec.CommandContext(ctx, name, args...), stop: stop, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	p.cmd.Cancel = func() error { return p.cmd.Process.Signal(os.Interrupt) }
	p.cmd.WaitDelay = 5 * time.Second
	if err := p.cmd.Start(); err != nil {
		stop()
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		<-p.done // bounded: WaitDelay kills what SIGINT did not end
		if t.Failed() {
			t.Logf("%s %s\nstdout:\n%s\nstderr:\n%s", filepath.Base(name), strings.Join(args, " "),
				tail(p.stdout.String()), tail(p.stderr.String()))
		}
	})
	return p
}

// tail keeps the end of a long log.
func tail(s string) string {
	const keep = 4000
	if len(s) > keep {
		return "..." + s[len(s)-keep:]
	}
	return s
}

// waitOutput waits (bounded) until the program's stderr contains want. It
// returns false if the program exits first, and fails the test if it says
// nothing of the kind in time.
func (p *tool) waitOutput(t *testing.T, want string, limit time.Duration) bool {
	t.Helper()
	seen, exited := p.watch(want, limit)
	if !seen && !exited {
		t.Fatalf("%s did not say %q within %v", filepath.Base(p.cmd.Path), want, limit)
	}
	return seen
}

// watch polls the program's stderr for want until it appears, the program
// exits, or limit passes.
func (p *tool) watch(want string, limit time.Duration) (seen, exited bool) {
	deadline := time.After(limit)
	for {
		if strings.Contains(p.stderr.String(), want) {
			return true, false
		}
		select {
		case <-p.done:
			return strings.Contains(p.stderr.String(), want), true
		case <-deadline:
			return false, false
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// wait waits (bounded) for the program to exit on its own and returns its exit code.
func (p *tool) wait(t *testing.T, limit time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		t.Fatalf("%s %v still running after %v", filepath.Base(p.cmd.Path), p.cmd.Args[1:], limit)
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		t.Fatalf("%s: %v", filepath.Base(p.cmd.Path), p.err)
	}
	return 0
}

// interrupt stops the program with SIGINT and waits for it (bounded by WaitDelay).
func (p *tool) interrupt() {
	p.stop()
	<-p.done
}

// rtpPortPair finds a UDP port on 127.0.0.1 that is free together with the
// next one: ffmpeg receives RTP on the SDP's port and opens port+1 for RTCP.
func rtpPortPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		a, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		b, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port+1))
		a.Close()
		if err == nil {
			b.Close()
			return port
		}
	}
	t.Fatal("no free pair of UDP ports")
	return 0
}

func readSpeech(t *testing.T) []int16 {
	t.Helper()
	ref, err := audio.ReadWAVFile(speechWAV)
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// windowLag finds where ref[from:from+n] best matches in got, searching lags
// (got index minus ref index) within ±search of around, by least squared error.
func windowLag(ref, got []int16, from, n, around, search int) int {
	best, bestErr := around, math.Inf(1)
	for l := around - search; l <= around+search; l++ {
		var e float64
		for i := from; i < from+n && e < bestErr; i++ {
			var g float64
			if j := i + l; j >= 0 && j < len(got) {
				g = float64(got[j])
			}
			d := float64(ref[i]) - g
			e += d * d
		}
		if e < bestErr {
			best, bestErr = l, e
		}
	}
	return best
}

// drift measures how far the received audio slid against the reference
// between its second second and its second-to-last one: zero when every
// packet played for the duration its timestamps and payload imply.
func drift(t *testing.T, ref, got []int16, lag int) int {
	t.Helper()
	const window = audio.SampleRate
	if len(ref) < 4*window {
		t.Fatalf("reference of %d samples is too short to measure drift", len(ref))
	}
	early := windowLag(ref, got, window, window, lag, 400)
	late := windowLag(ref, got, len(ref)-2*window, window, lag, 400)
	return late - early
}

// TestFFmpegReceivesOurRTP: ffmpeg, reading the SDP file --sdp-out writes,
// decodes our stream (RTP and RTCP muxed on one port) to what we sent.
func TestFFmpegReceivesOurRTP(t *testing.T) {
	t.Parallel()
	ffmpeg := testtool.Require(t, "ffmpeg", "ffmpeg")
	call := callBinary(t)
	// 5 s: drift is measured between the second second and the
	// second-to-last one
	speech, ref := speechClip(t, 5*time.Second)
	for _, codec := range []string{"pcmu", "pcma"} {
		t.Run(codec, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			local := fmt.Sprintf("127.0.0.1:%d", freePort(t))
			remote := fmt.Sprintf("127.0.0.1:%d", rtpPortPair(t))
			sdpFile, out := filepath.Join(dir, "stream.sdp"), filepath.Join(dir, "ffmpeg.wav")
			// ffmpeg must be listening before the first packet, and it needs
			// the SDP to start: write it with the same flags first
			described := runTool(t, 10*time.Second, call, "rtp", "--local", local, "--remote", remote,
				"--codec", codec, "--in", "none", "--out", "none", "--duration", "1ms", "--quiet", "--sdp-out", sdpFile)
			if code := described.wait(t, 10*time.Second); code != 0 {
				t.Fatalf("writing the SDP: exit code %d", code)
			}
			sdp, err := os.ReadFile(sdpFile)
			if err != nil {
				t.Fatal(err)
			}
			// -t bounds the recording a little beyond what is sent; ffmpeg
			// stops at our SIGINT once the call has ended
			limit := float64(len(ref))/audio.SampleRate + 1
			ff := runTool(t, 40*time.Second, ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "debug",
				"-protocol_whitelist", "file,udp,rtp", "-i", sdpFile, "-t", strconv.FormatFloat(limit, 'f', 2, 64), "-y", out)
			// logged once its RTP (and RTCP) sockets are bound
			if !ff.waitOutput(t, "jitter buffer size", 15*time.Second) {
				t.Fatalf("ffmpeg exited before receiving (exit %v)", ff.err)
			}
			sent := filepath.Join(dir, "sent.sdp")
			stats := filepath.Join(dir, "stats.json")
			c := runTool(t, 40*time.Second, call, "rtp", "--local", local, "--remote", remote, "--codec", codec,
				"--in", speech, "--out", "none", "--vad=false", "--sdp-out", sent, "--stats-json", stats,
				"--peer-timeout", "30s", "--quiet")
			if code := c.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("call exit code %d", code)
			}
			time.Sleep(500 * time.Millisecond) // let ffmpeg take the last datagrams
			ff.interrupt()

			again, err := os.ReadFile(sent)
			if err != nil {
				t.Fatal(err)
			}
			if stripOrigin(again) != stripOrigin(sdp) {
				t.Errorf("the SDP changed between runs with the same flags:\n%s\nthen\n%s", sdp, again)
			}
			heard, err := audio.ReadWAVFile(out)
			if err != nil {
				t.Fatalf("ffmpeg's output: %v (exit %v)", err, ff.err)
			}
			packets := num(t, readStats(t, stats), "packets_sent")
			r := audiotest.Compare(ref, heard, 2*audio.SampleRate, 800)
			d := drift(t, ref, heard, r.Lag)
			t.Logf("%s: ffmpeg decoded %d samples from %v packets: SNR %.1f dB, coverage %.4f, lag %d, drift %d samples",
				codec, len(heard), packets, r.SNR, r.Coverage, r.Lag, d)
			// every packet decoded once, and no RTCP datagram taken for audio
			if want := int(packets) * 160; len(heard) != want {
				t.Errorf("ffmpeg decoded %d samples, want %d (%v packets of 160)", len(heard), want, packets)
			}
			if r.SNR < 30 || r.Coverage < 0.99 {
				t.Errorf("SNR %.1f dB, coverage %.4f: want > 30 dB and nearly all speech", r.SNR, r.Coverage)
			}
			if d < -2 || d > 2 {
				t.Errorf("ffmpeg's audio drifted %d samples against ours over the file: timestamps wrong?", d)
			}
			if log := ff.stderr.String(); strings.Contains(log, "RTP: PT=") || strings.Contains(log, "RTP: dropping") {
				t.Errorf("ffmpeg complained about our packets")
			}
		})
	}
}

// stripOrigin drops the o= line, whose session ID is random per run.
func stripOrigin(sdp []byte) string {
	var keep []string
	for _, line := range strings.Split(string(sdp), "\n") {
		if !strings.HasPrefix(line, "o=") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// TestWeReceiveFFmpegRTP: ffmpeg's RTP muxer sends G.711 in large packets
// (up to its 1460-byte payload, 182 ms) in bursts, not 20 ms chunks. The
// receiver plays each for the duration its payload and timestamp imply: the
// recording matches what ffmpeg sent, with no gap, overlap or drift.
func TestWeReceiveFFmpegRTP(t *testing.T) {
	t.Parallel()
	ffmpeg := testtool.Require(t, "ffmpeg", "ffmpeg")
	call := callBinary(t)
	speech, ref := speechClip(t, 5*time.Second)
	dir := t.TempDir()
	port := freePort(t)
	heardFile, stats := filepath.Join(dir, "heard.wav"), filepath.Join(dir, "stats.json")
	// The peer timeout also runs while ffmpeg starts, which took over 2 s
	// on a loaded machine: 5 s.
	c := runTool(t, 40*time.Second, call, "rtp", "--local", fmt.Sprintf("127.0.0.1:%d", port),
		"--remote", fmt.Sprintf("127.0.0.1:%d", freePort(t)), "--codec", "pcmu", "--in", "none",
		"--out", heardFile, "--peer-timeout", "5s", "--stats-json", stats, "--quiet")
	if !c.waitOutput(t, "streaming RTP", 10*time.Second) {
		t.Fatalf("call exited before streaming: %v", c.err)
	}
	ff := runTool(t, 30*time.Second, ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "warning", "-re",
		"-i", speech, "-ar", "8000", "-ac", "1", "-c:a", "pcm_mulaw", "-f", "rtp", fmt.Sprintf("rtp://127.0.0.1:%d", port))
	if code := ff.wait(t, 25*time.Second); code != 0 {
		t.Fatalf("ffmpeg exit code %d", code)
	}
	// ffmpeg sends no BYE: a receive-only stream ends, in order, when the
	// sender has been silent for the peer timeout
	if code := c.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("call exit code %d, want 0 for a stream that stopped:\n%s", code, c.stderr.String())
	}
	if !strings.Contains(c.stdout.String(), "stream stopped") {
		t.Errorf("summary should say the stream stopped:\n%s", c.stdout.String())
	}
	st := readStats(t, stats)
	heard, err := audio.ReadWAVFile(heardFile)
	if err != nil {
		t.Fatal(err)
	}
	packets := num(t, st, "packets_received")
	// The recording starts when the call does, so ffmpeg's start (over
	// 2 s under load, up to the peer timeout) is silence before the speech.
	r := audiotest.Compare(ref, heard, 6*audio.SampleRate, 800)
	d := drift(t, ref, heard, r.Lag)
	t.Logf("ffmpeg sent %d samples in %v packets (%.0f ms each on average): SNR %.1f dB, coverage %.4f, drift %d samples; late %v, spurts %v, jitter %v ms",
		len(ref), packets, float64(len(ref))/packets/8, r.SNR, r.Coverage, d, st["late_lost"], st["talkspurts"], st["jitter_ms"])
	if packets == 0 || packets > float64(len(ref))/160/2 {
		t.Errorf("%v packets for %d samples: ffmpeg no longer sends large packets, so this test proves nothing", packets, len(ref))
	}
	for _, key := range []string{"network_lost", "malformed", "wrong_payload_type", "rejected_source", "refused"} {
		if v := num(t, st, key); v != 0 {
			t.Errorf("%s = %v, want 0", key, v)
		}
	}
	if r.SNR < 30 || r.Coverage < 0.95 {
		t.Errorf("SNR %.1f dB, coverage %.4f: want > 30 dB and > 0.95", r.SNR, r.Coverage)
	}
	if d < -2 || d > 2 {
		t.Errorf("playout drifted %d samples against ffmpeg's timestamps over the file", d)
	}
}

// rtpRow is one captured datagram as tshark decoded it.
type rtpRow struct {
	src, dst  int
	ssrc      string
	pt        int // -1 when tshark did not decode it as RTP
	seq       uint16
	ts        uint32
	marker    bool
	rtcpTypes []int // RTCP packet types in a compound, in order
}

// TestTsharkDecodesOurPackets: Wireshark's dissectors read a real listen/dial
// call with silence suppression as well-formed RTP and RTCP: the right
// payload type, consecutive sequence numbers, timestamps that advance one
// chunk per packet within a talk spurt and whole chunks across silence, the
// marker bit on exactly the first packet of every spurt, and RTCP compounds
// starting with SR/RR, carrying SDES, and ending each side with a BYE.
func TestTsharkDecodesOurPackets(t *testing.T) {
	t.Parallel()
	tshark := testtool.Require(t, "tshark", "tshark")
	call := callBinary(t)
	ref := readSpeech(t)
	speech := filepath.Join(t.TempDir(), "speech5s.wav")
	if err := audio.WriteWAVFile(speech, ref[:min(len(ref), 5*audio.SampleRate)]); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		codec string
		pt    int
	}{{"pcmu", 0}, {"pcma", 8}} {
		t.Run(tc.codec, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			port := freePort(t)
			pcap := filepath.Join(dir, "call.pcap")
			capture := runTool(t, 60*time.Second, tshark, "-i", "lo", "-f", fmt.Sprintf("udp port %d", port),
				"-w", pcap, "-a", "duration:50")
			if !capture.waitOutput(t, "Capturing on", 20*time.Second) {
				msg := fmt.Sprintf("tshark cannot capture on lo (exit %v): %s", capture.err, capture.stderr.String())
				if os.Getenv("CI") != "" {
					t.Fatal(msg)
				}
				t.Skip(msg + "; give dumpcap capture rights (dpkg-reconfigure wireshark-common, group wireshark) to run this test")
			}
			// tshark says "Capturing on" as it starts dumpcap; tshark 4 adds
			// "Capture started" once dumpcap has the device open and filtered,
			// and without waiting for it the call's first packet can be missed
			if _, exited := capture.watch("Capture started", 5*time.Second); exited {
				t.Fatalf("tshark stopped: %v", capture.err)
			}
			addr := fmt.Sprintf("127.0.0.1:%d", port)
			l := runTool(t, 40*time.Second, call, "listen", "--addr", addr, "--in", "none", "--out", "none", "--quiet")
			if !l.waitOutput(t, "waiting for a call", 10*time.Second) {
				t.Fatalf("listener exited: %v", l.err)
			}
			stats := filepath.Join(dir, "dial.json")
			d := runTool(t, 40*time.Second, call, "dial", addr, "--codecs", tc.codec, "--in", speech, "--out", "none",
				"--stats-json", stats, "--quiet")
			if code := d.wait(t, 30*time.Second); code != 0 {
				t.Fatalf("dial exit code %d", code)
			}
			if code := l.wait(t, 10*time.Second); code != 0 {
				t.Fatalf("listen exit code %d", code)
			}
			// Give dumpcap time to read the BYEs, the last packets, from the
			// kernel before it is stopped: 300 ms was too little on a loaded
			// machine, where it lost them (both sides' last compound had none).
			time.Sleep(2 * time.Second)
			capture.interrupt()

			rows := decodeCapture(t, tshark, pcap, port)
			sent := num(t, readStats(t, stats), "packets_sent")
			checkRTPStream(t, rows, port, tc.pt, int(sent))
			checkRTCP(t, "dialer", rows, func(r rtpRow) bool { return r.dst == port }, true)
			checkRTCP(t, "listener", rows, func(r rtpRow) bool { return r.src == port }, false)
		})
	}
}

// decodeCapture has tshark decode the capture, the call's port as RTP (RTCP
// muxed on it is told apart by the RTP dissector, RFC 5761).
func decodeCapture(t *testing.T, tshark, pcap string, port int) []rtpRow {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, tshark, "-r", pcap, "-d", fmt.Sprintf("udp.port==%d,rtp", port), "-T", "fields",
		"-e", "udp.srcport", "-e", "udp.dstport", "-e", "rtp.ssrc", "-e", "rtp.p_type", "-e", "rtp.seq",
		"-e", "rtp.timestamp", "-e", "rtp.marker", "-e", "rtcp.pt")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark -r: %v\n%s", err, stderr.String())
	}
	var rows []rtpRow
	for i, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		row, err := parseRow(line)
		if err != nil {
			t.Fatalf("tshark line %d %q: %v", i+1, line, err)
		}
		rows = append(rows, row)
	}
	return rows
}

func parseRow(line string) (rtpRow, error) {
	f := strings.Split(line, "\t")
	if len(f) != 8 {
		return rtpRow{}, fmt.Errorf("%d fields, want 8", len(f))
	}
	row := rtpRow{ssrc: f[2], pt: -1}
	var err error
	if row.src, err = strconv.Atoi(f[0]); err != nil {
		return row, fmt.Errorf("source port: %w", err)
	}
	if row.dst, err = strconv.Atoi(f[1]); err != nil {
		return row, fmt.Errorf("destination port: %w", err)
	}
	if f[3] != "" {
		if row.pt, err = strconv.Atoi(f[3]); err != nil {
			return row, fmt.Errorf("payload type: %w", err)
		}
		seq, err := strconv.ParseUint(f[4], 10, 16)
		if err != nil {
			return row, fmt.Errorf("sequence number: %w", err)
		}
		ts, err := strconv.ParseUint(f[5], 10, 32)
		if err != nil {
			return row, fmt.Errorf("timestamp: %w", err)
		}
		row.seq, row.ts = uint16(seq), uint32(ts)
		switch strings.ToLower(f[6]) { // tshark prints booleans as 1/0 or, since 4.2, True/False
		case "1", "true":
			row.marker = true
		case "0", "false":
		default:
			return row, fmt.Errorf("marker %q", f[6])
		}
	}
	if f[7] != "" {
		for _, s := range strings.Split(f[7], ",") {
			pt, err := strconv.Atoi(s)
			if err != nil {
				return row, fmt.Errorf("RTCP packet type: %w", err)
			}
			row.rtcpTypes = append(row.rtcpTypes, pt)
		}
	}
	return row, nil
}

// checkRTPStream checks the dialer's media as tshark decoded it.
func checkRTPStream(t *testing.T, rows []rtpRow, port, wantPT, sent int) {
	t.Helper()
	var stream []rtpRow
	for _, r := range rows {
		if r.dst == port && r.pt >= 0 {
			stream = append(stream, r)
		}
	}
	if len(stream) != sent {
		t.Fatalf("tshark decoded %d RTP packets to the listener, the dialer sent %d", len(stream), sent)
	}
	spurts, gaps := 0, 0
	for i, r := range stream {
		if r.pt != wantPT || r.ssrc != stream[0].ssrc {
			t.Fatalf("packet %d: PT %d SSRC %s, want PT %d SSRC %s", i, r.pt, r.ssrc, wantPT, stream[0].ssrc)
		}
		if r.marker {
			spurts++
		}
		if i == 0 {
			if !r.marker {
				t.Errorf("the first packet lacks the marker bit")
			}
			continue
		}
		prev := stream[i-1]
		if r.seq != prev.seq+1 {
			t.Errorf("packet %d: sequence number %d after %d", i, r.seq, prev.seq)
		}
		step := r.ts - prev.ts
		switch {
		case step == 160 && r.marker:
			t.Errorf("packet %d (seq %d): marker set without silence before it", i, r.seq)
		case step == 160:
		case step%160 == 0 && step < 1<<31: // whole chunks of silence skipped
			gaps++
			if !r.marker {
				t.Errorf("packet %d (seq %d): timestamp jumped %d with no marker", i, r.seq, step)
			}
		default:
			t.Errorf("packet %d (seq %d): timestamp advanced %d, want a positive multiple of 160", i, r.seq, int32(step))
		}
	}
	t.Logf("%d RTP packets, PT %d, %d talk spurts", len(stream), wantPT, spurts)
	if spurts < 3 || gaps != spurts-1 {
		t.Errorf("%d spurts with %d silences between them: want several talk spurts, each after a silence", spurts, gaps)
	}
}

// checkRTCP checks one side's RTCP compounds: each starts with an SR or RR
// and carries an SDES (RFC 3550 6.1), the side's last one holds its BYE, and
// none is mistaken for RTP. A side that sent media must have sent an SR.
func checkRTCP(t *testing.T, side string, rows []rtpRow, from func(rtpRow) bool, sentMedia bool) {
	t.Helper()
	const sr, rr, sdes, bye = 200, 201, 202, 203
	var compounds [][]int
	lastRTP, lastRTCP := -1, -1
	for i, r := range rows {
		if !from(r) {
			continue
		}
		if r.pt >= 0 {
			lastRTP = i
			if len(r.rtcpTypes) > 0 {
				t.Errorf("%s: datagram %d decoded as both RTP and RTCP", side, i)
			}
			continue
		}
		if len(r.rtcpTypes) == 0 {
			t.Errorf("%s: datagram %d decoded as neither RTP nor RTCP", side, i)
			continue
		}
		compounds = append(compounds, r.rtcpTypes)
		lastRTCP = i
	}
	t.Logf("%s RTCP: %v", side, compounds)
	if len(compounds) < 2 {
		t.Fatalf("%s sent %d RTCP packets, want reports and a BYE", side, len(compounds))
	}
	if sentMedia && compounds[0][0] != rr {
		t.Errorf("%s: first RTCP %v, want an RR: it leaves before any media", side, compounds[0])
	}
	haveSR := false
	for i, c := range compounds {
		if c[0] != sr && c[0] != rr {
			t.Errorf("%s: RTCP compound %d starts with type %d, want SR or RR", side, i, c[0])
		}
		if !contains(c, sdes) {
			t.Errorf("%s: RTCP compound %d %v has no SDES", side, i, c)
		}
		if contains(c, bye) != (i == len(compounds)-1) {
			t.Errorf("%s: RTCP compound %d of %d %v: want a BYE in the last one only", side, i, len(compounds), c)
		}
		haveSR = haveSR || c[0] == sr
	}
	if haveSR != sentMedia {
		t.Errorf("%s: sender report sent %v, media sent %v", side, haveSR, sentMedia)
	}
	if lastRTP > lastRTCP {
		t.Errorf("%s sent RTP after its BYE", side)
	}
}

func contains(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
