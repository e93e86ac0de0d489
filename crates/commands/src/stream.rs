//! Stream commands on entries (Redis t_stream.c): XADD (with NOMKSTREAM, MAXLEN/MINID trimming,
//! `*`, `ms-*` and explicit IDs), XLEN, XRANGE/XREVRANGE (inclusive and `(` exclusive bounds,
//! COUNT), XDEL, XTRIM and XSETID, plus the ID parsing and entry replies the group and read
//! commands share.
//!
//! Semantics follow Redis 7.2, down to the order in which errors are found (arguments, then the
//! key) and the error texts. What reaches the append-only file is deterministic: XADD is logged
//! with the ID it generated and an approximate trim (`~`, LIMIT) as the exact one it turned out
//! to be (`=` and the resulting length or first ID), as Redis rewrites them.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, NO_SUCH_KEY, SYNTAX};
use crate::hash::db_and_out;
use crate::parse::{int_arg, is};
use crate::shared_args::string2ull;
use crate::table::{flags, CommandSpec};
use crate::typed::{self, Collection};
use ringkv_config::notify;
use ringkv_engine::types::stream::{Fields, FieldsRef, StreamId, Trim, TrimStrategy};
use ringkv_engine::{DbRef, StreamValue, Value};
use ringkv_protocol::{Args, ReplyWriter};

impl Collection for StreamValue {
    fn of(v: &Value) -> Option<&Self> {
        match v {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }
    fn of_mut(v: &mut Value) -> Option<&mut Self> {
        match v {
            Value::Stream(s) => Some(s),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::Stream(Box::new(self))
    }
}

const RW_DENYOOM: u32 = flags::WRITE | flags::DENYOOM;
const RO_FAST: u32 = flags::READONLY | flags::FAST;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xadd", -5, RW_DENYOOM | flags::FAST, xadd)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Appends a new message to a stream. Creates the key if it doesn't exist.",
            "5.0.0",
            "O(1) when adding a new entry, O(N) when trimming where N being the number of entries evicted.",
        )
        .syntax("key [NOMKSTREAM] [<MAXLEN | MINID> [= | ~] threshold [LIMIT count]] <* | id> field value [field value ...]"),
    CommandSpec::new("xlen", 2, RO_FAST, xlen)
        .keys(1, 1, 1)
        .group("stream")
        .doc("Return the number of messages in a stream.", "5.0.0", "O(1)")
        .syntax("key"),
    CommandSpec::new("xrange", -4, flags::READONLY, xrange)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Returns the messages from a stream within a range of IDs.",
            "5.0.0",
            "O(N) with N being the number of elements being returned.",
        )
        .syntax("key start end [COUNT count]"),
    CommandSpec::new("xrevrange", -4, flags::READONLY, xrevrange)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Returns the messages from a stream within a range of IDs in reverse order.",
            "5.0.0",
            "O(N) with N being the number of elements returned.",
        )
        .syntax("key end start [COUNT count]"),
    CommandSpec::new("xdel", -3, flags::WRITE | flags::FAST, xdel)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Returns the number of messages after removing them from a stream.",
            "5.0.0",
            "O(1) for each single item to delete in the stream.",
        )
        .syntax("key id [id ...]"),
    CommandSpec::new("xtrim", -4, flags::WRITE, xtrim)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Deletes messages from the beginning of a stream.",
            "5.0.0",
            "O(N), with N being the number of evicted entries.",
        )
        .syntax("key <MAXLEN | MINID> [= | ~] threshold [LIMIT count]"),
    CommandSpec::new("xsetid", -3, RW_DENYOOM | flags::FAST, xsetid)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "An internal command for replicating stream values.",
            "5.0.0",
            "O(1)",
        )
        .syntax("key last-id [ENTRIESADDED entries-added] [MAXDELETEDID max-deleted-id]"),
];

// ---------------------------------------------------------------------------------------------
// IDs

pub(crate) const INVALID_ID: CmdError =
    CmdError::Static("ERR Invalid stream ID specified as stream command argument");
pub(crate) const BAD_START: CmdError = CmdError::Static("ERR invalid start ID for the interval");
pub(crate) const BAD_END: CmdError = CmdError::Static("ERR invalid end ID for the interval");

/// Parses `ms[-seq]`, `-` and `+` (unless `strict`); a missing sequence is `missing_seq`.
/// With `star_seq`, `ms-*` is accepted and reported as `false` (sequence not given).
fn parse_id_generic(
    arg: &[u8],
    missing_seq: u64,
    strict: bool,
    star_seq: bool,
) -> Result<(StreamId, bool), CmdError> {
    if arg.len() > 127 {
        return Err(INVALID_ID);
    }
    match arg {
        b"-" | b"+" if strict => return Err(INVALID_ID),
        b"-" => return Ok((StreamId::MIN, true)),
        b"+" => return Ok((StreamId::MAX, true)),
        _ => {}
    }
    let (ms, seq) = match arg.iter().position(|&c| c == b'-') {
        Some(dash) => (&arg[..dash], Some(&arg[dash + 1..])),
        None => (arg, None),
    };
    let ms = string2ull(ms).ok_or(INVALID_ID)?;
    match seq {
        Some(b"*") if star_seq => Ok((StreamId::new(ms, 0), false)),
        Some(seq) => Ok((StreamId::new(ms, string2ull(seq).ok_or(INVALID_ID)?), true)),
        None => Ok((StreamId::new(ms, missing_seq), true)),
    }
}

/// An ID where `-` and `+` mean the smallest and largest.
pub(crate) fn parse_id(arg: &[u8], missing_seq: u64) -> Result<StreamId, CmdError> {
    parse_id_generic(arg, missing_seq, false, false).map(|(id, _)| id)
}

/// An ID where `-` and `+` are invalid.
pub(crate) fn parse_strict_id(arg: &[u8]) -> Result<StreamId, CmdError> {
    parse_id_generic(arg, 0, true, false).map(|(id, _)| id)
}

/// A range bound: an ID, or `(ID` for an exclusive one (moved to the next/previous ID).
pub(crate) fn parse_bound(arg: &[u8], start: bool) -> Result<StreamId, CmdError> {
    let missing_seq = if start { 0 } else { u64::MAX };
    if arg.len() > 1 && arg[0] == b'(' {
        let (id, _) = parse_id_generic(&arg[1..], missing_seq, true, false)?;
        if start {
            id.next().ok_or(BAD_START)
        } else {
            id.prev().ok_or(BAD_END)
        }
    } else {
        parse_id(arg, missing_seq)
    }
}

pub(crate) fn id_text(id: StreamId) -> Vec<u8> {
    id.to_string().into_bytes()
}

// ---------------------------------------------------------------------------------------------
// Replies

/// An ID as a bulk string, formatted without allocating (replies list many).
pub(crate) fn reply_id(out: &mut ReplyWriter, id: StreamId) {
    use std::io::Write;
    // Two u64 in decimal and the dash.
    let mut buf = [0u8; 41];
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    let _ = write!(cursor, "{}-{}", id.ms, id.seq);
    let n = cursor.position() as usize;
    out.bulk(&buf[..n]);
}

/// One entry: `[id, [field, value, ...]]`.
pub(crate) fn reply_entry(out: &mut ReplyWriter, id: StreamId, fields: FieldsRef<'_>) {
    out.array(2);
    reply_id(out, id);
    out.array(fields.len());
    for f in fields.iter() {
        out.bulk(f);
    }
}

/// Entries of `start..=end` (`rev`: from `end` down), at most `count` (0 = all), as an array.
pub(crate) fn reply_range(
    out: &mut ReplyWriter,
    s: &StreamValue,
    start: StreamId,
    end: StreamId,
    count: usize,
    rev: bool,
) -> usize {
    let limit = if count == 0 { usize::MAX } else { count };
    let d = out.begin_deferred();
    let mut n = 0;
    let mut emit = |(id, fields): (StreamId, FieldsRef<'_>)| {
        reply_entry(out, id, fields);
        n += 1;
    };
    if rev {
        s.range(start, end).rev().take(limit).for_each(&mut emit);
    } else {
        s.range(start, end).take(limit).for_each(&mut emit);
    }
    out.finish_deferred_array(d, n);
    n
}

// ---------------------------------------------------------------------------------------------
// Lookups

/// The stream at `key` for reading: None if absent, WRONGTYPE otherwise.
pub(crate) fn read_stream<'a>(
    db: &'a mut DbRef<'_>,
    key: &[u8],
) -> Result<Option<&'a StreamValue>, CmdError> {
    typed::read(db, key)
}

/// The stream at `key` for writing (not created).
pub(crate) fn existing_stream_mut<'a>(
    db: &'a mut DbRef<'_>,
    key: &[u8],
) -> Result<Option<&'a mut StreamValue>, CmdError> {
    typed::existing_mut(db, key)
}

// ---------------------------------------------------------------------------------------------
// XADD / XTRIM argument parsing

/// What XADD and XTRIM were asked for.
struct AddTrimArgs {
    /// XADD: the ID argument's position and value (None for `*`), and whether its sequence
    /// was given (`ms-*` leaves it to the server).
    id_pos: usize,
    id: Option<(StreamId, bool)>,
    no_mkstream: bool,
    trim: Option<Trim>,
    /// The threshold argument as given (logged as is for exact trims).
    threshold_arg: usize,
}

/// Redis's streamParseAddOrTrimArgsOrReply. An approximate trim without LIMIT gets 100 nodes'
/// worth of entries (`node_max_entries`), within Redis's bounds.
fn parse_add_trim(
    args: Args<'_>,
    xadd: bool,
    node_max_entries: u64,
) -> Result<AddTrimArgs, CmdError> {
    let mut parsed = AddTrimArgs {
        id_pos: 0,
        id: None,
        no_mkstream: false,
        trim: None,
        threshold_arg: 0,
    };
    let mut strategy: Option<TrimStrategy> = None;
    let mut approx = false;
    let mut limit: Option<i64> = None;
    let argc = args.len();
    let mut i = 2;
    while i < argc {
        let more = argc - 1 - i;
        let opt = args.arg(i);
        if xadd && opt == b"*" {
            break;
        } else if (is(opt, "maxlen") || is(opt, "minid")) && more > 0 {
            if strategy.is_some() {
                return Err(CmdError::Static(
                    "ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
                ));
            }
            approx = false;
            let next = args.arg(i + 1);
            if more >= 2 && (next == b"~" || next == b"=") {
                approx = next == b"~";
                i += 1;
            }
            let value = args.arg(i + 1);
            strategy = Some(if is(opt, "maxlen") {
                let n = int_arg(value)?;
                if n < 0 {
                    return Err(CmdError::Static("ERR The MAXLEN argument must be >= 0."));
                }
                TrimStrategy::MaxLen(n as u64)
            } else {
                TrimStrategy::MinId(parse_strict_id(value)?)
            });
            i += 1;
            parsed.threshold_arg = i;
        } else if is(opt, "limit") && more > 0 {
            let n = int_arg(args.arg(i + 1))?;
            if n < 0 {
                return Err(CmdError::Static("ERR The LIMIT argument must be >= 0."));
            }
            limit = Some(n);
            i += 1;
        } else if xadd && is(opt, "nomkstream") {
            parsed.no_mkstream = true;
        } else if xadd {
            parsed.id = Some(parse_id_generic(opt, 0, true, true)?);
            break;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    parsed.id_pos = i;
    if limit.is_some_and(|l| l != 0) && strategy.is_none() {
        return Err(CmdError::Static(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if strategy.is_none() && !xadd {
        return Err(CmdError::Static(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit.is_some() && !approx {
        return Err(CmdError::Static(
            "ERR syntax error, LIMIT cannot be used without the special ~ option",
        ));
    }
    let Some(strategy) = strategy else {
        return Ok(parsed);
    };
    let limit = match limit {
        Some(l) => l as u64,
        None if approx => match node_max_entries.saturating_mul(100) {
            0 => 10_000,
            n => n.min(1_000_000),
        },
        None => 0,
    };
    parsed.trim = Some(Trim {
        strategy,
        approx,
        limit,
    });
    Ok(parsed)
}

/// The logged form of a trim: the strategy with `=` and, for an approximate one, the outcome
/// (length left, or first ID left) so that replaying it trims exactly as much.
fn logged_trim(args: Args<'_>, p: &AddTrimArgs, trim: &Trim, s: &StreamValue) -> [Vec<u8>; 3] {
    let (name, value) = match trim.strategy {
        TrimStrategy::MaxLen(_) if trim.approx => {
            (&b"MAXLEN"[..], s.len().to_string().into_bytes())
        }
        TrimStrategy::MinId(_) if trim.approx => (
            &b"MINID"[..],
            id_text(s.entries().next().map_or(StreamId::MAX, |(id, _)| id)),
        ),
        TrimStrategy::MaxLen(_) => (&b"MAXLEN"[..], args.arg(p.threshold_arg).to_vec()),
        TrimStrategy::MinId(_) => (&b"MINID"[..], args.arg(p.threshold_arg).to_vec()),
    };
    [name.to_vec(), b"=".to_vec(), value]
}

// ---------------------------------------------------------------------------------------------
// Handlers

/// XADD key [NOMKSTREAM] [MAXLEN|MINID [=|~] threshold [LIMIT count]] *|id field value ...
fn xadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let p = parse_add_trim(args, true, ctx.store.common.stream_limits.max_entries)?;
    let field_pos = p.id_pos + 1;
    let nfields = args.len().saturating_sub(field_pos);
    if nfields < 2 || nfields % 2 == 1 {
        return Err(CmdError::arity("xadd"));
    }
    if let Some((id, true)) = p.id {
        if id.is_zero() {
            return Err(CmdError::Static(
                "ERR The ID specified in XADD must be greater than 0-0",
            ));
        }
    }
    let key = args.arg(1);
    let (mut db, out) = db_and_out(ctx);
    let now = u64::try_from(db.now_ms()).unwrap_or(0);
    let limits = db.stream_limits();
    let logging = db.logging();
    if p.no_mkstream && existing_stream_mut(&mut db, key)?.is_none() {
        out.null();
        return Ok(());
    }
    let total: usize = args.iter().skip(field_pos).map(<[u8]>::len).sum();
    let s = typed::get_or_create(&mut db, key, StreamValue::new)?;
    if s.last_id == StreamId::MAX {
        return Err(CmdError::Static(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        ));
    }
    const NOT_GREATER: CmdError = CmdError::Static(
        "ERR The ID specified in XADD is equal or smaller than the target stream top item",
    );
    let id = match p.id {
        None => s.next_auto_id(now).ok_or(NOT_GREATER)?,
        Some((given, false)) => s.next_id_in_ms(given.ms).ok_or(NOT_GREATER)?,
        Some((given, true)) if given > s.last_id => given,
        Some(_) => return Err(NOT_GREATER),
    };
    if total > 1 << 30 {
        return Err(CmdError::Static("ERR Elements are too large to be stored"));
    }
    let fields: Fields = args
        .iter()
        .skip(field_pos)
        .map(|a| a.to_vec().into_boxed_slice())
        .collect();
    s.append(id, fields, limits);
    let trimmed = p.trim.map_or(0, |t| s.trim(&t));
    let id_arg = id_text(id);
    // The logged trim is built only when there is a log (it may allocate).
    let trim_log = p
        .trim
        .filter(|_| logging)
        .map(|t| logged_trim(args, &p, &t, s));
    db.signal_modified(key, 1);
    db.notify(notify::STREAM, "xadd", key);
    if trimmed > 0 {
        db.notify(notify::STREAM, "xtrim", key);
    }
    if logging {
        let mut logged: Vec<&[u8]> = vec![b"XADD", key];
        if p.no_mkstream {
            logged.push(b"NOMKSTREAM");
        }
        if let Some(t) = &trim_log {
            logged.extend(t.iter().map(Vec::as_slice));
        }
        logged.push(&id_arg);
        logged.extend(args.iter().skip(field_pos));
        db.log_effect(logged);
    }
    out.bulk(&id_arg);
    Ok(())
}

fn xlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let n = read_stream(&mut db, args.arg(1))?.map_or(0, StreamValue::len);
    out.integer(n as i64);
    Ok(())
}

fn xrange_generic(ctx: &mut Ctx<'_>, args: Args<'_>, rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (args.arg(3), args.arg(2))
    } else {
        (args.arg(2), args.arg(3))
    };
    let start = parse_bound(start_arg, true)?;
    let end = parse_bound(end_arg, false)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if is(args.arg(j), "count") && j + 1 < args.len() {
            count = int_arg(args.arg(j + 1))?.max(0);
            j += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    let (mut db, out) = db_and_out(ctx);
    let Some(s) = read_stream(&mut db, args.arg(1))? else {
        out.array(0);
        return Ok(());
    };
    if count == 0 {
        out.null_array();
    } else {
        reply_range(out, s, start, end, count.max(0) as usize, rev);
    }
    Ok(())
}

fn xrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    xrange_generic(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    xrange_generic(ctx, args, true)
}

fn xdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let (mut db, out) = db_and_out(ctx);
    let Some(s) = existing_stream_mut(&mut db, key)? else {
        out.integer(0);
        return Ok(());
    };
    let ids = args
        .iter()
        .skip(2)
        .map(parse_strict_id)
        .collect::<Result<Vec<_>, _>>()?;
    let deleted = ids.into_iter().filter(|id| s.delete(*id)).count();
    if deleted > 0 {
        db.signal_modified(key, deleted as u64);
        db.notify(notify::STREAM, "xdel", key);
    }
    out.integer(deleted as i64);
    Ok(())
}

fn xtrim(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let p = parse_add_trim(args, false, ctx.store.common.stream_limits.max_entries)?;
    let Some(trim) = p.trim else {
        return Err(SYNTAX);
    };
    let key = args.arg(1);
    let (mut db, out) = db_and_out(ctx);
    let logging = db.logging();
    let Some(s) = existing_stream_mut(&mut db, key)? else {
        out.integer(0);
        return Ok(());
    };
    let deleted = s.trim(&trim);
    if deleted > 0 {
        // Only an approximate trim needs rewriting for the log (an exact one replays as given).
        let logged = (trim.approx && logging).then(|| logged_trim(args, &p, &trim, s));
        db.signal_modified(key, deleted);
        db.notify(notify::STREAM, "xtrim", key);
        if let Some(t) = logged {
            let mut effect: Vec<&[u8]> = vec![b"XTRIM", key];
            effect.extend(t.iter().map(Vec::as_slice));
            db.log_effect(effect);
        }
    }
    out.integer(deleted as i64);
    Ok(())
}

/// XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]
fn xsetid(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let id = parse_strict_id(args.arg(2))?;
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < args.len() {
        let more = args.len() - 1 - i;
        let opt = args.arg(i);
        if is(opt, "entriesadded") && more > 0 {
            let n = int_arg(args.arg(i + 1))?;
            if n < 0 {
                return Err(CmdError::Static("ERR entries_added must be positive"));
            }
            entries_added = Some(n as u64);
        } else if is(opt, "maxdeletedid") && more > 0 {
            max_deleted = parse_strict_id(args.arg(i + 1))?;
            if id < max_deleted {
                return Err(CmdError::Static(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                ));
            }
        } else {
            return Err(SYNTAX);
        }
        i += 2;
    }
    let key = args.arg(1);
    let (mut db, out) = db_and_out(ctx);
    let s = existing_stream_mut(&mut db, key)?.ok_or(NO_SUCH_KEY)?;
    if id < s.max_deleted_id {
        return Err(CmdError::Static(
            "ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
        ));
    }
    if let Some(top) = s.last_entry_id() {
        if id < top {
            return Err(CmdError::Static(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            ));
        }
        if entries_added.is_some_and(|n| (s.len() as u64) > n) {
            return Err(CmdError::Static(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            ));
        }
    }
    s.last_id = id;
    if let Some(n) = entries_added {
        s.entries_added = n;
    }
    if !max_deleted.is_zero() {
        s.max_deleted_id = max_deleted;
    }
    db.signal_modified(key, 1);
    db.notify(notify::STREAM, "xsetid", key);
    out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_parse_like_redis() {
        let id = |s: &str| parse_id(s.as_bytes(), 0).ok();
        assert_eq!(id("5"), Some(StreamId::new(5, 0)));
        assert_eq!(id("5-3"), Some(StreamId::new(5, 3)));
        assert_eq!(id(" 5"), Some(StreamId::new(5, 0)));
        assert_eq!(id("+7"), Some(StreamId::new(7, 0)));
        assert_eq!(id("11- 1"), Some(StreamId::new(11, 1)));
        assert_eq!(id("-"), Some(StreamId::MIN));
        assert_eq!(id("+"), Some(StreamId::MAX));
        for bad in [
            "",
            "-0",
            "8 ",
            " -9",
            "12-",
            "abc",
            "12abc",
            "18446744073709551616-0",
            "-1",
        ] {
            assert_eq!(id(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_id(b"18446744073709551615", 0).ok(),
            Some(StreamId::new(u64::MAX, 0))
        );
        assert!(parse_strict_id(b"-").is_err());
        assert_eq!(
            parse_id_generic(b"5-*", 0, true, true).ok(),
            Some((StreamId::new(5, 0), false))
        );
        assert_eq!(parse_bound(b"(5-0", true).ok(), Some(StreamId::new(5, 1)));
        assert_eq!(
            parse_bound(b"(5", false).ok(),
            Some(StreamId::new(5, u64::MAX - 1))
        );
        assert!(parse_bound(b"(+", true).is_err());
        assert!(parse_bound(b"(18446744073709551615-18446744073709551615", true).is_err());
        assert!(parse_bound(b"(0-0", false).is_err());
    }
}
