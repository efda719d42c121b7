// Package media owns a call's clockless media core: the sender and the
// receive pipelines (plain, RED, XOR parity, interleaved), the RTP session
// with its RTCP, source validation, the output timeline, stats, traces and
// the call summary, and the Endpoint that holds the policy around a session:
// the file-capture schedule, when RTCP reports go, the emulated network our
// packets cross, and when and why a call ends.
//
// Time is always an argument: nothing here reads a clock, sleeps, starts a
// goroutine or touches a socket. rtpcall drives an Endpoint in real time;
// bench and the tests drive the same code on a virtual clock.
package media
