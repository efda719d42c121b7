package plc

import (
	"fmt"
	"math"
	"testing"
)

// run passes signal through a Concealer in pieces of piece samples, treating
// the samples in [lossStart, lossEnd) as missing, and returns what it played.
// Pieces are cut at the loss boundaries.
func run(t testing.TB, signal []int16, rate, piece, lossStart, lossEnd int) []int16 {
	t.Helper()
	c, err := New(rate)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, len(signal))
	copy(out, signal)
	for at := 0; at < len(out); {
		end := min(at+piece, len(out))
		if at < lossStart && end > lossStart {
			end = lossStart
		} else if at < lossEnd && end > lossEnd {
			end = lossEnd
		}
		if at >= lossStart && at < lossEnd {
			c.Conceal(out[at:end])
		} else {
			c.Good(out[at:end])
		}
		at = end
	}
	return out
}

// snrDB is the ratio of the energy of want to that of got-want, in dB.
func snrDB(want, got []int16) float64 {
	var sig, noise float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		sig += float64(want[i]) * float64(want[i])
		noise += d * d
	}
	return 10 * math.Log10(sig/noise)
}

// maxJump is the largest sample-to-sample step in x.
func maxJump(x []int16) float64 {
	var m float64
	for i := 1; i < len(x); i++ {
		m = max(m, math.Abs(float64(x[i])-float64(x[i-1])))
	}
	return m
}

func TestNewRefusesUnsupportedRates(t *testing.T) {
	for _, rate := range []int{0, -8000, 4000, 11025, 12000, 44100, 56000, 96000} {
		if _, err := New(rate); err == nil {
			t.Errorf("New(%d) succeeded", rate)
		}
	}
	for _, rate := range []int{8000, 16000, 24000, 32000, 48000} {
		if _, err := New(rate); err != nil {
			t.Errorf("New(%d): %v", rate, err)
		}
	}
}

// TestConcealedHoleBeatsSilence conceals a hole in a steady voiced-like tone
// and compares it with the true signal and with playing silence instead. The
// joins into and out of the hole must not click: no step larger than the
// signal's own largest step (with a little slack for the attenuation).
func TestConcealedHoleBeatsSilence(t *testing.T) {
	const rate, ms = 8000, 8
	tests := []struct {
		f0     float64
		holeMs int
		piece  int // samples per piece given to the Concealer
		minSNR float64
	}{
		{120, 20, 160, 10},
		{150, 20, 160, 10},
		{175, 20, 160, 10},
		{200, 20, 160, 10},
		{140, 20, 40, 10},
		{120, 10, 160, 15},
		{150, 5, 40, 20},
		{200, 5, 40, 20},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%vHz %dms", tt.f0, tt.holeMs)
		t.Run(name, func(t *testing.T) {
			signal := harmonicTone(tt.f0, rate, 500*ms)
			start, end := 203*ms, (203+tt.holeMs)*ms
			out := run(t, signal, rate, tt.piece, start, end)
			concealed := snrDB(signal[start:end], out[start:end])
			silence := snrDB(signal[start:end], make([]int16, end-start))
			t.Logf("SNR over the hole: concealed %.1f dB, silence %.1f dB", concealed, silence)
			if concealed < tt.minSNR || concealed < silence+tt.minSNR {
				t.Errorf("concealed SNR %.1f dB, want at least %.0f dB (silence gives %.1f dB)", concealed, tt.minSNR, silence)
			}
			own := maxJump(signal)
			join := maxJump(out[start-1 : end+10*ms])
			t.Logf("largest step: signal %.0f, around the hole %.0f", own, join)
			if join > 1.1*own {
				t.Errorf("step of %.0f around the hole, the signal's largest is %.0f: a click", join, own)
			}
			if outside := maxDiff(signal[:start], out[:start]); outside != 0 {
				t.Errorf("audio before the loss changed by up to %d", outside)
			}
		})
	}
}

// TestInterleavedHoles conceals the pattern one lost packet leaves with
// interleaving at depth 4: a 5 ms hole in each of four consecutive 20 ms
// chunks, at the same place in each.
func TestInterleavedHoles(t *testing.T) {
	const rate, ms = 8000, 8
	signal := harmonicTone(150, rate, 400*ms)
	c, err := New(rate)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, len(signal))
	copy(out, signal)
	var holes, holeNoise, holeSignal float64
	for chunk := 0; chunk < len(out)/(20*ms); chunk++ {
		for unit := range 4 {
			at := chunk*20*ms + unit*5*ms
			piece := out[at : at+5*ms]
			if chunk >= 10 && chunk < 14 && unit == 2 {
				c.Conceal(piece)
				holes++
				for i := range piece {
					d := float64(piece[i]) - float64(signal[at+i])
					holeNoise += d * d
					holeSignal += float64(signal[at+i]) * float64(signal[at+i])
				}
			} else {
				c.Good(piece)
			}
		}
	}
	snr := 10 * math.Log10(holeSignal/holeNoise)
	t.Logf("four 5 ms holes: SNR %.1f dB", snr)
	if snr < 15 {
		t.Errorf("SNR over the holes %.1f dB, want at least 15 dB", snr)
	}
	if own, got := maxJump(signal), maxJump(out); got > 1.1*own {
		t.Errorf("largest step %.0f, the signal's is %.0f: a click", got, own)
	}
}

func maxDiff(a, b []int16) int {
	m := 0
	for i := range a {
		m = max(m, int(math.Abs(float64(a[i])-float64(b[i]))))
	}
	return m
}

// TestLongLossFadesOut checks the attenuation schedule: full level for 10 ms,
// then down by a fifth of the level per 10 ms, and exactly zero from 60 ms.
func TestLongLossFadesOut(t *testing.T) {
	for _, rate := range []int{8000, 16000} {
		for _, piece := range []int{rate / 200, rate / 100, rate / 50, 7} { // 5, 10, 20 ms and odd
			ms := rate / 1000
			signal := harmonicTone(130, rate, 300*ms)
			start := 100 * ms
			out := run(t, signal, rate, piece, start, start+100*ms)
			peak := 0.0
			for _, s := range signal {
				peak = max(peak, math.Abs(float64(s)))
			}
			for block := range 10 {
				lo, hi := start+block*10*ms, start+(block+1)*10*ms
				blockPeak := 0.0
				for _, s := range out[lo:hi] {
					blockPeak = max(blockPeak, math.Abs(float64(s)))
				}
				// The most the gain can be at the start of the block.
				gain := max(0, 1-0.2*float64(block-1))
				if block == 0 {
					gain = 1
				}
				switch {
				case block < 6 && blockPeak > 1.05*gain*peak+2:
					t.Errorf("%d Hz, pieces of %d: block %d (%d-%d ms) peaks at %.0f, above %.2f of the signal's %.0f",
						rate, piece, block, block*10, block*10+10, blockPeak, gain, peak)
				case block < 5 && blockPeak < 0.5*gain*peak:
					t.Errorf("%d Hz, pieces of %d: block %d peaks at only %.0f; want about %.2f of %.0f",
						rate, piece, block, blockPeak, gain, peak)
				case block >= 6 && blockPeak != 0:
					t.Errorf("%d Hz, pieces of %d: %d ms into the loss the output is %.0f, want silence",
						rate, piece, block*10, blockPeak)
				}
			}
			for i, s := range out[start+60*ms : start+100*ms] {
				if s != 0 {
					t.Fatalf("%d Hz: sample %d after 60 ms of loss is %d, want 0", rate, i, s)
				}
			}
		}
	}
}

// TestRecoveryReturnsToInput checks that after a loss the output is the input
// again, exactly, once the recovery overlap-add (at most 10 ms) is over, and
// that the overlap-add does happen.
func TestRecoveryReturnsToInput(t *testing.T) {
	const rate, ms = 8000, 8
	for _, lossMs := range []int{1, 5, 10, 20, 30, 45, 60, 100} {
		for _, piece := range []int{40, 80, 160, 13} {
			signal := harmonicTone(110, rate, 300*ms)
			start, end := 150*ms, (150+lossMs)*ms
			out := run(t, signal, rate, piece, start, end)
			if d := maxDiff(signal[end+10*ms:], out[end+10*ms:]); d != 0 {
				t.Errorf("%d ms loss, pieces of %d: output differs from input by up to %d after recovery", lossMs, piece, d)
			}
			if d := maxDiff(signal[end:end+10*ms], out[end:end+10*ms]); d == 0 {
				t.Errorf("%d ms loss, pieces of %d: no overlap-add into the good audio", lossMs, piece)
			}
			// After a long loss the synthetic signal is silent: good audio fades in.
			if lossMs >= 60 && math.Abs(float64(out[end])) > math.Abs(float64(signal[end]))/10+1 {
				t.Errorf("%d ms loss: first good sample %d, want a fade in from silence towards %d", lossMs, out[end], signal[end])
			}
		}
	}
}

// TestLossResumedDuringRecovery loses audio again while the overlap-add into
// good audio is still running, and checks the loss goes on without a click
// and keeps its attenuation.
func TestLossResumedDuringRecovery(t *testing.T) {
	const rate, ms = 8000, 8
	signal := harmonicTone(160, rate, 200*ms)
	c, err := New(rate)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]int16, len(signal))
	copy(out, signal)
	c.Good(out[:100*ms])
	c.Conceal(out[100*ms : 130*ms])
	c.Good(out[130*ms : 130*ms+3]) // shorter than any recovery window
	c.Conceal(out[130*ms+3 : 200*ms])
	if own, got := maxJump(signal), maxJump(out[:200*ms]); got > 1.1*own {
		t.Errorf("largest step %.0f, the signal's is %.0f: a click", got, own)
	}
	// The loss continued: 60 ms after it began the output is silent.
	for i, s := range out[160*ms+3*ms : 200*ms] {
		if s != 0 {
			t.Fatalf("sample %d of the resumed loss is %d, want 0 (the loss should keep fading)", i, s)
		}
	}
}

func TestConcealWithoutHistoryIsSilent(t *testing.T) {
	c, err := New(8000)
	if err != nil {
		t.Fatal(err)
	}
	out := []int16{1, 2, 3, 4, 5, 6, 7, 8}
	c.Conceal(out)
	for i, s := range out {
		if s != 0 {
			t.Fatalf("sample %d concealed with no history is %d, want 0", i, s)
		}
	}
	c.Good(nil)
	c.Conceal(nil)
}

func TestResetForgetsHistory(t *testing.T) {
	c, err := New(8000)
	if err != nil {
		t.Fatal(err)
	}
	c.Good(harmonicTone(150, 8000, 800))
	c.Reset()
	out := make([]int16, 160)
	c.Conceal(out)
	if d := maxDiff(out, make([]int16, len(out))); d != 0 {
		t.Fatalf("after Reset, concealment made a signal peaking at %d, want silence", d)
	}
}

// TestLossStartsWithoutClick starts losses at many phases of a tone whose
// level is rising, as at the onset of a vowel, so that the last pitch period
// does not end where the one before it does: the synthetic signal must still
// start where the real one stopped, and each repetition of the period must
// join smoothly onto the next.
func TestLossStartsWithoutClick(t *testing.T) {
	const rate, ms = 8000, 8
	for _, f0 := range []float64{110, 130, 170} {
		signal := make([]int16, 300*ms)
		for i := range signal {
			env := math.Exp(float64(i) / float64(60*ms)) // rising about 1.2x per 10 ms
			v := math.Sin(2*math.Pi*f0*float64(i)/rate) + 0.3*math.Sin(4*math.Pi*f0*float64(i)/rate+1)
			signal[i] = int16(math.Round(300 * env * v))
		}
		for start := 200 * ms; start < 200*ms+60; start += 3 {
			out := run(t, signal, rate, 40, start, start+10*ms)
			own := maxJump(signal[start-20*ms : start])
			if join := maxJump(out[start-1 : start+10*ms]); join > 1.2*own {
				t.Errorf("%v Hz, loss at sample %d: step of %.0f into the loss, the signal's largest before it is %.0f",
					f0, start, join, own)
			}
		}
	}
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	c, err := New(8000)
	if err != nil {
		t.Fatal(err)
	}
	signal := harmonicTone(150, 8000, 8000)
	frame := make([]int16, 160)
	i := 0
	allocs := testing.AllocsPerRun(100, func() {
		for range 5 {
			copy(frame, signal[i%40*160:])
			i++
			c.Good(frame)
		}
		c.Conceal(frame[:40])
		c.Good(frame[40:])
		c.Conceal(frame)
		c.Conceal(frame)
		copy(frame, signal[i%40*160:])
		c.Good(frame[:80])
		c.ConcealBefore(frame[80:120], frame[120:])
		c.Good(frame[120:])
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per run, want 0", allocs)
	}
}

func BenchmarkGood20ms(b *testing.B) {
	c, err := New(8000)
	if err != nil {
		b.Fatal(err)
	}
	signal := harmonicTone(150, 8000, 160)
	frame := make([]int16, 160)
	b.ReportAllocs()
	for b.Loop() {
		copy(frame, signal)
		c.Good(frame)
	}
}

// BenchmarkConceal20ms measures the first concealed 20 ms frame of a loss,
// which includes the pitch search, followed by a good frame.
func BenchmarkConceal20ms(b *testing.B) {
	c, err := New(8000)
	if err != nil {
		b.Fatal(err)
	}
	signal := harmonicTone(150, 8000, 160)
	frame := make([]int16, 160)
	c.Good(harmonicTone(150, 8000, 800))
	b.ReportAllocs()
	for b.Loop() {
		c.Conceal(frame)
		copy(frame, signal)
		c.Good(frame)
	}
}
