package timescale

import (
	"fmt"
	"math"
	"testing"
)

// localJumps returns, for call i, the largest step in its output (from the
// last sample played before it) and the largest step of the input it was
// made from: the frame for a shortening, the frame and the one before for a
// stretch, which may repeat audio from there.
func localJumps(calls []call, i int) (out, in int) {
	var played, source []int16
	if i > 0 {
		prev := calls[i-1].out
		played = append(played, prev[len(prev)-1])
		if calls[i].change > 0 {
			source = append(source, calls[i-1].in...)
		} else {
			source = append(source, calls[i-1].in[len(calls[i-1].in)-1])
		}
	}
	played = append(played, calls[i].out...)
	source = append(source, calls[i].in...)
	return maxJump(played), maxJump(source)
}

// TestJoinsAreContinuous checks that no join makes a step much larger than
// the signal's own largest step nearby: on speech, tones and noise, at
// several rates, shortening and stretching.
func TestJoinsAreContinuous(t *testing.T) {
	sp := speech(t)
	signals := []struct {
		name  string
		pcm   []int16
		slack float64 // allowed ratio of join step to the signal's step
	}{
		{"speech", sp, 1.25},
		{"tone200", tones(len(sp)/4, 10000, 200), 1.02},
		{"tone440", tones(len(sp)/4, 10000, 440), 1.02},
		{"tones200+440", tones(len(sp)/4, 8000, 200, 440), 1.1},
		{"noise", noise(len(sp)/4, 8000, 3), 1.1},
	}
	for _, sig := range signals {
		for _, rate := range []float64{0.05, 0.1, 0.2, 1} {
			for _, want := range []int{-MaxChange, MaxChange} {
				name := fmt.Sprintf("%s/rate%.2f/want%+d", sig.name, rate, want)
				sc, _ := New(Config{Rate: rate})
				calls, _ := run(t, sc, sig.pcm, frame, want, nil)
				joins, worst := 0, 0.0
				for i, c := range calls {
					if c.change == 0 {
						continue
					}
					joins++
					out, in := localJumps(calls, i)
					ratio := float64(out) / float64(max(in, 1))
					worst = max(worst, ratio)
					if float64(out) > sig.slack*float64(in)+2 {
						t.Errorf("%s: call %d (change %d) steps %d, the signal %d", name, i, c.change, out, in)
					}
				}
				if joins == 0 && sig.name != "noise" {
					t.Errorf("%s: no joins", name)
				}
				t.Logf("%s: %d joins, worst step ratio %.2f", name, joins, worst)
			}
		}
	}
}

// TestTonesKeepTheirPitch shortens and stretches tones by up to 20 % and
// checks the frequency, by zero crossings and by Goertzel power, is kept.
func TestTonesKeepTheirPitch(t *testing.T) {
	for _, freq := range []float64{200, 440} {
		for _, rate := range []float64{0.1, 0.2} {
			for _, want := range []int{-MaxChange, MaxChange} {
				name := fmt.Sprintf("%.0fHz/rate%.2f/want%+d", freq, rate, want)
				pcm := tones(4*SampleRate, 10000, freq)
				sc, _ := New(Config{Rate: rate})
				calls, all := run(t, sc, pcm, frame, want, nil)
				share := float64(totalChange(calls)) / float64(len(pcm))
				if math.Abs(share) < 0.8*rate {
					t.Fatalf("%s: changed only %.1f %%", name, 100*share)
				}
				got := zeroCrossingFrequency(all)
				if math.Abs(got-freq) > 0.005*freq {
					t.Errorf("%s: %.2f Hz after a %.1f %% change", name, got, 100*share)
				}
				// Resampling would have moved the tone by the change; WSOLA
				// keeps nearly all the power at the tone.
				moved := freq / (1 + share)
				at, off := bandPower(all, freq), bandPower(all, moved)
				if at < 100*off {
					t.Errorf("%s: power at %.0f Hz only %.1f dB above %.0f Hz", name, freq, 10*math.Log10(at/off), moved)
				}
				t.Logf("%s: changed %+.1f %%, %.2f Hz, %.1f dB above %.0f Hz", name, 100*share, got, 10*math.Log10(at/off), moved)
			}
		}
	}
}

// TestTonesSumKeepsBothPitches stretches and shortens sums of two tones and
// checks both are still there with the same power. In a harmonic sum (a
// common period of at most 15 ms, as in voiced speech) the joins keep both
// phases; 200 + 440 Hz repeats only every 25 ms, so each join is a compromise
// that leaves a small phase step in one of them, which costs a little power
// in 256 ms analysis blocks.
func TestTonesSumKeepsBothPitches(t *testing.T) {
	for _, tc := range []struct {
		f1, f2, tolerance float64 // dB
	}{
		{220, 440, 0.5},
		{150, 450, 0.5},
		{200, 440, 2},
	} {
		pcm := tones(4*SampleRate, 6000, tc.f1, tc.f2)
		for _, want := range []int{-MaxChange, MaxChange} {
			sc, _ := New(Config{Rate: 0.1})
			calls, all := run(t, sc, pcm, frame, want, nil)
			if totalChange(calls) == 0 {
				t.Fatalf("%.0f+%.0f Hz want %d: not changed", tc.f1, tc.f2, want)
			}
			for _, f := range []float64{tc.f1, tc.f2} {
				db := 10 * math.Log10(bandPower(all, f)/bandPower(pcm, f))
				t.Logf("%.0f+%.0f Hz want %+d: %.0f Hz changed by %.2f dB", tc.f1, tc.f2, want, f, db)
				if math.Abs(db) > tc.tolerance {
					t.Errorf("%.0f+%.0f Hz want %d: %.0f Hz changed by %.2f dB", tc.f1, tc.f2, want, f, db)
				}
			}
		}
	}
}

// TestOnsetsAreSpared checks that with allowance to spare the loud voiced
// frames, and above all the onsets, are left alone: frames that start a word
// are never changed, and the joins made fall mostly in quiet frames.
func TestOnsetsAreSpared(t *testing.T) {
	sp := speech(t)
	sc, _ := New(Config{Rate: 0.1})
	calls, _ := run(t, sc, sp, frame, -MaxChange, nil)
	energy := func(x []int16) float64 {
		var e float64
		for _, v := range x {
			e += float64(v) * float64(v)
		}
		return e / float64(len(x))
	}
	var quietJoins, loudJoins int
	for i, c := range calls {
		if c.change == 0 || i == 0 {
			continue
		}
		e, prev := energy(c.in), energy(calls[i-1].in)
		if e >= silenceEnergy && e > 4*prev {
			t.Errorf("call %d: an onset (energy %.0f after %.0f) was changed by %d", i, e, prev, c.change)
		}
		if e < 1e6 { // RMS 1000, about 20 dB below the loudest frames
			quietJoins++
		} else {
			loudJoins++
		}
	}
	t.Logf("%d joins in frames below RMS 1000, %d above", quietJoins, loudJoins)
	if quietJoins < 2*loudJoins {
		t.Errorf("%d joins in quiet frames, %d in loud ones", quietJoins, loudJoins)
	}
}

// TestPrefersQuietStretch drains the allowance in silence, then asks for
// changes through a loud tone with a quieter stretch in it: the Scaler waits
// for the quiet frames instead of cutting the loud ones, which eager joining
// does, and leaves alone the loud frame that follows them (an onset).
func TestPrefersQuietStretch(t *testing.T) {
	const silent, loudBefore, quiet, loudAfter = 10, 4, 2, 10
	var pcm []int16
	pcm = append(pcm, make([]int16, silent*frame)...)
	loud := tones((loudBefore+quiet+loudAfter)*frame, 10000, 200)
	for i := loudBefore * frame; i < (loudBefore+quiet)*frame; i++ {
		loud[i] /= 10 // 20 dB quieter
	}
	pcm = append(pcm, loud...)
	for _, want := range []int{-MaxChange, MaxChange} {
		for _, eager := range []bool{false, true} {
			sc, _ := New(Config{Rate: 0.1})
			sc.eagerly = eager
			calls, _ := run(t, sc, pcm, frame, want, nil)
			var joined []int
			for i, c := range calls[silent:] {
				if c.change != 0 {
					joined = append(joined, i)
				}
			}
			t.Logf("want %+d eager %v: joins in frames %v after the silence", want, eager, joined)
			if len(joined) == 0 {
				t.Fatalf("want %+d eager %v: no joins", want, eager)
			}
			first := joined[0]
			inQuiet := first >= loudBefore && first < loudBefore+quiet
			if !eager && !inQuiet {
				t.Errorf("want %+d: first join in frame %d, not in the quiet frames %d..%d", want, first, loudBefore, loudBefore+quiet-1)
			}
			if eager && inQuiet {
				t.Errorf("want %+d: eager joining waited for the quiet frames too; the test shows nothing", want)
			}
			for _, i := range joined {
				if !eager && i == loudBefore+quiet {
					t.Errorf("want %+d: the onset after the quiet frames was changed", want)
				}
			}
		}
	}
}
