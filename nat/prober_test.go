package nat

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/pion/stun/v3"
)

// Addresses of the prober tests: A (the test Checker, controlling) at
// 192.0.2.1:5000 talks to B at 192.0.2.2:5000, and B's media shows up from
// elsewhere.
var (
	addrA      = netip.MustParseAddrPort("192.0.2.1:5000")
	movedB     = netip.MustParseAddrPort("203.0.113.7:41000")
	elsewhere  = netip.MustParseAddrPort("198.51.100.66:6666")
	movedBIPv6 = netip.MustParseAddrPort("[2001:db8::7]:41000")
)

// newPeerChecker is B's side of newTestChecker, answering with password pwd
// (pwdB for the real peer).
func newPeerChecker(t testing.TB, pwd string) *Checker {
	t.Helper()
	c, err := NewChecker(CheckerConfig{
		LocalUfrag: ufragB, LocalPwd: pwd, RemoteUfrag: ufragA, RemotePwd: pwdA,
		Local:  []Candidate{HostCandidate(netip.MustParseAddrPort("192.0.2.2:5000"), 65535)},
		Remote: []Candidate{HostCandidate(addrA, 65535)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// answer is peer's reply to req, which came from A.
func answer(t testing.TB, peer *Checker, req []byte) []byte {
	t.Helper()
	reply, to, ok := peer.Handle(req, addrA, 0)
	if !ok || to != addrA {
		t.Fatalf("peer did not answer the probe (to %v)", to)
	}
	return bytes.Clone(reply)
}

func TestVerifyRefusesReplay(t *testing.T) {
	c := newTestChecker(t)
	peer := netip.MustParseAddrPort("192.0.2.2:5000")
	_, first := checkRequest(t, ufragA+":"+ufragB, pwdA)
	_, second := checkRequest(t, ufragA+":"+ufragB, pwdA)
	steps := []struct {
		name     string
		pkt      []byte
		from     netip.AddrPort
		handle   bool // through Handle rather than Verify
		want     bool // Verify's answer, or whether Handle answers
		wantPair bool // Handle: a pair for from exists afterwards
	}{
		{"check from the peer, answered", first, peer, true, true, true},
		{"its copy from elsewhere", first, elsewhere, false, false, false},
		{"its retransmission from the peer", first, peer, false, true, true},
		{"its copy answered from elsewhere", first, elsewhere, true, false, false},
		{"a new check from a moved peer", second, movedB, false, true, false},
		{"its retransmission", second, movedB, false, true, false},
		{"its copy from elsewhere", second, elsewhere, false, false, false},
		{"its copy from the old address", second, peer, false, false, true},
	}
	for _, s := range steps {
		var got bool
		if s.handle {
			_, _, got = c.Handle(s.pkt, s.from, 0)
			hasPair := false
			for _, p := range c.pairs {
				hasPair = hasPair || p.remote.Addr == s.from
			}
			if hasPair != s.wantPair {
				t.Errorf("%s: pair for %v exists %v, want %v", s.name, s.from, hasPair, s.wantPair)
			}
		} else {
			got = c.Verify(s.pkt, s.from)
		}
		if got != s.want {
			t.Errorf("%s: got %v, want %v", s.name, got, s.want)
		}
	}

	// The record is bounded, yet holds the last maxSeenChecks checks.
	var recent [][]byte
	for range maxSeenChecks {
		_, req := checkRequest(t, ufragA+":"+ufragB, pwdA)
		if !c.Verify(req, peer) {
			t.Fatal("fresh check refused")
		}
		recent = append(recent, req)
	}
	for i, req := range recent {
		if c.Verify(req, elsewhere) {
			t.Fatalf("copy of check %d of the last %d accepted from elsewhere", i, maxSeenChecks)
		}
	}
}

func TestProbeRequest(t *testing.T) {
	c := newTestChecker(t)
	p := c.NewProber()
	req, ok := p.Probe(movedB, 0)
	if !ok {
		t.Fatal("no probe")
	}
	m := new(stun.Message)
	if err := decode(m, bytes.Clone(req)); err != nil || m.Type != stun.BindingRequest {
		t.Fatalf("probe is %v (%v), want a binding request", m.Type, err)
	}
	var user stun.Username
	if err := user.GetFrom(m); err != nil || user.String() != ufragB+":"+ufragA {
		t.Errorf("USERNAME %q (%v), want %q", user, err, ufragB+":"+ufragA)
	}
	if err := stun.NewShortTermIntegrity(pwdB).Check(m); err != nil {
		t.Errorf("MESSAGE-INTEGRITY with the peer's password: %v", err)
	}
	if err := checkFingerprint(m); err != nil {
		t.Error(err)
	}
	if !m.Contains(stun.AttrPriority) || !m.Contains(stun.AttrICEControlling) {
		t.Error("probe lacks PRIORITY or ICE-CONTROLLING")
	}
	// The peer's Checker accepts it as a check.
	peer := newPeerChecker(t, pwdB)
	if !peer.Verify(req, addrA) {
		t.Error("the peer's Checker does not verify the probe")
	}
	if _, ok := p.Probe(movedBIPv6, 0); ok {
		t.Error("probed an IPv6 address with only an IPv4 local candidate")
	}
	for _, bad := range []netip.AddrPort{{}, netip.MustParseAddrPort("0.0.0.0:5"), netip.MustParseAddrPort("192.0.2.9:0")} {
		if _, ok := p.Probe(bad, 0); ok {
			t.Errorf("probed unusable address %v", bad)
		}
	}
}

// TestProbePacing drives Probe every 20 ms, as media arriving from one
// address would, on a virtual clock.
func TestProbePacing(t *testing.T) {
	const step = 20 * time.Millisecond
	tests := []struct {
		name  string
		until time.Duration
		want  []time.Duration
	}{
		{"media for 1 s", time.Second, []time.Duration{0, 500 * time.Millisecond, time.Second}},
		{"media for 10 s: given up after four", 10 * time.Second,
			[]time.Duration{0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond}},
		{"media for 40 s: probed again after 30 s", 40 * time.Second, []time.Duration{
			0, 500 * time.Millisecond, time.Second, 1500 * time.Millisecond,
			32 * time.Second, 32500 * time.Millisecond, 33 * time.Second, 33500 * time.Millisecond}},
	}
	for _, tt := range tests {
		p := newTestChecker(t).NewProber()
		var sent []time.Duration
		for now := time.Duration(0); now <= tt.until; now += step {
			if _, ok := p.Probe(movedB, now); ok {
				sent = append(sent, now)
			}
		}
		if len(sent) != len(tt.want) {
			t.Errorf("%s: probes at %v, want %v", tt.name, sent, tt.want)
			continue
		}
		for i := range sent {
			if sent[i] != tt.want[i] {
				t.Errorf("%s: probe %d at %v, want %v", tt.name, i, sent[i], tt.want[i])
			}
		}
	}
}

// TestProbeTargetsBounded: media keeps coming from six addresses, every
// 20 ms. Four are probed at once; the two newcomers wait until the first
// four are given up on, then take their places; no more than four probes
// leave per ProbeInterval.
func TestProbeTargetsBounded(t *testing.T) {
	p := newTestChecker(t).NewProber()
	addrs := make([]netip.AddrPort, probeTargets+2)
	for i := range addrs {
		addrs[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}), 7000)
	}
	giveUp := ProbeTries * ProbeInterval // when the first four are abandoned
	var sent []time.Duration
	probes := map[netip.AddrPort]int{}
	firstOf := map[netip.AddrPort]time.Duration{}
	const step = 20 * time.Millisecond
	for now := time.Duration(0); now <= 6*time.Second; now += step {
		for i, a := range addrs {
			if i >= probeTargets && now < time.Second {
				continue // newcomers arrive at 1 s, while the first four are probed
			}
			if _, ok := p.Probe(a, now); ok {
				if _, seen := firstOf[a]; !seen {
					firstOf[a] = now
				}
				probes[a]++
				sent = append(sent, now)
			}
		}
		tracked := 0
		for _, tg := range p.targets {
			if tg.addr.IsValid() {
				tracked++
			}
		}
		if tracked > probeTargets {
			t.Fatalf("%d addresses tracked", tracked)
		}
		if now == giveUp-step {
			for i, a := range addrs {
				want := ProbeTries
				if i >= probeTargets {
					want = 0
				}
				if probes[a] != want {
					t.Errorf("by %v: %d probes to %v, want %d", now, probes[a], a, want)
				}
			}
		}
	}
	for i, a := range addrs[probeTargets:] {
		if firstOf[a] != giveUp {
			t.Errorf("newcomer %d first probed at %v, want %v", i, firstOf[a], giveUp)
		}
	}
	for i := range sent {
		n := 0
		for _, at := range sent[i:] {
			if at-sent[i] < ProbeInterval {
				n++
			}
		}
		if n > probeTargets {
			t.Fatalf("%d probes within %v from %v", n, ProbeInterval, sent[i])
		}
	}
	t.Logf("%d probes in 6 s to %d addresses", len(sent), len(addrs))
}

func TestProberConfirm(t *testing.T) {
	type setup struct {
		p    *Prober
		req  []byte
		resp []byte
	}
	// fresh probes movedB and has the real peer answer it.
	fresh := func(t *testing.T) setup {
		c := newTestChecker(t)
		p := c.NewProber()
		req, ok := p.Probe(movedB, 0)
		if !ok {
			t.Fatal("no probe")
		}
		return setup{p, bytes.Clone(req), answer(t, newPeerChecker(t, pwdB), req)}
	}
	tests := []struct {
		name string
		// make returns the datagram and where it comes from.
		make func(t *testing.T, s setup) ([]byte, netip.AddrPort)
		want bool
	}{
		{"the peer's answer", func(t *testing.T, s setup) ([]byte, netip.AddrPort) { return s.resp, movedB }, true},
		{"the peer's answer from elsewhere", func(t *testing.T, s setup) ([]byte, netip.AddrPort) { return s.resp, elsewhere }, false},
		{"an answer keyed with a wrong password", func(t *testing.T, s setup) ([]byte, netip.AddrPort) {
			return answer(t, newPeerChecker(t, "wrongpassword0123456789"), s.req), movedB
		}, false},
		{"a success without MESSAGE-INTEGRITY", func(t *testing.T, s setup) ([]byte, netip.AddrPort) {
			m := stun.New()
			startMessage(m, stun.BindingSuccess, transactionID(s.req))
			_ = stun.Fingerprint.AddTo(m)
			return m.Raw, movedB
		}, false},
		{"an answer to another transaction", func(t *testing.T, s setup) ([]byte, netip.AddrPort) {
			_, other := checkRequest(t, ufragB+":"+ufragA, pwdB)
			return answer(t, newPeerChecker(t, pwdB), other), movedB
		}, false},
		{"our own probe reflected", func(t *testing.T, s setup) ([]byte, netip.AddrPort) { return s.req, movedB }, false},
		{"a corrupted answer", func(t *testing.T, s setup) ([]byte, netip.AddrPort) {
			b := bytes.Clone(s.resp)
			b[len(b)-9] ^= 1
			return b, movedB
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := fresh(t)
			pkt, from := tt.make(t, s)
			orig := bytes.Clone(pkt)
			if got := s.p.Confirm(pkt, from, 10*time.Millisecond); got != tt.want {
				t.Errorf("Confirm = %v, want %v", got, tt.want)
			}
			if !bytes.Equal(pkt, orig) {
				t.Error("Confirm modified the datagram")
			}
			if tt.want && s.p.Confirm(pkt, from, 20*time.Millisecond) {
				t.Error("the same answer confirmed twice")
			}
			if !tt.want && !s.p.Confirm(s.resp, movedB, 20*time.Millisecond) {
				t.Error("the peer's real answer no longer confirms after the stray")
			}
		})
	}
}

// TestProberConfirmsLateAnswer: an answer to an earlier probe to the address
// still counts after a retransmission.
func TestProberConfirmsLateAnswer(t *testing.T) {
	p := newTestChecker(t).NewProber()
	peer := newPeerChecker(t, pwdB)
	first, _ := p.Probe(movedB, 0)
	resp := answer(t, peer, bytes.Clone(first))
	if _, ok := p.Probe(movedB, ProbeInterval); !ok {
		t.Fatal("no second probe")
	}
	if !p.Confirm(resp, movedB, ProbeInterval+time.Millisecond) {
		t.Error("answer to the first probe not accepted after the second left")
	}
}

func TestProberErrorResponses(t *testing.T) {
	tests := []struct {
		name          string
		code          stun.ErrorCode
		integrity     bool
		wantMore      bool // probing of the address goes on
		wantSwitched  bool // our role switched
		wantConfirmed bool
	}{
		{"authenticated 400", stun.CodeBadRequest, true, false, false, false},
		{"unauthenticated 400 (forgeable, ignored)", stun.CodeBadRequest, false, true, false, false},
		{"authenticated 487", stun.CodeRoleConflict, true, true, true, false},
		{"unauthenticated 487 (ignored)", stun.CodeRoleConflict, false, true, false, false},
	}
	for _, tt := range tests {
		c := newTestChecker(t)
		p := c.NewProber()
		req, _ := p.Probe(movedB, 0)
		m := stun.New()
		startMessage(m, stun.NewType(stun.MethodBinding, stun.ClassErrorResponse), transactionID(req))
		_ = tt.code.AddTo(m)
		if tt.integrity {
			_ = stun.NewShortTermIntegrity(pwdB).AddTo(m)
		}
		_ = stun.Fingerprint.AddTo(m)
		if p.Confirm(m.Raw, movedB, time.Millisecond) {
			t.Errorf("%s: confirmed", tt.name)
		}
		if switched := !c.controlling; switched != tt.wantSwitched {
			t.Errorf("%s: role switched %v, want %v", tt.name, switched, tt.wantSwitched)
		}
		next, more := p.Probe(movedB, ProbeInterval)
		if more != tt.wantMore {
			t.Errorf("%s: probing goes on %v, want %v", tt.name, more, tt.wantMore)
		}
		if tt.wantSwitched && more {
			var sent stun.Message
			if decode(&sent, bytes.Clone(next)) != nil || !sent.Contains(stun.AttrICEControlled) {
				t.Errorf("%s: the next probe does not claim the controlled role", tt.name)
			}
		}
	}
}

func transactionID(raw []byte) [stun.TransactionIDSize]byte {
	var id [stun.TransactionIDSize]byte
	copy(id[:], raw[8:20])
	return id
}

func FuzzProberConfirm(f *testing.F) {
	c := newTestChecker(f)
	p := c.NewProber()
	req, _ := p.Probe(movedB, 0)
	resp := answer(f, newPeerChecker(f, pwdB), bytes.Clone(req))
	conflict := stun.New()
	startMessage(conflict, stun.NewType(stun.MethodBinding, stun.ClassErrorResponse), transactionID(req))
	_ = stun.CodeRoleConflict.AddTo(conflict)
	_ = stun.NewShortTermIntegrity(pwdB).AddTo(conflict)
	_ = stun.Fingerprint.AddTo(conflict)
	for _, seed := range [][]byte{resp, req, conflict.Raw, Keepalive(), {0x80, 0}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		c := newTestChecker(t)
		p := c.NewProber()
		if _, ok := p.Probe(movedB, 0); !ok {
			t.Fatal("no probe")
		}
		// Take the fuzzer's transaction ID for the probe's, so that the
		// seeds' MESSAGE-INTEGRITY still holds.
		if IsSTUN(pkt) {
			p.target(movedB).ids[0] = transactionID(pkt)
		}
		orig := bytes.Clone(pkt)
		ok := p.Confirm(pkt, movedB, time.Millisecond)
		if !bytes.Equal(pkt, orig) {
			t.Fatal("input modified")
		}
		if !ok {
			return
		}
		var m stun.Message
		if err := decode(&m, bytes.Clone(pkt)); err != nil || m.Type != stun.BindingSuccess {
			t.Fatalf("confirmed %v (%v), not a binding success", m.Type, err)
		}
		if err := stun.NewShortTermIntegrity(pwdB).Check(&m); err != nil {
			t.Fatalf("confirmed without the peer's MESSAGE-INTEGRITY: %v", err)
		}
		if p.Confirm(pkt, movedB, 2*time.Millisecond) {
			t.Fatal("confirmed twice")
		}
	})
}
