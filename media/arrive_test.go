package media

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// callLog is a Player that records the calls made to it.
type callLog struct {
	calls     []string
	renderErr error
}

func (c *callLog) HandleRTP(pkt []byte, at time.Duration) bool {
	c.calls = append(c.calls, "handle "+string(pkt)+" "+at.String())
	return true
}

func (c *callLog) Render(now time.Duration, _ func([]int16) error) error {
	c.calls = append(c.calls, "render "+now.String())
	return c.renderErr
}

// Arrive plays what is due by the arrival before handing the datagram over,
// and hands it over even when playing out fails.
func TestArriveRendersFirst(t *testing.T) {
	errPlay := errors.New("sink failed")
	for _, fail := range []error{nil, errPlay} {
		p := &callLog{renderErr: fail}
		if err := Arrive(p, []byte("x"), 40*time.Millisecond, discard); !errors.Is(err, fail) {
			t.Errorf("render error %v: Arrive returned %v", fail, err)
		}
		if want := []string{"render 40ms", "handle x 40ms"}; !slices.Equal(p.calls, want) {
			t.Errorf("render error %v: calls %q, want %q", fail, p.calls, want)
		}
	}
}
