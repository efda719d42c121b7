package nat

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v3"
)

// TestBindingRetransmits drives a Binding's clock by hand: requests at 0,
// 500 ms and 1.5 s (RTO doubling), then the final wait, then no answer.
func TestBindingRetransmits(t *testing.T) {
	server := netip.MustParseAddrPort("192.0.2.1:3478")
	b, err := NewBinding(server, 3, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	steps := []struct {
		at       time.Duration
		wantSend bool
		wantDone bool
	}{
		{ms(100), true, false}, // the first call sends at once
		{ms(100), false, false},
		{ms(599), false, false},
		{ms(600), true, false},
		{ms(1599), false, false},
		{ms(1600), true, false},
		{ms(2000), false, false},
		{ms(2599), false, false},
		{ms(2600), false, true},
		{ms(9000), false, true},
	}
	var first []byte
	for i, s := range steps {
		req, sent := b.Next(s.at)
		if sent != s.wantSend {
			t.Fatalf("step %d at %v: sent %v, want %v", i, s.at, sent, s.wantSend)
		}
		if sent {
			if first == nil {
				first = append([]byte(nil), req...)
			} else if string(req) != string(first) {
				t.Errorf("step %d: a retransmission differs from the first request", i)
			}
		}
		if done := b.Done(s.at); done != s.wantDone {
			t.Fatalf("step %d at %v: done %v, want %v", i, s.at, done, s.wantDone)
		}
	}
	_, err = b.Result()
	if !errors.Is(err, ErrNoResponse) || !strings.Contains(err.Error(), "3 requests in 2.5s") {
		t.Errorf("Result: %v, want no response after 3 requests in 2.5s", err)
	}
	m := &stun.Message{Raw: first}
	if m.Decode() != nil || m.Type != stun.BindingRequest || fingerprintValid(m) != true {
		t.Errorf("request is not a binding request with FINGERPRINT: %v", m)
	}
}

// TestBindingAnswers feeds a Binding answers of every kind: only the
// server's answer to its own transaction counts.
func TestBindingAnswers(t *testing.T) {
	server := netip.MustParseAddrPort("192.0.2.1:3478")
	us := netip.MustParseAddrPort("198.51.100.7:40001")
	respond := func(req []byte, from netip.AddrPort) []byte {
		resp, ok := handleSTUN(req, from, nil)
		if !ok {
			t.Fatal("the server did not answer the request")
		}
		return resp
	}
	errorResponse := func(id [stun.TransactionIDSize]byte) []byte {
		m, err := stun.Build(stun.NewTransactionIDSetter(id), stun.NewType(stun.MethodBinding, stun.ClassErrorResponse),
			stun.CodeBadRequest, stun.Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		return m.Raw
	}
	other, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		answer     func(req []byte) ([]byte, netip.AddrPort)
		wantMatch  bool
		wantMapped netip.AddrPort
		wantErr    string
	}{
		{"success", func(req []byte) ([]byte, netip.AddrPort) { return respond(req, us), server }, true, us, ""},
		{"from elsewhere", func(req []byte) ([]byte, netip.AddrPort) {
			return respond(req, us), netip.MustParseAddrPort("192.0.2.1:3479")
		}, false, netip.AddrPort{}, ""},
		{"another transaction", func([]byte) ([]byte, netip.AddrPort) { return respond(other.Raw, us), server }, false, netip.AddrPort{}, ""},
		{"error response", func(req []byte) ([]byte, netip.AddrPort) {
			var m stun.Message
			m.Raw = req
			if err := m.Decode(); err != nil {
				t.Fatal(err)
			}
			return errorResponse(m.TransactionID), server
		}, true, netip.AddrPort{}, "error response 400"},
		{"not STUN", func([]byte) ([]byte, netip.AddrPort) { return []byte{0x80, 0, 0, 1}, server }, false, netip.AddrPort{}, ""},
		{"a request", func(req []byte) ([]byte, netip.AddrPort) { return req, server }, false, netip.AddrPort{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := NewBinding(server, 3, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			req, ok := b.Next(0)
			if !ok {
				t.Fatal("no first request")
			}
			pkt, from := tt.answer(req)
			if got := b.Handle(pkt, from); got != tt.wantMatch {
				t.Fatalf("Handle = %v, want %v", got, tt.wantMatch)
			}
			if b.Done(time.Millisecond) != tt.wantMatch {
				t.Fatalf("Done = %v, want %v", !tt.wantMatch, tt.wantMatch)
			}
			if !tt.wantMatch {
				return
			}
			mapped, err := b.Result()
			if mapped != tt.wantMapped || (err == nil) != (tt.wantErr == "") || (err != nil && !strings.Contains(err.Error(), tt.wantErr)) {
				t.Errorf("Result = %v, %v; want %v, %q", mapped, err, tt.wantMapped, tt.wantErr)
			}
			if _, again := b.Next(10 * time.Second); again {
				t.Error("a request after the answer")
			}
		})
	}
	if _, err := NewBinding(netip.MustParseAddrPort("0.0.0.0:3478"), 3, time.Second); err == nil {
		t.Error("NewBinding accepted an unspecified server address")
	}
}

func FuzzBindingHandle(f *testing.F) {
	server := netip.MustParseAddrPort("192.0.2.1:3478")
	b, err := NewBinding(server, 1, time.Second)
	if err != nil {
		f.Fatal(err)
	}
	req, _ := b.Next(0)
	resp, _ := handleSTUN(req, netip.MustParseAddrPort("198.51.100.7:1"), nil)
	f.Add(resp)
	f.Add(req)
	f.Add([]byte{0, 1, 0, 0, 0x21, 0x12, 0xA4, 0x42})
	f.Fuzz(func(t *testing.T, pkt []byte) {
		b, err := NewBinding(server, 1, time.Second)
		if err != nil {
			t.Fatal(err)
		}
		b.Next(0)
		if b.Handle(pkt, server) {
			if _, err := b.Result(); err == nil && !b.Done(0) {
				t.Fatal("answered but not done")
			}
		}
	})
}
