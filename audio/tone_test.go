package audio

import (
	"errors"
	"io"
	"math"
	"slices"
	"testing"
	"time"
)

// goertzelPower is the power of pcm at freq (Hz), normalised so a sine of
// amplitude a gives about a*a/4... only ratios are compared.
func goertzelPower(pcm []int16, freq float64) float64 {
	w := 2 * math.Pi * freq / SampleRate
	coeff := 2 * math.Cos(w)
	var s1, s2 float64
	for _, x := range pcm {
		s := float64(x) + coeff*s1 - s2
		s2, s1 = s1, s
	}
	return s1*s1 + s2*s2 - coeff*s1*s2
}

func TestTone(t *testing.T) {
	tests := []struct {
		name      string
		freq      float64
		amplitude int16
		duration  time.Duration
		samples   int // -1: endless
	}{
		{"1 kHz 1 s", 1000, 8000, time.Second, 8000},
		{"440 Hz 30 ms", 440, 20000, 30 * time.Millisecond, 240},
		{"rounded duration", 300, 1000, 20*time.Millisecond + 70*time.Microsecond, 161},
		{"full scale", 1234.5, math.MaxInt16, 100 * time.Millisecond, 800},
		{"negative amplitude", 500, math.MinInt16, 100 * time.Millisecond, 800},
		{"endless", 2000, 100, 0, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := NewTone(tt.freq, tt.amplitude, tt.duration)
			var pcm []int16
			frame := make([]int16, FrameSamples)
			limit := 200
			var err error
			for range limit {
				if err = src.ReadFrame(frame); err != nil {
					break
				}
				pcm = append(pcm, frame...)
			}
			if tt.samples < 0 {
				if err != nil || len(pcm) != limit*FrameSamples {
					t.Fatalf("endless tone stopped after %d samples: %v", len(pcm), err)
				}
			} else {
				if err != io.EOF {
					t.Fatalf("end: %v, want io.EOF", err)
				}
				want := (tt.samples + FrameSamples - 1) / FrameSamples * FrameSamples
				if len(pcm) != want {
					t.Fatalf("%d samples in frames, want %d", len(pcm), want)
				}
				if slices.ContainsFunc(pcm[tt.samples:], func(s int16) bool { return s != 0 }) {
					t.Error("padding after the tone's end is not silence")
				}
				pcm = pcm[:tt.samples]
			}
			peak := 0
			for _, s := range pcm {
				peak = max(peak, abs(int(s)))
			}
			wantPeak := abs(int(tt.amplitude)) // -32768 peaks at -32768, +32767 after clipping
			if float64(peak) < 0.95*float64(wantPeak) || peak > wantPeak {
				t.Errorf("peak %d, want about %d", peak, wantPeak)
			}
			on := goertzelPower(pcm, tt.freq)
			off := goertzelPower(pcm, tt.freq*1.5)
			if on < 100*off {
				t.Errorf("power at %v Hz only %.1f times that at %v Hz", tt.freq, on/off, tt.freq*1.5)
			}
			if err := src.Close(); err != nil {
				t.Fatal(err)
			}
			if err := src.ReadFrame(frame); !errors.Is(err, ErrClosed) {
				t.Errorf("read after Close: %v", err)
			}
		})
	}
}

func TestToneOddInputs(t *testing.T) {
	frame := make([]int16, FrameSamples)
	if err := NewTone(440, 1000, -time.Second).ReadFrame(frame); err != io.EOF {
		t.Errorf("negative duration: %v, want io.EOF", err)
	}
	for _, f := range []float64{math.NaN(), math.Inf(1), math.Inf(-1), 0} {
		src := NewTone(f, 1000, time.Second)
		for range 3 {
			frame[0] = 1
			if err := src.ReadFrame(frame); err != nil {
				t.Fatal(err)
			}
			if slices.ContainsFunc(frame, func(s int16) bool { return s != 0 }) {
				t.Errorf("frequency %v: not silence", f)
			}
		}
	}
}

func TestSilence(t *testing.T) {
	src := Silence(25 * time.Millisecond)
	frame := make([]int16, FrameSamples)
	for i := range frame {
		frame[i] = 99
	}
	for range 2 {
		if err := src.ReadFrame(frame); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(frame, func(s int16) bool { return s != 0 }) {
			t.Error("silence is not zero")
		}
	}
	if err := src.ReadFrame(frame); err != io.EOF {
		t.Errorf("after 25 ms: %v, want io.EOF", err)
	}
}

func TestToneDoesNotAllocate(t *testing.T) {
	src := NewTone(440, 1000, 0)
	frame := make([]int16, FrameSamples)
	if allocs := testing.AllocsPerRun(100, func() { _ = src.ReadFrame(frame) }); allocs != 0 {
		t.Errorf("%v allocations per frame", allocs)
	}
}

func BenchmarkToneFrame(b *testing.B) {
	src := NewTone(440, 1000, 0)
	frame := make([]int16, FrameSamples)
	b.ReportAllocs()
	for b.Loop() {
		_ = src.ReadFrame(frame)
	}
}

func TestMemorySource(t *testing.T) {
	pcm := ramp(330)
	src := NewMemorySource(pcm)
	pcm[0] = 12345 // the source holds its own copy
	got, frames, err := readAll(t, src, 10)
	if err != io.EOF || frames != 3 {
		t.Fatalf("%d frames then %v, want 3 then io.EOF", frames, err)
	}
	if want := ramp(330); !slices.Equal(got[:330], want) {
		t.Error("samples differ")
	}
	if slices.ContainsFunc(got[330:], func(s int16) bool { return s != 0 }) {
		t.Error("last frame not zero-padded")
	}
	if err := src.ReadFrame(make([]int16, 10)); err != io.EOF {
		t.Errorf("second read at end: %v", err)
	}
	_ = src.Close()
	if err := src.ReadFrame(make([]int16, 10)); !errors.Is(err, ErrClosed) {
		t.Errorf("read after Close: %v", err)
	}
	if _, frames, err := readAll(t, NewMemorySource(nil), 3); frames != 0 || err != io.EOF {
		t.Errorf("empty source: %d frames, %v", frames, err)
	}
}

func TestMemorySink(t *testing.T) {
	var sink MemorySink // zero value is ready
	frame := ramp(160)
	if err := sink.WriteSamples(frame); err != nil {
		t.Fatal(err)
	}
	frame[0] = 4242 // the sink keeps its own copy
	if err := NewMemorySink().WriteSamples(nil); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { // concurrent reader: run with -race
		defer close(done)
		for range 100 {
			_ = sink.Samples()
		}
	}()
	for range 100 {
		_ = sink.WriteSamples(frame[:1])
	}
	<-done
	got := sink.Samples()
	if len(got) != 260 || !slices.Equal(got[:160], ramp(160)) {
		t.Errorf("recorded %d samples, first frame changed: %v", len(got), got[0])
	}
	got[1] = 7
	if sink.Samples()[1] == 7 {
		t.Error("Samples returned the sink's own slice")
	}
	_ = sink.Close()
	if err := sink.WriteSamples(frame); !errors.Is(err, ErrClosed) {
		t.Errorf("write after Close: %v", err)
	}
	if len(sink.Samples()) != 260 {
		t.Error("Samples changed after Close")
	}
}

func TestInterfaces(t *testing.T) {
	var _ Source = (*WAVReader)(nil)
	var _ Source = (*MemorySource)(nil)
	var _ Sink = (*WAVWriter)(nil)
	var _ Sink = (*MemorySink)(nil)
}
