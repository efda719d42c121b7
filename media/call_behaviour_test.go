package media

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/internal/audiotest"
	"github.com/spurtvoip/spurt/vad"
)

// This file holds, on a virtual clock, the behaviour cmd/call's end-to-end
// tests used to be the only check of: what a two-way call with silence
// suppression delivers when nothing is lost. The end-to-end tests keep what
// only two processes show (sockets, signaling, the flags, the files); run on
// a busy machine they also see chunks come late, which here must never
// happen: the network's delay varies by less than the playout buffer adds.

// virtualEnd is one side of a virtual call: its session and what it played.
type virtualEnd struct {
	sess *Session
	sink audio.MemorySink
}

// virtualDatagram is a datagram on the virtual network, due at at.
type virtualDatagram struct {
	at  time.Duration
	pkt []byte
}

// virtualCall runs a two-way call on a virtual clock: both sides send speech
// with silence suppression from the first frame, every datagram (media and
// RTCP) takes delay plus a uniform jitter below jitterMax drawn from seed,
// and each side renders every millisecond. It returns both endpoints once
// both inputs are sent and 500 ms have passed for the playout to finish.
func virtualCall(t *testing.T, speech []int16, delay, jitterMax time.Duration, seed uint64) (a, b *virtualEnd) {
	t.Helper()
	newEnd := func(ssrc uint32) *virtualEnd {
		det, err := vad.New(vad.DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		s, err := NewSession(SessionConfig{Codec: pcmu(t), Strategy: ewma(t), VAD: det, SSRC: ssrc,
			InitialSeq: uint16(ssrc * 1000), InitialTime: ssrc << 20, DisablePLC: true})
		if err != nil {
			t.Fatal(err)
		}
		return &virtualEnd{sess: s}
	}
	a, b = newEnd(1), newEnd(2)
	rng := rand.New(rand.NewPCG(seed, 2))
	epoch := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var toA, toB []virtualDatagram
	post := func(queue *[]virtualDatagram, now time.Duration, pkt []byte) {
		at := now + delay + time.Duration(rng.Int64N(int64(jitterMax)))
		i, _ := slices.BinarySearchFunc(*queue, at, func(f virtualDatagram, at time.Duration) int { return int(f.at - at) })
		for i < len(*queue) && (*queue)[i].at == at {
			i++ // same arrival time: keep the send order
		}
		*queue = slices.Insert(*queue, i, virtualDatagram{at, slices.Clone(pkt)})
	}
	deliver := func(queue *[]virtualDatagram, to *virtualEnd, now time.Duration) {
		for len(*queue) > 0 && (*queue)[0].at <= now {
			to.sess.HandleDatagram((*queue)[0].pkt, now, epoch.Add(now))
			*queue = (*queue)[1:]
		}
	}
	frames := len(speech) / audio.FrameSamples
	end := time.Duration(frames)*20*time.Millisecond + 500*time.Millisecond
	for now := time.Duration(0); now <= end; now += time.Millisecond {
		if now%(20*time.Millisecond) == 0 && int(now/(20*time.Millisecond)) < frames {
			i := int(now / (20 * time.Millisecond))
			pcm := speech[i*audio.FrameSamples : (i+1)*audio.FrameSamples]
			for _, e := range []struct {
				from  *virtualEnd
				queue *[]virtualDatagram
			}{{a, &toB}, {b, &toA}} {
				if err := e.from.sess.SendPackets(pcm, now, func(pkt []byte) { post(e.queue, now, pkt) }); err != nil {
					t.Fatal(err)
				}
			}
		}
		if now%time.Second == 0 { // RTCP: RTT and the clock mapping for the playout delay
			for _, e := range []struct {
				from  *virtualEnd
				queue *[]virtualDatagram
			}{{a, &toB}, {b, &toA}} {
				rep, err := e.from.sess.Report(now, epoch.Add(now))
				if err != nil {
					t.Fatal(err)
				}
				post(e.queue, now, rep)
			}
		}
		deliver(&toA, a, now)
		deliver(&toB, b, now)
		for _, e := range []*virtualEnd{a, b} {
			if err := e.sess.Render(now, e.sink.WriteSamples); err != nil {
				t.Fatal(err)
			}
		}
	}
	return a, b
}

// TestVirtualCallExchangesSpeech: over a lossless network whose delay
// varies (25-35 ms), each side hears what the other said to G.711's
// precision, every talk spurt of it, with nothing late, lost or concealed;
// every packet sent is received and expected.
func TestVirtualCallExchangesSpeech(t *testing.T) {
	speech := speechSample(t)
	for _, seed := range []uint64{1, 2} {
		a, b := virtualCall(t, speech, 25*time.Millisecond, 10*time.Millisecond, seed)
		end := time.Duration(len(speech)/audio.FrameSamples)*20*time.Millisecond + 500*time.Millisecond
		for _, side := range []struct {
			name       string
			from, hear *virtualEnd
		}{{"A hearing B", b, a}, {"B hearing A", a, b}} {
			sent, st := side.from.sess.Stats(end), side.hear.sess.Stats(end)
			r := audiotest.Compare(speech, side.hear.sink.Samples(), 2*audio.SampleRate, 800)
			t.Logf("seed %d, %s: sent %d, received %d of %d, late %d, talk spurts %d, playout delay %v ms; SNR %.1f dB, coverage %.3f, %d segments",
				seed, side.name, sent.PacketsSent, st.PacketsReceived, st.Expected, st.LateLost, st.Talkspurts,
				deref(st.PlayoutDelayMean), r.SNR, r.Coverage, r.Segments)
			if st.PacketsReceived != sent.PacketsSent || st.Expected != sent.PacketsSent || st.NetworkLost != 0 {
				t.Errorf("seed %d, %s: received %d of %d expected, lost %d; %d sent", seed, side.name,
					st.PacketsReceived, st.Expected, st.NetworkLost, sent.PacketsSent)
			}
			if st.LateLost != 0 || st.ResidualLost != 0 || st.Concealed != 0 {
				t.Errorf("seed %d, %s: late %d, residual %d, concealed %d: want none on a lossless path",
					seed, side.name, st.LateLost, st.ResidualLost, st.Concealed)
			}
			// silence suppression: fewer packets than frames, in spurts
			if st.Talkspurts < 3 || sent.PacketsSent >= uint64(len(speech)/audio.FrameSamples) {
				t.Errorf("seed %d, %s: %d talk spurts in %d packets for %d frames", seed, side.name,
					st.Talkspurts, sent.PacketsSent, len(speech)/audio.FrameSamples)
			}
			if r.SNR < 30 || r.Coverage < 0.97 {
				t.Errorf("seed %d, %s: SNR %.1f dB, coverage %.3f: want > 30 dB (G.711) and nearly all speech", seed, side.name, r.SNR, r.Coverage)
			}
			if d := st.PlayoutDelayMean; d == nil || *d < 25 || *d > 1000 {
				t.Errorf("seed %d, %s: playout delay mean %v ms, want above the network's 25 ms", seed, side.name, deref(d))
			}
		}
	}
}
