// Package rtpseq states once the arithmetic of RTP sequence numbers and
// timestamps (RFC 3550): unwrapping their 16 and 32 bits into int64 counts,
// appendix A.1's limits on how far a sequence number may jump, and the
// packet time of a chunk.
package rtpseq

import "time"

// RFC 3550 appendix A.1's limits: a sequence number up to MaxDropout ahead of
// the newest one continues the stream (packets were lost), one up to
// MaxMisorder behind it is late or a duplicate, and anything else is a jump
// that only a following packet can confirm.
const (
	MaxDropout  = 3000
	MaxMisorder = 100
)

// PacketTime is the audio one packet carries: 20 ms, RFC 3551's default
// for G.711 and GSM, and Spurt's only packetisation.
const PacketTime = 20 * time.Millisecond

// ChunkSamples is the number of samples (clock ticks) in one PacketTime at
// the given clock rate: 160 at 8 kHz.
func ChunkSamples(clockRate int) int { return clockRate * int(PacketTime/time.Millisecond) / 1000 }

// NearSeq extends the 16-bit sequence number seq to the int64 nearest ref:
// the packet is taken to lie within 2^15 of the one ref stands for.
func NearSeq(ref int64, seq uint16) int64 { return ref + int64(int16(seq-uint16(ref))) }

// NearTS extends the 32-bit timestamp ts to the int64 nearest ref.
func NearTS(ref int64, ts uint32) int64 { return ref + int64(int32(ts-uint32(ref))) }

// Unwrapper unwraps a sequence of 32-bit RTP timestamps into int64, each
// taken to lie within 2^31 ticks of the one before. The zero value is ready:
// the first timestamp unwraps to itself.
type Unwrapper struct {
	last    int64
	started bool
}

// Unwrap returns ts extended next to the previous timestamp, and remembers it.
func (u *Unwrapper) Unwrap(ts uint32) int64 {
	if !u.started {
		u.started, u.last = true, int64(ts)
		return u.last
	}
	u.last = NearTS(u.last, ts)
	return u.last
}
