#!/usr/bin/env python3
"""Persistence benchmark: ringkv vs Debian's redis-server, side by side in one run.

Three sections, every figure measured in this run (nothing typed in):

1. SET throughput with the AOF on (appendfsync everysec / always, -P 1 / -P 16) and a
   baseline with the AOF off; requests/s, p50/p99/max latency, server CPU per request
   (user+sys of the server process from /proc/PID/stat) and the AOF bytes written.
2. Restart time: populate N keys, persist them (SAVE, BGREWRITEAOF, or a plain command log),
   SIGKILL the server, start a new process on the same directory and time spawn -> +PONG
   (polled every 10 ms; -LOADING replies in between). DBSIZE after the restart must equal N.
3. Latency while AOF rewrites run back to back under a GET/SET load, against the same load
   without any rewrite; checks the 10 ms target (p99 and max). A stall observer (a separate
   process that sleeps 1 ms at a time and records how late it wakes) runs alongside each load,
   so a latency spike can be set against what the machine itself did meanwhile.

Servers listen on 127.0.0.1 on a free port, run in a fresh temporary directory, and are stopped
by PID (SIGTERM, then SIGKILL) in `finally` blocks; every wait has a deadline.
Usage: python3 bench/persistence.py --ringkv target/release/ringkv [--quick] [--out FILE]
"""
import argparse, csv, io, os, platform, re, resource, shlex, shutil, signal, socket, statistics, subprocess, sys
import tempfile, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import cpu_model, cpu_seconds, free_port, rss_bytes  # noqa: E402
T0 = time.monotonic()
TARGET_MS = 10.0


def log(msg):
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", file=sys.stderr, flush=True)


def fs_of(path):
    """(mount point, fs type) holding path, from /proc/mounts (longest matching prefix)."""
    path = os.path.realpath(path)
    best = ("?", "?")
    try:
        for line in open("/proc/mounts"):
            parts = line.split()
            mnt, typ = parts[1], parts[2]
            if (path == mnt or path.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best[0]):
                best = (mnt, typ)
    except OSError:
        pass
    return best


def dir_bytes(path):
    total = 0
    for root, _, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


# ---------------------------------------------------------------------------------------------
# A minimal RESP2 client (stdlib only), so long commands can have long socket timeouts.

class RespError(Exception):
    pass


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.f = self.sock.makefile("rb")

    def close(self):
        try:
            self.f.close()
            self.sock.close()
        except OSError:
            pass

    def _read(self):
        line = self.f.readline()
        if not line:
            raise ConnectionError("server closed the connection")
        t, rest = line[:1], line[1:-2]
        if t == b"+":
            return rest.decode()
        if t == b"-":
            return RespError(rest.decode())
        if t == b":":
            return int(rest)
        if t == b"$":
            n = int(rest)
            return None if n < 0 else self.f.read(n + 2)[:-2]
        if t == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise ValueError(f"unexpected reply {line!r}")

    def call(self, *args, timeout=10.0):
        """Reply of one command; an error reply is returned as a RespError, not raised."""
        self.sock.settimeout(timeout)
        self.sock.sendall(resp(*args))
        return self._read()

    def must(self, *args, timeout=10.0):
        r = self.call(*args, timeout=timeout)
        if isinstance(r, RespError):
            raise RespError(f"{' '.join(map(str, args))}: {r}")
        return r

    def info(self, section="persistence"):
        text = self.must("INFO", section)
        out = {}
        for line in text.decode().splitlines():
            if ":" in line and not line.startswith("#"):
                k, v = line.split(":", 1)
                out[k] = v.strip()
        return out


# ---------------------------------------------------------------------------------------------
# Servers

COMMANDS = {}  # label -> command template, for the report


def note_cmd(label, argv, port=None, d=None, text=None):
    text = text or shlex.join(str(a) for a in argv)
    if port is not None:
        text = text.replace(str(port), "$PORT")
    if d is not None:
        text = text.replace(d, "$DIR")
    labels = COMMANDS.setdefault(text, [])
    if label not in labels:
        labels.append(label)


LIVE = set()


class Server:
    """One server process in directory `d` (not owned: several processes can use one dir)."""

    def __init__(self, kind, binary, d, settings, logdir, tag):
        self.kind, self.dir, self.tag = kind, d, tag
        self.port = free_port()
        if kind == "redis":
            argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", d,
                    "--daemonize", "no", "--logfile", "", "--enable-debug-command", "yes"]
        else:
            argv = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", d,
                    "--loglevel", "warning"]
        for name, value in settings:
            argv += [f"--{name}", value]
        self.argv = argv
        note_cmd(f"{kind} {tag}", argv, self.port, d)
        self.logpath = os.path.join(logdir, re.sub(r"[^\w.=-]+", "_", f"{kind}-{tag}-{self.port}") + ".log")
        self.logf = open(self.logpath, "ab")
        self.t_spawn = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=d, stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        LIVE.add(self)

    @property
    def pid(self):
        return self.proc.pid

    def log_tail(self, n=15):
        try:
            with open(self.logpath, "rb") as f:
                return b"".join(f.readlines()[-n:]).decode(errors="replace")
        except OSError:
            return ""

    def wait_ready(self, timeout):
        """Polls PING every 10 ms from spawn; returns (s to first accepted connection, s to +PONG,
        number of -LOADING replies seen)."""
        deadline = self.t_spawn + timeout
        conn, t_accept, loading, last = None, None, 0, None
        try:
            while True:
                now = time.monotonic()
                if now > deadline:
                    raise TimeoutError(f"{self.kind} not ready after {timeout:.0f} s (last reply {last!r})")
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.kind} exited with {self.proc.returncode} while starting:\n"
                                       + self.log_tail())
                if conn is None:
                    try:
                        conn = Conn(self.port, timeout=max(1.0, deadline - now))
                        if t_accept is None:
                            t_accept = time.monotonic() - self.t_spawn
                    except OSError:
                        time.sleep(0.01)
                        continue
                try:
                    r = conn.call("PING", timeout=max(1.0, deadline - time.monotonic()))
                except (OSError, ConnectionError) as e:
                    last = repr(e)
                    conn.close()
                    conn = None
                    time.sleep(0.01)
                    continue
                if r == "PONG":
                    return t_accept, time.monotonic() - self.t_spawn, loading
                last = r
                if isinstance(r, RespError) and str(r).startswith("LOADING"):
                    loading += 1
                time.sleep(0.01)
        finally:
            if conn is not None:
                conn.close()

    def conn(self, timeout=10.0):
        return Conn(self.port, timeout)

    def kill9(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(30)
        self._closed()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                log(f"{self.kind} pid {self.pid} ignored SIGTERM for 60 s; SIGKILL")
                self.proc.kill()
                self.proc.wait(30)
        self._closed()

    def _closed(self):
        LIVE.discard(self)
        self.logf.close()


class Workdir:
    """A fresh temporary directory, removed on exit (with any server still in it stopped)."""

    def __init__(self, base, name):
        self.path = tempfile.mkdtemp(prefix=f"persist-{name}-", dir=base)

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        for s in list(LIVE):
            if s.dir == self.path:
                s.stop()
        shutil.rmtree(self.path, ignore_errors=True)


class Ctx:
    def __init__(self, args):
        self.ringkv = os.path.abspath(args.ringkv)
        self.base = args.tmpdir
        self.logdir = tempfile.mkdtemp(prefix="persist-logs-", dir=args.tmpdir)
        self.quick = args.quick

    def binary(self, kind):
        return self.ringkv if kind == "ringkv" else "redis-server"

    def start(self, kind, d, settings, tag, timeout=60):
        s = Server(kind, self.binary(kind), d, settings, self.logdir, tag)
        try:
            s.wait_ready(timeout)
        except BaseException:
            s.stop()
            raise
        return s


KINDS = ("redis", "ringkv")


def aof_settings(kind, fsync=None, extra=()):
    s = [("appendonly", "yes")]
    if fsync:
        s.append(("appendfsync", fsync))
    s.append(("save", ""))
    if kind == "redis":
        s.append(("aof-use-rdb-preamble", "yes"))
    return s + list(extra)


# ---------------------------------------------------------------------------------------------
# redis-benchmark

def run_benchmark(port, argv_tail, timeout, label=None):
    argv = ["redis-benchmark", "-p", str(port), *map(str, argv_tail)]
    if label:
        note_cmd(label, argv, port)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError(f"redis-benchmark failed ({r.returncode}): {r.stderr.strip()[-500:]}")
    return r.stdout


def parse_csv(out):
    row = list(csv.DictReader(io.StringIO(out)))[0]
    return {"rps": float(row["rps"]), "p50": float(row["p50_latency_ms"]),
            "p99": float(row["p99_latency_ms"]), "max": float(row["max_latency_ms"])}


def parse_verbose(out):
    """Per test (SET, GET, ...) of redis-benchmark's non-quiet output (Redis 7 format): rps,
    avg/min/p50/p95/p99/max from the summary, p99.9 from the percentile distribution (the first
    HDR bucket at or above 99.9 %, i.e. the value printed for 99.902 %)."""
    out = out.replace("\r", "\n")
    tests = {}
    parts = re.split(r"^====== (.+?) ======\s*$", out, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2]):
        res = {}
        m = re.search(r"throughput summary:\s*([\d.]+) requests per second", body)
        if m:
            res["rps"] = float(m.group(1))
        m = re.search(r"avg\s+min\s+p50\s+p95\s+p99\s+max\s*\n\s*([\d.\s]+)", body)
        if m:
            vals = [float(v) for v in m.group(1).split()[:6]]
            res.update(zip(("avg", "min", "p50", "p95", "p99", "max"), vals))
        dist = [(float(p), float(v)) for p, v in
                re.findall(r"^([\d.]+)% <= ([\d.]+) milliseconds", body.split("Cumulative distribution")[0],
                           flags=re.M)]
        above = [v for p, v in dist if p >= 99.9]
        if above:
            res["p999"] = above[0]
        m = re.search(r"(\d+) requests completed in ([\d.]+) seconds", body)
        if m:
            res["requests"], res["seconds"] = int(m.group(1)), float(m.group(2))
        tests[name.strip()] = res
    return tests


# ---------------------------------------------------------------------------------------------
# Section 1: SET throughput with the AOF

def loop_sleeps(pid):
    """Voluntary context switches of the main thread, the event loop of both servers: how often
    it went to sleep waiting for work (or for a disk)."""
    with open(f"/proc/{pid}/task/{pid}/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches:"):
                return int(line.split()[1])
    return 0


def children_cpu():
    """CPU seconds of the waited-for child processes so far (redis-benchmark, once it ended)."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def throughput_cell(ctx, kind, label, fsync, pipeline, n):
    """One redis-benchmark SET run on a fresh server: the parsed figures, or {"error": ...}."""
    with Workdir(ctx.base, f"tput-{kind}") as d:
        settings = (aof_settings(kind, fsync) if fsync else
                    [("appendonly", "no"), ("save", "")])
        tag = f"throughput appendfsync={fsync}" if fsync else "throughput appendonly=no"
        try:
            s = ctx.start(kind, d, settings, tag)
            c0, sleeps0, client0 = cpu_seconds(s.pid), loop_sleeps(s.pid), children_cpu()
            out = run_benchmark(s.port, ["-t", "set", "-n", n, "-c", 50, "-P", pipeline,
                                         "-r", 100000, "-d", 16, "--csv"],
                                timeout=600, label=f"SET throughput -P {pipeline}")
            cpu = cpu_seconds(s.pid) - c0
            r = parse_csv(out)
            r["cpu_us"] = cpu * 1e6 / n
            r["client_cpu_us"] = (children_cpu() - client0) * 1e6 / n
            r["sleeps_per_1k"] = (loop_sleeps(s.pid) - sleeps0) * 1000 / n
            # Give an everysec writer its second before sizing the log.
            time.sleep(1.2 if fsync else 0)
            r["aof_bytes"] = dir_bytes(d) if fsync else None
            s.stop()
        except Exception as e:  # a failure row, not an aborted run
            log(f"{kind} throughput {label} -P {pipeline} FAILED: {e}")
            return {"error": str(e).splitlines()[0][:200]}
    log(f"{kind:6} SET appendfsync={label:13} -P {pipeline:2} n={n}: {r['rps']:>9.0f} req/s "
        f"p50 {r['p50']:.3f} p99 {r['p99']:.3f} max {r['max']:.3f} ms, "
        f"cpu {r['cpu_us']:.2f} us/req, client cpu {r['client_cpu_us']:.2f} us/req, "
        f"loop sleeps {r['sleeps_per_1k']:.0f} per 1k req")
    return r


def section_throughput(ctx, n1, n16, repeat):
    """Each cell `repeat` times, the two servers alternating (redis, ringkv, redis, ...), so a
    slow spell of a shared machine hits both; a row reports each server's median run (by
    req/s) and the ratio of every round."""
    rows = []
    configs = [("no (baseline)", None), ("everysec", "everysec"), ("always", "always")]
    for pipeline, n in ((1, n1), (16, n16)):
        for label, fsync in configs:
            runs = {kind: [] for kind in KINDS}
            for _ in range(repeat):
                for kind in KINDS:
                    runs[kind].append(throughput_cell(ctx, kind, label, fsync, pipeline, n))
            row = {"fsync": label, "P": pipeline, "n": n, "rounds": []}
            for a, b in zip(runs["redis"], runs["ringkv"]):
                if "error" not in a and "error" not in b:
                    row["rounds"].append(b["rps"] / a["rps"])
            for kind in KINDS:
                ok = sorted((r for r in runs[kind] if "error" not in r), key=lambda r: r["rps"])
                row[kind] = ok[(len(ok) - 1) // 2] if len(ok) == len(runs[kind]) else next(
                    r for r in runs[kind] if "error" in r)
            rows.append(row)
    return rows


# ---------------------------------------------------------------------------------------------
# Section 2: restart time

def make_pipe_file(path, n):
    with open(path, "wb") as f:
        chunk = []
        for i in range(n):
            k = b"key:%d" % i
            chunk.append(b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$16\r\n%016d\r\n" % (len(k), k, i))
            if len(chunk) == 100_000:
                f.write(b"".join(chunk))
                chunk = []
        f.write(b"".join(chunk))


def pipe_load(port, path, n, timeout):
    argv = ["redis-cli", "-p", str(port), "--pipe"]
    note_cmd("command-log load (stdin: the RESP stream of SET key:<i> <16 bytes>, i = 0..N-1)", argv, port)
    with open(path, "rb") as f:
        r = subprocess.run(argv, stdin=f, capture_output=True, text=True, timeout=timeout)
    m = re.search(r"errors:\s*(\d+),\s*replies:\s*(\d+)", r.stdout)
    if r.returncode != 0 or not m or int(m.group(1)) != 0 or int(m.group(2)) != n:
        raise RuntimeError(f"redis-cli --pipe: rc {r.returncode}, {r.stdout.strip()[-300:]} {r.stderr.strip()[-300:]}")


def wait_rewrite_done(conn, started_before, timeout):
    """Waits until a rewrite requested when INFO said aof_rewrites == started_before is over."""
    deadline = time.monotonic() + timeout
    while True:
        i = conn.info()
        if (int(i.get("aof_rewrites", 0)) > started_before and i.get("aof_rewrite_in_progress") == "0"
                and i.get("aof_rewrite_scheduled", "0") == "0"):
            if i.get("aof_last_bgrewrite_status", "ok") != "ok":
                raise RuntimeError("aof_last_bgrewrite_status is " + i.get("aof_last_bgrewrite_status"))
            return i
        if time.monotonic() > deadline:
            raise TimeoutError(f"rewrite not finished after {timeout:.0f} s: "
                               f"in_progress={i.get('aof_rewrite_in_progress')} "
                               f"scheduled={i.get('aof_rewrite_scheduled')} rewrites={i.get('aof_rewrites')}")
        time.sleep(0.1)


def restart_one(ctx, kind, fmt, n, pipe_file):
    big = max(600, n / 5_000)  # generous: seconds
    with Workdir(ctx.base, f"restart-{kind}") as d:
        if fmt == "snapshot":
            settings = [("appendonly", "no"), ("save", "")]
        elif fmt == "aof-base":
            settings = aof_settings(kind)
        else:
            settings = aof_settings(kind, extra=[("auto-aof-rewrite-percentage", "0")])
        s = ctx.start(kind, d, settings, f"restart {fmt} (fill)")
        c = s.conn()
        t = time.monotonic()
        if fmt == "aof-log":
            pipe_load(s.port, pipe_file, n, timeout=big)
        else:
            c.must("DEBUG", "POPULATE", n, "key", 16, timeout=big)
        fill_s = time.monotonic() - t
        size = c.must("DBSIZE")
        if size != n:
            raise RuntimeError(f"DBSIZE {size} after loading {n} keys")
        t = time.monotonic()
        if fmt == "snapshot":
            c.must("SAVE", timeout=big)
        elif fmt == "aof-base":
            before = int(c.info().get("aof_rewrites", 0))
            c.must("BGREWRITEAOF")
            wait_rewrite_done(c, before, big)
        else:
            time.sleep(2.0)  # appendfsync everysec: let the last second reach the file
        persist_s = time.monotonic() - t
        c.close()
        s.kill9()
        on_disk = dir_bytes(d)
        log(f"{kind:6} {fmt:8} {n:>10,} keys: filled in {fill_s:.1f} s, persisted in {persist_s:.1f} s, "
            f"{on_disk / 1e6:.1f} MB on disk; SIGKILL, restarting")
        s2 = Server(kind, ctx.binary(kind), d, settings, ctx.logdir, f"restart {fmt} (reload)")
        try:
            t_accept, t_pong, loading = s2.wait_ready(big)
            rss = rss_bytes(s2.pid)
            c = s2.conn(timeout=60)
            dbsize = c.must("DBSIZE")
            still_loading = c.info().get("loading")
            c.close()
        finally:
            s2.stop()
        return {"seconds": t_pong, "accept": t_accept, "loading_replies": loading, "dbsize": dbsize,
                "ok": dbsize == n and still_loading == "0", "disk": on_disk, "rss": rss,
                "persist_s": persist_s}


def section_restart(ctx, sizes):
    rows = []
    pipe_file = None
    try:
        for n in sizes:
            fmts = ["snapshot", "aof-base"] + (["aof-log"] if n == sizes[0] else [])
            for fmt in fmts:
                if fmt == "aof-log" and pipe_file is None:
                    pipe_file = os.path.join(ctx.logdir, "setlog.resp")
                    log(f"writing a RESP stream of {n:,} SETs")
                    make_pipe_file(pipe_file, n)
                row = {"fmt": fmt, "n": n}
                for kind in KINDS:
                    try:
                        r = restart_one(ctx, kind, fmt, n, pipe_file)
                        log(f"{kind:6} {fmt:8} {n:>10,} keys: +PONG after {r['seconds']:.3f} s "
                            f"(accepting after {r['accept']:.3f} s, {r['loading_replies']} -LOADING), "
                            f"DBSIZE {r['dbsize']}{'' if r['ok'] else '  <-- MISMATCH'}")
                    except Exception as e:
                        log(f"{kind} restart {fmt} {n} FAILED: {e}")
                        r = {"error": str(e).splitlines()[0][:200]}
                    row[kind] = r
                rows.append(row)
    finally:
        if pipe_file and os.path.exists(pipe_file):
            os.remove(pipe_file)
    return rows


# ---------------------------------------------------------------------------------------------
# Section 3: latency while AOF rewrites run back to back

# The stall observer: wakes every millisecond and reports, when sent SIGTERM, its worst lateness
# and how many wake-ups were over 5 and over 10 ms late. A thread that was runnable and not run
# for that long (the whole VM paused, or no CPU given to it) shows here whatever the servers do.
STALL_OBSERVER = r'''
import signal, time
stop = False
def on_term(*_):
    global stop
    stop = True
signal.signal(signal.SIGTERM, on_term)
worst = 0.0
over5 = over10 = 0
t = time.monotonic()
while not stop:
    time.sleep(0.001)
    now = time.monotonic()
    late = (now - t - 0.001) * 1000
    worst = max(worst, late)
    over5 += late > 5
    over10 += late > 10
    t = now
print(f"{worst:.3f} {over5} {over10}", flush=True)
'''


class StallObserver:
    """Runs the stall observer for the duration of a `with` block; `.result` is then
    {"worst": ms, "over5": n, "over10": n} (or None if it could not be read)."""

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-c", STALL_OBSERVER], stdout=subprocess.PIPE, text=True)
        self.result = None
        return self

    def __exit__(self, *exc):
        try:
            self.proc.send_signal(signal.SIGTERM)
            out, _ = self.proc.communicate(timeout=10)
            worst, over5, over10 = out.split()
            self.result = {"worst": float(worst), "over5": int(over5), "over10": int(over10)}
        except (subprocess.TimeoutExpired, ValueError):
            self.proc.kill()
            self.proc.wait(10)
        return False


def rewrite_bench_args(m, keys):
    return ["-t", "get,set", "-n", m, "-c", 50, "-P", 1, "-r", keys, "-d", 16, "--precision", 3]


def section_rewrite(ctx, keys, secs, m=None, gap=0.0):
    """Both servers are started and populated first (the idle one costs nothing), so one -n,
    sized from the slower server's calibrated rate, serves both; then each runs its two loads."""
    res = {k: {} for k in KINDS}
    dirs = {k: Workdir(ctx.base, f"rewrite-{k}") for k in KINDS}
    servers, conns = {}, {}
    try:
        rates = []
        for kind in KINDS:
            r = res[kind]
            d = dirs[kind].__enter__()
            try:
                s = ctx.start(kind, d, aof_settings(kind, extra=[("auto-aof-rewrite-percentage", "0")]),
                              "rewrite latency")
                servers[kind] = s
                c = conns[kind] = s.conn()
                c.must("DEBUG", "POPULATE", keys, "key", 16, timeout=max(600, keys / 5_000))
                # One rewrite at rest: its duration, and a base that holds the data set.
                before = int(c.info().get("aof_rewrites", 0))
                t = time.monotonic()
                c.must("BGREWRITEAOF")
                wait_rewrite_done(c, before, 600)
                r["idle_rewrite_s"] = time.monotonic() - t
                log(f"{kind:6} {keys:,} keys; one rewrite at rest took {r['idle_rewrite_s']:.2f} s")
                if m is None:
                    cal = 20_000 if ctx.quick else 100_000
                    out = run_benchmark(s.port, ["-t", "get,set", "-n", cal, "-c", 50, "-P", 1, "-r", keys,
                                                 "-d", 16, "--csv"], timeout=600, label="calibration of -n")
                    rates += [float(row["rps"]) for row in csv.DictReader(io.StringIO(out))]
            except Exception as e:
                log(f"{kind} rewrite latency setup FAILED: {e}")
                r["error"] = str(e).splitlines()[0][:200]
        if m is None:
            rate = min(rates) if rates else 50_000
            m = max(10_000, min(int(rate * secs / 2), 5_000_000))
        log(f"section 3: -n {m} (~{secs:.0f} s per run without rewrites)")
        timeout = max(600, 20 * secs)
        for kind in KINDS:
            r = res[kind]
            if "error" in r:
                continue
            s, c = servers[kind], conns[kind]
            try:
                # Baseline: the same load, no rewrite.
                rw0 = int(c.info().get("aof_rewrites", 0))
                with StallObserver() as obs:
                    out = run_benchmark(s.port, rewrite_bench_args(m, keys), timeout,
                                        label="GET/SET latency (baseline and during rewrites)")
                r["stalls_baseline"] = obs.result
                r["baseline"] = parse_verbose(out)
                r["baseline_rewrites"] = int(c.info().get("aof_rewrites", 0)) - rw0
                log(f"{kind:6} baseline: " + fmt_lat(r["baseline"])
                    + f"; stall observer {fmt_stalls(r['stalls_baseline'])}")
                # The same load while BGREWRITEAOF is re-issued as soon as the previous one ended.
                with StallObserver() as obs:
                    r.update(rewrite_loop(s, c, m, keys, timeout, gap))
                r["stalls_during"] = obs.result
                log(f"{kind:6} during rewrites ({r['completed']} completed, {r['failed']} failed): "
                    + fmt_lat(r["during"]) + f"; stall observer {fmt_stalls(obs.result)}"
                    + (f"; longest slice per rewrite {r['slices_us']} µs" if r["slices_us"] else ""))
            except Exception as e:
                log(f"{kind} rewrite latency FAILED: {e}")
                r["error"] = str(e).splitlines()[0][:200]
            c.close()
            s.stop()
    finally:
        for c in conns.values():
            c.close()
        for w in dirs.values():
            w.__exit__(None, None, None)
    return res, m


def rewrite_loop(s, c, m, keys, timeout, gap=0.0):
    argv = ["redis-benchmark", "-p", str(s.port), *map(str, rewrite_bench_args(m, keys))]
    outf = tempfile.TemporaryFile()
    completed = failed = triggered = errors = 0
    durations = []
    # ringkv: the longest capture slice of each completed rewrite (INFO; Redis forks instead).
    slices_us = []
    pending = None  # (aof_rewrites when triggered, trigger time)
    last_end = 0.0
    rw0 = int(c.info().get("aof_rewrites", 0))
    bench = subprocess.Popen(argv, stdout=outf, stderr=subprocess.STDOUT)
    t_start = time.monotonic()
    deadline = time.monotonic() + timeout
    try:
        while bench.poll() is None:
            if time.monotonic() > deadline:
                raise TimeoutError(f"redis-benchmark still running after {timeout} s")
            i = c.info()
            idle = i.get("aof_rewrite_in_progress") == "0" and i.get("aof_rewrite_scheduled", "0") == "0"
            started = int(i.get("aof_rewrites", 0))
            if pending is not None and idle and started > pending[0]:
                durations.append(time.monotonic() - pending[1])
                if "last_capture_max_slice_us" in i:
                    slices_us.append(int(i["last_capture_max_slice_us"]))
                if i.get("aof_last_bgrewrite_status", "ok") == "ok":
                    completed += 1
                else:
                    failed += 1
                pending = None
                last_end = time.monotonic()
            if pending is None and idle and time.monotonic() - last_end >= gap:
                r = c.call("BGREWRITEAOF")
                if isinstance(r, RespError):
                    errors += 1
                else:
                    triggered += 1
                    pending = (started, time.monotonic())
            time.sleep(0.1)
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait(10)
    run_s = time.monotonic() - t_start
    # The rewrite still running when the load stopped is not counted; wait it out before stopping.
    if pending is not None:
        try:
            wait_rewrite_done(c, pending[0], 600)
        except Exception as e:
            log(f"{s.kind} last rewrite: {e}")
    outf.seek(0)
    out = outf.read().decode(errors="replace")
    outf.close()
    if bench.returncode != 0:
        raise RuntimeError(f"redis-benchmark failed ({bench.returncode}): {out.strip()[-300:]}")
    return {"during": parse_verbose(out), "completed": completed, "failed": failed, "triggered": triggered,
            "trigger_errors": errors, "run_s": run_s, "info_rewrites": int(c.info().get("aof_rewrites", 0)) - rw0,
            "rewrite_s": statistics.median(durations) if durations else None, "slices_us": slices_us}


def fmt_stalls(st):
    if not st:
        return "not read"
    return f"worst {st['worst']:.1f} ms, {st['over5']} over 5 ms, {st['over10']} over 10 ms"


def fmt_lat(tests):
    return "; ".join(f"{t} {v.get('rps', 0):.0f} req/s p50 {v.get('p50', 0):.3f} p99 {v.get('p99', 0):.3f} "
                     f"p99.9 {v.get('p999', 0):.3f} max {v.get('max', 0):.3f} ms" for t, v in tests.items())


# ---------------------------------------------------------------------------------------------
# Report

def machine():
    mem = "?"
    try:
        for line in open("/proc/meminfo"):
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1048576:.0f} GiB RAM"
    except OSError:
        pass
    return f"{cpu_model()}, {os.cpu_count()} cores, {mem}, Linux {platform.release()}"


def loadavg():
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "?"


LOAD_AT_START = loadavg()


def tool_version(argv):
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip()
    except Exception as e:
        return f"? ({e})"


def ratio(a, b):
    try:
        return f"{b / a:.2f}" if a else "–"
    except TypeError:
        return "–"


def f3(x):
    return "–" if x is None else f"{x:.3f}"


def err_cell(r):
    return f"FAILED: {r['error']}" if "error" in r else None


def failed_row(lead, a, b, fmt, key, rest):
    """A table row for a pair where a side failed: `lead` cells, each side's error (or its `key`
    value formatted with `fmt`), then the `rest` cells."""
    return f"| {lead} | {err_cell(a) or fmt % a[key]} | {err_cell(b) or fmt % b[key]} | {rest} |"


def report(args, ctx, sizes, n1, n16, tput, restart, rw, rw_keys, rw_m, secs, gap):
    mnt, fstype = fs_of(ctx.base)
    L = [
        "# ringkv vs redis-server — persistence",
        "",
        f"Produced by `bench/persistence.sh{' --quick' if args.quick else ''}` "
        f"({'quick smoke sizes' if args.quick else 'full sizes'}) on "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; every figure below was measured in that run.",
        "",
        f"- Machine: {machine()}.",
        f"- redis: `{tool_version(['redis-server', '--version'])}`; "
        f"`{tool_version(['redis-benchmark', '--version'])}`.",
        f"- ringkv: `{tool_version([ctx.ringkv, '--version'])}` ({ctx.ringkv}).",
        f"- Data directories: fresh temporary directories under `{ctx.base}` (filesystem {fstype} "
        f"mounted on `{mnt}`); fsync costs are this disk's.",
        "- Both servers run one at a time with identical settings, on 127.0.0.1 and a free port; "
        "redis-benchmark runs on the same machine and competes for the same cores.",
        f"- 1-minute load average at start / end of the run: {LOAD_AT_START} / {loadavg()} (anything else "
        "running on the machine shows up in the tail latencies).",
        "- Ratios are ringkv / redis.",
        "",
    ]
    if tput is not None:
        L += [
            "## 1. SET throughput with the AOF on",
            "",
            f"`redis-benchmark -t set -c 50 -r 100000 -d 16 --csv`, -n {n1:,} at -P 1 and {n16:,} at -P 16; "
            "each run is a fresh server in an empty directory. Every cell ran "
            f"{args.repeat} time(s), the two servers alternating; the row shows each server's median run "
            "(by req/s; its latency, CPU and AOF figures are that run's), and `ratio per round` the "
            "ringkv / redis throughput of each round, which shows how much the machine varied. Server CPU = user+sys of the server "
            "process (/proc/PID/stat) / requests. AOF bytes = size of the data directory after the run. "
            "Throughput: higher is better; latency and CPU: lower is better.",
            "",
            "| appendfsync | -P | redis req/s | ringkv req/s | ratio (higher better) | redis p50 / p99 / max ms | "
            "ringkv p50 / p99 / max ms | p99 ratio (lower better) | redis CPU µs/req | ringkv CPU µs/req | "
            "CPU ratio (lower better) | redis / ringkv client CPU µs/req | redis / ringkv loop sleeps per 1k req | "
            "redis / ringkv AOF MB | ratio per round |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in tput:
            a, b = row["redis"], row["ringkv"]
            if "error" in a or "error" in b:
                L.append(failed_row(f"{row['fsync']} | {row['P']}", a, b, "%.0f", "rps", " | ".join("–" * 11)))
                continue
            disk = ("–" if a["aof_bytes"] is None else
                    f"{a['aof_bytes'] / 1e6:.1f} / {b['aof_bytes'] / 1e6:.1f}")
            L.append(
                f"| {row['fsync']} | {row['P']} | {a['rps']:.0f} | {b['rps']:.0f} | {ratio(a['rps'], b['rps'])} | "
                f"{f3(a['p50'])} / {f3(a['p99'])} / {f3(a['max'])} | {f3(b['p50'])} / {f3(b['p99'])} / {f3(b['max'])} | "
                f"{ratio(a['p99'], b['p99'])} | {a['cpu_us']:.2f} | {b['cpu_us']:.2f} | "
                f"{ratio(a['cpu_us'], b['cpu_us'])} | {a['client_cpu_us']:.2f} / {b['client_cpu_us']:.2f} | "
                f"{a['sleeps_per_1k']:.0f} / {b['sleeps_per_1k']:.0f} | {disk} | "
                f"{', '.join(f'{x:.2f}' for x in row['rounds'])} |")
        L.append("")
    if restart is not None:
        L += [
            "## 2. Restart time",
            "",
            "Fill N keys, persist them, SIGKILL the server, start a new process on the same directory and "
            "time spawn → first `+PONG` (PING polled every 10 ms; `-LOADING` replies until the data set is "
            "loaded). Formats:",
            "",
            "- `snapshot`: `--appendonly no --save \"\"`, `DEBUG POPULATE N key 16`, `SAVE` "
            "(redis: dump.rdb, ringkv: dump.snap, the default dbfilename of each).",
            "- `aof-base`: `--appendonly yes --save \"\"`, `DEBUG POPULATE N key 16`, `BGREWRITEAOF`, wait for "
            "aof_rewrite_in_progress:0 and aof_rewrite_scheduled:0; the restart loads the base written by the rewrite.",
            "- `aof-log`: `--appendonly yes --save \"\" --auto-aof-rewrite-percentage 0`, N × `SET key:<i> "
            "<16-byte value>` through `redis-cli --pipe`, 2 s pause (appendfsync everysec); the restart "
            "replays the command log.",
            "",
            "Restart time: lower is better. `ok` = DBSIZE after the restart equals N and INFO says loading:0. "
            "Accepting = time until the port accepted a connection. RSS = server RSS after loading.",
            "",
            "| format | N | redis s | ringkv s | ratio (lower better) | redis / ringkv accepting s | "
            "redis / ringkv DBSIZE | ok | redis / ringkv on disk MB | redis / ringkv RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in restart:
            a, b = row["redis"], row["ringkv"]
            if "error" in a or "error" in b:
                L.append(failed_row(f"{row['fmt']} | {row['n']:,}", a, b, "%.3f", "seconds",
                                    "– | – | – | **FAIL** | – | –"))
                continue
            ok = "yes" if a["ok"] and b["ok"] else (
                "**FAIL** (" + ", ".join(k for k, v in (("redis", a), ("ringkv", b)) if not v["ok"]) + ")")
            L.append(
                f"| {row['fmt']} | {row['n']:,} | {a['seconds']:.3f} | {b['seconds']:.3f} | "
                f"{ratio(a['seconds'], b['seconds'])} | {a['accept']:.3f} / {b['accept']:.3f} | "
                f"{a['dbsize']:,} / {b['dbsize']:,} | {ok} | {a['disk'] / 1e6:.1f} / {b['disk'] / 1e6:.1f} | "
                f"{a['rss'] / 1e6:.0f} / {b['rss'] / 1e6:.0f} |")
        L.append("")
    if rw is not None:
        L += [
            "## 3. Latency while AOF rewrites run",
            "",
            f"`--appendonly yes --save \"\" --auto-aof-rewrite-percentage 0`, `DEBUG POPULATE {rw_keys} key 16`, "
            f"one BGREWRITEAOF at rest, then `redis-benchmark -t get,set -n {rw_m} -c 50 -P 1 -r {rw_keys} -d 16 "
            "--precision 3` twice: once without any rewrite (baseline), once while a loop polls INFO every "
            "100 ms and issues BGREWRITEAOF as soon as the previous rewrite is over"
            f"{f' and {gap:g} s have passed' if gap else ''} (bounded by the "
            "benchmark's end; a rewrite still running then is not counted). -n was calibrated on both "
            "populated servers so the slower one runs about "
            f"{secs:g} s without rewrites. redis-benchmark runs SET "
            "then GET, -n requests each. Note: DEBUG POPULATE names keys `key:<i>` while redis-benchmark "
            "uses `key:<12 digits>`, so GETs hit only keys the SET phase wrote. p50/p99/max come from "
            "redis-benchmark's summary, p99.9 from its percentile distribution (first bucket ≥ 99.9 %). "
            "Latency: lower is better; the target is no latency above "
            f"{TARGET_MS:.0f} ms during a rewrite. A server whose rewrites are shorter does more of them "
            "in the same run, so it also pays the start and finish of a rewrite more often: compare "
            "rewrites/s along with the percentiles.",
            "",
        ]
        L += ["| server | rewrites completed during the run | failed | run length s | rewrites/s | "
              "median rewrite time under load s | one rewrite at rest s | longest event-loop slice per "
              "rewrite, max / median ms (ringkv's capture; Redis forks) |", "|---|---|---|---|---|---|---|---|"]
        for kind in KINDS:
            r = rw[kind]
            if "during" not in r:
                L.append(f"| {kind} | FAILED: {r.get('error', 'no data')} | – | – | – | – | – | – |")
                continue
            sl = r.get("slices_us") or []
            slices = f"{max(sl) / 1000:.2f} / {statistics.median(sl) / 1000:.2f}" if sl else "–"
            L.append(f"| {kind} | {r['completed']} | {r['failed']} (BGREWRITEAOF errors: {r['trigger_errors']}) | "
                     f"{r['run_s']:.1f} | {r['completed'] / r['run_s']:.2f} | "
                     f"{f3(r['rewrite_s'])} | {f3(r.get('idle_rewrite_s'))} | {slices} |")
        L += ["", "| test | run | redis req/s | ringkv req/s | redis p50 / p99 / p99.9 / max ms | "
              "ringkv p50 / p99 / p99.9 / max ms | p99 ratio (lower better) | max ratio (lower better) |", "|---|---|---|---|---|---|---|---|"]
        for test in ("SET", "GET"):
            for run in ("baseline", "during"):
                a = rw["redis"].get(run, {}).get(test)
                b = rw["ringkv"].get(run, {}).get(test)
                if not a or not b:
                    L.append(f"| {test} | {run} | – | – | – | – | – | – |")
                    continue
                lat = lambda v: f"{f3(v.get('p50'))} / {f3(v.get('p99'))} / {f3(v.get('p999'))} / {f3(v.get('max'))}"
                L.append(f"| {test} | {'during rewrites' if run == 'during' else 'no rewrite'} | "
                         f"{a.get('rps', 0):.0f} | {b.get('rps', 0):.0f} | {lat(a)} | {lat(b)} | "
                         f"{ratio(a.get('p99'), b.get('p99'))} | {ratio(a.get('max'), b.get('max'))} |")
        L += ["", "Stall observer (a separate process waking every 1 ms; how late it woke, whatever the servers "
              "were doing): a latency above the observer's worst lateness in the same run is the server's own.", "",
              "| server | run | observer worst lateness ms | wake-ups > 5 ms late | wake-ups > 10 ms late |",
              "|---|---|---|---|---|"]
        for kind in KINDS:
            for run in ("baseline", "during"):
                st = rw[kind].get(f"stalls_{run}")
                name = "during rewrites" if run == "during" else "no rewrite"
                if not st:
                    L.append(f"| {kind} | {name} | – | – | – |")
                    continue
                L.append(f"| {kind} | {name} | {st['worst']:.1f} | {st['over5']} | {st['over10']} |")
        for kind in KINDS:
            if rw[kind].get("baseline_rewrites"):
                L.append(f"\n**{kind} ran {rw[kind]['baseline_rewrites']} rewrite(s) during the baseline run "
                         "although automatic rewrites were off.**")
        L += ["", f"Target check (during rewrites, < {TARGET_MS:.0f} ms):", ""]
        for kind in KINDS:
            d = rw[kind].get("during")
            if not d:
                L.append(f"- {kind}: no measurement ({rw[kind].get('error', 'failed')}).")
                continue
            parts = []
            for test in ("SET", "GET"):
                v = d.get(test, {})
                if "max" not in v:
                    parts.append(f"{test}: not parsed")
                    continue
                parts.append(f"{test} p99 {v['p99']:.3f} ms {'under' if v['p99'] < TARGET_MS else '**OVER**'}, "
                             f"max {v['max']:.3f} ms {'under' if v['max'] < TARGET_MS else '**OVER**'}")
            extra = "" if rw[kind]["completed"] else " (**no rewrite completed during the run**)"
            st = rw[kind].get("stalls_during")
            if st:
                extra += f" (stall observer in the same run: worst {st['worst']:.1f} ms late)"
            L.append(f"- {kind}: " + "; ".join(parts) + extra + ".")
        L.append("")
    L += ["## Commands", "", "`$PORT` is a free port picked per start, `$DIR` a fresh temporary directory "
          "(a restart reuses the directory of the killed process).", ""]
    for cmd, labels in COMMANDS.items():
        L.append(f"- {'; '.join(labels)}: `{cmd}`")
    L += ["", f"Parameters: `{' '.join(shlex.quote(a) for a in sys.argv[1:])}`; restart sizes "
          f"{', '.join(f'{n:,}' for n in sizes)}; rewrite-latency keys {rw_keys:,}, -n {rw_m:,}.", ""]
    return "\n".join(L)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ringkv", required=True, help="path to the ringkv release binary")
    ap.add_argument("--out", default="bench/PERSISTENCE.md")
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run, a few minutes)")
    ap.add_argument("--sections", default="1,2,3", help="comma-separated subset of 1,2,3")
    ap.add_argument("--tmpdir", default=tempfile.gettempdir(), help="where data directories are made")
    ap.add_argument("--rewrite-seconds", type=float, default=None,
                    help="target length of each section-3 benchmark run (default 20, --quick 3)")
    ap.add_argument("--rewrite-requests", type=int, default=None,
                    help="section-3 redis-benchmark -n (default: calibrated to --rewrite-seconds)")
    ap.add_argument("--rewrite-gap", type=float, default=0.0,
                    help="section 3: minimum seconds between the end of a rewrite and the next "
                         "BGREWRITEAOF (default 0: back to back)")
    ap.add_argument("--repeat", type=int, default=None,
                    help="section 1: runs per cell, servers alternating (default 3, --quick 1)")
    ap.add_argument("--keep-logs", action="store_true", help="keep the server logs directory")
    args = ap.parse_args()
    sections = {s.strip() for s in args.sections.split(",")}
    for tool in ("redis-server", "redis-benchmark", "redis-cli"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found (apt-get install redis-server redis-tools)")
    if not os.access(args.ringkv, os.X_OK):
        sys.exit(f"{args.ringkv} is not an executable")
    q = 10 if args.quick else 1
    n1, n16 = 200_000 // q, 1_000_000 // q
    sizes = [100_000, 300_000] if args.quick else [1_000_000, 10_000_000]
    rw_keys = 200_000 if args.quick else 2_000_000
    rw_secs = args.rewrite_seconds or (3.0 if args.quick else 20.0)
    args.repeat = max(1, args.repeat or (1 if args.quick else 3))

    # SIGTERM/SIGHUP: unwind through the finally blocks so no server is left behind.
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda signum, _: sys.exit(128 + signum))
    ctx = Ctx(args)
    tput = restart = rw = None
    rw_m = 0
    try:
        if "1" in sections:
            log(f"section 1: SET throughput (n {n1} at -P 1, {n16} at -P 16)")
            tput = section_throughput(ctx, n1, n16, args.repeat)
        if "2" in sections:
            log(f"section 2: restart time, sizes {sizes}")
            restart = section_restart(ctx, sizes)
        if "3" in sections:
            # -n: each of SET and GET lasts about rw_secs / 2 on the slower server without rewrites
            # (calibrated on both populated servers), one -n for both.
            log(f"section 3: latency during rewrites, {rw_keys} keys")
            rw, rw_m = section_rewrite(ctx, rw_keys, rw_secs, args.rewrite_requests, args.rewrite_gap)
    finally:
        for s in list(LIVE):
            log(f"stopping leftover {s.kind} pid {s.pid}")
            s.stop()
        if args.keep_logs:
            log(f"server logs kept in {ctx.logdir}")
        else:
            shutil.rmtree(ctx.logdir, ignore_errors=True)
    text = report(args, ctx, sizes, n1, n16, tput, restart, rw, rw_keys, rw_m, rw_secs, args.rewrite_gap)
    with open(args.out, "w") as f:
        f.write(text)
    log(f"wrote {args.out}")


if __name__ == "__main__":
    sys.exit(main())
