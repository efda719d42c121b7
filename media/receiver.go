package media

import (
	"errors"
	"fmt"
	"github.com/spurtvoip/spurt/internal/rtpseq"
	"time"

	"github.com/pion/rtp"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/fec"
	"github.com/spurtvoip/spurt/jitter"
)

// ReceiverConfig configures the receive pipeline of one call.
type ReceiverConfig struct {
	Codec    codec.Codec
	Strategy jitter.Strategy
	// Horizon is how far ahead of the clock the output may be scheduled; 4 s when zero.
	Horizon time.Duration
	// RED accepts redundant audio (RFC 2198) in the payload type it names,
	// besides plain packets of Codec; nil accepts plain packets only.
	RED *REDConfig
	// XOR uses the peer's RFC 5109 parity packets in the payload type it
	// names to rebuild lost packets; nil ignores them (wrong payload type).
	XOR *XORConfig
	// Interleave accepts interleaved audio in its payload type when its
	// PeerDepth is above zero.
	Interleave *InterleaveConfig
	// DisablePLC plays holes in talk spurts as silence instead of
	// concealing them (plc.Concealer).
	DisablePLC bool
	// OnPlay, if set, is called by Render for every chunk it plays, holes
	// included, in play order: what the pipeline did, for a caller that
	// measures it (the benchmark harness). It must not keep the Played past
	// the call or call back into the Receiver.
	OnPlay func(Played)
	// NoAudio schedules and counts every chunk as usual but decodes,
	// conceals and renders nothing: Render writes no samples. Every counter
	// is what it would be with audio (concealed and clipped samples are
	// counted as if made) as long as the payloads decode, which the receiver
	// checks only by decoding; a chunk is taken to be as long as the buffer
	// says. For simulations that need the packet-level figures only.
	NoAudio bool
}

// PlayKind says where the audio of a played chunk came from.
type PlayKind uint8

const (
	// PlayPacket is a chunk played from its own packet; under interleaving,
	// from the units of its group that arrived (see Played.Holes).
	PlayPacket PlayKind = iota
	// PlayCopy is a chunk played from a redundant copy (RFC 2198), its own
	// packet lost or late.
	PlayCopy
	// PlayRebuilt is a chunk played from a packet rebuilt from XOR parity,
	// its own packet lost or late.
	PlayRebuilt
	// PlayHole is a stretch of a talk spurt whose audio never came in time:
	// concealed, or silent without concealment.
	PlayHole
)

// Played describes one chunk Render played, for ReceiverConfig.OnPlay.
type Played struct {
	// Seq is the sequence number of the packet the chunk stands for; under
	// interleaving, the group's first packet's plus the chunk's place in
	// the group. For a hole, the first packet missing.
	Seq uint16
	// PlayAt is when its first sample plays, on the receiver's clock.
	PlayAt time.Duration
	// Arrival is when what it was played from reached the playout buffer:
	// its packet's arrival, that of the packet carrying its copy or
	// completing its parity group, or of the last packet of its interleaved
	// group. Zero for a hole.
	Arrival time.Duration
	// Samples is its length; a hole may span several packets.
	Samples int
	Kind    PlayKind
	// Holes marks the units of an interleaved chunk that never arrived
	// (bit u: unit u).
	Holes uint8
}

// ReceiverStats counts what the receive pipeline saw, from the network to the ear.
type ReceiverStats struct {
	Packets          uint64 // RTP packets of the call's stream accepted for the playout buffer
	Malformed        uint64 // datagrams that did not parse as RTP
	WrongPayload     uint64 // RTP with a payload type other than the negotiated one
	RejectedSource   uint64 // RTP not taken for the call's stream: another SSRC while the call's keeps coming, a source that failed probation, a sequence jump A.1 does not believe
	SourceChanges    uint64 // times a new SSRC replaced the call's (RFC 3550 A.1 probation, after the old one went quiet)
	Expected         uint64 // packets the sequence numbers say were sent (RFC 3550 A.3)
	Lost             uint64 // expected packets that never arrived (clamped at zero)
	Late             uint64 // arrived after their playout time
	Duplicates       uint64
	Refused          uint64 // too large, undecodable or too old for the buffer
	Spurts           uint64
	Played           uint64 // chunks played
	MissingChunks    uint64 // holes played as silence
	Recovered        uint64 // chunks played from a redundant copy (or queued to, in time) or rebuilt packet (interleaved: packets rebuilt in time), their own packet lost or late
	FECPackets       uint64 // XOR parity packets taken
	FECRebuilt       uint64 // packets rebuilt from XOR parity, in time or not
	FECLate          uint64 // of those, rebuilt after their playout time (still lost)
	FECMalformed     uint64 // XOR parity packets that did not parse or did not fit, and RED packets that did not parse, dropped; RED copies that cannot stand for a packet, unused
	Concealed        uint64 // 20 ms chunks that held concealed audio (whole missing chunks and interleaved chunks with holes)
	ConcealedSamples uint64 // samples concealed
	ResidualLost     uint64 // packets neither received in time nor recovered: Lost + Late - Recovered
	ClippedSamples   uint64 // samples outside the output window (a misbehaving peer)
	Jitter           time.Duration
}

// Receiver is the clockless receive pipeline: RTP datagrams and their arrival
// times in, samples out at their playout instants. Times are durations on the
// receiver's clock; the sender's clock is a different one and appears only
// through RTP timestamps.
type Receiver struct {
	codec    codec.Codec
	dec      codec.Decoder
	strategy jitter.Strategy // as configured
	// repairHeadroom: the buffer leaves an adaptive strategy room for the
	// repair span (RED copies, XOR groups) at every spurt.
	repairHeadroom bool
	red            *fec.REDReceiver    // nil: plain audio only
	xor            *fec.XORReceiver    // nil: no XOR parity
	il             *interleaveReceiver // nil: no interleaving
	conceal        *concealer          // nil: holes stay silent
	chunkSamples   int                 // samples in the latest media packet (chunk), for the XOR span
	buffer         *jitter.Buffer
	out            *timeline
	packet         rtp.Packet // the received packet being handled
	rebuiltPkt     rtp.Packet // a packet the parity stage rebuilt, being handled
	pcm            []int16
	stats          ReceiverStats
	src            sourceState
	delays         delayStats

	epoch uint64 // bumped at every re-anchoring: a sender restart or a new source
	// replayed is the held first packet of a source that the last HandleRTP
	// let through probation, taken ahead of that call's datagram; nil if none.
	// Valid until the next HandleRTP.
	replayed   []byte
	replayedAt time.Duration
	onPlay     func(Played) // nil: nobody listens
	noAudio    bool
}

// bufferSlots is the playout buffer's capacity in packets: 10 s of 20 ms chunks.
const bufferSlots = 512

// NewReceiver builds a receive pipeline.
func NewReceiver(cfg ReceiverConfig) (*Receiver, error) {
	if cfg.Codec.NewDecoder == nil {
		return nil, errors.New("rtpcall: receiver needs a codec")
	}
	if cfg.Strategy == nil {
		return nil, errors.New("rtpcall: receiver needs a playout strategy")
	}
	if cfg.RED != nil {
		if err := cfg.RED.validate(cfg.Codec); err != nil {
			return nil, err
		}
	}
	if cfg.XOR != nil {
		if cfg.RED != nil {
			return nil, errors.New("rtpcall: XOR parity and redundant audio cannot be combined")
		}
		if err := cfg.XOR.validate(cfg.Codec.PayloadType); err != nil {
			return nil, err
		}
	}
	dec := cfg.Codec.NewDecoder()
	interleaved := cfg.Interleave != nil && cfg.Interleave.PeerDepth > 0
	if interleaved {
		if cfg.RED != nil {
			return nil, errors.New("rtpcall: interleaving and redundant audio cannot be combined")
		}
		bytesPerChunk := 0
		if n, err := dec.Samples(make([]byte, InterleaveChunkBytes)); err == nil && n == InterleaveChunkBytes {
			bytesPerChunk = InterleaveChunkBytes
		}
		if err := cfg.Interleave.validate(cfg.Codec.PayloadType, bytesPerChunk); err != nil {
			return nil, err
		}
	}
	var conceal *concealer
	if !cfg.DisablePLC {
		var err error
		if conceal, err = newConcealer(cfg.Codec.ClockRate); err != nil {
			return nil, err
		}
	}
	buf, err := jitter.New(jitter.Config{ClockRate: cfg.Codec.ClockRate, Strategy: cfg.Strategy, Capacity: bufferSlots})
	if err != nil {
		return nil, fmt.Errorf("rtpcall: playout buffer: %w", err)
	}
	horizon := cfg.Horizon
	if horizon == 0 {
		horizon = 4 * time.Second
	}
	r := &Receiver{
		codec:        cfg.Codec,
		dec:          dec,
		strategy:     cfg.Strategy,
		conceal:      conceal,
		buffer:       buf,
		out:          newTimeline(cfg.Codec.ClockRate, horizon),
		pcm:          make([]int16, 0, MaxPacketSize*2),
		delays:       newDelayStats(),
		chunkSamples: rtpseq.ChunkSamples(cfg.Codec.ClockRate),
		onPlay:       cfg.OnPlay,
		noAudio:      cfg.NoAudio,
	}
	// The repair stages, each pushing what it makes into the buffer.
	if cfg.XOR != nil {
		r.xor, err = fec.NewXORReceiver(cfg.XOR.PayloadType, cfg.XOR.PeerGroupSize, cfg.Codec.ClockRate, r.chunkSamples, r.rebuilt)
		if err != nil {
			return nil, fmt.Errorf("rtpcall: %w", err)
		}
	}
	if cfg.RED != nil {
		r.red, err = fec.NewREDReceiver(fec.REDReceiverConfig{PayloadType: cfg.RED.PayloadType, Primary: cfg.Codec,
			Secondary: cfg.RED.Secondary, PeerDistance: cfg.RED.PeerDistance, Push: r.pushRepaired}, r.chunkSamples)
		if err != nil {
			return nil, fmt.Errorf("rtpcall: %w", err)
		}
	}
	if interleaved {
		if r.il, err = newInterleaveReceiver(cfg.Interleave, cfg.Codec, r.pushChunk); err != nil {
			return nil, err
		}
	}
	// A fixed playout delay is left as set: choose it above the repair span.
	_, fixed := cfg.Strategy.(*jitter.Fixed)
	r.repairHeadroom = !fixed
	r.syncHeadroom()
	return r, nil
}

// HandleRTP takes one RTP datagram that arrived at the given time and reports
// whether it was a media packet of the call's stream. Anything that is not is
// counted and dropped.
//
// The path reads in one direction: parse, the payload type, the source
// check, the repair stages (XOR parity first, whose rebuilt packets join the
// path after it in rebuilt; then de-interleaving or redundant audio), the
// playout buffer. Render takes it on from there.
func (r *Receiver) HandleRTP(datagram []byte, arrival time.Duration) (media bool) {
	r.replayed = nil
	if !r.parse(datagram) {
		return false
	}
	h := &r.packet.Header
	if r.xor != nil && h.PayloadType == r.xor.PayloadType() {
		r.takeParity(datagram, arrival)
		return false
	}
	isRED := r.red != nil && h.PayloadType == r.red.PayloadType()
	isInterleaved := r.il != nil && h.PayloadType == r.il.pt
	if !isRED && !isInterleaved && h.PayloadType != r.codec.PayloadType {
		r.stats.WrongPayload++
		return false
	}
	switch r.src.admit(h.SSRC, h.SequenceNumber, arrival, datagram) {
	case admitReject:
		r.stats.RejectedSource++
		return false
	case admitHeld:
		return false // counted once it plays, or as rejected_source once let go
	case admitLock:
		// The source's first packet, held through probation, goes first.
		// Both parsed before, and parse again the same.
		ssrc := h.SSRC
		if held, at, ok := r.src.held(ssrc); ok && r.parse(held) && r.take(held, at, arrival) {
			r.replayed, r.replayedAt = held, at
		}
		r.parse(datagram)
	}
	return r.take(datagram, arrival, arrival)
}

// Replayed returns the packet the last HandleRTP took ahead of its own
// datagram: a new source's first, held through probation, and its arrival.
// The slice is valid until the next HandleRTP.
func (r *Receiver) Replayed() ([]byte, time.Duration, bool) {
	return r.replayed, r.replayedAt, r.replayed != nil
}

// parse reads datagram into r.packet, and counts it as malformed if it is
// not RTP: it does not parse, or its version is not 2 (RFC 3550 A.1).
func (r *Receiver) parse(datagram []byte) bool {
	if err := r.packet.Unmarshal(datagram); err != nil || r.packet.Version != 2 {
		r.stats.Malformed++
		return false
	}
	return true
}

// take carries a parsed packet (r.packet, from datagram) of the call's
// source on to the repair stages and the playout buffer, and reports whether
// it was counted as one of the stream's. ready is when it could first play:
// its arrival, or for a first packet held through probation, the arrival of
// the packet that confirmed its source.
func (r *Receiver) take(datagram []byte, arrival, ready time.Duration) (media bool) {
	h := &r.packet.Header
	seq := h.SequenceNumber
	if r.il != nil && h.PayloadType == r.il.pt {
		media = r.receiveInterleaved(arrival)
	} else {
		media = r.receivePlain(r.red != nil && h.PayloadType == r.red.PayloadType(), arrival, ready)
	}
	if media && r.xor != nil {
		r.xor.AddMedia(seq, datagram, arrival) // may rebuild a packet it completes
	}
	return media
}

// receiveInterleaved takes a received interleaved packet (r.packet) of the
// stream to the de-interleaving stage.
func (r *Receiver) receiveInterleaved(arrival time.Duration) (counted bool) {
	h := &r.packet.Header
	if _, ok := r.received(h.SequenceNumber, h.Timestamp, arrival); !ok {
		return false
	}
	if r.xor != nil && r.rebuiltTwinIn(h.SequenceNumber, h.Timestamp, arrival) {
		return true
	}
	r.handleInterleaved(h.SequenceNumber, h.Timestamp, h.Marker, r.packet.Payload, arrival, false)
	return true
}

// receivePlain takes a received packet of plain or redundant audio (r.packet)
// through the redundant-audio stage to the playout buffer, and reports
// whether it was counted as one of the stream's.
func (r *Receiver) receivePlain(isRED bool, arrival, ready time.Duration) (counted bool) {
	h := &r.packet.Header
	primary := r.packet.Payload
	var redundant []fec.Block
	if isRED {
		var ok bool
		if redundant, primary, ok = r.red.Split(primary, r.codec.PayloadType); !ok {
			r.stats.FECMalformed++
			return false
		}
	}
	samples, err := r.dec.Samples(primary)
	if err != nil || samples == 0 {
		r.stats.Refused++
		return false
	}
	r.chunkSamples = samples
	first, ok := r.received(h.SequenceNumber, h.Timestamp, arrival)
	if !ok {
		return false
	}

	copyTried := false
	if r.red != nil {
		rep := r.red.Arrived(fec.Arrival{Seq: h.SequenceNumber, TS: h.Timestamp, Samples: samples, RED: isRED,
			Redundant: redundant, Primary: primary, PrimaryPT: r.codec.PayloadType, Arrival: arrival,
			First: first, ExtSeq: r.src.extend(h.SequenceNumber), BaseSeq: r.src.baseSeq})
		r.stats.FECMalformed += uint64(rep.Malformed)
		if rep.LateAfterCopy {
			r.stats.Late++
		}
		if rep.Replaced {
			return true // a copy stands in this packet's place already
		}
		copyTried = rep.CopyTried
	}
	rebuiltQueued, rebuiltTried := false, false
	if r.xor != nil {
		rebuiltQueued, rebuiltTried = r.xor.Arrived(h.SequenceNumber)
	}
	switch r.pushRepaired(jitter.Packet{SequenceNumber: h.SequenceNumber, Timestamp: h.Timestamp, Marker: h.Marker,
		Samples: samples, Payload: primary, Ready: ready}, arrival) {
	case jitter.OutcomeLate:
		r.stats.Late++
	case jitter.OutcomeDuplicate:
		switch {
		case rebuiltQueued:
			// its rebuilt twin is queued in its place: the packet is in time
		case copyTried || rebuiltTried:
			r.stats.Late++ // its place holds the record of a copy (or rebuilt packet) that came too late
		default:
			r.stats.Duplicates++
		}
	case jitter.OutcomeQueued:
	default:
		r.stats.Refused++
	}
	return true
}

// received counts a packet of the stream that arrived, and reports whether
// it is the first of its source and whether it belongs to the stream at all:
// a sequence jump A.1 does not believe yet is counted as rejected_source and
// goes no further. At a believed jump (a restart) or the first packet of a
// new source, the playout buffer re-anchors: a new spurt, its timing
// continued from the stream before.
func (r *Receiver) received(seq uint16, ts uint32, arrival time.Duration) (first, ok bool) {
	fresh := r.src.renew
	switch r.src.received(seq, ts, arrival, r.codec.ClockRate) {
	case seqJump:
		r.stats.RejectedSource++
		return false, false
	case seqRestart:
		r.buffer.Reanchor()
		r.epoch++
	case seqCounted:
		if fresh {
			r.buffer.Reanchor()
			r.epoch++
		}
	}
	first = r.stats.Packets == 0 || fresh
	r.stats.Packets++
	return first, true
}

// push hands one packet to the playout buffer, with what Render needs to
// know to decode it.
func (r *Receiver) push(seq uint16, ts uint32, marker bool, samples int, meta jitter.Meta, payload []byte, arrival time.Duration) jitter.Outcome {
	return r.pushRepaired(jitter.Packet{
		SequenceNumber: seq,
		Timestamp:      ts,
		Marker:         marker,
		Samples:        samples,
		Payload:        payload,
		Meta:           meta,
	}, arrival)
}

// pushRepaired hands the playout buffer a packet from the network or from a
// repair stage, with the repair span current as headroom.
func (r *Receiver) pushRepaired(p jitter.Packet, arrival time.Duration) jitter.Outcome {
	r.syncHeadroom()
	return r.buffer.Push(p, arrival)
}

// syncHeadroom gives the playout buffer the current repair span: the time a
// redundant copy or a parity group's last packet comes after the packet it
// stands for.
func (r *Receiver) syncHeadroom() {
	if !r.repairHeadroom {
		return
	}
	switch {
	case r.red != nil:
		r.buffer.SetHeadroom(r.red.Span())
	case r.xor != nil:
		r.buffer.SetHeadroom(r.xor.Span())
	}
}

// Render plays everything due by now: it takes due chunks from the playout
// buffer, decodes them onto the output timeline and hands every sample before
// now to write. Holes are concealed, or stay silent. With NoAudio it only
// schedules and counts, and write is not called.
func (r *Receiver) Render(now time.Duration, write func([]int16) error) error {
	if r.il != nil {
		r.closeDueGroups(now)
	}
	for {
		chunk, ok := r.buffer.Pop(now)
		if !ok {
			break
		}
		if chunk.Missing {
			r.playHole(chunk)
		} else {
			r.playChunk(chunk)
		}
	}
	r.stats.ClippedSamples = r.out.clipped
	if r.noAudio {
		r.out.skip(now)
		return nil
	}
	return r.out.commit(now, write)
}

// playHole conceals a stretch of a talk spurt whose audio never came in
// time, or leaves it silent.
func (r *Receiver) playHole(chunk jitter.Chunk) {
	r.stats.MissingChunks++
	if r.conceal != nil {
		r.fillHole(chunk.PlayAt, chunk.Samples)
	}
	r.played(Played{Seq: chunk.SequenceNumber, PlayAt: chunk.PlayAt, Samples: chunk.Samples, Kind: PlayHole})
}

// playChunk decodes one chunk the buffer says is due, settles what its
// repair stage did for it, conceals its holes and places it on the timeline.
func (r *Receiver) playChunk(chunk jitter.Chunk) {
	if len(chunk.Payload) == 0 {
		r.stats.Refused++
		return
	}
	meta, payload := chunk.Meta, chunk.Payload
	kind := PlayPacket
	if meta.Origin == jitter.Rebuilt && r.xor != nil && r.xor.Recovered(chunk.SequenceNumber) {
		r.stats.Recovered++
		kind = PlayRebuilt
	}
	if meta.Origin == jitter.Copy && r.red != nil {
		if p, replaced := r.red.Playing(chunk.SequenceNumber); replaced {
			meta, payload = jitter.Meta{}, p // the packet itself came in time after all
		} else {
			r.stats.Recovered++
			kind = PlayCopy
		}
	}
	depth := 0
	if r.il != nil {
		depth = r.il.ra.Depth()
	}
	if r.noAudio {
		if r.conceal != nil {
			r.countConcealed(chunk.Samples, meta.Holes, depth)
		}
		r.out.reserve(chunk.PlayAt, chunk.Samples)
	} else {
		var pcm []int16
		var err error
		if meta.PayloadType != 0 && r.red != nil && meta.PayloadType == r.red.SecondaryPayloadType() {
			pcm, err = r.red.DecodeCopy(r.pcm[:0], chunk.SequenceNumber, payload)
		} else {
			pcm, err = r.dec.Decode(r.pcm[:0], payload)
		}
		if err != nil {
			r.stats.Refused++
			return
		}
		if r.conceal != nil {
			r.passChunk(pcm, meta.Holes, depth, chunk)
		}
		r.out.place(chunk.PlayAt, pcm)
	}
	r.stats.Played++
	media := chunk.Media
	r.delays.record(chunk.PlayAt-media-r.duration(chunk.Samples), chunk.PlayAt-chunk.Arrival)
	r.played(Played{Seq: chunk.SequenceNumber, PlayAt: chunk.PlayAt, Arrival: chunk.Arrival,
		Samples: chunk.Samples, Kind: kind, Holes: meta.Holes})
}

// played tells OnPlay, if set, of a chunk played.
func (r *Receiver) played(p Played) {
	if r.onPlay != nil {
		r.onPlay(p)
	}
}

// Idle reports whether nothing received is still waiting to be played.
func (r *Receiver) Idle() bool {
	return r.buffer.Len() == 0 && !r.out.pending() && (r.il == nil || !r.il.ra.Pending())
}

// Stats reports the receive pipeline's counters.
func (r *Receiver) Stats() ReceiverStats {
	s := r.stats
	b := r.buffer.Stats()
	s.Spurts = b.Spurts
	s.RejectedSource += r.src.dropped + uint64(r.src.holding) // held on probation: not taken (yet)
	s.SourceChanges = r.src.changes
	s.Expected, s.Lost = r.src.expectedLost()
	s.Jitter = r.src.jitter(r.codec.ClockRate)
	if r.red != nil {
		s.Recovered += r.red.Pending() // in time, though not played yet
	}
	if lost := s.Lost + s.Late; lost > s.Recovered {
		s.ResidualLost = lost - s.Recovered
	}
	return s
}

// Buffer exposes the playout buffer, for its strategy's estimates and stats.
func (r *Receiver) Buffer() *jitter.Buffer { return r.buffer }

func (r *Receiver) duration(ticks int) time.Duration { return r.duration64(int64(ticks)) }

func (r *Receiver) duration64(ticks int64) time.Duration {
	return time.Duration(ticks * int64(time.Second) / int64(r.codec.ClockRate))
}
