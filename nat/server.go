package nat

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// Server answers STUN binding requests arriving on a
// net.PacketConn: the shell around the clockless responder. Work per datagram is bounded:
// one read of at most 1500 bytes, one decode, at most one reply of under 128
// bytes, no allocation and nothing kept between datagrams.
type Server struct {
	// Logger receives a debug line for each reply that could not be sent.
	// Nil discards them.
	Logger *slog.Logger
}

// Serve answers requests on conn until ctx is done, then returns nil, or
// until reading fails for another reason, which it returns wrapped. It does
// not close conn; it leaves a read deadline in the past on it when ctx ends.
func (s *Server) Serve(ctx context.Context, conn net.PacketConn) error {
	logger := s.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	var (
		r     = newResponder()
		buf   = make([]byte, maxMessageSize+1) // one spare byte tells an oversized datagram
		reply = make([]byte, 0, 256)
	)
	udp, _ := conn.(*net.UDPConn)
	for {
		n, from, err := readFrom(conn, udp, buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("nat: STUN server reading from %v: %w", conn.LocalAddr(), err)
		}
		out, ok := r.handle(buf[:n], from, reply[:0])
		if !ok {
			continue
		}
		if err := writeTo(conn, udp, out, from); err != nil {
			logger.Debug("STUN server: reply not sent", "to", from, "err", err)
		}
	}
}

// readFrom reads one datagram, through the allocation-free UDP methods when
// conn is a *net.UDPConn. The source is returned with IPv4 unmapped.
func readFrom(conn net.PacketConn, udp *net.UDPConn, buf []byte) (int, netip.AddrPort, error) {
	if udp != nil {
		n, from, err := udp.ReadFromUDPAddrPort(buf)
		return n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), err
	}
	n, addr, err := conn.ReadFrom(buf)
	if err != nil {
		return n, netip.AddrPort{}, err
	}
	from, _ := addrPortFromNet(addr)
	return n, from, nil
}

func writeTo(conn net.PacketConn, udp *net.UDPConn, b []byte, to netip.AddrPort) error {
	if udp != nil {
		_, err := udp.WriteToUDPAddrPort(b, to)
		return err
	}
	_, err := conn.WriteTo(b, net.UDPAddrFromAddrPort(to))
	return err
}

var errNotUDP = errors.New("not a UDP address")

// addrPortFromNet converts a UDP net.Addr, IPv4 unmapped.
func addrPortFromNet(addr net.Addr) (netip.AddrPort, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return netip.AddrPort{}, fmt.Errorf("%w: %v", errNotUDP, addr)
	}
	ap := ua.AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}
