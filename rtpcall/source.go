package rtpcall

import (
	"math"
	"time"
)

// sourceState keeps RFC 3550's per-source reception statistics for the one
// stream a call receives: the extended highest sequence number (appendix A.1),
// the expected and lost counts (A.3) and the interarrival jitter (A.8).
type sourceState struct {
	ssrc    uint32
	locked  bool
	started bool // a packet has been received
	firstTS uint32

	baseSeq int64 // extended sequence number of the first packet
	maxSeq  int64 // highest extended sequence number seen

	transit   float64 // last relative transit time, in RTP ticks
	jitterTks float64 // RFC 3550 interarrival jitter estimate, in RTP ticks

	// for the fraction lost of the next reception report (A.3)
	expectedPrior, receivedPrior uint64
}

// accept locks onto the first SSRC heard and reports whether ssrc is it.
func (s *sourceState) accept(ssrc uint32) bool {
	if !s.locked {
		s.locked, s.ssrc = true, ssrc
	}
	return s.ssrc == ssrc
}

// received updates the sequence and jitter state for one accepted packet.
func (s *sourceState) received(seq uint16, ts uint32, arrival time.Duration, rate int) {
	arrivalTicks := arrival.Seconds() * float64(rate)
	transit := arrivalTicks - float64(ts)
	if !s.started {
		s.started = true
		s.baseSeq, s.maxSeq = int64(seq), int64(seq)
		s.firstTS = ts
		s.transit = transit
		return
	}
	ext := s.maxSeq + int64(int16(seq-uint16(s.maxSeq)))
	if ext > s.maxSeq {
		s.maxSeq = ext
	}
	if ext < s.baseSeq {
		s.baseSeq = ext // reordered ahead of the first packet
	}
	// transit differences in float ticks; a wrapped timestamp shows up as a
	// jump of 2^32 ticks, folded back here
	d := transit - s.transit
	if d > math.MaxUint32/2 {
		d -= math.MaxUint32 + 1
	} else if d < -math.MaxUint32/2 {
		d += math.MaxUint32 + 1
	}
	s.transit = transit
	s.jitterTks += (math.Abs(d) - s.jitterTks) / 16
}

// expectedLost returns how many packets the sequence numbers say were sent
// and how many of them did not arrive, given the number of distinct packets received.
func (s *sourceState) expectedLost(unique uint64) (expected, lost uint64) {
	if !s.started {
		return 0, 0
	}
	expected = uint64(s.maxSeq - s.baseSeq + 1)
	if unique < expected {
		lost = expected - unique
	}
	return expected, lost
}

// jitter is the interarrival jitter as a duration.
func (s *sourceState) jitter(rate int) time.Duration {
	return time.Duration(s.jitterTks / float64(rate) * float64(time.Second))
}

// fractionLost returns RFC 3550's 8-bit fraction of packets lost since the
// previous call, and remembers the counts for the next.
func (s *sourceState) fractionLost(unique uint64) uint8 {
	expected, _ := s.expectedLost(unique)
	expInterval := int64(expected) - int64(s.expectedPrior)
	recInterval := int64(unique) - int64(s.receivedPrior)
	s.expectedPrior, s.receivedPrior = expected, unique
	lostInterval := expInterval - recInterval
	if expInterval <= 0 || lostInterval <= 0 {
		return 0
	}
	return uint8(min(lostInterval<<8/expInterval, 255))
}
