package media

import "time"

// A Player is a receive pipeline as its driver sees it: datagrams go in at
// their arrival time and audio comes out as the clock advances. *Receiver is
// one.
type Player interface {
	HandleRTP(datagram []byte, arrival time.Duration) (media bool)
	Render(now time.Duration, write func([]int16) error) error
}

// Arrive hands p a datagram that arrived at time at, after playing out
// everything due by then: the order of events of a shell that plays between
// reads. Drivers on a virtual clock (bench, the tests) go through it, so that
// they all interleave arrivals and playout alike. It returns the error of
// playing out, if any; the datagram is handed over regardless.
func Arrive(p Player, pkt []byte, at time.Duration, write func([]int16) error) error {
	err := p.Render(at, write)
	p.HandleRTP(pkt, at)
	return err
}
