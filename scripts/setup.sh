#!/usr/bin/env bash
# Installs, from Debian 12 packages only, everything lockstep builds, tests and trains with.
# Idempotent and quiet when nothing is missing. Needs root (or sudo) only when installing.
set -euo pipefail

packages=(
  # build
  g++ cmake ninja-build make pkg-config
  # fuzzing (libFuzzer ships with clang's runtime)
  clang libclang-rt-14-dev
  # libraries
  libgtest-dev libgmock-dev libbenchmark-dev libcli11-dev nlohmann-json3-dev
  libyaml-cpp-dev libpcre2-dev libfmt-dev libboost-dev zlib1g-dev
  # the server tests' HTTP client (an implementation independent of the server's Boost.Beast)
  libcpp-httplib-dev
  # independent PyTorch reference and the embedded model's training script
  python3 python3-numpy python3-torch python3-yaml libopenblas0-pthread
  # training corpus of the embedded model (King James Bible, public domain)
  bible-kjv
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# The server's client tests run the official openai npm package on Node.js. A machine whose
# node and npm came from elsewhere (NodeSource) keeps them: Debian's npm would conflict.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then missing+=(nodejs npm); fi

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "setup: installing ${missing[*]}"
sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then sudo_cmd=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: done"
