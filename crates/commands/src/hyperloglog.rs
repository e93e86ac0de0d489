//! HyperLogLog commands (Redis hyperloglog.c): PFADD, PFCOUNT, PFMERGE, over string values in
//! Redis's HLL format (`crate::hll`).
//!
//! As in Redis, an HLL is a plain string (TYPE says `string`; GET, SET, DUMP and the AOF see
//! its bytes), a string that is not one gets `-WRONGTYPE Key is not a valid HyperLogLog string
//! value.`, and a malformed one `-INVALIDOBJ Corrupted HLL object detected`; PFMERGE's and
//! PFADD's keyspace event is `pfadd`.
//!
//! PFCOUNT of one key keeps Redis's cache of the cardinality in the value's header (so a
//! repeated count costs nothing), but writes it as derived data: in place, without counting as
//! a change. Redis counts it as a write (it propagates PFCOUNT and touches WATCHed keys); here
//! a count never reaches the log, a replica or a WATCH, and a value loaded from the AOF simply
//! recomputes its cache at its first count.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, WRONG_TYPE};
use crate::hll::{self, Corrupt, REGISTERS};
use crate::table::{flags, CommandSpec};
use ringkv_config::notify;
use ringkv_engine::{DbRef, Ttl, Value, ValueRef};
use ringkv_protocol::Args;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("pfadd", -2, flags::WRITE | flags::DENYOOM | flags::FAST, pfadd)
        .keys(1, 1, 1)
        .group("hyperloglog")
        .doc(
            "Adds elements to a HyperLogLog key. Creates the key if it doesn't exist.",
            "2.8.9",
            "O(1) to add every element.",
        )
        .syntax("key [element [element ...]]"),
    CommandSpec::new("pfcount", -2, flags::READONLY, pfcount)
        .keys(1, -1, 1)
        .group("hyperloglog")
        .doc(
            "Returns the approximated cardinality of the set(s) observed by the HyperLogLog key(s).",
            "2.8.9",
            "O(1) with a very small average constant time when called with a single key. O(N) with N being the number of keys, and much bigger constant times, when called with multiple keys.",
        )
        .syntax("key [key ...]"),
    CommandSpec::new("pfmerge", -2, flags::WRITE | flags::DENYOOM, pfmerge)
        .keys(1, -1, 1)
        .group("hyperloglog")
        .doc(
            "Merges one or more HyperLogLog values into a single key.",
            "2.8.9",
            "O(N) to merge N HyperLogLogs, but with high constant times.",
        )
        .syntax("destkey [sourcekey [sourcekey ...]]"),
];

const NOT_HLL: CmdError =
    CmdError::Static("WRONGTYPE Key is not a valid HyperLogLog string value.");
const CORRUPT: CmdError = CmdError::Static("INVALIDOBJ Corrupted HLL object detected");

impl From<Corrupt> for CmdError {
    fn from(_: Corrupt) -> CmdError {
        CORRUPT
    }
}

fn sparse_max(ctx: &Ctx<'_>) -> usize {
    usize::try_from(ctx.shared.config.read().hll_sparse_max_bytes).unwrap_or(usize::MAX)
}

/// The HLL stored at `key`; None when the key is absent.
fn hll_at<'a>(db: &'a mut DbRef<'_>, key: &[u8]) -> Result<Option<&'a [u8]>, CmdError> {
    match db.get(key) {
        None => Ok(None),
        Some(ValueRef::Obj(_)) => Err(WRONG_TYPE),
        Some(ValueRef::Str(s)) if hll::is_hll(s) => Ok(Some(s)),
        Some(ValueRef::Str(_)) => Err(NOT_HLL),
    }
}

/// The union (register-wise maximum) of the HLLs at `keys` (absent ones are empty); whether
/// one of them is dense.
fn union_of<'k>(
    db: &mut DbRef<'_>,
    keys: impl Iterator<Item = &'k [u8]>,
) -> Result<(Box<[u8; REGISTERS]>, bool), CmdError> {
    let mut max = Box::new([0u8; REGISTERS]);
    let mut dense = false;
    for key in keys {
        if let Some(s) = hll_at(db, key)? {
            dense |= s[4] == 0;
            hll::merge_into(&mut max, s)?;
        }
    }
    Ok((max, dense))
}

/// Stores an updated HLL, keeping the key's TTL (a new key gets none).
fn store(db: &mut DbRef<'_>, key: &[u8], value: Vec<u8>, existed: bool) {
    let ttl = if existed { Ttl::Keep } else { Ttl::Persist };
    db.set_value(key, Value::Str(value), ttl);
    db.notify(notify::STRING, "pfadd", key);
}

fn pfadd(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let max = sparse_max(ctx);
    let key = args.arg(1);
    let mut db = ctx.store.db(ctx.client.db);
    let (mut value, existed) = match hll_at(&mut db, key)? {
        Some(s) => {
            // Most elements of a big HLL change nothing: answer without copying the value.
            // (A change is made on a copy, stored whole once every element is in, so that a
            // corrupted value found half-way leaves the key as it was.)
            let mut changes = false;
            for element in args.iter().skip(2) {
                if hll::would_change(s, element)? {
                    changes = true;
                    break;
                }
            }
            if !changes {
                ctx.out.integer(0);
                return Ok(());
            }
            (s.to_vec(), true)
        }
        None => (hll::new_sparse(), false),
    };
    let mut updated = !existed;
    for element in args.iter().skip(2) {
        updated |= hll::add(&mut value, element, max)?;
    }
    if updated {
        // Stale (a new key's too, as in Redis).
        hll::invalidate(&mut value);
        store(&mut db, key, value, existed);
    }
    ctx.out.integer(i64::from(updated));
    Ok(())
}

fn pfcount(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut db = ctx.store.db(ctx.client.db);
    if args.len() == 2 {
        let key = args.arg(1);
        // (cardinality, whether it was just computed)
        let (card, fresh) = match hll_at(&mut db, key)? {
            None => (0, false),
            Some(s) => match hll::cached(s) {
                Some(card) => (card, false),
                None => (hll::count(s)?, true),
            },
        };
        if fresh {
            // The cache is derived data: written in place, not counted as a change (module
            // docs). A short string kept inline cannot be edited in place; it recounts.
            if let Some(Value::Str(s)) = db.entry_mut(key).and_then(|e| e.object_mut()) {
                hll::set_cached(s, card);
            }
        }
        ctx.out.integer(card as i64);
        return Ok(());
    }
    // Several keys: the cardinality of their union.
    let (max, _) = union_of(&mut db, args.iter().skip(1))?;
    ctx.out.integer(hll::count_registers(&max) as i64);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let sparse_limit = sparse_max(ctx);
    let dest = args.arg(1);
    let mut db = ctx.store.db(ctx.client.db);
    // The union of every key named, the destination included.
    let (max, dense) = union_of(&mut db, args.iter().skip(1))?;
    let current = hll_at(&mut db, dest)?.map(<[u8]>::to_vec);
    let existed = current.is_some();
    let mut value = current.unwrap_or_else(hll::new_sparse);
    if dense {
        hll::to_dense(&mut value)?;
        hll::write_dense(&mut value, &max);
    } else {
        for (index, &count) in max.iter().enumerate() {
            if count > 0 {
                hll::set(&mut value, index, count, sparse_limit)?;
            }
        }
    }
    // Stale whatever changed (Redis marks it so even when nothing did).
    hll::invalidate(&mut value);
    store(&mut db, dest, value, existed);
    ctx.out.ok();
    Ok(())
}
