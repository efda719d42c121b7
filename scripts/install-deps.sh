#!/usr/bin/env bash
# Installs the Debian packages Spurt's build and tests use (run as root):
# PortAudio headers for sound cards, and the real tools the interop tests
# drive: ffmpeg, tshark, sox, espeak-ng, libgsm-tools (toast) and coturn.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(portaudio19-dev pkg-config ffmpeg tshark sox espeak-ng libgsm-tools coturn iproute2 iptables)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	# tshark asks whether non-root users may capture; answer for it
	echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
