package signaling

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
)

// DefaultPTime is the packetisation time used when a Session leaves PTime zero
// and assumed when a description carries no a=ptime.
const DefaultPTime = 20 * time.Millisecond

// maxPTime bounds a=ptime; nothing sensible packs more than a second of audio
// into one RTP packet.
const maxPTime = time.Second

// Format is one RTP payload format offered or accepted (an m= line format with
// its rtpmap/fmtp).
type Format struct {
	PayloadType uint8
	Name        string // encoding name as in rtpmap, e.g. "PCMU", "red", "ulpfec"
	ClockRate   int
	Fmtp        string // a=fmtp parameters, "" if none
	// Channels is the rtpmap encoding parameter for audio: 0 when not stated
	// (which means mono), otherwise the channel count as written.
	Channels int
}

// Attribute is an extra media-level attribute (later: candidate, ice-ufrag, ...).
// An empty Value is written as a property attribute ("a=Key").
type Attribute struct{ Key, Value string }

// Session is what one side says about its audio stream.
type Session struct {
	// SessionID goes into the o= line. It does not affect negotiation; use
	// NewSessionID for a fresh one.
	SessionID uint64
	Formats   []Format       // in preference order
	RTPAddr   netip.AddrPort // where this side receives RTP (and RTCP, rtcp-mux)
	PTime     time.Duration  // packetisation time, DefaultPTime if zero
	Extra     []Attribute
}

// NewSessionID returns a random SDP session id below 2^62, so that peers that
// read it as a signed 64-bit number cope too.
func NewSessionID() uint64 {
	return rand.Uint64() >> 2
}

// staticFormat returns the audio format RFC 3551 (table 4) assigns statically
// to pt, used for an m= line format that has no rtpmap.
func staticFormat(pt uint8) (Format, bool) {
	f := Format{PayloadType: pt, ClockRate: 8000}
	switch pt {
	case 0:
		f.Name = "PCMU"
	case 3:
		f.Name = "GSM"
	case 4:
		f.Name = "G723"
	case 5:
		f.Name = "DVI4"
	case 6:
		f.Name, f.ClockRate = "DVI4", 16000
	case 7:
		f.Name = "LPC"
	case 8:
		f.Name = "PCMA"
	case 9:
		f.Name = "G722" // 8000 by RFC 3551's historical convention, though sampled at 16 kHz
	case 10:
		f.Name, f.ClockRate, f.Channels = "L16", 44100, 2
	case 11:
		f.Name, f.ClockRate = "L16", 44100
	case 12:
		f.Name = "QCELP"
	case 13:
		f.Name = "CN"
	case 14:
		f.Name, f.ClockRate = "MPA", 90000
	case 15:
		f.Name = "G728"
	case 16:
		f.Name, f.ClockRate = "DVI4", 11025
	case 17:
		f.Name, f.ClockRate = "DVI4", 22050
	case 18:
		f.Name = "G729"
	default:
		return Format{}, false
	}
	return f, true
}

// Attribute names Session models itself; they cannot appear in Extra.
const (
	attrRTPMap   = "rtpmap"
	attrFmtp     = "fmtp"
	attrPTime    = "ptime"
	attrRTCPMux  = "rtcp-mux"
	attrSendRecv = "sendrecv"
)

func isModelledAttribute(key string) bool {
	switch key {
	case attrRTPMap, attrFmtp, attrPTime, attrRTCPMux, attrSendRecv, "sendonly", "recvonly", "inactive":
		return true
	}
	return false
}

// Marshal renders s as SDP: v=0, o=, s=spurt, c=, t=0 0, one m=audio line over
// RTP/AVP, a=rtpmap for every format (static ones too), a=fmtp where set,
// a=ptime, a=rtcp-mux, a=sendrecv and then the extra attributes. The output
// depends only on s. It fails for a session ParseSession would reject, and for
// an RTPAddr the peer cannot send to (unset, 0.0.0.0 or ::, multicast, port 0,
// an IPv6 zone): a socket bound to ":0" must advertise a concrete address,
// e.g. the IP of Conn.LocalAddr.
func (s Session) Marshal() ([]byte, error) {
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("signaling: marshaling session: %w", err)
	}
	addr := s.RTPAddr.Addr().Unmap()
	addrType := "IP4"
	if addr.Is6() {
		addrType = "IP6"
	}
	ptime := s.PTime
	if ptime == 0 {
		ptime = DefaultPTime
	}

	media := &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media:  "audio",
			Port:   sdp.RangedPort{Value: int(s.RTPAddr.Port())},
			Protos: []string{"RTP", "AVP"},
		},
	}
	for _, f := range s.Formats {
		pt := strconv.Itoa(int(f.PayloadType))
		media.MediaName.Formats = append(media.MediaName.Formats, pt)
		rtpmap := pt + " " + f.Name + "/" + strconv.Itoa(f.ClockRate)
		if f.Channels != 0 {
			rtpmap += "/" + strconv.Itoa(f.Channels)
		}
		media.Attributes = append(media.Attributes, sdp.NewAttribute(attrRTPMap, rtpmap))
	}
	for _, f := range s.Formats {
		if f.Fmtp != "" {
			media.Attributes = append(media.Attributes,
				sdp.NewAttribute(attrFmtp, strconv.Itoa(int(f.PayloadType))+" "+f.Fmtp))
		}
	}
	media.Attributes = append(media.Attributes,
		sdp.NewAttribute(attrPTime, formatPTime(ptime)),
		sdp.NewPropertyAttribute(attrRTCPMux),
		sdp.NewPropertyAttribute(attrSendRecv),
	)
	for _, a := range s.Extra {
		if a.Value == "" {
			media.Attributes = append(media.Attributes, sdp.NewPropertyAttribute(a.Key))
		} else {
			media.Attributes = append(media.Attributes, sdp.NewAttribute(a.Key, a.Value))
		}
	}

	desc := sdp.SessionDescription{
		Origin: sdp.Origin{
			Username:       "-",
			SessionID:      s.SessionID,
			SessionVersion: 1,
			NetworkType:    "IN",
			AddressType:    addrType,
			UnicastAddress: addr.String(),
		},
		SessionName: "spurt",
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN",
			AddressType: addrType,
			Address:     &sdp.Address{Address: addr.String()},
		},
		TimeDescriptions:  []sdp.TimeDescription{{}},
		MediaDescriptions: []*sdp.MediaDescription{media},
	}
	out, err := desc.Marshal()
	if err != nil {
		return nil, fmt.Errorf("signaling: marshaling session: %w", err)
	}
	return out, nil
}

// validate checks everything Marshal would otherwise write as broken SDP.
func (s Session) validate() error {
	if err := validateRTPAddr(s.RTPAddr); err != nil {
		return err
	}
	if s.PTime < 0 || s.PTime > maxPTime || s.PTime%time.Microsecond != 0 {
		return fmt.Errorf("ptime %v: want a whole number of microseconds in (0, %v]", s.PTime, maxPTime)
	}
	if len(s.Formats) == 0 {
		return errors.New("no formats")
	}
	var seen [128]bool
	for _, f := range s.Formats {
		if err := validatePayloadType(int(f.PayloadType)); err != nil {
			return err
		}
		if seen[f.PayloadType] {
			return fmt.Errorf("payload type %d listed twice", f.PayloadType)
		}
		seen[f.PayloadType] = true
		if f.Name == "" || strings.ContainsFunc(f.Name, isNotTokenChar) || strings.Contains(f.Name, "/") {
			return fmt.Errorf("payload type %d: bad encoding name %q", f.PayloadType, f.Name)
		}
		if f.ClockRate <= 0 || f.ClockRate > maxClockRate {
			return fmt.Errorf("payload type %d (%s): clock rate %d out of range", f.PayloadType, f.Name, f.ClockRate)
		}
		if f.Channels < 0 || f.Channels > maxChannels {
			return fmt.Errorf("payload type %d (%s): channel count %d out of range", f.PayloadType, f.Name, f.Channels)
		}
		if strings.ContainsAny(f.Fmtp, "\r\n\x00") || f.Fmtp != strings.TrimSpace(f.Fmtp) {
			return fmt.Errorf("payload type %d (%s): bad fmtp %q", f.PayloadType, f.Name, f.Fmtp)
		}
	}
	for _, a := range s.Extra {
		if isModelledAttribute(a.Key) {
			return fmt.Errorf("extra attribute %q: set through the Session fields instead", a.Key)
		}
		if err := validateExtra(a); err != nil {
			return err
		}
	}
	return nil
}

func validateExtra(a Attribute) error {
	if a.Key == "" || strings.ContainsFunc(a.Key, isNotTokenChar) || strings.Contains(a.Key, ":") {
		return fmt.Errorf("attribute: bad name %q", a.Key)
	}
	if strings.ContainsAny(a.Value, "\r\n\x00") {
		return fmt.Errorf("attribute %q: value contains a line break or NUL", a.Key)
	}
	return nil
}

const (
	maxClockRate = 1 << 30
	maxChannels  = 255
)

// isNotTokenChar reports characters that cannot appear inside an SDP token.
func isNotTokenChar(r rune) bool {
	return r <= ' ' || r >= 0x7f
}

func validateRTPAddr(ap netip.AddrPort) error {
	addr := ap.Addr()
	switch {
	case !addr.IsValid():
		return errors.New("RTP address not set")
	case addr.Zone() != "":
		return fmt.Errorf("RTP address %v: SDP cannot carry an IPv6 zone", addr)
	case addr.IsUnspecified():
		return fmt.Errorf("RTP address %v is unspecified: advertise an address the peer can send to", addr)
	case addr.IsMulticast():
		return fmt.Errorf("RTP address %v is multicast: want unicast", addr)
	case ap.Port() == 0:
		return fmt.Errorf("RTP address %v: port 0", ap)
	}
	return nil
}

// validatePayloadType accepts RTP payload types usable with rtcp-mux: 0..127
// except 64..95, which would collide with RTCP packet types (RFC 5761 §4).
func validatePayloadType(pt int) error {
	switch {
	case pt < 0 || pt > 127:
		return fmt.Errorf("payload type %d out of range 0..127", pt)
	case pt >= 64 && pt <= 95:
		return fmt.Errorf("payload type %d collides with RTCP under rtcp-mux (RFC 5761)", pt)
	}
	return nil
}

// formatPTime writes d in milliseconds, with up to three decimals.
func formatPTime(d time.Duration) string {
	ms := int64(d / time.Millisecond)
	us := int64(d % time.Millisecond / time.Microsecond)
	if us == 0 {
		return strconv.FormatInt(ms, 10)
	}
	frac := strings.TrimRight(fmt.Sprintf("%03d", us), "0")
	return strconv.FormatInt(ms, 10) + "." + frac
}

// parsePTime reads a=ptime: milliseconds, optionally with a fraction, kept to
// microsecond precision.
func parsePTime(v string) (time.Duration, error) {
	whole, frac, _ := strings.Cut(v, ".")
	if whole == "" || len(whole) > 6 || !isDigits(whole) || !isDigits(frac) {
		return 0, fmt.Errorf("bad ptime %q", v)
	}
	ms, err := strconv.Atoi(whole)
	if err != nil {
		return 0, fmt.Errorf("bad ptime %q: %w", v, err)
	}
	d := time.Duration(ms) * time.Millisecond
	scale := 100 * time.Microsecond
	for i := 0; i < len(frac) && i < 3; i++ {
		d += time.Duration(frac[i]-'0') * scale
		scale /= 10
	}
	if d <= 0 || d > maxPTime {
		return 0, fmt.Errorf("ptime %q out of range (0, %v]", v, maxPTime)
	}
	return d, nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// ParseSession reads an SDP description and keeps what Spurt uses.
//
// It requires exactly one m=audio line (other media lines are ignored) with
// transport RTP/AVP, a port in 1..65535, a unicast c= address at session or
// media level (media level wins), payload types 0..127 outside 64..95, an
// rtpmap for every payload type without a static RFC 3551 assignment (a static
// one without rtpmap gets its RFC 3551 name and rate), a=rtcp-mux, and a
// direction of sendrecv (explicit or implied). Media-level attributes other
// than rtpmap, fmtp, ptime, rtcp-mux and the direction end up in Extra;
// session-level attributes are ignored.
func ParseSession(b []byte) (Session, error) {
	s, err := parseSession(b)
	if err != nil {
		return Session{}, fmt.Errorf("signaling: parsing session: %w", err)
	}
	return s, nil
}

func parseSession(b []byte) (Session, error) {
	if len(b) > MaxMessageSize {
		return Session{}, fmt.Errorf("description of %d bytes exceeds %d", len(b), MaxMessageSize)
	}
	var desc sdp.SessionDescription
	if err := desc.Unmarshal(b); err != nil {
		return Session{}, err
	}
	var audio *sdp.MediaDescription
	for _, m := range desc.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		if audio != nil {
			return Session{}, errors.New("more than one m=audio line")
		}
		audio = m
	}
	if audio == nil {
		return Session{}, errors.New("no m=audio line")
	}

	s := Session{SessionID: desc.Origin.SessionID, PTime: DefaultPTime}
	if proto := strings.Join(audio.MediaName.Protos, "/"); proto != "RTP/AVP" {
		return Session{}, fmt.Errorf("m=audio transport %q, want RTP/AVP", proto)
	}
	port := audio.MediaName.Port
	if port.Range != nil {
		return Session{}, fmt.Errorf("m=audio port range %d/%d not supported", port.Value, *port.Range)
	}
	if port.Value < 1 || port.Value > 65535 {
		return Session{}, fmt.Errorf("m=audio port %d: want 1..65535 (0 means the stream is rejected)", port.Value)
	}
	conn := desc.ConnectionInformation
	if audio.ConnectionInformation != nil {
		conn = audio.ConnectionInformation
	}
	addr, err := parseConnectionAddress(conn)
	if err != nil {
		return Session{}, err
	}
	s.RTPAddr = netip.AddrPortFrom(addr, uint16(port.Value))

	s.Formats, err = parseFormats(audio)
	if err != nil {
		return Session{}, err
	}

	direction := attrSendRecv
	for _, a := range desc.Attributes {
		if isDirection(a.Key) {
			direction = a.Key
		}
	}
	rtcpMux := false
	for _, a := range audio.Attributes {
		switch {
		case a.Key == attrRTPMap || a.Key == attrFmtp:
			// Handled by parseFormats.
		case a.Key == attrPTime:
			if s.PTime, err = parsePTime(a.Value); err != nil {
				return Session{}, err
			}
		case a.Key == attrRTCPMux:
			rtcpMux = true
		case isDirection(a.Key):
			direction = a.Key
		default:
			extra := Attribute{Key: a.Key, Value: a.Value}
			if err := validateExtra(extra); err != nil {
				return Session{}, err
			}
			s.Extra = append(s.Extra, extra)
		}
	}
	if direction != attrSendRecv {
		return Session{}, fmt.Errorf("direction %s not supported, want sendrecv", direction)
	}
	if !rtcpMux {
		return Session{}, errors.New("no a=rtcp-mux: Spurt sends RTCP on the RTP port (RFC 5761)")
	}
	return s, nil
}

func isDirection(key string) bool {
	switch key {
	case attrSendRecv, "sendonly", "recvonly", "inactive":
		return true
	}
	return false
}

func parseConnectionAddress(conn *sdp.ConnectionInformation) (netip.Addr, error) {
	if conn == nil || conn.Address == nil {
		return netip.Addr{}, errors.New("no c= address at session or media level")
	}
	addr, err := netip.ParseAddr(conn.Address.Address)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("c= address %q: %w", conn.Address.Address, err)
	}
	switch {
	case addr.Zone() != "":
		return netip.Addr{}, fmt.Errorf("c= address %q: zones are not allowed", conn.Address.Address)
	case conn.AddressType == "IP4" && !addr.Is4():
		return netip.Addr{}, fmt.Errorf("c= address %q is not IPv4", conn.Address.Address)
	case conn.AddressType == "IP6" && !addr.Is6():
		return netip.Addr{}, fmt.Errorf("c= address %q is not IPv6", conn.Address.Address)
	case addr.IsUnspecified() || addr.IsMulticast():
		return netip.Addr{}, fmt.Errorf("c= address %v: want a unicast address", addr)
	}
	return addr.Unmap(), nil
}

// parseFormats lists the m= line formats in order, named by their rtpmap or
// their static assignment, with their fmtp.
func parseFormats(audio *sdp.MediaDescription) ([]Format, error) {
	if len(audio.MediaName.Formats) == 0 {
		return nil, errors.New("m=audio line lists no formats")
	}
	if len(audio.MediaName.Formats) > 128 {
		return nil, fmt.Errorf("m=audio line lists %d formats", len(audio.MediaName.Formats))
	}
	var (
		listed    [128]bool
		hasRTPMap [128]bool
		rtpmap    [128]Format
		hasFmtp   [128]bool
		fmtp      [128]string
	)
	formats := make([]Format, 0, len(audio.MediaName.Formats))
	for _, field := range audio.MediaName.Formats {
		pt, err := parsePayloadType(field)
		if err != nil {
			return nil, fmt.Errorf("m=audio format: %w", err)
		}
		if listed[pt] {
			return nil, fmt.Errorf("m=audio lists payload type %d twice", pt)
		}
		listed[pt] = true
		formats = append(formats, Format{PayloadType: pt})
	}

	for _, a := range audio.Attributes {
		switch a.Key {
		case attrRTPMap:
			f, err := parseRTPMap(a.Value)
			if err != nil {
				return nil, err
			}
			if hasRTPMap[f.PayloadType] {
				return nil, fmt.Errorf("two rtpmap lines for payload type %d", f.PayloadType)
			}
			hasRTPMap[f.PayloadType], rtpmap[f.PayloadType] = true, f
		case attrFmtp:
			field, params, _ := strings.Cut(a.Value, " ")
			pt, err := parsePayloadType(field)
			if err != nil {
				return nil, fmt.Errorf("a=fmtp:%s: %w", a.Value, err)
			}
			params = strings.TrimSpace(params)
			if params == "" || strings.ContainsAny(params, "\r\n\x00") {
				return nil, fmt.Errorf("a=fmtp:%s: bad parameters", a.Value)
			}
			if hasFmtp[pt] {
				return nil, fmt.Errorf("two fmtp lines for payload type %d", pt)
			}
			hasFmtp[pt], fmtp[pt] = true, params
		}
	}

	for i, f := range formats {
		pt := f.PayloadType
		if hasRTPMap[pt] {
			formats[i] = rtpmap[pt]
		} else {
			static, ok := staticFormat(pt)
			if !ok {
				return nil, fmt.Errorf("payload type %d has no rtpmap and no static assignment", pt)
			}
			formats[i] = static
		}
		formats[i].Fmtp = fmtp[pt]
	}
	return formats, nil
}

func parsePayloadType(field string) (uint8, error) {
	if field == "" || len(field) > 3 || !isDigits(field) {
		return 0, fmt.Errorf("bad payload type %q", field)
	}
	pt, err := strconv.Atoi(field)
	if err != nil {
		return 0, fmt.Errorf("bad payload type %q: %w", field, err)
	}
	if err := validatePayloadType(pt); err != nil {
		return 0, err
	}
	return uint8(pt), nil
}

// parseRTPMap reads "<pt> <name>/<clock rate>[/<channels>]" (RFC 8866 §6.6).
func parseRTPMap(v string) (Format, error) {
	field, encoding, ok := strings.Cut(v, " ")
	if !ok {
		return Format{}, fmt.Errorf("a=rtpmap:%s: want \"<pt> <name>/<rate>\"", v)
	}
	pt, err := parsePayloadType(field)
	if err != nil {
		return Format{}, fmt.Errorf("a=rtpmap:%s: %w", v, err)
	}
	parts := strings.Split(strings.TrimSpace(encoding), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || strings.ContainsFunc(parts[0], isNotTokenChar) {
		return Format{}, fmt.Errorf("a=rtpmap:%s: want \"<pt> <name>/<rate>[/<channels>]\"", v)
	}
	f := Format{PayloadType: pt, Name: parts[0]}
	if f.ClockRate, err = parseBoundedInt(parts[1], maxClockRate); err != nil || f.ClockRate == 0 {
		return Format{}, fmt.Errorf("a=rtpmap:%s: bad clock rate %q", v, parts[1])
	}
	if len(parts) == 3 {
		if f.Channels, err = parseBoundedInt(parts[2], maxChannels); err != nil || f.Channels == 0 {
			return Format{}, fmt.Errorf("a=rtpmap:%s: bad channel count %q", v, parts[2])
		}
	}
	return f, nil
}

func parseBoundedInt(s string, limit int) (int, error) {
	if s == "" || len(s) > 10 || !isDigits(s) {
		return 0, fmt.Errorf("not a decimal number: %q", s)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, err
	}
	if n > limit {
		return 0, fmt.Errorf("%d exceeds %d", n, limit)
	}
	return n, nil
}
