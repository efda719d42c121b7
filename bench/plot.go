package bench

import (
	"errors"
	"fmt"
	"image/color"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spurtvoip/spurt/jitter"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/font"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// Plot files, written into the directory given to WritePlots.
const (
	PlotDelays   = "delays.png"   // network delay and playout delay per packet over time
	PlotTradeoff = "tradeoff.png" // late loss against mean playout delay
	PlotHeatmap  = "mos-heatmap.png"
)

// DefaultPlotWindow is how much of the call the delay plot shows.
const DefaultPlotWindow = 30 * time.Second

// Figure size.
const (
	plotWidth  = 26 * vg.Centimeter
	plotHeight = 13 * vg.Centimeter
)

// WritePlots writes the run's figures into dir (created if need be) and
// returns the files written: PlotDelays, the classic figure of per-packet
// network delay with each strategy's playout delay over the first window of
// the call, talk spurt starts marked (it needs the run's Timeline), and
// PlotTradeoff, a point per row at its late loss and mean playout delay
// (left out when no row played anything: there is no delay to draw).
func (r Result) WritePlots(dir string, window time.Duration) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: plot directory: %w", err)
	}
	var written []string
	if r.Timeline != nil {
		p, cut, err := delayPlot(r.Timeline, window)
		if err != nil {
			return written, err
		}
		p.Title.Text = fmt.Sprintf("Network and playout delay per packet, first %v of the call%s\n%s network, direction A to B, FEC %s",
			window, cut, r.Network, r.Timeline.FEC)
		if err := save(p, dir, PlotDelays, &written); err != nil {
			return written, err
		}
	}
	if !slices.ContainsFunc(r.Rows, func(row Row) bool { return row.DelayMean != nil }) {
		return written, nil
	}
	p, err := tradeoffPlot(r.Rows, nil, nil)
	if err != nil {
		return written, err
	}
	p.Title.Text = fmt.Sprintf("Late loss against playout delay, %s network", r.Network)
	if err := save(p, dir, PlotTradeoff, &written); err != nil {
		return written, err
	}
	return written, nil
}

// WritePlots writes the sweep's figures into dir and returns the files
// written: PlotTradeoff, every setting with the trade-off curve through the
// settings no other beats on both axes, and, when the grid varies both K and
// alpha, PlotHeatmap, the MOS over that grid (the best over any other swept
// parameter).
func (s SweepResult) WritePlots(dir string) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("bench: plot directory: %w", err)
	}
	var written []string
	rows := make([]Row, len(s.Points))
	for i, pt := range s.Points {
		rows[i] = pt.Row
	}
	p, err := tradeoffPlot(rows, s.Front, s.marks())
	if err != nil {
		return written, err
	}
	p.Title.Text = fmt.Sprintf("EWMA settings: late loss against playout delay, %s network", s.Network)
	if err := save(p, dir, PlotTradeoff, &written); err != nil {
		return written, err
	}
	if g := newMOSGrid(s.Points); g != nil {
		best := s.Points[s.Best]
		p, bar, err := heatmapPlot(g, best.K, best.Alpha)
		if err != nil {
			return written, err
		}
		p.Title.Text = fmt.Sprintf("MOS over K and alpha, %s network, FEC %s (framed: best %.3f at K=%g, alpha=%g, beta=%g)",
			s.Network, s.FEC, orNaN(best.Row.MOS), best.K, best.Alpha, best.Beta)
		if err := saveWithBar(p, bar, dir, PlotHeatmap, &written); err != nil {
			return written, err
		}
	}
	return written, nil
}

// save writes p as a PNG into dir, its legend (if any) in a column right of
// the plot, where it hides no data.
func save(p *plot.Plot, dir, name string, written *[]string) error {
	path := filepath.Join(dir, name)
	img, err := draw.NewFormattedCanvas(plotWidth, plotHeight, "png")
	if err != nil {
		return fmt.Errorf("bench: drawing %s: %w", path, err)
	}
	c := draw.New(img)
	legend := p.Legend
	p.Legend = plot.NewLegend()
	if width := legend.Rectangle(c).Size().X; width > 0 {
		const gap = 8 * vg.Millimeter
		p.Draw(draw.Crop(c, 0, -(width + gap), 0, 0))
		legend.Top, legend.Left = true, true
		legend.Draw(draw.Crop(c, plotWidth-width-gap/2, 0, 0, -10*vg.Millimeter))
	} else {
		p.Draw(c)
	}
	p.Legend = legend
	return writePNG(img, path, written)
}

// strategyColor is the colour of a strategy's series in every plot, the same
// for its oracle row; strategies of the same kind (fixed:60ms, fixed:100ms)
// get another colour each time they repeat (used counts them).
func strategyColor(name string, used map[color.Color]bool) color.Color {
	base, _, _ := strings.Cut(strings.TrimPrefix(name, "oracle@"), ":")
	var c color.Color
	switch base {
	case "ewma":
		c = color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff} // red
	case "spike":
		c = color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff} // green
	case "quantile":
		c = color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff} // blue
	case "fixed":
		c = color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff} // orange
	case "pion":
		c = color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff} // purple
	case "oracle":
		return color.Black
	}
	for k := 0; c == nil || used[c]; k++ {
		c = plotutil.Color(k)
	}
	used[c] = true
	return c
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// delayPlot draws the first window of a timeline. The y axis spans every
// network delay but only the bulk of each strategy's playout delays, not
// their extremes (pion's start-up delay of a second or more would flatten
// everything else); cut says, for the title, what it cuts off.
func delayPlot(t *Timeline, window time.Duration) (p *plot.Plot, cut string, err error) {
	if window <= 0 {
		window = DefaultPlotWindow
	}
	n := 0
	for n < len(t.Send) && t.Send[n]-t.Send[0] <= window {
		n++
	}
	if n == 0 {
		return nil, "", errors.New("bench: no packets to plot")
	}
	p = plot.New()
	p.X.Label.Text = "send time (s)"
	p.Y.Label.Text = "delay after capture end (ms)"

	var net plotter.XYs
	var netMS []float64
	for i := range n {
		if t.Network[i] >= 0 {
			net = append(net, plotter.XY{X: seconds(t.Send[i]), Y: millis(t.Network[i])})
			netMS = append(netMS, millis(t.Network[i]))
		}
	}
	top := quantile(netMS, 1) // all of the network
	var all []float64         // every value drawn
	all = append(all, netMS...)
	for _, s := range t.Playout {
		var played []float64
		for _, d := range s.Delays[:n] {
			if d != notPlayed {
				played = append(played, millis(d))
			}
		}
		top = max(top, quantile(played, 0.75))
		all = append(all, played...)
	}
	top = niceCeil(max(top*1.05, 10))
	above := 0
	for _, v := range all {
		if v > top {
			above++
		}
	}

	// Talk spurt starts, as light vertical lines.
	for i := range n {
		if i == 0 || t.Spurt[i] != t.Spurt[i-1] {
			x := seconds(t.Send[i])
			l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: top}})
			if err != nil {
				return nil, "", fmt.Errorf("bench: plotting spurts: %w", err)
			}
			l.Color = color.Gray{Y: 200}
			l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(l)
			if i == 0 {
				p.Legend.Add("talk spurt start", l)
			}
		}
	}
	used := map[color.Color]bool{}
	colors := make([]color.Color, len(t.Playout))
	for k, s := range t.Playout {
		if strings.HasPrefix(s.Name, "oracle") {
			colors[k] = color.Black
		} else {
			colors[k] = strategyColor(s.Name, used)
		}
	}
	for k, s := range t.Playout {
		col := colors[k]
		first := true
		for start := 0; start < n; {
			end := start
			for end < n && t.Spurt[end] == t.Spurt[start] {
				end++
			}
			var xy plotter.XYs
			for i := start; i < end; i++ {
				if d := s.Delays[i]; d != notPlayed {
					xy = append(xy, plotter.XY{X: seconds(t.Send[i]), Y: millis(d)})
				}
			}
			start = end
			if len(xy) == 0 {
				continue
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return nil, "", fmt.Errorf("bench: plotting %s: %w", s.Name, err)
			}
			l.Color, l.Width = col, vg.Points(1.5)
			label := s.Name + " playout"
			if of, ok := strings.CutPrefix(s.Name, "oracle@"); ok {
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(2)}
				label = "oracle at " + of + "'s late loss"
			}
			p.Add(l)
			if first {
				p.Legend.Add(label, l)
				first = false
			}
		}
	}
	// Packets that arrived too late for a strategy: a ring of its colour
	// around the network delay dot, one size per strategy.
	for k, s := range t.Playout {
		if strings.HasPrefix(s.Name, "oracle") {
			continue
		}
		var late plotter.XYs
		for i := range n {
			if t.Network[i] >= 0 && s.Delays[i] == notPlayed {
				late = append(late, plotter.XY{X: seconds(t.Send[i]), Y: min(millis(t.Network[i]), top)})
			}
		}
		if len(late) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(late)
		if err != nil {
			return nil, "", fmt.Errorf("bench: plotting late packets: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Shape: draw.RingGlyph{}, Radius: vg.Points(3 + 1.5*float64(k)), Color: colors[k]}
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("late for %s (%d)", s.Name, len(late)), sc)
	}
	// Packets the network lost: crosses along the time axis.
	var lost plotter.XYs
	for i := range n {
		if t.Network[i] < 0 {
			lost = append(lost, plotter.XY{X: seconds(t.Send[i]), Y: 0})
		}
	}
	if len(lost) > 0 {
		sc, err := plotter.NewScatter(lost)
		if err != nil {
			return nil, "", fmt.Errorf("bench: plotting lost packets: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Shape: draw.CrossGlyph{}, Radius: vg.Points(3), Color: color.RGBA{R: 0xb0, A: 0xff}}
		p.Add(sc)
		p.Legend.Add(fmt.Sprintf("lost in the network (%d)", len(lost)), sc)
	}
	if len(net) > 0 {
		sc, err := plotter.NewScatter(net)
		if err != nil {
			return nil, "", fmt.Errorf("bench: plotting network delay: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Shape: draw.CircleGlyph{}, Radius: vg.Points(1.2), Color: color.Gray{Y: 80}}
		p.Add(sc)
		p.Legend.Add("network delay", sc)
	}
	p.Y.Min, p.Y.Max = 0, top
	p.Y.Tick.Marker = axisTicks(top)
	p.X.Min, p.X.Max = math.Floor(seconds(t.Send[0])), seconds(t.Send[n-1])+0.2
	p.X.Tick.Marker = secondTicks(p.X.Min, p.X.Max)
	if above > 0 {
		cut = fmt.Sprintf(" (axis cut at %.0f ms: %d values above)", top, above)
	}
	return p, cut, nil
}

// secondTicks marks whole seconds from lo to hi, every 1, 2, 5, 10, 15, 30
// or 60 s: the fewest that give at least six ticks, or at most twelve.
func secondTicks(lo, hi float64) plot.ConstantTicks {
	step := 60.0
	for _, s := range []float64{1, 2, 5, 10, 15, 30, 60} {
		if (hi-lo)/s <= 12 {
			step = s
			break
		}
	}
	var ticks plot.ConstantTicks
	for v := math.Ceil(lo/step) * step; v <= hi && len(ticks) < 1000; v += step {
		if v == 0 {
			v = 0 // not -0
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'f', -1, 64)})
	}
	return ticks
}

// niceCeil rounds v > 0 up to a round number (1, 1.2, 1.5, 2, 2.5, 3, 4, 5,
// 6 or 8 times a power of ten).
func niceCeil(v float64) float64 {
	step := math.Pow(10, math.Floor(math.Log10(v)))
	for _, m := range []float64{1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8} {
		if m*step >= v {
			return m * step
		}
	}
	return 10 * step
}

// axisTicks marks 0 to top (a niceCeil) every round step, five to twelve
// ticks in all.
func axisTicks(top float64) plot.ConstantTicks {
	step := math.Pow(10, math.Floor(math.Log10(top)))
	switch {
	case top/step < 2.5:
		step /= 5
	case top/step < 5:
		step /= 2
	}
	var ticks plot.ConstantTicks
	for k := 0.0; k*step <= top*(1+1e-9); k++ {
		v := k * step
		ticks = append(ticks, plot.Tick{Value: v, Label: strconv.FormatFloat(v, 'g', -1, 64)})
	}
	return ticks
}

// quantile returns the q-quantile (nearest rank) of vs, which it sorts; 0
// for none.
func quantile(vs []float64, q float64) float64 {
	if len(vs) == 0 {
		return 0
	}
	slices.Sort(vs)
	return vs[max(int(math.Ceil(q*float64(len(vs))))-1, 0)]
}

// sweepMarks are what the sweep's trade-off plot labels: each point's
// setting, and which points are the best, the knee and the default (-1 if
// none).
type sweepMarks struct {
	labels            []string
	best, knee, deflt int
}

func (s SweepResult) marks() *sweepMarks {
	m := &sweepMarks{best: s.Best, knee: s.Knee, deflt: -1}
	def := jitter.DefaultEWMAConfig()
	for i, p := range s.Points {
		m.labels = append(m.labels, fmt.Sprintf("K=%g α=%g β=%g", p.K, p.Alpha, p.Beta))
		if p.K == def.K && p.Alpha == def.Alpha && p.Beta == def.Beta {
			m.deflt = i
		}
	}
	return m
}

// lossAxis sets the late-loss axis for values xs (in %): linear from a
// little below zero, or logarithmic when the losses above zero span two
// decades or more, zero then drawn at a floor below the least loss and
// labelled 0. It returns where each value is drawn.
func lossAxis(p *plot.Plot, xs []float64) []float64 {
	lo, hi := math.Inf(1), 0.0
	zero := false
	for _, x := range xs {
		switch {
		case math.IsNaN(x):
		case x <= 0:
			zero = true
		default:
			lo, hi = min(lo, x), max(hi, x)
		}
	}
	at := slices.Clone(xs)
	if hi == 0 || hi/lo < 100 {
		hi = max(hi, 1e-3)
		p.X.Min, p.X.Max = -0.04*hi, hi*1.08
		return at
	}
	floor := math.Pow(10, math.Floor(math.Log10(lo))) // a tick, the lowest
	if zero {
		floor /= 10
	}
	for i, x := range at {
		if x <= 0 {
			at[i] = floor
		}
	}
	p.X.Scale = plot.LogScale{}
	p.X.Min, p.X.Max = floor/1.5, hi*1.5
	var ticks plot.ConstantTicks
	for v := floor; v <= hi*1.5; v *= 10 {
		label := strconv.FormatFloat(v, 'g', -1, 64)
		if zero && v == floor {
			label = "0"
		}
		ticks = append(ticks, plot.Tick{Value: v, Label: label})
	}
	p.X.Tick.Marker = ticks
	p.X.Label.Text += ", log scale"
	if zero {
		p.X.Label.Text += " (0 drawn at the left)"
	}
	return at
}

// spreadLabels places each label at its point, moved down as far as it
// takes (a line at a time) not to overprint a label placed before it; the
// axes' ranges must be set. It returns where the labels go.
func spreadLabels(p *plot.Plot, points plotter.XYs, texts []string) plotter.XYs {
	const charWidth, lineHeight = 0.0085, 0.035 // of the axes' ranges, for 8 pt text
	order := make([]int, len(points))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int { return cmpFloat(points[b].Y, points[a].Y) })
	at := slices.Clone(points)
	type box struct{ x0, x1, y float64 }
	var placed []box
	for _, i := range order {
		x0 := p.X.Norm(points[i].X)
		x1 := x0 + charWidth*float64(len([]rune(texts[i])))
		y := p.Y.Norm(points[i].Y)
		for range len(points) + 1 {
			clash := false
			for _, b := range placed {
				if x0 < b.x1 && b.x0 < x1 && math.Abs(y-b.y) < lineHeight {
					clash = true
					break
				}
			}
			if !clash {
				break
			}
			y -= lineHeight
		}
		placed = append(placed, box{x0, x1, y})
		at[i].Y = p.Y.Min + y*(p.Y.Max-p.Y.Min)
	}
	return at
}

// tradeoffPlot draws each row at (late loss %, mean playout delay ms), rows
// of unknown delay left out, within a frame that clips none. For a sweep
// (front not nil) it joins the front's rows as the trade-off curve and
// marks the best, the knee and the default setting, labelling them (and
// every point of a small curve) with their setting; otherwise each row is a
// point coloured by strategy and shaped by FEC scheme, labelled with both,
// an oracle row a ring of its strategy's colour.
func tradeoffPlot(rows []Row, front []int, marks *sweepMarks) (*plot.Plot, error) {
	if len(rows) == 0 {
		return nil, errors.New("bench: no results to plot")
	}
	p := plot.New()
	p.X.Label.Text = "late loss (% of packets)"
	p.Y.Label.Text = "mean playout delay (ms)"
	xs := make([]float64, len(rows))
	topY := 0.0
	for i, r := range rows {
		xs[i] = 100 * r.LateLoss
		if r.DelayMean != nil {
			topY = max(topY, *r.DelayMean)
		}
	}
	at := lossAxis(p, xs)
	p.Y.Min, p.Y.Max = 0, niceCeil(max(topY*1.1, 10))
	p.Y.Tick.Marker = axisTicks(p.Y.Max)
	xy := make(plotter.XYs, 0, len(rows))
	index := make([]int, len(rows)) // of each row in xy, -1 if not drawn
	for i, r := range rows {
		index[i] = -1
		if r.DelayMean != nil {
			index[i] = len(xy)
			xy = append(xy, plotter.XY{X: at[i], Y: *r.DelayMean})
		}
	}
	if len(xy) == 0 {
		return nil, errors.New("bench: no result with a known delay to plot")
	}
	label := func(points plotter.XYs, texts []string) error {
		if len(points) == 0 {
			return nil
		}
		spots := spreadLabels(p, points, texts)
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: spots, Labels: texts})
		if err != nil {
			return fmt.Errorf("bench: labelling the trade-off: %w", err)
		}
		for i := range spots {
			if spots[i] == points[i] {
				continue
			}
			// A label moved off its point: a thin line leads back to it.
			l, err := plotter.NewLine(plotter.XYs{points[i], spots[i]})
			if err != nil {
				return fmt.Errorf("bench: labelling the trade-off: %w", err)
			}
			l.Color, l.Width = color.Gray{Y: 170}, vg.Points(0.5)
			p.Add(l)
		}
		lb.Offset = vg.Point{X: vg.Points(5), Y: vg.Points(2)}
		for i := range lb.TextStyle {
			lb.TextStyle[i].Font.Size = vg.Points(8)
		}
		p.Add(lb)
		return nil
	}
	if front != nil {
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, fmt.Errorf("bench: plotting the trade-off: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Shape: draw.CircleGlyph{}, Radius: vg.Points(2.5), Color: color.Gray{Y: 150}}
		p.Add(sc)
		p.Legend.Add("EWMA setting", sc)
		curve := make(plotter.XYs, 0, len(front))
		for _, i := range front {
			if i >= 0 && i < len(rows) && index[i] >= 0 {
				curve = append(curve, xy[index[i]])
			}
		}
		if len(curve) > 0 {
			l, err := plotter.NewLine(curve)
			if err != nil {
				return nil, fmt.Errorf("bench: plotting the trade-off curve: %w", err)
			}
			l.Color = plotutil.Color(0)
			p.Add(l)
			p.Legend.Add(fmt.Sprintf("trade-off curve (%d settings)", len(curve)), l)
		}
		if marks == nil {
			return p, nil
		}
		var pts plotter.XYs
		var texts []string
		named := map[int]string{}
		roles := map[int][]string{}
		if len(front) <= 12 {
			for _, i := range front {
				if i >= 0 && i < len(rows) {
					named[i] = marks.labels[i]
				}
			}
		}
		for _, m := range []struct {
			i     int
			name  string
			shape draw.GlyphDrawer
			col   color.Color
		}{
			{marks.deflt, "default", draw.BoxGlyph{}, color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}},
			{marks.knee, "knee", draw.TriangleGlyph{}, color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}},
			{marks.best, "best by MOS", draw.RingGlyph{}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff}},
		} {
			if m.i < 0 || m.i >= len(rows) || index[m.i] < 0 {
				continue
			}
			sc, err := plotter.NewScatter(xy[index[m.i] : index[m.i]+1])
			if err != nil {
				return nil, fmt.Errorf("bench: plotting the %s: %w", m.name, err)
			}
			sc.GlyphStyle = draw.GlyphStyle{Shape: m.shape, Radius: vg.Points(5), Color: m.col}
			p.Add(sc)
			p.Legend.Add(m.name, sc)
			roles[m.i] = append(roles[m.i], m.name)
		}
		for i, r := range roles {
			named[i] = strings.Join(r, ", ") + ": " + marks.labels[i]
		}
		keys := slices.Sorted(maps.Keys(named))
		for _, i := range keys {
			if index[i] >= 0 {
				pts, texts = append(pts, xy[index[i]]), append(texts, named[i])
			}
		}
		return p, label(pts, texts)
	}

	shapes := []draw.GlyphDrawer{draw.CircleGlyph{}, draw.TriangleGlyph{}, draw.BoxGlyph{}, draw.PyramidGlyph{},
		draw.CrossGlyph{}, draw.PlusGlyph{}, draw.SquareGlyph{}}
	var strategies, schemes []string
	colors := map[string]color.Color{}
	used := map[color.Color]bool{}
	for _, r := range rows {
		name := strings.TrimPrefix(r.Strategy, "oracle@")
		if _, ok := colors[name]; !ok {
			colors[name] = strategyColor(name, used)
			strategies = append(strategies, name)
		}
		if !slices.Contains(schemes, r.FEC) {
			schemes = append(schemes, r.FEC)
		}
	}
	shape := func(fec string) draw.GlyphDrawer { return shapes[slices.Index(schemes, fec)%len(shapes)] }
	oracles := false
	var texts []string
	var pts plotter.XYs
	for i, r := range rows {
		if index[i] < 0 {
			continue
		}
		name, isOracle := strings.CutPrefix(r.Strategy, "oracle@")
		text := r.Strategy
		if len(schemes) > 1 {
			text += " " + r.FEC
		}
		pts, texts = append(pts, xy[index[i]]), append(texts, text)
		sc, err := plotter.NewScatter(xy[index[i] : index[i]+1])
		if err != nil {
			return nil, fmt.Errorf("bench: plotting the trade-off: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Shape: shape(r.FEC), Radius: vg.Points(3.5), Color: colors[name]}
		if isOracle {
			sc.GlyphStyle.Shape, oracles = draw.RingGlyph{}, true
		}
		p.Add(sc)
	}
	thumb := func(c color.Color, g draw.GlyphDrawer) plot.Thumbnailer {
		sc, _ := plotter.NewScatter(plotter.XYs{{}}) // one point: cannot fail
		sc.GlyphStyle = draw.GlyphStyle{Shape: g, Radius: vg.Points(3.5), Color: c}
		return sc
	}
	for _, name := range strategies {
		p.Legend.Add(name, thumb(colors[name], draw.CircleGlyph{}))
	}
	if len(schemes) > 1 {
		for _, fec := range schemes {
			p.Legend.Add("FEC "+fec, thumb(color.Gray{Y: 90}, shape(fec)))
		}
	}
	if oracles {
		p.Legend.Add("its oracle", thumb(color.Gray{Y: 90}, draw.RingGlyph{}))
	}
	return p, label(pts, texts)
}

// mosGrid is the MOS over the swept K and alpha values.
type mosGrid struct {
	k, alpha []float64
	mos      [][]float64 // [alpha][k]
}

// newMOSGrid returns the grid of the points' K and alpha values, or nil if
// either takes fewer than two values. Settings missing from the grid are NaN.
func newMOSGrid(points []SweepPoint) *mosGrid {
	var g mosGrid
	for _, p := range points {
		if !slices.Contains(g.k, p.K) {
			g.k = append(g.k, p.K)
		}
		if !slices.Contains(g.alpha, p.Alpha) {
			g.alpha = append(g.alpha, p.Alpha)
		}
	}
	if len(g.k) < 2 || len(g.alpha) < 2 {
		return nil
	}
	slices.Sort(g.k)
	slices.Sort(g.alpha)
	g.mos = make([][]float64, len(g.alpha))
	for r := range g.mos {
		g.mos[r] = make([]float64, len(g.k))
		for c := range g.mos[r] {
			g.mos[r][c] = math.NaN()
		}
	}
	for _, p := range points {
		c, r := slices.Index(g.k, p.K), slices.Index(g.alpha, p.Alpha)
		if v, m := g.mos[r][c], orNaN(p.Row.MOS); math.IsNaN(v) || m > v {
			g.mos[r][c] = m
		}
	}
	return &g
}

func (g *mosGrid) Dims() (c, r int)   { return len(g.k), len(g.alpha) }
func (g *mosGrid) Z(c, r int) float64 { return g.mos[r][c] }
func (g *mosGrid) X(c int) float64    { return float64(c) } // cells of equal size, whatever the spacing
func (g *mosGrid) Y(r int) float64    { return float64(r) }

// ticks labels cell i with values[i].
func ticks(values []float64) plot.ConstantTicks {
	t := make(plot.ConstantTicks, len(values))
	for i, v := range values {
		t[i] = plot.Tick{Value: float64(i), Label: strconv.FormatFloat(v, 'g', -1, 64)}
	}
	return t
}

// rankGrid colours a MOS grid by rank: each distinct value's place among
// them, from 0 (the lowest) to 1 (the highest). Equal steps of colour then
// hold equal numbers of settings, so the contrast falls where the values
// are, not spent on a few outliers far below the rest.
type rankGrid struct {
	*mosGrid
	values []float64 // the distinct values, ascending
}

func newRankGrid(g *mosGrid) rankGrid {
	var vs []float64
	for _, row := range g.mos {
		for _, v := range row {
			if !math.IsNaN(v) {
				vs = append(vs, v)
			}
		}
	}
	slices.Sort(vs)
	return rankGrid{mosGrid: g, values: slices.Compact(vs)}
}

func (r rankGrid) rank(v float64) float64 {
	if len(r.values) < 2 {
		return 1
	}
	i, _ := slices.BinarySearch(r.values, v)
	return float64(i) / float64(len(r.values)-1)
}

func (r rankGrid) Z(c, row int) float64 {
	v := r.mosGrid.Z(c, row)
	if math.IsNaN(v) {
		return v
	}
	return r.rank(v)
}

// valueAt is the MOS at rank q, interpolated between distinct values.
func (r rankGrid) valueAt(q float64) float64 {
	if len(r.values) == 1 {
		return r.values[0]
	}
	x := q * float64(len(r.values)-1)
	i := min(int(x), len(r.values)-2)
	return r.values[i] + (x-float64(i))*(r.values[i+1]-r.values[i])
}

// mosColors is a palette of rising luminance from dark violet through blue
// and green to yellow (the ends of viridis), legible with text on it and
// without a white end that would hide the best cells.
func mosColors() (palette.ColorMap, error) {
	return moreland.NewLuminance([]color.Color{
		color.NRGBA{R: 0x44, G: 0x01, B: 0x54, A: 0xff},
		color.NRGBA{R: 0x31, G: 0x68, B: 0x8e, A: 0xff},
		color.NRGBA{R: 0x35, G: 0xb7, B: 0x79, A: 0xff},
		color.NRGBA{R: 0xfd, G: 0xe7, B: 0x25, A: 0xff},
	})
}

// heatmapPlot draws the MOS grid with the best setting (bestK, bestAlpha)
// framed, each cell labelled with its value in a colour that reads on it
// when the grid is small enough, and returns besides the colour bar's plot.
func heatmapPlot(g *mosGrid, bestK, bestAlpha float64) (p, bar *plot.Plot, err error) {
	p = plot.New()
	p.X.Label.Text = "K (safety factor)"
	p.Y.Label.Text = "alpha (weight of the previous estimate)"
	rg := newRankGrid(g)
	cm, err := mosColors()
	if err != nil {
		return nil, nil, fmt.Errorf("bench: heat map colours: %w", err)
	}
	cm.SetMin(0)
	cm.SetMax(1)
	hm := plotter.NewHeatMap(rg, cm.Palette(64))
	hm.Min, hm.Max = 0, 1
	hm.NaN = color.White
	p.Add(hm)
	p.X.Tick.Marker, p.Y.Tick.Marker = ticks(g.k), ticks(g.alpha)
	c, r := g.Dims()
	if c*r <= 400 {
		size := vg.Points(min(max(float64(plotWidth.Points())/float64(c)/5, 7), 11))
		var xy plotter.XYs
		var labels []string
		var styles []text.Style
		for i := range r {
			for j := range c {
				v := g.Z(j, i)
				if math.IsNaN(v) {
					continue
				}
				xy = append(xy, plotter.XY{X: g.X(j), Y: g.Y(i)})
				labels = append(labels, fmt.Sprintf("%.2f", v))
				col, err := cm.At(rg.rank(v))
				if err != nil {
					col = color.Black
				}
				ink := color.Color(color.Black)
				if luminance(col) < 0.5 {
					ink = color.White
				}
				styles = append(styles, text.Style{Color: ink, Font: font.From(plot.DefaultFont, size),
					XAlign: draw.XCenter, YAlign: draw.YCenter, Handler: plot.DefaultTextHandler})
			}
		}
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: labels})
		if err != nil {
			return nil, nil, fmt.Errorf("bench: labelling the heat map: %w", err)
		}
		lb.TextStyle = styles
		p.Add(lb)
	}
	if bc, br := slices.Index(g.k, bestK), slices.Index(g.alpha, bestAlpha); bc >= 0 && br >= 0 {
		x, y := g.X(bc), g.Y(br)
		frame, err := plotter.NewLine(plotter.XYs{{X: x - 0.47, Y: y - 0.47}, {X: x + 0.47, Y: y - 0.47},
			{X: x + 0.47, Y: y + 0.47}, {X: x - 0.47, Y: y + 0.47}, {X: x - 0.47, Y: y - 0.47}})
		if err != nil {
			return nil, nil, fmt.Errorf("bench: framing the best cell: %w", err)
		}
		frame.Color, frame.Width = color.RGBA{R: 0x00, G: 0xb0, B: 0xff, A: 0xff}, vg.Points(3)
		p.Add(frame)
	}
	bar = plot.New()
	cb := &plotter.ColorBar{ColorMap: cm, Vertical: true}
	bar.Add(cb)
	bar.HideX()
	bar.Y.Label.Text = "MOS (colour by rank)"
	bar.Y.Min, bar.Y.Max = 0, 1
	var marks plot.ConstantTicks
	for _, q := range []float64{0, 0.25, 0.5, 0.75, 1} {
		marks = append(marks, plot.Tick{Value: q, Label: fmt.Sprintf("%.2f", rg.valueAt(q))})
	}
	bar.Y.Tick.Marker = marks
	return p, bar, nil
}

// luminance is a colour's relative brightness, 0 (black) to 1 (white).
func luminance(c color.Color) float64 {
	r, g, b, _ := c.RGBA()
	return (0.299*float64(r) + 0.587*float64(g) + 0.114*float64(b)) / 0xffff
}

// saveWithBar writes p as save does, with the colour bar's plot in a strip
// at its right.
func saveWithBar(p, bar *plot.Plot, dir, name string, written *[]string) error {
	path := filepath.Join(dir, name)
	img, err := draw.NewFormattedCanvas(plotWidth, plotHeight, "png")
	if err != nil {
		return fmt.Errorf("bench: drawing %s: %w", path, err)
	}
	c := draw.New(img)
	const strip = 3 * vg.Centimeter
	p.Draw(draw.Crop(c, 0, -strip, 0, 0))
	bar.Draw(draw.Crop(c, plotWidth-strip+5*vg.Millimeter, 0, vg.Centimeter, -vg.Centimeter))
	return writePNG(img, path, written)
}

// writePNG writes a drawn canvas to path and adds path to written.
func writePNG(img io.WriterTo, path string, written *[]string) error {
	file, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: writing %s: %w", path, err)
	}
	if _, err := img.WriteTo(file); err != nil {
		file.Close()
		return fmt.Errorf("bench: writing %s: %w", path, err)
	}
	if err := file.Close(); err != nil {
		return fmt.Errorf("bench: writing %s: %w", path, err)
	}
	*written = append(*written, path)
	return nil
}
