package fec

import (
	"encoding/binary"
	"fmt"
)

// RFC 2198: a RED payload is a list of block headers, then the
// blocks' data in the same order. Every header but the last is 4 bytes,
//
//	|1|   block PT  |  timestamp offset         |   block length    |
//
// (F=1, 7-bit payload type, 14-bit timestamp offset, 10-bit length); the
// last, for the primary block, is 1 byte, |0|   block PT  |, and the
// primary's data runs to the end of the payload.
const (
	redHeaderSize      = 4
	redFinalHeaderSize = 1
	redFollowFlag      = 0x80

	// MaxREDBlocks is the most blocks, the primary included, that
	// AppendRED writes and ParseRED accepts in one payload.
	MaxREDBlocks = 16
	// MaxREDTimestampOffset is the largest timestamp offset a redundant
	// block can carry (14 bits).
	MaxREDTimestampOffset = 1<<14 - 1
	// MaxREDBlockLength is the longest redundant block (10 bits); the
	// primary's length is not limited.
	MaxREDBlockLength = 1<<10 - 1
)

// Block is one block of an RFC 2198 redundant audio payload.
type Block struct {
	PT              uint8  // payload type of the block's encoding (7 bits)
	TimestampOffset uint16 // how far the block's timestamp is behind the RTP header's (14 bits); 0 for the primary
	Payload         []byte // the encoded audio
}

// AppendRED appends to dst the RFC 2198 payload (the part after the RTP
// header) carrying the redundant blocks and then the primary block (payload
// type primaryPT, data primary), and returns the extended slice. Redundant
// blocks are written in the order given, which should be oldest (largest
// TimestampOffset) first. The RTP header that goes with it carries the RED
// payload type and the primary's timestamp.
//
// It returns dst unchanged and an error for a payload type above 127, a
// timestamp offset above MaxREDTimestampOffset, a redundant block longer
// than MaxREDBlockLength, an empty primary (every RED packet carries the
// current frame), or more than MaxREDBlocks blocks in all.
func AppendRED(dst []byte, primaryPT uint8, primary []byte, redundant []Block) ([]byte, error) {
	if len(redundant)+1 > MaxREDBlocks {
		return dst, fmt.Errorf("fec: RED: %d redundant blocks and a primary are more than %d blocks", len(redundant), MaxREDBlocks)
	}
	if primaryPT > maxPayloadType {
		return dst, fmt.Errorf("fec: RED: primary payload type %d is not a 7-bit RTP payload type", primaryPT)
	}
	if len(primary) == 0 {
		return dst, fmt.Errorf("fec: RED: empty primary block")
	}
	for i, b := range redundant {
		switch {
		case b.PT > maxPayloadType:
			return dst, fmt.Errorf("fec: RED: block %d: payload type %d is not a 7-bit RTP payload type", i, b.PT)
		case b.TimestampOffset > MaxREDTimestampOffset:
			return dst, fmt.Errorf("fec: RED: block %d: timestamp offset %d is more than %d", i, b.TimestampOffset, MaxREDTimestampOffset)
		case len(b.Payload) > MaxREDBlockLength:
			return dst, fmt.Errorf("fec: RED: block %d: length %d is more than %d", i, len(b.Payload), MaxREDBlockLength)
		}
	}

	for _, b := range redundant {
		offsetAndLength := uint32(b.TimestampOffset)<<10 | uint32(len(b.Payload))
		dst = append(dst, redFollowFlag|b.PT, byte(offsetAndLength>>16), byte(offsetAndLength>>8), byte(offsetAndLength))
	}
	dst = append(dst, primaryPT)
	for _, b := range redundant {
		dst = append(dst, b.Payload...)
	}
	return append(dst, primary...), nil
}

// ParseRED splits an RFC 2198 payload (the part after the RTP header) into
// its blocks, oldest first as sent, with the primary last (TimestampOffset
// 0). The blocks are written into blocks from index 0, which is grown only
// if its capacity is short (make([]Block, 0, MaxREDBlocks) never is), and
// their Payloads alias payload.
//
// It returns an error wrapping ErrMalformed for a truncated header, more than
// MaxREDBlocks blocks, block lengths that run past the end, or an empty
// primary; blocks[:0] comes back with it.
func ParseRED(payload []byte, blocks []Block) ([]Block, error) {
	blocks = blocks[:0]
	headers := 0 // redundant block headers
	for {
		if headers*redHeaderSize >= len(payload) {
			return blocks[:0], fmt.Errorf("fec: RED: %w: payload of %d bytes ends inside the block headers", ErrMalformed, len(payload))
		}
		if payload[headers*redHeaderSize]&redFollowFlag == 0 {
			break
		}
		if headers+1 >= MaxREDBlocks {
			return blocks[:0], fmt.Errorf("fec: RED: %w: more than %d blocks", ErrMalformed, MaxREDBlocks)
		}
		headers++
	}

	data := headers*redHeaderSize + redFinalHeaderSize
	for i := range headers {
		h := payload[i*redHeaderSize : (i+1)*redHeaderSize]
		offsetAndLength := uint32(h[1])<<16 | uint32(binary.BigEndian.Uint16(h[2:4]))
		length := int(offsetAndLength & MaxREDBlockLength)
		if length > len(payload)-data {
			return blocks[:0], fmt.Errorf("fec: RED: %w: block %d of %d bytes runs past the end of the payload", ErrMalformed, i, length)
		}
		blocks = append(blocks, Block{
			PT:              h[0] &^ redFollowFlag,
			TimestampOffset: uint16(offsetAndLength >> 10),
			Payload:         payload[data : data+length : data+length],
		})
		data += length
	}
	if data == len(payload) {
		return blocks[:0], fmt.Errorf("fec: RED: %w: empty primary block", ErrMalformed)
	}
	blocks = append(blocks, Block{
		PT:      payload[headers*redHeaderSize],
		Payload: payload[data:len(payload):len(payload)],
	})
	return blocks, nil
}
