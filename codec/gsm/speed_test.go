package gsm

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/internal/testtool"
)

// filterEnv makes this test binary act as a toast -l -c look-alike
// ("encode": raw host-order samples on stdin, GSM frames on stdout) or an
// untoast -l -c one ("decode"). The speed comparison runs it so that both
// sides are timed as whole processes.
const filterEnv = "SPURT_GSM_FILTER"

func TestMain(m *testing.M) {
	filter := map[string]func(io.Reader, io.Writer) error{"encode": encodeFilter, "decode": decodeFilter}[os.Getenv(filterEnv)]
	if filter != nil {
		if err := filter(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// decodeFilter decodes whole frames from r to raw host-order samples on w.
func decodeFilter(r io.Reader, w io.Writer) error {
	const chunkFrames = 64
	in := bufio.NewReaderSize(r, 1<<16)
	out := bufio.NewWriterSize(w, 1<<16)
	dec := NewDecoder()
	frames := make([]byte, chunkFrames*FrameSize)
	pcm := make([]int16, 0, chunkFrames*FrameSamples)
	raw := make([]byte, 0, 2*chunkFrames*FrameSamples)
	for {
		n, err := io.ReadFull(in, frames)
		if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
			return err
		}
		whole := n / FrameSize * FrameSize
		if pcm, err = dec.Decode(pcm[:0], frames[:whole]); err != nil {
			return err
		}
		raw = raw[:0]
		for _, v := range pcm {
			raw = binary.NativeEndian.AppendUint16(raw, uint16(v))
		}
		if _, err := out.Write(raw); err != nil {
			return err
		}
		if n < len(frames) {
			break
		}
	}
	return out.Flush()
}

// encodeFilter encodes raw samples from r to frames on w, zero-padding a
// final partial frame as toast does.
func encodeFilter(r io.Reader, w io.Writer) error {
	const chunkFrames = 64
	in := bufio.NewReaderSize(r, 1<<16)
	out := bufio.NewWriterSize(w, 1<<16)
	enc := NewEncoder()
	raw := make([]byte, 2*chunkFrames*FrameSamples)
	pcm := make([]int16, chunkFrames*FrameSamples)
	frames := make([]byte, 0, chunkFrames*FrameSize)
	for {
		n, err := io.ReadFull(in, raw)
		if err == io.EOF {
			break
		}
		if err != nil && err != io.ErrUnexpectedEOF {
			return err
		}
		samples := n / 2
		for i := range samples {
			pcm[i] = int16(binary.NativeEndian.Uint16(raw[2*i:]))
		}
		whole := (samples + FrameSamples - 1) / FrameSamples * FrameSamples
		clear(pcm[samples:whole])
		if frames, err = enc.Encode(frames[:0], pcm[:whole]); err != nil {
			return err
		}
		if _, err := out.Write(frames); err != nil {
			return err
		}
		if samples < len(pcm) {
			break
		}
	}
	return out.Flush()
}

// BenchmarkTenMinutesVersusLibgsm times toast -l -c against this package's
// encoder, and untoast -l -c against its decoder, each as a whole process
// reading and writing files, on the same ten minutes of speech-like noise
// (the decoders on toast's frames): five rounds of the four in turn,
// reporting the median wall and CPU (user + system) time of each and the
// ratios (go/libgsm). The outputs must be identical. Run it with
// -benchtime=1x:
//
//	go test -run '^$' -bench TenMinutes -benchtime 1x ./codec/gsm/
func BenchmarkTenMinutesVersusLibgsm(b *testing.B) {
	toastPath := testtool.Require(b, "toast", "libgsm-tools")
	untoastPath := testtool.Require(b, "untoast", "libgsm-tools")
	dir := b.TempDir()
	speech := filepath.Join(dir, "speech.raw")
	if err := os.WriteFile(speech, rawBytes(speechLike(10*60*8000, 99)), 0o644); err != nil {
		b.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	// run returns the wall time and the CPU time (user and system) of one process.
	run := func(in, out string, name string, env []string, args ...string) (wall, cpu time.Duration) {
		stdin, err := os.Open(in)
		if err != nil {
			b.Fatal(err)
		}
		defer stdin.Close()
		stdout, err := os.Create(out)
		if err != nil {
			b.Fatal(err)
		}
		defer stdout.Close()
		var stderr bytes.Buffer
		cmd := exec.Command(name, args...)
		cmd.Stdin, cmd.Stdout, cmd.Stderr, cmd.Env = stdin, stdout, &stderr, env
		start := time.Now()
		if err := cmd.Run(); err != nil {
			b.Fatalf("%s: %v\n%s", name, err, stderr.Bytes())
		}
		wall = time.Since(start)
		return wall, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	}
	median := func(d []time.Duration) time.Duration {
		d = slices.Clone(d)
		slices.Sort(d)
		return d[len(d)/2]
	}
	same := func(a, c string, size int) {
		x, err := os.ReadFile(a)
		if err != nil {
			b.Fatal(err)
		}
		y, err := os.ReadFile(c)
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.Equal(x, y) || len(x) != size {
			b.Fatalf("%s and %s differ or are not %d bytes: %d and %d bytes", a, c, size, len(x), len(y))
		}
	}
	const rounds = 5
	for b.Loop() {
		var wall, cpu [4][]time.Duration // toast, go encoder, untoast, go decoder
		toastOut, goEnc := filepath.Join(dir, "toast.gsm"), filepath.Join(dir, "go.gsm")
		untoastOut, goDec := filepath.Join(dir, "untoast.raw"), filepath.Join(dir, "go.raw")
		steps := []func() (time.Duration, time.Duration){
			func() (time.Duration, time.Duration) { return run(speech, toastOut, toastPath, nil, "-l", "-c") },
			func() (time.Duration, time.Duration) {
				return run(speech, goEnc, self, append(os.Environ(), filterEnv+"=encode"))
			},
			func() (time.Duration, time.Duration) { return run(toastOut, untoastOut, untoastPath, nil, "-l", "-c") },
			func() (time.Duration, time.Duration) {
				return run(toastOut, goDec, self, append(os.Environ(), filterEnv+"=decode"))
			},
		}
		for range rounds {
			for i, step := range steps {
				w, c := step()
				wall[i], cpu[i] = append(wall[i], w), append(cpu[i], c)
			}
		}
		same(toastOut, goEnc, 30000*FrameSize)
		same(untoastOut, goDec, 30000*FrameSamples*2)
		ratio := func(i int, d [4][]time.Duration) float64 { return float64(median(d[i+1])) / float64(median(d[i])) }
		b.ReportMetric(float64(median(wall[0]).Milliseconds()), "toast-ms")
		b.ReportMetric(float64(median(wall[1]).Milliseconds()), "go-enc-ms")
		b.ReportMetric(float64(median(wall[2]).Milliseconds()), "untoast-ms")
		b.ReportMetric(float64(median(wall[3]).Milliseconds()), "go-dec-ms")
		b.ReportMetric(ratio(0, wall), "enc-go/toast")
		b.ReportMetric(ratio(0, cpu), "enc-go/toast-cpu")
		b.ReportMetric(ratio(2, wall), "dec-go/untoast")
		b.ReportMetric(ratio(2, cpu), "dec-go/untoast-cpu")
		b.Logf("median wall: toast %v, go encoder %v, untoast %v, go decoder %v", median(wall[0]), median(wall[1]), median(wall[2]), median(wall[3]))
		b.Logf("median CPU: toast %v, go encoder %v, untoast %v, go decoder %v", median(cpu[0]), median(cpu[1]), median(cpu[2]), median(cpu[3]))
		b.Logf("all rounds, wall: toast %v, go encoder %v, untoast %v, go decoder %v", wall[0], wall[1], wall[2], wall[3])
	}
}
