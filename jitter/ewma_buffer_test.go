package jitter

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

// arrival is one packet of a simulated stream.
type arrival struct {
	p  Packet
	at time.Duration
}

// simulateSpurt returns a talk spurt of n 20 ms packets starting at seq and
// media time start, sent on a clock skewed from the receiver's by skew, each
// delayed by base plus uniform jitter in [0, jitter), in arrival order.
func simulateSpurt(rng *rand.Rand, seq uint16, start time.Duration, n int, skew, base, jitter time.Duration) []arrival {
	var as []arrival
	for i := range n {
		media := start + time.Duration(i)*20*time.Millisecond
		as = append(as, arrival{
			p: Packet{
				SequenceNumber: seq + uint16(i),
				Timestamp:      uint32(media / (time.Second / rate)),
				Marker:         i == 0,
				Samples:        160,
				Payload:        []byte{0},
			},
			at: media + skew + base + time.Duration(rng.Int64N(int64(jitter))),
		})
	}
	slices.SortStableFunc(as, func(a, b arrival) int { return int(a.at - b.at) })
	return as
}

// TestWarmupFirstSpurt compares the late loss of the first talk spurt with
// the warm-up against the classic cold start, under uniform 0-40 ms jitter.
// Cold, the first spurt plays at the first packet's delay with no headroom,
// so about half its packets are late; warm, it gets K*10 ms of headroom.
func TestWarmupFirstSpurt(t *testing.T) {
	cold := DefaultEWMAConfig()
	cold.WarmupPackets, cold.InitialDeviation = 0, 0
	firstSpurtLate := func(cfg EWMAConfig, seed uint64) float64 {
		rng := rand.New(rand.NewPCG(seed, 7))
		var late, total int
		for range 200 {
			e, err := NewEWMA(cfg)
			if err != nil {
				t.Fatal(err)
			}
			b := newTestBuffer(t, e, 0)
			skew := time.Duration(rng.Int64N(int64(time.Hour)))
			for _, a := range simulateSpurt(rng, uint16(rng.Uint32()), 0, 50, skew, 30*time.Millisecond, 40*time.Millisecond) {
				if b.Push(a.p, a.at) == OutcomeLate {
					late++
				}
				total++
			}
		}
		return float64(late) / float64(total)
	}
	coldLate := firstSpurtLate(cold, 1)
	warmLate := firstSpurtLate(DefaultEWMAConfig(), 1)
	t.Logf("first-spurt late loss: cold start %.1f%%, warm-up %.2f%%", 100*coldLate, 100*warmLate)
	if coldLate < 0.3 {
		t.Errorf("cold start lost only %.1f%% of the first spurt; the comparison is not showing anything", 100*coldLate)
	}
	if warmLate > 0.01 || warmLate*20 > coldLate {
		t.Errorf("warm-up lost %.2f%% of the first spurt, cold start %.1f%%: want far less", 100*warmLate, 100*coldLate)
	}
}

// TestEWMASteadyState runs a minute of talk spurts with uniform 0-40 ms
// jitter through the default EWMA: once settled, late loss stays low and the
// offset sits near transit + K*v, between the fastest and slowest packets.
func TestEWMASteadyState(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	e, _ := NewEWMA(DefaultEWMAConfig())
	b := newTestBuffer(t, e, 0)
	const (
		base   = 30 * time.Millisecond
		jitter = 40 * time.Millisecond
	)
	skew := 5 * time.Minute
	var seq uint16 = 60000 // wraps on the way
	var media, now time.Duration
	var late, total int
	for spurt := range 60 {
		as := simulateSpurt(rng, seq, media, 40, skew, base, jitter) // 0.8 s of speech
		for _, a := range as {
			for now < a.at { // play out in 10 ms ticks, as a real-time shell would
				for {
					if _, ok := b.Pop(now); !ok {
						break
					}
				}
				now += 10 * time.Millisecond
			}
			got := b.Push(a.p, a.at)
			if spurt >= 10 {
				total++
				if got == OutcomeLate {
					late++
				}
			}
		}
		seq += 40
		media += 1200 * time.Millisecond // 0.4 s of silence
	}
	st := b.Stats()
	// A spurt whose marker packet is overtaken by the next one (P = 1/8 with
	// this jitter) is not detected: that packet arrives after a sequence gap,
	// which is loss, so the spurt keeps the previous offset.
	if st.Spurts > 60 || st.Spurts < 45 {
		t.Errorf("spurts %d, want most of the 60", st.Spurts)
	}
	d, v := e.Estimates()
	offset := st.PlayoutOffset - skew
	t.Logf("late after warm-up %d/%d, d = %v, v = %v, offset = %v", late, total, d-skew, v, offset)
	if float64(late) > 0.02*float64(total) {
		t.Errorf("%d of %d packets late in steady state", late, total)
	}
	// Transit is base + U[0,40): mean 50 ms, mean deviation 10 ms.
	if d-skew < base || d-skew > base+jitter || v < 5*time.Millisecond || v > 15*time.Millisecond {
		t.Errorf("estimates d = %v, v = %v off the channel's 50 ms and 10 ms", d-skew, v)
	}
	if offset < base+jitter-5*time.Millisecond || offset > base+jitter+60*time.Millisecond {
		t.Errorf("offset %v not just above the slowest packets (%v)", offset, base+jitter)
	}
}

// TestBufferWithFixed plays a stream through the Fixed strategy: each spurt
// starts the fixed delay after the fastest transit seen up to its start.
func TestBufferWithFixed(t *testing.T) {
	f, err := NewFixed(20 * time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	b := newTestBuffer(t, f, 0)
	pushAll(t, b, []in{
		{1, 0, false, 0, 50, Q},     // transit 50: offset 70
		{2, 160, false, 0, 60, Q},   // transit 40
		{3, 320, false, 0, 110, Q},  // transit 70: just in time
		{4, 480, false, 0, 135, L},  // transit 75, due at 60+70
		{5, 1600, false, 0, 235, Q}, // spurt: min transit 35, offset 55
		{6, 1760, false, 0, 260, Q}, // transit 40
	})
	drain(t, b, []out{
		{1, 0, 0, 70, true, false}, {2, 160, 0, 90, false, false}, {3, 320, 0, 110, false, false},
		{5, 1600, 0, 255, true, false}, {6, 1760, 0, 275, false, false}, // 4 was the tail: no hole
	})
	checkCounts(t, b, nil)
}

// recorder is a Strategy that records what it observes.
type recorder struct {
	scripted
	media, arrival []time.Duration
}

func (r *recorder) Observe(mediaTime, arrival time.Duration) {
	r.scripted.Observe(mediaTime, arrival)
	r.media = append(r.media, mediaTime)
	r.arrival = append(r.arrival, arrival)
}

// TestBufferObservations checks what the strategy is told: media time since
// the first timestamp across wraparound, for late packets too, not for
// duplicates or refusals; and across a restart, a media time that keeps the
// transit of the packet before.
func TestBufferObservations(t *testing.T) {
	r := &recorder{scripted: scripted{offsets: []time.Duration{ms(50)}}}
	b := newTestBuffer(t, r, 0)
	const top = 1<<32 - 160
	pushAll(t, b, []in{
		{65535, top, false, 0, 1030, Q},
		{0, 0, false, 0, 1055, L}, // plays at 1030+20
		{0, 0, false, 0, 1056, D},
		{1, 160, false, 0, 1060, Q},
		{500, 99999, false, 0, 1100, Old}, // sender restart ...
		{501, 100159, false, 0, 1120, Q},  // ... confirmed
	})
	wantMedia := []time.Duration{0, ms(20), ms(40), ms(40 + 60)} // restart: transit 1020 kept
	wantArrival := []time.Duration{ms(1030), ms(1055), ms(1060), ms(1120)}
	if !slices.Equal(r.media, wantMedia) || !slices.Equal(r.arrival, wantArrival) {
		t.Fatalf("observed media %v arrival %v;\nwant media %v arrival %v", r.media, r.arrival, wantMedia, wantArrival)
	}
}

// steadyStream drives a buffer with a packet per call: 20 ms packets with
// jitter, a lost packet now and then, talk spurts of 50 packets, sequence
// numbers and timestamps wrapping, and the playout drained as it comes due.
type steadyStream struct {
	b       *Buffer
	i       int
	last    time.Duration // arrivals never go backwards
	payload []byte
}

func newSteadyStream(t testing.TB) *steadyStream {
	e, err := NewEWMA(DefaultEWMAConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &steadyStream{b: newTestBuffer(t, e, 0), i: 65000, payload: make([]byte, 160)}
}

func (s *steadyStream) step() {
	i := s.i
	s.i++
	if i%37 == 0 {
		return // lost
	}
	spurt := i / 50
	ts := uint32(1<<32-3_000_000) + uint32(i*160+spurt*4000) // 0.5 s silence between spurts
	send := time.Duration(ts-uint32(1<<32-3_000_000)) * time.Second / rate
	at := send + 30*time.Millisecond + time.Duration(i*7919%40)*time.Millisecond
	if i%53 == 0 {
		at += 300 * time.Millisecond // a burst held up in the network
	}
	at = max(at, s.last)
	s.last = at
	s.b.Push(Packet{SequenceNumber: uint16(i), Timestamp: ts, Marker: i%50 == 0, Samples: 160, Payload: s.payload}, at)
	for range 4 {
		if _, ok := s.b.Pop(at); !ok {
			break
		}
	}
}

func TestPushPopAllocs(t *testing.T) {
	s := newSteadyStream(t)
	for range 2000 {
		s.step()
	}
	if allocs := testing.AllocsPerRun(2000, s.step); allocs != 0 {
		t.Fatalf("Push+Pop allocates %v times per packet", allocs)
	}
	st := s.b.Stats()
	if st.Played == 0 || st.Missing == 0 || st.Late == 0 || st.Spurts < 50 {
		t.Fatalf("the stream did not exercise playout, holes, late loss and spurts: %+v", st)
	}
}

func BenchmarkPushPop(b *testing.B) {
	s := newSteadyStream(b)
	for range 2000 {
		s.step()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		s.step()
	}
}
