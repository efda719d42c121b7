package negotiate

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"

	"github.com/spurtvoip/spurt/nat"
	"github.com/spurtvoip/spurt/signaling"
)

// ICE is one side's ICE credentials and candidates (RFC 8445), carried in
// its session description as a=ice-ufrag, a=ice-pwd and a=candidate lines
// (RFC 8839).
type ICE struct {
	Ufrag, Pwd string
	Candidates []nat.Candidate
}

// SDP attribute names of ICE (RFC 8839).
const (
	attrCandidate = "candidate"
	attrIceUfrag  = "ice-ufrag"
	attrIcePwd    = "ice-pwd"
)

// maxPeerCandidates bounds the candidates taken from a peer's description.
const maxPeerCandidates = 32

// DefaultAddr is the address for the c= and m= lines (RFC 8839 section
// 4.2.1.2): the server-reflexive candidate if there is one, which a peer
// without ICE could reach most likely, else the first (best) host one. It
// is the zero AddrPort when there are no candidates.
func (ice ICE) DefaultAddr() netip.AddrPort {
	for _, c := range ice.Candidates {
		if c.Type == nat.TypeSrflx {
			return c.Addr
		}
	}
	if len(ice.Candidates) == 0 {
		return netip.AddrPort{}
	}
	return ice.Candidates[0].Addr
}

// attributes are the a=ice-ufrag, a=ice-pwd and a=candidate lines.
func (ice ICE) attributes() []signaling.Attribute {
	attrs := []signaling.Attribute{{Key: attrIceUfrag, Value: ice.Ufrag}, {Key: attrIcePwd, Value: ice.Pwd}}
	for _, c := range ice.Candidates {
		attrs = append(attrs, signaling.Attribute{Key: attrCandidate, Value: c.String()})
	}
	return attrs
}

// WithICE returns s describing ice instead of the ICE it held: its ICE
// lines replaced, and its media address the default candidate. s's own
// attributes are left as they were, so a session sent before can be sent
// again with fresh candidates.
func WithICE(s signaling.Session, ice ICE) signaling.Session {
	s.RTPAddr = ice.DefaultAddr()
	s.Extra = append(slices.DeleteFunc(slices.Clone(s.Extra), func(a signaling.Attribute) bool {
		return a.Key == attrCandidate || a.Key == attrIceUfrag || a.Key == attrIcePwd
	}), ice.attributes()...)
	return s
}

// ReadICE reads the credentials and candidates of a session description.
// Candidates that do not parse are skipped (RFC 8839 section 5.1 lets a
// peer send kinds we do not know), and at most 32 are taken; missing
// credentials or no candidate at all are errors.
func ReadICE(s signaling.Session) (ICE, error) {
	var ice ICE
	var skipped []error
	for _, a := range s.Extra {
		switch a.Key {
		case attrIceUfrag:
			ice.Ufrag = a.Value
		case attrIcePwd:
			ice.Pwd = a.Value
		case attrCandidate:
			c, err := nat.ParseCandidate(a.Value)
			if err != nil {
				skipped = append(skipped, err)
				continue
			}
			if len(ice.Candidates) < maxPeerCandidates {
				ice.Candidates = append(ice.Candidates, c)
			}
		}
	}
	switch {
	case ice.Ufrag == "" || ice.Pwd == "":
		return ICE{}, errors.New("no a=ice-ufrag and a=ice-pwd: the peer is not set up for --via calls")
	case len(ice.Candidates) == 0:
		return ICE{}, fmt.Errorf("no usable a=candidate line: %w", errors.Join(skipped...))
	}
	return ice, nil
}
