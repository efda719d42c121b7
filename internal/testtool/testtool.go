// Package testtool owns how tests find the real tools they interoperate with
// (ffmpeg, tshark, sox, toast, coturn): on a developer's machine a missing
// tool skips the test with a message saying what to install; under CI, where
// .ci/run installs every tool, a missing tool fails the test instead, so an
// interop test can never pass by silently not running.
package testtool

import (
	"os"
	"os/exec"
	"testing"
)

// Require returns the path of the named program, or skips (fails under CI)
// when it is not installed. pkg is the Debian package that provides it.
func Require(t testing.TB, name, pkg string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is not installed, but CI must run this test (apt-get install %s; see scripts/install-deps.sh)", name, pkg)
	}
	t.Skipf("%s not installed; skipping (apt-get install %s, or run scripts/install-deps.sh)", name, pkg)
	return ""
}
