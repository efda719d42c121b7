// Package negotiate owns what two Spurt endpoints agree on in their SDP
// offer and answer besides the media address: the codec, the loss-recovery
// schemes (redundant audio, RFC 2198; XOR parity, RFC 5109; interleaving)
// with their payload types and parameters, and the ICE credentials and
// candidates of a call opened through NATs.
//
// [Offer] and [Answer] write one side's description from its
// [Preferences]; [Agree] reads an offer and its answer into an
// [Agreement], the configuration the call runs with, and notes what was
// asked for and not taken. [ParseScheme] reads the schemes' names, as the
// command line and the bench give them, and the payload-type constants are
// the one table both use.
package negotiate

import (
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/media"
	"github.com/spurtvoip/spurt/signaling"
)

// Preferences are what one side of a call wants.
type Preferences struct {
	// Codecs are offered, or accepted from an offer, most preferred first.
	Codecs []codec.Codec
	// Secondary is the codec of redundant copies (SecondaryName): a zero
	// Secondary neither offers nor accepts red.
	Secondary codec.Codec
	// Send is what we send besides the codec. The offer carries red only
	// when we send it; ulpfec and interleaving always, as we receive them.
	Send Scheme
	// RTPAddr is where we receive media on a direct call.
	RTPAddr netip.AddrPort
	// ICE, if set, are our credentials and candidates for a call opened
	// with connectivity checks; its default candidate then replaces
	// RTPAddr, and Agree reads the peer's.
	ICE *ICE
	// SessionID goes into the o= line.
	SessionID uint64
	// PTime is the packetisation time; zero means signaling.DefaultPTime.
	PTime time.Duration
}

// Side says which of an offer and its answer is ours.
type Side int

const (
	// Offerer: we wrote the offer, the peer the answer.
	Offerer Side = iota
	// Answerer: the peer wrote the offer, we the answer.
	Answerer
)

// Agreement is what a call runs with, from our side: media configuration
// ready for media.SessionConfig, and what the peer told of itself.
type Agreement struct {
	// Codec is the codec both sides send, as the answer lists it.
	Codec signaling.Format
	// PeerAddr is where the peer receives media (its c= and m= lines).
	PeerAddr netip.AddrPort
	// RED, XOR and Interleave are the schemes agreed, with what we send
	// and what the peer announced; nil when not agreed, or agreed and
	// sent by neither side.
	RED        *media.REDConfig
	XOR        *media.XORConfig
	Interleave *media.InterleaveConfig
	// PeerICE is the peer's ICE, read when Preferences.ICE is set.
	PeerICE *ICE
	// Notes say what we asked for and the peer did not take, and why.
	Notes []Note
}

// Note is one thing about the agreement worth logging.
type Note struct {
	Level slog.Level
	Text  string
}

// Offer writes our offer: the codecs, red for each G.711 codec if we send
// it, ulpfec and interleaving, and our ICE.
func Offer(p Preferences) signaling.Session {
	offer := signaling.Session{RTPAddr: p.RTPAddr, PTime: ptime(p.PTime), SessionID: p.SessionID}
	for _, c := range p.Codecs {
		offer.Formats = append(offer.Formats, signaling.Format{PayloadType: c.PayloadType, Name: c.Name, ClockRate: c.ClockRate})
	}
	if p.Send.RED > 0 && p.Secondary.Name != "" {
		offerRED(&offer, p.Secondary, p.Send.RED)
	}
	offerXORInterleave(&offer, p.Send.XOR, p.Send.Interleave)
	if p.ICE != nil {
		offer = WithICE(offer, *p.ICE)
	}
	return offer
}

// Answer answers an offer with its first codec we support (the offerer's
// preference wins, RFC 3264) and, if offered for it, red, ulpfec and
// interleaving, announcing what we send. With no codec in common the error
// is a *signaling.NoCommonCodecError.
func Answer(offer signaling.Session, p Preferences) (signaling.Session, error) {
	names := make([]string, len(p.Codecs))
	for i, c := range p.Codecs {
		names[i] = c.Name
	}
	addr := p.RTPAddr
	if p.ICE != nil {
		addr = p.ICE.DefaultAddr()
	}
	full, err := signaling.AnswerWith(offer, signaling.AnswerOptions{Supported: names,
		AlsoAccept: []string{redName, ulpfecName, interleaveName}, RTPAddr: addr, SessionID: p.SessionID, PTime: p.PTime})
	if err != nil {
		return full, err
	}
	answer := answerXORInterleave(full, answerRED(offer, full, p.Secondary, p.Send.RED), p.Send.XOR, p.Send.Interleave)
	if p.ICE != nil {
		answer = WithICE(answer, *p.ICE)
	}
	return answer, nil
}

// Agree reads what an offer and its answer agreed, for the side that wrote
// one of them with preferences p. A call carries one of redundant audio and
// parity or interleaving: when one side asked for red and the other for
// the others, red wins. It fails when the answer accepts no codec, or,
// with p.ICE, when the peer's ICE is missing or unusable.
func Agree(side Side, offer, answer signaling.Session, p Preferences) (Agreement, error) {
	if len(answer.Formats) == 0 {
		return Agreement{}, errors.New("the answer accepts no codec")
	}
	peer := offer
	if side == Offerer {
		peer = answer
	}
	a := Agreement{Codec: answer.Formats[0], PeerAddr: peer.RTPAddr}
	if p.ICE != nil {
		ice, err := ReadICE(peer)
		if err != nil {
			return Agreement{}, fmt.Errorf("the peer's session description: %w", err)
		}
		a.PeerICE = &ice
	}
	a.RED = agreeRED(a.Codec, answer, peer, p.Secondary, p.Send.RED)
	if a.RED == nil && p.Send.RED > 0 {
		a.note(slog.LevelInfo, fmt.Sprintf("the peer does not take red for %s: sending plain audio (asked for red:%d)", a.Codec.Name, p.Send.RED))
	}
	xor, il, notes := agreeXORInterleave(a.Codec, answer, peer, p.Send.XOR, p.Send.Interleave)
	for _, n := range notes {
		a.note(slog.LevelInfo, n)
	}
	if a.RED != nil && (xor != nil || il != nil) {
		// one side asked for red, the other for parity or interleaving: a
		// call carries one scheme, and redundant audio was asked for first
		a.note(slog.LevelWarn, "redundant audio cannot be combined with XOR parity or interleaving: using red only; the peer's parity or interleaved packets will be dropped")
		return a, nil
	}
	a.XOR, a.Interleave = xor, il
	return a, nil
}

func (a *Agreement) note(level slog.Level, text string) {
	a.Notes = append(a.Notes, Note{Level: level, Text: text})
}

func ptime(d time.Duration) time.Duration {
	if d == 0 {
		return signaling.DefaultPTime
	}
	return d
}
