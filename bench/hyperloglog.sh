#!/usr/bin/env bash
# HyperLogLog benchmark of ringkv and Debian's redis-server on this machine. Installs
# redis-server/redis-tools if missing, builds ringkv in release mode (in $CARGO_TARGET_DIR,
# default target/), runs bench/hyperloglog.py and writes bench/HYPERLOGLOG.md.
# Usage: bench/hyperloglog.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ensure_redis
cargo build --release -p ringkv
target="${CARGO_TARGET_DIR:-target}"
python3 bench/hyperloglog.py --ringkv "$target/release/ringkv" "$@"
