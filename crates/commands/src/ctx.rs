//! What a command handler works with: the locked keyspace, the shared server state, the calling
//! client's own state and the reply buffer.

use crate::clients::ClientHandle;
use crate::shared::Shared;
use ringkv_engine::{DbRef, Store};
use ringkv_protocol::ReplyWriter;
use std::sync::Arc;

/// Something a handler asks the connection loop to do after the reply is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Close the connection after flushing replies (QUIT, CLIENT KILL of self).
    Close,
}

/// Per-connection state owned by the connection task.
pub struct Client {
    pub handle: Arc<ClientHandle>,
    /// Selected database.
    pub db: usize,
    pub authenticated: bool,
    /// Set by a handler; consumed by the connection loop after the batch.
    pub action: Option<Action>,
    /// Whether errors of this client were already counted (INFO errorstats-lite).
    pub errors: u64,
}

impl Client {
    pub fn new(handle: Arc<ClientHandle>, authenticated: bool) -> Client {
        Client {
            handle,
            db: 0,
            authenticated,
            action: None,
            errors: 0,
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
