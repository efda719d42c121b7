package quality

import "math"

// params holds the E-model's inputs other than the codec and loss, in G.107's
// units (dB, dBm0p, dB(A), ms).
type params struct {
	SLR, RLR   float64 // send and receive loudness ratings
	STMR, LSTR float64 // sidetone masking and listener sidetone ratings
	Ds, Dr     float64 // D-values of the telephones
	TELR, WEPL float64 // talker echo loudness rating, weighted echo path loss
	T, Tr, Ta  float64 // echo path delay, 4-wire round trip, mouth to ear (ms)
	qdu        float64 // quantizing distortion units
	Nc, Nfor   float64 // circuit noise, noise floor at the receive side
	Ps, Pr     float64 // room noise at send and receive sides
	mT, sT     float64 // delay sensitivity: minimum perceivable delay, sensitivity
}

// defaultParams returns G.107 §7.7's default values, with no delay.
func defaultParams() params {
	return params{
		SLR: 8, RLR: 2, STMR: 15, LSTR: 18, Ds: 3, Dr: 3,
		TELR: 65, WEPL: 110, qdu: 1, Nc: -70, Nfor: -64, Ps: 35, Pr: 35,
		mT: 100, sT: 1,
	}
}

// rating returns Ro − Is − Id, everything in R but the codec and A.
func (p params) rating() float64 {
	return p.basicSignalToNoise() - p.simultaneousImpairment() - p.delayImpairment()
}

func log10pow(x float64) float64 { return math.Pow(10, x/10) }

// noise returns No, the total noise power at the receive side (§7.2).
func (p params) noise() float64 {
	olr := p.SLR + p.RLR
	nos := p.Ps - p.SLR - p.Ds - 100 + 0.004*math.Pow(p.Ps-olr-p.Ds-14, 2)
	pre := p.Pr + 10*math.Log10(1+log10pow(10-p.LSTR))
	nor := p.RLR - 121 + pre + 0.008*math.Pow(pre-35, 2)
	nfo := p.Nfor + p.RLR
	return 10 * math.Log10(log10pow(p.Nc)+log10pow(nos)+log10pow(nor)+log10pow(nfo))
}

// basicSignalToNoise returns Ro = 15 − 1.5·(SLR + No) (§7.2).
func (p params) basicSignalToNoise() float64 {
	return 15 - 1.5*(p.SLR+p.noise())
}

// simultaneousImpairment returns Is = Iolr + Ist + Iq (§7.3).
func (p params) simultaneousImpairment() float64 {
	return p.loudnessImpairment() + p.sidetoneImpairment() + p.quantizingImpairment()
}

// loudnessImpairment returns Iolr, for too low an overall loudness rating.
func (p params) loudnessImpairment() float64 {
	olr := p.SLR + p.RLR
	xolr := olr + 0.2*(64+p.noise()-p.RLR)
	return 20 * (math.Pow(1+math.Pow(xolr/8, 8), 1.0/8) - xolr/8)
}

// sidetoneImpairment returns Ist, for non-optimum sidetone.
func (p params) sidetoneImpairment() float64 {
	stmro := -10 * math.Log10(log10pow(-p.STMR)+math.Exp(-p.T/4)*log10pow(-p.TELR))
	return 12*math.Pow(1+math.Pow((stmro-13)/6, 8), 1.0/8) -
		28*math.Pow(1+math.Pow((stmro+1)/19.4, 35), 1.0/35) -
		13*math.Pow(1+math.Pow((stmro-3)/33, 13), 1.0/13) + 29
}

// quantizingImpairment returns Iq, for quantizing distortion.
func (p params) quantizingImpairment() float64 {
	q := 37 - 15*math.Log10(p.qdu)
	g := 1.07 + 0.258*q + 0.0602*q*q
	z := 46.0/30 - g/40
	y := (p.basicSignalToNoise()-100)/15 + 46/8.4 - g/9
	return 15 * math.Log10(1+math.Pow(10, y)+math.Pow(10, z))
}

// delayImpairment returns Id = Idte + Idle + Idd (§7.4).
func (p params) delayImpairment() float64 {
	return p.talkerEchoImpairment() + p.listenerEchoImpairment() + p.absoluteDelayImpairment()
}

// talkerEchoImpairment returns Idte, for the talker hearing their own echo.
func (p params) talkerEchoImpairment() float64 {
	roe := -1.5 * (p.noise() - p.RLR)
	terv := p.TELR - 40*math.Log10((1+p.T/10)/(1+p.T/150)) + 6*math.Exp(-0.3*p.T*p.T)
	if p.STMR < 9 { // low sidetone: TERVs = TERV + Ist/2
		terv += p.sidetoneImpairment() / 2
	}
	re := 80 + 2.5*(terv-14)
	diff := roe - re
	return (diff/2 + math.Sqrt(diff*diff/4+100) - 1) * (1 - math.Exp(-p.T))
}

// listenerEchoImpairment returns Idle, for the listener hearing echo.
func (p params) listenerEchoImpairment() float64 {
	rle := 10.5 * (p.WEPL + 7) * math.Pow(p.Tr+1, -0.25)
	diff := p.basicSignalToNoise() - rle
	return diff/2 + math.Sqrt(diff*diff/4+169)
}

// absoluteDelayImpairment returns Idd, for delay too long for conversation
// even without echo: zero up to mT, then
//
//	Idd = 25·{(1 + X^(6·sT))^(1/(6·sT)) − 3·(1 + (X/3)^(6·sT))^(1/(6·sT)) + 2},
//	X = log(Ta/mT) / log 2.
func (p params) absoluteDelayImpairment() float64 {
	if p.Ta <= p.mT {
		return 0
	}
	x := math.Log2(p.Ta / p.mT)
	e := 6 * p.sT
	return 25 * (math.Pow(1+math.Pow(x, e), 1/e) - 3*math.Pow(1+math.Pow(x/3, e), 1/e) + 2)
}
