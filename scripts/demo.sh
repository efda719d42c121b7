#!/usr/bin/env bash
# The demo: a real call between two `call` processes on 127.0.0.1. Both send the
# bundled speech sample; the dialer's packets meet 2% loss and 20 ms jitter on the
# way. Received audio lands in demo-out/, and each side prints its summary.
set -euo pipefail
bin=${1:-bin/call}
cd "$(dirname "$0")/.."
out=demo-out
mkdir -p "$out"
port=${SPURT_DEMO_PORT:-7000}

"$bin" listen --addr "127.0.0.1:$port" --in testdata/speech.wav --out "$out/heard-by-listener.wav" \
	--stats-json "$out/listener.json" --quiet >"$out/listener.txt" 2>"$out/listener.log" &
listener=$!
trap 'kill $listener 2>/dev/null || true' EXIT
# wait (bounded) until the listener takes calls
for _ in $(seq 50); do
	grep -q "waiting for a call" "$out/listener.log" 2>/dev/null && break
	kill -0 $listener 2>/dev/null || { cat "$out/listener.log"; exit 1; }
	sleep 0.1
done

echo "== dialer (sends with 2% loss, 20 ms delay, 20 ms jitter)"
"$bin" dial "127.0.0.1:$port" --in testdata/speech.wav --out "$out/heard-by-dialer.wav" \
	--loss 2% --delay 20ms --jitter 20ms --seed 7 --stats-json "$out/dialer.json"
wait $listener
trap - EXIT
echo "== listener"
cat "$out/listener.txt"
echo "== received audio: $out/heard-by-listener.wav, $out/heard-by-dialer.wav (stats: $out/*.json)"
