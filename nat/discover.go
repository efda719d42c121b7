package nat

import (
	"context"
	"errors"
	"fmt"
	"github.com/spurtvoip/spurt/internal/ctxwait"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/pion/stun/v3"
)

// Retransmission of a STUN request over UDP (RFC 8489 section 6.2.1): the
// first retransmission after RTO, each later one after twice the previous
// wait, Rc requests in all, then Rm times the initial RTO for the last answer.
const (
	initialRTO       = 500 * time.Millisecond
	discoverRequests = 7  // Rc
	finalWaitFactor  = 16 // Rm
)

// ErrNoResponse is wrapped by Discover's error when every retransmission
// went unanswered.
var ErrNoResponse = errors.New("no response")

// ErrErrorResponse is wrapped by Discover's error when the server answered
// with an error response; the error's text gives its code and reason.
var ErrErrorResponse = errors.New("error response")

// Discover asks the STUN server at server which address it sees conn's
// packets come from, and returns that server-reflexive address (see
// ServerReflexive). It sends a binding request with FINGERPRINT and
// retransmits it as RFC 8489 section 6.2.1 says (RTO 500 ms doubling, 7
// requests, then 8 s for the last answer, 39.5 s in all) unless ctx ends
// first. Datagrams from other addresses and answers to other transactions
// are skipped; an error response is an error.
//
// Discover reads from conn, so nothing else may read from it meanwhile. It
// uses conn's read deadline and clears it before returning.
func Discover(ctx context.Context, conn net.PacketConn, server netip.AddrPort) (netip.AddrPort, error) {
	server = netip.AddrPortFrom(server.Addr().Unmap(), server.Port())
	if !validPeer(server) {
		return netip.AddrPort{}, fmt.Errorf("nat: STUN server address %v is not usable", server)
	}
	fail := func(err error) (netip.AddrPort, error) {
		return netip.AddrPort{}, fmt.Errorf("nat: STUN binding request to %v: %w", server, err)
	}
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return fail(err)
	}

	stop := ctxwait.AfterFunc(ctx, func() { _ = conn.SetReadDeadline(time.Unix(1, 0)) })
	defer func() {
		stop()
		_ = conn.SetReadDeadline(time.Time{})
	}()

	var (
		udp, _ = conn.(*net.UDPConn)
		buf    = make([]byte, maxMessageSize+1)
		resp   = stun.NewWithOptions(stun.WithStrict(true))
		wait   = initialRTO
		start  = time.Now()
	)
	for sent := 1; sent <= discoverRequests; sent++ {
		if err := writeTo(conn, udp, req.Raw, server); err != nil {
			return fail(err)
		}
		if sent == discoverRequests {
			wait = finalWaitFactor * initialRTO
		}
		deadline := time.Now().Add(wait)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		if err := conn.SetReadDeadline(deadline); err != nil {
			return fail(err)
		}
		if err := ctx.Err(); err != nil {
			return fail(err) // ended before the deadline above was set
		}
		// Each pass reads one datagram; the read deadline ends the loop.
		for {
			n, from, err := readFrom(conn, udp, buf)
			if err != nil {
				if ctxErr := contextError(ctx, err); ctxErr != nil {
					return fail(ctxErr)
				}
				if errors.Is(err, os.ErrDeadlineExceeded) {
					break
				}
				return fail(err)
			}
			if from != server {
				continue
			}
			mapped, matched, err := parseBindingResponse(resp, buf[:n], req.TransactionID)
			if !matched {
				continue
			}
			if err != nil {
				return fail(err)
			}
			return mapped, nil
		}
		wait *= 2
	}
	return fail(fmt.Errorf("%w after %d requests in %v", ErrNoResponse, discoverRequests, time.Since(start).Round(time.Millisecond)))
}

// parseBindingResponse reads pkt as the answer to the binding request with
// transaction ID txID. matched is false when pkt is not a STUN response to
// that transaction (then it is to be ignored). A success response yields
// XOR-MAPPED-ADDRESS, or MAPPED-ADDRESS from a server that predates RFC 5389;
// an error response yields an error carrying its code and reason.
func parseBindingResponse(m *stun.Message, pkt []byte, txID [stun.TransactionIDSize]byte) (mapped netip.AddrPort, matched bool, err error) {
	if decode(m, pkt) != nil || m.TransactionID != txID || m.Type.Method != stun.MethodBinding {
		return netip.AddrPort{}, false, nil
	}
	if m.Type.Class != stun.ClassSuccessResponse && m.Type.Class != stun.ClassErrorResponse {
		return netip.AddrPort{}, false, nil
	}
	if !fingerprintValid(m) {
		return netip.AddrPort{}, false, nil // corrupted, or not STUN after all
	}
	if m.Type.Class == stun.ClassErrorResponse {
		var code stun.ErrorCodeAttribute
		if err := code.GetFrom(m); err != nil {
			return netip.AddrPort{}, true, fmt.Errorf("error response without a valid ERROR-CODE: %w", err)
		}
		return netip.AddrPort{}, true, fmt.Errorf("%w %d %s", ErrErrorResponse, code.Code, printable(string(code.Reason)))
	}
	var (
		xor    stun.XORMappedAddress
		plain  stun.MappedAddress
		ip     []byte
		port   int
		source = "XOR-MAPPED-ADDRESS"
	)
	if err := xor.GetFrom(m); err == nil {
		ip, port = xor.IP, xor.Port
	} else if err := plain.GetFrom(m); err == nil {
		ip, port, source = plain.IP, plain.Port, "MAPPED-ADDRESS"
	} else {
		return netip.AddrPort{}, true, errors.New("success response without XOR-MAPPED-ADDRESS")
	}
	ap, ok := addrPortOf(ip, port)
	if !ok || !validPeer(ap) {
		return netip.AddrPort{}, true, fmt.Errorf("success response with unusable %s %v port %d", source, net.IP(ip), port)
	}
	return ap, true, nil
}

// printable makes untrusted text safe to show: at most 64 bytes, anything
// but printable ASCII replaced by '?'.
func printable(s string) string {
	if len(s) > 64 {
		s = s[:64]
	}
	b := []byte(s)
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = '?'
		}
	}
	return string(b)
}

// contextError says whether the I/O error err is down to ctx: cancelled, or
// its deadline (set on the socket) reached even if ctx's own timer has not
// fired yet. It returns nil when err has another cause.
func contextError(ctx context.Context, err error) error {
	if ctxErr := ctx.Err(); ctxErr != nil {
		return ctxErr
	}
	if d, ok := ctx.Deadline(); ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(d) {
		return context.DeadlineExceeded
	}
	return nil
}
