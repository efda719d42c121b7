package media

import (
	"fmt"
	"time"

	"github.com/spurtvoip/spurt/fec"
	"github.com/spurtvoip/spurt/jitter"
)

// XOR parity FEC (RFC 5109 ULPFEC).
//
// Sending. With XORConfig.GroupSize = n, every n media packets (plain or
// interleaved) are followed by one ULPFEC packet in its own payload type
// whose payload is their XOR (package fec). The group of the last packets of
// a talk spurt is protected as it stands when the spurt ends, so no packet
// waits for the next spurt, and so is the last group at the end of the input
// (Sender.Flush). The FEC packets share the media SSRC but number
// themselves in a sequence of their own, so they never disturb the media
// stream's loss statistics.
//
// Receiving. FEC packets go to the repair stage fec.XORReceiver, never to the
// playout buffer or the reception statistics. When exactly one media packet
// of a group is missing and the group's FEC packet is in, it rebuilds it bit
// for bit (header fields too) and the receiver takes it through the stages
// after parity as that packet, arriving now: at the arrival of the packet that
// made the recovery possible (rebuilt, below).
// So the playout strategy sees the true cost of a recovery (the rest of the
// group had to arrive), and a rebuilt packet whose playout time has passed is
// late like any other: a loss, not a recovery. It is counted in fec_late and
// stays in residual_lost, through network_lost if its own packet never came
// or through late_lost if that came late too; late_lost counts packets from
// the network only, so the packet is never counted twice, and fec_late is a
// part of residual_lost (= network_lost + late_lost - fec_recovered). A
// rebuilt packet is counted as recovered when it is played and its own packet
// did not come in time after all. Malformed FEC packets are counted
// (fec_malformed) and dropped: among them every parity packet whose mask
// reaches past the group size the peer announced in its SDP (group=N), and
// every parity packet of a peer that announced none.
//
// Playout delay. The first packet of a group can only be rebuilt once the
// rest of the group and its parity are in, up to n-1 chunks after it would
// have arrived. As with redundant audio, the receiver adds that span, n-1
// chunks for the group size n the peer announced, to an adaptive strategy's
// offset at each talk spurt, so that rebuilt packets can still play; the
// extra delay shows in the playout delay figures. Since no parity packet
// reaching past the announced group is taken, no packet can make the span
// wider.

// XORConfig turns on RFC 5109 XOR parity FEC for a call.
type XORConfig struct {
	// PayloadType is the dynamic payload type negotiated for ulpfec/8000.
	PayloadType uint8
	// GroupSize is how many media packets each FEC packet we send protects,
	// fec.MinGroupSize to fec.MaxGroupSize. Zero sends no FEC while still
	// using the peer's.
	GroupSize int
	// PeerGroupSize is the group size the peer announced (from its SDP):
	// the widest parity mask taken from it, and the span added to the
	// playout delay. Zero: the peer sends no parity, and any it sends is
	// malformed.
	PeerGroupSize int
}

// DefaultXORGroupSize is the group size of plain `--fec xor`.
const DefaultXORGroupSize = 4

// Scheme names the parity this side sends: "xor:4", or "none".
func (c *XORConfig) Scheme() string {
	if c == nil || c.GroupSize == 0 {
		return "none"
	}
	return fmt.Sprintf("xor:%d", c.GroupSize)
}

func (c *XORConfig) validate(mediaPT uint8) error {
	switch {
	case c.PayloadType > 127:
		return fmt.Errorf("rtpcall: ULPFEC payload type %d is not a 7-bit payload type", c.PayloadType)
	case c.PayloadType == mediaPT:
		return fmt.Errorf("rtpcall: ULPFEC payload type %d is already the media's", c.PayloadType)
	case !validGroup(c.GroupSize) || !validGroup(c.PeerGroupSize):
		return fmt.Errorf("rtpcall: XOR group size must be 0 or %d..%d", fec.MinGroupSize, fec.MaxGroupSize)
	}
	return nil
}

func validGroup(n int) bool { return n == 0 || (n >= fec.MinGroupSize && n <= fec.MaxGroupSize) }

// takeParity takes one ULPFEC packet (r.packet) of the peer's to the parity
// stage, which hands on what it rebuilds (rebuilt).
func (r *Receiver) takeParity(datagram []byte, arrival time.Duration) {
	if !r.src.isCall(r.packet.SSRC) { // parity counts for nothing until its source passes probation
		r.stats.RejectedSource++
		return
	}
	if err := r.xor.AddParity(datagram, r.chunkSamples, arrival); err != nil {
		r.stats.FECMalformed++
		return
	}
	r.stats.FECPackets++
}

// rebuilt takes a packet the parity stage rebuilt, arriving now, through the
// stages after parity: de-interleaving, or straight to the playout buffer.
func (r *Receiver) rebuilt(pkt []byte, arrival time.Duration) {
	r.stats.FECRebuilt++
	p := &r.rebuiltPkt
	if err := p.Unmarshal(pkt); err != nil {
		r.stats.Malformed++
		return
	}
	h := &p.Header
	isInterleaved := r.il != nil && h.PayloadType == r.il.pt
	if !isInterleaved && h.PayloadType != r.codec.PayloadType {
		r.stats.WrongPayload++
		return
	}
	if !r.src.isCall(h.SSRC) {
		r.stats.RejectedSource++
		return
	}
	if r.stats.Packets == 0 {
		return // nothing to place it against; cannot happen with a real group
	}
	if isInterleaved {
		r.handleInterleaved(h.SequenceNumber, h.Timestamp, h.Marker, p.Payload, arrival, true)
		return
	}
	samples, err := r.dec.Samples(p.Payload)
	if err != nil || samples == 0 {
		r.stats.Refused++
		return
	}
	r.chunkSamples = samples
	if !r.xor.Offer(h.SequenceNumber) {
		return // its own packet is here after all
	}
	switch r.push(h.SequenceNumber, h.Timestamp, h.Marker, samples, jitter.Meta{Origin: jitter.Rebuilt}, p.Payload, arrival) {
	case jitter.OutcomeQueued:
		r.xor.Queued(h.SequenceNumber)
	case jitter.OutcomeLate:
		r.stats.FECLate++
	}
}
