package rtpcall

import (
	"context"
	"errors"
	"fmt"
	"github.com/spurtvoip/spurt/media"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/pion/stun/v3"

	"github.com/spurtvoip/spurt/nat"
)

// pathTick bounds how long OpenPath waits on the socket before asking the
// Checker again; it is below the checks' pacing (Ta, 50 ms).
const pathTick = 10 * time.Millisecond

// OpenedPath is the direct UDP path to the peer that connectivity checks
// found (see OpenPath), handed to Run through Config.NAT.
type OpenedPath struct {
	// Remote is the peer's address on the selected pair: where media goes.
	Remote netip.AddrPort
	// Kind names the pair as "LOCAL->REMOTE" candidate types, e.g.
	// "srflx->host": LOCAL is how the peer sees us (from the address its
	// answer to our check reported), REMOTE the type of the peer's
	// candidate we send to (prflx when it was learnt from a check).
	Kind string
	// ChecksSent counts the connectivity checks OpenPath sent,
	// retransmissions included. (A call's Stats.ChecksSent adds the checks
	// Run sent to new peer addresses.)
	ChecksSent uint64
	// Checker goes on answering the peer's checks during the call and
	// proves a changed peer address (nat.Checker.Verify); Run probes new
	// peer addresses with its credentials (nat.Prober).
	Checker *nat.Checker
	// Renewal, if set, lets Run re-open the path when nothing comes from
	// the peer for a while (see Renewal); the caller sets it after
	// OpenPath.
	Renewal *Renewal

	local, remote []nat.Candidate // both sides' candidates, the latest
	renewal       renewState      // Run's re-opening of the path (nat.go)

	probes     *nat.Prober // made on first use by the call
	probesSent uint64      // checks the call sent to new peer addresses
	// dropped counts datagrams other than STUN that arrived while the
	// checks ran: no source is trusted with media before a pair is
	// selected. The call adds them to its rejected_source.
	dropped uint64
}

// prober returns the call's Prober, made from the Checker on first use.
func (p *OpenedPath) prober() *nat.Prober {
	if p.probes == nil {
		p.probes = p.Checker.NewProber()
	}
	return p.probes
}

// OpenPath runs ICE connectivity checks (nat.Checker, built from cfg) on
// conn, the call's media socket, with the wall clock until a pair works both
// ways, and returns it. It gives up when cfg.Timeout (nat.DefaultCheckTimeout
// when zero) passes with an error listing every pair tried, or when ctx
// ends. Non-STUN datagrams that arrive meanwhile (early media from a peer
// that finished first, or anyone's) are dropped and counted: the call
// reports them in rejected_source. OpenPath reads from conn, so nothing
// else may; it clears conn's read deadline before returning.
func OpenPath(ctx context.Context, conn net.PacketConn, cfg nat.CheckerConfig, log *slog.Logger) (*OpenedPath, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	checker, err := nat.NewChecker(cfg)
	if err != nil {
		return nil, fmt.Errorf("rtpcall: opening a path to the peer: %w", err)
	}
	defer func() { _ = conn.SetReadDeadline(time.Time{}) }()

	var (
		opened = &OpenedPath{Checker: checker, local: cfg.Local, remote: cfg.Remote}
		epoch  = time.Now()
		buf    = make([]byte, media.MaxPacketSize)
		// mapped holds what each remote address said our address is, from
		// the XOR-MAPPED-ADDRESS of its answers to our checks.
		mapped = make(map[netip.AddrPort]netip.AddrPort)
		resp   = new(stun.Message)
	)
	for {
		now := time.Since(epoch)
		if remote, ok := checker.Selected(); ok {
			opened.Remote = remote
			opened.Kind = pathKind(mapped[remote], remote, cfg.Local, cfg.Remote)
			log.Info("direct path open", "remote", remote, "path", opened.Kind,
				"checks_sent", opened.ChecksSent, "took", now.Round(time.Millisecond))
			if opened.dropped > 0 {
				log.Info("datagrams other than STUN dropped while checking (counted in rejected_source)", "count", opened.dropped)
			}
			return opened, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("rtpcall: connectivity checks: %w", err)
		}
		if checker.Failed(now) {
			return nil, fmt.Errorf("rtpcall: no direct path to the peer within %v; pairs tried:\n  %s",
				timeoutOf(cfg), strings.Join(checker.Tried(), "\n  "))
		}
		for range 8 { // at most one check leaves per Ta; the bound is a guard
			to, req, ok := checker.Next(now)
			if !ok {
				break
			}
			opened.ChecksSent++
			if _, err := conn.WriteTo(req, net.UDPAddrFromAddrPort(to)); err != nil {
				log.Debug("connectivity check not sent", "to", to, "err", err)
			}
		}
		if err := conn.SetReadDeadline(time.Now().Add(pathTick)); err != nil {
			return nil, fmt.Errorf("rtpcall: connectivity checks: %w", err)
		}
		n, from, err := readAddrPort(conn, buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return nil, fmt.Errorf("rtpcall: connectivity checks: reading: %w", err)
		}
		pkt := buf[:n]
		if !nat.IsSTUN(pkt) {
			opened.dropped++
			continue
		}
		if addr, ok := mappedAddress(resp, pkt); ok {
			mapped[from] = addr
		}
		if reply, to, ok := checker.Handle(pkt, from, time.Since(epoch)); ok {
			if _, err := conn.WriteTo(reply, net.UDPAddrFromAddrPort(to)); err != nil {
				log.Debug("answer to a check not sent", "to", to, "err", err)
			}
		}
	}
}

func timeoutOf(cfg nat.CheckerConfig) time.Duration {
	if cfg.Timeout > 0 {
		return cfg.Timeout
	}
	return nat.DefaultCheckTimeout
}

// mappedAddress reads the XOR-MAPPED-ADDRESS of a binding success response.
// It does not authenticate: the Checker does, and the result only labels
// the pair the Checker selected.
func mappedAddress(m *stun.Message, pkt []byte) (netip.AddrPort, bool) {
	m.Raw = append(m.Raw[:0], pkt...)
	if m.Decode() != nil || m.Type != stun.BindingSuccess {
		return netip.AddrPort{}, false
	}
	var xor stun.XORMappedAddress
	if xor.GetFrom(m) != nil {
		return netip.AddrPort{}, false
	}
	addr, ok := netip.AddrFromSlice(xor.IP)
	if !ok || xor.Port <= 0 || xor.Port > 0xFFFF {
		return netip.AddrPort{}, false
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(xor.Port)), true
}

// pathKind names a selected pair "LOCAL->REMOTE" by candidate type: ours is
// the candidate whose address the peer saw (self), the peer's the one at
// remote; an address in no candidate is peer reflexive, and a self never
// learnt (no answer parsed) is "unknown".
func pathKind(self, remote netip.AddrPort, local, peer []nat.Candidate) string {
	return candidateType(self, local) + "->" + candidateType(remote, peer)
}

func candidateType(addr netip.AddrPort, cands []nat.Candidate) string {
	for _, c := range cands {
		if c.Addr == addr {
			return c.Type
		}
	}
	if !addr.IsValid() {
		return "unknown"
	}
	return nat.TypePrflx
}

// readAddrPort reads one datagram, its source with IPv4 unmapped.
func readAddrPort(conn net.PacketConn, b []byte) (int, netip.AddrPort, error) {
	if u, ok := conn.(*net.UDPConn); ok {
		n, from, err := u.ReadFromUDPAddrPort(b)
		return n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), err
	}
	n, addr, err := conn.ReadFrom(b)
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return n, netip.AddrPort{}, nil
	}
	ap := ua.AddrPort()
	return n, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), nil
}
