package bench

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/jitter"
)

// A cancelled run keeps what it finished: cancelled once the oracle phase
// begins, every strategy row is there and no oracle row is missing its
// strategy; cancelled mid-simulation, nothing is, and it says so.
func TestRunInterrupted(t *testing.T) {
	tests := []struct {
		name     string
		cancelAt string // the phase in which to cancel
		wantRows int    // strategy rows at least
	}{
		{name: "during the oracle", cancelAt: PhaseOracle, wantRows: 2},
		{name: "during the simulation", cancelAt: PhaseSimulating, wantRows: 0},
	}
	for _, tt := range tests {
		ctx, cancel := context.WithCancel(context.Background())
		var phases []string
		cfg := Config{Scenario: scenario(t, "wifi"), Duration: 5 * time.Minute, Seed: 1, Oracle: true, NoAudio: true,
			Strategies: []Strategy{ewma(), fixed(60 * time.Millisecond)},
			Progress: func(p Progress) {
				if len(phases) == 0 || phases[len(phases)-1] != p.Phase {
					phases = append(phases, p.Phase)
				}
				if p.Done > p.Total {
					t.Errorf("%s: progress %d of %d", tt.name, p.Done, p.Total)
				}
				if p.Phase == tt.cancelAt {
					cancel()
				}
			}}
		res, err := RunContext(ctx, cfg)
		cancel()
		if !errors.Is(err, ErrInterrupted) {
			t.Errorf("%s: error %v, want ErrInterrupted", tt.name, err)
		}
		strategies := 0
		for _, r := range res.Rows {
			if !strings.HasPrefix(r.Strategy, "oracle@") {
				strategies++
			}
		}
		if strategies != tt.wantRows || len(res.Rows) >= 2*len(cfg.Strategies) {
			t.Errorf("%s: %d rows, %d of strategies; want %d of strategies and an oracle row missing", tt.name, len(res.Rows), strategies, tt.wantRows)
		}
		if tt.cancelAt == PhaseOracle && (len(phases) != 2 || phases[0] != PhaseSimulating) {
			t.Errorf("%s: phases %v, want simulating then oracle", tt.name, phases)
		}
	}
}

func TestSweepInterrupted(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var grid []jitter.EWMAConfig
	for k := 1.0; k <= 12; k++ {
		c := jitter.DefaultEWMAConfig()
		c.K = k
		grid = append(grid, c)
	}
	base := Config{Scenario: scenario(t, "wifi"), Duration: time.Minute, Seed: 1, NoAudio: true}
	res, err := SweepContext(ctx, base, grid, func(done, total int) {
		if done == 2 {
			cancel()
		}
	})
	if !errors.Is(err, ErrInterrupted) || len(res.Points) < 2 || len(res.Points) >= len(grid) {
		t.Fatalf("error %v with %d of %d points, want the interruption and the points finished", err, len(res.Points), len(grid))
	}
	if res.Best < 0 || res.Best >= len(res.Points) || len(res.Front) == 0 {
		t.Errorf("best %d, front %v over %d points", res.Best, res.Front, len(res.Points))
	}
}
