package media

import (
	"bytes"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/impair"
)

func TestTraceRecorder(t *testing.T) {
	ms := func(v float64) time.Duration { return time.Duration(v * float64(time.Millisecond)) }
	type arrival struct {
		seq uint16
		ts  uint32
		at  time.Duration
	}
	tests := []struct {
		name string
		in   []arrival
		want []impair.TraceRow
	}{
		{
			name: "in order, one lost, the first packet the slowest",
			in: []arrival{
				{100, 8000, ms(1000)}, {101, 8160, ms(1015)}, {103, 8480, ms(1062)},
			},
			// Packet 101 is 5 ms faster than the first: recv shifts by 5 ms.
			want: []impair.TraceRow{
				{Seq: 0, Send: 0, Recv: ms(5)}, {Seq: 1, Send: ms(20), Recv: ms(20)},
				{Seq: 2, Send: ms(40), Lost: true}, {Seq: 3, Send: ms(60), Recv: ms(67)},
			},
		},
		{
			name: "reordered, duplicated, across the sequence number wrap",
			in: []arrival{
				{65534, 0, ms(10)}, {0, 320, ms(40)}, {65535, 160, ms(45)}, {0, 320, ms(50)}, {1, 480, ms(70)},
			},
			// Packet 0 (the third) came 10 ms faster than the first.
			want: []impair.TraceRow{
				{Seq: 0, Send: 0, Recv: ms(10)}, {Seq: 1, Send: ms(20), Recv: ms(45)},
				{Seq: 2, Send: ms(40), Recv: ms(40)}, {Seq: 3, Send: ms(60), Recv: ms(70)},
			},
		},
		{
			name: "a packet from before the first is left out; a silence gap in the timestamps",
			in: []arrival{
				{10, 1600, ms(0)}, {9, 1440, ms(1)}, {11, 9600, ms(1000)},
			},
			want: []impair.TraceRow{{Seq: 0, Send: 0, Recv: 0}, {Seq: 1, Send: ms(1000), Recv: ms(1000)}},
		},
	}
	for _, tt := range tests {
		rec, err := NewTraceRecorder(8000)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range tt.in {
			rec.Record(a.seq, a.ts, a.at)
		}
		got := rec.Rows()
		if len(got) != len(tt.want) {
			t.Errorf("%s: rows %+v, want %+v", tt.name, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: row %d is %+v, want %+v", tt.name, i, got[i], tt.want[i])
			}
		}
		var buf bytes.Buffer
		if err := rec.WriteTrace(&buf); err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		back, err := impair.ParseTrace(&buf)
		if err != nil || len(back.Rows) != len(got) {
			t.Errorf("%s: the written trace reads back as %v, %v", tt.name, back, err)
		}
	}
	if _, err := NewTraceRecorder(0); err == nil {
		t.Error("a zero clock rate was accepted")
	}
	empty, _ := NewTraceRecorder(8000)
	if err := empty.WriteTrace(&bytes.Buffer{}); err == nil {
		t.Error("an empty trace was written")
	}
}

// The recorder keeps only the peer's stream: RTCP, and packets in another
// payload type or from another source, are not recorded.
func TestTraceRecorderFiltersDatagrams(t *testing.T) {
	rec, _ := NewTraceRecorder(8000)
	packet := func(pt uint8, seq uint16, ssrc uint32) []byte {
		b := make([]byte, 12+160)
		b[0], b[1] = 0x80, pt
		b[2], b[3] = byte(seq>>8), byte(seq)
		b[4], b[5], b[6], b[7] = 0, 0, byte(uint16(seq)*160>>8), byte(uint16(seq)*160)
		b[8], b[9], b[10], b[11] = byte(ssrc>>24), byte(ssrc>>16), byte(ssrc>>8), byte(ssrc)
		return b
	}
	rec.RecordDatagram(packet(0, 1, 7), ms20(1))
	rec.RecordDatagram(packet(127, 2, 7), ms20(2)) // FEC in its own payload type
	rec.RecordDatagram(packet(0, 3, 8), ms20(3))   // another source
	rec.RecordDatagram([]byte{0x80, 0}, ms20(4))   // too short
	rec.RecordDatagram(packet(0, 4, 7), ms20(4))
	rows := rec.Rows()
	if len(rows) != 4 || rows[1].Lost != true || rows[2].Lost != true || rows[3].Lost {
		t.Errorf("rows %+v, want packets 1 and 4 with 2 and 3 lost", rows)
	}
}

func ms20(n int) time.Duration { return time.Duration(n) * 20 * time.Millisecond }

// Whatever datagrams arrive, in whatever order and at whatever times, the
// recorded trace is one the trace loader accepts.
func FuzzTraceRecorder(f *testing.F) {
	f.Add([]byte{0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 7, 0x80, 0, 0, 3, 0, 0, 1, 64, 0, 0, 0, 7}, uint32(20), uint32(5))
	f.Add([]byte{0x80, 0, 255, 255, 255, 255, 255, 0, 0, 0, 0, 7, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7}, uint32(3), uint32(0))
	f.Fuzz(func(t *testing.T, data []byte, step, jitter uint32) {
		rec, err := NewTraceRecorder(8000)
		if err != nil {
			t.Fatal(err)
		}
		at := time.Duration(0)
		for n := 0; len(data) >= 12 && n < 1000; n++ {
			rec.RecordDatagram(data[:12], at)
			at += time.Duration(step%100_000)*time.Microsecond - time.Duration(jitter%50_000)*time.Microsecond*time.Duration(n%2)
			data = data[12:]
		}
		var buf bytes.Buffer
		if err := rec.WriteTrace(&buf); err != nil {
			if len(rec.Rows()) == 0 {
				return
			}
			t.Fatalf("the recorded trace does not write: %v\n%+v", err, rec.Rows())
		}
		if _, err := impair.ParseTrace(&buf); err != nil {
			t.Fatalf("the written trace does not load: %v", err)
		}
	})
}
