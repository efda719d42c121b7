package interleave_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/spurtvoip/spurt/interleave"
)

// FuzzDeinterleaverAdd feeds arbitrary payloads, keys and Close calls to a
// depth-4 Deinterleaver of 8-byte chunks and checks what it emits against
// the payloads it accepted.
func FuzzDeinterleaverAdd(f *testing.F) {
	const depth, chunkBytes, fill = 4, 8, 0xFF
	// Records: op, then for Add (op < 0x80) a signed key step and op&0x0f
	// payload bytes; for Close (op >= 0x80) a signed key step.
	f.Add([]byte{0x09, 0, 0x30, 1, 2, 3, 4, 5, 6, 7, 8, 0x09, 0, 0x31, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0x09, 1, 0x32, 1, 2, 3, 4, 5, 6, 7, 8, 0x80, 0, 0x09, 1, 0x33, 9, 9, 9, 9, 9, 9, 9, 9})
	f.Add([]byte{0x09, 0, 0x30, 1, 2, 3, 4, 5, 6, 7, 8, 0x09, 0, 0x31, 1, 2, 3, 4, 5, 6, 7, 8,
		0x09, 0, 0x32, 1, 2, 3, 4, 5, 6, 7, 8, 0x09, 0, 0x33, 1, 2, 3, 4, 5, 6, 7, 8})
	f.Add([]byte{0x09, 0xff, 0x3f, 1, 2, 3, 4, 5, 6, 7, 8, 0x03, 0, 0x30, 1, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		data = data[:min(len(data), 4096)] // longer inputs only slow the fuzzer
		d, err := interleave.NewDeinterleaver(depth, chunkBytes, fill)
		if err != nil {
			t.Fatal(err)
		}
		type unitKey struct {
			group int64
			index int
		}
		accepted := map[unitKey][]byte{}
		// The packet being added may complete its group, so emit sees it
		// before Add returns and its acceptance is known.
		var pendingKey unitKey
		var pending []byte
		var (
			groups    uint64
			lastGroup int64
			nextIndex int
			started   bool
		)
		emit := func(c interleave.Chunk) {
			if len(c.Payload) != chunkBytes {
				t.Fatalf("chunk of %d bytes", len(c.Payload))
			}
			if c.Holes&^0x0f != 0 {
				t.Fatalf("holes %08b name units beyond the depth", c.Holes)
			}
			if c.Index != nextIndex || (c.Index > 0 && c.Group != lastGroup) {
				t.Fatalf("chunk %d of group %d after chunk %d of group %d", c.Index, c.Group, nextIndex-1, lastGroup)
			}
			if c.Index == 0 {
				if started && c.Group <= lastGroup {
					t.Fatalf("group %d emitted after group %d", c.Group, lastGroup)
				}
				groups++
			}
			started, lastGroup, nextIndex = true, c.Group, (c.Index+1)%depth
			const unit = chunkBytes / depth
			for u := range depth {
				got := c.Payload[u*unit : (u+1)*unit]
				p, ok := accepted[unitKey{c.Group, u}]
				if !ok && pending != nil && pendingKey == (unitKey{c.Group, u}) {
					p, ok = pending, true
				}
				if (c.Holes&(1<<u) != 0) == ok {
					t.Fatalf("group %d unit %d: hole bit %v, packet accepted %v", c.Group, u, c.Holes&(1<<u) != 0, ok)
				}
				want := bytes.Repeat([]byte{fill}, unit)
				if ok {
					want = p[1+c.Index*unit : 1+(c.Index+1)*unit]
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("group %d chunk %d unit %d = % x, want % x", c.Group, c.Index, u, got, want)
				}
			}
		}
		var key int64
		for len(data) >= 2 {
			op := data[0]
			key += int64(int8(data[1]))
			data = data[2:]
			if op >= 0x80 {
				d.Close(key, emit)
				continue
			}
			n := min(int(op&0x0f), len(data))
			payload := data[:n]
			data = data[n:]
			pending = nil
			if _, j, err := interleave.ParseHeader(payload); err == nil {
				pendingKey, pending = unitKey{key, j}, payload
			}
			before := d.Stats()
			added, err := d.Add(key, payload, emit)
			after := d.Stats()
			if pending == nil && err == nil {
				t.Fatalf("Add accepted payload % x with a bad header", payload)
			}
			payloadKey := pendingKey
			pending = nil
			if err != nil {
				if !errors.Is(err, interleave.ErrMalformed) {
					t.Fatalf("Add error %v does not wrap ErrMalformed", err)
				}
				continue
			}
			// what Add says it did is what it counted
			wantAdded := interleave.AddedTaken
			switch {
			case after.Late != before.Late:
				wantAdded = interleave.AddedLate
			case after.Duplicates != before.Duplicates:
				wantAdded = interleave.AddedDuplicate
			}
			if added != wantAdded {
				t.Fatalf("Add said %d, its counters say %d", added, wantAdded)
			}
			if added == interleave.AddedTaken {
				accepted[payloadKey] = bytes.Clone(payload)
			}
		}
		d.Close(key, emit)
		if s := d.Stats(); s.Groups != groups {
			t.Fatalf("Stats.Groups = %d, %d groups emitted", s.Groups, groups)
		}
		if nextIndex != 0 {
			t.Fatalf("emission stopped after chunk %d of a group", nextIndex-1)
		}
	})
}

// FuzzLossyRoundTrip interleaves arbitrary audio bytes, drops the packets
// chosen by lost and checks that the Deinterleaver rebuilds every unit that
// arrived and marks every one that did not.
func FuzzLossyRoundTrip(f *testing.F) {
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), uint8(2), uint64(0))
	f.Add([]byte("0123456789abcdefghijklmnopqrstuvwxyz"), uint8(0), uint64(0b1010))
	f.Add(bytes.Repeat([]byte{7}, 200), uint8(6), uint64(0xF0F0))
	f.Fuzz(checkLossyRoundTrip)
}

func checkLossyRoundTrip(t *testing.T, audio []byte, depthSel uint8, lost uint64) {
	const fill = 0xD5
	depth := 2 + int(depthSel)%7
	chunkBytes := 3 * depth
	if len(audio) < chunkBytes {
		return
	}
	// Long inputs add groups but no new behaviour; they only slow the fuzzer.
	audio = audio[:min(len(audio), 64*chunkBytes)]
	il, err := interleave.NewInterleaver(depth, chunkBytes)
	if err != nil {
		t.Fatal(err)
	}
	d, err := interleave.NewDeinterleaver(depth, chunkBytes, fill)
	if err != nil {
		t.Fatal(err)
	}
	var got []interleave.Chunk
	emit := func(c interleave.Chunk) {
		c.Payload = bytes.Clone(c.Payload)
		got = append(got, c)
	}
	var sent [][]byte // chunks as the receiver should rebuild them
	holes := map[int64]uint8{}
	var key int64
	packetNo := 0
	send := func(packets [][]byte) {
		for j, p := range packets {
			if lost&(1<<(packetNo%64)) != 0 {
				holes[key] |= 1 << j
			} else if _, err := d.Add(key, p, emit); err != nil {
				t.Fatal(err)
			}
			packetNo++
		}
		key++
	}
	for len(audio) >= chunkBytes {
		sent = append(sent, audio[:chunkBytes])
		packets, err := il.Add(audio[:chunkBytes])
		if err != nil {
			t.Fatal(err)
		}
		audio = audio[chunkBytes:]
		if packets != nil {
			send(packets)
		}
	}
	if packets, real := il.Flush(fill); packets != nil {
		for range depth - real {
			sent = append(sent, bytes.Repeat([]byte{fill}, chunkBytes))
		}
		send(packets)
	}
	d.Close(key-1, emit)

	all := uint8(1<<depth - 1)
	unit := chunkBytes / depth
	i := 0
	for g := range key {
		if holes[g] == all {
			continue
		}
		for c := range depth {
			if i >= len(got) {
				t.Fatalf("only %d chunks emitted", len(got))
			}
			e := got[i]
			i++
			if e.Group != g || e.Index != c || e.Holes != holes[g] {
				t.Fatalf("emitted group %d chunk %d holes %08b, want group %d chunk %d holes %08b",
					e.Group, e.Index, e.Holes, g, c, holes[g])
			}
			for u := range depth {
				want := sent[int(g)*depth+c][u*unit : (u+1)*unit]
				if e.Holes&(1<<u) != 0 {
					want = bytes.Repeat([]byte{fill}, unit)
				}
				if !bytes.Equal(e.Payload[u*unit:(u+1)*unit], want) {
					t.Fatalf("group %d chunk %d unit %d differs", g, c, u)
				}
			}
		}
	}
	if i != len(got) {
		t.Fatalf("%d chunks emitted, want %d", len(got), i)
	}
}
