//! The whole keyspace: every database plus the state they share (current time, statistics,
//! eviction settings, the sampling RNG, the count of changes since the last save).
//!
//! The server keeps one `Store` behind one mutex and takes it once per batch of pipelined commands,
//! which gives Redis's semantics for free: each command (and each MULTI/EXEC block) is atomic, and
//! replies, persistence and replication see commands in one total order.

use crate::db::{Db, DbRef};
use crate::dict::Dict;
use crate::rng::Rng;
use std::sync::Arc;

/// maxmemory-policy: the configuration's enum, so the policy has one definition.
pub use ringkv_config::EvictionPolicy;

/// How the per-entry clock is kept under a policy (the part of a policy only the keyspace needs).
pub trait PolicyClock {
    fn clock_kind(self) -> crate::lru::ClockKind;
}

impl PolicyClock for EvictionPolicy {
    fn clock_kind(self) -> crate::lru::ClockKind {
        use crate::lru::ClockKind;
        match self {
            EvictionPolicy::AllKeysLfu | EvictionPolicy::VolatileLfu => ClockKind::Lfu,
            EvictionPolicy::AllKeysFifo | EvictionPolicy::VolatileFifo => ClockKind::Fifo,
            _ => ClockKind::Lru,
        }
    }
}

#[derive(Debug, Clone)]
pub struct EvictionSettings {
    /// Bytes; 0 means no limit.
    pub maxmemory: u64,
    pub policy: EvictionPolicy,
    pub samples: usize,
    pub lfu_log_factor: u32,
    /// Minutes.
    pub lfu_decay_time: u32,
}

impl Default for EvictionSettings {
    fn default() -> Self {
        EvictionSettings {
            maxmemory: 0,
            policy: EvictionPolicy::NoEviction,
            samples: 5,
            lfu_log_factor: 10,
            lfu_decay_time: 1,
        }
    }
}

/// Counters INFO reports (reset by CONFIG RESETSTAT).
#[derive(Debug, Default, Clone)]
pub struct KeyspaceStats {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub evicted_keys: u64,
    /// Expiry-cycle runs that stopped on their key budget with more keys due.
    pub expire_cycles_budget_hit: u64,
}

/// One command's counters for INFO commandstats (Redis's `cmdstat_<name>` line).
#[derive(Debug, Default, Clone)]
pub struct CommandStat {
    /// Executions (a command queued by MULTI counts when EXEC runs it).
    pub calls: u64,
    /// Microseconds spent executing.
    pub usec: u64,
    /// Refused before running (arity, authentication, memory, MISCONF ...).
    pub rejected: u64,
    /// Ran and replied with an error.
    pub failed: u64,
    /// The distribution of its execution times (`latency-tracking`), from its first call.
    pub latency: Option<crate::latency_histogram::LatencyHistogram>,
}

/// Distinct error codes INFO errorstats tracks (Redis's ERRORSTATS_LIMIT): clients choose error
/// texts only indirectly, but the table must not grow without bound.
pub const ERROR_CODES_LIMIT: usize = 128;

/// State every database operation may touch.
pub struct Common {
    /// Cached current time (unix ms), set once per command batch.
    pub now_ms: i64,
    pub stats: KeyspaceStats,
    pub eviction: EvictionSettings,
    pub rng: Rng,
    /// Changes since the last save.
    pub dirty: u64,
    /// WATCHed keys (optimistic transactions).
    pub watches: crate::watch::WatchRegistry,
    /// Keys clients are blocked on (BLPOP ...), and which of them received data.
    pub blocking: crate::watch::BlockingKeys,
    /// Keys changed while a recording runs (cluster version stamping).
    pub changes: crate::watch::ChangeRecorder,
    /// `notify-keyspace-events` flags (`ringkv_config::notify`); 0 = off.
    pub notify_flags: u32,
    /// Keyspace events raised since the server last published them.
    pub events: Vec<KeyEvent>,
    /// Write effects in execution order, for the append-only file.
    pub oplog: crate::oplog::OpLog,
    /// The running point-in-time capture (BGSAVE, BGREWRITEAOF), if any.
    pub capture: crate::capture::Capture,
    /// Per-command counters, indexed by the command layer's table index (kept here because
    /// commands run under the keyspace lock: plain additions, no atomics).
    pub command_stats: Vec<CommandStat>,
    /// Error replies by code (the first word: `ERR`, `WRONGTYPE` ...), at most
    /// `ERROR_CODES_LIMIT` codes.
    pub error_stats: std::collections::BTreeMap<String, u64>,
    /// `stream-node-max-entries` / `stream-node-max-bytes`.
    pub stream_limits: crate::types::stream::NodeLimits,
    /// The running command comes from a CLIENT NO-TOUCH client: key accesses leave the LRU/LFU
    /// clocks as they are.
    pub no_touch: bool,
}

/// A keyspace notification waiting to be published (`__keyspace@db__:key` / `__keyevent@db__:event`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyEvent {
    pub class: u32,
    pub event: &'static str,
    pub db: usize,
    pub key: Vec<u8>,
}

/// Reads the process's used memory (the server installs an allocator-backed gauge).
pub type MemoryGauge = Arc<dyn Fn() -> usize + Send + Sync>;

pub struct Store {
    dbs: Vec<Db>,
    pub common: Common,
    memory: MemoryGauge,
    pub(crate) evict_pool: crate::evict::EvictionPool,
    /// Database the active expiry cycle resumes from.
    pub(crate) expire_next_db: usize,
}

impl Store {
    pub fn new(databases: usize, seed: u64) -> Store {
        let mut seeder = Rng::new(seed);
        Store {
            dbs: (0..databases.max(1))
                .map(|_| Db::new(seeder.next_u64()))
                .collect(),
            common: Common {
                now_ms: 0,
                stats: KeyspaceStats::default(),
                eviction: EvictionSettings::default(),
                rng: Rng::new(seeder.next_u64()),
                dirty: 0,
                watches: Default::default(),
                blocking: Default::default(),
                changes: Default::default(),
                notify_flags: 0,
                events: Vec::new(),
                oplog: Default::default(),
                capture: Default::default(),
                command_stats: Vec::new(),
                error_stats: Default::default(),
                stream_limits: Default::default(),
                no_touch: false,
            },
            memory: Arc::new(|| 0),
            evict_pool: crate::evict::EvictionPool::default(),
            expire_next_db: 0,
        }
    }

    pub fn set_now(&mut self, now_ms: i64) {
        self.common.now_ms = now_ms;
    }

    pub fn now_ms(&self) -> i64 {
        self.common.now_ms
    }

    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    /// The view of database `index` (callers validate the index; SELECT does).
    pub fn db(&mut self, index: usize) -> DbRef<'_> {
        DbRef {
            index,
            db: &mut self.dbs[index],
            c: &mut self.common,
        }
    }

    /// Read-only access to a database (INFO keyspace, DBSIZE).
    pub fn db_ref(&self, index: usize) -> &Db {
        &self.dbs[index]
    }

    pub fn swap_dbs(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
        self.common.dirty += 1;
        self.common.watches.touch_db(a);
        self.common.watches.touch_db(b);
        // Clients blocked on either database may now find data there.
        for d in [a, b] {
            for key in self.common.blocking.waiting_keys(d) {
                if self.dbs[d].dict.get(&key).is_some() {
                    self.common.blocking.signal(d, &key);
                }
            }
        }
    }

    /// Empties one database; the detached entries are returned so the caller may free them on
    /// another thread (FLUSHDB ASYNC) or just drop them.
    pub fn flush_db(&mut self, index: usize) -> Dict {
        self.common.dirty += self.dbs[index].len() as u64;
        self.common.watches.touch_db(index);
        let db = &mut self.dbs[index];
        let dict = db.take_all();
        if self.common.capture.is_active() && !db.capture.done {
            // A running capture still needs these entries: hand it the whole dict (it frees it).
            self.common.capture.detached.push((db.capture.origin, dict));
            db.capture.done = true;
            return Dict::new(0);
        }
        dict
    }

    pub fn flush_all(&mut self) -> Vec<Dict> {
        (0..self.dbs.len()).map(|i| self.flush_db(i)).collect()
    }

    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(|d| d.len()).sum()
    }

    pub fn set_memory_gauge(&mut self, gauge: MemoryGauge) {
        self.memory = gauge;
    }

    pub fn memory_gauge(&self) -> MemoryGauge {
        self.memory.clone()
    }

    pub fn used_memory(&self) -> usize {
        (self.memory)()
    }

    /// Moves some rehash work forward in every database (called from the idle-time cron).
    /// Returns whether any database is still resizing.
    pub fn rehash_idle(&mut self, buckets_per_db: usize) -> bool {
        let mut more = false;
        for db in &mut self.dbs {
            more |= db.dict.rehash(buckets_per_db);
        }
        more
    }

    pub(crate) fn dbs_mut(&mut self) -> (&mut Vec<Db>, &mut Common) {
        (&mut self.dbs, &mut self.common)
    }
}
