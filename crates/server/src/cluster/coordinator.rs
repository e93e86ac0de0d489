//! Coordinating requests: where each command runs, quorum waits, forwarding, read merge and
//! repair, split multi-key commands, and the peer RPC handler (Garage's rpc_helper pattern: a
//! request goes to several replicas, returns at the quorum, and stragglers finish in the
//! background; a quorum failure says how many were needed and how many answered).
//!
//! Writes: run at the partition's primary (its first live replica in ring order) under the
//! keyspace lock, so read-modify-write commands (INCR, LPUSH, HSET, CL.THROTTLE ...) are exact
//! without failures. The keys the command changed are stamped with a new version and their
//! state is shipped to the other N-1 replicas; the client is answered after W acknowledgements
//! (this node counts as one). With fewer, the client gets `-NOQUORUM` (the write may still be
//! applied where it arrived, as in Dynamo: not acknowledged does not mean not written).
//!
//! Reads: run at a replica (this node when it is one). It asks the other live replicas for the
//! versions of the keys and waits for R-1 answers; newer or concurrent versions are fetched and
//! merged locally before the command runs on the merged data; replicas found stale are sent the
//! merged state in the background (read repair).

use super::antientropy;
use super::route::{route, Route, Split, Wide, CROSSSLOT};
use super::rpc::{self, ClusterReply, ClusterRpc};
use super::state::{self, KeyState, DATA_DB};
use super::{Cluster, View};
use bytes::Bytes;
use ringkv_cluster::{
    context_from_token, context_to_token, decode_versioned, Causality, NodeId, VersionVector,
};
use ringkv_commands::{execute, Client, Ctx};
use ringkv_config::Quorum;
use ringkv_engine::ValueRef;
use ringkv_peer::{Handler, PeerError};
use ringkv_protocol::{Args, OwnedArgs, Protocol, ReplyWriter};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// A forwarded request is never forwarded more than this many times (views may briefly differ
/// while membership converges; two hops let a node that just left pass a request on).
const MAX_HOPS: u8 = 2;
/// How long a forwarded request that cannot be placed here waits for this node's view to catch
/// up with the sender's (a join or leave seen there first).
const VIEW_CATCH_UP: Duration = Duration::from_secs(1);
/// WATCHed keys of a transaction with their causal contexts as the primary saw them: the
/// primary runs the transaction only if its contexts are still exactly these.
pub type Watched = Vec<(Bytes, Bytes)>;
/// Extra time a forwarding node gives the coordinator beyond its own quorum wait.
const FORWARD_SLACK: Duration = Duration::from_millis(500);

/// Where a write's states go (see `Cluster::replicate`).
struct Targets<'a> {
    /// The owners other than this node.
    owners: &'a [NodeId],
    /// `(fallback, owner)`: a live node keeping the states as a hint for a down owner.
    stand_ins: &'a [(NodeId, NodeId)],
    /// Record a hint for an owner that does not get the states.
    hinted: bool,
}

/// Where a keyed request runs (see `Cluster::place`).
enum Place {
    /// Here; the key's preference list.
    Here(Vec<NodeId>),
    There(NodeId),
    Down(&'static str),
}

/// Per-request consistency and protocol (from the client connection or a forwarded request).
#[derive(Debug, Clone, Copy)]
pub struct Session {
    pub resp3: bool,
    pub read_quorum: Option<Quorum>,
    pub write_quorum: Option<Quorum>,
    pub hops: u8,
}

impl Session {
    /// For work a node does on its own behalf (a peer's request to flush or publish here).
    const INTERNAL: Session = Session {
        resp3: false,
        read_quorum: None,
        write_quorum: None,
        hops: 0,
    };

    /// The same session answering in RESP2 (for replies this node parses itself).
    fn resp2(self) -> Session {
        Session {
            resp3: false,
            ..self
        }
    }

    fn proto(&self) -> Protocol {
        if self.resp3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        }
    }
}

fn quorum_code(q: Option<Quorum>) -> u8 {
    match q {
        None => 0,
        Some(Quorum::Count(n)) => n.min(16) as u8,
        Some(Quorum::One) => 253,
        Some(Quorum::Majority) => 254,
        Some(Quorum::All) => 255,
    }
}

fn quorum_from_code(c: u8) -> Option<Quorum> {
    match c {
        0 => None,
        253 => Some(Quorum::One),
        254 => Some(Quorum::Majority),
        255 => Some(Quorum::All),
        n => Some(Quorum::Count(n.into())),
    }
}

fn owned(args: Args<'_>) -> Vec<Bytes> {
    args.iter().map(Bytes::copy_from_slice).collect()
}

fn error_reply(proto: Protocol, msg: &str) -> Vec<u8> {
    let mut w = ReplyWriter::new(proto);
    w.error(msg.as_bytes());
    std::mem::take(w.buffer_mut())
}

/// A null array: EXEC's reply when WATCH aborted it, a blocking command's on timeout.
fn null_array_reply(proto: Protocol) -> Vec<u8> {
    let mut w = ReplyWriter::new(proto);
    w.null_array();
    std::mem::take(w.buffer_mut())
}

fn no_quorum(needed: usize, of: usize, answered: usize) -> String {
    format!("NOQUORUM needed {needed} of {of} replicas, {answered} answered")
}

/// A keyed command detached from its connection (see `Cluster::prepare`).
pub struct Detached {
    /// Commands of one connection on one partition run in order; on different partitions
    /// they may overlap.
    pub partition: u32,
    pub reply: std::pin::Pin<Box<dyn std::future::Future<Output = Vec<u8>> + Send + 'static>>,
}

/// How a client command runs in cluster mode.
pub enum Prepared {
    /// On the keys of one partition, needing nothing of its connection but the consistency
    /// levels and protocol: a future that coordinates it and yields its reply. A connection may
    /// overlap the replica round trips of such pipelined commands on different partitions, as
    /// pipelining to different Redis Cluster nodes does.
    Detached(Detached),
    /// Runs in order with the connection's own state: pass it to `Cluster::run_inline`.
    Inline(Inline),
}

/// A command that runs in order on its connection (see `Prepared`).
pub enum Inline {
    /// Refused by the gate (arity, authentication) or queued in MULTI: the ordinary
    /// single-node path answers.
    Here,
    Routed {
        name: &'static str,
        session: Session,
        route: Route,
        /// The view the route was computed with.
        view: Arc<View>,
    },
}

impl Cluster {
    /// Decides how a client command runs (the gate's checks, its consistency levels, its
    /// route), once per command.
    pub fn prepare(self: &Arc<Self>, client: &Client, proto: Protocol, args: Args<'_>) -> Prepared {
        let spec = self.shared.commands.lookup(args.arg(0));
        // The gate's own checks (arity, authentication) and transactions being queued happen
        // on this node (loading is over before the cluster starts).
        let spec = match spec {
            Some(s)
                if s.arity_ok(args.len())
                    && client.authenticated
                    && (client.multi.is_none()
                        || matches!(s.name, "exec" | "discard" | "multi")) =>
            {
                s
            }
            _ => return Prepared::Inline(Inline::Here),
        };
        // The quorums of the node the client talks to travel with a forwarded request, so a
        // client sees the consistency its own node is configured for.
        let settings = self.settings();
        let session = Session {
            resp3: proto == Protocol::Resp3,
            read_quorum: client.read_quorum.or(Some(settings.read_quorum)),
            write_quorum: client.write_quorum.or(Some(settings.write_quorum)),
            hops: 0,
        };
        let view = self.view();
        let route = route(spec, args, &view.ring);
        let name = spec.name;
        match route {
            Route::Keyed { write, keys } => {
                let partition = keys.first().map_or(0, |k| view.ring.partition_of(k));
                let this = self.clone();
                let args = owned(args);
                Prepared::Detached(Detached {
                    partition,
                    reply: Box::pin(async move {
                        this.run_route(session, &view, Route::Keyed { write, keys }, name, args)
                            .await
                    }),
                })
            }
            route => Prepared::Inline(Inline::Routed {
                name,
                session,
                route,
                view,
            }),
        }
    }

    /// Runs a command `prepare` kept inline and appends its reply to `out`.
    pub async fn run_inline(
        self: &Arc<Self>,
        client: &mut Client,
        out: &mut ReplyWriter,
        args: Args<'_>,
        inline: Inline,
    ) {
        let Inline::Routed {
            name,
            session,
            route,
            view,
        } = inline
        else {
            return self.run_here(client, out, args);
        };
        match name {
            "exec" if client.multi.is_some() => {
                return self.exec_transaction(client, out, session).await
            }
            "watch" => {
                let keys: Vec<Bytes> = args.iter().skip(1).map(Bytes::copy_from_slice).collect();
                return self.watch(client, out, keys).await;
            }
            "unwatch" | "discard" | "reset" => client.cluster_watch.clear(),
            "cluster" if antientropy::is_command(args) => {
                match antientropy::run_now(self).await {
                    Ok(repaired) => out.integer(repaired.try_into().unwrap_or(i64::MAX)),
                    Err(e) => out.error(format!("ERR {e}").as_bytes()),
                }
                return;
            }
            _ => {}
        }
        match route {
            Route::Local => self.run_here(client, out, args),
            Route::Blocking { keys } => {
                self.block(client, out, session, name, owned(args), keys)
                    .await
            }
            planned => {
                let reply = self
                    .run_route(session, &view, planned, name, owned(args))
                    .await;
                out.buffer_mut().extend_from_slice(&reply);
            }
        }
    }

    /// Runs one client command to the end and appends its reply to `out`: `prepare`, then the
    /// detached reply awaited in place or `run_inline`. A connection that pipelines overlaps
    /// detached commands instead.
    pub async fn execute(
        self: &Arc<Self>,
        client: &mut Client,
        out: &mut ReplyWriter,
        args: Args<'_>,
    ) {
        match self.prepare(client, out.protocol(), args) {
            Prepared::Detached(d) => {
                let reply = d.reply.await;
                out.buffer_mut().extend_from_slice(&reply);
            }
            Prepared::Inline(inline) => self.run_inline(client, out, args, inline).await,
        }
    }

    /// The keyspace, locked, with its clock set.
    pub(super) fn lock_store(&self) -> parking_lot::MutexGuard<'_, ringkv_engine::Store> {
        let mut store = self.shared.store.lock();
        store.set_now(self.shared.clock.now_ms());
        store
    }

    /// The ordinary single-node path (the connection's own client, so connection state such as
    /// the client name, protocol and MULTI queue is kept).
    fn run_here(&self, client: &mut Client, out: &mut ReplyWriter, args: Args<'_>) {
        let shared = &self.shared;
        let mut store = self.lock_store();
        let mut ctx = Ctx {
            store: &mut store,
            shared,
            client,
            out,
        };
        execute(&mut ctx, args);
        ringkv_commands::aof::flush_oplog(&mut store, &shared.persistence.aof);
    }

    /// Coordinates a forwarded command: routed again here, run locally when node-local.
    async fn coordinate(self: &Arc<Self>, session: Session, args: Vec<Bytes>) -> Vec<u8> {
        let view = self.view();
        let planned = {
            let owned_args = OwnedArgs::from_slices(args.iter());
            let a = owned_args.args();
            self.shared
                .commands
                .lookup(a.arg(0))
                .map(|spec| (spec.name, route(spec, a, &view.ring)))
        };
        match planned {
            Some((name, planned)) if planned != Route::Local => {
                self.run_route(session, &view, planned, name, args).await
            }
            _ => self
                .exec_local(session, &[args], false)
                .0
                .pop()
                .unwrap_or_default(),
        }
    }

    /// Runs a command whose route is not node-local.
    async fn run_route(
        self: &Arc<Self>,
        session: Session,
        view: &View,
        planned: Route,
        name: &str,
        args: Vec<Bytes>,
    ) -> Vec<u8> {
        let proto = session.proto();
        match planned {
            Route::Local => self
                .exec_local(session, &[args], false)
                .0
                .pop()
                .unwrap_or_default(),
            Route::Refused(msg) => error_reply(proto, msg),
            Route::CrossSlot => error_reply(proto, CROSSSLOT),
            // Only a client connection can wait (see `block`); a forwarded one was already
            // turned into a non-blocking attempt.
            Route::Blocking { .. } => error_reply(proto, "ERR blocking command forwarded"),
            Route::Keyed { write: true, keys } => self.write(session, view, args, keys).await,
            Route::Keyed { write: false, keys } => self.read(session, view, args, keys).await,
            Route::Split(kind) => self.split(session, view, args, name, kind).await,
            Route::Wide(kind) => self.wide(session, view, args, kind).await,
        }
    }

    // -----------------------------------------------------------------------------------------
    // Writes

    async fn write(
        self: &Arc<Self>,
        session: Session,
        view: &View,
        args: Vec<Bytes>,
        keys: Vec<Bytes>,
    ) -> Vec<u8> {
        let (newer, placed) = self.place_settled(session, view, &keys[0], true).await;
        let view = newer.as_deref().unwrap_or(view);
        match placed {
            Place::Here(_) => {}
            Place::There(to) => return self.forward_one(session, view, to, args).await,
            Place::Down(msg) => return error_reply(session.proto(), msg),
        };
        self.write_as_primary(session, view, &keys[0], vec![args], &[])
            .await
            .pop()
            .unwrap_or_default()
    }

    /// Where a request for `key` runs: writes at the primary (the first live replica), reads at
    /// any replica. A forwarded request is accepted by any replica rather than bounced around
    /// while views converge.
    fn place(&self, session: Session, view: &View, key: &[u8], write: bool) -> Place {
        let owners = view.ring.owners_of_key(key);
        let is_owner = owners.contains(&self.node);
        let primary = view.primary(key);
        let here = is_owner && (!write || primary == Some(self.node) || session.hops >= MAX_HOPS);
        match primary {
            _ if here => Place::Here(owners.to_vec()),
            Some(_) if session.hops >= MAX_HOPS => {
                Place::Down("CLUSTERDOWN this node does not replicate the key")
            }
            Some(to) => Place::There(to),
            None => Place::Down("CLUSTERDOWN no live replica for this key"),
        }
    }

    /// `place`, except that a forwarded request that cannot be placed waits (at most
    /// `VIEW_CATCH_UP`) for this node's view to change, and is placed with the newer view
    /// (returned) when that helps.
    async fn place_settled(
        &self,
        session: Session,
        view: &View,
        key: &[u8],
        write: bool,
    ) -> (Option<Arc<View>>, Place) {
        let placed = self.place(session, view, key, write);
        if session.hops == 0 || !matches!(placed, Place::Down(_)) {
            return (None, placed);
        }
        let deadline = tokio::time::Instant::now() + VIEW_CATCH_UP;
        let mut seen = view.generation;
        while tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let newer = self.view();
            if newer.generation != seen {
                seen = newer.generation;
                let again = self.place(session, &newer, key, write);
                if !matches!(again, Place::Down(_)) {
                    return (Some(newer), again);
                }
            }
        }
        (None, placed)
    }

    async fn forward_one(
        self: &Arc<Self>,
        session: Session,
        view: &View,
        to: NodeId,
        args: Vec<Bytes>,
    ) -> Vec<u8> {
        self.forward(session, view, to, vec![args], Watched::new())
            .await
            .pop()
            .unwrap_or_default()
    }

    /// Runs commands (one, or MULTI ... EXEC) on `key`'s partition here and replicates the keys
    /// they changed: to the partition's owners, and during a join or leave also to its owners
    /// to be, with W acknowledgements needed among each. Returns one reply per command.
    async fn write_as_primary(
        self: &Arc<Self>,
        session: Session,
        view: &View,
        key: &[u8],
        commands: Vec<Vec<Bytes>>,
        watched: &[(Bytes, Bytes)],
    ) -> Vec<Vec<u8>> {
        let settings = self.settings();
        let proto = session.proto();
        let quorum = session.write_quorum.unwrap_or(settings.write_quorum);
        let owners = view.ring.owners_of_key(key);
        let target = view
            .target
            .as_ref()
            .map(|t| t.owners_of_key(key))
            .filter(|t| *t != owners);
        let (mut replies, states, logged_to) = self.exec_batch(session, &commands, true, watched);
        self.stats
            .coordinated_writes
            .fetch_add(1, Ordering::Relaxed);
        self.wait_durable(logged_to).await;
        if states.is_empty() {
            return replies;
        }
        let sets: Vec<(&[NodeId], usize)> = std::iter::once(owners)
            .chain(target)
            .map(|set| (set, quorum.resolve(set.len())))
            .collect();
        let mut others: Vec<NodeId> = Vec::with_capacity(owners.len() * 2);
        for id in sets.iter().flat_map(|(set, _)| set.iter()) {
            if *id != self.node && !others.contains(id) {
                others.push(*id);
            }
        }
        let stand_ins = if settings.sloppy_quorum {
            self.stand_ins(view, key, &others)
        } else {
            Vec::new()
        };
        let me = self.node;
        let acked_in = |set: &[NodeId], acked: &[NodeId]| {
            set.iter()
                .filter(|id| **id == me || acked.contains(id))
                .count()
        };
        let acked = self
            .replicate(
                view,
                Targets {
                    owners: &others,
                    stand_ins: &stand_ins,
                    hinted: settings.hinted_handoff,
                },
                states,
                |acked| sets.iter().all(|(set, w)| acked_in(set, acked) >= *w),
                settings.timeout,
            )
            .await;
        if stand_ins.iter().any(|(_, owner)| acked.contains(owner)) {
            self.hints.sloppy_writes.fetch_add(1, Ordering::Relaxed);
        }
        if let Some((set, w)) = sets.iter().find(|(set, w)| acked_in(set, &acked) < *w) {
            self.stats.quorum_failures.fetch_add(1, Ordering::Relaxed);
            if let Some(last) = replies.last_mut() {
                *last = error_reply(proto, &no_quorum(*w, set.len(), acked_in(set, &acked)));
            }
        }
        replies
    }

    /// Under `appendfsync always`, waits until this node's log covers the write.
    pub(super) async fn wait_durable(&self, logged_to: Option<u64>) {
        if let Some(offset) = logged_to {
            let aof = &self.shared.persistence.aof;
            if aof.must_wait(offset) {
                aof.wait_durable(offset).await;
            }
        }
    }

    /// Executes commands on the local keyspace with the node's scratch client, in one lock. With
    /// `stamp`, every key the commands changed gets a new version and its state is returned for
    /// shipping.
    fn exec_local(
        &self,
        session: Session,
        commands: &[Vec<Bytes>],
        stamp: bool,
    ) -> (Vec<Vec<u8>>, Vec<KeyState>, Option<u64>) {
        self.exec_batch(session, commands, stamp, &[])
    }

    /// `exec_local` of a transaction guarded by WATCH: when a watched key's context changed,
    /// nothing runs and the last reply (EXEC's) is a null array, as Redis answers.
    fn exec_batch(
        &self,
        session: Session,
        commands: &[Vec<Bytes>],
        stamp: bool,
        watched: &[(Bytes, Bytes)],
    ) -> (Vec<Vec<u8>>, Vec<KeyState>, Option<u64>) {
        let shared = &self.shared;
        let cfg = self.settings().state;
        let mut replies = Vec::with_capacity(commands.len());
        let mut states = Vec::new();
        let mut store = self.lock_store();
        let now = store.now_ms();
        let mut client = self.scratch.lock();
        if stamp {
            store.common.changes.start();
        }
        let mut commands = commands;
        if !watch_holds(&mut store, &cfg, watched) {
            replies.resize(commands.len().saturating_sub(1), Vec::new());
            replies.push(null_array_reply(session.proto()));
            commands = &[];
        }
        for cmd in commands {
            let args = OwnedArgs::from_slices(cmd.iter());
            let mut out = ReplyWriter::new(session.proto());
            let is_vset = cmd.first().is_some_and(|n| n.eq_ignore_ascii_case(b"vset"));
            if is_vset {
                let (reply, st) = self.vset_local(&mut store, &cfg, &args, now, session.proto());
                states.extend(st);
                replies.push(reply);
                continue;
            }
            let mut ctx = Ctx {
                store: &mut store,
                shared,
                client: &mut client,
                out: &mut out,
            };
            execute(&mut ctx, args.args());
            replies.push(std::mem::take(out.buffer_mut()));
        }
        if stamp {
            for (db, k) in store.common.changes.finish() {
                if db == DATA_DB && !states.iter().any(|s| s.key[..] == k[..]) {
                    states.push(state::stamp_write(&mut store, &cfg, &k, now));
                }
            }
        }
        let logged_to = ringkv_commands::aof::flush_oplog(&mut store, &shared.persistence.aof);
        (replies, states, logged_to)
    }

    /// The fallbacks of a sloppy quorum for `key`'s write: one live node of the partition's
    /// extended preference list (`Ring::fallbacks`) per owner in `owners` that is down, as
    /// `(fallback, owner)` pairs.
    fn stand_ins(&self, view: &View, key: &[u8], owners: &[NodeId]) -> Vec<(NodeId, NodeId)> {
        let down: Vec<NodeId> = owners
            .iter()
            .copied()
            .filter(|id| !view.is_alive(*id))
            .collect();
        if down.is_empty() {
            return Vec::new();
        }
        let partition = view.ring.partition_of(key);
        let fallbacks = view
            .ring
            .fallbacks(partition)
            .into_iter()
            .filter(|id| *id != self.node && !owners.contains(id) && view.is_alive(*id));
        fallbacks.zip(down).collect()
    }

    /// Sends states to replicas (and to the stand-ins of down owners, as hints); returns the
    /// owners that acknowledged, a stand-in's acknowledgement counting for the owner it stands
    /// in for, once `enough` says so (or all answered, or the timeout). Slower replicas still
    /// receive them in the background. With `hinted`, an owner that cannot be sent the states,
    /// or does not acknowledge them, is owed them: a hint records it (`hints`).
    async fn replicate(
        self: &Arc<Self>,
        view: &View,
        to: Targets<'_>,
        states: Vec<KeyState>,
        enough: impl Fn(&[NodeId]) -> bool,
        timeout: Duration,
    ) -> Vec<NodeId> {
        let count = states.len();
        // Only a hint needs the keys after the states are sent (with hinted handoff off, no
        // allocation for them).
        let keys: Option<Arc<[Bytes]>> = to
            .hinted
            .then(|| states.iter().map(|s| s.key.clone()).collect());
        let mut sends = Vec::with_capacity(to.owners.len());
        let mut applies = Vec::with_capacity(to.owners.len());
        for &owner in to.owners {
            if let Some(&(fallback, _)) = to.stand_ins.iter().find(|(_, o)| *o == owner) {
                let hint = ClusterRpc::Hint {
                    target: owner.0,
                    states: states.clone(),
                };
                sends.push((fallback, owner, rpc::encode(&hint)));
            } else if view.is_alive(owner) {
                applies.push(owner);
            } else if let Some(keys) = &keys {
                self.record_missed(owner, keys);
            }
        }
        // One encoding for every owner (a `Bytes` clone each), not one per owner.
        if !applies.is_empty() {
            let apply = rpc::encode(&ClusterRpc::Apply { states });
            sends.extend(applies.into_iter().map(|o| (o, o, apply.clone())));
        }
        let sent = sends.len();
        let (tx, mut replies) = tokio::sync::mpsc::unbounded_channel();
        for (dest, owner, msg) in sends {
            let Some(addr) = view.member(dest).map(|m| m.peer_addr) else {
                continue;
            };
            let (this, tx, keys) = (self.clone(), tx.clone(), keys.clone());
            tokio::spawn(async move {
                let applied = match this.peers.request(addr, msg, timeout).await {
                    Ok(bytes) => matches!(
                        rpc::decode::<ClusterReply>(&bytes),
                        Ok(ClusterReply::Applied { .. })
                    ),
                    Err(_) => false,
                };
                if !applied {
                    this.stats.rpc_errors.fetch_add(1, Ordering::Relaxed);
                    if let Some(keys) = &keys {
                        this.record_missed(owner, keys);
                    }
                }
                let _ = tx.send((owner, applied));
            });
        }
        drop(tx);
        self.stats
            .replicated_states
            .fetch_add((count * sent) as u64, Ordering::Relaxed);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut acked = Vec::with_capacity(sent);
        let mut answered = 0;
        while !enough(&acked) && answered < sent {
            let Ok(Some((owner, applied))) =
                tokio::time::timeout_at(deadline, replies.recv()).await
            else {
                break;
            };
            answered += 1;
            if applied {
                acked.push(owner);
            }
        }
        acked
    }

    /// Sends `msg` to every live node of `to`, one task each (so a slow node delays nobody and
    /// requests still finish after the caller stopped waiting). Returns the replies as they
    /// arrive (`None` for a failed request, also counted in `rpc_errors`) and how many were sent.
    fn fan_out(
        self: &Arc<Self>,
        view: &View,
        to: impl Iterator<Item = NodeId>,
        msg: Bytes,
        timeout: Duration,
    ) -> (
        tokio::sync::mpsc::UnboundedReceiver<(NodeId, Option<ClusterReply>)>,
        usize,
    ) {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let mut sent = 0;
        for id in to {
            let Some(m) = view.member(id).filter(|m| m.alive) else {
                continue;
            };
            let (this, addr, msg, tx) = (self.clone(), m.peer_addr, msg.clone(), tx.clone());
            sent += 1;
            tokio::spawn(async move {
                let reply = match this.peers.request(addr, msg, timeout).await {
                    Ok(bytes) => rpc::decode::<ClusterReply>(&bytes).ok(),
                    Err(_) => None,
                };
                if reply.is_none() {
                    this.stats.rpc_errors.fetch_add(1, Ordering::Relaxed);
                }
                let _ = tx.send((id, reply));
            });
        }
        (rx, sent)
    }

    async fn forward(
        self: &Arc<Self>,
        session: Session,
        view: &View,
        to: NodeId,
        commands: Vec<Vec<Bytes>>,
        watched: Watched,
    ) -> Vec<Vec<u8>> {
        let proto = session.proto();
        let n = commands.len();
        let fail = |msg: String| vec![error_reply(proto, &msg); n];
        let Some(m) = view.member(to) else {
            return fail(format!("CLUSTERDOWN node {to} is unknown"));
        };
        self.stats.forwarded.fetch_add(1, Ordering::Relaxed);
        let msg = rpc::encode(&ClusterRpc::Forward {
            resp3: session.resp3,
            read_quorum: quorum_code(session.read_quorum),
            write_quorum: quorum_code(session.write_quorum),
            hops: session.hops + 1,
            watched,
            commands,
        });
        let timeout = self.settings().timeout * 2 + FORWARD_SLACK;
        match self.peers.request(m.peer_addr, msg, timeout).await {
            Ok(bytes) => match rpc::decode::<ClusterReply>(&bytes) {
                Ok(ClusterReply::Replies(r)) if r.len() == n => {
                    r.into_iter().map(|b| b.to_vec()).collect()
                }
                Ok(ClusterReply::Error(e)) => fail(format!("ERR node {to}: {e}")),
                _ => fail(format!("ERR node {to} sent an unexpected reply")),
            },
            Err(PeerError::Timeout) => {
                self.stats.rpc_errors.fetch_add(1, Ordering::Relaxed);
                fail(format!("NOQUORUM coordinator {to} did not answer in time; the write may or may not have been applied"))
            }
            Err(e) => {
                self.stats.rpc_errors.fetch_add(1, Ordering::Relaxed);
                fail(format!("CLUSTERDOWN cannot reach coordinator {to}: {e}"))
            }
        }
    }

    // -----------------------------------------------------------------------------------------
    // Reads

    async fn read(
        self: &Arc<Self>,
        session: Session,
        view: &View,
        args: Vec<Bytes>,
        keys: Vec<Bytes>,
    ) -> Vec<u8> {
        let proto = session.proto();
        let (newer, placed) = self.place_settled(session, view, &keys[0], false).await;
        let view = newer.as_deref().unwrap_or(view);
        let owners = match placed {
            Place::Here(owners) => owners,
            Place::There(to) => return self.forward_one(session, view, to, args).await,
            Place::Down(msg) => return error_reply(proto, msg),
        };
        let settings = self.settings();
        let n = owners.len();
        let r = session
            .read_quorum
            .unwrap_or(settings.read_quorum)
            .resolve(n);
        self.stats.coordinated_reads.fetch_add(1, Ordering::Relaxed);
        if r > 1 {
            if let Err(answered) = self
                .reconcile(view, &owners, &keys, r, settings.timeout)
                .await
            {
                self.stats.quorum_failures.fetch_add(1, Ordering::Relaxed);
                return error_reply(proto, &no_quorum(r, n, answered));
            }
        }
        let is_vget = args
            .first()
            .is_some_and(|a| a.eq_ignore_ascii_case(b"vget"));
        if is_vget {
            return self.vget_local(&keys[0], proto);
        }
        let (mut replies, _, _) = self.exec_local(session, &[args], false);
        replies.pop().unwrap_or_default()
    }

    /// Compares versions with the other replicas until `r` (this node included) answered,
    /// merges newer or concurrent versions in, and repairs stale replicas in the background.
    /// `Err(answered)` when fewer than `r` answered.
    async fn reconcile(
        self: &Arc<Self>,
        view: &View,
        owners: &[NodeId],
        keys: &[Bytes],
        r: usize,
        timeout: Duration,
    ) -> Result<(), usize> {
        let cfg = self.settings().state;
        let local: Vec<VersionVector> = {
            let mut store = self.lock_store();
            state::contexts(&mut store, &cfg, keys)
        };
        let msg = rpc::encode(&ClusterRpc::Digest {
            keys: keys.to_vec(),
        });
        let others = owners.iter().copied().filter(|o| *o != self.node);
        let (mut replies, sent) = self.fan_out(view, others, msg, timeout);
        let deadline = tokio::time::Instant::now() + timeout;
        let mut answered = 1;
        let mut newer: Vec<NodeId> = Vec::new();
        let mut stale: Vec<NodeId> = Vec::new();
        let mut received = 0;
        while answered < r && received < sent {
            let Ok(Some((id, reply))) = tokio::time::timeout_at(deadline, replies.recv()).await
            else {
                break;
            };
            received += 1;
            let Some(ClusterReply::Contexts(ctxs)) = reply else {
                continue;
            };
            answered += 1;
            let mut has_newer = false;
            let mut is_stale = false;
            for (mine, theirs) in local.iter().zip(&ctxs) {
                let theirs = ringkv_cluster::decode_context(theirs).unwrap_or_default();
                match theirs.compare(mine) {
                    Causality::Equal => {}
                    Causality::Before => is_stale = true,
                    Causality::After => has_newer = true,
                    Causality::Concurrent => {
                        has_newer = true;
                        is_stale = true;
                    }
                }
            }
            if has_newer {
                newer.push(id);
            }
            if is_stale {
                stale.push(id);
            }
        }
        if answered < r {
            return Err(answered);
        }
        if !newer.is_empty() {
            let fetch = rpc::encode(&ClusterRpc::Fetch {
                keys: keys.to_vec(),
            });
            for id in &newer {
                let Some(m) = view.member(*id) else { continue };
                if let Ok(Ok(ClusterReply::States(states))) = self
                    .peers
                    .request(m.peer_addr, fetch.clone(), timeout)
                    .await
                    .map(|b| rpc::decode::<ClusterReply>(&b))
                {
                    let (_, logged_to) = self.apply_states(&states);
                    self.wait_durable(logged_to).await;
                    self.stats.merged_on_read.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        if !stale.is_empty() {
            let states: Vec<KeyState> = {
                let mut store = self.lock_store();
                keys.iter()
                    .map(|k| state::export(&mut store, &cfg, k))
                    .collect()
            };
            self.stats
                .read_repairs
                .fetch_add(stale.len() as u64, Ordering::Relaxed);
            let this = self.clone();
            let view = self.view();
            tokio::spawn(async move {
                let all = stale.len();
                let to = Targets {
                    owners: &stale,
                    stand_ins: &[],
                    hinted: false,
                };
                this.replicate(&view, to, states, |acked| acked.len() == all, timeout)
                    .await;
            });
        }
        Ok(())
    }

    /// Merges received states into the local replica. Returns how many changed something and
    /// the log offset that covers them.
    pub fn apply_states(&self, states: &[KeyState]) -> (u32, Option<u64>) {
        let cfg = self.settings().state;
        let mut store = self.lock_store();
        let now = store.now_ms();
        let mut changed = 0;
        for st in states {
            match state::apply(&mut store, &cfg, st, now) {
                Ok(o) => {
                    if o.changed {
                        changed += 1;
                    }
                    self.stats
                        .siblings_dropped
                        .fetch_add(o.siblings_dropped as u64, Ordering::Relaxed);
                }
                Err(e) => tracing::warn!(error = %e, "rejected a replicated key state"),
            }
        }
        self.stats
            .applied_states
            .fetch_add(states.len() as u64, Ordering::Relaxed);
        let logged_to = ringkv_commands::aof::flush_oplog(&mut store, &self.shared.persistence.aof);
        (changed, logged_to)
    }

    /// VGET's reply: [context, [value ...]] (string siblings as strings, other types as their
    /// DUMP payloads; tombstones are not values but their versions are in the context).
    fn vget_local(&self, key: &[u8], proto: Protocol) -> Vec<u8> {
        let cfg = self.settings().state;
        let mut store = self.lock_store();
        let st = state::export(&mut store, &cfg, key);
        drop(store);
        let mut w = ReplyWriter::new(proto);
        let Ok(v) = decode_versioned(&st.versions) else {
            w.error(b"ERR unreadable versions");
            return std::mem::take(w.buffer_mut());
        };
        let values: Vec<Vec<u8>> = v
            .siblings()
            .iter()
            .filter_map(|s| s.value.as_ref())
            .filter_map(|b| ringkv_persist::decode_value(b).ok())
            .map(|(value, _)| match &value {
                ringkv_engine::Value::Str(s) => s.clone(),
                other => ringkv_commands::dump::payload(ValueRef::Obj(other)),
            })
            .collect();
        w.array(2);
        w.bulk(context_to_token(v.context()).as_bytes());
        w.array(values.len());
        for val in &values {
            w.bulk(val);
        }
        std::mem::take(w.buffer_mut())
    }

    /// VSET key context value at the primary: supersedes exactly the versions in the context.
    fn vset_local(
        &self,
        store: &mut ringkv_engine::Store,
        cfg: &state::StateConfig,
        args: &OwnedArgs,
        now: i64,
        proto: Protocol,
    ) -> (Vec<u8>, Option<KeyState>) {
        let a = args.args();
        if a.len() != 4 {
            return (
                error_reply(proto, "ERR wrong number of arguments for 'vset' command"),
                None,
            );
        }
        let ctx = match std::str::from_utf8(a.arg(2)).ok().map(context_from_token) {
            Some(Ok(c)) => c,
            _ if a.arg(2).is_empty() => VersionVector::new(),
            _ => return (error_reply(proto, "ERR invalid version context"), None),
        };
        let value = Bytes::from(ringkv_persist::encode_value(ValueRef::Str(a.arg(3)), None));
        let (st, dropped) = state::write_with_context(store, cfg, a.arg(1), &ctx, Some(value), now);
        self.stats
            .siblings_dropped
            .fetch_add(dropped as u64, Ordering::Relaxed);
        let mut w = ReplyWriter::new(proto);
        w.ok();
        (std::mem::take(w.buffer_mut()), Some(st))
    }

    // -----------------------------------------------------------------------------------------
    // Transactions

    /// WATCH in cluster mode: records each key's causal context at its primary (where every
    /// write of the key runs). The keys must share one partition, with each other and with the
    /// transaction that follows; EXEC then runs only if the primary's contexts are unchanged.
    async fn watch(self: &Arc<Self>, client: &mut Client, out: &mut ReplyWriter, keys: Vec<Bytes>) {
        let view = self.view();
        let Some(first) = keys.first() else {
            return out.error(b"ERR wrong number of arguments for 'watch' command");
        };
        let partition = view.ring.partition_of(first);
        let watched = client.cluster_watch.iter().map(|(k, _)| &k[..]);
        if keys
            .iter()
            .map(|k| &k[..])
            .chain(watched)
            .any(|k| view.ring.partition_of(k) != partition)
        {
            return out.error(CROSSSLOT.as_bytes());
        }
        let contexts: Vec<Bytes> = match view.primary(first) {
            Some(p) if p == self.node => {
                let cfg = self.settings().state;
                let mut store = self.lock_store();
                keys.iter()
                    .map(|k| state::encoded_context(&mut store, &cfg, k))
                    .collect()
            }
            Some(p) => {
                let msg = rpc::encode(&ClusterRpc::Digest { keys: keys.clone() });
                let addr = view.member(p).map(|m| m.peer_addr);
                let reply = match addr {
                    Some(a) => self
                        .peers
                        .request(a, msg, self.settings().timeout)
                        .await
                        .ok(),
                    None => None,
                };
                match reply.map(|b| rpc::decode::<ClusterReply>(&b)) {
                    Some(Ok(ClusterReply::Contexts(c))) if c.len() == keys.len() => c,
                    _ => {
                        let msg = format!(
                            "CLUSTERDOWN cannot read the versions of the watched keys at node {p}"
                        );
                        return out.error(msg.as_bytes());
                    }
                }
            }
            None => return out.error(b"CLUSTERDOWN no live replica for this key"),
        };
        client.cluster_watch.extend(
            keys.into_iter()
                .zip(contexts)
                .map(|(k, c)| (k.to_vec(), c.to_vec())),
        );
        out.ok();
    }

    /// EXEC in cluster mode: the queued commands run together at the primary of their (single)
    /// partition (see `batch_partition`); keyless transactions without watched keys run here.
    async fn exec_transaction(
        self: &Arc<Self>,
        client: &mut Client,
        out: &mut ReplyWriter,
        session: Session,
    ) {
        let Some(multi) = client.multi.as_ref() else {
            return;
        };
        let watched = std::mem::take(&mut client.cluster_watch);
        let view = self.view();
        let batch = self.batch_partition(
            &view,
            multi.queued.iter().map(|q| q.args()),
            watched.iter().map(|(k, _)| &k[..]),
        );
        let first_key = match batch {
            Ok(Some(k)) if !multi.aborted => k,
            // Aborted or keyless: the ordinary EXEC answers (EXECABORT, or runs it here).
            Ok(_) => {
                return self.run_here(client, out, OwnedArgs::from_slices([&b"EXEC"[..]]).args())
            }
            Err(()) => {
                client.multi = None;
                return out.error(CROSSSLOT.as_bytes());
            }
        };
        let queued = client.multi.take().map(|m| m.queued).unwrap_or_default();
        let mut commands: Vec<Vec<Bytes>> = Vec::with_capacity(queued.len() + 2);
        commands.push(vec![Bytes::from_static(b"MULTI")]);
        commands.extend(queued.iter().map(|q| owned(q.args())));
        commands.push(vec![Bytes::from_static(b"EXEC")]);
        let watched: Watched = watched
            .into_iter()
            .map(|(k, c)| (Bytes::from(k), Bytes::from(c)))
            .collect();
        let replies = self
            .run_at_primary(session, &view, &first_key, commands, watched)
            .await;
        if let Some(last) = replies.last() {
            out.buffer_mut().extend_from_slice(last);
        }
    }

    /// Runs a batch of commands (a transaction, guarded by `watched`) at the primary of `key`'s
    /// partition.
    async fn run_at_primary(
        self: &Arc<Self>,
        session: Session,
        view: &View,
        key: &[u8],
        commands: Vec<Vec<Bytes>>,
        watched: Watched,
    ) -> Vec<Vec<u8>> {
        match view.primary(key) {
            Some(p) if p == self.node => {
                self.write_as_primary(session, view, key, commands, &watched)
                    .await
            }
            Some(p) => self.forward(session, view, p, commands, watched).await,
            None => vec![error_reply(
                session.proto(),
                "CLUSTERDOWN no live replica for this key",
            )],
        }
    }

    // -----------------------------------------------------------------------------------------
    // Blocking commands

    /// BLPOP and the other blocking commands in cluster mode. The command runs at its
    /// partition's primary inside MULTI/EXEC, where it never blocks (as in Redis); while it
    /// finds nothing, a task retries it (every 10 ms, slowing to every 100 ms) until it finds
    /// data or the timeout passes, and the connection waits for that task's reply as for a
    /// blocked client (a client that disconnects stops the retries). Blocked clients are
    /// served in the order their retries find data, not strictly first come, first served.
    async fn block(
        self: &Arc<Self>,
        client: &mut Client,
        out: &mut ReplyWriter,
        session: Session,
        name: &str,
        args: Vec<Bytes>,
        keys: Vec<Bytes>,
    ) {
        let (timeout, args) = match name {
            "xread" | "xreadgroup" => {
                match self.stream_attempt(session, name, &args, &keys).await {
                    Ok(Some(attempt)) => attempt,
                    // No BLOCK after all (the route saw the word as a name): an ordinary read.
                    Ok(None) => {
                        let view = self.view();
                        let route = Route::Keyed {
                            write: name == "xreadgroup",
                            keys,
                        };
                        let reply = self.run_route(session, &view, route, name, args).await;
                        return out.buffer_mut().extend_from_slice(&reply);
                    }
                    Err(reply) => return out.buffer_mut().extend_from_slice(&reply),
                }
            }
            _ => {
                let timeout_arg = match name {
                    "blmpop" | "bzmpop" => args.get(1),
                    _ => args.last(),
                };
                match timeout_arg.map(|a| ringkv_commands::blocking::parse_timeout(a)) {
                    Some(Ok(t)) => (t, args),
                    Some(Err(e)) => return out.error(e.to_string().as_bytes()),
                    None => return out.error(b"ERR syntax error"),
                }
            }
        };
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        if let Some(reply) = self.try_unblocked(session, &keys[0], &args).await {
            return out.buffer_mut().extend_from_slice(&reply);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        let this = self.clone();
        let proto = session.proto();
        let group_read = name == "xreadgroup";
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(10);
            let reply = loop {
                let sleep = match deadline {
                    Some(d) => pause.min(d.saturating_duration_since(tokio::time::Instant::now())),
                    None => pause,
                };
                tokio::time::sleep(sleep).await;
                if tx.is_closed() || this.shared.is_shutting_down() {
                    return;
                }
                if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                    break null_array_reply(proto);
                }
                if let Some(reply) = this.try_unblocked(session, &keys[0], &args).await {
                    if group_read && reply.starts_with(b"-NOGROUP") {
                        break this.unblocked_if_gone(session, &keys, reply).await;
                    }
                    break reply;
                }
                pause = (pause * 2).min(Duration::from_millis(100));
            };
            let _ = tx.send(reply);
        });
        client.action = Some(ringkv_commands::Action::Block(
            ringkv_commands::blocking::BlockWait {
                reply: rx,
                timeout: None,
            },
        ));
    }

    /// XREAD/XREADGROUP with BLOCK as `block` runs it: the timeout, and the read without BLOCK
    /// that each attempt runs, with XREAD's `$` IDs replaced by each stream's last ID at the
    /// first attempt (read at the primary), so later attempts ask for what arrived after it, as
    /// a read blocked on one node would. `Ok(None)` without BLOCK; the error reply otherwise.
    async fn stream_attempt(
        self: &Arc<Self>,
        session: Session,
        name: &str,
        args: &[Bytes],
        keys: &[Bytes],
    ) -> Result<Option<(Option<Duration>, Vec<Bytes>)>, Vec<u8>> {
        let owned = OwnedArgs::from_slices(args.iter());
        let read = ringkv_commands::stream_read::blocking_read(owned.args(), name == "xreadgroup")
            .map_err(|e| error_reply(session.proto(), &e.to_string()))?;
        let Some(read) = read else {
            return Ok(None);
        };
        let mut attempt: Vec<Bytes> = read.args.into_iter().map(Bytes::from).collect();
        let latest: Vec<usize> = read
            .ids
            .clone()
            .filter(|&i| &attempt[i][..] == b"$")
            .collect();
        if !latest.is_empty() {
            let commands = latest.iter().map(|&i| {
                let key = attempt[i - read.ids.start + read.keys.start].clone();
                vec![
                    Bytes::from_static(b"XINFO"),
                    Bytes::from_static(b"STREAM"),
                    key,
                ]
            });
            // An error instead of EXEC's array (no quorum, node down ...) is the read's reply.
            let infos = self
                .exec_at_primary(session.resp2(), &keys[0], commands.collect())
                .await?;
            for (&i, info) in latest.iter().zip(&infos) {
                // A stream that does not exist yet (or a wrong type, which the attempt then
                // reports): everything added from now on is new.
                let last = last_generated_id(info).unwrap_or_else(|| b"0-0".to_vec());
                attempt[i] = Bytes::from(last);
            }
        }
        Ok(Some((read.timeout, attempt)))
    }

    /// The reply of a blocked XREADGROUP whose retry found no group: Redis 7.2's `-UNBLOCKED`
    /// when one of its streams is gone (deleted, or no longer a stream), as a read blocked on
    /// one node is answered; `reply` (the group was destroyed) otherwise.
    async fn unblocked_if_gone(
        self: &Arc<Self>,
        session: Session,
        keys: &[Bytes],
        reply: Vec<u8>,
    ) -> Vec<u8> {
        let commands = keys
            .iter()
            .map(|key| vec![Bytes::from_static(b"TYPE"), key.clone()])
            .collect();
        match self
            .exec_at_primary(session.resp2(), &keys[0], commands)
            .await
        {
            Ok(types) if types.iter().any(|t| &t[..] != b"+stream\r\n") => {
                error_reply(session.proto(), "UNBLOCKED the stream key no longer exists")
            }
            _ => reply,
        }
    }

    /// Runs `commands` as one transaction (MULTI ... EXEC) at the primary of `key`: EXEC's
    /// replies, or the error that came instead of them (no quorum, node down ...; empty if
    /// nothing came back).
    async fn exec_at_primary(
        self: &Arc<Self>,
        session: Session,
        key: &[u8],
        commands: Vec<Vec<Bytes>>,
    ) -> Result<Vec<Vec<u8>>, Vec<u8>> {
        let mut batch = Vec::with_capacity(commands.len() + 2);
        batch.push(vec![Bytes::from_static(b"MULTI")]);
        batch.extend(commands);
        batch.push(vec![Bytes::from_static(b"EXEC")]);
        let view = self.view();
        let replies = self
            .run_at_primary(session, &view, key, batch, Watched::new())
            .await;
        let exec = replies.last().cloned().unwrap_or_default();
        split_array(&exec).ok_or(exec)
    }

    /// One non-blocking attempt of a blocking command at its primary: its reply, or `None`
    /// when it found nothing.
    async fn try_unblocked(
        self: &Arc<Self>,
        session: Session,
        key: &[u8],
        args: &[Bytes],
    ) -> Option<Vec<u8>> {
        let mut items = match self
            .exec_at_primary(session, key, vec![args.to_vec()])
            .await
        {
            Ok(items) => items,
            // An error for the whole transaction (no quorum, node down ...).
            Err(e) => return (!e.is_empty()).then_some(e),
        };
        let reply = items.pop()?;
        let nothing = matches!(&reply[..], b"*-1\r\n" | b"_\r\n" | b"$-1\r\n");
        (!nothing).then_some(reply)
    }

    /// The key that places a batch of commands: their first key, else the first of the keys
    /// WATCHed for them (a keyless transaction is guarded by, and so runs at the primary of,
    /// its watched keys), if any; `Err` when these keys span partitions.
    fn batch_partition<'a, 'w>(
        &self,
        view: &View,
        commands: impl Iterator<Item = Args<'a>>,
        watched: impl Iterator<Item = &'w [u8]>,
    ) -> Result<Option<Bytes>, ()> {
        let mut first: Option<(Bytes, u32)> = None;
        let mut note = |key: &[u8]| {
            let part = view.ring.partition_of(key);
            match &first {
                None => first = Some((Bytes::copy_from_slice(key), part)),
                Some((_, fp)) if *fp != part => return Err(()),
                Some(_) => {}
            }
            Ok(())
        };
        for a in commands {
            let Some(spec) = self.shared.commands.lookup(a.arg(0)) else {
                continue;
            };
            let spec = super::route::keyed_spec(spec, a);
            let all: Vec<&[u8]> = a.iter().collect();
            for p in spec.keys_of(&all) {
                note(all[p])?;
            }
        }
        for k in watched {
            note(k)?;
        }
        Ok(first.map(|(k, _)| k))
    }

    // -----------------------------------------------------------------------------------------
    // Split multi-key commands

    async fn split(
        self: &Arc<Self>,
        session: Session,
        view: &View,
        args: Vec<Bytes>,
        name: &str,
        kind: Split,
    ) -> Vec<u8> {
        let proto = session.proto();
        let step = if kind == Split::Mset { 2 } else { 1 };
        if args.len() < 2 || !(args.len() - 1).is_multiple_of(step) {
            return error_reply(
                proto,
                &format!("ERR wrong number of arguments for '{name}' command"),
            );
        }
        // Group argument positions by partition, keeping order.
        let mut groups: Vec<(u32, Vec<usize>)> = Vec::new();
        let mut group_of: HashMap<u32, usize> = HashMap::new();
        for i in (1..args.len()).step_by(step) {
            let p = view.ring.partition_of(&args[i]);
            let g = *group_of.entry(p).or_insert_with(|| {
                groups.push((p, Vec::new()));
                groups.len() - 1
            });
            groups[g].1.push(i);
        }
        let write = kind != Split::Mget && !matches!(name, "exists");
        let futures = groups.iter().map(|(_, idx)| {
            let mut sub = vec![args[0].clone()];
            let mut keys = Vec::new();
            for &i in idx {
                sub.extend(args[i..i + step].iter().cloned());
                if !keys.contains(&args[i]) {
                    keys.push(args[i].clone());
                }
            }
            let this = self.clone();
            async move {
                let view = this.view();
                if write {
                    this.write(session, &view, sub, keys).await
                } else {
                    this.read(session, &view, sub, keys).await
                }
            }
        });
        let replies = futures_join_all(futures).await;
        let mut w = ReplyWriter::new(proto);
        match kind {
            Split::Mset => {
                if let Some(err) = replies.iter().find(|r| r.first() == Some(&b'-')) {
                    return err.clone();
                }
                w.ok();
            }
            Split::Sum => {
                let mut total = 0i64;
                for r in &replies {
                    if r.first() == Some(&b'-') {
                        return r.clone();
                    }
                    total += parse_integer(r).unwrap_or(0);
                }
                w.integer(total);
            }
            Split::Mget => {
                // Element of argument position i (1-based) at items[i - 1].
                let mut items: Vec<Option<Vec<u8>>> = vec![None; args.len() - 1];
                for ((_, idx), r) in groups.iter().zip(&replies) {
                    if r.first() == Some(&b'-') {
                        return r.clone();
                    }
                    let elems = split_array(r).unwrap_or_default();
                    for (i, e) in idx.iter().zip(elems) {
                        items[i - 1] = Some(e);
                    }
                }
                w.array(items.len());
                for item in &items {
                    match item {
                        Some(e) => w.buffer_mut().extend_from_slice(e),
                        None => w.null(),
                    }
                }
            }
        }
        std::mem::take(w.buffer_mut())
    }

    // -----------------------------------------------------------------------------------------
    // Cluster-wide commands

    async fn wide(
        self: &Arc<Self>,
        session: Session,
        view: &View,
        args: Vec<Bytes>,
        kind: Wide,
    ) -> Vec<u8> {
        let proto = session.proto();
        let timeout = self.settings().timeout;
        let mut w = ReplyWriter::new(proto);
        match kind {
            Wide::RandomKey => {
                let (mut r, _, _) = self.exec_local(session, &[args], false);
                return r.pop().unwrap_or_default();
            }
            Wide::Keys | Wide::DbSize | Wide::Flush => {
                let msg = match kind {
                    Wide::Keys => ClusterRpc::Keys {
                        pattern: args.get(1).cloned().unwrap_or_default(),
                    },
                    Wide::DbSize => ClusterRpc::DbSize,
                    _ => ClusterRpc::Flush { args: args.clone() },
                };
                let others = view
                    .members
                    .iter()
                    .map(|m| m.id)
                    .filter(|id| *id != self.node);
                let (mut remote, sent) = self.fan_out(view, others, rpc::encode(&msg), timeout);
                let mut replies = vec![Some(self.serve_here(msg).await)];
                let deadline = tokio::time::Instant::now() + timeout;
                while replies.len() <= sent {
                    match tokio::time::timeout_at(deadline, remote.recv()).await {
                        Ok(Some((_, reply))) => replies.push(reply),
                        _ => break,
                    }
                }
                let answered = replies.iter().filter(|r| r.is_some()).count();
                if answered < sent + 1 {
                    return error_reply(
                        proto,
                        &format!("NOQUORUM {answered} answered of {} live nodes", sent + 1),
                    );
                }
                match kind {
                    Wide::Keys => {
                        let mut all: Vec<Bytes> = replies
                            .into_iter()
                            .flatten()
                            .flat_map(|r| match r {
                                ClusterReply::Keys(k) => k,
                                _ => Vec::new(),
                            })
                            .collect();
                        all.sort();
                        all.dedup();
                        w.array(all.len());
                        for k in &all {
                            w.bulk(k);
                        }
                    }
                    Wide::DbSize => {
                        let total: u64 = replies
                            .into_iter()
                            .flatten()
                            .map(|r| if let ClusterReply::Count(n) = r { n } else { 0 })
                            .sum();
                        w.integer(total as i64);
                    }
                    _ => {
                        for r in replies.into_iter().flatten() {
                            if let ClusterReply::Replies(v) = r {
                                if let Some(e) = v.iter().find(|b| b.first() == Some(&b'-')) {
                                    return e.to_vec();
                                }
                            }
                        }
                        w.ok();
                    }
                }
            }
            Wide::Scan => return self.scan(session, view, args).await,
            Wide::Publish => return self.publish(session, view, args).await,
        }
        std::mem::take(w.buffer_mut())
    }

    /// PUBLISH in a cluster: delivered here and on every other live node (each node's
    /// subscribers), answering the total number of receivers. A node that does not answer in
    /// time is left out of the count, not an error: delivery is at most once, as in Redis.
    async fn publish(self: &Arc<Self>, session: Session, view: &View, args: Vec<Bytes>) -> Vec<u8> {
        let msg = rpc::encode(&ClusterRpc::Publish { args: args.clone() });
        let others = view
            .members
            .iter()
            .map(|m| m.id)
            .filter(|id| *id != self.node);
        let timeout = self.settings().timeout;
        let (mut remote, sent) = self.fan_out(view, others, msg, timeout);
        let mut total = self.publish_here(args);
        let deadline = tokio::time::Instant::now() + timeout;
        for _ in 0..sent {
            match tokio::time::timeout_at(deadline, remote.recv()).await {
                Ok(Some((_, Some(ClusterReply::Count(n))))) => total += n,
                Ok(Some(_)) => {}
                _ => break,
            }
        }
        let mut w = ReplyWriter::new(session.proto());
        w.integer(total as i64);
        std::mem::take(w.buffer_mut())
    }

    /// PUBLISH to this node's subscribers only; the number of receivers.
    fn publish_here(&self, args: Vec<Bytes>) -> u64 {
        let replies = self.exec_local(Session::INTERNAL, &[args], false).0;
        replies
            .first()
            .and_then(|r| parse_integer(r))
            .map_or(0, |n| n.max(0) as u64)
    }

    /// SCAN across the cluster: the cursor carries the member's position (high 16 bits) and
    /// that member's own cursor; each member returns the keys it is the first live owner of.
    async fn scan(self: &Arc<Self>, session: Session, view: &View, args: Vec<Bytes>) -> Vec<u8> {
        let proto = session.proto();
        let (cursor, pattern, count, type_name) = {
            let owned_args = OwnedArgs::from_slices(args.iter());
            match ringkv_commands::keys::parse_scan(owned_args.args()) {
                Ok(a) => (
                    a.cursor,
                    a.pattern.map(Bytes::copy_from_slice),
                    a.count as u64,
                    a.type_name.map(Bytes::copy_from_slice),
                ),
                Err(e) => return error_reply(proto, &e.to_string()),
            }
        };
        let members: Vec<_> = view.members.iter().collect();
        let mut idx = (cursor >> 48) as usize;
        let mut local = cursor & ((1 << 48) - 1);
        let timeout = self.settings().timeout;
        let mut keys = Vec::new();
        let next = loop {
            let Some(m) = members.get(idx) else { break 0 };
            if !m.alive {
                idx += 1;
                local = 0;
                continue;
            }
            let msg = ClusterRpc::Scan {
                cursor: local,
                pattern: pattern.clone(),
                count,
                type_name: type_name.clone(),
            };
            let reply = if m.id == self.node {
                Some(self.serve_local(msg))
            } else {
                self.peers
                    .request(m.peer_addr, rpc::encode(&msg), timeout)
                    .await
                    .ok()
                    .and_then(|r| rpc::decode::<ClusterReply>(&r).ok())
            };
            let Some(ClusterReply::ScanPage { cursor: c, keys: k }) = reply else {
                return error_reply(
                    proto,
                    &format!("CLUSTERDOWN node {} did not answer the scan", m.id),
                );
            };
            keys.extend(k);
            if c == 0 {
                idx += 1;
                local = 0;
                if idx >= members.len() {
                    break 0;
                }
            } else {
                local = c;
            }
            if keys.len() as u64 >= count || c != 0 {
                break ((idx as u64) << 48) | local;
            }
        };
        let mut w = ReplyWriter::new(proto);
        w.array(2);
        w.bulk(next.to_string().as_bytes());
        w.array(keys.len());
        for k in &keys {
            w.bulk(k);
        }
        std::mem::take(w.buffer_mut())
    }

    // -----------------------------------------------------------------------------------------
    // Serving peers

    /// Answers one peer request.
    pub async fn serve(self: &Arc<Self>, msg: ClusterRpc) -> ClusterReply {
        match msg {
            ClusterRpc::Forward {
                resp3,
                read_quorum,
                write_quorum,
                hops,
                watched,
                commands,
            } => {
                let session = Session {
                    resp3,
                    read_quorum: quorum_from_code(read_quorum),
                    write_quorum: quorum_from_code(write_quorum),
                    hops,
                };
                if commands.len() > 1 {
                    // A transaction: every key in one partition (checked by the sender).
                    let view = self.view();
                    let owned_cmds: Vec<OwnedArgs> = commands
                        .iter()
                        .map(|c| OwnedArgs::from_slices(c.iter()))
                        .collect();
                    let first = self.batch_partition(
                        &view,
                        owned_cmds.iter().map(|c| c.args()),
                        watched.iter().map(|(k, _)| &k[..]),
                    );
                    let Ok(Some(key)) = first else {
                        return ClusterReply::Error(
                            "transaction without keys in one partition".into(),
                        );
                    };
                    let replies = self
                        .write_as_primary(session, &view, &key, commands, &watched)
                        .await;
                    return ClusterReply::Replies(replies.into_iter().map(Bytes::from).collect());
                }
                let Some(cmd) = commands.into_iter().next() else {
                    return ClusterReply::Error("empty forward".into());
                };
                let reply = Box::pin(self.coordinate(session, cmd)).await;
                ClusterReply::Replies(vec![Bytes::from(reply)])
            }
            ClusterRpc::Flush { .. }
            | ClusterRpc::Apply { .. }
            | ClusterRpc::Hint { .. }
            | ClusterRpc::Keys { .. }
            | ClusterRpc::DbSize => self.serve_here(msg).await,
            ClusterRpc::Publish { args } => ClusterReply::Count(self.publish_here(args)),
            ClusterRpc::Handoff { partitions } => {
                match super::handoff::pull(self, &partitions).await {
                    Ok(moved) => ClusterReply::Count(moved),
                    Err(e) => ClusterReply::Error(e),
                }
            }
            // A walk of the whole keyspace: it yields to the runtime between slices.
            ClusterRpc::TreeBranches {
                exchange,
                partitions,
            } => antientropy::serve_tree(self, exchange, partitions).await,
            other => self.serve_local(other),
        }
    }

    /// Requests this node answers for itself (also used for its own share of cluster-wide
    /// commands) that need no further coordination.
    async fn serve_here(&self, msg: ClusterRpc) -> ClusterReply {
        match msg {
            ClusterRpc::Flush { args } => {
                let (r, _, logged) = self.exec_local(Session::INTERNAL, &[args], false);
                self.wait_durable(logged).await;
                ClusterReply::Replies(r.into_iter().map(Bytes::from).collect())
            }
            // A replica acknowledges only what its own log holds (appendfsync always), as a
            // client reply would.
            ClusterRpc::Apply { states } => {
                let (changed, logged) = self.apply_states(&states);
                self.wait_durable(logged).await;
                ClusterReply::Applied { changed }
            }
            // A fallback of a sloppy quorum acknowledges the hints it keeps, durable as above.
            ClusterRpc::Hint { target, states } => {
                let (kept, logged) = self.keep_for(NodeId(target), &states);
                self.wait_durable(logged).await;
                ClusterReply::Applied { changed: kept }
            }
            // Whole-keyspace walks, which let clients run between their slices.
            ClusterRpc::Keys { pattern } => {
                let mut keys = Vec::new();
                self.for_each_primary_key(|k| {
                    if ringkv_engine::glob_match(&pattern, k, false) {
                        keys.push(Bytes::copy_from_slice(k));
                    }
                })
                .await;
                ClusterReply::Keys(keys)
            }
            ClusterRpc::DbSize => {
                let mut n = 0u64;
                self.for_each_primary_key(|_| n += 1).await;
                ClusterReply::Count(n)
            }
            other => self.serve_local(other),
        }
    }

    /// Calls `f` for every key this node is the first live owner of (so that across the
    /// cluster each key is seen once), walking the keyspace in lock slices.
    async fn for_each_primary_key(&self, mut f: impl FnMut(&[u8])) {
        let view = self.view();
        self.for_each_key(DATA_DB, |k, _| {
            if view.primary(k) == Some(self.node) {
                f(k);
            }
        })
        .await;
    }

    /// The synchronous requests: answered from the local keyspace under its lock.
    fn serve_local(&self, msg: ClusterRpc) -> ClusterReply {
        let cfg = self.settings().state;
        match msg {
            ClusterRpc::Forward { .. }
            | ClusterRpc::Flush { .. }
            | ClusterRpc::Apply { .. }
            | ClusterRpc::Publish { .. }
            | ClusterRpc::Handoff { .. }
            | ClusterRpc::TreeBranches { .. }
            | ClusterRpc::Hint { .. }
            | ClusterRpc::Keys { .. }
            | ClusterRpc::DbSize => ClusterReply::Error("not a local request".into()),
            ClusterRpc::ViewCheck => ClusterReply::Count(self.view().fingerprint),
            ClusterRpc::PartitionStates { partitions, cursor } => {
                super::handoff::serve_page(self, &partitions, cursor)
            }
            ClusterRpc::TreeLeaves { exchange, branches } => {
                antientropy::serve_leaves(self, exchange, &branches)
            }
            ClusterRpc::KeyDigests { partitions, cursor } => {
                antientropy::serve_digests(self, &partitions, cursor)
            }
            ClusterRpc::Digest { keys } => {
                let mut store = self.lock_store();
                ClusterReply::Contexts(
                    keys.iter()
                        .map(|k| state::encoded_context(&mut store, &cfg, k))
                        .collect(),
                )
            }
            ClusterRpc::Fetch { keys } => {
                let mut store = self.lock_store();
                ClusterReply::States(
                    keys.iter()
                        .map(|k| state::export(&mut store, &cfg, k))
                        .collect(),
                )
            }
            ClusterRpc::Scan {
                cursor,
                pattern,
                count,
                type_name,
            } => {
                let view = self.view();
                let mut store = self.lock_store();
                let mut keys = Vec::new();
                let mut c = cursor;
                let mut visited = 0u64;
                loop {
                    c = store.db(DATA_DB).scan(c, |k, v| {
                        visited += 1;
                        let type_ok = type_name
                            .as_ref()
                            .is_none_or(|t| t.eq_ignore_ascii_case(v.type_name().as_bytes()));
                        let match_ok = pattern
                            .as_ref()
                            .is_none_or(|p| ringkv_engine::glob_match(p, k, false));
                        if type_ok && match_ok && view.primary(k) == Some(self.node) {
                            keys.push(Bytes::copy_from_slice(k));
                        }
                    });
                    if c == 0 || visited >= count {
                        break;
                    }
                }
                ClusterReply::ScanPage { cursor: c, keys }
            }
        }
    }
}

/// Whether this replica's contexts of the watched keys are still the recorded ones (true when
/// nothing is watched).
fn watch_holds(
    store: &mut ringkv_engine::Store,
    cfg: &state::StateConfig,
    watched: &[(Bytes, Bytes)],
) -> bool {
    watched
        .iter()
        .all(|(key, want)| state::encoded_context(store, cfg, key) == want)
}

/// `:n\r\n` → n.
fn parse_integer(reply: &[u8]) -> Option<i64> {
    let body = reply.strip_prefix(b":")?;
    let end = body.iter().position(|&b| b == b'\r')?;
    std::str::from_utf8(&body[..end]).ok()?.parse().ok()
}

/// The length of one RESP value at the start of `b`.
fn value_len(b: &[u8]) -> Option<usize> {
    let line_end = b.windows(2).position(|w| w == b"\r\n")?;
    let header = std::str::from_utf8(b.get(1..line_end)?).ok()?;
    let after = line_end + 2;
    match b.first()? {
        b'$' | b'=' | b'!' => {
            let n: i64 = header.parse().ok()?;
            if n < 0 {
                Some(after)
            } else {
                Some(after + n as usize + 2)
            }
        }
        b'*' | b'~' | b'>' | b'%' => {
            let n: i64 = header.parse().ok()?;
            let items = if b[0] == b'%' { n * 2 } else { n };
            let mut at = after;
            for _ in 0..items.max(0) {
                at += value_len(b.get(at..)?)?;
            }
            Some(at)
        }
        _ => Some(after),
    }
}

/// The elements of an array reply, each as its own RESP bytes.
fn split_array(reply: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line_end = reply.windows(2).position(|w| w == b"\r\n")?;
    if reply.first() != Some(&b'*') {
        return None;
    }
    let n: usize = std::str::from_utf8(&reply[1..line_end])
        .ok()?
        .parse()
        .ok()?;
    let mut at = line_end + 2;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let len = value_len(reply.get(at..)?)?;
        out.push(reply.get(at..at + len)?.to_vec());
        at += len;
    }
    Some(out)
}

/// The `last-generated-id` field of an XINFO STREAM reply (RESP2: field, value, field ...).
fn last_generated_id(info: &[u8]) -> Option<Vec<u8>> {
    let items = split_array(info)?;
    let at = items
        .chunks(2)
        .position(|pair| bulk_text(&pair[0]) == Some(&b"last-generated-id"[..]))?;
    bulk_text(items.get(at * 2 + 1)?).map(<[u8]>::to_vec)
}

/// The payload of one encoded bulk string (None for anything else).
fn bulk_text(raw: &[u8]) -> Option<&[u8]> {
    let body = raw.strip_prefix(b"$")?;
    let line_end = body.windows(2).position(|w| w == b"\r\n")?;
    let len: usize = std::str::from_utf8(&body[..line_end]).ok()?.parse().ok()?;
    body.get(line_end + 2..line_end + 2 + len)
}

/// Runs futures concurrently (as tasks) and returns their outputs in order; a task that
/// panicked yields `Default`.
async fn futures_join_all<F>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + Default + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.unwrap_or_default());
    }
    out
}

/// The peer RPC handler: decodes, serves, encodes.
pub fn rpc_handler(cluster: Arc<Cluster>) -> Handler {
    Arc::new(move |_from, req: Bytes| {
        let c = cluster.clone();
        Box::pin(async move {
            let reply = match rpc::decode::<ClusterRpc>(&req) {
                Ok(msg) => c.serve(msg).await,
                Err(e) => ClusterReply::Error(e),
            };
            rpc::encode(&reply)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_splitting() {
        let r = b"*3\r\n$1\r\na\r\n$-1\r\n$3\r\nbcd\r\n";
        let parts = split_array(r).unwrap();
        assert_eq!(
            parts,
            vec![
                b"$1\r\na\r\n".to_vec(),
                b"$-1\r\n".to_vec(),
                b"$3\r\nbcd\r\n".to_vec()
            ]
        );
        let r3 = b"*2\r\n_\r\n$2\r\nxy\r\n";
        assert_eq!(split_array(r3).unwrap().len(), 2);
        assert_eq!(parse_integer(b":42\r\n"), Some(42));
        assert!(split_array(b"*2\r\n$5\r\nab").is_none());
    }
}
