#!/usr/bin/env bash
# What a node failure costs a 3-node ringkv cluster (N=3, R=W=2) on this machine, and how fast
# the failure machinery catches the node up afterwards; writes bench/FAILURE.md.
#   1. SET throughput (redis-benchmark -c 50 -P 16) with all nodes up, then with one node killed
#      (hinted handoff on: the primaries keep a hint per key for it), then the same with hinted
#      handoff off; redis-server runs the same load beside it as the usual yardstick.
#   2. Hinted handoff: the killed node is restarted (empty: no persistence in this run) and the
#      time until every hint is delivered is measured, with the delivery rate the nodes report.
#   3. Anti-entropy: hinted handoff off, one node killed, the same writes, the node restarted;
#      CLUSTER ANTI-ENTROPY on it is timed until every key is repaired.
# Installs redis-server/redis-tools if missing and builds ringkv in release mode (in
# $CARGO_TARGET_DIR, default target/).   Usage: bench/failure.sh [keys]
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
ensure_redis
cargo build --release -p ringkv
bin="${CARGO_TARGET_DIR:-target}/release/ringkv"
keys="${1:-200000}"
work=$(mktemp -d)
declare -A pid
cleanup() { for p in "${pid[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
node() { # i [extra args]: starts cluster node i (1..3) on port 750i, data in $work/ni
  local i=$1; shift
  local seed=()
  [ "$i" != 1 ] && seed=(--cluster-seeds 127.0.0.1:17501)
  "$bin" --port "750$i" --dir "$work/n$i" --save "" --cluster-enabled yes --cluster-port "1750$i" \
    "${seed[@]}" "$@" >"$work/n$i.log" 2>&1 &
  pid[n$i]=$!
  wait_port "750$i"
}
up() { # port count: waits until the node sees count nodes up
  for _ in $(seq 200); do redis-cli -p "$1" cluster info | grep -q "cluster_nodes_up:$2" && return; sleep 0.1; done
  echo "node on $1 does not see $2 nodes up" >&2; exit 1
}
field() { redis-cli -p "$1" info cluster | tr -d '\r' | sed -n "s/^$2://p"; }
sum_field() { local t=0; for p in "${@:2}"; do t=$((t + $(field "$p" "$1"))); done; echo $t; }
set_rps() { # port prefix -> requests/s of SET with unique keys
  redis-benchmark -p "$1" -n "$keys" -c 50 -P 16 -t set -r 1000000000 -q --csv 2>/dev/null \
    | python3 -c 'import csv,sys; print(next((r[1] for r in csv.reader(sys.stdin) if r[0].strip("\"")=="SET"),"?"))'
}
now_ms() { date +%s%3N; }
mkdir -p "$work/redis"
redis-server --port 7500 --save "" --appendonly no --dir "$work/redis" >/dev/null 2>&1 &
pid[redis]=$!
wait_port 7500

# 1 and 2: hinted handoff.
for i in 1 2 3; do node $i --cluster-anti-entropy-interval 0; done
for p in 7501 7502 7503; do up $p 3; done
redis_rps=$(set_rps 7500)
healthy=$(set_rps 7501)
redis-cli -p 7501 flushall >/dev/null
kill -9 "${pid[n3]}"; unset 'pid[n3]'
up 7501 2; up 7502 2
down_hints=$(set_rps 7501)
hints=$(sum_field cluster_hints_pending 7501 7502)
t0=$(now_ms)
node 3 --cluster-anti-entropy-interval 0
for _ in $(seq 6000); do
  [ "$(sum_field cluster_hints_pending 7501 7502)" = 0 ] && break; sleep 0.05
done
delivery_ms=$(( $(now_ms) - t0 ))
left=$(sum_field cluster_hints_pending 7501 7502)
delivered=$(sum_field cluster_hints_delivered 7501 7502)
reported_ms=$(( $(field 7501 cluster_hints_last_delivery_ms) + $(field 7502 cluster_hints_last_delivery_ms) ))
local_keys=$(redis-cli -p 7503 dbsize)  # DBSIZE counts each key once cluster-wide
node3_keys=$(redis-cli -p 7503 info keyspace | tr -d '\r' | sed -n 's/^db0:keys=\([0-9]*\),.*/\1/p')

# 3 without hints: the same outage, with hinted handoff off.
for p in 7501 7502 7503; do redis-cli -p $p config set cluster-hinted-handoff no >/dev/null; done
redis-cli -p 7501 flushall >/dev/null
kill -9 "${pid[n3]}"; unset 'pid[n3]'
up 7501 2; up 7502 2
down_no_hints=$(set_rps 7501)
node 3 --cluster-anti-entropy-interval 0 --cluster-hinted-handoff no
up 7503 3
before_ae=$(redis-cli -p 7503 info keyspace | tr -d '\r' | sed -n 's/^db0:keys=\([0-9]*\),.*/\1/p')
before_ae=${before_ae:-0}
t0=$(now_ms)
repaired=$(redis-cli -p 7503 cluster anti-entropy)
ae_ms=$(( $(now_ms) - t0 ))
after_ae=$(redis-cli -p 7503 info keyspace | tr -d '\r' | sed -n 's/^db0:keys=\([0-9]*\),.*/\1/p')
t0=$(now_ms)
again=$(redis-cli -p 7503 cluster anti-entropy)
ae_idle_ms=$(( $(now_ms) - t0 ))

ratio() { python3 -c "import sys; print(f'{float(sys.argv[1])/float(sys.argv[2]):.2f}')" "$1" "$2" 2>/dev/null || echo "?"; }
rate() { python3 -c "import sys; print(f'{float(sys.argv[1])*1000/max(float(sys.argv[2]),1):.0f}')" "$1" "$2"; }
{
  echo "# Failures: write throughput with a node down, hinted handoff and anti-entropy"
  echo
  echo "Measured by \`bench/failure.sh $keys\` on $(nproc) cores, $(date -u +%Y-%m-%d): 3 ringkv cluster nodes"
  echo "(N=3, R=W=2) and redis-server on this machine; redis-benchmark -c 50 -P 16 -t set with $keys"
  echo "requests on random keys (-r 1000000000, so nearly every request writes a new key), through node 1."
  echo
  echo "## SET throughput"
  echo
  echo "| setup | SET req/s | / healthy cluster |"
  echo "|---|---|---|"
  echo "| redis-server (yardstick) | $redis_rps | $(ratio "$redis_rps" "$healthy") |"
  echo "| cluster, all 3 nodes up | $healthy | 1.00 |"
  echo "| cluster, node 3 killed, hinted handoff on | $down_hints | $(ratio "$down_hints" "$healthy") |"
  echo "| cluster, node 3 killed, hinted handoff off | $down_no_hints | $(ratio "$down_no_hints" "$healthy") |"
  echo
  echo "With a node down each write is shipped to one replica instead of two, which frees CPU on"
  echo "these 2 shared cores. Keeping a hint per write: hints on / hints off = $(ratio "$down_hints" "$down_no_hints")."
  echo
  echo "## Hinted handoff"
  echo
  echo "- Hints kept while node 3 was down: $hints (one per key written)."
  echo "- Node 3 restarted empty; every hint delivered $delivery_ms ms after the restart began (start-up,"
  echo "  failure detection noticing it is back, and delivery), $left left, $delivered delivered."
  echo "- The delivery rounds themselves, as the nodes report them (\`cluster_hints_last_delivery_ms\`,"
  echo "  summed over the two keepers, which deliver in parallel): $reported_ms ms, $(rate "$delivered" "$reported_ms") keys/s."
  echo "- Node 3 then held $node3_keys keys in db0 (the cluster holds $local_keys)."
  echo
  echo "## Anti-entropy (hinted handoff off)"
  echo
  echo "- Node 3 restarted empty held $before_ae keys; \`CLUSTER ANTI-ENTROPY\` on it (one Merkle exchange"
  echo "  with each peer) repaired $repaired keys in $ae_ms ms ($(rate "$repaired" "$ae_ms") keys/s); it then held $after_ae keys."
  echo "- A second exchange right after, with nothing to repair: $again keys in $ae_idle_ms ms (building and"
  echo "  comparing the trees only)."
  echo
  echo "Load average when the run ended: $(cut -d' ' -f1-3 /proc/loadavg)."
} > bench/FAILURE.md
cat bench/FAILURE.md
