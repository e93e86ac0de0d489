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

/// Called by a blocking command's handler when there is nothing to pop. Inside EXEC this answers
/// the timeout reply at once; when re-run for a parked request it only reports "still blocked";
/// otherwise it parks the request and asks the connection to wait.
pub fn block(ctx: &mut Ctx<'_>, args: Args<'_>, keys: &[&[u8]], timeout: Option<Duration>) {
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
            args: args.to_owned_args(),
            db,
            proto: ctx.out.protocol(),
            keys,
            handle: ctx.client.handle.clone(),
            push: ctx.client.push.clone(),
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
                    // everyone behind it on this key.
                    shared.blocked.lock().by_client.insert(id, bc);
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
    match shared.blocked.lock().by_client.remove(&client_id) {
        Some(bc) => {
            store.common.blocking.unblock(client_id, &bc.keys);
            true
        }
        None => false,
    }
}

// ---------------------------------------------------------------------------------------------
// The blocking commands. Each first tries to serve itself like its non-blocking twin; only when
// every named key is empty (or absent) does it park through `block`.

use crate::error::{CmdResult, SYNTAX, WRONG_TYPE};
use crate::parse::{is, parse_i64};
use crate::table::{flags, CommandSpec};
use ringkv_config::notify;
use ringkv_engine::{ListValue, Value, ValueRef};

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

fn parse_end(arg: &[u8]) -> Result<End, CmdError> {
    if is(arg, "LEFT") {
        Ok(End::Left)
    } else if is(arg, "RIGHT") {
        Ok(End::Right)
    } else {
        Err(SYNTAX)
    }
}

/// Some(len) if `key` holds a non-empty list, None if absent, WRONGTYPE for other types.
fn list_len(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<usize>, CmdError> {
    match ctx.db().peek(key).map(|e| e.value()) {
        None => Ok(None),
        Some(ValueRef::Obj(Value::List(l))) => Ok(Some(l.len())),
        Some(_) => Err(WRONG_TYPE),
    }
}

fn zset_len(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<usize>, CmdError> {
    match ctx.db().peek(key).map(|e| e.value()) {
        None => Ok(None),
        Some(ValueRef::Obj(Value::ZSet(z))) => Ok(Some(z.len())),
        Some(_) => Err(WRONG_TYPE),
    }
}

/// Pops up to `count` elements from one end of a list known to be non-empty.
fn pop_list(ctx: &mut Ctx<'_>, key: &[u8], end: End, count: usize) -> Vec<Vec<u8>> {
    let mut db = ctx.db();
    let mut out = Vec::new();
    if let Some(Value::List(l)) = db.entry_mut(key).and_then(|e| e.object_mut()) {
        while out.len() < count {
            let v = match end {
                End::Left => l.pop_front(),
                End::Right => l.pop_back(),
            };
            match v {
                Some(v) => out.push(v),
                None => break,
            }
        }
    }
    if !out.is_empty() {
        db.signal_modified(key, out.len() as u64);
        db.notify(
            notify::LIST,
            if end == End::Left { "lpop" } else { "rpop" },
            key,
        );
        if db.remove_if_empty(key) {
            db.notify(notify::GENERIC, "del", key);
        }
    }
    out
}

fn push_list(ctx: &mut Ctx<'_>, key: &[u8], end: End, value: &[u8]) -> Result<(), CmdError> {
    let mut db = ctx.db();
    match db.value_mut_or_insert(key, || Value::List(ListValue::default()))? {
        Value::List(l) => match end {
            End::Left => l.push_front(value),
            End::Right => l.push_back(value),
        },
        _ => return Err(WRONG_TYPE),
    }
    db.signal_modified(key, 1);
    db.notify(
        notify::LIST,
        if end == End::Left { "lpush" } else { "rpush" },
        key,
    );
    Ok(())
}

fn pop_zset(ctx: &mut Ctx<'_>, key: &[u8], max: bool, count: usize) -> Vec<(Vec<u8>, f64)> {
    let mut db = ctx.db();
    let mut out = Vec::new();
    if let Some(Value::ZSet(z)) = db.entry_mut(key).and_then(|e| e.object_mut()) {
        while out.len() < count {
            match z.pop(max) {
                Some(p) => out.push(p),
                None => break,
            }
        }
    }
    if !out.is_empty() {
        db.signal_modified(key, out.len() as u64);
        db.notify(notify::ZSET, if max { "zpopmax" } else { "zpopmin" }, key);
        if db.remove_if_empty(key) {
            db.notify(notify::GENERIC, "del", key);
        }
    }
    out
}

/// BLPOP / BRPOP key [key ...] timeout
fn blpop_generic(ctx: &mut Ctx<'_>, args: Args<'_>, end: End) -> CmdResult {
    let timeout = parse_timeout(args.arg(args.len() - 1))?;
    let keys: Vec<&[u8]> = args.iter().skip(1).take(args.len() - 2).collect();
    for key in &keys {
        if list_len(ctx, key)?.is_some() {
            let v = pop_list(ctx, key, end, 1);
            if let Some(v) = v.first() {
                ctx.out.array(2);
                ctx.out.bulk(key);
                ctx.out.bulk(v);
                return Ok(());
            }
        }
    }
    block(ctx, args, &keys, timeout);
    Ok(())
}

fn blpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    blpop_generic(ctx, args, End::Left)
}

fn brpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    blpop_generic(ctx, args, End::Right)
}

/// BLMOVE / BRPOPLPUSH: pop from `src`, push to `dst`; the destination type is checked first so a
/// failed push never loses the element.
fn blmove_generic(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    from: End,
    to: End,
    timeout_arg: &[u8],
) -> CmdResult {
    let timeout = parse_timeout(timeout_arg)?;
    let (src, dst) = (args.arg(1), args.arg(2));
    if list_len(ctx, src)?.is_some() {
        list_len(ctx, dst)?;
        let v = pop_list(ctx, src, from, 1);
        if let Some(v) = v.into_iter().next() {
            push_list(ctx, dst, to, &v)?;
            ctx.out.bulk(&v);
            return Ok(());
        }
    }
    block(ctx, args, &[src], timeout);
    Ok(())
}

fn blmove(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let from = parse_end(args.arg(3))?;
    let to = parse_end(args.arg(4))?;
    blmove_generic(ctx, args, from, to, args.arg(5))
}

fn brpoplpush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    blmove_generic(ctx, args, End::Right, End::Left, args.arg(3))
}

/// What `numkeys key... <end-token> [COUNT n]` names: the keys, the end token, the count.
type MpopArgs<'a> = (Vec<&'a [u8]>, &'a [u8], usize);

/// Parses `numkeys key... <end-token> [COUNT n]` starting at `numkeys_idx`.
fn parse_mpop<'a>(args: &Args<'a>, numkeys_idx: usize) -> Result<MpopArgs<'a>, CmdError> {
    let numkeys = match parse_i64(args.arg(numkeys_idx)) {
        Some(n) if n > 0 => n as usize,
        Some(_) => return Err(CmdError::Static("ERR numkeys should be greater than 0")),
        None => return Err(crate::error::NOT_INTEGER),
    };
    let where_idx = numkeys_idx
        .checked_add(numkeys)
        .and_then(|i| i.checked_add(1))
        .ok_or(SYNTAX)?;
    if where_idx >= args.len() {
        return Err(SYNTAX);
    }
    let keys: Vec<&[u8]> = (numkeys_idx + 1..where_idx).map(|i| args.arg(i)).collect();
    let mut count = 1usize;
    let mut i = where_idx + 1;
    let mut seen_count = false;
    while i < args.len() {
        if is(args.arg(i), "COUNT") && i + 1 < args.len() && !seen_count {
            count = match parse_i64(args.arg(i + 1)) {
                Some(n) if n > 0 => n as usize,
                _ => return Err(CmdError::Static("ERR count should be greater than 0")),
            };
            seen_count = true;
            i += 2;
        } else {
            return Err(SYNTAX);
        }
    }
    Ok((keys, args.arg(where_idx), count))
}

/// BLMPOP timeout numkeys key [key ...] LEFT|RIGHT [COUNT count]
fn blmpop(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let timeout = parse_timeout(args.arg(1))?;
    let (keys, end, count) = parse_mpop(&args, 2)?;
    let end = parse_end(end)?;
    for key in &keys {
        if list_len(ctx, key)?.is_some() {
            let vals = pop_list(ctx, key, end, count);
            if !vals.is_empty() {
                ctx.out.array(2);
                ctx.out.bulk(key);
                ctx.out.array(vals.len());
                for v in &vals {
                    ctx.out.bulk(v);
                }
                return Ok(());
            }
        }
    }
    block(ctx, args, &keys, timeout);
    Ok(())
}

/// BZPOPMIN / BZPOPMAX key [key ...] timeout
fn bzpop_generic(ctx: &mut Ctx<'_>, args: Args<'_>, max: bool) -> CmdResult {
    let timeout = parse_timeout(args.arg(args.len() - 1))?;
    let keys: Vec<&[u8]> = args.iter().skip(1).take(args.len() - 2).collect();
    for key in &keys {
        if zset_len(ctx, key)?.is_some() {
            let popped = pop_zset(ctx, key, max, 1);
            if let Some((member, score)) = popped.first() {
                ctx.out.array(3);
                ctx.out.bulk(key);
                ctx.out.bulk(member);
                ctx.out.double(*score);
                return Ok(());
            }
        }
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
    let (keys, end, count) = parse_mpop(&args, 2)?;
    let max = if is(end, "MAX") {
        true
    } else if is(end, "MIN") {
        false
    } else {
        return Err(SYNTAX);
    };
    for key in &keys {
        if zset_len(ctx, key)?.is_some() {
            let popped = pop_zset(ctx, key, max, count);
            if !popped.is_empty() {
                ctx.out.array(2);
                ctx.out.bulk(key);
                ctx.out.array(popped.len());
                for (m, s) in &popped {
                    ctx.out.array(2);
                    ctx.out.bulk(m);
                    ctx.out.double(*s);
                }
                return Ok(());
            }
        }
    }
    block(ctx, args, &keys, timeout);
    Ok(())
}

const BLOCKING_WRITE: u32 = flags::WRITE | flags::BLOCKING;

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
