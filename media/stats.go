package media

import (
	"math"
	"time"
)

// Stats is what one endpoint reports at hang-up (and --stats-json writes):
// what it sent, and what it received and played. Key names are stable.
type Stats struct {
	Codec    string  `json:"codec"`
	Playout  string  `json:"playout"`
	Duration float64 `json:"duration_s"`

	PacketsSent     uint64 `json:"packets_sent"`
	PacketsReceived uint64 `json:"packets_received"`
	Expected        uint64 `json:"packets_expected"`
	NetworkLost     uint64 `json:"network_lost"`
	LateLost        uint64 `json:"late_lost"`
	Duplicates      uint64 `json:"duplicates"`
	Talkspurts      uint64 `json:"talkspurts"`
	Played          uint64 `json:"chunks_played"`
	Missing         uint64 `json:"chunks_missing"`
	Malformed       uint64 `json:"malformed"`
	WrongPayload    uint64 `json:"wrong_payload_type"`
	RejectedSource  uint64 `json:"rejected_source"`
	Refused         uint64 `json:"refused"`
	// The peer's source (RFC 3550 A.1): how often a new SSRC replaced the
	// one that had gone quiet, and how many RTCP BYEs were ignored because
	// the stream went on after them (see Session.PeerLeft).
	SourceChanges uint64 `json:"source_changes"`
	ByeIgnored    uint64 `json:"bye_ignored"`

	// Redundant audio (RFC 2198). FEC is the scheme this side sends ("none",
	// "red:1", "red:2") and OverheadRatio its cost: RED headers and copies
	// over primary audio bytes sent. FECRecovered counts received chunks
	// played from a copy because their own packet was lost or late, and
	// ResidualLost the packets neither received in time nor recovered
	// (network_lost + late_lost - fec_recovered).
	FEC           string  `json:"fec"`
	FECRecovered  uint64  `json:"fec_recovered"`
	ResidualLost  uint64  `json:"residual_lost"`
	OverheadRatio float64 `json:"overhead_ratio"`
	// FECMalformed: XOR parity (RFC 5109) packets that did not parse or
	// fit, and RED packets that did not parse, dropped, and RED copies that
	// could not stand for a packet, unused. FECLate: packets rebuilt from
	// parity after their playout time (still lost, not in fec_recovered).
	FECMalformed uint64 `json:"fec_malformed"`
	FECLate      uint64 `json:"fec_late"`
	// Interleave is the interleaving depth this side sends (0: none).
	Interleave int `json:"interleave"`
	// Loss concealment: whether it is on; the 20 ms chunks that held
	// concealed audio (a whole missing chunk, or an interleaved chunk with
	// missing units); the audio concealed, in milliseconds.
	PLC         bool    `json:"plc"`
	Concealed   uint64  `json:"concealed"`
	ConcealedMs float64 `json:"concealed_ms"`

	// Delays in milliseconds; null while unknown (no chunk played, no RTCP yet).
	PlayoutDelayMean *float64 `json:"playout_delay_ms_mean"`
	PlayoutDelayP95  *float64 `json:"playout_delay_ms_p95"`
	BufferDelayMean  *float64 `json:"buffer_delay_ms_mean"`
	RTT              *float64 `json:"rtt_ms"`
	Jitter           float64  `json:"jitter_ms"`

	// The peer's view of our stream, from its RTCP reception reports.
	RemoteLost   *int64   `json:"remote_lost"`
	RemoteJitter *float64 `json:"remote_jitter_ms"`
	// RemoteAge is how long before the end the report they come from
	// arrived: the peer's loss goes on being counted after it.
	RemoteAge float64 `json:"-"`
	// FixedDelay is the fixed strategy's playout delay in ms (0 for others).
	FixedDelay float64 `json:"-"`

	K     float64 `json:"k"`
	Alpha float64 `json:"alpha"`
	Beta  float64 `json:"beta"`

	// The G.107 E-model's rating of what this side heard, and the MOS it
	// predicts (see quality.go); null while nothing is known to have been
	// sent, and when the call ended because the peer went silent.
	RFactor *float64 `json:"r_factor"`
	MOS     *float64 `json:"mos"`
	// PeerSilent is, when the call ended because nothing more came from
	// the peer, how long it had been silent, in seconds: what it sent
	// meanwhile is unknown, and so is the rating. 0 otherwise.
	PeerSilent float64 `json:"peer_silent_s"`

	// How the media path was opened: "direct" (the remote address was
	// given), or the checked pair as "LOCAL->REMOTE" candidate types such
	// as "srflx->host" (see OpenedPath), and the connectivity checks sent.
	Path       string `json:"path"`
	ChecksSent uint64 `json:"checks_sent"`
}

// PeerWentSilent records that the call ended after silent without a word
// from the peer: its media and reports stopped, so whatever it sent then
// went unheard and uncounted. The rating is withdrawn rather than left to
// describe only the part of the call that was heard.
func (s *Stats) PeerWentSilent(silent time.Duration) {
	s.PeerSilent = math.Round(silent.Seconds()*10) / 10
	s.RFactor, s.MOS = nil, nil
}

// delayStats accumulates, per played chunk, the playout delay (capture to
// playout) and the buffer delay (arrival to playout). The playout delay is
// recorded relative to an offset learned later from RTCP (see mapping), so it
// is kept as a fine histogram of the unmapped value and resolved on demand.
type delayStats struct {
	count     uint64
	bufferSum time.Duration

	ref     time.Duration // the first unmapped value; bins are relative to it
	haveRef bool
	sum     time.Duration // sum of (value - ref)
	bins    []uint32
	under   uint64 // values below the histogram's range, counted at its first bin
	over    uint64 // values above its range, counted at its last bin
}

const (
	delayBinWidth = 250 * time.Microsecond
	delayBinSpan  = 10 * time.Second // each side of the reference value
)

func newDelayStats() delayStats {
	return delayStats{bins: make([]uint32, 2*int(delayBinSpan/delayBinWidth)+1)}
}

func (d *delayStats) record(unmapped, buffer time.Duration) {
	if !d.haveRef {
		d.ref, d.haveRef = unmapped, true
	}
	d.count++
	d.bufferSum += buffer
	rel := unmapped - d.ref
	d.sum += rel
	i := int((rel + delayBinSpan) / delayBinWidth) // rounds towards zero; fine at this width
	switch {
	case rel < -delayBinSpan:
		d.under++
		i = 0
	case i >= len(d.bins):
		d.over++
		i = len(d.bins) - 1
	}
	d.bins[i]++
}

// mean and quantile return unmapped values; ok is false before any record.
func (d *delayStats) mean() (time.Duration, bool) {
	if d.count == 0 {
		return 0, false
	}
	return d.ref + d.sum/time.Duration(d.count), true
}

func (d *delayStats) quantile(q float64) (time.Duration, bool) {
	if d.count == 0 {
		return 0, false
	}
	target := uint64(math.Ceil(q * float64(d.count)))
	var seen uint64
	for i, n := range d.bins {
		seen += uint64(n)
		if seen >= max(target, 1) {
			return d.ref - delayBinSpan + time.Duration(i)*delayBinWidth + delayBinWidth/2, true
		}
	}
	return d.ref + delayBinSpan, true
}

func (d *delayStats) bufferMean() (time.Duration, bool) {
	if d.count == 0 {
		return 0, false
	}
	return d.bufferSum / time.Duration(d.count), true
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func msPtr(d time.Duration) *float64 {
	v := math.Round(ms(d)*1000) / 1000
	return &v
}
