package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/impair"
	"github.com/spurtvoip/spurt/internal/audiotest"
)

// lossyDial runs listener and dialer, the dialer sending clip
// continuously (--vad=false) through seeded 5 % loss with the given flags;
// it returns both sides' stats, what the listener heard and the listener's
// --trace-out trace (which of the media packets it received).
func lossyDial(t *testing.T, clip string, seed int, args ...string) (dialer, listener map[string]any, heard []int16, trace []impair.TraceRow) {
	t.Helper()
	dir := t.TempDir()
	port := freePort(t)
	l := listenAt(t, port, "--in", "none", "--out", filepath.Join(dir, "l.wav"), "--stats-json", filepath.Join(dir, "l.json"),
		"--trace-out", filepath.Join(dir, "trace.csv"), "--quiet")
	dargs := append([]string{"dial", fmt.Sprintf("127.0.0.1:%d", port), "--in", clip, "--out", "none", "--vad=false",
		"--loss", "5%", "--seed", strconv.Itoa(seed), "--stats-json", filepath.Join(dir, "d.json"), "--quiet"}, args...)
	d := start(t, dargs...)
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
	f, err := os.Open(filepath.Join(dir, "trace.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr, err := impair.ParseTrace(f)
	if err != nil {
		t.Fatal(err)
	}
	return readStats(t, filepath.Join(dir, "d.json")), readStats(t, filepath.Join(dir, "l.json")), heard, tr.Rows
}

// xorGroups splits the sender's media packets into its XOR groups of n, from
// its first packet, given which of them the receiver's trace shows lost
// (rows, from the first packet received to the last) and how many were sent:
// lead of them before the first received, the rest of the difference after
// the last. Packets outside the trace count towards their group's losses but
// not in the results, as the receiver cannot know of them. single is the
// number of groups whose one lost packet is in the trace: recoverable if the
// group's parity arrives. multiple is the number of lost packets in the trace
// whose group lost another packet too: never recoverable.
func xorGroups(rows []impair.TraceRow, sent, lead, n int) (single, multiple int) {
	lost := make([]bool, sent)
	for i := range lost {
		lost[i] = i < lead || i >= lead+len(rows) || rows[i-lead].Lost
	}
	for g := 0; g*n < sent; g++ {
		var inGroup, inTrace int
		for i := g * n; i < min((g+1)*n, sent); i++ {
			if lost[i] {
				inGroup++
				if i >= lead && i < lead+len(rows) {
					inTrace++
				}
			}
		}
		switch {
		case inGroup == 1 && inTrace == 1:
			single++
		case inGroup > 1:
			multiple += inTrace
		}
	}
	return single, multiple
}

// TestCallXORRepairsLoss: two processes, 5 % Bernoulli loss on every packet
// (parity included), continuous sending, --fec xor:4. The listener's trace
// says exactly which media packets were lost; from it, the groups that lost
// two or more packets can never be repaired, and each group that lost one is
// repaired unless its parity packet was lost too (probability p, which the
// trace cannot show: parity is not traced). So: fec_recovered is at most the
// number of single-loss groups, the packets of multiple-loss groups all stay
// lost, and the single-loss groups left unrepaired (parity lost, or rebuilt
// too late) lie within 4 binomial standard deviations of p times their
// number. residual_lost is then compared with the theory p·(1-(1-p)^4) for
// the log.
func TestCallXORRepairsLoss(t *testing.T) {
	t.Parallel()
	clip, sent := speechClip(t, 4*time.Second)
	ds, st, heard, rows := lossyDial(t, clip, 7, "--fec", "xor:4")
	if ds["fec"] != "xor:4" {
		t.Errorf("dialer's fec %v, want xor:4", ds["fec"])
	}
	if r := num(t, ds, "overhead_ratio"); math.Abs(r-174.0/640) > 0.01 {
		t.Errorf("overhead_ratio %v, want about (10+4+160)/(4×160) = 0.272", r)
	}
	n, lost := num(t, st, "packets_expected"), num(t, st, "network_lost")
	residual, late, recovered, fecLate := num(t, st, "residual_lost"), num(t, st, "late_lost"), num(t, st, "fec_recovered"), num(t, st, "fec_late")
	fid := audiotest.CompareWhole(sent, heard, 2*audio.SampleRate)
	const p = 0.05
	q := p * (1 - math.Pow(1-p, 4))
	t.Logf("--fec xor:4: expected %v, network_lost %v, late_lost %v, fec_recovered %v, fec_late %v, residual_lost %v (theory %.1f), concealed %v; playout delay %v ms; SNR %.2f dB, spectral distance %.2f dB",
		n, lost, late, recovered, fecLate, residual, n*q, st["concealed"], st["playout_delay_ms_mean"], fid.SNR, fid.SpectralDistance)
	traceLost := 0
	for _, r := range rows {
		if r.Lost {
			traceLost++
		}
	}
	if float64(traceLost) != lost || float64(len(rows)) != n {
		t.Fatalf("trace: %d rows, %d lost; stats: %v expected, %v lost", len(rows), traceLost, n, lost)
	}
	if residual != lost+late-recovered {
		t.Errorf("residual_lost %v != network_lost %v + late_lost %v - fec_recovered %v", residual, lost, late, recovered)
	}
	if fecLate > residual {
		t.Errorf("fec_late %v is not part of residual_lost %v", fecLate, residual)
	}
	// The packets before the first received are unknown to the listener:
	// try every split of the missing ones between the start and the end.
	media := int(num(t, ds, "packets_sent"))
	var explained []string
	for lead := 0; lead <= media-len(rows); lead++ {
		single, multiple := xorGroups(rows, media, lead, 4)
		unrepaired := float64(single) - recovered - fecLate
		limit := float64(single)*p + 4*math.Sqrt(float64(single)*p*(1-p))
		t.Logf("%d unknown before the first packet: %d single-loss groups (%v repaired, %v rebuilt late, %v not: parity lost, %.1f expected), %d packets in multiple-loss groups",
			lead, single, recovered, fecLate, unrepaired, float64(single)*p, multiple)
		if recovered <= float64(single) && unrepaired <= limit && residual-late >= float64(multiple) {
			explained = append(explained, fmt.Sprint(lead))
		}
	}
	if len(explained) == 0 {
		t.Errorf("no split of the %d packets missing from the trace explains %v repaired and %v residual (see the log)", media-len(rows), recovered, residual)
	}
}

// TestCallInterleaved: --interleave 4 with --fec xor:2 is negotiated and
// carries all of the speech; the listener reassembles the chunks and conceals
// the 5 ms holes lost packets leave, and the group's wait shows in the delay.
func TestCallInterleaved(t *testing.T) {
	t.Parallel()
	// 205 frames: the last group of four is completed with silence
	clip, sent := speechClip(t, 4100*time.Millisecond)
	ds, st, heard, _ := lossyDial(t, clip, 8, "--interleave", "4", "--fec", "xor:2")
	if num(t, ds, "interleave") != 4 || ds["fec"] != "xor:2" {
		t.Errorf("dialer: interleave %v, fec %v; want 4, xor:2", ds["interleave"], ds["fec"])
	}
	fid := audiotest.CompareWhole(sent, heard, 2*audio.SampleRate)
	t.Logf("--interleave 4 --fec xor:2: expected %v, network_lost %v, fec_recovered %v, residual_lost %v, concealed %v chunks (%v ms); playout delay %v ms; SNR %.2f dB, spectral distance %.2f dB",
		st["packets_expected"], st["network_lost"], st["fec_recovered"], st["residual_lost"], st["concealed"], st["concealed_ms"],
		st["playout_delay_ms_mean"], fid.SNR, fid.SpectralDistance)
	// every frame is sent, the last group of four completed with chunks
	// of silence at the end of the input
	if pkts, frames := num(t, ds, "packets_sent"), len(sent)/160; pkts != float64((frames+3)/4*4) {
		t.Errorf("sent %v packets for %d frames, want %d", pkts, frames, (frames+3)/4*4)
	}
	if played := num(t, st, "chunks_played"); played < 0.9*float64(len(sent)/160) {
		t.Errorf("played %v chunks of %d sent", played, len(sent)/160)
	}
	if residual := num(t, st, "residual_lost"); residual > 0 && num(t, st, "concealed") == 0 {
		t.Errorf("%v packets lost for good, nothing concealed", residual)
	}
	// capture to playout: at least the three chunks the group waits for
	if d := num(t, st, "playout_delay_ms_mean"); d < 60 {
		t.Errorf("playout delay %v ms: the interleaving group's 60 ms should show", d)
	}
	if fid.SNR < 10 {
		t.Errorf("SNR %.2f dB: the interleaved speech did not come through", fid.SNR)
	}
}
