package nat

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"

	"github.com/pion/stun/v3"
)

const (
	// headerSize is the fixed STUN message header: type, length, magic
	// cookie, transaction ID (RFC 8489 section 5).
	headerSize = 20
	// magicCookie is the fixed header field that marks STUN (RFC 8489 section 5).
	magicCookie = 0x2112A442
	// maxMessageSize bounds the STUN messages this package looks at: one
	// Ethernet MTU. RFC 8489 section 6.1 keeps STUN over UDP well below it.
	maxMessageSize = 1500
	// maxUnknownListed bounds the UNKNOWN-ATTRIBUTES of a 420 response.
	maxUnknownListed = 16
	// maxAttributes is how many attributes a decoded message may have before
	// decoding grows a slice on the heap.
	maxAttributes = 16
)

// software is the SOFTWARE attribute value of the STUN server (RFC 8489
// section 14.14).
const software = "spurt"

// IsSTUN reports whether b looks like a STUN message: the first byte is in
// 0..3, the range RFC 7983 section 7 gives STUN when it shares a port with
// RTP/RTCP (first byte 128..191), and the header is whole with the magic
// cookie in place. Anything else on the media port is not STUN.
func IsSTUN(b []byte) bool {
	return len(b) >= headerSize && b[0] <= 3 && binary.BigEndian.Uint32(b[4:8]) == magicCookie
}

var (
	errNotSTUN     = errors.New("not a STUN message")
	errTooLarge    = fmt.Errorf("STUN message longer than %d bytes", maxMessageSize)
	errLength      = errors.New("STUN length field does not match the datagram")
	errFingerprint = errors.New("FINGERPRINT missing or not the last attribute")
)

// decode parses b, which must hold exactly one STUN message, into m without
// copying: m.Raw aliases b. A message made with stun.WithStrict drops the
// attributes after MESSAGE-INTEGRITY other than MESSAGE-INTEGRITY-SHA256 and
// FINGERPRINT, as RFC 8489 section 9 says to ignore them.
func decode(m *stun.Message, b []byte) error {
	if !IsSTUN(b) {
		return errNotSTUN
	}
	if len(b) > maxMessageSize {
		return errTooLarge
	}
	m.Raw = b
	if err := m.Decode(); err != nil {
		return fmt.Errorf("decoding STUN message: %w", err)
	}
	if int(m.Length)+headerSize != len(b) || m.Length%4 != 0 {
		return errLength
	}
	return nil
}

// checkFingerprint verifies a FINGERPRINT that must be present and last
// (RFC 8489 section 14.7).
func checkFingerprint(m *stun.Message) error {
	if n := len(m.Attributes); n == 0 || m.Attributes[n-1].Type != stun.AttrFingerprint {
		return errFingerprint
	}
	if err := stun.Fingerprint.Check(m); err != nil {
		return fmt.Errorf("checking FINGERPRINT: %w", err)
	}
	return nil
}

// fingerprintValid reports whether m has no FINGERPRINT or a valid last one.
func fingerprintValid(m *stun.Message) bool {
	if !m.Contains(stun.AttrFingerprint) {
		return true
	}
	return checkFingerprint(m) == nil
}

// understood lists the comprehension-required attributes (type below 0x8000)
// that Spurt's STUN server and connectivity checks know. The server has no
// use for the credentials and ICE attributes but knows what they are and
// ignores them; anything else makes a request fail with 420 (RFC 8489
// section 6.3.1).
func understood(t stun.AttrType) bool {
	switch t {
	case stun.AttrMappedAddress, stun.AttrUsername, stun.AttrMessageIntegrity,
		stun.AttrMessageIntegritySHA256, stun.AttrErrorCode, stun.AttrUnknownAttributes,
		stun.AttrXORMappedAddress, stun.AttrPriority, stun.AttrUseCandidate:
		return true
	}
	return t.Optional()
}

// unknownRequired appends to dst the comprehension-required attributes of m
// that are not understood, at most maxUnknownListed of them.
func unknownRequired(dst []stun.AttrType, m *stun.Message) []stun.AttrType {
	for _, a := range m.Attributes {
		if !understood(a.Type) && len(dst) < maxUnknownListed {
			dst = append(dst, a.Type)
		}
	}
	return dst
}

// xorAddress converts ap for the XOR-MAPPED-ADDRESS setter without
// allocating: ip must be a caller's 16-byte array. IPv4 and IPv4-mapped IPv6
// addresses are sent as IPv4.
func xorAddress(ip *[16]byte, ap netip.AddrPort) stun.XORMappedAddress {
	*ip = ap.Addr().As16()
	return stun.XORMappedAddress{IP: ip[:], Port: int(ap.Port())}
}

// addrPortOf converts a decoded STUN address to a netip.AddrPort, IPv4 as
// IPv4.
func addrPortOf(ip []byte, port int) (netip.AddrPort, bool) {
	addr, ok := netip.AddrFromSlice(ip)
	if !ok || port <= 0 || port > 0xFFFF {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}

// validPeer reports whether from is an address a reply may go to.
func validPeer(from netip.AddrPort) bool {
	a := from.Addr()
	return from.IsValid() && from.Port() != 0 && !a.IsUnspecified() && !a.IsMulticast()
}

// responder is a plain STUN server (RFC 8489) without authentication, with
// the messages it decodes into and builds in. handle answers a binding
// request that arrived from from by appending the success response, with
// XOR-MAPPED-ADDRESS set to from, SOFTWARE and FINGERPRINT, to dst. A request
// with comprehension-required attributes it does not know gets a 420 error
// response listing them, a request for another method a 400. It returns
// false, and dst unchanged, for anything that needs no answer: non-STUN
// bytes, responses, indications (keepalives), malformed messages, a bad
// FINGERPRINT, or an unusable from address.
// Their
// buffers are reused from call to call; pion's decoder lets them escape, so
// a per-call one would be allocated every time.
type responder struct {
	req, resp stun.Message
}

func newResponder() *responder {
	r := new(responder)
	r.req.Attributes = make([]stun.RawAttribute, 0, maxAttributes)
	r.resp.Attributes = make([]stun.RawAttribute, 0, 4)
	r.resp.Raw = make([]byte, 0, 128)
	return r
}

// handle answers one datagram with r's buffers.
func (r *responder) handle(pkt []byte, from netip.AddrPort, dst []byte) ([]byte, bool) {
	if !validPeer(from) {
		return dst, false
	}
	m := &r.req
	defer func() { m.Raw = nil }() // do not keep the caller's buffer
	if decode(m, pkt) != nil || m.Type.Class != stun.ClassRequest || !fingerprintValid(m) {
		return dst, false
	}
	var (
		unknownBuf [maxUnknownListed]stun.AttrType
		unknown    = stun.UnknownAttributes(unknownRequired(unknownBuf[:0], m))
	)
	if m.Type.Method != stun.MethodBinding {
		return appendError(dst, &r.resp, m, stun.CodeBadRequest, nil), true
	}
	if len(unknown) > 0 {
		return appendError(dst, &r.resp, m, stun.CodeUnknownAttribute, unknown), true
	}

	// The setters are called directly, not through Message.Build, whose
	// interface arguments would be moved to the heap.
	var (
		resp   = &r.resp
		ip     [16]byte
		mapped = xorAddress(&ip, from)
	)
	startMessage(resp, stun.BindingSuccess, m.TransactionID)
	if err := mapped.AddTo(resp); err != nil {
		return dst, false // cannot happen for a valid address; do not answer
	}
	resp.Add(stun.AttrSoftware, []byte(software))
	_ = stun.Fingerprint.AddTo(resp) // never fails
	return append(dst, resp.Raw...), true
}

// startMessage empties m and writes a header of type t with transaction ID
// id, as Message.Build does before its setters.
func startMessage(m *stun.Message, t stun.MessageType, id [stun.TransactionIDSize]byte) {
	m.Reset()
	m.Type = t
	m.TransactionID = id
	m.WriteHeader()
}

// appendError builds in resp an error response to req with the given code,
// UNKNOWN-ATTRIBUTES for a 420, and FINGERPRINT, and appends it to dst.
func appendError(dst []byte, resp, req *stun.Message, code stun.ErrorCode, unknown stun.UnknownAttributes) []byte {
	startMessage(resp, stun.NewType(req.Type.Method, stun.ClassErrorResponse), req.TransactionID)
	err := code.AddTo(resp)
	if err == nil && len(unknown) > 0 {
		err = unknown.AddTo(resp)
	}
	if err == nil {
		err = stun.Fingerprint.AddTo(resp)
	}
	if err != nil {
		return dst
	}
	return append(dst, resp.Raw...)
}

// Keepalive returns a STUN binding indication with FINGERPRINT and a fresh
// transaction ID: the keepalive RFC 8445 section 11 sends on the selected
// pair when no media flowed for a while. It needs no credentials and asks no
// answer.
func Keepalive() []byte {
	m := stun.New()
	kind := stun.NewType(stun.MethodBinding, stun.ClassIndication)
	if err := m.Build(stun.TransactionID, kind, stun.Fingerprint); err != nil {
		// The setters above cannot fail; keep the message valid anyway.
		return nil
	}
	return m.Raw
}
