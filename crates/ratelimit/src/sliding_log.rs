//! Sliding window log: the exact sliding-window limiter.
//!
//! Definition: a request of cost `c` at time `t` is allowed iff the total cost
//! of the requests admitted in `(t - window_ms, t]` plus `c` is at most
//! `limit`. Unlike the fixed window, no span of `window_ms` ever admits more
//! than `limit`, wherever it starts.
//!
//! Representation: the log keeps one `(time, cost)` entry per millisecond in
//! which something was admitted (admissions in the same millisecond are
//! merged), oldest first. Entries that have left the window are pruned
//! whenever the log is rewritten. Refunds remove cost from the newest entries
//! first: a refund undoes the most recent admission.
//!
//! Memory bound: every stored entry has cost >= 1 and the costs in the window
//! sum to at most `limit`, and entries have distinct millisecond times inside
//! one window, so a log holds at most `min(limit, window_ms)` entries (16
//! bytes each in memory, a few bytes each encoded: times are delta-encoded).
//! As a guard for states written under a larger limit, the log is also capped
//! at `limit` entries on every write, dropping the oldest. Each call costs
//! time linear in the number of entries. Error: none, the log is exact.
//!
//! Clock going backwards: entries newer than the clock still count (a clock
//! step back never frees capacity), and a request admitted then is recorded
//! at the newest entry's time so the log stays ordered.

use crate::codec::{self, put_header, put_varint, DecodeError, Reader};
use crate::{saturate_u64, Decision, Op, Params, RETRY_NEVER_MS};

/// One millisecond's admissions in a [`SlidingLogState`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogEntry {
    /// When the admissions happened (Unix ms).
    pub at_ms: u64,
    /// Their total cost (at least 1).
    pub cost: u64,
}

/// Stored sliding-log state: admissions, oldest first, strictly increasing
/// in time.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlidingLogState {
    entries: Vec<LogEntry>,
}

impl SlidingLogState {
    /// The stored entries, oldest first (some may already have left the
    /// window: they are pruned on the next write).
    pub fn entries(&self) -> &[LogEntry] {
        &self.entries
    }

    /// Appends the versioned encoding (see [`crate::State::encode`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        put_header(out, codec::TAG_SLIDING_LOG);
        put_varint(out, self.entries.len() as u128);
        let mut previous_ms = 0;
        for entry in &self.entries {
            // Deltas keep the encoding small: entries are close in time.
            put_varint(out, u128::from(entry.at_ms - previous_ms));
            put_varint(out, u128::from(entry.cost));
            previous_ms = entry.at_ms;
        }
    }

    /// Decodes bytes written by [`encode`](Self::encode); never panics.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut reader = Reader::new(bytes);
        match reader.header()? {
            codec::TAG_SLIDING_LOG => {}
            tag => return Err(DecodeError::WrongKind(tag)),
        }
        let state = Self::decode_body(&mut reader)?;
        reader.finish()?;
        Ok(state)
    }

    pub(crate) fn decode_body(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        const MIN_ENTRY_BYTES: usize = 2;
        let count = reader.u64()?;
        // Never trust the count for allocation: each entry takes at least
        // two bytes, so the input length bounds the real count.
        if count > (reader.remaining() / MIN_ENTRY_BYTES) as u64 {
            return Err(DecodeError::Truncated);
        }
        let mut entries = Vec::with_capacity(count as usize);
        let mut previous_ms: u64 = 0;
        for index in 0..count {
            let delta_ms = reader.u64()?;
            if index > 0 && delta_ms == 0 {
                return Err(DecodeError::Invalid("sliding log times not increasing"));
            }
            let at_ms = previous_ms
                .checked_add(delta_ms)
                .ok_or(DecodeError::Overflow)?;
            let cost = reader.u64()?;
            if cost == 0 {
                return Err(DecodeError::Invalid("sliding log entry with cost 0"));
            }
            entries.push(LogEntry { at_ms, cost });
            previous_ms = at_ms;
        }
        Ok(SlidingLogState { entries })
    }
}

/// Whether an entry still counts at `now_ms`: it is in `(now - window, now]`,
/// or in the future (clock went backwards).
fn in_window(params: &Params, entry: &LogEntry, now_ms: u64) -> bool {
    u128::from(entry.at_ms) + u128::from(params.window_ms) > u128::from(now_ms)
}

/// Milliseconds from `now_ms` until `entry` leaves the window.
fn until_leaves(params: &Params, entry: &LogEntry, now_ms: u64) -> u64 {
    let leaves_at_ms = u128::from(entry.at_ms) + u128::from(params.window_ms);
    saturate_u64(leaves_at_ms.saturating_sub(u128::from(now_ms)))
}

fn used(live: &[LogEntry]) -> u128 {
    live.iter().map(|entry| u128::from(entry.cost)).sum()
}

pub(crate) fn check(
    params: &Params,
    state: Option<&SlidingLogState>,
    now_ms: u64,
    op: Op,
) -> (Option<SlidingLogState>, Decision) {
    let entries = state.map_or(&[][..], |state| state.entries.as_slice());
    let first_live = entries.partition_point(|entry| !in_window(params, entry, now_ms));
    let live = &entries[first_live..];
    let used_before = used(live);
    let limit = u128::from(params.limit);
    let decision_for = |live: &[LogEntry], allowed: bool, retry_after_ms: u64| Decision {
        allowed,
        limit: params.limit,
        remaining: saturate_u64(limit.saturating_sub(used(live))),
        reset_after_ms: live
            .last()
            .map_or(0, |newest| until_leaves(params, newest, now_ms)),
        retry_after_ms,
    };
    match op {
        Op::Inspect => (None, decision_for(live, true, 0)),
        Op::Consume(cost) if used_before + u128::from(cost) <= limit => {
            let mut kept = live.to_vec();
            match kept.last_mut() {
                // Same millisecond, or the clock is behind the newest entry:
                // merge, which keeps the log ordered and small.
                Some(newest) if newest.at_ms >= now_ms => newest.cost += cost,
                _ => kept.push(LogEntry {
                    at_ms: now_ms,
                    cost,
                }),
            }
            cap_entries(params, &mut kept);
            let decision = decision_for(&kept, true, 0);
            (Some(SlidingLogState { entries: kept }), decision)
        }
        Op::Consume(cost) => {
            let retry_after_ms = if u128::from(cost) > limit {
                RETRY_NEVER_MS
            } else {
                // The oldest entries leave first; wait until enough have.
                let excess = used_before + u128::from(cost) - limit;
                let mut freed: u128 = 0;
                live.iter()
                    .find(|entry| {
                        freed += u128::from(entry.cost);
                        freed >= excess
                    })
                    .map_or(RETRY_NEVER_MS, |entry| until_leaves(params, entry, now_ms))
            };
            (None, decision_for(live, false, retry_after_ms))
        }
        Op::Refund(amount) => {
            let mut kept = live.to_vec();
            let mut left = amount;
            while left > 0 {
                let Some(newest) = kept.last_mut() else { break };
                if newest.cost > left {
                    newest.cost -= left;
                    left = 0;
                } else {
                    left -= newest.cost;
                    kept.pop();
                }
            }
            cap_entries(params, &mut kept);
            let decision = decision_for(&kept, true, 0);
            (Some(SlidingLogState { entries: kept }), decision)
        }
    }
}

/// Enforces the memory bound of `limit` entries, dropping the oldest.
fn cap_entries(params: &Params, entries: &mut Vec<LogEntry>) {
    let cap = usize::try_from(params.limit).unwrap_or(usize::MAX);
    if entries.len() > cap {
        entries.drain(..entries.len() - cap);
    }
}

pub(crate) fn idle_expiry_ms(params: &Params, state: &SlidingLogState, now_ms: u64) -> u64 {
    state
        .entries
        .last()
        .map_or(0, |newest| until_leaves(params, newest, now_ms))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoding_is_delta_compact() {
        let state = SlidingLogState {
            entries: vec![
                LogEntry {
                    at_ms: 1_700_000_000_000,
                    cost: 1,
                },
                LogEntry {
                    at_ms: 1_700_000_000_001,
                    cost: 2,
                },
            ],
        };
        let mut out = Vec::new();
        state.encode(&mut out);
        // header 2 + count 1 + (6 + 1) + (1 + 1)
        assert_eq!(out.len(), 12);
        assert_eq!(SlidingLogState::decode(&out), Ok(state));
    }

    #[test]
    fn decode_rejects_unordered_and_zero_cost() {
        let mut out = vec![
            crate::STATE_FORMAT_VERSION,
            codec::TAG_SLIDING_LOG,
            2,
            5,
            1,
            0,
            1,
        ];
        assert!(matches!(
            SlidingLogState::decode(&out),
            Err(DecodeError::Invalid(_))
        ));
        out = vec![crate::STATE_FORMAT_VERSION, codec::TAG_SLIDING_LOG, 1, 5, 0];
        assert!(matches!(
            SlidingLogState::decode(&out),
            Err(DecodeError::Invalid(_))
        ));
        // A huge count with no entries behind it must not allocate.
        out = vec![crate::STATE_FORMAT_VERSION, codec::TAG_SLIDING_LOG];
        put_varint(&mut out, u128::from(u64::MAX));
        assert_eq!(SlidingLogState::decode(&out), Err(DecodeError::Truncated));
    }
}
