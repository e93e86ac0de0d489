#!/usr/bin/env python3
"""HyperLogLog benchmark: ringkv and redis-server side by side, redis-benchmark with PFADD,
PFCOUNT and PFMERGE.

Each row is one redis-benchmark run (-c 50) against each server in turn, after FLUSHALL and the
row's setup. It also loads 100,000 small HLLs (10 elements each, sparse) and reports bytes per
key. Every number printed is measured in this run; nothing is typed in.
Usage: bench/hyperloglog.sh [--quick]
"""
import argparse, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import bench, cli, info_field, machine, pipe, ratio_table, start_server  # noqa: E402

# (label, setup, benchmarked command: redis-benchmark options, then the command, and the share
# of -n it runs: unions and merges of dense HLLs take tens of microseconds each).
ROWS = [
    ("PFADD h e:<rand>", [], ["-r", "1000000", "PFADD", "h", "e:__rand_int__"], 1),
    ("PFADD hll:<rand> a b c (many small HLLs)", [],
     ["-r", "100000", "PFADD", "hll:__rand_int__", "a", "b", "c"], 1),
    ("PFCOUNT h (dense, cached)", ["fill"], ["PFCOUNT", "h"], 1),
    ("PFCOUNT h h2 (union of two dense)", ["fill"], ["PFCOUNT", "h", "h2"], 20),
    ("PFMERGE d h h2", ["fill"], ["PFMERGE", "d", "h", "h2"], 20),
]


def fill(port):
    """h and h2: 50,000 elements each (dense), 25,000 of them shared."""
    cmds = []
    for key, base in ((b"h", 0), (b"h2", 25_000)):
        for start in range(0, 50_000, 1000):
            cmds.append([b"PFADD", key] + [b"e:%d" % (base + start + i) for i in range(1000)])
    pipe(port, cmds)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringkv", required=True)
    ap.add_argument("--out", default="bench/HYPERLOGLOG.md")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    ringkv = os.path.abspath(args.ringkv)
    n1, n16 = (50_000, 200_000) if args.quick else (200_000, 1_000_000)
    small = 10_000 if args.quick else 100_000

    servers = [start_server("redis", ringkv), start_server("ringkv", ringkv)]
    results = []
    try:
        for pipeline, n in ((1, n1), (16, n16)):
            for label, setup, command, share in ROWS:
                row = {"test": label, "P": pipeline}
                for s in servers:
                    cli(s.port, "FLUSHALL")
                    if "fill" in setup:
                        fill(s.port)
                        cli(s.port, "PFCOUNT", "h")
                    r = bench(s, None, pipeline, n // share, 50, flush=False, command=command)
                    row[s.name] = r
                    print(f"{s.name:7} {label:42} -P {pipeline:2}: {r['rps']:>10.0f} req/s  "
                          f"p99 {r['p99']:.3f} ms  cpu {r['cpu_us']:.3f} us/req", flush=True)
                results.append(row)
        counts = {s.name: cli(s.port, "PFCOUNT", "h", "h2").strip() for s in servers}
        mem = {}
        for s in servers:
            cli(s.port, "FLUSHALL")
            time.sleep(0.5)
            used0 = info_field(s.port, "used_memory")
            pipe(s.port, ([b"PFADD", b"hll:%d" % k] + [b"m%d" % j for j in range(10)]
                          for k in range(small)))
            time.sleep(0.5)
            keys = int(cli(s.port, "DBSIZE").strip())
            mem[s.name] = (info_field(s.port, "used_memory") - used0) / keys
            print(f"{s.name:7} {keys} small HLLs: {mem[s.name]:.1f} B/key", flush=True)
    finally:
        for s in servers:
            s.stop()

    lines = [
        "# ringkv vs redis-server — HyperLogLog",
        "",
        f"Produced by `bench/hyperloglog.sh{' --quick' if args.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; every figure below was measured in that run.",
        "",
        f"Machine: {machine()}.  ",
        f"redis-benchmark -c 50 with the command shown, -n {n1} at -P 1 and {n16} at -P 16 (a "
        "twentieth of that for the union and the merge). `h` and "
        "`h2` hold 50,000 elements each (dense), 25,000 of them shared, and `h` was counted once "
        "before the row (so its cached cardinality is valid); `<rand>` is redis-benchmark's "
        "`__rand_int__`. Server CPU = user+sys of the server process / requests. Ratios are "
        "ringkv / redis (throughput: higher is better; CPU and memory: lower is better).",
        "",
    ]
    lines += ratio_table(results, "command", lambda row: f"`{row['test']}`")
    lines += [
        "",
        f"`PFCOUNT h h2` after the runs: redis {counts['redis']}, ringkv {counts['ringkv']}.",
        "",
        f"Memory: {small:,} HLLs of 10 elements each (sparse), used_memory delta / DBSIZE: "
        f"redis {mem['redis']:.1f} B/key, ringkv {mem['ringkv']:.1f} B/key "
        f"(ratio {mem['ringkv'] / mem['redis']:.2f}).",
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
