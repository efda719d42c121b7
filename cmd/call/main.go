// Command call places and answers Spurt voice calls, and streams plain RTP
// for interoperability with other tools.
//
//	call listen --addr 0.0.0.0:7000          wait for a caller
//	call dial HOST:7000                      call a listener
//	call serve --addr 0.0.0.0:7000           rendezvous and STUN server for calls through NATs
//	call listen --via HOST:7000 --room R     meet through it (and dial --via ... --room R)
//	call stun --server HOST:7000             show this machine's public address
//	call rtp --local A --remote B            signaling-free RTP (ffmpeg, GStreamer)
//	call transcode --to gsm in.wav out.gsm   GSM 06.10 files, as toast makes them
//	call devices                             list sound cards
//	call bench --scenario wifi               loss and jitter benchmarks on a virtual clock
//
// Run `call help` or `call SUBCOMMAND -h` for the options.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

// usageError marks errors that come from how the command was invoked.
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(exitCode(err, os.Stderr))
}

// Exit codes (the README's table): 0 a call took place and ended (either side
// hung up, the input or --duration ran out), or help; 1 the call failed (no
// connection, busy, no common codec, the peer went silent); 2 a usage error;
// exitInterrupted Ctrl-C (or SIGTERM) before any call connected, as a shell
// reports a program killed by SIGINT.
const exitInterrupted = 130

// errInterrupted is the error of a side that Ctrl-C stopped while it waited
// for a call, directly or through a rendezvous server.
var errInterrupted = errors.New("interrupted before a call connected")

func exitCode(err error, stderr io.Writer) int {
	var u usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errInterrupted):
		fmt.Fprintf(stderr, "call: %v\n", err)
		return exitInterrupted
	case errors.As(err, &u):
		fmt.Fprintf(stderr, "call: %v\nRun 'call help' for usage.\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "call: %v\n", err)
		return 1
	}
}

const usage = `call places and answers Spurt voice calls.

Usage:
  call listen [--addr 0.0.0.0:7000] [options]   wait for one caller, then talk
  call dial HOST:PORT [options]                 call a listener
  call serve [--addr 0.0.0.0:7000]              rendezvous (TCP) and STUN (UDP) server for calls through NATs
  call listen|dial --via HOST:PORT --room NAME  meet through a rendezvous server, then talk directly
  call stun --server HOST:PORT [--server2 H:P]  print this machine's public address and the NAT's mapping
  call rtp --local ADDR --remote ADDR [options] plain RTP, no signaling (interop)
  call transcode --to gsm IN.wav OUT.gsm        convert WAV (or --raw PCM) to toast's .gsm frames
  call transcode --from gsm IN.gsm OUT.wav      and back
  call devices                                  list microphones and speakers
  call bench [--scenario wifi] [options]        loss and jitter benchmarks of the playout strategies on a
                                                virtual clock: a table, --json/--csv, --sweep k=..., --plot DIR
  call version                                  the version (also --version), from the build
  call help                                     this text

Run 'call help SUBCOMMAND' (or 'call SUBCOMMAND -h') for its options.
`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{errors.New("no subcommand")}
	}
	switch args[0] {
	case "listen":
		return listen(ctx, args[1:], stdout, stderr)
	case "dial":
		return dial(ctx, args[1:], stdout, stderr)
	case "rtp":
		return rtpMode(ctx, args[1:], stdout, stderr)
	case "serve":
		return serve(ctx, args[1:], stderr)
	case "stun":
		return stunCmd(ctx, args[1:], stdout, stderr)
	case "devices":
		if len(args) > 1 {
			if args[1] == "-h" || args[1] == "--help" || args[1] == "-help" {
				fmt.Fprintln(stderr, "Usage: call devices\n\nLists the microphones and speakers (for --in-device and --out-device).")
				return nil
			}
			return usageError{fmt.Errorf("devices takes no options or arguments, got %q", args[1:])}
		}
		return devices(stdout)
	case "transcode":
		return transcode(args[1:], stdout, stderr)
	case "bench":
		return benchCmd(ctx, args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintf(stdout, "call %s\n", version())
		return nil
	case "help", "-h", "--help":
		if len(args) > 1 && args[0] == "help" {
			if args[1] == "help" || args[1] == "version" {
				fmt.Fprint(stdout, usage)
				return nil
			}
			// call help bench: the subcommand's own help, on stdout as
			// `call help` is, so that it can be paged
			return run(ctx, []string{args[1], "-h"}, stdout, stdout)
		}
		fmt.Fprint(stdout, usage)
		return nil
	default:
		return usageError{fmt.Errorf("unknown subcommand %q", args[0])}
	}
}

func newLogger(stderr io.Writer, verbose bool) *slog.Logger {
	level := slog.LevelInfo
	if verbose {
		level = slog.LevelDebug
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
}

// newFlagSet makes a subcommand's flag set that reports errors to the caller
// instead of exiting, and prints its help (-h) to stderr.
func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("call "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = helpFor(fs, stderr, "call "+name+" [options]")
	return fs
}

// parse parses a subcommand's arguments, turning flag errors into one-line
// usage errors (the flag package's own message and usage are not printed);
// -h prints the help.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	help, out := fs.Usage, fs.Output()
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	pos, err := parseInterspersed(fs, joinBoolValues(fs, args))
	fs.Usage = help
	fs.SetOutput(out)
	switch {
	case errors.Is(err, flag.ErrHelp):
		if help != nil {
			help()
		} else {
			fs.PrintDefaults()
		}
		return nil, err
	case err != nil:
		return nil, usageError{explainFlagError(fs, err)}
	}
	return pos, nil
}
