package fec

import (
	"bytes"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/jitter"
)

// The RED stage offers the buffer a copy only for a packet that has not come,
// as that packet arriving with the one that carried it; a primary arriving
// after its copy was queued replaces it until the copy plays, and is late
// after that; copies that cannot stand for a packet are reported.
func TestREDReceiverStage(t *testing.T) {
	reg := codec.Default()
	pcmu, err := reg.ByName("pcmu")
	if err != nil {
		t.Fatal(err)
	}
	gsm, err := reg.ByName("gsm")
	if err != nil {
		t.Fatal(err)
	}
	type push struct {
		p  jitter.Packet
		at time.Duration
	}
	var pushed []push
	rr, err := NewREDReceiver(REDReceiverConfig{PayloadType: 96, Primary: pcmu, Secondary: gsm, PeerDistance: 1,
		Push: func(p jitter.Packet, at time.Duration) jitter.Outcome {
			p.Payload = bytes.Clone(p.Payload)
			pushed = append(pushed, push{p, at})
			return jitter.OutcomeQueued
		}}, 160)
	if err != nil {
		t.Fatal(err)
	}
	if rr.Span() != 20*time.Millisecond {
		t.Errorf("span %v before any packet, want the announced 20ms", rr.Span())
	}
	primary := bytes.Repeat([]byte{0x55}, 160)
	gsmCopy := make([]byte, 33)
	gsmCopy[0] = 0xD0 // GSM's signature nibble
	arrive := func(seq uint16, copies []Block, first bool) REDReport {
		return rr.Arrived(Arrival{Seq: seq, TS: uint32(seq) * 160, Samples: 160, RED: true, Redundant: copies,
			Primary: primary, PrimaryPT: 0, Arrival: time.Duration(seq) * 20 * time.Millisecond,
			First: first, ExtSeq: int64(seq), BaseSeq: 10})
	}
	if rep := arrive(10, []Block{{PT: 3, TimestampOffset: 160, Payload: gsmCopy}}, true); rep != (REDReport{}) || len(pushed) != 0 {
		t.Fatalf("first packet: %+v, %d pushed; its copy only warms the decoder", rep, len(pushed))
	}
	// 11 is lost; 12 carries its copy, which goes to the buffer as 11
	if rep := arrive(12, []Block{{PT: 3, TimestampOffset: 160, Payload: gsmCopy}}, false); rep != (REDReport{}) || len(pushed) != 1 {
		t.Fatalf("after a loss: %+v, %d pushed, want 1", rep, len(pushed))
	}
	p := pushed[0]
	if p.p.SequenceNumber != 11 || p.p.Timestamp != 11*160 || p.p.Meta != (jitter.Meta{Origin: jitter.Copy, PayloadType: 3}) ||
		p.at != 12*20*time.Millisecond || p.p.Samples != 160 || rr.Pending() != 1 {
		t.Errorf("copy pushed as %+v at %v (pending %d)", p.p, p.at, rr.Pending())
	}
	// 11 itself arrives before its copy plays: it replaces the copy
	if rep := arrive(11, nil, false); !rep.Replaced || rep.LateAfterCopy || rr.Pending() != 0 {
		t.Errorf("late primary before the copy plays: %+v, pending %d; want replaced", rep, rr.Pending())
	}
	if got, replaced := rr.Playing(11); !replaced || !bytes.Equal(got, primary) {
		t.Errorf("playing 11: replaced %v, want the primary", replaced)
	}
	// 14 lost, its copy in 15 plays before 14 arrives: 14 is late
	arrive(15, []Block{{PT: 3, TimestampOffset: 160, Payload: gsmCopy}}, false)
	if _, replaced := rr.Playing(14); replaced {
		t.Error("playing 14's copy: want the copy, nothing replaced it")
	}
	if rep := arrive(14, nil, false); !rep.Replaced || !rep.LateAfterCopy {
		t.Errorf("primary after its copy played: %+v, want late", rep)
	}
	// a copy half a chunk back, and one of the wrong length, cannot stand for a packet
	rep := arrive(20, []Block{{PT: 3, TimestampOffset: 80, Payload: gsmCopy}, {PT: 0, TimestampOffset: 160, Payload: primary[:80]}}, false)
	if rep.Malformed != 2 {
		t.Errorf("unusable copies: %+v, want 2 malformed", rep)
	}
}
