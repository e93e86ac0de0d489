#!/usr/bin/env bash
# Streams benchmark of ringkv and Debian's redis-server on this machine. Installs
# redis-server/redis-tools if missing, builds ringkv in release mode (in $CARGO_TARGET_DIR,
# default target/), runs bench/streams.py and writes bench/STREAMS.md.
# Usage: bench/streams.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  echo "installing redis-server and redis-tools from Debian packages" >&2
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server redis-tools >/dev/null
fi
cargo build --release -p ringkv
target="${CARGO_TARGET_DIR:-target}"
python3 bench/streams.py --ringkv "$target/release/ringkv" "$@"
