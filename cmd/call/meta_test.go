package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestVersionCommand(t *testing.T) {
	for _, arg := range []string{"--version", "version"} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{arg}, &out, &errOut); err != nil {
			t.Fatalf("call %s: %v", arg, err)
		}
		if v := strings.TrimSpace(out.String()); !strings.HasPrefix(v, "call ") || len(v) < len("call x") {
			t.Errorf("call %s printed %q", arg, v)
		}
	}
}

// The JSON and CSV say what made them: the version, the command line and
// every parameter in force, the trace's hash included; the rows are those of
// the table.
func TestBenchMetadata(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(dir, "t.csv")
	var b strings.Builder
	b.WriteString("seq,send_ms,recv_ms\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "%d,%d,%d\n", i, 20*i, 20*i+40+i%7)
	}
	if err := os.WriteFile(trace, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(b.String()))
	tests := []struct {
		name  string
		args  []string
		check func(t *testing.T, params map[string]any)
	}{
		{name: "scenario", args: []string{"--scenario", "lte", "--playout", "ewma,fixed:80ms", "--k", "3", "--seed", "9"},
			check: func(t *testing.T, p map[string]any) {
				sc, _ := p["scenario"].(map[string]any)
				ewma, _ := p["ewma"].(map[string]any)
				if sc["name"] != "lte" || sc["delay"] == nil || p["seed"] != 9.0 || ewma["k"] != 3.0 || ewma["warmup_packets"] != 32.0 {
					t.Errorf("parameters %v", p)
				}
			}},
		{name: "trace", args: []string{"--trace", trace, "--playout", "quantile", "--quantile", "0.9"},
			check: func(t *testing.T, p map[string]any) {
				tr, _ := p["trace"].(map[string]any)
				q, _ := p["quantile"].(map[string]any)
				if tr["sha256"] != hex.EncodeToString(sum[:]) || tr["file"] != trace || p["scenario"] != nil || q["quantile"] != 0.9 {
					t.Errorf("parameters %v", p)
				}
			}},
		{name: "sweep", args: []string{"--scenario", "wifi", "--sweep", "k=2,3"},
			check: func(t *testing.T, p map[string]any) {
				if fmt.Sprint(p["sweep"]) != "[k=2,3]" {
					t.Errorf("parameters %v", p)
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			js, cs := filepath.Join(dir, tt.name+".json"), filepath.Join(dir, tt.name+".csv")
			args := append([]string{"bench", "--duration", "20s", "--quiet", "--json", js, "--csv", cs}, tt.args...)
			var out, errOut bytes.Buffer
			if err := run(context.Background(), args, &out, &errOut); err != nil {
				t.Fatalf("%v\n%s", err, errOut.String())
			}
			var doc struct {
				Meta struct {
					Version     string         `json:"version"`
					CommandLine []string       `json:"command_line"`
					Parameters  map[string]any `json:"parameters"`
				} `json:"meta"`
				Rows   []json.RawMessage `json:"rows"`
				Points []json.RawMessage `json:"points"`
			}
			data, err := os.ReadFile(js)
			if err != nil || json.Unmarshal(data, &doc) != nil {
				t.Fatalf("JSON %s: %v", js, err)
			}
			if doc.Meta.Version == "" || !slices.Equal(doc.Meta.CommandLine, append([]string{"call"}, args...)) {
				t.Errorf("meta: version %q, command line %q", doc.Meta.Version, doc.Meta.CommandLine)
			}
			tt.check(t, doc.Meta.Parameters)
			// The CSV: comment lines with the same metadata, then the table.
			text, err := os.ReadFile(cs)
			if err != nil {
				t.Fatal(err)
			}
			var body []string
			comments := 0
			for _, line := range strings.SplitAfter(string(text), "\n") {
				if strings.HasPrefix(line, "# ") {
					comments++
					continue
				}
				body = append(body, line)
			}
			records, err := csv.NewReader(strings.NewReader(strings.Join(body, ""))).ReadAll()
			if err != nil || comments != 3 || len(records) != 1+len(doc.Rows)+len(doc.Points) {
				t.Errorf("CSV: %d comment lines, %d records for %d rows (%v)", comments, len(records), len(doc.Rows)+len(doc.Points), err)
			}
			if !strings.Contains(string(text), "# command_line: call bench --duration 20s") {
				t.Errorf("CSV lacks the command line:\n%s", text)
			}
		})
	}
}

// A live call's --stats-json names the impairment and the seed it drew at
// random, the one printed on stderr.
func TestStatsJSONCarriesTheSeed(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	stats := filepath.Join(dir, "l.json")
	l := listenAt(t, port, "--in", "none", "--out", "none", "--loss", "5%", "--stats-json", stats, "--quiet")
	d := start(t, "dial", fmt.Sprintf("127.0.0.1:%d", port), "--in", speechWAV, "--out", "none", "--duration", "3s", "--quiet")
	if code := d.wait(t, 30*time.Second); code != 0 {
		t.Fatalf("dial exit code %d", code)
	}
	if code := l.wait(t, 15*time.Second); code != 0 {
		t.Fatalf("listen exit code %d", code)
	}
	m := regexp.MustCompile(`impairment seed (\d+) \(drawn at random`).FindStringSubmatch(l.stderr.String())
	if m == nil {
		t.Fatalf("the listener did not say its random seed:\n%s", l.stderr.String())
	}
	data, err := os.ReadFile(stats)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Meta struct {
			CommandLine []string `json:"command_line"`
			Impairment  struct {
				Seed       json.Number `json:"seed"`
				SeedRandom bool        `json:"seed_random"`
				Loss       float64     `json:"loss"`
			} `json:"impairment"`
		} `json:"meta"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		t.Fatal(err)
	}
	im := doc.Meta.Impairment
	if seed, err := strconv.ParseUint(m[1], 10, 64); err != nil || im.Seed.String() != m[1] || !im.SeedRandom || im.Loss != 0.05 || seed >= 1<<53 {
		t.Errorf("stats JSON impairment %+v, stderr said seed %s", im, m[1])
	}
	if len(doc.Meta.CommandLine) < 3 || doc.Meta.CommandLine[1] != "listen" {
		t.Errorf("command line %q", doc.Meta.CommandLine)
	}
}
