package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/impair"
)

// TestTraceOutReplaysInBench: a loopback call through 10 % loss records the
// received direction with --trace-out; the file loads with impair's trace
// loader, its losses are the call's, and `call bench --trace` replays it.
func TestTraceOutReplaysInBench(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	clip, _ := speechClip(t, 4*time.Second)
	trace := filepath.Join(dir, "received.csv")
	port := freePort(t)
	l := listenAt(t, port, "--in", "none", "--out", "none", "--trace-out", trace,
		"--stats-json", filepath.Join(dir, "l.json"), "--quiet")
	d := start(t, "dial", fmt.Sprintf("127.0.0.1:%d", port), "--in", clip, "--out", "none", "--vad=false",
		"--loss", "10%", "--seed", "5", "--jitter", "20ms", "--quiet")
	if code := d.wait(t, 40*time.Second); code != 0 {
		t.Fatalf("dial exit code %d", code)
	}
	if code := l.wait(t, 10*time.Second); code != 0 {
		t.Fatalf("listen exit code %d", code)
	}
	st := readStats(t, filepath.Join(dir, "l.json"))

	file, err := os.Open(trace)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := impair.ParseTrace(file)
	file.Close()
	if err != nil {
		t.Fatalf("the trace does not load: %v", err)
	}
	lost, late := 0, time.Duration(0)
	var delays []time.Duration
	for _, r := range tr.Rows {
		if r.Lost {
			lost++
			continue
		}
		late = max(late, r.Delay())
		delays = append(delays, r.Delay())
	}
	slices.Sort(delays)
	if float64(len(tr.Rows)) != num(t, st, "packets_expected") || float64(lost) != num(t, st, "network_lost") {
		t.Errorf("trace has %d rows, %d lost; the call expected %v, lost %v", len(tr.Rows), lost,
			st["packets_expected"], st["network_lost"])
	}
	// Uniform jitter in [0, 20 ms) shows as delays above the fastest
	// packet's: about 10 ms in the median, up to 20 ms. The largest one is
	// not bounded above: on a loaded machine the scheduler adds its own.
	if median := delays[len(delays)/2]; late < 10*time.Millisecond || median < 3*time.Millisecond || median > 60*time.Millisecond {
		t.Errorf("delays above the fastest packet: median %v, largest %v; want about 10 ms and 20 ms", median, late)
	}

	out := filepath.Join(dir, "bench.json")
	var stdout, stderr bytes.Buffer
	if err := run(context.Background(), []string{"bench", "--trace", trace, "--playout", "ewma", "--duration", "30s",
		"--one-way", "--quiet", "--json", out}, &stdout, &stderr); err != nil {
		t.Fatalf("call bench --trace: %v\n%s", err, stderr.String())
	}
	var res struct {
		Network string `json:"network"`
		Rows    []struct {
			Expected    float64 `json:"packets_expected"`
			NetworkLoss float64 `json:"network_loss"`
		} `json:"rows"`
	}
	data, err := os.ReadFile(out)
	if err != nil || json.Unmarshal(data, &res) != nil || len(res.Rows) != 1 {
		t.Fatalf("bench JSON %s: %v", data, err)
	}
	want := float64(lost) / float64(len(tr.Rows))
	if res.Network != "trace "+trace || res.Rows[0].NetworkLoss < want/3 || res.Rows[0].NetworkLoss > want*3 {
		t.Errorf("replayed network loss %.3f, the trace's %.3f", res.Rows[0].NetworkLoss, want)
	}
}
