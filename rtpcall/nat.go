package rtpcall

import (
	"encoding/binary"
	"net"
	"net/netip"
	"time"

	"github.com/spurtvoip/spurt/nat"
)

// DefaultKeepaliveInterval is how long the media may pause before Run sends
// a STUN binding indication on a path opened through NATs (RFC 8445 section
// 11's Tr), so that the NAT bindings survive silence.
const DefaultKeepaliveInterval = 15 * time.Second

// Stats "path" for a call whose remote address was given, not checked.
const pathDirect = "direct"

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
		c.sess.receiver.stats.RejectedSource++
		if c.fromPeerStream(pkt) {
			c.probe(from, d.arrival)
		}
		return true
	}
	if from != c.cfg.Remote {
		switch {
		case path.prober().Confirm(pkt, from, d.arrival):
			c.follow(from, "answered our check")
			return true
		case path.Checker.Verify(pkt, from):
			c.follow(from, "sent an authenticated check")
		default:
			c.sess.receiver.stats.RejectedSource++
		}
	}
	if reply, to, ok := path.Checker.Handle(pkt, from, d.arrival); ok {
		if _, err := c.cfg.Conn.WriteTo(reply, net.UDPAddrFromAddrPort(to)); err != nil {
			c.log.Debug("answer to a check not sent", "to", to, "err", err)
		}
	}
	return true
}

// fromPeerStream reports whether pkt is RTP or RTCP of the peer's stream:
// version 2 and, once the receiver has locked onto the peer's SSRC, that
// SSRC (RTCP's first packet names its sender at the same offset).
func (c *callLoop) fromPeerStream(pkt []byte) bool {
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		return false
	}
	ssrcAt := 8 // RTP: after the sequence number and timestamp
	if isRTCP(pkt) {
		ssrcAt = 4 // the sender's SSRC
	}
	src := &c.sess.receiver.src
	return !src.locked || binary.BigEndian.Uint32(pkt[ssrcAt:]) == src.ssrc
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

// keepAlive sends a binding indication when no media has left for the
// keepalive interval (during silence; RTCP does not count, so the NAT
// binding never depends on the report interval alone).
func (c *callLoop) keepAlive(now time.Duration) {
	if c.cfg.NAT == nil || now < c.lastMediaSent+c.keepaliveInterval() {
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
func (c *callLoop) pathStats(st *Stats) {
	st.Path = pathDirect
	if c.cfg.NAT != nil {
		st.Path = c.cfg.NAT.Kind
		st.ChecksSent = c.cfg.NAT.ChecksSent + c.cfg.NAT.probesSent
		c.log.Debug("path", "kind", st.Path, "keepalives_sent", c.keepalivesSent, "peer_moves_followed", c.pathMoves)
	}
}
