package nat

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/stun/v3"
	"github.com/spurtvoip/spurt/internal/testtool"
)

func listenUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func addrOf(conn *net.UDPConn) netip.AddrPort {
	ap := conn.LocalAddr().(*net.UDPAddr).AddrPort()
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// serve runs a Server on conn until the test ends.
func serve(t *testing.T, conn net.PacketConn) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{}).Serve(ctx, conn) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Serve did not return after cancel")
		}
	})
}

func TestDiscoverAgainstServer(t *testing.T) {
	server := listenUDP(t)
	serve(t, server)
	// Garbage first: the server must skip it and go on serving.
	client := listenUDP(t)
	for _, junk := range [][]byte{nil, {0x80, 1, 2}, bytes.Repeat([]byte{0}, 2000)} {
		if _, err := client.WriteToUDPAddrPort(junk, addrOf(server)); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for range 3 { // repeated discoveries on one socket
		got, err := Discover(ctx, client, addrOf(server))
		if err != nil {
			t.Fatal(err)
		}
		if got != addrOf(client) {
			t.Errorf("Discover = %v, want %v", got, addrOf(client))
		}
	}
	if err := client.SetReadDeadline(time.Time{}); err != nil {
		t.Fatal(err)
	}
}

// fakeServer answers each request on conn with the packets respond makes.
func fakeServer(t *testing.T, conn *net.UDPConn, respond func(req *stun.Message) [][]byte) {
	t.Helper()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 1500)
		for {
			n, from, err := conn.ReadFromUDPAddrPort(buf)
			if err != nil {
				return // closed by cleanup
			}
			req := new(stun.Message)
			if stun.Decode(buf[:n], req) != nil {
				continue
			}
			for _, out := range respond(req) {
				_, _ = conn.WriteToUDPAddrPort(out, from)
			}
		}
	}()
	t.Cleanup(func() {
		conn.Close()
		wg.Wait()
	})
}

func build(t *testing.T, setters ...stun.Setter) []byte {
	m, err := stun.Build(setters...)
	if err != nil {
		t.Error(err)
		return nil
	}
	return m.Raw
}

func TestDiscoverSkipsStraysAndReportsErrors(t *testing.T) {
	mapped := netip.MustParseAddrPort("203.0.113.5:4242")
	xorMapped := &stun.XORMappedAddress{IP: mapped.Addr().AsSlice(), Port: int(mapped.Port())}
	tests := []struct {
		name    string
		respond func(t *testing.T, req *stun.Message) [][]byte
		wantErr string
	}{
		{
			name: "strays before the answer",
			respond: func(t *testing.T, req *stun.Message) [][]byte {
				return [][]byte{
					[]byte("not stun"),
					build(t, stun.TransactionID, stun.BindingSuccess, xorMapped), // other transaction
					build(t, stun.NewTransactionIDSetter(req.TransactionID), stun.BindingRequest),
					build(t, stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess, xorMapped, stun.Fingerprint),
				}
			},
		},
		{
			name: "RFC 3489 MAPPED-ADDRESS",
			respond: func(t *testing.T, req *stun.Message) [][]byte {
				return [][]byte{build(t, stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
					&stun.MappedAddress{IP: mapped.Addr().AsSlice(), Port: int(mapped.Port())})}
			},
		},
		{
			name: "error response",
			respond: func(t *testing.T, req *stun.Message) [][]byte {
				return [][]byte{build(t, stun.NewTransactionIDSetter(req.TransactionID), stun.BindingError,
					stun.ErrorCodeAttribute{Code: 400, Reason: []byte("Bad\x00Request")})}
			},
			wantErr: "error response 400 Bad?Request",
		},
		{
			name: "success without address",
			respond: func(t *testing.T, req *stun.Message) [][]byte {
				return [][]byte{build(t, stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess)}
			},
			wantErr: "without XOR-MAPPED-ADDRESS",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			server := listenUDP(t)
			fakeServer(t, server, func(req *stun.Message) [][]byte { return tt.respond(t, req) })
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			got, err := Discover(ctx, listenUDP(t), addrOf(server))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Discover = %v, %v; want error containing %q", got, err, tt.wantErr)
				}
				if isErrorResponse := strings.HasPrefix(tt.wantErr, "error response"); errors.Is(err, ErrErrorResponse) != isErrorResponse {
					t.Errorf("errors.Is(%v, ErrErrorResponse) = %v, want %v", err, !isErrorResponse, isErrorResponse)
				}
				return
			}
			if err != nil || got != mapped {
				t.Fatalf("Discover = %v, %v; want %v", got, err, mapped)
			}
		})
	}
}

func TestDiscoverRetransmitsUntilContextEnds(t *testing.T) {
	silent := listenUDP(t)
	var (
		mu    sync.Mutex
		times []time.Time
	)
	fakeServer(t, silent, func(*stun.Message) [][]byte {
		mu.Lock()
		times = append(times, time.Now())
		mu.Unlock()
		return nil
	})
	client := listenUDP(t)
	// Requests go at 0, 0.5 and 1.5 s, the next at 3.5 s: a deadline a second
	// after the third leaves a loaded machine's scheduler room (at 1.8 s,
	// the third request was once still due when the deadline came).
	ctx, cancel := context.WithTimeout(context.Background(), 2500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := Discover(ctx, client, addrOf(silent))
	elapsed := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Discover error %v, want deadline exceeded", err)
	}
	if elapsed > 3200*time.Millisecond {
		t.Errorf("Discover returned %v after start, ctx allowed 2.5 s", elapsed)
	}
	mu.Lock()
	defer mu.Unlock()
	// Requests at 0, 0.5 and 1.5 s.
	if len(times) != 3 {
		t.Fatalf("%d requests in 2.5 s, want 3", len(times))
	}
	for i, want := range []time.Duration{500 * time.Millisecond, 1000 * time.Millisecond} {
		if gap := times[i+1].Sub(times[i]); gap < want-50*time.Millisecond || gap > want+300*time.Millisecond {
			t.Errorf("retransmission %d after %v, want about %v", i+1, gap, want)
		}
	}
	// The read deadline was cleared: a read now waits for data to arrive
	// rather than failing at once.
	guard := time.AfterFunc(3*time.Second, func() { _ = client.SetReadDeadline(time.Unix(1, 0)) })
	defer guard.Stop()
	sender := listenUDP(t)
	time.AfterFunc(50*time.Millisecond, func() { _, _ = sender.WriteToUDPAddrPort([]byte("late"), addrOf(client)) })
	buf := make([]byte, 16)
	if n, _, err := client.ReadFromUDPAddrPort(buf); err != nil || string(buf[:n]) != "late" {
		t.Errorf("read after Discover: %q, %v; want the late datagram (deadline left set?)", buf[:n], err)
	}
}

func TestDiscoverCancel(t *testing.T) {
	silent := listenUDP(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	_, err := Discover(ctx, listenUDP(t), addrOf(silent))
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Discover error %v, want canceled", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancel took %v to take effect", d)
	}
	if _, err := Discover(context.Background(), listenUDP(t), netip.MustParseAddrPort("0.0.0.0:3478")); err == nil {
		t.Error("Discover accepted an unspecified server address")
	}
}

func FuzzParseBindingResponse(f *testing.F) {
	var txID [stun.TransactionIDSize]byte
	copy(txID[:], "fuzz-tx-id!!")
	id := stun.NewTransactionIDSetter(txID)
	for _, setters := range [][]stun.Setter{
		{id, stun.BindingSuccess, &stun.XORMappedAddress{IP: []byte{1, 2, 3, 4}, Port: 5}, stun.Fingerprint},
		{id, stun.BindingSuccess, &stun.MappedAddress{IP: net.ParseIP("2001:db8::1"), Port: 5}},
		{id, stun.BindingError, stun.CodeUnauthorized},
	} {
		m, err := stun.Build(setters...)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(m.Raw)
	}
	f.Fuzz(func(t *testing.T, pkt []byte) {
		m := stun.NewWithOptions(stun.WithStrict(true))
		mapped, matched, err := parseBindingResponse(m, pkt, txID)
		if !matched && (err != nil || mapped.IsValid()) {
			t.Fatal("unmatched packet gave a result")
		}
		if matched && err == nil && !validPeer(mapped) {
			t.Fatalf("unusable mapped address %v accepted", mapped)
		}
	})
}

// TestDiscoverAgainstCoturn runs a real STUN server, coturn's turnserver in
// STUN-only mode on 127.0.0.1, and expects it to see our socket's address.
func TestDiscoverAgainstCoturn(t *testing.T) {
	turnserver := testtool.Require(t, "turnserver", "coturn")
	dir := t.TempDir()

	// A free UDP port: bind, note, release. coturn binds it right after.
	probe := listenUDP(t)
	port := addrOf(probe).Port()
	probe.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, turnserver,
		"-n", // no configuration file
		"--listening-ip=127.0.0.1",
		"--listening-port="+strconv.Itoa(int(port)),
		"--stun-only", "--no-cli", "--no-tls", "--no-dtls", "--no-tcp",
		"--log-file=stdout", "--simple-log",
		"--userdb="+filepath.Join(dir, "turndb"),
		"--pidfile="+filepath.Join(dir, "turnserver.pid"),
	)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 3 * time.Second // then SIGKILL
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting turnserver: %v", err)
	}
	defer func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("turnserver output:\n%s", log.String())
		}
	}()

	client := listenUDP(t)
	server := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	// Retransmissions cover coturn's start-up; the context bounds the wait.
	dctx, dcancel := context.WithTimeout(ctx, 10*time.Second)
	defer dcancel()
	got, err := Discover(dctx, client, server)
	if err != nil {
		t.Fatalf("Discover against coturn: %v", err)
	}
	if want := addrOf(client); got != want {
		t.Errorf("coturn saw us at %v, want %v", got, want)
	}
}

// BenchmarkServerRoundTrip measures a binding request answered by Server
// over 127.0.0.1; allocs/op covers client and server.
func BenchmarkServerRoundTrip(b *testing.B) {
	server, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer server.Close()
	client, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer client.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- (&Server{}).Serve(ctx, server) }()
	defer func() {
		cancel()
		<-done
	}()
	_, req := buildMessage(b, stun.BindingRequest, stun.Fingerprint)
	to := server.LocalAddr().(*net.UDPAddr).AddrPort()
	buf := make([]byte, 1500)
	if err := client.SetReadDeadline(time.Now().Add(time.Minute)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := client.WriteToUDPAddrPort(req, to); err != nil {
			b.Fatal(err)
		}
		if _, _, err := client.ReadFromUDPAddrPort(buf); err != nil {
			b.Fatal(err)
		}
	}
}
