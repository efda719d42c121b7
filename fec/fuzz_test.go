package fec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

// FuzzParseRED: no panic; what parses obeys the format's limits and
// re-encodes to exactly the input.
func FuzzParseRED(f *testing.F) {
	for _, redundant := range [][]Block{nil, {{PT: 0, TimestampOffset: 160, Payload: []byte{1, 2}}}, {{PT: 7, TimestampOffset: 16383, Payload: nil}, {PT: 8, TimestampOffset: 1, Payload: []byte{3}}}} {
		p, err := AppendRED(nil, 0, []byte{9, 9, 9}, redundant)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p)
	}
	f.Add([]byte{0x87, 0x02, 0x80, 0x0e, 0x05})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, payload []byte) {
		blocks, err := ParseRED(payload, nil)
		if err != nil {
			if !errors.Is(err, ErrMalformed) || len(blocks) != 0 {
				t.Fatalf("err %v with %d blocks", err, len(blocks))
			}
			return
		}
		if len(blocks) == 0 || len(blocks) > MaxREDBlocks {
			t.Fatalf("%d blocks", len(blocks))
		}
		primary := blocks[len(blocks)-1]
		if primary.TimestampOffset != 0 || len(primary.Payload) == 0 {
			t.Fatalf("primary %+v", primary)
		}
		again, err := AppendRED(nil, primary.PT, primary.Payload, blocks[:len(blocks)-1])
		if err != nil {
			t.Fatalf("parsed blocks do not re-encode: %v", err)
		}
		if !bytes.Equal(again, payload) {
			t.Fatalf("re-encoded\n% x\nfrom\n% x", again, payload)
		}
	})
}

// FuzzXORDecoder feeds AddFEC arbitrary packets while the decoder holds an
// arbitrary set of media packets around the packet's SN base: no panic,
// errors wrap ErrMalformed, and whatever Recover returns is a plausible RTP
// packet of the group.
func FuzzXORDecoder(f *testing.F) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, n := range []int{2, 4, 17, 24} {
		pkts := speechLikeGroup(f, rng, 65530, 0, n)
		f.Add(protect(f, pkts), uint64(1<<n-2)<<(48-n), uint16(0)) // all but the first held
	}
	f.Add([]byte{0x80, testFECPT}, uint64(0), uint16(0))
	f.Fuzz(func(t *testing.T, fecPkt []byte, held uint64, salt uint16) {
		d := NewXORDecoder(testFECPT, longMaskBits, 64)
		base := uint16(0)
		if len(fecPkt) >= rtpHeaderSize+4 {
			base = binary.BigEndian.Uint16(fecPkt[rtpHeaderSize+2:])
		}
		for i := range longMaskBits {
			if held&maskBit(i) == 0 {
				continue
			}
			// Media of lengths and contents drawn from the input.
			seq := base + uint16(i)
			pkt := make([]byte, rtpHeaderSize+int(salt+uint16(i)*37)%200)
			pkt[0] = 0x80
			binary.BigEndian.PutUint16(pkt[2:], seq)
			copy(pkt[rtpHeaderSize:], fecPkt)
			d.AddMedia(seq, pkt)
		}
		for range 2 { // the second time, as a duplicate
			if err := d.AddFEC(fecPkt); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("AddFEC error does not wrap ErrMalformed: %v", err)
			}
			d.Recover(func(pkt []byte) {
				if len(pkt) < rtpHeaderSize || len(pkt) > MaxPacketSize || pkt[0]>>6 != 2 {
					t.Fatalf("rebuilt % x", pkt)
				}
				if off := seqOf(pkt) - base; off >= longMaskBits || held&maskBit(int(off)) != 0 {
					t.Fatalf("rebuilt packet %d, which is not a missing packet of the group at %d", seqOf(pkt), base)
				}
			})
			checkPending(t, d)
		}
	})
}

// FuzzXORRecovery: for any group of packets the encoder accepts, losing any
// one of them and decoding rebuilds it bit for bit.
func FuzzXORRecovery(f *testing.F) {
	f.Add(uint8(4), uint8(1), uint16(65534), []byte("some speech bytes of a talk spurt"))
	f.Add(uint8(24), uint8(23), uint16(0), bytes.Repeat([]byte{0xff, 0, 7}, 100))
	f.Fuzz(func(t *testing.T, n, lost uint8, seq uint16, data []byte) {
		size := MinGroupSize + int(n)%(MaxGroupSize-MinGroupSize+1)
		enc, err := NewXOREncoder(size, testFECPT, testSSRC)
		if err != nil {
			t.Fatal(err)
		}
		pkts := make([][]byte, size)
		var fecPkt []byte
		for i := range pkts {
			// Header bits, timestamp and payload all drawn from data.
			r := rand.New(rand.NewPCG(uint64(i), uint64(len(data))))
			pick := func() byte {
				if len(data) == 0 {
					return byte(r.Uint32())
				}
				return data[r.IntN(len(data))]
			}
			p := make([]byte, rtpHeaderSize+int(pick())+int(pick())%2*int(pick()))
			for k := range p {
				p[k] = pick()
			}
			p[0] = 0x80 | p[0]&0x20 // version 2, P as drawn; no X or CC so any bytes parse
			binary.BigEndian.PutUint16(p[2:], seq+uint16(i))
			binary.BigEndian.PutUint32(p[8:], testSSRC) // one stream; RFC 5109 does not protect the SSRC
			pkts[i] = p
			out, ok, err := enc.Add(p)
			if err != nil {
				t.Fatalf("Add: %v", err)
			}
			if ok {
				fecPkt = bytes.Clone(out)
			}
		}
		miss := int(lost) % size
		d := NewXORDecoder(testFECPT, longMaskBits, 32)
		for i, p := range pkts {
			if i != miss {
				d.AddMedia(seqOf(p), p)
			}
		}
		if err := d.AddFEC(fecPkt); err != nil {
			t.Fatalf("AddFEC: %v", err)
		}
		var got [][]byte
		d.Recover(func(p []byte) { got = append(got, bytes.Clone(p)) })
		if len(got) != 1 || !bytes.Equal(got[0], pkts[miss]) {
			t.Fatalf("lost packet %d of %d:\n got %x\nwant %x", miss, size, got, pkts[miss])
		}
	})
}
