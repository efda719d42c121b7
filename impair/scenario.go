package impair

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"strings"
	"time"
)

// Model names in a Scenario's JSON.
const (
	ModelNone           = "none" // also the empty string
	ModelBernoulli      = "bernoulli"
	ModelGilbertElliott = "gilbert-elliott"
	ModelUniform        = "uniform"
	ModelExponential    = "exponential"
	ModelPareto         = "pareto"
)

// Limits on a Scenario's values, so that any scenario that validates builds.
const (
	maxScenarioBytes = 64 << 10
	maxNameLen       = 64
	maxDescLen       = 1000
	maxSkewPPM       = 1000
	maxParetoShape   = 1000
)

// Scenario is a named network condition — loss, delay, duplication, and the
// receiver's clock offset and skew — that Build turns into a Path. It is plain data, read from and
// written as JSON with encoding/json; the package documentation lists the
// built-in ones. The zero value of each part means no impairment of that kind.
type Scenario struct {
	Name         string          `json:"name"`
	Description  string          `json:"description,omitzero"`
	Loss         LossConfig      `json:"loss,omitzero"`
	Delay        DelayConfig     `json:"delay,omitzero"`
	Duplicate    DuplicateConfig `json:"duplicate,omitzero"`
	ClockSkewPPM float64         `json:"clock_skew_ppm,omitzero"` // receiver's clock fast by this, in [−1000, 1000]
	// ClockOffsetMS is how far ahead the receiver's clock reads at the
	// sender's time zero, in [−3 600 000, 3 600 000] (an hour either way).
	ClockOffsetMS float64 `json:"clock_offset_ms,omitzero"`
}

// LossConfig selects a loss model. Fields that do not belong to the model
// must be zero.
type LossConfig struct {
	Model string `json:"model,omitzero"` // "none" (or ""), "bernoulli" or "gilbert-elliott"
	// Bernoulli: the probability of losing each packet.
	Rate float64 `json:"rate,omitzero"`
	// Gilbert–Elliott: transition probabilities good→bad (P) and bad→good
	// (R), and the loss probability in each state; see NewGilbertElliott.
	P        float64 `json:"p,omitzero"`
	R        float64 `json:"r,omitzero"`
	LossGood float64 `json:"loss_good,omitzero"`
	LossBad  float64 `json:"loss_bad,omitzero"`
}

// LossMeans is what a loss model implies in the long run.
type LossMeans struct {
	// Loss is the share of packets lost.
	Loss float64 `json:"mean_loss"`
	// Burst is the mean length, in packets, of a run of consecutive
	// losses; nil if a run, once begun, never ends.
	Burst *float64 `json:"mean_burst_packets"`
}

// Means returns the long-run loss rate and mean loss burst that the model
// implies (see GilbertElliott.MeanLoss and MeanBurst; Bernoulli loss of rate
// p has bursts of 1/(1−p) on average), and false for no loss model. c must
// be valid.
func (c LossConfig) Means() (LossMeans, bool) {
	var loss, burst float64
	switch c.Model {
	case ModelBernoulli:
		loss, burst = c.Rate, math.Inf(1)
		if c.Rate < 1 {
			burst = 1 / (1 - c.Rate)
		}
	case ModelGilbertElliott:
		g := GilbertElliott{p: c.P, r: c.R, lossGood: c.LossGood, lossBad: c.LossBad}
		loss, burst = g.MeanLoss(), g.MeanBurst()
	default:
		return LossMeans{}, false
	}
	m := LossMeans{Loss: loss}
	if !math.IsInf(burst, 1) {
		if loss == 0 {
			burst = 0
		}
		m.Burst = &burst
	}
	return m, true
}

// DelayConfig is a constant base delay plus optional jitter and spikes, all
// in milliseconds.
type DelayConfig struct {
	BaseMS float64      `json:"base_ms,omitzero"` // 0 to 3 600 000 (an hour)
	Jitter JitterConfig `json:"jitter,omitzero"`
	Spikes SpikeConfig  `json:"spikes,omitzero"`
}

// JitterConfig selects the random extra delay added to the base. Fields that
// do not belong to the model must be zero.
type JitterConfig struct {
	Model   string  `json:"model,omitzero"`    // "none" (or ""), "uniform", "exponential" or "pareto"
	WidthMS float64 `json:"width_ms,omitzero"` // uniform: extra in [0, width), up to an hour
	MeanMS  float64 `json:"mean_ms,omitzero"`  // exponential: mean extra, up to a minute
	ScaleMS float64 `json:"scale_ms,omitzero"` // pareto: scale, up to a minute
	Shape   float64 `json:"shape,omitzero"`    // pareto: tail index, above 1 (and at most 1000)
}

// SpikeConfig adds Spikes; the zero value means none. Otherwise Probability
// (per packet) is in (0, 1], HeightMS in (0, 3 600 000] and Slope in (0, 1].
type SpikeConfig struct {
	Probability float64 `json:"probability"`
	HeightMS    float64 `json:"height_ms"`
	Slope       float64 `json:"slope"`
}

// DuplicateConfig adds a Duplicator; the zero value means none. Probability
// is in [0, 1] and LagMS, the copy's delay after the original, in
// [0, 3 600 000].
type DuplicateConfig struct {
	Probability float64 `json:"probability"`
	LagMS       float64 `json:"lag_ms,omitzero"`
}

// builtinScenarios returns fresh copies of the scenarios in the package
// documentation's table, which must be kept in step with it.
func builtinScenarios() []Scenario {
	return []Scenario{
		{
			Name:        "lan",
			Description: "switched Ethernet LAN: sub-millisecond delay, no loss",
			Delay:       DelayConfig{BaseMS: 0.3, Jitter: JitterConfig{Model: ModelUniform, WidthMS: 0.5}},
		},
		{
			Name:         "wifi",
			Description:  "busy 802.11 link: retries give an exponential delay tail, interference loses packets in short bursts",
			Loss:         LossConfig{Model: ModelGilbertElliott, P: 0.01, R: 0.3, LossBad: 1},
			Delay:        DelayConfig{BaseMS: 5, Jitter: JitterConfig{Model: ModelExponential, MeanMS: 8}},
			Duplicate:    DuplicateConfig{Probability: 0.001, LagMS: 2},
			ClockSkewPPM: 20,
		},
		{
			Name:         "lte",
			Description:  "LTE voice bearer (QCI 1): within the 100 ms delay budget at the 98th percentile, 0.7% loss per radio link",
			Loss:         LossConfig{Model: ModelBernoulli, Rate: 0.007},
			Delay:        DelayConfig{BaseMS: 25, Jitter: JitterConfig{Model: ModelExponential, MeanMS: 10}},
			ClockSkewPPM: 5,
		},
		{
			Name:         "transcontinental",
			Description:  "about 12 000 km of fibre: long constant delay, small heavy-tailed queueing jitter, Y.1541 class 0 loss",
			Loss:         LossConfig{Model: ModelBernoulli, Rate: 0.001},
			Delay:        DelayConfig{BaseMS: 75, Jitter: JitterConfig{Model: ModelPareto, ScaleMS: 2, Shape: 2.5}},
			ClockSkewPPM: 50,
		},
		{
			Name:        "bursty",
			Description: "Gilbert channel losing 3.8% of packets in bursts of 4 on average (80 ms at 20 ms packets)",
			Loss:        LossConfig{Model: ModelGilbertElliott, P: 0.01, R: 0.25, LossBad: 1},
			Delay:       DelayConfig{BaseMS: 40, Jitter: JitterConfig{Model: ModelUniform, WidthMS: 10}},
		},
		{
			Name:        "spiky",
			Description: "wide-area path with delay spikes (Ramjee et al. 1994): 250 ms jumps about every 10 s at 50 packets/s, draining back to back",
			Loss:        LossConfig{Model: ModelBernoulli, Rate: 0.005},
			Delay: DelayConfig{
				BaseMS: 30,
				Jitter: JitterConfig{Model: ModelUniform, WidthMS: 4},
				Spikes: SpikeConfig{Probability: 0.002, HeightMS: 250, Slope: 1},
			},
		},
	}
}

// ScenarioNames returns the names of the built-in scenarios, in the order of
// the package documentation's table.
func ScenarioNames() []string {
	builtin := builtinScenarios()
	names := make([]string, len(builtin))
	for i, s := range builtin {
		names[i] = s.Name
	}
	return names
}

// ScenarioByName returns the built-in scenario with the given name, matched
// without regard to case.
func ScenarioByName(name string) (Scenario, error) {
	for _, s := range builtinScenarios() {
		if strings.EqualFold(s.Name, name) {
			return s, nil
		}
	}
	return Scenario{}, fmt.Errorf("impair: no scenario %q; the built-in ones are %s", name, strings.Join(ScenarioNames(), ", "))
}

// LoadScenario reads one Scenario as a JSON object of at most 64 KiB, with
// the field names of its struct tags. Unknown fields, trailing data and
// invalid values are errors.
func LoadScenario(r io.Reader) (Scenario, error) {
	data, err := io.ReadAll(io.LimitReader(r, maxScenarioBytes+1))
	if err != nil {
		return Scenario{}, fmt.Errorf("impair: reading scenario: %w", err)
	}
	if len(data) > maxScenarioBytes {
		return Scenario{}, fmt.Errorf("impair: scenario larger than %d bytes", maxScenarioBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var s Scenario
	if err := dec.Decode(&s); err != nil {
		return Scenario{}, fmt.Errorf("impair: decoding scenario: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Scenario{}, errors.New("impair: decoding scenario: data after the JSON object")
	}
	if err := s.Validate(); err != nil {
		return Scenario{}, err
	}
	return s, nil
}

// Validate reports the first thing wrong with s, if any.
func (s Scenario) Validate() error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("impair: scenario %q: %w", s.Name, err)
	}
	return nil
}

func (s Scenario) validate() error {
	if s.Name == "" || len(s.Name) > maxNameLen || strings.IndexFunc(s.Name, notNameRune) >= 0 {
		return fmt.Errorf("name must be 1 to %d letters, digits, '-', '_' or '.'", maxNameLen)
	}
	if len(s.Description) > maxDescLen {
		return fmt.Errorf("description longer than %d bytes", maxDescLen)
	}
	if err := s.Loss.validate(); err != nil {
		return fmt.Errorf("loss: %w", err)
	}
	if err := s.Delay.validate(); err != nil {
		return fmt.Errorf("delay: %w", err)
	}
	if err := s.Duplicate.validate(); err != nil {
		return fmt.Errorf("duplicate: %w", err)
	}
	if !inRange(s.ClockSkewPPM, -maxSkewPPM, maxSkewPPM) {
		return fmt.Errorf("clock_skew_ppm %v: must be in [%d, %d]", s.ClockSkewPPM, -maxSkewPPM, maxSkewPPM)
	}
	if limit := float64(maxDraw) / 1e6; !inRange(s.ClockOffsetMS, -limit, limit) {
		return fmt.Errorf("clock_offset_ms %v: must be in [%v, %v]", s.ClockOffsetMS, -limit, limit)
	}
	return nil
}

func notNameRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.')
}

func (c LossConfig) validate() error {
	switch c.Model {
	case "", ModelNone:
		return onlyZero(map[string]float64{"rate": c.Rate, "p": c.P, "r": c.R, "loss_good": c.LossGood, "loss_bad": c.LossBad})
	case ModelBernoulli:
		if err := onlyZero(map[string]float64{"p": c.P, "r": c.R, "loss_good": c.LossGood, "loss_bad": c.LossBad}); err != nil {
			return err
		}
		return probability("rate", c.Rate)
	case ModelGilbertElliott:
		if err := onlyZero(map[string]float64{"rate": c.Rate}); err != nil {
			return err
		}
		for _, f := range []struct {
			name  string
			value float64
		}{{"p", c.P}, {"r", c.R}, {"loss_good", c.LossGood}, {"loss_bad", c.LossBad}} {
			if err := probability(f.name, f.value); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("model %q: want %q, %q or %q", c.Model, ModelNone, ModelBernoulli, ModelGilbertElliott)
}

func (c DelayConfig) validate() error {
	if err := millis("base_ms", c.BaseMS, maxDraw); err != nil {
		return err
	}
	if err := c.Jitter.validate(); err != nil {
		return fmt.Errorf("jitter: %w", err)
	}
	if err := c.Spikes.validate(); err != nil {
		return fmt.Errorf("spikes: %w", err)
	}
	return nil
}

func (c JitterConfig) validate() error {
	switch c.Model {
	case "", ModelNone:
		return onlyZero(map[string]float64{"width_ms": c.WidthMS, "mean_ms": c.MeanMS, "scale_ms": c.ScaleMS, "shape": c.Shape})
	case ModelUniform:
		if err := onlyZero(map[string]float64{"mean_ms": c.MeanMS, "scale_ms": c.ScaleMS, "shape": c.Shape}); err != nil {
			return err
		}
		return millis("width_ms", c.WidthMS, maxDraw)
	case ModelExponential:
		if err := onlyZero(map[string]float64{"width_ms": c.WidthMS, "scale_ms": c.ScaleMS, "shape": c.Shape}); err != nil {
			return err
		}
		return millis("mean_ms", c.MeanMS, maxScale)
	case ModelPareto:
		if err := onlyZero(map[string]float64{"width_ms": c.WidthMS, "mean_ms": c.MeanMS}); err != nil {
			return err
		}
		if err := millis("scale_ms", c.ScaleMS, maxScale); err != nil {
			return err
		}
		if !(c.Shape > 1 && c.Shape <= maxParetoShape) {
			return fmt.Errorf("shape %v: must be above 1 and at most %d", c.Shape, maxParetoShape)
		}
		return nil
	}
	return fmt.Errorf("model %q: want %q, %q, %q or %q", c.Model, ModelNone, ModelUniform, ModelExponential, ModelPareto)
}

func (c SpikeConfig) validate() error {
	if c == (SpikeConfig{}) {
		return nil
	}
	if !(c.Probability > 0 && c.Probability <= 1) {
		return fmt.Errorf("probability %v: must be in (0, 1]", c.Probability)
	}
	if !(c.HeightMS > 0) {
		return fmt.Errorf("height_ms %v: must be above 0", c.HeightMS)
	}
	if err := millis("height_ms", c.HeightMS, maxDraw); err != nil {
		return err
	}
	if !(c.Slope > 0 && c.Slope <= 1) {
		return fmt.Errorf("slope %v: must be in (0, 1]", c.Slope)
	}
	return nil
}

func (c DuplicateConfig) validate() error {
	if err := probability("probability", c.Probability); err != nil {
		return err
	}
	return millis("lag_ms", c.LagMS, maxDraw)
}

// Build returns a Path that impairs packets as s describes, its models drawing
// from generators seeded with seed, so the same seed gives the same
// impairment. Each kind of impairment has its own generator stream, so that
// changing, say, the loss model leaves the delays drawn unchanged.
func (s Scenario) Build(seed uint64) (*Path, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	path := &Path{Clock: Clock{Offset: ms(s.ClockOffsetMS), SkewPPM: s.ClockSkewPPM}}
	var err error
	if path.Loss, err = s.Loss.build(stream(seed, 1)); err != nil {
		return nil, fmt.Errorf("impair: scenario %q: %w", s.Name, err)
	}
	if path.Delay, err = s.Delay.build(stream(seed, 2), stream(seed, 3)); err != nil {
		return nil, fmt.Errorf("impair: scenario %q: %w", s.Name, err)
	}
	if s.Duplicate.Probability > 0 {
		if path.Duplicate, err = NewDuplicator(s.Duplicate.Probability, ms(s.Duplicate.LagMS), stream(seed, 4)); err != nil {
			return nil, fmt.Errorf("impair: scenario %q: %w", s.Name, err)
		}
	}
	return path, nil
}

// stream returns the generator for one kind of impairment.
func stream(seed, kind uint64) *rand.Rand {
	return rand.New(rand.NewPCG(seed, 0x696d7061697200^kind)) // "impair" + kind
}

func (c LossConfig) build(rng *rand.Rand) (LossModel, error) {
	switch c.Model {
	case ModelBernoulli:
		return NewBernoulli(c.Rate, rng)
	case ModelGilbertElliott:
		return NewGilbertElliott(c.P, c.R, c.LossGood, c.LossBad, rng)
	}
	return nil, nil
}

func (c DelayConfig) build(jitterRNG, spikeRNG *rand.Rand) (DelayModel, error) {
	base := ms(c.BaseMS)
	var delay DelayModel
	var err error
	switch c.Jitter.Model {
	case ModelUniform:
		delay, err = NewUniformJitter(base, ms(c.Jitter.WidthMS), jitterRNG)
	case ModelExponential:
		delay, err = NewExponentialJitter(base, ms(c.Jitter.MeanMS), jitterRNG)
	case ModelPareto:
		delay, err = NewParetoJitter(base, ms(c.Jitter.ScaleMS), c.Jitter.Shape, jitterRNG)
	default:
		if base > 0 {
			delay = Constant(base)
		}
	}
	if err != nil {
		return nil, err
	}
	if c.Spikes == (SpikeConfig{}) {
		return delay, nil
	}
	spikes, err := NewSpikes(c.Spikes.Probability, ms(c.Spikes.HeightMS), c.Spikes.Slope, spikeRNG)
	if err != nil {
		return nil, err
	}
	return Sum(delay, spikes), nil
}

// ms converts validated milliseconds to a Duration.
func ms(v float64) time.Duration { return time.Duration(math.Round(v * 1e6)) }

func inRange(v, lo, hi float64) bool { return v >= lo && v <= hi } // false for NaN

func probability(name string, v float64) error {
	if !inRange(v, 0, 1) {
		return fmt.Errorf("%s %v: must be in [0, 1]", name, v)
	}
	return nil
}

func millis(name string, v float64, limit time.Duration) error {
	if !inRange(v, 0, float64(limit)/1e6) {
		return fmt.Errorf("%s %v: must be in [0, %v] ms", name, v, float64(limit)/1e6)
	}
	return nil
}

// onlyZero reports the first (by name) of fields that is not zero: a value
// that the chosen model does not use.
func onlyZero(fields map[string]float64) error {
	var bad []string
	for name, v := range fields {
		if v != 0 {
			bad = append(bad, name)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	first := bad[0]
	for _, name := range bad[1:] {
		first = min(first, name)
	}
	return fmt.Errorf("%s is set but the model does not use it", first)
}
