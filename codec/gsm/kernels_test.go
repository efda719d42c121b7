package gsm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The encoder's inner loops are restructured for speed (pairs of sums in one
// 64-bit accumulator, symmetric taps, plain instead of saturating arithmetic
// where the spec's ranges rule out overflow). These tests hold each to a
// literal transcription of the spec's pseudo-code, with its saturating
// operators, on inputs that push those ranges to their limits.

// refAutocorrelation is section 4.2.4 as written.
func refAutocorrelation(s *[FrameSamples]int16, acf *[9]int32) {
	var smax int16
	for _, v := range s {
		if t := abs(v); t > smax {
			smax = t
		}
	}
	scalauto := 0
	if smax != 0 {
		scalauto = 4 - norm(int32(smax)<<16)
	}
	if scalauto > 0 {
		temp := int16(16384 >> (scalauto - 1))
		for k := range s {
			s[k] = multR(s[k], temp)
		}
	}
	for k := 0; k <= 8; k++ {
		acf[k] = 0
		for i := k; i <= 159; i++ {
			acf[k] = lAdd(acf[k], lMult(s[i], s[i-k]))
		}
	}
	if scalauto > 0 {
		for k := range s {
			s[k] = s[k] << scalauto
		}
	}
}

// refLTPParameters is section 4.2.11 as written, dp[-120..-1] being past.
func refLTPParameters(d *[subframeSamples]int16, past *[historySamples]int16) (nc, bc int16) {
	dp := func(i int) int16 { return past[historySamples+i] }
	var dmax int16
	for _, v := range d {
		if t := abs(v); t > dmax {
			dmax = t
		}
	}
	temp := 0
	if dmax != 0 {
		temp = norm(int32(dmax) << 16)
	}
	scal := 0
	if temp <= 6 {
		scal = 6 - temp
	}
	var wt [40]int16
	for k := range wt {
		wt[k] = d[k] >> scal
	}
	var lmax int32
	nc = 40
	for lambda := 40; lambda <= 120; lambda++ {
		var l int32
		for k := 0; k <= 39; k++ {
			l = lAdd(l, lMult(wt[k], dp(k-lambda)))
		}
		if l > lmax {
			nc, lmax = int16(lambda), l
		}
	}
	lmax >>= 6 - scal
	var lpower int32
	for k := 0; k <= 39; k++ {
		t := dp(k-int(nc)) >> 3
		lpower = lAdd(lpower, lMult(t, t))
	}
	if lmax <= 0 {
		return nc, 0
	}
	if lmax >= lpower {
		return nc, 3
	}
	temp = norm(lpower)
	r := int16(lmax << temp >> 16)
	s := int16(lpower << temp >> 16)
	for bc = 0; bc <= 2; bc++ {
		if r <= mult(s, gainDLB[bc]) {
			break
		}
	}
	return nc, bc
}

// refWeightingFilter is section 4.2.13 as written.
func refWeightingFilter(e, x *[subframeSamples]int16) {
	var wt [50]int16
	copy(wt[5:45], e[:])
	for k := 0; k <= 39; k++ {
		l := int32(8192)
		for i := 0; i <= 10; i++ {
			l = lAdd(l, lMult(wt[k+i], weightingH[i]))
		}
		l = lAdd(l, l)
		l = lAdd(l, l)
		x[k] = int16(l >> 16)
	}
}

// extremeSignals fills buffers of n samples in ways that reach the limits:
// full-scale noise, constant extremes, alternation, small values.
func extremeSignals(n int, rng *rand.Rand) [][]int16 {
	gen := func(f func(i int) int16) []int16 {
		v := make([]int16, n)
		for i := range v {
			v[i] = f(i)
		}
		return v
	}
	return [][]int16{
		gen(func(int) int16 { return int16(rng.Uint32()) }),
		gen(func(int) int16 { return math.MinInt16 }),
		gen(func(int) int16 { return math.MaxInt16 }),
		gen(func(i int) int16 { return [2]int16{math.MinInt16, math.MaxInt16}[i%2] }),
		gen(func(i int) int16 { return [3]int16{math.MinInt16, math.MinInt16, math.MaxInt16}[i%3] }),
		gen(func(int) int16 { return int16(rng.IntN(511) - 255) }),
		gen(func(int) int16 { return int16(rng.IntN(3) - 1) }),
		gen(func(int) int16 { return int16(rng.IntN(4096) - 2048) }),
		gen(func(int) int16 { return int16(rng.NormFloat64() * 12000) }),
		make([]int16, n),
	}
}

func TestAutocorrelationMatchesSpec(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	for round := range 50 {
		for i, sig := range extremeSignals(FrameSamples, rng) {
			var s, ref [FrameSamples]int16
			copy(s[:], sig)
			ref = s
			var got, want [9]int32
			autocorrelation(&s, &got)
			refAutocorrelation(&ref, &want)
			if got != want || s != ref {
				t.Fatalf("round %d signal %d: acf %v, want %v (rescaled signal equal: %v)", round, i, got, want, s == ref)
			}
		}
	}
}

func TestLTPParametersMatchSpec(t *testing.T) {
	rng := rand.New(rand.NewPCG(10, 11))
	for round := range 20 {
		residuals := extremeSignals(subframeSamples, rng)
		histories := extremeSignals(historySamples, rng)
		for i, dv := range residuals {
			for j, pv := range histories {
				d := [subframeSamples]int16(dv)
				past := [historySamples]int16(pv)
				lag, gain := ltpParameters(&d, &past)
				wantLag, wantGain := refLTPParameters(&d, &past)
				if lag != wantLag || gain != wantGain {
					t.Fatalf("round %d, residual %d, history %d: Nc %d bc %d, want Nc %d bc %d", round, i, j, lag, gain, wantLag, wantGain)
				}
			}
		}
	}
}

func TestWeightingFilterMatchesSpec(t *testing.T) {
	rng := rand.New(rand.NewPCG(12, 13))
	for round := range 50 {
		for i, sig := range extremeSignals(subframeSamples, rng) {
			e := [subframeSamples]int16(sig)
			var got, want [subframeSamples]int16
			weightingFilter(&e, &got)
			refWeightingFilter(&e, &want)
			if got != want {
				t.Fatalf("round %d signal %d: x %v, want %v", round, i, got, want)
			}
		}
	}
}

func TestPairing(t *testing.T) {
	// The extreme sums two accumulators must carry: 40 (or 160) products of
	// the largest magnitudes the callers allow.
	tests := []struct{ low, high int32 }{
		{0, 0}, {1, -1}, {-1, 1}, {-1, -1},
		{40 * 512 * 32768, -40 * 512 * 32768},
		{-40 * 512 * 32768, 40 * 512 * 32768},
		{160 * 2048 * 2048, -160 * 2048 * 2048},
		{math.MaxInt32, math.MinInt32}, {math.MinInt32, math.MaxInt32},
	}
	for _, tt := range tests {
		s := int64(tt.low) + int64(tt.high)<<32
		if low, high := unpair(s); low != tt.low || high != tt.high {
			t.Errorf("unpair(%d + %d<<32) = %d, %d", tt.low, tt.high, low, high)
		}
	}
	// Accumulating products of pairs gives the two sums of products.
	rng := rand.New(rand.NewPCG(14, 15))
	for range 1000 {
		var acc int64
		var wantLow, wantHigh int32
		for range 40 {
			w := int64(rng.IntN(1025) - 512)
			a, b := int16(rng.Uint32()), int16(rng.Uint32())
			acc += w * pair(a, b)
			wantLow += int32(w) * int32(a)
			wantHigh += int32(w) * int32(b)
		}
		if low, high := unpair(acc); low != wantLow || high != wantHigh {
			t.Fatalf("unpair = %d, %d; want %d, %d", low, high, wantLow, wantHigh)
		}
	}
}
