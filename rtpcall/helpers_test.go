package rtpcall

import (
	"github.com/spurtvoip/spurt/internal/fixture"
	"testing"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/jitter"
	"github.com/spurtvoip/spurt/media"
)

func pcmu(t testing.TB) codec.Codec { return fixture.Codec(t, "pcmu") }

func fixedStrategy(t testing.TB, d time.Duration) jitter.Strategy { return fixture.Fixed(t, d) }

func speechSample(t testing.TB) []int16 { return fixture.Speech(t) }

func redConfig(t testing.TB, distance, peerDistance int) *media.REDConfig {
	return &media.REDConfig{PayloadType: 96, Secondary: fixture.Codec(t, "gsm"), Distance: distance, PeerDistance: peerDistance}
}

// onePacket sends one frame of a plain sender and returns its packet, or nil
// during silence.
func onePacket(s *media.Sender, pcm []int16) ([]byte, error) {
	var out []byte
	err := s.FramePackets(pcm, func(pkt []byte) { out = pkt })
	return out, err
}
