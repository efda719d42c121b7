package signaling

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testTimeout bounds every network wait in these tests.
const testTimeout = 5 * time.Second

func listen(t *testing.T) *Listener {
	t.Helper()
	l, err := Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// rawPeer returns a Conn whose peer is a plain TCP socket the test drives byte
// by byte.
func rawPeer(t *testing.T) (*Conn, net.Conn) {
	t.Helper()
	l := listen(t)
	raw, err := net.DialTimeout("tcp", l.Addr().String(), testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = raw.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	c, err := l.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, raw
}

// connPair returns two connected Conns: the dialer (offerer) and the acceptor.
func connPair(t *testing.T) (dialer, acceptor *Conn) {
	t.Helper()
	l := listen(t)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	accepted := make(chan *Conn, 1)
	go func() {
		c, err := l.Accept(ctx)
		if err != nil {
			t.Error(err)
		}
		accepted <- c
	}()
	dialer, err := Dial(ctx, l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	acceptor = <-accepted
	if acceptor == nil {
		t.FailNow()
	}
	t.Cleanup(func() { _ = dialer.Close(); _ = acceptor.Close() })
	return dialer, acceptor
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// receiveBounded runs c.Receive(ctx) but fails the test, instead of hanging,
// if Receive has not returned within testTimeout.
func receiveBounded(t *testing.T, ctx context.Context, c *Conn) (Message, time.Duration, error) {
	t.Helper()
	type result struct {
		m   Message
		err error
	}
	results := make(chan result, 1)
	start := time.Now()
	go func() {
		m, err := c.Receive(ctx)
		results <- result{m, err}
	}()
	select {
	case r := <-results:
		return r.m, time.Since(start), r.err
	case <-time.After(testTimeout):
		_ = c.Close()
		<-results
		t.Fatalf("Receive still blocked after %v", testTimeout)
		return Message{}, 0, nil
	}
}

var (
	offererAddr  = netip.MustParseAddrPort("127.0.0.1:40000")
	answererAddr = netip.MustParseAddrPort("127.0.0.1:40002")
)

type answerResult struct {
	offer, answer Session
	err           error
}

func TestHappyExchange(t *testing.T) {
	offerer, answerer := connPair(t)
	ctx := testContext(t)
	done := make(chan answerResult, 1)
	go func() {
		var r answerResult
		r.offer, r.answer, r.err = answerer.AnswerOffer(ctx, func(offer Session) (Session, error) {
			return AnswerWith(offer, AnswerOptions{
				Supported:  []string{"pcmu", "pcma"},
				AlsoAccept: []string{"telephone-event"},
				RTPAddr:    answererAddr,
				SessionID:  9,
			})
		})
		done <- r
	}()

	offer := Session{
		SessionID: 5,
		Formats:   []Format{gsm, pcma, pcmu, dtmf},
		RTPAddr:   offererAddr,
		PTime:     DefaultPTime,
	}
	answer, err := offerer.Offer(ctx, offer)
	if err != nil {
		t.Fatalf("Offer: %v", err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("AnswerOffer: %v", r.err)
	}
	if r.offer.RTPAddr != offererAddr || len(r.offer.Formats) != 4 || r.offer.Formats[0].Name != "GSM" {
		t.Errorf("answerer saw offer %+v", r.offer)
	}
	if answer.RTPAddr != answererAddr || len(answer.Formats) != 2 ||
		answer.Formats[0] != pcma || answer.Formats[1] != dtmf || answer.SessionID != 9 {
		t.Errorf("offerer got answer %+v, want PCMA then telephone-event at %v", answer, answererAddr)
	}

	// Hang up: the peer sees BYE, then a clean io.EOF.
	if err := offerer.Bye(); err != nil {
		t.Errorf("Bye: %v", err)
	}
	m, err := answerer.Receive(ctx)
	if err != nil || m.Kind != KindBye || len(m.Body) != 0 {
		t.Fatalf("after Bye: %v %q, %v; want BYE", m.Kind, m.Body, err)
	}
	if _, err := answerer.Receive(ctx); !errors.Is(err, io.EOF) {
		t.Errorf("after BYE: %v, want io.EOF", err)
	}
}

func TestNoCommonCodecOverTheWire(t *testing.T) {
	offerer, answerer := connPair(t)
	ctx := testContext(t)
	done := make(chan answerResult, 1)
	go func() {
		var r answerResult
		r.offer, r.answer, r.err = answerer.AnswerOffer(ctx, func(offer Session) (Session, error) {
			return AnswerWith(offer, AnswerOptions{Supported: []string{"pcmu", "pcma"}, RTPAddr: answererAddr})
		})
		done <- r
	}()
	_, err := offerer.Offer(ctx, Session{Formats: []Format{gsm}, RTPAddr: offererAddr})
	var remote *RemoteError
	if !errors.As(err, &remote) {
		t.Fatalf("Offer: %v (%T), want *RemoteError", err, err)
	}
	const want = "no common codec: offered [gsm], supported [pcmu pcma]"
	if remote.Text != want {
		t.Errorf("remote error text %q, want %q", remote.Text, want)
	}
	r := <-done
	var nc *NoCommonCodecError
	if !errors.As(r.err, &nc) {
		t.Errorf("AnswerOffer: %v, want a *NoCommonCodecError inside", r.err)
	}
	if len(r.offer.Formats) != 1 {
		t.Errorf("AnswerOffer did not return the offer it refused: %+v", r.offer)
	}
}

func TestOfferHandlesBadAnswers(t *testing.T) {
	good, err := (Session{Formats: []Format{pcmu}, RTPAddr: answererAddr}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	unoffered, err := (Session{Formats: []Format{pcma}, RTPAddr: answererAddr}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		reply     Message
		check     func(error) bool
		wantError bool // whether the offerer should tell the peer with ERROR
	}{
		{"BYE", Message{Kind: KindBye}, func(err error) bool { return errors.Is(err, ErrBye) }, false},
		{"ERROR", Message{Kind: KindError, Body: []byte("busy\x1b[2J")}, func(err error) bool {
			var re *RemoteError
			return errors.As(err, &re) && re.Text == "busy\x1b[2J" && !strings.Contains(err.Error(), "\x1b")
		}, false},
		{"OFFER instead", Message{Kind: KindOffer, Body: good}, func(err error) bool {
			return strings.Contains(err.Error(), "got OFFER")
		}, false},
		{"unparsable", Message{Kind: KindAnswer, Body: []byte("nonsense")}, func(err error) bool {
			return strings.Contains(err.Error(), "bad answer")
		}, true},
		{"unoffered codec", Message{Kind: KindAnswer, Body: unoffered}, func(err error) bool {
			return strings.Contains(err.Error(), "was not offered")
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			offerer, peer := connPair(t)
			ctx := testContext(t)
			done := make(chan error, 1)
			go func() {
				_, err := offerer.Offer(ctx, Session{Formats: []Format{pcmu}, RTPAddr: offererAddr})
				done <- err
			}()
			m, err := peer.Receive(ctx)
			if err != nil || m.Kind != KindOffer {
				t.Fatalf("peer got %v, %v; want OFFER", m.Kind, err)
			}
			if err := peer.Send(tt.reply); err != nil {
				t.Fatal(err)
			}
			err = <-done
			if err == nil || !tt.check(err) {
				t.Fatalf("Offer error %v does not match", err)
			}
			if tt.wantError {
				m, err := peer.Receive(ctx)
				if err != nil || m.Kind != KindError || len(m.Body) == 0 {
					t.Errorf("peer got %v %q, %v; want an ERROR explaining", m.Kind, m.Body, err)
				}
			}
		})
	}
}

func TestAnswerOfferRejectsBadOffer(t *testing.T) {
	answerer, peer := connPair(t)
	ctx := testContext(t)
	if err := peer.Send(Message{Kind: KindOffer, Body: withHead("m=audio 5000 RTP/AVP 96", "a=rtcp-mux")}); err != nil {
		t.Fatal(err)
	}
	called := false
	_, _, err := answerer.AnswerOffer(ctx, func(Session) (Session, error) {
		called = true
		return Session{}, nil
	})
	if err == nil || called {
		t.Fatalf("AnswerOffer = %v, decide called %v; want error before decide", err, called)
	}
	m, err := peer.Receive(ctx)
	if err != nil || m.Kind != KindError || !strings.Contains(string(m.Body), "payload type 96") {
		t.Errorf("peer got %v %q, %v; want ERROR naming the problem", m.Kind, m.Body, err)
	}
}

func TestReceiveRejectsMalformed(t *testing.T) {
	tests := []struct {
		name string
		in   string
	}{
		{"oversized length", "SPURT/1 OFFER " + strconv.Itoa(MaxMessageSize+1) + "\n"},
		{"wrong magic", "HELLO/1 OFFER 1\nx"},
		{"unknown kind", "SPURT/1 INVITE 0\n"},
		{"non-numeric length", "SPURT/1 OFFER 1x\n"},
		{"header too long", strings.Repeat("S", 100) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, raw := rawPeer(t)
			if _, err := raw.Write([]byte(tt.in)); err != nil {
				t.Fatal(err)
			}
			_, err := c.Receive(testContext(t))
			if !errors.Is(err, ErrMalformed) || !strings.HasPrefix(err.Error(), "signaling: reading message header: ") {
				t.Fatalf("Receive: %v, want a wrapped ErrMalformed", err)
			}
			// The connection is closed: the raw peer reads EOF (or a reset).
			_ = raw.SetReadDeadline(time.Now().Add(testTimeout))
			if n, err := raw.Read(make([]byte, 1)); err == nil {
				t.Errorf("raw peer read %d bytes, want the connection closed", n)
			}
			if _, err := c.Receive(testContext(t)); err == nil {
				t.Error("Receive after a protocol error succeeded")
			}
		})
	}
}

func TestReceiveStallMidMessage(t *testing.T) {
	t.Run("context deadline", func(t *testing.T) {
		c, raw := rawPeer(t)
		if _, err := raw.Write([]byte("SPURT/1 OFFER 100\n0123456789")); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, elapsed, err := receiveBounded(t, ctx, c)
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "10 of 100 bytes") {
			t.Fatalf("Receive: %v, want a deadline error saying how far it got", err)
		}
		if elapsed > 2*time.Second {
			t.Errorf("Receive took %v to give up", elapsed)
		}
	})
	t.Run("stall timeout without context deadline", func(t *testing.T) {
		c, raw := rawPeer(t)
		c.stallTimeout = 150 * time.Millisecond
		if _, err := raw.Write([]byte("SPURT/1 ANSWER 50\nv=0")); err != nil {
			t.Fatal(err)
		}
		_, elapsed, err := receiveBounded(t, context.Background(), c)
		if !errors.Is(err, os.ErrDeadlineExceeded) || !strings.Contains(err.Error(), "stalled") {
			t.Fatalf("Receive: %v, want a stall timeout", err)
		}
		if elapsed < c.stallTimeout || elapsed > 2*time.Second {
			t.Errorf("Receive gave up after %v, want about %v", elapsed, c.stallTimeout)
		}
	})
	t.Run("stall in header", func(t *testing.T) {
		c, raw := rawPeer(t)
		c.stallTimeout = 150 * time.Millisecond
		if _, err := raw.Write([]byte("SPURT/1 OFF")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := receiveBounded(t, context.Background(), c); !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("Receive: %v, want a stall timeout", err)
		}
	})
}

func TestReceiveIdleTimeoutKeepsConnection(t *testing.T) {
	c, raw := rawPeer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := c.Receive(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("idle Receive: %v, want context.DeadlineExceeded", err)
	}
	if _, err := raw.Write([]byte("SPURT/1 BYE 0\n")); err != nil {
		t.Fatal(err)
	}
	m, err := c.Receive(testContext(t))
	if err != nil || m.Kind != KindBye {
		t.Fatalf("Receive after an idle timeout: %v, %v; want BYE", m.Kind, err)
	}
}

func TestReceiveCancel(t *testing.T) {
	c, _ := rawPeer(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	_, elapsed, err := receiveBounded(t, ctx, c)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Receive: %v, want context.Canceled", err)
	}
	if elapsed > 2*time.Second {
		t.Errorf("cancel took %v to unblock Receive", elapsed)
	}
	if _, err := c.Receive(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Receive with a done context: %v, want context.Canceled", err)
	}
}

func TestReceivePeerCloses(t *testing.T) {
	tests := []struct {
		name    string
		send    string
		wantEOF bool // clean hang-up rather than a cut message
	}{
		{"before any byte", "", true},
		{"after a whole message", "SPURT/1 BYE 0\n", true},
		{"mid-header", "SPURT/1 AN", false},
		{"mid-body", "SPURT/1 ANSWER 10\nv=0", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, raw := rawPeer(t)
			if _, err := raw.Write([]byte(tt.send)); err != nil {
				t.Fatal(err)
			}
			_ = raw.Close()
			ctx := testContext(t)
			var err error
			for range 2 { // at most one whole message precedes the close
				var m Message
				if m, err = c.Receive(ctx); err != nil || m.Kind != KindBye {
					break
				}
			}
			if tt.wantEOF != errors.Is(err, io.EOF) {
				t.Errorf("Receive: %v; want io.EOF: %v", err, tt.wantEOF)
			}
			if !tt.wantEOF && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("Receive: %v, want io.ErrUnexpectedEOF", err)
			}
		})
	}
}

func TestSendFraming(t *testing.T) {
	c, raw := rawPeer(t)
	if err := c.Send(Message{Kind: KindError, Body: []byte("nope")}); err != nil {
		t.Fatal(err)
	}
	_ = raw.SetReadDeadline(time.Now().Add(testTimeout))
	r := bufio.NewReader(raw)
	line, err := r.ReadString('\n')
	if err != nil || line != "SPURT/1 ERROR 4\n" {
		t.Fatalf("header %q, %v", line, err)
	}
	body := make([]byte, 4)
	if _, err := io.ReadFull(r, body); err != nil || string(body) != "nope" {
		t.Fatalf("body %q, %v", body, err)
	}
	if err := c.Send(Message{Kind: KindOffer, Body: make([]byte, MaxMessageSize+1)}); err == nil {
		t.Error("Send accepted an oversized body")
	}
	if err := c.Send(Message{}); err == nil {
		t.Error("Send accepted the zero Kind")
	}
}

func TestAcceptCancel(t *testing.T) {
	l := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		c, err := l.Accept(ctx)
		if c != nil {
			_ = c.Close()
		}
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Accept: %v, want context.Canceled", err)
		}
	case <-time.After(testTimeout):
		t.Fatal("Accept still blocked after cancel")
	}

	// A deadline unblocks it too, and the listener still works afterwards.
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := l.Accept(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Accept: %v, want context.DeadlineExceeded", err)
	}
	dialed := make(chan net.Conn, 1)
	go func() {
		raw, _ := net.DialTimeout("tcp", l.Addr().String(), testTimeout)
		dialed <- raw
	}()
	c, err := l.Accept(testContext(t))
	if raw := <-dialed; raw != nil {
		_ = raw.Close()
	}
	if err != nil {
		t.Fatalf("Accept after cancelled Accepts: %v", err)
	}
	_ = c.Close()
}

func TestAcceptAfterClose(t *testing.T) {
	l := listen(t)
	_ = l.Close()
	if _, err := l.Accept(testContext(t)); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept on a closed listener: %v, want net.ErrClosed", err)
	}
}

func TestDialFails(t *testing.T) {
	l := listen(t)
	addr := l.Addr().String()
	_ = l.Close()
	if c, err := Dial(testContext(t), addr); err == nil {
		_ = c.Close()
		t.Error("Dial to a closed port succeeded")
	} else if !strings.Contains(err.Error(), addr) {
		t.Errorf("Dial error %q does not name %s", err, addr)
	}
}

func TestRemoteErrorSanitises(t *testing.T) {
	e := &RemoteError{Text: "bad\r\nINJECT " + strings.Repeat("x", 1000) + "\xff"}
	msg := e.Error()
	if strings.ContainsAny(msg, "\r\n") || len(msg) > 300 || !strings.HasPrefix(msg, "signaling: peer reported error: bad??INJECT") {
		t.Errorf("Error() = %q", msg)
	}
}

// TestRefuseReachesAnOfferer: a side that refuses a caller whose offer it has
// not read (the line was busy) must still get its ERROR to the caller, even
// one that reads it late. A plain close with the offer unread sends a TCP
// reset, which destroys the ERROR before the caller reads it ("connection
// reset by peer").
func TestRefuseReachesAnOfferer(t *testing.T) {
	for i := range 5 {
		offerer, refuser := connPair(t)
		ctx := testContext(t)
		if err := offerer.Send(Message{Kind: KindOffer, Body: []byte("v=0\r\n")}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // the offer lands, unread
		refused := make(chan struct{})
		go func() { refuser.Refuse("busy: another caller took the line"); close(refused) }()
		time.Sleep(50 * time.Millisecond) // the caller is slow to read
		m, err := offerer.Receive(ctx)
		if err != nil || m.Kind != KindError || !strings.Contains(string(m.Body), "busy") {
			t.Fatalf("try %d: the offerer read %v %q, %v; want the busy ERROR", i, m.Kind, m.Body, err)
		}
		offerer.Close()
		<-refused
	}
}

// TestOfferReadsTheRefusalWhenItsWriteFails: a listener that refused us and
// reset the connection before our offer went out makes the offer's write
// fail; its ERROR came first and is still what the caller hears.
func TestOfferReadsTheRefusalWhenItsWriteFails(t *testing.T) {
	l := listen(t)
	ctx := testContext(t)
	refused := make(chan error, 1)
	dialed := make(chan struct{})
	go func() {
		raw, err := l.ln.Accept()
		if err != nil {
			refused <- err
			return
		}
		<-dialed // a reset during the caller's connect would fail the dial
		_, err = io.WriteString(raw, "SPURT/1 ERROR 4\nbusy")
		_ = raw.(*net.TCPConn).SetLinger(0) // close with a reset
		_ = raw.Close()
		refused <- err
	}()
	offerer, err := Dial(ctx, l.Addr().String())
	close(dialed)
	if err != nil {
		t.Fatal(err)
	}
	defer offerer.Close()
	if err := <-refused; err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the ERROR and the reset have arrived
	_, err = offerer.Offer(ctx, Session{SessionID: 5, Formats: []Format{pcmu}, RTPAddr: offererAddr, PTime: DefaultPTime})
	var remote *RemoteError
	if !errors.As(err, &remote) || remote.Text != "busy" {
		t.Fatalf("the offerer heard %v, want the busy ERROR", err)
	}
}
