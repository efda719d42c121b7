// Package fec owns forward error correction on RTP: XOR parity packets
// (RFC 5109) and redundant audio blocks (RFC 2198).
//
// XOR parity: an XOREncoder watches the outgoing media packets and, after
// every n of them, produces one ULPFEC packet (RFC 5109, a single protection
// level 0 covering whole packets) whose payload is the XOR of the n packets.
// An XORDecoder keeps the media packets received lately; when exactly one
// packet of a protected group is missing and that group's FEC packet has
// arrived, it rebuilds the missing packet bit for bit. The overhead is one
// packet per n, and a group survives any single loss.
//
// Redundant audio: AppendRED and ParseRED build and split RFC 2198 payloads,
// in which each packet carries the current frame (the primary) and copies of
// earlier frames, so a receiver that lost a packet finds its audio in the
// next one.
//
// On the receive path, REDReceiver and XORReceiver are the repair stages
// built on these formats: they take the stream's packets as they arrive, push
// what they recover into a playout buffer (or hand it to the next stage), and
// report what they did.
//
// Everything here is a clockless state machine: nothing reads a clock,
// sleeps, spawns goroutines or touches a socket, and the per-packet paths do
// not allocate once warmed up.
package fec

import "errors"

// ErrMalformed is wrapped by the errors returned for FEC packets and RED
// payloads that do not parse or do not make sense.
var ErrMalformed = errors.New("malformed packet")

// MaxPacketSize is the largest media RTP packet, header included, that an
// XOREncoder protects and an XORDecoder stores; it covers any packet that
// fits a 1500-byte Ethernet MTU. The encoder rejects bigger packets and the
// decoder counts and drops them.
const MaxPacketSize = 1500

const (
	rtpHeaderSize     = 12 // fixed RTP header, RFC 3550 section 5.1
	rtpVersion        = 2
	maxPayloadType    = 127 // seven bits
	maxProtectedBytes = MaxPacketSize - rtpHeaderSize
)
