package bench

import (
	"fmt"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/media"
	"github.com/spurtvoip/spurt/signaling/negotiate"
)

// FEC scheme names, as --fec takes them (negotiate.ParseScheme reads them,
// for calls too). This file is the one place where a scheme becomes the
// media pipelines' configuration: a scheme that sends packets of a sequence
// of their own must also be known to isParity.
const (
	// FECNone sends plain audio: holes are concealed or silent (Config.DisablePLC).
	FECNone = negotiate.NameNone
	// FECRED is RFC 2198 redundant audio with one copy (red:1); red:N
	// carries N copies, up to media.MaxREDDistance.
	FECRED = negotiate.NameRED
	// FECXOR is RFC 5109 XOR parity over groups of
	// media.DefaultXORGroupSize packets (xor:4); xor:N protects groups
	// of N, fec.MinGroupSize to fec.MaxGroupSize.
	FECXOR = negotiate.NameXOR
	// FECInterleave is interleave:D, G.711 spread over groups of D packets
	// (D of 2, 4, 5 or 8). interleave:D+xor:N adds XOR parity over the
	// interleaved packets.
	FECInterleave = negotiate.NameInterleave
)

// scheme is one FEC scheme as the send and receive pipelines are configured
// for it.
type scheme struct {
	name string
	red  *media.REDConfig        // nil: no redundant audio
	xor  *media.XORConfig        // nil: no parity
	il   *media.InterleaveConfig // nil: one chunk per packet
}

// depth is how many chunks the sender holds back and sends together: the
// interleaving depth, or 1.
func (s scheme) depth() int {
	if s.il != nil {
		return s.il.Depth
	}
	return 1
}

// isParity reports whether a packet of payload type pt is one of the
// scheme's XOR parity packets, which number themselves in a sequence of
// their own.
func (s scheme) isParity(pt uint8) bool {
	return s.xor != nil && pt == s.xor.PayloadType
}

// parseScheme maps a --fec name to its configuration for the call's codec:
// both directions send the same, in the payload types a call gives its
// first codec.
func parseScheme(name string, c codec.Codec) (scheme, error) {
	s, err := negotiate.ParseScheme(name)
	if err != nil {
		return scheme{}, fmt.Errorf("bench: %w", err)
	}
	sch := scheme{name: s.String()}
	if s.RED > 0 {
		gsm, err := codec.Default().ByName(negotiate.SecondaryName)
		if err != nil {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: secondary codec: %w", name, err)
		}
		sch.red = &media.REDConfig{PayloadType: negotiate.FirstREDPayloadType, Secondary: gsm, Distance: s.RED, PeerDistance: s.RED}
	}
	if s.XOR > 0 {
		sch.xor = &media.XORConfig{PayloadType: negotiate.ULPFECPayloadType, GroupSize: s.XOR, PeerGroupSize: s.XOR}
	}
	if s.Interleave > 0 {
		if c.Name != "PCMU" && c.Name != "PCMA" {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: interleaving needs G.711 (PCMU or PCMA), not %s", name, c.Name)
		}
		sch.il = &media.InterleaveConfig{PayloadType: negotiate.FirstInterleavePayloadType, Depth: s.Interleave, PeerDepth: s.Interleave}
	}
	return sch, nil
}

// senderConfig adds the scheme's send side to cfg.
func (s scheme) senderConfig(cfg media.SenderConfig) media.SenderConfig {
	cfg.RED, cfg.XOR, cfg.Interleave = s.red, s.xor, s.il
	return cfg
}

// receiverConfig adds the scheme's receive side to cfg.
func (s scheme) receiverConfig(cfg media.ReceiverConfig) media.ReceiverConfig {
	cfg.RED, cfg.XOR, cfg.Interleave = s.red, s.xor, s.il
	return cfg
}

// packetLevel returns the scheme and the codec a packet-level run's sender
// uses: the codec, and RED's secondary, encode every frame as one fixed
// payload (see fixedPayload).
func (s scheme) packetLevel(c codec.Codec) (scheme, codec.Codec, error) {
	c, err := fixedPayload(c)
	if err != nil {
		return s, c, err
	}
	if s.red != nil {
		red := *s.red
		if red.Secondary, err = fixedPayload(red.Secondary); err != nil {
			return s, c, err
		}
		s.red = &red
	}
	return s, c, nil
}

// fixedPayload returns codec c with an encoder that encodes every frame as
// the same payload: c's own encoding of a 20 ms frame of silence. Packets
// keep c's payload sizes (every codec the benchmark runs has a fixed frame
// size), and the encoding costs a copy. Decoders are c's.
func fixedPayload(c codec.Codec) (codec.Codec, error) {
	payload, err := c.NewEncoder().Encode(nil, make([]int16, frameSamples))
	if err != nil {
		return c, fmt.Errorf("bench: codec %s: %w", c.Name, err)
	}
	c.NewEncoder = func() codec.Encoder { return fixedEncoder(payload) }
	return c, nil
}

// fixedEncoder "encodes" every frame as itself.
type fixedEncoder []byte

func (e fixedEncoder) Encode(dst []byte, _ []int16) ([]byte, error) { return append(dst, e...), nil }
