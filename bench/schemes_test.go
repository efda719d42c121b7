package bench

import (
	"testing"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/media"
	"github.com/spurtvoip/spurt/signaling/negotiate"
)

// TestParseSchemeConfigs: the bench configures both directions alike, on
// the payload types a call negotiates, and words its errors as before.
func TestParseSchemeConfigs(t *testing.T) {
	pcma, err := codec.Default().ByName("PCMA")
	if err != nil {
		t.Fatal(err)
	}
	s, err := parseScheme("xor:3+interleave:4", pcma)
	if err != nil {
		t.Fatal(err)
	}
	if s.name != "interleave:4+xor:3" || s.red != nil ||
		*s.xor != (media.XORConfig{PayloadType: negotiate.ULPFECPayloadType, GroupSize: 3, PeerGroupSize: 3}) ||
		*s.il != (media.InterleaveConfig{PayloadType: negotiate.FirstInterleavePayloadType, Depth: 4, PeerDepth: 4}) {
		t.Errorf("scheme %q: red %+v, xor %+v, interleave %+v", s.name, s.red, s.xor, s.il)
	}
	s, err = parseScheme("RED:2", pcma)
	if err != nil {
		t.Fatal(err)
	}
	if s.name != "red:2" || s.red.PayloadType != negotiate.FirstREDPayloadType || s.red.Secondary.Name != negotiate.SecondaryName ||
		s.red.Distance != 2 || s.red.PeerDistance != 2 || s.xor != nil || s.il != nil {
		t.Errorf("scheme %q: red %+v, xor %+v, interleave %+v", s.name, s.red, s.xor, s.il)
	}
	gsm, err := codec.Default().ByName("GSM")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		in   string
		c    codec.Codec
		want string
	}{
		{"red:9", pcma, `bench: FEC scheme "red:9": want red:N with N from 1 to 4`},
		{"interleave:4+red", pcma, `bench: FEC scheme "interleave:4+red": want interleave:D+xor:N`},
		{"interleave:4", gsm, `bench: FEC scheme "interleave:4": interleaving needs G.711 (PCMU or PCMA), not GSM`},
	} {
		if _, err := parseScheme(tt.in, tt.c); err == nil || err.Error() != tt.want {
			t.Errorf("parseScheme(%q, %s): %v, want %q", tt.in, tt.c.Name, err, tt.want)
		}
	}
}
