// Package signaling owns call set-up: the SDP offer/answer that picks a codec and
// the media address, and the framed TCP channel that carries it (later also via a
// rendezvous server).
//
// # Session descriptions
//
// A [Session] is the part of an SDP description (RFC 8866) that Spurt uses: one
// audio stream over RTP/AVP with RTCP multiplexed on the RTP port (RFC 5761),
// its payload formats in preference order, and the packetisation time.
// [Session.Marshal] and [ParseSession] convert to and from SDP text using
// github.com/pion/sdp/v3, and [AnswerWith] implements the answerer's half of the
// offer/answer model (RFC 3264): the offerer's preference wins. What the two
// sides agree on besides the codec (loss-recovery schemes, ICE) is the
// subpackage negotiate's.
//
// # Framing
//
// Every message on the channel is one header line followed by a body:
//
//	SPURT/1 <KIND> <LENGTH>\n
//	<LENGTH bytes of body>
//
// KIND is OFFER, ANSWER, BYE or ERROR (upper case), LENGTH is the body size in
// decimal without sign or leading zeros, at most [MaxMessageSize]. Fields are
// separated by exactly one space and the line ends in a single LF. A header line
// longer than 32 bytes, a wrong magic, an unknown kind or a bad length is a
// protocol error ([ErrMalformed]) and the connection is closed. OFFER and ANSWER
// bodies are SDP, ERROR bodies are UTF-8 text, BYE bodies are empty.
//
// Once the first byte of a message has arrived, the rest must follow within
// [DefaultTimeout] (or the caller's context deadline, if sooner); a peer that
// stalls mid-message gets its connection closed.
package signaling
