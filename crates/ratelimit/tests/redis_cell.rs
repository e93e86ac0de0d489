//! `CL.THROTTLE` replies for concrete call sequences, as redis-cell gives them.
//!
//! Each expected reply is derived by hand from redis-cell's source (GCRA in
//! nanoseconds; reply seconds = `whole_seconds() + (subsec_milliseconds() > 0)`,
//! the rounding introduced by redis-cell PR #58 in 2022; earlier releases
//! truncated), and cross-checked where possible against published outputs:
//! the README example `CL.THROTTLE user123 15 30 60` -> `[0, 16, 15, -1, 2]`,
//! redis-cell's end-to-end test (`0 1 2`), and its unit-test table (replayed at
//! nanosecond level in the crate's unit tests).
//!
//! Assumptions, documented here because they cannot be checked against a
//! running redis-cell from this crate:
//! * the time redis-cell reads (`OffsetDateTime::now_utc()`) is the `now_ns`
//!   passed in; all calls in one sequence see exactly the given times;
//! * a key whose TAT is not after `now` has expired in Redis (its TTL ends at
//!   the TAT), so it behaves as absent.

use proptest::prelude::*;
use ringkv_ratelimit::{check, cl_throttle, Algorithm, CellState, Policy, State};

const NS_PER_MS: u64 = 1_000_000;
const NS_PER_S: u64 = 1_000_000_000;
/// An arbitrary, realistic start time: 2023-11-14T22:13:20Z.
const T0_NS: u64 = 1_700_000_000 * NS_PER_S;

/// Replays `(time, quantity, expected reply)` against one key.
fn replay(max_burst: i64, count: i64, period_s: i64, calls: &[(u64, i64, [i64; 5])]) {
    let mut state: Option<CellState> = None;
    for (index, &(now_ns, quantity, expected)) in calls.iter().enumerate() {
        let (next, reply) =
            cl_throttle(state.as_ref(), now_ns, max_burst, count, period_s, quantity).unwrap();
        assert_eq!(
            reply.to_array(),
            expected,
            "call {index} at t0 + {} ns",
            now_ns - T0_NS
        );
        if let Some(next) = next {
            assert!(!reply.limited && quantity > 0, "call {index} wrote state");
            state = Some(next);
        }
    }
}

/// README: 15 max_burst, 30 per 60 s. Emission interval T = 2 s, tolerance
/// τ = 16 T = 32 s. At one instant, call k (1..=16) makes TAT = t0 + 2k s:
/// allowed, remaining (32 - 2k) / 2 = 16 - k, reset 2k s. Call 17 would need
/// TAT 34 s > now + τ: limited, retry 34 - 32 = 2 s, reset = TAT - now = 32 s.
#[test]
fn readme_example_and_burst_exhaustion() {
    let mut calls = Vec::new();
    for k in 1..=16 {
        calls.push((T0_NS, 1, [0, 16, 16 - k, -1, 2 * k]));
    }
    calls.push((T0_NS, 1, [1, 16, 0, 2, 32]));
    // 1.5 s later: retry 0.5 s -> 1, reset 30.5 s -> 31; remaining
    // (32 - 30.5) / 2 = 0.75 truncates to 0.
    calls.push((T0_NS + 1_500 * NS_PER_MS, 1, [1, 16, 0, 1, 31]));
    // 2 s later one emission interval has passed: allowed, TAT = t0 + 34 s.
    calls.push((T0_NS + 2 * NS_PER_S, 1, [0, 16, 0, -1, 32]));
    // Quantity 0 peeks: same TAT, allowed, nothing stored.
    calls.push((T0_NS + 2 * NS_PER_S, 0, [0, 16, 0, -1, 32]));
    // 10 s later TAT - now = 22 s: remaining (32 - 22) / 2 = 5.
    calls.push((T0_NS + 12 * NS_PER_S, 0, [0, 16, 5, -1, 22]));
    replay(15, 30, 60, &calls);
}

/// A quantity larger than the burst can never pass: limited with retry -1
/// (redis-cell only sets retry_after when increment <= tolerance), reset 0
/// on a fresh key, and remaining the full 16. Exactly the burst passes.
#[test]
fn quantity_beyond_burst() {
    replay(15, 30, 60, &[(T0_NS, 17, [1, 16, 16, -1, 0])]);
    replay(15, 30, 60, &[(T0_NS, 16, [0, 16, 0, -1, 32])]);
}

/// redis-cell's end-to-end test: `CL.THROTTLE user123 0 1 2`, then again
/// "immediately" (1 ms later here), then again after sleeping retry_after.
#[test]
fn end_to_end_test_sequence() {
    replay(
        0,
        1,
        2,
        &[
            (T0_NS, 1, [0, 1, 0, -1, 2]),
            // retry 1.999 s -> 2, reset 1.999 s -> 2.
            (T0_NS + NS_PER_MS, 1, [1, 1, 0, 2, 2]),
            (T0_NS + NS_PER_MS + 2 * NS_PER_S, 1, [0, 1, 0, -1, 2]),
        ],
    );
}

/// redis-cell issue #48 (`0 3 60`, T = 20 s), with the rounding of the
/// current source: 18.5 s rounds up to 19.
#[test]
fn issue_48_sequence_with_current_rounding() {
    replay(
        0,
        3,
        60,
        &[
            (T0_NS, 1, [0, 1, 0, -1, 20]),
            (T0_NS + 1_500 * NS_PER_MS, 1, [1, 1, 0, 19, 19]),
            (T0_NS + 20 * NS_PER_S, 1, [0, 1, 0, -1, 20]),
        ],
    );
}

/// The rounding only looks at whole milliseconds: 1.0005 s replies 1, while
/// 1.001 s replies 2.
#[test]
fn sub_millisecond_fractions_do_not_round_up() {
    replay(
        0,
        1,
        2,
        &[
            (T0_NS, 1, [0, 1, 0, -1, 2]),
            (T0_NS + 999_500_000, 1, [1, 1, 0, 1, 1]),
            (T0_NS + 999 * NS_PER_MS, 1, [1, 1, 0, 2, 2]),
        ],
    );
}

/// 3 per second: T = (1e9 / 3) as i64 = 333_333_333 ns (truncated float
/// division). 333 ms after the first call the key still needs 333_333 ns:
/// limited, yet both durations are below one millisecond and reply 0.
#[test]
fn truncated_emission_interval() {
    replay(
        0,
        3,
        1,
        &[
            (T0_NS, 1, [0, 1, 0, -1, 1]),
            (T0_NS, 1, [1, 1, 0, 1, 1]),
            (T0_NS + 333 * NS_PER_MS, 1, [1, 1, 0, 0, 0]),
            (T0_NS + 334 * NS_PER_MS, 1, [0, 1, 0, -1, 1]),
        ],
    );
}

/// A TAT at or before now is an expired key: identical to no key.
#[test]
fn stale_state_is_an_expired_key() {
    let stale = CellState::from_tat_ns(T0_NS - 1);
    for quantity in [0, 1, 16, 17] {
        assert_eq!(
            cl_throttle(Some(&stale), T0_NS, 15, 30, 60, quantity),
            cl_throttle(None, T0_NS, 15, 30, 60, quantity),
        );
    }
    let (state, _) = cl_throttle(None, T0_NS, 15, 30, 60, 1).unwrap();
    let state = state.unwrap();
    assert_eq!(state.tat_ns(), T0_NS + 2 * NS_PER_S);
    assert_eq!(state.idle_expiry_ms(T0_NS), 2_000);
}

#[test]
fn errors_match_redis_cell_where_it_has_one() {
    let err = cl_throttle(None, T0_NS, 1, 0, 60, 1).unwrap_err();
    assert_eq!(err.to_string(), "Zero rates are not supported");
    assert!(cl_throttle(None, T0_NS, 1, 10, 0, 1).is_err());
    assert!(cl_throttle(None, T0_NS, 1, 10, 60, -1).is_err());
    // Extremes saturate instead of overflowing.
    let (_, reply) = cl_throttle(None, u64::MAX, i64::MAX, 1, 9_000_000_000, 1).unwrap();
    assert!(!reply.limited);
    assert_eq!(reply.limit, i64::MAX);
    let (state, reply) = cl_throttle(None, 0, 0, 1, 9_000_000_000, i64::MAX).unwrap();
    assert!(reply.limited);
    assert_eq!(reply.retry_after_s, -1);
    assert!(state.is_none());
    // 1e18 per second truncates the emission interval to 0 ns.
    assert!(cl_throttle(None, 0, 0, i64::MAX, 1, 1).is_err());
}

proptest! {
    /// With a whole-nanosecond emission interval and millisecond clocks,
    /// `CL.THROTTLE` and `RL.LIMIT ... GCRA BURST max_burst+1` are the same
    /// limiter: identical admissions and remaining counts.
    #[test]
    fn agrees_with_general_gcra(
        max_burst in 0i64..6,
        count in proptest::sample::select(vec![1i64, 2, 4, 5, 8, 10, 16, 20, 25]),
        period_s in 1i64..5,
        calls in proptest::collection::vec((0u64..1_500, 0i64..8), 1..100),
    ) {
        let policy = Policy::new(Algorithm::Gcra, count as u64, period_s as u64 * 1_000)
            .with_burst(max_burst as u64 + 1);
        let mut cell: Option<CellState> = None;
        let mut general: Option<State> = None;
        let mut now_ms = 1_700_000_000_000u64;
        for (gap_ms, quantity) in calls {
            now_ms += gap_ms;
            let (cell_next, reply) = cl_throttle(
                cell.as_ref(), now_ms * NS_PER_MS, max_burst, count, period_s, quantity,
            ).unwrap();
            let (general_next, decision) = check(&policy, general.as_ref(), now_ms, quantity, false);
            prop_assert_eq!(!reply.limited, decision.allowed, "at {} q {}", now_ms, quantity);
            prop_assert_eq!(reply.remaining as u64, decision.remaining);
            prop_assert_eq!(reply.limit as u64, decision.limit);
            if let Some(next) = cell_next { cell = Some(next); }
            if let Some(next) = general_next { general = Some(next); }
        }
    }
}
