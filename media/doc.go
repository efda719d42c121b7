// Package media owns one endpoint's RTP session (RFC 3550) as a clockless
// core: the send pipeline (codec, talk spurts, redundant audio, parity,
// interleaving), the receive pipeline, RTCP reports, source validation, the
// output timeline, the call's statistics and why it ended. Every method takes
// the time as an argument; nothing here reads a clock, sleeps, starts a
// goroutine or touches a socket. Package rtpcall drives it in real time, and
// package bench on a virtual clock.
//
// A received datagram goes one way (receiver.go): parse, payload type,
// source check (source.go), the repair stages beside their wire formats
// (fec.XORReceiver, then interleave.Reassembler or fec.REDReceiver), the
// playout buffer (jitter.Buffer); then Render: decode, conceal (conceal.go),
// timeline (timeline.go), sink. Packets carry their repair history as
// jitter.Meta, and each stage reports what it did; the receiver counts.
package media
