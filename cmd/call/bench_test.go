package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	for _, want := range []string{"ewma", "spike", "quantile", "fixed", "oracle@ewma"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	b := filepath.Join(dir, "b.json")
	runBench(append(args, "--json", b)...)
	ja, errA := os.ReadFile(a)
	jb, errB := os.ReadFile(b)
	if errA != nil || errB != nil || !bytes.Equal(ja, jb) {
		t.Errorf("two runs with the same seed wrote different JSON (%v, %v)", errA, errB)
	}
	plots := filepath.Join(dir, "plots")
	sweep := runBench("--scenario", "lte", "--duration", "20s", "--quiet", "--sweep", "k=1:3:1", "--sweep", "alpha=0.99,0.998002",
		"--plot", plots)
	for _, want := range []string{"best by MOS", "* best", "mos-heatmap.png"} {
		if !strings.Contains(sweep, want) {
			t.Errorf("sweep output lacks %q:\n%s", want, sweep)
		}
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
