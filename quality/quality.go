// Package quality owns voice-quality scores: the ITU-T G.107 E-model's
// transmission rating R and the mean opinion score (MOS) it predicts, from
// the codec, the packet loss and its burstiness, and the one-way delay.
//
// The formulas are those of ITU-T G.107 (06/2015). Everything but the
// codec, loss and delay is held at G.107's default values (§7.7: SLR 8 dB,
// RLR 2 dB, STMR 15 dB, LSTR 18 dB, Ds = Dr = 3, TELR 65 dB, WEPL 110 dB,
// qdu 1, Nc −70 dBm0p, Nfor −64 dBmp, Ps = Pr = 35 dB(A), mT 100 ms, sT 1),
// which describe a well-designed handset connection with echo control; with
// no loss and no delay they give R ≈ 93.2. As G.107 advises when only the
// one-way mouth-to-ear delay Ta is known, the mean one-way delay of the echo
// path T is taken as Ta and the round-trip delay in the 4-wire loop Tr as
// 2·Ta.
//
// R is a planning figure: it predicts how an average user would rate a
// connection with these properties, not how a given call sounded.
package quality

import (
	"math"
	"time"
)

// Codec is a codec's place in the E-model: its equipment impairment factor Ie
// (the loss of quality from coding alone) and its packet-loss robustness
// factor Bpl (how gracefully it degrades as packets are lost).
type Codec struct {
	Name string
	Ie   float64
	Bpl  float64
}

// Planning values from ITU-T G.113 Appendix I. Treat them as constants.
var (
	// CodecG711 is G.711 at 64 kbit/s with no packet-loss concealment:
	// Ie 0 (G.113 Table I.1), Bpl 4.3 (G.113 Table I.3, random loss).
	CodecG711 = Codec{Name: "G.711", Ie: 0, Bpl: 4.3}
	// CodecG711PLC is G.711 with the concealment of G.711 Appendix I:
	// Ie 0, Bpl 25.1 (G.113 Table I.3).
	CodecG711PLC = Codec{Name: "G.711 with PLC", Ie: 0, Bpl: 25.1}
	// CodecGSMFR is GSM 06.10 full rate, 13 kbit/s: Ie 20 (G.113 Table I.1).
	// Its Bpl of 43 is the project's planning value; G.113's Bpl table does
	// not list GSM-FR, so check it before relying on GSM-FR under loss.
	CodecGSMFR = Codec{Name: "GSM-FR", Ie: 20, Bpl: 43}
)

// ForCodec returns the planning values for a codec by its registry name
// ("PCMU", "PCMA", "GSM") and whether the receiver conceals lost packets:
// G.711 is rated with G.711 Appendix I's concealment value when it does and as
// silence when it does not; GSM-FR's own decoder handles loss either way.
func ForCodec(name string, concealed bool) Codec {
	switch {
	case name == "GSM":
		return CodecGSMFR
	case concealed:
		return CodecG711PLC
	default:
		return CodecG711
	}
}

// Input describes a one-way speech connection for R.
type Input struct {
	Codec Codec
	// MouthToEar is the one-way delay Ta from the talker's mouth to the
	// listener's ear: network, jitter buffer, packetisation and codec
	// delays together. Negative counts as zero.
	MouthToEar time.Duration
	// PacketLoss is the share of packets lost or discarded as too late, from
	// 0 to 1 (G.107's Ppl is this in percent). Values outside are clamped.
	PacketLoss float64
	// BurstR is G.107's burst ratio: 1 for random loss, above 1 for bursty
	// loss; see LossPattern. Zero, negative or NaN counts as 1.
	BurstR float64
	// Advantage is G.107's advantage factor A, from 0 (wired) up to 20 for
	// users who accept lower quality for access, e.g. 10 for mobile.
	Advantage float64
}

// R returns the transmission rating R = Ro − Is − Id − Ie,eff + A of G.107
// §7.1, nominally from 0 (worst) to 100 (best); with everything at its
// default it is about 93.2. Strong impairments can take R below 0, where MOS
// is 1. A NaN PacketLoss gives NaN.
func R(in Input) float64 {
	ta := milliseconds(in.MouthToEar)
	p := defaultParams()
	p.T, p.Tr, p.Ta = ta, 2*ta, ta
	return p.rating() - EffectiveIe(in.Codec, in.PacketLoss, in.BurstR) + in.Advantage
}

// DelayImpairment returns G.107's delay impairment Id = Idte + Idle + Idd
// (§7.4) for a one-way mouth-to-ear delay Ta, with T = Ta and Tr = 2·Ta and
// all else at default. It is about 0.15 at zero delay and grows slowly, to
// 3.8 at 150 ms, then steeply once the delay itself starts to impede
// conversation past about 177 ms: 7.6 at 200 ms, 20.7 at 300 ms. (Idd is zero
// up to mT = 100 ms and small up to about 170 ms.)
func DelayImpairment(mouthToEar time.Duration) float64 {
	ta := milliseconds(mouthToEar)
	p := defaultParams()
	p.T, p.Tr, p.Ta = ta, 2*ta, ta
	return p.delayImpairment()
}

// EffectiveIe returns the effective equipment impairment factor of G.107
// §7.5 for a codec losing packetLoss (0 to 1) of its packets with burst ratio
// burstR:
//
//	Ie,eff = Ie + (95 − Ie) · Ppl / (Ppl/BurstR + Bpl),  Ppl = 100·packetLoss.
//
// packetLoss outside [0, 1] is clamped, and burstR that is not above 0 counts
// as 1 (random loss). With no loss it is Ie.
func EffectiveIe(c Codec, packetLoss, burstR float64) float64 {
	ppl := 100 * min(max(packetLoss, 0), 1)
	if math.IsNaN(packetLoss) {
		return math.NaN()
	}
	if ppl == 0 {
		return c.Ie
	}
	if !(burstR > 0) {
		burstR = 1
	}
	return c.Ie + (95-c.Ie)*ppl/(ppl/burstR+c.Bpl)
}

// MOS returns the mean opinion score on the 1 to 4.5 scale that G.107
// Annex B derives from R:
//
//	R < 0:        1
//	0 ≤ R ≤ 100:  1 + 0.035·R + R·(R − 60)·(100 − R)·7·10⁻⁶
//	R > 100:      4.5
//
// The polynomial dips just below 1 for R under about 6.5, as in G.107.
func MOS(r float64) float64 {
	switch {
	case r < 0:
		return 1
	case r > 100:
		return 4.5
	}
	return 1 + 0.035*r + r*(r-60)*(100-r)*7e-6
}

// milliseconds converts a delay to G.107's unit, counting negative as zero.
func milliseconds(d time.Duration) float64 {
	return max(float64(d), 0) / float64(time.Millisecond)
}
