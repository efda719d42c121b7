package signaling

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func TestKindString(t *testing.T) {
	tests := []struct {
		k    Kind
		want string
	}{
		{KindOffer, "OFFER"}, {KindAnswer, "ANSWER"}, {KindBye, "BYE"}, {KindError, "ERROR"},
		{0, "Kind(0)"}, {9, "Kind(9)"},
	}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", uint8(tt.k), got, tt.want)
		}
	}
}

func TestFrameRoundTrip(t *testing.T) {
	messages := []Message{
		{Kind: KindOffer, Body: []byte("v=0\r\n")},
		{Kind: KindAnswer, Body: bytes.Repeat([]byte{'a'}, MaxMessageSize)},
		{Kind: KindBye, Body: []byte{}},
		{Kind: KindError, Body: []byte("no common codec\nsecond line")},
	}
	var stream []byte
	for _, m := range messages {
		var err error
		if stream, err = appendMessage(stream, m); err != nil {
			t.Fatalf("appendMessage(%v): %v", m.Kind, err)
		}
	}
	if !bytes.HasPrefix(stream, []byte("SPURT/1 OFFER 5\nv=0\r\n")) {
		t.Errorf("stream starts %q", stream[:20])
	}
	r := bufio.NewReader(bytes.NewReader(stream))
	for _, want := range messages {
		got, err := readMessage(r)
		if err != nil {
			t.Fatalf("readMessage: %v", err)
		}
		if got.Kind != want.Kind || !bytes.Equal(got.Body, want.Body) {
			t.Errorf("got %v %d bytes, want %v %d bytes", got.Kind, len(got.Body), want.Kind, len(want.Body))
		}
	}
	if _, err := readMessage(r); !errors.Is(err, io.EOF) {
		t.Errorf("after the last message: %v, want io.EOF", err)
	}
}

func TestAppendMessageRejects(t *testing.T) {
	for _, m := range []Message{
		{Kind: 0},
		{Kind: 5},
		{Kind: KindOffer, Body: make([]byte, MaxMessageSize+1)},
	} {
		if out, err := appendMessage(nil, m); err == nil {
			t.Errorf("appendMessage(%v, %d bytes) = %q, want error", m.Kind, len(m.Body), out)
		}
	}
}

func TestReadMessageRejects(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		wantErr error
	}{
		{"empty", "", io.EOF},
		{"wrong magic", "HTTP/1.1 200 OK\n", ErrMalformed},
		{"wrong version", "SPURT/2 OFFER 0\n", ErrMalformed},
		{"lower-case kind", "SPURT/1 offer 0\n", ErrMalformed},
		{"unknown kind", "SPURT/1 HELLO 0\n", ErrMalformed},
		{"no length", "SPURT/1 BYE\n", ErrMalformed},
		{"empty length", "SPURT/1 BYE \n", ErrMalformed},
		{"non-numeric length", "SPURT/1 OFFER abc\n", ErrMalformed},
		{"negative length", "SPURT/1 OFFER -1\n", ErrMalformed},
		{"plus sign", "SPURT/1 OFFER +1\nx", ErrMalformed},
		{"leading zero", "SPURT/1 OFFER 01\nx", ErrMalformed},
		{"two spaces", "SPURT/1  OFFER 1\nx", ErrMalformed},
		{"trailing space", "SPURT/1 OFFER 1 \nx", ErrMalformed},
		{"CRLF", "SPURT/1 OFFER 1\r\nx", ErrMalformed},
		{"oversized length", "SPURT/1 OFFER " + strconv.Itoa(MaxMessageSize+1) + "\n", ErrMalformed},
		{"huge length", "SPURT/1 OFFER 99999999999999999999\n", ErrMalformed},
		{"header too long", "SPURT/1 OFFER " + strings.Repeat("1", 40) + "\n", ErrMalformed},
		{"endless line", strings.Repeat("A", 10_000), ErrMalformed},
		{"cut in header", "SPURT/1 OFF", io.ErrUnexpectedEOF},
		{"cut in body", "SPURT/1 OFFER 10\nabc", io.ErrUnexpectedEOF},
		{"cut before body", "SPURT/1 OFFER 10\n", io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := readMessage(bufio.NewReader(strings.NewReader(tt.in)))
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("readMessage = %v, %v; want error %v", m.Kind, err, tt.wantErr)
			}
			if tt.wantErr != io.EOF && errors.Is(err, io.EOF) {
				t.Errorf("garbage reported as a clean hang-up: %v", err)
			}
		})
	}
}

// TestReadMessageAllocations checks that framing allocates nothing but the
// body, and that a rejected header costs no more than its error value: a
// claimed length is never allocated before it has been checked.
func TestReadMessageAllocations(t *testing.T) {
	tests := []struct {
		name     string
		in       []byte
		allocs   float64 // exact allocation count, or -1 to check only bytes
		maxBytes uint64  // per message
	}{
		{"offer", append([]byte("SPURT/1 OFFER 300\n"), make([]byte, 300)...), 1, 300 + 64},
		{"bye", []byte("SPURT/1 BYE 0\n"), 0, 0},
		{"oversized", []byte("SPURT/1 OFFER 65537\n"), -1, 1024},
		{"garbage", []byte("GET / HTTP/1.1\r\n"), -1, 1024},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := bytes.NewReader(tt.in)
			r := bufio.NewReader(src)
			read := func() {
				src.Reset(tt.in)
				r.Reset(src)
				_, _ = readMessage(r)
			}
			if tt.allocs >= 0 {
				if got := testing.AllocsPerRun(100, read); got != tt.allocs {
					t.Errorf("%v allocations per message, want %v", got, tt.allocs)
				}
			}
			const runs = 100
			read() // warm up
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			for range runs {
				read()
			}
			runtime.ReadMemStats(&after)
			if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > tt.maxBytes {
				t.Errorf("%d bytes allocated per message, want at most %d", perRun, tt.maxBytes)
			}
		})
	}
	var buf []byte
	m := Message{Kind: KindAnswer, Body: make([]byte, 500)}
	buf, _ = appendMessage(buf, m)
	if got := testing.AllocsPerRun(100, func() { buf, _ = appendMessage(buf[:0], m) }); got != 0 {
		t.Errorf("appendMessage into a reused buffer: %v allocations, want 0", got)
	}
}

func FuzzReadMessage(f *testing.F) {
	seed, _ := appendMessage(nil, Message{Kind: KindOffer, Body: []byte("v=0\r\n")})
	seed, _ = appendMessage(seed, Message{Kind: KindBye})
	f.Add(seed)
	f.Add([]byte("SPURT/1 ERROR 3\nbad"))
	f.Add([]byte("SPURT/1 ANSWER 65536\n"))
	f.Add([]byte("SPURT/1 OFFER 65537\n"))
	f.Add([]byte("SPURT/1 OFFER 0012\n"))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		src := bytes.NewReader(data)
		r := bufio.NewReader(src)
		consumed := 0
		for range len(data) + 1 { // each message consumes at least one byte
			m, err := readMessage(r)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrMalformed) {
					t.Fatalf("unexpected error class: %v", err)
				}
				if errors.Is(err, io.EOF) && consumed != len(data) {
					t.Fatalf("clean EOF reported after %d of %d bytes", consumed, len(data))
				}
				return
			}
			if !m.Kind.valid() || len(m.Body) > MaxMessageSize || cap(m.Body) > MaxMessageSize {
				t.Fatalf("accepted %v with %d bytes (cap %d)", m.Kind, len(m.Body), cap(m.Body))
			}
			// The bytes consumed must be exactly the canonical framing of m.
			frame, err := appendMessage(nil, m)
			if err != nil {
				t.Fatalf("accepted message does not re-encode: %v", err)
			}
			end := len(data) - src.Len() - r.Buffered()
			if !bytes.Equal(data[consumed:end], frame) {
				t.Fatalf("consumed %q, canonical framing is %q", data[consumed:end], frame)
			}
			consumed = end
		}
		t.Fatalf("more messages than bytes")
	})
}

func BenchmarkReadMessage(b *testing.B) {
	in, _ := appendMessage(nil, Message{Kind: KindOffer, Body: make([]byte, 300)})
	src := bytes.NewReader(in)
	r := bufio.NewReader(src)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		src.Reset(in)
		r.Reset(src)
		if _, err := readMessage(r); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendMessage(b *testing.B) {
	m := Message{Kind: KindOffer, Body: make([]byte, 300)}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = appendMessage(buf[:0], m)
	}
}
