package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/spurtvoip/spurt/jitter"
)

// checkPNG decodes a written plot and checks its size is that of a figure.
func checkPNG(t *testing.T, path string) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() < 600 || b.Dx() > 2000 || b.Dy() < 300 || b.Dy() > 1200 || len(data) < 5<<10 || len(data) > 4<<20 {
		t.Errorf("%s: %dx%d pixels, %d bytes", path, b.Dx(), b.Dy(), len(data))
	}
}

func TestRunPlots(t *testing.T) {
	res := run(t, Config{Scenario: scenario(t, "spiky"), Duration: time.Minute, Seed: 3, Oracle: true, Timeline: true,
		Strategies: []Strategy{ewma(), PionStrategy(5)}, FEC: []string{"none", "red"}})
	tl := res.Timeline
	if tl == nil || len(tl.Send) == 0 || len(tl.Playout) != 3 || tl.Playout[2].Name != "oracle@ewma" {
		t.Fatalf("timeline %+v", tl)
	}
	for _, p := range tl.Playout {
		played := 0
		for i, d := range p.Delays {
			if d != notPlayed {
				played++
				if d < tl.Network[i] {
					t.Fatalf("%s plays packet %d %v after capture, before its arrival %v", p.Name, i, d, tl.Network[i])
				}
			}
		}
		if played < len(tl.Send)*9/10 {
			t.Errorf("%s played %d of %d packets", p.Name, played, len(tl.Send))
		}
	}
	dir := filepath.Join(t.TempDir(), "plots")
	files, err := res.WritePlots(dir, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, PlotDelays), filepath.Join(dir, PlotTradeoff)}
	if !slices.Equal(files, want) {
		t.Fatalf("wrote %q, want %q", files, want)
	}
	for _, f := range files {
		checkPNG(t, f)
	}
	// Without a timeline there is no delay plot.
	res.Timeline = nil
	if files, err = res.WritePlots(t.TempDir(), 0); err != nil || len(files) != 1 {
		t.Errorf("without a timeline: %q, %v", files, err)
	}
}

func TestSweepPlots(t *testing.T) {
	base := Config{Scenario: scenario(t, "wifi"), Duration: 30 * time.Second, Seed: 4}
	var grid []jitter.EWMAConfig
	for _, k := range []float64{2, 4} {
		for _, a := range []float64{0.9, 0.998} {
			c := jitter.DefaultEWMAConfig()
			c.K, c.Alpha = k, a
			grid = append(grid, c)
		}
	}
	res, err := Sweep(base, grid, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	files, err := res.WritePlots(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2 || filepath.Base(files[1]) != PlotHeatmap {
		t.Fatalf("wrote %q", files)
	}
	for _, f := range files {
		checkPNG(t, f)
	}
	// A sweep over K alone has no heat map.
	res.Points = res.Points[:1]
	res.Points = append(res.Points, res.Points[0])
	res.Points[1].K = 8
	if files, err = res.WritePlots(t.TempDir()); err != nil || len(files) != 1 {
		t.Errorf("sweep over K alone: %q, %v", files, err)
	}
}

// The sweep's results do not depend on how many processors run it.
func TestSweepIndependentOfScheduling(t *testing.T) {
	base := Config{Scenario: scenario(t, "lte"), Duration: 40 * time.Second, Seed: 6, FEC: []string{"red"}}
	var grid []jitter.EWMAConfig
	for _, k := range []float64{1, 1.5, 2, 3, 4, 6} {
		c := jitter.DefaultEWMAConfig()
		c.K = k
		grid = append(grid, c)
	}
	encode := func(procs int) []byte {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		res, err := Sweep(base, grid, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.Points[0].Row.FEC != "red:1" {
			t.Fatalf("sweep ran FEC %q, want red:1", res.Points[0].Row.FEC)
		}
		b, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	one, four := encode(1), encode(4)
	if !bytes.Equal(one, four) {
		t.Errorf("one processor and four gave different sweeps:\n%s\n%s", one, four)
	}
}

// Pion's start-up delay (a second and more) does not set the delay plot's
// axis: the axis covers every network delay and the bulk of each playout
// series, and the title says how many values it cuts off.
func TestDelayPlotAxis(t *testing.T) {
	res := run(t, Config{Scenario: scenario(t, "wifi"), Duration: time.Minute, Seed: 3, Oracle: true, Timeline: true, OneWay: true,
		Strategies: []Strategy{ewma(), PionStrategy(PionDefaultMinPackets)}})
	tl := res.Timeline
	p, cut, err := delayPlot(tl, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var pionMax, netMax time.Duration
	for i, d := range tl.Playout[1].Delays {
		if tl.Send[i]-tl.Send[0] <= 30*time.Second {
			pionMax, netMax = max(pionMax, d), max(netMax, tl.Network[i])
		}
	}
	if tl.Playout[1].Name != "pion" || pionMax < time.Second {
		t.Fatalf("pion's longest delay %v: no start-up to cut", pionMax)
	}
	if top := p.Y.Max; top >= millis(pionMax) || top < millis(netMax) || cut == "" {
		t.Errorf("axis up to %v ms (network up to %v, pion %v), title note %q", top, netMax, pionMax, cut)
	}
}

func TestPlotHelpers(t *testing.T) {
	for _, tt := range []struct{ v, want float64 }{{9, 10}, {10, 10}, {11, 12}, {101, 120}, {260, 300}, {0.3, 0.3}, {7100, 8000}} {
		if got := niceCeil(tt.v); math.Abs(got-tt.want) > 1e-9 {
			t.Errorf("niceCeil(%v) = %v, want %v", tt.v, got, tt.want)
		}
	}
	for _, top := range []float64{10, 12, 120, 250, 300, 500, 800} {
		ticks := axisTicks(top)
		if len(ticks) < 5 || len(ticks) > 12 || ticks[0].Value != 0 || math.Abs(ticks[len(ticks)-1].Value-top) > 1e-9 {
			t.Errorf("ticks for %v: %v", top, ticks)
		}
	}
	used := map[color.Color]bool{}
	a, b, c, d := strategyColor("ewma", used), strategyColor("oracle", used), strategyColor("fixed:60ms", used), strategyColor("fixed:100ms", used)
	if a == b || c == d || a == c {
		t.Errorf("colours not distinct: ewma %v, oracle %v, fixed %v and %v", a, b, c, d)
	}
}

// legendOf and labelsOf read what a plot will draw: its legend's entries
// and the text of its labels (gonum keeps both unexported).
func legendOf(p *plot.Plot) []string {
	var out []string
	entries := reflect.ValueOf(&p.Legend).Elem().FieldByName("entries")
	for i := range entries.Len() {
		out = append(out, entries.Index(i).FieldByName("text").String())
	}
	return out
}

func labelsOf(p *plot.Plot) []string {
	var out []string
	plotters := reflect.ValueOf(p).Elem().FieldByName("plotters")
	for i := range plotters.Len() {
		v := plotters.Index(i).Elem()
		if v.Type() != reflect.TypeFor[*plotter.Labels]() {
			continue
		}
		texts := v.Elem().FieldByName("Labels")
		for j := range texts.Len() {
			out = append(out, texts.Index(j).String())
		}
	}
	return out
}

func hasAll(have []string, want ...string) []string {
	var missing []string
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.Contains(h, w) }) {
			missing = append(missing, w)
		}
	}
	return missing
}

// Each plot says what it shows without the command line: axis labels, a
// legend naming every series and mark, labelled points.
func TestPlotsExplainThemselves(t *testing.T) {
	res := run(t, Config{Scenario: scenario(t, "bursty"), Duration: time.Minute, Seed: 3, Oracle: true, Timeline: true,
		Strategies: []Strategy{ewma(), fixed(0)}, FEC: []string{"none", "xor:4"}})
	d, _, err := delayPlot(res.Timeline, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m := hasAll(legendOf(d), "ewma playout", "fixed playout", "oracle at ewma's late loss", "late for fixed", "lost in the network", "network delay"); m != nil {
		t.Errorf("delay plot legend %q lacks %q", legendOf(d), m)
	}
	if d.X.Label.Text == "" || d.Y.Label.Text == "" {
		t.Error("delay plot axes unlabelled")
	}
	for _, tick := range d.X.Tick.Marker.Ticks(d.X.Min, d.X.Max) {
		if tick.Label != "" && tick.Value != math.Round(tick.Value) {
			t.Errorf("delay plot tick at %v s, not a round second", tick.Value)
		}
	}
	dir := t.TempDir()
	if _, err := res.WritePlots(dir, 30*time.Second); err != nil {
		t.Fatal(err)
	}

	tp, err := tradeoffPlot(res.Rows, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if m := hasAll(labelsOf(tp), "ewma none", "fixed xor:4", "oracle@ewma none"); m != nil {
		t.Errorf("trade-off labels %q lack %q", labelsOf(tp), m)
	}
	for _, r := range res.Rows {
		x, y := 100*r.LateLoss, orNaN(r.DelayMean)
		if x <= tp.X.Min || x >= tp.X.Max || y <= tp.Y.Min && y != 0 || y >= tp.Y.Max {
			t.Errorf("%s %s at (%v, %v) outside or on the frame x [%v, %v] y [%v, %v]", r.Strategy, r.FEC, x, y, tp.X.Min, tp.X.Max, tp.Y.Min, tp.Y.Max)
		}
	}

	// A sweep whose late loss spans decades: a log axis, the best, the
	// knee and the default marked and named.
	var grid []jitter.EWMAConfig
	for _, k := range []float64{1, 2, 4, 8} {
		for _, a := range []float64{0.99, 0.998002} {
			c := jitter.DefaultEWMAConfig()
			c.K, c.Alpha = k, a
			grid = append(grid, c)
		}
	}
	sw, err := Sweep(Config{Scenario: scenario(t, "lte"), Duration: time.Minute, Seed: 2, NoAudio: true}, grid, nil)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]Row, len(sw.Points))
	for i, p := range sw.Points {
		rows[i] = p.Row
	}
	sp, err := tradeoffPlot(rows, sw.Front, sw.marks())
	if err != nil {
		t.Fatal(err)
	}
	if m := hasAll(legendOf(sp), "EWMA setting", "trade-off curve", "default", "best by MOS"); m != nil {
		t.Errorf("sweep legend %q lacks %q", legendOf(sp), m)
	}
	if m := hasAll(labelsOf(sp), "best by MOS: K=", "default"); m != nil {
		t.Errorf("sweep labels %q lack %q", labelsOf(sp), m)
	}
	lo, hi := math.Inf(1), 0.0
	for _, r := range rows {
		if r.LateLoss > 0 {
			lo, hi = min(lo, r.LateLoss), max(hi, r.LateLoss)
		}
	}
	if _, log := sp.X.Scale.(plot.LogScale); log != (hi/lo >= 100) {
		t.Errorf("late loss from %v to %v: log axis %v", lo, hi, log)
	}

	g := newMOSGrid(sw.Points)
	best := sw.Points[sw.Best]
	hp, bar, err := heatmapPlot(g, best.K, best.Alpha)
	if err != nil {
		t.Fatal(err)
	}
	if len(labelsOf(hp)) != len(sw.Points) || bar == nil || !strings.Contains(bar.Y.Label.Text, "MOS") {
		t.Errorf("heat map: %d cell labels for %d settings, colour bar %v", len(labelsOf(hp)), len(sw.Points), bar != nil)
	}
	if ticks := bar.Y.Tick.Marker.Ticks(0, 1); len(ticks) < 3 || ticks[len(ticks)-1].Label != fmt.Sprintf("%.2f", orNaN(best.Row.MOS)) {
		t.Errorf("colour bar ticks %v: want the best MOS at the top", ticks)
	}
	files, err := sw.WritePlots(dir)
	if err != nil || len(files) != 2 {
		t.Fatalf("sweep plots %q: %v", files, err)
	}
	for _, f := range files {
		checkPNG(t, f)
	}
}
