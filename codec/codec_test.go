package codec

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

func TestDefault(t *testing.T) {
	r := Default()
	if got, want := r.Names(), []string{"pcmu", "pcma", "gsm"}; !slices.Equal(got, want) {
		t.Fatalf("Names() = %v, want %v", got, want)
	}
	// The default set must pass the checks a hand-built registry gets.
	if _, err := NewRegistry(r.codecs...); err != nil {
		t.Fatalf("default codecs rejected by NewRegistry: %v", err)
	}
	if Default() == r || &Default().codecs[0] == &r.codecs[0] {
		t.Error("Default() shares state between calls")
	}
	tests := []struct {
		lookup      string
		name        string
		payloadType uint8
		frame       int
	}{
		{"PCMU", "PCMU", 0, 1},
		{"pcmu", "PCMU", 0, 1},
		{"PcMa", "PCMA", 8, 1},
		{"PCMA", "PCMA", 8, 1},
		{"gsm", "GSM", 3, 160},
	}
	for _, tt := range tests {
		t.Run(tt.lookup, func(t *testing.T) {
			c, err := r.ByName(tt.lookup)
			if err != nil {
				t.Fatalf("ByName(%q): %v", tt.lookup, err)
			}
			if c.Name != tt.name || c.PayloadType != tt.payloadType || c.ClockRate != 8000 || c.FrameSamples != tt.frame {
				t.Errorf("ByName(%q) = %+v", tt.lookup, c)
			}
			byPT, err := r.ByPayloadType(tt.payloadType)
			if err != nil {
				t.Fatalf("ByPayloadType(%d): %v", tt.payloadType, err)
			}
			if byPT.Name != tt.name {
				t.Errorf("ByPayloadType(%d).Name = %q, want %q", tt.payloadType, byPT.Name, tt.name)
			}
		})
	}
}

func TestUnknownCodec(t *testing.T) {
	r := Default()
	if _, err := r.ByName("G729"); !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("ByName(G729) error = %v, want ErrUnknownCodec", err)
	} else if !strings.Contains(err.Error(), "pcmu") {
		t.Errorf("ByName error %q does not list the known codecs", err)
	}
	if _, err := r.ByName(""); !errors.Is(err, ErrUnknownCodec) {
		t.Errorf("ByName(\"\") error = %v, want ErrUnknownCodec", err)
	}
	for _, pt := range []uint8{4, 9, 18, 96, 127, 255} {
		if _, err := r.ByPayloadType(pt); !errors.Is(err, ErrUnknownCodec) {
			t.Errorf("ByPayloadType(%d) error = %v, want ErrUnknownCodec", pt, err)
		}
	}
}

func TestNewRegistryRejects(t *testing.T) {
	pcmu, _ := Default().ByName("PCMU")
	pcma, _ := Default().ByName("PCMA")
	renamed := func(c Codec, name string) Codec { c.Name = name; return c }
	renumbered := func(c Codec, pt uint8) Codec { c.PayloadType = pt; return c }
	tests := []struct {
		name   string
		codecs []Codec
		want   string
	}{
		{"same name", []Codec{pcmu, renumbered(pcmu, 96)}, "duplicate name"},
		{"same name other case", []Codec{pcmu, renumbered(renamed(pcmu, "pcmu"), 96)}, "duplicate name"},
		{"same payload type", []Codec{pcmu, renamed(pcma, "X"), renamed(renumbered(pcma, 0), "Y")}, "duplicate payload type"},
		{"empty name", []Codec{renamed(pcmu, "")}, "no name"},
		{"8-bit payload type", []Codec{renumbered(pcmu, 128)}, "7-bit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewRegistry(tt.codecs...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewRegistry = %v, %v; want error containing %q", r, err, tt.want)
			}
		})
	}
	if _, err := NewRegistry(pcma, pcmu); err != nil {
		t.Errorf("distinct codecs rejected: %v", err)
	}
}

func TestG711RoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(rng.NormFloat64() * 4000)
	}
	for _, name := range []string{"PCMU", "PCMA"} {
		t.Run(name, func(t *testing.T) {
			c, err := Default().ByName(name)
			if err != nil {
				t.Fatal(err)
			}
			enc, dec := c.NewEncoder(), c.NewDecoder()
			prefix := []byte{0xAB}
			payload, err := enc.Encode(prefix, pcm)
			if err != nil {
				t.Fatal(err)
			}
			if len(payload) != 1+len(pcm) || payload[0] != 0xAB {
				t.Fatalf("Encode appended %d bytes / lost prefix", len(payload)-1)
			}
			payload = payload[1:]
			n, err := dec.Samples(payload)
			if err != nil || n != len(pcm) {
				t.Fatalf("Samples = %d, %v; want %d", n, err, len(pcm))
			}
			out, err := dec.Decode(nil, payload)
			if err != nil {
				t.Fatal(err)
			}
			if len(out) != len(pcm) {
				t.Fatalf("decoded %d samples, want %d", len(out), len(pcm))
			}
			// G.711's quantisation error is below 1/16 of the magnitude
			// (half a step of at most magnitude/16) plus the finest step.
			for i := range pcm {
				diff := math.Abs(float64(out[i]) - float64(pcm[i]))
				if limit := math.Abs(float64(pcm[i]))/16 + 16; diff > limit {
					t.Errorf("sample %d: %d came back as %d", i, pcm[i], out[i])
				}
			}
			// Re-encoding the decoded signal is lossless.
			again, _ := enc.Encode(nil, out)
			if !slices.Equal(again, payload) {
				t.Error("encode(decode(payload)) != payload")
			}
		})
	}
}

func TestG711EmptyInput(t *testing.T) {
	for _, name := range []string{"PCMU", "PCMA"} {
		c, _ := Default().ByName(name)
		dst := make([]byte, 3, 8)
		got, err := c.NewEncoder().Encode(dst, nil)
		if err != nil || len(got) != 3 || cap(got) != 8 || &got[0] != &dst[0] {
			t.Errorf("%s: Encode(dst, nil) = len %d cap %d, %v; want dst unchanged", name, len(got), cap(got), err)
		}
		if got, err := c.NewEncoder().Encode(nil, nil); err != nil || got != nil {
			t.Errorf("%s: Encode(nil, nil) = %v, %v", name, got, err)
		}
		if n, err := c.NewDecoder().Samples(nil); n != 0 || err != nil {
			t.Errorf("%s: Samples(nil) = %d, %v", name, n, err)
		}
		if out, err := c.NewDecoder().Decode(nil, nil); len(out) != 0 || err != nil {
			t.Errorf("%s: Decode(nil, nil) = %v, %v", name, out, err)
		}
	}
}

func TestG711CodersDoNotAllocate(t *testing.T) {
	pcm := make([]int16, 160)
	payload := make([]byte, 0, 160)
	out := make([]int16, 0, 160)
	for _, name := range []string{"PCMU", "PCMA"} {
		c, _ := Default().ByName(name)
		enc, dec := c.NewEncoder(), c.NewDecoder()
		allocs := testing.AllocsPerRun(100, func() {
			payload, _ = enc.Encode(payload[:0], pcm)
			_, _ = dec.Samples(payload)
			out, _ = dec.Decode(out[:0], payload)
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per frame, want 0", name, allocs)
		}
	}
}

func BenchmarkPCMUFrame(b *testing.B) {
	c, _ := Default().ByName("PCMU")
	enc, dec := c.NewEncoder(), c.NewDecoder()
	pcm := make([]int16, 160)
	for i := range pcm {
		pcm[i] = int16(i * 200)
	}
	payload := make([]byte, 0, 160)
	out := make([]int16, 0, 160)
	b.ReportAllocs()
	for b.Loop() {
		payload, _ = enc.Encode(payload[:0], pcm)
		out, _ = dec.Decode(out[:0], payload)
	}
}
