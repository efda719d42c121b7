//go:build race

package nat

// raceEnabled: the race detector adds allocations (sync.Pool, used by the
// HMAC of MESSAGE-INTEGRITY, drops items at random), so allocation counts
// are not checked under it.
const raceEnabled = true
