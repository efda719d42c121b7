// Package codec owns the speech codecs Spurt can negotiate: a registry keyed by
// RTP payload type and SDP encoding name, and the Encoder/Decoder contracts
// every codec implements. Codecs are clockless and allocation-free per frame.
package codec

import (
	"errors"
	"fmt"
	"strings"
)

// ErrUnknownCodec is returned (wrapped) for a name or payload type the registry does not hold.
var ErrUnknownCodec = errors.New("unknown codec")

// An Encoder turns 16-bit linear PCM into a codec payload. Implementations may
// keep state between frames (GSM does), so use one Encoder per stream.
type Encoder interface {
	// Encode appends the encoding of pcm to dst and returns the extended slice.
	// len(pcm) must be a multiple of the codec's FrameSamples.
	Encode(dst []byte, pcm []int16) ([]byte, error)
}

// A Decoder turns a codec payload back into 16-bit linear PCM. Use one Decoder per stream.
type Decoder interface {
	// Decode appends the samples of payload to dst and returns the extended slice.
	Decode(dst []int16, payload []byte) ([]int16, error)
	// Samples reports how many samples payload decodes to, or an error if
	// payload is not a whole number of frames.
	Samples(payload []byte) (int, error)
}

// maxPayloadType is the largest RTP payload type (a 7-bit field).
const maxPayloadType = 127

// Codec describes one codec: its names on the wire and how to make its coders.
type Codec struct {
	Name         string // SDP encoding name, e.g. "PCMU" (RFC 3551)
	PayloadType  uint8  // static RTP payload type (RFC 3551 table 4)
	ClockRate    int    // RTP clock rate in Hz
	FrameSamples int    // samples per encoded frame: 1 for sample codecs such as G.711, 160 for GSM
	NewEncoder   func() Encoder
	NewDecoder   func() Decoder
}

// Registry holds the codecs one endpoint supports. It is immutable once built.
type Registry struct {
	codecs []Codec
}

// NewRegistry builds a registry from codecs; names (case-insensitive) and payload
// types must be unique, names non-empty and payload types at most 127 (RTP has
// seven bits for them, RFC 3550 section 5.1).
func NewRegistry(codecs ...Codec) (*Registry, error) {
	r := &Registry{}
	for _, c := range codecs {
		if c.Name == "" {
			return nil, fmt.Errorf("codec registry: codec with payload type %d has no name", c.PayloadType)
		}
		if c.PayloadType > maxPayloadType {
			return nil, fmt.Errorf("codec registry: %s: payload type %d is not a 7-bit RTP payload type", c.Name, c.PayloadType)
		}
		if _, err := r.ByName(c.Name); err == nil {
			return nil, fmt.Errorf("codec registry: duplicate name %q", c.Name)
		}
		if _, err := r.ByPayloadType(c.PayloadType); err == nil {
			return nil, fmt.Errorf("codec registry: duplicate payload type %d", c.PayloadType)
		}
		r.codecs = append(r.codecs, c)
	}
	return r, nil
}

// ByName finds a codec by SDP encoding name, ignoring case ("pcmu" finds PCMU).
func (r *Registry) ByName(name string) (Codec, error) {
	for _, c := range r.codecs {
		if strings.EqualFold(c.Name, name) {
			return c, nil
		}
	}
	return Codec{}, fmt.Errorf("%w %q (known: %s)", ErrUnknownCodec, name, strings.Join(r.Names(), ", "))
}

// ByPayloadType finds a codec by its static RTP payload type.
func (r *Registry) ByPayloadType(pt uint8) (Codec, error) {
	for _, c := range r.codecs {
		if c.PayloadType == pt {
			return c, nil
		}
	}
	return Codec{}, fmt.Errorf("%w: payload type %d", ErrUnknownCodec, pt)
}

// Names lists the registered codecs' names, lower case, in registration order.
func (r *Registry) Names() []string {
	names := make([]string, len(r.codecs))
	for i, c := range r.codecs {
		names[i] = strings.ToLower(c.Name)
	}
	return names
}
