package bench

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/impair"
)

// constTalker talks (loud) or stays silent for the whole call.
type constTalker struct{ frame []int16 }

func newConstTalker(loud bool) func(uint64) source {
	return func(uint64) source {
		f := make([]int16, frameSamples)
		if loud {
			for k := range f {
				f[k] = loudAmplitude
				if k%2 == 1 {
					f[k] = -loudAmplitude
				}
			}
		}
		return &constTalker{frame: f}
	}
}

func (c *constTalker) next() []int16 { return c.frame }

// rampTrace delays packet i by i*step over base: each packet arrives later
// than the one before by more than its spacing, so a buffer that starts a
// spurt on its first packet finds every later one late.
func rampTrace(n int, step time.Duration) *impair.Trace {
	var tr impair.Trace
	for i := range n {
		send := time.Duration(i) * frameDuration
		tr.Rows = append(tr.Rows, impair.TraceRow{Seq: uint64(i), Send: send, Recv: send + 30*time.Millisecond + time.Duration(i)*step})
	}
	return &tr
}

func lostTrace(n int) *impair.Trace {
	var tr impair.Trace
	for i := range n {
		send := time.Duration(i) * frameDuration
		tr.Rows = append(tr.Rows, impair.TraceRow{Seq: uint64(i), Send: send, Recv: send, Lost: true})
	}
	return &tr
}

// Whatever was not received counts as lost, to the last packet, and a call
// in which nothing was heard never rates well. Each case runs every FEC
// scheme and the oracle, whose rows must agree on what was sent.
func TestExtremeCalls(t *testing.T) {
	loud, silent := newConstTalker(true), newConstTalker(false)
	tests := []struct {
		name    string
		cfg     Config
		sent    uint64 // 0: whatever the talker sent, but more than none
		netLoss [2]float64
		late    bool    // most packets are late
		played  bool    // some chunk played: the delays are known
		maxMOS  float64 // 0: no rating (nothing sent)
	}{
		{name: "all lost", cfg: Config{Scenario: randomLoss(1), Duration: time.Minute},
			netLoss: [2]float64{1, 1}, maxMOS: 1.5},
		{name: "all but one in a thousand lost", cfg: Config{Scenario: randomLoss(0.999), Duration: time.Minute},
			netLoss: [2]float64{0.99, 1}, maxMOS: 1.5},
		{name: "trace with every packet lost", cfg: Config{Trace: lostTrace(475), Duration: time.Minute},
			netLoss: [2]float64{1, 1}, maxMOS: 1.5},
		{name: "nearly all late", cfg: Config{Trace: rampTrace(3000, 25*time.Millisecond), Duration: time.Minute, newTalker: loud},
			netLoss: [2]float64{0, 0}, late: true, played: true, maxMOS: 1.5},
		{name: "one packet, lost", cfg: Config{Scenario: randomLoss(1), Duration: frameDuration, newTalker: loud, OneWay: true},
			sent: 1, netLoss: [2]float64{1, 1}, maxMOS: 1.5},
		// A lone packet never passes the source's probation (RFC 3550 A.1):
		// nothing plays, and what was not heard counts as lost.
		{name: "one packet, never confirmed", cfg: Config{Scenario: randomLoss(0), Duration: frameDuration, newTalker: loud, OneWay: true},
			sent: 1, netLoss: [2]float64{1, 1}, maxMOS: 1.5},
		{name: "two packets, heard", cfg: Config{Scenario: randomLoss(0), Duration: 2 * frameDuration, newTalker: loud, OneWay: true},
			sent: 2, netLoss: [2]float64{0, 0}, played: true, maxMOS: 5},
		{name: "nothing said", cfg: Config{Scenario: randomLoss(0), Duration: time.Minute, newTalker: silent}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			cfg.Seed, cfg.Oracle = 1, true
			cfg.Strategies = []Strategy{ewma(), fixed(0)}
			cfg.FEC = []string{"none", "red", "xor:4", "interleave:4"}
			res := run(t, cfg)
			for _, r := range res.Rows {
				what := r.Strategy + " " + r.FEC
				if tt.sent > 0 && tt.sent < 4 && strings.HasPrefix(r.FEC, "interleave") {
					continue // a group of four never filled: nothing sent
				}
				if tt.maxMOS == 0 {
					if r.Sent != 0 || r.Expected != 0 || r.MOS != nil || r.R != nil || r.DelayMean != nil {
						t.Errorf("%s: nothing sent, yet sent %d, expected %d, MOS %s, delay %s", what, r.Sent, r.Expected, optF(r.MOS, 2), optF(r.DelayMean, 1))
					}
					continue
				}
				if r.Sent == 0 || (tt.sent != 0 && r.Sent != tt.sent) || r.Expected != r.Sent {
					t.Errorf("%s: sent %d (want %d), expected %d: want every packet sent expected", what, r.Sent, tt.sent, r.Expected)
				}
				if r.NetworkLoss < tt.netLoss[0] || r.NetworkLoss > tt.netLoss[1] {
					t.Errorf("%s: network loss %.4f, want %v", what, r.NetworkLoss, tt.netLoss)
				}
				if r.NetworkLost+r.Late < r.Expected-r.Played-min(r.Expected-r.Played, derefU(r.FECRecovered)) {
					t.Errorf("%s: %d expected, %d played, yet only %d lost and %d late", what, r.Expected, r.Played, r.NetworkLost, r.Late)
				}
				if tt.late && strings.HasPrefix(r.Strategy, "fixed") && r.FEC == "none" && r.LateLoss < 0.5 {
					t.Errorf("%s: late loss %.3f, want most packets late", what, r.LateLoss)
				}
				if (r.DelayMean != nil) != (r.Played > 0) || (tt.played && r.FEC == "none" && r.DelayMean == nil) {
					t.Errorf("%s: %d chunks played, mean delay %s: want a delay exactly when something played", what, r.Played, optF(r.DelayMean, 1))
				}
				if r.MOS == nil || *r.MOS > tt.maxMOS || math.IsNaN(*r.MOS) {
					t.Errorf("%s: MOS %s with %.2f %% residual loss, want at most %.2f", what, optF(r.MOS, 3), 100*r.ResidualLoss, tt.maxMOS)
				}
			}
		})
	}
}

func derefU(p *uint64) uint64 {
	if p == nil {
		return 0
	}
	return *p
}

func TestEmptyTraceRefused(t *testing.T) {
	_, err := Run(Config{Trace: &impair.Trace{}, Duration: time.Second, Strategies: []Strategy{ewma()}})
	if err == nil || !strings.Contains(err.Error(), "no packets") {
		t.Fatalf("an empty trace gave %v, want an error saying it holds no packets", err)
	}
}

// A run that heard nothing still plots what happened to its packets, and
// has no trade-off to draw.
func TestPlotsOfACallThatHeardNothing(t *testing.T) {
	res := run(t, Config{Scenario: randomLoss(1), Duration: 20 * time.Second, Seed: 1, Oracle: true, Timeline: true,
		Strategies: []Strategy{ewma()}})
	files, err := res.WritePlots(t.TempDir(), 10*time.Second)
	if err != nil || len(files) != 1 || !strings.HasSuffix(files[0], PlotDelays) {
		t.Fatalf("wrote %q: %v; want the delay plot alone", files, err)
	}
	p, _, err := delayPlot(res.Timeline, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if m := hasAll(legendOf(p), "lost in the network"); m != nil {
		t.Errorf("legend %q lacks the losses", legendOf(p))
	}
}
