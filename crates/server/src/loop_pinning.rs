//! Automatic pinning of the event loop (`event-loop-pinning auto`, the default): while the loop
//! is busy, its thread runs on one CPU only, the one it was on when it became busy.
//!
//! Why: under `appendfsync always` three threads take turns on every request (the client, the
//! event loop, the AOF writer whose fsync releases the replies), and every wake-up lets the
//! kernel move the woken thread next to the one that woke it. On a two-core machine running
//! `redis-benchmark -t set -c 50 -P 1` next to the server, the loop kept landing on the client's
//! core while the other one idled: 68-75k requests/s. With the loop's thread pinned (the client
//! and the writer left free) the same runs gave 94-97k; Redis, pinned or not, 74-84k (figures and
//! commands in `docs/persistence.md`, "Event-loop pinning"). With the AOF off or under
//! `everysec` pinning measured the same or slightly better.
//!
//! Why not always pinned: a pinned thread cannot be moved off a CPU that something else needs.
//! So the loop pins only while it works at least [`PIN_MIN_LOAD`] percent of the time (the load
//! the busy poller samples every 10 ms), unpins as soon as it goes idle, and unpins for a while
//! ([`CONTENDED_COOLDOWN`]) when it spent [`CONTENDED_PERCENT`] percent or more of a
//! [`DELAY_WINDOW`] waiting for its CPU (its run delay, from the kernel's schedstat), so the
//! scheduler can place it again; two busy servers that pinned to the same CPU separate that
//! way. Without schedstat (no way to see contention) it never pins.
//!
//! `server_cpulist` (an explicit list) and `io-threads` above 1 turn automatic pinning off.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use ringkv_commands::cpu_affinity;
use ringkv_commands::event_loop;

/// The loop pins while it worked at least this percent of the last sample period.
pub(crate) const PIN_MIN_LOAD: u32 = 50;
/// How often, while pinned, the run delay is read.
const DELAY_WINDOW: Duration = Duration::from_millis(100);
/// A pinned loop that waited for its CPU this percent of a window or more unpins. Two busy loops
/// sharing a CPU wait about half of the time; a loop sharing its CPU with a busy client on the
/// same machine measured 27%.
const CONTENDED_PERCENT: u32 = 45;
/// After unpinning for contention, the loop stays free this long.
const CONTENDED_COOLDOWN: Duration = Duration::from_secs(1);

/// What the controller does after a sample.
#[derive(Debug, PartialEq, Eq)]
enum Action {
    Stay,
    Pin,
    Unpin,
    /// Unpin because the loop waited this percent of a window for its CPU.
    UnpinContended(u32),
}

/// The state of the decisions, free of system calls (so the rules are testable).
#[derive(Debug, Default)]
struct Rules {
    pinned: bool,
    /// No pinning before this (after a contended unpin).
    cooldown_until: Option<Instant>,
}

impl Rules {
    /// After a sample period of the busy loop: `load_percent` it worked, `delay_percent` it
    /// waited for its CPU (only when a delay window ended), `enabled` the setting.
    fn after_sample(
        &mut self,
        now: Instant,
        enabled: bool,
        load_percent: u32,
        delay_percent: Option<u32>,
    ) -> Action {
        if !enabled {
            return self.unpin();
        }
        if self.pinned {
            if let Some(waited) = delay_percent.filter(|&d| d >= CONTENDED_PERCENT) {
                self.pinned = false;
                self.cooldown_until = Some(now + CONTENDED_COOLDOWN);
                return Action::UnpinContended(waited);
            }
            return Action::Stay;
        }
        if self.cooldown_until.is_some_and(|until| now < until) || load_percent < PIN_MIN_LOAD {
            return Action::Stay;
        }
        self.pinned = true;
        Action::Pin
    }

    /// The loop went idle.
    fn at_rest(&mut self) -> Action {
        self.unpin()
    }

    /// The kernel refused the pin: the loop is still free.
    fn pin_failed(&mut self) {
        self.pinned = false;
    }

    fn unpin(&mut self) -> Action {
        if std::mem::take(&mut self.pinned) {
            Action::Unpin
        } else {
            Action::Stay
        }
    }
}

/// The controller: lives in the busy poller's task, on the event-loop thread (every system call
/// here is about the calling thread).
pub(crate) struct LoopPinning {
    rules: Rules,
    /// The loop thread's schedstat (`/proc/self/task/<tid>/schedstat`); `None`: never pins.
    schedstat: Option<File>,
    /// The CPUs the loop may use when not pinned (its affinity before the first pin).
    free: Vec<usize>,
    /// Run delay at the start of the current window.
    window: Option<(Instant, Duration)>,
}

impl LoopPinning {
    /// Called on the event-loop thread.
    pub(crate) fn new() -> LoopPinning {
        // SAFETY: gettid takes no arguments.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) };
        let schedstat = File::open(format!("/proc/self/task/{tid}/schedstat")).ok();
        let usable = schedstat
            .as_ref()
            .is_some_and(|f| read_run_delay(f).is_some());
        if !usable {
            tracing::info!("no schedstat for the event loop thread: event-loop pinning stays off");
        }
        let free = cpu_affinity::allowed_cpus().unwrap_or_default();
        LoopPinning {
            rules: Rules::default(),
            schedstat: if usable && free.len() > 1 {
                schedstat
            } else {
                None
            },
            free,
            window: None,
        }
    }

    /// After each sample period while commands run. A pin goes to `prefer` if given (and
    /// allowed), else to the CPU the loop is on.
    pub(crate) fn after_sample(&mut self, enabled: bool, load_percent: u32, prefer: Option<usize>) {
        let now = Instant::now();
        let enabled = enabled && self.schedstat.is_some();
        let delay_percent = if self.rules.pinned {
            self.delay_window_ended(now)
        } else {
            None
        };
        let action = self
            .rules
            .after_sample(now, enabled, load_percent, delay_percent);
        self.apply(action, now, prefer);
    }

    /// The loop went idle (no command for a sample period).
    pub(crate) fn at_rest(&mut self) {
        let action = self.rules.at_rest();
        self.apply(action, Instant::now(), None);
    }

    fn apply(&mut self, action: Action, now: Instant, prefer: Option<usize>) {
        match action {
            Action::Stay => {}
            Action::Pin => {
                let pinned = prefer
                    .filter(|cpu| self.free.contains(cpu))
                    .or_else(|| cpu_affinity::current_cpu().filter(|cpu| self.free.contains(cpu)))
                    .map(|cpu| (cpu, cpu_affinity::pin_current_thread(&[cpu])));
                match pinned {
                    Some((cpu, Ok(()))) => {
                        event_loop::set_pinned_cpu(Some(cpu));
                        self.window = self.run_delay().map(|d| (now, d));
                    }
                    Some((_, Err(e))) => {
                        tracing::debug!(error = %e, "cannot pin the event loop");
                        self.rules.pin_failed();
                    }
                    None => self.rules.pin_failed(),
                }
            }
            Action::UnpinContended(waited) => {
                event_loop::count_contended_unpin();
                tracing::info!(
                    run_delay_perc = waited,
                    "event loop waited for its CPU: unpinned for {} s",
                    CONTENDED_COOLDOWN.as_secs()
                );
                self.apply(Action::Unpin, now, prefer);
            }
            Action::Unpin => {
                if let Err(e) = cpu_affinity::pin_current_thread(&self.free) {
                    tracing::warn!(error = %e, "cannot unpin the event loop");
                }
                event_loop::set_pinned_cpu(None);
                self.window = None;
            }
        }
    }

    /// The percent of the delay window the loop waited for its CPU, when a window just ended.
    fn delay_window_ended(&mut self, now: Instant) -> Option<u32> {
        let (start, delay_at_start) = self.window?;
        let elapsed = now.saturating_duration_since(start);
        if elapsed < DELAY_WINDOW {
            return None;
        }
        let delay = self.run_delay()?;
        self.window = Some((now, delay));
        let waited = delay.saturating_sub(delay_at_start);
        let percent = (waited.as_nanos() * 100 / elapsed.as_nanos().max(1)).min(100) as u32;
        event_loop::set_run_delay_percent(percent);
        Some(percent)
    }

    fn run_delay(&self) -> Option<Duration> {
        self.schedstat.as_ref().and_then(read_run_delay)
    }
}

/// The run delay (time spent runnable but waiting for a CPU) from a thread's schedstat: "<cpu
/// time ns> <run delay ns> <timeslices>".
fn read_run_delay(file: &File) -> Option<Duration> {
    let mut buf = [0u8; 128];
    let n = file.read_at(&mut buf, 0).ok()?;
    parse_run_delay(buf.get(..n)?)
}

fn parse_run_delay(text: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(text).ok()?;
    let ns: u64 = text.split_ascii_whitespace().nth(1)?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_when_busy_and_unpins_at_rest() {
        let mut r = Rules::default();
        let t = Instant::now();
        assert_eq!(
            r.after_sample(t, true, PIN_MIN_LOAD - 1, None),
            Action::Stay
        );
        assert_eq!(r.after_sample(t, true, PIN_MIN_LOAD, None), Action::Pin);
        assert_eq!(
            r.after_sample(t, true, 10, None),
            Action::Stay,
            "stays pinned"
        );
        assert_eq!(r.after_sample(t, true, 90, Some(20)), Action::Stay);
        assert_eq!(r.at_rest(), Action::Unpin);
        assert_eq!(r.at_rest(), Action::Stay);
        assert_eq!(r.after_sample(t, true, 90, None), Action::Pin);
        assert_eq!(
            r.after_sample(t, false, 90, None),
            Action::Unpin,
            "setting off"
        );
        assert_eq!(r.after_sample(t, false, 90, None), Action::Stay);
    }

    #[test]
    fn a_contended_loop_unpins_and_waits_before_pinning_again() {
        let mut r = Rules::default();
        let t = Instant::now();
        assert_eq!(r.after_sample(t, true, 90, None), Action::Pin);
        assert_eq!(
            r.after_sample(t, true, 90, Some(CONTENDED_PERCENT)),
            Action::UnpinContended(CONTENDED_PERCENT)
        );
        let soon = t + CONTENDED_COOLDOWN / 2;
        assert_eq!(r.after_sample(soon, true, 90, None), Action::Stay);
        let later = t + CONTENDED_COOLDOWN;
        assert_eq!(r.after_sample(later, true, 90, None), Action::Pin);
    }

    #[test]
    fn run_delay_is_the_second_schedstat_field() {
        assert_eq!(
            parse_run_delay(b"48453798130 12547081988 1109839\n"),
            Some(Duration::from_nanos(12_547_081_988))
        );
        assert_eq!(parse_run_delay(b"12\n"), None);
        assert_eq!(parse_run_delay(b"a b c"), None);
    }

    #[test]
    fn this_threads_run_delay_can_be_read_again() {
        let tid = unsafe { libc::syscall(libc::SYS_gettid) };
        let Ok(f) = File::open(format!("/proc/self/task/{tid}/schedstat")) else {
            return; // a kernel without schedstat: the controller never pins there
        };
        let a = read_run_delay(&f).expect("a run delay");
        let b = read_run_delay(&f).expect("read again from offset 0");
        assert!(b >= a);
    }
}
