package jitter

import (
	"testing"
	"time"
)

// A packet's Meta comes back on its chunk as pushed, Unobserved packets are
// not shown to the strategy, and the headroom is added to the offset of the
// spurts that start after it is set, not to the one already playing.
func TestBufferMetaObserveAndHeadroom(t *testing.T) {
	s := offsets(40)
	b := newTestBuffer(t, s, 16)
	metas := []Meta{{}, {Origin: Copy, PayloadType: 3}, {Origin: Rebuilt}, {Holes: 0b1010}}
	for i, m := range metas {
		p := in{seq: uint16(i), ts: uint32(160 * i), marker: i == 0, at: float64(10 * i)}.packet()
		p.Meta = m
		p.Unobserved = i == 3
		if got := b.Push(p, ms(float64(10*i))); got != OutcomeQueued {
			t.Fatalf("packet %d: %v, want queued", i, got)
		}
	}
	if s.observed != 3 {
		t.Errorf("strategy observed %d packets, want 3 (the Unobserved one skipped)", s.observed)
	}
	b.SetHeadroom(25 * time.Millisecond)
	if got := b.SpurtOffset(); got != 65*time.Millisecond {
		t.Errorf("SpurtOffset %v, want the strategy's 40ms + 25ms headroom", got)
	}
	for i, want := range metas {
		c, ok := b.Pop(time.Hour)
		if !ok {
			t.Fatalf("chunk %d not popped", i)
		}
		if c.Meta != want {
			t.Errorf("chunk %d: meta %+v, want %+v", i, c.Meta, want)
		}
		if wantAt := ms(40 + float64(20*i)); c.PlayAt != wantAt {
			t.Errorf("chunk %d plays at %v, want %v: headroom set mid-spurt must not move it", i, c.PlayAt, wantAt)
		}
	}
	// the next spurt gets the headroom
	p := in{seq: 10, ts: 160 * 60, marker: true, at: 1210}.packet()
	if got := b.Push(p, ms(1210)); got != OutcomeQueued {
		t.Fatalf("next spurt: %v", got)
	}
	c, ok := b.Pop(time.Hour)
	if !ok || c.PlayAt != ms(1200+65) {
		t.Errorf("next spurt plays at %v (ok %v), want 1265ms: media 1200ms + 40ms + 25ms headroom", c.PlayAt, ok)
	}
}

// A packet held until its source was confirmed plays no earlier than Ready,
// and its spurt's offset follows, so the chunks after it are not late.
func TestBufferReady(t *testing.T) {
	s := offsets(10)
	b := newTestBuffer(t, s, 16)
	first := in{seq: 1, ts: 0, marker: true}.packet()
	first.Ready = ms(45) // confirmed by the next packet's arrival
	if got := b.Push(first, ms(5)); got != OutcomeQueued {
		t.Fatalf("held first packet: %v, want queued", got)
	}
	if got := b.Push(in{seq: 2, ts: 160}.packet(), ms(45)); got != OutcomeQueued {
		t.Fatalf("confirming packet: %v, want queued (its spurt starts at 45ms)", got)
	}
	for i, want := range []float64{45, 65} {
		c, ok := b.Pop(time.Hour)
		if !ok || c.PlayAt != ms(want) {
			t.Errorf("chunk %d plays at %v (ok %v), want %vms", i, c.PlayAt, ok, want)
		}
	}
}
