package media

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/impair"
)

// Timing of an endpoint's own work.
const (
	// RenderPeriod is how often an endpoint wants its Step called when
	// nothing else is due: received audio is committed to the output this
	// often; placement itself is sample-accurate.
	RenderPeriod = 5 * time.Millisecond
	// rtcpInterval is the mean report interval: RFC 3550's 5 s minimum
	// scaled by its 360/session-kbps rule for two 64 kbit/s senders comes
	// to ~2.8 s.
	rtcpInterval = 2500 * time.Millisecond
	// drainLimit bounds how long a call goes on playing what it holds
	// after the peer has left: what is queued plays within one playout
	// delay, and a buffer holding audio for later than this (a misbehaving
	// peer) is cut short.
	drainLimit = 500 * time.Millisecond
	// defaultPeerTimeout and defaultDrainQuiet stand in for zero settings.
	defaultPeerTimeout = 12 * time.Second
	defaultDrainQuiet  = 500 * time.Millisecond
	// defaultQueueLimit is how many packets the impairment delay line holds.
	defaultQueueLimit = 4096
)

// EndpointConfig configures an Endpoint: the session, where its output goes,
// the network impairment it emulates and when it hangs up.
type EndpointConfig struct {
	Session SessionConfig
	// Transmit sends a datagram to the peer at once (the shell's socket
	// write). Required. The slice is valid only during the call.
	Transmit func(pkt []byte)
	// Write plays received audio; nil discards it.
	Write func(pcm []int16) error
	// Source, if set, is read on the endpoint's own schedule: frame n once
	// n+1 frame durations have passed since Start (a file).
	Source audio.Source
	// PacedSource says the input keeps its own time (a sound card): the
	// shell hands its frames to Frame and its end to SourceEnded.
	PacedSource bool
	// Rand draws the RTCP report intervals. Required: the shell seeds it.
	Rand *rand.Rand
	// Epoch is the wall-clock time at which the endpoint's clock reads
	// zero; RTCP's NTP timestamps are read from it.
	Epoch time.Time

	// Path impairs the media (and parity) packets we send; nil for none.
	// RTCPPath impairs our RTCP reports; nil sends them unimpaired. Both
	// share one delay line of QueueLimit packets (4096 when zero).
	Path, RTCPPath *impair.Path
	QueueLimit     int

	Duration    time.Duration // hang up this long after Start; 0 for no limit
	PeerTimeout time.Duration // hang up when nothing is heard from the peer for this long; 12 s when zero
	// DrainQuiet is how long the peer's media must have paused, after our
	// source has ended and everything received has been played, before we
	// hang up; 500 ms when zero.
	DrainQuiet time.Duration
	// SilenceEndsStream makes the peer going silent, after it has sent
	// media, an orderly end (EndedStreamOver) rather than an error.
	SilenceEndsStream bool

	// Trace, if set, records the arrival of every RTP packet of the peer's
	// stream that the session accepts.
	Trace *TraceRecorder
	// MediaSent, if set, is told the capture time of every media or parity
	// packet as it is offered to the network, lost or not.
	MediaSent func(at time.Duration)
	Logger    *slog.Logger
}

// Endpoint is one side of a call as the real-time shell drives it: a Session
// plus the policy around it that needs a clock but not the wall: when a file
// frame is captured, when RTCP reports go, the emulated network our packets
// cross, and when and why the call ends. Time is always an argument; the
// shell calls Step at the time NextWake asks for (or sooner), and hands over
// what arrives with Receive, what a paced input captures with Frame.
type Endpoint struct {
	cfg  EndpointConfig
	sess *Session
	link *impair.Link // nil when nothing is impaired
	log  *slog.Logger

	start      time.Duration
	frame      []int16
	framesSent int64
	hasSource  bool
	sourceDone bool
	sourceErr  error
	sentSR     bool // a sender report has gone out since media began
	nextReport time.Duration
	draining   bool          // the peer has left: play out what is queued, send nothing
	drainUntil time.Duration // ... until then at the latest

	sendAt    time.Duration // capture time of the frame being sent
	sendMedia func([]byte)  // transmitMedia, bound once
	release   func([]byte, time.Duration)
}

// ErrPeerSilent is the error of a call that ended for hearing nothing from
// the peer; the error Step returns wraps it and says for how long.
var ErrPeerSilent = errors.New("nothing heard from the peer")

// NewEndpoint builds an endpoint and its session.
func NewEndpoint(cfg EndpointConfig) (*Endpoint, error) {
	if cfg.Transmit == nil {
		return nil, errors.New("media: an endpoint needs a way to transmit")
	}
	if cfg.Rand == nil {
		return nil, errors.New("media: an endpoint needs a random source for its RTCP intervals")
	}
	sess, err := NewSession(cfg.Session)
	if err != nil {
		return nil, err
	}
	e := &Endpoint{cfg: cfg, sess: sess, log: cfg.Logger, frame: make([]int16, sess.sender.frame)}
	if e.log == nil {
		e.log = slog.New(slog.DiscardHandler)
	}
	if cfg.Path != nil || cfg.RTCPPath != nil {
		limit := cfg.QueueLimit
		if limit == 0 {
			limit = defaultQueueLimit
		}
		e.link = impair.NewLink(limit, MaxPacketSize)
	}
	e.hasSource = cfg.Source != nil || cfg.PacedSource
	e.sourceDone = !e.hasSource
	e.sendMedia = e.transmitMedia
	e.release = func(pkt []byte, _ time.Duration) { e.cfg.Transmit(pkt) }
	return e, nil
}

// Session is the endpoint's RTP session, for its status and stats.
func (e *Endpoint) Session() *Session { return e.sess }

// FrameSamples is how many samples a frame handed to Frame holds.
func (e *Endpoint) FrameSamples() int { return len(e.frame) }

// Start begins the call at time now: the call's timers count from it, and
// an early first RTCP report gets RTT and the clock mapping going.
func (e *Endpoint) Start(now time.Duration) {
	e.start = now
	e.sendReport(now)
	e.nextReport = now + e.reportInterval()
}

// Frame sends a frame from a paced input that finished capturing at time at.
// Once the peer has left it is dropped: the endpoint sends nothing more.
func (e *Endpoint) Frame(pcm []int16, at time.Duration) {
	if !e.draining {
		e.sendFrame(pcm, at)
	}
}

// SourceEnded says a paced input has ended at time at: what the sender holds
// back goes out, and the call may end once what was received has played.
func (e *Endpoint) SourceEnded(at time.Duration) {
	e.sourceDone = true
	e.flushSender(at)
}

// SourceErr is why the input the endpoint read ended early, nil if it ended
// at its end (or has not).
func (e *Endpoint) SourceErr() error { return e.sourceErr }

// Receive hands the session a datagram that arrived at time arrival. It
// reports whether it was media of the peer's stream.
func (e *Endpoint) Receive(b []byte, arrival time.Duration) (media bool) {
	if !e.sess.HandleDatagram(b, arrival, e.cfg.Epoch.Add(arrival)) {
		return false
	}
	if e.cfg.Trace != nil {
		if held, at, ok := e.sess.receiver.Replayed(); ok {
			e.cfg.Trace.RecordDatagram(held, at) // the source's first, held through probation
		}
		e.cfg.Trace.RecordDatagram(b, arrival)
	}
	return true
}

// Cancel tells the endpoint at time now that the call is being cut short
// from outside. If the peer's BYE has already come, the cancellation is that
// same hang-up reaching us another way (signaling), which confirms the BYE
// without waiting for the peer's stream to stop (Session.PeerLeft): the
// endpoint plays out what is queued, as for the BYE alone, and Cancel reports
// true; the shell goes on stepping until Step ends the call.
func (e *Endpoint) Cancel(now time.Duration) (draining bool) {
	if !e.sess.PeerLeft(now) && !e.sess.ConfirmBye() {
		return false
	}
	e.startDrain(now)
	return true
}

// Step does the endpoint's work due by now: it captures the file frames due,
// releases the delayed packets due, plays what is due, sends an RTCP report
// when one is due, and decides whether the call ends. end says it does, with
// outcome saying why; a non-nil err says it failed (peer silence wraps
// ErrPeerSilent). Datagrams that have arrived by now should be handed to
// Receive first, so that playout never passes a slot whose packet is waiting.
func (e *Endpoint) Step(now time.Duration) (outcome Outcome, end bool, err error) {
	if e.cfg.Source != nil && !e.draining {
		e.captureDue(now)
	}
	if e.link != nil {
		e.link.Deliver(now, e.release)
	}
	if err := e.sess.Render(now, e.write); err != nil {
		return "", true, fmt.Errorf("playing out: %w", err)
	}
	// Besides the schedule, a sender report as soon as media has gone out:
	// the peer needs one to map our media clock to its own.
	if (now >= e.nextReport || !e.sentSR && e.sess.MediaSent()) && !e.draining {
		e.sendReport(now)
		e.sentSR = e.sess.MediaSent()
		e.nextReport = now + e.reportInterval()
	}
	return e.shouldEnd(now)
}

// NextWake is when, at time now, the endpoint next needs a Step: the next
// file frame due, the next delayed packet to release, or the next render,
// whichever is first. Waking exactly on time keeps the shell from adding
// jitter of its own.
func (e *Endpoint) NextWake(now time.Duration) time.Duration {
	next := now + RenderPeriod
	if e.cfg.Source != nil && !e.sourceDone {
		next = min(next, e.frameDue())
	}
	if e.link != nil {
		if at, ok := e.link.Next(); ok {
			next = min(next, at)
		}
	}
	return next
}

// HangUp ends the call at time now: it plays what is due and transmits the
// RTCP BYE at once.
func (e *Endpoint) HangUp(now time.Duration) {
	_ = e.sess.Render(now, e.write) // play what is due up to the hang-up
	if bye, err := e.sess.Bye(); err == nil {
		e.cfg.Transmit(bye)
	}
}

// Dropped is how many of our packets the emulated network lost.
func (e *Endpoint) Dropped() uint64 {
	if e.link == nil {
		return 0
	}
	return e.link.Lost()
}

// QueueFull is how many of our packets the emulated network's delay line had
// no room for.
func (e *Endpoint) QueueFull() uint64 {
	if e.link == nil {
		return 0
	}
	return e.link.Overflow()
}

func (e *Endpoint) shouldEnd(now time.Duration) (Outcome, bool, error) {
	if e.cfg.Duration > 0 && now-e.start >= e.cfg.Duration {
		return EndedDuration, true, nil
	}
	if e.sess.PeerLeft(now) {
		e.startDrain(now)
		if e.sess.Idle() || now >= e.drainUntil {
			return EndedPeerBye, true, nil
		}
		return "", false, nil
	}
	timeout := e.cfg.PeerTimeout
	if timeout == 0 {
		timeout = defaultPeerTimeout
	}
	heard, ok := e.sess.LastHeard()
	if !ok {
		heard = e.start
	}
	if now-heard > timeout {
		if _, any := e.sess.LastRTP(); any && e.cfg.SilenceEndsStream {
			return EndedStreamOver, true, nil
		}
		return EndedPeerTimeout, true, fmt.Errorf("%w for %v", ErrPeerSilent, timeout.Round(time.Second))
	}
	if e.hasSource && e.sourceDone && (e.link == nil || e.link.Len() == 0) && e.sess.Idle() {
		quiet := e.cfg.DrainQuiet
		if quiet == 0 {
			quiet = defaultDrainQuiet
		}
		last, any := e.sess.LastRTP()
		if !any || now-last > quiet {
			return EndedSourceDone, true, nil
		}
	}
	return "", false, nil
}

// startDrain begins playing out, after the peer has left, what is queued:
// the last of its speech, which would otherwise be cut off by up to a
// playout delay. Nothing more is sent.
func (e *Endpoint) startDrain(now time.Duration) {
	if !e.draining {
		e.draining, e.drainUntil = true, now+drainLimit
	}
}

// frameDue is when the next file frame has finished capturing: frame n
// covers [n, n+1) frame durations after the call began.
func (e *Endpoint) frameDue() time.Duration {
	return e.start + time.Duration(e.framesSent+1)*e.sess.FrameDuration()
}

// captureDue reads every file frame whose capture has completed by now.
func (e *Endpoint) captureDue(now time.Duration) {
	for !e.sourceDone && e.frameDue() <= now {
		if err := e.cfg.Source.ReadFrame(e.frame); err != nil {
			e.sourceDone = true
			if !errors.Is(err, io.EOF) {
				e.sourceErr = err
				e.log.Warn("input ended early", "err", err)
			}
			e.flushSender(e.frameDue())
			return
		}
		e.sendFrame(e.frame, e.frameDue())
	}
}

func (e *Endpoint) sendFrame(pcm []int16, at time.Duration) {
	e.framesSent++
	e.sendAt = at
	if err := e.sess.SendPackets(pcm, at, e.sendMedia); err != nil {
		e.log.Warn("frame not sent", "err", err)
	}
}

// flushSender sends, at the end of the input, what the sender holds back:
// the last partial interleaving group and XOR parity group (Sender.Flush).
func (e *Endpoint) flushSender(at time.Duration) {
	e.sendAt = at
	if err := e.sess.Flush(e.sendMedia); err != nil {
		e.log.Warn("last packets not sent", "err", err)
	}
}

// transmitMedia sends one media (or parity) packet of the frame captured at
// e.sendAt.
func (e *Endpoint) transmitMedia(pkt []byte) {
	if e.cfg.MediaSent != nil {
		e.cfg.MediaSent(e.sendAt)
	}
	e.transmit(e.cfg.Path, pkt, e.sendAt)
}

// transmit sends a packet through an impairment model, if there is one. A
// packet the model loses or the delay line cannot hold is counted (Dropped,
// QueueFull).
func (e *Endpoint) transmit(path *impair.Path, pkt []byte, at time.Duration) {
	if path == nil {
		e.cfg.Transmit(pkt)
		return
	}
	_, _ = e.link.SendOnce(path, pkt, at)
}

func (e *Endpoint) sendReport(now time.Duration) {
	b, err := e.sess.Report(now, e.cfg.Epoch.Add(now))
	if err != nil {
		e.log.Warn("RTCP report not sent", "err", err)
		return
	}
	e.transmit(e.cfg.RTCPPath, b, now)
}

// reportInterval randomises the RTCP interval over [0.5, 1.5] times its mean
// (RFC 3550 section 6.3.1), so that reports from many endpoints do not align.
func (e *Endpoint) reportInterval() time.Duration {
	return time.Duration(float64(rtcpInterval) * (0.5 + e.cfg.Rand.Float64()))
}

func (e *Endpoint) write(pcm []int16) error {
	if e.cfg.Write == nil {
		return nil
	}
	return e.cfg.Write(pcm)
}
