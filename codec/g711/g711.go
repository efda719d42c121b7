// Package g711 owns ITU-T G.711 companding: mu-law (PCMU) and A-law (PCMA)
// conversion between 16-bit linear PCM and 8-bit codes.
//
// Encoding follows the ITU-T G.711 quantisation tables as the ITU-T G.191
// reference software applies them to 16-bit input: mu-law uses the 14 most
// significant bits and A-law the 13 most significant bits, a negative sample
// is folded onto the positive scale by ones' complement (so x and -1-x get the
// same magnitude), and a value that falls exactly on a decision value is coded
// into the interval above it. Decoding yields each code's reconstruction value
// scaled to 16 bits. The functions are pure; the Append ones allocate only
// when dst lacks capacity.
package g711

import (
	"math/bits"
	"slices"
)

const (
	// mulawBias is the G.711 mu-law bias (33) on the 14-bit magnitude; it is
	// 0x84 (132) on the 16-bit scale.
	mulawBias = 33
	// mulawMaxBiased caps a biased 14-bit mu-law magnitude at the top of segment 7.
	mulawMaxBiased = 0x1FFF
	// alawEvenBits is XORed into every A-law code (ITU-T G.711 inverts the even bits).
	alawEvenBits = 0x55
	// signPositive is the sign bit of a code for a non-negative sample, before
	// the mu-law inversion / A-law even-bit inversion of the other bits.
	signPositive = 0x80
)

// mulawDecodeTable and alawDecodeTable map each 8-bit code to its 16-bit
// reconstruction value. They are filled once at package initialisation and
// never written afterwards.
var (
	mulawDecodeTable = buildDecodeTable(decodeMulawArithmetic)
	alawDecodeTable  = buildDecodeTable(decodeAlawArithmetic)
)

func buildDecodeTable(decode func(byte) int16) (table [256]int16) {
	for code := range table {
		table[code] = decode(byte(code))
	}
	return table
}

// magnitudeAndSign splits a 16-bit sample into a non-negative magnitude (ones'
// complement for negative samples, as the ITU-T G.191 reference does) and the
// code's sign bit.
func magnitudeAndSign(s int16) (magnitude int, sign byte) {
	if s < 0 {
		return int(^s), 0
	}
	return int(s), signPositive
}

// EncodeMulaw compands one 16-bit linear sample to a G.711 mu-law code.
func EncodeMulaw(s int16) byte {
	magnitude, sign := magnitudeAndSign(s)
	biased := magnitude>>2 + mulawBias // 14-bit magnitude plus bias: 33..8224
	if biased > mulawMaxBiased {
		biased = mulawMaxBiased
	}
	// The biased value lies in [32<<segment, 64<<segment); its top bit selects
	// the segment and the next four bits are the step within the segment.
	segment := bits.Len(uint(biased)) - 6
	step := (biased >> (segment + 1)) & 0x0F
	// mu-law transmits the ones' complement of sign, segment and step; the
	// sign bit is already stored inverted (1 = positive).
	return sign | (byte(segment<<4|step) ^ 0x7F)
}

// DecodeMulaw expands a G.711 mu-law code to a 16-bit linear sample.
func DecodeMulaw(b byte) int16 {
	return mulawDecodeTable[b]
}

func decodeMulawArithmetic(b byte) int16 {
	code := ^b
	segment := int(code>>4) & 0x07
	step := int(code) & 0x0F
	// Reconstruction value on the 14-bit scale is ((2*step+33) << segment) - 33,
	// the midpoint of the step's decision interval; times 4 for 16 bits.
	magnitude := ((step<<3 + mulawBias<<2) << segment) - mulawBias<<2
	if code&0x80 != 0 {
		return int16(-magnitude)
	}
	return int16(magnitude)
}

// EncodeAlaw compands one 16-bit linear sample to a G.711 A-law code.
func EncodeAlaw(s int16) byte {
	magnitude, sign := magnitudeAndSign(s)
	// Segments 0 and 1 both step by 16 on the 16-bit scale, so the 12-bit
	// magnitude's least significant bit never matters: work on 11 bits.
	m := magnitude >> 4 // 0..2047
	var code int
	if m < 16 {
		code = m // segment 0, step m
	} else {
		// m lies in [16<<(segment-1), 32<<(segment-1)).
		segment := bits.Len(uint(m)) - 4
		step := (m >> (segment - 1)) & 0x0F
		code = segment<<4 | step
	}
	return (sign | byte(code)) ^ alawEvenBits
}

// DecodeAlaw expands a G.711 A-law code to a 16-bit linear sample.
func DecodeAlaw(b byte) int16 {
	return alawDecodeTable[b]
}

func decodeAlawArithmetic(b byte) int16 {
	code := b ^ alawEvenBits
	segment := int(code>>4) & 0x07
	step := int(code) & 0x0F
	// Reconstruction value is the midpoint of the step's decision interval.
	magnitude := step<<4 + 8
	if segment > 0 {
		magnitude = (step<<4 + 0x108) << (segment - 1)
	}
	if code&signPositive != 0 {
		return int16(magnitude)
	}
	return int16(-magnitude)
}

// AppendMulaw appends the mu-law codes of pcm to dst and returns the extended
// slice. It allocates only if dst lacks capacity.
func AppendMulaw(dst []byte, pcm []int16) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(pcm))[:n+len(pcm)]
	out := dst[n : n+len(pcm)]
	for i, s := range pcm {
		out[i] = EncodeMulaw(s)
	}
	return dst
}

// AppendAlaw appends the A-law codes of pcm to dst and returns the extended
// slice. It allocates only if dst lacks capacity.
func AppendAlaw(dst []byte, pcm []int16) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(pcm))[:n+len(pcm)]
	out := dst[n : n+len(pcm)]
	for i, s := range pcm {
		out[i] = EncodeAlaw(s)
	}
	return dst
}

// AppendDecodedMulaw appends the samples of the mu-law codes b to dst and
// returns the extended slice. It allocates only if dst lacks capacity.
func AppendDecodedMulaw(dst []int16, b []byte) []int16 {
	n := len(dst)
	dst = slices.Grow(dst, len(b))[:n+len(b)]
	out := dst[n : n+len(b)]
	for i, code := range b {
		out[i] = mulawDecodeTable[code]
	}
	return dst
}

// AppendDecodedAlaw appends the samples of the A-law codes b to dst and
// returns the extended slice. It allocates only if dst lacks capacity.
func AppendDecodedAlaw(dst []int16, b []byte) []int16 {
	n := len(dst)
	dst = slices.Grow(dst, len(b))[:n+len(b)]
	out := dst[n : n+len(b)]
	for i, code := range b {
		out[i] = alawDecodeTable[code]
	}
	return dst
}
