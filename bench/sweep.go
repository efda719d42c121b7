package bench

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/spurtvoip/spurt/jitter"
)

// SweepPoint is one setting of the adaptive (EWMA) strategy and its figures.
type SweepPoint struct {
	K     float64 `json:"k"`
	Alpha float64 `json:"alpha"`
	Beta  float64 `json:"beta"`
	Row   Row     `json:"result"`

	codec       string
	tracePasses float64
}

// SweepResult is a grid of EWMA settings run on the same call.
type SweepResult struct {
	Network   string  `json:"network"`
	Source    string  `json:"source"`
	Codec     string  `json:"codec"`
	FEC       string  `json:"fec"`
	DurationS float64 `json:"duration_s"`
	Seed      uint64  `json:"seed"`
	TwoWay    bool    `json:"two_way"`
	PLC       bool    `json:"plc"`
	Audio     bool    `json:"audio"`
	// TracePasses: see Result.
	TracePasses float64      `json:"trace_passes,omitempty"`
	Points      []SweepPoint `json:"points"`
	// Best is the index of the point with the highest MOS (the first such):
	// the E-model's rating of residual loss and mouth-to-ear delay together,
	// which is all "best" optimises.
	Best int `json:"best"`
	// BestAtEdge names the swept parameters ("k", "alpha", "beta") whose
	// best value is the smallest or the largest of the grid's: the best
	// setting may lie outside the grid.
	BestAtEdge []string `json:"best_at_edge"`
	// Front lists the points on the late-loss/delay trade-off curve: those
	// no other point beats on both late loss and mean delay, by late loss.
	Front []int `json:"front"`
	// Knee is the point of the front where the trade-off turns (see knee),
	// -1 if the front has fewer than three points or no turn.
	Knee int `json:"knee"`
}

// Sweep runs base once per EWMA setting in grid, with that strategy alone
// and one FEC scheme, on as many goroutines as there are processors.
// base.Strategies and base.Oracle must be empty and base.FEC must name at
// most one scheme: a sweep tunes the EWMA strategy alone. Every point uses base's seed, so all see the same
// packets, and the result does not depend on scheduling. progress, if not
// nil, is called (from one goroutine at a time) after each point.
func Sweep(base Config, grid []jitter.EWMAConfig, progress func(done, total int)) (SweepResult, error) {
	return SweepContext(context.Background(), base, grid, progress)
}

// SweepContext is Sweep, cancelled with ctx. A cancelled sweep returns, with
// an error wrapping ErrInterrupted, the points already finished (in grid
// order), its best, curve and knee taken over those alone.
func SweepContext(ctx context.Context, base Config, grid []jitter.EWMAConfig, progress func(done, total int)) (SweepResult, error) {
	switch {
	case len(grid) == 0:
		return SweepResult{}, errors.New("bench: empty sweep grid")
	case len(base.Strategies) > 0 || base.Oracle:
		return SweepResult{}, errors.New("bench: a sweep runs the EWMA strategy alone; it takes no other strategies or oracle")
	case len(base.FEC) > 1:
		return SweepResult{}, fmt.Errorf("bench: a sweep runs one FEC scheme, not %d", len(base.FEC))
	}
	points := make([]SweepPoint, len(grid))
	errs := make([]error, len(grid))
	next := make(chan int)
	var mu sync.Mutex
	done := 0
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), len(grid)) {
		wg.Go(func() {
			for i := range next {
				if errs[i] = ctx.Err(); errs[i] != nil {
					continue
				}
				points[i], errs[i] = sweepPoint(ctx, base, grid[i])
				if errs[i] != nil {
					continue // failed or cancelled: not done
				}
				mu.Lock()
				done++
				if progress != nil {
					progress(done, len(grid))
				}
				mu.Unlock()
			}
		})
	}
	for i := range grid {
		next <- i
	}
	close(next)
	wg.Wait()
	var failed []error
	finished := points[:0:0]
	for i, err := range errs {
		switch {
		case err == nil:
			finished = append(finished, points[i])
		case ctx.Err() == nil || !errors.Is(err, ctx.Err()):
			failed = append(failed, err)
		}
	}
	if err := errors.Join(failed...); err != nil {
		return SweepResult{}, err
	}
	var interrupted error
	if len(finished) < len(points) {
		interrupted = fmt.Errorf("%w: %d of %d settings finished: %w", ErrInterrupted, len(finished), len(points), context.Cause(ctx))
		if len(finished) == 0 {
			return SweepResult{}, interrupted
		}
		points = finished
	}
	res := SweepResult{
		Network: base.networkName(), Source: base.sourceName(), Codec: points[0].codec, FEC: points[0].Row.FEC,
		DurationS: base.Duration.Seconds(), Seed: base.Seed, TwoWay: !base.OneWay, PLC: !base.DisablePLC,
		Audio: !base.NoAudio, Points: points, TracePasses: points[0].tracePasses,
	}
	res.Best = -1
	for i, p := range points {
		if p.Row.MOS != nil && (res.Best < 0 || *p.Row.MOS > *points[res.Best].Row.MOS) {
			res.Best = i
		}
	}
	if res.Best < 0 {
		return SweepResult{}, errors.New("bench: no sweep point could be rated: nothing was sent")
	}
	res.BestAtEdge = atEdge(points, res.Best)
	res.Front = paretoFront(points)
	res.Knee = knee(points, res.Front)
	return res, interrupted
}

// atEdge names the parameters that take several values in the grid and
// whose value at point best is the smallest or the largest of them.
func atEdge(points []SweepPoint, best int) []string {
	edges := []string{}
	for _, param := range []struct {
		name  string
		value func(SweepPoint) float64
	}{
		{"k", func(p SweepPoint) float64 { return p.K }},
		{"alpha", func(p SweepPoint) float64 { return p.Alpha }},
		{"beta", func(p SweepPoint) float64 { return p.Beta }},
	} {
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, p := range points {
			lo, hi = min(lo, param.value(p)), max(hi, param.value(p))
		}
		if v := param.value(points[best]); lo < hi && (v == lo || v == hi) {
			edges = append(edges, param.name)
		}
	}
	return edges
}

func sweepPoint(ctx context.Context, base Config, cfg jitter.EWMAConfig) (SweepPoint, error) {
	if _, err := jitter.NewEWMA(cfg); err != nil {
		return SweepPoint{}, fmt.Errorf("bench: sweep point K=%v alpha=%v beta=%v: %w", cfg.K, cfg.Alpha, cfg.Beta, err)
	}
	base.Strategies = []Strategy{{Name: "ewma", New: func() (jitter.Strategy, error) { return jitter.NewEWMA(cfg) }}}
	base.Timeline, base.Progress = false, nil
	res, err := RunContext(ctx, base)
	if err != nil {
		return SweepPoint{}, err
	}
	return SweepPoint{K: cfg.K, Alpha: cfg.Alpha, Beta: cfg.Beta, Row: res.Rows[0], codec: res.Codec, tracePasses: res.TracePasses}, nil
}

// paretoFront returns the indices of the points on the late-loss/delay
// trade-off curve, ordered by late loss: those no other point beats on both,
// with strictly less late loss and a strictly shorter mean delay. Points of
// unknown delay (nothing played) are on no curve.
func paretoFront(points []SweepPoint) []int {
	var order []int
	for i, p := range points {
		if p.Row.DelayMean != nil {
			order = append(order, i)
		}
	}
	late := func(i int) float64 { return points[i].Row.LateLoss }
	delay := func(i int) float64 { return *points[i].Row.DelayMean }
	slices.SortStableFunc(order, func(a, b int) int {
		if c := cmpFloat(late(a), late(b)); c != 0 {
			return c
		}
		return cmpFloat(delay(a), delay(b))
	})
	var front []int
	best := math.Inf(1) // the least delay among points of strictly less late loss
	for g := 0; g < len(order); {
		end := g // the group of equal late loss
		for end < len(order) && late(order[end]) == late(order[g]) {
			end++
		}
		for _, i := range order[g:end] {
			if delay(i) <= best {
				front = append(front, i)
			}
		}
		best = min(best, delay(order[g]))
		g = end
	}
	return front
}

// knee returns the point of the front where the trade-off turns: with late
// loss and delay each scaled to the front's range, the point farthest below
// the straight line from least late loss to least delay. Before it, a little
// more delay buys much less late loss; past it, little. -1 for a front of
// under three points, or one with no point below that line.
func knee(points []SweepPoint, front []int) int {
	if len(front) < 3 {
		return -1
	}
	x := func(i int) float64 { return points[i].Row.LateLoss }
	y := func(i int) float64 { return *points[i].Row.DelayMean }
	loX, hiX, loY, hiY := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, i := range front {
		loX, hiX, loY, hiY = min(loX, x(i)), max(hiX, x(i)), min(loY, y(i)), max(hiY, y(i))
	}
	if hiX <= loX || hiY <= loY {
		return -1
	}
	bestI, bestD := -1, 1e-9
	for _, i := range front {
		// Scaled to [0, 1] both ways, the line runs from (0, 1) to (1, 0):
		// the distance below it is (1 - u - v)/√2, so 1 - u - v ranks.
		u, v := (x(i)-loX)/(hiX-loX), (y(i)-loY)/(hiY-loY)
		if d := 1 - u - v; d > bestD {
			bestI, bestD = i, d
		}
	}
	return bestI
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
