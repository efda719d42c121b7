package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/spurtvoip/spurt/nat"
)

// stunCmd prints this machine's server-reflexive address and, given a
// second server, whether the NAT keeps one mapping for every destination.
func stunCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("stun", stderr)
	server := fs.String("server", "", "STUN server `HOST:PORT` (e.g. a `call serve`)")
	server2 := fs.String("server2", "", "a second STUN server `HOST:PORT` on another address, to test the NAT's mapping")
	local := fs.String("local", "0.0.0.0:0", "local UDP `ADDRESS` to ask from")
	timeout := fs.Duration("timeout", 5*time.Second, "give up on a server after this long")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(pos) > 0:
		return usageError{fmt.Errorf("stun takes no arguments, got %q (did you mean --server?)", pos)}
	case *server == "":
		return usageError{fmt.Errorf("stun needs --server HOST:PORT")}
	case *timeout <= 0:
		return usageError{fmt.Errorf("--timeout must be positive")}
	}
	servers := []string{*server}
	if *server2 != "" {
		servers = append(servers, *server2)
	}
	var addrs []netip.AddrPort
	for _, s := range servers {
		ap, err := resolveUDP(ctx, s, s)
		if err != nil {
			return usageError{err}
		}
		addrs = append(addrs, ap)
	}
	localAddr, err := netip.ParseAddrPort(*local)
	if err != nil {
		return usageError{fmt.Errorf("--local %q: want IP:PORT: %w", *local, err)}
	}
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(localAddr))
	if err != nil {
		return fmt.Errorf("opening a UDP socket: %w", err)
	}
	defer conn.Close()
	fmt.Fprintf(stdout, "local socket:            %v\n", conn.LocalAddr())

	var mapped []netip.AddrPort
	for i, s := range addrs {
		dctx, cancel := context.WithTimeout(ctx, *timeout)
		m, err := nat.Discover(dctx, conn, s)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return err
			}
			return stunFailure(servers[i], *timeout, err)
		}
		mapped = append(mapped, m)
		fmt.Fprintf(stdout, "server-reflexive address: %v (seen by %s)\n", m, servers[i])
	}
	own := make([]netip.AddrPort, len(addrs))
	for i, s := range addrs {
		own[i] = ownAddress(conn, s)
	}
	fmt.Fprintf(stdout, "NAT: %s\n", natBehaviour(own, mapped))
	return nil
}

// stunFailure says what went wrong asking server.
func stunFailure(server string, timeout time.Duration, err error) error {
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, nat.ErrNoResponse):
		return fmt.Errorf("no response from STUN server %s within %v (is it running, and is UDP to it allowed?): %w", server, timeout, err)
	case errors.Is(err, nat.ErrErrorResponse):
		return fmt.Errorf("STUN server %s refused the binding request: %w", server, err)
	}
	return fmt.Errorf("asking STUN server %s: %w", server, err)
}

// ownAddress is the address conn's datagrams to server leave from: the
// one it is bound to or, bound to all addresses, the one the routing table
// picks (a UDP "connect" sends nothing).
func ownAddress(conn *net.UDPConn, server netip.AddrPort) netip.AddrPort {
	local := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	ip := local.Addr().Unmap()
	if ip.IsUnspecified() {
		if c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(server)); err == nil {
			ip = c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
			_ = c.Close()
		}
	}
	return netip.AddrPortFrom(ip, local.Port())
}

// natBehaviour describes what the mapped addresses say about the NAT, own
// being where our datagrams to each server left from.
func natBehaviour(own, mapped []netip.AddrPort) string {
	if slices.Equal(own, mapped) {
		if len(mapped) > 1 {
			return "none: both servers see our own address and port (direct calls work)"
		}
		return "none: the server sees our own address and port (direct calls work)"
	}
	if len(mapped) < 2 {
		return "present: the server sees another address than ours (give --server2, a server on another address, to test its mapping)"
	}
	if mapped[0] == mapped[1] {
		return "endpoint-independent mapping: one public address for both servers (--via calls should connect directly)"
	}
	return "address-dependent mapping (symmetric NAT): a different public address per server; direct calls through it will likely fail"
}
