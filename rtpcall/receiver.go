package rtpcall

import (
	"errors"
	"fmt"
	"time"

	"github.com/pion/rtp"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/jitter"
)

// ReceiverConfig configures the receive pipeline of one call.
type ReceiverConfig struct {
	Codec    codec.Codec
	Strategy jitter.Strategy
	// Horizon is how far ahead of the clock the output may be scheduled; 4 s when zero.
	Horizon time.Duration
}

// ReceiverStats counts what the receive pipeline saw, from the network to the ear.
type ReceiverStats struct {
	Packets        uint64 // RTP packets of the call's stream accepted for the playout buffer
	Malformed      uint64 // datagrams that did not parse as RTP
	WrongPayload   uint64 // RTP with a payload type other than the negotiated one
	RejectedSource uint64 // RTP from an SSRC other than the call's
	Expected       uint64 // packets the sequence numbers say were sent (RFC 3550 A.3)
	Lost           uint64 // expected packets that never arrived (clamped at zero)
	Late           uint64 // arrived after their playout time
	Duplicates     uint64
	Refused        uint64 // too large, undecodable or too old for the buffer
	Spurts         uint64
	Played         uint64 // chunks played
	MissingChunks  uint64 // holes played as silence
	ClippedSamples uint64 // samples outside the output window (a misbehaving peer)
	Jitter         time.Duration
}

// Receiver is the clockless receive pipeline: RTP datagrams and their arrival
// times in, samples out at their playout instants. Times are durations on the
// receiver's clock; the sender's clock is a different one and appears only
// through RTP timestamps.
type Receiver struct {
	codec  codec.Codec
	dec    codec.Decoder
	buffer *jitter.Buffer
	out    *timeline
	packet rtp.Packet
	pcm    []int16
	stats  ReceiverStats
	src    sourceState
	delays delayStats

	playedTS   extender // unwraps the timestamps of played chunks
	lastArrive time.Duration
}

// NewReceiver builds a receive pipeline.
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	if cfg.Codec.NewDecoder == nil {
		return nil, errors.New("rtpcall: receiver needs a codec")
	}
	if cfg.Strategy == nil {
		return nil, errors.New("rtpcall: receiver needs a playout strategy")
	}
	buf, err := jitter.New(jitter.Config{ClockRate: cfg.Codec.ClockRate, Strategy: cfg.Strategy})
	if err != nil {
		return nil, fmt.Errorf("rtpcall: playout buffer: %w", err)
	}
	horizon := cfg.Horizon
	if horizon == 0 {
		horizon = 4 * time.Second
	}
	return &Receiver{
		codec:  cfg.Codec,
		dec:    cfg.Codec.NewDecoder(),
		buffer: buf,
		out:    newTimeline(cfg.Codec.ClockRate, horizon),
		pcm:    make([]int16, 0, maxPacketSize*2),
		delays: newDelayStats(),
	}, nil
}

// HandleRTP takes one RTP datagram that arrived at the given time. Anything
// that is not a packet of the call's stream is counted and dropped.
func (r *Receiver) HandleRTP(datagram []byte, arrival time.Duration) {
	if err := r.packet.Unmarshal(datagram); err != nil {
		r.stats.Malformed++
		return
	}
	h := &r.packet.Header
	if h.PayloadType != r.codec.PayloadType {
		r.stats.WrongPayload++
		return
	}
	if !r.src.accept(h.SSRC) {
		r.stats.RejectedSource++
		return
	}
	samples, err := r.dec.Samples(r.packet.Payload)
	if err != nil || samples == 0 {
		r.stats.Refused++
		return
	}
	if r.stats.Packets == 0 {
		r.playedTS.extend(h.Timestamp) // played chunks unwrap from the buffer's base
	}
	r.stats.Packets++
	r.lastArrive = arrival
	r.src.received(h.SequenceNumber, h.Timestamp, arrival, r.codec.ClockRate)

	outcome := r.buffer.Push(jitter.Packet{
		SequenceNumber: h.SequenceNumber,
		Timestamp:      h.Timestamp,
		Marker:         h.Marker,
		Samples:        samples,
		Payload:        r.packet.Payload,
	}, arrival)
	switch outcome {
	case jitter.OutcomeLate:
		r.stats.Late++
	case jitter.OutcomeDuplicate:
		r.stats.Duplicates++
	case jitter.OutcomeQueued:
	default:
		r.stats.Refused++
	}
}

// Render plays everything due by now: it takes due chunks from the playout
// buffer, decodes them onto the output timeline and hands every sample before
// now to write. Holes stay silent.
func (r *Receiver) Render(now time.Duration, write func([]int16) error) error {
	for {
		chunk, ok := r.buffer.Pop(now)
		if !ok {
			break
		}
		if chunk.Missing {
			r.stats.MissingChunks++
			continue
		}
		pcm, err := r.dec.Decode(r.pcm[:0], chunk.Payload)
		if err != nil {
			r.stats.Refused++
			continue
		}
		r.out.place(chunk.PlayAt, pcm)
		r.stats.Played++
		media := r.mediaTime(chunk.Timestamp)
		r.delays.record(chunk.PlayAt-media-r.duration(chunk.Samples), chunk.PlayAt-chunk.Arrival)
	}
	r.stats.ClippedSamples = r.out.clipped
	return r.out.commit(now, write)
}

// Idle reports whether nothing received is still waiting to be played.
func (r *Receiver) Idle() bool { return r.buffer.Len() == 0 && !r.out.pending() }

// LastArrival is when the last packet of the stream arrived, and whether any has.
func (r *Receiver) LastArrival() (time.Duration, bool) { return r.lastArrive, r.stats.Packets > 0 }

// Stats reports the receive pipeline's counters.
func (r *Receiver) Stats() ReceiverStats {
	s := r.stats
	b := r.buffer.Stats()
	s.Spurts = b.Spurts
	s.Expected, s.Lost = r.src.expectedLost(s.Packets - s.Duplicates)
	s.Jitter = r.src.jitter(r.codec.ClockRate)
	return s
}

// Buffer exposes the playout buffer, for its strategy's estimates and stats.
func (r *Receiver) Buffer() *jitter.Buffer { return r.buffer }

// mediaTime turns a played chunk's RTP timestamp into media time since the
// stream's first timestamp, the time base the playout buffer uses too.
func (r *Receiver) mediaTime(ts uint32) time.Duration {
	return r.duration64(r.playedTS.extend(ts) - int64(r.src.firstTS))
}

func (r *Receiver) duration(ticks int) time.Duration { return r.duration64(int64(ticks)) }

func (r *Receiver) duration64(ticks int64) time.Duration {
	return time.Duration(ticks * int64(time.Second) / int64(r.codec.ClockRate))
}

// extender unwraps a 32-bit RTP timestamp sequence into int64, assuming
// successive values are within 2^31 ticks of each other.
type extender struct {
	last    int64
	started bool
}

func (e *extender) extend(ts uint32) int64 {
	if !e.started {
		e.started = true
		e.last = int64(ts)
		return e.last
	}
	e.last += int64(int32(ts - uint32(e.last)))
	return e.last
}
