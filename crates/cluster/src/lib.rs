//! Cluster placement and causality for ringkv as a Dynamo-style cluster.
//!
//! * [`ring`]: keys to fixed partitions (xxh3 of the Redis Cluster hash tag)
//!   and partitions to preference lists of replica nodes, by weighted,
//!   zone-aware rendezvous hashing with minimal movement on membership
//!   changes ([`Ring`], [`moved`]).
//! * [`version`]: version vectors with one actor per replica node and
//!   [`Versioned`] values that keep concurrent writes as siblings, with a
//!   compact binary encoding and an opaque client token for contexts.
//! * [`node`]: the [`NodeId`] naming both a ring member and a vector actor.
//!
//! Everything here is pure, synchronous and deterministic: no I/O, no clocks
//! (timestamps are passed in), no randomness, and hashing that is stable
//! across processes, platforms and versions, because every node must compute
//! the same ring and decode the same bytes.

pub mod error;
pub mod node;
pub mod ring;
pub mod version;

pub use error::{Error, Result};
pub use node::NodeId;
pub use ring::{
    hash_tag, key_hash, moved, stable_hash, PartitionChange, Ring, RingDiff, RingNode,
    DEFAULT_PARTITION_BITS, MAX_PARTITION_BITS,
};
pub use version::{
    context_from_token, context_to_token, decode_context, decode_versioned, decode_versioned_with,
    encode_context, encode_versioned, encode_versioned_with, Causality, Dot, Sibling,
    VersionVector, Versioned, FORMAT_VERSION,
};
