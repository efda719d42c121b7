package media

import (
	"strings"
	"testing"

	"github.com/spurtvoip/spurt/jitter"
)

// The stats carry K, alpha and beta for the strategies that have them (ewma
// and spike), and the summary shows them only then.
func TestStatsStrategyParameters(t *testing.T) {
	spike, err := jitter.NewSpike(jitter.DefaultSpikeConfig())
	if err != nil {
		t.Fatal(err)
	}
	quantile, err := jitter.NewQuantile(jitter.DefaultQuantileConfig())
	if err != nil {
		t.Fatal(err)
	}
	def := jitter.DefaultSpikeConfig()
	tests := []struct {
		strategy       jitter.Strategy
		k, alpha, beta float64
		summary        string
	}{
		{ewma(t), 4, 0.998002, 0.998002, "(K 4, alpha 0.998002, beta 0.998002)"},
		{spike, def.K, def.Alpha, def.Beta, "(K 4, alpha 0.875, beta 0.875)"},
		{quantile, 0, 0, 0, ""},
	}
	for _, tt := range tests {
		s, err := NewSession(SessionConfig{Codec: pcmu(t), Strategy: tt.strategy, SSRC: 1})
		if err != nil {
			t.Fatal(err)
		}
		st := s.Stats(0)
		if st.K != tt.k || st.Alpha != tt.alpha || st.Beta != tt.beta {
			t.Errorf("%s: K %g alpha %g beta %g, want %g %g %g", st.Playout, st.K, st.Alpha, st.Beta, tt.k, tt.alpha, tt.beta)
		}
		sum := Summary(st, EndedDuration)
		if tt.summary != "" && !strings.Contains(sum, tt.summary) || tt.summary == "" && strings.Contains(sum, "(K ") {
			t.Errorf("%s: summary %q, want %q", st.Playout, sum, tt.summary)
		}
	}
}
