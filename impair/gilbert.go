package impair

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// GilbertElliott loses packets in bursts. A hidden two-state Markov chain
// moves between a good and a bad state once per packet, and each state loses
// packets independently with its own probability. With lossGood = 0 and
// lossBad = 1 it is the classic Gilbert model: every packet in the bad state
// is lost and none in the good state, so bursts are the bad state's sojourns.
//
// For packet n the model first decides the loss in the current state, then
// moves: good→bad with probability p, bad→good with probability r. It starts
// in the good state, so the first few packets see a little less loss than
// the long-run mean.
type GilbertElliott struct {
	p, r              float64
	lossGood, lossBad float64
	bad               bool
	rng               *rand.Rand
}

// NewGilbertElliott returns a Gilbert–Elliott loss model with transition
// probabilities p = P(good→bad) and r = P(bad→good) and loss probabilities
// lossGood and lossBad in each state. All four must lie in [0, 1].
func NewGilbertElliott(p, r, lossGood, lossBad float64, rng *rand.Rand) (*GilbertElliott, error) {
	for _, v := range []struct {
		name  string
		value float64
	}{{"p", p}, {"r", r}, {"lossGood", lossGood}, {"lossBad", lossBad}} {
		if math.IsNaN(v.value) || v.value < 0 || v.value > 1 {
			return nil, fmt.Errorf("impair: gilbert-elliott %s = %v: must be in [0, 1]", v.name, v.value)
		}
	}
	if rng == nil {
		return nil, fmt.Errorf("impair: gilbert-elliott loss: %w", errNilRand)
	}
	return &GilbertElliott{p: p, r: r, lossGood: lossGood, lossBad: lossBad, rng: rng}, nil
}

// Lost reports whether the next packet is lost. It draws two numbers from the
// generator per call, whatever the parameters are.
func (g *GilbertElliott) Lost() bool {
	h, leave := g.lossGood, g.p
	if g.bad {
		h, leave = g.lossBad, g.r
	}
	lost := g.rng.Float64() < h
	if g.rng.Float64() < leave {
		g.bad = !g.bad
	}
	return lost
}

// stationary returns the long-run share of packets sent in the good and bad
// states: πG = r/(p+r), πB = p/(p+r). If p = r = 0 the chain never leaves the
// good state it starts in.
func (g *GilbertElliott) stationary() (good, bad float64) {
	if g.p+g.r == 0 {
		return 1, 0
	}
	return g.r / (g.p + g.r), g.p / (g.p + g.r)
}

// MeanLoss returns the long-run share of packets lost,
//
//	πG·lossGood + πB·lossBad, where πB = p/(p+r) and πG = r/(p+r),
//
// which for lossGood = 0 and lossBad = h is πB·h (and lossGood when p = r = 0).
func (g *GilbertElliott) MeanLoss() float64 {
	good, bad := g.stationary()
	return good*g.lossGood + bad*g.lossBad
}

// MeanBurst returns the long-run mean length of a run of consecutive lost
// packets: the share of packets lost divided by the share of packets that are
// lost and followed by one that is not,
//
//	P(L) / (P(L) − P(L,L)), where
//	P(L,L) = πG·lossGood·((1−p)·lossGood + p·lossBad) + πB·lossBad·(r·lossGood + (1−r)·lossBad).
//
// For lossGood = 0 and lossBad = h this is 1/(1 − h·(1−r)); for the classic
// Gilbert model (h = 1) it is 1/r, the mean stay in the bad state. It is 0
// if the model never loses a packet and +Inf if, once lost, it loses forever.
func (g *GilbertElliott) MeanBurst() float64 {
	good, bad := g.stationary()
	lossRate := good*g.lossGood + bad*g.lossBad
	if lossRate == 0 {
		return 0
	}
	lostTwice := good*g.lossGood*((1-g.p)*g.lossGood+g.p*g.lossBad) +
		bad*g.lossBad*(g.r*g.lossGood+(1-g.r)*g.lossBad)
	runEnds := lossRate - lostTwice
	if runEnds <= lossRate*1e-12 { // zero but for rounding
		return math.Inf(1)
	}
	return lossRate / runEnds
}
