package timescale

import (
	"math"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/spurtvoip/spurt/audio"
)

const frame = 160 // 20 ms

// speech reads the bundled speech sample from the repository root.
func speech(t testing.TB) []int16 {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	pcm, err := audio.ReadWAVFile(filepath.Join(filepath.Dir(file), "..", "testdata", "speech.wav"))
	if err != nil {
		t.Fatal(err)
	}
	return pcm
}

// tones is the sum of sines at freqs, each of amplitude amp, n samples long.
func tones(n int, amp float64, freqs ...float64) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		var v float64
		for _, f := range freqs {
			v += amp * math.Sin(2*math.Pi*f*float64(i)/SampleRate)
		}
		pcm[i] = int16(math.Round(v))
	}
	return pcm
}

// call is what one Process call did.
type call struct {
	in, out []int16 // the frame in and the frame out
	change  int
}

// run feeds signal to sc in frames of size samples, wishing want samples of
// change for each (wantAt, if set, decides per frame instead), and returns
// the calls and the whole output.
func run(t testing.TB, sc *Scaler, signal []int16, size, want int, wantAt func(i int) int) ([]call, []int16) {
	t.Helper()
	var calls []call
	var all []int16
	out := make([]int16, MaxInput+MaxChange)
	for i, at := 0, 0; at < len(signal); i++ {
		in := signal[at:min(at+size, len(signal))]
		at += len(in)
		w := want
		if wantAt != nil {
			w = wantAt(i)
		}
		change, err := sc.Process(out, in, w)
		if err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
		got := append([]int16(nil), out[:len(in)+change]...)
		calls = append(calls, call{in: in, out: got, change: change})
		all = append(all, got...)
	}
	return calls, all
}

// checkCalls checks what every call must satisfy: the change has want's sign
// and is at most |want| (and MaxChange), the output is the input plus the
// change, and the rate bound holds over every run of calls.
func checkCalls(t *testing.T, calls []call, want int, rate float64) {
	t.Helper()
	for i, c := range calls {
		if len(c.out) != len(c.in)+c.change {
			t.Fatalf("call %d: %d samples out of %d in, change %d", i, len(c.out), len(c.in), c.change)
		}
		if c.change != 0 && (c.change < 0) != (want < 0) {
			t.Fatalf("call %d: change %d for want %d", i, c.change, want)
		}
		if abs(c.change) > min(abs(want), MaxChange) {
			t.Fatalf("call %d: change %d beyond want %d", i, c.change, want)
		}
	}
	checkRate(t, calls, rate)
}

// checkRate checks that over every run of calls the total change is at most
// rate times the input length plus MaxChange: the largest sum over runs of
// |change| - rate*len(in) (Kadane's maximum subarray) is at most MaxChange.
func checkRate(t *testing.T, calls []call, rate float64) {
	t.Helper()
	run, worst := 0.0, 0.0
	for i, c := range calls {
		run = max(0, run) + float64(abs(c.change)) - rate*float64(len(c.in))
		if run > worst {
			worst = run
			if worst > MaxChange+1e-6 {
				t.Fatalf("a run of calls ending at %d changed %.1f samples more than the rate allows", i, worst)
			}
		}
	}
}

// totalChange sums the changes of calls.
func totalChange(calls []call) int {
	sum := 0
	for _, c := range calls {
		sum += c.change
	}
	return sum
}

// maxJump is the largest sample-to-sample step in x.
func maxJump(x []int16) int {
	m := 0
	for i := 1; i < len(x); i++ {
		m = max(m, abs(int(x[i])-int(x[i-1])))
	}
	return m
}

// zeroCrossingFrequency estimates the frequency of a pure tone from its
// upward zero crossings, interpolated between samples.
func zeroCrossingFrequency(x []int16) float64 {
	first, last, count := -1.0, -1.0, 0
	for i := 1; i < len(x); i++ {
		if x[i-1] < 0 && x[i] >= 0 {
			at := float64(i-1) + float64(-x[i-1])/float64(int(x[i])-int(x[i-1]))
			if first < 0 {
				first = at
			} else {
				count++
			}
			last = at
		}
	}
	if count == 0 {
		return 0
	}
	return float64(count) * SampleRate / (last - first)
}

// bandPower is the mean power of x at freq: Goertzel's algorithm on
// Hann-windowed blocks of 256 ms (a main lobe of ±8 Hz), averaged.
func bandPower(x []int16, freq float64) float64 {
	const block = 2048
	w := 2 * math.Cos(2*math.Pi*freq/SampleRate)
	var sum float64
	blocks := 0
	for at := 0; at+block <= len(x); at += block / 2 {
		var s1, s2 float64
		for i, v := range x[at : at+block] {
			hann := 0.5 - 0.5*math.Cos(2*math.Pi*float64(i)/block)
			s1, s2 = hann*float64(v)+w*s1-s2, s1
		}
		sum += s1*s1 + s2*s2 - w*s1*s2
		blocks++
	}
	return sum / float64(max(blocks, 1))
}
