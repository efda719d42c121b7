//go:build linux

package nat

import (
	"encoding/binary"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"
)

// TestPrime: the priming datagrams leave with the TTL asked for, one per
// usable IPv4 candidate, and the socket's TTL is back afterwards (media
// sent later goes with the usual one).
func TestPrime(t *testing.T) {
	conn := listenUDP(t)
	receivers := []*net.UDPConn{listenUDP(t), listenUDP(t)}
	for _, r := range receivers {
		rc, err := r.SyscallConn()
		if err != nil {
			t.Fatal(err)
		}
		var serr error
		if err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_IP, syscall.IP_RECVTTL, 1) }); err != nil || serr != nil {
			t.Fatalf("IP_RECVTTL: %v %v", err, serr)
		}
	}
	before, err := socketTTL(conn)
	if err != nil {
		t.Fatal(err)
	}
	tcp := HostCandidate(addrOf(receivers[1]), 1)
	tcp.Transport = "TCP"
	peer := []Candidate{
		HostCandidate(addrOf(receivers[0]), 65535),
		ServerReflexive(HostCandidate(netip.MustParseAddrPort("10.0.0.2:1"), 1), addrOf(receivers[1]), netip.MustParseAddr("192.0.2.1")),
		HostCandidate(netip.MustParseAddrPort("[2001:db8::1]:5000"), 65534), // not IPv4
		tcp,
	}
	sent, err := Prime(conn, peer, PrimeTTL)
	if err != nil || sent != 2 {
		t.Fatalf("Prime = %d, %v; want 2 sent", sent, err)
	}
	if after, err := socketTTL(conn); err != nil || after != before {
		t.Errorf("TTL after priming %d (%v), want %d as before", after, err, before)
	}
	if _, err := conn.WriteToUDPAddrPort([]byte("media"), addrOf(receivers[0])); err != nil {
		t.Fatal(err)
	}
	wantTTLs := [][]int{{PrimeTTL, before}, {PrimeTTL}}
	for i, r := range receivers {
		for j, want := range wantTTLs[i] {
			got, data := readTTL(t, r)
			if got != want {
				t.Errorf("receiver %d, datagram %d (%q): TTL %d, want %d", i, j, data, got, want)
			}
			if j == 0 && !IsSTUN(data) {
				t.Errorf("receiver %d: priming datagram %x is not STUN", i, data)
			}
		}
	}
	if _, err := Prime(fakePacketConn{}, peer, PrimeTTL); !errors.Is(err, errPrimeUnsupported) {
		t.Errorf("Prime on a conn without a descriptor: %v, want errPrimeUnsupported", err)
	}
}

// readTTL reads one datagram and the TTL it arrived with.
func readTTL(t *testing.T, r *net.UDPConn) (int, []byte) {
	t.Helper()
	_ = r.SetReadDeadline(time.Now().Add(5 * time.Second))
	buf, oob := make([]byte, 1500), make([]byte, 128)
	n, oobn, _, _, err := r.ReadMsgUDP(buf, oob)
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := syscall.ParseSocketControlMessage(oob[:oobn])
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if m.Header.Level == syscall.IPPROTO_IP && m.Header.Type == syscall.IP_TTL && len(m.Data) >= 4 {
			return int(binary.NativeEndian.Uint32(m.Data)), buf[:n]
		}
	}
	t.Fatal("no TTL with the datagram")
	return 0, nil
}

// fakePacketConn is a net.PacketConn with no file descriptor.
type fakePacketConn struct{ net.PacketConn }
