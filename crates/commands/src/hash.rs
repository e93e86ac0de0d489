//! Hash commands (Redis t_hash.c): HSET and friends, the counters, HRANDFIELD and HSCAN.
//!
//! Semantics follow Redis 7: the order in which errors are detected (argument errors before the
//! key lookup, WRONGTYPE before anything is written), replies in RESP2 and RESP3 (HGETALL is a
//! map, HRANDFIELD WITHVALUES pairs are nested arrays in RESP3), a hash whose last field is removed
//! is deleted, and commands that change nothing never create a key. Encoding conversions
//! (listpack → hashtable) live in `ringkv_engine::types::hash`; HSET/HSETNX/HMSET ask for them up
//! front like Redis's hashTypeTryConversion so OBJECT ENCODING matches.
//!
//! HINCRBYFLOAT uses the strings family's x87 extended-precision arithmetic (`strings::ld`) so it
//! answers exactly like Redis and like INCRBYFLOAT.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, NOT_FLOAT, OVERFLOW, WRONG_TYPE};
use crate::parse::{int_arg, parse_i64};
use crate::shared_args::{
    empty_scan, parse_random_count, parse_random_flag, parse_scan_opts, scan_reply_header,
    string2ull, write_random_sample, RandomSample, ScanOf, INVALID_CURSOR,
};
use crate::strings::{ld, max_string_len};
use crate::table::{flags, CommandSpec};
use crate::typed;
use ringkv_config::notify;
use ringkv_engine::{glob_match, DbRef, HashValue, Rng, Value};
use ringkv_protocol::{Args, Protocol, ReplyWriter};

const RW_DENYOOM_FAST: u32 = flags::WRITE | flags::DENYOOM | flags::FAST;
const RO_FAST: u32 = flags::READONLY | flags::FAST;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("hset", -4, RW_DENYOOM_FAST, hset)
        .keys(1, 1, 1)
        .group("hash")
        .doc(
            "Creates or modifies the value of a field in a hash.",
            "2.0.0",
            "O(1) for each field/value pair added, so O(N) to add N field/value pairs when the command is called with multiple field/value pairs.",
        )
        .syntax("key field value [field value ...]"),
    CommandSpec::new("hsetnx", 4, RW_DENYOOM_FAST, hsetnx)
        .keys(1, 1, 1)
        .group("hash")
        .doc(
            "Sets the value of a field in a hash only when the field doesn't exist.",
            "2.0.0",
            "O(1)",
        )
        .syntax("key field value"),
    CommandSpec::new("hget", 3, RO_FAST, hget)
        .keys(1, 1, 1)
        .group("hash")
        .doc("Returns the value of a field in a hash.", "2.0.0", "O(1)")
        .syntax("key field"),
    CommandSpec::new("hmget", -3, RO_FAST, hmget)
        .keys(1, 1, 1)
        .group("hash")
        .doc(
            "Returns the values of all fields in a hash.",
            "2.0.0",
            "O(N) where N is the number of fields being requested.",
        )
        .syntax("key field [field ...]"),
    CommandSpec::new("hmset", -4, RW_DENYOOM_FAST, hmset)
        .keys(1, 1, 1)
        .group("hash")
        .doc(
            "Sets the values of multiple fields.",
            "2.0.0",
            "O(N) where N is the number of fields being set.",
        )
        .syntax("key field value [field value ...]"),
    CommandSpec::new("hdel", -3, flags::WRITE | flags::FAST, hdel)
        .keys(1, 1, 1)
        .group("hash")
        .doc(
            "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
            "2.0.0",
            "O(N) where N is the number of fields to be removed.",
        )
        .syntax("key field [field ...]"),
    CommandSpec::new("hexists", 3, RO_FAST, hexists)
        .keys(1, 1, 1)
        .group("hash")
        .doc("Determines whether a field exists in a hash.", "2.0.0", "O(1)")
        .syntax("key field"),
    CommandSpec::new("hlen", 2, RO_FAST, hlen)
        .keys(1, 1, 1)
        .group("hash")
        .doc("Returns the number of fields in a hash.", "2.0.0", "O(1)")
        .syntax("key"),
    CommandSpec::new("hstrlen", 3, RO_FAST, hstrlen)
        .keys(1, 1, 1)
        .group("hash")
        .doc("Returns the length of the value of a field.", "3.2.0", "O(1)")
        .syntax("key field"),
    CommandSpec::new("hkeys", 2, flags::READONLY, hkeys)
        .keys(1, 1, 1)
        .group("hash")
        .doc(
            "Returns all fields in a hash.",
            "2.0.0",
            "O(N) where N is the size of the hash.",
        )
        .syntax("key"),
    CommandSpec::new("hvals", 2, flags::READONLY, hvals)
        .keys(1, 1, 1)
        .group("hash")
        .doc(
            "Returns all values in a hash.",
            "2.0.0",
            "O(N) where N is the size of the hash.",
        )
        .syntax("key"),
    CommandSpec::new("hgetall", 2, flags::READONLY, hgetall)
        .keys(1, 1, 1)
        .group("hash")
        .doc(
            "Returns all fields and values in a hash.",
            "2.0.0",
            "O(N) where N is the size of the hash.",
        )
        .syntax("key"),
    CommandSpec::new("hincrby", 4, RW_DENYOOM_FAST, hincrby)
        .keys(1, 1, 1)
        .group("hash")
        .doc(
            "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
            "2.0.0",
            "O(1)",
        )
        .syntax("key field increment"),
    CommandSpec::new("hincrbyfloat", 4, RW_DENYOOM_FAST, hincrbyfloat)
        .keys(1, 1, 1)
        .group("hash")
        .doc(
            "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
            "2.6.0",
            "O(1)",
        )
        .syntax("key field increment"),
    CommandSpec::new("hrandfield", -2, flags::READONLY, hrandfield)
        .keys(1, 1, 1)
        .group("hash")
        .doc(
            "Returns one or more random fields from a hash.",
            "6.2.0",
            "O(N) where N is the number of fields returned",
        )
        .syntax("key [count [WITHVALUES]]"),
    CommandSpec::new("hscan", -3, flags::READONLY, hscan)
        .keys(1, 1, 1)
        .group("hash")
        .doc(
            "Iterates over fields and values of a hash.",
            "2.8.0",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        )
        .syntax("key cursor [MATCH pattern] [COUNT count] [NOVALUES]"),
];

// ---------------------------------------------------------------------------------------------
// Lookups shared with the set family.
// ---------------------------------------------------------------------------------------------

/// The client's database and the reply writer, borrowed together so a handler can write replies
/// while it holds a reference into the keyspace.
pub(crate) fn db_and_out<'c>(ctx: &'c mut Ctx<'_>) -> (DbRef<'c>, &'c mut ReplyWriter) {
    let index = ctx.client.db;
    (ctx.store.db(index), &mut *ctx.out)
}

/// Read lookup (hit/miss statistics): the hash, None if the key is absent, WRONGTYPE otherwise.
fn read_hash<'a>(db: &'a mut DbRef<'_>, key: &[u8]) -> Result<Option<&'a HashValue>, CmdError> {
    typed::read(db, key)
}

/// Write lookup of an existing hash (None if absent): for commands that must not create the key.
fn existing_hash_mut<'a>(
    db: &'a mut DbRef<'_>,
    key: &[u8],
) -> Result<Option<&'a mut HashValue>, CmdError> {
    typed::existing_mut(db, key)
}

/// Write lookup that creates an empty hash if the key is absent (the caller adds to it).
fn hash_mut<'a>(db: &'a mut DbRef<'_>, key: &[u8]) -> Result<&'a mut HashValue, CmdError> {
    typed::get_or_create(db, key, HashValue::new)
}

// ---------------------------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------------------------

fn hset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    hset_generic(ctx, args, "hset")?;
    Ok(())
}

fn hmset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    hset_generic(ctx, args, "hmset")?;
    Ok(())
}

fn hset_generic(ctx: &mut Ctx<'_>, args: Args<'_>, name: &str) -> CmdResult {
    if args.len() % 2 == 1 {
        return Err(CmdError::arity(name));
    }
    let key = args.arg(1);
    let (mut db, out) = db_and_out(ctx);
    let h = hash_mut(&mut db, key)?;
    let pairs = (args.len() - 2) / 2;
    let longest = args.iter().skip(2).map(<[u8]>::len).max().unwrap_or(0);
    h.prepare(pairs, longest);
    let mut created = 0;
    for i in (2..args.len()).step_by(2) {
        if h.insert(args.arg(i), args.arg(i + 1)) {
            created += 1;
        }
    }
    db.signal_modified(key, pairs as u64);
    db.notify(notify::HASH, "hset", key);
    if name == "hset" {
        out.integer(created);
    } else {
        out.ok();
    }
    Ok(())
}

fn hsetnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (key, field, value) = (args.arg(1), args.arg(2), args.arg(3));
    let (mut db, out) = db_and_out(ctx);
    // Redis checks the type before creating anything; an existing field must not create the key
    // either, but an existing field implies an existing key.
    let exists = match db.entry_mut(key) {
        None => false,
        Some(e) => match e.object_mut() {
            Some(Value::Hash(h)) => {
                h.prepare(1, field.len().max(value.len()));
                h.contains(field)
            }
            _ => return Err(WRONG_TYPE),
        },
    };
    if exists {
        out.integer(0);
        return Ok(());
    }
    let h = hash_mut(&mut db, key)?;
    h.prepare(1, field.len().max(value.len()));
    h.insert(field, value);
    db.signal_modified(key, 1);
    db.notify(notify::HASH, "hset", key);
    out.integer(1);
    Ok(())
}

fn hget(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    match read_hash(&mut db, args.arg(1))?.and_then(|h| h.get(args.arg(2))) {
        Some(v) => out.bulk(v),
        None => out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let h = read_hash(&mut db, args.arg(1))?;
    out.array(args.len() - 2);
    for field in args.iter().skip(2) {
        match h.and_then(|h| h.get(field)) {
            Some(v) => out.bulk(v),
            None => out.null(),
        }
    }
    Ok(())
}

fn hdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let (mut db, out) = db_and_out(ctx);
    let Some(h) = existing_hash_mut(&mut db, key)? else {
        out.integer(0);
        return Ok(());
    };
    let mut deleted = 0;
    for field in args.iter().skip(2) {
        if h.remove(field) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        db.signal_modified(key, deleted);
        db.notify(notify::HASH, "hdel", key);
        if db.remove_if_empty(key) {
            db.notify(notify::GENERIC, "del", key);
        }
    }
    out.integer(deleted as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let found = read_hash(&mut db, args.arg(1))?.is_some_and(|h| h.contains(args.arg(2)));
    out.integer(found as i64);
    Ok(())
}

fn hlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let n = read_hash(&mut db, args.arg(1))?.map_or(0, HashValue::len);
    out.integer(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let n = read_hash(&mut db, args.arg(1))?
        .and_then(|h| h.get(args.arg(2)))
        .map_or(0, <[u8]>::len);
    out.integer(n as i64);
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Part {
    Keys,
    Values,
    Both,
}

fn hgetall_generic(ctx: &mut Ctx<'_>, args: Args<'_>, part: Part) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let h = read_hash(&mut db, args.arg(1))?;
    let n = h.map_or(0, HashValue::len);
    if part == Part::Both {
        out.map(n);
    } else {
        out.array(n);
    }
    if let Some(h) = h {
        for (f, v) in h.iter() {
            match part {
                Part::Keys => out.bulk(f),
                Part::Values => out.bulk(v),
                Part::Both => {
                    out.bulk(f);
                    out.bulk(v);
                }
            }
        }
    }
    Ok(())
}

fn hkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    hgetall_generic(ctx, args, Part::Keys)
}

fn hvals(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    hgetall_generic(ctx, args, Part::Values)
}

fn hgetall(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    hgetall_generic(ctx, args, Part::Both)
}

fn hincrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (key, field) = (args.arg(1), args.arg(2));
    let by = int_arg(args.arg(3))?;
    let (mut db, out) = db_and_out(ctx);
    let h = hash_mut(&mut db, key)?;
    let cur = match h.get(field) {
        None => 0,
        Some(v) => parse_i64(v).ok_or(CmdError::Static("ERR hash value is not an integer"))?,
    };
    let new = cur.checked_add(by).ok_or(OVERFLOW)?;
    h.insert(field, new.to_string().as_bytes());
    db.signal_modified(key, 1);
    db.notify(notify::HASH, "hincrby", key);
    out.integer(new);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (key, field) = (args.arg(1), args.arg(2));
    let by = match ld::parse(args.arg(3)) {
        None => return Err(NOT_FLOAT),
        Some(ld::Parsed::Inf(_)) => return Err(CmdError::Static("ERR value is NaN or Infinity")),
        Some(p) => p,
    };
    let (mut db, out) = db_and_out(ctx);
    let h = hash_mut(&mut db, key)?;
    let cur = match h.get(field) {
        None => ld::Parsed::Finite(ld::Ld::ZERO),
        Some(v) => ld::parse(v).ok_or(CmdError::Static("ERR hash value is not a float"))?,
    };
    let sum = ld::add(cur, by).ok_or(CmdError::Static(
        "ERR increment would produce NaN or Infinity",
    ))?;
    let text = ld::format_human(sum);
    h.insert(field, text.as_bytes());
    db.log_effect([&b"HSET"[..], key, field, text.as_bytes()]);
    db.signal_modified(key, 1);
    db.notify(notify::HASH, "hincrbyfloat", key);
    out.bulk(text.as_bytes());
    Ok(())
}

fn hrandfield(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    if args.len() == 2 {
        let mut rng = Rng::new(ctx.store.common.rng.next_u64());
        let (mut db, out) = db_and_out(ctx);
        match read_hash(&mut db, key)?.and_then(|h| h.random(&mut rng)) {
            Some((f, _)) => out.bulk(f),
            None => out.null(),
        }
        return Ok(());
    }
    let l = parse_random_count(args.arg(2))?;
    let withvalues = parse_random_flag(args, l, "withvalues")?;
    let max_reply = max_string_len(ctx) as usize;
    let mut rng = Rng::new(ctx.store.common.rng.next_u64());
    let (mut db, out) = db_and_out(ctx);
    let Some(h) = read_hash(&mut db, key)? else {
        out.array(0);
        return Ok(());
    };
    let resp3 = out.protocol() == Protocol::Resp3;
    let size = h.len();
    let count = l.unsigned_abs();
    if count == 0 || size == 0 {
        out.array(0);
        return Ok(());
    }
    // The listpack has O(n) positional access: index a snapshot of its pairs instead.
    let pairs: Vec<(&[u8], &[u8])> = if h.is_compact() {
        h.iter().collect()
    } else {
        Vec::new()
    };
    let at = |i: usize| -> (&[u8], &[u8]) {
        if pairs.is_empty() {
            h.get_index(i).unwrap_or_default()
        } else {
            pairs[i]
        }
    };
    let emit = |out: &mut ReplyWriter, (f, v): (&[u8], &[u8])| {
        if withvalues && resp3 {
            out.array(2);
        }
        out.bulk(f);
        if withvalues {
            out.bulk(v);
        }
    };
    let header = |out: &mut ReplyWriter, n: usize| {
        out.array(if withvalues && !resp3 { n * 2 } else { n });
    };
    let spec = RandomSample {
        l,
        size,
        max_reply,
        one_repeats: false,
    };
    write_random_sample(out, &mut rng, spec, at, h.iter(), header, emit)
}

fn hscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let cursor = string2ull(args.arg(2)).ok_or(INVALID_CURSOR)?;
    let (mut db, out) = db_and_out(ctx);
    let Some(h) = read_hash(&mut db, args.arg(1))? else {
        empty_scan(out);
        return Ok(());
    };
    let opts = parse_scan_opts(args, 3, ScanOf::Hash)?;
    let mut items: Vec<(&[u8], &[u8])> = Vec::new();
    let next = h.scan(cursor, opts.count, |f, v| {
        if opts.pattern.is_none_or(|p| glob_match(p, f, false)) {
            items.push((f, v));
        }
    });
    scan_reply_header(out, next, items.len() * if opts.novalues { 1 } else { 2 });
    for (f, v) in items {
        out.bulk(f);
        if !opts.novalues {
            out.bulk(v);
        }
    }
    Ok(())
}
