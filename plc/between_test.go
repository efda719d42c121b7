package plc

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/spurtvoip/spurt/audio"
)

// glide is a voiced-like signal whose pitch moves from f0 to f1 Hz over its
// length and whose level swells and fades, so that repeating the last
// period drifts out of phase within a few milliseconds.
func glide(f0, f1 float64, rate, n int) []int16 {
	out := make([]int16, n)
	var phase float64
	for i := range out {
		x := float64(i) / float64(n)
		phase += 2 * math.Pi * (f0 + (f1-f0)*x) / float64(rate)
		env := 0.6 + 0.4*math.Sin(2*math.Pi*3*x)
		v := math.Sin(phase) + 0.5*math.Sin(2*phase+0.7) + 0.3*math.Sin(3*phase+1.9)
		out[i] = int16(math.Round(6000 * env * v))
	}
	return out
}

// concealUnits passes signal through a Concealer in units of unit samples,
// the units in lost missing; with ahead, a lost run followed by a received
// unit is concealed with ConcealBefore, else with Conceal. It returns what
// was played.
func concealUnits(t testing.TB, signal []int16, unit int, lost func(u int) bool, ahead bool) []int16 {
	t.Helper()
	c, err := New(8000)
	if err != nil {
		t.Fatal(err)
	}
	out := slices.Clone(signal)
	units := len(out) / unit
	for u := 0; u < units; {
		end := u + 1
		for end < units && lost(end) == lost(u) {
			end++
		}
		piece := out[u*unit : end*unit]
		switch {
		case !lost(u):
			c.Good(piece)
		case ahead && end < units:
			next := end + 1
			for next < units && !lost(next) {
				next++
			}
			c.ConcealBefore(piece, out[end*unit:next*unit])
		default:
			c.Conceal(piece)
		}
		u = end
	}
	return out
}

// holeSNR is the SNR of got against want over the samples of lost units.
func holeSNR(want, got []int16, unit int, lost func(u int) bool) float64 {
	var sig, noise float64
	for i := range want {
		if lost(i / unit) {
			d := float64(got[i]) - float64(want[i])
			sig += float64(want[i]) * float64(want[i])
			noise += d * d
		}
	}
	return 10 * math.Log10(sig/noise)
}

// TestConcealBeforeInterpolates: holes of 2.5 to 10 ms with received audio
// after them, in a signal whose pitch glides, are filled from both sides
// closer to the truth than by extrapolating the past alone, join the audio
// on both sides without a click, and leave the received audio after them
// untouched.
func TestConcealBeforeInterpolates(t *testing.T) {
	const ms = 8
	tests := []struct {
		f0, f1      float64
		unit, every int // hole of unit samples every every units
		minGain     float64
	}{
		{110, 190, 40, 9, 3},
		{190, 110, 40, 9, 3},
		{140, 230, 20, 13, 1},
		{120, 160, 80, 7, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%v-%vHz_%gms", tt.f0, tt.f1, float64(tt.unit)/ms), func(t *testing.T) {
			signal := glide(tt.f0, tt.f1, 8000, 1000*ms)
			lost := func(u int) bool { return u > 20 && u%tt.every == 0 }
			one := concealUnits(t, signal, tt.unit, lost, false)
			two := concealUnits(t, signal, tt.unit, lost, true)
			s1, s2 := holeSNR(signal, one, tt.unit, lost), holeSNR(signal, two, tt.unit, lost)
			t.Logf("SNR over the holes: from the past %.1f dB, from both sides %.1f dB", s1, s2)
			if s2 < s1+tt.minGain {
				t.Errorf("both sides %.1f dB, not %.0f dB better than the past alone (%.1f dB)", s2, tt.minGain, s1)
			}
			if own, got := maxJump(signal), maxJump(two); got > 1.1*own {
				t.Errorf("largest step %.0f, the signal's is %.0f: a click", got, own)
			}
			for i := range signal {
				if !lost(i/tt.unit) && two[i] != signal[i] {
					t.Fatalf("received sample %d changed from %d to %d", i, signal[i], two[i])
				}
			}
		})
	}
}

// TestConcealBeforeWithoutMatch: with nothing in the history to match the
// audio after the hole (silence before it), ConcealBefore does what Conceal
// does, and the audio after the hole is faded in from the silence.
func TestConcealBeforeWithoutMatch(t *testing.T) {
	tone := harmonicTone(150, 8000, 400)
	for _, between := range []bool{false, true} {
		c, err := New(8000)
		if err != nil {
			t.Fatal(err)
		}
		c.Good(make([]int16, 400))
		hole, next := make([]int16, 40), slices.Clone(tone[:80])
		if between {
			c.ConcealBefore(hole, next)
		} else {
			c.Conceal(hole)
		}
		if slices.ContainsFunc(hole, func(v int16) bool { return v != 0 }) {
			t.Errorf("between %v: hole after silence concealed as %v, want silence", between, hole)
		}
		c.Good(next)
		if next[0] == tone[0] && tone[0] != 0 || next[79] != tone[79] {
			t.Errorf("between %v: audio after the hole not faded in from silence: %d→%d, %d→%d", between, tone[0], next[0], tone[79], next[79])
		}
	}
}

// TestConcealBeforeOnSpeech conceals the holes one lost packet in twenty
// leaves with interleaving at depth 4 (four 5 ms holes, at the same place in
// four consecutive chunks) in the test speech, for several loss patterns:
// filling them from both sides is closer to the speech than extrapolating
// the past, on every pattern. (On this speech, even the best copy of the
// past at any lag, chosen knowing the truth, scores only about 9 dB.)
func TestConcealBeforeOnSpeech(t *testing.T) {
	speech, err := audio.ReadWAVFile("../testdata/speech.wav")
	if err != nil {
		t.Fatal(err)
	}
	const depth, unit = 4, 40
	units := len(speech) / unit
	speech = speech[:units*unit]
	var sum1, sum2 float64
	const seeds = 8
	for seed := range uint64(seeds) {
		rng := rand.New(rand.NewPCG(seed, 1))
		lostUnits := make([]bool, units)
		for g := 0; g*depth*depth < units; g++ {
			for j := range depth {
				if rng.Float64() < 0.05 {
					for c := range depth { // packet j of group g: unit j of its four chunks
						if u := (g*depth+c)*depth + j; u < units {
							lostUnits[u] = true
						}
					}
				}
			}
		}
		lost := func(u int) bool { return lostUnits[u] }
		s1 := holeSNR(speech, concealUnits(t, speech, unit, lost, false), unit, lost)
		s2 := holeSNR(speech, concealUnits(t, speech, unit, lost, true), unit, lost)
		t.Logf("seed %d: SNR over the holes from the past %.2f dB, from both sides %.2f dB", seed, s1, s2)
		// measured: at least 0.9 dB better on each of these seeds, 2.5 dB on average
		if s2 < s1+0.5 {
			t.Errorf("seed %d: both sides %.2f dB, the past alone %.2f dB", seed, s2, s1)
		}
		sum1 += s1
		sum2 += s2
	}
	if mean1, mean2 := sum1/seeds, sum2/seeds; mean2 < mean1+1.5 {
		t.Errorf("mean SNR over the holes: both sides %.2f dB, the past alone %.2f dB", mean2, mean1)
	}
}

func BenchmarkConcealBefore5ms(b *testing.B) {
	c, err := New(8000)
	if err != nil {
		b.Fatal(err)
	}
	signal := glide(120, 160, 8000, 200)
	hole := make([]int16, 40)
	b.ReportAllocs()
	for b.Loop() {
		c.Good(signal[:160])
		c.ConcealBefore(hole, signal[160:])
		c.Good(signal[160:])
	}
}

// FuzzConcealerOps drives a Concealer with an arbitrary sequence of good,
// concealed and interpolated pieces of arbitrary lengths and content: it
// must never panic, never touch the audio after a hole, and make silence
// from silence.
func FuzzConcealerOps(f *testing.F) {
	f.Add([]byte{0x10, 0x50, 0x90, 0x11, 0xd3}, uint16(1), false)
	f.Add([]byte{0xff, 0xff, 0xa0, 0xa0, 0xa0, 0x40, 0x20}, uint16(7), true)
	f.Fuzz(func(t *testing.T, ops []byte, seed uint16, wide bool) {
		rate := 8000
		if wide {
			rate = 16000
		}
		c, err := New(rate)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(uint64(seed), 3))
		signal := glide(90+float64(seed%200), 250, rate, rate)
		silent := seed%5 == 0
		at := 0
		piece := func(n int) []int16 {
			out := make([]int16, n)
			for i := range out {
				if !silent {
					out[i] = signal[(at+i)%len(signal)] + int16(rng.IntN(64))
				}
			}
			at += n
			return out
		}
		for _, op := range ops[:min(len(ops), 64)] {
			n := int(op&0x3f) * rate / 8000 * 7 // 0 to 55 ms
			switch op >> 6 {
			case 0:
				c.Good(piece(n))
			case 1:
				hole := piece(n)
				c.Conceal(hole)
				if silent && slices.ContainsFunc(hole, func(v int16) bool { return v != 0 }) {
					t.Fatal("concealed silence is not silent")
				}
			case 2:
				hole, next := piece(n), piece(int(op&7)*rate/1000)
				keep := slices.Clone(next)
				c.ConcealBefore(hole, next)
				if !slices.Equal(next, keep) {
					t.Fatal("ConcealBefore changed the audio after the hole")
				}
				if silent && slices.ContainsFunc(hole, func(v int16) bool { return v != 0 }) {
					t.Fatal("interpolated silence is not silent")
				}
				c.Good(next)
			default:
				c.Reset()
			}
		}
	})
}
