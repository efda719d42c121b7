package media

import (
	"fmt"
	"github.com/spurtvoip/spurt/internal/rtpseq"
	"math/bits"
	"time"

	"github.com/spurtvoip/spurt/jitter"
	"github.com/spurtvoip/spurt/plc"
)

// Loss concealment. The receiver's output passes through a plc.Concealer in
// play order: every decoded chunk goes through it as good audio, a hole in a
// talk spurt (a chunk the playout buffer knows is missing because a later
// packet of the same spurt is queued) is filled with its synthetic
// continuation, and so are the units of an interleaved chunk whose packet
// never came. Such a unit usually has received audio after it as well,
// later in its chunk or at the start of the next chunk, which the playout
// buffer holds already when both came in the same interleaving group (the
// receiver keeps a copy of the chunks it hands the buffer for this): then
// the unit is interpolated from both sides (plc.Concealer.ConcealBefore),
// and the received audio after it plays untouched. Gaps between talk spurts
// are silence, not loss, and stay silent; the concealer starts afresh at
// every spurt. With concealment off, holes are played as silence. Concealed
// counts the 20 ms chunks that held any concealed audio, ConcealedSamples
// the samples concealed.

// concealer is the receive pipeline's concealment state.
type concealer struct {
	plc   *plc.Concealer
	chunk int     // samples per counted chunk (20 ms)
	buf   []int16 // scratch for concealed pieces
}

func newConcealer(rate int) (*concealer, error) {
	c, err := plc.New(rate)
	if err != nil {
		return nil, fmt.Errorf("rtpcall: loss concealment: %w", err)
	}
	chunk := rtpseq.ChunkSamples(rate)
	return &concealer{plc: c, chunk: chunk, buf: make([]int16, chunk)}, nil
}

// fillHole conceals a missing stretch of samples that plays from at (with
// NoAudio, only counts it).
func (r *Receiver) fillHole(at time.Duration, samples int) {
	c := r.conceal
	if r.noAudio {
		r.out.reserve(at, samples)
	}
	// The buffer bounds a hole by its capacity; every piece is one chunk.
	for done := 0; done < samples && !r.noAudio; {
		n := min(samples-done, len(c.buf))
		piece := c.buf[:n]
		c.plc.Conceal(piece)
		r.out.place(at+r.duration(done), piece)
		done += n
	}
	r.stats.Concealed += uint64((samples + c.chunk - 1) / c.chunk)
	r.stats.ConcealedSamples += uint64(samples)
}

// passChunk runs a decoded chunk through the concealer: the units of an
// interleaved chunk (depth units) in holes (bit u: unit u is missing) are
// concealed, the rest is good audio. A hole followed by received audio,
// later in the chunk or at the start of the next chunk (when that is in the
// playout buffer already, as the rest of its interleaving group is), is
// interpolated from both sides (plc.Concealer.ConcealBefore); a hole with
// nothing known after it is extrapolated from the past.
func (r *Receiver) passChunk(pcm []int16, holes uint8, depth int, chunk jitter.Chunk) {
	c := r.conceal
	if chunk.SpurtStart {
		c.plc.Reset()
	}
	if holes == 0 || depth == 0 || len(pcm)%depth != 0 {
		c.plc.Good(pcm)
		return
	}
	unit := len(pcm) / depth
	for u := 0; u < depth; {
		end := u + 1
		for end < depth && holes&(1<<end) != 0 == (holes&(1<<u) != 0) {
			end++
		}
		piece := pcm[u*unit : end*unit]
		switch {
		case holes&(1<<u) == 0:
			c.plc.Good(piece)
		case end < depth:
			next := end + 1 // the good units after the hole
			for next < depth && holes&(1<<next) == 0 {
				next++
			}
			c.plc.ConcealBefore(piece, pcm[end*unit:next*unit])
		default:
			c.plc.ConcealBefore(piece, r.il.audioAfter(chunk.SequenceNumber, chunk.Timestamp))
		}
		u = end
	}
	r.countConcealed(len(pcm), holes, depth)
}

// countConcealed counts what passChunk conceals in a chunk of samples with
// the given holes in depth units.
func (r *Receiver) countConcealed(samples int, holes uint8, depth int) {
	if holes == 0 || depth == 0 || samples%depth != 0 {
		return
	}
	missing := bits.OnesCount8(holes & uint8(1<<depth-1)) // depth is at most 8
	r.stats.ConcealedSamples += uint64(missing * (samples / depth))
	r.stats.Concealed++
}
