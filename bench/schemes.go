package bench

import (
	"fmt"
	"github.com/spurtvoip/spurt/media"
	"strconv"
	"strings"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/fec"
	"github.com/spurtvoip/spurt/quality"
)

// FEC scheme names, as --fec takes them. This file is the one place where a
// scheme name becomes rtpcall configuration: a new scheme is added to
// parseScheme (and, if it sends packets of a sequence of their own, to
// isParity).
const (
	// FECNone sends plain audio: holes are concealed or silent (Config.DisablePLC).
	FECNone = "none"
	// FECRED is RFC 2198 redundant audio with one copy (red:1); red:N
	// carries N copies, up to media.MaxREDDistance.
	FECRED = "red"
	// FECXOR is RFC 5109 XOR parity over groups of
	// media.DefaultXORGroupSize packets (xor:4); xor:N protects groups
	// of N, fec.MinGroupSize to fec.MaxGroupSize.
	FECXOR = "xor"
	// FECInterleave is interleave:D, G.711 spread over groups of D packets
	// (D of 2, 4, 5 or 8). interleave:D+xor:N adds XOR parity over the
	// interleaved packets.
	FECInterleave = "interleave"
)

// Dynamic payload types of the benchmark's FEC packets.
const (
	redPayloadType        = 96
	xorPayloadType        = 97
	interleavePayloadType = 98
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

// isParity reports whether a datagram is one of the scheme's XOR parity
// packets, which number themselves in a sequence of their own.
func (s scheme) isParity(pkt []byte) bool {
	return s.xor != nil && len(pkt) >= 2 && pkt[1]&0x7f == s.xor.PayloadType
}

// parseScheme maps a --fec name to its configuration for the call's codec.
func parseScheme(name string, c codec.Codec) (scheme, error) {
	lower := strings.ToLower(strings.TrimSpace(name))
	if ilPart, xorPart, ok := strings.Cut(lower, "+"); ok {
		if strings.HasPrefix(ilPart, FECXOR) {
			ilPart, xorPart = xorPart, ilPart
		}
		il, err := parseScheme(ilPart, c)
		if err != nil || il.il == nil {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: want interleave:D+xor:N", name)
		}
		x, err := parseScheme(xorPart, c)
		if err != nil || x.xor == nil {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: want interleave:D+xor:N", name)
		}
		return scheme{name: il.name + "+" + x.name, il: il.il, xor: x.xor}, nil
	}
	kind, arg, hasArg := strings.Cut(lower, ":")
	number := func(def, lo, hi int) (int, bool) {
		if !hasArg {
			return def, true
		}
		n, err := strconv.Atoi(arg)
		return n, err == nil && n >= lo && n <= hi
	}
	switch {
	case kind == FECNone && !hasArg:
		return scheme{name: FECNone}, nil
	case kind == FECRED:
		n, ok := number(1, 1, media.MaxREDDistance)
		if !ok {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: want red:N with N from 1 to %d", name, media.MaxREDDistance)
		}
		gsm, err := codec.Default().ByName("GSM")
		if err != nil {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: secondary codec: %w", name, err)
		}
		return scheme{
			name: fmt.Sprintf("red:%d", n),
			red:  &media.REDConfig{PayloadType: redPayloadType, Secondary: gsm, Distance: n, PeerDistance: n},
		}, nil
	case kind == FECXOR:
		n, ok := number(media.DefaultXORGroupSize, fec.MinGroupSize, fec.MaxGroupSize)
		if !ok {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: want xor:N with N from %d to %d", name, fec.MinGroupSize, fec.MaxGroupSize)
		}
		return scheme{
			name: fmt.Sprintf("xor:%d", n),
			xor:  &media.XORConfig{PayloadType: xorPayloadType, GroupSize: n, PeerGroupSize: n},
		}, nil
	case kind == FECInterleave:
		d, ok := number(0, 2, 8)
		if !hasArg || !ok || !media.ValidInterleaveDepth(d) {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: want interleave:D with D of 2, 4, 5 or 8", name)
		}
		if c.Name != "PCMU" && c.Name != "PCMA" {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: interleaving needs G.711 (PCMU or PCMA), not %s", name, c.Name)
		}
		return scheme{
			name: fmt.Sprintf("interleave:%d", d),
			il:   &media.InterleaveConfig{PayloadType: interleavePayloadType, Depth: d, PeerDepth: d},
		}, nil
	}
	return scheme{}, fmt.Errorf("bench: FEC scheme %q: want none, red[:N], xor[:N], interleave:D or interleave:D+xor:N", name)
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

// emodel gives the codec's E-model planning values (Ie, Bpl) for what the
// receive pipeline does with holes: G.711 with concealment is rated with
// G.113's concealment value, without it as silence.
func emodel(c codec.Codec, concealed bool) quality.Codec {
	if concealed && c.Name != "GSM" {
		return quality.CodecG711PLC
	}
	return EModelCodec(c)
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
