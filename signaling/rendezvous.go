package signaling

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"
)

// Roles JoinRoom reports.
const (
	// RoleListener is the first member of a room: it waits for the OFFER
	// (Conn.AnswerOffer) like the accepting side of a direct call.
	RoleListener = "listener"
	// RoleOfferer is the second member: it sends the OFFER (Conn.Offer).
	RoleOfferer = "offerer"
)

// Defaults for a zero RendezvousConfig field.
const (
	DefaultRoomTimeout        = 5 * time.Minute
	DefaultMaxConnTime        = 4 * time.Hour
	DefaultJoinTimeout        = 5 * time.Second
	DefaultRelayMessageSize   = 16 << 10
	DefaultMessagesPerSecond  = 5
	DefaultMessageBurst       = 20
	DefaultMaxRendezvousConns = 256
	DefaultMaxConnsPerSource  = 16
	DefaultMaxRoomsPerSource  = 4
)

// Warnings about refused connections and bad input, and notes of
// connections closed without a join, are rate-limited together (a
// flood must not flood the log too): a burst of warnLogBurst, then
// warnLogRate per second; the next one logged says how many were left out.
const (
	warnLogRate  = 5
	warnLogBurst = 20
)

// maxRoomName bounds a room name.
const maxRoomName = 64

// RendezvousConfig sets the limits of a Rendezvous server. Zero fields take
// the defaults above.
type RendezvousConfig struct {
	// RoomTimeout is how long the first member waits for a second.
	RoomTimeout time.Duration
	// MaxConnTime caps a connection's life, call included: it is closed
	// with an ERROR when it is reached.
	MaxConnTime time.Duration
	// JoinTimeout is how long a new connection has to send its join, all
	// of it: a join trickling in byte by byte is cut off too.
	JoinTimeout time.Duration
	// MaxMessageSize caps the body of a relayed message (at most
	// MaxMessageSize, the framing's own limit); a larger one ends the room.
	MaxMessageSize int
	// MessagesPerSecond and MessageBurst limit what one member may send: a
	// token bucket of MessageBurst tokens refilled at MessagesPerSecond.
	// Exceeding it ends the room.
	MessagesPerSecond float64
	MessageBurst      int
	// MaxConns caps simultaneous connections; further ones get an ERROR.
	MaxConns int
	// MaxConnsPerSource caps simultaneous connections from one source, an
	// IPv4 address or an IPv6 /64 (what one client can easily hold), so
	// that one client cannot take every connection; further ones get an
	// ERROR at once.
	MaxConnsPerSource int
	// MaxRoomsPerSource caps the rooms one source holds waiting for a
	// second member; a join that would open another gets an ERROR.
	MaxRoomsPerSource int
	// Logger receives joins, leaves and refusals; nil discards them.
	Logger *slog.Logger
}

func (cfg RendezvousConfig) withDefaults() RendezvousConfig {
	if cfg.RoomTimeout <= 0 {
		cfg.RoomTimeout = DefaultRoomTimeout
	}
	if cfg.MaxConnTime <= 0 {
		cfg.MaxConnTime = DefaultMaxConnTime
	}
	if cfg.JoinTimeout <= 0 {
		cfg.JoinTimeout = DefaultJoinTimeout
	}
	if cfg.MaxMessageSize <= 0 || cfg.MaxMessageSize > MaxMessageSize {
		cfg.MaxMessageSize = DefaultRelayMessageSize
	}
	if cfg.MessagesPerSecond <= 0 {
		cfg.MessagesPerSecond = DefaultMessagesPerSecond
	}
	if cfg.MessageBurst <= 0 {
		cfg.MessageBurst = DefaultMessageBurst
	}
	if cfg.MaxConns <= 0 {
		cfg.MaxConns = DefaultMaxRendezvousConns
	}
	if cfg.MaxConnsPerSource <= 0 {
		cfg.MaxConnsPerSource = DefaultMaxConnsPerSource
	}
	if cfg.MaxRoomsPerSource <= 0 {
		cfg.MaxRoomsPerSource = DefaultMaxRoomsPerSource
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg
}

// Rendezvous is a rendezvous server: it lets two peers that cannot dial
// each other (both behind NATs) meet. Each dials the server and names a
// room, and the server relays the offer/answer exchange between the two
// members of the room, and nothing to anyone outside it.
//
// The protocol rides on the ordinary framed channel; the kinds are reused
// rather than extended, so the framing is unchanged:
//
//   - A client's first message is the join: an OFFER whose body is the JSON
//     object {"join":"<room>"}. Room names are 1 to 64 bytes of letters,
//     digits, '.', '_' and '-'.
//   - The server answers with an ANSWER whose body is {"role":"listener"}
//     for the first member of the room, who then waits for an OFFER like an
//     answerer, or {"role":"offerer"} for the second, who sends its OFFER
//     next; or with an ERROR ("room full", a bad join, the server busy) and
//     closes.
//   - From then on every OFFER, ANSWER, BYE or ERROR a member sends is
//     relayed verbatim to the other; sending before the peer has joined is
//     an error. BYE ends the room. When a member disconnects or breaks a
//     limit, the other gets an ERROR ("peer left the room") and both
//     connections are closed.
//   - A member left alone for RoomTimeout gets an ERROR ("room expired"),
//     and a connection reaching MaxConnTime one saying so.
//   - Input that does not follow the framing (another protocol, binary
//     junk, an oversized length), a join not complete within JoinTimeout,
//     and a source over its connection or room limit get an ERROR saying
//     so before the connection is closed, and a warning in the log naming
//     the remote address.
//
// JoinRoom is the client side.
type Rendezvous struct {
	cfg   RendezvousConfig
	slots chan struct{} // one token per open connection
	warns logLimiter

	mu      sync.Mutex
	rooms   map[string]*room            // guarded by mu
	sources map[netip.Prefix]*sourceUse // guarded by mu; entries in use only
}

// sourceUse is what one source holds: open connections, and rooms whose
// only member it is.
type sourceUse struct {
	conns, waiting int
}

// room is up to two members; members[0] is the listener.
type room struct {
	name    string
	members [2]*member
	expiry  *time.Timer  // while the listener waits alone
	source  netip.Prefix // the listener's
	waiting bool         // counted in its source's waiting rooms; guarded by Rendezvous.mu
	closed  bool         // guarded by Rendezvous.mu
}

type member struct {
	conn *Conn
	room *room
	role string
	// ready is closed once the member has been told its role: nothing is
	// relayed to it before.
	ready chan struct{}
}

// NewRendezvous returns a server with cfg's limits.
func NewRendezvous(cfg RendezvousConfig) *Rendezvous {
	cfg = cfg.withDefaults()
	return &Rendezvous{
		cfg:     cfg,
		slots:   make(chan struct{}, cfg.MaxConns),
		rooms:   make(map[string]*room),
		sources: make(map[netip.Prefix]*sourceUse),
	}
}

// sourceOf is the source a connection from addr counts against: its IPv4
// address, or the /64 of its IPv6 one. Addresses that are not IP (a Unix
// socket) all count as one source.
func sourceOf(addr net.Addr) netip.Prefix {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip = a.AddrPort().Addr().Unmap()
	default:
		return netip.Prefix{}
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, err := ip.WithZone("").Prefix(bits)
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// admit counts a new connection from src, unless src holds its limit.
func (r *Rendezvous) admit(src netip.Prefix) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	u := r.sources[src]
	if u == nil {
		u = new(sourceUse)
		r.sources[src] = u
	}
	if u.conns >= r.cfg.MaxConnsPerSource {
		return fmt.Errorf("rendezvous refuses more than %d connections from one address", r.cfg.MaxConnsPerSource)
	}
	u.conns++
	return nil
}

// release uncounts a connection from src.
func (r *Rendezvous) release(src netip.Prefix) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if u := r.sources[src]; u != nil {
		u.conns--
		r.forgetIdle(src, u)
	}
}

// forgetIdle drops the entry of a source that holds nothing. r.mu is held.
func (r *Rendezvous) forgetIdle(src netip.Prefix, u *sourceUse) {
	if u.conns <= 0 && u.waiting <= 0 {
		delete(r.sources, src)
	}
}

// stopWaiting uncounts rm from its source's waiting rooms, once. r.mu is
// held.
func (r *Rendezvous) stopWaiting(rm *room) {
	if !rm.waiting {
		return
	}
	rm.waiting = false
	if u := r.sources[rm.source]; u != nil {
		u.waiting--
		r.forgetIdle(rm.source, u)
	}
}

// refuse tells a connection the server will not serve it, and closes it.
func (r *Rendezvous) refuse(c *Conn, why error) {
	r.warns.warn(r.cfg.Logger, "rendezvous: connection refused", "remote", c.RemoteAddr(), "err", why)
	// A fresh socket's send buffer takes the short ERROR at once.
	c.sendError(why)
	_ = c.Close()
}

// Serve accepts connections on ln until ctx is done, then closes ln and
// every connection, waits for their goroutines and returns nil. It returns
// an error if ln fails for good. Transient accept errors are retried after a
// growing pause (5 ms to 1 s).
func (r *Rendezvous) Serve(ctx context.Context, ln net.Listener) error {
	connCtx, cancelConns := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer func() {
		cancelConns()
		wg.Wait()
	}()
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()

	pause := time.Duration(0)
	for {
		nc, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("signaling: rendezvous accepting: %w", err)
			}
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			r.cfg.Logger.Warn("rendezvous: accept failed; retrying", "err", err, "pause", pause)
			select {
			case <-time.After(pause):
			case <-ctx.Done():
				return nil
			}
			continue
		}
		pause = 0
		c := newConn(nc)
		c.keepOpenOnBadInput = true // serveConn says why before closing
		src := sourceOf(nc.RemoteAddr())
		// The source's own limit first: a flood from one address is refused
		// before it can take the slots everyone shares.
		if err := r.admit(src); err != nil {
			r.refuse(c, err)
			continue
		}
		select {
		case r.slots <- struct{}{}:
		default:
			r.release(src)
			r.refuse(c, errors.New("rendezvous server busy"))
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-r.slots }()
			defer r.release(src)
			r.serveConn(connCtx, c, src)
		}()
	}
}

// serveConn runs one client connection from src: join, then relay.
func (r *Rendezvous) serveConn(ctx context.Context, c *Conn, src netip.Prefix) {
	defer c.Close()
	log := r.cfg.Logger.With("remote", c.RemoteAddr())
	serverCtx := ctx
	// Every wait below ends with ctx: the time limit, or the server's end.
	ctx, cancel := context.WithTimeout(ctx, r.cfg.MaxConnTime)
	defer cancel()

	joinCtx, cancelJoin := context.WithTimeout(ctx, r.cfg.JoinTimeout)
	m, err := c.Receive(joinCtx)
	cancelJoin()
	if err != nil {
		if serverCtx.Err() != nil {
			return // the server is shutting down
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || isConnReset(err) {
			r.warns.log(log, slog.LevelInfo, "rendezvous: connection closed without a join", "err", err)
			return
		}
		why := badInput(err)
		if errors.Is(err, context.DeadlineExceeded) {
			why = fmt.Errorf("no complete join within %v: %w", r.cfg.JoinTimeout, err)
		}
		r.warns.warn(log, "rendezvous: no valid join", "err", why)
		c.sendError(why)
		return
	}
	name, err := parseJoin(m)
	if err != nil {
		r.warns.warn(log, "rendezvous: bad join", "err", err)
		c.sendError(err)
		return
	}
	mem, err := r.join(name, c, src)
	if err != nil {
		r.warns.warn(log, "rendezvous: join refused", "room", name, "err", err)
		c.sendError(err)
		return
	}
	body, _ := json.Marshal(joinReply{Role: mem.role}) // cannot fail
	err = c.Send(Message{Kind: KindAnswer, Body: body})
	close(mem.ready)
	if err != nil {
		log.Debug("rendezvous: telling the role failed", "room", name, "err", err)
		r.leave(mem, false)
		return
	}
	log.Info("rendezvous: joined", "room", name, "role", mem.role)
	r.relay(ctx, mem, log)
}

// badInput is the ERROR for input the framing cannot read.
func badInput(err error) error {
	if errors.Is(err, ErrMalformed) {
		return fmt.Errorf("not Spurt signaling (a rendezvous expects frames such as \"SPURT/1 OFFER <length>\\n\" carrying the join {\"join\":\"<room>\"}): %w", err)
	}
	return fmt.Errorf("bad input: %w", err)
}

// isConnReset reports a connection the peer reset or that broke under us.
func isConnReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && !errors.Is(err, os.ErrDeadlineExceeded)
}

// join adds c, from src, to the named room.
func (r *Rendezvous) join(name string, c *Conn, src netip.Prefix) (*member, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	rm := r.rooms[name]
	if rm == nil {
		u := r.sources[src]
		if u == nil { // admit counted the connection; this is a guard
			u = new(sourceUse)
			r.sources[src] = u
		}
		if u.waiting >= r.cfg.MaxRoomsPerSource {
			return nil, fmt.Errorf("rendezvous refuses more than %d rooms waiting for a peer from one address", r.cfg.MaxRoomsPerSource)
		}
		u.waiting++
		rm = &room{name: name, source: src, waiting: true}
		mem := &member{conn: c, room: rm, role: RoleListener, ready: make(chan struct{})}
		rm.members[0] = mem
		rm.expiry = time.AfterFunc(r.cfg.RoomTimeout, func() { r.expire(rm) })
		r.rooms[name] = rm
		return mem, nil
	}
	if rm.members[1] != nil {
		return nil, errors.New("room full")
	}
	rm.expiry.Stop()
	r.stopWaiting(rm)
	mem := &member{conn: c, room: rm, role: RoleOfferer, ready: make(chan struct{})}
	rm.members[1] = mem
	return mem, nil
}

// peerOf returns the other member of mem's room, if any and the room is open.
func (r *Rendezvous) peerOf(mem *member) *member {
	r.mu.Lock()
	defer r.mu.Unlock()
	if mem.room.closed {
		return nil
	}
	for _, m := range mem.room.members {
		if m != nil && m != mem {
			return m
		}
	}
	return nil
}

// relay forwards what mem sends to its peer until the room ends.
func (r *Rendezvous) relay(ctx context.Context, mem *member, log *slog.Logger) {
	bucket := tokenBucket{tokens: float64(r.cfg.MessageBurst), last: time.Now()}
	for {
		m, err := mem.conn.Receive(ctx)
		if err != nil {
			switch {
			case errors.Is(err, context.DeadlineExceeded):
				log.Info("rendezvous: connection time limit reached", "room", mem.room.name)
				mem.conn.sendError(fmt.Errorf("connection time limit of %v reached", r.cfg.MaxConnTime))
			case errors.Is(err, ErrMalformed) || errors.Is(err, os.ErrDeadlineExceeded):
				// Garbage, or a message stalled mid-way.
				r.warns.warn(log, "rendezvous: bad input from a member", "room", mem.room.name, "err", err)
				mem.conn.sendError(badInput(err))
			default:
				log.Debug("rendezvous: member gone", "room", mem.room.name, "err", err)
			}
			r.leave(mem, false)
			return
		}
		var refuse error
		switch {
		case len(m.Body) > r.cfg.MaxMessageSize:
			refuse = fmt.Errorf("%v of %d bytes exceeds the rendezvous limit of %d", m.Kind, len(m.Body), r.cfg.MaxMessageSize)
		case !bucket.take(time.Now(), r.cfg.MessagesPerSecond, float64(r.cfg.MessageBurst)):
			refuse = fmt.Errorf("more than %d messages in a burst or %g per second", r.cfg.MessageBurst, r.cfg.MessagesPerSecond)
		}
		peer := r.peerOf(mem)
		if refuse == nil && peer == nil && m.Kind != KindBye {
			refuse = errors.New("no peer in the room yet; wait for the OFFER")
		}
		if refuse != nil {
			r.warns.warn(log, "rendezvous: member refused", "room", mem.room.name, "err", refuse)
			mem.conn.sendError(refuse)
			r.leave(mem, false)
			return
		}
		if peer != nil {
			select {
			case <-peer.ready:
			case <-ctx.Done():
				r.leave(mem, false)
				return
			}
			if err := peer.conn.Send(m); err != nil {
				log.Debug("rendezvous: relaying failed", "room", mem.room.name, "err", err)
				r.leave(mem, false)
				return
			}
		}
		if m.Kind == KindBye {
			r.leave(mem, true)
			return
		}
	}
}

// leave ends mem's room: the peer, if any, is told with an ERROR unless mem
// said BYE (already relayed), and both connections are closed.
func (r *Rendezvous) leave(mem *member, saidBye bool) {
	r.mu.Lock()
	rm := mem.room
	if rm.closed {
		r.mu.Unlock()
		_ = mem.conn.Close()
		return
	}
	rm.closed = true
	rm.expiry.Stop()
	r.stopWaiting(rm)
	if r.rooms[rm.name] == rm {
		delete(r.rooms, rm.name)
	}
	peer := rm.members[0]
	if peer == mem {
		peer = rm.members[1]
	}
	r.mu.Unlock()

	_ = mem.conn.Close()
	if peer != nil {
		if !saidBye {
			<-peer.ready // closed right after the role is sent, or failed to be
			peer.conn.sendError(errors.New("peer left the room"))
		}
		_ = peer.conn.Close()
	}
	r.cfg.Logger.Info("rendezvous: room closed", "room", rm.name)
}

// expire ends a room whose listener waited RoomTimeout alone.
func (r *Rendezvous) expire(rm *room) {
	r.mu.Lock()
	if rm.closed || rm.members[1] != nil {
		r.mu.Unlock()
		return
	}
	rm.closed = true
	r.stopWaiting(rm)
	if r.rooms[rm.name] == rm {
		delete(r.rooms, rm.name)
	}
	mem := rm.members[0]
	r.mu.Unlock()

	<-mem.ready
	mem.conn.sendError(fmt.Errorf("room expired: nobody joined within %v", r.cfg.RoomTimeout))
	_ = mem.conn.Close()
	r.cfg.Logger.Info("rendezvous: room expired", "room", rm.name)
}

// logLimiter rate-limits warnings (see warnLogRate) and counts the ones it
// leaves out. It is safe for concurrent use.
type logLimiter struct {
	mu         sync.Mutex
	started    bool
	bucket     tokenBucket
	suppressed int
}

// warn logs msg at WARN level unless over the rate.
func (l *logLimiter) warn(log *slog.Logger, msg string, args ...any) {
	l.log(log, slog.LevelWarn, msg, args...)
}

// log logs msg at level unless over the rate.
func (l *logLimiter) log(log *slog.Logger, level slog.Level, msg string, args ...any) {
	now := time.Now()
	l.mu.Lock()
	if !l.started {
		l.started, l.bucket = true, tokenBucket{tokens: warnLogBurst, last: now}
	}
	ok := l.bucket.take(now, warnLogRate, warnLogBurst)
	left := l.suppressed
	if ok {
		l.suppressed = 0
	} else {
		l.suppressed++
	}
	l.mu.Unlock()
	if !ok {
		return
	}
	if left > 0 {
		args = append(args, "warnings_left_out", left)
	}
	log.Log(context.Background(), level, msg, args...)
}

// tokenBucket limits a member's message rate.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

func (b *tokenBucket) take(now time.Time, rate, burst float64) bool {
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// joinRequest is the JSON body of the join OFFER.
type joinRequest struct {
	Join string `json:"join"`
}

// joinReply is the JSON body of the server's ANSWER to a join.
type joinReply struct {
	Role string `json:"role"`
}

// parseJoin reads a join message.
func parseJoin(m Message) (string, error) {
	if m.Kind != KindOffer {
		return "", fmt.Errorf("expected a join (OFFER with a JSON body), got %v", m.Kind)
	}
	if bytes.HasPrefix(m.Body, []byte("v=")) {
		// a session description: someone dialed the server as if it
		// were a listener
		return "", errors.New("this is a rendezvous server (call serve), not a listener: use call dial --via HOST:PORT --room CODE")
	}
	var req joinRequest
	if err := json.Unmarshal(m.Body, &req); err != nil {
		return "", fmt.Errorf("join is not the JSON object {\"join\":\"<room>\"}: %w", err)
	}
	if err := checkRoomName(req.Join); err != nil {
		return "", err
	}
	return req.Join, nil
}

func checkRoomName(name string) error {
	if len(name) == 0 || len(name) > maxRoomName {
		return fmt.Errorf("room name must be 1 to %d bytes, got %d", maxRoomName, len(name))
	}
	for _, ch := range []byte(name) {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '.' || ch == '_' || ch == '-') {
			return fmt.Errorf("room name %q may hold only letters, digits, '.', '_' and '-'", printable(name, maxRoomName))
		}
	}
	return nil
}

// JoinRoom connects to the rendezvous server at addr ("host:port"), joins
// room, and returns the channel to the peer along with this side's role:
// RoleListener (first in the room: wait for the OFFER with AnswerOffer; the
// wait lasts until a peer comes or the room expires) or RoleOfferer (send
// the OFFER with Offer). A refusal such as a full room is a *RemoteError.
func JoinRoom(ctx context.Context, addr, room string) (*Conn, string, error) {
	if err := checkRoomName(room); err != nil {
		return nil, "", fmt.Errorf("signaling: joining room: %w", err)
	}
	c, err := Dial(ctx, addr)
	if err != nil {
		return nil, "", err
	}
	role, err := join(ctx, c, room)
	if err != nil {
		_ = c.Close()
		return nil, "", fmt.Errorf("signaling: joining room %q at %s: %w", room, addr, err)
	}
	return c, role, nil
}

func join(ctx context.Context, c *Conn, room string) (string, error) {
	body, err := json.Marshal(joinRequest{Join: room})
	if err != nil {
		return "", err
	}
	if err := c.Send(Message{Kind: KindOffer, Body: body}); err != nil {
		return "", err
	}
	m, err := c.Receive(ctx)
	if err != nil {
		return "", err
	}
	if err := expectKind(m, KindAnswer); err != nil {
		return "", err
	}
	var reply joinReply
	if err := json.Unmarshal(m.Body, &reply); err != nil {
		return "", fmt.Errorf("server's reply is not the JSON object {\"role\":...}: %w", err)
	}
	if reply.Role != RoleListener && reply.Role != RoleOfferer {
		return "", fmt.Errorf("server assigned unknown role %q", printable(reply.Role, 32))
	}
	return reply.Role, nil
}
