//! The partition ring: which nodes hold which keys.
//!
//! The key space is cut into `2^partition_bits` fixed partitions (the top bits
//! of a key's xxh3 hash, after Redis Cluster's hash-tag rule); only the
//! partition-to-node map changes when the membership changes, so a rebalancer
//! moves whole partitions and every node computes the same map from the same
//! member list. Each partition has a preference list of distinct nodes chosen
//! by weighted rendezvous (highest random weight) hashing, made zone-aware.
//!
//! Invariants:
//! * [`Ring::new`] is a pure function of the *set* of nodes, the replica count
//!   and the partition bits: input order never matters, and the hashing and
//!   arithmetic are chosen to give bit-identical results on every platform.
//! * Every preference list holds `min(replicas, nodes with weight > 0)`
//!   distinct nodes; the first is the partition's primary.
//! * When there are at least as many zones as replicas, a list never repeats a
//!   zone; with fewer zones, every zone holds at least one replica.
//! * Adding a node only moves partition replicas *to* that node and removing
//!   one only moves replicas *away* from it; no replica moves between two
//!   nodes that are members of both rings.
//!
//! Weights are exact for the primary (one replica): a node's expected share of
//! primaries is its weight over the total. With N > 1 the preference list is a
//! weighted draw *without replacement*, which pulls shares towards equal (4
//! nodes weighted 1, 1, 1, 2 with N = 3: the heavy node holds 30% of the
//! replicas against a capped ideal of 33%; see `bench/RING.md`). A node can
//! never hold more than 1/N of the replicas, since it holds a partition once.

use std::collections::BTreeSet;

use xxhash_rust::xxh3::xxh3_64;

use crate::node::NodeId;

/// Partition bits used when the configuration does not choose: 4096
/// partitions. Measured in `bench/RING.md` with 3 replicas: at 50 nodes the
/// fullest node holds 1.13× the mean (1024 partitions: 1.38×, 256: 1.63×),
/// and at 10 nodes 1.04× (1024: 1.13×). 16384 partitions would only improve
/// that to 1.07× while quadrupling the owner table and every per-partition
/// structure a node keeps (sync trees, transfer state); 4096 × 3 ids is
/// 96 KiB, and a partition (1/4096 of the data) stays a convenient unit to
/// move.
pub const DEFAULT_PARTITION_BITS: u32 = 12;

/// The largest accepted `partition_bits` (about one million partitions);
/// beyond it the owner table costs more than it buys in balance.
pub const MAX_PARTITION_BITS: u32 = 20;

/// The part of `key` that is hashed, by Redis Cluster's hash-tag rule.
///
/// If the key contains a `{` and a `}` after it with at least one byte in
/// between the first `{` and the first `}` following it, only those bytes are
/// hashed, so `{user:1}.name` and `{user:1}.mail` share a partition. Otherwise
/// (no `{`, no `}` after it, or `{}` empty) the whole key is hashed.
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        let rest = &key[open + 1..];
        if let Some(close) = rest.iter().position(|&b| b == b'}') {
            if close > 0 {
                return &rest[..close];
            }
        }
    }
    key
}

/// xxh3_64 (no seed) of `bytes`: stable across builds and platforms, so nodes can compare
/// hashes of what they computed.
pub fn stable_hash(bytes: &[u8]) -> u64 {
    xxh3_64(bytes)
}

/// The stable 64-bit hash of a key: xxh3_64 (no seed) of its [`hash_tag`].
pub fn key_hash(key: &[u8]) -> u64 {
    xxh3_64(hash_tag(key))
}

/// One member of a ring as given to [`Ring::new`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RingNode {
    /// The node's identity.
    pub id: NodeId,
    /// Relative capacity; a node's expected share grows with its weight, and
    /// weight 0 means it holds nothing (a node being drained).
    pub weight: u32,
    /// Failure domain (rack, availability zone); replicas of a partition are
    /// spread over distinct zones when there are enough of them.
    pub zone: String,
}

impl RingNode {
    /// A node with the given id, weight and zone.
    pub fn new(id: NodeId, weight: u32, zone: impl Into<String>) -> Self {
        RingNode {
            id,
            weight,
            zone: zone.into(),
        }
    }
}

/// The partition-to-nodes map of one cluster membership.
#[derive(Clone, Debug, PartialEq)]
pub struct Ring {
    /// Members sorted by id, one entry per id.
    nodes: Vec<RingNode>,
    replicas: usize,
    partition_bits: u32,
    /// Length of every preference list: `min(replicas, nodes with weight > 0)`.
    width: usize,
    /// Preference lists, `width` entries per partition, partition-major.
    owners: Vec<NodeId>,
}

/// A deterministic natural logarithm for `x` in `(0, 1]`.
///
/// `f64::ln` comes from the platform's math library and is not required to be
/// correctly rounded, so two nodes on different platforms could disagree in
/// the last bit and, rarely, rank two nodes differently: the ring would then
/// differ between members. This version uses only IEEE-754 basic operations
/// (exactly rounded everywhere, and Rust never fuses them), so every platform
/// gets the same bits.
fn ln_det(x: f64) -> f64 {
    const LN2: f64 = std::f64::consts::LN_2;
    const SQRT2: f64 = std::f64::consts::SQRT_2;
    // x = m * 2^e with m in [1, 2); inputs here are normal and positive.
    let bits = x.to_bits();
    let mut e = ((bits >> 52) & 0x7ff) as i64 - 1023;
    let mut m = f64::from_bits((bits & ((1u64 << 52) - 1)) | (1023u64 << 52));
    // Centre m on 1 so the series below converges fast: m in [sqrt(1/2), sqrt(2)).
    if m >= SQRT2 {
        m *= 0.5;
        e += 1;
    }
    // ln(m) = 2 atanh(s) = 2 (s + s^3/3 + s^5/5 + ...), s = (m-1)/(m+1), |s| < 0.172;
    // 14 terms leave an error below 1e-21.
    let s = (m - 1.0) / (m + 1.0);
    let s2 = s * s;
    let mut term = s;
    let mut sum = 0.0;
    for k in 0..14 {
        sum += term / f64::from(2 * k + 1);
        term *= s2;
    }
    2.0 * sum + (e as f64) * LN2
}

/// The rendezvous score of `node` (with `weight`) for `partition`:
/// `-weight / ln(u)` with `u` in (0, 1) drawn from a stable hash of the pair.
///
/// For one replica the node with the highest score wins with probability
/// `weight / total weight`, and a node's score for a partition does not depend
/// on the other members, which is what makes joins and leaves move only the
/// partitions whose top-N list the node enters or leaves.
fn score(node: NodeId, weight: u32, partition: u32) -> f64 {
    let mut buf = [0u8; 12];
    buf[..8].copy_from_slice(&node.0.to_le_bytes());
    buf[8..].copy_from_slice(&partition.to_le_bytes());
    let h = xxh3_64(&buf);
    // 53 random bits mapped to the open interval (0, 1): never 0 (ln = -inf)
    // and never 1 (ln = 0, division by zero).
    let u = ((h >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64);
    -f64::from(weight) / ln_det(u)
}

impl Ring {
    /// Builds the ring of `nodes` with preference lists of `replicas` nodes
    /// over `2^partition_bits` partitions.
    ///
    /// The result depends only on the set of nodes: they are sorted by id
    /// first, and if an id appears more than once the entry that sorts first
    /// by (weight, zone) is kept, so even a malformed list gives the same ring
    /// on every member. Nodes with weight 0 are members that own nothing.
    ///
    /// # Panics
    ///
    /// If `partition_bits` exceeds [`MAX_PARTITION_BITS`] (a configuration
    /// error, checked where the configuration is loaded).
    pub fn new(nodes: &[RingNode], replicas: usize, partition_bits: u32) -> Ring {
        assert!(
            partition_bits <= MAX_PARTITION_BITS,
            "partition_bits {partition_bits} exceeds {MAX_PARTITION_BITS}"
        );
        let mut nodes = nodes.to_vec();
        nodes.sort_by(|a, b| (a.id, a.weight, &a.zone).cmp(&(b.id, b.weight, &b.zone)));
        nodes.dedup_by_key(|n| n.id);

        let live: Vec<&RingNode> = nodes.iter().filter(|n| n.weight > 0).collect();
        let width = replicas.min(live.len());
        // Zones as small indices for the per-partition bookkeeping.
        let zone_names: Vec<&str> = live
            .iter()
            .map(|n| n.zone.as_str())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let zone_of: Vec<usize> = live
            .iter()
            .map(|n| {
                zone_names
                    .binary_search(&n.zone.as_str())
                    .unwrap_or_default()
            })
            .collect();

        let partitions = 1u32 << partition_bits;
        let mut owners = Vec::with_capacity(partitions as usize * width);
        let mut ranked: Vec<(f64, usize)> = Vec::with_capacity(live.len());
        let mut zone_used = vec![false; zone_names.len()];
        let mut picked = vec![false; live.len()];
        for p in 0..partitions {
            ranked.clear();
            ranked.extend(
                live.iter()
                    .enumerate()
                    .map(|(i, n)| (score(n.id, n.weight, p), i)),
            );
            // Highest score first; equal scores (practically never) fall back
            // to the lower id, which is the lower index since `live` is sorted.
            ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            zone_used.fill(false);
            picked.fill(false);
            let start = owners.len();
            // Pass 1: best node of each zone not yet represented, in score
            // order, until the list is full or every zone has a replica.
            let mut zones_seen = 0;
            for &(_, i) in &ranked {
                if owners.len() - start == width || zones_seen == zone_names.len() {
                    break;
                }
                if !zone_used[zone_of[i]] {
                    zone_used[zone_of[i]] = true;
                    zones_seen += 1;
                    picked[i] = true;
                    owners.push(live[i].id);
                }
            }
            // Pass 2: every zone is represented; the rest go by score alone.
            for &(_, i) in &ranked {
                if owners.len() - start == width {
                    break;
                }
                if !picked[i] {
                    picked[i] = true;
                    owners.push(live[i].id);
                }
            }
        }
        Ring {
            nodes,
            replicas,
            partition_bits,
            width,
            owners,
        }
    }

    /// The members, sorted by id (including weight-0 ones).
    pub fn nodes(&self) -> &[RingNode] {
        &self.nodes
    }

    /// The configured replica count N.
    pub fn replicas(&self) -> usize {
        self.replicas
    }

    /// The length of every preference list: N, or fewer if fewer nodes have
    /// a non-zero weight.
    pub fn effective_replicas(&self) -> usize {
        self.width
    }

    /// The configured partition bits.
    pub fn partition_bits(&self) -> u32 {
        self.partition_bits
    }

    /// The number of partitions, `2^partition_bits`.
    pub fn partitions(&self) -> u32 {
        1 << self.partition_bits
    }

    /// The partition of a key hash: its top `partition_bits` bits.
    pub fn partition_of_hash(&self, hash: u64) -> u32 {
        if self.partition_bits == 0 {
            0
        } else {
            (hash >> (64 - self.partition_bits)) as u32
        }
    }

    /// The partition holding `key` (after the hash-tag rule).
    pub fn partition_of(&self, key: &[u8]) -> u32 {
        self.partition_of_hash(key_hash(key))
    }

    /// The preference list of `partition`: distinct nodes, primary first.
    /// Empty when no node has a non-zero weight.
    ///
    /// # Panics
    ///
    /// If `partition >= self.partitions()`, like slice indexing.
    pub fn owners(&self, partition: u32) -> &[NodeId] {
        let start = partition as usize * self.width;
        &self.owners[start..start + self.width]
    }

    /// The preference list of the partition holding `key`.
    pub fn owners_of_key(&self, key: &[u8]) -> &[NodeId] {
        self.owners(self.partition_of(key))
    }

    /// The fraction of all partition-replica slots held by `id` (0 when the
    /// ring holds nothing). Sums to 1 over the members.
    pub fn share(&self, id: NodeId) -> f64 {
        if self.owners.is_empty() {
            return 0.0;
        }
        let held = self.owners.iter().filter(|&&o| o == id).count();
        held as f64 / self.owners.len() as f64
    }

    /// The partitions whose primary is `id`, ascending.
    pub fn primary_partitions(&self, id: NodeId) -> Vec<u32> {
        (0..self.partitions())
            .filter(|&p| self.owners(p).first() == Some(&id))
            .collect()
    }

    /// The partitions `id` holds a replica of (primary or not), ascending.
    pub fn partitions_of(&self, id: NodeId) -> Vec<u32> {
        (0..self.partitions())
            .filter(|&p| self.owners(p).contains(&id))
            .collect()
    }

    /// The rest of `partition`'s extended preference list: the members that
    /// do not own it, best rendezvous score first (weight-0 members last).
    /// Dynamo's sloppy quorum sends a write whose owners are down to the first
    /// live ones of these, which keep it for the owners as a hint.
    ///
    /// Computed on demand (a member count of hashes), since only writes that
    /// find owners down need it.
    pub fn fallbacks(&self, partition: u32) -> Vec<NodeId> {
        let owners = self.owners(partition);
        let mut ranked: Vec<(f64, NodeId)> = self
            .nodes
            .iter()
            .filter(|n| !owners.contains(&n.id))
            .map(|n| (score(n.id, n.weight, partition), n.id))
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        ranked.into_iter().map(|(_, id)| id).collect()
    }
}

/// How one partition's replica set changes between two rings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartitionChange {
    /// The partition, numbered in the finer of the two rings.
    pub partition: u32,
    /// Nodes that hold the partition in the new ring but not in the old one
    /// (they must receive its data), sorted by id.
    pub gained: Vec<NodeId>,
    /// Nodes that held it in the old ring but not in the new one (they may
    /// drop it once the gainers have it), sorted by id.
    pub lost: Vec<NodeId>,
}

/// The difference between two rings, partition by partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RingDiff {
    /// Partition bits the changes are numbered in (the larger of the two).
    pub partition_bits: u32,
    /// Partition-replica slots of the new ring, over `partition_bits`.
    pub new_slots: usize,
    /// Only the partitions whose replica set changed, ascending.
    pub changes: Vec<PartitionChange>,
}

impl RingDiff {
    /// True if no partition changes hands.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Partition replicas that must be copied to a new holder.
    pub fn gained_slots(&self) -> usize {
        self.changes.iter().map(|c| c.gained.len()).sum()
    }

    /// The fraction of the new ring's partition replicas that must be copied
    /// to a node that did not hold them: the data a rebalance transfers.
    /// Replicas only dropped (a preference list that got shorter) are not
    /// counted, as nothing is copied for them.
    pub fn moved_fraction(&self) -> f64 {
        if self.new_slots == 0 {
            0.0
        } else {
            self.gained_slots() as f64 / self.new_slots as f64
        }
    }
}

/// Which nodes gain and lose each partition going from `old` to `new`.
///
/// The rings may use different partition bits: partitions are top hash bits,
/// so a partition of the finer ring lies inside exactly one partition of the
/// coarser ring, and the diff is reported at the finer granularity.
pub fn moved(old: &Ring, new: &Ring) -> RingDiff {
    let bits = old.partition_bits.max(new.partition_bits);
    let mut changes = Vec::new();
    for p in 0..(1u32 << bits) {
        let before = old.owners(p >> (bits - old.partition_bits));
        let after = new.owners(p >> (bits - new.partition_bits));
        let mut gained: Vec<NodeId> = after
            .iter()
            .filter(|n| !before.contains(n))
            .copied()
            .collect();
        let mut lost: Vec<NodeId> = before
            .iter()
            .filter(|n| !after.contains(n))
            .copied()
            .collect();
        if !gained.is_empty() || !lost.is_empty() {
            gained.sort_unstable();
            lost.sort_unstable();
            changes.push(PartitionChange {
                partition: p,
                gained,
                lost,
            });
        }
    }
    RingDiff {
        partition_bits: bits,
        new_slots: (1usize << bits) * new.width,
        changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallbacks_are_the_non_owners_in_a_stable_order() {
        let nodes: Vec<RingNode> = (1..=6)
            .map(|i| RingNode::new(NodeId(i), if i == 6 { 0 } else { 100 }, "z"))
            .collect();
        let ring = Ring::new(&nodes, 3, 6);
        let weight = |id: NodeId| if id == NodeId(6) { 0 } else { 100 };
        for p in 0..ring.partitions() {
            let f = ring.fallbacks(p);
            assert_eq!(f.len(), 3);
            assert!(f.iter().all(|id| !ring.owners(p).contains(id)));
            // Weight 0 scores 0: always the last resort.
            assert_eq!(f.last(), Some(&NodeId(6)));
            // The rendezvous order: best score first.
            for w in f.windows(2) {
                let (a, b) = (w[0], w[1]);
                assert!(score(a, weight(a), p) >= score(b, weight(b), p), "{f:?}");
            }
        }
    }
    use proptest::prelude::*;
    use std::collections::HashSet;

    fn equal_nodes(n: u64) -> Vec<RingNode> {
        (1..=n)
            .map(|i| RingNode::new(NodeId(i * 0x9e37_79b9), 1, format!("z{}", i % 3)))
            .collect()
    }

    #[test]
    fn hash_tag_follows_redis_cluster() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"foo", b"foo"),
            (b"{user1000}.following", b"user1000"),
            (b"foo{}{bar}", b"foo{}{bar}"),
            (b"foo{{bar}}zap", b"{bar"),
            (b"foo{bar}{zap}", b"bar"),
            (b"{}", b"{}"),
            (b"{", b"{"),
            (b"}{", b"}{"),
            (b"}{a}", b"a"),
            (b"a{b", b"a{b"),
            (b"", b""),
        ];
        for &(key, tag) in cases {
            assert_eq!(hash_tag(key), tag, "key {:?}", String::from_utf8_lossy(key));
        }
        assert_eq!(key_hash(b"{u1}.a"), key_hash(b"{u1}.b"));
    }

    #[test]
    fn key_hash_is_pinned() {
        // xxh3_64 test vectors: a changed value would remap every key of a
        // running cluster, so these must never change.
        assert_eq!(key_hash(b""), 0x2d06_8005_38d3_94c2);
        assert_eq!(key_hash(b"{x}abc"), xxh3_64(b"x"));
    }

    #[test]
    fn ln_det_matches_ln() {
        let mut x = 1e-300_f64;
        while x < 1.0 {
            let (a, b) = (ln_det(x), x.ln());
            assert!(
                (a - b).abs() <= 1e-14 * b.abs().max(1e-300),
                "{x}: {a} vs {b}"
            );
            x *= 1.37;
        }
        assert_eq!(ln_det(1.0), 0.0);
    }

    #[test]
    fn partition_of_uses_top_bits() {
        let ring = Ring::new(&equal_nodes(3), 3, 10);
        assert_eq!(ring.partitions(), 1024);
        assert_eq!(ring.partition_of_hash(u64::MAX), 1023);
        assert_eq!(ring.partition_of_hash(1 << 54), 1);
        assert_eq!(ring.partition_of(b"k"), (key_hash(b"k") >> 54) as u32);
        let single = Ring::new(&equal_nodes(3), 3, 0);
        assert_eq!(single.partitions(), 1);
        assert_eq!(single.partition_of(b"anything"), 0);
        assert_eq!(single.owners(0).len(), 3);
    }

    #[test]
    fn placement_is_pinned() {
        // The ring is a cluster-wide contract: every version must compute the
        // same owners for the same members.
        let nodes = vec![
            RingNode::new(NodeId(1), 1, "a"),
            RingNode::new(NodeId(2), 1, "b"),
            RingNode::new(NodeId(3), 1, "c"),
            RingNode::new(NodeId(4), 1, "a"),
        ];
        let ring = Ring::new(&nodes, 2, 4);
        let lists: Vec<Vec<u64>> = (0..16)
            .map(|p| ring.owners(p).iter().map(|n| n.0).collect())
            .collect();
        assert_eq!(lists, PINNED_PLACEMENT);
    }

    const PINNED_PLACEMENT: &[&[u64]] = &[
        &[2, 4],
        &[1, 2],
        &[3, 2],
        &[1, 3],
        &[1, 2],
        &[2, 4],
        &[1, 2],
        &[3, 4],
        &[1, 3],
        &[2, 1],
        &[1, 3],
        &[1, 3],
        &[1, 2],
        &[1, 3],
        &[2, 1],
        &[2, 4],
    ];

    #[test]
    fn weight_zero_and_short_rings() {
        let nodes = vec![
            RingNode::new(NodeId(1), 1, "a"),
            RingNode::new(NodeId(2), 0, "b"),
        ];
        let ring = Ring::new(&nodes, 3, 6);
        assert_eq!(ring.nodes().len(), 2);
        assert_eq!(ring.effective_replicas(), 1);
        for p in 0..ring.partitions() {
            assert_eq!(ring.owners(p), &[NodeId(1)]);
        }
        assert_eq!(ring.share(NodeId(2)), 0.0);
        assert_eq!(ring.share(NodeId(1)), 1.0);
        assert_eq!(ring.primary_partitions(NodeId(1)).len(), 64);
        let empty = Ring::new(&[], 3, 6);
        assert!(empty.owners(5).is_empty());
        assert_eq!(empty.share(NodeId(1)), 0.0);
    }

    #[test]
    fn duplicate_ids_resolve_independently_of_order() {
        let a = RingNode::new(NodeId(7), 1, "a");
        let b = RingNode::new(NodeId(7), 3, "b");
        let c = RingNode::new(NodeId(8), 1, "c");
        let r1 = Ring::new(&[a.clone(), b.clone(), c.clone()], 2, 6);
        let r2 = Ring::new(&[c, b, a.clone()], 2, 6);
        assert_eq!(r1, r2);
        assert_eq!(r1.nodes()[0], a);
    }

    #[test]
    fn weights_scale_share() {
        let mut nodes = equal_nodes(4);
        nodes[3].weight = 2;
        let ring = Ring::new(&nodes, 1, 12);
        let heavy = ring.share(nodes[3].id);
        let light = ring.share(nodes[0].id);
        assert!((heavy - 0.4).abs() < 0.03, "heavy share {heavy}");
        assert!(
            (heavy / light - 2.0).abs() < 0.25,
            "ratio {}",
            heavy / light
        );
    }

    #[test]
    fn zones_are_distinct_when_enough() {
        let nodes: Vec<RingNode> = (0..6)
            .map(|i| RingNode::new(NodeId(100 + i), 1, format!("zone{}", i % 3)))
            .collect();
        let ring = Ring::new(&nodes, 3, 10);
        for p in 0..ring.partitions() {
            let zones: HashSet<&str> = ring
                .owners(p)
                .iter()
                .map(|id| nodes.iter().find(|n| n.id == *id).map(|n| n.zone.as_str()))
                .map(|z| z.unwrap_or_default())
                .collect();
            assert_eq!(zones.len(), 3);
        }
    }

    #[test]
    fn diff_across_partition_bits() {
        let nodes = equal_nodes(5);
        let coarse = Ring::new(&nodes, 2, 6);
        let fine = Ring::new(&nodes, 2, 8);
        let d = moved(&coarse, &fine);
        assert_eq!(d.partition_bits, 8);
        assert_eq!(d.new_slots, 512);
        let same = moved(&fine, &fine);
        assert!(same.is_empty());
        assert_eq!(same.moved_fraction(), 0.0);
        // Consistency with key-level lookups.
        for i in 0..2000u32 {
            let key = format!("k{i}");
            let p = fine.partition_of(key.as_bytes());
            let change = d.changes.iter().find(|c| c.partition == p);
            let before: HashSet<_> = coarse.owners_of_key(key.as_bytes()).iter().collect();
            let after: HashSet<_> = fine.owners_of_key(key.as_bytes()).iter().collect();
            match change {
                None => assert_eq!(before, after),
                Some(c) => {
                    for g in &c.gained {
                        assert!(after.contains(g) && !before.contains(g));
                    }
                    for l in &c.lost {
                        assert!(before.contains(l) && !after.contains(l));
                    }
                }
            }
        }
    }

    fn arb_nodes(max: usize) -> impl Strategy<Value = Vec<RingNode>> {
        proptest::collection::btree_map(any::<u64>(), (1u32..4, 0u8..4), 1..max).prop_map(|m| {
            m.into_iter()
                .map(|(id, (w, z))| RingNode::new(NodeId(id), w, format!("z{z}")))
                .collect()
        })
    }

    fn zone_of(nodes: &[RingNode], id: NodeId) -> &str {
        nodes
            .iter()
            .find(|n| n.id == id)
            .map(|n| n.zone.as_str())
            .unwrap_or_default()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn order_independent_distinct_and_zoned(
            nodes in arb_nodes(9),
            replicas in 1usize..5,
            seed in any::<u64>(),
        ) {
            let ring = Ring::new(&nodes, replicas, 7);
            let mut shuffled = nodes.clone();
            shuffled.sort_by_key(|n| xxh3_64(&(n.id.0 ^ seed).to_le_bytes()));
            prop_assert_eq!(&ring, &Ring::new(&shuffled, replicas, 7));

            let zones: HashSet<&str> = nodes.iter().map(|n| n.zone.as_str()).collect();
            let width = replicas.min(nodes.len());
            for p in 0..ring.partitions() {
                let owners = ring.owners(p);
                prop_assert_eq!(owners.len(), width);
                let distinct: HashSet<_> = owners.iter().collect();
                prop_assert_eq!(distinct.len(), width);
                let used: HashSet<&str> = owners.iter().map(|&o| zone_of(&nodes, o)).collect();
                prop_assert_eq!(used.len(), width.min(zones.len()));
            }
            let total: f64 = nodes.iter().map(|n| ring.share(n.id)).sum();
            prop_assert!((total - 1.0).abs() < 1e-9);
        }

        #[test]
        fn join_moves_only_to_new_node(
            nodes in arb_nodes(9),
            extra_id in any::<u64>(),
            extra_weight in 1u32..4,
            extra_zone in 0u8..5,
            replicas in 1usize..4,
        ) {
            prop_assume!(nodes.iter().all(|n| n.id.0 != extra_id));
            let old = Ring::new(&nodes, replicas, 7);
            let mut grown = nodes.clone();
            grown.push(RingNode::new(NodeId(extra_id), extra_weight, format!("z{extra_zone}")));
            let new = Ring::new(&grown, replicas, 7);
            let diff = moved(&old, &new);
            for c in &diff.changes {
                for g in &c.gained {
                    prop_assert_eq!(g.0, extra_id, "partition {} gained by old node", c.partition);
                }
                prop_assert!(c.lost.len() <= 1);
            }
            // And the reverse: the leave moves only the leaver's replicas.
            let back = moved(&new, &old);
            for c in &back.changes {
                prop_assert_eq!(&c.lost, &vec![NodeId(extra_id)]);
                prop_assert!(c.gained.len() <= 1);
            }
        }

        #[test]
        fn join_without_zones_is_minimal(
            n in 2u64..12,
            replicas in 1usize..4,
        ) {
            let nodes: Vec<RingNode> =
                (1..=n).map(|i| RingNode::new(NodeId(i), 1, "z")).collect();
            let mut grown = nodes.clone();
            grown.push(RingNode::new(NodeId(n + 1), 1, "z"));
            let old = Ring::new(&nodes, replicas, 10);
            let new = Ring::new(&grown, replicas, 10);
            let d = moved(&old, &new);
            // The new node should take about its fair share: 1/(n+1) of the
            // replicas (all of them it can hold when n+1 <= replicas).
            let ideal = new.share(NodeId(n + 1));
            prop_assert!((d.moved_fraction() - ideal).abs() < 1e-12);
            let fair = 1.0 / (n + 1) as f64;
            prop_assert!((ideal - fair).abs() < 0.05, "share {} vs {}", ideal, fair);
        }
    }
}
