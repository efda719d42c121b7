//go:build !unix

package nat

import "net"

func socketTTL(net.PacketConn) (int, error) { return 0, errPrimeUnsupported }

func setSocketTTL(net.PacketConn, int) error { return errPrimeUnsupported }
