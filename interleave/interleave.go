// Package interleave owns audio interleaving: spreading each 20 ms chunk over
// several packets so that one lost packet leaves several short holes instead
// of one long one. Short holes are far easier to conceal (see package plc)
// than a whole missing chunk.
//
// # Wire format
//
// A group of D consecutive chunks (D = depth, 2..8) of N bytes each
// (G.711: N = 160 samples = 160 bytes, so a unit is N/D bytes = 5 ms at D=4) is
// sent as D packets. Chunk c is cut into D units of N/D bytes; unit u of chunk
// c is bytes [u*N/D, (u+1)*N/D) of that chunk. Packet j (j = 0..D-1) carries
// unit j of every chunk of the group, in chunk order:
//
//	payload = [1-byte header][unit j of chunk 0][unit j of chunk 1]...[unit j of chunk D-1]
//
// so every payload is 1+N bytes. Header byte: high nibble D-1, low nibble j.
//
//	 7   6   5   4   3   2   1   0
//	+---------------+---------------+
//	|     D - 1     |       j       |
//	+---------------+---------------+
//
// All D packets of a group carry the RTP timestamp of the group's first chunk;
// their sequence numbers are consecutive. N must be divisible by D. A group
// cut short by the end of a talk spurt is completed with filler chunks (for
// example 0xFF, mu-law silence) so that every group has D packets.
//
// Units are byte ranges, so interleaving suits codecs whose payload bytes are
// independent samples, such as G.711 (one byte per sample); a frame-based
// codec such as GSM cannot be cut up this way.
//
// Losing packet j of a group leaves a hole of N/D bytes at unit j of each of
// the group's D chunks instead of losing one whole chunk. The price is delay:
// a group can only be sent once its last chunk exists, so the sender adds
// (D-1) chunks of latency and the receiver waits for the whole group.
//
// [Interleaver] builds the payloads of a group; [Deinterleaver] reassembles
// chunks from received payloads, marking the units whose packet never came;
// [Reassembler] is the receive pipeline's repair stage around it, turning RTP
// packets into chunks for the playout buffer. All are clockless and allocate
// nothing after construction.
package interleave

import (
	"errors"
	"fmt"
)

// Depth limits: a header nibble holds D-1 and a Chunk's Holes mask has 8 bits.
const (
	MinDepth = 2
	MaxDepth = 8
)

// maxChunkBytes bounds a chunk so that a mistaken size fails clearly instead
// of allocating without limit; real chunks are a few hundred bytes.
const maxChunkBytes = 1 << 16

// ErrMalformed is wrapped by every error about a payload that does not follow
// the wire format: wrong length, a header naming another depth, or a packet
// index outside the group.
var ErrMalformed = errors.New("malformed interleaved payload")

// header builds the header byte of packet index of a group of depth packets.
func header(depth, index int) byte { return byte((depth-1)<<4 | index&0x0f) }

// ParseHeader reads the header byte at the start of payload and returns the
// group depth and the packet's index in its group. It checks the header alone,
// not the payload length, which depends on the negotiated chunk size.
func ParseHeader(payload []byte) (depth, index int, err error) {
	if len(payload) == 0 {
		return 0, 0, fmt.Errorf("interleave: empty payload: %w", ErrMalformed)
	}
	depth = int(payload[0]>>4) + 1
	index = int(payload[0] & 0x0f)
	if depth < MinDepth || depth > MaxDepth {
		return 0, 0, fmt.Errorf("interleave: header %#02x: depth %d outside %d..%d: %w",
			payload[0], depth, MinDepth, MaxDepth, ErrMalformed)
	}
	if index >= depth {
		return 0, 0, fmt.Errorf("interleave: header %#02x: packet index %d in a group of %d: %w",
			payload[0], index, depth, ErrMalformed)
	}
	return depth, index, nil
}

// checkShape validates the depth and chunk size shared by both directions and
// returns the unit size.
func checkShape(depth, chunkBytes int) (unit int, err error) {
	switch {
	case depth < MinDepth || depth > MaxDepth:
		return 0, fmt.Errorf("interleave: depth %d: must be %d..%d", depth, MinDepth, MaxDepth)
	case chunkBytes <= 0 || chunkBytes > maxChunkBytes:
		return 0, fmt.Errorf("interleave: chunk of %d bytes: must be 1..%d", chunkBytes, maxChunkBytes)
	case chunkBytes%depth != 0:
		return 0, fmt.Errorf("interleave: chunk of %d bytes does not divide into %d units", chunkBytes, depth)
	}
	return chunkBytes / depth, nil
}

// Interleaver turns a stream of chunks into groups of interleaved packet
// payloads. It is not safe for concurrent use; use one per stream.
type Interleaver struct {
	depth   int
	chunk   int      // N, bytes per chunk
	unit    int      // N/D
	packets [][]byte // depth payloads of 1+N bytes, headers written once
	pending int      // chunks of the current group added so far
}

// NewInterleaver returns an Interleaver for groups of depth chunks of
// chunkBytes bytes each.
func NewInterleaver(depth, chunkBytes int) (*Interleaver, error) {
	unit, err := checkShape(depth, chunkBytes)
	if err != nil {
		return nil, err
	}
	backing := make([]byte, depth*(1+chunkBytes))
	packets := make([][]byte, depth)
	for j := range packets {
		p := backing[j*(1+chunkBytes) : (j+1)*(1+chunkBytes) : (j+1)*(1+chunkBytes)]
		p[0] = header(depth, j)
		packets[j] = p
	}
	return &Interleaver{depth: depth, chunk: chunkBytes, unit: unit, packets: packets}, nil
}

// Add takes the next chunk's payload. After every depth chunks it returns the
// depth packet payloads of the group, packet 0 first; otherwise it returns nil.
// The payloads are valid until the next Add or Flush. A chunk that is not
// exactly chunkBytes long is refused and the group is left as it was.
func (i *Interleaver) Add(chunk []byte) (packets [][]byte, err error) {
	if len(chunk) != i.chunk {
		return nil, fmt.Errorf("interleave: chunk of %d bytes, want %d", len(chunk), i.chunk)
	}
	at := 1 + i.pending*i.unit
	for j, p := range i.packets {
		copy(p[at:at+i.unit], chunk[j*i.unit:(j+1)*i.unit])
	}
	i.pending++
	if i.pending < i.depth {
		return nil, nil
	}
	i.pending = 0
	return i.packets, nil
}

// Flush completes a partial group, as at the end of a talk spurt: the missing
// chunks are filled with the byte fill (0xFF is mu-law silence, 0xD5 A-law)
// and the group's payloads are returned together with the number of real
// chunks in it. With no partial group it returns nil, 0. The payloads are
// valid until the next Add or Flush.
func (i *Interleaver) Flush(fill byte) (packets [][]byte, real int) {
	if i.pending == 0 {
		return nil, 0
	}
	real = i.pending
	from := 1 + real*i.unit
	for _, p := range i.packets {
		for k := from; k < len(p); k++ {
			p[k] = fill
		}
	}
	i.pending = 0
	return i.packets, real
}
