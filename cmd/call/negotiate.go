package main

import (
	"context"
	"log/slog"
	"net/netip"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/rtpcall"
	"github.com/spurtvoip/spurt/signaling"
	"github.com/spurtvoip/spurt/signaling/negotiate"
)

// listen, dial and the --via calls negotiate the codec and the loss-recovery
// schemes (redundant audio, XOR parity, interleaving) with the package
// negotiate; these two functions connect it to the flags and to the call.

// preferences are what the flags ask for: codecs (checked against reg)
// offered or accepted, the schemes we send, and where we receive.
func preferences(reg *codec.Registry, codecs []string, f *callFlags, addr netip.AddrPort) negotiate.Preferences {
	p := negotiate.Preferences{Send: f.send, RTPAddr: addr, SessionID: signaling.NewSessionID()}
	for _, name := range codecs {
		c, _ := reg.ByName(name) // codecList checked the names
		p.Codecs = append(p.Codecs, c)
	}
	p.Secondary, _ = reg.ByName(negotiate.SecondaryName) // a registry without it neither offers nor accepts red
	return p
}

// schemeOption logs the agreement's notes and configures the call's
// schemes as agreed.
func schemeOption(a negotiate.Agreement, log *slog.Logger) func(*rtpcall.Config) {
	for _, n := range a.Notes {
		log.Log(context.Background(), n.Level, n.Text)
	}
	return func(c *rtpcall.Config) {
		c.Session.RED, c.Session.XOR, c.Session.Interleave = a.RED, a.XOR, a.Interleave
	}
}
