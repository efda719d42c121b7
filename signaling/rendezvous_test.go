package signaling

import (
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startRendezvous serves a Rendezvous with cfg on 127.0.0.1 until the test
// ends and returns its address.
func startRendezvous(t *testing.T, cfg RendezvousConfig) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- NewRendezvous(cfg).Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(testTimeout):
			t.Error("Serve did not return after cancel")
		}
	})
	return ln.Addr().String()
}

func joinRoom(t *testing.T, addr, room, wantRole string) *Conn {
	t.Helper()
	c, role, err := JoinRoom(testContext(t), addr, room)
	if err != nil {
		t.Fatalf("joining %q: %v", room, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if role != wantRole {
		t.Fatalf("joined %q as %q, want %q", room, role, wantRole)
	}
	return c
}

// expectError waits for an ERROR containing text on c.
func expectError(t *testing.T, c *Conn, text string) {
	t.Helper()
	m, _, err := receiveBounded(t, testContext(t), c)
	if err != nil {
		t.Fatalf("waiting for ERROR %q: %v", text, err)
	}
	if m.Kind != KindError || !strings.Contains(string(m.Body), text) {
		t.Fatalf("got %v %q, want ERROR containing %q", m.Kind, m.Body, text)
	}
}

// expectClosed waits for c's connection to end.
func expectClosed(t *testing.T, c *Conn) {
	t.Helper()
	m, _, err := receiveBounded(t, testContext(t), c)
	if err == nil {
		t.Fatalf("got %v %q, want the connection closed", m.Kind, m.Body)
	}
}

func TestRendezvousCall(t *testing.T) {
	addr := startRendezvous(t, RendezvousConfig{})
	listener := joinRoom(t, addr, "kitchen", RoleListener)
	offerer := joinRoom(t, addr, "kitchen", RoleOfferer)

	// A full offer/answer through the relay.
	results := make(chan answerResult, 1)
	go func() {
		offer, answer, err := listener.AnswerOffer(testContext(t), func(offer Session) (Session, error) {
			return Answer(offer, []string{"PCMA"}, answererAddr)
		})
		results <- answerResult{offer, answer, err}
	}()
	offer := Session{SessionID: 7, Formats: []Format{
		{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
		{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
	}, RTPAddr: offererAddr}
	answer, err := offerer.Offer(testContext(t), offer)
	if err != nil {
		t.Fatalf("Offer through the rendezvous: %v", err)
	}
	r := <-results
	if r.err != nil {
		t.Fatalf("AnswerOffer through the rendezvous: %v", r.err)
	}
	if r.offer.RTPAddr != offererAddr || answer.RTPAddr != answererAddr || len(answer.Formats) != 1 || answer.Formats[0].Name != "PCMA" {
		t.Errorf("relayed offer %+v / answer %+v", r.offer, answer)
	}

	// A third member is refused while the two are in the room.
	_, _, err = JoinRoom(testContext(t), addr, "kitchen")
	var remote *RemoteError
	if !errors.As(err, &remote) || !strings.Contains(remote.Text, "room full") {
		t.Errorf("third member: %v, want a RemoteError saying the room is full", err)
	}

	// BYE is relayed, and ends the room for both.
	if err := offerer.Bye(); err != nil {
		t.Fatal(err)
	}
	m, _, err := receiveBounded(t, testContext(t), listener)
	if err != nil || m.Kind != KindBye {
		t.Fatalf("listener got %v, %v; want the relayed BYE", m.Kind, err)
	}
	expectClosed(t, listener)

	// The room name is free again.
	joinRoom(t, addr, "kitchen", RoleListener)
}

func TestRendezvousRoomsAreIsolated(t *testing.T) {
	addr := startRendezvous(t, RendezvousConfig{})
	a1 := joinRoom(t, addr, "one", RoleListener)
	b1 := joinRoom(t, addr, "two", RoleListener)
	a2 := joinRoom(t, addr, "one", RoleOfferer)
	b2 := joinRoom(t, addr, "two", RoleOfferer)
	for _, c := range []struct {
		from, to *Conn
		body     string
	}{{a2, a1, "for one"}, {b2, b1, "for two"}, {a1, a2, "back in one"}, {b1, b2, "back in two"}} {
		if err := c.from.Send(Message{Kind: KindOffer, Body: []byte(c.body)}); err != nil {
			t.Fatal(err)
		}
		m, _, err := receiveBounded(t, testContext(t), c.to)
		if err != nil || m.Kind != KindOffer || string(m.Body) != c.body {
			t.Fatalf("got %v %q (%v), want OFFER %q", m.Kind, m.Body, err, c.body)
		}
	}
}

func TestRendezvousExpiry(t *testing.T) {
	addr := startRendezvous(t, RendezvousConfig{RoomTimeout: 200 * time.Millisecond})
	start := time.Now()
	lonely := joinRoom(t, addr, "empty", RoleListener)
	expectError(t, lonely, "room expired")
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Errorf("room expired after %v, before its timeout", d)
	}
	expectClosed(t, lonely)
	joinRoom(t, addr, "empty", RoleListener)
}

func TestRendezvousRefusals(t *testing.T) {
	tests := []struct {
		name string
		cfg  RendezvousConfig
		// run makes the listener and offerer of room "r" misbehave, or not.
		run        func(t *testing.T, listener, offerer *Conn)
		toSender   string // ERROR text the misbehaving side gets
		toListener string // ERROR text the listener gets ("" when it is the sender)
	}{
		{
			name: "oversized message",
			cfg:  RendezvousConfig{MaxMessageSize: 100},
			run: func(t *testing.T, _, offerer *Conn) {
				_ = offerer.Send(Message{Kind: KindOffer, Body: make([]byte, 101)})
			},
			toSender: "exceeds the rendezvous limit", toListener: "peer left",
		},
		{
			name: "too many messages",
			cfg:  RendezvousConfig{MessagesPerSecond: 0.001, MessageBurst: 2},
			run: func(t *testing.T, listener, offerer *Conn) {
				for i := range 3 {
					_ = offerer.Send(Message{Kind: KindOffer, Body: []byte{byte('a' + i)}})
				}
				for _, want := range []string{"a", "b"} { // the burst is relayed
					m, _, err := receiveBounded(t, testContext(t), listener)
					if err != nil || string(m.Body) != want {
						t.Fatalf("listener got %q (%v), want %q", m.Body, err, want)
					}
				}
			},
			toSender: "more than 2 messages", toListener: "peer left",
		},
		{
			name: "offerer disconnects",
			run: func(t *testing.T, _, offerer *Conn) {
				_ = offerer.Close()
			},
			toListener: "peer left",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := startRendezvous(t, tt.cfg)
			listener := joinRoom(t, addr, "r", RoleListener)
			offerer := joinRoom(t, addr, "r", RoleOfferer)
			tt.run(t, listener, offerer)
			if tt.toSender != "" {
				expectError(t, offerer, tt.toSender)
			}
			if tt.toListener != "" {
				expectError(t, listener, tt.toListener)
			}
			expectClosed(t, listener)
			if tt.toSender != "" || tt.toListener == "" {
				expectClosed(t, offerer)
			}
		})
	}
}

// drainErrors reads ERRORs from c until it is closed and returns their texts.
func drainErrors(t *testing.T, c *Conn) []string {
	t.Helper()
	var texts []string
	for range 3 {
		m, _, err := receiveBounded(t, testContext(t), c)
		if err != nil {
			return texts
		}
		if m.Kind != KindError {
			t.Fatalf("got %v %q, want only ERRORs before the end", m.Kind, m.Body)
		}
		texts = append(texts, string(m.Body))
	}
	t.Fatalf("connection not closed after ERRORs %q", texts)
	return nil
}

func TestRendezvousConnectionTimeLimit(t *testing.T) {
	const limit = 300 * time.Millisecond
	addr := startRendezvous(t, RendezvousConfig{MaxConnTime: limit})
	start := time.Now()
	listener := joinRoom(t, addr, "r", RoleListener)
	offerer := joinRoom(t, addr, "r", RoleOfferer)
	// Both reach the limit at about the same time; whichever is first is
	// told so, and the other hears that its peer left (or its own limit).
	texts := append(drainErrors(t, listener), drainErrors(t, offerer)...)
	if d := time.Since(start); d < limit-50*time.Millisecond {
		t.Errorf("connections ended after %v, before the limit", d)
	}
	joined := strings.Join(texts, " | ")
	if !strings.Contains(joined, "connection time limit") {
		t.Errorf("ERRORs %q do not mention the time limit", joined)
	}
}

func TestRendezvousListenerAloneMaySayBye(t *testing.T) {
	addr := startRendezvous(t, RendezvousConfig{})
	listener := joinRoom(t, addr, "r", RoleListener)
	if err := listener.Send(Message{Kind: KindOffer, Body: []byte("too early")}); err != nil {
		t.Fatal(err)
	}
	expectError(t, listener, "no peer in the room yet")
	expectClosed(t, listener)

	again := joinRoom(t, addr, "r", RoleListener)
	if err := again.Bye(); err != nil {
		t.Fatal(err)
	}
	// The room is gone at once: the next member is its listener.
	deadline := time.Now().Add(testTimeout)
	for {
		c, role, err := JoinRoom(testContext(t), addr, "r")
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Close()
		if role == RoleListener {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("room still held after its only member said BYE")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRendezvousBadJoins(t *testing.T) {
	addr := startRendezvous(t, RendezvousConfig{JoinTimeout: 300 * time.Millisecond})
	frame := func(kind, body string) func(net.Conn) {
		return func(nc net.Conn) {
			_, _ = io.WriteString(nc, "SPURT/1 "+kind+" "+strconv.Itoa(len(body))+"\n"+body)
		}
	}
	tests := []struct {
		name string
		send func(nc net.Conn) // on a raw TCP connection
		want string            // in the ERROR; "" when the server just closes
	}{
		{"not JSON", frame("OFFER", "hello"), "JSON"},
		{"bad room name", frame("OFFER", `{"join":"a b/c"}`), "room name"},
		{"empty room name", frame("OFFER", `{"join":""}`), "room name"},
		{"long room name", frame("OFFER", `{"join":"`+strings.Repeat("x", 65)+`"}`), "room name"},
		{"room name not a string", frame("OFFER", `{"join":42}`), "JSON"},
		{"ANSWER first", frame("ANSWER", "{}"), "expected a join"},
		{"nothing at all", func(net.Conn) {}, "no join within"},
		{"garbage framing", func(nc net.Conn) { _, _ = io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") }, ""},
		{"binary junk", func(nc net.Conn) { _, _ = nc.Write([]byte{0, 1, 2, 0xff, '\n', 0x80}) }, ""},
	}
	for _, tt := range tests {
		nc, err := net.DialTimeout("tcp", addr, testTimeout)
		if err != nil {
			t.Fatal(err)
		}
		c := newConn(nc)
		tt.send(nc)
		if tt.want != "" {
			expectError(t, c, tt.want)
		}
		expectClosed(t, c)
		_ = c.Close()
	}
	// The server still works.
	joinRoom(t, addr, "after-garbage", RoleListener)
	joinRoom(t, addr, "after-garbage", RoleOfferer)

	if _, _, err := JoinRoom(testContext(t), addr, "no spaces"); err == nil {
		t.Error("JoinRoom accepted a room name with a space")
	}
}

func TestRendezvousBusy(t *testing.T) {
	addr := startRendezvous(t, RendezvousConfig{MaxConns: 1})
	joinRoom(t, addr, "r", RoleListener)
	_, _, err := JoinRoom(testContext(t), addr, "other")
	var remote *RemoteError
	if !errors.As(err, &remote) || !strings.Contains(remote.Text, "busy") {
		t.Errorf("second connection: %v, want a RemoteError saying the server is busy", err)
	}
}

func TestTokenBucket(t *testing.T) {
	start := time.Unix(1000, 0)
	b := tokenBucket{tokens: 2, last: start}
	steps := []struct {
		after time.Duration
		want  bool
	}{
		{0, true}, {0, true}, {0, false}, // burst of 2
		{499 * time.Millisecond, false}, // 2/s: not yet one token
		{time.Millisecond, true},
		{10 * time.Second, true}, {0, true}, {0, false}, // refills only up to the burst
	}
	now := start
	for i, s := range steps {
		now = now.Add(s.after)
		if got := b.take(now, 2, 2); got != s.want {
			t.Errorf("step %d: take = %v, want %v", i, got, s.want)
		}
	}
}
