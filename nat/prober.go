package nat

import (
	"net/netip"
	"slices"
	"time"

	"github.com/pion/stun/v3"
)

// Limits on probing addresses the peer's media comes from.
const (
	// ProbeInterval is the least time between two probes to one address,
	// the RTO of RFC 8445 section 14.3's minimum.
	ProbeInterval = initialRTO
	// ProbeTries is how many probes go to one address before the Prober
	// gives up on it: unanswered, an address is abandoned ProbeInterval
	// after the last, 2 s after the first.
	ProbeTries = 4
	// probeTargets bounds the addresses probed at once.
	probeTargets = 4
	// probeRetryAfter is how long an abandoned address is left alone before
	// it may be probed again.
	probeRetryAfter = 30 * time.Second
)

// Prober checks, during a call, addresses the peer's media arrives from
// that are not the one the call sends to: after a NAT rebinding the peer
// keeps talking, but from a new address. It sends each such address an
// authenticated connectivity check, as the Checker it came from builds them
// (USERNAME "peerufrag:ourufrag", MESSAGE-INTEGRITY keyed with the peer's
// password, FINGERPRINT), and reports an authenticated success response
// from exactly that address: the peer is there and got our request, so
// media may follow it. This is RFC 7675's consent for a new address, with
// the retransmission pacing of RFC 8445 section 14.3. An address anyone can
// spoof or send from is never followed on media alone.
//
// Probing is bounded: at most one probe per ProbeInterval to an address,
// ProbeTries per address, four addresses at a time, so never more than four
// probes per ProbeInterval in all. An address given up on is probed again
// after 30 s, or sooner if a newcomer took its place meanwhile (an address
// still being probed is never pushed out).
//
// A Prober is clockless (the caller passes the time) and not safe for
// concurrent use, nor for use concurrently with its Checker, whose
// credentials and current role it uses.
type Prober struct {
	checker *Checker
	targets [probeTargets]probeTarget
	raw     []byte       // copy of the datagram being checked: integrity checks write into it
	in      stun.Message // decoded datagram
}

// probeTarget is one address being probed.
type probeTarget struct {
	addr        netip.AddrPort // zero for a free slot
	ids         [ProbeTries][stun.TransactionIDSize]byte
	controlling [ProbeTries]bool // the role each probe claimed
	sent        int
	last        time.Duration // when the last probe left
	refused     bool          // an authenticated error response came back
}

// done reports whether t has nothing more to send: it was refused, or its
// tries are spent and the last one's wait is over.
func (t *probeTarget) done(now time.Duration) bool {
	return t.refused || t.sent >= ProbeTries && now-t.last >= ProbeInterval
}

// abandoned is when t was given up on, once done.
func (t *probeTarget) abandoned() time.Duration {
	if t.refused {
		return t.last // set to the time of the refusal
	}
	return t.last + ProbeInterval
}

// NewProber returns a Prober that checks new peer addresses with c's
// credentials and role.
func (c *Checker) NewProber() *Prober {
	p := &Prober{
		checker: c,
		raw:     make([]byte, 0, maxMessageSize),
		in:      stun.Message{Attributes: make([]stun.RawAttribute, 0, maxAttributes)},
	}
	stun.WithStrict(true)(&p.in)
	return p
}

// Probe returns the check to send to to at now, when one is due: the first
// time media comes from to, then at most every ProbeInterval while it keeps
// coming, up to ProbeTries times. It returns false when to was just probed,
// was given up on, is no usable peer address, or when four other addresses
// are still being probed. The returned request stays valid.
func (p *Prober) Probe(to netip.AddrPort, now time.Duration) (req []byte, ok bool) {
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	if !validPeer(to) || to.Addr().Zone() != "" {
		return nil, false
	}
	local, ok := p.localFor(to)
	if !ok {
		return nil, false
	}
	t := p.target(to)
	switch {
	case t == nil:
		if t = p.freeSlot(now); t == nil {
			return nil, false
		}
		*t = probeTarget{addr: to}
	case t.done(now):
		if now-t.abandoned() < probeRetryAfter {
			return nil, false
		}
		*t = probeTarget{addr: to}
	case t.sent >= ProbeTries || now-t.last < ProbeInterval:
		return nil, false
	}
	id := stun.NewTransactionID()
	t.ids[t.sent] = id
	t.controlling[t.sent] = p.checker.controlling
	t.sent++
	t.last = now
	return p.checker.buildRequest(local, id), true
}

// localFor picks the local base a check to to leaves from, as the Checker
// pairs it.
func (p *Prober) localFor(to netip.AddrPort) (Candidate, bool) {
	i := slices.IndexFunc(p.checker.locals, func(l Candidate) bool { return l.Addr.Addr().Is4() == to.Addr().Is4() })
	if i < 0 {
		return Candidate{}, false
	}
	return p.checker.locals[i], true
}

func (p *Prober) target(addr netip.AddrPort) *probeTarget {
	for i := range p.targets {
		if p.targets[i].addr == addr {
			return &p.targets[i]
		}
	}
	return nil
}

// freeSlot returns an empty slot, else the one whose probing ended longest
// ago, else nil: an address still being probed is never pushed out.
func (p *Prober) freeSlot(now time.Duration) *probeTarget {
	var oldest *probeTarget
	for i := range p.targets {
		t := &p.targets[i]
		if !t.addr.IsValid() {
			return t
		}
		if t.done(now) && (oldest == nil || t.last < oldest.last) {
			oldest = t
		}
	}
	return oldest
}

// Confirm reports whether pkt, which came from from at now, is an
// authenticated binding success response to one of our probes to exactly
// from: the transaction ID one sent there, MESSAGE-INTEGRITY keyed with the
// peer's password, FINGERPRINT. Then the address is forgotten (it is the
// peer's; the caller moves there). An authenticated error response ends
// the probing of from; a 487 role conflict first switches the Checker's
// role, as RFC 8445 section 7.2.5.1 says. Anything else, forged or
// unrelated, is ignored.
func (p *Prober) Confirm(pkt []byte, from netip.AddrPort, now time.Duration) bool {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	t := p.target(from)
	if t == nil || !from.IsValid() || !IsSTUN(pkt) || len(pkt) > maxMessageSize {
		return false
	}
	p.raw = append(p.raw[:0], pkt...)
	m := &p.in
	if decode(m, p.raw) != nil || checkFingerprint(m) != nil || m.Type.Method != stun.MethodBinding {
		return false
	}
	try := slices.Index(t.ids[:t.sent], m.TransactionID)
	if try < 0 || !m.Contains(stun.AttrMessageIntegrity) || p.checker.remoteKey.Check(m) != nil {
		return false
	}
	switch m.Type.Class {
	case stun.ClassSuccessResponse:
		*t = probeTarget{}
		return true
	case stun.ClassErrorResponse:
		var code stun.ErrorCodeAttribute
		if code.GetFrom(m) != nil {
			return false
		}
		if code.Code == stun.CodeRoleConflict {
			if t.controlling[try] == p.checker.controlling {
				p.checker.switchRole()
			}
			return false // the next probe claims the other role
		}
		t.refused = true
		t.last = now
	}
	return false
}
