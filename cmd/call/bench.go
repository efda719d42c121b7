package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"github.com/spurtvoip/spurt/internal/term"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spurtvoip/spurt"
	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/bench"
	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/impair"
	"github.com/spurtvoip/spurt/jitter"
)

// maxSweepPoints bounds a --sweep grid.
const maxSweepPoints = 10000

type benchFlags struct {
	scenario, trace, source string
	playout, fec, codec     string
	duration                time.Duration
	seed                    uint64
	oneWay, quiet, plc      bool
	audio                   bool
	set                     map[string]bool // flags given on the command line
	k, alpha, beta          float64
	fixedDelay              time.Duration
	quantile                float64
	jsonOut, csvOut, plot   string
	plotWindow              time.Duration
	sweeps                  sweepFlag
}

// sweepFlag collects repeated --sweep PARAM=VALUES options.
type sweepFlag []string

func (s *sweepFlag) String() string     { return strings.Join(*s, " ") }
func (s *sweepFlag) Set(v string) error { *s = append(*s, v); return nil }

func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr)
	def := jitter.DefaultEWMAConfig()
	var f benchFlags
	fs.StringVar(&f.scenario, "scenario", "wifi", "network of each direction: "+strings.Join(impair.ScenarioNames(), ", ")+", or a scenario JSON file")
	fs.StringVar(&f.trace, "trace", "", "replay this trace CSV (seq,send_ms,recv_ms) as the network instead of --scenario (not with it); looped, with a warning, if shorter than the call")
	fs.StringVar(&f.source, "source", "synthetic", "talker: `synthetic` (on/off model: exponential 1.0 s talk, 1.35 s silence), speech (the bundled sample, looped), or a WAV file")
	fs.StringVar(&f.playout, "playout", "ewma,spike,quantile,fixed,oracle", "playout strategies to compare: ewma, spike, quantile, fixed[:DELAY], pion[:MINPACKETS], oracle")
	fs.StringVar(&f.fec, "fec", bench.FECNone, "FEC schemes to compare, comma-separated: none, red (RFC 2198, one GSM copy), red:N (N copies, up to 4), "+
		"xor (RFC 5109 parity over groups of 4), xor:N (groups of N, 2 to 24), interleave:D (G.711 over groups of D = 2, 4, 5 or 8 packets), interleave:D+xor:N")
	fs.BoolVar(&f.plc, "plc", true, "conceal lost audio, as live calls do (G.711 is rated with G.113's concealment value); --plc=false plays holes as silence")
	fs.StringVar(&f.codec, "codec", "pcmu", "codec: pcmu, pcma or gsm")
	fs.DurationVar(&f.duration, "duration", 10*time.Minute, "simulated call length")
	fs.Uint64Var(&f.seed, "seed", 1, "seed for the talkers and the networks")
	fs.BoolVar(&f.oneWay, "one-way", false, "simulate only one direction")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress bar (it shows only when stderr is a terminal)")
	fs.BoolVar(&f.audio, "audio", true, "make the audio; --audio=false runs at the packet level: the same figures, about twice as fast")
	fs.Float64Var(&f.k, "k", def.K, "ewma (and spike): safety factor K")
	fs.Float64Var(&f.alpha, "alpha", def.Alpha, "ewma: weight of the previous delay estimate")
	fs.Float64Var(&f.beta, "beta", def.Beta, "ewma: weight of the previous deviation estimate")
	fs.DurationVar(&f.fixedDelay, "fixed-delay", 60*time.Millisecond, "fixed: playout delay above the fastest packet")
	fs.Float64Var(&f.quantile, "quantile", jitter.DefaultQuantileConfig().Quantile, "quantile: share of packets to play in time")
	fs.StringVar(&f.jsonOut, "json", "", "write the results as JSON to this file, with a meta block (version, command line, every parameter)")
	fs.StringVar(&f.csvOut, "csv", "", "write the results as CSV to this file, after '# ' lines of metadata")
	fs.StringVar(&f.plot, "plot", "", "write PNG plots to this directory: "+bench.PlotDelays+", "+bench.PlotTradeoff+", and "+bench.PlotHeatmap+" for a sweep over k and alpha")
	fs.DurationVar(&f.plotWindow, "plot-window", bench.DefaultPlotWindow, "how much of the call "+bench.PlotDelays+" shows, from the start")
	fs.Var(&f.sweeps, "sweep", "sweep an ewma parameter (k, alpha, beta): NAME=FROM:TO:STEP or NAME=V1,V2,...; repeat with another parameter for a grid")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("bench takes no arguments, got %q", pos)}
	}
	f.set = map[string]bool{}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	cfg, err := f.config()
	if err != nil {
		return usageError{err}
	}
	meta, err := f.meta(append([]string{"bench"}, args...), cfg)
	if err != nil {
		return err
	}
	csvWith := func(write func(io.Writer) error) func(io.Writer) error {
		return func(w io.Writer) error {
			if err := writeCSVMeta(w, meta); err != nil {
				return err
			}
			return write(w)
		}
	}
	showProgress := !f.quiet && term.IsTerminal(stderr)

	if len(f.sweeps) > 0 {
		grid, err := f.grid()
		if err != nil {
			return usageError{err}
		}
		var progress func(done, total int)
		bar := newProgressBar(stderr)
		if showProgress {
			progress = func(done, total int) { bar.show("settings", done, total, strconv.Itoa) }
		}
		res, err := bench.SweepContext(ctx, cfg, grid, progress)
		bar.end()
		interrupted := errors.Is(err, bench.ErrInterrupted) && len(res.Points) > 0
		if err != nil && !interrupted {
			return err
		}
		warnLooped(stderr, cfg, res.TracePasses)
		fmt.Fprintf(stdout, "%s\n", header(res.Network, res.Source, res.Codec, f.duration, res.TwoWay, res.Seed, res.PLC, res.Audio))
		if interrupted {
			fmt.Fprintf(stdout, "interrupted: the %d of %d settings finished\n", len(res.Points), len(grid))
		}
		fmt.Fprintf(stdout, "sweeping ewma over %d settings, FEC %s\n", len(res.Points), res.FEC)
		if err := res.WriteTable(stdout); err != nil {
			return err
		}
		if interrupted {
			return err // no files from a partial sweep
		}
		out := struct {
			Meta benchMeta `json:"meta"`
			bench.SweepResult
		}{meta, res}
		if err := writeOutputs(f.jsonOut, f.csvOut, out, csvWith(res.WriteCSV)); err != nil {
			return err
		}
		return writePlots(stdout, f.plot, func(dir string) ([]string, error) { return res.WritePlots(dir) })
	}
	cfg.Timeline = f.plot != ""
	bar := newProgressBar(stderr)
	if showProgress {
		cfg.Progress = func(p bench.Progress) {
			if p.Phase == bench.PhaseOracle {
				bar.show("oracle rows", p.Done, p.Total, strconv.Itoa)
				return
			}
			// Done counts frames over both directions and every scheme:
			// show it as the share of the call simulated.
			callTime := func(n int) string {
				return time.Duration(float64(f.duration) * float64(n) / float64(max(p.Total, 1))).Round(time.Second).String()
			}
			bar.show("of the call simulated", p.Done, p.Total, callTime)
		}
	}
	res, err := bench.RunContext(ctx, cfg)
	bar.end()
	interrupted := errors.Is(err, bench.ErrInterrupted) && len(res.Rows) > 0
	if err != nil && !interrupted {
		return err
	}
	warnLooped(stderr, cfg, res.TracePasses)
	fmt.Fprintf(stdout, "%s\n", header(res.Network, res.Source, res.Codec, f.duration, res.TwoWay, res.Seed, res.PLC, res.Audio))
	if interrupted {
		fmt.Fprintf(stdout, "interrupted: the rows finished so far\n")
		if err := res.WriteTable(stdout); err != nil {
			return err
		}
		return err
	}
	if line := lossModelLine(cfg.Scenario.Loss, res.Loss); cfg.Trace == nil && line != "" {
		fmt.Fprintln(stdout, line)
	}
	if err := res.WriteTable(stdout); err != nil {
		return err
	}
	out := struct {
		Meta benchMeta `json:"meta"`
		bench.Result
	}{meta, res}
	if err := writeOutputs(f.jsonOut, f.csvOut, out, csvWith(res.WriteCSV)); err != nil {
		return err
	}
	return writePlots(stdout, f.plot, func(dir string) ([]string, error) { return res.WritePlots(dir, f.plotWindow) })
}

// warnLooped says on stderr when a replayed trace was shorter than the call
// and was looped: its losses and delays then repeat, which a researcher
// should know before trusting long-run figures.
func warnLooped(stderr io.Writer, cfg bench.Config, passes float64) {
	if cfg.Trace == nil || passes <= 1 {
		return
	}
	rows := cfg.Trace.Rows
	span := rows[len(rows)-1].Send - rows[0].Send
	fmt.Fprintf(stderr, "warning: trace %s holds %d packets (%.1f s); the %v call sent about %d a direction, "+
		"so the trace was looped %.1f times and its losses and delays repeat\n",
		cfg.TraceName, len(rows), span.Seconds(), cfg.Duration, int(math.Round(passes*float64(len(rows)))), passes)
}

// header is the line that says what was simulated.
func header(network, source, codecName string, duration time.Duration, twoWay bool, seed uint64, plc, audio bool) string {
	line := fmt.Sprintf("network %s, %s talker, %s, %v %s, seed %d, %s", network, source, codecName,
		duration, map[bool]string{true: "two-way", false: "one-way"}[twoWay], seed,
		map[bool]string{true: "holes concealed", false: "holes silent"}[plc])
	if !audio {
		line += ", packet level (no audio made)"
	}
	return line
}

// lossModelLine states what a Gilbert-Elliott loss model's parameters imply,
// or nothing for other models.
func lossModelLine(c impair.LossConfig, m *impair.LossMeans) string {
	if c.Model != impair.ModelGilbertElliott || m == nil {
		return ""
	}
	burst := "endless (r = 0)"
	if m.Burst != nil {
		burst = fmt.Sprintf("%.2f packets", *m.Burst)
	}
	return fmt.Sprintf("loss model gilbert-elliott (p %g, r %g, loss %g in the good state, %g in the bad): mean loss %.2f%%, mean burst %s",
		c.P, c.R, c.LossGood, c.LossBad, 100*m.Loss, burst)
}

// writePlots writes the plots into dir, if one was given, and lists them.
func writePlots(stdout io.Writer, dir string, write func(string) ([]string, error)) error {
	if dir == "" {
		return nil
	}
	files, err := write(dir)
	if err != nil {
		return fmt.Errorf("--plot: %w", err)
	}
	for _, name := range files {
		fmt.Fprintf(stdout, "wrote %s\n", name)
	}
	return nil
}

// config turns the flags into a benchmark configuration.
func (f *benchFlags) config() (bench.Config, error) {
	cfg := bench.Config{Duration: f.duration, Seed: f.seed, OneWay: f.oneWay, DisablePLC: !f.plc, NoAudio: !f.audio}
	c, err := codec.Default().ByName(f.codec)
	if err != nil {
		return cfg, fmt.Errorf("--codec: %w", err)
	}
	cfg.Codec = c
	if f.trace != "" {
		if f.set["scenario"] {
			return cfg, errors.New("--trace replaces --scenario as the network: give one or the other")
		}
		file, err := os.Open(f.trace)
		if err != nil {
			return cfg, fmt.Errorf("--trace: %w", err)
		}
		defer file.Close()
		if cfg.Trace, err = impair.ParseTrace(file); err != nil {
			return cfg, fmt.Errorf("--trace %s: %w", f.trace, err)
		}
		cfg.TraceName = f.trace
	} else if cfg.Scenario, err = loadScenario(f.scenario); err != nil {
		return cfg, err
	}
	switch f.source {
	case "synthetic":
	case "speech":
		if cfg.Speech, err = spurt.SpeechSample(); err != nil {
			return cfg, fmt.Errorf("--source speech: %w", err)
		}
	default:
		if cfg.Speech, err = audio.ReadWAVFile(f.source); err != nil {
			return cfg, fmt.Errorf("--source: %w", err)
		}
	}
	for _, name := range strings.Split(f.fec, ",") {
		cfg.FEC = append(cfg.FEC, strings.TrimSpace(name))
	}
	if len(f.sweeps) > 0 {
		// A sweep tunes the EWMA strategy alone, under one FEC scheme.
		switch {
		case f.set["playout"]:
			return cfg, errors.New("--sweep tunes the ewma strategy alone: drop --playout")
		case len(cfg.FEC) > 1:
			return cfg, fmt.Errorf("--sweep runs one FEC scheme; --fec names %d (run one sweep per scheme)", len(cfg.FEC))
		case f.set["plot-window"]:
			return cfg, errors.New("--plot-window does not apply to a sweep, which draws no delay plot")
		}
		return cfg, nil
	}
	for _, name := range strings.Split(f.playout, ",") {
		name = strings.TrimSpace(name)
		if strings.EqualFold(name, "oracle") {
			cfg.Oracle = true
			continue
		}
		s, err := f.strategy(name)
		if err != nil {
			return cfg, err
		}
		cfg.Strategies = append(cfg.Strategies, s)
	}
	if len(cfg.Strategies) == 0 {
		return cfg, errors.New("--playout: the oracle needs at least one strategy to compare with")
	}
	return cfg, nil
}

// strategy returns the named strategy of --playout, tuned by the flags.
func (f *benchFlags) strategy(name string) (bench.Strategy, error) {
	kind, arg, hasArg := strings.Cut(name, ":")
	var build func() (jitter.Strategy, error)
	switch strings.ToLower(kind) {
	case "ewma", "adaptive":
		cfg := jitter.DefaultEWMAConfig()
		cfg.K, cfg.Alpha, cfg.Beta = f.k, f.alpha, f.beta
		build = func() (jitter.Strategy, error) { return jitter.NewEWMA(cfg) }
	case "spike":
		cfg := jitter.DefaultSpikeConfig()
		cfg.K = f.k
		build = func() (jitter.Strategy, error) { return jitter.NewSpike(cfg) }
	case "quantile":
		cfg := jitter.DefaultQuantileConfig()
		cfg.Quantile = f.quantile
		build = func() (jitter.Strategy, error) { return jitter.NewQuantile(cfg) }
	case "pion":
		n := bench.PionDefaultMinPackets
		if hasArg {
			v, err := strconv.Atoi(arg)
			if err != nil || v < 1 || v > 1000 {
				return bench.Strategy{}, fmt.Errorf("--playout pion:N: %q is not a packet count from 1 to 1000", arg)
			}
			n = v
		}
		s := bench.PionStrategy(n)
		s.Name = strings.ToLower(name)
		return s, nil
	case "fixed":
		delay := f.fixedDelay
		if hasArg {
			d, err := time.ParseDuration(arg)
			if err != nil {
				return bench.Strategy{}, fmt.Errorf("--playout fixed:DELAY: %q is not a duration such as 100ms", arg)
			}
			delay = d
		}
		build = func() (jitter.Strategy, error) { return jitter.NewFixed(delay) }
	default:
		return bench.Strategy{}, fmt.Errorf("--playout %q: want ewma, spike, quantile, fixed[:DELAY], pion[:MINPACKETS] or oracle", name)
	}
	if hasArg && !strings.EqualFold(kind, "fixed") {
		return bench.Strategy{}, fmt.Errorf("--playout %s takes no argument", kind)
	}
	if _, err := build(); err != nil {
		return bench.Strategy{}, fmt.Errorf("--playout %s: %w", name, err)
	}
	return bench.Strategy{Name: strings.ToLower(name), New: build}, nil
}

// grid expands the --sweep options into EWMA settings, the last option
// varying fastest; parameters not swept take --k, --alpha, --beta.
func (f *benchFlags) grid() ([]jitter.EWMAConfig, error) {
	grid := []jitter.EWMAConfig{jitter.DefaultEWMAConfig()}
	grid[0].K, grid[0].Alpha, grid[0].Beta = f.k, f.alpha, f.beta
	swept := map[string]bool{}
	for _, s := range f.sweeps {
		name, spec, ok := strings.Cut(s, "=")
		if !ok {
			return nil, fmt.Errorf("--sweep %q: want NAME=FROM:TO:STEP or NAME=V1,V2", s)
		}
		name = strings.ToLower(strings.TrimSpace(name))
		if swept[name] {
			return nil, fmt.Errorf("--sweep %s given twice: give each parameter's values in one --sweep", name)
		}
		swept[name] = true
		values, err := sweepValues(spec)
		if err != nil {
			return nil, fmt.Errorf("--sweep %s: %w", name, err)
		}
		if len(grid)*len(values) > maxSweepPoints {
			return nil, fmt.Errorf("--sweep: more than %d points", maxSweepPoints)
		}
		var next []jitter.EWMAConfig
		for _, g := range grid {
			for _, v := range values {
				switch name {
				case "k":
					g.K = v
				case "alpha":
					g.Alpha = v
				case "beta":
					g.Beta = v
				default:
					return nil, fmt.Errorf("--sweep %q: can sweep k, alpha or beta", name)
				}
				next = append(next, g)
			}
		}
		grid = next
	}
	return grid, nil
}

// sweepValues parses FROM:TO:STEP (inclusive) or a comma-separated list.
func sweepValues(spec string) ([]float64, error) {
	if parts := strings.Split(spec, ":"); len(parts) == 3 {
		var v [3]float64
		for i, p := range parts {
			x, err := strconv.ParseFloat(p, 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, fmt.Errorf("%q is not a number", p)
			}
			v[i] = x
		}
		from, to, step := v[0], v[1], v[2]
		if step <= 0 || to < from {
			return nil, fmt.Errorf("%q: want FROM <= TO and a positive STEP", spec)
		}
		n := math.Floor((to-from)/step+1e-9) + 1
		if n > maxSweepPoints {
			return nil, fmt.Errorf("%q: more than %d values", spec, maxSweepPoints)
		}
		out := make([]float64, int(n))
		for i := range out {
			out[i] = math.Round((from+float64(i)*step)*1e9) / 1e9
		}
		return out, nil
	}
	var out []float64
	for _, p := range strings.Split(spec, ",") {
		x, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return nil, fmt.Errorf("%q is not a number", p)
		}
		out = append(out, x)
	}
	return out, nil
}

// loadScenario returns a built-in scenario by name or reads a JSON file.
func loadScenario(name string) (impair.Scenario, error) {
	if strings.HasSuffix(strings.ToLower(name), ".json") {
		file, err := os.Open(name)
		if err != nil {
			return impair.Scenario{}, fmt.Errorf("--scenario: %w", err)
		}
		defer file.Close()
		s, err := impair.LoadScenario(file)
		if err != nil {
			return impair.Scenario{}, fmt.Errorf("--scenario %s: %w", name, err)
		}
		return s, nil
	}
	s, err := impair.ScenarioByName(name)
	if err != nil {
		return impair.Scenario{}, fmt.Errorf("--scenario: %w", err)
	}
	return s, nil
}

// writeOutputs writes the JSON and CSV files asked for.
func writeOutputs(jsonPath, csvPath string, v any, writeCSV func(io.Writer) error) error {
	if jsonPath != "" {
		data, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding results: %w", err)
		}
		if err := os.WriteFile(jsonPath, append(data, '\n'), 0o644); err != nil {
			return fmt.Errorf("--json: %w", err)
		}
	}
	if csvPath != "" {
		file, err := os.Create(csvPath)
		if err != nil {
			return fmt.Errorf("--csv: %w", err)
		}
		if err := writeCSV(file); err != nil {
			file.Close()
			return err
		}
		if err := file.Close(); err != nil {
			return fmt.Errorf("--csv: %w", err)
		}
	}
	return nil
}

// progressBar redraws a one-line progress bar with an estimate of the time
// left. Each line overwrites the last in full, so a shorter one leaves no
// stale characters behind.
type progressBar struct {
	w       io.Writer
	now     func() time.Time
	phase   string
	started time.Time // of the phase
	width   int       // of the line last drawn
	drawn   bool
}

func newProgressBar(w io.Writer) *progressBar {
	return &progressBar{w: w, now: time.Now, started: time.Now()}
}

// show draws done of total steps of a phase, counting in the units show
// writes.
func (b *progressBar) show(phase string, done, total int, show func(int) string) {
	const width = 30
	if phase != b.phase {
		if b.phase != "" { // the first phase runs from the bar's creation
			b.started = b.now()
		}
		b.phase = phase
	}
	filled := width * min(max(done, 0), total) / max(total, 1)
	line := fmt.Sprintf("[%s%s] %s/%s %s", strings.Repeat("#", filled), strings.Repeat(" ", width-filled), show(done), show(total), phase)
	if elapsed := b.now().Sub(b.started); done > 0 && done < total && elapsed > 0 {
		left := time.Duration(float64(elapsed) * float64(total-done) / float64(done))
		line += ", about " + left.Round(time.Second).String() + " left"
	}
	pad := max(b.width-len(line), 0)
	fmt.Fprintf(b.w, "\r%s%s", line, strings.Repeat(" ", pad))
	if pad > 0 {
		fmt.Fprintf(b.w, "\r%s", line) // the cursor back after the text
	}
	b.width, b.drawn = len(line), true
}

// end finishes the bar's line, if one was drawn.
func (b *progressBar) end() {
	if b.drawn {
		fmt.Fprintln(b.w)
		b.drawn = false
	}
}
