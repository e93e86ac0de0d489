//! Server and administration commands: INFO, DBSIZE, FLUSHDB/FLUSHALL, SWAPDB, TIME, CONFIG,
//! SHUTDOWN, DEBUG SLEEP, MEMORY USAGE and COMMAND (the last in `introspection`).
//!
//! These act on the whole server rather than on one key: the live configuration (CONFIG SET is
//! atomic and is pushed into the keyspace's eviction settings and, through `config_epoch`, into
//! every connection's cached limits), the set of databases, and the process itself. Large flushes
//! can hand their detached keyspace to a background thread (Redis's lazy free) so dropping ten
//! million keys does not stall every client.

use crate::ctx::{Action, Ctx};
use crate::error::{CmdError, CmdResult, DB_OUT_OF_RANGE, SYNTAX};
use crate::info::{LAZYFREED_OBJECTS, LAZYFREE_PENDING_OBJECTS};
use crate::introspection::{reply_help, COMMAND_SPEC};
use crate::parse::{is, parse_f64, parse_i64};
use crate::table::{flags, CommandSpec};
use ringkv_engine::{Dict, KeyspaceStats};
use ringkv_protocol::Args;
use std::sync::atomic::Ordering;
use std::sync::{mpsc, OnceLock};
use std::time::Duration;

const LOADING_STALE: u32 = flags::LOADING | flags::STALE;
const ADMIN: u32 = flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE;

pub const COMMANDS: &[CommandSpec] = &[
    COMMAND_SPEC,
    CommandSpec::new("info", -1, LOADING_STALE, info)
        .group("server")
        .doc(
            "Returns information and statistics about the server.",
            "1.0.0",
            "O(1)",
        )
        .syntax("[section [section ...]]"),
    CommandSpec::new("dbsize", 1, flags::READONLY | flags::FAST, dbsize)
        .group("server")
        .doc("Returns the number of keys in the database.", "1.0.0", "O(1)"),
    CommandSpec::new("flushdb", -1, flags::WRITE, flushdb)
        .group("server")
        .doc(
            "Remove all keys from the current database.",
            "1.0.0",
            "O(N) where N is the number of keys in the selected database",
        )
        .syntax("[ASYNC|SYNC]"),
    CommandSpec::new("flushall", -1, flags::WRITE, flushall)
        .group("server")
        .doc(
            "Removes all keys from all databases.",
            "1.0.0",
            "O(N) where N is the total number of keys in all databases",
        )
        .syntax("[ASYNC|SYNC]"),
    CommandSpec::new("swapdb", 3, flags::WRITE | flags::FAST, swapdb)
        .group("server")
        .doc(
            "Swaps two Redis databases.",
            "4.0.0",
            "O(N) where N is the count of clients watching or blocking on keys from both databases.",
        )
        .syntax("index1 index2"),
    CommandSpec::new("time", 1, LOADING_STALE | flags::FAST, time)
        .group("server")
        .doc("Returns the server time.", "2.6.0", "O(1)"),
    CommandSpec::new("config", -2, 0, crate::dispatch::container)
        .group("server")
        .doc(
            "A container for server configuration commands.",
            "2.0.0",
            "Depends on subcommand.",
        )
        .subcommands(CONFIG_SUBCOMMANDS),
    CommandSpec::new(
        "shutdown",
        -1,
        ADMIN | flags::NO_MULTI | flags::ALLOW_BUSY,
        shutdown,
    )
    .group("server")
    .doc(
        "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        "1.0.0",
        "O(N) when saving, where N is the total number of keys in all databases when saving data, otherwise O(1)",
    )
    .syntax("[NOSAVE|SAVE] [NOW] [FORCE] [ABORT]"),
    CommandSpec::new("debug", -2, ADMIN, crate::dispatch::container)
        .group("server")
        .doc(
            "A container for debugging commands.",
            "1.0.0",
            "Depends on subcommand.",
        )
        .subcommands(DEBUG_SUBCOMMANDS),
    CommandSpec::new(
        "role",
        1,
        flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::FAST,
        role,
    )
    .group("server")
    .doc(
        "Returns the replication role.",
        "2.8.12",
        "O(1)",
    ),
    CommandSpec::new("memory", -2, 0, crate::dispatch::container)
        .group("server")
        .doc(
            "A container for memory diagnostics commands.",
            "4.0.0",
            "Depends on subcommand.",
        )
        .subcommands(MEMORY_SUBCOMMANDS),
];

const CONFIG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -3, ADMIN, config_get)
        .group("server")
        .doc(
            "Returns the effective values of configuration parameters.",
            "2.0.0",
            "O(N) when N is the number of configuration parameters provided",
        )
        .syntax("parameter [parameter ...]"),
    CommandSpec::new("set", -4, ADMIN, config_set)
        .group("server")
        .doc(
            "Sets configuration parameters in-flight.",
            "2.0.0",
            "O(N) when N is the number of configuration parameters provided",
        )
        .syntax("parameter value [parameter value ...]"),
    CommandSpec::new("resetstat", 2, ADMIN, config_resetstat)
        .group("server")
        .doc("Resets the server's statistics.", "2.0.0", "O(1)"),
    CommandSpec::new("rewrite", 2, ADMIN, config_rewrite)
        .group("server")
        .doc(
            "Persists the effective configuration to file.",
            "2.8.0",
            "O(1)",
        ),
    CommandSpec::new("help", 2, LOADING_STALE, config_help)
        .group("server")
        .doc(
            "Returns helpful text about the different subcommands.",
            "5.0.0",
            "O(1)",
        ),
];

/// DEBUG has dozens of subcommands in Redis; only those ringkv can honour are registered.
/// DEBUG POPULATE is a real Redis subcommand (benchmarks and tests use it to fill a keyspace).
const DEBUG_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("populate", -3, ADMIN, debug_populate)
        .group("server")
        .doc(
            "Creates string keys for testing.",
            "1.0.0",
            "O(N) where N is the number of keys",
        )
        .syntax("count [prefix] [size]"),
    CommandSpec::new("sleep", 3, ADMIN, debug_sleep)
        .group("server")
        .doc("Stops the server for a number of seconds.", "1.0.0", "O(1)")
        .syntax("seconds"),
    CommandSpec::new("help", 2, ADMIN, debug_help)
        .group("server")
        .doc(
            "Returns helpful text about the different subcommands.",
            "1.0.0",
            "O(1)",
        ),
];

/// MEMORY DOCTOR / STATS / MALLOC-STATS / PURGE are not registered: they report allocator and
/// overhead breakdowns ringkv does not track, and a partial report would mislead.
const MEMORY_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("usage", -3, flags::READONLY, memory_usage)
        .keys(2, 2, 1)
        .group("server")
        .doc(
            "Estimates the memory usage of a key.",
            "4.0.0",
            "O(N) where N is the number of samples.",
        )
        .syntax("key [SAMPLES count]"),
    CommandSpec::new("help", 2, LOADING_STALE, memory_help)
        .group("server")
        .doc(
            "Returns helpful text about the different subcommands.",
            "4.0.0",
            "O(1)",
        ),
];

/// INFO [section ...]: a bulk string (RESP3: verbatim "txt"), see `crate::info`.
fn info(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let sections: Vec<&[u8]> = args.iter().skip(1).collect();
    let text = crate::info::generate(ctx, &sections);
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn dbsize(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let n = ctx.store.db_ref(ctx.client.db).len();
    ctx.out.integer(n as i64);
    Ok(())
}

/// Redis `getFlushCommandFlags`: optional SYNC or ASYNC; without it, lazyfree-lazy-user-flush.
fn flush_mode(ctx: &Ctx<'_>, args: Args<'_>) -> Result<bool, CmdError> {
    match args.len() {
        1 => Ok(ctx.shared.config.read().lazyfree_lazy_user_flush),
        2 if is(args.arg(1), "SYNC") => Ok(false),
        2 if is(args.arg(1), "ASYNC") => Ok(true),
        _ => Err(SYNTAX),
    }
}

fn flushdb(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let lazy = flush_mode(ctx, args)?;
    let dict = ctx.store.flush_db(ctx.client.db);
    // Counted (and so logged) even when the database was empty, as Redis does.
    ctx.store.common.dirty += 1;
    free_dicts(vec![dict], lazy);
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let lazy = flush_mode(ctx, args)?;
    let dicts = ctx.store.flush_all();
    ctx.store.common.dirty += 1;
    free_dicts(dicts, lazy);
    ctx.out.ok();
    Ok(())
}

/// Below this many keys freeing inline is cheaper than handing off (Redis LAZYFREE_THRESHOLD).
const LAZYFREE_THRESHOLD: usize = 64;

/// The lazy-free worker: one background thread, started on first use, that drops detached
/// keyspaces in order. One thread (rather than one per flush) keeps a loop of FLUSHALL ASYNC from
/// creating threads without bound.
fn lazyfree_sender() -> Option<&'static mpsc::Sender<Vec<Dict>>> {
    static SENDER: OnceLock<Option<mpsc::Sender<Vec<Dict>>>> = OnceLock::new();
    SENDER
        .get_or_init(|| {
            let (tx, rx) = mpsc::channel::<Vec<Dict>>();
            std::thread::Builder::new()
                .name("ringkv-lazyfree".into())
                .spawn(move || {
                    crate::cpu_affinity::pin_for(crate::cpu_affinity::Role::Background);
                    for dicts in rx {
                        let n: usize = dicts.iter().map(Dict::len).sum();
                        drop(dicts);
                        LAZYFREE_PENDING_OBJECTS.fetch_sub(n as u64, Ordering::Relaxed);
                        LAZYFREED_OBJECTS.fetch_add(n as u64, Ordering::Relaxed);
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Frees detached databases: on the lazy-free thread when `lazy` and worth it, else right here.
fn free_dicts(dicts: Vec<Dict>, lazy: bool) {
    let n: usize = dicts.iter().map(Dict::len).sum();
    if !lazy || n < LAZYFREE_THRESHOLD {
        drop(dicts);
        return;
    }
    let Some(tx) = lazyfree_sender() else {
        drop(dicts);
        return;
    };
    LAZYFREE_PENDING_OBJECTS.fetch_add(n as u64, Ordering::Relaxed);
    if let Err(mpsc::SendError(dicts)) = tx.send(dicts) {
        // The worker is gone (it never exits on its own): free inline.
        LAZYFREE_PENDING_OBJECTS.fetch_sub(n as u64, Ordering::Relaxed);
        drop(dicts);
    }
}

/// A database index argument of SWAPDB: an int (Redis getIntFromObjectOrReply) or `msg`.
fn db_index_arg(arg: &[u8], msg: &'static str) -> Result<i64, CmdError> {
    parse_i64(arg)
        .filter(|v| i32::try_from(*v).is_ok())
        .ok_or(CmdError::Static(msg))
}

fn swapdb(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let a = db_index_arg(args.arg(1), "ERR invalid first DB index")?;
    let b = db_index_arg(args.arg(2), "ERR invalid second DB index")?;
    let count = ctx.store.db_count() as i64;
    if a < 0 || a >= count || b < 0 || b >= count {
        return Err(DB_OUT_OF_RANGE);
    }
    if a != b {
        ctx.store.swap_dbs(a as usize, b as usize);
    }
    ctx.out.ok();
    Ok(())
}

/// TIME: [unix seconds, microseconds] as bulk strings, from the injected clock.
fn time(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let us = ctx.shared.clock.now_us();
    ctx.out.array(2);
    ctx.out.bulk_i64(us.div_euclid(1_000_000));
    ctx.out.bulk_i64(us.rem_euclid(1_000_000));
    Ok(())
}

/// ROLE: every ringkv node takes writes and has no Redis-style replicas (the cluster's own
/// replication is not master-replica): `master`, replication offset 0, no replicas.
fn role(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.integer(0);
    ctx.out.array(0);
    Ok(())
}

fn config_get(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let patterns: Vec<&[u8]> = args.iter().skip(2).collect();
    let found = ctx.shared.config.read().get(&patterns);
    ctx.out.map(found.len());
    for (name, value) in found {
        ctx.out.bulk(name.as_bytes());
        ctx.out.bulk(value.as_bytes());
    }
    Ok(())
}

/// CONFIG SET name value [name value ...]: all or nothing (the config crate validates every pair
/// before applying any), then the keyspace and connections pick the new values up.
fn config_set(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if !args.len().is_multiple_of(2) {
        return Err(CmdError::arity("config|set"));
    }
    let pairs: Vec<(&[u8], &[u8])> = (2..args.len())
        .step_by(2)
        .map(|i| (args.arg(i), args.arg(i + 1)))
        .collect();
    {
        let mut cfg = ctx.shared.config.write();
        cfg.set(&pairs).map_err(CmdError::Owned)?;
        crate::shared::apply_config_to_store(&cfg, ctx.store);
        ctx.shared.slowlog.configure(&cfg);
        crate::latency::configure(&cfg);
    }
    crate::persistence::config_changed(ctx.store, ctx.shared);
    ctx.shared.config_epoch.fetch_add(1, Ordering::Release);
    ctx.out.ok();
    Ok(())
}

/// CONFIG RESETSTAT: zeroes the INFO stats counters (not gauges like the memory peak).
fn config_resetstat(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    ctx.shared.stats.reset();
    ctx.shared.ratelimit.reset();
    ctx.store.common.stats = KeyspaceStats::default();
    ctx.store.common.command_stats.clear();
    ctx.store.common.error_stats.clear();
    LAZYFREED_OBJECTS.store(0, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn config_rewrite(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let cfg = ctx.shared.config.read();
    let Some(path) = cfg.config_file() else {
        return Err(CmdError::Static(
            "ERR The server is running without a config file",
        ));
    };
    if let Err(e) = cfg.rewrite(path) {
        tracing::warn!(error = %e, path = %path.display(), "CONFIG REWRITE failed");
        return Err(CmdError::msg(format!(
            "ERR Rewriting config file: {}",
            strerror_text(&e)
        )));
    }
    drop(cfg);
    tracing::info!("CONFIG REWRITE executed with success.");
    ctx.out.ok();
    Ok(())
}

/// An io::Error as C's strerror would print it (without Rust's " (os error N)" suffix).
fn strerror_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn config_help(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    reply_help(
        ctx,
        "config",
        &[
            "GET <pattern>",
            "    Return parameters matching the glob-like <pattern> and their values.",
            "SET <directive> <value>",
            "    Set the configuration <directive> to <value>.",
            "RESETSTAT",
            "    Reset statistics reported by the INFO command.",
            "REWRITE",
            "    Rewrite the configuration file.",
        ],
    );
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT], with Redis 7's option checks.
///
/// SAVE writes a snapshot first (a failed save refuses the shutdown unless FORCE, as in Redis);
/// without it nothing is saved, because no `save` rules exist yet. There are no replicas to wait
/// for, so NOW changes nothing and shutdown starts at once; for the same reason there is never a
/// pending shutdown for ABORT to cancel. On success there is no reply: the connection (and every
/// other) is closed, as in Redis.
fn shutdown(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut save, mut nosave, mut other, mut abort) = (false, false, false, false);
    let mut force = false;
    for a in args.iter().skip(1) {
        if is(a, "NOSAVE") {
            nosave = true;
        } else if is(a, "SAVE") {
            save = true;
        } else if is(a, "NOW") || is(a, "FORCE") {
            force |= is(a, "FORCE");
            other = true;
        } else if is(a, "ABORT") {
            abort = true;
        } else {
            return Err(SYNTAX);
        }
    }
    if (abort && (save || nosave || other)) || (save && nosave) {
        return Err(SYNTAX);
    }
    if abort {
        return Err(CmdError::Static("ERR No shutdown in progress."));
    }
    tracing::warn!(client = ctx.client.handle.id, "User requested shutdown...");
    // As Redis: SAVE forces a final snapshot, NOSAVE skips it, and by default one is written
    // when save points are configured. The AOF is synced on the way out either way.
    let save = save || (!nosave && crate::persistence::saves_on_shutdown(ctx.shared));
    if save && crate::persistence::save_now(ctx.store, ctx.shared).is_err() && !force {
        return Err(CmdError::Static(
            "ERR Errors trying to SHUTDOWN. Check logs.",
        ));
    }
    ctx.shared.persistence.state.lock().shutdown_save_done = true;
    ctx.shared.request_shutdown();
    ctx.client.action = Some(Action::Close);
    Ok(())
}

/// DEBUG SLEEP seconds: stops the whole server (the keyspace lock is held) like Redis. As with
/// Redis's strtod, an unparsable or non-positive value sleeps for no time.
fn debug_sleep(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let secs = parse_f64(args.arg(2)).unwrap_or(0.0);
    if secs > 0.0 {
        let d = Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX);
        std::thread::sleep(d);
    }
    ctx.out.ok();
    Ok(())
}

/// Keys DEBUG POPULATE creates between memory checks.
const POPULATE_CHECK_EVERY: u64 = 1024;

/// DEBUG POPULATE count [prefix] [size]: creates `prefix:N` = `value:N` (default prefix "key")
/// for N in 0..count, skipping existing keys; with `size`, each value is exactly `size` bytes
/// (the "value:N" text, cut or padded with zero bytes), as in Redis.
///
/// Unlike Redis it refuses a `size` above proto-max-bulk-len and stops with -OOM once maxmemory
/// is exceeded, so a typo cannot exhaust the machine.
fn debug_populate(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 5 {
        return Err(CmdError::unknown_subcommand("debug", args.arg(1)));
    }
    let count = crate::parse::non_negative_arg(args.arg(2))? as u64;
    let prefix: &[u8] = args.get(3).unwrap_or(b"key");
    let size = match args.get(4) {
        Some(a) => Some(crate::parse::non_negative_arg(a)? as u64),
        None => None,
    };
    if let Some(size) = size {
        if size > ctx.shared.config.read().proto_max_bulk_len {
            return Err(crate::error::STRING_TOO_LONG);
        }
    }
    let mut key = Vec::with_capacity(prefix.len() + 21);
    let mut value = Vec::new();
    for j in 0..count {
        if j % POPULATE_CHECK_EVERY == 0 && ctx.store.over_maxmemory() {
            return Err(crate::error::OOM);
        }
        key.clear();
        key.extend_from_slice(prefix);
        key.extend_from_slice(format!(":{j}").as_bytes());
        let mut db = ctx.db();
        if db.peek(&key).is_some() {
            continue;
        }
        value.clear();
        value.extend_from_slice(format!("value:{j}").as_bytes());
        if let Some(size) = size {
            value.resize(size as usize, 0);
        }
        db.set_str(&key, &value, ringkv_engine::Ttl::Persist);
    }
    ctx.out.ok();
    Ok(())
}

fn debug_help(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    reply_help(
        ctx,
        "debug",
        &[
            "POPULATE <count> [<prefix>] [<size>]",
            "    Create <count> string keys named key:<num>. If <prefix> is specified then",
            "    it is used instead of the 'key' prefix. These are not propagated to",
            "    replicas. Cluster slots are not respected so keys not belonging to the",
            "    current node can be created in cluster mode.",
            "SLEEP <seconds>",
            "    Stop the server for <seconds>. Decimals allowed.",
        ],
    );
    Ok(())
}

/// MEMORY USAGE key [SAMPLES count]: the bytes held by the key and its value, or nil. ringkv
/// measures collections exactly, so SAMPLES is validated (as Redis does) but not needed.
fn memory_usage(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut i = 3;
    while i < args.len() {
        if is(args.arg(i), "SAMPLES") && i + 1 < args.len() {
            let n = crate::parse::int_arg(args.arg(i + 1))?;
            if n < 0 {
                return Err(SYNTAX);
            }
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    let usage = ctx.db().peek(args.arg(2)).map(|e| e.memory_usage());
    // Redis's lookup for MEMORY USAGE counts as a keyspace read (hit or miss) without touching
    // the key's access clock.
    let stats = &mut ctx.store.common.stats;
    match usage {
        Some(bytes) => {
            stats.keyspace_hits += 1;
            ctx.out.integer(bytes as i64);
        }
        None => {
            stats.keyspace_misses += 1;
            ctx.out.null();
        }
    }
    Ok(())
}

fn memory_help(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    reply_help(
        ctx,
        "memory",
        &[
            "USAGE <key> [SAMPLES <count>]",
            "    Return memory in bytes used by <key> and its value. Nested values are",
            "    sampled up to <count> times (default: 5, 0 means sample all).",
        ],
    );
    Ok(())
}
