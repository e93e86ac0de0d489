#!/usr/bin/env bash
# Persistence benchmark of ringkv and Debian's redis-server on this machine: SET throughput with
# the AOF on, restart (load) time from a snapshot / AOF base / AOF command log, and latency while
# AOF rewrites run. Installs redis-server/redis-tools if missing, builds ringkv in release mode
# (in $CARGO_TARGET_DIR, default target/), runs bench/persistence.py and writes
# bench/PERSISTENCE.md.   Usage: bench/persistence.sh [--quick] [other bench/persistence.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
run_bench_py bench/persistence.py --out bench/PERSISTENCE.md "$@"
echo "wrote bench/PERSISTENCE.md"
