package bench

import (
	"slices"
	"testing"
)

func TestParetoFrontAndKnee(t *testing.T) {
	type pt struct{ late, delay float64 }
	tests := []struct {
		name  string
		pts   []pt
		front []int
		knee  int
	}{
		{name: "strictly dominated points are off",
			pts:   []pt{{0.10, 20}, {0.12, 25}, {0.05, 30}, {0.06, 31}, {0.01, 60}},
			front: []int{4, 2, 0}, knee: 2},
		{name: "equal late loss, more delay: not beaten on both, so on",
			pts:   []pt{{0.05, 30}, {0.05, 35}, {0.01, 60}},
			front: []int{2, 0, 1}, knee: -1},
		{name: "equal delay, more late loss: on",
			pts:   []pt{{0.05, 30}, {0.08, 30}, {0.01, 60}},
			front: []int{2, 0, 1}, knee: 0},
		{name: "one point", pts: []pt{{0.1, 20}}, front: []int{0}, knee: -1},
		{name: "a straight line has no knee",
			pts:   []pt{{0.3, 10}, {0.2, 20}, {0.1, 30}},
			front: []int{2, 1, 0}, knee: -1},
		{name: "the knee is where the curve turns",
			pts:   []pt{{0.40, 10}, {0.10, 14}, {0.05, 30}, {0.02, 60}, {0.01, 100}},
			front: []int{4, 3, 2, 1, 0}, knee: 1},
		{name: "unknown delay is on no curve",
			pts:   []pt{{0.1, -1}, {0.2, 10}},
			front: []int{1}, knee: -1},
	}
	for _, tt := range tests {
		points := make([]SweepPoint, len(tt.pts))
		for i, p := range tt.pts {
			points[i].Row.LateLoss = p.late
			if p.delay >= 0 {
				points[i].Row.DelayMean = ptr(p.delay)
			}
		}
		front := paretoFront(points)
		if !slices.Equal(front, tt.front) {
			t.Errorf("%s: front %v, want %v", tt.name, front, tt.front)
		}
		if k := knee(points, front); k != tt.knee {
			t.Errorf("%s: knee %d, want %d", tt.name, k, tt.knee)
		}
	}
}
