#!/usr/bin/env bash
# Installs what Parley needs on a Debian 12 machine with the .NET 10 SDK: the local speech engines and codecs.
# Idempotent: installs only what is missing. Run as root (or with sudo available).
set -euo pipefail

# Speech engines and codecs for the server; chromium for the WebRTC browser tests (driven by Playwright); postgresql
# for the cluster store and the tests that start a private PostgreSQL (initdb/pg_ctl; the service itself is not used);
# libspeexdsp1 for the server-side echo canceller (Parley:Turns:EchoCancellation = Speex).
packages=(flite espeak-ng libpocketsphinx3 pocketsphinx-en-us libopus0 libspeexdsp1 sox chromium postgresql)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "Installing: ${missing[*]}"
  sudo_cmd=""
  [[ $(id -u) -ne 0 ]] && sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

command -v dotnet >/dev/null || { echo "The .NET 10 SDK is required (dotnet not found)." >&2; exit 1; }
