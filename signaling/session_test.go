package signaling

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestSessionRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		s    Session
	}{
		{
			name: "IPv4 static PCMU",
			s: Session{
				SessionID: 1,
				Formats:   []Format{{PayloadType: 0, Name: "PCMU", ClockRate: 8000}},
				RTPAddr:   netip.MustParseAddrPort("192.0.2.7:40000"),
				PTime:     20 * time.Millisecond,
			},
		},
		{
			name: "IPv6 dynamic formats with fmtp and extras",
			s: Session{
				SessionID: 1<<62 - 1,
				Formats: []Format{
					{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
					{PayloadType: 96, Name: "red", ClockRate: 8000, Fmtp: "8/8"},
					{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"},
					{PayloadType: 127, Name: "ulpfec", ClockRate: 8000},
				},
				RTPAddr: netip.MustParseAddrPort("[2001:db8::42]:5004"),
				PTime:   40 * time.Millisecond,
				Extra: []Attribute{
					{Key: "ice-ufrag", Value: "F7gI"},
					{Key: "candidate", Value: "1 1 UDP 2130706431 192.0.2.7 5004 typ host"},
					{Key: "end-of-candidates"},
				},
			},
		},
		{
			name: "static formats with explicit channels, fractional ptime",
			s: Session{
				Formats: []Format{
					{PayloadType: 3, Name: "GSM", ClockRate: 8000},
					{PayloadType: 10, Name: "L16", ClockRate: 44100, Channels: 2},
					{PayloadType: 13, Name: "CN", ClockRate: 8000, Channels: 1},
				},
				RTPAddr: netip.MustParseAddrPort("127.0.0.1:1"),
				PTime:   2500 * time.Microsecond,
			},
		},
		{
			name: "preference order kept, highest port",
			s: Session{
				SessionID: 99,
				Formats: []Format{
					{PayloadType: 120, Name: "opus", ClockRate: 48000, Channels: 2, Fmtp: "minptime=10;useinbandfec=1"},
					{PayloadType: 9, Name: "G722", ClockRate: 8000},
					{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
					{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
				},
				RTPAddr: netip.MustParseAddrPort("10.1.2.3:65535"),
				PTime:   time.Second,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := tt.s.Marshal()
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got, err := ParseSession(b)
			if err != nil {
				t.Fatalf("ParseSession: %v\n%s", err, b)
			}
			if !reflect.DeepEqual(got, tt.s) {
				t.Errorf("round trip changed the session\n got %+v\nwant %+v\nSDP:\n%s", got, tt.s, b)
			}
			again, err := got.Marshal()
			if err != nil {
				t.Fatalf("second Marshal: %v", err)
			}
			if string(again) != string(b) {
				t.Errorf("Marshal not deterministic:\n%s\nvs\n%s", b, again)
			}
		})
	}
}

func TestMarshalLines(t *testing.T) {
	s := Session{
		SessionID: 7,
		Formats: []Format{
			{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
			{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"},
		},
		RTPAddr: netip.MustParseAddrPort("198.51.100.1:7078"),
		Extra:   []Attribute{{Key: "x-test", Value: "1"}},
	}
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := "v=0\r\n" +
		"o=- 7 1 IN IP4 198.51.100.1\r\n" +
		"s=spurt\r\n" +
		"c=IN IP4 198.51.100.1\r\n" +
		"t=0 0\r\n" +
		"m=audio 7078 RTP/AVP 0 101\r\n" +
		"a=rtpmap:0 PCMU/8000\r\n" +
		"a=rtpmap:101 telephone-event/8000\r\n" +
		"a=fmtp:101 0-15\r\n" +
		"a=ptime:20\r\n" +
		"a=rtcp-mux\r\n" +
		"a=sendrecv\r\n" +
		"a=x-test:1\r\n"
	if string(b) != want {
		t.Errorf("Marshal:\n%s\nwant:\n%s", b, want)
	}
}

func TestMarshalMapsIPv4InIPv6(t *testing.T) {
	s := Session{
		Formats: []Format{{PayloadType: 0, Name: "PCMU", ClockRate: 8000}},
		RTPAddr: netip.MustParseAddrPort("[::ffff:192.0.2.1]:4000"),
	}
	b, err := s.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "c=IN IP4 192.0.2.1\r\n") {
		t.Errorf("IPv4-mapped address not written as IP4:\n%s", b)
	}
}

// sdpText builds a description from lines, CRLF-terminated.
func sdpText(lines ...string) []byte {
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

var validHead = []string{"v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4 192.0.2.1", "t=0 0"}

func withHead(lines ...string) []byte {
	return sdpText(append(append([]string{}, validHead...), lines...)...)
}

func TestParseSessionForeign(t *testing.T) {
	tests := []struct {
		name string
		sdp  []byte
		want Session
	}{
		{
			name: "static payload types without rtpmap get RFC 3551 names",
			sdp:  withHead("m=audio 4000 RTP/AVP 3 8 0 13", "a=rtcp-mux"),
			want: Session{
				SessionID: 1,
				Formats: []Format{
					{PayloadType: 3, Name: "GSM", ClockRate: 8000},
					{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
					{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
					{PayloadType: 13, Name: "CN", ClockRate: 8000},
				},
				RTPAddr: netip.MustParseAddrPort("192.0.2.1:4000"),
				PTime:   DefaultPTime,
			},
		},
		{
			name: "other static payload types",
			sdp:  withHead("m=audio 4000 RTP/AVP 9 10 18", "a=rtcp-mux"),
			want: Session{
				SessionID: 1,
				Formats: []Format{
					{PayloadType: 9, Name: "G722", ClockRate: 8000},
					{PayloadType: 10, Name: "L16", ClockRate: 44100, Channels: 2},
					{PayloadType: 18, Name: "G729", ClockRate: 8000},
				},
				RTPAddr: netip.MustParseAddrPort("192.0.2.1:4000"),
				PTime:   DefaultPTime,
			},
		},
		{
			name: "media-level c= wins, video ignored, LF line ends, fractional ptime",
			sdp: []byte("v=0\no=alice 2890844526 2890844527 IN IP4 192.0.2.1\ns=call\n" +
				"c=IN IP4 192.0.2.1\nt=0 0\na=tool:foo\n" +
				"m=video 5000 RTP/AVP 31\n" +
				"m=audio 4002 RTP/AVP 97 0\nc=IN IP6 2001:db8::9\n" +
				"a=rtpmap:97 iLBC/8000\na=fmtp:97  mode=30 \na=ptime:30.25\na=maxptime:60\na=sendrecv\na=rtcp-mux\n"),
			want: Session{
				SessionID: 2890844526,
				Formats: []Format{
					{PayloadType: 97, Name: "iLBC", ClockRate: 8000, Fmtp: "mode=30"},
					{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
				},
				RTPAddr: netip.MustParseAddrPort("[2001:db8::9]:4002"),
				PTime:   30250 * time.Microsecond,
				Extra:   []Attribute{{Key: "maxptime", Value: "60"}},
			},
		},
		{
			name: "session-level c= only, rtpmap overrides static name, mapped IPv6",
			sdp: sdpText("v=0", "o=- 5 1 IN IP6 ::1", "s=-", "c=IN IP6 ::ffff:198.51.100.3", "t=0 0",
				"m=audio 9 RTP/AVP 0", "a=rtpmap:0 pcmu/8000/1", "a=rtcp-mux"),
			want: Session{
				SessionID: 5,
				Formats:   []Format{{PayloadType: 0, Name: "pcmu", ClockRate: 8000, Channels: 1}},
				RTPAddr:   netip.MustParseAddrPort("198.51.100.3:9"),
				PTime:     DefaultPTime,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseSession(tt.sdp)
			if err != nil {
				t.Fatalf("ParseSession: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestParseSessionRejects(t *testing.T) {
	tests := []struct {
		name    string
		sdp     []byte
		wantErr string
	}{
		{"empty", nil, "no m=audio"},
		{"garbage", []byte("hello, world\n"), "syntax error"},
		{"binary", []byte{0xff, 0x00, '=', 1}, "parsing session"},
		{"no m=audio", withHead("m=video 5000 RTP/AVP 31", "a=rtcp-mux"), "no m=audio"},
		{"two m=audio", withHead("m=audio 5000 RTP/AVP 0", "a=rtcp-mux", "m=audio 5002 RTP/AVP 0", "a=rtcp-mux"), "more than one"},
		{"port 0", withHead("m=audio 0 RTP/AVP 0", "a=rtcp-mux"), "port 0"},
		{"port range", withHead("m=audio 5000/2 RTP/AVP 0", "a=rtcp-mux"), "port range"},
		{"transport SAVP", withHead("m=audio 5000 RTP/SAVP 0", "a=rtcp-mux"), "transport"},
		{"no formats", withHead("m=audio 5000 RTP/AVP", "a=rtcp-mux"), "no formats"},
		{
			"missing c=",
			sdpText("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "t=0 0", "m=audio 5000 RTP/AVP 0", "a=rtcp-mux"),
			"no c= address",
		},
		{
			"c= without address",
			sdpText("v=0", "o=- 1 1 IN IP4 192.0.2.1", "s=-", "c=IN IP4", "t=0 0", "m=audio 5000 RTP/AVP 0", "a=rtcp-mux"),
			"no c= address",
		},
		{
			"c= hostname",
			sdpText("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 host.example", "t=0 0", "m=audio 5000 RTP/AVP 0", "a=rtcp-mux"),
			"c= address",
		},
		{
			"c= IP4 with IPv6 address",
			sdpText("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 ::1", "t=0 0", "m=audio 5000 RTP/AVP 0", "a=rtcp-mux"),
			"not IPv4",
		},
		{
			"c= multicast with TTL",
			sdpText("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 224.2.1.1/127", "t=0 0", "m=audio 5000 RTP/AVP 0", "a=rtcp-mux"),
			"c= address",
		},
		{
			"c= unspecified",
			sdpText("v=0", "o=- 1 1 IN IP4 h", "s=-", "c=IN IP4 0.0.0.0", "t=0 0", "m=audio 5000 RTP/AVP 0", "a=rtcp-mux"),
			"unicast",
		},
		{"dynamic PT without rtpmap", withHead("m=audio 5000 RTP/AVP 96", "a=rtcp-mux"), "payload type 96 has no rtpmap"},
		{"unassigned PT without rtpmap", withHead("m=audio 5000 RTP/AVP 20", "a=rtcp-mux"), "payload type 20 has no rtpmap"},
		{"PT above 127", withHead("m=audio 5000 RTP/AVP 128", "a=rtcp-mux"), "out of range"},
		{"PT in RTCP range", withHead("m=audio 5000 RTP/AVP 72", "a=rtpmap:72 x/8000", "a=rtcp-mux"), "collides with RTCP"},
		{"PT not a number", withHead("m=audio 5000 RTP/AVP pcmu", "a=rtcp-mux"), "bad payload type"},
		{"PT listed twice", withHead("m=audio 5000 RTP/AVP 0 0", "a=rtcp-mux"), "twice"},
		{"rtpmap without rate", withHead("m=audio 5000 RTP/AVP 96", "a=rtpmap:96 opus", "a=rtcp-mux"), "rtpmap"},
		{"rtpmap zero rate", withHead("m=audio 5000 RTP/AVP 96", "a=rtpmap:96 opus/0", "a=rtcp-mux"), "clock rate"},
		{"rtpmap twice", withHead("m=audio 5000 RTP/AVP 96", "a=rtpmap:96 a/8000", "a=rtpmap:96 b/8000", "a=rtcp-mux"), "two rtpmap"},
		{"fmtp without parameters", withHead("m=audio 5000 RTP/AVP 0", "a=fmtp:0", "a=rtcp-mux"), "fmtp"},
		{"bad ptime", withHead("m=audio 5000 RTP/AVP 0", "a=ptime:abc", "a=rtcp-mux"), "ptime"},
		{"zero ptime", withHead("m=audio 5000 RTP/AVP 0", "a=ptime:0", "a=rtcp-mux"), "ptime"},
		{"huge ptime", withHead("m=audio 5000 RTP/AVP 0", "a=ptime:100000", "a=rtcp-mux"), "ptime"},
		{"no rtcp-mux", withHead("m=audio 5000 RTP/AVP 0"), "rtcp-mux"},
		{"sendonly", withHead("m=audio 5000 RTP/AVP 0", "a=rtcp-mux", "a=sendonly"), "direction sendonly"},
		{"session-level inactive", withHead("a=inactive", "m=audio 5000 RTP/AVP 0", "a=rtcp-mux"), "direction inactive"},
		{"attribute without name", withHead("m=audio 5000 RTP/AVP 0", "a=rtcp-mux", "a=:x"), "bad name"},
		{"too large", withHead("m=audio 5000 RTP/AVP 0", "a=rtcp-mux", "a=x:"+strings.Repeat("y", MaxMessageSize)), "exceeds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSession(tt.sdp)
			if err == nil {
				t.Fatalf("ParseSession accepted it: %+v", s)
			}
			if !strings.HasPrefix(err.Error(), "signaling: parsing session: ") || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestMarshalRejects(t *testing.T) {
	good := func() Session {
		return Session{
			Formats: []Format{{PayloadType: 0, Name: "PCMU", ClockRate: 8000}},
			RTPAddr: netip.MustParseAddrPort("192.0.2.1:4000"),
		}
	}
	if _, err := good().Marshal(); err != nil {
		t.Fatalf("baseline session rejected: %v", err)
	}
	tests := []struct {
		name    string
		edit    func(*Session)
		wantErr string
	}{
		{"no formats", func(s *Session) { s.Formats = nil }, "no formats"},
		{"address unset", func(s *Session) { s.RTPAddr = netip.AddrPort{} }, "not set"},
		{"address unspecified", func(s *Session) { s.RTPAddr = netip.MustParseAddrPort("0.0.0.0:4000") }, "unspecified"},
		{"IPv6 unspecified", func(s *Session) { s.RTPAddr = netip.MustParseAddrPort("[::]:4000") }, "unspecified"},
		{"port 0", func(s *Session) { s.RTPAddr = netip.MustParseAddrPort("192.0.2.1:0") }, "port 0"},
		{"multicast", func(s *Session) { s.RTPAddr = netip.MustParseAddrPort("224.0.0.1:4000") }, "multicast"},
		{"zone", func(s *Session) { s.RTPAddr = netip.MustParseAddrPort("[fe80::1%eth0]:4000") }, "zone"},
		{"PT 128", func(s *Session) { s.Formats[0].PayloadType = 128 }, "out of range"},
		{"PT 72", func(s *Session) { s.Formats[0].PayloadType = 72 }, "RTCP"},
		{"duplicate PT", func(s *Session) { s.Formats = append(s.Formats, s.Formats[0]) }, "twice"},
		{"empty name", func(s *Session) { s.Formats[0].Name = "" }, "encoding name"},
		{"name with space", func(s *Session) { s.Formats[0].Name = "PC MU" }, "encoding name"},
		{"name with slash", func(s *Session) { s.Formats[0].Name = "PCMU/8000" }, "encoding name"},
		{"clock rate 0", func(s *Session) { s.Formats[0].ClockRate = 0 }, "clock rate"},
		{"negative channels", func(s *Session) { s.Formats[0].Channels = -1 }, "channel"},
		{"fmtp with newline", func(s *Session) { s.Formats[0].Fmtp = "a=1\r\na=evil" }, "fmtp"},
		{"fmtp with outer space", func(s *Session) { s.Formats[0].Fmtp = " x" }, "fmtp"},
		{"extra reserved", func(s *Session) { s.Extra = []Attribute{{Key: "rtpmap", Value: "0 X/1"}} }, "Session fields"},
		{"extra direction", func(s *Session) { s.Extra = []Attribute{{Key: "recvonly"}} }, "Session fields"},
		{"extra empty key", func(s *Session) { s.Extra = []Attribute{{Value: "x"}} }, "bad name"},
		{"extra key with colon", func(s *Session) { s.Extra = []Attribute{{Key: "a:b"}} }, "bad name"},
		{"extra value newline", func(s *Session) { s.Extra = []Attribute{{Key: "x", Value: "1\nm=video 1 RTP/AVP 31"}} }, "line break"},
		{"negative ptime", func(s *Session) { s.PTime = -time.Millisecond }, "ptime"},
		{"ptime too long", func(s *Session) { s.PTime = 2 * time.Second }, "ptime"},
		{"ptime below microsecond", func(s *Session) { s.PTime = 20*time.Millisecond + 1 }, "ptime"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good()
			tt.edit(&s)
			b, err := s.Marshal()
			if err == nil {
				t.Fatalf("Marshal accepted it:\n%s", b)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want it to mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestPTimeText(t *testing.T) {
	tests := []struct {
		text string
		d    time.Duration
	}{
		{"20", 20 * time.Millisecond},
		{"1", time.Millisecond},
		{"2.5", 2500 * time.Microsecond},
		{"0.125", 125 * time.Microsecond},
		{"1000", time.Second},
	}
	for _, tt := range tests {
		if got := formatPTime(tt.d); got != tt.text {
			t.Errorf("formatPTime(%v) = %q, want %q", tt.d, got, tt.text)
		}
		if got, err := parsePTime(tt.text); err != nil || got != tt.d {
			t.Errorf("parsePTime(%q) = %v, %v; want %v", tt.text, got, err, tt.d)
		}
	}
	for _, bad := range []string{"", ".5", "-20", "+20", "20ms", "1e3", "NaN", "0", "0.0001", "1000.001", "9999999"} {
		if d, err := parsePTime(bad); err == nil {
			t.Errorf("parsePTime(%q) = %v, want error", bad, d)
		}
	}
	if d, err := parsePTime("20.0000009"); err != nil || d != 20*time.Millisecond {
		t.Errorf("parsePTime drops digits below a microsecond: got %v, %v", d, err)
	}
}

func TestNewSessionIDRange(t *testing.T) {
	seen := map[uint64]bool{}
	for range 100 {
		id := NewSessionID()
		if id >= 1<<62 {
			t.Fatalf("NewSessionID() = %d, want < 2^62", id)
		}
		seen[id] = true
	}
	if len(seen) < 99 {
		t.Errorf("NewSessionID repeated itself: %d distinct of 100", len(seen))
	}
}

func FuzzParseSession(f *testing.F) {
	seed := Session{
		SessionID: 3,
		Formats: []Format{
			{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
			{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"},
		},
		RTPAddr: netip.MustParseAddrPort("[2001:db8::1]:4000"),
		Extra:   []Attribute{{Key: "candidate", Value: "1 1 UDP 1 192.0.2.1 4000 typ host"}},
	}
	b, err := seed.Marshal()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(withHead("m=audio 4000 RTP/AVP 3 8 0 13", "a=rtcp-mux", "a=ptime:30.5"))
	f.Add(withHead("m=video 1 RTP/AVP 31", "m=audio 4000 RTP/AVP 96", "a=rtpmap:96 opus/48000/2", "a=rtcp-mux"))
	f.Add([]byte("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0\nc=IN IP4 1.2.3.4\na=rtcp-mux\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSession(data)
		if err != nil {
			return
		}
		// Whatever parses must marshal and parse back to the same session.
		out, err := s.Marshal()
		if err != nil {
			t.Fatalf("parsed session does not marshal: %v\n%+v", err, s)
		}
		again, err := ParseSession(out)
		if err != nil {
			t.Fatalf("marshaled session does not parse: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(again, s) {
			t.Fatalf("round trip changed the session\n got %+v\nwant %+v", again, s)
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	s := Session{
		SessionID: 3,
		Formats: []Format{
			{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
			{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
			{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"},
		},
		RTPAddr: netip.MustParseAddrPort("192.0.2.1:4000"),
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Marshal(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseSession(b *testing.B) {
	s := Session{
		SessionID: 3,
		Formats: []Format{
			{PayloadType: 0, Name: "PCMU", ClockRate: 8000},
			{PayloadType: 8, Name: "PCMA", ClockRate: 8000},
			{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"},
		},
		RTPAddr: netip.MustParseAddrPort("192.0.2.1:4000"),
	}
	sdp, err := s.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseSession(sdp); err != nil {
			b.Fatal(err)
		}
	}
}
