//! Properties every algorithm must have, whatever its definition: peeks do not
//! change state, idle expiry returns the state to fresh, states survive
//! encoding, decoding hostile bytes never panics, and extreme inputs saturate
//! instead of overflowing.

use proptest::prelude::*;
use ringkv_ratelimit::{
    check, idle_expiry_ms, Algorithm, CellState, Decision, DecodeError, FixedWindowState,
    GcraState, LeakyBucketState, Policy, SlidingLogState, SlidingWindowState, State,
    TokenBucketState, RETRY_NEVER_MS,
};

fn algorithm() -> impl Strategy<Value = Algorithm> {
    proptest::sample::select(Algorithm::ALL.to_vec())
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        algorithm(),
        1u64..=8,
        1u64..=40,
        proptest::option::of(1u64..=10),
    )
        .prop_map(|(algorithm, limit, window_ms, burst)| Policy {
            algorithm,
            limit,
            window_ms,
            burst: burst.filter(|_| algorithm.accepts_burst()),
        })
}

/// (gap in ms, cost); the clock may also step back a little.
fn steps() -> impl Strategy<Value = Vec<(i64, i64)>> {
    proptest::collection::vec(
        (
            prop_oneof![10 => 0i64..30, 1 => -20i64..0, 1 => 0i64..400],
            prop_oneof![6 => Just(1i64), 3 => 1i64..=12, 1 => Just(0i64), 1 => -3i64..=-1],
        ),
        1..80,
    )
}

fn advance(now: u64, gap: i64) -> u64 {
    now.saturating_add_signed(gap)
}

fn round_trip(state: &State) -> Result<(), TestCaseError> {
    let mut bytes = Vec::new();
    state.encode(&mut bytes);
    prop_assert_eq!(State::decode(&bytes), Ok(state.clone()));
    Ok(())
}

proptest! {
    /// A peek returns exactly what the real call returns, and no state.
    #[test]
    fn peek_predicts_and_changes_nothing(policy in policy(), steps in steps(), start in 0u64..5_000) {
        let mut state: Option<State> = None;
        let mut now = start;
        for (gap, cost) in steps {
            now = advance(now, gap);
            let (peeked_state, peeked) = check(&policy, state.as_ref(), now, cost, true);
            prop_assert!(peeked_state.is_none());
            let (next, real) = check(&policy, state.as_ref(), now, cost, false);
            prop_assert_eq!(peeked, real);
            // Inspection (cost 0) never writes either.
            let (inspected_state, inspected) = check(&policy, state.as_ref(), now, 0, false);
            prop_assert!(inspected_state.is_none());
            prop_assert!(inspected.allowed);
            prop_assert_eq!(inspected.retry_after_ms, 0);
            if let Some(next) = next {
                round_trip(&next)?;
                // The TTL the server will set is the decision's reset time.
                prop_assert_eq!(real.reset_after_ms, idle_expiry_ms(&policy, &next, now));
                state = Some(next);
            }
            prop_assert_eq!(real.allowed, real.retry_after_ms == 0);
        }
    }

    /// After `idle_expiry_ms` without calls, the state behaves exactly like
    /// no state for any continuation; one millisecond earlier it does not.
    #[test]
    fn idle_expiry_returns_to_fresh(
        policy in policy(),
        steps in steps(),
        continuation in steps(),
        start in 0u64..5_000,
    ) {
        let mut state: Option<State> = None;
        let mut now = start;
        for (gap, cost) in steps {
            now = advance(now, gap);
            if let (Some(next), _) = check(&policy, state.as_ref(), now, cost, false) {
                state = Some(next);
            }
        }
        let Some(state) = state else { return Ok(()) };
        let idle = idle_expiry_ms(&policy, &state, now);
        if idle > 0 {
            let (_, before) = check(&policy, Some(&state), now + idle - 1, 0, true);
            let (_, fresh) = check(&policy, None, now + idle - 1, 0, true);
            prop_assert_ne!(before, fresh, "already fresh at {} - 1", idle);
        }
        let mut aged = Some(state);
        let mut fresh: Option<State> = None;
        let mut t = now + idle;
        for (gap, cost) in continuation {
            t = advance(t, gap.max(0));
            let (aged_next, aged_decision) = check(&policy, aged.as_ref(), t, cost, false);
            let (fresh_next, fresh_decision) = check(&policy, fresh.as_ref(), t, cost, false);
            prop_assert_eq!(aged_decision, fresh_decision);
            if aged_next.is_some() {
                aged = aged_next;
            }
            if fresh_next.is_some() {
                fresh = fresh_next;
            }
        }
    }

    /// A state from another algorithm counts as fresh.
    #[test]
    fn foreign_state_counts_as_fresh(
        policy in policy(),
        other in policy(),
        steps in steps(),
        cost in -3i64..12,
    ) {
        prop_assume!(policy.algorithm != other.algorithm);
        let mut state = None;
        let mut now = 1_000;
        for (gap, c) in steps {
            now = advance(now, gap);
            if let (Some(next), _) = check(&other, state.as_ref(), now, c, false) {
                state = Some(next);
            }
        }
        let Some(foreign) = state else { return Ok(()) };
        prop_assert_eq!(
            check(&policy, Some(&foreign), now, cost, false),
            check(&policy, None, now, cost, false)
        );
        prop_assert_eq!(idle_expiry_ms(&policy, &foreign, now), 0);
    }

    /// Arbitrary bytes never panic any decoder; whatever decodes re-encodes
    /// to something that decodes to the same value, and can be used.
    #[test]
    fn decoding_arbitrary_bytes_never_panics(
        bytes in proptest::collection::vec(any::<u8>(), 0..64),
        policy in policy(),
        now in any::<u64>(),
        cost in any::<i64>(),
    ) {
        decode_everything(&bytes, &policy, now, cost)?;
    }

    /// Valid encodings with a byte changed, truncated or extended.
    #[test]
    fn decoding_mutated_states_never_panics(
        policy in policy(),
        steps in steps(),
        position in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        cut in any::<prop::sample::Index>(),
        now in any::<u64>(),
        cost in any::<i64>(),
    ) {
        let mut state = None;
        let mut t = 10_000;
        for (gap, c) in steps {
            t = advance(t, gap);
            if let (Some(next), _) = check(&policy, state.as_ref(), t, c, false) {
                state = Some(next);
            }
        }
        let Some(state) = state else { return Ok(()) };
        let mut bytes = Vec::new();
        state.encode(&mut bytes);
        let mut changed = bytes.clone();
        changed[position.index(bytes.len())] = byte;
        decode_everything(&changed, &policy, now, cost)?;
        decode_everything(&bytes[..cut.index(bytes.len())], &policy, now, cost)?;
        let mut longer = bytes.clone();
        longer.push(byte);
        prop_assert_eq!(State::decode(&longer), Err(DecodeError::TrailingBytes(1)));
    }

    /// Extreme limits, windows, bursts, clocks and costs: no panic, and the
    /// decisions still make sense.
    #[test]
    fn extreme_inputs_saturate(
        algorithm in algorithm(),
        limit in extreme_u64(),
        window_ms in extreme_u64(),
        burst in proptest::option::of(extreme_u64()),
        start in extreme_u64(),
        steps in proptest::collection::vec((extreme_gap(), extreme_cost()), 1..40),
    ) {
        let policy = Policy {
            algorithm,
            limit,
            window_ms,
            burst: burst.filter(|_| algorithm.accepts_burst()),
        };
        let capacity = policy.capacity();
        let mut state: Option<State> = None;
        let mut now = start;
        for (gap, cost) in steps {
            now = advance(now, gap);
            let (next, decision) = check(&policy, state.as_ref(), now, cost, false);
            prop_assert_eq!(decision.limit, capacity);
            prop_assert!(decision.remaining <= capacity);
            prop_assert_eq!(decision.allowed, decision.retry_after_ms == 0);
            if cost > 0 && cost.unsigned_abs() > capacity {
                prop_assert!(!decision.allowed);
                prop_assert_eq!(decision.retry_after_ms, RETRY_NEVER_MS);
            }
            if cost <= 0 {
                prop_assert!(decision.allowed);
            }
            if let Some(next) = next {
                round_trip(&next)?;
                let _ = idle_expiry_ms(&policy, &next, now);
                let _ = idle_expiry_ms(&policy, &next, u64::MAX);
                let _ = idle_expiry_ms(&policy, &next, 0);
                state = Some(next);
            }
        }
    }
}

fn extreme_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        Just(1u64),
        Just(2u64),
        Just(u64::MAX),
        Just(u64::MAX - 1),
        Just(i64::MAX as u64),
        Just(1u64 << 32),
        any::<u64>(),
        1u64..100,
    ]
}

fn extreme_gap() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(0i64),
        Just(i64::MAX),
        Just(i64::MIN),
        any::<i64>(),
        0i64..100
    ]
}

fn extreme_cost() -> impl Strategy<Value = i64> {
    prop_oneof![
        Just(i64::MAX),
        Just(i64::MIN),
        Just(0i64),
        Just(1i64),
        Just(-1i64),
        any::<i64>(),
        1i64..100,
    ]
}

fn decode_everything(
    bytes: &[u8],
    policy: &Policy,
    now: u64,
    cost: i64,
) -> Result<(), TestCaseError> {
    if let Ok(state) = State::decode(bytes) {
        round_trip(&state)?;
        let (_, decision): (_, Decision) = check(policy, Some(&state), now, cost, false);
        prop_assert!(decision.remaining <= policy.capacity());
        let _ = idle_expiry_ms(policy, &state, now);
    }
    if let Ok(state) = CellState::decode(bytes) {
        let _ = ringkv_ratelimit::cl_throttle(Some(&state), now, 3, 10, 60, 1);
        let _ = state.idle_expiry_ms(now);
    }
    macro_rules! typed {
        ($($ty:ty),*) => {$(
            if let Ok(state) = <$ty>::decode(bytes) {
                let mut again = Vec::new();
                state.encode(&mut again);
                prop_assert_eq!(<$ty>::decode(&again), Ok(state));
            }
        )*};
    }
    typed!(
        TokenBucketState,
        LeakyBucketState,
        FixedWindowState,
        SlidingLogState,
        SlidingWindowState,
        GcraState,
        CellState
    );
    Ok(())
}

#[test]
fn decode_errors_are_specific() {
    assert_eq!(State::decode(&[]), Err(DecodeError::Empty));
    assert_eq!(
        State::decode(&[9, 1]),
        Err(DecodeError::UnsupportedVersion(9))
    );
    assert_eq!(State::decode(&[1, 200]), Err(DecodeError::UnknownKind(200)));
    assert_eq!(State::decode(&[1]), Err(DecodeError::Truncated));
    assert_eq!(State::decode(&[1, 1, 5]), Err(DecodeError::Truncated));
    let mut token_bucket = Vec::new();
    let policy = Policy::new(Algorithm::TokenBucket, 3, 10);
    let (state, _) = check(&policy, None, 5, 1, false);
    state.unwrap().encode(&mut token_bucket);
    assert!(matches!(
        GcraState::decode(&token_bucket),
        Err(DecodeError::WrongKind(_))
    ));
    assert!(matches!(
        CellState::decode(&token_bucket),
        Err(DecodeError::WrongKind(_))
    ));
}

#[test]
fn policy_changes_that_keep_units_keep_the_state() {
    // A token bucket drained under burst 10 is still drained under burst 5.
    let wide = Policy::new(Algorithm::TokenBucket, 10, 1_000).with_burst(10);
    let (state, _) = check(&wide, None, 0, 10, false);
    let narrow = wide.with_burst(5);
    let (_, decision) = check(&narrow, state.as_ref(), 0, 1, false);
    assert!(!decision.allowed);
    // A new window changes the token scale: fresh.
    let other_window = Policy::new(Algorithm::TokenBucket, 10, 2_000);
    let (_, decision) = check(&other_window, state.as_ref(), 0, 1, false);
    assert!(decision.allowed);
    assert_eq!(decision.remaining, 9);
    // The sliding log keeps its entries under any policy.
    let log = Policy::new(Algorithm::SlidingLog, 3, 100);
    let (state, _) = check(&log, None, 0, 3, false);
    let (_, decision) = check(
        &Policy::new(Algorithm::SlidingLog, 4, 50),
        state.as_ref(),
        10,
        2,
        false,
    );
    assert!(!decision.allowed);
    assert_eq!(decision.retry_after_ms, 40);
}

#[test]
fn huge_values_saturate_sensibly() {
    let max = Policy::new(Algorithm::TokenBucket, u64::MAX, u64::MAX);
    let (state, decision) = check(&max, None, u64::MAX, i64::MAX, false);
    assert!(decision.allowed);
    assert_eq!(decision.remaining, u64::MAX - i64::MAX as u64);
    let (_, decision) = check(&max, state.as_ref(), u64::MAX, i64::MAX, false);
    assert!(decision.allowed);
    // One request per u64::MAX ms: the retry time saturates rather than wraps.
    let slow = Policy::new(Algorithm::Gcra, 1, u64::MAX);
    let (state, _) = check(&slow, None, 0, 1, false);
    let (_, decision) = check(&slow, state.as_ref(), 0, 1, false);
    assert!(!decision.allowed);
    assert_eq!(decision.retry_after_ms, u64::MAX);
    assert_eq!(decision.reset_after_ms, u64::MAX);
    // Windows ending past u64::MAX.
    let fixed = Policy::new(Algorithm::FixedWindow, 1, u64::MAX - 1);
    let (state, decision) = check(&fixed, None, u64::MAX, 1, false);
    assert!(decision.allowed);
    // The window started at u64::MAX - 1 and ends 2 * (u64::MAX - 1).
    assert_eq!(decision.reset_after_ms, u64::MAX - 2);
    assert_eq!(
        idle_expiry_ms(&fixed, &state.unwrap(), u64::MAX),
        u64::MAX - 2
    );
    // A sliding log with a limit far beyond any entry count.
    let log = Policy::new(Algorithm::SlidingLog, u64::MAX, u64::MAX);
    let mut state = None;
    for now in 0..100u64 {
        let (next, decision) = check(&log, state.as_ref(), now, i64::MAX, false);
        assert_eq!(decision.allowed, now < 2, "at {now}");
        state = next.or(state);
    }
}

/// Regression (found by `idle_expiry_returns_to_fresh`): a refund while the
/// clock is behind the state's timestamp restores the fresh quantities, and
/// the state must then really be fresh, since the server deletes it.
#[test]
fn refunded_state_ahead_of_the_clock_is_fresh() {
    for algorithm in Algorithm::ALL {
        let policy = Policy::new(algorithm, 1, 1);
        let (state, _) = check(&policy, None, 1, 1, false);
        let (state, _) = check(&policy, state.as_ref(), 0, -2, false);
        let state = state.unwrap();
        assert_eq!(idle_expiry_ms(&policy, &state, 0), 0, "{algorithm}");
        assert_eq!(
            check(&policy, Some(&state), 0, 1, false),
            check(&policy, None, 0, 1, false),
            "{algorithm}"
        );
    }
}
