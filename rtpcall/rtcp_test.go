package rtpcall

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
	if !peer.peerBye {
		t.Error("peer did not see the BYE")
	}
	if peer.rtt != 30*time.Millisecond || peer.haveRemote {
		t.Errorf("BYE changed the peer's figures: rtt %v, remote view %v", peer.rtt, peer.haveRemote)
	}
}
