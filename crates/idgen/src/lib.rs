//! Deterministic, sortable ID generation for ringkv's ID commands.
//!
//! Three families, each a pure function of its inputs:
//!
//! * [`Generator`]: Snowflake-style 63-bit IDs (timestamp, datacenter, worker,
//!   sequence) with a configurable [`Layout`], strictly increasing per
//!   generator, with explicit handling of sequence exhaustion, clock steps
//!   back and restarts ([`Generator::restore_high_water`]).
//! * [`Ulid`] / [`ulid`]: 128-bit ULIDs, monotonic within a millisecond as the
//!   ULID spec's monotonic factory.
//! * [`uuid_v7`]: RFC 9562 UUIDv7, monotonic with a 12-bit counter in
//!   `rand_a` (method 1 of §6.2).
//!
//! This crate never reads a clock or a random source and does no I/O: the
//! server passes the time (`now_ms`, milliseconds since the Unix epoch) and
//! random bytes in, while holding the keyspace lock. That keeps generation
//! reproducible for replication and testable with an injected clock, and puts
//! the decision of *how* to wait (sleep, retry later, reply with an error) in
//! the server, which is the only part that knows whether it may block.

mod snowflake;
mod ulid;
mod uuid7;

use thiserror::Error;

pub use snowflake::{parse, Generator, Layout, Next, Parts, DEFAULT_EPOCH_MS, ID_BITS};
pub use ulid::{ulid, Ulid, ULID_MAX_TIMESTAMP_MS, ULID_RANDOM_BITS};
pub use uuid7::{format_uuid, parse_uuid, uuid_v7, uuid_v7_timestamp_ms, UUID_MAX_TIMESTAMP_MS};

/// Why an ID could not be produced, or a layout or text not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum IdError {
    /// The [`Layout`] is unusable; the text says why.
    #[error("invalid ID layout: {0}")]
    InvalidLayout(&'static str),
    /// The datacenter number does not fit in the layout's datacenter bits.
    #[error("datacenter {value} does not fit in {bits} bits")]
    DatacenterOutOfRange { value: u64, bits: u8 },
    /// The worker number does not fit in the layout's worker bits.
    #[error("worker {value} does not fit in {bits} bits")]
    WorkerOutOfRange { value: u64, bits: u8 },
    /// The clock is further behind the last issued timestamp than the
    /// generator tolerates.
    #[error("clock moved backwards by {by_ms} ms")]
    ClockMovedBackwards { by_ms: u64 },
    /// The clock is before the layout's epoch.
    #[error("clock {now_ms} is before the ID epoch {epoch_ms}")]
    BeforeEpoch { now_ms: u64, epoch_ms: u64 },
    /// The timestamp does not fit in the ID's timestamp bits.
    #[error("timestamp {now_ms} is beyond the last representable millisecond {max_ms}")]
    TimestampOverflow { now_ms: u64, max_ms: u64 },
    /// Every ID of this millisecond has been issued (ULID random part
    /// overflow); retry at `wait_until_ms`.
    #[error("IDs for this millisecond are exhausted; wait until {wait_until_ms}")]
    Exhausted { wait_until_ms: u64 },
    /// Text that is not a ULID.
    #[error("invalid ULID: {0}")]
    InvalidUlid(&'static str),
    /// Text that is not a hyphenated UUID.
    #[error("invalid UUID: {0}")]
    InvalidUuid(&'static str),
}
