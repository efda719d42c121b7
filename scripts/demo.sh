#!/usr/bin/env bash
# The demo: a real call between two `call` processes on 127.0.0.1. Both send the
# bundled speech sample; the dialer's packets meet 2% loss and 20 ms jitter on the
# way. Received audio lands in demo-out/, and each side prints its summary.
set -euo pipefail
bin=${1:-bin/call}
cd "$(dirname "$0")/.."
out=demo-out
mkdir -p "$out"
# SPURT_DEMO_PORT (default 7000) is the first port tried; when it is taken the
# next ones are tried, up to 20 of them.
first=${SPURT_DEMO_PORT:-7000}
listener=
trap '[ -n "$listener" ] && kill $listener 2>/dev/null || true' EXIT
for port in $(seq "$first" $((first + 19))); do
	"$bin" listen --addr "127.0.0.1:$port" --in testdata/speech.wav --out "$out/heard-by-listener.wav" \
		--stats-json "$out/listener.json" --quiet >"$out/listener.txt" 2>"$out/listener.log" &
	listener=$!
	# wait (bounded) until the listener takes calls or gives up
	for _ in $(seq 50); do
		grep -q "waiting for a call" "$out/listener.log" 2>/dev/null && break
		kill -0 $listener 2>/dev/null || break
		sleep 0.1
	done
	grep -q "waiting for a call" "$out/listener.log" && break
	wait $listener 2>/dev/null || true
	listener=
	if ! grep -qi "address already in use" "$out/listener.log"; then
		cat "$out/listener.log"
		exit 1
	fi
done
if [ -z "$listener" ]; then
	echo "demo: ports $first-$((first + 19)) on 127.0.0.1 are all taken; set SPURT_DEMO_PORT" >&2
	exit 1
fi
[ "$port" = "$first" ] || echo "== port $first is taken; the demo uses $port"

echo "== dialer (sends with 2% loss, 20 ms delay, 20 ms jitter)"
"$bin" dial "127.0.0.1:$port" --in testdata/speech.wav --out "$out/heard-by-dialer.wav" \
	--loss 2% --delay 20ms --jitter 20ms --seed 7 --stats-json "$out/dialer.json"
wait $listener
trap - EXIT
echo "== listener"
cat "$out/listener.txt"
echo "== received audio: $out/heard-by-listener.wav, $out/heard-by-dialer.wav (stats: $out/*.json)"
