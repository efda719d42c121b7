package rtpseq

import (
	"math"
	"testing"
)

func TestNearSeq(t *testing.T) {
	tests := []struct {
		ref  int64
		seq  uint16
		want int64
	}{
		{0, 0, 0},
		{0, 5, 5},
		{0, 65535, -1},         // just behind
		{65535, 0, 65536},      // wrapped forward
		{65536 + 10, 9, 65545}, // just behind, past a wrap
		{100, 100 + 32767, 100 + 32767},
		{100, 100 + 32768, 100 - 32768}, // half the space away counts as behind
		{1 << 40, 3, 1<<40 + 3},
	}
	for _, tt := range tests {
		if got := NearSeq(tt.ref, tt.seq); got != tt.want {
			t.Errorf("NearSeq(%d, %d) = %d, want %d", tt.ref, tt.seq, got, tt.want)
		}
	}
}

func TestUnwrapper(t *testing.T) {
	var u Unwrapper
	steps := []struct {
		ts   uint32
		want int64
	}{
		{math.MaxUint32 - 159, math.MaxUint32 - 159}, // the first is itself
		{0, math.MaxUint32 + 1},                      // wraps forward
		{320, math.MaxUint32 + 1 + 320},
		{160, math.MaxUint32 + 1 + 160}, // back a chunk
		{160 + 1<<31 - 1, math.MaxUint32 + 1 + 160 + 1<<31 - 1},
	}
	for i, s := range steps {
		if got := u.Unwrap(s.ts); got != s.want {
			t.Errorf("step %d: Unwrap(%d) = %d, want %d", i, s.ts, got, s.want)
		}
	}
}

func TestChunkSamples(t *testing.T) {
	for rate, want := range map[int]int{8000: 160, 16000: 320, 48000: 960} {
		if got := ChunkSamples(rate); got != want {
			t.Errorf("ChunkSamples(%d) = %d, want %d", rate, got, want)
		}
	}
}
