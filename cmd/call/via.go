package main

import (
	"context"
	crand "crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/nat"
	"github.com/spurtvoip/spurt/rtpcall"
	"github.com/spurtvoip/spurt/signaling"
	"github.com/spurtvoip/spurt/signaling/negotiate"
)

// stunTimeout bounds the srflx discovery before a call; without an answer
// the call goes on with host candidates only.
const stunTimeout = 4 * time.Second

// viaFlags are listen's and dial's options for meeting through a rendezvous
// server (`call serve`) and opening a direct path through NATs.
type viaFlags struct {
	listener     bool   // listen's flags: --room may be left out
	server       string // rendezvous HOST:PORT; "" for a direct call
	room         string
	codeMade     bool   // room is a call code made up here, to be shown
	stun         string // STUN HOST:PORT; default the --via host and port
	checkTimeout time.Duration
}

func (v *viaFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&v.server, "via", "", "meet the peer through the rendezvous server at `HOST:PORT` (see call serve), then talk directly")
	room := "with --via: the room both sides name (letters, digits, '.', '_', '-')"
	if v.listener {
		room += "; without it a random call code is made up and printed for the dialer"
	}
	fs.StringVar(&v.room, "room", "", room)
	fs.StringVar(&v.stun, "stun", "", "with --via: STUN server `HOST:PORT` for our public address (default: the --via server)")
	fs.DurationVar(&v.checkTimeout, "check-timeout", nat.DefaultCheckTimeout, "with --via: give up when no direct path works within this long")
}

func (v *viaFlags) enabled() bool { return v.server != "" }

// check validates the flags' values together; set is what was given.
func (v *viaFlags) check() error {
	if !v.enabled() {
		if v.room != "" || v.stun != "" {
			return errors.New("--room and --stun need --via")
		}
		return nil
	}
	if v.checkTimeout <= 0 {
		return errors.New("--check-timeout must be positive")
	}
	if v.room == "" {
		if !v.listener {
			return errors.New("dial --via needs --room: the call code the listener printed, or the room name both sides agreed on")
		}
		v.room, v.codeMade = newCallCode(), true
	}
	return nil
}

// callCodeAlphabet is Crockford's base 32: digits and lower-case letters
// without i, l, o and u, so that a code read out loud or retyped is not
// mistaken.
const callCodeAlphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// newCallCode makes up a room name nobody can guess: 12 symbols of base 32
// (60 random bits) in groups of four, such as "7kq2-m9xd-4rtf". The room
// name is all that keeps a stranger from joining a call's room first.
func newCallCode() string {
	var b [12]byte
	_, _ = crand.Read(b[:]) // never fails (crypto/rand)
	code := make([]byte, 0, 14)
	for i, x := range b {
		if i > 0 && i%4 == 0 {
			code = append(code, '-')
		}
		code = append(code, callCodeAlphabet[x&31])
	}
	return string(code)
}

// callVia meets the peer in a room of the rendezvous server, exchanges
// candidates in the offer/answer, opens the direct path with connectivity
// checks, and runs the call over it. codecs are offered or accepted, most
// preferred first, whichever role the server gives us.
func callVia(ctx context.Context, f *callFlags, v *viaFlags, reg *codec.Registry, codecs []string, rtpPort int,
	stdout, stderr io.Writer, log *slog.Logger) error {
	stunServer, err := resolveUDP(ctx, v.stun, v.server)
	if err != nil {
		return usageError{err}
	}
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{Port: rtpPort})
	if err != nil {
		return fmt.Errorf("opening the media port: %w", err)
	}
	defer udp.Close()

	joinCtx, cancel := context.WithTimeout(ctx, signaling.DefaultTimeout)
	conn, role, err := signaling.JoinRoom(joinCtx, v.server, v.room)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted
		}
		return fmt.Errorf("meeting at %s: %w", v.server, err)
	}
	defer conn.Close()
	log.Info("joined the room", "server", v.server, "room", v.room, "role", role)
	if v.codeMade {
		fmt.Fprintf(stdout, "call code: %s\non the other machine: call dial --via %s --room %s\n", v.room, v.server, v.room)
	}
	if role == signaling.RoleListener && !v.listener {
		// a dialer first in its room: a mistyped call code would
		// otherwise wait in silence
		fmt.Fprintf(stderr, "nobody is in room %s yet: waiting for the other side (a default server keeps the room %v; Ctrl-C gives up)\n",
			v.room, signaling.DefaultRoomTimeout)
	}

	// The server is reached first, so that one that is down fails at once,
	// not after the STUN queries. Gather before anything else reads the
	// media socket.
	local, err := gatherCandidates(ctx, udp, stunServer, log)
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted // Ctrl-C while asking STUN
		}
		return err
	}
	ufrag, pwd := nat.NewCredentials()
	prefs := preferences(reg, codecs, f, netip.AddrPort{})
	prefs.ICE = &negotiate.ICE{Ufrag: ufrag, Pwd: pwd, Candidates: local}

	var offer, answer, ours signaling.Session // ours: the one we wrote
	side := negotiate.Answerer
	primed := false // our NAT has the mappings to the offerer's candidates
	switch role {
	case signaling.RoleOfferer:
		side = negotiate.Offerer
		offer = negotiate.Offer(prefs)
		setupCtx, cancel := context.WithTimeout(ctx, signaling.DefaultTimeout)
		answer, err = conn.Offer(setupCtx, offer)
		cancel()
		ours = offer
	default:
		// The first in the room waits for the offer as long as the room lasts.
		offer, answer, err = conn.AnswerOffer(ctx, func(offer signaling.Session) (signaling.Session, error) {
			a, err := negotiate.Answer(offer, prefs)
			if err == nil {
				primed = primeNAT(udp, offer, log)
			}
			return a, err
		})
		ours = answer
	}
	var agreed negotiate.Agreement
	if err == nil {
		agreed, err = negotiate.Agree(side, offer, answer, prefs)
	}
	if err != nil {
		if ctx.Err() != nil {
			return errInterrupted // Ctrl-C while waiting for the peer
		}
		return fmt.Errorf("negotiating through %s: %w", v.server, err)
	}
	peer := agreed.PeerICE
	log.Info("checking paths to the peer", "ours", len(local), "theirs", len(peer.Candidates))
	path, err := rtpcall.OpenPath(ctx, udp, nat.CheckerConfig{
		LocalUfrag: ufrag, LocalPwd: pwd,
		RemoteUfrag: peer.Ufrag, RemotePwd: peer.Pwd,
		Controlling: side == negotiate.Offerer,
		Local:       local,
		Remote:      peer.Candidates,
		Timeout:     v.checkTimeout,
		Hold:        primeHold(primed),
	}, log)
	if err != nil {
		_ = conn.Bye()
		if ctx.Err() != nil {
			return errInterrupted // Ctrl-C while the path was checked
		}
		return err
	}
	link := newRenewalLink(conn, ours, ufrag, pwd, peer.Ufrag, peer.Pwd, log)
	path.Renewal = &rtpcall.Renewal{STUN: stunServer, Send: link.send, Peer: link.in}
	linkCtx, stopLink := context.WithCancel(ctx)
	var linkDone sync.WaitGroup
	linkDone.Add(1)
	go func() { defer linkDone.Done(); link.run(linkCtx) }()
	defer func() { stopLink(); linkDone.Wait() }()

	return talk(ctx, f, reg, conn, udp, agreed.Codec, path.Remote, link.received, stdout, stderr, log,
		schemeOption(agreed, log), func(cfg *rtpcall.Config) { cfg.NAT = path })
}

// renewalLink carries a call's fresh candidates over the signaling channel
// when the call re-opens its path (rtpcall.Renewal): ours go out as a
// re-offer (or the answer to the peer's), the same session description
// with new a=candidate lines and the same credentials; the peer's come in
// the same way, and go to the call. Nothing here blocks the call's loop.
type renewalLink struct {
	conn               *signaling.Conn
	ours               signaling.Session // what we sent; re-sent with fresh candidates
	ufrag, pwd         string
	peerUfrag, peerPwd string
	out                chan signaling.Message
	in                 chan rtpcall.PeerCandidates
	log                *slog.Logger
}

// renewalQueue bounds the fresh candidate lists waiting either way; the
// rendezvous relays five messages a second, and a renewal needs one.
const renewalQueue = 4

func newRenewalLink(conn *signaling.Conn, ours signaling.Session, ufrag, pwd, peerUfrag, peerPwd string, log *slog.Logger) *renewalLink {
	return &renewalLink{
		conn: conn, ours: ours, ufrag: ufrag, pwd: pwd, peerUfrag: peerUfrag, peerPwd: peerPwd,
		out: make(chan signaling.Message, renewalQueue),
		in:  make(chan rtpcall.PeerCandidates, renewalQueue),
		log: log,
	}
}

// send queues our fresh candidates for the peer (rtpcall.Renewal.Send).
func (l *renewalLink) send(cands []nat.Candidate, answer bool) {
	s := negotiate.WithICE(l.ours, negotiate.ICE{Ufrag: l.ufrag, Pwd: l.pwd, Candidates: cands})
	body, err := s.Marshal()
	if err != nil {
		l.log.Warn("fresh candidates not sent", "err", err)
		return
	}
	kind := signaling.KindOffer
	if answer {
		kind = signaling.KindAnswer
	}
	select {
	case l.out <- signaling.Message{Kind: kind, Body: body}:
		l.log.Info("sending fresh candidates to the peer", "kind", kind, "count", len(cands))
	default:
		l.log.Warn("fresh candidates not sent: earlier ones are still queued")
	}
}

// run sends what send queued until ctx ends.
func (l *renewalLink) run(ctx context.Context) {
	for {
		select {
		case m := <-l.out:
			if err := l.conn.Send(m); err != nil {
				l.log.Warn("fresh candidates not sent", "err", err)
			}
		case <-ctx.Done():
			return
		}
	}
}

// received takes a message the peer sent during the call: an OFFER or
// ANSWER carries its fresh candidates. Anything unusable is logged and
// dropped.
func (l *renewalLink) received(m signaling.Message) {
	if m.Kind != signaling.KindOffer && m.Kind != signaling.KindAnswer {
		l.log.Info("ignoring a message from the peer during the call", "kind", m.Kind)
		return
	}
	s, err := signaling.ParseSession(m.Body)
	if err != nil {
		l.log.Warn("the peer's fresh candidates do not parse; ignored", "err", err)
		return
	}
	ice, err := negotiate.ReadICE(s)
	switch {
	case err != nil:
		l.log.Warn("the peer's fresh candidates are unusable; ignored", "err", err)
		return
	case ice.Ufrag != l.peerUfrag || ice.Pwd != l.peerPwd:
		l.log.Warn("the peer changed its ICE credentials during the call; an ICE restart is not supported, ignored")
		return
	}
	select {
	case l.in <- rtpcall.PeerCandidates{Candidates: ice.Candidates, Offer: m.Kind == signaling.KindOffer}:
	default:
		l.log.Warn("the peer's fresh candidates dropped: earlier ones are still queued")
	}
}

// primeNAT opens our NAT's mapping to each of the offerer's candidates
// before we answer (nat.Prime): the offerer starts its checks when our
// answer arrives, and they must find the mapping. Best effort: a failure is
// logged, and the checks run as they would without it. It reports whether
// it primed.
func primeNAT(udp *net.UDPConn, offer signaling.Session, log *slog.Logger) bool {
	ice, err := negotiate.ReadICE(offer)
	if err != nil {
		return false // Agree reports it
	}
	n, err := nat.Prime(udp, ice.Candidates, nat.PrimeTTL)
	if err != nil {
		log.Info("priming our NAT for the peer's checks failed; checking without", "err", err)
		return false
	}
	log.Debug("primed our NAT for the peer's checks", "datagrams", n, "ttl", nat.PrimeTTL)
	return n > 0
}

// checkHold is how long the answerer, once it primed its NAT, keeps its own
// checks back waiting for the offerer's first one (nat.CheckerConfig.Hold):
// sent earlier they could reach the offerer's NAT before the offerer's
// first check has left it, and spoil its mapping on a router that does not
// drop unsolicited datagrams. The offerer starts checking as soon as our
// answer arrives, one signaling hop after we send it.
const checkHold = 2 * time.Second

func primeHold(primed bool) time.Duration {
	if primed {
		return checkHold
	}
	return 0
}

// resolveUDP resolves addr, or fallback when addr is empty, to one IPv4
// address and port.
func resolveUDP(ctx context.Context, addr, fallback string) (netip.AddrPort, error) {
	name := "--stun"
	if addr == "" {
		addr, name = fallback, "--via"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%s %q: want HOST:PORT: %w", name, addr, err)
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil || len(ips) == 0 {
		return netip.AddrPort{}, fmt.Errorf("%s %q: no IPv4 address: %w", name, addr, err)
	}
	p, err := net.DefaultResolver.LookupPort(ctx, "udp", port)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("%s %q: %w", name, addr, err)
	}
	return netip.AddrPortFrom(ips[0].Unmap(), uint16(p)), nil
}

// gatherCandidates lists udp's host candidates (IPv4, the socket's family)
// and its server-reflexive one from the STUN server. Without an answer from
// the server the call goes on with host candidates and a warning.
func gatherCandidates(ctx context.Context, udp *net.UDPConn, stunServer netip.AddrPort, log *slog.Logger) ([]nat.Candidate, error) {
	port := udp.LocalAddr().(*net.UDPAddr).AddrPort().Port()
	all, err := nat.GatherHost(port)
	if err != nil {
		return nil, fmt.Errorf("listing this machine's addresses: %w", err)
	}
	var local []nat.Candidate
	for _, c := range all {
		if c.Addr.Addr().Is4() {
			local = append(local, c)
		}
	}
	if len(local) == 0 {
		return nil, errors.New("listing this machine's addresses: no IPv4 address")
	}
	dctx, cancel := context.WithTimeout(ctx, stunTimeout)
	mapped, err := nat.Discover(dctx, udp, stunServer)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		log.Warn("no public address from STUN; offering host addresses only", "err", err)
		return local, nil
	}
	base, ok := routeBase(local, port, stunServer)
	if !ok {
		log.Warn("cannot tell which local address reaches the STUN server; assuming the first", "base", base.Addr)
	}
	if mapped == base.Addr || slices.ContainsFunc(local, func(c nat.Candidate) bool { return c.Addr == mapped }) {
		log.Info("the STUN server sees our own address: no NAT in the way", "addr", mapped)
		return local, nil
	}
	log.Info("public address", "srflx", mapped, "base", base.Addr, "stun", stunServer)
	return append(local, nat.ServerReflexive(base, mapped, stunServer.Addr())), nil
}

// routeBase is the base of our server-reflexive candidate: the address
// datagrams to server leave from, as the routing table says (a UDP
// "connect" sends nothing), with the media socket's port. That is one of
// the host candidates, or an address left out of them such as a loopback
// one (then it stands alone). ok is false when the route cannot be told;
// the first host candidate is the guess then.
func routeBase(local []nat.Candidate, port uint16, server netip.AddrPort) (base nat.Candidate, ok bool) {
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(server))
	if err != nil {
		return local[0], false
	}
	src := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
	_ = c.Close()
	if i := slices.IndexFunc(local, func(l nat.Candidate) bool { return l.Addr.Addr() == src }); i >= 0 {
		return local[i], true
	}
	return nat.HostCandidate(netip.AddrPortFrom(src, port), 65535-maxHostCandidates), true
}

// maxHostCandidates is above the number of host candidates nat.GatherHost
// offers, so that a base made up by routeBase ranks below them all.
const maxHostCandidates = 16
