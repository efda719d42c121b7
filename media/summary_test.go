package media

import (
	"strings"
	"testing"
	"time"
)

func TestSummary(t *testing.T) {
	r, mos, delay := 88.04, 4.31, 45.5
	lost := int64(7)
	tests := []struct {
		name      string
		st        Stats
		want, not []string
	}{
		{"plain", Stats{Codec: "PCMU", Expected: 100, PacketsReceived: 98, NetworkLost: 2, PlayoutDelayMean: &delay, RFactor: &r, MOS: &mos},
			[]string{"codec PCMU", "network loss 2 (2.0%)", "playout delay mean 45.5 ms", "R 88.0, MOS 4.31"},
			[]string{"fec", "dropped input", "changes of SSRC"}},
		{"no delay yet", Stats{Codec: "PCMA"},
			[]string{"playout delay mean n/a"}, []string{"MOS"}},
		{"fec and bad input", Stats{Codec: "PCMU", FEC: "red:1", OverheadRatio: 0.237, FECRecovered: 5, ResidualLost: 1, Malformed: 3},
			[]string{"fec we send: red:1 (overhead 24%)", "5 chunks recovered, 1 lost for good", "3 malformed"}, nil},
		{"recovers without sending fec", Stats{Codec: "PCMU", FEC: "none", FECRecovered: 39},
			[]string{"fec we send: none; from the peer's: 39 chunks recovered"}, []string{"fec none"}},
		{"one of a kind", Stats{Codec: "PCMU", FEC: "none", FECRecovered: 1, Concealed: 1, ConcealedMs: 20},
			[]string{"1 chunk recovered", "concealed 1 chunk (20 ms)"}, []string{"1 chunks"}},
		{"fixed playout", Stats{Codec: "PCMU", Playout: "fixed", FixedDelay: 60},
			[]string{"playout fixed 60 ms"}, nil},
		{"a stale report of the peer", Stats{Codec: "PCMU", RemoteLost: &lost, RemoteJitter: &delay, RemoteAge: 4.24},
			[]string{"the peer lost 7 of ours (jitter 45.5 ms) by its last report, 4.2 s before the end"}, nil},
		{"a current report of the peer", Stats{Codec: "PCMU", RemoteLost: &lost, RemoteJitter: &delay},
			[]string{"the peer lost 7 of ours (jitter 45.5 ms)\n"}, []string{"last report"}},
		{"the peer's source", Stats{Codec: "PCMU", SourceChanges: 1, ByeIgnored: 2, RejectedSource: 25},
			[]string{"1 changes of SSRC, 2 RTCP BYEs ignored", "25 from other sources"}, nil},
	}
	for _, tt := range tests {
		got := Summary(tt.st, EndedDuration)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: summary lacks %q:\n%s", tt.name, w, got)
			}
		}
		for _, n := range tt.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: summary should not mention %q:\n%s", tt.name, n, got)
			}
		}
	}
}

func TestFormatStatus(t *testing.T) {
	ewma := Status{HaveEWMA: true, K: 4, Alpha: 0.998002, Beta: 0.998002, Strategy: "ewma"}
	started := ewma
	started.Received, started.Expected, started.Lost, started.Late, started.Spurts = 98, 100, 2, 1, 3
	started.PlayoutDelay, started.D, started.V, started.Mapped = 62e6, 21.4e6, 6.2e6, true
	started.LastRTP, started.HeardRTP = 4980*time.Millisecond, true
	relative := started
	relative.Mapped = false
	quiet := started
	quiet.LastRTP = 2 * time.Second
	huge := relative // a long call with every figure at its widest
	huge.Received, huge.Expected, huge.Lost, huge.Late, huge.Spurts = 1<<40, 1<<40, 1<<39, 1<<39, 1<<40
	huge.PlayoutDelay, huge.D, huge.V, huge.LastRTP = 99999e6, 99999e6, 99999e6, 0
	tests := []struct {
		name    string
		elapsed time.Duration
		st      Status
		want    string
	}{
		{"before anything arrived", 0, ewma, "00:00 rx 0 loss 0.0% late 0.0% last - playout - d - v 0.0 spurts 0"},
		{"mapped", 5 * time.Second, started, "00:05 rx 98 loss 2.0% late 1.0% last 0.0s playout 62 d 21.4 v 6.2 spurts 3"},
		{"before the first sender report", 5 * time.Second, relative, "00:05 rx 98 loss 2.0% late 1.0% last 0.0s playout ~62 d ~21.4 v 6.2 spurts 3"},
		{"a silent peer", 5 * time.Second, quiet, "00:05 rx 98 loss 2.0% late 1.0% last 3.0s playout 62 d 21.4 v 6.2 spurts 3"},
		{"long silent", 2 * time.Minute, quiet, "02:00 rx 98 loss 2.0% late 1.0% last 1m58s playout 62 d 21.4 v 6.2 spurts 3"},
		{"an hour in", time.Hour - time.Second, Status{HaveEWMA: true, Received: 179999, Expected: 180000, Lost: 22140, Late: 18360, Spurts: 1234,
			PlayoutDelay: 162e6, D: 121.4e6, V: 26.2e6, LastRTP: 1198 * time.Second, HeardRTP: true},
			"59:59 rx 179999 loss 12.3% late 10.2% last 40m01s playout ~162 d ~121.4 v 26.2"}, // spurts do not fit
		{"another strategy", 5 * time.Second, Status{Strategy: "quantile", Received: 5, Expected: 5, Spurts: 1, PlayoutDelay: 40e6, Mapped: true}, "00:05 rx 5 loss 0.0% late 0.0% last - playout 40 spurts 1"},
	}
	for _, tt := range tests {
		got := FormatStatus(tt.elapsed, tt.st)
		if got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
		if len(got) > StatusWidth || strings.Contains(got, "alpha") {
			t.Errorf("%s: the constants belong in the header: %q", tt.name, got)
		}
	}
	for _, el := range []time.Duration{0, 99 * time.Minute, 1000 * time.Hour} {
		if got := FormatStatus(el, huge); len(got) > StatusWidth || !strings.HasSuffix(got, "~99999") {
			t.Errorf("%d columns, want at most %d, whole fields: %q", len(got), StatusWidth, got)
		}
	}
	h := FormatStatusHeader(ewma)
	if !strings.Contains(h, "K 4, alpha 0.998002, beta 0.998002") || !strings.Contains(h, "since the last packet") {
		t.Errorf("header %q lacks the constants or the columns", h)
	}
	wide := ewma
	wide.K, wide.Alpha, wide.Beta = 4.25, 0.99800212345, 0.87512345 // as --k and friends allow
	for _, st := range []Status{wide, {Strategy: "quantile"}} {
		for _, line := range strings.Split(FormatStatusHeader(st), "\n") {
			if len(line) > StatusWidth {
				t.Errorf("header line of %d columns, want at most %d: %q", len(line), StatusWidth, line)
			}
		}
	}
}
