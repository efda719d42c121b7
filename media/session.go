package media

import (
	"encoding/binary"
	"math"
	"time"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/jitter"
	"github.com/spurtvoip/spurt/vad"
)

// SessionConfig configures one endpoint of a call.
type SessionConfig struct {
	Codec       codec.Codec
	Strategy    jitter.Strategy
	VAD         *vad.Detector // nil: send continuously
	SSRC        uint32
	InitialSeq  uint16
	InitialTime uint32
	CNAME       string
	// RED is redundant audio (RFC 2198), if negotiated: received whenever
	// set, sent when its Distance is above zero. Nil: plain audio only.
	RED *REDConfig
	// XOR is RFC 5109 parity FEC, if negotiated: the peer's used whenever
	// set, ours sent when its GroupSize is above zero (see xor.go).
	XOR *XORConfig
	// Interleave is interleaved audio, if negotiated: sent when its Depth is
	// above zero, received when its PeerDepth is (see interleave.go).
	Interleave *InterleaveConfig
	// DisablePLC plays holes as silence instead of concealing them.
	DisablePLC bool
}

// Session is one endpoint's RTP session (RFC 3550): the send pipeline, the
// receive pipeline and RTCP between them. It is clockless: every method takes
// the time on the endpoint's monotonic clock, and the wall-clock time where
// RTCP needs one for its NTP fields.
type Session struct {
	sender   *Sender
	receiver *Receiver
	rep      reporter
	fec      string // the redundancy scheme we send
	plc      bool

	initialTime  uint32
	captureStart time.Duration
	capturing    bool
	frameDur     time.Duration
	rtpFrom      time.Duration // last RTP from the peer
	heardRTP     bool

	// The media time anchor of the peer's stream for the RTCP clock mapping:
	// its first timestamp at zero, moved where the playout buffer re-anchored
	// the stream (receiver epoch).
	anchorTS    uint32
	anchorMedia time.Duration
	anchorEpoch uint64

	left       bool   // the peer's BYE stands: it has left
	byeIgnored uint64 // BYEs its stream went on after
}

// How an RTCP BYE is believed. Without SRTP anyone who can send from the
// peer's address can forge one, so a BYE naming the peer's source stands only
// once that source's RTP has stopped too: byeGrace after the BYE and after
// its last RTP packet, whichever is later. Packets the peer sent before
// hanging up may still arrive after its BYE (the BYE takes no queue); RTP
// still coming byeVoid after the BYE shows a stream that goes on, and the
// BYE is ignored (bye_ignored). A hang-up that reaches us another way
// (signaling, Endpoint.Cancel) confirms a BYE at once.
const (
	byeGrace = 300 * time.Millisecond
	byeVoid  = time.Second
)

// NewSession builds an endpoint.
func NewSession(cfg SessionConfig) (*Session, error) {
	snd, err := NewSender(SenderConfig{
		Codec:       cfg.Codec,
		SSRC:        cfg.SSRC,
		InitialSeq:  cfg.InitialSeq,
		InitialTime: cfg.InitialTime,
		VAD:         cfg.VAD,
		RED:         cfg.RED,
		XOR:         cfg.XOR,
		Interleave:  cfg.Interleave,
	})
	if err != nil {
		return nil, err
	}
	rcv, err := NewReceiver(ReceiverConfig{Codec: cfg.Codec, Strategy: cfg.Strategy, RED: cfg.RED,
		XOR: cfg.XOR, Interleave: cfg.Interleave, DisablePLC: cfg.DisablePLC})
	if err != nil {
		return nil, err
	}
	cname := cfg.CNAME
	if cname == "" {
		cname = "spurt"
	}
	return &Session{
		sender:      snd,
		receiver:    rcv,
		fec:         fecScheme(cfg.RED, cfg.XOR),
		plc:         !cfg.DisablePLC,
		rep:         reporter{ssrc: cfg.SSRC, cname: cname, rate: cfg.Codec.ClockRate},
		initialTime: cfg.InitialTime,
		frameDur:    time.Duration(snd.frame) * time.Second / time.Duration(cfg.Codec.ClockRate),
	}, nil
}

// SendPackets takes a frame that finished capturing at time now and calls
// send with each RTP packet to transmit, in order (see Sender.FramePackets).
func (s *Session) SendPackets(pcm []int16, now time.Duration, send func(pkt []byte)) error {
	if !s.capturing {
		s.capturing, s.captureStart = true, now-s.frameDur
	}
	return s.sender.FramePackets(pcm, send)
}

// fecScheme names the redundancy we send.
func fecScheme(red *REDConfig, xor *XORConfig) string {
	if xor != nil && xor.GroupSize > 0 {
		return xor.Scheme()
	}
	return red.Scheme()
}

// HandleDatagram demultiplexes RTP and RTCP arriving on the one port (RFC 5761
// section 4: an RTCP packet type occupies the second octet's range 192-223).
// It reports whether b was a media packet of the peer's stream.
func (s *Session) HandleDatagram(b []byte, arrival time.Duration, wall time.Time) (media bool) {
	src := &s.receiver.src
	if IsRTCP(b) {
		if src.locked {
			s.rep.follow(src.ssrc)
		}
		s.rep.handle(b, arrival, wall)
		return false
	}
	if !s.receiver.HandleRTP(b, arrival) {
		return false
	}
	s.rep.follow(src.ssrc)
	if s.receiver.epoch != s.anchorEpoch {
		// The stream was re-anchored: a new source or a sender restart.
		// Its media clock is new; the mapping is learned again from its SRs.
		if ts, media, ok := s.receiver.buffer.Newest(); ok {
			s.anchorTS, s.anchorMedia, s.anchorEpoch = ts, media, s.receiver.epoch
			s.rep.forgetSR()
		}
	} else if !s.heardRTP {
		s.anchorTS = src.firstTS
	}
	if s.rep.byeHeard && !s.left && arrival-s.rep.byeAt > byeVoid {
		s.rep.byeHeard = false
		s.byeIgnored++
	}
	s.rtpFrom, s.heardRTP = arrival, true
	return true
}

// IsRTCP reports whether b, arriving on a port RTP and RTCP share, is RTCP:
// its packet type lies in 192-223 (RFC 5761 section 4).
func IsRTCP(b []byte) bool { return len(b) >= 2 && b[1] >= 192 && b[1] <= 223 }

// Render plays everything due by now into write.
func (s *Session) Render(now time.Duration, write func([]int16) error) error {
	return s.receiver.Render(now, write)
}

// mediaClock is our RTP clock at time now: the timestamp a sample captured
// then would carry. Before capture starts it stays at the initial timestamp.
func (s *Session) mediaClock(now time.Duration) uint32 {
	if !s.capturing {
		return s.initialTime
	}
	ticks := int64(now-s.captureStart) * int64(s.rep.rate) / int64(time.Second)
	return s.initialTime + uint32(ticks)
}

// Report builds our periodic RTCP compound packet.
func (s *Session) Report(now time.Duration, wall time.Time) ([]byte, error) {
	return s.rep.report(now, wall, s.mediaClock(now), s.sender.Stats(), s.receiver)
}

// Bye builds the RTCP packet that leaves the call.
func (s *Session) Bye() ([]byte, error) { return s.rep.bye() }

// PeerLeft reports whether, at time now, the peer has left: its RTCP BYE
// came and its stream has stopped since (see byeGrace).
func (s *Session) PeerLeft(now time.Duration) bool {
	if s.left || !s.rep.byeHeard {
		return s.left
	}
	quietFrom := s.rep.byeAt
	if s.heardRTP {
		quietFrom = max(quietFrom, s.rtpFrom)
	}
	s.left = now-quietFrom >= byeGrace
	return s.left
}

// ConfirmBye takes a hang-up that reached us another way (signaling) as
// confirming the peer's RTCP BYE, if one came: the peer has left at once.
// It reports whether one had.
func (s *Session) ConfirmBye() bool {
	if s.rep.byeHeard {
		s.left = true
	}
	return s.left
}

// LastHeard is when anything (RTP or RTCP) last came from the peer.
func (s *Session) LastHeard() (time.Duration, bool) {
	switch {
	case s.heardRTP && s.rep.heard:
		return max(s.rtpFrom, s.rep.lastHeard), true
	case s.heardRTP:
		return s.rtpFrom, true
	default:
		return s.rep.lastHeard, s.rep.heard
	}
}

// LastRTP is when the peer's last media packet arrived.
func (s *Session) LastRTP() (time.Duration, bool) { return s.rtpFrom, s.heardRTP }

// Idle reports whether everything received has been played out.
func (s *Session) Idle() bool { return s.receiver.Idle() }

// Status is a snapshot for the live status line.
type Status struct {
	Received, Expected, Lost, Late uint64
	Spurts                         uint64
	PlayoutDelay                   time.Duration // current spurt: capture to playout
	D, V                           time.Duration // the strategy's estimates (EWMA only)
	HaveEWMA, Mapped               bool          // estimates exist; delays are absolute (RTCP mapping known)
	K, Alpha, Beta                 float64
	Strategy                       string
	LastRTP                        time.Duration // when the last media packet came, if HeardRTP
	HeardRTP                       bool
}

// Status snapshots the figures the status line shows. Until the peer's first
// RTCP sender report the delays are relative to the first packet's.
func (s *Session) Status() Status {
	rs := s.receiver.Stats()
	buf := s.receiver.buffer.Stats()
	st := Status{
		Received: rs.Packets, Expected: rs.Expected, Lost: rs.Lost, Late: rs.Late,
		Spurts:   rs.Spurts,
		Strategy: s.receiver.strategy.Name(),
		LastRTP:  s.rtpFrom, HeardRTP: s.heardRTP,
	}
	m, mapped := s.rep.mapping(s.anchorTS, s.anchorMedia)
	st.Mapped = mapped
	st.PlayoutDelay = buf.PlayoutOffset + m - s.frameDur
	if e, ok := s.receiver.strategy.(*jitter.EWMA); ok {
		d, v := e.Estimates()
		st.D, st.V, st.HaveEWMA = d+m-s.frameDur, v, true
		cfg := e.Config()
		st.K, st.Alpha, st.Beta = cfg.K, cfg.Alpha, cfg.Beta
	}
	return st
}

// Stats summarises the call so far; elapsed is its length.
func (s *Session) Stats(elapsed time.Duration) Stats {
	snd := s.sender.Stats()
	rs := s.receiver.Stats()
	st := Stats{
		Codec:           s.receiver.codec.Name,
		Playout:         s.receiver.strategy.Name(),
		Duration:        elapsed.Seconds(),
		PacketsSent:     snd.Packets,
		PacketsReceived: rs.Packets,
		Expected:        rs.Expected,
		NetworkLost:     rs.Lost,
		LateLost:        rs.Late,
		Duplicates:      rs.Duplicates,
		Talkspurts:      rs.Spurts,
		Played:          rs.Played,
		Missing:         rs.MissingChunks,
		Malformed:       rs.Malformed + s.rep.malformed,
		WrongPayload:    rs.WrongPayload,
		RejectedSource:  rs.RejectedSource,
		SourceChanges:   rs.SourceChanges,
		ByeIgnored:      s.byeIgnored,
		Refused:         rs.Refused,
		Jitter:          ms(rs.Jitter),
		FEC:             s.fec,
		FECRecovered:    rs.Recovered,
		ResidualLost:    rs.ResidualLost,
		FECMalformed:    rs.FECMalformed,
		FECLate:         rs.FECLate,
		Interleave:      s.sender.ilDepth,
		PLC:             s.plc,
		Concealed:       rs.Concealed,
		ConcealedMs:     math.Round(float64(rs.ConcealedSamples)*1000/float64(s.rep.rate)*10) / 10,
	}
	if extra := s.rep.peerSent; extra > st.Expected {
		// The peer's sender reports count every media packet it sent; the
		// sequence numbers only those between the first and the last that
		// came. The rest (before the first, after the last, or all of
		// them) were lost too.
		extra -= st.Expected
		st.Expected += extra
		st.NetworkLost += extra
		st.ResidualLost += extra
	}
	if media := snd.Octets - snd.FECOctets; media > 0 {
		st.OverheadRatio = math.Round(float64(snd.FECOctets)/float64(media)*10000) / 10000
	}
	if m, ok := s.rep.mapping(s.anchorTS, s.anchorMedia); ok {
		if mean, ok := s.receiver.delays.mean(); ok {
			st.PlayoutDelayMean = msPtr(mean + m)
		}
		if p95, ok := s.receiver.delays.quantile(0.95); ok {
			st.PlayoutDelayP95 = msPtr(p95 + m)
		}
	}
	if b, ok := s.receiver.delays.bufferMean(); ok {
		st.BufferDelayMean = msPtr(b)
	}
	if s.rep.haveRTT {
		st.RTT = msPtr(s.rep.rtt)
	}
	if s.rep.haveRemote {
		lost := int64(s.rep.remoteLost)
		st.RemoteLost = &lost
		st.RemoteJitter = msPtr(time.Duration(s.rep.remoteJitter) * time.Second / time.Duration(s.rep.rate))
		st.RemoteAge = max(elapsed-s.rep.remoteAt, 0).Seconds()
	}
	switch e := s.receiver.strategy.(type) {
	case *jitter.EWMA:
		cfg := e.Config()
		st.K, st.Alpha, st.Beta = cfg.K, cfg.Alpha, cfg.Beta
	case *jitter.Spike:
		cfg := e.Config()
		st.K, st.Alpha, st.Beta = cfg.K, cfg.Alpha, cfg.Beta
	case *jitter.Fixed:
		st.FixedDelay = ms(e.Delay())
	}
	st.RFactor, st.MOS = st.quality()
	return st
}

// FrameDuration is the length of one captured frame (one packet's audio).
func (s *Session) FrameDuration() time.Duration { return s.frameDur }

// MediaSent reports whether any media packet has gone out.
func (s *Session) MediaSent() bool { return s.sender.Stats().Packets > 0 }

// Flush sends, at the end of the input, what the sender holds back: the last
// partial interleaving group and XOR parity group.
func (s *Session) Flush(send func(pkt []byte)) error { return s.sender.Flush(send) }

// RejectSource counts a datagram the caller dropped for coming from an
// address other than the peer's (rejected_source).
func (s *Session) RejectSource() { s.receiver.stats.RejectedSource++ }

// FromPeerStream reports whether pkt is RTP or RTCP of the peer's stream:
// version 2 and, once the receiver has locked onto the peer's SSRC, that
// SSRC (RTP's at byte 8, the RTCP sender's at byte 4).
func (s *Session) FromPeerStream(pkt []byte) bool {
	if len(pkt) < 12 || pkt[0]>>6 != 2 {
		return false
	}
	ssrcAt := 8 // RTP: after the sequence number and timestamp
	if IsRTCP(pkt) {
		ssrcAt = 4 // the sender's SSRC
	}
	src := &s.receiver.src
	return !src.locked || binary.BigEndian.Uint32(pkt[ssrcAt:]) == src.ssrc
}
