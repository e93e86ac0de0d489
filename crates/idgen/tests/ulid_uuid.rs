//! ULID and UUIDv7: format, known vectors from the specs, and monotonicity
//! under an injected clock that repeats, jumps and steps back.

use proptest::prelude::*;
use ringkv_idgen::{
    format_uuid, parse_uuid, ulid, uuid_v7, uuid_v7_timestamp_ms, IdError, Ulid,
    ULID_MAX_TIMESTAMP_MS,
};

fn ulid_text(text: &str) -> Ulid {
    text.parse().unwrap()
}

#[test]
fn ulid_timestamp_vectors() {
    // The spec's timestamp example (ulid/javascript tests): 1469918176385
    // encodes as "01ARYZ6S41".
    let id = ulid(1_469_918_176_385, [0; 10], None).unwrap();
    assert_eq!(&id.to_string()[..10], "01ARYZ6S41");
    assert_eq!(id.to_string(), "01ARYZ6S410000000000000000");
    // The spec's canonical example ULID.
    let example = ulid_text("01ARZ3NDEKTSV4RRFFQ69G5FAV");
    assert_eq!(example.timestamp_ms(), 1_469_922_850_259);
    assert_eq!(example.to_string(), "01ARZ3NDEKTSV4RRFFQ69G5FAV");
    assert_eq!(ulid_text("01arz3ndektsv4rrffq69g5fav"), example);
}

#[test]
fn ulid_random_bytes_are_big_endian() {
    let random = [0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc];
    let id = ulid(0x0102_0304_0506, random, None).unwrap();
    assert_eq!(id.0, 0x0102_0304_0506_0123_4567_89ab_cdef_fedc);
    assert_eq!(id.random(), 0x0123_4567_89ab_cdef_fedc);
    assert_eq!(Ulid::from_parts(id.timestamp_ms(), id.random()), Ok(id));
}

#[test]
fn ulid_monotonic_increment_carries() {
    // The spec's monotonicity example: same millisecond, the random part is
    // incremented, carrying from Z into the next character.
    let last = ulid_text("01BX5ZZKBKACTAV9WEVGEMMVRZ");
    let next = ulid(last.timestamp_ms(), [0xff; 10], Some(last)).unwrap();
    assert_eq!(next.to_string(), "01BX5ZZKBKACTAV9WEVGEMMVS0");
    let after = ulid(last.timestamp_ms(), [0; 10], Some(next)).unwrap();
    assert_eq!(after.to_string(), "01BX5ZZKBKACTAV9WEVGEMMVS1");
    // A clock behind the last ULID keeps its timestamp (monotonic factory).
    let behind = ulid(last.timestamp_ms() - 5_000, [0; 10], Some(after)).unwrap();
    assert_eq!(behind.to_string(), "01BX5ZZKBKACTAV9WEVGEMMVS2");
    // A later millisecond takes fresh randomness.
    let later = ulid(last.timestamp_ms() + 1, [0; 10], Some(behind)).unwrap();
    assert_eq!(later.random(), 0);
    assert_eq!(later.timestamp_ms(), last.timestamp_ms() + 1);
}

#[test]
fn ulid_random_overflow_waits_for_next_millisecond() {
    let full = Ulid::from_parts(1_000, (1 << 80) - 1).unwrap();
    assert_eq!(
        ulid(1_000, [0; 10], Some(full)),
        Err(IdError::Exhausted {
            wait_until_ms: 1_001
        })
    );
    assert!(ulid(1_001, [0; 10], Some(full)).is_ok());
}

#[test]
fn ulid_text_limits() {
    assert_eq!(ulid_text("7ZZZZZZZZZZZZZZZZZZZZZZZZZ"), Ulid(u128::MAX));
    assert_eq!(ulid_text("00000000000000000000000000"), Ulid(0));
    for bad in [
        "80000000000000000000000000",  // beyond 128 bits
        "01ARZ3NDEKTSV4RRFFQ69G5FA",   // 25 characters
        "01ARZ3NDEKTSV4RRFFQ69G5FAVV", // 27 characters
        "01ARZ3NDEKTSV4RRFFQ69G5FAI",  // I is not in the alphabet
        "01ARZ3NDEKTSV4RRFFQ69G5FAL",
        "01ARZ3NDEKTSV4RRFFQ69G5FAO",
        "01ARZ3NDEKTSV4RRFFQ69G5FAU",
        "01ARZ3NDEKTSV4RRFFQ69G5FA-",
        "01ARZ3NDEKTSV4RRFFQ69G5FAé",
    ] {
        assert!(bad.parse::<Ulid>().is_err(), "{bad} parsed");
    }
    assert!(matches!(
        ulid(ULID_MAX_TIMESTAMP_MS + 1, [0; 10], None),
        Err(IdError::TimestampOverflow { .. })
    ));
    assert!(ulid(ULID_MAX_TIMESTAMP_MS, [0; 10], None).is_ok());
}

/// RFC 9562 Appendix A.6: 017F22E2-79B0-7CC3-98C4-DC0C0C07398F is
/// unix_ts_ms 0x017F22E279B0, rand_a 0xCC3, rand_b 0x18C4DC0C0C07398F. The
/// generator seeds counters with a clear top bit, so the vector (counter
/// 0xCC3) is reached as the successor of the same UUID with counter 0xCC2,
/// with random bytes supplying that rand_b.
#[test]
fn uuid_v7_rfc_vector() {
    let previous = parse_uuid("017f22e2-79b0-7cc2-98c4-dc0c0c07398f").unwrap();
    let random = [0, 0, 0x18, 0xc4, 0xdc, 0x0c, 0x0c, 0x07, 0x39, 0x8f];
    let id = uuid_v7(0x017F_22E2_79B0, random, Some(previous));
    assert_eq!(format_uuid(id), "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
    assert_eq!(
        parse_uuid("017F22E2-79B0-7CC3-98C4-DC0C0C07398F"),
        Ok(id),
        "upper case parses too"
    );
    assert_eq!(uuid_v7_timestamp_ms(id), 0x017F_22E2_79B0);
}

#[test]
fn uuid_v7_fields_on_a_new_millisecond() {
    let random = [0xff; 10];
    let id = uuid_v7(0x017F_22E2_79B0, random, None);
    assert_eq!(id >> 80, 0x017F_22E2_79B0);
    assert_eq!((id >> 76) & 0xf, 7, "version");
    assert_eq!((id >> 62) & 0b11, 0b10, "variant");
    assert_eq!(
        (id >> 64) & 0xfff,
        0x7ff,
        "counter seed keeps its top bit 0"
    );
    assert_eq!(id & ((1 << 62) - 1), (1 << 62) - 1, "rand_b from the bytes");
    let text = format_uuid(id);
    assert_eq!(text, "017f22e2-79b0-77ff-bfff-ffffffffffff");
    assert_eq!(parse_uuid(&text), Ok(id));
}

#[test]
fn uuid_v7_counter_rollover_moves_time_ahead() {
    let at_max = parse_uuid("017f22e2-79b0-7fff-8000-000000000000").unwrap();
    let next = uuid_v7(0x017F_22E2_79B0, [0; 10], Some(at_max));
    assert_eq!(uuid_v7_timestamp_ms(next), 0x017F_22E2_79B1);
    assert_eq!((next >> 64) & 0xfff, 0);
    assert!(next > at_max);
}

#[test]
fn uuid_text_errors() {
    for bad in [
        "",
        "017f22e2-79b0-7cc3-98c4-dc0c0c07398",
        "017f22e2-79b0-7cc3-98c4-dc0c0c07398ff",
        "017f22e2_79b0-7cc3-98c4-dc0c0c07398f",
        "017f22e279b0-7cc3-98c4-dc0c0c07398f-",
        "017f22e2-79b0-7cc3-98c4-dc0c0c07398g",
        "017f22e2-79b0-7cc3-98c4-dc0c0c0739é",
        "+17f22e2-79b0-7cc3-98c4-dc0c0c07398f",
    ] {
        assert!(parse_uuid(bad).is_err(), "{bad:?} parsed");
    }
}

/// Clock behaviour for the monotonicity properties: repeat, advance, jump,
/// or step back.
fn clock_steps() -> impl Strategy<Value = Vec<(i64, [u8; 10])>> {
    proptest::collection::vec(
        (
            prop_oneof![6 => Just(0i64), 3 => 1i64..3, 1 => 3i64..100_000, 1 => -50i64..0],
            any::<[u8; 10]>(),
        ),
        1..300,
    )
}

proptest! {
    #[test]
    fn ulids_strictly_increase(start in 0u64..1u64 << 47, steps in clock_steps()) {
        let mut now = start;
        let mut last: Option<Ulid> = None;
        for (step, random) in steps {
            now = now.saturating_add_signed(step);
            let id = ulid(now, random, last).unwrap();
            if let Some(last) = last {
                prop_assert!(id > last);
                prop_assert!(id.to_string() > last.to_string(), "text order differs");
                prop_assert_eq!(id.timestamp_ms(), now.max(last.timestamp_ms()));
            }
            prop_assert_eq!(id.to_string().parse::<Ulid>(), Ok(id));
            prop_assert_eq!(id.to_string().len(), 26);
            last = Some(id);
        }
    }

    #[test]
    fn uuid_v7s_strictly_increase(
        start in 0u64..1u64 << 47,
        steps in clock_steps(),
        // Over 2048 calls in one millisecond roll the counter over.
        burst in prop_oneof![3 => 0usize..10, 1 => 2_049usize..4_200],
    ) {
        let mut now = start;
        let mut last: Option<u128> = None;
        let check = |now: u64, random: [u8; 10], last: &mut Option<u128>| {
            let id = uuid_v7(now, random, *last);
            assert_eq!((id >> 76) & 0xf, 7);
            assert_eq!((id >> 62) & 0b11, 0b10);
            if let Some(previous) = *last {
                assert!(id > previous, "{} after {}", format_uuid(id), format_uuid(previous));
                assert!(format_uuid(id) > format_uuid(previous));
                assert!(uuid_v7_timestamp_ms(id) >= now.min(uuid_v7_timestamp_ms(previous)));
            } else {
                assert_eq!(uuid_v7_timestamp_ms(id), now);
            }
            assert_eq!(parse_uuid(&format_uuid(id)), Ok(id));
            *last = Some(id);
        };
        for (step, random) in steps {
            now = now.saturating_add_signed(step);
            check(now, random, &mut last);
        }
        // A burst in one millisecond, enough to roll the counter over.
        for i in 0..burst {
            check(now, [i as u8; 10], &mut last);
        }
    }
}
