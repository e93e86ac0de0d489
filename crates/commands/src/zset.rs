//! Sorted set commands (Redis t_zset.c), the non-blocking ones: ZADD and its options, scores and
//! ranks, ZRANGE in all its Redis 7 forms (by rank, score or lex, reversed, with LIMIT, stored),
//! removals by member and by range, pops, the union/intersection/difference family (sets are
//! accepted as inputs with score 1), ZRANDMEMBER and ZSCAN.
//!
//! Semantics follow Redis 7: arguments are validated in Redis's order (option errors before the
//! key lookup), a command that changes nothing never creates a key, a sorted set that loses its
//! last member is deleted, STORE forms overwrite a destination of any type (dropping its TTL) or
//! delete it when the result is empty, and every change is signalled and raises Redis's keyspace
//! events. Scores are replied as RESP3 doubles (RESP2: bulk strings formatted like Redis), and
//! member/score pairs are flat in RESP2 and nested `[member, score]` arrays in RESP3.
//!
//! The algebra reads several keys while the keyspace lends one entry at a time, so it works in
//! passes: type-check every source, then fold the sources one by one into an owned accumulator
//! (the smallest source for ZINTER, which bounds its memory like Redis's result does).

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, NOT_FLOAT, SYNTAX, WRONG_TYPE};
use crate::hash::db_and_out;
use crate::parse::{int_arg, is, parse_f64, parse_i64};
use crate::shared_args::{
    self, empty_scan, parse_mpop, parse_random_count, parse_random_flag, parse_scan_opts,
    scan_reply_header, string2ull, write_random_sample, Mpop, RandomSample, ScanOf, INVALID_CURSOR,
};
use crate::strings::max_string_len;
use crate::table::{flags, CommandSpec};
use crate::typed;
use ringkv_config::notify;
use ringkv_engine::types::zset::{cmp_score, LexBound, LexRange, ScoreRange};
use ringkv_engine::{glob_match, DbRef, Rng, SetValue, Value, ValueRef, ZSetValue};
use ringkv_protocol::{Args, Protocol, ReplyWriter};
use std::collections::HashMap;

const RO_FAST: u32 = flags::READONLY | flags::FAST;
const RW_DENYOOM: u32 = flags::WRITE | flags::DENYOOM;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("zadd", -4, RW_DENYOOM | flags::FAST, zadd)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
            "1.2.0",
            "O(log(N)) for each item added, where N is the number of elements in the sorted set.",
        )
        .syntax("key [NX | XX] [GT | LT] [CH] [INCR] score member [score member ...]"),
    CommandSpec::new("zincrby", 4, RW_DENYOOM | flags::FAST, zincrby)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Increments the score of a member in a sorted set.",
            "1.2.0",
            "O(log(N)) where N is the number of elements in the sorted set.",
        )
        .syntax("key increment member"),
    CommandSpec::new("zrem", -3, flags::WRITE | flags::FAST, zrem)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
            "1.2.0",
            "O(M*log(N)) with N being the number of elements in the sorted set and M the number of elements to be removed.",
        )
        .syntax("key member [member ...]"),
    CommandSpec::new("zscore", 3, RO_FAST, zscore)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc("Returns the score of a member in a sorted set.", "1.2.0", "O(1)")
        .syntax("key member"),
    CommandSpec::new("zmscore", -3, RO_FAST, zmscore)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns the score of one or more members in a sorted set.",
            "6.2.0",
            "O(N) where N is the number of members being requested.",
        )
        .syntax("key member [member ...]"),
    CommandSpec::new("zcard", 2, RO_FAST, zcard)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc("Returns the number of members in a sorted set.", "1.2.0", "O(1)")
        .syntax("key"),
    CommandSpec::new("zcount", 4, RO_FAST, zcount)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns the count of members in a sorted set that have scores within a range.",
            "2.0.0",
            "O(log(N)) with N being the number of elements in the sorted set.",
        )
        .syntax("key min max"),
    CommandSpec::new("zlexcount", 4, RO_FAST, zlexcount)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns the number of members in a sorted set within a lexicographical range.",
            "2.8.9",
            "O(log(N)) with N being the number of elements in the sorted set.",
        )
        .syntax("key min max"),
    CommandSpec::new("zrank", -3, RO_FAST, zrank)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns the index of a member in a sorted set ordered by ascending scores.",
            "2.0.0",
            "O(log(N))",
        )
        .syntax("key member [WITHSCORE]"),
    CommandSpec::new("zrevrank", -3, RO_FAST, zrevrank)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns the index of a member in a sorted set ordered by descending scores.",
            "2.0.0",
            "O(log(N))",
        )
        .syntax("key member [WITHSCORE]"),
    CommandSpec::new("zrange", -4, flags::READONLY, zrange)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns members in a sorted set within a range of indexes.",
            "1.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        )
        .syntax("key start stop [BYSCORE | BYLEX] [REV] [LIMIT offset count] [WITHSCORES]"),
    CommandSpec::new("zrangestore", -5, RW_DENYOOM, zrangestore)
        .keys(1, 2, 1)
        .group("sorted-set")
        .doc(
            "Stores a range of members from sorted set in a key.",
            "6.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements stored into the destination key.",
        )
        .syntax("dst src min max [BYSCORE | BYLEX] [REV] [LIMIT offset count]"),
    CommandSpec::new("zrevrange", -4, flags::READONLY, zrevrange)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns members in a sorted set within a range of indexes in reverse order.",
            "1.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements returned.",
        )
        .syntax("key start stop [WITHSCORES]"),
    CommandSpec::new("zrangebyscore", -4, flags::READONLY, zrangebyscore)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns members in a sorted set within a range of scores.",
            "1.0.5",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        )
        .syntax("key min max [WITHSCORES] [LIMIT offset count]"),
    CommandSpec::new("zrevrangebyscore", -4, flags::READONLY, zrevrangebyscore)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns members in a sorted set within a range of scores in reverse order.",
            "2.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        )
        .syntax("key max min [WITHSCORES] [LIMIT offset count]"),
    CommandSpec::new("zrangebylex", -4, flags::READONLY, zrangebylex)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns members in a sorted set within a lexicographical range.",
            "2.8.9",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        )
        .syntax("key min max [LIMIT offset count]"),
    CommandSpec::new("zrevrangebylex", -4, flags::READONLY, zrevrangebylex)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns members in a sorted set within a lexicographical range in reverse order.",
            "2.8.9",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements being returned. If M is constant (e.g. always asking for the first 10 elements with LIMIT), you can consider it O(log(N)).",
        )
        .syntax("key max min [LIMIT offset count]"),
    CommandSpec::new("zremrangebyrank", 4, flags::WRITE, zremrangebyrank)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
            "2.0.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        )
        .syntax("key start stop"),
    CommandSpec::new("zremrangebyscore", 4, flags::WRITE, zremrangebyscore)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
            "1.2.0",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        )
        .syntax("key min max"),
    CommandSpec::new("zremrangebylex", 4, flags::WRITE, zremrangebylex)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
            "2.8.9",
            "O(log(N)+M) with N being the number of elements in the sorted set and M the number of elements removed by the operation.",
        )
        .syntax("key min max"),
    CommandSpec::new("zpopmin", -2, flags::WRITE | flags::FAST, zpopmin)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
            "5.0.0",
            "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        )
        .syntax("key [count]"),
    CommandSpec::new("zpopmax", -2, flags::WRITE | flags::FAST, zpopmax)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
            "5.0.0",
            "O(log(N)*M) with N being the number of elements in the sorted set, and M being the number of elements popped.",
        )
        .syntax("key [count]"),
    // Keys follow numkeys (Redis: movablekeys, key positions 0 0 0).
    CommandSpec::new("zmpop", -4, flags::WRITE, zmpop)
        .numkeys_at(1)
        .group("sorted-set")
        .doc(
            "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
            "7.0.0",
            "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.",
        )
        .syntax("numkeys key [key ...] <MIN | MAX> [COUNT count]"),
    CommandSpec::new("zunion", -3, flags::READONLY, zunion)
        .numkeys_at(1)
        .group("sorted-set")
        .doc(
            "Returns the union of multiple sorted sets.",
            "6.2.0",
            "O(N)+O(M*log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        )
        .syntax("numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]"),
    CommandSpec::new("zinter", -3, flags::READONLY, zinter)
        .numkeys_at(1)
        .group("sorted-set")
        .doc(
            "Returns the intersect of multiple sorted sets.",
            "6.2.0",
            "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        )
        .syntax("numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>] [WITHSCORES]"),
    CommandSpec::new("zdiff", -3, flags::READONLY, zdiff)
        .numkeys_at(1)
        .group("sorted-set")
        .doc(
            "Returns the difference between multiple sorted sets.",
            "6.2.0",
            "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        )
        .syntax("numkeys key [key ...] [WITHSCORES]"),
    CommandSpec::new("zunionstore", -4, RW_DENYOOM, zunionstore)
        .numkeys_at(2)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Stores the union of multiple sorted sets in a key.",
            "2.0.0",
            "O(N)+O(M log(M)) with N being the sum of the sizes of the input sorted sets, and M being the number of elements in the resulting sorted set.",
        )
        .syntax("destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]"),
    CommandSpec::new("zinterstore", -4, RW_DENYOOM, zinterstore)
        .numkeys_at(2)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Stores the intersect of multiple sorted sets in a key.",
            "2.0.0",
            "O(N*K)+O(M*log(M)) worst case with N being the smallest input sorted set, K being the number of input sorted sets and M being the number of elements in the resulting sorted set.",
        )
        .syntax("destination numkeys key [key ...] [WEIGHTS weight [weight ...]] [AGGREGATE <SUM | MIN | MAX>]"),
    CommandSpec::new("zdiffstore", -4, RW_DENYOOM, zdiffstore)
        .numkeys_at(2)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Stores the difference of multiple sorted sets in a key.",
            "6.2.0",
            "O(L + (N-K)log(N)) worst case where L is the total number of elements in all the sets, N is the size of the first set, and K is the size of the result set.",
        )
        .syntax("destination numkeys key [key ...]"),
    CommandSpec::new("zintercard", -3, flags::READONLY, zintercard)
        .numkeys_at(1)
        .group("sorted-set")
        .doc(
            "Returns the number of members of the intersect of multiple sorted sets.",
            "7.0.0",
            "O(N*K) worst case with N being the smallest input sorted set, K being the number of input sorted sets.",
        )
        .syntax("numkeys key [key ...] [LIMIT limit]"),
    CommandSpec::new("zrandmember", -2, flags::READONLY, zrandmember)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Returns one or more random members from a sorted set.",
            "6.2.0",
            "O(N) where N is the number of members returned",
        )
        .syntax("key [count [WITHSCORES]]"),
    CommandSpec::new("zscan", -3, flags::READONLY, zscan)
        .keys(1, 1, 1)
        .group("sorted-set")
        .doc(
            "Iterates over members and scores of a sorted set.",
            "2.8.0",
            "O(1) for every call. O(N) for a complete iteration, including enough command calls for the cursor to return back to 0. N is the number of elements inside the collection.",
        )
        .syntax("key cursor [MATCH pattern] [COUNT count]"),
];

const NOT_A_FLOAT_RANGE: CmdError = CmdError::Static("ERR min or max is not a float");
const NOT_A_LEX_RANGE: CmdError = CmdError::Static("ERR min or max not valid string range item");
const NAN_RESULT: CmdError = CmdError::Static("ERR resulting score is not a number (NaN)");

// ---------------------------------------------------------------------------------------------
// Lookups and argument parsing
// ---------------------------------------------------------------------------------------------

/// Read lookup (hit/miss statistics): the sorted set, None if absent, WRONGTYPE otherwise.
pub(crate) fn read_zset<'a>(
    db: &'a mut DbRef<'_>,
    key: &[u8],
) -> Result<Option<&'a ZSetValue>, CmdError> {
    typed::read(db, key)
}

/// Write lookup of an existing sorted set (None if absent): for commands that must not create it.
pub(crate) fn existing_zset_mut<'a>(
    db: &'a mut DbRef<'_>,
    key: &[u8],
) -> Result<Option<&'a mut ZSetValue>, CmdError> {
    typed::existing_mut(db, key)
}

/// After members were removed: signal, raise `event`, delete the key if it became empty.
pub(crate) fn after_removal(db: &mut DbRef<'_>, key: &[u8], removed: usize, event: &'static str) {
    db.signal_modified(key, removed as u64);
    db.notify(notify::ZSET, event, key);
    if db.remove_if_empty(key) {
        db.notify(notify::GENERIC, "del", key);
    }
}

/// A score argument (ZADD, ZINCRBY, WEIGHTS): Redis getDoubleFromObject, which also refuses
/// values that overflow or underflow a double.
pub(crate) fn parse_score(arg: &[u8]) -> Option<f64> {
    let v = parse_f64(arg)?;
    let text = std::str::from_utf8(arg).ok()?.to_ascii_lowercase();
    if v.is_infinite() && !text.contains("inf") {
        return None;
    }
    if v == 0.0 {
        let mantissa = text.split('e').next().unwrap_or("");
        if mantissa.bytes().any(|c| (b'1'..=b'9').contains(&c)) {
            return None;
        }
    }
    Some(v)
}

/// One end of a score range (Redis zslParseRangeItem, strtod rules): an optional '(' for an
/// exclusive bound, leading blanks allowed, "" parses as 0, out-of-range values become ±inf.
fn parse_range_item(arg: &[u8]) -> Option<(f64, bool)> {
    let (exclusive, text) = match arg.first() {
        Some(b'(') => (true, &arg[1..]),
        _ => (false, arg),
    };
    let start = text
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(text.len());
    let text = &text[start..];
    if text.is_empty() {
        return Some((0.0, exclusive));
    }
    parse_f64(text).map(|v| (v, exclusive))
}

fn parse_score_range(min: &[u8], max: &[u8]) -> Result<ScoreRange, CmdError> {
    let (min, min_exclusive) = parse_range_item(min).ok_or(NOT_A_FLOAT_RANGE)?;
    let (max, max_exclusive) = parse_range_item(max).ok_or(NOT_A_FLOAT_RANGE)?;
    Ok(ScoreRange {
        min,
        min_exclusive,
        max,
        max_exclusive,
    })
}

/// One end of a lex range (Redis zslParseLexRangeItem): `-`, `+`, `[member` or `(member`.
fn parse_lex_item(arg: &[u8]) -> Option<LexBound> {
    match arg.first()? {
        b'+' if arg.len() == 1 => Some(LexBound::PosInf),
        b'-' if arg.len() == 1 => Some(LexBound::NegInf),
        b'[' => Some(LexBound::Inclusive(arg[1..].to_vec())),
        b'(' => Some(LexBound::Exclusive(arg[1..].to_vec())),
        _ => None,
    }
}

fn parse_lex_range(min: &[u8], max: &[u8]) -> Result<LexRange, CmdError> {
    Ok(LexRange {
        min: parse_lex_item(min).ok_or(NOT_A_LEX_RANGE)?,
        max: parse_lex_item(max).ok_or(NOT_A_LEX_RANGE)?,
    })
}

/// Redis's rank normalisation (ZRANGE, ZREMRANGEBYRANK): negative ranks count from the end, the
/// start is clamped to 0 and the end to the last rank. None when the range is empty.
fn clamp_ranks(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
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

/// Writes a member with its score: RESP3 a `[member, score]` pair, RESP2 two flat elements.
fn emit_pair(out: &mut ReplyWriter, m: &[u8], s: f64) {
    if out.protocol() == Protocol::Resp3 {
        out.array(2);
    }
    out.bulk(m);
    out.double(s);
}

/// The array header for `n` members, with scores if `withscores` (see `emit_pair`).
fn pairs_header(out: &mut ReplyWriter, n: usize, withscores: bool) {
    if withscores && out.protocol() == Protocol::Resp2 {
        out.array(n.saturating_mul(2));
    } else {
        out.array(n);
    }
}

// ---------------------------------------------------------------------------------------------
// ZADD / ZINCRBY / ZREM
// ---------------------------------------------------------------------------------------------

fn zadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zadd_generic(ctx, args, false)
}

fn zincrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zadd_generic(ctx, args, true)
}

/// ZADD's options (ZINCRBY is ZADD INCR; GEOADD takes NX, XX and CH).
#[derive(Clone, Copy, Default)]
pub(crate) struct ZaddFlags {
    pub nx: bool,
    pub xx: bool,
    pub ch: bool,
    pub incr: bool,
    pub gt: bool,
    pub lt: bool,
}

impl ZaddFlags {
    /// Takes `opt` if it is one of ZADD's flags (with `all` false, one of GEOADD's: NX, XX,
    /// CH); false for anything else, which ends the flags.
    pub(crate) fn parse(&mut self, opt: &[u8], all: bool) -> bool {
        let flag = if is(opt, "nx") {
            &mut self.nx
        } else if is(opt, "xx") {
            &mut self.xx
        } else if is(opt, "ch") {
            &mut self.ch
        } else if all && is(opt, "incr") {
            &mut self.incr
        } else if all && is(opt, "gt") {
            &mut self.gt
        } else if all && is(opt, "lt") {
            &mut self.lt
        } else {
            return false;
        };
        *flag = true;
        true
    }
}

fn zadd_generic(ctx: &mut Ctx<'_>, args: Args<'_>, incr_cmd: bool) -> CmdResult {
    let key = args.arg(1);
    let mut f = ZaddFlags {
        incr: incr_cmd,
        ..ZaddFlags::default()
    };
    let mut i = 2;
    while i < args.len() && f.parse(args.arg(i), true) {
        i += 1;
    }
    let rest = args.len() - i;
    if rest == 0 || !rest.is_multiple_of(2) {
        return Err(SYNTAX);
    }
    let n = rest / 2;
    if f.nx && f.xx {
        return Err(CmdError::Static(
            "ERR XX and NX options at the same time are not compatible",
        ));
    }
    if (f.nx && (f.gt || f.lt)) || (f.gt && f.lt) {
        return Err(CmdError::Static(
            "ERR GT, LT, and/or NX options at the same time are not compatible",
        ));
    }
    if f.incr && n > 1 {
        return Err(CmdError::Static(
            "ERR INCR option supports a single increment-element pair",
        ));
    }
    let mut pairs = Vec::with_capacity(n);
    for j in 0..n {
        let score = parse_score(args.arg(i + 2 * j)).ok_or(NOT_FLOAT)?;
        pairs.push((score, args.arg(i + 2 * j + 1)));
    }
    zadd_apply(ctx, key, f, &pairs)
}

/// ZADD's work once its arguments are valid (shared with GEOADD): adds or updates the
/// `(score, member)` pairs as the flags say and replies.
pub(crate) fn zadd_apply(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    f: ZaddFlags,
    pairs: &[(f64, &[u8])],
) -> CmdResult {
    let ZaddFlags {
        nx,
        xx,
        ch,
        incr,
        gt,
        lt,
    } = f;
    let max_len = pairs.iter().map(|(_, m)| m.len()).max().unwrap_or(0);
    let (mut db, out) = db_and_out(ctx);
    if xx && existing_zset_mut(&mut db, key)?.is_none() {
        // XX on a missing key: nothing to do, and no key is created.
        if incr {
            out.null();
        } else {
            out.integer(0);
        }
        return Ok(());
    }
    let zset = typed::get_or_create(&mut db, key, || ZSetValue::with_hint(pairs.len(), max_len))?;
    let (mut added, mut updated, mut processed) = (0usize, 0usize, 0usize);
    let mut last = 0.0;
    let mut failed = false;
    for &(score, member) in pairs {
        match zset.score(member) {
            Some(cur) => {
                if nx {
                    continue;
                }
                let new = if incr { cur + score } else { score };
                if new.is_nan() {
                    failed = true;
                    break;
                }
                if (lt && new >= cur) || (gt && new <= cur) {
                    continue;
                }
                last = new;
                processed += 1;
                if new != cur {
                    zset.insert(member, new);
                    updated += 1;
                }
            }
            None => {
                if xx {
                    continue;
                }
                zset.insert(member, score);
                last = score;
                added += 1;
                processed += 1;
            }
        }
    }
    if added + updated > 0 {
        db.signal_modified(key, (added + updated) as u64);
        db.notify(notify::ZSET, if incr { "zincr" } else { "zadd" }, key);
    }
    db.remove_if_empty(key);
    if failed {
        return Err(NAN_RESULT);
    }
    if incr {
        if processed > 0 {
            out.double(last);
        } else {
            out.null();
        }
    } else {
        out.integer(if ch { added + updated } else { added } as i64);
    }
    Ok(())
}

fn zrem(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let (mut db, out) = db_and_out(ctx);
    let Some(zset) = existing_zset_mut(&mut db, key)? else {
        out.integer(0);
        return Ok(());
    };
    let mut removed = 0;
    for m in args.iter().skip(2) {
        if zset.remove(m).is_some() {
            removed += 1;
            if zset.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        after_removal(&mut db, key, removed, "zrem");
    }
    out.integer(removed as i64);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Scores, ranks, counts
// ---------------------------------------------------------------------------------------------

fn zscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    match read_zset(&mut db, args.arg(1))?.and_then(|z| z.score(args.arg(2))) {
        Some(s) => out.double(s),
        None => out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let zset = read_zset(&mut db, args.arg(1))?;
    out.array(args.len() - 2);
    for m in args.iter().skip(2) {
        match zset.and_then(|z| z.score(m)) {
            Some(s) => out.double(s),
            None => out.null(),
        }
    }
    Ok(())
}

fn zcard(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let n = read_zset(&mut db, args.arg(1))?.map_or(0, |z| z.len());
    out.integer(n as i64);
    Ok(())
}

fn zcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let range = parse_score_range(args.arg(2), args.arg(3))?;
    let (mut db, out) = db_and_out(ctx);
    let n = read_zset(&mut db, args.arg(1))?.map_or(0, |z| z.score_range(&range).len());
    out.integer(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let range = parse_lex_range(args.arg(2), args.arg(3))?;
    let (mut db, out) = db_and_out(ctx);
    let n = read_zset(&mut db, args.arg(1))?.map_or(0, |z| z.lex_range(&range).len());
    out.integer(n as i64);
    Ok(())
}

fn zrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zrank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zrank_generic(ctx, args, true)
}

fn zrank_generic(ctx: &mut Ctx<'_>, args: Args<'_>, rev: bool) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::arity(if rev { "zrevrank" } else { "zrank" }));
    }
    let withscore = match args.get(3) {
        Some(a) if is(a, "withscore") => true,
        Some(_) => return Err(SYNTAX),
        None => false,
    };
    let (mut db, out) = db_and_out(ctx);
    let found = read_zset(&mut db, args.arg(1))?.and_then(|z| {
        z.rank(args.arg(2))
            .map(|(r, s)| (if rev { z.len() - 1 - r } else { r }, s))
    });
    match found {
        Some((r, s)) => {
            if withscore {
                out.array(2);
                out.integer(r as i64);
                out.double(s);
            } else {
                out.integer(r as i64);
            }
        }
        None if withscore => out.null_array(),
        None => out.null(),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZRANGE and friends
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

fn zrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zrange_generic(ctx, args, 1, None, RangeType::Auto, Direction::Auto)
}

fn zrangestore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zrange_generic(
        ctx,
        args,
        2,
        Some(args.arg(1)),
        RangeType::Auto,
        Direction::Auto,
    )
}

fn zrevrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zrange_generic(ctx, args, 1, None, RangeType::Rank, Direction::Reverse)
}

fn zrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Direction::Forward)
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Direction::Reverse)
}

fn zrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Direction::Forward)
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Direction::Reverse)
}

/// A parsed range, whatever its kind.
enum Bounds {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Redis zrangeGenericCommand: `src` is at `src_idx`, the range ends follow, then the options.
fn zrange_generic(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    src_idx: usize,
    dst: Option<&[u8]>,
    mut kind: RangeType,
    mut dir: Direction,
) -> CmdResult {
    let src = args.arg(src_idx);
    let (mut min_idx, mut max_idx) = (src_idx + 1, src_idx + 2);
    let mut withscores = false;
    let mut offset: i64 = 0;
    let mut limit: i64 = -1;
    let mut j = src_idx + 3;
    while j < args.len() {
        let opt = args.arg(j);
        let left = args.len() - j - 1;
        if dst.is_none() && is(opt, "withscores") {
            withscores = true;
        } else if is(opt, "limit") && left >= 2 {
            offset = int_arg(args.arg(j + 1))?;
            limit = int_arg(args.arg(j + 2))?;
            j += 2;
        } else if dir == Direction::Auto && is(opt, "rev") {
            dir = Direction::Reverse;
        } else if kind == RangeType::Auto && is(opt, "bylex") {
            kind = RangeType::Lex;
        } else if kind == RangeType::Auto && is(opt, "byscore") {
            kind = RangeType::Score;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    if dir == Direction::Auto {
        dir = Direction::Forward;
    }
    if kind == RangeType::Auto {
        kind = RangeType::Rank;
    }
    if limit != -1 && kind == RangeType::Rank {
        return Err(CmdError::Static(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        ));
    }
    if withscores && kind == RangeType::Lex {
        return Err(CmdError::Static(
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX",
        ));
    }
    let rev = dir == Direction::Reverse;
    if rev && kind != RangeType::Rank {
        // Given as max, min.
        std::mem::swap(&mut min_idx, &mut max_idx);
    }
    let bounds = match kind {
        RangeType::Score => Bounds::Score(parse_score_range(args.arg(min_idx), args.arg(max_idx))?),
        RangeType::Lex => Bounds::Lex(parse_lex_range(args.arg(min_idx), args.arg(max_idx))?),
        _ => Bounds::Rank(int_arg(args.arg(min_idx))?, int_arg(args.arg(max_idx))?),
    };

    let (mut db, out) = db_and_out(ctx);
    let Some(zset) = read_zset(&mut db, src)? else {
        match dst {
            Some(d) => store_result(&mut db, out, d, Vec::new(), "zrangestore"),
            None => out.array(0),
        }
        return Ok(());
    };
    // The selected ranks, ascending, and how to walk them.
    let len = zset.len();
    let (first, last) = match bounds {
        Bounds::Rank(start, end) => match clamp_ranks(start, end, len) {
            None => (0, 0),
            Some((s, e)) if rev => (len - 1 - e, len - s),
            Some((s, e)) => (s, e + 1),
        },
        Bounds::Score(r) => limit_ranks(zset.score_range(&r), offset, limit, rev, len),
        Bounds::Lex(r) => limit_ranks(zset.lex_range(&r), offset, limit, rev, len),
    };
    let n = last - first;
    match dst {
        Some(d) => {
            let mut entries = Vec::with_capacity(n);
            zset.visit_ranks(first, last, false, |m, s| {
                entries.push((m.to_vec(), s));
                true
            });
            store_result(&mut db, out, d, entries, "zrangestore");
        }
        None => {
            pairs_header(out, n, withscores);
            zset.visit_ranks(first, last, rev, |m, s| {
                if withscores {
                    emit_pair(out, m, s);
                } else {
                    out.bulk(m);
                }
                true
            });
        }
    }
    Ok(())
}

/// Applies LIMIT offset/count to the ranks of a score or lex range (counted from the top when
/// reversed), as Redis does: an offset past the set's length or a negative one selects nothing,
/// a negative count means no limit.
fn limit_ranks(
    r: std::ops::Range<usize>,
    offset: i64,
    limit: i64,
    rev: bool,
    len: usize,
) -> (usize, usize) {
    if offset < 0 || (offset > 0 && offset as u64 >= len as u64) {
        return (0, 0);
    }
    let offset = offset as usize;
    let avail = r.len().saturating_sub(offset);
    let take = if limit < 0 {
        avail
    } else {
        avail.min(limit as u64 as usize)
    };
    if rev {
        let hi = r.end - offset.min(r.len());
        (hi - take, hi)
    } else {
        let lo = r.start + offset.min(r.len());
        (lo, lo + take)
    }
}

/// Stores a result of the STORE commands: the destination is replaced (whatever its type, TTL
/// dropped), or deleted when the result is empty. Replies with the result's size.
pub(crate) fn store_result(
    db: &mut DbRef<'_>,
    out: &mut ReplyWriter,
    dst: &[u8],
    entries: Vec<(Vec<u8>, f64)>,
    event: &'static str,
) {
    let n = entries.len();
    let value = || Value::ZSet(ZSetValue::from_sorted(entries));
    shared_args::store_result(db, out, dst, n, value, notify::ZSET, event);
}

// ---------------------------------------------------------------------------------------------
// Removal by range, pops
// ---------------------------------------------------------------------------------------------

fn zremrangebyrank(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let bounds = Bounds::Rank(int_arg(args.arg(2))?, int_arg(args.arg(3))?);
    zremrange_generic(ctx, args, bounds, "zremrangebyrank")
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let bounds = Bounds::Score(parse_score_range(args.arg(2), args.arg(3))?);
    zremrange_generic(ctx, args, bounds, "zremrangebyscore")
}

fn zremrangebylex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let bounds = Bounds::Lex(parse_lex_range(args.arg(2), args.arg(3))?);
    zremrange_generic(ctx, args, bounds, "zremrangebylex")
}

fn zremrange_generic(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    bounds: Bounds,
    event: &'static str,
) -> CmdResult {
    let key = args.arg(1);
    let (mut db, out) = db_and_out(ctx);
    let Some(zset) = existing_zset_mut(&mut db, key)? else {
        out.integer(0);
        return Ok(());
    };
    let (first, last) = match bounds {
        Bounds::Rank(s, e) => match clamp_ranks(s, e, zset.len()) {
            None => (0, 0),
            Some((s, e)) => (s, e + 1),
        },
        Bounds::Score(r) => {
            let r = zset.score_range(&r);
            (r.start, r.end)
        }
        Bounds::Lex(r) => {
            let r = zset.lex_range(&r);
            (r.start, r.end)
        }
    };
    let removed = zset.remove_ranks(first, last);
    if removed > 0 {
        after_removal(&mut db, key, removed, event);
    }
    out.integer(removed as i64);
    Ok(())
}

fn zpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zpop_command(ctx, args, false)
}

fn zpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    zpop_command(ctx, args, true)
}

fn zpop_command(ctx: &mut Ctx<'_>, args: Args<'_>, max: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(SYNTAX);
    }
    let count = match args.get(2) {
        Some(a) => Some(crate::list::positive_count(a)?),
        None => None,
    };
    let key = args.arg(1);
    // RESP3 with an explicit count nests the pairs; otherwise the reply is flat.
    let nested = ctx.out.protocol() == Protocol::Resp3 && count.is_some();
    let (mut db, out) = db_and_out(ctx);
    let Some(zset) = existing_zset_mut(&mut db, key)? else {
        out.array(0);
        return Ok(());
    };
    let count = count.unwrap_or(1);
    if count == 0 {
        out.array(0);
        return Ok(());
    }
    let n = count.min(zset.len());
    out.array(if nested { n } else { n * 2 });
    for _ in 0..n {
        if let Some((m, s)) = zset.pop(max) {
            if nested {
                out.array(2);
            }
            out.bulk(&m);
            out.double(s);
        }
    }
    after_removal(&mut db, key, n, if max { "zpopmax" } else { "zpopmin" });
    Ok(())
}

fn zmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mpop = parse_mpop(args, 1, parse_min_max)?;
    if !zmpop_serve(ctx, args, &mpop)? {
        ctx.out.null_array();
    }
    Ok(())
}

/// MIN/MAX of ZMPOP and BZMPOP: true for MAX.
pub(crate) fn parse_min_max(arg: &[u8]) -> Result<bool, CmdError> {
    if is(arg, "min") {
        Ok(false)
    } else if is(arg, "max") {
        Ok(true)
    } else {
        Err(SYNTAX)
    }
}

/// ZMPOP's work once its arguments are parsed (`mpop.side` is true for MAX), shared with BZMPOP:
/// pops from the first non-empty sorted set and replies, or returns Ok(false) without replying
/// when all of them are empty.
pub(crate) fn zmpop_serve(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    mpop: &Mpop<bool>,
) -> Result<bool, CmdError> {
    let (max, count) = (mpop.side, mpop.count);
    let (mut db, out) = db_and_out(ctx);
    for key in mpop.key_args(args) {
        let Some(zset) = existing_zset_mut(&mut db, key)? else {
            continue;
        };
        if zset.is_empty() {
            continue;
        }
        let n = count.min(zset.len());
        out.array(2);
        out.bulk(key);
        out.array(n);
        for _ in 0..n {
            if let Some((m, s)) = zset.pop(max) {
                out.array(2);
                out.bulk(&m);
                out.double(s);
            }
        }
        after_removal(&mut db, key, n, if max { "zpopmax" } else { "zpopmin" });
        return Ok(true);
    }
    Ok(false)
}

// ---------------------------------------------------------------------------------------------
// ZUNION / ZINTER / ZDIFF and their STORE forms, ZINTERCARD
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

/// Redis zunionInterAggregate: a NaN sum (inf + -inf) becomes 0.
fn aggregate(target: &mut f64, val: f64, how: Aggregate) {
    match how {
        Aggregate::Sum => {
            *target += val;
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// An input of the algebra: a sorted set, or a set whose members all score 1.
enum Source<'a> {
    Z(&'a ZSetValue),
    S(&'a SetValue),
}

impl Source<'_> {
    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Source::Z(z) => z.score(m),
            Source::S(s) => s.contains(m).then_some(1.0),
        }
    }

    fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        match self {
            Source::Z(z) => z.for_each(f),
            Source::S(s) => {
                for m in s.iter() {
                    m.with_bytes(|b| f(b, 1.0));
                }
            }
        }
    }
}

/// The source at `key` (already type-checked by this command), if present.
fn source<'a>(db: &'a mut DbRef<'_>, key: &[u8]) -> Option<Source<'a>> {
    match db.peek(key)?.value() {
        ValueRef::Obj(Value::ZSet(z)) => Some(Source::Z(z)),
        ValueRef::Obj(Value::Set(s)) => Some(Source::S(s)),
        _ => None,
    }
}

fn zunion(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    setop_generic(ctx, args, None, 1, SetOp::Union, false, "zunion")
}

fn zinter(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    setop_generic(ctx, args, None, 1, SetOp::Inter, false, "zinter")
}

fn zdiff(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    setop_generic(ctx, args, None, 1, SetOp::Diff, false, "zdiff")
}

fn zunionstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    setop_generic(
        ctx,
        args,
        Some(args.arg(1)),
        2,
        SetOp::Union,
        false,
        "zunionstore",
    )
}

fn zinterstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    setop_generic(
        ctx,
        args,
        Some(args.arg(1)),
        2,
        SetOp::Inter,
        false,
        "zinterstore",
    )
}

fn zdiffstore(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    setop_generic(
        ctx,
        args,
        Some(args.arg(1)),
        2,
        SetOp::Diff,
        false,
        "zdiffstore",
    )
}

fn zintercard(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    setop_generic(ctx, args, None, 1, SetOp::Inter, true, "zintercard")
}

/// Members of the smallest input filtered per round by ZINTER (bounds the work before a
/// ZINTERCARD LIMIT is noticed).
const INTER_CHUNK: usize = 1024;

/// Redis zunionInterDiffGenericCommand.
#[allow(clippy::too_many_arguments)]
fn setop_generic(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    dst: Option<&[u8]>,
    numkeys_idx: usize,
    op: SetOp,
    card_only: bool,
    name: &'static str,
) -> CmdResult {
    let numkeys = int_arg(args.arg(numkeys_idx))?;
    if numkeys < 1 {
        return Err(CmdError::msg(format!(
            "ERR at least 1 input key is needed for '{name}' command"
        )));
    }
    if numkeys as u64 > (args.len() - numkeys_idx - 1) as u64 {
        return Err(SYNTAX);
    }
    let numkeys = numkeys as usize;
    let keys: Vec<&[u8]> = (0..numkeys)
        .map(|i| args.arg(numkeys_idx + 1 + i))
        .collect();
    // Every source is type-checked (and counted as a read) before the options are parsed.
    let mut sizes = Vec::with_capacity(numkeys);
    {
        let (mut db, _) = db_and_out(ctx);
        for k in &keys {
            let n = match db.get(k) {
                None => 0,
                Some(ValueRef::Obj(Value::ZSet(z))) => z.len(),
                Some(ValueRef::Obj(Value::Set(s))) => s.len(),
                Some(_) => return Err(WRONG_TYPE),
            };
            sizes.push(n);
        }
    }
    let mut weights = vec![1.0f64; numkeys];
    let mut how = Aggregate::Sum;
    let mut withscores = false;
    let mut limit: usize = 0;
    let mut j = numkeys_idx + 1 + numkeys;
    while j < args.len() {
        let remaining = args.len() - j;
        let opt = args.arg(j);
        if op != SetOp::Diff && !card_only && remaining > numkeys && is(opt, "weights") {
            for w in weights.iter_mut() {
                j += 1;
                *w = parse_score(args.arg(j))
                    .ok_or(CmdError::Static("ERR weight value is not a float"))?;
            }
            j += 1;
        } else if op != SetOp::Diff && !card_only && remaining >= 2 && is(opt, "aggregate") {
            let a = args.arg(j + 1);
            how = if is(a, "sum") {
                Aggregate::Sum
            } else if is(a, "min") {
                Aggregate::Min
            } else if is(a, "max") {
                Aggregate::Max
            } else {
                return Err(SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && is(opt, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is(opt, "limit") {
            limit = match parse_i64(args.arg(j + 1)) {
                Some(l) if l >= 0 => l as usize,
                _ => return Err(CmdError::Static("ERR LIMIT can't be negative")),
            };
            j += 2;
        } else {
            return Err(SYNTAX);
        }
    }

    let (mut db, out) = db_and_out(ctx);
    // Inputs in Redis's processing order: by size for union and intersection, the first one
    // first for the difference.
    let mut order: Vec<usize> = (0..numkeys).collect();
    if op != SetOp::Diff {
        order.sort_by_key(|&i| sizes[i]);
    }
    let mut result: Vec<(Vec<u8>, f64)> = Vec::new();
    let mut cardinality = 0usize;
    match op {
        SetOp::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for &i in &order {
                if sizes[i] == 0 {
                    continue;
                }
                let w = weights[i];
                if let Some(src) = source(&mut db, keys[i]) {
                    src.for_each(|m, s| {
                        let mut score = w * s;
                        if score.is_nan() {
                            score = 0.0;
                        }
                        match acc.get_mut(m) {
                            Some(t) => aggregate(t, score, how),
                            None => {
                                acc.insert(m.to_vec(), score);
                            }
                        }
                    });
                }
            }
            result = acc.into_iter().collect();
        }
        SetOp::Inter => {
            let first = order[0];
            if sizes[first] > 0 {
                let mut base: Vec<(Vec<u8>, f64)> = Vec::with_capacity(sizes[first]);
                if let Some(src) = source(&mut db, keys[first]) {
                    let w = weights[first];
                    src.for_each(|m, s| {
                        let mut score = w * s;
                        if score.is_nan() {
                            score = 0.0;
                        }
                        base.push((m.to_vec(), score));
                    });
                }
                let mut rest = base.into_iter();
                'chunks: loop {
                    let mut chunk: Vec<(Vec<u8>, f64)> = rest.by_ref().take(INTER_CHUNK).collect();
                    if chunk.is_empty() {
                        break;
                    }
                    for &i in &order[1..] {
                        let w = weights[i];
                        match source(&mut db, keys[i]) {
                            Some(src) => chunk.retain_mut(|(m, score)| match src.score(m) {
                                Some(v) => {
                                    aggregate(score, v * w, how);
                                    true
                                }
                                None => false,
                            }),
                            None => chunk.clear(),
                        }
                        if chunk.is_empty() {
                            continue 'chunks;
                        }
                    }
                    if card_only {
                        cardinality += chunk.len();
                        if limit > 0 && cardinality >= limit {
                            cardinality = limit;
                            break;
                        }
                    } else {
                        result.extend(chunk);
                    }
                }
            }
        }
        SetOp::Diff => {
            if sizes[0] > 0 {
                if let Some(src) = source(&mut db, keys[0]) {
                    src.for_each(|m, s| result.push((m.to_vec(), s)));
                }
                for i in 1..numkeys {
                    if result.is_empty() {
                        break;
                    }
                    if sizes[i] == 0 {
                        continue;
                    }
                    if let Some(src) = source(&mut db, keys[i]) {
                        result.retain(|(m, _)| src.score(m).is_none());
                    }
                }
            }
        }
    }
    if card_only {
        out.integer(cardinality as i64);
        return Ok(());
    }
    result.sort_by(|a, b| cmp_score(a.1, b.1).then_with(|| a.0.cmp(&b.0)));
    match dst {
        Some(d) => store_result(&mut db, out, d, result, name),
        None => {
            pairs_header(out, result.len(), withscores);
            for (m, s) in &result {
                if withscores {
                    emit_pair(out, m, *s);
                } else {
                    out.bulk(m);
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// ZRANDMEMBER, ZSCAN
// ---------------------------------------------------------------------------------------------

fn zrandmember(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    if args.len() == 2 {
        let mut rng = Rng::new(ctx.store.common.rng.next_u64());
        let (mut db, out) = db_and_out(ctx);
        let pick = read_zset(&mut db, key)?
            .and_then(|z| z.get_by_rank(rng.below(z.len() as u64) as usize));
        match pick {
            Some((m, _)) => out.bulk(m),
            None => out.null(),
        }
        return Ok(());
    }
    let l = parse_random_count(args.arg(2))?;
    let withscores = parse_random_flag(args, l, "withscores")?;
    let max_reply = max_string_len(ctx) as usize;
    let mut rng = Rng::new(ctx.store.common.rng.next_u64());
    let (mut db, out) = db_and_out(ctx);
    let Some(zset) = read_zset(&mut db, key)? else {
        out.array(0);
        return Ok(());
    };
    let size = zset.len();
    let count = l.unsigned_abs();
    if count == 0 || size == 0 {
        out.array(0);
        return Ok(());
    }
    // A listpack has O(n) positional access: index a snapshot of it instead.
    let snapshot: Vec<(&[u8], f64)> = if zset.encoding() == "listpack" {
        let mut v = Vec::with_capacity(size);
        zset.visit_ranks(0, size, false, |m, s| {
            v.push((m, s));
            true
        });
        v
    } else {
        Vec::new()
    };
    let at = |i: usize| -> (&[u8], f64) {
        match snapshot.get(i) {
            Some(&e) => e,
            None => zset.get_by_rank(i).unwrap_or((b"", 0.0)),
        }
    };
    let emit = |out: &mut ReplyWriter, (m, s): (&[u8], f64)| {
        if withscores {
            emit_pair(out, m, s);
        } else {
            out.bulk(m);
        }
    };
    // Repetitions (also for a count of 1) are bounded by the reply size instead of the set; the
    // whole set comes highest first (Redis serves that case as a reversed ZRANGEBYSCORE).
    let spec = RandomSample {
        l,
        size,
        max_reply,
        one_repeats: true,
    };
    let header = |out: &mut ReplyWriter, n: usize| pairs_header(out, n, withscores);
    let all = (0..size).rev().map(&at);
    write_random_sample(out, &mut rng, spec, at, all, header, emit)
}

fn zscan(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let cursor = string2ull(args.arg(2)).ok_or(INVALID_CURSOR)?;
    let (mut db, out) = db_and_out(ctx);
    let Some(zset) = read_zset(&mut db, args.arg(1))? else {
        empty_scan(out);
        return Ok(());
    };
    let opts = parse_scan_opts(args, 3, ScanOf::Collection)?;
    let mut items: Vec<(&[u8], f64)> = Vec::new();
    let next = zset.scan(cursor, opts.count, |m, s| {
        if opts.pattern.is_none_or(|p| glob_match(p, m, false)) {
            items.push((m, s));
        }
    });
    scan_reply_header(out, next, items.len() * 2);
    for (m, s) in items {
        out.bulk(m);
        // Scores are bulk strings in both protocols, as in Redis.
        out.bulk_f64(s);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_arguments_follow_redis() {
        assert_eq!(parse_score(b"1.5"), Some(1.5));
        assert_eq!(parse_score(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_score(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_score(b"0"), Some(0.0));
        assert_eq!(parse_score(b"0.000"), Some(0.0));
        assert_eq!(parse_score(b"0e10"), Some(0.0));
        assert_eq!(parse_score(b"1e400"), None);
        assert_eq!(parse_score(b"1e-400"), None);
        assert_eq!(parse_score(b"nan"), None);
        assert_eq!(parse_score(b""), None);
        assert_eq!(parse_score(b" 1"), None);
    }

    #[test]
    fn range_items_follow_strtod() {
        assert_eq!(parse_range_item(b"(1"), Some((1.0, true)));
        assert_eq!(parse_range_item(b"1"), Some((1.0, false)));
        assert_eq!(parse_range_item(b""), Some((0.0, false)));
        assert_eq!(parse_range_item(b"("), Some((0.0, true)));
        assert_eq!(parse_range_item(b" 1"), Some((1.0, false)));
        assert_eq!(parse_range_item(b"1 "), None);
        assert_eq!(parse_range_item(b"1e400"), Some((f64::INFINITY, false)));
        assert_eq!(parse_range_item(b"nan"), None);
        assert_eq!(parse_range_item(b"-inf"), Some((f64::NEG_INFINITY, false)));
    }

    #[test]
    fn lex_items() {
        assert_eq!(parse_lex_item(b"-"), Some(LexBound::NegInf));
        assert_eq!(parse_lex_item(b"+"), Some(LexBound::PosInf));
        assert_eq!(
            parse_lex_item(b"[a"),
            Some(LexBound::Inclusive(b"a".to_vec()))
        );
        assert_eq!(
            parse_lex_item(b"(a"),
            Some(LexBound::Exclusive(b"a".to_vec()))
        );
        assert_eq!(parse_lex_item(b"["), Some(LexBound::Inclusive(Vec::new())));
        assert_eq!(parse_lex_item(b"+a"), None);
        assert_eq!(parse_lex_item(b"a"), None);
        assert_eq!(parse_lex_item(b""), None);
    }

    #[test]
    fn limits_apply_from_the_right_end() {
        // Ranks 2..8 of a 10-member set.
        assert_eq!(limit_ranks(2..8, 0, -1, false, 10), (2, 8));
        assert_eq!(limit_ranks(2..8, 1, 2, false, 10), (3, 5));
        assert_eq!(limit_ranks(2..8, 1, 2, true, 10), (5, 7));
        assert_eq!(limit_ranks(2..8, 5, 10, false, 10), (7, 8));
        assert_eq!(limit_ranks(2..8, 6, 10, false, 10), (8, 8));
        assert_eq!(limit_ranks(2..8, 6, 10, true, 10), (2, 2));
        assert_eq!(limit_ranks(2..8, -1, 10, false, 10), (0, 0));
        assert_eq!(limit_ranks(2..8, 10, 10, false, 10), (0, 0));
        assert_eq!(limit_ranks(2..8, 0, 0, false, 10), (2, 2));
    }

    #[test]
    fn aggregation_matches_redis() {
        let mut t = f64::INFINITY;
        aggregate(&mut t, f64::NEG_INFINITY, Aggregate::Sum);
        assert_eq!(t, 0.0);
        let mut t = 1.0;
        aggregate(&mut t, f64::NAN, Aggregate::Min);
        assert_eq!(t, 1.0);
        aggregate(&mut t, 0.5, Aggregate::Min);
        assert_eq!(t, 0.5);
        aggregate(&mut t, 3.0, Aggregate::Max);
        assert_eq!(t, 3.0);
    }
}
