package media

import (
	"errors"
	"fmt"
	"github.com/spurtvoip/spurt/internal/rtpseq"

	"github.com/pion/rtp"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/fec"
	"github.com/spurtvoip/spurt/interleave"
	"github.com/spurtvoip/spurt/vad"
)

// MaxPacketSize bounds every RTP packet Spurt builds or accepts (an Ethernet MTU's worth).
const MaxPacketSize = 1500

// SenderConfig configures the send pipeline of one call.
type SenderConfig struct {
	Codec          codec.Codec
	SSRC           uint32
	InitialSeq     uint16
	InitialTime    uint32        // RTP timestamp of the first frame
	VAD            *vad.Detector // nil sends every frame (no silence suppression)
	FrameSamples   int           // samples per chunk; 160 (20 ms at 8 kHz) when zero
	MaxPayloadSize int           // refuse frames that encode larger; MaxPacketSize-12 when zero
	// RED sends redundant audio (RFC 2198) when non-nil with a Distance above zero.
	RED *REDConfig
	// XOR sends an RFC 5109 parity packet after every GroupSize media
	// packets when non-nil with a GroupSize above zero (see xor.go).
	XOR *XORConfig
	// Interleave spreads every group of Depth chunks over Depth packets when
	// non-nil with a Depth above zero (see interleave.go).
	Interleave *InterleaveConfig
}

// SenderStats counts what the send pipeline produced.
type SenderStats struct {
	Frames     uint64 // frames offered to the sender
	Suppressed uint64 // frames not sent because the VAD judged them silence
	Packets    uint64 // RTP packets built
	Octets     uint64 // payload octets in those packets (RFC 3550's sender octet count)
	FECOctets  uint64 // of those, RED block headers and redundant copies, and XOR parity payloads (the rest is the primary audio)
	FECPackets uint64 // XOR parity packets built (not in Packets)
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
	clock      uint32 // RTP timestamp of the next frame
	frame      int
	maxPayload int
	inSpurt    bool
	payload    []byte
	red        *redEncoder             // nil: plain audio
	xor        *fec.XOREncoder         // nil: no parity
	il         *interleave.Interleaver // nil: one chunk per packet
	ilDepth    int
	ilFill     byte   // the codec's silence, to complete the last group at the end of the input
	ilPending  int    // chunks of the current group added so far
	groupTS    uint32 // timestamp of the current group's first chunk
	groupStart bool   // the current group begins a talk spurt
	packet     [MaxPacketSize]byte
	stats      SenderStats
}

// NewSender builds a send pipeline.
func NewSender(cfg SenderConfig) (*Sender, error) {
	if cfg.Codec.NewEncoder == nil {
		return nil, errors.New("rtpcall: sender needs a codec")
	}
	frame := cfg.FrameSamples
	if frame == 0 {
		frame = rtpseq.ChunkSamples(cfg.Codec.ClockRate)
	}
	if frame <= 0 || (cfg.Codec.FrameSamples > 0 && frame%cfg.Codec.FrameSamples != 0) {
		return nil, fmt.Errorf("rtpcall: frame of %d samples does not fit codec %s", frame, cfg.Codec.Name)
	}
	maxPayload := cfg.MaxPayloadSize
	if maxPayload == 0 {
		maxPayload = MaxPacketSize - 12
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
	var il *interleave.Interleaver
	ilDepth, ilFill := 0, byte(0)
	if cfg.Interleave != nil && cfg.Interleave.Depth > 0 {
		if red != nil {
			return nil, errors.New("rtpcall: interleaving and redundant audio cannot be combined")
		}
		if frame != InterleaveChunkBytes {
			return nil, fmt.Errorf("rtpcall: interleaving needs %d-sample frames", InterleaveChunkBytes)
		}
		enc, err := cfg.Codec.NewEncoder().Encode(nil, make([]int16, frame))
		if err != nil {
			return nil, fmt.Errorf("rtpcall: codec %s: %w", cfg.Codec.Name, err)
		}
		if err := cfg.Interleave.validate(cfg.Codec.PayloadType, len(enc)); err != nil {
			return nil, err
		}
		if il, err = interleave.NewInterleaver(cfg.Interleave.Depth, InterleaveChunkBytes); err != nil {
			return nil, fmt.Errorf("rtpcall: %w", err)
		}
		if ilFill, err = silenceByte(cfg.Codec); err != nil {
			return nil, err
		}
		ilDepth, pt = cfg.Interleave.Depth, cfg.Interleave.PayloadType
	}
	var xor *fec.XOREncoder
	if cfg.XOR != nil && cfg.XOR.GroupSize > 0 {
		if red != nil {
			return nil, errors.New("rtpcall: XOR parity and redundant audio cannot be combined")
		}
		if err := cfg.XOR.validate(pt); err != nil {
			return nil, err
		}
		var err error
		if xor, err = fec.NewXOREncoder(cfg.XOR.GroupSize, cfg.XOR.PayloadType, cfg.SSRC); err != nil {
			return nil, fmt.Errorf("rtpcall: %w", err)
		}
	}
	return &Sender{
		red:     red,
		xor:     xor,
		il:      il,
		ilDepth: ilDepth,
		ilFill:  ilFill,
		enc:     cfg.Codec.NewEncoder(),
		vad:     cfg.VAD,
		header: rtp.Header{
			Version:        2,
			PayloadType:    pt,
			SequenceNumber: cfg.InitialSeq,
			Timestamp:      cfg.InitialTime,
			SSRC:           cfg.SSRC,
		},
		clock:      cfg.InitialTime,
		frame:      frame,
		maxPayload: maxPayload,
		payload:    make([]byte, 0, MaxPacketSize),
	}, nil
}

// FramePackets takes the next frame of captured speech and calls send with
// each RTP packet to transmit now, in order: none during silence (and, when
// interleaving, until a group is complete), the media packet, or several
// (an interleaved group, XOR parity after the packets it protects). Each
// packet is valid only during its send call. The timestamp advances by one
// frame either way.
func (s *Sender) FramePackets(pcm []int16, send func(pkt []byte)) error {
	if len(pcm) != s.frame {
		return fmt.Errorf("rtpcall: frame has %d samples, want %d", len(pcm), s.frame)
	}
	s.stats.Frames++
	ts := s.clock
	s.clock += uint32(s.frame)

	speech := s.vad == nil || s.vad.Speech(pcm)
	if !speech && s.ilPending == 0 {
		s.stats.Suppressed++
		if s.inSpurt && s.xor != nil {
			s.flushParity(send)
		}
		s.inSpurt = false
		return nil
	}
	payload, err := s.enc.Encode(s.payload[:0], pcm)
	if err != nil {
		return fmt.Errorf("rtpcall: encoding frame: %w", err)
	}
	if len(payload) > s.maxPayload {
		return fmt.Errorf("rtpcall: encoded frame of %d bytes exceeds %d", len(payload), s.maxPayload)
	}
	s.payload = payload
	if s.il != nil {
		return s.interleaveFrame(payload, ts, send)
	}
	primary := len(payload)
	if s.red != nil {
		if payload, err = s.red.build(pcm, payload, s.header.SequenceNumber, ts, s.frame); err != nil {
			return err
		}
		if len(payload) > s.maxPayload {
			return fmt.Errorf("rtpcall: RED payload of %d bytes exceeds %d", len(payload), s.maxPayload)
		}
	}
	marker := !s.inSpurt
	s.inSpurt = true
	return s.emit(payload, primary, ts, marker, send)
}

// interleaveFrame adds an encoded chunk to the current group and sends the
// group's packets once it is complete.
func (s *Sender) interleaveFrame(payload []byte, ts uint32, send func([]byte)) error {
	if s.ilPending == 0 {
		s.groupTS, s.groupStart = ts, !s.inSpurt
	}
	s.inSpurt = true
	packets, err := s.il.Add(payload)
	if err != nil {
		return fmt.Errorf("rtpcall: interleaving: %w", err)
	}
	s.ilPending = (s.ilPending + 1) % s.ilDepth
	for j, p := range packets {
		if err := s.emit(p, len(p)-1, s.groupTS, s.groupStart && j == 0, send); err != nil {
			return err
		}
	}
	return nil
}

// emit builds the RTP packet for payload (of which primary bytes are audio,
// the rest redundancy), sends it, and sends the XOR parity it completes.
func (s *Sender) emit(payload []byte, primary int, ts uint32, marker bool, send func([]byte)) error {
	s.header.Marker = marker
	s.header.Timestamp = ts
	if marker {
		s.stats.Spurts++
	}
	n, err := rtp.MarshalPacketTo(s.packet[:], &s.header, payload)
	if err != nil {
		return fmt.Errorf("rtpcall: building RTP packet: %w", err)
	}
	s.header.SequenceNumber++
	s.stats.Packets++
	s.stats.Octets += uint64(len(payload))
	s.stats.FECOctets += uint64(len(payload) - primary)
	pkt := s.packet[:n]
	send(pkt)
	if s.xor == nil {
		return nil
	}
	parity, ok, err := s.xor.Add(pkt)
	if err != nil {
		return fmt.Errorf("rtpcall: XOR parity: %w", err)
	}
	if ok {
		s.sendParity(parity, send)
	}
	return nil
}

// Flush sends what the sender holds back, for the end of the input: with
// interleaving, a group of fewer than Depth chunks is completed with whole
// chunks of the codec's silence (timestamped after the last real chunk; the
// timestamp of the next frame moves past them) and its packets are sent;
// with XOR parity, a group of fewer than GroupSize packets gets its parity
// packet. It calls send as FramePackets does, and sends nothing when nothing
// is held back. Frames may follow: they start a new group.
func (s *Sender) Flush(send func(pkt []byte)) error {
	if s.il != nil && s.ilPending > 0 {
		packets, real := s.il.Flush(s.ilFill)
		s.clock += uint32((s.ilDepth - real) * s.frame)
		s.ilPending = 0
		for j, p := range packets {
			if err := s.emit(p, len(p)-1, s.groupTS, s.groupStart && j == 0, send); err != nil {
				return err
			}
		}
	}
	if s.xor != nil {
		s.flushParity(send)
	}
	return nil
}

// flushParity sends the parity of a group cut short by the end of a spurt.
func (s *Sender) flushParity(send func([]byte)) {
	if parity, ok := s.xor.Flush(); ok {
		s.sendParity(parity, send)
	}
}

func (s *Sender) sendParity(parity []byte, send func([]byte)) {
	s.stats.FECPackets++
	body := uint64(len(parity) - 12)
	s.stats.Octets += body
	s.stats.FECOctets += body
	send(parity)
}

// Timestamp is the RTP timestamp the next frame will carry.
func (s *Sender) Timestamp() uint32 { return s.clock }

// SSRC is the synchronisation source this sender stamps on its packets.
func (s *Sender) SSRC() uint32 { return s.header.SSRC }

// Stats reports what the sender has produced so far.
func (s *Sender) Stats() SenderStats { return s.stats }
