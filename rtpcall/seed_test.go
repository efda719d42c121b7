package rtpcall

import (
	"github.com/spurtvoip/spurt/media"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/spurtvoip/spurt/impair"
)

// recordingConn is a PacketConn that only records what is written to it.
type recordingConn struct {
	net.PacketConn
	written [][]byte
}

func (c *recordingConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.written = append(c.written, append([]byte(nil), b...))
	return len(b), nil
}

// TestSeedReplaysMediaLoss runs the send path of a call twice with the same
// seeded impairment, its RTCP reports leaving at different times in each
// run (as they do: their interval is random): the same media sequence
// numbers must be lost, since media and RTCP draw from models of their own.
func TestSeedReplaysMediaLoss(t *testing.T) {
	lossy := func(stream uint64) *impair.Path {
		b, err := impair.NewBernoulli(0.2, rand.New(rand.NewPCG(42, stream)))
		if err != nil {
			t.Fatal(err)
		}
		return &impair.Path{Loss: b}
	}
	const frames = 300
	run := func(reportAt []int) (received []uint16, reports int) {
		sess, err := media.NewSession(media.SessionConfig{Codec: pcmu(t), Strategy: ewma(t), SSRC: 5, InitialSeq: 1000})
		if err != nil {
			t.Fatal(err)
		}
		conn := &recordingConn{}
		c := &callLoop{
			cfg: Config{Conn: conn, Remote: netip.MustParseAddrPort("127.0.0.1:9"),
				Path: lossy(1), RTCPPath: lossy(2)},
			log:       slog.New(slog.DiscardHandler),
			sess:      sess,
			delayLine: impair.NewReleaser(4096, media.MaxPacketSize),
		}
		pcm := make([]int16, 160)
		for i := range frames {
			at := time.Duration(i+1) * 20 * time.Millisecond
			if slices.Contains(reportAt, i) {
				c.sendReport(at)
			}
			c.sendFrame(pcm, at)
		}
		c.delayLine.Due(time.Hour, c.transmitNow)
		var h rtp.Header
		for _, p := range conn.written {
			if media.IsRTCP(p) {
				reports++
				continue
			}
			if _, err := h.Unmarshal(p); err != nil {
				t.Fatal(err)
			}
			received = append(received, h.SequenceNumber)
		}
		return received, reports
	}
	a, reportsA := run([]int{0, 40, 170})
	b, reportsB := run([]int{0, 110, 120, 250, 299})
	t.Logf("media packets through: %d and %d of %d; reports through: %d of 3, %d of 5", len(a), len(b), frames, reportsA, reportsB)
	if len(a) < frames*7/10 || len(a) > frames*9/10 {
		t.Fatalf("%d of %d media packets through 20 %% loss", len(a), frames)
	}
	if !slices.Equal(a, b) {
		t.Errorf("the same seed lost different media packets when the reports went at other times:\n%v\n%v", a, b)
	}
}
