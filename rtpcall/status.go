package rtpcall

import (
	"fmt"
	"github.com/spurtvoip/spurt/media"
	"io"
	"os"
	"time"
)

// showStatus refreshes the live status line. On a terminal it is rewritten in
// place; elsewhere (a log file, a pipe) each refresh is its own line.
func (c *callLoop) showStatus(now time.Duration) {
	line := media.FormatStatus(now, c.sess.Status())
	if isTerminal(c.cfg.Status) {
		fmt.Fprintf(c.cfg.Status, "\r\x1b[K%s", line)
	} else {
		fmt.Fprintln(c.cfg.Status, line)
	}
	c.statusShown = true
}

func (c *callLoop) clearStatus() {
	if c.statusShown && isTerminal(c.cfg.Status) {
		fmt.Fprint(c.cfg.Status, "\r\x1b[K")
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
