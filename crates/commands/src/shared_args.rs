//! Argument parsing and reply helpers shared by several command families: SCAN cursors and the
//! HSCAN/SSCAN/ZSCAN options and reply, the count argument and sampling of HRANDFIELD/SRANDMEMBER/
//! ZRANDMEMBER, `numkeys` and the tail of LMPOP/ZMPOP, and the destination write of the STORE
//! commands. Each family keeps its own lookups and reply shapes; only what was written the same
//! way in several of them lives here.

use crate::error::{CmdError, CmdResult, NOT_INTEGER, SYNTAX};
use crate::parse::{int_arg, is, parse_i64};
use ringkv_config::notify;
use ringkv_engine::{DbRef, Rng, Ttl, Value};
use ringkv_protocol::{Args, ReplyWriter};
use std::ops::Range;

// ---------------------------------------------------------------------------------------------
// SCAN family
// ---------------------------------------------------------------------------------------------

/// An unsigned number parsed like Redis's string2ull (SCAN cursors, the parts of stream IDs): a
/// canonical integer, or failing that what strtoull accepts over the whole string (leading
/// whitespace, '+', leading zeros); negative values and values beyond u64 are invalid.
pub(crate) fn string2ull(s: &[u8]) -> Option<u64> {
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
    // strtoull negates "-N"; string2ull rejects anything that reads as negative except zero.
    if neg && v != 0 {
        return None;
    }
    Some(v)
}

pub(crate) const INVALID_CURSOR: CmdError = CmdError::Static("ERR invalid cursor");

/// What a SCAN-family command iterates: it decides the options allowed besides MATCH and COUNT.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum ScanOf {
    /// SCAN: the keyspace (`TYPE type`).
    Keyspace,
    /// HSCAN: a hash (`NOVALUES`).
    Hash,
    /// SSCAN, ZSCAN.
    Collection,
}

/// Options of SCAN, HSCAN, SSCAN and ZSCAN after the cursor.
pub(crate) struct ScanOpts<'a> {
    /// None when absent or exactly "*" (matches everything).
    pub pattern: Option<&'a [u8]>,
    /// At least 1.
    pub count: usize,
    pub novalues: bool,
    pub type_name: Option<&'a [u8]>,
}

/// Parses `[MATCH pattern] [COUNT count]`, plus `[TYPE type]` for SCAN and `[NOVALUES]` for HSCAN,
/// from argument `from` on (Redis 7.4's error text for NOVALUES elsewhere).
pub(crate) fn parse_scan_opts(
    args: Args<'_>,
    from: usize,
    of: ScanOf,
) -> Result<ScanOpts<'_>, CmdError> {
    let mut o = ScanOpts {
        pattern: None,
        // Redis's default COUNT (scanGenericCommand).
        count: 10,
        novalues: false,
        type_name: None,
    };
    let mut i = from;
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
        } else if is(opt, "type") && has_value && of == ScanOf::Keyspace {
            o.type_name = Some(args.arg(i + 1));
            i += 2;
        } else if is(opt, "novalues") {
            if of != ScanOf::Hash {
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

/// Starts a scan reply `[next, [...]]` whose inner array has `n` elements (written by the caller).
pub(crate) fn scan_reply_header(out: &mut ReplyWriter, next: u64, n: usize) {
    out.array(2);
    out.bulk(next.to_string().as_bytes());
    out.array(n);
}

// ---------------------------------------------------------------------------------------------
// HRANDFIELD, SRANDMEMBER, ZRANDMEMBER
// ---------------------------------------------------------------------------------------------

/// The count argument of HRANDFIELD/SRANDMEMBER/ZRANDMEMBER: an integer other than LONG_MIN.
pub(crate) fn parse_random_count(arg: &[u8]) -> Result<i64, CmdError> {
    match parse_i64(arg) {
        None => Err(NOT_INTEGER),
        Some(i64::MIN) => Err(CmdError::Static(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
        )),
        Some(l) => Ok(l),
    }
}

/// The optional `flag` (WITHVALUES, WITHSCORES) after the count `l` of HRANDFIELD/ZRANDMEMBER;
/// with it the count must stay within ±LONG_MAX/2 (the reply holds two elements per pick).
pub(crate) fn parse_random_flag(args: Args<'_>, l: i64, flag: &str) -> Result<bool, CmdError> {
    match args.len() {
        3 => Ok(false),
        4 if is(args.arg(3), flag) => {
            if !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
                return Err(CmdError::Static("ERR value is out of range"));
            }
            Ok(true)
        }
        _ => Err(SYNTAX),
    }
}

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

/// What a random-member reply is drawn from.
pub(crate) struct RandomSample {
    /// The parsed count argument: negative allows repetitions.
    pub l: i64,
    /// Elements in the collection (not 0).
    pub size: usize,
    /// Bound on the reply size when repetitions are allowed (proto-max-bulk-len).
    pub max_reply: usize,
    /// Whether a count of 1 is also served by the repetition path (ZRANDMEMBER).
    pub one_repeats: bool,
}

/// Writes the reply of a random-member command with a count `spec.l` (not 0): independent draws
/// when negative, the whole collection (`all`) when the count reaches its size, distinct positions
/// otherwise. `at` reads an element by position, `header` writes the reply's array header for `n`
/// picks and `emit` writes one pick.
pub(crate) fn write_random_sample<T>(
    out: &mut ReplyWriter,
    rng: &mut Rng,
    spec: RandomSample,
    at: impl Fn(usize) -> T,
    all: impl Iterator<Item = T>,
    header: impl Fn(&mut ReplyWriter, usize),
    emit: impl Fn(&mut ReplyWriter, T),
) -> CmdResult {
    let RandomSample {
        l,
        size,
        max_reply,
        one_repeats,
    } = spec;
    let count = l.unsigned_abs();
    if l < 0 || (one_repeats && count == 1) {
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
        for p in all {
            emit(out, p);
        }
        return Ok(());
    }
    header(out, count);
    for i in sample_distinct(size, count, rng) {
        emit(out, at(i));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// numkeys, LMPOP/ZMPOP
// ---------------------------------------------------------------------------------------------

pub(crate) const NUMKEYS: CmdError = CmdError::Static("ERR numkeys should be greater than 0");

/// A `numkeys` argument of SINTERCARD/LMPOP/ZMPOP: an integer of at least 1.
pub(crate) fn parse_numkeys(arg: &[u8]) -> Result<u64, CmdError> {
    match parse_i64(arg) {
        Some(n) if n >= 1 => Ok(n as u64),
        _ => Err(NUMKEYS),
    }
}

/// The arguments of LMPOP/ZMPOP (and their blocking forms) after the command's own prefix:
/// `numkeys key [key ...] <where> [COUNT count]`.
pub(crate) struct Mpop<W> {
    /// Positions of the keys among the arguments.
    pub keys: Range<usize>,
    /// The parsed LEFT/RIGHT or MIN/MAX argument.
    pub side: W,
    /// The COUNT option (1 if absent).
    pub count: usize,
}

impl<W> Mpop<W> {
    /// The named keys.
    pub fn key_args<'a>(&self, args: Args<'a>) -> impl Iterator<Item = &'a [u8]> {
        self.keys.clone().map(move |i| args.arg(i))
    }
}

/// Parses the arguments of LMPOP/ZMPOP whose `numkeys` is at `numkeys_idx` (1 for LMPOP/ZMPOP,
/// 2 for BLMPOP/BZMPOP), reading the where argument with `side`. Errors come in Redis's order:
/// numkeys, a where argument past the end (syntax error), the where argument itself, then COUNT.
pub(crate) fn parse_mpop<W>(
    args: Args<'_>,
    numkeys_idx: usize,
    side: impl FnOnce(&[u8]) -> Result<W, CmdError>,
) -> Result<Mpop<W>, CmdError> {
    let numkeys = parse_numkeys(args.arg(numkeys_idx))?;
    let where_idx = numkeys
        .checked_add(numkeys_idx as u64 + 1)
        .filter(|&w| w < args.len() as u64)
        .ok_or(SYNTAX)? as usize;
    let side = side(args.arg(where_idx))?;
    let count = parse_mpop_count(args, where_idx)?;
    Ok(Mpop {
        keys: numkeys_idx + 1..where_idx,
        side,
        count,
    })
}

/// The optional `COUNT count` of LMPOP/ZMPOP after the where argument at `where_idx` (1 if absent).
fn parse_mpop_count(args: Args<'_>, where_idx: usize) -> Result<usize, CmdError> {
    let mut count: Option<usize> = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        if count.is_none() && is(args.arg(j), "count") && j + 1 < args.len() {
            j += 1;
            count = match parse_i64(args.arg(j)) {
                Some(c) if c >= 1 => Some(c as usize),
                _ => return Err(CmdError::Static("ERR count should be greater than 0")),
            };
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    Ok(count.unwrap_or(1))
}

// ---------------------------------------------------------------------------------------------
// STORE destinations
// ---------------------------------------------------------------------------------------------

/// Stores the `n`-element result of a STORE command: the destination is replaced by `value()`
/// (whatever its type, TTL dropped) and `event` raised in `class`, or deleted when the result is
/// empty. Replies with `n`.
pub(crate) fn store_result(
    db: &mut DbRef<'_>,
    out: &mut ReplyWriter,
    dst: &[u8],
    n: usize,
    value: impl FnOnce() -> Value,
    class: u32,
    event: &'static str,
) {
    if n == 0 {
        if db.remove(dst) {
            db.notify(notify::GENERIC, "del", dst);
        }
    } else {
        db.set_value(dst, value(), Ttl::Persist);
        db.notify(class, event, dst);
    }
    out.integer(n as i64);
}
