package fec

import (
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"math/bits"
	"math/rand/v2"

	"github.com/pion/rtp"
)

// Layout of an RFC 5109 ULPFEC packet after its RTP
// header: the 10-byte FEC header
//
//	|E|L|P|X|  CC   |M| PT recovery |            SN base            |
//	|                          TS recovery                          |
//	|        length recovery        |
//
// then one ULP level header (level 0)
//
//	|       Protection Length       |             mask              |
//	|              mask cont. (present only when L = 1)             |
//
// then the level 0 payload: protection-length bytes of XOR.
const (
	fecHeaderSize      = 10
	ulpHeaderShortSize = 4 // 16-bit mask (L = 0)
	ulpHeaderLongSize  = 8 // 48-bit mask (L = 1)
	shortMaskBits      = 16
	longMaskBits       = 48
	fecLongMaskFlag    = 0x40 // L bit in the FEC header's first byte
	fecExtensionFlag   = 0x80 // E bit, reserved by RFC 5109 and always 0
	recoveredBits0Mask = 0x3f // P, X and CC: the first byte without V (or E and L)

	maxFECPacketSize = rtpHeaderSize + fecHeaderSize + ulpHeaderLongSize + maxProtectedBytes
)

// MinGroupSize and MaxGroupSize bound the n of NewXOREncoder: how many media
// packets one FEC packet protects.
const (
	MinGroupSize = 2
	MaxGroupSize = 24
)

// maskBit returns the bit that stands for the packet offset places after SN
// base, in a mask held in the low 48 bits of a uint64 in wire order: offset 0
// is the most significant of the 48, and a short (16-bit) mask is the top 16.
func maskBit(offset int) uint64 { return 1 << (longMaskBits - 1 - offset) }

// maskSpan returns how many sequence numbers a mask covers, from SN base to
// its last protected packet; 0 for an empty mask.
func maskSpan(mask uint64) int {
	if mask == 0 {
		return 0
	}
	return longMaskBits - bits.TrailingZeros64(mask)
}

// XOREncoder makes RFC 5109 ULPFEC packets for one outgoing media stream: one
// FEC packet for every n media packets, protecting the n whole packets (one
// level 0, protection length = the longest of them). Any one of the n can then
// be rebuilt from the other n-1 and the FEC packet.
//
// The FEC packets form their own RTP stream, as RFC 5109 describes for FEC
// sent as a separate stream:
//   - payload type: the fecPT given to NewXOREncoder (dynamic, from signalling);
//   - sequence numbers: their own sequence, one higher than the previous FEC
//     packet's, starting at a random value (RFC 3550 section 5.1); they never
//     take numbers from the media's sequence space, so the media stream's
//     loss statistics are untouched once a receiver sets FEC apart by payload type;
//   - timestamp: the media RTP clock when the FEC packet is sent, taken as the
//     timestamp of the last media packet it protects (the FEC packet goes out
//     right after it), so FEC timestamps never decrease;
//   - SSRC: the ssrc given to NewXOREncoder, normally the media stream's own;
//   - marker 0, no padding, extension or CSRCs.
//
// An XOREncoder is not safe for concurrent use.
type XOREncoder struct {
	n     int
	fecPT uint8
	ssrc  uint32
	seq   uint16 // sequence number of the next FEC packet

	media rtp.Header // reused to parse each media packet

	// The group being built.
	count      int    // media packets added to it
	base       uint16 // SN base: the first media packet's sequence number
	mask       uint64 // protected offsets from base, see maskBit
	bits0      byte   // XOR of the media packets' first bytes (V P X CC)
	bits1      byte   // XOR of their second bytes (M PT)
	tsXOR      uint32
	lengthXOR  uint16 // XOR of len(packet) - 12
	protection int    // longest len(packet) - 12 so far
	lastTS     uint32 // timestamp of the latest media packet
	payload    [maxProtectedBytes]byte

	out [maxFECPacketSize]byte
}

// NewXOREncoder returns an encoder that makes one FEC packet, with payload
// type fecPT and SSRC ssrc, for every n media packets (MinGroupSize to
// MaxGroupSize; masks of more than 16 packets use RFC 5109's long mask, L=1).
func NewXOREncoder(n int, fecPT uint8, ssrc uint32) (*XOREncoder, error) {
	if n < MinGroupSize || n > MaxGroupSize {
		return nil, fmt.Errorf("fec: group size %d is outside %d..%d", n, MinGroupSize, MaxGroupSize)
	}
	if fecPT > maxPayloadType {
		return nil, fmt.Errorf("fec: FEC payload type %d is not a 7-bit RTP payload type", fecPT)
	}
	return &XOREncoder{n: n, fecPT: fecPT, ssrc: ssrc, seq: uint16(rand.Uint32())}, nil
}

// Add takes the next outgoing media RTP packet (whole, header included) in
// sending order. After every n packets it returns the FEC packet protecting
// them, with ok true; the slice is valid until the next call to Add or Flush.
//
// The packets of a group must have distinct sequence numbers within 48 of the
// group's first (consecutive numbers, as a sender makes them, always are). A
// packet that is not RTP version 2, is longer than MaxPacketSize or does not
// fit the group is rejected with an error and left unprotected; the group goes on.
func (e *XOREncoder) Add(media []byte) (fecPacket []byte, ok bool, err error) {
	if len(media) > MaxPacketSize {
		return nil, false, fmt.Errorf("fec: media packet of %d bytes is longer than %d", len(media), MaxPacketSize)
	}
	if _, err := e.media.Unmarshal(media); err != nil {
		return nil, false, fmt.Errorf("fec: media packet: %w", err)
	}
	if e.media.Version != rtpVersion {
		return nil, false, fmt.Errorf("fec: media packet has RTP version %d, want %d", e.media.Version, rtpVersion)
	}
	seq := e.media.SequenceNumber
	if e.count == 0 {
		e.base = seq
	}
	offset := int(seq - e.base)
	if offset >= longMaskBits || e.mask&maskBit(offset) != 0 {
		return nil, false, fmt.Errorf("fec: media sequence number %d does not fit the group starting at %d", seq, e.base)
	}

	e.mask |= maskBit(offset)
	e.bits0 ^= media[0]
	e.bits1 ^= media[1]
	e.tsXOR ^= e.media.Timestamp
	protected := len(media) - rtpHeaderSize
	e.lengthXOR ^= uint16(protected)
	xorInto(e.payload[:protected], media[rtpHeaderSize:])
	e.protection = max(e.protection, protected)
	e.lastTS = e.media.Timestamp
	e.count++

	if e.count < e.n {
		return nil, false, nil
	}
	return e.finish(), true, nil
}

// Flush returns the FEC packet for a group that has not reached n packets
// yet, such as the last packets of a talk spurt, so that they are protected
// without waiting for the next spurt. ok is false when no packet has been
// added since the last FEC packet. The slice is valid until the next call.
func (e *XOREncoder) Flush() (fecPacket []byte, ok bool) {
	if e.count == 0 {
		return nil, false
	}
	return e.finish(), true
}

// finish writes the FEC packet for the current group and starts a new group.
func (e *XOREncoder) finish() []byte {
	header := rtp.Header{
		Version:        rtpVersion,
		PayloadType:    e.fecPT,
		SequenceNumber: e.seq,
		Timestamp:      e.lastTS,
		SSRC:           e.ssrc,
	}
	// A 12-byte header always fits out, so MarshalTo cannot fail.
	n, _ := header.MarshalTo(e.out[:])

	long := maskSpan(e.mask) > shortMaskBits
	fh := e.out[n : n+fecHeaderSize]
	fh[0] = e.bits0 & recoveredBits0Mask
	if long {
		fh[0] |= fecLongMaskFlag
	}
	fh[1] = e.bits1
	binary.BigEndian.PutUint16(fh[2:4], e.base)
	binary.BigEndian.PutUint32(fh[4:8], e.tsXOR)
	binary.BigEndian.PutUint16(fh[8:10], e.lengthXOR)
	n += fecHeaderSize

	binary.BigEndian.PutUint16(e.out[n:], uint16(e.protection))
	if long {
		binary.BigEndian.PutUint16(e.out[n+2:], uint16(e.mask>>32))
		binary.BigEndian.PutUint32(e.out[n+4:], uint32(e.mask))
		n += ulpHeaderLongSize
	} else {
		binary.BigEndian.PutUint16(e.out[n+2:], uint16(e.mask>>32))
		n += ulpHeaderShortSize
	}
	n += copy(e.out[n:], e.payload[:e.protection])

	clear(e.payload[:e.protection])
	e.count, e.mask, e.bits0, e.bits1, e.tsXOR, e.lengthXOR, e.protection = 0, 0, 0, 0, 0, 0, 0
	e.seq++
	return e.out[:n]
}

// xorInto sets dst[i] ^= src[i] for every i both have.
func xorInto(dst, src []byte) {
	n := min(len(dst), len(src))
	subtle.XORBytes(dst[:n], dst[:n], src[:n])
}
