package ctxwait

import (
	"context"
	"sync/atomic"
	"testing"
	"time"
)

func TestAfterFuncRunsOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	stop := AfterFunc(ctx, func() { close(ran) })
	defer stop()
	cancel()
	select {
	case <-ran:
	case <-time.After(5 * time.Second):
		t.Fatal("f did not run after the context was cancelled")
	}
}

// stop waits for a running f, so that nothing f does happens after it.
func TestAfterFuncStopWaits(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var finished atomic.Bool
	started := make(chan struct{})
	stop := AfterFunc(ctx, func() {
		close(started)
		time.Sleep(50 * time.Millisecond)
		finished.Store(true)
	})
	cancel()
	<-started
	stop()
	if !finished.Load() {
		t.Error("stop returned while f was still running")
	}
}

func TestAfterFuncStoppedNeverRuns(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var ran atomic.Bool
	stop := AfterFunc(ctx, func() { ran.Store(true) })
	stop()
	cancel()
	time.Sleep(10 * time.Millisecond)
	if ran.Load() {
		t.Error("f ran after stop")
	}
}
