package media

import (
	"github.com/spurtvoip/spurt/internal/rtpseq"
	"math"
	"time"

	"github.com/spurtvoip/spurt/quality"
)

// packetization is the mouth-to-ear delay a chunk adds before it can be
// sent: its own length.
const packetization = rtpseq.PacketTime

// quality rates the call as this side heard it with the G.107 E-model: the
// packet loss is the residual loss (network and late loss less what FEC
// recovered) over the packets expected, taken as
// random (BurstR 1: the live stats keep no loss pattern), and the one-way
// mouth-to-ear delay is the mean playout delay plus packetization. G.711 is
// rated with G.113's concealment value when holes are concealed (the
// default) and without it when they play as silence. Both are nil
// while no packet is known to have been sent, and while chunks played at a
// delay still unknown (no RTCP yet to map the peer's clock). When packets
// were expected and nothing played, the mouth-to-ear delay is taken as
// packetization alone: the rating is an upper bound, and a low one.
func (s Stats) quality() (r, mos *float64) {
	if s.Expected == 0 || (s.PlayoutDelayMean == nil && s.Played > 0) {
		return nil, nil
	}
	loss := float64(min(s.ResidualLost, s.Expected)) / float64(s.Expected) // what FEC could not repair
	if s.PlayoutDelayMean == nil {
		loss = 1 // nothing played: nothing heard, whatever the counters say
	}
	c := quality.ForCodec(s.Codec, s.PLC)
	mouthToEar := time.Duration(packetization)
	if s.PlayoutDelayMean != nil {
		mouthToEar += time.Duration(*s.PlayoutDelayMean * float64(time.Millisecond))
	}
	rating := quality.R(quality.Input{Codec: c, MouthToEar: mouthToEar, PacketLoss: loss, BurstR: 1})
	round := func(x float64) *float64 { v := math.Round(x*1000) / 1000; return &v }
	return round(rating), round(quality.MOS(rating))
}
