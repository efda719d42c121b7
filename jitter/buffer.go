package jitter

import (
	"errors"
	"fmt"
	"github.com/spurtvoip/spurt/internal/rtpseq"
	"time"
)

const (
	// maxTransitJump is how far a packet's transit may differ from the newest
	// packet's before its timestamp is taken not to fit the stream.
	maxTransitJump = 5 * time.Second

	defaultCapacity   = 512
	defaultMaxPayload = 1500
	maxCapacity       = 1 << 15 // half the sequence number space
	maxPayloadLimit   = 65535
	maxStorage        = 64 << 20 // bytes preallocated for payloads
	maxClockRate      = 1_000_000
)

// Config sets up a Buffer.
type Config struct {
	ClockRate  int      // RTP clock rate, e.g. 8000 (required)
	Strategy   Strategy // required
	Capacity   int      // slots (packets) held; default 512
	MaxPayload int      // bytes per slot; default 1500; bigger payloads are refused (OutcomeTooLarge)
}

// Packet is one received RTP packet as the buffer needs it.
type Packet struct {
	SequenceNumber uint16
	Timestamp      uint32
	Marker         bool
	// Samples is the media duration of the payload in clock ticks (160 =
	// 20 ms at 8 kHz). Any size from 1 tick to one second is played as such.
	Samples int
	// Payload is copied into the buffer's own storage; the caller may reuse it.
	Payload []byte
	// Meta travels with the packet untouched and comes back on its Chunk.
	Meta Meta
	// Unobserved keeps the strategy from observing the packet: its timing is
	// not the network's own (a chunk of an interleaved group after the first
	// arrives with it, held back by the sender).
	Unobserved bool
	// Ready, when later than the packet's arrival, is when it could first be
	// played: a packet held until its source was confirmed. The strategy sees
	// its arrival; its playout is scheduled no earlier than Ready.
	Ready time.Duration
}

// PushFunc is how a repair stage on the receive path (redundant audio,
// de-interleaving) hands its packets on to the playout buffer, usually
// Buffer.Push behind the caller's counting: it returns what the buffer did.
type PushFunc func(p Packet, arrival time.Duration) Outcome

// Origin says where the audio of a packet came from.
type Origin uint8

// Origins of a packet's audio.
const (
	// Received: the packet itself, from the network.
	Received Origin = iota
	// Copy: a redundant copy (RFC 2198) carried by a later packet.
	Copy
	// Rebuilt: rebuilt from parity (RFC 5109) and the rest of its group.
	Rebuilt
)

// Meta is what a repair stage tells the decoder about a packet's payload.
type Meta struct {
	Origin Origin
	// PayloadType is the payload's encoding when it differs from the
	// stream's (a copy in a secondary codec); zero means the stream's.
	PayloadType uint8
	// Holes marks the parts of the chunk that never arrived: bit u, the
	// u-th of its interleaved units.
	Holes uint8
}

// Outcome says what Push did with a packet.
type Outcome int

// Outcomes of Push. Every outcome but OutcomeQueued drops the packet.
const (
	// OutcomeQueued: stored; Pop returns it at its playout time.
	OutcomeQueued Outcome = iota
	// OutcomeLate: arrived after its playout time, after Pop passed its place,
	// or too late to fit before the next spurt. The strategy still saw it.
	OutcomeLate
	// OutcomeDuplicate: a sequence number already received.
	OutcomeDuplicate
	// OutcomeTooLarge: the payload exceeds Config.MaxPayload.
	OutcomeTooLarge
	// OutcomeTooOld: belongs to audio long played, or does not fit the
	// stream at all (see the package documentation on bad input).
	OutcomeTooOld
	// OutcomeInvalid: Samples outside 1 tick to 1 s, or a timestamp that
	// contradicts the sequence numbers of the packets around it.
	OutcomeInvalid
	// OutcomeFull: storing it would need Capacity or more slots from the
	// oldest queued packet on; Pop has fallen behind.
	OutcomeFull
)

func (o Outcome) String() string {
	switch o {
	case OutcomeQueued:
		return "queued"
	case OutcomeLate:
		return "late"
	case OutcomeDuplicate:
		return "duplicate"
	case OutcomeTooLarge:
		return "too large"
	case OutcomeTooOld:
		return "too old"
	case OutcomeInvalid:
		return "invalid"
	case OutcomeFull:
		return "full"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Chunk is one piece of audio to play, or a known hole.
type Chunk struct {
	SequenceNumber uint16
	Timestamp      uint32
	Samples        int
	PlayAt         time.Duration // receiver clock
	Arrival        time.Duration // receiver clock; zero for a Missing chunk
	// Media is the chunk's media time since the stream's first timestamp,
	// continued across re-anchorings (a sender restart, Reanchor): PlayAt
	// minus Media is the spurt's playout offset.
	Media      time.Duration
	SpurtStart bool // first chunk Pop returns of its talk spurt
	// Missing marks a known hole: a later packet of the same spurt is here
	// but this audio is not. Payload is nil and Samples is the hole's length
	// in ticks (one chunk covers a whole run of lost packets), so that
	// concealment can fill it; SequenceNumber is the first one missing.
	Missing bool
	Payload []byte // valid until the next Push or Pop
	Meta    Meta   // as pushed
}

// Stats counts what the buffer did. Every pushed packet is counted once in
// Received and once in exactly one of Queued, Late, Duplicates or Refused;
// every queued packet is either Played or still held (Len).
type Stats struct {
	Received   uint64 // packets pushed
	Late       uint64 // late loss: after their playout time, or after Pop passed their place
	Duplicates uint64
	Refused    uint64 // too large, invalid, too old, not fitting the stream, or no room
	Spurts     uint64 // talk spurts begun
	Missing    uint64 // Missing chunks Pop returned (holes, each maybe several packets long)
	// PlayoutOffset is the current spurt's offset (playout minus media time).
	PlayoutOffset time.Duration

	Queued   uint64 // packets stored for playout
	Played   uint64 // chunks with audio Pop returned
	Restarts uint64 // times the stream was re-anchored after a sender restart or clock jump
}

// Buffer is the playout buffer: Push packets as they arrive, Pop chunks as
// their playout time comes. It never allocates after New.
type Buffer struct {
	strategy   Strategy
	rate       int64
	capacity   int64
	maxPayload int
	slots      []slot

	started   bool
	firstTS   int64         // extended timestamp of media time zero
	newest    packetRef     // the packet with the highest extended sequence number accepted
	next      int64         // extended sequence number Pop looks at first
	queued    int           // slots in state slotQueued
	spurt     uint64        // id of the newest spurt
	offset    time.Duration // its playout offset
	schedEnd  time.Duration // end of the latest audio queued so far
	scheduled bool          // whether anything was queued, so schedEnd is set
	emitted   emittedRef    // the last chunk Pop returned
	cand      candidate     // a packet that did not fit the stream, in case the sender restarted
	headroom  time.Duration // added to the strategy's offset at each spurt (SetHeadroom)
	reanchor  bool          // the next packet begins a new stream (Reanchor)
	stats     Stats
}

// slot holds one packet at index extSeq mod capacity. What it records is
// valid only while extSeq matches the sequence number asked about.
type slot struct {
	state   slotState
	extSeq  int64
	extTS   int64
	seq     uint16
	ts      uint32
	samples int
	spurt   uint64
	offset  time.Duration // the spurt's offset
	playAt  time.Duration
	arrival time.Duration
	meta    Meta
	payload []byte // len is the packet's; cap is the slot's storage
}

type slotState uint8

const (
	slotEmpty  slotState = iota
	slotQueued           // waiting for Pop
	slotDone             // played, or late with its place in the stream known
	slotSeen             // arrived after Pop passed it: remembered only to spot duplicates
)

type packetRef struct {
	extSeq  int64
	extTS   int64
	seq     uint16
	ts      uint32
	samples int
	arrival time.Duration
	transit time.Duration // arrival minus media time
}

type emittedRef struct {
	ok    bool
	extTS int64         // timestamp of the chunk's first tick
	endTS int64         // one past its last tick
	end   time.Duration // when its audio ends
	spurt uint64
}

type candidate struct {
	ok      bool
	seq     uint16
	ts      uint32
	arrival time.Duration
}

// New returns an empty buffer with all its storage allocated.
func New(cfg Config) (*Buffer, error) {
	if cfg.Strategy == nil {
		return nil, errors.New("jitter: a playout strategy is required")
	}
	if cfg.ClockRate <= 0 || cfg.ClockRate > maxClockRate {
		return nil, fmt.Errorf("jitter: clock rate %d Hz must lie between 1 and %d", cfg.ClockRate, maxClockRate)
	}
	if cfg.Capacity == 0 {
		cfg.Capacity = defaultCapacity
	}
	if cfg.MaxPayload == 0 {
		cfg.MaxPayload = defaultMaxPayload
	}
	if cfg.Capacity < 1 || cfg.Capacity > maxCapacity {
		return nil, fmt.Errorf("jitter: capacity %d must lie between 1 and %d packets", cfg.Capacity, maxCapacity)
	}
	if cfg.MaxPayload < 1 || cfg.MaxPayload > maxPayloadLimit {
		return nil, fmt.Errorf("jitter: max payload %d must lie between 1 and %d bytes", cfg.MaxPayload, maxPayloadLimit)
	}
	if cfg.Capacity*cfg.MaxPayload > maxStorage {
		return nil, fmt.Errorf("jitter: %d slots of %d bytes exceed the %d MiB storage limit",
			cfg.Capacity, cfg.MaxPayload, maxStorage>>20)
	}
	storage := make([]byte, cfg.Capacity*cfg.MaxPayload)
	slots := make([]slot, cfg.Capacity)
	for i := range slots {
		slots[i].payload = storage[i*cfg.MaxPayload : i*cfg.MaxPayload : (i+1)*cfg.MaxPayload]
	}
	return &Buffer{
		strategy:   cfg.Strategy,
		rate:       int64(cfg.ClockRate),
		capacity:   int64(cfg.Capacity),
		maxPayload: cfg.MaxPayload,
		slots:      slots,
	}, nil
}

// Strategy returns the strategy choosing the playout offsets.
func (b *Buffer) Strategy() Strategy { return b.strategy }

// SetHeadroom sets extra playout delay added to the strategy's offset at each
// spurt start from now on: the time a repair stage needs for its help to come
// (a redundant copy rides a later packet; a parity group ends later).
func (b *Buffer) SetHeadroom(d time.Duration) { b.headroom = d }

// SpurtOffset is the offset a talk spurt starting now would get: the
// strategy's, plus the headroom.
func (b *Buffer) SpurtOffset() time.Duration { return b.strategy.SpurtOffset() + b.headroom }

// observe lets the strategy see a packet, unless the packet says not to.
func (b *Buffer) observe(p *Packet, media, arrival time.Duration) {
	if !p.Unobserved {
		b.strategy.Observe(media, arrival)
	}
}

// Len returns the number of packets queued.
func (b *Buffer) Len() int { return b.queued }

// Stats returns the counters so far.
func (b *Buffer) Stats() Stats {
	s := b.stats
	s.PlayoutOffset = b.offset
	return s
}

// Push takes a packet that arrived at the given time on the receiver's clock.
// Arrival times must not decrease from one call to the next.
func (b *Buffer) Push(p Packet, arrival time.Duration) Outcome {
	out := b.push(p, arrival)
	b.stats.Received++
	switch out {
	case OutcomeQueued:
		b.stats.Queued++
	case OutcomeLate:
		b.stats.Late++
	case OutcomeDuplicate:
		b.stats.Duplicates++
	default:
		b.stats.Refused++
	}
	return out
}

func (b *Buffer) push(p Packet, arrival time.Duration) Outcome {
	if len(p.Payload) > b.maxPayload {
		return OutcomeTooLarge
	}
	if p.Samples <= 0 || int64(p.Samples) > b.rate {
		return OutcomeInvalid
	}
	if !b.started {
		b.started = true
		x := int64(p.SequenceNumber)
		b.firstTS = int64(p.Timestamp)
		// Leave room below the first packet for packets overtaken by it.
		b.next = x - min(rtpseq.MaxMisorder, b.capacity-1)
		return b.pushNewest(p, arrival, x, b.firstTS, true)
	}

	if b.reanchor {
		b.reanchor = false
		out := b.restart(p, arrival)
		if out != OutcomeFull {
			b.stats.Restarts++
		}
		return out
	}
	// Unwrap the sequence number against the newest one (RFC 3550 A.1): one
	// further ahead or behind does not belong to the stream as it stands.
	var x int64
	switch delta := p.SequenceNumber - b.newest.seq; {
	case delta < rtpseq.MaxDropout:
		x = b.newest.extSeq + int64(delta)
	case -delta <= rtpseq.MaxMisorder:
		x = b.newest.extSeq - int64(-delta)
	default:
		return b.misfit(p, arrival)
	}
	// From the newest packet's wire timestamp: its extended one is re-anchored
	// at a sender restart, so its low bits need not be the wire's.
	extTS := b.newest.extTS + int64(int32(p.Timestamp-b.newest.ts))
	media := b.mediaTime(extTS)
	jump := arrival - media - b.newest.transit

	if x > b.newest.extSeq {
		if extTS <= b.newest.extTS || jump > maxTransitJump || jump < -maxTransitJump {
			return b.misfit(p, arrival)
		}
		// A talk spurt starts at a marked packet, or where the timestamps
		// advance further than the packets in between, lost or not, can
		// fill: that far, a gap in the sequence numbers is loss; beyond it,
		// silence (RFC 3551 4.1: the packet after a period in which packets
		// were not sent contiguously). So a spurt whose marked first packet
		// was lost still begins where it should.
		start := p.Marker || extTS-b.newest.extTS > (x-b.newest.extSeq)*int64(b.newest.samples)
		return b.pushNewest(p, arrival, x, extTS, start)
	}

	if b.newest.extSeq-x >= b.capacity {
		return OutcomeTooOld // beyond what the slots remember
	}
	s := &b.slots[b.index(x)]
	if s.extSeq == x && s.state != slotEmpty {
		return OutcomeDuplicate
	}
	if jump > maxTransitJump || jump < -maxTransitJump {
		return OutcomeTooOld
	}
	if x < b.next {
		// Pop has passed its place already.
		b.observe(&p, media, arrival)
		*s = slot{state: slotSeen, extSeq: x, payload: s.payload[:0]}
		return OutcomeLate
	}
	return b.pushOlder(p, arrival, x, extTS, media)
}

// misfit handles a packet that does not fit the stream: it is refused, unless
// it continues the previous misfit, in which case the sender restarted and
// the stream is re-anchored at it.
func (b *Buffer) misfit(p Packet, arrival time.Duration) Outcome {
	c := b.cand
	if c.ok && p.SequenceNumber == c.seq+1 {
		ticks := int64(int32(p.Timestamp - c.ts))
		gap := arrival - c.arrival - b.duration(ticks)
		if ticks > 0 && gap <= maxTransitJump && gap >= -maxTransitJump {
			out := b.restart(p, arrival)
			if out != OutcomeFull {
				b.cand = candidate{}
				b.stats.Restarts++
				return out
			}
		}
	}
	b.cand = candidate{ok: true, seq: p.SequenceNumber, ts: p.Timestamp, arrival: arrival}
	return OutcomeTooOld
}

// Newest returns the RTP timestamp and media time of the newest packet
// queued so far (the highest sequence number), and false before any.
func (b *Buffer) Newest() (ts uint32, media time.Duration, ok bool) {
	if !b.started {
		return 0, 0, false
	}
	return b.newest.ts, b.mediaTime(b.newest.extTS), true
}

// Reanchor says the next packet pushed begins a new stream: a new source
// that replaced the one before (RFC 3550 A.1), or a sender restart the
// caller has confirmed. It starts a talk spurt after whatever is queued,
// without the confirmation a misfit needs, its timing continued from the
// newest packet. Before the first packet it changes nothing.
func (b *Buffer) Reanchor() {
	b.reanchor = b.started
	b.cand = candidate{}
}

// restart stores p as the first packet of a restarted stream. Transit is
// kept continuous across the restart so that the estimates carry over: the
// packet's media time is the newest packet's plus the time between their
// arrivals.
func (b *Buffer) restart(p Packet, arrival time.Duration) Outcome {
	advance := max(b.ticks(arrival-b.newest.arrival), int64(b.newest.samples))
	return b.pushNewest(p, arrival, b.newest.extSeq+1, b.newest.extTS+advance, true)
}

// pushNewest stores a packet with a higher extended sequence number x than
// any before it; start says it begins a talk spurt.
func (b *Buffer) pushNewest(p Packet, arrival time.Duration, x, extTS int64, start bool) Outcome {
	if x-b.next >= b.capacity {
		// Slide the window up to x, if no queued packet is in the way.
		last := min(x-b.capacity, b.newest.extSeq)
		for s := b.next; s <= last; s++ {
			if b.queuedAt(s) != nil {
				return OutcomeFull
			}
		}
		b.next = x - b.capacity + 1
	}
	media := b.mediaTime(extTS)
	b.observe(&p, media, arrival)
	var playAt time.Duration
	if start {
		playAt = max(media+b.SpurtOffset(), arrival, p.Ready)
		if b.scheduled {
			playAt = max(playAt, b.schedEnd) // never overlap the previous spurt
		}
		b.spurt++
		b.offset = playAt - media
		b.stats.Spurts++
	} else {
		playAt = media + b.offset
	}
	b.newest = packetRef{
		extSeq: x, extTS: extTS, seq: p.SequenceNumber, ts: p.Timestamp,
		samples: p.Samples, arrival: arrival, transit: arrival - media,
	}
	return b.store(p, arrival, x, extTS, b.spurt, b.offset, playAt, max(arrival, p.Ready) > playAt)
}

// pushOlder places a packet between the oldest place Pop may still fill and
// the newest packet.
func (b *Buffer) pushOlder(p Packet, arrival time.Duration, x, extTS int64, media time.Duration) Outcome {
	// The nearest packets on either side whose place in the stream is known.
	var before, after, nextSpurt *slot
	for s := x - 1; s > b.newest.extSeq-b.capacity; s-- {
		if before = b.knownAt(s); before != nil {
			break
		}
	}
	for s := x + 1; s <= b.newest.extSeq; s++ {
		k := b.knownAt(s)
		if k == nil {
			continue
		}
		if after == nil {
			after = k
		}
		if before != nil && k.spurt != before.spurt {
			nextSpurt = k // the first packet of the spurt after x's
			break
		}
		if before == nil {
			break
		}
	}
	if after == nil || extTS >= after.extTS || (before != nil && extTS <= before.extTS) ||
		(before == nil && b.emitted.ok && extTS <= b.emitted.extTS) {
		return OutcomeInvalid
	}
	// x belongs to the spurt of the packet before it; with none known (it
	// precedes everything still remembered) it joins the spurt after it. So
	// does a marked packet that the spurt after it overtook: it is that
	// spurt's first packet, and plays just before it.
	owner := after
	leads := before == nil || (p.Marker && after.spurt != before.spurt)
	if !leads {
		owner = before
	}
	playAt := media + owner.offset
	end := playAt + b.duration(int64(p.Samples))
	b.observe(&p, media, arrival)
	late := max(arrival, p.Ready) > playAt ||
		(owner == before && nextSpurt != nil && end > nextSpurt.playAt) ||
		(before == nil && b.emitted.ok && playAt < b.emitted.end) ||
		(before != nil && leads && playAt < before.playAt+b.duration(int64(before.samples)))
	return b.store(p, arrival, x, extTS, owner.spurt, owner.offset, playAt, late)
}

// store records packet x in its slot: queued, or if late, only its place in
// the stream (for duplicates and for placing packets around it).
func (b *Buffer) store(p Packet, arrival time.Duration, x, extTS int64, spurt uint64, offset, playAt time.Duration, late bool) Outcome {
	s := &b.slots[b.index(x)]
	*s = slot{
		state: slotQueued, extSeq: x, extTS: extTS, seq: p.SequenceNumber, ts: p.Timestamp,
		samples: p.Samples, spurt: spurt, offset: offset, playAt: playAt, arrival: arrival,
		meta: p.Meta, payload: s.payload[:0],
	}
	if late {
		s.state = slotDone
		return OutcomeLate
	}
	s.payload = append(s.payload, p.Payload...) // fits: len(p.Payload) <= maxPayload = cap
	end := playAt + b.duration(int64(p.Samples))
	if !b.scheduled || end > b.schedEnd {
		b.schedEnd, b.scheduled = end, true
	}
	b.queued++
	return OutcomeQueued
}

// Pop returns the next chunk, in media order, whose PlayAt is not after now:
// a queued packet, or a Missing chunk for a hole in a spurt that a later
// queued packet of the same spurt proves. It returns false if nothing is due.
func (b *Buffer) Pop(now time.Duration) (Chunk, bool) {
	if b.queued == 0 {
		return Chunk{}, false
	}
	// Bounded: b.newest.extSeq-b.next < b.capacity.
	for x := b.next; x <= b.newest.extSeq; x++ {
		s := b.queuedAt(x)
		if s == nil {
			continue
		}
		if x > b.next && b.emitted.ok && s.spurt == b.emitted.spurt && s.extTS > b.emitted.endTS {
			return b.popHole(now, x, s)
		}
		if s.playAt > now {
			return Chunk{}, false
		}
		c := Chunk{
			SequenceNumber: s.seq,
			Timestamp:      s.ts,
			Samples:        s.samples,
			PlayAt:         s.playAt,
			Arrival:        s.arrival,
			Media:          b.mediaTime(s.extTS),
			SpurtStart:     !b.emitted.ok || s.spurt != b.emitted.spurt,
			Payload:        s.payload,
			Meta:           s.meta,
		}
		s.state = slotDone
		b.queued--
		b.next = x + 1
		b.emitted = emittedRef{
			ok: true, extTS: s.extTS, endTS: s.extTS + int64(s.samples),
			end: s.playAt + b.duration(int64(s.samples)), spurt: s.spurt,
		}
		b.stats.Played++
		return c, true
	}
	return Chunk{}, false
}

// popHole returns a Missing chunk after the last chunk played, on the way to
// the queued packet s at extended sequence number x of the same spurt, once
// due. A gap of equal packets is played one missing packet at a time, so
// that a packet of the gap
// that turns up later, such as one rebuilt by FEC, can still play in its
// own slot rather than being passed over with the whole gap.
func (b *Buffer) popHole(now time.Duration, x int64, s *slot) (Chunk, bool) {
	start := b.emitted.endTS
	playAt := b.mediaTime(start) + s.offset
	if playAt > now {
		return Chunk{}, false
	}
	missing, span := x-b.next, s.extTS-start
	end, next := s.extTS, x
	if missing > 1 && span%missing == 0 {
		// equal packets: one hole per missing packet. Otherwise (a gap
		// longer than the buffer, whose sequence numbers were skipped, or
		// packets of uneven length) the gap is one hole.
		end, next = start+span/missing, b.next+1
	}
	c := Chunk{
		SequenceNumber: s.seq - uint16(missing),
		Timestamp:      s.ts - uint32(s.extTS-start),
		Samples:        int(end - start),
		PlayAt:         playAt,
		Media:          b.mediaTime(start),
		Missing:        true,
	}
	b.next = next
	b.emitted = emittedRef{
		ok: true, extTS: start, endTS: end,
		end: s.offset + b.mediaTime(end), spurt: s.spurt,
	}
	b.stats.Missing++
	return c, true
}

func (b *Buffer) index(x int64) int {
	i := x % b.capacity
	if i < 0 {
		i += b.capacity
	}
	return int(i)
}

// knownAt returns the slot of packet x if its place in the stream is known.
func (b *Buffer) knownAt(x int64) *slot {
	s := &b.slots[b.index(x)]
	if s.extSeq != x || (s.state != slotQueued && s.state != slotDone) {
		return nil
	}
	return s
}

// queuedAt returns the slot of packet x if it is queued.
func (b *Buffer) queuedAt(x int64) *slot {
	s := &b.slots[b.index(x)]
	if s.extSeq != x || s.state != slotQueued {
		return nil
	}
	return s
}

// mediaTime converts an extended timestamp to time since the first one.
func (b *Buffer) mediaTime(extTS int64) time.Duration { return b.duration(extTS - b.firstTS) }

// duration converts clock ticks to time without overflowing for any
// plausible tick count.
func (b *Buffer) duration(ticks int64) time.Duration {
	return time.Duration(ticks/b.rate*int64(time.Second) + ticks%b.rate*int64(time.Second)/b.rate)
}

// ticks converts time to whole clock ticks, rounding towards zero.
func (b *Buffer) ticks(d time.Duration) int64 {
	sec, frac := int64(d)/int64(time.Second), int64(d)%int64(time.Second)
	return sec*b.rate + frac*b.rate/int64(time.Second)
}
