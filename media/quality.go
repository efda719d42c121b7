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
// while the playout delay is unknown.
func (s Stats) quality() (r, mos *float64) {
	if s.PlayoutDelayMean == nil {
		return nil, nil
	}
	loss := 0.0
	if s.Expected > 0 {
		loss = float64(s.ResidualLost) / float64(s.Expected) // what FEC could not repair
	}
	c := quality.ForCodec(s.Codec, s.PLC)
	mouthToEar := time.Duration(*s.PlayoutDelayMean*float64(time.Millisecond)) + packetization
	rating := quality.R(quality.Input{Codec: c, MouthToEar: mouthToEar, PacketLoss: loss, BurstR: 1})
	round := func(x float64) *float64 { v := math.Round(x*1000) / 1000; return &v }
	return round(rating), round(quality.MOS(rating))
}
