package negotiate

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/jitter"
	"github.com/spurtvoip/spurt/media"
	"github.com/spurtvoip/spurt/nat"
	"github.com/spurtvoip/spurt/signaling"
)

// fuzzSchemes are what our side sends in FuzzAgree, chosen by a byte.
var fuzzSchemes = []Scheme{{}, {RED: 1}, {RED: 3}, {XOR: 4}, {Interleave: 4}, {Interleave: 8, XOR: 2}, {XOR: 24, Interleave: 5}}

// FuzzAgree: whatever the peer writes, as an offer to us or as the answer
// to ours, Agree does not fail on a description it can read unless it says
// why, and what it agrees on is a configuration a media session starts with.
// (The codec is checked by the caller, which refuses one it does not send in
// the payload type agreed.)
func FuzzAgree(f *testing.F) {
	for i, s := range fuzzSchemes {
		p := prefs(f, s, "pcmu", "pcma", "gsm")
		ice := ICE{Ufrag: "abcd", Pwd: "0123456789abcdefghijkl", Candidates: []nat.Candidate{
			nat.HostCandidate(netip.MustParseAddrPort("192.0.2.1:4000"), 65535)}}
		p.ICE = &ice
		offer := Offer(p)
		b, err := offer.Marshal()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(i), false)
		answer, err := Answer(offer, prefs(f, fuzzSchemes[(i+3)%len(fuzzSchemes)], "pcma"))
		if err != nil {
			f.Fatal(err)
		}
		if b, err = answer.Marshal(); err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(i+1), true)
	}
	f.Add([]byte("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP/AVP 0 3 96 100\n"+
		"a=rtpmap:96 red/8000\na=fmtp:96 0/3/3/3/3\na=rtpmap:100 ulpfec/8000\na=fmtp:100 group=1\na=rtcp-mux\n"), uint8(1), true)
	// red at GSM's own payload type: once agreed, and the call did not start
	f.Add([]byte("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP/AVP 0 3\n"+
		"a=rtpmap:3 red/8000\na=fmtp:3 0/3\na=rtcp-mux\n"), uint8(0), false)
	f.Fuzz(fuzzAgree)
}

func fuzzAgree(t *testing.T, peer []byte, choice uint8, weOffer bool) {
	peerSession, err := signaling.ParseSession(peer)
	if err != nil {
		return
	}
	p := prefs(t, fuzzSchemes[int(choice)%len(fuzzSchemes)], "pcmu", "pcma", "gsm")
	if choice >= 128 {
		p.ICE = &ICE{Ufrag: "efgh", Pwd: "0123456789abcdefghijkl", Candidates: []nat.Candidate{
			nat.HostCandidate(netip.MustParseAddrPort("192.0.2.2:5000"), 65535)}}
	}
	var a Agreement
	if weOffer {
		a, err = Agree(Offerer, Offer(p), peerSession, p)
		if err != nil {
			return // no codec, or no ICE: the caller reports it
		}
	} else {
		answer, err := Answer(peerSession, p)
		if err != nil {
			return // no codec in common
		}
		if _, err := answer.Marshal(); err != nil {
			t.Fatalf("our answer does not marshal: %v\n%+v", err, answer)
		}
		a, err = Agree(Answerer, peerSession, answer, p)
		if err != nil {
			if p.ICE != nil {
				return // the offer's ICE is missing or unusable
			}
			t.Fatalf("Agree on our own answer: %v", err)
		}
	}
	if a.PeerAddr != peerSession.RTPAddr {
		t.Fatalf("peer address %v, want %v", a.PeerAddr, peerSession.RTPAddr)
	}
	i := slices.IndexFunc(p.Codecs, func(c codec.Codec) bool {
		return strings.EqualFold(c.Name, a.Codec.Name) && c.PayloadType == a.Codec.PayloadType
	})
	if i < 0 {
		return // cmd/call refuses a codec we do not send, or not in its payload type
	}
	ours := p.Codecs[i]
	strategy, err := jitter.NewFixed(60 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	cfg := media.SessionConfig{Codec: ours, Strategy: strategy, RED: a.RED, XOR: a.XOR, Interleave: a.Interleave}
	if _, err := media.NewSession(cfg); err != nil {
		t.Fatalf("the agreement does not start a session: %v\nRED %+v XOR %+v interleave %+v\npeer:\n%s", err, a.RED, a.XOR, a.Interleave, peer)
	}
}
