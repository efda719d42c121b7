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
	v := d.v
	start := 0
	for seg, end := range segmentEnds {
		var rrp [8]int16
		reflectionCoefficients(seg, &d.larpp, larpp, &rrp)
		for k := start; k < end; k++ {
			sri := s[k]
			for i := 7; i >= 0; i-- {
				sri = sub(sri, multR(rrp[i], v[i]))
				if i < 7 {
					v[i+1] = add(v[i], multR(rrp[i], sri))
				}
			}
			v[0] = sri
			s[k] = sri
		}
		start = end
	}
	d.v = v
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
