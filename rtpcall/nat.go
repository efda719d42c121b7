package rtpcall

import (
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
// STUN goes to the Checker: its replies (to the peer's retransmitted checks)
// are sent, and an authenticated check from a new address moves the call
// there. Anything else from an address other than the peer's is counted as
// rejected_source and dropped. It reports whether d was consumed.
func (c *callLoop) handleNAT(d datagram) bool {
	path := c.cfg.NAT
	pkt := d.buf[:d.n]
	from := netip.AddrPortFrom(d.from.Addr().Unmap(), d.from.Port()) // a dual-stack socket maps IPv4
	if !nat.IsSTUN(pkt) {
		if from != c.cfg.Remote {
			c.sess.receiver.stats.RejectedSource++
			return true
		}
		return false
	}
	if from != c.cfg.Remote {
		if path.Checker.Verify(pkt, from) {
			c.log.Info("peer moved; following after an authenticated check", "from", c.cfg.Remote, "to", from)
			c.cfg.Remote = from
			c.remote = net.UDPAddrFromAddrPort(from)
			c.pathMoves++
		} else {
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
		st.ChecksSent = c.cfg.NAT.ChecksSent
		c.log.Debug("path", "kind", st.Path, "keepalives_sent", c.keepalivesSent, "peer_moves_followed", c.pathMoves)
	}
}
