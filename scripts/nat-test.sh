#!/usr/bin/env bash
# Two NATs: a call through `call serve` between two private networks, each
# behind its own masquerading NAT router, built from network namespaces and
# veth pairs. Nothing leaves the namespaces; every address is private.
#
#   hostA 10.71.1.2 -- natA 10.71.1.1 | 172.31.72.1 --+
#                                                      +-- router (ns pub) -- srv 172.31.71.10 (call serve)
#   hostB 10.71.2.2 -- natB 10.71.2.1 | 172.31.73.1 --+
#
# The "internet" is a router, not a switch, as between real homes: a
# datagram from hostA reaches natB on its third hop (see nat.Prime).
#
# Usage (as root): scripts/nat-test.sh [--rebind] [--open-routers] CALL_BINARY SPEECH.wav OUTDIR
# Writes OUTDIR/{a,b}.wav (what each side heard), {a,b}.json (stats),
# {a,b,srv}.log, and srv-udp-packets (UDP datagrams the server received).
#
# --rebind: 2 s after the path opens, natA drops every mapping of the call
# and makes new ones on other ports, as a home router does after a reboot
# or a mapping timeout: with conntrack's UDP timeouts at 2 s on natA, natA
# drops all UDP for 3 s (the mappings expire), and new UDP mappings take
# ports 40000-40100. natB then filters A's datagrams from the new port, and natA
# has no mapping for what B sends to the old one: the call must re-open its
# path itself. Writes OUTDIR/rebind (the blackout's start and end, Unix
# milliseconds).
#
# --open-routers leaves out the routers' INPUT filter (below), to show why
# it matters: the call then fails (see the README).
#
# The namespaces are named nfx-PID-*, unique while this runs, and deleted on
# exit, also on SIGTERM or SIGINT.
set -euo pipefail
rebind=false open=false
while [ $# -gt 0 ]; do
	case $1 in
	--rebind) rebind=true ;;
	--open-routers) open=true ;;
	*) break ;;
	esac
	shift
done
bin=$(realpath "$1")
wav=$(realpath "$2")
out=$(realpath "$3")
mkdir -p "$out"

tag="nfx-$$"
ns_pub="$tag-pub" ns_srv="$tag-srv" ns_natA="$tag-natA" ns_natB="$tag-natB" ns_a="$tag-a" ns_b="$tag-b"
all=("$ns_pub" "$ns_srv" "$ns_natA" "$ns_natB" "$ns_a" "$ns_b")
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	for n in "${all[@]}"; do ip netns del "$n" 2>/dev/null || true; done
}
trap cleanup EXIT
trap 'exit 143' TERM INT # so that the EXIT trap cleans up on a kill too
nsx() { local n=$1; shift; ip netns exec "$n" "$@"; }

for n in "${all[@]}"; do
	ip netns add "$n"
	nsx "$n" ip link set lo up
done
# The "public" network: a router in ns pub, one veth and subnet to each of
# srv, natA, natB.
nsx "$ns_pub" sysctl -qw net.ipv4.ip_forward=1
link() { # link NS_A IF_A NS_B IF_B: a veth pair between two namespaces
	ip link add "$2" netns "$1" type veth peer name "$4" netns "$3"
	nsx "$1" ip link set "$2" up
	nsx "$3" ip link set "$4" up
}
for side in srv:71:10 natA:72:1 natB:73:1; do
	IFS=: read -r name net host <<<"$side"
	ns_var="ns_$name"
	link "${!ns_var}" pub0 "$ns_pub" "p-$name"
	nsx "$ns_pub" ip addr add "172.31.$net.254/24" dev "p-$name"
	nsx "${!ns_var}" ip addr add "172.31.$net.$host/24" dev pub0
	nsx "${!ns_var}" ip route add default via "172.31.$net.254"
done
# Private networks behind each NAT.
link "$ns_a" eth0 "$ns_natA" lan0
link "$ns_b" eth0 "$ns_natB" lan0
nsx "$ns_a" ip addr add 10.71.1.2/24 dev eth0
nsx "$ns_a" ip route add default via 10.71.1.1
nsx "$ns_natA" ip addr add 10.71.1.1/24 dev lan0
nsx "$ns_b" ip addr add 10.71.2.2/24 dev eth0
nsx "$ns_b" ip route add default via 10.71.2.1
nsx "$ns_natB" ip addr add 10.71.2.1/24 dev lan0
for n in "$ns_natA" "$ns_natB"; do
	nsx "$n" sysctl -qw net.ipv4.ip_forward=1
	nsx "$n" iptables -t nat -A POSTROUTING -o pub0 -j MASQUERADE
	# the private side is reachable from outside only through a mapping
	nsx "$n" iptables -A FORWARD -i pub0 -o lan0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
	nsx "$n" iptables -A FORWARD -i pub0 -o lan0 -j DROP
	# Unsolicited datagrams to the router itself are dropped too, as a home
	# router's firewall does. This matters: without it conntrack confirms an
	# entry for the peer's first check, which reached the router before our
	# own check left (peerNAT:p -> ourNAT:q). Masquerading our check to the
	# peer (us -> peerNAT:p) would need the reply tuple that entry holds, so
	# the router picks another port: our check leaves from a port the peer
	# never heard of, the peer's NAT drops it, and it leaves the same kind
	# of entry there. No hole opens either way (see the README).
	if ! $open; then
		nsx "$n" iptables -A INPUT -i pub0 -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT
		nsx "$n" iptables -A INPUT -i pub0 -j DROP
	fi
done
if $rebind; then
	# Mappings live 2 s after their last datagram. Set before the call:
	# conntrack never shortens the timeout of an existing entry. Until the
	# rebinding a mapping that lapses in a pause comes back on its port.
	nsx "$ns_natA" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=2 net.netfilter.nf_conntrack_udp_timeout_stream=2
fi
# Count what reaches the server over UDP: STUN only, if media goes direct.
nsx "$ns_srv" iptables -A INPUT -i pub0 -p udp -j ACCEPT

# Not through nsx: a backgrounded function is a subshell, and killing it
# would leave the server running. `ip netns exec` execs, so $! is the server.
ip netns exec "$ns_srv" "$bin" serve --addr 172.31.71.10:7000 >"$out/srv.out" 2>"$out/srv.log" </dev/null &
pids+=($!)
for _ in $(seq 50); do # bounded wait for the server
	grep -q serving "$out/srv.log" 2>/dev/null && break
	sleep 0.1
done

common=(--via 172.31.71.10:7000 --room kitchen --in "$wav" --quiet --peer-timeout 10s --plc=false)
timeout 60 ip netns exec "$ns_a" "$bin" listen "${common[@]}" --out "$out/a.wav" --stats-json "$out/a.json" \
	>"$out/a.out" 2>"$out/a.log" &
a=$!
pids+=($a)
sleep 0.3
timeout 60 ip netns exec "$ns_b" "$bin" dial "${common[@]}" --out "$out/b.wav" --stats-json "$out/b.json" \
	>"$out/b.out" 2>"$out/b.log" &
b=$!
pids+=($b)

if $rebind; then
	for _ in $(seq 100); do # bounded wait for the path
		grep -q "direct path open" "$out/a.log" 2>/dev/null && break
		sleep 0.1
	done
	sleep 2
	# In the raw table, before conntrack: the dropped datagrams do not
	# refresh the mappings either.
	nsx "$ns_natA" iptables -t raw -I PREROUTING 1 -p udp -j DROP
	start=$(date +%s%3N)
	sleep 3
	nsx "$ns_natA" iptables -t nat -I POSTROUTING 1 -o pub0 -p udp -j MASQUERADE --to-ports 40000-40100
	nsx "$ns_natA" iptables -t raw -D PREROUTING 1
	echo "$start $(date +%s%3N)" >"$out/rebind"
	# The defaults again: the new mappings last through pauses (conntrack
	# extends an entry's timeout on its next datagram).
	nsx "$ns_natA" sysctl -qw net.netfilter.nf_conntrack_udp_timeout=30 net.netfilter.nf_conntrack_udp_timeout_stream=120
fi

rc=0
wait "$b" || rc=$?
wait "$a" || rc=$?
nsx "$ns_srv" iptables -nvx -L INPUT | awk '$3 == "ACCEPT" && ($4 == "udp" || $4 == "17") {print $1}' >"$out/srv-udp-packets"
exit "$rc"
