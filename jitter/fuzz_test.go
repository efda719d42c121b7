package jitter

import (
	"encoding/binary"
	"math"
	"testing"
	"time"
)

// counting wraps a strategy and counts the packets it observes.
type counting struct {
	Strategy
	observed uint64
}

func (c *counting) Observe(mediaTime, arrival time.Duration) {
	c.observed++
	c.Strategy.Observe(mediaTime, arrival)
}

// fuzzPayload identifies a packet by its sequence number and timestamp, so
// that a chunk can be checked to carry the payload of the packet it names.
func fuzzPayload(dst []byte, seq uint16, ts uint32) []byte {
	dst = binary.BigEndian.AppendUint16(dst[:0], seq)
	return binary.BigEndian.AppendUint32(dst, ts)
}

// FuzzBuffer feeds arbitrary packet sequences and clock steps to a buffer and
// checks its invariants after every operation: no panic; stats that add up;
// Pop returning chunks that are due, in non-decreasing PlayAt and strictly
// increasing media order, spurts not overlapping, payloads belonging to the
// packets named; and at the end, everything queued drains.
//
// Each operation is 8 bytes: flags, sequence number (2), timestamp (2),
// samples/4, clock step in 0.1 ms (2). Flags: bit 0 marker; bit 1 pop
// instead of push; bit 2 absolute sequence number, else a step of the signed
// second byte; bit 3 absolute timestamp (high half 0xffff), else a step of
// the signed fifth byte times 20 ticks; bit 4 pop ahead of the clock by the
// step instead of advancing it.
func FuzzBuffer(f *testing.F) {
	// seq +1, ts +160, 20 ms later; then a pop; a loss; a reordered packet;
	// a marker after silence; a stray sequence jump; a clock jump and the
	// packet confirming it; a pop far ahead.
	f.Add(uint8(0), uint8(0), []byte{
		0, 0, 1, 0, 8, 40, 0, 200,
		0, 0, 1, 0, 8, 40, 0, 200,
		2, 0, 0, 0, 0, 0, 0, 200,
		0, 0, 2, 0, 16, 40, 0, 200,
		0, 0, 255, 0, 248, 40, 0, 10,
		1, 0, 2, 0, 120, 40, 19, 136,
		4, 117, 48, 0, 8, 40, 0, 100,
		8, 0, 1, 18, 52, 40, 0, 100,
		8, 0, 1, 18, 212, 40, 0, 200,
		18, 0, 0, 0, 0, 0, 39, 16,
	})
	// A small buffer that fills up, odd sizes, pops ahead of the clock.
	f.Add(uint8(3), uint8(1), []byte{
		0, 0, 1, 0, 8, 40, 0, 1,
		0, 0, 1, 0, 8, 160, 0, 50,
		0, 0, 1, 0, 40, 10, 0, 50,
		0, 0, 1, 0, 2, 10, 0, 50,
		0, 0, 1, 0, 2, 10, 0, 50,
		18, 0, 0, 0, 0, 0, 3, 0,
		0, 0, 254, 0, 252, 10, 0, 1,
	})
	f.Fuzz(func(t *testing.T, capacity, strategy uint8, ops []byte) {
		var inner Strategy
		switch strategy % 3 {
		case 0:
			inner, _ = NewEWMA(DefaultEWMAConfig())
		case 1:
			cold := DefaultEWMAConfig()
			cold.WarmupPackets = 0
			inner, _ = NewEWMA(cold)
		default:
			inner, _ = NewFixed(time.Duration(strategy) * time.Millisecond)
		}
		s := &counting{Strategy: inner}
		b, err := New(Config{ClockRate: rate, Strategy: s, Capacity: int(capacity % 70), MaxPayload: 8})
		if err != nil {
			t.Fatal(err)
		}
		var (
			seq        uint16
			ts         uint32
			now        time.Duration
			payload    = make([]byte, 0, 8)
			chunks     int
			last       Chunk
			lastTS     int64
			haveChunk  bool
			prevStats  Stats
			wantChunkP = make([]byte, 0, 8)
		)
		check := func(c Chunk, limit time.Duration) {
			t.Helper()
			if c.PlayAt > limit {
				t.Fatalf("chunk %d due at %v returned at %v", c.SequenceNumber, c.PlayAt, limit)
			}
			if c.Samples <= 0 {
				t.Fatalf("chunk %d of %d samples", c.SequenceNumber, c.Samples)
			}
			if c.Missing != (c.Payload == nil) {
				t.Fatalf("chunk %d: missing %v with payload %v", c.SequenceNumber, c.Missing, c.Payload)
			}
			if !c.Missing {
				if c.Arrival > c.PlayAt {
					t.Fatalf("chunk %d arrived at %v, after its playout at %v", c.SequenceNumber, c.Arrival, c.PlayAt)
				}
				if want := fuzzPayload(wantChunkP, c.SequenceNumber, c.Timestamp); string(c.Payload) != string(want) {
					t.Fatalf("chunk %d ts %d carries payload %x", c.SequenceNumber, c.Timestamp, c.Payload)
				}
			}
			if haveChunk {
				if c.PlayAt < last.PlayAt {
					t.Fatalf("chunk %d plays at %v, before the previous one (%v)", c.SequenceNumber, c.PlayAt, last.PlayAt)
				}
				if b.emitted.extTS <= lastTS {
					t.Fatalf("chunk %d: media order broken (%d after %d)", c.SequenceNumber, b.emitted.extTS, lastTS)
				}
				if end := last.PlayAt + b.duration(int64(last.Samples)); c.SpurtStart && c.PlayAt < end {
					t.Fatalf("spurt starting at %v overlaps the previous chunk, ending at %v", c.PlayAt, end)
				}
			} else if !c.SpurtStart {
				t.Fatalf("first chunk does not start a spurt")
			}
			last, lastTS, haveChunk = c, b.emitted.extTS, true
			chunks++
		}
		counts := func(op int) {
			t.Helper()
			st := b.Stats()
			if st.Received != st.Queued+st.Late+st.Duplicates+st.Refused {
				t.Fatalf("op %d: received %d != queued %d + late %d + duplicates %d + refused %d",
					op, st.Received, st.Queued, st.Late, st.Duplicates, st.Refused)
			}
			if st.Queued != st.Played+uint64(b.Len()) {
				t.Fatalf("op %d: queued %d != played %d + held %d", op, st.Queued, st.Played, b.Len())
			}
			if s.observed != st.Queued+st.Late {
				t.Fatalf("op %d: observed %d != queued %d + late %d", op, s.observed, st.Queued, st.Late)
			}
			if b.Len() > len(b.slots) {
				t.Fatalf("op %d: %d queued in %d slots", op, b.Len(), len(b.slots))
			}
		}
		for op := 0; op+8 <= len(ops); op += 8 {
			o := ops[op : op+8]
			flags := o[0]
			step := time.Duration(binary.BigEndian.Uint16(o[6:])) * 100 * time.Microsecond
			if flags&2 != 0 {
				limit := now
				if flags&16 != 0 {
					limit += step
				} else {
					now += step
					limit = now
				}
				if c, ok := b.Pop(limit); ok {
					check(c, limit)
				}
				counts(op)
				continue
			}
			now += step
			if flags&4 != 0 {
				seq = binary.BigEndian.Uint16(o[1:])
			} else {
				seq += uint16(int8(o[2]))
			}
			if flags&8 != 0 {
				ts = 0xffff0000 | uint32(binary.BigEndian.Uint16(o[3:]))
			} else {
				ts += uint32(int32(int8(o[4])) * 20)
			}
			p := Packet{
				SequenceNumber: seq, Timestamp: ts, Marker: flags&1 != 0,
				Samples: int(o[5]) * 4, Payload: fuzzPayload(payload, seq, ts),
			}
			before := b.Stats()
			got := b.Push(p, now)
			after := b.Stats()
			moved := map[Outcome]bool{
				OutcomeQueued:    after.Queued == before.Queued+1,
				OutcomeLate:      after.Late == before.Late+1,
				OutcomeDuplicate: after.Duplicates == before.Duplicates+1,
			}
			if ok, known := moved[got]; known && !ok || !known && after.Refused != before.Refused+1 {
				t.Fatalf("op %d: outcome %v but stats went from %+v to %+v", op, got, before, after)
			}
			prevStats = after
			counts(op)
		}
		// Everything queued plays. Every Pop moves past at least one sequence
		// number, and the queued ones span fewer than the buffer's slots.
		for range len(b.slots) + b.Len() + 1 {
			c, ok := b.Pop(math.MaxInt64)
			if !ok {
				break
			}
			check(c, math.MaxInt64)
		}
		if b.Len() != 0 {
			t.Fatalf("%d packets never play (stats %+v)", b.Len(), prevStats)
		}
		counts(len(ops))
	})
}
