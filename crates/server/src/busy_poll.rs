//! Busy polling: while the event loop is nearly saturated, it polls for new events for a short
//! window (`busy-poll-us`, default 50 µs) instead of going to sleep in `epoll_wait` as soon as
//! it runs out of work.
//!
//! Why: near saturation the loop finishes its ready work, sleeps for a few microseconds, and is
//! woken by the next request. Each such sleep is paid by the client: its `write` has to wake the
//! server's thread, an inter-processor interrupt, which on a virtual machine is an exit to the
//! hypervisor. Measured with `redis-benchmark -t set -c 50 -P 1` on a 2-core VM, ringkv's loop
//! slept 120 times per 1,000 requests (Redis's, busier per request, 7) and the benchmark client
//! spent 7% more CPU per request than against Redis; the client being the bottleneck there,
//! ringkv's throughput was 3-7% below Redis's although its own CPU per request was lower.
//! Polling before sleeping removes most of those sleeps (figures in `docs/persistence.md`).
//!
//! Cost: time spent polling is CPU spent on nothing. The loop therefore polls only while it was
//! at least `busy-poll-min-load` percent busy (default 50) over the last 10 ms: it can then
//! waste at most the rest of that core, and only while it serves near its capacity anyway. An
//! idle or lightly loaded server never polls. A lower setting trades CPU for latency (with one
//! client at pipeline 1, `busy-poll-min-load 0` measured 38-70% more throughput for a whole
//! core); `busy-poll-us 0` turns polling off. Nor does the loop poll while one of the server's own
//! threads needs a core: under `appendfsync always`, and while a background save or an AOF
//! rewrite runs.
//!
//! How: one task on the event loop. At rest it waits for the first command. While commands run
//! it samples the loop's load every 10 ms: the loop thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`,
//! which counts the work of `epoll_wait` and of reads and writes too) minus the time polls found
//! nothing, over the elapsed time. While polling, it yields after every look: tokio's
//! current-thread scheduler polls the sockets with a zero timeout (`epoll_wait(…, 0)`) before it
//! runs a yielded task again, so each yield is one non-blocking poll and whatever it found runs
//! before the poller's next look. New work shows in the commands counter; a look that finds none
//! ends a round (which the `always` group commit waits for, since the loop does not park) and
//! counts as polling without work. After `busy-poll-us` without work the poller sleeps until the
//! next command (or the end of the 10 ms), and the loop parks as usual. Only the single-threaded
//! runtime (`io-threads 1`) polls.
//!
//! The same samples drive the event loop's automatic CPU pinning ([`crate::loop_pinning`]).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ringkv_commands::cpu_affinity;
use ringkv_commands::event_loop;
use ringkv_commands::Shared;

use crate::loop_pinning::LoopPinning;
use ringkv_config::AppendFsync;
use tokio::sync::Notify;
use tokio::time::Instant;

/// How often the load is sampled (and the settings read) while commands run.
const SAMPLE_PERIOD: Duration = Duration::from_millis(10);

/// The poller sleeps until the next command: [`note_commands`] wakes it.
static WAITING: AtomicBool = AtomicBool::new(false);
static WAKE: Notify = Notify::const_new();

/// Called by connections after they ran commands: wakes the poller if it waits for work (one
/// relaxed load otherwise).
#[inline]
pub(crate) fn note_commands() {
    if WAITING.load(Ordering::Relaxed) && WAITING.swap(false, Ordering::Relaxed) {
        WAKE.notify_one();
    }
}

/// Why a wait ended.
enum Woken {
    Work,
    Timeout,
    Stop,
}

/// Sleeps until a command runs, `deadline` passes (if any) or the server stops.
async fn wait_for_commands(
    deadline: Option<Instant>,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Woken {
    WAITING.store(true, Ordering::Relaxed);
    let woken = tokio::select! {
        biased;
        _ = stop.changed() => Woken::Stop,
        _ = WAKE.notified() => Woken::Work,
        woken = sleep_until(deadline) => woken,
    };
    WAITING.store(false, Ordering::Relaxed);
    woken
}

/// Sleeps until `deadline` (forever if none).
async fn sleep_until(deadline: Option<Instant>) -> Woken {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
    Woken::Timeout
}

/// The settings in force for one sample period.
#[derive(Clone, Copy)]
struct Settings {
    window: Duration,
    min_load_percent: u32,
    /// Automatic event-loop pinning is on (`event-loop-pinning auto`, no `server_cpulist`).
    pinning: bool,
    /// The AOF writer fsyncs under `always` (pinning prefers the CPU its fsyncs return on).
    fsync_always: bool,
}

impl Settings {
    fn read(shared: &Shared) -> Settings {
        let fsync_always = fsyncs_always(shared);
        let config = shared.config.read();
        Settings {
            fsync_always,
            window: if fsync_always || background_job_runs(shared) {
                Duration::ZERO
            } else {
                Duration::from_micros(config.busy_poll_us.into())
            },
            min_load_percent: config.busy_poll_min_load,
            pinning: config.event_loop_pinning
                && cpu_affinity::list(cpu_affinity::Role::Server).is_empty(),
        }
    }
}

/// The loop does not poll while one of the server's own threads needs a core: the `always` AOF
/// writer (a fsync per event-loop round) or a background save / AOF rewrite. Polling would take
/// that CPU: on two cores, with the clients on the other one, it measured more latency, not less
/// (`docs/persistence.md`, "Measured"). This is the first of the two.
fn fsyncs_always(shared: &Shared) -> bool {
    let aof = &shared.persistence.aof;
    aof.is_running() && aof.fsync_policy() == AppendFsync::Always
}

/// A background save or AOF rewrite runs (see [`fsyncs_always`]).
fn background_job_runs(shared: &Shared) -> bool {
    shared.persistence.state.lock().job.is_some()
}

/// The counters a load sample is taken from.
struct Sample {
    at: Instant,
    /// CPU time of the loop thread spent on work: its CPU time, polling without work not counted.
    working: Duration,
    commands: u64,
}

impl Sample {
    /// Takes a sample; runs on the loop thread (whose CPU time it reads).
    fn take(shared: &Shared) -> Sample {
        Sample {
            at: Instant::now(),
            working: thread_cpu_time().saturating_sub(event_loop::busy_poll_idle_time()),
            commands: shared
                .stats
                .total_commands_processed
                .load(Ordering::Relaxed),
        }
    }
}

/// CPU time (user and system) of the calling thread; zero if the clock cannot be read.
fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec for the duration of the call.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(
        ts.tv_sec.max(0) as u64,
        ts.tv_nsec.clamp(0, 999_999_999) as u32,
    )
}

/// What one sample period showed: whether any command ran, and the percent of it the loop
/// worked.
#[derive(Debug, PartialEq)]
struct Period {
    commands: u64,
    load_percent: u32,
}

impl Period {
    fn between(earlier: &Sample, later: &Sample) -> Period {
        let elapsed = later.at.saturating_duration_since(earlier.at);
        let working = later.working.saturating_sub(earlier.working).min(elapsed);
        let load_percent = if elapsed.is_zero() {
            0
        } else {
            (working.as_nanos() * 100 / elapsed.as_nanos()) as u32
        };
        Period {
            commands: later.commands.wrapping_sub(earlier.commands),
            load_percent,
        }
    }
}

/// Whether the loop polls during the next period, after `period` under `settings`.
fn polls_next(settings: Settings, period: &Period) -> bool {
    !settings.window.is_zero()
        && period.commands > 0
        && period.load_percent >= settings.min_load_percent
}

/// The poller task (spawned by the server for a single-threaded runtime); returns at shutdown.
pub(crate) async fn run(shared: Arc<Shared>) {
    let mut stop = shared.shutdown_signal();
    let mut pinning = LoopPinning::new();
    loop {
        // At rest: nothing to sample until a command runs.
        if let Woken::Stop = wait_for_commands(None, &mut stop).await {
            return;
        }
        let mut polling = false;
        let mut last = Sample::take(&shared);
        // Read once per period, at its end: the decisions about the period just sampled and the
        // polling window of the next one both use the settings as they are then.
        let mut settings = Settings::read(&shared);
        loop {
            let deadline = Instant::now() + SAMPLE_PERIOD;
            let woken = if polling {
                poll_until(&shared, settings.window, deadline, &mut stop).await
            } else {
                tokio::select! {
                    biased;
                    _ = stop.changed() => Woken::Stop,
                    woken = sleep_until(Some(deadline)) => woken,
                }
            };
            if let Woken::Stop = woken {
                event_loop::set_busy_poll_state(false, 0);
                pinning.at_rest();
                return;
            }
            let now = Sample::take(&shared);
            let period = Period::between(&last, &now);
            last = now;
            settings = Settings::read(&shared);
            polling = polls_next(settings, &period);
            event_loop::set_busy_poll_state(polling, period.load_percent);
            if period.commands == 0 {
                pinning.at_rest();
                break;
            }
            let prefer = settings.fsync_always.then(event_loop::fsync_cpu).flatten();
            pinning.after_sample(settings.pinning, period.load_percent, prefer);
        }
    }
}

/// Polls for events until `deadline`, sleeping through any gap of more than `window` without
/// commands (until the next command or the deadline).
async fn poll_until(
    shared: &Shared,
    window: Duration,
    deadline: Instant,
    stop: &mut tokio::sync::watch::Receiver<bool>,
) -> Woken {
    let commands = &shared.stats.total_commands_processed;
    let mut seen = commands.load(Ordering::Relaxed);
    let mut last_work = Instant::now();
    let mut before = last_work;
    while before < deadline {
        tokio::task::yield_now().await;
        let now = Instant::now();
        let count = commands.load(Ordering::Relaxed);
        if count != seen {
            seen = count;
            last_work = now;
        } else {
            // Nothing ran since the last look: the round is over.
            event_loop::round_ended();
            event_loop::add_busy_poll_idle(now.saturating_duration_since(before));
            if now.saturating_duration_since(last_work) >= window {
                if let Woken::Stop = wait_for_commands(Some(deadline), stop).await {
                    return Woken::Stop;
                }
                let now = Instant::now();
                seen = commands.load(Ordering::Relaxed);
                last_work = now;
                before = now;
                continue;
            }
        }
        before = now;
    }
    Woken::Timeout
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at: Instant, working_ms: u64, commands: u64) -> Sample {
        Sample {
            at,
            working: Duration::from_millis(working_ms),
            commands,
        }
    }

    #[test]
    fn load_is_the_share_of_the_period_spent_working() {
        let t = Instant::now();
        let a = sample(t, 100, 5);
        let b = sample(t + Duration::from_millis(10), 107, 9);
        assert_eq!(
            Period::between(&a, &b),
            Period {
                commands: 4,
                load_percent: 70
            }
        );
        // CPU time above the elapsed time (clock granularity) reads as full load; none as none.
        let c = sample(t + Duration::from_millis(10), 150, 5);
        assert_eq!(Period::between(&a, &c).load_percent, 100);
        assert_eq!(Period::between(&a, &a).load_percent, 0);
    }

    #[test]
    fn the_thread_cpu_clock_advances_with_work() {
        let before = thread_cpu_time();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_add(1));
        }
        assert!(thread_cpu_time() >= before + Duration::from_millis(5));
    }

    #[test]
    fn polling_needs_a_window_commands_and_the_minimum_load() {
        let on = Settings {
            window: Duration::from_micros(50),
            min_load_percent: 70,
            pinning: true,
            fsync_always: false,
        };
        let busy = Period {
            commands: 1000,
            load_percent: 85,
        };
        assert!(polls_next(on, &busy));
        assert!(!polls_next(
            on,
            &Period {
                commands: 1000,
                load_percent: 69
            }
        ));
        assert!(!polls_next(
            on,
            &Period {
                commands: 0,
                load_percent: 100
            }
        ));
        let off = Settings {
            window: Duration::ZERO,
            ..on
        };
        assert!(!polls_next(off, &busy));
        let always = Settings {
            min_load_percent: 0,
            ..on
        };
        assert!(polls_next(
            always,
            &Period {
                commands: 1,
                load_percent: 0
            }
        ));
    }
}
