package media

import (
	"math"
	"slices"
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

// TestInterleavedHoleIsInterpolatedTowardsTheNextChunk loses the last
// packet of an interleaving group: the last 5 ms unit of each of its four
// chunks. For the first three, the start of the next chunk is in the playout
// buffer already (the group came together), so the hole is interpolated
// towards it and that received audio plays exactly as without loss, rather
// than being overlap-added with the concealment.
func TestInterleavedHoleIsInterpolatedTowardsTheNextChunk(t *testing.T) {
	const chunks = 48
	signal := make([]int16, chunks*160)
	for i := range signal {
		x := float64(i) / 8000
		signal[i] = int16(3000*math.Cos(2*math.Pi*140*x) + 1500*math.Cos(2*math.Pi*280*x+0.7) + 800*math.Cos(2*math.Pi*420*x+1.9))
	}
	pkts := interleavedPackets(t, pcmu(t), 4, signal)
	const lostGroup = 5
	play := func(lose int) []int16 {
		r, err := NewReceiver(ReceiverConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 100*time.Millisecond),
			Interleave: &InterleaveConfig{PayloadType: interleavePT, PeerDepth: 4}})
		if err != nil {
			t.Fatal(err)
		}
		var sink audio.MemorySink
		next := 0
		for now := time.Duration(0); now < 2*time.Second; now += 5 * time.Millisecond {
			for ; next < len(pkts) && time.Duration(next/4+1)*80*time.Millisecond <= now; next++ {
				if next != lose {
					r.HandleRTP(pkts[next], now)
				}
			}
			if err := r.Render(now, sink.WriteSamples); err != nil {
				t.Fatal(err)
			}
		}
		return sink.Samples()
	}
	clean, lossy := play(-1), play(4*lostGroup+3)
	start := slices.IndexFunc(clean, func(v int16) bool { return v != 0 })
	if start < 0 || len(lossy) != len(clean) {
		t.Fatalf("nothing played (start %d), or %d samples against %d", start, len(lossy), len(clean))
	}
	for c := 4 * lostGroup; c < 4*lostGroup+3; c++ {
		hole := start + c*160 + 120
		if slices.Equal(lossy[hole:hole+40], clean[hole:hole+40]) {
			t.Errorf("chunk %d: the lost unit played as if received", c)
		}
		if snr := unitSNR(clean[hole:hole+40], lossy[hole:hole+40]); snr < 10 {
			t.Errorf("chunk %d: concealed unit at %.1f dB SNR, want 10 dB or more for a steady tone", c, snr)
		}
		after := hole + 40
		if !slices.Equal(lossy[after:after+40], clean[after:after+40]) {
			t.Errorf("chunk %d: the received unit after the hole was changed", c+1)
		}
	}
}

func unitSNR(want, got []int16) float64 {
	var sig, noise float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		sig += float64(want[i]) * float64(want[i])
		noise += d * d
	}
	return 10 * math.Log10(sig/noise)
}

// TestInterleavedWildTimestamp injects, between two packets of a stream,
// one interleaved packet of the stream's source whose timestamp runs 3 s
// ahead. The group it interrupts is handed on as it stands (a later group
// means the earlier ones are complete), but the rest of the stream plays:
// the bogus group no longer marks every group before it as finished, and
// when it has been handed on, packets later in sequence but earlier in time
// restart the reassembly rather than all being late. (Found by
// FuzzSchemeReceive.)
func TestInterleavedWildTimestamp(t *testing.T) {
	const frames = 160 // 3.2 s
	signal := make([]int16, frames*160)
	for i := range signal {
		signal[i] = int16(2000 * math.Sin(float64(i)/7))
	}
	pkts := interleavedPackets(t, pcmu(t), 4, signal)
	wild := append([]byte(nil), pkts[4]...) // packet 0 of group 1
	ts := uint32(wild[4])<<24 | uint32(wild[5])<<16 | uint32(wild[6])<<8 | uint32(wild[7])
	ts += 3 * 8000
	wild[4], wild[5], wild[6], wild[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
	wild[3] += 8 // sequence number two groups on
	r, err := NewReceiver(ReceiverConfig{Codec: pcmu(t), Strategy: ewma(t),
		Interleave: &InterleaveConfig{PayloadType: interleavePT, PeerDepth: 4}})
	if err != nil {
		t.Fatal(err)
	}
	next := 0
	for now := time.Duration(0); now < 10*time.Second; now += 5 * time.Millisecond {
		for ; next < len(pkts) && time.Duration(next/4+1)*80*time.Millisecond <= now; next++ {
			r.HandleRTP(pkts[next], now)
			if next == 4 {
				r.HandleRTP(wild, now)
			}
		}
		if err := r.Render(now, discard); err != nil {
			t.Fatal(err)
		}
	}
	st := r.Stats()
	t.Logf("%+v", st)
	if st.Late > 3 || st.Played < frames || st.ResidualLost > 3 {
		t.Errorf("late %d, played %d chunks, residual %d; want at most the 3 packets of the interrupted group late, and all %d chunks played",
			st.Late, st.Played, st.ResidualLost, frames)
	}
	if !r.Idle() {
		t.Error("receiver not idle at the end")
	}
}
