//go:build unix

package nat

import (
	"errors"
	"fmt"
	"net"
	"syscall"
)

// socketTTL reads conn's IPv4 TTL (IP_TTL).
func socketTTL(conn net.PacketConn) (int, error) {
	rc, err := rawConn(conn)
	if err != nil {
		return 0, err
	}
	var ttl int
	var sockErr error
	if err := rc.Control(func(fd uintptr) { ttl, sockErr = syscall.GetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TTL) }); err != nil {
		return 0, err
	}
	if sockErr != nil {
		return 0, fmt.Errorf("reading IP_TTL: %w", sockErr)
	}
	return ttl, nil
}

// setSocketTTL sets conn's IPv4 TTL (IP_TTL).
func setSocketTTL(conn net.PacketConn, ttl int) error {
	rc, err := rawConn(conn)
	if err != nil {
		return err
	}
	var sockErr error
	if err := rc.Control(func(fd uintptr) { sockErr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_TTL, ttl) }); err != nil {
		return err
	}
	if sockErr != nil {
		return fmt.Errorf("setting IP_TTL to %d: %w", ttl, sockErr)
	}
	return nil
}

func rawConn(conn net.PacketConn) (syscall.RawConn, error) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil, errors.Join(errPrimeUnsupported, fmt.Errorf("%T has no file descriptor", conn))
	}
	return sc.SyscallConn()
}
