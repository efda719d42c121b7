package main

import (
	"fmt"
	"github.com/spurtvoip/spurt/media"
	"strconv"
	"strings"

	"github.com/spurtvoip/spurt/fec"
	"github.com/spurtvoip/spurt/interleave"
	"github.com/spurtvoip/spurt/rtpcall"
	"github.com/spurtvoip/spurt/signaling"
)

// XOR parity (RFC 5109) and interleaving in the SDP. With --fec xor:N the
// offer adds
//
//	a=rtpmap:100 ulpfec/8000
//	a=fmtp:100 group=4          (the group size this side sends)
//
// and with --interleave D, for each G.711 codec it offers, a format of ours:
//
//	a=rtpmap:101 x-spurt-interleave/8000
//	a=fmtp:101 depth=4; apt=0   (the depth this side sends; the codec's payload type)
//
// The payload types are chosen above RED's (96, 97). The answerer keeps
// ulpfec, and the interleave format whose apt is the codec it chose, writing
// its own group size and depth (0: it only receives) into their fmtp. A peer
// that does not offer or accept them gets plain audio, which is logged.
// Interleaving is refused with --fec red (a RED packet cannot be cut into
// units) and falls back to plain audio for GSM, whose frames cannot be cut up.

const (
	ulpfecPayloadType          = 100
	firstInterleavePayloadType = 101
	ulpfecName                 = "ulpfec"
	interleaveName             = "x-spurt-interleave"
)

// fecSchemeFlag is --fec: none, red, red:N (red.go), xor or xor:N.
type fecSchemeFlag struct{ f *callFlags }

func (s fecSchemeFlag) String() string {
	if s.f == nil {
		return "none"
	}
	if s.f.xor > 0 {
		return fmt.Sprintf("xor:%d", s.f.xor)
	}
	return s.f.fec.String()
}

func (s fecSchemeFlag) Set(v string) error {
	name, arg, hasArg := strings.Cut(strings.ToLower(strings.TrimSpace(v)), ":")
	if name != "xor" {
		if err := s.f.fec.Set(v); err != nil {
			return fmt.Errorf("want none, red, red:N, xor or xor:N")
		}
		s.f.xor = 0
		return nil
	}
	n := media.DefaultXORGroupSize
	if hasArg {
		var err error
		n, err = strconv.Atoi(arg)
		if err != nil || n < fec.MinGroupSize || n > fec.MaxGroupSize {
			return fmt.Errorf("want xor:N with N from %d to %d (media packets per parity packet)", fec.MinGroupSize, fec.MaxGroupSize)
		}
	}
	s.f.xor = n
	s.f.fec.distance = 0
	return nil
}

// interleaveChunkBytes is the 20 ms G.711 chunk a depth must divide into units.
const interleaveChunkBytes = 160

// checkCombinations refuses the flag combinations that cannot work.
func (f *callFlags) checkCombinations() error {
	if f.interleave != 0 && !media.ValidInterleaveDepth(f.interleave) {
		return fmt.Errorf("--interleave %d: want 0 (off) or a depth from %d to %d that divides 160 (2, 4, 5 or 8)",
			f.interleave, interleave.MinDepth, interleave.MaxDepth)
	}
	if f.interleave > 0 && f.fec.distance > 0 {
		return fmt.Errorf("--interleave cannot be combined with --fec red (a redundant-audio packet cannot be cut into units); use --fec xor")
	}
	return nil
}

// offerXORInterleave adds ulpfec and the interleave formats to an offer. They
// are offered whether or not we send them (group or depth 0 says we only
// receive), since a Spurt endpoint can always receive them: so a listener
// started with --fec xor or --interleave can send them to any Spurt dialer.
func offerXORInterleave(offer *signaling.Session, group, depth int) {
	offer.Formats = append(offer.Formats, signaling.Format{PayloadType: ulpfecPayloadType, Name: ulpfecName,
		ClockRate: 8000, Fmtp: fmt.Sprintf("group=%d", group)})
	pt := uint8(firstInterleavePayloadType)
	for _, f := range offer.Formats {
		if isG711(f.Name) {
			offer.Formats = append(offer.Formats, signaling.Format{PayloadType: pt, Name: interleaveName,
				ClockRate: f.ClockRate, Fmtp: interleaveFmtp(depth, f.PayloadType)})
			pt++
		}
	}
}

func isG711(name string) bool {
	return strings.EqualFold(name, "PCMU") || strings.EqualFold(name, "PCMA")
}

func interleaveFmtp(depth int, apt uint8) string { return fmt.Sprintf("depth=%d; apt=%d", depth, apt) }

// fmtpParams reads "a=1; b=2" into a map (keys lower case).
func fmtpParams(fmtp string) map[string]string {
	params := make(map[string]string)
	for _, part := range strings.Split(fmtp, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			params[strings.ToLower(strings.TrimSpace(k))] = strings.TrimSpace(v)
		}
	}
	return params
}

// fmtpInt reads an integer parameter; ok is false when it is missing or bad.
func fmtpInt(fmtp, key string, lo, hi int) (int, bool) {
	n, err := strconv.Atoi(fmtpParams(fmtp)[key])
	if err != nil || n < lo || n > hi {
		return 0, false
	}
	return n, true
}

// findULPFEC returns s's ulpfec format at the codec's clock rate.
func findULPFEC(s signaling.Session, chosen signaling.Format) (signaling.Format, bool) {
	for _, f := range s.Formats {
		if strings.EqualFold(f.Name, ulpfecName) && f.ClockRate == chosen.ClockRate {
			return f, true
		}
	}
	return signaling.Format{}, false
}

// peerDepth reads the depth an interleave format announces: 0 (the peer only
// receives) or a valid depth, with ok; ok is false for anything else (a
// depth such as 3 that does not divide the chunk, or none at all).
func peerDepth(f signaling.Format) (depth int, ok bool) {
	d, err := strconv.Atoi(fmtpParams(f.Fmtp)["depth"])
	if err != nil || (d != 0 && !media.ValidInterleaveDepth(d)) {
		return 0, false
	}
	return d, true
}

// findInterleave returns s's interleave format for the chosen codec.
func findInterleave(s signaling.Session, chosen signaling.Format) (signaling.Format, bool) {
	for _, f := range s.Formats {
		if !strings.EqualFold(f.Name, interleaveName) || f.ClockRate != chosen.ClockRate {
			continue
		}
		if apt, ok := fmtpInt(f.Fmtp, "apt", 0, 127); ok && apt == int(chosen.PayloadType) {
			return f, true
		}
	}
	return signaling.Format{}, false
}

// answerXORInterleave adds to a trimmed answer the ulpfec format and the
// interleave format for the chosen codec that full (the answer AnswerWith
// made) kept from the offer, with our own group size and depth in their fmtp.
// An interleave format whose offered depth we could not receive (one that
// does not divide the chunk) is declined, so that the offerer sends plain
// audio rather than packets we would have to drop.
func answerXORInterleave(full, trimmed signaling.Session, group, depth int) signaling.Session {
	chosen := trimmed.Formats[0]
	if f, ok := findULPFEC(full, chosen); ok {
		f.Fmtp = fmt.Sprintf("group=%d", group)
		trimmed.Formats = append(trimmed.Formats, f)
	}
	if f, ok := findInterleave(full, chosen); ok && isG711(chosen.Name) && validPeerDepth(f) {
		f.Fmtp = interleaveFmtp(depth, chosen.PayloadType)
		trimmed.Formats = append(trimmed.Formats, f)
	}
	return trimmed
}

// xorInterleaveOptions turns the negotiated ulpfec and interleave formats
// into the call's configuration: agreed is the session holding the formats
// both sides accepted (the answer), peer the peer's own description (whose
// fmtp says what it sends). notes lists what was asked for and not agreed.
func xorInterleaveOptions(chosen signaling.Format, agreed, peer signaling.Session, group, depth int) (options []func(*rtpcall.Config), notes []string) {
	if f, ok := findULPFEC(agreed, chosen); ok {
		peerGroup := 0
		if pf, ok := findULPFEC(peer, chosen); ok {
			if g, ok := fmtpInt(pf.Fmtp, "group", 0, fec.MaxGroupSize); ok && g != 1 {
				peerGroup = g
			} else {
				notes = append(notes, fmt.Sprintf("the peer announced ulpfec with %q, not a group of 0 or %d to %d: its parity packets are dropped (fec_malformed)",
					pf.Fmtp, fec.MinGroupSize, fec.MaxGroupSize))
			}
		}
		if group > 0 || peerGroup > 0 { // both 0: agreed, but neither side sends parity
			cfg := &media.XORConfig{PayloadType: f.PayloadType, GroupSize: group, PeerGroupSize: peerGroup}
			options = append(options, func(c *rtpcall.Config) { c.Session.XOR = cfg })
		}
	} else if group > 0 {
		notes = append(notes, "the peer does not take ulpfec: sending no XOR parity")
	}
	pf, peerHas := findInterleave(peer, chosen)
	badDepth := peerHas && !validPeerDepth(pf)
	f, agreedIL := findInterleave(agreed, chosen)
	switch {
	case agreedIL && isG711(chosen.Name):
		theirs := 0
		if peerHas {
			theirs, _ = peerDepth(pf)
		}
		if badDepth {
			// we offered, and the answer announces a depth we cannot take
			notes = append(notes, fmt.Sprintf("the peer answered interleaving with %q, not a depth of 0 or one dividing the %d-byte chunk (2, 4, 5, 8): its interleaved packets cannot be played and are dropped (wrong_payload_type)",
				pf.Fmtp, interleaveChunkBytes))
		}
		if depth > 0 || theirs > 0 {
			cfg := &media.InterleaveConfig{PayloadType: f.PayloadType, Depth: depth, PeerDepth: theirs}
			options = append(options, func(c *rtpcall.Config) { c.Session.Interleave = cfg })
		}
	case badDepth:
		// we answered, declining it (answerXORInterleave)
		notes = append(notes, fmt.Sprintf("declined the peer's interleaving with %q, not a depth of 0 or one dividing the %d-byte chunk (2, 4, 5, 8): plain audio both ways",
			pf.Fmtp, interleaveChunkBytes))
	case depth > 0:
		notes = append(notes, fmt.Sprintf("the peer does not take interleaving for %s: sending plain audio", chosen.Name))
	}
	return options, notes
}

// validPeerDepth reports whether an interleave format's depth is one we can
// receive (0 included: the peer only receives).
func validPeerDepth(f signaling.Format) bool {
	_, ok := peerDepth(f)
	return ok
}
