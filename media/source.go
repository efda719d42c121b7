package media

import (
	"github.com/spurtvoip/spurt/internal/rtpseq"
	"math"
	"time"
)

// Sequence numbers follow RFC 3550 appendix A.1 (rtpseq's limits): one up to
// MaxDropout ahead of the highest is the stream moving on (packets in between
// lost); one up to MaxMisorder behind it is a late or duplicate packet;
// anything else is a jump that only a sender restart explains, and is
// believed only when the next packet continues it.

// seenWindow is how many of the latest sequence numbers sourceState
// remembers, to tell a duplicate from a late packet.
const seenWindow = 1024

// sourceState keeps RFC 3550's per-source reception statistics for the one
// stream a call receives: the extended highest sequence number with the
// validation of appendix A.1, the expected and lost counts (A.3) and the
// interarrival jitter (A.8). Packets that A.1 rejects (a jump not yet
// confirmed) and duplicates count towards none of them, so one stray or
// replayed packet cannot skew the loss or the jitter.
type sourceState struct {
	ssrc    uint32
	locked  bool
	started bool // a packet has been received
	firstTS uint32

	baseSeq int64 // extended sequence number of the first packet since the last restart
	maxSeq  int64 // highest extended sequence number seen
	// priorExpected is the packets expected before the sender's last
	// restart; unique counts distinct valid packets over the whole stream.
	priorExpected, unique uint64
	badSeq                uint16 // after an unconfirmed jump: the sequence number that would confirm it
	haveBad               bool
	restarts              uint64
	seen                  [seenWindow / 64]uint64 // bit x%seenWindow: extended sequence number x arrived

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

// received updates the sequence and jitter state for one packet of the
// accepted source, and reports whether it counted: false for a jump A.1 does
// not believe yet, or a duplicate.
func (s *sourceState) received(seq uint16, ts uint32, arrival time.Duration, rate int) bool {
	transit := arrival.Seconds()*float64(rate) - float64(ts)
	if !s.started {
		s.started = true
		s.firstTS = ts
		s.restartAt(int64(seq), transit)
		return true
	}
	var ext int64
	switch delta := seq - uint16(s.maxSeq); {
	case delta < rtpseq.MaxDropout:
		ext = s.maxSeq + int64(delta)
	case delta <= math.MaxUint16+1-rtpseq.MaxMisorder:
		// A jump: believed only if the next packet continues it (A.1).
		if !s.haveBad || seq != s.badSeq {
			s.badSeq, s.haveBad = seq+1, true
			return false
		}
		s.priorExpected += uint64(s.maxSeq - s.baseSeq + 1)
		s.restarts++
		// Continue the extended numbers above everything so far.
		s.restartAt((s.maxSeq>>16+1)<<16|int64(seq), transit)
		return true
	default:
		ext = s.maxSeq - int64(uint16(s.maxSeq)-seq)
	}
	s.haveBad = false
	if ext <= s.maxSeq && s.seenAt(ext) {
		return false // a duplicate (rtpseq.MaxMisorder < seenWindow: ext is remembered)
	}
	if ext-s.maxSeq >= seenWindow {
		s.seen = [seenWindow / 64]uint64{}
	} else {
		for x := s.maxSeq + 1; x <= ext; x++ {
			s.forget(x) // its place in the window was an older packet's
		}
	}
	s.mark(ext)
	s.maxSeq = max(s.maxSeq, ext)
	if ext < s.baseSeq {
		s.baseSeq = ext // reordered ahead of the first packet
	}
	s.unique++
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
	return true
}

// extend returns the extended sequence number of seq, a packet near the
// highest one seen (within half the sequence space).
func (s *sourceState) extend(seq uint16) int64 {
	return rtpseq.NearSeq(s.maxSeq, seq)
}

// restartAt begins counting at extended sequence number x: the stream's
// first packet, or the first after a sender restart. The jitter estimate
// carries over, but no transit difference is taken across the restart.
func (s *sourceState) restartAt(x int64, transit float64) {
	s.baseSeq, s.maxSeq = x, x
	s.haveBad = false
	s.seen = [seenWindow / 64]uint64{}
	s.mark(x)
	s.unique++
	s.transit = transit
}

func (s *sourceState) seenAt(x int64) bool {
	i := uint64(x) % seenWindow
	return s.seen[i/64]&(1<<(i%64)) != 0
}

func (s *sourceState) mark(x int64) {
	i := uint64(x) % seenWindow
	s.seen[i/64] |= 1 << (i % 64)
}

func (s *sourceState) forget(x int64) {
	i := uint64(x) % seenWindow
	s.seen[i/64] &^= 1 << (i % 64)
}

// expectedLost returns how many packets the sequence numbers say were sent
// and how many of them did not arrive.
func (s *sourceState) expectedLost() (expected, lost uint64) {
	if !s.started {
		return 0, 0
	}
	expected = s.priorExpected + uint64(s.maxSeq-s.baseSeq+1)
	if s.unique < expected {
		lost = expected - s.unique
	}
	return expected, lost
}

// jitter is the interarrival jitter as a duration.
func (s *sourceState) jitter(rate int) time.Duration {
	return time.Duration(s.jitterTks / float64(rate) * float64(time.Second))
}

// fractionLost returns RFC 3550's 8-bit fraction of packets lost since the
// previous call, and remembers the counts for the next.
func (s *sourceState) fractionLost() uint8 {
	expected, _ := s.expectedLost()
	expInterval := int64(expected) - int64(s.expectedPrior)
	recInterval := int64(s.unique) - int64(s.receivedPrior)
	s.expectedPrior, s.receivedPrior = expected, s.unique
	lostInterval := expInterval - recInterval
	if expInterval <= 0 || lostInterval <= 0 {
		return 0
	}
	return uint8(min(lostInterval<<8/expInterval, 255))
}
