//go:build cgo && !nodevice

package device

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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

// stream is what input and output streams share: the open PortAudio stream
// and the queue between its callback, which PortAudio calls on a thread of
// its own at the card's pace, and the caller. Callbacks rather than blocking
// reads and writes: PortAudio's blocking ALSA path keeps only about half of
// real time through a PulseAudio server (measured: 4,100 to 5,400 samples a
// second at 8 kHz, against 7,700 and more with callbacks).
type stream struct {
	mu        sync.Mutex // one ReadFrame/WriteSamples/Close at a time
	name      string
	pa        *portaudio.Stream
	format    streamFormat
	queue     *sampleQueue // input: 8 kHz mono; output: mono at the device's rate
	resampler *resampler   // nil when the device runs at 8 kHz
	scratch   []int16      // the resampler's output, reused
	mono      []int16      // input: a device buffer mixed down to mono (PortAudio's own buffer is read-only)
	started   atomic.Bool  // input: the card has delivered samples
	xruns     atomic.Uint64
	closed    bool
}

// queueSamples bounds the queue: a second of audio at 8 kHz. A caller that
// keeps up never comes near it.
const queueSamples = audio.SampleRate

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
	perChunk := audio.FrameSamples // samples the resampler gets at once
	queued := queueSamples
	if format.rate != audio.SampleRate {
		if dir == input {
			perChunk = format.chunkFrames()
			s.resampler = newResampler(format.rate, audio.SampleRate, perChunk)
		} else {
			s.resampler = newResampler(audio.SampleRate, format.rate, perChunk)
			queued = format.rate // a second at the device's rate
		}
		s.scratch = make([]int16, 0, 2*perChunk*max(format.rate, audio.SampleRate)/min(format.rate, audio.SampleRate)+64)
	}
	s.queue = newSampleQueue(queued)
	if dir == input {
		s.mono = make([]int16, format.chunkFrames())
		s.pa, err = portaudio.OpenStream(format.parameters(d, dir), s.captured)
	} else {
		s.pa, err = portaudio.OpenStream(format.parameters(d, dir), s.play)
	}
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

// captured is the input callback: it queues what the card captured, as
// 8 kHz mono. The oldest samples make room if the reader has fallen a
// second behind.
func (s *stream) captured(in []int16, _ portaudio.StreamCallbackTimeInfo, flags portaudio.StreamCallbackFlags) {
	if flags&portaudio.InputOverflow != 0 {
		s.xruns.Add(1)
	}
	mono := in // only read: PortAudio's buffer is not ours to write
	if s.format.channels > 1 {
		mono = mixDownInto(s.mono, in, s.format.channels)
	}
	s.started.Store(true)
	if s.resampler != nil {
		s.scratch = s.resampler.process(s.scratch[:0], mono)
		mono = s.scratch
	}
	if s.queue.push(mono) > 0 {
		s.xruns.Add(1)
	}
}

// play is the output callback: it fills the card's buffer from the queue,
// with silence for what is not there yet.
func (s *stream) play(out []int16, _ portaudio.StreamCallbackTimeInfo, flags portaudio.StreamCallbackFlags) {
	if flags&portaudio.OutputUnderflow != 0 {
		s.xruns.Add(1)
	}
	frames := len(out) / s.format.channels
	mono := out[(s.format.channels-1)*frames:] // the tail of out, so spread can run forwards
	n := s.queue.tryPop(mono)
	clear(mono[n:])
	spread(out, mono, s.format.channels)
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
	if n := s.xruns.Load(); n > 0 {
		slog.Warn("sound device could not keep up: samples were lost or gaps played", "device", s.name, "times", n)
	}
	return err
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

// readTimeout bounds how long ReadFrame waits for a card that has stopped
// delivering (unplugged, or stalled), so that a call does not hang on it;
// startTimeout, how long it waits for a card's first samples (through
// PulseAudio they take about 2 s to come).
const (
	readTimeout  = 2 * time.Second
	startTimeout = 10 * time.Second
)

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
	for got := 0; got < len(pcm); {
		timeout := readTimeout
		if !s.started.Load() {
			timeout = startTimeout
		}
		n, open := s.queue.pop(pcm[got:], timeout)
		if n == 0 {
			if !open {
				return fmt.Errorf("device: read %q: %w", s.name, audio.ErrClosed)
			}
			return fmt.Errorf("device: read %q: nothing captured for %v", s.name, timeout)
		}
		got += n
	}
	return nil
}

// Close stops capturing and releases the device. It first wakes a
// ReadFrame waiting for samples, which then fails with audio.ErrClosed.
func (s inputStream) Close() error {
	s.queue.close()
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

// outputStream is a speaker as an audio.Sink. WriteSamples only queues;
// the card's callback takes from the queue at the card's pace, so the
// caller (a call's event loop, which also reads the network and the
// microphone) never waits on the sound card.
type outputStream struct{ *stream }

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
	return outputStream{s}, nil
}

// WriteSamples queues pcm for playing. If more than a second of audio is
// waiting (the device has stalled), the oldest samples make room; that is
// counted and reported at Close.
func (s outputStream) WriteSamples(pcm []int16) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("device: write %q: %w", s.name, audio.ErrClosed)
	}
	for len(pcm) > 0 { // in frames, the size the resampler was made for
		n := min(len(pcm), audio.FrameSamples)
		chunk := pcm[:n]
		if s.resampler != nil {
			s.scratch = s.resampler.process(s.scratch[:0], chunk)
			chunk = s.scratch
		}
		if s.queue.push(chunk) > 0 {
			s.xruns.Add(1)
		}
		pcm = pcm[n:]
	}
	return nil
}

// Close lets the device play what is queued, then releases it.
func (s outputStream) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	// Bounded: at most a second is queued; a card that stopped taking
	// samples is given that second and a little more.
	deadline := time.Now().Add(time.Duration(s.queue.len())*time.Second/time.Duration(s.format.rate) + 250*time.Millisecond)
	for s.queue.len() > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	// and what the card itself still holds
	time.Sleep(s.pa.Info().OutputLatency)
	s.queue.close()
	if err := s.release(s.pa.Stop); err != nil {
		return fmt.Errorf("device: close output %q: %w", s.name, err)
	}
	return nil
}
