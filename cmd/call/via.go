package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/nat"
	"github.com/spurtvoip/spurt/rtpcall"
	"github.com/spurtvoip/spurt/signaling"
)

// stunTimeout bounds the srflx discovery before a call; without an answer
// the call goes on with host candidates only.
const stunTimeout = 4 * time.Second

// viaFlags are listen's and dial's options for meeting through a rendezvous
// server (`call serve`) and opening a direct path through NATs.
type viaFlags struct {
	server       string // rendezvous HOST:PORT; "" for a direct call
	room         string
	stun         string // STUN HOST:PORT; default the --via host and port
	checkTimeout time.Duration
}

func (v *viaFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&v.server, "via", "", "meet the peer through the rendezvous server at `HOST:PORT` (see call serve), then talk directly")
	fs.StringVar(&v.room, "room", "", "with --via: the room both sides name (letters, digits, '.', '_', '-')")
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
	if v.room == "" {
		return errors.New("--via needs --room, the name both sides use to meet")
	}
	if v.checkTimeout <= 0 {
		return errors.New("--check-timeout must be positive")
	}
	return nil
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

	// Gather before anything else reads the media socket.
	local, err := gatherCandidates(ctx, udp, stunServer, log)
	if err != nil {
		return err
	}
	ufrag, pwd := nat.NewCredentials()
	ice := iceAttributes(ufrag, pwd, local)
	defaultAddr := defaultCandidate(local)

	joinCtx, cancel := context.WithTimeout(ctx, signaling.DefaultTimeout)
	conn, role, err := signaling.JoinRoom(joinCtx, v.server, v.room)
	cancel()
	if err != nil {
		return fmt.Errorf("meeting at %s: %w", v.server, err)
	}
	defer conn.Close()
	log.Info("joined the room", "server", v.server, "room", v.room, "role", role)

	var remote, agreed signaling.Session // what the peer wrote; the answer
	var format signaling.Format
	switch role {
	case signaling.RoleOfferer:
		offer := signaling.Session{RTPAddr: defaultAddr, PTime: 20 * time.Millisecond, SessionID: rand.Uint64() >> 2, Extra: ice}
		for _, name := range codecs {
			cd, _ := reg.ByName(name)
			offer.Formats = append(offer.Formats, signaling.Format{PayloadType: cd.PayloadType, Name: cd.Name, ClockRate: cd.ClockRate})
		}
		offerSchemes(&offer, reg, f)
		setupCtx, cancel := context.WithTimeout(ctx, signaling.DefaultTimeout)
		remote, err = conn.Offer(setupCtx, offer)
		cancel()
		if err == nil && len(remote.Formats) == 0 {
			err = errors.New("the answer accepts no codec")
		}
		if err == nil {
			format, agreed = remote.Formats[0], remote
		}
	default:
		// The first in the room waits for the offer as long as the room lasts.
		var answer signaling.Session
		remote, answer, err = conn.AnswerOffer(ctx, func(offer signaling.Session) (signaling.Session, error) {
			a, err := answerSchemes(offer, codecs, defaultAddr, reg, f)
			a.Extra = ice
			return a, err
		})
		if err == nil {
			format, agreed = answer.Formats[0], answer
		}
	}
	if err != nil {
		return fmt.Errorf("negotiating through %s: %w", v.server, err)
	}
	peerUfrag, peerPwd, peerCands, err := parseICE(remote)
	if err != nil {
		return fmt.Errorf("the peer's session description: %w", err)
	}
	log.Info("checking paths to the peer", "ours", len(local), "theirs", len(peerCands))
	path, err := rtpcall.OpenPath(ctx, udp, nat.CheckerConfig{
		LocalUfrag: ufrag, LocalPwd: pwd,
		RemoteUfrag: peerUfrag, RemotePwd: peerPwd,
		Controlling: role == signaling.RoleOfferer,
		Local:       local,
		Remote:      peerCands,
		Timeout:     v.checkTimeout,
	}, log)
	if err != nil {
		_ = conn.Bye()
		return err
	}
	options := append(schemeOptions(reg, format, agreed, remote, f, log), func(cfg *rtpcall.Config) { cfg.NAT = path })
	return talk(ctx, f, reg, conn, udp, format, path.Remote, stdout, stderr, log, options...)
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
	base := routeBase(local, stunServer)
	for _, c := range local {
		if c.Addr == mapped {
			log.Info("public address is a local one: no NAT in the way", "addr", mapped)
			return local, nil
		}
	}
	log.Info("public address", "srflx", mapped, "base", base.Addr, "stun", stunServer)
	return append(local, nat.ServerReflexive(base, mapped, stunServer.Addr())), nil
}

// routeBase is the host candidate packets to server leave from, as the
// routing table says (a UDP "connect" sends nothing); the first one if that
// cannot be told.
func routeBase(local []nat.Candidate, server netip.AddrPort) nat.Candidate {
	c, err := net.DialUDP("udp4", nil, net.UDPAddrFromAddrPort(server))
	if err == nil {
		src := c.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap()
		_ = c.Close()
		for _, l := range local {
			if l.Addr.Addr() == src {
				return l
			}
		}
	}
	return local[0]
}

// defaultCandidate is the address for the c= and m= lines (RFC 8839
// section 4.2.1.2): the server-reflexive one if there is one, which a peer
// without ICE could reach most likely, else the best host address.
func defaultCandidate(cands []nat.Candidate) netip.AddrPort {
	for _, c := range cands {
		if c.Type == nat.TypeSrflx {
			return c.Addr
		}
	}
	return cands[0].Addr
}

// SDP attribute names of ICE (RFC 8839).
const (
	attrCandidate = "candidate"
	attrIceUfrag  = "ice-ufrag"
	attrIcePwd    = "ice-pwd"
)

// iceAttributes are the a=ice-ufrag, a=ice-pwd and a=candidate lines.
func iceAttributes(ufrag, pwd string, cands []nat.Candidate) []signaling.Attribute {
	attrs := []signaling.Attribute{{Key: attrIceUfrag, Value: ufrag}, {Key: attrIcePwd, Value: pwd}}
	for _, c := range cands {
		attrs = append(attrs, signaling.Attribute{Key: attrCandidate, Value: c.String()})
	}
	return attrs
}

// maxPeerCandidates bounds the candidates taken from a peer's description.
const maxPeerCandidates = 32

// parseICE reads the peer's credentials and candidates. Candidates that do
// not parse are skipped (RFC 8839 section 5.1 lets a peer send kinds we do
// not know); missing credentials or no candidate at all are errors.
func parseICE(s signaling.Session) (ufrag, pwd string, cands []nat.Candidate, err error) {
	var skipped []error
	for _, a := range s.Extra {
		switch a.Key {
		case attrIceUfrag:
			ufrag = a.Value
		case attrIcePwd:
			pwd = a.Value
		case attrCandidate:
			c, err := nat.ParseCandidate(a.Value)
			if err != nil {
				skipped = append(skipped, err)
				continue
			}
			if len(cands) < maxPeerCandidates {
				cands = append(cands, c)
			}
		}
	}
	switch {
	case ufrag == "" || pwd == "":
		return "", "", nil, errors.New("no a=ice-ufrag and a=ice-pwd: the peer is not set up for --via calls")
	case len(cands) == 0:
		return "", "", nil, fmt.Errorf("no usable a=candidate line: %w", errors.Join(skipped...))
	}
	return ufrag, pwd, cands, nil
}
