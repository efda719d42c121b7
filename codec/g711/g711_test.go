package g711

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// The oracles below code a sample by looking it up in the quantisation tables
// of ITU-T G.711 (Table 2a mu-law, Table 1a A-law) written out as segment rows,
// independently of the bit manipulation the encoder uses.

// mulawRow is one segment of the mu-law table on the 14-bit magnitude scale:
// the magnitudes top down to top-(intervals*width)+1 are coded firstCode+n for
// interval n counted from the top.
type mulawRow struct {
	top, intervals, width int
	firstCode             byte
}

var mulawTable = []mulawRow{
	{8158, 16, 256, 0x80},
	{4062, 16, 128, 0x90},
	{2014, 16, 64, 0xA0},
	{990, 16, 32, 0xB0},
	{478, 16, 16, 0xC0},
	{222, 16, 8, 0xD0},
	{94, 16, 4, 0xE0},
	{30, 15, 2, 0xF0},
	{0, 1, 1, 0xFF},
}

func mulawOracle(s int16) byte {
	magnitude, positive := int(s), true
	if s < 0 {
		magnitude, positive = int(^s), false // ones' complement fold (G.191)
	}
	m := magnitude >> 2 // 14 most significant bits
	if m > 8158 {
		m = 8158 // beyond the last decision value: the top code
	}
	for _, row := range mulawTable {
		bottom := row.top - row.intervals*row.width + 1
		if m < bottom {
			continue
		}
		code := row.firstCode + byte((row.top-m)/row.width)
		if !positive {
			code &^= 0x80
		}
		return code
	}
	panic("mu-law oracle table has a gap")
}

// alawRow is one segment of the A-law table on the 12-bit magnitude scale
// (16-bit magnitude >> 3): magnitudes from start on, in steps of width, code
// segment<<4 | step before the even-bit inversion.
type alawRow struct{ start, width, segment int }

var alawTable = []alawRow{
	{0, 2, 0}, {32, 2, 1}, {64, 4, 2}, {128, 8, 3},
	{256, 16, 4}, {512, 32, 5}, {1024, 64, 6}, {2048, 128, 7},
}

func alawOracle(s int16) byte {
	magnitude, sign := int(s), byte(0x80)
	if s < 0 {
		magnitude, sign = int(^s), 0
	}
	m := magnitude >> 3
	for i := len(alawTable) - 1; i >= 0; i-- {
		row := alawTable[i]
		if m >= row.start {
			return (sign | byte(row.segment<<4) | byte((m-row.start)/row.width)) ^ 0x55
		}
	}
	panic("A-law oracle table has a gap")
}

func allSamples() []int16 {
	pcm := make([]int16, 0, 1<<16)
	for v := -32768; v <= 32767; v++ {
		pcm = append(pcm, int16(v))
	}
	return pcm
}

func TestEncodeFollowsG711Tables(t *testing.T) {
	tests := []struct {
		name   string
		encode func(int16) byte
		oracle func(int16) byte
	}{
		{"mu-law", EncodeMulaw, mulawOracle},
		{"A-law", EncodeAlaw, alawOracle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bad := 0
			for _, s := range allSamples() {
				if got, want := tt.encode(s), tt.oracle(s); got != want {
					if bad++; bad <= 10 {
						t.Errorf("encode(%d) = %#02x, G.711 table gives %#02x", s, got, want)
					}
				}
			}
			if bad > 10 {
				t.Errorf("... %d samples coded differently from the G.711 table", bad)
			}
		})
	}
}

func TestKnownCodes(t *testing.T) {
	// Fixed points of G.711 and RFC 3551 practice: the two zeros, the extremes,
	// and the idle/silence codes.
	tests := []struct {
		name   string
		sample int16
		code   byte
		decode func(byte) int16
		encode func(int16) byte
		value  int16 // reconstruction value of code
	}{
		{"mu-law +0", 0, 0xFF, DecodeMulaw, EncodeMulaw, 0},
		{"mu-law -1", -1, 0x7F, DecodeMulaw, EncodeMulaw, 0},
		{"mu-law max", 32767, 0x80, DecodeMulaw, EncodeMulaw, 32124},
		{"mu-law min", -32768, 0x00, DecodeMulaw, EncodeMulaw, -32124},
		{"mu-law 14-bit 31 starts segment 1", 31 << 2, 0xEF, DecodeMulaw, EncodeMulaw, 33 << 2},
		{"mu-law 14-bit 30 ends segment 0", 30 << 2, 0xF0, DecodeMulaw, EncodeMulaw, 30 << 2},
		{"A-law +0", 0, 0xD5, DecodeAlaw, EncodeAlaw, 8},
		{"A-law -1", -1, 0x55, DecodeAlaw, EncodeAlaw, -8},
		{"A-law max", 32767, 0xAA, DecodeAlaw, EncodeAlaw, 32256},
		{"A-law min", -32768, 0x2A, DecodeAlaw, EncodeAlaw, -32256},
		{"A-law segment 2 start", 512, 0xF5, DecodeAlaw, EncodeAlaw, 528},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.encode(tt.sample); got != tt.code {
				t.Errorf("encode(%d) = %#02x, want %#02x", tt.sample, got, tt.code)
			}
			if got := tt.decode(tt.code); got != tt.value {
				t.Errorf("decode(%#02x) = %d, want %d", tt.code, got, tt.value)
			}
		})
	}
}

func TestDecodeIsMidpointAndReencodes(t *testing.T) {
	tests := []struct {
		name   string
		encode func(int16) byte
		decode func(byte) int16
	}{
		{"mu-law", EncodeMulaw, DecodeMulaw},
		{"A-law", EncodeAlaw, DecodeAlaw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Find each code's decision interval from the encoder, then check
			// the decoder returns a value inside it (the G.711 output value is
			// the interval's midpoint, give or take the ones' complement
			// fold and the 14/13-bit truncation).
			lo := map[byte]int{}
			hi := map[byte]int{}
			for _, s := range allSamples() {
				c := tt.encode(s)
				if _, ok := lo[c]; !ok {
					lo[c] = int(s)
				}
				hi[c] = int(s)
			}
			for code := range 256 {
				c := byte(code)
				v := int(tt.decode(c))
				l, ok := lo[c]
				if !ok {
					t.Errorf("code %#02x is never produced by the encoder", c)
					continue
				}
				h := hi[c]
				if tt.name == "mu-law" && c == 0x7F {
					// Negative zero: G.711 outputs 0 for both zero codes, so
					// its value lies just outside its interval [-4, -1].
					if v != 0 {
						t.Errorf("decode(0x7f) = %d, want 0", v)
					}
					continue
				}
				if v < l || v > h {
					t.Errorf("decode(%#02x) = %d, outside its decision interval [%d, %d]", c, v, l, h)
				}
				if got := tt.encode(int16(v)); got != c {
					t.Errorf("encode(decode(%#02x)) = %#02x", c, got)
				}
				// Interior intervals: the value is the midpoint to within the
				// input truncation (4 for mu-law, 16 for A-law) and clipping.
				if l > -30000 && h < 30000 {
					if mid := (l + h) / 2; abs(v-mid) > 16 {
						t.Errorf("decode(%#02x) = %d, interval [%d, %d] midpoint %d", c, v, l, h, mid)
					}
				}
			}
		})
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

func TestCompandingIsMonotonic(t *testing.T) {
	for _, tt := range []struct {
		name   string
		encode func(int16) byte
		decode func(byte) int16
	}{{"mu-law", EncodeMulaw, DecodeMulaw}, {"A-law", EncodeAlaw, DecodeAlaw}} {
		t.Run(tt.name, func(t *testing.T) {
			prev := tt.decode(tt.encode(-32768))
			for _, s := range allSamples() {
				got := tt.decode(tt.encode(s))
				if got < prev {
					t.Fatalf("decode(encode(%d)) = %d < decode(encode(%d)) = %d", s, got, s-1, prev)
				}
				prev = got
			}
		})
	}
}

func TestAppendMatchesScalar(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	pcm := make([]int16, 1000)
	for i := range pcm {
		pcm[i] = int16(rng.IntN(1 << 16))
	}
	prefix := []byte{1, 2, 3}
	tests := []struct {
		name      string
		appendEnc func([]byte, []int16) []byte
		appendDec func([]int16, []byte) []int16
		encode    func(int16) byte
		decode    func(byte) int16
	}{
		{"mu-law", AppendMulaw, AppendDecodedMulaw, EncodeMulaw, DecodeMulaw},
		{"A-law", AppendAlaw, AppendDecodedAlaw, EncodeAlaw, DecodeAlaw},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			enc := tt.appendEnc(slices.Clone(prefix), pcm)
			if len(enc) != len(prefix)+len(pcm) || !slices.Equal(enc[:3], prefix) {
				t.Fatalf("AppendX kept prefix %v and length %d", enc[:3], len(enc))
			}
			for i, s := range pcm {
				if enc[3+i] != tt.encode(s) {
					t.Fatalf("sample %d: appended %#02x, scalar %#02x", i, enc[3+i], tt.encode(s))
				}
			}
			dec := tt.appendDec([]int16{-7}, enc[3:])
			if len(dec) != 1+len(pcm) || dec[0] != -7 {
				t.Fatalf("AppendDecodedX kept prefix %d and length %d", dec[0], len(dec))
			}
			for i, c := range enc[3:] {
				if dec[1+i] != tt.decode(c) {
					t.Fatalf("code %d: appended %d, scalar %d", i, dec[1+i], tt.decode(c))
				}
			}
			if got := tt.appendEnc(nil, nil); len(got) != 0 {
				t.Errorf("appending nothing gave %v", got)
			}
		})
	}
}

func TestAppendDoesNotAllocateWithCapacity(t *testing.T) {
	pcm := make([]int16, 160)
	payload := make([]byte, 0, 160)
	out := make([]int16, 0, 160)
	allocs := testing.AllocsPerRun(100, func() {
		payload = AppendMulaw(payload[:0], pcm)
		payload = AppendAlaw(payload[:0], pcm)
		out = AppendDecodedMulaw(out[:0], payload)
		out = AppendDecodedAlaw(out[:0], payload)
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

func speechLikeFrame() []int16 {
	pcm := make([]int16, 160)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range pcm {
		pcm[i] = int16(rng.NormFloat64() * 3000)
	}
	return pcm
}

func BenchmarkEncodeMulawFrame(b *testing.B) {
	pcm := speechLikeFrame()
	payload := make([]byte, 0, len(pcm))
	b.ReportAllocs()
	b.SetBytes(int64(len(pcm) * 2))
	for b.Loop() {
		payload = AppendMulaw(payload[:0], pcm)
	}
}

func BenchmarkEncodeAlawFrame(b *testing.B) {
	pcm := speechLikeFrame()
	payload := make([]byte, 0, len(pcm))
	b.ReportAllocs()
	b.SetBytes(int64(len(pcm) * 2))
	for b.Loop() {
		payload = AppendAlaw(payload[:0], pcm)
	}
}

func BenchmarkDecodeMulawFrame(b *testing.B) {
	payload := AppendMulaw(nil, speechLikeFrame())
	pcm := make([]int16, 0, len(payload))
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		pcm = AppendDecodedMulaw(pcm[:0], payload)
	}
}

func BenchmarkDecodeAlawFrame(b *testing.B) {
	payload := AppendAlaw(nil, speechLikeFrame())
	pcm := make([]int16, 0, len(payload))
	b.ReportAllocs()
	b.SetBytes(int64(len(payload)))
	for b.Loop() {
		pcm = AppendDecodedAlaw(pcm[:0], payload)
	}
}
