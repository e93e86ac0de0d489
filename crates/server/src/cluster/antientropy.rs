//! Anti-entropy: replicas that missed writes (a node that was down or cut off, a write
//! acknowledged by W < N replicas) catch up in the background by comparing Merkle trees of
//! their keys, as in Dynamo, instead of waiting for a read of each stale key (read repair) or
//! for the key's next write.
//!
//! **Why a tree.** Two replicas of a partition hold the same keys with the same versions most
//! of the time. Comparing them key by key would ship every key; a hash tree finds the few
//! partitions that differ in two small round trips, and only their keys are listed.
//!
//! **The tree**, over the partitions P both nodes own (sorted): a key's hash is xxh3 of the key
//! and its raw metadata bytes (the canonical encoding of its versions, so equal bytes mean
//! equal versions; a value is identified by its version's dot). A leaf per partition holds the
//! key count and the wrapping sum of its keys' hashes (so the order a walk finds keys in does
//! not matter); a branch hashes [`FANOUT`] consecutive leaves; the root hashes the branches
//! (4096 partitions: 64 branches of 64 leaves). A tree is built by walking the metadata
//! database in lock slices that yield to the runtime in between (`walk_meta`), so clients are
//! served meanwhile. It is not kept up to date between exchanges: each side walks its keys
//! once per exchange.
//!
//! **The exchange** (initiator A, peer B), every `cluster-anti-entropy-interval` with the next
//! live peer in turn, or on `CLUSTER ANTI-ENTROPY` with every peer:
//! 1. A sends P with a fresh exchange id (`TreeBranches`) and builds its tree meanwhile. B
//!    builds its own, keeps it for the exchange (at most [`TREE_CACHE_ENTRIES`] trees,
//!    [`TREE_CACHE_TTL`] each: rebuilding would cost a second walk and could describe other
//!    data than the first answer) and answers the root and the branch hashes. Equal roots end
//!    the exchange.
//! 2. A asks for the leaves of the branches that differ (`TreeLeaves`) and finds the
//!    partitions that differ.
//! 3. For each batch of differing partitions (at most [`BATCH_KEYS`] keys by the leaves'
//!    counts), A walks its keys into a compact (id, hash) list, then compares B's (key, hash)
//!    digests with it page by page as they arrive (`KeyDigests`; B's list is never held). A key
//!    whose hash differs, or that only one side holds, is pulled (`Fetch`, then merged here
//!    with `Cluster::apply_states`) as its page arrives, and pushed (`Apply` of A's exported
//!    state) during a second walk that finds A's keys to send by id. Transfers are sized by
//!    keys and bytes (a digest carries its key's approximate size), so large values do not make
//!    a message exceed the transport's frame limit. Version-vector merges are idempotent
//!    and commutative, so both replicas converge whatever is written meanwhile; deletes travel
//!    as tombstones the same way.
//!
//! A state holding only deletes is not copied to a node that lacks the key: absent and deleted
//! read the same there, and a copy would restart the tombstone's grace period, so two replicas
//! whose tombstones expire a moment apart would hand it back and forth for ever. Such a
//! partition keeps comparing as different (its keys are listed, nothing moves) until the
//! tombstone expires.
//!
//! Every message is bounded: tree rounds carry one hash per partition at most, digest pages and
//! transfers are paged by keys and bytes. A peer's bad answer or a timeout ends the exchange
//! with a log line and `cluster_anti_entropy_exchanges_failed`; it is tried again next time.

use super::rpc::{ClusterReply, ClusterRpc};
use super::state::{self, KeyState, DATA_DB};
use super::{Cluster, View};
use bytes::Bytes;
use parking_lot::Mutex;
use ringkv_cluster::NodeId;
use ringkv_peer::NodeState;
use ringkv_protocol::Args;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use xxhash_rust::xxh3::{xxh3_64, xxh3_64_with_seed, Xxh3};

/// Leaves under one branch.
pub const FANOUT: usize = 64;
/// Trees a node keeps for exchanges other nodes started (one per concurrent initiator).
pub const TREE_CACHE_ENTRIES: usize = 8;
/// How long a kept tree answers its exchange's second round.
pub const TREE_CACHE_TTL: Duration = Duration::from_secs(60);
/// Keys of differing partitions compared at once (by the leaves' counts; a bigger partition
/// forms a batch of its own). Each batch costs a walk of the keyspace on both sides (and one
/// more at the initiator when it has keys to send), and the initiator holds 24 bytes per key of
/// the batch: 24 MiB at this size (up to twice that while its list grows).
pub const BATCH_KEYS: u64 = 1 << 20;
/// Digests a peer may list for one batch (its count can grow with writes made meanwhile);
/// past this the exchange ends rather than page on.
const MAX_BATCH_DIGESTS: u64 = 4 * BATCH_KEYS;
/// Digests in one page at most.
const DIGEST_PAGE_KEYS: usize = 4096;
/// Metadata entries a peer visits for one digest page at most (bounds the lock hold).
const DIGEST_PAGE_VISITS: usize = 16_384;
/// Encoded digest bytes after which a page is closed.
const DIGEST_PAGE_BYTES: usize = 4 << 20;
/// Keys fetched or pushed in one message at most.
const TRANSFER_KEYS: usize = 512;
/// State bytes after which a fetch or push message is closed (at least one key goes).
const TRANSFER_BYTES: u64 = 4 << 20;
/// Least time given to one request (a peer walks its keys to answer the first round).
const MIN_TIMEOUT: Duration = Duration::from_secs(10);
/// How often the background task looks at the interval setting.
const POLL: Duration = Duration::from_millis(250);

// ---------------------------------------------------------------------------------------------
// The tree and the comparisons (pure)

/// One partition's summary: how many keys, and the wrapping sum of their hashes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leaf {
    pub keys: u64,
    pub sum: u64,
}

impl Leaf {
    fn add(&mut self, key_hash: u64) {
        self.keys += 1;
        self.sum = self.sum.wrapping_add(key_hash);
    }
}

/// The hash of one key with its versions (the raw metadata bytes).
pub fn key_hash(key: &[u8], meta: &[u8]) -> u64 {
    let mut h = Xxh3::new();
    h.update(&(key.len() as u64).to_le_bytes());
    h.update(key);
    h.update(meta);
    h.digest()
}

fn branch_hash(leaves: &[Leaf]) -> u64 {
    let mut buf = Vec::with_capacity(leaves.len() * 16);
    for l in leaves {
        buf.extend_from_slice(&l.keys.to_le_bytes());
        buf.extend_from_slice(&l.sum.to_le_bytes());
    }
    xxh3_64(&buf)
}

fn root_hash(branches: &[u64]) -> u64 {
    let buf: Vec<u8> = branches.iter().flat_map(|b| b.to_le_bytes()).collect();
    xxh3_64(&buf)
}

/// Positions of partitions in a sorted partition list, for placing keys in leaves.
pub struct PartitionIndex(Vec<u32>);

impl PartitionIndex {
    const ABSENT: u32 = u32::MAX;

    pub fn new(partitions: &[u32]) -> Self {
        let len = partitions.iter().max().map_or(0, |m| *m as usize + 1);
        let mut at = vec![Self::ABSENT; len];
        for (i, p) in partitions.iter().enumerate() {
            at[*p as usize] = i as u32;
        }
        PartitionIndex(at)
    }

    pub fn get(&self, partition: u32) -> Option<usize> {
        match self.0.get(partition as usize) {
            Some(&i) if i != Self::ABSENT => Some(i as usize),
            _ => None,
        }
    }
}

/// A Merkle tree over a sorted list of partitions: leaves in partition order, branches of
/// [`FANOUT`] leaves, a root over the branches.
#[derive(Debug, Clone)]
pub struct Tree {
    pub partitions: Vec<u32>,
    pub leaves: Vec<Leaf>,
    pub branches: Vec<u64>,
    pub root: u64,
}

impl Tree {
    /// The tree of (partition, key hash) pairs; pairs outside `partitions` are left out.
    pub fn build(partitions: Vec<u32>, hashes: impl IntoIterator<Item = (u32, u64)>) -> Tree {
        let index = PartitionIndex::new(&partitions);
        let mut leaves = vec![Leaf::default(); partitions.len()];
        for (p, h) in hashes {
            if let Some(i) = index.get(p) {
                leaves[i].add(h);
            }
        }
        Tree::from_leaves(partitions, leaves)
    }

    /// [`Tree::build`] over the keys of `partitions` in the metadata database: this node's
    /// tree (each key's leaf is the one `walk_meta` found for it).
    async fn of_local_keys(c: &Cluster, view: &View, partitions: Vec<u32>) -> Tree {
        let index = PartitionIndex::new(&partitions);
        let mut leaves = vec![Leaf::default(); partitions.len()];
        walk_meta(c, view, &index, |leaf, k, meta| {
            leaves[leaf].add(key_hash(k, meta))
        })
        .await;
        Tree::from_leaves(partitions, leaves)
    }

    fn from_leaves(partitions: Vec<u32>, leaves: Vec<Leaf>) -> Tree {
        let branches: Vec<u64> = leaves.chunks(FANOUT).map(branch_hash).collect();
        let root = root_hash(&branches);
        Tree {
            partitions,
            leaves,
            branches,
            root,
        }
    }

    /// The leaves under branch `b` (None past the last branch).
    pub fn branch_leaves(&self, b: usize) -> Option<&[Leaf]> {
        let start = b.checked_mul(FANOUT)?;
        let end = start.saturating_add(FANOUT).min(self.leaves.len());
        self.leaves.get(start..end).filter(|l| !l.is_empty())
    }
}

/// The branches whose hashes differ; an error when the trees are not over as many partitions.
pub fn differing_branches(mine: &[u64], theirs: &[u64]) -> Result<Vec<u32>, String> {
    if mine.len() != theirs.len() {
        return Err(format!(
            "the peer's tree has {} branches, this node's {}",
            theirs.len(),
            mine.len()
        ));
    }
    Ok((0..mine.len())
        .filter(|&b| mine[b] != theirs[b])
        .map(|b| b as u32)
        .collect())
}

/// The partitions that differ under `branches`, given the peer's leaves of those branches in
/// order, each with the larger of the two key counts.
pub fn differing_partitions(
    mine: &Tree,
    branches: &[u32],
    theirs: &[Leaf],
) -> Result<Vec<(u32, u64)>, String> {
    let mut out = Vec::new();
    let mut rest = theirs;
    for &b in branches {
        let Some(leaves) = mine.branch_leaves(b as usize) else {
            return Err(format!("no branch {b} in this node's tree"));
        };
        if rest.len() < leaves.len() {
            return Err("the peer sent fewer leaves than asked for".into());
        }
        let (theirs_here, after) = rest.split_at(leaves.len());
        rest = after;
        for (i, (m, t)) in leaves.iter().zip(theirs_here).enumerate() {
            if m != t {
                let p = mine.partitions[b as usize * FANOUT + i];
                out.push((p, m.keys.max(t.keys)));
            }
        }
    }
    if !rest.is_empty() {
        return Err("the peer sent more leaves than asked for".into());
    }
    Ok(out)
}

/// Groups differing partitions into batches of at most `max_keys` keys.
pub fn batches(differing: &[(u32, u64)], max_keys: u64) -> Vec<Vec<u32>> {
    let mut out: Vec<Vec<u32>> = Vec::new();
    let mut keys = 0u64;
    for &(p, n) in differing {
        match out.last_mut() {
            Some(batch) if keys.saturating_add(n) <= max_keys => {
                batch.push(p);
                keys += n;
            }
            _ => {
                out.push(vec![p]);
                keys = n;
            }
        }
    }
    out
}

/// One key as a digest page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDigest {
    pub key: Bytes,
    pub hash: u64,
    /// Every version of the key is a delete (see the module doc: not copied where absent).
    pub deletes_only: bool,
    /// About how many bytes the key's state takes (its metadata, plus its value's memory
    /// where the lister measured it): what sizes a fetch.
    pub size: u64,
}

impl KeyDigest {
    /// The digest of a key with its raw metadata bytes.
    pub fn of(key: &[u8], meta: &[u8]) -> KeyDigest {
        KeyDigest {
            key: Bytes::copy_from_slice(key),
            hash: key_hash(key, meta),
            deletes_only: state::is_deletes_only(meta),
            size: (key.len() + meta.len()) as u64,
        }
    }
}

/// A key's id within one exchange: xxh3 of the key seeded with the exchange id. Ids let this
/// node keep 24 bytes per key of a batch instead of the key; two keys that share an id (rare,
/// and never for the same pair in two exchanges) only cause extra transfers, see [`Comparison`].
pub fn key_id(seed: u64, key: &[u8]) -> u64 {
    xxh3_64_with_seed(key, seed)
}

/// What the peer's pages said about one of this node's keys so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    No,
    Same,
    Differs,
}

/// One of this node's keys in a comparison.
#[derive(Debug, Clone, Copy)]
struct Mine {
    id: u64,
    hash: u64,
    seen: Seen,
}

/// Compares this node's keys of a batch with the peer's digests, page by page as they arrive:
/// neither list is held whole as keys. This node's side is a sorted list of (id, hash); a page
/// yields the digests to fetch at once, and [`Comparison::finish`] says which of this node's
/// keys to send, resolved by a second walk. Two of this node's keys with one id keep one entry:
/// the other reads as absent here (fetched if the peer has it) and both are sent when that id
/// is; a peer key with the id of another key here reads as differing (fetched, and the other
/// sent). Either way only extra merges result, which change nothing.
pub struct Comparison {
    seed: u64,
    mine: Vec<Mine>,
    sealed: bool,
}

impl Comparison {
    /// An empty comparison for the exchange seeded `seed`.
    pub fn new(seed: u64) -> Comparison {
        Comparison {
            seed,
            mine: Vec::new(),
            sealed: true,
        }
    }

    /// Adds one of this node's keys with its raw metadata.
    pub fn add(&mut self, key: &[u8], meta: &[u8]) {
        self.mine.push(Mine {
            id: key_id(self.seed, key),
            hash: key_hash(key, meta),
            seen: Seen::No,
        });
        self.sealed = false;
    }

    fn seal(&mut self) {
        if !self.sealed {
            self.mine.sort_unstable_by_key(|m| m.id);
            self.mine.dedup_by_key(|m| m.id);
            self.sealed = true;
        }
    }

    /// Takes one page of the peer's digests and returns those to fetch: the key differs, or
    /// this node lacks it and the peer's state is not deletes only. (A key a SCAN lists twice
    /// is compared once when this node holds it, and may be fetched twice otherwise: harmless.)
    pub fn page(&mut self, theirs: Vec<KeyDigest>) -> Vec<KeyDigest> {
        self.seal();
        let mut fetch = Vec::new();
        for t in theirs {
            let id = key_id(self.seed, &t.key);
            match self.mine.binary_search_by_key(&id, |m| m.id) {
                Ok(i) => {
                    let m = &mut self.mine[i];
                    if m.seen == Seen::No {
                        m.seen = if m.hash == t.hash {
                            Seen::Same
                        } else {
                            fetch.push(t);
                            Seen::Differs
                        };
                    }
                }
                Err(_) if !t.deletes_only => fetch.push(t),
                Err(_) => {}
            }
        }
        fetch
    }

    /// Once every page is in: which of this node's keys to send.
    pub fn finish(mut self) -> ToSend {
        self.seal();
        let pick = |want: Seen| -> Vec<u64> {
            self.mine
                .iter()
                .filter(|m| m.seen == want)
                .map(|m| m.id)
                .collect()
        };
        ToSend {
            seed: self.seed,
            differ: pick(Seen::Differs),
            unseen: pick(Seen::No),
        }
    }
}

/// The keys of this node a comparison found to send, by id (sorted).
pub struct ToSend {
    seed: u64,
    /// Keys whose hashes differ from the peer's.
    differ: Vec<u64>,
    /// Keys the peer did not list.
    unseen: Vec<u64>,
}

impl ToSend {
    pub fn is_empty(&self) -> bool {
        self.differ.is_empty() && self.unseen.is_empty()
    }

    /// Whether this node's key, with its raw metadata, is to be sent: it differs, or the peer
    /// lacks it and it is not deletes only (see the module doc).
    pub fn wants(&self, key: &[u8], meta: &[u8]) -> bool {
        let id = key_id(self.seed, key);
        self.differ.binary_search(&id).is_ok()
            || (self.unseen.binary_search(&id).is_ok() && !state::is_deletes_only(meta))
    }
}

/// What a comparison found for one batch.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct KeyDiff {
    /// Keys to fetch from the peer and merge here.
    pub pull: Vec<Bytes>,
    /// Keys to send to the peer.
    pub push: Vec<Bytes>,
}

/// Compares two whole key sets, this node's as (key, raw metadata) and the peer's as digests
/// (any order; a key listed twice counts once): [`Comparison`] on whole lists.
pub fn diff_keys(seed: u64, mine: &[(Bytes, Vec<u8>)], mut theirs: Vec<KeyDigest>) -> KeyDiff {
    theirs.sort_unstable_by(|a, b| a.key.cmp(&b.key));
    theirs.dedup_by(|a, b| a.key == b.key);
    let mut cmp = Comparison::new(seed);
    for (k, m) in mine {
        cmp.add(k, m);
    }
    let pull = cmp.page(theirs).into_iter().map(|d| d.key).collect();
    let send = cmp.finish();
    let push = mine
        .iter()
        .filter(|(k, m)| send.wants(k, m))
        .map(|(k, _)| k.clone())
        .collect();
    KeyDiff { pull, push }
}

/// How many of the first `digests` go in one fetch: at most `TRANSFER_KEYS`, and no more than
/// `TRANSFER_BYTES` of state unless a single key is larger.
pub fn transfer_len(digests: &[KeyDigest]) -> usize {
    let mut bytes = 0u64;
    let mut n = 0;
    for d in digests.iter().take(TRANSFER_KEYS) {
        bytes = bytes.saturating_add(d.size);
        if n > 0 && bytes > TRANSFER_BYTES {
            break;
        }
        n += 1;
    }
    n
}

// ---------------------------------------------------------------------------------------------
// Progress and kept trees

/// Anti-entropy counters (INFO `cluster_anti_entropy_*`), the trees kept for peers' exchanges,
/// and the initiator's turn.
#[derive(Default)]
pub struct AntiEntropy {
    pub exchanges_started: AtomicU64,
    pub exchanges_completed: AtomicU64,
    pub exchanges_failed: AtomicU64,
    pub partitions_compared: AtomicU64,
    pub partitions_differed: AtomicU64,
    pub keys_pulled: AtomicU64,
    pub keys_pushed: AtomicU64,
    /// Pulled or pushed keys that changed the replica they reached.
    pub keys_repaired: AtomicU64,
    pub last_duration_ms: AtomicU64,
    /// Exchanges this node is running as initiator (0 or 1: they run one at a time).
    in_progress: AtomicU64,
    last_peer: Mutex<Option<NodeId>>,
    /// The peer the background task exchanged with last (its round robin).
    last_turn: Mutex<Option<NodeId>>,
    next_exchange: AtomicU64,
    /// One exchange at a time as initiator: a command waits for a background exchange.
    serial: tokio::sync::Mutex<()>,
    kept: Mutex<VecDeque<KeptTree>>,
}

struct KeptTree {
    exchange: u64,
    built: Instant,
    tree: Arc<Tree>,
}

impl AntiEntropy {
    /// The INFO fields.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let f = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        let peer = self.last_peer.lock().map(|p| p.to_string());
        vec![
            (
                "cluster_anti_entropy_exchanges_started",
                f(&self.exchanges_started),
            ),
            (
                "cluster_anti_entropy_exchanges_completed",
                f(&self.exchanges_completed),
            ),
            (
                "cluster_anti_entropy_exchanges_failed",
                f(&self.exchanges_failed),
            ),
            (
                "cluster_anti_entropy_partitions_compared",
                f(&self.partitions_compared),
            ),
            (
                "cluster_anti_entropy_partitions_differed",
                f(&self.partitions_differed),
            ),
            ("cluster_anti_entropy_keys_pulled", f(&self.keys_pulled)),
            ("cluster_anti_entropy_keys_pushed", f(&self.keys_pushed)),
            ("cluster_anti_entropy_keys_repaired", f(&self.keys_repaired)),
            (
                "cluster_anti_entropy_last_duration_ms",
                f(&self.last_duration_ms),
            ),
            ("cluster_anti_entropy_last_peer", peer.unwrap_or_default()),
            ("cluster_anti_entropy_in_progress", f(&self.in_progress)),
        ]
    }

    /// A fresh exchange id (unique per initiator, unlikely to meet another initiator's; an id
    /// used again after a restart replaces the tree kept under it, see `keep`).
    fn new_exchange(&self, node: NodeId) -> u64 {
        let seq = self.next_exchange.fetch_add(1, Ordering::Relaxed);
        let mut buf = [0u8; 16];
        buf[..8].copy_from_slice(&node.0.to_le_bytes());
        buf[8..].copy_from_slice(&seq.to_le_bytes());
        xxh3_64(&buf)
    }

    fn keep(&self, exchange: u64, tree: Arc<Tree>) {
        let mut kept = self.kept.lock();
        kept.retain(|k| k.built.elapsed() < TREE_CACHE_TTL && k.exchange != exchange);
        while kept.len() >= TREE_CACHE_ENTRIES {
            kept.pop_front();
        }
        kept.push_back(KeptTree {
            exchange,
            built: Instant::now(),
            tree,
        });
    }

    fn kept(&self, exchange: u64) -> Option<Arc<Tree>> {
        self.kept
            .lock()
            .iter()
            .find(|k| k.exchange == exchange && k.built.elapsed() < TREE_CACHE_TTL)
            .map(|k| k.tree.clone())
    }

    fn record(&self, out: &Outcome) {
        let add = |a: &AtomicU64, n: u64| a.fetch_add(n, Ordering::Relaxed);
        add(&self.partitions_compared, out.partitions);
        add(&self.partitions_differed, out.differed);
        add(&self.keys_pulled, out.pulled);
        add(&self.keys_pushed, out.pushed);
        add(&self.keys_repaired, out.repaired);
    }
}

/// Counts a running exchange until dropped, so an exchange given up half way (a client that
/// disconnects from `CLUSTER ANTI-ENTROPY`, a shutdown) is not left counted as running.
struct InProgress<'a>(&'a AtomicU64);

impl<'a> InProgress<'a> {
    fn new(counter: &'a AtomicU64) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        InProgress(counter)
    }
}

impl Drop for InProgress<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What one exchange did (also counted when it failed part way).
#[derive(Debug, Default)]
struct Outcome {
    partitions: u64,
    differed: u64,
    pulled: u64,
    pushed: u64,
    repaired: u64,
}

// ---------------------------------------------------------------------------------------------
// Walking the local keys

/// Calls `visit` with the position in `partitions` of every key of those partitions in the
/// metadata database, the key and its raw metadata, reading each value where the scan finds it
/// (no key copies, no second lookup, one partition hash per key), in the lock slices of
/// `Cluster::walk_keys`, which let clients run in between.
async fn walk_meta(
    c: &Cluster,
    view: &View,
    partitions: &PartitionIndex,
    mut visit: impl FnMut(usize, &[u8], &[u8]),
) {
    c.for_each_key(c.meta_db, |k, v| {
        if let Some(i) = partitions.get(view.ring.partition_of(k)) {
            if let Some(meta) = state::meta_bytes(v) {
                visit(i, k, meta);
            }
        }
    })
    .await;
}

/// This node's side of the comparison of `partitions` in exchange `seed`.
async fn local_comparison(c: &Cluster, view: &View, partitions: &[u32], seed: u64) -> Comparison {
    let index = PartitionIndex::new(partitions);
    let mut cmp = Comparison::new(seed);
    walk_meta(c, view, &index, |_, k, meta| cmp.add(k, meta)).await;
    cmp
}

/// Checks a peer's partition list: sorted without repeats, in range, every one owned here,
/// and no join or leave under way (ownership is about to change).
fn check_partitions(c: &Cluster, view: &View, partitions: &[u32]) -> Result<(), String> {
    if view.target.is_some() {
        return Err("a join or leave is under way".into());
    }
    if partitions.windows(2).any(|w| w[0] >= w[1]) {
        return Err("partitions must be sorted and distinct".into());
    }
    if let Some(p) = partitions.iter().find(|p| **p >= view.ring.partitions()) {
        return Err(format!("no partition {p}"));
    }
    match partitions
        .iter()
        .find(|p| !view.ring.owners(**p).contains(&c.node))
    {
        Some(p) => Err(format!("this node does not own partition {p}")),
        None => Ok(()),
    }
}

// ---------------------------------------------------------------------------------------------
// Serving a peer's exchange

/// First round: builds and keeps this node's tree over the peer's partitions.
pub async fn serve_tree(c: &Cluster, exchange: u64, partitions: Vec<u32>) -> ClusterReply {
    let view = c.view();
    if let Err(e) = check_partitions(c, &view, &partitions) {
        return ClusterReply::Error(e);
    }
    let tree = Arc::new(Tree::of_local_keys(c, &view, partitions).await);
    let reply = ClusterReply::TreeBranches {
        root: tree.root,
        branches: tree.branches.clone(),
    };
    c.anti_entropy.keep(exchange, tree);
    reply
}

/// Second round: the leaves under `branches` of the tree kept for `exchange`.
pub fn serve_leaves(c: &Cluster, exchange: u64, branches: &[u32]) -> ClusterReply {
    let Some(tree) = c.anti_entropy.kept(exchange) else {
        return ClusterReply::Error("no tree kept for this exchange (expired)".into());
    };
    if branches.len() > tree.branches.len() {
        return ClusterReply::Error("more branches asked for than the tree has".into());
    }
    let mut leaves = Vec::new();
    for &b in branches {
        match tree.branch_leaves(b as usize) {
            Some(l) => leaves.extend_from_slice(l),
            None => return ClusterReply::Error(format!("no branch {b}")),
        }
    }
    ClusterReply::TreeLeaves(leaves)
}

/// Third round: one page of digests of the keys in `partitions`, from SCAN cursor `cursor` of
/// the metadata database.
pub fn serve_digests(c: &Cluster, partitions: &[u32], cursor: u64) -> ClusterReply {
    let view = c.view();
    if let Err(e) = check_partitions(c, &view, partitions) {
        return ClusterReply::Error(e);
    }
    let index = PartitionIndex::new(partitions);
    let mut store = c.lock_store();
    let (mut keys, mut visited, mut bytes) = (Vec::new(), 0usize, 0usize);
    let mut next = cursor;
    loop {
        let from = keys.len();
        next = store.db(c.meta_db).scan(next, |k, v| {
            visited += 1;
            if index.get(view.ring.partition_of(k)).is_none() {
                return;
            }
            if let Some(meta) = state::meta_bytes(v) {
                bytes += k.len() + 24;
                keys.push(KeyDigest::of(k, meta));
            }
        });
        for d in &mut keys[from..] {
            let value = store.db(DATA_DB).peek(&d.key).map(|e| e.memory_usage());
            d.size += value.unwrap_or(0) as u64;
        }
        if next == 0
            || visited >= DIGEST_PAGE_VISITS
            || keys.len() >= DIGEST_PAGE_KEYS
            || bytes >= DIGEST_PAGE_BYTES
        {
            break;
        }
    }
    ClusterReply::KeyDigests { cursor: next, keys }
}

// ---------------------------------------------------------------------------------------------
// Running an exchange

fn unexpected(what: &str) -> String {
    format!("unexpected reply to {what}")
}

/// The partitions nodes `a` and `b` both own in `view`, sorted.
pub fn shared_partitions(view: &View, a: NodeId, b: NodeId) -> Vec<u32> {
    (0..view.ring.partitions())
        .filter(|&p| both_own(view, a, b, p))
        .collect()
}

/// Whether nodes `a` and `b` both own partition `p` in `view`.
fn both_own(view: &View, a: NodeId, b: NodeId, p: u32) -> bool {
    let owners = view.ring.owners(p);
    owners.contains(&a) && owners.contains(&b)
}

/// The live peers this node shares partitions with, by id.
fn peers(c: &Cluster, view: &View) -> Vec<NodeId> {
    view.members
        .iter()
        .filter(|m| m.id != c.node && m.alive && m.state == NodeState::Up)
        .map(|m| m.id)
        .filter(|&id| (0..view.ring.partitions()).any(|p| both_own(view, id, c.node, p)))
        .collect()
}

/// Why this node cannot start an exchange now, if it cannot.
fn not_ready(c: &Cluster, view: &View) -> Option<&'static str> {
    if c.shared.persistence.is_loading() {
        Some("the node is loading its data")
    } else if view.target.is_some() {
        Some("a join or leave is under way")
    } else if view.state_of(c.node) != Some(NodeState::Up) {
        Some("this node is not up")
    } else {
        None
    }
}

/// The exchange itself (see the module doc), adding what it did to `out` as it goes.
async fn exchange(
    c: &Cluster,
    view: &View,
    addr: SocketAddr,
    partitions: Vec<u32>,
    out: &mut Outcome,
) -> Result<(), String> {
    let timeout = c.settings().timeout.max(MIN_TIMEOUT);
    let id = c.anti_entropy.new_exchange(c.node);
    out.partitions = partitions.len() as u64;
    let ask_tree = ClusterRpc::TreeBranches {
        exchange: id,
        partitions: partitions.clone(),
    };
    // Both sides walk their keys at the same time.
    let (mine, theirs) = tokio::join!(
        Tree::of_local_keys(c, view, partitions),
        c.ask(addr, &ask_tree, timeout)
    );
    let ClusterReply::TreeBranches { root, branches } = theirs? else {
        return Err(unexpected("TreeBranches"));
    };
    if root == mine.root && branches == mine.branches {
        return Ok(());
    }
    let differing = differing_branches(&mine.branches, &branches)?;
    let ask_leaves = ClusterRpc::TreeLeaves {
        exchange: id,
        branches: differing.clone(),
    };
    let ClusterReply::TreeLeaves(leaves) = c.ask(addr, &ask_leaves, timeout).await? else {
        return Err(unexpected("TreeLeaves"));
    };
    let differing = differing_partitions(&mine, &differing, &leaves)?;
    out.differed = differing.len() as u64;
    for batch in batches(&differing, BATCH_KEYS) {
        let mut cmp = local_comparison(c, view, &batch, id).await;
        compare_and_pull(c, view, addr, &batch, &mut cmp, timeout, out).await?;
        let send = cmp.finish();
        if !send.is_empty() {
            push(c, view, addr, &batch, &send, timeout, out).await?;
        }
    }
    Ok(())
}

/// Lists the peer's digests of the keys in `batch`, page by page, compares each page and
/// fetches what it finds to fetch.
async fn compare_and_pull(
    c: &Cluster,
    view: &View,
    addr: SocketAddr,
    batch: &[u32],
    cmp: &mut Comparison,
    timeout: Duration,
    out: &mut Outcome,
) -> Result<(), String> {
    let index = PartitionIndex::new(batch);
    let (mut cursor, mut listed) = (0u64, 0u64);
    loop {
        let msg = ClusterRpc::KeyDigests {
            partitions: batch.to_vec(),
            cursor,
        };
        let ClusterReply::KeyDigests { cursor: next, keys } = c.ask(addr, &msg, timeout).await?
        else {
            return Err(unexpected("KeyDigests"));
        };
        if keys
            .iter()
            .any(|d| index.get(view.ring.partition_of(&d.key)).is_none())
        {
            return Err("the peer listed a key outside the partitions asked for".into());
        }
        listed += keys.len() as u64;
        if listed > MAX_BATCH_DIGESTS {
            return Err(format!(
                "the peer listed more than {MAX_BATCH_DIGESTS} keys for one batch"
            ));
        }
        pull(c, addr, &cmp.page(keys), timeout, out).await?;
        if next == 0 {
            return Ok(());
        }
        cursor = next;
    }
}

/// Fetches the peer's states of these keys and merges them here.
async fn pull(
    c: &Cluster,
    addr: SocketAddr,
    digests: &[KeyDigest],
    timeout: Duration,
    out: &mut Outcome,
) -> Result<(), String> {
    let mut rest = digests;
    while !rest.is_empty() {
        let (chunk, after) = rest.split_at(transfer_len(rest));
        rest = after;
        let msg = ClusterRpc::Fetch {
            keys: chunk.iter().map(|d| d.key.clone()).collect(),
        };
        let ClusterReply::States(states) = c.ask(addr, &msg, timeout).await? else {
            return Err(unexpected("Fetch"));
        };
        if states.len() != chunk.len() || states.iter().zip(chunk).any(|(s, d)| s.key != d.key) {
            return Err("the peer answered other keys than asked for".into());
        }
        let (changed, logged) = c.apply_states(&states);
        c.wait_durable(logged).await;
        out.pulled += states.len() as u64;
        out.repaired += u64::from(changed);
    }
    Ok(())
}

/// Sends the peer this node's states of the keys `send` picks, walking `batch` again slice by
/// slice and sending as the keys are found (so they are never all held at once).
async fn push(
    c: &Cluster,
    view: &View,
    addr: SocketAddr,
    batch: &[u32],
    send: &ToSend,
    timeout: Duration,
    out: &mut Outcome,
) -> Result<(), String> {
    let index = PartitionIndex::new(batch);
    let mut keys: Vec<Bytes> = Vec::new();
    let mut cursor = 0u64;
    loop {
        cursor = super::scan_slice(&mut c.lock_store(), c.meta_db, cursor, |k, v| {
            let meta =
                state::meta_bytes(v).filter(|_| index.get(view.ring.partition_of(k)).is_some());
            if meta.is_some_and(|meta| send.wants(k, meta)) {
                keys.push(Bytes::copy_from_slice(k));
            }
        });
        let done = cursor == 0;
        while keys.len() >= TRANSFER_KEYS || (done && !keys.is_empty()) {
            let states = export_some(c, &keys);
            keys.drain(..states.len());
            send_states(c, addr, states, timeout, out).await?;
        }
        if done {
            return Ok(());
        }
        tokio::task::yield_now().await;
    }
}

/// Sends states to the peer (`Apply`).
async fn send_states(
    c: &Cluster,
    addr: SocketAddr,
    states: Vec<KeyState>,
    timeout: Duration,
    out: &mut Outcome,
) -> Result<(), String> {
    let n = states.len() as u64;
    let ClusterReply::Applied { changed } =
        c.ask(addr, &ClusterRpc::Apply { states }, timeout).await?
    else {
        return Err(unexpected("Apply"));
    };
    out.pushed += n;
    out.repaired += u64::from(changed);
    Ok(())
}

/// The exported states of the first keys of `keys`, at most `TRANSFER_KEYS` of them and about
/// `TRANSFER_BYTES` (at least one key).
fn export_some(c: &Cluster, keys: &[Bytes]) -> Vec<KeyState> {
    let cfg = c.settings().state;
    let mut store = c.lock_store();
    let mut states = Vec::new();
    let mut bytes = 0u64;
    for k in keys.iter().take(TRANSFER_KEYS) {
        let st = state::export(&mut store, &cfg, k);
        bytes += (st.key.len() + st.versions.len()) as u64;
        states.push(st);
        if bytes >= TRANSFER_BYTES {
            break;
        }
    }
    states
}

/// One exchange with `peer`, counted and logged. Returns the keys repaired.
pub async fn exchange_with(c: &Arc<Cluster>, peer: NodeId) -> Result<u64, String> {
    let ae = &c.anti_entropy;
    let _one_at_a_time = ae.serial.lock().await;
    let view = c.view();
    if let Some(why) = not_ready(c, &view) {
        return Err(why.into());
    }
    let Some(addr) = view.member(peer).filter(|m| m.alive).map(|m| m.peer_addr) else {
        return Err(format!("node {peer} is not live"));
    };
    let partitions = shared_partitions(&view, c.node, peer);
    if partitions.is_empty() {
        return Ok(0);
    }
    ae.exchanges_started.fetch_add(1, Ordering::Relaxed);
    *ae.last_peer.lock() = Some(peer);
    let in_progress = InProgress::new(&ae.in_progress);
    let started = Instant::now();
    let mut out = Outcome::default();
    let result = exchange(c, &view, addr, partitions, &mut out).await;
    let ms = started.elapsed().as_millis() as u64;
    drop(in_progress);
    ae.last_duration_ms.store(ms, Ordering::Relaxed);
    ae.record(&out);
    log_outcome(peer, &out, ms, &result);
    match result {
        Ok(()) => {
            ae.exchanges_completed.fetch_add(1, Ordering::Relaxed);
            Ok(out.repaired)
        }
        Err(e) => {
            ae.exchanges_failed.fetch_add(1, Ordering::Relaxed);
            Err(e)
        }
    }
}

fn log_outcome(peer: NodeId, out: &Outcome, ms: u64, result: &Result<(), String>) {
    match result {
        Err(e) => tracing::warn!(
            peer = %peer,
            error = %e,
            keys_pulled = out.pulled,
            keys_pushed = out.pushed,
            ms,
            "anti-entropy exchange failed"
        ),
        Ok(()) if out.pulled + out.pushed > 0 => tracing::info!(
            peer = %peer,
            partitions = out.partitions,
            partitions_differing = out.differed,
            keys_pulled = out.pulled,
            keys_pushed = out.pushed,
            keys_repaired = out.repaired,
            ms,
            "anti-entropy exchange repaired replicas"
        ),
        Ok(()) => tracing::debug!(
            peer = %peer,
            partitions = out.partitions,
            partitions_differing = out.differed,
            ms,
            "anti-entropy exchange found nothing to repair"
        ),
    }
}

/// Whether a client command is `CLUSTER ANTI-ENTROPY`, which the coordinator runs itself
/// (it waits for peers, which the command table's handlers cannot).
pub fn is_command(args: Args<'_>) -> bool {
    args.len() == 2
        && args.arg(0).eq_ignore_ascii_case(b"cluster")
        && args.arg(1).eq_ignore_ascii_case(b"anti-entropy")
}

/// `CLUSTER ANTI-ENTROPY`: one exchange with every live peer that shares partitions with this
/// node, one after another. Returns the keys repaired in all.
pub async fn run_now(c: &Arc<Cluster>) -> Result<u64, String> {
    let view = c.view();
    if let Some(why) = not_ready(c, &view) {
        return Err(format!("cannot run anti-entropy now: {why}"));
    }
    let mut repaired = 0u64;
    let mut failures = Vec::new();
    for peer in peers(c, &view) {
        match exchange_with(c, peer).await {
            Ok(n) => repaired += n,
            Err(e) => failures.push(format!("node {peer}: {e}")),
        }
    }
    if failures.is_empty() {
        Ok(repaired)
    } else {
        Err(format!(
            "anti-entropy failed with {} ({repaired} keys repaired)",
            failures.join("; ")
        ))
    }
}

/// The peer after the last one the background task exchanged with (round robin by id).
fn next_turn(c: &Cluster, view: &View) -> Option<NodeId> {
    let candidates = peers(c, view);
    let mut last = c.anti_entropy.last_turn.lock();
    let next = candidates
        .iter()
        .copied()
        .find(|id| last.is_none_or(|l| *id > l))
        .or_else(|| candidates.first().copied())?;
    *last = Some(next);
    Some(next)
}

/// The background task: one exchange every `cluster-anti-entropy-interval` (read again every
/// `POLL`, so CONFIG SET takes effect at once), until shutdown.
pub async fn task(c: Arc<Cluster>) {
    let mut shutdown = c.shared.shutdown_signal();
    let mut last = Instant::now();
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(POLL) => {}
        }
        let Some(every) = c.settings().anti_entropy_interval else {
            last = Instant::now();
            continue;
        };
        if last.elapsed() < every {
            continue;
        }
        last = Instant::now();
        let view = c.view();
        if not_ready(&c, &view).is_some() {
            continue;
        }
        let Some(peer) = next_turn(&c, &view) else {
            continue;
        };
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            // Counted and logged inside.
            _ = exchange_with(&c, peer) => {}
        }
        last = Instant::now();
    }
}
