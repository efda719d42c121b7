package bench

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/fec"
	"github.com/spurtvoip/spurt/quality"
	"github.com/spurtvoip/spurt/rtpcall"
)

// FEC scheme names, as --fec takes them. This file is the one place where a
// scheme name becomes rtpcall configuration: a new scheme is added to
// parseScheme and, if its datagrams can make other packets playable, to
// candidates (or, for parity, to the harness's parity groups).
const (
	// FECNone sends plain audio: holes are concealed or silent (Config.DisablePLC).
	FECNone = "none"
	// FECRED is RFC 2198 redundant audio with one copy (red:1); red:N
	// carries N copies, up to rtpcall.MaxREDDistance.
	FECRED = "red"
	// FECXOR is RFC 5109 XOR parity over groups of
	// rtpcall.DefaultXORGroupSize packets (xor:4); xor:N protects groups
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
	red  *rtpcall.REDConfig        // nil: no redundant audio
	xor  *rtpcall.XORConfig        // nil: no parity
	il   *rtpcall.InterleaveConfig // nil: one chunk per packet
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
		n, ok := number(1, 1, rtpcall.MaxREDDistance)
		if !ok {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: want red:N with N from 1 to %d", name, rtpcall.MaxREDDistance)
		}
		gsm, err := codec.Default().ByName("GSM")
		if err != nil {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: secondary codec: %w", name, err)
		}
		return scheme{
			name: fmt.Sprintf("red:%d", n),
			red:  &rtpcall.REDConfig{PayloadType: redPayloadType, Secondary: gsm, Distance: n, PeerDistance: n},
		}, nil
	case kind == FECXOR:
		n, ok := number(rtpcall.DefaultXORGroupSize, fec.MinGroupSize, fec.MaxGroupSize)
		if !ok {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: want xor:N with N from %d to %d", name, fec.MinGroupSize, fec.MaxGroupSize)
		}
		return scheme{
			name: fmt.Sprintf("xor:%d", n),
			xor:  &rtpcall.XORConfig{PayloadType: xorPayloadType, GroupSize: n, PeerGroupSize: n},
		}, nil
	case kind == FECInterleave:
		d, ok := number(0, 2, 8)
		if !hasArg || !ok || interleaveChunk%d != 0 {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: want interleave:D with D of 2, 4, 5 or 8", name)
		}
		if c.Name != "PCMU" && c.Name != "PCMA" {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: interleaving needs G.711 (PCMU or PCMA), not %s", name, c.Name)
		}
		return scheme{
			name: fmt.Sprintf("interleave:%d", d),
			il:   &rtpcall.InterleaveConfig{PayloadType: interleavePayloadType, Depth: d, PeerDepth: d},
		}, nil
	}
	return scheme{}, fmt.Errorf("bench: FEC scheme %q: want none, red[:N], xor[:N], interleave:D or interleave:D+xor:N", name)
}

// interleaveChunk is the bytes (samples) of G.711 in one 20 ms chunk; an
// interleaving depth must divide it.
const interleaveChunk = 160

// senderConfig adds the scheme's send side to cfg.
func (s scheme) senderConfig(cfg rtpcall.SenderConfig) rtpcall.SenderConfig {
	cfg.RED, cfg.XOR, cfg.Interleave = s.red, s.xor, s.il
	return cfg
}

// receiverConfig adds the scheme's receive side to cfg.
func (s scheme) receiverConfig(cfg rtpcall.ReceiverConfig) rtpcall.ReceiverConfig {
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

// candidates calls fn with the sequence number of every media packet the
// datagram may put into the playout buffer by itself: its own, and under
// RED those of the copies it carries (oldest first, as the receiver pushes
// them). Packets rebuilt from XOR parity and interleaved groups are the
// harness's to find (see direction.rebuild and rtpPipe.settleGroups).
// blocks is scratch space. Datagrams it cannot read yield nothing.
func (s scheme) candidates(pkt []byte, blocks []fec.Block, fn func(seq uint16)) []fec.Block {
	if len(pkt) < 12 {
		return blocks
	}
	seq := binary.BigEndian.Uint16(pkt[2:4])
	if s.red != nil && pkt[1]&0x7f == s.red.PayloadType {
		header := 12 + 4*int(pkt[0]&0x0f)
		if header > len(pkt) {
			return blocks
		}
		var err error
		if blocks, err = fec.ParseRED(pkt[header:], blocks); err == nil {
			for _, b := range blocks[:len(blocks)-1] {
				if b.TimestampOffset%frameSamples == 0 {
					fn(seq - b.TimestampOffset/frameSamples)
				}
			}
		}
	}
	fn(seq)
	return blocks
}

// parityMask reads which media packets an RFC 5109 parity packet protects:
// their sequence numbers are base+k for every bit k (from the most
// significant, k = 0) set in mask.
func parityMask(pkt []byte) (base uint16, mask uint64, ok bool) {
	const fecHeader, longMask = 10, 0x40
	if len(pkt) < 12 {
		return 0, 0, false
	}
	at := 12 + 4*int(pkt[0]&0x0f)
	if len(pkt) < at+fecHeader+4 {
		return 0, 0, false
	}
	base = binary.BigEndian.Uint16(pkt[at+2 : at+4])
	m := at + fecHeader + 2
	mask = uint64(binary.BigEndian.Uint16(pkt[m:m+2])) << 32
	if pkt[at]&longMask != 0 {
		if len(pkt) < m+6 {
			return 0, 0, false
		}
		mask |= uint64(binary.BigEndian.Uint32(pkt[m+2 : m+6]))
	}
	return base, mask, true
}
