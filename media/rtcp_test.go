package media

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// TestByeCarriesNoReceptionReport: the BYE leaves outside the send-path
// impairment, so it must not give the peer an RTT or loss sample.
func TestByeCarriesNoReceptionReport(t *testing.T) {
	peer := reporter{ssrc: 2, cname: "b", rate: 8000}
	me := reporter{ssrc: 1, cname: "a", rate: 8000}
	peer.rtt, peer.haveRTT = 30*time.Millisecond, true
	peer.havePeer, peer.peerSSRC = true, 1

	b, err := me.bye()
	if err != nil {
		t.Fatal(err)
	}
	pkts, err := rtcp.Unmarshal(b)
	if err != nil {
		t.Fatalf("BYE compound does not parse: %v", err)
	}
	if len(pkts) != 3 {
		t.Fatalf("BYE compound has %d packets, want RR, SDES, BYE", len(pkts))
	}
	if rr, ok := pkts[0].(*rtcp.ReceiverReport); !ok || len(rr.Reports) != 0 {
		t.Errorf("first packet %T %+v, want an empty receiver report", pkts[0], pkts[0])
	}
	peer.handle(b, time.Second, time.Unix(100, 0))
	if !peer.byeHeard {
		t.Error("peer did not see the BYE")
	}
	if peer.rtt != 30*time.Millisecond || peer.haveRemote {
		t.Errorf("BYE changed the peer's figures: rtt %v, remote view %v", peer.rtt, peer.haveRemote)
	}
}

// The clock mapping uses the SR's NTP time when the wall clocks agree, so an
// asymmetric path (5 ms there, 25 ms back) does not skew it; with unrelated
// wall clocks it falls back to half the round trip.
func TestMappingUsesAgreeingWallClocks(t *testing.T) {
	const rate = 8000
	sent := time.Unix(1_700_000_000, 250_000_000)
	for _, tt := range []struct {
		name       string
		peerOffset time.Duration // the peer's wall clock minus ours
		wantFlight time.Duration
	}{
		{"same clock", 0, 5 * time.Millisecond},
		{"peer a second ahead", time.Second, 15 * time.Millisecond},
		// A small offset passes for agreement: its error stays under the RTT.
		{"peer 3 ms behind", -3 * time.Millisecond, 8 * time.Millisecond},
		{"peer 10 ms ahead", 10 * time.Millisecond, 15 * time.Millisecond}, // -5 ms in flight: impossible
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := reporter{ssrc: 1, rate: rate}
			r.rtt, r.haveRTT = 30*time.Millisecond, true
			const firstTS = 1000
			// The SR's media time is 2 s after the stream's first timestamp.
			sr := &rtcp.SenderReport{SSRC: 2, NTPTime: ntpTime(sent.Add(tt.peerOffset)), RTPTime: firstTS + 2*rate}
			arrival := 10*time.Second + 5*time.Millisecond
			r.senderReport(sr, arrival, sent.Add(5*time.Millisecond))
			m, ok := r.mapping(firstTS, 0)
			if !ok {
				t.Fatal("no mapping after an SR")
			}
			// one-way delay of the SR = (r - t) + M
			got := arrival - 2*time.Second + m
			if d := got - tt.wantFlight; d < -time.Microsecond || d > time.Microsecond {
				t.Errorf("SR flight by the mapping %v, want %v", got, tt.wantFlight)
			}
		})
	}
}

// Without a round trip the mapping is known only when the wall clocks
// plausibly agree.
func TestMappingBeforeRTT(t *testing.T) {
	sent := time.Unix(1_700_000_000, 0)
	for _, tt := range []struct {
		name       string
		peerOffset time.Duration
		wantOK     bool
	}{
		{"same clock", 0, true},
		{"peer a minute ahead", time.Minute, false},
		{"peer a minute behind", -time.Minute, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := reporter{ssrc: 1, rate: 8000}
			sr := &rtcp.SenderReport{SSRC: 2, NTPTime: ntpTime(sent.Add(tt.peerOffset)), RTPTime: 1000}
			r.senderReport(sr, time.Second, sent.Add(7*time.Millisecond))
			m, ok := r.mapping(1000, 0)
			if ok != tt.wantOK {
				t.Fatalf("mapping known %v, want %v", ok, tt.wantOK)
			}
			if ok && time.Second+m != 7*time.Millisecond {
				t.Errorf("SR flight by the mapping %v, want 7ms", time.Second+m)
			}
		})
	}
}

func TestNTPRoundTrip(t *testing.T) {
	for _, ts := range []time.Time{time.Unix(0, 0), time.Unix(1_700_000_000, 999_999_999), time.Unix(2_000_000_000, 123_456_789)} {
		if d := fromNTP(ntpTime(ts)).Sub(ts); d < -time.Nanosecond || d > time.Nanosecond {
			t.Errorf("%v: NTP round trip off by %v", ts, d)
		}
	}
}

// The peer's view of our stream is as old as the report it came in: the
// summary says so, since the peer counts on after its last report.
func TestRemoteViewRemembersItsReport(t *testing.T) {
	me := reporter{ssrc: 1, cname: "a", rate: 8000}
	for i, at := range []time.Duration{2 * time.Second, 7 * time.Second} {
		b, err := rtcp.Marshal([]rtcp.Packet{&rtcp.ReceiverReport{SSRC: 2, Reports: []rtcp.ReceptionReport{{SSRC: 1, TotalLost: uint32(3 + i)}}}})
		if err != nil {
			t.Fatal(err)
		}
		me.handle(b, at, time.Unix(100, 0))
		if !me.haveRemote || me.remoteAt != at || me.remoteLost != int32(3+i) {
			t.Errorf("after a report at %v: remote view %v at %v, lost %d", at, me.haveRemote, me.remoteAt, me.remoteLost)
		}
	}
}
