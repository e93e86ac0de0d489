//! `ClusterRpc`: the messages nodes exchange on the peer port, and their encoding.
//!
//! Every message is one version byte followed by the postcard encoding of the enum. A node
//! answers a request whose version it does not know with `ClusterReply::Error`, so a later
//! version can add messages and fall back when talking to an older node during a rolling
//! upgrade. The transport below (framing, request ids, connection reuse, timeouts) is
//! `ringkv_peer`'s; this module knows only what the messages mean.

use super::antientropy::{KeyDigest, Leaf};
use super::state::KeyState;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// Version byte of every encoded message.
pub const RPC_VERSION: u8 = 1;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ClusterRpc {
    /// Coordinate these commands here (the sender is not the right coordinator): a write at its
    /// primary, a read at a replica. Replies come back RESP-encoded for the client's protocol.
    Forward {
        resp3: bool,
        /// Per-connection overrides (0 = the node's configured quorum).
        read_quorum: u8,
        write_quorum: u8,
        /// Times this request was already forwarded (bounded so views that disagree for a
        /// moment cannot bounce it around).
        hops: u8,
        /// A transaction's WATCHed keys with the contexts they must still have.
        watched: Vec<(Bytes, Bytes)>,
        /// One command, or a whole MULTI ... EXEC transaction.
        commands: Vec<Vec<Bytes>>,
    },
    /// Merge these key states (replication of a write, read repair, handoff).
    Apply { states: Vec<KeyState> },
    /// The causal context of each key (a read's digest round).
    Digest { keys: Vec<Bytes> },
    /// The full state of each key.
    Fetch { keys: Vec<Bytes> },
    /// Keys held here that match a glob pattern and that this node is the first live owner of.
    Keys { pattern: Bytes },
    /// How many keys this node is the first live owner of.
    DbSize,
    /// One page of a cluster-wide SCAN over this node's keys (first live owner only).
    Scan {
        cursor: u64,
        pattern: Option<Bytes>,
        count: u64,
        type_name: Option<Bytes>,
    },
    /// FLUSHALL / FLUSHDB with their arguments.
    Flush { args: Vec<Bytes> },
    /// The fingerprint of the sender's view as the receiver sees it (`Count`): a joining or
    /// leaving node waits until every node answers with its own.
    ViewCheck,
    /// One page of the versioned states of the keys in `partitions` held here, from a SCAN
    /// cursor of the metadata database (a gainer pulling partitions; `StatePage`).
    PartitionStates { partitions: Vec<u32>, cursor: u64 },
    /// PUBLISH with its arguments, delivered to this node's subscribers only (`Count` of
    /// receivers).
    Publish { args: Vec<Bytes> },
    /// Pull these partitions from their current owners (sent by a leaving node to the nodes
    /// that inherit its partitions); answered with the keys moved (`Count`) when done.
    Handoff { partitions: Vec<u32> },
    /// Keep these states for `target` (a node id), which is down: this node is a fallback of a
    /// sloppy quorum and delivers them when `target` is back (`Applied` with the count kept).
    Hint { target: u64, states: Vec<KeyState> },
    /// Anti-entropy, first round: build this node's Merkle tree over `partitions` (sorted, all
    /// owned here) and keep it for the rest of exchange `exchange`; answered with its root and
    /// branch hashes (`TreeBranches`).
    TreeBranches { exchange: u64, partitions: Vec<u32> },
    /// Anti-entropy, second round: the leaves under these branches of the tree kept for
    /// `exchange` (`TreeLeaves`).
    TreeLeaves { exchange: u64, branches: Vec<u32> },
    /// Anti-entropy, third round: one page of the (key, hash) digests of the keys in
    /// `partitions` held here, from a SCAN cursor of the metadata database (`KeyDigests`).
    KeyDigests { partitions: Vec<u32>, cursor: u64 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ClusterReply {
    Replies(Vec<Bytes>),
    Applied { changed: u32 },
    Contexts(Vec<Bytes>),
    States(Vec<KeyState>),
    Keys(Vec<Bytes>),
    Count(u64),
    ScanPage { cursor: u64, keys: Vec<Bytes> },
    Error(String),
    StatePage { cursor: u64, states: Vec<KeyState> },
    TreeBranches { root: u64, branches: Vec<u64> },
    TreeLeaves(Vec<Leaf>),
    KeyDigests { cursor: u64, keys: Vec<KeyDigest> },
}

pub fn encode<T: Serialize>(msg: &T) -> Bytes {
    let mut out = vec![RPC_VERSION];
    match postcard::to_extend(msg, out) {
        Ok(v) => out = v,
        Err(_) => out = vec![RPC_VERSION],
    }
    Bytes::from(out)
}

pub fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Result<T, String> {
    match bytes.split_first() {
        Some((&RPC_VERSION, body)) => postcard::from_bytes(body).map_err(|e| e.to_string()),
        Some((v, _)) => Err(format!("unsupported cluster message version {v}")),
        None => Err("empty cluster message".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_garbage() {
        let m = ClusterRpc::Digest {
            keys: vec![Bytes::from_static(b"a"), Bytes::from_static(b"")],
        };
        let back: ClusterRpc = decode(&encode(&m)).unwrap();
        assert!(matches!(back, ClusterRpc::Digest { keys } if keys.len() == 2));
        let page = ClusterReply::KeyDigests {
            cursor: 7,
            keys: vec![KeyDigest::of(b"k", b"meta")],
        };
        let back: ClusterReply = decode(&encode(&page)).unwrap();
        assert!(matches!(back, ClusterReply::KeyDigests { cursor: 7, keys } if keys[0].key == "k"));
        let leaves = ClusterReply::TreeLeaves(vec![Leaf { keys: 3, sum: 9 }]);
        let back: ClusterReply = decode(&encode(&leaves)).unwrap();
        assert!(matches!(back, ClusterReply::TreeLeaves(l) if l == [Leaf { keys: 3, sum: 9 }]));
        assert!(decode::<ClusterRpc>(&[]).is_err());
        assert!(decode::<ClusterRpc>(&[9, 1, 2]).is_err());
        for n in 0..64u8 {
            let junk: Vec<u8> = (0..n).map(|i| i.wrapping_mul(37) ^ n).collect();
            let mut msg = vec![RPC_VERSION];
            msg.extend_from_slice(&junk);
            let _ = decode::<ClusterRpc>(&msg);
        }
    }
}
