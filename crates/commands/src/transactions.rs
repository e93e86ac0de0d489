//! MULTI / EXEC / DISCARD / WATCH / UNWATCH with Redis semantics.
//!
//! While a client is in MULTI the gate (`dispatch`) queues every command except these after
//! checking it exists and has the right arity; such an error marks the transaction aborted and
//! EXEC answers EXECABORT. Errors raised while EXEC runs the queue do not stop the other commands.
//! WATCH registers the client's "dirty" flag on each key; any change to the key (writes, expiry,
//! eviction, FLUSHDB, SWAPDB) sets it, and EXEC then returns a null reply without running anything.
//! Because EXEC runs the whole queue under the keyspace lock, the transaction is atomic.

use crate::ctx::Ctx;
use crate::dispatch::execute;
use crate::error::{CmdError, CmdResult};
use crate::table::{flags, CommandSpec};
use ringkv_engine::Store;
use ringkv_protocol::{Args, OwnedArgs};
use std::sync::atomic::Ordering;

/// Commands queued by MULTI.
#[derive(Debug, Default)]
pub struct MultiState {
    pub queued: Vec<OwnedArgs>,
    /// A queued command was rejected (unknown, wrong arity, OOM...): EXEC will abort.
    pub aborted: bool,
}

/// Commands that run immediately even inside MULTI (Redis processCommand).
pub fn runs_inside_multi(name: &str) -> bool {
    matches!(
        name,
        "exec" | "discard" | "multi" | "watch" | "quit" | "reset"
    )
}

const MULTI_NESTED: CmdError = CmdError::Static("ERR MULTI calls can not be nested");
const EXEC_WITHOUT_MULTI: CmdError = CmdError::Static("ERR EXEC without MULTI");
const DISCARD_WITHOUT_MULTI: CmdError = CmdError::Static("ERR DISCARD without MULTI");
const EXEC_ABORT: CmdError =
    CmdError::Static("EXECABORT Transaction discarded because of previous errors.");
const WATCH_IN_MULTI: CmdError = CmdError::Static("ERR WATCH inside MULTI is not allowed");

fn multi(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(MULTI_NESTED);
    }
    ctx.client.multi = Some(MultiState::default());
    ctx.out.ok();
    Ok(())
}

fn exec(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let Some(state) = ctx.client.multi.take() else {
        return Err(EXEC_WITHOUT_MULTI);
    };
    // Keys that expired since WATCH are deleted now, which marks the transaction dirty.
    let watched = ctx.client.watched.clone();
    for (db, key) in &watched {
        let _ = ctx.store.db(*db).peek(key);
    }
    let dirty = ctx.client.watch_dirty.load(Ordering::Relaxed);
    unwatch_all(ctx.store, ctx.client);
    if state.aborted {
        return Err(EXEC_ABORT);
    }
    if dirty {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.out.array(state.queued.len());
    ctx.client.in_exec = true;
    let atomic = AtomicLog::begin(ctx.store);
    for request in &state.queued {
        execute(ctx, request.args());
    }
    ctx.client.in_exec = false;
    atomic.end(ctx.store, true);
    Ok(())
}

/// Makes the operation-log entries of a group of commands (EXEC's queue, a script's calls) replay
/// all or none: taken before them, [`AtomicLog::end`] wraps what they logged in MULTI ... EXEC.
pub(crate) struct AtomicLog {
    mark: usize,
    offset: u64,
}

impl AtomicLog {
    pub(crate) fn begin(store: &Store) -> AtomicLog {
        AtomicLog {
            mark: store.common.oplog.mark(),
            offset: store.common.oplog.offset(),
        }
    }

    /// The commands logged themselves; wrap them (`wrap` false: they are already inside an outer
    /// transaction's MULTI), and log nothing for the group command itself.
    pub(crate) fn end(self, store: &mut Store, wrap: bool) {
        let log = &mut store.common.oplog;
        if wrap && log.offset() != self.offset {
            log.insert_at(self.mark, [&b"MULTI"[..]]);
            let db = log.selected_db();
            log.replace_command(db, [&b"EXEC"[..]]);
        } else {
            log.suppress();
        }
    }
}

fn discard(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(DISCARD_WITHOUT_MULTI);
    }
    unwatch_all(ctx.store, ctx.client);
    ctx.out.ok();
    Ok(())
}

fn watch(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(WATCH_IN_MULTI);
    }
    let db = ctx.client.db;
    for key in args.iter().skip(1) {
        if ctx.client.watched.iter().any(|(d, k)| *d == db && k == key) {
            continue;
        }
        // Apply lazy expiry first so an already-expired key does not fail the transaction.
        let _ = ctx.store.db(db).peek(key);
        ctx.store
            .common
            .watches
            .watch(db, key, &ctx.client.watch_dirty);
        ctx.client.watched.push((db, key.to_vec()));
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    unwatch_all(ctx.store, ctx.client);
    ctx.out.ok();
    Ok(())
}

/// Drops all of a client's watches and clears its dirty flag.
pub fn unwatch_all(store: &mut Store, client: &mut crate::ctx::Client) {
    if !client.watched.is_empty() {
        store
            .common
            .watches
            .unwatch(&client.watched, &client.watch_dirty);
        client.watched.clear();
    }
    client.watch_dirty.store(false, Ordering::Relaxed);
}

/// Forgets a client's transaction state (RESET, disconnect).
pub fn forget(store: &mut Store, client: &mut crate::ctx::Client) {
    client.multi = None;
    unwatch_all(store, client);
}

const TX: u32 = flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::ALLOW_BUSY;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("multi", 1, TX | flags::FAST, multi)
        .group("transactions")
        .doc("Starts a transaction.", "1.2.0", "O(1)"),
    CommandSpec::new(
        "exec",
        1,
        flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::SKIP_SLOWLOG,
        exec,
    )
    .group("transactions")
    .doc(
        "Executes all commands in a transaction.",
        "1.2.0",
        "Depends on commands in the transaction",
    ),
    CommandSpec::new("discard", 1, TX | flags::FAST, discard)
        .group("transactions")
        .doc(
            "Discards a transaction.",
            "2.0.0",
            "O(N), when N is the number of queued commands",
        ),
    CommandSpec::new("watch", -2, TX | flags::FAST, watch)
        .keys(1, -1, 1)
        .group("transactions")
        .doc(
            "Monitors changes to keys to determine the execution of a transaction.",
            "2.2.0",
            "O(1) for every key.",
        )
        .syntax("key [key ...]"),
    CommandSpec::new("unwatch", 1, TX | flags::FAST, unwatch)
        .group("transactions")
        .doc(
            "Forgets about watched keys of a transaction.",
            "2.2.0",
            "O(1)",
        ),
];
