package fec

import (
	"errors"
	"time"
)

// XORReceiver is the receive-side repair stage for XOR parity (RFC 5109
// ULPFEC). The caller hands it the peer's parity packets and every media
// packet of the stream; when exactly one media packet of a group is missing
// and the group's parity is in, it rebuilds that packet bit for bit and hands
// it on, with the arrival of the packet that made the recovery possible, to
// the stages after it (the caller's rebuilt function). It also keeps, per
// sequence number, whether a rebuilt packet went to the playout buffer and
// whether the packet itself came after all, so that the caller can tell a
// recovery from a duplicate and a late packet.
//
// Parity is malformed (AddParity's error) when it does not parse, or when its
// mask reaches past the group size the peer announced; every parity packet of
// a peer that announced none is.
type XORReceiver struct {
	pt      uint8
	group   int // the peer's group size; 0: it sends no parity
	dec     *XORDecoder
	seen    []seenRecord // seenCopy/seenCopyQueued: a rebuilt packet was offered/queued; seenPrimary: its own came
	span    time.Duration
	rate    int
	rebuilt func(pkt []byte, arrival time.Duration)
	arrival time.Duration // of the datagram being handled, for what it rebuilds
	recover func([]byte)  // bound once to handOn
}

// xorWindow is how many media sequence numbers the decoder remembers: 1.3 s
// of 20 ms packets, far more than any playout delay.
const xorWindow = 64

// ErrNoParityAnnounced is AddParity's error for parity from a peer that
// announced no group size.
var ErrNoParityAnnounced = errors.New("fec: parity from a peer that announced none")

// NewXORReceiver builds the stage for parity in payload type pt from a peer
// that announced groups of peerGroup (0: none) at the given clock rate, for
// chunks of chunk samples. rebuilt takes every packet it rebuilds.
func NewXORReceiver(pt uint8, peerGroup, rate, chunk int, rebuilt func(pkt []byte, arrival time.Duration)) (*XORReceiver, error) {
	if rebuilt == nil || rate <= 0 {
		return nil, errors.New("fec: an XOR receiver needs a clock rate and somewhere to hand rebuilt packets")
	}
	x := &XORReceiver{pt: pt, group: peerGroup, dec: NewXORDecoder(pt, peerGroup, xorWindow),
		seen: make([]seenRecord, seenSlots), rate: rate, rebuilt: rebuilt}
	x.recover = x.handOn
	x.SetChunk(chunk)
	return x, nil
}

// PayloadType is the parity's payload type.
func (x *XORReceiver) PayloadType() uint8 { return x.pt }

// Span is the playout headroom rebuilt packets need: the group's first packet
// can only be rebuilt once the rest of the group and its parity are in, up to
// group-1 chunks after it would have arrived.
func (x *XORReceiver) Span() time.Duration { return x.span }

// SetChunk sets the span from the length of the peer's chunks.
func (x *XORReceiver) SetChunk(samples int) {
	if x.group > 1 && samples > 0 {
		x.span = time.Duration((x.group-1)*samples) * time.Second / time.Duration(x.rate)
	}
}

// AddParity takes one parity packet of the peer's, whose media packets carry
// chunks of chunk samples, and hands on what it rebuilds. It returns an
// error, and takes nothing, for malformed parity.
func (x *XORReceiver) AddParity(datagram []byte, chunk int, arrival time.Duration) error {
	if x.group == 0 {
		return ErrNoParityAnnounced
	}
	if err := x.dec.AddFEC(datagram); err != nil {
		return err
	}
	x.SetChunk(chunk)
	x.recoverNow(arrival)
	return nil
}

// AddMedia takes one received media packet of the stream and hands on what
// it now lets the stage rebuild.
func (x *XORReceiver) AddMedia(seq uint16, datagram []byte, arrival time.Duration) {
	x.dec.AddMedia(seq, datagram)
	x.recoverNow(arrival)
}

func (x *XORReceiver) recoverNow(arrival time.Duration) {
	x.arrival = arrival
	x.dec.Recover(x.recover)
}

func (x *XORReceiver) handOn(pkt []byte) { x.rebuilt(pkt, x.arrival) }

// Offer notes that a rebuilt packet seq is about to go to the playout buffer
// and reports whether it should: not if its own packet is here after all.
func (x *XORReceiver) Offer(seq uint16) bool {
	rec := x.record(seq)
	if rec.flags&seenPrimary != 0 {
		return false
	}
	rec.flags |= seenCopy
	return true
}

// Queued notes that the rebuilt packet seq is in the playout buffer (or, under
// interleaving, in its group).
func (x *XORReceiver) Queued(seq uint16) { x.record(seq).flags |= seenCopyQueued }

// Arrived notes that packet seq itself arrived, and reports whether a rebuilt
// copy of it is queued already, or was offered and not queued (so that the
// buffer's duplicate verdict is no duplicate from the network: in time in the
// first case, late in the second). Only the packet's first arrival can be
// either.
func (x *XORReceiver) Arrived(seq uint16) (rebuiltQueued, rebuiltOffered bool) {
	rec := x.record(seq)
	first := rec.flags&seenPrimary == 0 // later ones are the network's duplicates
	rec.flags |= seenPrimary
	return first && rec.flags&seenCopyQueued != 0, first && rec.flags&seenCopy != 0
}

// TwinArrived notes that packet seq itself arrived and reports whether a
// rebuilt copy of it overtook it (queued before it came, under interleaving).
func (x *XORReceiver) TwinArrived(seq uint16) bool {
	rec := x.record(seq)
	twin := rec.flags&seenCopyQueued != 0 && rec.flags&seenPrimary == 0
	rec.flags |= seenPrimary
	return twin
}

// Recovered reports whether a rebuilt packet seq being played stands for a
// packet that did not arrive in time, and so counts as recovered.
func (x *XORReceiver) Recovered(seq uint16) bool {
	s := &x.seen[int(seq)%seenSlots]
	return s.seq != seq || s.flags&seenPrimary == 0
}

func (x *XORReceiver) record(seq uint16) *seenRecord {
	s := &x.seen[int(seq)%seenSlots]
	if s.seq != seq {
		*s = seenRecord{seq: seq}
	}
	return s
}
