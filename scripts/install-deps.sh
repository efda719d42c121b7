#!/usr/bin/env bash
# Installs the Debian packages Spurt's build and tests use (run as root):
# PortAudio headers for sound cards, and the real tools the interop tests
# drive: ffmpeg, tshark, sox, espeak-ng, libgsm-tools (toast) and coturn, and
# PulseAudio with ALSA's pulse plugin, whose null sinks stand in for a sound
# card in the device tests.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(portaudio19-dev pkg-config ffmpeg tshark sox espeak-ng libgsm-tools coturn iproute2 iptables
	pulseaudio pulseaudio-utils libasound2-plugins)
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
