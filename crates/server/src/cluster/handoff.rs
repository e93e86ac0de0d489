//! Joining and leaving: moving exactly the partitions whose owners change, while the cluster
//! keeps serving reads and writes.
//!
//! A node's declared state (gossiped with its metadata) drives two rings in every view: `ring`
//! (nodes up or leaving: who owns a partition now) and `target` (nodes up or joining: who will
//! own it). While they differ, a write goes to the owners in both and needs its quorum in both
//! (Garage's "write sets"), so a node that is gaining a partition receives every write made
//! after it started pulling; reads stay on the current owners, which hold everything.
//!
//! The node that changes state (the *mover*) runs the transition:
//!
//! 1. **Agree.** It declares `joining` or `leaving` (also written to `cluster-state` in the data
//!    dir, so a restart resumes the transition) and waits until every live node reports the
//!    same view fingerprint: from then on every coordinator writes to both rings.
//! 2. **Drain.** It waits one request timeout, so writes coordinated with an older view have
//!    finished (acknowledged or failed) before anything is copied.
//! 3. **Stream.** Each *gainer* (a target owner that is not a current owner of a partition: the
//!    joining node itself, or the nodes that inherit a leaving node's partitions) pulls its
//!    gained partitions from every live current owner, page by page (one keyspace scan per
//!    source, bounded pages, the keyspace lock held per page only), and merges the versioned
//!    states (merge is idempotent and commutative, so overlapping with live writes is safe).
//!    Pulling from every live owner, not one, is what makes the copy hold every write
//!    acknowledged by W of them.
//! 4. **Switch.** A joining node declares `up`: the rings become one again and it serves its
//!    partitions. A leaving node declares `left`, waits for the news to spread, and stops.
//!
//! Afterwards every node that is up drops, in the background, the keys of partitions it no
//! longer owns, once its view has been stable for a while (`cleanup_task`), so the data
//! really moves rather than being copied.
//!
//! Progress (phase, partitions done, keys moved) is in INFO cluster and the log.

use super::rpc::{self, ClusterReply, ClusterRpc};
use super::state::{self, KeyState, DATA_DB};
use super::{Cluster, View};
use bytes::Bytes;
use parking_lot::Mutex;
use ringkv_cluster::NodeId;
use ringkv_peer::NodeState;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// The node's declared state, kept in the data dir (see the module doc).
pub const STATE_FILE: &str = "cluster-state";
/// Keys in one page of a partition pull.
const PAGE_KEYS: usize = 512;
/// Encoded bytes after which a page is closed (a page always holds whole SCAN buckets).
const PAGE_BYTES: usize = 4 << 20;
/// Entries a source visits for one page at most (bounds the lock hold when few keys match).
const PAGE_VISITS: usize = 8192;
/// Pause between two agreement checks.
const AGREEMENT_POLL: Duration = Duration::from_millis(200);
/// Added to the request timeout when draining writes coordinated with an older view.
const DRAIN_MARGIN: Duration = Duration::from_millis(500);
/// Pause before retrying a failed step.
const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// Consecutive failed page requests to one source before the pull is retried from scratch.
const MAX_PAGE_FAILURES: u32 = 10;
/// How long a mover waits for one gainer's whole pull.
const GAINER_TIMEOUT: Duration = Duration::from_secs(3600);
/// How long a view must stay unchanged before keys of partitions moved away are dropped.
const CLEANUP_STABLE: Duration = Duration::from_secs(3);
/// How often the cleanup task looks at the view.
const CLEANUP_POLL: Duration = Duration::from_millis(500);
/// Time a node that left keeps gossiping so every peer hears it before it stops.
const LEFT_LINGER: Duration = Duration::from_secs(2);
/// Interval of progress lines in the log while streaming.
const PROGRESS_LOG_PERIOD: Duration = Duration::from_secs(2);

/// Where a join or leave stands (INFO `cluster_handoff_*`).
#[derive(Default)]
pub struct Handoff {
    /// A join or leave task is running on this node.
    running: AtomicBool,
    status: Mutex<Status>,
    /// Partitions of this node's current or last pull (as a gainer; a retry starts over), and
    /// how many are complete.
    pub partitions_total: AtomicU64,
    pub partitions_done: AtomicU64,
    /// Key states received while pulling, and those that changed this replica.
    pub keys_received: AtomicU64,
    pub keys_merged: AtomicU64,
    /// Keys of its gained partitions this node holds once its pulls are done (by pull or by
    /// the writes it received meanwhile): what moved here.
    pub keys_moved: AtomicU64,
    pub bytes_received: AtomicU64,
    /// Key states this node sent to pulling nodes.
    pub keys_sent: AtomicU64,
    /// Keys dropped because their partitions moved to other nodes.
    pub keys_dropped: AtomicU64,
    /// As mover: keys moved by every gainer in the last join or leave, and its duration.
    pub last_moved_keys: AtomicU64,
    pub last_duration_ms: AtomicU64,
}

#[derive(Clone, Copy)]
struct Status {
    role: &'static str,
    phase: &'static str,
}

impl Default for Status {
    fn default() -> Self {
        Status {
            role: "none",
            phase: "idle",
        }
    }
}

impl Handoff {
    fn set(&self, role: &'static str, phase: &'static str) {
        *self.status.lock() = Status { role, phase };
    }

    fn phase(&self, phase: &'static str) {
        self.status.lock().phase = phase;
    }

    /// The INFO fields.
    pub fn fields(&self) -> Vec<(&'static str, String)> {
        let s = *self.status.lock();
        let f = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        vec![
            ("cluster_handoff_role", s.role.to_string()),
            ("cluster_handoff_phase", s.phase.to_string()),
            (
                "cluster_handoff_partitions_total",
                f(&self.partitions_total),
            ),
            ("cluster_handoff_partitions_done", f(&self.partitions_done)),
            ("cluster_handoff_keys_received", f(&self.keys_received)),
            ("cluster_handoff_keys_merged", f(&self.keys_merged)),
            ("cluster_handoff_keys_moved", f(&self.keys_moved)),
            ("cluster_handoff_bytes_received", f(&self.bytes_received)),
            ("cluster_handoff_keys_sent", f(&self.keys_sent)),
            ("cluster_handoff_keys_dropped", f(&self.keys_dropped)),
            ("cluster_handoff_last_moved_keys", f(&self.last_moved_keys)),
            (
                "cluster_handoff_last_duration_ms",
                f(&self.last_duration_ms),
            ),
        ]
    }
}

/// The state kept in `dir` (None before the first start).
pub fn read_state(dir: &Path) -> Result<Option<NodeState>, String> {
    let path = dir.join(STATE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => match text.trim() {
            "joining" => Ok(Some(NodeState::Joining)),
            "up" => Ok(Some(NodeState::Up)),
            "leaving" => Ok(Some(NodeState::Leaving)),
            "left" => Ok(Some(NodeState::Left)),
            other => Err(format!(
                "{} holds an unknown state {other:?}",
                path.display()
            )),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Writes the state to `dir` (temp file, fsync, rename).
pub fn write_state(dir: &Path, state: NodeState) -> Result<(), String> {
    let path = dir.join(STATE_FILE);
    ringkv_persist::write_atomically(&path, |f| {
        std::io::Write::write_all(f, format!("{state}\n").as_bytes())
    })
    .map_err(|e| format!("cannot write {}: {e}", path.display()))
}

/// Declares `state`: kept in the data dir first (a restart resumes from it), then gossiped.
fn declare(c: &Cluster, state: NodeState) -> Result<(), String> {
    write_state(&c.dir, state)?;
    c.membership.update_local(|m| m.state = state);
    c.rebuild_view();
    tracing::info!(state = %state, "declared node state");
    Ok(())
}

/// Starts joining: this node declares `joining`, pulls the partitions it will own, then
/// declares `up`. Used at start-up (a new node with seeds, or a join interrupted by a restart)
/// and by CLUSTER JOIN.
pub fn start_join(c: &Arc<Cluster>) -> Result<(), String> {
    begin(c, NodeState::Joining)?;
    tokio::spawn(join(c.clone()));
    Ok(())
}

/// Claims the one transition slot of this node and declares `state`.
fn begin(c: &Cluster, state: NodeState) -> Result<(), String> {
    if c.handoff.running.swap(true, Ordering::AcqRel) {
        return Err("a join or leave is already under way on this node".into());
    }
    declare(c, state).inspect_err(|_| c.handoff.running.store(false, Ordering::Release))
}

/// Starts leaving: this node declares `leaving`, has the nodes that inherit its partitions
/// pull them, declares `left` and stops.
pub fn start_leave(c: &Arc<Cluster>) -> Result<(), String> {
    let view = c.view();
    let others_up = view
        .members
        .iter()
        .filter(|m| m.id != c.node && m.alive && m.state == NodeState::Up)
        .count();
    if view.state_of(c.node) != Some(NodeState::Up) {
        return Err("only a node that is up can leave".into());
    }
    if others_up == 0 {
        return Err("no other node is up to take this node's data".into());
    }
    begin(c, NodeState::Leaving)?;
    tokio::spawn(leave(c.clone()));
    Ok(())
}

/// Resumes the transition a restart interrupted.
pub fn resume(c: &Arc<Cluster>, state: NodeState) {
    let result = match state {
        NodeState::Joining => start_join(c),
        NodeState::Leaving => begin(c, NodeState::Leaving).map(|()| {
            tokio::spawn(leave(c.clone()));
        }),
        _ => Ok(()),
    };
    if let Err(e) = result {
        tracing::error!(error = %e, "cannot resume the cluster transition");
    }
}

fn shutting_down(c: &Cluster) -> bool {
    c.shared.is_shutting_down()
}

async fn join(c: Arc<Cluster>) {
    let started = Instant::now();
    c.handoff.set("joining", "finding-peers");
    // Deciding anything alone would make this node believe it owns an empty cluster.
    let mut last_log = Instant::now();
    while c.view().members.len() < 2 {
        if shutting_down(&c) {
            return;
        }
        if last_log.elapsed() >= Duration::from_secs(5) {
            tracing::warn!("joining: no other node known yet; check cluster-seeds");
            last_log = Instant::now();
        }
        tokio::time::sleep(AGREEMENT_POLL).await;
    }
    let moved = loop {
        c.handoff.phase("waiting-for-agreement");
        if !wait_for_agreement(&c, NodeState::Joining).await {
            return;
        }
        c.handoff.phase("draining");
        tokio::time::sleep(c.settings().timeout + DRAIN_MARGIN).await;
        let view = c.view();
        let gained = view.target_ring().partitions_of(c.node);
        c.handoff.phase("streaming");
        tracing::info!(
            partitions = gained.len(),
            of = view.ring.partitions(),
            "joining: pulling the partitions this node will own"
        );
        match pull(&c, &gained).await {
            Ok(moved) => break moved,
            Err(e) => {
                tracing::warn!(error = %e, "joining: pull failed; retrying");
                c.handoff.phase("retrying");
                tokio::time::sleep(RETRY_PAUSE).await;
                if shutting_down(&c) {
                    return;
                }
            }
        }
    };
    if let Err(e) = declare(&c, NodeState::Up) {
        tracing::error!(error = %e, "joining: cannot record the up state; staying joining");
        c.handoff.phase("failed");
        return;
    }
    finish(&c, "joined", moved, started);
}

async fn leave(c: Arc<Cluster>) {
    let started = Instant::now();
    c.handoff.set("leaving", "waiting-for-agreement");
    let mut done: BTreeMap<NodeId, u64> = BTreeMap::new();
    loop {
        if !wait_for_agreement(&c, NodeState::Leaving).await {
            return;
        }
        c.handoff.phase("draining");
        tokio::time::sleep(c.settings().timeout + DRAIN_MARGIN).await;
        let view = c.view();
        // Up nodes inherit partitions only because nodes leave; joining nodes pull their own.
        let mut gains: BTreeMap<NodeId, Vec<u32>> = BTreeMap::new();
        let target = view.target_ring();
        for p in 0..view.ring.partitions() {
            let now = view.ring.owners(p);
            for g in target.owners(p) {
                if !now.contains(g) && view.state_of(*g) == Some(NodeState::Up) {
                    gains.entry(*g).or_default().push(p);
                }
            }
        }
        gains.retain(|g, _| !done.contains_key(g));
        c.handoff.phase("streaming");
        tracing::info!(
            gainers = gains.len(),
            partitions = gains.values().map(Vec::len).sum::<usize>(),
            "leaving: the nodes that inherit this node's partitions pull them"
        );
        let requests = gains.iter().map(|(g, parts)| {
            let addr = view.member(*g).map(|m| m.peer_addr);
            let msg = rpc::encode(&ClusterRpc::Handoff {
                partitions: parts.clone(),
            });
            let c = c.clone();
            let g = *g;
            async move {
                let Some(addr) = addr else {
                    return (g, Err("unknown node".to_string()));
                };
                let reply = c.peers.request(addr, msg, GAINER_TIMEOUT).await;
                let result = match reply.map(|b| rpc::decode::<ClusterReply>(&b)) {
                    Ok(Ok(ClusterReply::Count(moved))) => Ok(moved),
                    Ok(Ok(ClusterReply::Error(e))) => Err(e),
                    Ok(_) => Err("unexpected reply".to_string()),
                    Err(e) => Err(e.to_string()),
                };
                (g, result)
            }
        });
        let handles: Vec<_> = requests.map(tokio::spawn).collect();
        let mut failed = false;
        for h in handles {
            let Ok((g, result)) = h.await else {
                failed = true;
                continue;
            };
            match result {
                Ok(moved) => {
                    done.insert(g, moved);
                }
                Err(e) => {
                    failed = true;
                    tracing::warn!(node = %g, error = %e, "leaving: a node failed to pull its partitions; retrying");
                }
            }
        }
        if !failed {
            break;
        }
        c.handoff.phase("retrying");
        tokio::time::sleep(RETRY_PAUSE).await;
        if shutting_down(&c) {
            return;
        }
    }
    let moved: u64 = done.values().sum();
    if let Err(e) = write_state(&c.dir, NodeState::Left) {
        tracing::error!(error = %e, "leaving: cannot record the left state; staying leaving");
        c.handoff.phase("failed");
        return;
    }
    c.membership.update_local(|m| m.state = NodeState::Left);
    c.rebuild_view();
    finish(&c, "left the cluster", moved, started);
    // Gossip the news, then stop the process (a node that left holds nothing it owns).
    tokio::time::sleep(LEFT_LINGER).await;
    tracing::info!("stopping: this node left the cluster");
    c.shared.request_shutdown();
}

fn finish(c: &Cluster, what: &str, moved: u64, started: Instant) {
    let took = started.elapsed();
    c.handoff.last_moved_keys.store(moved, Ordering::Relaxed);
    c.handoff
        .last_duration_ms
        .store(took.as_millis() as u64, Ordering::Relaxed);
    c.handoff.phase("done");
    c.handoff.running.store(false, Ordering::Release);
    tracing::info!(moved_keys = moved, seconds = took.as_secs_f64(), "{what}");
}

/// Waits until this node's view shows it in `state` and every live node reports the same view
/// fingerprint. False when the server shuts down first.
async fn wait_for_agreement(c: &Arc<Cluster>, state: NodeState) -> bool {
    let started = Instant::now();
    let mut last_log = started;
    let check = rpc::encode(&ClusterRpc::ViewCheck);
    loop {
        if shutting_down(c) {
            return false;
        }
        let view = c.view();
        if view.state_of(c.node) == Some(state) {
            let timeout = c.settings().timeout;
            let mut agreed = true;
            for m in view.members.iter().filter(|m| m.alive && m.id != c.node) {
                let answer = c.peers.request(m.peer_addr, check.clone(), timeout).await;
                agreed = matches!(answer.map(|b| rpc::decode::<ClusterReply>(&b)),
                    Ok(Ok(ClusterReply::Count(fp))) if fp == view.fingerprint);
                if !agreed {
                    break;
                }
            }
            if agreed && c.view().fingerprint == view.fingerprint {
                tracing::info!(
                    nodes = view.members.len(),
                    waited_ms = started.elapsed().as_millis() as u64,
                    "every live node sees this node {}",
                    state
                );
                return true;
            }
        }
        if last_log.elapsed() >= Duration::from_secs(5) {
            tracing::info!(
                waited_s = started.elapsed().as_secs(),
                "waiting for every live node to see this node {}",
                state
            );
            last_log = Instant::now();
        }
        tokio::time::sleep(AGREEMENT_POLL).await;
    }
}

/// Pulls `partitions` from every live current owner and merges them here. Returns how many
/// keys of these partitions this node then holds (what moved here).
pub async fn pull(c: &Arc<Cluster>, partitions: &[u32]) -> Result<u64, String> {
    let view = c.view();
    let h = &c.handoff;
    let mut by_source: BTreeMap<NodeId, Vec<u32>> = BTreeMap::new();
    let mut sources_left: BTreeMap<u32, usize> = BTreeMap::new();
    let mut unowned = 0usize;
    for &p in partitions {
        if p >= view.ring.partitions() {
            return Err(format!("no partition {p}"));
        }
        let sources: Vec<NodeId> = view
            .ring
            .owners(p)
            .iter()
            .copied()
            .filter(|o| *o != c.node && view.is_alive(*o))
            .collect();
        if sources.len() < view.ring.owners(p).iter().filter(|o| **o != c.node).count() {
            unowned += 1;
        }
        sources_left.insert(p, sources.len());
        for s in sources {
            by_source.entry(s).or_default().push(p);
        }
    }
    if unowned > 0 {
        tracing::warn!(
            partitions = unowned,
            "pulling without some owners that are down: writes only they acknowledged are not copied"
        );
    }
    h.partitions_total
        .store(partitions.len() as u64, Ordering::Relaxed);
    h.partitions_done.store(
        sources_left.values().filter(|n| **n == 0).count() as u64,
        Ordering::Relaxed,
    );
    let timeout = c.settings().timeout.max(Duration::from_secs(5));
    let mut last_log = Instant::now();
    for (source, parts) in by_source {
        let Some(addr) = view.member(source).map(|m| m.peer_addr) else {
            continue;
        };
        let mut cursor = 0u64;
        let mut failures = 0u32;
        loop {
            let msg = rpc::encode(&ClusterRpc::PartitionStates {
                partitions: parts.clone(),
                cursor,
            });
            let reply = c.peers.request(addr, msg, timeout).await;
            match reply.map(|b| rpc::decode::<ClusterReply>(&b)) {
                Ok(Ok(ClusterReply::StatePage {
                    cursor: next,
                    states,
                })) => {
                    failures = 0;
                    let bytes: usize = states.iter().map(|s| s.key.len() + s.versions.len()).sum();
                    h.keys_received
                        .fetch_add(states.len() as u64, Ordering::Relaxed);
                    h.bytes_received.fetch_add(bytes as u64, Ordering::Relaxed);
                    let (changed, logged) = c.apply_states(&states);
                    c.wait_durable(logged).await;
                    h.keys_merged
                        .fetch_add(u64::from(changed), Ordering::Relaxed);
                    cursor = next;
                    if last_log.elapsed() >= PROGRESS_LOG_PERIOD {
                        tracing::info!(
                            source = %source,
                            keys_received = h.keys_received.load(Ordering::Relaxed),
                            keys_merged = h.keys_merged.load(Ordering::Relaxed),
                            partitions_done = h.partitions_done.load(Ordering::Relaxed),
                            partitions_total = h.partitions_total.load(Ordering::Relaxed),
                            "handoff progress"
                        );
                        last_log = Instant::now();
                    }
                    if cursor == 0 {
                        break;
                    }
                }
                other => {
                    failures += 1;
                    let why = match other {
                        Ok(Ok(ClusterReply::Error(e))) => e,
                        Ok(Ok(_)) => "unexpected reply".into(),
                        Ok(Err(e)) => e,
                        Err(e) => e.to_string(),
                    };
                    if failures >= MAX_PAGE_FAILURES || shutting_down(c) {
                        return Err(format!("pulling from node {source}: {why}"));
                    }
                    tokio::time::sleep(Duration::from_millis(200 * u64::from(failures))).await;
                }
            }
        }
        for p in parts {
            if let Some(n) = sources_left.get_mut(&p) {
                *n -= 1;
                if *n == 0 {
                    h.partitions_done.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    let moved = count_keys_in(c, &view, partitions).await;
    h.keys_moved.fetch_add(moved, Ordering::Relaxed);
    Ok(moved)
}

/// A set of partitions, for testing keys against it.
struct PartitionSet<'a> {
    view: &'a View,
    member: Vec<bool>,
}

impl<'a> PartitionSet<'a> {
    fn new(view: &'a View, partitions: &[u32]) -> Self {
        let mut member = vec![false; view.ring.partitions() as usize];
        for p in partitions {
            if let Some(m) = member.get_mut(*p as usize) {
                *m = true;
            }
        }
        PartitionSet { view, member }
    }

    fn holds(&self, key: &[u8]) -> bool {
        let p = self.view.ring.partition_of(key) as usize;
        self.member.get(p).copied().unwrap_or(false)
    }
}

/// How many versioned keys of `partitions` this node holds (walked in lock slices).
async fn count_keys_in(c: &Cluster, view: &View, partitions: &[u32]) -> u64 {
    let wanted = PartitionSet::new(view, partitions);
    let mut n = 0u64;
    c.for_each_key(c.meta_db, |k, _| n += u64::from(wanted.holds(k)))
        .await;
    n
}

/// A source's side of a pull: the next page of versioned key states in `partitions`, from
/// SCAN cursor `cursor` of the metadata database (every versioned key, tombstones included,
/// has an entry there).
pub fn serve_page(c: &Cluster, partitions: &[u32], cursor: u64) -> ClusterReply {
    let view = c.view();
    let wanted = PartitionSet::new(&view, partitions);
    let cfg = c.settings().state;
    let mut store = c.lock_store();
    let mut states: Vec<KeyState> = Vec::new();
    let (mut visited, mut bytes) = (0usize, 0usize);
    let mut next = cursor;
    let mut keys: Vec<Bytes> = Vec::new();
    loop {
        next = store.db(cfg.meta_db).scan(next, |k, _| {
            visited += 1;
            if wanted.holds(k) {
                keys.push(Bytes::copy_from_slice(k));
            }
        });
        for k in keys.drain(..) {
            let st = state::export(&mut store, &cfg, &k);
            bytes += st.key.len() + st.versions.len();
            states.push(st);
        }
        if next == 0 || visited >= PAGE_VISITS || states.len() >= PAGE_KEYS || bytes >= PAGE_BYTES {
            break;
        }
    }
    c.handoff
        .keys_sent
        .fetch_add(states.len() as u64, Ordering::Relaxed);
    ClusterReply::StatePage {
        cursor: next,
        states,
    }
}

/// Drops, in the background, the keys of partitions this node no longer owns, once a join or
/// leave is over and the view has been stable for `CLEANUP_STABLE`.
pub async fn cleanup_task(c: Arc<Cluster>) {
    let mut shutdown = c.shared.shutdown_signal();
    let mut cleaned_for = 0u64;
    let mut stable: Option<(u64, Instant)> = None;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(CLEANUP_POLL) => {}
        }
        let view = c.view();
        if view.target.is_some() || view.state_of(c.node) != Some(NodeState::Up) {
            stable = None;
            continue;
        }
        if view.fingerprint == cleaned_for {
            continue;
        }
        match stable {
            Some((fp, since)) if fp == view.fingerprint => {
                if since.elapsed() >= CLEANUP_STABLE {
                    let dropped = drop_unowned(&c, &view).await;
                    cleaned_for = fp;
                    if dropped > 0 {
                        tracing::info!(
                            keys = dropped,
                            "dropped the keys of partitions now owned by other nodes"
                        );
                    }
                }
            }
            _ => stable = Some((view.fingerprint, Instant::now())),
        }
    }
}

/// Removes every key whose partition `view` does not give to this node (values and versions,
/// logged to the AOF). Stops early if the view changes. Returns the keys removed.
async fn drop_unowned(c: &Cluster, view: &View) -> u64 {
    let cfg = c.settings().state;
    let mut dropped = 0u64;
    for db in [DATA_DB, cfg.meta_db] {
        let mut same_view = true;
        c.walk_keys(
            db,
            |k, _| !view.ring.owners_of_key(k).contains(&c.node),
            |store, doomed| {
                same_view = c.view().fingerprint == view.fingerprint;
                if same_view {
                    for k in &doomed {
                        state::forget(store, &cfg, k);
                    }
                    dropped += doomed.len() as u64;
                    ringkv_commands::aof::flush_oplog(store, &c.shared.persistence.aof);
                }
                same_view
            },
        )
        .await;
        if !same_view {
            break;
        }
    }
    c.handoff.keys_dropped.fetch_add(dropped, Ordering::Relaxed);
    dropped
}
