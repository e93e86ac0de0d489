#!/usr/bin/env python3
"""HyperLogLog benchmark: ringkv and redis-server side by side, redis-benchmark with PFADD,
PFCOUNT and PFMERGE.

Each row is one redis-benchmark run (-c 50) against each server in turn, after FLUSHALL and the
row's setup. It also loads 100,000 small HLLs (10 elements each, sparse) and reports bytes per
key. Every number printed is measured in this run; nothing is typed in.
Usage: bench/hyperloglog.sh [--quick]
"""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import (cli, family_args, memory_per, pipe, ratio_table, report_head,  # noqa: E402
                     run_rows, start_server, write_report)

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
    args = family_args("bench/HYPERLOGLOG.md")
    n1, n16 = (50_000, 200_000) if args.quick else (200_000, 1_000_000)
    small = 10_000 if args.quick else 100_000

    def prepare(server, row, n):
        _, setup, command, share = row
        if "fill" in setup:
            fill(server.port)
            cli(server.port, "PFCOUNT", "h")
        return n // share, command

    def small_hlls(port):
        pipe(port, ([b"PFADD", b"hll:%d" % k] + [b"m%d" % j for j in range(10)]
                    for k in range(small)))

    servers = [start_server("redis", args.ringkv), start_server("ringkv", args.ringkv)]
    try:
        results = run_rows(servers, ROWS, ((1, n1), (16, n16)), prepare)
        counts = {s.name: cli(s.port, "PFCOUNT", "h", "h2").strip() for s in servers}
        mem = {}
        for s in servers:
            keys, mem[s.name] = memory_per(s, small_hlls,
                                           lambda port: int(cli(port, "DBSIZE").strip()))
            print(f"{s.name:7} {keys} small HLLs: {mem[s.name]:.1f} B/key", flush=True)
    finally:
        for s in servers:
            s.stop()

    lines = report_head("HyperLogLog", "hyperloglog.sh", args.quick) + [
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
    write_report(args.out, lines)


if __name__ == "__main__":
    sys.exit(main())
