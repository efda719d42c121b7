package audio

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ErrTruncated is returned (wrapped) by a WAV reader whose data chunk ends
// before the size its header declares, after all the samples that were there
// have been delivered.
var ErrTruncated = errors.New("WAV data is shorter than its header says (truncated file?)")

// ErrUnsupportedFormat is returned (wrapped) for a WAV file that is not 8 kHz
// mono 16-bit PCM, the only format Spurt reads.
var ErrUnsupportedFormat = errors.New("unsupported WAV format")

// ErrClosed is returned (wrapped) by a Source or Sink used after Close.
var ErrClosed = errors.New("audio: use of closed source or sink")

// convertHint tells the user how to make a file Spurt can read.
const convertHint = "convert it with: sox in.wav -r 8000 -c 1 -b 16 out.wav"

const (
	riffHeaderSize  = 12 // "RIFF", size, "WAVE"
	chunkHeaderSize = 8  // id, size
	wavHeaderSize   = riffHeaderSize + chunkHeaderSize + 16 + chunkHeaderSize
	// fmtChunkMaxUsed is how much of a fmt chunk we look at: the 40 bytes of
	// WAVE_FORMAT_EXTENSIBLE; anything beyond is skipped.
	fmtChunkMaxUsed = 40
	// maxChunksBeforeData bounds the number of chunks skipped looking for data.
	maxChunksBeforeData = 1024
	// unknownSize is the size a streaming writer (ffmpeg) puts in a header it
	// cannot go back and fix: read to the end of the input.
	unknownSize = 0xFFFFFFFF
	// soxStreamingSize is the data size sox writes when its output is a pipe.
	soxStreamingSize = 0x7FFFF000
	// maxDataBytes keeps a file we write within RIFF's 32-bit sizes.
	maxDataBytes = unknownSize - 1 - (wavHeaderSize - chunkHeaderSize)
	// maxFileSamples caps ReadWAVFile (2^27 samples: 4.7 hours, 256 MiB).
	maxFileSamples = 1 << 27

	formatPCM        = 0x0001
	formatExtensible = 0xFFFE
	bytesPerSample   = 2
)

// pcmSubformatTail is bytes 2..15 of every KSDATAFORMAT_SUBTYPE GUID as stored
// in a WAVE_FORMAT_EXTENSIBLE fmt chunk; bytes 0..1 hold the format tag.
var pcmSubformatTail = [14]byte{0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71}

// A WAVReader reads 8 kHz mono 16-bit PCM from a RIFF/WAVE stream. It
// implements Source.
type WAVReader struct {
	r      io.Reader
	closer io.Closer // the file OpenWAV opened; nil for NewWAVReader

	declared  int64 // data chunk size from the header; -1 if unknown
	remaining int64 // data bytes still expected; -1 if unknown (read to EOF)
	consumed  int64 // data bytes read so far
	buf       []byte
	end       error // sticky: io.EOF, a truncation or a read error
	closed    bool
}

// OpenWAV opens a WAV file for reading; see NewWAVReader.
func OpenWAV(path string) (*WAVReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open WAV: %w", err)
	}
	r, err := NewWAVReader(f)
	if err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("open WAV %s: %w", path, err)
	}
	r.closer = f
	return r, nil
}

// NewWAVReader reads the header of a RIFF/WAVE stream and returns a reader
// positioned at its first sample. It accepts PCM (format 1, or
// WAVE_FORMAT_EXTENSIBLE with the PCM subformat) at 8000 Hz, one channel, 16
// bits; anything else is an error wrapping ErrUnsupportedFormat that names the
// format found and how to convert it. Chunks other than fmt and data (LIST,
// fact, ...) are skipped. Closing the reader does not close r.
func NewWAVReader(r io.Reader) (*WAVReader, error) {
	var riff [riffHeaderSize]byte
	if _, err := io.ReadFull(r, riff[:]); err != nil {
		return nil, fmt.Errorf("wav: reading RIFF header: %w", noEOF(err))
	}
	switch id := string(riff[0:4]); id {
	case "RIFF":
	case "RF64", "BW64":
		return nil, fmt.Errorf("wav: %s (64-bit WAV) files are not supported: %w; %s", id, ErrUnsupportedFormat, convertHint)
	default:
		return nil, fmt.Errorf("wav: not a RIFF/WAVE file (it starts with %q)", riff[0:4])
	}
	if form := string(riff[8:12]); form != "WAVE" {
		return nil, fmt.Errorf("wav: RIFF file holds %q, not WAVE", form)
	}
	haveFormat := false
	for range maxChunksBeforeData {
		var hdr [chunkHeaderSize]byte
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, errors.New("wav: no data chunk")
			}
			return nil, fmt.Errorf("wav: reading chunk header: %w", noEOF(err))
		}
		id, size := string(hdr[0:4]), binary.LittleEndian.Uint32(hdr[4:8])
		switch id {
		case "fmt ":
			if err := readFormat(r, size); err != nil {
				return nil, err
			}
			haveFormat = true
		case "data":
			if !haveFormat {
				return nil, errors.New("wav: data chunk comes before the fmt chunk")
			}
			w := &WAVReader{r: r, declared: int64(size), remaining: int64(size)}
			if size == unknownSize || size == soxStreamingSize {
				w.declared, w.remaining = -1, -1
			}
			return w, nil
		default:
			if err := skip(r, int64(size)+int64(size&1)); err != nil {
				return nil, fmt.Errorf("wav: skipping %q chunk of %d bytes: %w", id, size, err)
			}
		}
	}
	return nil, fmt.Errorf("wav: no data chunk among the first %d chunks", maxChunksBeforeData)
}

// readFormat reads a fmt chunk of size bytes and checks it describes 8 kHz
// mono 16-bit PCM.
func readFormat(r io.Reader, size uint32) error {
	if size < 16 {
		return fmt.Errorf("wav: fmt chunk of %d bytes is shorter than the 16 it needs", size)
	}
	var b [fmtChunkMaxUsed]byte
	used := min(size, fmtChunkMaxUsed)
	if _, err := io.ReadFull(r, b[:used]); err != nil {
		return fmt.Errorf("wav: reading fmt chunk: %w", noEOF(err))
	}
	if err := skip(r, int64(size-used)+int64(size&1)); err != nil {
		return fmt.Errorf("wav: reading fmt chunk: %w", err)
	}
	tag := binary.LittleEndian.Uint16(b[0:2])
	channels := binary.LittleEndian.Uint16(b[2:4])
	rate := binary.LittleEndian.Uint32(b[4:8])
	blockAlign := binary.LittleEndian.Uint16(b[12:14])
	bits := binary.LittleEndian.Uint16(b[14:16])
	if tag == formatExtensible {
		// cbSize (16), valid bits (18), channel mask (20), subformat GUID (24).
		if used < fmtChunkMaxUsed || binary.LittleEndian.Uint16(b[16:18]) < 22 {
			return fmt.Errorf("wav: WAVE_FORMAT_EXTENSIBLE fmt chunk of %d bytes is too short for its subformat", size)
		}
		if [14]byte(b[26:40]) != pcmSubformatTail {
			return fmt.Errorf("wav: WAVE_FORMAT_EXTENSIBLE with an unknown subformat GUID: %w; %s", ErrUnsupportedFormat, convertHint)
		}
		tag = binary.LittleEndian.Uint16(b[24:26])
	}
	if tag != formatPCM || rate != SampleRate || channels != 1 || bits != 16 {
		return fmt.Errorf("wav: audio is %s, %s, %d-bit %s but Spurt needs 8000 Hz, mono, 16-bit PCM: %w; %s",
			describeRate(rate), describeChannels(channels), bits, formatName(tag), ErrUnsupportedFormat, convertHint)
	}
	if blockAlign != bytesPerSample {
		return fmt.Errorf("wav: 16-bit mono fmt chunk gives block align %d, not 2", blockAlign)
	}
	return nil
}

func describeRate(rate uint32) string { return fmt.Sprintf("%d Hz", rate) }

func describeChannels(n uint16) string {
	switch n {
	case 1:
		return "mono"
	case 2:
		return "stereo"
	}
	return fmt.Sprintf("%d channels", n)
}

// formatName names the common WAVE format tags.
func formatName(tag uint16) string {
	switch tag {
	case formatPCM:
		return "PCM"
	case 0x0002:
		return "MS ADPCM"
	case 0x0003:
		return "IEEE float"
	case 0x0006:
		return "A-law"
	case 0x0007:
		return "mu-law"
	case 0x0011:
		return "IMA ADPCM"
	case 0x0031:
		return "GSM 6.10"
	case 0x0055:
		return "MP3"
	}
	return fmt.Sprintf("format 0x%04X", tag)
}

// skip discards n bytes of r.
func skip(r io.Reader, n int64) error {
	if n == 0 {
		return nil
	}
	if _, err := io.CopyN(io.Discard, r, n); err != nil {
		return noEOF(err)
	}
	return nil
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF: inside a header, running out
// of input is an error, not a normal end.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Frames reports how many frames of FrameSamples the data chunk holds by its
// header, counting a final partial frame: the number of ReadFrame calls that
// will succeed on a complete file. It is 0 if the header does not tell: a WAV
// written to a pipe, with the data size 0xFFFFFFFF (ffmpeg) or 0x7FFFF000 (sox).
func (w *WAVReader) Frames() int {
	if w.declared < 0 {
		return 0
	}
	samples := w.declared / bytesPerSample
	return int((samples + FrameSamples - 1) / FrameSamples)
}

// Duration reports the length of the audio by the header, or 0 if the header
// does not tell.
func (w *WAVReader) Duration() time.Duration {
	if w.declared < 0 {
		return 0
	}
	return samplesDuration(w.declared / bytesPerSample)
}

func samplesDuration(samples int64) time.Duration {
	return time.Duration(samples) * (time.Second / SampleRate)
}

// ReadFrame fills pcm with the next samples. The last, partial frame is
// zero-padded; the call after it returns io.EOF. If the data ends before the
// header said, the samples that were there are returned first and the next
// call returns an error wrapping ErrTruncated.
func (w *WAVReader) ReadFrame(pcm []int16) error {
	n, err := w.read(pcm)
	if n == 0 {
		return err
	}
	clear(pcm[n:])
	return nil // err, if any, is kept in w.end for the next call
}

// read fills pcm from the data chunk as far as it goes, returning how many
// samples it stored. A non-nil error says the data has ended (io.EOF, or an
// error wrapping ErrTruncated) or could not be read; later calls repeat it.
func (w *WAVReader) read(pcm []int16) (int, error) {
	if w.closed {
		return 0, fmt.Errorf("wav: read: %w", ErrClosed)
	}
	if w.end != nil {
		return 0, w.end
	}
	want := int64(len(pcm)) * bytesPerSample
	if w.remaining >= 0 && want > w.remaining {
		want = w.remaining
	}
	if want == 0 {
		if len(pcm) == 0 {
			return 0, nil
		}
		w.end = io.EOF
		return 0, w.end
	}
	if int64(cap(w.buf)) < want {
		w.buf = make([]byte, want)
	}
	buf := w.buf[:want]
	got, err := io.ReadFull(w.r, buf)
	w.consumed += int64(got)
	if w.remaining >= 0 {
		w.remaining -= int64(got)
	}
	n := got / bytesPerSample
	for i := range n {
		pcm[i] = int16(binary.LittleEndian.Uint16(buf[bytesPerSample*i:]))
	}
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		if w.declared < 0 && got%bytesPerSample == 0 {
			w.end = io.EOF // streamed file: the end of input is the end of data
		} else {
			w.end = w.truncated()
		}
	case err != nil:
		w.end = fmt.Errorf("wav: reading samples: %w", err)
	case w.remaining == 0 && got%bytesPerSample != 0:
		w.end = fmt.Errorf("wav: data chunk size %d is odd, so its last sample is cut: %w", w.declared, ErrTruncated)
	}
	return n, w.end
}

func (w *WAVReader) truncated() error {
	if w.declared < 0 {
		return fmt.Errorf("wav: data ends in the middle of a sample after %d bytes: %w", w.consumed, ErrTruncated)
	}
	return fmt.Errorf("wav: data chunk ends after %d of the %d bytes its header declares (%v of %v): %w",
		w.consumed, w.declared, samplesDuration(w.consumed/bytesPerSample), w.Duration(), ErrTruncated)
}

// Close releases the reader, closing the file if OpenWAV opened it.
func (w *WAVReader) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	if w.closer != nil {
		if err := w.closer.Close(); err != nil {
			return fmt.Errorf("wav: close: %w", err)
		}
	}
	return nil
}

// A WAVWriter writes 8 kHz mono 16-bit PCM as a WAV file. It implements Sink.
// The header always holds true sizes: they start at zero, are brought up to
// date after every second of audio (headerEvery) and at Close, so a file
// left by a killed writer, a full disk or a write error is a valid WAV file
// missing at most the last second from its declared sizes.
type WAVWriter struct {
	w      io.WriteSeeker
	closer io.Closer // the file CreateWAV created; nil for NewWAVWriter

	start         int64 // offset of the RIFF header in w
	headerWritten bool
	dataBytes     int64
	headerBytes   int64 // the data size the header says
	buf           []byte
	size          [4]byte // scratch for a size field, so updating allocates nothing
	err           error   // sticky write error
	closed        bool
}

// CreateWAV creates (or truncates) the file at path and returns a writer for it.
func CreateWAV(path string) (*WAVWriter, error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("create WAV: %w", err)
	}
	w := NewWAVWriter(f)
	w.closer = f
	if err := w.writeHeader(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("create WAV %s: %w", path, err)
	}
	return w, nil
}

// NewWAVWriter returns a writer that puts a WAV file into w from its current
// offset on. Closing the writer fixes up the header but does not close w.
func NewWAVWriter(w io.WriteSeeker) *WAVWriter {
	return &WAVWriter{w: w}
}

func (w *WAVWriter) writeHeader() error {
	if w.headerWritten {
		return nil
	}
	start, err := w.w.Seek(0, io.SeekCurrent)
	if err != nil {
		return fmt.Errorf("wav: finding header offset: %w", err)
	}
	w.start = start
	var h [wavHeaderSize]byte
	copy(h[0:4], "RIFF")
	binary.LittleEndian.PutUint32(h[4:8], wavHeaderSize-chunkHeaderSize) // no data yet
	copy(h[8:12], "WAVE")
	copy(h[12:16], "fmt ")
	binary.LittleEndian.PutUint32(h[16:20], 16)
	binary.LittleEndian.PutUint16(h[20:22], formatPCM)
	binary.LittleEndian.PutUint16(h[22:24], 1) // channels
	binary.LittleEndian.PutUint32(h[24:28], SampleRate)
	binary.LittleEndian.PutUint32(h[28:32], SampleRate*bytesPerSample) // byte rate
	binary.LittleEndian.PutUint16(h[32:34], bytesPerSample)            // block align
	binary.LittleEndian.PutUint16(h[34:36], 16)                        // bits per sample
	copy(h[36:40], "data")
	binary.LittleEndian.PutUint32(h[40:44], 0)
	if _, err := w.w.Write(h[:]); err != nil {
		return fmt.Errorf("wav: writing header: %w", err)
	}
	w.headerWritten = true
	return nil
}

// WriteSamples appends pcm to the file.
func (w *WAVWriter) WriteSamples(pcm []int16) error {
	if w.closed {
		return fmt.Errorf("wav: write: %w", ErrClosed)
	}
	if w.err != nil {
		return w.err
	}
	if err := w.writeHeader(); err != nil {
		w.err = err
		return err
	}
	n := int64(len(pcm)) * bytesPerSample
	if w.dataBytes+n > maxDataBytes {
		return fmt.Errorf("wav: writing %d more samples would pass the 4 GiB limit of a WAV file", len(pcm))
	}
	if int64(cap(w.buf)) < n {
		w.buf = make([]byte, n)
	}
	buf := w.buf[:n]
	for i, s := range pcm {
		binary.LittleEndian.PutUint16(buf[bytesPerSample*i:], uint16(s))
	}
	written, err := w.w.Write(buf)
	w.dataBytes += int64(written)
	if err != nil {
		w.err = fmt.Errorf("wav: writing samples: %w", err)
		return w.err
	}
	if w.dataBytes-w.headerBytes >= headerEvery {
		if err := w.updateSizes(); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}

// headerEvery is how much audio (one second) may be written before the
// header's sizes are brought up to date.
const headerEvery = SampleRate * bytesPerSample

// Close writes the final sizes into the header, leaves w positioned after the
// data and, if CreateWAV opened the file, closes it. After a write error it
// still tries to make the header match the data that was written, and
// returns that error. Closing twice is a no-op.
func (w *WAVWriter) Close() error {
	if w.closed {
		return nil
	}
	w.closed = true
	err := w.err
	if herr := w.finishHeader(); herr != nil && err == nil {
		err = herr
	}
	if w.closer != nil {
		if cerr := w.closer.Close(); cerr != nil {
			err = errors.Join(err, fmt.Errorf("wav: close: %w", cerr))
		}
	}
	return err
}

func (w *WAVWriter) finishHeader() error {
	if err := w.writeHeader(); err != nil {
		return err
	}
	return w.updateSizes()
}

// updateSizes writes the RIFF and data sizes for the data written so far and
// leaves w positioned after the data.
// A write cut short mid-sample declares only the whole samples.
func (w *WAVWriter) updateSizes() error {
	declared := w.dataBytes &^ (bytesPerSample - 1)
	if err := w.putSize(4, uint32(wavHeaderSize-chunkHeaderSize+declared)); err != nil {
		return fmt.Errorf("wav: updating RIFF size: %w", err)
	}
	if err := w.putSize(40, uint32(declared)); err != nil {
		return fmt.Errorf("wav: updating data size: %w", err)
	}
	if _, err := w.w.Seek(w.start+wavHeaderSize+w.dataBytes, io.SeekStart); err != nil {
		return fmt.Errorf("wav: seeking past data: %w", err)
	}
	w.headerBytes = w.dataBytes
	return nil
}

func (w *WAVWriter) putSize(offset int64, value uint32) error {
	binary.LittleEndian.PutUint32(w.size[:], value)
	if _, err := w.w.Seek(w.start+offset, io.SeekStart); err != nil {
		return err
	}
	_, err := w.w.Write(w.size[:])
	return err
}

// ReadWAVFile reads a whole WAV file (see NewWAVReader for the formats it
// takes). If the file is truncated it returns the samples that are there
// together with an error wrapping ErrTruncated.
func ReadWAVFile(path string) ([]int16, error) {
	r, err := OpenWAV(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	hint := int64(0)
	if r.declared > 0 {
		hint = min(r.declared/bytesPerSample, maxFileSamples)
		if f, ok := r.closer.(*os.File); ok {
			if info, err := f.Stat(); err == nil {
				hint = min(hint, info.Size()/bytesPerSample) // a header can lie
			}
		}
	}
	pcm := make([]int16, 0, hint)
	chunk := make([]int16, 4096)
	for range maxFileSamples/len(chunk) + 1 {
		n, err := r.read(chunk)
		pcm = append(pcm, chunk[:n]...)
		if err == io.EOF {
			return pcm, nil
		}
		if err != nil {
			return pcm, fmt.Errorf("read WAV %s: %w", path, err)
		}
	}
	return pcm, fmt.Errorf("read WAV %s: longer than %v, the most ReadWAVFile takes", path, samplesDuration(maxFileSamples))
}

// WriteWAVFile writes pcm to path as an 8 kHz mono 16-bit WAV file.
func WriteWAVFile(path string, pcm []int16) error {
	w, err := CreateWAV(path)
	if err != nil {
		return err
	}
	if err := w.WriteSamples(pcm); err != nil {
		_ = w.Close()
		return fmt.Errorf("write WAV %s: %w", path, err)
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("write WAV %s: %w", path, err)
	}
	return nil
}
