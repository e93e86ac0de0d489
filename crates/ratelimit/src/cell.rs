//! `CL.THROTTLE`: a reproduction of redis-cell's GCRA reply arithmetic.
//!
//! Clients written against the redis-cell module expect its exact five-integer
//! reply, including its rounding quirks, so this module re-derives each reply
//! field the way redis-cell computes it (as of its source after PR #58, the
//! 2022 "ceil fractional retry_after and reset_after" change), rather than
//! reusing the exact-rational GCRA of [`crate::GcraState`]:
//!
//! * `emission_interval = (period_s * 1e9 as f64 / count as f64) as i64`
//!   nanoseconds (truncated float division), `count == 0`, `period == 0` or an
//!   interval that truncates to 0 ns is the "Zero rates are not supported"
//!   error; `delay_variation_tolerance = emission_interval * (max_burst + 1)`;
//!   `increment = emission_interval * quantity`.
//! * `tat` is the stored theoretical arrival time (`now` if there is none);
//!   `new_tat = max(now, tat) + increment`; the request is limited iff
//!   `now < new_tat - delay_variation_tolerance`.
//! * Limited: `retry_after = new_tat - tolerance - now` but only if
//!   `increment <= tolerance` (otherwise it stays -1 s: waiting never helps);
//!   `ttl = tat - now`; nothing is stored.
//! * Allowed: `ttl = new_tat - now`, and `new_tat` is stored (`quantity` 0
//!   stores an equivalent TAT, so it only peeks).
//! * `remaining = ((tolerance - ttl) as whole µs as f64 / emission_interval as
//!   whole µs as f64) as i64` when `tolerance - ttl > -emission_interval`,
//!   else 0 (truncation towards zero, float division).
//! * Reply seconds: `whole_seconds`, plus 1 if the sub-second part has at
//!   least one whole millisecond (so 2.0005 s replies 2, 2.001 s replies 3).
//!   `reset_after = ttl`. `limit = max_burst + 1`.
//!
//! Time is taken in nanoseconds since the Unix epoch (`now_ns`) because
//! redis-cell's arithmetic is in nanoseconds; callers with a millisecond
//! clock pass `now_ms * 1_000_000`. Deliberate differences, all for inputs
//! where redis-cell misbehaves or depends on the Redis version: negative
//! `max_burst`, `count`, `period` or `quantity` are rejected (redis-cell
//! computes nonsense or fails half-way); periods whose nanosecond count
//! overflows i64 (about 292 years) are rejected (redis-cell wraps); other
//! overflows saturate (redis-cell would wrap or panic). A stored TAT that is
//! not after `now` is treated as absent, as it is in redis-cell where the key
//! has expired by then (its TTL ends at the TAT).

use thiserror::Error;

use crate::codec::{self, put_header, put_varint, DecodeError, Reader};

const NANOS_PER_SECOND: i128 = 1_000_000_000;
const NANOS_PER_MILLI: i128 = 1_000_000;
const NANOS_PER_MICRO: i128 = 1_000;

/// redis-cell's "not set" retry_after: -1 second.
const RETRY_UNSET_NS: i128 = -NANOS_PER_SECOND;

/// Stored `CL.THROTTLE` state: the theoretical arrival time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CellState {
    tat_ns: u64,
}

impl CellState {
    /// A state with the given theoretical arrival time (ns since the Unix
    /// epoch), e.g. to import a redis-cell key, whose value is this number
    /// in decimal.
    pub fn from_tat_ns(tat_ns: u64) -> CellState {
        CellState { tat_ns }
    }

    /// The theoretical arrival time, ns since the Unix epoch.
    pub fn tat_ns(&self) -> u64 {
        self.tat_ns
    }

    /// Milliseconds (rounded up) from `now_ns` until this state is
    /// equivalent to no state: the key's TTL. 0 means delete the key.
    /// (redis-cell truncates this TTL to whole milliseconds, expiring the key
    /// up to 1 ms before its TAT; rounding up keeps the state until it is
    /// really fresh.)
    pub fn idle_expiry_ms(&self, now_ns: u64) -> u64 {
        let ahead_ns = self.tat_ns.saturating_sub(now_ns);
        ahead_ns.div_ceil(NANOS_PER_MILLI as u64)
    }

    /// Appends the versioned encoding (same header scheme as
    /// [`crate::State::encode`], with its own kind tag).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_header(out, codec::TAG_CELL);
        put_varint(out, u128::from(self.tat_ns));
    }

    /// Decodes bytes written by [`encode`](Self::encode); never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        match reader.header()? {
            codec::TAG_CELL => {}
            tag @ codec::TAG_TOKEN_BUCKET..=codec::TAG_GCRA => {
                return Err(DecodeError::WrongKind(tag))
            }
            tag => return Err(DecodeError::UnknownKind(tag)),
        }
        let tat_ns = reader.u64()?;
        reader.finish()?;
        Ok(CellState { tat_ns })
    }
}

/// The five integers `CL.THROTTLE` replies with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClThrottleReply {
    /// Whether the action was limited (reply field 1: 1 or 0).
    pub limited: bool,
    /// `max_burst + 1`.
    pub limit: i64,
    /// Remaining capacity.
    pub remaining: i64,
    /// Seconds until a retry can pass; -1 when allowed, or when the quantity
    /// exceeds the burst so that no retry ever passes.
    pub retry_after_s: i64,
    /// Seconds until the limit is back to full.
    pub reset_after_s: i64,
}

impl ClThrottleReply {
    /// The reply array in wire order.
    pub fn to_array(&self) -> [i64; 5] {
        [
            i64::from(self.limited),
            self.limit,
            self.remaining,
            self.retry_after_s,
            self.reset_after_s,
        ]
    }
}

/// `CL.THROTTLE` arguments that cannot be served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum ClThrottleError {
    /// redis-cell's own error text for a zero rate (or one so fast that the
    /// emission interval truncates to 0 ns).
    #[error("Zero rates are not supported")]
    ZeroRate,
    /// `max_burst`, `count`, `period` or `quantity` was negative.
    #[error("{0} must not be negative")]
    Negative(&'static str),
    /// `period` in nanoseconds does not fit in an i64.
    #[error("period is too long")]
    PeriodTooLong,
}

/// redis-cell's result before rounding to seconds; kept separate so tests can
/// compare with redis-cell's own nanosecond-level test table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RawOutcome {
    pub(crate) limited: bool,
    pub(crate) limit: i64,
    pub(crate) remaining: i64,
    pub(crate) retry_after_ns: i128,
    pub(crate) reset_after_ns: i128,
    pub(crate) new_tat_ns: Option<i128>,
}

/// Runs `CL.THROTTLE key max_burst count period_s [quantity]` against the
/// key's stored state at `now_ns` (nanoseconds since the Unix epoch).
///
/// Returns the state to store (`None`: leave the key as it is; for a
/// `Some`, set the key's TTL to [`CellState::idle_expiry_ms`]) and the reply.
/// The default `quantity` of the command is 1; 0 peeks.
pub fn cl_throttle(
    state: Option<&CellState>,
    now_ns: u64,
    max_burst: i64,
    count: i64,
    period_s: i64,
    quantity: i64,
) -> Result<(Option<CellState>, ClThrottleReply), ClThrottleError> {
    let raw = throttle_raw(state, now_ns, max_burst, count, period_s, quantity)?;
    let next = if quantity == 0 {
        None
    } else {
        raw.new_tat_ns.map(|tat| CellState {
            tat_ns: clamp_u64(tat),
        })
    };
    let reply = ClThrottleReply {
        limited: raw.limited,
        limit: raw.limit,
        remaining: raw.remaining,
        retry_after_s: reply_seconds(raw.retry_after_ns),
        reset_after_s: reply_seconds(raw.reset_after_ns),
    };
    Ok((next, reply))
}

pub(crate) fn throttle_raw(
    state: Option<&CellState>,
    now_ns: u64,
    max_burst: i64,
    count: i64,
    period_s: i64,
    quantity: i64,
) -> Result<RawOutcome, ClThrottleError> {
    for (name, value) in [
        ("max_burst", max_burst),
        ("count", count),
        ("period", period_s),
        ("quantity", quantity),
    ] {
        if value < 0 {
            return Err(ClThrottleError::Negative(name));
        }
    }
    if count == 0 || period_s == 0 {
        return Err(ClThrottleError::ZeroRate);
    }
    let period_ns = i64::try_from(i128::from(period_s) * NANOS_PER_SECOND)
        .map_err(|_| ClThrottleError::PeriodTooLong)?;
    // Exactly redis-cell's `Rate::per_period`: float division, truncated.
    let interval = i128::from((period_ns as f64 / count as f64) as i64);
    if interval == 0 {
        return Err(ClThrottleError::ZeroRate);
    }
    let tolerance = interval * (i128::from(max_burst) + 1);
    let increment = interval * i128::from(quantity);
    let now = i128::from(now_ns);
    // A TAT at or before now is an expired key in redis-cell.
    let tat = state.map_or(now, |state| i128::from(state.tat_ns).max(now));
    let new_tat = tat + increment;
    let diff = now - (new_tat - tolerance);
    let (limited, retry_after_ns, ttl, new_tat_ns) = if diff < 0 {
        let retry = if increment <= tolerance {
            -diff
        } else {
            RETRY_UNSET_NS
        };
        (true, retry, tat - now, None)
    } else {
        (false, RETRY_UNSET_NS, new_tat - now, Some(new_tat))
    };
    let next = tolerance - ttl;
    let remaining = if next > -interval {
        // `whole_microseconds` truncates towards zero, as i128 division does.
        let next_us = (next / NANOS_PER_MICRO) as f64;
        let interval_us = (interval / NANOS_PER_MICRO) as f64;
        (next_us / interval_us) as i64
    } else {
        0
    };
    Ok(RawOutcome {
        limited,
        limit: max_burst.saturating_add(1),
        remaining,
        retry_after_ns,
        reset_after_ns: ttl,
        new_tat_ns,
    })
}

/// redis-cell's reply rounding: `whole_seconds()`, plus one when
/// `subsec_milliseconds() > 0`. Both truncate towards zero, so sub-millisecond
/// fractions do not round up and negative durations never do.
fn reply_seconds(duration_ns: i128) -> i64 {
    let whole = duration_ns / NANOS_PER_SECOND;
    let subsec_ms = (duration_ns % NANOS_PER_SECOND) / NANOS_PER_MILLI;
    let seconds = whole + i128::from(subsec_ms > 0);
    i64::try_from(seconds).unwrap_or(if seconds < 0 { i64::MIN } else { i64::MAX })
}

fn clamp_u64(value: i128) -> u64 {
    u64::try_from(value.max(0)).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const S_NS: i128 = NANOS_PER_SECOND;
    const MS_NS: i128 = NANOS_PER_MILLI;

    #[test]
    fn reply_rounding_matches_time_crate() {
        assert_eq!(reply_seconds(-S_NS), -1);
        assert_eq!(reply_seconds(0), 0);
        assert_eq!(reply_seconds(2 * S_NS), 2);
        assert_eq!(reply_seconds(2 * S_NS + MS_NS), 3);
        assert_eq!(
            reply_seconds(2 * S_NS + MS_NS - 1),
            2,
            "sub-ms part is ignored"
        );
        assert_eq!(reply_seconds(S_NS / 2), 1);
        assert_eq!(reply_seconds(-S_NS / 2), 0);
    }

    /// redis-cell's own unit test (`it_rate_limits` in redis-cell-impl),
    /// replayed at nanosecond precision: limit 5 (max_burst 4), 1 per second.
    /// Columns: (offset from start, quantity, remaining, reset_after,
    /// retry_after, limited), durations in ns.
    #[test]
    fn redis_cell_unit_test_table() {
        let start_ns: u64 = 1_700_000_000 * 1_000_000_000;
        #[rustfmt::skip]
        let cases: [(i128, i64, i64, i128, i128, bool); 15] = [
            // You can never make a request larger than the maximum.
            (0, 6, 5, 0, -S_NS, true),
            // Rate limit normal requests appropriately.
            (0, 1, 4, S_NS, -S_NS, false),
            (0, 1, 3, 2 * S_NS, -S_NS, false),
            (0, 1, 2, 3 * S_NS, -S_NS, false),
            (0, 1, 1, 4 * S_NS, -S_NS, false),
            (0, 1, 0, 5 * S_NS, -S_NS, false),
            (0, 1, 0, 5 * S_NS, S_NS, true),
            (3000 * MS_NS, 1, 2, 3000 * MS_NS, -S_NS, false),
            (3100 * MS_NS, 1, 1, 3900 * MS_NS, -S_NS, false),
            (4000 * MS_NS, 1, 1, 4000 * MS_NS, -S_NS, false),
            (8000 * MS_NS, 1, 4, 1000 * MS_NS, -S_NS, false),
            (9500 * MS_NS, 1, 4, 1000 * MS_NS, -S_NS, false),
            // Zero-volume request just peeks at the state.
            (9500 * MS_NS, 0, 4, S_NS, -S_NS, false),
            // High-volume request uses up more of the limit.
            (9500 * MS_NS, 2, 2, 3 * S_NS, -S_NS, false),
            // Large requests cannot exceed limits.
            (9500 * MS_NS, 5, 2, 3 * S_NS, 3 * S_NS, true),
        ];
        let mut state: Option<CellState> = None;
        for (index, &(offset, quantity, remaining, reset, retry, limited)) in
            cases.iter().enumerate()
        {
            let now = start_ns + offset as u64;
            let raw = throttle_raw(state.as_ref(), now, 4, 1, 1, quantity).unwrap();
            assert_eq!(raw.limited, limited, "case {index}");
            assert_eq!(raw.limit, 5, "case {index}");
            assert_eq!(raw.remaining, remaining, "case {index}");
            assert_eq!(raw.reset_after_ns, reset, "case {index}");
            assert_eq!(raw.retry_after_ns, retry, "case {index}");
            let (next, _) = cl_throttle(state.as_ref(), now, 4, 1, 1, quantity).unwrap();
            if let Some(next) = next {
                state = Some(next);
            }
        }
    }

    #[test]
    fn argument_errors() {
        assert_eq!(
            throttle_raw(None, 0, 1, 0, 60, 1),
            Err(ClThrottleError::ZeroRate)
        );
        assert_eq!(
            throttle_raw(None, 0, 1, 1, 0, 1),
            Err(ClThrottleError::ZeroRate)
        );
        // 2e9 per second: 0.5 ns truncates to 0.
        assert_eq!(
            throttle_raw(None, 0, 1, 2_000_000_000, 1, 1),
            Err(ClThrottleError::ZeroRate)
        );
        assert_eq!(
            throttle_raw(None, 0, -1, 1, 1, 1),
            Err(ClThrottleError::Negative("max_burst"))
        );
        assert_eq!(
            throttle_raw(None, 0, 1, 1, 1, -1),
            Err(ClThrottleError::Negative("quantity"))
        );
        assert_eq!(
            throttle_raw(None, 0, 1, 1, i64::MAX, 1),
            Err(ClThrottleError::PeriodTooLong)
        );
    }

    #[test]
    fn state_encoding() {
        let state = CellState::from_tat_ns(1_700_000_000_123_456_789);
        let mut out = Vec::new();
        state.encode(&mut out);
        assert_eq!(CellState::decode(&out), Ok(state));
        assert!(crate::State::decode(&out).is_err());
        assert_eq!(state.idle_expiry_ms(1_700_000_000_000_000_000), 124);
        assert_eq!(state.idle_expiry_ms(u64::MAX), 0);
    }
}
