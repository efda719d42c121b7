package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/rtpcall"
	"github.com/spurtvoip/spurt/signaling"
	"github.com/spurtvoip/spurt/signaling/negotiate"
)

// rtpMode streams plain RTP without signaling, for other tools: what we send
// can be described with --sdp-out for ffmpeg or GStreamer, and any RTP sender
// of the chosen codec (ffmpeg's -f rtp among them) can be received.
func rtpMode(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("rtp", stderr)
	var f callFlags
	f.register(fs)
	localFlag := fs.String("local", "127.0.0.1:5004", "local UDP address to receive RTP (and RTCP, muxed) on")
	remoteFlag := fs.String("remote", "", "UDP address to send RTP to (required)")
	codecName := fs.String("codec", "pcmu", "codec to send and expect: pcmu, pcma or gsm")
	sdpOut := fs.String("sdp-out", "", "write an SDP file describing the stream this side sends (for ffmpeg -i / GStreamer)")
	// --fec and --interleave are accepted only to be refused with a reason
	fs.Usage = helpFor(fs, stderr, "call rtp --remote HOST:PORT [--local HOST:PORT] [options]", "fec", "interleave")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("rtp takes no arguments, got %q", pos)}
	}
	if err := f.resolve(fs); err != nil {
		return usageError{err}
	}
	if f.send != (negotiate.Scheme{}) {
		// nothing negotiates them here, and a plain RTP peer would not understand them
		return usageError{errors.New("call rtp sends plain audio: --fec and --interleave need a negotiated call (listen/dial)")}
	}
	if *remoteFlag == "" {
		return usageError{errors.New("rtp needs --remote HOST:PORT")}
	}
	reg := codec.Default()
	cd, err := reg.ByName(*codecName)
	if err != nil {
		return usageError{fmt.Errorf("--codec: %w", err)}
	}
	local, err := netip.ParseAddrPort(*localFlag)
	if err != nil {
		return usageError{fmt.Errorf("--local %q: want IP:PORT: %w", *localFlag, err)}
	}
	remote, err := netip.ParseAddrPort(*remoteFlag)
	if err != nil {
		return usageError{fmt.Errorf("--remote %q: want IP:PORT: %w", *remoteFlag, err)}
	}
	log := newLogger(stderr, f.verbose)

	if *sdpOut != "" {
		desc := signaling.Session{
			Formats:   []signaling.Format{{PayloadType: cd.PayloadType, Name: cd.Name, ClockRate: cd.ClockRate}},
			RTPAddr:   remote,
			PTime:     20 * time.Millisecond,
			SessionID: rand.Uint64() >> 1,
		}
		b, err := desc.Marshal()
		if err != nil {
			return fmt.Errorf("describing the stream: %w", err)
		}
		if err := os.WriteFile(*sdpOut, b, 0o644); err != nil {
			return fmt.Errorf("--sdp-out: %w", err)
		}
	}
	conn, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(local))
	if err != nil {
		return fmt.Errorf("opening %s: %w", local, err)
	}
	defer conn.Close()
	log.Info("streaming RTP", "local", conn.LocalAddr().String(), "remote", remote.String(), "codec", cd.Name)
	// other tools send from ports of their own choosing: accept any source
	var options []func(*rtpcall.Config)
	if f.in == "none" {
		// receive only: the sender going quiet is how its stream ends
		options = append(options, func(c *rtpcall.Config) { c.SilenceEndsStream = true })
	}
	return runMedia(ctx, &f, cd, conn, remote, false, stdout, stderr, log, options...)
}
