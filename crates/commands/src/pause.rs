//! CLIENT PAUSE / CLIENT UNPAUSE (Redis 6.2+): hold clients' commands for a while, all of them
//! (`ALL`) or only those that may change data (`WRITE`: write commands, and commands flagged
//! `may-replicate` such as PUBLISH; EXEC when its queue holds one). Operators use it to quiesce
//! a server: take a consistent copy, switch traffic, upgrade.
//!
//! A held command is not refused: the connection stops at it (replies to the commands before it
//! go out), waits until the pause ends (its timeout, or CLIENT UNPAUSE), and runs it then, in
//! order. While held, the client shows as blocked (CLIENT LIST, INFO `blocked_clients`).
//!
//! As in Redis: a second pause keeps the later end and the stricter mode; under `ALL` even
//! CLIENT UNPAUSE waits for the end; while any pause lasts, the active expiry cycle and
//! eviction stop, so the data set stays as it was. Unlike Redis, a key read after its expiry
//! during a pause is deleted as on any read (Redis keeps it until the pause ends, for its
//! replicas; ringkv has none). In cluster mode CLIENT PAUSE is refused: the node's data also
//! changes through writes other nodes coordinate.

use crate::ctx::{Client, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::parse::is;
use crate::table::{flags, CommandTable};
use parking_lot::Mutex;
use ringkv_protocol::Args;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// The pause in force.
#[derive(Clone, Copy, Debug)]
struct Paused {
    /// `ALL` (else `WRITE`).
    all: bool,
    until: Instant,
}

/// The server's pause state.
#[derive(Default)]
pub struct Pause {
    /// A pause may be in force (the fast path for every command when there is none).
    active: AtomicBool,
    state: Mutex<Option<Paused>>,
    /// Woken when a pause ends early (CLIENT UNPAUSE) or changes.
    changed: Notify,
    /// Connections waiting for the pause to end.
    held: AtomicUsize,
}

/// Counts a held connection while it waits (also when the wait is abandoned).
struct Held<'a>(&'a AtomicUsize);

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Pause {
    /// The pause in force now, if any (an expired one is cleared).
    fn current(&self) -> Option<Paused> {
        if !self.active.load(Ordering::Acquire) {
            return None;
        }
        let mut state = self.state.lock();
        match *state {
            Some(p) if Instant::now() < p.until => Some(p),
            _ => {
                *state = None;
                self.active.store(false, Ordering::Release);
                None
            }
        }
    }

    /// Whether writes are paused (the active expiry cycle and eviction wait meanwhile).
    pub fn writes_paused(&self) -> bool {
        self.current().is_some()
    }

    /// Whether `args` (a whole command of `client`) must wait for the pause to end.
    pub fn holds(&self, commands: &CommandTable, client: &Client, args: Args<'_>) -> bool {
        let Some(paused) = self.current() else {
            return false;
        };
        paused.all || may_write(commands, client, args)
    }

    /// Connections held now (counted in INFO `blocked_clients`, as Redis counts them).
    pub fn held(&self) -> usize {
        self.held.load(Ordering::Relaxed)
    }

    /// Waits until no pause holds `args` any more.
    pub async fn wait(&self, commands: &CommandTable, client: &Client, args: Args<'_>) {
        self.held.fetch_add(1, Ordering::Relaxed);
        let _held = Held(&self.held);
        loop {
            // Registered before the check, so an UNPAUSE in between is not missed.
            let changed = self.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            if !self.holds(commands, client, args) {
                return;
            }
            let Some(paused) = self.current() else {
                return;
            };
            tokio::select! {
                _ = changed => {}
                _ = tokio::time::sleep_until(paused.until.into()) => {}
            }
        }
    }

    fn pause(&self, all: bool, duration: Duration) {
        let until = Instant::now() + duration;
        let mut state = self.state.lock();
        let next = match *state {
            Some(p) if Instant::now() < p.until => Paused {
                all: p.all || all,
                until: p.until.max(until),
            },
            _ => Paused { all, until },
        };
        *state = Some(next);
        self.active.store(true, Ordering::Release);
        drop(state);
        self.changed.notify_waiters();
    }

    fn unpause(&self) {
        *self.state.lock() = None;
        self.active.store(false, Ordering::Release);
        self.changed.notify_waiters();
    }
}

/// Whether a command may change data: write or may-replicate commands (their subcommand's
/// flags for a container), and EXEC of a queue holding one.
fn may_write(commands: &CommandTable, client: &Client, args: Args<'_>) -> bool {
    if is(args.arg(0), "exec") {
        return client.multi.as_ref().is_some_and(|m| {
            m.queued
                .iter()
                .any(|q| may_write_command(commands, q.args()))
        });
    }
    may_write_command(commands, args)
}

fn may_write_command(commands: &CommandTable, args: Args<'_>) -> bool {
    let Some(spec) = commands.lookup(args.arg(0)) else {
        return false;
    };
    let spec = crate::dispatch::resolve_subcommand(spec, args).unwrap_or(spec);
    spec.has(flags::WRITE) || spec.has(flags::MAY_REPLICATE)
}

/// CLIENT PAUSE timeout [WRITE|ALL]
pub(crate) fn client_pause(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::subcommand_syntax("client", args.arg(1)));
    }
    let duration = crate::blocking::parse_timeout_ms(args.arg(2))?.unwrap_or(Duration::ZERO);
    let all = match args.len() {
        4 if is(args.arg(3), "all") => true,
        4 if is(args.arg(3), "write") => false,
        4 => {
            return Err(CmdError::Static(
                "ERR CLIENT PAUSE mode must be WRITE or ALL",
            ))
        }
        _ => true,
    };
    ctx.shared.pause.pause(all, duration);
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNPAUSE
pub(crate) fn client_unpause(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    ctx.shared.pause.unpause();
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_pause_keeps_the_later_end_and_the_stricter_mode() {
        let p = Pause::default();
        assert!(p.current().is_none());
        p.pause(false, Duration::from_secs(60));
        let first = p.current().expect("paused");
        assert!(!first.all);
        p.pause(true, Duration::from_millis(1));
        let second = p.current().expect("still paused");
        assert!(second.all, "ALL is stricter than WRITE");
        assert_eq!(second.until, first.until, "the later end stays");
        p.unpause();
        assert!(p.current().is_none());
        p.pause(false, Duration::ZERO);
        assert!(p.current().is_none(), "a pause of 0 ms is over at once");
        assert!(!p.active.load(Ordering::Relaxed));
    }
}
