#!/usr/bin/env bash
# Regenerates testdata/speech.wav, the bundled speech sample used by `make demo`
# and the end-to-end tests: a few sentences from espeak-ng with natural pauses
# (so the sender's VAD forms several talk spurts), as 8 kHz mono 16-bit WAV.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
text="Hello, this is Spurt. We are testing a voice call. ... Each packet carries twenty milliseconds of speech."
espeak-ng -v en-us -s 150 -g 6 -w "$tmp/raw.wav" "$text"
sox "$tmp/raw.wav" -r 8000 -c 1 -b 16 testdata/speech.wav gain -n -3
soxi testdata/speech.wav
