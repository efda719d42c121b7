package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/spurtvoip/spurt/media"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/audio/device"
	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/rtpcall"
	"github.com/spurtvoip/spurt/signaling"
	"github.com/spurtvoip/spurt/signaling/negotiate"
)

// errPeerHungUp is the cause a call ends with when the signaling channel says so.
var errPeerHungUp = errors.New("peer hung up")

func listen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("listen", stderr)
	var f callFlags
	f.register(fs)
	addr := fs.String("addr", "0.0.0.0:7000", "TCP address to take calls on; media uses the same UDP port unless --rtp-port says otherwise")
	rtpPort := fs.Int("rtp-port", -1, "UDP port for media (default: the --addr port; 0 picks one)")
	codecs := fs.String("codecs", "pcmu,pcma", "codecs this side accepts, most preferred first")
	keep := fs.Bool("keep", false, "after a call, wait for the next one (until Ctrl-C); a caller with no common codec is refused, not the end")
	via := viaFlags{listener: true}
	via.register(fs)
	fs.Usage = helpFor(fs, stderr, "call listen [--addr 0.0.0.0:7000] [options]")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usageError{fmt.Errorf("listen takes no arguments, got %q (did you mean --addr?)", pos)}
	}
	if *rtpPort < -1 || *rtpPort > math.MaxUint16 {
		return usageError{fmt.Errorf("--rtp-port %d: want a UDP port from 0 to %d", *rtpPort, math.MaxUint16)}
	}
	if err := f.resolve(fs); err != nil {
		return usageError{err}
	}
	reg := codec.Default()
	supported, err := codecList(reg, *codecs)
	if err != nil {
		return usageError{err}
	}
	log := newLogger(stderr, f.verbose)
	if err := via.check(); err != nil {
		return usageError{err}
	}
	tcpAddr, err := netip.ParseAddrPort(*addr)
	if err != nil {
		return usageError{fmt.Errorf("--addr %q: want IP:PORT such as 0.0.0.0:7000: %w", *addr, err)}
	}
	if err := checkAudio(&f); err != nil {
		return err
	}
	if via.enabled() {
		if *keep {
			return usageError{errors.New("--keep takes calls on --addr; a --via room holds one call")}
		}
		return callVia(ctx, &f, &via, reg, supported, max(*rtpPort, 0), stdout, stderr, log)
	}

	port := int(tcpAddr.Port())
	if *rtpPort >= 0 {
		port = *rtpPort
	}
	udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tcpAddr.Addr(), uint16(port))))
	if err != nil {
		return fmt.Errorf("opening the media port: %w", err)
	}
	defer udp.Close()
	ln, err := signaling.Listen(*addr)
	if err != nil {
		return fmt.Errorf("listening for calls: %w", err)
	}
	defer ln.Close()
	log.Info("waiting for a call", "signaling", ln.Addr().String(), "media", udp.LocalAddr().String())

	local := func(conn *signaling.Conn) (netip.AddrPort, error) { return advertised(conn.LocalAddr(), udp) }
	prefs := preferences(reg, supported, &f, netip.AddrPort{})
	for calls := 1; ; calls++ {
		err := answerOne(ctx, &f, reg, ln, udp, prefs, local, *keep, stdout, stderr, log)
		if !*keep || ctx.Err() != nil {
			if *keep && calls > 1 && errors.Is(err, errInterrupted) {
				return nil // Ctrl-C is how --keep ends, once it has taken calls
			}
			return err
		}
		// --keep: one call's end, or failure, is not the listener's
		if err != nil {
			log.Warn("call failed", "err", err)
		}
		log.Info("waiting for the next call", "calls", calls, "signaling", ln.Addr().String())
	}
}

// answerOne takes the next caller on ln and talks with it until the call
// ends. With keep, a caller with no codec in common is refused and the wait
// goes on.
func answerOne(ctx context.Context, f *callFlags, reg *codec.Registry, ln *signaling.Listener, udp *net.UDPConn,
	prefs negotiate.Preferences, local func(*signaling.Conn) (netip.AddrPort, error), keep bool,
	stdout, stderr io.Writer, log *slog.Logger) error {
	// callCtx ends with this call, and with it the busy signal given to
	// callers meanwhile: the next wait takes them
	callCtx, endCall := context.WithCancel(ctx)
	defer endCall()
	caller, err := takeCall(callCtx, ln, prefs, local, keep, log)
	if err != nil {
		return err
	}
	if caller.conn == nil {
		return errInterrupted // Ctrl-C before anyone called
	}
	defer caller.conn.Close()
	agreed, err := negotiate.Agree(negotiate.Answerer, caller.offer, caller.answer, prefs)
	if err != nil {
		return fmt.Errorf("call from %s: %w", caller.conn.RemoteAddr(), err)
	}
	log.Info("incoming call", "from", caller.conn.RemoteAddr().String(), "codec", agreed.Codec.Name)
	return talk(ctx, f, reg, caller.conn, udp, agreed.Codec, agreed.PeerAddr, nil, stdout, stderr, log, schemeOption(agreed, log))
}

// maxOfferingCallers bounds the callers whose offers are read at once.
const maxOfferingCallers = 8

// caller is one connection's offer and our answer to it.
type caller struct {
	conn          *signaling.Conn
	offer, answer signaling.Session
	took          bool // it took the line (whether or not the answer then reached it)
	err           error
}

// takeCall waits for the first caller whose offer we can answer. Callers are
// read side by side (up to maxOfferingCallers), so one that connects and
// says nothing cannot hold the line against the next: the first acceptable
// offer takes it, later ones are told the line is busy. A caller with no
// codec in common ends the wait with that error, as the issue of codecs is
// this side's to report. A nil conn with a nil error means Ctrl-C came first.
func takeCall(ctx context.Context, ln *signaling.Listener, prefs negotiate.Preferences,
	local func(*signaling.Conn) (netip.AddrPort, error), keep bool, log *slog.Logger) (caller, error) {
	handshakes, stop := context.WithCancel(ctx)
	defer stop()
	accepted := make(chan *signaling.Conn)
	acceptErr := make(chan error, 1)
	go func() {
		for {
			conn, err := ln.Accept(handshakes)
			if err != nil {
				acceptErr <- err
				return
			}
			select {
			case accepted <- conn:
			case <-handshakes.Done():
				// the line was taken as this caller connected: it hears
				// so, not a bare close
				if ctx.Err() == nil {
					refuseBusy(conn)
				}
				conn.Close()
				return
			}
		}
	}()
	// Buffered for every handshake under way, so none blocks once we stop
	// listening to them.
	results := make(chan caller, maxOfferingCallers)
	var taken lineState
	offering := 0
	for {
		select {
		case conn := <-accepted:
			if offering == maxOfferingCallers {
				log.Warn("refused a caller: too many callers offering at once", "from", conn.RemoteAddr().String())
				// told so, not closed in silence; no lingering here, where
				// it would hold up the others
				_ = conn.Send(signaling.Message{Kind: signaling.KindError, Body: []byte("busy: too many callers at once")})
				conn.Close()
				continue
			}
			offering++
			go func() {
				c := caller{conn: conn}
				c.offer, c.answer, c.err = answerCall(handshakes, conn, prefs, local, func() bool {
					c.took = taken.take()
					return c.took
				})
				if c.err != nil {
					if ctx.Err() == nil && taken.held() && !c.took && !errors.Is(c.err, errLineBusy) {
						refuseBusy(conn) // another caller took the line meanwhile
					}
					conn.Close()
				}
				results <- c
			}()
		case c := <-results:
			offering--
			if c.err == nil {
				// stop() cuts the other handshakes short; callers from now
				// on hear that the line is busy until the call ends
				go refuseCallers(ctx, ln)
				return c, nil
			}
			if c.took {
				taken.release() // took the line, but the answer did not reach it
			}
			from := c.conn.RemoteAddr().String()
			switch {
			case errors.Is(c.err, io.EOF):
				// a connection that closed without a word (a port probe): keep waiting
				log.Debug("caller left before offering", "from", from)
			case errors.As(c.err, new(*signaling.NoCommonCodecError)) && !keep:
				return caller{}, fmt.Errorf("call from %s: %w", from, c.err)
			default:
				// garbage, an oversized or stalled message, or a busy line:
				// refuse this caller, keep listening
				log.Warn("refused a caller", "from", from, "err", c.err)
			}
		case err := <-acceptErr:
			if ctx.Err() != nil {
				return caller{}, nil // Ctrl-C before anyone called
			}
			return caller{}, fmt.Errorf("accepting a call: %w", err)
		}
	}
}

// lineState lets exactly one of the callers offering at once take the call.
type lineState struct {
	mu    sync.Mutex
	taken bool
}

func (l *lineState) take() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.taken {
		return false
	}
	l.taken = true
	return true
}

func (l *lineState) held() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.taken
}

func (l *lineState) release() {
	l.mu.Lock()
	l.taken = false
	l.mu.Unlock()
}

// errLineBusy is what a caller hears when another caller's offer took the line.
var errLineBusy = errors.New("busy: another caller took the line")

// refuseCallers tells every caller that the line is busy, until the
// listener closes.
func refuseCallers(ctx context.Context, ln *signaling.Listener) {
	lingering := make(chan struct{}, maxOfferingCallers) // refusals under way
	for {
		conn, err := ln.Accept(ctx)
		if err != nil {
			return
		}
		select {
		case lingering <- struct{}{}:
			go func() { // it lingers until the caller has read it
				refuseBusy(conn)
				<-lingering
			}()
		default: // a flood of callers: no time to linger for each
			_ = conn.Send(signaling.Message{Kind: signaling.KindError, Body: []byte(errLineBusy.Error())})
			conn.Close()
		}
	}
}

// refuseBusy sends a caller the busy signal, as an ERROR message, and closes
// the connection so that the caller reads it (signaling.Conn.Refuse).
func refuseBusy(conn *signaling.Conn) {
	conn.Refuse(errLineBusy.Error())
}

// answerCall reads one caller's offer and answers it as prefs say
// (negotiate.Answer), receiving at local's address. take is asked, once an
// answer is ready, whether this caller may have the line.
func answerCall(ctx context.Context, conn *signaling.Conn, prefs negotiate.Preferences,
	local func(*signaling.Conn) (netip.AddrPort, error), take func() bool) (offer, answer signaling.Session, err error) {
	prefs.RTPAddr, err = local(conn)
	if err != nil {
		return offer, answer, err
	}
	setupCtx, cancel := context.WithTimeout(ctx, signaling.DefaultTimeout)
	defer cancel()
	return conn.AnswerOffer(setupCtx, func(offer signaling.Session) (signaling.Session, error) {
		answer, err := negotiate.Answer(offer, prefs)
		if err == nil && !take() {
			return signaling.Session{}, errLineBusy
		}
		return answer, err
	})
}

func dial(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("dial", stderr)
	var f callFlags
	f.register(fs)
	rtpPort := fs.Int("rtp-port", 0, "UDP port for media (0 picks one)")
	codecs := fs.String("codecs", "pcmu,pcma", "codecs to offer, most preferred first")
	var via viaFlags
	via.register(fs)
	fs.Usage = helpFor(fs, stderr, "call dial HOST:PORT [options]")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if err := via.check(); err != nil {
		return usageError{err}
	}
	if *rtpPort < 0 || *rtpPort > math.MaxUint16 {
		return usageError{fmt.Errorf("--rtp-port %d: want a UDP port from 0 to %d", *rtpPort, math.MaxUint16)}
	}
	if via.enabled() && len(pos) > 0 {
		return usageError{fmt.Errorf("dial --via takes no HOST:PORT, got %q: the server puts the two sides together", pos)}
	}
	if !via.enabled() && len(pos) != 1 {
		return usageError{errors.New("dial takes one argument, the listener's HOST:PORT")}
	}
	if err := f.resolve(fs); err != nil {
		return usageError{err}
	}
	reg := codec.Default()
	offered, err := codecList(reg, *codecs)
	if err != nil {
		return usageError{err}
	}
	log := newLogger(stderr, f.verbose)
	if err := checkAudio(&f); err != nil {
		return err
	}
	if via.enabled() {
		return callVia(ctx, &f, &via, reg, offered, *rtpPort, stdout, stderr, log)
	}

	dialCtx, cancel := context.WithTimeout(ctx, signaling.DefaultTimeout)
	conn, err := signaling.Dial(dialCtx, pos[0])
	cancel()
	if err != nil {
		return fmt.Errorf("calling %s: %w", pos[0], err)
	}
	defer conn.Close()

	// media leaves from the address the signaling connection used, so the
	// listener can reach it back on the same path
	tcpLocal, _ := netip.ParseAddrPort(conn.LocalAddr().String())
	udp, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(tcpLocal.Addr().Unmap(), uint16(*rtpPort))))
	if err != nil {
		return fmt.Errorf("opening the media port: %w", err)
	}
	defer udp.Close()
	local, err := advertised(conn.LocalAddr(), udp)
	if err != nil {
		return err
	}
	prefs := preferences(reg, offered, &f, local)
	offer := negotiate.Offer(prefs)
	setupCtx, cancel := context.WithTimeout(ctx, signaling.DefaultTimeout)
	answer, err := conn.Offer(setupCtx, offer)
	cancel()
	if err != nil {
		return fmt.Errorf("calling %s: %w", pos[0], err)
	}
	agreed, err := negotiate.Agree(negotiate.Offerer, offer, answer, prefs)
	if err != nil {
		return fmt.Errorf("calling %s: %w", pos[0], err)
	}
	if !slices.ContainsFunc(offered, func(n string) bool { return strings.EqualFold(n, agreed.Codec.Name) }) {
		return fmt.Errorf("calling %s: the answer chose %s, which --codecs does not list", pos[0], agreed.Codec.Name)
	}
	log.Info("call connected", "peer", conn.RemoteAddr().String(), "media", agreed.PeerAddr.String())
	return talk(ctx, &f, reg, conn, udp, agreed.Codec, agreed.PeerAddr, nil, stdout, stderr, log, schemeOption(agreed, log))
}

// talk runs the media of a negotiated call until either side hangs up.
// onMessage, if set, gets what else the peer sends on the signaling
// channel meanwhile (BYE ends the call).
func talk(ctx context.Context, f *callFlags, reg *codec.Registry, sig *signaling.Conn, udp *net.UDPConn,
	format signaling.Format, remote netip.AddrPort, onMessage func(signaling.Message), stdout, stderr io.Writer, log *slog.Logger,
	options ...func(*rtpcall.Config)) error {
	cd, err := reg.ByName(format.Name)
	if err != nil {
		return fmt.Errorf("negotiated codec: %w", err)
	}
	if cd.PayloadType != format.PayloadType {
		return fmt.Errorf("negotiated codec %s with payload type %d; Spurt sends it as %d", cd.Name, format.PayloadType, cd.PayloadType)
	}
	callCtx, hangUp := context.WithCancelCause(ctx)
	defer hangUp(nil)
	go func() {
		// the signaling channel stays open for the call: BYE or a closed
		// connection from the peer ends the call here at once
		for {
			m, err := sig.Receive(callCtx)
			if err == nil && m.Kind == signaling.KindError {
				// the peer ended the call as failed (it heard nothing
				// from us): this side's end is a failure too
				hangUp(&peerFailedError{text: string(m.Body)})
				return
			}
			if err != nil || m.Kind == signaling.KindBye {
				hangUp(errPeerHungUp)
				return
			}
			if onMessage != nil {
				onMessage(m) // a --via call's fresh candidates (via.go)
			}
		}
	}()
	err = runMedia(callCtx, f, cd, udp, remote, true, stdout, stderr, log, options...)
	if errors.Is(err, media.ErrPeerSilent) {
		// tell the peer the call failed, so that it does not take our
		// RTCP BYE for an orderly hang-up: both sides then exit 1
		_ = sig.Send(signaling.Message{Kind: signaling.KindError,
			Body: fmt.Appendf(nil, "it heard nothing from us for %v", f.peerTimeout)})
		_ = sig.Close()
		return err
	}
	_ = sig.Bye()
	if pf := (*peerFailedError)(nil); err == nil && errors.As(context.Cause(callCtx), &pf) {
		return pf
	}
	return err
}

// peerFailedError is how a call ends when the peer hung up because the call
// failed at its end (it sent an ERROR, not a BYE).
type peerFailedError struct{ text string }

func (e *peerFailedError) Error() string {
	said := (&signaling.RemoteError{Text: e.text}).Error() // sanitised
	return "the peer ended the call as failed: " + strings.TrimPrefix(said, "signaling: peer reported error: ")
}

// runMedia opens the audio ends, runs the call and reports it.
func runMedia(ctx context.Context, f *callFlags, cd codec.Codec, conn *net.UDPConn, remote netip.AddrPort,
	strict bool, stdout, stderr io.Writer, log *slog.Logger, options ...func(*rtpcall.Config)) error {
	strategy, err := f.strategy()
	if err != nil {
		return usageError{err}
	}
	path, rtcpPath, err := f.path()
	if err != nil {
		return usageError{err}
	}
	f.announceSeed(stderr)
	detector, err := f.detector()
	if err != nil {
		return err
	}
	src, paced, err := openSource(f)
	if err != nil {
		return err
	}
	if src != nil {
		defer src.Close()
	}
	opened, err := openSink(f)
	if err != nil {
		return err
	}
	var sink audio.Sink
	played := &watchedSink{Sink: opened}
	if opened != nil {
		sink = played
	}
	var status io.Writer
	if !f.quiet {
		status = stderr
	}
	duration := f.duration
	cfg := rtpcall.Config{
		Session: media.SessionConfig{
			Codec:       cd,
			Strategy:    strategy,
			VAD:         detector,
			SSRC:        rand.Uint32(),
			InitialSeq:  uint16(rand.Uint32()),
			InitialTime: rand.Uint32(),
			CNAME:       cname(),
			DisablePLC:  !f.plc,
		},
		Conn:         conn,
		Remote:       remote,
		StrictSource: strict,
		Source:       src,
		SourcePaced:  paced,
		Sink:         sink,
		Path:         path,
		RTCPPath:     rtcpPath,
		Duration:     duration,
		PeerTimeout:  f.peerTimeout,
		Status:       status,
		Logger:       log,
	}
	traceOption, writeTrace, err := f.traceOption(cd)
	if err != nil {
		return usageError{err}
	}
	for _, option := range append(options, traceOption) {
		option(&cfg) // e.g. the NAT path of a --via call (via.go)
	}
	stats, outcome, runErr := rtpcall.Run(ctx, cfg)
	if err := writeTrace(); err != nil && runErr == nil {
		runErr = err
	}
	if sink != nil {
		if err := sink.Close(); err != nil && runErr == nil {
			runErr = fmt.Errorf("closing output: %w", err)
		}
	}
	if outcome == "" && played.err != nil {
		// the call went on until the output failed: its stats still count
		outcome = media.Outcome("output failed")
	}
	if outcome == "" {
		return runErr // the call never started: nothing to summarise
	}
	fmt.Fprint(stdout, media.Summary(stats, outcome))
	if f.statsJSON != "" {
		if err := writeJSON(f.statsJSON, f.statsReport(stats)); err != nil && runErr == nil {
			runErr = err
		}
	}
	return runErr
}

// checkAudio checks the call's audio ends before anyone is called or
// answered, so that a side without a sound card (or with a bad --in file)
// fails at once instead of taking a call it cannot carry. Devices are opened
// only when the media starts: a microphone opened while waiting for a caller
// would fill its buffer with stale audio.
func checkAudio(f *callFlags) error {
	_, tone, err := parseTone(f.in)
	switch {
	case err != nil:
		return usageError{err}
	case f.in == "none" || tone:
	case f.in != "":
		r, err := audio.OpenWAV(f.in)
		if err != nil {
			return usageError{fmt.Errorf("--in: %w", err)}
		}
		r.Close()
	default:
		if err := device.CheckInput(f.inDevice); err != nil {
			return fmt.Errorf("no microphone (use --in FILE.wav, --in tone:440 or --in none): %w", err)
		}
	}
	if f.out == "" {
		if err := device.CheckOutput(f.outDevice); err != nil {
			return fmt.Errorf("no speaker (use --out FILE.wav or --out none): %w", err)
		}
	}
	return nil // --out FILE, --stats-json and --trace-out: callFlags.checkFiles
}

// watchedSink remembers the first error writing to the call's output, so
// that a call ended by it (a full disk) still reports its statistics.
type watchedSink struct {
	audio.Sink
	err error
}

func (w *watchedSink) WriteSamples(pcm []int16) error {
	err := w.Sink.WriteSamples(pcm)
	if err != nil && w.err == nil {
		w.err = err
	}
	return err
}

func openSource(f *callFlags) (src audio.Source, paced bool, err error) {
	freq, tone, err := parseTone(f.in)
	switch {
	case err != nil:
		return nil, false, usageError{err}
	case f.in == "none":
		return nil, false, nil
	case tone:
		return audio.NewTone(freq, 8000, f.duration), false, nil
	case f.in != "":
		r, err := audio.OpenWAV(f.in)
		if err != nil {
			return nil, false, fmt.Errorf("--in: %w", err)
		}
		return r, false, nil
	default:
		s, err := device.OpenInput(f.inDevice)
		if err != nil {
			return nil, false, fmt.Errorf("opening the microphone (or use --in FILE.wav / --in none): %w", err)
		}
		return s, true, nil
	}
}

func openSink(f *callFlags) (audio.Sink, error) {
	switch f.out {
	case "none":
		return nil, nil
	case "":
		s, err := device.OpenOutput(f.outDevice)
		if err != nil {
			return nil, fmt.Errorf("opening the speaker (or use --out FILE.wav / --out none): %w", err)
		}
		return s, nil
	default:
		w, err := audio.CreateWAV(f.out)
		if err != nil {
			return nil, fmt.Errorf("--out: %w", err)
		}
		return w, nil
	}
}

// advertised is the media address to put in SDP: the UDP socket's port on the
// IP the signaling connection uses (a wildcard-bound socket has no IP of its own).
func advertised(sigLocal net.Addr, udp *net.UDPConn) (netip.AddrPort, error) {
	tcp, err := netip.ParseAddrPort(sigLocal.String())
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("local signaling address %s: %w", sigLocal, err)
	}
	u := udp.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(tcp.Addr().Unmap(), u.Port()), nil
}

// codecList checks a --codecs list against the registry.
func codecList(reg *codec.Registry, list string) ([]string, error) {
	var names []string
	for _, n := range strings.Split(list, ",") {
		n = strings.TrimSpace(n)
		if n == "" {
			continue
		}
		if _, err := reg.ByName(n); err != nil {
			return nil, fmt.Errorf("--codecs: %w", err)
		}
		names = append(names, strings.ToLower(n))
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("--codecs is empty (known: %s)", strings.Join(reg.Names(), ", "))
	}
	return names, nil
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding stats: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("writing --stats-json: %w", err)
	}
	return nil
}

func cname() string {
	host, err := os.Hostname()
	if err != nil {
		host = "localhost"
	}
	return fmt.Sprintf("spurt-%d@%s", os.Getpid(), host)
}

func devices(stdout io.Writer) error {
	list, err := device.List()
	if err != nil {
		return fmt.Errorf("listing sound devices: %w", err)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "no sound devices found")
		return nil
	}
	for _, d := range list {
		mark := ""
		if d.DefaultInput {
			mark += " [default input]"
		}
		if d.DefaultOutput {
			mark += " [default output]"
		}
		fmt.Fprintf(stdout, "%-40s %-8s in %d  out %d%s\n", d.Name, d.HostAPI, d.MaxInputChannels, d.MaxOutputChannels, mark)
	}
	return nil
}
