package main

import (
	"log/slog"
	"net/netip"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/rtpcall"
	"github.com/spurtvoip/spurt/signaling"
)

// The loss-recovery schemes a call can negotiate besides its codec: redundant
// audio (red.go), XOR parity and interleaving (xor.go). listen, dial and the
// --via calls all negotiate them through these three functions.

// offerSchemes adds to an offer the schemes the flags ask us to send.
func offerSchemes(offer *signaling.Session, reg *codec.Registry, f *callFlags) {
	if f.fec.distance > 0 {
		offerRED(offer, reg, f.fec.distance)
	}
	offerXORInterleave(offer, f.xor, f.interleave)
}

// answerSchemes answers an offer with the first common codec and, if offered
// for it, red, ulpfec and interleaving; f says what we send.
func answerSchemes(offer signaling.Session, supported []string, addr netip.AddrPort, reg *codec.Registry, f *callFlags) (signaling.Session, error) {
	answer, err := signaling.AnswerWith(offer, signaling.AnswerOptions{Supported: supported,
		AlsoAccept: []string{redName, ulpfecName, interleaveName}, RTPAddr: addr})
	if err != nil {
		return answer, err
	}
	return answerXORInterleave(answer, answerRED(offer, answer, reg, f.fec.distance), f.xor, f.interleave), nil
}

// schemeOptions configures the call for what was agreed: agreed is the
// session description that lists the negotiated formats (the answer), peer
// the one the peer wrote. What we asked for but the peer did not take is
// logged, and the call goes on with plain audio.
func schemeOptions(reg *codec.Registry, chosen signaling.Format, agreed, peer signaling.Session, f *callFlags, log *slog.Logger) []func(*rtpcall.Config) {
	var options []func(*rtpcall.Config)
	if red := redOption(reg, chosen, agreed, peer, f.fec.distance); red != nil {
		options = append(options, red)
	} else if f.fec.distance > 0 {
		log.Info("the peer does not take red for this codec: sending plain audio", "fec", f.fec.String())
	}
	more, notes := xorInterleaveOptions(chosen, agreed, peer, f.xor, f.interleave)
	for _, n := range notes {
		log.Info(n)
	}
	if len(options) > 0 && len(more) > 0 {
		// one side asked for red, the other for parity or interleaving: a
		// call carries one scheme, and redundant audio was asked for first
		log.Warn("redundant audio cannot be combined with XOR parity or interleaving: using red only; the peer's parity or interleaved packets will be dropped")
		return options
	}
	return append(options, more...)
}
