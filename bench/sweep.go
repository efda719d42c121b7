package bench

import (
	"errors"
	"fmt"
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
}

// SweepResult is a grid of EWMA settings run on the same call.
type SweepResult struct {
	Network string       `json:"network"`
	Seed    uint64       `json:"seed"`
	Points  []SweepPoint `json:"points"`
	// Best is the index of the point with the highest MOS (the first such).
	Best int `json:"best"`
	// Front lists the points on the late-loss/delay trade-off curve: those
	// no other point beats on both late loss and mean delay, by late loss.
	Front []int `json:"front"`
}

// Sweep runs base once per EWMA setting in grid, with that strategy alone
// (base.Strategies and base.Oracle are ignored) and the first FEC scheme of
// base.FEC, on as many goroutines as
// there are processors. Every point uses base's seed, so all see the same
// packets, and the result does not depend on scheduling. progress, if not
// nil, is called (from one goroutine at a time) after each point.
func Sweep(base Config, grid []jitter.EWMAConfig, progress func(done, total int)) (SweepResult, error) {
	if len(grid) == 0 {
		return SweepResult{}, errors.New("bench: empty sweep grid")
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
	res := SweepResult{Network: base.networkName(), Seed: base.Seed, Points: points}
	for i, p := range points {
		if p.Row.MOS > points[res.Best].Row.MOS {
			res.Best = i
		}
	}
	res.Front = paretoFront(points)
	return res, nil
}

func sweepPoint(base Config, cfg jitter.EWMAConfig) (SweepPoint, error) {
	if _, err := jitter.NewEWMA(cfg); err != nil {
		return SweepPoint{}, fmt.Errorf("bench: sweep point K=%v alpha=%v beta=%v: %w", cfg.K, cfg.Alpha, cfg.Beta, err)
	}
	base.Strategies = []Strategy{{Name: "ewma", New: func() (jitter.Strategy, error) { return jitter.NewEWMA(cfg) }}}
	base.Oracle, base.Timeline = false, false
	base.FEC = base.FEC[:min(1, len(base.FEC))]
	res, err := Run(base)
	if err != nil {
		return SweepPoint{}, err
	}
	return SweepPoint{K: cfg.K, Alpha: cfg.Alpha, Beta: cfg.Beta, Row: res.Rows[0]}, nil
}

// paretoFront returns the indices of the points not dominated in (late loss,
// mean delay), ordered by late loss.
func paretoFront(points []SweepPoint) []int {
	order := make([]int, len(points))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		pa, pb := points[a].Row, points[b].Row
		switch {
		case pa.LateLoss != pb.LateLoss:
			return cmpFloat(pa.LateLoss, pb.LateLoss)
		default:
			return cmpFloat(pa.DelayMean, pb.DelayMean)
		}
	})
	var front []int
	for _, i := range order {
		if len(front) == 0 || points[i].Row.DelayMean < points[front[len(front)-1]].Row.DelayMean {
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
