package rtpcall

import (
	"testing"
	"time"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/jitter"
	"github.com/spurtvoip/spurt/media"
)

func pcmu(t testing.TB) codec.Codec {
	t.Helper()
	c, err := codec.Default().ByName("pcmu")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func fixedStrategy(t testing.TB, d time.Duration) jitter.Strategy {
	t.Helper()
	s, err := jitter.NewFixed(d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func speechSample(t testing.TB) []int16 {
	t.Helper()
	s, err := audio.ReadWAVFile("../testdata/speech.wav")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func redConfig(t testing.TB, distance, peerDistance int) *media.REDConfig {
	t.Helper()
	gsm, err := codec.Default().ByName("gsm")
	if err != nil {
		t.Fatal(err)
	}
	return &media.REDConfig{PayloadType: 96, Secondary: gsm, Distance: distance, PeerDistance: peerDistance}
}

// onePacket sends one frame of a plain sender and returns its packet, or nil
// during silence.
func onePacket(s *media.Sender, pcm []int16) ([]byte, error) {
	var out []byte
	err := s.FramePackets(pcm, func(pkt []byte) { out = pkt })
	return out, err
}
