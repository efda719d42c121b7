package media

import (
	"fmt"
	"strings"
	"time"
)

// StatusWidth is the widest status line FormatStatus writes: one column under
// an 80-column terminal's width, so that the line never wraps and the next
// refresh overwrites it in place.
const StatusWidth = 79

// FormatStatusHeader is what is printed once above the status lines, in
// lines of at most StatusWidth columns: what their fields are, and the
// playout strategy's constants, which do not change during a call.
func FormatStatusHeader(s Status) string {
	const head = "status: time, received, loss, late loss, since the last packet, playout delay,\n"
	if s.HaveEWMA {
		return head + "  d and v, talk spurts; delays in ms, ~ while relative to the first packet\n" +
			fmt.Sprintf("  playout %s: K %g, alpha %g, beta %g", s.Strategy, s.K, s.Alpha, s.Beta)
	}
	return head + fmt.Sprintf("  talk spurts; delays in ms, ~ while relative to the first packet\n  playout %s", s.Strategy)
}

// FormatStatus renders one status line: elapsed time, packets received, loss,
// late loss, the time since the last media packet, the current playout delay,
// the EWMA's d and v, and the number of talk spurts, in at most StatusWidth
// columns (FormatStatusHeader says what they are). A "~" marks delays still
// relative to the first packet because no RTCP sender report has arrived to
// anchor them.
func FormatStatus(elapsed time.Duration, s Status) string {
	rel := ""
	if !s.Mapped {
		rel = "~"
	}
	playout := "-" // no spurt begun: no playout delay chosen yet
	if s.Spurts > 0 {
		playout = fmt.Sprintf("%s%.0f", rel, ms(s.PlayoutDelay))
	}
	last := "-" // no packet yet
	if s.HeardRTP {
		last = fmtSince(max(elapsed-s.LastRTP, 0))
	}
	fields := [...]string{
		fmtElapsed(elapsed),
		fmt.Sprintf("rx %d", s.Received),
		fmt.Sprintf("loss %.1f%%", pct(s.Lost, s.Expected)),
		fmt.Sprintf("late %.1f%%", pct(s.Late, s.Received)),
		"last " + last,
		"playout " + playout,
		"", "", // d and v, for the EWMA
		fmt.Sprintf("spurts %d", s.Spurts),
	}
	if s.HaveEWMA {
		d := "-" // nothing received: no estimate yet
		if s.Received > 0 {
			d = fmt.Sprintf("%s%.1f", rel, ms(s.D))
		}
		fields[6], fields[7] = "d "+d, fmt.Sprintf("v %.1f", ms(s.V))
	}
	// Whole fields, from the first, as many as fit: with absurd figures the
	// last ones go rather than the line wrapping.
	var b strings.Builder
	for _, f := range fields {
		if f == "" {
			continue
		}
		if b.Len() > 0 {
			if b.Len()+1+len(f) > StatusWidth {
				break
			}
			b.WriteByte(' ')
		}
		b.WriteString(f)
	}
	return b.String()
}

// fmtSince renders a time since an event: tenths of a second up to a
// minute, then minutes and seconds.
func fmtSince(d time.Duration) string {
	if d < time.Minute {
		return fmt.Sprintf("%.1fs", d.Seconds())
	}
	return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
}

func fmtElapsed(d time.Duration) string {
	d = d.Truncate(time.Second)
	return fmt.Sprintf("%02d:%02d", int(d.Minutes()), int(d.Seconds())%60)
}

func pct(part, whole uint64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

// Summary renders the end-of-call report a person reads.
func Summary(s Stats, outcome Outcome) string {
	var b strings.Builder
	opt := func(p *float64) string {
		if p == nil {
			return "n/a"
		}
		return fmt.Sprintf("%.1f ms", *p)
	}
	fmt.Fprintf(&b, "call ended: %s after %.1f s\n", outcome, s.Duration)
	fmt.Fprintf(&b, "  codec %s, playout %s", s.Codec, s.Playout)
	if s.FixedDelay > 0 {
		fmt.Fprintf(&b, " %.0f ms", s.FixedDelay)
	}
	if s.K != 0 || s.Alpha != 0 || s.Beta != 0 { // ewma and spike have them
		fmt.Fprintf(&b, " (K %g, alpha %g, beta %g)", s.K, s.Alpha, s.Beta)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "  sent %d packets; received %d of %d expected\n", s.PacketsSent, s.PacketsReceived, s.Expected)
	fmt.Fprintf(&b, "  network loss %d (%.1f%%), late loss %d (%.1f%%), duplicates %d, talk spurts %d\n",
		s.NetworkLost, pct(s.NetworkLost, s.Expected), s.LateLost, pct(s.LateLost, s.PacketsReceived), s.Duplicates, s.Talkspurts)
	fmt.Fprintf(&b, "  playout delay mean %s, p95 %s; buffer delay mean %s\n",
		opt(s.PlayoutDelayMean), opt(s.PlayoutDelayP95), opt(s.BufferDelayMean))
	fmt.Fprintf(&b, "  rtt %s, interarrival jitter %.1f ms", opt(s.RTT), s.Jitter)
	if s.RemoteLost != nil {
		fmt.Fprintf(&b, "; the peer lost %d of ours (jitter %s)", *s.RemoteLost, opt(s.RemoteJitter))
		if s.RemoteAge >= 0.05 { // a report from before the end: the peer counts on after it
			fmt.Fprintf(&b, " by its last report, %.1f s before the end", s.RemoteAge)
		}
	}
	b.WriteString("\n")
	if sends := s.FEC != "" && s.FEC != "none"; sends || s.FECRecovered > 0 {
		// s.FEC is what this side sends; what it recovered came from the
		// peer's redundancy, whatever this side sends.
		sent := "none"
		if sends {
			sent = fmt.Sprintf("%s (overhead %.0f%%)", s.FEC, 100*s.OverheadRatio)
		}
		fmt.Fprintf(&b, "  fec we send: %s; from the peer's: %s recovered, %d lost for good\n",
			sent, plural(s.FECRecovered, "chunk"), s.ResidualLost)
	}
	if s.Interleave > 0 {
		fmt.Fprintf(&b, "  interleaving %s over %s\n", plural(uint64(s.Interleave), "chunk"), plural(uint64(s.Interleave), "packet"))
	}
	if s.Concealed > 0 || s.FECLate > 0 || s.FECMalformed > 0 {
		fmt.Fprintf(&b, "  concealed %s (%.0f ms); fec rebuilt too late %d, malformed %d\n",
			plural(s.Concealed, "chunk"), s.ConcealedMs, s.FECLate, s.FECMalformed)
	}
	switch {
	case s.RFactor != nil && s.MOS != nil:
		fmt.Fprintf(&b, "  voice quality (ITU-T G.107 E-model): R %.1f, MOS %.2f\n", *s.RFactor, *s.MOS)
	case s.PeerSilent > 0:
		fmt.Fprintf(&b, "  voice quality unknown: nothing came from the peer for the last %.1f s, so what it sent then is unknown\n", s.PeerSilent)
	}
	if bad := s.Malformed + s.WrongPayload + s.RejectedSource + s.Refused; bad > 0 {
		fmt.Fprintf(&b, "  dropped input: %d malformed, %d wrong payload type, %d from other sources, %d refused\n",
			s.Malformed, s.WrongPayload, s.RejectedSource, s.Refused)
	}
	if s.SourceChanges > 0 || s.ByeIgnored > 0 {
		fmt.Fprintf(&b, "  the peer's source: %d changes of SSRC, %d RTCP BYEs ignored (its stream went on)\n",
			s.SourceChanges, s.ByeIgnored)
	}
	return b.String()
}

// plural writes n and the noun, with an s unless n is 1.
func plural(n uint64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
