package signaling

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// NoCommonCodecError is returned when an offer holds none of the codecs the
// answerer supports. Names are lower case, since codec names match regardless
// of case.
type NoCommonCodecError struct {
	Offered   []string // codec names in the offer, in its order (auxiliary formats left out)
	Supported []string // names the answerer accepts
}

func (e *NoCommonCodecError) Error() string {
	return fmt.Sprintf("no common codec: offered [%s], supported [%s]",
		strings.Join(e.Offered, " "), strings.Join(e.Supported, " "))
}

// AnswerOptions says what the answerer accepts and where it receives.
type AnswerOptions struct {
	// Supported lists the codec names the answerer can both send and receive,
	// e.g. "PCMU"; case is ignored.
	Supported []string
	// AlsoAccept lists auxiliary formats (e.g. "telephone-event", "CN", "red",
	// "ulpfec") to keep in the answer, after the codec and in the offer's order,
	// if they are offered at the chosen codec's clock rate; case is ignored.
	AlsoAccept []string
	// RTPAddr is where the answerer receives RTP and RTCP.
	RTPAddr netip.AddrPort
	// SessionID goes into the answer's o= line.
	SessionID uint64
	// PTime is the packetisation time the answerer wants; zero means DefaultPTime.
	PTime time.Duration
}

// AnswerWith builds the answerer's session (RFC 3264 §6): it accepts the
// first format in the offer's order whose Name is in opts.Supported
// (case-insensitive), so the offerer's preference wins, and keeps besides it
// the offered formats named in opts.AlsoAccept that share the codec's clock
// rate, with the payload types, rates and fmtp the offer gave them. If no
// codec matches the error is a *NoCommonCodecError.
func AnswerWith(offer Session, opts AnswerOptions) (Session, error) {
	if err := validateRTPAddr(opts.RTPAddr); err != nil {
		return Session{}, fmt.Errorf("signaling: answering: %w", err)
	}
	ptime := opts.PTime
	if ptime == 0 {
		ptime = DefaultPTime
	}
	chosen := slices.IndexFunc(offer.Formats, func(f Format) bool {
		return containsFold(opts.Supported, f.Name)
	})
	if chosen < 0 {
		err := &NoCommonCodecError{Supported: make([]string, len(opts.Supported))}
		for _, f := range offer.Formats {
			if !containsFold(opts.AlsoAccept, f.Name) { // auxiliary formats are no codecs
				err.Offered = append(err.Offered, strings.ToLower(f.Name))
			}
		}
		for i, name := range opts.Supported {
			err.Supported[i] = strings.ToLower(name)
		}
		return Session{}, err
	}
	codec := offer.Formats[chosen]
	answer := Session{
		SessionID: opts.SessionID,
		Formats:   []Format{codec},
		RTPAddr:   opts.RTPAddr,
		PTime:     ptime,
	}
	for i, f := range offer.Formats {
		if i != chosen && f.ClockRate == codec.ClockRate && containsFold(opts.AlsoAccept, f.Name) {
			answer.Formats = append(answer.Formats, f)
		}
	}
	return answer, nil
}

func containsFold(names []string, name string) bool {
	return slices.ContainsFunc(names, func(n string) bool { return strings.EqualFold(n, name) })
}
