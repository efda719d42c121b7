package impair

import (
	"fmt"
	"strconv"
	"strings"
)

// ParsePercent parses a percentage such as "5%", "5" or "2.5%" and returns it
// as a fraction: "5%" and "5" both give 0.05. A bare number is always read as a
// percentage, so "0.05" means 0.05 % (0.0005), not 5 %. Only plain decimal
// notation from 0 to 100 is accepted, with optional surrounding spaces; signs,
// exponents, hex, NaN and Inf are rejected.
func ParsePercent(s string) (float64, error) {
	number := strings.TrimSpace(s)
	number = strings.TrimSpace(strings.TrimSuffix(number, "%"))
	if !isPlainDecimal(number) {
		return 0, fmt.Errorf("impair: percentage %q: want a number from 0 to 100, e.g. \"5%%\" or \"2.5\"", s)
	}
	v, err := strconv.ParseFloat(number, 64)
	if err != nil {
		return 0, fmt.Errorf("impair: percentage %q: %w", s, err)
	}
	if v > 100 {
		return 0, fmt.Errorf("impair: percentage %q: above 100%%, want e.g. \"5%%\"", s)
	}
	return v / 100, nil
}

// isPlainDecimal reports whether s is digits with at most one decimal point
// and at least one digit.
func isPlainDecimal(s string) bool {
	digits, points := 0, 0
	for i := range len(s) {
		switch c := s[i]; {
		case c >= '0' && c <= '9':
			digits++
		case c == '.':
			points++
		default:
			return false
		}
	}
	return digits > 0 && points <= 1
}
