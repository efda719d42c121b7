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
	// renderPeriod is how often received audio is committed to the sink when
	// nothing else wakes the loop; placement itself is sample-accurate.
	renderPeriod   = 5 * time.Millisecond
	statusInterval = time.Second
	// rtcpInterval is the mean report interval: RFC 3550's 5 s minimum scaled
	// by its 360/session-kbps rule for two 64 kbit/s senders comes to ~2.8 s.
	rtcpInterval = 2500 * time.Millisecond
	readPool     = 256
	// drainLimit bounds how long a call goes on playing what it holds
	// after the peer has left: what is queued plays within one playout
	// delay, and a buffer holding audio for later than this (a misbehaving
	// peer) is cut short.
	drainLimit = 500 * time.Millisecond
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
	sess, err := media.NewSession(cfg.Session)
	if err != nil {
		return media.Stats{}, "", err
	}
	c := &callLoop{
		cfg:     cfg,
		rng:     rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64())),
		log:     log,
		sess:    sess,
		remote:  net.UDPAddrFromAddrPort(cfg.Remote),
		epoch:   time.Now(),
		frame:   make([]int16, 160),
		packets: make(chan datagram, readPool),
		free:    make(chan *[media.MaxPacketSize]byte, readPool),
	}
	if cfg.Path != nil || cfg.RTCPPath != nil {
		limit := cfg.QueueLimit
		if limit == 0 {
			limit = 4096
		}
		c.delayLine = impair.NewReleaser(limit, media.MaxPacketSize)
	}
	return c.run(ctx)
}

type callLoop struct {
	cfg    Config
	log    *slog.Logger
	sess   *media.Session
	remote *net.UDPAddr
	epoch  time.Time
	rng    *rand.Rand // the call's own: RTCP report intervals

	frame       []int16
	framesSent  int64
	sourceDone  bool
	sourceErr   error
	frames      chan capturedFrame // from a paced source's goroutine
	frameBufs   chan []int16       // the capture goroutine's free frame buffers
	sentSR      bool               // a sender report has gone out since media began
	delayLine   *impair.Releaser
	dropped     uint64 // by the impairment model
	queueFull   uint64
	sendErrors  uint64
	packets     chan datagram
	free        chan *[media.MaxPacketSize]byte
	readErr     chan error
	nextReport  time.Duration
	nextStatus  time.Duration
	statusShown bool

	lastMediaSent  time.Duration // for keepalives (nat.go)
	sendAt         time.Duration // capture time of the frame being sent
	sendPacket     func([]byte)  // transmitMedia, bound once
	keepalivesSent uint64
	pathMoves      uint64 // verified peer address changes followed

	draining   bool          // the peer has left: play out what is queued, send nothing
	drainUntil time.Duration // ... until then at the latest
}

func (c *callLoop) now() time.Duration { return time.Since(c.epoch) }

func (c *callLoop) wall(d time.Duration) time.Time { return c.epoch.Add(d) }

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
			c.frameBufs <- make([]int16, len(c.frame))
		}
		captured := make(chan struct{})
		go func() { defer close(captured); c.capture(readCtx) }()
		// Run returns only once capture has: the caller closes the source
		// next. Bounded: the source delivers a frame every 20 ms, or gives
		// up (a sound card after its read timeout).
		defer func() { stopReading(); <-captured }()
	}
	if c.cfg.Source == nil {
		c.sourceDone = true
	}

	wake := time.NewTimer(renderPeriod)
	defer wake.Stop()
	c.sendReport(0) // an early first report gets RTT and clock mapping going
	c.nextReport = c.reportInterval()

	outcome, err := c.loop(ctx, wake)
	now := c.now()
	_ = c.sess.Render(now, c.write) // play what is due up to the hang-up
	if bye, berr := c.sess.Bye(); berr == nil {
		c.transmitNow(bye)
	}
	c.clearStatus()
	st := c.sess.Stats(now)
	c.pathStats(&st)
	if c.dropped > 0 || c.queueFull > 0 || c.sendErrors > 0 {
		c.log.Info("send path", "impairment_dropped", c.dropped, "delay_line_full", c.queueFull, "send_errors", c.sendErrors)
	}
	if err == nil && c.sourceErr != nil {
		err = c.sourceErr
	}
	return st, outcome, err
}

func (c *callLoop) loop(ctx context.Context, wake *time.Timer) (media.Outcome, error) {
	done := ctx.Done()
	for {
		select {
		case <-done:
			c.drainReceived()
			if c.sess.PeerLeft() {
				// The peer has hung up, and its RTCP BYE came first: the
				// cancellation is the same hang-up reaching us another
				// way (signaling). Play out what is queued (bounded by
				// drainLimit) as for the BYE alone.
				done = nil
				c.startDrain(c.now())
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
				c.sourceDone = true
				c.frames = nil
				c.flushSender(c.now())
				continue
			}
			if !c.draining {
				c.sendFrame(f.pcm, f.at)
			}
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

// untilNextWake is the time to the loop's next deadline: the next file frame
// due, the next delayed packet to release, or the next render, whichever is
// first. Waking exactly on time keeps the loop from adding jitter of its own.
func (c *callLoop) untilNextWake() time.Duration {
	now := c.now()
	next := now + renderPeriod
	if c.cfg.Source != nil && !c.cfg.SourcePaced && !c.sourceDone {
		next = min(next, time.Duration(c.framesSent+1)*c.sess.FrameDuration())
	}
	if c.delayLine != nil {
		if at, ok := c.delayLine.Next(); ok {
			next = min(next, at)
		}
	}
	return max(next-now, 0)
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

// step does the periodic work: capture from a file, release delayed packets,
// play what is due, report, refresh the status line, and decide to hang up.
func (c *callLoop) step() (media.Outcome, bool, error) {
	now := c.now()
	if c.cfg.Source != nil && !c.cfg.SourcePaced && !c.draining {
		c.captureDue(now)
	}
	if c.delayLine != nil {
		c.delayLine.Due(now, c.transmitNow)
	}
	c.drainReceived()
	c.keepAlive(now)
	if err := c.sess.Render(now, c.write); err != nil {
		return "", true, fmt.Errorf("rtpcall: playing out: %w", err)
	}
	// Besides the schedule, a sender report as soon as media has gone out:
	// the peer needs one to map our media clock to its own.
	if (now >= c.nextReport || !c.sentSR && c.sess.MediaSent()) && !c.draining {
		c.sendReport(now)
		c.sentSR = c.sess.MediaSent()
		c.nextReport = now + c.reportInterval()
	}
	if c.cfg.Status != nil && now >= c.nextStatus {
		c.showStatus(now)
		c.nextStatus = now + statusInterval
	}
	return c.shouldEnd(now)
}

func (c *callLoop) shouldEnd(now time.Duration) (media.Outcome, bool, error) {
	if c.cfg.Duration > 0 && now >= c.cfg.Duration {
		return media.EndedDuration, true, nil
	}
	if c.sess.PeerLeft() {
		if !c.draining {
			c.startDrain(now)
		}
		if c.sess.Idle() || now >= c.drainUntil {
			return media.EndedPeerBye, true, nil
		}
		return "", false, nil
	}
	timeout := c.cfg.PeerTimeout
	if timeout == 0 {
		timeout = 12 * time.Second
	}
	heard, ok := c.sess.LastHeard()
	if !ok {
		heard = 0
	}
	if now-heard > timeout {
		if _, any := c.sess.LastRTP(); any && c.cfg.SilenceEndsStream {
			return media.EndedStreamOver, true, nil
		}
		return media.EndedPeerTimeout, true, fmt.Errorf("rtpcall: nothing heard from the peer for %v", timeout.Round(time.Second))
	}
	if c.cfg.Source != nil && c.sourceDone && (c.delayLine == nil || c.delayLine.Len() == 0) && c.sess.Idle() {
		quiet := c.cfg.DrainQuiet
		if quiet == 0 {
			quiet = 500 * time.Millisecond
		}
		last, any := c.sess.LastRTP()
		if !any || now-last > quiet {
			return media.EndedSourceDone, true, nil
		}
	}
	return "", false, nil
}

// startDrain begins playing out, after the peer has left, what is queued:
// the last of its speech, which would otherwise be cut off by up to a
// playout delay. Nothing more is sent.
func (c *callLoop) startDrain(now time.Duration) {
	if !c.draining {
		c.draining, c.drainUntil = true, now+drainLimit
	}
}

// captureDue reads every file frame whose capture has completed by now: frame
// n covers [n, n+1) frame durations after the call began.
func (c *callLoop) captureDue(now time.Duration) {
	frameDur := c.sess.FrameDuration()
	for !c.sourceDone && time.Duration(c.framesSent+1)*frameDur <= now {
		if err := c.cfg.Source.ReadFrame(c.frame); err != nil {
			c.sourceDone = true
			if !errors.Is(err, io.EOF) {
				c.sourceErr = fmt.Errorf("rtpcall: reading input: %w", err)
				c.log.Warn("input ended early", "err", err)
			}
			c.flushSender(time.Duration(c.framesSent+1) * frameDur)
			return
		}
		c.sendFrame(c.frame, time.Duration(c.framesSent+1)*frameDur)
	}
}

func (c *callLoop) sendFrame(pcm []int16, at time.Duration) {
	c.framesSent++
	c.sendAt = at
	if c.sendPacket == nil {
		c.sendPacket = c.transmitMedia
	}
	if err := c.sess.SendPackets(pcm, at, c.sendPacket); err != nil {
		c.log.Warn("frame not sent", "err", err)
	}
}

// flushSender sends, at the end of the input, what the sender holds back:
// the last partial interleaving group and XOR parity group (Sender.Flush).
func (c *callLoop) flushSender(at time.Duration) {
	c.sendAt = at
	if c.sendPacket == nil {
		c.sendPacket = c.transmitMedia
	}
	if err := c.sess.Flush(c.sendPacket); err != nil {
		c.log.Warn("last packets not sent", "err", err)
	}
}

// transmitMedia sends one media (or parity) packet of the frame captured at c.sendAt.
func (c *callLoop) transmitMedia(pkt []byte) {
	c.lastMediaSent = c.sendAt
	c.transmit(c.cfg.Path, pkt, c.sendAt)
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

// transmit sends a packet through an impairment model, if there is one.
func (c *callLoop) transmit(path *impair.Path, pkt []byte, at time.Duration) {
	if path == nil {
		c.transmitNow(pkt)
		return
	}
	deliverAt, ok := path.Send(at)
	if !ok {
		c.dropped++
		return
	}
	if err := c.delayLine.Push(pkt, deliverAt); err != nil {
		c.queueFull++
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

func (c *callLoop) sendReport(now time.Duration) {
	b, err := c.sess.Report(now, c.wall(now))
	if err != nil {
		c.log.Warn("RTCP report not sent", "err", err)
		return
	}
	c.transmit(c.cfg.RTCPPath, b, now)
}

// reportInterval randomises the RTCP interval over [0.5, 1.5] times its mean
// (RFC 3550 section 6.3.1), so that reports from many endpoints do not align.
func (c *callLoop) reportInterval() time.Duration {
	return time.Duration(float64(rtcpInterval) * (0.5 + c.rng.Float64()))
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
	c.handleDatagram(d.buf[:d.n], d.arrival)
}

// handleDatagram hands a received datagram to the session and, when it was
// media of the peer's stream, records it in the trace.
func (c *callLoop) handleDatagram(b []byte, arrival time.Duration) {
	if c.sess.HandleDatagram(b, arrival, c.wall(arrival)) && c.cfg.Trace != nil {
		c.cfg.Trace.RecordDatagram(b, arrival)
	}
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
