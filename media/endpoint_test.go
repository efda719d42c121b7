package media

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/impair"
)

// sent is a datagram an endpoint transmitted, and when.
type sent struct {
	at  time.Duration
	pkt []byte
}

// testEndpoint builds an endpoint that records what it transmits at the
// time *clock reads, and hands it to peer (if set) as arriving then.
func testEndpoint(t testing.TB, cfg EndpointConfig, clock *time.Duration, out *[]sent, peer **Endpoint) *Endpoint {
	t.Helper()
	if cfg.Session.Codec.Name == "" {
		cfg.Session.Codec = pcmu(t)
	}
	if cfg.Session.Strategy == nil {
		cfg.Session.Strategy = ewma(t)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.New(rand.NewPCG(uint64(cfg.Session.SSRC), 1))
	}
	cfg.Transmit = func(pkt []byte) {
		if out != nil {
			*out = append(*out, sent{*clock, slices.Clone(pkt)})
		}
		if peer != nil && *peer != nil {
			(*peer).Receive(pkt, *clock)
		}
	}
	e, err := NewEndpoint(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func reports(out []sent) []time.Duration {
	var at []time.Duration
	for _, s := range out {
		if IsRTCP(s.pkt) {
			at = append(at, s.at)
		}
	}
	return at
}

func TestNewEndpointRefusesMissingParts(t *testing.T) {
	good := EndpointConfig{Session: SessionConfig{Codec: pcmu(t), Strategy: ewma(t)},
		Transmit: func([]byte) {}, Rand: rand.New(rand.NewPCG(1, 2))}
	if _, err := NewEndpoint(good); err != nil {
		t.Fatal(err)
	}
	noTransmit, noRand := good, good
	noTransmit.Transmit, noRand.Rand = nil, nil
	for _, cfg := range []EndpointConfig{noTransmit, noRand} {
		if _, err := NewEndpoint(cfg); err == nil {
			t.Errorf("NewEndpoint accepted %+v", cfg)
		}
	}
}

// A file is read on the endpoint's own schedule, counted from Start: frame n
// once n+1 frame durations have passed, however irregular the steps, and
// NextWake asks for a step when the next frame is due.
func TestEndpointCapturesFileFramesOnSchedule(t *testing.T) {
	const start = 3 * time.Second
	ms := time.Millisecond
	var clock time.Duration
	var out []sent
	var captured []time.Duration
	ep := testEndpoint(t, EndpointConfig{Session: SessionConfig{SSRC: 1},
		Source:      audio.NewMemorySource(make([]int16, 5*160)), // five frames
		PeerTimeout: time.Hour, MediaSent: func(at time.Duration) { captured = append(captured, at) }}, &clock, &out, nil)
	ep.Start(start)
	steps := []struct {
		at       time.Duration
		captured int // frames captured by then
		wake     time.Duration
	}{
		{0, 0, 5 * ms},
		{7 * ms, 0, 12 * ms},
		{17 * ms, 0, 20 * ms}, // the first frame is due before the next render
		{45 * ms, 2, 50 * ms},
		{61 * ms, 3, 66 * ms},
		{100 * ms, 5, 105 * ms},
	}
	for _, s := range steps {
		clock = start + s.at
		if _, end, err := ep.Step(clock); end || err != nil {
			t.Fatalf("at %v: ended (%v)", s.at, err)
		}
		if len(captured) != s.captured {
			t.Errorf("at %v: %d frames captured, want %d", s.at, len(captured), s.captured)
		}
		if got := ep.NextWake(clock); got != clock+s.wake-s.at {
			t.Errorf("at %v: next wake %v, want %v", s.at, got-start, s.wake)
		}
	}
	for n, at := range captured {
		if want := start + time.Duration(n+1)*20*ms; at != want {
			t.Errorf("frame %d captured at %v, want %v", n, at, want)
		}
	}
	var seqs []uint16
	for _, s := range out {
		if !IsRTCP(s.pkt) {
			var h rtp.Header
			if _, err := h.Unmarshal(s.pkt); err != nil {
				t.Fatal(err)
			}
			seqs = append(seqs, h.SequenceNumber)
		}
	}
	if len(seqs) != 5 {
		t.Errorf("%d media packets sent, want 5", len(seqs))
	}
	// The end of the file is read at the next frame's time; then the call
	// is over (nothing to send, nothing heard, nothing to play).
	clock = start + 120*ms
	if outcome, end, err := ep.Step(clock); !end || err != nil || outcome != EndedSourceDone || ep.SourceErr() != nil {
		t.Errorf("after the input's end: outcome %q, end %v, err %v, source error %v", outcome, end, err, ep.SourceErr())
	}
}

// Reports go at random intervals of 0.5 to 1.5 times 2.5 s drawn from the
// injected generator (the same seed, the same times), the first at Start,
// and a sender report as soon as media flows.
func TestEndpointReportSchedule(t *testing.T) {
	const step = 5 * time.Millisecond
	run := func(seed uint64, firstFrame time.Duration) []time.Duration {
		var clock time.Duration
		var out []sent
		ep := testEndpoint(t, EndpointConfig{Session: SessionConfig{SSRC: 1}, PacedSource: true, PeerTimeout: time.Hour,
			Rand: rand.New(rand.NewPCG(seed, 7))}, &clock, &out, nil)
		ep.Start(0)
		pcm := make([]int16, 160)
		for clock = 0; clock <= 90*time.Second; clock += step {
			if clock >= firstFrame && (clock-firstFrame)%(20*time.Millisecond) == 0 {
				ep.Frame(pcm, clock)
			}
			if _, end, err := ep.Step(clock); end || err != nil {
				t.Fatalf("ended at %v: %v", clock, err)
			}
		}
		return reports(out)
	}
	at := run(1, time.Hour)
	if len(at) < 2 || at[0] != 0 {
		t.Fatalf("reports at %v: want the first at 0", at)
	}
	var sum time.Duration
	for i := 1; i < len(at); i++ {
		gap := at[i] - at[i-1]
		if gap < 1250*time.Millisecond || gap > 3750*time.Millisecond+step {
			t.Errorf("report %d came %v after the last, want 1.25 s to 3.75 s", i, gap)
		}
		sum += gap
	}
	mean := sum / time.Duration(len(at)-1)
	// 35 or so intervals: the mean of U[1.25, 3.75] s is 2.5 s ± 0.12 s
	if mean < 2100*time.Millisecond || mean > 2900*time.Millisecond {
		t.Errorf("mean report interval %v over %d, want about 2.5 s", mean, len(at)-1)
	}
	if again := run(1, time.Hour); !slices.Equal(at, again) {
		t.Errorf("the same seed gave other report times:\n%v\n%v", at, again)
	}
	if other := run(2, time.Hour); slices.Equal(at, other) {
		t.Errorf("another seed gave the same report times %v", at)
	}

	// Media from 1.005 s on: a sender report goes at once, then the schedule.
	const first = 1005 * time.Millisecond
	withMedia := run(1, first)
	i := slices.Index(withMedia, first)
	if i < 0 {
		t.Fatalf("reports at %v: none when media began at %v", withMedia, first)
	}
	if i+1 < len(withMedia) && withMedia[i+1]-first < 1250*time.Millisecond {
		t.Errorf("after the first sender report at %v, another at %v", first, withMedia[i+1])
	}
}

// stepPair steps two endpoints wired to each other every 5 ms from from to
// until (b first, and b not from bGone on if that is set), calling
// before(now) ahead of each step; it returns a's outcome, when a's call
// ended (or -1), and its error.
func stepPair(t *testing.T, clock *time.Duration, a, b *Endpoint, from, until, bGone time.Duration, before func(now time.Duration)) (Outcome, time.Duration, error) {
	t.Helper()
	bEnded := false
	for *clock = from; *clock <= until; *clock += 5 * time.Millisecond {
		if before != nil {
			before(*clock)
		}
		if bGone > 0 && *clock >= bGone {
			bEnded = true
		}
		if !bEnded {
			_, bEnd, err := b.Step(*clock)
			if err != nil {
				t.Fatalf("the peer failed at %v: %v", *clock, err)
			}
			bEnded = bEnd
		}
		if outcome, end, err := a.Step(*clock); end {
			return outcome, *clock, err
		}
	}
	return "", -1, nil
}

// TestEndpointHangUpRules: each way a call ends, on a virtual clock, against
// a peer endpoint sending speech.
func TestEndpointHangUpRules(t *testing.T) {
	ms := time.Millisecond
	speech := speechSample(t)[:4*8000] // 4 s
	tests := []struct {
		name string
		a    EndpointConfig
		// peerSpeaks: the peer sends speech (else nothing, not even RTCP).
		peerSpeaks bool
		peerByeAt  time.Duration // the peer hangs up then; 0: never
		peerGoneAt time.Duration // the peer vanishes then, sending nothing more; 0: never
		want       Outcome
		endFrom    time.Duration // a ends in [endFrom, endTo]
		endTo      time.Duration
		wantErr    string
	}{
		{name: "duration", a: EndpointConfig{Duration: 3 * time.Second}, peerSpeaks: true,
			want: EndedDuration, endFrom: 3 * time.Second, endTo: 3 * time.Second},
		{name: "peer never heard", a: EndpointConfig{},
			want: EndedPeerTimeout, endFrom: 12*time.Second + 5*ms, endTo: 12*time.Second + 5*ms,
			wantErr: "nothing heard from the peer for 12s"},
		{name: "peer silent", a: EndpointConfig{PeerTimeout: 2 * time.Second}, peerSpeaks: true, peerGoneAt: 4 * time.Second,
			want: EndedPeerTimeout, endFrom: 5950 * ms, endTo: 6005 * ms,
			wantErr: "nothing heard from the peer for 2s"},
		{name: "peer's stream over", a: EndpointConfig{PeerTimeout: 2 * time.Second, SilenceEndsStream: true}, peerSpeaks: true, peerGoneAt: 4 * time.Second,
			want: EndedStreamOver, endFrom: 5950 * ms, endTo: 6005 * ms},
		{name: "silence ends no stream that never began", a: EndpointConfig{PeerTimeout: 2 * time.Second, SilenceEndsStream: true},
			want: EndedPeerTimeout, endFrom: 2*time.Second + 5*ms, endTo: 2*time.Second + 5*ms, wantErr: "nothing heard from the peer for 2s"},
		{name: "bye plays out the queue", a: EndpointConfig{Session: SessionConfig{Strategy: fixedStrategy(t, 200*ms)}},
			peerSpeaks: true, peerByeAt: 2 * time.Second,
			want: EndedPeerBye, endFrom: 2150 * ms, endTo: 2250 * ms},
		{name: "bye drains 500 ms at most", a: EndpointConfig{Session: SessionConfig{Strategy: fixedStrategy(t, 2*time.Second)}},
			peerSpeaks: true, peerByeAt: 2 * time.Second,
			want: EndedPeerBye, endFrom: 2500 * ms, endTo: 2500 * ms},
		{name: "input done, peer quiet", a: EndpointConfig{Source: audio.NewMemorySource(speech[:8000])},
			want: EndedSourceDone, endFrom: 1020 * ms, endTo: 1020 * ms},
		{name: "input done waits for the peer's pause", a: EndpointConfig{Source: audio.NewMemorySource(speech[:8000]),
			DrainQuiet: 300 * ms}, peerSpeaks: true, peerGoneAt: 4 * time.Second,
			want: EndedSourceDone, endFrom: 4200 * ms, endTo: 4500 * ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var clock time.Duration
			var a, b *Endpoint
			var fromA []sent
			tt.a.Session.SSRC = 0xA
			a = testEndpoint(t, tt.a, &clock, &fromA, &b)
			peer := EndpointConfig{Session: SessionConfig{SSRC: 0xB}, PeerTimeout: time.Hour}
			to := &a
			if tt.peerSpeaks {
				peer.Source = audio.NewMemorySource(speech)
			} else {
				to = nil // nothing reaches a, not even RTCP
			}
			b = testEndpoint(t, peer, &clock, nil, to)
			a.Start(0)
			b.Start(0)
			cancelled := false
			gone := tt.peerGoneAt
			if tt.peerByeAt > 0 {
				gone = tt.peerByeAt // a peer that hung up sends nothing more
			}
			outcome, endAt, err := stepPair(t, &clock, a, b, 0, 30*time.Second, gone, func(now time.Duration) {
				if now == tt.peerByeAt && now > 0 {
					if a.Cancel(now) {
						t.Errorf("Cancel before the BYE says the peer has left")
					}
					b.HangUp(now)
					cancelled = a.Cancel(now)
				}
			})
			if outcome != tt.want || endAt < tt.endFrom || endAt > tt.endTo {
				t.Errorf("ended %q at %v, want %q in [%v, %v]", outcome, endAt, tt.want, tt.endFrom, tt.endTo)
			}
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("error %v", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr || !errors.Is(err, ErrPeerSilent)):
				t.Errorf("error %v, want %q wrapping ErrPeerSilent", err, tt.wantErr)
			}
			if tt.peerByeAt <= 0 {
				return
			}
			if !cancelled {
				t.Errorf("Cancel after the BYE does not say the peer has left")
			}
			if r := reports(fromA); len(r) == 0 || r[len(r)-1] >= tt.peerByeAt {
				t.Errorf("reports at %v: some after the peer's BYE at %v", r, tt.peerByeAt)
			}
			st := a.Session().Stats(endAt)
			if tt.endTo < tt.peerByeAt+drainLimit && st.Played != st.PacketsReceived {
				t.Errorf("played %d of the %d packets received before hanging up", st.Played, st.PacketsReceived)
			}
		})
	}
}

// TestEndpointImpairsWhatItSends: media and RTCP go through paths of their
// own on one delay line, released when due, and what is lost or finds the
// line full is counted. Which media packets are lost does not depend on
// when the reports went: media and RTCP draw from models of their own, so
// a seed replays the media's impairment.
func TestEndpointImpairsWhatItSends(t *testing.T) {
	lossy := func(stream uint64, delay time.Duration) *impair.Path {
		b, err := impair.NewBernoulli(0.2, rand.New(rand.NewPCG(42, stream)))
		if err != nil {
			t.Fatal(err)
		}
		return &impair.Path{Loss: b, Delay: impair.Constant(delay)}
	}
	const frames = 300
	const delay = 30 * time.Millisecond
	run := func(rtcpSeed uint64) (received []uint16, ep *Endpoint) {
		var clock time.Duration
		var out []sent
		ep = testEndpoint(t, EndpointConfig{Session: SessionConfig{SSRC: 5, InitialSeq: 1000}, PacedSource: true, PeerTimeout: time.Hour,
			Rand: rand.New(rand.NewPCG(rtcpSeed, 3)), Path: lossy(1, delay), RTCPPath: lossy(2, delay)}, &clock, &out, nil)
		ep.Start(0)
		pcm := make([]int16, 160)
		for clock = 0; clock <= frames*20*time.Millisecond+time.Second; clock += 5 * time.Millisecond {
			if clock > 0 && clock%(20*time.Millisecond) == 0 && clock <= frames*20*time.Millisecond {
				ep.Frame(pcm, clock)
			}
			if _, end, err := ep.Step(clock); end || err != nil {
				t.Fatalf("ended at %v: %v", clock, err)
			}
		}
		var h rtp.Header
		for _, p := range out {
			if IsRTCP(p.pkt) {
				continue
			}
			if _, err := h.Unmarshal(p.pkt); err != nil {
				t.Fatal(err)
			}
			if sentAt := time.Duration(h.SequenceNumber-999) * 20 * time.Millisecond; p.at != sentAt+delay {
				t.Errorf("packet %d released at %v, want %v", h.SequenceNumber, p.at, sentAt+delay)
			}
			received = append(received, h.SequenceNumber)
		}
		if uint64(len(received))+ep.Dropped() < frames || ep.QueueFull() != 0 {
			t.Errorf("%d packets through, %d dropped, %d found the line full, of %d", len(received), ep.Dropped(), ep.QueueFull(), frames)
		}
		return received, ep
	}
	a, _ := run(1)
	b, _ := run(2)
	if len(a) < frames*7/10 || len(a) > frames*9/10 {
		t.Fatalf("%d of %d media packets through 20 %% loss", len(a), frames)
	}
	if !slices.Equal(a, b) {
		t.Errorf("the same seed lost different media packets when the reports went at other times:\n%v\n%v", a, b)
	}
}

// TestEndpointDelayLineFull: packets the delay line cannot hold are
// counted, not sent.
func TestEndpointDelayLineFull(t *testing.T) {
	var clock time.Duration
	var out []sent
	ep := testEndpoint(t, EndpointConfig{Session: SessionConfig{SSRC: 5}, PacedSource: true, PeerTimeout: time.Hour,
		Path: &impair.Path{Delay: impair.Constant(time.Second)}, QueueLimit: 4}, &clock, &out, nil)
	ep.Start(0)
	pcm := make([]int16, 160)
	for i := range 10 {
		ep.Frame(pcm, time.Duration(i+1)*20*time.Millisecond)
	}
	clock = 2 * time.Second
	if _, end, err := ep.Step(clock); end || err != nil {
		t.Fatalf("ended: %v", err)
	}
	media := len(out) - len(reports(out))
	if media != 4 || ep.QueueFull() != 6 || ep.Dropped() != 0 {
		t.Errorf("%d media packets out, %d found the line full, %d dropped; want 4, 6, 0", media, ep.QueueFull(), ep.Dropped())
	}
}

// TestEndpointStepAllocatesNothing: a frame sent over an impaired path and
// a step allocate nothing.
func TestEndpointStepAllocatesNothing(t *testing.T) {
	var clock time.Duration
	ep := testEndpoint(t, EndpointConfig{Session: SessionConfig{SSRC: 5}, PacedSource: true, PeerTimeout: time.Hour,
		Path: &impair.Path{Delay: impair.Constant(30 * time.Millisecond)}}, &clock, nil, nil)
	ep.Start(0)
	pcm := make([]int16, 160)
	for i := range 200 {
		pcm[i%160] = int16(i * 50)
	}
	step := func() {
		clock += 20 * time.Millisecond
		ep.Frame(pcm, clock)
		if _, end, err := ep.Step(clock); end || err != nil {
			t.Fatalf("ended: %v", err)
		}
	}
	for range 100 {
		step()
	}
	// 20 s: reports are sent and released too.
	allocs := testing.AllocsPerRun(1000, step)
	if allocs != 0 {
		t.Errorf("%v allocations per frame, want 0", allocs)
	}
}

// TestEndpointSendsNothingAfterThePeerLeft: once the peer's BYE stands (its
// stream quiet for byeGrace after it), the endpoint plays out what it holds
// (for drainLimit at most) but, from the step that sees it stand on, sends
// neither media nor reports, even when a report is due.
func TestEndpointSendsNothingAfterThePeerLeft(t *testing.T) {
	var clock time.Duration
	var a, b *Endpoint
	var fromA []sent
	a = testEndpoint(t, EndpointConfig{Session: SessionConfig{SSRC: 0xA, Strategy: fixedStrategy(t, 2*time.Second)}, PacedSource: true},
		&clock, &fromA, &b)
	b = testEndpoint(t, EndpointConfig{Session: SessionConfig{SSRC: 0xB}, Source: audio.NewMemorySource(speechSample(t)[:16000])},
		&clock, nil, &a)
	a.Start(0)
	b.Start(0)
	pcm := make([]int16, 160)
	const bye = time.Second
	if _, endAt, err := stepPair(t, &clock, a, b, 0, bye-5*time.Millisecond, 0, func(now time.Duration) {
		if now%(20*time.Millisecond) == 0 {
			a.Frame(pcm, now)
		}
	}); endAt >= 0 || err != nil {
		t.Fatalf("ended at %v: %v", endAt, err)
	}
	if len(fromA) == 0 {
		t.Fatal("a sent nothing before the BYE")
	}
	clock = bye
	b.HangUp(bye)
	// The BYE stands once b's stream has been quiet for byeGrace after it;
	// the step that sees it stand begins the drain.
	for ; clock <= bye+byeGrace; clock += 5 * time.Millisecond {
		if _, end, err := a.Step(clock); end || err != nil {
			t.Fatalf("ended at %v, before the drain: %v", clock, err)
		}
	}
	left := clock - 5*time.Millisecond
	a.nextReport = left // a report is due
	before := len(fromA)
	for ; clock < left+drainLimit; clock += 5 * time.Millisecond {
		if clock%(20*time.Millisecond) == 0 {
			a.Frame(pcm, clock)
		}
		if _, end, err := a.Step(clock); end || err != nil {
			t.Fatalf("ended at %v, within the drain: %v", clock, err)
		}
	}
	if outcome, end, err := a.Step(clock); !end || outcome != EndedPeerBye || err != nil {
		t.Errorf("at the drain's limit: outcome %q, end %v, error %v", outcome, end, err)
	}
	if n := len(fromA) - before; n != 0 {
		t.Errorf("%d datagrams sent after the peer left", n)
	}
}

// BenchmarkEndpointFrame measures one 20 ms frame through an endpoint: sent
// over an impaired path, released, reported on schedule, with four steps.
func BenchmarkEndpointFrame(b *testing.B) {
	var clock time.Duration
	ep := testEndpoint(b, EndpointConfig{Session: SessionConfig{SSRC: 5}, PacedSource: true, PeerTimeout: time.Duration(1 << 62),
		Path: &impair.Path{Delay: impair.Constant(30 * time.Millisecond)}}, &clock, nil, nil)
	ep.Start(0)
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i * 50)
	}
	b.ReportAllocs()
	for b.Loop() {
		ep.Frame(pcm, clock+RenderPeriod)
		for range 4 {
			clock += RenderPeriod
			if _, end, err := ep.Step(clock); end || err != nil {
				b.Fatalf("ended: %v", err)
			}
		}
	}
}
