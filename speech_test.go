package spurt

import (
	"slices"
	"testing"

	"github.com/spurtvoip/spurt/audio"
)

func TestSpeechSampleIsTheFile(t *testing.T) {
	got, err := SpeechSample()
	if err != nil {
		t.Fatal(err)
	}
	want, err := audio.ReadWAVFile("testdata/speech.wav")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) < 8*audio.SampleRate || !slices.Equal(got, want) {
		t.Errorf("the embedded sample has %d samples, the file %d, or they differ", len(got), len(want))
	}
}
