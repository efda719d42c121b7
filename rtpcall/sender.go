package rtpcall

import (
	"errors"
	"fmt"

	"github.com/pion/rtp"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/vad"
)

// maxPacketSize bounds every RTP packet Spurt builds or accepts (an Ethernet MTU's worth).
const maxPacketSize = 1500

// SenderConfig configures the send pipeline of one call.
type SenderConfig struct {
	Codec          codec.Codec
	SSRC           uint32
	InitialSeq     uint16
	InitialTime    uint32        // RTP timestamp of the first frame
	VAD            *vad.Detector // nil sends every frame (no silence suppression)
	FrameSamples   int           // samples per chunk; 160 (20 ms at 8 kHz) when zero
	MaxPayloadSize int           // refuse frames that encode larger; maxPacketSize-12 when zero
	// RED sends redundant audio (RFC 2198) when non-nil with a Distance above zero.
	RED *REDConfig
}

// SenderStats counts what the send pipeline produced.
type SenderStats struct {
	Frames     uint64 // frames offered to the sender
	Suppressed uint64 // frames not sent because the VAD judged them silence
	Packets    uint64 // RTP packets built
	Octets     uint64 // payload octets in those packets (RFC 3550's sender octet count)
	FECOctets  uint64 // of those, RED block headers and redundant copies (the rest is the primary audio)
	Spurts     uint64 // talk spurts begun (packets sent with the marker bit)
}

// Sender is the clockless send pipeline: 20 ms frames in, RTP packets out. It
// suppresses silence with a voice activity detector so that speech leaves as
// talk spurts, marks the first packet of every spurt (RFC 3551 section 4.1) and
// advances the timestamp by one frame per frame, across silence too.
type Sender struct {
	enc        codec.Encoder
	vad        *vad.Detector
	header     rtp.Header
	frame      int
	maxPayload int
	inSpurt    bool
	payload    []byte
	red        *redEncoder // nil: plain audio
	packet     [maxPacketSize]byte
	stats      SenderStats
}

// NewSender builds a send pipeline.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if cfg.Codec.NewEncoder == nil {
		return nil, errors.New("rtpcall: sender needs a codec")
	}
	frame := cfg.FrameSamples
	if frame == 0 {
		frame = 160
	}
	if frame <= 0 || (cfg.Codec.FrameSamples > 0 && frame%cfg.Codec.FrameSamples != 0) {
		return nil, fmt.Errorf("rtpcall: frame of %d samples does not fit codec %s", frame, cfg.Codec.Name)
	}
	maxPayload := cfg.MaxPayloadSize
	if maxPayload == 0 {
		maxPayload = maxPacketSize - 12
	}
	var red *redEncoder
	if cfg.RED != nil && cfg.RED.Distance > 0 {
		if err := cfg.RED.validate(cfg.Codec); err != nil {
			return nil, err
		}
		if sf := cfg.RED.Secondary.FrameSamples; sf > 0 && frame%sf != 0 {
			return nil, fmt.Errorf("rtpcall: frame of %d samples does not fit RED secondary %s", frame, cfg.RED.Secondary.Name)
		}
		red = newREDEncoder(cfg.RED, cfg.Codec.PayloadType)
	}
	pt := cfg.Codec.PayloadType
	if red != nil {
		pt = red.pt
	}
	return &Sender{
		red: red,
		enc: cfg.Codec.NewEncoder(),
		vad: cfg.VAD,
		header: rtp.Header{
			Version:        2,
			PayloadType:    pt,
			SequenceNumber: cfg.InitialSeq,
			Timestamp:      cfg.InitialTime,
			SSRC:           cfg.SSRC,
		},
		frame:      frame,
		maxPayload: maxPayload,
		payload:    make([]byte, 0, maxPacketSize),
	}, nil
}

// Frame takes the next frame of captured speech and returns the RTP packet to
// send for it, or nil when the frame is silence and suppressed. The packet is
// valid until the next call. The timestamp advances by one frame either way.
func (s *Sender) Frame(pcm []int16) ([]byte, error) {
	if len(pcm) != s.frame {
		return nil, fmt.Errorf("rtpcall: frame has %d samples, want %d", len(pcm), s.frame)
	}
	s.stats.Frames++
	defer func() { s.header.Timestamp += uint32(s.frame) }()

	if s.vad != nil && !s.vad.Speech(pcm) {
		s.stats.Suppressed++
		s.inSpurt = false
		return nil, nil
	}
	payload, err := s.enc.Encode(s.payload[:0], pcm)
	if err != nil {
		return nil, fmt.Errorf("rtpcall: encoding frame: %w", err)
	}
	if len(payload) > s.maxPayload {
		return nil, fmt.Errorf("rtpcall: encoded frame of %d bytes exceeds %d", len(payload), s.maxPayload)
	}
	s.payload = payload
	primary := len(payload)
	if s.red != nil {
		if payload, err = s.red.build(pcm, payload, s.header.SequenceNumber, s.header.Timestamp, s.frame); err != nil {
			return nil, err
		}
		if len(payload) > s.maxPayload {
			return nil, fmt.Errorf("rtpcall: RED payload of %d bytes exceeds %d", len(payload), s.maxPayload)
		}
	}
	s.header.Marker = !s.inSpurt
	if s.header.Marker {
		s.stats.Spurts++
	}
	s.inSpurt = true
	n, err := rtp.MarshalPacketTo(s.packet[:], &s.header, payload)
	if err != nil {
		return nil, fmt.Errorf("rtpcall: building RTP packet: %w", err)
	}
	s.header.SequenceNumber++
	s.stats.Packets++
	s.stats.Octets += uint64(len(payload))
	s.stats.FECOctets += uint64(len(payload) - primary)
	return s.packet[:n], nil
}

// Timestamp is the RTP timestamp the next frame will carry.
func (s *Sender) Timestamp() uint32 { return s.header.Timestamp }

// SSRC is the synchronisation source this sender stamps on its packets.
func (s *Sender) SSRC() uint32 { return s.header.SSRC }

// Stats reports what the sender has produced so far.
func (s *Sender) Stats() SenderStats { return s.stats }
