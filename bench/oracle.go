package bench

import (
	"math"
	"slices"
	"time"

	"github.com/spurtvoip/spurt/quality"
)

// Oracle computes the offline optimum playout schedule of Moon, Kurose and
// Towsley ("Packet audio playout delay adjustment: performance bounds and
// algorithms", Multimedia Systems 6, 1998) over recorded packets: one playout
// delay per talk spurt, chosen with full knowledge of every packet's network
// delay, so that the mean playout delay of the packets played is as small as
// possible while no more than maxLate packets arrive after their playout time.
//
// spurts[j] holds the network delays of spurt j's received packets. A spurt
// playing its k fastest packets has delay d_(k), its k-th smallest delay, and
// loses the other n_j - k as late; every spurt plays at least its fastest
// packet. With the number played fixed at N - maxLate, minimising the mean
// delay is minimising the sum over spurts of k_j * d_(k_j). Oracle solves the
// Lagrangian relaxation, min sum k*d_(k) + lambda*(n - k) per spurt
// independently, bisecting on lambda for the smallest late count within
// maxLate, then spends what is left of the budget greedily on the steps
// (from k packets to the next playable smaller count) that save most per
// packet made late. Only counts a playout delay can realise are considered:
// packets of equal delay play or are late together. The Lagrangian solutions
// are exact points of the optimal trade-off curve and the greedy fill lies
// between two of them, so the result is an upper bound on the optimum, like
// the paper's bounds, and an exact one whenever the budget falls on a point
// of the curve. The spurts' non-overlap constraint is ignored (silences
// between spurts absorb the differences).
//
// It returns each spurt's playout delay; the slices in spurts are sorted in
// place.
func Oracle(spurts [][]time.Duration, maxLate int) []time.Duration {
	total := 0
	for _, s := range spurts {
		slices.Sort(s)
		total += len(s)
	}
	nonEmpty := 0
	for _, s := range spurts {
		if len(s) > 0 {
			nonEmpty++
		}
	}
	maxLate = min(max(maxLate, 0), total-nonEmpty)
	keep := make([]int, len(spurts))

	choose := func(lambda float64) int {
		late := 0
		for j, s := range spurts {
			n := len(s)
			if n == 0 {
				continue
			}
			best, bestK := math.Inf(1), n
			for k := n; k >= 1; k-- {
				if !playable(s, k) {
					continue
				}
				c := float64(k)*float64(s[k-1]) + lambda*float64(n-k)
				if c < best {
					best, bestK = c, k
				}
			}
			keep[j] = bestK
			late += n - bestK
		}
		return late
	}

	// late(lambda) falls as lambda grows; find the smallest lambda whose late
	// count fits. hi keeps every packet: a step's saving is below
	// k*d_(k) <= total * maxDelay.
	var maxDelay time.Duration
	for _, s := range spurts {
		if len(s) > 0 {
			maxDelay = max(maxDelay, s[len(s)-1])
		}
	}
	lo, hi := 0.0, float64(total+1)*(float64(maxDelay)+1)+1
	if choose(lo) > maxLate {
		for range 100 {
			mid := (lo + hi) / 2
			if choose(mid) > maxLate {
				lo = mid
			} else {
				hi = mid
			}
		}
		choose(hi)
	}
	late := 0
	for j, s := range spurts {
		late += len(s) - keep[j]
	}

	// Greedy fill of the remaining budget: the step (a spurt's playout delay
	// down to its next smaller packet delay) that saves most per packet it
	// makes late, while one fits.
	for budget := maxLate - late; budget > 0; {
		bestJ, bestK, bestRate := -1, 0, 0.0
		for j, s := range spurts {
			k := keep[j]
			next := k - 1
			for next >= 1 && !playable(s, next) {
				next--
			}
			if next < 1 || k-next > budget {
				continue
			}
			rate := (float64(k)*float64(s[k-1]) - float64(next)*float64(s[next-1])) / float64(k-next)
			if rate > bestRate {
				bestJ, bestK, bestRate = j, next, rate
			}
		}
		if bestJ < 0 {
			break
		}
		budget -= keep[bestJ] - bestK
		keep[bestJ] = bestK
	}

	out := make([]time.Duration, len(spurts))
	for j, s := range spurts {
		if len(s) > 0 {
			out[j] = s[keep[j]-1]
		}
	}
	return out
}

// playable reports whether a spurt whose packet delays are sorted can play
// exactly its k fastest packets: at the playout delay of the k-th, packets
// as fast as it play too.
func playable(sorted []time.Duration, k int) bool {
	return k == len(sorted) || sorted[k-1] < sorted[k]
}

// oracleRow runs Oracle over every direction's packets with the late-loss
// budget of a strategy and scores the schedule as a strategy is scored. The
// network counters come from the first strategy's receivers, which saw the
// same packets. If keep is not nil, the first direction's per-packet playout
// delays are added to it, named name.
func oracleRow(c quality.Codec, dirs []*direction, maxLate uint64, keep *Timeline, name string) Row {
	var spurts [][]time.Duration
	first := make([]int, len(dirs)) // index in spurts of each direction's first spurt
	for di, d := range dirs {
		first[di] = len(spurts)
		if len(d.spurt) == 0 {
			continue
		}
		base := d.spurt[0]
		spurts = append(spurts, make([][]time.Duration, d.spurt[len(d.spurt)-1]-base+1)...)
		for i, n := range d.network {
			if n >= 0 {
				j := first[di] + int(d.spurt[i]-base)
				spurts[j] = append(spurts[j], n)
			}
		}
	}
	playout := Oracle(spurts, int(min(maxLate, math.MaxInt32)))

	var row Row
	var lp quality.LossPattern
	var played []time.Duration
	for di, d := range dirs {
		st := d.recv[0].pipe.stats()
		row.Sent += d.sent
		expected, lost := d.expectedLost(st)
		row.Expected += expected
		row.NetworkLost += lost
		row.SpurtsSent += d.spurtsSent()
		arrived := -1 // the latest spurt with a packet in, relative to the first

		var kept []time.Duration
		if keep != nil && di == 0 {
			kept = make([]time.Duration, len(d.network))
		}
		for i, n := range d.network {
			j := int(d.spurt[i] - d.spurt[0])
			at := playout[first[di]+j]
			if kept != nil {
				kept[i] = notPlayed
			}
			if n >= 0 && j != arrived {
				row.Talkspurts++ // the oracle plays every spurt with a packet in
				arrived = j
			}
			switch {
			case n < 0:
				lp.Add(true)
			case n > at:
				lp.Add(true)
				row.Late++
			default:
				lp.Add(false)
				row.Played++
				played = append(played, at)
				if kept != nil {
					kept[i] = at
				}
			}
		}
		if kept != nil {
			keep.Playout = append(keep.Playout, NamedDelays{Name: name, Delays: kept})
		}
	}
	fill(&row, c, played, lp.BurstR())
	return row
}
