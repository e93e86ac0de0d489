//! The libraries scripts get besides Lua's own, written in Rust: the fixed part of `redis.*`,
//! `cjson` (lua-cjson's encode/decode for the common cases), `bit` (LuaBitOp) and Redis's
//! `math.random` (the rand48 generator Redis uses, so sequences match Redis's).
//!
//! They are Rust functions, which Lua sees as C functions, so error positions come out as in
//! Redis (the caller of a C function is the script line, even after a tail call). Library misuse
//! raises a located message as `luaL_error` does ("user_script:3: bad argument ..."); the
//! `redis.*` functions raise Redis's error tables instead, carried as [`ScriptError`] until the
//! error handler turns them back into `{err=...}`.

use super::convert::{self, format_g, number_of};
use super::HostSlot;
use mlua::{LightUserData, Lua, MultiValue, Table, Value, Variadic};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

type Outcome = mlua::Result<Value>;

/// An error raised as Redis raises `{err=...}` tables (redis.call, redis.setresp, ...).
#[derive(Debug)]
pub(super) struct ScriptError {
    pub message: String,
    /// The error is a command's reply, already counted in INFO errorstats.
    pub counted: bool,
}

impl std::fmt::Display for ScriptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ScriptError {}

/// The [`ScriptError`] inside an error a callback raised, if it is one.
pub(super) fn find_script_error(e: &mlua::Error) -> Option<&ScriptError> {
    match e {
        mlua::Error::CallbackError { cause, .. } => find_script_error(cause),
        mlua::Error::WithContext { cause, .. } => find_script_error(cause),
        mlua::Error::ExternalError(inner) => inner.downcast_ref::<ScriptError>(),
        _ => None,
    }
}

fn fail(lua: &Lua, msg: impl AsRef<str>) -> Outcome {
    // luaL_where(L, 1): the line of the function that called this one.
    let at = lua
        .inspect_stack(1, |d| {
            let line = d.current_line()?;
            let src = d.source().short_src?.into_owned();
            Some(format!("{src}:{line}: "))
        })
        .flatten()
        .unwrap_or_default();
    Err(mlua::Error::RuntimeError(format!("{at}{}", msg.as_ref())))
}

fn fail_redis(msg: impl AsRef<str>) -> Outcome {
    Err(mlua::Error::external(ScriptError {
        message: format!("ERR {}", msg.as_ref()),
        counted: false,
    }))
}

fn done(v: Value) -> Outcome {
    Ok(v)
}

/// Lua 5.1's string-to-number coercion for library arguments (decimal or hex, spaces around).
fn coerce_number(v: &Value) -> Option<f64> {
    if let Some(n) = number_of(v) {
        return Some(n);
    }
    let Value::String(s) = v else { return None };
    let text = s.to_str().ok()?;
    let text = text.trim();
    if let Some(hex) = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(|n| n as f64);
    }
    text.parse::<f64>().ok().filter(|_| !text.is_empty())
}

/// `luaL_checknumber`'s message for argument `n` (1-based) of `name`.
fn check_number(args: &[Value], n: usize, name: &str) -> Result<f64, String> {
    let v = args.get(n - 1).unwrap_or(&Value::Nil);
    coerce_number(v).ok_or_else(|| {
        let got = if n > args.len() {
            "no value"
        } else {
            v.type_name()
        };
        format!("bad argument #{n} to '{name}' (number expected, got {got})")
    })
}

/// The Rust libraries, in one table for `sandbox.lua`. `host` holds the running script's context
/// (see `ScriptEngine::run`); `resp3` is the protocol the running script selected.
pub(super) fn register(
    lua: &Lua,
    host: Arc<HostSlot>,
    resp3: Arc<AtomicBool>,
) -> mlua::Result<Table> {
    let raw = lua.create_table()?;
    let redis = redis_table(lua)?;
    add_calls(lua, &redis, host, resp3)?;
    raw.raw_set("redis", redis)?;
    raw.raw_set(
        "error_text",
        lua.create_function(|lua, e: Value| {
            let text = match &e {
                Value::Error(e) => match find_script_error(e) {
                    Some(s) => s.message.clone(),
                    None => super::lua_error_text(e),
                },
                _ => return Ok(e),
            };
            Ok(Value::String(lua.create_string(text)?))
        })?,
    )?;
    raw.raw_set("cjson", cjson_table(lua)?)?;
    raw.raw_set("bit", bit_table(lua)?)?;
    // Redis's generator starts from rand48's fixed initial state and is never reseeded
    // between scripts (only math.randomseed changes it).
    let state = Arc::new(AtomicU64::new(RAND48_INITIAL));
    let s = state.clone();
    raw.raw_set(
        "random",
        lua.create_function(move |lua, args: Variadic<Value>| math_random(lua, &args, &s))?,
    )?;
    raw.raw_set(
        "randomseed",
        lua.create_function(move |lua, args: Variadic<Value>| {
            match check_number(&args, 1, "randomseed") {
                Ok(seed) => {
                    let seed = seed as i32 as u32 as u64;
                    state.store((seed << 16) | 0x330E, Ordering::Relaxed);
                    done(Value::Nil)
                }
                Err(e) => fail(lua, e),
            }
        })?,
    )?;
    Ok(raw)
}

// ---- redis.* ----

/// redis.call, redis.pcall and redis.setresp, which reach the running script's context through
/// `host`, the slot the run fills.
fn add_calls(
    lua: &Lua,
    redis: &Table,
    host: Arc<HostSlot>,
    resp3: Arc<AtomicBool>,
) -> mlua::Result<()> {
    let selected = resp3.clone();
    let primitive = move |lua: &Lua, args: MultiValue| -> mlua::Result<(bool, Value)> {
        let resp3 = selected.load(Ordering::Relaxed);
        host.with(|h| convert::script_call(lua, args, resp3, h))
            .unwrap_or_else(|| {
                Err(mlua::Error::external(ScriptError {
                    message: "ERR redis.call/pcall can only be called inside a script invocation"
                        .into(),
                    counted: false,
                }))
            })
    };
    let call_primitive = primitive.clone();
    redis.raw_set(
        "call",
        lua.create_function(move |lua, args: MultiValue| {
            let (ok, value) = call_primitive(lua, args)?;
            if ok {
                return Ok(value);
            }
            let field = |t: &Table, k: &str| t.raw_get::<Value>(k).ok();
            let (message, counted) = match &value {
                Value::Table(t) => (
                    match field(t, "err") {
                        Some(Value::String(s)) => s.to_string_lossy(),
                        _ => String::new(),
                    },
                    matches!(
                        field(t, "ignore_error_stats_update"),
                        Some(Value::Boolean(true))
                    ),
                ),
                _ => (String::new(), false),
            };
            Err(mlua::Error::external(ScriptError { message, counted }))
        })?,
    )?;
    redis.raw_set(
        "pcall",
        lua.create_function(move |lua, args: MultiValue| Ok(primitive(lua, args)?.1))?,
    )?;
    redis.raw_set(
        "setresp",
        lua.create_function(move |_, args: Variadic<Value>| {
            if args.len() != 1 {
                return fail_redis("redis.setresp() requires one argument.");
            }
            match number_of(&args[0]).map(|n| n as i64) {
                Some(2) => resp3.store(false, Ordering::Relaxed),
                Some(3) => resp3.store(true, Ordering::Relaxed),
                _ => return fail_redis("RESP version must be 2 or 3."),
            }
            done(Value::Nil)
        })?,
    )?;
    Ok(())
}

fn redis_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let version = crate::info::REDIS_COMPAT_VERSION;
    let num = version
        .split('.')
        .map(|p| p.parse::<u32>().unwrap_or(0))
        .fold(0u32, |acc, p| (acc << 8) | (p & 0xff));
    t.raw_set("REDIS_VERSION", version)?;
    t.raw_set("REDIS_VERSION_NUM", num)?;
    for (name, level) in [
        ("LOG_DEBUG", 0),
        ("LOG_VERBOSE", 1),
        ("LOG_NOTICE", 2),
        ("LOG_WARNING", 3),
    ] {
        t.raw_set(name, level)?;
    }
    for (name, flags) in [
        ("REPL_NONE", 0),
        ("REPL_AOF", 1),
        ("REPL_SLAVE", 2),
        ("REPL_REPLICA", 2),
        ("REPL_ALL", 3),
    ] {
        t.raw_set(name, flags)?;
    }
    t.raw_set(
        "log",
        lua.create_function(|_, args: Variadic<Value>| {
            if args.len() < 2 {
                return fail_redis("redis.log() requires two arguments or more.");
            }
            let Some(level) = coerce_number(&args[0]) else {
                return fail_redis("First argument must be a number (log level).");
            };
            let level = level as i64;
            if !(0..=3).contains(&level) {
                return fail_redis("Invalid debug level.");
            }
            let mut text = String::new();
            for a in args.iter().skip(1) {
                let part = match a {
                    Value::String(s) => s.to_string_lossy(),
                    v => match number_of(v) {
                        Some(n) => format_g(n, 14),
                        None => continue,
                    },
                };
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(&part);
            }
            match level {
                0 => tracing::debug!(target: "script", "{text}"),
                1 | 2 => tracing::info!(target: "script", "{text}"),
                _ => tracing::warn!(target: "script", "{text}"),
            }
            done(Value::Nil)
        })?,
    )?;
    t.raw_set(
        "set_repl",
        lua.create_function(|_, args: Variadic<Value>| {
            if args.len() != 1 {
                return fail_redis("redis.set_repl() requires two arguments.");
            }
            // Accepted and ignored: a script's writes are always logged as their effects.
            match number_of(&args[0]).map(|n| n as i64) {
                Some(0..=3) => done(Value::Nil),
                _ => fail_redis(
                    "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                ),
            }
        })?,
    )?;
    t.raw_set(
        "sha1hex",
        lua.create_function(|lua, args: Variadic<Value>| {
            if args.len() != 1 {
                return fail_redis("wrong number of arguments");
            }
            let bytes = match &args[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                v => number_of(v)
                    .map(|n| format_g(n, 14).into_bytes())
                    .unwrap_or_default(),
            };
            done(Value::String(lua.create_string(super::sha1_hex(&bytes))?))
        })?,
    )?;
    t.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    Ok(t)
}

// ---- math.random (Redis rand.c: rand48) ----

const RAND48_INITIAL: u64 = 0x1234_ABCD_330E;
const RAND48_A: u64 = 0x5_DEEC_E66D;
const RAND48_MAX: i64 = i32::MAX as i64;

fn lrand48(state: &AtomicU64) -> i64 {
    let x = state.load(Ordering::Relaxed);
    let next = (x.wrapping_mul(RAND48_A).wrapping_add(0xB)) & 0xFFFF_FFFF_FFFF;
    state.store(next, Ordering::Relaxed);
    (next >> 17) as i64
}

fn math_random(lua: &Lua, args: &[Value], state: &AtomicU64) -> Outcome {
    let r = (lrand48(state) % RAND48_MAX) as f64 / RAND48_MAX as f64;
    let int_arg = |n: usize| check_number(args, n, "random").map(|v| v as i32);
    let value = match args.len() {
        0 => r,
        1 => {
            let u = match int_arg(1) {
                Ok(u) => u,
                Err(e) => return fail(lua, e),
            };
            if u < 1 {
                return fail(lua, "bad argument #1 to 'random' (interval is empty)");
            }
            (r * f64::from(u)).floor() + 1.0
        }
        2 => {
            let (l, u) = match (int_arg(1), int_arg(2)) {
                (Ok(l), Ok(u)) => (l, u),
                (Err(e), _) | (_, Err(e)) => return fail(lua, e),
            };
            if l > u {
                return fail(lua, "bad argument #2 to 'random' (interval is empty)");
            }
            (r * (f64::from(u) - f64::from(l) + 1.0)).floor() + f64::from(l)
        }
        _ => return fail(lua, "wrong number of arguments"),
    };
    done(Value::Number(value))
}

// ---- bit (LuaBitOp) ----

/// LuaBitOp's normalisation: the number modulo 2^32 as a signed 32-bit integer, rounding as the
/// FPU does (the 2^52 + 2^51 trick).
fn tobit(x: f64) -> i32 {
    (x + 6_755_399_441_055_744.0).to_bits() as u32 as i32
}

fn bit_table(lua: &Lua) -> mlua::Result<Table> {
    type Op = fn(&[i32]) -> Result<f64, String>;
    let t = lua.create_table()?;
    let ops: [(&str, usize, Op); 11] = [
        ("tobit", 1, |a| Ok(f64::from(a[0]))),
        ("bnot", 1, |a| Ok(f64::from(!a[0]))),
        ("band", 1, |a| {
            Ok(f64::from(a.iter().fold(-1, |x, y| x & y)))
        }),
        ("bor", 1, |a| Ok(f64::from(a.iter().fold(0, |x, y| x | y)))),
        ("bxor", 1, |a| Ok(f64::from(a.iter().fold(0, |x, y| x ^ y)))),
        ("lshift", 2, |a| {
            Ok(f64::from(((a[0] as u32) << (a[1] as u32 & 31)) as i32))
        }),
        ("rshift", 2, |a| {
            Ok(f64::from(((a[0] as u32) >> (a[1] as u32 & 31)) as i32))
        }),
        ("arshift", 2, |a| Ok(f64::from(a[0] >> (a[1] as u32 & 31)))),
        ("rol", 2, |a| {
            Ok(f64::from((a[0] as u32).rotate_left(a[1] as u32 & 31) as i32))
        }),
        ("ror", 2, |a| {
            Ok(f64::from(
                (a[0] as u32).rotate_right(a[1] as u32 & 31) as i32
            ))
        }),
        ("bswap", 1, |a| Ok(f64::from(a[0].swap_bytes()))),
    ];
    for (name, required, op) in ops {
        let f = lua.create_function(move |lua, args: Variadic<Value>| {
            // The variadic operations take every argument; the others their first ones.
            let count = if required == 1 && matches!(name, "band" | "bor" | "bxor") {
                args.len().max(1)
            } else {
                required
            };
            let mut ints = Vec::with_capacity(count);
            for n in 1..=count {
                match check_number(&args, n, name) {
                    Ok(v) => ints.push(tobit(v)),
                    Err(e) => return fail(lua, e),
                }
            }
            match op(&ints) {
                Ok(v) => done(Value::Number(v)),
                Err(e) => fail(lua, e),
            }
        })?;
        t.raw_set(name, f)?;
    }
    t.raw_set(
        "tohex",
        lua.create_function(|lua, args: Variadic<Value>| {
            let x = match check_number(&args, 1, "tohex") {
                Ok(v) => tobit(v) as u32,
                Err(e) => return fail(lua, e),
            };
            let n = if args.len() >= 2 {
                match check_number(&args, 2, "tohex") {
                    Ok(v) => tobit(v),
                    Err(e) => return fail(lua, e),
                }
            } else {
                8
            };
            let upper = n < 0;
            let digits = n.unsigned_abs().min(8) as usize;
            let masked = if digits == 8 {
                x
            } else {
                x & ((1u32 << (4 * digits)) - 1)
            };
            let text = if upper {
                format!("{masked:0digits$X}")
            } else {
                format!("{masked:0digits$x}")
            };
            done(Value::String(lua.create_string(text)?))
        })?,
    )?;
    Ok(t)
}

// ---- cjson ----

/// lua-cjson's limit on nesting, both ways.
const CJSON_MAX_DEPTH: usize = 1000;

fn cjson_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    t.raw_set(
        "encode",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return fail(lua, "bad argument #1 to 'encode' (expected 1 argument)");
            }
            let mut out = Vec::new();
            match json_encode(&args[0], &mut out, 0) {
                Ok(()) => done(Value::String(lua.create_string(&out)?)),
                Err(e) => fail(lua, e),
            }
        })?,
    )?;
    t.raw_set(
        "decode",
        lua.create_function(|lua, args: MultiValue| {
            let Some(Value::String(s)) = args.front() else {
                return fail(lua, "bad argument #1 to 'decode' (string expected)");
            };
            match serde_json::from_slice::<serde_json::Value>(&s.as_bytes()) {
                Ok(v) => done(json_to_lua(lua, &v)?),
                Err(e) => fail(
                    lua,
                    format!(
                        "Expected value but found invalid token at character {}",
                        e.column().max(1)
                    ),
                ),
            }
        })?,
    )?;
    Ok(t)
}

fn json_to_lua(lua: &Lua, v: &serde_json::Value) -> mlua::Result<Value> {
    use serde_json::Value as J;
    Ok(match v {
        J::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
        J::Bool(b) => Value::Boolean(*b),
        J::Number(n) => Value::Number(n.as_f64().unwrap_or(0.0)),
        J::String(s) => Value::String(lua.create_string(s)?),
        J::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, json_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        J::Object(map) => {
            let t = lua.create_table_with_capacity(0, map.len())?;
            for (k, item) in map {
                t.raw_set(lua.create_string(k)?, json_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
    })
}

fn json_string(s: &[u8], out: &mut Vec<u8>) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            c => out.push(c),
        }
    }
    out.push(b'"');
}

fn json_number(n: f64, out: &mut Vec<u8>) -> Result<(), String> {
    if !n.is_finite() {
        return Err("Cannot serialise number: must not be NaN or Inf".into());
    }
    out.extend_from_slice(format_g(n, 14).as_bytes());
    Ok(())
}

/// The array length lua-cjson would use for `t`: Some(n) when every key is a positive integer
/// (and the table is not excessively sparse), None for an object.
fn json_array_len(t: &Table) -> Result<Option<usize>, String> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair.map_err(|e| e.to_string())?;
        match number_of(&k) {
            Some(n) if n >= 1.0 && n.fract() == 0.0 && n <= 1e15 => {
                max = max.max(n as usize);
                items += 1;
            }
            _ => return Ok(None),
        }
    }
    // lua-cjson's defaults: encode_sparse_ratio 2, encode_sparse_safe 10.
    if max > 10 && max > items * 2 {
        return Err("Cannot serialise table: excessively sparse array".into());
    }
    Ok(if max == 0 { None } else { Some(max) })
}

fn json_encode(v: &Value, out: &mut Vec<u8>, depth: usize) -> Result<(), String> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(n) => json_number(*n as f64, out)?,
        Value::Number(n) => json_number(*n, out)?,
        Value::String(s) => json_string(&s.as_bytes(), out),
        Value::Table(t) => {
            if depth >= CJSON_MAX_DEPTH {
                return Err(format!(
                    "Cannot serialise, excessive nesting ({})",
                    depth + 1
                ));
            }
            match json_array_len(t)? {
                Some(len) => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        let item: Value = t.raw_get(i).map_err(|e| e.to_string())?;
                        json_encode(&item, out, depth + 1)?;
                    }
                    out.push(b']');
                }
                None => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, item) = pair.map_err(|e| e.to_string())?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => json_string(&s.as_bytes(), out),
                            k => match number_of(k) {
                                Some(n) => json_string(format_g(n, 14).as_bytes(), out),
                                None => return Err(
                                    "Cannot serialise table: table key must be a number or string"
                                        .into(),
                                ),
                            },
                        }
                        out.push(b':');
                        json_encode(&item, out, depth + 1)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            ))
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rand48_matches_redis_first_value() {
        // Redis 7.0.15, fresh server: EVAL "return math.random(1000000)" 0 -> 396465.
        let state = AtomicU64::new(RAND48_INITIAL);
        let r = (lrand48(&state) % RAND48_MAX) as f64 / RAND48_MAX as f64;
        assert_eq!((r * 1_000_000.0).floor() + 1.0, 396_465.0);
    }

    #[test]
    fn tobit_wraps_and_rounds() {
        assert_eq!(tobit(4_294_967_295.0), -1);
        assert_eq!(tobit(5.0), 5);
        assert_eq!(tobit(-1.0), -1);
        assert_eq!(tobit(2_147_483_648.0), i32::MIN);
    }
}
