//! INFO: the text report of server state, in Redis's exact format so that monitoring tools,
//! redis-cli and client libraries that parse it (`field:value` lines under `# Section` headers,
//! sections separated by a blank line, CRLF line ends) work unchanged.
//!
//! Only sections backed by real state are produced; a section ringkv has no state for (modules)
//! is simply absent, as an unknown section is in Redis, rather than filled with made-up numbers. `replication` says what is true of every ringkv node: it takes writes and has
//! no Redis-style replicas (cluster replication is reported under `cluster`). Process facts Redis
//! reads with libc calls (RSS, CPU time, page size, clock ticks) come from /proc here, so the
//! command crate needs no libc binding.

use crate::ctx::Ctx;
use crate::shared::Shared;
use ringkv_engine::lru;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The Redis version ringkv reports: clients switch features on `redis_version`, and ringkv
/// implements Redis 7.2's command semantics.
pub const REDIS_COMPAT_VERSION: &str = "7.2.0";

/// Keys still waiting to be freed by the background lazy-free thread (FLUSHALL/FLUSHDB ASYNC).
/// Process-wide because the lazy-free worker is.
pub static LAZYFREE_PENDING_OBJECTS: AtomicU64 = AtomicU64::new(0);
/// Keys freed by the background lazy-free thread since start (or CONFIG RESETSTAT).
pub static LAZYFREED_OBJECTS: AtomicU64 = AtomicU64::new(0);

/// Sections in report order, and whether `INFO` / `INFO default` includes them (`all` and
/// `everything` include every one: `commandstats` is only there, as in Redis).
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

/// Renders one INFO section from the server's shared state.
type SectionFn = fn(&Shared) -> String;

/// Sections that, like a Redis module's, are outside the default set: produced only when named.
const NAMED_ONLY: &[(&str, SectionFn)] = &[
    ("ratelimit", crate::ratelimit::info_section),
    ("ids", crate::ids::info_section),
];

/// The INFO reply text for the requested section names (`INFO` arguments; empty = default).
/// Unknown names select nothing, so `INFO nosuchsection` is an empty string, as in Redis.
pub fn generate(ctx: &mut Ctx<'_>, requested: &[&[u8]]) -> String {
    let asked = |name: &str| {
        requested
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name.as_bytes()))
    };
    let all = asked("all") || asked("everything");
    let default = requested.is_empty() || asked("default");
    let wanted: Vec<&str> = SECTIONS
        .iter()
        .filter(|(name, in_default)| all || (default && *in_default) || asked(name))
        .map(|(name, _)| *name)
        .collect();
    let mut out = String::with_capacity(2048);
    for (i, section) in wanted.iter().enumerate() {
        if i > 0 {
            out.push_str("\r\n");
        }
        match *section {
            "server" => server(ctx, &mut out),
            "clients" => clients(ctx, &mut out),
            "memory" => memory(ctx, &mut out),
            "persistence" => {
                out.push_str("# Persistence\r\n");
                crate::persistence::info_section(ctx.store, ctx.shared, &mut out);
            }
            "stats" => stats(ctx, &mut out),
            "cpu" => cpu(&mut out),
            "cluster" => {
                out.push_str("# Cluster\r\n");
                match ctx.shared.cluster.get() {
                    Some(c) => {
                        field(&mut out, "cluster_enabled", 1);
                        out.push_str(&c.info_section());
                    }
                    None => field(&mut out, "cluster_enabled", 0),
                }
            }
            "keyspace" => keyspace(ctx, &mut out),
            "replication" => {
                out.push_str("# Replication\r\n");
                field(&mut out, "role", "master");
                field(&mut out, "connected_slaves", 0);
            }
            "commandstats" => commandstats(ctx, &mut out),
            "latencystats" => crate::latency::info_section(ctx, &mut out),
            "errorstats" => errorstats(ctx, &mut out),
            _ => {}
        }
    }
    for (name, section) in NAMED_ONLY {
        if requested
            .iter()
            .any(|r| r.eq_ignore_ascii_case(name.as_bytes()))
        {
            if !out.is_empty() {
                out.push_str("\r\n");
            }
            out.push_str(&section(ctx.shared));
        }
    }
    out
}

/// `cmdstat_<name>:calls=…,usec=…,usec_per_call=…,rejected_calls=…,failed_calls=…` for every
/// command that ran or was refused since start (or CONFIG RESETSTAT).
fn commandstats(ctx: &mut Ctx<'_>, out: &mut String) {
    out.push_str("# Commandstats\r\n");
    let names = ctx.shared.commands.stat_names();
    for (name, s) in names.iter().zip(&ctx.store.common.command_stats) {
        if s.calls == 0 && s.rejected == 0 && s.failed == 0 {
            continue;
        }
        let per_call = if s.calls == 0 {
            0.0
        } else {
            s.usec as f64 / s.calls as f64
        };
        let _ = write!(
            out,
            "cmdstat_{name}:calls={},usec={},usec_per_call={per_call:.2},rejected_calls={},failed_calls={}\r\n",
            s.calls, s.usec, s.rejected, s.failed
        );
    }
}

/// `errorstat_<CODE>:count=…` per error code replied since start (or CONFIG RESETSTAT).
fn errorstats(ctx: &mut Ctx<'_>, out: &mut String) {
    out.push_str("# Errorstats\r\n");
    for (code, count) in &ctx.store.common.error_stats {
        let _ = write!(out, "errorstat_{code}:count={count}\r\n");
    }
}

/// Appends one `field:value\r\n` line.
pub(crate) fn field(out: &mut String, name: &str, value: impl std::fmt::Display) {
    let _ = write!(out, "{name}:{value}\r\n");
}

fn server(ctx: &mut Ctx<'_>, out: &mut String) {
    let info = &ctx.shared.info;
    let now_ms = ctx.now_ms();
    let uptime = ((now_ms - info.started_ms).max(0) / 1000) as u64;
    let hz = ctx.shared.config.read().hz;
    out.push_str("# Server\r\n");
    field(out, "redis_version", REDIS_COMPAT_VERSION);
    field(out, "ringkv_version", info.version);
    field(out, "redis_mode", "standalone");
    field(out, "os", os_name());
    field(out, "arch_bits", usize::BITS);
    field(out, "multiplexing_api", multiplexing_api());
    field(out, "process_id", info.pid);
    field(out, "process_supervised", "no");
    field(out, "run_id", &info.run_id);
    field(out, "tcp_port", info.tcp_port);
    field(out, "server_time_usec", ctx.shared.clock.now_us());
    field(out, "uptime_in_seconds", uptime);
    field(out, "uptime_in_days", uptime / 86_400);
    field(out, "hz", hz);
    field(out, "configured_hz", hz);
    field(out, "lru_clock", lru::lru_clock(now_ms));
    field(out, "executable", &info.executable);
    field(out, "config_file", &info.config_file);
    // ringkv's I/O threads are the runtime's workers; Redis's threaded-I/O mode does not exist.
    field(out, "io_threads_active", 0);
}

fn clients(ctx: &mut Ctx<'_>, out: &mut String) {
    let blocked = ctx.shared.blocked.lock().len() + ctx.shared.pause.held();
    out.push_str("# Clients\r\n");
    field(out, "connected_clients", ctx.shared.clients.len());
    field(out, "maxclients", ctx.shared.config.read().maxclients);
    field(out, "blocked_clients", blocked);
}

fn memory(ctx: &mut Ctx<'_>, out: &mut String) {
    let used = ctx.shared.track_memory(ctx.store.used_memory());
    // INFO itself refreshes the peak, as Redis does, so peak >= used always holds in the report.
    let peak = ctx
        .shared
        .stats
        .used_memory_peak
        .load(Ordering::Relaxed)
        .max(used);
    let rss = resident_bytes();
    let (maxmemory, policy) = {
        let cfg = ctx.shared.config.read();
        (cfg.maxmemory, cfg.maxmemory_policy.as_str())
    };
    let system = total_system_memory();
    out.push_str("# Memory\r\n");
    field(out, "used_memory", used);
    field(out, "used_memory_human", bytes_to_human(used as u64));
    field(out, "used_memory_rss", rss);
    field(out, "used_memory_rss_human", bytes_to_human(rss as u64));
    field(out, "used_memory_peak", peak);
    field(out, "used_memory_peak_human", bytes_to_human(peak as u64));
    let peak_perc = if peak == 0 {
        0.0
    } else {
        used as f64 * 100.0 / peak as f64
    };
    field(
        out,
        "used_memory_peak_perc",
        format_args!("{peak_perc:.2}%"),
    );
    field(out, "total_system_memory", system);
    field(out, "total_system_memory_human", bytes_to_human(system));
    let (scripts, scripts_bytes, lua_bytes) = ctx.shared.scripting.memory();
    field(out, "used_memory_lua", lua_bytes);
    field(
        out,
        "used_memory_lua_human",
        bytes_to_human(lua_bytes as u64),
    );
    field(out, "used_memory_scripts", scripts_bytes);
    field(
        out,
        "used_memory_scripts_human",
        bytes_to_human(scripts_bytes as u64),
    );
    field(out, "number_of_cached_scripts", scripts);
    field(out, "maxmemory", maxmemory);
    field(out, "maxmemory_human", bytes_to_human(maxmemory));
    field(out, "maxmemory_policy", policy);
    let frag = if used == 0 {
        0.0
    } else {
        rss as f64 / used as f64
    };
    field(out, "mem_fragmentation_ratio", format_args!("{frag:.2}"));
    field(out, "mem_fragmentation_bytes", rss as i64 - used as i64);
    field(out, "mem_allocator", "mimalloc");
    field(
        out,
        "lazyfree_pending_objects",
        LAZYFREE_PENDING_OBJECTS.load(Ordering::Relaxed),
    );
    field(
        out,
        "lazyfreed_objects",
        LAZYFREED_OBJECTS.load(Ordering::Relaxed),
    );
}

fn stats(ctx: &mut Ctx<'_>, out: &mut String) {
    let s = &ctx.shared.stats;
    let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let ks = &ctx.store.common.stats;
    out.push_str("# Stats\r\n");
    field(
        out,
        "total_connections_received",
        load(&s.total_connections_received),
    );
    field(
        out,
        "total_commands_processed",
        load(&s.total_commands_processed),
    );
    field(
        out,
        "instantaneous_ops_per_sec",
        s.ops_samples.lock().per_sec(),
    );
    field(out, "total_net_input_bytes", load(&s.total_net_input_bytes));
    field(
        out,
        "total_net_output_bytes",
        load(&s.total_net_output_bytes),
    );
    field(out, "rejected_connections", load(&s.rejected_connections));
    field(out, "expired_keys", ks.expired_keys);
    // Redis counts active-expiry cycles that stopped early with keys still due under this name.
    field(
        out,
        "expired_time_cap_reached_count",
        ks.expire_cycles_budget_hit,
    );
    field(out, "evicted_keys", ks.evicted_keys);
    field(out, "keyspace_hits", ks.keyspace_hits);
    field(out, "keyspace_misses", ks.keyspace_misses);
    let (channels, patterns) = {
        let ps = ctx.shared.pubsub.lock();
        (ps.channel_count(), ps.pattern_count())
    };
    field(out, "pubsub_channels", channels);
    field(out, "pubsub_patterns", patterns);
    field(out, "total_error_replies", load(&s.total_error_replies));
    field(
        out,
        "client_query_buffer_limit_disconnections",
        load(&s.client_query_buffer_limit_disconnections),
    );
    // ringkv-specific counters (Redis only logs these events).
    field(out, "protocol_errors", load(&s.protocol_errors));
    field(
        out,
        "timeout_disconnections",
        load(&s.timeout_disconnections),
    );
    crate::event_loop::info(out);
}

fn cpu(out: &mut String) {
    let t = cpu_times();
    out.push_str("# CPU\r\n");
    field(out, "used_cpu_sys", format_args!("{:.6}", t.sys));
    field(out, "used_cpu_user", format_args!("{:.6}", t.user));
    field(
        out,
        "used_cpu_sys_children",
        format_args!("{:.6}", t.children_sys),
    );
    field(
        out,
        "used_cpu_user_children",
        format_args!("{:.6}", t.children_user),
    );
}

fn keyspace(ctx: &mut Ctx<'_>, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    // In cluster mode the store has two more databases than configured: the hidden version
    // metadata and hints, which are not client databases.
    let visible = ctx.shared.config.read().databases as usize;
    for i in 0..ctx.store.db_count().min(visible) {
        let db = ctx.store.db_ref(i);
        if db.is_empty() {
            continue;
        }
        // avg_ttl: Redis estimates it from active-expiry samples; ringkv does not sample TTLs.
        let _ = write!(
            out,
            "db{i}:keys={},expires={},avg_ttl=0\r\n",
            db.len(),
            db.expires_len()
        );
    }
}

/// Redis `bytesToHuman`: "512B", "1.00K", "1.50M", "2.00G", ...
pub fn bytes_to_human(n: u64) -> String {
    const K: u64 = 1024;
    let d = n as f64;
    if n < K {
        format!("{n}B")
    } else if n < K * K {
        format!("{:.2}K", d / K as f64)
    } else if n < K * K * K {
        format!("{:.2}M", d / (K * K) as f64)
    } else if n < K * K * K * K {
        format!("{:.2}G", d / (K * K * K) as f64)
    } else if n < K * K * K * K * K {
        format!("{:.2}T", d / (K * K * K * K) as f64)
    } else if n < K * K * K * K * K * K {
        format!("{:.2}P", d / (K * K * K * K * K) as f64)
    } else {
        format!("{n}B")
    }
}

/// `os` as Redis prints it from uname: "Linux 6.1.0 x86_64".
fn os_name() -> &'static str {
    static OS: OnceLock<String> = OnceLock::new();
    OS.get_or_init(|| {
        let read = |p: &str| {
            std::fs::read_to_string(p)
                .map(|s| s.trim().to_string())
                .unwrap_or_default()
        };
        let sysname = match read("/proc/sys/kernel/ostype") {
            s if s.is_empty() => capitalize(std::env::consts::OS),
            s => s,
        };
        let release = read("/proc/sys/kernel/osrelease");
        let mut s = sysname;
        if !release.is_empty() {
            s.push(' ');
            s.push_str(&release);
        }
        s.push(' ');
        s.push_str(std::env::consts::ARCH);
        s
    })
}

fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The event notification mechanism tokio's reactor uses on this platform.
fn multiplexing_api() -> &'static str {
    if cfg!(any(target_os = "linux", target_os = "android")) {
        "epoll"
    } else if cfg!(any(
        target_os = "macos",
        target_os = "freebsd",
        target_os = "openbsd",
        target_os = "netbsd"
    )) {
        "kqueue"
    } else {
        "unknown"
    }
}

/// A value from the process's ELF auxiliary vector (what `sysconf` reads for the page size and
/// clock tick rate): pairs of native-endian machine words, terminated by type 0.
fn auxv(kind: u64) -> Option<u64> {
    const WORD: usize = std::mem::size_of::<usize>();
    let data = std::fs::read("/proc/self/auxv").ok()?;
    let word = |b: &[u8]| -> u64 {
        let mut a = [0u8; WORD];
        a.copy_from_slice(b);
        usize::from_ne_bytes(a) as u64
    };
    data.chunks_exact(2 * WORD).find_map(|pair| {
        let (k, v) = pair.split_at(WORD);
        (word(k) == kind).then(|| word(v))
    })
}

fn page_size() -> u64 {
    const AT_PAGESZ: u64 = 6;
    static PAGE: OnceLock<u64> = OnceLock::new();
    *PAGE.get_or_init(|| auxv(AT_PAGESZ).filter(|&p| p > 0).unwrap_or(4096))
}

fn clock_ticks_per_sec() -> u64 {
    const AT_CLKTCK: u64 = 17;
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| auxv(AT_CLKTCK).filter(|&t| t > 0).unwrap_or(100))
}

/// Resident set size: /proc/self/statm resident pages times the page size (0 if unavailable).
pub fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages.saturating_mul(page_size()) as usize)
        .unwrap_or(0)
}

/// MemTotal from /proc/meminfo in bytes (0 if unavailable).
fn total_system_memory() -> u64 {
    static TOTAL: OnceLock<u64> = OnceLock::new();
    *TOTAL.get_or_init(|| {
        std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|s| {
                let line = s.lines().find(|l| l.starts_with("MemTotal:"))?;
                let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
                Some(kb.saturating_mul(1024))
            })
            .unwrap_or(0)
    })
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct CpuTimes {
    user: f64,
    sys: f64,
    children_user: f64,
    children_sys: f64,
}

/// CPU seconds from /proc/self/stat (utime, stime, cutime, cstime: fields 14-17, in clock ticks).
fn cpu_times() -> CpuTimes {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| parse_stat(&s, clock_ticks_per_sec()))
        .unwrap_or_default()
}

fn parse_stat(stat: &str, ticks: u64) -> Option<CpuTimes> {
    // The command name (field 2) is in parentheses and may contain spaces: start after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    // `rest` starts at field 3 (state), so field N is index N - 3.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let secs = |n: usize| -> Option<f64> {
        let v: f64 = f.get(n - 3)?.parse().ok()?;
        Some(v / ticks as f64)
    };
    Some(CpuTimes {
        user: secs(14)?,
        sys: secs(15)?,
        children_user: secs(16)?,
        children_sys: secs(17)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_sizes_follow_redis() {
        assert_eq!(bytes_to_human(0), "0B");
        assert_eq!(bytes_to_human(1023), "1023B");
        assert_eq!(bytes_to_human(1024), "1.00K");
        assert_eq!(bytes_to_human(1536), "1.50K");
        assert_eq!(bytes_to_human(1024 * 1024), "1.00M");
        assert_eq!(bytes_to_human(10 * 1024 * 1024 * 1024), "10.00G");
    }

    #[test]
    fn stat_parsing_handles_spaces_in_the_name() {
        let line = "42 (ring kv) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 3 1 20 0 4 0 1 0 0";
        let t = parse_stat(line, 100).expect("parsed");
        assert_eq!(
            t,
            CpuTimes {
                user: 2.5,
                sys: 0.75,
                children_user: 0.03,
                children_sys: 0.01
            }
        );
        assert!(parse_stat("garbage", 100).is_none());
    }

    #[test]
    fn proc_facts_are_sane() {
        assert!(page_size() >= 4096);
        assert!(clock_ticks_per_sec() > 0);
        assert!(resident_bytes() > 0);
        assert!(os_name().contains(std::env::consts::ARCH));
    }
}
