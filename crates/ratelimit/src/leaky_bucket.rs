//! Leaky bucket as a queue.
//!
//! Definition: admitted requests join a FIFO queue that drains continuously at
//! `limit / window_ms` cost units per millisecond. The queue holds at most `C`
//! units (`C` = the policy's burst, or its limit). A request of cost `c` at
//! time `t` is admitted iff `level(t) + c <= C`, where `level(t)` is the cost
//! still queued at `t`; it then joins the back of the queue and leaves it once
//! everything ahead of it and its own cost have drained, i.e. after
//! `(level(t) + c) * window_ms / limit` ms, which [`crate::Decision`] reports as
//! `reset_after_ms` (the queue is empty exactly when the newest request
//! leaves). Refunds drain the queue immediately (never below empty).
//!
//! As an admission rule this is the mirror image of the token bucket (level =
//! capacity - tokens); the queue view adds the departure time, which callers
//! use to delay (shape) a request instead of rejecting it.
//!
//! Exactness: the level is stored scaled by `window_ms`, so `e` ms drain
//! exactly `e * limit` units; integer arithmetic, no drift. Memory: three
//! integers, constant. Error: none (departure times are rounded up to whole
//! milliseconds).
//!
//! Clock going backwards: a non-empty queue does not drain until the clock is
//! past the last update; reported durations include that wait. An empty queue
//! is fresh whatever its timestamp.

use crate::codec::{self, put_header, put_varint, DecodeError, Reader};
use crate::{ceil_div, saturate_u64, Decision, Op, Params, RETRY_NEVER_MS};

/// Stored leaky-bucket state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeakyBucketState {
    /// The scale of `level_scaled`.
    window_ms: u64,
    /// When `level_scaled` was last brought up to date.
    last_ms: u64,
    /// Queued cost times `window_ms`.
    level_scaled: u128,
}

impl LeakyBucketState {
    /// The window (and so the level scale) this state was written with.
    pub fn window_ms(&self) -> u64 {
        self.window_ms
    }

    /// When the level was last brought up to date (Unix ms).
    pub fn last_ms(&self) -> u64 {
        self.last_ms
    }

    /// The queued cost at [`last_ms`](Self::last_ms), times `window_ms`.
    pub fn level_scaled(&self) -> u128 {
        self.level_scaled
    }

    pub(crate) fn fits(&self, params: &Params) -> bool {
        self.window_ms == params.window_ms
    }

    /// Appends the versioned encoding (see [`crate::State::encode`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_header(out, codec::TAG_LEAKY_BUCKET);
        put_varint(out, u128::from(self.window_ms));
        put_varint(out, u128::from(self.last_ms));
        put_varint(out, self.level_scaled);
    }

    /// Decodes bytes written by [`encode`](Self::encode); never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        match reader.header()? {
            codec::TAG_LEAKY_BUCKET => {}
            tag => return Err(DecodeError::WrongKind(tag)),
        }
        let state = Self::decode_body(&mut reader)?;
        reader.finish()?;
        Ok(state)
    }

    pub(crate) fn decode_body(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let window_ms = reader.u64()?;
        if window_ms == 0 {
            return Err(DecodeError::Invalid("leaky bucket window is 0"));
        }
        Ok(LeakyBucketState {
            window_ms,
            last_ms: reader.u64()?,
            level_scaled: reader.u128()?,
        })
    }
}

/// The queue brought up to date at some call.
struct Queue {
    /// `now`, or later if the clock went backwards.
    at_ms: u64,
    level_scaled: u128,
}

fn current(params: &Params, state: Option<&LeakyBucketState>, now_ms: u64) -> Queue {
    match state {
        None => Queue {
            at_ms: now_ms,
            level_scaled: 0,
        },
        Some(state) if now_ms >= state.last_ms => {
            let drained = u128::from(now_ms - state.last_ms) * u128::from(params.limit);
            Queue {
                at_ms: now_ms,
                level_scaled: state.level_scaled.saturating_sub(drained),
            }
        }
        // Clock behind a non-empty queue: no draining until it catches up.
        // An empty queue is fresh whatever its timestamp.
        Some(state) if state.level_scaled > 0 => Queue {
            at_ms: state.last_ms,
            level_scaled: state.level_scaled,
        },
        Some(_) => Queue {
            at_ms: now_ms,
            level_scaled: 0,
        },
    }
}

/// Milliseconds from `now_ms` until the queue has drained down to
/// `target_scaled`.
fn time_until(params: &Params, queue: &Queue, now_ms: u64, target_scaled: u128) -> u64 {
    if queue.level_scaled <= target_scaled {
        return 0;
    }
    let lag_ms = u128::from(queue.at_ms - now_ms);
    let drain_ms = ceil_div(queue.level_scaled - target_scaled, u128::from(params.limit));
    saturate_u64(lag_ms.saturating_add(drain_ms))
}

pub(crate) fn check(
    params: &Params,
    state: Option<&LeakyBucketState>,
    now_ms: u64,
    op: Op,
) -> (Option<LeakyBucketState>, Decision) {
    let window = u128::from(params.window_ms);
    let full = u128::from(params.capacity) * window;
    let mut queue = current(params, state, now_ms);
    let mut changed = false;
    let mut allowed = true;
    let mut retry_after_ms = 0;
    match op {
        Op::Consume(cost) => {
            let need = u128::from(cost) * window;
            let level_after = queue.level_scaled.saturating_add(need);
            if level_after <= full {
                queue.level_scaled = level_after;
                changed = true;
            } else {
                allowed = false;
                retry_after_ms = if need > full {
                    RETRY_NEVER_MS
                } else {
                    // Wait until `need` fits: the level must fall to full - need.
                    time_until(params, &queue, now_ms, full - need)
                };
            }
        }
        Op::Inspect => {}
        Op::Refund(amount) => {
            let refund = u128::from(amount) * window;
            queue.level_scaled = queue.level_scaled.saturating_sub(refund);
            changed = true;
        }
    }
    let decision = Decision {
        allowed,
        limit: params.capacity,
        remaining: saturate_u64(full.saturating_sub(queue.level_scaled) / window),
        reset_after_ms: time_until(params, &queue, now_ms, 0),
        retry_after_ms,
    };
    let next = changed.then_some(LeakyBucketState {
        window_ms: params.window_ms,
        last_ms: queue.at_ms,
        level_scaled: queue.level_scaled,
    });
    (next, decision)
}

pub(crate) fn idle_expiry_ms(params: &Params, state: &LeakyBucketState, now_ms: u64) -> u64 {
    let queue = current(params, Some(state), now_ms);
    time_until(params, &queue, now_ms, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn departure_time_is_queue_position() {
        // Drains 2 units per 10 ms (one unit per 5 ms); queue of 4.
        let p = Params {
            limit: 2,
            window_ms: 10,
            capacity: 4,
        };
        let (s1, d1) = check(&p, None, 100, Op::Consume(1));
        assert!(d1.allowed);
        assert_eq!(d1.reset_after_ms, 5, "first request leaves after 5 ms");
        let (s2, d2) = check(&p, s1.as_ref(), 100, Op::Consume(2));
        assert!(d2.allowed);
        assert_eq!(
            d2.reset_after_ms, 15,
            "queued behind 1 unit, leaves after 3"
        );
        assert_eq!(d2.remaining, 1);
        let (_, d3) = check(&p, s2.as_ref(), 100, Op::Consume(2));
        assert!(!d3.allowed);
        // Needs the level down to 2: one unit must drain first.
        assert_eq!(d3.retry_after_ms, 5);
        let (_, d4) = check(&p, s2.as_ref(), 107, Op::Consume(2));
        assert!(d4.allowed);
        // 3 - 7/5 = 1.6 units left, plus 2 queued: 3.6 units = 18 ms.
        assert_eq!(d4.reset_after_ms, 18);
        let (_, d5) = check(&p, s2.as_ref(), 100, Op::Consume(5));
        assert_eq!(d5.retry_after_ms, RETRY_NEVER_MS);
    }
}
