//! What a command handler works with: the locked keyspace, the shared server state, the calling
//! client's own state and the reply buffer.

use crate::clients::ClientHandle;
use crate::pubsub::{PushLink, Subscriptions};
use crate::shared::Shared;
use crate::transactions::MultiState;
use ringkv_engine::{DbKey, DbRef, Store};
use ringkv_protocol::ReplyWriter;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// Something a handler asks the connection loop to do after the reply is written.
#[derive(Debug)]
pub enum Action {
    /// Close the connection after flushing replies (QUIT, CLIENT KILL of self).
    Close,
    /// Wait for a blocking command's reply (or its timeout) before reading more requests.
    Block(crate::blocking::BlockWait),
}

/// Per-connection state owned by the connection task.
pub struct Client {
    pub handle: Arc<ClientHandle>,
    /// Selected database.
    pub db: usize,
    pub authenticated: bool,
    /// Set by a handler; consumed by the connection loop after the batch.
    pub action: Option<Action>,
    /// Error replies sent to this client.
    pub errors: u64,
    /// Commands queued by MULTI, if in a transaction.
    pub multi: Option<MultiState>,
    /// Keys this client WATCHes.
    pub watched: Vec<DbKey>,
    /// Set by the keyspace when a watched key changes.
    pub watch_dirty: Arc<AtomicBool>,
    /// True while EXEC runs the queued commands (blocking commands then do not block).
    pub in_exec: bool,
    /// Channel and pattern subscriptions.
    pub subs: Subscriptions,
    /// How published messages reach this connection.
    pub push: Arc<PushLink>,
    /// True while the server re-runs this client's parked blocking request.
    pub serving_blocked: bool,
    /// Set by a re-run blocking request that still found nothing.
    pub still_blocked: bool,
    /// `CLIENT CONSISTENCY` overrides of the cluster's read and write quorums (None = default).
    pub read_quorum: Option<ringkv_config::Quorum>,
    pub write_quorum: Option<ringkv_config::Quorum>,
    /// Cluster mode WATCH: each watched key with its causal context (encoded) as its primary
    /// saw it; EXEC runs only if the primary still has exactly these.
    pub cluster_watch: Vec<(Vec<u8>, Vec<u8>)>,
    /// In MONITOR mode: the connection receives the command feed through `push`.
    pub monitoring: bool,
    /// CLIENT REPLY: which replies the connection drops.
    pub reply: ReplyMode,
}

/// CLIENT REPLY ON | OFF | SKIP: the connection loop drops the replies this says to drop, after
/// each command (see [`ReplyMode::after_command`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ReplyMode {
    #[default]
    On,
    /// Every reply is dropped until CLIENT REPLY ON (pushes, i.e. subscription confirmations and
    /// published messages, still go out, as in Redis 7).
    Off,
    /// Set by CLIENT REPLY SKIP: its own reply is dropped, and then the next command's.
    SkipNext,
    /// The reply of the command running now is dropped.
    Skip,
}

impl ReplyMode {
    /// After a command ran: whether its reply is dropped, and the mode for the next command.
    pub fn after_command(self) -> (bool, ReplyMode) {
        match self {
            ReplyMode::On => (false, ReplyMode::On),
            ReplyMode::Off => (true, ReplyMode::Off),
            ReplyMode::SkipNext => (true, ReplyMode::Skip),
            ReplyMode::Skip => (true, ReplyMode::On),
        }
    }
}

impl Client {
    /// An authenticated client for work the server does on its own behalf (AOF replay, cluster
    /// coordination, metrics): no connection behind it, so nothing pushed to it goes anywhere.
    pub fn internal(name: &str) -> Client {
        let handle = Arc::new(ClientHandle::internal(name));
        let (push, _) = PushLink::new(handle.clone());
        Client::new(handle, true, push)
    }

    pub fn new(handle: Arc<ClientHandle>, authenticated: bool, push: Arc<PushLink>) -> Client {
        Client {
            handle,
            db: 0,
            authenticated,
            action: None,
            errors: 0,
            multi: None,
            watched: Vec::new(),
            watch_dirty: Arc::new(AtomicBool::new(false)),
            in_exec: false,
            subs: Subscriptions::default(),
            push,
            serving_blocked: false,
            still_blocked: false,
            read_quorum: None,
            write_quorum: None,
            cluster_watch: Vec::new(),
            monitoring: false,
            reply: ReplyMode::On,
        }
    }
}

pub struct Ctx<'a> {
    pub store: &'a mut Store,
    pub shared: &'a Shared,
    pub client: &'a mut Client,
    pub out: &'a mut ReplyWriter,
}

impl<'a> Ctx<'a> {
    /// The client's selected database.
    pub fn db(&mut self) -> DbRef<'_> {
        self.store.db(self.client.db)
    }

    pub fn now_ms(&self) -> i64 {
        self.store.now_ms()
    }
}
