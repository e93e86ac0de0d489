//! The gate every command passes (Redis `processCommand`): lookup, arity, authentication, the
//! memory check, then the handler. Errors become error replies; the connection stays open.

use crate::ctx::Ctx;
use crate::error::{CmdError, LOADING, NOAUTH, OOM};
use crate::pubsub::allowed_when_subscribed;
use crate::table::{find_subcommand, flags, CommandSpec, CommandTable};
use crate::transactions::runs_inside_multi;
use ringkv_engine::{CommandStat, ERROR_CODES_LIMIT};
use ringkv_protocol::Args;
use ringkv_protocol::Protocol;
use std::sync::atomic::Ordering;

/// Evictions one command may trigger before it runs; more are left to the next commands so no
/// single command stalls (Redis bounds this by time with maxmemory-eviction-tenacity).
const MAX_EVICTIONS_PER_COMMAND: usize = 256;

/// Executes one request and writes its reply. Returns the command that ran (for per-batch
/// bookkeeping; a container command rather than its subcommand).
pub fn execute(ctx: &mut Ctx<'_>, args: Args<'_>) -> Option<&'static CommandSpec> {
    let name = args.arg(0);
    let Some((parent, parent_index)) = ctx.shared.commands.lookup_indexed(name) else {
        let err = unknown_command(args);
        reject(ctx, &err);
        return None;
    };
    let spec = match check(ctx, parent, args) {
        Err(e) => {
            // Counted against the (sub)command refused; an unknown subcommand names none.
            let refused = if parent.subcommands.is_empty() || args.len() < 2 {
                Some(parent)
            } else {
                find_subcommand(parent, args.arg(1))
            };
            if let Some(refused) = refused {
                stat_of(ctx, CommandTable::stat_index(parent, parent_index, refused)).rejected += 1;
            }
            reject(ctx, &e);
            return Some(parent);
        }
        Ok(spec) => spec,
    };
    let index = CommandTable::stat_index(parent, parent_index, spec);
    if ctx.client.subs.any()
        && ctx.out.protocol() == Protocol::Resp2
        && !allowed_when_subscribed(spec.name)
    {
        let e = CmdError::msg(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            spec.name
        ));
        stat_of(ctx, index).rejected += 1;
        reject(ctx, &e);
    } else if ctx.client.multi.is_some() && !runs_inside_multi(spec.name) {
        if let Some(m) = ctx.client.multi.as_mut() {
            m.queued.push(args.to_owned_args());
        }
        ctx.out.simple(b"QUEUED");
    } else {
        run_logged(ctx, spec, index, args);
        // Serve clients blocked on keys this command fed — after whole commands only:
        // not between EXEC's queued commands, and not from inside a re-run itself.
        if !ctx.client.in_exec && !ctx.client.serving_blocked {
            if ctx.store.common.blocking.has_ready() {
                crate::blocking::serve_blocked(ctx.store, ctx.shared);
            }
            crate::pubsub::publish_key_events(ctx.store, ctx.shared);
        }
    }
    Some(parent)
}

/// The INFO commandstats counters of the command with statistics index `index`.
fn stat_of<'a>(ctx: &'a mut Ctx<'_>, index: usize) -> &'a mut CommandStat {
    let stats = &mut ctx.store.common.command_stats;
    if stats.len() <= index {
        stats.resize(
            ctx.shared.commands.stat_names().len().max(index + 1),
            CommandStat::default(),
        );
    }
    &mut stats[index]
}

/// Runs a handler and records its effect in the operation log (the AOF's source): a command
/// that changed the data (bumped `dirty`) is logged as executed, with relative expiries made
/// absolute, unless its handler logged a deterministic replacement itself. A command that took
/// long enough goes to the slow log.
fn run_logged(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, index: usize, args: Args<'_>) {
    let logging = ctx.store.common.oplog.is_enabled();
    let dirty = ctx.store.common.dirty;
    let db = ctx.client.db;
    if logging {
        ctx.store.common.oplog.begin_command();
    }
    // CLIENT NO-TOUCH: key accesses leave LRU/LFU clocks alone, except TOUCH's (as in Redis).
    let no_touch = ctx.client.handle.no_touch.load(Ordering::Relaxed) && spec.name != "touch";
    if no_touch {
        ctx.store.common.no_touch = true;
    }
    let started = ctx.shared.command_clock.raw();
    let result = (spec.handler)(ctx, args);
    if no_touch {
        ctx.store.common.no_touch = false;
    }
    let clock = &ctx.shared.command_clock;
    let usec = clock.delta_as_nanos(started, clock.raw()) / 1000;
    let failed = result.is_err();
    if let Err(e) = result {
        reply_error(ctx, &e);
    }
    let stat = stat_of(ctx, index);
    stat.calls += 1;
    stat.usec += usec;
    stat.failed += u64::from(failed);
    crate::latency::command_ran(spec, usec, &mut stat.latency);
    ctx.shared.slowlog.record(ctx, spec, args, usec);
    if ctx.shared.monitors.active() {
        ctx.shared.monitors.feed(ctx, spec, args);
    }
    if logging && ctx.store.common.dirty != dirty && !ctx.store.common.oplog.replaced() {
        let now = ctx.store.now_ms();
        let log = &mut ctx.store.common.oplog;
        match ringkv_persist::rewrite_for_log(args, now) {
            Some(rewritten) => log.append(db, rewritten.args().iter()),
            None => log.append(db, args.iter()),
        }
    }
}

/// A command refused by the gate: inside MULTI this also dooms the transaction (EXECABORT).
fn reject(ctx: &mut Ctx<'_>, e: &CmdError) {
    if let Some(m) = ctx.client.multi.as_mut() {
        m.aborted = true;
    }
    reply_error(ctx, e);
}

fn reply_error(ctx: &mut Ctx<'_>, e: &CmdError) {
    ctx.shared
        .stats
        .total_error_replies
        .fetch_add(1, Ordering::Relaxed);
    count_error_code(&mut ctx.store.common.error_stats, e.as_bytes());
    ctx.client.errors += 1;
    ctx.out.error(e.as_bytes());
}

/// INFO errorstats: one more error reply with this text's code (its first word), unless the
/// table is full of other codes.
fn count_error_code(stats: &mut std::collections::BTreeMap<String, u64>, text: &[u8]) {
    let code = text.split(|&c| c == b' ').next().unwrap_or_default();
    let code = String::from_utf8_lossy(code);
    if let Some(n) = stats.get_mut(code.as_ref()) {
        *n += 1;
    } else if stats.len() < ERROR_CODES_LIMIT {
        stats.insert(code.into_owned(), 1);
    }
}

/// The checks every command passes before it runs or is queued; returns the spec to run
/// (the subcommand's for container commands).
fn check(
    ctx: &mut Ctx<'_>,
    spec: &'static CommandSpec,
    args: Args<'_>,
) -> Result<&'static CommandSpec, CmdError> {
    if !spec.arity_ok(args.len()) {
        return Err(CmdError::arity(spec.name));
    }
    // As in Redis, an unknown subcommand or a subcommand arity error is reported before
    // authentication is required, and NO_AUTH is a property of the resolved (sub)command.
    let spec = resolve_subcommand(spec, args)?;
    if !ctx.client.authenticated && !spec.has(flags::NO_AUTH) {
        // A password removed at run time lets everyone in, as Redis's nopass default user does.
        if ctx.shared.config.read().requirepass.is_empty() {
            ctx.client.authenticated = true;
        } else {
            return Err(NOAUTH);
        }
    }
    if !spec.has(flags::LOADING) && ctx.shared.persistence.is_loading() {
        return Err(LOADING);
    }
    // Writes are refused while the disk fails, so nothing is acknowledged that cannot be kept.
    if spec.has(flags::WRITE) && !ctx.client.in_exec {
        if let Some(e) = ctx.shared.persistence.write_refusal() {
            return Err(e);
        }
    }
    if ctx.client.multi.is_some() && spec.has(flags::NO_MULTI) {
        return Err(CmdError::Static(
            "ERR Command not allowed inside a transaction",
        ));
    }
    // Inside EXEC the memory check already happened when the command was queued (as in Redis).
    // No eviction while CLIENT PAUSE keeps the data set still.
    if ctx.store.common.eviction.maxmemory != 0
        && !ctx.client.in_exec
        && !ctx.shared.pause.writes_paused()
    {
        let started = crate::latency::monitoring().then(std::time::Instant::now);
        let evicted = ctx.store.evict_if_needed(MAX_EVICTIONS_PER_COMMAND);
        if let Some(started) = started {
            crate::latency::sample("eviction-cycle", started.elapsed());
        }
        if evicted.is_err() && spec.has(flags::DENYOOM) {
            return Err(OOM);
        }
    }
    Ok(spec)
}

/// The subcommand a container command names (CONFIG GET, DEBUG POPULATE ...), arity-checked; the
/// command itself when it has no subcommands or none was given (bare COMMAND runs its own
/// handler, CONFIG alone fails its own arity check, as in Redis).
pub(crate) fn resolve_subcommand(
    spec: &'static CommandSpec,
    args: Args<'_>,
) -> Result<&'static CommandSpec, CmdError> {
    if spec.subcommands.is_empty() || args.len() < 2 {
        return Ok(spec);
    }
    let sub = find_subcommand(spec, args.arg(1))
        .ok_or_else(|| CmdError::unknown_subcommand(spec.name, args.arg(1)))?;
    if !sub.arity_ok(args.len()) {
        return Err(CmdError::arity(&format!("{}|{}", spec.name, sub.name)));
    }
    Ok(sub)
}

/// Redis's text: "ERR unknown command 'x', with args beginning with: 'a' 'b' ".
fn unknown_command(args: Args<'_>) -> CmdError {
    let clip = |b: &[u8], max: usize| String::from_utf8_lossy(&b[..b.len().min(max)]).into_owned();
    let mut rest = String::new();
    for a in args.iter().skip(1) {
        if rest.len() >= 128 {
            break;
        }
        let room = 128 - rest.len();
        rest.push('\'');
        rest.push_str(&clip(a, room));
        rest.push_str("' ");
    }
    CmdError::msg(format!(
        "ERR unknown command '{}', with args beginning with: {}",
        clip(args.arg(0), 128),
        rest
    ))
}

/// Handler for container commands: never called because the gate resolves subcommands first.
pub fn container(_: &mut Ctx<'_>, _: Args<'_>) -> Result<(), CmdError> {
    Err(CmdError::Static("ERR container command without subcommand"))
}

#[cfg(test)]
mod tests {
    /// The cost of timing a command with `Shared::command_clock` against `std::time::Instant`,
    /// on this machine (the figures the README and `Shared::command_clock` quote). Run with
    /// `cargo test --release -p ringkv-commands command_clock_cost -- --ignored --nocapture`.
    #[test]
    #[ignore = "prints a measurement; nothing to assert"]
    fn command_clock_cost() {
        const PAIRS: u32 = 5_000_000;
        let clock = quanta::Clock::new();
        let started = std::time::Instant::now();
        let mut sum = 0u64;
        for _ in 0..PAIRS {
            let t = clock.raw();
            sum = sum.wrapping_add(clock.delta_as_nanos(t, clock.raw()));
        }
        let tsc = started.elapsed().as_nanos() as f64 / f64::from(PAIRS);
        let started = std::time::Instant::now();
        for _ in 0..PAIRS {
            let t = std::time::Instant::now();
            sum = sum.wrapping_add(t.elapsed().as_nanos() as u64);
        }
        let os = started.elapsed().as_nanos() as f64 / f64::from(PAIRS);
        println!("per timed command: TSC {tsc:.1} ns, Instant {os:.1} ns (checksum {sum})");
    }
}
