// Package rtpcall is the real-time shell around a media.Session: it owns the
// call's UDP socket and the goroutine reading it, a sound card's capture
// goroutine, the wall clock, the send-side impairment delay line, the NAT path
// (STUN on the media port, following a peer that moves, renewing a path that
// died) and the live status line. Everything it decides about the media
// itself it asks the clockless core.
package rtpcall
