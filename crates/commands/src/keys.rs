//! Generic keyspace commands: deleting, testing, listing and iterating keys (DEL, UNLINK, EXISTS,
//! TYPE, KEYS, SCAN, RANDOMKEY, TOUCH), moving values between names and databases (RENAME,
//! RENAMENX, COPY, MOVE), introspection (OBJECT) and key lifetimes (EXPIRE family, TTL family,
//! PERSIST).
//!
//! These commands work on any value type, so they only look at entries through `DbRef` and never
//! at a type's internals. Replies and error texts follow Redis 7 (db.c, expire.c, object.c): client
//! libraries and scripts compare them literally. Cross-database operations run sequentially on the
//! two databases; every precondition is checked before the value is detached so that a failing
//! command never loses data.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, DB_OUT_OF_RANGE, NOT_INTEGER, NO_SUCH_KEY, SYNTAX};
use crate::parse::{int_arg, is, parse_i64};
use crate::shared_args::{parse_scan_opts, string2ull, ScanOf, INVALID_CURSOR};
use crate::table::{flags, CommandSpec};
use ringkv_config::notify;
use ringkv_engine::lru::{idle_ms, lfu_decayed_counter, ClockKind};
use ringkv_engine::{glob_match, DbRef, Entry, EvictionPolicy, PolicyClock, ValueRef};
use ringkv_protocol::Args;

const SAME_OBJECT: CmdError = CmdError::Static("ERR source and destination objects are the same");
const NOT_LFU: CmdError = CmdError::Static(
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
);
const IS_LFU: CmdError = CmdError::Static(
    "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.",
);
const EXPIRE_NX_CONFLICT: CmdError =
    CmdError::Static("ERR NX and XX, GT or LT options at the same time are not compatible");
const EXPIRE_GT_LT_CONFLICT: CmdError =
    CmdError::Static("ERR GT and LT options at the same time are not compatible");

/// Longest string Redis stores as "embstr" (OBJ_ENCODING_EMBSTR_SIZE_LIMIT).
const EMBSTR_SIZE_LIMIT: usize = 44;
/// Redis keeps the integers below this as shared objects (OBJ_SHARED_INTEGERS).
const SHARED_INTEGERS: i64 = 10_000;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("del", -2, flags::WRITE, del)
        .keys(1, -1, 1)
        .doc(
            "Deletes one or more keys.",
            "1.0.0",
            "O(N) where N is the number of keys that will be removed. When a key to remove holds a value other than a string, the individual complexity for this key is O(M) where M is the number of elements in the list, set, sorted set or hash. Removing a single key that holds a string value is O(1).",
        )
        .syntax("key [key ...]"),
    CommandSpec::new("unlink", -2, flags::WRITE | flags::FAST, del)
        .keys(1, -1, 1)
        .doc(
            "Asynchronously deletes one or more keys.",
            "4.0.0",
            "O(1) for each key removed regardless of its size. Then the command does O(N) work in a different thread in order to reclaim memory, where N is the number of allocations the deleted objects where composed of.",
        )
        .syntax("key [key ...]"),
    CommandSpec::new("exists", -2, flags::READONLY | flags::FAST, exists)
        .keys(1, -1, 1)
        .doc(
            "Determines whether one or more keys exist.",
            "1.0.0",
            "O(N) where N is the number of keys to check.",
        )
        .syntax("key [key ...]"),
    CommandSpec::new("type", 2, flags::READONLY | flags::FAST, type_cmd)
        .keys(1, 1, 1)
        .doc("Determines the type of value stored at a key.", "1.0.0", "O(1)")
        .syntax("key"),
    CommandSpec::new("keys", 2, flags::READONLY, keys)
        .doc(
            "Returns all key names that match a pattern.",
            "1.0.0",
            "O(N) with N being the number of keys in the database, under the assumption that the key names in the database and the given pattern have limited length.",
        )
        .syntax("pattern"),
    CommandSpec::new("scan", -2, flags::READONLY, scan)
        .doc(
            "Iterates over the key names in the database.",
            "2.8.0",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        )
        .syntax("cursor [MATCH pattern] [COUNT count] [TYPE type]"),
    CommandSpec::new("randomkey", 1, flags::READONLY, randomkey)
        .doc("Returns a random key name from the database.", "1.0.0", "O(1)"),
    CommandSpec::new("rename", 3, flags::WRITE, rename)
        .keys(1, 2, 1)
        .doc("Renames a key and overwrites the destination.", "1.0.0", "O(1)")
        .syntax("key newkey"),
    CommandSpec::new("renamenx", 3, flags::WRITE | flags::FAST, renamenx)
        .keys(1, 2, 1)
        .doc(
            "Renames a key only when the target key name doesn't exist.",
            "1.0.0",
            "O(1)",
        )
        .syntax("key newkey"),
    CommandSpec::new("copy", -3, flags::WRITE | flags::DENYOOM, copy)
        .keys(1, 2, 1)
        .doc(
            "Copies the value of a key to a new key.",
            "6.2.0",
            "O(N) worst case for collections, where N is the number of nested items. O(1) for string values.",
        )
        .syntax("source destination [DB destination-db] [REPLACE]"),
    CommandSpec::new("move", 3, flags::WRITE | flags::FAST, move_cmd)
        .keys(1, 1, 1)
        .doc("Moves a key to another database.", "1.0.0", "O(1)")
        .syntax("key db"),
    CommandSpec::new("touch", -2, flags::READONLY | flags::FAST, touch)
        .keys(1, -1, 1)
        .doc(
            "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
            "3.2.1",
            "O(N) where N is the number of keys that will be touched.",
        )
        .syntax("key [key ...]"),
    CommandSpec::new("object", -2, 0, crate::dispatch::container)
        .doc(
            "A container for object introspection commands.",
            "2.2.3",
            "Depends on subcommand.",
        )
        .syntax("subcommand [arg ...]")
        .subcommands(OBJECT_SUBCOMMANDS),
    CommandSpec::new("expire", -3, flags::WRITE | flags::FAST, expire)
        .keys(1, 1, 1)
        .doc("Sets the expiration time of a key in seconds.", "1.0.0", "O(1)")
        .syntax("key seconds [NX | XX | GT | LT]"),
    CommandSpec::new("pexpire", -3, flags::WRITE | flags::FAST, pexpire)
        .keys(1, 1, 1)
        .doc(
            "Sets the expiration time of a key in milliseconds.",
            "2.6.0",
            "O(1)",
        )
        .syntax("key milliseconds [NX | XX | GT | LT]"),
    CommandSpec::new("expireat", -3, flags::WRITE | flags::FAST, expireat)
        .keys(1, 1, 1)
        .doc(
            "Sets the expiration time of a key to a Unix timestamp.",
            "1.2.0",
            "O(1)",
        )
        .syntax("key unix-time-seconds [NX | XX | GT | LT]"),
    CommandSpec::new("pexpireat", -3, flags::WRITE | flags::FAST, pexpireat)
        .keys(1, 1, 1)
        .doc(
            "Sets the expiration time of a key to a Unix milliseconds timestamp.",
            "2.6.0",
            "O(1)",
        )
        .syntax("key unix-time-milliseconds [NX | XX | GT | LT]"),
    CommandSpec::new("ttl", 2, flags::READONLY | flags::FAST, ttl)
        .keys(1, 1, 1)
        .doc("Returns the expiration time in seconds of a key.", "1.0.0", "O(1)")
        .syntax("key"),
    CommandSpec::new("pttl", 2, flags::READONLY | flags::FAST, pttl)
        .keys(1, 1, 1)
        .doc(
            "Returns the expiration time in milliseconds of a key.",
            "2.6.0",
            "O(1)",
        )
        .syntax("key"),
    CommandSpec::new("expiretime", 2, flags::READONLY | flags::FAST, expiretime)
        .keys(1, 1, 1)
        .doc(
            "Returns the expiration time of a key as a Unix timestamp.",
            "7.0.0",
            "O(1)",
        )
        .syntax("key"),
    CommandSpec::new("pexpiretime", 2, flags::READONLY | flags::FAST, pexpiretime)
        .keys(1, 1, 1)
        .doc(
            "Returns the expiration time of a key as a Unix milliseconds timestamp.",
            "7.0.0",
            "O(1)",
        )
        .syntax("key"),
    CommandSpec::new("persist", 2, flags::WRITE | flags::FAST, persist)
        .keys(1, 1, 1)
        .doc("Removes the expiration time of a key.", "2.2.0", "O(1)")
        .syntax("key"),
];

const OBJECT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("encoding", 3, flags::READONLY, object_encoding)
        .keys(2, 2, 1)
        .doc(
            "Returns the internal encoding of a Redis object.",
            "2.2.3",
            "O(1)",
        )
        .syntax("key"),
    CommandSpec::new("freq", 3, flags::READONLY, object_freq)
        .keys(2, 2, 1)
        .doc(
            "Returns the logarithmic access frequency counter of a Redis object.",
            "4.0.0",
            "O(1)",
        )
        .syntax("key"),
    CommandSpec::new("help", 2, flags::LOADING | flags::STALE, object_help).doc(
        "Returns helpful text about the different subcommands.",
        "6.2.0",
        "O(1)",
    ),
    CommandSpec::new("idletime", 3, flags::READONLY, object_idletime)
        .keys(2, 2, 1)
        .doc(
            "Returns the time since the last access to a Redis object.",
            "2.2.3",
            "O(1)",
        )
        .syntax("key"),
    CommandSpec::new("refcount", 3, flags::READONLY, object_refcount)
        .keys(2, 2, 1)
        .doc(
            "Returns the reference count of a value of a key.",
            "2.2.3",
            "O(1)",
        )
        .syntax("key"),
];

// ---------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------

/// A database index argument (MOVE, COPY DB): an integer that fits a C int (Redis
/// getIntFromObjectOrReply), then within the configured number of databases.
fn db_index_arg(ctx: &Ctx<'_>, arg: &[u8]) -> Result<usize, CmdError> {
    let v = int_arg(arg)?;
    if v < i32::MIN as i64 || v > i32::MAX as i64 {
        return Err(NOT_INTEGER);
    }
    if v < 0 || v as usize >= ctx.store.db_count() {
        return Err(DB_OUT_OF_RANGE);
    }
    Ok(v as usize)
}

// ---------------------------------------------------------------------------------------------
// DEL, UNLINK, EXISTS, TYPE, TOUCH
// ---------------------------------------------------------------------------------------------

/// DEL and UNLINK: values are dropped on the spot; the engine's entries free in O(1) per key for
/// strings, so there is nothing to hand to a background thread yet.
fn del(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut db = ctx.db();
    let mut deleted = 0;
    for key in args.iter().skip(1) {
        if db.remove(key) {
            db.notify(notify::GENERIC, "del", key);
            deleted += 1;
        }
    }
    ctx.out.integer(deleted);
    Ok(())
}

/// EXISTS counts a key as many times as it is named.
fn exists(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut db = ctx.db();
    let count = args.iter().skip(1).filter(|k| db.exists(k)).count();
    ctx.out.integer(count as i64);
    Ok(())
}

/// TYPE is a read lookup that counts a keyspace hit or miss but leaves the access clock alone.
fn type_cmd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut db = ctx.db();
    let key = args.arg(1);
    let name = if db.exists(key) {
        db.type_of(key)
    } else {
        None
    };
    let name = name.unwrap_or("none");
    ctx.out.simple(name.as_bytes());
    Ok(())
}

/// TOUCH is a read lookup per key: it refreshes the LRU/LFU clock and counts hits/misses.
fn touch(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut db = ctx.db();
    let count = args.iter().skip(1).filter(|k| db.get(k).is_some()).count();
    ctx.out.integer(count as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// KEYS, SCAN, RANDOMKEY
// ---------------------------------------------------------------------------------------------

fn keys(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let pattern = args.arg(1);
    // "*" alone matches everything, so skip the matcher (Redis does the same).
    let all = pattern == b"*";
    let db = ctx.store.db(ctx.client.db);
    let out = &mut *ctx.out;
    let deferred = out.begin_deferred();
    let mut n = 0;
    db.for_each_live(|e| {
        if all || glob_match(pattern, e.key(), false) {
            out.bulk(e.key());
            n += 1;
        }
    });
    out.finish_deferred_array(deferred, n);
    Ok(())
}

/// SCAN's cursor and options (`SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]`).
pub struct ScanArgs<'a> {
    pub cursor: u64,
    /// At least 1.
    pub count: usize,
    /// None when absent or exactly "*" (matches everything).
    pub pattern: Option<&'a [u8]>,
    pub type_name: Option<&'a [u8]>,
}

/// Parses SCAN's arguments as Redis does (also used by the cluster's SCAN).
pub fn parse_scan(args: Args<'_>) -> Result<ScanArgs<'_>, CmdError> {
    let cursor = string2ull(args.arg(1)).ok_or(INVALID_CURSOR)?;
    let o = parse_scan_opts(args, 2, ScanOf::Keyspace)?;
    Ok(ScanArgs {
        cursor,
        count: o.count,
        pattern: o.pattern,
        type_name: o.type_name,
    })
}

fn scan(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let ScanArgs {
        mut cursor,
        count,
        pattern,
        type_name,
    } = parse_scan(args)?;

    let mut db = ctx.db();
    let mut found: Vec<Vec<u8>> = Vec::new();
    let mut visited = 0usize;
    // Like Redis, stop after COUNT*10 bucket visits so a sparse table cannot stall the server.
    let mut iterations_left = count.saturating_mul(10);
    loop {
        cursor = db.scan(cursor, |key, value| {
            visited += 1;
            if let Some(p) = pattern {
                if !glob_match(p, key, false) {
                    return;
                }
            }
            if let Some(t) = type_name {
                if !value.type_name().as_bytes().eq_ignore_ascii_case(t) {
                    return;
                }
            }
            found.push(key.to_vec());
        });
        if cursor == 0 || iterations_left == 0 || visited >= count {
            break;
        }
        iterations_left -= 1;
    }

    ctx.out.array(2);
    ctx.out.bulk(cursor.to_string().as_bytes());
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    match ctx.db().random_key() {
        Some(k) => ctx.out.bulk(&k),
        None => ctx.out.null(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// RENAME, RENAMENX, COPY, MOVE
// ---------------------------------------------------------------------------------------------

/// Shared body of RENAME and RENAMENX. The value keeps its TTL; an overwritten destination loses
/// its own TTL with its value.
fn rename_generic(ctx: &mut Ctx<'_>, args: Args<'_>, nx: bool) -> CmdResult {
    let (src, dst) = (args.arg(1), args.arg(2));
    let mut db = ctx.db();
    if db.peek(src).is_none() {
        return Err(NO_SUCH_KEY);
    }
    if src == dst {
        if nx {
            ctx.out.integer(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if nx && db.peek(dst).is_some() {
        ctx.out.integer(0);
        return Ok(());
    }
    let Some(d) = db.take(src) else {
        return Err(NO_SUCH_KEY);
    };
    db.put_detached(dst, d);
    db.notify(notify::GENERIC, "rename_from", src);
    db.notify(notify::GENERIC, "rename_to", dst);
    if nx {
        ctx.out.integer(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn rename(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    rename_generic(ctx, args, true)
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let src_db = ctx.client.db;
    let mut dst_db = src_db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        let opt = args.arg(i);
        if is(opt, "replace") {
            replace = true;
        } else if is(opt, "db") && i + 1 < args.len() {
            dst_db = db_index_arg(ctx, args.arg(i + 1))?;
            i += 1;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    let (src, dst) = (args.arg(1), args.arg(2));
    if src_db == dst_db && src == dst {
        return Err(SAME_OBJECT);
    }
    // A read lookup of the source (hit/miss statistics, access clock), as in Redis.
    let copied = {
        let mut db = ctx.store.db(src_db);
        if db.get(src).is_none() {
            None
        } else {
            db.clone_value(src)
        }
    };
    let Some(d) = copied else {
        ctx.out.integer(0);
        return Ok(());
    };
    let mut db = ctx.store.db(dst_db);
    if db.peek(dst).is_some() {
        if !replace {
            ctx.out.integer(0);
            return Ok(());
        }
        db.remove(dst);
    }
    db.put_detached(dst, d);
    db.notify(notify::GENERIC, "copy_to", dst);
    ctx.out.integer(1);
    Ok(())
}

/// MOVE key db: only when the key exists here and not there, so nothing is ever overwritten.
fn move_cmd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let src_db = ctx.client.db;
    let dst_db = db_index_arg(ctx, args.arg(2))?;
    if src_db == dst_db {
        return Err(SAME_OBJECT);
    }
    if ctx.store.db(src_db).peek(key).is_none() || ctx.store.db(dst_db).peek(key).is_some() {
        ctx.out.integer(0);
        return Ok(());
    }
    match ctx.store.db(src_db).take(key) {
        Some(d) => {
            ctx.store
                .db(src_db)
                .notify(notify::GENERIC, "move_from", key);
            let mut dst = ctx.store.db(dst_db);
            dst.put_detached(key, d);
            dst.notify(notify::GENERIC, "move_to", key);
            ctx.out.integer(1);
        }
        None => ctx.out.integer(0),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// OBJECT
// ---------------------------------------------------------------------------------------------

/// The encoding name Redis would report. Strings: "int" for a canonical 64-bit integer, "embstr"
/// up to 44 bytes, else "raw" — but only for values stored inline (written whole, like SET); a
/// value edited in place (APPEND, SETRANGE, SETBIT) lives in a growable buffer, which Redis
/// reports as "raw" whatever its content.
fn encoding_of(value: ValueRef<'_>, inline: bool) -> &'static str {
    match value {
        ValueRef::Str(s) if inline => {
            if parse_i64(s).is_some() {
                "int"
            } else if s.len() <= EMBSTR_SIZE_LIMIT {
                "embstr"
            } else {
                "raw"
            }
        }
        ValueRef::Str(_) => "raw",
        ValueRef::Obj(v) => v.encoding(),
    }
}

/// OBJECT's lookup: counts a keyspace hit or miss (as Redis's LOOKUP_NOTOUCH does) without
/// refreshing the access clock it is about to report.
fn object_lookup<'c>(db: &'c mut DbRef<'_>, key: &[u8]) -> Option<&'c Entry> {
    if db.exists(key) {
        db.peek(key)
    } else {
        None
    }
}

fn object_encoding(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut db = ctx.db();
    let enc = object_lookup(&mut db, args.arg(2)).map(|e| encoding_of(e.value(), e.is_inline()));
    match enc {
        Some(name) => ctx.out.bulk(name.as_bytes()),
        None => ctx.out.null(),
    }
    Ok(())
}

fn is_lfu(ctx: &Ctx<'_>) -> bool {
    ctx.store.common.eviction.policy.clock_kind() == ClockKind::Lfu
}

fn object_freq(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let lfu = is_lfu(ctx);
    let decay = ctx.store.common.eviction.lfu_decay_time;
    let now = ctx.now_ms();
    let Some(clock) = object_lookup(&mut ctx.db(), args.arg(2)).map(|e| e.clock()) else {
        ctx.out.null();
        return Ok(());
    };
    if !lfu {
        return Err(NOT_LFU);
    }
    ctx.out
        .integer(lfu_decayed_counter(clock, now, decay) as i64);
    Ok(())
}

fn object_idletime(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let lfu = is_lfu(ctx);
    let now = ctx.now_ms();
    let Some(clock) = object_lookup(&mut ctx.db(), args.arg(2)).map(|e| e.clock()) else {
        ctx.out.null();
        return Ok(());
    };
    if lfu {
        return Err(IS_LFU);
    }
    ctx.out.integer((idle_ms(now, clock) / 1000) as i64);
    Ok(())
}

/// ringkv never shares values between keys, so a value has one reference. Redis, though, stores
/// the integers 0..9999 as shared objects (unless an LRU/LFU policy needs a per-key clock) and
/// reports their reference count as INT_MAX; clients and tests see that, so it is reproduced.
fn object_refcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let e = &ctx.store.common.eviction;
    let per_key_clock = e.maxmemory != 0
        && matches!(
            e.policy,
            EvictionPolicy::AllKeysLru
                | EvictionPolicy::VolatileLru
                | EvictionPolicy::AllKeysLfu
                | EvictionPolicy::VolatileLfu
        );
    let mut db = ctx.db();
    let refcount = object_lookup(&mut db, args.arg(2)).map(|e| match e.value() {
        ValueRef::Str(s) if e.is_inline() && !per_key_clock => match parse_i64(s) {
            Some(v) if (0..SHARED_INTEGERS).contains(&v) => i32::MAX as i64,
            _ => 1,
        },
        _ => 1,
    });
    match refcount {
        Some(n) => ctx.out.integer(n),
        None => ctx.out.null(),
    }
    Ok(())
}

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Print this help.",
];

fn object_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.out.array(OBJECT_HELP.len());
    for line in OBJECT_HELP {
        ctx.out.simple(line.as_bytes());
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// EXPIRE family, TTL family, PERSIST
// ---------------------------------------------------------------------------------------------

#[derive(Default, Clone, Copy)]
struct ExpireFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

/// The NX|XX|GT|LT options after the time (Redis parseExtendedExpireArgumentsOrReply).
fn parse_expire_flags(args: Args<'_>) -> Result<ExpireFlags, CmdError> {
    let mut f = ExpireFlags::default();
    for opt in args.iter().skip(3) {
        if is(opt, "nx") {
            f.nx = true;
        } else if is(opt, "xx") {
            f.xx = true;
        } else if is(opt, "gt") {
            f.gt = true;
        } else if is(opt, "lt") {
            f.lt = true;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if f.nx && (f.xx || f.gt || f.lt) {
        return Err(EXPIRE_NX_CONFLICT);
    }
    if f.gt && f.lt {
        return Err(EXPIRE_GT_LT_CONFLICT);
    }
    Ok(f)
}

/// EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT (Redis expireGenericCommand). `base` is the time the
/// argument is relative to (now, or 0 for the absolute forms).
fn expire_generic(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    name: &str,
    base: i64,
    seconds: bool,
) -> CmdResult {
    let flags = parse_expire_flags(args)?;
    let mut when = int_arg(args.arg(2))?;
    if seconds {
        when = when
            .checked_mul(1000)
            .ok_or_else(|| CmdError::invalid_expire(name))?;
    }
    // Negative times are allowed (they delete the key); only overflow is an error.
    let when = when
        .checked_add(base)
        .ok_or_else(|| CmdError::invalid_expire(name))?;
    let key = args.arg(1);
    let mut db = ctx.db();
    let current = match db.expire_of(key) {
        Err(()) => {
            ctx.out.integer(0);
            return Ok(());
        }
        Ok(c) => c,
    };
    let refused = (flags.nx && current.is_some())
        || (flags.xx && current.is_none())
        // GT: no TTL counts as infinite, so it is never exceeded.
        || (flags.gt && current.is_none_or(|c| when <= c))
        // LT: no TTL counts as infinite, so any time is lower.
        || (flags.lt && current.is_some_and(|c| when >= c));
    if refused {
        ctx.out.integer(0);
        return Ok(());
    }
    // A deadline that is not in the future deletes the key (still a success).
    let deletes = when <= db.now_ms();
    db.set_expire(key, Some(when));
    db.notify(notify::GENERIC, if deletes { "del" } else { "expire" }, key);
    ctx.out.integer(1);
    Ok(())
}

fn expire(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let now = ctx.now_ms();
    expire_generic(ctx, args, "expire", now, true)
}

fn pexpire(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let now = ctx.now_ms();
    expire_generic(ctx, args, "pexpire", now, false)
}

fn expireat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    expire_generic(ctx, args, "expireat", 0, true)
}

fn pexpireat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    expire_generic(ctx, args, "pexpireat", 0, false)
}

/// TTL, PTTL, EXPIRETIME, PEXPIRETIME: -2 for a missing key, -1 without TTL.
/// The lookup counts a keyspace hit or miss without refreshing the access clock, as in Redis.
fn ttl_generic(ctx: &mut Ctx<'_>, args: Args<'_>, millis: bool, absolute: bool) -> CmdResult {
    let now = ctx.now_ms();
    let key = args.arg(1);
    let mut db = ctx.db();
    let found = if db.exists(key) {
        db.expire_of(key)
    } else {
        Err(())
    };
    let reply = match found {
        Err(()) => -2,
        Ok(None) => -1,
        Ok(Some(at)) => {
            let t = if absolute { at } else { at.saturating_sub(now) }.max(0);
            if millis {
                t
            } else {
                // Redis rounds to the nearest second ((ttl+500)/1000).
                t.saturating_add(500) / 1000
            }
        }
    };
    ctx.out.integer(reply);
    Ok(())
}

fn ttl(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ttl_generic(ctx, args, false, false)
}

fn pttl(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ttl_generic(ctx, args, true, false)
}

fn expiretime(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ttl_generic(ctx, args, false, true)
}

fn pexpiretime(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ttl_generic(ctx, args, true, true)
}

fn persist(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let mut db = ctx.db();
    let removed = matches!(db.expire_of(key), Ok(Some(_))) && db.set_expire(key, None);
    if removed {
        db.notify(notify::GENERIC, "persist", key);
    }
    ctx.out.integer(removed as i64);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_parsing_follows_string2ull() {
        assert_eq!(string2ull(b"0"), Some(0));
        assert_eq!(string2ull(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(string2ull(b"007"), Some(7));
        assert_eq!(string2ull(b"+7"), Some(7));
        assert_eq!(string2ull(b" 7"), Some(7));
        assert_eq!(string2ull(b"-0"), Some(0));
        for bad in [
            &b""[..],
            b"-1",
            b"18446744073709551616",
            b"1x",
            b"7 ",
            b"+",
            b"abc",
            b" ",
        ] {
            assert_eq!(string2ull(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn string_encodings() {
        assert_eq!(encoding_of(ValueRef::Str(b"123"), true), "int");
        assert_eq!(
            encoding_of(ValueRef::Str(b"-9223372036854775808"), true),
            "int"
        );
        assert_eq!(
            encoding_of(ValueRef::Str(b"9223372036854775808"), true),
            "embstr"
        );
        assert_eq!(encoding_of(ValueRef::Str(b"0123"), true), "embstr");
        assert_eq!(encoding_of(ValueRef::Str(&[b'a'; 44]), true), "embstr");
        assert_eq!(encoding_of(ValueRef::Str(&[b'a'; 45]), true), "raw");
        assert_eq!(encoding_of(ValueRef::Str(b"12"), false), "raw");
    }
}
