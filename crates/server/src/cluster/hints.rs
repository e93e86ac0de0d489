//! Hinted handoff and the sloppy quorum: writes an owner missed reach it when it is back.
//!
//! A write runs at its key's primary and is shipped to the other owners. When an owner is down,
//! or does not acknowledge in time, the write is not lost for it: a **hint** records that the
//! owner is owed the key, and a background task delivers the key's state as soon as the owner
//! is alive again (Dynamo's hinted handoff). Without hints, the owner would catch up only by
//! read repair or anti-entropy.
//!
//! Two kinds of hints, both kept in a hidden database of their own (`hints_db`, one past the
//! version metadata), so the AOF and snapshots persist them and a restart keeps them:
//!
//! * **Local** (`L` + a sequence number): kept by the primary for an owner that missed a write.
//!   The primary holds the key itself, so the hint names the key only; delivery ships the key's
//!   state as it is then (every later write included).
//! * **State** (`S` + encoded versions): kept by a *fallback*. With `cluster-sloppy-quorum yes`,
//!   a write whose owners are down is also sent to the next live nodes of the key's extended
//!   preference list (`Ring::fallbacks`), one per missing owner. A fallback does not own the key:
//!   it stores the shipped versions as a hint, merged with any it already holds for that owner
//!   and key, and its acknowledgement counts towards W in place of the owner's (Dynamo's sloppy
//!   quorum: writes stay available while owners are down; reads still need R owners).
//!
//! Hint keys are `target node id (8 bytes, big-endian) ++ key`. Delivery (`replay_task`) walks
//! the hints once per round in bounded slices, sends each live target an `Apply` of up to
//! `BATCH_KEYS` states, and deletes a hint only when the target acknowledged it and the hint is
//! unchanged since it was read: a write that missed the owner again meanwhile rewrote the hint
//! (new sequence number, or merged versions), so it is delivered in a later round, never lost.
//! Hints for a node that left the cluster, or for a key the target no longer owns, are dropped
//! (counted); `cluster-max-hints` bounds how many a node keeps (beyond it new hints are dropped,
//! counted, and left to anti-entropy).
//!
//! INFO cluster: `cluster_hints_*` (pending, stored, stored for others, delivered, dropped,
//! delivery failures, in progress, last delivery) and `cluster_sloppy_writes`; the log has a
//! line when a delivery to a node starts and ends.

use super::rpc::{ClusterReply, ClusterRpc};
use super::state::{self, KeyState};
use super::Cluster;
use bytes::Bytes;
use ringkv_cluster::{decode_versioned, encode_versioned, NodeId};
use ringkv_engine::{Store, Ttl};
use ringkv_peer::NodeState;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A local hint: the key is owed, its state is this node's.
const LOCAL: u8 = b'L';
/// A fallback's hint: the shipped versions follow.
const STATE: u8 = b'S';
/// How often the delivery task looks for hints to deliver.
const REPLAY_PERIOD: Duration = Duration::from_millis(500);
/// Hint entries visited per keyspace lock hold while delivering.
const SLICE_ENTRIES: usize = 512;
/// States per `Apply` sent to a target.
const BATCH_KEYS: usize = 256;
/// Encoded bytes after which a batch is sent.
const BATCH_BYTES: usize = 4 << 20;
/// Failed deliveries are logged as warnings at most this often (the others at debug level).
const WARN_PERIOD: Duration = Duration::from_secs(10);

/// Hint bookkeeping and counters (INFO `cluster_hints_*`).
#[derive(Default)]
pub struct Hints {
    /// Sequence of local hints (see the module doc: a rewritten hint is never deleted).
    seq: AtomicU64,
    /// Hints kept, as last seen under the keyspace lock (INFO runs under that lock and reads
    /// this instead).
    pending: AtomicU64,
    /// Hints recorded by this node as a primary.
    stored: AtomicU64,
    /// Hints kept by this node as a fallback for another node's write.
    stored_for_others: AtomicU64,
    /// Keys delivered to their owners.
    delivered: AtomicU64,
    /// Hints dropped: over `cluster-max-hints`, target left, or key no longer its.
    dropped: AtomicU64,
    /// Deliveries that failed (the target did not acknowledge; retried next round).
    failures: AtomicU64,
    /// Writes that counted a fallback's acknowledgement towards W.
    pub(super) sloppy_writes: AtomicU64,
    in_progress: AtomicBool,
    /// When a failed delivery was last logged as a warning (at most one per `WARN_PERIOD`; a
    /// target that stays unreachable is retried every round).
    last_warning: parking_lot::Mutex<Option<Instant>>,
    last_delivery_keys: AtomicU64,
    last_delivery_ms: AtomicU64,
    /// Nodes removed with CLUSTER FORGET: owed nothing more, like nodes that left.
    forgotten: parking_lot::Mutex<Vec<NodeId>>,
}

impl Hints {
    /// The INFO fields.
    pub fn fields(&self) -> [(&'static str, u64); 10] {
        let f = |a: &AtomicU64| a.load(Ordering::Relaxed);
        [
            ("cluster_hints_pending", f(&self.pending)),
            ("cluster_hints_stored", f(&self.stored)),
            (
                "cluster_hints_stored_for_others",
                f(&self.stored_for_others),
            ),
            ("cluster_hints_delivered", f(&self.delivered)),
            ("cluster_hints_dropped", f(&self.dropped)),
            ("cluster_hints_delivery_failures", f(&self.failures)),
            (
                "cluster_hints_delivery_in_progress",
                u64::from(self.in_progress.load(Ordering::Relaxed)),
            ),
            (
                "cluster_hints_last_delivery_keys",
                f(&self.last_delivery_keys),
            ),
            ("cluster_hints_last_delivery_ms", f(&self.last_delivery_ms)),
            ("cluster_sloppy_writes", f(&self.sloppy_writes)),
        ]
    }
}

impl Hints {
    /// `node` was removed with CLUSTER FORGET: its hints are dropped by the next delivery round
    /// (until then a node the table does not know is taken for one not learnt yet, and keeps
    /// them).
    pub(super) fn forgot(&self, node: NodeId) {
        let mut forgotten = self.forgotten.lock();
        if !forgotten.contains(&node) {
            forgotten.push(node);
        }
    }

    /// Whether a failed delivery is logged as a warning now (see `last_warning`).
    fn should_warn(&self) -> bool {
        let mut last = self.last_warning.lock();
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < WARN_PERIOD) {
            return false;
        }
        *last = Some(now);
        true
    }
}

/// The hint key of `key` owed to `target`.
fn hint_key(target: NodeId, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(8 + key.len());
    k.extend_from_slice(&target.0.to_be_bytes());
    k.extend_from_slice(key);
    k
}

/// The target and key of a hint key (None for a malformed one).
fn split_hint_key(raw: &[u8]) -> Option<(NodeId, &[u8])> {
    let (id, key) = raw.split_first_chunk::<8>()?;
    Some((NodeId(u64::from_be_bytes(*id)), key))
}

impl Cluster {
    /// Index of the hidden hints database.
    pub fn hints_db(&self) -> usize {
        self.meta_db + 1
    }

    /// Hints this node keeps (locks the keyspace).
    pub fn hints_pending(&self) -> u64 {
        let mut store = self.lock_store();
        self.note_pending(&mut store)
    }

    /// Refreshes the pending count INFO shows from the hints database; returns it.
    fn note_pending(&self, store: &mut Store) -> u64 {
        let n = store.db(self.hints_db()).len() as u64;
        self.hints.pending.store(n, Ordering::Relaxed);
        n
    }

    /// Stores `value` under `target`'s hint for `key`, unless the hint cap is reached (then the
    /// hint is dropped and counted). Returns whether it was stored.
    fn put_hint(
        &self,
        store: &mut Store,
        max: u64,
        target: NodeId,
        key: &[u8],
        value: &[u8],
    ) -> bool {
        let db_index = self.hints_db();
        let hk = hint_key(target, key);
        let mut db = store.db(db_index);
        if db.peek(&hk).is_none() && db.len() as u64 >= max {
            self.hints.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        db.set_str(&hk, value, Ttl::Persist);
        state::log(store, db_index, &[b"SET", &hk, value]);
        true
    }

    /// Records that `target` missed the write of `keys`, whose state this node holds (a
    /// primary whose replication to `target` failed or could not be sent).
    pub(super) fn record_missed(&self, target: NodeId, keys: &[Bytes]) {
        let settings = self.settings();
        if !settings.hinted_handoff || target == self.node || keys.is_empty() {
            return;
        }
        let mut store = self.lock_store();
        let mut value = [0u8; 9];
        value[0] = LOCAL;
        for key in keys {
            let seq = self.hints.seq.fetch_add(1, Ordering::Relaxed);
            value[1..].copy_from_slice(&seq.to_be_bytes());
            if self.put_hint(&mut store, settings.max_hints, target, key, &value) {
                self.hints.stored.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.note_pending(&mut store);
        let _ = ringkv_commands::aof::flush_oplog(&mut store, &self.shared.persistence.aof);
    }

    /// Keeps `states` for `target` as a fallback of a sloppy quorum (see the module doc):
    /// merged with the versions already kept for it. Returns how many were kept and the log
    /// offset that holds them.
    pub(super) fn keep_for(&self, target: NodeId, states: &[KeyState]) -> (u32, Option<u64>) {
        let max = self.settings().max_hints;
        let mut store = self.lock_store();
        let mut kept = 0;
        for st in states {
            let mut incoming = match decode_versioned(&st.versions) {
                Ok(v) => v,
                Err(e) => {
                    tracing::warn!(error = %e, "rejected a hinted key state");
                    continue;
                }
            };
            let hk = hint_key(target, &st.key);
            let held = store
                .db(self.hints_db())
                .peek(&hk)
                .and_then(|e| state::meta_bytes(e.value()))
                .and_then(|raw| raw.split_first())
                .filter(|(tag, _)| **tag == STATE)
                .and_then(|(_, body)| decode_versioned(body).ok());
            if let Some(held) = held {
                incoming.merge(&held);
            }
            let mut value = vec![STATE];
            value.extend_from_slice(&encode_versioned(&incoming));
            if self.put_hint(&mut store, max, target, &st.key, &value) {
                kept += 1;
                self.hints.stored_for_others.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.note_pending(&mut store);
        let logged = ringkv_commands::aof::flush_oplog(&mut store, &self.shared.persistence.aof);
        (kept, logged)
    }
}

/// One hint read for delivery: its raw key and value as read (the delete compares them).
struct Pending {
    hint: Vec<u8>,
    value: Vec<u8>,
    state: KeyState,
}

/// What a slice of the walk found to deliver, per target.
type Batches = BTreeMap<NodeId, Vec<Pending>>;

/// Delivers hints to their targets while the node runs (see the module doc).
pub async fn replay_task(cluster: Arc<Cluster>) {
    let mut shutdown = cluster.shared.shutdown_signal();
    let mut tick = tokio::time::interval(REPLAY_PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            _ = tick.tick() => {}
        }
        if cluster.shared.persistence.is_loading() || cluster.hints_pending() == 0 {
            continue;
        }
        deliver_round(&cluster).await;
    }
}

/// One pass over the hints: delivers what live targets are owed.
async fn deliver_round(cluster: &Arc<Cluster>) {
    let started = Instant::now();
    let mut cursor = 0u64;
    let mut delivered: BTreeMap<NodeId, u64> = BTreeMap::new();
    // Targets that failed this round: not retried before the next one.
    let mut failed: Vec<NodeId> = Vec::new();
    let mut announced: Vec<NodeId> = Vec::new();
    loop {
        let (next, batches) = read_slice(cluster, cursor, &failed);
        cursor = next;
        for (target, pending) in batches {
            // (`read_slice` left out the targets that failed earlier in this round.)
            if !announced.contains(&target) {
                announced.push(target);
                cluster.hints.in_progress.store(true, Ordering::Relaxed);
                tracing::info!(node = %target, pending = cluster.hints_pending(), "delivering hints");
            }
            for chunk in chunks(pending) {
                match send(cluster, target, &chunk).await {
                    Ok(()) => {
                        let n = remove_delivered(cluster, &chunk);
                        *delivered.entry(target).or_default() += n;
                    }
                    Err(e) => {
                        cluster.hints.failures.fetch_add(1, Ordering::Relaxed);
                        if cluster.hints.should_warn() {
                            tracing::warn!(node = %target, error = %e, "hint delivery failed; retrying later");
                        } else {
                            tracing::debug!(node = %target, error = %e, "hint delivery failed; retrying later");
                        }
                        failed.push(target);
                        break;
                    }
                }
            }
        }
        if cursor == 0 {
            break;
        }
        // A round whose targets are all down sends nothing, so it would otherwise walk every
        // hint without letting the event loop serve anyone.
        tokio::task::yield_now().await;
    }
    cluster.hints.in_progress.store(false, Ordering::Relaxed);
    let total: u64 = delivered.values().sum();
    if total > 0 {
        let ms = started.elapsed().as_millis() as u64;
        cluster.hints.delivered.fetch_add(total, Ordering::Relaxed);
        cluster
            .hints
            .last_delivery_keys
            .store(total, Ordering::Relaxed);
        cluster.hints.last_delivery_ms.store(ms, Ordering::Relaxed);
        for (node, keys) in delivered {
            tracing::info!(node = %node, keys, ms, pending = cluster.hints_pending(), "hints delivered");
        }
    }
}

/// Splits one target's hints into batches of at most `BATCH_KEYS` states and `BATCH_BYTES`.
fn chunks(pending: Vec<Pending>) -> Vec<Vec<Pending>> {
    let mut out: Vec<Vec<Pending>> = Vec::new();
    let mut bytes = 0;
    for p in pending {
        let size = p.state.key.len() + p.state.versions.len();
        match out.last_mut() {
            Some(last) if last.len() < BATCH_KEYS && bytes + size <= BATCH_BYTES => {
                bytes += size;
                last.push(p);
            }
            _ => {
                bytes = size;
                out.push(vec![p]);
            }
        }
    }
    out
}

/// Reads one slice of the hints from `cursor`: the states owed to live targets (not in
/// `skip`), grouped by target. Drops hints that can no longer be delivered.
fn read_slice(cluster: &Cluster, cursor: u64, skip: &[NodeId]) -> (u64, Batches) {
    let view = cluster.view();
    let mut departed: Vec<NodeId> = cluster
        .membership
        .members()
        .into_iter()
        .filter(|m| m.meta.state == NodeState::Left)
        .map(|m| NodeId(m.meta.id))
        .collect();
    departed.extend(cluster.hints.forgotten.lock().iter().copied());
    let cfg = cluster.settings().state;
    let hints_db = cluster.hints_db();
    let mut store = cluster.lock_store();
    let mut found: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut cursor = cursor;
    loop {
        cursor = store.db(hints_db).scan(cursor, |k, v| {
            if let Some(value) = state::meta_bytes(v) {
                found.push((k.to_vec(), value.to_vec()));
            }
        });
        if cursor == 0 || found.len() >= SLICE_ENTRIES {
            break;
        }
    }
    let mut batches = Batches::new();
    let mut obsolete = Vec::new();
    for (hint, value) in found {
        let Some((target, key)) = split_hint_key(&hint) else {
            obsolete.push(hint);
            continue;
        };
        // A target this node does not know (yet: membership is still converging after a
        // restart) keeps its hints; one that left or was forgotten, or no longer owns the key,
        // is owed nothing.
        let Some(member) = view.member(target) else {
            if departed.contains(&target) {
                obsolete.push(hint);
            }
            continue;
        };
        let owns = |ring: &ringkv_cluster::Ring| ring.owners_of_key(key).contains(&target);
        if !(owns(&view.ring) || owns(view.target_ring())) {
            obsolete.push(hint);
            continue;
        }
        if skip.contains(&target) || target == cluster.node || !member.alive {
            continue;
        }
        let state = match value.split_first() {
            Some((&LOCAL, _)) => {
                let st = state::export(&mut store, &cfg, key);
                if decode_versioned(&st.versions).is_ok_and(|v| v.is_empty()) {
                    // Nothing left to ship (expired, or the partition moved away).
                    obsolete.push(hint);
                    continue;
                }
                st
            }
            Some((&STATE, body)) => KeyState {
                key: Bytes::copy_from_slice(key),
                versions: Bytes::copy_from_slice(body),
            },
            _ => {
                obsolete.push(hint);
                continue;
            }
        };
        batches
            .entry(target)
            .or_default()
            .push(Pending { hint, value, state });
    }
    if !obsolete.is_empty() {
        cluster
            .hints
            .dropped
            .fetch_add(obsolete.len() as u64, Ordering::Relaxed);
        for hint in &obsolete {
            if store.db(hints_db).remove(hint) {
                state::log(&mut store, hints_db, &[b"DEL", hint]);
            }
        }
        cluster.note_pending(&mut store);
        let _ = ringkv_commands::aof::flush_oplog(&mut store, &cluster.shared.persistence.aof);
    }
    (cursor, batches)
}

/// Ships one batch to `target` and waits for its acknowledgement.
async fn send(cluster: &Cluster, target: NodeId, batch: &[Pending]) -> Result<(), String> {
    let view = cluster.view();
    let member = view
        .member(target)
        .filter(|m| m.alive)
        .ok_or("the node is down again")?;
    let states = batch.iter().map(|p| p.state.clone()).collect();
    let timeout = cluster.settings().timeout * 4;
    match cluster
        .ask(member.peer_addr, &ClusterRpc::Apply { states }, timeout)
        .await?
    {
        ClusterReply::Applied { .. } => Ok(()),
        _ => Err("unexpected reply".into()),
    }
}

/// Deletes the delivered hints that are unchanged since they were read; returns how many.
fn remove_delivered(cluster: &Cluster, batch: &[Pending]) -> u64 {
    let hints_db = cluster.hints_db();
    let mut store = cluster.lock_store();
    let mut removed = 0;
    for p in batch {
        let unchanged = store
            .db(hints_db)
            .peek(&p.hint)
            .and_then(|e| state::meta_bytes(e.value()))
            .is_some_and(|v| v == p.value.as_slice());
        if unchanged && store.db(hints_db).remove(&p.hint) {
            state::log(&mut store, hints_db, &[b"DEL", &p.hint]);
            removed += 1;
        }
    }
    cluster.note_pending(&mut store);
    let _ = ringkv_commands::aof::flush_oplog(&mut store, &cluster.shared.persistence.aof);
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hint_keys_round_trip_and_reject_short_ones() {
        let k = hint_key(NodeId(0x0102_0304_0506_0708), b"user:{1}");
        assert_eq!(
            split_hint_key(&k),
            Some((NodeId(0x0102_0304_0506_0708), &b"user:{1}"[..]))
        );
        assert_eq!(
            split_hint_key(&k[..8]),
            Some((NodeId(0x0102_0304_0506_0708), &b""[..]))
        );
        assert_eq!(split_hint_key(&k[..7]), None);
    }

    #[test]
    fn batches_respect_the_key_and_byte_bounds() {
        let p = |n: usize| Pending {
            hint: vec![],
            value: vec![],
            state: KeyState {
                key: Bytes::from(vec![b'k'; n]),
                versions: Bytes::new(),
            },
        };
        let many: Vec<Pending> = (0..BATCH_KEYS * 2 + 1).map(|_| p(1)).collect();
        let sizes: Vec<usize> = chunks(many).iter().map(Vec::len).collect();
        assert_eq!(sizes, [BATCH_KEYS, BATCH_KEYS, 1]);
        let big: Vec<Pending> = (0..3).map(|_| p(BATCH_BYTES / 2 + 1)).collect();
        assert_eq!(chunks(big).len(), 3);
    }
}
