package timescale

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/spurtvoip/spurt/audio"
)

// lsdWindow is the analysis window of the distortion measure: 32 ms.
const lsdWindow = 256

// dynamicRange is how far below the loudest spectral bin of the speech the
// log spectra are floored, as in a spectrogram shown with 60 dB of range: a
// difference between two bins both lower than that is not counted, so the
// measure follows what is loud enough to hear rather than the shape of the
// noise floor in near-silence.
const dynamicRange = 60

// spectrum holds the tables for log power spectra of lsdWindow samples.
type spectrum struct {
	hann, cos, sin []float64
	floor          float64 // power below which bins are floored
}

// newSpectrum sets up the tables and the floor from the loudest bin of ref.
func newSpectrum(ref []int16) *spectrum {
	s := &spectrum{
		hann: make([]float64, lsdWindow),
		cos:  make([]float64, lsdWindow),
		sin:  make([]float64, lsdWindow),
	}
	for i := range lsdWindow {
		s.hann[i] = 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/lsdWindow)
		s.cos[i] = math.Cos(2 * math.Pi * float64(i) / lsdWindow)
		s.sin[i] = math.Sin(2 * math.Pi * float64(i) / lsdWindow)
	}
	loudest := 0.0
	p := make([]float64, lsdWindow/2-1)
	for at := 0; at+lsdWindow <= len(ref); at += lsdWindow / 2 {
		s.power(ref[at:], p)
		for _, v := range p {
			loudest = max(loudest, v)
		}
	}
	s.floor = max(loudest*math.Pow(10, -dynamicRange/10.0), 1)
	return s
}

// power writes the Hann-windowed power spectrum of x (lsdWindow samples),
// bins 1 to lsdWindow/2-1, to dst.
func (s *spectrum) power(x []int16, dst []float64) {
	for k := 1; k < lsdWindow/2; k++ {
		var re, im float64
		for i, v := range x[:lsdWindow] {
			w := s.hann[i] * float64(v)
			j := (i * k) % lsdWindow
			re += w * s.cos[j]
			im -= w * s.sin[j]
		}
		dst[k-1] = re*re + im*im
	}
}

// bands is the number of mel-spaced bands the spectra are summed into, which
// smooths away the variance of a single window's spectrum of noisy sounds
// (two windows of the same fricative differ by about 5 dB per bin).
const bands = 20

// band returns the band of spectral bin k (1..lsdWindow/2-1).
func band(k int) int {
	mel := func(hz float64) float64 { return 2595 * math.Log10(1+hz/700) }
	hz := float64(k) * SampleRate / lsdWindow
	return min(bands-1, int(bands*mel(hz)/mel(SampleRate/2)))
}

// logPower writes the band powers of x in dB, floored, to dst (bands long).
func (s *spectrum) logPower(x []int16, dst []float64) {
	bins := make([]float64, lsdWindow/2-1)
	s.power(x, bins)
	clear(dst)
	for k, v := range bins {
		dst[band(k+1)] += v
	}
	for i, v := range dst {
		dst[i] = 10 * math.Log10(max(v, s.floor))
	}
}

// lsd is the log-spectral distance in dB between two windows: the RMS over
// the bands of the difference of their log powers.
func (s *spectrum) lsd(a, b []int16) float64 {
	var pa, pb [bands]float64
	s.logPower(a, pa[:])
	s.logPower(b, pb[:])
	var sum float64
	for k := range pa {
		d := pa[k] - pb[k]
		sum += d * d
	}
	return math.Sqrt(sum / bands)
}

// distortion sums up the joins of one run.
type distortion struct {
	joins, silent int     // joins made; of which in windows that are silent
	meanLSD       float64 // mean LSD over the join windows that are not silent
	worstLSD      float64
	levelDB       float64 // mean level of the frames of those joins, dBFS
	onsets        int     // joins in frames 6 dB louder than the one before
	share         float64 // change made, as a share of the input
}

// alignStep is the grid of input windows a join window is compared with.
const alignStep = 4

// inputBands caches the band powers of the input's windows, every alignStep
// samples.
type inputBands struct {
	spec *spectrum
	pcm  []int16
	at   map[int][bands]float64
}

func (ib *inputBands) get(start int) [bands]float64 {
	if p, ok := ib.at[start]; ok {
		return p
	}
	var p [bands]float64
	ib.spec.logPower(ib.pcm[start:start+lsdWindow], p[:])
	ib.at[start] = p
	return p
}

// nearest is the LSD between the output window o and the nearest input
// window starting within MaxChange*2 of around.
func (ib *inputBands) nearest(o []int16, around int) float64 {
	var po [bands]float64
	ib.spec.logPower(o, po[:])
	best := math.Inf(1)
	first := max(0, (around-2*MaxChange)/alignStep*alignStep)
	for start := first; start <= around+2*MaxChange && start+lsdWindow <= len(ib.pcm); start += alignStep {
		pi := ib.get(start)
		var sum float64
		for k := range po {
			d := po[k] - pi[k]
			sum += d * d
		}
		best = min(best, math.Sqrt(sum/bands))
	}
	return best
}

// measure runs speech through a Scaler asking for all the rate allows and,
// for every join, compares the 32 ms of output centred on the join with the
// nearest 32 ms of input, searched over the shifts the joins make. What no
// shifted copy of the input explains is what the join added.
func measure(t *testing.T, ib *inputBands, rate float64, want int, eager bool) (distortion, []int16) {
	t.Helper()
	pcm := ib.pcm
	sc, _ := New(Config{Rate: rate})
	sc.eagerly = eager
	calls, all := run(t, sc, pcm, frame, want, nil)
	var d distortion
	inStart, outStart := 0, 0
	var sum float64
	for i, c := range calls {
		if c.change != 0 && i > 0 && meanSquare(c.in) >= silenceEnergy && meanSquare(c.in) > 4*meanSquare(calls[i-1].in) {
			d.onsets++
		}
		at := 0 // where the join starts: the first sample that differs
		for at < len(c.in) && at < len(c.out) && c.in[at] == c.out[at] {
			at++
		}
		out := outStart + at - lsdWindow/2
		if c.change != 0 && out >= 0 && out+lsdWindow <= len(all) {
			d.joins++
			if o := all[out : out+lsdWindow]; meanSquare(o) < silenceEnergy {
				d.silent++
			} else {
				l := ib.nearest(o, inStart+at-lsdWindow/2)
				sum += l
				d.levelDB += 10 * math.Log10(max(meanSquare(c.in), 1)/(1<<30))
				d.worstLSD = max(d.worstLSD, l)
			}
		}
		inStart += len(c.in)
		outStart += len(c.out)
	}
	if n := d.joins - d.silent; n > 0 {
		d.meanLSD = sum / float64(n)
		d.levelDB /= float64(n)
	}
	d.share = float64(totalChange(calls)) / float64(len(pcm))
	return d, all
}

func meanSquare(x []int16) float64 {
	var e float64
	for _, v := range x {
		e += float64(v) * float64(v)
	}
	return e / float64(len(x))
}

// TestDistortion measures the spectral distortion the joins add to speech at
// 5, 10 and 20 %, shortening and stretching, with the Scaler's choice of
// where to join and with joins made wherever asked ("eager"), and writes the
// results as WAV files (to $TIMESCALE_WAV_DIR if set) for listening. The
// joins must change the spectrum far less than 20 ms of the speech itself
// does, and the Scaler's choice must put them in quieter frames than eager
// joining.
func TestDistortion(t *testing.T) {
	if testing.Short() {
		t.Skip("measurement")
	}
	pcm := speech(t)
	dir := os.Getenv("TIMESCALE_WAV_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	// Reference: how much the spectrum of this speech moves in 20 ms.
	spec := newSpectrum(pcm)
	var refSum float64
	var refN int
	for end := lsdWindow + frame; end <= len(pcm); end += frame {
		a, b := pcm[end-lsdWindow:end], pcm[end-frame-lsdWindow:end-frame]
		if meanSquare(a) < silenceEnergy && meanSquare(b) < silenceEnergy {
			continue
		}
		refSum += spec.lsd(a, b)
		refN++
	}
	reference := refSum / float64(refN)
	t.Logf("speech's own spectral change over 20 ms: LSD %.2f dB (%d active windows)", reference, refN)

	ib := &inputBands{spec: spec, pcm: pcm, at: map[int][bands]float64{}}
	for _, rate := range []float64{0.05, 0.1, 0.2} {
		for _, want := range []int{-MaxChange, MaxChange} {
			chosen, all := measure(t, ib, rate, want, false)
			eager, _ := measure(t, ib, rate, want, true)
			mode := "shorten"
			if want > 0 {
				mode = "stretch"
			}
			t.Logf("%s %2.0f %%: changed %+5.1f %%, %3d joins, %3d in silence, %2d in onsets; the others at %5.1f dBFS, LSD mean %.2f dB, worst %.2f dB",
				mode, 100*rate, 100*chosen.share, chosen.joins, chosen.silent, chosen.onsets, chosen.levelDB, chosen.meanLSD, chosen.worstLSD)
			t.Logf("%s %2.0f %%  eager: %+5.1f %%, %3d joins, %3d in silence, %2d in onsets; the others at %5.1f dBFS, LSD mean %.2f dB, worst %.2f dB",
				mode, 100*rate, 100*eager.share, eager.joins, eager.silent, eager.onsets, eager.levelDB, eager.meanLSD, eager.worstLSD)
			if chosen.meanLSD > reference/4 {
				t.Errorf("%s %.0f %%: joins change the spectrum by %.2f dB, against %.2f dB for 20 ms of speech", mode, 100*rate, chosen.meanLSD, reference)
			}
			if chosen.onsets > 0 {
				t.Errorf("%s %.0f %%: %d joins in onsets", mode, 100*rate, chosen.onsets)
			}
			if chosen.levelDB > eager.levelDB {
				t.Errorf("%s %.0f %%: joins at %.1f dBFS, louder than eager ones (%.1f dBFS)", mode, 100*rate, chosen.levelDB, eager.levelDB)
			}
			path := filepath.Join(dir, fmt.Sprintf("%s-%02.0f.wav", mode, 100*rate))
			if err := audio.WriteWAVFile(path, all); err != nil {
				t.Fatal(err)
			}
		}
	}
}
