package interleave_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/spurtvoip/spurt/interleave"
)

const muLawSilence = 0xFF

// emitted is a copy of a Chunk, kept after the emit call returns.
type emitted struct {
	group   int64
	index   int
	payload []byte
	holes   uint8
}

type recorder struct{ chunks []emitted }

func (r *recorder) emit(c interleave.Chunk) {
	r.chunks = append(r.chunks, emitted{c.Group, c.Index, bytes.Clone(c.Payload), c.Holes})
}

// sentGroup is one group as it went on the wire.
type sentGroup struct {
	seq     int // position in the stream
	key     int64
	chunks  [][]byte // the D chunks of the group as the receiver should rebuild them
	packets [][]byte // copies of the D payloads
}

func randomChunks(rng *rand.Rand, count, size int) [][]byte {
	chunks := make([][]byte, count)
	for i := range chunks {
		chunks[i] = make([]byte, size)
		for k := range chunks[i] {
			chunks[i][k] = byte(rng.UintN(256))
		}
	}
	return chunks
}

func clonePackets(packets [][]byte) [][]byte {
	out := make([][]byte, len(packets))
	for i, p := range packets {
		out[i] = bytes.Clone(p)
	}
	return out
}

// interleaveAll runs chunks through an Interleaver, flushing a final partial
// group with fill, and returns the groups with keys 1000 apart.
func interleaveAll(t *testing.T, depth int, chunks [][]byte, fill byte) []sentGroup {
	t.Helper()
	il, err := interleave.NewInterleaver(depth, len(chunks[0]))
	if err != nil {
		t.Fatal(err)
	}
	var groups []sentGroup
	var current [][]byte
	for _, c := range chunks {
		current = append(current, c)
		packets, err := il.Add(c)
		if err != nil {
			t.Fatal(err)
		}
		if packets == nil {
			continue
		}
		if len(current) != depth {
			t.Fatalf("group of %d packets after %d chunks", len(packets), len(current))
		}
		groups = append(groups, sentGroup{len(groups), int64(len(groups)) * 1000, current, clonePackets(packets)})
		current = nil
	}
	packets, real := il.Flush(fill)
	if real != len(current) {
		t.Fatalf("Flush reported %d real chunks, %d were pending", real, len(current))
	}
	if packets != nil {
		filler := bytes.Repeat([]byte{fill}, len(chunks[0]))
		for len(current) < depth {
			current = append(current, filler)
		}
		groups = append(groups, sentGroup{len(groups), int64(len(groups)) * 1000, current, clonePackets(packets)})
	}
	return groups
}

func newDeinterleaver(t testing.TB, depth, chunkBytes int) *interleave.Deinterleaver {
	t.Helper()
	d, err := interleave.NewDeinterleaver(depth, chunkBytes, muLawSilence)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// checkGroup compares the emitted chunks of one group with what was sent,
// expecting the units of the packets in lost to hold the fill byte.
func checkGroup(t *testing.T, got []emitted, want sentGroup, lost uint8) {
	t.Helper()
	depth := len(want.chunks)
	if len(got) != depth {
		t.Fatalf("group %d: %d chunks emitted, want %d", want.key, len(got), depth)
	}
	unit := len(want.chunks[0]) / depth
	for c, e := range got {
		if e.group != want.key || e.index != c {
			t.Fatalf("chunk %d of group %d emitted as group %d index %d", c, want.key, e.group, e.index)
		}
		if e.holes != lost {
			t.Errorf("group %d chunk %d: holes %08b, want %08b", want.key, c, e.holes, lost)
		}
		for u := range depth {
			span := want.chunks[c][u*unit : (u+1)*unit]
			if lost&(1<<u) != 0 {
				span = bytes.Repeat([]byte{muLawSilence}, unit)
			}
			if g := e.payload[u*unit : (u+1)*unit]; !bytes.Equal(g, span) {
				t.Errorf("group %d chunk %d unit %d: got % x, want % x", want.key, c, u, g, span)
			}
		}
	}
}

func TestWireFormat(t *testing.T) {
	// Two chunks of four bytes at depth 2: units of two bytes.
	il, err := interleave.NewInterleaver(2, 4)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := il.Add([]byte{1, 2, 3, 4}); p != nil || err != nil {
		t.Fatalf("first chunk of a group returned %v, %v", p, err)
	}
	packets, err := il.Add([]byte{5, 6, 7, 8})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]byte{{0x10, 1, 2, 5, 6}, {0x11, 3, 4, 7, 8}}
	if len(packets) != len(want) {
		t.Fatalf("%d packets, want %d", len(packets), len(want))
	}
	for j := range want {
		if !bytes.Equal(packets[j], want[j]) {
			t.Errorf("packet %d = % x, want % x", j, packets[j], want[j])
		}
	}
	// Depth 8, last packet: header 0x77, unit 7 of each chunk.
	il8, err := interleave.NewInterleaver(8, 8)
	if err != nil {
		t.Fatal(err)
	}
	for c := range 8 {
		chunk := make([]byte, 8)
		for k := range chunk {
			chunk[k] = byte(c*16 + k)
		}
		packets, err = il8.Add(chunk)
		if err != nil {
			t.Fatal(err)
		}
	}
	want8 := []byte{0x77, 0x07, 0x17, 0x27, 0x37, 0x47, 0x57, 0x67, 0x77}
	if !bytes.Equal(packets[7], want8) {
		t.Errorf("depth 8 packet 7 = % x, want % x", packets[7], want8)
	}
}

func TestRoundTripWithoutLoss(t *testing.T) {
	tests := []struct {
		depth, chunkBytes, chunks int
	}{
		{2, 160, 7},
		{3, 240, 9},
		{4, 160, 10},
		{4, 160, 12},
		{5, 160, 11},
		{8, 160, 17},
		{8, 8, 16},
		{4, 4, 1},
	}
	for _, tt := range tests {
		rng := rand.New(rand.NewPCG(uint64(tt.depth), uint64(tt.chunks)))
		groups := interleaveAll(t, tt.depth, randomChunks(rng, tt.chunks, tt.chunkBytes), muLawSilence)
		if want := (tt.chunks + tt.depth - 1) / tt.depth; len(groups) != want {
			t.Fatalf("depth %d, %d chunks: %d groups, want %d", tt.depth, tt.chunks, len(groups), want)
		}
		d := newDeinterleaver(t, tt.depth, tt.chunkBytes)
		var r recorder
		for _, g := range groups {
			for _, p := range g.packets {
				if _, err := d.Add(g.key, p, r.emit); err != nil {
					t.Fatal(err)
				}
			}
		}
		if len(r.chunks) != len(groups)*tt.depth {
			t.Fatalf("depth %d: %d chunks emitted, want %d", tt.depth, len(r.chunks), len(groups)*tt.depth)
		}
		for gi, g := range groups {
			checkGroup(t, r.chunks[gi*tt.depth:(gi+1)*tt.depth], g, 0)
		}
		if s := d.Stats(); s.Groups != uint64(len(groups)) || s.Incomplete != 0 || s.LostPackets != 0 {
			t.Errorf("stats %+v after a lossless run of %d groups", s, len(groups))
		}
	}
}

// receiveWithLoss sends groups through a fresh Deinterleaver dropping the
// packets marked in lost[group index], then closes the last group.
func receiveWithLoss(t *testing.T, depth, chunkBytes int, groups []sentGroup, lost map[int]uint8) (*interleave.Deinterleaver, []emitted) {
	t.Helper()
	d := newDeinterleaver(t, depth, chunkBytes)
	var r recorder
	for gi, g := range groups {
		for j, p := range g.packets {
			if lost[gi]&(1<<j) != 0 {
				continue
			}
			if _, err := d.Add(g.key, p, r.emit); err != nil {
				t.Fatal(err)
			}
		}
	}
	d.Close(groups[len(groups)-1].key, r.emit)
	return d, r.chunks
}

func TestLostPackets(t *testing.T) {
	tests := []struct {
		name  string
		depth int
		lost  map[int]uint8 // group index -> packets lost
	}{
		{"depth 2 packet 0", 2, map[int]uint8{1: 1 << 0}},
		{"depth 2 packet 1", 2, map[int]uint8{1: 1 << 1}},
		{"depth 4 packet 0", 4, map[int]uint8{1: 1 << 0}},
		{"depth 4 packet 2", 4, map[int]uint8{1: 1 << 2}},
		{"depth 4 packet 3 of last group", 4, map[int]uint8{2: 1 << 3}},
		{"depth 4 first packet of first group", 4, map[int]uint8{0: 1 << 0}},
		{"depth 8 packet 5", 8, map[int]uint8{1: 1 << 5}},
		{"depth 4 two in one group", 4, map[int]uint8{1: 1<<1 | 1<<3}},
		{"depth 4 one in each of two groups", 4, map[int]uint8{0: 1 << 3, 1: 1 << 0}},
		{"depth 4 one in each of two distant groups", 4, map[int]uint8{0: 1 << 2, 2: 1 << 1}},
		{"depth 4 whole group", 4, map[int]uint8{1: 0x0f}},
		{"depth 8 two in one group", 8, map[int]uint8{1: 1<<0 | 1<<7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			const chunkBytes = 160
			rng := rand.New(rand.NewPCG(7, uint64(tt.depth)))
			groups := interleaveAll(t, tt.depth, randomChunks(rng, 3*tt.depth, chunkBytes), muLawSilence)
			d, got := receiveWithLoss(t, tt.depth, chunkBytes, groups, tt.lost)
			// A group none of whose packets arrived is unknown to the
			// Deinterleaver: its chunks are missing, as without interleaving.
			all := uint8(1<<tt.depth - 1)
			var heard []sentGroup
			for gi, g := range groups {
				if tt.lost[gi] != all {
					heard = append(heard, g)
				}
			}
			if len(got) != len(heard)*tt.depth {
				t.Fatalf("%d chunks emitted, want %d", len(got), len(heard)*tt.depth)
			}
			holeUnits, lostPackets := 0, 0
			for gi, g := range heard {
				checkGroup(t, got[gi*tt.depth:(gi+1)*tt.depth], g, tt.lost[g.seq])
			}
			for gi := range groups {
				if tt.lost[gi] == all {
					continue
				}
				for j := range tt.depth {
					if tt.lost[gi]&(1<<j) != 0 {
						lostPackets++
					}
				}
			}
			for _, c := range got {
				for u := range tt.depth {
					if c.holes&(1<<u) != 0 {
						holeUnits++
					}
				}
			}
			// Each lost packet leaves exactly depth holes, one per chunk of its group.
			if holeUnits != lostPackets*tt.depth {
				t.Errorf("%d hole units for %d lost packets, want %d", holeUnits, lostPackets, lostPackets*tt.depth)
			}
			if s := d.Stats(); s.LostPackets != uint64(lostPackets) {
				t.Errorf("Stats.LostPackets = %d, want %d", s.LostPackets, lostPackets)
			}
		})
	}
}

func TestReordering(t *testing.T) {
	const depth, chunkBytes = 4, 160
	rng := rand.New(rand.NewPCG(3, 4))
	groups := interleaveAll(t, depth, randomChunks(rng, 8*depth, chunkBytes), muLawSilence)
	// Each packet is displaced by less than a group's worth of packets, so
	// packets of neighbouring groups mix but a group never arrives wholly
	// after the next one is complete.
	for trial := range 50 {
		var arrivals []arrival
		var at []float64
		for _, g := range groups {
			for _, p := range g.packets {
				at = append(at, float64(len(arrivals))+rng.Float64()*depth)
				arrivals = append(arrivals, arrival{g.key, p})
			}
		}
		sort.Sort(byTime{arrivals: arrivals, at: at})
		d := newDeinterleaver(t, depth, chunkBytes)
		var r recorder
		for _, a := range arrivals {
			if _, err := d.Add(a.key, a.packet, r.emit); err != nil {
				t.Fatal(err)
			}
		}
		if len(r.chunks) != len(groups)*depth {
			t.Fatalf("trial %d: %d chunks emitted, want %d", trial, len(r.chunks), len(groups)*depth)
		}
		for gi, g := range groups {
			checkGroup(t, r.chunks[gi*depth:(gi+1)*depth], g, 0)
		}
	}

	// A newer group that completes first waits for the older one.
	d := newDeinterleaver(t, depth, chunkBytes)
	var r recorder
	g0, g1 := groups[0], groups[1]
	for _, p := range g0.packets[:3] {
		mustAdd(t, d, g0.key, p, r.emit)
	}
	for _, p := range g1.packets {
		mustAdd(t, d, g1.key, p, r.emit)
	}
	if len(r.chunks) != 0 {
		t.Fatalf("%d chunks emitted before the older group was complete", len(r.chunks))
	}
	mustAdd(t, d, g0.key, g0.packets[3], r.emit)
	if len(r.chunks) != 2*depth {
		t.Fatalf("%d chunks emitted once both groups were complete, want %d", len(r.chunks), 2*depth)
	}
	checkGroup(t, r.chunks[:depth], g0, 0)
	checkGroup(t, r.chunks[depth:], g1, 0)
}

type arrival struct {
	key    int64
	packet []byte
}

type byTime struct {
	arrivals []arrival
	at       []float64
}

func (b byTime) Len() int           { return len(b.at) }
func (b byTime) Less(i, j int) bool { return b.at[i] < b.at[j] }
func (b byTime) Swap(i, j int) {
	b.at[i], b.at[j] = b.at[j], b.at[i]
	b.arrivals[i], b.arrivals[j] = b.arrivals[j], b.arrivals[i]
}

func mustAdd(t *testing.T, d *interleave.Deinterleaver, key int64, p []byte, emit func(interleave.Chunk)) {
	t.Helper()
	if _, err := d.Add(key, p, emit); err != nil {
		t.Fatal(err)
	}
}

func TestCloseWindowLateAndDuplicates(t *testing.T) {
	const depth, chunkBytes = 4, 40
	rng := rand.New(rand.NewPCG(5, 6))
	groups := interleaveAll(t, depth, randomChunks(rng, 5*depth, chunkBytes), muLawSilence)
	d := newDeinterleaver(t, depth, chunkBytes)
	var r recorder
	g := func(i int) sentGroup { return groups[i] }

	// Duplicate inside an open group.
	mustAdd(t, d, g(0).key, g(0).packets[0], r.emit)
	mustAdd(t, d, g(0).key, g(0).packets[0], r.emit)
	if s := d.Stats(); s.Duplicates != 1 {
		t.Fatalf("Duplicates = %d, want 1", s.Duplicates)
	}
	// Groups 0 and 1 open and incomplete; a packet of group 2 pushes group 0 out.
	mustAdd(t, d, g(1).key, g(1).packets[1], r.emit)
	mustAdd(t, d, g(2).key, g(2).packets[2], r.emit)
	if len(r.chunks) != depth {
		t.Fatalf("%d chunks emitted when the window overflowed, want %d", len(r.chunks), depth)
	}
	checkGroup(t, r.chunks, g(0), 0x0f&^(1<<0))
	// Group 0 is finished now: its packets are late.
	mustAdd(t, d, g(0).key, g(0).packets[1], r.emit)
	if s := d.Stats(); s.Late != 1 {
		t.Fatalf("Late = %d after a packet of an emitted group, want 1", s.Late)
	}
	// Close(1) emits group 1 only; group 2 stays open.
	r.chunks = nil
	d.Close(g(1).key, r.emit)
	if len(r.chunks) != depth {
		t.Fatalf("Close emitted %d chunks, want %d", len(r.chunks), depth)
	}
	checkGroup(t, r.chunks, g(1), 0x0f&^(1<<1))
	mustAdd(t, d, g(1).key, g(1).packets[0], r.emit)
	if s := d.Stats(); s.Late != 2 {
		t.Fatalf("Late = %d after a packet of a closed group, want 2", s.Late)
	}
	// Group 2 completes and is emitted; a duplicate of it afterwards is late.
	r.chunks = nil
	for j, p := range g(2).packets {
		if j != 2 {
			mustAdd(t, d, g(2).key, p, r.emit)
		}
	}
	checkGroup(t, r.chunks, g(2), 0)
	mustAdd(t, d, g(2).key, g(2).packets[2], r.emit)
	// Groups 3 and 4 open; a packet of a never-seen group older than both, but
	// newer than the last finished one, is outside the window.
	mustAdd(t, d, g(4).key, g(4).packets[0], r.emit)
	mustAdd(t, d, g(4).key+1000, g(4).packets[0], r.emit)
	r.chunks = nil
	mustAdd(t, d, g(3).key, g(3).packets[0], r.emit)
	if len(r.chunks) != 0 {
		t.Fatalf("a packet older than the window emitted %d chunks", len(r.chunks))
	}
	s := d.Stats()
	if s.Late != 4 || s.Duplicates != 1 || s.Groups != 3 || s.Incomplete != 2 || s.LostPackets != 6 {
		t.Fatalf("stats %+v, want Late 4, Duplicates 1, Groups 3, Incomplete 2, LostPackets 6", s)
	}
	// Closing a key nobody has seen finishes it all the same.
	d.Close(g(4).key+5000, r.emit)
	if len(r.chunks) != 2*depth {
		t.Fatalf("final Close emitted %d chunks, want %d", len(r.chunks), 2*depth)
	}
	mustAdd(t, d, g(4).key+5000, g(4).packets[1], r.emit)
	if s := d.Stats(); s.Late != 5 {
		t.Fatalf("Late = %d after a packet of a closed unseen group, want 5", s.Late)
	}
	// Reset starts afresh: old keys are accepted again.
	d.Reset()
	r.chunks = nil
	for _, p := range g(0).packets {
		mustAdd(t, d, g(0).key, p, r.emit)
	}
	checkGroup(t, r.chunks, g(0), 0)
}

func TestMalformed(t *testing.T) {
	const depth, chunkBytes = 4, 8
	good := []byte{0x31, 1, 2, 3, 4, 5, 6, 7, 8}
	tests := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"header only", []byte{0x31}},
		{"one byte short", good[:8]},
		{"one byte long", append(append([]byte{}, good...), 9)},
		{"depth 2 header", append([]byte{0x11}, good[1:]...)},
		{"depth 8 header", append([]byte{0x71}, good[1:]...)},
		{"depth 1 header", append([]byte{0x00}, good[1:]...)},
		{"index 4 of 4", append([]byte{0x34}, good[1:]...)},
		{"index 15 of 4", append([]byte{0x3f}, good[1:]...)},
	}
	d := newDeinterleaver(t, depth, chunkBytes)
	var r recorder
	for _, tt := range tests {
		_, err := d.Add(1, tt.payload, r.emit)
		if !errors.Is(err, interleave.ErrMalformed) {
			t.Errorf("%s: Add error %v, want ErrMalformed", tt.name, err)
		}
	}
	if s := d.Stats(); s.Malformed != uint64(len(tests)) {
		t.Errorf("Malformed = %d, want %d", s.Malformed, len(tests))
	}
	// None of them opened a group: a clean group is emitted whole.
	if _, err := d.Add(1, good, r.emit); err != nil {
		t.Fatalf("good payload refused: %v", err)
	}
	d.Close(1, r.emit)
	if len(r.chunks) != depth || r.chunks[0].holes != 0x0f&^(1<<1) {
		t.Fatalf("after malformed payloads, group emitted as %+v", r.chunks)
	}
}

func TestParseHeader(t *testing.T) {
	tests := []struct {
		payload      []byte
		depth, index int
		ok           bool
	}{
		{[]byte{0x30}, 4, 0, true},
		{[]byte{0x33, 9, 9}, 4, 3, true},
		{[]byte{0x10}, 2, 0, true},
		{[]byte{0x11}, 2, 1, true},
		{[]byte{0x77}, 8, 7, true},
		{[]byte{0x40}, 5, 0, true},
		{[]byte{0x12}, 0, 0, false}, // index 2 of 2
		{[]byte{0x00}, 0, 0, false}, // depth 1
		{[]byte{0x80}, 0, 0, false}, // depth 9
		{[]byte{0xff}, 0, 0, false},
		{nil, 0, 0, false},
	}
	for _, tt := range tests {
		depth, index, err := interleave.ParseHeader(tt.payload)
		if tt.ok != (err == nil) || depth != tt.depth || index != tt.index {
			t.Errorf("ParseHeader(% x) = %d, %d, %v; want %d, %d, ok=%v", tt.payload, depth, index, err, tt.depth, tt.index, tt.ok)
		}
		if err != nil && !errors.Is(err, interleave.ErrMalformed) {
			t.Errorf("ParseHeader(% x) error %v does not wrap ErrMalformed", tt.payload, err)
		}
	}
}

func TestConstructorsRefuseBadShapes(t *testing.T) {
	tests := []struct{ depth, chunkBytes int }{
		{1, 160}, {9, 160}, {0, 160}, {-4, 160}, {4, 0}, {4, -160}, {3, 160}, {6, 160}, {4, 1 << 20},
	}
	for _, tt := range tests {
		if _, err := interleave.NewInterleaver(tt.depth, tt.chunkBytes); err == nil {
			t.Errorf("NewInterleaver(%d, %d) succeeded", tt.depth, tt.chunkBytes)
		}
		if _, err := interleave.NewDeinterleaver(tt.depth, tt.chunkBytes, 0); err == nil {
			t.Errorf("NewDeinterleaver(%d, %d) succeeded", tt.depth, tt.chunkBytes)
		}
	}
}

func TestInterleaverRefusesWrongChunkAndFlushes(t *testing.T) {
	il, err := interleave.NewInterleaver(4, 8)
	if err != nil {
		t.Fatal(err)
	}
	if packets, real := il.Flush(0); packets != nil || real != 0 {
		t.Fatalf("Flush with nothing pending = %v, %d", packets, real)
	}
	for _, n := range []int{0, 7, 9, 160} {
		if _, err := il.Add(make([]byte, n)); err == nil {
			t.Errorf("Add of %d bytes accepted", n)
		}
	}
	// The refused chunks did not count: one real chunk, three of filler.
	if _, err := il.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8}); err != nil {
		t.Fatal(err)
	}
	packets, real := il.Flush(0xAA)
	if real != 1 || len(packets) != 4 {
		t.Fatalf("Flush = %d packets, %d real; want 4, 1", len(packets), real)
	}
	want := []byte{0x32, 5, 6, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA, 0xAA}
	if !bytes.Equal(packets[2], want) {
		t.Errorf("flushed packet 2 = % x, want % x", packets[2], want)
	}
	if packets, real := il.Flush(0); packets != nil || real != 0 {
		t.Fatalf("second Flush = %v, %d", packets, real)
	}
}

func TestSteadyStateAllocatesNothing(t *testing.T) {
	const depth, chunkBytes = 4, 160
	il, err := interleave.NewInterleaver(depth, chunkBytes)
	if err != nil {
		t.Fatal(err)
	}
	d := newDeinterleaver(t, depth, chunkBytes)
	chunk := make([]byte, chunkBytes)
	var key int64
	var got int
	emit := func(c interleave.Chunk) { got += len(c.Payload) }
	allocs := testing.AllocsPerRun(200, func() {
		for range depth {
			packets, err := il.Add(chunk)
			if err != nil {
				panic(err)
			}
			for j, p := range packets {
				if j == 1 {
					continue // lost: the group is completed by Close
				}
				if _, err := d.Add(key, p, emit); err != nil {
					panic(err)
				}
			}
		}
		d.Close(key, emit)
		key += depth * chunkBytes
		packets, _ := il.Flush(0xFF) // nothing pending: nil
		_ = packets
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per group, want 0", allocs)
	}
	if got == 0 {
		t.Fatal("nothing was emitted")
	}
}

func BenchmarkInterleaverAdd(b *testing.B) {
	il, err := interleave.NewInterleaver(4, 160)
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 160)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := il.Add(chunk); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDeinterleaverAdd measures one packet of a depth-4 group of G.711
// chunks, including the emission of a group every fourth packet.
func BenchmarkDeinterleaverAdd(b *testing.B) {
	const depth, chunkBytes = 4, 160
	il, err := interleave.NewInterleaver(depth, chunkBytes)
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, chunkBytes)
	var packets [][]byte
	for range depth {
		packets, _ = il.Add(chunk)
	}
	d := newDeinterleaver(b, depth, chunkBytes)
	var n int
	emit := func(c interleave.Chunk) { n += len(c.Payload) }
	var i int
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Add(int64(i/depth), packets[i%depth], emit); err != nil {
			b.Fatal(err)
		}
		i++
	}
}
