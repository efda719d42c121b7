package impair

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// scriptedSource is a rand.Source replaying fixed values, so that a model's
// random decisions can be chosen by hand: Float64 of 0 is 0, of ^0 just
// below 1.
type scriptedSource struct {
	values []uint64
	next   int
}

func (s *scriptedSource) Uint64() uint64 {
	v := s.values[s.next%len(s.values)]
	s.next++
	return v
}

const (
	draw0 = uint64(0)  // Float64() == 0: below any probability > 0
	draw1 = ^uint64(0) // Float64() just below 1: above any probability < 1
)

func TestExponentialJitterMeanAndTail(t *testing.T) {
	const draws = 1_000_000
	ms := time.Millisecond
	for _, tc := range []struct{ base, mean time.Duration }{
		{0, 8 * ms}, {5 * ms, 8 * ms}, {25 * ms, 10 * ms}, {40 * ms, 0},
	} {
		e, err := NewExponentialJitter(tc.base, tc.mean, seeded(uint64(tc.base+tc.mean)))
		if err != nil {
			t.Fatal(err)
		}
		if want := tc.base + tc.mean; e.Mean() != want {
			t.Errorf("base %v mean %v: Mean() = %v, want %v", tc.base, tc.mean, e.Mean(), want)
		}
		var sum float64
		above := 0 // extra > mean: probability 1/e
		for range draws {
			d := e.Delay()
			if d < tc.base {
				t.Fatalf("base %v mean %v: delay %v below base", tc.base, tc.mean, d)
			}
			sum += float64(d - tc.base)
			if d-tc.base > tc.mean {
				above++
			}
		}
		mean := float64(tc.mean)
		sigmaMean := mean / math.Sqrt(draws) // an exponential's σ is its mean
		if got := sum / draws; math.Abs(got-mean) > 5*sigmaMean+1 {
			t.Errorf("base %v mean %v: measured mean extra %.0f ns, want %.0f ± %.0f", tc.base, tc.mean, got, mean, 5*sigmaMean)
		}
		if tc.mean == 0 {
			if above != 0 {
				t.Errorf("mean 0: %d draws above base", above)
			}
			continue
		}
		p := math.Exp(-1)
		sigma := math.Sqrt(draws * p * (1 - p))
		if math.Abs(float64(above)-draws*p) > 5*sigma {
			t.Errorf("base %v mean %v: %d of %d above the mean, want %.0f ± %.0f", tc.base, tc.mean, above, draws, draws*p, 5*sigma)
		}
	}
}

// The Lomax extra has survival (1 + x/scale)^−shape and, for shape > 1, mean
// scale/(shape−1). The mean is checked where its variance is finite.
func TestParetoJitterMeanAndTail(t *testing.T) {
	const draws = 1_000_000
	ms := time.Millisecond
	for _, tc := range []struct {
		base, scale time.Duration
		shape       float64
		checkMean   bool // variance finite (shape > 2)
	}{
		{0, 10 * ms, 3, true},
		{75 * ms, 2 * ms, 2.5, true},
		{20 * ms, 5 * ms, 1.5, false},
		{20 * ms, 0, 1.5, false},
	} {
		p, err := NewParetoJitter(tc.base, tc.scale, tc.shape, seeded(uint64(tc.scale)+7))
		if err != nil {
			t.Fatal(err)
		}
		wantMean := float64(tc.scale) / (tc.shape - 1)
		if got := p.Mean(); got != tc.base+time.Duration(wantMean) {
			t.Errorf("scale %v shape %v: Mean() = %v, want %v", tc.scale, tc.shape, got, tc.base+time.Duration(wantMean))
		}
		points := []float64{1, 5, 20} // in units of scale
		above := make([]int, len(points))
		var sum float64
		for range draws {
			d := p.Delay()
			if d < tc.base {
				t.Fatalf("delay %v below base %v", d, tc.base)
			}
			extra := float64(d - tc.base)
			sum += extra
			for i, x := range points {
				if extra > x*float64(tc.scale) {
					above[i]++
				}
			}
		}
		if tc.scale == 0 {
			if sum != 0 {
				t.Errorf("scale 0: extra delay drawn")
			}
			continue
		}
		for i, x := range points {
			want := math.Pow(1+x, -tc.shape)
			sigma := math.Sqrt(draws * want * (1 - want))
			if math.Abs(float64(above[i])-draws*want) > 5*sigma+1 {
				t.Errorf("scale %v shape %v: P(extra > %v·scale) = %.6f, want %.6f", tc.scale, tc.shape, x, float64(above[i])/draws, want)
			}
		}
		if tc.checkMean {
			variance := float64(tc.scale) * float64(tc.scale) * tc.shape / ((tc.shape - 1) * (tc.shape - 1) * (tc.shape - 2))
			sigmaMean := math.Sqrt(variance / draws)
			if got := sum / draws; math.Abs(got-wantMean) > 6*sigmaMean {
				t.Errorf("scale %v shape %v: measured mean extra %.0f ns, want %.0f ± %.0f", tc.scale, tc.shape, got, wantMean, 6*sigmaMean)
			}
		}
	}
}

// A jump to H then a linear drain at slope s, checked packet by packet on a
// hand-made case: H = 100 ms, s = 0.5, packets every 20 ms (one gap of
// 30 ms), a spike at t = 20 ms and another at t = 120 ms while the first
// is still draining.
func TestSpikesShape(t *testing.T) {
	ms := time.Millisecond
	steps := []struct {
		send  time.Duration
		spike bool
		want  time.Duration
	}{
		{0, false, 0},
		{20 * ms, true, 100 * ms},   // jump
		{40 * ms, false, 90 * ms},   // 100 − 0.5·20
		{60 * ms, false, 80 * ms},   // 100 − 0.5·40
		{90 * ms, false, 65 * ms},   // 100 − 0.5·70
		{110 * ms, false, 55 * ms},  // 100 − 0.5·90
		{120 * ms, true, 100 * ms},  // restarts at H, does not stack
		{140 * ms, false, 90 * ms},  // 100 − 0.5·20
		{300 * ms, false, 10 * ms},  // 100 − 0.5·180
		{320 * ms, false, 0},        // fully drained
		{340 * ms, false, 0},        // stays at baseline
		{360 * ms, true, 100 * ms},  // a new spike
		{360 * ms, false, 100 * ms}, // same send time: no drain
		{350 * ms, false, 100 * ms}, // send time going back: no drain, no rise
		{2000 * ms, false, 0},       // long gap: drained
		{2020 * ms, false, 0},
	}
	values := make([]uint64, len(steps))
	for i, s := range steps {
		values[i] = draw1
		if s.spike {
			values[i] = draw0
		}
	}
	spikes, err := NewSpikes(0.5, 100*ms, 0.5, rand.New(&scriptedSource{values: values}))
	if err != nil {
		t.Fatal(err)
	}
	for i, s := range steps {
		if got := spikes.DelayAt(s.send); got != s.want {
			t.Errorf("step %d, sent at %v: delay %v, want %v", i, s.send, got, s.want)
		}
	}
}

// With slope 1, every packet sent while a spike drains arrives at the same
// moment, the end of the stall.
func TestSpikesSlopeOneArriveTogether(t *testing.T) {
	ms := time.Millisecond
	spikes, err := NewSpikes(0.5, 250*ms, 1, rand.New(&scriptedSource{values: append([]uint64{draw0}, repeat(draw1, 14)...)}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 12 { // packets at 0..220 ms all arrive at 250 ms
		send := time.Duration(i) * 20 * ms
		if at := send + spikes.DelayAt(send); at != 250*ms {
			t.Errorf("packet sent at %v arrives at %v, want 250ms", send, at)
		}
	}
	if d := spikes.DelayAt(260 * ms); d != 0 {
		t.Errorf("after the stall: delay %v, want 0", d)
	}
}

func repeat(v uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = v
	}
	return out
}

// Delay, without a send time, repeats the previous send time: no drain.
func TestSpikesDelayWithoutTime(t *testing.T) {
	ms := time.Millisecond
	spikes, err := NewSpikes(0.5, 80*ms, 0.5, rand.New(&scriptedSource{values: []uint64{draw0, draw1, draw1, draw1}}))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{80 * ms, 80 * ms, 70 * ms, 70 * ms}
	got := []time.Duration{spikes.DelayAt(0), spikes.Delay(), spikes.DelayAt(20 * ms), spikes.Delay()}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("call %d: %v, want %v", i, got[i], want[i])
		}
	}
}

// Over a long run the share of packets starting a spike is the probability.
func TestSpikesRate(t *testing.T) {
	const packets, p = 500_000, 0.002
	spikes, err := NewSpikes(p, 100*time.Millisecond, 1, seeded(3))
	if err != nil {
		t.Fatal(err)
	}
	starts := 0
	for i := range packets {
		// With slope 1 and 20 ms gaps, a delay of exactly H means a new spike.
		if spikes.DelayAt(time.Duration(i)*20*time.Millisecond) == 100*time.Millisecond {
			starts++
		}
	}
	sigma := math.Sqrt(packets * p * (1 - p))
	if math.Abs(float64(starts)-packets*p) > 5*sigma {
		t.Errorf("%d spikes in %d packets, want %.0f ± %.0f", starts, packets, packets*p, 5*sigma)
	}
}

// timedStub implements both Delay and DelayAt with distinct results, to see
// which one a caller uses.
type timedStub struct{ delayCalls, delayAtCalls int }

func (s *timedStub) Delay() time.Duration { s.delayCalls++; return time.Second }
func (s *timedStub) DelayAt(send time.Duration) time.Duration {
	s.delayAtCalls++
	return send / 2
}

func TestSum(t *testing.T) {
	ms := time.Millisecond
	stub := &timedStub{}
	plain := &scriptedDelay{delays: []time.Duration{3 * ms, -5 * ms}}
	sum := Sum(Constant(10*ms), nil, plain, stub)
	if got, want := sum.DelayAt(40*ms), 10*ms+3*ms+20*ms; got != want {
		t.Errorf("DelayAt(40ms) = %v, want %v", got, want)
	}
	if got, want := sum.DelayAt(100*ms), 10*ms+0+50*ms; got != want { // negative part counts as 0
		t.Errorf("DelayAt(100ms) = %v, want %v", got, want)
	}
	if got, want := sum.Delay(), 10*ms+3*ms+time.Second; got != want {
		t.Errorf("Delay() = %v, want %v", got, want)
	}
	if stub.delayAtCalls != 2 || stub.delayCalls != 1 || plain.calls != 3 {
		t.Errorf("calls: DelayAt %d, Delay %d, plain %d; want 2, 1, 3", stub.delayAtCalls, stub.delayCalls, plain.calls)
	}
	if got := Sum().DelayAt(time.Second); got != 0 {
		t.Errorf("empty Sum: %v, want 0", got)
	}
	if got := Sum(Constant(math.MaxInt64), Constant(time.Second)).Delay(); got != math.MaxInt64 {
		t.Errorf("overflowing Sum: %v, want saturation at MaxInt64", got)
	}
	if got := Constant(-time.Second).Delay(); got != 0 {
		t.Errorf("negative Constant: %v, want 0", got)
	}
}

func TestDelayConstructorsReject(t *testing.T) {
	rng := seeded(1)
	ms := time.Millisecond
	tests := []struct {
		name string
		err  func() error
	}{
		{"exponential negative base", func() error { _, err := NewExponentialJitter(-ms, ms, rng); return err }},
		{"exponential huge base", func() error { _, err := NewExponentialJitter(math.MaxInt64-ms, ms, rng); return err }},
		{"exponential negative mean", func() error { _, err := NewExponentialJitter(0, -ms, rng); return err }},
		{"exponential mean above a minute", func() error { _, err := NewExponentialJitter(0, 2*time.Minute, rng); return err }},
		{"exponential nil rng", func() error { _, err := NewExponentialJitter(0, ms, nil); return err }},
		{"pareto shape 1", func() error { _, err := NewParetoJitter(0, ms, 1, rng); return err }},
		{"pareto shape NaN", func() error { _, err := NewParetoJitter(0, ms, math.NaN(), rng); return err }},
		{"pareto shape Inf", func() error { _, err := NewParetoJitter(0, ms, math.Inf(1), rng); return err }},
		{"pareto negative scale", func() error { _, err := NewParetoJitter(0, -ms, 2, rng); return err }},
		{"pareto negative base", func() error { _, err := NewParetoJitter(-ms, ms, 2, rng); return err }},
		{"pareto nil rng", func() error { _, err := NewParetoJitter(0, ms, 2, nil); return err }},
		{"spikes probability above 1", func() error { _, err := NewSpikes(1.1, ms, 1, rng); return err }},
		{"spikes probability NaN", func() error { _, err := NewSpikes(math.NaN(), ms, 1, rng); return err }},
		{"spikes negative height", func() error { _, err := NewSpikes(0.1, -ms, 1, rng); return err }},
		{"spikes height above an hour", func() error { _, err := NewSpikes(0.1, 2*time.Hour, 1, rng); return err }},
		{"spikes slope 0", func() error { _, err := NewSpikes(0.1, ms, 0, rng); return err }},
		{"spikes slope above 1", func() error { _, err := NewSpikes(0.1, ms, 1.5, rng); return err }},
		{"spikes slope NaN", func() error { _, err := NewSpikes(0.1, ms, math.NaN(), rng); return err }},
		{"spikes nil rng", func() error { _, err := NewSpikes(0.1, ms, 1, nil); return err }},
		{"duplicator probability NaN", func() error { _, err := NewDuplicator(math.NaN(), 0, rng); return err }},
		{"duplicator negative lag", func() error { _, err := NewDuplicator(0.1, -ms, rng); return err }},
		{"duplicator nil rng", func() error { _, err := NewDuplicator(0.1, 0, nil); return err }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil {
				t.Fatal("got nil error")
			}
			t.Log(err)
		})
	}
}

// A draw that would overflow is capped; NaN and negatives become zero.
func TestDrawnClamps(t *testing.T) {
	tests := []struct {
		in   float64
		want time.Duration
	}{
		{math.NaN(), 0}, {-5, 0}, {0, 0}, {1.4, 1}, {1.5, 2},
		{float64(maxDraw) - 1, maxDraw - 1}, {math.Inf(1), maxDraw}, {1e300, maxDraw},
	}
	for _, tc := range tests {
		if got := drawn(tc.in); got != tc.want {
			t.Errorf("drawn(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
