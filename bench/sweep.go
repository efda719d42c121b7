package bench

import (
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
	// Best is the index of the point with the highest MOS (the first such).
	Best int `json:"best"`
	// BestAtEdge names the swept parameters ("k", "alpha", "beta") whose
	// best value is the smallest or the largest of the grid's: the best
	// setting may lie outside the grid.
	BestAtEdge []string `json:"best_at_edge"`
	// Front lists the points on the late-loss/delay trade-off curve: those
	// no other point beats on both late loss and mean delay, by late loss.
	Front []int `json:"front"`
}

// Sweep runs base once per EWMA setting in grid, with that strategy alone
// and one FEC scheme, on as many goroutines as there are processors.
// base.Strategies and base.Oracle must be empty and base.FEC must name at
// most one scheme: a sweep tunes the EWMA strategy alone. Every point uses base's seed, so all see the same
// packets, and the result does not depend on scheduling. progress, if not
// nil, is called (from one goroutine at a time) after each point.
func Sweep(base Config, grid []jitter.EWMAConfig, progress func(done, total int)) (SweepResult, error) {
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
				points[i], errs[i] = sweepPoint(base, grid[i])
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
	if err := errors.Join(errs...); err != nil {
		return SweepResult{}, err
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
	return res, nil
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

func sweepPoint(base Config, cfg jitter.EWMAConfig) (SweepPoint, error) {
	if _, err := jitter.NewEWMA(cfg); err != nil {
		return SweepPoint{}, fmt.Errorf("bench: sweep point K=%v alpha=%v beta=%v: %w", cfg.K, cfg.Alpha, cfg.Beta, err)
	}
	base.Strategies = []Strategy{{Name: "ewma", New: func() (jitter.Strategy, error) { return jitter.NewEWMA(cfg) }}}
	base.Timeline, base.Progress = false, nil
	res, err := Run(base)
	if err != nil {
		return SweepPoint{}, err
	}
	return SweepPoint{K: cfg.K, Alpha: cfg.Alpha, Beta: cfg.Beta, Row: res.Rows[0], codec: res.Codec, tracePasses: res.TracePasses}, nil
}

// paretoFront returns the indices of the points not dominated in (late loss,
// mean delay), ordered by late loss.
func paretoFront(points []SweepPoint) []int {
	var order []int
	for i, p := range points {
		if p.Row.DelayMean != nil {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(a, b int) int {
		pa, pb := points[a].Row, points[b].Row
		switch {
		case pa.LateLoss != pb.LateLoss:
			return cmpFloat(pa.LateLoss, pb.LateLoss)
		default:
			return cmpFloat(*pa.DelayMean, *pb.DelayMean)
		}
	})
	var front []int
	for _, i := range order {
		if len(front) == 0 || *points[i].Row.DelayMean < *points[front[len(front)-1]].Row.DelayMean {
			front = append(front, i)
		}
	}
	return front
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
