#!/usr/bin/env python3
"""Streams benchmark: ringkv and redis-server side by side, redis-benchmark with stream commands.

Each row is one redis-benchmark run of a stream command (-c 50) against a fresh server of each
kind, alternating; the queue rows run on a stream the row before filled. It also loads
1,000,000 entries into one stream and reports bytes per entry. Every number printed is measured
in this run; nothing is typed in.   Usage: bench/streams.sh [--quick]
"""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import (cli, family_args, memory_per, pipe, ratio_table, report_head,  # noqa: E402
                     run_rows, start_server, write_report)

# (label, setup commands, benchmarked command). Each row starts from a fresh FLUSHALL + setup.
ROWS = [
    ("XADD s * f v", [], ["XADD", "s", "*", "f", "v"]),
    ("XADD s MAXLEN ~ 1000 * f v", [], ["XADD", "s", "MAXLEN", "~", "1000", "*", "f", "v"]),
    ("XRANGE s - + COUNT 10", ["fill"], ["XRANGE", "s", "-", "+", "COUNT", "10"]),
    ("XREVRANGE s + - COUNT 10", ["fill"], ["XREVRANGE", "s", "+", "-", "COUNT", "10"]),
    ("XREAD COUNT 10 STREAMS s 0", ["fill"], ["XREAD", "COUNT", "10", "STREAMS", "s", "0"]),
    ("XREADGROUP GROUP g c COUNT 1 STREAMS s >", ["fill", "group"],
     ["XREADGROUP", "GROUP", "g", "c", "COUNT", "1", "STREAMS", "s", ">"]),
    ("XLEN s", ["fill"], ["XLEN", "s"]),
]


def fill(port, n, schema=False):
    """n entries through redis-cli --pipe (IDs 1-0 .. n-0): `f <i>`, or with `schema` three
    fields (`user_id <i> action click page /home/<i % 100>`)."""
    def entry(i):
        v = b"%d" % i
        if schema:
            return (b"XADD", b"s", v + b"-0", b"user_id", v, b"action", b"click", b"page",
                    b"/home/%d" % (i % 100))
        return (b"XADD", b"s", v + b"-0", b"f", v)

    pipe(port, (entry(i) for i in range(1, n + 1)))


def main():
    args = family_args("bench/STREAMS.md")
    n1, n16 = (50_000, 200_000) if args.quick else (200_000, 2_000_000)
    entries = 100_000 if args.quick else 1_000_000
    filled = 200_000 if args.quick else 2_000_000

    def prepare(server, row, n):
        _, setup, command = row
        if "fill" in setup:
            # Enough entries that a consuming read never runs dry.
            fill(server.port, filled if "group" in setup else 1000)
        if "group" in setup:
            cli(server.port, "XGROUP", "CREATE", "s", "g", "0")
        return (min(n, filled) if "group" in setup else n), command

    servers = [start_server("redis", args.ringkv), start_server("ringkv", args.ringkv)]
    try:
        results = run_rows(servers, ROWS, ((1, n1), (16, n16)), prepare)
        mem, mem3 = {}, {}
        for schema, into in ((False, mem), (True, mem3)):
            for s in servers:
                length, into[s.name] = memory_per(
                    s, lambda port: fill(port, entries, schema),
                    lambda port: int(cli(port, "XLEN", "s").strip()))
                print(f"{s.name:7} {length} entries (schema {schema}): {into[s.name]:.1f} B/entry",
                      flush=True)
    finally:
        for s in servers:
            s.stop()

    lines = report_head("streams", "streams.sh", args.quick) + [
        f"redis-benchmark -c 50 with the command shown, -n {n1} at -P 1 and {n16} at -P 16 (the "
        f"XREADGROUP rows read a stream of {filled:,} entries once, so at most that many requests); "
        "reads run over a stream of 1,000 entries (`XADD s <i>-0 f <i>`). Server CPU = user+sys of "
        "the server process / requests. Ratios are ringkv / redis (throughput: higher is better; "
        "CPU and memory: lower is better).",
        "",
    ]
    lines += ratio_table(results, "command", lambda row: f"`{row['test']}`")
    lines += [
        "",
        f"Memory: {entries:,} entries `XADD s <i>-0 f <i>` in one stream, used_memory delta / XLEN: "
        f"redis {mem['redis']:.1f} B/entry, ringkv {mem['ringkv']:.1f} B/entry "
        f"(ratio {mem['ringkv'] / mem['redis']:.2f}). Entries of three fields "
        f"(`user_id <i> action click page /home/<i % 100>`): redis {mem3['redis']:.1f} B/entry, "
        f"ringkv {mem3['ringkv']:.1f} B/entry (ratio {mem3['ringkv'] / mem3['redis']:.2f}). Both "
        "pack up to 100 entries per node into one buffer with delta-encoded IDs, and store the "
        "field names of a node's first entry once for the entries that repeat them.",
        "",
    ]
    write_report(args.out, lines)


if __name__ == "__main__":
    main()
