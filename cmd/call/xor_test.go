package main

import (
	"fmt"
	"github.com/spurtvoip/spurt/media"
	"log/slog"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/impair"
	"github.com/spurtvoip/spurt/internal/audiotest"
	"github.com/spurtvoip/spurt/jitter"
	"github.com/spurtvoip/spurt/rtpcall"
	"github.com/spurtvoip/spurt/signaling"
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

func TestFECSchemeFlag(t *testing.T) {
	tests := []struct {
		in       string
		xor, red int
		ok       bool
	}{
		{"xor", 4, 0, true}, {"XOR:2", 2, 0, true}, {"xor:24", 24, 0, true}, {"red:2", 0, 2, true}, {"none", 0, 0, true},
		{"xor:1", 0, 0, false}, {"xor:25", 0, 0, false}, {"xor:x", 0, 0, false}, {"parity", 0, 0, false},
	}
	for _, tt := range tests {
		var f callFlags
		err := fecSchemeFlag{&f}.Set(tt.in)
		if (err == nil) != tt.ok || (tt.ok && (f.xor != tt.xor || f.fec.distance != tt.red)) {
			t.Errorf("--fec %s: xor %d, red %d, err %v; want %d, %d, ok %v", tt.in, f.xor, f.fec.distance, err, tt.xor, tt.red, tt.ok)
		}
	}
}

func TestInterleaveCombinations(t *testing.T) {
	tests := []struct {
		depth, red int
		ok         bool
	}{
		{0, 0, true}, {4, 0, true}, {2, 0, true}, {8, 0, true}, {5, 0, true},
		{1, 0, false}, {3, 0, false}, {9, 0, false}, {4, 1, false},
	}
	for _, tt := range tests {
		f := callFlags{interleave: tt.depth}
		f.fec.distance = tt.red
		if err := f.checkCombinations(); (err == nil) != tt.ok {
			t.Errorf("--interleave %d with red:%d: err %v, want ok %v", tt.depth, tt.red, err, tt.ok)
		}
	}
}

// TestXORInterleaveNegotiation runs offer and answer through the signaling
// package's SDP and checks what each side ends up sending and accepting.
func TestXORInterleaveNegotiation(t *testing.T) {
	addr := netip.MustParseAddrPort("127.0.0.1:4000")
	reg := codecRegistry(t)
	offerOf := func(group, depth int, codecs ...string) signaling.Session {
		o := signaling.Session{RTPAddr: addr, PTime: 20 * time.Millisecond}
		for _, n := range codecs {
			c, _ := reg.ByName(n)
			o.Formats = append(o.Formats, signaling.Format{PayloadType: c.PayloadType, Name: c.Name, ClockRate: c.ClockRate})
		}
		offerXORInterleave(&o, group, depth)
		return o
	}
	tests := []struct {
		name                 string
		offer                signaling.Session
		supported            []string
		group, depth         int // the answerer's
		wantXOR, wantIL      bool
		peerGroup, peerDepth int // what the answerer learns of the offerer
		offererLearnsGroup   int
		offererLearnsIL      int
	}{
		{"both xor and interleave", offerOf(4, 4, "pcmu", "pcma"), []string{"pcma"}, 2, 4, true, true, 4, 4, 2, 4},
		{"answerer receives only", offerOf(4, 4, "pcmu"), []string{"pcmu"}, 0, 0, true, true, 4, 4, 0, 0},
		{"no interleave for GSM", offerOf(0, 4, "gsm", "pcmu"), []string{"gsm"}, 0, 0, false, false, 0, 0, 0, 0},
		// the offerer sends neither but can receive both: the answerer may send them
		{"offerer only receives", offerOf(0, 0, "pcmu"), []string{"pcmu"}, 3, 4, true, true, 0, 0, 3, 4},
		{"neither sends", offerOf(0, 0, "pcmu"), []string{"pcmu"}, 0, 0, false, false, 0, 0, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// through SDP text and back, as on the wire
			offer := roundTrip(t, tt.offer)
			full, err := signaling.AnswerWith(offer, signaling.AnswerOptions{Supported: tt.supported,
				AlsoAccept: []string{redName, ulpfecName, interleaveName}, RTPAddr: addr})
			if err != nil {
				t.Fatal(err)
			}
			answer := roundTrip(t, answerXORInterleave(full, answerRED(offer, full, reg, 0), tt.group, tt.depth))
			var c rtpcall.Config
			opts, _ := xorInterleaveOptions(answer.Formats[0], answer, offer, tt.group, tt.depth)
			for _, o := range opts {
				o(&c)
			}
			if (c.Session.XOR != nil) != tt.wantXOR || (c.Session.Interleave != nil) != tt.wantIL {
				t.Fatalf("answerer: xor %+v, interleave %+v; want %v, %v (answer %+v)", c.Session.XOR, c.Session.Interleave, tt.wantXOR, tt.wantIL, answer.Formats)
			}
			if c.Session.XOR != nil && c.Session.XOR.PeerGroupSize != tt.peerGroup {
				t.Errorf("answerer learns group %d, want %d", c.Session.XOR.PeerGroupSize, tt.peerGroup)
			}
			if c.Session.Interleave != nil && c.Session.Interleave.PeerDepth != tt.peerDepth {
				t.Errorf("answerer learns depth %d, want %d", c.Session.Interleave.PeerDepth, tt.peerDepth)
			}
			var o rtpcall.Config
			opts, _ = xorInterleaveOptions(answer.Formats[0], answer, answer, 4, 4)
			for _, opt := range opts {
				opt(&o)
			}
			if o.Session.XOR != nil && o.Session.XOR.PeerGroupSize != tt.offererLearnsGroup {
				t.Errorf("offerer learns group %d, want %d", o.Session.XOR.PeerGroupSize, tt.offererLearnsGroup)
			}
			if o.Session.Interleave != nil && o.Session.Interleave.PeerDepth != tt.offererLearnsIL {
				t.Errorf("offerer learns depth %d, want %d", o.Session.Interleave.PeerDepth, tt.offererLearnsIL)
			}
		})
	}
}

// roundTrip sends a session through SDP text and back, as on the wire.
func roundTrip(t *testing.T, s signaling.Session) signaling.Session {
	t.Helper()
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := signaling.ParseSession(b)
	if err != nil {
		t.Fatalf("%v in\n%s", err, b)
	}
	return out
}

// TestInterleaveDepthThatDoesNotDivideTheChunk: a peer announcing a depth
// of 3, 6 or 7 (within 2..8, but not dividing the 160-byte chunk) used to be
// answered and then the call failed to start. The answerer declines the
// format, so both sides send plain audio; an offerer whose answer announces
// such a depth goes on sending its own interleaving and drops the peer's.
// Either way the call's configuration is one a session accepts.
func TestInterleaveDepthThatDoesNotDivideTheChunk(t *testing.T) {
	addr := netip.MustParseAddrPort("127.0.0.1:4000")
	reg := codecRegistry(t)
	pcmu, _ := reg.ByName("pcmu")
	session := func(opts []func(*rtpcall.Config)) media.SessionConfig {
		t.Helper()
		var c rtpcall.Config
		for _, o := range opts {
			o(&c)
		}
		c.Session.Codec = pcmu
		s, err := jitter.NewFixed(60 * time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		c.Session.Strategy = s
		if _, err := media.NewSession(c.Session); err != nil {
			t.Errorf("the negotiated configuration does not start: %v", err)
		}
		return c.Session
	}
	contains := func(notes []string, s string) bool {
		return slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, s) })
	}
	for _, bad := range []int{3, 6, 7} {
		t.Run(fmt.Sprintf("depth=%d", bad), func(t *testing.T) {
			offer := signaling.Session{RTPAddr: addr, PTime: 20 * time.Millisecond,
				Formats: []signaling.Format{{PayloadType: pcmu.PayloadType, Name: pcmu.Name, ClockRate: pcmu.ClockRate}}}
			offerXORInterleave(&offer, 0, bad)
			offer = roundTrip(t, offer)
			full, err := signaling.AnswerWith(offer, signaling.AnswerOptions{Supported: []string{"pcmu"},
				AlsoAccept: []string{redName, ulpfecName, interleaveName}, RTPAddr: addr})
			if err != nil {
				t.Fatal(err)
			}
			answer := roundTrip(t, answerXORInterleave(full, answerRED(offer, full, reg, 0), 0, 4))
			if _, ok := findInterleave(answer, answer.Formats[0]); ok {
				t.Fatalf("the answer accepts interleaving with depth %d: %+v", bad, answer.Formats)
			}
			opts, notes := xorInterleaveOptions(answer.Formats[0], answer, offer, 0, 4)
			if s := session(opts); s.Interleave != nil {
				t.Errorf("answerer interleaves: %+v", s.Interleave)
			}
			if !contains(notes, "declined the peer's interleaving") {
				t.Errorf("answerer's notes %q do not say it declined", notes)
			}
			opts, notes = xorInterleaveOptions(answer.Formats[0], answer, answer, 0, bad)
			if s := session(opts); s.Interleave != nil {
				t.Errorf("offerer interleaves although the answer declined: %+v", s.Interleave)
			}
			if !contains(notes, "does not take interleaving") {
				t.Errorf("offerer's notes %q do not say it sends plain audio", notes)
			}

			// an answer that announces the bad depth itself
			badAnswer := signaling.Session{RTPAddr: addr, Formats: []signaling.Format{
				{PayloadType: pcmu.PayloadType, Name: pcmu.Name, ClockRate: pcmu.ClockRate},
				{PayloadType: firstInterleavePayloadType, Name: interleaveName, ClockRate: 8000, Fmtp: interleaveFmtp(bad, pcmu.PayloadType)}}}
			badAnswer = roundTrip(t, badAnswer)
			opts, notes = xorInterleaveOptions(badAnswer.Formats[0], badAnswer, badAnswer, 0, 4)
			s := session(opts)
			if s.Interleave == nil || s.Interleave.Depth != 4 || s.Interleave.PeerDepth != 0 {
				t.Errorf("offerer with a bad answer: %+v, want to send depth 4 and receive none", s.Interleave)
			}
			if !contains(notes, "cannot be played") {
				t.Errorf("offerer's notes %q do not say the peer's interleaving is dropped", notes)
			}
		})
	}
}

// TestULPFECGroupOutOfRange: a peer announcing a group size we cannot take
// is noted, and its parity packets are then malformed (PeerGroupSize 0).
func TestULPFECGroupOutOfRange(t *testing.T) {
	pcmu := signaling.Format{PayloadType: 0, Name: "PCMU", ClockRate: 8000}
	for _, fmtp := range []string{"group=1", "group=25", "group=x", ""} {
		peer := signaling.Session{Formats: []signaling.Format{pcmu, {PayloadType: ulpfecPayloadType, Name: ulpfecName, ClockRate: 8000, Fmtp: fmtp}}}
		opts, notes := xorInterleaveOptions(pcmu, peer, peer, 4, 0)
		var c rtpcall.Config
		for _, o := range opts {
			o(&c)
		}
		if c.Session.XOR == nil || c.Session.XOR.GroupSize != 4 || c.Session.XOR.PeerGroupSize != 0 {
			t.Errorf("%q: %+v, want to send groups of 4 and take no parity", fmtp, c.Session.XOR)
		}
		if !slices.ContainsFunc(notes, func(n string) bool { return strings.Contains(n, "parity packets are dropped") }) {
			t.Errorf("%q: notes %q do not say the parity is dropped", fmtp, notes)
		}
	}
}

// TestREDAgainstParityOrInterleaving: red is offered only by a dialer that
// sends it, ulpfec and interleaving always. So when the dialer asks for red
// and the listener for xor or interleaving, both use red only; when the
// listener asks for red, the dialer's offer has no red: the listener sends
// plain audio and the dialer its parity or interleaving.
func TestREDAgainstParityOrInterleaving(t *testing.T) {
	addr := netip.MustParseAddrPort("127.0.0.1:4000")
	reg := codecRegistry(t)
	log := slog.New(slog.DiscardHandler)
	flags := func(fec string, depth int) callFlags {
		var f callFlags
		if err := (fecSchemeFlag{&f}).Set(fec); err != nil {
			t.Fatal(err)
		}
		f.interleave = depth
		return f
	}
	type sends struct {
		red, xor, il bool // what a side sends
	}
	got := func(opts []func(*rtpcall.Config)) sends {
		var c rtpcall.Config
		for _, o := range opts {
			o(&c)
		}
		s := c.Session
		return sends{s.RED != nil && s.RED.Distance > 0, s.XOR != nil && s.XOR.GroupSize > 0, s.Interleave != nil && s.Interleave.Depth > 0}
	}
	tests := []struct {
		name                   string
		dialer, listener       callFlags
		dialerSends, listSends sends
	}{
		{"dialer red, listener interleave", flags("red", 0), flags("none", 4), sends{red: true}, sends{}},
		{"dialer red, listener xor", flags("red", 0), flags("xor", 0), sends{red: true}, sends{}},
		{"listener red, dialer interleave", flags("none", 4), flags("red", 0), sends{il: true}, sends{}},
		{"listener red, dialer xor", flags("xor", 0), flags("red", 0), sends{xor: true}, sends{}},
		{"both red", flags("red", 0), flags("red", 0), sends{red: true}, sends{red: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offer := signaling.Session{RTPAddr: addr, PTime: 20 * time.Millisecond}
			for _, n := range []string{"pcmu", "pcma"} {
				c, _ := reg.ByName(n)
				offer.Formats = append(offer.Formats, signaling.Format{PayloadType: c.PayloadType, Name: c.Name, ClockRate: c.ClockRate})
			}
			offerSchemes(&offer, reg, &tt.dialer)
			offer = roundTrip(t, offer)
			answer, err := answerSchemes(offer, []string{"pcmu"}, addr, reg, &tt.listener)
			if err != nil {
				t.Fatal(err)
			}
			answer = roundTrip(t, answer)
			l := got(schemeOptions(reg, answer.Formats[0], answer, offer, &tt.listener, log))
			d := got(schemeOptions(reg, answer.Formats[0], answer, answer, &tt.dialer, log))
			if d != tt.dialerSends || l != tt.listSends {
				t.Errorf("dialer sends %+v, listener %+v; want %+v, %+v", d, l, tt.dialerSends, tt.listSends)
			}
		})
	}
}
