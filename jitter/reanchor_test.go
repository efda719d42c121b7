package jitter

import (
	"testing"
	"time"
)

// TestReanchor: after Reanchor the next packet, however unrelated its
// sequence number and timestamp, starts a new spurt right away, after what
// is queued, with its media time continued from the newest packet's by the
// time between their arrivals; without Reanchor the same packet is refused
// as a misfit.
func TestReanchor(t *testing.T) {
	for _, reanchor := range []bool{false, true} {
		fixed, err := NewFixed(60 * time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		b := newTestBuffer(t, fixed, 64)
		payload := []byte{1, 2, 3}
		for i := range 5 {
			p := Packet{SequenceNumber: 100 + uint16(i), Timestamp: 1000 + 160*uint32(i), Samples: 160, Payload: payload}
			if out := b.Push(p, time.Duration(i)*20*time.Millisecond); out != OutcomeQueued {
				t.Fatalf("packet %d: %v", i, out)
			}
		}
		if reanchor {
			b.Reanchor()
		}
		// another source: numbers and clock of its own, 120 ms after the last packet
		at := 200 * time.Millisecond
		out := b.Push(Packet{SequenceNumber: 40000, Timestamp: 3e9, Samples: 160, Payload: payload}, at)
		st := b.Stats()
		if !reanchor {
			if out != OutcomeTooOld || st.Spurts != 1 || st.Restarts != 0 {
				t.Errorf("without Reanchor: %v, spurts %d, restarts %d; want too old, 1, 0", out, st.Spurts, st.Restarts)
			}
			continue
		}
		if out != OutcomeQueued || st.Spurts != 2 || st.Restarts != 1 {
			t.Fatalf("after Reanchor: %v, spurts %d, restarts %d; want queued, 2, 1", out, st.Spurts, st.Restarts)
		}
		if ts, media, ok := b.Newest(); !ok || ts != 3e9 || media != 80*time.Millisecond+120*time.Millisecond {
			t.Errorf("newest: ts %d media %v (%v); want 3e9 at 200 ms of media time", ts, media, ok)
		}
		var last Chunk
		for now := time.Duration(0); now < 2*time.Second; now += 5 * time.Millisecond {
			for {
				c, ok := b.Pop(now)
				if !ok {
					break
				}
				if c.Missing {
					t.Errorf("a hole across the re-anchoring: %+v", c)
				}
				last = c
			}
		}
		if last.SequenceNumber != 40000 || !last.SpurtStart || last.PlayAt-last.Media != 60*time.Millisecond {
			t.Errorf("the new source's chunk: %+v; want seq 40000 starting a spurt 60 ms after its media time", last)
		}
	}
}
