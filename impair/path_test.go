package impair

import (
	"maps"
	"math"
	"slices"
	"strings"
	"testing"
	"time"
)

// scriptedDuplicate replays fixed duplication decisions and counts calls.
type scriptedDuplicate struct {
	lags  []time.Duration // negative: not duplicated
	calls int
}

func (s *scriptedDuplicate) Duplicate() (time.Duration, bool) {
	lag := s.lags[s.calls%len(s.lags)]
	s.calls++
	return lag, lag >= 0
}

func TestPathSendAll(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		loss  []bool
		lags  []time.Duration // per packet; negative: no duplicate
		clock Clock
		want  [][]time.Duration // deliveries of packets sent at 0, 20, 40, 60 ms (delay 5 ms)
	}{
		{"no duplicates", []bool{false}, []time.Duration{-1}, Clock{},
			[][]time.Duration{{5 * ms}, {25 * ms}, {45 * ms}, {65 * ms}}},
		{"duplicate with lag", []bool{false}, []time.Duration{-1, 3 * ms}, Clock{},
			[][]time.Duration{{5 * ms}, {25 * ms, 28 * ms}, {45 * ms}, {65 * ms, 68 * ms}}},
		// A lost packet is not duplicated, but the model is still consulted:
		// packet 1's duplicate decision is used up by the lost packet.
		{"lost packets stay lost", []bool{false, true}, []time.Duration{0, 0, -1, -1}, Clock{},
			[][]time.Duration{{5 * ms, 5 * ms}, nil, {45 * ms}, nil}},
		{"receiver clock", []bool{false}, []time.Duration{-1, 10 * ms}, Clock{Offset: time.Second},
			[][]time.Duration{{time.Second + 5*ms}, {time.Second + 25*ms, time.Second + 35*ms}, {time.Second + 45*ms}, {time.Second + 65*ms, time.Second + 75*ms}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dup := &scriptedDuplicate{lags: tc.lags}
			delay := &scriptedDelay{delays: []time.Duration{5 * ms}}
			p := Path{Loss: &scriptedLoss{lost: tc.loss}, Delay: delay, Duplicate: dup, Clock: tc.clock}
			for i, want := range tc.want {
				var got []time.Duration
				p.SendAll(time.Duration(i)*20*ms, func(at time.Duration) { got = append(got, at) })
				if len(got) != len(want) {
					t.Errorf("packet %d: delivered at %v, want %v", i, got, want)
					continue
				}
				for j := range want {
					if got[j] != want[j] {
						t.Errorf("packet %d: delivered at %v, want %v", i, got, want)
						break
					}
				}
			}
			if dup.calls != len(tc.want) || delay.calls != len(tc.want) {
				t.Errorf("duplicate model called %d times, delay model %d; want %d each", dup.calls, delay.calls, len(tc.want))
			}
		})
	}
}

func TestPathSendAllNilCallbackAdvancesModels(t *testing.T) {
	loss := &scriptedLoss{lost: []bool{false}}
	delay := &scriptedDelay{delays: []time.Duration{time.Millisecond}}
	dup := &scriptedDuplicate{lags: []time.Duration{0}}
	p := Path{Loss: loss, Delay: delay, Duplicate: dup}
	p.SendAll(0, nil)
	if loss.calls != 1 || delay.calls != 1 || dup.calls != 1 {
		t.Errorf("calls: loss %d, delay %d, duplicate %d; want 1 each", loss.calls, delay.calls, dup.calls)
	}
}

// Send reports one copy and leaves the duplicate model alone.
func TestPathSendIgnoresDuplicate(t *testing.T) {
	dup := &scriptedDuplicate{lags: []time.Duration{0}}
	p := Path{Duplicate: dup}
	if at, ok := p.Send(time.Second); !ok || at != time.Second {
		t.Errorf("Send = %v, %v; want 1s, true", at, ok)
	}
	if dup.calls != 0 {
		t.Errorf("Send consulted the duplicate model %d times", dup.calls)
	}
}

func TestPathPrefersDelayAt(t *testing.T) {
	stub := &timedStub{}
	p := Path{Delay: stub}
	at, ok := p.Send(40 * time.Millisecond)
	if !ok || at != 60*time.Millisecond {
		t.Errorf("Send(40ms) = %v, %v; want 60ms (DelayAt(40ms) = 20ms), true", at, ok)
	}
	if stub.delayAtCalls != 1 || stub.delayCalls != 0 {
		t.Errorf("DelayAt called %d times, Delay %d; want 1, 0", stub.delayAtCalls, stub.delayCalls)
	}
}

func TestPathSaturates(t *testing.T) {
	p := Path{Delay: Constant(time.Hour)}
	if at, ok := p.Send(math.MaxInt64 - time.Second); !ok || at != math.MaxInt64 {
		t.Errorf("Send near the end of time = %v, %v; want MaxInt64, true", at, ok)
	}
}

func TestClockReceiver(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name  string
		clock Clock
		t     time.Duration
		want  time.Duration
	}{
		{"zero clock", Clock{}, 1234 * ms, 1234 * ms},
		{"offset", Clock{Offset: -300 * ms}, time.Second, 700 * ms},
		{"100 ppm fast over 10 s", Clock{SkewPPM: 100}, 10 * time.Second, 10*time.Second + ms},
		{"50 ppm slow over 1 h", Clock{SkewPPM: -50}, time.Hour, time.Hour - 180*ms},
		{"offset and skew", Clock{Offset: 2 * time.Second, SkewPPM: 20}, 100 * time.Second, 102*time.Second + 2*ms},
		{"skew before zero", Clock{SkewPPM: 10}, -time.Second, -time.Second - 10*time.Microsecond},
		{"rounds to the nanosecond", Clock{SkewPPM: 1}, 1500, 1500},         // 0.0015 ns
		{"rounds half away from zero", Clock{SkewPPM: 1}, 500_000, 500_001}, // 0.5 ns
		{"NaN skew counts as zero", Clock{SkewPPM: math.NaN()}, time.Second, time.Second},
		{"saturates high", Clock{Offset: time.Hour, SkewPPM: 1000}, math.MaxInt64 - time.Minute, math.MaxInt64},
		{"saturates low", Clock{Offset: -time.Hour, SkewPPM: 1000}, math.MinInt64 + time.Minute, math.MinInt64},
		{"infinite skew saturates", Clock{SkewPPM: math.Inf(1)}, time.Second, math.MaxInt64},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.clock.Receiver(tc.t); got != tc.want {
				t.Errorf("Receiver(%v) = %v, want %v", tc.t, got, tc.want)
			}
		})
	}
}

// steadyPaths returns, for zero-allocation checks and benchmarks, a path for
// each built-in scenario and one replaying a trace.
func steadyPaths(tb testing.TB) map[string]*Path {
	tb.Helper()
	paths := map[string]*Path{}
	for _, name := range ScenarioNames() {
		s, err := ScenarioByName(name)
		if err != nil {
			tb.Fatal(err)
		}
		p, err := s.Build(1)
		if err != nil {
			tb.Fatal(err)
		}
		paths[name] = p
	}
	trace, err := ParseTrace(strings.NewReader("seq,send_ms,recv_ms\n1,0,30\n2,20,\n3,40,95.5\n"))
	if err != nil {
		tb.Fatal(err)
	}
	replay, err := NewTraceReplay(trace, true)
	if err != nil {
		tb.Fatal(err)
	}
	paths["trace"] = &Path{Loss: replay, Delay: replay}
	ge, err := NewGilbertElliott(0.01, 0.3, 0.001, 0.8, seeded(2))
	if err != nil {
		tb.Fatal(err)
	}
	pareto, err := NewParetoJitter(10*time.Millisecond, time.Millisecond, 1.5, seeded(3))
	if err != nil {
		tb.Fatal(err)
	}
	paths["elliott+pareto"] = &Path{Loss: ge, Delay: pareto}
	paths["constant"] = &Path{Delay: Constant(20 * time.Millisecond)}
	return paths
}

func TestPathZeroAllocsWithEachModel(t *testing.T) {
	for name, p := range steadyPaths(t) {
		var now, sink time.Duration
		deliver := func(at time.Duration) { sink += at }
		if allocs := testing.AllocsPerRun(2000, func() {
			p.Send(now)
			now += 20 * time.Millisecond
		}); allocs != 0 {
			t.Errorf("%s: Path.Send allocates %v per packet, want 0", name, allocs)
		}
		if allocs := testing.AllocsPerRun(2000, func() {
			p.SendAll(now, deliver)
			now += 20 * time.Millisecond
		}); allocs != 0 {
			t.Errorf("%s: Path.SendAll allocates %v per packet, want 0", name, allocs)
		}
	}
}

func BenchmarkPathSendAll(b *testing.B) {
	paths := steadyPaths(b)
	for _, name := range slices.Sorted(maps.Keys(paths)) {
		p := paths[name]
		b.Run(name, func(b *testing.B) {
			var now, sink time.Duration
			deliver := func(at time.Duration) { sink += at }
			b.ReportAllocs()
			for b.Loop() {
				p.SendAll(now, deliver)
				now += 20 * time.Millisecond
			}
		})
	}
}
