package impair

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseTrace(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		in   string
		want []TraceRow
	}{
		{"basic", "seq,send_ms,recv_ms\n1,0,30\n2,20,\n3,40,61\n",
			[]TraceRow{{Seq: 1, Send: 0, Recv: 30 * ms}, {Seq: 2, Send: 20 * ms, Lost: true}, {Seq: 3, Send: 40 * ms, Recv: 61 * ms}}},
		{"no final newline, CRLF, spaces", "seq, send_ms , recv_ms\r\n 7 , 0.5 , 12.25 \r\n9,0.5,",
			[]TraceRow{{Seq: 7, Send: 500 * time.Microsecond, Recv: 12250 * time.Microsecond}, {Seq: 9, Send: 500 * time.Microsecond, Lost: true}}},
		{"fractions round to the nanosecond", "seq,send_ms,recv_ms\n0,1.00000049,1.0000005\n1,1.5,5.\n",
			[]TraceRow{{Seq: 0, Send: ms, Recv: ms + 1}, {Seq: 1, Send: 1500 * time.Microsecond, Recv: 5 * ms}}},
		{"leading zeros, largest values", "seq,send_ms,recv_ms\n18446744073709551615,0001000000000,1000000000.000000\n",
			[]TraceRow{{Seq: 1<<64 - 1, Send: 1e9 * ms, Recv: 1e9 * ms}}},
		{"many fraction digits", "seq,send_ms,recv_ms\n1,2.1234564999999999999999,2.99999999\n",
			[]TraceRow{{Seq: 1, Send: 2*ms + 123456, Recv: 3 * ms}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			trace, err := ParseTrace(strings.NewReader(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(trace.Rows, tc.want) {
				t.Errorf("rows\n got %+v\nwant %+v", trace.Rows, tc.want)
			}
		})
	}
}

func TestParseTraceRejects(t *testing.T) {
	const h = "seq,send_ms,recv_ms\n"
	tests := []struct {
		name, in, wantInErr string
	}{
		{"empty", "", "empty"},
		{"header only", h, "no packets"},
		{"wrong header", "seq,send,recv\n1,0,1\n", "line 1"},
		{"missing header", "1,0,1\n", "line 1"},
		{"blank line", h + "1,0,1\n\n2,20,21\n", "line 3"},
		{"two fields", h + "1,0\n", "line 2: \"1,0\": want 3 fields"},
		{"four fields", h + "1,0,1,2\n", "want 3 fields"},
		{"negative send", h + "1,-1,1\n", "line 2: send_ms"},
		{"signed seq", h + "+1,0,1\n", "seq"},
		{"exponent", h + "1,1e3,2000\n", "plain decimal"},
		{"hex", h + "1,0x10,20\n", "plain decimal"},
		{"NaN", h + "1,NaN,1\n", "plain decimal"},
		{"two points", h + "1,1.2.3,5\n", "plain decimal"},
		{"lone point", h + "1,.,5\n", "plain decimal"},
		{"empty send", h + "1,,5\n", "send_ms"},
		{"seq overflow", h + "18446744073709551616,0,1\n", "seq"},
		{"time too large", h + "1,1000000000.000001,\n", "above"},
		{"time far too large", h + "1,99999999999999999999,\n", "above"},
		{"recv before send", h + "1,10,9.999\n", "before send_ms"},
		{"seq repeats", h + "1,0,1\n1,20,21\n", "line 3: seq 1 after 1"},
		{"seq decreases", h + "5,0,1\n4,20,21\n", "line 3"},
		{"send goes back", h + "1,20,21\n2,19,30\n", "line 3: send time"},
		{"line too long", h + "1,0," + strings.Repeat("0", 200) + "\n", "line 2: longer than"},
		{"line just too long", h + "1,0," + strings.Repeat("0", maxTraceLine-3) + "\n", "line 2: longer than"},
		{"binary junk", h + "1,0,\x00\n", "recv_ms"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseTrace(strings.NewReader(tc.in))
			if err == nil {
				t.Fatal("got nil error")
			}
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Errorf("error %q does not mention %q", err, tc.wantInErr)
			}
		})
	}
}

// A line of exactly the maximum length is accepted, with or without CR.
func TestParseTraceLongestLine(t *testing.T) {
	line := "1,0," + strings.Repeat("0", maxTraceLine-5) + "1"
	if len(line) != maxTraceLine {
		t.Fatalf("test line is %d bytes", len(line))
	}
	for _, end := range []string{"\n", "\r\n"} {
		for _, last := range []string{end, ""} {
			if _, err := ParseTrace(strings.NewReader(traceHeader + end + line + last)); err != nil {
				t.Errorf("line end %q, last %q: %v", end, last, err)
			}
		}
	}
}

// generatedTrace is an io.Reader producing a header and then rows, each
// indented by pad spaces, without holding them all in memory.
type generatedTrace struct {
	rows, pad int
	next      int
	line      []byte
	pending   []byte
}

func (g *generatedTrace) Read(p []byte) (int, error) {
	for len(g.pending) == 0 {
		if g.next > g.rows {
			return 0, io.EOF
		}
		line := g.line[:0]
		if g.next == 0 {
			line = append(line, traceHeader...)
		} else {
			for range g.pad {
				line = append(line, ' ')
			}
			line = strconv.AppendInt(line, int64(g.next), 10)
			line = strconv.AppendInt(append(line, ','), int64(g.next*20), 10)
			line = strconv.AppendInt(append(line, ','), int64(g.next*20+30), 10)
		}
		g.line = append(line, '\n')
		g.pending = g.line
		g.next++
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	return n, nil
}

func TestParseTraceLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("reads tens of megabytes")
	}
	t.Run("rows", func(t *testing.T) {
		_, err := ParseTrace(&generatedTrace{rows: maxTraceRows + 1})
		if err == nil || !strings.Contains(err.Error(), "more than") {
			t.Errorf("%d rows: error %v, want too many packets", maxTraceRows+1, err)
		}
		trace, err := ParseTrace(&generatedTrace{rows: maxTraceRows})
		if err != nil || len(trace.Rows) != maxTraceRows {
			t.Errorf("%d rows: %v", maxTraceRows, err)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		// Lines of over 100 bytes: the byte limit comes before the row limit.
		rows := maxTraceBytes/100 + 10
		_, err := ParseTrace(&generatedTrace{rows: rows, pad: 100})
		if err == nil || !strings.Contains(err.Error(), "larger than") {
			t.Errorf("%d long rows: error %v, want too large", rows, err)
		}
	})
}

// errReader fails after its data.
type errReader struct{ data io.Reader }

var errBroken = errors.New("broken pipe")

func (e errReader) Read(p []byte) (int, error) {
	n, err := e.data.Read(p)
	if err == io.EOF {
		return n, errBroken
	}
	return n, err
}

func TestParseTraceReadError(t *testing.T) {
	_, err := ParseTrace(errReader{strings.NewReader(traceHeader + "\n1,0,1\n")})
	if !errors.Is(err, errBroken) {
		t.Errorf("error %v, want one wrapping %v", err, errBroken)
	}
}

// Rows drawn from a bursty, jittery path, with fractional times, survive
// WriteTrace then ParseTrace exactly.
func TestTraceRoundTrip(t *testing.T) {
	s, err := ScenarioByName("wifi")
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.Build(11)
	if err != nil {
		t.Fatal(err)
	}
	p.Clock = Clock{} // a trace's clocks are aligned
	rows := make([]TraceRow, 0, 5000)
	for i := range 5000 {
		send := time.Duration(i)*20*time.Millisecond + time.Duration(i%7)*1234 // sub-millisecond parts
		row := TraceRow{Seq: uint64(3 * i), Send: send, Lost: true}
		if at, ok := p.Send(send); ok {
			row.Recv, row.Lost = at, false
		}
		rows = append(rows, row)
	}
	var buf bytes.Buffer
	if err := WriteTrace(&buf, rows); err != nil {
		t.Fatal(err)
	}
	text := buf.String()
	if !strings.HasPrefix(text, traceHeader+"\n0,0,") {
		t.Errorf("trace starts %q", text[:40])
	}
	trace, err := ParseTrace(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(trace.Rows, rows) {
		for i := range rows {
			if trace.Rows[i] != rows[i] {
				t.Fatalf("row %d: read back %+v, wrote %+v", i, trace.Rows[i], rows[i])
			}
		}
		t.Fatalf("read back %d rows, wrote %d", len(trace.Rows), len(rows))
	}
}

func TestAppendMillis(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0"}, {20 * time.Millisecond, "20"}, {20*time.Millisecond + 500*time.Microsecond, "20.5"},
		{1, "0.000001"}, {time.Millisecond + 10, "1.00001"}, {1e9 * time.Millisecond, "1000000000"},
	}
	for _, tc := range tests {
		if got := string(appendMillis(nil, tc.d)); got != tc.want {
			t.Errorf("appendMillis(%d ns) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestWriteTraceRejects(t *testing.T) {
	ms := time.Millisecond
	tests := []struct {
		name string
		rows []TraceRow
	}{
		{"no rows", nil},
		{"negative send", []TraceRow{{Seq: 1, Send: -ms, Lost: true}}},
		{"recv before send", []TraceRow{{Seq: 1, Send: 5 * ms, Recv: 4 * ms}}},
		{"recv too large", []TraceRow{{Seq: 1, Send: 0, Recv: 2e9 * ms}}},
		{"seq not increasing", []TraceRow{{Seq: 2, Lost: true}, {Seq: 2, Lost: true}}},
		{"send decreasing", []TraceRow{{Seq: 1, Send: ms, Lost: true}, {Seq: 2, Lost: true}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			err := WriteTrace(&buf, tc.rows)
			if err == nil {
				t.Fatal("got nil error")
			}
			if buf.Len() != 0 {
				t.Errorf("wrote %q despite the error", buf.String())
			}
			t.Log(err)
		})
	}
	// A lost row's Recv is not written, so it need not be valid.
	if err := WriteTrace(io.Discard, []TraceRow{{Seq: 1, Send: ms, Recv: -ms, Lost: true}}); err != nil {
		t.Errorf("lost row with junk Recv: %v", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errBroken }

func TestWriteTraceWriteError(t *testing.T) {
	if err := WriteTrace(failingWriter{}, []TraceRow{{Seq: 1, Lost: true}}); !errors.Is(err, errBroken) {
		t.Errorf("error %v, want one wrapping %v", err, errBroken)
	}
}

func TestTraceReplay(t *testing.T) {
	ms := time.Millisecond
	trace := &Trace{Rows: []TraceRow{
		{Seq: 1, Send: 0, Lost: true}, // before any delivery: delay 0
		{Seq: 2, Send: 20 * ms, Recv: 50 * ms},
		{Seq: 3, Send: 40 * ms, Lost: true}, // keeps the previous delay
		{Seq: 4, Send: 60 * ms, Recv: 105 * ms},
	}}
	type fate struct {
		lost  bool
		delay time.Duration
	}
	first := []fate{{true, 0}, {false, 30 * ms}, {true, 30 * ms}, {false, 45 * ms}}
	for _, tc := range []struct {
		loop bool
		then []fate // the next four packets
	}{
		{true, []fate{{true, 45 * ms}, {false, 30 * ms}, {true, 30 * ms}, {false, 45 * ms}}},
		{false, []fate{{true, 45 * ms}, {true, 45 * ms}, {true, 45 * ms}, {true, 45 * ms}}},
	} {
		replay, err := NewTraceReplay(trace, tc.loop)
		if err != nil {
			t.Fatal(err)
		}
		trace.Rows[1].Recv = time.Hour // the replay has its own copy
		for i, want := range append(append([]fate(nil), first...), tc.then...) {
			lost, delay := replay.Lost(), replay.Delay()
			if lost != want.lost || delay != want.delay {
				t.Errorf("loop %v, packet %d: lost %v delay %v, want %v %v", tc.loop, i, lost, delay, want.lost, want.delay)
			}
		}
		trace.Rows[1].Recv = 50 * ms
	}
}

// Through a Path, a replay reproduces the trace's arrivals for packets sent
// at the trace's own send times.
func TestTraceReplayThroughPath(t *testing.T) {
	in := "seq,send_ms,recv_ms\n1,0,31.5\n2,20,\n3,40,95\n4,60,80.000001\n"
	trace, err := ParseTrace(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	replay, err := NewTraceReplay(trace, false)
	if err != nil {
		t.Fatal(err)
	}
	p := Path{Loss: replay, Delay: replay}
	for _, row := range trace.Rows {
		at, ok := p.Send(row.Send)
		if ok == row.Lost || (ok && at != row.Recv) {
			t.Errorf("seq %d: Send = %v, %v; trace says recv %v, lost %v", row.Seq, at, ok, row.Recv, row.Lost)
		}
	}
	if _, ok := p.Send(time.Second); ok {
		t.Error("packet after the end of a non-looping trace was delivered")
	}
}

func TestNewTraceReplayRejects(t *testing.T) {
	if _, err := NewTraceReplay(nil, false); err == nil {
		t.Error("nil trace: got nil error")
	}
	if _, err := NewTraceReplay(&Trace{}, true); err == nil {
		t.Error("empty trace: got nil error")
	}
	bad := &Trace{Rows: []TraceRow{{Seq: 1, Send: time.Second, Recv: 0}}}
	if _, err := NewTraceReplay(bad, true); err == nil {
		t.Error("recv before send: got nil error")
	}
}

// FuzzParseTrace checks that no input panics and that every trace accepted
// is well formed and survives WriteTrace and ParseTrace unchanged.
func FuzzParseTrace(f *testing.F) {
	f.Add("seq,send_ms,recv_ms\n1,0,30\n2,20,\n3,40,61\n")
	f.Add("seq, send_ms , recv_ms\r\n 7 , 0.5 , 12.25 \r\n9,0.5,")
	f.Add("seq,send_ms,recv_ms\n0,1.0000005,1.00000049\n")
	f.Add("seq,send_ms,recv_ms\n1,1e3,\n")
	f.Add("seq,send_ms,recv_ms\n18446744073709551615,1000000000,1000000000\n")
	f.Add("seq,send_ms,recv_ms\n1,20,21\n2,19,30\n")
	f.Fuzz(func(t *testing.T, in string) {
		trace, err := ParseTrace(strings.NewReader(in))
		if err != nil {
			if trace != nil {
				t.Fatal("non-nil trace with an error")
			}
			return
		}
		if err := checkTrace(trace.Rows); err != nil {
			t.Fatalf("accepted an invalid trace: %v", err)
		}
		var buf bytes.Buffer
		if err := WriteTrace(&buf, trace.Rows); err != nil {
			t.Fatalf("WriteTrace of a parsed trace: %v", err)
		}
		again, err := ParseTrace(&buf)
		if err != nil {
			t.Fatalf("re-reading %q: %v", buf.String(), err)
		}
		if !reflect.DeepEqual(again.Rows, trace.Rows) {
			t.Fatalf("round trip changed the rows:\n%+v\n%+v", trace.Rows, again.Rows)
		}
	})
}
