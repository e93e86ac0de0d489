//! List commands (Redis t_list.c), the non-blocking ones: pushes and pops at both ends, indexing,
//! ranges, LINSERT/LSET/LREM/LTRIM, LPOS, LMOVE/RPOPLPUSH and LMPOP.
//!
//! Semantics follow Redis 7: arguments are validated in Redis's order (some before and some after
//! the key lookup, which decides which error a client sees), commands that change nothing never
//! create a key, a list that loses its last element is deleted, and every change is signalled
//! (dirty count, WATCH, blocked clients) and raises Redis's keyspace events. The blocking variants
//! (BLPOP & co.) live with the blocking machinery.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, NO_SUCH_KEY, SYNTAX};
use crate::hash::db_and_out;
use crate::parse::{int_arg, is, parse_i64};
use crate::shared_args::{parse_mpop, Mpop};
use crate::table::{flags, CommandSpec};
use crate::typed;
use ringkv_config::notify;
use ringkv_engine::{DbRef, ListValue};
use ringkv_protocol::Args;

const RW_DENYOOM: u32 = flags::WRITE | flags::DENYOOM;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("lpush", -3, RW_DENYOOM | flags::FAST, lpush)
        .keys(1, 1, 1)
        .group("list")
        .doc(
            "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
            "1.0.0",
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        )
        .syntax("key element [element ...]"),
    CommandSpec::new("rpush", -3, RW_DENYOOM | flags::FAST, rpush)
        .keys(1, 1, 1)
        .group("list")
        .doc(
            "Appends one or more elements to a list. Creates the key if it doesn't exist.",
            "1.0.0",
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        )
        .syntax("key element [element ...]"),
    CommandSpec::new("lpushx", -3, RW_DENYOOM | flags::FAST, lpushx)
        .keys(1, 1, 1)
        .group("list")
        .doc(
            "Prepends one or more elements to a list only when the list exists.",
            "2.2.0",
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        )
        .syntax("key element [element ...]"),
    CommandSpec::new("rpushx", -3, RW_DENYOOM | flags::FAST, rpushx)
        .keys(1, 1, 1)
        .group("list")
        .doc(
            "Appends an element to a list only when the list exists.",
            "2.2.0",
            "O(1) for each element added, so O(N) to add N elements when the command is called with multiple arguments.",
        )
        .syntax("key element [element ...]"),
    CommandSpec::new("lpop", -2, flags::WRITE | flags::FAST, lpop)
        .keys(1, 1, 1)
        .group("list")
        .doc(
            "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
            "1.0.0",
            "O(N) where N is the number of elements returned",
        )
        .syntax("key [count]"),
    CommandSpec::new("rpop", -2, flags::WRITE | flags::FAST, rpop)
        .keys(1, 1, 1)
        .group("list")
        .doc(
            "Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
            "1.0.0",
            "O(N) where N is the number of elements returned",
        )
        .syntax("key [count]"),
    CommandSpec::new("llen", 2, flags::READONLY | flags::FAST, llen)
        .keys(1, 1, 1)
        .group("list")
        .doc("Returns the length of a list.", "1.0.0", "O(1)")
        .syntax("key"),
    CommandSpec::new("lrange", 4, flags::READONLY, lrange)
        .keys(1, 1, 1)
        .group("list")
        .doc(
            "Returns a range of elements from a list.",
            "1.0.0",
            "O(S+N) where S is the distance of start offset from HEAD for small lists, from nearest end (HEAD or TAIL) for large lists; and N is the number of elements in the specified range.",
        )
        .syntax("key start stop"),
    CommandSpec::new("lindex", 3, flags::READONLY, lindex)
        .keys(1, 1, 1)
        .group("list")
        .doc(
            "Returns an element from a list by its index.",
            "1.0.0",
            "O(N) where N is the number of elements to traverse to get to the element at index. This makes asking for the first or the last element of the list O(1).",
        )
        .syntax("key index"),
    CommandSpec::new("lset", 4, RW_DENYOOM, lset)
        .keys(1, 1, 1)
        .group("list")
        .doc(
            "Sets the value of an element in a list by its index.",
            "1.0.0",
            "O(N) where N is the length of the list. Setting either the first or the last element of the list is O(1).",
        )
        .syntax("key index element"),
    CommandSpec::new("linsert", 5, RW_DENYOOM, linsert)
        .keys(1, 1, 1)
        .group("list")
        .doc(
            "Inserts an element before or after another element in a list.",
            "2.2.0",
            "O(N) where N is the number of elements to traverse before seeing the value pivot. This means that inserting somewhere on the left end on the list (head) can be considered O(1) and inserting somewhere on the right end (tail) is O(N).",
        )
        .syntax("key <BEFORE | AFTER> pivot element"),
    CommandSpec::new("lrem", 4, flags::WRITE, lrem)
        .keys(1, 1, 1)
        .group("list")
        .doc(
            "Removes elements from a list. Deletes the list if the last element was removed.",
            "1.0.0",
            "O(N+M) where N is the length of the list and M is the number of elements removed.",
        )
        .syntax("key count element"),
    CommandSpec::new("ltrim", 4, flags::WRITE, ltrim)
        .keys(1, 1, 1)
        .group("list")
        .doc(
            "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
            "1.0.0",
            "O(N) where N is the number of elements to be removed by the operation.",
        )
        .syntax("key start stop"),
    CommandSpec::new("lpos", -3, flags::READONLY, lpos)
        .keys(1, 1, 1)
        .group("list")
        .doc(
            "Returns the index of matching elements in a list.",
            "6.0.6",
            "O(N) where N is the number of elements in the list, for the average case. When searching for elements near the head or the tail of the list, or when the MAXLEN option is provided, the command may run in constant time.",
        )
        .syntax("key element [RANK rank] [COUNT num-matches] [MAXLEN len]"),
    CommandSpec::new("lmove", 5, RW_DENYOOM, lmove)
        .keys(1, 2, 1)
        .group("list")
        .doc(
            "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
            "6.2.0",
            "O(1)",
        )
        .syntax("source destination <LEFT | RIGHT> <LEFT | RIGHT>"),
    CommandSpec::new("rpoplpush", 3, RW_DENYOOM, rpoplpush)
        .keys(1, 2, 1)
        .group("list")
        .doc(
            "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
            "1.2.0",
            "O(1)",
        )
        .syntax("source destination"),
    // Keys follow numkeys (Redis: movablekeys, key positions 0 0 0).
    CommandSpec::new("lmpop", -4, flags::WRITE, lmpop)
        .numkeys_at(1)
        .group("list")
        .doc(
            "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
            "7.0.0",
            "O(N+M) where N is the number of provided keys and M is the number of elements returned.",
        )
        .syntax("numkeys key [key ...] <LEFT | RIGHT> [COUNT count]"),
];

const INDEX_OUT_OF_RANGE: CmdError = CmdError::Static("ERR index out of range");

// ---------------------------------------------------------------------------------------------
// Lookups
// ---------------------------------------------------------------------------------------------

/// Read lookup (hit/miss statistics): the list, None if absent, WRONGTYPE otherwise.
fn read_list<'a>(db: &'a mut DbRef<'_>, key: &[u8]) -> Result<Option<&'a ListValue>, CmdError> {
    typed::read(db, key)
}

/// Write lookup of an existing list (None if absent): for commands that must not create the key.
pub(crate) fn existing_list_mut<'a>(
    db: &'a mut DbRef<'_>,
    key: &[u8],
) -> Result<Option<&'a mut ListValue>, CmdError> {
    typed::existing_mut(db, key)
}

/// The list at `key`, created empty if absent (the caller adds to it right away).
fn list_or_create<'a>(db: &'a mut DbRef<'_>, key: &[u8]) -> Result<&'a mut ListValue, CmdError> {
    typed::get_or_create(db, key, ListValue::default)
}

/// After elements were removed: signal, raise `event`, delete the key if it became empty.
pub(crate) fn after_removal(db: &mut DbRef<'_>, key: &[u8], removed: usize, event: &'static str) {
    db.signal_modified(key, removed as u64);
    db.notify(notify::LIST, event, key);
    if db.remove_if_empty(key) {
        db.notify(notify::GENERIC, "del", key);
    }
}

/// Redis's index normalisation for ranges: negative indexes count from the tail, the start is
/// clamped to 0 and the end to the last element. None when the range is empty.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let mut start = if start < 0 {
        len.saturating_add(start)
    } else {
        start
    };
    let mut end = if end < 0 {
        len.saturating_add(end)
    } else {
        end
    };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= len {
        return None;
    }
    if end >= len {
        end = len - 1;
    }
    Some((start as usize, end as usize))
}

/// A pop count (Redis getPositiveLongFromObjectOrReply without a message: one error text for
/// negative and non-integer values alike).
pub(crate) fn positive_count(arg: &[u8]) -> Result<usize, CmdError> {
    match parse_i64(arg) {
        Some(c) if c >= 0 => Ok(c as usize),
        _ => Err(CmdError::Static(
            "ERR value is out of range, must be positive",
        )),
    }
}

/// LEFT/RIGHT (Redis getListPositionFromObjectOrReply): true for LEFT (the head).
pub(crate) fn parse_side(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "left") {
        Ok(true)
    } else if is(arg, "right") {
        Ok(false)
    } else {
        Err(SYNTAX)
    }
}

// ---------------------------------------------------------------------------------------------
// Pushes and pops
// ---------------------------------------------------------------------------------------------

fn lpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    push_generic(ctx, args, true, false)
}

fn rpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    push_generic(ctx, args, false, false)
}

fn lpushx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    push_generic(ctx, args, true, true)
}

fn rpushx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    push_generic(ctx, args, false, true)
}

fn push_generic(ctx: &mut Ctx<'_>, args: Args<'_>, head: bool, only_existing: bool) -> CmdResult {
    let key = args.arg(1);
    let (mut db, out) = db_and_out(ctx);
    let list = if only_existing {
        match existing_list_mut(&mut db, key)? {
            Some(l) => l,
            None => {
                out.integer(0);
                return Ok(());
            }
        }
    } else {
        list_or_create(&mut db, key)?
    };
    for v in args.iter().skip(2) {
        if head {
            list.push_front(v);
        } else {
            list.push_back(v);
        }
    }
    let len = list.len();
    db.signal_modified(key, (args.len() - 2) as u64);
    db.notify(notify::LIST, if head { "lpush" } else { "rpush" }, key);
    out.integer(len as i64);
    Ok(())
}

fn lpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    pop_generic(ctx, args, true)
}

fn rpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    pop_generic(ctx, args, false)
}

fn pop_generic(ctx: &mut Ctx<'_>, args: Args<'_>, head: bool) -> CmdResult {
    let name = if head { "lpop" } else { "rpop" };
    if args.len() > 3 {
        return Err(CmdError::arity(name));
    }
    let count = match args.get(2) {
        Some(a) => Some(positive_count(a)?),
        None => None,
    };
    let key = args.arg(1);
    let (mut db, out) = db_and_out(ctx);
    let Some(list) = existing_list_mut(&mut db, key)? else {
        if count.is_some() {
            out.null_array();
        } else {
            out.null();
        }
        return Ok(());
    };
    let removed = match count {
        Some(0) => {
            out.array(0);
            return Ok(());
        }
        None => {
            let v = if head {
                list.pop_front()
            } else {
                list.pop_back()
            };
            match v {
                Some(v) => out.bulk(&v),
                None => out.null(),
            }
            1
        }
        Some(c) => {
            let len = list.len();
            let n = c.min(len);
            out.array(n);
            if head {
                for v in list.range(0, n) {
                    out.bulk(v);
                }
                list.remove_front(n);
            } else {
                for v in list.range(len - n, len).rev() {
                    out.bulk(v);
                }
                list.remove_back(n);
            }
            n
        }
    };
    after_removal(&mut db, key, removed, name);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Reads
// ---------------------------------------------------------------------------------------------

fn llen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let n = read_list(&mut db, args.arg(1))?.map_or(0, |l| l.len());
    out.integer(n as i64);
    Ok(())
}

fn lrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let start = int_arg(args.arg(2))?;
    let end = int_arg(args.arg(3))?;
    let (mut db, out) = db_and_out(ctx);
    let Some(list) = read_list(&mut db, args.arg(1))? else {
        out.array(0);
        return Ok(());
    };
    match clamp_range(start, end, list.len()) {
        None => out.array(0),
        Some((s, e)) => {
            out.array(e - s + 1);
            for v in list.range(s, e + 1) {
                out.bulk(v);
            }
        }
    }
    Ok(())
}

/// A possibly negative index into a list of `len` elements.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        (len as i64).checked_add(index)?
    } else {
        index
    };
    if i >= 0 && (i as u64) < len as u64 {
        Some(i as usize)
    } else {
        None
    }
}

fn lindex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let Some(list) = read_list(&mut db, args.arg(1))? else {
        out.null();
        return Ok(());
    };
    let index = int_arg(args.arg(2))?;
    match resolve_index(index, list.len()).and_then(|i| list.get(i)) {
        Some(v) => out.bulk(v),
        None => out.null(),
    }
    Ok(())
}

fn lpos(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let element = args.arg(2);
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = args.arg(j);
        let more = j + 1 < args.len();
        if is(opt, "rank") && more {
            j += 1;
            rank = match parse_i64(args.arg(j)) {
                None => return Err(crate::error::NOT_INTEGER),
                Some(i64::MIN) => {
                    return Err(CmdError::Static(
                        "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
                    ))
                }
                Some(r) => r,
            };
            if rank == 0 {
                return Err(CmdError::Static(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list",
                ));
            }
        } else if is(opt, "count") && more {
            j += 1;
            count = Some(match parse_i64(args.arg(j)) {
                Some(c) if c >= 0 => c as usize,
                _ => return Err(CmdError::Static("ERR COUNT can't be negative")),
            });
        } else if is(opt, "maxlen") && more {
            j += 1;
            maxlen = match parse_i64(args.arg(j)) {
                Some(m) if m >= 0 => m as usize,
                _ => return Err(CmdError::Static("ERR MAXLEN can't be negative")),
            };
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    let from_tail = rank < 0;
    let rank = rank.unsigned_abs();
    let (mut db, out) = db_and_out(ctx);
    let Some(list) = read_list(&mut db, args.arg(1))? else {
        if count.is_some() {
            out.array(0);
        } else {
            out.null();
        }
        return Ok(());
    };
    let len = list.len();
    let mut found: Vec<i64> = Vec::new();
    let mut matches: u64 = 0;
    let limit = if maxlen == 0 { usize::MAX } else { maxlen };
    let mut check = |scanned: usize, v: &[u8]| -> bool {
        // Returns false to stop scanning.
        if v != element {
            return true;
        }
        matches += 1;
        if matches < rank {
            return true;
        }
        let idx = if from_tail {
            len - scanned - 1
        } else {
            scanned
        };
        found.push(idx as i64);
        match count {
            None => false,
            Some(0) => true,
            Some(c) => (found.len()) < c,
        }
    };
    if from_tail {
        for (i, v) in list.iter().rev().take(limit).enumerate() {
            if !check(i, v) {
                break;
            }
        }
    } else {
        for (i, v) in list.iter().take(limit).enumerate() {
            if !check(i, v) {
                break;
            }
        }
    }
    match count {
        Some(_) => {
            out.array(found.len());
            for i in found {
                out.integer(i);
            }
        }
        None => match found.first() {
            Some(&i) => out.integer(i),
            None => out.null(),
        },
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Edits
// ---------------------------------------------------------------------------------------------

fn lset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let (mut db, out) = db_and_out(ctx);
    let list = existing_list_mut(&mut db, key)?.ok_or(NO_SUCH_KEY)?;
    let index = int_arg(args.arg(2))?;
    let i = resolve_index(index, list.len()).ok_or(INDEX_OUT_OF_RANGE)?;
    if !list.set(i, args.arg(3)) {
        return Err(INDEX_OUT_OF_RANGE);
    }
    db.signal_modified(key, 1);
    db.notify(notify::LIST, "lset", key);
    out.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let after = if is(args.arg(2), "after") {
        true
    } else if is(args.arg(2), "before") {
        false
    } else {
        return Err(SYNTAX);
    };
    let key = args.arg(1);
    let (pivot, element) = (args.arg(3), args.arg(4));
    let (mut db, out) = db_and_out(ctx);
    let Some(list) = existing_list_mut(&mut db, key)? else {
        out.integer(0);
        return Ok(());
    };
    let Some(pos) = list.iter().position(|v| v == pivot) else {
        out.integer(-1);
        return Ok(());
    };
    list.insert(if after { pos + 1 } else { pos }, element);
    let len = list.len();
    db.signal_modified(key, 1);
    db.notify(notify::LIST, "linsert", key);
    out.integer(len as i64);
    Ok(())
}

fn lrem(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let count = int_arg(args.arg(2))?;
    let (mut db, out) = db_and_out(ctx);
    let Some(list) = existing_list_mut(&mut db, key)? else {
        out.integer(0);
        return Ok(());
    };
    let removed = list.remove_matching(args.arg(3), count);
    if removed > 0 {
        after_removal(&mut db, key, removed, "lrem");
    }
    out.integer(removed as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let start = int_arg(args.arg(2))?;
    let end = int_arg(args.arg(3))?;
    let (mut db, out) = db_and_out(ctx);
    let Some(list) = existing_list_mut(&mut db, key)? else {
        out.ok();
        return Ok(());
    };
    let len = list.len();
    let (ltrim, rtrim) = match clamp_range(start, end, len) {
        None => (len, 0),
        Some((s, e)) => (s, len - e - 1),
    };
    list.remove_front(ltrim);
    list.remove_back(rtrim);
    after_removal(&mut db, key, ltrim + rtrim, "ltrim");
    out.ok();
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Moves and multi-key pops
// ---------------------------------------------------------------------------------------------

fn lmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let from_head = parse_side(args.arg(3))?;
    let to_head = parse_side(args.arg(4))?;
    lmove_generic(ctx, args.arg(1), args.arg(2), from_head, to_head)
}

fn rpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    lmove_generic(ctx, args.arg(1), args.arg(2), false, true)
}

fn lmove_generic(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from_head: bool,
    to_head: bool,
) -> CmdResult {
    if !lmove_serve(ctx, src, dst, from_head, to_head)? {
        ctx.out.null();
    }
    Ok(())
}

/// LMOVE's work, shared with BLMOVE/BRPOPLPUSH: moves one element and replies with it, or
/// returns Ok(false) without replying when the source is absent or empty.
pub(crate) fn lmove_serve(
    ctx: &mut Ctx<'_>,
    src: &[u8],
    dst: &[u8],
    from_head: bool,
    to_head: bool,
) -> Result<bool, CmdError> {
    let (mut db, out) = db_and_out(ctx);
    match existing_list_mut(&mut db, src)? {
        Some(l) if !l.is_empty() => {}
        _ => return Ok(false),
    }
    // The destination must be a list (or absent) before anything moves.
    existing_list_mut(&mut db, dst)?;
    let value = existing_list_mut(&mut db, src)?
        .and_then(|l| {
            if from_head {
                l.pop_front()
            } else {
                l.pop_back()
            }
        })
        .unwrap_or_default();
    let dlist = list_or_create(&mut db, dst)?;
    if to_head {
        dlist.push_front(&value);
    } else {
        dlist.push_back(&value);
    }
    db.signal_modified(dst, 1);
    db.notify(notify::LIST, if to_head { "lpush" } else { "rpush" }, dst);
    after_removal(&mut db, src, 1, if from_head { "lpop" } else { "rpop" });
    out.bulk(&value);
    Ok(true)
}

fn lmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mpop = parse_mpop(args, 1, parse_side)?;
    if !lmpop_serve(ctx, args, &mpop)? {
        ctx.out.null_array();
    }
    Ok(())
}

/// LMPOP's work once its arguments are parsed (`mpop.side` is true for LEFT), shared with BLMPOP:
/// pops from the first non-empty list and replies, or returns Ok(false) without replying when all
/// the named lists are empty.
pub(crate) fn lmpop_serve(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    mpop: &Mpop<bool>,
) -> Result<bool, CmdError> {
    let (head, count) = (mpop.side, mpop.count);
    let (mut db, out) = db_and_out(ctx);
    for key in mpop.key_args(args) {
        let Some(list) = existing_list_mut(&mut db, key)? else {
            continue;
        };
        let len = list.len();
        if len == 0 {
            continue;
        }
        let n = count.min(len);
        out.array(2);
        out.bulk(key);
        out.array(n);
        if head {
            for v in list.range(0, n) {
                out.bulk(v);
            }
            list.remove_front(n);
        } else {
            for v in list.range(len - n, len).rev() {
                out.bulk(v);
            }
            list.remove_back(n);
        }
        after_removal(&mut db, key, n, if head { "lpop" } else { "rpop" });
        return Ok(true);
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_redis_normalisation() {
        assert_eq!(clamp_range(0, -1, 5), Some((0, 4)));
        assert_eq!(clamp_range(-100, 100, 5), Some((0, 4)));
        assert_eq!(clamp_range(3, 1, 5), None);
        assert_eq!(clamp_range(5, 10, 5), None);
        assert_eq!(clamp_range(-2, -1, 5), Some((3, 4)));
        assert_eq!(clamp_range(0, -6, 5), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 5), Some((0, 4)));
        assert_eq!(clamp_range(0, 0, 0), None);
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(-4, 3), None);
        assert_eq!(resolve_index(3, 3), None);
        assert_eq!(resolve_index(i64::MIN, 3), None);
    }
}
