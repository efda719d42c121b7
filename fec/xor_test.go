package fec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/pion/rtp"
)

const (
	testFECPT = 127
	testSSRC  = 0x5eed1234
)

// media describes one media packet for a test; build marshals it with pion,
// independently of the code under test.
type media struct {
	seq      uint16
	ts       uint32
	pt       uint8
	marker   bool
	payload  []byte
	csrc     []uint32
	ext      []byte // RFC 8285 one-byte extension element with ID 1, if not nil
	padding  byte   // padding bytes, 0 for none
	ssrcDiff uint32 // XORed into testSSRC
}

func (m media) build(t testing.TB) []byte {
	t.Helper()
	p := rtp.Packet{
		Header: rtp.Header{
			Version:        2,
			Marker:         m.marker,
			PayloadType:    m.pt,
			SequenceNumber: m.seq,
			Timestamp:      m.ts,
			SSRC:           testSSRC ^ m.ssrcDiff,
			CSRC:           m.csrc,
		},
		Payload: m.payload,
	}
	if m.ext != nil {
		p.Header.Extension = true
		p.Header.ExtensionProfile = rtp.ExtensionProfileOneByte
		if err := p.Header.SetExtension(1, m.ext); err != nil {
			t.Fatalf("SetExtension: %v", err)
		}
	}
	if m.padding > 0 {
		p.Header.Padding = true
		p.Header.PaddingSize = m.padding
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatalf("marshal media packet: %v", err)
	}
	return b
}

// speechLikeGroup returns n packets starting at seq: 20 ms apart, payload
// lengths that differ, a marker on the first, payload types that differ
// (PCMU, PCMA, CN), and random bytes.
func speechLikeGroup(t testing.TB, rng *rand.Rand, seq uint16, ts uint32, n int) [][]byte {
	t.Helper()
	pts := []uint8{0, 8, 13}
	pkts := make([][]byte, n)
	for i := range pkts {
		payload := make([]byte, 1+rng.IntN(200))
		for j := range payload {
			payload[j] = byte(rng.Uint32())
		}
		pkts[i] = media{
			seq:     seq + uint16(i),
			ts:      ts + uint32(160*i),
			pt:      pts[rng.IntN(len(pts))],
			marker:  i == 0,
			payload: payload,
		}.build(t)
	}
	return pkts
}

// protect runs pkts through a new encoder with group size len(pkts) and
// returns the single FEC packet it makes.
func protect(t testing.TB, pkts [][]byte) []byte {
	t.Helper()
	enc, err := NewXOREncoder(len(pkts), testFECPT, testSSRC)
	if err != nil {
		t.Fatalf("NewXOREncoder: %v", err)
	}
	for i, p := range pkts {
		fecPkt, ok, err := enc.Add(p)
		if err != nil {
			t.Fatalf("Add packet %d: %v", i, err)
		}
		if ok != (i == len(pkts)-1) {
			t.Fatalf("Add packet %d of %d: ok = %v", i, len(pkts), ok)
		}
		if ok {
			return bytes.Clone(fecPkt)
		}
	}
	t.Fatal("unreachable")
	return nil
}

// recoverAll calls Recover and returns copies of what it rebuilt.
func recoverAll(d *XORDecoder) [][]byte {
	var got [][]byte
	n := d.Recover(func(pkt []byte) { got = append(got, bytes.Clone(pkt)) })
	if n != len(got) {
		panic(fmt.Sprintf("Recover returned %d but called fn %d times", n, len(got)))
	}
	return got
}

// checkPending fails unless the decoder's count of FEC packets held is right.
func checkPending(t testing.TB, d *XORDecoder) {
	t.Helper()
	used := 0
	for _, f := range d.fec {
		if f.used {
			used++
		}
	}
	if used != d.pending {
		t.Fatalf("%d FEC slots in use, pending says %d", used, d.pending)
	}
}

func seqOf(pkt []byte) uint16 { return binary.BigEndian.Uint16(pkt[2:4]) }

// mustEqualPacket fails unless got is want bit for bit, naming the header
// field that differs to make a failure readable.
func mustEqualPacket(t *testing.T, got, want []byte) {
	t.Helper()
	if bytes.Equal(got, want) {
		return
	}
	var g, w rtp.Packet
	if err := g.Unmarshal(got); err != nil {
		t.Fatalf("rebuilt packet does not parse (%v):\n got %x\nwant %x", err, got, want)
	}
	if err := w.Unmarshal(want); err != nil {
		t.Fatalf("test packet does not parse: %v", err)
	}
	t.Fatalf("rebuilt packet differs:\n got %v (len %d)\nwant %v (len %d)\n got %x\nwant %x", g.Header, len(got), w.Header, len(want), got, want)
}

func TestXORRecoversAnySingleLoss(t *testing.T) {
	tests := []struct {
		n     int
		seq   uint16
		order string // "fec-last", "fec-first"
	}{
		{n: 2, seq: 1000, order: "fec-last"},
		{n: 2, seq: 65535, order: "fec-first"},
		{n: 4, seq: 7, order: "fec-last"},
		{n: 4, seq: 65534, order: "fec-last"}, // 65534, 65535, 0, 1
		{n: 4, seq: 65533, order: "fec-first"},
		{n: 16, seq: 300, order: "fec-last"}, // largest short mask
		{n: 17, seq: 65530, order: "fec-first"},
		{n: 24, seq: 12345, order: "fec-last"},
		{n: 24, seq: 65520, order: "fec-last"}, // wraps inside the group
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d/seq=%d/%s", tt.n, tt.seq, tt.order), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tt.n), uint64(tt.seq)))
			pkts := speechLikeGroup(t, rng, tt.seq, 0xfffff000, tt.n) // timestamps wrap too
			fecPkt := protect(t, pkts)
			for lost := range pkts {
				d := NewXORDecoder(testFECPT, longMaskBits, 64)
				if tt.order == "fec-first" {
					if err := d.AddFEC(fecPkt); err != nil {
						t.Fatalf("AddFEC: %v", err)
					}
				}
				for i, p := range pkts {
					if i != lost {
						d.AddMedia(seqOf(p), p)
					}
				}
				if tt.order == "fec-last" {
					if err := d.AddFEC(fecPkt); err != nil {
						t.Fatalf("AddFEC: %v", err)
					}
				}
				got := recoverAll(d)
				if len(got) != 1 {
					t.Fatalf("lost packet %d: rebuilt %d packets, want 1", lost, len(got))
				}
				mustEqualPacket(t, got[0], pkts[lost])
				if again := recoverAll(d); len(again) != 0 {
					t.Fatalf("second Recover rebuilt %d more packets", len(again))
				}
			}
		})
	}
}

func TestXORRebuildsHeaderExtrasBitExact(t *testing.T) {
	// CSRCs, header extensions and padding travel in the protected bytes, so
	// they must come back exactly, as must marker, payload type, timestamp
	// and a payload length that differs from the others'.
	pkts := [][]byte{
		media{seq: 10, ts: 1, pt: 96, marker: true, payload: []byte{1, 2, 3}, csrc: []uint32{0xdeadbeef, 7}}.build(t),
		media{seq: 11, ts: 99, pt: 0, payload: bytes.Repeat([]byte{0xaa}, 160), ext: []byte{0x42, 0x43}}.build(t),
		media{seq: 12, ts: 0xffffffff, pt: 8, payload: []byte{9}, padding: 7}.build(t),
		media{seq: 13, ts: 5, pt: 13, marker: true, payload: nil}.build(t), // header only
		media{seq: 14, ts: 6, pt: 127, payload: bytes.Repeat([]byte{0x55}, maxProtectedBytes)}.build(t),
	}
	fecPkt := protect(t, pkts)
	for lost := range pkts {
		d := NewXORDecoder(testFECPT, longMaskBits, 32)
		for i, p := range pkts {
			if i != lost {
				d.AddMedia(seqOf(p), p)
			}
		}
		if err := d.AddFEC(fecPkt); err != nil {
			t.Fatalf("AddFEC: %v", err)
		}
		got := recoverAll(d)
		if len(got) != 1 {
			t.Fatalf("lost %d: rebuilt %d packets, want 1", lost, len(got))
		}
		mustEqualPacket(t, got[0], pkts[lost])
	}
}

func TestXORTwoLostRebuildsNothing(t *testing.T) {
	for _, n := range []int{2, 4, 24} {
		rng := rand.New(rand.NewPCG(2, uint64(n)))
		pkts := speechLikeGroup(t, rng, 65535-uint16(n/2), 1000, n)
		fecPkt := protect(t, pkts)
		for a := range pkts {
			for b := a + 1; b < len(pkts); b++ {
				d := NewXORDecoder(testFECPT, longMaskBits, 64)
				for i, p := range pkts {
					if i != a && i != b {
						d.AddMedia(seqOf(p), p)
					}
				}
				if err := d.AddFEC(fecPkt); err != nil {
					t.Fatalf("AddFEC: %v", err)
				}
				if got := recoverAll(d); len(got) != 0 {
					t.Fatalf("n=%d lost %d and %d: rebuilt %d packets, want none", n, a, b, len(got))
				}
				// The group stays recoverable: when one of the two turns up
				// late, the other is rebuilt.
				d.AddMedia(seqOf(pkts[a]), pkts[a])
				got := recoverAll(d)
				if len(got) != 1 {
					t.Fatalf("n=%d lost %d and %d, %d came late: rebuilt %d packets, want 1", n, a, b, a, len(got))
				}
				mustEqualPacket(t, got[0], pkts[b])
			}
		}
	}
}

func TestXORDuplicates(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	pkts := speechLikeGroup(t, rng, 500, 0, 4)
	fecPkt := protect(t, pkts)

	d := NewXORDecoder(testFECPT, longMaskBits, 32)
	for _, p := range pkts[1:] {
		d.AddMedia(seqOf(p), p)
		d.AddMedia(seqOf(p), p) // duplicated media
	}
	for range 3 { // duplicated FEC
		if err := d.AddFEC(fecPkt); err != nil {
			t.Fatalf("AddFEC: %v", err)
		}
	}
	got := recoverAll(d)
	if len(got) != 1 {
		t.Fatalf("rebuilt %d packets, want 1", len(got))
	}
	mustEqualPacket(t, got[0], pkts[0])
	// The real packet arriving after it was rebuilt is a duplicate too.
	d.AddMedia(seqOf(pkts[0]), pkts[0])
	if again := recoverAll(d); len(again) != 0 {
		t.Fatalf("rebuilt %d more packets", len(again))
	}
	if s := d.Stats(); s.MediaDuplicates != 4 || s.Recovered != 1 {
		t.Fatalf("stats %+v, want 4 duplicates and 1 recovered", s)
	}
}

// TestXORStream runs a long stream with random loss and reordering through
// an encoder and a decoder and checks that exactly the packets that were the
// only loss of their group come back, bit for bit.
func TestXORStream(t *testing.T) {
	tests := []struct {
		n       int
		loss    float64
		reorder bool
		window  int
	}{
		{n: 2, loss: 0.05, window: 32},
		{n: 4, loss: 0.10, reorder: true, window: 64},
		{n: 5, loss: 0.02, reorder: true, window: 32}, // window not a multiple of n
		{n: 24, loss: 0.01, window: 100},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("n=%d/loss=%v/reorder=%v", tt.n, tt.loss, tt.reorder), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(tt.n), 99))
			enc, err := NewXOREncoder(tt.n, testFECPT, testSSRC)
			if err != nil {
				t.Fatal(err)
			}
			const total = 3000 // crosses the sequence wrap
			type wirePacket struct {
				data []byte
				fec  bool
			}
			var wire []wirePacket
			sent := map[uint16][]byte{}
			lost := map[uint16]bool{}
			groupLosses := map[int]int{} // group index → packets lost
			fecLost := map[int]bool{}
			startSeq := uint16(65536 - 1234)
			for i := range total {
				p := speechLikeGroup(t, rng, startSeq+uint16(i), uint32(i*160), 1)[0]
				sent[seqOf(p)] = p
				if rng.Float64() < tt.loss {
					lost[seqOf(p)] = true
					groupLosses[i/tt.n]++
				} else {
					wire = append(wire, wirePacket{data: p})
				}
				fecPkt, ok, err := enc.Add(p)
				if err != nil {
					t.Fatalf("Add: %v", err)
				}
				if ok {
					if rng.Float64() < tt.loss {
						fecLost[i/tt.n] = true
					} else {
						wire = append(wire, wirePacket{data: bytes.Clone(fecPkt), fec: true})
					}
				}
			}
			if tt.reorder { // swap neighbours now and then
				for i := 1; i < len(wire); i++ {
					if rng.Float64() < 0.1 {
						wire[i-1], wire[i] = wire[i], wire[i-1]
					}
				}
			}

			d := NewXORDecoder(testFECPT, longMaskBits, tt.window)
			rebuilt := map[uint16]bool{}
			early := 0 // packets rebuilt because the FEC packet overtook them
			check := func(pkt []byte) {
				seq := seqOf(pkt)
				mustEqualPacket(t, pkt, sent[seq])
				if !lost[seq] {
					early++
					return
				}
				if rebuilt[seq] {
					t.Fatalf("rebuilt packet %d twice", seq)
				}
				rebuilt[seq] = true
			}
			for _, w := range wire {
				if w.fec {
					if err := d.AddFEC(w.data); err != nil {
						t.Fatalf("AddFEC: %v", err)
					}
				} else {
					d.AddMedia(seqOf(w.data), w.data)
				}
				d.Recover(check)
				checkPending(t, d)
			}
			want := 0
			for g, n := range groupLosses {
				if n == 1 && !fecLost[g] {
					want++
				}
			}
			if len(rebuilt) != want {
				t.Fatalf("rebuilt %d packets, want %d (lost %d media packets, %d FEC packets)", len(rebuilt), want, len(lost), len(fecLost))
			}
			if !tt.reorder && early != 0 {
				t.Fatalf("rebuilt %d packets that were not lost, without reordering", early)
			}
			t.Logf("lost %d of %d, rebuilt %d (and %d overtaken by their FEC packet); stats %+v", len(lost), total, len(rebuilt), early, d.Stats())
		})
	}
}

// TestXORFECPacketLayout checks the FEC packet field by field against the
// worked example in RFC 5109 (packets 8 to 11, timestamps 3, 5,
// 7, 9, payload types 11, 18, 11, 18, markers 1, 0, 1, 0, and 200, 140, 100
// and 340 bytes after the fixed header).
func TestXORFECPacketLayout(t *testing.T) {
	lengths := []int{200, 140, 100, 340}
	pts := []uint8{11, 18, 11, 18}
	var pkts [][]byte
	for i := range 4 {
		pkts = append(pkts, media{
			seq: uint16(8 + i), ts: uint32(3 + 2*i), pt: pts[i], marker: i%2 == 0,
			payload: bytes.Repeat([]byte{byte(i + 1)}, lengths[i]),
		}.build(t))
	}
	enc, err := NewXOREncoder(4, 100, 0xabcdef01)
	if err != nil {
		t.Fatal(err)
	}
	var fecPkts [][]byte
	for round := range 2 {
		for _, p := range pkts {
			if round == 1 { // the second group: next sequence numbers, same sizes
				p = bytes.Clone(p)
				binary.BigEndian.PutUint16(p[2:4], seqOf(p)+4)
			}
			out, ok, err := enc.Add(p)
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				fecPkts = append(fecPkts, bytes.Clone(out))
			}
		}
	}
	if len(fecPkts) != 2 {
		t.Fatalf("made %d FEC packets from 8 media packets with n=4, want 2", len(fecPkts))
	}

	var h rtp.Header
	n, err := h.Unmarshal(fecPkts[0])
	if err != nil {
		t.Fatal(err)
	}
	if h.Version != 2 || h.Padding || h.Extension || len(h.CSRC) != 0 || h.Marker || h.PayloadType != 100 || h.Timestamp != 9 || h.SSRC != 0xabcdef01 {
		t.Errorf("FEC RTP header %+v, want V=2, no P/X/CC/M, PT 100, TS 9 (last media packet's), SSRC 0xabcdef01", h)
	}
	var h2 rtp.Header
	if _, err := h2.Unmarshal(fecPkts[1]); err != nil {
		t.Fatal(err)
	}
	if h2.SequenceNumber != h.SequenceNumber+1 {
		t.Errorf("FEC sequence numbers %d then %d, want consecutive", h.SequenceNumber, h2.SequenceNumber)
	}

	want := []byte{
		0x00,       // E=0 L=0 P=0 X=0 CC=0
		0x00,       // M: 1^0^1^0 = 0, PT: 11^18^11^18 = 0
		0x00, 0x08, // SN base 8
		0x00, 0x00, 0x00, 0x08, // TS recovery 3^5^7^9 = 8
		0x01, 0x74, // length recovery 200^140^100^340 = 372
		0x01, 0x54, // protection length 340, the longest
		0xf0, 0x00, // mask: packets 8, 9, 10, 11
	}
	if got := fecPkts[0][n : n+len(want)]; !bytes.Equal(got, want) {
		t.Errorf("FEC and ULP headers\n got % x\nwant % x", got, want)
	}
	payload := fecPkts[0][n+len(want):]
	if len(payload) != 340 {
		t.Fatalf("level 0 payload of %d bytes, want 340", len(payload))
	}
	for i, b := range payload {
		var x byte
		for k, l := range lengths {
			if i < l {
				x ^= byte(k + 1)
			}
		}
		if b != x {
			t.Fatalf("payload byte %d = %#x, want %#x", i, b, x)
		}
	}
	if base := binary.BigEndian.Uint16(fecPkts[1][n+2:]); base != 12 {
		t.Errorf("second FEC packet's SN base %d, want 12", base)
	}
}

func TestXORLongMask(t *testing.T) {
	for _, n := range []int{16, 17, 24} {
		rng := rand.New(rand.NewPCG(4, uint64(n)))
		fecPkt := protect(t, speechLikeGroup(t, rng, 100, 0, n))
		long := fecPkt[rtpHeaderSize]&fecLongMaskFlag != 0
		if long != (n > 16) {
			t.Errorf("n=%d: L=%v, want %v", n, long, n > 16)
		}
		ulp := fecPkt[rtpHeaderSize+fecHeaderSize:]
		mask := uint64(binary.BigEndian.Uint16(ulp[2:4])) << 32
		if long {
			mask |= uint64(binary.BigEndian.Uint32(ulp[4:8]))
		}
		if want := (uint64(1)<<n - 1) << (48 - n); mask != want {
			t.Errorf("n=%d: mask %012x, want %012x", n, mask, want)
		}
	}
}

func TestXORFlush(t *testing.T) {
	enc, err := NewXOREncoder(8, testFECPT, testSSRC)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := enc.Flush(); ok {
		t.Fatal("Flush with no packets made a FEC packet")
	}
	rng := rand.New(rand.NewPCG(5, 5))
	pkts := speechLikeGroup(t, rng, 40, 0, 3) // a talk spurt ending after 3 packets
	for _, p := range pkts {
		if _, ok, err := enc.Add(p); ok || err != nil {
			t.Fatalf("Add: ok=%v err=%v", ok, err)
		}
	}
	fecPkt, ok := enc.Flush()
	if !ok {
		t.Fatal("Flush made no FEC packet")
	}
	d := NewXORDecoder(testFECPT, longMaskBits, 32)
	d.AddMedia(seqOf(pkts[0]), pkts[0])
	d.AddMedia(seqOf(pkts[2]), pkts[2])
	if err := d.AddFEC(fecPkt); err != nil {
		t.Fatal(err)
	}
	got := recoverAll(d)
	if len(got) != 1 {
		t.Fatalf("rebuilt %d packets, want 1", len(got))
	}
	mustEqualPacket(t, got[0], pkts[1])
	if _, ok := enc.Flush(); ok {
		t.Fatal("second Flush made a FEC packet")
	}
}

func TestXORSinglePacketGroupWithoutMedia(t *testing.T) {
	// A flushed group of one packet is a plain copy: it is rebuilt even when
	// no media packet has been seen, taking the SSRC from the FEC packet.
	enc, _ := NewXOREncoder(2, testFECPT, testSSRC)
	p := media{seq: 9, ts: 90, pt: 0, marker: true, payload: []byte("hello")}.build(t)
	if _, _, err := enc.Add(p); err != nil {
		t.Fatal(err)
	}
	fecPkt, _ := enc.Flush()
	d := NewXORDecoder(testFECPT, longMaskBits, 32)
	if err := d.AddFEC(fecPkt); err != nil {
		t.Fatal(err)
	}
	got := recoverAll(d)
	if len(got) != 1 {
		t.Fatalf("rebuilt %d packets, want 1", len(got))
	}
	mustEqualPacket(t, got[0], p)
}

func TestXORRecoveredSSRCIsTheMediaStreams(t *testing.T) {
	// RFC 5109 allows FEC packets their own SSRC; the rebuilt packet must
	// still carry the media stream's.
	rng := rand.New(rand.NewPCG(6, 6))
	pkts := speechLikeGroup(t, rng, 1, 0, 3)
	enc, _ := NewXOREncoder(3, testFECPT, 0x0f0f0f0f)
	var fecPkt []byte
	for _, p := range pkts {
		fecPkt, _, _ = enc.Add(p)
	}
	d := NewXORDecoder(testFECPT, longMaskBits, 32)
	d.AddMedia(seqOf(pkts[0]), pkts[0])
	d.AddMedia(seqOf(pkts[2]), pkts[2])
	if err := d.AddFEC(fecPkt); err != nil {
		t.Fatal(err)
	}
	got := recoverAll(d)
	if len(got) != 1 {
		t.Fatalf("rebuilt %d packets, want 1", len(got))
	}
	mustEqualPacket(t, got[0], pkts[1])
}

func TestXORChainedRecovery(t *testing.T) {
	// Two FEC packets with overlapping masks (as another sender may make):
	// A protects 1,2 and B protects 2,3. With 2 and 3 lost, A rebuilds 2,
	// and then B can rebuild 3, in one call to Recover.
	pkts := [][]byte{
		media{seq: 1, ts: 160, payload: []byte{1, 1}}.build(t),
		media{seq: 2, ts: 320, payload: []byte{2, 2, 2}}.build(t),
		media{seq: 3, ts: 480, payload: []byte{3}}.build(t),
	}
	fecB := protect(t, pkts[1:3])
	fecA := protect(t, pkts[0:2])
	d := NewXORDecoder(testFECPT, longMaskBits, 32)
	d.AddMedia(1, pkts[0])
	if err := d.AddFEC(fecB); err != nil { // B first, so a single sweep cannot do it
		t.Fatal(err)
	}
	if err := d.AddFEC(fecA); err != nil {
		t.Fatal(err)
	}
	got := recoverAll(d)
	if len(got) != 2 {
		t.Fatalf("rebuilt %d packets, want 2", len(got))
	}
	mustEqualPacket(t, got[0], pkts[1])
	mustEqualPacket(t, got[1], pkts[2])
}

func TestXORWindow(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	pkts := speechLikeGroup(t, rng, 100, 0, 4)
	fecPkt := protect(t, pkts)

	t.Run("group left the window", func(t *testing.T) {
		d := NewXORDecoder(testFECPT, longMaskBits, 32)
		for _, p := range pkts[1:] {
			d.AddMedia(seqOf(p), p)
		}
		if err := d.AddFEC(fecPkt); err != nil {
			t.Fatal(err)
		}
		d.AddMedia(100+32, media{seq: 132}.build(t)) // 100 is now out of the window
		if got := recoverAll(d); len(got) != 0 {
			t.Fatalf("rebuilt %d packets from a group out of the window", len(got))
		}
		if s := d.Stats(); s.FECExpired != 1 {
			t.Fatalf("stats %+v, want 1 expired FEC packet", s)
		}
	})
	t.Run("FEC packet too late", func(t *testing.T) {
		d := NewXORDecoder(testFECPT, longMaskBits, 32)
		d.AddMedia(200, media{seq: 200}.build(t))
		if err := d.AddFEC(fecPkt); err != nil {
			t.Fatalf("a stale FEC packet is not malformed: %v", err)
		}
		if s := d.Stats(); s.FECExpired != 1 {
			t.Fatalf("stats %+v, want 1 expired FEC packet", s)
		}
	})
	t.Run("media too late", func(t *testing.T) {
		d := NewXORDecoder(testFECPT, longMaskBits, 32)
		d.AddMedia(200, media{seq: 200}.build(t))
		d.AddMedia(100, pkts[0])
		if s := d.Stats(); s.MediaDropped != 1 {
			t.Fatalf("stats %+v, want 1 dropped", s)
		}
	})
	t.Run("sender restarted its sequence", func(t *testing.T) {
		d := NewXORDecoder(testFECPT, longMaskBits, 32)
		d.AddMedia(30000, media{seq: 30000}.build(t))
		old := protect(t, [][]byte{media{seq: 29999}.build(t), media{seq: 30000}.build(t), media{seq: 30001}.build(t)})
		if err := d.AddFEC(old); err != nil {
			t.Fatal(err)
		}
		for _, p := range pkts[1:] {
			d.AddMedia(seqOf(p), p)
		}
		if err := d.AddFEC(fecPkt); err != nil {
			t.Fatal(err)
		}
		got := recoverAll(d)
		if len(got) != 1 {
			t.Fatalf("rebuilt %d packets after a restart, want 1", len(got))
		}
		mustEqualPacket(t, got[0], pkts[0])
		if s := d.Stats(); s.FECExpired != 1 {
			t.Fatalf("stats %+v, want the old stream's FEC packet expired", s)
		}
		checkPending(t, d)
	})
	t.Run("more FEC packets than room", func(t *testing.T) {
		// Groups missing two packets each pile up; past the window's worth
		// the oldest is given up, and the newest still works.
		d := NewXORDecoder(testFECPT, longMaskBits, 32)
		for g := range 33 {
			seq := uint16(1000 + 3*g)
			grp := [][]byte{media{seq: seq, ts: 1}.build(t), media{seq: seq + 1, ts: 2}.build(t), media{seq: seq + 2, ts: 3}.build(t)}
			if err := d.AddFEC(protect(t, grp)); err != nil {
				t.Fatal(err)
			}
			if g == 32 {
				d.AddMedia(seq, grp[0])
				d.AddMedia(seq+1, grp[1])
				got := recoverAll(d)
				if len(got) != 1 {
					t.Fatalf("rebuilt %d packets, want 1", len(got))
				}
				mustEqualPacket(t, got[0], grp[2])
			}
		}
		if s := d.Stats(); s.FECExpired < 1 {
			t.Fatalf("stats %+v, want an evicted FEC packet", s)
		}
		checkPending(t, d)
	})
	t.Run("laps of the sequence space", func(t *testing.T) {
		// Packet 100 of the previous lap must not stand in for this lap's
		// lost packet 100, however the window got here.
		d := NewXORDecoder(testFECPT, longMaskBits, 32)
		d.AddMedia(100, media{seq: 100, payload: []byte("previous lap")}.build(t))
		for _, seq := range []uint16{22000, 44000, 65000} {
			d.AddMedia(seq, media{seq: seq}.build(t))
		}
		for _, p := range pkts[1:] {
			d.AddMedia(seqOf(p), p)
		}
		if err := d.AddFEC(fecPkt); err != nil {
			t.Fatal(err)
		}
		got := recoverAll(d)
		if len(got) != 1 {
			t.Fatalf("rebuilt %d packets, want 1", len(got))
		}
		mustEqualPacket(t, got[0], pkts[0])
	})
	t.Run("protection length short of the longest packet", func(t *testing.T) {
		// Another sender may protect only the first bytes (RFC 5109 allows
		// any protection length): a packet that fits them is rebuilt, a
		// longer one cannot be and is not.
		pkts := [][]byte{
			media{seq: 7, payload: bytes.Repeat([]byte{1}, 30)}.build(t),
			media{seq: 8, payload: bytes.Repeat([]byte{2}, 10)}.build(t),
			media{seq: 9, payload: bytes.Repeat([]byte{3}, 20)}.build(t),
		}
		full := protect(t, pkts)
		const ulp = rtpHeaderSize + fecHeaderSize
		short := bytes.Clone(full[:ulp+ulpHeaderShortSize+20]) // protects 20 of the longest's 30 bytes
		binary.BigEndian.PutUint16(short[ulp:], 20)
		for lost, rebuilt := range []bool{false, true, true} {
			d := NewXORDecoder(testFECPT, longMaskBits, 32)
			for i, p := range pkts {
				if i != lost {
					d.AddMedia(seqOf(p), p)
				}
			}
			if err := d.AddFEC(short); err != nil {
				t.Fatal(err)
			}
			got := recoverAll(d)
			if len(got) != map[bool]int{false: 0, true: 1}[rebuilt] {
				t.Fatalf("lost %d: rebuilt %d packets, want rebuilt=%v", lost, len(got), rebuilt)
			}
			if rebuilt {
				mustEqualPacket(t, got[0], pkts[lost])
			} else if s := d.Stats(); s.FECUnusable != 1 {
				t.Fatalf("lost %d: stats %+v, want 1 unusable FEC packet", lost, s)
			}
		}
	})
}

func TestNewXOREncoderErrors(t *testing.T) {
	for _, tt := range []struct {
		n  int
		pt uint8
	}{{1, 100}, {25, 100}, {0, 100}, {4, 128}} {
		if _, err := NewXOREncoder(tt.n, tt.pt, 1); err == nil {
			t.Errorf("NewXOREncoder(%d, %d): no error", tt.n, tt.pt)
		}
	}
}

func TestXOREncoderRejects(t *testing.T) {
	good := media{seq: 10, payload: []byte{1}}.build(t)
	v1 := bytes.Clone(good)
	v1[0] = 1<<6 | v1[0]&0x3f
	tests := []struct {
		name string
		pkt  []byte
	}{
		{"empty", nil},
		{"short", good[:11]},
		{"version 1", v1},
		{"too long", media{seq: 11, payload: make([]byte, MaxPacketSize-11)}.build(t)},
		{"CSRCs past the end", append([]byte{0x83}, good[1:13]...)},
		{"same sequence number again", good},
		{"48 past the first", media{seq: 10 + 48}.build(t)},
		{"before the first", media{seq: 9}.build(t)},
	}
	enc, _ := NewXOREncoder(4, testFECPT, testSSRC)
	if _, _, err := enc.Add(good); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		if _, ok, err := enc.Add(tt.pkt); err == nil || ok {
			t.Errorf("%s: Add returned ok=%v err=%v, want an error", tt.name, ok, err)
		}
	}
	// The group goes on: three more packets complete it.
	for i := range 3 {
		_, ok, err := enc.Add(media{seq: uint16(11 + i)}.build(t))
		if err != nil || ok != (i == 2) {
			t.Fatalf("Add after errors: ok=%v err=%v", ok, err)
		}
	}
}

func TestAddFECMalformed(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 8))
	good := protect(t, speechLikeGroup(t, rng, 100, 0, 4))
	long := protect(t, speechLikeGroup(t, rng, 100, 0, 20))
	const fh = rtpHeaderSize // where the FEC header starts
	edit := func(pkt []byte, f func(p []byte) []byte) []byte { return f(bytes.Clone(pkt)) }

	tests := []struct {
		name string
		pkt  []byte
	}{
		{"empty", nil},
		{"RTP header only", good[:rtpHeaderSize]},
		{"truncated FEC header", good[:fh+9]},
		{"no ULP header", good[:fh+fecHeaderSize+3]},
		{"long mask truncated", long[:fh+fecHeaderSize+7]},
		{"payload shorter than protection length", good[:len(good)-1]},
		{"wrong payload type", edit(good, func(p []byte) []byte { p[1] = 0; return p })},
		{"RTP version 1", edit(good, func(p []byte) []byte { p[0] = 0x40; return p })},
		{"E bit", edit(good, func(p []byte) []byte { p[fh] |= fecExtensionFlag; return p })},
		{"L bit on a short header", edit(good[:fh+fecHeaderSize+ulpHeaderShortSize], func(p []byte) []byte { p[fh] |= fecLongMaskFlag; return p })},
		{"empty mask", edit(good, func(p []byte) []byte { p[fh+12], p[fh+13] = 0, 0; return p })},
		{"mask wider than the window", edit(long, func(p []byte) []byte { p[fh+fecHeaderSize+7] = 1; return p })},
		{"padding count zero", edit(good, func(p []byte) []byte { p[0] |= 0x20; p[len(p)-1] = 0; return p })},
		{"padding past the header", edit(good, func(p []byte) []byte { p[0] |= 0x20; p[len(p)-1] = 0xff; return append(p[:fh+1], 0xff) })},
		{"padding eats the payload", edit(good, func(p []byte) []byte { p[0] |= 0x20; p[len(p)-1] = 1; return p })},
		{"CSRC count past the end", edit(good[:fh+8], func(p []byte) []byte { p[0] |= 0x0f; return p })},
		{"protection length above MaxPacketSize", func() []byte {
			p := append(bytes.Clone(good[:fh+fecHeaderSize+ulpHeaderShortSize]), make([]byte, maxProtectedBytes+1)...)
			binary.BigEndian.PutUint16(p[fh+fecHeaderSize:], maxProtectedBytes+1)
			return p
		}()},
	}
	for _, tt := range tests {
		d := NewXORDecoder(testFECPT, longMaskBits, 32)
		if err := d.AddFEC(tt.pkt); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: AddFEC = %v, want ErrMalformed", tt.name, err)
		}
	}
	d := NewXORDecoder(testFECPT, longMaskBits, 32)
	if err := d.AddFEC(good); err != nil {
		t.Errorf("the unedited packet: %v", err)
	}
}

// TestAddFECMaskPastTheGroup: a decoder told the sender's group size takes
// FEC packets whose mask stays within it, groups cut short included, and
// refuses as malformed those reaching past it, however few packets they
// protect: the group size bounds how long a rebuild can take.
func TestAddFECMaskPastTheGroup(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	maskOf := func(offsets ...int) uint64 {
		var m uint64
		for _, o := range offsets {
			m |= maskBit(o)
		}
		return m
	}
	// withMask rewrites a short-mask FEC packet's mask (the XOR no longer
	// matches, but AddFEC only parses).
	withMask := func(pkt []byte, mask uint64) []byte {
		p := bytes.Clone(pkt)
		if mask&0xffffffff != 0 {
			// a long mask: insert its low 32 bits and set L
			p = append(p[:rtpHeaderSize+fecHeaderSize+4], append(make([]byte, 4), pkt[rtpHeaderSize+fecHeaderSize+4:]...)...)
			p[rtpHeaderSize] |= fecLongMaskFlag
			binary.BigEndian.PutUint32(p[rtpHeaderSize+fecHeaderSize+4:], uint32(mask))
		}
		binary.BigEndian.PutUint16(p[rtpHeaderSize+fecHeaderSize+2:], uint16(mask>>32))
		return p
	}
	four := protect(t, speechLikeGroup(t, rng, 100, 0, 4))
	tests := []struct {
		name    string
		group   int
		mask    uint64
		wantErr bool
	}{
		{"the group", 4, maskOf(0, 1, 2, 3), false},
		{"a group cut short", 4, maskOf(0, 1), false},
		{"one past the group", 4, maskOf(0, 1, 2, 3, 4), true},
		{"one packet past the group", 4, maskOf(4), true},
		{"a 48-bit mask into groups of 4", 4, maskOf(0, 47), true},
		{"groups of 2", 2, maskOf(0, 1), false},
		{"past groups of 2", 2, maskOf(0, 2), true},
		{"groups of 24", 24, maskOf(0, 23), false},
		{"past groups of 24", 24, maskOf(0, 24), true},
	}
	for _, tt := range tests {
		d := NewXORDecoder(testFECPT, tt.group, 64)
		err := d.AddFEC(withMask(four, tt.mask))
		if tt.wantErr != errors.Is(err, ErrMalformed) || (!tt.wantErr && err != nil) {
			t.Errorf("%s: AddFEC = %v, want malformed %v", tt.name, err, tt.wantErr)
		}
		if tt.wantErr && d.pending != 0 {
			t.Errorf("%s: a malformed FEC packet was kept", tt.name)
		}
	}
}

func TestAddMediaDropsNonRTP(t *testing.T) {
	good := media{seq: 5, payload: []byte{1}}.build(t)
	v0 := bytes.Clone(good)
	v0[0] &= 0x3f
	d := NewXORDecoder(testFECPT, longMaskBits, 32)
	for _, p := range [][]byte{nil, good[:11], v0, media{seq: 5, payload: make([]byte, MaxPacketSize-11)}.build(t)} {
		d.AddMedia(5, p)
	}
	if s := d.Stats(); s.MediaDropped != 4 {
		t.Fatalf("stats %+v, want 4 dropped", s)
	}
	if d.packet(5) != nil {
		t.Fatal("a dropped packet was kept")
	}
	d.AddMedia(5, good)
	if !bytes.Equal(d.packet(5), good) {
		t.Fatal("the good packet was not kept")
	}
}

func TestXORDecoderWindowSize(t *testing.T) {
	for _, tt := range []struct{ in, want int }{{-1, 32}, {0, 32}, {32, 32}, {33, 64}, {100, 128}, {1024, 1024}, {5000, 1024}} {
		if got := NewXORDecoder(1, longMaskBits, tt.in).window; got != tt.want {
			t.Errorf("NewXORDecoder(_, _, %d).window = %d, want %d", tt.in, got, tt.want)
		}
	}
}

func TestXORNoAllocs(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 9))
	const n = 4
	pkts := speechLikeGroup(t, rng, 0, 0, 256*n) // more groups than runs, so sequence numbers only go up
	enc, _ := NewXOREncoder(n, testFECPT, testSSRC)
	fecPkts := make([][]byte, 0, 256)
	for _, p := range pkts {
		if out, ok, _ := enc.Add(p); ok {
			fecPkts = append(fecPkts, bytes.Clone(out))
		}
	}

	i := 0
	if a := testing.AllocsPerRun(200, func() {
		if _, _, err := enc.Add(pkts[i%len(pkts)]); err != nil {
			panic(err)
		}
		i++
	}); a != 0 {
		t.Errorf("Add: %v allocs per packet", a)
	}

	d := NewXORDecoder(testFECPT, longMaskBits, 64)
	sink := 0
	fn := func(pkt []byte) { sink += len(pkt) }
	k := 0
	if a := testing.AllocsPerRun(200, func() {
		// One group per run: lose its first packet, rebuild it from the FEC packet.
		g := k % len(fecPkts)
		for j := 1; j < n; j++ {
			p := pkts[g*n+j]
			d.AddMedia(seqOf(p), p)
		}
		if err := d.AddFEC(fecPkts[g]); err != nil {
			panic(err)
		}
		if d.Recover(fn) != 1 {
			panic("no packet rebuilt")
		}
		k++
	}); a != 0 {
		t.Errorf("AddMedia+AddFEC+Recover: %v allocs per group", a)
	}
}

func BenchmarkXOREncoderAdd(b *testing.B) {
	pkts := make([][]byte, 256)
	for i := range pkts {
		pkts[i] = media{seq: uint16(i), ts: uint32(160 * i), payload: make([]byte, 160)}.build(b)
	}
	enc, _ := NewXOREncoder(4, testFECPT, testSSRC)
	b.ReportAllocs()
	b.SetBytes(172)
	for i := 0; b.Loop(); i++ {
		if _, _, err := enc.Add(pkts[i%len(pkts)]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkXORDecoder measures the receiver's work per media packet on a
// 20 ms G.711 stream with n=4: AddMedia for each packet, AddFEC once per
// group, Recover after every packet, and one loss per group rebuilt.
func BenchmarkXORDecoder(b *testing.B) {
	const n = 4
	pkts := make([][]byte, 64*n)
	enc, _ := NewXOREncoder(n, testFECPT, testSSRC)
	var fecPkts [][]byte
	for i := range pkts {
		pkts[i] = media{seq: uint16(i), ts: uint32(160 * i), payload: bytes.Repeat([]byte{byte(i)}, 160)}.build(b)
		if out, ok, _ := enc.Add(pkts[i]); ok {
			fecPkts = append(fecPkts, bytes.Clone(out))
		}
	}
	// The prepared packets are replayed with sequence numbers (and SN
	// bases) rewritten so that the stream runs on rather than jumping back.
	pkt := make([]byte, MaxPacketSize)
	fecPkt := make([]byte, maxFECPacketSize)
	d := NewXORDecoder(testFECPT, longMaskBits, 64)
	fn := func([]byte) {}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		j := i % len(pkts)
		seq := uint16(i)
		if j%n != 0 { // the first of each group is lost
			p := pkt[:copy(pkt, pkts[j])]
			binary.BigEndian.PutUint16(p[2:4], seq)
			d.AddMedia(seq, p)
		}
		if j%n == n-1 {
			f := fecPkt[:copy(fecPkt, fecPkts[j/n])]
			binary.BigEndian.PutUint16(f[rtpHeaderSize+2:], seq-(n-1))
			if err := d.AddFEC(f); err != nil {
				b.Fatal(err)
			}
		}
		d.Recover(fn)
	}
	if d.Stats().Recovered == 0 {
		b.Fatal("nothing rebuilt")
	}
}
