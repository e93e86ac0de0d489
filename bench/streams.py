#!/usr/bin/env python3
"""Streams benchmark: ringkv and redis-server side by side, redis-benchmark with stream commands.

Each row is one redis-benchmark run of a stream command (-c 50) against a fresh server of each
kind, alternating; the queue rows run on a stream the row before filled. It also loads
1,000,000 entries into one stream and reports bytes per entry. Every number printed is measured
in this run; nothing is typed in.   Usage: bench/streams.sh [--quick]
"""
import argparse, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import bench, cli, info_field, machine, pipe, ratio_table, start_server  # noqa: E402

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
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringkv", required=True)
    ap.add_argument("--out", default="bench/STREAMS.md")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    ringkv = os.path.abspath(args.ringkv)
    n1, n16 = (50_000, 200_000) if args.quick else (200_000, 2_000_000)
    entries = 100_000 if args.quick else 1_000_000
    filled = 200_000 if args.quick else 2_000_000

    servers = [start_server("redis", ringkv), start_server("ringkv", ringkv)]
    results = []
    try:
        for pipeline, n in ((1, n1), (16, n16)):
            for label, setup, command in ROWS:
                row = {"test": label, "P": pipeline}
                for s in servers:
                    cli(s.port, "FLUSHALL")
                    if "fill" in setup:
                        # Enough entries that a consuming read never runs dry.
                        fill(s.port, filled if "group" in setup else 1000)
                    if "group" in setup:
                        cli(s.port, "XGROUP", "CREATE", "s", "g", "0")
                    requests = min(n, filled) if "group" in setup else n
                    r = bench(s, None, pipeline, requests, 50, flush=False, command=command)
                    row[s.name] = r
                    print(f"{s.name:7} {label:42} -P {pipeline:2}: {r['rps']:>10.0f} req/s  "
                          f"p99 {r['p99']:.3f} ms  cpu {r['cpu_us']:.3f} us/req", flush=True)
                results.append(row)
        mem, mem3 = {}, {}
        for schema, into in ((False, mem), (True, mem3)):
            for s in servers:
                cli(s.port, "FLUSHALL")
                time.sleep(0.5)
                used0 = info_field(s.port, "used_memory")
                fill(s.port, entries, schema)
                time.sleep(0.5)
                length = int(cli(s.port, "XLEN", "s").strip())
                into[s.name] = (info_field(s.port, "used_memory") - used0) / length
                print(f"{s.name:7} {length} entries (schema {schema}): {into[s.name]:.1f} B/entry",
                      flush=True)
    finally:
        for s in servers:
            s.stop()

    lines = [
        "# ringkv vs redis-server — streams",
        "",
        f"Produced by `bench/streams.sh{' --quick' if args.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; every figure below was measured in that run.",
        "",
        f"Machine: {machine()}.  ",
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
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
