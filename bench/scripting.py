#!/usr/bin/env python3
"""Lua scripting benchmark: ringkv and redis-server side by side, redis-benchmark with EVALSHA of
a small INCR script and of a compare-and-delete lock script, and plain EVAL.

Each row is one redis-benchmark run (-c 50) against each server in turn, after FLUSHALL, SCRIPT
LOAD of the row's scripts and the row's setup. Every number printed is measured in this run;
nothing is typed in.
Usage: bench/scripting.sh [--quick]
"""
import os, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import (cli, family_args, ratio_table, report_head, run_rows, start_server,  # noqa: E402
                     write_report)

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
    args = family_args("bench/SCRIPTING.md")
    n1, n16 = (50_000, 200_000) if args.quick else (200_000, 1_000_000)

    def prepare(server, row, n):
        _, script, command = row
        cli(server.port, "SET", "lock", "other-token")
        if script is not None:
            sha = cli(server.port, "SCRIPT", "LOAD", script).strip()
            command = [sha if a == "<sha>" else a for a in command]
        return n, command

    servers = [start_server("redis", args.ringkv), start_server("ringkv", args.ringkv)]
    try:
        results = run_rows(servers, ROWS, ((1, n1), (16, n16)), prepare)
        counters = {s.name: cli(s.port, "GET", "counter").strip() for s in servers}
    finally:
        for s in servers:
            s.stop()

    lines = report_head("Lua scripting", "scripting.sh", args.quick) + [
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
    write_report(args.out, lines)


if __name__ == "__main__":
    sys.exit(main())
