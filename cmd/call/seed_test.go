package main

import (
	"flag"
	"io"
	"slices"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/impair"
)

// TestSeedGivesTheSameMediaImpairment: the impairment --seed builds draws the
// media's loss and jitter from a generator of its own, so they come out the
// same whatever the RTCP reports (which leave at random times) draw in
// between; and another seed gives another pattern.
func TestSeedGivesTheSameMediaImpairment(t *testing.T) {
	paths := func(seed string) (media, rtcp *impair.Path) {
		var f callFlags
		fs := flag.NewFlagSet("test", flag.ContinueOnError)
		fs.SetOutput(io.Discard)
		f.register(fs)
		if err := fs.Parse([]string{"--loss", "20%", "--jitter", "30ms", "--delay", "10ms", "--seed", seed}); err != nil {
			t.Fatal(err)
		}
		if err := f.resolve(fs); err != nil {
			t.Fatal(err)
		}
		media, rtcp, err := f.path()
		if err != nil || media == nil || rtcp == nil {
			t.Fatalf("paths %v %v: %v", media, rtcp, err)
		}
		return media, rtcp
	}
	// fate lists each media packet's delivery time, -1 if it was lost, with
	// reportEvery media packets between RTCP reports sent through rtcp.
	fate := func(seed string, reportEvery int) []time.Duration {
		media, rtcp := paths(seed)
		var out []time.Duration
		for i := range 500 {
			at := time.Duration(i) * 20 * time.Millisecond
			if i%reportEvery == 0 {
				rtcp.Send(at)
			}
			d, ok := media.Send(at)
			if !ok {
				d = -1
			}
			out = append(out, d)
		}
		return out
	}
	a, b := fate("7", 90), fate("7", 13)
	if !slices.Equal(a, b) {
		t.Error("--seed 7 impaired the media differently when the RTCP reports went at other times")
	}
	lost := 0
	for _, d := range a {
		if d < 0 {
			lost++
		}
	}
	if lost < 70 || lost > 130 {
		t.Errorf("%d of 500 media packets lost at 20 %%", lost)
	}
	if slices.Equal(a, fate("8", 90)) {
		t.Error("--seed 7 and --seed 8 gave the same impairment")
	}
}
