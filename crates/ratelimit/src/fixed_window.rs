//! Fixed window counter.
//!
//! Definition: time is cut into windows `[k * window_ms, (k + 1) * window_ms)`
//! aligned to the Unix epoch, so every key and every server agrees on where a
//! window starts. A request of cost `c` at time `t` is allowed iff the cost
//! already admitted in `t`'s window plus `c` is at most `limit`. Refunds
//! subtract from the current window's count (never below 0).
//!
//! Memory: three integers, constant. Error: the counter is exact per window,
//! but a window-length span straddling a boundary can admit up to
//! `2 * limit` (a full window's worth just before the boundary and another
//! just after); that burst is the price of its simplicity.
//!
//! Clock going backwards into an earlier window: the stored (later) window
//! keeps counting until the clock passes its end, so a clock step back never
//! resets the count. A zero count is fresh whatever window it names.

use crate::codec::{self, put_header, put_varint, DecodeError, Reader};
use crate::{saturate_u64, Decision, Op, Params, RETRY_NEVER_MS};

/// Stored fixed-window state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixedWindowState {
    window_ms: u64,
    /// Start of the window `count` belongs to; a multiple of `window_ms`.
    window_start_ms: u64,
    count: u64,
}

impl FixedWindowState {
    /// The window length this state was written with.
    pub fn window_ms(&self) -> u64 {
        self.window_ms
    }

    /// Start (Unix ms) of the window [`count`](Self::count) belongs to.
    pub fn window_start_ms(&self) -> u64 {
        self.window_start_ms
    }

    /// Cost admitted in that window.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub(crate) fn fits(&self, params: &Params) -> bool {
        self.window_ms == params.window_ms && self.window_start_ms % self.window_ms == 0
    }

    /// Appends the versioned encoding (see [`crate::State::encode`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_header(out, codec::TAG_FIXED_WINDOW);
        put_varint(out, u128::from(self.window_ms));
        put_varint(out, u128::from(self.window_start_ms));
        put_varint(out, u128::from(self.count));
    }

    /// Decodes bytes written by [`encode`](Self::encode); never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        match reader.header()? {
            codec::TAG_FIXED_WINDOW => {}
            tag => return Err(DecodeError::WrongKind(tag)),
        }
        let state = Self::decode_body(&mut reader)?;
        reader.finish()?;
        Ok(state)
    }

    pub(crate) fn decode_body(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let window_ms = reader.u64()?;
        if window_ms == 0 {
            return Err(DecodeError::Invalid("fixed window length is 0"));
        }
        let window_start_ms = reader.u64()?;
        if window_start_ms % window_ms != 0 {
            return Err(DecodeError::Invalid("fixed window start is not aligned"));
        }
        Ok(FixedWindowState {
            window_ms,
            window_start_ms,
            count: reader.u64()?,
        })
    }
}

/// The window in force at a call and what it has admitted.
fn current(params: &Params, state: Option<&FixedWindowState>, now_ms: u64) -> (u64, u64) {
    let start_ms = now_ms - now_ms % params.window_ms;
    match state {
        // A zero count is fresh whatever window it names.
        Some(state) if state.window_start_ms >= start_ms && state.count > 0 => {
            (state.window_start_ms, state.count)
        }
        _ => (start_ms, 0),
    }
}

fn until_window_end(params: &Params, start_ms: u64, now_ms: u64) -> u64 {
    let end_ms = u128::from(start_ms) + u128::from(params.window_ms);
    saturate_u64(end_ms - u128::from(now_ms))
}

pub(crate) fn check(
    params: &Params,
    state: Option<&FixedWindowState>,
    now_ms: u64,
    op: Op,
) -> (Option<FixedWindowState>, Decision) {
    let (start_ms, mut count) = current(params, state, now_ms);
    let mut changed = false;
    let mut allowed = true;
    let mut retry_after_ms = 0;
    match op {
        Op::Consume(cost) => match count.checked_add(cost) {
            Some(after) if after <= params.limit => {
                count = after;
                changed = true;
            }
            _ => {
                allowed = false;
                retry_after_ms = if cost > params.limit {
                    RETRY_NEVER_MS
                } else {
                    until_window_end(params, start_ms, now_ms)
                };
            }
        },
        Op::Inspect => {}
        Op::Refund(amount) => {
            count = count.saturating_sub(amount);
            changed = true;
        }
    }
    let decision = Decision {
        allowed,
        limit: params.limit,
        remaining: params.limit.saturating_sub(count),
        reset_after_ms: if count == 0 {
            0
        } else {
            until_window_end(params, start_ms, now_ms)
        },
        retry_after_ms,
    };
    let next = changed.then_some(FixedWindowState {
        window_ms: params.window_ms,
        window_start_ms: start_ms,
        count,
    });
    (next, decision)
}

pub(crate) fn idle_expiry_ms(params: &Params, state: &FixedWindowState, now_ms: u64) -> u64 {
    let (start_ms, count) = current(params, Some(state), now_ms);
    if count == 0 {
        0
    } else {
        until_window_end(params, start_ms, now_ms)
    }
}
