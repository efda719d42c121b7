package gsm

import (
	"fmt"
	"slices"
)

// An Encoder codes 16-bit linear PCM into GSM 06.10 frames. It keeps the
// filter memories of section 4.2 between frames, so use one Encoder per
// stream. The zero value is ready to use and equivalent to NewEncoder().
type Encoder struct {
	// Preprocessing (4.2.2, 4.2.3): offset compensation and pre-emphasis.
	z1  int16
	lz2 int32
	mp  int16
	// Short-term analysis filter memory (4.2.10).
	u [8]int16
	// LARpp of the previous frame, for interpolation (4.2.9.1).
	larpp [8]int16
	// dp holds the reconstructed short-term residual: dp[0:120] are the 120
	// samples before the current sub-segment (dp[-120..-1] in the spec) and
	// dp[120:160] the current sub-segment while it is being coded.
	dp [historySamples + subframeSamples]int16
}

// historySamples is how far back the long-term predictor looks: its largest lag.
const historySamples = maxLag

// The range of the long-term predictor's lag Nc.
const (
	minLag = 40
	maxLag = 120
)

// NewEncoder returns an encoder in the reset state of GSM 06.10 (all memories zero).
func NewEncoder() *Encoder { return &Encoder{} }

// Reset returns the encoder to the reset state, as a new one starts.
func (e *Encoder) Reset() { *e = Encoder{} }

// Encode appends the coding of pcm to dst and returns the extended slice:
// FrameSize bytes for every FrameSamples samples. Like libgsm, it uses the 13
// most significant bits of each sample. len(pcm) must be a multiple of
// FrameSamples; pad a final partial frame with zeros (as toast does).
func (e *Encoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	if len(pcm)%FrameSamples != 0 {
		return dst, fmt.Errorf("gsm: encode: %d samples is not a whole number of %d-sample frames", len(pcm), FrameSamples)
	}
	frames := len(pcm) / FrameSamples
	dst = slices.Grow(dst, frames*FrameSize)
	for f := range frames {
		n := len(dst)
		dst = dst[:n+FrameSize]
		e.encodeFrame((*[FrameSamples]int16)(pcm[f*FrameSamples:]), (*[FrameSize]byte)(dst[n:]))
	}
	return dst, nil
}

// encodeFrame codes one frame (GSM 06.10 section 4.2).
func (e *Encoder) encodeFrame(pcm *[FrameSamples]int16, out *[FrameSize]byte) {
	var (
		s      [FrameSamples]int16
		d      [FrameSamples]int16
		params frameParams
	)
	e.preprocess(pcm, &s)
	lpcAnalysis(&s, &params.lar)
	var larpp [8]int16
	decodeLARs(&params.lar, &larpp)
	e.shortTermAnalysis(&s, &larpp, &d)
	e.larpp = larpp
	for j := range subframes {
		e.encodeSubframe((*[subframeSamples]int16)(d[j*subframeSamples:]), &params.sub[j])
	}
	params.pack(out)
}

// preprocess downscales pcm to 13 bits and applies offset compensation
// (4.2.2) and pre-emphasis (4.2.3), writing the result to s.
func (e *Encoder) preprocess(pcm, s *[FrameSamples]int16) {
	z1, lz2, mp := e.z1, e.lz2, e.mp
	for k, sample := range pcm {
		so := sample >> 3 << 2
		// Offset compensation: a high-pass filter with its pole at
		// 32735/32768, its state lz2 held in 32 bits as msp*2^15 + lsp.
		s1 := so - z1 // cannot overflow: so is 14-bit
		z1 = so
		ls2 := int32(s1) << 15
		msp := int16(lz2 >> 15)
		lsp := int16(lz2 - int32(msp)<<15)
		ls2 += int32(multR(lsp, 32735))
		lz2 = lAdd(lMult(msp, 32735)>>1, ls2)
		sof := int16(lAdd(lz2, 1<<14) >> 15)
		// Pre-emphasis: s = sof - 0.86*sof[k-1].
		s[k] = add(sof, multR(mp, -28180))
		mp = sof
	}
	e.z1, e.lz2, e.mp = z1, lz2, mp
}

// lpcAnalysis computes the coded log-area ratios LARc[1..8] of s
// (4.2.4-4.2.7). As the spec does, it scales s in place for the
// autocorrelation and back, which drops low bits the later filtering sees.
func lpcAnalysis(s *[FrameSamples]int16, larc *[8]int16) {
	var acf [9]int32
	autocorrelation(s, &acf)
	var r [8]int16
	reflectionFromACF(&acf, &r)
	for i, ri := range r {
		// Transformation into log-area ratios (4.2.6).
		t := abs(ri)
		switch {
		case t < 22118:
			t >>= 1
		case t < 31130:
			t -= 11059
		default:
			t = (t - 26112) << 2
		}
		if ri < 0 {
			t = -t
		}
		// Quantisation and coding (4.2.7).
		t = add(mult(larA[i], t), larB[i])
		c := add(t, 256) >> 9
		c = max(larMIC[i], min(larMAC[i], c))
		larc[i] = c - larMIC[i]
	}
}

// autocorrelation computes acf[0..8] of s with the dynamic scaling of 4.2.4.
func autocorrelation(s *[FrameSamples]int16, acf *[9]int32) {
	var smax int16
	for _, v := range s {
		smax = max(smax, abs(v))
	}
	scale := 0
	if smax != 0 {
		scale = 4 - norm(int32(smax)<<16)
	}
	if scale > 0 {
		factor := int16(16384 >> (scale - 1))
		for k, v := range s {
			s[k] = multR(v, factor)
		}
	}
	// With s scaled to at most 2^11 in magnitude, a sum of 160 products
	// stays below 2^30, so the spec's saturating L_mult and L_add reduce to
	// plain arithmetic with the doubling folded into the end, and the lags
	// can be summed two to an accumulator (see pair): lags 0 and 1, 2 and 3,
	// 4 and 5, 6 and 7, then 8 (with 9, unused).
	const lags = len(acf)
	// pairs[lags+i] holds s[i] (low) and s[i-1] (high), taking s as zero
	// before s[0]; at step i, pairs[lags+i-j] brings in lags j and j+1.
	var pairs [lags + FrameSamples]int64
	pairs[lags] = pair(s[0], 0)
	for i := 1; i < FrameSamples; i++ {
		pairs[lags+i] = pair(s[i], s[i-1])
	}
	var s01, s23, s45, s67, s89 int64
	for i, v := range s {
		v := int64(v)
		q := (*[lags + 1]int64)(pairs[i:])
		s01 += v * q[lags]
		s23 += v * q[lags-2]
		s45 += v * q[lags-4]
		s67 += v * q[lags-6]
		s89 += v * q[lags-8]
	}
	for i, sum := range [...]int64{s01, s23, s45, s67, s89} {
		low, high := unpair(sum)
		acf[2*i] = low << 1
		if 2*i+1 < lags {
			acf[2*i+1] = high << 1
		}
	}
	if scale > 0 {
		for k, v := range s {
			s[k] = v << scale
		}
	}
}

// reflectionFromACF computes the reflection coefficients r[1..8] from the
// autocorrelation by the Schur recursion (4.2.5).
func reflectionFromACF(lacf *[9]int32, r *[8]int16) {
	*r = [8]int16{}
	if lacf[0] == 0 {
		return
	}
	shift := norm(lacf[0])
	var acf [9]int16
	for k, v := range lacf {
		acf[k] = int16(v << shift >> 16)
	}
	// p[0..8] and k[1..8] of the spec; k[9-i] starts as acf[i] for i = 1..7.
	var p, kk [9]int16
	p = acf
	for i := 1; i <= 7; i++ {
		kk[9-i] = acf[i]
	}
	for n := 1; n <= 8; n++ {
		t := abs(p[1])
		if p[0] < t {
			return // r[n..8] stay zero
		}
		rn := div(t, p[0])
		if p[1] > 0 {
			rn = -rn
		}
		r[n-1] = rn
		if n == 8 {
			return
		}
		p[0] = add(p[0], multR(p[1], rn))
		for m := 1; m <= 8-n; m++ {
			p[m] = add(p[m+1], multR(kk[9-m], rn))
			kk[9-m] = add(kk[9-m], multR(p[m+1], rn))
		}
	}
}

// shortTermAnalysis filters s through the lattice inverse filter of 4.2.10,
// with coefficients interpolated per segment from e.larpp and larpp, giving
// the short-term residual d.
func (e *Encoder) shortTermAnalysis(s *[FrameSamples]int16, larpp *[8]int16, d *[FrameSamples]int16) {
	// The eight lattice stages are written out with the memory in locals,
	// which keeps it in registers: this filter is on the encoder's hot path.
	u0, u1, u2, u3, u4, u5, u6, u7 := e.u[0], e.u[1], e.u[2], e.u[3], e.u[4], e.u[5], e.u[6], e.u[7]
	start := 0
	for seg, end := range segmentEnds {
		var rp [8]int16
		reflectionCoefficients(seg, &e.larpp, larpp, &rp)
		for k := start; k < end; k++ {
			di := s[k]
			sav := di
			di, sav, u0 = add(di, multR(rp[0], u0)), add(u0, multR(rp[0], di)), sav
			di, sav, u1 = add(di, multR(rp[1], u1)), add(u1, multR(rp[1], di)), sav
			di, sav, u2 = add(di, multR(rp[2], u2)), add(u2, multR(rp[2], di)), sav
			di, sav, u3 = add(di, multR(rp[3], u3)), add(u3, multR(rp[3], di)), sav
			di, sav, u4 = add(di, multR(rp[4], u4)), add(u4, multR(rp[4], di)), sav
			di, sav, u5 = add(di, multR(rp[5], u5)), add(u5, multR(rp[5], di)), sav
			di, sav, u6 = add(di, multR(rp[6], u6)), add(u6, multR(rp[6], di)), sav
			di, u7 = add(di, multR(rp[7], u7)), sav
			d[k] = di
		}
		start = end
	}
	e.u = [8]int16{u0, u1, u2, u3, u4, u5, u6, u7}
}

// encodeSubframe codes one 40-sample sub-segment of the short-term residual d
// (4.2.11-4.2.18) into sp and updates the reconstructed residual history.
func (e *Encoder) encodeSubframe(d *[subframeSamples]int16, sp *subframeParams) {
	past := (*[historySamples]int16)(e.dp[:historySamples])
	lag, gain := ltpParameters(d, past)
	sp.lag, sp.gain = lag, gain

	// Long-term analysis filtering (4.2.12): subtract the prediction dpp.
	var dpp, res [subframeSamples]int16
	bp := gainQLB[gain]
	for k := range dpp {
		dpp[k] = multR(bp, e.dp[historySamples+k-int(lag)])
		res[k] = sub(d[k], dpp[k])
	}

	// RPE encoding (4.2.13-4.2.17).
	var x [subframeSamples]int16
	weightingFilter(&res, &x)
	grid := gridSelection(&x)
	var xm [rpePulses]int16
	for i := range xm {
		xm[i] = x[int(grid)+3*i]
	}
	sp.grid = grid
	var exp, mant int16
	sp.xmax, exp, mant = apcmQuantize(&xm, &sp.pulses)
	var xmp [rpePulses]int16
	apcmDequantize(&sp.pulses, exp, mant, &xmp)

	// Update of the reconstructed short-term residual (4.2.18): the
	// positioned RPE pulses (zero between grid points) plus the prediction.
	cur := e.dp[historySamples:]
	copy(cur, dpp[:])
	for i, v := range xmp {
		k := int(grid) + 3*i
		cur[k] = add(v, dpp[k])
	}
	copy(e.dp[:historySamples], e.dp[subframeSamples:])
}

// ltpParameters finds the long-term predictor's lag Nc and coded gain bc for
// the sub-segment d given the reconstructed residual of the 120 samples
// before it (4.2.11).
func ltpParameters(d *[subframeSamples]int16, past *[historySamples]int16) (lag, gain int16) {
	var dmax int16
	for _, v := range d {
		dmax = max(dmax, abs(v))
	}
	scale := 0
	if dmax != 0 {
		if t := norm(int32(dmax) << 16); t <= 6 {
			scale = 6 - t
		}
	}
	var wt [subframeSamples]int32
	for k, v := range d {
		wt[k] = int32(v >> scale)
	}
	lag, lmax := crossCorrelationPeak(&wt, past)
	lmax >>= 6 - scale
	// The power of the 40 past samples at 13 bits stays below 2^31, so
	// plain arithmetic does what the spec's L_mult and L_add do.
	var power int32
	for _, v := range past[historySamples-int(lag):][:subframeSamples] {
		v >>= 3
		power += int32(v) * int32(v) << 1
	}
	switch {
	case lmax <= 0:
		return lag, 0
	case lmax >= power:
		return lag, 3
	}
	shift := norm(power)
	r := int16(lmax << shift >> 16)
	s := int16(power << shift >> 16)
	for bc, dlb := range gainDLB[:3] {
		if r <= mult(s, dlb) {
			return lag, int16(bc)
		}
	}
	return lag, 3
}

// crossCorrelationPeak finds the lag in [minLag, maxLag] whose
// cross-correlation of wt with the past residual is greatest (the first such
// lag if several tie, minLag if none is positive) and that correlation, on
// the spec's L_mult scale.
//
// The values of wt are at most 2^9 in magnitude and the past residual's
// 2^15, so a sum of 40 products stays below 2^30 in magnitude: the spec's
// saturating L_mult and L_add reduce to plain arithmetic, with the doubling
// folded into the end, and two such sums can share one 64-bit accumulator
// (see pair). Each pass correlates eight lags: four pairs.
func crossCorrelationPeak(wt *[subframeSamples]int32, past *[historySamples]int16) (lag int16, peak int32) {
	// pairs[j] holds past[j+1] (low) and past[j] (high): multiplied by
	// wt[k] with j = historySamples-1-lambda+k it adds to the sums of lags
	// lambda (low) and lambda+1 (high).
	var pairs [historySamples - 1]int64
	for j := range pairs {
		pairs[j] = pair(past[j+1], past[j])
	}
	lag = minLag
	consider := func(lambda int, sum int32) {
		if sum<<1 > peak {
			lag, peak = int16(lambda), sum<<1
		}
	}
	const block = 8 // lags per pass; (maxLag - minLag) is a multiple
	lambda := minLag
	for ; lambda+block-1 <= maxLag; lambda += block {
		// q[k+6], q[k+4], q[k+2], q[k] pair wt[k] with the samples lags
		// lambda, lambda+2, lambda+4 and lambda+6 (and one more) before it.
		q := (*[subframeSamples + block - 2]int64)(pairs[historySamples-1-lambda-(block-2):])
		var s01, s23, s45, s67 int64
		for k, w := range wt {
			w := int64(w)
			s01 += w * q[k+6]
			s23 += w * q[k+4]
			s45 += w * q[k+2]
			s67 += w * q[k]
		}
		for i, s := range [4]int64{s01, s23, s45, s67} {
			low, high := unpair(s)
			consider(lambda+2*i, low)
			consider(lambda+2*i+1, high)
		}
	}
	for ; lambda <= maxLag; lambda++ {
		p := (*[subframeSamples]int16)(past[historySamples-lambda:])
		var sum int32
		for k, w := range wt {
			sum += w * int32(p[k])
		}
		consider(lambda, sum)
	}
	return lag, peak
}

// pair packs two 16-bit values into one int64, low + high*2^32, so that one
// 64-bit multiply-add accumulates two products. Sums of such products stay
// exact as long as each of the two sums stays within 32 bits; unpair then
// recovers them.
func pair(low, high int16) int64 { return int64(low) + int64(high)<<32 }

// unpair splits an accumulated pair back into its two 32-bit sums.
func unpair(s int64) (low, high int32) {
	low = int32(s)
	return low, int32((s - int64(low)) >> 32)
}

// weightingFilter convolves the LTP residual e with the weighting filter's
// impulse response (4.2.13), e being zero outside the sub-segment.
//
// The spec sums the doubled products (L_mult) onto a rounding constant of
// 8192, doubles twice with saturation and keeps the high word; that equals
// the plain sum rounded at bit 13 and saturated to 16 bits, which is what
// this computes. The sum itself cannot overflow 32 bits (|e| <= 2^15 and the
// taps' magnitudes add up to 24798). The response is symmetric with two zero
// taps, so mirrored samples share a multiplication.
func weightingFilter(e, x *[subframeSamples]int16) {
	const half = len(weightingH) / 2
	var padded [subframeSamples + 2*half]int32
	for k, v := range e {
		padded[half+k] = int32(v)
	}
	h0, h1, h3, h4, h5 := int32(weightingH[0]), int32(weightingH[1]), int32(weightingH[3]), int32(weightingH[4]), int32(weightingH[5])
	for k := range x {
		w := (*[len(weightingH)]int32)(padded[k:])
		sum := h0*(w[0]+w[10]) + h1*(w[1]+w[9]) + h3*(w[3]+w[7]) + h4*(w[4]+w[6]) + h5*w[5]
		x[k] = saturate((sum + 1<<12) >> 13)
	}
}

// gridSelection picks the RPE grid Mc: the decimation phase of x with the
// most energy (4.2.14).
func gridSelection(x *[subframeSamples]int16) int16 {
	// 13 squares of 14-bit values, doubled, stay below 2^31: plain
	// arithmetic does what the spec's L_mult and L_add do.
	var best int32
	var grid int16
	for m := range 4 {
		var energy int32
		for i := range rpePulses {
			v := x[m+3*i] >> 2
			energy += int32(v) * int32(v) << 1
		}
		if energy > best {
			grid, best = int16(m), energy
		}
	}
	return grid
}

// apcmQuantize codes the block maximum of xm as xmaxc and the pulses as
// 3-bit xMc (4.2.15); it also returns the exponent and mantissa of xmaxc as
// the decoder will see them.
func apcmQuantize(xm *[rpePulses]int16, xmc *[rpePulses]int16) (xmaxc, exp, mant int16) {
	var xmax int16
	for _, v := range xm {
		xmax = max(xmax, abs(v))
	}
	// The exponent is the bit length of xmax>>9, at most 6.
	exp = 0
	for t := xmax >> 9; t > 0 && exp < 6; t >>= 1 {
		exp++
	}
	xmaxc = add(xmax>>(exp+5), exp<<3)
	exp, mant = xmaxExponentMantissa(xmaxc)
	shift := 6 - exp
	inv := mantNRFAC[mant]
	for i, v := range xm {
		t := mult(int16(int32(v)<<shift), inv)
		xmc[i] = (t >> 12) + 4
	}
	return xmaxc, exp, mant
}

// xmaxExponentMantissa splits the coded block maximum into the exponent
// and the 3-bit normalised mantissa that scale the RPE pulses (4.2.15).
func xmaxExponentMantissa(xmaxc int16) (exp, mant int16) {
	if xmaxc > 15 {
		exp = xmaxc>>3 - 1
	}
	mant = xmaxc - exp<<3
	if mant == 0 {
		return -4, 7
	}
	for mant <= 7 {
		mant = mant<<1 | 1
		exp--
	}
	return exp, mant - 8
}

// apcmDequantize reconstructs the RPE pulses xMp from their codes (4.2.16).
func apcmDequantize(xmc *[rpePulses]int16, exp, mant int16, xmp *[rpePulses]int16) {
	fac := mantFAC[mant]
	shift := 6 - exp
	var round int16
	if shift > 0 {
		round = 1 << (shift - 1)
	}
	for i, c := range xmc {
		t := (c<<1 - 7) << 12
		t = add(multR(fac, t), round)
		xmp[i] = t >> shift
	}
}
