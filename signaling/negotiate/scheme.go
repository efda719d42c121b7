package negotiate

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spurtvoip/spurt/fec"
	"github.com/spurtvoip/spurt/media"
)

// Scheme is the loss recovery one side sends besides its codec, as the
// command line and the bench name it: none, red, red:N, xor, xor:N,
// interleave:D or interleave:D+xor:N. A call carries redundant audio alone,
// or XOR parity, interleaving or both.
type Scheme struct {
	// RED is how many earlier chunks each packet carries as copies (RFC
	// 2198), 1 to media.MaxREDDistance; 0: none.
	RED int
	// XOR is how many media packets each parity packet protects (RFC 5109),
	// fec.MinGroupSize to fec.MaxGroupSize; 0: none.
	XOR int
	// Interleave is how many 20 ms chunks each group spreads over as many
	// packets (media.ValidInterleaveDepth); 0: none.
	Interleave int
}

// Scheme names, as --fec takes them.
const (
	NameNone       = "none"
	NameRED        = "red"
	NameXOR        = "xor"
	NameInterleave = "interleave"
)

// String names s as ParseScheme reads it: "none", "red:1", "xor:4",
// "interleave:4" or "interleave:4+xor:2".
func (s Scheme) String() string {
	var parts []string
	if s.RED > 0 {
		parts = append(parts, fmt.Sprintf("%s:%d", NameRED, s.RED))
	}
	if s.Interleave > 0 {
		parts = append(parts, fmt.Sprintf("%s:%d", NameInterleave, s.Interleave))
	}
	if s.XOR > 0 {
		parts = append(parts, fmt.Sprintf("%s:%d", NameXOR, s.XOR))
	}
	if len(parts) == 0 {
		return NameNone
	}
	return strings.Join(parts, "+")
}

// SchemeError says why a scheme's text was not taken. Callers may phrase
// it for their own flag from Named; Error gives the bench's wording.
type SchemeError struct {
	Text string // as given
	// Named is the scheme the text named (NameRED, NameXOR, NameInterleave),
	// "+" for a combination, or "" when it named none known.
	Named string
	Want  string // the syntax wanted, e.g. "xor:N with N from 2 to 24"
}

func (e *SchemeError) Error() string { return fmt.Sprintf("FEC scheme %q: want %s", e.Text, e.Want) }

// schemeError is the SchemeError for a text that named the scheme named.
func schemeError(text, named string) *SchemeError {
	e := &SchemeError{Text: text, Named: named}
	switch named {
	case NameRED:
		e.Want = fmt.Sprintf("red:N with N from 1 to %d", media.MaxREDDistance)
	case NameXOR:
		e.Want = fmt.Sprintf("xor:N with N from %d to %d", fec.MinGroupSize, fec.MaxGroupSize)
	case NameInterleave:
		e.Want = "interleave:D with D of 2, 4, 5 or 8"
	case "+":
		e.Want = "interleave:D+xor:N"
	default:
		e.Want = "none, red[:N], xor[:N], interleave:D or interleave:D+xor:N"
	}
	return e
}

// ParseScheme reads a scheme: none, red (one copy), red:N, xor (groups of
// media.DefaultXORGroupSize), xor:N, interleave:D, or interleave:D+xor:N
// (in either order). Case and surrounding space are ignored. A bad text is
// a *SchemeError.
func ParseScheme(text string) (Scheme, error) {
	lower := strings.ToLower(strings.TrimSpace(text))
	first, second, combined := strings.Cut(lower, "+")
	if !combined {
		return parseTerm(text, lower)
	}
	a, errA := parseTerm(text, strings.TrimSpace(first))
	b, errB := parseTerm(text, strings.TrimSpace(second))
	if a.XOR > 0 {
		a, b = b, a
	}
	if errA != nil || errB != nil || a.Interleave == 0 || a.XOR != 0 || b.XOR == 0 {
		return Scheme{}, schemeError(text, "+")
	}
	return Scheme{Interleave: a.Interleave, XOR: b.XOR}, nil
}

// ParseFEC reads what a call's --fec names: none, red, red:N, xor or xor:N
// (interleaving has a flag of its own). A bad text is a *SchemeError whose
// Named says which scheme it named.
func ParseFEC(text string) (Scheme, error) {
	s, err := parseTerm(text, strings.ToLower(strings.TrimSpace(text)))
	if err == nil && s.Interleave > 0 {
		return Scheme{}, &SchemeError{Text: text, Named: NameInterleave, Want: "none, red, red:N, xor or xor:N (interleaving has a flag of its own)"}
	}
	return s, err
}

// parseTerm reads one scheme, lower: the text lower-cased and trimmed; text
// is what the error quotes.
func parseTerm(text, lower string) (Scheme, error) {
	kind, arg, hasArg := strings.Cut(lower, ":")
	number := func(def, lo, hi int) (int, bool) {
		if !hasArg {
			return def, true
		}
		n, err := strconv.Atoi(arg)
		return n, err == nil && n >= lo && n <= hi
	}
	switch kind {
	case NameNone:
		if !hasArg {
			return Scheme{}, nil
		}
	case NameRED:
		n, ok := number(1, 1, media.MaxREDDistance)
		if !ok {
			return Scheme{}, schemeError(text, NameRED)
		}
		return Scheme{RED: n}, nil
	case NameXOR:
		n, ok := number(media.DefaultXORGroupSize, fec.MinGroupSize, fec.MaxGroupSize)
		if !ok {
			return Scheme{}, schemeError(text, NameXOR)
		}
		return Scheme{XOR: n}, nil
	case NameInterleave:
		d, err := strconv.Atoi(arg)
		if !hasArg || err != nil || !media.ValidInterleaveDepth(d) {
			return Scheme{}, schemeError(text, NameInterleave)
		}
		return Scheme{Interleave: d}, nil
	}
	return Scheme{}, schemeError(text, "")
}
