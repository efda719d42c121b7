package gsm

// The log-area-ratio steps that encoder and decoder share: decoding the coded
// LARs (section 4.2.8) and, per segment of the frame, interpolating them with
// the previous frame's and turning them into reflection coefficients (4.2.9).

// decodeLARs computes LARpp[1..8] from the coded LARc[1..8].
func decodeLARs(larc *[8]int16, larpp *[8]int16) {
	for i := range larpp {
		t := add(larc[i], larMIC[i]) << 10
		t = sub(t, larB[i]<<1)
		t = multR(larINVA[i], t)
		larpp[i] = add(t, t)
	}
}

// The four segments of a frame over which the LARs are interpolated
// (section 4.2.9.1): samples 0..12, 13..26, 27..39 and 40..159.
var segmentEnds = [4]int{13, 27, 40, FrameSamples}

// reflectionCoefficients computes the coefficients rp[1..8] for segment seg
// from the previous frame's LARpp and this frame's.
func reflectionCoefficients(seg int, prev, cur *[8]int16, rp *[8]int16) {
	for i := range rp {
		var larp int16
		switch seg {
		case 0:
			larp = add(add(prev[i]>>2, cur[i]>>2), prev[i]>>1)
		case 1:
			larp = add(prev[i]>>1, cur[i]>>1)
		case 2:
			larp = add(add(prev[i]>>2, cur[i]>>2), cur[i]>>1)
		default:
			larp = cur[i]
		}
		rp[i] = larToReflection(larp)
	}
}

// larToReflection is the piecewise-linear inverse of the LAR transformation
// (section 4.2.9.2).
func larToReflection(larp int16) int16 {
	t := abs(larp)
	switch {
	case t < 11059:
		t <<= 1
	case t < 20070:
		t += 11059
	default:
		t = add(t>>2, 26112)
	}
	if larp < 0 {
		return -t
	}
	return t
}
