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
// scheme name becomes rtpcall configuration: a new scheme (XOR parity,
// interleaving, concealment) is added to parseScheme and, if its datagrams
// can make other packets playable, to candidates.
const (
	// FECNone plays holes as silence.
	FECNone = "none"
	// FECRED is RFC 2198 redundant audio with one copy (red:1); red:N
	// carries N copies, up to rtpcall.MaxREDDistance.
	FECRED = "red"
)

// redPayloadType is the dynamic payload type the benchmark's RED packets use.
const redPayloadType = 96

// scheme is one FEC scheme as the send and receive pipelines are configured
// for it.
type scheme struct {
	name string
	red  *rtpcall.REDConfig // nil: plain audio
	// emodel gives the codec's E-model planning values (Ie, Bpl) for what
	// the receive pipeline does with holes under this scheme.
	emodel func(codec.Codec) quality.Codec
}

// parseScheme maps a --fec name to its configuration for the call's codec.
func parseScheme(name string, c codec.Codec) (scheme, error) {
	kind, arg, hasArg := strings.Cut(strings.ToLower(strings.TrimSpace(name)), ":")
	switch {
	case kind == FECNone && !hasArg:
		return scheme{name: FECNone, emodel: EModelCodec}, nil
	case kind == FECRED:
		n := 1
		if hasArg {
			var err error
			if n, err = strconv.Atoi(arg); err != nil || n < 1 || n > rtpcall.MaxREDDistance {
				return scheme{}, fmt.Errorf("bench: FEC scheme %q: want red:N with N from 1 to %d", name, rtpcall.MaxREDDistance)
			}
		}
		gsm, err := codec.Default().ByName("GSM")
		if err != nil {
			return scheme{}, fmt.Errorf("bench: FEC scheme %q: secondary codec: %w", name, err)
		}
		return scheme{
			name:   fmt.Sprintf("red:%d", n),
			red:    &rtpcall.REDConfig{PayloadType: redPayloadType, Secondary: gsm, Distance: n, PeerDistance: n},
			emodel: EModelCodec,
		}, nil
	}
	return scheme{}, fmt.Errorf("bench: FEC scheme %q: want none, red or red:N", name)
}

// senderConfig adds the scheme's send side to cfg.
func (s scheme) senderConfig(cfg rtpcall.SenderConfig) rtpcall.SenderConfig {
	cfg.RED = s.red
	return cfg
}

// receiverConfig adds the scheme's receive side to cfg.
func (s scheme) receiverConfig(cfg rtpcall.ReceiverConfig) rtpcall.ReceiverConfig {
	cfg.RED = s.red
	return cfg
}

// candidates calls fn with the sequence number of every packet the datagram
// may put into the playout buffer: its own, and under RED those of the
// copies it carries (oldest first, as the receiver pushes them). blocks is
// scratch space. Datagrams it cannot read yield nothing.
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
