//! The only place that feeds time and randomness to the SWIM state machine.
//!
//! `Driver` wraps a sans-IO `foca::Foca` and turns its callbacks into plain
//! data: packets to send, notifications, and timers kept in a queue ordered
//! by deadline. The caller supplies the current instant on every call and
//! performs all IO, so the same driver runs under a Tokio task today and a
//! deterministic simulator later.
//!
//! Invariants: the RNG is seeded once from the configured seed and nothing
//! else here draws randomness; no method reads a clock (the wall-clock
//! generation helper is used only at start-up, by the caller); timers fire
//! in deadline order, ties in scheduling order.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use foca::{
    AccumulatingRuntime, Config, Foca, NoCustomBroadcast, OwnedNotification, PostcardCodec, Timer,
};
use rand::rngs::Xoshiro256PlusPlus;
use rand::SeedableRng;

use crate::membership::{NodeIdentity, NodeMeta};

/// Effects of a driver step, in the order foca produced them.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub sends: Vec<(SocketAddr, Bytes)>,
    pub notifications: Vec<OwnedNotification<NodeIdentity>>,
    /// Members newly suspected during this step.
    pub suspicions: u64,
    /// Probe cycles started during this step.
    pub probes: u64,
    /// Indirect probe rounds started during this step.
    pub indirect_probes: u64,
}

pub(crate) struct Driver {
    foca: Foca<NodeIdentity, PostcardCodec, Xoshiro256PlusPlus, NoCustomBroadcast>,
    runtime: AccumulatingRuntime<NodeIdentity>,
    /// Pending timers by (deadline, scheduling sequence number).
    timers: BTreeMap<(Instant, u64), Timer<NodeIdentity>>,
    timer_seq: u64,
}

/// A generation for a freshly started node: nanoseconds since the Unix
/// epoch, so a restarted node outranks every incarnation it had before.
pub(crate) fn initial_generation() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
}

impl Driver {
    pub fn new(identity: NodeIdentity, config: Config, rng_seed: u64) -> Self {
        let rng = Xoshiro256PlusPlus::seed_from_u64(rng_seed);
        Self {
            foca: Foca::new(identity, config, rng, PostcardCodec),
            runtime: AccumulatingRuntime::new(),
            timers: BTreeMap::new(),
            timer_seq: 0,
        }
    }

    pub fn identity(&self) -> &NodeIdentity {
        self.foca.identity()
    }

    /// Peer addresses of the members foca currently considers active.
    pub fn active_peer_addrs(&self) -> Vec<SocketAddr> {
        self.foca
            .iter_members()
            .map(|m| m.id().meta.peer_addr)
            .collect()
    }

    /// Deadline of the earliest pending timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.keys().next().map(|(at, _)| *at)
    }

    /// Feeds one received datagram.
    pub fn handle_data(
        &mut self,
        now: Instant,
        data: &[u8],
        fx: &mut Effects,
    ) -> Result<(), foca::Error> {
        let result = self.foca.handle_data(data, &mut self.runtime);
        self.collect(now, fx);
        result
    }

    /// Fires every timer due at `now`.
    pub fn fire_due(&mut self, now: Instant, fx: &mut Effects) {
        while let Some(entry) = self.timers.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let timer = entry.remove();
            match &timer {
                Timer::ProbeRandomMember(_) => fx.probes += 1,
                Timer::SendIndirectProbe { .. } => fx.indirect_probes += 1,
                _ => {}
            }
            if let Err(e) = self.foca.handle_timer(timer, &mut self.runtime) {
                tracing::debug!(error = %e, "membership timer");
            }
            self.collect(now, fx);
        }
    }

    /// Sends an announce to whoever listens at `to`. The destination's
    /// identity is unknown, so a placeholder with only the address is used:
    /// foca accepts announces addressed to any identity with its address.
    pub fn announce(&mut self, now: Instant, to: SocketAddr, fx: &mut Effects) {
        if let Err(e) = self
            .foca
            .announce(NodeIdentity::placeholder(to), &mut self.runtime)
        {
            tracing::debug!(error = %e, %to, "membership announce");
        }
        self.collect(now, fx);
    }

    /// Switches to `meta` under the next generation and tells every active
    /// member directly, so the change does not wait for dissemination.
    pub fn change_meta(&mut self, now: Instant, meta: NodeMeta, fx: &mut Effects) {
        let identity = NodeIdentity {
            meta,
            generation: self.identity().generation.wrapping_add(1),
        };
        let peers = self.active_peer_addrs();
        if let Err(e) = self.foca.change_identity(identity, &mut self.runtime) {
            tracing::debug!(error = %e, "membership identity change");
        }
        for peer in peers {
            if let Err(e) = self
                .foca
                .announce(NodeIdentity::placeholder(peer), &mut self.runtime)
            {
                tracing::debug!(error = %e, %peer, "membership announce");
            }
        }
        self.collect(now, fx);
    }

    /// Declares this node down to the cluster; foca goes defunct after it.
    pub fn leave(&mut self, now: Instant, fx: &mut Effects) {
        if let Err(e) = self.foca.leave_cluster(&mut self.runtime) {
            tracing::debug!(error = %e, "membership leave");
        }
        self.collect(now, fx);
    }

    fn collect(&mut self, now: Instant, fx: &mut Effects) {
        while let Some((to, data)) = self.runtime.to_send() {
            fx.sends.push((to.meta.peer_addr, data));
        }
        while let Some((after, timer)) = self.runtime.to_schedule() {
            if matches!(timer, Timer::ChangeSuspectToDown { .. }) {
                fx.suspicions += 1;
            }
            self.schedule(now, after, timer);
        }
        while let Some(n) = self.runtime.to_notify() {
            fx.notifications.push(n);
        }
    }

    fn schedule(&mut self, now: Instant, after: Duration, timer: Timer<NodeIdentity>) {
        self.timer_seq = self.timer_seq.wrapping_add(1);
        self.timers.insert((now + after, self.timer_seq), timer);
    }
}

#[cfg(test)]
mod tests {
    //! Drives several nodes entirely in memory on a simulated clock: no
    //! sockets, no real time. This is the shape a deterministic cluster
    //! simulator takes.

    use super::*;
    use crate::membership::{MembershipConfig, NodeState};

    const STEP: Duration = Duration::from_millis(10);

    fn identity(id: u64) -> NodeIdentity {
        let addr: SocketAddr = format!("127.0.0.1:{}", 20_000 + id).parse().unwrap();
        NodeIdentity {
            meta: NodeMeta {
                id,
                client_addr: addr,
                peer_addr: addr,
                zone: "z".into(),
                weight: 1,
                state: NodeState::Up,
                id_worker: None,
            },
            generation: 1,
        }
    }

    struct Sim {
        now: Instant,
        nodes: Vec<(Driver, bool)>,
        in_flight: Vec<(SocketAddr, Bytes)>,
        trace: Vec<(u64, SocketAddr, Bytes)>,
        steps: u64,
    }

    impl Sim {
        fn new(n: u64, seed: u64) -> Self {
            let config = MembershipConfig::default().to_foca().unwrap();
            let mut sim = Sim {
                now: Instant::now(),
                nodes: (1..=n)
                    .map(|id| (Driver::new(identity(id), config.clone(), seed ^ id), true))
                    .collect(),
                in_flight: Vec::new(),
                trace: Vec::new(),
                steps: 0,
            };
            let seed_addr = identity(1).meta.peer_addr;
            for i in 1..sim.nodes.len() {
                let mut fx = Effects::default();
                let now = sim.now;
                sim.nodes[i].0.announce(now, seed_addr, &mut fx);
                sim.in_flight.extend(fx.sends);
            }
            sim
        }

        fn step(&mut self) {
            self.now += STEP;
            self.steps += 1;
            let mut out = Vec::new();
            for (driver, up) in &mut self.nodes {
                if *up {
                    let mut fx = Effects::default();
                    driver.fire_due(self.now, &mut fx);
                    out.extend(fx.sends);
                }
            }
            // Deliver what was sent during the previous step (10 ms latency).
            for (to, data) in std::mem::take(&mut self.in_flight) {
                self.trace.push((self.steps, to, data.clone()));
                if let Some((driver, true)) = self
                    .nodes
                    .iter_mut()
                    .find(|(d, _)| d.identity().meta.peer_addr == to)
                {
                    let mut fx = Effects::default();
                    let _ = driver.handle_data(self.now, &data, &mut fx);
                    out.extend(fx.sends);
                }
            }
            self.in_flight = out;
        }

        fn run(&mut self, d: Duration) {
            let steps = d.as_millis() / STEP.as_millis();
            for _ in 0..steps {
                self.step();
            }
        }

        fn active_count(&self, i: usize) -> usize {
            self.nodes[i].0.active_peer_addrs().len()
        }
    }

    /// With the default configuration a crashed node is declared down
    /// within the 2–4 s that `MembershipConfig` documents, whatever the
    /// seed; the clock is simulated, so the bound is exact, not a timing
    /// guess on a busy machine.
    #[test]
    fn simulated_cluster_converges_and_detects_a_crash() {
        for seed in 0..10 {
            let mut sim = Sim::new(4, seed);
            sim.run(Duration::from_secs(2));
            for i in 0..4 {
                assert_eq!(sim.active_count(i), 3, "node {i} after join, seed {seed}");
            }
            sim.nodes[3].1 = false;
            let crashed_at = sim.steps;
            while (0..3).any(|i| sim.active_count(i) != 2) {
                assert!(
                    sim.steps - crashed_at < 1000,
                    "crash not detected in 10 s, seed {seed}"
                );
                sim.step();
            }
            let detected = STEP * (sim.steps - crashed_at) as u32;
            assert!(
                detected <= Duration::from_secs(4),
                "took {detected:?}, seed {seed}"
            );
        }
    }

    #[test]
    fn same_seed_same_run() {
        let run = |seed| {
            let mut sim = Sim::new(4, seed);
            sim.run(Duration::from_secs(3));
            sim.nodes[2].1 = false;
            sim.run(Duration::from_secs(4));
            sim.trace
        };
        let first = run(42);
        assert!(!first.is_empty());
        assert_eq!(first, run(42));
    }
}
