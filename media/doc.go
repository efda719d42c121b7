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
package media
