// Package ctxwait unblocks I/O when a context ends: the shell packages use it
// to turn a cancelled context into a past deadline on a connection.
package ctxwait

import "context"

// AfterFunc runs f when ctx is done. The returned stop function prevents
// that or, if f has started, waits for it to finish, so that f never runs
// after stop returns (context.AfterFunc alone does not wait).
func AfterFunc(ctx context.Context, f func()) (stop func()) {
	done := make(chan struct{})
	stopAfter := context.AfterFunc(ctx, func() {
		defer close(done)
		f()
	})
	return func() {
		if !stopAfter() {
			<-done
		}
	}
}
