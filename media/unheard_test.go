package media

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/impair"
	"github.com/spurtvoip/spurt/vad"
)

// Packets lost after the last one received (or before the first) leave no
// gap in the sequence numbers; the peer's sender reports still count them.
// Side 0's media stops reaching side 1 after cut (its RTCP still comes), or
// never does: side 1 must count what it missed and rate it as such.
func TestUnheardPacketsCountAsLost(t *testing.T) {
	tests := []struct {
		name     string
		cut      time.Duration
		maxMOS   float64
		minLoss  float64 // share of the expected packets
		delayNil bool
	}{
		{name: "media cut 3 s in", cut: 3 * time.Second, maxMOS: 3, minLoss: 0.3},
		{name: "no media ever", cut: 0, maxMOS: 1.5, minLoss: 1, delayNil: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			speech := spurtySpeech(8)
			var now time.Duration
			var ep [2]*Endpoint
			for i := range ep {
				det, err := vad.New(vad.DefaultConfig())
				if err != nil {
					t.Fatal(err)
				}
				peer := 1 - i
				e, err := NewEndpoint(EndpointConfig{
					Session: SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 40*time.Millisecond), VAD: det,
						SSRC: uint32(100 + i), InitialSeq: uint16(1000 * i)},
					Path:     &impair.Path{Delay: impair.Constant(20 * time.Millisecond)},
					RTCPPath: &impair.Path{Delay: impair.Constant(20 * time.Millisecond)},
					Transmit: func(pkt []byte) {
						if i == 0 && !IsRTCP(pkt) && now >= tt.cut {
							return
						}
						ep[peer].Receive(pkt, now)
					},
					Write:    func([]int16) error { return nil },
					Source:   audio.NewMemorySource(speech),
					Duration: 12 * time.Second,
					Rand:     rand.New(rand.NewPCG(uint64(i), 5)),
				})
				if err != nil {
					t.Fatal(err)
				}
				ep[i] = e
			}
			for i := range ep {
				ep[i].Start(0)
			}
			var ended [2]bool
			for now = 0; now < 12*time.Second && !(ended[0] && ended[1]); now += time.Millisecond {
				for i := range ep {
					if ended[i] {
						continue
					}
					if _, end, _ := ep[i].Step(now); end {
						ended[i] = true
						ep[i].HangUp(now)
					}
				}
			}
			sent := ep[0].Session().Stats(now).PacketsSent
			defer func() {
				st := ep[1].Session().Stats(now)
				t.Logf("expected %d, lost %d, MOS %v", st.Expected, st.NetworkLost, deref(st.MOS))
			}()
			st := ep[1].Session().Stats(now)
			// The peer's last sender report counts what it had sent by
			// then; what it sent after is unknown.
			if st.Expected == 0 || st.Expected > sent || st.Expected < ep[1].Session().rep.peerSent {
				t.Errorf("expected %d packets; the peer sent %d, its last report said %d", st.Expected, sent, ep[1].Session().rep.peerSent)
			}
			if loss := float64(st.NetworkLost) / float64(max(st.Expected, 1)); loss < tt.minLoss || st.ResidualLost < st.NetworkLost {
				t.Errorf("network lost %d of %d (residual %d), want at least %.0f %%", st.NetworkLost, st.Expected, st.ResidualLost, 100*tt.minLoss)
			}
			if (st.PlayoutDelayMean == nil) != tt.delayNil {
				t.Errorf("playout delay %v", deref(st.PlayoutDelayMean))
			}
			if st.MOS == nil || *st.MOS > tt.maxMOS {
				t.Errorf("MOS %v, want at most %v", deref(st.MOS), tt.maxMOS)
			}
		})
	}
}

func TestPeerWentSilentWithdrawsTheRating(t *testing.T) {
	r, mos := 90.0, 4.3
	st := Stats{Codec: "PCMU", Expected: 100, RFactor: &r, MOS: &mos}
	st.PeerWentSilent(12340 * time.Millisecond)
	if st.RFactor != nil || st.MOS != nil || st.PeerSilent != 12.3 {
		t.Fatalf("R %v MOS %v silent %v: want no rating after 12.3 s unheard", deref(st.RFactor), deref(st.MOS), st.PeerSilent)
	}
	if s := Summary(st, EndedPeerTimeout); !strings.Contains(s, "voice quality unknown") || strings.Contains(s, "MOS") {
		t.Errorf("summary does not say the rating is unknown:\n%s", s)
	}
}
