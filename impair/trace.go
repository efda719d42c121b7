package impair

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Limits on a trace, so that a hostile file cannot exhaust memory.
const (
	maxTraceRows   = 1 << 20  // about 5.8 hours of 20 ms packets
	maxTraceBytes  = 32 << 20 // whole file
	maxTraceLine   = 128      // bytes per line, without the line break
	maxTraceMillis = 1e9      // largest time in a trace, about 11.6 days
)

// traceHeader is the first line of every trace file.
const traceHeader = "seq,send_ms,recv_ms"

// TraceRow is one packet of a recorded trace.
type TraceRow struct {
	Seq  uint64        // packet counter (not the 16-bit RTP field); increases strictly
	Send time.Duration // send time on the sender's clock; never decreases
	Recv time.Duration // arrival time on a clock aligned with Send; ignored if Lost
	Lost bool
}

// Delay returns the one-way delay of a delivered packet, Recv − Send.
func (r TraceRow) Delay() time.Duration { return r.Recv - r.Send }

// Trace is a recorded sequence of packets, in send order, read by ParseTrace
// and written by WriteTrace.
type Trace struct {
	Rows []TraceRow
}

// ParseTrace reads a trace in CSV form: the header line
//
//	seq,send_ms,recv_ms
//
// then one line per packet in send order. seq is a decimal packet counter that
// increases strictly; send_ms and recv_ms are times in milliseconds, as plain
// decimals with any number of fractional digits (rounded to the nanosecond;
// no signs or exponents), from 0 to 10⁹. send_ms never decreases; recv_ms is
// empty for a lost packet and otherwise not before send_ms, so the two clocks
// must already be aligned. Spaces around fields and CRLF line ends are
// accepted; blank lines are not.
//
// A trace holds at least one and at most 2²⁰ packets, in at most 32 MiB, with
// lines of at most 128 bytes. Errors name the offending line.
func ParseTrace(r io.Reader) (*Trace, error) {
	limited := &io.LimitedReader{R: r, N: maxTraceBytes + 1}
	tooLarge := func() bool { return limited.N <= 0 }
	scanner := bufio.NewScanner(limited)
	// The buffer's capacity is also the longest line the scanner accepts;
	// leave room for "\r\n".
	scanner.Buffer(make([]byte, 0, maxTraceLine+2), maxTraceLine+2)
	var rows []TraceRow
	line := 0
	for scanner.Scan() {
		line++
		text := scanner.Text() // without "\n" or "\r\n"
		if len(text) > maxTraceLine {
			return nil, fmt.Errorf("impair: trace line %d: longer than %d bytes", line, maxTraceLine)
		}
		if line == 1 {
			if err := checkTraceHeader(text); err != nil {
				return nil, err
			}
			continue
		}
		if len(rows) == maxTraceRows {
			return nil, fmt.Errorf("impair: trace line %d: more than %d packets", line, maxTraceRows)
		}
		row, err := parseTraceRow(text)
		if err == nil && len(rows) > 0 {
			err = checkTraceOrder(rows[len(rows)-1], row)
		}
		if err != nil {
			if tooLarge() {
				break
			}
			return nil, fmt.Errorf("impair: trace line %d: %w", line, err)
		}
		rows = append(rows, row)
	}
	if tooLarge() {
		return nil, fmt.Errorf("impair: trace larger than %d bytes", maxTraceBytes)
	}
	if err := scanner.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("impair: trace line %d: longer than %d bytes", line+1, maxTraceLine)
		}
		return nil, fmt.Errorf("impair: reading trace: %w", err)
	}
	if line == 0 {
		return nil, fmt.Errorf("impair: trace is empty: want the header %q", traceHeader)
	}
	if len(rows) == 0 {
		return nil, errors.New("impair: trace has a header but no packets")
	}
	return &Trace{Rows: rows}, nil
}

func checkTraceHeader(text string) error {
	fields := strings.Split(text, ",")
	for i := range fields {
		fields[i] = strings.TrimSpace(fields[i])
	}
	if strings.Join(fields, ",") != traceHeader {
		return fmt.Errorf("impair: trace line 1: header %q, want %q", text, traceHeader)
	}
	return nil
}

// parseTraceRow parses one packet line; the caller adds the line number.
func parseTraceRow(text string) (TraceRow, error) {
	seqText, rest, ok1 := strings.Cut(text, ",")
	sendText, recvText, ok2 := strings.Cut(rest, ",")
	if !ok1 || !ok2 || strings.Contains(recvText, ",") {
		return TraceRow{}, fmt.Errorf("%q: want 3 fields, seq,send_ms,recv_ms", text)
	}
	seqText, sendText, recvText = strings.TrimSpace(seqText), strings.TrimSpace(sendText), strings.TrimSpace(recvText)
	var row TraceRow
	if !isDigits(seqText) {
		return TraceRow{}, fmt.Errorf("seq %q: want a non-negative integer", seqText)
	}
	seq, err := strconv.ParseUint(seqText, 10, 64)
	if err != nil {
		return TraceRow{}, fmt.Errorf("seq %q: %w", seqText, err)
	}
	row.Seq = seq
	if row.Send, err = parseMillis(sendText); err != nil {
		return TraceRow{}, fmt.Errorf("send_ms: %w", err)
	}
	if recvText == "" {
		row.Lost = true
		return row, nil
	}
	if row.Recv, err = parseMillis(recvText); err != nil {
		return TraceRow{}, fmt.Errorf("recv_ms: %w", err)
	}
	if row.Recv < row.Send {
		return TraceRow{}, fmt.Errorf("recv_ms %s is before send_ms %s: align the clocks first", recvText, sendText)
	}
	return row, nil
}

// checkTraceRow checks one row on its own.
func checkTraceRow(row TraceRow) error {
	for _, t := range []struct {
		name  string
		value time.Duration
		used  bool
	}{{"send", row.Send, true}, {"recv", row.Recv, !row.Lost}} {
		if t.used && (t.value < 0 || t.value > maxTraceMillis*time.Millisecond) {
			return fmt.Errorf("%s time %v: must be in [0, %v]", t.name, t.value, maxTraceMillis*time.Millisecond)
		}
	}
	if !row.Lost && row.Recv < row.Send {
		return fmt.Errorf("recv time %v is before send time %v", row.Recv, row.Send)
	}
	return nil
}

// checkTraceOrder checks that row may follow prev.
func checkTraceOrder(prev, row TraceRow) error {
	if row.Seq <= prev.Seq {
		return fmt.Errorf("seq %d after %d: must increase", row.Seq, prev.Seq)
	}
	if row.Send < prev.Send {
		return fmt.Errorf("send time %v after %v: must not decrease", row.Send, prev.Send)
	}
	return nil
}

// checkTrace checks a whole trace built in memory, with row numbers from 1.
func checkTrace(rows []TraceRow) error {
	if len(rows) == 0 {
		return errors.New("no packets")
	}
	if len(rows) > maxTraceRows {
		return fmt.Errorf("%d packets: more than %d", len(rows), maxTraceRows)
	}
	for i, row := range rows {
		err := checkTraceRow(row)
		if err == nil && i > 0 {
			err = checkTraceOrder(rows[i-1], row)
		}
		if err != nil {
			return fmt.Errorf("row %d: %w", i+1, err)
		}
	}
	return nil
}

// parseMillis parses a plain decimal number of milliseconds, rounding to the
// nearest nanosecond (halves up).
func parseMillis(s string) (time.Duration, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" || !isDigits(whole) || !isDigits(frac) {
		return 0, fmt.Errorf("%q: want milliseconds as a plain decimal such as 20 or 20.125", s)
	}
	whole = strings.TrimLeft(whole, "0")
	if len(whole) > 10 { // more than 10 digits is certainly above maxTraceMillis
		return 0, fmt.Errorf("%q: above %v ms", s, int64(maxTraceMillis))
	}
	var ms int64
	for i := range len(whole) {
		ms = ms*10 + int64(whole[i]-'0')
	}
	var ns int64
	for i := range min(len(frac), 7) {
		digit := int64(frac[i] - '0')
		if i == 6 {
			if digit >= 5 {
				ns++
			}
			break
		}
		ns = ns*10 + digit
	}
	for i := len(frac); i < 6; i++ {
		ns *= 10
	}
	d := time.Duration(ms)*time.Millisecond + time.Duration(ns)
	if d > maxTraceMillis*time.Millisecond {
		return 0, fmt.Errorf("%q: above %v ms", s, int64(maxTraceMillis))
	}
	return d, nil
}

// isDigits reports whether s is only ASCII digits (true for "").
func isDigits(s string) bool {
	for i := range len(s) {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// appendMillis appends d, which must not be negative, as exact decimal
// milliseconds without trailing zeros: 20ms → "20", 20.5ms → "20.5".
func appendMillis(buf []byte, d time.Duration) []byte {
	buf = strconv.AppendInt(buf, int64(d/time.Millisecond), 10)
	ns := int64(d % time.Millisecond)
	if ns == 0 {
		return buf
	}
	var frac [6]byte
	for i := 5; i >= 0; i-- {
		frac[i] = byte('0' + ns%10)
		ns /= 10
	}
	digits := frac[:]
	for digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	return append(append(buf, '.'), digits...)
}

// WriteTrace writes rows as a trace that ParseTrace reads back unchanged:
// the header, then one line per row with times as exact decimal
// milliseconds. It rejects, without writing anything, rows that ParseTrace
// would reject (none, too many, out of order, negative or too-large times,
// or delivered before sent).
func WriteTrace(w io.Writer, rows []TraceRow) error {
	if err := checkTrace(rows); err != nil {
		return fmt.Errorf("impair: writing trace: %w", err)
	}
	out := bufio.NewWriter(w)
	line := make([]byte, 0, maxTraceLine)
	line = append(append(line, traceHeader...), '\n')
	for _, row := range rows {
		line = strconv.AppendUint(line, row.Seq, 10)
		line = appendMillis(append(line, ','), row.Send)
		line = append(line, ',')
		if !row.Lost {
			line = appendMillis(line, row.Recv)
		}
		line = append(line, '\n')
		if _, err := out.Write(line); err != nil {
			return fmt.Errorf("impair: writing trace: %w", err)
		}
		line = line[:0]
	}
	if err := out.Flush(); err != nil {
		return fmt.Errorf("impair: writing trace: %w", err)
	}
	return nil
}

// TraceReplay replays a trace's loss and delay, packet by packet in order,
// ignoring its send times: packet n sent through the Path is lost if row n
// was lost and otherwise delayed by row n's Recv − Send. It is both a
// LossModel and a DelayModel; Lost and Delay each keep their own place in the
// trace, so one TraceReplay can serve as both Path.Loss and Path.Delay (Path
// calls each once per packet) or as just one of them.
//
// When the trace runs out, a looping replay starts again from its first row;
// otherwise every further packet is lost and Delay keeps returning the last
// delay it returned, because the trace says nothing about those packets.
// For a lost row Delay returns the delay of the last delivered row before it
// (zero before any), so a delay-only replay does not dip at losses.
type TraceReplay struct {
	rows      []TraceRow
	loop      bool
	lossNext  int
	delayNext int
	lastDelay time.Duration
}

// NewTraceReplay returns a replay of t, looping if loop is set. The rows are
// checked as WriteTrace checks them and copied, so t may change afterwards.
func NewTraceReplay(t *Trace, loop bool) (*TraceReplay, error) {
	if t == nil {
		return nil, errors.New("impair: trace replay: nil trace")
	}
	if err := checkTrace(t.Rows); err != nil {
		return nil, fmt.Errorf("impair: trace replay: %w", err)
	}
	return &TraceReplay{rows: append([]TraceRow(nil), t.Rows...), loop: loop}, nil
}

// Lost reports whether the next packet is lost.
func (r *TraceReplay) Lost() bool {
	if r.lossNext == len(r.rows) {
		if !r.loop {
			return true
		}
		r.lossNext = 0
	}
	row := r.rows[r.lossNext]
	r.lossNext++
	return row.Lost
}

// Delay returns the delay of the next packet.
func (r *TraceReplay) Delay() time.Duration {
	if r.delayNext == len(r.rows) {
		if !r.loop {
			return r.lastDelay
		}
		r.delayNext = 0
	}
	row := r.rows[r.delayNext]
	r.delayNext++
	if !row.Lost {
		r.lastDelay = row.Delay()
	}
	return r.lastDelay
}
