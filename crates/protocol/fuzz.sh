#!/usr/bin/env bash
# Runs the request-parser mutation fuzzer (tests/fuzz_parser.rs) in release mode.
# Usage: crates/protocol/fuzz.sh [SECONDS]   (default 60; RINGKV_FUZZ_SEED=N replays a run)
set -euo pipefail
cd "$(dirname "$0")"
export RINGKV_FUZZ_SECS="${1:-60}"
exec cargo test -p ringkv-protocol --release --test fuzz_parser -- --nocapture
