// Package impair owns network impairment models — packet loss and delay — as
// seeded, clockless state machines shared by live calls and the benchmarks.
//
// A model draws from a caller-supplied *rand.Rand, so a fixed seed replays
// the same impairment exactly. Time is always an argument: a Path maps a send
// time to a delivery time, and a Releaser holds packets until the caller says
// that their delivery time has come. Nothing here reads a clock, sleeps or
// starts a goroutine; the real-time shell does that.
package impair

import "time"

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

// Path is one direction of an impaired network: loss, then delay.
// A nil model means no impairment of that kind, so the zero Path is a perfect network.
type Path struct {
	Loss  LossModel
	Delay DelayModel
}

// Send decides the fate of a packet sent at sendTime. It returns the time the
// packet arrives, on the same clock as sendTime, or ok=false if it is lost.
//
// The delay model is consulted for every packet, lost or not, so that a
// stateful or trace-driven delay model stays in step with the packets sent and
// its sequence does not depend on the loss model. A negative delay from a
// misbehaving model is treated as zero.
func (p *Path) Send(sendTime time.Duration) (deliverAt time.Duration, ok bool) {
	lost := p.Loss != nil && p.Loss.Lost()
	var delay time.Duration
	if p.Delay != nil {
		delay = max(p.Delay.Delay(), 0)
	}
	if lost {
		return 0, false
	}
	return sendTime + delay, true
}
