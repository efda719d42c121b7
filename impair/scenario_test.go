package impair

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestBuiltinScenarios(t *testing.T) {
	names := ScenarioNames()
	want := []string{"lan", "wifi", "lte", "transcontinental", "bursty", "spiky"}
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("ScenarioNames() = %v, want %v", names, want)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			s, err := ScenarioByName(strings.ToUpper(name))
			if err != nil {
				t.Fatal(err)
			}
			if s.Name != name || s.Description == "" {
				t.Errorf("got name %q, description %q", s.Name, s.Description)
			}
			if err := s.Validate(); err != nil {
				t.Fatal(err)
			}
			p, err := s.Build(1)
			if err != nil {
				t.Fatal(err)
			}
			if (p.Loss == nil) != (s.Loss.Model == "") || (p.Duplicate == nil) != (s.Duplicate.Probability == 0) {
				t.Errorf("built loss %T, duplicate %T from %+v", p.Loss, p.Duplicate, s)
			}
			if p.Clock != (Clock{SkewPPM: s.ClockSkewPPM}) {
				t.Errorf("built clock %+v, want skew %v", p.Clock, s.ClockSkewPPM)
			}
		})
	}
	if _, err := ScenarioByName("dialup"); err == nil || !strings.Contains(err.Error(), "lan, wifi") {
		t.Errorf("unknown scenario: error %v, want one listing the names", err)
	}
}

// Each scenario's row in the package documentation's table names it and its
// base delay, so the table and the code cannot silently drift apart.
func TestScenarioTableInDoc(t *testing.T) {
	src, err := os.ReadFile("impair.go")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(string(src), "\n") {
		if fields := strings.Fields(strings.TrimPrefix(line, "//\t")); strings.HasPrefix(line, "//\t") && len(fields) > 1 {
			rows[fields[0]] = line
		}
	}
	for _, name := range ScenarioNames() {
		s, _ := ScenarioByName(name)
		row, ok := rows[name]
		if !ok {
			t.Errorf("scenario %s has no row in the package documentation's table", name)
			continue
		}
		if base := fmt.Sprintf(" %gms ", s.Delay.BaseMS); !strings.Contains(row, base) {
			t.Errorf("row %q does not give the base delay%s", row, base)
		}
	}
}

// Built paths behave as their configuration says: the long-run loss rate
// matches the model's analytic mean and the mean one-way delay is above the
// base by about the jitter's mean.
func TestBuiltScenarioStatistics(t *testing.T) {
	const packets = 200_000
	for _, name := range ScenarioNames() {
		t.Run(name, func(t *testing.T) {
			s, _ := ScenarioByName(name)
			p, err := s.Build(3)
			if err != nil {
				t.Fatal(err)
			}
			p.Clock = Clock{} // measure the network, not the skew
			wantLoss := 0.0
			if m, ok := p.Loss.(interface{ MeanLoss() float64 }); ok {
				wantLoss = m.MeanLoss()
			}
			lost, delivered := 0, 0
			var delaySum float64
			minDelay := time.Duration(1 << 62)
			for i := range packets {
				send := time.Duration(i) * 20 * time.Millisecond
				at, ok := p.Send(send)
				if !ok {
					lost++
					continue
				}
				delivered++
				delaySum += float64(at - send)
				minDelay = min(minDelay, at-send)
			}
			rate := float64(lost) / packets
			if tol := 0.15*wantLoss + 5e-4; rate < wantLoss-tol || rate > wantLoss+tol {
				t.Errorf("loss %.4f, want %.4f ± %.4f", rate, wantLoss, tol)
			}
			base := ms(s.Delay.BaseMS)
			if minDelay < base || minDelay > base+2*time.Millisecond {
				t.Errorf("smallest delay %v, want just above the base %v", minDelay, base)
			}
			j := s.Delay.Jitter
			extra := time.Duration(delaySum/float64(delivered)) - base
			wantExtra := ms(j.WidthMS/2 + j.MeanMS + j.ScaleMS/max(j.Shape-1, 1))
			if s.Delay.Spikes.Probability > 0 { // slope 1, 20 ms gaps: H+(H-20)+...; ≈ H²/40 ms per spike
				h := s.Delay.Spikes.HeightMS
				wantExtra += ms(s.Delay.Spikes.Probability * (h + 20) * h / 40)
			}
			if tol := wantExtra/10 + 100*time.Microsecond; extra < wantExtra-tol || extra > wantExtra+tol {
				t.Errorf("mean delay above base %v, want %v ± %v", extra, wantExtra, tol)
			}
			t.Logf("loss %.4f (model %.4f), mean delay base+%v (expected %v)", rate, wantLoss, extra, wantExtra)
		})
	}
}

func TestScenarioJSONRoundTrip(t *testing.T) {
	for _, name := range ScenarioNames() {
		s, _ := ScenarioByName(name)
		data, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		back, err := LoadScenario(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, data)
		}
		if !reflect.DeepEqual(back, s) {
			t.Errorf("%s: round trip gave %+v, want %+v", name, back, s)
		}
		if name == "wifi" {
			t.Logf("%s", data)
		}
	}
}

func TestLoadScenario(t *testing.T) {
	in := `{
	  "name": "satellite",
	  "description": "geostationary hop",
	  "loss": {"model": "gilbert-elliott", "p": 0.001, "r": 0.5, "loss_good": 0.0001, "loss_bad": 0.5},
	  "delay": {"base_ms": 270, "jitter": {"model": "pareto", "scale_ms": 1.5, "shape": 3},
	            "spikes": {"probability": 0.0001, "height_ms": 100, "slope": 0.8}},
	  "duplicate": {"probability": 0.01, "lag_ms": 0.5},
	  "clock_skew_ppm": -12.5,
	  "clock_offset_ms": -1500.25
	}`
	s, err := LoadScenario(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Scenario{
		Name: "satellite", Description: "geostationary hop",
		Loss: LossConfig{Model: ModelGilbertElliott, P: 0.001, R: 0.5, LossGood: 0.0001, LossBad: 0.5},
		Delay: DelayConfig{BaseMS: 270, Jitter: JitterConfig{Model: ModelPareto, ScaleMS: 1.5, Shape: 3},
			Spikes: SpikeConfig{Probability: 0.0001, HeightMS: 100, Slope: 0.8}},
		Duplicate:     DuplicateConfig{Probability: 0.01, LagMS: 0.5},
		ClockSkewPPM:  -12.5,
		ClockOffsetMS: -1500.25,
	}
	if !reflect.DeepEqual(s, want) {
		t.Fatalf("got %+v\nwant %+v", s, want)
	}
	p, err := s.Build(5)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Clock{Offset: -1500250 * time.Microsecond, SkewPPM: -12.5}); p.Clock != want {
		t.Errorf("clock %+v, want %+v", p.Clock, want)
	}
	if _, ok := p.Delay.(*SumDelay); !ok {
		t.Errorf("delay with spikes built as %T, want *SumDelay", p.Delay)
	}
	// The smallest scenario: a name and nothing else is a perfect network.
	s, err = LoadScenario(strings.NewReader(`{"name":"perfect"}`))
	if err != nil {
		t.Fatal(err)
	}
	p, err = s.Build(1)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(*p, Path{}) {
		t.Errorf("empty scenario built %+v, want the zero Path", *p)
	}
}

func TestLoadScenarioRejects(t *testing.T) {
	tests := []struct {
		name, in, wantInErr string
	}{
		{"not JSON", `name: lan`, "decoding"},
		{"not an object", `["lan"]`, "decoding"},
		{"null", `null`, "name"},
		{"unknown field", `{"name":"x","jitter_ms":5}`, "unknown field"},
		{"unknown nested field", `{"name":"x","delay":{"base_ms":5,"jiter":{}}}`, "unknown field"},
		{"trailing data", `{"name":"x"} {"name":"y"}`, "after the JSON object"},
		{"trailing junk", `{"name":"x"}]`, "after the JSON object"},
		{"empty name", `{"name":""}`, "name"},
		{"name with space", `{"name":"my net"}`, "name"},
		{"long description", `{"name":"x","description":"` + strings.Repeat("a", 1001) + `"}`, "description"},
		{"wrong type", `{"name":"x","clock_skew_ppm":"fast"}`, "decoding"},
		{"unknown loss model", `{"name":"x","loss":{"model":"gilbert"}}`, "model \"gilbert\""},
		{"rate above 1", `{"name":"x","loss":{"model":"bernoulli","rate":1.5}}`, "rate"},
		{"param of another model", `{"name":"x","loss":{"model":"bernoulli","rate":0.1,"p":0.2}}`, "p is set"},
		{"param without a model", `{"name":"x","loss":{"rate":0.1}}`, "rate is set"},
		{"negative ge r", `{"name":"x","loss":{"model":"gilbert-elliott","p":0.1,"r":-0.1,"loss_bad":1}}`, "r -0.1"},
		{"negative base", `{"name":"x","delay":{"base_ms":-1}}`, "base_ms"},
		{"base above an hour", `{"name":"x","delay":{"base_ms":3600001}}`, "base_ms"},
		{"huge number", `{"name":"x","delay":{"base_ms":1e400}}`, "decoding"},
		{"unknown jitter", `{"name":"x","delay":{"jitter":{"model":"normal","mean_ms":3}}}`, "normal"},
		{"uniform with mean", `{"name":"x","delay":{"jitter":{"model":"uniform","mean_ms":3}}}`, "mean_ms is set"},
		{"exponential mean too big", `{"name":"x","delay":{"jitter":{"model":"exponential","mean_ms":60001}}}`, "mean_ms"},
		{"pareto shape 1", `{"name":"x","delay":{"jitter":{"model":"pareto","scale_ms":1,"shape":1}}}`, "shape"},
		{"pareto without shape", `{"name":"x","delay":{"jitter":{"model":"pareto","scale_ms":1}}}`, "shape"},
		{"spike slope above 1", `{"name":"x","delay":{"spikes":{"probability":0.1,"height_ms":100,"slope":2}}}`, "slope"},
		{"spike without height", `{"name":"x","delay":{"spikes":{"probability":0.1,"slope":1}}}`, "height_ms"},
		{"spike probability 0", `{"name":"x","delay":{"spikes":{"height_ms":100,"slope":1}}}`, "probability"},
		{"duplicate probability", `{"name":"x","duplicate":{"probability":2}}`, "probability"},
		{"duplicate lag", `{"name":"x","duplicate":{"probability":0.1,"lag_ms":-3}}`, "lag_ms"},
		{"skew", `{"name":"x","clock_skew_ppm":1001}`, "clock_skew_ppm"},
		{"offset", `{"name":"x","clock_offset_ms":-3600001}`, "clock_offset_ms"},
		{"too large", `{"name":"x","description":"` + strings.Repeat(" ", maxScenarioBytes) + `"}`, "larger than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadScenario(strings.NewReader(tc.in))
			if err == nil {
				t.Fatal("got nil error")
			}
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantInErr)
			}
		})
	}
	if err := (Scenario{Name: "x", ClockSkewPPM: nan()}).Validate(); err == nil {
		t.Error("NaN skew: got nil error")
	}
	if _, err := (Scenario{Name: "x", Delay: DelayConfig{BaseMS: -1}}).Build(1); err == nil {
		t.Error("Build of an invalid scenario: got nil error")
	}
}

func nan() float64 { var zero float64; return zero / zero }

// Means states what each loss model implies: for Gilbert-Elliott, the
// model's own MeanLoss and MeanBurst; for Bernoulli p, bursts of 1/(1-p).
func TestLossMeans(t *testing.T) {
	inf := math.Inf(1)
	tests := []struct {
		c           LossConfig
		loss, burst float64 // burst +Inf: endless
		ok          bool
	}{
		{LossConfig{}, 0, 0, false},
		{LossConfig{Model: ModelBernoulli, Rate: 0.05}, 0.05, 1 / 0.95, true},
		{LossConfig{Model: ModelBernoulli}, 0, 0, true},
		{LossConfig{Model: ModelBernoulli, Rate: 1}, 1, inf, true},
		// classic Gilbert (wifi): p/(p+r) lost, bursts of 1/r
		{LossConfig{Model: ModelGilbertElliott, P: 0.01, R: 0.3, LossBad: 1}, 0.01 / 0.31, 1 / 0.3, true},
		// loss in both states: 1/(1-h(1-r)) does not apply; the general formula does
		{LossConfig{Model: ModelGilbertElliott, P: 0.02, R: 0.2, LossGood: 0.01, LossBad: 0.5}, 0, 0, true},
		{LossConfig{Model: ModelGilbertElliott, P: 0.01, LossBad: 1}, 1, inf, true},
	}
	for _, tt := range tests {
		m, ok := tt.c.Means()
		if ok != tt.ok || !ok {
			if ok != tt.ok {
				t.Errorf("%+v: ok %v", tt.c, ok)
			}
			continue
		}
		wantLoss, wantBurst := tt.loss, tt.burst
		if tt.c.Model == ModelGilbertElliott && tt.c.LossGood > 0 {
			g, err := NewGilbertElliott(tt.c.P, tt.c.R, tt.c.LossGood, tt.c.LossBad, rand.New(rand.NewPCG(1, 1)))
			if err != nil {
				t.Fatal(err)
			}
			wantLoss, wantBurst = g.MeanLoss(), g.MeanBurst()
		}
		if math.Abs(m.Loss-wantLoss) > 1e-12 {
			t.Errorf("%+v: mean loss %v, want %v", tt.c, m.Loss, wantLoss)
		}
		switch {
		case math.IsInf(wantBurst, 1):
			if m.Burst != nil {
				t.Errorf("%+v: mean burst %v, want endless (nil)", tt.c, *m.Burst)
			}
		case m.Burst == nil || math.Abs(*m.Burst-wantBurst) > 1e-9:
			t.Errorf("%+v: mean burst %v, want %v", tt.c, m.Burst, wantBurst)
		}
	}
	if _, err := json.Marshal(LossMeans{Loss: 1}); err != nil {
		t.Errorf("an endless burst does not encode: %v", err)
	}
}

// record sends n packets through a fresh build of s and returns, per packet,
// its deliveries.
func record(t *testing.T, s Scenario, seed uint64, n int) [][]time.Duration {
	t.Helper()
	p, err := s.Build(seed)
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]time.Duration, n)
	for i := range out {
		p.SendAll(time.Duration(i)*20*time.Millisecond, func(at time.Duration) { out[i] = append(out[i], at) })
	}
	return out
}

func TestScenarioDeterministicPerSeed(t *testing.T) {
	for _, name := range ScenarioNames() {
		s, _ := ScenarioByName(name)
		a, b, c := record(t, s, 42, 20_000), record(t, s, 42, 20_000), record(t, s, 43, 20_000)
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: seed 42 gave two different runs", name)
		}
		if reflect.DeepEqual(a, c) {
			t.Errorf("%s: seeds 42 and 43 gave the same run", name)
		}
	}
}

// Each kind of impairment draws from its own stream, so changing the loss
// model leaves the delays of the delivered packets as they were.
func TestScenarioStreamsIndependent(t *testing.T) {
	lossy, _ := ScenarioByName("wifi")
	lossless := lossy
	lossless.Loss = LossConfig{}
	a, b := record(t, lossy, 9, 5000), record(t, lossless, 9, 5000)
	lost := 0
	for i := range a {
		if len(a[i]) == 0 {
			lost++
			continue
		}
		if !reflect.DeepEqual(a[i], b[i]) {
			t.Fatalf("packet %d: delivered at %v with loss, %v without", i, a[i], b[i])
		}
	}
	if lost == 0 {
		t.Error("the lossy scenario lost nothing")
	}
}

// FuzzLoadScenario checks that no input panics, and that every scenario
// accepted builds and survives a JSON round trip.
func FuzzLoadScenario(f *testing.F) {
	for _, name := range ScenarioNames() {
		s, _ := ScenarioByName(name)
		data, err := json.Marshal(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(data))
	}
	f.Add(`{"name":"x","delay":{"spikes":{"probability":1,"height_ms":3600000,"slope":1e-300}}}`)
	f.Add(`{"name":"x","delay":{"jitter":{"model":"pareto","scale_ms":60000,"shape":1.0000001}}}`)
	f.Add(`{"name":"x","NAME":"y"}`)
	f.Fuzz(func(t *testing.T, in string) {
		s, err := LoadScenario(strings.NewReader(in))
		if err != nil {
			return
		}
		p, err := s.Build(1)
		if err != nil {
			t.Fatalf("accepted scenario does not build: %v", err)
		}
		for i := range 50 {
			p.SendAll(time.Duration(i)*20*time.Millisecond, func(time.Duration) {})
		}
		data, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		back, err := LoadScenario(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("re-reading %s: %v", data, err)
		}
		if !reflect.DeepEqual(back, s) {
			t.Fatalf("round trip changed %+v to %+v", s, back)
		}
	})
}
