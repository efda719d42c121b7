package audio

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// chunk is one RIFF chunk for building test files.
type chunk struct {
	id   string
	body []byte
	size uint32 // header size; 0 means len(body)
}

func riffFile(chunks ...chunk) []byte {
	var b bytes.Buffer
	b.WriteString("RIFF")
	b.Write([]byte{0, 0, 0, 0})
	b.WriteString("WAVE")
	for _, c := range chunks {
		b.WriteString(c.id)
		size := c.size
		if size == 0 {
			size = uint32(len(c.body))
		}
		_ = binary.Write(&b, binary.LittleEndian, size)
		b.Write(c.body)
		if len(c.body)%2 == 1 && c.size == 0 {
			b.WriteByte(0) // RIFF pads odd chunks
		}
	}
	out := b.Bytes()
	binary.LittleEndian.PutUint32(out[4:], uint32(len(out)-8))
	return out
}

func fmtPCM(tag, channels uint16, rate uint32, bits uint16) chunk {
	body := make([]byte, 16)
	blockAlign := channels * bits / 8
	binary.LittleEndian.PutUint16(body[0:], tag)
	binary.LittleEndian.PutUint16(body[2:], channels)
	binary.LittleEndian.PutUint32(body[4:], rate)
	binary.LittleEndian.PutUint32(body[8:], rate*uint32(blockAlign))
	binary.LittleEndian.PutUint16(body[12:], blockAlign)
	binary.LittleEndian.PutUint16(body[14:], bits)
	return chunk{id: "fmt ", body: body}
}

func fmtExtensible(subformat uint16, channels uint16, rate uint32, bits uint16) chunk {
	c := fmtPCM(formatExtensible, channels, rate, bits)
	ext := make([]byte, 24)
	binary.LittleEndian.PutUint16(ext[0:], 22)   // cbSize
	binary.LittleEndian.PutUint16(ext[2:], bits) // valid bits
	binary.LittleEndian.PutUint32(ext[4:], 0x4)  // front centre
	binary.LittleEndian.PutUint16(ext[8:], subformat)
	copy(ext[10:], pcmSubformatTail[:])
	c.body = append(c.body, ext...)
	return c
}

func pcmBytes(pcm []int16) []byte {
	b := make([]byte, 0, 2*len(pcm))
	for _, s := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	return b
}

func ramp(n int) []int16 {
	pcm := make([]int16, n)
	for i := range pcm {
		pcm[i] = int16(i*37 - 20000)
	}
	return pcm
}

// readAll reads a Source frame by frame until it stops, bounded by maxFrames.
func readAll(t *testing.T, src Source, maxFrames int) (pcm []int16, frames int, err error) {
	t.Helper()
	frame := make([]int16, FrameSamples)
	for range maxFrames {
		if err := src.ReadFrame(frame); err != nil {
			return pcm, frames, err
		}
		frames++
		pcm = append(pcm, frame...)
	}
	t.Fatalf("source still producing after %d frames", maxFrames)
	return nil, 0, nil
}

func TestWAVReaderAccepts(t *testing.T) {
	samples := ramp(400) // 2.5 frames
	data := chunk{id: "data", body: pcmBytes(samples)}
	list := chunk{id: "LIST", body: []byte("INFOISFT\x05\x00\x00\x00spurt")} // odd length: padded
	tests := []struct {
		name string
		file []byte
	}{
		{"plain PCM", riffFile(fmtPCM(1, 1, 8000, 16), data)},
		{"extensible PCM", riffFile(fmtExtensible(1, 1, 8000, 16), data)},
		{"odd LIST chunk before fmt", riffFile(list, fmtPCM(1, 1, 8000, 16), data)},
		{"chunks between fmt and data", riffFile(fmtPCM(1, 1, 8000, 16), chunk{id: "fact", body: []byte{1, 2, 3, 4}}, list, data)},
		{"fmt with cbSize", riffFile(chunk{id: "fmt ", body: append(fmtPCM(1, 1, 8000, 16).body, 0, 0)}, data)},
		{"trailing chunk after data", riffFile(fmtPCM(1, 1, 8000, 16), data, list)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewWAVReader(bytes.NewReader(tt.file))
			if err != nil {
				t.Fatalf("NewWAVReader: %v", err)
			}
			if got, want := r.Frames(), 3; got != want {
				t.Errorf("Frames() = %d, want %d", got, want)
			}
			if got, want := r.Duration(), 50*time.Millisecond; got != want {
				t.Errorf("Duration() = %v, want %v", got, want)
			}
			got, frames, err := readAll(t, r, 10)
			if err != io.EOF {
				t.Fatalf("after %d frames: %v, want io.EOF", frames, err)
			}
			if frames != 3 {
				t.Errorf("read %d frames, want 3", frames)
			}
			if !slices.Equal(got[:len(samples)], samples) {
				t.Error("samples differ from the file's")
			}
			if slices.ContainsFunc(got[len(samples):], func(s int16) bool { return s != 0 }) {
				t.Error("last frame is not zero-padded")
			}
			if err := r.ReadFrame(make([]int16, FrameSamples)); err != io.EOF {
				t.Errorf("read after EOF: %v", err)
			}
			if err := r.Close(); err != nil {
				t.Error(err)
			}
			if err := r.ReadFrame(make([]int16, FrameSamples)); !errors.Is(err, ErrClosed) {
				t.Errorf("read after Close: %v, want ErrClosed", err)
			}
		})
	}
}

func TestWAVReaderRejects(t *testing.T) {
	data := chunk{id: "data", body: pcmBytes(ramp(10))}
	tests := []struct {
		name        string
		file        []byte
		unsupported bool     // wraps ErrUnsupportedFormat with the sox hint
		want        []string // in the message
	}{
		{"44.1 kHz stereo", riffFile(fmtPCM(1, 2, 44100, 16), data), true, []string{"44100 Hz", "stereo", "sox in.wav -r 8000 -c 1 -b 16 out.wav"}},
		{"16 kHz", riffFile(fmtPCM(1, 1, 16000, 16), data), true, []string{"16000 Hz", "mono"}},
		{"8-bit", riffFile(fmtPCM(1, 1, 8000, 8), data), true, []string{"8-bit"}},
		{"24-bit", riffFile(fmtPCM(1, 1, 8000, 24), data), true, []string{"24-bit"}},
		{"float", riffFile(fmtPCM(3, 1, 8000, 32), data), true, []string{"IEEE float"}},
		{"mu-law WAV", riffFile(fmtPCM(7, 1, 8000, 8), data), true, []string{"mu-law"}},
		{"extensible float", riffFile(fmtExtensible(3, 1, 8000, 32), data), true, []string{"IEEE float"}},
		{"extensible unknown GUID", func() []byte {
			c := fmtExtensible(1, 1, 8000, 16)
			c.body[len(c.body)-1] ^= 0xFF
			return riffFile(c, data)
		}(), true, []string{"subformat"}},
		{"extensible too short", riffFile(chunk{id: "fmt ", body: fmtExtensible(1, 1, 8000, 16).body[:30]}, data), false, []string{"too short"}},
		{"RF64", append([]byte("RF64"), riffFile(fmtPCM(1, 1, 8000, 16), data)[4:]...), true, []string{"RF64"}},
		{"not RIFF", []byte("OggS\x00\x02\x00\x00\x00\x00\x00\x00\x00\x00"), false, []string{"not a RIFF/WAVE"}},
		{"RIFF AVI", append([]byte("RIFF\x04\x00\x00\x00AVI "), 0), false, []string{"AVI"}},
		{"empty", nil, false, []string{"RIFF header", "unexpected EOF"}},
		{"header only", riffFile(), false, []string{"no data chunk"}},
		{"data before fmt", riffFile(data, fmtPCM(1, 1, 8000, 16)), false, []string{"before the fmt"}},
		{"short fmt", riffFile(chunk{id: "fmt ", body: make([]byte, 14)}, data), false, []string{"shorter than the 16"}},
		{"bad block align", func() []byte {
			c := fmtPCM(1, 1, 8000, 16)
			c.body[12] = 4
			return riffFile(c, data)
		}(), false, []string{"block align 4"}},
		{"huge LIST chunk", riffFile(chunk{id: "LIST", body: []byte("abcd"), size: 0xFFFFFFF0}), false, []string{"LIST", "unexpected EOF"}},
		{"huge fmt chunk", riffFile(chunk{id: "fmt ", body: fmtPCM(1, 1, 8000, 16).body, size: 0x7FFFFFFF}), false, []string{"fmt chunk", "unexpected EOF"}},
		{"cut in chunk header", riffFile(fmtPCM(1, 1, 8000, 16))[:40], false, []string{"chunk header"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewWAVReader(bytes.NewReader(tt.file))
			if err == nil {
				t.Fatalf("NewWAVReader accepted it: %+v", r)
			}
			if got := errors.Is(err, ErrUnsupportedFormat); got != tt.unsupported {
				t.Errorf("errors.Is(%q, ErrUnsupportedFormat) = %v, want %v", err, got, tt.unsupported)
			}
			if tt.unsupported && !strings.Contains(err.Error(), convertHint) {
				t.Errorf("error %q lacks the conversion hint", err)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestWAVReaderTruncated(t *testing.T) {
	samples := ramp(500)
	full := riffFile(fmtPCM(1, 1, 8000, 16), chunk{id: "data", body: pcmBytes(samples)})
	tests := []struct {
		name      string
		file      []byte
		wantRead  int // samples delivered before the error
		truncated bool
	}{
		{"cut mid-frame", full[:44+2*250], 250, true},
		{"cut on frame boundary", full[:44+2*320], 320, true},
		{"cut mid-sample", full[:44+2*100+1], 100, true},
		{"cut right after header", full[:44], 0, true},
		{"odd data size", riffFile(fmtPCM(1, 1, 8000, 16), chunk{id: "data", body: pcmBytes(samples)[:201]}), 100, true},
		{"streamed, unknown size", riffFile(fmtPCM(1, 1, 8000, 16), chunk{id: "data", body: pcmBytes(samples), size: 0xFFFFFFFF}), 500, false},
		{"streamed, cut mid-sample", riffFile(fmtPCM(1, 1, 8000, 16), chunk{id: "data", body: pcmBytes(samples)[:999], size: 0xFFFFFFFF})[:44+999], 499, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewWAVReader(bytes.NewReader(tt.file))
			if err != nil {
				t.Fatalf("NewWAVReader: %v", err)
			}
			got, frames, err := readAll(t, r, 10)
			if wantFrames := (tt.wantRead + FrameSamples - 1) / FrameSamples; frames != wantFrames {
				t.Errorf("got %d frames, want %d", frames, wantFrames)
			}
			if len(got) < tt.wantRead || !slices.Equal(got[:tt.wantRead], samples[:tt.wantRead]) {
				t.Errorf("delivered samples differ from the %d in the file", tt.wantRead)
			}
			if tt.truncated {
				if !errors.Is(err, ErrTruncated) {
					t.Fatalf("end error = %v, want ErrTruncated", err)
				}
				if err2 := r.ReadFrame(make([]int16, FrameSamples)); !errors.Is(err2, ErrTruncated) {
					t.Errorf("error not repeated: %v", err2)
				}
			} else if err != io.EOF {
				t.Errorf("end error = %v, want io.EOF", err)
			}
		})
	}
}

func TestWAVFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, n := range []int{0, 1, 159, 160, 161, 8000} {
		path := filepath.Join(dir, "rt.wav")
		pcm := ramp(n)
		if err := WriteWAVFile(path, pcm); err != nil {
			t.Fatal(err)
		}
		info, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() != int64(44+2*n) {
			t.Errorf("%d samples: file is %d bytes, want %d", n, info.Size(), 44+2*n)
		}
		got, err := ReadWAVFile(path)
		if err != nil {
			t.Fatalf("%d samples: %v", n, err)
		}
		if !slices.Equal(got, pcm) {
			t.Errorf("%d samples: read back %d differing samples", n, len(got))
		}
		r, err := OpenWAV(path)
		if err != nil {
			t.Fatal(err)
		}
		if want := samplesDuration(int64(n)); r.Duration() != want {
			t.Errorf("%d samples: Duration %v, want %v", n, r.Duration(), want)
		}
		if err := r.Close(); err != nil {
			t.Error(err)
		}
	}
}

func TestReadWAVFileTruncated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cut.wav")
	pcm := ramp(1000)
	if err := WriteWAVFile(path, pcm); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 44+2*600); err != nil {
		t.Fatal(err)
	}
	got, err := ReadWAVFile(path)
	if !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), path) {
		t.Errorf("error = %v, want ErrTruncated naming the file", err)
	}
	if !slices.Equal(got, pcm[:600]) {
		t.Errorf("got %d samples, want the 600 that are there", len(got))
	}
}

func TestOpenWAVErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := OpenWAV(filepath.Join(dir, "missing.wav")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "stereo.wav")
	if err := os.WriteFile(bad, riffFile(fmtPCM(1, 2, 48000, 16), chunk{id: "data", body: make([]byte, 8)}), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := ReadWAVFile(bad)
	if !errors.Is(err, ErrUnsupportedFormat) || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), "48000 Hz") {
		t.Errorf("stereo file: %v", err)
	}
	if _, err := CreateWAV(filepath.Join(dir, "no", "such", "dir.wav")); err == nil {
		t.Error("CreateWAV in a missing directory succeeded")
	}
}

// seekBuffer is an in-memory io.WriteSeeker.
type seekBuffer struct {
	b   []byte
	pos int
}

func (s *seekBuffer) Write(p []byte) (int, error) {
	if need := s.pos + len(p); need > len(s.b) {
		s.b = slices.Grow(s.b, need-len(s.b))[:need]
	}
	s.pos += copy(s.b[s.pos:], p)
	return len(p), nil
}

func (s *seekBuffer) Seek(offset int64, whence int) (int64, error) {
	switch whence {
	case io.SeekStart:
	case io.SeekCurrent:
		offset += int64(s.pos)
	case io.SeekEnd:
		offset += int64(len(s.b))
	}
	if offset < 0 {
		return 0, errors.New("negative position")
	}
	s.pos = int(offset)
	return offset, nil
}

func TestWAVWriterAtOffsetAndAfterClose(t *testing.T) {
	buf := &seekBuffer{}
	_, _ = buf.Write([]byte("prefix"))
	w := NewWAVWriter(buf)
	pcm := ramp(300)
	for i := 0; i < len(pcm); i += 100 {
		if err := w.WriteSamples(pcm[i : i+100]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.WriteSamples(pcm); !errors.Is(err, ErrClosed) {
		t.Errorf("write after Close: %v, want ErrClosed", err)
	}
	if buf.pos != len(buf.b) {
		t.Errorf("writer left at %d, not after the data at %d", buf.pos, len(buf.b))
	}
	if string(buf.b[:6]) != "prefix" {
		t.Fatal("prefix overwritten")
	}
	file := buf.b[6:]
	if got := binary.LittleEndian.Uint32(file[4:]); got != uint32(len(file)-8) {
		t.Errorf("RIFF size %d, want %d", got, len(file)-8)
	}
	r, err := NewWAVReader(bytes.NewReader(file))
	if err != nil {
		t.Fatal(err)
	}
	got, _, err := readAll(t, r, 10)
	if err != io.EOF || !slices.Equal(got[:300], pcm) {
		t.Errorf("read back: %v", err)
	}
}

// TestWAVWriterUnclosedFileIsValid: a file whose writer never closed it (as
// after kill -9) parses, and its header's sizes cover all but at most the
// last second of what was written, never the "unknown" 0xFFFFFFFF.
func TestWAVWriterUnclosedFileIsValid(t *testing.T) {
	for _, samples := range []int{0, 100, SampleRate, SampleRate + 160, 5*SampleRate/2 + 7} {
		path := filepath.Join(t.TempDir(), "unclosed.wav")
		w, err := CreateWAV(path)
		if err != nil {
			t.Fatal(err)
		}
		pcm := ramp(samples)
		for i := 0; i < len(pcm); i += FrameSamples {
			if err := w.WriteSamples(pcm[i:min(i+FrameSamples, len(pcm))]); err != nil {
				t.Fatal(err)
			}
		}
		// No Close: the process is gone.
		file, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		dataSize := binary.LittleEndian.Uint32(file[40:])
		riffSize := binary.LittleEndian.Uint32(file[4:])
		written := int64(len(file) - wavHeaderSize)
		if int64(dataSize) > written || written-int64(dataSize) >= headerEvery || riffSize != dataSize+wavHeaderSize-chunkHeaderSize {
			t.Errorf("%d samples unclosed: RIFF size %#x, data size %#x for %d bytes of data", samples, riffSize, dataSize, written)
		}
		got, err := ReadWAVFile(path)
		if err != nil || len(got) != int(dataSize)/bytesPerSample || !slices.Equal(got, pcm[:len(got)]) {
			t.Errorf("%d samples unclosed: read %d samples, err %v; want the %d the header declares", samples, len(got), err, dataSize/bytesPerSample)
		}
		_ = w.Close()
		if got, err := ReadWAVFile(path); err != nil || !slices.Equal(got, pcm) {
			t.Errorf("%d samples closed: read %d samples, err %v", samples, len(got), err)
		}
	}
}

// failingWriter is a seekBuffer whose data writes fail once it holds limit
// bytes, as a full disk would; writes that overwrite (the header) succeed.
type failingWriter struct {
	seekBuffer
	limit int
}

func (f *failingWriter) Write(p []byte) (int, error) {
	if room := f.limit - f.pos; len(p) > room {
		n, _ := f.seekBuffer.Write(p[:max(room, 0)])
		return n, errors.New("no space left on device")
	}
	return f.seekBuffer.Write(p)
}

// TestWAVWriterErrorKeepsHeaderTrue: after a failed write (a full disk), Close
// reports the error and leaves a header whose sizes match the whole samples
// that reached the file.
func TestWAVWriterErrorKeepsHeaderTrue(t *testing.T) {
	buf := &failingWriter{limit: wavHeaderSize + 1001} // 500 samples and half of one
	w := NewWAVWriter(buf)
	pcm := ramp(FrameSamples)
	var werr error
	for range 10 {
		if werr = w.WriteSamples(pcm); werr != nil {
			break
		}
	}
	if werr == nil {
		t.Fatal("writes past the limit succeeded")
	}
	if err := w.Close(); err == nil {
		t.Error("Close after a write error returned nil")
	}
	if got := binary.LittleEndian.Uint32(buf.b[40:]); got != 1000 {
		t.Errorf("data size %d after the error, want the 1000 bytes of whole samples written", got)
	}
	r, err := NewWAVReader(bytes.NewReader(buf.b))
	if err != nil {
		t.Fatal(err)
	}
	if r.Frames() != (500+FrameSamples-1)/FrameSamples || r.Duration() != 500*time.Second/SampleRate {
		t.Errorf("Frames %d, Duration %v; want the 500 samples written", r.Frames(), r.Duration())
	}
}

func TestWAVFrameReadAndWriteDoNotAllocate(t *testing.T) {
	buf := &seekBuffer{b: make([]byte, 0, 1<<20)}
	w := NewWAVWriter(buf)
	frame := ramp(FrameSamples)
	_ = w.WriteSamples(frame) // first write sizes the buffer
	if allocs := testing.AllocsPerRun(200, func() { _ = w.WriteSamples(frame) }); allocs != 0 {
		t.Errorf("WriteSamples: %v allocations per frame", allocs)
	}
	_ = w.Close()
	r, err := NewWAVReader(bytes.NewReader(buf.b))
	if err != nil {
		t.Fatal(err)
	}
	_ = r.ReadFrame(frame)
	if allocs := testing.AllocsPerRun(200, func() {
		if err := r.ReadFrame(frame); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("ReadFrame: %v allocations per frame", allocs)
	}
}

// endlessSamples reads as an endless run of the same little-endian sample.
type endlessSamples struct{}

func (endlessSamples) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(i % 2) // sample 0x0100
	}
	return len(p), nil
}

func BenchmarkWAVReadFrame(b *testing.B) {
	header := riffFile(fmtPCM(1, 1, 8000, 16), chunk{id: "data", size: 0xFFFFFFFF})
	r, err := NewWAVReader(io.MultiReader(bytes.NewReader(header), endlessSamples{}))
	if err != nil {
		b.Fatal(err)
	}
	frame := make([]int16, FrameSamples)
	b.ReportAllocs()
	b.SetBytes(2 * FrameSamples)
	for b.Loop() {
		if err := r.ReadFrame(frame); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWAVWriteFrame(b *testing.B) {
	buf := &seekBuffer{b: make([]byte, 0, 64<<20)}
	w := NewWAVWriter(buf)
	frame := ramp(FrameSamples)
	b.ReportAllocs()
	b.SetBytes(2 * FrameSamples)
	for b.Loop() {
		if buf.pos > 60<<20 {
			buf.pos = 100
		}
		_ = w.WriteSamples(frame)
	}
}

func FuzzNewWAVReader(f *testing.F) {
	good := riffFile(fmtPCM(1, 1, 8000, 16), chunk{id: "data", body: pcmBytes(ramp(300))})
	f.Add(good)
	f.Add(good[:50])
	f.Add(riffFile(chunk{id: "LIST", body: []byte("odd")}, fmtExtensible(1, 1, 8000, 16), chunk{id: "data", body: pcmBytes(ramp(3)), size: 0xFFFFFFFF}))
	f.Add(riffFile(fmtPCM(1, 2, 44100, 16), chunk{id: "data", body: make([]byte, 10)}))
	f.Fuzz(func(t *testing.T, file []byte) {
		r, err := NewWAVReader(bytes.NewReader(file))
		if err != nil {
			if r != nil {
				t.Fatal("reader returned with an error")
			}
			return
		}
		if r.Frames() < 0 || r.Duration() < 0 {
			t.Fatalf("Frames %d Duration %v", r.Frames(), r.Duration())
		}
		frame := make([]int16, FrameSamples)
		maxFrames := len(file)/(2*FrameSamples) + 2
		for range maxFrames + 1 {
			if err := r.ReadFrame(frame); err != nil {
				if err != io.EOF && !errors.Is(err, ErrTruncated) {
					t.Fatalf("unexpected end error %v", err)
				}
				return
			}
		}
		t.Fatalf("more than %d frames from a %d-byte file", maxFrames, len(file))
	})
}
