//! Each algorithm against an independent model of its definition, over random
//! call sequences with an injected, non-decreasing clock.
//!
//! The models are deliberately written differently from the implementation:
//! they keep the whole history of admissions instead of a compact state, and
//! find durations (`retry_after_ms`, `reset_after_ms`) by stepping the clock
//! one millisecond at a time rather than by formula. Every field of every
//! [`Decision`] must match exactly.

use std::collections::HashMap;

use proptest::prelude::*;
use ringkv_ratelimit::{check, Algorithm, Decision, Policy, State, RETRY_NEVER_MS};

#[derive(Debug, Clone, Copy)]
struct Call {
    gap_ms: u64,
    cost: i64,
    peek: bool,
}

fn calls(max_gap_ms: u64, max_cost: i64) -> impl Strategy<Value = Vec<Call>> {
    let call = (
        prop_oneof![8 => 0..=max_gap_ms, 1 => 0..=max_gap_ms * 10],
        prop_oneof![6 => Just(1i64), 3 => 1..=max_cost, 1 => Just(0i64), 1 => -3i64..=-1],
        proptest::bool::weighted(0.15),
    )
        .prop_map(|(gap_ms, cost, peek)| Call { gap_ms, cost, peek });
    proptest::collection::vec(call, 1..120)
}

fn policy(algorithm: Algorithm) -> impl Strategy<Value = Policy> {
    let burst = if algorithm.accepts_burst() {
        proptest::option::of(1u64..=10).boxed()
    } else {
        Just(None).boxed()
    };
    (1u64..=8, 1u64..=40, burst).prop_map(move |(limit, window_ms, burst)| Policy {
        algorithm,
        limit,
        window_ms,
        burst,
    })
}

/// A model answers the same question as [`check`], from its own history.
trait Model {
    /// The decision for `cost` at `now_ms`; records it only if `commit`.
    fn decide(&mut self, now_ms: u64, cost: i64, commit: bool) -> Decision;
}

/// Drives the implementation and the model through the same calls.
fn run_against_model(
    policy: &Policy,
    start_ms: u64,
    calls: &[Call],
    model: &mut dyn Model,
) -> Result<(), TestCaseError> {
    let mut state: Option<State> = None;
    let mut now_ms = start_ms;
    for (index, call) in calls.iter().enumerate() {
        now_ms += call.gap_ms;
        let (next, got) = check(policy, state.as_ref(), now_ms, call.cost, call.peek);
        let expected = model.decide(now_ms, call.cost, !call.peek);
        prop_assert_eq!(got, expected, "call {} {:?} at {}", index, call, now_ms);
        if call.peek {
            prop_assert!(next.is_none(), "peek returned a state");
        }
        if let Some(next) = next {
            state = Some(next);
        }
    }
    Ok(())
}

/// Smallest `d` in `from..=to` with `holds(d)`.
fn first_ms(from: u64, to: u64, holds: impl Fn(u64) -> bool) -> Option<u64> {
    (from..=to).find(|&d| holds(d))
}

// ---------------------------------------------------------------------------
// Token bucket, leaky bucket and GCRA share one definition: a queue level
// L(t) (= capacity - tokens = GCRA backlog) that drains at limit/window_ms and
// is reflected at 0. The model uses the closed form of the reflected process
// over the full history instead of any running state: with net input
// X(t) = (sum of admitted cost - refunds) - rate * t, the level is
// L(t) = X(t) - min(0, min_k X(just before event k), X(t)).
// Everything is scaled by window_ms to stay in integers.

struct BucketModel {
    capacity: i128,
    window: i128,
    rate: i128,
    start_ms: i128,
    /// (time, scaled signed amount) of every admission and refund.
    events: Vec<(i128, i128)>,
}

impl BucketModel {
    fn new(policy: &Policy, start_ms: u64) -> Self {
        BucketModel {
            capacity: i128::from(policy.burst.unwrap_or(policy.limit)),
            window: i128::from(policy.window_ms),
            rate: i128::from(policy.limit),
            start_ms: i128::from(start_ms),
            events: Vec::new(),
        }
    }

    fn net_input(&self, events: usize, t: i128) -> i128 {
        let arrived: i128 = self.events[..events].iter().map(|e| e.1).sum();
        arrived - self.rate * (t - self.start_ms)
    }

    /// Scaled level at `t`, given all recorded events (none after `t`).
    fn level(&self, t: i128) -> i128 {
        let now = self.net_input(self.events.len(), t);
        let mut lowest = 0.min(now);
        for (k, event) in self.events.iter().enumerate() {
            lowest = lowest.min(self.net_input(k, event.0));
        }
        now - lowest
    }

    fn full(&self) -> i128 {
        self.capacity * self.window
    }

    fn projected(&self, level: i128, after_ms: u64) -> i128 {
        (level - self.rate * i128::from(after_ms)).max(0)
    }
}

impl Model for BucketModel {
    fn decide(&mut self, now_ms: u64, cost: i64, commit: bool) -> Decision {
        let t = i128::from(now_ms);
        let level = self.level(t);
        let amount = i128::from(cost) * self.window;
        let (allowed, level_after) = if cost > 0 {
            if level + amount <= self.full() {
                (true, level + amount)
            } else {
                (false, level)
            }
        } else {
            (true, (level + amount).max(0))
        };
        if commit && allowed && cost != 0 {
            self.events.push((t, amount));
        }
        let horizon = u64::try_from(self.full() + amount.abs()).unwrap();
        let retry_after_ms = if allowed {
            0
        } else if amount > self.full() {
            RETRY_NEVER_MS
        } else {
            first_ms(1, horizon, |d| {
                self.projected(level, d) + amount <= self.full()
            })
            .unwrap()
        };
        Decision {
            allowed,
            limit: u64::try_from(self.capacity).unwrap(),
            remaining: u64::try_from((self.full() - level_after).max(0) / self.window).unwrap(),
            reset_after_ms: first_ms(0, horizon, |d| self.projected(level_after, d) == 0).unwrap(),
            retry_after_ms,
        }
    }
}

// ---------------------------------------------------------------------------
// Fixed window: a count per epoch-aligned window index.

struct FixedWindowModel {
    limit: u64,
    window: u64,
    counts: HashMap<u64, u64>,
}

impl Model for FixedWindowModel {
    fn decide(&mut self, now_ms: u64, cost: i64, commit: bool) -> Decision {
        let index = now_ms / self.window;
        let count = self.counts.get(&index).copied().unwrap_or(0);
        let (allowed, after) = if cost > 0 {
            let cost = cost as u64;
            if count + cost <= self.limit {
                (true, count + cost)
            } else {
                (false, count)
            }
        } else {
            (true, count.saturating_sub(cost.unsigned_abs()))
        };
        if commit {
            self.counts.insert(index, after);
        }
        let count_at = |t: u64| if t / self.window == index { after } else { 0 };
        let retry_after_ms = if allowed {
            0
        } else if cost as u64 > self.limit {
            RETRY_NEVER_MS
        } else {
            first_ms(1, self.window, |d| {
                count_at(now_ms + d) + cost as u64 <= self.limit
            })
            .unwrap()
        };
        Decision {
            allowed,
            limit: self.limit,
            remaining: self.limit - after,
            reset_after_ms: first_ms(0, self.window, |d| count_at(now_ms + d) == 0).unwrap(),
            retry_after_ms,
        }
    }
}

// ---------------------------------------------------------------------------
// Sliding log: every admission ever made, never pruned.

struct SlidingLogModel {
    limit: u64,
    window: u64,
    admitted: Vec<(u64, u64)>,
}

impl SlidingLogModel {
    fn in_window(&self, entries: &[(u64, u64)], t: u64) -> u64 {
        entries
            .iter()
            .filter(|(at, _)| *at <= t && at + self.window > t)
            .map(|(_, cost)| cost)
            .sum()
    }
}

impl Model for SlidingLogModel {
    fn decide(&mut self, now_ms: u64, cost: i64, commit: bool) -> Decision {
        let mut entries = self.admitted.clone();
        let used = self.in_window(&entries, now_ms);
        let allowed = if cost > 0 {
            let ok = used + cost as u64 <= self.limit;
            if ok {
                entries.push((now_ms, cost as u64));
            }
            ok
        } else {
            // Refund newest-first among the entries still in the window.
            let mut left = cost.unsigned_abs();
            for entry in entries.iter_mut().rev() {
                if entry.0 + self.window <= now_ms || left == 0 {
                    break;
                }
                let take = left.min(entry.1);
                entry.1 -= take;
                left -= take;
            }
            true
        };
        let used_after = self.in_window(&entries, now_ms);
        let retry_after_ms = if allowed {
            0
        } else if cost as u64 > self.limit {
            RETRY_NEVER_MS
        } else {
            first_ms(1, self.window, |d| {
                self.in_window(&entries, now_ms + d) + cost as u64 <= self.limit
            })
            .unwrap()
        };
        let reset_after_ms = first_ms(0, self.window, |d| {
            self.in_window(&entries, now_ms + d) == 0
        })
        .unwrap();
        if commit {
            self.admitted = entries;
        }
        Decision {
            allowed,
            limit: self.limit,
            remaining: self.limit - used_after,
            reset_after_ms,
            retry_after_ms,
        }
    }
}

// ---------------------------------------------------------------------------
// Sliding window counter: counts per window index; the estimate is evaluated
// from the formula's definition at every candidate millisecond.

struct SlidingWindowModel {
    limit: u64,
    window: u64,
    counts: HashMap<u64, u64>,
}

impl SlidingWindowModel {
    fn count(counts: &HashMap<u64, u64>, index: Option<u64>) -> u64 {
        index.and_then(|i| counts.get(&i).copied()).unwrap_or(0)
    }

    /// `estimate * window` at `t`.
    fn estimate_scaled(&self, counts: &HashMap<u64, u64>, t: u64) -> u128 {
        let index = t / self.window;
        let elapsed = t % self.window;
        let previous = Self::count(counts, index.checked_sub(1));
        let current = Self::count(counts, Some(index));
        u128::from(previous) * u128::from(self.window - elapsed)
            + u128::from(current) * u128::from(self.window)
    }

    fn fits(&self, counts: &HashMap<u64, u64>, t: u64, cost: u64) -> bool {
        self.estimate_scaled(counts, t) + u128::from(cost) * u128::from(self.window)
            <= u128::from(self.limit) * u128::from(self.window)
    }
}

impl Model for SlidingWindowModel {
    fn decide(&mut self, now_ms: u64, cost: i64, commit: bool) -> Decision {
        let index = now_ms / self.window;
        let mut counts = self.counts.clone();
        let allowed = if cost > 0 {
            let ok = self.fits(&counts, now_ms, cost as u64);
            if ok {
                *counts.entry(index).or_insert(0) += cost as u64;
            }
            ok
        } else {
            let mut left = cost.unsigned_abs();
            for i in [Some(index), index.checked_sub(1)].into_iter().flatten() {
                let count = counts.entry(i).or_insert(0);
                let take = left.min(*count);
                *count -= take;
                left -= take;
            }
            true
        };
        let scaled_limit = u128::from(self.limit) * u128::from(self.window);
        let remaining = (scaled_limit.saturating_sub(self.estimate_scaled(&counts, now_ms))
            / u128::from(self.window)) as u64;
        let retry_after_ms = if allowed {
            0
        } else if cost as u64 > self.limit {
            RETRY_NEVER_MS
        } else {
            first_ms(1, 2 * self.window, |d| {
                self.fits(&counts, now_ms + d, cost as u64)
            })
            .unwrap()
        };
        let reset_after_ms = first_ms(0, 2 * self.window, |d| {
            self.estimate_scaled(&counts, now_ms + d) == 0
                && Self::count(&counts, Some((now_ms + d) / self.window)) == 0
        })
        .unwrap();
        if commit {
            self.counts = counts;
        }
        Decision {
            allowed,
            limit: self.limit,
            remaining,
            reset_after_ms,
            retry_after_ms,
        }
    }
}

fn start_ms() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        0u64..1_000,
        1_600_000_000_000u64..1_800_000_000_000
    ]
}

proptest! {
    #[test]
    fn token_bucket_matches_definition(
        policy in policy(Algorithm::TokenBucket),
        start in start_ms(),
        calls in calls(30, 12),
    ) {
        run_against_model(&policy, start, &calls, &mut BucketModel::new(&policy, start))?;
    }

    #[test]
    fn leaky_bucket_matches_definition(
        policy in policy(Algorithm::LeakyBucket),
        start in start_ms(),
        calls in calls(30, 12),
    ) {
        run_against_model(&policy, start, &calls, &mut BucketModel::new(&policy, start))?;
    }

    #[test]
    fn gcra_matches_definition(
        policy in policy(Algorithm::Gcra),
        start in start_ms(),
        calls in calls(30, 12),
    ) {
        run_against_model(&policy, start, &calls, &mut BucketModel::new(&policy, start))?;
    }

    #[test]
    fn fixed_window_matches_definition(
        policy in policy(Algorithm::FixedWindow),
        start in start_ms(),
        calls in calls(30, 10),
    ) {
        let mut model = FixedWindowModel {
            limit: policy.limit,
            window: policy.window_ms,
            counts: HashMap::new(),
        };
        run_against_model(&policy, start, &calls, &mut model)?;
    }

    #[test]
    fn sliding_log_matches_definition(
        policy in policy(Algorithm::SlidingLog),
        start in start_ms(),
        calls in calls(30, 10),
    ) {
        let mut model = SlidingLogModel {
            limit: policy.limit,
            window: policy.window_ms,
            admitted: Vec::new(),
        };
        run_against_model(&policy, start, &calls, &mut model)?;
    }

    #[test]
    fn sliding_window_matches_definition(
        policy in policy(Algorithm::SlidingWindow),
        start in start_ms(),
        calls in calls(30, 10),
    ) {
        let mut model = SlidingWindowModel {
            limit: policy.limit,
            window: policy.window_ms,
            counts: HashMap::new(),
        };
        run_against_model(&policy, start, &calls, &mut model)?;
    }

    /// The three bucket-shaped algorithms admit exactly the same requests.
    #[test]
    fn buckets_and_gcra_agree(
        limit in 1u64..=8,
        window_ms in 1u64..=40,
        burst in proptest::option::of(1u64..=10),
        start in start_ms(),
        calls in calls(30, 12),
    ) {
        let policies = [Algorithm::TokenBucket, Algorithm::LeakyBucket, Algorithm::Gcra]
            .map(|algorithm| Policy { algorithm, limit, window_ms, burst });
        let mut states: [Option<State>; 3] = [None, None, None];
        let mut now = start;
        for call in &calls {
            now += call.gap_ms;
            let decisions: Vec<Decision> = policies
                .iter()
                .zip(states.iter_mut())
                .map(|(policy, state)| {
                    let (next, decision) = check(policy, state.as_ref(), now, call.cost, call.peek);
                    if let Some(next) = next {
                        *state = Some(next);
                    }
                    decision
                })
                .collect();
            prop_assert_eq!(decisions[0], decisions[1]);
            prop_assert_eq!(decisions[0], decisions[2]);
        }
    }

    /// The sliding window counter stays within its documented error bound
    /// of the exact count of its own admissions.
    #[test]
    fn sliding_window_error_bound(
        limit in 1u64..=20,
        window_ms in 1u64..=50,
        start in start_ms(),
        gaps in proptest::collection::vec(prop_oneof![4 => 0u64..5, 1 => 0u64..60], 1..300),
        costs in proptest::collection::vec(prop_oneof![4 => Just(1u64), 1 => 1u64..=4], 300),
    ) {
        let policy = Policy::new(Algorithm::SlidingWindow, limit, window_ms);
        let mut state = None;
        let mut admitted: Vec<(u64, u64)> = Vec::new();
        let mut now = start;
        let w = u128::from(window_ms);
        for (gap, cost) in gaps.iter().zip(&costs) {
            now += gap;
            let exact: u64 = admitted
                .iter()
                .filter(|(at, _)| at + window_ms > now)
                .map(|(_, c)| c)
                .sum();
            // The counter's own view, from the stored state.
            let (previous, elapsed) = match &state {
                Some(State::SlidingWindow(s)) => {
                    let start_ms = now - now % window_ms;
                    let previous = if s.window_start_ms() == start_ms {
                        s.previous()
                    } else if s.window_start_ms() + window_ms == start_ms {
                        s.current()
                    } else {
                        0
                    };
                    (previous, now - start_ms)
                }
                _ => (0, now % window_ms),
            };
            let (next, decision) = check(&policy, state.as_ref(), now, *cost as i64, false);
            let lhs = u128::from(exact + cost) * w;
            let slack = u128::from(previous) * u128::from(elapsed);
            if decision.allowed {
                prop_assert!(lhs <= u128::from(limit) * w + slack,
                    "over-admitted beyond bound: exact {} + {} prev {} e {}", exact, cost, previous, elapsed);
                admitted.push((now, *cost));
                prop_assert!(exact + cost < 2 * limit, "window-length span above 2*limit - 1");
            } else {
                let weighted = u128::from(previous) * u128::from(window_ms - elapsed);
                prop_assert!(lhs + weighted > u128::from(limit) * w,
                    "under-admitted beyond bound: exact {} + {} prev {} e {}", exact, cost, previous, elapsed);
            }
            if let Some(next) = next {
                state = Some(next);
            }
        }
    }
}

#[test]
fn fixed_window_allows_twice_the_limit_across_a_boundary() {
    let policy = Policy::new(Algorithm::FixedWindow, 5, 1_000);
    let mut state = None;
    let mut admitted = 0;
    for now in [
        1_999u64, 1_999, 1_999, 1_999, 1_999, 2_000, 2_000, 2_000, 2_000, 2_000,
    ] {
        let (next, decision) = check(&policy, state.as_ref(), now, 1, false);
        assert!(decision.allowed, "denied at {now}");
        admitted += 1;
        state = next.or(state);
    }
    // Ten admissions within 2 ms, a window-length span: twice the limit.
    assert_eq!(admitted, 2 * policy.limit);
    let (_, decision) = check(&policy, state.as_ref(), 2_000, 1, false);
    assert!(!decision.allowed);
    assert_eq!(decision.retry_after_ms, 1_000);
}

#[test]
fn sliding_log_does_not_allow_a_boundary_burst() {
    let policy = Policy::new(Algorithm::SlidingLog, 5, 1_000);
    let mut state = None;
    for _ in 0..5 {
        let (next, decision) = check(&policy, state.as_ref(), 1_999, 1, false);
        assert!(decision.allowed);
        state = next;
    }
    for now in [2_000u64, 2_500, 2_998] {
        let (next, decision) = check(&policy, state.as_ref(), now, 1, false);
        assert!(!decision.allowed, "admitted at {now}");
        assert!(next.is_none());
        assert_eq!(decision.retry_after_ms, 2_999 - now);
    }
    let (_, decision) = check(&policy, state.as_ref(), 2_999, 5, false);
    assert!(decision.allowed);
}

#[test]
fn sliding_log_memory_is_bounded_by_limit() {
    let policy = Policy::new(Algorithm::SlidingLog, 3, 1_000_000);
    let mut state = None;
    for now in 0..10_000u64 {
        let (next, _) = check(&policy, state.as_ref(), now, 1, false);
        if let Some(next) = next {
            state = Some(next);
        }
        // Also refund now and then, so new entries keep being admitted.
        if now % 7 == 0 {
            let (next, _) = check(&policy, state.as_ref(), now, -1, false);
            state = next.or(state);
        }
        match &state {
            Some(State::SlidingLog(log)) => assert!(log.entries().len() <= 3),
            other => panic!("unexpected state {other:?}"),
        }
    }
}

#[test]
fn refunds_never_exceed_the_fresh_capacity() {
    for algorithm in Algorithm::ALL {
        let policy = Policy::new(algorithm, 4, 100);
        let (state, _) = check(&policy, None, 1_000, 2, false);
        let (state, decision) = check(&policy, state.as_ref(), 1_000, -50, false);
        assert!(decision.allowed, "{algorithm}");
        assert_eq!(decision.remaining, 4, "{algorithm}");
        assert_eq!(decision.reset_after_ms, 0, "{algorithm}");
        let (_, decision) = check(&policy, state.as_ref(), 1_000, 5, false);
        assert!(!decision.allowed, "{algorithm}: refund above capacity");
        assert_eq!(decision.retry_after_ms, RETRY_NEVER_MS, "{algorithm}");
        let (_, decision) = check(&policy, state.as_ref(), 1_000, 4, false);
        assert!(decision.allowed, "{algorithm}");
    }
}
