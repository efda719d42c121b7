// Package gsm owns the GSM 06.10 full-rate speech codec (ETSI EN 300 961,
// RTP payload type 3 "GSM", RFC 3551 section 4.5.8): 160 samples of 8 kHz
// speech per 20 ms frame coded by RPE-LTP into 260 bits, carried as 33 bytes
// with a 0xD signature nibble in the layout of libgsm and RFC 3551.
//
// Encoder and Decoder follow the fixed-point algorithm of GSM 06.10 section 4
// step by step, with its saturating 16- and 32-bit arithmetic, so their
// output is bit-exact with libgsm (toast and untoast) in its default,
// standard-conforming mode. Both are clockless state machines that allocate
// nothing once dst has room.
package gsm

// Frame geometry.
const (
	FrameSize    = 33  // bytes per coded frame, signature included
	FrameSamples = 160 // 8 kHz samples per frame (20 ms)
)
