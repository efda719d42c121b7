package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// waitFor waits (bounded) until p has written want to stderr.
func waitFor(t *testing.T, p *proc, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.stderr.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q from the process:\n%s", want, p.stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestExitCtrlCWhileWaiting: Ctrl-C while waiting for a call exits the same
// way whether the side waits directly or through `call serve`: 130, saying
// no call connected.
func TestExitCtrlCWhileWaiting(t *testing.T) {
	t.Parallel()
	direct := listenAt(t, freePort(t), "--in", "none", "--out", "none", "--quiet")
	port := freePort(t)
	serveAt(t, port)
	server := fmt.Sprintf("127.0.0.1:%d", port)
	via := start(t, "listen", "--via", server, "--room", "exit-test", "--in", "none", "--out", "none", "--quiet")
	waitFor(t, via, "joined the room")
	viaDial := start(t, "dial", "--via", server, "--room", "nobody-here", "--in", "none", "--out", "none", "--quiet")
	// a dialer alone in its room (a mistyped code) says so, not silence
	waitFor(t, viaDial, "nobody is in room nobody-here yet: waiting")
	for _, p := range []*proc{direct, via, viaDial} {
		if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
			t.Fatal(err)
		}
	}
	for name, p := range map[string]*proc{"listen": direct, "listen --via": via, "dial --via": viaDial} {
		if code := p.wait(t, 5*time.Second); code != exitInterrupted || !strings.Contains(p.stderr.String(), errInterrupted.Error()) {
			t.Errorf("%s: exit code %d after Ctrl-C while waiting, want %d and %q:\n%s",
				name, code, exitInterrupted, errInterrupted, p.stderr.String())
		}
	}
}

// TestViaServerDownFailsAtOnce: a rendezvous server that is down fails the
// call at once (exit 1), before the STUN queries that would take seconds.
func TestViaServerDownFailsAtOnce(t *testing.T) {
	t.Parallel()
	down := fmt.Sprintf("127.0.0.1:%d", freePort(t)) // nothing listens there
	began := time.Now()
	p := start(t, "dial", "--via", down, "--room", "abc", "--in", "none", "--out", "none", "--quiet")
	code := p.wait(t, 10*time.Second)
	if took := time.Since(began); code != 1 || took > 2*time.Second || !strings.Contains(p.stderr.String(), "meeting at "+down) {
		t.Errorf("exit code %d after %v, want 1 within 2 s saying it could not meet at %s:\n%s", code, took, down, p.stderr.String())
	}
}
