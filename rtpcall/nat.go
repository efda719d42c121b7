package rtpcall

import (
	"github.com/spurtvoip/spurt/media"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/pion/stun/v3"

	"github.com/spurtvoip/spurt/nat"
)

// DefaultKeepaliveInterval is how long the media may pause before Run sends
// a STUN binding indication on a path opened through NATs (RFC 8445 section
// 11's Tr), so that the NAT bindings survive silence.
const DefaultKeepaliveInterval = 15 * time.Second

// Stats "path" for a call whose remote address was given, not checked.
const pathDirect = "direct"

// DefaultRenewAfter is how long nothing may come from the peer before a
// call with a Renewal re-opens its path. It is above RTCP's longest report
// interval (1.5 times the 2.5 s mean), so that a peer in a pause between
// talk spurts, whose reports keep coming, does not set it off.
const DefaultRenewAfter = 5 * time.Second

// Renewal of a path's server-reflexive candidate: a STUN transaction of
// renewRequests requests (at 0, 500 ms and 1.5 s), then renewFinalWait for
// the answer, so at most 2.5 s before the fresh candidates go out.
const (
	renewRequests  = 3
	renewFinalWait = time.Second
)

// Renewal re-opens a call's path when nothing has come from the peer for a
// while, as after a NAT rebinding between two NATs that filter: the peer's
// NAT drops what now comes from our new mapping, ours what the peer sends
// to the old one, and neither side hears the other to follow it. Media
// alone cannot recover that; the signaling channel, still open, can.
//
// When nothing (RTP, RTCP) has been heard from the peer for After, Run
// asks STUN again for our server-reflexive address from the media socket,
// hands our fresh candidates to Send, restarts the connectivity checks
// (nat.Checker.Restart: the same credentials) with the peer's latest
// candidates, and takes those the peer sends through Peer as they come. It
// follows the pair the checks select, which worked both ways with
// authenticated checks (the rule for any new peer address). Media goes on
// to the old address meanwhile. Fresh candidates from the peer arriving
// while Run is not renewing start a renewal at once: the peer's re-offer
// gets our answer. A renewal that selects nothing within the check timeout
// is logged with the pairs tried; the next may start After later.
type Renewal struct {
	// After is the silence that starts a renewal; DefaultRenewAfter when
	// zero.
	After time.Duration
	// STUN is the server to ask for our server-reflexive address (the one
	// asked before the call); zero to offer the candidates we had.
	STUN netip.AddrPort
	// Send carries our fresh candidates to the peer: as a re-offer
	// (answer false), or as the answer to its re-offer. It is called on
	// the call's loop and must not block.
	Send func(cands []nat.Candidate, answer bool)
	// Peer delivers the peer's fresh candidates from the signaling
	// channel.
	Peer <-chan PeerCandidates
}

// PeerCandidates are the peer's fresh candidates: its re-offer (Offer
// true) or its answer to ours.
type PeerCandidates struct {
	Candidates []nat.Candidate
	Offer      bool
}

func (r *Renewal) after() time.Duration {
	if r.After > 0 {
		return r.After
	}
	return DefaultRenewAfter
}

// renewPhase is where a renewal stands.
type renewPhase uint8

const (
	renewIdle      renewPhase = iota
	renewGathering            // asking STUN for our address again
	renewChecking             // checks running with fresh candidates
)

// renewState is a call's renewal of its path (Renewal), kept on the
// OpenedPath.
type renewState struct {
	phase     renewPhase
	answer    bool          // this round answers the peer's re-offer
	begun     time.Duration // when this round began
	notBefore time.Duration // the next round starts no earlier
	rounds    uint64        // renewals begun
	checks    uint64        // checks they sent
	binding   *nat.Binding  // while gathering
	// mapped holds what each address answering a renewal check said ours
	// is, to name the new pair.
	mapped map[netip.AddrPort]netip.AddrPort
	resp   *stun.Message
}

// handleNAT is the call loop's receive hook on a path opened by OpenPath.
// Only the peer's current address is trusted with media. RTP or RTCP of the
// peer's stream from any other address is counted as rejected_source and
// dropped, but makes the call probe that address (nat.Prober): an
// authenticated answer from exactly there proves the peer moved (a NAT
// rebinding) and the call follows it. An authenticated check from a new
// address, not replayed from elsewhere (nat.Checker.Verify), proves it as
// well. Other STUN goes to the Checker, whose replies are sent. It reports
// whether d was consumed.
func (c *callLoop) handleNAT(d datagram) bool {
	path := c.cfg.NAT
	pkt := d.buf[:d.n]
	from := netip.AddrPortFrom(d.from.Addr().Unmap(), d.from.Port()) // a dual-stack socket maps IPv4
	if !nat.IsSTUN(pkt) {
		if from == c.cfg.Remote {
			return false
		}
		c.sess.RejectSource()
		if c.sess.FromPeerStream(pkt) {
			c.probe(from, d.arrival)
		}
		return true
	}
	rs := &path.renewal
	if rs.binding != nil && rs.binding.Handle(pkt, from) {
		return true // the STUN server's answer; gathered() reads it
	}
	// An answer to one of our checks, which Handle authenticates; during a
	// renewal it also says how the answering address sees us.
	awaited := path.Checker.Awaits(pkt)
	if awaited && rs.phase == renewChecking {
		if rs.resp == nil {
			rs.resp = new(stun.Message)
		}
		if addr, ok := mappedAddress(rs.resp, pkt); ok && len(rs.mapped) < 2*len(path.remote)+8 {
			rs.mapped[from] = addr
		}
	}
	if from != c.cfg.Remote {
		switch {
		case path.prober().Confirm(pkt, from, d.arrival):
			c.follow(from, "answered our check")
			return true
		case path.Checker.Verify(pkt, from):
			c.follow(from, "sent an authenticated check")
		case awaited:
		default:
			c.sess.RejectSource()
		}
	}
	if reply, to, ok := path.Checker.Handle(pkt, from, d.arrival); ok {
		if _, err := c.cfg.Conn.WriteTo(reply, net.UDPAddrFromAddrPort(to)); err != nil {
			c.log.Debug("answer to a check not sent", "to", to, "err", err)
		}
	}
	return true
}

// probe sends a check to from, where the peer's media came from, when the
// Prober has one due.
func (c *callLoop) probe(from netip.AddrPort, now time.Duration) {
	req, ok := c.cfg.NAT.prober().Probe(from, now)
	if !ok {
		return
	}
	c.cfg.NAT.probesSent++
	if _, err := c.cfg.Conn.WriteTo(req, net.UDPAddrFromAddrPort(from)); err != nil {
		c.log.Debug("check to a new peer address not sent", "to", from, "err", err)
	}
}

// follow moves the call's media to the peer's new address.
func (c *callLoop) follow(to netip.AddrPort, proof string) {
	c.log.Info("peer moved; following", "from", c.cfg.Remote, "to", to, "proof", proof)
	c.cfg.Remote = to
	c.remote = net.UDPAddrFromAddrPort(to)
	c.pathMoves++
}

// keepAlive keeps a path opened through NATs alive: it drives the
// renewal of a path the peer fell silent on, and sends a binding
// indication when no media has left for the keepalive interval (during
// silence; RTCP does not count, so the NAT binding never depends on the
// report interval alone).
func (c *callLoop) keepAlive(now time.Duration) {
	if c.cfg.NAT == nil {
		return
	}
	c.renew(now)
	if now < c.lastMediaSent+c.keepaliveInterval() {
		return
	}
	c.transmitNow(nat.Keepalive())
	c.keepalivesSent++
	c.lastMediaSent = now
}

func (c *callLoop) keepaliveInterval() time.Duration {
	if c.cfg.KeepaliveInterval > 0 {
		return c.cfg.KeepaliveInterval
	}
	return DefaultKeepaliveInterval
}

// pathStats fills the stats of how the path was opened.
func (c *callLoop) pathStats(st *media.Stats) {
	st.Path = pathDirect
	if p := c.cfg.NAT; p != nil {
		st.Path = p.Kind
		st.ChecksSent = p.ChecksSent + p.probesSent + p.renewal.checks
		st.RejectedSource += p.dropped
		c.log.Debug("path", "kind", st.Path, "keepalives_sent", c.keepalivesSent, "peer_moves_followed", c.pathMoves,
			"renewals", p.renewal.rounds)
	}
}

// sendTo sends a STUN message to an address other than the media's.
func (c *callLoop) sendTo(pkt []byte, to netip.AddrPort) {
	if _, err := c.cfg.Conn.WriteTo(pkt, net.UDPAddrFromAddrPort(to)); err != nil {
		c.log.Debug("STUN message not sent", "to", to, "err", err)
	}
}

// renew drives the path's Renewal, if it has one: it takes the peer's
// fresh candidates, starts a round when the peer has been silent too long,
// and moves the round on.
func (c *callLoop) renew(now time.Duration) {
	p := c.cfg.NAT
	r := p.Renewal
	if r == nil {
		return
	}
	rs := &p.renewal
	select {
	case u := <-r.Peer:
		c.peerCandidates(u, now)
	default:
	}
	switch rs.phase {
	case renewIdle:
		heard, ok := c.sess.LastHeard()
		if !ok {
			heard = 0 // nothing yet: silent since the call began
		}
		if now-heard >= r.after() && now >= rs.notBefore {
			c.log.Info("nothing from the peer; re-opening the path", "silent_for", (now - heard).Round(time.Millisecond),
				"remote", c.cfg.Remote)
			c.startRenewal(now, false)
		}
	case renewGathering:
		if req, ok := rs.binding.Next(now); ok {
			c.sendTo(req, rs.binding.Server())
		}
		if rs.binding.Done(now) {
			c.gathered(now)
		}
	case renewChecking:
		for range 8 { // at most one check leaves per Ta; the bound is a guard
			to, req, ok := p.Checker.Next(now)
			if !ok {
				break
			}
			rs.checks++
			c.sendTo(req, to)
		}
		if remote, ok := p.Checker.Selected(); ok {
			c.renewed(now, remote)
		} else if p.Checker.Failed(now) {
			c.log.Warn("re-opening the path failed; will try again if the peer stays silent",
				"took", (now - rs.begun).Round(time.Millisecond), "tried", strings.Join(p.Checker.Tried(), "; "))
			rs.phase, rs.notBefore = renewIdle, now+r.after()
		}
	}
}

// startRenewal begins a round: ask STUN for our address again, if there is
// a server, then send our candidates and check.
func (c *callLoop) startRenewal(now time.Duration, answer bool) {
	p := c.cfg.NAT
	rs := &p.renewal
	rs.rounds++
	rs.phase, rs.answer, rs.begun = renewGathering, answer, now
	rs.mapped = make(map[netip.AddrPort]netip.AddrPort)
	if stunServer := p.Renewal.STUN; stunServer.IsValid() {
		b, err := nat.NewBinding(stunServer, renewRequests, renewFinalWait)
		if err == nil {
			rs.binding = b
			return
		}
		c.log.Warn("cannot ask STUN for our address again", "err", err)
	}
	c.gathered(now)
}

// gathered ends a round's gathering: our candidates are the host ones and
// the server-reflexive one STUN just reported (or the last one, if it did
// not answer). They go to the peer, and the checks start.
func (c *callLoop) gathered(now time.Duration) {
	p := c.cfg.NAT
	rs := &p.renewal
	local := p.local // with no STUN server to ask, the candidates we had
	if rs.binding != nil {
		local = nil
		for _, l := range p.local {
			if l.Type == nat.TypeHost {
				local = append(local, l)
			}
		}
		mapped, err := rs.binding.Result()
		server := rs.binding.Server()
		rs.binding = nil
		switch {
		case err != nil:
			c.log.Warn("no fresh public address from STUN; offering the last ones", "err", err)
			local = p.local
		case len(local) > 0 && !slices.ContainsFunc(local, func(h nat.Candidate) bool { return h.Addr == mapped }):
			local = append(local, nat.ServerReflexive(srflxBase(p.local), mapped, server.Addr()))
			c.log.Info("public address", "srflx", mapped)
		}
	}
	if len(local) == 0 {
		local = p.local
	}
	p.local = local
	p.Renewal.Send(local, rs.answer)
	c.restartChecks(now)
}

// srflxBase is the host candidate our server-reflexive address maps: the
// base of the last one, else the best host candidate.
func srflxBase(local []nat.Candidate) nat.Candidate {
	for _, l := range local {
		if l.Type == nat.TypeSrflx && l.RelAddr.IsValid() {
			if i := slices.IndexFunc(local, func(h nat.Candidate) bool { return h.Type == nat.TypeHost && h.Addr == l.RelAddr }); i >= 0 {
				return local[i]
			}
		}
	}
	for _, l := range local {
		if l.Type == nat.TypeHost {
			return l
		}
	}
	return local[0]
}

// restartChecks checks again with both sides' latest candidates.
func (c *callLoop) restartChecks(now time.Duration) {
	p := c.cfg.NAT
	rs := &p.renewal
	if err := p.Checker.Restart(p.local, p.remote, now); err != nil {
		c.log.Warn("re-opening the path: no pair to check", "err", err)
		rs.phase, rs.notBefore = renewIdle, now+p.Renewal.after()
		return
	}
	rs.phase = renewChecking
}

// peerCandidates takes the peer's fresh candidates: they join a round
// under way, or start one (answering a re-offer).
func (c *callLoop) peerCandidates(u PeerCandidates, now time.Duration) {
	p := c.cfg.NAT
	if len(u.Candidates) == 0 {
		return
	}
	p.remote = u.Candidates
	c.log.Info("fresh candidates from the peer", "count", len(u.Candidates), "offer", u.Offer)
	switch p.renewal.phase {
	case renewIdle:
		if u.Offer {
			c.startRenewal(now, true)
		} else {
			c.restartChecks(now)
		}
	case renewChecking:
		c.restartChecks(now)
	case renewGathering:
		// They join the checks once our own candidates are out.
	}
}

// renewed ends a round that selected remote: the call follows it.
func (c *callLoop) renewed(now time.Duration, remote netip.AddrPort) {
	p := c.cfg.NAT
	rs := &p.renewal
	kind := pathKind(rs.mapped[remote], remote, p.local, p.remote)
	c.log.Info("path re-opened", "remote", remote, "path", kind, "took", (now - rs.begun).Round(time.Millisecond),
		"checks_sent", rs.checks)
	if remote != c.cfg.Remote {
		c.follow(remote, "fresh checks worked both ways")
	}
	p.Kind = kind
	rs.phase, rs.notBefore = renewIdle, now+p.Renewal.after()
}
