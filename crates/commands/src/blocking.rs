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
