package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/fec"
	"github.com/spurtvoip/spurt/impair"
	"github.com/spurtvoip/spurt/interleave"
	"github.com/spurtvoip/spurt/jitter"
	"github.com/spurtvoip/spurt/media"
	"github.com/spurtvoip/spurt/signaling/negotiate"
	"github.com/spurtvoip/spurt/vad"
)

// callFlags are the options every calling subcommand (listen, dial, rtp) shares.
type callFlags struct {
	in, out           string
	inDevice          string
	outDevice         string
	duration          time.Duration
	vad               bool
	playout           string
	delay             time.Duration // network delay, or fixed playout delay (see resolve)
	netDelay          time.Duration
	jitterAmount      time.Duration
	loss              percentFlag
	seed              uint64
	k, alpha, beta    float64
	warmup            int
	initialDeviation  time.Duration
	statsJSON         string
	quiet             bool
	peerTimeout       time.Duration
	verbose           bool
	send              negotiate.Scheme // red, XOR parity and interleaving we send (--fec, --interleave)
	plc               bool             // conceal holes rather than play silence
	traceOut          string           // traceout.go
	delaySet, seedSet bool
	seedRandom        bool     // --seed was not given: seed was drawn at random
	commandLine       []string // as parsed, for the stats' metadata
}

func (f *callFlags) register(fs *flag.FlagSet) {
	def := jitter.DefaultEWMAConfig()
	fs.StringVar(&f.in, "in", "", "speech to send: a WAV file (8 kHz mono 16-bit), `tone:HZ`, or `none`; default the microphone")
	fs.StringVar(&f.out, "out", "", "where received speech is played: a WAV file, or `none`; default the speaker")
	fs.StringVar(&f.inDevice, "in-device", "", "microphone to use (see 'call devices'); default the system's")
	fs.StringVar(&f.outDevice, "out-device", "", "speaker to use (see 'call devices'); default the system's")
	fs.DurationVar(&f.duration, "duration", 0, "hang up after this long (0: when the input ends, or on Ctrl-C)")
	fs.BoolVar(&f.vad, "vad", true, "suppress silence so speech is sent as talk spurts (false sends continuously)")
	fs.StringVar(&f.playout, "playout", "adaptive", "playout buffer: `adaptive` (EWMA, alias ewma), spike, quantile, or fixed:DELAY (e.g. fixed:100ms)")
	fs.DurationVar(&f.delay, "delay", 0, "network delay added to every packet we send; with plain --playout fixed, the fixed playout delay instead")
	fs.DurationVar(&f.netDelay, "net-delay", 0, "network delay added to every packet we send (always; see --delay)")
	fs.DurationVar(&f.jitterAmount, "jitter", 0, "random extra delay per sent packet, uniform in [0, JITTER); reorders packets")
	fs.Var(&f.loss, "loss", "drop this share of sent packets at random (Bernoulli): a percentage with its sign, e.g. 5%")
	fs.Uint64Var(&f.seed, "seed", 0, "seed for the loss and jitter models (default: random each run)")
	fs.Float64Var(&f.k, "k", def.K, "adaptive playout: safety factor K on the delay deviation v")
	fs.Float64Var(&f.alpha, "alpha", def.Alpha, "adaptive playout: weight of the previous delay estimate d (Ramjee et al.)")
	fs.Float64Var(&f.beta, "beta", def.Beta, "adaptive playout: weight of the previous deviation estimate v")
	fs.IntVar(&f.warmup, "warmup", def.WarmupPackets, "adaptive playout: packets averaged plainly before the EWMA takes over (0: classic cold start)")
	fs.DurationVar(&f.initialDeviation, "initial-deviation", def.InitialDeviation, "adaptive playout: delay deviation v assumed before any packet")
	fs.StringVar(&f.statsJSON, "stats-json", "", "write the call's statistics as one JSON object to this file at hang-up")
	fs.BoolVar(&f.quiet, "quiet", false, "no live status line")
	fs.DurationVar(&f.peerTimeout, "peer-timeout", 12*time.Second, "hang up when nothing is heard from the peer for this long")
	fs.BoolVar(&f.verbose, "v", false, "verbose logging")
	fs.StringVar(&f.traceOut, "trace-out", "", "record the received packets' sequence numbers, send and arrival times to this trace CSV (seq,send_ms,recv_ms) for 'call bench --trace'")
	fs.Var(fecFlag{&f.send}, "fec", "redundancy to send: `none`, red (RFC 2198: each packet also carries the chunk before it in GSM), red:N (the N chunks before it), xor (RFC 5109: one parity packet per 4 media packets) or xor:N (per N, 2..24)")
	fs.IntVar(&f.send.Interleave, "interleave", 0, "spread each group of this many 20 ms chunks over as many packets (2, 4, 5 or 8; G.711 only; 0: off)")
	fs.BoolVar(&f.plc, "plc", true, "conceal lost audio inside talk spurts (pitch repetition); false plays it as silence")
}

// resolve checks the flags' values together, after parsing.
func (f *callFlags) resolve(fs *flag.FlagSet) error {
	f.commandLine = strings.Fields(fs.Name()) // "call listen"
	fs.Visit(func(fl *flag.Flag) {
		f.commandLine = append(f.commandLine, "--"+fl.Name+"="+fl.Value.String())
		switch fl.Name {
		case "delay":
			f.delaySet = true
		case "seed":
			f.seedSet = true
		}
	})
	f.commandLine = append(f.commandLine, fs.Args()...)
	if !f.seedSet {
		// Drawn once, so that the impairment built now to check the flags
		// and the one the call uses are the same, and can be reported.
		// 53 bits: the seed survives JSON readers that hold numbers as
		// doubles.
		f.seed, f.seedRandom = rand.Uint64()>>11, true
	}
	if f.duration < 0 {
		return errors.New("--duration must not be negative")
	}
	if f.delay < 0 || f.netDelay < 0 || f.jitterAmount < 0 {
		return errors.New("--delay, --net-delay and --jitter must not be negative")
	}
	if f.peerTimeout <= 0 {
		return errors.New("--peer-timeout must be positive")
	}
	if err := f.checkCombinations(); err != nil {
		return err
	}
	if err := f.checkFiles(); err != nil {
		return err
	}
	// build the playout strategy and the impairment once now, so that a bad
	// value is a usage error before any sound card, file or peer is touched
	if _, err := f.strategy(); err != nil {
		return err
	}
	_, _, err := f.path()
	return err
}

// strategy builds the playout strategy the flags ask for.
func (f *callFlags) strategy() (jitter.Strategy, error) {
	name, arg, hasArg := strings.Cut(f.playout, ":")
	switch strings.ToLower(name) {
	case "adaptive", "ewma":
		if hasArg {
			return nil, fmt.Errorf("--playout %s takes no argument (tune it with --k, --alpha, --beta)", name)
		}
		e, err := jitter.NewEWMA(jitter.EWMAConfig{
			K: f.k, Alpha: f.alpha, Beta: f.beta,
			InitialDeviation: f.initialDeviation,
			WarmupPackets:    f.warmup,
		})
		if err != nil {
			return nil, fmt.Errorf("--playout adaptive: %w", err)
		}
		return e, nil
	case "fixed":
		delay := f.delay
		if hasArg {
			d, err := time.ParseDuration(arg)
			if err != nil {
				return nil, fmt.Errorf("--playout fixed:DELAY: %q is not a duration such as 100ms", arg)
			}
			delay = d
		} else if !f.delaySet {
			return nil, errors.New("--playout fixed needs a delay: --playout fixed:100ms (or --playout fixed --delay 100ms)")
		}
		s, err := jitter.NewFixed(delay)
		if err != nil {
			return nil, fmt.Errorf("--playout fixed: %w", err)
		}
		return s, nil
	case "spike", "quantile":
		if hasArg {
			return nil, fmt.Errorf("--playout %s takes no argument", name)
		}
		var s jitter.Strategy
		var err error
		if strings.EqualFold(name, "spike") {
			cfg := jitter.DefaultSpikeConfig()
			cfg.K = f.k // its alpha and beta are algorithm 4's own
			s, err = jitter.NewSpike(cfg)
		} else {
			s, err = jitter.NewQuantile(jitter.DefaultQuantileConfig())
		}
		if err != nil {
			return nil, fmt.Errorf("--playout %s: %w", name, err)
		}
		return s, nil
	default:
		return nil, fmt.Errorf("--playout %q: want adaptive (ewma), spike, quantile or fixed:DELAY", f.playout)
	}
}

// networkDelay is the fixed one-way delay the impairment adds.
func (f *callFlags) networkDelay() time.Duration {
	if strings.EqualFold(f.playout, "fixed") {
		return f.netDelay // --delay was the playout delay
	}
	return f.netDelay + f.delay
}

// path builds the send-path impairment of media and of RTCP, or nils when
// none was asked for. Each draws from its own generator seeded from --seed,
// so that the media's loss and jitter depend on the seed alone, not on when
// the (randomly timed) RTCP reports went.
func (f *callFlags) path() (mediaPath, rtcp *impair.Path, err error) {
	delay := f.networkDelay()
	if f.loss.value == 0 && delay == 0 && f.jitterAmount == 0 {
		return nil, nil, nil
	}
	build := func(stream uint64) (*impair.Path, error) {
		rng := rand.New(rand.NewPCG(f.seed, stream))
		p := &impair.Path{}
		if f.loss.value > 0 {
			b, err := impair.NewBernoulli(f.loss.value, rng)
			if err != nil {
				return nil, fmt.Errorf("--loss: %w", err)
			}
			p.Loss = b
		}
		if delay > 0 || f.jitterAmount > 0 {
			j, err := impair.NewUniformJitter(delay, f.jitterAmount, rng)
			if err != nil {
				return nil, fmt.Errorf("--delay/--jitter: %w", err)
			}
			p.Delay = j
		}
		return p, nil
	}
	if mediaPath, err = build(0x5eed); err != nil {
		return nil, nil, err
	}
	if rtcp, err = build(0x5eed + 1); err != nil {
		return nil, nil, err
	}
	return mediaPath, rtcp, nil
}

func (f *callFlags) detector() (*vad.Detector, error) {
	if !f.vad {
		return nil, nil
	}
	d, err := vad.New(vad.DefaultConfig())
	if err != nil {
		return nil, fmt.Errorf("voice activity detector: %w", err)
	}
	return d, nil
}

// fecFlag is --fec: none, red, red:N, xor or xor:N (negotiate.ParseFEC).
// It sets the red and parity of the scheme we send, leaving interleaving
// to --interleave.
type fecFlag struct{ s *negotiate.Scheme }

func (f fecFlag) String() string {
	if f.s == nil {
		return negotiate.NameNone
	}
	return negotiate.Scheme{RED: f.s.RED, XOR: f.s.XOR}.String()
}

func (f fecFlag) Set(v string) error {
	s, err := negotiate.ParseFEC(v)
	var bad *negotiate.SchemeError
	switch {
	case err == nil:
		f.s.RED, f.s.XOR = s.RED, s.XOR
		return nil
	case errors.As(err, &bad) && bad.Named == negotiate.NameXOR:
		return fmt.Errorf("want xor:N with N from %d to %d (media packets per parity packet)", fec.MinGroupSize, fec.MaxGroupSize)
	default:
		return errors.New("want none, red, red:N, xor or xor:N")
	}
}

// checkCombinations refuses the flag combinations that cannot work.
func (f *callFlags) checkCombinations() error {
	if d := f.send.Interleave; d != 0 && !media.ValidInterleaveDepth(d) {
		return fmt.Errorf("--interleave %d: want 0 (off) or a depth from %d to %d that divides 160 (2, 4, 5 or 8)",
			d, interleave.MinDepth, interleave.MaxDepth)
	}
	if f.send.Interleave > 0 && f.send.RED > 0 {
		return errors.New("--interleave cannot be combined with --fec red (a redundant-audio packet cannot be cut into units); use --fec xor")
	}
	return nil
}

// checkFiles checks --in's tone and the files the call will write, so that
// a typo fails now rather than after the call was answered. (An --in WAV
// and the sound cards are checked by checkAudio.)
func (f *callFlags) checkFiles() error {
	if _, _, err := parseTone(f.in); err != nil {
		return err
	}
	if f.out != "" && f.out != "none" {
		if err := checkWritable("--out", f.out); err != nil {
			return err
		}
	}
	for _, o := range []struct{ flag, path string }{{"--stats-json", f.statsJSON}, {"--trace-out", f.traceOut}} {
		if o.path != "" {
			if err := checkWritable(o.flag, o.path); err != nil {
				return err
			}
		}
	}
	return nil
}

// parseTone reads --in tone:HZ. isTone is false for anything else (a WAV
// file, none, the microphone), even a file whose name starts with "tone".
func parseTone(in string) (hz float64, isTone bool, err error) {
	if strings.EqualFold(in, "tone") {
		return 0, true, errors.New("--in tone needs a frequency: write --in tone:440")
	}
	name, arg, ok := strings.Cut(in, ":")
	if !ok || !strings.EqualFold(name, "tone") {
		return 0, false, nil
	}
	const nyquist = audio.SampleRate / 2
	hz, err = strconv.ParseFloat(arg, 64)
	switch {
	case err != nil || math.IsNaN(hz) || math.IsInf(hz, 0):
		return 0, true, fmt.Errorf("--in %s: %q is not a frequency in hertz; write e.g. --in tone:440", in, arg)
	case hz <= 0 || hz >= nyquist:
		return 0, true, fmt.Errorf("--in %s: want 0 < HZ < %d (half the %d Hz sample rate), e.g. tone:440", in, nyquist, audio.SampleRate)
	}
	return hz, true, nil
}

// checkWritable checks that the file a flag names can be written when the
// call ends: it is not a directory, its directory exists, and we may write
// there. A file that does not exist yet is created and removed to find out.
func checkWritable(flagName, path string) error {
	info, err := os.Stat(path)
	switch {
	case err == nil && info.IsDir():
		return fmt.Errorf("%s %s: is a directory; name a file in it", flagName, path)
	case err == nil:
		file, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return fmt.Errorf("%s %s: cannot write it: %w", flagName, path, errors.Unwrap(err))
		}
		return file.Close()
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: %w", flagName, err)
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return fmt.Errorf("%s %s: directory %s does not exist", flagName, path, dir)
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("%s %s: cannot create it: %w", flagName, path, errors.Unwrap(err))
	}
	file.Close()
	return os.Remove(path)
}

// percentFlag is a share given as a percentage with its sign, "5%". A bare
// number other than 0 is refused, since 0.05 could mean 5 % (a fraction, as
// a scenario's rate is) or 0.05 %; the error says what to write.
type percentFlag struct {
	value float64
	text  string
}

func (p *percentFlag) String() string { return p.text }

func (p *percentFlag) Set(s string) error {
	trimmed := strings.TrimSpace(s)
	if !strings.HasSuffix(trimmed, "%") {
		v, err := strconv.ParseFloat(trimmed, 64)
		switch {
		case err == nil && v == 0:
			p.value, p.text = 0, s
			return nil
		case err == nil && v > 0 && v < 1:
			return fmt.Errorf("write a percentage with its %% sign: %s%% for the fraction %s, or %s%%", strconv.FormatFloat(v*100, 'g', 6, 64), trimmed, trimmed)
		case err == nil && v >= 1 && v <= 100:
			return fmt.Errorf("write a percentage with its %% sign: did you mean %s%%?", trimmed)
		}
	}
	v, err := impair.ParsePercent(trimmed)
	if err != nil {
		return errors.New("want a percentage from 0% to 100%, e.g. 5%")
	}
	p.value, p.text = v, s
	return nil
}

// parseInterspersed parses flags that may come before or after positional
// arguments (`call dial HOST:PORT --in x.wav`), which the flag package alone
// does not allow.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var positional []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return positional, nil
		}
		positional = append(positional, args[0])
		args = args[1:]
	}
}

// printFlags writes a flag set's options, one per entry, leaving out hidden
// ones: --NAME VALUE, the usage, and the default when it says something and
// the usage does not already. A backquoted word in a usage is the value's
// name only when it is a placeholder such as `HOST:PORT`; otherwise (a
// `none` or `call devices` quoted as an example) the value is named by type.
func printFlags(w io.Writer, fs *flag.FlagSet, hidden ...string) {
	fs.VisitAll(func(fl *flag.Flag) {
		if slices.Contains(hidden, fl.Name) {
			return
		}
		name, _ := flag.UnquoteUsage(fl)
		usage := strings.ReplaceAll(fl.Usage, "`", "")
		if !isPlaceholder(name) {
			byType := *fl
			byType.Usage = usage
			name, _ = flag.UnquoteUsage(&byType)
		}
		line := "  --" + fl.Name
		if name != "" {
			line += " " + name
		}
		fmt.Fprintf(w, "%s\n    \t%s", line, strings.ReplaceAll(usage, "\n", "\n    \t"))
		switch fl.DefValue {
		case "", "0", "0s", "false":
		default:
			if !strings.Contains(usage, "default") {
				fmt.Fprintf(w, " (default %s)", fl.DefValue)
			}
		}
		fmt.Fprintln(w)
	})
}

// isPlaceholder reports whether a backquoted word names a value, as
// HOST:PORT does: capitals, digits and punctuation, no spaces.
func isPlaceholder(s string) bool {
	return s != "" && strings.ToUpper(s) == s && !strings.ContainsAny(s, " \t") && strings.IndexFunc(s, unicode.IsUpper) >= 0
}

// helpFor makes a flag set's usage: a line on how to call the subcommand,
// then its options but the hidden ones.
func helpFor(fs *flag.FlagSet, w io.Writer, synopsis string, hidden ...string) func() {
	return func() {
		fmt.Fprintf(w, "Usage: %s\n\nOptions:\n", synopsis)
		printFlags(w, fs, hidden...)
	}
}

// joinBoolValues turns a boolean flag followed by a separate true or false
// (`--vad false`, as people type it) into --vad=false: the flag package
// would read --vad as true and false as an argument.
func joinBoolValues(fs *flag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		arg := args[i]
		out = append(out, arg)
		if arg == "--" {
			return append(out, args[i+1:]...)
		}
		if len(arg) < 2 || arg[0] != '-' || strings.Contains(arg, "=") {
			continue
		}
		fl := fs.Lookup(strings.TrimLeft(arg, "-"))
		if fl == nil || i+1 == len(args) {
			continue
		}
		if b, ok := fl.Value.(interface{ IsBoolFlag() bool }); ok && b.IsBoolFlag() {
			if _, err := strconv.ParseBool(args[i+1]); err == nil && !strings.HasPrefix(args[i+1], "-") {
				out[len(out)-1] = arg + "=" + args[i+1]
				i++
			}
			continue
		}
		out = append(out, args[i+1]) // a value, even one that starts with "-"
		i++
	}
	return out
}

// explainFlagError rewrites the flag package's errors into one line that
// says what to type: the flag it probably meant, the unit a duration lacks.
func explainFlagError(fs *flag.FlagSet, err error) error {
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		if near := nearestFlag(fs, name); near != "" {
			return fmt.Errorf("unknown flag --%s: did you mean --%s?", name, near)
		}
		return fmt.Errorf("unknown flag --%s (see '%s -h')", name, fs.Name())
	}
	if name, ok := strings.CutPrefix(msg, "flag needs an argument: "); ok {
		return fmt.Errorf("%s needs a value", "--"+strings.TrimLeft(name, "-"))
	}
	rest, ok := strings.CutPrefix(msg, "invalid value ")
	if !ok {
		return err
	}
	quoted, err2 := strconv.QuotedPrefix(rest)
	if err2 != nil {
		return err
	}
	value, _ := strconv.Unquote(quoted)
	name, why, ok := strings.Cut(strings.TrimPrefix(rest[len(quoted):], " for flag -"), ": ")
	fl := fs.Lookup(name)
	if !ok || fl == nil {
		return err
	}
	if g, ok := fl.Value.(flag.Getter); ok {
		switch g.Get().(type) {
		case time.Duration:
			if _, err := strconv.ParseFloat(value, 64); err == nil {
				return fmt.Errorf("--%s %s: a duration needs a unit, such as %sms or %ss", name, value, value, value)
			}
			why = "want a duration such as 20ms or 1.5s"
		case bool:
			why = "want true or false"
		case int, uint64:
			why = "want a whole number"
		case float64:
			why = "want a number"
		}
	}
	return fmt.Errorf("--%s %s: %s", name, value, why)
}

// nearestFlag is the defined flag a misspelled name most likely meant: the
// one it is a prefix of, or the one at the smallest edit distance, if
// that is small; "" if none is close.
func nearestFlag(fs *flag.FlagSet, name string) string {
	best, bestDist := "", max(2, len(name)/3)+1
	fs.VisitAll(func(fl *flag.Flag) {
		d := editDistance(strings.ToLower(name), fl.Name)
		if strings.HasPrefix(fl.Name, name) && len(name) >= 3 {
			d = min(d, 1)
		}
		if d < bestDist {
			best, bestDist = fl.Name, d
		}
	})
	return best
}

// editDistance is the Levenshtein distance between a and b (bytes).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
