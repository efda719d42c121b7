package media

// Outcome says why a call ended.
type Outcome string

// Why a call ends.
const (
	EndedDuration    Outcome = "duration reached"
	EndedSourceDone  Outcome = "input sent and received audio played out"
	EndedPeerBye     Outcome = "peer hung up (RTCP BYE)"
	EndedPeerTimeout Outcome = "peer went silent"
	EndedCancelled   Outcome = "hung up locally"
	EndedStreamOver  Outcome = "the peer's stream stopped"
)
