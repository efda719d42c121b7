package fec

import (
	"encoding/binary"
	"fmt"
	"github.com/spurtvoip/spurt/internal/rtpseq"
	"math/bits"

	"github.com/pion/rtp"
)

const (
	minWindow = 32   // enough for the largest group plus some reordering
	maxWindow = 1024 // 20 s of 20 ms packets; bounds the decoder's memory
)

// XORDecoderStats counts what an XORDecoder did with its input.
type XORDecoderStats struct {
	Recovered       uint64 // media packets rebuilt by Recover
	MediaDropped    uint64 // media packets not kept: not RTP version 2, shorter than an RTP header, longer than MaxPacketSize, or older than the window
	MediaDuplicates uint64 // media packets already held, received or rebuilt
	FECExpired      uint64 // FEC packets given up unused: they came too late or too early for the window, their group left the window with two or more packets missing, or a newer FEC packet needed the room
	FECUnusable     uint64 // FEC packets whose one missing packet could not be rebuilt: its recovered length exceeds the protection length
}

// XORDecoder rebuilds lost media packets of one RTP stream from RFC 5109
// ULPFEC packets (level 0; other levels are ignored). It remembers the
// media packets whose sequence numbers lie in a window ending at the newest
// one, and the FEC packets that may still be of use. Recover rebuilds every
// packet that is the only one missing from a group whose FEC packet is
// present; a group missing two or more packets is kept in case late packets
// or other FEC packets fill it in, and is given up once it leaves the window.
// Nothing is ever guessed: a rebuilt packet equals the one that was sent, bit
// for bit.
//
// The decoder does not know about playout time: a packet may be rebuilt
// before the real one arrives (when the FEC packet overtook it) or after its
// playout time has passed; the caller decides what to do with it. A packet
// that arrives after it was rebuilt counts as a duplicate.
//
// An XORDecoder is not safe for concurrent use.
type XORDecoder struct {
	fecPT   uint8
	window  int // a power of two, so that seq % window survives wraparound
	maxSpan int // the widest mask accepted: sequence numbers from SN base to the last protected packet

	media     []mediaSlot // indexed by seq % window
	mediaData []byte      // window × MaxPacketSize: slot i's packet starts at i×MaxPacketSize

	fec     []fecSlot
	fecData []byte // len(fec) × maxProtectedBytes: slot i's level 0 payload
	nextFEC int    // where the search for a free FEC slot starts; the oldest when all are taken
	pending int    // FEC slots in use

	started bool   // a media packet has been stored
	highest uint16 // newest sequence number stored; the window is (highest-window, highest]

	header  rtp.Header // reused to parse FEC packets
	rebuilt [MaxPacketSize]byte
	stats   XORDecoderStats
}

type mediaSlot struct {
	seq    uint16
	length int // 0 when the slot holds no packet
}

// fecSlot holds one parsed FEC packet; its payload is in XORDecoder.fecData.
type fecSlot struct {
	used       bool
	base       uint16 // SN base
	mask       uint64 // protected offsets from base, see maskBit
	bits0      byte   // P X CC recovery, low 6 bits
	bits1      byte   // M PT recovery
	tsXOR      uint32
	lengthXOR  uint16
	protection int    // level 0 protection length
	ssrc       uint32 // the FEC packet's SSRC, used only if no packet of the group was received
}

// NewXORDecoder returns a decoder for FEC packets of payload type fecPT.
// maxSpan is the group size the sender announced: a FEC packet whose mask
// reaches further than maxSpan sequence numbers from its SN base (past the
// group) is malformed. It is clamped to 1..48, the widest mask RFC 5109 has,
// and to the window. window is how many consecutive sequence numbers, ending
// at the newest media packet, the decoder remembers: it bounds how far back
// a lost packet can be rebuilt. It is clamped to 32..1024 and rounded up to
// a power of two. The decoder holds about 3 KB per window slot, allocated
// here once.
func NewXORDecoder(fecPT uint8, maxSpan, window int) *XORDecoder {
	window = max(minWindow, min(maxWindow, window))
	window = 1 << bits.Len(uint(window-1))
	return &XORDecoder{
		fecPT:     fecPT,
		window:    window,
		maxSpan:   max(1, min(maxSpan, longMaskBits, window)),
		media:     make([]mediaSlot, window),
		mediaData: make([]byte, window*MaxPacketSize),
		fec:       make([]fecSlot, window),
		fecData:   make([]byte, window*maxProtectedBytes),
	}
}

// Stats returns the decoder's counters.
func (d *XORDecoder) Stats() XORDecoderStats { return d.stats }

// AddMedia records a received media packet (whole, header included) with
// sequence number seq. The packet is copied; pkt may be reused at once.
// Packets the decoder cannot keep are counted in Stats and dropped.
func (d *XORDecoder) AddMedia(seq uint16, pkt []byte) {
	if len(pkt) < rtpHeaderSize || len(pkt) > MaxPacketSize || pkt[0]>>6 != rtpVersion {
		d.stats.MediaDropped++
		return
	}
	if d.packet(seq) != nil {
		d.stats.MediaDuplicates++
		return
	}
	if !d.admit(seq) {
		d.stats.MediaDropped++
		return
	}
	d.store(seq, pkt)
}

// AddFEC records a received FEC packet (whole, RTP header included). It
// returns an error wrapping ErrMalformed for a packet that is not a level 0
// ULPFEC packet of the decoder's payload type, whose lengths do not fit, or
// whose mask is empty or reaches past the group (see NewXORDecoder). A well-formed packet whose
// group lies outside the window is counted in Stats and dropped.
func (d *XORDecoder) AddFEC(pkt []byte) error {
	n, err := d.header.Unmarshal(pkt)
	if err != nil {
		return fmt.Errorf("fec: FEC packet: %w: %w", ErrMalformed, err)
	}
	if d.header.Version != rtpVersion {
		return fmt.Errorf("fec: FEC packet: %w: RTP version %d", ErrMalformed, d.header.Version)
	}
	if d.header.PayloadType != d.fecPT {
		return fmt.Errorf("fec: FEC packet: %w: payload type %d, want %d", ErrMalformed, d.header.PayloadType, d.fecPT)
	}
	end := len(pkt)
	if d.header.Padding {
		padding := 0
		if end > n {
			padding = int(pkt[end-1])
		}
		if padding == 0 || padding > end-n {
			return fmt.Errorf("fec: FEC packet: %w: padding count %d does not fit %d bytes after the header", ErrMalformed, padding, end-n)
		}
		end -= padding
	}
	body := pkt[n:end]
	if len(body) < fecHeaderSize+ulpHeaderShortSize {
		return fmt.Errorf("fec: FEC packet: %w: %d bytes cannot hold the FEC and ULP headers", ErrMalformed, len(body))
	}
	if body[0]&fecExtensionFlag != 0 {
		return fmt.Errorf("fec: FEC packet: %w: E bit set (reserved by RFC 5109)", ErrMalformed)
	}
	ulp := body[fecHeaderSize:]
	protection := int(binary.BigEndian.Uint16(ulp[0:2]))
	mask := uint64(binary.BigEndian.Uint16(ulp[2:4])) << 32
	ulpSize := ulpHeaderShortSize
	if body[0]&fecLongMaskFlag != 0 {
		if len(ulp) < ulpHeaderLongSize {
			return fmt.Errorf("fec: FEC packet: %w: %d bytes cannot hold a long-mask ULP header", ErrMalformed, len(ulp))
		}
		mask |= uint64(binary.BigEndian.Uint32(ulp[4:8]))
		ulpSize = ulpHeaderLongSize
	}
	payload := ulp[ulpSize:]
	if protection > len(payload) {
		return fmt.Errorf("fec: FEC packet: %w: protection length %d is more than the %d bytes present", ErrMalformed, protection, len(payload))
	}
	if protection > maxProtectedBytes {
		return fmt.Errorf("fec: FEC packet: %w: protection length %d protects packets longer than %d bytes", ErrMalformed, protection, MaxPacketSize)
	}
	span := maskSpan(mask)
	if span == 0 {
		return fmt.Errorf("fec: FEC packet: %w: mask protects no packet", ErrMalformed)
	}
	if span > d.maxSpan {
		return fmt.Errorf("fec: FEC packet: %w: mask spans %d packets, more than the group of %d", ErrMalformed, span, d.maxSpan)
	}
	base := binary.BigEndian.Uint16(body[2:4])
	if d.started {
		if ahead := int(int16(base - d.highest)); ahead <= -d.window || ahead >= d.window {
			d.stats.FECExpired++
			return nil
		}
	}

	i := d.freeFECSlot()
	if !d.fec[i].used {
		d.pending++
	}
	d.fec[i] = fecSlot{
		used:       true,
		base:       base,
		mask:       mask,
		bits0:      body[0] & recoveredBits0Mask,
		bits1:      body[1],
		tsXOR:      binary.BigEndian.Uint32(body[4:8]),
		lengthXOR:  binary.BigEndian.Uint16(body[8:10]),
		protection: protection,
		ssrc:       d.header.SSRC,
	}
	copy(d.fecPayload(i), payload[:protection])
	return nil
}

// Recover rebuilds every missing media packet that can be rebuilt from the
// packets and FEC packets held, calls fn with each (the slice is valid only
// during the call, and fn must not call Recover), and returns how many it
// rebuilt. A rebuilt packet is kept like a received one, so it can complete
// other groups and is never delivered twice.
func (d *XORDecoder) Recover(fn func(pkt []byte)) int {
	recovered := 0
	if d.pending == 0 {
		return 0
	}
	// A packet rebuilt from one FEC packet may make another group
	// recoverable, so sweep again after any progress; every productive sweep
	// uses up at least one FEC packet, which bounds the sweeps.
	for range len(d.fec) {
		progress := false
		for i := range d.fec {
			f := &d.fec[i]
			if !f.used {
				continue
			}
			if d.started && d.behind(f.base) >= d.window {
				d.freeFEC(f)
				d.stats.FECExpired++
				continue
			}
			missing, lost := d.missing(f)
			if missing > 1 {
				continue
			}
			d.freeFEC(f)
			if missing == 0 {
				continue
			}
			pkt, ok := d.rebuild(i, lost)
			if !ok {
				d.stats.FECUnusable++
				continue
			}
			d.admit(lost) // always admitted: the group's base is in the window
			d.store(lost, pkt)
			recovered++
			d.stats.Recovered++
			progress = true
			fn(pkt)
		}
		if !progress || d.pending == 0 {
			break
		}
	}
	return recovered
}

// missing counts the packets of f's group that are not held (stopping at 2)
// and returns the sequence number of the last one found.
func (d *XORDecoder) missing(f *fecSlot) (count int, lost uint16) {
	for mask := f.mask; mask != 0; {
		low := bits.TrailingZeros64(mask)
		mask &^= 1 << low
		seq := f.base + uint16(longMaskBits-1-low)
		if d.packet(seq) == nil {
			count++
			lost = seq
			if count > 1 {
				break
			}
		}
	}
	return count, lost
}

// rebuild XORs FEC slot i with the held packets of its group to rebuild
// packet lost, as RFC 5109's recovery procedure does. It fails when the recovered length is
// more than the protection length, so that the bytes past it are unknown.
func (d *XORDecoder) rebuild(i int, lost uint16) ([]byte, bool) {
	f := &d.fec[i]
	out := d.rebuilt[:]
	protected := out[rtpHeaderSize : rtpHeaderSize+f.protection]
	copy(protected, d.fecPayload(i))
	bits0, bits1, ts, length, ssrc := f.bits0, f.bits1, f.tsXOR, f.lengthXOR, f.ssrc
	haveSSRC := false
	for mask := f.mask; mask != 0; {
		low := bits.TrailingZeros64(mask)
		mask &^= 1 << low
		seq := f.base + uint16(longMaskBits-1-low)
		if seq == lost {
			continue
		}
		p := d.packet(seq)
		bits0 ^= p[0]
		bits1 ^= p[1]
		ts ^= binary.BigEndian.Uint32(p[4:8])
		length ^= uint16(len(p) - rtpHeaderSize)
		xorInto(protected, p[rtpHeaderSize:])
		if !haveSSRC {
			// All packets of a group share the media SSRC, which the FEC
			// packet's SSRC need not be (RFC 5109 lets FEC use its own).
			ssrc = binary.BigEndian.Uint32(p[8:12])
			haveSSRC = true
		}
	}
	if int(length) > f.protection {
		return nil, false
	}
	out[0] = rtpVersion<<6 | bits0&recoveredBits0Mask
	out[1] = bits1
	binary.BigEndian.PutUint16(out[2:4], lost)
	binary.BigEndian.PutUint32(out[4:8], ts)
	binary.BigEndian.PutUint32(out[8:12], ssrc)
	return out[:rtpHeaderSize+int(length)], true
}

// admit moves the window forward to take seq if it is newer than any packet
// held, and reports whether seq is in the window. A sequence number far
// behind the window means the sender restarted its sequence: everything
// held is dropped and the window starts again at seq.
func (d *XORDecoder) admit(seq uint16) bool {
	if !d.started {
		d.started = true
		d.highest = seq
		return true
	}
	ahead := int(int16(seq - d.highest))
	switch {
	case ahead > 0:
		// Sequence numbers entering the window must not find the packets
		// window places before them in their slots.
		for k := 1; k <= min(ahead, d.window); k++ {
			d.media[d.index(d.highest+uint16(k))].length = 0
		}
		d.highest = seq
		return true
	case -ahead < d.window:
		return true
	case -ahead > rtpseq.MaxDropout:
		// too far behind to be a late packet: the sender restarted its sequence
		d.restart(seq)
		return true
	default:
		return false
	}
}

// restart forgets everything and starts the window at seq.
func (d *XORDecoder) restart(seq uint16) {
	clear(d.media)
	for i := range d.fec {
		if d.fec[i].used {
			d.freeFEC(&d.fec[i])
			d.stats.FECExpired++
		}
	}
	d.highest = seq
}

// behind returns how many places seq is behind the newest packet (negative
// when it is ahead).
func (d *XORDecoder) behind(seq uint16) int { return int(int16(d.highest - seq)) }

// store copies pkt into the slot of seq, which admit has let in.
func (d *XORDecoder) store(seq uint16, pkt []byte) {
	i := d.index(seq)
	d.media[i] = mediaSlot{seq: seq, length: copy(d.mediaData[i*MaxPacketSize:(i+1)*MaxPacketSize], pkt)}
}

// packet returns the held packet with sequence number seq, or nil.
func (d *XORDecoder) packet(seq uint16) []byte {
	i := d.index(seq)
	s := d.media[i]
	if s.length == 0 || s.seq != seq {
		return nil
	}
	return d.mediaData[i*MaxPacketSize : i*MaxPacketSize+s.length]
}

func (d *XORDecoder) index(seq uint16) int { return int(seq) & (d.window - 1) }

func (d *XORDecoder) fecPayload(i int) []byte {
	return d.fecData[i*maxProtectedBytes : i*maxProtectedBytes+d.fec[i].protection]
}

func (d *XORDecoder) freeFEC(f *fecSlot) {
	f.used = false
	d.pending--
}

// freeFECSlot returns a free FEC slot, or frees the oldest.
func (d *XORDecoder) freeFECSlot() int {
	for k := range len(d.fec) {
		i := (d.nextFEC + k) % len(d.fec)
		if !d.fec[i].used {
			d.nextFEC = (i + 1) % len(d.fec)
			return i
		}
	}
	i := d.nextFEC
	d.nextFEC = (i + 1) % len(d.fec)
	d.stats.FECExpired++
	return i
}
