//! Node-to-node plumbing for a ringkv cluster: an RPC transport that moves
//! opaque byte payloads between nodes ([`transport`]) and SWIM-style
//! membership with failure detection ([`membership`]). This crate knows
//! nothing of RESP or of the keyspace.
//!
//! # Transport wire format
//!
//! Every TCP connection opens with a handshake, sent by both sides: the
//! magic bytes `RKVP` followed by the protocol version as a big-endian
//! `u16`. The server always answers with its own version, then closes the
//! connection if the versions differ, so the client can report
//! [`PeerError::VersionMismatch`]; a later rolling upgrade can negotiate on
//! this exchange. Bad magic closes the connection without an answer.
//!
//! After the handshake both directions carry frames:
//!
//! ```text
//! u32 length (big endian, counts the bytes after itself)
//! u64 request id
//! u8  kind (0 = request, 1 = response, 2 = response too large)
//! payload (length - 9 bytes)
//! ```
//!
//! One connection per peer address carries many concurrent requests; each
//! response is matched to its request by id. The server runs every request's
//! handler as its own task and writes responses in completion order, so a
//! slow request does not hold back the others. Each connection has a reader
//! task and a writer task; the writer drains everything queued before it
//! writes, so a burst of small frames costs one write system call. A frame
//! larger than [`PeerConfig::max_frame_bytes`] (64 MiB by default) is refused
//! before its buffer is allocated and closes that connection only. A broken
//! connection fails its pending requests with [`PeerError::Closed`] and is
//! re-established by the next request.
//!
//! # Membership
//!
//! Membership runs the SWIM protocol (probe, indirect probe, suspicion,
//! piggybacked gossip) over UDP on the same port number as the TCP peer
//! port. Each node's SWIM identity carries its [`NodeMeta`] (id, addresses,
//! zone, weight, declared state, snowflake worker claim) plus a generation: changing the metadata or
//! restarting bumps the generation, and the identity with the higher
//! generation wins wherever two share a peer address, so a restarted node is
//! seen as the same node, alive again. The table exposed by
//! [`Membership::members`] is keyed by node id; the newest generation wins.
//! Nodes periodically re-announce themselves to seeds that are not current
//! members, so nodes started in any order find each other and a healed
//! partition re-merges. [`Membership::shutdown`] stops gossiping: the others
//! mark the node down and keep it, so a restart comes back as the same
//! member. [`Membership::leave`] first announces the state `left`, so the
//! others drop the node instead of marking it down.
//!
//! The SWIM state machine is [foca](https://docs.rs/foca), which is sans-IO:
//! it never reads a clock, never touches a socket and takes its random number
//! generator from the caller. All of its time and randomness flow through
//! one small module (`driver`), seeded from [`MembershipConfig::seed`], so a
//! deterministic simulator can drive it: with [`Net::Sim`] (feature `sim`)
//! every socket of this crate is turmoil's, see [`net`]. foca builds quickly with no C
//! dependencies and lets a custom identity type carry zone, weight and state.
//! chitchat was the alternative; it needs a zstd C build and draws from an
//! unseeded RNG, which rules out reproducible simulation.

mod driver;
pub mod membership;
pub mod net;
pub mod transport;

pub use membership::{
    Member, Membership, MembershipConfig, MembershipStats, NodeMeta, NodeState, WorkerClaim,
};
pub use net::Net;
pub use transport::{
    Handler, PeerClient, PeerConfig, PeerError, PeerServer, PeerStats, PROTOCOL_VERSION,
};
