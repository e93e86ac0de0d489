#!/usr/bin/env bash
# Lua scripting benchmark of ringkv and Debian's redis-server on this machine. Installs
# redis-server/redis-tools if missing, builds ringkv in release mode (in $CARGO_TARGET_DIR,
# default target/), runs bench/scripting.py and writes bench/SCRIPTING.md.
# Usage: bench/scripting.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
run_bench_py bench/scripting.py "$@"
