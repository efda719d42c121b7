package quality

import (
	"math"
	"testing"
	"time"
)

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol }

// G.107's default values give R = 93.2 with no loss and no delay; this is
// the reference point the Recommendation and every E-model tool quote.
func TestDefaultRating(t *testing.T) {
	r := R(Input{Codec: CodecG711})
	if !near(r, 93.2, 0.05) {
		t.Errorf("R with all defaults = %.4f, want 93.2", r)
	}
	if m := MOS(r); !near(m, 4.41, 0.005) {
		t.Errorf("MOS(%.2f) = %.4f, want 4.41", r, m)
	}
}

// The parts of the default rating, worked by hand from G.107 §7.2–7.4 with
// the defaults (OLR = SLR + RLR = 10):
//
//	Nos = 35 − 8 − 3 − 100 + 0.004·(35 − 10 − 3 − 14)² = −75.744
//	Pre = 35 + 10·log10(1 + 10^−0.8) = 35.639
//	Nor = 2 − 121 + 35.639 + 0.008·0.639² = −83.358
//	Nfo = −64 + 2 = −62
//	No  = 10·log10(10^−7 + 10^−7.5744 + 10^−8.3358 + 10^−6.2) = −61.18
//	Ro  = 15 − 1.5·(8 − 61.18) = 94.77
//	Xolr = 10 + 0.2·(64 − 61.18 − 2) = 10.164;  Iolr = 20·((1 + 1.2705⁸)^⅛ − 1.2705) = 0.44
//	STMRo ≈ 15 (TELR 65 adds nothing): Ist = 12·1.00002 − 28·1.00003 − 13·1.0000001 + 29 ≈ 0.00
//	Q = 37, G = 93.03, Y = −5.21, Z = −0.79:  Iq = 15·log10(1 + 10^−5.21 + 10^−0.79) = 0.97
//	Rle = 10.5·117 = 1228.5 at Tr = 0:  Idle = (94.77 − 1228.5)/2 + √(…² + 169) = 0.15
//	Idte = 0 at T = 0, Idd = 0 up to 100 ms.
func TestDefaultComponents(t *testing.T) {
	p := defaultParams()
	tests := []struct {
		name      string
		got, want float64
	}{
		{"No", p.noise(), -61.18},
		{"Ro", p.basicSignalToNoise(), 94.77},
		{"Iolr", p.loudnessImpairment(), 0.44},
		{"Ist", p.sidetoneImpairment(), 0},
		{"Iq", p.quantizingImpairment(), 0.97},
		{"Is", p.simultaneousImpairment(), 1.41},
		{"Idle", p.listenerEchoImpairment(), 0.15},
		{"Idte", p.talkerEchoImpairment(), 0},
		{"Idd", p.absoluteDelayImpairment(), 0},
	}
	for _, tc := range tests {
		if !near(tc.got, tc.want, 0.006) {
			t.Errorf("%s = %.4f, want %.2f", tc.name, tc.got, tc.want)
		}
	}
}

// Idd worked by hand: at Ta = 200 ms, X = 1 and
// Idd = 25·(2^(1/6) − 3·(1 + 3^−6)^(1/6) + 2) = 3.0444; at Ta = 300 ms,
// X = log2 3 = 1.585 and Idd = 14.7607.
func TestAbsoluteDelayImpairment(t *testing.T) {
	tests := []struct {
		ta, want float64
	}{
		{0, 0}, {50, 0}, {100, 0}, {200, 3.0444}, {300, 14.7607},
	}
	for _, tc := range tests {
		p := defaultParams()
		p.Ta = tc.ta
		if got := p.absoluteDelayImpairment(); !near(got, tc.want, 5e-4) {
			t.Errorf("Idd(%v ms) = %.4f, want %.4f", tc.ta, got, tc.want)
		}
	}
}

// Id grows with delay, slowly at first and then, past about 177 ms, steeply.
// Cole and Rosenbluth ("Voice over IP performance monitoring", 2001) fitted
// the E-model with G.711 as Id ≈ 0.024·d + 0.11·(d − 177.3)·H(d − 177.3);
// up to 300 ms the model stays within 1.5 of that fit.
func TestDelayImpairmentShape(t *testing.T) {
	id := func(ms float64) float64 { return DelayImpairment(time.Duration(ms * float64(time.Millisecond))) }
	prev := id(0)
	for ms := 10.0; ms <= 600; ms += 10 {
		cur := id(ms)
		if cur <= prev {
			t.Errorf("Id(%v ms) = %.3f, not above Id(%v ms) = %.3f", ms, cur, ms-10, prev)
		}
		prev = cur
	}
	before := (id(150) - id(50)) / 100
	after := (id(300) - id(200)) / 100
	if after < 4*before {
		t.Errorf("Id slope %.4f/ms over 200–300 ms is not steeply above %.4f/ms over 50–150 ms", after, before)
	}
	for ms := 0.0; ms <= 300; ms += 25 {
		fit := 0.024 * ms
		if ms > 177.3 {
			fit += 0.11 * (ms - 177.3)
		}
		if got := id(ms); !near(got, fit, 1.5) {
			t.Errorf("Id(%v ms) = %.2f, Cole–Rosenbluth fit %.2f", ms, got, fit)
		}
	}
	if DelayImpairment(-time.Second) != DelayImpairment(0) {
		t.Error("negative delay not treated as zero")
	}
}

// Ie,eff = Ie + (95 − Ie)·Ppl/(Ppl/BurstR + Bpl), worked by hand.
func TestEffectiveIe(t *testing.T) {
	tests := []struct {
		name         string
		codec        Codec
		loss, burstR float64
		want         float64
	}{
		{"G.711 no loss", CodecG711, 0, 1, 0},
		{"GSM-FR no loss", CodecGSMFR, 0, 1, 20},
		{"G.711 5% random, no PLC", CodecG711, 0.05, 1, 95 * 5 / (5 + 4.3)},        // 51.08
		{"G.711 5% random, PLC", CodecG711PLC, 0.05, 1, 95 * 5 / (5 + 25.1)},       // 15.78
		{"G.711 5% bursty (2), PLC", CodecG711PLC, 0.05, 2, 95 * 5 / (2.5 + 25.1)}, // 17.21
		{"GSM-FR 5% random", CodecGSMFR, 0.05, 1, 20 + 75*5.0/48},                  // 27.81
		{"G.711 all lost", CodecG711, 1, 1, 95 * 100 / 104.3},                      // 91.08
		{"loss above 1 clamps", CodecG711, 3, 1, 95 * 100 / 104.3},
		{"negative loss clamps", CodecGSMFR, -0.5, 1, 20},
		{"burstR 0 counts as 1", CodecG711PLC, 0.05, 0, 95 * 5 / (5 + 25.1)},
		{"burstR NaN counts as 1", CodecG711PLC, 0.05, math.NaN(), 95 * 5 / (5 + 25.1)},
	}
	for _, tc := range tests {
		if got := EffectiveIe(tc.codec, tc.loss, tc.burstR); !near(got, tc.want, 1e-9) {
			t.Errorf("%s: Ie,eff = %.4f, want %.4f", tc.name, got, tc.want)
		}
	}
	if got := EffectiveIe(CodecG711, math.NaN(), 1); !math.IsNaN(got) {
		t.Errorf("NaN loss: Ie,eff = %v, want NaN", got)
	}
}

// R subtracts Ie,eff and adds A to the no-loss rating.
func TestRCombines(t *testing.T) {
	base := R(Input{Codec: CodecG711})
	tests := []struct {
		name string
		in   Input
		want float64
	}{
		{"G.711 PLC 5% random", Input{Codec: CodecG711PLC, PacketLoss: 0.05}, base - 95*5/(5+25.1)},
		{"GSM-FR", Input{Codec: CodecGSMFR}, base - 20},
		{"mobile advantage", Input{Codec: CodecGSMFR, Advantage: 10}, base - 10},
		{"delay", Input{Codec: CodecG711, MouthToEar: 300 * time.Millisecond},
			base - DelayImpairment(300*time.Millisecond) + DelayImpairment(0)},
	}
	for _, tc := range tests {
		// Is depends a little on T through STMRo, hence the tolerance.
		if got := R(tc.in); !near(got, tc.want, 1e-3) {
			t.Errorf("%s: R = %.4f, want %.4f", tc.name, got, tc.want)
		}
	}
	if got := R(Input{Codec: CodecG711, PacketLoss: math.NaN()}); !math.IsNaN(got) {
		t.Errorf("NaN loss: R = %v, want NaN", got)
	}
	// Heavy loss and long delay: R far below 0, and MOS at its floor.
	bad := R(Input{Codec: CodecG711, PacketLoss: 0.5, BurstR: 20, MouthToEar: 2 * time.Second})
	if bad >= 0 || MOS(bad) != 1 {
		t.Errorf("terrible call: R = %.1f, MOS %.2f; want R < 0, MOS 1", bad, MOS(bad))
	}
}

// MOS from G.107 Annex B, worked by hand: 1 + 0.035R + R(R−60)(100−R)·7e-6.
func TestMOS(t *testing.T) {
	tests := []struct{ r, want float64 }{
		{-20, 1}, {0, 1}, {50, 2.575}, {60, 3.1}, {70, 3.597}, {80, 4.024},
		{93.2, 4.409285824}, {100, 4.5}, {130, 4.5},
	}
	for _, tc := range tests {
		if got := MOS(tc.r); !near(got, tc.want, 1e-9) {
			t.Errorf("MOS(%v) = %.6f, want %.6f", tc.r, got, tc.want)
		}
	}
	for r := 7.0; r < 100; r += 0.5 {
		if MOS(r+0.5) <= MOS(r) {
			t.Errorf("MOS not increasing between R %v and %v", r, r+0.5)
		}
	}
	if !math.IsNaN(MOS(math.NaN())) {
		t.Error("MOS(NaN) is not NaN")
	}
}

func TestForCodec(t *testing.T) {
	tests := []struct {
		name      string
		concealed bool
		want      Codec
	}{
		{"PCMU", false, CodecG711},
		{"PCMA", true, CodecG711PLC},
		{"GSM", true, CodecGSMFR},
		{"GSM", false, CodecGSMFR},
	}
	for _, tt := range tests {
		if got := ForCodec(tt.name, tt.concealed); got != tt.want {
			t.Errorf("ForCodec(%q, %v) = %v, want %v", tt.name, tt.concealed, got, tt.want)
		}
	}
}
