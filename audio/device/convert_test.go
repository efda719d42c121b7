package device

import (
	"math"
	"slices"
	"strconv"
	"testing"
)

func sine(rate int, freq, amplitude float64, n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(math.Round(amplitude * math.Sin(2*math.Pi*freq*float64(i)/float64(rate))))
	}
	return pcm
}

// amplitudeAt estimates the amplitude of the freq component of pcm by
// correlating with a sine and a cosine (pcm should hold whole-ish cycles).
func amplitudeAt(pcm []int16, rate int, freq float64) float64 {
	var re, im float64
	for i, x := range pcm {
		a := 2 * math.Pi * freq * float64(i) / float64(rate)
		re += float64(x) * math.Cos(a)
		im += float64(x) * math.Sin(a)
	}
	return 2 * math.Hypot(re, im) / float64(len(pcm))
}

// resample runs pcm through r in chunks of chunk samples.
func resample(r *resampler, pcm []int16, chunk int) []int16 {
	var out []int16
	for i := 0; i < len(pcm); i += chunk {
		out = r.process(out, pcm[i:min(i+chunk, len(pcm))])
	}
	return out
}

func TestResampler(t *testing.T) {
	tests := []struct {
		in, out int
	}{
		{48000, 8000},
		{44100, 8000},
		{16000, 8000},
		{8000, 48000},
		{8000, 44100},
		{8000, 16000},
		{11025, 8000},
	}
	for _, tt := range tests {
		t.Run(formatRates(tt.in, tt.out), func(t *testing.T) {
			chunk := max(1, tt.in/50)
			seconds := 1
			// In-band tones pass at their amplitude; for a downsampler, a
			// tone above the output's Nyquist frequency that would alias
			// into the speech band is stopped.
			for _, freq := range []float64{300, 1000, 3000} {
				r := newResampler(tt.in, tt.out, chunk)
				out := resample(r, sine(tt.in, freq, 10000, tt.in*seconds), chunk)
				want := tt.out * seconds
				if len(out) < want-r.taps || len(out) > want {
					t.Errorf("%v Hz: %d samples out, want about %d", freq, len(out), want)
				}
				settled := out[len(out)/4 : len(out)*3/4] // away from the start-up transient
				if got := amplitudeAt(settled, tt.out, freq); math.Abs(got-10000) > 150 {
					t.Errorf("%v Hz: amplitude %.0f after resampling, want 10000", freq, got)
				}
				// An upsampler must not add the image at in-freq.
				if image := float64(tt.in) - freq; tt.out > tt.in && freq >= 1000 {
					if got := amplitudeAt(settled, tt.out, image); got > 10 { // -60 dB
						t.Errorf("%v Hz makes an image at %v Hz of amplitude %.1f (of 10000)", freq, image, got)
					}
				}
			}
			if tt.in > tt.out {
				nyquist := float64(tt.out) / 2
				for _, freq := range []float64{nyquist + 700, nyquist + 2000} {
					if freq >= float64(tt.in)/2 {
						continue
					}
					r := newResampler(tt.in, tt.out, chunk)
					out := resample(r, sine(tt.in, freq, 10000, tt.in*seconds), chunk)
					alias := float64(tt.out) - freq
					settled := out[len(out)/4 : len(out)*3/4]
					if got := amplitudeAt(settled, tt.out, alias); got > 10 { // -60 dB
						t.Errorf("%v Hz leaks into %v Hz at amplitude %.1f (of 10000)", freq, alias, got)
					}
				}
			}
		})
	}
}

func formatRates(in, out int) string {
	return strconv.Itoa(in) + "_to_" + strconv.Itoa(out)
}

func TestResamplerKeepsDCAndClips(t *testing.T) {
	r := newResampler(48000, 8000, 960)
	in := make([]int16, 960)
	for i := range in {
		in[i] = math.MaxInt16
	}
	var out []int16
	for range 10 {
		out = r.process(out[:0], in)
	}
	for _, v := range out {
		if v < math.MaxInt16-1 {
			t.Fatalf("full-scale DC came out as %d", v)
		}
	}
	// A full-scale square wave overshoots the filter; it must clip, not wrap.
	r = newResampler(8000, 48000, 160)
	square := make([]int16, 160)
	for i := range square {
		square[i] = math.MaxInt16
		if i/4%2 == 0 {
			square[i] = math.MinInt16
		}
	}
	var peak int16
	for range 5 {
		for _, v := range r.process(nil, square) {
			peak = max(peak, v)
		}
	}
	if peak != math.MaxInt16 {
		t.Errorf("overshooting square wave peaks at %d, want clipped to %d", peak, math.MaxInt16)
	}
	if saturate(40000) != math.MaxInt16 || saturate(-40000) != math.MinInt16 || saturate(1.5) != 2 {
		t.Error("saturate does not clip and round")
	}
}

func TestResamplerChunkingDoesNotMatter(t *testing.T) {
	in := sine(44100, 777, 12000, 44100/2)
	whole := resample(newResampler(44100, 8000, len(in)), in, len(in))
	for _, chunk := range []int{1, 7, 882, 1000} {
		got := resample(newResampler(44100, 8000, chunk), in, chunk)
		if !slices.Equal(got, whole) {
			t.Errorf("chunks of %d: output differs from one pass", chunk)
		}
	}
}

func TestResamplerDoesNotAllocate(t *testing.T) {
	r := newResampler(48000, 8000, 960)
	in := sine(48000, 1000, 1000, 960)
	out := make([]int16, 0, 400)
	out = r.process(out, in)
	if allocs := testing.AllocsPerRun(100, func() { out = r.process(out[:0], in) }); allocs != 0 {
		t.Errorf("%v allocations per chunk", allocs)
	}
}

func TestMixDownAndSpread(t *testing.T) {
	stereo := []int16{100, 300, -5, -7, math.MaxInt16, math.MaxInt16}
	if got := mixDownInto(make([]int16, 3), stereo, 2); !slices.Equal(got, []int16{200, -6, math.MaxInt16}) {
		t.Errorf("mixDown = %v", got)
	}
	mono := []int16{1, 2, 3}
	if got := mixDownInto(make([]int16, len(mono)), mono, 1); !slices.Equal(got, mono) {
		t.Errorf("mono mixDown = %v", got)
	}
	chunk := make([]int16, 6)
	spread(chunk, []int16{4, 5, 6}, 2)
	if !slices.Equal(chunk, []int16{4, 4, 5, 5, 6, 6}) {
		t.Errorf("spread = %v", chunk)
	}
}

func BenchmarkResample48kTo8kFrame(b *testing.B) {
	r := newResampler(48000, 8000, 960)
	in := sine(48000, 1000, 1000, 960)
	out := make([]int16, 0, 400)
	b.ReportAllocs()
	for b.Loop() {
		out = r.process(out[:0], in)
	}
}

func BenchmarkResample8kTo48kFrame(b *testing.B) {
	r := newResampler(8000, 48000, 160)
	in := sine(8000, 1000, 1000, 160)
	out := make([]int16, 0, 2000)
	b.ReportAllocs()
	for b.Loop() {
		out = r.process(out[:0], in)
	}
}
