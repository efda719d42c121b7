package negotiate

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/spurtvoip/spurt/nat"
	"github.com/spurtvoip/spurt/signaling"
)

var (
	hostA = nat.HostCandidate(netip.MustParseAddrPort("10.0.0.2:5000"), 65535)
	hostB = nat.HostCandidate(netip.MustParseAddrPort("192.168.1.2:5000"), 65534)
	srflx = nat.ServerReflexive(hostA, netip.MustParseAddrPort("203.0.113.9:40000"), netip.MustParseAddr("198.51.100.1"))
)

func TestDefaultAddr(t *testing.T) {
	tests := []struct {
		name  string
		cands []nat.Candidate
		want  netip.AddrPort
	}{
		{"server-reflexive wins", []nat.Candidate{hostA, hostB, srflx}, srflx.Addr},
		{"else the first host", []nat.Candidate{hostB, hostA}, hostB.Addr},
		{"none", nil, netip.AddrPort{}},
	}
	for _, tt := range tests {
		if got := (ICE{Candidates: tt.cands}).DefaultAddr(); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestICERoundTrip: what WithICE writes, ReadICE reads back through SDP
// text; writing fresh candidates replaces the old ICE lines and keeps the
// other attributes.
func TestICERoundTrip(t *testing.T) {
	first := ICE{Ufrag: "abcd", Pwd: "0123456789abcdefghijkl", Candidates: []nat.Candidate{hostA, srflx}}
	s := plainOffer(t, "pcmu")
	s.Extra = []signaling.Attribute{{Key: "x-other", Value: "kept"}}
	s = WithICE(s, first)
	if s.RTPAddr != srflx.Addr {
		t.Errorf("media address %v, want the default candidate %v", s.RTPAddr, srflx.Addr)
	}
	got, err := ReadICE(roundTrip(t, s))
	if err != nil || !reflect.DeepEqual(got, first) {
		t.Fatalf("read back %+v, %v; want %+v", got, err, first)
	}
	fresh := ICE{Ufrag: first.Ufrag, Pwd: first.Pwd, Candidates: []nat.Candidate{hostB}}
	again := WithICE(s, fresh)
	got, err = ReadICE(roundTrip(t, again))
	if err != nil || !reflect.DeepEqual(got, fresh) {
		t.Fatalf("fresh candidates read back %+v, %v; want %+v", got, err, fresh)
	}
	if again.Extra[0] != (signaling.Attribute{Key: "x-other", Value: "kept"}) || len(again.Extra) != 1+2+1 {
		t.Errorf("attributes %+v: want x-other, the credentials and one candidate", again.Extra)
	}
	if len(s.Extra) != 1+2+2 {
		t.Errorf("WithICE changed the session it was given: %+v", s.Extra)
	}
}

func TestReadICE(t *testing.T) {
	cand := signaling.Attribute{Key: attrCandidate, Value: hostA.String()}
	creds := []signaling.Attribute{{Key: attrIceUfrag, Value: "u"}, {Key: attrIcePwd, Value: "p"}}
	many := append([]signaling.Attribute(nil), creds...)
	for range maxPeerCandidates + 5 {
		many = append(many, cand)
	}
	tests := []struct {
		name      string
		extra     []signaling.Attribute
		wantCands int
		wantErr   string
	}{
		{"credentials and a candidate", append(creds, cand), 1, ""},
		{"candidates that do not parse are skipped", append(creds, signaling.Attribute{Key: attrCandidate, Value: "1 1 UDP 1 example.org 9 typ host"}, cand), 1, ""},
		{"at most 32 taken", many, maxPeerCandidates, ""},
		{"no password", []signaling.Attribute{creds[0], cand}, 0, "not set up for --via calls"},
		{"no credentials", []signaling.Attribute{cand}, 0, "no a=ice-ufrag and a=ice-pwd"},
		{"no candidate", creds, 0, "no usable a=candidate line"},
		{"only bad candidates", append(creds, signaling.Attribute{Key: attrCandidate, Value: "garbage"}), 0, "no usable a=candidate line"},
	}
	for _, tt := range tests {
		ice, err := ReadICE(signaling.Session{Extra: tt.extra})
		switch {
		case tt.wantErr == "" && (err != nil || len(ice.Candidates) != tt.wantCands || ice.Ufrag != "u" || ice.Pwd != "p"):
			t.Errorf("%s: %+v, %v; want %d candidates", tt.name, ice, err, tt.wantCands)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
			t.Errorf("%s: %+v, %v; want an error saying %q", tt.name, ice, err, tt.wantErr)
		}
	}
}

// TestAgreeReadsPeerICE: with ICE in the preferences, offer and answer
// carry it, and each side's agreement holds the other's; a peer without
// ICE is an error.
func TestAgreeReadsPeerICE(t *testing.T) {
	dialer, listener := prefs(t, Scheme{}, "pcmu"), prefs(t, Scheme{}, "pcmu")
	dialer.ICE = &ICE{Ufrag: "dial", Pwd: "dialer-password-000000", Candidates: []nat.Candidate{hostA}}
	listener.ICE = &ICE{Ufrag: "list", Pwd: "listener-password-0000", Candidates: []nat.Candidate{hostB, srflx}}
	offer := roundTrip(t, Offer(dialer))
	answer, err := Answer(offer, listener)
	if err != nil {
		t.Fatal(err)
	}
	answer = roundTrip(t, answer)
	if answer.RTPAddr != srflx.Addr || offer.RTPAddr != hostA.Addr {
		t.Errorf("media addresses: offer %v, answer %v; want the default candidates", offer.RTPAddr, answer.RTPAddr)
	}
	d, err := Agree(Offerer, offer, answer, dialer)
	if err != nil || !reflect.DeepEqual(d.PeerICE, listener.ICE) {
		t.Errorf("dialer learns %+v, %v; want %+v", d.PeerICE, err, listener.ICE)
	}
	l, err := Agree(Answerer, offer, answer, listener)
	if err != nil || !reflect.DeepEqual(l.PeerICE, dialer.ICE) {
		t.Errorf("listener learns %+v, %v; want %+v", l.PeerICE, err, dialer.ICE)
	}
	plain := prefs(t, Scheme{}, "pcmu")
	if _, err := Agree(Offerer, offer, Offer(plain), dialer); err == nil || !strings.Contains(err.Error(), "the peer's session description") {
		t.Errorf("a peer without ICE: %v, want an error", err)
	}
	if a, err := Agree(Offerer, Offer(plain), Offer(plain), plain); err != nil || a.PeerICE != nil {
		t.Errorf("a direct call: ICE %+v, %v; want none read", a.PeerICE, err)
	}
}
