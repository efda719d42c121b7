package nat

import (
	"bytes"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v3"
)

// simAgent is one side of a simulated call: a Checker on one UDP socket,
// optionally behind a NAT with one endpoint-independent mapping (public)
// and port-restricted filtering: inbound packets pass only from addresses
// the socket has sent to.
type simAgent struct {
	name    string
	c       *Checker
	sock    netip.AddrPort // the socket's own (host) address
	public  netip.AddrPort // what the internet sees; == sock without NAT
	lan     string         // agents on the same LAN reach each other's sock directly
	sentTo  map[netip.AddrPort]bool
	sends   []time.Duration // when Next produced a check
	sendsTo map[netip.AddrPort][]time.Duration
}

func (a *simAgent) natted() bool { return a.sock != a.public }

type simPacket struct {
	at       time.Duration
	from, to netip.AddrPort // as the receiver sees the source, and the destination
	dst      *simAgent
	data     []byte
}

// simNet carries packets between agents with a fixed one-way latency; drop
// decides, per packet, whether it is lost.
type simNet struct {
	agents  []*simAgent
	latency time.Duration
	drop    func(from, to *simAgent) bool
	queue   []simPacket
	now     time.Duration // the virtual clock; run advances it
}

// send routes data from agent src to address to, applying NAT translation
// and filtering.
func (n *simNet) send(now time.Duration, src *simAgent, to netip.AddrPort, data []byte) {
	src.sentTo[to] = true
	for _, dst := range n.agents {
		if dst == src {
			continue
		}
		sameLAN := src.lan != "" && src.lan == dst.lan
		var seenFrom netip.AddrPort
		switch {
		case sameLAN && to == dst.sock:
			seenFrom = src.sock
		case to == dst.public && !sameLAN:
			seenFrom = src.public
		default:
			continue
		}
		if dst.natted() && !sameLAN && !dst.sentTo[seenFrom] {
			return // filtered by dst's NAT
		}
		if n.drop != nil && n.drop(src, dst) {
			return
		}
		n.queue = append(n.queue, simPacket{at: now + n.latency, from: seenFrom, to: to, dst: dst, data: bytes.Clone(data)})
		return
	}
}

// run drives the agents in 5 ms steps from the current virtual time until
// limit, or until both have selected a pair when untilSelected, and returns
// the time it stopped at.
func (n *simNet) run(t *testing.T, limit time.Duration, untilSelected bool) time.Duration {
	t.Helper()
	const step = 5 * time.Millisecond
	for ; n.now <= limit; n.now += step {
		now := n.now
		pending := n.queue
		n.queue = nil // replies sent while handling join the new queue
		for _, p := range pending {
			if p.at > now {
				n.queue = append(n.queue, p)
				continue
			}
			reply, replyTo, ok := p.dst.c.Handle(p.data, p.from, now)
			if ok {
				if replyTo != p.from {
					t.Fatalf("%s: reply to %v for a request from %v", p.dst.name, replyTo, p.from)
				}
				n.send(now, p.dst, replyTo, reply)
			}
		}
		done := true
		for _, a := range n.agents {
			for range 10 { // bounded: pacing allows one per call
				to, req, ok := a.c.Next(now)
				if !ok {
					break
				}
				a.sends = append(a.sends, now)
				a.sendsTo[to] = append(a.sendsTo[to], now)
				n.send(now, a, to, req)
			}
			if _, ok := a.c.Selected(); !ok {
				done = false
			}
		}
		if done && untilSelected {
			return now
		}
	}
	return n.now
}

func newSimAgent(t *testing.T, name, sock, public, lan string) *simAgent {
	t.Helper()
	a := &simAgent{
		name:    name,
		sock:    netip.MustParseAddrPort(sock),
		public:  netip.MustParseAddrPort(public),
		lan:     lan,
		sentTo:  map[netip.AddrPort]bool{},
		sendsTo: map[netip.AddrPort][]time.Duration{},
	}
	return a
}

// candidates are what the agent would advertise: its host candidate, and
// its server-reflexive one when behind a NAT and withSrflx.
func (a *simAgent) candidates(withSrflx bool) []Candidate {
	host := HostCandidate(a.sock, 65535)
	cands := []Candidate{host}
	if a.natted() && withSrflx {
		cands = append(cands, ServerReflexive(host, a.public, netip.MustParseAddr("198.51.100.1")))
	}
	return cands
}

type simSetup struct {
	aCands, bCands             []Candidate
	aPwdForB                   string // what A believes B's password is; "" means right
	aControlling, bControlling bool
}

const (
	ufragA = "ufrA"
	pwdA   = "passwordA0123456789abcdef"
	ufragB = "ufrB"
	pwdB   = "passwordB0123456789abcdef"
)

func startCheckers(t *testing.T, a, b *simAgent, s simSetup) {
	t.Helper()
	bPwd := pwdB
	if s.aPwdForB != "" {
		bPwd = s.aPwdForB
	}
	var err error
	a.c, err = NewChecker(CheckerConfig{
		LocalUfrag: ufragA, LocalPwd: pwdA, RemoteUfrag: ufragB, RemotePwd: bPwd,
		Controlling: s.aControlling, Local: s.aCands, Remote: s.bCands,
	})
	if err != nil {
		t.Fatalf("A: %v", err)
	}
	b.c, err = NewChecker(CheckerConfig{
		LocalUfrag: ufragB, LocalPwd: pwdB, RemoteUfrag: ufragA, RemotePwd: pwdA,
		Controlling: s.bControlling, Local: s.bCands, Remote: s.aCands,
	})
	if err != nil {
		t.Fatalf("B: %v", err)
	}
}

func TestCheckersConnect(t *testing.T) {
	tests := []struct {
		name string
		a, b func(t *testing.T) *simAgent
		// withSrflx: the agents advertise server-reflexive candidates
		withSrflx                  bool
		aControlling, bControlling bool
		lossPercent                int
		// wantA/wantB: the address each should select
		wantA, wantB string
	}{
		{
			name: "same LAN, host to host",
			a: func(t *testing.T) *simAgent {
				return newSimAgent(t, "A", "192.168.1.10:5000", "203.0.113.1:6000", "home")
			},
			b: func(t *testing.T) *simAgent {
				return newSimAgent(t, "B", "192.168.1.20:5002", "203.0.113.1:6002", "home")
			},
			withSrflx:    true,
			aControlling: true,
			wantA:        "192.168.1.20:5002", wantB: "192.168.1.10:5000",
		},
		{
			name:         "both behind port-restricted NATs, srflx to srflx",
			a:            func(t *testing.T) *simAgent { return newSimAgent(t, "A", "10.0.0.2:5000", "203.0.113.1:6000", "") },
			b:            func(t *testing.T) *simAgent { return newSimAgent(t, "B", "10.1.0.2:5000", "198.51.100.9:7000", "") },
			withSrflx:    true,
			aControlling: true,
			wantA:        "198.51.100.9:7000", wantB: "203.0.113.1:6000",
		},
		{
			name:         "no srflx advertised: peer-reflexive discovery",
			a:            func(t *testing.T) *simAgent { return newSimAgent(t, "A", "10.0.0.2:5000", "203.0.113.1:6000", "") },
			b:            func(t *testing.T) *simAgent { return newSimAgent(t, "B", "192.0.2.50:5000", "192.0.2.50:5000", "") },
			withSrflx:    false,
			bControlling: true,
			wantA:        "192.0.2.50:5000", wantB: "203.0.113.1:6000",
		},
		{
			name:         "30% loss both ways",
			a:            func(t *testing.T) *simAgent { return newSimAgent(t, "A", "10.0.0.2:5000", "203.0.113.1:6000", "") },
			b:            func(t *testing.T) *simAgent { return newSimAgent(t, "B", "10.1.0.2:5000", "198.51.100.9:7000", "") },
			withSrflx:    true,
			aControlling: true,
			lossPercent:  30,
			wantA:        "198.51.100.9:7000", wantB: "203.0.113.1:6000",
		},
		{
			name:         "role conflict: both controlling",
			a:            func(t *testing.T) *simAgent { return newSimAgent(t, "A", "192.0.2.1:5000", "192.0.2.1:5000", "") },
			b:            func(t *testing.T) *simAgent { return newSimAgent(t, "B", "192.0.2.2:5000", "192.0.2.2:5000", "") },
			aControlling: true, bControlling: true,
			wantA: "192.0.2.2:5000", wantB: "192.0.2.1:5000",
		},
		{
			name:  "role conflict: both controlled",
			a:     func(t *testing.T) *simAgent { return newSimAgent(t, "A", "192.0.2.1:5000", "192.0.2.1:5000", "") },
			b:     func(t *testing.T) *simAgent { return newSimAgent(t, "B", "192.0.2.2:5000", "192.0.2.2:5000", "") },
			wantA: "192.0.2.2:5000", wantB: "192.0.2.1:5000",
		},
	}
	for _, tt := range tests {
		for seed := range uint64(5) {
			a, b := tt.a(t), tt.b(t)
			rng := rand.New(rand.NewPCG(seed, 42))
			n := &simNet{agents: []*simAgent{a, b}, latency: 30 * time.Millisecond}
			if tt.lossPercent > 0 {
				n.drop = func(_, _ *simAgent) bool { return rng.IntN(100) < tt.lossPercent }
			}
			startCheckers(t, a, b, simSetup{
				aCands: a.candidates(tt.withSrflx), bCands: b.candidates(tt.withSrflx),
				aControlling: tt.aControlling, bControlling: tt.bControlling,
			})
			took := n.run(t, 12*time.Second, true)
			for _, x := range []struct {
				agent *simAgent
				want  string
			}{{a, tt.wantA}, {b, tt.wantB}} {
				got, ok := x.agent.c.Selected()
				if !ok {
					t.Fatalf("%s (seed %d): %s selected nothing; tried:\n%s", tt.name, seed, x.agent.name, strings.Join(x.agent.c.Tried(), "\n"))
				}
				if got.String() != x.want {
					t.Errorf("%s (seed %d): %s selected %v, want %s", tt.name, seed, x.agent.name, got, x.want)
				}
				if x.agent.c.Failed(took) {
					t.Errorf("%s: %s reports Failed after selecting", tt.name, x.agent.name)
				}
				if !slices.ContainsFunc(x.agent.c.Tried(), func(s string) bool { return strings.Contains(s, "(selected)") }) {
					t.Errorf("%s: %s Tried does not show the selected pair: %q", tt.name, x.agent.name, x.agent.c.Tried())
				}
			}
			if a.c.controlling == b.c.controlling {
				t.Errorf("%s: both ended %v controlling", tt.name, a.c.controlling)
			}
			t.Logf("%s (seed %d): both selected after %v; A sent %d checks, B %d", tt.name, seed, took, len(a.sends), len(b.sends))
			if tt.lossPercent == 0 && took > 2*time.Second {
				t.Errorf("%s: took %v without loss", tt.name, took)
			}
			// Selection is final: later checks change nothing.
			first, _ := a.c.Selected()
			n.run(t, took+5*time.Second, false)
			if again, _ := a.c.Selected(); again != first {
				t.Errorf("%s: selection changed from %v to %v", tt.name, first, again)
			}
		}
	}
}

func TestCheckersNeverConnect(t *testing.T) {
	tests := []struct {
		name     string
		drop     func(from, to *simAgent) bool
		wrongPwd bool
		wantInA  string // in A's Tried
	}{
		{
			name:    "A to B dropped",
			drop:    func(from, _ *simAgent) bool { return from.name == "A" },
			wantInA: "the peer's check arrived",
		},
		{
			name:    "B to A dropped",
			drop:    func(from, _ *simAgent) bool { return from.name == "B" },
			wantInA: "no response to 4 requests",
		},
		{
			name:     "A has B's password wrong",
			wrongPwd: true,
			wantInA:  "error response 401",
		},
	}
	for _, tt := range tests {
		a := newSimAgent(t, "A", "192.0.2.1:5000", "192.0.2.1:5000", "")
		b := newSimAgent(t, "B", "192.0.2.2:5000", "192.0.2.2:5000", "")
		n := &simNet{agents: []*simAgent{a, b}, latency: 20 * time.Millisecond, drop: tt.drop}
		s := simSetup{aCands: a.candidates(false), bCands: b.candidates(false), aControlling: true}
		if tt.wrongPwd {
			s.aPwdForB = "notThePasswordOfB012345"
		}
		startCheckers(t, a, b, s)
		n.run(t, DefaultCheckTimeout-10*time.Millisecond, false)
		for _, x := range []*simAgent{a, b} {
			if got, ok := x.c.Selected(); ok {
				t.Errorf("%s: %s selected %v", tt.name, x.name, got)
			}
			if x.c.Failed(DefaultCheckTimeout - 10*time.Millisecond) {
				t.Errorf("%s: %s failed before the timeout", tt.name, x.name)
			}
			if !x.c.Failed(DefaultCheckTimeout) {
				t.Errorf("%s: %s not failed at the timeout", tt.name, x.name)
			}
		}
		tried := strings.Join(a.c.Tried(), "\n")
		if !strings.Contains(tried, tt.wantInA) || !strings.Contains(tried, "192.0.2.2:5000") {
			t.Errorf("%s: A's Tried = %q, want it to mention %q and the pair", tt.name, tried, tt.wantInA)
		}
	}
}

// TestCheckPacingAndRetransmission checks against a peer that never answers:
// at most one check per Ta, each check sent at 0, RTO, 3 RTO and 7 RTO, then
// given up.
func TestCheckPacingAndRetransmission(t *testing.T) {
	local := []Candidate{HostCandidate(netip.MustParseAddrPort("192.0.2.1:5000"), 65535)}
	var remote []Candidate
	for i := range 3 {
		remote = append(remote, HostCandidate(netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i)}), 4000), uint16(65535-i)))
	}
	c, err := NewChecker(CheckerConfig{
		LocalUfrag: ufragA, LocalPwd: pwdA, RemoteUfrag: ufragB, RemotePwd: pwdB,
		Controlling: true, Local: local, Remote: remote,
	})
	if err != nil {
		t.Fatal(err)
	}
	var all []time.Duration
	perRemote := map[netip.AddrPort][]time.Duration{}
	var order []netip.AddrPort
	for now := time.Duration(0); now < 12*time.Second; now += time.Millisecond {
		for range 3 {
			to, req, ok := c.Next(now)
			if !ok {
				break
			}
			if !IsSTUN(req) {
				t.Fatalf("Next returned a non-STUN check")
			}
			if len(perRemote[to]) == 0 {
				order = append(order, to)
			}
			all = append(all, now)
			perRemote[to] = append(perRemote[to], now)
		}
	}
	for i := 1; i < len(all); i++ {
		if gap := all[i] - all[i-1]; gap < pacing {
			t.Fatalf("checks %d and %d only %v apart", i-1, i, gap)
		}
	}
	for i, r := range remote {
		if order[i] != r.Addr {
			t.Errorf("check %d went to %v, want %v (priority order)", i, order[i], r.Addr)
		}
		sends := perRemote[r.Addr]
		if len(sends) != checkRequests {
			t.Fatalf("%v: %d requests, want %d", r.Addr, len(sends), checkRequests)
		}
		for k := 1; k < len(sends); k++ {
			want := initialRTO << (k - 1)
			if gap := sends[k] - sends[k-1]; gap < want || gap > want+pacing {
				t.Errorf("%v: retransmission %d after %v, want %v (+ pacing)", r.Addr, k, gap, want)
			}
		}
	}
	for _, s := range c.Tried() {
		if !strings.Contains(s, "no response to 4 requests") {
			t.Errorf("Tried: %q", s)
		}
	}
}

// checkRequest builds a connectivity check as the peer B would send it to A.
func checkRequest(t testing.TB, username, pwd string, extra ...stun.Setter) (*stun.Message, []byte) {
	t.Helper()
	setters := []stun.Setter{stun.BindingRequest}
	if username != "" {
		setters = append(setters, stun.NewUsername(username))
	}
	setters = append(setters, stun.RawAttribute{Type: stun.AttrPriority, Value: []byte{0x6e, 0, 0x1e, 0xff}})
	setters = append(setters, extra...)
	if pwd != "" {
		setters = append(setters, stun.NewShortTermIntegrity(pwd))
	}
	setters = append(setters, stun.Fingerprint)
	return buildMessage(t, setters...)
}

func newTestChecker(t testing.TB) *Checker {
	t.Helper()
	c, err := NewChecker(CheckerConfig{
		LocalUfrag: ufragA, LocalPwd: pwdA, RemoteUfrag: ufragB, RemotePwd: pwdB,
		Controlling: true,
		Local:       []Candidate{HostCandidate(netip.MustParseAddrPort("192.0.2.1:5000"), 65535)},
		Remote:      []Candidate{HostCandidate(netip.MustParseAddrPort("192.0.2.2:5000"), 65535)},
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHandleRequests(t *testing.T) {
	from := netip.MustParseAddrPort("192.0.2.2:5000")
	good := ufragA + ":" + ufragB
	tests := []struct {
		name     string
		username string
		pwd      string
		extra    []stun.Setter
		wantCode stun.ErrorCode // 0: success
		wantMI   bool
	}{
		{name: "valid", username: good, pwd: pwdA, wantMI: true},
		{name: "valid, controlled peer", username: good, pwd: pwdA, wantMI: true,
			extra: []stun.Setter{stun.RawAttribute{Type: stun.AttrICEControlled, Value: make([]byte, 8)}}},
		{name: "wrong password", username: good, pwd: pwdB, wantCode: stun.CodeUnauthorized},
		{name: "swapped username", username: ufragB + ":" + ufragA, pwd: pwdA, wantCode: stun.CodeUnauthorized},
		{name: "username prefix only", username: ufragA + ":", pwd: pwdA, wantCode: stun.CodeUnauthorized},
		{name: "no username", pwd: pwdA, wantCode: stun.CodeBadRequest},
		{name: "no integrity", username: good, wantCode: stun.CodeBadRequest},
		{name: "unknown required attribute", username: good, pwd: pwdA, wantCode: stun.CodeUnknownAttribute, wantMI: true,
			extra: []stun.Setter{stun.RawAttribute{Type: 0x7777, Value: []byte{1, 2, 3, 4}}}},
		{name: "bad role attribute", username: good, pwd: pwdA, wantCode: stun.CodeBadRequest, wantMI: true,
			extra: []stun.Setter{stun.RawAttribute{Type: stun.AttrICEControlling, Value: []byte{1}}}},
		{name: "role conflict we win", username: good, pwd: pwdA, wantCode: stun.CodeRoleConflict, wantMI: true,
			extra: []stun.Setter{stun.RawAttribute{Type: stun.AttrICEControlling, Value: make([]byte, 8)}}},
	}
	for _, tt := range tests {
		c := newTestChecker(t)
		c.tiebreaker = 1 // above the peer's 0 in "role conflict we win"
		req, raw := checkRequest(t, tt.username, tt.pwd, tt.extra...)
		reply, to, ok := c.Handle(raw, from, 0)
		if !ok || to != from {
			t.Fatalf("%s: no reply (%v) or reply to %v", tt.name, ok, to)
		}
		m := decodeReply(t, reply, req.TransactionID)
		if tt.wantMI != m.Contains(stun.AttrMessageIntegrity) {
			t.Errorf("%s: MESSAGE-INTEGRITY present %v, want %v", tt.name, !tt.wantMI, tt.wantMI)
		}
		if tt.wantMI {
			if err := stun.NewShortTermIntegrity(pwdA).Check(m); err != nil {
				t.Errorf("%s: reply integrity: %v", tt.name, err)
			}
		}
		if tt.wantCode == 0 {
			var xa stun.XORMappedAddress
			if m.Type != stun.BindingSuccess || xa.GetFrom(m) != nil {
				t.Fatalf("%s: reply %v, want success with XOR-MAPPED-ADDRESS", tt.name, m.Type)
			}
			if got, _ := addrPortOf(xa.IP, xa.Port); got != from {
				t.Errorf("%s: XOR-MAPPED-ADDRESS %v, want %v", tt.name, got, from)
			}
			if !c.pairs[0].requestSeen || len(c.triggered) != 1 {
				t.Errorf("%s: request not recorded or no triggered check queued", tt.name)
			}
			continue
		}
		var code stun.ErrorCodeAttribute
		if m.Type.Class != stun.ClassErrorResponse || code.GetFrom(m) != nil || code.Code != tt.wantCode {
			t.Errorf("%s: reply %v code %v, want error %v", tt.name, m.Type, code.Code, tt.wantCode)
		}
		if c.pairs[0].requestSeen {
			t.Errorf("%s: a rejected request marked the pair", tt.name)
		}
	}
}

func TestRoleConflictWeLose(t *testing.T) {
	c := newTestChecker(t)
	c.tiebreaker = 0
	_, raw := checkRequest(t, ufragA+":"+ufragB, pwdA, stun.RawAttribute{Type: stun.AttrICEControlling, Value: []byte{0, 0, 0, 0, 0, 0, 0, 9}})
	reply, _, ok := c.Handle(raw, netip.MustParseAddrPort("192.0.2.2:5000"), 0)
	if !ok {
		t.Fatal("no reply")
	}
	var m stun.Message
	if err := decode(&m, reply); err != nil || m.Type != stun.BindingSuccess {
		t.Fatalf("reply %v (%v), want success", m.Type, err)
	}
	if c.controlling {
		t.Error("did not switch to controlled after losing the tiebreak")
	}
}

func TestHandleDropsStrays(t *testing.T) {
	c := newTestChecker(t)
	from := netip.MustParseAddrPort("192.0.2.2:5000")
	_, valid := checkRequest(t, ufragA+":"+ufragB, pwdA)
	noFingerprint, _ := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername(ufragA+":"+ufragB), stun.NewShortTermIntegrity(pwdA))
	_, strayResponse := buildMessage(t, stun.BindingSuccess, &stun.XORMappedAddress{IP: []byte{192, 0, 2, 1}, Port: 5000}, stun.NewShortTermIntegrity(pwdB), stun.Fingerprint)
	tests := []struct {
		name string
		pkt  []byte
		from netip.AddrPort
	}{
		{"RTP", []byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, from},
		{"keepalive", Keepalive(), from},
		{"no FINGERPRINT", noFingerprint.Raw, from},
		{"response to no check of ours", strayResponse, from},
		{"request from port 0", valid, netip.MustParseAddrPort("192.0.2.2:0")},
		{"truncated", valid[:len(valid)-2], from},
	}
	for _, tt := range tests {
		if reply, _, ok := c.Handle(tt.pkt, tt.from, 0); ok || reply != nil {
			t.Errorf("%s: answered", tt.name)
		}
	}
	if c.pairs[0].state != pairWaiting || c.pairs[0].requestSeen {
		t.Error("a stray packet changed the pair")
	}
}

// TestResponseChecks checks that a response moves a pair only if it answers
// our transaction, is authenticated and comes from where the check went.
func TestResponseChecks(t *testing.T) {
	remote := netip.MustParseAddrPort("192.0.2.2:5000")
	tests := []struct {
		name      string
		from      netip.AddrPort
		pwd       string
		wantState pairState
	}{
		{"valid", remote, pwdB, pairSucceeded},
		{"wrong key", remote, pwdA, pairInProgress},
		{"no integrity", remote, "", pairInProgress},
		{"asymmetric source", netip.MustParseAddrPort("192.0.2.3:5000"), pwdB, pairFailed},
	}
	for _, tt := range tests {
		c := newTestChecker(t)
		to, req, ok := c.Next(0)
		if !ok || to != remote {
			t.Fatalf("%s: no check to %v", tt.name, remote)
		}
		var m stun.Message
		if err := decode(&m, req); err != nil {
			t.Fatal(err)
		}
		setters := []stun.Setter{stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess,
			&stun.XORMappedAddress{IP: []byte{192, 0, 2, 1}, Port: 5000}}
		if tt.pwd != "" {
			setters = append(setters, stun.NewShortTermIntegrity(tt.pwd))
		}
		setters = append(setters, stun.Fingerprint)
		resp, err := stun.Build(setters...)
		if err != nil {
			t.Fatal(err)
		}
		if _, _, ok := c.Handle(resp.Raw, tt.from, 10*time.Millisecond); ok {
			t.Errorf("%s: a response was answered", tt.name)
		}
		if got := c.pairs[0].state; got != tt.wantState {
			t.Errorf("%s: pair state %d, want %d", tt.name, got, tt.wantState)
		}
		if _, ok := c.Selected(); ok {
			t.Errorf("%s: selected without a check from the peer", tt.name)
		}
	}
}

func TestCheckRequestContents(t *testing.T) {
	c := newTestChecker(t)
	_, req, ok := c.Next(0)
	if !ok {
		t.Fatal("no check")
	}
	m := stun.New()
	if err := stun.Decode(req, m); err != nil {
		t.Fatal(err)
	}
	var user stun.Username
	if err := user.GetFrom(m); err != nil || user.String() != ufragB+":"+ufragA {
		t.Errorf("USERNAME %q (%v), want %q", user, err, ufragB+":"+ufragA)
	}
	if err := stun.NewShortTermIntegrity(pwdB).Check(m); err != nil {
		t.Errorf("MESSAGE-INTEGRITY with the peer's password: %v", err)
	}
	if err := stun.Fingerprint.Check(m); err != nil {
		t.Errorf("FINGERPRINT: %v", err)
	}
	prio, err := m.Get(stun.AttrPriority)
	want := Priority(TypePrflx, 65535, 1)
	if err != nil || len(prio) != 4 || uint32(prio[0])<<24|uint32(prio[1])<<16|uint32(prio[2])<<8|uint32(prio[3]) != want {
		t.Errorf("PRIORITY %x (%v), want %d", prio, err, want)
	}
	if !m.Contains(stun.AttrICEControlling) || m.Contains(stun.AttrICEControlled) {
		t.Error("controlling agent's check lacks ICE-CONTROLLING")
	}
}

func TestVerify(t *testing.T) {
	c := newTestChecker(t)
	moved := netip.MustParseAddrPort("203.0.113.77:40000")
	_, good := checkRequest(t, ufragA+":"+ufragB, pwdA)
	_, wrongPwd := checkRequest(t, ufragA+":"+ufragB, pwdB)
	_, wrongUser := checkRequest(t, "evil:"+ufragB, pwdA)
	_, response := buildMessage(t, stun.BindingSuccess, stun.NewUsername(ufragA+":"+ufragB), stun.NewShortTermIntegrity(pwdA), stun.Fingerprint)
	tests := []struct {
		name string
		pkt  []byte
		from netip.AddrPort
		want bool
	}{
		{"authentic from a new address", good, moved, true},
		{"wrong password", wrongPwd, moved, false},
		{"wrong username", wrongUser, moved, false},
		{"a response", response, moved, false},
		{"keepalive", Keepalive(), moved, false},
		{"unusable source", good, netip.AddrPort{}, false},
	}
	for _, tt := range tests {
		pkt := bytes.Clone(tt.pkt)
		if got := c.Verify(pkt, tt.from); got != tt.want {
			t.Errorf("%s: Verify = %v, want %v", tt.name, got, tt.want)
		}
		if !bytes.Equal(pkt, tt.pkt) {
			t.Errorf("%s: Verify modified the packet", tt.name)
		}
	}
	if len(c.pairs) != 1 || c.pairs[0].requestSeen {
		t.Error("Verify changed the checker's state")
	}
}

func TestNewCheckerRejects(t *testing.T) {
	local := []Candidate{HostCandidate(netip.MustParseAddrPort("192.0.2.1:5000"), 65535)}
	remote := []Candidate{HostCandidate(netip.MustParseAddrPort("192.0.2.2:5000"), 65535)}
	tcp := remote[0]
	tcp.Transport = "TCP"
	v6 := HostCandidate(netip.MustParseAddrPort("[2001:db8::2]:5000"), 65535)
	rtcp := remote[0]
	rtcp.Component = 2
	good := CheckerConfig{LocalUfrag: ufragA, LocalPwd: pwdA, RemoteUfrag: ufragB, RemotePwd: pwdB, Local: local, Remote: remote}
	tests := []struct {
		name   string
		modify func(*CheckerConfig)
	}{
		{"short ufrag", func(c *CheckerConfig) { c.LocalUfrag = "abc" }},
		{"colon in ufrag", func(c *CheckerConfig) { c.RemoteUfrag = "ab:cd" }},
		{"short password", func(c *CheckerConfig) { c.RemotePwd = "short" }},
		{"no local candidates", func(c *CheckerConfig) { c.Local = nil }},
		{"no remote candidates", func(c *CheckerConfig) { c.Remote = nil }},
		{"only TCP remote", func(c *CheckerConfig) { c.Remote = []Candidate{tcp} }},
		{"only RTCP component", func(c *CheckerConfig) { c.Remote = []Candidate{rtcp} }},
		{"IPv6 remote, IPv4 local", func(c *CheckerConfig) { c.Remote = []Candidate{v6} }},
	}
	if _, err := NewChecker(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tt := range tests {
		cfg := good
		tt.modify(&cfg)
		if _, err := NewChecker(cfg); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}

func TestPairPriority(t *testing.T) {
	// RFC 8445 section 6.1.2.3 worked by hand: G controlling, D controlled.
	tests := []struct {
		controlling   bool
		local, remote uint32
		want          uint64
	}{
		{true, 10, 20, 10<<32 + 2*20 + 0},
		{true, 20, 10, 10<<32 + 2*20 + 1},
		{false, 10, 20, 10<<32 + 2*20 + 1},
		{false, 20, 10, 10<<32 + 2*20 + 0},
		{true, 7, 7, 7<<32 + 14},
		{true, 1<<31 - 1, 1<<31 - 1, (1<<31-1)<<32 + 2*(1<<31-1)},
	}
	for _, tt := range tests {
		if got := pairPriority(tt.controlling, tt.local, tt.remote); got != tt.want {
			t.Errorf("pairPriority(%v, %d, %d) = %d, want %d", tt.controlling, tt.local, tt.remote, got, tt.want)
		}
	}
	// Both sides order the same pairs the same way.
	a := pairPriority(true, 100, 200)
	b := pairPriority(false, 200, 100)
	if a != b {
		t.Errorf("controlling and controlled disagree: %d vs %d", a, b)
	}
}

func TestNewCredentials(t *testing.T) {
	u1, p1 := NewCredentials()
	u2, p2 := NewCredentials()
	if u1 == u2 || p1 == p2 {
		t.Error("two credential sets are equal")
	}
	if checkCredential(u1, minUfragLen) != nil || checkCredential(p1, minPwdLen) != nil {
		t.Errorf("credentials %q %q are not valid ice-chars of the right length", u1, p1)
	}
}

func TestCheckerHandleAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	c := newTestChecker(t)
	from := netip.MustParseAddrPort("192.0.2.2:5000")
	_, req := checkRequest(t, ufragA+":"+ufragB, pwdA)
	keepalive := Keepalive()
	c.Handle(req, from, 0) // creates the triggered-check entry once
	allocs := testing.AllocsPerRun(200, func() {
		if _, _, ok := c.Handle(req, from, 0); !ok {
			t.Fatal("not answered")
		}
		if !c.Verify(req, from) {
			t.Fatal("not verified")
		}
		c.Handle(keepalive, from, 0)
		IsSTUN(req)
		if c.Awaits(req) || c.Awaits(keepalive) {
			t.Fatal("awaits an answer to a request")
		}
	})
	if allocs != 0 {
		t.Errorf("Handle/Verify/Awaits allocate %v times per packet, want 0", allocs)
	}
}

func BenchmarkCheckerHandleRequest(b *testing.B) {
	c := newTestChecker(b)
	from := netip.MustParseAddrPort("192.0.2.2:5000")
	_, req := checkRequest(b, ufragA+":"+ufragB, pwdA)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, ok := c.Handle(req, from, 0); !ok {
			b.Fatal("not answered")
		}
	}
}

func BenchmarkCheckerVerify(b *testing.B) {
	c := newTestChecker(b)
	from := netip.MustParseAddrPort("192.0.2.2:5000")
	_, req := checkRequest(b, ufragA+":"+ufragB, pwdA)
	b.ReportAllocs()
	for b.Loop() {
		if !c.Verify(req, from) {
			b.Fatal("not verified")
		}
	}
}

func FuzzCheckerHandle(f *testing.F) {
	_, valid := checkRequest(f, ufragA+":"+ufragB, pwdA)
	_, unknownAttr := checkRequest(f, ufragA+":"+ufragB, pwdA, stun.RawAttribute{Type: 0x7777, Value: []byte{1}})
	_, conflict := checkRequest(f, ufragA+":"+ufragB, pwdA, stun.RawAttribute{Type: stun.AttrICEControlling, Value: make([]byte, 8)})
	_, response := buildMessage(f, stun.BindingSuccess, &stun.XORMappedAddress{IP: []byte{192, 0, 2, 1}, Port: 5000}, stun.NewShortTermIntegrity(pwdB), stun.Fingerprint)
	for _, seed := range [][]byte{valid, unknownAttr, conflict, response, Keepalive(), {0x80, 0}} {
		f.Add(seed, uint16(5000))
	}
	f.Fuzz(func(t *testing.T, pkt []byte, port uint16) {
		c := newTestChecker(t)
		from := netip.AddrPortFrom(netip.MustParseAddr("192.0.2.2"), port)
		orig := bytes.Clone(pkt)
		for i := range 3 {
			now := time.Duration(i) * time.Second
			c.Next(now)
			reply, to, ok := c.Handle(pkt, from, now)
			c.Verify(pkt, from)
			if !bytes.Equal(pkt, orig) {
				t.Fatal("input modified")
			}
			if !ok {
				continue
			}
			if to != from {
				t.Fatalf("reply to %v, request from %v", to, from)
			}
			var req, resp stun.Message
			if err := decode(&req, pkt); err != nil || req.Type.Class != stun.ClassRequest {
				t.Fatalf("answered a non-request (%v)", err)
			}
			if err := decode(&resp, reply); err != nil || resp.TransactionID != req.TransactionID {
				t.Fatalf("reply does not decode or answer the request (%v)", err)
			}
			if err := checkFingerprint(&resp); err != nil {
				t.Fatalf("reply: %v", err)
			}
			if resp.Type == stun.BindingSuccess && !c.Verify(pkt, from) {
				t.Fatal("success reply to a request Verify rejects")
			}
		}
		if len(c.pairs) > maxPairs {
			t.Fatalf("%d pairs", len(c.pairs))
		}
	})
}

// TestTriggeredCheckFirst: a check from the peer on a low-priority pair makes
// that pair the next one checked, and a check from an unknown address adds a
// peer-reflexive pair.
func TestTriggeredCheckFirst(t *testing.T) {
	high := HostCandidate(netip.MustParseAddrPort("192.0.2.2:5000"), 65535)
	low := HostCandidate(netip.MustParseAddrPort("192.0.2.3:5000"), 1)
	c, err := NewChecker(CheckerConfig{
		LocalUfrag: ufragA, LocalPwd: pwdA, RemoteUfrag: ufragB, RemotePwd: pwdB,
		Local:  []Candidate{HostCandidate(netip.MustParseAddrPort("192.0.2.1:5000"), 65535)},
		Remote: []Candidate{low, high},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, req := checkRequest(t, ufragA+":"+ufragB, pwdA)
	if _, _, ok := c.Handle(req, low.Addr, 0); !ok {
		t.Fatal("check not answered")
	}
	prflx := netip.MustParseAddrPort("203.0.113.4:7000")
	_, req = checkRequest(t, ufragA+":"+ufragB, pwdA) // a new transaction: a copy would be a replay
	if _, _, ok := c.Handle(req, prflx, 0); !ok {
		t.Fatal("check from a new address not answered")
	}
	var order []netip.AddrPort
	for now := time.Duration(0); len(order) < 3; now += pacing {
		to, _, ok := c.Next(now)
		if !ok {
			t.Fatalf("no check at %v", now)
		}
		order = append(order, to)
	}
	want := []netip.AddrPort{low.Addr, prflx, high.Addr}
	if !slices.Equal(order, want) {
		t.Errorf("checks went to %v, want %v (triggered first, in arrival order)", order, want)
	}
	tried := strings.Join(c.Tried(), "\n")
	if !strings.Contains(tried, "prflx 203.0.113.4:7000") {
		t.Errorf("Tried lacks the peer-reflexive pair:\n%s", tried)
	}
}

// TestCheckerRestartAfterRebinding: both sides behind port-restricted NATs
// have a path; then A's NAT drops its mapping and makes a new one (another
// public port, no permissions). B's NAT filters A's new address, and A's
// old one is gone: no check gets through, and the selection stays on the
// dead pair. After both restart with fresh candidates (A's new
// server-reflexive address) they select the new pair; answers to checks
// sent before the restart are no longer awaited.
func TestCheckerRestartAfterRebinding(t *testing.T) {
	for seed := range uint64(3) {
		a := newSimAgent(t, "A", "10.0.0.2:5000", "203.0.113.1:6000", "")
		b := newSimAgent(t, "B", "10.1.0.2:5000", "198.51.100.9:7000", "")
		n := &simNet{agents: []*simAgent{a, b}, latency: 30 * time.Millisecond}
		if seed > 0 {
			rng := rand.New(rand.NewPCG(seed, 7))
			n.drop = func(_, _ *simAgent) bool { return rng.IntN(100) < 20 }
		}
		startCheckers(t, a, b, simSetup{aCands: a.candidates(true), bCands: b.candidates(true), aControlling: true})
		took := n.run(t, 12*time.Second, true)
		if _, ok := a.c.Selected(); !ok {
			t.Fatalf("seed %d: no first path", seed)
		}

		// The rebinding, then a check in flight from before it.
		a.public = netip.MustParseAddrPort("203.0.113.1:40017")
		clear(a.sentTo)
		b.c.Restart(b.candidates(true), a.candidates(true), n.now) // B first, with A's stale candidates
		_, stale, _ := b.c.Next(n.now)
		n.run(t, n.now+time.Second, false)
		if got, ok := b.c.Selected(); ok {
			t.Fatalf("seed %d: B selected %v with only A's stale candidates", seed, got)
		}

		// The fresh candidates arrive (over signaling): both check again.
		start := n.now
		if err := a.c.Restart(a.candidates(true), b.candidates(true), n.now); err != nil {
			t.Fatal(err)
		}
		if err := b.c.Restart(b.candidates(true), a.candidates(true), n.now); err != nil {
			t.Fatal(err)
		}
		if b.c.Awaits(answerTo(t, stale)) {
			t.Errorf("seed %d: B still awaits an answer to a check from before its restart", seed)
		}
		_, fresh, ok := b.c.Next(n.now)
		if !ok || !b.c.Awaits(answerTo(t, fresh)) || b.c.Awaits(fresh) {
			t.Errorf("seed %d: Awaits does not tell the answer to B's fresh check (sent %v) from the check itself", seed, ok)
		}
		took = n.run(t, n.now+12*time.Second, true) - start
		gotA, okA := a.c.Selected()
		gotB, okB := b.c.Selected()
		if !okA || !okB || gotA != b.public || gotB != a.public {
			t.Fatalf("seed %d: after the restart A selected %v (%v), B %v (%v); want %v and %v\nA tried:\n%s\nB tried:\n%s",
				seed, gotA, okA, gotB, okB, b.public, a.public, strings.Join(a.c.Tried(), "\n"), strings.Join(b.c.Tried(), "\n"))
		}
		t.Logf("seed %d: new path after %v", seed, took)
		if seed == 0 && took > time.Second {
			t.Errorf("took %v without loss", took)
		}
	}
}

// answerTo is a binding success response to the request req, as far as
// Awaits looks: the class and the transaction ID.
func answerTo(t *testing.T, req []byte) []byte {
	t.Helper()
	var m stun.Message
	m.Raw = append([]byte(nil), req...)
	if err := m.Decode(); err != nil {
		t.Fatal(err)
	}
	resp, err := stun.Build(stun.NewTransactionIDSetter(m.TransactionID), stun.BindingSuccess, stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Raw
}

func TestCheckerRestartRejectsUnusableCandidates(t *testing.T) {
	c := newTestChecker(t)
	before := c.Tried()
	err := c.Restart([]Candidate{HostCandidate(netip.MustParseAddrPort("192.0.2.1:5000"), 65535)},
		[]Candidate{HostCandidate(netip.MustParseAddrPort("[2001:db8::1]:5000"), 65535)}, time.Second)
	if err == nil {
		t.Fatal("Restart accepted remote candidates no local one can reach")
	}
	if after := c.Tried(); !slices.Equal(before, after) {
		t.Errorf("a failed Restart changed the pairs: %q, was %q", after, before)
	}
}

// TestCheckerHold: a Checker with Hold sends nothing until the peer's first
// authenticated check has arrived (then its triggered check goes at once),
// or until the hold is over if none comes; it answers meanwhile.
func TestCheckerHold(t *testing.T) {
	const hold = 2 * time.Second
	tests := []struct {
		name      string
		wrongPwd  bool // B's checks do not authenticate at A
		wantFirst func(time.Duration) bool
	}{
		{"the peer's check comes", false, func(at time.Duration) bool { return at >= 30*time.Millisecond && at < 100*time.Millisecond }},
		{"no authentic check comes", true, func(at time.Duration) bool { return at >= hold && at < hold+100*time.Millisecond }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := newSimAgent(t, "A", "192.0.2.1:5000", "192.0.2.1:5000", "")
			b := newSimAgent(t, "B", "192.0.2.2:5000", "192.0.2.2:5000", "")
			n := &simNet{agents: []*simAgent{a, b}, latency: 30 * time.Millisecond}
			var err error
			a.c, err = NewChecker(CheckerConfig{
				LocalUfrag: ufragA, LocalPwd: pwdA, RemoteUfrag: ufragB, RemotePwd: pwdB,
				Local: a.candidates(false), Remote: b.candidates(false), Hold: hold,
			})
			if err != nil {
				t.Fatal(err)
			}
			pwdForA := pwdA
			if tt.wrongPwd {
				pwdForA = strings.Repeat("w", 24)
			}
			b.c, err = NewChecker(CheckerConfig{
				LocalUfrag: ufragB, LocalPwd: pwdB, RemoteUfrag: ufragA, RemotePwd: pwdForA,
				Controlling: true, Local: b.candidates(false), Remote: a.candidates(false),
			})
			if err != nil {
				t.Fatal(err)
			}
			n.run(t, 3*time.Second, true)
			if len(a.sends) == 0 || !tt.wantFirst(a.sends[0]) {
				t.Fatalf("A's first check at %v (of %d)", a.sends, len(a.sends))
			}
			t.Logf("A's first check at %v", a.sends[0])
			if !tt.wrongPwd {
				if _, ok := a.c.Selected(); !ok {
					t.Errorf("A selected nothing; tried %q", a.c.Tried())
				}
			}
		})
	}
}
