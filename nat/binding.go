package nat

import (
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/pion/stun/v3"
)

// Binding is one STUN binding transaction with a server (RFC 8489 section
// 6.2.1) as a clockless state machine, for a caller that owns the socket:
// during a call the call's loop reads the media socket, so it cannot use
// Discover to learn its server-reflexive address again. The caller sends
// what Next returns to the server, feeds datagrams from the server to
// Handle, and stops when Done; Result then says what came of it.
//
// Requests are retransmitted after the RTO of 500 ms, doubling each time,
// up to a given number; after the last one the transaction waits a given
// time for the answer. A Binding is not safe for concurrent use.
type Binding struct {
	server    netip.AddrPort
	id        [stun.TransactionIDSize]byte
	raw       []byte
	requests  int
	finalWait time.Duration
	sent      int
	due       time.Duration // the next request, or giving up once all are sent
	start     time.Duration
	done      bool
	mapped    netip.AddrPort
	err       error
	resp      *stun.Message
}

// NewBinding returns a transaction asking server which address our
// datagrams come from, sending up to requests requests (at least one) and
// waiting finalWait after the last.
func NewBinding(server netip.AddrPort, requests int, finalWait time.Duration) (*Binding, error) {
	server = netip.AddrPortFrom(server.Addr().Unmap(), server.Port())
	if !validPeer(server) {
		return nil, fmt.Errorf("nat: STUN server address %v is not usable", server)
	}
	req, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.Fingerprint)
	if err != nil {
		return nil, fmt.Errorf("nat: building a binding request: %w", err)
	}
	return &Binding{
		server:    server,
		id:        req.TransactionID,
		raw:       req.Raw,
		requests:  max(requests, 1),
		finalWait: finalWait,
		resp:      stun.NewWithOptions(stun.WithStrict(true)),
	}, nil
}

// Server is the address requests go to and answers must come from.
func (b *Binding) Server() netip.AddrPort { return b.server }

// Next returns the request to send to Server at now, if one is due: the
// first on the first call, then each retransmission when its time comes.
// The request stays valid.
func (b *Binding) Next(now time.Duration) ([]byte, bool) {
	if b.done || b.sent >= b.requests {
		return nil, false
	}
	if b.sent == 0 {
		b.start, b.due = now, now
	}
	if now < b.due {
		return nil, false
	}
	b.sent++
	if b.sent < b.requests {
		b.due = now + initialRTO<<(b.sent-1)
	} else {
		b.due = now + b.finalWait
	}
	return b.raw, true
}

// Handle takes a datagram from from and reports whether it was the answer
// to this transaction (from the server, with its transaction ID): a
// success response with the mapped address, or an error response. Either
// ends the transaction. Anything else is not for it, and ignored.
func (b *Binding) Handle(pkt []byte, from netip.AddrPort) bool {
	from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
	if b.done || from != b.server || !IsSTUN(pkt) {
		return false
	}
	mapped, matched, err := parseBindingResponse(b.resp, pkt, b.id)
	if !matched {
		return false
	}
	b.done, b.mapped, b.err = true, mapped, err
	return true
}

// Done reports whether the transaction is over at now: answered, or every
// request sent and the final wait passed without an answer.
func (b *Binding) Done(now time.Duration) bool {
	if !b.done && b.sent >= b.requests && now >= b.due {
		b.done = true
		b.err = fmt.Errorf("%w after %d requests in %v", ErrNoResponse, b.sent, (now - b.start).Round(time.Millisecond))
	}
	return b.done
}

// Result is the server-reflexive address the server reported, once Done;
// or why there is none: no answer (wrapping ErrNoResponse), or the
// server's error response.
func (b *Binding) Result() (netip.AddrPort, error) {
	if !b.done {
		return netip.AddrPort{}, errors.New("nat: binding transaction not finished")
	}
	if b.err != nil {
		return netip.AddrPort{}, fmt.Errorf("nat: STUN binding request to %v: %w", b.server, b.err)
	}
	return b.mapped, nil
}
