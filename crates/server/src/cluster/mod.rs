//! Cluster mode: this node's place in a Dynamo-style cluster.
//!
//! * Membership and failure detection: SWIM gossip (`ringkv_peer::Membership`) on the UDP peer
//!   port; every node announces its id, addresses, zone, weight and state.
//! * The ring (`ringkv_cluster::Ring`): a fixed number of partitions, each placed on N distinct
//!   nodes (distinct zones when there are enough) by weighted rendezvous hashing, rebuilt from
//!   membership whenever it changes, identically on every node.
//! * Coordination (`coordinator`): any node accepts any command. Writes run at the partition's
//!   primary (its first live replica), which stamps a new version and ships the key's state to
//!   the other replicas, answering after W of N acknowledged. Reads run at a replica after R of
//!   N replicas compared versions; newer or concurrent versions are fetched and merged first,
//!   and stale replicas are repaired in the background.
//! * Versions (`state`): a dotted version vector per key with siblings, stored next to the value.
//! * Hinted handoff and the sloppy quorum (`hints`): a write an owner missed is kept as a hint
//!   (by the primary, or by a fallback node standing in for a down owner) and delivered when the
//!   owner is back.
//! * Joining and leaving (`handoff`): a node that joins or leaves streams exactly the partitions
//!   whose owners change while writes go to both the old and the new owners.
//! * Anti-entropy (`antientropy`): replicas compare Merkle trees of the partitions they share
//!   and exchange the keys that differ, so a replica that missed writes catches up.
//! * Peer RPC (`rpc`) over `ringkv_peer`'s multiplexed TCP transport on the peer port.
//!
//! The view of the cluster (members and ring) is an immutable snapshot swapped on change, so a
//! request works on one consistent view without locks.

pub mod antientropy;
pub mod coordinator;
pub mod handoff;
pub mod hints;
mod hooks;
pub mod route;
pub mod rpc;
pub mod state;
mod workers;

use parking_lot::RwLock;
use ringkv_cluster::{NodeId, Ring, RingNode};
use ringkv_commands::Shared;
use ringkv_config::Quorum;
use ringkv_peer::{
    Membership, MembershipConfig, Net, NodeMeta, NodeState, PeerClient, PeerConfig, PeerServer,
};
use state::StateConfig;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::Duration;

/// Where the node id is kept, inside `dir`.
const NODE_ID_FILE: &str = "cluster-node-id";
/// Partition count exponent (see bench/RING.md for the balance it gives).
pub const PARTITION_BITS: u32 = ringkv_cluster::DEFAULT_PARTITION_BITS;
/// Entries visited per keyspace lock hold when a cluster task walks the keyspace.
const WALK_SLICE_ENTRIES: usize = 1000;
/// How often the settings are checked for a changed replica count.
const VIEW_REFRESH_PERIOD: Duration = Duration::from_millis(200);

static CLUSTER: std::sync::OnceLock<Arc<Cluster>> = std::sync::OnceLock::new();

/// This process's cluster node, once started (None in standalone mode, while loading, and for
/// nodes hosted in a simulator).
pub fn get() -> Option<&'static Arc<Cluster>> {
    CLUSTER.get()
}

/// One node as this node sees it.
#[derive(Debug, Clone)]
pub struct MemberView {
    pub id: NodeId,
    pub client_addr: SocketAddr,
    pub peer_addr: SocketAddr,
    pub zone: String,
    pub weight: u32,
    pub state: NodeState,
    pub alive: bool,
}

/// An immutable snapshot of membership and the rings built from it.
pub struct View {
    pub generation: u64,
    /// Sorted by id; includes this node.
    pub members: Vec<MemberView>,
    /// Who owns each partition now: the nodes that are up or leaving. Reads run here, and a
    /// write's quorum is counted here.
    pub ring: Ring,
    /// Who will own each partition once the joins and leaves under way are done (nodes up or
    /// joining), when that differs from `ring`. While it exists, writes also go to these owners
    /// and need a quorum among them too, so a node that is receiving a partition misses no
    /// write made after it started to pull the partition (see `handoff`).
    pub target: Option<Ring>,
    /// Hash of what the rings are built from (members' ids, states, weights, zones and the
    /// replica count): two nodes with the same fingerprint compute the same rings.
    pub fingerprint: u64,
}

impl View {
    /// The ring of owners once the changes under way are done.
    pub fn target_ring(&self) -> &Ring {
        self.target.as_ref().unwrap_or(&self.ring)
    }

    /// This node's declared state in this view.
    pub fn state_of(&self, id: NodeId) -> Option<NodeState> {
        self.member(id).map(|m| m.state)
    }

    pub fn member(&self, id: NodeId) -> Option<&MemberView> {
        self.members
            .binary_search_by_key(&id, |m| m.id)
            .ok()
            .map(|i| &self.members[i])
    }

    pub fn is_alive(&self, id: NodeId) -> bool {
        self.member(id).is_some_and(|m| m.alive)
    }

    /// The first live replica of a key's partition: where its writes run.
    pub fn primary(&self, key: &[u8]) -> Option<NodeId> {
        self.ring
            .owners_of_key(key)
            .iter()
            .copied()
            .find(|id| self.is_alive(*id))
    }
}

/// Settings read per request (all changeable with CONFIG SET).
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    pub read_quorum: Quorum,
    pub write_quorum: Quorum,
    pub timeout: Duration,
    pub state: StateConfig,
    /// `cluster-hinted-handoff`.
    pub hinted_handoff: bool,
    /// `cluster-sloppy-quorum`.
    pub sloppy_quorum: bool,
    /// `cluster-max-hints`.
    pub max_hints: u64,
    /// `cluster-anti-entropy-interval` (None: off).
    pub anti_entropy_interval: Option<Duration>,
}

/// Counters for INFO cluster.
#[derive(Default)]
pub struct ClusterStats {
    pub forwarded: AtomicU64,
    pub coordinated_reads: AtomicU64,
    pub coordinated_writes: AtomicU64,
    pub quorum_failures: AtomicU64,
    pub replicated_states: AtomicU64,
    pub applied_states: AtomicU64,
    pub read_repairs: AtomicU64,
    pub merged_on_read: AtomicU64,
    pub siblings_dropped: AtomicU64,
    pub rpc_errors: AtomicU64,
}

impl ClusterStats {
    /// The counters under their INFO names.
    pub fn fields(&self) -> [(&'static str, u64); 10] {
        let f = |a: &AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
        [
            ("cluster_forwarded_commands", f(&self.forwarded)),
            ("cluster_coordinated_reads", f(&self.coordinated_reads)),
            ("cluster_coordinated_writes", f(&self.coordinated_writes)),
            ("cluster_quorum_failures", f(&self.quorum_failures)),
            ("cluster_replicated_states", f(&self.replicated_states)),
            ("cluster_applied_states", f(&self.applied_states)),
            ("cluster_read_repairs", f(&self.read_repairs)),
            ("cluster_merged_on_read", f(&self.merged_on_read)),
            ("cluster_siblings_dropped", f(&self.siblings_dropped)),
            ("cluster_rpc_errors", f(&self.rpc_errors)),
        ]
    }
}

pub struct Cluster {
    pub shared: Arc<Shared>,
    pub node: NodeId,
    pub client_addr: SocketAddr,
    pub peer_addr: SocketAddr,
    pub membership: Membership,
    pub peers: PeerClient,
    view: RwLock<Arc<View>>,
    pub stats: ClusterStats,
    /// Index of the hidden metadata database.
    pub meta_db: usize,
    /// The client that runs coordinated commands on this node (lock after the store).
    scratch: parking_lot::Mutex<ringkv_commands::Client>,
    /// The parsed settings and the config epoch they were read at.
    settings: parking_lot::Mutex<(u64, Settings)>,
    server: parking_lot::Mutex<Option<PeerServer>>,
    /// The data directory (node id and declared state live there).
    pub dir: std::path::PathBuf,
    /// Join / leave progress.
    pub handoff: handoff::Handoff,
    /// Hinted handoff bookkeeping.
    pub hints: hints::Hints,
    /// Anti-entropy counters and the trees kept for peers' exchanges.
    pub anti_entropy: antientropy::AntiEntropy,
}

fn read_settings(shared: &Shared, node: NodeId, meta_db: usize) -> Settings {
    let c = shared.config.read();
    Settings {
        read_quorum: Quorum::parse(&c.cluster_read_quorum).unwrap_or(Quorum::Majority),
        write_quorum: Quorum::parse(&c.cluster_write_quorum).unwrap_or(Quorum::Majority),
        timeout: Duration::from_millis(c.cluster_request_timeout.max(1)),
        state: StateConfig {
            node,
            meta_db,
            tombstone_grace_ms: (c.cluster_tombstone_grace as i64).saturating_mul(1000),
            max_siblings: c.cluster_max_siblings as usize,
        },
        hinted_handoff: c.cluster_hinted_handoff,
        sloppy_quorum: c.cluster_sloppy_quorum,
        max_hints: c.cluster_max_hints,
        anti_entropy_interval: (c.cluster_anti_entropy_interval > 0)
            .then(|| Duration::from_secs(c.cluster_anti_entropy_interval)),
    }
}

/// An internal, authenticated client for commands the cluster runs on this node's behalf.
fn scratch_client() -> ringkv_commands::Client {
    ringkv_commands::Client::internal("cluster")
}

/// Reads the node id from `dir`, creating it on first start (then `true`).
fn node_id(dir: &str, seed: u64) -> Result<(NodeId, bool), String> {
    let path = std::path::Path::new(dir).join(NODE_ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => text
            .trim()
            .parse::<NodeId>()
            .map(|id| (id, false))
            .map_err(|e| format!("{} holds no node id: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let id = NodeId(seed | 1);
            ringkv_persist::write_atomically(&path, |f| {
                std::io::Write::write_all(f, format!("{id}\n").as_bytes())
            })
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            Ok((id, true))
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

fn resolve(addr: &str) -> Option<SocketAddr> {
    addr.to_socket_addrs().ok()?.next()
}

impl Cluster {
    /// Binds the peer port, joins through the seeds and starts keeping the view current.
    pub async fn start(
        shared: Arc<Shared>,
        client_port: u16,
        seed: u64,
    ) -> Result<Arc<Cluster>, String> {
        Self::start_on(shared, client_port, seed, Net::Os).await
    }

    /// [`Cluster::start`] with its peer traffic (RPC and gossip) on `net`.
    pub async fn start_on(
        shared: Arc<Shared>,
        client_port: u16,
        seed: u64,
        net: Net,
    ) -> Result<Arc<Cluster>, String> {
        let cfg = shared.config.read().clone();
        let ip = if !cfg.cluster_announce_ip.is_empty() {
            cfg.cluster_announce_ip.clone()
        } else {
            cfg.bind
                .iter()
                .map(|b| b.trim_start_matches('-'))
                .find(|b| *b != "*" && *b != "0.0.0.0" && *b != "::" && *b != "::*")
                .unwrap_or("127.0.0.1")
                .to_string()
        };
        let peer_port = if cfg.cluster_port != 0 {
            cfg.cluster_port
        } else {
            client_port
                .checked_add(10000)
                .ok_or("port + 10000 is above 65535: set cluster-port")?
        };
        let client_addr = resolve(&format!("{ip}:{client_port}"))
            .ok_or_else(|| format!("cannot resolve cluster-announce-ip {ip}"))?;
        let peer_addr = SocketAddr::new(client_addr.ip(), peer_port);
        let dir = std::path::PathBuf::from(&cfg.dir);
        let (node, new_node) = node_id(&cfg.dir, seed)?;
        let seeds: Vec<SocketAddr> = cfg
            .cluster_seeds
            .split([',', ' '])
            .filter(|s| !s.is_empty())
            .filter_map(|s| {
                let r = resolve(s);
                if r.is_none() {
                    tracing::warn!(seed = s, "cannot resolve cluster seed");
                }
                r
            })
            .filter(|a| *a != peer_addr)
            .collect();
        // A new node that has peers to join pulls its partitions before it serves them; the
        // first node of a cluster (no seeds) is up at once; a restarted node resumes where it
        // was (see `handoff`).
        let state = match handoff::read_state(&dir)? {
            Some(NodeState::Left) => {
                return Err(format!(
                    "this node left the cluster ({} says left); start it with an empty --dir to join again",
                    dir.join(handoff::STATE_FILE).display()
                ))
            }
            Some(state) => state,
            None if new_node && !cfg.cluster_seeds.trim().is_empty() => NodeState::Joining,
            None => NodeState::Up,
        };
        handoff::write_state(&dir, state)?;
        let meta = NodeMeta {
            id: node.0,
            client_addr,
            peer_addr,
            zone: cfg.cluster_zone.clone(),
            weight: cfg.cluster_weight,
            state,
            id_worker: None,
        };
        let membership = Membership::start(
            meta,
            peer_addr,
            seeds.clone(),
            MembershipConfig {
                seed: seed ^ node.0,
                net,
                ..MembershipConfig::default()
            },
        )
        .await
        .map_err(|e| format!("cannot start gossip on {peer_addr}: {e}"))?;
        let meta_db = cfg.databases as usize;
        let peer_config = PeerConfig {
            net,
            ..PeerConfig::default()
        };
        let cluster = Arc::new(Cluster {
            shared: shared.clone(),
            node,
            client_addr,
            peer_addr,
            membership,
            peers: PeerClient::new(peer_config.clone()),
            view: RwLock::new(Arc::new(View {
                generation: 0,
                members: Vec::new(),
                ring: Ring::new(&[], 1, PARTITION_BITS),
                target: None,
                fingerprint: 0,
            })),
            stats: ClusterStats::default(),
            meta_db,
            scratch: parking_lot::Mutex::new(scratch_client()),
            settings: parking_lot::Mutex::new((u64::MAX, read_settings(&shared, node, meta_db))),
            server: parking_lot::Mutex::new(None),
            dir,
            handoff: handoff::Handoff::default(),
            hints: hints::Hints::default(),
            anti_entropy: antientropy::AntiEntropy::default(),
        });
        cluster.rebuild_view();
        let handler = coordinator::rpc_handler(cluster.clone());
        let server = PeerServer::bind_with_config(peer_addr, handler, peer_config)
            .map_err(|e| format!("cannot listen on cluster port {peer_addr}: {e}"))?;
        *cluster.server.lock() = Some(server);
        let _ = shared
            .cluster
            .set(Arc::new(hooks::Hooks(Arc::downgrade(&cluster))));
        tokio::spawn(keep_view_current(cluster.clone()));
        tokio::spawn(handoff::cleanup_task(cluster.clone()));
        tokio::spawn(hints::replay_task(cluster.clone()));
        tokio::spawn(antientropy::task(cluster.clone()));
        if net == Net::Os {
            // The process's one node. Nodes hosted in a simulator (several in one process, each
            // dropped when its host crashes) are reached through their own handles instead.
            let _ = CLUSTER.set(cluster.clone());
        }
        handoff::resume(&cluster, state);
        tracing::info!(
            node = %node,
            client = %client_addr,
            peer = %peer_addr,
            zone = %cfg.cluster_zone,
            weight = cfg.cluster_weight,
            seeds = seeds.len(),
            state = %state,
            "cluster node started"
        );
        workers::start(&cluster, &seeds).await?;
        Ok(cluster)
    }

    pub fn view(&self) -> Arc<View> {
        self.view.read().clone()
    }

    /// Sends one request to the peer at `addr` and decodes its reply; a peer's error reply is an
    /// error.
    pub(crate) async fn ask(
        &self,
        addr: SocketAddr,
        msg: &rpc::ClusterRpc,
        timeout: Duration,
    ) -> Result<rpc::ClusterReply, String> {
        let bytes = self
            .peers
            .request(addr, rpc::encode(msg), timeout)
            .await
            .map_err(|e| e.to_string())?;
        match rpc::decode::<rpc::ClusterReply>(&bytes)? {
            rpc::ClusterReply::Error(e) => Err(format!("the peer answered: {e}")),
            reply => Ok(reply),
        }
    }

    /// The cluster settings, parsed again only after a CONFIG SET.
    pub fn settings(&self) -> Settings {
        let epoch = self
            .shared
            .config_epoch
            .load(std::sync::atomic::Ordering::Acquire);
        let mut cached = self.settings.lock();
        if cached.0 != epoch {
            *cached = (epoch, read_settings(&self.shared, self.node, self.meta_db));
        }
        cached.1
    }

    /// Walks database `db` in slices of `WALK_SLICE_ENTRIES` entries (keys changed during the
    /// walk may or may not be seen, as with SCAN). `pick` sees every key with its value; after
    /// each slice, `slice` gets the store, still locked, with the keys `pick` chose in it, and
    /// says whether to go on.
    ///
    /// Between slices the walk releases the keyspace lock *and* yields to the runtime: with the
    /// default single-threaded runtime (`io-threads 1`) releasing the lock alone would serve no
    /// client until the walk ends (measured with 1,000,000 keys: a PING waited up to 380 ms
    /// without the yields, at most 15 ms with them).
    pub(crate) async fn walk_keys(
        &self,
        db: usize,
        mut pick: impl FnMut(&[u8], ringkv_engine::ValueRef<'_>) -> bool,
        mut slice: impl FnMut(&mut ringkv_engine::Store, Vec<bytes::Bytes>) -> bool,
    ) {
        let mut cursor = 0u64;
        loop {
            let go_on = {
                let mut store = self.lock_store();
                let mut picked = Vec::new();
                cursor = scan_slice(&mut store, db, cursor, |k, v| {
                    if pick(k, v) {
                        picked.push(bytes::Bytes::copy_from_slice(k));
                    }
                });
                slice(&mut store, picked) && cursor != 0
            };
            if !go_on {
                return;
            }
            tokio::task::yield_now().await;
        }
    }

    /// Calls `f` for every key of database `db` with its value, walking it as `walk_keys` does.
    pub(crate) async fn for_each_key(
        &self,
        db: usize,
        mut f: impl FnMut(&[u8], ringkv_engine::ValueRef<'_>),
    ) {
        self.walk_keys(
            db,
            |k, v| {
                f(k, v);
                false
            },
            |_, _| true,
        )
        .await;
    }

    /// Rebuilds the ring from the current membership (every node computes the same ring from
    /// the same members, so no coordination is needed).
    pub(crate) fn rebuild_view(&self) {
        let replicas = self.shared.config.read().cluster_replicas as usize;
        let mut members: Vec<MemberView> = self
            .membership
            .members()
            .into_iter()
            .filter(|m| m.meta.state != NodeState::Left)
            .map(|m| MemberView {
                id: NodeId(m.meta.id),
                client_addr: m.meta.client_addr,
                peer_addr: m.meta.peer_addr,
                zone: m.meta.zone.clone(),
                weight: m.meta.weight,
                state: m.meta.state,
                alive: m.alive || m.meta.id == self.node.0,
            })
            .collect();
        members.sort_by_key(|m| m.id);
        members.dedup_by_key(|m| m.id);
        let ring_of = |states: [NodeState; 2]| -> Vec<RingNode> {
            members
                .iter()
                .filter(|m| states.contains(&m.state))
                .map(|m| RingNode::new(m.id, m.weight, m.zone.clone()))
                .collect()
        };
        let ring_nodes = ring_of([NodeState::Up, NodeState::Leaving]);
        let target_nodes = ring_of([NodeState::Up, NodeState::Joining]);
        let fingerprint = fingerprint(&members, replicas);
        let old = self.view();
        if old.generation > 0
            && old.fingerprint == fingerprint
            && old.members.len() == members.len()
            && old
                .members
                .iter()
                .zip(&members)
                .all(|(a, b)| a.id == b.id && a.alive == b.alive && a.client_addr == b.client_addr)
        {
            return;
        }
        // Members are sorted and deduplicated by id, as the ring keeps its nodes.
        let build = |nodes: &[RingNode], old: &Ring| {
            if old.nodes() == nodes && old.replicas() == replicas {
                old.clone()
            } else {
                Ring::new(nodes, replicas, PARTITION_BITS)
            }
        };
        let ring = build(&ring_nodes, &old.ring);
        let target = (target_nodes != ring_nodes).then(|| build(&target_nodes, old.target_ring()));
        if old.generation > 0 && old.ring.nodes() != ring.nodes() {
            let diff = ringkv_cluster::moved(&old.ring, &ring);
            tracing::info!(
                nodes = ring.nodes().len(),
                moved_fraction = diff.moved_fraction(),
                "ring changed"
            );
        }
        if let Some(t) = &target {
            if old.target.as_ref().is_none_or(|o| o.nodes() != t.nodes()) {
                let diff = ringkv_cluster::moved(&ring, t);
                tracing::info!(
                    nodes = t.nodes().len(),
                    moved_fraction = diff.moved_fraction(),
                    "ring change under way: partitions move to their new owners"
                );
            }
        }
        for m in &members {
            if let Some(o) = old.member(m.id) {
                if o.alive != m.alive {
                    tracing::info!(node = %m.id, addr = %m.client_addr, alive = m.alive, "node {}", if m.alive { "up" } else { "down" });
                }
                if o.state != m.state {
                    tracing::info!(node = %m.id, addr = %m.client_addr, state = %m.state, "node state changed");
                }
            } else if m.id != self.node {
                tracing::info!(node = %m.id, addr = %m.client_addr, zone = %m.zone, state = %m.state, "node joined");
            }
        }
        *self.view.write() = Arc::new(View {
            generation: old.generation + 1,
            members,
            ring,
            target,
            fingerprint,
        });
    }
}

/// One slice of a walk over database `db` from SCAN cursor `cursor`: calls `visit` with each
/// key and value among the next `WALK_SLICE_ENTRIES` entries (whole SCAN buckets); returns the
/// next cursor (0: done). The caller holds the keyspace lock for the slice.
pub(crate) fn scan_slice(
    store: &mut ringkv_engine::Store,
    db: usize,
    mut cursor: u64,
    mut visit: impl FnMut(&[u8], ringkv_engine::ValueRef<'_>),
) -> u64 {
    let mut visited = 0usize;
    loop {
        cursor = store.db(db).scan(cursor, |k, v| {
            visited += 1;
            visit(k, v);
        });
        if cursor == 0 || visited >= WALK_SLICE_ENTRIES {
            return cursor;
        }
    }
}

/// See `View::fingerprint`.
fn fingerprint(members: &[MemberView], replicas: usize) -> u64 {
    let mut buf = Vec::with_capacity(members.len() * 32 + 8);
    buf.extend_from_slice(&(replicas as u64).to_le_bytes());
    for m in members {
        buf.extend_from_slice(&m.id.0.to_le_bytes());
        buf.push(m.state as u8);
        buf.extend_from_slice(&m.weight.to_le_bytes());
        buf.extend_from_slice(&(m.zone.len() as u32).to_le_bytes());
        buf.extend_from_slice(m.zone.as_bytes());
    }
    ringkv_cluster::stable_hash(&buf) | 1
}

async fn keep_view_current(cluster: Arc<Cluster>) {
    let mut changes = cluster.membership.subscribe();
    let mut shutdown = cluster.shared.shutdown_signal();
    let mut tick = tokio::time::interval(VIEW_REFRESH_PERIOD);
    let mut config_epoch = cluster
        .shared
        .config_epoch
        .load(std::sync::atomic::Ordering::Acquire);
    loop {
        tokio::select! {
            // A fixed polling order keeps simulated runs reproducible (see `crate::sim`).
            biased;
            _ = changes.changed() => {}
            _ = tick.tick() => {
                // Only a CONFIG SET (cluster-replicas) can change the ring between gossip events.
                let epoch = cluster.shared.config_epoch.load(std::sync::atomic::Ordering::Acquire);
                if epoch == config_epoch {
                    continue;
                }
                config_epoch = epoch;
            }
            _ = shutdown.changed() => break,
        }
        cluster.rebuild_view();
    }
    if let Some(server) = cluster.server.lock().take() {
        server.shutdown();
    }
    cluster.membership.shutdown().await;
}
