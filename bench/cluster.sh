#!/usr/bin/env bash
# GET/SET through a 3-node ringkv cluster (N=3, R=W=2) against one ringkv node and one
# redis-server, all on this machine, with redis-benchmark at -P 1 and -P 16; writes
# bench/CLUSTER.md. Installs redis-server/redis-tools if missing and builds ringkv in release
# mode (in $CARGO_TARGET_DIR, default target/).   Usage: bench/cluster.sh [requests]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ensure_redis
cargo build --release -p ringkv
bin="${CARGO_TARGET_DIR:-target}/release/ringkv"
requests="${1:-100000}"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
start() { "$@" >/dev/null 2>&1 & pids+=($!); }
start redis-server --port 7390 --save "" --appendonly no --dir "$work"
start "$bin" --port 7391 --dir "$work/single" --save ""
start "$bin" --port 7392 --dir "$work/c1" --save "" --cluster-enabled yes --cluster-port 17392
start "$bin" --port 7393 --dir "$work/c2" --save "" --cluster-enabled yes --cluster-port 17393 --cluster-seeds 127.0.0.1:17392
start "$bin" --port 7394 --dir "$work/c3" --save "" --cluster-enabled yes --cluster-port 17394 --cluster-seeds 127.0.0.1:17392
for p in 7390 7391 7392 7393 7394; do wait_port $p; done
for _ in $(seq 100); do redis-cli -p 7393 cluster info | grep -q "cluster_nodes_up:3" && break; sleep 0.1; done
measure() { # port pipeline -> "set_rps set_p99 get_rps get_p99"
  redis-benchmark -p "$1" -n "$requests" -c 50 -P "$2" -t set,get -r 100000 -q --csv 2>/dev/null \
    | python3 -c '
import csv,sys
rows={r[0].strip("\""):r for r in csv.reader(sys.stdin)}
out=[]
for t in ("SET","GET"):
    r=rows.get(t)
    out += [r[1], r[6]] if r and len(r)>6 else ["?","?"]
print(" ".join(out))'
}
{
  echo "# Cluster throughput"
  echo
  echo "Measured by \`bench/cluster.sh $requests\` on $(nproc) cores, $(date -u +%Y-%m-%d). redis-benchmark -c 50 -r 100000, $requests requests per test."
  echo "The cluster is 3 ringkv processes on this machine (N=3, R=W=2), the benchmark talks to one of them;"
  echo "the single node and redis-server run beside them (idle while not measured)."
  echo
  echo "| target | -P | SET req/s | SET / redis | SET p99 ms | GET req/s | GET / redis | GET p99 ms |"
  echo "|---|---|---|---|---|---|---|---|"
  ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2" 2>/dev/null || echo "?"; }
  for P in 1 16; do
    for t in "redis-server:7390" "ringkv single node:7391" "ringkv 3-node cluster:7393"; do
      name=${t%%:*}; port=${t##*:}
      read -r s sp g gp <<<"$(measure "$port" "$P")"
      if [ "$port" = 7390 ]; then rs=$s; rg=$g; fi
      echo "| $name | $P | $s | $(ratio "$s" "$rs") | $sp | $g | $(ratio "$g" "$rg") | $gp |"
    done
  done
  echo
  echo "What limits the cluster (from the design; the table shows the effect): every write runs at"
  echo "the key's primary (about 2 of 3 are forwarded by the node the client talks to), is shipped"
  echo "to the 2 other replicas and answered after one of them acknowledges; every read waits for"
  echo "one peer's version digest. Pipelined keyed commands of one connection overlap when they are"
  echo "on different partitions (up to 64 at once), so -P 16 gains over -P 1, but every request"
  echo "still costs a forward and a replication round trip in CPU, and all 3 nodes and the"
  echo "benchmark client share the same 2 cores. Load average when the run ended: $(cut -d' ' -f1-3 /proc/loadavg)."
} > bench/CLUSTER.md
cat bench/CLUSTER.md
