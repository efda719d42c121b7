package testtool

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// Names of the PulseAudio null sinks that PulseAudio starts. Whatever is
// played into MicSink is what a program recording from the default source
// (MicSink's monitor) hears; whatever a program plays to the default sink
// can be recorded from SpeakerSink's monitor.
const (
	MicSink     = "spurt_mic"
	SpeakerSink = "spurt_spk"
)

// PulseAudio starts a private PulseAudio server whose only devices are two
// clocked null sinks at 8 kHz mono (MicSink, SpeakerSink), and points this
// process and the programs it starts at it (PULSE_SERVER), so that sound-card
// code runs against a sound card that keeps real time without hardware:
// PortAudio reaches it as the ALSA device "pulse". It skips (fails under CI)
// when PulseAudio, its tools or ALSA's pulse plugin are not installed. The
// server stops when the test ends.
func PulseAudio(t *testing.T) {
	t.Helper()
	server := Require(t, "pulseaudio", "pulseaudio")
	Require(t, "paplay", "pulseaudio-utils")
	plugin, _ := filepath.Glob("/usr/lib/*/alsa-lib/libasound_module_pcm_pulse.so")
	if len(plugin) == 0 {
		if os.Getenv("CI") != "" {
			t.Fatal("ALSA's pulse plugin is not installed, but CI must run this test (apt-get install libasound2-plugins)")
		}
		t.Skip("ALSA's pulse plugin not installed; skipping (apt-get install libasound2-plugins)")
	}
	dir := t.TempDir()
	socket := filepath.Join(dir, "native")
	script := filepath.Join(dir, "default.pa")
	config := fmt.Sprintf(`load-module module-native-protocol-unix auth-anonymous=1 socket=%s
load-module module-null-sink sink_name=%s rate=8000 channels=1
load-module module-null-sink sink_name=%s rate=8000 channels=1
set-default-sink %s
set-default-source %s.monitor
`, socket, MicSink, SpeakerSink, SpeakerSink, MicSink)
	if err := os.WriteFile(script, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(server, "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
		"--disallow-module-loading", "--log-target=stderr", "-F", script)
	// A home and runtime directory of its own: no cookie, state or socket
	// of the user's is touched.
	cmd.Env = append(os.Environ(), "HOME="+dir, "XDG_RUNTIME_DIR="+dir, "XDG_CONFIG_HOME="+dir)
	logPath := filepath.Join(dir, "pulseaudio.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting pulseaudio: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait(); logFile.Close() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(socket); err == nil {
			break
		}
		select {
		case err := <-done:
			done <- err
			log, _ := os.ReadFile(logPath)
			t.Fatalf("pulseaudio exited: %v\n%s", err, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(logPath)
			t.Fatalf("pulseaudio did not open its socket within 10 s:\n%s", log)
		}
	}
	t.Setenv("PULSE_SERVER", "unix:"+socket)
	t.Setenv("PULSE_COOKIE", filepath.Join(dir, "cookie")) // never the user's
}
