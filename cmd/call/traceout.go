package main

import (
	"fmt"
	"github.com/spurtvoip/spurt/media"
	"os"

	"github.com/spurtvoip/spurt/codec"
	"github.com/spurtvoip/spurt/rtpcall"
)

// --trace-out: the received direction of a live call, recorded as a network
// trace (media.TraceRecorder says what the columns mean) that `call bench
// --trace FILE` replays.

// traceOption returns the option that records the call's received packets,
// and the function that writes them to the --trace-out file once the call
// is over; both do nothing without --trace-out.
func (f *callFlags) traceOption(cd codec.Codec) (func(*rtpcall.Config), func() error, error) {
	if f.traceOut == "" {
		return func(*rtpcall.Config) {}, func() error { return nil }, nil
	}
	rec, err := media.NewTraceRecorder(cd.ClockRate)
	if err != nil {
		return nil, nil, fmt.Errorf("--trace-out: %w", err)
	}
	write := func() error {
		file, err := os.Create(f.traceOut)
		if err != nil {
			return fmt.Errorf("--trace-out: %w", err)
		}
		if err := rec.WriteTrace(file); err != nil {
			file.Close()
			return fmt.Errorf("--trace-out %s: %w", f.traceOut, err)
		}
		if err := file.Close(); err != nil {
			return fmt.Errorf("--trace-out: %w", err)
		}
		return nil
	}
	return func(c *rtpcall.Config) { c.Trace = rec }, write, nil
}
