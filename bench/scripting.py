#!/usr/bin/env python3
"""Lua scripting benchmark: ringkv and redis-server side by side, redis-benchmark with EVALSHA of
a small INCR script and of a compare-and-delete lock script, and plain EVAL.

Each row is one redis-benchmark run (-c 50) against each server in turn, after FLUSHALL, SCRIPT
LOAD of the row's scripts and the row's setup. Every number printed is measured in this run;
nothing is typed in.
Usage: bench/scripting.sh [--quick]
"""
import argparse, os, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import bench, cli, machine, ratio_table, start_server  # noqa: E402

INCR = "return redis.call('INCR', KEYS[1])"
UNLOCK = ("if redis.call('GET', KEYS[1]) == ARGV[1] then "
          "return redis.call('DEL', KEYS[1]) else return 0 end")

# (label, script loaded for EVALSHA or None, benchmarked command with <sha> for the script's SHA1)
ROWS = [
    ("EVALSHA <incr> 1 counter", INCR, ["EVALSHA", "<sha>", "1", "counter"]),
    ("EVALSHA <unlock> 1 lock token (lock held by another token)", UNLOCK,
     ["EVALSHA", "<sha>", "1", "lock", "token"]),
    ("EVAL <incr> 1 counter", None, ["EVAL", INCR, "1", "counter"]),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringkv", required=True)
    ap.add_argument("--out", default="bench/SCRIPTING.md")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    ringkv = os.path.abspath(args.ringkv)
    n1, n16 = (50_000, 200_000) if args.quick else (200_000, 1_000_000)

    servers = [start_server("redis", ringkv), start_server("ringkv", ringkv)]
    results = []
    try:
        for pipeline, n in ((1, n1), (16, n16)):
            for label, script, command in ROWS:
                row = {"test": label, "P": pipeline}
                for s in servers:
                    cli(s.port, "FLUSHALL")
                    cli(s.port, "SET", "lock", "other-token")
                    cmd = list(command)
                    if script is not None:
                        sha = cli(s.port, "SCRIPT", "LOAD", script).strip()
                        cmd = [sha if a == "<sha>" else a for a in cmd]
                    r = bench(s, None, pipeline, n, 50, flush=False, command=cmd)
                    row[s.name] = r
                    print(f"{s.name:7} {label:58} -P {pipeline:2}: {r['rps']:>10.0f} req/s  "
                          f"p99 {r['p99']:.3f} ms  cpu {r['cpu_us']:.3f} us/req", flush=True)
                results.append(row)
        counters = {s.name: cli(s.port, "GET", "counter").strip() for s in servers}
    finally:
        for s in servers:
            s.stop()

    lines = [
        "# ringkv vs redis-server — Lua scripting",
        "",
        f"Produced by `bench/scripting.sh{' --quick' if args.quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; every figure below was measured in that run.",
        "",
        f"Machine: {machine()}.  ",
        f"redis-benchmark -c 50 with the command shown, -n {n1} at -P 1 and {n16} at -P 16. "
        f"`<incr>` is `{INCR}`; `<unlock>` is the compare-and-delete lock release `{UNLOCK}` "
        "run against a lock another token holds (a GET and no write). EVALSHA rows load the "
        "script first with SCRIPT LOAD. Server CPU = user+sys of the server process / requests. "
        "Ratios are ringkv / redis (throughput: higher is better; CPU: lower is better).",
        "",
    ]
    lines += ratio_table(results, "command", lambda row: f"`{row['test']}`")
    lines += [
        "",
        f"`GET counter` after the last run: redis {counters['redis']}, ringkv {counters['ringkv']}.",
        "",
    ]
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
