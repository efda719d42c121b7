package nat

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/pion/stun/v3"
)

// Connectivity-check timing.
const (
	// pacing is Ta (RFC 8445 section 14.2): at most one check, new or
	// retransmitted, leaves every pacing.
	pacing = 50 * time.Millisecond
	// checkRequests is how many times one check is sent: at 0, RTO, 3 RTO
	// and 7 RTO; it fails with no response by 15 RTO (7.5 s at the minimum
	// RTO of 500 ms).
	checkRequests = 4
	// DefaultCheckTimeout is how long a Checker waits for a pair that works
	// both ways before Failed reports true, unless CheckerConfig says
	// otherwise.
	DefaultCheckTimeout = 10 * time.Second
	// maxPairs bounds the pairs a Checker keeps, those learnt from peer
	// checks (peer reflexive) included.
	maxPairs = 32
	// maxSeenChecks bounds the authenticated checks from the peer whose
	// transaction ID and source a Checker remembers, to refuse a captured
	// check replayed from another address. The peer starts one transaction
	// per pair it checks (at most maxPairs of ours, plus triggered checks),
	// so this covers a whole check phase several times over.
	maxSeenChecks = 128
)

// Limits on ICE credentials (RFC 8839 section 5.4): ice-ufrag is 4 to 256
// ice-chars and ice-pwd 22 to 256.
const (
	minUfragLen = 4
	minPwdLen   = 22
	maxCredLen  = 256
)

// CheckerConfig is what a Checker needs from both sides' session
// descriptions.
type CheckerConfig struct {
	LocalUfrag, LocalPwd   string // ours, as sent in a=ice-ufrag and a=ice-pwd
	RemoteUfrag, RemotePwd string // the peer's
	// Controlling is true for the controlling agent: the offerer (RFC 8445
	// section 6.1.1). It only orders the pairs; a role conflict is resolved
	// as RFC 8445 section 7.3.1.1 says.
	Controlling bool
	Local       []Candidate // ours: host and srflx candidates of the media socket
	Remote      []Candidate // the peer's; non-UDP and other components are ignored
	// Timeout is how long Failed waits for a pair that works both ways;
	// zero means DefaultCheckTimeout.
	Timeout time.Duration
	// Hold keeps our own checks back until the peer's first authenticated
	// check arrives, or Hold has passed: for the answerer, which primed
	// its NAT before answering (Prime), so that its checks do not reach
	// the peer's NAT before the peer's first check has left it. Zero
	// holds nothing. Checks are answered meanwhile.
	Hold time.Duration
}

// NewCredentials returns a fresh ICE username fragment (8 ice-chars, 48
// random bits) and password (24 ice-chars, 144 random bits), above the
// minimum randomness of RFC 8445 section 5.3.
func NewCredentials() (ufrag, pwd string) {
	return randomIceChars(8), randomIceChars(24)
}

// iceChars is the ice-char alphabet (RFC 8839 section 5.1); 64 symbols, so
// a random byte's low 6 bits pick one without bias.
const iceChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

func randomIceChars(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	for i := range b {
		b[i] = iceChars[b[i]&63]
	}
	return string(b)
}

type pairState uint8

const (
	pairFrozen pairState = iota
	pairWaiting
	pairInProgress
	pairSucceeded
	pairFailed
)

// transaction is one connectivity check: a binding request sent up to
// checkRequests times.
type transaction struct {
	id          [stun.TransactionIDSize]byte
	raw         []byte
	rto         time.Duration
	sent        int
	due         time.Duration // next retransmission, or giving up once all are sent
	controlling bool          // the role the request claimed
	live        bool          // a response to id is still accepted
	cancelled   bool          // superseded by a triggered check: no retransmissions
}

// giveUp is when t stops waiting for a response: after its last
// retransmission's wait, counted from the current due time.
func (t *transaction) giveUp() time.Duration {
	at := t.due
	for n := t.sent; n < checkRequests; n++ {
		at += t.rto << n
	}
	return at
}

// pair is a candidate pair (RFC 8445 section 6.1.2); identified by its
// remote address, since checks all leave from one socket.
type pair struct {
	local, remote Candidate
	priority      uint64
	foundation    string
	state         pairState
	cur, old      transaction
	checks        int    // transactions started
	requestSeen   bool   // an authenticated check from the peer arrived from remote.Addr
	queued        bool   // in the triggered-check queue
	failure       string // why the pair failed, for Tried
}

// Checker runs RFC 8445 connectivity checks for one data stream with one
// component (RTP with RTCP multiplexed) over one UDP socket, as a clockless
// state machine: the caller passes the time, sends what Next returns, feeds
// every STUN datagram from the socket to Handle and sends its reply. See the
// package documentation for how pairs are formed and selected.
//
// A Checker is not safe for concurrent use. The reply Handle returns is
// valid until the next Handle; the checks Next returns stay valid.
type Checker struct {
	localUfrag, remoteUfrag string
	localKey, remoteKey     stun.MessageIntegrity // short-term keys: the passwords
	controlling             bool
	tiebreaker              uint64
	timeout                 time.Duration
	hold                    time.Duration
	peerHeard               bool // an authenticated check from the peer arrived

	locals    []Candidate // usable local bases, best first
	pairs     []*pair     // by priority, highest first
	triggered []*pair     // triggered-check queue, FIFO

	started  bool
	start    time.Duration
	sentAny  bool
	lastSent time.Duration
	selected *pair

	raw     []byte       // copy of the datagram being handled: integrity checks write into it
	in, out stun.Message // decoded datagram, reply being built

	seen     [maxSeenChecks]seenCheck // authenticated checks from the peer, a ring
	seenNext int                      // where the next one goes in seen
}

// seenCheck is an authenticated check from the peer: its transaction ID and
// the address it came from.
type seenCheck struct {
	id   [stun.TransactionIDSize]byte
	from netip.AddrPort
}

// NewChecker checks cfg and forms the candidate pairs. It fails when the
// credentials are malformed, or no remote candidate is a UDP address of a
// family we have a local candidate for.
func NewChecker(cfg CheckerConfig) (*Checker, error) {
	for _, cred := range []struct {
		name, value string
		min         int
	}{
		{"local ufrag", cfg.LocalUfrag, minUfragLen},
		{"local password", cfg.LocalPwd, minPwdLen},
		{"remote ufrag", cfg.RemoteUfrag, minUfragLen},
		{"remote password", cfg.RemotePwd, minPwdLen},
	} {
		if err := checkCredential(cred.value, cred.min); err != nil {
			return nil, fmt.Errorf("nat: %s: %w", cred.name, err)
		}
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = DefaultCheckTimeout
	}
	var tb [8]byte
	_, _ = rand.Read(tb[:]) // never fails (crypto/rand)
	c := &Checker{
		localUfrag:  cfg.LocalUfrag,
		remoteUfrag: cfg.RemoteUfrag,
		localKey:    stun.NewShortTermIntegrity(cfg.LocalPwd),
		remoteKey:   stun.NewShortTermIntegrity(cfg.RemotePwd),
		controlling: cfg.Controlling,
		tiebreaker:  binary.BigEndian.Uint64(tb[:]),
		timeout:     timeout,
		hold:        max(cfg.Hold, 0),
		raw:         make([]byte, 0, maxMessageSize+64),
		in:          stun.Message{Attributes: make([]stun.RawAttribute, 0, maxAttributes)},
		out:         stun.Message{Raw: make([]byte, 0, 256), Attributes: make([]stun.RawAttribute, 0, 8)},
	}
	stun.WithStrict(true)(&c.in)
	if err := c.form(cfg.Local, cfg.Remote); err != nil {
		return nil, err
	}
	return c, nil
}

// form makes the pairs from local and remote candidates, in their initial
// states. On error the Checker is left as it was.
func (c *Checker) form(local, remote []Candidate) error {
	locals := localBases(local)
	if len(locals) == 0 {
		return errors.New("nat: no usable local candidate (UDP, component 1, valid address and port)")
	}
	old := c.locals
	c.locals = locals // newPair pairs with these
	var pairs []*pair
	for _, r := range remote {
		if len(pairs) == maxPairs {
			break
		}
		r.Addr = netip.AddrPortFrom(r.Addr.Addr().Unmap(), r.Addr.Port())
		if r.Transport != TransportUDP || r.Component != 1 || !validPeer(r.Addr) || r.Addr.Addr().Zone() != "" {
			continue
		}
		if i := slices.IndexFunc(pairs, func(p *pair) bool { return p.remote.Addr == r.Addr }); i >= 0 {
			if r.Priority > pairs[i].remote.Priority {
				pairs[i].remote = r
			}
			continue
		}
		if p := c.newPair(r); p != nil {
			pairs = append(pairs, p)
		}
	}
	if len(pairs) == 0 {
		c.locals = old
		return fmt.Errorf("nat: none of the %d remote candidates is a UDP address we can reach from our local candidates", len(remote))
	}
	c.pairs = pairs
	c.reprioritise()
	// Initial states (RFC 8445 section 6.1.2.6): per foundation, the
	// highest-priority pair waits and the others stay frozen.
	for _, p := range c.pairs {
		if !slices.ContainsFunc(c.pairs, func(q *pair) bool { return q.foundation == p.foundation && q.state == pairWaiting }) {
			p.state = pairWaiting
		}
	}
	return nil
}

// Restart checks again from the start with new candidate lists, as a call
// does when its path stops carrying anything (a NAT dropped or changed a
// mapping) and both sides have exchanged fresh candidates. It is RFC 8445
// section 9's ICE restart except that the credentials stay: the role and
// its tiebreaker, and the record of checks seen from the peer, carry over.
// The pairs are formed afresh, Selected reports nothing until one works
// both ways again, Failed counts the timeout from now, and responses to
// checks sent before are ignored. On error (no pair can be formed) the
// Checker is left as it was.
func (c *Checker) Restart(local, remote []Candidate, now time.Duration) error {
	if err := c.form(local, remote); err != nil {
		return err
	}
	c.triggered = c.triggered[:0]
	c.started, c.start = true, now
	c.sentAny = false
	c.selected = nil
	return nil
}

// Awaits reports whether pkt is a STUN response with the transaction ID of
// a check still waiting for its answer. It does not authenticate (Handle
// does): it tells the caller that a datagram from an address the media
// does not come from is an answer to its own check, not a stranger's.
func (c *Checker) Awaits(pkt []byte) bool {
	// A response class has the C1 bit, the type's 0x0100, set (RFC 8489
	// section 5).
	if !IsSTUN(pkt) || pkt[0]&0x01 == 0 {
		return false
	}
	id := [stun.TransactionIDSize]byte(pkt[8:headerSize])
	for _, p := range c.pairs {
		if p.cur.live && p.cur.id == id || p.old.live && p.old.id == id {
			return true
		}
	}
	return false
}

func checkCredential(s string, minLen int) error {
	if len(s) < minLen || len(s) > maxCredLen {
		return fmt.Errorf("length %d is not %d to %d", len(s), minLen, maxCredLen)
	}
	if strings.IndexFunc(s, func(r rune) bool { return !isIceChar(r) }) >= 0 {
		return errors.New("not all ice-chars (letters, digits, '+', '/')")
	}
	return nil
}

// localBases reduces our candidates to the bases checks leave from: host
// candidates as they are, a server-reflexive one replaced by its base (RFC
// 8445 section 6.1.2.4), duplicates dropped, best first.
func localBases(cands []Candidate) []Candidate {
	var bases []Candidate
	for _, l := range cands {
		if l.Transport != TransportUDP || l.Component != 1 {
			continue
		}
		if l.Type != TypeHost {
			if !l.RelAddr.IsValid() {
				continue
			}
			base := l.RelAddr
			if i := slices.IndexFunc(cands, func(h Candidate) bool { return h.Type == TypeHost && h.Addr == base }); i >= 0 {
				l = cands[i]
			} else {
				l = HostCandidate(base, localPreference(l.Priority))
			}
		}
		l.Addr = netip.AddrPortFrom(l.Addr.Addr().Unmap(), l.Addr.Port())
		if l.Addr.Port() == 0 || !l.Addr.Addr().IsValid() || l.Addr.Addr().IsMulticast() ||
			slices.ContainsFunc(bases, func(b Candidate) bool { return b.Addr == l.Addr }) {
			continue
		}
		bases = append(bases, l)
	}
	slices.SortStableFunc(bases, func(a, b Candidate) int {
		switch {
		case a.Priority > b.Priority:
			return -1
		case a.Priority < b.Priority:
			return 1
		}
		return 0
	})
	return bases
}

// newPair pairs remote with our best base of its address family, or returns
// nil if there is none.
func (c *Checker) newPair(remote Candidate) *pair {
	i := slices.IndexFunc(c.locals, func(l Candidate) bool { return l.Addr.Addr().Is4() == remote.Addr.Addr().Is4() })
	if i < 0 {
		return nil
	}
	return &pair{
		local:      c.locals[i],
		remote:     remote,
		foundation: c.locals[i].Foundation + ":" + remote.Foundation,
	}
}

// pairPriority is RFC 8445 section 6.1.2.3: 2^32*MIN(G,D) + 2*MAX(G,D) +
// (G>D?1:0), G the controlling agent's candidate priority, D the controlled's.
func pairPriority(controlling bool, local, remote uint32) uint64 {
	g, d := uint64(remote), uint64(local)
	if controlling {
		g, d = d, g
	}
	p := min(g, d)<<32 + 2*max(g, d)
	if g > d {
		p++
	}
	return p
}

// reprioritise recomputes pair priorities for the current role and sorts.
func (c *Checker) reprioritise() {
	for _, p := range c.pairs {
		p.priority = pairPriority(c.controlling, p.local.Priority, p.remote.Priority)
	}
	slices.SortStableFunc(c.pairs, func(a, b *pair) int {
		switch {
		case a.priority > b.priority:
			return -1
		case a.priority < b.priority:
			return 1
		}
		return 0
	})
}

// begin starts the clock on the first call that tells the time.
func (c *Checker) begin(now time.Duration) {
	if !c.started {
		c.started, c.start = true, now
	}
}

// expire ends transactions whose time is up; an in-progress pair whose check
// got no response fails.
func (c *Checker) expire(now time.Duration) {
	for _, p := range c.pairs {
		if p.old.live && now >= p.old.due {
			p.old.live = false
		}
		t := &p.cur
		if !t.live || t.cancelled || t.sent < checkRequests || now < t.due {
			continue
		}
		t.live = false
		if p.state == pairInProgress {
			p.state = pairFailed
			p.failure = fmt.Sprintf("no response to %d requests", t.sent)
		}
	}
}

// Next returns the next connectivity check to send, to address to, if one
// is due at now: a retransmission first, then a triggered check, then the
// highest-priority waiting pair, then a frozen pair whose foundation has
// nothing waiting or in progress. Checks leave at most one every 50 ms (Ta);
// the caller should call Next at least that often (a 20 ms media tick will
// do). Once a pair is selected Next returns nothing more; replies to the
// peer's checks still come from Handle. With CheckerConfig.Hold, Next
// returns nothing until the peer's first check or the end of the hold.
func (c *Checker) Next(now time.Duration) (to netip.AddrPort, req []byte, ok bool) {
	c.begin(now)
	c.expire(now)
	if c.selected != nil || (c.sentAny && now-c.lastSent < pacing) || (!c.peerHeard && now-c.start < c.hold) {
		return netip.AddrPort{}, nil, false
	}
	if p := c.dueRetransmission(now); p != nil {
		t := &p.cur
		t.sent++
		if t.sent < checkRequests {
			t.due = now + t.rto<<(t.sent-1)
		} else {
			t.due = now + t.rto<<(checkRequests-1) // the last wait before giving up
		}
		return c.sent(now, p)
	}
	if p := c.nextCheck(); p != nil {
		c.startCheck(p, now)
		return c.sent(now, p)
	}
	return netip.AddrPort{}, nil, false
}

func (c *Checker) sent(now time.Duration, p *pair) (netip.AddrPort, []byte, bool) {
	c.sentAny, c.lastSent = true, now
	return p.remote.Addr, p.cur.raw, true
}

// dueRetransmission returns the in-progress pair whose retransmission is
// most overdue, if any.
func (c *Checker) dueRetransmission(now time.Duration) *pair {
	var due *pair
	for _, p := range c.pairs {
		t := &p.cur
		if p.state != pairInProgress || !t.live || t.cancelled || t.sent >= checkRequests || now < t.due {
			continue
		}
		if due == nil || t.due < due.cur.due {
			due = p
		}
	}
	return due
}

// nextCheck picks the pair to check next (RFC 8445 sections 6.1.4.2 and
// 7.2.5.3.3) and takes it off the triggered queue.
func (c *Checker) nextCheck() *pair {
	for len(c.triggered) > 0 {
		p := c.triggered[0]
		c.triggered = c.triggered[1:]
		p.queued = false
		if p.state == pairWaiting {
			return p
		}
	}
	for _, p := range c.pairs {
		if p.state == pairWaiting {
			return p
		}
	}
	for _, p := range c.pairs {
		if p.state == pairFrozen && !slices.ContainsFunc(c.pairs, func(q *pair) bool {
			return q.foundation == p.foundation && (q.state == pairWaiting || q.state == pairInProgress)
		}) {
			return p
		}
	}
	return nil
}

// startCheck begins a new transaction on p. Its RTO is RFC 8445 section
// 14.3's: the larger of 500 ms and Ta times the pairs waiting or in progress.
func (c *Checker) startCheck(p *pair, now time.Duration) {
	active := 0
	for _, q := range c.pairs {
		if q.state == pairWaiting || q.state == pairInProgress {
			active++
		}
	}
	rto := max(initialRTO, time.Duration(active)*pacing)
	id := stun.NewTransactionID()
	p.cur = transaction{
		id:          id,
		raw:         c.buildRequest(p.local, id),
		rto:         rto,
		sent:        1,
		due:         now + rto,
		controlling: c.controlling,
		live:        true,
	}
	p.state = pairInProgress
	p.checks++
}

// buildRequest builds a connectivity check leaving from local (RFC 8445
// section 7.2.2): USERNAME "remote:local", PRIORITY of the peer-reflexive
// candidate it may reveal, our role with the tiebreaker, MESSAGE-INTEGRITY
// keyed with the peer's password, FINGERPRINT.
func (c *Checker) buildRequest(local Candidate, id [stun.TransactionIDSize]byte) []byte {
	var prio [4]byte
	binary.BigEndian.PutUint32(prio[:], Priority(TypePrflx, localPreference(local.Priority), local.Component))
	m := stun.New()
	startMessage(m, stun.BindingRequest, id)
	m.Add(stun.AttrUsername, []byte(c.remoteUfrag+":"+c.localUfrag))
	m.Add(stun.AttrPriority, prio[:])
	c.addRole(m)
	_ = c.remoteKey.AddTo(m)      // fails only if FINGERPRINT came first
	_ = stun.Fingerprint.AddTo(m) // never fails
	return m.Raw
}

// addRole adds ICE-CONTROLLING or ICE-CONTROLLED with our tiebreaker.
func (c *Checker) addRole(m *stun.Message) {
	var tb [8]byte
	binary.BigEndian.PutUint64(tb[:], c.tiebreaker)
	if c.controlling {
		m.Add(stun.AttrICEControlling, tb[:])
	} else {
		m.Add(stun.AttrICEControlled, tb[:])
	}
}

// Handle processes one STUN datagram pkt that arrived from from at now.
// For a connectivity check from the peer it returns the reply to send to
// replyTo: a success response with XOR-MAPPED-ADDRESS when USERNAME is
// "ourufrag:peerufrag" and MESSAGE-INTEGRITY verifies with our password,
// else an error response (400, 401, 420, or 487 on a role conflict). A
// successful check also marks its pair as checked by the peer and queues a
// triggered check back (RFC 8445 section 7.3.1.4); an address we have no
// pair for becomes a peer-reflexive candidate. A response to one of our
// checks moves its pair on and returns no reply. Everything else (non-STUN,
// no valid FINGERPRINT, indications such as keepalives, responses to no
// check of ours) is dropped, ok false. Handle never panics on bad input.
func (c *Checker) Handle(pkt []byte, from netip.AddrPort, now time.Duration) (reply []byte, replyTo netip.AddrPort, ok bool) {
	c.begin(now)
	c.expire(now)
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if !validPeer(from) || !c.decode(pkt) {
		return nil, netip.AddrPort{}, false
	}
	switch c.in.Type.Class {
	case stun.ClassRequest:
		reply = c.handleRequest(from)
		return reply, from, reply != nil
	case stun.ClassSuccessResponse, stun.ClassErrorResponse:
		c.handleResponse(from)
	}
	return nil, netip.AddrPort{}, false
}

// decode copies pkt (integrity checks write into the buffer) and decodes it
// into c.in; it accepts only STUN with a valid FINGERPRINT last, which every
// ICE message carries.
func (c *Checker) decode(pkt []byte) bool {
	if !IsSTUN(pkt) || len(pkt) > maxMessageSize {
		return false
	}
	c.raw = append(c.raw[:0], pkt...)
	return decode(&c.in, c.raw) == nil && checkFingerprint(&c.in) == nil
}

// authentic reports whether c.in carries USERNAME "ourufrag:peerufrag" and a
// MESSAGE-INTEGRITY that verifies with our password. missing is true when
// either attribute is absent (a 400 rather than a 401).
func (c *Checker) authentic() (ok, missing bool) {
	user, err := c.in.Get(stun.AttrUsername)
	if err != nil || !c.in.Contains(stun.AttrMessageIntegrity) {
		return false, true
	}
	want := len(c.localUfrag) + 1 + len(c.remoteUfrag)
	if len(user) != want || string(user[:len(c.localUfrag)]) != c.localUfrag ||
		user[len(c.localUfrag)] != ':' || string(user[len(c.localUfrag)+1:]) != c.remoteUfrag {
		return false, false
	}
	return c.localKey.Check(&c.in) == nil, false
}

// handleRequest answers the request in c.in (RFC 8445 section 7.3, RFC 8489
// sections 6.3 and 9.1.3) and updates the pair state.
func (c *Checker) handleRequest(from netip.AddrPort) []byte {
	req := &c.in
	if req.Type.Method != stun.MethodBinding {
		return c.errorReply(stun.CodeBadRequest, false, nil)
	}
	if ok, missing := c.authentic(); !ok {
		if missing {
			return c.errorReply(stun.CodeBadRequest, false, nil)
		}
		return c.errorReply(stun.CodeUnauthorized, false, nil)
	}
	if c.replayed(req.TransactionID, from) {
		// A copy of a check that came from elsewhere: not the peer's
		// path. No answer, and it neither forms a pair nor counts.
		return nil
	}
	var unknownBuf [maxUnknownListed]stun.AttrType
	if unknown := unknownRequired(unknownBuf[:0], req); len(unknown) > 0 {
		return c.errorReply(stun.CodeUnknownAttribute, true, unknown)
	}
	prio, err := req.Get(stun.AttrPriority)
	if err != nil || len(prio) != 4 || binary.BigEndian.Uint32(prio) == 0 {
		return c.errorReply(stun.CodeBadRequest, true, nil)
	}
	if conflict, bad := c.roleConflict(); bad {
		return c.errorReply(stun.CodeBadRequest, true, nil)
	} else if conflict {
		return c.errorReply(stun.CodeRoleConflict, true, nil)
	}

	c.peerChecked(from, binary.BigEndian.Uint32(prio))

	out := &c.out
	var ip [16]byte
	mapped := xorAddress(&ip, from)
	startMessage(out, stun.BindingSuccess, req.TransactionID)
	if mapped.AddTo(out) != nil || c.localKey.AddTo(out) != nil || stun.Fingerprint.AddTo(out) != nil {
		return nil
	}
	return out.Raw
}

// roleConflict applies RFC 8445 section 7.3.1.1 to the request in c.in: it
// switches our role when we lose the tiebreak, and reports a conflict to
// answer with 487 when we win it. bad is true for a malformed role
// attribute.
func (c *Checker) roleConflict() (conflict, bad bool) {
	attr := stun.AttrICEControlled
	if c.controlling {
		attr = stun.AttrICEControlling
	}
	v, err := c.in.Get(attr)
	if err != nil {
		return false, false // the peer claims the other role, or none
	}
	if len(v) != 8 {
		return false, true
	}
	theirs := binary.BigEndian.Uint64(v)
	if c.controlling == (c.tiebreaker >= theirs) {
		// Controlling and winning, or controlled and losing: we keep our
		// role and the peer must switch.
		return true, false
	}
	c.switchRole()
	return false, false
}

func (c *Checker) switchRole() {
	c.controlling = !c.controlling
	c.reprioritise()
}

// peerChecked records an authenticated check from the peer that came from
// from, and queues the triggered check back.
func (c *Checker) peerChecked(from netip.AddrPort, priority uint32) {
	c.peerHeard = true
	i := slices.IndexFunc(c.pairs, func(p *pair) bool { return p.remote.Addr == from })
	var p *pair
	if i >= 0 {
		p = c.pairs[i]
	} else {
		if len(c.pairs) == maxPairs {
			return
		}
		p = c.newPair(Candidate{
			Foundation: foundation(TypePrflx, from.Addr(), netip.Addr{}, TransportUDP),
			Component:  1,
			Transport:  TransportUDP,
			Priority:   priority,
			Addr:       from,
			Type:       TypePrflx,
		})
		if p == nil {
			return // no local candidate of that family
		}
		c.pairs = append(c.pairs, p)
		c.reprioritise()
	}
	p.requestSeen = true
	switch p.state {
	case pairSucceeded:
		c.maybeSelect(p)
		return
	case pairInProgress:
		// RFC 8445 section 7.3.1.4: cancel and check again at once; a late
		// response to the old request still counts.
		p.old = p.cur
		p.old.cancelled = true
		p.old.due = p.cur.giveUp()
		p.cur.live = false
	}
	p.state = pairWaiting
	if !p.queued {
		p.queued = true
		c.triggered = append(c.triggered, p)
	}
}

// handleResponse processes the response in c.in to one of our checks.
func (c *Checker) handleResponse(from netip.AddrPort) {
	resp := &c.in
	var p *pair
	var t *transaction
	for _, q := range c.pairs {
		switch {
		case q.cur.live && q.cur.id == resp.TransactionID:
			p, t = q, &q.cur
		case q.old.live && q.old.id == resp.TransactionID:
			p, t = q, &q.old
		}
		if p != nil {
			break
		}
	}
	if p == nil || resp.Type.Method != stun.MethodBinding {
		return
	}
	hasIntegrity := resp.Contains(stun.AttrMessageIntegrity)
	if hasIntegrity && c.remoteKey.Check(resp) != nil {
		return // forged or corrupted: not from the peer
	}
	if resp.Type.Class == stun.ClassErrorResponse {
		var code stun.ErrorCodeAttribute
		if code.GetFrom(resp) != nil {
			return
		}
		if code.Code == stun.CodeRoleConflict {
			if !hasIntegrity {
				return
			}
			// RFC 8445 section 7.2.5.1: switch role if the request still
			// claimed the current one, and check again.
			t.live = false
			if t.controlling == c.controlling {
				c.switchRole()
			}
			if p.state != pairSucceeded {
				p.state = pairWaiting
				if !p.queued {
					p.queued = true
					c.triggered = append(c.triggered, p)
				}
			}
			return
		}
		t.live = false
		if p.state != pairSucceeded {
			p.state = pairFailed
			p.failure = fmt.Sprintf("error response %d %s", code.Code, printable(string(code.Reason)))
		}
		return
	}
	if !hasIntegrity {
		return
	}
	t.live = false
	if from != p.remote.Addr {
		// Not symmetric (RFC 8445 section 7.2.5.2.1): the path does not work.
		if p.state != pairSucceeded {
			p.state = pairFailed
			p.failure = "response came from " + from.String()
		}
		return
	}
	p.state = pairSucceeded
	p.old.live, p.cur.live = false, false
	// RFC 8445 section 7.2.5.3.3: unfreeze pairs of the same foundation.
	for _, q := range c.pairs {
		if q.state == pairFrozen && q.foundation == p.foundation {
			q.state = pairWaiting
		}
	}
	c.maybeSelect(p)
}

// maybeSelect selects p if it is the first pair to work both ways.
func (c *Checker) maybeSelect(p *pair) {
	if c.selected == nil && p.state == pairSucceeded && p.requestSeen {
		c.selected = p
	}
}

// errorReply builds an error response to c.in, with MESSAGE-INTEGRITY when
// the request was authenticated.
func (c *Checker) errorReply(code stun.ErrorCode, withIntegrity bool, unknown stun.UnknownAttributes) []byte {
	out := &c.out
	startMessage(out, stun.NewType(c.in.Type.Method, stun.ClassErrorResponse), c.in.TransactionID)
	err := code.AddTo(out)
	if err == nil && len(unknown) > 0 {
		err = unknown.AddTo(out)
	}
	if err == nil && withIntegrity {
		err = c.localKey.AddTo(out)
	}
	if err == nil {
		err = stun.Fingerprint.AddTo(out)
	}
	if err != nil {
		return nil
	}
	return out.Raw
}

// Selected returns the remote address of the first pair that worked both
// ways, once there is one. It does not change afterwards.
func (c *Checker) Selected() (netip.AddrPort, bool) {
	if c.selected == nil {
		return netip.AddrPort{}, false
	}
	return c.selected.remote.Addr, true
}

// Failed reports whether the timeout has passed since the first call that
// told the Checker the time with no pair selected. Checks and replies go on
// regardless; the caller decides to give up.
func (c *Checker) Failed(now time.Duration) bool {
	c.begin(now)
	return c.selected == nil && now-c.start >= c.timeout
}

// Tried describes each pair, highest priority first, and what became of it,
// for an error message when the checks fail.
func (c *Checker) Tried() []string {
	out := make([]string, 0, len(c.pairs))
	for _, p := range c.pairs {
		var status string
		switch {
		case p == c.selected:
			status = "works both ways (selected)"
		case p.state == pairSucceeded && p.requestSeen:
			status = "works both ways"
		case p.state == pairSucceeded:
			status = "our check was answered; no check from the peer arrived"
		case p.state == pairFailed:
			status = p.failure
		case p.state == pairInProgress:
			status = fmt.Sprintf("checking, %d requests sent", p.cur.sent)
		case p.checks > 0:
			status = "about to check again"
		default:
			status = "not checked"
		}
		if p.requestSeen && p.state != pairSucceeded {
			status += "; the peer's check arrived"
		}
		out = append(out, fmt.Sprintf("%s %v -> %s %v: %s", p.local.Type, p.local.Addr, p.remote.Type, p.remote.Addr, status))
	}
	return out
}

// Verify reports whether pkt, which came from from, is an authentic
// connectivity check from the peer: a binding request with a valid
// FINGERPRINT, USERNAME "ourufrag:peerufrag" and MESSAGE-INTEGRITY under our
// password, whose transaction ID has not been seen from another address. A
// peer whose address changed (a NAT rebinding) proves itself this way;
// media may then follow it to from. The only state Verify changes is the
// record of recent checks (the last 128 transaction IDs with their source)
// that makes a captured check useless when replayed from elsewhere; the
// request still needs Handle for its reply.
func (c *Checker) Verify(pkt []byte, from netip.AddrPort) bool {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if !validPeer(from) || !c.decode(pkt) || c.in.Type != stun.BindingRequest {
		return false
	}
	if ok, _ := c.authentic(); !ok {
		return false
	}
	return !c.replayed(c.in.TransactionID, from)
}

// replayed records an authenticated check with transaction ID id from from
// and reports whether that ID was already seen from another address. A
// retransmission from the same address is no replay. The record is a ring
// of the last maxSeenChecks IDs; only authenticated checks enter it, so only
// the peer can push an ID out.
func (c *Checker) replayed(id [stun.TransactionIDSize]byte, from netip.AddrPort) bool {
	for i := range c.seen {
		s := &c.seen[i]
		if s.from.IsValid() && s.id == id {
			return s.from != from
		}
	}
	c.seen[c.seenNext] = seenCheck{id: id, from: from}
	c.seenNext = (c.seenNext + 1) % maxSeenChecks
	return false
}
