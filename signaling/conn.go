package signaling

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"github.com/spurtvoip/spurt/internal/ctxwait"
	"io"
	"net"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultTimeout bounds each Send and, once a message has started to arrive,
// the wait for the rest of it.
const DefaultTimeout = 10 * time.Second

// ErrBye is wrapped by Offer and AnswerOffer when the peer hung up (sent BYE)
// instead of answering.
var ErrBye = errors.New("peer sent BYE")

// RemoteError carries the text of an ERROR message: the peer's reason for
// giving up, e.g. that it shares no codec with us.
type RemoteError struct {
	Text string // as sent by the peer; untrusted
}

func (e *RemoteError) Error() string {
	return "signaling: peer reported error: " + printable(e.Text, 200)
}

// printable makes untrusted text safe to log: control characters become '?'
// and it is cut to at most limit bytes.
func printable(s string, limit int) string {
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "..."
	}
	return strings.Map(func(r rune) rune {
		if r == utf8.RuneError || !unicode.IsPrint(r) {
			return '?'
		}
		return r
	}, s)
}

// longAgo returns a deadline in the past; setting it unblocks pending I/O at once.
func longAgo() time.Time { return time.Unix(1, 0) }

// Conn is one end of a signaling channel: framed messages over TCP. Send and
// Receive may run concurrently with each other; concurrent Sends (or Receives)
// are serialised.
type Conn struct {
	nc           net.Conn
	stallTimeout time.Duration
	// keepOpenOnBadInput leaves the connection open when Receive gives up
	// on the incoming stream (garbage, a stall), so that the owner can
	// still send an ERROR saying why before it closes it (the rendezvous).
	keepOpenOnBadInput bool

	readMu  sync.Mutex
	br      *bufio.Reader
	readErr error // set once the incoming stream is out of step; guarded by readMu

	writeMu sync.Mutex
	wbuf    []byte // guarded by writeMu

	closeOnce sync.Once
	closeErr  error
}

func newConn(nc net.Conn) *Conn {
	return &Conn{nc: nc, stallTimeout: DefaultTimeout, br: bufio.NewReader(nc)}
}

// Dial connects to a signaling peer at addr ("host:port").
func Dial(ctx context.Context, addr string) (*Conn, error) {
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("signaling: dialing %s: %w", addr, err)
	}
	return newConn(nc), nil
}

// Listener accepts signaling connections.
type Listener struct {
	ln *net.TCPListener
	// turn holds a token while an Accept owns the listener's deadline.
	turn chan struct{}
}

// Listen listens for signaling connections on the TCP address addr.
func Listen(addr string) (*Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("signaling: listening on %s: %w", addr, err)
	}
	return &Listener{ln: ln.(*net.TCPListener), turn: make(chan struct{}, 1)}, nil
}

// Accept waits for the next connection. Cancelling ctx, or its deadline
// passing, unblocks it. Concurrent Accepts take turns.
func (l *Listener) Accept(ctx context.Context) (*Conn, error) {
	select {
	case l.turn <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("signaling: accepting: %w", ctx.Err())
	}
	defer func() { <-l.turn }()

	deadline, _ := ctx.Deadline() // zero if none, which clears an old one
	if err := l.ln.SetDeadline(deadline); err != nil {
		return nil, fmt.Errorf("signaling: accepting: %w", err)
	}
	stop := ctxwait.AfterFunc(ctx, func() { _ = l.ln.SetDeadline(longAgo()) })
	nc, err := l.ln.Accept()
	stop()
	if err != nil {
		if ctxErr := contextError(ctx, err); ctxErr != nil {
			return nil, fmt.Errorf("signaling: accepting: %w", ctxErr)
		}
		return nil, fmt.Errorf("signaling: accepting: %w", err)
	}
	return newConn(nc), nil
}

// Addr is the address the listener listens on.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// Close stops listening; a pending Accept returns an error.
func (l *Listener) Close() error {
	if err := l.ln.Close(); err != nil {
		return fmt.Errorf("signaling: closing listener: %w", err)
	}
	return nil
}

// Send writes m, giving up after DefaultTimeout. If the write fails the
// connection is closed, since the peer may have seen part of a message.
func (c *Conn) Send(m Message) error {
	err := c.write(m)
	if err != nil {
		_ = c.Close()
	}
	return err
}

// write writes m, giving up after DefaultTimeout, and leaves the connection
// open whatever happens: what the peer sent before may still be read.
func (c *Conn) write(m Message) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	buf, err := appendMessage(c.wbuf[:0], m)
	if err != nil {
		return fmt.Errorf("signaling: sending %v: %w", m.Kind, err)
	}
	c.wbuf = buf
	if err := c.nc.SetWriteDeadline(time.Now().Add(DefaultTimeout)); err != nil {
		return fmt.Errorf("signaling: sending %v: %w", m.Kind, err)
	}
	if _, err := c.nc.Write(buf); err != nil {
		return fmt.Errorf("signaling: sending %v: %w", m.Kind, err)
	}
	return nil
}

// lingerTimeout bounds how long a refusing side waits for the peer to read
// its ERROR and close (see Refuse).
const lingerTimeout = time.Second

// drainLimit bounds what a refusing side reads and throws away meanwhile.
const drainLimit = 64 << 10

// Refuse sends the peer an ERROR saying text and closes the connection so
// that the ERROR reaches it: closing a TCP socket with unread input sends a
// reset, which can destroy the ERROR on its way to the peer's reader. So
// Refuse shuts its sending side (the peer reads the ERROR, then EOF), reads
// and discards whatever the peer still sends, for at most lingerTimeout
// until the peer closes, and only then closes.
func (c *Conn) Refuse(text string) {
	if len(text) > MaxMessageSize {
		text = text[:MaxMessageSize]
	}
	if err := c.write(Message{Kind: KindError, Body: []byte(text)}); err == nil {
		c.linger()
	}
	_ = c.Close()
}

// linger half-closes the connection and drains the peer's input until it
// closes, lingerTimeout passes or drainLimit bytes came.
func (c *Conn) linger() {
	hc, ok := c.nc.(interface{ CloseWrite() error })
	if !ok || hc.CloseWrite() != nil {
		return
	}
	if c.nc.SetReadDeadline(time.Now().Add(lingerTimeout)) != nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c.nc, drainLimit))
}

// Receive reads the next message. It waits until a message arrives, the peer
// closes (an error wrapping io.EOF), or ctx is done. Once a message has begun,
// the rest must arrive within DefaultTimeout or by ctx's deadline, whichever
// is first. A protocol error, or a message cut short by the peer, a stall or
// ctx, closes the connection (the rendezvous server's own connections stay
// open for reading no more, so that it can send an ERROR first); ctx ending
// before a message begins leaves it usable.
func (c *Conn) Receive(ctx context.Context) (Message, error) {
	c.readMu.Lock()
	defer c.readMu.Unlock()
	if c.readErr != nil {
		return Message{}, fmt.Errorf("signaling: connection unusable after an earlier error: %w", c.readErr)
	}
	if err := ctx.Err(); err != nil {
		return Message{}, fmt.Errorf("signaling: receiving: %w", err)
	}

	deadline, hasDeadline := ctx.Deadline()
	if err := c.nc.SetReadDeadline(deadline); err != nil {
		return Message{}, fmt.Errorf("signaling: receiving: %w", err)
	}
	stop := ctxwait.AfterFunc(ctx, func() { _ = c.nc.SetReadDeadline(longAgo()) })
	defer stop()

	// Wait for the first byte with the caller's patience only.
	if _, err := c.br.Peek(1); err != nil {
		if ctxErr := contextError(ctx, err); ctxErr != nil {
			return Message{}, fmt.Errorf("signaling: waiting for a message: %w", ctxErr)
		}
		return Message{}, fmt.Errorf("signaling: reading message header: %w", err)
	}

	// The message has started: the peer gets stallTimeout to finish it.
	stall := time.Now().Add(c.stallTimeout)
	if hasDeadline && deadline.Before(stall) {
		stall = deadline
	}
	if err := c.nc.SetReadDeadline(stall); err != nil {
		return Message{}, fmt.Errorf("signaling: receiving: %w", err)
	}
	if err := ctx.Err(); err != nil {
		// Cancelled before the deadline above was set; nothing consumed yet.
		return Message{}, fmt.Errorf("signaling: waiting for a message: %w", err)
	}

	m, err := readMessage(c.br)
	if err != nil {
		switch ctxErr := contextError(ctx, err); {
		case ctxErr != nil:
			err = fmt.Errorf("%w (%w)", err, ctxErr)
		case errors.Is(err, os.ErrDeadlineExceeded):
			err = fmt.Errorf("%w (peer stalled mid-message for %v)", err, c.stallTimeout)
		}
		c.readErr = err
		if !c.keepOpenOnBadInput {
			_ = c.Close()
		}
		return Message{}, fmt.Errorf("signaling: %w", err)
	}
	return m, nil
}

// contextError says whether the I/O error err is down to ctx: cancelled, or its
// deadline (which was set on the socket) reached, even if ctx's own timer has
// not fired yet. It returns nil when err has another cause.
func contextError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if deadline, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// Close closes the connection. Later calls do nothing and return nil.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		if err := c.nc.Close(); err != nil {
			c.closeErr = fmt.Errorf("signaling: closing: %w", err)
		}
	})
	return c.closeErr
}

// RemoteAddr is the peer's address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// LocalAddr is this end's address: its IP is a good RTPAddr to advertise to
// this peer.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// Offer sends our offer and waits (ctx) for an ANSWER or ERROR; an ERROR body
// becomes a *RemoteError, a BYE an error wrapping ErrBye. An answer that does
// not parse or picks formats that were not offered is an error, and the peer
// is told so with an ERROR.
func (c *Conn) Offer(ctx context.Context, offer Session) (answer Session, err error) {
	body, err := offer.Marshal()
	if err != nil {
		return Session{}, err
	}
	if err := c.write(Message{Kind: KindOffer, Body: body}); err != nil {
		// The peer may have refused us (busy) and closed before our offer
		// went out: its ERROR, if it sent one, is still there to read.
		if m, rerr := c.receiveWithin(ctx, lingerTimeout); rerr == nil && m.Kind == KindError {
			_ = c.Close()
			return Session{}, &RemoteError{Text: string(m.Body)}
		}
		_ = c.Close()
		return Session{}, err
	}
	m, err := c.Receive(ctx)
	if err != nil {
		return Session{}, fmt.Errorf("signaling: waiting for answer: %w", err)
	}
	if err := expectKind(m, KindAnswer); err != nil {
		return Session{}, err
	}
	answer, err = parseSession(m.Body)
	if err == nil {
		err = checkAnswer(offer, answer)
	}
	if err != nil {
		err = fmt.Errorf("bad answer: %w", err)
		c.sendError(err)
		return Session{}, fmt.Errorf("signaling: %w", err)
	}
	return answer, nil
}

// checkAnswer verifies that every format in the answer was offered under the
// same payload type and name (RFC 3264 §6.1).
func checkAnswer(offer, answer Session) error {
	for _, a := range answer.Formats {
		i := slices.IndexFunc(offer.Formats, func(f Format) bool { return f.PayloadType == a.PayloadType })
		if i < 0 || !strings.EqualFold(offer.Formats[i].Name, a.Name) {
			return fmt.Errorf("answer format %d %s was not offered", a.PayloadType, a.Name)
		}
	}
	return nil
}

// AnswerOffer waits (ctx) for an OFFER and calls decide(offer) to build the
// answer. If the offer does not parse or decide fails, it sends ERROR with the
// error text to the peer and returns the error (wrapping decide's, so a
// *NoCommonCodecError stays reachable with errors.As); else it sends ANSWER.
// It returns the offer whenever one was parsed.
func (c *Conn) AnswerOffer(ctx context.Context, decide func(offer Session) (Session, error)) (offer, answer Session, err error) {
	if decide == nil {
		return Session{}, Session{}, errors.New("signaling: AnswerOffer needs a decide function")
	}
	m, err := c.Receive(ctx)
	if err != nil {
		return Session{}, Session{}, fmt.Errorf("signaling: waiting for offer: %w", err)
	}
	if err := expectKind(m, KindOffer); err != nil {
		return Session{}, Session{}, err
	}
	offer, err = parseSession(m.Body)
	if err != nil {
		err = fmt.Errorf("bad offer: %w", err)
		c.sendError(err)
		return Session{}, Session{}, fmt.Errorf("signaling: %w", err)
	}
	answer, err = decide(offer)
	if err != nil {
		c.sendError(err)
		return offer, Session{}, fmt.Errorf("signaling: answering offer: %w", err)
	}
	body, err := answer.Marshal()
	if err != nil {
		c.sendError(err)
		return offer, Session{}, err
	}
	if err := c.Send(Message{Kind: KindAnswer, Body: body}); err != nil {
		return offer, Session{}, err
	}
	return offer, answer, nil
}

// expectKind turns anything but the wanted kind into the matching error.
func expectKind(m Message, want Kind) error {
	switch m.Kind {
	case want:
		return nil
	case KindError:
		return &RemoteError{Text: string(m.Body)}
	case KindBye:
		return fmt.Errorf("signaling: waiting for %v: %w", want, ErrBye)
	default:
		return fmt.Errorf("signaling: waiting for %v, got %v", want, m.Kind)
	}
}

// sendError tells the peer why we give up; best effort.
func (c *Conn) sendError(err error) {
	text := err.Error()
	if len(text) > MaxMessageSize {
		text = text[:MaxMessageSize]
	}
	_ = c.Send(Message{Kind: KindError, Body: []byte(text)})
}

// receiveWithin is Receive, giving up after d.
func (c *Conn) receiveWithin(ctx context.Context, d time.Duration) (Message, error) {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return c.Receive(ctx)
}

// Bye sends BYE (best effort) and closes the connection.
func (c *Conn) Bye() error {
	_ = c.Send(Message{Kind: KindBye})
	return c.Close()
}
