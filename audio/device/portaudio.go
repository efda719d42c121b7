//go:build cgo && !nodevice

package device

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"

	"github.com/gordonklaus/portaudio"

	"github.com/spurtvoip/spurt/audio"
)

// portAudioMu serialises PortAudio's Initialize/Terminate, device enumeration
// and stream opening and closing: PortAudio reference-counts initialisation
// itself, but the Go binding keeps that count and its device cache in plain
// package variables, so concurrent calls from different goroutines would race.
var portAudioMu sync.Mutex

// chunksPerSecond sets the device buffer to 20 ms, one Spurt frame.
const chunksPerSecond = audio.SampleRate / audio.FrameSamples

// withPortAudio runs fn between Initialize and Terminate, under portAudioMu.
func withPortAudio(fn func() error) error {
	portAudioMu.Lock()
	defer portAudioMu.Unlock()
	if err := initialize(); err != nil {
		return fmt.Errorf("initialising PortAudio: %w", err)
	}
	err := fn()
	if terr := portaudio.Terminate(); terr != nil {
		err = errors.Join(err, fmt.Errorf("terminating PortAudio: %w", terr))
	}
	return err
}

// List reports the sound devices PortAudio can see. A machine without sound
// cards gives an empty list (or only ALSA's virtual devices), not an error.
func List() ([]Info, error) {
	var infos []Info
	err := withPortAudio(func() error {
		devices, err := portaudio.Devices()
		if err != nil {
			return err
		}
		defaultIn, defaultOut := defaultIndexes()
		infos = make([]Info, 0, len(devices))
		for _, d := range devices {
			infos = append(infos, Info{
				Name:              d.Name,
				HostAPI:           hostAPIName(d),
				MaxInputChannels:  d.MaxInputChannels,
				MaxOutputChannels: d.MaxOutputChannels,
				DefaultInput:      d.Index == defaultIn,
				DefaultOutput:     d.Index == defaultOut,
			})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("device: list: %w", err)
	}
	return infos, nil
}

// defaultIndexes returns the default input and output device indexes, -1 for none.
func defaultIndexes() (in, out int) {
	in, out = -1, -1
	if d, err := portaudio.DefaultInputDevice(); err == nil {
		in = d.Index
	}
	if d, err := portaudio.DefaultOutputDevice(); err == nil {
		out = d.Index
	}
	return in, out
}

func hostAPIName(d *portaudio.DeviceInfo) string {
	if d.HostApi == nil {
		return ""
	}
	return d.HostApi.Name
}

// direction is which way a stream carries sound.
type direction int

const (
	input direction = iota
	output
)

func (dir direction) String() string {
	if dir == input {
		return "input"
	}
	return "output"
}

func (dir direction) channels(d *portaudio.DeviceInfo) int {
	if dir == input {
		return d.MaxInputChannels
	}
	return d.MaxOutputChannels
}

// findDevice picks the device called name ("" for the default): an exact
// name, else the one device whose name contains name, ignoring case.
func findDevice(name string, dir direction) (*portaudio.DeviceInfo, error) {
	if name == "" {
		var d *portaudio.DeviceInfo
		var err error
		if dir == input {
			d, err = portaudio.DefaultInputDevice()
		} else {
			d, err = portaudio.DefaultOutputDevice()
		}
		if errors.Is(err, portaudio.NoDefaultInputDevice) || errors.Is(err, portaudio.NoDefaultOutputDevice) {
			return nil, fmt.Errorf("%w: the system has no default %s device", ErrNotFound, dir)
		}
		if err != nil {
			return nil, fmt.Errorf("finding the default %s device: %w", dir, err)
		}
		return d, nil
	}
	devices, err := portaudio.Devices()
	if err != nil {
		return nil, err
	}
	var candidates, matches []string
	var match *portaudio.DeviceInfo
	for _, d := range devices {
		if dir.channels(d) < 1 {
			continue
		}
		if d.Name == name {
			return d, nil
		}
		candidates = append(candidates, fmt.Sprintf("%q", d.Name))
		if strings.Contains(strings.ToLower(d.Name), strings.ToLower(name)) {
			matches = append(matches, fmt.Sprintf("%q", d.Name))
			match = d
		}
	}
	switch len(matches) {
	case 1:
		return match, nil
	case 0:
		if len(candidates) == 0 {
			return nil, fmt.Errorf("%w: %q (this machine has no %s devices)", ErrNotFound, name, dir)
		}
		return nil, fmt.Errorf("%w: %q (%s devices: %s)", ErrNotFound, name, dir, strings.Join(candidates, ", "))
	default:
		return nil, fmt.Errorf("%w: %q is ambiguous, it matches %s", ErrNotFound, name, strings.Join(matches, ", "))
	}
}

// streamFormat is how a device stream runs.
type streamFormat struct {
	rate, channels int
}

// chooseFormat finds the first format the device accepts, in order of
// preference: mono at 8 kHz, mono at its default rate, then the same in stereo.
func chooseFormat(d *portaudio.DeviceInfo, dir direction) (streamFormat, error) {
	defaultRate := int(math.Round(d.DefaultSampleRate))
	var tried []string
	for _, channels := range []int{1, 2} {
		if channels > dir.channels(d) {
			continue
		}
		for _, rate := range []int{audio.SampleRate, defaultRate} {
			if rate <= 0 {
				continue
			}
			f := streamFormat{rate: rate, channels: channels}
			buf := make([]int16, f.chunkFrames()*channels)
			err := portaudio.IsFormatSupported(f.parameters(d, dir), &buf)
			if err == nil {
				return f, nil
			}
			tried = append(tried, fmt.Sprintf("%d Hz %d-channel: %v", rate, channels, err))
		}
	}
	return streamFormat{}, fmt.Errorf("%q takes none of the formats tried (%s)", d.Name, strings.Join(tried, "; "))
}

func (f streamFormat) chunkFrames() int {
	return max(1, f.rate/chunksPerSecond)
}

func (f streamFormat) parameters(d *portaudio.DeviceInfo, dir direction) portaudio.StreamParameters {
	p := portaudio.StreamParameters{
		SampleRate:      float64(f.rate),
		FramesPerBuffer: f.chunkFrames(),
	}
	if dir == input {
		p.Input = portaudio.StreamDeviceParameters{Device: d, Channels: f.channels, Latency: d.DefaultLowInputLatency}
	} else {
		p.Output = portaudio.StreamDeviceParameters{Device: d, Channels: f.channels, Latency: d.DefaultLowOutputLatency}
	}
	return p
}

// stream is what input and output streams share: the open PortAudio stream,
// one device chunk of interleaved samples, and the resampler if any.
type stream struct {
	mu        sync.Mutex // one ReadFrame/WriteSamples/Close at a time
	name      string
	pa        *portaudio.Stream
	format    streamFormat
	chunk     []int16    // one device buffer, interleaved; PortAudio reads/writes it
	resampler *resampler // nil when the device runs at 8 kHz
	fifo      []int16    // samples waiting: 8 kHz for input, device rate mono for output
	xrunNoted bool
	closed    bool
}

// open opens and starts a stream on the device called name. On success the
// stream holds one PortAudio initialisation, released by release.
func open(name string, dir direction) (*stream, error) {
	portAudioMu.Lock()
	defer portAudioMu.Unlock()
	if err := initialize(); err != nil {
		return nil, fmt.Errorf("initialising PortAudio: %w", err)
	}
	s, err := openInitialised(name, dir)
	if err != nil {
		_ = portaudio.Terminate()
		return nil, err
	}
	return s, nil
}

func openInitialised(name string, dir direction) (*stream, error) {
	d, err := findDevice(name, dir)
	if err != nil {
		return nil, err
	}
	format, err := chooseFormat(d, dir)
	if err != nil {
		return nil, err
	}
	s := &stream{name: d.Name, format: format}
	s.chunk = make([]int16, format.chunkFrames()*format.channels)
	if format.rate != audio.SampleRate {
		if dir == input {
			s.resampler = newResampler(format.rate, audio.SampleRate, format.chunkFrames())
		} else {
			s.resampler = newResampler(audio.SampleRate, format.rate, audio.FrameSamples)
		}
	}
	s.fifo = make([]int16, 0, 4*max(format.chunkFrames(), audio.FrameSamples))
	s.pa, err = portaudio.OpenStream(format.parameters(d, dir), &s.chunk)
	if err != nil {
		return nil, fmt.Errorf("opening %q at %d Hz: %w", d.Name, format.rate, err)
	}
	if err := s.pa.Start(); err != nil {
		_ = s.pa.Close()
		return nil, fmt.Errorf("starting %q: %w", d.Name, err)
	}
	slog.Debug("sound device open", "device", d.Name, "direction", dir.String(),
		"rate", format.rate, "channels", format.channels, "resampling", s.resampler != nil)
	return s, nil
}

// release stops and closes the PortAudio stream and drops its initialisation.
func (s *stream) release(stop func() error) error {
	err := stop()
	if cerr := s.pa.Close(); cerr != nil {
		err = errors.Join(err, cerr)
	}
	portAudioMu.Lock()
	defer portAudioMu.Unlock()
	if terr := portaudio.Terminate(); terr != nil {
		err = errors.Join(err, terr)
	}
	return err
}

// noteXrun logs the first overflow or underflow of a stream: audio was lost or
// a gap was played, which the caller cannot fix but a user may want to know.
func (s *stream) noteXrun(err error) {
	if !s.xrunNoted {
		s.xrunNoted = true
		slog.Warn("sound device could not keep up; samples were lost (reported once)", "device", s.name, "err", err)
	}
}

// CheckInput reports whether OpenInput(name) would find a usable microphone,
// without opening it: a call checks its sound card before it rings anyone.
func CheckInput(name string) error { return check(name, input) }

// CheckOutput reports whether OpenOutput(name) would find a usable speaker,
// without opening it.
func CheckOutput(name string) error { return check(name, output) }

func check(name string, dir direction) error {
	err := withPortAudio(func() error {
		d, err := findDevice(name, dir)
		if err != nil {
			return err
		}
		_, err = chooseFormat(d, dir)
		return err
	})
	if err != nil {
		return fmt.Errorf("device: %s %q: %w", dir, name, err)
	}
	return nil
}

// inputStream is a microphone as an audio.Source.
type inputStream struct{ *stream }

// OpenInput opens a microphone: name "" is the system default, otherwise a
// device name as List reports it or a part of one that matches one input
// device. It delivers 8 kHz mono 16-bit frames; ReadFrame blocks until the
// device has captured them, so reading paces itself in real time. A device
// that refuses 8 kHz mono is opened at its default rate, or in stereo, and
// resampled or mixed down.
func OpenInput(name string) (audio.Source, error) {
	s, err := open(name, input)
	if err != nil {
		return nil, fmt.Errorf("device: open input %q: %w", name, err)
	}
	return inputStream{s}, nil
}

// ReadFrame fills pcm with the next captured samples.
func (s inputStream) ReadFrame(pcm []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("device: read %q: %w", s.name, audio.ErrClosed)
	}
	// Each device chunk yields at least chunkFrames*8000/rate - 1 samples.
	perChunk := max(1, s.format.chunkFrames()*audio.SampleRate/s.format.rate-1)
	for reads := 0; len(s.fifo) < len(pcm); reads++ {
		if reads > len(pcm)/perChunk+2 {
			return fmt.Errorf("device: read %q: no samples after %d device reads", s.name, reads)
		}
		if err := s.pa.Read(); err != nil {
			if !errors.Is(err, portaudio.InputOverflowed) {
				return fmt.Errorf("device: read %q: %w", s.name, err)
			}
			s.noteXrun(err) // the chunk still holds valid samples
		}
		mono := mixDown(s.chunk, s.format.channels)
		if s.resampler != nil {
			s.fifo = s.resampler.process(s.fifo, mono)
		} else {
			s.fifo = append(s.fifo, mono...)
		}
	}
	copy(pcm, s.fifo)
	s.fifo = s.fifo[:copy(s.fifo, s.fifo[len(pcm):])]
	return nil
}

// Close stops capturing and releases the device.
func (s inputStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if err := s.release(s.pa.Abort); err != nil {
		return fmt.Errorf("device: close input %q: %w", s.name, err)
	}
	return nil
}

// outputStream is a speaker as an audio.Sink. WriteSamples only queues: a
// goroutine of its own (pump) feeds the device, whose writes block in real
// time, so the caller (a call's event loop, which also reads the network and
// the microphone) never waits on the sound card.
type outputStream struct {
	*stream
	queue   *sampleQueue
	pumped  chan error // the pump's first error, or nil when it has drained the queue
	dropped uint64     // samples dropped because the queue was full
}

// outputQueueSamples bounds what waits for the device: a second of audio. A
// caller that writes only what is due never comes near it.
const outputQueueSamples = audio.SampleRate

// OpenOutput opens a speaker: name "" is the system default, otherwise as for
// OpenInput. It takes 8 kHz mono 16-bit samples. WriteSamples queues them and
// returns at once; the device plays them in real time, and Close waits until
// it has. A device that refuses 8 kHz mono is opened at its default rate, or
// in stereo, and fed resampled or duplicated samples.
func OpenOutput(name string) (audio.Sink, error) {
	s, err := open(name, output)
	if err != nil {
		return nil, fmt.Errorf("device: open output %q: %w", name, err)
	}
	o := &outputStream{stream: s, queue: newSampleQueue(outputQueueSamples), pumped: make(chan error, 1)}
	go o.pump()
	return o, nil
}

// WriteSamples queues pcm for playing. If more than a second of audio is
// waiting (the device has stalled), the oldest samples make room; that is
// logged once and the count is reported at Close.
func (s *outputStream) WriteSamples(pcm []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("device: write %q: %w", s.name, audio.ErrClosed)
	}
	select {
	case err := <-s.pumped:
		s.pumped <- err // keep it for Close
		if err != nil {
			return err
		}
	default:
	}
	if dropped := s.queue.push(pcm); dropped > 0 {
		if s.dropped == 0 {
			slog.Warn("sound device fell behind; dropping the oldest queued audio (reported once)", "device", s.name)
		}
		s.dropped += uint64(dropped)
	}
	return nil
}

// pump plays queued samples until the queue is closed and empty.
func (s *outputStream) pump() {
	frames := s.format.chunkFrames()
	in := make([]int16, audio.FrameSamples)
	var err error
	for {
		n, open := s.queue.pop(in)
		if n == 0 && !open {
			if rest := len(s.fifo) % frames; rest != 0 {
				// the last samples: pad the device chunk with silence
				s.fifo = append(s.fifo, make([]int16, frames-rest)...)
				err = s.writeFullChunks()
			}
			break
		}
		if s.resampler != nil {
			s.fifo = s.resampler.process(s.fifo, in[:n])
		} else {
			s.fifo = append(s.fifo, in[:n]...)
		}
		if err = s.writeFullChunks(); err != nil {
			s.queue.close() // nothing more will be played
			break
		}
	}
	s.pumped <- err
}

// writeFullChunks plays every whole device chunk waiting in the fifo. Only
// the pump calls it.
func (s *outputStream) writeFullChunks() error {
	frames := s.format.chunkFrames()
	for len(s.fifo) >= frames {
		spread(s.chunk, s.fifo[:frames], s.format.channels)
		if err := s.pa.Write(); err != nil {
			if !errors.Is(err, portaudio.OutputUnderflowed) {
				return fmt.Errorf("device: write %q: %w", s.name, err)
			}
			s.noteXrun(err) // a gap was played; this chunk still went out
		}
		s.fifo = s.fifo[:copy(s.fifo, s.fifo[frames:])]
	}
	return nil
}

// Close plays what is queued (padding the last chunk with silence), waits for
// the device to finish and releases it.
func (s *outputStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.queue.close()
	err := <-s.pumped
	if s.dropped > 0 {
		slog.Warn("sound device fell behind", "device", s.name, "samples_dropped", s.dropped)
	}
	if rerr := s.release(s.pa.Stop); rerr != nil {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("device: close output %q: %w", s.name, err)
	}
	return nil
}
