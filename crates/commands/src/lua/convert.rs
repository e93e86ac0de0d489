//! Conversions between Redis replies and Lua values, as Redis 7 documents them
//! (script_lua.c `redisProtocolToLuaType` and `luaReplyToRedisReply`), and `redis.call`'s
//! argument and error handling.
//!
//! Redis → Lua: integer → number, bulk → string, null bulk/array → false, array → table,
//! status → {ok=...}, error → {err=...}; with `redis.setresp(3)` also map → {map={...}},
//! set → {set={k=true}}, null → nil, boolean, double → {double=n}, big number → {big_number=s},
//! verbatim → {verbatim_string={format=..., string=...}}.
//! Lua → Redis: string → bulk, number → integer (truncated), true → 1 / false → null (RESP2
//! scripts) or booleans (RESP3), table → array up to the first nil, or the special tables above.

use super::ScriptHost;
use mlua::{Lua, MultiValue, Table, Value};
use ringkv_protocol::{parse_reply, Reply, ReplyWriter};

/// Nesting beyond this in a returned table is answered with Redis's stack-limit error instead
/// of recursing further (a table may even contain itself).
const MAX_REPLY_DEPTH: usize = 1000;

/// `redis.call`/`redis.pcall`: (true, value) on success, (false, error table) on an error.
pub(super) fn script_call(
    lua: &Lua,
    args: MultiValue,
    resp3: bool,
    host: &mut dyn ScriptHost,
) -> mlua::Result<(bool, Value)> {
    if args.is_empty() {
        let t = error_table(
            lua,
            "ERR Please specify at least one argument for this redis lib call",
        )?;
        return Ok((false, t));
    }
    let mut argv = Vec::with_capacity(args.len());
    for a in &args {
        match a {
            Value::String(s) => argv.push(s.as_bytes().to_vec()),
            v => match number_of(v) {
                Some(n) => argv.push(number_argument(n).into_bytes()),
                None => {
                    let t = error_table(
                        lua,
                        "ERR Lua redis lib command arguments must be strings or integers",
                    )?;
                    return Ok((false, t));
                }
            },
        }
    }
    match host.call(&argv, resp3) {
        Ok(bytes) => match parse_reply(&bytes) {
            Some((reply, _)) => {
                let is_error = matches!(reply, Reply::Error(_));
                Ok((!is_error, reply_to_lua(lua, &reply)?))
            }
            None => Ok((false, error_table(lua, "ERR unreadable reply")?)),
        },
        Err(text) => {
            let t = lua.create_table()?;
            t.raw_set("err", lua.create_string(&text)?)?;
            t.raw_set("ignore_error_stats_update", true)?;
            Ok((false, Value::Table(t)))
        }
    }
}

fn error_table(lua: &Lua, text: &str) -> mlua::Result<Value> {
    single(lua, "err", lua.create_string(text)?)
}

/// Redis's `luaPushErrorBuff` for an error reply: "CODE message", trailing CR/LF removed, and
/// "ERR " added when the text has no code.
fn error_text(text: &[u8]) -> Vec<u8> {
    let mut text = text;
    while let [rest @ .., b'\r' | b'\n'] = text {
        text = rest;
    }
    match text.iter().position(|&c| c == b' ') {
        Some(_) => text.to_vec(),
        None => [&b"ERR "[..], text].concat(),
    }
}

fn single(lua: &Lua, key: &str, value: impl mlua::IntoLua) -> mlua::Result<Value> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(key, value)?;
    Ok(Value::Table(t))
}

/// One command reply as a Lua value.
fn reply_to_lua(lua: &Lua, reply: &Reply<'_>) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Integer(n) => Value::Number(*n as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(b)?),
        Reply::NullBulk | Reply::NullArray => Value::Boolean(false),
        Reply::Null => Value::Nil,
        Reply::Boolean(b) => Value::Boolean(*b),
        Reply::Status(s) => single(lua, "ok", lua.create_string(s)?)?,
        Reply::Error(e) => {
            let t = lua.create_table_with_capacity(0, 2)?;
            t.raw_set("err", lua.create_string(error_text(e))?)?;
            t.raw_set("ignore_error_stats_update", true)?;
            Value::Table(t)
        }
        Reply::Double(d) => single(lua, "double", *d)?,
        Reply::BigNumber(s) => single(lua, "big_number", lua.create_string(s)?)?,
        Reply::Verbatim(format, text) => {
            let inner = lua.create_table_with_capacity(0, 2)?;
            inner.raw_set("string", lua.create_string(text)?)?;
            inner.raw_set("format", lua.create_string(format)?)?;
            single(lua, "verbatim_string", inner)?
        }
        Reply::Array(items) => {
            let t = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                t.raw_set(i + 1, reply_to_lua(lua, item)?)?;
            }
            Value::Table(t)
        }
        Reply::Map(pairs) => {
            let t = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, v) in pairs {
                t.raw_set(reply_to_lua(lua, k)?, reply_to_lua(lua, v)?)?;
            }
            single(lua, "map", t)?
        }
        Reply::Set(items) => {
            let t = lua.create_table_with_capacity(0, items.len())?;
            for item in items {
                t.raw_set(reply_to_lua(lua, item)?, true)?;
            }
            single(lua, "set", t)?
        }
    })
}

/// A Lua number, if `v` is one (Lua 5.1 numbers are doubles; mlua shows integral ones as
/// integers).
pub(super) fn number_of(v: &Value) -> Option<f64> {
    match v {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// A number passed to `redis.call`, as Redis 7.0 prints it (`%.17g`).
pub(super) fn number_argument(n: f64) -> String {
    format_g(n, 17)
}

/// A number as Lua 5.1's `tostring` prints it (`%.14g`).
pub(super) fn lua_number_text(n: f64) -> String {
    format_g(n, 14)
}

/// C's `%.<precision>g`.
pub(super) fn format_g(v: f64, precision: usize) -> String {
    if v.is_nan() {
        return if v.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if v.is_infinite() {
        return if v < 0.0 { "-inf" } else { "inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    let sci = format!("{:.*e}", precision - 1, v);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let strip = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if exp < -4 || exp >= precision as i32 {
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{}e{sign}{:02}", strip(mantissa), exp.abs())
    } else {
        let decimals = (precision as i32 - 1 - exp).max(0) as usize;
        strip(&format!("{v:.decimals$}"))
    }
}

/// Writes a script's result as the reply (Redis `luaReplyToRedisReply`); `resp3` is the
/// protocol the script selected with `redis.setresp` (it decides what booleans become).
pub fn lua_to_reply(out: &mut ReplyWriter, value: &Value, resp3: bool) {
    write_value(out, value, resp3, 0);
}

fn write_value(out: &mut ReplyWriter, value: &Value, resp3: bool, depth: usize) {
    if depth > MAX_REPLY_DEPTH {
        out.error(b"ERR reached lua stack limit");
        return;
    }
    match value {
        Value::String(s) => out.bulk(&s.as_bytes()),
        Value::Boolean(b) => match (resp3, b) {
            (false, true) => out.integer(1),
            (false, false) => out.null(),
            (true, b) => out.boolean(*b),
        },
        Value::Integer(n) => out.integer(*n),
        Value::Number(n) => out.integer(*n as i64),
        Value::Table(t) => write_table(out, t, resp3, depth),
        _ => out.null(),
    }
}

fn field(t: &Table, key: &str) -> Value {
    t.raw_get(key).unwrap_or(Value::Nil)
}

/// Replaces CR and LF by spaces (Redis `sdsmapchars` on status and error lines).
fn one_line(s: &[u8]) -> Vec<u8> {
    s.iter()
        .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
        .collect()
}

fn write_table(out: &mut ReplyWriter, t: &Table, resp3: bool, depth: usize) {
    if let Value::String(e) = field(t, "err") {
        out.error(&one_line(&e.as_bytes()));
        return;
    }
    if let Value::String(s) = field(t, "ok") {
        out.simple(&one_line(&s.as_bytes()));
        return;
    }
    if let Some(d) = number_of(&field(t, "double")) {
        out.double(d);
        return;
    }
    if let Value::String(s) = field(t, "big_number") {
        out.big_number(&one_line(&s.as_bytes()));
        return;
    }
    if let Value::Table(v) = field(t, "verbatim_string") {
        if let (Value::String(format), Value::String(text)) =
            (field(&v, "format"), field(&v, "string"))
        {
            if let Ok(format) = <[u8; 3]>::try_from(&format.as_bytes()[..]) {
                out.verbatim(&format, &text.as_bytes());
                return;
            }
        }
    }
    if let Value::Table(m) = field(t, "map") {
        let d = out.begin_deferred();
        let mut n = 0;
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            write_value(out, &k, resp3, depth + 1);
            write_value(out, &v, resp3, depth + 1);
            n += 1;
        }
        out.finish_deferred_map(d, n);
        return;
    }
    if let Value::Table(s) = field(t, "set") {
        let d = out.begin_deferred();
        let mut n = 0;
        for (k, _) in s.pairs::<Value, Value>().flatten() {
            write_value(out, &k, resp3, depth + 1);
            n += 1;
        }
        out.finish_deferred_set(d, n);
        return;
    }
    let d = out.begin_deferred();
    let mut n = 0;
    loop {
        let item: Value = t.raw_get(n + 1).unwrap_or(Value::Nil);
        if item.is_nil() {
            break;
        }
        write_value(out, &item, resp3, depth + 1);
        n += 1;
    }
    out.finish_deferred_array(d, n);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_print_as_c_does() {
        assert_eq!(number_argument(3.0), "3");
        assert_eq!(number_argument(0.1), "0.10000000000000001");
        assert_eq!(number_argument(1e20), "1e+20");
        assert_eq!(number_argument(-2.5), "-2.5");
        assert_eq!(lua_number_text(1e100), "1e+100");
        assert_eq!(lua_number_text(12345678901234567.0), "1.2345678901235e+16");
        assert_eq!(lua_number_text(0.0001), "0.0001");
        assert_eq!(lua_number_text(0.00001), "1e-05");
    }

    #[test]
    fn error_replies_get_a_code() {
        assert_eq!(error_text(b"ERR bad thing\r\n"), b"ERR bad thing");
        assert_eq!(error_text(b"NOCODE"), b"ERR NOCODE");
    }
}
