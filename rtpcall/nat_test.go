package rtpcall

import (
	"context"
	"errors"
	"github.com/spurtvoip/spurt/media"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/stun/v3"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/internal/audiotest"
	"github.com/spurtvoip/spurt/nat"
	"github.com/spurtvoip/spurt/vad"
)

// listenUDP opens a UDP socket on ip (a loopback address) at a free port.
func listenUDP(t *testing.T, ip string) *net.UDPConn {
	t.Helper()
	conn, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.ParseIP(ip)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

func addrOf(conn *net.UDPConn) netip.AddrPort {
	return conn.LocalAddr().(*net.UDPAddr).AddrPort()
}

// iceSide is one side's ICE credentials and its one host candidate.
type iceSide struct {
	ufrag, pwd string
	cand       nat.Candidate
}

func newICESide(conn *net.UDPConn) iceSide {
	ufrag, pwd := nat.NewCredentials()
	return iceSide{ufrag, pwd, nat.HostCandidate(addrOf(conn), 65535)}
}

// checkerConfig is what side us needs to check paths to peer.
func checkerConfig(us, peer iceSide, controlling bool, timeout time.Duration) nat.CheckerConfig {
	return nat.CheckerConfig{
		LocalUfrag: us.ufrag, LocalPwd: us.pwd, RemoteUfrag: peer.ufrag, RemotePwd: peer.pwd,
		Controlling: controlling,
		Local:       []nat.Candidate{us.cand},
		Remote:      []nat.Candidate{peer.cand},
		Timeout:     timeout,
	}
}

// openPaths runs OpenPath on both sockets at once, as the two sides of a
// --via call do after exchanging candidates, and returns both paths and
// both sides' credentials.
func openPaths(t *testing.T, a, b *net.UDPConn) (pa, pb *OpenedPath, ia, ib iceSide) {
	t.Helper()
	return openPathsVia(t, a, b, addrOf(b), addrOf(a))
}

// openPathsVia is openPaths when a reaches b at aSeesB and b reaches a at
// bSeesA (through a NAT), each advertised as a host candidate.
func openPathsVia(t *testing.T, a, b *net.UDPConn, aSeesB, bSeesA netip.AddrPort) (pa, pb *OpenedPath, ia, ib iceSide) {
	t.Helper()
	ia, ib = newICESide(a), newICESide(b)
	ka, kb := ia, ib // what each side advertises
	ka.cand = nat.HostCandidate(bSeesA, 65535)
	kb.cand = nat.HostCandidate(aSeesB, 65535)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var errB error
	done := make(chan struct{})
	go func() {
		defer close(done)
		pb, errB = OpenPath(ctx, b, checkerConfig(ib, ka, false, 3*time.Second), nil)
	}()
	pa, errA := OpenPath(ctx, a, checkerConfig(ia, kb, true, 3*time.Second), nil)
	<-done
	if errA != nil || errB != nil {
		t.Fatalf("opening the path: %v; %v", errA, errB)
	}
	wantKind := "host->host"
	if bSeesA != addrOf(a) {
		wantKind = "prflx->host" // the peer saw us at an address we did not advertise
	}
	if pa.Remote != aSeesB || pb.Remote != bSeesA || pa.Kind != wantKind {
		t.Fatalf("paths %v (%s) and %v (%s), want %v and %v", pa.Remote, pa.Kind, pb.Remote, pb.Kind, aSeesB, bSeesA)
	}
	return pa, pb, ia, ib
}

// goertzel is the power of pcm at freq hertz (8 kHz sampling).
func goertzel(pcm []int16, freq float64) float64 {
	coeff := 2 * math.Cos(2*math.Pi*freq/audio.SampleRate)
	var s1, s2 float64
	for _, x := range pcm {
		s0 := float64(x) + coeff*s1 - s2
		s2, s1 = s1, s0
	}
	return s1*s1 + s2*s2 - coeff*s1*s2
}

// toneFrames is n consecutive 20 ms frames of a sine wave.
func toneFrames(t *testing.T, freq float64, amplitude int16, n int) [][]int16 {
	t.Helper()
	src := audio.NewTone(freq, amplitude, 0)
	out := make([][]int16, n)
	for i := range out {
		out[i] = make([]int16, 160)
		if err := src.ReadFrame(out[i]); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// rtpPackets encodes frames as the RTP packets a sender with the given SSRC
// and initial sequence number and timestamp sends (no VAD: one per frame).
func rtpPackets(t *testing.T, ssrc uint32, seq uint16, ts uint32, frames [][]int16) [][]byte {
	t.Helper()
	s, err := media.NewSender(media.SenderConfig{Codec: pcmu(t), SSRC: ssrc, InitialSeq: seq, InitialTime: ts})
	if err != nil {
		t.Fatal(err)
	}
	out := make([][]byte, len(frames))
	for i, f := range frames {
		b, err := onePacket(s, f)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = append([]byte(nil), b...)
	}
	return out
}

func send(t *testing.T, conn *net.UDPConn, to netip.AddrPort, pkts ...[]byte) {
	t.Helper()
	for _, p := range pkts {
		if _, err := conn.WriteToUDPAddrPort(p, to); err != nil {
			t.Fatal(err)
		}
	}
}

type runResult struct {
	stats   media.Stats
	outcome media.Outcome
	err     error
}

func startRun(ctx context.Context, cfg Config) <-chan runResult {
	ch := make(chan runResult, 1)
	go func() {
		st, o, err := Run(ctx, cfg)
		ch <- runResult{st, o, err}
	}()
	return ch
}

func wait(t *testing.T, ch <-chan runResult, side string) media.Stats {
	t.Helper()
	select {
	case r := <-ch:
		if r.err != nil {
			t.Fatalf("%s: %v (%s)", side, r.err, r.outcome)
		}
		return r.stats
	case <-time.After(15 * time.Second):
		t.Fatalf("%s: the call did not end", side)
		return media.Stats{}
	}
}

// Sequence numbers and timestamps of the legitimate stream in the
// injection tests.
const (
	peerSSRC = 0x5EED
	peerSeq  = 1000
	peerTS   = 50000
)

// TestRunRejectsInjectedMedia runs a call between two Run endpoints on
// 127.0.0.1 and, a moment in, injects from two third sockets (another port
// on the peer's IP, and 127.0.0.2) a loud 2 kHz tone as RTP with the peer's
// SSRC, carrying the sequence numbers and timestamps of the peer's
// packets 1 s to 2 s ahead: accepted, they would be played in place of the
// peer's (the control case shows they are). With the NAT path or
// StrictSource they must be counted in rejected_source and never played.
func TestRunRejectsInjectedMedia(t *testing.T) {
	const injected = 50
	tests := []struct {
		name         string
		nat, strict  bool
		wantRejected uint64
	}{
		{"via NAT path", true, false, injected},
		{"strict source", false, true, injected},
		{"control: any source", false, false, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a, b := listenUDP(t, "127.0.0.1"), listenUDP(t, "127.0.0.1")
			injectors := []*net.UDPConn{listenUDP(t, "127.0.0.1"), listenUDP(t, "127.0.0.2")}
			cfgA := Config{
				Session:      media.SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 60*time.Millisecond), SSRC: peerSSRC, InitialSeq: peerSeq, InitialTime: peerTS},
				Conn:         a,
				Remote:       addrOf(b),
				StrictSource: tt.strict,
				Source:       audio.NewTone(440, 8000, 2*time.Second),
			}
			sink := audio.NewMemorySink()
			cfgB := Config{
				Session:      media.SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 60*time.Millisecond), SSRC: 0xB0B},
				Conn:         b,
				Remote:       addrOf(a),
				StrictSource: tt.strict,
				Sink:         sink,
				PeerTimeout:  5 * time.Second,
			}
			if tt.nat {
				cfgA.NAT, cfgB.NAT, _, _ = openPaths(t, a, b)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			doneB := startRun(ctx, cfgB)
			doneA := startRun(ctx, cfgA)

			time.Sleep(300 * time.Millisecond)
			loud := rtpPackets(t, peerSSRC, peerSeq+50, peerTS+50*160, toneFrames(t, 2000, 30000, injected))
			send(t, injectors[0], addrOf(b), loud[:injected/2]...)
			send(t, injectors[1], addrOf(b), loud[injected/2:]...)

			stA, stB := wait(t, doneA, "A"), wait(t, doneB, "B")
			heard := sink.Samples()
			want := make([]int16, 2*audio.SampleRate)
			if err := audio.NewTone(440, 8000, 2*time.Second).ReadFrame(want); err != nil {
				t.Fatal(err)
			}
			ratio := goertzel(heard, 2000) / goertzel(heard, 440)
			r := audiotest.Compare(want, heard, audio.SampleRate, 800)
			t.Logf("rejected_source %d, received %d of %d sent, 2 kHz/440 Hz power %.2g, SNR %.1f dB, coverage %.3f",
				stB.RejectedSource, stB.PacketsReceived, stA.PacketsSent, ratio, r.SNR, r.Coverage)
			if stB.RejectedSource != tt.wantRejected {
				t.Errorf("rejected_source %d, want %d", stB.RejectedSource, tt.wantRejected)
			}
			if tt.wantRejected == 0 {
				if ratio < 0.1 {
					t.Errorf("control: the injected tone was not played (2 kHz/440 Hz power %.2g): the injection proves nothing", ratio)
				}
				return
			}
			if ratio > 1e-4 {
				t.Errorf("injected 2 kHz tone heard: power %.2g of the call's 440 Hz", ratio)
			}
			if stB.PacketsReceived != stA.PacketsSent || stB.Duplicates != 0 {
				t.Errorf("B accepted %d packets (%d duplicates); A sent %d", stB.PacketsReceived, stB.Duplicates, stA.PacketsSent)
			}
			// loose: three calls share a loaded machine in real time
			// The tone is heard; how cleanly depends on how many chunks
			// the loaded machine made late (concealed), 19.6 dB seen.
			if r.SNR < 15 || r.Coverage < 0.85 {
				t.Errorf("B heard A at SNR %.1f dB, coverage %.3f; want > 15 dB, > 0.85", r.SNR, r.Coverage)
			}
		})
	}
}

// TestReceiverLocksOntoFirstSSRC feeds a session the peer's stream and,
// from the same address (the session does not see addresses), packets with
// another SSRC carrying a loud tone ahead of the stream, where they would
// play if accepted: they are counted in rejected_source and never heard.
func TestReceiverLocksOntoFirstSSRC(t *testing.T) {
	const frames, stranger = 60, 20
	tests := []struct {
		name          string
		strangerSSRC  uint32
		wantRejected  uint64
		wantStrangers bool
	}{
		{"another SSRC", 0xBAD, stranger, false},
		{"control: the same SSRC", peerSSRC, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sess, err := media.NewSession(media.SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 40*time.Millisecond), SSRC: 1})
			if err != nil {
				t.Fatal(err)
			}
			peer := rtpPackets(t, peerSSRC, peerSeq, peerTS, toneFrames(t, 440, 8000, frames))
			// The stranger's packets take the places of the peer's 30 to 49.
			loud := rtpPackets(t, tt.strangerSSRC, peerSeq+30, peerTS+30*160, toneFrames(t, 2000, 30000, stranger))
			var sink audio.MemorySink
			wall := time.Unix(0, 0)
			for i := range frames {
				now := time.Duration(i) * 20 * time.Millisecond
				sess.HandleDatagram(peer[i], now, wall.Add(now))
				if i >= 5 && i < 5+stranger {
					sess.HandleDatagram(loud[i-5], now, wall.Add(now))
				}
				if err := sess.Render(now, sink.WriteSamples); err != nil {
					t.Fatal(err)
				}
			}
			end := time.Duration(frames+10) * 20 * time.Millisecond
			if err := sess.Render(end, sink.WriteSamples); err != nil {
				t.Fatal(err)
			}
			st := sess.Stats(end)
			heard := sink.Samples()
			ratio := goertzel(heard, 2000) / goertzel(heard, 440)
			if st.RejectedSource != tt.wantRejected {
				t.Errorf("rejected_source %d, want %d", st.RejectedSource, tt.wantRejected)
			}
			if heardStranger := ratio > 0.1; heardStranger != tt.wantStrangers {
				t.Errorf("2 kHz/440 Hz power %.2g: stranger heard %v, want %v", ratio, heardStranger, tt.wantStrangers)
			}
			if !tt.wantStrangers && (st.PacketsReceived != frames || st.Played != frames || ratio > 1e-4) {
				t.Errorf("received %d, played %d, 2 kHz/440 Hz power %.2g; want %d, %d, none", st.PacketsReceived, st.Played, ratio, frames, frames)
			}
		})
	}
}

// datagramLog records what a harness socket receives, with arrival times.
type datagramLog struct {
	mu    sync.Mutex
	items []loggedDatagram
}

type loggedDatagram struct {
	at   time.Time
	from netip.AddrPort
	data []byte
}

// collect reads conn until it is closed or ctx ends.
func (l *datagramLog) collect(ctx context.Context, conn *net.UDPConn) {
	buf := make([]byte, media.MaxPacketSize)
	for ctx.Err() == nil {
		_ = conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		l.mu.Lock()
		l.items = append(l.items, loggedDatagram{time.Now(), from, append([]byte(nil), buf[:n]...)})
		l.mu.Unlock()
	}
}

func (l *datagramLog) snapshot() []loggedDatagram {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]loggedDatagram(nil), l.items...)
}

// count reports how many logged datagrams satisfy keep.
func (l *datagramLog) count(keep func([]byte) bool) int {
	n := 0
	for _, d := range l.snapshot() {
		if keep(d.data) {
			n++
		}
	}
	return n
}

func isRTP(b []byte) bool { return len(b) >= 12 && b[0]>>6 == 2 && !media.IsRTCP(b) }

// stunType decodes b's STUN message type, if b is STUN.
func stunType(b []byte) (stun.MessageType, bool) {
	if !nat.IsSTUN(b) {
		return stun.MessageType{}, false
	}
	m := &stun.Message{Raw: append([]byte(nil), b...)}
	if m.Decode() != nil {
		return stun.MessageType{}, false
	}
	return m.Type, true
}

// pace sends pkts from conn to to, one every 20 ms.
func pace(t *testing.T, conn *net.UDPConn, to netip.AddrPort, pkts [][]byte) {
	t.Helper()
	next := time.Now()
	for _, p := range pkts {
		time.Sleep(time.Until(next))
		send(t, conn, to, p)
		next = next.Add(20 * time.Millisecond)
	}
}

// waitFor polls cond every 10 ms for up to limit.
func waitFor(limit time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// TestRunFollowsPeerOnlyAfterAuthenticatedCheck drives one side of a call by
// hand against Run on 127.0.0.1: after the path opens, the peer talks from
// its first socket (slipping in packets of another SSRC, from the right
// address), then "moves" to a second socket, whose media and a check with a
// wrong password Run must reject, and whose authenticated check Run must
// follow: media from the new address is then played and Run's media goes
// there.
func TestRunFollowsPeerOnlyAfterAuthenticatedCheck(t *testing.T) {
	a, b1, b2 := listenUDP(t, "127.0.0.1"), listenUDP(t, "127.0.0.1"), listenUDP(t, "127.0.0.1")
	pa, _, ia, ib := openPaths(t, a, b1)
	sink := audio.NewMemorySink()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	logCtx, stopLogs := context.WithCancel(ctx)
	defer stopLogs()
	var at1, at2 datagramLog
	go at1.collect(logCtx, b1)
	go at2.collect(logCtx, b2)
	done := startRun(ctx, Config{
		Session: media.SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 60*time.Millisecond), SSRC: 0xA},
		Conn:    a,
		NAT:     pa,
		Source:  audio.NewTone(600, 8000, 3*time.Second),
		Sink:    sink,
	})
	to := addrOf(a)
	const (
		fromOld, unverified, fromNew, stranger = 40, 10, 50, 10
	)
	frames := append(append(toneFrames(t, 440, 8000, fromOld), toneFrames(t, 2000, 30000, unverified)...),
		toneFrames(t, 700, 8000, fromNew)...)
	pkts := rtpPackets(t, peerSSRC, peerSeq, peerTS, frames)
	// Another SSRC from the peer's own address, in the places of packets 25 to 34.
	strangers := rtpPackets(t, 0xBAD, peerSeq+25, peerTS+25*160, toneFrames(t, 2000, 30000, stranger))

	// 1. From the address the checks selected, with strangers interleaved.
	pace(t, b1, to, pkts[:10])
	for i := range stranger {
		send(t, b1, to, strangers[i])
		pace(t, b1, to, pkts[10+i:11+i])
	}
	pace(t, b1, to, pkts[10+stranger:fromOld])

	// 2. From a new address: media, and a check with a wrong password.
	isRTPFromA := func(b []byte) bool { return isRTP(b) }
	pace(t, b2, to, pkts[fromOld:fromOld+unverified])
	// A check that names the right users but, not knowing A's password,
	// keys its MESSAGE-INTEGRITY with another.
	forged, guess := ib, ia
	forged.cand = nat.HostCandidate(addrOf(b2), 65535)
	guess.pwd = strings.Repeat("x", 24)
	badChecker, err := nat.NewChecker(checkerConfig(forged, guess, false, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, badCheck, _ := badChecker.Next(0)
	send(t, b2, to, badCheck)
	time.Sleep(100 * time.Millisecond)
	if n := at2.count(isRTPFromA); n != 0 {
		t.Fatalf("Run sent %d media packets to the new address before an authenticated check", n)
	}

	// 3. An authenticated check from the new address: Run answers it and follows.
	moved := ib
	moved.cand = nat.HostCandidate(addrOf(b2), 65535)
	checker, err := nat.NewChecker(checkerConfig(moved, ia, false, time.Second))
	if err != nil {
		t.Fatal(err)
	}
	_, check, _ := checker.Next(0)
	send(t, b2, to, check)
	if !waitFor(time.Second, func() bool { return at2.count(isRTPFromA) > 0 }) {
		t.Fatal("Run did not move its media to the new address after an authenticated check")
	}
	answered := at2.count(func(b []byte) bool { typ, ok := stunType(b); return ok && typ == stun.BindingSuccess })
	pace(t, b2, to, pkts[fromOld+unverified:])

	st := wait(t, done, "Run")
	stopLogs()
	heard := sink.Samples()
	p440, p2000, p700 := goertzel(heard, 440), goertzel(heard, 2000), goertzel(heard, 700)
	t.Logf("rejected_source %d, received %d, lost %d; power 440 Hz %.3g, 700 Hz %.3g, 2 kHz %.3g",
		st.RejectedSource, st.PacketsReceived, st.NetworkLost, p440, p700, p2000)
	// the unverified media, the forged check and the strangers
	if want := uint64(unverified + 1 + stranger); st.RejectedSource != want {
		t.Errorf("rejected_source %d, want %d", st.RejectedSource, want)
	}
	if want := uint64(fromOld + fromNew); st.PacketsReceived != want || st.NetworkLost != unverified {
		t.Errorf("received %d lost %d, want %d and %d", st.PacketsReceived, st.NetworkLost, want, unverified)
	}
	if p2000 > 1e-4*min(p440, p700) {
		t.Errorf("rejected 2 kHz audio heard: power %.3g against 440 Hz %.3g and 700 Hz %.3g", p2000, p440, p700)
	}
	if p700 < 0.25*p440 || p440 < 0.25*p700 {
		t.Errorf("power 440 Hz (old address) %.3g, 700 Hz (new address) %.3g: both should play, the second one longer", p440, p700)
	}
	if answered != 1 {
		t.Errorf("%d success responses to the authenticated check, want 1", answered)
	}
	if n := at1.count(isRTPFromA); n == 0 {
		t.Error("no media reached the old address before the move")
	}
	if st.Path != "host->host" {
		t.Errorf("path %q", st.Path)
	}
}

// TestRunSendsKeepalivesDuringSilence runs a call on a NAT path whose source
// speaks for 0.4 s and is then silent (VAD on): the peer must receive
// binding indications only during the silence, at most one keepalive
// interval apart.
func TestRunSendsKeepalivesDuringSilence(t *testing.T) {
	const interval = 100 * time.Millisecond
	a, b := listenUDP(t, "127.0.0.1"), listenUDP(t, "127.0.0.1")
	pa, _, _, _ := openPaths(t, a, b)
	det, err := vad.New(vad.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	pcm := make([]int16, 2*audio.SampleRate) // 0.4 s of tone, 1.6 s of silence
	if err := audio.NewTone(440, 8000, 400*time.Millisecond).ReadFrame(pcm[:3200]); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var atB datagramLog
	go atB.collect(ctx, b)
	st := wait(t, startRun(ctx, Config{
		Session:           media.SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 40*time.Millisecond), SSRC: 0xA, VAD: det},
		Conn:              a,
		NAT:               pa,
		KeepaliveInterval: interval,
		Source:            audio.NewMemorySource(pcm),
	}), "Run")
	time.Sleep(50 * time.Millisecond) // the last datagrams on their way
	cancel()

	var lastRTP, firstKeepalive, prev time.Time
	keepalives, gapsOver := 0, 0
	var longest time.Duration
	for _, d := range atB.snapshot() {
		switch typ, ok := stunType(d.data); {
		case isRTP(d.data):
			lastRTP = d.at
		case ok && typ == stun.NewType(stun.MethodBinding, stun.ClassIndication):
			if keepalives == 0 {
				firstKeepalive, prev = d.at, lastRTP
			}
			keepalives++
			gap := d.at.Sub(prev)
			longest = max(longest, gap)
			if gap > interval+200*time.Millisecond {
				gapsOver++
			}
			prev = d.at
		}
	}
	t.Logf("%d packets sent, %d keepalives, longest gap %v", st.PacketsSent, keepalives, longest)
	if st.PacketsSent < 15 || st.PacketsSent > 40 {
		t.Fatalf("%d packets sent: the VAD did not see 0.4 s of speech then silence", st.PacketsSent)
	}
	if firstKeepalive.Before(lastRTP) {
		t.Errorf("a keepalive went out while media was flowing")
	}
	// 1.6 s of silence less the VAD's hangover, at one per 100 ms; a gap
	// over 300 ms means a keepalive missed, not the scheduler of a loaded
	// machine running the loop late (256 ms seen with both cores busy)
	if keepalives < 8 || gapsOver > 0 {
		t.Errorf("%d keepalives, %d gaps over %v (longest %v); want >= 8, none", keepalives, gapsOver, interval+200*time.Millisecond, longest)
	}
}

// countingConn is a net.PacketConn that records what is written to it.
type countingConn struct {
	net.PacketConn
	written [][]byte
}

func (c *countingConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.written = append(c.written, append([]byte(nil), b...))
	return len(b), nil
}

// TestKeepaliveTiming checks keepAlive on a virtual clock with the default
// interval: on a NAT path a binding indication leaves once no media has
// left for 15 s, and again every 15 s of silence; on a direct path never.
func TestKeepaliveTiming(t *testing.T) {
	const step = 20 * time.Millisecond
	tests := []struct {
		name      string
		nat       bool
		mediaTill time.Duration // media leaves every 20 ms until then
		want      []time.Duration
	}{
		{"silent from the start", true, 0, []time.Duration{15 * time.Second, 30 * time.Second, 45 * time.Second}},
		{"silent after 5 s of speech", true, 5 * time.Second, []time.Duration{20 * time.Second, 35 * time.Second, 50 * time.Second}},
		{"talking throughout", true, 50 * time.Second, nil},
		{"direct path", false, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := &countingConn{}
			c := &callLoop{cfg: Config{Conn: conn}, remote: &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 9}}
			if tt.nat {
				c.cfg.NAT = &OpenedPath{}
			}
			var sentAt []time.Duration
			for now := time.Duration(0); now <= 50*time.Second; now += step {
				if now > 0 && now <= tt.mediaTill {
					c.lastMediaSent = now
				}
				before := len(conn.written)
				c.keepAlive(now)
				if len(conn.written) > before {
					sentAt = append(sentAt, now)
				}
			}
			if len(sentAt) != len(tt.want) {
				t.Fatalf("keepalives at %v, want at %v", sentAt, tt.want)
			}
			for i := range sentAt {
				if sentAt[i] != tt.want[i] {
					t.Errorf("keepalive %d at %v, want %v", i, sentAt[i], tt.want[i])
				}
				if typ, ok := stunType(conn.written[i]); !ok || typ != stun.NewType(stun.MethodBinding, stun.ClassIndication) {
					t.Errorf("keepalive %d is not a binding indication: % x", i, conn.written[i])
				}
			}
			if c.keepalivesSent != uint64(len(sentAt)) {
				t.Errorf("keepalives counted %d, sent %d", c.keepalivesSent, len(sentAt))
			}
		})
	}
}

// TestOpenPathGivesUp checks that OpenPath fails within its timeout, or
// when its context ends, when no pair works, and names every pair tried and
// what became of it.
func TestOpenPathGivesUp(t *testing.T) {
	conn := listenUDP(t, "127.0.0.1")
	us := newICESide(conn)

	// The peer's three addresses (distinct, so that the pairs' foundations
	// differ and all are checked at once): a closed port, a socket that
	// answers nothing, and one that answers with the wrong password (401).
	closed := listenUDP(t, "127.0.0.1")
	closedAddr := addrOf(closed)
	closed.Close()
	silent := listenUDP(t, "127.0.0.2")
	wrong := listenUDP(t, "127.0.0.3")
	peer := newICESide(wrong)
	impostor := peer
	impostor.pwd = strings.Repeat("x", 24)
	answerer, err := nat.NewChecker(checkerConfig(impostor, us, false, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		buf := make([]byte, 1500)
		for ctx.Err() == nil {
			_ = wrong.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
			n, from, err := wrong.ReadFromUDPAddrPort(buf)
			if err != nil {
				continue
			}
			if reply, to, ok := answerer.Handle(buf[:n], from, 0); ok {
				_, _ = wrong.WriteToUDPAddrPort(reply, to)
			}
		}
	}()
	cfg := checkerConfig(us, peer, true, 0)
	cfg.Remote = []nat.Candidate{
		nat.HostCandidate(closedAddr, 65535),
		nat.HostCandidate(addrOf(silent), 65534),
		nat.HostCandidate(addrOf(wrong), 65533),
	}

	tests := []struct {
		name     string
		timeout  time.Duration
		ctx      time.Duration
		wantErr  error
		wantText []string
	}{
		{"timeout", 800 * time.Millisecond, 10 * time.Second, nil, []string{
			"no direct path to the peer within 800ms",
			"-> host " + closedAddr.String() + ": checking",
			"-> host " + addrOf(silent).String() + ": checking",
			"-> host " + addrOf(wrong).String() + ": error response 401",
		}},
		{"context ends", 10 * time.Second, 300 * time.Millisecond, context.DeadlineExceeded, []string{"connectivity checks"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cfg
			cfg.Timeout = tt.timeout
			ctx, cancel := context.WithTimeout(context.Background(), tt.ctx)
			defer cancel()
			start := time.Now()
			path, err := OpenPath(ctx, conn, cfg, nil)
			took := time.Since(start)
			limit := min(tt.timeout, tt.ctx)
			t.Logf("after %v: %v", took.Round(time.Millisecond), err)
			if err == nil {
				t.Fatalf("opened a path to %v with no peer", path.Remote)
			}
			if took < limit || took > limit+500*time.Millisecond {
				t.Errorf("gave up after %v, want %v (+ 500 ms)", took, limit)
			}
			if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
				t.Errorf("error %v, want %v", err, tt.wantErr)
			}
			for _, s := range tt.wantText {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error lacks %q:\n%v", s, err)
				}
			}
		})
	}
}

// natRelay stands in for the peer's NAT: what B sends to inside leaves
// through the current outside socket to A, and what reaches that outside
// socket goes on to B. rebind swaps the outside socket for a new one, as a
// NAT that drops a mapping and makes another does: A then hears B from a
// new address, and what A sends to the old one is lost.
type natRelay struct {
	inside  *net.UDPConn
	b, a    netip.AddrPort
	outside atomic.Pointer[net.UDPConn]
	// firstChecks are the first STUN binding requests B sent through the
	// relay, as an eavesdropper on the path would capture them.
	mu          sync.Mutex
	firstChecks [][]byte
	firstNew    atomic.Int64 // unix nanoseconds A's first RTP reached a rebound outside socket
	// filtering makes a rebound outside socket pass B's datagrams only
	// once A has sent it something, as a filtering NAT on A's side would:
	// A hears nothing from the new address until A sends there.
	filtering, opened atomic.Bool
}

func newNATRelay(t *testing.T, ctx context.Context, a, b netip.AddrPort) *natRelay {
	r := &natRelay{inside: listenUDP(t, "127.0.0.1"), a: a, b: b}
	r.outside.Store(listenUDP(t, "127.0.0.1"))
	go r.forwardOut(ctx)
	go r.forwardIn(ctx, r.outside.Load(), false)
	return r
}

// forwardOut carries B's datagrams to A through the current outside socket.
func (r *natRelay) forwardOut(ctx context.Context) {
	buf := make([]byte, media.MaxPacketSize)
	for ctx.Err() == nil {
		_ = r.inside.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, _, err := r.inside.ReadFromUDPAddrPort(buf)
		if err != nil {
			continue
		}
		if typ, ok := stunType(buf[:n]); ok && typ == stun.BindingRequest {
			r.mu.Lock()
			if len(r.firstChecks) < 4 {
				r.firstChecks = append(r.firstChecks, append([]byte(nil), buf[:n]...))
			}
			r.mu.Unlock()
		}
		if r.filtering.Load() && !r.opened.Load() {
			continue // filtered on A's side
		}
		_, _ = r.outside.Load().WriteToUDPAddrPort(buf[:n], r.a)
	}
}

// forwardIn carries what reaches outside socket out to B, until out closes.
func (r *natRelay) forwardIn(ctx context.Context, out *net.UDPConn, rebound bool) {
	buf := make([]byte, media.MaxPacketSize)
	for ctx.Err() == nil {
		_ = out.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, _, err := out.ReadFromUDPAddrPort(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return
		}
		if rebound {
			r.opened.Store(true)
			if isRTP(buf[:n]) {
				r.firstNew.CompareAndSwap(0, time.Now().UnixNano())
			}
		}
		_, _ = r.inside.WriteToUDPAddrPort(buf[:n], r.b)
	}
}

// rebind moves B's traffic to a new outside socket and closes the old one.
func (r *natRelay) rebind(t *testing.T, ctx context.Context) netip.AddrPort {
	out := listenUDP(t, "127.0.0.1")
	old := r.outside.Swap(out)
	old.Close()
	go r.forwardIn(ctx, out, true)
	return addrOf(out)
}

// attacker sends media on B's stream to A from its own socket and, when
// forge is set, answers every STUN request with a success response keyed
// with a password it guessed. It logs what it receives.
type attacker struct {
	conn  *net.UDPConn
	forge bool
	log   datagramLog
}

func (at *attacker) serve(ctx context.Context) {
	buf := make([]byte, media.MaxPacketSize)
	for ctx.Err() == nil {
		_ = at.conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, from, err := at.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			continue
		}
		at.log.mu.Lock()
		at.log.items = append(at.log.items, loggedDatagram{time.Now(), from, append([]byte(nil), buf[:n]...)})
		at.log.mu.Unlock()
		req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
		if !at.forge || !nat.IsSTUN(buf[:n]) || req.Decode() != nil || req.Type != stun.BindingRequest {
			continue
		}
		resp, err := stun.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
			&stun.XORMappedAddress{IP: from.Addr().AsSlice(), Port: int(from.Port())},
			stun.NewShortTermIntegrity(strings.Repeat("g", 24)), stun.Fingerprint)
		if err == nil {
			_, _ = at.conn.WriteToUDPAddrPort(resp.Raw, from)
		}
	}
}

// TestRunFollowsRebindingPeer runs a call between two Run endpoints on
// 127.0.0.1, B behind a simulated NAT. One second in, the NAT rebinds: B's
// media reaches A from a new address. A must probe it, get B's
// authenticated answer (B's Run answers as usual) and follow within a
// fraction of a second; the audio goes on both ways. Meanwhile two attackers
// send A loud media on B's SSRC: one that does not answer A's probes, and
// one that answers them with a forged password and also replays a check B
// sent while the path was being opened. A must never follow either.
func TestRunFollowsRebindingPeer(t *testing.T) {
	t.Parallel()
	a, b := listenUDP(t, "127.0.0.1"), listenUDP(t, "127.0.0.1")
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Second)
	defer cancel()
	relay := newNATRelay(t, ctx, addrOf(a), addrOf(b))
	pa, pb, _, _ := openPathsVia(t, a, b, addrOf(relay.outside.Load()), addrOf(relay.inside))
	checksBefore := pa.ChecksSent

	silent := &attacker{conn: listenUDP(t, "127.0.0.1")}
	forger := &attacker{conn: listenUDP(t, "127.0.0.3"), forge: true}
	go silent.serve(ctx)
	go forger.serve(ctx)

	const talk = 3 * time.Second
	sinkA, sinkB := audio.NewMemorySink(), audio.NewMemorySink()
	doneA := startRun(ctx, Config{
		Session: media.SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 60*time.Millisecond), SSRC: 0xA},
		Conn:    a, NAT: pa, Sink: sinkA, Source: audio.NewTone(600, 8000, talk),
	})
	doneB := startRun(ctx, Config{
		Session: media.SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 60*time.Millisecond), SSRC: peerSSRC, InitialSeq: peerSeq, InitialTime: peerTS},
		Conn:    b, NAT: pb, Sink: sinkB, Source: audio.NewTone(440, 8000, talk),
	})

	// The attackers: 2 kHz on B's stream, 1 s to 2 s ahead of it, while the
	// peer moves.
	const injected = 60
	loud := rtpPackets(t, peerSSRC, peerSeq+50, peerTS+50*160, toneFrames(t, 2000, 30000, injected))
	time.Sleep(400 * time.Millisecond)
	relay.mu.Lock()
	captured := relay.firstChecks
	relay.mu.Unlock()
	if len(captured) == 0 {
		t.Fatal("no check of B's crossed the relay")
	}
	send(t, forger.conn, addrOf(a), captured[0]) // replayed from elsewhere
	go pace(t, silent.conn, addrOf(a), loud[:injected/2])
	pace(t, forger.conn, addrOf(a), loud[injected/2:injected/2+15])
	send(t, forger.conn, addrOf(a), captured[0])

	rebound := time.Now()
	newAddr := relay.rebind(t, ctx)
	pace(t, forger.conn, addrOf(a), loud[injected/2+15:])

	stA, stB := wait(t, doneA, "A"), wait(t, doneB, "B")
	follow := time.Duration(-1)
	if ns := relay.firstNew.Load(); ns != 0 {
		follow = time.Unix(0, ns).Sub(rebound)
	}
	fromA := func(at *attacker) int {
		n := 0
		for _, d := range at.log.snapshot() {
			if isRTP(d.data) {
				n++
			}
		}
		return n
	}
	probesTo := func(at *attacker) int {
		return at.log.count(func(b []byte) bool { typ, ok := stunType(b); return ok && typ == stun.BindingRequest })
	}
	t.Logf("followed %v (%v) after the rebinding; A: received %d, lost %d, rejected_source %d, probes sent %d; B: received %d of %d, lost %d; probes to the attackers %d, %d",
		newAddr, follow.Round(time.Millisecond), stA.PacketsReceived, stA.NetworkLost, stA.RejectedSource, stA.ChecksSent-checksBefore,
		stB.PacketsReceived, stA.PacketsSent, stB.NetworkLost, probesTo(silent), probesTo(forger))

	if follow < 0 || follow > 2*time.Second {
		t.Fatalf("A's media did not reach B's new address within 2 s of the rebinding (%v)", follow)
	}
	if n := fromA(silent) + fromA(forger); n != 0 {
		t.Errorf("A sent %d media packets to an attacker", n)
	}
	for _, at := range []*attacker{silent, forger} {
		if n := probesTo(at); n < 1 || n > nat.ProbeTries {
			t.Errorf("%d probes to attacker %v, want 1 to %d", n, addrOf(at.conn), nat.ProbeTries)
		}
	}
	if probes := stA.ChecksSent - checksBefore; probes < 1+2 || probes > 3*nat.ProbeTries {
		t.Errorf("A sent %d probes, want one to B's new address and a few to each attacker", probes)
	}
	if stA.RejectedSource < injected+2 {
		t.Errorf("A's rejected_source %d, want at least the %d injected packets and 2 replayed checks", stA.RejectedSource, injected)
	}
	// Audio both ways, across the move: losses only around the rebinding.
	for _, side := range []struct {
		name  string
		heard []int16
		freq  float64
		lost  uint64
	}{
		{"A hearing B", sinkA.Samples(), 440, stA.NetworkLost},
		{"B hearing A", sinkB.Samples(), 600, stB.NetworkLost},
	} {
		want := make([]int16, int(talk.Seconds()*audio.SampleRate))
		if err := audio.NewTone(side.freq, 8000, talk).ReadFrame(want); err != nil {
			t.Fatal(err)
		}
		r := audiotest.Compare(want, side.heard, audio.SampleRate, 800)
		ratio := goertzel(side.heard, 2000) / goertzel(side.heard, side.freq)
		t.Logf("%s: SNR %.1f dB, coverage %.3f, lost %d, 2 kHz/%v Hz power %.2g", side.name, r.SNR, r.Coverage, side.lost, side.freq, ratio)
		if r.Coverage < 0.85 || side.lost > 25 {
			t.Errorf("%s: coverage %.3f, %d lost; want > 0.85 and at most 25 lost (0.5 s)", side.name, r.Coverage, side.lost)
		}
		if ratio > 1e-4 {
			t.Errorf("%s: injected 2 kHz heard (power %.2g of the call's tone)", side.name, ratio)
		}
	}
}

// fakeSTUN answers binding requests with the address mapped returns, as a
// STUN server behind whose NAT the client sits would see it.
func fakeSTUN(ctx context.Context, conn *net.UDPConn, mapped func() netip.AddrPort) {
	buf := make([]byte, media.MaxPacketSize)
	for ctx.Err() == nil {
		_ = conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
		n, from, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			continue
		}
		req := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
		if req.Decode() != nil || req.Type != stun.BindingRequest {
			continue
		}
		m := mapped()
		resp, err := stun.Build(stun.NewTransactionIDSetter(req.TransactionID), stun.BindingSuccess,
			&stun.XORMappedAddress{IP: m.Addr().AsSlice(), Port: int(m.Port())}, stun.Fingerprint)
		if err == nil {
			_, _ = conn.WriteToUDPAddrPort(resp.Raw, from)
		}
	}
}

// TestRunRenewsPathAfterRebinding runs a call between two Run endpoints on
// 127.0.0.1, B behind a simulated NAT, A behind a filter: one second in,
// B's NAT rebinds and A's side drops what comes from the new address until
// A sends there, while what A sends to the old one is lost. Neither side
// hears the other, so following media cannot help. With a Renewal, both
// fall silent for After, B learns its new address from STUN, the fresh
// candidates cross a stand-in for the signaling channel, the checks find
// the new pair and the audio goes on both ways. The control, without a
// Renewal, shows that the harness does cut the call: nothing of A's ever
// reaches the new address.
func TestRunRenewsPathAfterRebinding(t *testing.T) {
	for _, renew := range []bool{true, false} {
		t.Run(map[bool]string{true: "renewal", false: "control without renewal"}[renew], func(t *testing.T) {
			t.Parallel()
			a, b := listenUDP(t, "127.0.0.1"), listenUDP(t, "127.0.0.1")
			ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
			defer cancel()
			relay := newNATRelay(t, ctx, addrOf(a), addrOf(b))
			stunConn := listenUDP(t, "127.0.0.1")
			go fakeSTUN(ctx, stunConn, func() netip.AddrPort { return addrOf(relay.outside.Load()) })
			// B's host address is one nobody reaches (a closed port), as a
			// private address behind a NAT; A is known to B as the
			// relay's inside.
			closed := listenUDP(t, "127.0.0.1")
			unreachable := addrOf(closed)
			closed.Close()
			ia, ib := newICESide(a), newICESide(b)
			ia.cand = nat.HostCandidate(addrOf(relay.inside), 65535)
			bHost := nat.HostCandidate(unreachable, 65535)
			ib.cand = bHost
			bCands := []nat.Candidate{bHost, nat.ServerReflexive(bHost, addrOf(relay.outside.Load()), addrOf(stunConn).Addr())}
			cfgA, cfgB := checkerConfig(ia, ib, true, 3*time.Second), checkerConfig(ib, ia, false, 3*time.Second)
			cfgA.Remote, cfgB.Local = bCands, bCands
			var pa, pb *OpenedPath
			var errA, errB error
			opened := make(chan struct{})
			go func() { defer close(opened); pb, errB = OpenPath(ctx, b, cfgB, nil) }()
			pa, errA = OpenPath(ctx, a, cfgA, nil)
			<-opened
			if errA != nil || errB != nil {
				t.Fatalf("opening the path: %v; %v", errA, errB)
			}
			t.Logf("path opened: A %s to %v, B %s to %v", pa.Kind, pa.Remote, pb.Kind, pb.Remote)

			const after = time.Second
			var logA, logB lockedLog
			toA, toB := make(chan PeerCandidates, 4), make(chan PeerCandidates, 4)
			relayTo := func(ch chan PeerCandidates) func([]nat.Candidate, bool) {
				return func(cands []nat.Candidate, answer bool) {
					select {
					case ch <- PeerCandidates{Candidates: cands, Offer: !answer}:
					default:
						t.Error("fresh candidates piled up")
					}
				}
			}
			if renew {
				pa.Renewal = &Renewal{After: after, Send: relayTo(toB), Peer: toA}
				pb.Renewal = &Renewal{After: after, STUN: addrOf(stunConn), Send: relayTo(toA), Peer: toB}
			}
			const talk = 5 * time.Second
			sinkA, sinkB := audio.NewMemorySink(), audio.NewMemorySink()
			doneA := startRun(ctx, Config{
				Session: media.SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 60*time.Millisecond), SSRC: 0xA},
				Conn:    a, NAT: pa, Sink: sinkA, Source: audio.NewTone(600, 8000, talk), PeerTimeout: 8 * time.Second,
				Logger: logA.logger(),
			})
			doneB := startRun(ctx, Config{
				Session: media.SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 60*time.Millisecond), SSRC: 0xB},
				Conn:    b, NAT: pb, Sink: sinkB, Source: audio.NewTone(440, 8000, talk), PeerTimeout: 8 * time.Second,
				Logger: logB.logger(),
			})
			time.Sleep(time.Second)
			relay.filtering.Store(true)
			rebound := time.Now()
			newAddr := relay.rebind(t, ctx)

			stA, stB := wait(t, doneA, "A"), wait(t, doneB, "B")
			back, when := time.Duration(-1), "never"
			if ns := relay.firstNew.Load(); ns != 0 {
				back = time.Unix(0, ns).Sub(rebound)
				when = back.Round(time.Millisecond).String() + " after the rebinding"
			}
			t.Logf("A's media reached B's new address %v: %s; A: received %d, lost %d, checks %d, path %s; B: received %d, lost %d, checks %d, path %s",
				newAddr, when, stA.PacketsReceived, stA.NetworkLost, stA.ChecksSent, stA.Path,
				stB.PacketsReceived, stB.NetworkLost, stB.ChecksSent, stB.Path)
			if !renew {
				if back >= 0 {
					t.Fatalf("without a renewal A's media still reached B's new address (%v): the harness does not cut the path", back)
				}
				return
			}
			if back < 0 || back > after+2*time.Second {
				t.Fatalf("A's media did not reach B's new address within %v of the rebinding (%v)\nA:\n%s\nB:\n%s",
					after+2*time.Second, back, logA.String(), logB.String())
			}
			for _, l := range []*lockedLog{&logA, &logB} {
				if !strings.Contains(l.String(), "path re-opened") {
					t.Errorf("no \"path re-opened\" in the log:\n%s", l.String())
				}
			}
			if stB.Path != "srflx->host" || stA.Path != "host->srflx" {
				t.Errorf("paths after the renewal: A %s, B %s; want host->srflx and srflx->host", stA.Path, stB.Path)
			}
			// The audio goes on: losses only around the rebinding.
			for _, side := range []struct {
				name  string
				heard []int16
				freq  float64
			}{{"A hearing B", sinkA.Samples(), 440}, {"B hearing A", sinkB.Samples(), 600}} {
				tail := side.heard[max(0, len(side.heard)-audio.SampleRate):] // the last second
				if p := goertzel(tail, side.freq) / float64(len(tail)); p < 1e5 {
					t.Errorf("%s: the last second holds no %v Hz tone (power %.3g): the audio did not come back", side.name, side.freq, p)
				}
			}
		})
	}
}

// lockedLog collects a Run's log lines.
type lockedLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *lockedLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// TestOpenPathCountsEarlyDatagrams: datagrams other than STUN that reach
// the socket while the checks run are dropped (no source is trusted yet)
// but counted, and the call reports them in rejected_source.
func TestOpenPathCountsEarlyDatagrams(t *testing.T) {
	a, b := listenUDP(t, "127.0.0.1"), listenUDP(t, "127.0.0.1")
	stranger := listenUDP(t, "127.0.0.2")
	ia, ib := newICESide(a), newICESide(b)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var pa *OpenedPath
	var errA error
	opened := make(chan struct{})
	go func() {
		defer close(opened)
		pa, errA = OpenPath(ctx, a, checkerConfig(ia, ib, true, 3*time.Second), nil)
	}()
	const early = 3
	junk := rtpPackets(t, 0xE, 1, 1, toneFrames(t, 440, 8000, early))
	send(t, stranger, addrOf(a), junk...)
	time.Sleep(100 * time.Millisecond) // A is checking; B has not started
	pb, errB := OpenPath(ctx, b, checkerConfig(ib, ia, false, 3*time.Second), nil)
	<-opened
	if errA != nil || errB != nil {
		t.Fatalf("opening the path: %v; %v", errA, errB)
	}
	st, _, err := Run(ctx, Config{
		Session:  media.SessionConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 60*time.Millisecond), SSRC: 1},
		Conn:     a,
		NAT:      pa,
		Duration: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if pa.dropped != early || st.RejectedSource != early || pb.dropped != 0 {
		t.Errorf("A dropped %d while checking and reports rejected_source %d, B dropped %d; want %d, %d, 0",
			pa.dropped, st.RejectedSource, pb.dropped, early, early)
	}
}

// A renewal without a STUN server to ask offers the candidates we had, our
// server-reflexive one included, and keeps them for the next round.
func TestRenewalWithoutSTUNKeepsOurCandidates(t *testing.T) {
	a, b := listenUDP(t, "127.0.0.1"), listenUDP(t, "127.0.0.1")
	ia, ib := newICESide(a), newICESide(b)
	cfg := checkerConfig(ia, ib, true, time.Second)
	srflx := nat.ServerReflexive(ia.cand, netip.MustParseAddrPort("203.0.113.7:40000"), netip.MustParseAddr("198.51.100.1"))
	cfg.Local = []nat.Candidate{ia.cand, srflx}
	checker, err := nat.NewChecker(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var sent [][]nat.Candidate
	path := &OpenedPath{Checker: checker, local: cfg.Local, remote: cfg.Remote,
		Renewal: &Renewal{Send: func(c []nat.Candidate, _ bool) { sent = append(sent, slices.Clone(c)) }}}
	c := &callLoop{cfg: Config{NAT: path}, log: slog.New(slog.DiscardHandler)}
	for round := range 2 {
		c.startRenewal(time.Duration(round)*10*time.Second, false)
	}
	if len(sent) != 2 {
		t.Fatalf("%d re-offers, want 2", len(sent))
	}
	for i, s := range sent {
		if !slices.Equal(s, cfg.Local) {
			t.Errorf("re-offer %d: %v, want our candidates %v", i, s, cfg.Local)
		}
	}
}
