package main

import (
	"fmt"
	"github.com/spurtvoip/spurt/media"
	"strconv"
	"strings"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/rtpcall"
	"github.com/spurtvoip/spurt/signaling"
)

// Redundant audio (RFC 2198) in the SDP: with --fec red the offer adds, for
// each G.711 codec it offers, a red/8000 format whose fmtp names the primary
// and then the redundant encodings, GSM (payload type 3) once per copy, e.g.
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
// What an fmtp means: RFC 2198 section 5 has it name the encodings a sender
// should use for the primary and the redundancy, and in offer/answer (RFC
// 3264) the formats of a description are those its writer receives. So an
// answer's red fmtp recommends a layout to the offerer; it does not say what
// the answerer sends, and one that sends no red must still list red to
// receive it. Writing the offer's layout back accepts it as offered and
// claims no copies of our own (writing "0/3" for an offer of "0/3/3" was read
// as one copy coming back). The layout the peer wrote is therefore only a
// hint for the playout delay, used while the peer's packets are RED (see
// media.REDConfig.PeerDistance).

const (
	firstREDPayloadType = 96 // the dynamic range (RFC 3551 section 3)
	redName             = "red"
	secondaryName       = "GSM"
)

// fecFlag is --fec: none, red (distance 1) or red:N.
type fecFlag struct{ distance int }

func (f *fecFlag) String() string {
	if f == nil || f.distance == 0 {
		return "none"
	}
	return fmt.Sprintf("red:%d", f.distance)
}

func (f *fecFlag) Set(s string) error {
	name, arg, hasArg := strings.Cut(strings.ToLower(strings.TrimSpace(s)), ":")
	switch {
	case name == "none" && !hasArg:
		f.distance = 0
	case name == "red" && !hasArg:
		f.distance = 1
	case name == "red":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 1 || n > media.MaxREDDistance {
			return fmt.Errorf("want red:N with N from 1 to %d (copies of earlier chunks per packet)", media.MaxREDDistance)
		}
		f.distance = n
	default:
		return fmt.Errorf("want none, red or red:N")
	}
	return nil
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

// offerRED adds the red formats (and GSM for the copies) to an offer.
func offerRED(offer *signaling.Session, reg *codec.Registry, copies int) {
	gsm, err := reg.ByName(secondaryName)
	if err != nil {
		return
	}
	pt := uint8(firstREDPayloadType)
	hasGSM := false
	var reds []signaling.Format
	for _, f := range offer.Formats {
		switch {
		case strings.EqualFold(f.Name, secondaryName):
			hasGSM = true
		case strings.EqualFold(f.Name, "PCMU") || strings.EqualFold(f.Name, "PCMA"):
			reds = append(reds, signaling.Format{PayloadType: pt, Name: redName, ClockRate: f.ClockRate,
				Fmtp: redFmtp(f.PayloadType, gsm.PayloadType, copies)})
			pt++
		}
	}
	if len(reds) == 0 {
		return
	}
	offer.Formats = append(offer.Formats, reds...)
	if !hasGSM {
		offer.Formats = append(offer.Formats, signaling.Format{PayloadType: gsm.PayloadType, Name: gsm.Name, ClockRate: gsm.ClockRate})
	}
}

// answerRED trims an answer made with AlsoAccept "red" to the one red format
// whose primary is the chosen codec and whose copies are GSM, adds GSM, and
// writes our own sending layout into the red fmtp if we send copies (else it
// keeps the offer's). Without such a format the answer is plain.
func answerRED(offer, answer signaling.Session, reg *codec.Registry, copies int) signaling.Session {
	chosen := answer.Formats[0]
	gsm, gsmErr := reg.ByName(secondaryName)
	formats := []signaling.Format{chosen}
	var red *signaling.Format
	for _, f := range answer.Formats[1:] {
		if !strings.EqualFold(f.Name, redName) || red != nil || gsmErr != nil {
			continue
		}
		primary, redundant, err := parseREDFmtp(f.Fmtp)
		if err != nil || primary != chosen.PayloadType || !allEqual(redundant, gsm.PayloadType) {
			continue
		}
		if copies > 0 {
			f.Fmtp = redFmtp(primary, gsm.PayloadType, copies)
		}
		red = &f
	}
	if red == nil {
		answer.Formats = formats
		return answer
	}
	formats = append(formats, *red)
	if chosen.PayloadType != gsm.PayloadType {
		for _, f := range offer.Formats {
			if f.PayloadType == gsm.PayloadType && strings.EqualFold(f.Name, secondaryName) {
				formats = append(formats, f)
			}
		}
	}
	answer.Formats = formats
	return answer
}

func allEqual(pts []uint8, want uint8) bool {
	for _, pt := range pts {
		if pt != want {
			return false
		}
	}
	return true
}

// redOption turns a negotiated red format into the call's RED configuration:
// described is the session (ours or the peer's) that holds the agreed red
// format, peer the peer's own description (whose fmtp says how many copies
// it sends). It returns nil when red was not agreed for the chosen codec.
func redOption(reg *codec.Registry, chosen signaling.Format, described, peer signaling.Session, copies int) func(*rtpcall.Config) {
	gsm, err := reg.ByName(secondaryName)
	if err != nil {
		return nil
	}
	find := func(s signaling.Session) (signaling.Format, int, bool) {
		for _, f := range s.Formats {
			if !strings.EqualFold(f.Name, redName) || f.ClockRate != chosen.ClockRate {
				continue
			}
			primary, redundant, err := parseREDFmtp(f.Fmtp)
			if err == nil && primary == chosen.PayloadType && allEqual(redundant, gsm.PayloadType) {
				return f, len(redundant), true
			}
		}
		return signaling.Format{}, 0, false
	}
	red, _, ok := find(described)
	if !ok {
		return nil
	}
	_, peerCopies, _ := find(peer)
	cfg := &media.REDConfig{PayloadType: red.PayloadType, Secondary: gsm, Distance: copies, PeerDistance: peerCopies}
	return func(c *rtpcall.Config) { c.Session.RED = cfg }
}
