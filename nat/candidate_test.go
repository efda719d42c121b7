package nat

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestPriority(t *testing.T) {
	tests := []struct {
		typ       string
		localPref uint16
		component int
		want      uint32
	}{
		// 2^24 * type pref + 2^8 * local pref + (256 - component)
		{TypeHost, 65535, 1, 126<<24 + 65535<<8 + 255},
		{TypeSrflx, 65535, 1, 100<<24 + 65535<<8 + 255},
		{TypePrflx, 65534, 1, 110<<24 + 65534<<8 + 255},
		{TypeRelay, 0, 2, 254},
		{TypeHost, 1, 256, 126<<24 + 1<<8},
	}
	for _, tt := range tests {
		if got := Priority(tt.typ, tt.localPref, tt.component); got != tt.want {
			t.Errorf("Priority(%s, %d, %d) = %d, want %d", tt.typ, tt.localPref, tt.component, got, tt.want)
		}
	}
	if Priority(TypeHost, 0, 1) <= Priority(TypePrflx, 65535, 1) || Priority(TypePrflx, 0, 1) <= Priority(TypeSrflx, 65535, 1) {
		t.Error("type preference does not dominate local preference")
	}
}

func TestCandidateString(t *testing.T) {
	host := Candidate{Foundation: "1", Component: 1, Transport: "UDP", Priority: 2130706431,
		Addr: netip.MustParseAddrPort("192.0.2.7:5004"), Type: TypeHost}
	srflx := Candidate{Foundation: "a+/Z", Component: 1, Transport: "UDP", Priority: 1694498815,
		Addr: netip.MustParseAddrPort("[2001:db8::9]:61000"), Type: TypeSrflx, RelAddr: netip.MustParseAddrPort("10.0.0.2:5004")}
	tests := []struct {
		c    Candidate
		want string
	}{
		{host, "1 1 UDP 2130706431 192.0.2.7 5004 typ host"},
		{srflx, "a+/Z 1 UDP 1694498815 2001:db8::9 61000 typ srflx raddr 10.0.0.2 rport 5004"},
	}
	for _, tt := range tests {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("String() = %q, want %q", got, tt.want)
		}
	}
}

func TestParseCandidate(t *testing.T) {
	tests := []struct {
		in   string
		want Candidate
	}{
		{
			"1 1 UDP 2130706431 192.0.2.7 5004 typ host",
			Candidate{Foundation: "1", Component: 1, Transport: "UDP", Priority: 2130706431,
				Addr: netip.MustParseAddrPort("192.0.2.7:5004"), Type: TypeHost},
		},
		{
			// As browsers write them: lower-case transport, extensions.
			"4234997325 1 udp 2043278322 192.0.2.172 6502 typ srflx raddr 198.51.100.45 rport 32768 generation 0 network-id 1",
			Candidate{Foundation: "4234997325", Component: 1, Transport: "UDP", Priority: 2043278322,
				Addr: netip.MustParseAddrPort("192.0.2.172:6502"), Type: TypeSrflx, RelAddr: netip.MustParseAddrPort("198.51.100.45:32768")},
		},
		{
			"x/+ 2 tcp 1 2001:db8::1 9 typ prflx tcptype active",
			Candidate{Foundation: "x/+", Component: 2, Transport: "TCP", Priority: 1,
				Addr: netip.MustParseAddrPort("[2001:db8::1]:9"), Type: TypePrflx},
		},
		{
			"abcdefghijklmnopqrstuvwxyzABCDEF 256 UDP 2147483647 ::ffff:192.0.2.1 65535 typ relay raddr 0.0.0.0 rport 0",
			Candidate{Foundation: "abcdefghijklmnopqrstuvwxyzABCDEF", Component: 256, Transport: "UDP", Priority: 2147483647,
				Addr: netip.MustParseAddrPort("192.0.2.1:65535"), Type: TypeRelay, RelAddr: netip.MustParseAddrPort("0.0.0.0:0")},
		},
	}
	for _, tt := range tests {
		got, err := ParseCandidate(tt.in)
		if err != nil {
			t.Errorf("ParseCandidate(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("ParseCandidate(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

func TestParseCandidateRejects(t *testing.T) {
	tests := []struct {
		in, why string
	}{
		{"", "foundation"},
		{"candidate:1 1 UDP 1 192.0.2.1 1 typ host", "foundation"},
		{"1 1 UDP 1 192.0.2.1 1 typ host ", "empty extension"},
		{" 1 1 UDP 1 192.0.2.1 1 typ host", "empty foundation"},
		{"1  1 UDP 1 192.0.2.1 1 typ host", "empty component"},
		{"1\t1 UDP 1 192.0.2.1 1 typ host", "foundation"},
		{"abcdefghijklmnopqrstuvwxyzABCDEFG 1 UDP 1 192.0.2.1 1 typ host", "foundation"},
		{"f-1 1 UDP 1 192.0.2.1 1 typ host", "foundation"},
		{"1 0 UDP 1 192.0.2.1 1 typ host", "component"},
		{"1 257 UDP 1 192.0.2.1 1 typ host", "component"},
		{"1 +1 UDP 1 192.0.2.1 1 typ host", "component"},
		{"1 1 U/P 1 192.0.2.1 1 typ host", "transport"},
		{"1 1 UDP 0 192.0.2.1 1 typ host", "priority"},
		{"1 1 UDP 2147483648 192.0.2.1 1 typ host", "priority"},
		{"1 1 UDP 12345678901 192.0.2.1 1 typ host", "priority"},
		{"1 1 UDP -5 192.0.2.1 1 typ host", "priority"},
		{"1 1 UDP 1 host.example 1 typ host", "connection-address"},
		{"1 1 UDP 1 fe80::1%eth0 1 typ host", "connection-address"},
		{"1 1 UDP 1 [2001:db8::1] 1 typ host", "connection-address"},
		{"1 1 UDP 1 192.0.2.1 65536 typ host", "port"},
		{"1 1 UDP 1 192.0.2.1 1 type host", `"typ"`},
		{"1 1 UDP 1 192.0.2.1 1 typ", "candidate type"},
		{"1 1 UDP 1 192.0.2.1 1 typ bogus", "candidate type"},
		{"1 1 UDP 1 192.0.2.1 1", `"typ"`},
		{"1 1 UDP 1 192.0.2.1 1 typ srflx raddr 10.0.0.1", `"rport"`},
		{"1 1 UDP 1 192.0.2.1 1 typ srflx raddr 10.0.0.1 port 1", `"rport"`},
		{"1 1 UDP 1 192.0.2.1 1 typ srflx rport 1", "out of place"},
		{"1 1 UDP 1 192.0.2.1 1 typ srflx raddr 10.0.0.1 rport 1 raddr 10.0.0.2 rport 2", "out of place"},
		{"1 1 UDP 1 192.0.2.1 1 typ host generation", "value of extension"},
		{"1 1 UDP 1 192.0.2.1 1 typ host a\x00 b", "byte-string"},
		{"1 1 UDP 1 192.0.2.1 1 typ host a b\r", "byte-string"},
		{"1 1 UDP 1 192.0.2.1 1 typ host " + strings.Repeat("x ", 600), "longer than"},
	}
	for _, tt := range tests {
		_, err := ParseCandidate(tt.in)
		if err == nil {
			t.Errorf("ParseCandidate(%q) accepted", tt.in)
			continue
		}
		if !errors.Is(err, ErrBadCandidate) || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("ParseCandidate(%q) error %q, want ErrBadCandidate about %q", tt.in, err, tt.why)
		}
	}
}

func TestCandidateConstructors(t *testing.T) {
	base := HostCandidate(netip.MustParseAddrPort("[::ffff:10.0.0.2]:5004"), 65000)
	if base.Addr != netip.MustParseAddrPort("10.0.0.2:5004") || base.Type != TypeHost || base.Component != 1 ||
		base.Transport != TransportUDP || base.Priority != Priority(TypeHost, 65000, 1) || base.RelAddr.IsValid() {
		t.Errorf("HostCandidate = %+v", base)
	}
	server := netip.MustParseAddr("198.51.100.1")
	srflx := ServerReflexive(base, netip.MustParseAddrPort("203.0.113.9:61000"), server)
	if srflx.Type != TypeSrflx || srflx.RelAddr != base.Addr || srflx.Priority != Priority(TypeSrflx, 65000, 1) {
		t.Errorf("ServerReflexive = %+v", srflx)
	}
	// Foundations: equal for the same type, base and server; different
	// otherwise (RFC 8445 section 5.1.1.3).
	other := ServerReflexive(base, netip.MustParseAddrPort("203.0.113.9:61001"), server)
	otherServer := ServerReflexive(base, srflx.Addr, netip.MustParseAddr("198.51.100.2"))
	if other.Foundation != srflx.Foundation || otherServer.Foundation == srflx.Foundation || base.Foundation == srflx.Foundation {
		t.Errorf("foundations %q %q %q %q", base.Foundation, srflx.Foundation, other.Foundation, otherServer.Foundation)
	}
	for _, c := range []Candidate{base, srflx} {
		back, err := ParseCandidate(c.String())
		if err != nil || back != c {
			t.Errorf("round trip of %+v: %+v, %v", c, back, err)
		}
	}
}

func TestHostCandidates(t *testing.T) {
	addrs := func(s ...string) []netip.Addr {
		var out []netip.Addr
		for _, a := range s {
			out = append(out, netip.MustParseAddr(a))
		}
		return out
	}
	tests := []struct {
		name string
		in   []netip.Addr
		want []string
	}{
		{"skips loopback, link-local, v6 after v4",
			addrs("127.0.0.1", "::1", "fe80::1", "2001:db8::5", "169.254.3.3", "192.168.1.5", "10.0.0.2"),
			[]string{"192.168.1.5:7000", "10.0.0.2:7000", "[2001:db8::5]:7000"}},
		{"loopback when alone", addrs("127.0.0.1", "::1", "fe80::2"), []string{"127.0.0.1:7000", "[::1]:7000"}},
		{"unmaps and dedupes", addrs("::ffff:192.0.2.1", "192.0.2.1"), []string{"192.0.2.1:7000"}},
		{"nothing", addrs("fe80::1", "0.0.0.0", "224.0.0.1"), nil},
	}
	for _, tt := range tests {
		got := hostCandidates(tt.in, 7000)
		if len(got) != len(tt.want) {
			t.Errorf("%s: %d candidates %v, want %v", tt.name, len(got), got, tt.want)
			continue
		}
		for i, c := range got {
			if c.Addr.String() != tt.want[i] || c.Type != TypeHost {
				t.Errorf("%s: candidate %d is %v, want host %s", tt.name, i, c, tt.want[i])
			}
			if i > 0 && c.Priority >= got[i-1].Priority {
				t.Errorf("%s: priorities not descending: %d then %d", tt.name, got[i-1].Priority, c.Priority)
			}
		}
	}
	many := make([]netip.Addr, 20)
	for i := range many {
		many[i] = netip.AddrFrom4([4]byte{10, 0, 0, byte(i + 1)})
	}
	if got := hostCandidates(many, 1); len(got) != maxHostCandidates {
		t.Errorf("%d candidates from 20 addresses, want the cap %d", len(got), maxHostCandidates)
	}
}

func TestGatherHost(t *testing.T) {
	cands, err := GatherHost(5004)
	if err != nil {
		t.Skipf("no usable interface here: %v", err)
	}
	for _, c := range cands {
		if c.Addr.Port() != 5004 || c.Type != TypeHost || c.Addr.Addr().IsLinkLocalUnicast() {
			t.Errorf("GatherHost gave %v", c)
		}
	}
	if _, err := GatherHost(0); err == nil {
		t.Error("GatherHost(0) accepted")
	}
}

func FuzzParseCandidate(f *testing.F) {
	for _, s := range []string{
		"1 1 UDP 2130706431 192.0.2.7 5004 typ host",
		"4234997325 1 udp 2043278322 192.0.2.172 6502 typ srflx raddr 198.51.100.45 rport 32768 generation 0",
		"x/+ 2 tcp 1 2001:db8::1 9 typ prflx tcptype active",
		"1 1 UDP 1 ::ffff:1.2.3.4 1 typ relay raddr ::1 rport 1",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseCandidate(s)
		if err != nil {
			if !errors.Is(err, ErrBadCandidate) {
				t.Fatalf("error %v does not wrap ErrBadCandidate", err)
			}
			return
		}
		// What parses formats back to something that parses to the same.
		text := c.String()
		back, err := ParseCandidate(text)
		if err != nil {
			t.Fatalf("String() of a parsed candidate %q does not parse: %v", text, err)
		}
		if back != c {
			t.Fatalf("round trip changed %+v to %+v", c, back)
		}
		if len(text) > len(s) && !strings.Contains(s, "::ffff:") {
			// Formatting drops extensions and normalises; it never adds.
			t.Fatalf("%q formatted longer as %q", s, text)
		}
	})
}

func BenchmarkParseCandidate(b *testing.B) {
	s := "4234997325 1 udp 2043278322 192.0.2.172 6502 typ srflx raddr 198.51.100.45 rport 32768 generation 0"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseCandidate(s); err != nil {
			b.Fatal(err)
		}
	}
}
