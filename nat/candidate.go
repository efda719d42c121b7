package nat

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net/netip"
	"strconv"
	"strings"
)

// Candidate types (RFC 8445 section 5.1.1).
const (
	TypeHost  = "host"
	TypeSrflx = "srflx" // server reflexive: our address as a STUN server saw it
	TypePrflx = "prflx" // peer reflexive: an address learnt from a check
	TypeRelay = "relay"
)

// TransportUDP is the only transport Spurt checks and sends on.
const TransportUDP = "UDP"

// Type preferences of RFC 8445 section 5.1.2.2.
const (
	typePrefHost  = 126
	typePrefPrflx = 110
	typePrefSrflx = 100
	typePrefRelay = 0
)

// Candidate is a transport address a peer may be reached at (RFC 8445
// section 5.1.1), as carried in an SDP a=candidate attribute (RFC 8839
// section 5.1).
type Candidate struct {
	Foundation string // 1 to 32 ice-chars; equal for candidates of the same type, base and server
	Component  int    // 1 (RTP; RTCP is multiplexed on it)
	Transport  string // "UDP"
	Priority   uint32 // RFC 8445 section 5.1.2.1, 1 to 2^31-1
	Addr       netip.AddrPort
	Type       string         // TypeHost, TypeSrflx, TypePrflx or TypeRelay
	RelAddr    netip.AddrPort // related address: the base of a srflx or prflx candidate; zero for host
}

// Priority computes a candidate priority by RFC 8445 section 5.1.2.1:
// 2^24 * type preference + 2^8 * local preference + (256 - component). The
// type preference is 126 for host, 110 for prflx, 100 for srflx and 0 for
// relay candidates; localPref orders candidates of one type (65535 when
// there is just one address); component is 1 to 256.
func Priority(candidateType string, localPref uint16, component int) uint32 {
	if component < 1 || component > 256 {
		component = 256
	}
	return uint32(typePreference(candidateType))<<24 | uint32(localPref)<<8 | uint32(256-component)
}

func typePreference(candidateType string) uint8 {
	switch candidateType {
	case TypeHost:
		return typePrefHost
	case TypePrflx:
		return typePrefPrflx
	case TypeSrflx:
		return typePrefSrflx
	}
	return typePrefRelay
}

// localPreference recovers the local preference from a priority built by
// Priority.
func localPreference(priority uint32) uint16 {
	return uint16(priority >> 8)
}

// foundation derives a foundation that is equal exactly when the candidate
// type, base address, STUN server and transport are (RFC 8445 section
// 5.1.1.3), as a decimal string, which is all ice-chars.
func foundation(candidateType string, base, server netip.Addr, transport string) string {
	h := fnv.New32a()
	for _, part := range []string{candidateType, base.String(), server.String(), strings.ToUpper(transport)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	return strconv.FormatUint(uint64(h.Sum32()), 10)
}

// HostCandidate returns the host candidate for a socket bound at addr, with
// local preference localPref.
func HostCandidate(addr netip.AddrPort, localPref uint16) Candidate {
	addr = netip.AddrPortFrom(addr.Addr().Unmap(), addr.Port())
	return Candidate{
		Foundation: foundation(TypeHost, addr.Addr(), netip.Addr{}, TransportUDP),
		Component:  1,
		Transport:  TransportUDP,
		Priority:   Priority(TypeHost, localPref, 1),
		Addr:       addr,
		Type:       TypeHost,
	}
}

// ServerReflexive returns the server-reflexive candidate for mapped, the
// address the STUN server at server saw when base (a host candidate) sent to
// it; see Discover. It keeps base's local preference and component.
func ServerReflexive(base Candidate, mapped netip.AddrPort, server netip.Addr) Candidate {
	mapped = netip.AddrPortFrom(mapped.Addr().Unmap(), mapped.Port())
	return Candidate{
		Foundation: foundation(TypeSrflx, base.Addr.Addr(), server.Unmap(), base.Transport),
		Component:  base.Component,
		Transport:  base.Transport,
		Priority:   Priority(TypeSrflx, localPreference(base.Priority), base.Component),
		Addr:       mapped,
		Type:       TypeSrflx,
		RelAddr:    base.Addr,
	}
}

// String formats c as the value of an SDP candidate attribute, the part
// after "a=candidate:" (RFC 8839 section 5.1), for example
// "1234 1 UDP 2130706431 192.0.2.7 5004 typ host" or, for a reflexive
// candidate, with " raddr 10.0.0.2 rport 5004" appended.
func (c Candidate) String() string {
	b := make([]byte, 0, 96)
	b = append(b, c.Foundation...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(c.Component), 10)
	b = append(b, ' ')
	b = append(b, c.Transport...)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(c.Priority), 10)
	b = append(b, ' ')
	b = c.Addr.Addr().Unmap().AppendTo(b)
	b = append(b, ' ')
	b = strconv.AppendUint(b, uint64(c.Addr.Port()), 10)
	b = append(b, " typ "...)
	b = append(b, c.Type...)
	if c.RelAddr.IsValid() {
		b = append(b, " raddr "...)
		b = c.RelAddr.Addr().Unmap().AppendTo(b)
		b = append(b, " rport "...)
		b = strconv.AppendUint(b, uint64(c.RelAddr.Port()), 10)
	}
	return string(b)
}

// maxCandidateLen bounds the candidate text ParseCandidate reads.
const maxCandidateLen = 1024

// ErrBadCandidate is wrapped by every ParseCandidate error.
var ErrBadCandidate = errors.New("bad candidate")

// ParseCandidate parses the value of an SDP candidate attribute (the part
// after "a=candidate:", as Candidate.String writes it) strictly by the
// grammar of RFC 8839 section 5.1: fields separated by single spaces,
// foundation of 1 to 32 ice-chars, component 1 to 256, priority 1 to
// 2^31-1, an IP address (no FQDN, no zone), a port, "typ" and one of host,
// srflx, prflx, relay, then optionally "raddr <ip> rport <port>", then
// extension name/value pairs, which are checked for form and ignored. The
// transport is returned upper case.
func ParseCandidate(s string) (Candidate, error) {
	c, err := parseCandidate(s)
	if err != nil {
		return Candidate{}, fmt.Errorf("%w %q: %w", ErrBadCandidate, truncate(s, 80), err)
	}
	return c, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// fieldReader walks the single-space separated fields of a candidate.
type fieldReader struct {
	rest string
	done bool
}

// next returns the next field, or false at the end. An empty field (two
// spaces, a leading or trailing space) is returned as "".
func (r *fieldReader) next() (string, bool) {
	if r.done {
		return "", false
	}
	i := strings.IndexByte(r.rest, ' ')
	if i < 0 {
		r.done = true
		return r.rest, true
	}
	f := r.rest[:i]
	r.rest = r.rest[i+1:]
	return f, true
}

func (r *fieldReader) field(name string) (string, error) {
	f, ok := r.next()
	if !ok {
		return "", fmt.Errorf("missing %s", name)
	}
	if f == "" {
		return "", fmt.Errorf("empty %s (fields must be separated by exactly one space)", name)
	}
	return f, nil
}

func parseCandidate(s string) (Candidate, error) {
	var c Candidate
	if len(s) > maxCandidateLen {
		return c, fmt.Errorf("longer than %d bytes", maxCandidateLen)
	}
	r := fieldReader{rest: s}

	f, err := r.field("foundation")
	if err != nil {
		return c, err
	}
	if len(f) > 32 || strings.IndexFunc(f, func(ch rune) bool { return !isIceChar(ch) }) >= 0 {
		return c, fmt.Errorf("foundation %q is not 1 to 32 ice-chars", f)
	}
	c.Foundation = f

	if f, err = r.field("component"); err != nil {
		return c, err
	}
	component, ok := parseDecimal(f, 3)
	if !ok || component < 1 || component > 256 {
		return c, fmt.Errorf("component %q is not 1 to 256", f)
	}
	c.Component = int(component)

	if f, err = r.field("transport"); err != nil {
		return c, err
	}
	if strings.IndexFunc(f, func(ch rune) bool { return !isTokenChar(ch) }) >= 0 {
		return c, fmt.Errorf("transport %q is not a token", f)
	}
	c.Transport = strings.ToUpper(f)

	if f, err = r.field("priority"); err != nil {
		return c, err
	}
	priority, ok := parseDecimal(f, 10)
	if !ok || priority < 1 || priority > 1<<31-1 {
		return c, fmt.Errorf("priority %q is not 1 to 2^31-1", f)
	}
	c.Priority = uint32(priority)

	if c.Addr, err = parseAddrPort(&r, "connection-address", "port"); err != nil {
		return c, err
	}

	if f, err = r.field(`"typ"`); err != nil {
		return c, err
	}
	if f != "typ" {
		return c, fmt.Errorf(`got %q where "typ" belongs`, f)
	}
	if f, err = r.field("candidate type"); err != nil {
		return c, err
	}
	switch f {
	case TypeHost, TypeSrflx, TypePrflx, TypeRelay:
		c.Type = f
	default:
		return c, fmt.Errorf("unknown candidate type %q", f)
	}

	name, more := r.next()
	if more && name == "raddr" {
		if c.RelAddr, err = parseAddrPort(&r, "rel-addr", `"rport"`); err != nil {
			return c, err
		}
		name, more = r.next()
	}
	for more {
		if name == "" {
			return c, errors.New("empty extension name (fields must be separated by exactly one space)")
		}
		if name == "raddr" || name == "rport" {
			return c, fmt.Errorf("%q out of place", name)
		}
		if !isByteString(name) {
			return c, fmt.Errorf("extension name %q is not a byte-string", name)
		}
		value, err := r.field("value of extension " + strconv.Quote(name))
		if err != nil {
			return c, err
		}
		if !isByteString(value) {
			return c, fmt.Errorf("value of extension %q is not a byte-string", name)
		}
		name, more = r.next()
	}
	return c, nil
}

// parseAddrPort reads "<ip> <port>" for a candidate address, or, with
// portLabel `"rport"`, the "<ip> rport <port>" of a related address.
func parseAddrPort(r *fieldReader, addrLabel, portLabel string) (netip.AddrPort, error) {
	f, err := r.field(addrLabel)
	if err != nil {
		return netip.AddrPort{}, err
	}
	addr, err := netip.ParseAddr(f)
	if err != nil || addr.Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("%s %q is not an IP address", addrLabel, f)
	}
	if portLabel == `"rport"` {
		if f, err = r.field(`"rport"`); err != nil {
			return netip.AddrPort{}, err
		}
		if f != "rport" {
			return netip.AddrPort{}, fmt.Errorf(`got %q where "rport" belongs`, f)
		}
		portLabel = "rel-port"
	}
	if f, err = r.field(portLabel); err != nil {
		return netip.AddrPort{}, err
	}
	port, ok := parseDecimal(f, 5)
	if !ok || port > 0xFFFF {
		return netip.AddrPort{}, fmt.Errorf("%s %q is not 0 to 65535", portLabel, f)
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), nil
}

// parseDecimal parses 1 to maxDigits ASCII digits.
func parseDecimal(s string, maxDigits int) (uint64, bool) {
	if len(s) == 0 || len(s) > maxDigits {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + uint64(s[i]-'0')
	}
	return n, true
}

// isIceChar: ALPHA / DIGIT / "+" / "/" (RFC 8839 section 5.1).
func isIceChar(ch rune) bool {
	return ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '+' || ch == '/'
}

// isTokenChar is the token alphabet of RFC 8866 section 9.
func isTokenChar(ch rune) bool {
	if ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' {
		return true
	}
	return strings.ContainsRune("!#$%&'*+-.^_`{|}~", ch)
}

// isByteString: one or more bytes other than NUL, CR, LF (RFC 8866); inside
// one field a space cannot occur either.
func isByteString(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] == 0 || s[i] == '\r' || s[i] == '\n' {
			return false
		}
	}
	return true
}
