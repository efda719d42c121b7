package media

import (
	"math"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// The RTP source rules of RFC 3550 A.1 (source.go) and the BYE rule
// (session.go), each against the attack or the event it is for, on a
// virtual clock.

const (
	realSSRC  = 0x5eed
	spoofSSRC = 0xbad
	newSSRC   = 0x2ee
)

// srcPacket is one datagram of a scenario: RTP of a source, or a version
// other than 2.
type srcPacket struct {
	ssrc    uint32
	seq     uint16
	ts      uint32
	at      time.Duration
	version uint8 // 0 means 2
}

// rtpOf builds a PCMU packet of 20 ms whose payload byte tells the sources
// apart.
func rtpOf(t testing.TB, p srcPacket) []byte {
	t.Helper()
	v := p.version
	if v == 0 {
		v = 2
	} else if v == 255 {
		v = 0
	}
	payload := make([]byte, 160)
	for i := range payload {
		payload[i] = byte(p.ssrc)
	}
	b, err := (&rtp.Packet{Header: rtp.Header{Version: v, PayloadType: 0, SequenceNumber: p.seq,
		Timestamp: p.ts, SSRC: p.ssrc}, Payload: payload}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stream returns n packets of ssrc, 20 ms apart from at, numbered from seq.
func stream(ssrc uint32, seq uint16, ts uint32, at time.Duration, n int) []srcPacket {
	p := make([]srcPacket, n)
	for i := range p {
		p[i] = srcPacket{ssrc: ssrc, seq: seq + uint16(i), ts: ts + 160*uint32(i), at: at + time.Duration(i)*20*time.Millisecond}
	}
	return p
}

// merged returns the packets of all parts in order of arrival (stable).
func merged(parts ...[]srcPacket) []srcPacket {
	var all []srcPacket
	for _, p := range parts {
		all = append(all, p...)
	}
	for i := 1; i < len(all); i++ { // insertion sort: stable, and the inputs are short
		for j := i; j > 0 && all[j].at < all[j-1].at; j-- {
			all[j], all[j-1] = all[j-1], all[j]
		}
	}
	return all
}

// playedBy runs the packets through a receiver, rendering every 5 ms, and
// counts the chunks played from each SSRC's packets (told by their payload
// byte through the sequence numbers' owners).
func playedBy(t *testing.T, pkts []srcPacket) (map[uint32]int, *Receiver) {
	t.Helper()
	owner := map[uint16]uint32{}
	played := map[uint32]int{}
	r, err := NewReceiver(ReceiverConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 60*time.Millisecond),
		OnPlay: func(p Played) {
			if p.Kind == PlayPacket {
				played[owner[p.Seq]]++
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Duration(0)
	for _, p := range pkts {
		for ; now < p.at; now += 5 * time.Millisecond {
			if err := r.Render(now, discard); err != nil {
				t.Fatal(err)
			}
		}
		if p.version == 0 {
			owner[p.seq] = p.ssrc // a version-0 copy must not claim its slot
		}
		r.HandleRTP(rtpOf(t, p), p.at)
	}
	for end := now + 2*time.Second; now < end; now += 5 * time.Millisecond {
		if err := r.Render(now, discard); err != nil {
			t.Fatal(err)
		}
	}
	return played, r
}

func TestSourceRules(t *testing.T) {
	ms := time.Millisecond
	real := stream(realSSRC, 100, 8000, 100*ms, 150) // 3 s from 100 ms
	version0 := func(p []srcPacket) []srcPacket {
		out := make([]srcPacket, len(p))
		for i, q := range p {
			q.version, q.ssrc, q.at = 255, spoofSSRC, q.at-ms // version 0 (see rtpOf), just ahead of the real one
			out[i] = q
		}
		return out
	}
	forged := make([]srcPacket, 500) // the real SSRC, far from its numbers, 2 ms apart
	for i := range forged {
		forged[i] = srcPacket{ssrc: realSSRC, seq: 30000 + uint16(i), ts: 900000 + 160*uint32(i), at: time.Second + time.Duration(i)*2*ms + ms}
	}
	tests := []struct {
		name string
		pkts []srcPacket
		// chunks played from the real source, from the other one
		wantReal, wantOther           int
		wantRejected, wantMalformed   uint64
		wantChanges                   uint64
		wantExpectedAtLeast, wantLost uint64
	}{
		{name: "a clean stream loses nothing to probation",
			pkts: real, wantReal: 150, wantExpectedAtLeast: 150},
		{name: "a spoofed packet just before media locks nothing",
			pkts:     merged([]srcPacket{{ssrc: spoofSSRC, seq: 7, ts: 123456789, at: 90 * ms}}, real),
			wantReal: 150, wantRejected: 1, wantExpectedAtLeast: 150},
		{name: "a foreign SSRC mid-call is rejected while the call's keeps coming",
			pkts:     merged(real, stream(spoofSSRC, 5000, 0, time.Second+10*ms, 50)),
			wantReal: 150, wantRejected: 50, wantExpectedAtLeast: 150},
		{name: "version 0 is malformed, never played",
			pkts:     merged(real, version0(real[:40])),
			wantReal: 150, wantMalformed: 40, wantExpectedAtLeast: 150},
		{name: "a forged burst with the real SSRC far from its numbers is rejected",
			pkts:     merged(real, forged),
			wantReal: 150, wantRejected: 500, wantExpectedAtLeast: 150},
		{name: "a one-off stray packet while the source is quiet changes nothing",
			pkts: merged(stream(realSSRC, 100, 8000, 100*ms, 50),
				[]srcPacket{{ssrc: spoofSSRC, seq: 9, ts: 5, at: 2 * time.Second}},
				stream(realSSRC, 150, 8000+8000*3, 3100*ms, 50)),
			wantReal: 100, wantRejected: 1, wantExpectedAtLeast: 100},
		{name: "a new SSRC after the old one went quiet replaces it",
			// the old stops at 1.08 s; the new one starts at 1.1 s and is
			// taken from the first packet 500 ms after the old one's last
			pkts: merged(stream(realSSRC, 100, 8000, 100*ms, 50),
				stream(newSSRC, 40000, 3e9, 1100*ms, 100)),
			wantReal: 50, wantOther: 100 - 24, wantRejected: 24, wantChanges: 1, wantExpectedAtLeast: 126},
		{name: "a stray packet before the new SSRC does not keep it out",
			pkts: merged(stream(realSSRC, 100, 8000, 100*ms, 50),
				[]srcPacket{{ssrc: spoofSSRC, seq: 1, ts: 1, at: 1700 * ms}},
				stream(newSSRC, 40000, 3e9, 1710*ms, 50)),
			wantReal: 50, wantOther: 50, wantRejected: 1, wantChanges: 1, wantExpectedAtLeast: 100},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			played, r := playedBy(t, tt.pkts)
			other := 0
			for ssrc, n := range played {
				if ssrc != realSSRC {
					other += n
				}
			}
			st := r.Stats()
			if played[realSSRC] != tt.wantReal || other != tt.wantOther {
				t.Errorf("played %d chunks of the real source and %d of others, want %d and %d",
					played[realSSRC], other, tt.wantReal, tt.wantOther)
			}
			if st.RejectedSource != tt.wantRejected || st.Malformed != tt.wantMalformed || st.SourceChanges != tt.wantChanges {
				t.Errorf("rejected_source %d, malformed %d, source_changes %d; want %d, %d, %d",
					st.RejectedSource, st.Malformed, st.SourceChanges, tt.wantRejected, tt.wantMalformed, tt.wantChanges)
			}
			if st.Expected < tt.wantExpectedAtLeast || st.Lost != tt.wantLost || st.Duplicates != 0 {
				t.Errorf("expected %d lost %d duplicates %d; want at least %d, %d, 0",
					st.Expected, st.Lost, st.Duplicates, tt.wantExpectedAtLeast, tt.wantLost)
			}
			// The delay statistics stay those of the stream: a spoofed or
			// new source's timestamps do not enter them (issue 16 saw a
			// playout delay of 267,707,421 ms).
			if mean, ok := r.delays.mean(); !ok || mean < 0 || mean > 500*time.Millisecond {
				t.Errorf("unmapped playout delay mean %v (%v), want within [0, 500 ms]", mean, ok)
			}
		})
	}
}

// TestNewSourceStartsASpurt: the source that replaces a quiet one plays in a
// talk spurt of its own, from the packet that locked it.
func TestNewSourceStartsASpurt(t *testing.T) {
	pkts := merged(stream(realSSRC, 100, 8000, 100*time.Millisecond, 50), stream(newSSRC, 7, 77, 2*time.Second, 50))
	_, r := playedBy(t, pkts)
	if st := r.Stats(); st.Spurts != 2 || st.SourceChanges != 1 || st.Played != 100 || st.MissingChunks != 0 {
		t.Errorf("spurts %d, source_changes %d, played %d, missing %d; want 2, 1, 100, 0",
			st.Spurts, st.SourceChanges, st.Played, st.MissingChunks)
	}
}

// byeFrom builds a 16-byte RTCP compound: an empty RR and a BYE naming ssrc.
func byeFrom(t *testing.T, ssrc uint32) []byte {
	t.Helper()
	b, err := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: ssrc}, &rtcp.Goodbye{Sources: []uint32{ssrc}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestByeRule: a BYE stands once the stream it names has stopped; one the
// stream goes on after is ignored and counted; one naming another source
// is nothing; a hang-up by signaling confirms a BYE at once.
func TestByeRule(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name      string
		streamEnd time.Duration // the peer's RTP stops then
		byeSSRC   uint32
		byeAt     time.Duration
		confirmAt time.Duration // signaling says the peer hung up; 0: never
		leftFrom  time.Duration // PeerLeft is true from then on; 0: never
		ignored   uint64
	}{
		{name: "a real hang-up", streamEnd: 2 * time.Second, byeSSRC: realSSRC, byeAt: 2*time.Second + ms,
			leftFrom: 2*time.Second + ms + byeGrace},
		{name: "a forged BYE while the stream goes on", streamEnd: 4 * time.Second, byeSSRC: realSSRC, byeAt: time.Second,
			ignored: 1},
		{name: "a forged BYE naming another source", streamEnd: 4 * time.Second, byeSSRC: spoofSSRC, byeAt: time.Second},
		{name: "stragglers after the BYE delay it", streamEnd: 2*time.Second + 200*ms, byeSSRC: realSSRC, byeAt: 2 * time.Second,
			leftFrom: 2*time.Second + 180*ms + byeGrace},
		{name: "signaling confirms a BYE at once", streamEnd: 4 * time.Second, byeSSRC: realSSRC, byeAt: time.Second,
			confirmAt: time.Second + 5*ms, leftFrom: time.Second + 5*ms},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := NewSession(SessionConfig{Codec: pcmu(t), Strategy: ewma(t), SSRC: 1})
			if err != nil {
				t.Fatal(err)
			}
			pkts := stream(realSSRC, 100, 0, 0, int(tt.streamEnd/(20*ms)))
			wall := time.Unix(1000, 0)
			next := 0
			for now := time.Duration(0); now <= 5*time.Second; now += ms {
				for next < len(pkts) && pkts[next].at <= now {
					s.HandleDatagram(rtpOf(t, pkts[next]), now, wall.Add(now))
					next++
				}
				if now == tt.byeAt {
					s.HandleDatagram(byeFrom(t, tt.byeSSRC), now, wall.Add(now))
				}
				if tt.confirmAt > 0 && now == tt.confirmAt && !s.ConfirmBye() {
					t.Errorf("ConfirmBye at %v: false after the BYE", now)
				}
				want := tt.leftFrom > 0 && now >= tt.leftFrom
				if got := s.PeerLeft(now); got != want {
					t.Fatalf("PeerLeft(%v) = %v, want %v", now, got, want)
				}
			}
			if st := s.Stats(5 * time.Second); st.ByeIgnored != tt.ignored {
				t.Errorf("bye_ignored %d, want %d", st.ByeIgnored, tt.ignored)
			}
		})
	}
}

// TestForgedByeDoesNotEndTheCall: a forged BYE from the peer's address in
// the middle of a call ends nothing; the peer's real hang-up, with no
// signaling to confirm it, ends the call once its stream has stopped.
func TestForgedByeDoesNotEndTheCall(t *testing.T) {
	var clock time.Duration
	var a, b *Endpoint
	a = testEndpoint(t, EndpointConfig{Session: SessionConfig{SSRC: 0xA}}, &clock, nil, &b)
	b = testEndpoint(t, EndpointConfig{Session: SessionConfig{SSRC: 0xB}, PacedSource: true}, &clock, nil, &a)
	a.Start(0)
	b.Start(0)
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i * 40)
	}
	hangUp := 3 * time.Second
	outcome, endAt, err := stepPair(t, &clock, a, b, 0, 5*time.Second, hangUp+time.Millisecond, func(now time.Duration) {
		if now < hangUp && now%(20*time.Millisecond) == 0 {
			b.Frame(pcm, now)
		}
		if now == time.Second {
			a.Receive(byeFrom(t, 0xB), now)
		}
		if now == hangUp {
			b.HangUp(now)
		}
	})
	if err != nil || outcome != EndedPeerBye || endAt < hangUp+byeGrace || endAt > hangUp+byeGrace+drainLimit {
		t.Errorf("ended %q at %v (%v), want %q in [%v, %v]", outcome, endAt, err, EndedPeerBye, hangUp+byeGrace, hangUp+byeGrace+drainLimit)
	}
	if st := a.Session().Stats(clock); st.ByeIgnored != 1 {
		t.Errorf("bye_ignored %d, want 1", st.ByeIgnored)
	}
}

// FuzzSourceState drives the source rules with arbitrary packets of three
// SSRCs: a source is never locked by its first packet, the call's source is
// never replaced while it keeps coming, and the counters stay consistent.
func FuzzSourceState(f *testing.F) {
	f.Add([]byte{0, 1, 20, 0, 1, 20, 1, 1, 2, 0, 1, 20})
	f.Add([]byte{1, 9, 0, 0, 1, 5, 0, 1, 20, 2, 200, 255, 2, 1, 20})
	f.Fuzz(func(t *testing.T, data []byte) {
		ssrcs := [3]uint32{realSSRC, spoofSSRC, newSSRC}
		var s sourceState
		var seq [3]uint16
		heard := map[uint32]int{}
		var now, lastCall time.Duration
		datagram := make([]byte, 12)
		for i := 0; i+2 < len(data); i += 3 {
			k := int(data[i]) % 3
			ssrc := ssrcs[k]
			seq[k] += uint16(int8(data[i+1]))
			now += time.Duration(data[i+2]) * 5 * time.Millisecond
			heard[ssrc]++
			wasLocked, was := s.locked, s.ssrc
			switch s.admit(ssrc, seq[k], now, datagram) {
			case admitLock:
				if heard[ssrc] < minSequential {
					t.Fatalf("SSRC %x locked by its first packet", ssrc)
				}
				if wasLocked && was != ssrc && now-lastCall < sourceQuiet {
					t.Fatalf("SSRC %x replaced %x %v after its last packet", ssrc, was, now-lastCall)
				}
				if _, _, ok := s.held(ssrc); !ok {
					t.Fatalf("SSRC %x locked with no packet held", ssrc)
				}
				fallthrough
			case admitted:
				if v := s.received(seq[k], uint32(seq[k])*160, now, 8000); v == seqCounted || v == seqRestart {
					lastCall = now
				}
			}
			if s.holding < 0 || s.holding > probationSlots {
				t.Fatalf("%d packets held, %d slots", s.holding, probationSlots)
			}
			if expected, lost := s.expectedLost(); lost > expected {
				t.Fatalf("lost %d of %d expected", lost, expected)
			}
		}
	})
}

// TestSourceChangeKeepsTheDelayFigures is issue 13's sender whose SSRC
// changes 3 s into the call (a restart): the new source is heard once the
// old one has been quiet for sourceQuiet, the call goes on, and the playout
// delay, mapped through each source's own sender reports, stays that of the
// path (30 ms) plus the buffer's, not a figure from mixing two media clocks.
func TestSourceChangeKeepsTheDelayFigures(t *testing.T) {
	ms := time.Millisecond
	const delay = 30 * time.Millisecond
	rcv, err := NewSession(SessionConfig{Codec: pcmu(t), Strategy: ewma(t), SSRC: 1})
	if err != nil {
		t.Fatal(err)
	}
	peer := func(ssrc uint32, seq uint16, ts uint32) *Session {
		s, err := NewSession(SessionConfig{Codec: pcmu(t), Strategy: ewma(t), SSRC: ssrc, InitialSeq: seq, InitialTime: ts})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	old, restarted := peer(0xA, 100, 1000), peer(0xB, 50000, 3_000_000_000)
	wall := time.Unix(5000, 0)
	type datagram struct {
		at  time.Duration
		pkt []byte
	}
	var queue []datagram
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(3000 * math.Sin(float64(i)/3))
	}
	for now := 20 * ms; now <= 10*time.Second; now += 20 * ms {
		sender := old
		if now > 3*time.Second {
			sender = restarted
		}
		if err := sender.SendPackets(pcm, now, func(pkt []byte) {
			queue = append(queue, datagram{now + delay, slices.Clone(pkt)})
		}); err != nil {
			t.Fatal(err)
		}
		if now%(500*ms) == 0 {
			sr, err := sender.Report(now, wall.Add(now))
			if err != nil {
				t.Fatal(err)
			}
			queue = append(queue, datagram{now + delay, sr})
		}
	}
	next := 0
	for now := time.Duration(0); now <= 11*time.Second; now += 5 * ms {
		for ; next < len(queue) && queue[next].at <= now; next++ {
			rcv.HandleDatagram(queue[next].pkt, queue[next].at, wall.Add(queue[next].at))
		}
		if err := rcv.Render(now, discard); err != nil {
			t.Fatal(err)
		}
	}
	st := rcv.Stats(11 * time.Second)
	sent := uint64(len(queue) - 20) // the SRs aside
	if st.SourceChanges != 1 || st.RejectedSource < 20 || st.RejectedSource > 26 || st.PacketsReceived+st.RejectedSource != sent {
		t.Errorf("source_changes %d, rejected_source %d, received %d of %d sent; want 1, about 25 (500 ms), the rest",
			st.SourceChanges, st.RejectedSource, st.PacketsReceived, sent)
	}
	if st.PlayoutDelayMean == nil || *st.PlayoutDelayMean < float64(delay/ms) || *st.PlayoutDelayMean > 200 {
		t.Errorf("playout delay mean %v ms, want between the path's %v and 200 ms", valueOf(st.PlayoutDelayMean), delay)
	}
	if st.NetworkLost != 0 || st.Talkspurts != 2 {
		t.Errorf("network_lost %d, talk spurts %d; want 0, 2", st.NetworkLost, st.Talkspurts)
	}
}

// TestTraceKeepsTheHeldFirstPacket: the first packet of the peer's stream,
// held through probation, is recorded in the arrival trace at its own
// arrival, like every packet after it.
func TestTraceKeepsTheHeldFirstPacket(t *testing.T) {
	var clock time.Duration
	var a, b *Endpoint
	trace, err := NewTraceRecorder(8000)
	if err != nil {
		t.Fatal(err)
	}
	a = testEndpoint(t, EndpointConfig{Session: SessionConfig{SSRC: 0xA}, Trace: trace}, &clock, nil, &b)
	b = testEndpoint(t, EndpointConfig{Session: SessionConfig{SSRC: 0xB}, PacedSource: true}, &clock, nil, &a)
	a.Start(0)
	b.Start(0)
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i * 40)
	}
	for clock = 0; clock < time.Second; clock += 5 * time.Millisecond {
		if clock%(20*time.Millisecond) == 0 {
			b.Frame(pcm, clock)
		}
		if _, end, err := a.Step(clock); end || err != nil {
			t.Fatalf("ended at %v: %v", clock, err)
		}
	}
	rows := trace.Rows()
	if len(rows) != 50 || rows[0].Lost || rows[1].Recv-rows[0].Recv != 20*time.Millisecond {
		t.Fatalf("%d rows, the first %+v, the second %+v; want 50, the first received 20 ms before the second", len(rows), rows[0], rows[1])
	}
}
