package media

import (
	"encoding/binary"
	"testing"
	"time"
)

// TestSourceState feeds hand-made sequences through the RFC 3550 A.1/A.3
// bookkeeping: the expected and lost counts, and which packets count.
func TestSourceState(t *testing.T) {
	type pkt struct {
		seq  uint16
		ts   uint32
		want bool // counted
	}
	seqs := func(from uint16, n int) []pkt {
		var p []pkt
		for i := range n {
			p = append(p, pkt{from + uint16(i), 160 * uint32(from+uint16(i)), true})
		}
		return p
	}
	join := func(parts ...[]pkt) []pkt {
		var all []pkt
		for _, p := range parts {
			all = append(all, p...)
		}
		return all
	}
	tests := []struct {
		name                 string
		packets              []pkt
		wantExpected, wantLo uint64
		wantRestarts         uint64
		pauseAt              int // from this packet on, arrivals are a second later (0: none)
	}{
		{"in order", seqs(10, 50), 50, 0, 0, 0},
		{"a gap is loss", join(seqs(10, 5), seqs(20, 5)), 15, 5, 0, 0},
		{"reordered", join(seqs(10, 3), []pkt{{14, 14 * 160, true}, {13, 13 * 160, true}}), 5, 0, 0, 0},
		{"reordered ahead of the first", join(seqs(10, 3), []pkt{{9, 9 * 160, true}}), 4, 0, 0, 0},
		{"duplicates do not count", join(seqs(10, 3), []pkt{{11, 11 * 160, false}, {12, 12 * 160, false}}, seqs(13, 2)), 5, 0, 0, 0},
		{"sequence number wraps", seqs(65530, 12), 12, 0, 0, 0},
		{
			"one stray jump is not believed",
			join(seqs(10, 150), []pkt{{20160, 0, false}}, seqs(160, 10)),
			160, 0, 0, 0,
		},
		{
			"a stray packet far behind is not believed",
			join(seqs(1000, 10), []pkt{{500, 0, false}}, seqs(1010, 2)),
			12, 0, 0, 0,
		},
		{
			"a jump the next packet continues is a restart",
			join(seqs(10, 20), []pkt{{40000, 0, false}, {40001, 160, true}, {40002, 320, true}, {40004, 640, true}}),
			20 + 4, 1, 1, 20,
		},
		{
			"a jump is not believed while the stream it leaves keeps coming",
			join(seqs(10, 20), []pkt{{40000, 0, false}, {40001, 160, false}}, seqs(30, 5)),
			25, 0, 0, 0,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s sourceState
			for i, p := range tt.packets {
				at := time.Duration(i) * 20 * time.Millisecond
				if tt.pauseAt > 0 && i >= tt.pauseAt {
					at += time.Second
				}
				v := s.received(p.seq, p.ts, at, 8000)
				if got := v == seqCounted || v == seqRestart; got != p.want {
					t.Errorf("packet %d (seq %d): counted %v, want %v", i, p.seq, got, p.want)
				}
			}
			expected, lost := s.expectedLost()
			if expected != tt.wantExpected || lost != tt.wantLo || s.restarts != tt.wantRestarts {
				t.Errorf("expected %d lost %d restarts %d, want %d %d %d",
					expected, lost, s.restarts, tt.wantExpected, tt.wantLo, tt.wantRestarts)
			}
		})
	}
}

// A stray packet, or a replayed one with a wild timestamp, must not skew the
// loss or jitter figures the call reports and sends in its RTCP reports.
func TestReceiverStatsIgnoreStrayPackets(t *testing.T) {
	pkts := packetStream(t, 150)
	r, err := NewReceiver(ReceiverConfig{Codec: pcmu(t), Strategy: ewma(t)})
	if err != nil {
		t.Fatal(err)
	}
	at := func(i int) time.Duration { return time.Duration(i)*20*time.Millisecond + 30*time.Millisecond }
	for i, p := range pkts[:100] {
		r.HandleRTP(p, at(i))
	}
	jitterBefore := r.Stats().Jitter

	// A packet 20000 ahead, and a copy of packet 99 an hour later in media time.
	stray := append([]byte(nil), pkts[100]...)
	binary.BigEndian.PutUint16(stray[2:4], binary.BigEndian.Uint16(stray[2:4])+20000)
	replay := append([]byte(nil), pkts[99]...)
	replay[4] += 0x02 // timestamp + 2^25 ticks: more than an hour at 8 kHz
	r.HandleRTP(stray, at(100))
	r.HandleRTP(replay, at(100))
	if j := r.Stats().Jitter; j != jitterBefore {
		t.Errorf("jitter moved from %v to %v on stray packets", jitterBefore, j)
	}
	for i, p := range pkts[100:] {
		r.HandleRTP(p, at(100+i))
	}
	st := r.Stats()
	if st.Expected != 150 || st.Lost != 0 || st.Jitter > time.Millisecond {
		t.Errorf("expected %d lost %d jitter %v, want 150, 0 and no jitter: %+v", st.Expected, st.Lost, st.Jitter, st)
	}
}
