//! Deterministic rate-limiting arithmetic for ringkv's `RL.LIMIT` and
//! `CL.THROTTLE` commands.
//!
//! This crate owns the decision "may this request of cost `c` pass at time
//! `t`?" for six algorithms, plus the byte format of their state, and nothing
//! else. The server reads a key, decodes a [`State`], calls [`check`] with the
//! time from its own clock, writes back the state it gets (if any) and sets the
//! key's TTL to [`idle_expiry_ms`]. Clock reads, randomness and I/O stay out of
//! this crate on purpose: the server calls it while holding the keyspace lock,
//! replicas must reach the same answer from the same inputs, and tests drive
//! time by hand. All arithmetic is integer (time in milliseconds, quantities
//! scaled so that division is never needed to advance state), saturates instead
//! of overflowing, and never panics, whatever the inputs or stored bytes.
//!
//! `RL.LIMIT key ALGORITHM LIMIT n WINDOW ms [BURST b] [COST c] [PEEK]` maps to
//! [`Policy`] + [`check`]; `CL.THROTTLE` maps to [`cl_throttle`], a
//! reproduction of redis-cell's reply arithmetic.
//!
//! # Which state is stored
//!
//! [`check`] returns `Some(state)` only when the call changed the limiter (an
//! admitted request with positive cost, or a refund); the server must then
//! store it with TTL [`idle_expiry_ms`] (deleting the key instead when that is
//! 0). It returns `None` for peeks, cost-0 inspections and denied requests:
//! nothing needs writing, and the key's existing TTL stays correct because a
//! state that was not rewritten expires exactly when it did before.
//!
//! # State from another policy
//!
//! A state written by a different algorithm, or by the same algorithm with a
//! window (or, for GCRA, a limit) that changes the units the state is kept in,
//! is treated as fresh: the caller supplies the policy on every call (as with
//! redis-cell), so honouring an incompatible state would mean guessing, and
//! resetting is the predictable choice. Changes that keep the units (for
//! example a new burst for the token bucket, or any change for the sliding
//! log) reuse the state, clamped to the new capacity.

mod cell;
mod codec;
mod fixed_window;
mod gcra;
mod leaky_bucket;
mod sliding_log;
mod sliding_window;
mod token_bucket;

use std::fmt;
use std::str::FromStr;

use thiserror::Error;

pub use cell::{cl_throttle, CellState, ClThrottleError, ClThrottleReply};
pub use codec::{DecodeError, STATE_FORMAT_VERSION};
pub use fixed_window::FixedWindowState;
pub use gcra::GcraState;
pub use leaky_bucket::LeakyBucketState;
pub use sliding_log::{LogEntry, SlidingLogState};
pub use sliding_window::SlidingWindowState;
pub use token_bucket::TokenBucketState;

use codec::Reader;

/// `retry_after_ms` value meaning "never": the request costs more than the
/// limiter can ever hold, so waiting will not help.
pub const RETRY_NEVER_MS: u64 = u64::MAX;

/// The rate-limiting algorithms `RL.LIMIT` offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// [Token bucket](TokenBucketState) with continuous refill.
    TokenBucket,
    /// [Leaky bucket as a queue](LeakyBucketState).
    LeakyBucket,
    /// [Fixed window counter](FixedWindowState).
    FixedWindow,
    /// [Sliding window log](SlidingLogState), exact.
    SlidingLog,
    /// [Sliding window counter](SlidingWindowState), Cloudflare's
    /// two-window approximation.
    SlidingWindow,
    /// [Generic cell rate algorithm](GcraState).
    Gcra,
}

impl Algorithm {
    /// Every algorithm, in tag order.
    pub const ALL: [Algorithm; 6] = [
        Algorithm::TokenBucket,
        Algorithm::LeakyBucket,
        Algorithm::FixedWindow,
        Algorithm::SlidingLog,
        Algorithm::SlidingWindow,
        Algorithm::Gcra,
    ];

    /// The canonical (kebab-case) name, which [`Algorithm::parse`] accepts.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::TokenBucket => "token-bucket",
            Algorithm::LeakyBucket => "leaky-bucket",
            Algorithm::FixedWindow => "fixed-window",
            Algorithm::SlidingLog => "sliding-log",
            Algorithm::SlidingWindow => "sliding-window",
            Algorithm::Gcra => "gcra",
        }
    }

    /// Parses an algorithm name, ASCII case-insensitively.
    ///
    /// Accepted names (each also with `_` in place of `-`, or with no
    /// separator at all, e.g. `token-bucket`, `token_bucket`, `TokenBucket`):
    ///
    /// | algorithm | names |
    /// |---|---|
    /// | token bucket | `token-bucket` |
    /// | leaky bucket | `leaky-bucket` |
    /// | fixed window | `fixed-window` |
    /// | sliding log | `sliding-log`, `sliding-window-log` |
    /// | sliding window counter | `sliding-window`, `sliding-window-counter` |
    /// | GCRA | `gcra` |
    pub fn parse(name: &str) -> Result<Algorithm, ParseAlgorithmError> {
        // Separators are normalised only where they may appear (between whole
        // words), so "t-o-k-e-n" style spellings stay rejected.
        let lowered = name.to_ascii_lowercase().replace('_', "-");
        let algorithm = match lowered.as_str() {
            "token-bucket" | "tokenbucket" => Algorithm::TokenBucket,
            "leaky-bucket" | "leakybucket" => Algorithm::LeakyBucket,
            "fixed-window" | "fixedwindow" => Algorithm::FixedWindow,
            "sliding-log" | "slidinglog" | "sliding-window-log" | "slidingwindowlog" => {
                Algorithm::SlidingLog
            }
            "sliding-window"
            | "slidingwindow"
            | "sliding-window-counter"
            | "slidingwindowcounter" => Algorithm::SlidingWindow,
            "gcra" => Algorithm::Gcra,
            _ => return Err(ParseAlgorithmError(name.to_owned())),
        };
        Ok(algorithm)
    }

    /// Whether `BURST` means something for this algorithm. The window
    /// algorithms have no separate burst size: their limit is the burst.
    pub fn accepts_burst(self) -> bool {
        matches!(
            self,
            Algorithm::TokenBucket | Algorithm::LeakyBucket | Algorithm::Gcra
        )
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Algorithm {
    type Err = ParseAlgorithmError;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Algorithm::parse(name)
    }
}

/// The name given to [`Algorithm::parse`] is not an algorithm.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("unknown rate-limit algorithm '{0}'")]
pub struct ParseAlgorithmError(pub String);

/// One `RL.LIMIT` configuration: `limit` units of cost per `window_ms`.
///
/// `burst` is the capacity (how much cost can pass at once after a quiet
/// period) of the bucket-like algorithms; it defaults to `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    pub algorithm: Algorithm,
    pub limit: u64,
    pub window_ms: u64,
    pub burst: Option<u64>,
}

/// Why a [`Policy`] is not usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum PolicyError {
    #[error("LIMIT must be greater than 0")]
    ZeroLimit,
    #[error("WINDOW must be greater than 0")]
    ZeroWindow,
    #[error("BURST must be greater than 0")]
    ZeroBurst,
    #[error("BURST is not supported by the {0} algorithm")]
    BurstNotSupported(Algorithm),
}

impl Policy {
    /// A policy without an explicit burst.
    pub fn new(algorithm: Algorithm, limit: u64, window_ms: u64) -> Policy {
        Policy {
            algorithm,
            limit,
            window_ms,
            burst: None,
        }
    }

    /// The same policy with `BURST burst`.
    pub fn with_burst(self, burst: u64) -> Policy {
        Policy {
            burst: Some(burst),
            ..self
        }
    }

    /// Checks that `limit > 0`, `window_ms > 0`, and that `burst`, when
    /// given, is at least 1 and belongs to an algorithm that has one.
    ///
    /// [`check`] never panics on an invalid policy (it clamps every field to
    /// at least 1), but the server should reject one before calling it.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.limit == 0 {
            return Err(PolicyError::ZeroLimit);
        }
        if self.window_ms == 0 {
            return Err(PolicyError::ZeroWindow);
        }
        match self.burst {
            Some(_) if !self.algorithm.accepts_burst() => {
                Err(PolicyError::BurstNotSupported(self.algorithm))
            }
            Some(0) => Err(PolicyError::ZeroBurst),
            _ => Ok(()),
        }
    }

    /// The most cost that can pass at once from a fresh state: `burst` (or
    /// `limit`) for the buckets and GCRA, `limit` for the window algorithms.
    /// This is what [`Decision::limit`] reports.
    pub fn capacity(&self) -> u64 {
        Params::from_policy(self).reported_limit(self.algorithm)
    }
}

/// The outcome of one [`check`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Decision {
    /// Whether the request passes. Inspections and refunds always pass.
    pub allowed: bool,
    /// [`Policy::capacity`]: the `X-RateLimit-Limit` figure.
    pub limit: u64,
    /// How much more cost could pass right now, after this decision (rounded
    /// down to whole units).
    pub remaining: u64,
    /// Milliseconds (rounded up) until the limiter is back to its fresh state
    /// if nothing else arrives. For the leaky bucket this is also the moment
    /// the admitted request leaves the queue, since it is queued last.
    pub reset_after_ms: u64,
    /// 0 when allowed; otherwise milliseconds (rounded up) until this same
    /// request would pass if nothing else arrives, or [`RETRY_NEVER_MS`] when
    /// its cost exceeds what the limiter can ever admit at once.
    pub retry_after_ms: u64,
}

/// A stored limiter state, one variant per algorithm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum State {
    TokenBucket(TokenBucketState),
    LeakyBucket(LeakyBucketState),
    FixedWindow(FixedWindowState),
    SlidingLog(SlidingLogState),
    SlidingWindow(SlidingWindowState),
    Gcra(GcraState),
}

impl State {
    /// The algorithm that wrote this state.
    pub fn algorithm(&self) -> Algorithm {
        match self {
            State::TokenBucket(_) => Algorithm::TokenBucket,
            State::LeakyBucket(_) => Algorithm::LeakyBucket,
            State::FixedWindow(_) => Algorithm::FixedWindow,
            State::SlidingLog(_) => Algorithm::SlidingLog,
            State::SlidingWindow(_) => Algorithm::SlidingWindow,
            State::Gcra(_) => Algorithm::Gcra,
        }
    }

    /// Appends the versioned encoding of this state to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            State::TokenBucket(state) => state.encode(out),
            State::LeakyBucket(state) => state.encode(out),
            State::FixedWindow(state) => state.encode(out),
            State::SlidingLog(state) => state.encode(out),
            State::SlidingWindow(state) => state.encode(out),
            State::Gcra(state) => state.encode(out),
        }
    }

    /// Decodes bytes written by [`State::encode`]. Never panics; any other
    /// input yields a [`DecodeError`], which the server should treat as "not a
    /// rate-limiter key" (a WRONGTYPE-style error) rather than as fresh.
    pub fn decode(bytes: &[u8]) -> Result<State, DecodeError> {
        let mut reader = Reader::new(bytes);
        let tag = reader.header()?;
        let state = match tag {
            codec::TAG_TOKEN_BUCKET => {
                State::TokenBucket(TokenBucketState::decode_body(&mut reader)?)
            }
            codec::TAG_LEAKY_BUCKET => {
                State::LeakyBucket(LeakyBucketState::decode_body(&mut reader)?)
            }
            codec::TAG_FIXED_WINDOW => {
                State::FixedWindow(FixedWindowState::decode_body(&mut reader)?)
            }
            codec::TAG_SLIDING_LOG => State::SlidingLog(SlidingLogState::decode_body(&mut reader)?),
            codec::TAG_SLIDING_WINDOW => {
                State::SlidingWindow(SlidingWindowState::decode_body(&mut reader)?)
            }
            codec::TAG_GCRA => State::Gcra(GcraState::decode_body(&mut reader)?),
            codec::TAG_CELL => return Err(DecodeError::WrongKind(tag)),
            other => return Err(DecodeError::UnknownKind(other)),
        };
        reader.finish()?;
        Ok(state)
    }
}

/// Decides whether a request of `cost` passes at `now_ms` (milliseconds since
/// the Unix epoch) under `policy`, given the key's stored `state` (`None` when
/// the key does not exist).
///
/// * `cost > 0` consumes capacity if the request is allowed.
/// * `cost == 0` inspects: always allowed, nothing consumed.
/// * `cost < 0` refunds `|cost|` units of capacity (never beyond the fresh
///   state); always allowed.
/// * `peek` returns exactly the decision a real call with this cost would
///   get, but never a new state.
///
/// Returns `Some(new_state)` when the state must be written back (see the
/// crate documentation), and the [`Decision`]. A `state` written by another
/// algorithm or an incompatible policy counts as fresh. Time going backwards
/// never frees capacity; each algorithm's documentation says how it is
/// handled.
pub fn check(
    policy: &Policy,
    state: Option<&State>,
    now_ms: u64,
    cost: i64,
    peek: bool,
) -> (Option<State>, Decision) {
    let params = Params::from_policy(policy);
    let op = Op::from_cost(cost);
    let (new_state, decision) = match policy.algorithm {
        Algorithm::TokenBucket => {
            let state = match state {
                Some(State::TokenBucket(s)) if s.fits(&params) => Some(s),
                _ => None,
            };
            let (next, decision) = token_bucket::check(&params, state, now_ms, op);
            (next.map(State::TokenBucket), decision)
        }
        Algorithm::LeakyBucket => {
            let state = match state {
                Some(State::LeakyBucket(s)) if s.fits(&params) => Some(s),
                _ => None,
            };
            let (next, decision) = leaky_bucket::check(&params, state, now_ms, op);
            (next.map(State::LeakyBucket), decision)
        }
        Algorithm::FixedWindow => {
            let state = match state {
                Some(State::FixedWindow(s)) if s.fits(&params) => Some(s),
                _ => None,
            };
            let (next, decision) = fixed_window::check(&params, state, now_ms, op);
            (next.map(State::FixedWindow), decision)
        }
        Algorithm::SlidingLog => {
            let state = match state {
                Some(State::SlidingLog(s)) => Some(s),
                _ => None,
            };
            let (next, decision) = sliding_log::check(&params, state, now_ms, op);
            (next.map(State::SlidingLog), decision)
        }
        Algorithm::SlidingWindow => {
            let state = match state {
                Some(State::SlidingWindow(s)) if s.fits(&params) => Some(s),
                _ => None,
            };
            let (next, decision) = sliding_window::check(&params, state, now_ms, op);
            (next.map(State::SlidingWindow), decision)
        }
        Algorithm::Gcra => {
            let state = match state {
                Some(State::Gcra(s)) if s.fits(&params) => Some(s),
                _ => None,
            };
            let (next, decision) = gcra::check(&params, state, now_ms, op);
            (next.map(State::Gcra), decision)
        }
    };
    if peek {
        (None, decision)
    } else {
        (new_state, decision)
    }
}

/// How many milliseconds (rounded up) from `now_ms` without calls until
/// `state` behaves exactly like a fresh one, so the key can be deleted: the
/// server sets this as the key's TTL, and deletes the key when it is 0. A
/// state that is incompatible with `policy` is already equivalent to fresh
/// and yields 0.
pub fn idle_expiry_ms(policy: &Policy, state: &State, now_ms: u64) -> u64 {
    let params = Params::from_policy(policy);
    match (policy.algorithm, state) {
        (Algorithm::TokenBucket, State::TokenBucket(s)) if s.fits(&params) => {
            token_bucket::idle_expiry_ms(&params, s, now_ms)
        }
        (Algorithm::LeakyBucket, State::LeakyBucket(s)) if s.fits(&params) => {
            leaky_bucket::idle_expiry_ms(&params, s, now_ms)
        }
        (Algorithm::FixedWindow, State::FixedWindow(s)) if s.fits(&params) => {
            fixed_window::idle_expiry_ms(&params, s, now_ms)
        }
        (Algorithm::SlidingLog, State::SlidingLog(s)) => {
            sliding_log::idle_expiry_ms(&params, s, now_ms)
        }
        (Algorithm::SlidingWindow, State::SlidingWindow(s)) if s.fits(&params) => {
            sliding_window::idle_expiry_ms(&params, s, now_ms)
        }
        (Algorithm::Gcra, State::Gcra(s)) if s.fits(&params) => {
            gcra::idle_expiry_ms(&params, s, now_ms)
        }
        _ => 0,
    }
}

/// A policy with every field clamped to at least 1, so that the algorithms
/// can divide by any of them without checking.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub(crate) limit: u64,
    pub(crate) window_ms: u64,
    /// `burst`, defaulting to `limit`; only the bucket algorithms and GCRA
    /// use it.
    pub(crate) capacity: u64,
}

impl Params {
    pub(crate) fn from_policy(policy: &Policy) -> Params {
        let limit = policy.limit.max(1);
        Params {
            limit,
            window_ms: policy.window_ms.max(1),
            capacity: policy.burst.unwrap_or(limit).max(1),
        }
    }

    fn reported_limit(&self, algorithm: Algorithm) -> u64 {
        if algorithm.accepts_burst() {
            self.capacity
        } else {
            self.limit
        }
    }
}

/// What a call's cost asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Consume(u64),
    Inspect,
    Refund(u64),
}

impl Op {
    pub(crate) fn from_cost(cost: i64) -> Op {
        match cost {
            0 => Op::Inspect,
            c if c > 0 => Op::Consume(c.unsigned_abs()),
            c => Op::Refund(c.unsigned_abs()),
        }
    }
}

/// `numerator / denominator` rounded up; `denominator` must be non-zero.
pub(crate) fn ceil_div(numerator: u128, denominator: u128) -> u128 {
    numerator / denominator + u128::from(numerator % denominator != 0)
}

/// Narrows to u64, saturating: durations and counts beyond u64 only arise
/// from absurd policies, where "as large as representable" is the honest
/// answer.
pub(crate) fn saturate_u64(value: u128) -> u64 {
    u64::try_from(value).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_parse() {
        for algorithm in Algorithm::ALL {
            assert_eq!(Algorithm::parse(algorithm.name()), Ok(algorithm));
            assert_eq!(algorithm.to_string().parse::<Algorithm>(), Ok(algorithm));
            let snake = algorithm.name().replace('-', "_");
            assert_eq!(Algorithm::parse(&snake), Ok(algorithm));
            let joined = algorithm.name().replace('-', "");
            assert_eq!(Algorithm::parse(&joined.to_uppercase()), Ok(algorithm));
        }
        assert_eq!(Algorithm::parse("TokenBucket"), Ok(Algorithm::TokenBucket));
        assert_eq!(
            Algorithm::parse("sliding_window_log"),
            Ok(Algorithm::SlidingLog)
        );
        assert_eq!(
            Algorithm::parse("Sliding-Window-Counter"),
            Ok(Algorithm::SlidingWindow)
        );
        for bad in ["", "token", "t-o-k-e-n-bucket", "token bucket", "gcra2"] {
            assert!(Algorithm::parse(bad).is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn policy_validation() {
        let ok = Policy::new(Algorithm::Gcra, 10, 1000);
        assert_eq!(ok.validate(), Ok(()));
        assert_eq!(ok.with_burst(1).validate(), Ok(()));
        assert_eq!(ok.with_burst(0).validate(), Err(PolicyError::ZeroBurst));
        assert_eq!(
            Policy::new(Algorithm::Gcra, 0, 1000).validate(),
            Err(PolicyError::ZeroLimit)
        );
        assert_eq!(
            Policy::new(Algorithm::Gcra, 1, 0).validate(),
            Err(PolicyError::ZeroWindow)
        );
        for algorithm in [
            Algorithm::FixedWindow,
            Algorithm::SlidingLog,
            Algorithm::SlidingWindow,
        ] {
            assert_eq!(
                Policy::new(algorithm, 5, 10).with_burst(5).validate(),
                Err(PolicyError::BurstNotSupported(algorithm))
            );
        }
        assert_eq!(ok.with_burst(3).capacity(), 3);
        assert_eq!(ok.capacity(), 10);
        assert_eq!(
            Policy::new(Algorithm::FixedWindow, 7, 10)
                .with_burst(3)
                .capacity(),
            7
        );
    }

    #[test]
    fn cost_maps_to_operation() {
        assert_eq!(Op::from_cost(0), Op::Inspect);
        assert_eq!(Op::from_cost(3), Op::Consume(3));
        assert_eq!(Op::from_cost(-3), Op::Refund(3));
        assert_eq!(Op::from_cost(i64::MIN), Op::Refund(1 << 63));
        assert_eq!(Op::from_cost(i64::MAX), Op::Consume(i64::MAX as u64));
    }

    #[test]
    fn ceil_div_rounds_up() {
        assert_eq!(ceil_div(0, 3), 0);
        assert_eq!(ceil_div(1, 3), 1);
        assert_eq!(ceil_div(3, 3), 1);
        assert_eq!(ceil_div(u128::MAX, 1), u128::MAX);
        assert_eq!(ceil_div(u128::MAX, 2), u128::MAX / 2 + 1);
    }
}
