//! String commands (Redis t_string.c): GET/SET and their variants, the multi-key forms, in-place
//! edits (APPEND, SETRANGE), ranges, the integer and float counters, and LCS.
//!
//! Semantics follow Redis 7 to the byte: option conflicts, the order in which errors are detected
//! (which decides what a client sees when several things are wrong), TTL handling (SET and GETSET
//! drop the TTL, APPEND/SETRANGE/INCR* keep it) and size limits (proto-max-bulk-len is checked
//! before any buffer grows). INCRBYFLOAT computes in x87 80-bit extended precision and prints with
//! `%.17Lf` like Redis does (see the `ld` module), so `0.1 + 0.2` answers "0.3" as in Redis, not
//! the f64 answer "0.30000000000000004".
//!
//! Writes raise the same keyspace events as Redis ("set", "expire", "append", "incrby", ...).

use crate::ctx::Ctx;
use crate::error::{
    CmdError, CmdResult, NOT_FLOAT, NOT_INTEGER, OVERFLOW, STRING_TOO_LONG, SYNTAX, WRONG_TYPE,
};
use crate::parse::{int_arg, is, parse_i64};
use crate::table::{flags, CommandSpec};
use ringkv_config::notify;
use ringkv_engine::{DbRef, Ttl, Value, ValueRef};
use ringkv_protocol::Args;

const RW_DENYOOM: u32 = flags::WRITE | flags::DENYOOM;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", 2, flags::READONLY | flags::FAST, get)
        .keys(1, 1, 1)
        .group("string")
        .doc("Returns the string value of a key.", "1.0.0", "O(1)")
        .syntax("key"),
    CommandSpec::new("set", -3, RW_DENYOOM, set)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
            "1.0.0",
            "O(1)",
        )
        .syntax("key value [NX | XX] [GET] [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | KEEPTTL]"),
    CommandSpec::new("setnx", 3, RW_DENYOOM | flags::FAST, setnx)
        .keys(1, 1, 1)
        .group("string")
        .doc("Set the string value of a key only when the key doesn't exist.", "1.0.0", "O(1)")
        .syntax("key value"),
    CommandSpec::new("setex", 4, RW_DENYOOM, setex)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
            "2.0.0",
            "O(1)",
        )
        .syntax("key seconds value"),
    CommandSpec::new("psetex", 4, RW_DENYOOM, psetex)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
            "2.6.0",
            "O(1)",
        )
        .syntax("key milliseconds value"),
    CommandSpec::new("mget", -2, flags::READONLY | flags::FAST, mget)
        .keys(1, -1, 1)
        .group("string")
        .doc(
            "Atomically returns the string values of one or more keys.",
            "1.0.0",
            "O(N) where N is the number of keys to retrieve.",
        )
        .syntax("key [key ...]"),
    CommandSpec::new("mset", -3, RW_DENYOOM, mset)
        .keys(1, -1, 2)
        .group("string")
        .doc(
            "Atomically creates or modifies the string values of one or more keys.",
            "1.0.1",
            "O(N) where N is the number of keys to set.",
        )
        .syntax("key value [key value ...]"),
    CommandSpec::new("msetnx", -3, RW_DENYOOM, msetnx)
        .keys(1, -1, 2)
        .group("string")
        .doc(
            "Atomically modifies the string values of one or more keys only when all keys don't exist.",
            "1.0.1",
            "O(N) where N is the number of keys to set.",
        )
        .syntax("key value [key value ...]"),
    CommandSpec::new("getset", 3, RW_DENYOOM | flags::FAST, getset)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Returns the previous string value of a key after setting it to a new value.",
            "1.0.0",
            "O(1)",
        )
        .syntax("key value"),
    CommandSpec::new("getdel", 2, flags::WRITE | flags::FAST, getdel)
        .keys(1, 1, 1)
        .group("string")
        .doc("Returns the string value of a key after deleting the key.", "6.2.0", "O(1)")
        .syntax("key"),
    CommandSpec::new("getex", -2, flags::WRITE | flags::FAST, getex)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Returns the string value of a key after setting its expiration time.",
            "6.2.0",
            "O(1)",
        )
        .syntax("key [EX seconds | PX milliseconds | EXAT unix-time-seconds | PXAT unix-time-milliseconds | PERSIST]"),
    CommandSpec::new("append", 3, RW_DENYOOM | flags::FAST, append)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Appends a string to the value of a key. Creates the key if it doesn't exist.",
            "2.0.0",
            "O(1). The amortized time complexity is O(1) assuming the appended value is small and the already present value is of any size.",
        )
        .syntax("key value"),
    CommandSpec::new("strlen", 2, flags::READONLY | flags::FAST, strlen)
        .keys(1, 1, 1)
        .group("string")
        .doc("Returns the length of a string value.", "2.2.0", "O(1)")
        .syntax("key"),
    CommandSpec::new("getrange", 4, flags::READONLY, getrange)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Returns a substring of the string stored at a key.",
            "2.4.0",
            "O(N) where N is the length of the returned string.",
        )
        .syntax("key start end"),
    CommandSpec::new("substr", 4, flags::READONLY, getrange)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Returns a substring from a string value.",
            "1.0.0",
            "O(N) where N is the length of the returned string.",
        )
        .syntax("key start end"),
    CommandSpec::new("setrange", 4, RW_DENYOOM, setrange)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
            "2.2.0",
            "O(1), not counting the time taken to copy the new string in place. Otherwise, complexity is O(M) with M being the length of the value argument.",
        )
        .syntax("key offset value"),
    CommandSpec::new("incr", 2, RW_DENYOOM | flags::FAST, incr)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
            "1.0.0",
            "O(1)",
        )
        .syntax("key"),
    CommandSpec::new("decr", 2, RW_DENYOOM | flags::FAST, decr)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
            "1.0.0",
            "O(1)",
        )
        .syntax("key"),
    CommandSpec::new("incrby", 3, RW_DENYOOM | flags::FAST, incrby)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
            "1.0.0",
            "O(1)",
        )
        .syntax("key increment"),
    CommandSpec::new("decrby", 3, RW_DENYOOM | flags::FAST, decrby)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
            "1.0.0",
            "O(1)",
        )
        .syntax("key decrement"),
    CommandSpec::new("incrbyfloat", 3, RW_DENYOOM | flags::FAST, incrbyfloat)
        .keys(1, 1, 1)
        .group("string")
        .doc(
            "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
            "2.6.0",
            "O(1)",
        )
        .syntax("key increment"),
    CommandSpec::new("lcs", -3, flags::READONLY, lcs)
        .keys(1, 2, 1)
        .group("string")
        .doc(
            "Finds the longest common substring.",
            "7.0.0",
            "O(N*M) where N and M are the lengths of s1 and s2, respectively",
        )
        .syntax("key1 key2 [LEN] [IDX] [MINMATCHLEN min-match-len] [WITHMATCHLEN]"),
];

/// The configured proto-max-bulk-len: the largest string a command may build.
pub(crate) fn max_string_len(ctx: &Ctx<'_>) -> u64 {
    ctx.shared.config.read().proto_max_bulk_len
}

/// Redis checkStringLength: `size + append` must not exceed proto-max-bulk-len (nor overflow).
pub(crate) fn check_string_length(ctx: &Ctx<'_>, size: u64, append: u64) -> CmdResult {
    match size.checked_add(append) {
        Some(total) if total <= max_string_len(ctx) => Ok(()),
        _ => Err(STRING_TOO_LONG),
    }
}

/// Reported if the allocator refuses to grow a string. Sizes are bounded by proto-max-bulk-len
/// first, so this only happens when that limit is configured beyond what the machine can give;
/// Redis would abort there, ringkv answers an error instead.
pub(crate) const GROW_FAILED: CmdError =
    CmdError::Static("OOM out of memory while growing a string");

/// Makes room for `needed` bytes in a string edited in place (APPEND, SETRANGE, SETBIT,
/// BITFIELD). Below 1 MB the capacity doubles; above, the headroom is a quarter of the size. Both
/// keep repeated growth amortised O(1), and the second bounds the unused capacity (which MEMORY
/// USAGE and maxmemory count) to 25% instead of up to 100% for big strings.
pub(crate) fn reserve_for(s: &mut Vec<u8>, needed: usize) -> CmdResult {
    if needed <= s.capacity() {
        return Ok(());
    }
    let headroom = if needed < 1 << 20 { needed } else { needed / 4 };
    if s.try_reserve_exact(needed + headroom - s.len()).is_err()
        && s.try_reserve_exact(needed - s.len()).is_err()
    {
        return Err(GROW_FAILED);
    }
    Ok(())
}

/// A zero-filled buffer of `n` bytes (`n` already bounded by proto-max-bulk-len), failing
/// cleanly instead of aborting if the allocator refuses.
pub(crate) fn zeroed(n: usize) -> Result<Vec<u8>, CmdError> {
    let mut v = Vec::new();
    v.try_reserve_exact(n).map_err(|_| GROW_FAILED)?;
    v.resize(n, 0);
    Ok(v)
}

/// The string length of a key for a write path (no hit/miss statistics): None if absent.
fn write_lookup_len(db: &mut DbRef<'_>, key: &[u8]) -> Result<Option<usize>, CmdError> {
    match db.entry_mut(key) {
        None => Ok(None),
        Some(e) => match e.value() {
            ValueRef::Str(s) => Ok(Some(s.len())),
            ValueRef::Obj(_) => Err(WRONG_TYPE),
        },
    }
}

fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut db = ctx.store.db(ctx.client.db);
    match db.get(args.arg(1)) {
        None => ctx.out.null(),
        Some(ValueRef::Str(s)) => ctx.out.bulk(s),
        Some(ValueRef::Obj(_)) => return Err(WRONG_TYPE),
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// SET and its expiry options (Redis parseExtendedStringArgumentsOrReply).

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExpireKind {
    Ex,
    Px,
    ExAt,
    PxAt,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum ExtCommand {
    Set,
    GetEx,
}

#[derive(Default)]
struct ExtOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<(ExpireKind, &'a [u8])>,
}

/// Parses SET's (from argument 3) or GETEX's (from argument 2) options with Redis's exact
/// conflict rules: a repeated option is allowed (the last expiry wins), two different expiry
/// kinds or an expiry with KEEPTTL/PERSIST are a syntax error, as is an expiry without a value.
fn parse_ext_options<'a>(
    args: &Args<'a>,
    from: usize,
    cmd: ExtCommand,
) -> Result<ExtOptions<'a>, CmdError> {
    let mut o = ExtOptions::default();
    let mut j = from;
    while j < args.len() {
        let opt = args.arg(j);
        let next = args.get(j + 1);
        let kind = o.expire.map(|(k, _)| k);
        let other_expiry = |k: ExpireKind| kind.is_some() && kind != Some(k);
        if is(opt, "NX") && !o.xx && cmd == ExtCommand::Set {
            o.nx = true;
        } else if is(opt, "XX") && !o.nx && cmd == ExtCommand::Set {
            o.xx = true;
        } else if is(opt, "GET") && cmd == ExtCommand::Set {
            o.get = true;
        } else if is(opt, "KEEPTTL") && !o.persist && kind.is_none() && cmd == ExtCommand::Set {
            o.keepttl = true;
        } else if is(opt, "PERSIST") && cmd == ExtCommand::GetEx && kind.is_none() && !o.keepttl {
            o.persist = true;
        } else if let (Some(k), Some(value)) = (expire_keyword(opt), next) {
            if o.keepttl || o.persist || other_expiry(k) {
                return Err(SYNTAX);
            }
            o.expire = Some((k, value));
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

fn expire_keyword(opt: &[u8]) -> Option<ExpireKind> {
    if is(opt, "EX") {
        Some(ExpireKind::Ex)
    } else if is(opt, "PX") {
        Some(ExpireKind::Px)
    } else if is(opt, "EXAT") {
        Some(ExpireKind::ExAt)
    } else if is(opt, "PXAT") {
        Some(ExpireKind::PxAt)
    } else {
        None
    }
}

/// Redis getExpireMillisecondsOrReply: the absolute deadline in unix ms. Non-positive values and
/// anything that overflows once converted are "invalid expire time in '<cmd>' command".
fn expire_deadline(kind: ExpireKind, arg: &[u8], now: i64, cmd: &str) -> Result<i64, CmdError> {
    let v = int_arg(arg)?;
    let seconds = matches!(kind, ExpireKind::Ex | ExpireKind::ExAt);
    if v <= 0 || (seconds && v > i64::MAX / 1000) {
        return Err(CmdError::invalid_expire(cmd));
    }
    let ms = if seconds { v * 1000 } else { v };
    let at = match kind {
        ExpireKind::Ex | ExpireKind::Px => ms.checked_add(now),
        ExpireKind::ExAt | ExpireKind::PxAt => Some(ms),
    };
    match at {
        Some(at) if at > 0 => Ok(at),
        _ => Err(CmdError::invalid_expire(cmd)),
    }
}

fn set(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = parse_ext_options(&args, 3, ExtCommand::Set)?;
    let now = ctx.now_ms();
    let ttl = match o.expire {
        Some((kind, arg)) => Ttl::At(expire_deadline(kind, arg, now, "set")?),
        None if o.keepttl => Ttl::Keep,
        None => Ttl::Persist,
    };
    set_generic(ctx, args.arg(1), args.arg(2), ttl, o.nx, o.xx, o.get)?;
    Ok(())
}

/// Redis setGenericCommand after the expiry was validated. Returns whether the key was set. With
/// `get` the reply (the old value) is written here; otherwise the caller replies.
fn set_generic(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    value: &[u8],
    ttl: Ttl,
    nx: bool,
    xx: bool,
    get: bool,
) -> Result<bool, CmdError> {
    let mut db = ctx.store.db(ctx.client.db);
    if get {
        // The type check comes first: SET ... GET on a non-string sets nothing.
        match db.get(key) {
            None => ctx.out.null(),
            Some(ValueRef::Str(s)) => ctx.out.bulk(s),
            Some(ValueRef::Obj(_)) => return Err(WRONG_TYPE),
        }
    }
    let found = db.entry_mut(key).is_some();
    if (nx && found) || (xx && !found) {
        if !get {
            ctx.out.null();
        }
        return Ok(false);
    }
    db.set_str(key, value, ttl);
    notify_set(&mut db, key, ttl);
    if !get {
        ctx.out.ok();
    }
    Ok(true)
}

/// The events of a SET-like write: "set", plus "expire" when it set a TTL.
fn notify_set(db: &mut DbRef<'_>, key: &[u8], ttl: Ttl) {
    db.notify(notify::STRING, "set", key);
    if matches!(ttl, Ttl::At(_)) {
        db.notify(notify::GENERIC, "expire", key);
    }
}

fn setnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut db = ctx.store.db(ctx.client.db);
    let key = args.arg(1);
    if db.entry_mut(key).is_some() {
        ctx.out.integer(0);
    } else {
        db.set_str(key, args.arg(2), Ttl::Persist);
        db.notify(notify::STRING, "set", key);
        ctx.out.integer(1);
    }
    Ok(())
}

fn setex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let at = expire_deadline(ExpireKind::Ex, args.arg(2), ctx.now_ms(), "setex")?;
    let mut db = ctx.store.db(ctx.client.db);
    db.set_str(args.arg(1), args.arg(3), Ttl::At(at));
    notify_set(&mut db, args.arg(1), Ttl::At(at));
    ctx.out.ok();
    Ok(())
}

fn psetex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let at = expire_deadline(ExpireKind::Px, args.arg(2), ctx.now_ms(), "psetex")?;
    let mut db = ctx.store.db(ctx.client.db);
    db.set_str(args.arg(1), args.arg(3), Ttl::At(at));
    notify_set(&mut db, args.arg(1), Ttl::At(at));
    ctx.out.ok();
    Ok(())
}

fn mget(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut db = ctx.store.db(ctx.client.db);
    ctx.out.array(args.len() - 1);
    for key in args.iter().skip(1) {
        match db.get(key) {
            Some(ValueRef::Str(s)) => ctx.out.bulk(s),
            // Missing keys and keys of other types are both nil, as in Redis.
            _ => ctx.out.null(),
        }
    }
    Ok(())
}

fn mset_pairs_ok(args: &Args<'_>, name: &str) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::arity(name));
    }
    Ok(())
}

fn mset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    mset_pairs_ok(&args, "mset")?;
    let mut db = ctx.store.db(ctx.client.db);
    for i in (1..args.len()).step_by(2) {
        db.set_str(args.arg(i), args.arg(i + 1), Ttl::Persist);
        db.notify(notify::STRING, "set", args.arg(i));
    }
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    mset_pairs_ok(&args, "msetnx")?;
    let mut db = ctx.store.db(ctx.client.db);
    for i in (1..args.len()).step_by(2) {
        if db.entry_mut(args.arg(i)).is_some() {
            ctx.out.integer(0);
            return Ok(());
        }
    }
    for i in (1..args.len()).step_by(2) {
        db.set_str(args.arg(i), args.arg(i + 1), Ttl::Persist);
        db.notify(notify::STRING, "set", args.arg(i));
    }
    ctx.out.integer(1);
    Ok(())
}

fn getset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut db = ctx.store.db(ctx.client.db);
    let key = args.arg(1);
    match db.get(key) {
        None => ctx.out.null(),
        Some(ValueRef::Str(s)) => ctx.out.bulk(s),
        Some(ValueRef::Obj(_)) => return Err(WRONG_TYPE),
    }
    db.set_str(key, args.arg(2), Ttl::Persist);
    db.notify(notify::STRING, "set", key);
    Ok(())
}

fn getdel(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut db = ctx.store.db(ctx.client.db);
    let key = args.arg(1);
    match db.get(key) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(ValueRef::Str(s)) => ctx.out.bulk(s),
        Some(ValueRef::Obj(_)) => return Err(WRONG_TYPE),
    }
    db.remove(key);
    db.notify(notify::GENERIC, "del", key);
    Ok(())
}

fn getex(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let o = parse_ext_options(&args, 2, ExtCommand::GetEx)?;
    let now = ctx.now_ms();
    let key = args.arg(1);
    let mut db = ctx.store.db(ctx.client.db);
    // Redis looks the key up before validating the expiry: a missing key answers nil even
    // with an invalid expire time.
    let value = match db.get(key) {
        None => {
            ctx.out.null();
            return Ok(());
        }
        Some(ValueRef::Obj(_)) => return Err(WRONG_TYPE),
        Some(ValueRef::Str(s)) => s,
    };
    let deadline = match o.expire {
        Some((kind, arg)) => Some(expire_deadline(kind, arg, now, "getex")?),
        None => None,
    };
    ctx.out.bulk(value);
    if let Some(at) = deadline {
        // A past EXAT/PXAT deletes the key (set_expire does that for deadlines <= now).
        db.set_expire(key, Some(at));
        let event = if at <= now { "del" } else { "expire" };
        db.notify(notify::GENERIC, event, key);
    } else if o.persist && matches!(db.expire_of(key), Ok(Some(_))) {
        db.set_expire(key, None);
        db.notify(notify::GENERIC, "persist", key);
    }
    Ok(())
}

fn append(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let extra = args.arg(2);
    let cur = write_lookup_len(&mut ctx.store.db(ctx.client.db), key)?;
    let Some(cur) = cur else {
        let mut db = ctx.store.db(ctx.client.db);
        db.set_str(key, extra, Ttl::Persist);
        db.notify(notify::STRING, "append", key);
        ctx.out.integer(extra.len() as i64);
        return Ok(());
    };
    check_string_length(ctx, cur as u64, extra.len() as u64)?;
    let mut db = ctx.store.db(ctx.client.db);
    let len = match db.string_mut(key)? {
        Some(s) => {
            reserve_for(s, s.len() + extra.len())?;
            s.extend_from_slice(extra);
            s.len()
        }
        None => 0,
    };
    db.notify(notify::STRING, "append", key);
    ctx.out.integer(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut db = ctx.store.db(ctx.client.db);
    let n = match db.get(args.arg(1)) {
        None => 0,
        Some(ValueRef::Str(s)) => s.len(),
        Some(ValueRef::Obj(_)) => return Err(WRONG_TYPE),
    };
    ctx.out.integer(n as i64);
    Ok(())
}

/// GETRANGE / SUBSTR: inclusive range with negative indexes from the end, clamped.
fn getrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let start = int_arg(args.arg(2))?;
    let end = int_arg(args.arg(3))?;
    let mut db = ctx.store.db(ctx.client.db);
    let s = match db.get(args.arg(1)) {
        None => {
            ctx.out.bulk(b"");
            return Ok(());
        }
        Some(ValueRef::Obj(_)) => return Err(WRONG_TYPE),
        Some(ValueRef::Str(s)) => s,
    };
    match clamp_range(start, end, s.len() as i64) {
        Some((a, b)) => ctx.out.bulk(&s[a as usize..=b as usize]),
        None => ctx.out.bulk(b""),
    }
    Ok(())
}

/// Redis's index normalisation for GETRANGE: None when the range is empty.
fn clamp_range(start: i64, end: i64, len: i64) -> Option<(i64, i64)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    // len <= 2^63-1 and start/end >= i64::MIN, so these additions cannot overflow.
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        None
    } else {
        Some((start, end))
    }
}

fn setrange(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let offset = int_arg(args.arg(2))?;
    let value = args.arg(3);
    if offset < 0 {
        return Err(CmdError::msg("ERR offset is out of range"));
    }
    let offset = offset as u64;
    let cur = write_lookup_len(&mut ctx.store.db(ctx.client.db), key)?;
    match cur {
        None => {
            if value.is_empty() {
                ctx.out.integer(0);
                return Ok(());
            }
            check_string_length(ctx, offset, value.len() as u64)?;
            // Bounded by proto-max-bulk-len just above.
            let start = offset as usize;
            let mut buf = zeroed(start + value.len())?;
            buf[start..].copy_from_slice(value);
            let len = buf.len();
            let mut db = ctx.store.db(ctx.client.db);
            db.set_value(key, Value::Str(buf), Ttl::Persist);
            db.notify(notify::STRING, "setrange", key);
            ctx.out.integer(len as i64);
        }
        Some(cur) => {
            if value.is_empty() {
                ctx.out.integer(cur as i64);
                return Ok(());
            }
            check_string_length(ctx, offset, value.len() as u64)?;
            let start = offset as usize;
            let end = start + value.len();
            let mut db = ctx.store.db(ctx.client.db);
            let len = match db.string_mut(key)? {
                Some(s) => {
                    if s.len() < end {
                        reserve_for(s, end)?;
                        s.resize(end, 0);
                    }
                    s[start..end].copy_from_slice(value);
                    s.len()
                }
                None => 0,
            };
            db.notify(notify::STRING, "setrange", key);
            ctx.out.integer(len as i64);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Counters.

fn incr_decr(ctx: &mut Ctx<'_>, key: &[u8], by: i64) -> CmdResult {
    let mut db = ctx.store.db(ctx.client.db);
    let cur = match db.entry_mut(key) {
        None => 0,
        Some(e) => match e.value() {
            ValueRef::Str(s) => parse_i64(s).ok_or(NOT_INTEGER)?,
            ValueRef::Obj(_) => return Err(WRONG_TYPE),
        },
    };
    let new = cur.checked_add(by).ok_or(OVERFLOW)?;
    let mut buf = [0u8; ringkv_protocol::num::MAX_I64_LEN];
    db.set_str(
        key,
        ringkv_protocol::num::i64_digits(&mut buf, new),
        Ttl::Keep,
    );
    db.notify(notify::STRING, "incrby", key);
    ctx.out.integer(new);
    Ok(())
}

fn incr(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    incr_decr(ctx, args.arg(1), 1)
}

fn decr(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    incr_decr(ctx, args.arg(1), -1)
}

fn incrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let by = int_arg(args.arg(2))?;
    incr_decr(ctx, args.arg(1), by)
}

fn decrby(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let by = int_arg(args.arg(2))?;
    if by == i64::MIN {
        return Err(CmdError::msg("ERR decrement would overflow"));
    }
    incr_decr(ctx, args.arg(1), -by)
}

fn incrbyfloat(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let mut db = ctx.store.db(ctx.client.db);
    let cur = match db.entry_mut(key) {
        None => ld::Parsed::Finite(ld::Ld::ZERO),
        Some(e) => match e.value() {
            ValueRef::Str(s) => ld::parse(s).ok_or(NOT_FLOAT)?,
            ValueRef::Obj(_) => return Err(WRONG_TYPE),
        },
    };
    let by = ld::parse(args.arg(2)).ok_or(NOT_FLOAT)?;
    let sum = ld::add(cur, by)
        .ok_or_else(|| CmdError::msg("ERR increment would produce NaN or Infinity"))?;
    let text = ld::format_human(sum);
    db.set_str(key, text.as_bytes(), Ttl::Keep);
    // Logged as the value it produced, so a replay never depends on float formatting.
    db.log_effect([&b"SET"[..], key, text.as_bytes(), b"KEEPTTL"]);
    db.notify(notify::STRING, "incrbyfloat", key);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// LCS.

/// One matched range of LCS IDX: positions in a, positions in b (inclusive), length.
struct LcsMatch {
    a: (u32, u32),
    b: (u32, u32),
    len: u32,
}

fn lcs(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let max_bulk = max_string_len(ctx);
    let mut db = ctx.store.db(ctx.client.db);
    // Both keys are looked up (and type checked) before the options are parsed, as in Redis.
    let a: Result<Option<Vec<u8>>, ()> = match db.get(args.arg(1)) {
        None => Ok(None),
        Some(ValueRef::Str(s)) => Ok(Some(s.to_vec())),
        Some(ValueRef::Obj(_)) => Err(()),
    };
    let b_ref = db.get(args.arg(2));
    let (Ok(a), false) = (a, matches!(b_ref, Some(ValueRef::Obj(_)))) else {
        return Err(CmdError::msg(
            "ERR The specified keys must contain string values",
        ));
    };
    let b: &[u8] = match b_ref {
        Some(ValueRef::Str(s)) => s,
        _ => b"",
    };
    let a: &[u8] = a.as_deref().unwrap_or(b"");

    let (mut getlen, mut getidx, mut withmatchlen) = (false, false, false);
    let mut minmatchlen: i64 = 0;
    let mut j = 3;
    while j < args.len() {
        let opt = args.arg(j);
        let more = j + 1 < args.len();
        if is(opt, "IDX") {
            getidx = true;
        } else if is(opt, "LEN") {
            getlen = true;
        } else if is(opt, "WITHMATCHLEN") {
            withmatchlen = true;
        } else if is(opt, "MINMATCHLEN") && more {
            minmatchlen = int_arg(args.arg(j + 1))?.max(0);
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    if getidx && getlen {
        return Err(CmdError::msg(
            "ERR If you want both the length and indexes, please just use IDX.",
        ));
    }
    if a.len() as u64 >= u32::MAX as u64 - 1 || b.len() as u64 >= u32::MAX as u64 - 1 {
        return Err(CmdError::msg("ERR String too long for LCS"));
    }
    // The DP table is (alen+1)*(blen+1) u32 cells. Like Redis 7, refuse tables larger than
    // proto-max-bulk-len bytes (512 MB by default) instead of trying to allocate them.
    let cells = (a.len() as u64 + 1) * (b.len() as u64 + 1);
    let bytes = cells.checked_mul(4);
    match bytes {
        Some(n) if n <= max_bulk => {}
        _ => {
            return Err(CmdError::msg(
                "ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len",
            ))
        }
    }
    let alloc_err =
        || CmdError::msg("ERR Insufficient memory, failed allocating transient memory for LCS");

    if getlen {
        // Only the length: two rows of the table are enough (same refusal rule as above).
        let n = lcs_len_two_rows(a, b).ok_or_else(alloc_err)?;
        ctx.out.integer(n as i64);
        return Ok(());
    }
    let table = lcs_table(a, b).ok_or_else(alloc_err)?;
    let (result, matches, total) = lcs_walk(a, b, &table, minmatchlen as u64);
    if getidx {
        ctx.out.map(2);
        ctx.out.bulk(b"matches");
        ctx.out.array(matches.len());
        for m in &matches {
            ctx.out.array(if withmatchlen { 3 } else { 2 });
            ctx.out.array(2);
            ctx.out.integer(m.a.0 as i64);
            ctx.out.integer(m.a.1 as i64);
            ctx.out.array(2);
            ctx.out.integer(m.b.0 as i64);
            ctx.out.integer(m.b.1 as i64);
            if withmatchlen {
                ctx.out.integer(m.len as i64);
            }
        }
        ctx.out.bulk(b"len");
        ctx.out.integer(total as i64);
    } else {
        ctx.out.bulk(&result);
    }
    Ok(())
}

fn lcs_len_two_rows(a: &[u8], b: &[u8]) -> Option<u32> {
    let w = b.len() + 1;
    let mut prev: Vec<u32> = Vec::new();
    prev.try_reserve_exact(w).ok()?;
    prev.resize(w, 0);
    let mut cur = prev.clone();
    for &ca in a {
        cur[0] = 0;
        for (j, &cb) in b.iter().enumerate() {
            cur[j + 1] = if ca == cb {
                prev[j] + 1
            } else {
                prev[j + 1].max(cur[j])
            };
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    Some(prev[b.len()])
}

/// The full table: cell (i, j) at i*(blen+1)+j holds LCS(a[..i], b[..j]).
fn lcs_table(a: &[u8], b: &[u8]) -> Option<Vec<u32>> {
    let w = b.len() + 1;
    let cells = (a.len() + 1).checked_mul(w)?;
    let mut t: Vec<u32> = Vec::new();
    t.try_reserve_exact(cells).ok()?;
    t.resize(cells, 0);
    for i in 1..=a.len() {
        let (done, row) = t.split_at_mut(i * w);
        let prev = &done[(i - 1) * w..];
        let row = &mut row[..w];
        let ca = a[i - 1];
        for j in 1..w {
            row[j] = if ca == b[j - 1] {
                prev[j - 1] + 1
            } else {
                prev[j].max(row[j - 1])
            };
        }
    }
    Some(t)
}

/// Walks the table back from the end exactly like Redis lcsCommand, producing the LCS string,
/// the ranges (from the end of the strings towards the start) and the LCS length.
fn lcs_walk(a: &[u8], b: &[u8], t: &[u32], minmatchlen: u64) -> (Vec<u8>, Vec<LcsMatch>, u32) {
    let w = b.len() + 1;
    let at = |i: usize, j: usize| t[i * w + j];
    let alen = a.len();
    let total = at(a.len(), b.len());
    let mut idx = total as usize;
    let mut result = vec![0u8; idx];
    let mut matches = Vec::new();
    // `arange_start == alen` means "no range open", as in Redis.
    let (mut arange_start, mut arange_end, mut brange_start, mut brange_end) = (alen, 0, 0, 0);
    let (mut i, mut j) = (a.len(), b.len());
    while i > 0 && j > 0 {
        let mut emit = false;
        if a[i - 1] == b[j - 1] {
            result[idx - 1] = a[i - 1];
            if arange_start == alen {
                arange_start = i - 1;
                arange_end = i - 1;
                brange_start = j - 1;
                brange_end = j - 1;
            } else if arange_start == i && brange_start == j {
                arange_start -= 1;
                brange_start -= 1;
            } else {
                emit = true;
            }
            if arange_start == 0 || brange_start == 0 {
                emit = true;
            }
            idx -= 1;
            i -= 1;
            j -= 1;
        } else {
            if at(i - 1, j) > at(i, j - 1) {
                i -= 1;
            } else {
                j -= 1;
            }
            if arange_start != alen {
                emit = true;
            }
        }
        if emit {
            let match_len = (arange_end - arange_start + 1) as u64;
            if minmatchlen == 0 || match_len >= minmatchlen {
                matches.push(LcsMatch {
                    a: (arange_start as u32, arange_end as u32),
                    b: (brange_start as u32, brange_end as u32),
                    len: match_len as u32,
                });
            }
            arange_start = alen;
        }
    }
    (result, matches, total)
}

// ---------------------------------------------------------------------------------------------

/// Software x87 80-bit "long double" arithmetic, just enough for INCRBYFLOAT to reproduce Redis:
/// `strtold` (correctly rounded decimal and hex input), one addition rounded to nearest-even, and
/// `printf("%.17Lf")` with trailing zeros removed (Redis ld2string LD_STR_HUMAN).
///
/// Why not f64: Redis keeps INCRBYFLOAT values in long double and prints 17 decimals, which hides
/// the binary noise of short decimals (`0.1 + 0.2` is "0.3"), accepts magnitudes up to ~1e4932 and
/// prints them in full. Exact big-integer arithmetic keeps this simple and obviously correct; the
/// inputs are bounded (Redis rejects float strings of 5120 bytes or more), so it stays cheap.
pub(crate) mod ld {
    use std::cmp::Ordering;

    /// Exponent of the least significant mantissa bit of the smallest subnormal.
    const MIN_LSB: i64 = -16445;
    /// Largest exponent of the leading mantissa bit (x87 extended: 2^16383 * 1.xxx).
    const MAX_TOP: i64 = 16383;
    /// Redis MAX_LONG_DOUBLE_CHARS: longer strings are not floats.
    const MAX_CHARS: usize = 5 * 1024;

    /// A finite extended value: (-1)^neg * mant * 2^exp, mant < 2^64.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Ld {
        pub neg: bool,
        pub mant: u64,
        pub exp: i64,
    }

    impl Ld {
        pub const ZERO: Ld = Ld {
            neg: false,
            mant: 0,
            exp: 0,
        };
    }

    /// Little-endian base-2^32 unsigned big integer, without trailing zero limbs.
    #[derive(Clone, Debug, Default, PartialEq, Eq)]
    struct Big(Vec<u32>);

    impl Big {
        fn from_u128(mut v: u128) -> Big {
            let mut l = Vec::new();
            while v != 0 {
                l.push(v as u32);
                v >>= 32;
            }
            Big(l)
        }

        fn is_zero(&self) -> bool {
            self.0.is_empty()
        }

        fn trim(&mut self) {
            while self.0.last() == Some(&0) {
                self.0.pop();
            }
        }

        /// self = self * m + a
        fn mul_add_small(&mut self, m: u32, a: u32) {
            let mut carry = a as u64;
            for limb in &mut self.0 {
                let v = *limb as u64 * m as u64 + carry;
                *limb = v as u32;
                carry = v >> 32;
            }
            if carry != 0 {
                self.0.push(carry as u32);
            }
            self.trim();
        }

        fn mul_pow10(&mut self, mut k: u64) {
            while k >= 9 {
                self.mul_add_small(1_000_000_000, 0);
                k -= 9;
            }
            if k > 0 {
                self.mul_add_small(10u32.pow(k as u32), 0);
            }
        }

        fn bit_len(&self) -> u64 {
            match self.0.last() {
                None => 0,
                Some(&top) => (self.0.len() as u64 - 1) * 32 + (32 - top.leading_zeros() as u64),
            }
        }

        fn bit(&self, i: u64) -> bool {
            let limb = (i / 32) as usize;
            limb < self.0.len() && (self.0[limb] >> (i % 32)) & 1 == 1
        }

        /// Whether any bit below position `i` is set.
        fn any_below(&self, i: u64) -> bool {
            let full = ((i / 32) as usize).min(self.0.len());
            if self.0[..full].iter().any(|&l| l != 0) {
                return true;
            }
            let rem = i % 32;
            full < self.0.len() && rem > 0 && self.0[full] & ((1u32 << rem) - 1) != 0
        }

        /// Up to 128 bits starting at bit `lo`.
        fn bits_at(&self, lo: u64, n: u32) -> u128 {
            let mut v: u128 = 0;
            for k in (0..n as u64).rev() {
                v = (v << 1) | self.bit(lo + k) as u128;
            }
            v
        }

        fn shl(&self, n: u64) -> Big {
            if self.is_zero() {
                return Big::default();
            }
            let limbs = (n / 32) as usize;
            let bits = (n % 32) as u32;
            let mut out = vec![0u32; limbs];
            out.reserve(self.0.len() + 1);
            if bits == 0 {
                out.extend_from_slice(&self.0);
            } else {
                let mut carry = 0u32;
                for &l in &self.0 {
                    out.push((l << bits) | carry);
                    carry = l >> (32 - bits);
                }
                out.push(carry);
            }
            let mut b = Big(out);
            b.trim();
            b
        }

        fn cmp(&self, o: &Big) -> Ordering {
            self.0
                .len()
                .cmp(&o.0.len())
                .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
        }

        /// self -= o; requires self >= o.
        fn sub_assign(&mut self, o: &Big) {
            let mut borrow = 0i64;
            for i in 0..self.0.len() {
                let r = self.0[i] as i64 - o.0.get(i).copied().unwrap_or(0) as i64 - borrow;
                if r < 0 {
                    self.0[i] = (r + (1i64 << 32)) as u32;
                    borrow = 1;
                } else {
                    self.0[i] = r as u32;
                    borrow = 0;
                }
            }
            self.trim();
        }

        fn add(&self, o: &Big) -> Big {
            let n = self.0.len().max(o.0.len());
            let mut out = Vec::with_capacity(n + 1);
            let mut carry = 0u64;
            for i in 0..n {
                let v = self.0.get(i).copied().unwrap_or(0) as u64
                    + o.0.get(i).copied().unwrap_or(0) as u64
                    + carry;
                out.push(v as u32);
                carry = v >> 32;
            }
            if carry != 0 {
                out.push(carry as u32);
            }
            Big(out)
        }

        /// self /= d, returning the remainder.
        fn div_small(&mut self, d: u32) -> u32 {
            let mut rem = 0u64;
            for limb in self.0.iter_mut().rev() {
                let cur = (rem << 32) | *limb as u64;
                *limb = (cur / d as u64) as u32;
                rem = cur % d as u64;
            }
            self.trim();
            rem as u32
        }

        fn to_decimal(&self) -> String {
            if self.is_zero() {
                return "0".into();
            }
            let mut n = self.clone();
            let mut chunks = Vec::new();
            while !n.is_zero() {
                chunks.push(n.div_small(1_000_000_000));
            }
            let mut s = String::with_capacity(chunks.len() * 9);
            let mut it = chunks.iter().rev();
            if let Some(first) = it.next() {
                s.push_str(&first.to_string());
            }
            for c in it {
                s.push_str(&format!("{c:09}"));
            }
            s
        }
    }

    /// Rounds (n + ε) * 2^s to the nearest extended value (ties to even), where ε is a positive
    /// amount below one unit of n's last bit when `sticky`. None when the result overflows.
    /// Callers passing `sticky` supply at least 66 significant bits, so ε never reaches half an
    /// ulp of the result on its own.
    fn round(neg: bool, n: &Big, s: i64, sticky: bool) -> Option<Ld> {
        let bl = n.bit_len() as i64;
        if bl == 0 {
            return Some(Ld {
                neg,
                mant: 0,
                exp: 0,
            });
        }
        let top = bl - 1 + s;
        let mut lsb = (top - 63).max(MIN_LSB);
        let shift = lsb - s;
        let mant: u64 = if shift <= 0 {
            (n.bits_at(0, bl as u32) as u64) << (-shift)
        } else {
            let sh = shift as u64;
            let m = n.bits_at(sh, 64) as u64;
            let half = n.bit(sh - 1);
            let rest = sticky || n.any_below(sh - 1);
            if half && (rest || m & 1 == 1) {
                match m.checked_add(1) {
                    Some(v) => v,
                    None => {
                        lsb += 1;
                        1u64 << 63
                    }
                }
            } else {
                m
            }
        };
        if mant == 0 {
            return Some(Ld {
                neg,
                mant: 0,
                exp: 0,
            });
        }
        if lsb + 63 - mant.leading_zeros() as i64 > MAX_TOP {
            return None;
        }
        Some(Ld {
            neg,
            mant,
            exp: lsb,
        })
    }

    /// Redis string2ld: the whole string must be a strtold float (decimal or hex, "inf"
    /// allowed), no leading space, not NaN, and not out of range (overflow, or a non-zero value
    /// that rounds to zero). None when it is not a valid float.
    pub fn parse(s: &[u8]) -> Option<Parsed> {
        parse_full(s)
    }

    /// A strtold result: a finite value or an infinity.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub enum Parsed {
        Finite(Ld),
        Inf(bool),
    }

    impl From<Ld> for Parsed {
        fn from(v: Ld) -> Parsed {
            Parsed::Finite(v)
        }
    }

    fn parse_full(s: &[u8]) -> Option<Parsed> {
        if s.is_empty() || s.len() >= MAX_CHARS || s[0].is_ascii_whitespace() || s[0] == 0x0b {
            return None;
        }
        let (neg, body) = match s[0] {
            b'-' => (true, &s[1..]),
            b'+' => (false, &s[1..]),
            _ => (false, s),
        };
        if body.eq_ignore_ascii_case(b"inf") || body.eq_ignore_ascii_case(b"infinity") {
            return Some(Parsed::Inf(neg));
        }
        if body.len() > 2 && body[0] == b'0' && (body[1] | 0x20) == b'x' {
            // "0x" not followed by hex digits: strtold reads "0" and stops at 'x', so the
            // string is not a float either way.
            return parse_hex(neg, &body[2..]).map(Parsed::Finite);
        }
        parse_dec(neg, body).map(Parsed::Finite)
    }

    /// Parses `[+-]digits` of an exponent, saturating far beyond any meaningful range.
    fn parse_exp(s: &[u8]) -> Option<i64> {
        let (neg, d) = match s.first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if d.is_empty() || !d.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut v: i64 = 0;
        for &c in d {
            v = (v * 10 + (c - b'0') as i64).min(1_000_000_000);
        }
        Some(if neg { -v } else { v })
    }

    /// Splits "digits[.digits][<e>exp]" into (integer digits, fraction digits, exponent).
    fn split_number(
        s: &[u8],
        is_digit: fn(&u8) -> bool,
        exp_char: u8,
    ) -> Option<(&[u8], &[u8], i64)> {
        let int_end = s.iter().position(|c| !is_digit(c)).unwrap_or(s.len());
        let (int, rest) = s.split_at(int_end);
        let (frac, rest) = match rest.first() {
            Some(b'.') => {
                let r = &rest[1..];
                let e = r.iter().position(|c| !is_digit(c)).unwrap_or(r.len());
                r.split_at(e)
            }
            _ => (&rest[..0], rest),
        };
        if int.is_empty() && frac.is_empty() {
            return None;
        }
        let exp = match rest.first() {
            None => 0,
            Some(c) if c | 0x20 == exp_char => parse_exp(&rest[1..])?,
            Some(_) => return None,
        };
        Some((int, frac, exp))
    }

    fn parse_dec(neg: bool, s: &[u8]) -> Option<Ld> {
        let (int, frac, exp) = split_number(s, u8::is_ascii_digit, b'e')?;
        let mut d = Big::default();
        let mut ndigits: i64 = 0;
        for &c in int.iter().chain(frac.iter()) {
            if ndigits == 0 && c == b'0' {
                continue;
            }
            d.mul_add_small(10, (c - b'0') as u32);
            ndigits += 1;
        }
        if d.is_zero() {
            return Some(Ld {
                neg,
                mant: 0,
                exp: 0,
            });
        }
        let k = exp - frac.len() as i64;
        // The value lies in [10^(adj-1), 10^adj).
        let adj = k + ndigits;
        if adj > 4934 {
            return None; // overflow: strtold gives HUGE_VALL with ERANGE
        }
        if adj < -4960 {
            return None; // rounds to zero with ERANGE
        }
        let r = if k >= 0 {
            d.mul_pow10(k as u64);
            round(neg, &d, 0, false)?
        } else {
            let mut m = Big::from_u128(1);
            m.mul_pow10((-k) as u64);
            div_round(neg, &d, &m)?
        };
        if r.mant == 0 {
            None
        } else {
            Some(r)
        }
    }

    /// Rounds d/m (both non-zero) to an extended value.
    fn div_round(neg: bool, d: &Big, m: &Big) -> Option<Ld> {
        // Scale so the quotient has 66 or 67 bits: enough for rounding plus a sticky bit.
        let t = m.bit_len() as i64 - d.bit_len() as i64 + 66;
        let (mut n, den) = if t >= 0 {
            (d.shl(t as u64), m.clone())
        } else {
            (d.clone(), m.shl((-t) as u64))
        };
        let mut q: u128 = 0;
        let qbits = (n.bit_len() as i64 - den.bit_len() as i64 + 1).max(0) as u64;
        for i in (0..qbits).rev() {
            let shifted = den.shl(i);
            if n.cmp(&shifted) != Ordering::Less {
                n.sub_assign(&shifted);
                q |= 1u128 << i;
            }
        }
        round(neg, &Big::from_u128(q), -t, !n.is_zero())
    }

    fn parse_hex(neg: bool, s: &[u8]) -> Option<Ld> {
        let (int, frac, exp) = split_number(s, u8::is_ascii_hexdigit, b'p')?;
        let mut h = Big::default();
        for &c in int.iter().chain(frac.iter()) {
            let v = (c as char).to_digit(16).unwrap_or(0);
            h.mul_add_small(16, v);
        }
        if h.is_zero() {
            return Some(Ld {
                neg,
                mant: 0,
                exp: 0,
            });
        }
        let s2 = exp - 4 * frac.len() as i64;
        let top = h.bit_len() as i64 - 1 + s2;
        if !(MIN_LSB - 2..=MAX_TOP).contains(&top) {
            return None; // ERANGE: overflow, or underflow to zero
        }
        round(neg, &h, s2, false).filter(|r| r.mant != 0)
    }

    /// value + incr, None when the result is infinite or NaN (including infinite inputs).
    pub fn add(a: Parsed, b: Parsed) -> Option<Ld> {
        let (Parsed::Finite(a), Parsed::Finite(b)) = (a, b) else {
            return None;
        };
        if a.mant == 0 {
            return Some(if b.mant == 0 {
                Ld {
                    neg: a.neg && b.neg,
                    ..Ld::ZERO
                }
            } else {
                b
            });
        }
        if b.mant == 0 {
            return Some(a);
        }
        let e = a.exp.min(b.exp);
        let x = Big::from_u128(a.mant as u128).shl((a.exp - e) as u64);
        let y = Big::from_u128(b.mant as u128).shl((b.exp - e) as u64);
        if a.neg == b.neg {
            return round(a.neg, &x.add(&y), e, false);
        }
        match x.cmp(&y) {
            Ordering::Equal => Some(Ld::ZERO),
            Ordering::Greater => {
                let mut x = x;
                x.sub_assign(&y);
                round(a.neg, &x, e, false)
            }
            Ordering::Less => {
                let mut y = y;
                y.sub_assign(&x);
                round(b.neg, &y, e, false)
            }
        }
    }

    /// printf("%.17Lf") with trailing zeros (and a bare '.') removed, "-0" shown as "0".
    pub fn format_human(v: Ld) -> String {
        const SCALE: u128 = 100_000_000_000_000_000; // 10^17
        let digits = if v.exp >= 0 {
            let mut n = Big::from_u128(v.mant as u128).shl(v.exp as u64);
            n.mul_pow10(17);
            n.to_decimal()
        } else {
            let p = v.mant as u128 * SCALE; // < 2^121
            let sh = (-v.exp) as u64;
            let r = if sh >= 128 {
                0
            } else {
                let q = p >> sh;
                let rem = p & ((1u128 << sh) - 1);
                let half = 1u128 << (sh - 1);
                if rem > half || (rem == half && q & 1 == 1) {
                    q + 1
                } else {
                    q
                }
            };
            r.to_string()
        };
        let digits = if digits.len() < 18 {
            format!("{}{}", "0".repeat(18 - digits.len()), digits)
        } else {
            digits
        };
        let (int, frac) = digits.split_at(digits.len() - 17);
        let frac = frac.trim_end_matches('0');
        let mut out = String::with_capacity(digits.len() + 2);
        if v.neg {
            out.push('-');
        }
        out.push_str(int);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        if out == "-0" {
            out = "0".into();
        }
        out
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn incr(a: &str, b: &str) -> Option<String> {
            let x = parse(a.as_bytes())?;
            let y = parse(b.as_bytes())?;
            add(x, y).map(format_human)
        }

        #[test]
        fn redis_examples() {
            assert_eq!(incr("10.50", "0.1").as_deref(), Some("10.6"));
            assert_eq!(incr("10.6", "-5").as_deref(), Some("5.6"));
            assert_eq!(incr("5.0e3", "2.0e2").as_deref(), Some("5200"));
            assert_eq!(incr("0.1", "0.2").as_deref(), Some("0.3"));
            assert_eq!(incr("17179869184", "1.5").as_deref(), Some("17179869185.5"));
            assert_eq!(incr("0x10", "1").as_deref(), Some("17"));
            assert_eq!(incr("1", "1e-20").as_deref(), Some("1"));
            assert_eq!(incr("0", "-1e-20").as_deref(), Some("0"));
            assert_eq!(incr("3", "-3").as_deref(), Some("0"));
        }

        #[test]
        fn rejects_like_string2ld() {
            for bad in [
                "", " 1", "1 ", "abc", "nan", "1e", "1e5000", "1e-5000", ".", "0x", "-", "1.2.3",
            ] {
                assert!(parse(bad.as_bytes()).is_none(), "{bad}");
            }
            assert!(parse(b"1e4000").is_some());
            assert!(parse(b"+.5").is_some());
            assert!(parse(b"5.").is_some());
            assert_eq!(parse(b"-inf"), Some(Parsed::Inf(true)));
            assert!(incr("1", "inf").is_none());
            assert!(incr("1.1e4932", "1.1e4932").is_none());
        }
    }
}
