package quality

// LossPattern counts a stream's losses, packet by packet, to give the loss
// rate and G.107's burst ratio. The zero value is an empty pattern; Add
// allocates nothing. A LossPattern is not safe for concurrent use.
type LossPattern struct {
	packets  uint64
	lost     uint64
	runs     uint64 // runs of consecutive losses
	prevLost bool
}

// Add records the next packet in sequence order: lost or received.
// Packets discarded as too late for playout count as lost.
func (lp *LossPattern) Add(lost bool) {
	lp.packets++
	if lost {
		lp.lost++
		if !lp.prevLost {
			lp.runs++
		}
	}
	lp.prevLost = lost
}

// Packets returns the number of packets added.
func (lp *LossPattern) Packets() uint64 { return lp.packets }

// Losses returns the number of packets added as lost.
func (lp *LossPattern) Losses() uint64 { return lp.lost }

// LossRate returns the share of packets lost, 0 if there are none.
func (lp *LossPattern) LossRate() float64 {
	if lp.packets == 0 {
		return 0
	}
	return float64(lp.lost) / float64(lp.packets)
}

// MeanBurst returns the mean length of a run of consecutive losses, 0 if
// there are none. A run still going at the last packet counts as it stands.
func (lp *LossPattern) MeanBurst() float64 {
	if lp.runs == 0 {
		return 0
	}
	return float64(lp.lost) / float64(lp.runs)
}

// BurstR returns G.107's burst ratio (§7.5): the mean length of the observed
// runs of losses divided by the mean length expected if the same share of
// packets were lost at random, 1/(1 − loss rate):
//
//	BurstR = MeanBurst · (1 − LossRate).
//
// It is 1 for random loss and above 1 for bursty loss. For loss following a
// two-state Markov chain with p = P(received → lost) and r = P(lost →
// received) it tends to 1/(p + r), the form G.107 gives for that model. It is
// 1 when nothing, or everything, was lost: such a pattern says nothing about
// bursts.
func (lp *LossPattern) BurstR() float64 {
	if lp.lost == 0 || lp.lost == lp.packets {
		return 1
	}
	return lp.MeanBurst() * (1 - lp.LossRate())
}
