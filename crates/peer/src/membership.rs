//! Cluster membership: who the nodes are, what they declare about
//! themselves, and whether they are reachable.
//!
//! One task per node owns the UDP socket and the SWIM driver and is the only
//! writer of the membership table; public methods read the table or send the
//! task a command. No lock is held across an `.await`.
//!
//! Invariants:
//! - The table is keyed by node id and holds at most one entry per id: the
//!   highest generation seen. An older generation never overwrites a newer
//!   one, and a `down` for an older generation never marks a newer one down.
//! - A node that declared `left` is removed and remembered with its
//!   generation, so stale gossip about that incarnation cannot bring it back;
//!   a later generation (a restart) can.
//! - The local node is always in [`Membership::members`], alive, with the
//!   metadata last set through [`Membership::update_local`].
//! - Every change visible through `members()` bumps the generation counter
//!   returned by [`Membership::subscribe`].

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::num::{NonZeroU8, NonZeroUsize};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use foca::{Identity, OwnedNotification, PeriodicParams};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

use crate::driver::{self, Driver, Effects};
use crate::net::{Datagrams, Net};

/// Default interval between probes of a random member.
pub const DEFAULT_PROBE_PERIOD: Duration = Duration::from_millis(500);
/// Default wait for a direct probe's ack before asking others to probe.
pub const DEFAULT_PROBE_RTT: Duration = Duration::from_millis(200);
/// Default time a suspected member has to refute before it is declared down.
pub const DEFAULT_SUSPECT_TO_DOWN: Duration = Duration::from_millis(1500);
/// Default interval of gossip rounds that push pending updates.
pub const DEFAULT_GOSSIP_PERIOD: Duration = Duration::from_millis(200);
/// Default interval of re-announcing to seeds that are not members.
pub const DEFAULT_SEED_ANNOUNCE_PERIOD: Duration = Duration::from_secs(1);
/// Default largest datagram produced and accepted; below common MTUs.
pub const DEFAULT_MAX_PACKET_BYTES: usize = 1400;
/// How long foca remembers a down identity (it refuses that exact identity
/// meanwhile; restarts use a new generation, so this only bounds memory).
const REMOVE_DOWN_AFTER: Duration = Duration::from_secs(3600);
/// Interval of announcing to one random member, to learn the full roster.
const PERIODIC_ANNOUNCE_PERIOD: Duration = Duration::from_secs(5);
/// Interval of announcing to down members, to heal partitions.
const ANNOUNCE_TO_DOWN_PERIOD: Duration = Duration::from_secs(3);
/// How long `shutdown` waits for the task to send its leave messages.
const SHUTDOWN_WAIT: Duration = Duration::from_secs(2);
/// Upper bound on the zone name carried in every packet.
pub const MAX_ZONE_BYTES: usize = 64;

/// The role a node declares for itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum NodeState {
    /// Started, not yet owning data.
    Joining,
    /// Serving its share of the ring.
    Up,
    /// Handing its data off before leaving.
    Leaving,
    /// Gone for good; such nodes are dropped from the table.
    Left,
}

impl fmt::Display for NodeState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeState::Joining => "joining",
            NodeState::Up => "up",
            NodeState::Leaving => "leaving",
            NodeState::Left => "left",
        })
    }
}

/// A node's claim on a snowflake ID worker number: the (datacenter, worker) pair its IDs
/// carry. Fixed size, so it bounds what it adds to every packet (at most 22 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct WorkerClaim {
    pub datacenter: u64,
    pub worker: u64,
    /// Set explicitly by the operator (`id-worker`), rather than claimed automatically.
    pub configured: bool,
    /// Announced for a while without a conflict: the node issues IDs with it.
    pub settled: bool,
}

/// What a node tells the cluster about itself.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct NodeMeta {
    pub id: u64,
    /// Where clients reach the node (RESP).
    pub client_addr: SocketAddr,
    /// Where peers reach the node: TCP for RPC, UDP (same port) for gossip.
    pub peer_addr: SocketAddr,
    pub zone: String,
    pub weight: u32,
    pub state: NodeState,
    /// The snowflake worker the node holds or is claiming, if any.
    pub id_worker: Option<WorkerClaim>,
}

/// A node as seen from here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub meta: NodeMeta,
    /// Reachable according to failure detection.
    pub alive: bool,
    /// When `alive` last changed (or when the node was first learnt).
    pub since: Instant,
}

/// SWIM identity: the metadata plus a generation. Identities sharing a peer
/// address are incarnations of one node slot; the higher generation wins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct NodeIdentity {
    pub meta: NodeMeta,
    pub generation: u64,
}

impl NodeIdentity {
    /// Stand-in destination for announcing to an address whose node is not
    /// known yet; only its address is meaningful.
    pub fn placeholder(peer_addr: SocketAddr) -> Self {
        Self {
            meta: NodeMeta {
                id: 0,
                client_addr: peer_addr,
                peer_addr,
                zone: String::new(),
                weight: 0,
                state: NodeState::Joining,
                id_worker: None,
            },
            generation: 0,
        }
    }
}

impl Identity for NodeIdentity {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        Some(Self {
            meta: self.meta.clone(),
            generation: self.generation.wrapping_add(1),
        })
    }

    fn addr(&self) -> SocketAddr {
        self.meta.peer_addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.generation > adversary.generation
    }
}

/// Membership settings. The defaults declare a killed node down in about
/// 2–4 s on a quiet LAN (checked on a simulated clock by the `driver`
/// tests) and see a returning node within about 1 s, the seed re-announce
/// period.
#[derive(Debug, Clone)]
pub struct MembershipConfig {
    pub probe_period: Duration,
    /// Must be shorter than `probe_period`.
    pub probe_rtt: Duration,
    pub suspect_to_down: Duration,
    pub gossip_period: Duration,
    pub seed_announce_period: Duration,
    pub max_packet_bytes: usize,
    /// How many times one update is piggybacked before it is dropped.
    pub max_transmissions: u8,
    /// RNG seed; mixed with the node id so nodes sharing a config diverge.
    pub seed: u64,
    /// The network the UDP socket lives on: the OS's, or a simulator's.
    pub net: Net,
}

impl Default for MembershipConfig {
    fn default() -> Self {
        Self {
            probe_period: DEFAULT_PROBE_PERIOD,
            probe_rtt: DEFAULT_PROBE_RTT,
            suspect_to_down: DEFAULT_SUSPECT_TO_DOWN,
            gossip_period: DEFAULT_GOSSIP_PERIOD,
            seed_announce_period: DEFAULT_SEED_ANNOUNCE_PERIOD,
            max_packet_bytes: DEFAULT_MAX_PACKET_BYTES,
            max_transmissions: 8,
            seed: 0x5157_494d_5249_4e47,
            net: Net::Os,
        }
    }
}

impl MembershipConfig {
    pub(crate) fn to_foca(&self) -> io::Result<foca::Config> {
        let invalid = |what: &str| io::Error::new(io::ErrorKind::InvalidInput, what.to_string());
        if self.probe_period.is_zero() || self.probe_rtt >= self.probe_period {
            return Err(invalid(
                "probe_rtt must be shorter than a non-zero probe_period",
            ));
        }
        if self.suspect_to_down.is_zero() || self.gossip_period.is_zero() {
            return Err(invalid(
                "suspect_to_down and gossip_period must be non-zero",
            ));
        }
        let one = NonZeroUsize::MIN;
        Ok(foca::Config {
            probe_period: self.probe_period,
            probe_rtt: self.probe_rtt,
            num_indirect_probes: NonZeroUsize::new(3).unwrap_or(one),
            max_transmissions: NonZeroU8::new(self.max_transmissions).unwrap_or(NonZeroU8::MIN),
            suspect_to_down_after: self.suspect_to_down,
            remove_down_after: Some(REMOVE_DOWN_AFTER),
            max_packet_size: NonZeroUsize::new(self.max_packet_bytes)
                .ok_or_else(|| invalid("max_packet_bytes must be non-zero"))?,
            notify_down_members: true,
            periodic_announce: Some(PeriodicParams {
                frequency: PERIODIC_ANNOUNCE_PERIOD,
                num_members: one,
            }),
            periodic_announce_to_down_members: Some(PeriodicParams {
                frequency: ANNOUNCE_TO_DOWN_PERIOD,
                num_members: NonZeroUsize::new(2).unwrap_or(one),
            }),
            periodic_gossip: Some(PeriodicParams {
                frequency: self.gossip_period,
                num_members: NonZeroUsize::new(3).unwrap_or(one),
            }),
        })
    }
}

/// Membership counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MembershipStats {
    pub packets_sent: u64,
    pub packets_received: u64,
    pub bytes_sent: u64,
    pub bytes_received: u64,
    /// Datagrams foca refused (malformed, oversized, not for us).
    pub packets_rejected: u64,
    pub probes: u64,
    pub indirect_probes: u64,
    pub suspicions: u64,
    /// Other nodes currently alive / down in the table.
    pub members_up: usize,
    pub members_down: usize,
}

#[derive(Default)]
struct Counters {
    packets_sent: AtomicU64,
    packets_received: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    packets_rejected: AtomicU64,
    probes: AtomicU64,
    indirect_probes: AtomicU64,
    suspicions: AtomicU64,
}

struct Entry {
    meta: NodeMeta,
    generation: u64,
    alive: bool,
    since: Instant,
}

/// The membership table; written only by the membership task (and `forget`).
#[derive(Default)]
struct Table {
    nodes: HashMap<u64, Entry>,
    /// Generation at which a node declared `left`.
    left: HashMap<u64, u64>,
}

impl Table {
    fn mark_left(&mut self, ident: &NodeIdentity) -> bool {
        let id = ident.meta.id;
        let tomb = self.left.entry(id).or_insert(ident.generation);
        *tomb = (*tomb).max(ident.generation);
        match self.nodes.get(&id) {
            Some(e) if e.generation <= ident.generation => self.nodes.remove(&id).is_some(),
            _ => false,
        }
    }

    fn is_left(&self, ident: &NodeIdentity) -> bool {
        self.left
            .get(&ident.meta.id)
            .is_some_and(|g| *g >= ident.generation)
    }

    /// An incarnation was seen alive. Returns whether the table changed.
    fn up(&mut self, ident: &NodeIdentity, now: Instant) -> bool {
        if ident.meta.state == NodeState::Left {
            return self.mark_left(ident);
        }
        if self.is_left(ident) {
            return false;
        }
        match self.nodes.get_mut(&ident.meta.id) {
            None => {
                self.nodes.insert(
                    ident.meta.id,
                    Entry {
                        meta: ident.meta.clone(),
                        generation: ident.generation,
                        alive: true,
                        since: now,
                    },
                );
                true
            }
            Some(e) if ident.generation < e.generation => false,
            Some(e) => {
                let changed = !e.alive || e.generation != ident.generation || e.meta != ident.meta;
                if !e.alive {
                    e.alive = true;
                    e.since = now;
                }
                e.generation = ident.generation;
                e.meta = ident.meta.clone();
                changed
            }
        }
    }

    /// An incarnation was declared down. Returns whether the table changed.
    fn down(&mut self, ident: &NodeIdentity, now: Instant) -> bool {
        if ident.meta.state == NodeState::Left {
            return self.mark_left(ident);
        }
        match self.nodes.get_mut(&ident.meta.id) {
            Some(e) if ident.generation >= e.generation => {
                let changed = e.alive || e.generation != ident.generation;
                if e.alive {
                    e.alive = false;
                    e.since = now;
                }
                e.generation = ident.generation;
                e.meta = ident.meta.clone();
                changed
            }
            _ => false,
        }
    }
}

enum Command {
    /// Announce new local metadata under the next generation.
    ChangeMeta(NodeMeta),
    /// Announce to an address and keep re-announcing to it until it is a member (a seed
    /// given at run time).
    AddSeed(SocketAddr),
    /// Stop; with `leaving` (the local metadata in state `Left`), announce it
    /// first so peers drop the node.
    Shutdown {
        leaving: Option<NodeMeta>,
        ack: oneshot::Sender<()>,
    },
}

struct Shared {
    local: Mutex<NodeMeta>,
    started: Instant,
    table: Mutex<Table>,
    generation: watch::Sender<u64>,
    counters: Counters,
}

impl Shared {
    fn bump(&self) {
        self.generation.send_modify(|g| *g = g.wrapping_add(1));
    }
}

struct Inner {
    shared: Arc<Shared>,
    commands: mpsc::UnboundedSender<Command>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Drop for Inner {
    /// Dropping the last handle stops the node without a goodbye, exactly
    /// like a crash as far as the rest of the cluster can tell.
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().take() {
            task.abort();
        }
    }
}

/// A running membership node. Cheap to clone; dropping the last clone stops
/// it abruptly (peers notice only by failure detection), while
/// [`Membership::shutdown`] and [`Membership::leave`] tell the peers first.
#[derive(Clone)]
pub struct Membership {
    inner: Arc<Inner>,
}

impl Membership {
    /// Binds the UDP socket at `bind` and joins through `seeds` (peer
    /// addresses; gossip uses the same port numbers over UDP). If
    /// `local.peer_addr` has port 0 it is replaced by the bound address.
    pub async fn start(
        mut local: NodeMeta,
        bind: SocketAddr,
        seeds: Vec<SocketAddr>,
        config: MembershipConfig,
    ) -> io::Result<Membership> {
        if local.zone.len() > MAX_ZONE_BYTES {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("zone name longer than {MAX_ZONE_BYTES} bytes"),
            ));
        }
        let foca_config = config.to_foca()?;
        let socket = config.net.bind_udp(bind).await?;
        let bound = socket.local_addr()?;
        if local.peer_addr.port() == 0 {
            local.peer_addr = bound;
        }
        let identity = NodeIdentity {
            meta: local.clone(),
            generation: driver::initial_generation(),
        };
        let rng_seed = config.seed ^ local.id.rotate_left(29);
        let driver = Driver::new(identity, foca_config, rng_seed);

        let (generation, _) = watch::channel(0u64);
        let shared = Arc::new(Shared {
            local: Mutex::new(local.clone()),
            started: now(),
            table: Mutex::new(Table::default()),
            generation,
            counters: Counters::default(),
        });
        let seeds: Vec<SocketAddr> = seeds
            .into_iter()
            .filter(|s| *s != local.peer_addr && *s != bound)
            .collect();
        let (commands, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(driver, socket, seeds, config, shared.clone(), rx));
        Ok(Membership {
            inner: Arc::new(Inner {
                shared,
                commands,
                task: Mutex::new(Some(task)),
            }),
        })
    }

    /// This node's current metadata.
    pub fn local(&self) -> NodeMeta {
        self.inner.shared.local.lock().clone()
    }

    /// Every node learnt so far, this one included, except nodes that left.
    /// Unreachable nodes stay with `alive == false` until [`Self::forget`].
    pub fn members(&self) -> Vec<Member> {
        let shared = &self.inner.shared;
        let local = shared.local.lock().clone();
        let mut out = vec![Member {
            meta: local,
            alive: true,
            since: shared.started,
        }];
        let table = shared.table.lock();
        out.extend(table.nodes.values().map(|e| Member {
            meta: e.meta.clone(),
            alive: e.alive,
            since: e.since,
        }));
        out.sort_by_key(|m| m.meta.id);
        out
    }

    /// A counter bumped on every change of `members()`.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.inner.shared.generation.subscribe()
    }

    /// Changes this node's metadata and announces it to the cluster. The
    /// id is fixed: a change to it is ignored.
    pub fn update_local(&self, f: impl FnOnce(&mut NodeMeta)) {
        let shared = &self.inner.shared;
        let meta = {
            let mut local = shared.local.lock();
            let id = local.id;
            let before = local.clone();
            f(&mut local);
            local.id = id;
            let keep = floor_char_boundary(&local.zone, MAX_ZONE_BYTES);
            local.zone.truncate(keep);
            if *local == before {
                return;
            }
            local.clone()
        };
        shared.bump();
        let _ = self.inner.commands.send(Command::ChangeMeta(meta));
    }

    /// Drops a node that is down from the table. Alive nodes are kept.
    pub fn forget(&self, id: u64) {
        let removed = {
            let mut table = self.inner.shared.table.lock();
            match table.nodes.get(&id) {
                Some(e) if !e.alive => table.nodes.remove(&id).is_some(),
                _ => false,
            }
        };
        if removed {
            self.inner.shared.bump();
        }
    }

    /// Snapshot of the counters.
    pub fn stats(&self) -> MembershipStats {
        let shared = &self.inner.shared;
        let c = &shared.counters;
        let (up, down) = {
            let table = shared.table.lock();
            let up = table.nodes.values().filter(|e| e.alive).count();
            (up, table.nodes.len() - up)
        };
        MembershipStats {
            packets_sent: c.packets_sent.load(Ordering::Relaxed),
            packets_received: c.packets_received.load(Ordering::Relaxed),
            bytes_sent: c.bytes_sent.load(Ordering::Relaxed),
            bytes_received: c.bytes_received.load(Ordering::Relaxed),
            packets_rejected: c.packets_rejected.load(Ordering::Relaxed),
            probes: c.probes.load(Ordering::Relaxed),
            indirect_probes: c.indirect_probes.load(Ordering::Relaxed),
            suspicions: c.suspicions.load(Ordering::Relaxed),
            members_up: up,
            members_down: down,
        }
    }

    /// Joins through `seed` at run time (as a start-up seed would: announced now and again
    /// every `seed_announce_period` until it is a member).
    pub fn add_seed(&self, seed: SocketAddr) {
        let _ = self.inner.commands.send(Command::AddSeed(seed));
    }

    /// Stops gossiping. Peers see the node go down (as after a crash, but at once) and keep
    /// it in their tables: a node that is restarted is the same member, still owning its data.
    pub async fn shutdown(&self) {
        self.stop(None).await;
    }

    /// Announces `Left`, leaves the cluster and stops: peers drop the node from their tables
    /// instead of marking it down. For a node that handed its data off for good.
    pub async fn leave(&self) {
        let leaving = {
            let mut local = self.inner.shared.local.lock();
            local.state = NodeState::Left;
            local.clone()
        };
        self.stop(Some(leaving)).await;
    }

    async fn stop(&self, leaving: Option<NodeMeta>) {
        let (ack, done) = oneshot::channel();
        if self
            .inner
            .commands
            .send(Command::Shutdown { leaving, ack })
            .is_ok()
        {
            let _ = tokio::time::timeout(SHUTDOWN_WAIT, done).await;
        }
        let task = self.inner.task.lock().take();
        if let Some(task) = task {
            task.abort();
            let _ = task.await;
        }
    }
}

/// Largest index `<= max` that is a char boundary of `s`.
fn floor_char_boundary(s: &str, max: usize) -> usize {
    if s.len() <= max {
        return s.len();
    }
    (0..=max)
        .rev()
        .find(|i| s.is_char_boundary(*i))
        .unwrap_or(0)
}

/// The membership clock: Tokio's, so paused-time tests and a network simulator drive it.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// The membership task: the only owner of the socket and the driver.
async fn run(
    mut driver: Driver,
    socket: Datagrams,
    mut seeds: Vec<SocketAddr>,
    config: MembershipConfig,
    shared: Arc<Shared>,
    mut commands: mpsc::UnboundedReceiver<Command>,
) {
    // One byte more than the limit, so an oversized datagram is seen as such
    // (and refused by foca) rather than silently truncated into a valid one.
    let mut buf = vec![0u8; config.max_packet_bytes + 1];
    let mut fx = Effects::default();
    let far = Duration::from_secs(3600);

    for seed in &seeds {
        driver.announce(now(), *seed, &mut fx);
    }
    apply(&socket, &shared, &mut fx).await;

    let mut seed_tick = tokio::time::interval(config.seed_announce_period);
    seed_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);

    loop {
        let deadline = driver
            .next_deadline()
            .map(tokio::time::Instant::from_std)
            .unwrap_or_else(|| tokio::time::Instant::now() + far);
        // `biased`: branches are polled in this order rather than at random,
        // so a simulated run is reproducible from its seed; timers come
        // first and commands second so a flood of datagrams cannot starve failure
        // detection or a shutdown.
        tokio::select! {
            biased;
            _ = tokio::time::sleep_until(deadline) => {
                driver.fire_due(now(), &mut fx);
            }
            command = commands.recv() => match command {
                Some(Command::ChangeMeta(meta)) => driver.change_meta(now(), meta, &mut fx),
                Some(Command::AddSeed(seed)) => {
                    if !seeds.contains(&seed) {
                        seeds.push(seed);
                    }
                    driver.announce(now(), seed, &mut fx);
                }
                Some(Command::Shutdown { leaving, ack }) => {
                    if let Some(meta) = leaving {
                        driver.change_meta(now(), meta, &mut fx);
                    }
                    driver.leave(now(), &mut fx);
                    apply(&socket, &shared, &mut fx).await;
                    let _ = ack.send(());
                    return;
                }
                None => return,
            },
            _ = seed_tick.tick() => {
                let members = driver.active_peer_addrs();
                for seed in seeds.iter().filter(|s| !members.contains(s)) {
                    driver.announce(now(), *seed, &mut fx);
                }
            }
            received = socket.recv_from(&mut buf) => {
                // Errors here are per-datagram (e.g. ICMP reports); keep going.
                if let Ok((n, _from)) = received {
                    let c = &shared.counters;
                    c.packets_received.fetch_add(1, Ordering::Relaxed);
                    c.bytes_received.fetch_add(n as u64, Ordering::Relaxed);
                    let data = buf.get(..n).unwrap_or_default();
                    if let Err(e) = driver.handle_data(now(), data, &mut fx) {
                        c.packets_rejected.fetch_add(1, Ordering::Relaxed);
                        tracing::trace!(error = %e, "membership packet refused");
                    }
                }
            }
        }
        apply(&socket, &shared, &mut fx).await;
    }
}

/// Sends the driver's packets and folds its notifications into the table.
async fn apply(socket: &Datagrams, shared: &Shared, fx: &mut Effects) {
    let c = &shared.counters;
    c.probes
        .fetch_add(std::mem::take(&mut fx.probes), Ordering::Relaxed);
    c.indirect_probes
        .fetch_add(std::mem::take(&mut fx.indirect_probes), Ordering::Relaxed);
    c.suspicions
        .fetch_add(std::mem::take(&mut fx.suspicions), Ordering::Relaxed);

    if !fx.notifications.is_empty() {
        let now = now();
        let local_id = shared.local.lock().id;
        let changed = {
            let mut table = shared.table.lock();
            let mut changed = false;
            for n in fx.notifications.drain(..) {
                changed |= match n {
                    OwnedNotification::MemberUp(id) if id.meta.id != local_id => table.up(&id, now),
                    OwnedNotification::MemberDown(id) if id.meta.id != local_id => {
                        table.down(&id, now)
                    }
                    OwnedNotification::Rename(old, new) => {
                        // Two identities at one address: if they are different
                        // nodes, the old one is gone from that address.
                        let mut changed = false;
                        if old.meta.id != new.meta.id && old.meta.id != local_id {
                            changed |= table.down(&old, now);
                        }
                        if new.meta.id != local_id {
                            changed |= table.up(&new, now);
                        }
                        changed
                    }
                    OwnedNotification::Rejoin(id) => {
                        tracing::info!(
                            generation = id.generation,
                            "rejoined the cluster after being declared down"
                        );
                        false
                    }
                    OwnedNotification::Idle => {
                        tracing::debug!("no active members");
                        false
                    }
                    OwnedNotification::Defunct => {
                        tracing::debug!("membership defunct");
                        false
                    }
                    _ => false,
                };
            }
            changed
        };
        if changed {
            shared.bump();
        }
    }

    for (to, data) in fx.sends.drain(..) {
        match socket.send_to(&data, to).await {
            Ok(n) => {
                c.packets_sent.fetch_add(1, Ordering::Relaxed);
                c.bytes_sent.fetch_add(n as u64, Ordering::Relaxed);
            }
            Err(e) => tracing::trace!(%to, error = %e, "membership send failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ident(id: u64, generation: u64, state: NodeState, weight: u32) -> NodeIdentity {
        let addr: SocketAddr = "127.0.0.1:7000".parse().unwrap();
        NodeIdentity {
            meta: NodeMeta {
                id,
                client_addr: addr,
                peer_addr: addr,
                zone: String::new(),
                weight,
                state,
                id_worker: None,
            },
            generation,
        }
    }

    #[test]
    fn newest_generation_wins() {
        let now = Instant::now();
        let mut t = Table::default();
        assert!(t.up(&ident(1, 5, NodeState::Up, 1), now));
        // Older incarnation: neither its metadata nor its death counts.
        assert!(!t.up(&ident(1, 4, NodeState::Up, 9), now));
        assert!(!t.down(&ident(1, 4, NodeState::Up, 1), now));
        assert!(t.nodes[&1].alive && t.nodes[&1].meta.weight == 1);
        // Same incarnation down, then a newer one up.
        assert!(t.down(&ident(1, 5, NodeState::Up, 1), now));
        assert!(!t.nodes[&1].alive);
        assert!(t.up(&ident(1, 6, NodeState::Leaving, 2), now));
        let e = &t.nodes[&1];
        assert!(e.alive && e.generation == 6 && e.meta.state == NodeState::Leaving);
        // Repeating what is known changes nothing.
        assert!(!t.up(&ident(1, 6, NodeState::Leaving, 2), now));
    }

    #[test]
    fn left_nodes_are_dropped_until_a_newer_incarnation() {
        let now = Instant::now();
        let mut t = Table::default();
        t.up(&ident(2, 10, NodeState::Up, 1), now);
        assert!(t.down(&ident(2, 11, NodeState::Left, 1), now));
        assert!(!t.nodes.contains_key(&2));
        // Stale gossip about the incarnation before the leave.
        assert!(!t.up(&ident(2, 10, NodeState::Up, 1), now));
        assert!(!t.nodes.contains_key(&2));
        // A restart comes back.
        assert!(t.up(&ident(2, 12, NodeState::Joining, 1), now));
        assert!(t.nodes[&2].alive);
    }

    #[test]
    fn identity_renew_and_conflicts() {
        let a = ident(3, 1, NodeState::Up, 1);
        let b = a.renew().unwrap();
        assert_eq!(b.generation, 2);
        assert_eq!(a.addr(), b.addr());
        assert!(b.win_addr_conflict(&a) && !a.win_addr_conflict(&b));
    }
}
