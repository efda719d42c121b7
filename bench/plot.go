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
		p, err := delayPlot(r.Timeline, window)
		if err != nil {
			return written, err
		}
		p.Title.Text = fmt.Sprintf("Network and playout delay, %s network, first %v", r.Network, window)
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
			s.Network, s.Points[s.Best].Row.MOS, s.Points[s.Best].K, s.Points[s.Best].Alpha)
		if err := save(p, dir, PlotHeatmap, &written); err != nil {
			return written, err
		}
	}
	return written, nil
}

func save(p *plot.Plot, dir, name string, written *[]string) error {
	path := filepath.Join(dir, name)
	if err := p.Save(plotWidth, plotHeight, path); err != nil {
		return fmt.Errorf("bench: writing %s: %w", path, err)
	}
	*written = append(*written, path)
	return nil
}

func seconds(d time.Duration) float64 { return d.Seconds() }

// delayPlot draws the first window of a timeline.
func delayPlot(t *Timeline, window time.Duration) (*plot.Plot, error) {
	if window <= 0 {
		window = DefaultPlotWindow
	}
	n := 0
	for n < len(t.Send) && t.Send[n]-t.Send[0] <= window {
		n++
	}
	if n == 0 {
		return nil, errors.New("bench: no packets to plot")
	}
	p := plot.New()
	p.X.Label.Text = "send time (s)"
	p.Y.Label.Text = "delay after capture end (ms)"
	p.Legend.Top = true

	var net plotter.XYs
	top := 0.0
	for i := range n {
		if t.Network[i] >= 0 {
			net = append(net, plotter.XY{X: seconds(t.Send[i]), Y: millis(t.Network[i])})
			top = max(top, millis(t.Network[i]))
		}
	}
	// Talk spurt starts, as light vertical lines.
	var spurtLines []*plotter.Line
	for i := range n {
		if i == 0 || t.Spurt[i] != t.Spurt[i-1] {
			x := seconds(t.Send[i])
			l, err := plotter.NewLine(plotter.XYs{{X: x, Y: 0}, {X: x, Y: 1}})
			if err != nil {
				return nil, fmt.Errorf("bench: plotting spurts: %w", err)
			}
			l.Color = color.Gray{Y: 200}
			l.Dashes = []vg.Length{vg.Points(2), vg.Points(2)}
			p.Add(l)
			spurtLines = append(spurtLines, l)
			if i == 0 {
				p.Legend.Add("talk spurt start", l)
			}
		}
	}
	for k, s := range t.Playout {
		col := plotutil.Color(k)
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
					top = max(top, millis(d))
				}
			}
			start = end
			if len(xy) == 0 {
				continue
			}
			l, err := plotter.NewLine(xy)
			if err != nil {
				return nil, fmt.Errorf("bench: plotting %s: %w", s.Name, err)
			}
			l.Color, l.Width = col, vg.Points(1.5)
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
			return nil, fmt.Errorf("bench: plotting network delay: %w", err)
		}
		sc.GlyphStyle = draw.GlyphStyle{Shape: draw.CircleGlyph{}, Radius: vg.Points(1.2), Color: color.Black}
		p.Add(sc)
		p.Legend.Add("network delay", sc)
	}
	// The spurt lines span [0, 1]: stretch them to the data's height.
	for _, l := range spurtLines {
		l.XYs[1].Y = top * 1.05
	}
	p.Y.Min = 0
	return p, nil
}

// tradeoffPlot draws each row at (late loss %, mean playout delay ms); if
// front is not nil it joins those rows as the trade-off curve.
func tradeoffPlot(rows []Row, front []int) (*plot.Plot, error) {
	if len(rows) == 0 {
		return nil, errors.New("bench: no results to plot")
	}
	p := plot.New()
	p.X.Label.Text = "late loss (% of packets)"
	p.Y.Label.Text = "mean playout delay (ms)"
	xy := make(plotter.XYs, len(rows))
	labels := make([]string, len(rows))
	for i, r := range rows {
		xy[i] = plotter.XY{X: 100 * r.LateLoss, Y: r.DelayMean}
		labels[i] = r.Strategy
		if r.FEC != "" && r.FEC != FECNone {
			labels[i] += " " + r.FEC
		}
	}
	sc, err := plotter.NewScatter(xy)
	if err != nil {
		return nil, fmt.Errorf("bench: plotting the trade-off: %w", err)
	}
	sc.GlyphStyle = draw.GlyphStyle{Shape: draw.CircleGlyph{}, Radius: vg.Points(2.5), Color: plotutil.Color(0)}
	p.Add(sc)
	if len(front) > 0 {
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
			p.Legend.Top = true
		}
	} else {
		lb, err := plotter.NewLabels(plotter.XYLabels{XYs: xy, Labels: labels})
		if err != nil {
			return nil, fmt.Errorf("bench: labelling the trade-off: %w", err)
		}
		for i := range lb.TextStyle {
			lb.TextStyle[i].XAlign = draw.XLeft
		}
		lb.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(2)}
		p.Add(lb)
	}
	p.X.Min, p.Y.Min = 0, 0
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
		if v := g.mos[r][c]; math.IsNaN(v) || p.Row.MOS > v {
			g.mos[r][c] = p.Row.MOS
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
