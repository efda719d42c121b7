// Package nat owns NAT traversal for Spurt: a STUN binding client and server
// (RFC 8489), ICE-style candidates (RFC 8445, SDP form of RFC 8839), and the
// connectivity-check state machine that opens a direct UDP path between two
// peers behind NATs.
//
// STUN messages are built and parsed with github.com/pion/stun/v3; this
// package decides what to send, when, and what an answer means.
//
// # Functional core, thin shell
//
// The STUN responder, [Checker], [ParseCandidate] and [Candidate.String] are
// clockless: time is an argument (a time.Duration on any monotonic clock the
// caller keeps), nothing sleeps, starts goroutines or touches sockets. The
// shell parts are [Server] (serves the responder on a net.PacketConn),
// [Discover] (one binding transaction with retransmissions) and [GatherHost]
// (reads the interface list).
//
// # Connectivity checks
//
// Spurt sends media and checks from one UDP socket, so the kernel, not the
// check, picks the source address. A check is therefore identified by the
// remote address alone: each usable remote candidate forms one pair with the
// best local candidate of its address family (a server-reflexive local
// candidate stands for its base, as RFC 8445 section 6.1.2.4 prunes it), and
// the pair's priority follows RFC 8445 section 6.1.2.3. [Checker.Selected]
// reports the first pair that worked in both directions: our check got an
// authenticated success response from that address and the peer's
// authenticated check arrived from it. There is no nomination; each side
// sends media to the pair it selected.
//
// # During the call
//
// A NAT may rebind mid-call, and the peer's media then comes from a new
// address. Media alone proves nothing (anyone can send it), so [Prober]
// sends that address an authenticated check and reports the peer's
// authenticated answer from exactly there; [Checker.Verify] accepts an
// authenticated check from the new address as proof too, but not a copy of
// one already seen from elsewhere.
//
// The media port carries STUN and RTP/RTCP together; [IsSTUN] tells them
// apart as RFC 7983 describes.
package nat
