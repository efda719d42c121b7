package impair

import (
	"math"
	"strconv"
	"testing"
)

func TestParsePercent(t *testing.T) {
	tests := []struct {
		in      string
		want    float64
		wantErr bool
	}{
		{"5%", 0.05, false},
		{"5", 0.05, false},
		{"0", 0, false},
		{"0%", 0, false},
		{"100%", 1, false},
		{"100", 1, false},
		{"2.5%", 0.025, false},
		{"0.05", 0.0005, false}, // a bare number is a percentage
		{".5%", 0.005, false},
		{"7.", 0.07, false},
		{" 12 % ", 0.12, false},
		{"", 0, true},
		{"%", 0, true},
		{".", 0, true},
		{"abc", 0, true},
		{"-1%", 0, true},
		{"-0", 0, true},
		{"+5", 0, true},
		{"101%", 0, true},
		{"100.0001", 0, true},
		{"NaN", 0, true},
		{"Inf%", 0, true},
		{"1e1", 0, true},
		{"0x10", 0, true},
		{"1_0", 0, true},
		{"5%%", 0, true},
		{"1.2.3", 0, true},
		{"5 5", 0, true},
		{"%5", 0, true},
	}
	for _, tc := range tests {
		got, err := ParsePercent(tc.in)
		if (err != nil) != tc.wantErr || (err == nil && math.Abs(got-tc.want) > 1e-15) {
			t.Errorf("ParsePercent(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.wantErr)
		}
	}
}

func FuzzParsePercent(f *testing.F) {
	for _, s := range []string{"5%", "5", "0.05", "100%", "abc", "-1%", "101%", "NaN", " 7 % ", "1e400", "00000000000000000000000000000000000000000001"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParsePercent(s)
		if err != nil {
			return
		}
		if math.IsNaN(v) || v < 0 || v > 1 {
			t.Fatalf("ParsePercent(%q) = %v, outside [0, 1]", s, v)
		}
		// Round trip: the value printed as a percentage parses back to itself.
		again, err := ParsePercent(strconv.FormatFloat(v*100, 'f', -1, 64) + "%")
		if err != nil || math.Abs(again-v) > 1e-15 {
			t.Fatalf("ParsePercent(%q) = %v, but its round trip gives %v, %v", s, v, again, err)
		}
	})
}
