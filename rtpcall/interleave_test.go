package rtpcall

import (
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/codec"
)

// interleavedPackets sends frames of pcm (a multiple of 160 samples) with
// interleaving of the given depth and returns the packets.
func interleavedPackets(t *testing.T, cd codec.Codec, depth int, pcm []int16) [][]byte {
	t.Helper()
	s, err := NewSender(SenderConfig{Codec: cd, SSRC: 9, InitialSeq: 100, InitialTime: 8000,
		Interleave: &InterleaveConfig{PayloadType: interleavePT, Depth: depth}})
	if err != nil {
		t.Fatal(err)
	}
	var pkts [][]byte
	for f := 0; f+160 <= len(pcm); f += 160 {
		if err := s.FramePackets(pcm[f:f+160], func(p []byte) { pkts = append(pkts, append([]byte(nil), p...)) }); err != nil {
			t.Fatal(err)
		}
	}
	return pkts
}

// TestInterleavedHolesAreTheCodecsSilence: with concealment off, the units
// of a lost interleaved packet play as silence in both G.711 laws (µ-law
// encodes it as 0xFF, A-law as 0xD5, which decode to 0 and 8).
func TestInterleavedHolesAreTheCodecsSilence(t *testing.T) {
	for _, name := range []string{"PCMU", "PCMA"} {
		t.Run(name, func(t *testing.T) {
			cd, err := codec.Default().ByName(name)
			if err != nil {
				t.Fatal(err)
			}
			level := make([]int16, 8*160)
			for i := range level {
				level[i] = 5000
			}
			pkts := interleavedPackets(t, cd, 4, level)
			r, err := NewReceiver(ReceiverConfig{Codec: cd, Strategy: fixedStrategy(t, 100*time.Millisecond),
				Interleave: &InterleaveConfig{PayloadType: interleavePT, PeerDepth: 4}, DisablePLC: true})
			if err != nil {
				t.Fatal(err)
			}
			var sink audio.MemorySink
			for i, p := range pkts {
				if i != 1 { // unit 1 of the first four chunks
					r.HandleRTP(p, 80*time.Millisecond+time.Duration(i/4)*80*time.Millisecond)
				}
			}
			if err := r.Render(time.Second, sink.WriteSamples); err != nil {
				t.Fatal(err)
			}
			quiet, loud := 0, 0
			for _, v := range sink.Samples() {
				switch {
				case v >= -8 && v <= 8:
					quiet++
				case v > 4500 && v < 5500:
					loud++
				default:
					t.Fatalf("sample %d is neither the level nor silence", v)
				}
			}
			if loud != 8*160-4*40 {
				t.Errorf("%d samples at the level, want %d (four 5 ms holes in eight chunks)", loud, 8*160-4*40)
			}
			if st := r.Stats(); st.Played != 8 || st.Concealed != 0 {
				t.Errorf("played %d chunks, concealed %d; want 8, 0", st.Played, st.Concealed)
			}
		})
	}
}
