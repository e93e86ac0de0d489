//! Errors of the cluster crate: everything that can go wrong when parsing a
//! node id or decoding a context, token or versioned value received from a
//! peer or a client.
//!
//! Invariant: decoding never panics on any input; every rejection is one of
//! these variants, so a corrupt or hostile message costs one error reply and
//! nothing else.

use thiserror::Error;

/// Why text or bytes were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// A node id must be exactly 16 lowercase hex digits.
    #[error("invalid node id: {0}")]
    InvalidNodeId(&'static str),
    /// The input ended in the middle of a field.
    #[error("truncated input")]
    Truncated,
    /// The first byte names a format this build does not know.
    #[error("unsupported encoding format version {0}")]
    UnsupportedFormat(u8),
    /// A varint beyond `u64::MAX`, or not in its shortest form (so every
    /// value has exactly one encoding).
    #[error("invalid varint")]
    InvalidVarint,
    /// Bytes were left after a complete value.
    #[error("{0} trailing bytes after the encoded value")]
    TrailingBytes(usize),
    /// The version vector breaks an invariant; the text says which.
    #[error("invalid version vector: {0}")]
    InvalidContext(&'static str),
    /// The siblings break an invariant; the text says which.
    #[error("invalid siblings: {0}")]
    InvalidSiblings(&'static str),
    /// A context token is not an even-length hex string.
    #[error("invalid context token: {0}")]
    InvalidToken(&'static str),
    /// A value decoder rejected a value's bytes.
    #[error("invalid value: {0}")]
    InvalidValue(String),
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
