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

// The rules for which source a call listens to (RFC 3550 appendix A.1,
// adapted to a call that plays one stream):
//   - probation: an SSRC is believed only once minSequential of its packets
//     have come in sequence: the second's number within probationReach of
//     the first's, either way. A.1 asks for consecutive numbers; allowing
//     for a lost or reordered packet between keeps a lossy start from costing
//     more, and is as hard for one stray packet to meet. The first is held,
//     not dropped, and plays once the second confirms it, so a real stream
//     loses nothing while one stray or spoofed packet locks nothing;
//   - the lock: the first SSRC through probation is the call's; another is
//     rejected while the call's keeps coming, and replaces it (a sender
//     restart, a re-INVITE, a mixer switching sources) only once the call's
//     has been quiet for sourceQuiet and the newcomer passes probation;
//   - a sequence jump of the call's own SSRC (A.1's bad_seq) is believed on
//     the same terms: confirmed by the next packet, and only once the
//     sequence it leaves has gone quiet, so that a forged burst far from the
//     stream's numbers cannot displace a stream that keeps coming.
const (
	// minSequential is RFC 3550 A.1's MIN_SEQUENTIAL: the packets in
	// sequence a new source must send before it is believed.
	minSequential = 2
	// probationReach is how far apart, at most, the sequence numbers of a
	// new source's two probation packets may lie.
	probationReach = 3
	// sourceQuiet is how long the call's stream must have sent nothing
	// before another source, or another sequence of its own SSRC, may take
	// its place. It is the pause Endpoint already reads as the peer's media
	// having stopped (defaultDrainQuiet), well beyond the jitter of a
	// stream that keeps coming (tens of milliseconds), and short enough that
	// a real switch costs half a second of audio.
	sourceQuiet = 500 * time.Millisecond
	// probationSlots is how many new sources may be on probation at once:
	// two, so that one stray sender cannot keep a real one from completing
	// its probation by interleaving packets of its own.
	probationSlots = 2
)

// candidate is a source on probation: its SSRC, the last sequence number
// heard, and its first packet, held until probation ends.
type candidate struct {
	ssrc    uint32
	seq     uint16
	ok      bool
	heard   time.Duration // arrival of its latest packet
	arrival time.Duration // of the held packet
	n       int           // bytes held; 0: none
	held    [MaxPacketSize]byte
}

// admission is what sourceState.admit decided about a packet.
type admission uint8

const (
	admitted    admission = iota // of the call's source: on to the pipeline
	admitHeld                    // a new source's first packet: held for probation
	admitLock                    // a new source passed probation: it is now the call's
	admitReject                  // another source while the call's keeps coming
)

// seqVerdict is what sourceState.received made of a packet's sequence number.
type seqVerdict uint8

const (
	seqCounted   seqVerdict = iota // one of the stream's, counted
	seqDuplicate                   // a copy of one already counted
	seqJump                        // a jump A.1 does not believe (yet): not the stream's
	seqRestart                     // a jump confirmed: the sender restarted its sequence
)

// sourceState keeps RFC 3550's per-source reception statistics for the one
// stream a call receives: the extended highest sequence number with the
// validation of appendix A.1, the expected and lost counts (A.3) and the
// interarrival jitter (A.8). Packets that A.1 rejects (a jump not yet
// confirmed) and duplicates count towards none of them, so one stray or
// replayed packet cannot skew the loss or the jitter. It also decides which
// SSRC is the call's (see admit).
type sourceState struct {
	ssrc    uint32
	locked  bool
	started bool // a packet of the current source has been counted
	renew   bool // the source changed: the next packet begins its numbering
	firstTS uint32
	haveTS  bool // firstTS is set (by the call's first packet)

	baseSeq int64 // extended sequence number of the first packet since the last restart
	maxSeq  int64 // highest extended sequence number seen
	// priorExpected is the packets expected before the sender's last
	// restart; unique counts distinct valid packets over the whole stream.
	priorExpected, unique uint64
	badSeq                uint16 // after an unconfirmed jump: the sequence number that would confirm it
	haveBad               bool
	restarts              uint64
	changes               uint64                  // times another SSRC replaced the call's
	lastAt                time.Duration           // arrival of the latest packet that fitted the stream
	seen                  [seenWindow / 64]uint64 // bit x%seenWindow: extended sequence number x arrived

	transit   float64 // last relative transit time, in RTP ticks
	jitterTks float64 // RFC 3550 interarrival jitter estimate, in RTP ticks

	// for the fraction lost of the next reception report (A.3)
	expectedPrior, receivedPrior uint64

	probation [probationSlots]candidate
	holding   int    // candidates holding a packet
	dropped   uint64 // held packets let go: their source never passed probation
}

// isCall reports whether ssrc is the call's locked source.
func (s *sourceState) isCall(ssrc uint32) bool { return s.locked && s.ssrc == ssrc }

// admit decides on a packet of SSRC ssrc with sequence number seq arriving
// at arrival (see the rules above). admitHeld keeps a copy of datagram;
// after admitLock, held returns the packet to replay ahead of this one.
func (s *sourceState) admit(ssrc uint32, seq uint16, arrival time.Duration, datagram []byte) admission {
	if s.isCall(ssrc) {
		if s.holding > 0 {
			// The call's source is alive: whoever was on probation must
			// wait for another quiet spell and start again.
			s.letGo(nil)
		}
		return admitted
	}
	if s.locked && arrival-s.lastAt < sourceQuiet {
		return admitReject
	}
	c := s.candidateFor(ssrc)
	if d := int16(seq - c.seq); c.ok && d != 0 && d >= -probationReach && d <= probationReach {
		s.lockOn(c)
		return admitLock
	}
	s.release(c) // not in sequence: probation starts again at this packet
	c.ssrc, c.seq, c.ok, c.heard, c.arrival = ssrc, seq, true, arrival, arrival
	c.n = copy(c.held[:], datagram) // a datagram longer than MaxPacketSize was cut short by the reader already
	s.holding++
	return admitHeld
}

// candidateFor returns ssrc's probation slot, or a slot for it: a free one,
// or the one heard from least recently, whose held packet is let go.
func (s *sourceState) candidateFor(ssrc uint32) *candidate {
	var oldest *candidate
	for i := range s.probation {
		c := &s.probation[i]
		if c.ok && c.ssrc == ssrc {
			return c
		}
		if oldest == nil || !c.ok || (oldest.ok && c.heard < oldest.heard) {
			oldest = c
		}
	}
	s.release(oldest)
	return oldest
}

// release empties a probation slot, counting its held packet as dropped.
func (s *sourceState) release(c *candidate) {
	if c.ok && c.n > 0 {
		s.dropped++
		s.holding--
	}
	c.ok, c.n = false, 0
}

// letGo empties every probation slot but keep.
func (s *sourceState) letGo(keep *candidate) {
	for i := range s.probation {
		if c := &s.probation[i]; c != keep {
			s.release(c)
		}
	}
}

// lockOn makes the candidate c, which has passed probation, the call's
// source; the other candidates' held packets are let go.
func (s *sourceState) lockOn(c *candidate) {
	if s.locked {
		s.changes++
		s.renew = s.started
	}
	s.locked, s.ssrc = true, c.ssrc
	s.letGo(c)
	c.ok = false // its held packet stays readable (held) until the next admit
	s.holding--
}

// held returns the packet the source just locked on was held with: its
// first, to be played ahead of the one that confirmed it.
func (s *sourceState) held(ssrc uint32) ([]byte, time.Duration, bool) {
	for i := range s.probation {
		c := &s.probation[i]
		if !c.ok && c.ssrc == ssrc && c.n > 0 {
			n := c.n
			c.n = 0
			return c.held[:n], c.arrival, true
		}
	}
	return nil, 0, false
}

// received updates the sequence and jitter state for one packet of the
// accepted source, and says what it made of it: counted, a duplicate, a jump
// A.1 does not believe (yet), or a believed one (a restart).
func (s *sourceState) received(seq uint16, ts uint32, arrival time.Duration, rate int) seqVerdict {
	transit := arrival.Seconds()*float64(rate) - float64(ts)
	if !s.haveTS {
		s.haveTS, s.firstTS = true, ts
	}
	if !s.started || s.renew {
		if s.renew {
			// A new source: its numbers continue above the old one's, as
			// after a restart, so that the extended numbers only grow.
			s.priorExpected += uint64(s.maxSeq - s.baseSeq + 1)
			s.renew = false
			s.restartAt((s.maxSeq>>16+1)<<16|int64(seq), transit)
		} else {
			s.started = true
			s.restartAt(int64(seq), transit)
		}
		s.lastAt = arrival
		return seqCounted
	}
	var ext int64
	switch delta := seq - uint16(s.maxSeq); {
	case delta < rtpseq.MaxDropout:
		ext = s.maxSeq + int64(delta)
	case delta <= math.MaxUint16+1-rtpseq.MaxMisorder:
		// A jump: believed only if the next packet continues it (A.1), and
		// only once the sequence it leaves has gone quiet.
		if !s.haveBad || seq != s.badSeq || arrival-s.lastAt < sourceQuiet {
			s.badSeq, s.haveBad = seq+1, true
			return seqJump
		}
		s.priorExpected += uint64(s.maxSeq - s.baseSeq + 1)
		s.restarts++
		// Continue the extended numbers above everything so far.
		s.restartAt((s.maxSeq>>16+1)<<16|int64(seq), transit)
		s.lastAt = arrival
		return seqRestart
	default:
		ext = s.maxSeq - int64(uint16(s.maxSeq)-seq)
	}
	s.haveBad = false
	if ext <= s.maxSeq && s.seenAt(ext) {
		return seqDuplicate // (rtpseq.MaxMisorder < seenWindow: ext is remembered)
	}
	s.lastAt = arrival
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
	return seqCounted
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
