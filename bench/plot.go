package bench

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
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
// PlotTradeoff, a point per row at its late loss and mean playout delay.
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
		p.Title.Text = fmt.Sprintf("Network and playout delay, %s network, first %v%s", r.Network, window, cut)
		if err := save(p, dir, PlotDelays, &written); err != nil {
			return written, err
		}
	}
	p, err := tradeoffPlot(r.Rows, nil)
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
	p, err := tradeoffPlot(rows, s.Front)
	if err != nil {
		return written, err
	}
	p.Title.Text = fmt.Sprintf("EWMA settings: late loss against playout delay, %s network", s.Network)
	if err := save(p, dir, PlotTradeoff, &written); err != nil {
		return written, err
	}
	if g := newMOSGrid(s.Points); g != nil {
		p, err := heatmapPlot(g)
		if err != nil {
			return written, err
		}
		p.Title.Text = fmt.Sprintf("MOS over K and alpha, %s network (best %.2f at K=%g, alpha=%g)",
			s.Network, orNaN(s.Points[s.Best].Row.MOS), s.Points[s.Best].K, s.Points[s.Best].Alpha)
		if err := save(p, dir, PlotHeatmap, &written); err != nil {
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
	for _, s := range t.Playout {
		col := strategyColor(s.Name, used)
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
			if s.Name == "oracle" {
				l.Dashes = []vg.Length{vg.Points(5), vg.Points(2)}
			}
			p.Add(l)
			if first {
				p.Legend.Add(s.Name+" playout", l)
				first = false
			}
		}
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
	if above > 0 {
		cut = fmt.Sprintf(" (axis cut at %.0f ms: %d values above)", top, above)
	}
	return p, cut, nil
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

// tradeoffPlot draws each row at (late loss %, mean playout delay ms). If
// front is not nil (a sweep) it joins those rows as the trade-off curve;
// otherwise each row is a point coloured by strategy and shaped by FEC
// scheme, an oracle row a ring of its strategy's colour, told apart by the
// legend rather than by labels, which overprint when points meet.
func tradeoffPlot(rows []Row, front []int) (*plot.Plot, error) {
	if len(rows) == 0 {
		return nil, errors.New("bench: no results to plot")
	}
	p := plot.New()
	p.X.Label.Text = "late loss (% of packets)"
	p.Y.Label.Text = "mean playout delay (ms)"
	p.X.Min, p.Y.Min = 0, 0
	xy := make(plotter.XYs, len(rows))
	for i, r := range rows {
		xy[i] = plotter.XY{X: 100 * r.LateLoss, Y: orNaN(r.DelayMean)}
	}
	if front != nil {
		sc, err := plotter.NewScatter(xy)
		if err != nil {
			return nil, fmt.Errorf("bench: plotting the trade-off: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Shape: draw.CircleGlyph{}, Radius: vg.Points(2.5), Color: plotutil.Color(0)}
		p.Add(sc)
		p.Legend.Add("EWMA setting", sc)
		curve := make(plotter.XYs, 0, len(front))
		for _, i := range front {
			if i >= 0 && i < len(xy) {
				curve = append(curve, xy[i])
			}
		}
		if len(curve) > 0 {
			l, err := plotter.NewLine(curve)
			if err != nil {
				return nil, fmt.Errorf("bench: plotting the trade-off curve: %w", err)
			}
			l.Color = plotutil.Color(1)
			p.Add(l)
			p.Legend.Add("trade-off curve", l)
		}
		return p, nil
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
	for i, r := range rows {
		name, isOracle := strings.CutPrefix(r.Strategy, "oracle@")
		sc, err := plotter.NewScatter(xy[i : i+1])
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
	return p, nil
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

// heatmapPlot draws the MOS grid, each cell labelled with its value when the
// grid is small enough to read them.
func heatmapPlot(g *mosGrid) (*plot.Plot, error) {
	p := plot.New()
	p.X.Label.Text = "K (safety factor)"
	p.Y.Label.Text = "alpha (weight of the previous estimate)"
	hm := plotter.NewHeatMap(g, palette.Heat(64, 1))
	hm.NaN = color.White
	p.Add(hm)
	p.X.Tick.Marker, p.Y.Tick.Marker = ticks(g.k), ticks(g.alpha)
	c, r := g.Dims()
	if c*r <= 400 {
		var xy plotter.XYs
		var labels []string
		for i := range r {
			for j := range c {
				if v := g.Z(j, i); !math.IsNaN(v) {
					xy = append(xy, plotter.XY{X: g.X(j), Y: g.Y(i)})
					labels = append(labels, fmt.Sprintf("%.2f", v))
				}
			}
		}
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: labels})
		if err != nil {
			return nil, fmt.Errorf("bench: labelling the heat map: %w", err)
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].XAlign, lb.TextStyle[i].YAlign = draw.XCenter, draw.YCenter
			lb.TextStyle[i].Font.Size = vg.Points(7)
		}
		p.Add(lb)
	}
	return p, nil
}
