package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"sync"

	"github.com/spurtvoip/spurt/nat"
	"github.com/spurtvoip/spurt/signaling"
)

// serve runs the rendezvous: the signaling server on TCP and a STUN server
// on the same UDP port number, until Ctrl-C.
func serve(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	addr := fs.String("addr", "0.0.0.0:7000", "address to serve on: TCP for the rendezvous, UDP (same port) for STUN")
	verbose := fs.Bool("v", false, "verbose logging")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("serve takes no arguments, got %q (did you mean --addr?)", pos)}
	}
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil {
		return usageError{fmt.Errorf("--addr %q: want IP:PORT such as 0.0.0.0:7000: %w", *addr, err)}
	}
	log := newLogger(stderr, *verbose)

	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		return fmt.Errorf("rendezvous: %w", err)
	}
	defer ln.Close()
	// The same port number for STUN, also when --addr asked for port 0.
	tcpPort := ln.Addr().(*net.TCPAddr).AddrPort().Port()
	udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ap.Addr(), tcpPort)))
	if err != nil {
		return fmt.Errorf("STUN server: %w", err)
	}
	defer udp.Close()
	log.Info("serving", "rendezvous", ln.Addr().String(), "stun", udp.LocalAddr().String())

	ctx, stop := context.WithCancel(ctx)
	defer stop()
	var (
		wg   sync.WaitGroup
		errs = make([]error, 2)
	)
	wg.Add(2)
	go func() {
		defer wg.Done()
		defer stop() // one failing ends both
		errs[0] = signaling.NewRendezvous(signaling.RendezvousConfig{Logger: log}).Serve(ctx, ln)
	}()
	go func() {
		defer wg.Done()
		defer stop()
		errs[1] = (&nat.Server{Logger: log}).Serve(ctx, udp)
	}()
	wg.Wait()
	return errors.Join(errs...)
}
