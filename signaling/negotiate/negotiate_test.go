package negotiate

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/jitter"
	"github.com/spurtvoip/spurt/media"
	"github.com/spurtvoip/spurt/signaling"
)

var testAddr = netip.MustParseAddrPort("127.0.0.1:4000")

// byName looks codecs up in the default registry.
func byName(t testing.TB, names ...string) []codec.Codec {
	t.Helper()
	var cs []codec.Codec
	for _, n := range names {
		c, err := codec.Default().ByName(n)
		if err != nil {
			t.Fatal(err)
		}
		cs = append(cs, c)
	}
	return cs
}

// prefs are preferences with the default registry's codecs and GSM for the
// copies of red.
func prefs(t testing.TB, send Scheme, codecs ...string) Preferences {
	t.Helper()
	return Preferences{Codecs: byName(t, codecs...), Secondary: byName(t, SecondaryName)[0], Send: send,
		RTPAddr: testAddr, PTime: 20 * time.Millisecond}
}

// plainOffer lists the codecs only.
func plainOffer(t testing.TB, codecs ...string) signaling.Session {
	t.Helper()
	o := signaling.Session{RTPAddr: testAddr, PTime: 20 * time.Millisecond}
	for _, c := range byName(t, codecs...) {
		o.Formats = append(o.Formats, signaling.Format{PayloadType: c.PayloadType, Name: c.Name, ClockRate: c.ClockRate})
	}
	return o
}

// describe lists a session's formats as "PT name fmtp".
func describe(s signaling.Session) string {
	var parts []string
	for _, f := range s.Formats {
		p := fmt.Sprintf("%d %s", f.PayloadType, f.Name)
		if f.Fmtp != "" {
			p += " " + f.Fmtp
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ", ")
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

func TestREDNegotiation(t *testing.T) {
	gsm := byName(t, SecondaryName)[0]
	offerFor := func(copies int, names ...string) signaling.Session {
		o := plainOffer(t, names...)
		if copies > 0 {
			offerRED(&o, gsm, copies)
		}
		return o
	}
	tests := []struct {
		name         string
		offer        signaling.Session
		supported    []string
		answerCopies int
		wantOffer    string
		wantAnswer   string
		wantPT       int // -1: no red
	}{
		{"red offered and taken", offerFor(1, "pcmu", "pcma"), []string{"pcmu", "pcma"}, 0,
			"0 PCMU, 8 PCMA, 96 red 0/3, 97 red 8/3, 3 GSM", "0 PCMU, 96 red 0/3, 3 GSM", 96},
		{"red:2 offered, answerer chooses PCMA and sends red:2", offerFor(2, "pcmu", "pcma"), []string{"pcma"}, 2,
			"0 PCMU, 8 PCMA, 96 red 0/3/3, 97 red 8/3/3, 3 GSM", "8 PCMA, 97 red 8/3/3, 3 GSM", 97},
		{"red:2 offered, answerer sends no red: it accepts the offered layout", offerFor(2, "pcmu"), []string{"pcmu"}, 0,
			"0 PCMU, 96 red 0/3/3, 3 GSM", "0 PCMU, 96 red 0/3/3, 3 GSM", 96},
		{"red offered, answerer sends red:2", offerFor(1, "pcmu"), []string{"pcmu"}, 2,
			"0 PCMU, 96 red 0/3, 3 GSM", "0 PCMU, 96 red 0/3/3, 3 GSM", 96},
		{"no red offered: plain", offerFor(0, "pcmu"), []string{"pcmu"}, 1, "0 PCMU", "0 PCMU", -1},
		{"GSM primary: no red", offerFor(1, "gsm", "pcmu"), []string{"gsm", "pcmu"}, 0,
			"3 GSM, 0 PCMU, 96 red 0/3", "3 GSM", -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := describe(tt.offer); got != tt.wantOffer {
				t.Errorf("offer %q, want %q", got, tt.wantOffer)
			}
			answer, err := signaling.AnswerWith(tt.offer, signaling.AnswerOptions{Supported: tt.supported, AlsoAccept: []string{redName},
				RTPAddr: netip.MustParseAddrPort("127.0.0.1:7000")})
			if err != nil {
				t.Fatal(err)
			}
			answer = answerRED(tt.offer, answer, gsm, tt.answerCopies)
			if got := describe(answer); got != tt.wantAnswer {
				t.Errorf("answer %q, want %q", got, tt.wantAnswer)
			}
			red := agreeRED(answer.Formats[0], answer, tt.offer, gsm, tt.answerCopies)
			if (red == nil) != (tt.wantPT < 0) || (red != nil && int(red.PayloadType) != tt.wantPT) {
				t.Fatalf("red %+v, want red PT %d", red, tt.wantPT)
			}
		})
	}
}

// TestOfferAndAnswer: the descriptions Offer and Answer write, format by
// format, with the payload types of the one table.
func TestOfferAndAnswer(t *testing.T) {
	tests := []struct {
		name       string
		offerer    Preferences
		answerer   Preferences
		wantOffer  string
		wantAnswer string
	}{
		{"plain", prefs(t, Scheme{}, "pcmu", "pcma"), prefs(t, Scheme{}, "pcma"),
			"0 PCMU, 8 PCMA, 100 ulpfec group=0, 101 x-spurt-interleave depth=0; apt=0, 102 x-spurt-interleave depth=0; apt=8",
			"8 PCMA, 100 ulpfec group=0, 102 x-spurt-interleave depth=0; apt=8"},
		{"red:2 against xor", prefs(t, Scheme{RED: 2}, "pcmu"), prefs(t, Scheme{XOR: 3}, "pcmu"),
			"0 PCMU, 96 red 0/3/3, 3 GSM, 100 ulpfec group=0, 101 x-spurt-interleave depth=0; apt=0",
			"0 PCMU, 96 red 0/3/3, 3 GSM, 100 ulpfec group=3, 101 x-spurt-interleave depth=0; apt=0"},
		{"interleave and xor", prefs(t, Scheme{XOR: 2, Interleave: 4}, "pcmu"), prefs(t, Scheme{Interleave: 8}, "pcmu"),
			"0 PCMU, 100 ulpfec group=2, 101 x-spurt-interleave depth=4; apt=0",
			"0 PCMU, 100 ulpfec group=0, 101 x-spurt-interleave depth=8; apt=0"},
		{"GSM: no interleaving", prefs(t, Scheme{Interleave: 4}, "gsm", "pcmu"), prefs(t, Scheme{}, "gsm"),
			"3 GSM, 0 PCMU, 100 ulpfec group=0, 101 x-spurt-interleave depth=4; apt=0",
			"3 GSM, 100 ulpfec group=0"},
		{"no secondary: no red", Preferences{Codecs: byName(t, "pcmu"), Send: Scheme{RED: 1}, RTPAddr: testAddr}, prefs(t, Scheme{}, "pcmu"),
			"0 PCMU, 100 ulpfec group=0, 101 x-spurt-interleave depth=0; apt=0",
			"0 PCMU, 100 ulpfec group=0, 101 x-spurt-interleave depth=0; apt=0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offer := roundTrip(t, Offer(tt.offerer))
			if got := describe(offer); got != tt.wantOffer {
				t.Errorf("offer %q\nwant  %q", got, tt.wantOffer)
			}
			answer, err := Answer(offer, tt.answerer)
			if err != nil {
				t.Fatal(err)
			}
			if got := describe(roundTrip(t, answer)); got != tt.wantAnswer {
				t.Errorf("answer %q\nwant   %q", got, tt.wantAnswer)
			}
		})
	}
}

func TestAnswerNoCommonCodec(t *testing.T) {
	_, err := Answer(Offer(prefs(t, Scheme{}, "gsm")), prefs(t, Scheme{}, "pcmu"))
	var nc *signaling.NoCommonCodecError
	if !errors.As(err, &nc) || err.Error() != "no common codec: offered [gsm], supported [pcmu]" {
		t.Errorf("error %v, want no common codec with the schemes' formats left out", err)
	}
}

// TestXORInterleaveNegotiation runs offer and answer through the signaling
// package's SDP and checks what each side ends up sending and accepting.
func TestXORInterleaveNegotiation(t *testing.T) {
	offerOf := func(group, depth int, codecs ...string) signaling.Session {
		o := plainOffer(t, codecs...)
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
			answerer := prefs(t, Scheme{XOR: tt.group, Interleave: tt.depth}, tt.supported...)
			answer, err := Answer(offer, answerer)
			if err != nil {
				t.Fatal(err)
			}
			answer = roundTrip(t, answer)
			a, err := Agree(Answerer, offer, answer, answerer)
			if err != nil {
				t.Fatal(err)
			}
			if (a.XOR != nil) != tt.wantXOR || (a.Interleave != nil) != tt.wantIL {
				t.Fatalf("answerer: xor %+v, interleave %+v; want %v, %v (answer %+v)", a.XOR, a.Interleave, tt.wantXOR, tt.wantIL, answer.Formats)
			}
			if a.XOR != nil && a.XOR.PeerGroupSize != tt.peerGroup {
				t.Errorf("answerer learns group %d, want %d", a.XOR.PeerGroupSize, tt.peerGroup)
			}
			if a.Interleave != nil && a.Interleave.PeerDepth != tt.peerDepth {
				t.Errorf("answerer learns depth %d, want %d", a.Interleave.PeerDepth, tt.peerDepth)
			}
			o, err := Agree(Offerer, offer, answer, prefs(t, Scheme{XOR: 4, Interleave: 4}, "pcmu", "pcma", "gsm"))
			if err != nil {
				t.Fatal(err)
			}
			if o.XOR != nil && o.XOR.PeerGroupSize != tt.offererLearnsGroup {
				t.Errorf("offerer learns group %d, want %d", o.XOR.PeerGroupSize, tt.offererLearnsGroup)
			}
			if o.Interleave != nil && o.Interleave.PeerDepth != tt.offererLearnsIL {
				t.Errorf("offerer learns depth %d, want %d", o.Interleave.PeerDepth, tt.offererLearnsIL)
			}
		})
	}
}

// startable checks that a media session accepts the agreed configuration.
func startable(t *testing.T, a Agreement) {
	t.Helper()
	s, err := jitter.NewFixed(60 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	cfg := media.SessionConfig{Codec: byName(t, "pcmu")[0], Strategy: s, RED: a.RED, XOR: a.XOR, Interleave: a.Interleave}
	if _, err := media.NewSession(cfg); err != nil {
		t.Errorf("the negotiated configuration does not start: %v", err)
	}
}

func hasNote(a Agreement, s string) bool {
	return slices.ContainsFunc(a.Notes, func(n Note) bool { return strings.Contains(n.Text, s) })
}

// TestInterleaveDepthThatDoesNotDivideTheChunk: a peer announcing a depth
// of 3, 6 or 7 (within 2..8, but not dividing the 160-byte chunk) used to be
// answered and then the call failed to start. The answerer declines the
// format, so both sides send plain audio; an offerer whose answer announces
// such a depth goes on sending its own interleaving and drops the peer's.
// Either way the call's configuration is one a session accepts.
func TestInterleaveDepthThatDoesNotDivideTheChunk(t *testing.T) {
	pcmu := byName(t, "pcmu")[0]
	for _, bad := range []int{3, 6, 7} {
		t.Run(fmt.Sprintf("depth=%d", bad), func(t *testing.T) {
			offerer := prefs(t, Scheme{Interleave: bad}, "pcmu")
			offer := roundTrip(t, Offer(offerer))
			answerer := prefs(t, Scheme{Interleave: 4}, "pcmu")
			answer, err := Answer(offer, answerer)
			if err != nil {
				t.Fatal(err)
			}
			answer = roundTrip(t, answer)
			if _, ok := findInterleave(answer, answer.Formats[0]); ok {
				t.Fatalf("the answer accepts interleaving with depth %d: %+v", bad, answer.Formats)
			}
			a, err := Agree(Answerer, offer, answer, answerer)
			if err != nil {
				t.Fatal(err)
			}
			startable(t, a)
			if a.Interleave != nil {
				t.Errorf("answerer interleaves: %+v", a.Interleave)
			}
			if !hasNote(a, "declined the peer's interleaving") {
				t.Errorf("answerer's notes %q do not say it declined", a.Notes)
			}
			o, err := Agree(Offerer, offer, answer, offerer)
			if err != nil {
				t.Fatal(err)
			}
			startable(t, o)
			if o.Interleave != nil {
				t.Errorf("offerer interleaves although the answer declined: %+v", o.Interleave)
			}
			if !hasNote(o, "does not take interleaving") {
				t.Errorf("offerer's notes %q do not say it sends plain audio", o.Notes)
			}

			// an answer that announces the bad depth itself
			badAnswer := roundTrip(t, signaling.Session{RTPAddr: testAddr, Formats: []signaling.Format{
				{PayloadType: pcmu.PayloadType, Name: pcmu.Name, ClockRate: pcmu.ClockRate},
				{PayloadType: FirstInterleavePayloadType, Name: interleaveName, ClockRate: 8000, Fmtp: interleaveFmtp(bad, pcmu.PayloadType)}}})
			o, err = Agree(Offerer, Offer(answerer), badAnswer, prefs(t, Scheme{Interleave: 4}, "pcmu"))
			if err != nil {
				t.Fatal(err)
			}
			startable(t, o)
			if o.Interleave == nil || o.Interleave.Depth != 4 || o.Interleave.PeerDepth != 0 {
				t.Errorf("offerer with a bad answer: %+v, want to send depth 4 and receive none", o.Interleave)
			}
			if !hasNote(o, "cannot be played") {
				t.Errorf("offerer's notes %q do not say the peer's interleaving is dropped", o.Notes)
			}
		})
	}
}

// TestULPFECGroupOutOfRange: a peer announcing a group size we cannot take
// is noted, and its parity packets are then malformed (PeerGroupSize 0).
func TestULPFECGroupOutOfRange(t *testing.T) {
	pcmu := signaling.Format{PayloadType: 0, Name: "PCMU", ClockRate: 8000}
	for _, fmtp := range []string{"group=1", "group=25", "group=x", ""} {
		peer := signaling.Session{RTPAddr: testAddr, Formats: []signaling.Format{pcmu, {PayloadType: ULPFECPayloadType, Name: ulpfecName, ClockRate: 8000, Fmtp: fmtp}}}
		a, err := Agree(Offerer, Offer(prefs(t, Scheme{XOR: 4}, "pcmu")), peer, prefs(t, Scheme{XOR: 4}, "pcmu"))
		if err != nil {
			t.Fatal(err)
		}
		if a.XOR == nil || a.XOR.GroupSize != 4 || a.XOR.PeerGroupSize != 0 {
			t.Errorf("%q: %+v, want to send groups of 4 and take no parity", fmtp, a.XOR)
		}
		if !hasNote(a, "parity packets are dropped") {
			t.Errorf("%q: notes %q do not say the parity is dropped", fmtp, a.Notes)
		}
	}
}

// TestREDAgainstParityOrInterleaving: red is offered only by a dialer that
// sends it, ulpfec and interleaving always. So when the dialer asks for red
// and the listener for xor or interleaving, both use red only; when the
// listener asks for red, the dialer's offer has no red: the listener sends
// plain audio and the dialer its parity or interleaving.
func TestREDAgainstParityOrInterleaving(t *testing.T) {
	scheme := func(fec string, depth int) Scheme {
		s, err := ParseFEC(fec)
		if err != nil {
			t.Fatal(err)
		}
		s.Interleave = depth
		return s
	}
	type sends struct {
		red, xor, il bool // what a side sends
	}
	got := func(a Agreement) sends {
		return sends{a.RED != nil && a.RED.Distance > 0, a.XOR != nil && a.XOR.GroupSize > 0, a.Interleave != nil && a.Interleave.Depth > 0}
	}
	tests := []struct {
		name                   string
		dialer, listener       Scheme
		dialerSends, listSends sends
		warned                 bool // red and the others were both agreed: red only, with a warning
	}{
		{"dialer red, listener interleave", scheme("red", 0), scheme("none", 4), sends{red: true}, sends{}, true},
		{"dialer red, listener xor", scheme("red", 0), scheme("xor", 0), sends{red: true}, sends{}, true},
		{"listener red, dialer interleave", scheme("none", 4), scheme("red", 0), sends{il: true}, sends{}, false},
		{"listener red, dialer xor", scheme("xor", 0), scheme("red", 0), sends{xor: true}, sends{}, false},
		{"both red", scheme("red", 0), scheme("red", 0), sends{red: true}, sends{red: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dialer, listener := prefs(t, tt.dialer, "pcmu", "pcma"), prefs(t, tt.listener, "pcmu")
			offer := roundTrip(t, Offer(dialer))
			answer, err := Answer(offer, listener)
			if err != nil {
				t.Fatal(err)
			}
			answer = roundTrip(t, answer)
			l, err := Agree(Answerer, offer, answer, listener)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Agree(Offerer, offer, answer, dialer)
			if err != nil {
				t.Fatal(err)
			}
			if got(d) != tt.dialerSends || got(l) != tt.listSends {
				t.Errorf("dialer sends %+v, listener %+v; want %+v, %+v", got(d), got(l), tt.dialerSends, tt.listSends)
			}
			warned := slices.ContainsFunc(append(d.Notes, l.Notes...), func(n Note) bool { return n.Level == slog.LevelWarn })
			if warned != tt.warned {
				t.Errorf("warned %v, want %v (notes: dialer %q, listener %q)", warned, tt.warned, d.Notes, l.Notes)
			}
		})
	}
}

// TestAgreePeerAndCodec: the agreement names the answer's codec and the
// peer's media address, and fails for an answer without a codec.
func TestAgreePeerAndCodec(t *testing.T) {
	dialer := prefs(t, Scheme{}, "pcmu", "pcma")
	offer := Offer(dialer)
	listener := prefs(t, Scheme{}, "pcma")
	listener.RTPAddr = netip.MustParseAddrPort("192.0.2.7:9000")
	answer, err := Answer(offer, listener)
	if err != nil {
		t.Fatal(err)
	}
	d, err := Agree(Offerer, offer, answer, dialer)
	if err != nil || d.Codec.Name != "PCMA" || d.PeerAddr != listener.RTPAddr {
		t.Errorf("offerer: codec %q, peer %v, err %v; want PCMA at %v", d.Codec.Name, d.PeerAddr, err, listener.RTPAddr)
	}
	l, err := Agree(Answerer, offer, answer, listener)
	if err != nil || l.Codec.Name != "PCMA" || l.PeerAddr != testAddr {
		t.Errorf("answerer: codec %q, peer %v, err %v; want PCMA at %v", l.Codec.Name, l.PeerAddr, err, testAddr)
	}
	if _, err := Agree(Offerer, offer, signaling.Session{}, dialer); err == nil || !strings.Contains(err.Error(), "accepts no codec") {
		t.Errorf("an answer without formats: %v", err)
	}
}

// TestREDAtTheSecondarysPayloadType: a peer whose red format takes GSM's
// payload type gets no red (its packets could not be told from GSM's), not
// an agreement the call then fails to start with.
func TestREDAtTheSecondarysPayloadType(t *testing.T) {
	offer := plainOffer(t, "pcmu")
	offer.Formats = append(offer.Formats, signaling.Format{PayloadType: 3, Name: redName, ClockRate: 8000, Fmtp: "0/3"})
	listener := prefs(t, Scheme{RED: 1}, "pcmu")
	answer, err := Answer(roundTrip(t, offer), listener)
	if err != nil {
		t.Fatal(err)
	}
	if got := describe(answer); got != "0 PCMU" {
		t.Errorf("answer %q, want plain PCMU", got)
	}
	a, err := Agree(Answerer, offer, answer, listener)
	if err != nil || a.RED != nil || !hasNote(a, "does not take red") {
		t.Errorf("agreement %+v, %v: want no red, and a note", a, err)
	}
	startable(t, a)
}
