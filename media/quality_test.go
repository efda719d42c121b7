package media

import (
	"math"
	"testing"
)

func TestStatsQuality(t *testing.T) {
	delay := func(v float64) *float64 { return &v }
	tests := []struct {
		name       string
		st         Stats
		wantNil    bool
		rMin, rMax float64
	}{
		{"delay unknown", Stats{Codec: "PCMU", Expected: 100, Played: 100}, true, 0, 0},
		{"nothing expected", Stats{Codec: "PCMU"}, true, 0, 0},
		// Everything lost: rated at 100 % loss, the delay taken as
		// packetization alone (the best it could be), never as perfect.
		{"all lost", Stats{Codec: "PCMU", PLC: true, Expected: 100, NetworkLost: 100, ResidualLost: 100}, false, 0, 20},
		{"nothing played", Stats{Codec: "PCMU", Expected: 100}, false, 0, 20},
		// No loss, 20+20 ms mouth to ear: G.107's default ~93.2 less a
		// little delay impairment.
		{"clean", Stats{Codec: "PCMU", Expected: 1000, PlayoutDelayMean: delay(20)}, false, 91, 93.2},
		{"2% loss", Stats{Codec: "PCMU", Expected: 1000, NetworkLost: 10, LateLost: 10, ResidualLost: 20, PlayoutDelayMean: delay(20)}, false, 55, 65},
		// FEC repaired most of it: rated on what was left
		{"2% loss, 0.2% residual", Stats{Codec: "PCMU", Expected: 1000, NetworkLost: 20, ResidualLost: 2, PlayoutDelayMean: delay(20)}, false, 85, 91},
		// concealment makes the same loss cost less (G.113 Bpl 25.1, not 4.3)
		{"2% loss, concealed", Stats{Codec: "PCMU", PLC: true, Expected: 1000, NetworkLost: 20, ResidualLost: 20, PlayoutDelayMean: delay(20)}, false, 84, 87},
		{"GSM clean", Stats{Codec: "GSM", Expected: 1000, PlayoutDelayMean: delay(20)}, false, 71, 73.2},
	}
	for _, tt := range tests {
		r, mos := tt.st.quality()
		if tt.wantNil {
			if r != nil || mos != nil {
				t.Errorf("%s: got R %v MOS %v, want null", tt.name, r, mos)
			}
			continue
		}
		if r == nil || mos == nil || *r < tt.rMin || *r > tt.rMax || math.IsNaN(*mos) || *mos < 0.99 || *mos > 4.5 {
			t.Errorf("%s: R %v MOS %v, want R in [%v, %v]", tt.name, valueOf(r), valueOf(mos), tt.rMin, tt.rMax)
		}
		// (G.107's polynomial dips just below 1 for R under 6.5.)
		if tt.st.PlayoutDelayMean == nil && *mos > 1.5 {
			t.Errorf("%s: nothing played, yet MOS %v", tt.name, *mos)
		}
	}
}

func valueOf(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}
