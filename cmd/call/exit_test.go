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

// TestListenKeep: with --keep the listener takes calls one after another; a
// caller with no codec in common is refused without ending it; Ctrl-C
// between calls ends it with 0.
func TestListenKeep(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	l := listenAt(t, port, "--in", "tone:440", "--out", "none", "--quiet", "--keep")
	for i, codecs := range []string{"pcmu", "gsm", "pcma"} {
		d := start(t, "dial", addr, "--codecs", codecs, "--in", "tone:300", "--out", "none", "--quiet", "--duration", "1s")
		code := d.wait(t, 15*time.Second)
		if want := map[bool]int{true: 1, false: 0}[codecs == "gsm"]; code != want {
			t.Fatalf("call %d (%s): exit code %d, want %d:\n%s", i, codecs, code, want, d.stderr.String())
		}
		waitFor(t, l, fmt.Sprintf("calls=%d", i/2+1)) // waiting again
	}
	if err := l.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := l.wait(t, 5*time.Second); code != 0 {
		t.Errorf("listener exit code %d after Ctrl-C between calls, want 0:\n%s", code, l.stderr.String())
	}
	if n := strings.Count(l.stdout.String(), "call ended"); n != 2 {
		t.Errorf("%d call summaries, want 2:\n%s", n, l.stdout.String())
	}
}

// TestExitPeerTimeoutAgrees: when one side hangs up because nothing came
// from the other (here the dialer's packets are all lost), both sides call
// the call failed: the one that timed out and the one that sees it hang up
// both exit 1.
func TestExitPeerTimeoutAgrees(t *testing.T) {
	t.Parallel()
	port := freePort(t)
	l := listenAt(t, port, "--in", "tone:440", "--out", "none", "--quiet", "--peer-timeout", "2s")
	d := start(t, "dial", fmt.Sprintf("127.0.0.1:%d", port), "--in", "tone:300", "--out", "none", "--quiet", "--loss", "100%")
	lc, dc := l.wait(t, 15*time.Second), d.wait(t, 15*time.Second)
	if lc != 1 || dc != 1 {
		t.Errorf("exit codes: listener (timed out) %d, dialer %d; want 1 and 1", lc, dc)
	}
	if !strings.Contains(d.stderr.String(), "the peer ended the call as failed: it heard nothing from us for 2s") {
		t.Errorf("the dialer should say why the call failed:\n%s", d.stderr.String())
	}
}
