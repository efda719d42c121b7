package jitter

import (
	"fmt"
	"math"
	"strings"
	"testing"
	"time"
)

const rate = 8000 // ticks per second: 160 ticks = 20 ms

func ms(x float64) time.Duration { return time.Duration(x * float64(time.Millisecond)) }

// scripted is a Strategy whose offset the test dictates: after the n-th
// observation it is offsets[n-1] (the last one once they run out).
type scripted struct {
	offsets  []time.Duration
	observed int
}

func (s *scripted) Observe(mediaTime, arrival time.Duration) { s.observed++ }
func (s *scripted) Name() string                             { return "scripted" }
func (s *scripted) SpurtOffset() time.Duration {
	return s.offsets[min(max(s.observed-1, 0), len(s.offsets)-1)]
}

func offsets(msList ...float64) *scripted {
	s := &scripted{}
	for _, m := range msList {
		s.offsets = append(s.offsets, ms(m))
	}
	return s
}

// in is one pushed packet; samples 0 means 160.
type in struct {
	seq     uint16
	ts      uint32
	marker  bool
	samples int
	at      float64 // arrival, ms
	want    Outcome
}

// out is one chunk Pop returns; samples 0 means 160.
type out struct {
	seq     uint16
	ts      uint32
	samples int
	playAt  float64 // ms
	start   bool
	missing bool
}

func (p in) packet() Packet {
	n := p.samples
	if n == 0 {
		n = 160
	}
	return Packet{SequenceNumber: p.seq, Timestamp: p.ts, Marker: p.marker, Samples: n, Payload: []byte{byte(p.seq), byte(p.seq >> 8)}}
}

func (c out) String() string {
	return fmt.Sprintf("{seq %d ts %d samples %d at %vms start %v missing %v}", c.seq, c.ts, c.samples, c.playAt, c.start, c.missing)
}

func chunkOut(c Chunk) out {
	return out{c.SequenceNumber, c.Timestamp, c.Samples, float64(c.PlayAt) / float64(time.Millisecond), c.SpurtStart, c.Missing}
}

func newTestBuffer(t testing.TB, s Strategy, capacity int) *Buffer {
	t.Helper()
	b, err := New(Config{ClockRate: rate, Strategy: s, Capacity: capacity})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// pushAll pushes the packets, checking each outcome.
func pushAll(t *testing.T, b *Buffer, packets []in) {
	t.Helper()
	for i, p := range packets {
		if got := b.Push(p.packet(), ms(p.at)); got != p.want {
			t.Fatalf("push %d (seq %d ts %d at %vms): %v, want %v", i, p.seq, p.ts, p.at, got, p.want)
		}
	}
}

// drain pops everything at the end of time and checks the chunks.
func drain(t *testing.T, b *Buffer, want []out) {
	t.Helper()
	var got []out
	for range len(b.slots) + b.Len() + 1 { // every Pop moves past at least one sequence number
		c, ok := b.Pop(math.MaxInt64)
		if !ok {
			break
		}
		if !c.Missing {
			if c.Payload[0] != byte(c.SequenceNumber) || c.Payload[1] != byte(c.SequenceNumber>>8) {
				t.Errorf("chunk %d carries the payload of another packet: %v", c.SequenceNumber, c.Payload)
			}
		}
		got = append(got, chunkOut(c))
	}
	for i := range want {
		if want[i].samples == 0 {
			want[i].samples = 160
		}
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("chunks\n got %v\nwant %v", got, want)
	}
	if b.Len() != 0 {
		t.Fatalf("%d packets left after draining", b.Len())
	}
}

// checkCounts checks that the stats add up and that the strategy saw exactly
// the packets that were queued or late.
func checkCounts(t *testing.T, b *Buffer, s *scripted) {
	t.Helper()
	st := b.Stats()
	if st.Received != st.Queued+st.Late+st.Duplicates+st.Refused {
		t.Errorf("received %d != queued %d + late %d + duplicates %d + refused %d",
			st.Received, st.Queued, st.Late, st.Duplicates, st.Refused)
	}
	if st.Queued != st.Played+uint64(b.Len()) {
		t.Errorf("queued %d != played %d + held %d", st.Queued, st.Played, b.Len())
	}
	if s != nil && uint64(s.observed) != st.Queued+st.Late {
		t.Errorf("strategy observed %d packets, want queued+late = %d", s.observed, st.Queued+st.Late)
	}
}

const (
	Q   = OutcomeQueued
	L   = OutcomeLate
	D   = OutcomeDuplicate
	Old = OutcomeTooOld
	Inv = OutcomeInvalid
)

// TestBufferPlayout pushes hand-made arrival sequences and checks every
// chunk's playout. Media time is ts/8 ms from the first packet's timestamp.
func TestBufferPlayout(t *testing.T) {
	const top = math.MaxUint32 - 159 // 2^32 - 160
	tests := []struct {
		name       string
		strategy   *scripted
		packets    []in
		want       []out
		wantSpurts uint64
	}{
		{
			name:       "in order, one spurt at the strategy's offset",
			strategy:   offsets(50),
			packets:    []in{{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 45, Q}, {3, 320, false, 0, 62, Q}},
			want:       []out{{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false}, {3, 320, 0, 90, false, false}},
			wantSpurts: 1,
		},
		{
			name:     "offset re-chosen only at a spurt start",
			strategy: offsets(50, 80, 80, 120, 150),
			packets: []in{
				{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 45, Q}, {3, 320, false, 0, 62, Q},
				{4, 1600, false, 0, 230, Q}, // next seq, ts jump: silence, new spurt at offset 120
				{5, 1760, false, 0, 245, Q},
			},
			want: []out{
				{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false}, {3, 320, 0, 90, false, false},
				{4, 1600, 0, 320, true, false}, {5, 1760, 0, 340, false, false},
			},
			wantSpurts: 2,
		},
		{
			name:       "a jump of exactly one packet is no silence",
			strategy:   offsets(50, 90),
			packets:    []in{{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 45, Q}},
			want:       []out{{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false}},
			wantSpurts: 1,
		},
		{
			name:       "marker starts a spurt without a timestamp jump",
			strategy:   offsets(50, 50, 90),
			packets:    []in{{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 45, Q}, {3, 320, true, 0, 60, Q}},
			want:       []out{{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false}, {3, 320, 0, 130, true, false}},
			wantSpurts: 2,
		},
		{
			name:     "timestamp jump with a sequence gap is loss, not silence",
			strategy: offsets(50, 50, 200),
			packets:  []in{{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 45, Q}, {5, 640, false, 0, 110, Q}},
			want: []out{
				{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false},
				{3, 320, 0, 90, false, true}, {4, 480, 0, 110, false, true}, // the holes up to packet 5
				{5, 640, 0, 130, false, false},
			},
			wantSpurts: 1,
		},
		{
			name:     "a jump further than the sequence gap explains is silence too: the spurt's marked first packet was lost",
			strategy: offsets(50, 50, 100),
			packets:  []in{{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 45, Q}, {4, 1600, false, 0, 230, Q}},
			want: []out{
				{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false},
				{4, 1600, 0, 300, true, false}, // no hole across the silence
			},
			wantSpurts: 2,
		},
		{
			name:     "a spurt's marked first packet overtaken by its second plays first in that spurt",
			strategy: offsets(50, 50, 100),
			packets: []in{
				{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 45, Q},
				{4, 1600, false, 0, 230, Q}, // starts spurt 2 at offset 100
				{3, 1440, true, 0, 232, Q},  // its first packet: 180+100
			},
			want: []out{
				{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false},
				{3, 1440, 0, 280, true, false}, {4, 1600, 0, 300, false, false},
			},
			wantSpurts: 2,
		},
		{
			name:     "an overtaken marked first packet after its spurt's playout is late",
			strategy: offsets(50, 50, 100),
			packets: []in{
				{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 45, Q},
				{4, 1600, false, 0, 230, Q}, {3, 1440, true, 0, 285, L},
			},
			want:       []out{{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false}, {4, 1600, 0, 300, true, false}},
			wantSpurts: 2,
		},
		{
			name:       "marker with a sequence gap starts a spurt; the lost tail is no hole",
			strategy:   offsets(50, 50, 40),
			packets:    []in{{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 45, Q}, {4, 1600, true, 0, 230, Q}},
			want:       []out{{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false}, {4, 1600, 0, 240, true, false}},
			wantSpurts: 2,
		},
		{
			name:       "a spurt's first packet is never late",
			strategy:   offsets(50, 50, 10),
			packets:    []in{{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 45, Q}, {3, 1600, false, 0, 230, Q}},
			want:       []out{{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false}, {3, 1600, 0, 230, true, false}},
			wantSpurts: 2,
		},
		{
			name:     "a spurt starts after the previous one's audio",
			strategy: offsets(100, 100, 0),
			packets: []in{
				{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 45, Q}, // play 100-140
				{3, 480, false, 0, 61, Q}, // would play at 61, so at 140: offset 80
				{4, 640, false, 0, 80, Q},
			},
			want: []out{
				{1, 0, 0, 100, true, false}, {2, 160, 0, 120, false, false},
				{3, 480, 0, 140, true, false}, {4, 640, 0, 160, false, false},
			},
			wantSpurts: 2,
		},
		{
			name:       "late packet is dropped and leaves a hole",
			strategy:   offsets(50),
			packets:    []in{{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 75, L}, {3, 320, false, 0, 80, Q}},
			want:       []out{{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, true}, {3, 320, 0, 90, false, false}},
			wantSpurts: 1,
		},
		{
			name:     "packets of other durations play for what they hold",
			strategy: offsets(50),
			packets: []in{
				{1, 0, false, 640, 30, Q},   // 80 ms
				{2, 640, false, 0, 100, Q},  // right after it: no silence
				{3, 800, false, 80, 120, Q}, // 10 ms
				{4, 880, false, 0, 130, Q},
				{5, 1120, false, 0, 150, Q}, // 880+160 would be next; 1120 is silence
			},
			want: []out{
				{1, 0, 640, 50, true, false}, {2, 640, 0, 130, false, false}, {3, 800, 80, 150, false, false},
				{4, 880, 0, 160, false, false}, {5, 1120, 0, 190, true, false}, // 140+50, after 160+20
			},
			wantSpurts: 2,
		},
		{
			name:       "reordered packet plays in place",
			strategy:   offsets(50),
			packets:    []in{{1, 0, false, 0, 30, Q}, {3, 320, false, 0, 55, Q}, {2, 160, false, 0, 60, Q}},
			want:       []out{{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false}, {3, 320, 0, 90, false, false}},
			wantSpurts: 1,
		},
		{
			name:       "late-arriving marker does not start a spurt retroactively",
			strategy:   offsets(50, 50, 10),
			packets:    []in{{1, 0, false, 0, 30, Q}, {3, 320, false, 0, 55, Q}, {2, 160, true, 0, 60, Q}},
			want:       []out{{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false}, {3, 320, 0, 90, false, false}},
			wantSpurts: 1,
		},
		{
			name:     "reordered packet joins the spurt its timestamp falls in",
			strategy: offsets(50, 50, 100),
			packets: []in{
				{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 45, Q},
				{4, 1600, true, 0, 210, Q}, // spurt 2 at offset 100
				{3, 320, false, 0, 80, Q},  // spurt 1's offset: 40+50
			},
			want: []out{
				{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false}, {3, 320, 0, 90, false, false},
				{4, 1600, 0, 300, true, false},
			},
			wantSpurts: 2,
		},
		{
			name:     "reordered packet that would run into the next spurt is late",
			strategy: offsets(50, 50, 20),
			packets: []in{
				{1, 0, false, 0, 30, Q}, {2, 160, false, 0, 45, Q},
				{4, 480, true, 0, 61, Q},  // 60+20 = 80, but spurt 1 runs to 90
				{3, 320, false, 0, 65, L}, // would play 90-110
			},
			want:       []out{{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false}, {4, 480, 0, 90, true, false}},
			wantSpurts: 2,
		},
		{
			name:       "packet overtaken by the stream's first one still plays",
			strategy:   offsets(60),
			packets:    []in{{2, 160, false, 0, 30, Q}, {1, 0, false, 0, 35, Q}, {3, 320, false, 0, 50, Q}},
			want:       []out{{1, 0, 0, 40, true, false}, {2, 160, 0, 60, false, false}, {3, 320, 0, 80, false, false}},
			wantSpurts: 1,
		},
		{
			name:     "sequence number wraps",
			strategy: offsets(50),
			packets: []in{
				{65534, 1000, false, 0, 30, Q}, {65535, 1160, false, 0, 45, Q},
				{0, 1320, false, 0, 62, Q}, {1, 1480, false, 0, 80, Q},
			},
			want: []out{
				{65534, 1000, 0, 50, true, false}, {65535, 1160, 0, 70, false, false},
				{0, 1320, 0, 90, false, false}, {1, 1480, 0, 110, false, false},
			},
			wantSpurts: 1,
		},
		{
			name:     "timestamp wraps",
			strategy: offsets(50),
			packets: []in{
				{10, top - 160, false, 0, 30, Q}, {11, top, false, 0, 45, Q},
				{12, 0, false, 0, 62, Q}, {13, 160, false, 0, 80, Q},
			},
			want: []out{
				{10, top - 160, 0, 50, true, false}, {11, top, 0, 70, false, false},
				{12, 0, 0, 90, false, false}, {13, 160, 0, 110, false, false},
			},
			wantSpurts: 1,
		},
		{
			name:     "timestamp 2^32-1 to 0",
			strategy: offsets(50),
			packets:  []in{{7, math.MaxUint32, false, 1, 30, Q}, {8, 0, false, 0, 31, Q}, {9, 160, false, 0, 45, Q}},
			want: []out{
				{7, math.MaxUint32, 1, 50, true, false}, {8, 0, 0, 50.125, false, false}, {9, 160, 0, 70.125, false, false},
			},
			wantSpurts: 1,
		},
		{
			name:     "both wrap, reordered across the wrap, silence after it",
			strategy: offsets(50, 50, 50, 70),
			packets: []in{
				{65535, top, false, 0, 30, Q}, {1, 160, false, 0, 50, Q}, {0, 0, false, 0, 55, Q},
				{2, 1600, false, 0, 230, Q},
			},
			want: []out{
				{65535, top, 0, 50, true, false}, {0, 0, 0, 70, false, false}, {1, 160, 0, 90, false, false},
				{2, 1600, 0, 290, true, false}, // 200+20 ms of media, offset 70
			},
			wantSpurts: 2,
		},
		{
			name:     "duplicates are dropped and not observed",
			strategy: offsets(50),
			packets: []in{
				{1, 0, false, 0, 30, Q}, {1, 0, false, 0, 31, D},
				{2, 160, false, 0, 75, L}, {2, 160, false, 0, 76, D}, // duplicate of a late one
				{3, 320, false, 0, 80, Q}, {1, 0, false, 0, 81, D}, {3, 320, false, 0, 82, D},
			},
			want:       []out{{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, true}, {3, 320, 0, 90, false, false}},
			wantSpurts: 1,
		},
		{
			name:     "reordered packet whose timestamp contradicts its neighbours",
			strategy: offsets(50),
			packets: []in{
				{1, 0, false, 0, 30, Q}, {3, 320, false, 0, 55, Q},
				{2, 400, false, 0, 60, Inv}, // after packet 3's timestamp
				{2, 0, false, 0, 61, Inv},   // at packet 1's
				{2, 160, false, 0, 62, Q},
			},
			want:       []out{{1, 0, 0, 50, true, false}, {2, 160, 0, 70, false, false}, {3, 320, 0, 90, false, false}},
			wantSpurts: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := newTestBuffer(t, tc.strategy, 0)
			pushAll(t, b, tc.packets)
			if got := b.Stats().Spurts; got != tc.wantSpurts {
				t.Errorf("spurts %d, want %d", got, tc.wantSpurts)
			}
			checkCounts(t, b, tc.strategy)
			drain(t, b, tc.want)
			checkCounts(t, b, tc.strategy)
		})
	}
}

// step is a Push (pop false) or a Pop(at) expecting chunk, or nothing if
// chunk is nil.
type step struct {
	pop   bool
	in    in
	at    float64
	chunk *out
}

func pushStep(p in) step              { return step{in: p} }
func popStep(at float64, c *out) step { return step{pop: true, at: at, chunk: c} }
func chunk(seq uint16, ts uint32, samples int, at float64, start, missing bool) *out {
	if samples == 0 {
		samples = 160
	}
	return &out{seq, ts, samples, at, start, missing}
}

// TestBufferPushPop interleaves Push and Pop.
func TestBufferPushPop(t *testing.T) {
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "pop waits for the playout time",
			steps: []step{
				pushStep(in{1, 0, false, 0, 30, Q}),
				popStep(49, nil),
				popStep(50, chunk(1, 0, 0, 50, true, false)),
				popStep(1000, nil),
			},
		},
		{
			name: "no hole for the tail of a spurt nothing follows yet",
			steps: []step{
				pushStep(in{1, 0, false, 0, 30, Q}), pushStep(in{2, 160, false, 0, 45, Q}),
				popStep(100, chunk(1, 0, 0, 50, true, false)),
				popStep(100, chunk(2, 160, 0, 70, false, false)),
				popStep(100, nil), // 3 is missing, but nothing proves it yet
				pushStep(in{4, 480, false, 0, 100, Q}),
				popStep(100, chunk(3, 320, 0, 90, false, true)),
				popStep(109, nil),
				popStep(110, chunk(4, 480, 0, 110, false, false)),
			},
		},
		{
			name: "a hole is returned only once due",
			steps: []step{
				pushStep(in{1, 0, false, 0, 30, Q}), pushStep(in{3, 320, false, 0, 55, Q}),
				popStep(60, chunk(1, 0, 0, 50, true, false)),
				popStep(69, nil),
				pushStep(in{2, 160, false, 0, 69, Q}), // just in time
				popStep(70, chunk(2, 160, 0, 70, false, false)),
				popStep(90, chunk(3, 320, 0, 90, false, false)),
			},
		},
		{
			name: "packet whose place Pop passed is late, even if its time has not come",
			steps: []step{
				pushStep(in{1, 0, false, 0, 30, Q}), pushStep(in{3, 320, false, 0, 55, Q}),
				popStep(95, chunk(1, 0, 0, 50, true, false)),
				popStep(95, chunk(2, 160, 0, 70, false, true)),
				popStep(95, chunk(3, 320, 0, 90, false, false)),
				pushStep(in{2, 160, false, 0, 60, L}),
				pushStep(in{2, 160, false, 0, 61, D}),
				pushStep(in{1, 0, false, 0, 62, D}), // already played
			},
		},
		{
			name: "the tail of a spurt may still come while the next one waits",
			steps: []step{
				pushStep(in{1, 0, false, 0, 30, Q}),
				pushStep(in{3, 1600, true, 0, 230, Q}), // new spurt: 200+50
				popStep(240, chunk(1, 0, 0, 50, true, false)),
				popStep(240, nil),
				pushStep(in{2, 160, false, 0, 240, L}), // belonged at 70
				popStep(250, chunk(3, 1600, 0, 250, true, false)),
			},
		},
		{
			name: "a spurt's second packet overtaking its marked first is no hole across the silence",
			steps: []step{
				pushStep(in{1, 0, false, 0, 30, Q}), pushStep(in{2, 160, false, 0, 45, Q}),
				popStep(100, chunk(1, 0, 0, 50, true, false)),
				popStep(100, chunk(2, 160, 0, 70, false, false)),
				pushStep(in{4, 1760, false, 0, 230, Q}), // starts the spurt: 220+50
				popStep(231, nil),                       // no hole from 2 to 4
				pushStep(in{3, 1600, true, 0, 232, Q}),  // its first packet, in time for 250
				popStep(250, chunk(3, 1600, 0, 250, true, false)),
				popStep(270, chunk(4, 1760, 0, 270, false, false)),
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := offsets(50)
			b := newTestBuffer(t, s, 0)
			for i, st := range tc.steps {
				if !st.pop {
					if got := b.Push(st.in.packet(), ms(st.in.at)); got != st.in.want {
						t.Fatalf("step %d: push seq %d: %v, want %v", i, st.in.seq, got, st.in.want)
					}
					continue
				}
				c, ok := b.Pop(ms(st.at))
				switch {
				case st.chunk == nil && ok:
					t.Fatalf("step %d: Pop(%vms) = %v, want nothing", i, st.at, chunkOut(c))
				case st.chunk != nil && !ok:
					t.Fatalf("step %d: Pop(%vms) returned nothing, want %v", i, st.at, *st.chunk)
				case ok && chunkOut(c) != *st.chunk:
					t.Fatalf("step %d: Pop(%vms) = %v, want %v", i, st.at, chunkOut(c), *st.chunk)
				}
			}
			checkCounts(t, b, s)
		})
	}
}

// TestBufferBadInput feeds garbage into a healthy stream and checks that it
// is refused or absorbed, and that the stream plays on afterwards.
func TestBufferBadInput(t *testing.T) {
	// A healthy prefix: seq 100.., ts 8000.., 30 ms transit, offset 50 ms.
	normal := func(i int) in {
		return in{uint16(100 + i), uint32(8000 + 160*i), false, 0, float64(30 + 20*i), Q}
	}
	const hour = 3600 * rate
	tests := []struct {
		name         string
		garbage      []in
		resume       int    // index of the normal packet the stream resumes with
		shift        uint16 // added to the resumed stream's sequence numbers
		tsShift      uint32 // and timestamps (a restart)
		wantRestarts uint64
	}{
		{
			name:    "stray sequence jump of 30000",
			garbage: []in{{30105, 8800, false, 0, 130, Old}},
			resume:  5,
		},
		{
			name:    "stray timestamp jump of an hour",
			garbage: []in{{105, 8800 + hour, false, 0, 130, Old}},
			resume:  6, // 105 is lost
		},
		{
			name:    "stray timestamp going backwards",
			garbage: []in{{105, 7000, false, 0, 130, Old}},
			resume:  6,
		},
		{
			name:    "stray packet far behind",
			garbage: []in{{65000, 500, false, 0, 130, Old}}, // 640 behind
			resume:  5,
		},
		{
			name: "bad sizes",
			garbage: []in{
				{105, 8800, false, -1, 130, Inv}, {105, 8800, false, rate + 1, 130, Inv},
			},
			resume: 5,
		},
		{
			name:         "sender restart with new sequence numbers and timestamps",
			garbage:      []in{{40000, 123456, false, 0, 130, Old}},
			resume:       6, // continues from the first new packet, which is lost
			shift:        40000 - 105,
			tsShift:      123456 - 8800,
			wantRestarts: 1,
		},
		{
			name:         "sender clock jumps an hour for good",
			garbage:      []in{{105, 8800 + hour, false, 0, 130, Old}},
			resume:       6,
			tsShift:      hour,
			wantRestarts: 1,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := offsets(50)
			b := newTestBuffer(t, s, 0)
			for i := range 5 {
				pushAll(t, b, []in{normal(i)})
			}
			pushAll(t, b, tc.garbage)
			var last time.Duration
			for i := tc.resume; i < tc.resume+20; i++ {
				p := normal(i)
				p.seq += tc.shift
				p.ts += tc.tsShift
				pushAll(t, b, []in{p})
				// Playout stays close to arrival: nothing was pushed into the future.
				for {
					c, ok := b.Pop(ms(p.at + 200))
					if !ok {
						break
					}
					if c.PlayAt < last {
						t.Fatalf("chunk %d plays at %v, before the previous chunk (%v)", c.SequenceNumber, c.PlayAt, last)
					}
					last = c.PlayAt
				}
				if b.Len() > 12 {
					t.Fatalf("after packet %d, %d packets wait: playout is stuck", p.seq, b.Len())
				}
			}
			if st := b.Stats(); st.Restarts != tc.wantRestarts {
				t.Errorf("restarts %d, want %d", st.Restarts, tc.wantRestarts)
			}
			checkCounts(t, b, s)
		})
	}
}

func TestBufferTooLarge(t *testing.T) {
	b, err := New(Config{ClockRate: rate, Strategy: offsets(50), MaxPayload: 4})
	if err != nil {
		t.Fatal(err)
	}
	p := Packet{SequenceNumber: 1, Samples: 160, Payload: make([]byte, 5)}
	if got := b.Push(p, 0); got != OutcomeTooLarge {
		t.Fatalf("5-byte payload in 4-byte slots: %v", got)
	}
	p.Payload = p.Payload[:4]
	if got := b.Push(p, 0); got != OutcomeQueued {
		t.Fatalf("4-byte payload in 4-byte slots: %v", got)
	}
	if st := b.Stats(); st.Refused != 1 || st.Queued != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestBufferCopiesPayload(t *testing.T) {
	b := newTestBuffer(t, offsets(0), 0)
	payload := []byte{1, 2, 3}
	b.Push(Packet{SequenceNumber: 1, Samples: 160, Payload: payload}, 0)
	payload[0] = 9
	c, ok := b.Pop(time.Second)
	if !ok || string(c.Payload) != "\x01\x02\x03" {
		t.Fatalf("Pop = %v, %v; want the payload as pushed", c.Payload, ok)
	}
}

// TestBufferFull checks that a buffer Pop does not drain refuses packets
// once Capacity slots are spoken for, and takes them again after Pop.
func TestBufferFull(t *testing.T) {
	b := newTestBuffer(t, offsets(1000), 4)
	for i := range 4 {
		pushAll(t, b, []in{{uint16(i + 1), uint32(160 * i), false, 0, float64(20 * i), Q}})
	}
	pushAll(t, b, []in{{5, 640, false, 0, 80, OutcomeFull}})
	if _, ok := b.Pop(ms(1000)); !ok {
		t.Fatal("nothing to pop")
	}
	pushAll(t, b, []in{{5, 640, false, 0, 81, Q}})
	checkCounts(t, b, nil)
}

// TestBufferLongLoss checks that a gap longer than the buffer's capacity
// (but plausible: 3000 packets) is played through as a hole.
func TestBufferLongLoss(t *testing.T) {
	b := newTestBuffer(t, offsets(50), 8)
	pushAll(t, b, []in{{1, 0, false, 0, 30, Q}})
	drain(t, b, []out{{1, 0, 0, 50, true, false}})
	pushAll(t, b, []in{{1000, 999 * 160, false, 0, 999*20 + 30, Q}, {1001, 1000 * 160, false, 0, 1000*20 + 30, Q}})
	c, ok := b.Pop(math.MaxInt64)
	if !ok || !c.Missing || c.Samples != 998*160 || c.Timestamp != 160 {
		t.Fatalf("Pop = %v, %v; want a hole of 998 packets from ts 160", chunkOut(c), ok)
	}
	drain(t, b, []out{{1000, 999 * 160, 0, 999*20 + 50, false, false}, {1001, 1000 * 160, 0, 1000*20 + 50, false, false}})
}

func TestNewValidates(t *testing.T) {
	s := offsets(0)
	tests := []struct {
		name    string
		cfg     Config
		wantErr string
	}{
		{"defaults", Config{ClockRate: 8000, Strategy: s}, ""},
		{"no strategy", Config{ClockRate: 8000}, "strategy"},
		{"no clock rate", Config{Strategy: s}, "clock rate"},
		{"negative clock rate", Config{ClockRate: -8000, Strategy: s}, "clock rate"},
		{"negative capacity", Config{ClockRate: 8000, Strategy: s, Capacity: -1}, "capacity"},
		{"huge capacity", Config{ClockRate: 8000, Strategy: s, Capacity: 1 << 20}, "capacity"},
		{"negative payload", Config{ClockRate: 8000, Strategy: s, MaxPayload: -1}, "payload"},
		{"too much storage", Config{ClockRate: 8000, Strategy: s, Capacity: 1 << 15, MaxPayload: 65535}, "storage"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := New(tc.cfg)
			if tc.wantErr == "" {
				if err != nil || b.Strategy() != Strategy(s) || b.Len() != 0 {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("error %v, want one about %q", err, tc.wantErr)
			}
		})
	}
}

func TestOutcomeString(t *testing.T) {
	seen := map[string]bool{}
	for o := OutcomeQueued; o <= OutcomeFull; o++ {
		s := o.String()
		if strings.HasPrefix(s, "Outcome(") || seen[s] {
			t.Errorf("outcome %d has name %q", int(o), s)
		}
		seen[s] = true
	}
	if got := Outcome(99).String(); got != "Outcome(99)" {
		t.Errorf("unknown outcome: %q", got)
	}
}

// TestBufferHoleOnePacketAtATime checks that a gap of two packets plays as
// two holes, so that the second missing packet, arriving (rebuilt by FEC,
// say) after the first hole has played but before its own playout time,
// still plays in its slot instead of being passed over with the gap.
func TestBufferHoleOnePacketAtATime(t *testing.T) {
	b := newTestBuffer(t, offsets(50), 16)
	pop := func(at float64) (out, bool) {
		c, ok := b.Pop(ms(at))
		return chunkOut(c), ok
	}
	pushAll(t, b, []in{{1, 0, true, 0, 30, Q}})
	if got, ok := pop(50); !ok || got != (out{1, 0, 160, 50, true, false}) {
		t.Fatalf("first chunk: %v, %v", got, ok)
	}
	pushAll(t, b, []in{{4, 480, false, 0, 75, Q}}) // 2 and 3 missing
	if got, ok := pop(70); !ok || got != (out{2, 160, 160, 70, false, true}) {
		t.Fatalf("at 70 ms: %v, %v; want a one-packet hole for seq 2", got, ok)
	}
	pushAll(t, b, []in{{3, 320, false, 0, 85, Q}}) // before its playout at 90 ms
	if got, ok := pop(90); !ok || got != (out{3, 320, 160, 90, false, false}) {
		t.Fatalf("at 90 ms: %v, %v; want seq 3 played in its slot", got, ok)
	}
	if got, ok := pop(110); !ok || got != (out{4, 480, 160, 110, false, false}) {
		t.Fatalf("at 110 ms: %v, %v; want seq 4", got, ok)
	}
	if st := b.Stats(); st.Late != 0 || st.Missing != 1 || st.Played != 3 {
		t.Errorf("stats %+v: want 3 played, 1 hole, none late", st)
	}
}
