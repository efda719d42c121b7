package media

import (
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// lossyArrivals delivers the packets of one talk spurt with every seventh
// (after the first) lost and the rest delayed 30, 38 or 46 ms, in arrival
// order, and returns the arrival time of each packet kept.
func lossyArrivals(pkts [][]byte) (order []int, arrival map[int]time.Duration) {
	arrival = map[int]time.Duration{}
	for i := range pkts {
		if i > 0 && i%7 == 0 {
			continue
		}
		arrival[i] = time.Duration(i)*20*time.Millisecond + 30*time.Millisecond + time.Duration(i%3)*8*time.Millisecond
		order = append(order, i)
	}
	slices.SortStableFunc(order, func(a, b int) int { return int(arrival[a] - arrival[b]) })
	return order, arrival
}

// playAll runs a receiver over the lossy stream and returns what OnPlay
// reported and the samples written.
func playAll(t *testing.T, pkts [][]byte, noAudio, noPLC bool) ([]Played, []int16, ReceiverStats) {
	t.Helper()
	var played []Played
	r, err := NewReceiver(ReceiverConfig{Codec: pcmu(t), Strategy: ewma(t), NoAudio: noAudio, DisablePLC: noPLC,
		OnPlay: func(p Played) { played = append(played, p) }})
	if err != nil {
		t.Fatal(err)
	}
	var out []int16
	write := func(s []int16) error { out = append(out, s...); return nil }
	order, arrival := lossyArrivals(pkts)
	for _, i := range order {
		if err := Arrive(r, pkts[i], arrival[i], write); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Render(time.Duration(len(pkts))*20*time.Millisecond+2*time.Second, write); err != nil {
		t.Fatal(err)
	}
	return played, out, r.Stats()
}

// OnPlay reports every chunk played, holes included, at the instant its
// audio is written to the output (checked without concealment, which
// blends the audio after a hole), and NoAudio changes nothing but the
// audio.
func TestOnPlayReportsWhatIsPlayed(t *testing.T) {
	pkts := packetStream(t, 600)
	for _, noPLC := range []bool{true, false} {
		played, out, st := playAll(t, pkts, false, noPLC)
		checkPlayed(t, pkts, played, out, st, noPLC)
		quiet, none, qst := playAll(t, pkts, true, noPLC)
		if !slices.Equal(played, quiet) || qst != st || len(none) != 0 {
			t.Errorf("NoAudio (PLC %v): %d chunks (with audio %d), stats %+v (with audio %+v), %d samples written",
				!noPLC, len(quiet), len(played), qst, st, len(none))
		}
	}
}

func checkPlayed(t *testing.T, pkts [][]byte, played []Played, out []int16, st ReceiverStats, noPLC bool) {
	t.Helper()
	seq0 := uint16(100) // packetStream's first sequence number
	_, arrival := lossyArrivals(pkts)

	dec := pcmu(t).NewDecoder()
	var packets, holes uint64
	for k, p := range played {
		i := int(p.Seq - seq0)
		// One talk spurt: every chunk plays at one offset from its media time.
		if want := played[0].PlayAt + time.Duration(i-int(played[0].Seq-seq0))*20*time.Millisecond; p.PlayAt != want {
			t.Fatalf("chunk %d (packet %d) plays at %v, want %v", k, i, p.PlayAt, want)
		}
		start := int((int64(p.PlayAt)*8000 + int64(time.Second)/2) / int64(time.Second))
		if start+p.Samples > len(out) {
			t.Fatalf("packet %d plays past the output's end", i)
		}
		switch p.Kind {
		case PlayPacket:
			packets++
			if p.Arrival != arrival[i] || p.PlayAt < p.Arrival || p.Samples != 160 {
				t.Fatalf("packet %d: arrival %v (sent at %v), plays at %v, %d samples", i, p.Arrival, arrival[i], p.PlayAt, p.Samples)
			}
			var h rtp.Packet
			if err := h.Unmarshal(pkts[i]); err != nil {
				t.Fatal(err)
			}
			want, err := dec.Decode(nil, h.Payload)
			if err != nil {
				t.Fatal(err)
			}
			if got := out[start : start+160]; noPLC && !slices.Equal(got, want) {
				t.Fatalf("packet %d: the output at %v is not its audio", i, p.PlayAt)
			}
		case PlayHole:
			holes++
			if i%7 != 0 || p.Arrival != 0 {
				t.Errorf("hole at packet %d (arrival %v), which was not lost", i, p.Arrival)
			}
			if noPLC && slices.ContainsFunc(out[start:start+p.Samples], func(v int16) bool { return v != 0 }) {
				t.Errorf("hole at packet %d is not silent without concealment", i)
			}
		default:
			t.Errorf("packet %d played as kind %d without FEC", i, p.Kind)
		}
	}
	concealed := holes
	if noPLC {
		concealed = 0
	}
	if packets != st.Played || holes != st.MissingChunks || holes == 0 || st.Concealed != concealed {
		t.Errorf("OnPlay saw %d chunks and %d holes; the receiver played %d, %d missing, %d concealed",
			packets, holes, st.Played, st.MissingChunks, st.Concealed)
	}
}

// The packet-level receive path allocates nothing either.
func TestNoAudioReceivePathAllocatesNothing(t *testing.T) {
	pkts := packetStream(t, 3000)
	var n int
	r, err := NewReceiver(ReceiverConfig{Codec: pcmu(t), Strategy: ewma(t), NoAudio: true,
		OnPlay: func(Played) { n++ }})
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
	for range 100 {
		step()
	}
	if allocs := testing.AllocsPerRun(2000, step); allocs != 0 {
		t.Errorf("receive path without audio: %v allocations per packet, want 0", allocs)
	}
	if st := r.Stats(); uint64(n) != st.Played || st.Played < 2000 {
		t.Errorf("OnPlay called %d times for %d chunks played", n, st.Played)
	}
}
