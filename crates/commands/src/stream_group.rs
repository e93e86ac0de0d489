//! Consumer group commands (Redis t_stream.c): XGROUP (CREATE, SETID, DESTROY, CREATECONSUMER,
//! DELCONSUMER, HELP), XACK, XPENDING, XCLAIM and XAUTOCLAIM.
//!
//! A group is a cursor into the stream (the last delivered ID and a read counter) plus the
//! pending entries list: what was delivered to which consumer, when, and how many times, until
//! XACK. XCLAIM/XAUTOCLAIM move pending entries that sat idle long enough to another consumer
//! (the recovery path of a queue whose worker died); an entry deleted from the stream meanwhile
//! is dropped from the PEL instead and reported (XAUTOCLAIM's third reply).
//!
//! Claims are logged (AOF) as the canonical XCLAIM Redis propagates (`TIME`, `RETRYCOUNT`,
//! `FORCE JUSTID LASTID`), which sets a pending entry to exactly its state here; a claim of a
//! deleted entry is logged the same way, and removes the entry on replay as it did here.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, SYNTAX};
use crate::hash::db_and_out;
use crate::introspection::reply_help;
use crate::parse::{int_arg, is};
use crate::stream::{
    existing_stream_mut, parse_bound, parse_id, parse_strict_id, read_stream, reply_entry, reply_id,
};
use crate::stream_read::{claim_effect, created_effect, setid_effect};
use crate::table::{flags, CommandSpec};
use crate::typed;
use ringkv_config::notify;
use ringkv_engine::types::stream::{ConsumerGroup, StreamId, ENTRIES_READ_UNKNOWN};
use ringkv_engine::StreamValue;
use ringkv_protocol::Args;

const RW_DENYOOM: u32 = flags::WRITE | flags::DENYOOM;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xgroup", -2, 0, crate::dispatch::container)
        .group("stream")
        .doc("A container for consumer groups commands.", "5.0.0", "Depends on subcommand.")
        .subcommands(XGROUP_SUBCOMMANDS),
    CommandSpec::new("xack", -4, flags::WRITE | flags::FAST, xack)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Returns the number of messages that were successfully acknowledged by the consumer group member of a stream.",
            "5.0.0",
            "O(1) for each message ID processed.",
        )
        .syntax("key group id [id ...]"),
    CommandSpec::new("xpending", -3, flags::READONLY, xpending)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Returns the information and entries from a stream consumer group's pending entries list.",
            "5.0.0",
            "O(N) with N being the number of elements returned, so asking for a small fixed number of entries per call is O(1). O(M), where M is the total number of entries scanned when used with the IDLE filter. When the command returns just the summary and the list of consumers is small, it runs in O(1) time; otherwise, an additional O(N) time for iterating every consumer.",
        )
        .syntax("key group [[IDLE min-idle-time] start end count [consumer]]"),
    CommandSpec::new("xclaim", -6, flags::WRITE | flags::FAST, xclaim)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Changes, or acquires, ownership of a message in a consumer group, as if the message was delivered a consumer group member.",
            "5.0.0",
            "O(log N) with N being the number of messages in the PEL of the consumer group.",
        )
        .syntax("key group consumer min-idle-time id [id ...] [IDLE ms] [TIME unix-time-milliseconds] [RETRYCOUNT count] [FORCE] [JUSTID] [LASTID lastid]"),
    CommandSpec::new("xautoclaim", -6, flags::WRITE | flags::FAST, xautoclaim)
        .keys(1, 1, 1)
        .group("stream")
        .doc(
            "Changes, or acquires, ownership of messages in a consumer group, as if the messages were delivered to as consumer group member.",
            "6.2.0",
            "O(1) if COUNT is small.",
        )
        .syntax("key group consumer min-idle-time start [COUNT count] [JUSTID]"),
];

const XGROUP_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("create", -5, RW_DENYOOM, xgroup)
        .keys(2, 2, 1)
        .group("stream")
        .doc("Creates a consumer group.", "5.0.0", "O(1)")
        .syntax("key group <id | $> [MKSTREAM] [ENTRIESREAD entries-read]"),
    CommandSpec::new("setid", -5, flags::WRITE, xgroup)
        .keys(2, 2, 1)
        .group("stream")
        .doc(
            "Sets the last-delivered ID of a consumer group.",
            "5.0.0",
            "O(1)",
        )
        .syntax("key group <id | $> [ENTRIESREAD entries-read]"),
    CommandSpec::new("destroy", 4, flags::WRITE, xgroup)
        .keys(2, 2, 1)
        .group("stream")
        .doc(
            "Destroys a consumer group.",
            "5.0.0",
            "O(N) where N is the number of entries in the group's pending entries list (PEL).",
        )
        .syntax("key group"),
    CommandSpec::new("createconsumer", 5, RW_DENYOOM, xgroup)
        .keys(2, 2, 1)
        .group("stream")
        .doc("Creates a consumer in a consumer group.", "6.2.0", "O(1)")
        .syntax("key group consumer"),
    CommandSpec::new("delconsumer", 5, flags::WRITE, xgroup)
        .keys(2, 2, 1)
        .group("stream")
        .doc("Deletes a consumer from a consumer group.", "5.0.0", "O(1)")
        .syntax("key group consumer"),
    CommandSpec::new("help", 2, flags::LOADING | flags::STALE, xgroup_help)
        .group("stream")
        .doc(
            "Returns helpful text about the different subcommands.",
            "5.0.0",
            "O(1)",
        ),
];

pub(crate) fn nogroup_for_key(group: &[u8], key: &[u8]) -> CmdError {
    CmdError::Owned(format!(
        "NOGROUP No such consumer group '{}' for key name '{}'",
        String::from_utf8_lossy(group),
        String::from_utf8_lossy(key)
    ))
}

fn nogroup(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::Owned(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

fn xgroup_help(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    reply_help(
        ctx,
        "xgroup",
        &[
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
        ],
    );
    Ok(())
}

/// Every XGROUP subcommand but HELP (Redis's xgroupCommand: options, then the key, then the
/// group, then the subcommand's own work).
fn xgroup(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let sub = args.arg(1);
    let (create, setid) = (is(sub, "create"), is(sub, "setid"));
    let mut mkstream = false;
    let mut entries_read = ENTRIES_READ_UNKNOWN;
    let mut i = 5;
    while i < args.len() {
        if create && is(args.arg(i), "mkstream") {
            mkstream = true;
            i += 1;
        } else if (create || setid) && is(args.arg(i), "entriesread") && i + 1 < args.len() {
            entries_read = int_arg(args.arg(i + 1))?;
            if entries_read < 0 && entries_read != ENTRIES_READ_UNKNOWN {
                return Err(CmdError::Static(
                    "ERR value for ENTRIESREAD must be positive or -1",
                ));
            }
            i += 2;
        } else {
            return Err(CmdError::subcommand_syntax("xgroup", sub));
        }
    }
    let (key, group) = (args.arg(2), args.arg(3));
    let now = ctx.store.now_ms();
    let (mut db, out) = db_and_out(ctx);
    let exists = existing_stream_mut(&mut db, key)?.is_some();
    if !exists && !mkstream {
        return Err(CmdError::Static(
            "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.",
        ));
    }
    if !create {
        let has_group =
            existing_stream_mut(&mut db, key)?.is_some_and(|s| s.groups.contains_key(group));
        if !has_group && !is(sub, "destroy") {
            return Err(nogroup_for_key(group, key));
        }
    }
    if create {
        let id = if args.arg(4) == b"$" {
            existing_stream_mut(&mut db, key)?.map_or(StreamId::MIN, |s| s.last_id)
        } else {
            parse_strict_id(args.arg(4))?
        };
        let s = typed::get_or_create(&mut db, key, StreamValue::new)?;
        if s.groups.contains_key(group) {
            return Err(CmdError::Static(
                "BUSYGROUP Consumer Group name already exists",
            ));
        }
        s.groups
            .insert(group.into(), ConsumerGroup::new(id, entries_read));
        db.signal_modified(key, 1);
        db.notify(notify::STREAM, "xgroup-create", key);
        out.ok();
        return Ok(());
    }
    let Some(s) = existing_stream_mut(&mut db, key)? else {
        return Err(nogroup_for_key(group, key));
    };
    if setid {
        let id = if args.arg(4) == b"$" {
            s.last_id
        } else {
            parse_id(args.arg(4), 0)?
        };
        if let Some(g) = s.groups.get_mut(group) {
            g.last_id = id;
            g.entries_read = entries_read;
        }
        db.signal_modified(key, 1);
        db.notify(notify::STREAM, "xgroup-setid", key);
        out.ok();
    } else if is(sub, "destroy") {
        if s.groups.remove(group).is_some() {
            // Also wakes blocked XREADGROUP readers of the group, which then get NOGROUP.
            db.signal_modified(key, 1);
            db.notify(notify::STREAM, "xgroup-destroy", key);
            out.integer(1);
        } else {
            out.integer(0);
        }
    } else if is(sub, "createconsumer") {
        let created = s
            .groups
            .get_mut(group)
            .is_some_and(|g| g.create_consumer(args.arg(4), now));
        if created {
            db.signal_modified(key, 1);
            db.notify(notify::STREAM, "xgroup-createconsumer", key);
        }
        out.integer(i64::from(created));
    } else {
        // DELCONSUMER
        let pending = s
            .groups
            .get_mut(group)
            .and_then(|g| g.delete_consumer(args.arg(4)));
        if pending.is_some() {
            db.signal_modified(key, 1);
            db.notify(notify::STREAM, "xgroup-delconsumer", key);
        }
        out.integer(pending.unwrap_or(0) as i64);
    }
    Ok(())
}

/// XACK key group id [id ...]
fn xack(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (key, group) = (args.arg(1), args.arg(2));
    let (mut db, out) = db_and_out(ctx);
    let Some(s) = existing_stream_mut(&mut db, key)? else {
        out.integer(0);
        return Ok(());
    };
    let Some(g) = s.groups.get_mut(group) else {
        out.integer(0);
        return Ok(());
    };
    let ids = args
        .iter()
        .skip(3)
        .map(parse_strict_id)
        .collect::<Result<Vec<_>, _>>()?;
    let acked = ids.into_iter().filter(|id| g.ack(*id)).count();
    if acked > 0 {
        db.signal_modified(key, acked as u64);
    }
    out.integer(acked as i64);
    Ok(())
}

/// XPENDING key group [[IDLE min-idle] start end count [consumer]]
fn xpending(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let argc = args.len();
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(SYNTAX);
    }
    let (key, group) = (args.arg(1), args.arg(2));
    let mut range = None;
    let mut min_idle = 0i64;
    let mut consumer = None;
    if argc >= 6 {
        let mut at = 3;
        if is(args.arg(3), "idle") {
            min_idle = int_arg(args.arg(4))?;
            if argc < 8 {
                return Err(SYNTAX);
            }
            at += 2;
        }
        let count = int_arg(args.arg(at + 2))?.max(0);
        let start = parse_bound(args.arg(at), true)?;
        let end = parse_bound(args.arg(at + 1), false)?;
        if at + 3 < argc {
            consumer = Some(args.arg(at + 3));
        }
        range = Some((start, end, count as usize));
    }
    let now = ctx.store.now_ms();
    let (mut db, out) = db_and_out(ctx);
    let g = read_stream(&mut db, key)?
        .and_then(|s| s.groups.get(group))
        .ok_or_else(|| nogroup(key, group))?;
    let Some((start, end, mut count)) = range else {
        out.array(4);
        out.integer(g.pel.len() as i64);
        match (g.pel.first_key_value(), g.pel.last_key_value()) {
            (Some((first, _)), Some((last, _))) => {
                reply_id(out, *first);
                reply_id(out, *last);
                let owners: Vec<_> = g
                    .consumers
                    .values()
                    .filter(|c| !c.pending.is_empty())
                    .collect();
                out.array(owners.len());
                for c in owners {
                    out.array(2);
                    out.bulk(&c.name);
                    out.bulk_i64(c.pending.len() as i64);
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return Ok(());
    };
    // Walked lazily: COUNT stops the walk, however long the range.
    let ids: Box<dyn Iterator<Item = StreamId> + '_> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) if start <= end => Box::new(c.pending.range(start..=end).copied()),
            Some(_) => Box::new(std::iter::empty()),
            None => {
                out.array(0);
                return Ok(());
            }
        },
        None if start <= end => Box::new(g.pel.range(start..=end).map(|(id, _)| *id)),
        None => Box::new(std::iter::empty()),
    };
    let d = out.begin_deferred();
    let mut n = 0;
    for id in ids {
        if count == 0 {
            break;
        }
        let Some(p) = g.pel.get(&id) else {
            continue;
        };
        if min_idle != 0 && now - p.delivery_time < min_idle {
            continue;
        }
        n += 1;
        count -= 1;
        out.array(4);
        reply_id(out, id);
        out.bulk(&p.consumer);
        out.integer((now - p.delivery_time).max(0));
        out.integer(p.delivery_count as i64);
    }
    out.finish_deferred_array(d, n);
    Ok(())
}

/// A claim's logged effects and what it changed.
struct ClaimLog {
    /// The AOF (or a replica) wants effects: without it none are built.
    logging: bool,
    effects: Vec<Vec<Vec<u8>>>,
    changes: u64,
}

impl ClaimLog {
    fn new(logging: bool) -> ClaimLog {
        ClaimLog {
            logging,
            effects: Vec::new(),
            changes: 0,
        }
    }

    /// Records the effect `make` builds, if anything logs it.
    fn push(&mut self, make: impl FnOnce() -> Vec<Vec<u8>>) {
        if self.logging {
            self.effects.push(make());
        }
    }
}

/// XCLAIM key group consumer min-idle-time id [id ...] [IDLE ms] [TIME ms] [RETRYCOUNT n]
/// [FORCE] [JUSTID] [LASTID id]
fn xclaim(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (key, group, consumer) = (args.arg(1), args.arg(2), args.arg(3));
    let now = ctx.store.now_ms();
    let (mut db, out) = db_and_out(ctx);
    if !read_stream(&mut db, key)?.is_some_and(|s| s.groups.contains_key(group)) {
        return Err(nogroup(key, group));
    }
    let min_idle = crate::parse::parse_i64(args.arg(4))
        .ok_or(CmdError::Static(
            "ERR Invalid min-idle-time argument for XCLAIM",
        ))?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match parse_strict_id(args.arg(j)) {
            Ok(id) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let (mut force, mut justid) = (false, false);
    let mut retrycount: Option<u64> = None;
    let mut delivery: Option<i64> = None;
    let mut last_id = StreamId::MIN;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args.arg(j);
        let option_int = |name: &'static str, arg: &[u8]| {
            crate::parse::parse_i64(arg).ok_or(CmdError::Static(name))
        };
        if is(opt, "force") {
            force = true;
        } else if is(opt, "justid") {
            justid = true;
        } else if is(opt, "idle") && more > 0 {
            j += 1;
            let idle = option_int("ERR Invalid IDLE option argument for XCLAIM", args.arg(j))?;
            delivery = Some(now - idle);
        } else if is(opt, "time") && more > 0 {
            j += 1;
            delivery = Some(option_int(
                "ERR Invalid TIME option argument for XCLAIM",
                args.arg(j),
            )?);
        } else if is(opt, "retrycount") && more > 0 {
            j += 1;
            let n = option_int(
                "ERR Invalid RETRYCOUNT option argument for XCLAIM",
                args.arg(j),
            )?;
            // A negative count is Redis's "not given".
            retrycount = u64::try_from(n).ok();
        } else if is(opt, "lastid") && more > 0 {
            j += 1;
            last_id = parse_strict_id(args.arg(j))?;
        } else {
            return Err(CmdError::Owned(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(opt)
            )));
        }
        j += 1;
    }
    let delivery = match delivery {
        Some(t) if (0..=now).contains(&t) => t,
        _ => now,
    };
    let logging = db.logging();
    let Some(s) = existing_stream_mut(&mut db, key)? else {
        return Err(nogroup(key, group));
    };
    let mut log = ClaimLog::new(logging);
    let mut last_moved = false;
    if let Some(g) = s.groups.get_mut(group) {
        if last_id > g.last_id {
            g.last_id = last_id;
            last_moved = true;
        }
    }
    let created = claim_prepare(s, group, consumer, now);
    let d = out.begin_deferred();
    let mut n = 0;
    for id in ids {
        let exists = s.contains(id);
        let Some(g) = s.groups.get_mut(group) else {
            break;
        };
        if !exists {
            drop_deleted(g, [key, group], id, &mut log);
            continue;
        }
        if force && !g.pel.contains_key(&id) {
            // A forced entry is created as a first delivery to the claimer (count 1, as in
            // Redis), skipping the idle check: it had no owner.
            g.deliver(id, consumer, now);
        } else if let Some(p) = g.pel.get(&id) {
            if min_idle != 0 && now - p.delivery_time < min_idle {
                continue;
            }
        } else {
            continue;
        }
        g.transfer(id, consumer);
        let last = g.last_id;
        if let Some(p) = g.pel.get_mut(&id) {
            p.delivery_time = delivery;
            match retrycount {
                Some(r) => p.delivery_count = r,
                None if !justid => p.delivery_count += 1,
                None => {}
            }
            log.push(|| claim_effect(key, group, consumer, id, p, last));
        }
        if let Some(c) = g.consumers.get_mut(consumer) {
            c.active_time = now;
        }
        log.changes += 1;
        n += 1;
        if justid {
            reply_id(out, id);
        } else if let Some(fields) = s.get(id) {
            reply_entry(out, id, fields);
        }
    }
    out.finish_deferred_array(d, n);
    if last_moved && log.effects.is_empty() {
        if let Some(g) = s.groups.get(group) {
            log.push(|| setid_effect(key, group, g));
        }
    }
    finish_claim(&mut db, [key, group, consumer], log, last_moved, created);
    Ok(())
}

/// A claim met a pending entry whose stream entry was deleted: the pending entry goes, logged
/// as the XCLAIM that removes it on replay.
fn drop_deleted(g: &mut ConsumerGroup, names: [&[u8]; 2], id: StreamId, log: &mut ClaimLog) {
    let [key, group] = names;
    if let Some(p) = g.pel.get(&id) {
        log.push(|| claim_effect(key, group, &p.consumer, id, p, g.last_id));
        g.ack(id);
        log.changes += 1;
    }
}

/// Creates the claiming consumer if needed and marks it seen; returns whether it was created.
fn claim_prepare(s: &mut StreamValue, group: &[u8], consumer: &[u8], now: i64) -> bool {
    let Some(g) = s.groups.get_mut(group) else {
        return false;
    };
    let created = g.create_consumer(consumer, now);
    if let Some(c) = g.consumers.get_mut(consumer) {
        c.seen_time = now;
    }
    created
}

/// Signals, notifies and logs what a claim did (a consumer it created included: its creation
/// is logged first, so a replay has it even when it claimed nothing).
fn finish_claim(
    db: &mut ringkv_engine::DbRef<'_>,
    names: [&[u8]; 3],
    log: ClaimLog,
    changed: bool,
    created: bool,
) {
    let [key, group, consumer] = names;
    if log.changes > 0 || changed || created {
        db.signal_modified(key, log.changes.max(1));
    }
    if created {
        db.notify(notify::STREAM, "xgroup-createconsumer", key);
    }
    if db.logging() {
        db.log_suppress();
        if created {
            let e = created_effect(key, group, consumer);
            db.log_effect(e.iter().map(Vec::as_slice));
        }
        for e in &log.effects {
            db.log_effect(e.iter().map(Vec::as_slice));
        }
    }
}

/// XAUTOCLAIM key group consumer min-idle-time start [COUNT count] [JUSTID]
fn xautoclaim(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (key, group, consumer) = (args.arg(1), args.arg(2), args.arg(3));
    let min_idle = crate::parse::parse_i64(args.arg(4))
        .ok_or(CmdError::Static(
            "ERR Invalid min-idle-time argument for XAUTOCLAIM",
        ))?
        .max(0);
    let start = parse_bound(args.arg(5), true)?;
    let mut count: usize = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args.arg(j);
        if is(opt, "count") && more > 0 {
            let max = i64::MAX / 16;
            // Redis's getRangeLongFromObjectOrReply: one message for every bad value.
            let n = crate::parse::parse_i64(args.arg(j + 1)).unwrap_or(0);
            if !(1..=max).contains(&n) {
                return Err(CmdError::Static("ERR COUNT must be > 0"));
            }
            count = usize::try_from(n).unwrap_or(usize::MAX);
            j += 1;
        } else if is(opt, "justid") {
            justid = true;
        } else {
            return Err(SYNTAX);
        }
        j += 1;
    }
    let now = ctx.store.now_ms();
    let (mut db, out) = db_and_out(ctx);
    if !read_stream(&mut db, key)?.is_some_and(|s| s.groups.contains_key(group)) {
        return Err(nogroup(key, group));
    }
    let logging = db.logging();
    let Some(s) = existing_stream_mut(&mut db, key)? else {
        return Err(nogroup(key, group));
    };
    let created = claim_prepare(s, group, consumer, now);
    let mut log = ClaimLog::new(logging);
    let mut attempts = count.saturating_mul(10);
    let mut deleted = Vec::new();
    let mut claimed = Vec::new();
    // At most `attempts` are looked at, and one more tells where the next call starts.
    let candidates: Vec<StreamId> = s
        .groups
        .get(group)
        .map(|g| {
            let ids = g.pel.range(start..).map(|(id, _)| *id);
            ids.take(attempts.saturating_add(1)).collect()
        })
        .unwrap_or_default();
    let mut next = StreamId::MIN;
    let mut it = candidates.into_iter();
    while attempts > 0 && count > 0 {
        let Some(id) = it.next() else {
            break;
        };
        attempts -= 1;
        let exists = s.contains(id);
        let Some(g) = s.groups.get_mut(group) else {
            break;
        };
        if !exists {
            drop_deleted(g, [key, group], id, &mut log);
            deleted.push(id);
            count -= 1;
            continue;
        }
        let Some(p) = g.pel.get(&id) else {
            continue;
        };
        if min_idle != 0 && now - p.delivery_time < min_idle {
            continue;
        }
        g.transfer(id, consumer);
        let last = g.last_id;
        if let Some(p) = g.pel.get_mut(&id) {
            p.delivery_time = now;
            if !justid {
                p.delivery_count += 1;
            }
            log.push(|| claim_effect(key, group, consumer, id, p, last));
        }
        if let Some(c) = g.consumers.get_mut(consumer) {
            c.active_time = now;
        }
        log.changes += 1;
        claimed.push(id);
        count -= 1;
    }
    if let Some(id) = it.next() {
        next = id;
    }
    out.array(3);
    reply_id(out, next);
    out.array(claimed.len());
    for id in &claimed {
        if justid {
            reply_id(out, *id);
        } else if let Some(fields) = s.get(*id) {
            reply_entry(out, *id, fields);
        }
    }
    out.array(deleted.len());
    for id in deleted {
        reply_id(out, id);
    }
    finish_claim(&mut db, [key, group, consumer], log, false, created);
    Ok(())
}
