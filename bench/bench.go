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
// The harness measures, besides the receivers' own counters, each played
// chunk's playout delay: its playout instant minus its capture end as read on
// the receiver's clock (network plus buffering). The playout instant of a
// queued packet is its media time plus the playout offset the buffer chose
// for its talk spurt, read from the buffer after every push.
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
	"github.com/spurtvoip/spurt/impair"
	"github.com/spurtvoip/spurt/jitter"
	"github.com/spurtvoip/spurt/quality"
	"github.com/spurtvoip/spurt/rtpcall"
	"github.com/spurtvoip/spurt/vad"
)

// FECNone is the only FEC scheme the receive pipeline offers so far: holes
// are played as silence.
const FECNone = "none"

// Limits that keep a run's memory bounded.
const (
	maxDuration  = 100 * time.Hour
	releaserSize = 4096 // packets in flight per direction: over a minute of a 20 ms stream
)

// Strategy names a playout strategy and builds fresh instances of it (one per
// receiver: strategies keep state).
type Strategy struct {
	Name string
	New  func() (jitter.Strategy, error)
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
	// Oracle adds, for each strategy, the offline optimum at its late loss.
	Oracle bool
	// FEC lists the FEC schemes to run; empty means FECNone, the only one
	// the receive pipeline has today. Each scheme multiplies the rows.
	FEC []string
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
	// FEC outcomes; null until the receive pipeline has FEC.
	FECRecovered *uint64 `json:"fec_recovered"`
	Residual     *uint64 `json:"residual_lost"`
	Concealed    *uint64 `json:"concealed"`

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
}

// Run simulates the call cfg describes. Both directions run concurrently;
// the result does not depend on their scheduling.
func Run(cfg Config) (Result, error) {
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	dirs := 2
	if cfg.OneWay {
		dirs = 1
	}
	outs := make([]*direction, dirs)
	errs := make([]error, dirs)
	var wg sync.WaitGroup
	for d := range dirs {
		wg.Go(func() { outs[d], errs[d] = simulate(&cfg, d) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return Result{}, err
	}
	res := Result{
		Network: cfg.networkName(), Source: cfg.sourceName(), Codec: cfg.Codec.Name,
		DurationS: cfg.Duration.Seconds(), Seed: cfg.Seed, TwoWay: !cfg.OneWay,
	}
	for _, fec := range cfg.FEC {
		for i, s := range cfg.Strategies {
			row := summarise(cfg.Codec, outs, i)
			row.Strategy, row.FEC = s.Name, fec
			if cfg.Oracle {
				o := oracleRow(cfg.Codec, outs, row.Late)
				o.Strategy, o.FEC = "oracle@"+s.Name, fec
				row.OracleDelayMean = ptr(o.DelayMean)
				if o.DelayMean > 0 {
					row.DelayRatio = ptr(round3(row.DelayMean / o.DelayMean))
				}
				res.Rows = append(res.Rows, row, o)
				continue
			}
			res.Rows = append(res.Rows, row)
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
		if s.New == nil || s.Name == "" {
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
	if len(cfg.FEC) == 0 {
		cfg.FEC = []string{FECNone}
	}
	for _, f := range cfg.FEC {
		if f != FECNone {
			return fmt.Errorf("bench: FEC scheme %q: the receive pipeline has no FEC stage yet; only %q runs", f, FECNone)
		}
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

// Per-packet outcomes at one receiver.
const (
	notArrived uint8 = iota
	playedOut
	lateLost
)

// direction is what one direction of the call recorded.
type direction struct {
	send    []time.Duration // capture end of packet i, on the sender's clock
	spurt   []uint32        // the sender's talk spurt of packet i
	network []time.Duration // arrival of packet i's first copy minus its send time, both on the receiver's clock; -1 if lost
	sent    uint64
	recv    []*receiver

	lastArrival time.Duration
	renderErr   error
}

// receiver is one strategy's receive pipeline and what the harness learnt
// from it.
type receiver struct {
	pipe    *rtpcall.Receiver
	obs     *observer
	spurts  [64]spurtOffset // ring of the latest spurts' offsets
	nSpurts uint64
	queued  uint64
	late    uint64
	outcome []uint8
	delays  []time.Duration // playout delay of each played packet
}

type spurtOffset struct{ start, offset time.Duration }

// observer passes the strategy's calls through and remembers the media time
// of the last packet the buffer took.
type observer struct {
	jitter.Strategy
	media time.Duration
}

func (o *observer) Observe(mediaTime, arrival time.Duration) {
	o.media = mediaTime
	o.Strategy.Observe(mediaTime, arrival)
}

// simulate runs direction d of the call.
func simulate(cfg *Config, d int) (*direction, error) {
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
	snd, err := rtpcall.NewSender(rtpcall.SenderConfig{
		Codec: cfg.Codec, SSRC: 0x5e0d0000 + uint32(d), InitialSeq: uint16(seed), InitialTime: uint32(seed >> 16), VAD: det,
	})
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
		send:    make([]time.Duration, 0, expect),
		spurt:   make([]uint32, 0, expect),
		network: make([]time.Duration, 0, expect),
	}
	for _, s := range cfg.Strategies {
		strat, err := s.New()
		if err != nil {
			return nil, fmt.Errorf("bench: strategy %s: %w", s.Name, err)
		}
		obs := &observer{Strategy: strat}
		pipe, err := rtpcall.NewReceiver(rtpcall.ReceiverConfig{Codec: cfg.Codec, Strategy: obs})
		if err != nil {
			return nil, fmt.Errorf("bench: receiver for %s: %w", s.Name, err)
		}
		dir.recv = append(dir.recv, &receiver{
			pipe: pipe, obs: obs,
			outcome: make([]uint8, 0, expect),
			delays:  make([]time.Duration, 0, expect),
		})
	}

	rel := impair.NewReleaser(releaserSize, 1500)
	var lastSeq uint16
	var spurtID uint32
	deliver := func(until time.Duration) {
		for {
			at, ok := rel.Next()
			if !ok || at > until {
				return
			}
			rel.Due(at, func(pkt []byte) { dir.arrive(pkt, at, lastSeq, &path.Clock) })
		}
	}

	var pushErr error
	for n := range frames {
		captured := time.Duration(n+1) * frameDuration // capture end = send time
		now := path.Clock.Receiver(captured)
		deliver(now)
		for _, r := range dir.recv {
			if err := r.pipe.Render(now, discard); err != nil {
				return nil, fmt.Errorf("bench: rendering: %w", err)
			}
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
		lastSeq = binary.BigEndian.Uint16(pkt[2:4])
		dir.send = append(dir.send, captured)
		dir.spurt = append(dir.spurt, spurtID)
		dir.network = append(dir.network, -1)
		for _, r := range dir.recv {
			r.outcome = append(r.outcome, notArrived)
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
	// Deliver what is still in flight, then play everything out.
	deliver(math.MaxInt64)
	end := max(path.Clock.Receiver(time.Duration(frames)*frameDuration), dir.lastArrival) + time.Minute
	for _, r := range dir.recv {
		if err := r.pipe.Render(end, discard); err != nil {
			return nil, fmt.Errorf("bench: rendering: %w", err)
		}
	}
	return dir, nil
}

func discard([]int16) error { return nil }

// arrive hands one delivered packet to every receiver and records its fate.
func (dir *direction) arrive(pkt []byte, at time.Duration, lastSeq uint16, clock *impair.Clock) {
	i := -1
	if len(pkt) >= 4 {
		i = len(dir.send) - 1 - int(lastSeq-binary.BigEndian.Uint16(pkt[2:4]))
	}
	if i < 0 {
		return // cannot happen: the harness sent it
	}
	dir.lastArrival = at
	sendAt := clock.Receiver(dir.send[i])
	if dir.network[i] < 0 {
		dir.network[i] = at - sendAt
	}
	for _, r := range dir.recv {
		// Play what is due first, as the real-time shell does between reads.
		if err := r.pipe.Render(at, discard); err != nil && dir.renderErr == nil {
			dir.renderErr = fmt.Errorf("bench: rendering: %w", err)
		}
		r.pipe.HandleRTP(pkt, at)
		st := r.pipe.Buffer().Stats()
		if st.Spurts != r.nSpurts {
			r.nSpurts = st.Spurts
			r.spurts[st.Spurts%uint64(len(r.spurts))] = spurtOffset{start: r.obs.media, offset: st.PlayoutOffset}
		}
		switch {
		case st.Queued != r.queued:
			r.queued = st.Queued
			r.outcome[i] = playedOut
			r.delays = append(r.delays, r.obs.media+r.offsetAt(r.obs.media)-sendAt)
		case st.Late != r.late:
			r.late = st.Late
			if r.outcome[i] == notArrived {
				r.outcome[i] = lateLost
			}
		}
	}
}

// offsetAt returns the playout offset of the spurt holding media time m: the
// latest spurt begun at or before m (the buffer's rule for a packet that
// arrives after newer ones).
func (r *receiver) offsetAt(m time.Duration) time.Duration {
	n := uint64(len(r.spurts))
	best := r.spurts[r.nSpurts%n]
	for k := uint64(0); k < n && k < r.nSpurts; k++ {
		s := r.spurts[(r.nSpurts-k)%n]
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
func summarise(c codec.Codec, dirs []*direction, i int) Row {
	var row Row
	var lp quality.LossPattern
	var delays []time.Duration
	for _, d := range dirs {
		r := d.recv[i]
		st := r.pipe.Stats()
		row.Sent += d.sent
		row.Expected += st.Expected
		row.NetworkLost += st.Lost
		row.Late += st.Late
		row.Played += st.Played
		row.Talkspurts += st.Spurts
		for _, o := range r.outcome {
			lp.Add(o != playedOut)
		}
		delays = append(delays, r.delays...)
	}
	mean, p95 := meanP95(delays)
	fill(&row, c, mean, p95, lp.BurstR())
	return row
}

// fill derives the shares, delays and E-model scores of a row from its counts.
func fill(row *Row, c codec.Codec, mean, p95 time.Duration, burstR float64) {
	if row.Expected > 0 {
		row.NetworkLoss = round6(float64(row.NetworkLost) / float64(row.Expected))
		row.LateLoss = round6(float64(row.Late) / float64(row.Expected))
	}
	row.DelayMean, row.DelayP95 = millis(mean), millis(p95)
	m2e := mean + frameDuration
	row.MouthToEar = millis(m2e)
	row.BurstR = round3(burstR)
	r := quality.R(quality.Input{
		Codec:      EModelCodec(c),
		MouthToEar: m2e,
		PacketLoss: row.NetworkLoss + row.LateLoss,
		BurstR:     burstR,
	})
	row.R, row.MOS = round3(r), round3(quality.MOS(r))
}

// EModelCodec returns the E-model's planning values for a codec as the
// receive pipeline plays it today: holes are silence, so no concealment.
func EModelCodec(c codec.Codec) quality.Codec {
	if c.Name == "GSM" {
		return quality.CodecGSMFR
	}
	return quality.CodecG711
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
