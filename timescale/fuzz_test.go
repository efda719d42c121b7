package timescale

import (
	"encoding/binary"
	"testing"
)

// FuzzProcess feeds arbitrary samples in arbitrary frame lengths with
// arbitrary requests, with and without gaps: nothing panics, every output is
// its input plus the reported change, the change never exceeds the request,
// the room given or the rate bound, and a frame left alone is copied.
func FuzzProcess(f *testing.F) {
	f.Add([]byte{}, uint16(160), int16(-120), uint8(10), uint8(0))
	f.Add(make([]byte, 4000), uint16(160), int16(120), uint8(100), uint8(3))
	speechBytes := make([]byte, 0, 6400)
	for _, v := range tones(3200, 9000, 150, 450) {
		speechBytes = binary.LittleEndian.AppendUint16(speechBytes, uint16(v))
	}
	f.Add(speechBytes, uint16(160), int16(-120), uint8(20), uint8(0))
	f.Add(speechBytes, uint16(7), int16(32767), uint8(255), uint8(2))
	f.Add(speechBytes, uint16(480), int16(-32768), uint8(1), uint8(5))
	f.Fuzz(func(t *testing.T, data []byte, size uint16, want int16, ratePct uint8, gapEvery uint8) {
		rate := float64(max(ratePct, 1)) / 255
		sc, err := New(Config{Rate: rate})
		if err != nil {
			t.Fatal(err)
		}
		pcm := make([]int16, min(len(data)/2, 2400)) // 300 ms keeps executions fast
		for i := range pcm {
			pcm[i] = int16(binary.LittleEndian.Uint16(data[2*i:]))
		}
		n := int(size)%MaxInput + 1
		out := make([]int16, MaxInput+MaxChange)
		sign := 1
		var changed, input int
		for i, at := 0, 0; at < len(pcm); i++ {
			in := pcm[at:min(at+n, len(pcm))]
			at += len(in)
			w := sign * int(want) * 37 // reach beyond ±MaxChange too
			sign = -sign
			room := len(in) + i%(MaxChange+1)
			change, err := sc.Process(out[:room], in, w)
			if err != nil {
				t.Fatalf("call %d: %v", i, err)
			}
			if change != 0 && (change < 0) != (w < 0) {
				t.Fatalf("call %d: change %d for want %d", i, change, w)
			}
			if abs(change) > abs(w) || abs(change) > MaxChange || len(in)+change > room || len(in)+change < 0 {
				t.Fatalf("call %d: change %d, want %d, %d in, room %d", i, change, w, len(in), room)
			}
			if change == 0 {
				for j, v := range in {
					if out[j] != v {
						t.Fatalf("call %d: unchanged frame differs at %d", i, j)
					}
				}
			}
			changed += abs(change)
			input += len(in)
			if float64(changed) > rate*float64(input)+MaxChange+1e-6 {
				t.Fatalf("changed %d of %d at rate %.3f", changed, input, rate)
			}
			if gapEvery > 0 && i%int(gapEvery) == 0 {
				sc.Gap()
			}
		}
	})
}

// BenchmarkProcess times one 20 ms frame of speech: passed through, and
// asked to shorten or stretch as much as allowed at rate 1 (a join in most
// frames: the worst case) and at the default rate.
func BenchmarkProcess(b *testing.B) {
	sp := speech(b)
	for _, bc := range []struct {
		name string
		rate float64
		want int
	}{
		{"pass", DefaultRate, 0},
		{"shorten/default", DefaultRate, -MaxChange},
		{"stretch/default", DefaultRate, MaxChange},
		{"shorten/rate1", 1, -MaxChange},
		{"stretch/rate1", 1, MaxChange},
	} {
		b.Run(bc.name, func(b *testing.B) {
			sc, _ := New(Config{Rate: bc.rate})
			out := make([]int16, frame+MaxChange)
			at := 0
			b.ReportAllocs()
			for b.Loop() {
				if at+frame > len(sp) {
					at = 0
				}
				if _, err := sc.Process(out, sp[at:at+frame], bc.want); err != nil {
					b.Fatal(err)
				}
				at += frame
			}
		})
	}
}

// BenchmarkJoin times a frame that is certainly joined: a tone shortened by
// one period every frame.
func BenchmarkJoin(b *testing.B) {
	pcm := tones(100*frame, 8000, 200, 400)
	sc, _ := New(Config{Rate: 1})
	out := make([]int16, frame+MaxChange)
	at, joins := 0, 0
	b.ReportAllocs()
	for b.Loop() {
		if at+frame > len(pcm) {
			at = 0
		}
		change, err := sc.Process(out, pcm[at:at+frame], -40)
		if err != nil {
			b.Fatal(err)
		}
		if change != 0 {
			joins++
		}
		at += frame
	}
	b.ReportMetric(float64(joins)/float64(b.N), "joins/op")
}
