package fec

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// The parity stage hands on a lost packet, rebuilt, with the arrival of the
// packet that completed its group, and keeps the record that tells a
// recovery from a duplicate or a late packet.
func TestXORReceiverStage(t *testing.T) {
	enc, err := NewXOREncoder(4, 100, 7)
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	var parity []byte
	for i := range 4 {
		p := rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 0, SequenceNumber: uint16(1000 + i), Timestamp: uint32(160 * i), SSRC: 7},
			Payload: bytes.Repeat([]byte{byte(i + 1)}, 160)}
		b, err := p.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		pkts = append(pkts, b)
		if f, ok, err := enc.Add(b); err != nil {
			t.Fatal(err)
		} else if ok {
			parity = bytes.Clone(f)
		}
	}
	if parity == nil {
		t.Fatal("no parity after a group of 4")
	}
	type handed struct {
		pkt []byte
		at  time.Duration
	}
	var got []handed
	x, err := NewXORReceiver(100, 4, 8000, 160, func(pkt []byte, at time.Duration) { got = append(got, handed{bytes.Clone(pkt), at}) })
	if err != nil {
		t.Fatal(err)
	}
	if x.Span() != 60*time.Millisecond {
		t.Errorf("span %v, want 3 chunks (60ms) for groups of 4", x.Span())
	}
	for i, p := range pkts {
		if i != 2 {
			x.AddMedia(uint16(1000+i), p, time.Duration(i)*20*time.Millisecond)
		}
	}
	if len(got) != 0 {
		t.Fatalf("%d packets rebuilt before the parity came", len(got))
	}
	if err := x.AddParity(parity, 160, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || !bytes.Equal(got[0].pkt, pkts[2]) || got[0].at != 100*time.Millisecond {
		t.Fatalf("rebuilt %d packets (at %v), want packet 1002 as sent, at the parity's arrival", len(got), got)
	}
	if !x.Offer(1002) {
		t.Fatal("Offer of a rebuilt packet whose own never came: want true")
	}
	x.Queued(1002)
	if !x.Recovered(1002) {
		t.Error("a queued rebuilt packet whose own never came is a recovery")
	}
	// its own packet turns up after all: in time, since its twin is queued
	if queued, offered := x.Arrived(1002); !queued || !offered {
		t.Errorf("Arrived after the twin was queued: %v %v, want true true", queued, offered)
	}
	if x.Recovered(1002) {
		t.Error("its own packet came: playing the twin recovers nothing")
	}
	if queued, offered := x.Arrived(1002); queued || offered {
		t.Error("a second arrival is the network's duplicate")
	}
	if x.Offer(1002) {
		t.Error("Offer after the packet itself came: want false")
	}

	quiet, err := NewXORReceiver(100, 0, 8000, 160, func([]byte, time.Duration) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := quiet.AddParity(parity, 160, 0); !errors.Is(err, ErrNoParityAnnounced) {
		t.Errorf("parity from a peer that announced none: %v, want ErrNoParityAnnounced", err)
	}
}
