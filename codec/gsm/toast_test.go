package gsm

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/internal/testtool"
)

// These tests hold our codec to libgsm's toast and untoast (libgsm-tools), the
// implementation most GSM files and RTP streams come from: for the same input
// in its default, standard-conforming mode, the same bytes out.

// rawBytes renders pcm the way toast -l reads it: 16-bit, host byte order.
func rawBytes(pcm []int16) []byte {
	b := make([]byte, 2*len(pcm))
	for i, s := range pcm {
		binary.NativeEndian.PutUint16(b[2*i:], uint16(s))
	}
	return b
}

// rawSamples parses what untoast -l writes.
func rawSamples(t testing.TB, b []byte) []int16 {
	t.Helper()
	if len(b)%2 != 0 {
		t.Fatalf("raw audio of %d bytes ends in half a sample", len(b))
	}
	pcm := make([]int16, len(b)/2)
	for i := range pcm {
		pcm[i] = int16(binary.NativeEndian.Uint16(b[2*i:]))
	}
	return pcm
}

// runTool runs a program with stdin and returns its standard output.
func runTool(t testing.TB, path string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %v: %v\n%s", filepath.Base(path), args, err, stderr.Bytes())
	}
	return out
}

// toast encodes pcm with libgsm.
func toast(t testing.TB, pcm []int16) []byte {
	t.Helper()
	return runTool(t, testtool.Require(t, "toast", "libgsm-tools"), rawBytes(pcm), "-l", "-c")
}

// untoast decodes frames with libgsm.
func untoast(t testing.TB, frames []byte) []int16 {
	t.Helper()
	return rawSamples(t, runTool(t, testtool.Require(t, "untoast", "libgsm-tools"), frames, "-l", "-c"))
}

// padToFrames appends zeros up to a whole number of frames, as toast does.
func padToFrames(pcm []int16) []int16 {
	if r := len(pcm) % FrameSamples; r != 0 {
		pcm = append(pcm, make([]int16, FrameSamples-r)...)
	}
	return pcm
}

func sine(freq, amplitude float64, samples int) []int16 {
	pcm := make([]int16, samples)
	for i := range pcm {
		pcm[i] = clip(amplitude * math.Sin(2*math.Pi*freq*float64(i)/8000))
	}
	return pcm
}

func clip(v float64) int16 {
	return int16(max(math.MinInt16, min(math.MaxInt16, math.Round(v))))
}

// speechLike is harmonics of a gliding pitch under a syllabic envelope, with
// pauses: voiced-speech structure the long-term predictor locks onto.
func speechLike(samples int, seed uint64) []int16 {
	rng := rand.New(rand.NewPCG(seed, 1))
	pcm := make([]int16, samples)
	phase := 0.0
	for i := range pcm {
		tsec := float64(i) / 8000
		pitch := 110 + 60*math.Sin(2*math.Pi*0.6*tsec)
		phase += 2 * math.Pi * pitch / 8000
		envelope := math.Max(0, math.Sin(2*math.Pi*2.5*tsec))
		v := 0.0
		for h := 1.0; h <= 12; h++ {
			v += math.Sin(h*phase) / h
		}
		pcm[i] = clip(9000*envelope*v + 200*rng.NormFloat64())
	}
	return pcm
}

func whiteNoise(samples int, amplitude float64, seed uint64) []int16 {
	rng := rand.New(rand.NewPCG(seed, 2))
	pcm := make([]int16, samples)
	for i := range pcm {
		pcm[i] = clip(amplitude * (2*rng.Float64() - 1))
	}
	return pcm
}

func square(period, samples int, high, low int16) []int16 {
	pcm := make([]int16, samples)
	for i := range pcm {
		if i%period < period/2 {
			pcm[i] = high
		} else {
			pcm[i] = low
		}
	}
	return pcm
}

func constant(v int16, samples int) []int16 {
	pcm := make([]int16, samples)
	for i := range pcm {
		pcm[i] = v
	}
	return pcm
}

// everyValue is each int16 value once, as a rising ramp.
func everyValue() []int16 {
	pcm := make([]int16, 0, 1<<16)
	for v := math.MinInt16; v <= math.MaxInt16; v++ {
		pcm = append(pcm, int16(v))
	}
	return pcm
}

func impulses(every, samples int, height int16) []int16 {
	pcm := make([]int16, samples)
	for i := 0; i < samples; i += every {
		pcm[i] = height
		height = -height
	}
	return pcm
}

// espeakSpeech synthesises a sentence with espeak-ng and converts it with
// sox to 8 kHz mono 16-bit.
func espeakSpeech(t *testing.T) []int16 {
	t.Helper()
	espeak := testtool.Require(t, "espeak-ng", "espeak-ng")
	sox := testtool.Require(t, "sox", "sox")
	dir := t.TempDir()
	wide, narrow := filepath.Join(dir, "wide.wav"), filepath.Join(dir, "speech.wav")
	runTool(t, espeak, nil, "-v", "en-gb", "-s", "170", "-w", wide,
		"The quick brown fox jumps over the lazy dog. GSM speech, twenty milliseconds at a time.")
	runTool(t, sox, nil, wide, "-r", "8000", "-c", "1", "-b", "16", narrow)
	pcm, err := audio.ReadWAVFile(narrow)
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

// testSignals is the material every interop test runs over.
func testSignals(t *testing.T) []struct {
	name string
	pcm  []int16
} {
	const n = 50 * FrameSamples // one second
	signals := []struct {
		name string
		pcm  []int16
	}{
		{"silence", make([]int16, n)},
		{"speech-like", speechLike(4*n, 7)},
		{"tone 440 Hz", sine(440, 8000, n)},
		{"tone 1 kHz near full scale", sine(1000, 32000, n)},
		{"tone 3.9 kHz", sine(3900, 12000, n)},
		{"quiet tone", sine(300, 20, n)},
		{"white noise full scale", whiteNoise(n, 32768, 1)},
		{"white noise moderate", whiteNoise(n, 3000, 2)},
		{"clipped sine", sine(200, 90000, n)},
		{"square 100 Hz full scale", square(80, n, math.MaxInt16, math.MinInt16)},
		{"square 4 kHz full scale", square(2, n, math.MaxInt16, math.MinInt16)},
		{"square 1 kHz", square(8, n, 16000, -16000)},
		{"DC positive full scale", constant(math.MaxInt16, n)},
		{"DC negative full scale", constant(math.MinInt16, n)},
		{"impulses", impulses(57, n, math.MaxInt16)},
		// A full-scale step after the offset filter has settled drives the
		// preprocessed signal to its limit, where the autocorrelation's
		// rescaling overflows 16 bits.
		{"step up after long DC", append(constant(math.MinInt16, 20000), constant(math.MaxInt16, 4000)...)},
		{"step down after long DC", append(constant(math.MaxInt16, 20000), constant(math.MinInt16, 4000)...)},
		{"every value ramp", everyValue()},
	}
	if pcm, err := audio.ReadWAVFile("../../testdata/speech.wav"); err == nil {
		signals = append(signals, struct {
			name string
			pcm  []int16
		}{"bundled speech", pcm})
	} else if !os.IsNotExist(err) {
		t.Fatal(err)
	}
	signals = append(signals, struct {
		name string
		pcm  []int16
	}{"espeak-ng speech", nil}) // filled in lazily: it may skip
	return signals
}

func TestEncoderMatchesToast(t *testing.T) {
	for _, sig := range testSignals(t) {
		t.Run(sig.name, func(t *testing.T) {
			pcm := sig.pcm
			if pcm == nil {
				pcm = espeakSpeech(t)
			}
			pcm = padToFrames(pcm)
			want := toast(t, pcm)
			got, err := NewEncoder().Encode(nil, pcm)
			if err != nil {
				t.Fatal(err)
			}
			compareFrames(t, got, want)
		})
	}
}

func TestDecoderMatchesUntoast(t *testing.T) {
	for _, sig := range testSignals(t) {
		t.Run(sig.name, func(t *testing.T) {
			pcm := sig.pcm
			if pcm == nil {
				pcm = espeakSpeech(t)
			}
			frames := toast(t, padToFrames(pcm))
			want := untoast(t, frames)
			got, err := NewDecoder().Decode(nil, frames)
			if err != nil {
				t.Fatal(err)
			}
			compareSamples(t, got, want)
		})
	}
}

// TestDecoderMatchesUntoastOnArbitraryFrames decodes random frames (any
// parameters, out-of-range LTP lags included) so every decoder path is
// exercised, not just those toast's encoder produces. Each stream starts a
// fresh decoder; half of them open with an out-of-range lag, which the
// decoder must replace with the spec's initial lag of 40.
func TestDecoderMatchesUntoastOnArbitraryFrames(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for stream := range 20 {
		frames := make([]byte, 25*FrameSize)
		for i := range frames {
			frames[i] = byte(rng.Uint32())
		}
		for f := 0; f < len(frames); f += FrameSize {
			frames[f] = frameMagic<<4 | frames[f]&0x0F
		}
		if stream%2 == 0 {
			var p frameParams
			first := (*[FrameSize]byte)(frames)
			p.unpack(first)
			p.sub[0].lag = int16(stream % minLag) // 0..38: out of range
			p.pack(first)
		}
		want := untoast(t, frames)
		got, err := NewDecoder().Decode(nil, frames)
		if err != nil {
			t.Fatal(err)
		}
		compareSamples(t, got, want)
	}
}

// TestDecodeMidStream starts a decoder at frame 50 of a stream, as a receiver
// joining late does, against untoast given the same truncated stream; and a
// decoder fed one frame per call against untoast of the whole stream.
func TestDecodeMidStream(t *testing.T) {
	const skip = 50
	frames := toast(t, speechLike(150*FrameSamples, 11))
	late := frames[skip*FrameSize:]
	got, err := NewDecoder().Decode(nil, late)
	if err != nil {
		t.Fatal(err)
	}
	compareSamples(t, got, untoast(t, late))

	dec := NewDecoder()
	var stepwise []int16
	for f := 0; f < len(frames); f += FrameSize {
		if stepwise, err = dec.Decode(stepwise, frames[f:f+FrameSize]); err != nil {
			t.Fatal(err)
		}
	}
	compareSamples(t, stepwise, untoast(t, frames))
}

// TestEncodeFrameByFrame checks the encoder carries its state across calls.
func TestEncodeFrameByFrame(t *testing.T) {
	pcm := speechLike(100*FrameSamples, 13)
	enc := NewEncoder()
	var got []byte
	for f := 0; f < len(pcm); f += FrameSamples {
		var err error
		if got, err = enc.Encode(got, pcm[f:f+FrameSamples]); err != nil {
			t.Fatal(err)
		}
	}
	compareFrames(t, got, toast(t, pcm))
}

// TestToastZeroPadsPartialFrame pins down what toast does with input that is
// not a whole number of frames, which our transcoder copies: it codes the
// remainder as a frame padded with zeros.
func TestToastZeroPadsPartialFrame(t *testing.T) {
	for _, extra := range []int{1, 77, 159} {
		pcm := speechLike(10*FrameSamples+extra, uint64(extra))
		got := toast(t, pcm)
		if len(got) != 11*FrameSize {
			t.Fatalf("%d samples: toast wrote %d bytes, want %d", len(pcm), len(got), 11*FrameSize)
		}
		want, err := NewEncoder().Encode(nil, padToFrames(pcm))
		if err != nil {
			t.Fatal(err)
		}
		compareFrames(t, got, want)
	}
}

func compareFrames(t *testing.T, got, want []byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d bytes, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			f := i / FrameSize
			t.Fatalf("first difference in frame %d (byte %d of the frame):\n got % X\nwant % X",
				f, i%FrameSize, got[f*FrameSize:][:FrameSize], want[f*FrameSize:][:FrameSize])
		}
	}
}

func compareSamples(t *testing.T, got, want []int16) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d samples, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("first difference at sample %d (frame %d): got %d, want %d", i, i/FrameSamples, got[i], want[i])
		}
	}
}
