package media

import (
	"testing"
	"time"

	"github.com/pion/rtp"
)

// packetStream builds n consecutive 20 ms PCMU packets (one talk spurt).
func packetStream(t testing.TB, n int) [][]byte {
	t.Helper()
	s, err := NewSender(SenderConfig{Codec: pcmu(t), SSRC: 9, InitialSeq: 100, InitialTime: 5000})
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 160)
	out := make([][]byte, n)
	for i := range out {
		for j := range pcm {
			pcm[j] = int16((i*160 + j) % 3000)
		}
		b, err := onePacket(s, pcm)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = append([]byte(nil), b...)
	}
	return out
}

func discard([]int16) error { return nil }

// TestReceivePathAllocatesNothing checks the per-packet path (parse, playout
// buffer, decode, timeline) allocates nothing in steady state.
func TestReceivePathAllocatesNothing(t *testing.T) {
	pkts := packetStream(t, 3000)
	r, err := NewReceiver(ReceiverConfig{Codec: pcmu(t), Strategy: ewma(t)})
	if err != nil {
		t.Fatal(err)
	}
	i := 0
	step := func() {
		arrival := time.Duration(i)*20*time.Millisecond + 30*time.Millisecond
		r.HandleRTP(pkts[i], arrival)
		if err := r.Render(arrival, discard); err != nil {
			t.Fatal(err)
		}
		i++
	}
	for range 100 { // warm up
		step()
	}
	if allocs := testing.AllocsPerRun(2000, step); allocs != 0 {
		t.Errorf("receive path: %v allocations per packet, want 0", allocs)
	}
	if st := r.Stats(); st.Played < 2000 || st.Late != 0 {
		t.Errorf("played %d late %d", st.Played, st.Late)
	}
}

func TestSendPathAllocatesNothing(t *testing.T) {
	s, err := NewSender(SenderConfig{Codec: pcmu(t), SSRC: 1})
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 160)
	if allocs := testing.AllocsPerRun(1000, func() {
		if _, err := onePacket(s, pcm); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("send path: %v allocations per frame, want 0", allocs)
	}
}

// BenchmarkReceivePath measures one packet through the receive pipeline:
// RTP parse, playout buffer, decode and placement on the output.
func BenchmarkReceivePath(b *testing.B) {
	pkts := packetStream(b, 1<<14)
	r, err := NewReceiver(ReceiverConfig{Codec: pcmu(b), Strategy: ewma(b)})
	if err != nil {
		b.Fatal(err)
	}
	// the stream's timestamps repeat every len(pkts) packets; rewrite them so the
	// benchmark can run any number of iterations as one continuous stream
	var h rtp.Header
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := pkts[i%len(pkts)]
		if _, err := h.Unmarshal(p); err != nil {
			b.Fatal(err)
		}
		h.SequenceNumber = uint16(100 + i)
		h.Timestamp = uint32(5000 + 160*i)
		if _, err := h.MarshalTo(p); err != nil {
			b.Fatal(err)
		}
		arrival := time.Duration(i)*20*time.Millisecond + 30*time.Millisecond
		r.HandleRTP(p, arrival)
		if err := r.Render(arrival, discard); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSendPath(b *testing.B) {
	s, err := NewSender(SenderConfig{Codec: pcmu(b), SSRC: 1})
	if err != nil {
		b.Fatal(err)
	}
	pcm := make([]int16, 160)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := onePacket(s, pcm); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzSessionInput feeds arbitrary datagrams (RTP, RTCP or garbage) at
// arbitrary times into a session: nothing may panic, and playout must keep
// its invariants (no more chunks played than packets accepted).
func FuzzSessionInput(f *testing.F) {
	pkts := packetStream(f, 4)
	for _, p := range pkts {
		f.Add(p, uint16(20))
	}
	f.Add([]byte{0x80, 0xc8, 0, 6, 0, 0, 0, 1}, uint16(0)) // truncated SR
	f.Add([]byte{0x80, 0x00}, uint16(5))
	f.Fuzz(func(t *testing.T, data []byte, gapMs uint16) {
		s, err := NewSession(SessionConfig{Codec: pcmu(t), Strategy: ewma(t), SSRC: 1})
		if err != nil {
			t.Fatal(err)
		}
		now := time.Duration(0)
		// the input is a sequence of datagrams; split it at a byte boundary rule
		for len(data) > 0 {
			n := min(len(data), 12+int(data[0])%200)
			s.HandleDatagram(data[:n], now, time.Unix(0, 0).Add(now))
			data = data[n:]
			now += time.Duration(gapMs%100) * time.Millisecond
			if err := s.Render(now, discard); err != nil {
				t.Fatal(err)
			}
		}
		st := s.Stats(now)
		if st.Played > st.PacketsReceived {
			t.Fatalf("played %d chunks from %d packets", st.Played, st.PacketsReceived)
		}
	})
}

// onePacket sends one frame of a sender with no parity or interleaving and
// returns its packet, or nil during silence.
func onePacket(s *Sender, pcm []int16) ([]byte, error) {
	var out []byte
	err := s.FramePackets(pcm, func(pkt []byte) { out = pkt })
	return out, err
}
