package media

import (
	"fmt"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/interleave"
	"github.com/spurtvoip/spurt/jitter"
)

// Interleaving (package interleave's wire format, in a payload type of its own).
//
// Sending. With InterleaveConfig.Depth = D, D consecutive 20 ms chunks form a
// group: each chunk is cut into D units (5 ms at D = 4) and packet j of the
// group carries unit j of every chunk. The D packets leave together once the
// group's last chunk is captured, with consecutive sequence numbers and the
// timestamp of the group's first chunk; the first packet of a talk spurt's
// first group has the marker bit. A talk spurt is extended to a whole number
// of groups: when the voice activity detector ends a spurt in the middle of
// a group, the frames after it are sent as they are until the group is full,
// so no group ever holds made-up audio and timestamps never overlap. Only at
// the end of the input (Sender.Flush) is the last group completed with whole
// chunks of the codec's silence, timestamped after the last real chunk.
//
// Receiving. The repair stage interleave.Reassembler turns the packets back
// into chunks for the playout buffer; this file counts what it reports. Units
// whose packet never came are concealed (see conceal.go) or left silent.

// InterleaveConfig turns on interleaving for a call. It suits G.711 only,
// whose payload bytes are independent samples.
type InterleaveConfig struct {
	// PayloadType is the dynamic payload type negotiated for interleaved audio.
	PayloadType uint8
	// Depth is how many chunks each group we send spreads over (and how many
	// packets it takes), interleave.MinDepth to interleave.MaxDepth; zero
	// sends plain audio.
	Depth int
	// PeerDepth is the depth the peer sends with, from its SDP; zero when it
	// does not interleave.
	PeerDepth int
}

// Scheme names the interleaving this side sends: "interleave:4", or "none".
func (c *InterleaveConfig) Scheme() string {
	if c == nil || c.Depth == 0 {
		return "none"
	}
	return fmt.Sprintf("interleave:%d", c.Depth)
}

// InterleaveChunkBytes is the chunk interleaving cuts up: 20 ms of G.711, one
// byte per sample. A depth must divide it into whole units.
const InterleaveChunkBytes = 160

// ValidInterleaveDepth reports whether d is an interleaving depth a call can
// use: from interleave.MinDepth to MaxDepth and dividing a 20 ms G.711 chunk
// into whole units (2, 4, 5 or 8). 0, no interleaving, is not one.
func ValidInterleaveDepth(d int) bool {
	return d >= interleave.MinDepth && d <= interleave.MaxDepth && InterleaveChunkBytes%d == 0
}

func (c *InterleaveConfig) validate(mediaPT uint8, bytesPerChunk int) error {
	okDepth := func(d int) bool { return d == 0 || ValidInterleaveDepth(d) }
	switch {
	case c.PayloadType > 127:
		return fmt.Errorf("rtpcall: interleave payload type %d is not a 7-bit payload type", c.PayloadType)
	case c.PayloadType == mediaPT:
		return fmt.Errorf("rtpcall: interleave payload type %d is already the media's", c.PayloadType)
	case !okDepth(c.Depth) || !okDepth(c.PeerDepth):
		return fmt.Errorf("rtpcall: interleave depth must be 0 or %d..%d and divide %d", interleave.MinDepth, interleave.MaxDepth, InterleaveChunkBytes)
	case bytesPerChunk != InterleaveChunkBytes:
		return fmt.Errorf("rtpcall: interleaving needs a codec with one byte per sample, such as G.711")
	}
	return nil
}

// interleaveReceiver is the interleaving stage of the receive pipeline.
type interleaveReceiver struct {
	pt       uint8
	ra       *interleave.Reassembler
	aheadDec codec.Decoder // decodes the start of the next chunk (G.711 keeps no state)
	aheadPCM []int16
}

// newInterleaveReceiver builds the interleaving stage for a G.711 codec,
// pushing chunks through push. Units that never came are filled with the
// codec's silence (its encoding of zero: 0xFF in µ-law, 0xD5 in A-law), so
// that with concealment off they play as silence whatever the law.
func newInterleaveReceiver(cfg *InterleaveConfig, cd codec.Codec, push jitter.PushFunc) (*interleaveReceiver, error) {
	fill, err := silenceByte(cd)
	if err != nil {
		return nil, err
	}
	ra, err := interleave.NewReassembler(cfg.PeerDepth, InterleaveChunkBytes, fill, push)
	if err != nil {
		return nil, fmt.Errorf("rtpcall: %w", err)
	}
	return &interleaveReceiver{pt: cfg.PayloadType, ra: ra, aheadDec: cd.NewDecoder(),
		aheadPCM: make([]int16, 0, InterleaveChunkBytes)}, nil
}

// silenceByte is the byte a one-byte-per-sample codec encodes silence as.
func silenceByte(cd codec.Codec) (byte, error) {
	enc, err := cd.NewEncoder().Encode(nil, make([]int16, InterleaveChunkBytes))
	if err != nil {
		return 0, fmt.Errorf("rtpcall: codec %s: %w", cd.Name, err)
	}
	if len(enc) != InterleaveChunkBytes {
		return 0, fmt.Errorf("rtpcall: interleaving needs a codec with one byte per sample, such as G.711")
	}
	for _, b := range enc {
		if b != enc[0] {
			return 0, fmt.Errorf("rtpcall: codec %s encodes silence unevenly: cannot fill interleaving holes", cd.Name)
		}
	}
	return enc[0], nil
}

// handleInterleaved takes one interleaved packet (received or rebuilt) to the
// reassembler and counts what it did.
func (r *Receiver) handleInterleaved(seq uint16, ts uint32, marker bool, payload []byte, arrival time.Duration, recovered bool) {
	added, err := r.il.ra.Add(seq, ts, marker, payload, arrival)
	switch {
	case err != nil:
		r.stats.Malformed++
	case added == interleave.AddedLate:
		r.lateInterleaved(recovered)
	case added == interleave.AddedDuplicate:
		r.stats.Duplicates++
	case recovered:
		r.stats.Recovered++
		r.xor.Queued(seq) // see rebuiltTwinIn
	}
}

// pushChunk hands a reassembled chunk to the playout buffer and counts a
// chunk the buffer would not take.
func (r *Receiver) pushChunk(p jitter.Packet, arrival time.Duration) jitter.Outcome {
	out := r.buffer.Push(p, arrival)
	switch out {
	case jitter.OutcomeQueued:
	case jitter.OutcomeLate:
		r.stats.Late++
	default:
		// a duplicate too: the deinterleaver takes each packet once, so only
		// a bogus group can bring a chunk whose place another one holds
		r.stats.Refused++
	}
	return out
}

// rebuiltTwinIn takes a received interleaved packet that was rebuilt from
// XOR parity before it came (its group's packets leave together, so the
// parity can overtake it) and reports whether it was: the reassembler
// holds its units already, so it is neither late nor a duplicate from the
// network. If it came by its group's playout time it was not lost either,
// and the rebuild recovered nothing.
func (r *Receiver) rebuiltTwinIn(seq uint16, ts uint32, arrival time.Duration) bool {
	if !r.xor.TwinArrived(seq) {
		return false
	}
	key := r.il.ra.Key(ts)
	if (r.il.ra.Holds(key) || arrival <= r.groupPlayAt(key)) && r.stats.Recovered > 0 {
		r.stats.Recovered--
	}
	return true
}

func (r *Receiver) lateInterleaved(recovered bool) {
	if recovered {
		r.stats.FECLate++
	} else {
		r.stats.Late++
	}
}

// groupPlayAt is when the group whose first chunk has the extended timestamp
// key plays: in the current spurt, or, before any, in the spurt it would start.
func (r *Receiver) groupPlayAt(key int64) time.Duration {
	return r.duration64(key-int64(r.src.firstTS)) + r.buffer.Stats().PlayoutOffset
}

// closeDueGroups hands the buffer every open group whose playout time has
// come by now, complete or not (waiting longer would make all of it late).
func (r *Receiver) closeDueGroups(now time.Duration) {
	if !r.il.ra.Pending() {
		return
	}
	offset := r.buffer.Stats().PlayoutOffset
	if r.buffer.Stats().Spurts == 0 {
		r.syncHeadroom()
		offset = r.buffer.SpurtOffset()
	}
	r.il.ra.CloseDue(now, func(key int64) time.Duration { return r.duration64(key-int64(r.src.firstTS)) + offset })
}

// audioAfter returns the decoded received units at the start of the chunk
// that follows the one with sequence number seq and timestamp ts, if that
// chunk is in the playout buffer; nil otherwise. The slice is valid until the
// next call.
func (ir *interleaveReceiver) audioAfter(seq uint16, ts uint32) []int16 {
	units := ir.ra.After(seq, ts)
	if units == nil {
		return nil
	}
	pcm, err := ir.aheadDec.Decode(ir.aheadPCM[:0], units)
	if err != nil {
		return nil
	}
	return pcm
}
