package rtpcall

import (
	"strings"
	"testing"
)

func TestSummary(t *testing.T) {
	r, mos, delay := 88.04, 4.31, 45.5
	tests := []struct {
		name      string
		st        Stats
		want, not []string
	}{
		{"plain", Stats{Codec: "PCMU", Expected: 100, PacketsReceived: 98, NetworkLost: 2, PlayoutDelayMean: &delay, RFactor: &r, MOS: &mos},
			[]string{"codec PCMU", "network loss 2 (2.0%)", "playout delay mean 45.5 ms", "R 88.0, MOS 4.31"},
			[]string{"fec", "dropped input"}},
		{"no delay yet", Stats{Codec: "PCMA"},
			[]string{"playout delay mean n/a"}, []string{"MOS"}},
		{"fec and bad input", Stats{Codec: "PCMU", FEC: "red:1", OverheadRatio: 0.237, FECRecovered: 5, ResidualLost: 1, Malformed: 3},
			[]string{"fec red:1 (overhead 24%)", "5 chunks recovered, 1 lost for good", "3 malformed"}, nil},
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
