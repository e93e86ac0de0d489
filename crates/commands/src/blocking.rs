//! Blocking commands (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP, BZPOPMIN, BZPOPMAX, BZMPOP): the
//! waiting machinery shared by all of them.
//!
//! A blocking command that finds nothing to pop registers its client on its keys (FIFO per key, in
//! the keyspace's `BlockingKeys`) and parks its request here with a one-shot reply channel; the
//! connection then waits on that channel or the timeout. When a later command changes one of those
//! keys, the *writer* — still holding the keyspace lock, right after its command — re-runs the parked
//! requests of that key's waiters in arrival order (Redis handleClientsBlockedOnKeys). So a pushed
//! element always goes to the longest-waiting client and nothing else can run in between. A waiter
//! whose re-run still finds nothing stays parked. Inside MULTI/EXEC blocking commands never block:
//! they answer as if the timeout had expired.

use crate::clients::ClientHandle;
use crate::ctx::{Action, Client, Ctx};
use crate::dispatch::execute;
use crate::error::CmdError;
use crate::parse::parse_f64;
use crate::pubsub::PushLink;
use crate::shared::Shared;
use ringkv_engine::{DbKey, Store};
use ringkv_protocol::{Args, OwnedArgs, Protocol, ReplyWriter};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// A parked blocking request.
pub struct BlockedClient {
    pub args: OwnedArgs,
    pub db: usize,
    pub proto: Protocol,
    pub keys: Vec<DbKey>,
    pub handle: Arc<ClientHandle>,
    pub push: Arc<PushLink>,
    /// A stream read (XREAD, XREADGROUP): it takes nothing from the key, and it may wait for
    /// something other than what the waiters before it wait for (another ID or group), so
    /// waiters behind it are tried even when it stays blocked.
    reader: bool,
    reply: oneshot::Sender<Vec<u8>>,
}

/// Parked requests by client id (lock after `store`).
#[derive(Default)]
pub struct BlockedClients {
    by_client: HashMap<u64, BlockedClient>,
}

impl BlockedClients {
    pub fn len(&self) -> usize {
        self.by_client.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_client.is_empty()
    }
}

/// What the connection waits for after a command blocked.
#[derive(Debug)]
pub struct BlockWait {
    pub reply: oneshot::Receiver<Vec<u8>>,
    pub timeout: Option<Duration>,
}

const TIMEOUT_NEGATIVE: CmdError = CmdError::Static("ERR timeout is negative");
const TIMEOUT_RANGE: CmdError = CmdError::Static("ERR timeout is out of range");

/// Parses a blocking timeout in seconds (a float, 0 = forever) as Redis does.
pub fn parse_timeout(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let secs = parse_f64(arg).ok_or(crate::error::TIMEOUT_NOT_FLOAT)?;
    if secs < 0.0 {
        return Err(TIMEOUT_NEGATIVE);
    }
    if !secs.is_finite() || secs > 1e12 {
        return Err(TIMEOUT_RANGE);
    }
    if secs == 0.0 {
        return Ok(None);
    }
    Ok(Some(Duration::from_secs_f64(secs)))
}

/// Parses a timeout in milliseconds (an integer, 0 = forever) as Redis's WAIT, WAITAOF and
/// XREAD BLOCK do.
pub fn parse_timeout_ms(arg: &[u8]) -> Result<Option<Duration>, CmdError> {
    let ms = crate::parse::parse_i64(arg).ok_or(CmdError::Static(
        "ERR timeout is not an integer or out of range",
    ))?;
    if ms < 0 {
        return Err(TIMEOUT_NEGATIVE);
    }
    Ok((ms > 0).then(|| Duration::from_millis(ms as u64)))
}

/// Called by a blocking command's handler when there is nothing to pop. Inside EXEC this answers
/// the timeout reply at once; when re-run for a parked request it only reports "still blocked";
/// otherwise it parks the request and asks the connection to wait.
pub fn block(ctx: &mut Ctx<'_>, args: Args<'_>, keys: &[&[u8]], timeout: Option<Duration>) {
    park(ctx, || args.to_owned_args(), keys, timeout, false);
}

/// [`block`] for the stream reads, with the request to re-run (XREAD parks its `$` IDs
/// resolved, so that a re-run waits for what was new when it blocked).
pub fn block_reader(
    ctx: &mut Ctx<'_>,
    args: impl FnOnce() -> OwnedArgs,
    keys: &[&[u8]],
    timeout: Option<Duration>,
) {
    park(ctx, args, keys, timeout, true);
}

fn park(
    ctx: &mut Ctx<'_>,
    args: impl FnOnce() -> OwnedArgs,
    keys: &[&[u8]],
    timeout: Option<Duration>,
    reader: bool,
) {
    if ctx.client.in_exec {
        ctx.out.null_array();
        return;
    }
    if ctx.client.serving_blocked {
        ctx.client.still_blocked = true;
        return;
    }
    let db = ctx.client.db;
    let keys: Vec<DbKey> = keys.iter().map(|k| (db, k.to_vec())).collect();
    let (tx, rx) = oneshot::channel();
    let id = ctx.client.handle.id;
    ctx.store.common.blocking.block(id, &keys);
    ctx.shared.blocked.lock().by_client.insert(
        id,
        BlockedClient {
            args: args(),
            db,
            proto: ctx.out.protocol(),
            keys,
            handle: ctx.client.handle.clone(),
            push: ctx.client.push.clone(),
            reader,
            reply: tx,
        },
    );
    ctx.client.action = Some(Action::Block(BlockWait { reply: rx, timeout }));
}

/// Serves clients blocked on keys that changed, in arrival order, until no ready key remains.
/// Runs with the keyspace locked, after a top-level command.
pub fn serve_blocked(store: &mut Store, shared: &Shared) {
    // Bounded: each round serves at least one client or ends.
    for _round in 0..10_000 {
        let ready = store.common.blocking.take_ready();
        if ready.is_empty() {
            return;
        }
        for (db, key) in ready {
            for id in store.common.blocking.waiters(db, &key) {
                let Some(bc) = shared.blocked.lock().by_client.remove(&id) else {
                    continue;
                };
                let mut client = Client::new(bc.handle.clone(), true, bc.push.clone());
                client.db = bc.db;
                client.serving_blocked = true;
                let mut out = ReplyWriter::new(bc.proto);
                {
                    let mut ctx = Ctx {
                        store,
                        shared,
                        client: &mut client,
                        out: &mut out,
                    };
                    execute(&mut ctx, bc.args.args());
                }
                if client.still_blocked {
                    // Nothing for it (an earlier waiter took the data): keep waiting, and so will
                    // everyone behind it on this key — unless it only reads.
                    let reader = bc.reader;
                    shared.blocked.lock().by_client.insert(id, bc);
                    if reader {
                        continue;
                    }
                    break;
                }
                store.common.blocking.unblock(id, &bc.keys);
                let _ = bc.reply.send(std::mem::take(out.buffer_mut()));
            }
        }
    }
}

/// The wait of `client_id` timed out (or it disconnected): unpark it. Returns false when the
/// request was served in the meantime (its reply is then waiting in the channel).
pub fn unpark(store: &mut Store, shared: &Shared, client_id: u64) -> bool {
    take_parked(store, shared, client_id).is_some()
}

/// Removes the parked request of `client_id` from the waiters and from its keys.
fn take_parked(store: &mut Store, shared: &Shared, client_id: u64) -> Option<BlockedClient> {
    let bc = shared.blocked.lock().by_client.remove(&client_id)?;
    store.common.blocking.unblock(client_id, &bc.keys);
    Some(bc)
}

/// CLIENT UNBLOCK: ends the parked request of `client_id` now, with its timeout reply or (if
/// `error`) Redis's `-UNBLOCKED` error. False if that client is not blocked.
pub fn unblock_now(store: &mut Store, shared: &Shared, client_id: u64, error: bool) -> bool {
    let Some(bc) = take_parked(store, shared, client_id) else {
        return false;
    };
    let mut out = ReplyWriter::new(bc.proto);
    if error {
        out.error(b"UNBLOCKED client unblocked via CLIENT UNBLOCK");
    } else {
        out.null_array();
    }
    let _ = bc.reply.send(std::mem::take(out.buffer_mut()));
    true
}

// ---------------------------------------------------------------------------------------------
// The blocking commands. Each first serves itself with its non-blocking twin's code (LMOVE,
// LMPOP, ZMPOP, or the list/zset pop helpers); only when every named key is empty (or absent)
// does it park through `block`.

use crate::error::CmdResult;
use crate::hash::db_and_out;
use crate::list::{existing_list_mut, lmove_serve, lmpop_serve, parse_side};
use crate::shared_args::parse_mpop;
use crate::table::{flags, CommandSpec};
use crate::zset::{existing_zset_mut, parse_min_max, zmpop_serve};

/// Logs a served BLMPOP/BZMPOP as its non-blocking twin: the same arguments minus the timeout
/// (the pop is deterministic given the data, so the replay pops the same elements).
fn log_without_timeout(ctx: &mut Ctx<'_>, args: Args<'_>, twin: &'static [u8]) {
    let db = ctx.client.db;
    let mut logged: Vec<&[u8]> = Vec::with_capacity(args.len() - 1);
    logged.push(twin);
    logged.extend(args.iter().skip(2));
    ctx.store.db(db).log_effect(logged);
}

/// BLPOP / BRPOP key [key ...] timeout
fn blpop_generic(ctx: &mut Ctx<'_>, args: Args<'_>, head: bool) -> CmdResult {
    let timeout = parse_timeout(args.arg(args.len() - 1))?;
    let keys: Vec<&[u8]> = args.iter().skip(1).take(args.len() - 2).collect();
    for key in &keys {
        let (mut db, out) = db_and_out(ctx);
        let Some(list) = existing_list_mut(&mut db, key)? else {
            continue;
        };
        let Some(v) = (if head {
            list.pop_front()
        } else {
            list.pop_back()
        }) else {
            continue;
        };
        // Logged as the non-blocking pop it turned out to be.
        db.log_effect([if head { &b"LPOP"[..] } else { b"RPOP" }, key]);
        crate::list::after_removal(&mut db, key, 1, if head { "lpop" } else { "rpop" });
        out.array(2);
        out.bulk(key);
        out.bulk(&v);
        return Ok(());
    }
    block(ctx, args, &keys, timeout);
    Ok(())
}

fn blpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    blpop_generic(ctx, args, true)
}

fn brpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    blpop_generic(ctx, args, false)
}

/// BLMOVE / BRPOPLPUSH: LMOVE when the source has an element, else wait on the source.
fn blmove_generic(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    from_head: bool,
    to_head: bool,
    timeout_arg: &[u8],
) -> CmdResult {
    let timeout = parse_timeout(timeout_arg)?;
    let (src, dst) = (args.arg(1), args.arg(2));
    if lmove_serve(ctx, src, dst, from_head, to_head)? {
        let side = |head: bool| if head { &b"LEFT"[..] } else { b"RIGHT" };
        let db = ctx.client.db;
        ctx.store
            .db(db)
            .log_effect([&b"LMOVE"[..], src, dst, side(from_head), side(to_head)]);
    } else {
        block(ctx, args, &[src], timeout);
    }
    Ok(())
}

fn blmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let from_head = parse_side(args.arg(3))?;
    let to_head = parse_side(args.arg(4))?;
    blmove_generic(ctx, args, from_head, to_head, args.arg(5))
}

fn brpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    blmove_generic(ctx, args, false, true, args.arg(3))
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn blmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let timeout = parse_timeout(args.arg(1))?;
    let mpop = parse_mpop(args, 2, parse_side)?;
    if lmpop_serve(ctx, args, &mpop)? {
        log_without_timeout(ctx, args, b"LMPOP");
    } else {
        let keys: Vec<&[u8]> = mpop.key_args(args).collect();
        block(ctx, args, &keys, timeout);
    }
    Ok(())
}

/// BZPOPMIN / BZPOPMAX key [key ...] timeout
fn bzpop_generic(ctx: &mut Ctx<'_>, args: Args<'_>, max: bool) -> CmdResult {
    let timeout = parse_timeout(args.arg(args.len() - 1))?;
    let keys: Vec<&[u8]> = args.iter().skip(1).take(args.len() - 2).collect();
    for key in &keys {
        let (mut db, out) = db_and_out(ctx);
        let Some(zset) = existing_zset_mut(&mut db, key)? else {
            continue;
        };
        let Some((member, score)) = zset.pop(max) else {
            continue;
        };
        db.log_effect([if max { &b"ZPOPMAX"[..] } else { b"ZPOPMIN" }, key]);
        crate::zset::after_removal(&mut db, key, 1, if max { "zpopmax" } else { "zpopmin" });
        out.array(3);
        out.bulk(key);
        out.bulk(&member);
        out.double(score);
        return Ok(());
    }
    block(ctx, args, &keys, timeout);
    Ok(())
}

fn bzpopmin(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bzpop_generic(ctx, args, false)
}

fn bzpopmax(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    bzpop_generic(ctx, args, true)
}

/// BZMPOP timeout numkeys key [key ...] MIN|MAX [COUNT count]
fn bzmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let timeout = parse_timeout(args.arg(1))?;
    let mpop = parse_mpop(args, 2, parse_min_max)?;
    if zmpop_serve(ctx, args, &mpop)? {
        log_without_timeout(ctx, args, b"ZMPOP");
    } else {
        let keys: Vec<&[u8]> = mpop.key_args(args).collect();
        block(ctx, args, &keys, timeout);
    }
    Ok(())
}

// Redis 7 marks the blocking commands `noscript`: a script must not wait for data.
const BLOCKING_WRITE: u32 = flags::WRITE | flags::BLOCKING | flags::NOSCRIPT;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("blpop", -3, BLOCKING_WRITE, blpop)
        .keys(1, -2, 1)
        .group("list")
        .doc("Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "O(N) where N is the number of provided keys.")
        .syntax("key [key ...] timeout"),
    CommandSpec::new("brpop", -3, BLOCKING_WRITE, brpop)
        .keys(1, -2, 1)
        .group("list")
        .doc("Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "2.0.0", "O(N) where N is the number of provided keys.")
        .syntax("key [key ...] timeout"),
    CommandSpec::new("blmove", 6, BLOCKING_WRITE | flags::DENYOOM, blmove)
        .keys(1, 2, 1)
        .group("list")
        .doc("Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.", "6.2.0", "O(1)")
        .syntax("source destination LEFT|RIGHT LEFT|RIGHT timeout"),
    CommandSpec::new("brpoplpush", 4, BLOCKING_WRITE | flags::DENYOOM, brpoplpush)
        .keys(1, 2, 1)
        .group("list")
        .doc("Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.", "2.2.0", "O(1)")
        .syntax("source destination timeout"),
    CommandSpec::new("blmpop", -5, BLOCKING_WRITE, blmpop)
        .numkeys_at(2)
        .group("list")
        .doc("Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.", "7.0.0", "O(N+M) where N is the number of provided keys and M is the number of elements returned.")
        .syntax("timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]"),
    CommandSpec::new("bzpopmin", -3, BLOCKING_WRITE | flags::FAST, bzpopmin)
        .keys(1, -2, 1)
        .group("sorted-set")
        .doc("Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.")
        .syntax("key [key ...] timeout"),
    CommandSpec::new("bzpopmax", -3, BLOCKING_WRITE | flags::FAST, bzpopmax)
        .keys(1, -2, 1)
        .group("sorted-set")
        .doc("Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member available otherwise. Deletes the sorted set if the last element was popped.", "5.0.0", "O(log(N)) with N being the number of elements in the sorted set.")
        .syntax("key [key ...] timeout"),
    CommandSpec::new("bzmpop", -5, BLOCKING_WRITE, bzmpop)
        .numkeys_at(2)
        .group("sorted-set")
        .doc("Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.", "7.0.0", "O(K) + O(M*log(N)) where K is the number of provided keys, N being the number of elements in the sorted set, and M being the number of elements popped.")
        .syntax("timeout numkeys key [key ...] MIN|MAX [COUNT count]"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_like_redis() {
        assert_eq!(parse_timeout(b"0").unwrap(), None);
        assert_eq!(
            parse_timeout(b"1.5").unwrap(),
            Some(Duration::from_millis(1500))
        );
        assert_eq!(parse_timeout(b"-1"), Err(TIMEOUT_NEGATIVE));
        assert_eq!(parse_timeout(b"abc"), Err(crate::error::TIMEOUT_NOT_FLOAT));
        assert_eq!(parse_timeout(b"inf"), Err(TIMEOUT_RANGE));
    }
}
