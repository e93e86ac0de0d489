//! The registry of connected clients, for CLIENT LIST/INFO/KILL and INFO clients.
//!
//! Each connection owns its `Client` (hot, unshared state) and publishes a `ClientHandle` here with
//! the fields other connections may read. Handles are updated once per command batch, not per
//! command, so the registry costs nothing on the pipelined hot path.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// Fields of a connection that CLIENT LIST shows and that can change while it lives.
#[derive(Debug, Default, Clone)]
pub struct ClientMeta {
    pub name: Option<Vec<u8>>,
    pub lib_name: Option<Vec<u8>>,
    pub lib_ver: Option<Vec<u8>>,
    pub last_command: &'static str,
    pub in_multi: bool,
    pub subscriptions: usize,
    pub pattern_subscriptions: usize,
    pub shard_subscriptions: usize,
    pub blocked: bool,
    pub query_buffer: usize,
    pub output_buffer: usize,
}

#[derive(Debug)]
pub struct ClientHandle {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub created_ms: i64,
    pub last_interaction_ms: AtomicI64,
    pub db: AtomicUsize,
    pub resp: AtomicU8,
    pub no_evict: AtomicBool,
    /// CLIENT NO-TOUCH: the client's commands (except TOUCH) leave LRU/LFU clocks alone.
    pub no_touch: AtomicBool,
    pub meta: Mutex<ClientMeta>,
    killed: AtomicBool,
    kill_signal: Notify,
}

impl ClientHandle {
    /// A new connection's handle, as `ClientRegistry::register` publishes it.
    fn new(id: u64, addr: String, laddr: String, now_ms: i64) -> ClientHandle {
        ClientHandle {
            id,
            addr,
            laddr,
            created_ms: now_ms,
            last_interaction_ms: AtomicI64::new(now_ms),
            db: AtomicUsize::new(0),
            resp: AtomicU8::new(2),
            no_evict: AtomicBool::new(false),
            no_touch: AtomicBool::new(false),
            meta: Mutex::new(ClientMeta {
                last_command: "NULL",
                ..ClientMeta::default()
            }),
            killed: AtomicBool::new(false),
            kill_signal: Notify::new(),
        }
    }

    /// A handle for commands run without a connection (AOF replay); id 0, not registered.
    pub fn internal(name: &str) -> ClientHandle {
        ClientHandle {
            no_evict: AtomicBool::new(true),
            no_touch: AtomicBool::new(false),
            meta: Mutex::new(ClientMeta::default()),
            ..ClientHandle::new(0, name.to_string(), String::new(), 0)
        }
    }

    /// Asks the connection to close (CLIENT KILL, timeout, shutdown).
    pub fn kill(&self) {
        self.killed.store(true, Ordering::SeqCst);
        self.kill_signal.notify_one();
    }

    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::SeqCst)
    }

    /// Resolves when `kill` is called (the connection selects on it).
    pub async fn killed(&self) {
        if self.is_killed() {
            return;
        }
        self.kill_signal.notified().await;
    }
}

#[derive(Default)]
pub struct ClientRegistry {
    next_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
}

impl ClientRegistry {
    pub fn register(&self, addr: String, laddr: String, now_ms: i64) -> Arc<ClientHandle> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let handle = Arc::new(ClientHandle::new(id, addr, laddr, now_ms));
        self.clients.lock().insert(id, handle.clone());
        handle
    }

    pub fn unregister(&self, id: u64) {
        self.clients.lock().remove(&id);
    }

    pub fn len(&self) -> usize {
        self.clients.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.clients.lock().get(&id).cloned()
    }

    /// A snapshot of all handles in id order.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Kills every client (shutdown).
    pub fn kill_all(&self) {
        for c in self.all() {
            c.kill();
        }
    }
}

/// One line of CLIENT LIST / CLIENT INFO, in Redis's field order.
pub fn describe(c: &ClientHandle, now_ms: i64, flags_extra: &str) -> String {
    let meta = c.meta.lock().clone();
    let age = (now_ms - c.created_ms).max(0) / 1000;
    let idle = (now_ms - c.last_interaction_ms.load(Ordering::Relaxed)).max(0) / 1000;
    let mut flags = String::new();
    if meta.in_multi {
        flags.push('x');
    }
    if meta.blocked {
        flags.push('b');
    }
    if meta.subscriptions + meta.pattern_subscriptions + meta.shard_subscriptions > 0 {
        flags.push('P');
    }
    if c.no_evict.load(Ordering::Relaxed) {
        flags.push('e');
    }
    if c.no_touch.load(Ordering::Relaxed) {
        flags.push('T');
    }
    flags.push_str(flags_extra);
    if flags.is_empty() {
        flags.push('N');
    }
    let name = meta
        .name
        .as_deref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let lib_name = meta
        .lib_name
        .as_deref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    let lib_ver = meta
        .lib_ver
        .as_deref()
        .map(|n| String::from_utf8_lossy(n).into_owned())
        .unwrap_or_default();
    format!(
        "id={} addr={} laddr={} fd=-1 name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} qbuf={} qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem={} tot-mem=0 events=r cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        c.id,
        c.addr,
        c.laddr,
        name,
        age,
        idle,
        flags,
        c.db.load(Ordering::Relaxed),
        meta.subscriptions,
        meta.pattern_subscriptions,
        meta.shard_subscriptions,
        if meta.in_multi { 0 } else { -1 },
        meta.query_buffer,
        meta.output_buffer,
        meta.last_command,
        c.resp.load(Ordering::Relaxed),
        lib_name,
        lib_ver,
    )
}
