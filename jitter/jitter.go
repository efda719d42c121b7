// Package jitter owns playout buffers: given RTP packets and their arrival times
// on the receiver's clock, it decides when each chunk is played, which arrivals
// are too late, and where talk spurts begin. It is a clockless state machine:
// time comes in as an argument and nothing here sleeps, spawns or does I/O.
//
// # Time bases
//
// Two clocks meet here and are never assumed to agree. Media time is the RTP
// timestamp, unwrapped to 64 bits and converted to a duration since the
// stream's first timestamp: it is the sender's clock. Arrival and playout
// times are on the receiver's clock. A packet's transit, arrival minus media
// time, is therefore the network delay plus an unknown constant clock offset;
// the strategies estimate transit as a whole and the offset cancels out.
//
// # Strategies
//
// A [Strategy] picks the playout offset (playout time minus media time) at the
// first packet of each talk spurt. [EWMA] is the adaptive scheme of Ramjee,
// Kurose, Towsley and Schulzrinne, "Adaptive playout mechanisms for packetized
// audio applications in wide-area networks" (IEEE INFOCOM 1994), algorithm 1.
// With n_i the transit of packet i:
//
//	d_i = alpha*d_{i-1} + (1-alpha)*n_i          estimated delay
//	v_i = beta*v_{i-1}  + (1-beta)*|n_i - d_i|    estimated deviation
//	offset = d_i + K*v_i                          at a spurt's first packet
//
// Alpha and beta weight the PREVIOUS estimate, as in the paper: a value close
// to 1 gives a slow, smooth estimate. The defaults alpha = beta = 0.998002 and
// K = 4 are the paper's and only make sense in this convention (a mission text
// that writes alpha as the weight of the new sample means the same scheme).
// Every received packet that is not a duplicate updates d and v, late ones
// included; packets refused outright (too large, invalid, or not fitting the
// stream) do not.
//
// The classic scheme starts cold: d from the first sample, v = 0, then a new
// sample weight of 1-alpha = 0.002, so estimates need hundreds of packets to
// settle and the first spurt plays with no headroom at all. By default EWMA
// warms up instead: the first [EWMAConfig.WarmupPackets] samples are averaged
// plainly (new-sample weight max(1/n, 1-alpha) for the n-th packet, for d and
// v alike) and v starts at [EWMAConfig.InitialDeviation], which stands in for
// the first packet's deviation (always zero, since d_1 = n_1), so the first
// spurt gets K*InitialDeviation of headroom. WarmupPackets = 0 selects the
// classic cold start. [Fixed] is the baseline: a constant delay above the
// fastest packet seen.
//
// # Talk spurts
//
// A packet starts a new spurt if it is the first of the stream, carries the
// RTP marker bit, or follows the newest packet with the next sequence number
// and a timestamp jump larger than that packet's duration (silence was
// suppressed). A timestamp jump together with a sequence gap is loss, not
// silence, as far as the missing packets (of the newest one's duration) can
// fill it: the packet continues the current spurt and the gap becomes
// [Chunk]s with Missing set. A jump beyond that is silence too (RFC 3551
// 4.1), so a spurt whose marked first packet was lost still starts at its
// second. A marker bit on a packet older than the newest one does not start
// a spurt retroactively; but a marked packet just before the first packet of
// a later spurt, which overtook it, is that spurt's first packet and joins it
// (late if that spurt's offset has passed it).
//
// The first packet of a spurt plays at max(media time + offset, arrival), so
// it is never late, and no earlier than the end of the audio already
// scheduled, so spurts never overlap. The offset that results is fixed for
// the whole spurt: later packets play at strict cadence, media time + offset,
// and a packet arriving after that instant is late loss (dropped and counted,
// after updating the strategy).
//
// # Reordering and bad input
//
// A packet older than the newest one joins the spurt whose timestamp range
// contains it and plays at that spurt's offset, unless its place was already
// passed by Pop or its audio would run into the next spurt, which makes it
// late. Sequence numbers and timestamps are unwrapped to 64 bits as in RFC
// 3550 appendix A.1. A packet whose sequence number is more than 3000 ahead or
// 100 behind the newest, whose timestamp goes backwards while its sequence
// number goes forwards, or whose transit differs from the newest packet's by
// more than 5 s (no conversation survives that much jitter; G.114 puts the
// limit of usable one-way delay at 400 ms) does not fit the stream: it is
// refused as [OutcomeTooOld]. If the packet right after it continues it (next
// sequence number, consistent timestamp), the sender is taken to have
// restarted: the stream is re-anchored at that packet, which starts a new
// spurt with its media time chosen so that its transit equals the newest
// packet's. Estimates carry over unharmed and what was queued still plays. So
// a stray packet costs itself, a restart or a clock jump costs one packet, and
// neither can push playout hours into the future.
package jitter
