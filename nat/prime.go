package nat

import (
	"errors"
	"fmt"
	"net"
)

// PrimeTTL is the IP time-to-live of priming datagrams (see Prime): enough
// to pass our own NAT router, the first hop, and to die at the next router,
// well before the peer's NAT.
const PrimeTTL = 2

// errPrimeUnsupported is Prime's error where the TTL cannot be set.
var errPrimeUnsupported = errors.New("setting the IP TTL of a socket is not supported on this system")

// Prime sends one datagram, a STUN binding indication, from conn to each
// IPv4 UDP address among the peer's candidates with the IP time-to-live
// lowered to ttl, then restores conn's TTL. It returns how many it sent.
//
// The datagram makes our NAT create the mapping to the peer (with the
// port it maps for everyone, on an endpoint-independent NAT) and expires on
// the way, before it reaches the peer's NAT. The peer's checks, sent
// later, then find that mapping and come through. Without it the first
// check to arrive at a NAT that has no mapping of its own yet can leave a
// connection-tracking entry there (on a router that does not drop
// unsolicited datagrams to itself) which makes the router map our own
// check to another port, that the peer never hears of: neither hole
// opens. The side that has the peer's candidates first, the answerer,
// primes before it answers; the offerer's checks come after that.
//
// conn must be a *net.UDPConn (or another syscall.Conn) bound to IPv4.
func Prime(conn net.PacketConn, peer []Candidate, ttl int) (int, error) {
	indication := Keepalive()
	var addrs []*net.UDPAddr
	for _, c := range peer {
		if c.Transport != TransportUDP || c.Component != 1 || !c.Addr.Addr().Unmap().Is4() || !validPeer(c.Addr) {
			continue
		}
		addrs = append(addrs, net.UDPAddrFromAddrPort(c.Addr))
	}
	if len(addrs) == 0 {
		return 0, nil
	}
	old, err := socketTTL(conn)
	if err != nil {
		return 0, fmt.Errorf("nat: priming: %w", err)
	}
	if err := setSocketTTL(conn, ttl); err != nil {
		return 0, fmt.Errorf("nat: priming: %w", err)
	}
	sent := 0
	var sendErr error
	for _, a := range addrs {
		if _, err := conn.WriteTo(indication, a); err != nil {
			sendErr = fmt.Errorf("nat: priming %v: %w", a, err)
			continue
		}
		sent++
	}
	if err := setSocketTTL(conn, old); err != nil {
		return sent, fmt.Errorf("nat: restoring the TTL after priming: %w", err)
	}
	return sent, sendErr
}
