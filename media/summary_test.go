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
	relative := started
	relative.Mapped = false
	tests := []struct {
		name string
		st   Status
		want string
	}{
		{"before anything arrived", ewma, "00:00  rx 0  loss 0.0%  late 0.0%  playout -  d -  v 0.0ms  K 4  alpha 0.998002  beta 0.998002  spurts 0"},
		{"mapped", started, "00:05  rx 98  loss 2.0%  late 1.0%  playout 62ms  d 21.4ms  v 6.2ms  K 4  alpha 0.998002  beta 0.998002  spurts 3"},
		{"before the first sender report", relative, "00:05  rx 98  loss 2.0%  late 1.0%  playout ~62ms  d ~21.4ms  v 6.2ms  K 4  alpha 0.998002  beta 0.998002  spurts 3"},
		{"another strategy", Status{Strategy: "quantile", Received: 5, Expected: 5, Spurts: 1, PlayoutDelay: 40e6, Mapped: true}, "00:05  rx 5  loss 0.0%  late 0.0%  playout 40ms  [quantile]  spurts 1"},
	}
	for _, tt := range tests {
		elapsed := 5 * time.Second
		if tt.st.Received == 0 {
			elapsed = 0
		}
		if got := FormatStatus(elapsed, tt.st); got != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.name, got, tt.want)
		}
	}
}
