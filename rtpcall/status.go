package rtpcall

import (
	"fmt"
	"github.com/spurtvoip/spurt/internal/term"
	"github.com/spurtvoip/spurt/media"
	"time"
)

// showStatus refreshes the live status line. On a terminal it is rewritten in
// place; elsewhere (a log file, a pipe) each refresh is its own line.
func (c *callLoop) showStatus(now time.Duration) {
	line := media.FormatStatus(now, c.sess.Status())
	if term.IsTerminal(c.cfg.Status) {
		fmt.Fprintf(c.cfg.Status, "\r\x1b[K%s", line)
	} else {
		fmt.Fprintln(c.cfg.Status, line)
	}
	c.statusShown = true
}

func (c *callLoop) clearStatus() {
	if c.statusShown && term.IsTerminal(c.cfg.Status) {
		fmt.Fprint(c.cfg.Status, "\r\x1b[K")
	}
}
