// Package bench owns the loss and jitter injection benchmarks: it drives the
// real send and receive pipelines through impairment models on a virtual
// clock.
//
// A run simulates a call of a given length, one way or both ways. For each
// direction a talker (the synthetic on/off model, or recorded speech looped)
// feeds 20 ms frames to an rtpcall.Sender, whose voice activity detector
// forms talk spurts; every packet goes through an impair.Path (a scenario, or
// a recorded trace replayed) and an impair.Releaser, and what comes out is
// handed at its delivery time to one rtpcall.Receiver per playout strategy
// (RTP parsing, the jitter.Buffer, decoding and the output timeline), which is
// rendered as the virtual clock advances. Every strategy sees exactly the same
// packets at exactly the same times. Nothing sleeps or touches a socket, and
// the same seed gives the same numbers, byte for byte.
//
// Each FEC scheme (none, red:N, xor:N, interleave:D, interleave:D+xor:N;
// see parseScheme) is a call of its own with its own sender and receivers,
// over a network that loses and delays the same media packets the same way
// (interleaving sends its packets later, a group at a time, so they draw
// other fates). XOR parity packets go through a second path of the same
// scenario with a seed of their own, so that adding parity changes no media
// packet's fate; parity losses are thus independent of the media's, even
// under a bursty loss model (a real parity packet shares the burst of the
// packets it follows, so the figures flatter XOR a little under bursts). A
// replayed trace drives the parity path too, from its start. Rows are
// strategies times schemes. The receivers conceal holes (G.711 rated with
// G.113's concealment value) unless Config.DisablePLC is set. Besides
// the pipelines built on jitter.Strategy, PionStrategy drives the jitter
// buffer of pion/interceptor through the same harness.
//
// The harness measures, besides the receivers' own counters, each played
// chunk's playout delay: its playout instant minus its capture end as read on
// the receiver's clock (network plus buffering). The playout instant of a
// queued packet (or redundant copy) is its media time plus the playout offset
// the buffer chose for its talk spurt, read from the buffer after every
// datagram. Under interleaving the harness's unit is the chunk: chunk i is
// the audio of packet i's sequence number, reassembled from every packet of
// its group, and its delay runs from its own capture end, so the wait for
// the group shows. WritePlots draws the per-packet record (Config.Timeline) and the
// late-loss/delay trade-off; plotting runs after the simulation, never in it.
//
// The oracle (see Oracle) is the offline optimum of Moon, Kurose and Towsley
// (1998) computed over the same packets, for comparing each strategy's mean
// delay with the least any per-spurt schedule could achieve at the same late
// loss.
package bench

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/fec"
	"github.com/spurtvoip/spurt/impair"
	"github.com/spurtvoip/spurt/jitter"
	"github.com/spurtvoip/spurt/quality"
	"github.com/spurtvoip/spurt/rtpcall"
	"github.com/spurtvoip/spurt/vad"
)

// Limits that keep a run's memory bounded.
const (
	maxDuration  = 100 * time.Hour
	releaserSize = 4096 // packets in flight per direction: over a minute of a 20 ms stream
)

// Strategy names a playout strategy and builds fresh instances of it (one per
// receiver: strategies keep state). PionStrategy builds the one strategy that
// is not a jitter.Strategy.
type Strategy struct {
	Name string
	New  func() (jitter.Strategy, error)

	pionMinPackets int // above zero: pion/interceptor's jitter buffer, New unused
}

// Config describes one benchmark run.
type Config struct {
	// Scenario is the network of each direction, used unless Trace is set.
	Scenario impair.Scenario
	// Trace, when set, is replayed (looping) as each direction's loss and delay.
	Trace *impair.Trace
	// Speech is recorded 8 kHz speech, looped and sent through the default
	// VAD; nil selects the synthetic on/off model.
	Speech []int16
	// Codec is the codec of both directions; the zero value means PCMU.
	Codec codec.Codec
	// Duration is the simulated call length.
	Duration time.Duration
	// Seed selects the talkers' and the networks' random streams.
	Seed uint64
	// OneWay simulates only the first direction.
	OneWay bool
	// Strategies are compared on the same packets; at least one.
	Strategies []Strategy
	// Oracle adds, for each strategy, the offline optimum at its late loss
	// (for the FEC scheme none only: the oracle knows nothing of copies).
	Oracle bool
	// FEC lists the FEC schemes to run (see parseScheme): none, red[:N],
	// xor[:N], interleave:D or interleave:D+xor:N; empty means none. Each
	// scheme is a call of its own over the same network (the same losses
	// and delays for the same media packets) and multiplies the rows.
	FEC []string
	// DisablePLC plays holes as silence instead of concealing them, as
	// rtpcall.ReceiverConfig.DisablePLC; G.711 is then rated without
	// concealment.
	DisablePLC bool
	// Timeline keeps the first direction's per-packet record of the first
	// FEC scheme in the result, for plots.
	Timeline bool

	schemes []scheme
}

// Row holds one strategy's figures for one FEC scheme, both directions
// together. Delays are in milliseconds.
type Row struct {
	Strategy string `json:"strategy"`
	FEC      string `json:"fec"`

	Sent        uint64  `json:"packets_sent"`
	Expected    uint64  `json:"packets_expected"`
	NetworkLost uint64  `json:"network_lost"`
	Late        uint64  `json:"late_lost"`
	Played      uint64  `json:"chunks_played"`
	Talkspurts  uint64  `json:"talkspurts"`
	NetworkLoss float64 `json:"network_loss"` // share of expected
	LateLoss    float64 `json:"late_loss"`    // share of expected
	// FEC outcomes. Recovered chunks were played from a redundant copy or
	// a packet rebuilt from parity, their own packet lost or late; residual
	// losses are network plus late minus recovered. Concealed counts the
	// chunks that held concealed audio (whole holes, and interleaved chunks
	// with missing units); null when holes play as silence or the
	// pipeline does not conceal (pion).
	FECRecovered *uint64 `json:"fec_recovered"`
	Residual     *uint64 `json:"residual_lost"`
	Concealed    *uint64 `json:"concealed"`
	ResidualLoss float64 `json:"residual_loss"` // share of expected; what the E-model is given
	// Overhead is the FEC bytes sent (RED headers and copies, XOR parity
	// payloads) over the primary audio bytes.
	Overhead float64 `json:"fec_overhead"`

	DelayMean  float64 `json:"playout_delay_ms_mean"`
	DelayP95   float64 `json:"playout_delay_ms_p95"`
	MouthToEar float64 `json:"mouth_to_ear_ms"`
	BurstR     float64 `json:"burst_r"`
	R          float64 `json:"r_factor"`
	MOS        float64 `json:"mos"`

	// For a strategy when the oracle ran: the oracle's mean delay at this
	// strategy's late loss, and this strategy's mean delay over it.
	OracleDelayMean *float64 `json:"oracle_delay_ms_mean,omitempty"`
	DelayRatio      *float64 `json:"delay_ratio_to_oracle,omitempty"`
}

// Result is what a run reports.
type Result struct {
	Network   string  `json:"network"`
	Source    string  `json:"source"`
	Codec     string  `json:"codec"`
	DurationS float64 `json:"duration_s"`
	Seed      uint64  `json:"seed"`
	TwoWay    bool    `json:"two_way"`
	PLC       bool    `json:"plc"` // the receivers concealed holes
	Rows      []Row   `json:"rows"`
	// Timeline is the per-packet record Config.Timeline asks for.
	Timeline *Timeline `json:"-"`
}

// Timeline is one direction's per-packet record, in send order, for plots.
// Times are on the receiver's clock, relative to the call's start.
type Timeline struct {
	Send    []time.Duration // capture end (= send time) of each packet
	Network []time.Duration // its network delay; -1 if lost
	Spurt   []uint32        // the sender's talk spurt it belongs to
	// Playout holds, per strategy (and "oracle" for the oracle at the first
	// strategy's late loss), each packet's playout delay: playout instant
	// minus Send; -1 if it was not played.
	Playout []NamedDelays
}

// NamedDelays is one strategy's per-packet playout delays.
type NamedDelays struct {
	Name   string
	Delays []time.Duration
}

// Run simulates the call cfg describes. Both directions and every FEC scheme
// run concurrently; the result does not depend on their scheduling.
func Run(cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	dirs := 2
	if cfg.OneWay {
		dirs = 1
	}
	outs := make([][]*direction, len(cfg.schemes))
	errs := make([]error, len(cfg.schemes)*dirs)
	var wg sync.WaitGroup
	for s := range cfg.schemes {
		outs[s] = make([]*direction, dirs)
		for d := range dirs {
			wg.Go(func() { outs[s][d], errs[s*dirs+d] = simulate(&cfg, d, cfg.schemes[s]) })
		}
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	res := Result{
		Network: cfg.networkName(), Source: cfg.sourceName(), Codec: cfg.Codec.Name,
		DurationS: cfg.Duration.Seconds(), Seed: cfg.Seed, TwoWay: !cfg.OneWay,
		PLC: !cfg.DisablePLC,
	}
	if cfg.Timeline {
		res.Timeline = outs[0][0].timeline(cfg.Strategies)
	}
	for si, sch := range cfg.schemes {
		for i, s := range cfg.Strategies {
			if s.pionMinPackets > 0 && sch.name != FECNone {
				continue // pion's buffer knows nothing of FEC
			}
			concealed := s.pionMinPackets == 0 && !cfg.DisablePLC
			row := summarise(emodel(cfg.Codec, concealed), sch, outs[si], i, concealed)
			row.Strategy, row.FEC = s.Name, sch.name
			if !cfg.Oracle || sch.name != FECNone {
				res.Rows = append(res.Rows, row)
				continue
			}
			var keep *Timeline
			if i == 0 && si == 0 {
				keep = res.Timeline
			}
			o := oracleRow(emodel(cfg.Codec, concealed), outs[si], row.Late, keep)
			o.Strategy, o.FEC = "oracle@"+s.Name, sch.name
			row.OracleDelayMean = ptr(o.DelayMean)
			if o.DelayMean > 0 {
				row.DelayRatio = ptr(round3(row.DelayMean / o.DelayMean))
			}
			res.Rows = append(res.Rows, row, o)
		}
	}
	return res, nil
}

func (cfg *Config) check() error {
	if cfg.Codec.NewEncoder == nil {
		c, err := codec.Default().ByName("PCMU")
		if err != nil {
			return fmt.Errorf("bench: default codec: %w", err)
		}
		cfg.Codec = c
	}
	if cfg.Codec.ClockRate != 8000 {
		return fmt.Errorf("bench: codec %s runs at %d Hz; the benchmark needs 8 kHz", cfg.Codec.Name, cfg.Codec.ClockRate)
	}
	if cfg.Duration < frameDuration || cfg.Duration > maxDuration {
		return fmt.Errorf("bench: duration %v must lie between %v and %v", cfg.Duration, frameDuration, maxDuration)
	}
	if len(cfg.Strategies) == 0 {
		return errors.New("bench: no playout strategy to run")
	}
	for _, s := range cfg.Strategies {
		if s.Name == "" || (s.New == nil && s.pionMinPackets <= 0) {
			return errors.New("bench: a strategy needs a name and a constructor")
		}
	}
	if cfg.Speech != nil && len(cfg.Speech) < frameSamples {
		return fmt.Errorf("bench: speech of %d samples is shorter than one frame", len(cfg.Speech))
	}
	if cfg.Trace == nil {
		if err := cfg.Scenario.Validate(); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	names := cfg.FEC
	if len(names) == 0 {
		names = []string{FECNone}
	}
	cfg.schemes = cfg.schemes[:0:0]
	for _, name := range names {
		s, err := parseScheme(name, cfg.Codec)
		if err != nil {
			return err
		}
		if slices.ContainsFunc(cfg.schemes, func(o scheme) bool { return o.name == s.name }) {
			return fmt.Errorf("bench: FEC scheme %q given twice", s.name)
		}
		cfg.schemes = append(cfg.schemes, s)
	}
	return nil
}

func (cfg *Config) networkName() string {
	if cfg.Trace != nil {
		return "trace"
	}
	return cfg.Scenario.Name
}

func (cfg *Config) sourceName() string {
	if cfg.Speech != nil {
		return "speech"
	}
	return "synthetic"
}

const (
	frameSamples  = 160
	frameDuration = 20 * time.Millisecond
)

// notPlayed marks a packet no receiver played (yet).
const notPlayed time.Duration = -1

// direction is what one direction of the call recorded. Indices are media
// packets in send order (under interleaving, also the chunks of the same
// sequence numbers).
type direction struct {
	send      []time.Duration // capture end of packet i's chunk, on the sender's clock
	tx        []time.Duration // when packet i left, on the sender's clock (later than send under interleaving)
	frame     []int32         // the frame packet i carries (interleaved: the frame of chunk i)
	spurt     []uint32        // the sender's talk spurt of packet i
	network   []time.Duration // arrival of packet i's first copy minus its transmission, both on the receiver's clock; -1 if lost
	parityOf  []int32         // under XOR: the parity packet protecting packet i, -1 before it is sent
	parity    []parityGroup   // under XOR: by parity packet, in send order
	sent      uint64
	octets    uint64 // payload bytes sent
	fecOctets uint64 // of those, FEC
	recv      []*receiver
	clock     impair.Clock
	scheme    scheme

	blocksScratch []fec.Block
	lastSeq       uint16
	lastParitySeq uint16
	newestIn      int // highest packet index delivered, -1 before
	lastArrival   time.Duration
	renderErr     error
}

// parityGroup is one XOR parity packet and the media packets it protects.
type parityGroup struct {
	first   int    // index of the first protected packet
	mask    uint64 // bit 63-k: packet first+k is protected
	arrived bool   // the parity packet was delivered
	rebuilt bool   // the receivers rebuilt its one missing packet
}

// receiver is one strategy's receive pipeline and what the harness learnt
// from it.
type receiver struct {
	pipe pipeline
	// playAt is the playout instant of packet i on the receiver's clock, or
	// notPlayed.
	playAt []time.Duration
}

// pipeline is a receive pipeline the harness drives.
type pipeline interface {
	// arrive hands over a datagram delivered at time at: media packet i (-1
	// for parity), after which the receiver rebuilds packet rebuilt from
	// parity (-1: none). The pipeline records in r.playAt the packets it
	// schedules.
	arrive(d *direction, r *receiver, pkt []byte, i, rebuilt int, at time.Duration)
	// render plays everything due by now.
	render(d *direction, r *receiver, now time.Duration) error
	stats() rtpcall.ReceiverStats
}

// index returns the index of the media packet with sequence number seq, -1
// if it was not sent.
func (d *direction) index(seq uint16) int {
	i := len(d.send) - 1 - int(d.lastSeq-seq)
	if i < 0 || len(d.send) == 0 {
		return -1
	}
	return i
}

// simulate runs direction d of the call under one FEC scheme.
func simulate(cfg *Config, d int, sch scheme) (*direction, error) {
	frames := int(cfg.Duration / frameDuration)
	seed := cfg.Seed ^ uint64(d)*0x9e3779b97f4a7c15

	var src source
	var det *vad.Detector
	var err error
	if cfg.Speech != nil {
		src = newLooped(cfg.Speech, frameSamples, d*len(cfg.Speech)/2)
		det, err = vad.New(vad.DefaultConfig())
	} else {
		src = newSynthetic(seed, frameSamples, frameDuration)
		det, err = syntheticVAD()
	}
	if err != nil {
		return nil, fmt.Errorf("bench: voice activity detector: %w", err)
	}
	snd, err := rtpcall.NewSender(sch.senderConfig(rtpcall.SenderConfig{
		Codec: cfg.Codec, SSRC: 0x5e0d0000 + uint32(d), InitialSeq: uint16(seed), InitialTime: uint32(seed >> 16), VAD: det,
	}))
	if err != nil {
		return nil, fmt.Errorf("bench: sender: %w", err)
	}
	path, err := cfg.path(seed)
	if err != nil {
		return nil, err
	}
	parityPath := path
	if sch.xor != nil {
		// The parity packets' own network: same scenario, a seed of its
		// own, so that the media packets' fates are those of plain audio.
		if parityPath, err = cfg.path(seed ^ parityStream); err != nil {
			return nil, err
		}
	}

	// Preallocate for the expected number of packets (about 43 % activity).
	expect := frames/2 + 16
	dir := &direction{
		send:          make([]time.Duration, 0, expect),
		tx:            make([]time.Duration, 0, expect),
		frame:         make([]int32, 0, expect),
		spurt:         make([]uint32, 0, expect),
		network:       make([]time.Duration, 0, expect),
		clock:         path.Clock,
		scheme:        sch,
		newestIn:      -1,
		blocksScratch: make([]fec.Block, 0, fec.MaxREDBlocks),
	}
	if sch.xor != nil {
		dir.parityOf = make([]int32, 0, expect)
		// A group per GroupSize packets, and one cut short per talk spurt.
		dir.parity = make([]parityGroup, 0, expect/sch.xor.GroupSize+frames/40+16)
	}
	for _, s := range cfg.Strategies {
		pipe, err := newPipeline(cfg, sch, s)
		if err != nil {
			return nil, err
		}
		dir.recv = append(dir.recv, &receiver{pipe: pipe, playAt: make([]time.Duration, 0, expect)})
	}

	rel := impair.NewReleaser(releaserSize, 1500)
	deliver := func(until time.Duration) {
		for {
			at, ok := rel.Next()
			if !ok || at > until {
				return
			}
			rel.Due(at, func(pkt []byte) { dir.arrive(pkt, at) })
		}
	}
	render := func(now time.Duration) error {
		for _, r := range dir.recv {
			if err := r.pipe.render(dir, r, now); err != nil {
				return fmt.Errorf("bench: rendering: %w", err)
			}
		}
		return nil
	}

	var pushErr error
	var spurtID uint32
	var captured time.Duration
	var n, inFrame int
	push := func(pkt []byte, at time.Duration) {
		if err := rel.Push(pkt, at); err != nil && pushErr == nil {
			pushErr = fmt.Errorf("bench: network delay line: %w", err)
		}
	}
	send := func(pkt []byte) {
		if len(pkt) < 12 {
			return // cannot happen: the sender built it
		}
		if sch.isParity(pkt) {
			dir.sentParity(pkt)
			parityPath.SendAll(captured, func(at time.Duration) { push(pkt, at) })
			return
		}
		if pkt[1]&0x80 != 0 {
			spurtID++
		}
		// An interleaved group leaves whole with its last frame: packet j
		// stands for the chunk of frame n-depth+1+j.
		frame := n - sch.depth() + 1 + inFrame
		inFrame++
		dir.lastSeq = binary.BigEndian.Uint16(pkt[2:4])
		dir.send = append(dir.send, time.Duration(frame+1)*frameDuration)
		dir.tx = append(dir.tx, captured)
		dir.frame = append(dir.frame, int32(frame))
		dir.spurt = append(dir.spurt, spurtID)
		dir.network = append(dir.network, -1)
		if dir.parityOf != nil {
			dir.parityOf = append(dir.parityOf, -1)
		}
		for _, r := range dir.recv {
			r.playAt = append(r.playAt, notPlayed)
		}
		dir.sent++
		path.SendAll(captured, func(at time.Duration) { push(pkt, at) })
	}
	for n = range frames {
		captured = time.Duration(n+1) * frameDuration // capture end = send time
		now := path.Clock.Receiver(captured)
		deliver(now)
		if err := render(now); err != nil {
			return nil, err
		}
		inFrame = 0
		if err := snd.FramePackets(src.next(), send); err != nil {
			return nil, fmt.Errorf("bench: sending frame %d: %w", n, err)
		}
		if pushErr != nil {
			return nil, pushErr
		}
		if dir.renderErr != nil {
			return nil, dir.renderErr
		}
	}
	st := snd.Stats()
	dir.octets, dir.fecOctets = st.Octets, st.FECOctets
	// Deliver what is still in flight, then play everything out.
	deliver(math.MaxInt64)
	end := max(path.Clock.Receiver(time.Duration(frames)*frameDuration), dir.lastArrival) + time.Minute
	if err := render(end); err != nil {
		return nil, err
	}
	return dir, dir.renderErr
}

func discard([]int16) error { return nil }

// parityStream is mixed into a direction's seed for its parity path.
const parityStream = 0x7061726974790000 // "parity"

// sentParity records which media packets a parity packet protects.
func (d *direction) sentParity(pkt []byte) {
	d.lastParitySeq = binary.BigEndian.Uint16(pkt[2:4])
	g := parityGroup{first: -1}
	if base, mask, ok := parityMask(pkt); ok {
		if first := d.index(base); first >= 0 {
			g.first, g.mask = first, mask<<16
		}
	}
	p := int32(len(d.parity))
	d.parity = append(d.parity, g)
	for k := 0; g.first >= 0 && k < 48; k++ {
		if g.mask&(1<<(63-k)) != 0 && g.first+k < len(d.parityOf) {
			d.parityOf[g.first+k] = p
		}
	}
}

// parityIndex returns the index of the parity packet with sequence number
// seq, -1 if it was not sent.
func (d *direction) parityIndex(seq uint16) int {
	i := len(d.parity) - 1 - int(d.lastParitySeq-seq)
	if i < 0 || len(d.parity) == 0 {
		return -1
	}
	return i
}

// xorWindow is how far (in packets) behind the newest media packet the
// first packet of a parity group may lie for the receivers' XOR decoder to
// still use it (rtpcall's decoder window).
const xorWindow = 64

// rebuild returns the packet the receivers rebuild from parity group p now,
// or -1: once its parity packet is in and exactly one protected packet
// has not been delivered, that packet is rebuilt, once.
func (d *direction) rebuild(p int) int {
	if p < 0 || p >= len(d.parity) {
		return -1
	}
	g := &d.parity[p]
	if !g.arrived || g.rebuilt || g.first < 0 || d.newestIn-g.first >= xorWindow {
		return -1 // not yet, done, or expired from the decoder's window
	}
	missing := -1
	for k := range 48 {
		i := g.first + k
		if g.mask&(1<<(63-k)) == 0 || i >= len(d.network) || d.network[i] >= 0 {
			continue
		}
		if missing >= 0 {
			return -1
		}
		missing = i
	}
	if missing < 0 {
		return -1
	}
	g.rebuilt = true
	return missing
}

// arrive hands one delivered datagram to every receiver and records its
// network delay.
func (dir *direction) arrive(pkt []byte, at time.Duration) {
	if len(pkt) < 12 {
		return // cannot happen: the harness sent it
	}
	seq := binary.BigEndian.Uint16(pkt[2:4])
	i, rebuilt := -1, -1
	if dir.scheme.isParity(pkt) {
		p := dir.parityIndex(seq)
		if p < 0 {
			return
		}
		dir.parity[p].arrived = true
		rebuilt = dir.rebuild(p)
	} else {
		if i = dir.index(seq); i < 0 {
			return
		}
		dir.newestIn = max(dir.newestIn, i)
		if dir.network[i] < 0 {
			dir.network[i] = at - dir.clock.Receiver(dir.tx[i])
		}
		if dir.parityOf != nil {
			rebuilt = dir.rebuild(int(dir.parityOf[i]))
		}
	}
	dir.lastArrival = at
	for _, r := range dir.recv {
		// Play what is due first, as the real-time shell does between reads.
		if err := r.pipe.render(dir, r, at); err != nil && dir.renderErr == nil {
			dir.renderErr = fmt.Errorf("bench: rendering: %w", err)
		}
		r.pipe.arrive(dir, r, pkt, i, rebuilt, at)
	}
}

// newPipeline builds strategy s's receive pipeline under FEC scheme sch.
func newPipeline(cfg *Config, sch scheme, s Strategy) (pipeline, error) {
	if s.pionMinPackets > 0 {
		return newPionPipe(s.pionMinPackets), nil
	}
	strat, err := s.New()
	if err != nil {
		return nil, fmt.Errorf("bench: strategy %s: %w", s.Name, err)
	}
	rcv, err := rtpcall.NewReceiver(sch.receiverConfig(rtpcall.ReceiverConfig{
		Codec: cfg.Codec, Strategy: strat, DisablePLC: cfg.DisablePLC,
	}))
	if err != nil {
		return nil, fmt.Errorf("bench: receiver for %s: %w", s.Name, err)
	}
	return &rtpPipe{rcv: rcv, scheme: sch, firstFrame: -1, closed: -1, groups: make([]openGroup, 0, maxOpenGroups)}, nil
}

// rtpPipe is Spurt's own receive pipeline, an rtpcall.Receiver.
//
// The harness learns each packet's playout instant from the playout buffer:
// after every datagram it reads the buffer's counters and, when a talk spurt
// began, its playout offset. The packets the datagram may have queued (its
// own, the copies it carries, the packet it let the receiver rebuild from
// parity) are the candidates; a packet not yet played is counted as queued,
// at its media time plus its spurt's offset, when the buffer queued as many
// as there are candidates, or, when it queued fewer, if it arrived by that
// instant (the buffer's own test).
//
// Under interleaving the buffer receives chunks, a group at a time, when the
// group is complete, when a packet of a later group shows it will not be, or
// when its playout time comes (during Render). The harness follows the
// receiver's open groups (as the deinterleaver, which hands them on in the
// order of their keys) and, from how many chunks the buffer received, which
// groups were handed on; their chunks are the candidates, arriving with the
// group's last packet.
type rtpPipe struct {
	rcv        *rtpcall.Receiver
	scheme     scheme
	spurts     [64]spurtOffset // ring of the latest spurts' offsets
	nSpurts    uint64
	queued     uint64
	newest     time.Duration // media time of the newest packet offered
	cands      [24]candidate
	firstFrame int32 // frame of the first packet (chunk) pushed, the buffer's media time zero; -1 before

	// Interleaving: the groups the receiver holds open, oldest first.
	groups   []openGroup
	closed   int // newest group (index of its first packet) closed; -1 before
	received uint64
	lastPush time.Duration
}

// candidate is a packet (chunk) a datagram may have queued, and when it
// reached the buffer.
type candidate struct {
	i      int
	at     time.Duration
	playAt time.Duration // its playout instant if queued
	ok     bool          // the buffer's own test says it is in time
}

// openGroup is an interleaved group some of whose packets the receiver took.
type openGroup struct {
	first   int // index of its first packet
	arrival time.Duration
}

// maxOpenGroups bounds the interleaved groups followed; the receiver keeps
// fewer open.
const maxOpenGroups = 8

type spurtOffset struct{ start, offset time.Duration }

// media returns packet i's media time in the playout buffer's time base.
func (p *rtpPipe) media(d *direction, i int) time.Duration {
	return time.Duration(d.frame[i]-p.firstFrame) * frameDuration
}

func (p *rtpPipe) render(d *direction, r *receiver, now time.Duration) error {
	err := p.rcv.Render(now, discard)
	if p.scheme.il != nil {
		p.settle(d, r, p.settleGroups(d, r, p.cands[:0]))
	}
	return err
}

func (p *rtpPipe) stats() rtpcall.ReceiverStats { return p.rcv.Stats() }

func (p *rtpPipe) arrive(d *direction, r *receiver, pkt []byte, i, rebuilt int, at time.Duration) {
	p.rcv.HandleRTP(pkt, at)
	cands := p.cands[:0]
	if p.scheme.il != nil {
		depth := p.scheme.il.Depth
		if i >= 0 {
			p.deliverToGroup(i-i%depth, at)
		}
		if rebuilt >= 0 {
			p.deliverToGroup(rebuilt-rebuilt%depth, at)
		}
		p.settle(d, r, p.settleGroups(d, r, cands))
		return
	}
	add := func(k int) {
		if k >= 0 && r.playAt[k] == notPlayed && len(cands) < cap(cands) {
			cands = append(cands, candidate{i: k, at: at})
		}
	}
	if i >= 0 {
		if p.firstFrame < 0 {
			p.firstFrame = d.frame[i]
		}
		d.blocksScratch = p.scheme.candidates(pkt, d.blocksScratch, func(seq uint16) { add(d.index(seq)) })
	}
	add(rebuilt)
	p.settle(d, r, cands)
}

// deliverToGroup notes that the receiver took a packet of the group
// beginning at packet first, at time at, as the receiver does: a packet of a
// group closed already is late; one of a later group than an open one
// closes the open ones before it.
func (p *rtpPipe) deliverToGroup(first int, at time.Duration) {
	if first <= p.closed {
		return
	}
	pos := len(p.groups)
	for k, g := range p.groups {
		if g.first == first {
			p.groups[k].arrival = max(g.arrival, at)
			return
		}
		if g.first > first && pos == len(p.groups) {
			pos = k
		}
	}
	if len(p.groups) > 0 && p.groups[0].first < first {
		p.closed = max(p.closed, first-1)
	}
	if len(p.groups) == cap(p.groups) {
		return // cannot happen: the receiver keeps fewer open
	}
	p.groups = slices.Insert(p.groups, pos, openGroup{first: first, arrival: at})
}

// settleGroups appends to cands the chunks of the groups the receiver handed
// to the playout buffer since the last look, oldest first.
func (p *rtpPipe) settleGroups(d *direction, r *receiver, cands []candidate) []candidate {
	got := p.rcv.Buffer().Stats().Received
	depth := p.scheme.il.Depth
	for ; p.received+uint64(depth) <= got && len(p.groups) > 0; p.received += uint64(depth) {
		g := p.groups[0]
		p.groups = slices.Delete(p.groups, 0, 1)
		p.closed = max(p.closed, g.first)
		if p.firstFrame < 0 {
			p.firstFrame = d.frame[g.first]
		}
		at := max(g.arrival, p.lastPush)
		p.lastPush = at
		for c := range depth {
			if k := g.first + c; k < len(r.playAt) && r.playAt[k] == notPlayed && len(cands) < cap(cands) {
				cands = append(cands, candidate{i: k, at: at})
			}
		}
	}
	return cands
}

// settle reads the buffer after a datagram (or a render) that may have
// queued cands and records their playout instants.
func (p *rtpPipe) settle(d *direction, r *receiver, cands []candidate) {
	st := p.rcv.Buffer().Stats()
	if st.Spurts != p.nSpurts {
		// The spurt began at the oldest packet newer than any before.
		start := time.Duration(math.MaxInt64)
		for _, c := range cands {
			if m := p.media(d, c.i); m > p.newest || p.nSpurts == 0 {
				start = min(start, m)
			}
		}
		if start == math.MaxInt64 && len(cands) > 0 {
			start = p.media(d, cands[len(cands)-1].i)
		}
		p.nSpurts = st.Spurts
		p.spurts[p.nSpurts%uint64(len(p.spurts))] = spurtOffset{start: start, offset: st.PlayoutOffset}
	}
	for _, c := range cands {
		p.newest = max(p.newest, p.media(d, c.i))
	}
	queued := st.Queued - p.queued
	p.queued = st.Queued
	if queued == 0 {
		return
	}
	// Mark the queued count: first those that pass the buffer's own test,
	// then by slack, since a packet late by arrival or passed over by a hole
	// is the one with the least time to spare.
	for k := range cands {
		m := p.media(d, cands[k].i)
		offset, next := p.offsetAt(m)
		cands[k].playAt = m + offset
		// In time, and not overlapping the next spurt.
		cands[k].ok = cands[k].at <= cands[k].playAt && cands[k].playAt+frameDuration <= next
	}
	if queued < uint64(len(cands)) {
		slices.SortStableFunc(cands, func(a, b candidate) int {
			if a.ok != b.ok {
				if a.ok {
					return -1
				}
				return 1
			}
			return cmp.Compare(b.playAt-b.at, a.playAt-a.at)
		})
	}
	for _, c := range cands[:min(queued, uint64(len(cands)))] {
		r.playAt[c.i] = c.playAt
	}
}

// offsetAt returns the playout offset of the spurt holding media time m: the
// latest spurt begun at or before m (the buffer's rule for a packet that
// arrives after newer ones). next is when the spurt after it begins to play,
// math.MaxInt64 if none has.
func (p *rtpPipe) offsetAt(m time.Duration) (offset, next time.Duration) {
	n := uint64(len(p.spurts))
	best := p.spurts[p.nSpurts%n]
	next = math.MaxInt64
	for k := uint64(0); k < n && k < p.nSpurts; k++ {
		s := p.spurts[(p.nSpurts-k)%n]
		best = s
		if s.start <= m {
			break
		}
		next = s.start + s.offset
	}
	return best.offset, next
}

// path builds one direction's network.
func (cfg *Config) path(seed uint64) (*impair.Path, error) {
	if cfg.Trace != nil {
		replay, err := impair.NewTraceReplay(cfg.Trace, true)
		if err != nil {
			return nil, fmt.Errorf("bench: %w", err)
		}
		return &impair.Path{Loss: replay, Delay: replay}, nil
	}
	p, err := cfg.Scenario.Build(seed)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return p, nil
}

// summarise adds up strategy i's figures over the directions; c rates the
// codec as the pipeline plays holes, concealed says it conceals them.
func summarise(c quality.Codec, sch scheme, dirs []*direction, i int, concealed bool) Row {
	var row Row
	var lp quality.LossPattern
	var delays []time.Duration
	var recovered, residual, hidden, octets, fecOctets uint64
	for _, d := range dirs {
		r := d.recv[i]
		st := r.pipe.stats()
		row.Sent += d.sent
		row.Expected += st.Expected
		row.NetworkLost += st.Lost
		row.Late += st.Late
		row.Played += st.Played
		row.Talkspurts += st.Spurts
		recovered += st.Recovered
		residual += st.ResidualLost
		hidden += st.Concealed
		octets += d.octets
		fecOctets += d.fecOctets
		for k, at := range r.playAt {
			lp.Add(at == notPlayed)
			if at != notPlayed {
				delays = append(delays, at-d.clock.Receiver(d.send[k]))
			}
		}
	}
	row.FECRecovered, row.Residual = ptr(recovered), ptr(residual)
	if concealed {
		row.Concealed = ptr(hidden)
	}
	if octets > fecOctets {
		row.Overhead = round6(float64(fecOctets) / float64(octets-fecOctets))
	}
	mean, p95 := meanP95(delays)
	burstR := lp.BurstR()
	if sch.il != nil {
		// Interleaving spreads every lost packet over its group's chunks as
		// short gaps: the losses the ear meets are as random as they get.
		burstR = 1
	}
	fill(&row, c, mean, p95, burstR)
	return row
}

// fill derives the shares, delays and E-model scores of a row from its
// counts. The E-model's packet loss is the residual loss: network plus late
// losses the FEC did not repair.
func fill(row *Row, c quality.Codec, mean, p95 time.Duration, burstR float64) {
	if row.Expected > 0 {
		row.NetworkLoss = round6(float64(row.NetworkLost) / float64(row.Expected))
		row.LateLoss = round6(float64(row.Late) / float64(row.Expected))
		lost := row.NetworkLost + row.Late
		if row.FECRecovered != nil {
			lost -= min(*row.FECRecovered, lost)
		}
		row.ResidualLoss = round6(float64(lost) / float64(row.Expected))
	}
	row.DelayMean, row.DelayP95 = millis(mean), millis(p95)
	m2e := mean + frameDuration
	row.MouthToEar = millis(m2e)
	row.BurstR = round3(burstR)
	r := quality.R(quality.Input{
		Codec:      c,
		MouthToEar: m2e,
		PacketLoss: row.ResidualLoss,
		BurstR:     burstR,
	})
	row.R, row.MOS = round3(r), round3(quality.MOS(r))
}

// EModelCodec returns the E-model's planning values for a codec whose holes
// play as silence, with no concealment (G.113 Appendix I: G.711 Ie 0, Bpl
// 4.3; GSM-FR Ie 20). Rows of receivers that conceal rate G.711 with
// quality.CodecG711PLC instead.
func EModelCodec(c codec.Codec) quality.Codec {
	if c.Name == "GSM" {
		return quality.CodecGSMFR
	}
	return quality.CodecG711
}

// timeline copies direction d's per-packet record for plots.
func (d *direction) timeline(strategies []Strategy) *Timeline {
	t := &Timeline{
		Send:    make([]time.Duration, len(d.send)),
		Network: slices.Clone(d.network),
		Spurt:   slices.Clone(d.spurt),
	}
	for i, s := range d.send {
		t.Send[i] = d.clock.Receiver(s)
	}
	for k, r := range d.recv {
		delays := make([]time.Duration, len(r.playAt))
		for i, at := range r.playAt {
			delays[i] = notPlayed
			if at != notPlayed {
				delays[i] = at - t.Send[i]
			}
		}
		t.Playout = append(t.Playout, NamedDelays{Name: strategies[k].Name, Delays: delays})
	}
	return t
}

// meanP95 returns the mean and the 95th percentile (nearest rank) of ds,
// which it sorts.
func meanP95(ds []time.Duration) (mean, p95 time.Duration) {
	if len(ds) == 0 {
		return 0, 0
	}
	var sum float64
	for _, d := range ds {
		sum += float64(d)
	}
	slices.Sort(ds)
	rank := int(math.Ceil(0.95*float64(len(ds)))) - 1
	return time.Duration(math.Round(sum / float64(len(ds)))), ds[max(rank, 0)]
}

func millis(d time.Duration) float64 { return round3(float64(d) / float64(time.Millisecond)) }
func round3(x float64) float64       { return math.Round(x*1000) / 1000 }
func round6(x float64) float64       { return math.Round(x*1e6) / 1e6 }
func ptr[T any](v T) *T              { return &v }
