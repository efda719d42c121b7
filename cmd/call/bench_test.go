package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestBenchCommand(t *testing.T) {
	dir := t.TempDir()
	runBench := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append([]string{"bench"}, args...), &out, &errOut); err != nil {
			t.Fatalf("call bench %s: %v\n%s", strings.Join(args, " "), err, errOut.String())
		}
		return out.String()
	}
	args := []string{"--scenario", "wifi", "--playout", "ewma,spike,quantile,fixed,oracle", "--fec", "none",
		"--duration", "30s", "--seed", "1", "--quiet"}
	a := filepath.Join(dir, "a.json")
	table := runBench(append(args, "--json", a, "--csv", filepath.Join(dir, "a.csv"))...)
	for _, want := range []string{"ewma", "spike", "quantile", "fixed", "oracle@ewma",
		"loss model gilbert-elliott (p 0.01, r 0.3, loss 0 in the good state, 1 in the bad): mean loss 3.23%, mean burst 3.33 packets"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	// The packet-level run gives the same table.
	c := filepath.Join(dir, "c.json")
	packets := runBench(append(args, "--audio=false", "--json", c)...)
	if _, rows, _ := strings.Cut(packets, "\n"); !strings.Contains(packets, "packet level") || !strings.HasSuffix(table, rows) {
		t.Errorf("--audio=false gave another table:\n%s\nwith audio:\n%s", packets, table)
	}
	b := filepath.Join(dir, "b.json")
	runBench(append(args, "--json", b)...)
	// The same figures; only the metadata's command line (the file
	// names) differs.
	results := func(path string) []byte {
		var doc map[string]json.RawMessage
		data, err := os.ReadFile(path)
		if err != nil || json.Unmarshal(data, &doc) != nil || doc["meta"] == nil {
			t.Fatalf("JSON %s without its metadata: %v", path, err)
		}
		delete(doc, "meta")
		out, _ := json.Marshal(doc)
		return out
	}
	if !bytes.Equal(results(a), results(b)) {
		t.Error("two runs with the same seed wrote different results")
	}
	plots := filepath.Join(dir, "plots")
	sweep := runBench("--scenario", "lte", "--duration", "20s", "--quiet", "--sweep", "k=1:3:1", "--sweep", "alpha=0.99,0.998002",
		"--plot", plots)
	for _, want := range []string{"best by MOS", "* best", "mos-heatmap.png", "network lte", "FEC none",
		"warning: the best setting lies at the edge of the grid in k and alpha"} {
		if !strings.Contains(sweep, want) {
			t.Errorf("sweep output lacks %q:\n%s", want, sweep)
		}
	}
	sj := filepath.Join(dir, "sweep.json")
	runBench("--scenario", "lte", "--duration", "10s", "--quiet", "--sweep", "k=2,3", "--fec", "xor:3", "--json", sj)
	var sr struct {
		Network, Source, Codec, FEC string
		DurationS                   float64 `json:"duration_s"`
		Points                      []json.RawMessage
	}
	if data, err := os.ReadFile(sj); err != nil || json.Unmarshal(data, &sr) != nil {
		t.Fatalf("sweep JSON: %v", err)
	}
	if sr.Network != "lte" || sr.Source != "synthetic" || sr.Codec != "PCMU" || sr.FEC != "xor:3" || sr.DurationS != 10 || len(sr.Points) != 2 {
		t.Errorf("sweep JSON says %+v", sr)
	}

	fec := runBench("--scenario", "bursty", "--playout", "ewma,pion", "--fec", "none,red,red:2", "--duration", "30s",
		"--quiet", "--plot", plots)
	for _, want := range []string{"ewma  red:2", "pion   none", "delays.png", "tradeoff.png"} {
		if !strings.Contains(fec, want) {
			t.Errorf("FEC table lacks %q:\n%s", want, fec)
		}
	}
	parity := runBench("--scenario", "wifi", "--playout", "ewma,fixed", "--fec", "none,xor,interleave:4,interleave:4+xor:4",
		"--duration", "30s", "--quiet")
	silent := runBench("--scenario", "wifi", "--playout", "ewma,fixed", "--fec", "none,xor,interleave:4,interleave:4+xor:4",
		"--duration", "30s", "--quiet", "--plc=false")
	for _, want := range []string{"holes concealed", " xor:4 ", " interleave:4 ", " interleave:4+xor:4 ", "concealed"} {
		if !strings.Contains(parity, want) {
			t.Errorf("XOR and interleaving table lacks %q:\n%s", want, parity)
		}
	}
	if !strings.Contains(silent, "holes silent") || silent == parity {
		t.Errorf("--plc=false did not change the run:\n%s", silent)
	}
	for _, name := range []string{"delays.png", "tradeoff.png", "mos-heatmap.png"} {
		if st, err := os.Stat(filepath.Join(plots, name)); err != nil || st.Size() < 5<<10 {
			t.Errorf("plot %s: %v", name, err)
		}
	}
}

func TestBenchCommandRejects(t *testing.T) {
	tests := [][]string{
		{"--playout", "nope"},
		{"--playout", "oracle"},
		{"--fec", "red:9"},
		{"--fec", "xor:1"},
		{"--fec", "interleave:3"},
		{"--fec", "interleave:4", "--codec", "gsm"},
		{"--plc", "maybe"},
		{"--playout", "pion:0"},
		{"--playout", "ewma:3"},
		{"--scenario", "mars"},
		{"--sweep", "k=3:1:1"},
		{"--sweep", "gamma=1,2"},
		{"--sweep", "k=1,2", "--playout", "spike"},
		{"--sweep", "k=1,2", "--fec", "none,red"},
		{"--sweep", "k=1,2", "--plot-window", "5s"},
		{"--plot", "/dev/null/plots"},
		{"--duration", "0s"},
		{"extra"},
	}
	for _, args := range tests {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), append([]string{"bench", "--quiet", "--duration", "1s"}, args...), &out, &errOut); err == nil {
			t.Errorf("call bench %s succeeded", strings.Join(args, " "))
		}
	}
}

// --source speech finds the bundled sample from any directory.
func TestBenchSpeechSourceAnywhere(t *testing.T) {
	t.Chdir(t.TempDir())
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"bench", "--source", "speech", "--playout", "ewma", "--duration", "20s", "--quiet"}, &out, &errOut); err != nil {
		t.Fatalf("%v\n%s", err, errOut.String())
	}
	if !strings.Contains(out.String(), "speech talker") {
		t.Errorf("output:\n%s", out.String())
	}
}

func TestSweepValues(t *testing.T) {
	tests := []struct {
		spec string
		want []float64
	}{
		{"1:8:0.5", []float64{1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 6.5, 7, 7.5, 8}},
		{"0.99,0.995,0.998002,0.999", []float64{0.99, 0.995, 0.998002, 0.999}},
		{"0.1:0.3:0.1", []float64{0.1, 0.2, 0.3}},
	}
	for _, tt := range tests {
		got, err := sweepValues(tt.spec)
		if err != nil {
			t.Errorf("%s: %v", tt.spec, err)
			continue
		}
		if len(got) != len(tt.want) {
			t.Errorf("%s: %v, want %v", tt.spec, got, tt.want)
			continue
		}
		for i := range got {
			if got[i] != tt.want[i] {
				t.Errorf("%s: %v, want %v", tt.spec, got, tt.want)
				break
			}
		}
	}
	for _, bad := range []string{"1:x:1", "1:2:0", "a,b", "1:1e9:1e-9"} {
		if _, err := sweepValues(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

// A trace is named, its looping said, and it is never silently mixed with
// --scenario; a parameter swept twice is refused rather than multiplied.
func TestBenchTraceAndSweepChecks(t *testing.T) {
	trace := filepath.Join(t.TempDir(), "short.csv")
	var csv strings.Builder
	csv.WriteString("seq,send_ms,recv_ms\n")
	for i := range 100 { // 2 s of packets
		fmt.Fprintf(&csv, "%d,%d,%d\n", i, 20*i, 20*i+50)
	}
	if err := os.WriteFile(trace, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name              string
		args              []string
		errWant           string // "" for success
		stdoutWant        string
		stderrWant, avoid string
	}{
		{name: "trace and scenario", args: []string{"--trace", trace, "--scenario", "lte"}, errWant: "--trace replaces --scenario"},
		{name: "looped trace", args: []string{"--trace", trace, "--duration", "10s"},
			stdoutWant: "network trace " + trace, stderrWant: "looped"},
		{name: "trace long enough", args: []string{"--trace", trace, "--duration", "1s"},
			stdoutWant: "network trace " + trace, avoid: "looped"},
		{name: "parameter swept twice", args: []string{"--sweep", "k=1:8:1", "--sweep", "K=2,3"}, errWant: "--sweep k given twice"},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		err := run(context.Background(), append([]string{"bench", "--quiet", "--playout", "ewma"}, tt.args...), &out, &errOut)
		if tt.name == "parameter swept twice" && err != nil && strings.Contains(err.Error(), "drop --playout") {
			err = run(context.Background(), append([]string{"bench", "--quiet"}, tt.args...), &out, &errOut)
		}
		switch {
		case tt.errWant != "":
			if err == nil || !strings.Contains(err.Error(), tt.errWant) {
				t.Errorf("%s: error %v, want one saying %q", tt.name, err, tt.errWant)
			}
			continue
		case err != nil:
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if !strings.Contains(out.String(), tt.stdoutWant) {
			t.Errorf("%s: output lacks %q:\n%s", tt.name, tt.stdoutWant, out.String())
		}
		if !strings.Contains(errOut.String(), tt.stderrWant) || (tt.avoid != "" && strings.Contains(errOut.String(), tt.avoid)) {
			t.Errorf("%s: stderr %q, want %q and not %q", tt.name, errOut.String(), tt.stderrWant, tt.avoid)
		}
	}
}

// terminal plays back what a program wrote to a terminal line by line: a
// carriage return moves to the line's start, where text overwrites.
func terminal(out string) []string {
	var lines []string
	var line []rune
	col := 0
	for _, r := range out {
		switch r {
		case '\r':
			col = 0
		case '\n':
			lines = append(lines, strings.TrimRight(string(line), " "))
			line, col = nil, 0
		default:
			if col < len(line) {
				line[col] = r
			} else {
				line = append(line, r)
			}
			col++
		}
	}
	if len(line) > 0 {
		lines = append(lines, strings.TrimRight(string(line), " "))
	}
	return lines
}

func TestProgressBar(t *testing.T) {
	var out bytes.Buffer
	bar := newProgressBar(&out)
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	bar.now, bar.started = func() time.Time { return clock }, clock
	steps := []struct {
		phase       string
		done, total int
		advance     time.Duration
		want        []string // in the line as the terminal shows it
		avoid       string
	}{
		{phase: "of the call", done: 0, total: 36000, want: []string{"0s/10h0m0s"}},
		{phase: "of the call", done: 18000, total: 36000, advance: 30 * time.Second, want: []string{"5h0m0s/10h0m0s", "about 30s left"}},
		{phase: "oracle rows", done: 1, total: 4, advance: 10 * time.Second, want: []string{"1/4 oracle rows"}, avoid: "10h0m0s"},
		{phase: "oracle rows", done: 4, total: 4, advance: 10 * time.Second, want: []string{"] 4/4 oracle rows"}, avoid: "left"},
	}
	for i, s := range steps {
		clock = clock.Add(s.advance)
		bar.show(s.phase, s.done, s.total, func(n int) string {
			if s.phase == "oracle rows" {
				return fmt.Sprint(n)
			}
			return (time.Duration(n) * time.Second).String()
		})
		lines := terminal(out.String())
		shown := lines[len(lines)-1]
		for _, w := range s.want {
			if !strings.Contains(shown, w) {
				t.Errorf("step %d: the line reads %q, want %q in it", i, shown, w)
			}
		}
		if s.avoid != "" && strings.Contains(shown, s.avoid) || strings.Contains(shown, "ss") {
			t.Errorf("step %d: the line reads %q: stale characters", i, shown)
		}
	}
	bar.end()
	if !strings.HasSuffix(out.String(), "\n") {
		t.Error("the bar's line was not ended")
	}
}
