package media

import (
	"fmt"
	"github.com/spurtvoip/spurt/internal/rtpseq"
	"time"

	"github.com/pion/rtcp"
)

// reporter is the clockless RTCP half of a session (RFC 3550 section 6): it
// builds our compound reports and reads the peer's. From them it learns the
// round-trip time (our report's LSR/DLSR echoed back), the peer's view of our
// stream, and the mapping between the peer's media clock and ours.
//
// The mapping. The playout buffer works with r - t: arrival on our clock minus
// media time on the sender's clock. Its offset from the true one-way delay is
// a constant M. An SR carries the sender's media clock at the instant it was
// sent (its RTP timestamp, on the same clock as the media), so an SR is a
// packet whose r - t we can measure: M = f - (r_SR - t_SR), where f is the
// SR's time in flight, taken over the SR with the smallest r - t (the least
// queuing). f comes from the SR's NTP timestamp when the two wall clocks
// agree (one machine, or two synchronised ones): our wall clock at arrival
// minus the NTP time, if that lies within [0, RTT], as a true flight time
// must. Otherwise the clocks are unrelated and f = RTT/2, whose error is the
// path's asymmetry.
type reporter struct {
	ssrc  uint32
	cname string
	rate  int

	peerSSRC    uint32
	havePeer    bool
	lastSR      uint32        // middle 32 bits of the NTP time in the peer's last SR
	lastSRAt    time.Duration // when it arrived
	haveSR      bool
	srTimes     rtpseq.Unwrapper
	bestSRTS    uint32        // RTP timestamp of the SR with the least r - t
	bestSRDelay time.Duration // its r - t, with t from its own unwrapped timestamp chain
	bestSRAt    time.Duration
	bestSRWall  time.Duration // its flight time by the wall clocks: arrival minus its NTP time
	peerSent    uint64        // the most media packets the peer's SRs said it had sent (RFC 3550 6.4.1)

	rtt     time.Duration
	haveRTT bool

	remoteLost   int32
	remoteJitter uint32
	haveRemote   bool
	remoteAt     time.Duration // arrival of the reception report they come from

	// byeHeard: an RTCP BYE naming the peer's source came, at byeAt. The
	// Session decides whether the peer has left (see Session.PeerLeft).
	byeHeard  bool
	byeAt     time.Duration
	lastHeard time.Duration
	heard     bool
	malformed uint64
}

// ntpEpochOffset is the seconds from the NTP epoch (1900) to Unix's (1970).
const ntpEpochOffset = 2208988800

// ntpTime converts a wall-clock time to the 64-bit NTP format (RFC 5905).
func ntpTime(t time.Time) uint64 {
	secs := uint64(t.Unix() + ntpEpochOffset)
	frac := uint64(t.Nanosecond()) << 32 / uint64(time.Second)
	return secs<<32 | frac
}

func ntpMiddle(ntp uint64) uint32 { return uint32(ntp >> 16) }

// report builds a compound packet: an SR (an RR while we have sent no media)
// with a reception report block about the peer once one has been heard, and
// an SDES CNAME, as RFC 3550 section 6.1 requires.
func (r *reporter) report(now time.Duration, wall time.Time, media uint32, sent SenderStats, recv *Receiver) ([]byte, error) {
	var blocks []rtcp.ReceptionReport
	if recv.src.started {
		rs := recv.Stats()
		block := rtcp.ReceptionReport{
			SSRC:               recv.src.ssrc,
			FractionLost:       recv.src.fractionLost(),
			TotalLost:          uint32(min(rs.Lost, 0x7fffff)),
			LastSequenceNumber: uint32(recv.src.maxSeq),
			Jitter:             uint32(recv.src.jitterTks),
		}
		if r.haveSR {
			block.LastSenderReport = r.lastSR
			block.Delay = uint32((now - r.lastSRAt) * 65536 / time.Second)
		}
		blocks = []rtcp.ReceptionReport{block}
	}
	var head rtcp.Packet = &rtcp.ReceiverReport{SSRC: r.ssrc, Reports: blocks}
	if sent.Packets > 0 {
		head = &rtcp.SenderReport{
			SSRC:        r.ssrc,
			NTPTime:     ntpTime(wall),
			RTPTime:     media,
			PacketCount: uint32(sent.Packets),
			OctetCount:  uint32(sent.Octets),
			Reports:     blocks,
		}
	}
	sdes := &rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
		Source: r.ssrc,
		Items:  []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: r.cname}},
	}}}
	b, err := rtcp.Marshal([]rtcp.Packet{head, sdes})
	if err != nil {
		return nil, fmt.Errorf("rtpcall: building RTCP report: %w", err)
	}
	return b, nil
}

// bye builds the compound packet that leaves the session: an empty receiver
// report and SDES (RFC 3550 6.1 wants every compound packet to start so),
// then the BYE. It carries no reception block: the BYE leaves at once,
// outside any send-path impairment, and a block in it would hand the peer a
// last RTT and loss sample that the path never imposed.
func (r *reporter) bye() ([]byte, error) {
	b, err := rtcp.Marshal([]rtcp.Packet{
		&rtcp.ReceiverReport{SSRC: r.ssrc},
		&rtcp.SourceDescription{Chunks: []rtcp.SourceDescriptionChunk{{
			Source: r.ssrc,
			Items:  []rtcp.SourceDescriptionItem{{Type: rtcp.SDESCNAME, Text: r.cname}},
		}}},
		&rtcp.Goodbye{Sources: []uint32{r.ssrc}, Reason: "hang-up"},
	})
	if err != nil {
		return nil, fmt.Errorf("rtpcall: building RTCP BYE: %w", err)
	}
	return b, nil
}

// handle reads one RTCP compound packet from the peer.
func (r *reporter) handle(datagram []byte, arrival time.Duration, wall time.Time) {
	packets, err := rtcp.Unmarshal(datagram)
	if err != nil {
		r.malformed++
		return
	}
	if looped(packets, r.ssrc) {
		return // our own report, sent to our own port (a receive-only side aimed at itself)
	}
	r.heard, r.lastHeard = true, arrival
	for _, p := range packets {
		switch p := p.(type) {
		case *rtcp.SenderReport:
			if !r.acceptPeer(p.SSRC) {
				continue
			}
			r.senderReport(p, arrival, wall)
			r.receptionReports(p.Reports, arrival, wall)
		case *rtcp.ReceiverReport:
			if r.acceptPeer(p.SSRC) {
				r.receptionReports(p.Reports, arrival, wall)
			}
		case *rtcp.Goodbye:
			for _, s := range p.Sources {
				if r.havePeer && s == r.peerSSRC && !r.byeHeard {
					r.byeHeard, r.byeAt = true, arrival
				}
			}
		}
	}
}

// looped reports whether a compound packet is one of ours: it opens with a
// report whose sender is our SSRC (RFC 3550 8.2 calls this a loop). It says
// nothing of the peer and must not keep a call alive.
func looped(packets []rtcp.Packet, ours uint32) bool {
	if len(packets) == 0 {
		return false
	}
	switch p := packets[0].(type) {
	case *rtcp.SenderReport:
		return p.SSRC == ours
	case *rtcp.ReceiverReport:
		return p.SSRC == ours
	}
	return false
}

// follow makes ssrc the peer's source, the one the receiver has locked on
// (RFC 3550 A.1 probation): RTCP from another is ignored. What was learned
// from another source's sender reports (the clock mapping) is forgotten:
// its media clock is not the new source's.
func (r *reporter) follow(ssrc uint32) {
	if r.havePeer && r.peerSSRC == ssrc {
		return
	}
	r.peerSSRC, r.havePeer = ssrc, true
	r.forgetSR()
}

// forgetSR drops what the peer's sender reports said about its media clock,
// when that clock is no longer the stream's (a new source, a restart).
func (r *reporter) forgetSR() {
	r.lastSR, r.lastSRAt, r.haveSR = 0, 0, false
	r.srTimes = rtpseq.Unwrapper{}
	r.bestSRTS, r.bestSRDelay, r.bestSRAt, r.bestSRWall = 0, 0, 0, 0
}

func (r *reporter) acceptPeer(ssrc uint32) bool {
	if !r.havePeer {
		r.peerSSRC, r.havePeer = ssrc, true
	}
	return ssrc == r.peerSSRC
}

func (r *reporter) senderReport(sr *rtcp.SenderReport, arrival time.Duration, wall time.Time) {
	first := !r.haveSR
	r.lastSR, r.lastSRAt, r.haveSR = ntpMiddle(sr.NTPTime), arrival, true
	r.peerSent = max(r.peerSent, uint64(sr.PacketCount))
	ext := r.srTimes.Unwrap(sr.RTPTime)
	delay := arrival - time.Duration(ext*int64(time.Second)/int64(r.rate))
	if first || delay < r.bestSRDelay {
		r.bestSRTS, r.bestSRDelay, r.bestSRAt = sr.RTPTime, delay, arrival
		r.bestSRWall = wall.Sub(fromNTP(sr.NTPTime))
	}
}

// fromNTP converts a 64-bit NTP timestamp back to a wall-clock time.
func fromNTP(ntp uint64) time.Time {
	secs := int64(ntp>>32) - ntpEpochOffset
	nanos := int64((ntp & 0xffffffff) * uint64(time.Second) >> 32)
	return time.Unix(secs, nanos)
}

// srFlight is the best SR's time in flight (see reporter): by the wall
// clocks if they agree, else half the round trip. Before any round trip is
// known (a peer that sends no reception reports, such as ffmpeg, never gives
// one), a wall-clock flight under maxUncheckedFlight is taken as it is: it
// holds on one machine. Otherwise ok is false.
func (r *reporter) srFlight() (flight time.Duration, ok bool) {
	switch {
	case r.haveRTT && r.bestSRWall >= 0 && r.bestSRWall <= r.rtt:
		return r.bestSRWall, true
	case r.haveRTT:
		return r.rtt / 2, true
	case r.bestSRWall >= 0 && r.bestSRWall < maxUncheckedFlight:
		return r.bestSRWall, true
	}
	return 0, false
}

// maxUncheckedFlight bounds an SR's wall-clock flight time believed without
// a round trip to check it against.
const maxUncheckedFlight = time.Second

func (r *reporter) receptionReports(blocks []rtcp.ReceptionReport, arrival time.Duration, wall time.Time) {
	for _, b := range blocks {
		if b.SSRC != r.ssrc {
			continue
		}
		r.haveRemote, r.remoteAt = true, arrival
		r.remoteLost = int32(b.TotalLost<<8) >> 8 // 24-bit signed
		r.remoteJitter = b.Jitter
		if b.LastSenderReport == 0 {
			continue
		}
		// RFC 3550 6.4.1: RTT = A - LSR - DLSR, in units of 1/65536 s
		rtt := int32(ntpMiddle(ntpTime(wall)) - b.LastSenderReport - b.Delay)
		if rtt >= 0 {
			r.rtt, r.haveRTT = time.Duration(int64(rtt)*int64(time.Second)/65536), true
		}
	}
}

// mapping returns M (see reporter) for a stream whose RTP timestamp anchorTS
// is at media time anchorMedia (the first packet's: zero; after a new source
// or a restart, where the playout buffer continued it): one-way delay =
// (r - t) + M. ok is false until the peer's first SR and a flight time for
// it (see srFlight).
func (r *reporter) mapping(anchorTS uint32, anchorMedia time.Duration) (time.Duration, bool) {
	if !r.haveSR {
		return 0, false
	}
	flight, ok := r.srFlight()
	if !ok {
		return 0, false
	}
	tSR := anchorMedia + time.Duration(int64(int32(r.bestSRTS-anchorTS))*int64(time.Second)/int64(r.rate))
	return flight - (r.bestSRAt - tSR), true
}
