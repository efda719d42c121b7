package gsm

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The spec defines its operators by exact arithmetic followed by saturation
// or truncation; these tests compute that with wide integers and compare,
// over the edges of the ranges and random values.

func edgeWords() []int16 {
	words := []int16{math.MinInt16, math.MinInt16 + 1, -16384, -2, -1, 0, 1, 2, 16383, 16384, math.MaxInt16 - 1, math.MaxInt16}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		words = append(words, int16(rng.Uint32()))
	}
	return words
}

func clamp64(x, lo, hi int64) int64 { return max(lo, min(hi, x)) }

func TestWordOperators(t *testing.T) {
	words := edgeWords()
	for _, a := range words {
		for _, b := range words {
			x, y := int64(a), int64(b)
			if got, want := add(a, b), clamp64(x+y, minWord, maxWord); int64(got) != want {
				t.Fatalf("add(%d, %d) = %d, want %d", a, b, got, want)
			}
			if got, want := sub(a, b), clamp64(x-y, minWord, maxWord); int64(got) != want {
				t.Fatalf("sub(%d, %d) = %d, want %d", a, b, got, want)
			}
			// mult and mult_r: the Q15 product (truncated, or rounded),
			// the one overflowing case saturated.
			if got, want := mult(a, b), clamp64(x*y>>15, minWord, maxWord); int64(got) != want {
				t.Fatalf("mult(%d, %d) = %d, want %d", a, b, got, want)
			}
			if got, want := multR(a, b), clamp64((x*y+1<<14)>>15, minWord, maxWord); int64(got) != want {
				t.Fatalf("multR(%d, %d) = %d, want %d", a, b, got, want)
			}
			if got, want := lMult(a, b), clamp64(2*x*y, minLong, maxLong); int64(got) != want {
				t.Fatalf("lMult(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
		if got, want := abs(a), clamp64(max(int64(a), -int64(a)), 0, maxWord); int64(got) != want {
			t.Fatalf("abs(%d) = %d, want %d", a, got, want)
		}
	}
}

func TestLongOperators(t *testing.T) {
	longs := []int32{math.MinInt32, math.MinInt32 + 1, -1 << 30, -(1 << 30) - 1, -2, -1, 1, 2, 1<<30 - 1, 1 << 30, math.MaxInt32}
	rng := rand.New(rand.NewPCG(3, 4))
	for range 40 {
		longs = append(longs, int32(rng.Uint32()), int32(rng.Uint32())>>rng.IntN(31))
	}
	for _, a := range longs {
		for _, b := range longs {
			if got, want := lAdd(a, b), clamp64(int64(a)+int64(b), minLong, maxLong); int64(got) != want {
				t.Fatalf("lAdd(%d, %d) = %d, want %d", a, b, got, want)
			}
		}
		// norm(a) is the left shift that brings a into [2^30, 2^31), or
		// [-2^31, -2^30) if negative.
		n := norm(a)
		shifted := int64(a) << n
		if a > 0 && (shifted < 1<<30 || shifted >= 1<<31) || a < 0 && (shifted < -1<<31 || shifted >= -1<<30) {
			t.Fatalf("norm(%d) = %d, which shifts it to %d", a, n, shifted)
		}
	}
}

func TestDiv(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	check := func(num, denum int16) {
		want := int64(num) << 15 / int64(denum)
		if num == denum {
			want = maxWord
		}
		if got := div(num, denum); int64(got) != want {
			t.Fatalf("div(%d, %d) = %d, want %d", num, denum, got, want)
		}
	}
	for _, nd := range [][2]int16{{0, 1}, {1, 1}, {1, 2}, {1, 3}, {2, 3}, {32766, 32767}, {32767, 32767}, {1, 32767}, {16384, 32767}} {
		check(nd[0], nd[1])
	}
	for range 10000 {
		denum := int16(rng.IntN(maxWord) + 1)
		check(int16(rng.IntN(int(denum)+1)), denum)
	}
}
