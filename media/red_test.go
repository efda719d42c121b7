package media

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/pion/rtp"

	"github.com/spurtvoip/spurt/audio"
	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/fec"
	"github.com/spurtvoip/spurt/impair"
	"github.com/spurtvoip/spurt/internal/audiotest"
	"github.com/spurtvoip/spurt/internal/fixture"
)

const redPT = 96

func gsmCodec(t testing.TB) codec.Codec { return fixture.Codec(t, "gsm") }

func redConfig(t testing.TB, distance, peerDistance int) *REDConfig {
	return &REDConfig{PayloadType: redPT, Secondary: gsmCodec(t), Distance: distance, PeerDistance: peerDistance}
}

func speechSample(t testing.TB) []int16 { return fixture.Speech(t) }

// lossyCall is one direction of a call on a virtual clock: a session sends
// frames continuously (no VAD) over an impair.Link whose path drops packets
// (Bernoulli) and delays the rest by a fixed amount, and a second session
// plays them.
type lossyCall struct {
	loss     float64
	seed     uint64
	distance int // 0: plain audio
	frames   int
	delay    time.Duration
	xor      int  // XOR parity group size; 0: none
	depth    int  // interleaving depth; 0: none
	noPLC    bool // play holes as silence
}

type lossyResult struct {
	stats      Stats
	dropped    []bool // by sequence number order: media packet i was dropped
	fecDropped []bool // XOR parity packet g was dropped
	heard      []int16
}

func (c lossyCall) run(t testing.TB, speech []int16) lossyResult {
	t.Helper()
	var sendRED, recvRED *REDConfig
	if c.distance > 0 {
		sendRED, recvRED = redConfig(t, c.distance, 0), redConfig(t, 0, c.distance)
	}
	var sendXOR, recvXOR *XORConfig
	if c.xor > 0 {
		sendXOR, recvXOR = &XORConfig{PayloadType: xorPT, GroupSize: c.xor}, &XORConfig{PayloadType: xorPT, PeerGroupSize: c.xor}
	}
	var sendIL, recvIL *InterleaveConfig
	if c.depth > 0 {
		sendIL, recvIL = &InterleaveConfig{PayloadType: interleavePT, Depth: c.depth}, &InterleaveConfig{PayloadType: interleavePT, PeerDepth: c.depth}
	}
	tx, err := NewSession(SessionConfig{Codec: pcmu(t), Strategy: ewma(t), SSRC: 7, InitialSeq: 65000, InitialTime: 1 << 31,
		RED: sendRED, XOR: sendXOR, Interleave: sendIL})
	if err != nil {
		t.Fatal(err)
	}
	rx, err := NewSession(SessionConfig{Codec: pcmu(t), Strategy: ewma(t), SSRC: 8, RED: recvRED, XOR: recvXOR, Interleave: recvIL, DisablePLC: c.noPLC})
	if err != nil {
		t.Fatal(err)
	}
	loss, err := impair.NewBernoulli(c.loss, rand.New(rand.NewPCG(c.seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	path := &impair.Path{Loss: loss, Delay: impair.Constant(c.delay)}
	link := impair.NewLink(4096, MaxPacketSize)
	deliver := func(pkt []byte, at time.Duration) { rx.HandleDatagram(pkt, at, time.Time{}) }
	var res lossyResult
	var sink audio.MemorySink
	end := time.Duration(c.frames+20) * 20 * time.Millisecond
	frame := 0
	for now := time.Duration(0); now <= end; now += time.Millisecond {
		if now > 0 && now%(20*time.Millisecond) == 0 && frame < c.frames {
			at := (frame * 160) % (len(speech) - 160)
			err := tx.SendPackets(speech[at:at+160], now, func(pkt []byte) {
				copies, err := link.Send(path, pkt, now)
				if err != nil {
					t.Fatal(err)
				}
				if pkt[1]&0x7f == xorPT {
					res.fecDropped = append(res.fecDropped, copies == 0)
				} else {
					res.dropped = append(res.dropped, copies == 0)
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			frame++
		}
		link.Deliver(now, deliver)
		if err := rx.Render(now, sink.WriteSamples); err != nil {
			t.Fatal(err)
		}
	}
	res.stats = rx.Stats(end)
	res.stats.PacketsSent = tx.Stats(end).PacketsSent
	res.stats.FEC, res.stats.OverheadRatio = tx.Stats(end).FEC, tx.Stats(end).OverheadRatio
	res.heard = sink.Samples()
	return res
}

// unrecoverable counts the packets between the first and the last received
// that were dropped along with the distance packets after them, which carry
// their copies: exactly the chunks RED cannot bring back.
func unrecoverable(dropped []bool, distance int) (lost, residual int) {
	first, last := -1, -1
	for i, d := range dropped {
		if !d {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	for i := first; i >= 0 && i <= last; i++ {
		if !dropped[i] {
			continue
		}
		lost++
		gone := true
		for k := 1; k <= distance; k++ {
			if i+k < len(dropped) && !dropped[i+k] {
				gone = false
			}
		}
		if gone {
			residual++
		}
	}
	return lost, residual
}

// TestREDRecoversLossAsTheoryPredicts runs a continuous call through
// Bernoulli loss p. With distance d a chunk stays lost only if its packet and
// the d after it are all lost, probability p^(d+1); the residual must equal
// that count exactly (every copy arrives in time: the receiver adds the
// redundancy span to its playout delay) and lie within 4 standard deviations
// of the theory.
func TestREDRecoversLossAsTheoryPredicts(t *testing.T) {
	speech := speechSample(t)
	const frames = 6000
	tests := []struct {
		loss     float64
		distance int
		seed     uint64
	}{
		{0.10, 1, 1},
		{0.10, 2, 2},
		{0.20, 1, 3},
		{0.20, 2, 4},
	}
	for _, tt := range tests {
		c := lossyCall{loss: tt.loss, seed: tt.seed, distance: tt.distance, frames: frames, delay: 30 * time.Millisecond}
		res := c.run(t, speech)
		st := res.stats
		lost, residual := unrecoverable(res.dropped, tt.distance)
		p := tt.loss
		n := float64(st.Expected)
		q := math.Pow(p, float64(tt.distance+1)) // a chunk stays lost
		// adjacent chunks share packets, which widens the spread: use the
		// variance of a sum of m-dependent indicators, sum over lags |j| <= d
		// of Cov = p^(d+1+|j|) - q^2
		variance := q - q*q
		for j := 1; j <= tt.distance; j++ {
			variance += 2 * (math.Pow(p, float64(tt.distance+1+j)) - q*q)
		}
		sd := math.Sqrt(n * variance)
		t.Logf("p %.2f red:%d: %d expected, network_lost %d, recovered %d, residual %d (exactly %d unrecoverable; theory %.1f ± %.1f), late %d, overhead %.3f, playout %.1f ms",
			p, tt.distance, st.Expected, st.NetworkLost, st.FECRecovered, st.ResidualLost, residual, n*q, sd, st.LateLost, st.OverheadRatio, deref(st.BufferDelayMean))
		if int(st.NetworkLost) != lost {
			t.Errorf("p %.2f red:%d: network_lost %d, but %d packets were dropped", p, tt.distance, st.NetworkLost, lost)
		}
		if int(st.ResidualLost) != residual || st.LateLost != 0 {
			t.Errorf("p %.2f red:%d: residual_lost %d (late %d), want exactly %d", p, tt.distance, st.ResidualLost, st.LateLost, residual)
		}
		if math.Abs(float64(st.ResidualLost)-n*q) > 4*sd {
			t.Errorf("p %.2f red:%d: residual %d, theory %.1f ± 4×%.1f", p, tt.distance, st.ResidualLost, n*q, sd)
		}
		if st.FECRecovered != st.NetworkLost-st.ResidualLost {
			t.Errorf("recovered %d + residual %d != lost %d", st.FECRecovered, st.ResidualLost, st.NetworkLost)
		}
		if st.FEC != "red:"+string(rune('0'+tt.distance)) {
			t.Errorf("fec %q", st.FEC)
		}
		// per packet: d GSM copies of 33 bytes, d 4-byte headers and the 1-byte final header over 160 bytes
		wantOverhead := float64(tt.distance*(33+4)+1) / 160
		if math.Abs(st.OverheadRatio-wantOverhead) > 0.01 {
			t.Errorf("overhead %.4f, want about %.4f", st.OverheadRatio, wantOverhead)
		}
		if st.Missing == 0 && residual > 0 {
			t.Errorf("no holes played though %d chunks were unrecoverable", residual)
		}
	}
}

// TestREDImprovesReceivedAudio: under the same loss the call with RED sounds
// measurably closer to what was sent, counting lost audio as error, and the
// price shows in the playout delay (one chunk more per copy). The recovered
// chunks decode at about 6-9 dB SNR (TestREDCopiesDecodeContinuously) where
// a lost chunk played as silence is 0 dB, so with most of the lost chunks
// recovered the whole-call SNR must rise by 2 dB at least (measured 3.3 dB
// for red:1), and the log-spectral distance fall below 80 %.
func TestREDImprovesReceivedAudio(t *testing.T) {
	speech := speechSample(t)
	frames := len(speech)/160 - 1
	ref := speech[:frames*160]
	var fid [3]audiotest.Fidelity
	var delay [3]float64
	for i, distance := range []int{0, 1, 2} {
		c := lossyCall{loss: 0.1, seed: 9, distance: distance, frames: frames, delay: 30 * time.Millisecond, noPLC: true}
		res := c.run(t, speech)
		fid[i] = audiotest.CompareWhole(ref, res.heard, 16000)
		delay[i] = *res.stats.BufferDelayMean
		t.Logf("red:%d: SNR %.2f dB, segmental SNR %.2f dB, spectral distance %.2f dB, lag %d; lost %d residual %d; buffer delay %.1f ms",
			distance, fid[i].SNR, fid[i].SegmentalSNR, fid[i].SpectralDistance, fid[i].Lag, res.stats.NetworkLost, res.stats.ResidualLost, delay[i])
		if distance == 0 {
			continue
		}
		if fid[i].SpectralDistance > 0.8*fid[0].SpectralDistance || fid[i].SNR < fid[0].SNR+2 {
			t.Errorf("red:%d: spectral distance %.2f dB, SNR %.2f dB; plain %.2f dB, %.2f dB: want the distance below 80 %% of plain's and the SNR 2 dB above",
				distance, fid[i].SpectralDistance, fid[i].SNR, fid[0].SpectralDistance, fid[0].SNR)
		}
		if delay[i] < delay[0]+float64(distance)*20-5 {
			t.Errorf("buffer delay with red:%d %.1f ms, plain %.1f ms: the recovery's %d chunks of delay should show", distance, delay[i], delay[0], distance)
		}
	}
}

// TestREDCopiesDecodeContinuously measures the recovered chunks alone, each
// against the speech sent, over several loss patterns: the copies must sound
// as GSM does when one decoder runs over the whole stream (the reference
// here, computed in the test), not as a decoder fed only the recovered
// chunks does (the receiver's old way, also computed here). With red:2 an
// isolated loss leaves the decoder's input whole, so those chunks must match
// the reference within 0.5 dB; with red:1 the copy of the chunk before a
// lost packet was in that packet, so the decoder is bridged over it with the
// re-encoded primary, which costs a little (measured 1-3 dB on isolated
// losses).
func TestREDCopiesDecodeContinuously(t *testing.T) {
	speech := speechSample(t)
	frames := len(speech)/160 - 1
	g := gsmCodec(t)
	enc, whole := g.NewEncoder(), g.NewDecoder()
	copies := make([][]byte, frames)
	var reference []int16 // every copy through one decoder
	for i := range frames {
		b, err := enc.Encode(nil, speech[i*160:(i+1)*160])
		if err != nil {
			t.Fatal(err)
		}
		copies[i] = b
		if reference, err = whole.Decode(reference, b); err != nil {
			t.Fatal(err)
		}
	}
	type energy struct{ sig, noise float64 }
	add := func(e *energy, got []int16, at int) {
		for k := range 160 {
			x, y := float64(speech[at*160+k]), 0.0
			if k < len(got) {
				y = float64(got[k])
			}
			e.sig += x * x
			e.noise += (x - y) * (x - y)
		}
	}
	db := func(e energy) float64 { return 10 * math.Log10(e.sig/e.noise) }
	for _, distance := range []int{1, 2} {
		var heard, ref, alone, isoHeard, isoRef energy
		chunks, isolated := 0, 0
		for _, seed := range []uint64{9, 10, 11} {
			c := lossyCall{loss: 0.1, seed: seed, distance: distance, frames: frames, delay: 30 * time.Millisecond, noPLC: true}
			res := c.run(t, speech)
			lag := audiotest.CompareWhole(speech[:frames*160], res.heard, 16000).Lag
			old := g.NewDecoder() // sees only the recovered chunks
			for i := 2; i < frames-distance; i++ {
				if !res.dropped[i] || !slices.Contains(res.dropped[i+1:i+1+distance], false) {
					continue // received, or not recoverable
				}
				chunks++
				got := res.heard[min(i*160+lag, len(res.heard)):min((i+1)*160+lag, len(res.heard))]
				add(&heard, got, i)
				add(&ref, reference[i*160:(i+1)*160], i)
				pcm, err := old.Decode(nil, copies[i])
				if err != nil {
					t.Fatal(err)
				}
				add(&alone, pcm, i)
				if !res.dropped[i-2] && !res.dropped[i-1] && !res.dropped[i+1] {
					isolated++
					add(&isoHeard, got, i)
					add(&isoRef, reference[i*160:(i+1)*160], i)
				}
			}
		}
		t.Logf("red:%d: %d recovered chunks: SNR %.2f dB; one decoder over every copy %.2f dB; a decoder of the recovered chunks alone %.2f dB; %d isolated losses: %.2f dB against %.2f dB",
			distance, chunks, db(heard), db(ref), db(alone), isolated, db(isoHeard), db(isoRef))
		if db(heard) < db(alone)+3 {
			t.Errorf("red:%d: recovered chunks at %.2f dB, hardly better than a decoder of them alone (%.2f dB)", distance, db(heard), db(alone))
		}
		slack := 3.0
		if distance == 2 {
			slack = 0.5
		}
		if db(isoHeard) < db(isoRef)-slack {
			t.Errorf("red:%d: isolated losses recovered at %.2f dB, one decoder over every copy gives %.2f dB: want within %.1f dB", distance, db(isoHeard), db(isoRef), slack)
		}
	}
}

// TestREDSpanIsTheWidestSeen: the redundancy span added to the playout
// delay is the widest of what the peer announced and what its RED packets
// have carried, so a stream whose first packets (which carry fewer copies)
// were lost still gets room for all its copies; plain packets need none.
func TestREDSpanIsTheWidestSeen(t *testing.T) {
	red2, red1 := redPackets(t, 6, 2), redPackets(t, 6, 1)
	plain := make([][]byte, 3)
	s, err := NewSender(SenderConfig{Codec: pcmu(t), SSRC: 9, InitialSeq: 100, InitialTime: 5000})
	if err != nil {
		t.Fatal(err)
	}
	for i := range plain {
		b, err := onePacket(s, make([]int16, 160))
		if err != nil {
			t.Fatal(err)
		}
		plain[i] = append([]byte(nil), b...)
	}
	ms := time.Millisecond
	tests := []struct {
		name      string
		announced int
		pkts      [][]byte
		want      []time.Duration // the span after each packet
	}{
		// The stream's first packet is held until the second passes its
		// source's probation (source.go): the span moves from the second on.
		{"announced red:2, the first packet lost", 2, red2[1:4], []time.Duration{40 * ms, 40 * ms, 40 * ms}},
		{"nothing announced, red:2's first packets lost", 0, red2[1:4], []time.Duration{0, 40 * ms, 40 * ms}},
		{"nothing announced, red:2's second packet lost", 0, [][]byte{red2[1], red2[3], red2[4]}, []time.Duration{0, 40 * ms, 40 * ms}},
		{"a spurt's first packets do not narrow it", 0, [][]byte{red2[2], red2[0], red2[1]}, []time.Duration{0, 40 * ms, 40 * ms}},
		{"announced red:1, sends red:2", 1, red2[2:4], []time.Duration{20 * ms, 40 * ms}},
		{"announced red:2, sends red:1", 2, red1[1:3], []time.Duration{40 * ms, 40 * ms}},
		{"announced red:2, sends plain audio", 2, plain, []time.Duration{40 * ms, 0, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReceiver(ReceiverConfig{Codec: pcmu(t), Strategy: ewma(t), RED: redConfig(t, 0, tt.announced)})
			if err != nil {
				t.Fatal(err)
			}
			if want := time.Duration(tt.announced) * 20 * ms; r.red.Span() != want {
				t.Errorf("before any packet: span %v, want %v", r.red.Span(), want)
			}
			for i, p := range tt.pkts {
				r.HandleRTP(p, time.Duration(i)*20*ms)
				if r.red.Span() != tt.want[i] {
					t.Errorf("after packet %d: span %v, want %v", i, r.red.Span(), tt.want[i])
				}
			}
		})
	}
}

// redPackets builds n consecutive RED packets (PCMU primary, GSM copies).
func redPackets(t testing.TB, n, distance int) [][]byte {
	t.Helper()
	s, err := NewSender(SenderConfig{Codec: pcmu(t), SSRC: 9, InitialSeq: 100, InitialTime: 5000, RED: redConfig(t, distance, 0)})
	if err != nil {
		t.Fatal(err)
	}
	speech := speechSample(t)
	out := make([][]byte, n)
	for i := range out {
		at := (i * 160) % (len(speech) - 160)
		b, err := onePacket(s, speech[at:at+160])
		if err != nil {
			t.Fatal(err)
		}
		out[i] = append([]byte(nil), b...)
	}
	return out
}

func TestREDPacketLayout(t *testing.T) {
	pkts := redPackets(t, 4, 2)
	var p rtp.Packet
	blocks := make([]fec.Block, 0, fec.MaxREDBlocks)
	for i, b := range pkts {
		if err := p.Unmarshal(b); err != nil {
			t.Fatal(err)
		}
		if p.PayloadType != redPT || p.Timestamp != uint32(5000+160*i) || p.SequenceNumber != uint16(100+i) || p.Marker != (i == 0) {
			t.Errorf("packet %d header %+v", i, p.Header)
		}
		got, err := fec.ParseRED(p.Payload, blocks)
		if err != nil {
			t.Fatalf("packet %d: %v", i, err)
		}
		copies := min(i, 2) // the first packets have fewer chunks before them
		if len(got) != copies+1 {
			t.Fatalf("packet %d: %d blocks, want %d", i, len(got), copies+1)
		}
		for j, blk := range got[:copies] {
			wantOffset := uint16(160 * (copies - j)) // oldest first
			if blk.PT != 3 || blk.TimestampOffset != wantOffset || len(blk.Payload) != 33 {
				t.Errorf("packet %d block %d: PT %d offset %d len %d, want GSM at %d", i, j, blk.PT, blk.TimestampOffset, len(blk.Payload), wantOffset)
			}
		}
		if prim := got[copies]; prim.PT != 0 || len(prim.Payload) != 160 {
			t.Errorf("packet %d primary: PT %d len %d", i, prim.PT, len(prim.Payload))
		}
	}
}

// TestREDLatePrimaryReplacesCopy: when packet n+1 overtakes packet n, the
// copy of n comes first; packet n, arriving before its playout, replaces it
// (nothing counted as recovered), and a packet arriving after its copy was
// played counts as late, its chunk as recovered.
func TestREDLatePrimaryReplacesCopy(t *testing.T) {
	pkts := redPackets(t, 10, 1)
	r, err := NewReceiver(ReceiverConfig{Codec: pcmu(t), Strategy: fixedStrategy(t, 60*time.Millisecond), RED: redConfig(t, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ms := time.Millisecond
	r.HandleRTP(pkts[0], 10*ms)
	r.HandleRTP(pkts[1], 30*ms)
	r.HandleRTP(pkts[3], 70*ms) // overtakes 2, carrying its copy
	r.HandleRTP(pkts[2], 72*ms) // in time: replaces the copy
	r.HandleRTP(pkts[5], 110*ms)
	if err := r.Render(200*ms, discard); err != nil { // 4's copy plays at 10+60+80 = 150 ms
		t.Fatal(err)
	}
	r.HandleRTP(pkts[4], 201*ms) // after its copy played
	if err := r.Render(300*ms, discard); err != nil {
		t.Fatal(err)
	}
	st := r.Stats()
	if st.Packets != 6 || st.Recovered != 1 || st.Late != 1 || st.Lost != 0 || st.Duplicates != 0 || st.ResidualLost != 0 || st.Played != 6 {
		t.Errorf("stats %+v, want 6 packets, 1 recovered (packet 4), 1 late, none lost, 6 played", st)
	}
}

// TestREDMalformedIsCountedAndDropped: RED payloads that do not parse, name
// unknown payload types or carry undecodable copies are counted in
// fec_malformed and dropped. Copies that parse but cannot stand for a packet
// (an offset that is not a whole number of chunks, a length other than the
// primary's) are counted and left unused, the primary played; an empty
// redundant block carries nothing and is no error.
func TestREDMalformedIsCountedAndDropped(t *testing.T) {
	good := redPackets(t, 2, 1)[1]
	hdr := good[:12]
	with := func(payload ...byte) []byte { return append(append([]byte(nil), hdr...), payload...) }
	gsmCopy := make([]byte, 33)
	gsmCopy[0] = 0xd0
	primary := make([]byte, 160)
	block := func(pt byte, offset, length int) []byte {
		v := offset<<10 | length
		return []byte{0x80 | pt, byte(v >> 16), byte(v >> 8), byte(v)}
	}
	cat := func(parts ...[]byte) []byte {
		var out []byte
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name      string
		pkt       []byte
		packets   uint64 // 0: dropped
		malformed uint64 // fec_malformed
	}{
		{"empty payload", with(), 0, 1},
		{"header only", with(0x83, 0, 0xa0), 0, 1},
		{"length past the end", with(append([]byte{0x83, 0x02, 0x80 | 0, 33, 0}, gsmCopy[:10]...)...), 0, 1},
		{"more blocks than fit", with(append(repeatBytes([]byte{0x83, 0x02, 0x80, 0}, fec.MaxREDBlocks), 0, 1)...), 0, 1},
		{"unknown block PT", with(append(append([]byte{0x80 | 18, 0x02, 0x80, 33, 0}, gsmCopy...), 0xff)...), 0, 1},
		{"unknown primary PT", with(append(append([]byte{0x83, 0x02, 0x80, 33, 8}, gsmCopy...), 0xff)...), 0, 1},
		{"copy of the wrong length", with(append(append([]byte{0x83, 0x02, 0x80, 32, 0}, gsmCopy[:32]...), 0xff)...), 0, 1},
		{"copy at offset zero", with(append(append([]byte{0x83, 0, 0, 33, 0}, gsmCopy...), 0xff)...), 0, 1},
		{"empty copy", with(cat(block(3, 160, 0), []byte{0}, primary)...), 1, 0},
		{"empty copy and a good one", with(cat(block(3, 320, 0), block(3, 160, 33), []byte{0}, gsmCopy, primary)...), 1, 0},
		{"offset not a whole chunk", with(cat(block(3, 100, 33), []byte{0}, gsmCopy, primary)...), 1, 1},
		{"copy longer than the primary", with(cat(block(3, 160, 66), []byte{0}, gsmCopy, gsmCopy, primary)...), 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewReceiver(ReceiverConfig{Codec: pcmu(t), Strategy: ewma(t), RED: redConfig(t, 0, 1)})
			if err != nil {
				t.Fatal(err)
			}
			r.HandleRTP(good, time.Millisecond)
			r.HandleRTP(tt.pkt[:2:2], 2*time.Millisecond) // not RTP at all
			pkt := append([]byte(nil), tt.pkt...)
			pkt[3]++ // the next sequence number: its copy stands for the good packet
			r.HandleRTP(pkt, 3*time.Millisecond)
			if st := r.Stats(); st.FECMalformed != tt.malformed || st.Packets != 1+tt.packets || st.Malformed != 1 {
				t.Errorf("fec_malformed %d, packets %d, malformed %d; want %d, %d, 1 (the runt)", st.FECMalformed, st.Packets, st.Malformed, tt.malformed, 1+tt.packets)
			}
		})
	}
}

func repeatBytes(b []byte, n int) []byte {
	var out []byte
	for range n {
		out = append(out, b...)
	}
	return out
}

func TestREDConfigRefused(t *testing.T) {
	tests := []struct {
		name string
		cfg  REDConfig
	}{
		{"payload type of the codec", REDConfig{PayloadType: 0, Secondary: gsmCodec(t), Distance: 1}},
		{"no secondary", REDConfig{PayloadType: redPT, Distance: 1}},
		{"distance too large", REDConfig{PayloadType: redPT, Secondary: gsmCodec(t), Distance: MaxREDDistance + 1}},
		{"8-bit payload type", REDConfig{PayloadType: 200, Secondary: gsmCodec(t), Distance: 1}},
	}
	for _, tt := range tests {
		if _, err := NewSession(SessionConfig{Codec: pcmu(t), Strategy: ewma(t), RED: &tt.cfg}); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	var nilCfg *REDConfig
	if nilCfg.Scheme() != "none" || (&REDConfig{Distance: 2}).Scheme() != "red:2" {
		t.Errorf("schemes %q %q", nilCfg.Scheme(), (&REDConfig{Distance: 2}).Scheme())
	}
}

func TestREDPathsAllocateNothing(t *testing.T) {
	s, err := NewSender(SenderConfig{Codec: pcmu(t), SSRC: 1, RED: redConfig(t, 2, 0)})
	if err != nil {
		t.Fatal(err)
	}
	pcm := speechSample(t)[8000 : 8000+160]
	if allocs := testing.AllocsPerRun(1000, func() {
		if _, err := onePacket(s, pcm); err != nil {
			t.Fatal(err)
		}
	}); allocs != 0 {
		t.Errorf("RED send path: %v allocations per frame, want 0", allocs)
	}

	// red:2 decodes every copy in order; red:1 bridges the decoder over the
	// chunk before each loss with a re-encoded primary
	for _, distance := range []int{2, 1} {
		pkts := redPackets(t, 3000, distance)
		r, err := NewReceiver(ReceiverConfig{Codec: pcmu(t), Strategy: ewma(t), RED: redConfig(t, 0, distance)})
		if err != nil {
			t.Fatal(err)
		}
		i := 0
		step := func() {
			arrival := time.Duration(i)*20*time.Millisecond + 30*time.Millisecond
			if i%5 != 3 { // every fifth packet lost: its copy plays
				r.HandleRTP(pkts[i], arrival)
			}
			if err := r.Render(arrival, discard); err != nil {
				t.Fatal(err)
			}
			i++
		}
		for range 100 {
			step()
		}
		if allocs := testing.AllocsPerRun(2000, step); allocs != 0 {
			t.Errorf("red:%d receive path: %v allocations per packet, want 0", distance, allocs)
		}
		if err := r.Render(time.Duration(i)*20*time.Millisecond+time.Second, discard); err != nil {
			t.Fatal(err)
		}
		if st := r.Stats(); st.Recovered < 400 || st.ResidualLost != 0 {
			t.Errorf("red:%d: recovered %d, residual %d; want every lost chunk recovered: %+v", distance, st.Recovered, st.ResidualLost, st)
		}
	}
}

func BenchmarkREDSendPath(b *testing.B) {
	s, err := NewSender(SenderConfig{Codec: pcmu(b), SSRC: 1, RED: redConfig(b, 2, 0)})
	if err != nil {
		b.Fatal(err)
	}
	pcm := speechSample(b)[8000 : 8000+160]
	b.ReportAllocs()
	for b.Loop() {
		if _, err := onePacket(s, pcm); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkREDReceivePath measures one RED packet (distance 2) through the
// receive pipeline, every tenth one lost so that copies are decoded too.
func BenchmarkREDReceivePath(b *testing.B) {
	pkts := redPackets(b, 1<<12, 2)
	r, err := NewReceiver(ReceiverConfig{Codec: pcmu(b), Strategy: ewma(b), RED: redConfig(b, 0, 2)})
	if err != nil {
		b.Fatal(err)
	}
	var h rtp.Header
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		p := pkts[i%len(pkts)]
		if _, err := h.Unmarshal(p); err != nil {
			b.Fatal(err)
		}
		h.SequenceNumber = uint16(100 + i)
		h.Timestamp = uint32(5000 + 160*i)
		if _, err := h.MarshalTo(p); err != nil {
			b.Fatal(err)
		}
		arrival := time.Duration(i)*20*time.Millisecond + 30*time.Millisecond
		if i%10 != 7 {
			r.HandleRTP(p, arrival)
		}
		if err := r.Render(arrival, discard); err != nil {
			b.Fatal(err)
		}
	}
}

// FuzzREDReceive feeds arbitrary RED payloads, behind a valid RTP header of
// the negotiated RED payload type, into a receiver between good packets:
// nothing may panic, malformed input is counted, the good packets still play.
func FuzzREDReceive(f *testing.F) {
	pkts := redPackets(f, 6, 2)
	for _, p := range pkts[1:] {
		f.Add(p[12:], uint16(3))
	}
	f.Add([]byte{0x83, 0x02, 0x80, 33, 0}, uint16(1))
	f.Add([]byte{0x83, 0x02, 0x83, 0xff, 0, 1, 2}, uint16(1))
	f.Add([]byte{0x80, 0, 0, 0}, uint16(65535))
	f.Fuzz(func(t *testing.T, payload []byte, seqDelta uint16) {
		r, err := NewReceiver(ReceiverConfig{Codec: pcmu(t), Strategy: ewma(t), RED: redConfig(t, 0, 2)})
		if err != nil {
			t.Fatal(err)
		}
		r.HandleRTP(pkts[0], 0)
		h := rtp.Header{Version: 2, PayloadType: redPT, SequenceNumber: 100 + seqDelta, Timestamp: 5000 + 160*uint32(seqDelta), SSRC: 9}
		b, err := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
		if err != nil {
			t.Fatal(err)
		}
		r.HandleRTP(b, 20*time.Millisecond)
		for i, p := range pkts[1:] {
			r.HandleRTP(p, time.Duration(i+2)*20*time.Millisecond)
		}
		if err := r.Render(time.Second, discard); err != nil && !errors.Is(err, errSink) {
			t.Fatal(err)
		}
		st := r.Stats()
		if st.Played+st.Refused > st.Packets+st.Recovered+st.Refused || st.Packets < 5 {
			t.Fatalf("stats %+v", st)
		}
	})
}

var errSink = errors.New("sink")

// A long call (more than 32768 packets, half the sequence space, about 11
// minutes) still recovers from copies: one loss every 1000 packets, over
// 70,000 packets and a sequence number wrap.
func TestREDRecoversThroughoutALongCall(t *testing.T) {
	const n = 70000
	s, err := NewSender(SenderConfig{Codec: pcmu(t), SSRC: 9, InitialSeq: 60000, InitialTime: 5000, RED: redConfig(t, 1, 0)})
	if err != nil {
		t.Fatal(err)
	}
	r, err := NewReceiver(ReceiverConfig{Codec: pcmu(t), Strategy: ewma(t), RED: redConfig(t, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	pcm := speechSample(t)[8000 : 8000+160]
	lost := 0
	for i := range n {
		pkt, err := onePacket(s, pcm)
		if err != nil {
			t.Fatal(err)
		}
		arrival := time.Duration(i)*20*time.Millisecond + 30*time.Millisecond
		if i%1000 == 500 {
			lost++
		} else {
			r.HandleRTP(pkt, arrival)
		}
		if err := r.Render(arrival, discard); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Render(time.Duration(n)*20*time.Millisecond+time.Second, discard); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Lost != uint64(lost) || st.Recovered != uint64(lost) || st.ResidualLost != 0 {
		t.Errorf("lost %d of %d packets: stats lost %d, recovered %d, residual %d; want all %d recovered",
			lost, n, st.Lost, st.Recovered, st.ResidualLost, lost)
	}
}
