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
// Each FEC scheme (none, red, red:N; see parseScheme) is a call of its own
// with its own sender and receivers, over a network that loses and delays
// the same packets the same way; rows are strategies times schemes. Besides
// the pipelines built on jitter.Strategy, PionStrategy drives the jitter
// buffer of pion/interceptor through the same harness.
//
// The harness measures, besides the receivers' own counters, each played
// chunk's playout delay: its playout instant minus its capture end as read on
// the receiver's clock (network plus buffering). The playout instant of a
// queued packet (or redundant copy) is its media time plus the playout offset
// the buffer chose for its talk spurt, read from the buffer after every
// datagram. WritePlots draws the per-packet record (Config.Timeline) and the
// late-loss/delay trade-off; plotting runs after the simulation, never in it.
//
// The oracle (see Oracle) is the offline optimum of Moon, Kurose and Towsley
// (1998) computed over the same packets, for comparing each strategy's mean
// delay with the least any per-spurt schedule could achieve at the same late
// loss.
package bench

import (
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
	// FEC lists the FEC schemes to run: none, red (one copy) or red:N;
	// empty means none. Each scheme is a call of its own over the same
	// network (the same losses and delays for the same packets) and
	// multiplies the rows.
	FEC []string
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
	// FEC outcomes. Recovered chunks were played from a redundant copy,
	// their own packet lost or late; residual losses are network plus late
	// minus recovered. Concealed stays null until the receive pipeline
	// conceals holes.
	FECRecovered *uint64 `json:"fec_recovered"`
	Residual     *uint64 `json:"residual_lost"`
	Concealed    *uint64 `json:"concealed"`
	ResidualLoss float64 `json:"residual_loss"` // share of expected; what the E-model is given
	// Overhead is the FEC bytes sent (RED headers and copies) over the
	// primary audio bytes.
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
	}
	if cfg.Timeline {
		res.Timeline = outs[0][0].timeline(cfg.Strategies)
	}
	for si, sch := range cfg.schemes {
		for i, s := range cfg.Strategies {
			if s.pionMinPackets > 0 && sch.red != nil {
				continue // pion's buffer knows nothing of RED
			}
			row := summarise(cfg.Codec, sch, outs[si], i)
			row.Strategy, row.FEC = s.Name, sch.name
			if !cfg.Oracle || sch.red != nil {
				res.Rows = append(res.Rows, row)
				continue
			}
			var keep *Timeline
			if i == 0 && si == 0 {
				keep = res.Timeline
			}
			o := oracleRow(cfg.Codec, sch, outs[si], row.Late, keep)
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

// direction is what one direction of the call recorded.
type direction struct {
	send      []time.Duration // capture end of packet i, on the sender's clock
	frame     []int32         // the frame packet i carries
	spurt     []uint32        // the sender's talk spurt of packet i
	network   []time.Duration // arrival of packet i's first copy minus its send time, both on the receiver's clock; -1 if lost
	sent      uint64
	octets    uint64 // payload bytes sent
	fecOctets uint64 // of those, FEC
	recv      []*receiver
	clock     impair.Clock

	firstFrame    int32 // frame of the first packet delivered, the playout buffers' media time zero; -1 before
	blocksScratch []fec.Block
	lastSeq       uint16
	lastArrival   time.Duration
	renderErr     error
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
	// arrive hands over a datagram delivered at time at; the pipeline
	// records in r.playAt the packets it schedules.
	arrive(d *direction, r *receiver, pkt []byte, at time.Duration)
	// render plays everything due by now.
	render(d *direction, r *receiver, now time.Duration) error
	stats() rtpcall.ReceiverStats
}

// index returns the index of the packet with sequence number seq, -1 if it
// was not sent.
func (d *direction) index(seq uint16) int {
	i := len(d.send) - 1 - int(d.lastSeq-seq)
	if i < 0 || len(d.send) == 0 {
		return -1
	}
	return i
}

// media returns packet i's media time in the playout buffers' time base.
func (d *direction) media(i int) time.Duration {
	return time.Duration(d.frame[i]-d.firstFrame) * frameDuration
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

	// Preallocate for the expected number of packets (about 43 % activity).
	expect := frames/2 + 16
	dir := &direction{
		send:          make([]time.Duration, 0, expect),
		frame:         make([]int32, 0, expect),
		spurt:         make([]uint32, 0, expect),
		network:       make([]time.Duration, 0, expect),
		clock:         path.Clock,
		firstFrame:    -1,
		blocksScratch: make([]fec.Block, 0, fec.MaxREDBlocks),
	}
	for _, s := range cfg.Strategies {
		pipe, err := newPipeline(cfg.Codec, sch, s)
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
	for n := range frames {
		captured := time.Duration(n+1) * frameDuration // capture end = send time
		now := path.Clock.Receiver(captured)
		deliver(now)
		if err := render(now); err != nil {
			return nil, err
		}
		pkt, err := snd.Frame(src.next())
		if err != nil {
			return nil, fmt.Errorf("bench: sending frame %d: %w", n, err)
		}
		if pkt == nil {
			continue
		}
		if pkt[1]&0x80 != 0 {
			spurtID++
		}
		dir.lastSeq = binary.BigEndian.Uint16(pkt[2:4])
		dir.send = append(dir.send, captured)
		dir.frame = append(dir.frame, int32(n))
		dir.spurt = append(dir.spurt, spurtID)
		dir.network = append(dir.network, -1)
		for _, r := range dir.recv {
			r.playAt = append(r.playAt, notPlayed)
		}
		dir.sent++
		path.SendAll(captured, func(at time.Duration) {
			if err := rel.Push(pkt, at); err != nil && pushErr == nil {
				pushErr = fmt.Errorf("bench: network delay line: %w", err)
			}
		})
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

// arrive hands one delivered packet to every receiver and records its
// network delay.
func (dir *direction) arrive(pkt []byte, at time.Duration) {
	if len(pkt) < 4 {
		return // cannot happen: the harness sent it
	}
	i := dir.index(binary.BigEndian.Uint16(pkt[2:4]))
	if i < 0 {
		return
	}
	if dir.firstFrame < 0 {
		dir.firstFrame = dir.frame[i]
	}
	dir.lastArrival = at
	if dir.network[i] < 0 {
		dir.network[i] = at - dir.clock.Receiver(dir.send[i])
	}
	for _, r := range dir.recv {
		// Play what is due first, as the real-time shell does between reads.
		if err := r.pipe.render(dir, r, at); err != nil && dir.renderErr == nil {
			dir.renderErr = fmt.Errorf("bench: rendering: %w", err)
		}
		r.pipe.arrive(dir, r, pkt, at)
	}
}

// newPipeline builds strategy s's receive pipeline under FEC scheme sch.
func newPipeline(c codec.Codec, sch scheme, s Strategy) (pipeline, error) {
	if s.pionMinPackets > 0 {
		return newPionPipe(s.pionMinPackets), nil
	}
	strat, err := s.New()
	if err != nil {
		return nil, fmt.Errorf("bench: strategy %s: %w", s.Name, err)
	}
	rcv, err := rtpcall.NewReceiver(sch.receiverConfig(rtpcall.ReceiverConfig{Codec: c, Strategy: strat}))
	if err != nil {
		return nil, fmt.Errorf("bench: receiver for %s: %w", s.Name, err)
	}
	return &rtpPipe{rcv: rcv, scheme: sch}, nil
}

// rtpPipe is Spurt's own receive pipeline, an rtpcall.Receiver.
//
// The harness learns each packet's playout instant from the playout buffer:
// after every datagram it reads the buffer's counters and, when a talk spurt
// began, its playout offset. The packets the datagram may have queued (its
// own, and the copies it carries) are those the scheme names; a packet not
// yet played is counted as queued, at its media time plus its spurt's offset,
// when the buffer queued as many as there are candidates, or, when it queued
// fewer, if it arrived by that instant (the buffer's own test).
type rtpPipe struct {
	rcv     *rtpcall.Receiver
	scheme  scheme
	spurts  [64]spurtOffset // ring of the latest spurts' offsets
	nSpurts uint64
	queued  uint64
	newest  time.Duration // media time of the newest packet offered
	cands   [16]int
}

type spurtOffset struct{ start, offset time.Duration }

func (p *rtpPipe) render(_ *direction, _ *receiver, now time.Duration) error {
	return p.rcv.Render(now, discard)
}

func (p *rtpPipe) stats() rtpcall.ReceiverStats { return p.rcv.Stats() }

func (p *rtpPipe) arrive(d *direction, r *receiver, pkt []byte, at time.Duration) {
	p.rcv.HandleRTP(pkt, at)
	st := p.rcv.Buffer().Stats()
	cands := p.cands[:0]
	d.blocksScratch = p.scheme.candidates(pkt, d.blocksScratch, func(seq uint16) {
		if i := d.index(seq); i >= 0 && r.playAt[i] == notPlayed && len(cands) < cap(cands) {
			cands = append(cands, i)
		}
	})
	if st.Spurts != p.nSpurts {
		// The spurt began at the oldest packet newer than any before.
		start := time.Duration(math.MaxInt64)
		for _, i := range cands {
			if m := d.media(i); m > p.newest || p.nSpurts == 0 {
				start = min(start, m)
			}
		}
		if start == math.MaxInt64 && len(cands) > 0 {
			start = d.media(cands[len(cands)-1])
		}
		p.nSpurts = st.Spurts
		p.spurts[p.nSpurts%uint64(len(p.spurts))] = spurtOffset{start: start, offset: st.PlayoutOffset}
	}
	for _, i := range cands {
		p.newest = max(p.newest, d.media(i))
	}
	queued := st.Queued - p.queued
	p.queued = st.Queued
	if queued == 0 {
		return
	}
	for _, i := range cands {
		m := d.media(i)
		playAt := m + p.offsetAt(m)
		if queued >= uint64(len(cands)) || at <= playAt {
			r.playAt[i] = playAt
		}
	}
}

// offsetAt returns the playout offset of the spurt holding media time m: the
// latest spurt begun at or before m (the buffer's rule for a packet that
// arrives after newer ones).
func (p *rtpPipe) offsetAt(m time.Duration) time.Duration {
	n := uint64(len(p.spurts))
	best := p.spurts[p.nSpurts%n]
	for k := uint64(0); k < n && k < p.nSpurts; k++ {
		s := p.spurts[(p.nSpurts-k)%n]
		best = s
		if s.start <= m {
			break
		}
	}
	return best.offset
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

// summarise adds up strategy i's figures over the directions.
func summarise(c codec.Codec, sch scheme, dirs []*direction, i int) Row {
	var row Row
	var lp quality.LossPattern
	var delays []time.Duration
	var recovered, residual, octets, fecOctets uint64
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
	if octets > fecOctets {
		row.Overhead = round6(float64(fecOctets) / float64(octets-fecOctets))
	}
	mean, p95 := meanP95(delays)
	fill(&row, sch.emodel(c), mean, p95, lp.BurstR())
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

// EModelCodec returns the E-model's planning values for a codec as the
// receive pipeline plays it today: holes are silence, so no concealment
// (G.113 Appendix I: G.711 Ie 0, Bpl 4.3; GSM-FR Ie 20).
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
