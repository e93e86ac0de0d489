//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT LOAD/EXISTS/FLUSH, as in Redis 7.0 (the Lua side
//! is in `lua`).
//!
//! A script runs inside its command's handler, so under the keyspace lock for its whole run:
//! nothing else runs meanwhile, as in Redis. Each `redis.call` goes through the ordinary gate
//! (`dispatch::execute`) with a scratch reply buffer, after Redis's script-call checks (commands
//! flagged `noscript`, writes from read-only scripts, the disk-error and OOM refusals before the
//! first write); blocking commands are `noscript` as in Redis 7, and the rest run with the
//! caller marked `in_exec` so nothing blocks. The reply is parsed back into Lua values.
//!
//! Persistence and replication use the script's effects, as Redis 7 does: the commands it ran
//! log themselves, and the handler wraps them in MULTI ... EXEC in the operation log, so an AOF
//! replay applies all of a script's writes or none (as `transactions::exec` does). A script run
//! by EXEC is already inside the transaction's MULTI and is not wrapped again.
//!
//! Differences from Redis: a long script blocks its event loop, and ringkv cannot answer other
//! clients with -BUSY meanwhile, so SCRIPT KILL and `busy-reply-threshold` for scripts are not
//! provided (SCRIPT KILL answers as an unknown subcommand). SCRIPT DEBUG is not provided either.

use crate::ctx::Ctx;
use crate::dispatch::{execute, resolve_subcommand};
use crate::error::{CmdError, CmdResult, NOT_INTEGER, OOM};
use crate::lua::{lua_to_reply, RunOutcome, ScriptEngine, ScriptFlags, ScriptHost};
use crate::table::{flags, CommandSpec};
use crate::transactions::AtomicLog;
use ringkv_protocol::{Args, OwnedArgs, Protocol, ReplyWriter};

use crate::lua::NOSCRIPT_TEXT;

const NOSCRIPT: CmdError = CmdError::Static(NOSCRIPT_TEXT);

/// The interpreter, created on first use (most servers never run a script).
#[derive(Default)]
pub struct Scripts {
    engine: parking_lot::Mutex<Option<ScriptEngine>>,
}

impl Scripts {
    fn with<R>(
        &self,
        f: impl FnOnce(&mut ScriptEngine) -> Result<R, CmdError>,
    ) -> Result<R, CmdError> {
        let mut guard = self.engine.lock();
        let engine = match &mut *guard {
            Some(engine) => engine,
            slot => slot.insert(ScriptEngine::new().map_err(|e| {
                CmdError::msg(format!("ERR cannot start the Lua interpreter: {e}"))
            })?),
        };
        f(engine)
    }

    /// (cached scripts, bytes they hold, bytes the interpreter uses) for INFO memory.
    pub fn memory(&self) -> (usize, usize, usize) {
        match self.engine.lock().as_ref() {
            Some(e) => (e.script_count(), e.scripts_bytes(), e.lua_bytes()),
            None => (0, 0, 0),
        }
    }
}

/// What one run allows and has done (Redis `scriptRunCtx` flags).
struct RunState {
    read_only: bool,
    allow_oom: bool,
    /// Used memory was over maxmemory when the script started.
    oom_at_start: bool,
    /// A write command ran (after it, no refusal may stop the script half-way).
    wrote: bool,
}

/// Serves a running script's `redis.call`s against the caller's context.
struct Host<'c, 'a> {
    ctx: &'c mut Ctx<'a>,
    run: RunState,
}

impl ScriptHost for Host<'_, '_> {
    fn out(&mut self) -> &mut ReplyWriter {
        self.ctx.out
    }

    fn call(&mut self, argv: &[Vec<u8>], resp3: bool) -> Result<Vec<u8>, String> {
        let args = OwnedArgs::from_slices(argv.iter());
        let args = args.args();
        let spec =
            self.ctx.shared.commands.lookup(args.arg(0)).and_then(
                |parent| match resolve_subcommand(parent, args) {
                    Ok(spec) => Some(Ok(spec)),
                    Err(_) if parent.subcommands.is_empty() => None,
                    Err(e) if e.as_bytes().starts_with(b"ERR unknown subcommand") => None,
                    Err(e) => Some(Err(e)),
                },
            );
        let spec = match spec {
            None => return Err("ERR Unknown Redis command called from script".into()),
            Some(Err(_)) => {
                return Err("ERR Wrong number of args calling Redis command from script".into())
            }
            Some(Ok(spec)) if !spec.arity_ok(args.len()) => {
                return Err("ERR Wrong number of args calling Redis command from script".into())
            }
            Some(Ok(spec)) => spec,
        };
        if spec.has(flags::NOSCRIPT) {
            return Err("ERR This Redis command is not allowed from script".into());
        }
        let writes = spec.has(flags::WRITE);
        if self.run.read_only && (writes || spec.has(flags::MAY_REPLICATE)) {
            return Err("ERR Write commands are not allowed from read-only scripts.".into());
        }
        if writes && !self.run.wrote {
            if let Some(e) = self.ctx.shared.persistence.write_refusal() {
                return Err(String::from_utf8_lossy(e.as_bytes()).into_owned());
            }
        }
        if !self.run.allow_oom
            && self.run.oom_at_start
            && !self.run.wrote
            && spec.has(flags::DENYOOM)
        {
            return Err(String::from_utf8_lossy(OOM.as_bytes()).into_owned());
        }
        self.run.wrote |= writes;
        let proto = if resp3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        let mut scratch = ReplyWriter::new(proto);
        let mut sub = Ctx {
            store: &mut *self.ctx.store,
            shared: self.ctx.shared,
            client: &mut *self.ctx.client,
            out: &mut scratch,
        };
        execute(&mut sub, args);
        Ok(scratch.as_bytes().to_vec())
    }
}

/// How EVAL* names its script.
#[derive(Clone, Copy)]
enum Source {
    Body,
    Sha,
}

fn eval(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    eval_generic(ctx, args, Source::Body, false)
}

fn evalsha(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    eval_generic(ctx, args, Source::Sha, false)
}

fn eval_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    eval_generic(ctx, args, Source::Body, true)
}

fn evalsha_ro(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    eval_generic(ctx, args, Source::Sha, true)
}

/// A script body larger than this is refused, as the protocol refuses such an argument.
fn check_body_size(ctx: &Ctx<'_>, body: &[u8]) -> CmdResult {
    if body.len() as u64 > ctx.shared.config.read().proto_max_bulk_len {
        return Err(CmdError::Static(
            "ERR script exceeds maximum allowed size (proto-max-bulk-len)",
        ));
    }
    Ok(())
}

/// Redis `evalGenericCommand` + `scriptPrepareForRun`.
fn eval_generic(ctx: &mut Ctx<'_>, args: Args<'_>, source: Source, ro: bool) -> CmdResult {
    let numkeys = ringkv_protocol::num::parse_i64(args.arg(2)).ok_or(NOT_INTEGER)?;
    if numkeys > args.len() as i64 - 3 {
        return Err(crate::error::NUMKEYS_TOO_MANY);
    }
    if numkeys < 0 {
        return Err(CmdError::Static("ERR Number of keys can't be negative"));
    }
    let numkeys = numkeys as usize;
    let scripts = &ctx.shared.scripting;
    let (sha, script_flags) = match source {
        Source::Body => {
            check_body_size(ctx, args.arg(1))?;
            scripts.with(|e| e.load(args.arg(1)).map_err(CmdError::msg))?
        }
        Source::Sha => {
            if args.arg(1).len() != 40 {
                return Err(NOSCRIPT);
            }
            let sha = String::from_utf8_lossy(args.arg(1)).to_ascii_lowercase();
            let flags = scripts.with(|e| e.flags_of(&sha).ok_or(NOSCRIPT))?;
            (sha, flags)
        }
    };
    let run = prepare_run(ctx, script_flags, ro)?;
    let all: Vec<&[u8]> = args.iter().skip(3).collect();
    let (keys, argv) = all.split_at(numkeys);

    let outer_in_exec = ctx.client.in_exec;
    let db = ctx.client.db;
    let atomic = AtomicLog::begin(ctx.store);
    ctx.client.in_exec = true;
    let mut host = Host { ctx, run };
    let result = scripts.with(|engine| {
        engine
            .run(
                &sha,
                keys,
                argv,
                &mut host,
                |outcome, resp3, host| match outcome {
                    RunOutcome::Value(v) => {
                        lua_to_reply(host.out(), &v, resp3);
                        Ok(())
                    }
                    RunOutcome::Error { message, counted } => Err((message, counted)),
                },
            )
            .map_err(CmdError::msg)
    });
    let ctx = host.ctx;
    ctx.client.in_exec = outer_in_exec;
    // SELECT inside a script does not change the caller's database (Redis 7).
    ctx.client.db = db;
    atomic.end(ctx.store, !outer_in_exec);
    match result? {
        Ok(()) => Ok(()),
        // An error a command already answered (and INFO already counted) is passed on as is.
        Err((message, true)) => {
            ctx.out.error(message.as_bytes());
            Ok(())
        }
        Err((message, false)) => Err(CmdError::msg(message.replace(['\r', '\n'], " "))),
    }
}

/// The checks before a script runs (Redis `scriptPrepareForRun`) and what the run may do.
fn prepare_run(ctx: &mut Ctx<'_>, script: ScriptFlags, ro: bool) -> Result<RunState, CmdError> {
    let oom_at_start = ctx.store.over_maxmemory();
    let mut read_only = ro;
    let mut allow_oom = false;
    if script.shebang {
        if !script.no_writes {
            if let Some(e) = ctx.shared.persistence.write_refusal() {
                return Err(e);
            }
            if ro {
                return Err(CmdError::Static(
                    "ERR Can not execute a script with write flag using *_ro command.",
                ));
            }
            if oom_at_start && !script.allow_oom {
                // Outside a transaction Redis refuses it as a deny-oom command.
                return Err(if ctx.client.in_exec {
                    CmdError::Static("OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'")
                } else {
                    OOM
                });
            }
        }
        read_only |= script.no_writes;
        allow_oom = script.allow_oom;
    }
    Ok(RunState {
        read_only,
        allow_oom,
        oom_at_start,
        wrote: false,
    })
}

fn script_load(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    check_body_size(ctx, args.arg(2))?;
    let (sha, _) = ctx
        .shared
        .scripting
        .with(|e| e.load(args.arg(2)).map_err(CmdError::msg))?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

fn script_exists(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let found: Vec<bool> = ctx.shared.scripting.with(|e| {
        Ok(args
            .iter()
            .skip(2)
            .map(|sha| e.exists(&String::from_utf8_lossy(sha).to_ascii_lowercase()))
            .collect())
    })?;
    ctx.out.array(found.len());
    for f in found {
        ctx.out.integer(i64::from(f));
    }
    Ok(())
}

fn script_flush(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    // ASYNC and SYNC both free the scripts at once: the cache is small next to a keyspace.
    if args.len() == 3
        && !args.arg(2).eq_ignore_ascii_case(b"sync")
        && !args.arg(2).eq_ignore_ascii_case(b"async")
        || args.len() > 3
    {
        return Err(CmdError::Static(
            "ERR SCRIPT FLUSH only support SYNC|ASYNC option",
        ));
    }
    ctx.shared.scripting.with(|e| {
        e.flush();
        Ok(())
    })?;
    ctx.out.ok();
    Ok(())
}

fn script_help(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    const LINES: &[&str] = &[
        "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "EXISTS <sha1> [<sha1> ...]",
        "    Return information about the existence of the scripts in the script cache.",
        "FLUSH [ASYNC|SYNC]",
        "    Flush the Lua scripts cache. Very dangerous on replicas.",
        "    When called without the optional mode argument, the behavior is determined by the",
        "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
        "    * ASYNC: Asynchronously flush the scripts cache.",
        "    * SYNC: Synchronously flush the scripts cache.",
        "LOAD <script>",
        "    Load a script into the scripts cache without executing it.",
        "HELP",
        "    Prints this help.",
    ];
    ctx.out.array(LINES.len());
    for line in LINES {
        ctx.out.simple(line.as_bytes());
    }
    Ok(())
}

const EVAL_FLAGS: u32 = flags::NOSCRIPT | flags::STALE;
const SCRIPT_FLAGS: u32 = flags::NOSCRIPT;

const SCRIPT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("load", 3, SCRIPT_FLAGS | flags::STALE, script_load)
        .group("scripting")
        .doc(
            "Loads a server-side Lua script to the script cache.",
            "2.6.0",
            "O(N) with N being the length in bytes of the script body.",
        )
        .syntax("script"),
    CommandSpec::new("exists", -3, SCRIPT_FLAGS | flags::STALE, script_exists)
        .group("scripting")
        .doc(
            "Determines whether server-side Lua scripts exist in the script cache.",
            "2.6.0",
            "O(N) with N being the number of scripts to check (so checking a single script is an O(1) operation).",
        )
        .syntax("sha1 [sha1 ...]"),
    CommandSpec::new("flush", -2, SCRIPT_FLAGS | flags::MAY_REPLICATE, script_flush)
        .group("scripting")
        .doc(
            "Removes all server-side Lua scripts from the script cache.",
            "2.6.0",
            "O(N) with N being the number of scripts in cache",
        )
        .syntax("[ASYNC | SYNC]"),
    CommandSpec::new("help", 2, flags::LOADING | flags::STALE, script_help)
        .group("scripting")
        .doc("Returns helpful text about the different subcommands.", "5.0.0", "O(1)"),
];

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("eval", -3, EVAL_FLAGS | flags::MAY_REPLICATE, eval)
        .numkeys_at(2)
        .group("scripting")
        .doc(
            "Executes a server-side Lua script.",
            "2.6.0",
            "Depends on the script that is executed.",
        )
        .syntax("script numkeys [key [key ...]] [arg [arg ...]]"),
    CommandSpec::new("evalsha", -3, EVAL_FLAGS | flags::MAY_REPLICATE, evalsha)
        .numkeys_at(2)
        .group("scripting")
        .doc(
            "Executes a server-side Lua script by SHA1 digest.",
            "2.6.0",
            "Depends on the script that is executed.",
        )
        .syntax("sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    CommandSpec::new("eval_ro", -3, EVAL_FLAGS | flags::READONLY, eval_ro)
        .numkeys_at(2)
        .group("scripting")
        .doc(
            "Executes a read-only server-side Lua script.",
            "7.0.0",
            "Depends on the script that is executed.",
        )
        .syntax("script numkeys [key [key ...]] [arg [arg ...]]"),
    CommandSpec::new("evalsha_ro", -3, EVAL_FLAGS | flags::READONLY, evalsha_ro)
        .numkeys_at(2)
        .group("scripting")
        .doc(
            "Executes a read-only server-side Lua script by SHA1 digest.",
            "7.0.0",
            "Depends on the script that is executed.",
        )
        .syntax("sha1 numkeys [key [key ...]] [arg [arg ...]]"),
    CommandSpec::new("script", -2, 0, crate::dispatch::container)
        .group("scripting")
        .doc(
            "A container for Lua scripts management commands.",
            "2.6.0",
            "Depends on subcommand.",
        )
        .subcommands(SCRIPT_SUBCOMMANDS),
];
