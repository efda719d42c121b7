// Package rtpcall is the real-time shell of a call: it drives a
// media.Endpoint with the wall clock and wires it to what touches the world,
// a UDP socket and its reader goroutine, a sound card's capture goroutine,
// paths opened through NATs (and their renewal) and the live status line.
// The media policy itself is clockless and lives in media.
package rtpcall

import (
	"context"
	"errors"
	"fmt"
	"github.com/spurtvoip/spurt/media"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/impair"
)

// Config wires a Session to the outside world for one call.
type Config struct {
	Session media.SessionConfig
	Conn    net.PacketConn // the call's UDP socket; Run reads and writes it but does not close it
	Remote  netip.AddrPort // where media and RTCP go
	// StrictSource drops datagrams from anywhere but Remote (counted as rejected_source).
	StrictSource bool
	// NAT is the path OpenPath opened, if it did; Remote defaults to its
	// Remote. Then STUN on the media port is answered, media from any
	// address but the peer's is dropped (rejected_source), a binding
	// indication keeps the NATs open during silence, and the call follows
	// the peer to a new address only once it has answered our authenticated
	// check there (or sent one from there that is not a replay).
	NAT               *OpenedPath
	KeepaliveInterval time.Duration // DefaultKeepaliveInterval when zero

	Source      audio.Source // nil sends nothing
	SourcePaced bool         // the source blocks in real time (a sound card); files are paced by the wall clock
	Sink        audio.Sink   // nil discards what is played

	// Path impairs the media (and parity) packets we send; nil for none.
	Path *impair.Path
	// RTCPPath impairs our RTCP reports; nil sends them unimpaired. Give it
	// models of its own, seeded apart from Path's: reports leave at random
	// times, so drawing them from Path's models would make which media
	// packets are lost depend on when the reports went, and a seed would not
	// replay the media's impairment.
	RTCPPath   *impair.Path
	QueueLimit int // packets the impairment delay line holds; 4096 when zero

	Duration    time.Duration // hang up after this long; 0 for no limit
	PeerTimeout time.Duration // hang up when nothing is heard from the peer for this long; 12 s when zero
	// DrainQuiet is how long the peer's media must have paused, after our
	// source has ended and everything received has been played, before we
	// hang up; 500 ms when zero.
	DrainQuiet time.Duration
	// SilenceEndsStream makes the peer going silent, after it has sent
	// media, an orderly end (EndedStreamOver) rather than an error: in
	// signaling-free receive-only use, tools such as ffmpeg end a stream by
	// simply stopping.
	SilenceEndsStream bool

	Status io.Writer // the live status line; nil for none
	// Trace, if set, records the arrival of every RTP packet the session
	// accepts from the peer (see TraceRecorder).
	Trace  *media.TraceRecorder
	Logger *slog.Logger
}

const (
	statusInterval = time.Second
	readPool       = 256
)

// datagram is one packet handed from the reader goroutine to the loop.
type datagram struct {
	buf     *[media.MaxPacketSize]byte
	n       int
	from    netip.AddrPort
	arrival time.Duration
}

// Run holds a call until it ends: by ctx (whose cause is reported), Duration,
// the source's end, the peer's BYE or the peer going silent. It returns the
// final stats and why the call ended. A nil error means an orderly end.
func Run(ctx context.Context, cfg Config) (media.Stats, media.Outcome, error) {
	if cfg.NAT != nil && !cfg.Remote.IsValid() {
		cfg.Remote = cfg.NAT.Remote
	}
	cfg.Remote = netip.AddrPortFrom(cfg.Remote.Addr().Unmap(), cfg.Remote.Port())
	if cfg.Conn == nil || !cfg.Remote.IsValid() {
		return media.Stats{}, "", errors.New("rtpcall: a call needs a socket and a remote address")
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c := &callLoop{
		cfg:     cfg,
		log:     log,
		remote:  net.UDPAddrFromAddrPort(cfg.Remote),
		epoch:   time.Now(),
		packets: make(chan datagram, readPool),
		free:    make(chan *[media.MaxPacketSize]byte, readPool),
	}
	ecfg := media.EndpointConfig{
		Session:  cfg.Session,
		Transmit: c.transmitNow,
		Write:    c.write,
		// The call's own random source, for its RTCP report intervals.
		Rand:              rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		Epoch:             c.epoch,
		Path:              cfg.Path,
		RTCPPath:          cfg.RTCPPath,
		QueueLimit:        cfg.QueueLimit,
		Duration:          cfg.Duration,
		PeerTimeout:       cfg.PeerTimeout,
		DrainQuiet:        cfg.DrainQuiet,
		SilenceEndsStream: cfg.SilenceEndsStream,
		Trace:             cfg.Trace,
		MediaSent:         func(at time.Duration) { c.lastMediaSent = at },
		Logger:            log,
	}
	if cfg.Source != nil {
		if cfg.SourcePaced {
			ecfg.PacedSource = true // read by the capture goroutine
		} else {
			ecfg.Source = cfg.Source // read on the endpoint's schedule
		}
	}
	ep, err := media.NewEndpoint(ecfg)
	if err != nil {
		return media.Stats{}, "", err
	}
	c.ep, c.sess = ep, ep.Session()
	return c.run(ctx)
}

// callLoop is the real-time shell around a media.Endpoint: it owns the
// socket and its reader goroutine, a sound card's capture goroutine, the wall
// clock, the NAT path and the status line, and steps the endpoint on time.
type callLoop struct {
	cfg    Config
	log    *slog.Logger
	ep     *media.Endpoint
	sess   *media.Session // ep's
	remote *net.UDPAddr
	epoch  time.Time

	frames      chan capturedFrame // from a paced source's goroutine
	frameBufs   chan []int16       // the capture goroutine's free frame buffers
	sendErrors  uint64
	packets     chan datagram
	free        chan *[media.MaxPacketSize]byte
	readErr     chan error
	nextStatus  time.Duration
	statusShown bool

	lastMediaSent  time.Duration // for keepalives (nat.go); the endpoint reports media sent
	keepalivesSent uint64
	pathMoves      uint64 // verified peer address changes followed
}

func (c *callLoop) now() time.Duration { return time.Since(c.epoch) }

func (c *callLoop) run(ctx context.Context) (media.Stats, media.Outcome, error) {
	for range readPool {
		c.free <- new([media.MaxPacketSize]byte)
	}
	c.readErr = make(chan error, 1)
	readCtx, stopReading := context.WithCancel(context.Background())
	readDone := make(chan struct{})
	go func() { defer close(readDone); c.read(readCtx) }()
	defer func() {
		stopReading()
		_ = c.cfg.Conn.SetReadDeadline(time.Now()) // unblock the reader
		<-readDone
		_ = c.cfg.Conn.SetReadDeadline(time.Time{})
	}()

	if c.cfg.Source != nil && c.cfg.SourcePaced {
		c.frames = make(chan capturedFrame, captureQueue)
		c.frameBufs = make(chan []int16, captureQueue+1)
		for range captureQueue + 1 {
			c.frameBufs <- make([]int16, c.ep.FrameSamples())
		}
		captured := make(chan struct{})
		go func() { defer close(captured); c.capture(readCtx) }()
		// Run returns only once capture has: the caller closes the source
		// next. Bounded: the source delivers a frame every 20 ms, or gives
		// up (a sound card after its read timeout).
		defer func() { stopReading(); <-captured }()
	}
	wake := time.NewTimer(media.RenderPeriod)
	defer wake.Stop()
	c.ep.Start(0)

	outcome, err := c.loop(ctx, wake)
	now := c.now()
	c.ep.HangUp(now)
	c.clearStatus()
	st := c.sess.Stats(now)
	if outcome == media.EndedPeerTimeout {
		heard, _ := c.sess.LastHeard() // 0 if nothing came: silent since the start
		st.PeerWentSilent(now - heard)
	}
	c.pathStats(&st)
	if dropped, full := c.ep.Dropped(), c.ep.QueueFull(); dropped > 0 || full > 0 || c.sendErrors > 0 {
		c.log.Info("send path", "impairment_dropped", dropped, "delay_line_full", full, "send_errors", c.sendErrors)
	}
	if serr := c.ep.SourceErr(); err == nil && serr != nil {
		err = fmt.Errorf("rtpcall: reading input: %w", serr)
	}
	return st, outcome, err
}

func (c *callLoop) loop(ctx context.Context, wake *time.Timer) (media.Outcome, error) {
	done := ctx.Done()
	for {
		select {
		case <-done:
			c.drainReceived()
			if c.ep.Cancel(c.now()) {
				// The peer has hung up, and its RTCP BYE came first: the
				// cancellation is the same hang-up reaching us another
				// way (signaling). The endpoint plays out what is queued
				// as for the BYE alone; the steps below end the call.
				done = nil
				continue
			}
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				return media.Outcome(cause.Error()), nil
			}
			return media.EndedCancelled, nil
		case err := <-c.readErr:
			return "", fmt.Errorf("rtpcall: reading from the network: %w", err)
		case d := <-c.packets:
			c.receive(d)
		case f := <-c.frames:
			if f.pcm == nil {
				c.frames = nil
				c.ep.SourceEnded(c.now())
				continue
			}
			c.ep.Frame(f.pcm, f.at)
			c.frameBufs <- f.pcm
		case <-wake.C:
			outcome, done, err := c.step()
			if done || err != nil {
				return outcome, err
			}
			wake.Reset(c.untilNextWake())
		}
	}
}

// untilNextWake is the time to the endpoint's next deadline.
func (c *callLoop) untilNextWake() time.Duration {
	now := c.now()
	return max(c.ep.NextWake(now)-now, 0)
}

// drainReceived hands every datagram already read to the session, so that
// playout never passes a slot whose packet is waiting in the channel.
func (c *callLoop) drainReceived() {
	for {
		select {
		case d := <-c.packets:
			c.receive(d)
		default:
			return
		}
	}
}

// step does the periodic work: hand the endpoint what has arrived and step
// it (capture from a file, release delayed packets, play what is due,
// report, decide to hang up), keep the NAT path open and refresh the status
// line.
func (c *callLoop) step() (media.Outcome, bool, error) {
	now := c.now()
	c.drainReceived()
	outcome, end, err := c.ep.Step(now)
	if err != nil {
		err = fmt.Errorf("rtpcall: %w", err)
	}
	if end {
		return outcome, true, err
	}
	c.keepAlive(now)
	if c.cfg.Status != nil && now >= c.nextStatus {
		c.showStatus(now)
		c.nextStatus = now + statusInterval
	}
	return "", false, nil
}

// captureQueue is how many captured frames may wait for the loop.
const captureQueue = 8

// capturedFrame is a frame from a self-paced source and when its capture
// ended (when ReadFrame returned it); a nil pcm ends the source.
type capturedFrame struct {
	pcm []int16
	at  time.Duration
}

// capture runs a self-paced source (a sound card) in its own goroutine. It
// stamps each frame as it comes, so that time the loop spends elsewhere does
// not show as jitter, and reuses the loop's returned buffers.
func (c *callLoop) capture(ctx context.Context) {
	defer func() {
		select {
		case c.frames <- capturedFrame{}:
		case <-ctx.Done():
		}
	}()
	for {
		var f []int16
		select {
		case f = <-c.frameBufs:
		case <-ctx.Done():
			return
		}
		if ctx.Err() != nil {
			return // the call is over: read no more
		}
		if err := c.cfg.Source.ReadFrame(f); err != nil {
			if ctx.Err() == nil && !errors.Is(err, io.EOF) {
				c.log.Warn("input device stopped", "err", err)
			}
			return
		}
		select {
		case c.frames <- capturedFrame{pcm: f, at: c.now()}:
		case <-ctx.Done():
			return
		}
	}
}

func (c *callLoop) transmitNow(pkt []byte) {
	if _, err := c.cfg.Conn.WriteTo(pkt, c.remote); err != nil {
		c.sendErrors++
		if c.sendErrors == 1 {
			c.log.Warn("sending failed", "to", c.cfg.Remote, "err", err)
		}
	}
}

func (c *callLoop) write(pcm []int16) error {
	if c.cfg.Sink == nil {
		return nil
	}
	return c.cfg.Sink.WriteSamples(pcm)
}

func (c *callLoop) receive(d datagram) {
	defer func() { c.free <- d.buf }()
	if c.cfg.NAT != nil && c.handleNAT(d) {
		return
	}
	if c.cfg.StrictSource && netip.AddrPortFrom(d.from.Addr().Unmap(), d.from.Port()) != c.cfg.Remote {
		c.sess.RejectSource()
		return
	}
	c.ep.Receive(d.buf[:d.n], d.arrival)
}

// read is the socket reader: it stamps each datagram's arrival on the call's
// clock and passes it to the loop in a buffer from the free list.
func (c *callLoop) read(ctx context.Context) {
	for {
		var buf *[media.MaxPacketSize]byte
		select {
		case buf = <-c.free:
		case <-ctx.Done():
			return
		}
		n, from, err := c.readFrom(buf[:])
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.free <- buf
				continue
			}
			c.readErr <- err
			return
		}
		select {
		case c.packets <- datagram{buf: buf, n: n, from: from, arrival: c.now()}:
		case <-ctx.Done():
			return
		}
	}
}

func (c *callLoop) readFrom(b []byte) (int, netip.AddrPort, error) {
	if u, ok := c.cfg.Conn.(*net.UDPConn); ok {
		return u.ReadFromUDPAddrPort(b)
	}
	n, addr, err := c.cfg.Conn.ReadFrom(b)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	ap, _ := netip.ParseAddrPort(addr.String())
	return n, ap, nil
}
