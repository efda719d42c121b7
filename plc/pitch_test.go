package plc

import (
	"math"
	"testing"
)

func TestPitchEstimate(t *testing.T) {
	tests := []struct {
		rate int
		f0   float64
	}{
		{8000, 200}, // 40 samples, the shortest period searched
		{8000, 175},
		{8000, 160},
		{8000, 150}, // 53.3 samples
		{8000, 140},
		{8000, 125},
		{8000, 120},
		{8000, 100},
		{8000, 90},
		{8000, 80},
		{8000, 66.67}, // 120 samples, the longest
		{16000, 200},
		{16000, 150},
		{16000, 110},
		{16000, 80},
	}
	for _, tt := range tests {
		c, err := New(tt.rate)
		if err != nil {
			t.Fatal(err)
		}
		c.Good(harmonicTone(tt.f0, tt.rate, tt.rate/5))
		for i, s := range c.history {
			c.source[i] = float64(s)
		}
		got := c.estimatePitch()
		want := float64(tt.rate) / tt.f0
		if e := math.Abs(float64(got)-want) / want; e > 0.03 {
			t.Errorf("%d Hz, f0 %v Hz: pitch %d samples, want %.2f (error %.1f%%)", tt.rate, tt.f0, got, want, 100*e)
		}
	}
}

func TestPitchOfSilenceIsInRange(t *testing.T) {
	c, err := New(8000)
	if err != nil {
		t.Fatal(err)
	}
	if p := c.estimatePitch(); p < c.minPitch || p > c.maxPitch {
		t.Fatalf("pitch of silence %d outside %d..%d", p, c.minPitch, c.maxPitch)
	}
}

func TestRecoveryWindow(t *testing.T) {
	// At 8 kHz with a pitch of 60 samples the quarter period is 15 samples.
	tests := []struct {
		lost, want int
	}{
		{1, 15},
		{40, 15},
		{80, 15},      // a 10 ms loss: a quarter period
		{81, 15 + 32}, // 4 ms more for the second 10 ms
		{160, 15 + 32},
		{161, 15 + 64},
		{241, 80}, // 15+96, capped at 10 ms
		{480, 80},
	}
	for _, tt := range tests {
		c, err := New(8000)
		if err != nil {
			t.Fatal(err)
		}
		c.pitch, c.quarter, c.lost = 60, 15, tt.lost
		c.startRecovery()
		if c.recoveryLen != tt.want {
			t.Errorf("after %d lost samples: recovery over %d samples, want %d", tt.lost, c.recoveryLen, tt.want)
		}
	}
}

func TestToInt16RoundsAndClips(t *testing.T) {
	tests := []struct {
		in   float64
		want int16
	}{
		{0, 0},
		{1.4, 1},
		{1.5, 2},
		{-1.5, -2},
		{-1.4, -1},
		{32766.6, 32767},
		{32767.4, 32767},
		{40000, 32767},
		{-32768.4, -32768},
		{-40000, -32768},
	}
	for _, tt := range tests {
		if got := toInt16(tt.in); got != tt.want {
			t.Errorf("toInt16(%v) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
