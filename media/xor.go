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
// Receiving. FEC packets go to an XORDecoder, never to the playout buffer or
// the reception statistics. When exactly one media packet of a group is
// missing and the group's FEC packet is in, the decoder rebuilds it bit for
// bit (header fields too) and the receiver handles it as that packet,
// arriving now: at the arrival of the packet that made the recovery possible.
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

// Flags of the per-sequence-number record of rebuilt packets.
const (
	seenPrimary    uint8 = 1 << iota // the packet itself arrived
	seenCopy                         // a rebuilt packet was offered to the buffer
	seenCopyQueued                   // ... and queued
)

// seenSlots covers every packet the playout buffer holds (its capacity).
const seenSlots = 512

type seenRecord struct {
	seq   uint16
	flags uint8
}

// xorWindow is how many media sequence numbers the receiver's XOR decoder
// remembers: 1.3 s of 20 ms packets, far more than any playout delay.
const xorWindow = 64

// xorReceiver is the XOR state of the receive pipeline.
type xorReceiver struct {
	pt    uint8
	group int // the peer's group size; 0: it sends no parity
	dec   *fec.XORDecoder
	seen  []seenRecord  // seenCopyQueued: a rebuilt packet was queued; seenPrimary: then its own came in time
	span  time.Duration // the group span added to the adaptive playout offset
	rate  int

	arrival time.Duration // of the datagram being handled, for rebuilt packets
	recover func([]byte)  // bound to Receiver.handleRecovered once
}

func newXORReceiver(cfg *XORConfig, rate int) *xorReceiver {
	xr := &xorReceiver{pt: cfg.PayloadType, group: cfg.PeerGroupSize, dec: fec.NewXORDecoder(cfg.PayloadType, cfg.PeerGroupSize, xorWindow),
		seen: make([]seenRecord, seenSlots), rate: rate}
	xr.setChunk(rate / 50)
	return xr
}

// setChunk sets the span added to the playout delay from the length of the
// peer's chunks: the group's last packet comes group-1 chunks after its first.
func (xr *xorReceiver) setChunk(samples int) {
	if xr.group > 1 && samples > 0 {
		xr.span = time.Duration((xr.group-1)*samples) * time.Second / time.Duration(xr.rate)
	}
}

func (xr *xorReceiver) record(seq uint16) *seenRecord {
	s := &xr.seen[int(seq)%seenSlots]
	if s.seq != seq {
		*s = seenRecord{seq: seq}
	}
	return s
}

// handleFEC takes one ULPFEC packet of the peer's and plays out what it rebuilds.
func (r *Receiver) handleFEC(datagram []byte, arrival time.Duration) {
	if !r.src.accept(r.packet.SSRC) {
		r.stats.RejectedSource++
		return
	}
	if r.xor.group == 0 {
		r.stats.FECMalformed++ // the peer said it sends no parity
		return
	}
	if err := r.xor.dec.AddFEC(datagram); err != nil {
		r.stats.FECMalformed++
		return
	}
	r.stats.FECPackets++
	r.xor.setChunk(r.chunkSamples)
	r.syncHeadroom()
	r.recoverXOR(arrival)
}

// noteMediaForXOR gives a received media packet to the XOR decoder and plays
// out what it now rebuilds.
func (r *Receiver) noteMediaForXOR(seq uint16, datagram []byte, arrival time.Duration) {
	r.xor.dec.AddMedia(seq, datagram)
	r.recoverXOR(arrival)
}

func (r *Receiver) recoverXOR(arrival time.Duration) {
	r.xor.arrival = arrival
	r.xor.dec.Recover(r.xor.recover)
}

// handleRecovered takes one packet the XOR decoder rebuilt.
func (r *Receiver) handleRecovered(pkt []byte) {
	r.stats.FECRebuilt++
	r.handleMedia(pkt, r.xor.arrival, true)
}

// pushRecovered offers the playout buffer a rebuilt plain packet.
func (r *Receiver) pushRecovered(seq uint16, ts uint32, marker bool, samples int, payload []byte, arrival time.Duration) {
	rec := r.xor.record(seq)
	if rec.flags&seenPrimary != 0 {
		return // its own packet is here after all
	}
	rec.flags |= seenCopy
	switch r.push(seq, ts, marker, samples, jitter.Meta{Origin: jitter.Rebuilt}, payload, arrival) {
	case jitter.OutcomeQueued:
		rec.flags |= seenCopyQueued
	case jitter.OutcomeLate:
		r.stats.FECLate++
	}
}

// xorPrimaryArrived notes that a plain packet arrived and reports whether a
// rebuilt copy of it is queued already, or was offered and found late (so
// that the buffer's duplicate verdict is no duplicate from the network: in
// time in the first case, late in the second). Only the packet's first
// arrival can be either.
func (r *Receiver) xorPrimaryArrived(seq uint16) (copyQueued, copyTried bool) {
	rec := r.xor.record(seq)
	first := rec.flags&seenPrimary == 0 // later ones are the network's duplicates
	rec.flags |= seenPrimary
	return first && rec.flags&seenCopyQueued != 0, first && rec.flags&seenCopy != 0
}

// xorPlayed reports whether a rebuilt chunk being played stands for a packet
// that did not arrive in time, and so counts as recovered.
func (r *Receiver) xorPlayed(seq uint16) bool {
	s := &r.xor.seen[int(seq)%seenSlots]
	return s.seq != seq || s.flags&seenPrimary == 0
}
