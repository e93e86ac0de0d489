//! The gate every command passes (Redis `processCommand`): lookup, arity, authentication, the
//! memory check, then the handler. Errors become error replies; the connection stays open.

use crate::ctx::Ctx;
use crate::error::{CmdError, NOAUTH, OOM};
use crate::table::{find_subcommand, flags, CommandSpec};
use ringkv_protocol::Args;
use std::sync::atomic::Ordering;

/// Evictions one command may trigger before it runs; more are left to the next commands so no
/// single command stalls (Redis bounds this by time with maxmemory-eviction-tenacity).
const MAX_EVICTIONS_PER_COMMAND: usize = 256;

/// Executes one request and writes its reply. Returns the spec that ran (for per-batch bookkeeping).
pub fn execute(ctx: &mut Ctx<'_>, args: Args<'_>) -> Option<&'static CommandSpec> {
    let name = args.arg(0);
    let Some(spec) = ctx.shared.commands.lookup(name) else {
        let err = unknown_command(args);
        reply_error(ctx, &err);
        return None;
    };
    if let Err(e) = check_and_run(ctx, spec, args) {
        reply_error(ctx, &e);
    }
    Some(spec)
}

fn reply_error(ctx: &mut Ctx<'_>, e: &CmdError) {
    ctx.shared
        .stats
        .total_error_replies
        .fetch_add(1, Ordering::Relaxed);
    ctx.client.errors += 1;
    ctx.out.error(e.as_bytes());
}

fn check_and_run(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, args: Args<'_>) -> Result<(), CmdError> {
    if !spec.arity_ok(args.len()) {
        return Err(CmdError::arity(spec.name));
    }
    if !ctx.client.authenticated && !spec.has(flags::NO_AUTH) {
        return Err(NOAUTH);
    }
    let spec = if spec.subcommands.is_empty() {
        spec
    } else {
        let sub = find_subcommand(spec, args.arg(1))
            .ok_or_else(|| CmdError::unknown_subcommand(spec.name, args.arg(1)))?;
        if !sub.arity_ok(args.len()) {
            return Err(CmdError::arity(&format!("{}|{}", spec.name, sub.name)));
        }
        sub
    };
    if ctx.store.common.eviction.maxmemory != 0 {
        let evicted = ctx.store.evict_if_needed(MAX_EVICTIONS_PER_COMMAND);
        if evicted.is_err() && spec.has(flags::DENYOOM) {
            return Err(OOM);
        }
    }
    (spec.handler)(ctx, args)
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
