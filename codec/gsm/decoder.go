package gsm

import (
	"errors"
	"fmt"
	"slices"
)

// ErrMalformedFrame is returned (wrapped) for a payload that is not a whole
// number of 33-byte frames each starting with the 0xD signature.
var ErrMalformedFrame = errors.New("malformed GSM frame")

// A Decoder turns GSM 06.10 frames back into 16-bit linear PCM. It keeps the
// filter memories of section 4.3 between frames, so use one Decoder per
// stream. The zero value is ready to use and equivalent to NewDecoder().
type Decoder struct {
	// v is the short-term synthesis filter memory (4.3.4).
	v [8]int16
	// larpp holds the previous frame's decoded LARs, for interpolation.
	larpp [8]int16
	// drp holds the reconstructed short-term residual: drp[0:120] the 120
	// samples before the current sub-segment, drp[120:160] the current one.
	drp [historySamples + subframeSamples]int16
	// lastLag is the last valid LTP lag (nrp), used when a frame's lag is out
	// of range; 0 stands for the spec's initial value of 40.
	lastLag int16
	// msr is the de-emphasis filter memory (4.3.5).
	msr int16
}

// NewDecoder returns a decoder in the reset state of GSM 06.10.
func NewDecoder() *Decoder { return &Decoder{} }

// Reset returns the decoder to the reset state, as a new one starts.
func (d *Decoder) Reset() { *d = Decoder{} }

// Samples reports how many samples payload decodes to: FrameSamples per
// frame. It returns an error wrapping ErrMalformedFrame unless payload is a
// whole number of FrameSize-byte frames each with the 0xD signature.
func (d *Decoder) Samples(payload []byte) (int, error) {
	if len(payload)%FrameSize != 0 {
		return 0, fmt.Errorf("gsm: %d bytes is not a whole number of %d-byte frames: %w", len(payload), FrameSize, ErrMalformedFrame)
	}
	for f := 0; f < len(payload); f += FrameSize {
		if magic := payload[f] >> 4; magic != frameMagic {
			return 0, fmt.Errorf("gsm: frame %d (byte %d) has signature 0x%X, not 0x%X: %w", f/FrameSize, f, magic, frameMagic, ErrMalformedFrame)
		}
	}
	return len(payload) / FrameSize * FrameSamples, nil
}

// Decode appends the samples of payload to dst and returns the extended
// slice. If payload is malformed (see Samples) it decodes nothing, leaves the
// decoder's state alone and returns dst unchanged with the error.
func (d *Decoder) Decode(dst []int16, payload []byte) ([]int16, error) {
	n, err := d.Samples(payload)
	if err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, n)
	for f := 0; f < len(payload); f += FrameSize {
		m := len(dst)
		dst = dst[:m+FrameSamples]
		d.decodeFrame((*[FrameSize]byte)(payload[f:]), (*[FrameSamples]int16)(dst[m:]))
	}
	return dst, nil
}

// decodeFrame decodes one frame (GSM 06.10 section 4.3).
func (d *Decoder) decodeFrame(in *[FrameSize]byte, out *[FrameSamples]int16) {
	var params frameParams
	params.unpack(in)
	for j := range subframes {
		d.decodeSubframe(&params.sub[j], (*[subframeSamples]int16)(out[j*subframeSamples:]))
	}
	var larpp [8]int16
	decodeLARs(&params.lar, &larpp)
	d.shortTermSynthesis(&larpp, out)
	d.larpp = larpp
	d.postprocess(out)
}

// decodeSubframe reconstructs one sub-segment of the short-term residual
// (4.3.1, 4.3.2) into drp and updates the history.
func (d *Decoder) decodeSubframe(sp *subframeParams, drp *[subframeSamples]int16) {
	// RPE decoding: the pulses on their grid, zero between.
	exp, mant := xmaxExponentMantissa(sp.xmax)
	var xmp [rpePulses]int16
	apcmDequantize(&sp.pulses, exp, mant, &xmp)
	var erp [subframeSamples]int16
	for i, v := range xmp {
		erp[int(sp.grid)+3*i] = v
	}

	// Long-term synthesis filtering, keeping the last valid lag for a
	// frame whose lag is out of range.
	lag := sp.lag
	if lag < minLag || lag > maxLag {
		lag = d.lastLag
		if lag == 0 {
			lag = minLag
		}
	}
	d.lastLag = lag
	brp := gainQLB[sp.gain]
	cur := d.drp[historySamples:]
	for k := range cur {
		cur[k] = add(erp[k], multR(brp, d.drp[historySamples+k-int(lag)]))
	}
	*drp = [subframeSamples]int16(cur)
	copy(d.drp[:historySamples], d.drp[subframeSamples:])
}

// shortTermSynthesis runs s (the residual in, the speech out) through the
// lattice synthesis filter of 4.3.4 with coefficients interpolated per
// segment from d.larpp and larpp.
func (d *Decoder) shortTermSynthesis(larpp *[8]int16, s *[FrameSamples]int16) {
	start := 0
	for seg, end := range segmentEnds {
		var rrp [8]int16
		reflectionCoefficients(seg, &d.larpp, larpp, &rrp)
		synthesize(&rrp, &d.v, s[start:end])
		start = end
	}
}

// synthesize is the lattice filter of 4.3.4 over one segment: for each
// sample, from i = 8 down to 1, sri = sub(sri, mult_r(rrp[i], v[i-1])) and
// v[i] = add(v[i-1], mult_r(rrp[i], sri)), then v[0] = sri. It is the
// decoder's inner loop, unrolled with the filter memory in registers. Each
// mult_r is written out without its one special case, mult_r(-32768,
// -32768): a reflection coefficient is never -32768 (larToReflection
// returns a magnitude of at most 32767 with its sign), so the products stay
// within 32767·32768 and agree with mult_r exactly.
func synthesize(rrp *[8]int16, v *[8]int16, s []int16) {
	r0, r1, r2, r3 := int32(rrp[0]), int32(rrp[1]), int32(rrp[2]), int32(rrp[3])
	r4, r5, r6, r7 := int32(rrp[4]), int32(rrp[5]), int32(rrp[6]), int32(rrp[7])
	v0, v1, v2, v3 := int32(v[0]), int32(v[1]), int32(v[2]), int32(v[3])
	v4, v5, v6, v7 := int32(v[4]), int32(v[5]), int32(v[6]), int32(v[7])
	const round = 1 << 14
	for k, x := range s {
		sri := int32(x)
		sri = clamp(sri - (r7*v7+round)>>15)
		sri = clamp(sri - (r6*v6+round)>>15)
		v7 = clamp(v6 + (r6*sri+round)>>15)
		sri = clamp(sri - (r5*v5+round)>>15)
		v6 = clamp(v5 + (r5*sri+round)>>15)
		sri = clamp(sri - (r4*v4+round)>>15)
		v5 = clamp(v4 + (r4*sri+round)>>15)
		sri = clamp(sri - (r3*v3+round)>>15)
		v4 = clamp(v3 + (r3*sri+round)>>15)
		sri = clamp(sri - (r2*v2+round)>>15)
		v3 = clamp(v2 + (r2*sri+round)>>15)
		sri = clamp(sri - (r1*v1+round)>>15)
		v2 = clamp(v1 + (r1*sri+round)>>15)
		sri = clamp(sri - (r0*v0+round)>>15)
		v1 = clamp(v0 + (r0*sri+round)>>15)
		v0 = sri
		s[k] = int16(sri)
	}
	*v = [8]int16{int16(v0), int16(v1), int16(v2), int16(v3), int16(v4), int16(v5), int16(v6), int16(v7)}
}

// clamp saturates x to the 16-bit range, keeping it an int32. A branch
// (rarely taken, so well predicted) keeps it off the filter's dependency
// chain, where conditional moves would lengthen it.
func clamp(x int32) int32 {
	if uint32(x-minWord) > maxWord-minWord {
		if x > 0 {
			return maxWord
		}
		return minWord
	}
	return x
}

// postprocess applies de-emphasis (4.3.5), upscaling (4.3.6) and truncation
// to 13 bits (4.3.7) to the synthesised speech s.
func (d *Decoder) postprocess(s *[FrameSamples]int16) {
	msr := d.msr
	for k, v := range s {
		msr = add(v, multR(msr, 28180))
		s[k] = add(msr, msr) &^ 7
	}
	d.msr = msr
}
