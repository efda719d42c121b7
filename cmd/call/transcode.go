package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/codec/gsm"
)

const transcodeUsage = `Usage:
  call transcode --to gsm [--raw] IN.wav OUT.gsm     encode speech to GSM 06.10
  call transcode --from gsm [--raw] IN.gsm OUT.wav   decode GSM 06.10 to speech

A .gsm file is a plain sequence of 33-byte GSM 06.10 frames, as libgsm's toast
writes them; the encoder zero-pads a final partial frame as toast does. Speech
is 8 kHz mono 16-bit: a WAV file, or with --raw headerless little-endian
samples (what toast -l and untoast -l use on a little-endian machine).

Damaged input is handled as toast -l -c and untoast -l -c handle it, with the
same output, and a warning on stderr: a trailing odd byte of raw input (half a
sample) is dropped, and so is a final partial frame of a .gsm file; a frame
with a bad signature stops the decoding, the output keeping the frames before
it. Exit status: 0 when everything but such a trailing fragment was converted;
1 when a bad frame stopped the decoding (the output is kept), or on any other
error (no output is left behind); 2 for a usage error.

Options:
`

// frameDuration is the speech in one GSM frame.
const frameDuration = gsm.FrameSamples * time.Second / audio.SampleRate

// transcode implements `call transcode`: converting speech files to and from
// GSM 06.10, bit-exact with libgsm's toast and untoast.
func transcode(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("call transcode", flag.ContinueOnError)
	fs.SetOutput(stderr)
	to := fs.String("to", "", "encode the input with this codec (`gsm`)")
	from := fs.String("from", "", "decode the input from this codec (`gsm`)")
	raw := fs.Bool("raw", false, "speech is raw 16-bit little-endian 8 kHz mono samples, not WAV")
	verbose := fs.Bool("v", false, "print what was converted")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), transcodeUsage)
		fs.PrintDefaults()
	}
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if (*to == "") == (*from == "") {
		return usageError{errors.New("transcode needs exactly one of --to gsm (encode) or --from gsm (decode)")}
	}
	encode, option, name := true, "--to", *to
	if *from != "" {
		encode, option, name = false, "--from", *from
	}
	if !strings.EqualFold(name, "gsm") {
		return usageError{fmt.Errorf("%s %q: transcode supports only gsm", option, name)}
	}
	if len(pos) != 2 {
		return usageError{fmt.Errorf("transcode takes an input and an output file, got %d arguments", len(pos))}
	}
	in, out := pos[0], pos[1]
	if err := checkDistinct(in, out); err != nil {
		return err
	}

	convert, verb := encodeGSM, "encoded"
	if !encode {
		convert, verb = decodeGSM, "decoded"
	}
	warn := func(msg string) { fmt.Fprintf(stderr, "call transcode: warning: %s\n", msg) }
	frames, err := writeOutput(out, func(w io.Writer) (int, error) { return convert(in, *raw, w, warn) })
	if err != nil {
		return err
	}
	if *verbose {
		fmt.Fprintf(stdout, "%s %d GSM 06.10 frames (%v of speech): %s -> %s\n",
			verb, frames, time.Duration(frames)*frameDuration, in, out)
	}
	return nil
}

// checkDistinct refuses to write over the input, which creating the output
// would truncate before it was read.
func checkDistinct(in, out string) error {
	inInfo, err := os.Stat(in)
	if err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	if outInfo, err := os.Stat(out); err == nil && os.SameFile(inInfo, outInfo) {
		return usageError{fmt.Errorf("transcode: input and output are the same file %s", in)}
	}
	return nil
}

// writeOutput creates the file at path and lets produce fill it; if produce
// fails, the incomplete file is removed, unless it failed with a
// stoppedError, after which the output holds what untoast would write.
func writeOutput(path string, produce func(io.Writer) (int, error)) (frames int, err error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("transcode: %w", err)
	}
	frames, err = produce(f)
	if cerr := f.Close(); cerr != nil && (err == nil || errors.As(err, new(stoppedError))) {
		err = fmt.Errorf("transcode: writing %s: %w", path, cerr)
	}
	if err != nil && !errors.As(err, new(stoppedError)) {
		_ = os.Remove(path)
		return 0, err
	}
	return frames, err
}

// stoppedError reports input that stopped the conversion part way, the
// output holding everything before it (as untoast leaves it).
type stoppedError struct{ err error }

func (s stoppedError) Error() string { return s.err.Error() }
func (s stoppedError) Unwrap() error { return s.err }

// frameSource yields 160-sample frames of speech, zero-padding the last one;
// it returns io.EOF at the end.
type frameSource interface {
	ReadFrame(pcm []int16) error
}

// encodeGSM codes the speech in path (WAV, or raw with raw) into GSM frames
// written to w, returning how many frames it wrote.
func encodeGSM(path string, raw bool, w io.Writer, warn func(string)) (int, error) {
	var src frameSource
	if raw {
		f, err := os.Open(path)
		if err != nil {
			return 0, fmt.Errorf("transcode: %w", err)
		}
		defer f.Close()
		rr := &rawReader{r: bufio.NewReader(f)}
		defer func() {
			if rr.oddByte {
				warn(fmt.Sprintf("%s ends in half a sample (an odd number of bytes, %d): its last byte was dropped, as toast drops it",
					path, rr.bytes))
			}
		}()
		src = rr
	} else {
		wav, err := audio.OpenWAV(path)
		if err != nil {
			return 0, fmt.Errorf("transcode: %w", err)
		}
		defer wav.Close()
		src = wav
	}
	enc := gsm.NewEncoder()
	bw := bufio.NewWriter(w)
	pcm := make([]int16, gsm.FrameSamples)
	frame := make([]byte, 0, gsm.FrameSize)
	frames := 0
	for {
		err := src.ReadFrame(pcm)
		if err == io.EOF {
			break
		}
		if err != nil {
			return frames, fmt.Errorf("transcode: %s: %w", path, err)
		}
		if frame, err = enc.Encode(frame[:0], pcm); err != nil {
			return frames, fmt.Errorf("transcode: %w", err)
		}
		if _, err := bw.Write(frame); err != nil {
			return frames, fmt.Errorf("transcode: writing: %w", err)
		}
		frames++
	}
	if err := bw.Flush(); err != nil {
		return frames, fmt.Errorf("transcode: writing: %w", err)
	}
	return frames, nil
}

// rawReader reads headerless 16-bit little-endian samples as frames,
// zero-padding the last partial frame and dropping a trailing odd byte (half
// a sample), as toast does; oddByte records that it did.
type rawReader struct {
	r       io.Reader
	buf     [2 * gsm.FrameSamples]byte
	end     bool
	oddByte bool
	bytes   int64 // read so far
}

func (r *rawReader) ReadFrame(pcm []int16) error {
	if r.end {
		return io.EOF
	}
	n, err := io.ReadFull(r.r, r.buf[:2*len(pcm)])
	r.bytes += int64(n)
	switch {
	case err == io.EOF:
		return io.EOF
	case err == io.ErrUnexpectedEOF:
		r.end = true
		if n%2 != 0 {
			r.oddByte = true
			n--
		}
		if n == 0 {
			return io.EOF
		}
	case err != nil:
		return fmt.Errorf("reading raw samples: %w", err)
	}
	for i := range pcm {
		pcm[i] = 0
		if 2*i+1 < n {
			pcm[i] = int16(binary.LittleEndian.Uint16(r.buf[2*i:]))
		}
	}
	return nil
}

// frameSink takes decoded speech.
type frameSink interface {
	WriteSamples(pcm []int16) error
}

// decodeGSM decodes the GSM frames in path into speech written to w (WAV,
// or raw with raw), returning how many frames it decoded. A final partial
// frame is dropped with a warning; a frame with a bad signature stops the
// decoding with a stoppedError, the output finished with the frames before
// it. Both as untoast does.
func decodeGSM(path string, raw bool, w io.Writer, warn func(string)) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("transcode: %w", err)
	}
	defer f.Close()
	var sink frameSink
	var finish func() error
	if raw {
		rw := &rawWriter{w: bufio.NewWriter(w)}
		sink, finish = rw, rw.w.Flush
	} else {
		ws, ok := w.(io.WriteSeeker)
		if !ok {
			return 0, errors.New("transcode: a WAV output must be a seekable file")
		}
		wav := audio.NewWAVWriter(ws)
		sink, finish = wav, wav.Close
	}
	dec := gsm.NewDecoder()
	r := bufio.NewReader(f)
	frame := make([]byte, gsm.FrameSize)
	pcm := make([]int16, 0, gsm.FrameSamples)
	frames := 0
	var stopped error
	for {
		n, err := io.ReadFull(r, frame)
		if err == io.EOF {
			break
		}
		if err == io.ErrUnexpectedEOF {
			warn(fmt.Sprintf("%s is truncated: it ends %d bytes into frame %d (frames are %d bytes); those %d bytes were dropped, as untoast drops them",
				path, n, frames, gsm.FrameSize, n))
			break
		}
		if err != nil {
			return frames, fmt.Errorf("transcode: reading %s: %w", path, err)
		}
		if pcm, err = dec.Decode(pcm[:0], frame); err != nil {
			if errors.Is(err, gsm.ErrMalformedFrame) {
				// A whole frame can be malformed only by its signature;
				// say where it is in the file, not in the payload.
				stopped = stoppedError{fmt.Errorf("transcode: %s: frame %d (byte offset %d) has signature 0x%X, not 0xD: %w; "+
					"decoding stopped there, as untoast stops, and the output holds the %d frames before it",
					path, frames, frames*gsm.FrameSize, frame[0]>>4, gsm.ErrMalformedFrame, frames)}
				break
			}
			return frames, fmt.Errorf("transcode: %s: frame %d: %w", path, frames, err)
		}
		if err := sink.WriteSamples(pcm); err != nil {
			return frames, fmt.Errorf("transcode: writing: %w", err)
		}
		frames++
	}
	if err := finish(); err != nil {
		return frames, fmt.Errorf("transcode: writing: %w", err)
	}
	return frames, stopped
}

// rawWriter writes samples as headerless 16-bit little-endian.
type rawWriter struct {
	w   *bufio.Writer
	buf [2 * gsm.FrameSamples]byte
}

func (r *rawWriter) WriteSamples(pcm []int16) error {
	b := r.buf[:0]
	for _, s := range pcm {
		b = binary.LittleEndian.AppendUint16(b, uint16(s))
	}
	_, err := r.w.Write(b)
	return err
}
