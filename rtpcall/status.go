package rtpcall

import (
	"fmt"
	"github.com/spurtvoip/spurt/internal/term"
	"github.com/spurtvoip/spurt/media"
	"time"
)

// showStatus refreshes the live status line, after a header line the first
// time. On a terminal it is rewritten in place; elsewhere (a log file, a
// pipe) each refresh is its own line.
func (c *callLoop) showStatus(now time.Duration) {
	st := c.sess.Status()
	if !c.statusShown {
		fmt.Fprintln(c.cfg.Status, media.FormatStatusHeader(st))
	}
	line := media.FormatStatus(now, st)
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
