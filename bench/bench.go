// Package bench owns the loss and jitter injection benchmarks: it drives the
// real send and receive pipelines through impairment models on a virtual
// clock.
//
// A run simulates a call of a given length, one way or both ways. For each
// direction a talker (the synthetic on/off model, or recorded speech looped)
// feeds 20 ms frames to an media.Sender, whose voice activity detector
// forms talk spurts; every packet goes over an impair.Link, through an
// impair.Path (a scenario, or a recorded trace replayed) and its delay line,
// the same virtual network the media core's tests use, and what comes out is
// handed at its delivery time to one media.Receiver per playout strategy
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
// buffer of pion/interceptor through the same harness, with FEC scheme none
// only; it conceals nothing, so its rows are rated without concealment
// (Row.RatedAs says how each row was rated).
//
// The harness measures, besides the receivers' own counters, each played
// chunk's playout delay: its playout instant minus its capture end as read on
// the receiver's clock (network plus buffering). The receivers report what
// they play (media.ReceiverConfig.OnPlay), chunk by chunk, with its
// sequence number and playout instant; the harness infers nothing from the
// playout buffer's internals. Under interleaving the harness's unit is the
// chunk: chunk i is the audio of packet i's sequence number, reassembled from
// every packet of its group, and its delay runs from its own capture end, so
// the wait for the group shows. WritePlots draws the per-packet record
// (Config.Timeline) and the late-loss/delay trade-off; plotting runs after
// the simulation, never in it.
//
// Config.NoAudio runs at the packet level: the same sender, packetizer, FEC,
// network and receive pipeline (parsing, FEC decoding, deinterleaving and the
// playout buffer), but every packet carries the codec's encoding of one fixed
// frame (the codec's payload sizes, not the talker's audio) and the
// receivers decode, conceal and render nothing (rtpcall's NoAudio). The
// talker and its voice activity detector still decide the talk spurts. Every
// figure of the report is the same as with audio (the tests check it); only
// the audio is not made.
//
// The oracle (see Oracle) is the offline optimum of Moon, Kurose and Towsley
// (1998) computed over the same packets, for comparing each strategy's mean
// delay with the least any per-spurt schedule could achieve at the same late
// loss.
package bench

import (
	"context"
	"errors"
	"fmt"
	"github.com/pion/rtp"
	"github.com/spurtvoip/spurt/media"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/impair"
	"github.com/spurtvoip/spurt/jitter"
	"github.com/spurtvoip/spurt/quality"
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
	// Trace, when set, is replayed (looping) as each direction's loss and
	// delay; TraceName names it in the results (its file, say).
	Trace     *impair.Trace
	TraceName string
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
	// media.ReceiverConfig.DisablePLC; G.711 is then rated without
	// concealment.
	DisablePLC bool
	// Timeline keeps the first direction's per-packet record of the first
	// FEC scheme in the result, for plots.
	Timeline bool
	// NoAudio runs at the packet level (see the package documentation):
	// the same figures, without making audio.
	NoAudio bool
	// Progress, if not nil, is called during Run, from one goroutine at a
	// time, with the phase the run is in and how far it has come: the
	// frames simulated over all directions and FEC schemes, then the
	// oracle rows computed. It does not change the results.
	Progress func(Progress)

	schemes []scheme
	// talker, if not nil, replaces the synthetic talker (tests).
	newTalker func(seed uint64) source
	// keepAudio keeps every receiver's rendered output (tests).
	keepAudio bool
}

// Row holds one strategy's figures for one FEC scheme, both directions
// together. Delays are in milliseconds.
type Row struct {
	Strategy string `json:"strategy"`
	FEC      string `json:"fec"`

	Sent        uint64 `json:"packets_sent"`
	Expected    uint64 `json:"packets_expected"`
	NetworkLost uint64 `json:"network_lost"`
	Late        uint64 `json:"late_lost"`
	Played      uint64 `json:"chunks_played"`
	// Talkspurts counts the talk spurts played: those the receivers' playout
	// buffers began (pion: marked packets received) or, for an oracle row,
	// the sender's spurts of which a packet arrived (the oracle schedules
	// each). SpurtsSent is the senders' count, the same in every row.
	Talkspurts  uint64  `json:"talkspurts"`
	SpurtsSent  uint64  `json:"talkspurts_sent"`
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

	// The delays are null when no chunk was played, and R and MOS when no
	// packet was sent (there was nothing to hear). A row whose packets were
	// all lost is rated at 100 % loss and the least mouth-to-ear delay
	// (packetization alone): an upper bound, and a low one.
	DelayMean  *float64 `json:"playout_delay_ms_mean"`
	DelayP95   *float64 `json:"playout_delay_ms_p95"`
	MouthToEar *float64 `json:"mouth_to_ear_ms"`
	BurstR     float64  `json:"burst_r"`
	R          *float64 `json:"r_factor"`
	MOS        *float64 `json:"mos"`
	// RatedAs is the codec the E-model rated, as the pipeline plays
	// holes: "G.711 with PLC" when it conceals them, "G.711" when they play
	// as silence (pion's buffer conceals nothing), or "GSM-FR".
	RatedAs string `json:"rated_as"`

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
	PLC       bool    `json:"plc"`   // the receivers concealed holes
	Audio     bool    `json:"audio"` // audio was made (false: the packet-level run)
	// Loss is what the scenario's loss model implies in the long run (not
	// what the run measured); nil for a replayed trace.
	Loss *impair.LossMeans `json:"loss_model,omitempty"`
	// TracePasses is, for a replayed trace, how many times the busiest
	// direction went through it: above 1, the trace was looped.
	TracePasses float64 `json:"trace_passes,omitempty"`
	Rows        []Row   `json:"rows"`
	// Timeline is the per-packet record Config.Timeline asks for.
	Timeline *Timeline `json:"-"`
}

// Timeline is one direction's per-packet record, in send order, for plots:
// the first direction's (A to B), under the first FEC scheme. Times are on
// the receiver's clock, relative to the call's start.
type Timeline struct {
	FEC     string          // the FEC scheme it ran
	Send    []time.Duration // capture end (= send time) of each packet
	Network []time.Duration // its network delay; -1 if lost
	Spurt   []uint32        // the sender's talk spurt it belongs to
	// Playout holds, per strategy (and "oracle@" and its name for the
	// oracle at the first strategy's late loss), each packet's playout
	// delay: playout instant minus Send; -1 if it was not played.
	Playout []NamedDelays
}

// NamedDelays is one strategy's per-packet playout delays.
type NamedDelays struct {
	Name   string
	Delays []time.Duration
}

// Run simulates the call cfg describes. Both directions and every FEC scheme
// run concurrently; the result does not depend on their scheduling.
func Run(cfg Config) (Result, error) { return RunContext(context.Background(), cfg) }

// ErrInterrupted says a run or a sweep was cancelled: the result returned
// with it holds only what had finished (see RunContext and SweepContext).
var ErrInterrupted = errors.New("bench: interrupted")

// RunContext is Run, cancelled with ctx. A cancelled run returns, with an
// error wrapping ErrInterrupted, the rows already finished: those of the FEC
// schemes whose directions had all been simulated, and the oracle rows
// computed by then.
func RunContext(ctx context.Context, cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	dirs := 2
	if cfg.OneWay {
		dirs = 1
	}
	prog := &progress{fn: cfg.Progress}
	prog.start(PhaseSimulating, int(cfg.Duration/frameDuration)*dirs*len(cfg.schemes))
	outs := make([][]*direction, len(cfg.schemes))
	errs := make([]error, len(cfg.schemes)*dirs)
	var wg sync.WaitGroup
	for s := range cfg.schemes {
		outs[s] = make([]*direction, dirs)
		for d := range dirs {
			wg.Go(func() { outs[s][d], errs[s*dirs+d] = simulate(ctx, &cfg, d, cfg.schemes[s], prog) })
		}
	}
	wg.Wait()
	done := make([]bool, len(cfg.schemes)) // every direction of the scheme simulated
	var failed []error
	for si := range cfg.schemes {
		done[si] = true
		for _, err := range errs[si*dirs : (si+1)*dirs] {
			if err != nil {
				done[si] = false
				if ctx.Err() == nil || !errors.Is(err, ctx.Err()) {
					failed = append(failed, err)
				}
			}
		}
	}
	if err := errors.Join(failed...); err != nil {
		return Result{}, err
	}
	res := Result{
		Network: cfg.networkName(), Source: cfg.sourceName(), Codec: cfg.Codec.Name,
		DurationS: cfg.Duration.Seconds(), Seed: cfg.Seed, TwoWay: !cfg.OneWay,
		PLC: !cfg.DisablePLC, Audio: !cfg.NoAudio,
	}
	if cfg.Trace == nil {
		if m, ok := cfg.Scenario.Loss.Means(); ok {
			res.Loss = &m
		}
	} else if !slices.Contains(done, false) {
		res.TracePasses = tracePasses(cfg.Trace, outs)
	}
	if cfg.Timeline && done[0] {
		res.Timeline = outs[0][0].timeline(cfg.Strategies)
		res.Timeline.FEC = cfg.schemes[0].name
	}
	if none := slices.IndexFunc(cfg.schemes, func(s scheme) bool { return s.name == FECNone }); cfg.Oracle && none >= 0 && done[none] {
		prog.start(PhaseOracle, len(cfg.Strategies))
	}
	interrupted := slices.Contains(done, false)
	for si, sch := range cfg.schemes {
		if !done[si] {
			continue
		}
		for i, s := range cfg.Strategies {
			if s.pionMinPackets > 0 && sch.name != FECNone {
				continue // pion's buffer knows nothing of FEC
			}
			concealed := s.pionMinPackets == 0 && !cfg.DisablePLC
			rated := quality.ForCodec(cfg.Codec.Name, concealed)
			row := summarise(rated, sch, outs[si], i, concealed)
			row.Strategy, row.FEC, row.RatedAs = s.Name, sch.name, rated.Name
			if !cfg.Oracle || sch.name != FECNone {
				res.Rows = append(res.Rows, row)
				continue
			}
			if ctx.Err() != nil {
				interrupted = true // the oracle rows left undone
				res.Rows = append(res.Rows, row)
				continue
			}
			var keep *Timeline
			if i == 0 && si == 0 {
				keep = res.Timeline
			}
			o := oracleRow(rated, outs[si], row.Late, keep, "oracle@"+s.Name)
			o.Strategy, o.FEC, o.RatedAs = "oracle@"+s.Name, sch.name, rated.Name
			row.OracleDelayMean = o.DelayMean
			if o.DelayMean != nil && row.DelayMean != nil && *o.DelayMean > 0 {
				row.DelayRatio = ptr(round3(*row.DelayMean / *o.DelayMean))
			}
			res.Rows = append(res.Rows, row, o)
			prog.add(1)
		}
	}
	if interrupted {
		return res, fmt.Errorf("%w: %w", ErrInterrupted, context.Cause(ctx))
	}
	return res, nil
}

// Run phases, as Progress reports them.
const (
	// PhaseSimulating counts the frames simulated over every direction
	// and FEC scheme.
	PhaseSimulating = "simulating"
	// PhaseOracle counts the oracle rows computed, one per strategy.
	PhaseOracle = "oracle"
)

// Progress says how far a run has come in its current phase.
type Progress struct {
	Phase       string
	Done, Total int
}

// progress adds up the work done in a phase by every goroutine of a run.
type progress struct {
	mu          sync.Mutex
	phase       string
	done, total int
	fn          func(Progress)
}

// start begins a phase of total steps.
func (p *progress) start(phase string, total int) {
	if p.fn == nil || total == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.phase, p.done, p.total = phase, 0, total
	p.fn(Progress{Phase: phase, Done: 0, Total: total})
}

// progressStep is how many frames a direction simulates between reports:
// a minute of call.
const progressStep = int(time.Minute / frameDuration)

func (p *progress) add(steps int) {
	if p == nil || p.fn == nil || steps == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += steps
	p.fn(Progress{Phase: p.phase, Done: p.done, Total: p.total})
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
	switch {
	case cfg.Trace != nil && cfg.TraceName != "":
		return "trace " + cfg.TraceName
	case cfg.Trace != nil:
		return "trace"
	}
	return cfg.Scenario.Name
}

// tracePasses is how many times the busiest direction's media went through
// the trace, which a replay takes packet by packet (parity packets, fewer,
// go through one of their own).
func tracePasses(t *impair.Trace, outs [][]*direction) float64 {
	var most uint64
	for _, dirs := range outs {
		for _, d := range dirs {
			most = max(most, d.sent)
		}
	}
	if len(t.Rows) == 0 {
		return 0
	}
	return round3(float64(most) / float64(len(t.Rows)))
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
	sent      uint64
	octets    uint64 // payload bytes sent
	fecOctets uint64 // of those, FEC
	recv      []*receiver
	clock     impair.Clock
	scheme    scheme

	lastSeq     uint16
	lastArrival time.Duration
	renderErr   error
	header      rtp.Header // scratch: the header of the packet being sent or delivered
}

// receiver is one strategy's receive pipeline and what it played.
type receiver struct {
	pipe   pipeline
	player media.Player // pipe, as media.Arrive drives it
	dir    *direction
	// playAt is the playout instant of packet (chunk) i on the receiver's
	// clock, or notPlayed.
	playAt []time.Duration
}

// play records that the pipeline played the chunk of sequence number seq at
// time at. A chunk played twice, or one never sent, is an error of the
// pipeline's that the run reports.
func (r *receiver) play(seq uint16, at time.Duration) {
	i := r.dir.index(seq)
	switch {
	case i < 0:
		r.dir.fail(fmt.Errorf("bench: a receiver played sequence number %d, which was not sent", seq))
	case r.playAt[i] != notPlayed:
		r.dir.fail(fmt.Errorf("bench: a receiver played the chunk of sequence number %d twice", seq))
	default:
		r.playAt[i] = at
	}
}

func (d *direction) fail(err error) {
	if d.renderErr == nil {
		d.renderErr = err
	}
}

// pipeline is a receive pipeline the harness drives. It reports every chunk
// it plays to its receiver's play.
type pipeline interface {
	// arrive hands over a datagram delivered at time at.
	arrive(pkt []byte, at time.Duration)
	// render plays everything due by now.
	render(now time.Duration) error
	stats() media.ReceiverStats
}

// player presents a pipeline to media.Arrive, which orders its arrivals
// and playout as every driver of the media core does.
type player struct{ pipeline }

func (p player) HandleRTP(pkt []byte, at time.Duration) bool { p.arrive(pkt, at); return true }
func (p player) Render(now time.Duration, _ func([]int16) error) error {
	return p.render(now)
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

// talker returns direction d's talker and the voice activity detector its
// frames go through.
func (cfg *Config) talker(d int, seed uint64) (source, *vad.Detector, error) {
	var src source
	var det *vad.Detector
	var err error
	switch {
	case cfg.Speech != nil:
		src = newLooped(cfg.Speech, frameSamples, d*len(cfg.Speech)/2)
		det, err = vad.New(vad.DefaultConfig())
	case cfg.newTalker != nil:
		src = cfg.newTalker(seed)
		det, err = syntheticVAD()
	default:
		src = newSynthetic(seed, frameSamples, frameDuration)
		det, err = syntheticVAD()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("bench: voice activity detector: %w", err)
	}
	return src, det, nil
}

// simulate runs direction d of the call under one FEC scheme.
func simulate(ctx context.Context, cfg *Config, d int, sch scheme, prog *progress) (*direction, error) {
	frames := int(cfg.Duration / frameDuration)
	seed := cfg.Seed ^ uint64(d)*0x9e3779b97f4a7c15

	src, det, err := cfg.talker(d, seed)
	if err != nil {
		return nil, err
	}
	send := sch
	sendCodec := cfg.Codec
	if cfg.NoAudio {
		if send, sendCodec, err = sch.packetLevel(cfg.Codec); err != nil {
			return nil, err
		}
	}
	snd, err := media.NewSender(send.senderConfig(media.SenderConfig{
		Codec: sendCodec, SSRC: 0x5e0d0000 + uint32(d), InitialSeq: uint16(seed), InitialTime: uint32(seed >> 16), VAD: det,
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
		send:    make([]time.Duration, 0, expect),
		tx:      make([]time.Duration, 0, expect),
		frame:   make([]int32, 0, expect),
		spurt:   make([]uint32, 0, expect),
		network: make([]time.Duration, 0, expect),
		clock:   path.Clock,
		scheme:  sch,
	}
	for _, s := range cfg.Strategies {
		if s.pionMinPackets > 0 && sch.name != FECNone {
			dir.recv = append(dir.recv, nil) // pion's buffer knows nothing of FEC
			continue
		}
		r := &receiver{dir: dir, playAt: make([]time.Duration, 0, expect)}
		if r.pipe, err = newPipeline(cfg, sch, s, r); err != nil {
			return nil, err
		}
		r.player = player{r.pipe}
		dir.recv = append(dir.recv, r)
	}

	link := impair.NewLink(releaserSize, 1500)
	deliver := func(until time.Duration) { link.Deliver(until, dir.arrive) }
	render := func(now time.Duration) error {
		for _, r := range dir.recv {
			if r == nil {
				continue
			}
			if err := r.pipe.render(now); err != nil {
				return fmt.Errorf("bench: rendering: %w", err)
			}
		}
		return nil
	}

	var pushErr error
	var spurtID uint32
	var captured time.Duration
	var n, inFrame int
	push := func(p *impair.Path, pkt []byte) {
		if _, err := link.Send(p, pkt, captured); err != nil && pushErr == nil {
			pushErr = fmt.Errorf("bench: network delay line: %w", err)
		}
	}
	sendPacket := func(pkt []byte) {
		h := &dir.header
		if _, err := h.Unmarshal(pkt); err != nil {
			return // cannot happen: the sender built it
		}
		if sch.isParity(h.PayloadType) {
			push(parityPath, pkt)
			return
		}
		if h.Marker {
			spurtID++
		}
		// An interleaved group leaves whole with its last frame: packet j
		// stands for the chunk of frame n-depth+1+j.
		frame := n - sch.depth() + 1 + inFrame
		inFrame++
		dir.lastSeq = h.SequenceNumber
		dir.send = append(dir.send, time.Duration(frame+1)*frameDuration)
		dir.tx = append(dir.tx, captured)
		dir.frame = append(dir.frame, int32(frame))
		dir.spurt = append(dir.spurt, spurtID)
		dir.network = append(dir.network, -1)
		for _, r := range dir.recv {
			if r != nil {
				r.playAt = append(r.playAt, notPlayed)
			}
		}
		dir.sent++
		push(path, pkt)
	}
	for n = range frames {
		captured = time.Duration(n+1) * frameDuration // capture end = send time
		now := path.Clock.Receiver(captured)
		deliver(now)
		if err := render(now); err != nil {
			return nil, err
		}
		inFrame = 0
		if err := snd.FramePackets(src.next(), sendPacket); err != nil {
			return nil, fmt.Errorf("bench: sending frame %d: %w", n, err)
		}
		if pushErr != nil {
			return nil, pushErr
		}
		if dir.renderErr != nil {
			return nil, dir.renderErr
		}
		if (n+1)%progressStep == 0 {
			prog.add(progressStep)
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	prog.add(frames % progressStep)
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

// arrive hands one delivered datagram to every receiver and records its
// network delay.
func (dir *direction) arrive(pkt []byte, at time.Duration) {
	h := &dir.header
	if _, err := h.Unmarshal(pkt); err != nil {
		return // cannot happen: the harness sent it
	}
	if !dir.scheme.isParity(h.PayloadType) {
		if i := dir.index(h.SequenceNumber); i >= 0 && dir.network[i] < 0 {
			dir.network[i] = at - dir.clock.Receiver(dir.tx[i])
		}
	}
	dir.lastArrival = at
	for _, r := range dir.recv {
		if r == nil {
			continue
		}
		if err := media.Arrive(r.player, pkt, at, nil); err != nil {
			dir.fail(fmt.Errorf("bench: rendering: %w", err))
		}
	}
}

// newPipeline builds strategy s's receive pipeline under FEC scheme sch,
// reporting what it plays to r.
func newPipeline(cfg *Config, sch scheme, s Strategy, r *receiver) (pipeline, error) {
	if s.pionMinPackets > 0 {
		return newPionPipe(s.pionMinPackets, r), nil
	}
	strat, err := s.New()
	if err != nil {
		return nil, fmt.Errorf("bench: strategy %s: %w", s.Name, err)
	}
	p := &rtpPipe{write: discard}
	if cfg.keepAudio {
		p.write = func(pcm []int16) error { p.out = append(p.out, pcm...); return nil }
	}
	p.rcv, err = media.NewReceiver(sch.receiverConfig(media.ReceiverConfig{
		Codec: cfg.Codec, Strategy: strat, DisablePLC: cfg.DisablePLC, NoAudio: cfg.NoAudio,
		OnPlay: func(c media.Played) {
			if c.Kind != media.PlayHole {
				r.play(c.Seq, c.PlayAt)
			}
		},
	}))
	if err != nil {
		return nil, fmt.Errorf("bench: receiver for %s: %w", s.Name, err)
	}
	return p, nil
}

// rtpPipe is Spurt's own receive pipeline, an media.Receiver, which
// reports what it plays through its OnPlay hook.
type rtpPipe struct {
	rcv   *media.Receiver
	write func([]int16) error
	out   []int16 // the rendered output, if kept
}

func (p *rtpPipe) arrive(pkt []byte, at time.Duration) { p.rcv.HandleRTP(pkt, at) }
func (p *rtpPipe) render(now time.Duration) error      { return p.rcv.Render(now, p.write) }
func (p *rtpPipe) stats() media.ReceiverStats          { return p.rcv.Stats() }

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
	// The receive pipelines run, as in a live call, on a clock that reads
	// no earlier than zero when the call starts. A receiver sees only
	// arrival minus timestamp, so the offset changes no figure (a test
	// checks it), and a negative one is read from zero.
	p.Clock.Offset = max(p.Clock.Offset, 0)
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
		expected, lost := d.expectedLost(st)
		row.Expected += expected
		row.NetworkLost += lost
		row.Late += st.Late
		row.Played += st.Played
		row.Talkspurts += st.Spurts
		row.SpurtsSent += d.spurtsSent()
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
	burstR := lp.BurstR()
	if sch.il != nil {
		// Interleaving spreads every lost packet over its group's chunks as
		// short gaps: the losses the ear meets are as random as they get.
		burstR = 1
	}
	fill(&row, c, delays, burstR)
	return row
}

// expectedLost returns the media packets the sender sent and, of those, the
// ones that never arrived. The receiver counts only within the sequence
// numbers it saw (RFC 3550 A.3), so it misses the packets lost before the
// first it received and after the last (all of them, if none arrived); the
// harness knows what was sent.
func (d *direction) expectedLost(st media.ReceiverStats) (expected, lost uint64) {
	if d.sent <= st.Expected {
		return st.Expected, st.Lost
	}
	return d.sent, st.Lost + d.sent - st.Expected
}

// fill derives the shares, delays and E-model scores of a row from its
// counts and the playout delays of the chunks played (which it sorts). The
// E-model's packet loss is the residual loss: network plus late losses the
// FEC did not repair. With nothing played the delays are unknown and the
// mouth-to-ear delay is taken as packetization alone; with nothing sent
// there is nothing to rate.
func fill(row *Row, c quality.Codec, delays []time.Duration, burstR float64) {
	if row.Expected > 0 {
		row.NetworkLoss = round6(float64(row.NetworkLost) / float64(row.Expected))
		row.LateLoss = round6(float64(row.Late) / float64(row.Expected))
		lost := row.NetworkLost + row.Late
		if row.FECRecovered != nil {
			lost -= min(*row.FECRecovered, lost)
		}
		row.ResidualLoss = round6(float64(lost) / float64(row.Expected))
	}
	row.BurstR = round3(burstR)
	m2e := time.Duration(frameDuration)
	if len(delays) > 0 {
		mean, p95 := meanP95(delays)
		row.DelayMean, row.DelayP95 = ptr(millis(mean)), ptr(millis(p95))
		m2e += mean
		row.MouthToEar = ptr(millis(m2e))
	}
	if row.Expected == 0 {
		return
	}
	r := quality.R(quality.Input{
		Codec:      c,
		MouthToEar: m2e,
		PacketLoss: row.ResidualLoss,
		BurstR:     burstR,
	})
	row.R, row.MOS = ptr(round3(r)), ptr(round3(quality.MOS(r)))
}

// spurtsSent is how many talk spurts the sender began.
func (d *direction) spurtsSent() uint64 {
	if len(d.spurt) == 0 {
		return 0
	}
	return uint64(d.spurt[len(d.spurt)-1] - d.spurt[0] + 1)
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
		if r == nil {
			continue
		}
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

// orNaN reads an optional figure, NaN when it is unknown.
func orNaN(p *float64) float64 {
	if p == nil {
		return math.NaN()
	}
	return *p
}
