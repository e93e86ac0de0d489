//! Set commands (Redis t_set.c): membership, random pops and samples, SMOVE, the set algebra
//! (SINTER/SUNION/SDIFF, their STORE forms, SINTERCARD) and SSCAN.
//!
//! Semantics follow Redis 7: argument errors before key lookups, every source key type-checked
//! before any work (a missing key is an empty set), STORE forms overwrite a destination of any
//! type (dropping its TTL) or delete it when the result is empty, sets that lose their last member
//! are deleted, and reply types match Redis in RESP3 (SMEMBERS/SINTER/SPOP with a count are sets,
//! SRANDMEMBER with a count and SMISMEMBER arrays).
//!
//! The algebra reads several keys, but the keyspace lends one entry at a time, so SINTER walks the
//! smallest set in chunks and filters each chunk against the other sets (O(N*M) like Redis, memory
//! bounded by the chunk), and SUNION/SDIFF accumulate into a local `SetValue`.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, SYNTAX, WRONG_TYPE};
use crate::hash::db_and_out;
use crate::parse::{is, parse_i64};
use crate::shared_args::{
    empty_scan, parse_numkeys, parse_random_count, parse_scan_opts, scan_reply_header,
    store_result, string2ull, write_random_sample, RandomSample, ScanOf, INVALID_CURSOR,
};
use crate::strings::max_string_len;
use crate::table::{flags, CommandSpec};
use crate::typed;
use ringkv_config::notify;
use ringkv_engine::types::set::Member;
use ringkv_engine::{glob_match, DbRef, Rng, SetValue, Value, ValueRef};
use ringkv_protocol::{Args, ReplyWriter};

const RO_FAST: u32 = flags::READONLY | flags::FAST;
const RW_DENYOOM: u32 = flags::WRITE | flags::DENYOOM;

/// Members of the smallest set copied per round of SINTER filtering.
const INTER_CHUNK: usize = 1024;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sadd", -3, RW_DENYOOM | flags::FAST, sadd)
        .keys(1, 1, 1)
        .group("set")
        .doc(
            "Adds one or more members to a set. Creates the key if it doesn't exist.",
            "1.0.0",
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        )
        .syntax("key member [member ...]"),
    CommandSpec::new("srem", -3, flags::WRITE | flags::FAST, srem)
        .keys(1, 1, 1)
        .group("set")
        .doc(
            "Removes one or more members from a set. Deletes the set if the last member was removed.",
            "1.0.0",
            "O(N) where N is the number of members to be removed.",
        )
        .syntax("key member [member ...]"),
    CommandSpec::new("sismember", 3, RO_FAST, sismember)
        .keys(1, 1, 1)
        .group("set")
        .doc("Determines whether a member belongs to a set.", "1.0.0", "O(1)")
        .syntax("key member"),
    CommandSpec::new("smismember", -3, RO_FAST, smismember)
        .keys(1, 1, 1)
        .group("set")
        .doc(
            "Determines whether multiple members belong to a set.",
            "6.2.0",
            "O(N) where N is the number of elements being checked for membership",
        )
        .syntax("key member [member ...]"),
    CommandSpec::new("smembers", 2, flags::READONLY, smembers)
        .keys(1, 1, 1)
        .group("set")
        .doc(
            "Returns all members of a set.",
            "1.0.0",
            "O(N) where N is the set cardinality.",
        )
        .syntax("key"),
    CommandSpec::new("scard", 2, RO_FAST, scard)
        .keys(1, 1, 1)
        .group("set")
        .doc("Returns the number of members in a set.", "1.0.0", "O(1)")
        .syntax("key"),
    CommandSpec::new("spop", -2, flags::WRITE | flags::FAST, spop)
        .keys(1, 1, 1)
        .group("set")
        .doc(
            "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
            "1.0.0",
            "Without the count argument O(1), otherwise O(N) where N is the value of the passed count.",
        )
        .syntax("key [count]"),
    CommandSpec::new("srandmember", -2, flags::READONLY, srandmember)
        .keys(1, 1, 1)
        .group("set")
        .doc(
            "Get one or multiple random members from a set",
            "1.0.0",
            "Without the count argument O(1), otherwise O(N) where N is the absolute value of the passed count.",
        )
        .syntax("key [count]"),
    CommandSpec::new("smove", 4, flags::WRITE | flags::FAST, smove)
        .keys(1, 2, 1)
        .group("set")
        .doc("Moves a member from one set to another.", "1.0.0", "O(1)")
        .syntax("source destination member"),
    CommandSpec::new("sinter", -2, flags::READONLY, sinter)
        .keys(1, -1, 1)
        .group("set")
        .doc(
            "Returns the intersect of multiple sets.",
            "1.0.0",
            "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        )
        .syntax("key [key ...]"),
    // Keys follow numkeys (Redis: movablekeys, key positions 0 0 0).
    CommandSpec::new("sintercard", -3, flags::READONLY, sintercard)
        .numkeys_at(1)
        .group("set")
        .doc(
            "Returns the number of members of the intersect of multiple sets.",
            "7.0.0",
            "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        )
        .syntax("numkeys key [key ...] [LIMIT limit]"),
    CommandSpec::new("sinterstore", -3, RW_DENYOOM, sinterstore)
        .keys(1, -1, 1)
        .group("set")
        .doc(
            "Stores the intersect of multiple sets in a key.",
            "1.0.0",
            "O(N*M) worst case where N is the cardinality of the smallest set and M is the number of sets.",
        )
        .syntax("destination key [key ...]"),
    CommandSpec::new("sunion", -2, flags::READONLY, sunion)
        .keys(1, -1, 1)
        .group("set")
        .doc(
            "Returns the union of multiple sets.",
            "1.0.0",
            "O(N) where N is the total number of elements in all given sets.",
        )
        .syntax("key [key ...]"),
    CommandSpec::new("sunionstore", -3, RW_DENYOOM, sunionstore)
        .keys(1, -1, 1)
        .group("set")
        .doc(
            "Stores the union of multiple sets in a key.",
            "1.0.0",
            "O(N) where N is the total number of elements in all given sets.",
        )
        .syntax("destination key [key ...]"),
    CommandSpec::new("sdiff", -2, flags::READONLY, sdiff)
        .keys(1, -1, 1)
        .group("set")
        .doc(
            "Returns the difference of multiple sets.",
            "1.0.0",
            "O(N) where N is the total number of elements in all given sets.",
        )
        .syntax("key [key ...]"),
    CommandSpec::new("sdiffstore", -3, RW_DENYOOM, sdiffstore)
        .keys(1, -1, 1)
        .group("set")
        .doc(
            "Stores the difference of multiple sets in a key.",
            "1.0.0",
            "O(N) where N is the total number of elements in all given sets.",
        )
        .syntax("destination key [key ...]"),
    CommandSpec::new("sscan", -3, flags::READONLY, sscan)
        .keys(1, 1, 1)
        .group("set")
        .doc(
            "Iterates over members of a set.",
            "2.8.0",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        )
        .syntax("key cursor [MATCH pattern] [COUNT count]"),
];

// ---------------------------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------------------------

/// Read lookup (hit/miss statistics): the set, None if absent, WRONGTYPE otherwise.
fn read_set<'a>(db: &'a mut DbRef<'_>, key: &[u8]) -> Result<Option<&'a SetValue>, CmdError> {
    typed::read(db, key)
}

/// Lookup without statistics of a key already checked to be a set in this command.
fn peek_set<'a>(db: &'a mut DbRef<'_>, key: &[u8]) -> Option<&'a SetValue> {
    match db.peek(key)?.value() {
        ValueRef::Obj(Value::Set(s)) => Some(s),
        _ => None,
    }
}

/// Write lookup of an existing set: for commands that must not create the key.
fn existing_set_mut<'a>(
    db: &'a mut DbRef<'_>,
    key: &[u8],
) -> Result<Option<&'a mut SetValue>, CmdError> {
    typed::existing_mut(db, key)
}

/// Whether `key` holds a set (Some(true)), nothing (None); WRONGTYPE otherwise. No statistics.
fn check_set(db: &mut DbRef<'_>, key: &[u8]) -> Result<Option<()>, CmdError> {
    match db.entry_mut(key) {
        None => Ok(None),
        Some(e) => match e.value() {
            ValueRef::Obj(Value::Set(_)) => Ok(Some(())),
            _ => Err(WRONG_TYPE),
        },
    }
}

/// After members were removed from `key`: raises `event`, then deletes the key if it became
/// empty (with its "del" event), as Redis does.
fn after_removal(db: &mut DbRef<'_>, key: &[u8], event: &'static str) {
    db.notify(notify::SET, event, key);
    if db.remove_if_empty(key) {
        db.notify(notify::GENERIC, "del", key);
    }
}

fn emit(out: &mut ReplyWriter, m: Member<'_>) {
    match m {
        Member::Int(v) => out.bulk_i64(v),
        Member::Bytes(b) => out.bulk(b),
    }
}

fn reply_members(out: &mut ReplyWriter, s: &SetValue) {
    out.set(s.len());
    for m in s.iter() {
        emit(out, m);
    }
}

// ---------------------------------------------------------------------------------------------
// Single-key commands
// ---------------------------------------------------------------------------------------------

fn sadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let (mut db, out) = db_and_out(ctx);
    let hint = args.len() - 2;
    let s = typed::get_or_create(&mut db, key, || SetValue::with_hint(args.arg(2), hint))?;
    let added = args.iter().skip(2).filter(|m| s.insert(m)).count();
    if added > 0 {
        db.signal_modified(key, added as u64);
        db.notify(notify::SET, "sadd", key);
    }
    out.integer(added as i64);
    Ok(())
}

fn srem(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let (mut db, out) = db_and_out(ctx);
    let Some(s) = existing_set_mut(&mut db, key)? else {
        out.integer(0);
        return Ok(());
    };
    let mut removed = 0;
    for m in args.iter().skip(2) {
        if s.remove(m) {
            removed += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        db.signal_modified(key, removed);
        after_removal(&mut db, key, "srem");
    }
    out.integer(removed as i64);
    Ok(())
}

fn sismember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let found = read_set(&mut db, args.arg(1))?.is_some_and(|s| s.contains(args.arg(2)));
    out.integer(found as i64);
    Ok(())
}

fn smismember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let s = read_set(&mut db, args.arg(1))?;
    out.array(args.len() - 2);
    for m in args.iter().skip(2) {
        out.integer(s.is_some_and(|s| s.contains(m)) as i64);
    }
    Ok(())
}

fn smembers(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    match read_set(&mut db, args.arg(1))? {
        Some(s) => reply_members(out, s),
        None => out.set(0),
    }
    Ok(())
}

fn scard(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let n = read_set(&mut db, args.arg(1))?.map_or(0, SetValue::len);
    out.integer(n as i64);
    Ok(())
}

fn spop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    if args.len() > 3 {
        return Err(SYNTAX);
    }
    // Redis getPositiveLongFromObjectOrReply: one message for non-integers and negatives.
    let count = match args.get(2) {
        Some(c) => match parse_i64(c) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => {
                return Err(CmdError::Static(
                    "ERR value is out of range, must be positive",
                ))
            }
        },
        None => None,
    };
    let mut rng = Rng::new(ctx.store.common.rng.next_u64());
    let logging = ctx.store.common.oplog.is_enabled();
    let (mut db, out) = db_and_out(ctx);
    let Some(s) = existing_set_mut(&mut db, key)? else {
        match count {
            None => out.null(),
            Some(_) => out.set(0),
        }
        return Ok(());
    };
    let Some(count) = count else {
        match s.pop_random(&mut rng) {
            Some(m) => {
                out.bulk(&m);
                db.log_effect([&b"SREM"[..], key, &m]);
            }
            None => out.null(),
        }
        db.signal_modified(key, 1);
        after_removal(&mut db, key, "spop");
        return Ok(());
    };
    if count == 0 {
        out.set(0);
        return Ok(());
    }
    let size = s.len() as u64;
    if count >= size {
        // The whole set: reply with it and delete the key.
        reply_members(out, s);
        db.notify(notify::SET, "spop", key);
        db.log_effect([&b"DEL"[..], key]);
        db.remove(key);
        db.notify(notify::GENERIC, "del", key);
        return Ok(());
    }
    out.set(count as usize);
    let mut popped = Vec::new();
    for _ in 0..count {
        if let Some(m) = s.pop_random(&mut rng) {
            out.bulk(&m);
            if logging {
                popped.push(m);
            }
        }
    }
    if logging {
        let mut srem: Vec<&[u8]> = vec![b"SREM", key];
        srem.extend(popped.iter().map(|m| m.as_slice()));
        db.log_effect(srem);
    }
    db.signal_modified(key, count);
    db.notify(notify::SET, "spop", key);
    Ok(())
}

fn srandmember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    if args.len() > 3 {
        return Err(SYNTAX);
    }
    if args.len() == 2 {
        let mut rng = Rng::new(ctx.store.common.rng.next_u64());
        let (mut db, out) = db_and_out(ctx);
        match read_set(&mut db, key)?.and_then(|s| s.random(&mut rng)) {
            Some(m) => emit(out, m),
            None => out.null(),
        }
        return Ok(());
    }
    let l = parse_random_count(args.arg(2))?;
    let max_reply = max_string_len(ctx) as usize;
    let mut rng = Rng::new(ctx.store.common.rng.next_u64());
    let (mut db, out) = db_and_out(ctx);
    let Some(s) = read_set(&mut db, key)? else {
        out.array(0);
        return Ok(());
    };
    let size = s.len();
    let count = l.unsigned_abs();
    if count == 0 || size == 0 {
        out.array(0);
        return Ok(());
    }
    // The listpack has O(n) positional access: index a snapshot of its members instead.
    let snapshot: Vec<Member<'_>> = if s.is_compact() {
        s.iter().collect()
    } else {
        Vec::new()
    };
    let at = |i: usize| -> Member<'_> {
        match snapshot.get(i) {
            Some(m) => *m,
            None => s.get_index(i).unwrap_or(Member::Bytes(b"")),
        }
    };
    let spec = RandomSample {
        l,
        size,
        max_reply,
        one_repeats: false,
    };
    let header = |out: &mut ReplyWriter, n: usize| out.array(n);
    write_random_sample(out, &mut rng, spec, at, s.iter(), header, emit)
}

fn smove(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (src, dst, member) = (args.arg(1), args.arg(2), args.arg(3));
    let (mut db, out) = db_and_out(ctx);
    if check_set(&mut db, src)?.is_none() {
        out.integer(0);
        return Ok(());
    }
    check_set(&mut db, dst)?;
    if src == dst {
        let found = peek_set(&mut db, src).is_some_and(|s| s.contains(member));
        out.integer(found as i64);
        return Ok(());
    }
    let removed = existing_set_mut(&mut db, src)?.is_some_and(|s| s.remove(member));
    if !removed {
        out.integer(0);
        return Ok(());
    }
    db.signal_modified(src, 1);
    after_removal(&mut db, src, "srem");
    if typed::get_or_create(&mut db, dst, || SetValue::with_hint(member, 1))?.insert(member) {
        db.signal_modified(dst, 1);
        db.notify(notify::SET, "sadd", dst);
    }
    out.integer(1);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Set algebra
// ---------------------------------------------------------------------------------------------

/// Looks up every source key once (read lookups count hits/misses, as Redis's lookupKeyRead),
/// failing with WRONGTYPE if any holds another type. Returns each key's cardinality, None when
/// absent.
fn source_sizes<'k>(
    db: &mut DbRef<'_>,
    keys: impl Iterator<Item = &'k [u8]>,
) -> Result<Vec<Option<usize>>, CmdError> {
    keys.map(|k| Ok(read_set(db, k)?.map(SetValue::len)))
        .collect()
}

/// Calls `visit` with each member of the intersection of `keys` (all present) until it returns
/// false. Walks the smallest set in chunks and filters each chunk through the others, smallest
/// first, so members are discarded as early as possible.
fn for_each_inter(
    db: &mut DbRef<'_>,
    keys: &[&[u8]],
    sizes: &[usize],
    mut visit: impl FnMut(&[u8]) -> bool,
) {
    let mut order: Vec<usize> = (0..keys.len()).collect();
    order.sort_by_key(|&i| sizes[i]);
    let first = keys[order[0]];
    let total = sizes[order[0]];
    let mut pos = 0;
    let mut chunk: Vec<Vec<u8>> = Vec::new();
    while pos < total {
        chunk.clear();
        match peek_set(db, first) {
            None => return,
            Some(s) if s.is_compact() => {
                chunk.extend(s.iter().map(|m| m.to_vec()));
                pos = total;
            }
            Some(s) => {
                let end = (pos + INTER_CHUNK).min(total);
                chunk.extend(
                    (pos..end)
                        .filter_map(|i| s.get_index(i))
                        .map(|m| m.to_vec()),
                );
                pos = end;
            }
        }
        for &j in &order[1..] {
            if chunk.is_empty() {
                break;
            }
            match peek_set(db, keys[j]) {
                Some(other) => chunk.retain(|m| other.contains(m)),
                None => chunk.clear(),
            }
        }
        for m in &chunk {
            if !visit(m) {
                return;
            }
        }
    }
}

/// Collects the intersection into a new set (None if some key is absent: empty result).
fn inter_set(db: &mut DbRef<'_>, keys: &[&[u8]], sizes: &[Option<usize>]) -> SetValue {
    let mut result = SetValue::new();
    let Some(sizes) = sizes.iter().copied().collect::<Option<Vec<usize>>>() else {
        return result;
    };
    for_each_inter(db, keys, &sizes, |m| {
        result.insert(m);
        true
    });
    result
}

fn union_set(db: &mut DbRef<'_>, keys: &[&[u8]]) -> SetValue {
    let mut result = SetValue::new();
    for k in keys {
        if let Some(s) = peek_set(db, k) {
            for m in s.iter() {
                m.with_bytes(|b| result.insert(b));
            }
        }
    }
    result
}

fn diff_set(db: &mut DbRef<'_>, keys: &[&[u8]]) -> SetValue {
    let mut result = SetValue::new();
    match peek_set(db, keys[0]) {
        Some(s) => {
            for m in s.iter() {
                m.with_bytes(|b| result.insert(b));
            }
        }
        None => return result,
    }
    for k in &keys[1..] {
        if result.is_empty() {
            break;
        }
        let Some(other) = peek_set(db, k) else {
            continue;
        };
        // Walk whichever side is smaller.
        if other.len() < result.len() {
            for m in other.iter() {
                m.with_bytes(|b| result.remove(b));
            }
        } else {
            result.retain(|m| !m.with_bytes(|b| other.contains(b)));
        }
    }
    result
}

#[derive(Clone, Copy)]
enum SetOp {
    Inter,
    Union,
    Diff,
}

fn keys_from(args: Args<'_>, start: usize) -> Vec<&[u8]> {
    (start..args.len()).map(|i| args.arg(i)).collect()
}

fn algebra(ctx: &mut Ctx<'_>, args: Args<'_>, op: SetOp) -> CmdResult {
    let keys = keys_from(args, 1);
    let (mut db, out) = db_and_out(ctx);
    let sizes = source_sizes(&mut db, keys.iter().copied())?;
    match op {
        SetOp::Inter => {
            let Some(sizes) = sizes.iter().copied().collect::<Option<Vec<usize>>>() else {
                out.set(0);
                return Ok(());
            };
            // Members stream straight into the reply; the count is patched in at the end.
            let d = out.begin_deferred();
            let mut n = 0;
            for_each_inter(&mut db, &keys, &sizes, |m| {
                out.bulk(m);
                n += 1;
                true
            });
            out.finish_deferred_set(d, n);
        }
        SetOp::Union => reply_members(out, &union_set(&mut db, &keys)),
        SetOp::Diff => reply_members(out, &diff_set(&mut db, &keys)),
    }
    Ok(())
}

fn algebra_store(ctx: &mut Ctx<'_>, args: Args<'_>, op: SetOp) -> CmdResult {
    let dst = args.arg(1);
    let keys = keys_from(args, 2);
    let (mut db, out) = db_and_out(ctx);
    let sizes = source_sizes(&mut db, keys.iter().copied())?;
    let result = match op {
        SetOp::Inter => inter_set(&mut db, &keys, &sizes),
        SetOp::Union => union_set(&mut db, &keys),
        SetOp::Diff => diff_set(&mut db, &keys),
    };
    let n = result.len();
    let event = match op {
        SetOp::Inter => "sinterstore",
        SetOp::Union => "sunionstore",
        SetOp::Diff => "sdiffstore",
    };
    let value = || Value::Set(result);
    store_result(&mut db, out, dst, n, value, notify::SET, event);
    Ok(())
}

fn sinter(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    algebra(ctx, args, SetOp::Inter)
}

fn sunion(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    algebra(ctx, args, SetOp::Union)
}

fn sdiff(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    algebra(ctx, args, SetOp::Diff)
}

fn sinterstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    algebra_store(ctx, args, SetOp::Inter)
}

fn sunionstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    algebra_store(ctx, args, SetOp::Union)
}

fn sdiffstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    algebra_store(ctx, args, SetOp::Diff)
}

fn sintercard(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let numkeys = parse_numkeys(args.arg(1))?;
    if numkeys > (args.len() - 2) as u64 {
        return Err(crate::error::NUMKEYS_TOO_MANY);
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if is(args.arg(i), "limit") && i + 1 < args.len() {
            limit = match parse_i64(args.arg(i + 1)) {
                Some(l) if l >= 0 => usize::try_from(l).unwrap_or(usize::MAX),
                _ => return Err(CmdError::Static("ERR LIMIT can't be negative")),
            };
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    let keys = keys_from(args, 2);
    let keys = &keys[..numkeys];
    let (mut db, out) = db_and_out(ctx);
    let sizes = source_sizes(&mut db, keys.iter().copied())?;
    let Some(sizes) = sizes.into_iter().collect::<Option<Vec<usize>>>() else {
        out.integer(0);
        return Ok(());
    };
    let mut n = 0usize;
    for_each_inter(&mut db, keys, &sizes, |_| {
        n += 1;
        limit == 0 || n < limit
    });
    out.integer(n as i64);
    Ok(())
}

fn sscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let cursor = string2ull(args.arg(2)).ok_or(INVALID_CURSOR)?;
    let (mut db, out) = db_and_out(ctx);
    let Some(s) = read_set(&mut db, args.arg(1))? else {
        empty_scan(out);
        return Ok(());
    };
    let opts = parse_scan_opts(args, 3, ScanOf::Collection)?;
    let mut items: Vec<Member<'_>> = Vec::new();
    let next = s.scan(cursor, opts.count, |m| {
        let keep = match opts.pattern {
            None => true,
            Some(p) => m.with_bytes(|b| glob_match(p, b, false)),
        };
        if keep {
            items.push(m);
        }
    });
    scan_reply_header(out, next, items.len());
    for m in items {
        emit(out, m);
    }
    Ok(())
}
