package gsm

// The 33-byte frame of libgsm and RFC 3551 section 4.5.8: a 4-bit signature
// 0xD, then the 76 parameters of GSM 06.10 table 1.1 (260 bits) in order,
// each most significant bit first, packed from the most significant bit of
// the first byte on.

const (
	// frameMagic is the signature in the high nibble of every frame's first byte.
	frameMagic = 0xD
	// subframes is the number of 40-sample sub-segments in a frame.
	subframes = 4
	// subframeSamples is the length of one sub-segment.
	subframeSamples = FrameSamples / subframes
	// rpePulses is the number of RPE pulses per sub-segment.
	rpePulses = 13
)

// larBits is the width of each coded log-area ratio LARc[1..8].
var larBits = [8]uint{6, 6, 5, 5, 4, 4, 3, 3}

// The widths of the per-sub-segment parameters.
const (
	lagBits   = 7 // Nc, LTP lag
	gainBits  = 2 // bc, LTP gain
	gridBits  = 2 // Mc, RPE grid position
	xmaxBits  = 6 // xmaxc, block amplitude
	pulseBits = 3 // xMc[i], RPE pulse
)

// subframeParams are the coded parameters of one 40-sample sub-segment.
type subframeParams struct {
	lag, gain, grid, xmax int16 // Nc, bc, Mc, xmaxc
	pulses                [rpePulses]int16
}

// frameParams are the 76 coded parameters of one frame.
type frameParams struct {
	lar [8]int16 // LARc[1..8]
	sub [subframes]subframeParams
}

// bitWriter packs fields most significant bit first.
type bitWriter struct {
	out   *[FrameSize]byte
	acc   uint32 // pending bits, right-aligned
	nbits uint
	pos   int
}

func (w *bitWriter) put(v int16, width uint) {
	w.acc = w.acc<<width | uint32(v)&(1<<width-1)
	w.nbits += width
	for w.nbits >= 8 {
		w.nbits -= 8
		w.out[w.pos] = byte(w.acc >> w.nbits)
		w.pos++
	}
}

// pack writes p as one frame into out.
func (p *frameParams) pack(out *[FrameSize]byte) {
	w := bitWriter{out: out}
	w.put(frameMagic, 4)
	for i, v := range p.lar {
		w.put(v, larBits[i])
	}
	for s := range p.sub {
		sp := &p.sub[s]
		w.put(sp.lag, lagBits)
		w.put(sp.gain, gainBits)
		w.put(sp.grid, gridBits)
		w.put(sp.xmax, xmaxBits)
		for _, v := range sp.pulses {
			w.put(v, pulseBits)
		}
	}
}

// bitReader unpacks fields most significant bit first.
type bitReader struct {
	in    *[FrameSize]byte
	acc   uint32
	nbits uint
	pos   int
}

func (r *bitReader) get(width uint) int16 {
	for r.nbits < width {
		r.acc = r.acc<<8 | uint32(r.in[r.pos])
		r.pos++
		r.nbits += 8
	}
	r.nbits -= width
	return int16(r.acc >> r.nbits & (1<<width - 1))
}

// unpack reads the parameters of the frame in; the caller has checked its
// signature.
func (p *frameParams) unpack(in *[FrameSize]byte) {
	r := bitReader{in: in}
	r.get(4) // signature
	for i := range p.lar {
		p.lar[i] = r.get(larBits[i])
	}
	for s := range p.sub {
		sp := &p.sub[s]
		sp.lag = r.get(lagBits)
		sp.gain = r.get(gainBits)
		sp.grid = r.get(gridBits)
		sp.xmax = r.get(xmaxBits)
		for i := range sp.pulses {
			sp.pulses[i] = r.get(pulseBits)
		}
	}
}
