package signaling

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"strings"
	"sync"
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
			return AnswerWith(offer, AnswerOptions{Supported: []string{"PCMA"}, RTPAddr: answererAddr})
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

// lockedBuffer is a log sink safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestRendezvousBadJoins(t *testing.T) {
	var logs lockedBuffer
	addr := startRendezvous(t, RendezvousConfig{
		JoinTimeout: 600 * time.Millisecond,
		Logger:      slog.New(slog.NewTextHandler(&logs, nil)),
	})
	frame := func(kind, body string) func(net.Conn) {
		return func(nc net.Conn) {
			_, _ = io.WriteString(nc, "SPURT/1 "+kind+" "+strconv.Itoa(len(body))+"\n"+body)
		}
	}
	tests := []struct {
		name string
		send func(nc net.Conn) // on a raw TCP connection
		want string            // in the ERROR
	}{
		{"not JSON", frame("OFFER", "hello"), "JSON"},
		{"a call's offer", frame("OFFER", "v=0\r\no=- 5 1 IN IP4 127.0.0.1\r\n"), "use call dial --via"},
		{"bad room name", frame("OFFER", `{"join":"a b/c"}`), "room name"},
		{"empty room name", frame("OFFER", `{"join":""}`), "room name"},
		{"long room name", frame("OFFER", `{"join":"`+strings.Repeat("x", 65)+`"}`), "room name"},
		{"room name not a string", frame("OFFER", `{"join":42}`), "JSON"},
		{"ANSWER first", frame("ANSWER", "{}"), "expected a join"},
		{"nothing at all", func(net.Conn) {}, "no complete join within 600ms"},
		{"HTTP", func(nc net.Conn) { _, _ = io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n\r\n") }, "not Spurt signaling"},
		{"binary junk", func(nc net.Conn) { _, _ = nc.Write([]byte{0, 1, 2, 0xff, '\n', 0x80}) }, "not Spurt signaling"},
		{"oversized length", func(nc net.Conn) { _, _ = io.WriteString(nc, "SPURT/1 OFFER 999999\n") }, "exceeds"},
		{"endless header", func(nc net.Conn) { _, _ = io.WriteString(nc, strings.Repeat("SPURT", 100)) }, "header line longer"},
		{"join cut short", func(nc net.Conn) { _, _ = io.WriteString(nc, "SPURT/1 OFFER 40\n{\"join\"") }, "no complete join within 600ms"},
		{"join trickling in", func(nc net.Conn) {
			// One byte every 100 ms: it would take 2.5 s, over the limit.
			for _, b := range []byte("SPURT/1 OFFER 15\n{\"join\":\"r\"}") {
				if _, err := nc.Write([]byte{b}); err != nil {
					return
				}
				time.Sleep(100 * time.Millisecond)
			}
		}, "no complete join within 600ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nc, err := net.DialTimeout("tcp", addr, testTimeout)
			if err != nil {
				t.Fatal(err)
			}
			c := newConn(nc)
			defer c.Close()
			go tt.send(nc)
			expectError(t, c, tt.want)
			expectClosed(t, c)
		})
	}
	// The server still works.
	joinRoom(t, addr, "after-garbage", RoleListener)
	joinRoom(t, addr, "after-garbage", RoleOfferer)

	if _, _, err := JoinRoom(testContext(t), addr, "no spaces"); err == nil {
		t.Error("JoinRoom accepted a room name with a space")
	}
	// Each refusal is in the log at WARN, naming the remote address.
	out := logs.String()
	for _, want := range []string{"not Spurt signaling", "no complete join", "room name"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for line := range strings.Lines(out) {
		if strings.Contains(line, "not Spurt signaling") && (!strings.Contains(line, "level=WARN") || !strings.Contains(line, "remote=127.0.0.1:")) {
			t.Errorf("bad input logged as %q, want WARN with the remote address", line)
		}
	}
}

// TestRendezvousBadInputFromMember: garbage from a member of a room gets
// it an ERROR, and its peer hears that it left.
func TestRendezvousBadInputFromMember(t *testing.T) {
	addr := startRendezvous(t, RendezvousConfig{})
	listener := joinRoom(t, addr, "r", RoleListener)
	nc, err := net.DialTimeout("tcp", addr, testTimeout)
	if err != nil {
		t.Fatal(err)
	}
	offerer := newConn(nc)
	defer offerer.Close()
	if role, err := join(testContext(t), offerer, "r"); err != nil || role != RoleOfferer {
		t.Fatalf("join: %q, %v", role, err)
	}
	_, _ = io.WriteString(nc, "HELLO THERE\n")
	expectError(t, offerer, "not Spurt signaling")
	expectError(t, listener, "peer left")
}

// dialFrom connects to addr from the local IP from (any 127.0.0.0/8
// address works on Linux loopback).
func dialFrom(t *testing.T, from, addr string) *Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: testTimeout}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dialing %s from %s: %v", addr, from, err)
	}
	c := newConn(nc)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// TestRendezvousFloodFromOneAddress: one address opening more connections
// than the whole server holds, half of them opening rooms and half sending
// nothing, neither takes every slot nor locks another address out.
func TestRendezvousFloodFromOneAddress(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs 127.0.0.2 on the loopback interface (Linux)")
	}
	addr := startRendezvous(t, RendezvousConfig{}) // the default limits
	var (
		rooms    int
		refusals = map[string]int{}
	)
	for i := range DefaultMaxRendezvousConns + 44 {
		c := dialFrom(t, "127.0.0.1", addr)
		if i%2 == 1 {
			continue // holds its connection without a word
		}
		role, err := join(testContext(t), c, fmt.Sprintf("flood-%d", i))
		var remote *RemoteError
		switch {
		case err == nil && role == RoleListener:
			rooms++
		case errors.As(err, &remote) && strings.Contains(remote.Text, "connections from one address"):
			refusals["connections"]++
		case errors.As(err, &remote) && strings.Contains(remote.Text, "rooms waiting"):
			refusals["rooms"]++
		default:
			t.Fatalf("flood join %d: role %q, %v", i, role, err)
		}
	}
	t.Logf("flood from 127.0.0.1: %d rooms opened, refusals %v", rooms, refusals)
	if rooms != DefaultMaxRoomsPerSource || refusals["rooms"] == 0 || refusals["connections"] == 0 {
		t.Errorf("flood opened %d rooms (want %d), refusals %v (want both kinds)", rooms, DefaultMaxRoomsPerSource, refusals)
	}

	// Meanwhile another address calls as if nothing happened.
	listener := dialFrom(t, "127.0.0.2", addr)
	if role, err := join(testContext(t), listener, "kitchen"); err != nil || role != RoleListener {
		t.Fatalf("127.0.0.2 joining: %q, %v", role, err)
	}
	offerer := dialFrom(t, "127.0.0.2", addr)
	if role, err := join(testContext(t), offerer, "kitchen"); err != nil || role != RoleOfferer {
		t.Fatalf("127.0.0.2 joining second: %q, %v", role, err)
	}
	if err := offerer.Send(Message{Kind: KindOffer, Body: []byte("v=0")}); err != nil {
		t.Fatal(err)
	}
	if m, _, err := receiveBounded(t, testContext(t), listener); err != nil || m.Kind != KindOffer {
		t.Fatalf("relayed offer: %v %v", m.Kind, err)
	}
}

// eventually retries try every 20 ms until it succeeds or testTimeout
// passes: the server frees a refused connection's place just after the
// refusal reaches the client.
func eventually(t *testing.T, what string, try func() error) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		err := try()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestRendezvousSourceLimits: the per-source limits are counted per
// address, and freed when connections and rooms go.
func TestRendezvousSourceLimits(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("needs 127.0.0.2 on the loopback interface (Linux)")
	}
	addr := startRendezvous(t, RendezvousConfig{MaxConnsPerSource: 4, MaxRoomsPerSource: 2})
	one := joinRoom(t, addr, "one", RoleListener)
	joinRoom(t, addr, "two", RoleListener)
	_, _, err := JoinRoom(testContext(t), addr, "three")
	var remote *RemoteError
	if !errors.As(err, &remote) || !strings.Contains(remote.Text, "more than 2 rooms") {
		t.Fatalf("third room: %v, want a refusal naming the limit of 2 rooms", err)
	}
	// A peer may still join a waiting room; then it no longer counts as
	// waiting, and the source may open another.
	joinRoom(t, addr, "one", RoleOfferer)
	var three *Conn
	eventually(t, "opening a room after one filled", func() error {
		c, role, err := JoinRoom(testContext(t), addr, "three")
		if err == nil && role != RoleListener {
			t.Fatalf("three: role %q", role)
		}
		three = c
		return err
	})
	t.Cleanup(func() { _ = three.Close() })
	// Four connections are open: a fifth is refused at once.
	idle := dialFrom(t, "127.0.0.1", addr)
	if m, _, err := receiveBounded(t, testContext(t), idle); err != nil || m.Kind != KindError || !strings.Contains(string(m.Body), "more than 4 connections") {
		t.Fatalf("fifth connection: %v %q %v, want an ERROR naming the limit of 4", m.Kind, m.Body, err)
	}
	// Another address is not affected.
	for _, room := range []string{"four", "five"} {
		other := dialFrom(t, "127.0.0.2", addr)
		if role, err := join(testContext(t), other, room); err != nil || role != RoleListener {
			t.Fatalf("127.0.0.2 opening %s: %q, %v", room, role, err)
		}
	}
	// Closing a connection frees its place (and ends its room, whose
	// other member goes too).
	_ = one.Close()
	eventually(t, "a place after closing a connection", func() error {
		c, role, err := JoinRoom(testContext(t), addr, "two")
		if err == nil {
			_ = c.Close()
			if role != RoleOfferer {
				t.Fatalf("joining two: role %q", role)
			}
		}
		return err
	})
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
