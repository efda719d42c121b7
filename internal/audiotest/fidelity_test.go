package audiotest

import (
	"math"
	"testing"
)

func TestCompareWholeCountsGaps(t *testing.T) {
	ref := bursts(40000)
	const delay = 480
	// zeroFrames silences every n-th 20 ms frame of a delayed copy, as a
	// receiver does for each chunk it lost.
	zeroFrames := func(n int) []int16 {
		g := shift(ref, delay)
		for fr := 0; fr*FrameSamples < len(ref); fr += n {
			for i := delay + fr*FrameSamples; i < delay+(fr+1)*FrameSamples && i < len(g); i++ {
				g[i] = 0
			}
		}
		return g
	}
	tests := []struct {
		name           string
		received       []int16
		minSNR, maxSNR float64
		minSeg, maxSeg float64
		minLSD, maxLSD float64
	}{
		{"exact copy", shift(ref, delay), math.Inf(1), math.Inf(1), 35, 35, 0, 0},
		// a tenth of the frames missing: about a tenth of the energy is error, 10 dB
		{"every 10th frame lost", zeroFrames(10), 8, 12, 20, 33, 1, 10},
		{"every 3rd frame lost", zeroFrames(3), 3, 6, 5, 25, 5, 20},
		{"nothing received", nil, 0, 0, 0, 0, 20, 60}, // every frame all error: 0 dB
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := CompareWhole(ref, tt.received, 2000)
			if f.SNR < tt.minSNR || f.SNR > tt.maxSNR || f.SegmentalSNR < tt.minSeg || f.SegmentalSNR > tt.maxSeg ||
				f.SpectralDistance < tt.minLSD || f.SpectralDistance > tt.maxLSD {
				t.Errorf("SNR %.2f dB (want %g..%g), segmental %.2f dB (want %g..%g), spectral distance %.2f dB (want %g..%g)",
					f.SNR, tt.minSNR, tt.maxSNR, f.SegmentalSNR, tt.minSeg, tt.maxSeg, f.SpectralDistance, tt.minLSD, tt.maxLSD)
			}
			t.Logf("SNR %.2f dB, segmental %.2f dB, spectral distance %.2f dB", f.SNR, f.SegmentalSNR, f.SpectralDistance)
			if tt.received != nil && f.Lag != delay {
				t.Errorf("lag %d, want %d", f.Lag, delay)
			}
		})
	}
	// Compare, which leaves gaps out, sees no difference the gaps make.
	if r := Compare(ref, zeroFrames(10), 2000, 40); r.SNR < 100 {
		t.Errorf("Compare SNR %.1f with gaps only, want them left out", r.SNR)
	}
}
