// Package media owns a call's clockless media core: the sender, the receive
// pipeline, the RTP session with its RTCP, source validation, the output
// timeline, stats, traces and the call summary, and the Endpoint that holds
// the policy around a session: the file-capture schedule, when RTCP reports
// go, the emulated network our packets cross, and when and why a call ends.
//
// Time is always an argument: nothing here reads a clock, sleeps, starts a
// goroutine or touches a socket. rtpcall drives an Endpoint in real time;
// bench and the tests drive the same code on a virtual clock.
//
// A received datagram goes one way (receiver.go): parse, payload type,
// source check (source.go), the repair stages beside their wire formats
// (fec.XORReceiver, then interleave.Reassembler or fec.REDReceiver), the
// playout buffer (jitter.Buffer); then Render: decode, conceal (conceal.go),
// timeline (timeline.go), sink. Packets carry their repair history as
// jitter.Meta, and each stage reports what it did; the receiver counts.
//
// Which source a call hears follows RFC 3550 A.1 (source.go): version 2
// only, a probation of two packets in sequence before an SSRC is believed,
// another SSRC or a sequence jump taken only after the stream has been
// quiet for 500 ms, and an RTCP BYE believed once the stream has stopped
// (session.go). Without SRTP these rules keep one stray or spoofed packet
// from muting, ending or entering a call, but not an attacker who sees the
// stream: packets forged with its SSRC and next sequence numbers, a BYE
// forged while the peer is silent, or a stream sent while it pauses for
// over 500 ms are indistinguishable from the peer's own.
package media
