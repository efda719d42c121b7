package interleave_test

import (
	"errors"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/interleave"
	"github.com/spurtvoip/spurt/jitter"
)

type pushed struct {
	p       jitter.Packet
	arrival time.Duration
}

// The reassembler hands the buffer a group's chunks with consecutive sequence
// numbers from its first packet's, the marker on the first, the group's last
// arrival, holes in their metadata, and only the first observed; it says what
// it did with every packet, and keeps a queued chunk's received start for
// concealment.
func TestReassembler(t *testing.T) {
	const depth, chunkBytes = 4, 8
	il, err := interleave.NewInterleaver(depth, chunkBytes)
	if err != nil {
		t.Fatal(err)
	}
	var packets [][]byte
	for c := range depth {
		chunk := make([]byte, chunkBytes)
		for i := range chunk {
			chunk[i] = byte(16*c + i + 1)
		}
		if packets, err = il.Add(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if len(packets) != depth {
		t.Fatalf("%d packets for a group, want %d", len(packets), depth)
	}
	var out []pushed
	ra, err := interleave.NewReassembler(depth, chunkBytes, 0xFF, func(p jitter.Packet, at time.Duration) jitter.Outcome {
		p.Payload = append([]byte(nil), p.Payload...)
		out = append(out, pushed{p, at})
		return jitter.OutcomeQueued
	})
	if err != nil {
		t.Fatal(err)
	}
	var seq0, ts0 uint16 = 65534, 4000
	steps := []struct {
		j       int // packet of the group; -1: a malformed one
		at      time.Duration
		want    interleave.Added
		wantErr bool
	}{
		{0, 10 * time.Millisecond, interleave.AddedTaken, false},
		{0, 11 * time.Millisecond, interleave.AddedDuplicate, false},
		{-1, 12 * time.Millisecond, 0, true},
		{1, 13 * time.Millisecond, interleave.AddedTaken, false},
		// packet 2 is lost
		{3, 15 * time.Millisecond, interleave.AddedTaken, false},
	}
	for i, s := range steps {
		payload := []byte{0x30, 1, 2} // depth 4, index 0, but too short
		seq := uint16(seq0)
		if s.j >= 0 {
			payload, seq = packets[s.j], seq0+uint16(s.j)
		}
		got, err := ra.Add(seq, uint32(ts0), s.j == 0, payload, s.at)
		if s.wantErr {
			if !errors.Is(err, interleave.ErrMalformed) {
				t.Errorf("step %d: error %v, want ErrMalformed", i, err)
			}
			continue
		}
		if err != nil || got != s.want {
			t.Errorf("step %d: Add = %d, %v; want %d", i, got, err, s.want)
		}
	}
	if !ra.Pending() || len(out) != 0 {
		t.Fatalf("group incomplete: pending %v, %d chunks pushed; want pending, none", ra.Pending(), len(out))
	}
	// its playout time comes before the lost packet does
	ra.CloseDue(100*time.Millisecond, func(int64) time.Duration { return 90 * time.Millisecond })
	if ra.Pending() || len(out) != depth {
		t.Fatalf("after CloseDue: pending %v, %d chunks pushed; want none, %d", ra.Pending(), len(out), depth)
	}
	for c, o := range out {
		p := o.p
		if p.SequenceNumber != seq0+uint16(c) || p.Timestamp != uint32(ts0)+uint32(c*chunkBytes) || p.Marker != (c == 0) ||
			p.Unobserved != (c > 0) || p.Meta.Holes != 1<<2 || o.arrival != 15*time.Millisecond || p.Samples != chunkBytes {
			t.Errorf("chunk %d: %+v at %v", c, p, o.arrival)
		}
		unit := chunkBytes / depth
		for u := range depth {
			for k := range unit {
				want := byte(16*c + u*unit + k + 1)
				if u == 2 {
					want = 0xFF
				}
				if got := p.Payload[u*unit+k]; got != want {
					t.Fatalf("chunk %d unit %d byte %d = %#x, want %#x", c, u, k, got, want)
				}
			}
		}
	}
	if got, err := ra.Add(seq0+2, uint32(ts0), false, packets[2], 200*time.Millisecond); err != nil || got != interleave.AddedLate {
		t.Errorf("the lost packet after its group was closed: %d, %v; want late", got, err)
	}
	// what concealment sees after chunk 0: chunk 1's units before its hole
	after := ra.After(seq0, uint32(ts0))
	if want := []byte{17, 18, 19, 20}; string(after) != string(want) {
		t.Errorf("After chunk 0 = %v, want %v", after, want)
	}
	if ra.After(seq0+3, uint32(ts0)+3*chunkBytes) != nil {
		t.Error("After the group's last chunk: want nil, nothing follows")
	}
}
