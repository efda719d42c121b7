// Package term tells whether output goes to a terminal, where a status line
// or progress bar is redrawn in place; elsewhere each update is a line.
package term

import (
	"io"
	"os"
)

// IsTerminal reports whether w is a character device: a terminal (or
// /dev/null, where redrawing costs nothing).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
