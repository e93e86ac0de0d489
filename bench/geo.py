#!/usr/bin/env python3
"""GEO benchmark: ringkv and redis-server side by side, redis-benchmark with GEOADD, GEODIST,
GEOPOS and GEOSEARCH BYRADIUS (a small and a larger result).

Each row is one redis-benchmark run (-c 50) against each server in turn, after FLUSHALL and the
row's setup: 100,000 points spread uniformly over a 2 x 2 degree square around (13, 38), the
same points (seeded) on both servers. Every number printed is measured in this run; nothing is
typed in.
Usage: bench/geo.sh [--quick]
"""
import os, random, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import (cli, family_args, pipe, ratio_table, report_head, run_rows,  # noqa: E402
                     start_server, write_report)

POINTS = 100_000
SMALL_KM, LARGE_KM = "1", "8"

# (label, setup, benchmarked command: redis-benchmark options, then the command, and the share
# of -n it runs: the larger search replies hundreds of members).
ROWS = [
    ("GEOADD geo 13.<rand> 38.<rand> m:<rand>", ["fill"],
     ["-r", "1000000", "GEOADD", "geo", "13.__rand_int__", "38.__rand_int__", "m:__rand_int__"], 1),
    ("GEODIST geo m:1 m:2 km", ["fill"], ["GEODIST", "geo", "m:1", "m:2", "km"], 1),
    ("GEOPOS geo m:1 m:2", ["fill"], ["GEOPOS", "geo", "m:1", "m:2"], 1),
    (f"GEOSEARCH geo FROMLONLAT 13 38 BYRADIUS {SMALL_KM} km ASC (small result)", ["fill"],
     ["GEOSEARCH", "geo", "FROMLONLAT", "13", "38", "BYRADIUS", SMALL_KM, "km", "ASC"], 1),
    (f"GEOSEARCH geo FROMLONLAT 13 38 BYRADIUS {LARGE_KM} km ASC (larger result)", ["fill"],
     ["GEOSEARCH", "geo", "FROMLONLAT", "13", "38", "BYRADIUS", LARGE_KM, "km", "ASC"], 20),
]


def fill(port):
    """`geo`: POINTS members m:0.. at seeded random positions in [12, 14] x [37, 39]."""
    rng = random.Random(7)
    cmds = []
    for start in range(0, POINTS, 1000):
        cmd = [b"GEOADD", b"geo"]
        for i in range(start, start + 1000):
            lon, lat = 12 + 2 * rng.random(), 37 + 2 * rng.random()
            cmd += [b"%.6f" % lon, b"%.6f" % lat, b"m:%d" % i]
        cmds.append(cmd)
    pipe(port, cmds)


def main():
    args = family_args("bench/GEO.md")
    n1, n16 = (50_000, 200_000) if args.quick else (200_000, 1_000_000)

    def prepare(server, row, n):
        _, setup, command, share = row
        if "fill" in setup:
            fill(server.port)
        return n // share, command

    servers = [start_server("redis", args.ringkv), start_server("ringkv", args.ringkv)]
    try:
        results = run_rows(servers, ROWS, ((1, n1), (16, n16)), prepare)
        found = {}
        for s in servers:
            cli(s.port, "FLUSHALL")
            fill(s.port)
            found[s.name] = [
                cli(s.port, "GEOSEARCH", "geo", "FROMLONLAT", "13", "38", "BYRADIUS", km, "km",
                    "ASC").count("\n")
                for km in (SMALL_KM, LARGE_KM)
            ]
    finally:
        for s in servers:
            s.stop()

    lines = report_head("GEO", "geo.sh", args.quick) + [
        f"redis-benchmark -c 50 with the command shown, -n {n1} at -P 1 and {n16} at -P 16 (a "
        f"twentieth of that for the larger search). `geo` holds {POINTS:,} points spread "
        "uniformly over [12, 14] x [37, 39] degrees (the same seeded points on both servers); "
        "`<rand>` is redis-benchmark's `__rand_int__` (so GEOADD adds new members at new "
        "positions). Server CPU = user+sys of the server process / requests. Ratios are "
        "ringkv / redis (throughput: higher is better; CPU: lower is better).",
        "",
    ]
    lines += ratio_table(results, "command", lambda row: f"`{row['test']}`")
    lines += [
        "",
        f"Members found by the searches on the filled set ({SMALL_KM} km / {LARGE_KM} km): "
        f"redis {found['redis'][0]} / {found['redis'][1]}, "
        f"ringkv {found['ringkv'][0]} / {found['ringkv'][1]}.",
        "",
    ]
    write_report(args.out, lines)


if __name__ == "__main__":
    sys.exit(main())
