#!/usr/bin/env python3
"""Rate limiting and unique IDs: ringkv's built-in commands vs the usual Redis recipes.

Runs redis-server and ringkv side by side on loopback (like bench/compare.py, whose helpers it
reuses; it installs nothing: bench/run.sh installs redis) and measures with redis-benchmark:

* Rate limiting, one GCRA check per request (burst 100, 1000 per second), keys drawn from
  100,000 (-r) so that each request hits a per-client limiter as in production:
  - Redis: EVALSHA of a Lua GCRA script, the algorithm used by go-redis/redis_rate (itself from
    rwz/redis-gcra), written out below;
  - ringkv: CL.THROTTLE key 100 1000 1 1 (redis-cell's command) and
    RL.LIMIT key gcra LIMIT 1000 WINDOW 1000 BURST 100.
* Unique IDs: ringkv ID.NEXT (one per request) and ID.NEXT 100 (batched), reported as IDs per
  second; Redis INCR (the usual counter-based ID) for reference.

For each: throughput at -P 1 and -P 16 with 50 clients, and the server's CPU time per request
(user+sys from /proc/PID/stat, divided by requests). Results go to bench/RATELIMIT.md; every
number in it is measured in the run that wrote it.

Usage: python3 bench/ratelimit.py --ringkv target/release/ringkv [--quick | -n N]
"""
import argparse, csv, io, os, subprocess, sys, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import Server, cli, cpu_seconds, free_port, machine  # noqa: E402

# GCRA as go-redis/redis_rate computes it (its allowN script): the theoretical arrival time
# (TAT) is kept as a float of seconds since 2017-01-01 in the key, which expires when the
# limiter is full again. Reply: {allowed, remaining, retry_after, reset_after}.
# ARGV: burst, rate (per period), period (seconds), cost.
GCRA_LUA = r"""
local key = KEYS[1]
local burst = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local period = tonumber(ARGV[3])
local cost = tonumber(ARGV[4])

local interval = period / rate
local increment = interval * cost
local burst_offset = interval * burst

-- Seconds since 2017-01-01 as a double keeps microsecond precision.
local t = redis.call("TIME")
local now = (t[1] - 1483228800) + t[2] / 1000000

local tat = tonumber(redis.call("GET", key)) or now
if tat < now then tat = now end

local new_tat = tat + increment
local diff = now - (new_tat - burst_offset)
local remaining = math.floor(diff / interval + 0.5)

if remaining >= 0 then
  local reset_after = new_tat - now
  redis.call("SET", key, new_tat, "EX", math.ceil(reset_after))
  return {cost, remaining, "-1", tostring(reset_after)}
end
return {0, 0, tostring(-diff), tostring(tat - now)}
"""

CLIENTS = 50
KEYSPACE = 100_000


def bench(server, args, pipeline, requests):
    """One redis-benchmark run of a custom command; returns req/s and server CPU µs/request."""
    cli(server.port, "FLUSHALL")
    before = cpu_seconds(server.proc.pid)
    out = subprocess.run(
        ["redis-benchmark", "-p", str(server.port), "-c", str(CLIENTS), "-n", str(requests),
         "-P", str(pipeline), "-r", str(KEYSPACE), "--csv", *map(str, args)],
        check=True, capture_output=True, text=True, timeout=900).stdout
    cpu = cpu_seconds(server.proc.pid) - before
    row = list(csv.DictReader(io.StringIO(out)))[0]
    return {"rps": float(row["rps"]), "p50": float(row["p50_latency_ms"]),
            "cpu_us": cpu * 1e6 / requests}


def check_replies(redis_port, kv_port, sha):
    """Sanity checks before measuring: every contender answers a first call as allowed."""
    lua = cli(redis_port, "EVALSHA", sha, 1, "probe", 100, 1000, 1, 1).split()
    cell = cli(kv_port, "CL.THROTTLE", "probe", 100, 1000, 1, 1).split()
    rl = cli(kv_port, "RL.LIMIT", "probe2", "gcra", "LIMIT", 1000, "WINDOW", 1000, "BURST", 100).split()
    ident = cli(kv_port, "ID.NEXT", 3).split()
    # redis_rate's burst is the capacity (100 at once); redis-cell's max_burst is one less than
    # its capacity (101); RL.LIMIT's BURST is the capacity, like redis_rate's.
    assert lua[:2] == ["1", "99"], lua
    assert cell[:3] == ["0", "101", "100"], cell
    assert rl[:3] == ["1", "100", "99"], rl
    assert len(ident) == 3 and int(ident[0]) < int(ident[1]) < int(ident[2]), ident


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringkv", required=True)
    ap.add_argument("--out", default="bench/RATELIMIT.md")
    ap.add_argument("--quick", action="store_true", help="fewer requests (smoke run)")
    ap.add_argument("-n", type=int, help="requests per run at both pipeline depths")
    args = ap.parse_args()
    ringkv = os.path.abspath(args.ringkv)
    n1 = 50_000 if args.quick else 200_000
    n16 = 200_000 if args.quick else 2_000_000
    if args.n:
        n1 = n16 = args.n

    rport, kport = free_port(), free_port()
    redis = Server("redis", ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no"], rport)
    kv = Server("ringkv", [ringkv, "--port", str(kport), "--bind", "127.0.0.1", "--dir", ".",
                           "--loglevel", "warning"], kport)
    rows = []
    try:
        sha = cli(rport, "SCRIPT", "LOAD", GCRA_LUA).strip()
        check_replies(rport, kport, sha)
        cases = [
            ("GCRA check", "redis EVALSHA (go-redis/redis_rate GCRA)", redis,
             ["EVALSHA", sha, 1, "rl:__rand_int__", 100, 1000, 1, 1], 1),
            ("GCRA check", "ringkv CL.THROTTLE", kv,
             ["CL.THROTTLE", "rl:__rand_int__", 100, 1000, 1, 1], 1),
            ("GCRA check", "ringkv RL.LIMIT gcra", kv,
             ["RL.LIMIT", "rl:__rand_int__", "gcra", "LIMIT", 1000, "WINDOW", 1000, "BURST", 100], 1),
            ("unique ID", "redis INCR (counter)", redis, ["INCR", "id:counter"], 1),
            ("unique ID", "ringkv ID.NEXT", kv, ["ID.NEXT"], 1),
            ("unique ID", "ringkv ID.NEXT 100", kv, ["ID.NEXT", 100], 100),
        ]
        for pipeline, n in ((1, n1), (16, n16)):
            for group, name, server, command, per_request in cases:
                r = bench(server, command, pipeline, n)
                row = {"group": group, "name": name, "P": pipeline, "per": per_request, **r}
                rows.append(row)
                print(f"{name:44} -P {pipeline:2}: {r['rps']:>10.0f} req/s "
                      f"({r['rps'] * per_request:>11.0f} items/s)  p50 {r['p50']:.3f} ms  "
                      f"cpu {r['cpu_us']:.3f} us/req ({r['cpu_us'] / per_request:.4f} us/item)",
                      flush=True)
    finally:
        redis.stop()
        kv.stop()

    lines = [
        "# Rate limiting and unique IDs — latest results",
        "",
        f"Machine: {machine()}.  ",
        f"Run: `python3 bench/ratelimit.py{' --quick' if args.quick else ''}"
        f"{f' -n {args.n}' if args.n else ''}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"redis-benchmark -c {CLIENTS}, -n {n1} at -P 1 and {n16} at -P 16, "
        f"keys drawn from {KEYSPACE:,} (-r).  ",
        "Server CPU = user+sys time of the server process (/proc/PID/stat) / requests. "
        "The Redis GCRA is a Lua script implementing the algorithm used by go-redis/redis_rate "
        "(EVALSHA, burst 100, 1000/s); ringkv runs the same limit natively "
        "(`CL.THROTTLE key 100 1000 1 1`, whose max_burst 100 means a capacity of 101, and "
        "`RL.LIMIT key gcra LIMIT 1000 WINDOW 1000 BURST 100`).",
        "",
        "| what | contender | -P | req/s | items/s | p50 ms | server CPU µs/req | CPU µs/item |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['group']} | {r['name']} | {r['P']} | {r['rps']:.0f} | {r['rps'] * r['per']:.0f} | "
            f"{r['p50']:.3f} | {r['cpu_us']:.3f} | {r['cpu_us'] / r['per']:.4f} |")
    base = {(r["P"]): r for r in rows if r["name"].startswith("redis EVALSHA")}
    lines += ["", "Ratios against the Lua script on Redis (throughput: higher is better; CPU: lower):", ""]
    lines += ["| contender | -P | throughput ratio | CPU per check ratio |", "|---|---|---|---|"]
    for r in rows:
        if r["group"] == "GCRA check" and not r["name"].startswith("redis"):
            b = base[r["P"]]
            lines.append(f"| {r['name']} | {r['P']} | {r['rps'] / b['rps']:.2f} | "
                         f"{r['cpu_us'] / b['cpu_us']:.2f} |")
    lines.append("")
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
