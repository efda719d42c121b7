package codec

import (
	"github.com/spurtvoip/spurt/codec/g711"
	"github.com/spurtvoip/spurt/codec/gsm"
)

// Default returns a fresh registry holding the codecs every Spurt endpoint
// supports, in order of preference: PCMU (payload type 0) and PCMA (payload
// type 8), ITU-T G.711 mu-law and A-law at 8000 Hz (RFC 3551 section 4.5.14),
// and GSM (payload type 3), GSM 06.10 full rate: 33-byte frames of 160
// samples (RFC 3551 section 4.5.8).
func Default() *Registry {
	// The two entries are distinct in name and payload type, so this cannot
	// fail NewRegistry's checks; TestDefault asserts as much.
	return &Registry{codecs: []Codec{
		{
			Name:         "PCMU",
			PayloadType:  0,
			ClockRate:    8000,
			FrameSamples: 1,
			NewEncoder:   func() Encoder { return mulawEncoder{} },
			NewDecoder:   func() Decoder { return mulawDecoder{} },
		},
		{
			Name:         "PCMA",
			PayloadType:  8,
			ClockRate:    8000,
			FrameSamples: 1,
			NewEncoder:   func() Encoder { return alawEncoder{} },
			NewDecoder:   func() Decoder { return alawDecoder{} },
		},
		{
			Name:         "GSM",
			PayloadType:  3,
			ClockRate:    8000,
			FrameSamples: gsm.FrameSamples,
			NewEncoder:   func() Encoder { return gsm.NewEncoder() },
			NewDecoder:   func() Decoder { return gsm.NewDecoder() },
		},
	}}
}

// G.711 is stateless and codes one byte per sample, so every length is a
// whole number of frames and the coders are empty structs.

type mulawEncoder struct{}

func (mulawEncoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	return g711.AppendMulaw(dst, pcm), nil
}

type mulawDecoder struct{}

func (mulawDecoder) Decode(dst []int16, payload []byte) ([]int16, error) {
	return g711.AppendDecodedMulaw(dst, payload), nil
}

func (mulawDecoder) Samples(payload []byte) (int, error) { return len(payload), nil }

type alawEncoder struct{}

func (alawEncoder) Encode(dst []byte, pcm []int16) ([]byte, error) {
	return g711.AppendAlaw(dst, pcm), nil
}

type alawDecoder struct{}

func (alawDecoder) Decode(dst []int16, payload []byte) ([]int16, error) {
	return g711.AppendDecodedAlaw(dst, payload), nil
}

func (alawDecoder) Samples(payload []byte) (int, error) { return len(payload), nil }
