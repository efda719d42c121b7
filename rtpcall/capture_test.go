package rtpcall

import (
	"context"
	"github.com/spurtvoip/spurt/media"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
)

// pacedSource is a stand-in for a microphone: each ReadFrame blocks until
// the next frame is due on its own clock (20 ms after the one before, from
// the first read on), then delivers a tone frame; after frames it reports
// io.EOF. It records whether a read ran after Close. Due times, not a sleep
// per frame: a card's clock does not slow down when the machine is busy,
// and sleeps that each overshoot under load delivered 37 frames a second.
type pacedSource struct {
	mu         sync.Mutex
	tone       audio.Source
	left       int
	closed     bool
	readsAfter int
	next       time.Time // when the next frame is due; zero before the first read
}

func (p *pacedSource) ReadFrame(pcm []int16) error {
	p.mu.Lock()
	if p.next.IsZero() {
		p.next = time.Now()
	}
	p.next = p.next.Add(20 * time.Millisecond)
	due := p.next
	p.mu.Unlock()
	time.Sleep(time.Until(due))
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		p.readsAfter++
		return audio.ErrClosed
	}
	if p.left == 0 {
		return io.EOF
	}
	p.left--
	return p.tone.ReadFrame(pcm)
}

func (p *pacedSource) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	return nil
}

// TestRunWithPacedSource: a self-paced source (a sound card) is read on a
// goroutine of its own, its frames stamped when they come, and Run returns
// only once that goroutine has stopped, so that the caller may close the
// source at once.
func TestRunWithPacedSource(t *testing.T) {
	// One call ends with its source (100 frames), one is hung up while the
	// source still runs.
	for _, tt := range []struct {
		name   string
		frames int
		limit  time.Duration
	}{{"source ends", 100, 0}, {"hung up", 1 << 20, time.Second}} {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		a, b := listenUDP(t, "127.0.0.1"), listenUDP(t, "127.0.0.1")
		doneB := startRun(ctx, Config{
			Session: media.SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 60*time.Millisecond), SSRC: 0xB},
			Conn:    b, Remote: addrOf(a), Sink: audio.NewMemorySink(),
		})
		src := &pacedSource{tone: audio.NewTone(440, 8000, time.Hour), left: tt.frames}
		started := time.Now()
		doneA := startRun(ctx, Config{
			Session: media.SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 60*time.Millisecond), SSRC: 0xA},
			Conn:    a, Remote: addrOf(b), Source: src, SourcePaced: true, Duration: tt.limit,
		})
		st := wait(t, doneA, "A")
		took := time.Since(started)
		_ = src.Close()
		time.Sleep(60 * time.Millisecond) // a read still running would come now
		src.mu.Lock()
		after := src.readsAfter
		src.mu.Unlock()
		if after != 0 {
			t.Errorf("%s: the source was read %d times after Run returned", tt.name, after)
		}
		if tt.limit == 0 && (st.PacketsSent != 100 || took < 1900*time.Millisecond) {
			t.Errorf("%s: sent %d packets in %v, want 100 paced over 2 s", tt.name, st.PacketsSent, took)
		}
		if tt.limit > 0 && (took > tt.limit+500*time.Millisecond || st.PacketsSent < 40 || st.PacketsSent > 51) {
			t.Errorf("%s: sent %d packets in %v, want about 50 in 1 s", tt.name, st.PacketsSent, took)
		}
		cancel()
		<-doneB
	}
}
