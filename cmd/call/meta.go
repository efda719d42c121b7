package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spurtvoip/spurt/bench"
	"github.com/spurtvoip/spurt/impair"
	"github.com/spurtvoip/spurt/jitter"
	"github.com/spurtvoip/spurt/media"
)

// version is the tool's version as the build recorded it: the main
// module's version ("(devel)" for a local build) and, when built from a
// git checkout, the commit, marked "+dirty" if the tree had changes.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var rev string
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" {
		v += " " + rev
		if dirty {
			v += "+dirty"
		}
	}
	return v
}

// runMeta says which tool made a result, and how: enough to repeat the run.
type runMeta struct {
	Tool        string   `json:"tool"`
	Version     string   `json:"version"`
	GoVersion   string   `json:"go_version"`
	CommandLine []string `json:"command_line"`
}

func newRunMeta(args []string) runMeta {
	gv := "unknown"
	if info, ok := debug.ReadBuildInfo(); ok {
		gv = info.GoVersion
	}
	return runMeta{Tool: "spurt call", Version: version(), GoVersion: gv, CommandLine: append([]string{"call"}, args...)}
}

// benchMeta is the metadata block of call bench's JSON and CSV: the run and
// every parameter in force, defaults included.
type benchMeta struct {
	runMeta
	Parameters benchParams `json:"parameters"`
}

// benchParams are the parameters of a benchmark run. Durations are in
// milliseconds.
type benchParams struct {
	Seed       uint64           `json:"seed"`
	DurationS  float64          `json:"duration_s"`
	OneWay     bool             `json:"one_way"`
	Source     string           `json:"source"`
	Codec      string           `json:"codec"`
	FEC        []string         `json:"fec"`
	PLC        bool             `json:"plc"`
	Audio      bool             `json:"audio"`
	Playout    []string         `json:"playout,omitempty"`
	Sweep      []string         `json:"sweep,omitempty"`
	EWMA       ewmaParams       `json:"ewma"`
	Spike      spikeParams      `json:"spike"`
	Quantile   quantileParams   `json:"quantile"`
	FixedMS    float64          `json:"fixed_delay_ms"`
	Scenario   *impair.Scenario `json:"scenario,omitempty"`
	Trace      *traceParams     `json:"trace,omitempty"`
	PlotWindow float64          `json:"plot_window_s,omitempty"`
}

type ewmaParams struct {
	K                  float64 `json:"k"`
	Alpha              float64 `json:"alpha"`
	Beta               float64 `json:"beta"`
	InitialDeviationMS float64 `json:"initial_deviation_ms"`
	WarmupPackets      int     `json:"warmup_packets"`
}

type spikeParams struct {
	K            float64 `json:"k"`
	Alpha        float64 `json:"alpha"`
	Beta         float64 `json:"beta"`
	SpikeStartMS float64 `json:"spike_start_ms"`
	SpikeEndMS   float64 `json:"spike_end_ms"`
}

type quantileParams struct {
	Quantile   float64 `json:"quantile"`
	Forget     float64 `json:"forget"`
	BinWidthMS float64 `json:"bin_width_ms"`
	MaxDelayMS float64 `json:"max_delay_ms"`
	WindowMS   float64 `json:"window_ms"`
}

type traceParams struct {
	File    string `json:"file"`
	SHA256  string `json:"sha256"`
	Packets int    `json:"packets"`
}

func millisOf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// meta gathers the metadata of the run the flags and cfg describe. It reads
// the trace file again to hash it.
func (f *benchFlags) meta(args []string, cfg bench.Config) (benchMeta, error) {
	ewma := jitter.DefaultEWMAConfig()
	ewma.K, ewma.Alpha, ewma.Beta = f.k, f.alpha, f.beta
	spike := jitter.DefaultSpikeConfig()
	spike.K = f.k
	quant := jitter.DefaultQuantileConfig()
	quant.Quantile = f.quantile
	p := benchParams{
		Seed: cfg.Seed, DurationS: cfg.Duration.Seconds(), OneWay: cfg.OneWay, Source: f.source, Codec: cfg.Codec.Name,
		FEC: cfg.FEC, PLC: !cfg.DisablePLC, Audio: !cfg.NoAudio, Sweep: f.sweeps,
		EWMA: ewmaParams{K: ewma.K, Alpha: ewma.Alpha, Beta: ewma.Beta,
			InitialDeviationMS: millisOf(ewma.InitialDeviation), WarmupPackets: ewma.WarmupPackets},
		Spike: spikeParams{K: spike.K, Alpha: spike.Alpha, Beta: spike.Beta,
			SpikeStartMS: millisOf(spike.SpikeStart), SpikeEndMS: millisOf(spike.SpikeEnd)},
		Quantile: quantileParams{Quantile: quant.Quantile, Forget: quant.Forget, BinWidthMS: millisOf(quant.BinWidth),
			MaxDelayMS: millisOf(quant.MaxDelay), WindowMS: millisOf(quant.Window)},
		FixedMS: millisOf(f.fixedDelay),
	}
	if len(f.sweeps) == 0 {
		for _, name := range strings.Split(f.playout, ",") {
			p.Playout = append(p.Playout, strings.ToLower(strings.TrimSpace(name)))
		}
		if f.plot != "" {
			p.PlotWindow = f.plotWindow.Seconds()
		}
	}
	if cfg.Trace != nil {
		sum, err := fileSHA256(f.trace)
		if err != nil {
			return benchMeta{}, fmt.Errorf("--trace: %w", err)
		}
		p.Trace = &traceParams{File: f.trace, SHA256: sum, Packets: len(cfg.Trace.Rows)}
	} else {
		sc := cfg.Scenario
		p.Scenario = &sc
	}
	return benchMeta{runMeta: newRunMeta(args), Parameters: p}, nil
}

func fileSHA256(path string) (string, error) {
	file, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer file.Close()
	h := sha256.New()
	if _, err := io.Copy(h, file); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// writeCSVMeta writes the metadata as comment lines ahead of a CSV table:
// "# " and a key, then its value (the parameters as one line of JSON). Most
// CSV readers skip them when told that "#" starts a comment.
func writeCSVMeta(w io.Writer, m benchMeta) error {
	params, err := json.Marshal(m.Parameters)
	if err != nil {
		return fmt.Errorf("encoding the parameters: %w", err)
	}
	if _, err := fmt.Fprintf(w, "# tool: %s %s (%s)\n# command_line: %s\n# parameters: %s\n",
		m.Tool, m.Version, m.GoVersion, strings.Join(m.CommandLine, " "), params); err != nil {
		return fmt.Errorf("writing CSV: %w", err)
	}
	return nil
}

// callStats is what --stats-json writes: the call's statistics, then how
// the run was made, with the impairment in force and its seed, so that the
// same losses and delays can be asked for again.
type callStats struct {
	media.Stats
	Meta callMeta `json:"meta"`
}

type callMeta struct {
	runMeta
	// Impairment is the send-path impairment applied (nil: none).
	Impairment *impairmentMeta `json:"impairment"`
}

type impairmentMeta struct {
	Seed       uint64  `json:"seed"`
	SeedRandom bool    `json:"seed_random"` // drawn at random: --seed SEED repeats it
	Loss       float64 `json:"loss"`
	DelayMS    float64 `json:"delay_ms"`
	JitterMS   float64 `json:"jitter_ms"`
}

// impairment describes the send-path impairment the flags ask for, nil for
// none.
func (f *callFlags) impairment() *impairmentMeta {
	delay := f.networkDelay()
	if f.loss.value == 0 && delay == 0 && f.jitterAmount == 0 {
		return nil
	}
	return &impairmentMeta{Seed: f.seed, SeedRandom: f.seedRandom, Loss: f.loss.value,
		DelayMS: millisOf(delay), JitterMS: millisOf(f.jitterAmount)}
}

// statsReport wraps a call's statistics with the metadata of the run.
func (f *callFlags) statsReport(st media.Stats) callStats {
	m := callMeta{runMeta: newRunMeta(nil), Impairment: f.impairment()}
	m.CommandLine = f.commandLine
	return callStats{Stats: st, Meta: m}
}

// announceSeed says on stderr which seed a randomly seeded impairment drew.
func (f *callFlags) announceSeed(stderr io.Writer) {
	if im := f.impairment(); im != nil && im.SeedRandom {
		fmt.Fprintf(stderr, "impairment seed %d (drawn at random: --seed %d repeats these losses and delays)\n", im.Seed, im.Seed)
	}
}
