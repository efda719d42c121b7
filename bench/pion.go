package bench

import (
	"errors"
	"github.com/spurtvoip/spurt/internal/rtpseq"
	"github.com/spurtvoip/spurt/media"
	"time"

	"github.com/pion/interceptor/pkg/jitterbuffer"
	"github.com/pion/rtp"
)

// PionDefaultMinPackets is pion/interceptor's own default start threshold.
const PionDefaultMinPackets = 50

// PionStrategy is the jitter buffer of github.com/pion/interceptor
// (pkg/jitterbuffer), the one a Go peer built on pion would use, driven
// through the same harness.
//
// That buffer has no notion of time: it orders packets by sequence number and
// starts emitting once it holds minPackets of them; after that every Pop
// returns the packet at the playout head or fails. The harness maps it to
// playout instants the way a consumer must: it pops one packet per 20 ms
// tick of the receiver's clock, the ticks anchored at the first arrival.
// When the head packet is missing, the tick plays silence and the head moves
// on only if a later packet is already buffered (a hole); with nothing
// buffered it waits, since the head packet may simply not have been sent yet
// (silence suppression). A packet arriving behind the head is late. Two
// consequences show in the figures: the buffer ignores timestamps, so it
// plays talk spurts back to back and shortens the silences between them
// (playout delay falls back towards the network delay at each silence long
// enough to drain it), and the only adaptation is that a delay spike holds
// the head back and stretches the delay for the rest of the spurt. Pion's
// buffer does not copy packets and allocates per packet, so this strategy
// is not allocation-free; it runs with plain audio only (FEC scheme none).
func PionStrategy(minPackets int) Strategy {
	if minPackets <= 0 {
		minPackets = PionDefaultMinPackets
	}
	return Strategy{Name: "pion", pionMinPackets: min(minPackets, 1<<15)}
}

// pionPipe drives one pion jitter buffer.
type pionPipe struct {
	rcv      *receiver // told what plays
	jb       *jitterbuffer.JitterBuffer
	started  bool // a packet has been pushed
	tick     time.Duration
	ticking  bool
	seen     [1024]uint16 // sequence numbers by slot, for duplicates
	seenOK   [1024]bool
	firstSeq uint16
	highest  int64 // extended, relative to firstSeq
	counts   media.ReceiverStats
}

func newPionPipe(minPackets int, r *receiver) *pionPipe {
	return &pionPipe{rcv: r, jb: jitterbuffer.New(jitterbuffer.WithMinimumPacketCount(uint16(minPackets)))}
}

func (p *pionPipe) arrive(pkt []byte, at time.Duration) {
	packet := &rtp.Packet{}
	if err := packet.Unmarshal(append([]byte(nil), pkt...)); err != nil {
		p.counts.Malformed++
		return
	}
	seq := packet.SequenceNumber
	slot := int(seq) % len(p.seen)
	if p.started && p.seenOK[slot] && p.seen[slot] == seq {
		p.counts.Duplicates++
		return
	}
	p.seen[slot], p.seenOK[slot] = seq, true
	if !p.started {
		p.started, p.firstSeq = true, seq
		p.tick, p.ticking = at, true
	}
	p.counts.Packets++
	if packet.Marker {
		p.counts.Spurts++
	}
	if x := p.extend(seq); x > p.highest {
		p.highest = x
	}
	if p.counts.Packets > 1 && int16(seq-p.jb.PlayoutHead()) < 0 {
		p.counts.Late++ // the head has passed its place
		return
	}
	p.jb.Push(packet)
}

// extend unwraps seq against the highest sequence number so far.
func (p *pionPipe) extend(seq uint16) int64 {
	return rtpseq.NearSeq(p.highest, seq-p.firstSeq)
}

func (p *pionPipe) render(now time.Duration) error {
	for p.ticking && p.tick <= now {
		p.pop(p.tick)
		p.tick += frameDuration
	}
	return nil
}

// pop plays the packet at the head, if any, at the tick at.
func (p *pionPipe) pop(at time.Duration) {
	packet, err := p.jb.Pop()
	switch {
	case err == nil:
		p.rcv.play(packet.SequenceNumber, at)
		p.counts.Played++
	case errors.Is(err, jitterbuffer.ErrPopWhileBuffering):
	default:
		// Missing head: skip it only if something after it is buffered.
		if _, err := p.jb.Peek(false); err == nil {
			p.jb.SetPlayoutHead(p.jb.PlayoutHead() + 1)
			p.counts.MissingChunks++
		}
	}
}

func (p *pionPipe) stats() media.ReceiverStats {
	s := p.counts
	if p.started {
		s.Expected = uint64(p.highest) + 1
		if s.Expected > s.Packets {
			s.Lost = s.Expected - s.Packets
		}
	}
	s.ResidualLost = s.Lost + s.Late
	return s
}
