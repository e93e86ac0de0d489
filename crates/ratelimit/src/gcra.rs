//! GCRA, the generic cell rate algorithm (virtual scheduling form), for
//! `RL.LIMIT ... GCRA`.
//!
//! Definition: requests are scheduled on a virtual timeline with emission
//! interval `T = window_ms / limit` per unit of cost. The state is the
//! theoretical arrival time `TAT` (initially "now"). A request of cost `c` at
//! time `t` is allowed iff
//!
//! ```text
//! max(TAT, t) + c * T - τ <= t,   with τ = C * T
//! ```
//!
//! and then `TAT := max(TAT, t) + c * T`. `C` is the policy's burst (default
//! `limit`): after a quiet period `C` units pass at once. In redis-cell's
//! terms `C = max_burst + 1` (`τ` is its delay variation tolerance);
//! [`crate::cl_throttle`] reproduces that command's replies exactly. A
//! refund moves `TAT` back by `c * T`, never before `t`. The admissions are
//! exactly those of a token bucket of capacity `C` refilled at
//! `limit / window_ms`; GCRA needs a single number of state.
//!
//! Exactness: `T` is generally not a whole number of milliseconds, so time is
//! kept in units of `1 / limit` ms: `t` becomes `t * limit` and `T` becomes
//! `window_ms`, and everything is integer arithmetic without rounding. Memory:
//! one 128-bit number plus the scale, constant. Error: none.
//!
//! Clock going backwards: `TAT` is absolute, so an earlier `t` simply sees a
//! larger backlog `TAT - t`; capacity is never freed by a clock step back.

use crate::codec::{self, put_header, put_varint, DecodeError, Reader};
use crate::{ceil_div, saturate_u64, Decision, Op, Params, RETRY_NEVER_MS};

/// Stored GCRA state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcraState {
    /// The `limit` that defines the time unit of `tat_scaled`.
    scale: u64,
    /// Theoretical arrival time in units of `1 / scale` ms since the epoch.
    tat_scaled: u128,
}

impl GcraState {
    /// The limit whose reciprocal is the time unit of
    /// [`tat_scaled`](Self::tat_scaled).
    pub fn scale(&self) -> u64 {
        self.scale
    }

    /// The theoretical arrival time, in units of `1 / scale` ms since the
    /// Unix epoch.
    pub fn tat_scaled(&self) -> u128 {
        self.tat_scaled
    }

    pub(crate) fn fits(&self, params: &Params) -> bool {
        self.scale == params.limit
    }

    /// Appends the versioned encoding (see [`crate::State::encode`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_header(out, codec::TAG_GCRA);
        put_varint(out, u128::from(self.scale));
        put_varint(out, self.tat_scaled);
    }

    /// Decodes bytes written by [`encode`](Self::encode); never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        match reader.header()? {
            codec::TAG_GCRA => {}
            tag => return Err(DecodeError::WrongKind(tag)),
        }
        let state = Self::decode_body(&mut reader)?;
        reader.finish()?;
        Ok(state)
    }

    pub(crate) fn decode_body(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let scale = reader.u64()?;
        if scale == 0 {
            return Err(DecodeError::Invalid("GCRA scale is 0"));
        }
        Ok(GcraState {
            scale,
            tat_scaled: reader.u128()?,
        })
    }
}

/// `TAT - t` in scaled units: how far the schedule runs ahead of the clock.
fn backlog(state: Option<&GcraState>, now_scaled: u128) -> u128 {
    state.map_or(0, |state| state.tat_scaled.saturating_sub(now_scaled))
}

/// Scaled units to milliseconds, rounded up.
fn to_ms(params: &Params, scaled: u128) -> u64 {
    saturate_u64(ceil_div(scaled, u128::from(params.limit)))
}

pub(crate) fn check(
    params: &Params,
    state: Option<&GcraState>,
    now_ms: u64,
    op: Op,
) -> (Option<GcraState>, Decision) {
    let now_scaled = u128::from(now_ms) * u128::from(params.limit);
    let interval = u128::from(params.window_ms);
    let tolerance = u128::from(params.capacity) * interval;
    let mut backlog = backlog(state, now_scaled);
    let mut changed = false;
    let mut allowed = true;
    let mut retry_after_ms = 0;
    match op {
        Op::Consume(cost) => {
            let increment = u128::from(cost) * interval;
            let after = backlog.saturating_add(increment);
            if after <= tolerance {
                backlog = after;
                changed = true;
            } else {
                allowed = false;
                retry_after_ms = if increment > tolerance {
                    RETRY_NEVER_MS
                } else {
                    to_ms(params, after - tolerance)
                };
            }
        }
        Op::Inspect => {}
        Op::Refund(amount) => {
            backlog = backlog.saturating_sub(u128::from(amount) * interval);
            changed = true;
        }
    }
    let decision = Decision {
        allowed,
        limit: params.capacity,
        remaining: saturate_u64(tolerance.saturating_sub(backlog) / interval),
        reset_after_ms: to_ms(params, backlog),
        retry_after_ms,
    };
    let next = changed.then_some(GcraState {
        scale: params.limit,
        tat_scaled: now_scaled.saturating_add(backlog),
    });
    (next, decision)
}

pub(crate) fn idle_expiry_ms(params: &Params, state: &GcraState, now_ms: u64) -> u64 {
    let now_scaled = u128::from(now_ms) * u128::from(params.limit);
    to_ms(params, backlog(Some(state), now_scaled))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emission_interval_need_not_be_whole_ms() {
        // 3 per 10 ms (T = 3.33 ms), burst 3, a request every millisecond:
        // the bucket never fills again after time 0, so by time n exactly
        // min(n + 1, floor(3 + 0.3 * n)) requests pass -- no rounding drift.
        let p = Params {
            limit: 3,
            window_ms: 10,
            capacity: 3,
        };
        let mut state = None;
        let mut admitted = 0u64;
        for now in 0..=1000u64 {
            let (next, d) = check(&p, state.as_ref(), now, Op::Consume(1));
            if d.allowed {
                admitted += 1;
                state = next;
            }
            assert_eq!(admitted, (now + 1).min((30 + 3 * now) / 10), "at {now}");
        }
    }
}
