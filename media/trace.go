package media

import (
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/spurtvoip/spurt/internal/rtpseq"
	"io"
	"time"

	"github.com/spurtvoip/spurt/impair"
)

// maxTraceRows is the most packets a TraceRecorder keeps: the trace loader's
// own limit (impair.ParseTrace), about 5.8 hours of 20 ms packets.
const maxTraceRows = 1 << 20

// TraceRecorder records the received direction of a live call as a network
// trace that `call bench --trace` replays (impair.ParseTrace's format):
//
//	seq,send_ms,recv_ms
//
// seq counts the peer's RTP packets from 0 (the first received), unwrapping
// the 16-bit sequence number. send_ms is the packet's RTP timestamp in
// milliseconds after the first received packet's: the sender's media clock,
// which runs with its capture clock. recv_ms is the arrival on our clock in
// milliseconds after the first arrival, plus the least constant that makes
// no packet arrive before it was sent; so recv_ms − send_ms is each packet's
// one-way delay above the fastest packet's (the true one-way delay needs
// synchronised clocks, which a call does not have). Packets never received
// between the first and the last are rows with an empty recv_ms, their
// send_ms interpolated from their neighbours'. Only the first copy of a
// duplicate counts; packets from before the first one received are not
// recorded.
//
// Set it as Config.Trace; Run records into it from the receive path, and
// WriteTrace writes it once the call is over. It is not safe for concurrent
// use.
type TraceRecorder struct {
	rate     int
	started  bool
	ssrc     uint32
	pt       uint8
	firstSeq uint16
	firstTS  uint32
	highest  int64           // extended sequence number of the newest packet, from 0
	arrival  []time.Duration // by extended sequence number; -1 not received
	ticks    []int64         // RTP timestamp minus the first's, by extended sequence number
	skipped  uint64
}

// NewTraceRecorder returns a recorder for a stream with RTP timestamps at
// clockRate Hz.
func NewTraceRecorder(clockRate int) (*TraceRecorder, error) {
	if clockRate <= 0 {
		return nil, fmt.Errorf("rtpcall: trace recorder: clock rate %d Hz", clockRate)
	}
	return &TraceRecorder{rate: clockRate}, nil
}

// Record notes that the RTP packet seq, with timestamp ts, arrived at the
// given time on the receiver's clock.
func (t *TraceRecorder) Record(seq uint16, ts uint32, arrival time.Duration) {
	if !t.started {
		t.started, t.firstSeq, t.firstTS = true, seq, ts
	}
	x := rtpseq.NearSeq(t.highest, seq-t.firstSeq)
	if x < 0 || x >= maxTraceRows {
		t.skipped++
		return
	}
	for int64(len(t.arrival)) <= x {
		t.arrival = append(t.arrival, -1)
		t.ticks = append(t.ticks, 0)
	}
	t.highest = max(t.highest, x)
	if t.arrival[x] >= 0 {
		return // a duplicate
	}
	t.arrival[x] = arrival
	t.ticks[x] = int64(int32(ts - t.firstTS))
}

// RecordDatagram records a datagram the session accepted as RTP of the peer's
// stream: the first one fixes the SSRC and payload type it records (so that
// FEC packets in another payload type are left out).
func (t *TraceRecorder) RecordDatagram(b []byte, arrival time.Duration) {
	if len(b) < 12 || b[0]>>6 != 2 {
		return
	}
	pt, ssrc := b[1]&0x7f, binary.BigEndian.Uint32(b[8:12])
	if !t.started {
		t.pt, t.ssrc = pt, ssrc
	} else if pt != t.pt || ssrc != t.ssrc {
		return
	}
	t.Record(binary.BigEndian.Uint16(b[2:4]), binary.BigEndian.Uint32(b[4:8]), arrival)
}

// Rows returns the trace recorded so far.
func (t *TraceRecorder) Rows() []impair.TraceRow {
	if !t.started {
		return nil
	}
	n := int(t.highest) + 1
	rows := make([]impair.TraceRow, n)
	first := t.arrival[0]
	var lead time.Duration
	prev := -1 // the last received row
	for i := range n {
		rows[i].Seq = uint64(i)
		if t.arrival[i] < 0 {
			rows[i].Lost = true
			continue
		}
		rows[i].Send = time.Duration(t.ticks[i]) * time.Second / time.Duration(t.rate)
		if prev >= 0 {
			rows[i].Send = max(rows[i].Send, rows[prev].Send) // a sender whose timestamps go back
			// Fill the losses in between by interpolation.
			for k := prev + 1; k < i; k++ {
				span := rows[i].Send - rows[prev].Send
				rows[k].Send = rows[prev].Send + span*time.Duration(k-prev)/time.Duration(i-prev)
			}
		}
		prev = i
		rows[i].Recv = t.arrival[i] - first
		lead = max(lead, rows[i].Send-rows[i].Recv)
	}
	for i := range rows {
		if !rows[i].Lost {
			rows[i].Recv += lead
		}
	}
	return rows
}

// WriteTrace writes the trace in the CSV form impair.ParseTrace reads.
func (t *TraceRecorder) WriteTrace(w io.Writer) error {
	rows := t.Rows()
	if len(rows) == 0 {
		return errors.New("rtpcall: no RTP packet was received to trace")
	}
	if err := impair.WriteTrace(w, rows); err != nil {
		return fmt.Errorf("rtpcall: writing the trace: %w", err)
	}
	return nil
}
