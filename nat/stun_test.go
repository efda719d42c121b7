package nat

import (
	"bytes"
	"errors"
	"net/netip"
	"testing"

	"github.com/pion/stun/v3"
)

// buildMessage builds a STUN message with the given setters (a transaction ID
// is added first) and returns its bytes.
func buildMessage(t testing.TB, setters ...stun.Setter) (*stun.Message, []byte) {
	t.Helper()
	m, err := stun.Build(append([]stun.Setter{stun.TransactionID}, setters...)...)
	if err != nil {
		t.Fatalf("building STUN message: %v", err)
	}
	return m, append([]byte(nil), m.Raw...)
}

// decodeReply parses a reply and checks that it answers txID with a valid
// FINGERPRINT.
func decodeReply(t *testing.T, reply []byte, txID [stun.TransactionIDSize]byte) *stun.Message {
	t.Helper()
	m := new(stun.Message)
	if err := stun.Decode(reply, m); err != nil {
		t.Fatalf("reply does not decode: %v", err)
	}
	if m.TransactionID != txID {
		t.Fatalf("reply transaction ID %x, want %x", m.TransactionID, txID)
	}
	if err := stun.Fingerprint.Check(m); err != nil {
		t.Fatalf("reply FINGERPRINT: %v", err)
	}
	return m
}

func TestIsSTUN(t *testing.T) {
	_, req := buildMessage(t, stun.BindingRequest)
	rtp := []byte{0x80, 0x00, 0x00, 0x01, 0x21, 0x12, 0xA4, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	noCookie := bytes.Clone(req)
	noCookie[4] = 0
	highBits := bytes.Clone(req)
	highBits[0] |= 0x40
	tests := []struct {
		name string
		b    []byte
		want bool
	}{
		{"binding request", req, true},
		{"keepalive indication", Keepalive(), true},
		{"RTP with cookie-like bytes", rtp, false},
		{"wrong magic cookie", noCookie, false},
		{"first byte above 3", highBits, false},
		{"short header", req[:19], false},
		{"empty", nil, false},
	}
	for _, tt := range tests {
		if got := IsSTUN(tt.b); got != tt.want {
			t.Errorf("%s: IsSTUN = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestHandleSTUNAnswersBinding(t *testing.T) {
	tests := []struct {
		name string
		from netip.AddrPort
		want netip.AddrPort
	}{
		{"IPv4", netip.MustParseAddrPort("198.51.100.7:40000"), netip.MustParseAddrPort("198.51.100.7:40000")},
		{"IPv6", netip.MustParseAddrPort("[2001:db8::42]:5004"), netip.MustParseAddrPort("[2001:db8::42]:5004")},
		{"IPv4-mapped IPv6 answered as IPv4", netip.MustParseAddrPort("[::ffff:192.0.2.1]:9"), netip.MustParseAddrPort("192.0.2.1:9")},
		{"loopback", netip.MustParseAddrPort("127.0.0.1:1"), netip.MustParseAddrPort("127.0.0.1:1")},
	}
	for _, tt := range tests {
		for _, withFingerprint := range []bool{false, true} {
			setters := []stun.Setter{stun.BindingRequest}
			if withFingerprint {
				setters = append(setters, stun.Fingerprint)
			}
			req, raw := buildMessage(t, setters...)
			prefix := []byte("keep")
			reply, ok := handleSTUN(raw, tt.from, prefix)
			if !ok {
				t.Fatalf("%s: binding request not answered", tt.name)
			}
			if !bytes.HasPrefix(reply, []byte("keep")) {
				t.Fatalf("%s: reply does not append to dst", tt.name)
			}
			m := decodeReply(t, reply[len(prefix):], req.TransactionID)
			if m.Type != stun.BindingSuccess {
				t.Fatalf("%s: reply type %v", tt.name, m.Type)
			}
			var xa stun.XORMappedAddress
			if err := xa.GetFrom(m); err != nil {
				t.Fatalf("%s: XOR-MAPPED-ADDRESS: %v", tt.name, err)
			}
			got, _ := addrPortOf(xa.IP, xa.Port)
			if got != tt.want {
				t.Errorf("%s: XOR-MAPPED-ADDRESS %v, want %v", tt.name, got, tt.want)
			}
			var soft stun.Software
			if err := soft.GetFrom(m); err != nil || soft.String() != software {
				t.Errorf("%s: SOFTWARE %q (%v), want %q", tt.name, soft, err, software)
			}
		}
	}
}

func TestHandleSTUNErrors(t *testing.T) {
	from := netip.MustParseAddrPort("192.0.2.1:3478")
	tests := []struct {
		name        string
		setters     []stun.Setter
		wantCode    stun.ErrorCode
		wantUnknown []stun.AttrType
	}{
		{
			name:        "unknown comprehension-required attribute",
			setters:     []stun.Setter{stun.BindingRequest, stun.RawAttribute{Type: 0x7F01, Value: []byte{1}}, stun.Fingerprint},
			wantCode:    stun.CodeUnknownAttribute,
			wantUnknown: []stun.AttrType{0x7F01},
		},
		{
			name:     "other method",
			setters:  []stun.Setter{stun.NewType(stun.MethodAllocate, stun.ClassRequest)},
			wantCode: stun.CodeBadRequest,
		},
	}
	for _, tt := range tests {
		req, raw := buildMessage(t, tt.setters...)
		reply, ok := handleSTUN(raw, from, nil)
		if !ok {
			t.Fatalf("%s: not answered", tt.name)
		}
		m := decodeReply(t, reply, req.TransactionID)
		if m.Type.Class != stun.ClassErrorResponse || m.Type.Method != req.Type.Method {
			t.Fatalf("%s: reply type %v", tt.name, m.Type)
		}
		var code stun.ErrorCodeAttribute
		if err := code.GetFrom(m); err != nil || code.Code != tt.wantCode {
			t.Errorf("%s: error code %v (%v), want %v", tt.name, code.Code, err, tt.wantCode)
		}
		if tt.wantUnknown != nil {
			var unknown stun.UnknownAttributes
			if err := unknown.GetFrom(m); err != nil || len(unknown) != len(tt.wantUnknown) || unknown[0] != tt.wantUnknown[0] {
				t.Errorf("%s: UNKNOWN-ATTRIBUTES %v (%v), want %v", tt.name, unknown, err, tt.wantUnknown)
			}
		}
	}
}

func TestHandleSTUNIgnores(t *testing.T) {
	from := netip.MustParseAddrPort("192.0.2.1:3478")
	_, request := buildMessage(t, stun.BindingRequest, stun.Fingerprint)
	_, success := buildMessage(t, stun.BindingSuccess, &stun.XORMappedAddress{IP: from.Addr().AsSlice(), Port: 1})
	_, indication := buildMessage(t, stun.NewType(stun.MethodBinding, stun.ClassIndication))
	badFingerprint := bytes.Clone(request)
	badFingerprint[len(badFingerprint)-1] ^= 1
	trailing := append(bytes.Clone(request), 0, 0, 0, 0)
	truncated := request[:len(request)-4]
	tests := []struct {
		name string
		pkt  []byte
		from netip.AddrPort
	}{
		{"RTP", []byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}, from},
		{"success response", success, from},
		{"indication", indication, from},
		{"bad FINGERPRINT", badFingerprint, from},
		{"trailing bytes", trailing, from},
		{"truncated", truncated, from},
		{"oversized", append(bytes.Clone(request), make([]byte, maxMessageSize)...), from},
		{"zero source port", request, netip.MustParseAddrPort("192.0.2.1:0")},
		{"unspecified source", request, netip.MustParseAddrPort("0.0.0.0:1000")},
		{"invalid source", request, netip.AddrPort{}},
	}
	for _, tt := range tests {
		dst := []byte("x")
		reply, ok := handleSTUN(tt.pkt, tt.from, dst)
		if ok || !bytes.Equal(reply, []byte("x")) {
			t.Errorf("%s: answered (%v) or changed dst to %q", tt.name, ok, reply)
		}
	}
}

func TestKeepaliveIsIndication(t *testing.T) {
	a, b := Keepalive(), Keepalive()
	for _, k := range [][]byte{a, b} {
		var m stun.Message
		if err := decode(&m, k); err != nil {
			t.Fatalf("keepalive does not decode: %v", err)
		}
		if m.Type != stun.NewType(stun.MethodBinding, stun.ClassIndication) {
			t.Errorf("keepalive type %v, want binding indication", m.Type)
		}
		if err := checkFingerprint(&m); err != nil {
			t.Errorf("keepalive: %v", err)
		}
	}
	if bytes.Equal(a[8:20], b[8:20]) {
		t.Error("two keepalives share a transaction ID")
	}
}

func TestDecodeDropsAttributesAfterIntegrity(t *testing.T) {
	_, raw := buildMessage(t, stun.BindingRequest, stun.NewShortTermIntegrity("pass"), stun.NewUsername("late:comer"), stun.Fingerprint)
	m := stun.NewWithOptions(stun.WithStrict(true))
	if err := decode(m, raw); err != nil {
		t.Fatal(err)
	}
	if m.Contains(stun.AttrUsername) {
		t.Error("USERNAME after MESSAGE-INTEGRITY was kept")
	}
	if !m.Contains(stun.AttrFingerprint) {
		t.Error("FINGERPRINT after MESSAGE-INTEGRITY was dropped")
	}
	if err := decode(m, append(bytes.Clone(raw), 0, 0, 0, 0)); !errors.Is(err, errLength) {
		t.Errorf("trailing bytes: %v, want errLength", err)
	}
	if err := decode(m, raw[:len(raw)-1]); err == nil {
		t.Error("truncated message decodes")
	}
}

func TestHandleSTUNAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	_, req := buildMessage(t, stun.BindingRequest, stun.Fingerprint)
	from := netip.MustParseAddrPort("203.0.113.9:61000")
	dst := make([]byte, 0, 128)
	r := newResponder()
	allocs := testing.AllocsPerRun(200, func() {
		if _, ok := r.handle(req, from, dst[:0]); !ok {
			t.Fatal("not answered")
		}
	})
	if allocs != 0 {
		t.Errorf("the server's responder allocates %v times per request, want 0", allocs)
	}
}

// BenchmarkHandleSTUN measures the server's per-packet path.
func BenchmarkHandleSTUN(b *testing.B) {
	_, req := buildMessage(b, stun.BindingRequest, stun.Fingerprint)
	from := netip.MustParseAddrPort("203.0.113.9:61000")
	dst := make([]byte, 0, 128)
	r := newResponder()
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := r.handle(req, from, dst[:0]); !ok {
			b.Fatal("not answered")
		}
	}
}

func FuzzHandleSTUN(f *testing.F) {
	for _, setters := range [][]stun.Setter{
		{stun.BindingRequest},
		{stun.BindingRequest, stun.Fingerprint},
		{stun.BindingRequest, stun.NewUsername("a:b"), stun.NewShortTermIntegrity("p"), stun.Fingerprint},
		{stun.BindingRequest, stun.RawAttribute{Type: 0x0003, Value: []byte{0, 0, 0, 0}}},
		{stun.BindingSuccess, &stun.XORMappedAddress{IP: []byte{1, 2, 3, 4}, Port: 5}},
	} {
		_, raw := buildMessage(f, setters...)
		f.Add(raw)
	}
	from := netip.MustParseAddrPort("192.0.2.1:3478")
	f.Fuzz(func(t *testing.T, pkt []byte) {
		reply, ok := handleSTUN(pkt, from, nil)
		if !ok {
			if reply != nil {
				t.Fatal("dst changed without an answer")
			}
			return
		}
		var req, resp stun.Message
		if err := decode(&req, pkt); err != nil {
			t.Fatalf("answered a message that does not decode: %v", err)
		}
		if err := decode(&resp, reply); err != nil {
			t.Fatalf("reply does not decode: %v", err)
		}
		if resp.TransactionID != req.TransactionID || resp.Type.Class == stun.ClassRequest {
			t.Fatalf("reply %v does not answer %v", resp.Type, req.Type)
		}
		if err := checkFingerprint(&resp); err != nil {
			t.Fatalf("reply: %v", err)
		}
	})
}

// handleSTUN answers one datagram with a fresh responder.
func handleSTUN(req []byte, from netip.AddrPort, dst []byte) ([]byte, bool) {
	return newResponder().handle(req, from, dst)
}
