//! Snowflake generator behaviour under an injected clock: strict monotonicity
//! over millions of calls, sequence exhaustion, clock steps back within and
//! beyond the tolerance, restarts, layouts and parsing.

use proptest::prelude::*;
use ringkv_idgen::{parse, Generator, IdError, Layout, Next, DEFAULT_EPOCH_MS};

/// xorshift64*: a deterministic stream for driving the clock in tests.
struct TestRng(u64);

impl TestRng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

const TOLERANCE_MS: u64 = 10;

/// Drives one generator for `total_calls` calls. The real clock only moves
/// forward (mostly by 0-2 ms, sometimes by a large jump); the clock the
/// generator sees lags it by a jitter of up to `TOLERANCE_MS`, so it steps
/// back now and then but never beyond the tolerance. Some ticks are bursts
/// big enough to exhaust a millisecond's sequence.
fn drive(layout: Layout, seed: u64, total_calls: u64) -> (u64, u64, u64) {
    let mut rng = TestRng(seed);
    let (datacenter, worker) = (layout.max_datacenter(), layout.max_worker() / 2);
    let mut generator = Generator::new(layout, datacenter, worker, TOLERANCE_MS).unwrap();
    let mut real_ms = layout.epoch_ms + 1_000;
    let mut last_id: Option<u64> = None;
    let (mut calls, mut exhausted, mut behind) = (0u64, 0u64, 0u64);
    while calls < total_calls {
        let burst = match rng.below(1_000) {
            0..=4 => layout.ids_per_ms() + 7,
            _ => 1 + rng.below(4),
        };
        let seen_ms = real_ms - rng.below(TOLERANCE_MS + 1).min(real_ms - layout.epoch_ms);
        let mut now_ms = seen_ms;
        for _ in 0..burst {
            calls += 1;
            match generator.next(now_ms).unwrap() {
                Next::Id(id) => {
                    assert!(last_id.is_none_or(|last| id > last), "not increasing");
                    let parts = parse(&layout, id);
                    assert_eq!(parts.timestamp_ms, now_ms);
                    assert_eq!((parts.datacenter, parts.worker), (datacenter, worker));
                    if let Some(last) = last_id {
                        let previous = parse(&layout, last);
                        if previous.timestamp_ms == now_ms {
                            assert_eq!(parts.sequence, previous.sequence + 1);
                        } else {
                            assert_eq!(parts.sequence, 0);
                        }
                    }
                    assert_eq!(generator.high_water_ms(), now_ms);
                    last_id = Some(id);
                }
                Next::WaitUntil(at_ms) => {
                    assert!(at_ms > now_ms, "wait for the past");
                    let last_ms = parse(&layout, last_id.unwrap()).timestamp_ms;
                    if now_ms == last_ms {
                        exhausted += 1;
                        assert_eq!(at_ms, now_ms + 1);
                    } else {
                        behind += 1;
                        assert!(at_ms == last_ms || at_ms == last_ms + 1);
                    }
                    // Wait as told, half of the time; otherwise keep calling.
                    if rng.below(2) == 0 {
                        now_ms = at_ms;
                        real_ms = real_ms.max(at_ms);
                    }
                }
            }
        }
        real_ms += match rng.below(100) {
            0 => 1 + rng.below(1_000_000),
            _ => rng.below(3),
        };
    }
    (calls, exhausted, behind)
}

#[test]
fn strictly_increasing_over_millions_of_calls_default_layout() {
    let (calls, exhausted, behind) = drive(Layout::default(), 0x9E37_79B9_7F4A_7C15, 2_000_000);
    assert!(calls >= 2_000_000);
    assert!(exhausted > 0, "no sequence exhaustion exercised");
    assert!(behind > 0, "no clock step back exercised");
}

#[test]
fn strictly_increasing_over_millions_of_calls_small_sequence() {
    let layout = Layout {
        time_bits: 50,
        datacenter_bits: 4,
        worker_bits: 6,
        sequence_bits: 3,
        epoch_ms: 1_000,
    };
    let (calls, exhausted, behind) = drive(layout, 42, 1_000_000);
    assert!(calls >= 1_000_000);
    assert!(exhausted > 1_000);
    assert!(behind > 1_000);
}

#[test]
fn sequence_exhaustion_waits_for_the_next_millisecond() {
    let layout = Layout {
        time_bits: 49,
        datacenter_bits: 5,
        worker_bits: 5,
        sequence_bits: 4,
        epoch_ms: 0,
    };
    let mut generator = Generator::new(layout, 1, 2, 0).unwrap();
    for sequence in 0..16 {
        let Next::Id(id) = generator.next(500).unwrap() else {
            panic!("waited at {sequence}")
        };
        assert_eq!(parse(&layout, id).sequence, sequence);
    }
    assert_eq!(generator.next(500), Ok(Next::WaitUntil(501)));
    assert_eq!(generator.next(500), Ok(Next::WaitUntil(501)));
    let Next::Id(id) = generator.next(501).unwrap() else {
        panic!("no ID after waiting")
    };
    assert_eq!(parse(&layout, id).sequence, 0);
}

#[test]
fn clock_behind_within_tolerance_waits() {
    let mut generator = Generator::new(Layout::default(), 0, 0, 10).unwrap();
    let t = DEFAULT_EPOCH_MS + 1_000;
    let Next::Id(first) = generator.next(t).unwrap() else {
        panic!()
    };
    // Sequence left in `t`: wait until the clock reads `t` again.
    assert_eq!(generator.next(t - 10), Ok(Next::WaitUntil(t)));
    assert_eq!(generator.next(t - 1), Ok(Next::WaitUntil(t)));
    let Next::Id(second) = generator.next(t).unwrap() else {
        panic!()
    };
    assert!(second > first);
    // With `t` used up, the wait is for the millisecond after it.
    let mut out = Vec::new();
    assert_eq!(generator.next_batch(t, 10_000, &mut out), Ok(Some(t + 1)));
    assert_eq!(out.len(), 4094);
    assert_eq!(generator.next(t - 3), Ok(Next::WaitUntil(t + 1)));
}

#[test]
fn clock_behind_beyond_tolerance_is_an_error() {
    let mut generator = Generator::new(Layout::default(), 0, 0, 10).unwrap();
    let t = DEFAULT_EPOCH_MS + 1_000;
    assert!(matches!(generator.next(t), Ok(Next::Id(_))));
    assert_eq!(
        generator.next(t - 11),
        Err(IdError::ClockMovedBackwards { by_ms: 11 })
    );
    let mut out = Vec::new();
    assert_eq!(
        generator.next_batch(t - 1_000, 5, &mut out),
        Err(IdError::ClockMovedBackwards { by_ms: 1_000 })
    );
    assert!(out.is_empty());
    // The error changes nothing: the generator carries on once the clock does.
    assert!(matches!(generator.next(t), Ok(Next::Id(_))));
    let strict = Generator::new(Layout::default(), 0, 0, 0);
    let mut strict = strict.unwrap();
    assert!(matches!(strict.next(t), Ok(Next::Id(_))));
    assert_eq!(
        strict.next(t - 1),
        Err(IdError::ClockMovedBackwards { by_ms: 1 })
    );
}

#[test]
fn restart_with_clock_behind_never_reissues() {
    let layout = Layout::default();
    let t = DEFAULT_EPOCH_MS + 50_000;
    let mut before = Generator::new(layout, 3, 4, 100).unwrap();
    let mut issued = Vec::new();
    assert_eq!(before.next_batch(t, 3, &mut issued), Ok(None));
    let high_water = before.high_water_ms();
    assert_eq!(high_water, t);

    let mut after = Generator::new(layout, 3, 4, 100).unwrap();
    after.restore_high_water(high_water);
    // An older value never lowers the promise.
    after.restore_high_water(high_water - 5);
    assert_eq!(after.high_water_ms(), high_water);
    assert_eq!(after.next(t - 50), Ok(Next::WaitUntil(t + 1)));
    assert_eq!(after.next(t), Ok(Next::WaitUntil(t + 1)));
    assert_eq!(
        after.next(t - 101),
        Err(IdError::ClockMovedBackwards { by_ms: 101 })
    );
    let Next::Id(id) = after.next(t + 1).unwrap() else {
        panic!()
    };
    assert!(issued.iter().all(|&old| id > old));
}

#[test]
fn layout_validation() {
    let ok = Layout::default();
    assert_eq!(ok.validate(), Ok(()));
    let bad_sum = Layout {
        sequence_bits: 13,
        ..ok
    };
    assert!(matches!(bad_sum.validate(), Err(IdError::InvalidLayout(_))));
    let no_time = Layout {
        time_bits: 0,
        datacenter_bits: 20,
        worker_bits: 20,
        sequence_bits: 23,
        epoch_ms: 0,
    };
    assert!(matches!(no_time.validate(), Err(IdError::InvalidLayout(_))));
    // Field sizes whose u8 sum wraps to 63 must not pass.
    let wrapping = Layout {
        time_bits: 255,
        datacenter_bits: 255,
        worker_bits: 255,
        sequence_bits: 66,
        epoch_ms: 0,
    };
    assert!(wrapping.validate().is_err());
    assert!(Generator::new(wrapping, 0, 0, 0).is_err());
    let _ = parse(&wrapping, u64::MAX);
    assert_eq!(
        Generator::new(ok, 32, 0, 0).unwrap_err(),
        IdError::DatacenterOutOfRange { value: 32, bits: 5 }
    );
    assert_eq!(
        Generator::new(ok, 0, 32, 0).unwrap_err(),
        IdError::WorkerOutOfRange { value: 32, bits: 5 }
    );
    assert!(Generator::new(ok, 31, 31, 0).is_ok());
}

#[test]
fn timestamps_outside_the_layout_are_errors() {
    let layout = Layout {
        time_bits: 10,
        datacenter_bits: 20,
        worker_bits: 20,
        sequence_bits: 13,
        epoch_ms: 5_000,
    };
    let mut generator = Generator::new(layout, 0, 0, 0).unwrap();
    assert_eq!(
        generator.next(4_999),
        Err(IdError::BeforeEpoch {
            now_ms: 4_999,
            epoch_ms: 5_000
        })
    );
    assert!(matches!(generator.next(5_000 + 1_023), Ok(Next::Id(_))));
    assert_eq!(
        generator.next(5_000 + 1_024),
        Err(IdError::TimestampOverflow {
            now_ms: 6_024,
            max_ms: 6_023
        })
    );
    let mut near_end = Generator::new(Layout::default(), 0, 0, 0).unwrap();
    assert!(near_end.next(u64::MAX).is_err());
}

/// A random valid layout: four fields summing to 63, time at least 1 bit.
fn layout() -> impl Strategy<Value = Layout> {
    (1u8..=63, any::<u8>(), any::<u8>(), 0u64..=2_000_000_000_000).prop_map(
        |(time_bits, a, b, epoch_ms)| {
            let rest = 63 - time_bits;
            let datacenter_bits = a % (rest + 1);
            let worker_bits = b % (rest - datacenter_bits + 1);
            Layout {
                time_bits,
                datacenter_bits,
                worker_bits,
                sequence_bits: rest - datacenter_bits - worker_bits,
                epoch_ms,
            }
        },
    )
}

proptest! {
    #[test]
    fn parse_inverts_next(
        layout in layout(),
        datacenter in any::<u64>(),
        worker in any::<u64>(),
        offset in any::<u64>(),
        repeat in 1usize..5,
    ) {
        prop_assert_eq!(layout.validate(), Ok(()));
        let datacenter = datacenter & layout.max_datacenter();
        let worker = worker & layout.max_worker();
        let span = layout.max_timestamp_ms() - layout.epoch_ms;
        let now = layout.epoch_ms + offset % span.saturating_add(1).max(1);
        let mut generator = Generator::new(layout, datacenter, worker, 0).unwrap();
        for sequence in 0..repeat as u64 {
            match generator.next(now).unwrap() {
                Next::Id(id) => {
                    prop_assert!(id >> 63 == 0, "sign bit set");
                    let parts = parse(&layout, id);
                    prop_assert_eq!(parts.timestamp_ms, now);
                    prop_assert_eq!(parts.datacenter, datacenter);
                    prop_assert_eq!(parts.worker, worker);
                    prop_assert_eq!(parts.sequence, sequence);
                }
                Next::WaitUntil(at) => {
                    prop_assert!(sequence >= layout.ids_per_ms());
                    prop_assert_eq!(at, now + 1);
                }
            }
        }
    }

    /// `next_batch` issues exactly what repeated `next` calls would.
    #[test]
    fn batch_equals_repeated_next(
        sequence_bits in 0u8..6,
        steps in proptest::collection::vec((0u64..3, 0usize..80, proptest::bool::ANY), 1..60),
    ) {
        let layout = Layout {
            time_bits: 63 - 10 - sequence_bits,
            datacenter_bits: 5,
            worker_bits: 5,
            sequence_bits,
            epoch_ms: 100,
        };
        let mut batched = Generator::new(layout, 1, 1, 5).unwrap();
        let mut single = batched.clone();
        let mut now = 200u64;
        for (advance, count, back) in steps {
            now = if back { now - advance } else { now + advance };
            let mut out = Vec::new();
            let batch = batched.next_batch(now, count, &mut out);
            let mut expected = Vec::new();
            let mut wait = Ok(None);
            for _ in 0..count {
                match single.next(now) {
                    Ok(Next::Id(id)) => expected.push(id),
                    Ok(Next::WaitUntil(at)) => { wait = Ok(Some(at)); break; }
                    Err(e) => { wait = Err(e); break; }
                }
            }
            prop_assert_eq!(&out, &expected);
            prop_assert_eq!(batch, wait);
            prop_assert_eq!(&batched, &single);
        }
    }

    /// However a first run went, a restarted generator that restored its high
    /// water mark issues only larger IDs, whatever its clock does.
    #[test]
    fn restored_generator_never_reissues(
        first_run in proptest::collection::vec((0u64..4, 1usize..40), 1..40),
        restart_offset in -200i64..50,
        second_run in proptest::collection::vec((0u64..4, 1usize..40), 1..40),
    ) {
        let layout = Layout { sequence_bits: 4, time_bits: 49, ..Layout::default() };
        let mut first = Generator::new(layout, 2, 9, 100).unwrap();
        let mut now = DEFAULT_EPOCH_MS + 10_000;
        let mut issued = Vec::new();
        for (advance, count) in first_run {
            now += advance;
            let _ = first.next_batch(now, count, &mut issued).unwrap();
        }
        let highest = issued.iter().copied().max();
        let mut second = Generator::new(layout, 2, 9, 100).unwrap();
        second.restore_high_water(first.high_water_ms());
        let mut now = now.saturating_add_signed(restart_offset);
        for (advance, count) in second_run {
            now += advance;
            let mut out = Vec::new();
            match second.next_batch(now, count, &mut out) {
                Ok(_) => {}
                Err(IdError::ClockMovedBackwards { by_ms }) => prop_assert!(by_ms > 100),
                Err(other) => prop_assert!(false, "unexpected {:?}", other),
            }
            for id in out {
                prop_assert!(highest.is_none_or(|h| id > h), "reissued or went back");
                prop_assert!(parse(&layout, id).timestamp_ms > first.high_water_ms());
            }
        }
    }
}
