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

// encodeFilterEnv makes this test binary act as a toast -l -c look-alike:
// raw host-order samples on stdin, GSM frames on stdout. The speed
// comparison runs it so that both sides are timed as whole processes.
const encodeFilterEnv = "SPURT_GSM_ENCODE_FILTER"

func TestMain(m *testing.M) {
	if os.Getenv(encodeFilterEnv) == "1" {
		if err := encodeFilter(os.Stdin, os.Stdout); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
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

// BenchmarkTenMinutesVersusToast times toast -l -c and this package's
// encoder, each as a whole process reading and writing files, on the same ten
// minutes of speech-like noise: five alternating rounds, reporting the median
// wall time of each and their ratio (go/toast). Run it with -benchtime=1x:
//
//	go test -run '^$' -bench TenMinutes -benchtime 1x ./codec/gsm/
func BenchmarkTenMinutesVersusToast(b *testing.B) {
	toastPath := testtool.Require(b, "toast", "libgsm-tools")
	dir := b.TempDir()
	in := filepath.Join(dir, "speech.raw")
	if err := os.WriteFile(in, rawBytes(speechLike(10*60*8000, 99)), 0o644); err != nil {
		b.Fatal(err)
	}
	self, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	// run returns the wall time and the CPU time (user and system) of one process.
	run := func(out string, name string, env []string, args ...string) (wall, cpu time.Duration) {
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
	const rounds = 5
	for b.Loop() {
		var toastWall, toastCPU, goWall, goCPU []time.Duration
		toastOut, goOut := filepath.Join(dir, "toast.gsm"), filepath.Join(dir, "go.gsm")
		for range rounds {
			wall, cpu := run(toastOut, toastPath, nil, "-l", "-c")
			toastWall, toastCPU = append(toastWall, wall), append(toastCPU, cpu)
			wall, cpu = run(goOut, self, append(os.Environ(), encodeFilterEnv+"=1"))
			goWall, goCPU = append(goWall, wall), append(goCPU, cpu)
		}
		a, err := os.ReadFile(toastOut)
		if err != nil {
			b.Fatal(err)
		}
		c, err := os.ReadFile(goOut)
		if err != nil {
			b.Fatal(err)
		}
		if !bytes.Equal(a, c) || len(a) != 30000*FrameSize {
			b.Fatalf("outputs differ or are not 30000 frames: %d and %d bytes", len(a), len(c))
		}
		median := func(d []time.Duration) time.Duration {
			slices.Sort(d)
			return d[len(d)/2]
		}
		t, g := median(toastWall), median(goWall)
		tc, gc := median(toastCPU), median(goCPU)
		b.ReportMetric(float64(t.Milliseconds()), "toast-ms")
		b.ReportMetric(float64(g.Milliseconds()), "go-ms")
		b.ReportMetric(float64(g)/float64(t), "go/toast")
		b.ReportMetric(float64(gc)/float64(tc), "go/toast-cpu")
		b.Logf("median wall: toast %v, go %v; median CPU: toast %v, go %v", t, g, tc, gc)
		b.Logf("all rounds, wall: toast %v, go %v", toastWall, goWall)
	}
}
