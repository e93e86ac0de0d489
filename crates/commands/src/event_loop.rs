//! What the event loop reports about itself: where each round of work ends, how often the loop
//! parks, and how it busy-polls.
//!
//! The server's runtime calls [`install_hooks`]'s hook each time one of its threads runs out
//! of ready work (parks). Two parts of the server depend on that:
//! - the `always` group commit ([`crate::aof`]) ends a cycle at the end of a round, so one
//!   fsync covers every batch of the round;
//! - the server's busy poller: while it polls, the loop does not park, so the poller reports the
//!   ends of rounds itself ([`round_ended`]), along with its state and fruitless polling time.
//!
//! INFO stats shows the counters (`eventloop_parks`, `eventloop_load_perc`, `busy_poll_*`, and
//! the event-loop pinning's `eventloop_cpu`, `eventloop_pins`, `eventloop_contended_unpins`,
//! `eventloop_run_delay_perc`).

use crate::info::field;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

/// Times a runtime thread ran out of ready work: the ends of event-loop rounds, counted by the
/// park hook and by the busy poller.
static ROUNDS: AtomicU64 = AtomicU64::new(0);
/// Times a runtime thread parked (waited for events in `epoll_wait`).
static PARKS: AtomicU64 = AtomicU64::new(0);
/// The hooks are installed (a runtime reports its rounds).
static HOOKED: AtomicBool = AtomicBool::new(false);
/// Busy polling: whether it is on now, and the nanoseconds it spent polling without work.
static BUSY_POLL_ACTIVE: AtomicBool = AtomicBool::new(false);
static BUSY_POLL_NS: AtomicU64 = AtomicU64::new(0);
/// The loop thread's CPU use for work over the busy poller's last sample period, in percent.
static LOAD_PERCENT: AtomicU32 = AtomicU32::new(0);
/// Event-loop pinning: the CPU the loop is pinned to (-1: none), times it pinned itself, times
/// it unpinned because it waited for its CPU, and the share of the last window it waited.
static PINNED_CPU: AtomicI64 = AtomicI64::new(-1);
static PINS: AtomicU64 = AtomicU64::new(0);
static CONTENDED_UNPINS: AtomicU64 = AtomicU64::new(0);
static RUN_DELAY_PERCENT: AtomicU32 = AtomicU32::new(0);

/// Makes `builder`'s threads report when they go idle (the server binary calls this for its
/// runtime).
pub fn install_hooks(builder: &mut tokio::runtime::Builder) -> &mut tokio::runtime::Builder {
    HOOKED.store(true, Ordering::SeqCst);
    builder.on_thread_park(|| {
        PARKS.fetch_add(1, Ordering::Relaxed);
        round_ended();
    })
}

/// Whether a runtime with the hooks exists (without it, nobody reports the ends of rounds).
pub fn hooked() -> bool {
    HOOKED.load(Ordering::Relaxed)
}

/// The loop ran out of ready work: a round ended.
pub fn round_ended() {
    // SeqCst pairs with the `always` writer's gather (which sets its kick, then reads `rounds`).
    ROUNDS.fetch_add(1, Ordering::SeqCst);
    crate::aof::round_ended();
}

/// Rounds ended so far.
pub(crate) fn rounds() -> u64 {
    ROUNDS.load(Ordering::SeqCst)
}

/// The busy poller reports whether it polls now and the load it last measured (percent of its
/// last sample period the loop thread spent on the CPU, polling without work not counted).
pub fn set_busy_poll_state(active: bool, load_percent: u32) {
    BUSY_POLL_ACTIVE.store(active, Ordering::Relaxed);
    LOAD_PERCENT.store(load_percent, Ordering::Relaxed);
}

/// The busy poller reports time its polls found nothing.
pub fn add_busy_poll_idle(d: Duration) {
    BUSY_POLL_NS.fetch_add(d.as_nanos() as u64, Ordering::Relaxed);
}

/// Time the busy poller's polls found nothing, so far.
pub fn busy_poll_idle_time() -> Duration {
    Duration::from_nanos(BUSY_POLL_NS.load(Ordering::Relaxed))
}

/// The CPU the `always` AOF writer was on when its last fsync returned (-1: none yet).
static FSYNC_CPU: AtomicI64 = AtomicI64::new(-1);

/// The `always` writer's fsync just returned (called on the writer thread). The thread was woken
/// there by the disk's completion; event-loop pinning prefers that CPU.
pub(crate) fn note_fsync_cpu() {
    if let Some(cpu) = crate::cpu_affinity::current_cpu().and_then(|c| i64::try_from(c).ok()) {
        FSYNC_CPU.store(cpu, Ordering::Relaxed);
    }
}

/// Where the `always` writer's last fsync returned.
pub fn fsync_cpu() -> Option<usize> {
    usize::try_from(FSYNC_CPU.load(Ordering::Relaxed)).ok()
}

/// The event loop pinned itself to `cpu`, or unpinned (`None`).
pub fn set_pinned_cpu(cpu: Option<usize>) {
    if cpu.is_some() {
        PINS.fetch_add(1, Ordering::Relaxed);
    }
    let cpu = cpu.and_then(|c| i64::try_from(c).ok()).unwrap_or(-1);
    PINNED_CPU.store(cpu, Ordering::Relaxed);
}

/// The pinned event loop unpinned because it waited too long for its CPU.
pub fn count_contended_unpin() {
    CONTENDED_UNPINS.fetch_add(1, Ordering::Relaxed);
}

/// The share of the last measured window the pinned loop waited for its CPU.
pub fn set_run_delay_percent(percent: u32) {
    RUN_DELAY_PERCENT.store(percent, Ordering::Relaxed);
}

/// The INFO stats fields of the event loop.
pub(crate) fn info(out: &mut String) {
    field(out, "eventloop_parks", PARKS.load(Ordering::Relaxed));
    field(
        out,
        "eventloop_load_perc",
        LOAD_PERCENT.load(Ordering::Relaxed),
    );
    let active = BUSY_POLL_ACTIVE.load(Ordering::Relaxed);
    field(out, "busy_poll_active", u8::from(active));
    field(
        out,
        "busy_poll_idle_usec",
        BUSY_POLL_NS.load(Ordering::Relaxed) / 1000,
    );
    field(out, "eventloop_cpu", PINNED_CPU.load(Ordering::Relaxed));
    field(out, "eventloop_pins", PINS.load(Ordering::Relaxed));
    field(
        out,
        "eventloop_contended_unpins",
        CONTENDED_UNPINS.load(Ordering::Relaxed),
    );
    field(
        out,
        "eventloop_run_delay_perc",
        RUN_DELAY_PERCENT.load(Ordering::Relaxed),
    );
}
