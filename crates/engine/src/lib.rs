//! ringkv's keyspace engine: synchronous, deterministic, no I/O.
//!
//! It owns the databases and their entries, expiry (lazy on access plus an active cycle over a
//! deadline-ordered index), `maxmemory` eviction under every Redis policy plus FIFO, and the
//! value types. Time and randomness come from the caller (`Store::set_now`, a seed), so the same code
//! runs in the server, in property tests and under deterministic simulation.
//!
//! Layering: commands execute against `Store`/`DbRef`; nothing here knows sockets or config
//! files. The one piece of RESP is the operation log (`oplog`), which records write effects in
//! the AOF's format under the same lock that orders them.

pub mod buckets;
pub mod capture;
pub mod clock;
pub mod db;
mod dict;
pub mod entry;
pub mod evict;
pub mod expire;
pub mod expire_index;
pub mod glob;
pub mod latency_histogram;
pub mod lru;
pub mod oplog;
pub mod rng;
pub mod store;
pub mod types;
pub mod value;
pub mod watch;

pub use capture::{Capture, Preserved};
pub use clock::{Clock, ManualClock, SystemClock};
pub use db::{Db, DbRef, Detached, EntryMut, Ttl, WrongType};
pub use dict::Dict;
pub use entry::{Entry, ValueRef, INLINE_STRING_MAX};
pub use evict::OutOfMemory;
pub use expire::ExpireCycleReport;
pub use glob::glob_match;
pub use oplog::{encode_command, CommandEncoder, OpLog};
pub use rng::Rng;
pub use store::{
    CommandStat, Common, EvictionPolicy, EvictionSettings, KeyEvent, KeyspaceStats, MemoryGauge,
    PolicyClock, Store, ERROR_CODES_LIMIT,
};
pub use types::{HashValue, ListValue, SetValue, StreamValue, ZSetValue};
pub use value::Value;
pub use watch::{BlockingKeys, DbKey, WatchRegistry};
