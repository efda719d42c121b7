package signaling

import (
	"errors"
	"net/netip"
	"reflect"
	"testing"
	"time"
)

var (
	pcmu   = Format{PayloadType: 0, Name: "PCMU", ClockRate: 8000}
	gsm    = Format{PayloadType: 3, Name: "GSM", ClockRate: 8000}
	pcma   = Format{PayloadType: 8, Name: "PCMA", ClockRate: 8000}
	cn     = Format{PayloadType: 13, Name: "CN", ClockRate: 8000}
	dtmf   = Format{PayloadType: 101, Name: "telephone-event", ClockRate: 8000, Fmtp: "0-15"}
	dtmf48 = Format{PayloadType: 110, Name: "telephone-event", ClockRate: 48000, Fmtp: "0-15"}
	red    = Format{PayloadType: 99, Name: "red", ClockRate: 8000, Fmtp: "8/8"}

	answerAddr = netip.MustParseAddrPort("192.0.2.99:6000")
)

func offerOf(formats ...Format) Session {
	return Session{
		SessionID: 11,
		Formats:   formats,
		RTPAddr:   netip.MustParseAddrPort("192.0.2.1:4000"),
		PTime:     30 * time.Millisecond,
	}
}

func TestAnswerPicksOfferersFirstSupported(t *testing.T) {
	tests := []struct {
		name      string
		offer     Session
		supported []string
		want      Format
	}{
		{"offer order beats supported order", offerOf(gsm, pcma, pcmu), []string{"PCMU", "PCMA"}, pcma},
		{"first format wins when supported", offerOf(pcmu, pcma), []string{"PCMA", "PCMU"}, pcmu},
		{"case-insensitive", offerOf(gsm, pcmu), []string{"pcmu"}, pcmu},
		{"case-insensitive in offer", offerOf(Format{PayloadType: 0, Name: "pcmu", ClockRate: 8000}), []string{"PCMU"},
			Format{PayloadType: 0, Name: "pcmu", ClockRate: 8000}},
		{"dynamic payload type kept", offerOf(Format{PayloadType: 96, Name: "GSM", ClockRate: 8000}), []string{"gsm"},
			Format{PayloadType: 96, Name: "GSM", ClockRate: 8000}},
		{"auxiliary formats dropped without AlsoAccept", offerOf(dtmf, cn, pcmu), []string{"pcmu"}, pcmu},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := AnswerWith(tt.offer, AnswerOptions{Supported: tt.supported, RTPAddr: answerAddr})
			if err != nil {
				t.Fatalf("AnswerWith: %v", err)
			}
			want := Session{Formats: []Format{tt.want}, RTPAddr: answerAddr, PTime: DefaultPTime}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if _, err := got.Marshal(); err != nil {
				t.Errorf("answer does not marshal: %v", err)
			}
		})
	}
}

func TestAnswerNoCommonCodec(t *testing.T) {
	tests := []struct {
		name      string
		offer     Session
		supported []string
		aux       []string
		wantText  string
	}{
		{"one offered", offerOf(gsm), []string{"pcmu", "pcma"}, nil, "no common codec: offered [gsm], supported [pcmu pcma]"},
		{"names lower-cased", offerOf(gsm, dtmf), []string{"PCMU"}, nil, "no common codec: offered [gsm telephone-event], supported [pcmu]"},
		{"auxiliary formats are no codecs", offerOf(gsm, dtmf), []string{"PCMU"}, []string{"telephone-event"}, "no common codec: offered [gsm], supported [pcmu]"},
		{"nothing supported", offerOf(pcmu), nil, nil, "no common codec: offered [pcmu], supported []"},
		{"empty offer", offerOf(), []string{"pcmu"}, nil, "no common codec: offered [], supported [pcmu]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := AnswerWith(tt.offer, AnswerOptions{Supported: tt.supported, AlsoAccept: tt.aux, RTPAddr: answerAddr})
			var nc *NoCommonCodecError
			if !errors.As(err, &nc) {
				t.Fatalf("error %v (%T), want *NoCommonCodecError", err, err)
			}
			if err.Error() != tt.wantText {
				t.Errorf("error text %q, want %q", err, tt.wantText)
			}
			if len(nc.Offered) != len(tt.offer.Formats)-len(tt.aux) || len(nc.Supported) != len(tt.supported) {
				t.Errorf("error lists %v and %v, want %d offered and %d supported",
					nc.Offered, nc.Supported, len(tt.offer.Formats)-len(tt.aux), len(tt.supported))
			}
		})
	}
}

func TestAnswerWithAlsoAccept(t *testing.T) {
	tests := []struct {
		name  string
		offer Session
		opts  AnswerOptions
		want  []Format
	}{
		{
			name:  "auxiliary formats follow the codec in offer order",
			offer: offerOf(dtmf, red, gsm, pcmu, cn),
			opts:  AnswerOptions{Supported: []string{"pcmu"}, AlsoAccept: []string{"CN", "telephone-event", "RED"}},
			want:  []Format{pcmu, dtmf, red, cn},
		},
		{
			name:  "auxiliary at another clock rate is dropped",
			offer: offerOf(pcmu, dtmf48, dtmf),
			opts:  AnswerOptions{Supported: []string{"pcmu"}, AlsoAccept: []string{"telephone-event"}},
			want:  []Format{pcmu, dtmf},
		},
		{
			name:  "auxiliary not offered is not invented",
			offer: offerOf(pcma),
			opts:  AnswerOptions{Supported: []string{"pcmu", "pcma"}, AlsoAccept: []string{"telephone-event"}},
			want:  []Format{pcma},
		},
		{
			name:  "other supported codecs are not auxiliaries",
			offer: offerOf(pcmu, pcma),
			opts:  AnswerOptions{Supported: []string{"pcmu", "pcma"}},
			want:  []Format{pcmu},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.RTPAddr = answerAddr
			tt.opts.SessionID = 77
			tt.opts.PTime = 40 * time.Millisecond
			got, err := AnswerWith(tt.offer, tt.opts)
			if err != nil {
				t.Fatalf("AnswerWith: %v", err)
			}
			want := Session{SessionID: 77, Formats: tt.want, RTPAddr: answerAddr, PTime: 40 * time.Millisecond}
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
			if err := checkAnswer(tt.offer, got); err != nil {
				t.Errorf("answer inconsistent with offer: %v", err)
			}
		})
	}
}

func TestAnswerRejectsBadAddress(t *testing.T) {
	for _, addr := range []netip.AddrPort{{}, netip.MustParseAddrPort("0.0.0.0:4000"), netip.MustParseAddrPort("192.0.2.1:0")} {
		if s, err := AnswerWith(offerOf(pcmu), AnswerOptions{Supported: []string{"pcmu"}, RTPAddr: addr}); err == nil {
			t.Errorf("AnswerWith with RTP address %v = %+v, want error", addr, s)
		}
	}
}
