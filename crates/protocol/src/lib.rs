//! RESP2/RESP3 codec for ringkv: the request parser, argument views and the reply writer.
//!
//! This crate sits on the server's hot path (pipelined clients such as redis-benchmark), so it
//! is designed to do no per-request allocation in the common multibulk case, to keep all of its
//! buffers bounded, and to never panic on any input. It knows nothing about sockets or async
//! runtimes: the server hands it byte slices and flushes the bytes it produces. Error strings
//! and number formatting match Redis 7 byte for byte, since clients and tests compare them.
//!
//! * [`request`]: [`RequestParser`], a resumable port of Redis' multibulk/inline parsers.
//! * [`args`]: [`Args`] (zero-copy argument views) and [`OwnedArgs`].
//! * [`reply`]: [`ReplyWriter`], encoding replies for RESP2 or RESP3.
//! * [`reply_parse`]: [`parse_reply`], reading a reply back (scripts' `redis.call`).
//! * [`num`]: Redis-compatible integer/double parsing and formatting.

pub mod args;
pub mod num;
pub mod reply;
pub mod reply_parse;
pub mod request;

pub use args::{Args, ArgsIter, OwnedArgs};
pub use reply::{Deferred, Protocol, ReplyWriter};
pub use reply_parse::{parse_reply, Reply};
pub use request::{ParseLimits, ProtocolError, RequestParser};
