package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
)

// TestFlagErrors: a wrong flag or value is one line that says what to type,
// without the flag package's usage dump or a second copy of the error.
func TestFlagErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"--jiter", "20ms"}, "unknown flag --jiter: did you mean --jitter?"},
		{[]string{"--stats-jsn", "x"}, "unknown flag --stats-jsn: did you mean --stats-json?"},
		{[]string{"--peer-timout", "1s"}, "unknown flag --peer-timout: did you mean --peer-timeout?"},
		{[]string{"--zzzzzz"}, "unknown flag --zzzzzz (see 'call dial -h')"},
		{[]string{"--jitter", "20"}, "--jitter 20: a duration needs a unit, such as 20ms"},
		{[]string{"--duration", "5"}, "--duration 5: a duration needs a unit, such as 5ms or 5s"},
		{[]string{"--duration", "five"}, "--duration five: want a duration such as 20ms or 1.5s"},
		{[]string{"--k", "x"}, "--k x: want a number"},
		{[]string{"--warmup", "1.5"}, "--warmup 1.5: want a whole number"},
		{[]string{"--in"}, "--in needs a value"},
		{[]string{"--loss", "0.05"}, "--loss 0.05: write a percentage with its % sign: 5% for the fraction 0.05, or 0.05%"},
		{[]string{"--loss", "5"}, "--loss 5: write a percentage with its % sign: did you mean 5%?"},
		{[]string{"--loss", "lots"}, "--loss lots: want a percentage from 0% to 100%, e.g. 5%"},
		{[]string{"--loss", "101%"}, "--loss 101%: want a percentage from 0% to 100%"},
	}
	for _, tt := range tests {
		var stderr bytes.Buffer
		fs := newFlagSet("dial", &stderr)
		var f callFlags
		f.register(fs)
		_, err := parse(fs, tt.args)
		var u usageError
		if !errors.As(err, &u) || err.Error() != tt.want && !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: %v, want a usage error %q", tt.args, err, tt.want)
		}
		if stderr.Len() != 0 {
			t.Errorf("%q printed %d bytes besides the error:\n%s", tt.args, stderr.Len(), stderr.String())
		}
	}
}

// TestLossFlag: --loss takes a percentage with its sign (and 0).
func TestLossFlag(t *testing.T) {
	for in, want := range map[string]float64{"5%": 0.05, "0.5%": 0.005, "100%": 1, "0": 0, "0%": 0, " 2.5% ": 0.025} {
		var p percentFlag
		if err := p.Set(in); err != nil || p.value != want {
			t.Errorf("--loss %q: %v, err %v; want %v", in, p.value, err, want)
		}
	}
}

// TestBoolFlagSeparateValue: `--vad false` sets --vad to false, as
// --vad=false does, instead of leaving it true with an argument "false".
func TestBoolFlagSeparateValue(t *testing.T) {
	tests := []struct {
		args     []string
		vad, plc bool
		pos      []string
	}{
		{[]string{"--vad", "false", "host:1"}, false, true, []string{"host:1"}},
		{[]string{"host:1", "--vad", "FALSE", "--plc", "0"}, false, false, []string{"host:1"}},
		{[]string{"--vad=false", "--plc", "true"}, false, true, nil},
		{[]string{"--vad", "host:1"}, true, true, []string{"host:1"}},
		{[]string{"--in", "true", "--vad"}, true, true, nil},
		{[]string{"--in", "--vad", "false"}, true, true, []string{"false"}}, // --in's value is "--vad"
		{[]string{"--", "--vad", "false"}, true, true, []string{"--vad", "false"}},
	}
	for _, tt := range tests {
		fs := newFlagSet("dial", io.Discard)
		var f callFlags
		f.register(fs)
		pos, err := parse(fs, tt.args)
		if err != nil || f.vad != tt.vad || f.plc != tt.plc || strings.Join(pos, " ") != strings.Join(tt.pos, " ") {
			t.Errorf("%q: vad %v plc %v args %q err %v; want vad %v plc %v args %q", tt.args, f.vad, f.plc, pos, err, tt.vad, tt.plc, tt.pos)
		}
	}
}

func TestEditDistance(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		d    int
	}{{"", "", 0}, {"jiter", "jitter", 1}, {"abc", "", 3}, {"kitten", "sitting", 3}, {"vad", "vad", 0}} {
		if d := editDistance(tt.a, tt.b); d != tt.d {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tt.a, tt.b, d, tt.d)
		}
	}
}

// TestHelp: -h lists each option once with a true value name and at most
// one default; call rtp -h leaves out what rtp refuses; call help X is
// X's help; call devices takes no options.
func TestHelp(t *testing.T) {
	help := func(args ...string) string {
		var out bytes.Buffer
		err := run(context.Background(), args, &out, &out)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			t.Errorf("%q: %v", args, err)
		}
		return out.String()
	}
	for _, sub := range []string{"listen", "dial", "rtp", "bench"} {
		text := help(sub, "-h")
		for _, bogus := range []string{"-in-device call", "-fec none", "-in tone", "-in none", "-playout adaptive",
			"-trace-out call", "-source synthetic", "Usage of"} {
			if strings.Contains(text, bogus) {
				t.Errorf("call %s -h shows %q:\n%s", sub, bogus, text)
			}
		}
		for _, line := range strings.Split(text, "\n") {
			if strings.Count(line, "(default") > 1 {
				t.Errorf("call %s -h gives two defaults: %s", sub, line)
			}
		}
		if !strings.HasPrefix(text, "Usage: call "+sub) {
			t.Errorf("call %s -h begins %q", sub, text[:min(len(text), 40)])
		}
		if got := help("help", sub); got != text {
			t.Errorf("call help %s is not call %s -h:\n%s", sub, sub, got)
		}
	}
	if text := help("listen", "-h"); !strings.Contains(text, "--via HOST:PORT") || !strings.Contains(text, "--fec string") && !strings.Contains(text, "--fec value") {
		t.Errorf("call listen -h lacks --via HOST:PORT or --fec:\n%s", text)
	}
	rtp := help("rtp", "-h")
	for _, refused := range []string{"--fec", "--interleave", "--via", "--room"} {
		if strings.Contains(rtp, "  "+refused+" ") || strings.Contains(rtp, "  "+refused+"\n") {
			t.Errorf("call rtp -h lists %s, which call rtp refuses", refused)
		}
	}
	if !strings.Contains(rtp, "--remote") {
		t.Errorf("call rtp -h lacks --remote:\n%s", rtp)
	}
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"help", "rtp"}, &stdout, &stderr); !errors.Is(err, flag.ErrHelp) || stdout.String() != rtp || stderr.Len() != 0 {
		t.Errorf("call help rtp: %v, %d bytes on stdout and %d on stderr; want the help on stdout", err, stdout.Len(), stderr.Len())
	}
	var u usageError
	if err := run(context.Background(), []string{"devices", "--bogus"}, io.Discard, io.Discard); !errors.As(err, &u) {
		t.Errorf("call devices --bogus: %v, want a usage error", err)
	}
}
