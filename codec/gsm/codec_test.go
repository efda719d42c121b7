package gsm_test

import (
	"bytes"
	"math"
	"testing"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/codec/gsm"
)

// The coders satisfy the registry's contracts.
var (
	_ codec.Encoder = (*gsm.Encoder)(nil)
	_ codec.Decoder = (*gsm.Decoder)(nil)
)

func TestCodecEntry(t *testing.T) {
	c, err := codec.Default().ByName("gsm")
	if err != nil {
		t.Fatalf("the default registry lacks GSM: %v", err)
	}
	if c.Name != "GSM" || c.PayloadType != 3 || c.ClockRate != 8000 || c.FrameSamples != gsm.FrameSamples {
		t.Fatalf("registry entry %+v, want GSM, payload type 3, 8000 Hz, %d-sample frames", c, gsm.FrameSamples)
	}
	if byPT, err := codec.Default().ByPayloadType(3); err != nil || byPT.Name != "GSM" {
		t.Fatalf("payload type 3: %+v, %v", byPT, err)
	}
	pcm := make([]int16, 3*gsm.FrameSamples)
	for i := range pcm {
		pcm[i] = int16(6000 * math.Sin(2*math.Pi*330*float64(i)/8000))
	}
	payload, err := c.NewEncoder().Encode(nil, pcm)
	if err != nil {
		t.Fatal(err)
	}
	want, err := gsm.NewEncoder().Encode(nil, pcm)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(payload, want) {
		t.Fatal("the registry's encoder codes differently from NewEncoder's")
	}
	dec := c.NewDecoder()
	if n, err := dec.Samples(payload); err != nil || n != len(pcm) {
		t.Fatalf("Samples = %d, %v; want %d, nil", n, err, len(pcm))
	}
	if out, err := dec.Decode(nil, payload); err != nil || len(out) != len(pcm) {
		t.Fatalf("Decode gave %d samples, %v; want %d", len(out), err, len(pcm))
	}
}
