package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/internal/audiotest"
	"github.com/spurtvoip/spurt/internal/testtool"
)

// lossyREDCall runs listener and dialer, the dialer sending clip
// continuously (--vad=false) through seeded 10 % loss with the given --fec;
// it returns the listener's stats, what it heard, and the dialer's stats.
func lossyREDCall(t *testing.T, clip, fec string, seed int) (map[string]any, []int16, map[string]any) {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	// --plc=false: RED is measured against lost audio played as silence
	l := listenAt(t, port, "--in", "none", "--out", filepath.Join(dir, "l.wav"), "--stats-json", filepath.Join(dir, "l.json"), "--quiet", "--plc=false")
	d := start(t, "dial", fmt.Sprintf("127.0.0.1:%d", port), "--in", clip, "--out", "none", "--vad=false",
		"--fec", fec, "--loss", "10%", "--seed", strconv.Itoa(seed), "--stats-json", filepath.Join(dir, "d.json"), "--quiet")
	if code := d.wait(t, 40*time.Second); code != 0 {
		t.Fatalf("dial exit code %d", code)
	}
	if code := l.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("listen exit code %d", code)
	}
	heard, err := audio.ReadWAVFile(filepath.Join(dir, "l.wav"))
	if err != nil {
		t.Fatal(err)
	}
	ds := readStats(t, filepath.Join(dir, "d.json"))
	if ds["fec"] != fec && !(fec == "red" && ds["fec"] == "red:1") {
		t.Errorf("dialer's fec %v, asked for %s", ds["fec"], fec)
	}
	if fec != "none" {
		t.Logf("dialer: overhead_ratio %v", ds["overhead_ratio"])
		if r := num(t, ds, "overhead_ratio"); r < 0.2 || r > 0.25 {
			t.Errorf("overhead_ratio %v, want about (33+4+1)/160 = 0.2375", r)
		}
	}
	return readStats(t, filepath.Join(dir, "l.json")), heard, ds
}

// seededDrops rebuilds which of the first n media packets a dialer with
// --loss 10% --seed seed dropped: --seed replays the media's impairment
// exactly (see flags.go), so the pattern is known without a capture.
func seededDrops(t *testing.T, seed, n int) []bool {
	t.Helper()
	var f callFlags
	fs := flag.NewFlagSet("dial", flag.ContinueOnError)
	f.register(fs)
	if err := fs.Parse([]string{"--loss", "10%", "--seed", strconv.Itoa(seed)}); err != nil {
		t.Fatal(err)
	}
	if err := f.resolve(fs); err != nil {
		t.Fatal(err)
	}
	mediaPath, _, err := f.path()
	if err != nil {
		t.Fatal(err)
	}
	drops := make([]bool, n)
	for i := range drops {
		_, ok := mediaPath.Send(time.Duration(i) * 20 * time.Millisecond)
		drops[i] = !ok
	}
	return drops
}

// redOutcome counts, in a loss pattern, the packets a receiver sees as lost
// (those between the first and the last that arrived) and the chunks RED at
// distance 1 cannot bring back (their packet and the next both lost).
func redOutcome(drops []bool) (lost, unrecoverable int) {
	first, last := slices.Index(drops, false), -1
	for i, d := range drops {
		if !d {
			last = i
		}
	}
	for i := first; first >= 0 && i <= last; i++ {
		if drops[i] {
			lost++
			if drops[i+1] { // i < last, and drops[last] is false
				unrecoverable++
			}
		}
	}
	return lost, unrecoverable
}

// TestCallREDRepairsLoss: two processes, 10 % Bernoulli loss, continuous
// sending. With --fec red a chunk is lost only if its packet and the next
// are: residual_lost near p^2 of the packets, far below network_lost; and
// what the listener heard is measurably closer to the speech sent.
//
// The tolerance on residual_lost is two-sided. Against the theory alone it
// could hardly be: 200 packets at p = 0.1 give n·p² = 2 with a standard
// deviation of 1.5, so 4 deviations reach below zero. But --seed replays the
// dialer's media loss exactly, so the test rebuilds the pattern and asks for
// the theory's own prediction on it: residual_lost equals the chunks whose
// packet and the next were both dropped, plus what came too late (a loaded
// machine's scheduling hiccups): a late packet costs its own chunk and, if
// that chunk's packet was dropped, the copy it carried of the one before;
// so at most two chunks. network_lost equals the drops exactly. The
// pattern itself must lie within 4 deviations of n·p². How well RED
// recovers on a virtual clock, with nothing late, is media's
// TestREDRecoversLossAsTheoryPredicts; this test is about the two
// processes: negotiation, the flag, the wire and the stats they print.
//
// The two calls (without and with RED) run side by side.
func TestCallREDRepairsLoss(t *testing.T) {
	t.Parallel()
	clip, sent := speechClip(t, 4*time.Second)
	const seed = 5
	fecs := []string{"none", "red"}
	var fid [2]audiotest.Fidelity
	t.Run("calls", func(t *testing.T) {
		for i, fec := range fecs {
			t.Run(fec, func(t *testing.T) {
				t.Parallel()
				st, heard, ds := lossyREDCall(t, clip, fec, seed)
				fid[i] = audiotest.CompareWhole(sent, heard, 2*audio.SampleRate)
				checkREDCall(t, fec, seed, st, ds, fid[i])
			})
		}
	})
	if t.Failed() {
		return
	}
	// With one decoder over the copies in order (media/red.go), a recovered
	// chunk decodes at 5-8 dB SNR where a lost one played as silence is
	// 0 dB: the SNR rises and the log-spectral distance falls.
	if fid[1].SpectralDistance > 0.8*fid[0].SpectralDistance || fid[1].SNR < fid[0].SNR+1.5 {
		t.Errorf("with RED: spectral distance %.2f dB, SNR %.2f dB; without: %.2f dB, %.2f dB: want the distance below 80 %% and the SNR 1.5 dB above",
			fid[1].SpectralDistance, fid[1].SNR, fid[0].SpectralDistance, fid[0].SNR)
	}
}

// checkREDCall checks one call of TestCallREDRepairsLoss: st the listener's
// stats, ds the dialer's, f what the listener heard against what was sent.
func checkREDCall(t *testing.T, fec string, seed int, st, ds map[string]any, f audiotest.Fidelity) {
	t.Helper()
	n, lost := num(t, st, "packets_expected"), num(t, st, "network_lost")
	residual, late, recovered := num(t, st, "residual_lost"), num(t, st, "late_lost"), num(t, st, "fec_recovered")
	t.Logf("--fec %s: expected %v, network_lost %v, late_lost %v, fec_recovered %v, residual_lost %v; playout delay %v ms; SNR %.2f dB, segmental %.2f dB, spectral distance %.2f dB",
		fec, n, lost, late, recovered, residual, st["playout_delay_ms_mean"], f.SNR, f.SegmentalSNR, f.SpectralDistance)
	if residual != lost+late-recovered && lost+late >= recovered {
		t.Errorf("residual_lost %v != network_lost %v + late_lost %v - fec_recovered %v", residual, lost, late, recovered)
	}
	wantLost, unrecoverable := redOutcome(seededDrops(t, seed, int(num(t, ds, "packets_sent"))))
	if lost != float64(wantLost) {
		t.Errorf("network_lost %v, but --seed %d dropped %d packets between the first and the last received", lost, seed, wantLost)
	}
	if fec == "none" {
		if recovered != 0 || residual != lost+late {
			t.Errorf("without RED: recovered %v, residual %v", recovered, residual)
		}
		return
	}
	const p = 0.1
	q := p * p // a chunk stays lost: its packet and the next lost
	// adjacent chunks share a packet: var = n (q(1-q) + 2(p^3 - q^2))
	sd := math.Sqrt(n * (q*(1-q) + 2*(p*p*p-q*q)))
	t.Logf("the seeded pattern: %d lost, %d unrecoverable; theory n·p² = %.1f ± %.1f", wantLost, unrecoverable, n*q, sd)
	if math.Abs(float64(unrecoverable)-n*q) > 4*sd {
		t.Errorf("the seeded loss left %d chunks unrecoverable, theory %.1f ± 4×%.1f", unrecoverable, n*q, sd)
	}
	if residual < float64(unrecoverable) || residual > float64(unrecoverable)+2*late {
		t.Errorf("residual_lost %v, want the %d chunks whose packet and the next were dropped, plus at most two for each of the %v late",
			residual, unrecoverable, late)
	}
	// Every dropped chunk whose copy could come is brought back, but for
	// one per late packet (the copy came with it, too late).
	if recoverable := float64(wantLost - unrecoverable); recovered < recoverable-late {
		t.Errorf("fec_recovered %v of the %v dropped chunks whose copy was sent on (%v late): RED should bring back all",
			recovered, recoverable, late)
	}
	if residual > lost/3+late {
		t.Errorf("residual_lost %v of %v lost (%v late): RED should bring back most", residual, lost, late)
	}
}

// TestCallGSM: GSM negotiated as the primary codec carries speech end to end.
func TestCallGSM(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clip, sent := speechClip(t, 4*time.Second)
	port := freePort(t)
	// A fixed 200 ms playout delay: what is measured is the codec, and on a
	// loaded machine an adaptive buffer's late chunks would be measured too.
	l := listenAt(t, port, "--codecs", "gsm,pcmu", "--in", "none", "--out", filepath.Join(dir, "l.wav"),
		"--playout", "fixed:200ms", "--stats-json", filepath.Join(dir, "l.json"), "--quiet")
	d := start(t, "dial", fmt.Sprintf("127.0.0.1:%d", port), "--codecs", "gsm,pcmu", "--in", clip, "--out", "none",
		"--vad=false", "--stats-json", filepath.Join(dir, "d.json"), "--quiet")
	if code := d.wait(t, 40*time.Second); code != 0 {
		t.Fatalf("dial exit code %d", code)
	}
	if code := l.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("listen exit code %d", code)
	}
	st := readStats(t, filepath.Join(dir, "l.json"))
	heard, err := audio.ReadWAVFile(filepath.Join(dir, "l.wav"))
	if err != nil {
		t.Fatal(err)
	}
	f := audiotest.CompareWhole(sent, heard, 2*audio.SampleRate)
	t.Logf("GSM call: %v packets, SNR %.2f dB, segmental %.2f dB, spectral distance %.2f dB", st["packets_received"], f.SNR, f.SegmentalSNR, f.SpectralDistance)
	if st["codec"] != "GSM" || num(t, st, "packets_received") < 0.85*float64(len(sent)/audio.FrameSamples) || num(t, st, "network_lost") != 0 {
		t.Errorf("codec %v, received %v, lost %v", st["codec"], st["packets_received"], st["network_lost"])
	}
	// GSM 06.10 keeps speech's spectrum (measured 6.9 dB, against 35 for
	// silence) better than its waveform (SNR 10.5 dB)
	if f.SpectralDistance > 9 || f.SNR < 6 {
		t.Errorf("GSM speech: spectral distance %.2f dB, SNR %.2f dB", f.SpectralDistance, f.SNR)
	}
}

// TestTsharkDecodesOurRED captures a --fec red call and has tshark's RFC
// 2198 dissector read it at the negotiated payload type: every packet's
// primary is PCMU, and after the first each carries one GSM copy 160 ticks back.
func TestTsharkDecodesOurRED(t *testing.T) {
	t.Parallel()
	tshark := testtool.Require(t, "tshark", "tshark")
	dir := t.TempDir()
	port := freePort(t)
	pcap := filepath.Join(dir, "red.pcap")
	capture := runTool(t, 60*time.Second, tshark, "-i", "lo", "-f", fmt.Sprintf("udp port %d", port), "-w", pcap, "-a", "duration:50")
	if !capture.waitOutput(t, "Capturing on", 20*time.Second) {
		msg := fmt.Sprintf("tshark cannot capture on lo (exit %v): %s", capture.err, capture.stderr.String())
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	l := listenAt(t, port, "--in", "none", "--out", "none", "--quiet")
	d := start(t, "dial", fmt.Sprintf("127.0.0.1:%d", port), "--in", speechWAV, "--out", "none", "--vad=false",
		"--fec", "red", "--duration", "2s", "--stats-json", filepath.Join(dir, "d.json"), "--quiet")
	if code := d.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("dial exit code %d", code)
	}
	l.wait(t, 10*time.Second)
	time.Sleep(300 * time.Millisecond)
	capture.interrupt() // waits for tshark to finish the file

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// 96 is the first dynamic payload type, the one the offer gives red/8000
	// with PCMU as primary
	out, err := exec.CommandContext(ctx, tshark, "-r", pcap, "-d", fmt.Sprintf("udp.port==%d,rtp", port),
		"-d", "rtp.pt==96,rtp_rfc2198", "-Y", fmt.Sprintf("udp.dstport==%d && rtp.p_type==96", port),
		"-T", "fields", "-E", "separator=;", "-E", "aggregator=,",
		"-e", "rtp.seq", "-e", "rtp.follow", "-e", "rtp.timestamp-offset", "-e", "rtp.block-length").Output()
	if err != nil {
		t.Fatalf("tshark -r: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(bytes.ReplaceAll(out, []byte("\r"), nil))), "\n")
	sent := int(num(t, readStats(t, filepath.Join(dir, "d.json")), "packets_sent"))
	if len(lines) != sent || sent < 90 {
		t.Fatalf("tshark decoded %d RED packets, the dialer sent %d:\n%s", len(lines), sent, out)
	}
	for i, line := range lines {
		f := strings.Split(line, ";")
		want := "1,0;160;33" // F bits of the copy's and the primary's headers; copy offset; copy length
		if i == 0 {
			want = "0;;" // the first packet has nothing before it
		}
		if len(f) != 4 || strings.Join(f[1:], ";") != want {
			t.Errorf("packet %d: tshark read %q, want %q", i, line, want)
		}
	}
}
