#!/usr/bin/env python3
"""Runs ringkv and redis-server side by side on loopback and compares them.

For every redis-benchmark test it records throughput, p50/p99 latency and the *server* CPU time
per request (user+sys ticks of the server process from /proc/PID/stat, divided by requests), which
is what matters on a 2-core machine where redis-benchmark itself saturates a core at -P 1.
It also loads 1,000,000 keys with 16-byte values and reports bytes per key (used_memory delta and
RSS delta). Results go to a Markdown file with the machine description. Every number printed is
measured in this run; nothing is typed in.
"""
import argparse, csv, io, os, platform, shutil, socket, subprocess, sys, tempfile, time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[11], fields[12] are utime, stime (14th/15th of the full line)
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_bytes(pid):
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def wait_port(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16):
                    return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def cli(port, *args):
    return subprocess.run(["redis-cli", "-p", str(port), *map(str, args)], check=True,
                          capture_output=True, text=True).stdout


def info_field(port, field):
    for line in cli(port, "INFO", "memory").splitlines():
        if line.startswith(field + ":"):
            return int(line.split(":", 1)[1])
    raise KeyError(field)


class Server:
    def __init__(self, name, argv, port):
        self.name, self.port = name, port
        self.dir = tempfile.mkdtemp(prefix=f"bench-{name}-")
        self.proc = subprocess.Popen(argv, cwd=self.dir, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        wait_port(port)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


def bench(server, test, pipeline, requests, clients, flush=True, command=None):
    """One redis-benchmark run: its built-in `test` over keys drawn from 100,000, or with
    `command` (a list of arguments) that command as given."""
    if flush:
        cli(server.port, "FLUSHALL")
    what = ["-t", test, "-r", "100000"] if command is None else list(command)
    before = cpu_seconds(server.proc.pid)
    out = subprocess.run(
        ["redis-benchmark", "-p", str(server.port), "-c", str(clients), "-n", str(requests),
         "-P", str(pipeline), "--csv", *what],
        check=True, capture_output=True, text=True, timeout=600).stdout
    cpu = cpu_seconds(server.proc.pid) - before
    rows = list(csv.DictReader(io.StringIO(out)))
    row = rows[0]
    return {
        "rps": float(row["rps"]),
        "p50": float(row["p50_latency_ms"]),
        "p99": float(row["p99_latency_ms"]),
        "cpu_us": cpu * 1e6 / requests,
    }


def resp(*args):
    out = b"*%d\r\n" % len(args)
    for a in args:
        out += b"$%d\r\n%s\r\n" % (len(a), a)
    return out


def pipe(port, commands):
    """Sends commands (each a sequence of bytes arguments) through redis-cli --pipe."""
    buf = io.BytesIO()
    for args in commands:
        buf.write(resp(*args))
    subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=buf.getvalue(), check=True,
                   capture_output=True)


def start_server(kind, ringkv):
    """A fresh redis-server (persistence off) or ringkv (`ringkv`: its binary) on a free port."""
    port = free_port()
    if kind == "redis":
        return Server("redis", ["redis-server", "--port", str(port), "--bind", "127.0.0.1",
                                "--save", "", "--appendonly", "no"], port)
    return Server("ringkv", [ringkv, "--port", str(port), "--bind", "127.0.0.1", "--dir", ".",
                             "--loglevel", "warning"], port)


# Key shapes for the memory measurements: (label, command builder for key i).
SHAPES = {
    "string": ("SET key:%012d <16 bytes>", lambda i: (b"SET", b"key:%012d" % i, b"v" * 16)),
    "hash": ("HSET user:%d name alice age 30", lambda i: (b"HSET", b"user:%d" % i, b"name", b"alice", b"age", b"30")),
    "set": ("SADD set:%d a b c", lambda i: (b"SADD", b"set:%d" % i, b"a", b"b", b"c")),
    "zset": ("ZADD z:%d 1 a 2 b 3 c", lambda i: (b"ZADD", b"z:%d" % i, b"1", b"a", b"2", b"b", b"3", b"c")),
}


def load_keys(server, n, shape="string"):
    """Loads n distinct keys of one shape through redis-cli --pipe; bytes per key."""
    cli(server.port, "FLUSHALL")
    time.sleep(0.5)
    used0, rss0 = info_field(server.port, "used_memory"), rss_bytes(server.proc.pid)
    make = SHAPES[shape][1]
    pipe(server.port, (make(i) for i in range(n)))
    time.sleep(1.0)
    dbsize = int(cli(server.port, "DBSIZE").strip())
    used1, rss1 = info_field(server.port, "used_memory"), rss_bytes(server.proc.pid)
    return {"keys": dbsize, "used_per_key": (used1 - used0) / dbsize, "rss_per_key": (rss1 - rss0) / dbsize}


def ratio_table(results, first_column, label):
    """Markdown rows comparing the two servers, one per result row ({"P", "redis", "ringkv"})."""
    lines = [
        f"| {first_column} | -P | redis req/s | ringkv req/s | ratio | redis p50/p99 ms | ringkv p50/p99 ms "
        "| redis CPU µs/req | ringkv CPU µs/req | CPU ratio |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results:
        a, b = row["redis"], row["ringkv"]
        lines.append(
            f"| {label(row)} | {row['P']} | {a['rps']:.0f} | {b['rps']:.0f} | {b['rps'] / a['rps']:.2f} | "
            f"{a['p50']:.3f} / {a['p99']:.3f} | {b['p50']:.3f} / {b['p99']:.3f} | {a['cpu_us']:.3f} | "
            f"{b['cpu_us']:.3f} | {b['cpu_us'] / a['cpu_us']:.2f} |")
    return lines


def family_args(out):
    """The command line of a per-family benchmark (bench/<family>.py): --ringkv, --out, --quick;
    `ringkv` made absolute."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringkv", required=True)
    ap.add_argument("--out", default=out)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    args.ringkv = os.path.abspath(args.ringkv)
    return args


def run_rows(servers, rows, sizes, prepare):
    """Runs every row at each (pipeline, n) of `sizes` against each server in turn, printing as it
    goes; the results for ratio_table. A row is a tuple whose first item is its label;
    `prepare(server, row, n)` readies the server after FLUSHALL and returns the requests to run
    and the command."""
    width = max(len(row[0]) for row in rows)
    results = []
    for pipeline, n in sizes:
        for row in rows:
            label = row[0]
            result = {"test": label, "P": pipeline}
            for s in servers:
                cli(s.port, "FLUSHALL")
                requests, command = prepare(s, row, n)
                r = bench(s, None, pipeline, requests, 50, flush=False, command=command)
                result[s.name] = r
                print(f"{s.name:7} {label:{width}} -P {pipeline:2}: {r['rps']:>10.0f} req/s  "
                      f"p99 {r['p99']:.3f} ms  cpu {r['cpu_us']:.3f} us/req", flush=True)
            results.append(result)
    return results


def memory_per(server, fill, count):
    """Bytes of used_memory per item that `fill(port)` adds to an empty server, `count(port)`
    giving the number of items."""
    cli(server.port, "FLUSHALL")
    time.sleep(0.5)
    used0 = info_field(server.port, "used_memory")
    fill(server.port)
    time.sleep(0.5)
    items = count(server.port)
    return items, (info_field(server.port, "used_memory") - used0) / items


def report_head(title, script, quick):
    """The first lines of a family report: title, provenance, machine."""
    return [
        f"# ringkv vs redis-server — {title}",
        "",
        f"Produced by `bench/{script}{' --quick' if quick else ''}` on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; every figure below was measured in that run.",
        "",
        f"Machine: {machine()}.  ",
    ]


def write_report(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {path}")


def cpu_model():
    """The CPU's model name from /proc/cpuinfo ("unknown" if it cannot be read)."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def machine():
    redis_version = subprocess.run(["redis-server", "--version"], capture_output=True, text=True).stdout.strip()
    return f"{cpu_model()}, {os.cpu_count()} cores, Linux {platform.release()}; {redis_version}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ringkv", required=True)
    ap.add_argument("--out", default="bench/RESULTS.md")
    ap.add_argument("--quick", action="store_true", help="fewer requests (smoke run)")
    ap.add_argument("--suite", choices=["strings", "types"], default="strings",
                    help="strings: issue-2 commands + 1M string keys; types: collection commands + "
                         "1M small hashes/sets/sorted sets")
    args = ap.parse_args()
    ringkv = os.path.abspath(args.ringkv)
    n1 = 50_000 if args.quick else 200_000
    n16 = 200_000 if args.quick else 2_000_000
    keys = 100_000 if args.quick else 1_000_000
    if args.suite == "strings":
        tests, shapes, flush = ["set", "get", "incr", "mset"], ["string"], True
    else:
        # redis-benchmark's own order: pops and LRANGE read what the pushes left behind.
        tests = ["lpush", "rpush", "lpop", "rpop", "sadd", "hset", "spop", "zadd", "zpopmin",
                 "lrange_100", "lrange_600"]
        shapes, flush = ["hash", "set", "zset"], False

    def start_both():
        return start_server("redis", ringkv), start_server("ringkv", ringkv)

    redis, kv = start_both()
    results = []
    try:
        for pipeline, n in ((1, n1), (16, n16)):
            for s in (redis, kv):
                cli(s.port, "FLUSHALL")
            for test in tests:
                row = {"test": test, "P": pipeline}
                # LRANGE replies are large: fewer requests keep the run short.
                count = n // 10 if test.startswith("lrange") else n
                for s in (redis, kv):
                    r = bench(s, test, pipeline, count, 50, flush)
                    row[s.name] = r
                    print(f"{s.name:7} {test:5} -P {pipeline:2}: {r['rps']:>10.0f} req/s  p50 {r['p50']:.3f} ms  "
                          f"p99 {r['p99']:.3f} ms  cpu {r['cpu_us']:.3f} us/req", flush=True)
                results.append(row)
        mem = {}
        for shape in shapes:
            # Fresh processes per shape: RSS deltas are only meaningful from a clean heap.
            redis.stop()
            kv.stop()
            redis, kv = start_both()
            mem[shape] = {s.name: load_keys(s, keys, shape) for s in (redis, kv)}
            for name, m in mem[shape].items():
                print(f"{name:7} {m['keys']} {shape} keys: {m['used_per_key']:.1f} B/key used_memory, "
                      f"{m['rss_per_key']:.1f} B/key RSS", flush=True)
    finally:
        redis.stop()
        kv.stop()

    lines = [
        f"## Suite `{args.suite}`",
        "",
        f"Machine: {machine()}.  ",
        f"Run: `bench/run.sh{' --quick' if args.quick else ''}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"redis-benchmark -c 50, -n {n1} at -P 1 and {n16} at -P 16, keys drawn from 100,000 (-r).  ",
        "Server CPU = user+sys time of the server process (/proc/PID/stat) / requests. "
        "Ratios are ringkv / redis (throughput: higher is better; CPU and memory: lower is better).",
        "",
    ]
    lines += ratio_table(results, "test", lambda row: row["test"])
    lines += [
        "",
        f"Memory after loading {keys:,} keys through `redis-cli --pipe` (delta of used_memory and of "
        "RSS over an empty server, divided by DBSIZE):",
        "",
        "| keys | redis B/key (used_memory) | ringkv B/key (used_memory) | ratio | redis B/key (RSS) | ringkv B/key (RSS) | ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    for shape, m in mem.items():
        a, b = m["redis"], m["ringkv"]
        lines.append(
            f"| `{SHAPES[shape][0]}` | {a['used_per_key']:.1f} | {b['used_per_key']:.1f} | "
            f"{b['used_per_key'] / a['used_per_key']:.2f} | {a['rss_per_key']:.1f} | {b['rss_per_key']:.1f} | "
            f"{b['rss_per_key'] / a['rss_per_key']:.2f} |")
    lines.append("")
    with open(args.out, "w") as f:
        f.write("\n".join(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
