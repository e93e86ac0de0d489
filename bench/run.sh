#!/usr/bin/env bash
# Side-by-side benchmark of ringkv and Debian's redis-server on this machine.
# Installs redis-server/redis-tools if missing, builds ringkv in release mode, runs
# bench/compare.py and writes bench/RESULTS.md.   Usage: bench/run.sh [--quick]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ensure_redis
cargo build --release -p ringkv
out=bench/RESULTS.md
{
  echo "# ringkv vs redis-server — latest results"
  echo
  echo "Produced by \`bench/run.sh $*\`; every figure below was measured in that run."
  echo
} > "$out"
for suite in strings types; do
  python3 bench/compare.py --ringkv target/release/ringkv --suite "$suite" --out "bench/.results-$suite.md" "$@"
  cat "bench/.results-$suite.md" >> "$out"
  echo >> "$out"
  rm -f "bench/.results-$suite.md"
done
echo "wrote $out"
