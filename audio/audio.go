// Package audio owns where speech comes from and goes to: the Source and Sink
// contracts, 8 kHz mono 16-bit WAV files, a tone generator and in-memory fakes.
// Sound cards live in the sub-package device, so that nothing here needs cgo.
package audio

// SampleRate is the only rate Spurt's pipeline runs at (narrowband telephony).
const SampleRate = 8000

// FrameSamples is the number of samples in one 20 ms chunk at SampleRate.
const FrameSamples = 160

// A Source produces speech one frame at a time.
type Source interface {
	// ReadFrame fills all of pcm. At the end of the input a final partial frame is
	// zero-padded and returned with a nil error; the call after that returns io.EOF.
	ReadFrame(pcm []int16) error
	// Close releases the source.
	Close() error
}

// A Sink consumes played-out speech.
type Sink interface {
	// WriteSamples takes samples in play order. A Sink does not keep pcm.
	WriteSamples(pcm []int16) error
	// Close flushes and releases the sink (a WAV sink fixes up its header here).
	Close() error
}
