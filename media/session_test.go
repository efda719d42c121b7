package media

import (
	"github.com/spurtvoip/spurt/internal/fixture"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/impair"
	"github.com/spurtvoip/spurt/internal/audiotest"
	"github.com/spurtvoip/spurt/jitter"
	"github.com/spurtvoip/spurt/vad"
)

func pcmu(t testing.TB) codec.Codec { return fixture.Codec(t, "pcmu") }

func ewma(t testing.TB) *jitter.EWMA { return fixture.EWMA(t) }

// spurtySpeech is a test signal of noise-like "words" separated by silences.
func spurtySpeech(seconds float64) []int16 {
	rng := rand.New(rand.NewPCG(11, 12))
	n := int(seconds * audio.SampleRate)
	s := make([]int16, n)
	for i := range s {
		phase := (i / 4000) % 3 // 0.5 s on, 0.5 s on, 0.5 s off
		if phase != 2 {
			s[i] = int16(4000 * rng.NormFloat64() * (0.6 + 0.4*math.Sin(float64(i)*0.01)))
		}
	}
	return s
}

func TestSenderSequenceTimestampMarker(t *testing.T) {
	det, err := vad.New(vad.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSender(SenderConfig{Codec: pcmu(t), SSRC: 42, InitialSeq: 65534, InitialTime: math.MaxUint32 - 159, VAD: det})
	if err != nil {
		t.Fatal(err)
	}
	loud := make([]int16, 160)
	for i := range loud {
		loud[i] = int16(8000 * math.Sin(float64(i)*0.4))
	}
	quiet := make([]int16, 160)
	// 3 speech frames, 30 silent frames (beyond the hangover), 2 speech frames
	pattern := append(append(repeat(loud, 3), repeat(quiet, 30)...), repeat(loud, 2)...)
	type sent struct {
		seq    uint16
		ts     uint32
		marker bool
	}
	var got []sent
	var p rtp.Packet
	for _, f := range pattern {
		b, err := onePacket(s, f)
		if err != nil {
			t.Fatal(err)
		}
		if b == nil {
			continue
		}
		if err := p.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		if p.PayloadType != 0 || p.SSRC != 42 || len(p.Payload) != 160 {
			t.Fatalf("packet header %+v, payload %d bytes", p.Header, len(p.Payload))
		}
		got = append(got, sent{p.SequenceNumber, p.Timestamp, p.Marker})
	}
	hang := vad.DefaultConfig().Hangover
	// speech frames 0-2, hangover frames 3..2+hang, then silence, then frames 33-34
	wantFrames := []int{}
	for i := 0; i < 3+hang; i++ {
		wantFrames = append(wantFrames, i)
	}
	wantFrames = append(wantFrames, 33, 34)
	if len(got) != len(wantFrames) {
		t.Fatalf("sent %d packets, want %d: %+v", len(got), len(wantFrames), got)
	}
	for i, fr := range wantFrames {
		wantTS := uint32(math.MaxUint32-159) + uint32(fr*160) // wraps past 2^32
		wantSeq := uint16(65534 + i)                          // wraps past 65535, no gap over silence
		wantMarker := i == 0 || fr == 33
		if got[i].ts != wantTS || got[i].seq != wantSeq || got[i].marker != wantMarker {
			t.Errorf("packet %d (frame %d): seq %d ts %d marker %v, want seq %d ts %d marker %v",
				i, fr, got[i].seq, got[i].ts, got[i].marker, wantSeq, wantTS, wantMarker)
		}
	}
	st := s.Stats()
	if st.Frames != uint64(len(pattern)) || st.Packets != uint64(len(got)) || st.Spurts != 2 {
		t.Errorf("stats %+v", st)
	}
}

func repeat(f []int16, n int) [][]int16 {
	out := make([][]int16, n)
	for i := range out {
		out[i] = f
	}
	return out
}

// TestSessionsMeasureDelayAcrossClocks runs two endpoints whose clocks
// differ by seconds over a path with a known one-way delay, exchanging media
// and RTCP, and checks that each reports the playout delay and RTT the path
// and its buffer imply, without any shared clock.
func TestSessionsMeasureDelayAcrossClocks(t *testing.T) {
	const oneWay = 37 * time.Millisecond
	offsets := [2]time.Duration{0, 7*time.Second + 123*time.Millisecond} // B's clock runs 7.123 s ahead
	wallBase := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	speech := spurtySpeech(6)
	var now time.Duration // the true time
	clock := func(i int) time.Duration { return now + offsets[i] }
	var ep [2]*Endpoint
	var sinks [2]audio.MemorySink
	for i := range ep {
		det, err := vad.New(vad.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		peer := 1 - i
		e, err := NewEndpoint(EndpointConfig{
			Session: SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 40*time.Millisecond), VAD: det,
				SSRC: uint32(100 + i), InitialSeq: uint16(1000 * i), InitialTime: uint32(77777 * (i + 1))},
			// Each side's packets cross the path, delayed on its own clock
			// and handed to the peer on the peer's.
			Path:     &impair.Path{Delay: impair.Constant(oneWay)},
			RTCPPath: &impair.Path{Delay: impair.Constant(oneWay)},
			Transmit: func(pkt []byte) { ep[peer].Receive(pkt, clock(peer)) },
			Write:    sinks[i].WriteSamples,
			Source:   audio.NewMemorySource(speech),
			Rand:     rand.New(rand.NewPCG(uint64(i), 5)),
			Epoch:    wallBase, // the clocks' readings agree with their wall clocks
		})
		if err != nil {
			t.Fatal(err)
		}
		ep[i] = e
	}
	for i := range ep {
		ep[i].Start(clock(i))
	}
	var ended [2]Outcome
	for now = 0; now < 8*time.Second; now += time.Millisecond {
		for i := range ep {
			if ended[i] != "" {
				continue
			}
			outcome, end, err := ep[i].Step(clock(i))
			if err != nil {
				t.Fatalf("side %d at %v: %v", i, now, err)
			}
			if end {
				ended[i] = outcome
				ep[i].HangUp(clock(i))
			}
		}
	}
	for i, e := range ep {
		if ended[i] != EndedSourceDone && ended[i] != EndedPeerBye {
			t.Errorf("side %d: outcome %q, want the input sent and played out, or the peer's hang-up", i, ended[i])
		}
		st := e.Session().Stats(8 * time.Second)
		if st.RTT == nil || math.Abs(*st.RTT-2*ms(oneWay)) > 1 {
			t.Errorf("side %d: rtt %v ms, want %.0f ± 1", i, deref(st.RTT), 2*ms(oneWay))
		}
		// fixed playout: 40 ms above the fastest packet, whose network delay is
		// oneWay (the 1 ms simulation step adds up to 1 ms of queuing)
		want := ms(oneWay) + 40
		if st.PlayoutDelayMean == nil || math.Abs(*st.PlayoutDelayMean-want) > 2 {
			t.Errorf("side %d: playout delay mean %v ms, want %.0f ± 2", i, deref(st.PlayoutDelayMean), want)
		}
		if st.BufferDelayMean == nil || math.Abs(*st.BufferDelayMean-40) > 2 {
			t.Errorf("side %d: buffer delay mean %v ms, want 40 ± 2", i, deref(st.BufferDelayMean))
		}
		if st.NetworkLost != 0 || st.LateLost != 0 || st.Talkspurts < 3 {
			t.Errorf("side %d: lost %d late %d spurts %d", i, st.NetworkLost, st.LateLost, st.Talkspurts)
		}
		// each side's output starts at its own clock's zero
		heard := sinks[i].Samples()[int(offsets[i].Seconds()*audio.SampleRate):]
		r := audiotest.Compare(speech, heard, 16000, 40)
		if r.SNR < 30 || r.Coverage < 0.97 {
			t.Errorf("side %d: received audio SNR %.1f dB coverage %.3f, want > 30 dB, > 0.97", i, r.SNR, r.Coverage)
		}
	}
}

func fixedStrategy(t testing.TB, d time.Duration) jitter.Strategy { return fixture.Fixed(t, d) }

func deref(p *float64) any {
	if p == nil {
		return "null"
	}
	return *p
}
