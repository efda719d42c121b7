package negotiate

import (
	"errors"
	"testing"
)

func TestParseScheme(t *testing.T) {
	tests := []struct {
		in   string
		want Scheme
		name string // String of the result
	}{
		{"none", Scheme{}, "none"},
		{"red", Scheme{RED: 1}, "red:1"},
		{" RED:2 ", Scheme{RED: 2}, "red:2"},
		{"red:4", Scheme{RED: 4}, "red:4"},
		{"xor", Scheme{XOR: 4}, "xor:4"},
		{"XOR:2", Scheme{XOR: 2}, "xor:2"},
		{"xor:24", Scheme{XOR: 24}, "xor:24"},
		{"interleave:4", Scheme{Interleave: 4}, "interleave:4"},
		{"interleave:5", Scheme{Interleave: 5}, "interleave:5"},
		{"interleave:2+xor:6", Scheme{Interleave: 2, XOR: 6}, "interleave:2+xor:6"},
		{"xor:3+interleave:8", Scheme{Interleave: 8, XOR: 3}, "interleave:8+xor:3"},
		{"interleave:4 + xor", Scheme{Interleave: 4, XOR: 4}, "interleave:4+xor:4"},
	}
	for _, tt := range tests {
		got, err := ParseScheme(tt.in)
		if err != nil || got != tt.want || got.String() != tt.name {
			t.Errorf("ParseScheme(%q) = %+v (%s), %v; want %+v (%s)", tt.in, got, got, err, tt.want, tt.name)
		}
		if again, err := ParseScheme(got.String()); err != nil || again != got {
			t.Errorf("ParseScheme(%q) = %+v, %v; want %+v back", got.String(), again, err, got)
		}
	}
}

// TestParseSchemeErrors: every bad text names the syntax of the scheme it
// tried, as the bench reports it.
func TestParseSchemeErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{"red:0", `FEC scheme "red:0": want red:N with N from 1 to 4`},
		{"red:5", `FEC scheme "red:5": want red:N with N from 1 to 4`},
		{"red:x", `FEC scheme "red:x": want red:N with N from 1 to 4`},
		{"xor:1", `FEC scheme "xor:1": want xor:N with N from 2 to 24`},
		{"xor:25", `FEC scheme "xor:25": want xor:N with N from 2 to 24`},
		{"interleave", `FEC scheme "interleave": want interleave:D with D of 2, 4, 5 or 8`},
		{"interleave:3", `FEC scheme "interleave:3": want interleave:D with D of 2, 4, 5 or 8`},
		{"interleave:16", `FEC scheme "interleave:16": want interleave:D with D of 2, 4, 5 or 8`},
		{"interleave:4+red", `FEC scheme "interleave:4+red": want interleave:D+xor:N`},
		{"xor:2+xor:3", `FEC scheme "xor:2+xor:3": want interleave:D+xor:N`},
		{"none+xor", `FEC scheme "none+xor": want interleave:D+xor:N`},
		{"interleave:4+interleave:2+xor:3", `FEC scheme "interleave:4+interleave:2+xor:3": want interleave:D+xor:N`},
		{"interleave:3+xor:2", `FEC scheme "interleave:3+xor:2": want interleave:D+xor:N`},
		{"+", `FEC scheme "+": want interleave:D+xor:N`},
		{"parity", `FEC scheme "parity": want none, red[:N], xor[:N], interleave:D or interleave:D+xor:N`},
		{"none:1", `FEC scheme "none:1": want none, red[:N], xor[:N], interleave:D or interleave:D+xor:N`},
		{"", `FEC scheme "": want none, red[:N], xor[:N], interleave:D or interleave:D+xor:N`},
	}
	for _, tt := range tests {
		s, err := ParseScheme(tt.in)
		var se *SchemeError
		if !errors.As(err, &se) || err.Error() != tt.want || s != (Scheme{}) {
			t.Errorf("ParseScheme(%q) = %+v, %v; want %q", tt.in, s, err, tt.want)
		}
	}
}

// TestParseFEC: a call's --fec takes red or parity, and no interleaving
// (it has a flag of its own); Named says which scheme a bad text named.
func TestParseFEC(t *testing.T) {
	tests := []struct {
		in        string
		red, xor  int
		ok        bool
		wantNamed string
	}{
		{"none", 0, 0, true, ""}, {"red", 1, 0, true, ""}, {"RED:2", 2, 0, true, ""}, {"red:4", 4, 0, true, ""},
		{"xor", 0, 4, true, ""}, {"xor:2", 0, 2, true, ""},
		{"red:0", 0, 0, false, NameRED}, {"red:5", 0, 0, false, NameRED}, {"red:x", 0, 0, false, NameRED},
		{"none:1", 0, 0, false, ""}, {"parity", 0, 0, false, ""},
		{"xor:1", 0, 0, false, NameXOR}, {"xor:2+interleave:4", 0, 0, false, NameXOR},
		{"interleave:4", 0, 0, false, NameInterleave}, {"interleave:4+xor:2", 0, 0, false, NameInterleave},
	}
	for _, tt := range tests {
		s, err := ParseFEC(tt.in)
		var se *SchemeError
		switch {
		case tt.ok && (err != nil || s != Scheme{RED: tt.red, XOR: tt.xor}):
			t.Errorf("ParseFEC(%q) = %+v, %v; want red %d, xor %d", tt.in, s, err, tt.red, tt.xor)
		case !tt.ok && (!errors.As(err, &se) || se.Named != tt.wantNamed || se.Text != tt.in):
			t.Errorf("ParseFEC(%q) = %+v, %v; want a SchemeError naming %q", tt.in, s, err, tt.wantNamed)
		}
	}
}

// FuzzParseScheme: any text parses to a scheme that names itself and
// parses back the same, or is a SchemeError quoting it.
func FuzzParseScheme(f *testing.F) {
	for _, s := range []string{"none", "red:2", "xor", "interleave:4+xor:3", "xor:2+interleave:8", "interleave:3", "+", "red:+1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		s, err := ParseScheme(text)
		if err != nil {
			var se *SchemeError
			if !errors.As(err, &se) || se.Text != text {
				t.Fatalf("ParseScheme(%q): %v, want a SchemeError quoting it", text, err)
			}
			return
		}
		if s.RED > 0 && (s.XOR > 0 || s.Interleave > 0) {
			t.Fatalf("ParseScheme(%q) = %+v: red combined", text, s)
		}
		if again, err := ParseScheme(s.String()); err != nil || again != s {
			t.Fatalf("ParseScheme(%q) = %+v named %q, which parses to %+v, %v", text, s, s, again, err)
		}
		if fec, err := ParseFEC(text); err == nil && (fec.Interleave != 0 || fec != s) {
			t.Fatalf("ParseFEC(%q) = %+v, ParseScheme %+v", text, fec, s)
		}
	})
}
