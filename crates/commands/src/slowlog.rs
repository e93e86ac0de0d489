//! The slow log (Redis's SLOWLOG): commands whose execution took at least
//! `slowlog-log-slower-than` microseconds, newest first, at most `slowlog-max-len` of them, each
//! with its id, time, duration, arguments, client address and name.
//!
//! Why: it is the first thing an operator asks a Redis-compatible server when tail latency
//! rises ("which commands were slow, with which arguments, from which client?"), and tools and
//! dashboards read it with SLOWLOG GET. The duration is the command's own execution, as in
//! Redis: not the time it waited for the keyspace lock, the network, or (under `appendfsync
//! always`) the disk.
//!
//! Cost: the duration comes from the timing every command already gets for INFO commandstats
//! (`Shared::command_clock`); recording compares it with the threshold (one relaxed atomic
//! load), and the log's lock is taken only to add a slow entry or to answer SLOWLOG.
//!
//! Entries are bounded as in Redis: at most 32 arguments (the last one then says
//! how many more there were) of at most 128 bytes each, and secrets (AUTH's arguments, HELLO's
//! AUTH pair, CONFIG SET requirepass's value) are stored as "(redacted)".

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::introspection::reply_help;
use crate::parse::{is, parse_i64};
use crate::table::{flags, CommandSpec};
use parking_lot::Mutex;
use ringkv_config::Config;
use ringkv_protocol::Args;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

/// Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
const MAX_ARGS: usize = 32;
const MAX_ARG_BYTES: usize = 128;
/// SLOWLOG GET without a count.
const DEFAULT_GET: usize = 10;
const REDACTED: &[u8] = b"(redacted)";

/// One slow command.
struct Entry {
    id: u64,
    /// Unix time, seconds, when it ran.
    time: i64,
    duration_us: u64,
    args: Vec<Vec<u8>>,
    peer: String,
    name: Vec<u8>,
}

/// The server's slow log (in `Shared`).
pub struct SlowLog {
    /// `slowlog-log-slower-than`, microseconds (negative: off).
    threshold_us: AtomicI64,
    /// `slowlog-max-len`.
    max_len: AtomicU64,
    next_id: AtomicU64,
    entries: Mutex<VecDeque<Entry>>,
}

impl Default for SlowLog {
    fn default() -> Self {
        SlowLog {
            threshold_us: AtomicI64::new(-1),
            max_len: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            entries: Mutex::new(VecDeque::new()),
        }
    }
}

impl SlowLog {
    /// Takes the settings (start-up and every CONFIG SET).
    pub fn configure(&self, config: &Config) {
        self.threshold_us
            .store(config.slowlog_log_slower_than, Ordering::Relaxed);
        self.max_len
            .store(config.slowlog_max_len, Ordering::Relaxed);
    }

    /// Records the command if it took long enough (Redis: `duration >= threshold`).
    #[inline]
    pub fn record(&self, ctx: &Ctx<'_>, spec: &CommandSpec, args: Args<'_>, duration_us: u64) {
        let threshold = self.threshold_us.load(Ordering::Relaxed);
        if threshold < 0 || duration_us < threshold.unsigned_abs() || spec.has(flags::SKIP_SLOWLOG)
        {
            return;
        }
        let max_len = usize::try_from(self.max_len.load(Ordering::Relaxed)).unwrap_or(usize::MAX);
        let handle = &ctx.client.handle;
        let entry = Entry {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            time: ctx.shared.now_ms().div_euclid(1000),
            duration_us,
            args: entry_args(args),
            peer: handle.addr.clone(),
            name: handle.meta.lock().name.clone().unwrap_or_default(),
        };
        let mut entries = self.entries.lock();
        entries.push_front(entry);
        entries.truncate(max_len);
    }

    pub fn len(&self) -> usize {
        self.entries.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn reset(&self) {
        self.entries.lock().clear();
    }
}

/// The arguments as the entry keeps them: bounded in number and size, secrets redacted.
fn entry_args(args: Args<'_>) -> Vec<Vec<u8>> {
    let argc = args.len();
    let kept = argc.min(MAX_ARGS);
    let secret = secret_positions(args);
    (0..kept)
        .map(|j| {
            if kept != argc && j == kept - 1 {
                return format!("... ({} more arguments)", argc - kept + 1).into_bytes();
            }
            if secret.contains(&j) {
                return REDACTED.to_vec();
            }
            let a = args.arg(j);
            if a.len() > MAX_ARG_BYTES {
                let mut s = a[..MAX_ARG_BYTES].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", a.len() - MAX_ARG_BYTES).as_bytes(),
                );
                s
            } else {
                a.to_vec()
            }
        })
        .collect()
}

/// Positions of arguments that must not be stored: AUTH's, the pair after HELLO's AUTH, the
/// value of CONFIG SET requirepass.
pub(crate) fn secret_positions(args: Args<'_>) -> Vec<usize> {
    let name = args.arg(0);
    if is(name, "auth") {
        return (1..args.len()).collect();
    }
    if is(name, "hello") {
        let mut i = 2;
        while i < args.len() {
            if is(args.arg(i), "auth") {
                return vec![i + 1, i + 2];
            }
            i += 1;
        }
    }
    if is(name, "config") && args.len() > 2 && is(args.arg(1), "set") {
        return (2..args.len())
            .step_by(2)
            .filter(|&i| is(args.arg(i), "requirepass"))
            .map(|i| i + 1)
            .collect();
    }
    Vec::new()
}

const LOADING_STALE: u32 = flags::ADMIN | flags::LOADING | flags::STALE;

pub const COMMANDS: &[CommandSpec] =
    &[
        CommandSpec::new("slowlog", -2, 0, crate::dispatch::container)
            .group("server")
            .doc(
                "A container for slow log commands.",
                "2.2.12",
                "Depends on subcommand.",
            )
            .subcommands(SUBCOMMANDS),
    ];

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("get", -2, LOADING_STALE, get)
        .group("server")
        .doc(
            "Returns the slow log's entries.",
            "2.2.12",
            "O(N) where N is the number of entries returned",
        )
        .syntax("[count]"),
    CommandSpec::new("len", 2, LOADING_STALE, len)
        .group("server")
        .doc(
            "Returns the number of entries in the slow log.",
            "2.2.12",
            "O(1)",
        ),
    CommandSpec::new("reset", 2, LOADING_STALE, reset)
        .group("server")
        .doc(
            "Clears all entries from the slow log.",
            "2.2.12",
            "O(N) where N is the number of entries in the slowlog",
        ),
    CommandSpec::new("help", 2, flags::LOADING | flags::STALE, help)
        .group("server")
        .doc(
            "Show helpful text about the different subcommands",
            "6.2.0",
            "O(1)",
        ),
];

fn get(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand_syntax("slowlog", args.arg(1)));
    }
    let count = if args.len() == 3 {
        match parse_i64(args.arg(2)) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => usize::try_from(n).unwrap_or(usize::MAX),
            _ => {
                return Err(CmdError::Static(
                    "ERR count should be greater than or equal to -1",
                ))
            }
        }
    } else {
        DEFAULT_GET
    };
    let entries = ctx.shared.slowlog.entries.lock();
    let n = entries.len().min(count);
    ctx.out.array(n);
    for e in entries.iter().take(n) {
        ctx.out.array(6);
        ctx.out.integer(i64::try_from(e.id).unwrap_or(i64::MAX));
        ctx.out.integer(e.time);
        ctx.out
            .integer(i64::try_from(e.duration_us).unwrap_or(i64::MAX));
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.peer.as_bytes());
        ctx.out.bulk(&e.name);
    }
    Ok(())
}

fn len(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let n = ctx.shared.slowlog.len();
    ctx.out.integer(n as i64);
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    ctx.shared.slowlog.reset();
    ctx.out.ok();
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    reply_help(
        ctx,
        "slowlog",
        &[
            "GET [<count>]",
            "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
            "    Entries are made of:",
            "    id, timestamp, time in microseconds, arguments array, client IP and port,",
            "    client name",
            "LEN",
            "    Return the length of the slowlog.",
            "RESET",
            "    Reset the slowlog.",
        ],
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry_of(line: &[&[u8]]) -> Vec<Vec<u8>> {
        let owned = ringkv_protocol::OwnedArgs::from_slices(line);
        entry_args(owned.args())
    }

    #[test]
    fn entries_are_bounded_and_redacted() {
        let long = vec![b'x'; 200];
        let e = entry_of(&[b"SET", b"k", &long]);
        assert_eq!(e[2].len(), 128 + "... (72 more bytes)".len());
        assert!(e[2].ends_with(b"... (72 more bytes)"));
        let many: Vec<Vec<u8>> = (0..40).map(|i| format!("a{i}").into_bytes()).collect();
        let mut line: Vec<&[u8]> = vec![b"RPUSH"];
        line.extend(many.iter().map(|a| a.as_slice()));
        let e = entry_of(&line);
        assert_eq!(e.len(), 32);
        assert_eq!(e[31], b"... (10 more arguments)".to_vec());
        assert_eq!(e[30], b"a29".to_vec());
        assert_eq!(
            entry_of(&[b"AUTH", b"user", b"pw"]),
            vec![b"AUTH".to_vec(), REDACTED.to_vec(), REDACTED.to_vec()]
        );
        let e = entry_of(&[b"HELLO", b"3", b"AUTH", b"u", b"p", b"SETNAME", b"n"]);
        assert_eq!(e[3], REDACTED.to_vec());
        assert_eq!(e[4], REDACTED.to_vec());
        assert_eq!(e[6], b"n".to_vec());
        let e = entry_of(&[b"CONFIG", b"SET", b"maxmemory", b"1", b"requirepass", b"s"]);
        assert_eq!(e[3], b"1".to_vec());
        assert_eq!(e[5], REDACTED.to_vec());
    }
}
