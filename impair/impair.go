// Package impair owns network impairment models — packet loss, delay,
// duplication and clock skew — as seeded, clockless state machines shared by
// live calls and the benchmarks, plus recorded traces and named scenarios.
//
// A model draws from a caller-supplied *rand.Rand, so a fixed seed replays
// the same impairment exactly. Time is always an argument: a Path maps a send
// time to a delivery time, and a Releaser holds packets until the caller says
// that their delivery time has come. Nothing here reads a clock, sleeps or
// starts a goroutine; the real-time shell does that.
//
// # Models
//
// Loss: Bernoulli (independent losses) and GilbertElliott (a two-state
// Markov chain giving bursts). Delay: Constant, UniformJitter,
// ExponentialJitter, ParetoJitter (heavy-tailed) and Spikes (a sudden jump
// that drains linearly, as Ramjee et al. saw on Internet paths), combined with
// Sum. Duplication: Duplicator. Clock offset and skew between sender and
// receiver: Clock. A recorded Trace replays its own loss and delay through
// TraceReplay.
//
// # Scenarios
//
// ScenarioByName returns one of these built-in network conditions; Build turns
// a Scenario into a Path. All delays are one-way. The figures are plausible
// values chosen from the sources named, not fits to one measured trace.
//
//	name              base   jitter                     loss                        other
//	lan               0.3ms  uniform 0–0.5 ms           none                        —
//	wifi              5ms    exponential, mean 8 ms     Gilbert p=0.01 r=0.3        dup 0.1 % (+2 ms), skew 20 ppm
//	                                                    (3.2 %, bursts of 3.3)
//	lte               25ms   exponential, mean 10 ms    Bernoulli 0.7 %             skew 5 ppm
//	transcontinental  75ms   Pareto scale 2 ms, α=2.5   Bernoulli 0.1 %             skew 50 ppm
//	                         (mean 1.33 ms)
//	bursty            40ms   uniform 0–10 ms            Gilbert p=0.01 r=0.25       —
//	                                                    (3.8 %, bursts of 4)
//	spiky             30ms   uniform 0–4 ms             Bernoulli 0.5 %             spikes: 250 ms, 0.2 %/packet, drain 1
//
// Sources: lan — a switched Ethernet LAN queues for well under a millisecond.
// wifi — 802.11 link-layer retries give an exponential-like delay tail and
// losses in short bursts when interference lasts longer than the retries;
// rare IP-level duplicates (Paxson, "End-to-end Internet packet dynamics",
// 1997) exercise the receiver's duplicate handling. lte — 3GPP TS 23.203
// gives QCI 1 (conversational voice) a 100 ms packet delay budget at the 98th
// percentile and a packet error loss rate of 10⁻²; TS 26.114 Annex E plans for
// 0.7 % loss per radio link; 25 ms + exponential(10 ms) puts the 98th
// percentile at 64 ms. transcontinental — some 12 000 km of fibre at about
// 5 µs/km is 60 ms before routing and queueing; loss is ITU-T Y.1541 class 0's
// 10⁻³ objective; queueing jitter is heavy-tailed. bursty — a stress case for
// concealment: a classic Gilbert channel losing 80 ms at a time on average,
// the kind of dependence Jiang and Schulzrinne (2000) fitted to Internet
// traces. spiky — the delay spikes of Ramjee, Kurose, Towsley and
// Schulzrinne ("Adaptive playout mechanisms for packetized audio applications
// in wide-area networks", INFOCOM 1994): delay jumps by a few hundred
// milliseconds, then the packets queued behind the stall arrive back to back
// (drain slope 1). Clock skew: lan, bursty and spiky have none, to isolate
// their network effects; lte's 5 ppm reflects handsets locking their
// oscillators to the base station; the others are within the ±20–100 ppm
// tolerance of ordinary crystal oscillators (Moon, Skelly and Towsley, 1999,
// measured skews of tens of ppm between Internet hosts). Build puts the skew
// in Path.Clock, so delivery times drift by it: 20 ppm is 72 ms an hour. A
// scenario may also set the receiver's clock offset (clock_offset_ms, in
// Path.Clock too); the built-in ones have none, since a receiver sees only
// arrival minus timestamp and absorbs any constant.
package impair

import (
	"math"
	"time"
)

// A LossModel decides, one packet at a time, whether a packet is lost.
// Models may keep state between calls (bursty models do), so use one per path.
type LossModel interface {
	// Lost reports whether the next packet is lost.
	Lost() bool
}

// A DelayModel draws the extra one-way delay of each packet.
// Models may keep state between calls, so use one per path.
type DelayModel interface {
	// Delay returns the extra delay of the next packet; it is never negative.
	Delay() time.Duration
}

// A TimedDelayModel is a DelayModel whose delay depends on when the packet is
// sent, such as Spikes, which drain as send time passes. Path calls DelayAt
// instead of Delay when its delay model implements this interface.
type TimedDelayModel interface {
	// DelayAt returns the extra delay of the next packet, sent at send on the
	// sender's clock; it is never negative. Send times should not decrease.
	DelayAt(send time.Duration) time.Duration
}

// A DuplicateModel decides, one packet at a time, whether the network
// delivers a packet twice. Models may keep state, so use one per path.
type DuplicateModel interface {
	// Duplicate reports whether the next packet is duplicated and, if so, how
	// long after the original the copy arrives (never negative).
	Duplicate() (lag time.Duration, ok bool)
}

// Path is one direction of an impaired network: loss, then delay, then
// duplication, with delivery times read on the receiver's Clock.
// A nil model means no impairment of that kind and the zero Clock is the
// sender's own, so the zero Path is a perfect network.
type Path struct {
	Loss      LossModel
	Delay     DelayModel // if it is also a TimedDelayModel, DelayAt is used
	Duplicate DuplicateModel
	Clock     Clock
}

// Send decides the fate of a packet sent at sendTime. It returns the time the
// packet arrives, on the receiver's Clock (the same clock as sendTime for the
// zero Clock), or ok=false if it is lost. Send reports one copy and does not
// consult Duplicate; use SendAll to see duplicates.
//
// The delay model is consulted for every packet, lost or not, so that a
// stateful or trace-driven delay model stays in step with the packets sent and
// its sequence does not depend on the loss model. A negative delay from a
// misbehaving model is treated as zero.
func (p *Path) Send(sendTime time.Duration) (deliverAt time.Duration, ok bool) {
	lost := p.Loss != nil && p.Loss.Lost()
	arrival := addSaturating(sendTime, p.delay(sendTime))
	if lost {
		return 0, false
	}
	return p.Clock.Receiver(arrival), true
}

// SendAll is Send for a network that may also duplicate: it calls fn once
// with the delivery time of each copy of the packet sent at sendTime — not at
// all if it is lost, twice if it is duplicated (the original first, then the
// copy Duplicate's lag later). Like the delay model, Duplicate is consulted
// for every packet, lost or not. A nil fn only advances the models.
func (p *Path) SendAll(sendTime time.Duration, fn func(deliverAt time.Duration)) {
	lost := p.Loss != nil && p.Loss.Lost()
	arrival := addSaturating(sendTime, p.delay(sendTime))
	var lag time.Duration
	duplicated := false
	if p.Duplicate != nil {
		lag, duplicated = p.Duplicate.Duplicate()
	}
	if lost || fn == nil {
		return
	}
	fn(p.Clock.Receiver(arrival))
	if duplicated {
		fn(p.Clock.Receiver(addSaturating(arrival, max(lag, 0))))
	}
}

// delay draws the delay of the packet sent at sendTime, preferring DelayAt.
func (p *Path) delay(sendTime time.Duration) time.Duration {
	switch m := p.Delay.(type) {
	case nil:
		return 0
	case TimedDelayModel:
		return max(m.DelayAt(sendTime), 0)
	default:
		return max(m.Delay(), 0)
	}
}

// addSaturating returns a+b, clamped to the range of time.Duration.
func addSaturating(a, b time.Duration) time.Duration {
	sum := a + b
	switch {
	case a > 0 && b > 0 && sum < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && sum >= 0:
		return math.MinInt64
	}
	return sum
}
