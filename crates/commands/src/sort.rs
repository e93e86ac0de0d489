//! SORT and SORT_RO: the elements of a list, set or sorted set, sorted numerically or
//! lexicographically, by themselves or by values found through a key pattern (`BY weight_*`,
//! `BY obj_*->field`), optionally mapped through more patterns (`GET`), cut with `LIMIT`, and
//! returned or stored as a list (`STORE`).
//!
//! Behaviour follows Redis 7's sort.c, which client code depends on in its details: `BY` with a
//! pattern without `*` means "do not sort" (lists and sorted sets keep their order, `DESC`
//! reversing it, and `LIMIT` applies to that order); a missing `BY` value weighs 0 (numeric) or
//! sorts first (`ALPHA`); numeric values are read with C's `strtod` rules (so `""` is 0 and
//! `0x10` is 16) and anything else fails the whole command with "One or more scores can't be
//! converted into double"; equal weights order by the element's bytes, so the result is
//! deterministic. A set sorted with `BY nosort` and `STORE` is sorted `ALPHA` instead, as in
//! Redis, so the stored list does not depend on the set's internal order.
//!
//! In cluster mode the keys a `BY` or `GET` pattern forms must be in the sorted key's
//! partition, which a hash tag in the pattern guarantees (`BY {user}:weight_*`); otherwise the
//! option is refused with Redis Cluster's message. `STORE`'s destination is a key of the
//! command (the table's key finder), so the router keeps it with the source too.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, NOT_INTEGER, SYNTAX, WRONG_TYPE};
use crate::parse::{is, parse_i64};
use crate::shared_args::store_result;
use crate::table::{flags, CommandSpec};
use ringkv_config::notify;
use ringkv_engine::{DbRef, ListValue, Value, ValueRef};
use ringkv_protocol::Args;
use std::cmp::Ordering;

const NOT_DOUBLE: CmdError =
    CmdError::Static("ERR One or more scores can't be converted into double");
const BY_DENIED: CmdError = CmdError::Static(
    "ERR BY option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.",
);
const GET_DENIED: CmdError = CmdError::Static(
    "ERR GET option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.",
);

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("sort", -2, flags::WRITE | flags::DENYOOM, sort)
        .keys(1, 1, 1)
        .key_finder(store_key)
        .doc(
            "Sorts the elements in a list, a set, or a sorted set, optionally storing the result.",
            "1.0.0",
            "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        )
        .syntax("key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA] [STORE destination]"),
    CommandSpec::new("sort_ro", -2, flags::READONLY, sort_ro)
        .keys(1, 1, 1)
        .doc(
            "Returns the sorted elements of a list, a set, or a sorted set.",
            "7.0.0",
            "O(N+M*log(M)) where N is the number of elements in the list or set to sort, and M the number of returned elements. When the elements are not sorted, complexity is O(N).",
        )
        .syntax("key [BY pattern] [LIMIT offset count] [GET pattern [GET pattern ...]] [ASC | DESC] [ALPHA]"),
];

/// SORT's `STORE destination` for routing and COMMAND GETKEYS, found as Redis's sortGetKeys
/// does: skipping the arguments of LIMIT, GET and BY, the last STORE wins.
fn store_key(args: &[&[u8]], keys: &mut Vec<usize>) {
    let mut store = None;
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if is(a, "limit") {
            i += 2;
        } else if is(a, "get") || is(a, "by") {
            i += 1;
        } else if is(a, "store") && i + 1 < args.len() {
            store = Some(i + 1);
        }
        i += 1;
    }
    keys.extend(store);
}

/// What the options asked for.
struct Options<'a> {
    desc: bool,
    alpha: bool,
    /// LIMIT offset count (count -1: to the end).
    offset: i64,
    count: i64,
    /// The BY pattern, if it has a `*` (otherwise `dont_sort`).
    by: Option<&'a [u8]>,
    dont_sort: bool,
    gets: Vec<&'a [u8]>,
    store: Option<&'a [u8]>,
}

fn parse_options<'a>(
    ctx: &Ctx<'_>,
    args: &Args<'a>,
    read_only: bool,
) -> Result<Options<'a>, CmdError> {
    let mut o = Options {
        desc: false,
        alpha: false,
        offset: 0,
        count: -1,
        by: None,
        dont_sort: false,
        gets: Vec::new(),
        store: None,
    };
    let key = args.arg(1);
    let mut j = 2;
    while j < args.len() {
        let a = args.arg(j);
        let left = args.len() - j - 1;
        if is(a, "asc") {
            o.desc = false;
        } else if is(a, "desc") {
            o.desc = true;
        } else if is(a, "alpha") {
            o.alpha = true;
        } else if is(a, "limit") && left >= 2 {
            o.offset = parse_i64(args.arg(j + 1)).ok_or(NOT_INTEGER)?;
            o.count = parse_i64(args.arg(j + 2)).ok_or(NOT_INTEGER)?;
            j += 2;
        } else if !read_only && is(a, "store") && left >= 1 {
            o.store = Some(args.arg(j + 1));
            j += 1;
        } else if is(a, "by") && left >= 1 {
            let pattern = args.arg(j + 1);
            if pattern.contains(&b'*') {
                if !pattern_in_partition(ctx, pattern, key) {
                    return Err(BY_DENIED);
                }
                o.by = Some(pattern);
            } else {
                // Sticky, as in Redis: a later BY with a pattern does not turn sorting back on.
                o.by = None;
                o.dont_sort = true;
            }
            j += 1;
        } else if is(a, "get") && left >= 1 {
            let pattern = args.arg(j + 1);
            if !pattern_in_partition(ctx, pattern, key) {
                return Err(GET_DENIED);
            }
            o.gets.push(pattern);
            j += 1;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    Ok(o)
}

/// Whether every key `pattern` can form is in `key`'s partition: always outside a cluster; in
/// one, when the pattern fixes a hash tag before any wildcard (Redis's patternHashSlot). `GET #`
/// reads no key.
fn pattern_in_partition(ctx: &Ctx<'_>, pattern: &[u8], key: &[u8]) -> bool {
    let Some(cluster) = ctx.shared.cluster.get() else {
        return true;
    };
    if pattern == b"#" {
        return true;
    }
    match fixed_hash_tag(pattern) {
        Some(tagged) => cluster.partition(tagged) == cluster.partition(key),
        None => false,
    }
}

/// The part of a pattern that decides the partition of every key it forms: `{tag}` (braces
/// included, so the ring's hash-tag rule applies to it) when a non-empty tag closes before any
/// wildcard or escape, or the whole pattern when it has no wildcard at all (the pattern is one
/// key). None when the formed keys may land anywhere.
fn fixed_hash_tag(pattern: &[u8]) -> Option<&[u8]> {
    let mut open: Option<usize> = None;
    let mut empty_tag = false;
    for (i, &c) in pattern.iter().enumerate() {
        match c {
            b'*' | b'?' | b'[' | b'\\' => return None,
            b'{' if open.is_none() && !empty_tag => open = Some(i),
            b'}' => {
                if let Some(s) = open {
                    if i == s + 1 {
                        open = None;
                        empty_tag = true;
                    } else {
                        return Some(&pattern[s..=i]);
                    }
                }
            }
            _ => {}
        }
    }
    Some(pattern)
}

/// One element to sort and the weight it sorts by.
struct Item {
    element: Vec<u8>,
    weight: Weight,
}

enum Weight {
    Score(f64),
    /// ALPHA BY: the looked-up value (None: missing, sorts first).
    Text(Option<Vec<u8>>),
    /// ALPHA without BY (the element itself), or no sorting at all.
    Element,
}

fn sort(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    sort_generic(ctx, args, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    sort_generic(ctx, args, true)
}

fn sort_generic(ctx: &mut Ctx<'_>, args: Args<'_>, read_only: bool) -> CmdResult {
    let mut o = parse_options(ctx, &args, read_only)?;
    let index = ctx.client.db;
    let mut db = ctx.store.db(index);
    let mut items = load(&mut db, args.arg(1), &mut o)?;
    let len = items.len() as i64;

    // Redis's LIMIT clamping (sort.c), including its quirks: a negative offset is 0, a negative
    // count means "to the end", and an offset past the end selects nothing.
    let mut start = o.offset.clamp(0, len);
    let count = o.count.clamp(-1, len);
    let mut end = if count < 0 { len } else { start + count - 1 };
    if start >= len {
        start = len - 1;
        end = len - 2;
    }
    if end >= len {
        end = len - 1;
    }

    // Without sorting, `load` already produced the order LIMIT cuts.
    if !o.dont_sort {
        weigh(&mut db, &mut items, &o)?;
        let desc = o.desc;
        items.sort_by(|a, b| {
            let c = compare(a, b);
            if desc {
                c.reverse()
            } else {
                c
            }
        });
    }

    let selected: &[Item] = if end >= start && start >= 0 {
        items.get(start as usize..=end as usize).unwrap_or_default()
    } else {
        &[]
    };
    match o.store {
        None => {
            let out = &mut *ctx.out;
            out.array(selected.len() * o.gets.len().max(1));
            for item in selected {
                if o.gets.is_empty() {
                    out.bulk(&item.element);
                }
                for pattern in &o.gets {
                    match lookup_by_pattern(&mut db, pattern, &item.element) {
                        Some(v) => out.bulk(&v),
                        None => out.null(),
                    }
                }
            }
        }
        Some(dst) => {
            let mut list = ListValue::default();
            for item in selected {
                if o.gets.is_empty() {
                    list.push_back(&item.element);
                }
                for pattern in &o.gets {
                    let v = lookup_by_pattern(&mut db, pattern, &item.element);
                    list.push_back(v.as_deref().unwrap_or_default());
                }
            }
            let n = list.len();
            // Logged as its effect (DEL, RPUSH), so a replay does not depend on a set's internal
            // order. (An empty result does not depend on it: the SORT itself is logged.)
            if n > 0 && db.logging() {
                db.log_effect([&b"DEL"[..], dst]);
                let mut rpush: Vec<&[u8]> = Vec::with_capacity(n + 2);
                rpush.push(b"RPUSH");
                rpush.push(dst);
                rpush.extend(list.iter());
                db.log_effect(rpush);
            }
            let value = || Value::List(list);
            store_result(&mut db, ctx.out, dst, n, value, notify::LIST, "sortstore");
        }
    }
    Ok(())
}

/// Reads the key to sort (a missing key is an empty list). Adjusts the options as Redis does for
/// a set that is not to be sorted but stored.
fn load(db: &mut DbRef<'_>, key: &[u8], o: &mut Options<'_>) -> Result<Vec<Item>, CmdError> {
    let item = |element: Vec<u8>| Item {
        element,
        weight: Weight::Element,
    };
    let mut items: Vec<Item> = match db.get(key) {
        None => return Ok(Vec::new()),
        Some(ValueRef::Str(_)) => return Err(WRONG_TYPE),
        Some(ValueRef::Obj(value)) => match value {
            Value::List(l) => l.iter().map(|e| item(e.to_vec())).collect(),
            Value::Set(s) => {
                if o.dont_sort && o.store.is_some() {
                    o.dont_sort = false;
                    o.alpha = true;
                    o.by = None;
                }
                // A set has no order of its own for DESC to reverse.
                return Ok(s.iter().map(|m| item(m.to_vec())).collect());
            }
            Value::ZSet(z) => {
                let mut v = Vec::with_capacity(z.len());
                z.for_each(|m, _| v.push(item(m.to_vec())));
                v
            }
            _ => return Err(WRONG_TYPE),
        },
    };
    // Lists and sorted sets that are not sorted come out in their own order, DESC reversing it.
    if o.dont_sort && o.desc {
        items.reverse();
    }
    Ok(items)
}

/// Computes every element's weight: its own value or the value its BY pattern finds.
fn weigh(db: &mut DbRef<'_>, items: &mut [Item], o: &Options<'_>) -> CmdResult {
    let mut bad_number = false;
    for item in items.iter_mut() {
        let by_value = match o.by {
            Some(pattern) => lookup_by_pattern(db, pattern, &item.element),
            None => None,
        };
        item.weight = if o.alpha {
            match o.by {
                Some(_) => Weight::Text(by_value),
                None => Weight::Element,
            }
        } else {
            let text = match (o.by, &by_value) {
                (None, _) => Some(item.element.as_slice()),
                (Some(_), Some(v)) => Some(v.as_slice()),
                (Some(_), None) => None,
            };
            match text {
                // A BY key that does not exist weighs 0.
                None => Weight::Score(0.0),
                Some(t) => match strtod(t) {
                    Some(score) => Weight::Score(score),
                    None => {
                        bad_number = true;
                        Weight::Score(0.0)
                    }
                },
            }
        };
    }
    if bad_number {
        return Err(NOT_DOUBLE);
    }
    Ok(())
}

/// Redis's sortCompare, ascending.
fn compare(a: &Item, b: &Item) -> Ordering {
    match (&a.weight, &b.weight) {
        (Weight::Score(x), Weight::Score(y)) => x
            .partial_cmp(y)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.element.cmp(&b.element)),
        (Weight::Text(x), Weight::Text(y)) => match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => x.cmp(y),
        },
        _ => a.element.cmp(&b.element),
    }
}

/// The value a pattern finds for `element`: `#` is the element itself; otherwise the first `*`
/// is replaced by the element, and a `->field` after it reads that hash field instead of a
/// string. A pattern without `*`, a missing key or one of another type find nothing.
fn lookup_by_pattern(db: &mut DbRef<'_>, pattern: &[u8], element: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(element.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let after = &pattern[star + 1..];
    let (postfix, field) = match after.windows(2).position(|w| w == b"->") {
        Some(arrow) if arrow + 2 < after.len() => (&after[..arrow], Some(&after[arrow + 2..])),
        _ => (after, None),
    };
    let mut key = Vec::with_capacity(star + element.len() + postfix.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(element);
    key.extend_from_slice(postfix);
    match (db.get(&key)?, field) {
        (ValueRef::Str(s), None) => Some(s.to_vec()),
        (ValueRef::Obj(Value::Hash(h)), Some(f)) => h.get(f).map(<[u8]>::to_vec),
        _ => None,
    }
}

/// C's strtod over the whole string, as SORT reads numbers: leading white space is skipped, the
/// empty string is 0, decimal and hexadecimal (`0x1p4`) forms and `inf`/`infinity` are
/// accepted; NaN, anything left over, and values out of range (overflow or underflow, ERANGE)
/// are not.
pub(crate) fn strtod(text: &[u8]) -> Option<f64> {
    if text.is_empty() {
        return Some(0.0);
    }
    let start = text
        .iter()
        .position(|c| !matches!(c, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))?;
    let s = std::str::from_utf8(&text[start..]).ok()?;
    let (negative, body) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let lower = body.to_ascii_lowercase();
    let magnitude = if lower == "inf" || lower == "infinity" {
        f64::INFINITY
    } else if let Some(hex) = lower.strip_prefix("0x") {
        parse_hex_float(hex)?
    } else {
        if !lower.starts_with(|c: char| c.is_ascii_digit() || c == '.') {
            return None;
        }
        let v: f64 = lower.parse().ok()?;
        if v.is_infinite() {
            return None;
        }
        let has_nonzero_digit = lower
            .split(['e'])
            .next()
            .is_some_and(|m| m.bytes().any(|c| (b'1'..=b'9').contains(&c)));
        if (v == 0.0 && has_nonzero_digit) || (v != 0.0 && v < f64::MIN_POSITIVE) {
            return None;
        }
        v
    };
    Some(if negative { -magnitude } else { magnitude })
}

/// The digits after `0x` of a C hexadecimal float: `h[.h][p[+-]d]`.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mantissa, exponent) = match s.find('p') {
        Some(p) => (&s[..p], s[p + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int_part, frac_part) = match mantissa.find('.') {
        Some(d) => (&mantissa[..d], &mantissa[d + 1..]),
        None => (mantissa, ""),
    };
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exponent);
    if v.is_infinite() || (v != 0.0 && v < f64::MIN_POSITIVE) {
        return None;
    }
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strtod_follows_c() {
        assert_eq!(strtod(b""), Some(0.0));
        assert_eq!(strtod(b"  1.5"), Some(1.5));
        assert_eq!(strtod(b"1.5 "), None);
        assert_eq!(strtod(b"   "), None);
        assert_eq!(strtod(b"0x10"), Some(16.0));
        assert_eq!(strtod(b"-0x1.8p1"), Some(-3.0));
        assert_eq!(strtod(b"1e3"), Some(1000.0));
        assert_eq!(strtod(b"+inf"), Some(f64::INFINITY));
        assert_eq!(strtod(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod(b"nan"), None);
        assert_eq!(strtod(b"1e999"), None);
        assert_eq!(strtod(b"1e-400"), None);
        assert_eq!(strtod(b"0.000"), Some(0.0));
        assert_eq!(strtod(b"abc"), None);
        assert_eq!(strtod(b"10abc"), None);
        assert_eq!(strtod(b".5"), Some(0.5));
    }

    #[test]
    fn hash_tags_of_patterns() {
        assert_eq!(fixed_hash_tag(b"{user}:w_*"), Some(&b"{user}"[..]));
        assert_eq!(fixed_hash_tag(b"w_*"), None);
        assert_eq!(fixed_hash_tag(b"w_*{user}"), None);
        assert_eq!(fixed_hash_tag(b"{}w_*"), None);
        assert_eq!(fixed_hash_tag(b"fixed"), Some(&b"fixed"[..]));
        assert_eq!(fixed_hash_tag(b"a\\*{x}"), None);
    }

    #[test]
    fn store_key_is_the_last_store() {
        let find = |line: &[&str]| {
            let args: Vec<&[u8]> = line.iter().map(|a| a.as_bytes()).collect();
            let mut keys = Vec::new();
            store_key(&args, &mut keys);
            keys
        };
        assert_eq!(find(&["SORT", "k"]), Vec::<usize>::new());
        assert_eq!(find(&["SORT", "k", "STORE", "d"]), vec![3]);
        assert_eq!(find(&["SORT", "k", "STORE", "d", "STORE", "e"]), vec![5]);
        // GET's and BY's arguments are skipped even when they read "store".
        assert_eq!(
            find(&["SORT", "k", "GET", "store", "BY", "store"]),
            Vec::<usize>::new()
        );
        assert_eq!(
            find(&["SORT", "k", "LIMIT", "store", "x", "STORE"]),
            Vec::<usize>::new()
        );
    }
}
