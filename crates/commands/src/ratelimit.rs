//! Built-in rate limiting: `CL.THROTTLE` (the redis-cell module's command and reply, bit for bit),
//! `RL.LIMIT` (six algorithms with the parameters given on every call), `RL.CHECK` (named
//! policies from the `ratelimit-policy` parameter) and `RL.RESET`.
//!
//! The arithmetic lives in the pure `ringkv-ratelimit` crate; this module owns where the state
//! lives and when time is read. Each limited key holds its state in the keyspace as an ordinary
//! string value: [`STATE_MAGIC`] followed by the crate's versioned encoding, with the key's TTL set
//! to the moment the state becomes equivalent to a fresh one. So idle limiters disappear by
//! themselves, and persistence and replication carry limiter state like any other value. A key
//! whose value is not limiter state (a user's string, a hash, ...) is never overwritten: the
//! commands answer WRONGTYPE. Everything runs under the keyspace lock the caller holds, which is
//! what makes a check-and-consume atomic across any number of connections; the HTTP endpoint goes
//! through [`http_limit`], which takes the same lock and calls the same [`limit_key`].
//!
//! Time comes from the server's clock (`Shared::clock`), never from the client: microseconds for
//! `CL.THROTTLE` (whose arithmetic is in nanoseconds, as redis-cell's), milliseconds otherwise.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, OOM, SYNTAX, WRONG_TYPE};
use crate::parse::{int_arg, is};
use crate::shared::Shared;
use crate::table::{flags, CommandSpec};
use parking_lot::Mutex;
use ringkv_engine::{DbRef, Ttl, ValueRef};
use ringkv_protocol::{Args, Protocol, ReplyWriter};
use ringkv_ratelimit::{
    Algorithm, CellState, ClThrottleError, Decision, Policy, State, RETRY_NEVER_MS,
};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

/// Prefix of every stored limiter state. The leading NUL makes a collision with text a user
/// stored on purpose unlikely; the version lets a later format live next to this one.
pub const STATE_MAGIC: &[u8] = b"\x00RLv1";

const RW: u32 = flags::WRITE | flags::DENYOOM;

/// Evictions the HTTP path may trigger per request (the RESP gate's bound).
const HTTP_MAX_EVICTIONS: usize = 256;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("cl.throttle", -5, RW | flags::FAST, cl_throttle)
        .keys(1, 1, 1)
        .group("ratelimit")
        .doc(
            "Rate limits an action with GCRA, redis-cell compatible: replies [limited, limit, \
             remaining, retry_after_s, reset_after_s].",
            "0.1.0",
            "O(1)",
        )
        .syntax("key max_burst count period [quantity]"),
    CommandSpec::new("rl.limit", -7, RW, rl_limit)
        .keys(1, 1, 1)
        .group("ratelimit")
        .doc(
            "Checks (and unless PEEK, consumes) COST units against a limiter of the given \
             algorithm (token-bucket, leaky-bucket, fixed-window, sliding-log, sliding-window, \
             gcra); replies allowed, limit, remaining, reset_after_ms, retry_after_ms.",
            "0.1.0",
            "O(1), O(LIMIT) for sliding-log",
        )
        .syntax("key algorithm LIMIT limit WINDOW milliseconds [BURST burst] [COST cost] [PEEK]"),
    CommandSpec::new("rl.check", -3, RW, rl_check)
        .keys(2, 2, 1)
        .group("ratelimit")
        .doc(
            "Like RL.LIMIT with the parameters of a named policy from the ratelimit-policy \
             configuration.",
            "0.1.0",
            "O(1), O(LIMIT) for sliding-log",
        )
        .syntax("policy key [COST cost] [PEEK]"),
    CommandSpec::new("rl.reset", 2, flags::WRITE | flags::FAST, rl_reset)
        .keys(1, 1, 1)
        .group("ratelimit")
        .doc(
            "Deletes a rate limiter's state; replies 1 if there was one, else 0.",
            "0.1.0",
            "O(1)",
        )
        .syntax("key"),
];

// ---------------------------------------------------------------------------------------------
// Metrics

/// Allowed / limited counts of one kind of check.
#[derive(Default)]
pub struct Counter {
    pub allowed: AtomicU64,
    pub limited: AtomicU64,
}

impl Counter {
    fn record(&self, allowed: bool) {
        let c = if allowed {
            &self.allowed
        } else {
            &self.limited
        };
        c.fetch_add(1, Ordering::Relaxed);
    }

    fn get(&self) -> (u64, u64) {
        (
            self.allowed.load(Ordering::Relaxed),
            self.limited.load(Ordering::Relaxed),
        )
    }

    fn reset(&self) {
        self.allowed.store(0, Ordering::Relaxed);
        self.limited.store(0, Ordering::Relaxed);
    }
}

/// Decision counters for INFO ratelimit. Peeks are not counted: they decide nothing.
#[derive(Default)]
pub struct RateLimitStats {
    pub cl_throttle: Counter,
    pub rl_limit: Counter,
    /// All `RL.CHECK`s (and HTTP checks) together.
    pub rl_check: Counter,
    /// Per policy name: (allowed, limited). Names stay when a policy is removed, so a policy that
    /// comes back keeps its history; INFO lists only the configured ones.
    per_policy: Mutex<HashMap<String, (u64, u64)>>,
}

impl RateLimitStats {
    fn record_policy(&self, name: &str, allowed: bool) {
        self.rl_check.record(allowed);
        let mut map = self.per_policy.lock();
        let slot = match map.get_mut(name) {
            Some(slot) => slot,
            None => map.entry(name.to_string()).or_default(),
        };
        if allowed {
            slot.0 += 1;
        } else {
            slot.1 += 1;
        }
    }

    /// (allowed, limited) of one policy.
    pub fn policy(&self, name: &str) -> (u64, u64) {
        self.per_policy
            .lock()
            .get(name)
            .copied()
            .unwrap_or_default()
    }

    /// Zeroes every counter (CONFIG RESETSTAT).
    pub fn reset(&self) {
        self.cl_throttle.reset();
        self.rl_limit.reset();
        self.rl_check.reset();
        self.per_policy.lock().clear();
    }
}

/// The `# Ratelimit` INFO section: totals per command, then one line per configured policy
/// (`policy_<name>:allowed=..,limited=..,algorithm=..,limit=..,window_ms=..[,burst=..]`, the
/// shape of Redis's `db0:keys=..` lines).
pub fn info_section(shared: &Shared) -> String {
    let mut out = String::with_capacity(256);
    out.push_str("# Ratelimit\r\n");
    let stats = &shared.ratelimit;
    for (name, counter) in [
        ("cl_throttle", &stats.cl_throttle),
        ("rl_limit", &stats.rl_limit),
        ("rl_check", &stats.rl_check),
    ] {
        let (allowed, limited) = counter.get();
        let _ = write!(
            out,
            "{name}_allowed:{allowed}\r\n{name}_limited:{limited}\r\n"
        );
    }
    let policies = shared.config.read().ratelimit_policy.clone();
    let _ = write!(out, "ratelimit_policies:{}\r\n", policies.len());
    for (name, p) in &policies {
        let (allowed, limited) = stats.policy(name);
        let _ = write!(
            out,
            "policy_{name}:allowed={allowed},limited={limited},algorithm={},limit={},window_ms={}",
            p.algorithm.name(),
            p.limit,
            p.window_ms
        );
        if let Some(burst) = p.burst {
            let _ = write!(out, ",burst={burst}");
        }
        out.push_str("\r\n");
    }
    out
}

// ---------------------------------------------------------------------------------------------
// State in the keyspace

/// What a key holds, from a rate limiter's point of view.
enum Stored {
    Absent,
    Limiter(State),
    Cell(CellState),
}

/// Reads the limiter state at `key`. Anything that is not limiter state written by this module
/// is WRONGTYPE, so user data is never taken for (and overwritten as) limiter state.
fn load(db: &mut DbRef<'_>, key: &[u8]) -> Result<Stored, CmdError> {
    let Some(entry) = db.peek(key) else {
        return Ok(Stored::Absent);
    };
    let ValueRef::Str(bytes) = entry.value() else {
        return Err(WRONG_TYPE);
    };
    let body = bytes.strip_prefix(STATE_MAGIC).ok_or(WRONG_TYPE)?;
    if let Ok(state) = State::decode(body) {
        return Ok(Stored::Limiter(state));
    }
    CellState::decode(body)
        .map(Stored::Cell)
        .map_err(|_| WRONG_TYPE)
}

/// Stores encoded state (without the magic) with an absolute expiry in Unix milliseconds.
fn store(db: &mut DbRef<'_>, key: &[u8], encode: impl FnOnce(&mut Vec<u8>), expire_at_ms: u64) {
    let mut value = Vec::with_capacity(32);
    value.extend_from_slice(STATE_MAGIC);
    encode(&mut value);
    let at = i64::try_from(expire_at_ms).unwrap_or(i64::MAX);
    db.set_str(key, &value, Ttl::At(at));
    // The decision depended on the server clock: log the state it produced, not the check.
    if db.logging() {
        let mut buf = [0u8; ringkv_protocol::num::MAX_I64_LEN];
        let pxat = ringkv_protocol::num::i64_digits(&mut buf, at);
        db.log_effect([&b"SET"[..], key, &value, b"PXAT", pxat]);
    }
}

/// The server clock in milliseconds (never negative).
fn now_ms(shared: &Shared) -> u64 {
    u64::try_from(shared.clock.now_us() / 1000).unwrap_or(0)
}

/// Runs one `RL.LIMIT`-style decision against `key` and writes the new state back. State of
/// another algorithm (or of `CL.THROTTLE`) counts as fresh, as the crate specifies.
pub fn limit_key(
    db: &mut DbRef<'_>,
    key: &[u8],
    policy: &Policy,
    now_ms: u64,
    cost: i64,
    peek: bool,
) -> Result<Decision, CmdError> {
    let stored = load(db, key)?;
    let state = match &stored {
        Stored::Limiter(state) => Some(state),
        Stored::Absent | Stored::Cell(_) => None,
    };
    let (next, decision) = ringkv_ratelimit::check(policy, state, now_ms, cost, peek);
    if let Some(next) = next {
        let idle_ms = ringkv_ratelimit::idle_expiry_ms(policy, &next, now_ms);
        if idle_ms == 0 {
            db.remove(key);
        } else {
            store(
                db,
                key,
                |out| next.encode(out),
                now_ms.saturating_add(idle_ms),
            );
        }
    }
    Ok(decision)
}

/// Writes a decision: RESP3 map {allowed, limit, remaining, reset_after_ms, retry_after_ms},
/// RESP2 the five values as a flat array [allowed 0/1, limit, remaining, reset_after_ms,
/// retry_after_ms]. `retry_after_ms` is -1 when waiting can never help (cost above capacity).
fn reply_decision(out: &mut ReplyWriter, d: &Decision) {
    let values = [
        saturate(d.limit),
        saturate(d.remaining),
        saturate(d.reset_after_ms),
        retry_after_ms(d),
    ];
    const NAMES: [&[u8]; 4] = [b"limit", b"remaining", b"reset_after_ms", b"retry_after_ms"];
    if out.protocol() == Protocol::Resp3 {
        out.map(5);
        out.bulk(b"allowed");
        out.boolean(d.allowed);
        for (name, value) in NAMES.iter().zip(values) {
            out.bulk(name);
            out.integer(value);
        }
    } else {
        out.array(5);
        out.integer(i64::from(d.allowed));
        for value in values {
            out.integer(value);
        }
    }
}

fn saturate(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// `retry_after_ms` as replied: -1 for "never".
pub fn retry_after_ms(d: &Decision) -> i64 {
    if d.retry_after_ms == RETRY_NEVER_MS {
        -1
    } else {
        saturate(d.retry_after_ms)
    }
}

// ---------------------------------------------------------------------------------------------
// CL.THROTTLE

fn cell_error(e: ClThrottleError) -> CmdError {
    match e {
        // redis-cell's own reply text (its module replies "Cell error: ..." without a code).
        ClThrottleError::ZeroRate => CmdError::Static("Cell error: Zero rates are not supported"),
        other => CmdError::msg(format!("ERR {other}")),
    }
}

/// CL.THROTTLE key max_burst count period [quantity]
fn cl_throttle(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() > 6 {
        return Err(CmdError::arity("cl.throttle"));
    }
    let max_burst = int_arg(args.arg(2))?;
    let count = int_arg(args.arg(3))?;
    let period = int_arg(args.arg(4))?;
    let quantity = match args.get(5) {
        Some(q) => int_arg(q)?,
        None => 1,
    };
    let shared = ctx.shared;
    let now_ns = u64::try_from(shared.clock.now_us())
        .unwrap_or(0)
        .saturating_mul(1000);
    // Arguments are judged before the key, so a bad call never depends on what the key holds.
    ringkv_ratelimit::cl_throttle(None, now_ns, max_burst, count, period, quantity)
        .map_err(cell_error)?;
    let key = args.arg(1);
    let mut db = ctx.db();
    let cell = match load(&mut db, key)? {
        Stored::Cell(cell) => Some(cell),
        Stored::Absent | Stored::Limiter(_) => None,
    };
    let (next, reply) =
        ringkv_ratelimit::cl_throttle(cell.as_ref(), now_ns, max_burst, count, period, quantity)
            .map_err(cell_error)?;
    if let Some(next) = next {
        if next.idle_expiry_ms(now_ns) == 0 {
            db.remove(key);
        } else {
            // Expire at the TAT rounded up to whole milliseconds: never before the state is fresh.
            let expire_at_ms = next.tat_ns().div_ceil(1_000_000);
            store(&mut db, key, |out| next.encode(out), expire_at_ms);
        }
    }
    if quantity != 0 {
        shared.ratelimit.cl_throttle.record(!reply.limited);
    }
    ctx.out.array(5);
    for v in reply.to_array() {
        ctx.out.integer(v);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// RL.LIMIT / RL.CHECK / RL.RESET

/// A LIMIT / WINDOW / BURST value: an integer, 0 or negative mapped to 0 so that
/// `Policy::validate` reports it with the crate's wording.
fn policy_number(arg: &[u8]) -> Result<u64, CmdError> {
    Ok(u64::try_from(int_arg(arg)?).unwrap_or(0))
}

fn policy_error(e: ringkv_ratelimit::PolicyError) -> CmdError {
    CmdError::msg(format!("ERR {e}"))
}

fn algorithm_arg(arg: &[u8]) -> Result<Algorithm, CmdError> {
    Algorithm::parse(&String::from_utf8_lossy(&arg[..arg.len().min(64)]))
        .map_err(|e| CmdError::msg(format!("ERR {e}")))
}

/// Parses `COST c` / `PEEK` from `args[from..]`; `extra` handles other options (returns how many
/// arguments it consumed, 0 for "not mine").
fn parse_cost_peek(
    args: Args<'_>,
    from: usize,
    mut extra: impl FnMut(&[u8], Option<&[u8]>) -> Result<usize, CmdError>,
) -> Result<(i64, bool), CmdError> {
    let mut cost = 1;
    let mut peek = false;
    let mut i = from;
    while i < args.len() {
        let opt = args.arg(i);
        let next = args.get(i + 1);
        if is(opt, "COST") {
            cost = int_arg(next.ok_or(SYNTAX)?)?;
            i += 2;
        } else if is(opt, "PEEK") {
            peek = true;
            i += 1;
        } else {
            match extra(opt, next)? {
                0 => return Err(SYNTAX),
                used => i += used,
            }
        }
    }
    Ok((cost, peek))
}

/// RL.LIMIT key algorithm LIMIT n WINDOW ms [BURST b] [COST c] [PEEK]
fn rl_limit(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let algorithm = algorithm_arg(args.arg(2))?;
    let (mut limit, mut window, mut burst) = (None, None, None);
    let (cost, peek) = parse_cost_peek(args, 3, |opt, next| {
        let slot = if is(opt, "LIMIT") {
            &mut limit
        } else if is(opt, "WINDOW") {
            &mut window
        } else if is(opt, "BURST") {
            &mut burst
        } else {
            return Ok(0);
        };
        *slot = Some(policy_number(next.ok_or(SYNTAX)?)?);
        Ok(2)
    })?;
    let (Some(limit), Some(window)) = (limit, window) else {
        return Err(CmdError::Static("ERR LIMIT and WINDOW are required"));
    };
    let mut policy = Policy::new(algorithm, limit, window);
    if let Some(burst) = burst {
        policy = policy.with_burst(burst);
    }
    policy.validate().map_err(policy_error)?;
    let shared = ctx.shared;
    let now = now_ms(shared);
    let decision = limit_key(&mut ctx.db(), args.arg(1), &policy, now, cost, peek)?;
    if !peek {
        shared.ratelimit.rl_limit.record(decision.allowed);
    }
    reply_decision(ctx.out, &decision);
    Ok(())
}

/// The configured policy called `name`.
pub fn find_policy(shared: &Shared, name: &[u8]) -> Result<(String, Policy), CmdError> {
    let config = shared.config.read();
    config
        .ratelimit_policy
        .iter()
        .find(|(n, _)| n.as_bytes() == name)
        .map(|(n, p)| (n.clone(), *p))
        .ok_or_else(|| {
            CmdError::msg(format!(
                "ERR no such rate limit policy '{}'",
                String::from_utf8_lossy(&name[..name.len().min(128)])
            ))
        })
}

/// RL.CHECK policy key [COST c] [PEEK]
fn rl_check(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (cost, peek) = parse_cost_peek(args, 3, |_, _| Ok(0))?;
    let shared = ctx.shared;
    let (name, policy) = find_policy(shared, args.arg(1))?;
    let now = now_ms(shared);
    let decision = limit_key(&mut ctx.db(), args.arg(2), &policy, now, cost, peek)?;
    if !peek {
        shared.ratelimit.record_policy(&name, decision.allowed);
    }
    reply_decision(ctx.out, &decision);
    Ok(())
}

/// RL.RESET key
fn rl_reset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(1);
    let mut db = ctx.db();
    let removed = match load(&mut db, key)? {
        Stored::Absent => false,
        Stored::Limiter(_) | Stored::Cell(_) => db.remove(key),
    };
    ctx.out.integer(i64::from(removed));
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The HTTP endpoint's entry point

/// Which limiter an HTTP request names.
#[derive(Debug, Clone, Copy)]
pub enum HttpPolicy<'a> {
    /// `/v1/ratelimit/check?policy=NAME`: a configured policy.
    Named(&'a [u8]),
    /// `/v1/ratelimit/limit?algorithm=..&limit=..`: parameters given inline (validated here).
    Inline(Policy),
}

/// A decided HTTP request: the policy's name (the algorithm's for inline policies), the policy
/// and the decision.
#[derive(Debug, Clone)]
pub struct HttpDecision {
    pub name: String,
    pub policy: Policy,
    pub decision: Decision,
    /// The AOF offset the check logged up to (its new state), if logging is on.
    pub logged_to: Option<u64>,
}

/// One HTTP rate-limit check on `key` in database 0: takes the keyspace lock and runs exactly the
/// code `RL.CHECK` / `RL.LIMIT` run, including the memory check of their DENYOOM flag and the
/// metrics. Errors carry the RESP error text.
pub fn http_limit(
    shared: &Shared,
    which: HttpPolicy<'_>,
    key: &[u8],
    cost: i64,
    peek: bool,
) -> Result<HttpDecision, CmdError> {
    let (name, policy) = match which {
        HttpPolicy::Named(name) => find_policy(shared, name)?,
        HttpPolicy::Inline(policy) => {
            policy.validate().map_err(policy_error)?;
            (policy.algorithm.name().to_string(), policy)
        }
    };
    if shared.persistence.is_loading() {
        return Err(crate::error::LOADING);
    }
    if let Some(e) = shared.persistence.write_refusal() {
        return Err(e);
    }
    let mut store = shared.store.lock();
    store.set_now(shared.clock.now_ms());
    if store.common.eviction.maxmemory != 0 && store.evict_if_needed(HTTP_MAX_EVICTIONS).is_err() {
        return Err(OOM);
    }
    let now = now_ms(shared);
    let decision = limit_key(&mut store.db(0), key, &policy, now, cost, peek)?;
    let logged_to = crate::aof::flush_oplog(&mut store, &shared.persistence.aof);
    drop(store);
    if !peek {
        match which {
            HttpPolicy::Named(_) => shared.ratelimit.record_policy(&name, decision.allowed),
            HttpPolicy::Inline(_) => shared.ratelimit.rl_limit.record(decision.allowed),
        }
    }
    Ok(HttpDecision {
        name,
        policy,
        decision,
        logged_to,
    })
}
