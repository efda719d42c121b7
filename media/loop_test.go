package media

import (
	"testing"
	"time"
)

// A side whose reports come back to it (a receive-only side aimed at its own
// port) hears nothing from them: they must not keep the call alive.
func TestOwnReportsAreNotThePeer(t *testing.T) {
	s, err := NewSession(SessionConfig{Codec: pcmu(t), Strategy: ewma(t), SSRC: 0x1234})
	if err != nil {
		t.Fatal(err)
	}
	own, err := s.Report(time.Second, time.Unix(1000, 0))
	if err != nil {
		t.Fatal(err)
	}
	if s.HandleDatagram(own, 2*time.Second, time.Unix(1001, 0)) {
		t.Error("our own report taken as media")
	}
	if at, heard := s.LastHeard(); heard {
		t.Errorf("our own report counts as hearing the peer (at %v)", at)
	}
	peer, err := NewSession(SessionConfig{Codec: pcmu(t), Strategy: ewma(t), SSRC: 0x5678})
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := peer.Report(time.Second, time.Unix(1000, 0))
	if err != nil {
		t.Fatal(err)
	}
	s.HandleDatagram(theirs, 3*time.Second, time.Unix(1002, 0))
	if at, heard := s.LastHeard(); !heard || at != 3*time.Second {
		t.Errorf("the peer's report: heard %v at %v, want at 3s", heard, at)
	}
}
