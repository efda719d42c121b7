package audio

import (
	"fmt"
	"io"
	"slices"
	"sync"
)

// A MemorySource plays samples held in memory. It is meant for tests.
type MemorySource struct {
	pcm    []int16
	next   int
	closed bool
}

// NewMemorySource returns a Source that plays a copy of pcm.
func NewMemorySource(pcm []int16) *MemorySource {
	return &MemorySource{pcm: slices.Clone(pcm)}
}

// ReadFrame fills pcm with the next samples, zero-padding the last frame; then
// it returns io.EOF.
func (s *MemorySource) ReadFrame(pcm []int16) error {
	if s.closed {
		return fmt.Errorf("memory source: read: %w", ErrClosed)
	}
	if s.next == len(s.pcm) && len(pcm) > 0 {
		return io.EOF
	}
	n := copy(pcm, s.pcm[s.next:])
	clear(pcm[n:])
	s.next += n
	return nil
}

// Close releases the source; ReadFrame fails after it.
func (s *MemorySource) Close() error {
	s.closed = true
	return nil
}

// A MemorySink records every sample written to it. It is meant for tests and
// is safe to read with Samples while another goroutine writes. The zero value
// is an empty sink ready to use.
type MemorySink struct {
	mu     sync.Mutex
	pcm    []int16
	closed bool
}

// NewMemorySink returns an empty MemorySink.
func NewMemorySink() *MemorySink {
	return &MemorySink{}
}

// WriteSamples appends a copy of pcm to the recording.
func (s *MemorySink) WriteSamples(pcm []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("memory sink: write: %w", ErrClosed)
	}
	s.pcm = append(s.pcm, pcm...)
	return nil
}

// Samples returns a copy of everything written so far, also after Close.
func (s *MemorySink) Samples() []int16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.pcm)
}

// Close ends the recording; WriteSamples fails after it.
func (s *MemorySink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}
