//! Token bucket with continuous refill.
//!
//! Definition: the bucket holds at most `C` tokens (`C` = the policy's burst,
//! or its limit when no burst is given) and starts full. Tokens flow in
//! continuously at `limit / window_ms` per millisecond, never beyond `C`. A
//! request of cost `c` at time `t` is allowed iff the bucket holds at least `c`
//! tokens at `t`, and an allowed request removes `c` tokens. Hence after a
//! quiet period up to `C` cost passes at once, and the long-run rate is
//! `limit` per `window_ms`.
//!
//! Exactness: tokens are stored scaled by `window_ms` (one token is
//! `window_ms` units), so `e` elapsed milliseconds add exactly `e * limit`
//! units. Every step is integer arithmetic with no rounding, so there is no
//! drift however calls are spaced: the decisions are exactly those of the
//! real-valued definition, evaluated at millisecond timestamps. Memory: three
//! integers, constant. Error: none.
//!
//! Clock going backwards: a bucket that is not full does not refill until the
//! clock is past the last time it was updated (so a clock step back can never
//! mint tokens); reported durations include that wait. A full bucket is fresh
//! whatever its timestamp.

use crate::codec::{self, put_header, put_varint, DecodeError, Reader};
use crate::{ceil_div, saturate_u64, Decision, Op, Params, RETRY_NEVER_MS};

/// Stored token-bucket state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenBucketState {
    /// The scale of `tokens_scaled`; a policy with another window cannot
    /// interpret it.
    window_ms: u64,
    /// When `tokens_scaled` was last brought up to date.
    last_ms: u64,
    /// Tokens times `window_ms`.
    tokens_scaled: u128,
}

impl TokenBucketState {
    /// The window (and so the token scale) this state was written with.
    pub fn window_ms(&self) -> u64 {
        self.window_ms
    }

    /// When the token count was last brought up to date (Unix ms).
    pub fn last_ms(&self) -> u64 {
        self.last_ms
    }

    /// The token count at [`last_ms`](Self::last_ms), times `window_ms`.
    pub fn tokens_scaled(&self) -> u128 {
        self.tokens_scaled
    }

    pub(crate) fn fits(&self, params: &Params) -> bool {
        self.window_ms == params.window_ms
    }

    /// Appends the versioned encoding (see [`crate::State::encode`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_header(out, codec::TAG_TOKEN_BUCKET);
        put_varint(out, u128::from(self.window_ms));
        put_varint(out, u128::from(self.last_ms));
        put_varint(out, self.tokens_scaled);
    }

    /// Decodes bytes written by [`encode`](Self::encode); never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        match reader.header()? {
            codec::TAG_TOKEN_BUCKET => {}
            tag => return Err(DecodeError::WrongKind(tag)),
        }
        let state = Self::decode_body(&mut reader)?;
        reader.finish()?;
        Ok(state)
    }

    pub(crate) fn decode_body(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let window_ms = reader.u64()?;
        if window_ms == 0 {
            return Err(DecodeError::Invalid("token bucket window is 0"));
        }
        Ok(TokenBucketState {
            window_ms,
            last_ms: reader.u64()?,
            tokens_scaled: reader.u128()?,
        })
    }
}

/// The bucket brought up to date at some call.
struct Bucket {
    /// The time the tokens are valid for: `now`, or later if the clock went
    /// backwards.
    at_ms: u64,
    tokens_scaled: u128,
}

fn full_scaled(params: &Params) -> u128 {
    u128::from(params.capacity) * u128::from(params.window_ms)
}

fn current(params: &Params, state: Option<&TokenBucketState>, now_ms: u64) -> Bucket {
    let full = full_scaled(params);
    match state {
        None => Bucket {
            at_ms: now_ms,
            tokens_scaled: full,
        },
        Some(state) if now_ms >= state.last_ms => {
            let refill = u128::from(now_ms - state.last_ms) * u128::from(params.limit);
            Bucket {
                at_ms: now_ms,
                tokens_scaled: state.tokens_scaled.saturating_add(refill).min(full),
            }
        }
        // The clock is behind a bucket that is not full: wait for the clock
        // rather than refill. (A full bucket has no memory of time, so it is
        // simply fresh; keeping its timestamp would make it differ from the
        // fresh state that replaces it when the key expires.)
        Some(state) if state.tokens_scaled < full => Bucket {
            at_ms: state.last_ms,
            tokens_scaled: state.tokens_scaled,
        },
        Some(_) => Bucket {
            at_ms: now_ms,
            tokens_scaled: full,
        },
    }
}

/// Milliseconds from `now_ms` until `bucket` reaches `target_scaled` tokens.
fn time_until(params: &Params, bucket: &Bucket, now_ms: u64, target_scaled: u128) -> u64 {
    if bucket.tokens_scaled >= target_scaled {
        return 0;
    }
    let lag_ms = u128::from(bucket.at_ms - now_ms);
    let refill_ms = ceil_div(
        target_scaled - bucket.tokens_scaled,
        u128::from(params.limit),
    );
    saturate_u64(lag_ms.saturating_add(refill_ms))
}

pub(crate) fn check(
    params: &Params,
    state: Option<&TokenBucketState>,
    now_ms: u64,
    op: Op,
) -> (Option<TokenBucketState>, Decision) {
    let full = full_scaled(params);
    let mut bucket = current(params, state, now_ms);
    let window = u128::from(params.window_ms);
    let mut changed = false;
    let mut allowed = true;
    let mut retry_after_ms = 0;
    match op {
        Op::Consume(cost) => {
            let need = u128::from(cost) * window;
            if need <= bucket.tokens_scaled {
                bucket.tokens_scaled -= need;
                changed = true;
            } else {
                allowed = false;
                retry_after_ms = if need > full {
                    RETRY_NEVER_MS
                } else {
                    time_until(params, &bucket, now_ms, need)
                };
            }
        }
        Op::Inspect => {}
        Op::Refund(amount) => {
            let refund = u128::from(amount) * window;
            bucket.tokens_scaled = bucket.tokens_scaled.saturating_add(refund).min(full);
            changed = true;
        }
    }
    let decision = Decision {
        allowed,
        limit: params.capacity,
        remaining: saturate_u64(bucket.tokens_scaled / window),
        reset_after_ms: time_until(params, &bucket, now_ms, full),
        retry_after_ms,
    };
    let next = changed.then_some(TokenBucketState {
        window_ms: params.window_ms,
        last_ms: bucket.at_ms,
        tokens_scaled: bucket.tokens_scaled,
    });
    (next, decision)
}

pub(crate) fn idle_expiry_ms(params: &Params, state: &TokenBucketState, now_ms: u64) -> u64 {
    let bucket = current(params, Some(state), now_ms);
    time_until(params, &bucket, now_ms, full_scaled(params))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(limit: u64, window_ms: u64, capacity: u64) -> Params {
        Params {
            limit,
            window_ms,
            capacity,
        }
    }

    #[test]
    fn fractional_refill_does_not_drift() {
        // 1 token per 3 ms, capacity 1: exactly one admission every 3 ms,
        // whatever the spacing of the calls in between.
        let p = params(1, 3, 1);
        let mut state = None;
        let mut admitted_at = Vec::new();
        for now in 0..30 {
            let (next, d) = check(&p, state.as_ref(), now, Op::Consume(1));
            if d.allowed {
                admitted_at.push(now);
                state = next;
            } else {
                assert!(next.is_none());
                assert_eq!(d.retry_after_ms, 3 - (now % 3));
            }
        }
        assert_eq!(admitted_at, (0..30).step_by(3).collect::<Vec<_>>());
    }

    #[test]
    fn clock_going_back_mints_nothing() {
        let p = params(10, 1000, 10);
        let (state, _) = check(&p, None, 5_000, Op::Consume(10));
        let state = state.unwrap();
        let (_, d) = check(&p, Some(&state), 4_000, Op::Consume(1));
        assert!(!d.allowed);
        // 1000 ms back plus 100 ms for one token.
        assert_eq!(d.retry_after_ms, 1_100);
        assert_eq!(d.reset_after_ms, 2_000);
        assert_eq!(idle_expiry_ms(&p, &state, 4_000), 2_000);
    }
}
