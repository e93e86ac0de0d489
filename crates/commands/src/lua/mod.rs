//! The Lua side of scripting (EVAL and friends): one Lua 5.1 interpreter shared by every script,
//! the scripts cache keyed by SHA1, the sandbox, and running one script.
//!
//! Redis embeds Lua 5.1, keeps one interpreter for the server's life and caches every script it
//! compiled (EVAL and SCRIPT LOAD) until SCRIPT FLUSH; ringkv does the same so scripts written for
//! Redis behave the same: same number semantics, same library, same error texts.
//!
//! A script runs while its caller holds the keyspace lock (`scripting` calls [`ScriptEngine::run`]
//! from the command handler), so it is atomic, as in Redis. `redis.call` must reach the caller's
//! context (`Ctx`), which lives only for that call: `run` puts a pointer to it in a [`HostSlot`]
//! that `redis.call` (registered once) reads, and empties the slot before it returns.
//!
//! The sandbox (`sandbox.lua`): the base, table, string and math libraries plus `cjson` and `bit`
//! (in Rust, `libs`), `redis.*`; no `io`, `os`, `debug`, `loadfile`, `dofile`, `print`, `require`.
//! Globals cannot be created or overwritten and reading an undefined one raises Redis's error.
//! `cmsgpack` and `struct`, which Redis also ships, are not provided.

mod convert;
mod libs;

pub use convert::lua_to_reply;

use mlua::{Function, Lua, LuaOptions, StdLib, Table, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The script flags a `#!lua flags=...` first line may set (Redis 7 `scripts_flags_def`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// The script has a shebang line: flags apply (without one, Redis 7's compatible mode).
    pub shebang: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
}

/// One cached script: its compiled body and what its shebang declared.
struct Script {
    function: Function,
    flags: ScriptFlags,
}

/// The running script's context, for `redis.call` / `redis.pcall`: filled by
/// [`ScriptEngine::run`] for the length of one run. It holds a raw pointer because the host
/// borrows the caller's context while Lua functions must be `'static`; the alternative, a scoped
/// Lua function created for every run, cost about a fifth of a one-call script's time.
#[derive(Default)]
pub(super) struct HostSlot(parking_lot::Mutex<Option<HostPtr>>);

pub(super) struct HostPtr(*mut (dyn ScriptHost + 'static));

// SAFETY: a HostPtr is created by `ScriptEngine::run` and used only by the `redis.call`s of that
// run, which Lua makes on the thread running it.
unsafe impl Send for HostPtr {}

impl HostSlot {
    /// Runs `f` with the running script's host, taken out of the slot meanwhile (so a nested
    /// call finds none rather than a second reference); `None` outside a run.
    pub(super) fn with<R>(&self, f: impl FnOnce(&mut dyn ScriptHost) -> R) -> Option<R> {
        let ptr = self.0.lock().take()?;
        // SAFETY: `run` stored this pointer from a `&mut dyn ScriptHost` that it leaves unused
        // until it empties the slot before returning; taken out of the slot, this is its only use.
        let result = f(unsafe { &mut *ptr.0 });
        *self.0.lock() = Some(ptr);
        Some(result)
    }
}

/// Empties the slot when a run ends, however it ends.
struct ClearHost<'a>(&'a HostSlot);

impl Drop for ClearHost<'_> {
    fn drop(&mut self) {
        *self.0 .0.lock() = None;
    }
}

/// Redis's reply to EVALSHA of a script it does not have.
pub const NOSCRIPT_TEXT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// What the caller's context must provide while a script runs.
pub trait ScriptHost {
    /// Runs one `redis.call`/`redis.pcall` with the given arguments; returns the reply's RESP
    /// bytes, or an error text (Redis's script-call refusals) without the leading '-'.
    fn call(&mut self, args: &[Vec<u8>], resp3: bool) -> Result<Vec<u8>, String>;
    /// The caller's reply buffer, for the script's own reply.
    fn out(&mut self) -> &mut ringkv_protocol::ReplyWriter;
}

/// How a run ended, for the reply.
pub enum RunOutcome {
    /// The script returned normally: its value, converted by [`lua_to_reply`].
    Value(Value),
    /// The script raised an error: the full error text (without '-') and whether the error was
    /// already counted (a command's error re-raised by `redis.call`).
    Error { message: String, counted: bool },
}

/// The interpreter and the scripts cache.
pub struct ScriptEngine {
    lua: Lua,
    scripts: HashMap<String, Script>,
    /// Bytes of script bodies and SHA1 keys held by the cache (INFO used_memory_scripts).
    scripts_bytes: usize,
    /// The environment scripts run in, and the table behind it (KEYS and ARGV are set there).
    env: Table,
    env_store: Table,
    /// The running script's context (read by redis.call/pcall).
    host: Arc<HostSlot>,
    /// The protocol the running script asked for with redis.setresp (false: RESP2).
    resp3: Arc<AtomicBool>,
    /// Calls a function under the error handler: `runner(f, handler)` -> ok, value.
    runner: Function,
    handler: Function,
    /// Runs since the last collector step.
    runs_since_gc: u32,
}

/// Redis's LUA_GC_CYCLE_PERIOD: the collector takes one extra step every this many runs (the
/// allocator-driven incremental collection does the rest).
const GC_CYCLE_PERIOD: u32 = 50;

/// The chunk name Redis gives scripts; error positions read "user_script:LINE:".
const SCRIPT_CHUNK: &str = "@user_script";
/// The chunk name of the interpreter's own Lua code; the error handler skips its frames.
const INTERNAL_CHUNK: &str = "=ringkv";

impl ScriptEngine {
    pub fn new() -> mlua::Result<ScriptEngine> {
        let lua = Lua::new_with(
            StdLib::TABLE | StdLib::STRING | StdLib::MATH,
            LuaOptions::default(),
        )?;
        let globals = lua.globals();
        for name in ["dofile", "loadfile", "print", "require", "module"] {
            globals.raw_set(name, Value::Nil)?;
        }
        let host = Arc::new(HostSlot::default());
        let resp3 = Arc::new(AtomicBool::new(false));
        let raw = libs::register(&lua, host.clone(), resp3.clone())?;
        let (env, env_store): (Table, Table) = lua
            .load(include_str!("sandbox.lua"))
            .set_name(INTERNAL_CHUNK)
            .call((globals, raw))?;
        let runner = lua
            .load("local xpcall = xpcall\nreturn function(f, h) return xpcall(f, h) end")
            .set_name(INTERNAL_CHUNK)
            .call::<Function>(())?;
        let handler = lua.create_function(error_handler)?;
        env_store.raw_set("__redis__err__handler", handler.clone())?;
        Ok(ScriptEngine {
            lua,
            scripts: HashMap::new(),
            scripts_bytes: 0,
            env,
            env_store,
            host,
            resp3,
            runner,
            handler,
            runs_since_gc: 0,
        })
    }

    /// Number of cached scripts (INFO number_of_cached_scripts).
    pub fn script_count(&self) -> usize {
        self.scripts.len()
    }

    /// Memory held by cached scripts (INFO used_memory_scripts).
    pub fn scripts_bytes(&self) -> usize {
        self.scripts_bytes
    }

    /// Memory used by the interpreter (INFO used_memory_lua).
    pub fn lua_bytes(&self) -> usize {
        self.lua.used_memory()
    }

    pub fn exists(&self, sha: &str) -> bool {
        self.scripts.contains_key(sha)
    }

    pub fn flags_of(&self, sha: &str) -> Option<ScriptFlags> {
        self.scripts.get(sha).map(|s| s.flags)
    }

    /// Compiles and caches `body` unless cached; returns its SHA1 (lower-case hex) and flags.
    /// Errors are Redis's texts without the leading '-'.
    pub fn load(&mut self, body: &[u8]) -> Result<(String, ScriptFlags), String> {
        let sha = sha1_hex(body);
        if let Some(s) = self.scripts.get(&sha) {
            return Ok((sha, s.flags));
        }
        let (flags, skip) = parse_shebang(body)?;
        // The shebang line is skipped but its newline kept, so line numbers stay the user's.
        let function = self
            .lua
            .load(&body[skip..])
            .set_name(SCRIPT_CHUNK)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                format!(
                    "ERR Error compiling script (new function): {}",
                    lua_error_text(&e)
                )
            })?;
        self.scripts_bytes += body.len() + sha.len();
        self.scripts.insert(sha.clone(), Script { function, flags });
        Ok((sha, flags))
    }

    /// Drops every cached script (SCRIPT FLUSH) and collects the garbage they leave.
    pub fn flush(&mut self) {
        self.scripts.clear();
        self.scripts_bytes = 0;
        let _ = self.lua.gc_collect();
    }

    /// Runs the cached script `sha` with KEYS and ARGV; `host` serves its `redis.call`s and
    /// `reply` turns its result into the reply, given the host (it runs while the Lua values are
    /// alive).
    pub fn run<R>(
        &mut self,
        sha: &str,
        keys: &[&[u8]],
        argv: &[&[u8]],
        host: &mut dyn ScriptHost,
        reply: impl FnOnce(RunOutcome, bool, &mut dyn ScriptHost) -> R,
    ) -> Result<R, String> {
        let Some(script) = self.scripts.get(sha) else {
            return Err(NOSCRIPT_TEXT.into());
        };
        let function = &script.function;
        let lua = &self.lua;
        let set_array = |name: &str, items: &[&[u8]]| -> mlua::Result<()> {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                // Text goes onto the Lua stack directly; other bytes through a string handle.
                match std::str::from_utf8(item) {
                    Ok(text) => t.raw_set(i + 1, text)?,
                    Err(_) => t.raw_set(i + 1, lua.create_string(item)?)?,
                }
            }
            self.env_store.raw_set(name, t)
        };
        set_array("KEYS", keys).map_err(|e| internal(&e))?;
        set_array("ARGV", argv).map_err(|e| internal(&e))?;
        // Commands answer in RESP2 until the script asks for RESP3 (redis.setresp).
        self.resp3.store(false, Ordering::Relaxed);
        let resp3 = &self.resp3;
        let ptr: *mut (dyn ScriptHost + '_) = &mut *host;
        // SAFETY: only the trait object's lifetime is erased; `clear` empties the slot before
        // `host` is used again or this function returns, so the pointer never outlives it.
        let ptr: *mut (dyn ScriptHost + 'static) = unsafe { std::mem::transmute(ptr) };
        *self.host.0.lock() = Some(HostPtr(ptr));
        let clear = ClearHost(&self.host);
        let outcome = self
            .runner
            .call::<(bool, Value)>((function, &self.handler))
            .map(|(ok, value)| {
                if ok {
                    RunOutcome::Value(value)
                } else {
                    error_outcome(sha, value)
                }
            });
        drop(clear);
        // The reply is written while the Lua values are alive, with the host reached directly.
        let result = outcome.map(|o| reply(o, resp3.load(Ordering::Relaxed), host));
        // As Redis: one small collector step every GC_CYCLE_PERIOD runs. (A step on every run
        // spent a third of a short script's time in the collector.)
        self.runs_since_gc += 1;
        if self.runs_since_gc >= GC_CYCLE_PERIOD {
            self.runs_since_gc = 0;
            let _ = lua.gc_step_kbytes(1);
        }
        result.map_err(|e| internal(&e))
    }
}

fn internal(e: &mlua::Error) -> String {
    format!("ERR Error running script: {}", lua_error_text(e))
}

/// The text of a Lua error without mlua's traceback decoration.
pub(super) fn lua_error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message.clone(),
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { cause, .. } => lua_error_text(cause),
        other => other.to_string(),
    }
}

/// Redis's reply for a script that raised `value` (the handler made it a table).
fn error_outcome(sha: &str, value: Value) -> RunOutcome {
    let Value::Table(t) = value else {
        let msg = match &value {
            Value::String(s) => s.to_string_lossy(),
            _ => "execution failure".to_string(),
        };
        return RunOutcome::Error {
            message: format!("ERR Error running script f_{sha}, {msg}"),
            counted: false,
        };
    };
    let text = |k: &str| -> Option<String> {
        match t.raw_get::<Value>(k).ok()? {
            Value::String(s) => Some(s.to_string_lossy()),
            Value::Integer(n) => Some(n.to_string()),
            Value::Number(n) => Some(convert::lua_number_text(n)),
            _ => None,
        }
    };
    let mut message = text("err").unwrap_or_default();
    if let (Some(source), Some(line)) = (text("source"), text("line")) {
        message.push_str(&format!(" script: {sha}, on {source}:{line}."));
    }
    let counted = matches!(
        t.raw_get::<Value>("ignore_error_stats_update"),
        Ok(Value::Boolean(true))
    );
    RunOutcome::Error { message, counted }
}

/// Redis's `__redis__err__handler`: makes any error a table {err=..., source=..., line=...}
/// located at the script line that raised it (the caller of a C function such as `error` or
/// `redis.call`; frames of the interpreter's own wrappers are skipped).
fn error_handler(lua: &Lua, err: Value) -> mlua::Result<Table> {
    let frame = |level: usize| {
        lua.inspect_stack(level, |d| {
            let s = d.source();
            (s.what, s.source.map(|c| c.into_owned()), d.current_line())
        })
    };
    let mut level = 1;
    let mut info = frame(level);
    if matches!(&info, Some((what, _, _)) if *what == "C") {
        level += 1;
        info = frame(level);
    }
    while matches!(&info, Some((_, Some(src), _)) if src == INTERNAL_CHUNK) {
        level += 1;
        info = frame(level);
    }
    let table = match err {
        Value::Table(t) => t,
        Value::Error(e) if libs::find_script_error(&e).is_some() => {
            let t = lua.create_table()?;
            if let Some(s) = libs::find_script_error(&e) {
                t.raw_set("err", lua.create_string(&s.message)?)?;
                if s.counted {
                    t.raw_set("ignore_error_stats_update", true)?;
                }
            }
            t
        }
        other => {
            let text = match &other {
                Value::String(s) => s.to_string_lossy(),
                Value::Error(e) => lua_error_text(e),
                Value::Integer(n) => n.to_string(),
                Value::Number(n) => convert::lua_number_text(*n),
                Value::Nil => "nil".into(),
                Value::Boolean(b) => b.to_string(),
                v => v.type_name().to_string(),
            };
            let t = lua.create_table()?;
            t.raw_set("err", format!("ERR {text}"))?;
            t
        }
    };
    if let Some((_, Some(source), line)) = info {
        table.raw_set("source", source)?;
        table.raw_set("line", line.map_or(-1, |l| l as i64))?;
    }
    Ok(table)
}

pub fn sha1_hex(body: &[u8]) -> String {
    sha1_smol::Sha1::from(body).digest().to_string()
}

/// Reads a `#!lua flags=a,b` first line (Redis 7 `evalExtractShebangFlags`): the flags and how
/// many bytes to skip (the line without its newline).
fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, usize), String> {
    let mut flags = ScriptFlags::default();
    if !body.starts_with(b"#!") {
        return Ok((flags, 0));
    }
    let Some(end) = body.iter().position(|&c| c == b'\n') else {
        return Err("ERR Invalid script shebang".into());
    };
    let line = String::from_utf8_lossy(&body[..end]);
    let mut parts = line.split_ascii_whitespace();
    let engine = parts.next().unwrap_or_default();
    if engine.is_empty() {
        return Err("ERR Invalid engine in script shebang".into());
    }
    if engine != "#!lua" {
        return Err(format!("ERR Unexpected engine in script shebang: {engine}"));
    }
    flags.shebang = true;
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(format!("ERR Unknown lua shebang option: {part}"));
        };
        for flag in list.split(',') {
            match flag {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                // Accepted and without effect here: there are no stale replicas, cluster mode
                // refuses scripts altogether, and a single node has no slots.
                "allow-stale" | "no-cluster" | "allow-cross-slot-keys" => {}
                other => return Err(format!("ERR Unexpected flag in script shebang: {other}")),
            }
        }
    }
    Ok((flags, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shebang_flags_and_errors() {
        assert_eq!(parse_shebang(b"return 1").map(|r| r.1), Ok(0));
        let (f, skip) = parse_shebang(b"#!lua flags=no-writes,allow-oom\nreturn 1").expect("ok");
        assert!(f.shebang && f.no_writes && f.allow_oom);
        assert_eq!(skip, 31);
        assert_eq!(
            parse_shebang(b"#!lua flags=bad\n"),
            Err("ERR Unexpected flag in script shebang: bad".into())
        );
        assert_eq!(
            parse_shebang(b"#!js\n"),
            Err("ERR Unexpected engine in script shebang: #!js".into())
        );
        assert_eq!(
            parse_shebang(b"#!lua x=1\n"),
            Err("ERR Unknown lua shebang option: x=1".into())
        );
        assert_eq!(
            parse_shebang(b"#!lua"),
            Err("ERR Invalid script shebang".into())
        );
    }

    #[test]
    fn sha1_matches_redis() {
        assert_eq!(sha1_hex(b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    }
}
