package main

import (
	"flag"
	"io"
	"testing"
)

func TestFECSchemeFlag(t *testing.T) {
	tests := []struct {
		in       string
		xor, red int
		ok       bool
	}{
		{"xor", 4, 0, true}, {"XOR:2", 2, 0, true}, {"xor:24", 24, 0, true}, {"red:2", 0, 2, true}, {"none", 0, 0, true},
		{"xor:1", 0, 0, false}, {"xor:25", 0, 0, false}, {"xor:x", 0, 0, false}, {"parity", 0, 0, false},
	}
	for _, tt := range tests {
		var f callFlags
		err := fecFlag{&f.send}.Set(tt.in)
		if (err == nil) != tt.ok || (tt.ok && (f.send.XOR != tt.xor || f.send.RED != tt.red)) {
			t.Errorf("--fec %s: xor %d, red %d, err %v; want %d, %d, ok %v", tt.in, f.send.XOR, f.send.RED, err, tt.xor, tt.red, tt.ok)
		}
	}
}

// TestFECFlagErrors: --fec names its own syntax in errors, the range for a
// bad xor:N and the list of choices otherwise (red:N's range included).
func TestFECFlagErrors(t *testing.T) {
	const choices = "want none, red, red:N, xor or xor:N"
	const xorRange = "want xor:N with N from 2 to 24 (media packets per parity packet)"
	for in, want := range map[string]string{
		"red:0": choices, "red:5": choices, "red:x": choices, "none:1": choices, "parity": choices, "": choices,
		"interleave:4": choices, "interleave:4+xor:2": choices,
		"xor:1": xorRange, "xor:25": xorRange, "xor:": xorRange, "xor:2+interleave:4": xorRange,
	} {
		var f callFlags
		if err := (fecFlag{&f.send}).Set(in); err == nil || err.Error() != want {
			t.Errorf("--fec %q: %v, want %q", in, err, want)
		}
	}
}

// TestFECFlagKeepsInterleave: --fec and --interleave set parts of one
// scheme, in either order, and the last --fec wins.
func TestFECFlagKeepsInterleave(t *testing.T) {
	var f callFlags
	fs := flag.NewFlagSet("dial", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	f.register(fs)
	if err := fs.Parse([]string{"--interleave", "4", "--fec", "red", "--fec", "xor:3"}); err != nil {
		t.Fatal(err)
	}
	if f.send.Interleave != 4 || f.send.XOR != 3 || f.send.RED != 0 {
		t.Errorf("scheme %+v, want interleave 4 and xor 3", f.send)
	}
	if got := fs.Lookup("fec").Value.String(); got != "xor:3" {
		t.Errorf("--fec reads back %q, want xor:3", got)
	}
	if got := fs.Lookup("fec").DefValue; got != "none" {
		t.Errorf("--fec default %q, want none", got)
	}
}

func TestInterleaveCombinations(t *testing.T) {
	tests := []struct {
		depth, red int
		ok         bool
	}{
		{0, 0, true}, {4, 0, true}, {2, 0, true}, {8, 0, true}, {5, 0, true},
		{1, 0, false}, {3, 0, false}, {9, 0, false}, {4, 1, false},
	}
	for _, tt := range tests {
		var f callFlags
		f.send.Interleave, f.send.RED = tt.depth, tt.red
		if err := f.checkCombinations(); (err == nil) != tt.ok {
			t.Errorf("--interleave %d with red:%d: err %v, want ok %v", tt.depth, tt.red, err, tt.ok)
		}
	}
}
