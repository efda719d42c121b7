package signaling

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// Kind says what a Message is.
type Kind uint8

// Message kinds. The zero Kind is invalid.
const (
	KindOffer  Kind = iota + 1 // body: the offerer's SDP
	KindAnswer                 // body: the answerer's SDP
	KindBye                    // body: empty; the sender is hanging up
	KindError                  // body: UTF-8 text saying why the sender gives up
)

func (k Kind) String() string {
	switch k {
	case KindOffer:
		return "OFFER"
	case KindAnswer:
		return "ANSWER"
	case KindBye:
		return "BYE"
	case KindError:
		return "ERROR"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

func (k Kind) valid() bool {
	return k >= KindOffer && k <= KindError
}

func parseKind(b []byte) (Kind, bool) {
	for k := KindOffer; k <= KindError; k++ {
		if string(b) == k.String() {
			return k, true
		}
	}
	return 0, false
}

// Message is one framed message on the signaling channel.
type Message struct {
	Kind Kind
	Body []byte
}

// MaxMessageSize is the largest body the channel carries. A peer announcing a
// larger one is a protocol error and its connection is closed.
const MaxMessageSize = 64 << 10

// ErrMalformed is wrapped by errors for bytes that do not follow the framing:
// wrong magic, unknown kind, bad or oversized length, overlong header line.
var ErrMalformed = errors.New("malformed message")

const (
	magic = "SPURT/1 "
	// maxHeaderLen bounds the header line, LF included; the longest valid one,
	// "SPURT/1 ANSWER 65536\n", has 21 bytes.
	maxHeaderLen = 32
)

// appendMessage appends the framing of m to dst.
func appendMessage(dst []byte, m Message) ([]byte, error) {
	if !m.Kind.valid() {
		return dst, fmt.Errorf("invalid message kind %v", m.Kind)
	}
	if len(m.Body) > MaxMessageSize {
		return dst, fmt.Errorf("%v body of %d bytes exceeds %d", m.Kind, len(m.Body), MaxMessageSize)
	}
	dst = append(dst, magic...)
	dst = append(dst, m.Kind.String()...)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(len(m.Body)), 10)
	dst = append(dst, '\n')
	return append(dst, m.Body...), nil
}

// readHeader reads and checks one header line. It returns io.EOF, unwrapped, if
// r ends before the first byte, so the caller can tell a hang-up from garbage.
func readHeader(r *bufio.Reader) (Kind, int, error) {
	var line [maxHeaderLen]byte
	n := 0
	for {
		c, err := r.ReadByte()
		if err != nil {
			if errors.Is(err, io.EOF) && n > 0 {
				err = io.ErrUnexpectedEOF
			}
			return 0, 0, err
		}
		if c == '\n' {
			break
		}
		if n == len(line)-1 {
			return 0, 0, fmt.Errorf("%w: header line longer than %d bytes: %q...", ErrMalformed, maxHeaderLen, string(line[:n]))
		}
		line[n] = c
		n++
	}
	header := line[:n]
	if len(header) < len(magic) || string(header[:len(magic)]) != magic {
		return 0, 0, fmt.Errorf("%w: header %q does not start with %q", ErrMalformed, string(header), magic)
	}
	rest := header[len(magic):]
	sp := -1
	for i, c := range rest {
		if c == ' ' {
			sp = i
			break
		}
	}
	if sp < 0 {
		return 0, 0, fmt.Errorf("%w: header %q has no length", ErrMalformed, string(header))
	}
	kind, ok := parseKind(rest[:sp])
	if !ok {
		return 0, 0, fmt.Errorf("%w: unknown kind %q", ErrMalformed, string(rest[:sp]))
	}
	length, ok := parseLength(rest[sp+1:])
	if !ok {
		return 0, 0, fmt.Errorf("%w: bad length %q in %v header", ErrMalformed, string(rest[sp+1:]), kind)
	}
	if length > MaxMessageSize {
		return 0, 0, fmt.Errorf("%w: %v body of %d bytes exceeds %d", ErrMalformed, kind, length, MaxMessageSize)
	}
	return kind, length, nil
}

// parseLength reads a canonical decimal: digits only, no leading zeros, at most
// 7 digits (enough to exceed MaxMessageSize, too few to overflow).
func parseLength(b []byte) (int, bool) {
	if len(b) == 0 || len(b) > 7 || (len(b) > 1 && b[0] == '0') {
		return 0, false
	}
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// readMessage reads one framed message. Errors say which part failed; io.EOF
// (wrapped) means r ended cleanly before the message started.
func readMessage(r *bufio.Reader) (Message, error) {
	kind, length, err := readHeader(r)
	if err != nil {
		return Message{}, fmt.Errorf("reading message header: %w", err)
	}
	m := Message{Kind: kind, Body: make([]byte, length)}
	if n, err := io.ReadFull(r, m.Body); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return Message{}, fmt.Errorf("reading %v body (%d of %d bytes): %w", kind, n, length, err)
	}
	return m, nil
}
