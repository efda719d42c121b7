package timescale

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

func TestNewRates(t *testing.T) {
	for _, tc := range []struct {
		rate, want float64
		ok         bool
	}{
		{0, DefaultRate, true},
		{0.05, 0.05, true},
		{1, 1, true},
		{-0.1, 0, false},
		{1.01, 0, false},
		{math.NaN(), 0, false},
		{math.Inf(1), 0, false},
	} {
		sc, err := New(Config{Rate: tc.rate})
		if (err == nil) != tc.ok {
			t.Errorf("New(rate %v): error %v", tc.rate, err)
			continue
		}
		if tc.ok && sc.Rate() != tc.want {
			t.Errorf("New(rate %v).Rate() = %v, want %v", tc.rate, sc.Rate(), tc.want)
		}
	}
}

func TestProcessRefusesBadBuffers(t *testing.T) {
	sc, _ := New(Config{})
	if _, err := sc.Process(make([]int16, 2*MaxInput), make([]int16, MaxInput+1), 0); !errors.Is(err, ErrInputTooLong) {
		t.Errorf("over-long frame: %v", err)
	}
	if _, err := sc.Process(make([]int16, frame-1), make([]int16, frame), 0); !errors.Is(err, ErrOutputShort) {
		t.Errorf("short output: %v", err)
	}
	// Room for only 5 more samples: a stretch adds at most 5.
	in := make([]int16, frame)
	out := make([]int16, frame+5)
	for range 10 {
		change, err := sc.Process(out, in, 100)
		if err != nil || change < 0 || change > 5 {
			t.Fatalf("change %d, error %v with room for 5", change, err)
		}
	}
}

// TestLengths runs every signal through every kind of request and checks the
// lengths, signs and the rate bound, and that the scaler does change the
// signals it should when asked for all it can give.
func TestLengths(t *testing.T) {
	sp := speech(t)
	signals := []struct {
		name  string
		pcm   []int16
		gives bool // shortens and stretches near the rate when asked
	}{
		{"speech", sp, true},
		{"tone200", tones(len(sp), 8000, 200), true},
		{"tone440", tones(len(sp), 8000, 440), true},
		{"tones200+440+1000", tones(len(sp), 5000, 200, 440, 1000), true},
		{"silence", make([]int16, len(sp)), true},
		{"noise", noise(len(sp), 3000, 1), false},
		{"full-scale square", square(len(sp), 100), false},
	}
	wants := []int{-1 << 40, -MaxChange, -45, -1, 0, 1, 45, MaxChange, 1 << 40}
	sizes := []int{frame, 80, 17, MaxInput}
	for _, sig := range signals {
		for _, want := range wants {
			for _, size := range sizes {
				sc, _ := New(Config{Rate: 0.1})
				calls, all := run(t, sc, sig.pcm, size, want, nil)
				checkCalls(t, calls, want, 0.1)
				if got, exp := len(all), len(sig.pcm)+totalChange(calls); got != exp {
					t.Fatalf("%s want %d size %d: %d samples out, want %d", sig.name, want, size, got, exp)
				}
				if !sig.gives || abs(want) < MaxChange || size < frame {
					continue
				}
				share := math.Abs(float64(totalChange(calls))) / float64(len(sig.pcm))
				t.Logf("%s want %d size %d: changed %.1f %%", sig.name, want, size, 100*share)
				if floor := map[int]float64{frame: 0.08, MaxInput: 0.05}[size]; share < floor {
					t.Errorf("%s want %d size %d: changed only %.1f %% at rate 10 %%", sig.name, want, size, 100*share)
				}
			}
		}
	}
}

// TestRateBound asks for the most every frame at several rates and checks the
// bound over every run of frames, and that the rate is nearly reached.
func TestRateBound(t *testing.T) {
	sp := speech(t)
	for _, rate := range []float64{0.02, 0.05, 0.1, 0.2, 0.5, 1} {
		for _, want := range []int{-MaxChange, MaxChange} {
			sc, _ := New(Config{Rate: rate})
			calls, _ := run(t, sc, sp, frame, want, nil)
			checkCalls(t, calls, want, rate)
			got := math.Abs(float64(totalChange(calls))) / float64(len(sp))
			t.Logf("rate %.2f want %+d: changed %.1f %%", rate, want, 100*got)
			if rate <= 0.2 && got < 0.6*rate {
				t.Errorf("rate %.2f want %+d: changed only %.1f %%", rate, want, 100*got)
			}
		}
	}
}

func TestSilenceChangesByExactSamples(t *testing.T) {
	for _, tc := range []struct {
		name        string
		want, frame int
		expect      []int // changes of the first calls
	}{
		// The allowance starts full (120) and gains 16 per frame at 10 %.
		{"shorten by 7", -7, frame, []int{-7, -7, -7}},
		{"stretch by 7", 7, frame, []int{7, 7, 7}},
		{"shorten by 100", -100, frame, []int{-100, -36, -16, -16}},
		{"stretch by 100", 100, frame, []int{100, 36, 16, 16}},
		{"shorten 10-sample frames", -100, 10, []int{-8, -8, -8}}, // keeps 1 + fades 1
	} {
		t.Run(tc.name, func(t *testing.T) {
			sc, _ := New(Config{Rate: 0.1})
			calls, all := run(t, sc, make([]int16, 20*tc.frame), tc.frame, tc.want, nil)
			for i, exp := range tc.expect {
				if calls[i].change != exp {
					t.Errorf("call %d: change %d, want %d", i, calls[i].change, exp)
				}
			}
			for i, v := range all {
				if v != 0 {
					t.Fatalf("sample %d of silence became %d", i, v)
				}
			}
		})
	}
}

// TestQuietNoiseJoinsSmoothly scales low-level noise (silence by the
// threshold) and checks the joins make no larger steps than the noise has.
func TestQuietNoiseJoinsSmoothly(t *testing.T) {
	pcm := noise(40*frame, 20, 2)
	for _, want := range []int{-50, 50} {
		sc, _ := New(Config{Rate: 0.2})
		calls, all := run(t, sc, pcm, frame, want, nil)
		if totalChange(calls) == 0 {
			t.Fatalf("want %d: quiet noise not changed", want)
		}
		if got, lim := maxJump(all), maxJump(pcm); got > lim {
			t.Errorf("want %d: largest step %d, the noise's own %d", want, got, lim)
		}
	}
}

// TestShortFrames feeds frames of 0 to 50 samples with every kind of request.
func TestShortFrames(t *testing.T) {
	sp := speech(t)[8000:16000]
	for size := 1; size <= 50; size += 7 {
		for _, want := range []int{-MaxChange, -3, 3, MaxChange} {
			sc, _ := New(Config{Rate: 0.2})
			calls, all := run(t, sc, sp, size, want, nil)
			checkCalls(t, calls, want, 0.2)
			if len(all) != len(sp)+totalChange(calls) {
				t.Fatalf("size %d want %d: length %d", size, want, len(all))
			}
		}
	}
	sc, _ := New(Config{})
	out := make([]int16, MaxChange)
	for _, want := range []int{-MaxChange, MaxChange} {
		if change, err := sc.Process(out, nil, want); change != 0 || err != nil {
			t.Errorf("empty frame, want %d: change %d, error %v", want, change, err)
		}
	}
}

// TestGapForgetsHistory fills the history with a loud constant, calls Gap and
// stretches a quiet tone: nothing of the constant may come back.
func TestGapForgetsHistory(t *testing.T) {
	sc, _ := New(Config{Rate: 1})
	loud := make([]int16, frame)
	for i := range loud {
		loud[i] = 30000
	}
	out := make([]int16, frame+MaxChange)
	for range 3 {
		if _, err := sc.Process(out, loud, 0); err != nil {
			t.Fatal(err)
		}
	}
	sc.Gap()
	pcm := tones(10*frame, 1000, 200)
	_, all := run(t, sc, pcm, frame, MaxChange, nil)
	if len(all) == len(pcm) {
		t.Fatal("tone not stretched")
	}
	for i, v := range all {
		if v > 1000 {
			t.Fatalf("sample %d is %d: the history before the gap came back", i, v)
		}
	}
}

func TestProcessDoesNotAllocate(t *testing.T) {
	sp := speech(t)
	sc, _ := New(Config{Rate: 1})
	out := make([]int16, frame+MaxChange)
	at, want := 0, -MaxChange
	allocs := testing.AllocsPerRun(500, func() {
		if at+frame > len(sp) {
			at = 0
		}
		if _, err := sc.Process(out, sp[at:at+frame], want); err != nil {
			t.Fatal(err)
		}
		at += frame
		want = -want
	})
	if allocs != 0 {
		t.Errorf("%v allocations per frame", allocs)
	}
}

// noise is uniform white noise of amplitude amp.
func noise(n int, amp float64, seed uint64) []int16 {
	r := rand.New(rand.NewPCG(seed, 1))
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(amp * (2*r.Float64() - 1))
	}
	return pcm
}

// square is a full-scale square wave of the given period.
func square(n, period int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		if i%period < period/2 {
			pcm[i] = math.MaxInt16
		} else {
			pcm[i] = math.MinInt16
		}
	}
	return pcm
}
