package negotiate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/fec"
	"github.com/spurtvoip/spurt/media"
	"github.com/spurtvoip/spurt/signaling"
)

// The schemes' payload formats in the SDP.
//
// Redundant audio (RFC 2198): with red:N an offer adds, for each G.711 codec
// it offers, a red/8000 format whose fmtp names the primary and then the
// redundant encodings, GSM (payload type 3) once per copy, e.g.
//
//	a=rtpmap:96 red/8000
//	a=fmtp:96 0/3        (red:2 writes 0/3/3)
//
// and GSM itself, since the copies use it. The answerer keeps the red format
// whose primary is the codec it chose (with GSM), writing its own layout into
// the fmtp if it sends red, and otherwise the offer's layout unchanged; a
// peer that does not offer red gets plain audio, and one that does not
// answer with it is sent plain audio.
//
// What a red fmtp means: RFC 2198 section 5 has it name the encodings a
// sender should use for the primary and the redundancy, and in offer/answer
// (RFC 3264) the formats of a description are those its writer receives. So
// an answer's red fmtp recommends a layout to the offerer; it does not say
// what the answerer sends, and one that sends no red must still list red to
// receive it. Writing the offer's layout back accepts it as offered and
// claims no copies of our own (writing "0/3" for an offer of "0/3/3" was read
// as one copy coming back). The layout the peer wrote is therefore only a
// hint for the playout delay, used while the peer's packets are RED (see
// media.REDConfig.PeerDistance).
//
// XOR parity (RFC 5109) and interleaving: every offer adds
//
//	a=rtpmap:100 ulpfec/8000
//	a=fmtp:100 group=4          (the group size this side sends; 0: none)
//
// and, for each G.711 codec it offers, a format of ours:
//
//	a=rtpmap:101 x-spurt-interleave/8000
//	a=fmtp:101 depth=4; apt=0   (the depth this side sends; the codec's payload type)
//
// They are offered whether or not we send them, since a Spurt endpoint can
// always receive them: so a listener asked to send them can send them to any
// Spurt dialer. The answerer keeps ulpfec, and the interleave format whose
// apt is the codec it chose, writing its own group size and depth (0: it
// only receives) into their fmtp. Interleaving falls back to plain audio for
// GSM, whose frames cannot be cut up.

// Encoding names of the schemes' formats, and the codec of RED's copies.
const (
	redName        = "red"
	ulpfecName     = "ulpfec"
	interleaveName = "x-spurt-interleave"
	// SecondaryName is the codec of redundant copies (Preferences.Secondary).
	SecondaryName = "GSM"
)

// The schemes' payload types, the one table calls and the bench use. They
// are dynamic (RFC 3551 section 3): an offer numbers one red and one
// interleave format for each G.711 codec it lists, from the first of each.
const (
	FirstREDPayloadType        = 96 // to 99
	ULPFECPayloadType          = 100
	FirstInterleavePayloadType = 101
)

func isG711(name string) bool {
	return strings.EqualFold(name, "PCMU") || strings.EqualFold(name, "PCMA")
}

// redFmtp is the fmtp of a red format: the primary's payload type, then the
// secondary's once per copy.
func redFmtp(primary, secondary uint8, copies int) string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(int(primary)))
	for range max(copies, 1) {
		b.WriteString("/" + strconv.Itoa(int(secondary)))
	}
	return b.String()
}

// parseREDFmtp reads "0/3/3" into the primary and the redundant encodings'
// payload types.
func parseREDFmtp(fmtp string) (primary uint8, redundant []uint8, err error) {
	parts := strings.Split(strings.TrimSpace(fmtp), "/")
	if len(parts) < 2 || len(parts) > 1+media.MaxREDDistance {
		return 0, nil, fmt.Errorf("red fmtp %q: want PRIMARY/REDUNDANT[/REDUNDANT...] with at most %d copies", fmtp, media.MaxREDDistance)
	}
	pts := make([]uint8, len(parts))
	for i, p := range parts {
		n, err := strconv.ParseUint(p, 10, 7)
		if err != nil {
			return 0, nil, fmt.Errorf("red fmtp %q: %q is not a payload type", fmtp, p)
		}
		pts[i] = uint8(n)
	}
	return pts[0], pts[1:], nil
}

func allEqual(pts []uint8, want uint8) bool {
	for _, pt := range pts {
		if pt != want {
			return false
		}
	}
	return true
}

// offerRED adds the red formats (and the secondary for the copies) to an offer.
func offerRED(offer *signaling.Session, secondary codec.Codec, copies int) {
	pt := uint8(FirstREDPayloadType)
	hasSecondary := false
	var reds []signaling.Format
	for _, f := range offer.Formats {
		switch {
		case strings.EqualFold(f.Name, secondary.Name):
			hasSecondary = true
		case isG711(f.Name) && pt < ULPFECPayloadType:
			reds = append(reds, signaling.Format{PayloadType: pt, Name: redName, ClockRate: f.ClockRate,
				Fmtp: redFmtp(f.PayloadType, secondary.PayloadType, copies)})
			pt++
		}
	}
	if len(reds) == 0 {
		return
	}
	offer.Formats = append(offer.Formats, reds...)
	if !hasSecondary {
		offer.Formats = append(offer.Formats, signaling.Format{PayloadType: secondary.PayloadType, Name: secondary.Name, ClockRate: secondary.ClockRate})
	}
}

// findRED returns s's red format for the chosen codec whose copies are all
// the secondary, and how many copies its fmtp names. A red format at the
// secondary's own payload type is none: its packets could not be told apart.
func findRED(s signaling.Session, chosen signaling.Format, secondary codec.Codec) (signaling.Format, int, bool) {
	for _, f := range s.Formats {
		if !strings.EqualFold(f.Name, redName) || f.ClockRate != chosen.ClockRate || f.PayloadType == secondary.PayloadType {
			continue
		}
		primary, redundant, err := parseREDFmtp(f.Fmtp)
		if err == nil && primary == chosen.PayloadType && allEqual(redundant, secondary.PayloadType) {
			return f, len(redundant), true
		}
	}
	return signaling.Format{}, 0, false
}

// answerRED trims an answer made with AlsoAccept "red" to the one red format
// whose primary is the chosen codec and whose copies are the secondary, adds
// the secondary, and writes our own sending layout into the red fmtp if we
// send copies (else it keeps the offer's). Without such a format the answer
// is plain.
func answerRED(offer, answer signaling.Session, secondary codec.Codec, copies int) signaling.Session {
	chosen := answer.Formats[0]
	formats := []signaling.Format{chosen}
	red, ok := signaling.Format{}, false
	if secondary.Name != "" {
		red, _, ok = findRED(signaling.Session{Formats: answer.Formats[1:]}, chosen, secondary)
	}
	if !ok {
		answer.Formats = formats
		return answer
	}
	if copies > 0 {
		red.Fmtp = redFmtp(chosen.PayloadType, secondary.PayloadType, copies)
	}
	formats = append(formats, red)
	if chosen.PayloadType != secondary.PayloadType {
		for _, f := range offer.Formats {
			if f.PayloadType == secondary.PayloadType && strings.EqualFold(f.Name, secondary.Name) {
				formats = append(formats, f)
			}
		}
	}
	answer.Formats = formats
	return answer
}

// agreeRED turns a negotiated red format into the call's RED configuration:
// agreed is the answer, which holds the agreed red format, peer the peer's
// own description (whose fmtp says how many copies it sends). It returns
// nil when red was not agreed for the chosen codec.
func agreeRED(chosen signaling.Format, agreed, peer signaling.Session, secondary codec.Codec, copies int) *media.REDConfig {
	if secondary.Name == "" {
		return nil
	}
	red, _, ok := findRED(agreed, chosen, secondary)
	if !ok {
		return nil
	}
	_, peerCopies, _ := findRED(peer, chosen, secondary)
	return &media.REDConfig{PayloadType: red.PayloadType, Secondary: secondary, Distance: copies, PeerDistance: peerCopies}
}

// offerXORInterleave adds ulpfec and the interleave formats to an offer
// (group or depth 0: we only receive them).
func offerXORInterleave(offer *signaling.Session, group, depth int) {
	offer.Formats = append(offer.Formats, signaling.Format{PayloadType: ULPFECPayloadType, Name: ulpfecName,
		ClockRate: 8000, Fmtp: fmt.Sprintf("group=%d", group)})
	pt := uint8(FirstInterleavePayloadType)
	for _, f := range offer.Formats {
		if isG711(f.Name) && pt <= 127 {
			offer.Formats = append(offer.Formats, signaling.Format{PayloadType: pt, Name: interleaveName,
				ClockRate: f.ClockRate, Fmtp: interleaveFmtp(depth, f.PayloadType)})
			pt++
		}
	}
}

func interleaveFmtp(depth int, apt uint8) string { return fmt.Sprintf("depth=%d; apt=%d", depth, apt) }

// fmtpParam reads parameter key of "a=1; b=2" (keys match regardless of
// case); ok is false when it is missing.
func fmtpParam(fmtp, key string) (value string, ok bool) {
	for _, part := range strings.Split(fmtp, ";") {
		k, v, found := strings.Cut(strings.TrimSpace(part), "=")
		if found && strings.EqualFold(strings.TrimSpace(k), key) {
			value, ok = strings.TrimSpace(v), true // the last one counts
		}
	}
	return value, ok
}

// fmtpInt reads an integer parameter; ok is false when it is missing or bad.
func fmtpInt(fmtp, key string, lo, hi int) (int, bool) {
	v, _ := fmtpParam(fmtp, key)
	n, err := strconv.Atoi(v)
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
	v, _ := fmtpParam(f.Fmtp, "depth")
	d, err := strconv.Atoi(v)
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

// validPeerDepth reports whether an interleave format's depth is one we can
// receive (0 included: the peer only receives).
func validPeerDepth(f signaling.Format) bool {
	_, ok := peerDepth(f)
	return ok
}

// agreeXORInterleave turns the negotiated ulpfec and interleave formats into
// the call's configuration: agreed is the session holding the formats both
// sides accepted (the answer), peer the peer's own description (whose fmtp
// says what it sends). notes lists what was asked for and not agreed.
func agreeXORInterleave(chosen signaling.Format, agreed, peer signaling.Session, group, depth int) (xor *media.XORConfig, il *media.InterleaveConfig, notes []string) {
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
			xor = &media.XORConfig{PayloadType: f.PayloadType, GroupSize: group, PeerGroupSize: peerGroup}
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
				pf.Fmtp, media.InterleaveChunkBytes))
		}
		if depth > 0 || theirs > 0 {
			il = &media.InterleaveConfig{PayloadType: f.PayloadType, Depth: depth, PeerDepth: theirs}
		}
	case badDepth:
		// we answered, declining it (answerXORInterleave)
		notes = append(notes, fmt.Sprintf("declined the peer's interleaving with %q, not a depth of 0 or one dividing the %d-byte chunk (2, 4, 5, 8): plain audio both ways",
			pf.Fmtp, media.InterleaveChunkBytes))
	case depth > 0:
		notes = append(notes, fmt.Sprintf("the peer does not take interleaving for %s: sending plain audio", chosen.Name))
	}
	return xor, il, notes
}
