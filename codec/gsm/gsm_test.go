package gsm

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestEncodeRejectsPartialFrames(t *testing.T) {
	for _, n := range []int{1, 159, 161, 319} {
		dst := []byte{1, 2, 3}
		got, err := NewEncoder().Encode(dst, make([]int16, n))
		if err == nil {
			t.Errorf("%d samples: no error", n)
		}
		if len(got) != len(dst) {
			t.Errorf("%d samples: dst grew to %d bytes on error", n, len(got))
		}
	}
	got, err := NewEncoder().Encode(nil, nil)
	if err != nil || len(got) != 0 {
		t.Errorf("no samples: got %d bytes, %v; want none, nil", len(got), err)
	}
}

func TestEncodeAppends(t *testing.T) {
	pcm := speechLike(2*FrameSamples, 2)
	prefix := []byte("prefix")
	got, err := NewEncoder().Encode(prefix, pcm)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := NewEncoder().Encode(nil, pcm)
	if string(got[:len(prefix)]) != "prefix" || string(got[len(prefix):]) != string(want) {
		t.Fatal("Encode did not append to dst")
	}
	for f := len(prefix); f < len(got); f += FrameSize {
		if got[f]>>4 != 0xD {
			t.Fatalf("frame at byte %d starts with 0x%02X, want signature 0xD", f, got[f])
		}
	}
}

func TestDecodeRejectsMalformedPayloads(t *testing.T) {
	good, err := NewEncoder().Encode(nil, speechLike(2*FrameSamples, 3))
	if err != nil {
		t.Fatal(err)
	}
	badMagic := append([]byte(nil), good...)
	badMagic[FrameSize] = 0xC0 | badMagic[FrameSize]&0x0F
	tests := []struct {
		name    string
		payload []byte
	}{
		{"one byte", good[:1]},
		{"short frame", good[:FrameSize-1]},
		{"frame and a half", good[:FrameSize+FrameSize/2]},
		{"one byte too many", append(append([]byte(nil), good...), 0xD0)},
		{"second frame bad signature", badMagic},
		{"zero frame", make([]byte, FrameSize)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dec := NewDecoder()
			if n, err := dec.Samples(tt.payload); !errors.Is(err, ErrMalformedFrame) || n != 0 {
				t.Errorf("Samples = %d, %v; want 0 and ErrMalformedFrame", n, err)
			}
			dst := []int16{7}
			got, err := dec.Decode(dst, tt.payload)
			if !errors.Is(err, ErrMalformedFrame) {
				t.Errorf("Decode error %v, want ErrMalformedFrame", err)
			}
			if len(got) != 1 || got[0] != 7 {
				t.Errorf("Decode changed dst on error: %v", got)
			}
			if *dec != (Decoder{}) {
				t.Error("Decode changed the decoder's state on error")
			}
		})
	}
	if n, err := NewDecoder().Samples(nil); n != 0 || err != nil {
		t.Errorf("Samples(nil) = %d, %v; want 0, nil", n, err)
	}
}

// TestRoundTripQuality checks, without any reference tool, that decoding our
// own coding gives back a recognisable signal: GSM is not waveform-exact, but
// a steady tone must come back strongly correlated and at a similar level.
func TestRoundTripQuality(t *testing.T) {
	tests := []struct {
		name           string
		pcm            []int16
		minCorrelation float64
	}{
		{"tone 440 Hz", sine(440, 8000, 100*FrameSamples), 0.98},
		{"speech-like", speechLike(100*FrameSamples, 4), 0.9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			payload, err := NewEncoder().Encode(nil, tt.pcm)
			if err != nil {
				t.Fatal(err)
			}
			out, err := NewDecoder().Decode(nil, payload)
			if err != nil {
				t.Fatal(err)
			}
			// Skip the first frames while the filters settle.
			in, got := tt.pcm[10*FrameSamples:], out[10*FrameSamples:]
			var sxy, sxx, syy float64
			for i := range in {
				x, y := float64(in[i]), float64(got[i])
				sxy, sxx, syy = sxy+x*y, sxx+x*x, syy+y*y
			}
			corr := sxy / math.Sqrt(sxx*syy)
			level := math.Sqrt(syy / sxx)
			t.Logf("correlation %.3f, level ratio %.2f", corr, level)
			if corr < tt.minCorrelation || level < 0.5 || level > 2 {
				t.Errorf("correlation %.3f (want >= %.2f), level ratio %.2f (want 0.5..2)", corr, tt.minCorrelation, level)
			}
		})
	}
}

func TestFrameParamsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 1000 {
		var p frameParams
		for i := range p.lar {
			p.lar[i] = int16(rng.IntN(1 << larBits[i]))
		}
		for s := range p.sub {
			sp := &p.sub[s]
			sp.lag = int16(rng.IntN(1 << lagBits))
			sp.gain = int16(rng.IntN(1 << gainBits))
			sp.grid = int16(rng.IntN(1 << gridBits))
			sp.xmax = int16(rng.IntN(1 << xmaxBits))
			for i := range sp.pulses {
				sp.pulses[i] = int16(rng.IntN(1 << pulseBits))
			}
		}
		var frame [FrameSize]byte
		p.pack(&frame)
		if frame[0]>>4 != frameMagic {
			t.Fatalf("packed frame starts 0x%02X", frame[0])
		}
		var q frameParams
		q.unpack(&frame)
		if p != q {
			t.Fatalf("unpack(pack(p)) = %+v, want %+v", q, p)
		}
	}
}

// TestFrameLayout pins the bit order of RFC 3551 section 4.5.8: setting one
// parameter to all ones sets exactly its bits, at its offset.
func TestFrameLayout(t *testing.T) {
	tests := []struct {
		name   string
		set    func(*frameParams)
		offset int // bit offset from the start of the frame, signature included
		width  int
	}{
		{"LARc[1]", func(p *frameParams) { p.lar[0] = 63 }, 4, 6},
		{"LARc[2]", func(p *frameParams) { p.lar[1] = 63 }, 10, 6},
		{"LARc[3]", func(p *frameParams) { p.lar[2] = 31 }, 16, 5},
		{"LARc[8]", func(p *frameParams) { p.lar[7] = 7 }, 37, 3},
		{"Nc[0]", func(p *frameParams) { p.sub[0].lag = 127 }, 40, 7},
		{"bc[0]", func(p *frameParams) { p.sub[0].gain = 3 }, 47, 2},
		{"Mc[0]", func(p *frameParams) { p.sub[0].grid = 3 }, 49, 2},
		{"xmaxc[0]", func(p *frameParams) { p.sub[0].xmax = 63 }, 51, 6},
		{"xMc[0][0]", func(p *frameParams) { p.sub[0].pulses[0] = 7 }, 57, 3},
		{"Nc[1]", func(p *frameParams) { p.sub[1].lag = 127 }, 96, 7},
		{"xMc[3][12]", func(p *frameParams) { p.sub[3].pulses[12] = 7 }, 261, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p frameParams
			tt.set(&p)
			var frame [FrameSize]byte
			p.pack(&frame)
			for bit := 4; bit < 8*FrameSize; bit++ {
				on := frame[bit/8]>>(7-bit%8)&1 == 1
				want := bit >= tt.offset && bit < tt.offset+tt.width
				if on != want {
					t.Fatalf("bit %d is %v, want %v; frame % X", bit, on, want, frame)
				}
			}
		})
	}
}

// TestReset: a coder reset after some speech codes the next frames exactly
// as a new one does.
func TestReset(t *testing.T) {
	pcm := speechLike(8*FrameSamples, 11)
	first, rest := pcm[:5*FrameSamples], pcm[5*FrameSamples:]
	enc := NewEncoder()
	if _, err := enc.Encode(nil, first); err != nil {
		t.Fatal(err)
	}
	enc.Reset()
	got, err := enc.Encode(nil, rest)
	if err != nil {
		t.Fatal(err)
	}
	want, err := NewEncoder().Encode(nil, rest)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Error("a reset encoder codes differently from a new one")
	}
	frames, err := NewEncoder().Encode(nil, pcm)
	if err != nil {
		t.Fatal(err)
	}
	dec := NewDecoder()
	if _, err := dec.Decode(nil, frames[:5*FrameSize]); err != nil {
		t.Fatal(err)
	}
	dec.Reset()
	gotPCM, err := dec.Decode(nil, frames[5*FrameSize:])
	if err != nil {
		t.Fatal(err)
	}
	wantPCM, err := NewDecoder().Decode(nil, frames[5*FrameSize:])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotPCM, wantPCM) {
		t.Error("a reset decoder decodes differently from a new one")
	}
}

func TestNoAllocations(t *testing.T) {
	pcm := speechLike(FrameSamples, 5)
	enc, dec := NewEncoder(), NewDecoder()
	payload := make([]byte, 0, FrameSize)
	out := make([]int16, 0, FrameSamples)
	if n := testing.AllocsPerRun(100, func() {
		payload, _ = enc.Encode(payload[:0], pcm)
	}); n != 0 {
		t.Errorf("Encode allocates %v times per frame", n)
	}
	if n := testing.AllocsPerRun(100, func() {
		out, _ = dec.Decode(out[:0], payload)
	}); n != 0 {
		t.Errorf("Decode allocates %v times per frame", n)
	}
}

func BenchmarkEncodeFrame(b *testing.B) {
	pcm := speechLike(50*FrameSamples, 6)
	enc := NewEncoder()
	payload := make([]byte, 0, FrameSize)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := i % 50 * FrameSamples
		payload, _ = enc.Encode(payload[:0], pcm[f:f+FrameSamples])
	}
}

func BenchmarkDecodeFrame(b *testing.B) {
	payload, _ := NewEncoder().Encode(nil, speechLike(50*FrameSamples, 6))
	dec := NewDecoder()
	out := make([]int16, 0, FrameSamples)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		f := i % 50 * FrameSize
		out, _ = dec.Decode(out[:0], payload[f:f+FrameSize])
	}
}

func FuzzDecode(f *testing.F) {
	good, _ := NewEncoder().Encode(nil, speechLike(2*FrameSamples, 7))
	f.Add(good)
	f.Add(good[:FrameSize])
	f.Add(good[:10])
	f.Add([]byte{})
	f.Add(make([]byte, FrameSize))
	f.Fuzz(func(t *testing.T, payload []byte) {
		dec := NewDecoder()
		n, err := dec.Samples(payload)
		out, derr := dec.Decode(nil, payload)
		if (err == nil) != (derr == nil) {
			t.Fatalf("Samples error %v but Decode error %v", err, derr)
		}
		if err != nil {
			if !errors.Is(err, ErrMalformedFrame) || !errors.Is(derr, ErrMalformedFrame) {
				t.Fatalf("errors %v, %v do not wrap ErrMalformedFrame", err, derr)
			}
			return
		}
		if len(out) != n || n != len(payload)/FrameSize*FrameSamples {
			t.Fatalf("%d-byte payload: Samples %d, Decode gave %d", len(payload), n, len(out))
		}
		for i, s := range out {
			if s&7 != 0 {
				t.Fatalf("sample %d = %d is not a 13-bit value in 16 bits", i, s)
			}
		}
	})
}

// FuzzEncode feeds the encoder arbitrary samples, extremes included: it must
// never panic, and its frames must decode.
func FuzzEncode(f *testing.F) {
	f.Add([]byte{0x00, 0x80, 0xFF, 0x7F})
	f.Add(make([]byte, 2*FrameSamples))
	f.Fuzz(func(t *testing.T, raw []byte) {
		pcm := make([]int16, (len(raw)/2+FrameSamples-1)/FrameSamples*FrameSamples)
		for i := range len(raw) / 2 {
			pcm[i] = int16(raw[2*i]) | int16(raw[2*i+1])<<8
		}
		// Repeat the input so the encoder's state carries it across frames.
		enc := NewEncoder()
		var payload []byte
		for range 3 {
			var err error
			if payload, err = enc.Encode(payload, pcm); err != nil {
				t.Fatal(err)
			}
		}
		if len(payload) != 3*len(pcm)/FrameSamples*FrameSize {
			t.Fatalf("%d samples gave %d bytes", len(pcm), len(payload))
		}
		if _, err := NewDecoder().Decode(nil, payload); err != nil {
			t.Fatalf("our own frames do not decode: %v", err)
		}
	})
}
