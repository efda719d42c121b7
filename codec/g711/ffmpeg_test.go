package g711

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// These tests check our codec against ffmpeg's pcm_mulaw / pcm_alaw, which is
// what most tools in the wild use to make and play G.711 files.
//
// Decoding agrees exactly. Encoding cannot: ffmpeg quantises to the nearest
// reconstruction value of the input's 14 most significant bits in two's
// complement, whereas ITU-T G.711 fixes decision values in its tables, and at
// each segment end the decision value is not the midpoint between the two
// reconstruction values (the step doubles there). The ITU-T G.191 reference
// code, which we follow, also folds negative inputs by ones' complement. For
// example G.711 Table 2a puts 14-bit 4063..4318 in mu-law code 0x8F, but ffmpeg
// codes 16-bit 16376 (14-bit 4094) as 0x90 because 15996 is nearer than 16764.
// So the encoder test pins ffmpeg down to exactly that nearest-value rule, while
// TestEncodeFollowsG711Tables pins our encoder to the G.711 tables.

// nearestValueEncoder returns the quantiser ffmpeg implements: truncate to 14
// bits (arithmetic shift), then pick the code of the same sign whose
// reconstruction value is nearest, ties going to the larger magnitude.
func nearestValueEncoder(decode func(byte) int16) func(int16) byte {
	return func(s int16) byte {
		m14 := int(s) >> 2
		negative := m14 < 0
		target := 4 * abs(m14)
		best, bestDist, bestValue := byte(0), math.MaxInt, 0
		for code := range 256 {
			if positive := code&0x80 != 0; positive == negative { // bit 7 is the sign in both laws
				continue
			}
			v := int(decode(byte(code)))
			d := abs(abs(v) - target)
			if d < bestDist || d == bestDist && abs(v) > bestValue {
				best, bestDist, bestValue = byte(code), d, abs(v)
			}
		}
		return best
	}
}

func requireFFmpeg(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not on PATH; install it (apt-get install ffmpeg) to run the G.711 interop tests")
	}
	return path
}

func runFFmpeg(t *testing.T, ffmpeg string, args ...string) {
	t.Helper()
	cmd := exec.Command(ffmpeg, append([]string{"-hide_banner", "-loglevel", "error", "-nostdin", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

const speechSamples = 16000

// interopSignal is every int16 value as a ramp, then white noise, then a
// speech-like signal: harmonics of a gliding pitch under a syllabic envelope.
func interopSignal() []int16 {
	pcm := allSamples()
	rng := rand.New(rand.NewPCG(5, 6))
	for range 8000 {
		pcm = append(pcm, int16(rng.IntN(1<<16)))
	}
	phase := 0.0
	for i := range speechSamples {
		tsec := float64(i) / 8000
		pitch := 120 + 40*math.Sin(2*math.Pi*0.7*tsec)
		phase += 2 * math.Pi * pitch / 8000
		envelope := 0.5 * (1 - math.Cos(2*math.Pi*4*tsec)) // 4 syllables/s
		v := 0.0
		for h := 1.0; h <= 20; h++ {
			v += math.Sin(h*phase) / h
		}
		pcm = append(pcm, int16(math.Max(-32768, math.Min(32767, 12000*envelope*v))))
	}
	return pcm
}

func TestFFmpegDecodesAllCodesLikeUs(t *testing.T) {
	ffmpeg := requireFFmpeg(t)
	dir := t.TempDir()
	codes := make([]byte, 256)
	for i := range codes {
		codes[i] = byte(i)
	}
	tests := []struct {
		format string
		decode func(byte) int16
	}{
		{"mulaw", DecodeMulaw},
		{"alaw", DecodeAlaw},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			in := filepath.Join(dir, tt.format+".codes")
			out := filepath.Join(dir, tt.format+".raw")
			if err := os.WriteFile(in, codes, 0o600); err != nil {
				t.Fatal(err)
			}
			runFFmpeg(t, ffmpeg, "-f", tt.format, "-ar", "8000", "-ac", "1", "-i", in, "-f", "s16le", out)
			raw, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			if len(raw) != 2*len(codes) {
				t.Fatalf("ffmpeg decoded %d codes to %d bytes", len(codes), len(raw))
			}
			for i, c := range codes {
				want := int16(binary.LittleEndian.Uint16(raw[2*i:]))
				if got := tt.decode(c); got != want {
					t.Errorf("decode(%#02x) = %d, ffmpeg gives %d", c, got, want)
				}
			}
		})
	}
}

func TestFFmpegEncoderIsNearestValueQuantiser(t *testing.T) {
	ffmpeg := requireFFmpeg(t)
	dir := t.TempDir()
	pcm := interopSignal()
	raw := make([]byte, 0, 2*len(pcm))
	for _, s := range pcm {
		raw = binary.LittleEndian.AppendUint16(raw, uint16(s))
	}
	in := filepath.Join(dir, "in.raw")
	if err := os.WriteFile(in, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		format string
		decode func(byte) int16
		append func([]byte, []int16) []byte
	}{
		{"mulaw", DecodeMulaw, AppendMulaw},
		{"alaw", DecodeAlaw, AppendAlaw},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			out := filepath.Join(dir, "out."+tt.format)
			runFFmpeg(t, ffmpeg, "-f", "s16le", "-ar", "8000", "-ac", "1", "-i", in, "-f", tt.format, out)
			theirs, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			ours := tt.append(nil, pcm)
			if len(theirs) != len(ours) {
				t.Fatalf("ffmpeg wrote %d codes for %d samples", len(theirs), len(pcm))
			}
			model := nearestValueEncoder(tt.decode)
			differ, differSpeech := 0, 0
			for i, s := range pcm {
				if theirs[i] != model(s) {
					t.Errorf("sample %d = %d: ffmpeg codes %#02x, nearest-value model %#02x (ours %#02x)", i, s, theirs[i], model(s), ours[i])
				}
				if ours[i] != theirs[i] {
					differ++
					if i >= len(pcm)-speechSamples {
						differSpeech++
					}
				}
			}
			t.Logf("%s: ffmpeg codes %d of %d samples (%.2f%%) differently from G.711's decision values; %d of %d speech-like samples",
				tt.format, differ, len(pcm), 100*float64(differ)/float64(len(pcm)), differSpeech, speechSamples)
		})
	}
}
