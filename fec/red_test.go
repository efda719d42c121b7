package fec

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pion/rtp"

	"github.com/spurtvoip/spurt/internal/testtool"
)

// TestREDRFC2198Example builds the example packet pictured in RFC 2198: a
// DVI4 primary (PT 5, 84 bytes) with one LPC redundant block (PT 7, 14
// bytes), both 20 ms at 8 kHz, so the redundant block is 160 timestamp
// units old.
func TestREDRFC2198Example(t *testing.T) {
	lpc := bytes.Repeat([]byte{0x11}, 14)
	dvi4 := bytes.Repeat([]byte{0x22}, 84)
	got, err := AppendRED(nil, 5, dvi4, []Block{{PT: 7, TimestampOffset: 160, Payload: lpc}})
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		// |1| block PT=7 | timestamp offset 160 (14 bits) | block length 14 (10 bits) |
		// 1 0000111 | 00000010 1000 0000 00 | 00 0000 1110
		0x87, 0x02, 0x80, 0x0e,
		0x05, // |0| block PT=5 |
	}
	want = append(want, lpc...)
	want = append(want, dvi4...)
	if !bytes.Equal(got, want) {
		t.Fatalf("RED payload\n got % x\nwant % x", got, want)
	}

	blocks, err := ParseRED(got, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(blocks) != 2 ||
		blocks[0].PT != 7 || blocks[0].TimestampOffset != 160 || !bytes.Equal(blocks[0].Payload, lpc) ||
		blocks[1].PT != 5 || blocks[1].TimestampOffset != 0 || !bytes.Equal(blocks[1].Payload, dvi4) {
		t.Fatalf("ParseRED = %+v", blocks)
	}
}

func TestREDRoundTrip(t *testing.T) {
	frame := func(n int, fill byte) []byte { return bytes.Repeat([]byte{fill}, n) }
	tests := []struct {
		name      string
		primaryPT uint8
		primary   []byte
		redundant []Block
	}{
		{"primary only", 0, frame(160, 1), nil},
		{"one-byte primary", 127, frame(1, 2), nil},
		{"one previous frame", 0, frame(160, 3), []Block{{PT: 0, TimestampOffset: 160, Payload: frame(160, 4)}}},
		{"two previous frames", 8, frame(160, 5), []Block{
			{PT: 8, TimestampOffset: 320, Payload: frame(160, 6)},
			{PT: 8, TimestampOffset: 160, Payload: frame(160, 7)},
		}},
		{"field limits", 96, frame(2000, 8), []Block{
			{PT: 127, TimestampOffset: MaxREDTimestampOffset, Payload: frame(MaxREDBlockLength, 9)},
			{PT: 0, TimestampOffset: 0, Payload: nil}, // an empty redundant block is allowed
		}},
		{"most blocks", 0, frame(33, 10), func() []Block {
			b := make([]Block, MaxREDBlocks-1)
			for i := range b {
				b[i] = Block{PT: uint8(i), TimestampOffset: uint16(160 * (len(b) - i)), Payload: frame(i*7, byte(i))}
			}
			return b
		}()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("rtp header")
			out, err := AppendRED(bytes.Clone(prefix), tt.primaryPT, tt.primary, tt.redundant)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.HasPrefix(out, prefix) {
				t.Fatal("AppendRED did not append")
			}
			wantLen := len(prefix) + 4*len(tt.redundant) + 1 + len(tt.primary)
			for _, b := range tt.redundant {
				wantLen += len(b.Payload)
			}
			if len(out) != wantLen {
				t.Fatalf("payload of %d bytes, want %d", len(out), wantLen)
			}
			blocks, err := ParseRED(out[len(prefix):], make([]Block, 3, 4)) // stale contents are dropped
			if err != nil {
				t.Fatal(err)
			}
			want := append(append([]Block{}, tt.redundant...), Block{PT: tt.primaryPT, Payload: tt.primary})
			if len(blocks) != len(want) {
				t.Fatalf("parsed %d blocks, want %d", len(blocks), len(want))
			}
			for i := range want {
				if blocks[i].PT != want[i].PT || blocks[i].TimestampOffset != want[i].TimestampOffset || !bytes.Equal(blocks[i].Payload, want[i].Payload) {
					t.Fatalf("block %d = {%d %d %d bytes}, want {%d %d %d bytes}", i,
						blocks[i].PT, blocks[i].TimestampOffset, len(blocks[i].Payload),
						want[i].PT, want[i].TimestampOffset, len(want[i].Payload))
				}
			}
		})
	}
}

func TestREDParsedPayloadsAlias(t *testing.T) {
	payload, err := AppendRED(nil, 0, []byte{1, 2, 3}, []Block{{PT: 0, TimestampOffset: 160, Payload: []byte{4, 5}}})
	if err != nil {
		t.Fatal(err)
	}
	blocks, err := ParseRED(payload, nil)
	if err != nil {
		t.Fatal(err)
	}
	if &blocks[0].Payload[0] != &payload[5] || &blocks[1].Payload[0] != &payload[7] {
		t.Fatal("payloads do not alias the input")
	}
	// Appending to one block must not overwrite the next.
	_ = append(blocks[0].Payload, 0xee)
	if payload[7] != 1 {
		t.Fatal("appending to a block's payload overwrote the next block")
	}
}

func TestAppendREDErrors(t *testing.T) {
	ok := Block{PT: 0, TimestampOffset: 160, Payload: []byte{1}}
	tests := []struct {
		name      string
		primaryPT uint8
		primary   []byte
		redundant []Block
	}{
		{"primary payload type 128", 128, []byte{1}, nil},
		{"empty primary", 0, nil, []Block{ok}},
		{"block payload type 128", 0, []byte{1}, []Block{ok, {PT: 128, Payload: []byte{1}}}},
		{"timestamp offset over 14 bits", 0, []byte{1}, []Block{{TimestampOffset: MaxREDTimestampOffset + 1}}},
		{"block over 10 bits long", 0, []byte{1}, []Block{{Payload: make([]byte, MaxREDBlockLength+1)}}},
		{"too many blocks", 0, []byte{1}, make([]Block, MaxREDBlocks)},
	}
	for _, tt := range tests {
		dst := []byte{9, 9}
		out, err := AppendRED(dst, tt.primaryPT, tt.primary, tt.redundant)
		if err == nil {
			t.Errorf("%s: no error", tt.name)
		}
		if !bytes.Equal(out, []byte{9, 9}) {
			t.Errorf("%s: dst changed to % x", tt.name, out)
		}
	}
}

func TestParseREDMalformed(t *testing.T) {
	tooMany := bytes.Repeat([]byte{0x80, 0, 0, 0}, MaxREDBlocks) // 16 redundant headers, no room for the primary
	tooMany = append(tooMany, 0, 1)
	tests := []struct {
		name    string
		payload []byte
	}{
		{"empty", nil},
		{"final header only", []byte{0x00}},
		{"redundant header cut after 1 byte", []byte{0x80}},
		{"redundant header cut after 3 bytes", []byte{0x80, 0x02, 0x80}},
		{"no final header", []byte{0x80, 0x02, 0x80, 0x00}},
		{"block past the end", []byte{0x87, 0x02, 0x80, 0x0e, 0x05, 1, 2, 3}},
		{"blocks leave no primary", []byte{0x80, 0x00, 0x00, 0x02, 0x00, 1, 2}},
		{"more than MaxREDBlocks", tooMany},
	}
	for _, tt := range tests {
		blocks, err := ParseRED(tt.payload, make([]Block, 0, 4))
		if !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: err = %v, want ErrMalformed", tt.name, err)
		}
		if len(blocks) != 0 {
			t.Errorf("%s: %d blocks returned with the error", tt.name, len(blocks))
		}
	}
	// The largest legal count parses.
	most := append(bytes.Repeat([]byte{0x80, 0, 0, 0}, MaxREDBlocks-1), 0, 1)
	if blocks, err := ParseRED(most, nil); err != nil || len(blocks) != MaxREDBlocks {
		t.Errorf("%d blocks: %d blocks, err %v", MaxREDBlocks, len(blocks), err)
	}
}

func TestREDNoAllocs(t *testing.T) {
	primary := make([]byte, 160)
	redundant := []Block{{PT: 0, TimestampOffset: 320, Payload: make([]byte, 160)}, {PT: 0, TimestampOffset: 160, Payload: make([]byte, 160)}}
	dst := make([]byte, 0, 1024)
	blocks := make([]Block, 0, MaxREDBlocks)
	var err error
	if a := testing.AllocsPerRun(100, func() {
		dst, err = AppendRED(dst[:0], 0, primary, redundant)
		if err != nil {
			panic(err)
		}
		blocks, err = ParseRED(dst, blocks)
		if err != nil || len(blocks) != 3 {
			panic(fmt.Sprint(len(blocks), err))
		}
	}); a != 0 {
		t.Errorf("AppendRED+ParseRED: %v allocs", a)
	}
}

// TestREDWireshark has Wireshark's RFC 2198 dissector (bound to payload type
// 99 by default) read packets built with AppendRED.
func TestREDWireshark(t *testing.T) {
	tshark := testtool.Require(t, "tshark", "tshark")
	primary := bytes.Repeat([]byte{0xd5}, 160)
	redundant := []Block{
		{PT: 0, TimestampOffset: 320, Payload: bytes.Repeat([]byte{0x55}, 160)},
		{PT: 8, TimestampOffset: 160, Payload: bytes.Repeat([]byte{0x2a}, 80)},
	}
	var pcap bytes.Buffer
	writePcapHeader(&pcap)
	for i := range 3 {
		payload, err := AppendRED(nil, 0, primary, redundant[:i])
		if err != nil {
			t.Fatal(err)
		}
		pkt, err := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 99, SequenceNumber: uint16(i), Timestamp: uint32(1000 + 160*i), SSRC: 1}, Payload: payload}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		writePcapUDP(&pcap, i, 40000, 40002, pkt)
	}
	path := filepath.Join(t.TempDir(), "red.pcap")
	if err := os.WriteFile(path, pcap.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(tshark, "-r", path, "-d", "udp.port==40002,rtp",
		"-T", "fields", "-E", "separator=;", "-E", "aggregator=,",
		"-e", "rtp.seq", "-e", "rtp.follow", "-e", "rtp.timestamp-offset", "-e", "rtp.block-length").CombinedOutput()
	if err != nil {
		t.Fatalf("tshark: %v\n%s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if !strings.HasPrefix(l, "Running as user") {
			lines = append(lines, l)
		}
	}
	// Per packet: the F bits of all headers, then the offsets and lengths of
	// the redundant blocks.
	want := []string{
		"0;0;;",
		"1;1,0;320;160",
		"2;1,1,0;320,160;160,80",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("tshark read\n%s\nwant\n%s", strings.Join(lines, "\n"), strings.Join(want, "\n"))
	}
}

// writePcapHeader writes a libpcap file header for raw IPv4 packets.
func writePcapHeader(w *bytes.Buffer) {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], 65535)
	binary.LittleEndian.PutUint32(h[20:], 228) // LINKTYPE_IPV4
	w.Write(h[:])
}

// writePcapUDP writes one 127.0.0.1 UDP datagram as pcap record i.
func writePcapUDP(w *bytes.Buffer, i int, srcPort, dstPort uint16, payload []byte) {
	ip := make([]byte, 20+8+len(payload))
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:], uint16(len(ip)))
	ip[8] = 64 // TTL
	ip[9] = 17 // UDP
	copy(ip[12:], []byte{127, 0, 0, 1})
	copy(ip[16:], []byte{127, 0, 0, 1})
	var sum uint32
	for k := 0; k < 20; k += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[k:]))
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	binary.BigEndian.PutUint16(ip[20:], srcPort)
	binary.BigEndian.PutUint16(ip[22:], dstPort)
	binary.BigEndian.PutUint16(ip[24:], uint16(8+len(payload))) // checksum 0: none (IPv4)
	copy(ip[28:], payload)

	var rec [16]byte
	binary.LittleEndian.PutUint32(rec[0:], uint32(1700000000+i))
	binary.LittleEndian.PutUint32(rec[8:], uint32(len(ip)))
	binary.LittleEndian.PutUint32(rec[12:], uint32(len(ip)))
	w.Write(rec[:])
	w.Write(ip)
}

func BenchmarkAppendRED(b *testing.B) {
	primary := make([]byte, 160)
	redundant := []Block{{PT: 0, TimestampOffset: 160, Payload: make([]byte, 160)}}
	dst := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if dst, err = AppendRED(dst[:0], 0, primary, redundant); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseRED(b *testing.B) {
	payload, _ := AppendRED(nil, 0, make([]byte, 160), []Block{{PT: 0, TimestampOffset: 160, Payload: make([]byte, 160)}})
	blocks := make([]Block, 0, MaxREDBlocks)
	b.ReportAllocs()
	for b.Loop() {
		var err error
		if blocks, err = ParseRED(payload, blocks); err != nil {
			b.Fatal(err)
		}
	}
}
