package timescale_test

import (
	"fmt"
	"math"

	"github.com/spurtvoip/spurt/timescale"
)

// A playout buffer holding 60 ms more than it wants drains the excess by
// asking, every frame, for all of what is left; the Scaler takes it where it
// is least heard, within its rate bound. A concealed frame does not go
// through the Scaler, which is told of it with Gap.
func Example() {
	sc, err := timescale.New(timescale.Config{}) // DefaultRate
	if err != nil {
		panic(err)
	}
	excess := 480 // samples too many in the buffer (60 ms)
	in := make([]int16, 160)
	out := make([]int16, len(in)+timescale.MaxChange)
	played := 0
	for i := range 50 { // one second
		for j := range in { // a 200 Hz tone stands in for decoded speech
			in[j] = int16(8000 * math.Sin(2*math.Pi*200*float64(i*len(in)+j)/timescale.SampleRate))
		}
		change, err := sc.Process(out, in, -excess)
		if err != nil {
			panic(err)
		}
		excess += change // change is negative: samples removed
		played += len(in) + change
		// out[:len(in)+change] goes on to concealment and the timeline.
	}
	fmt.Printf("played %d samples for 8000 in; %d still to drain\n", played, excess)
	fmt.Printf("%d samples removed\n", sc.Stats().Removed)
	// Output:
	// played 7520 samples for 8000 in; 0 still to drain
	// 480 samples removed
}
