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

use crate::membership::NodeIdentity;

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

    /// Switches to `identity` (metadata change) and tells every active
    /// member directly, so the change does not wait for dissemination.
    pub fn change_identity(&mut self, now: Instant, identity: NodeIdentity, fx: &mut Effects) {
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
