//! Connection commands: PING, ECHO, HELLO, AUTH, SELECT, QUIT, RESET and the CLIENT container
//! (ID, SETNAME, GETNAME, LIST, INFO, KILL, NO-EVICT, SETINFO, HELP).
//!
//! These commands change the calling connection's own state (protocol, selected db,
//! authentication, name) rather than the keyspace. Everything another connection may observe
//! (CLIENT LIST of this client, CLIENT KILL filters) lives in the published `ClientHandle`, so the
//! handlers here update it immediately instead of waiting for the end-of-batch publication: a
//! `SELECT 1` followed by `CLIENT INFO` in one pipeline must already show `db=1`.
//!
//! Replies and error texts follow Redis 7.2 (server.c, networking.c, acl.c).

use crate::clients::{describe, ClientHandle};
use crate::ctx::{Action, Ctx, ReplyMode};
use crate::error::{CmdError, CmdResult, DB_OUT_OF_RANGE, NOT_INTEGER, SYNTAX};
use crate::parse::{is, parse_i64};
use crate::table::{flags, CommandSpec};
use ringkv_protocol::{Args, Protocol};
use std::sync::atomic::Ordering;

/// The Redis version HELLO reports. Clients enable features by comparing it against Redis
/// releases, so it names the Redis release whose behaviour ringkv follows; ringkv's own version is
/// in INFO (`ringkv_version`).
pub const REDIS_COMPAT_VERSION: &str = "7.2.0";

/// The only user there is until ACLs exist; `requirepass` is its password.
const DEFAULT_USER: &[u8] = b"default";

const WRONGPASS: CmdError =
    CmdError::Static("WRONGPASS invalid username-password pair or user is disabled.");
const CLIENT_NAME_INVALID: CmdError =
    CmdError::Static("ERR Client names cannot contain spaces, newlines or special characters.");

const CONN: u32 = flags::NOSCRIPT | flags::LOADING | flags::STALE;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("ping", -1, flags::FAST, ping)
        .group("connection")
        .doc("Returns the server's liveliness response.", "1.0.0", "O(1)")
        .syntax("[message]"),
    CommandSpec::new("echo", 2, flags::FAST, echo)
        .group("connection")
        .doc("Returns the given string.", "1.0.0", "O(1)")
        .syntax("message"),
    CommandSpec::new(
        "hello",
        -1,
        CONN | flags::FAST | flags::NO_AUTH | flags::ALLOW_BUSY,
        hello,
    )
    .group("connection")
    .doc("Handshakes with the Redis server.", "6.0.0", "O(1)")
    .syntax("[protover [AUTH username password] [SETNAME clientname]]"),
    CommandSpec::new(
        "auth",
        -2,
        CONN | flags::FAST | flags::NO_AUTH | flags::ALLOW_BUSY,
        auth,
    )
    .group("connection")
    .doc(
        "Authenticates the connection.",
        "1.0.0",
        "O(N) where N is the number of passwords defined for the user",
    )
    .syntax("[username] password"),
    CommandSpec::new(
        "select",
        2,
        flags::LOADING | flags::STALE | flags::FAST,
        select,
    )
    .group("connection")
    .doc("Changes the selected database.", "1.0.0", "O(1)")
    .syntax("index"),
    CommandSpec::new(
        "quit",
        -1,
        CONN | flags::FAST | flags::NO_AUTH | flags::ALLOW_BUSY,
        quit,
    )
    .group("connection")
    .doc("Closes the connection.", "1.0.0", "O(1)"),
    CommandSpec::new(
        "reset",
        1,
        CONN | flags::FAST | flags::NO_AUTH | flags::ALLOW_BUSY,
        reset,
    )
    .group("connection")
    .doc("Resets the connection.", "6.2.0", "O(1)"),
    CommandSpec::new("client", -2, 0, crate::dispatch::container)
        .group("connection")
        .doc(
            "A container for client connection commands.",
            "2.4.0",
            "Depends on subcommand.",
        )
        .subcommands(CLIENT_SUBCOMMANDS),
];

const CLIENT_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("consistency", -3, CONN, crate::cluster::client_consistency)
        .group("connection")
        .doc(
            "Sets this connection's cluster read and write quorums.",
            "0.1.0",
            "O(1)",
        )
        .syntax("<ONE | QUORUM | ALL | DEFAULT | count> | [R level] [W level]"),
    CommandSpec::new("id", 2, CONN, client_id)
        .group("connection")
        .doc(
            "Returns the unique client ID of the connection.",
            "5.0.0",
            "O(1)",
        ),
    CommandSpec::new("setname", 3, CONN, client_setname)
        .group("connection")
        .doc("Sets the connection name.", "2.6.9", "O(1)")
        .syntax("connection-name"),
    CommandSpec::new("getname", 2, CONN, client_getname)
        .group("connection")
        .doc("Returns the name of the connection.", "2.6.9", "O(1)"),
    CommandSpec::new("list", -2, CONN | flags::ADMIN, client_list)
        .group("connection")
        .doc(
            "Lists open connections.",
            "2.4.0",
            "O(N) where N is the number of client connections",
        )
        .syntax("[TYPE <NORMAL | MASTER | REPLICA | PUBSUB>] [ID client-id [client-id ...]]"),
    CommandSpec::new("info", 2, CONN, client_info)
        .group("connection")
        .doc("Returns information about the connection.", "6.2.0", "O(1)"),
    CommandSpec::new("kill", -3, CONN | flags::ADMIN, client_kill)
        .group("connection")
        .doc(
            "Terminates open connections.",
            "2.4.0",
            "O(N) where N is the number of client connections",
        )
        .syntax(
            "<ip:port | <[ID client-id] | [TYPE <NORMAL | MASTER | SLAVE | REPLICA | PUBSUB>] | \
             [USER username] | [ADDR ip:port] | [LADDR ip:port] | [SKIPME <YES | NO>]> \
             [[ID client-id] | ...]>",
        ),
    CommandSpec::new("pause", -3, CONN | flags::ADMIN, crate::pause::client_pause)
        .group("connection")
        .doc("Suspends commands processing.", "3.0.0", "O(1)")
        .syntax("timeout [WRITE | ALL]"),
    CommandSpec::new(
        "unpause",
        2,
        CONN | flags::ADMIN,
        crate::pause::client_unpause,
    )
    .group("connection")
    .doc(
        "Resumes processing commands from paused clients.",
        "6.2.0",
        "O(N) Where N is the number of paused clients",
    ),
    CommandSpec::new("reply", 3, CONN, client_reply)
        .group("connection")
        .doc(
            "Instructs the server whether to reply to commands.",
            "3.2.0",
            "O(1)",
        )
        .syntax("<ON | OFF | SKIP>"),
    CommandSpec::new("unblock", -3, CONN | flags::ADMIN, client_unblock)
        .group("connection")
        .doc(
            "Unblocks a client blocked by a blocking command from a different connection.",
            "5.0.0",
            "O(log N) where N is the number of client connections",
        )
        .syntax("client-id [TIMEOUT | ERROR]"),
    CommandSpec::new("no-touch", 3, CONN, client_no_touch)
        .group("connection")
        .doc(
            "Controls whether commands sent by the client affect the LRU/LFU of accessed keys.",
            "7.2.0",
            "O(1)",
        )
        .syntax("<ON | OFF>"),
    CommandSpec::new("no-evict", 3, CONN | flags::ADMIN, client_no_evict)
        .group("connection")
        .doc(
            "Sets the client eviction mode of the connection.",
            "7.0.0",
            "O(1)",
        )
        .syntax("<ON | OFF>"),
    CommandSpec::new("setinfo", 4, CONN, client_setinfo)
        .group("connection")
        .doc(
            "Sets information specific to the client or connection.",
            "7.2.0",
            "O(1)",
        )
        .syntax("<LIB-NAME libname | LIB-VER libver>"),
    CommandSpec::new("help", 2, flags::LOADING | flags::STALE, client_help)
        .group("connection")
        .doc(
            "Returns helpful text about the different subcommands.",
            "5.0.0",
            "O(1)",
        ),
];

// ---------------------------------------------------------------------------------------------
// PING, ECHO

fn ping(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    // Redis checks this in the handler (arity -1) so the error names the command.
    if args.len() > 2 {
        return Err(CmdError::arity("ping"));
    }
    // A RESP2 client in subscribed mode cannot tell a reply from a message, so it gets a
    // message-shaped ["pong", message-or-""] (Redis does the same).
    if ctx.client.subs.any() && ctx.out.protocol() == Protocol::Resp2 {
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(args.get(1).unwrap_or_default());
        return Ok(());
    }
    match args.get(1) {
        None => ctx.out.simple(b"PONG"),
        Some(msg) => ctx.out.bulk(msg),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    ctx.out.bulk(args.arg(1));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// AUTH, HELLO

/// Compares without an early exit so the reply time does not reveal how much of a guess matched
/// (Redis compares password hashes for the same reason).
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Redis `ACLAuthenticateUser` for the lone default user: without `requirepass` the default user
/// is "nopass" and any password is accepted; a failed attempt leaves the connection's current
/// authentication state untouched.
fn authenticate(ctx: &mut Ctx<'_>, user: &[u8], pass: &[u8]) -> CmdResult {
    if user != DEFAULT_USER {
        return Err(WRONGPASS);
    }
    let ok = {
        let cfg = ctx.shared.config.read();
        cfg.requirepass.is_empty() || same_secret(pass, cfg.requirepass.as_bytes())
    };
    if !ok {
        return Err(WRONGPASS);
    }
    ctx.client.authenticated = true;
    Ok(())
}

fn auth(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 3 {
        return Err(SYNTAX);
    }
    let (user, pass) = if args.len() == 2 {
        // The old one-argument form is an error when there is no password to check, so a
        // misconfigured client notices (Redis keeps this for compatibility).
        if ctx.shared.config.read().requirepass.is_empty() {
            return Err(CmdError::Static(
                "ERR AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?",
            ));
        }
        (DEFAULT_USER, args.arg(1))
    } else {
        (args.arg(1), args.arg(2))
    };
    authenticate(ctx, user, pass)?;
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut proto = None;
    let mut next = 1;
    if args.len() >= 2 {
        let ver = parse_i64(args.arg(1)).ok_or(CmdError::Static(
            "ERR Protocol version is not an integer or out of range",
        ))?;
        proto = match ver {
            2 => Some(Protocol::Resp2),
            3 => Some(Protocol::Resp3),
            _ => return Err(CmdError::Static("NOPROTO unsupported protocol version")),
        };
        next = 2;
    }

    // Parse and validate every option before acting on any, as Redis does.
    let mut credentials = None;
    let mut name = None;
    let mut j = next;
    while j < args.len() {
        let more = args.len() - 1 - j;
        let opt = args.arg(j);
        if is(opt, "AUTH") && more >= 2 {
            credentials = Some((args.arg(j + 1), args.arg(j + 2)));
            j += 3;
        } else if is(opt, "SETNAME") && more >= 1 {
            let n = args.arg(j + 1);
            validate_client_name(n)?;
            name = Some(n);
            j += 2;
        } else {
            return Err(CmdError::msg(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&opt[..opt.len().min(128)])
            )));
        }
    }

    if let Some((user, pass)) = credentials {
        authenticate(ctx, user, pass)?;
    }
    if !ctx.client.authenticated {
        return Err(CmdError::Static(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the \
             HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
             select the RESP protocol version at the same time",
        ));
    }
    if let Some(n) = name {
        set_name(&ctx.client.handle, n);
    }
    if let Some(p) = proto {
        set_protocol(ctx, p);
    }

    let resp: i64 = match ctx.out.protocol() {
        Protocol::Resp2 => 2,
        Protocol::Resp3 => 3,
    };
    let out = &mut *ctx.out;
    out.map(7);
    out.bulk(b"server");
    out.bulk(b"redis");
    out.bulk(b"version");
    out.bulk(REDIS_COMPAT_VERSION.as_bytes());
    out.bulk(b"proto");
    out.integer(resp);
    out.bulk(b"id");
    out.integer(ctx.client.handle.id as i64);
    out.bulk(b"mode");
    out.bulk(b"standalone");
    out.bulk(b"role");
    out.bulk(b"master");
    out.bulk(b"modules");
    out.array(0);
    Ok(())
}

fn set_protocol(ctx: &mut Ctx<'_>, p: Protocol) {
    ctx.out.set_protocol(p);
    let v = if p == Protocol::Resp3 { 3 } else { 2 };
    ctx.client.handle.resp.store(v, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------------
// SELECT, QUIT, RESET

fn select(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let id = parse_i64(args.arg(1)).ok_or(NOT_INTEGER)?;
    // getIntFromObjectOrReply: the index must fit a C int before it is checked against databases.
    if id < i32::MIN as i64 || id > i32::MAX as i64 {
        return Err(CmdError::Static(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    if id < 0 || id as usize >= ctx.store.db_count() {
        return Err(DB_OUT_OF_RANGE);
    }
    select_db(ctx, id as usize);
    ctx.out.ok();
    Ok(())
}

fn select_db(ctx: &mut Ctx<'_>, db: usize) {
    ctx.client.db = db;
    ctx.client.handle.db.store(db, Ordering::Relaxed);
}

fn quit(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.out.ok();
    ctx.client.action = Some(Action::Close);
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    clear_connection_state(ctx);
    ctx.out.simple(b"RESET");
    Ok(())
}

/// Returns the connection to the state of a fresh one (Redis `clearClientConnectionState`): db 0,
/// RESP2, the default user's authentication, no name, no no-evict flag. The library name and
/// version stay: they still describe the client library behind the connection.
///
/// Every per-connection feature must undo its state here: MULTI/WATCH do below; features added
/// later belong here too: pub/sub (unsubscribe from every channel, pattern and shard channel),
/// client tracking (disable), CLIENT REPLY (back to ON), CLIENT NO-TOUCH (off).
pub fn clear_connection_state(ctx: &mut Ctx<'_>) {
    // Discard a pending MULTI, drop all WATCHes and every subscription.
    crate::transactions::forget(ctx.store, ctx.client);
    crate::pubsub::forget(ctx.shared, ctx.client);
    if std::mem::take(&mut ctx.client.monitoring) {
        ctx.shared.monitors.remove(ctx.client.handle.id);
    }
    select_db(ctx, 0);
    set_protocol(ctx, Protocol::Resp2);
    ctx.client.authenticated = ctx.shared.config.read().requirepass.is_empty();
    let handle = &ctx.client.handle;
    handle.meta.lock().name = None;
    handle.no_evict.store(false, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------------
// CLIENT

/// Redis `validateClientAttr`: printable ASCII without spaces, so CLIENT LIST stays splittable.
fn valid_client_attr(v: &[u8]) -> bool {
    v.iter().all(|&b| (b'!'..=b'~').contains(&b))
}

/// An empty name is allowed (it clears the name).
fn validate_client_name(name: &[u8]) -> CmdResult {
    if valid_client_attr(name) {
        Ok(())
    } else {
        Err(CLIENT_NAME_INVALID)
    }
}

fn set_name(handle: &ClientHandle, name: &[u8]) {
    handle.meta.lock().name = if name.is_empty() {
        None
    } else {
        Some(name.to_vec())
    };
}

fn client_id(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.out.integer(ctx.client.handle.id as i64);
    Ok(())
}

fn client_setname(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let name = args.arg(2);
    validate_client_name(name)?;
    set_name(&ctx.client.handle, name);
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    let name = ctx.client.handle.meta.lock().name.clone();
    match name {
        Some(n) => ctx.out.bulk(&n),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Client types of CLIENT LIST TYPE / CLIENT KILL TYPE (Redis `getClientTypeByName`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum ClientType {
    Normal,
    Replica,
    PubSub,
    Master,
}

fn client_type_arg(name: &[u8]) -> Result<ClientType, CmdError> {
    if is(name, "normal") {
        Ok(ClientType::Normal)
    } else if is(name, "slave") || is(name, "replica") {
        Ok(ClientType::Replica)
    } else if is(name, "pubsub") {
        Ok(ClientType::PubSub)
    } else if is(name, "master") {
        Ok(ClientType::Master)
    } else {
        Err(CmdError::msg(format!(
            "ERR Unknown client type '{}'",
            String::from_utf8_lossy(name)
        )))
    }
}

/// Every connection is a normal or a pub/sub client until replication exists.
fn client_type(c: &ClientHandle) -> ClientType {
    let meta = c.meta.lock();
    if meta.subscriptions + meta.pattern_subscriptions + meta.shard_subscriptions > 0 {
        ClientType::PubSub
    } else {
        ClientType::Normal
    }
}

/// Brings the caller's own published fields up to date before it describes itself: the batch's
/// end-of-batch publication has not happened yet, and Redis shows the caller as just active.
fn touch_self(ctx: &mut Ctx<'_>) {
    let now = ctx.now_ms();
    let h = &ctx.client.handle;
    h.last_interaction_ms.store(now, Ordering::Relaxed);
    h.db.store(ctx.client.db, Ordering::Relaxed);
}

/// Live clients in connection order; clients already killed are on their way out (Redis frees
/// them synchronously) and are not shown or counted.
fn live_clients(ctx: &Ctx<'_>) -> Vec<std::sync::Arc<ClientHandle>> {
    let mut all = ctx.shared.clients.all();
    all.retain(|c| !c.is_killed());
    all
}

fn client_list(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    touch_self(ctx);
    let now = ctx.now_ms();
    let mut text = String::new();
    let mut line = |c: &ClientHandle| {
        text.push_str(&describe(c, now, ""));
        text.push('\n');
    };
    if args.len() == 4 && is(args.arg(2), "TYPE") {
        let wanted = client_type_arg(args.arg(3))?;
        for c in live_clients(ctx) {
            if client_type(&c) == wanted {
                line(&c);
            }
        }
    } else if args.len() > 3 && is(args.arg(2), "ID") {
        let mut ids = Vec::with_capacity(args.len() - 3);
        for a in args.iter().skip(3) {
            ids.push(parse_i64(a).ok_or(CmdError::Static("ERR Invalid client ID"))?);
        }
        for id in ids {
            if let Some(c) = u64::try_from(id)
                .ok()
                .and_then(|id| ctx.shared.clients.get(id))
                .filter(|c| !c.is_killed())
            {
                line(&c);
            }
        }
    } else if args.len() != 2 {
        return Err(SYNTAX);
    } else {
        for c in live_clients(ctx) {
            line(&c);
        }
    }
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    touch_self(ctx);
    let mut text = describe(&ctx.client.handle, ctx.now_ms(), "");
    text.push('\n');
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn client_kill(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut addr: Option<&[u8]> = None;
    let mut laddr: Option<&[u8]> = None;
    let mut ctype = None;
    let mut id = None;
    let old_form = args.len() == 3;
    // The old form `CLIENT KILL ip:port` may kill the caller; the filter form skips it by default.
    let mut skipme = !old_form;
    if old_form {
        addr = Some(args.arg(2));
    } else {
        let mut i = 2;
        while i < args.len() {
            let opt = args.arg(i);
            let Some(val) = args.get(i + 1) else {
                return Err(SYNTAX);
            };
            if is(opt, "ID") {
                let v = parse_i64(val)
                    .filter(|v| *v >= 1)
                    .ok_or(CmdError::Static("ERR client-id should be greater than 0"))?;
                id = Some(v as u64);
            } else if is(opt, "TYPE") {
                ctype = Some(client_type_arg(val)?);
            } else if is(opt, "ADDR") {
                addr = Some(val);
            } else if is(opt, "LADDR") {
                laddr = Some(val);
            } else if is(opt, "USER") {
                // Every connection is the default user's; no other user exists yet.
                if val != DEFAULT_USER {
                    return Err(CmdError::msg(format!(
                        "ERR No such user '{}'",
                        String::from_utf8_lossy(val)
                    )));
                }
            } else if is(opt, "SKIPME") {
                if is(val, "yes") {
                    skipme = true;
                } else if is(val, "no") {
                    skipme = false;
                } else {
                    return Err(SYNTAX);
                }
            } else {
                return Err(SYNTAX);
            }
            i += 2;
        }
    }

    let me = ctx.client.handle.id;
    let mut killed = 0i64;
    let mut close_self = false;
    for c in live_clients(ctx) {
        if addr.is_some_and(|a| a != c.addr.as_bytes())
            || laddr.is_some_and(|a| a != c.laddr.as_bytes())
            || ctype.is_some_and(|t| client_type(&c) != t)
            || id.is_some_and(|i| c.id != i)
            || (c.id == me && skipme)
        {
            continue;
        }
        if c.id == me {
            // Closing now would lose the reply: close after it is written.
            close_self = true;
        } else {
            c.kill();
        }
        killed += 1;
    }

    if old_form {
        if killed == 0 {
            return Err(CmdError::Static("ERR No such client"));
        }
        ctx.out.ok();
    } else {
        ctx.out.integer(killed);
    }
    if close_self {
        ctx.client.action = Some(Action::Close);
    }
    Ok(())
}

/// The ON | OFF argument of CLIENT NO-EVICT / NO-TOUCH.
fn on_off(v: &[u8]) -> Result<bool, CmdError> {
    if is(v, "on") {
        Ok(true)
    } else if is(v, "off") {
        Ok(false)
    } else {
        Err(SYNTAX)
    }
}

fn client_no_evict(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let on = on_off(args.arg(2))?;
    ctx.client.handle.no_evict.store(on, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

/// CLIENT NO-TOUCH ON|OFF (Redis 7.2).
fn client_no_touch(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let on = on_off(args.arg(2))?;
    ctx.client.handle.no_touch.store(on, Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn client_setinfo(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let attr = args.arg(2);
    let val = args.arg(3);
    let lib_name = if is(attr, "lib-name") {
        true
    } else if is(attr, "lib-ver") {
        false
    } else {
        return Err(CmdError::msg(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(&attr[..attr.len().min(128)])
        )));
    };
    if !valid_client_attr(val) {
        return Err(CmdError::msg(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(attr)
        )));
    }
    let val = (!val.is_empty()).then(|| val.to_vec());
    let mut meta = ctx.client.handle.meta.lock();
    if lib_name {
        meta.lib_name = val;
    } else {
        meta.lib_ver = val;
    }
    drop(meta);
    ctx.out.ok();
    Ok(())
}

/// Redis's CLIENT HELP text, limited to the subcommands ringkv implements.
const CLIENT_HELP: &[&str] = &[
    "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GETNAME",
    "    Return the name of the current connection.",
    "ID",
    "    Return the ID of the current connection.",
    "INFO",
    "    Return information about the current client connection.",
    "KILL <ip:port>",
    "    Kill connection made from <ip:port>.",
    "KILL <option> <value> [<option> <value> [...]]",
    "    Kill connections. Options are:",
    "    * ADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made from the specified address",
    "    * LADDR (<ip:port>|<unixsocket>:0)",
    "      Kill connections made to specified local address",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Kill connections by type.",
    "    * USER <username>",
    "      Kill connections authenticated by <username>.",
    "    * SKIPME (YES|NO)",
    "      Skip killing current connection (default: yes).",
    "    * ID <client-id>",
    "      Kill connections by client id.",
    "LIST [options ...]",
    "    Return information about client connections. Options:",
    "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
    "      Return clients of specified type.",
    "    * ID <client-id> [<client-id> ...]",
    "      Return clients of specified IDs only.",
    "UNPAUSE",
    "    Stop the current client pause, resuming traffic.",
    "PAUSE <timeout> [WRITE|ALL]",
    "    Suspend all, or just write, clients for <timeout> milliseconds.",
    "REPLY (ON|OFF|SKIP)",
    "    Control the replies sent to the current connection.",
    "UNBLOCK <clientid> [TIMEOUT|ERROR]",
    "    Unblock the specified blocked client.",
    "SETNAME <name>",
    "    Assign the name <name> to the current connection.",
    "SETINFO <option> <value>",
    "    Set client meta attr. Options are:",
    "    * LIB-NAME: the client lib name.",
    "    * LIB-VER: the client lib version.",
    "NO-EVICT (ON|OFF)",
    "    Protect current client connection from eviction.",
    "NO-TOUCH (ON|OFF)",
    "    Will not touch LRU/LFU stats when this mode is on.",
    "HELP",
    "    Print this help.",
];

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: ends another connection's blocking command (BLPOP,
/// BZPOPMIN ...) as if it had timed out, or with an `-UNBLOCKED` error. 1 if that client was
/// blocked, else 0.
fn client_unblock(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::subcommand_syntax("client", args.arg(1)));
    }
    // The reason is checked before the id, as in Redis.
    let error = match args.len() {
        4 if is(args.arg(3), "error") => true,
        4 if is(args.arg(3), "timeout") => false,
        4 => {
            return Err(CmdError::Static(
                "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR",
            ))
        }
        _ => false,
    };
    let id = parse_i64(args.arg(2)).ok_or(NOT_INTEGER)?;
    let unblocked = u64::try_from(id)
        .is_ok_and(|id| crate::blocking::unblock_now(ctx.store, ctx.shared, id, error));
    ctx.out.integer(i64::from(unblocked));
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP. OFF and SKIP answer nothing: the connection loop drops their reply
/// along with the ones they silence.
fn client_reply(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mode = match args.arg(2) {
        a if is(a, "on") => ReplyMode::On,
        a if is(a, "off") => ReplyMode::Off,
        a if is(a, "skip") => ReplyMode::SkipNext,
        _ => return Err(CmdError::Static("ERR syntax error")),
    };
    ctx.client.reply = mode;
    ctx.out.ok();
    Ok(())
}

fn client_help(ctx: &mut Ctx<'_>, _args: Args<'_>) -> CmdResult {
    ctx.out.array(CLIENT_HELP.len());
    for line in CLIENT_HELP {
        ctx.out.simple(line.as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_attrs_are_printable_ascii_without_spaces() {
        assert!(valid_client_attr(b"my-conn_1"));
        assert!(valid_client_attr(b""));
        for bad in [
            &b"a b"[..],
            b"a\nb",
            b"a\rb",
            b"\x7f",
            b"caf\xc3\xa9",
            b"a\0b",
        ] {
            assert!(!valid_client_attr(bad), "{:?}", bad);
        }
    }

    #[test]
    fn secrets_compare_exactly() {
        assert!(same_secret(b"secret", b"secret"));
        assert!(!same_secret(b"secret", b"secreT"));
        assert!(!same_secret(b"secret", b"secret2"));
        assert!(same_secret(b"", b""));
    }
}
