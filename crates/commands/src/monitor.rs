//! MONITOR: connections that asked for it receive every command the server runs, as Redis
//! prints them (`+1700000000.123456 [0 127.0.0.1:50000] "set" "k" "v"`), the debugging tool
//! behind `redis-cli monitor`.
//!
//! A command is fed after it ran, with the database it ran in, like Redis's call(). Left out,
//! as in Redis: administrative commands (CONFIG, DEBUG, SLOWLOG, MONITOR itself ...), commands
//! refused before running, and the re-runs of a parked blocking command (its first run was
//! fed). Secrets (AUTH's arguments, HELLO's AUTH pair, CONFIG SET requirepass) read
//! "(redacted)". Lines reach a monitor through its connection's push queue, the one published
//! messages use, under the same output-buffer limit (`client-output-buffer-limit pubsub`): a
//! monitor that stops reading is disconnected instead of growing without bound.
//!
//! Cost without monitors: one relaxed atomic load per command.

use crate::ctx::Ctx;
use crate::error::CmdResult;
use crate::pubsub::PushLink;
use crate::table::{flags, CommandSpec};
use parking_lot::Mutex;
use ringkv_protocol::Args;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The connections in monitor mode (in `Shared`).
#[derive(Default)]
pub struct Monitors {
    count: AtomicUsize,
    links: Mutex<Vec<Arc<PushLink>>>,
}

impl Monitors {
    /// Whether anyone monitors (checked before every command).
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Ordering::Relaxed) > 0
    }

    fn add(&self, link: Arc<PushLink>) {
        let mut links = self.links.lock();
        links.push(link);
        self.count.store(links.len(), Ordering::Relaxed);
    }

    /// Ends monitor mode for a connection (RESET, disconnect).
    pub fn remove(&self, client_id: u64) {
        let mut links = self.links.lock();
        links.retain(|l| l.client_id != client_id);
        self.count.store(links.len(), Ordering::Relaxed);
    }

    /// Sends the line for a command that just ran to every monitor.
    pub fn feed(&self, ctx: &Ctx<'_>, spec: &CommandSpec, args: Args<'_>) {
        if spec.has(flags::ADMIN) || ctx.client.serving_blocked {
            return;
        }
        let line = feed_line(
            ctx.shared.clock.now_us(),
            ctx.client.db,
            &ctx.client.handle.addr,
            args,
        );
        let limit = ctx.shared.config.read().client_output_buffer_limit.pubsub;
        let now_ms = ctx.shared.now_ms();
        let mut links = self.links.lock();
        links.retain(|l| !l.closed());
        self.count.store(links.len(), Ordering::Relaxed);
        for link in links.iter() {
            link.send(line.clone(), &limit, now_ms);
        }
    }
}

/// Redis's monitor line: `+<sec>.<usec> [<db> <addr>] "arg" "arg"...\r\n`, each argument quoted
/// as sdscatrepr does.
fn feed_line(now_us: i64, db: usize, addr: &str, args: Args<'_>) -> Vec<u8> {
    let mut line = format!(
        "+{}.{:06} [{db} {addr}] ",
        now_us.div_euclid(1_000_000),
        now_us.rem_euclid(1_000_000)
    )
    .into_bytes();
    let secret = crate::slowlog::secret_positions(args);
    for (j, arg) in args.iter().enumerate() {
        if j > 0 {
            line.push(b' ');
        }
        if secret.contains(&j) {
            line.extend_from_slice(b"\"(redacted)\"");
        } else {
            quote(&mut line, arg);
        }
    }
    line.extend_from_slice(b"\r\n");
    line
}

/// sdscatrepr: the bytes in double quotes, with C escapes for quotes, backslashes and control
/// characters and `\xHH` for anything else unprintable.
fn quote(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', c]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

pub const COMMANDS: &[CommandSpec] = &[CommandSpec::new(
    "monitor",
    1,
    flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE | flags::NO_MULTI,
    monitor,
)
.group("server")
.doc(
    "Listens for all requests received by the server in real-time.",
    "1.0.0",
    "",
)];

/// MONITOR: +OK, then the feed. A connection already monitoring gets no reply, as in Redis.
fn monitor(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    if ctx.client.monitoring {
        return Ok(());
    }
    ctx.client.monitoring = true;
    ctx.shared.monitors.add(ctx.client.push.clone());
    ctx.out.ok();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_quote_like_redis() {
        let owned = ringkv_protocol::OwnedArgs::from_slices([
            &b"SET"[..],
            b"k\"1\\",
            b"a b\r\n\t\x07\x08\x00\xff",
        ]);
        let line = feed_line(1_700_000_000_000_042, 3, "127.0.0.1:5000", owned.args());
        assert_eq!(
            String::from_utf8_lossy(&line),
            "+1700000000.000042 [3 127.0.0.1:5000] \"SET\" \"k\\\"1\\\\\" \"a b\\r\\n\\t\\a\\b\\x00\\xff\"\r\n"
        );
        let auth = ringkv_protocol::OwnedArgs::from_slices([&b"AUTH"[..], b"pw"]);
        let line = feed_line(0, 0, "a", auth.args());
        assert_eq!(
            String::from_utf8_lossy(&line),
            "+0.000000 [0 a] \"AUTH\" \"(redacted)\"\r\n"
        );
    }
}
