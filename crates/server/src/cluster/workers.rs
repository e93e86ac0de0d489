//! Snowflake worker numbers in a cluster: every node issues IDs with a (datacenter, worker) pair
//! that no other live node holds, so IDs from different nodes can never be equal.
//!
//! Why this lives with the cluster: the only shared, always-current view of "which nodes exist"
//! is the membership, so claims travel in it. Each node gossips its claim in its
//! [`NodeMeta`](ringkv_peer::NodeMeta) (`id_worker`); no extra protocol, no coordinator, and a
//! restarted or departed node's claim is replaced or dropped together with its membership entry.
//!
//! * `id-worker N` (configured): at start-up the node first lets the membership learn the
//!   cluster (until the seeds are members and nothing changed for a moment, at most
//!   [`LEARN_MAX`]); if a live node already announces the same pair, start-up is refused.
//! * `id-worker auto`: the node claims the worker it last held (`<dir>/id-worker`) unless a live
//!   node holds it, or else the lowest worker that no known node (live or down, not left) claims.
//! * A claim becomes *settled* after it has been announced for [`SETTLE`] with no live node
//!   claiming the same pair; only then are snowflake IDs issued with it (until then `ID.NEXT`
//!   in that format answers an error), and a claimed worker is written to `<dir>/id-worker`.
//! * Two live nodes claiming one pair (simultaneous start-up, a healed partition) are resolved the
//!   same way on both sides ([`beats`]): a configured claim beats a claimed one, a settled one an
//!   unsettled one, then the lower node id wins. The loser stops issuing snowflake IDs at once and,
//!   if its worker was claimed, claims another; a configured loser waits for the conflict to go.
//!
//! Two nodes can only issue IDs with one pair if they did not see each other for the whole settle
//! period (a partition at start-up), which no membership-based scheme can rule out. A worker
//! given up by a node is only taken over once that node has left (or been forgotten); taking it
//! over is safe if clocks agree to better than the time that takes (seconds).

use super::Cluster;
use ringkv_cluster::NodeId;
use ringkv_commands::ids::{WorkerSource, WORKER_NOT_SETTLED};
use ringkv_peer::{Membership, NodeState, WorkerClaim};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// File in `dir` with the last claimed worker: `<datacenter> <worker>`.
pub const WORKER_FILE: &str = "id-worker";
/// Longest start-up wait for the membership to learn the cluster before claiming.
pub const LEARN_MAX: Duration = Duration::from_secs(2);
/// The membership counts as learnt once the seeds are members and nothing changed for this long.
const LEARN_QUIET: Duration = Duration::from_millis(300);
/// How long a claim is announced without a conflict before IDs are issued with it.
pub const SETTLE: Duration = Duration::from_secs(2);
/// How often claims are re-examined besides membership changes (settling is time-based).
const TICK: Duration = Duration::from_millis(100);

/// Another node's claim as this node sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Other {
    pub node: u64,
    pub claim: WorkerClaim,
    pub alive: bool,
}

impl Other {
    /// Whether this node is live and claims `worker` in `datacenter`.
    fn holds(&self, datacenter: u64, worker: u64) -> bool {
        self.alive && self.claim.datacenter == datacenter && self.claim.worker == worker
    }
}

/// Whether node `a`'s claim keeps a pair node `b` claims too. A total order, the same on every
/// node: configured before claimed, settled before unsettled, then the lower node id.
pub fn beats(a: WorkerClaim, a_node: u64, b: WorkerClaim, b_node: u64) -> bool {
    let key = |c: WorkerClaim, node: u64| (c.configured, c.settled, std::cmp::Reverse(node));
    key(a, a_node) > key(b, b_node)
}

/// The worker to claim in `datacenter`: `preferred` (the stored one) if it fits the layout and no
/// live node claims it, else the lowest worker in `0..=max_worker` that no known node claims.
/// `None` when every worker is claimed.
pub fn choose_worker(
    datacenter: u64,
    max_worker: u64,
    preferred: Option<u64>,
    others: &[Other],
) -> Option<u64> {
    if let Some(p) = preferred.filter(|p| *p <= max_worker) {
        if !others.iter().any(|o| o.holds(datacenter, p)) {
            return Some(p);
        }
    }
    let mut taken: Vec<u64> = others
        .iter()
        .filter(|o| o.claim.datacenter == datacenter)
        .map(|o| o.claim.worker)
        .collect();
    taken.sort_unstable();
    taken.dedup();
    let mut free = 0u64;
    for t in taken {
        if t != free {
            break;
        }
        free = free.checked_add(1)?;
    }
    (free <= max_worker).then_some(free)
}

/// How this node's claim stands against the live nodes' claims.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// No live node claims the pair.
    Clear,
    /// Others claim it, and this node's claim beats all of them; `rival` is one of them.
    Wins { rival: u64, rival_configured: bool },
    /// This node must give the pair up to `holder`.
    Loses { holder: u64 },
}

pub fn verdict(node: u64, mine: WorkerClaim, others: &[Other]) -> Verdict {
    let mut v = Verdict::Clear;
    for o in others
        .iter()
        .filter(|o| o.holds(mine.datacenter, mine.worker))
    {
        if beats(o.claim, o.node, mine, node) {
            return Verdict::Loses { holder: o.node };
        }
        v = Verdict::Wins {
            rival: o.node,
            rival_configured: o.claim.configured,
        };
    }
    v
}

/// What the claim task must do after a [`Claimer::step`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Gossip this claim (or none) as the node's `id_worker`.
    Announce(Option<WorkerClaim>),
    /// Issue snowflake IDs with this worker.
    Serve(u64),
    /// Stop issuing snowflake IDs; `ID.NEXT` answers this error.
    Suspend(String),
    /// Remember this worker in the data directory.
    Store(u64),
}

#[derive(Debug, Clone, Copy)]
struct Held {
    worker: u64,
    since: Instant,
    settled: bool,
}

/// One node's claim, as a state machine driven by the membership (pure: time and the other
/// nodes' claims are passed in, effects are returned).
#[derive(Debug)]
pub struct Claimer {
    node: u64,
    datacenter: u64,
    max_worker: u64,
    configured: Option<u64>,
    /// The stored worker, tried once.
    preferred: Option<u64>,
    held: Option<Held>,
    /// The suspension last asked for (so it is not repeated), `None` while serving.
    suspended: Option<String>,
}

impl Claimer {
    /// A configured worker is held from the start; an automatic one is chosen at the first step.
    pub fn new(
        node: u64,
        datacenter: u64,
        max_worker: u64,
        configured: Option<u64>,
        stored: Option<u64>,
        now: Instant,
    ) -> Claimer {
        Claimer {
            node,
            datacenter,
            max_worker,
            configured,
            preferred: stored,
            held: configured.map(|worker| Held {
                worker,
                since: now,
                settled: false,
            }),
            suspended: Some(WORKER_NOT_SETTLED.to_string()),
        }
    }

    /// The claim this node announces.
    pub fn claim(&self) -> Option<WorkerClaim> {
        self.held.map(|h| WorkerClaim {
            datacenter: self.datacenter,
            worker: h.worker,
            configured: self.configured.is_some(),
            settled: h.settled,
        })
    }

    /// Where the worker comes from, as `INFO ids` names it.
    fn source(&self) -> WorkerSource {
        if self.configured.is_some() {
            WorkerSource::Configured
        } else {
            WorkerSource::Claimed
        }
    }

    /// The worker IDs are issued with, once settled.
    #[cfg(test)]
    pub fn serving(&self) -> Option<u64> {
        self.held.filter(|h| h.settled).map(|h| h.worker)
    }

    /// Asks for a suspension with `reason` unless it is the one in force; whether it is new.
    fn suspend(&mut self, reason: String, fx: &mut Vec<Effect>) -> bool {
        if self.suspended.as_ref() == Some(&reason) {
            return false;
        }
        self.suspended = Some(reason.clone());
        fx.push(Effect::Suspend(reason));
        true
    }

    /// Re-examines the claim against the other nodes' claims at `now`.
    pub fn step(&mut self, now: Instant, others: &[Other]) -> Vec<Effect> {
        let before = self.claim();
        let mut fx = Vec::new();
        if let Some(mine) = before {
            match verdict(self.node, mine, others) {
                Verdict::Loses { holder } => {
                    if let Some(h) = self.held.as_mut() {
                        h.settled = false;
                        h.since = now;
                    }
                    if self.configured.is_some() {
                        let reason = format!(
                            "ERR snowflake IDs are suspended: id-worker {} (id-datacenter {}) is \
                             also held by cluster node {}",
                            mine.worker,
                            mine.datacenter,
                            NodeId(holder)
                        );
                        if self.suspend(reason, &mut fx) {
                            tracing::error!(
                                worker = mine.worker,
                                datacenter = mine.datacenter,
                                holder = %NodeId(holder),
                                "the configured id-worker is also held by another cluster node; \
                                 snowflake IDs are suspended until it is not"
                            );
                        }
                    } else {
                        tracing::warn!(
                            worker = mine.worker,
                            holder = %NodeId(holder),
                            "snowflake worker claimed by another node too; claiming another"
                        );
                        self.held = None;
                    }
                }
                Verdict::Wins {
                    rival,
                    rival_configured,
                } => {
                    // Settled: the rival yields and this node keeps issuing IDs. Otherwise the
                    // settle period starts again once the rival has visibly given the pair up.
                    if let Some(h) = self.held.as_mut().filter(|h| !h.settled) {
                        h.since = now;
                        if rival_configured && self.configured.is_some() {
                            // Neither can move: an operator error, reported on both nodes.
                            let reason = format!(
                                "ERR snowflake IDs are suspended: id-worker {} (id-datacenter {}) \
                                 is also configured on cluster node {}",
                                mine.worker,
                                mine.datacenter,
                                NodeId(rival)
                            );
                            self.suspend(reason, &mut fx);
                        }
                    }
                }
                Verdict::Clear => {
                    if let Some(h) = self.held.as_mut() {
                        if !h.settled && now.saturating_duration_since(h.since) >= SETTLE {
                            h.settled = true;
                            self.suspended = None;
                            fx.push(Effect::Serve(h.worker));
                            if self.configured.is_none() {
                                fx.push(Effect::Store(h.worker));
                            }
                        }
                    }
                }
            }
        }
        if self.held.is_none() {
            match choose_worker(
                self.datacenter,
                self.max_worker,
                self.preferred.take(),
                others,
            ) {
                Some(worker) => {
                    self.held = Some(Held {
                        worker,
                        since: now,
                        settled: false,
                    });
                    self.suspend(WORKER_NOT_SETTLED.to_string(), &mut fx);
                }
                None => {
                    let reason = format!(
                        "ERR no free snowflake worker: all {} workers of id-datacenter {} are \
                         claimed by other cluster nodes (give id-layout more worker bits, use \
                         another id-datacenter, or CLUSTER FORGET nodes gone for good)",
                        u128::from(self.max_worker) + 1,
                        self.datacenter
                    );
                    let text = reason.strip_prefix("ERR ").unwrap_or(&reason).to_string();
                    if self.suspend(reason, &mut fx) {
                        tracing::error!("{text}");
                    }
                }
            }
        }
        let after = self.claim();
        if after != before {
            fx.insert(0, Effect::Announce(after));
        }
        fx
    }
}

/// The other nodes' claims (nodes that left are not members any more).
fn others(membership: &Membership, node: u64) -> Vec<Other> {
    membership
        .members()
        .into_iter()
        .filter(|m| m.meta.id != node && m.meta.state != NodeState::Left)
        .filter_map(|m| {
            m.meta.id_worker.map(|claim| Other {
                node: m.meta.id,
                claim,
                alive: m.alive,
            })
        })
        .collect()
}

/// Reads the stored worker if it was claimed in `datacenter`. The file is only a preference
/// (uniqueness comes from the membership), so an unreadable one is ignored with a warning.
fn read_stored(dir: &Path, datacenter: u64) -> Option<u64> {
    let path = dir.join(WORKER_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot read the stored snowflake worker");
            return None;
        }
    };
    let mut fields = text.split_whitespace().map(str::parse::<u64>);
    match (fields.next(), fields.next(), fields.next()) {
        (Some(Ok(dc)), Some(Ok(worker)), None) => (dc == datacenter).then_some(worker),
        _ => {
            tracing::warn!(path = %path.display(), "ignoring a malformed stored snowflake worker");
            None
        }
    }
}

fn store(dir: &Path, datacenter: u64, worker: u64) -> std::io::Result<()> {
    ringkv_persist::write_atomically(&dir.join(WORKER_FILE), |f| {
        std::io::Write::write_all(f, format!("{datacenter} {worker}\n").as_bytes())
    })
}

/// Waits (at most [`LEARN_MAX`]) until every seed is a live member and the membership has been
/// quiet for [`LEARN_QUIET`], so the first claim sees the cluster's claims.
async fn learn(membership: &Membership, node: u64, seeds: &[SocketAddr]) {
    let started = tokio::time::Instant::now();
    let deadline = started + LEARN_MAX;
    let mut changes = membership.subscribe();
    let mut last_change = started;
    loop {
        let members = membership.members();
        let seeds_known = seeds.iter().all(|s| {
            members
                .iter()
                .any(|m| m.alive && m.meta.id != node && m.meta.peer_addr == *s)
        });
        let now = tokio::time::Instant::now();
        let quiet_at = last_change + LEARN_QUIET;
        if now >= deadline || (seeds_known && now >= quiet_at) {
            return;
        }
        let wake = if seeds_known {
            quiet_at.min(deadline)
        } else {
            deadline
        };
        tokio::select! {
            biased;
            changed = changes.changed() => {
                if changed.is_err() {
                    return;
                }
                last_change = tokio::time::Instant::now();
            }
            _ = tokio::time::sleep_until(wake) => {}
        }
    }
}

/// Claims this node's snowflake worker at start-up (see the module doc), after learning the
/// cluster through `seeds` (the resolved `cluster-seeds`), and keeps the claim current in the
/// background. Errors are start-up failures: a configured worker a live node
/// already holds.
pub async fn start(cluster: &Arc<Cluster>, seeds: &[SocketAddr]) -> Result<(), String> {
    let (datacenter, configured, layout, dir) = {
        let c = cluster.shared.config.read();
        (
            c.id_datacenter,
            c.id_worker,
            ringkv_commands::ids::layout_of(&c),
            std::path::PathBuf::from(&c.dir),
        )
    };
    let node = cluster.node.0;
    let membership = &cluster.membership;
    learn(membership, node, seeds).await;
    let seen = others(membership, node);
    if let Some(w) = configured {
        if let Some(holder) = seen.iter().find(|o| o.holds(datacenter, w)) {
            let addr = membership
                .members()
                .into_iter()
                .find(|m| m.meta.id == holder.node)
                .map(|m| m.meta.client_addr.to_string())
                .unwrap_or_default();
            // Leave at once rather than be seen as a crashed node.
            membership.shutdown().await;
            return Err(format!(
                "id-worker {w} (id-datacenter {datacenter}) is already held by live cluster node \
                 {} ({addr}): two nodes with one worker would issue the same snowflake IDs. \
                 Configure a free id-worker, or set id-worker auto to claim one",
                NodeId(holder.node)
            ));
        }
    }
    let stored = if configured.is_none() {
        read_stored(&dir, datacenter)
    } else {
        None
    };
    let mut claimer = Claimer::new(
        node,
        datacenter,
        layout.max_worker(),
        configured,
        stored,
        clock_now(),
    );
    if let Some(claim) = claimer.claim() {
        // A configured claim is announced before the first step.
        membership.update_local(|m| m.id_worker = Some(claim));
    }
    let fx = claimer.step(clock_now(), &seen);
    apply(cluster, &claimer, &dir, fx);
    if let Some(c) = claimer.claim() {
        tracing::info!(
            worker = c.worker,
            datacenter = c.datacenter,
            source = claimer.source().name(),
            "claiming the snowflake worker"
        );
    }
    tokio::spawn(keep_claim(cluster.clone(), claimer, dir));
    Ok(())
}

/// Now on Tokio's clock (which the simulator and paused tests drive), as the std `Instant` that
/// [`Claimer`] takes.
fn clock_now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn apply(cluster: &Cluster, claimer: &Claimer, dir: &Path, fx: Vec<Effect>) {
    let source = claimer.source();
    for effect in fx {
        match effect {
            Effect::Announce(claim) => cluster.membership.update_local(|m| m.id_worker = claim),
            Effect::Serve(worker) => match cluster.shared.ids.use_worker(worker, source) {
                Ok(()) => tracing::info!(
                    worker,
                    datacenter = claimer.datacenter,
                    source = source.name(),
                    "snowflake worker settled"
                ),
                Err(e) => {
                    tracing::error!("{e}");
                    cluster.shared.ids.suspend_snowflakes(format!("ERR {e}"));
                }
            },
            Effect::Suspend(reason) => cluster.shared.ids.suspend_snowflakes(reason),
            Effect::Store(worker) => {
                let (dir, datacenter) = (dir.to_path_buf(), claimer.datacenter);
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = store(&dir, datacenter, worker) {
                        tracing::warn!(dir = %dir.display(), error = %e, "cannot store the claimed snowflake worker");
                    }
                });
            }
        }
    }
}

/// Re-examines the claim on every membership change and every [`TICK`] until shutdown.
async fn keep_claim(cluster: Arc<Cluster>, mut claimer: Claimer, dir: std::path::PathBuf) {
    let mut changes = cluster.membership.subscribe();
    let mut shutdown = cluster.shared.shutdown_signal();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            biased;
            changed = changes.changed() => {
                if changed.is_err() {
                    break;
                }
            }
            _ = tick.tick() => {}
            _ = shutdown.changed() => break,
        }
        let fx = claimer.step(clock_now(), &others(&cluster.membership, cluster.node.0));
        apply(&cluster, &claimer, &dir, fx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(worker: u64, configured: bool, settled: bool) -> WorkerClaim {
        WorkerClaim {
            datacenter: 0,
            worker,
            configured,
            settled,
        }
    }

    fn other(node: u64, worker: u64, alive: bool) -> Other {
        Other {
            node,
            claim: claim(worker, false, true),
            alive,
        }
    }

    #[test]
    fn choose_takes_the_stored_worker_unless_a_live_node_holds_it() {
        let others = [other(2, 0, true), other(3, 1, false)];
        // Stored 5: free.
        assert_eq!(choose_worker(0, 31, Some(5), &others), Some(5));
        // Stored 1 is held by a node that is down: still ours to take back.
        assert_eq!(choose_worker(0, 31, Some(1), &others), Some(1));
        // Stored 0 is held by a live node: the lowest worker nobody claims (down nodes count).
        assert_eq!(choose_worker(0, 31, Some(0), &others), Some(2));
        // A stored worker the layout cannot hold is ignored.
        assert_eq!(choose_worker(0, 31, Some(32), &others), Some(2));
        assert_eq!(choose_worker(0, 31, None, &[]), Some(0));
        // Gaps are filled first.
        let others = [other(2, 0, true), other(3, 2, true), other(4, 2, true)];
        assert_eq!(choose_worker(0, 31, None, &others), Some(1));
    }

    #[test]
    fn choose_only_counts_the_same_datacenter_and_reports_exhaustion() {
        let mut elsewhere = other(2, 0, true);
        elsewhere.claim.datacenter = 1;
        assert_eq!(choose_worker(0, 3, None, &[elsewhere]), Some(0));
        let full: Vec<Other> = (0..4).map(|w| other(10 + w, w, w % 2 == 0)).collect();
        assert_eq!(choose_worker(0, 3, None, &full), None);
        assert_eq!(choose_worker(0, 4, None, &full), Some(4));
        // Zero worker bits: one worker.
        assert_eq!(choose_worker(0, 0, None, &[]), Some(0));
        assert_eq!(choose_worker(0, 0, Some(3), &[other(2, 0, true)]), None);
    }

    #[test]
    fn conflicts_resolve_the_same_way_on_both_sides() {
        let cases = [
            // (a, b): a wins.
            ((claim(1, true, false), 9), (claim(1, false, true), 1)),
            ((claim(1, false, true), 9), (claim(1, false, false), 1)),
            ((claim(1, false, false), 1), (claim(1, false, false), 9)),
            ((claim(1, true, true), 1), (claim(1, true, true), 9)),
        ];
        for ((a, an), (b, bn)) in cases {
            assert!(beats(a, an, b, bn), "{a:?}/{an} should beat {b:?}/{bn}");
            assert!(!beats(b, bn, a, an), "{b:?}/{bn} should lose to {a:?}/{an}");
        }
        let mine = claim(1, false, false);
        let live = Other {
            node: 5,
            claim: claim(1, false, false),
            alive: true,
        };
        assert_eq!(
            verdict(3, mine, &[live]),
            Verdict::Wins {
                rival: 5,
                rival_configured: false
            }
        );
        assert_eq!(verdict(7, mine, &[live]), Verdict::Loses { holder: 5 });
        // Down nodes and other workers are no conflict.
        let down = Other {
            alive: false,
            ..live
        };
        assert_eq!(verdict(7, mine, &[down, other(8, 2, true)]), Verdict::Clear);
    }

    #[test]
    fn a_claim_settles_after_the_settle_period_without_conflict() {
        let t0 = Instant::now();
        let mut c = Claimer::new(7, 0, 31, None, None, t0);
        let fx = c.step(t0, &[other(2, 0, true)]);
        let want = WorkerClaim {
            datacenter: 0,
            worker: 1,
            configured: false,
            settled: false,
        };
        assert_eq!(fx, [Effect::Announce(Some(want))]);
        assert_eq!(c.serving(), None);
        assert!(c.step(t0 + SETTLE / 2, &[other(2, 0, true)]).is_empty());
        let fx = c.step(t0 + SETTLE, &[other(2, 0, true)]);
        assert_eq!(
            fx,
            [
                Effect::Announce(Some(WorkerClaim {
                    settled: true,
                    ..want
                })),
                Effect::Serve(1),
                Effect::Store(1),
            ]
        );
        assert_eq!(c.serving(), Some(1));
        // Settled: a later unsettled claim on the same worker loses against it.
        let newcomer = Other {
            node: 1,
            claim: claim(1, false, false),
            alive: true,
        };
        assert!(c.step(t0 + SETTLE * 2, &[newcomer]).is_empty());
        assert_eq!(c.serving(), Some(1));
    }

    #[test]
    fn the_higher_node_yields_a_simultaneous_claim_and_claims_again() {
        let t0 = Instant::now();
        let mut low = Claimer::new(1, 0, 31, None, None, t0);
        let mut high = Claimer::new(9, 0, 31, None, None, t0);
        low.step(t0, &[]);
        high.step(t0, &[]);
        assert_eq!(low.claim().map(|c| c.worker), Some(0));
        assert_eq!(high.claim().map(|c| c.worker), Some(0));
        let view = |node: u64, c: &Claimer| Other {
            node,
            claim: c.claim().unwrap(),
            alive: true,
        };
        let t1 = t0 + Duration::from_millis(300);
        let (seen_by_low, seen_by_high) = (view(9, &high), view(1, &low));
        let fx_low = low.step(t1, &[seen_by_low]);
        let fx_high = high.step(t1, &[seen_by_high]);
        assert!(fx_low.is_empty(), "{fx_low:?}");
        assert_eq!(high.claim().map(|c| c.worker), Some(1), "{fx_high:?}");
        // The winner's settle period restarted when it saw the conflict.
        let t2 = t0 + SETTLE + Duration::from_millis(100);
        let (seen_by_low, seen_by_high) = (view(9, &high), view(1, &low));
        assert!(low.step(t2, &[seen_by_low]).is_empty());
        let t3 = t1 + SETTLE;
        assert!(low.step(t3, &[seen_by_low]).contains(&Effect::Serve(0)));
        assert!(high.step(t3, &[seen_by_high]).contains(&Effect::Serve(1)));
    }

    #[test]
    fn a_configured_claim_beats_a_claimed_one_and_never_moves() {
        let t0 = Instant::now();
        let mut configured = Claimer::new(9, 0, 31, Some(4), None, t0);
        assert_eq!(configured.claim().map(|c| c.worker), Some(4));
        let settled_auto = other(1, 4, true);
        assert!(configured.step(t0, &[settled_auto]).is_empty());
        let mut auto = Claimer::new(1, 0, 31, None, Some(4), t0);
        auto.step(t0, &[]);
        assert_eq!(auto.claim().map(|c| c.worker), Some(4));
        let rival = Other {
            node: 9,
            claim: configured.claim().unwrap(),
            alive: true,
        };
        auto.step(t0 + SETTLE, &[rival]);
        assert_eq!(auto.claim().map(|c| c.worker), Some(0));
        // Two configured claims on one worker: the lower node id keeps it, the other suspends.
        let mut other_configured = Claimer::new(3, 0, 31, Some(4), None, t0);
        let holder = Other {
            node: 3,
            claim: other_configured.claim().unwrap(),
            alive: true,
        };
        let fx = configured.step(t0 + SETTLE, &[holder]);
        assert!(
            matches!(&fx[..], [Effect::Suspend(e)] if e.contains("also held by cluster node")),
            "{fx:?}"
        );
        // While the conflict lasts the suspension (and its log line) is not repeated.
        assert!(configured.step(t0 + SETTLE * 2, &[holder]).is_empty());
        assert_eq!(configured.claim().map(|c| c.worker), Some(4));
        // The winner cannot settle while the loser, which cannot move either, is there.
        let fx = other_configured.step(t0 + SETTLE, &[rival]);
        assert!(
            matches!(&fx[..], [Effect::Suspend(e)] if e.contains("also configured on cluster node")),
            "{fx:?}"
        );
        assert!(other_configured
            .step(t0 + SETTLE + SETTLE / 2, &[])
            .is_empty());
        let fx = other_configured.step(t0 + SETTLE * 2, &[]);
        assert!(fx.contains(&Effect::Serve(4)), "{fx:?}");
    }

    #[test]
    fn all_workers_taken_is_a_clear_error_until_one_frees_up() {
        let t0 = Instant::now();
        let mut c = Claimer::new(9, 0, 1, None, None, t0);
        let full = [other(1, 0, true), other(2, 1, false)];
        let fx = c.step(t0, &full);
        assert!(
            matches!(&fx[..], [Effect::Suspend(e)] if e.starts_with("ERR no free snowflake worker: all 2 workers")),
            "{fx:?}"
        );
        assert!(c.step(t0, &full).is_empty(), "the error is not repeated");
        let fx = c.step(t0, &full[..1]);
        assert_eq!(fx.len(), 2, "{fx:?}");
        assert_eq!(c.claim().map(|c| c.worker), Some(1));
    }

    #[test]
    fn stored_worker_round_trips_and_bad_files_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(read_stored(dir.path(), 0), None);
        store(dir.path(), 2, 17).unwrap();
        assert_eq!(read_stored(dir.path(), 2), Some(17));
        assert_eq!(read_stored(dir.path(), 0), None, "another datacenter");
        std::fs::write(dir.path().join(WORKER_FILE), "nonsense").unwrap();
        assert_eq!(read_stored(dir.path(), 2), None);
    }
}
