package gsm

import "math/bits"

// The fixed-point primitives of GSM 06.10 section 4.1 (EN 300 961 clause
// 5.1). The codec is bit-exact only because every step saturates, rounds and
// shifts exactly as these define; "word" values are 16-bit and "long" values
// 32-bit two's complement.

const (
	minWord = -1 << 15
	maxWord = 1<<15 - 1
	minLong = -1 << 31
	maxLong = 1<<31 - 1
)

// saturate clamps x to the 16-bit range.
func saturate(x int32) int16 {
	// One unsigned comparison tells whether x is out of range; it is
	// rarely, so the branch is cheap.
	if uint32(x-minWord) > maxWord-minWord {
		if x > 0 {
			return maxWord
		}
		return minWord
	}
	return int16(x)
}

// saturateLong clamps x to the 32-bit range.
func saturateLong(x int64) int32 {
	switch {
	case x > maxLong:
		return maxLong
	case x < minLong:
		return minLong
	}
	return int32(x)
}

// add is the spec's add(a, b): 16-bit addition with saturation.
func add(a, b int16) int16 { return saturate(int32(a) + int32(b)) }

// sub is the spec's sub(a, b): 16-bit subtraction with saturation.
func sub(a, b int16) int16 { return saturate(int32(a) - int32(b)) }

// mult is the spec's mult(a, b): the product of two Q15 values, truncated;
// mult(-32768, -32768) is 32767.
func mult(a, b int16) int16 {
	if a == minWord && b == minWord {
		return maxWord
	}
	return int16(int32(a) * int32(b) >> 15)
}

// multR is the spec's mult_r(a, b): the product of two Q15 values, rounded.
func multR(a, b int16) int16 {
	if a == minWord && b == minWord {
		return maxWord
	}
	return int16((int32(a)*int32(b) + 1<<14) >> 15)
}

// abs is the spec's abs(a); abs(-32768) is 32767.
func abs(a int16) int16 {
	switch {
	case a == minWord:
		return maxWord
	case a < 0:
		return -a
	}
	return a
}

// lMult is the spec's L_mult(a, b): the doubled 32-bit product, saturating
// the one product that overflows, (-32768)*(-32768)*2.
func lMult(a, b int16) int32 {
	if a == minWord && b == minWord {
		return maxLong
	}
	return int32(a) * int32(b) << 1
}

// lAdd is the spec's L_add(a, b): 32-bit addition with saturation.
func lAdd(a, b int32) int32 { return saturateLong(int64(a) + int64(b)) }

// norm is the spec's norm(a): how many places a must be shifted left so that
// it lies in [2^30, 2^31) (or [-2^31, -2^30] for a negative a). The spec
// leaves norm(0) undefined; every caller rules it out.
func norm(a int32) int {
	if a < 0 {
		a = ^a
	}
	return bits.LeadingZeros32(uint32(a)) - 1
}

// div is the spec's div(num, denum) for 0 <= num <= denum: num/denum as a
// Q15 fraction by 15 steps of restoring division (num == denum gives 32767).
func div(num, denum int16) int16 {
	if num <= 0 || denum <= 0 {
		return 0
	}
	var quotient int16
	rem, d := int32(num), int32(denum)
	for range 15 {
		quotient <<= 1
		rem <<= 1
		if rem >= d {
			rem -= d
			quotient++
		}
	}
	return quotient
}
