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
use crate::error::{CmdError, CmdResult, NOT_FLOAT, NOT_INTEGER, OVERFLOW, SYNTAX, WRONG_TYPE};
use crate::parse::{int_arg, is, parse_i64};
use crate::strings::{ld, max_string_len};
use crate::table::{flags, CommandSpec};
use ringkv_config::notify;
use ringkv_engine::{glob_match, DbRef, HashValue, Rng, Value, ValueRef};
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
    match db.get(key) {
        None => Ok(None),
        Some(ValueRef::Obj(Value::Hash(h))) => Ok(Some(h)),
        Some(_) => Err(WRONG_TYPE),
    }
}

/// Write lookup of an existing hash (None if absent): for commands that must not create the key.
fn existing_hash_mut<'a>(
    db: &'a mut DbRef<'_>,
    key: &[u8],
) -> Result<Option<&'a mut HashValue>, CmdError> {
    match db.entry_mut(key) {
        None => Ok(None),
        Some(e) => match e.object_mut() {
            Some(Value::Hash(h)) => Ok(Some(h)),
            _ => Err(WRONG_TYPE),
        },
    }
}

/// Write lookup that creates an empty hash if the key is absent (the caller adds to it).
fn hash_mut<'a>(db: &'a mut DbRef<'_>, key: &[u8]) -> Result<&'a mut HashValue, CmdError> {
    match db.value_mut_or_insert(key, || Value::Hash(HashValue::new()))? {
        Value::Hash(h) => Ok(h),
        _ => Err(WRONG_TYPE),
    }
}

/// The SCAN cursor, parsed like Redis's string2ull: a canonical integer, or failing that what
/// strtoull accepts over the whole string (leading whitespace, '+', leading zeros); negative
/// values and values beyond u64 are invalid. (Same rules as SCAN in `keys`.)
pub(crate) fn parse_cursor(s: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let start = s
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r'))?;
    let trimmed = &s[start..];
    let (neg, digits) = match trimmed.first() {
        Some(b'+') => (false, &trimmed[1..]),
        Some(b'-') => (true, &trimmed[1..]),
        _ => (false, trimmed),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg && v != 0 {
        return None;
    }
    Some(v)
}

pub(crate) const INVALID_CURSOR: CmdError = CmdError::Static("ERR invalid cursor");

/// Options of HSCAN/SSCAN after the cursor.
pub(crate) struct ScanOpts<'a> {
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    pub novalues: bool,
}

/// Parses `[MATCH pattern] [COUNT count] [NOVALUES]` from argument 3 on. NOVALUES is accepted only
/// for HSCAN (Redis 7.4's error text otherwise).
pub(crate) fn parse_scan_opts(
    args: Args<'_>,
    allow_novalues: bool,
) -> Result<ScanOpts<'_>, CmdError> {
    let mut o = ScanOpts {
        pattern: None,
        count: 10,
        novalues: false,
    };
    let mut i = 3;
    while i < args.len() {
        let opt = args.arg(i);
        let has_value = i + 1 < args.len();
        if is(opt, "count") && has_value {
            let n = int_arg(args.arg(i + 1))?;
            if n < 1 {
                return Err(SYNTAX);
            }
            o.count = usize::try_from(n).unwrap_or(usize::MAX);
            i += 2;
        } else if is(opt, "match") && has_value {
            let p = args.arg(i + 1);
            // "*" matches everything: skip the matching work.
            o.pattern = if p == b"*" { None } else { Some(p) };
            i += 2;
        } else if is(opt, "novalues") {
            if !allow_novalues {
                return Err(CmdError::Static(
                    "ERR NOVALUES option can only be used in HSCAN",
                ));
            }
            o.novalues = true;
            i += 1;
        } else {
            return Err(SYNTAX);
        }
    }
    Ok(o)
}

/// The empty scan reply `["0", []]` for a missing key.
pub(crate) fn empty_scan(out: &mut ReplyWriter) {
    out.array(2);
    out.bulk(b"0");
    out.array(0);
}

// ---------------------------------------------------------------------------------------------
// Random sampling shared with SRANDMEMBER.
// ---------------------------------------------------------------------------------------------

/// `count` distinct positions out of `0..len` (count < len), uniformly: a partial Fisher-Yates
/// shuffle when count is a large share of len, rejection sampling otherwise (Redis's cases 3/4),
/// so work and memory stay O(count) for small counts and O(len) at worst.
pub(crate) fn sample_distinct(len: usize, count: usize, rng: &mut Rng) -> Vec<usize> {
    if count.saturating_mul(3) > len {
        let mut idx: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = i + rng.below((len - i) as u64) as usize;
            idx.swap(i, j);
        }
        idx.truncate(count);
        idx
    } else {
        let mut seen = std::collections::HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            let i = rng.below(len as u64) as usize;
            if seen.insert(i) {
                out.push(i);
            }
        }
        out
    }
}

/// Error for a repetition count whose reply would exceed proto-max-bulk-len (Redis has no such
/// bound and would try to build it; we refuse rather than allocate without limit).
pub(crate) const REPLY_TOO_LARGE: CmdError = CmdError::Static("ERR value is out of range");

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
    let l = match parse_i64(args.arg(2)) {
        None => return Err(NOT_INTEGER),
        Some(i64::MIN) => {
            return Err(CmdError::Static(
                "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ))
        }
        Some(l) => l,
    };
    let withvalues = match args.len() {
        3 => false,
        4 if is(args.arg(3), "withvalues") => {
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
                return Err(CmdError::Static("ERR value is out of range"));
            }
            true
        }
        _ => return Err(SYNTAX),
    };
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
    if l < 0 {
        // With repetition: `count` independent draws. The reply is bounded by proto-max-bulk-len.
        let start = out.len();
        let n = usize::try_from(count).unwrap_or(usize::MAX);
        header(out, n);
        for _ in 0..n {
            emit(out, at(rng.below(size as u64) as usize));
            if out.len() - start > max_reply {
                out.truncate(start);
                return Err(REPLY_TOO_LARGE);
            }
        }
        return Ok(());
    }
    let count = count as usize;
    if count >= size {
        header(out, size);
        for p in h.iter() {
            emit(out, p);
        }
        return Ok(());
    }
    header(out, count);
    for i in sample_distinct(size, count, &mut rng) {
        emit(out, at(i));
    }
    Ok(())
}

fn hscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let cursor = parse_cursor(args.arg(2)).ok_or(INVALID_CURSOR)?;
    let (mut db, out) = db_and_out(ctx);
    let Some(h) = read_hash(&mut db, args.arg(1))? else {
        empty_scan(out);
        return Ok(());
    };
    let opts = parse_scan_opts(args, true)?;
    let mut items: Vec<(&[u8], &[u8])> = Vec::new();
    let next = h.scan(cursor, opts.count, |f, v| {
        if opts.pattern.is_none_or(|p| glob_match(p, f, false)) {
            items.push((f, v));
        }
    });
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(items.len() * if opts.novalues { 1 } else { 2 });
    for (f, v) in items {
        out.bulk(f);
        if !opts.novalues {
            out.bulk(v);
        }
    }
    Ok(())
}
