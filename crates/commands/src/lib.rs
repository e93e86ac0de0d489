//! ringkv's commands: the command table, the gate every command passes, and one module per command
//! family executing against the keyspace engine.
//!
//! Everything here is synchronous. A connection (in the server crate) parses requests, takes the
//! keyspace lock once per batch, calls `dispatch::execute` for each request and writes the replies
//! the handlers encoded. Handlers never do I/O; what needs the network (closing, blocking) is asked
//! of the connection through `Client::action`. The exceptions are persistence's own threads
//! (`aof`, `bgsave`, `loading`), which the server starts and which share state through `Shared`.

pub mod aof;
pub mod bgsave;
pub mod bits;
pub mod blocking;
pub mod clients;
pub mod cluster;
pub mod connection;
pub mod cpu_affinity;
pub mod ctx;
pub mod dispatch;
pub mod dump;
pub mod error;
pub mod event_loop;
pub mod geo;
mod geohash;
pub mod hash;
mod hll;
pub mod hyperloglog;
pub mod ids;
pub mod info;
pub mod introspection;
pub mod keys;
pub mod latency;
pub mod list;
pub mod loading;
mod lua;
pub mod metrics;
pub mod monitor;
pub mod parse;
pub mod pause;
pub mod persistence;
pub mod pubsub;
pub mod ratelimit;
pub mod scripting;
pub mod server;
pub mod set;
pub mod shared;
pub mod shared_args;
pub mod slowlog;
pub mod sort;
pub mod stream;
pub mod stream_group;
pub mod stream_info;
pub mod stream_read;
pub mod strings;
pub mod table;
pub mod transactions;
mod typed;
pub mod zset;

pub use ctx::{Action, Client, Ctx};
pub use dispatch::execute;
pub use error::{CmdError, CmdResult};
pub use shared::{ServerInfo, Shared};
pub use table::{CommandSpec, CommandTable};

/// Every command family, in COMMAND LIST order.
pub fn command_table() -> CommandTable {
    CommandTable::new(&[
        connection::COMMANDS,
        server::COMMANDS,
        slowlog::COMMANDS,
        latency::COMMANDS,
        monitor::COMMANDS,
        keys::COMMANDS,
        dump::COMMANDS,
        strings::COMMANDS,
        bits::COMMANDS,
        hyperloglog::COMMANDS,
        hash::COMMANDS,
        set::COMMANDS,
        list::COMMANDS,
        zset::COMMANDS,
        geo::COMMANDS,
        sort::COMMANDS,
        stream::COMMANDS,
        stream_read::COMMANDS,
        stream_group::COMMANDS,
        stream_info::COMMANDS,
        transactions::COMMANDS,
        pubsub::COMMANDS,
        ratelimit::COMMANDS,
        ids::COMMANDS,
        blocking::COMMANDS,
        persistence::COMMANDS,
        scripting::COMMANDS,
        cluster::COMMANDS,
    ])
}
