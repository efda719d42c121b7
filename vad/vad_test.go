package vad

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const frameSamples = 160 // 20 ms at 8 kHz

// amplitude returns the peak of a square wave, or the RMS of any signal,
// at level dBFS.
func amplitude(dBFS float64) float64 { return 32768 * math.Pow(10, dBFS/20) }

// tone returns n samples of a sine at freq Hz whose RMS is dBFS.
func tone(n int, freq, dBFS float64) []int16 {
	peak := amplitude(dBFS) * math.Sqrt2
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(math.Round(peak * math.Sin(2*math.Pi*freq*float64(i)/8000)))
	}
	return out
}

// noise returns n samples of white Gaussian noise whose RMS is dBFS.
func noise(rng *rand.Rand, n int, dBFS float64) []int16 {
	rms := amplitude(dBFS)
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(max(-32768, min(32767, math.Round(rng.NormFloat64()*rms))))
	}
	return out
}

// mix adds b into a, saturating.
func mix(a, b []int16) []int16 {
	for i := range a {
		a[i] = int16(max(-32768, min(32767, int32(a[i])+int32(b[i]))))
	}
	return a
}

// decide runs pcm through a fresh Detector in 20 ms frames.
func decide(t testing.TB, cfg Config, pcm []int16) []bool {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New(%+v): %v", cfg, err)
	}
	var out []bool
	for start := 0; start+frameSamples <= len(pcm); start += frameSamples {
		out = append(out, d.Speech(pcm[start:start+frameSamples]))
	}
	return out
}

// spurts renders decisions as a string of '#' (speech) and '.' (silence).
func spurts(decisions []bool) string {
	var b strings.Builder
	for _, s := range decisions {
		b.WriteByte(map[bool]byte{true: '#', false: '.'}[s])
	}
	return b.String()
}

func TestNewValidates(t *testing.T) {
	mod := func(f func(*Config)) Config { c := DefaultConfig(); f(&c); return c }
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
	}{
		{"default", DefaultConfig(), false},
		{"zero hangover", mod(func(c *Config) { c.Hangover = 0 }), false},
		{"onset 3", mod(func(c *Config) { c.Onset = 3 }), false},
		{"zero margin", mod(func(c *Config) { c.MarginDB = 0 }), false},
		{"zero config", Config{}, true},
		{"negative hangover", mod(func(c *Config) { c.Hangover = -1 }), true},
		{"zero onset", mod(func(c *Config) { c.Onset = 0 }), true},
		{"negative margin", mod(func(c *Config) { c.MarginDB = -3 }), true},
		{"NaN margin", mod(func(c *Config) { c.MarginDB = math.NaN() }), true},
		{"infinite margin", mod(func(c *Config) { c.MarginDB = math.Inf(1) }), true},
		{"positive min level", mod(func(c *Config) { c.MinLevelDB = 3 }), true},
		{"NaN min level", mod(func(c *Config) { c.MinLevelDB = math.NaN() }), true},
		{"-Inf min level", mod(func(c *Config) { c.MinLevelDB = math.Inf(-1) }), true},
	}
	for _, tc := range tests {
		d, err := New(tc.cfg)
		if (err != nil) != tc.wantErr || (err == nil) != (d != nil) {
			t.Errorf("%s: New(%+v) = %v, %v; want error %v", tc.name, tc.cfg, d, err, tc.wantErr)
		}
	}
}

func TestDigitalSilenceIsNeverSpeech(t *testing.T) {
	configs := []Config{DefaultConfig(), {Hangover: 0, Onset: 1, MarginDB: 0, MinLevelDB: -200}}
	for _, cfg := range configs {
		d, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		silence := make([]int16, frameSamples)
		for i := range 1000 {
			if d.Speech(silence) || d.Speech(nil) {
				t.Fatalf("%+v: frame %d of digital silence marked speech", cfg, i)
			}
		}
	}
}

// TestToneBurst puts a 1 kHz tone burst in various backgrounds and checks the
// decisions frame by frame: speech from the Onset-th frame of the burst to
// Hangover frames after it, silence elsewhere once the noise floor is learnt.
func TestToneBurst(t *testing.T) {
	const lead, tail = 150, 100 // frames of background before and after the burst
	tests := []struct {
		name         string
		backgroundDB float64 // 0: digital silence
		settle       int     // background frames allowed to be speech at the start
		burst        int     // burst length in frames
		hangover     int
		onset        int
	}{
		{"silence", 0, 0, 50, 10, 1},
		{"silence, no hangover", 0, 0, 50, 0, 1},
		{"silence, onset 3", 0, 0, 50, 10, 3},
		{"noise below MinLevel", -62, 0, 50, 10, 1},
		{"noise above MinLevel", -45, 120, 50, 10, 1},
		{"noise, onset 2, hangover 5", -45, 120, 50, 5, 2},
		{"click shorter than onset", 0, 0, 2, 10, 3},
		{"one-frame click", -62, 0, 1, 10, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := (lead + tc.burst + tail) * frameSamples
			pcm := make([]int16, n)
			if tc.backgroundDB != 0 {
				pcm = noise(rand.New(rand.NewPCG(1, 2)), n, tc.backgroundDB)
			}
			burst := pcm[lead*frameSamples : (lead+tc.burst)*frameSamples]
			mix(burst, tone(len(burst), 1000, -20))

			cfg := DefaultConfig()
			cfg.Hangover, cfg.Onset = tc.hangover, tc.onset
			got := decide(t, cfg, pcm)

			want := make([]bool, len(got))
			if tc.burst >= tc.onset {
				for i := lead + tc.onset - 1; i < lead+tc.burst+tc.hangover; i++ {
					want[i] = true
				}
			}
			for i := range got {
				if got[i] != want[i] && i >= tc.settle {
					t.Errorf("decisions (settle %d frames)\n got %s\nwant %s", tc.settle, spurts(got), spurts(want))
					break
				}
			}
		})
	}
}

// TestOnsetAndHangover drives the spurt state machine with loud ('#') and
// silent ('.') frames; expectations are worked out by hand from the Config docs.
func TestOnsetAndHangover(t *testing.T) {
	tests := []struct {
		onset, hangover int
		in, want        string
	}{
		{1, 0, "..#.##...###.", "..#.##...###."},
		{1, 2, "#...#.#.....#", "###.#####...#"},
		{2, 1, "#.##.#..##", "...##....#"},
		// Once a spurt is open, a single loud frame renews the hangover.
		{3, 2, "..##....###.#.....#..###", "..........#####........#"},
	}
	loud := tone(frameSamples, 700, -20)
	quiet := make([]int16, frameSamples)
	for _, tc := range tests {
		cfg := DefaultConfig()
		cfg.Onset, cfg.Hangover = tc.onset, tc.hangover
		d, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]bool, len(tc.in))
		for i := range tc.in {
			frame := quiet
			if tc.in[i] == '#' {
				frame = loud
			}
			got[i] = d.Speech(frame)
		}
		if spurts(got) != tc.want {
			t.Errorf("onset %d hangover %d, input %s:\n got %s\nwant %s", tc.onset, tc.hangover, tc.in, spurts(got), tc.want)
		}
	}
}

// TestNoiseIsLearnt feeds steady white noise and checks that it stops being
// speech once the floor has risen to it (at most 5 dB/s from MinLevel-Margin),
// also when digital silence (a muted microphone) came first.
func TestNoiseIsLearnt(t *testing.T) {
	tests := []struct {
		levelDB     float64
		silence     int // frames of digital silence before the noise
		settleFrame int // noise frame from which on no frame may be speech
	}{
		{-70, 0, 0},
		{-60, 0, 0},
		{-50, 0, 100}, // 5 dB above the bottom of the floor's range: 1 s, plus hangover
		{-40, 0, 200}, // 15 dB: 3 s
		{-25, 0, 350}, // 30 dB: 6 s
		{-10, 0, 500}, // 45 dB: 9 s
		{-50, 250, 100},
		{-40, 250, 200},
	}
	for _, tc := range tests {
		pcm := make([]int16, tc.silence*frameSamples, (tc.silence+1000)*frameSamples)
		pcm = append(pcm, noise(rand.New(rand.NewPCG(3, uint64(-tc.levelDB))), 1000*frameSamples, tc.levelDB)...)
		got := decide(t, DefaultConfig(), pcm)[tc.silence:]
		last := strings.LastIndexByte(spurts(got), '#')
		if last >= tc.settleFrame {
			t.Errorf("%v dBFS noise after %d silent frames: last speech frame %d, want none from %d on\n%s",
				tc.levelDB, tc.silence, last, tc.settleFrame, spurts(got))
		}
		t.Logf("%v dBFS noise after %d silent frames: learnt after %d frames", tc.levelDB, tc.silence, last+1)
	}
}

// espeakPCM synthesises SSML with espeak-ng and converts it with sox to 8 kHz
// 16-bit mono samples, or skips the test if either tool is missing.
func espeakPCM(t *testing.T, ssml string) []int16 {
	t.Helper()
	for _, tool := range []string{"espeak-ng", "sox"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed: %v", tool, err)
		}
	}
	dir := t.TempDir()
	wav, raw := filepath.Join(dir, "speech.wav"), filepath.Join(dir, "speech.raw")
	if out, err := exec.Command("espeak-ng", "-m", "-w", wav, ssml).CombinedOutput(); err != nil {
		t.Fatalf("espeak-ng: %v: %s", err, out)
	}
	if out, err := exec.Command("sox", wav, "-r", "8000", "-c", "1", "-b", "16", "-e", "signed", "-L", "-t", "raw", raw).CombinedOutput(); err != nil {
		t.Fatalf("sox: %v: %s", err, out)
	}
	data, err := os.ReadFile(raw)
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, len(data)/2)
	if err := binary.Read(bytes.NewReader(data[:2*len(pcm)]), binary.LittleEndian, pcm); err != nil {
		t.Fatal(err)
	}
	return pcm
}

// TestSynthesisedSpeech checks real (synthetic) speech: three sentences with
// pauses between them must give separate talk spurts, with nearly all the
// speech energy inside speech frames and the pauses left silent.
func TestSynthesisedSpeech(t *testing.T) {
	const sentences, pauseFrames = 3, 40 // 800 ms breaks
	speech := espeakPCM(t, `<speak>The quick brown fox jumps over the lazy dog. <break time="800ms"/>
		Voice over I P sends speech in small packets, twenty milliseconds each. <break time="800ms"/>
		When nobody talks, the sender stays quiet, and the network rests.</speak>`)
	const leadIn = 50 * frameSamples // one second, for the noise floor to learn from
	tests := []struct {
		name         string
		backgroundDB float64 // 0: none
	}{
		{"clean", 0},
		{"-50 dBFS noise", -50},
		{"-40 dBFS noise", -40},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pcm := make([]int16, leadIn+len(speech))
			copy(pcm[leadIn:], speech)
			if tc.backgroundDB != 0 {
				mix(pcm, noise(rand.New(rand.NewPCG(5, 6)), len(pcm), tc.backgroundDB))
			}
			cfg := DefaultConfig()
			got := decide(t, cfg, pcm)

			var total, inSpeech float64 // energy of the clean speech, so noise does not count
			speechFrames, spurtCount := 0, 0
			for i, isSpeech := range got {
				var energy float64
				if start := i*frameSamples - leadIn; start >= 0 {
					energy = meanSquare(speech[start : start+frameSamples])
				}
				total += energy
				if isSpeech {
					inSpeech += energy
					speechFrames++
					if i == 0 || !got[i-1] {
						spurtCount++
					}
				}
			}
			share := inSpeech / total
			silentFrames := len(got) - speechFrames
			t.Logf("%d spurts, %.2f%% of speech energy in speech frames, %d of %d frames silent\n%s",
				spurtCount, 100*share, silentFrames, len(got), spurts(got))
			if spurtCount < sentences {
				t.Errorf("%d talk spurts, want at least %d (one per sentence)", spurtCount, sentences)
			}
			if share < 0.95 {
				t.Errorf("%.2f%% of speech energy in speech frames, want > 95%%", 100*share)
			}
			// Each pause (a long run of near-silent frames in the clean speech)
			// must be silent once the hangover has run out.
			pauses := quietRuns(speech, -60, pauseFrames/2)
			t.Logf("pauses (frames of speech): %v", pauses)
			for _, p := range pauses {
				first, end := leadIn/frameSamples+p[0]+cfg.Hangover, leadIn/frameSamples+p[1]
				if i := strings.IndexByte(spurts(got[first:end]), '#'); i >= 0 {
					t.Errorf("pause at frames %d-%d: frame %d marked speech", first-cfg.Hangover, end, first+i)
				}
			}
			if len(pauses) < sentences-1 {
				t.Errorf("found %d pauses in the synthesised speech, want %d: test setup broken", len(pauses), sentences-1)
			}
		})
	}
}

// quietRuns returns [start, end) frame ranges of at least minFrames frames
// whose level is below levelDB.
func quietRuns(pcm []int16, levelDB float64, minFrames int) [][2]int {
	var runs [][2]int
	start := -1
	frames := len(pcm) / frameSamples
	for i := 0; i <= frames; i++ {
		quiet := i < frames && levelDB > 10*math.Log10(meanSquare(pcm[i*frameSamples:(i+1)*frameSamples])/(32768*32768)+1e-20)
		switch {
		case quiet && start < 0:
			start = i
		case !quiet && start >= 0:
			if i-start >= minFrames {
				runs = append(runs, [2]int{start, i})
			}
			start = -1
		}
	}
	return runs
}

func meanSquare(frame []int16) float64 {
	var sum float64
	for _, s := range frame {
		sum += float64(s) * float64(s)
	}
	return sum / float64(len(frame))
}

func TestSpeechZeroAllocs(t *testing.T) {
	d, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	frame := noise(rand.New(rand.NewPCG(7, 8)), frameSamples, -30)
	if allocs := testing.AllocsPerRun(1000, func() { d.Speech(frame) }); allocs != 0 {
		t.Errorf("Speech allocates %v per frame, want 0", allocs)
	}
}

func BenchmarkSpeech(b *testing.B) {
	d, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	pcm := noise(rand.New(rand.NewPCG(9, 10)), 50*frameSamples, -30)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		d.Speech(pcm[i*frameSamples : (i+1)*frameSamples])
		i = (i + 1) % 50
	}
}

// A steady tone is a signal: it stays speech for a minute, at the level of
// `--in tone:440` (peak 8000, about -15 dBFS) and quieter, at any pitch,
// while faint hum (a tone near the noise floor) is still learnt as noise.
func TestSteadyToneIsSpeech(t *testing.T) {
	const frames = 3000 // 60 s
	tests := []struct {
		freq, levelDB float64
		speech        bool
	}{
		{440, -15, true},
		{440, -30, true},
		{1000, -20, true},
		{150, -20, true},
		{3000, -20, true},
		{50, -60, false},
	}
	for _, tc := range tests {
		got := spurts(decide(t, DefaultConfig(), tone(frames*frameSamples, tc.freq, tc.levelDB)))
		if tc.speech {
			if n := strings.Count(got, "#"); n != frames {
				t.Errorf("%v Hz at %v dBFS: %d of %d frames speech, want all; first silent frame %d",
					tc.freq, tc.levelDB, n, frames, strings.IndexByte(got, '.'))
			}
		} else if strings.Contains(got[frames/2:], "#") {
			t.Errorf("%v Hz at %v dBFS: still speech after 30 s", tc.freq, tc.levelDB)
		}
	}
}

// Noise mixed with a tone is no tone: loud noise is still learnt.
func TestToneDetection(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	if !tonal(tone(frameSamples, 440, -20)) {
		t.Error("a 440 Hz sine is not tonal")
	}
	if tonal(noise(rng, frameSamples, -20)) {
		t.Error("white noise is tonal")
	}
	if tonal(mix(noise(rng, frameSamples, -20), tone(frameSamples, 440, -26))) {
		t.Error("noise with a weaker tone in it is tonal")
	}
}
