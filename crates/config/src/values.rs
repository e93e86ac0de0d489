//! Parsing and formatting of scalar config values exactly as Redis 7 does
//! it: integers with `string2ll` strictness, memory sizes with `memtoull`
//! units (`k`=1000, `kb`=1024, `m`, `mb`, `g`, `gb`, `b`, case-insensitive),
//! booleans as `yes`/`no`. Kept separate from the parameter table so each
//! rule has one implementation and its own tests.

/// Redis `string2ll` (the protocol crate's implementation).
pub(crate) use ringkv_protocol::num::parse_i64;

/// The memory units Redis accepts; the whole suffix after the digits must
/// equal one of them (case-insensitive).
const UNITS: [(&str, u64); 7] = [
    ("b", 1),
    ("k", 1000),
    ("kb", 1024),
    ("m", 1000 * 1000),
    ("mb", 1024 * 1024),
    ("g", 1000 * 1000 * 1000),
    ("gb", 1024 * 1024 * 1024),
];

/// Redis `memtoull`: digits followed by an optional unit. Negative values,
/// unknown units and overflow are errors. Two deliberate differences from
/// the C code, both only for inputs Redis accepts by accident: an empty
/// digit string (`""`, `"kb"`) is an error rather than 0, and a plain
/// number too large for `u64` is an error rather than `u64::MAX`.
pub(crate) fn parse_memory(s: &[u8]) -> Option<u64> {
    let digits_end = s
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(s.len());
    let (digits, unit) = s.split_at(digits_end);
    let mul = if unit.is_empty() {
        1
    } else {
        UNITS
            .iter()
            .find(|(name, _)| unit.eq_ignore_ascii_case(name.as_bytes()))
            .map(|&(_, m)| m)?
    };
    // Redis copies the digits into a 128-byte buffer and rejects longer ones.
    if digits.is_empty() || digits.len() >= 128 {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    v.checked_mul(mul)
}

/// Formats a byte count the way `CONFIG REWRITE` writes memory values
/// (Redis `rewriteConfigFormatMemory`): the largest of `gb`/`mb`/`kb` that
/// divides it exactly, else plain bytes.
pub(crate) fn format_memory(bytes: u64) -> String {
    // kb, mb and gb are 2^10, 2^20 and 2^30: divisibility is a matter of
    // trailing zero bits.
    match bytes.trailing_zeros() {
        64 => "0".to_string(),
        30.. => format!("{}gb", bytes >> 30),
        20.. => format!("{}mb", bytes >> 20),
        10.. => format!("{}kb", bytes >> 10),
        _ => bytes.to_string(),
    }
}

/// Redis `yesnotoi`: `yes` or `no`, any case.
pub(crate) fn parse_bool(s: &[u8]) -> Option<bool> {
    if s.eq_ignore_ascii_case(b"yes") {
        Some(true)
    } else if s.eq_ignore_ascii_case(b"no") {
        Some(false)
    } else {
        None
    }
}

pub(crate) fn format_bool(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_like_string2ll() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"6379"), Some(6379));
        assert_eq!(parse_i64(b"-5"), Some(-5));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"+5",
            b"007",
            b" 5",
            b"5 ",
            b"5k",
            b"1.5",
            b"9223372036854775808",
            b"-9223372036854775809",
            b"99999999999999999999999",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory(b"0"), Some(0));
        assert_eq!(parse_memory(b"100"), Some(100));
        assert_eq!(parse_memory(b"100b"), Some(100));
        assert_eq!(parse_memory(b"1k"), Some(1000));
        assert_eq!(parse_memory(b"1kb"), Some(1024));
        assert_eq!(parse_memory(b"1K"), Some(1000));
        assert_eq!(parse_memory(b"1KB"), Some(1024));
        assert_eq!(parse_memory(b"1m"), Some(1_000_000));
        assert_eq!(parse_memory(b"1mb"), Some(1_048_576));
        assert_eq!(parse_memory(b"1Mb"), Some(1_048_576));
        assert_eq!(parse_memory(b"1g"), Some(1_000_000_000));
        assert_eq!(parse_memory(b"1gb"), Some(1_073_741_824));
        assert_eq!(parse_memory(b"007mb"), Some(7 * 1_048_576));
        assert_eq!(parse_memory(b"18446744073709551615"), Some(u64::MAX));
        for bad in [
            &b""[..],
            b"-1",
            b"-1mb",
            b"1tb",
            b"1 mb",
            b" 1",
            b"mb",
            b"1.5mb",
            b"+1",
            b"18446744073709551616",
            b"18446744073709551615kb",
        ] {
            assert_eq!(
                parse_memory(bad),
                None,
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn memory_format() {
        assert_eq!(format_memory(0), "0");
        assert_eq!(format_memory(1000), "1000");
        assert_eq!(format_memory(1024), "1kb");
        assert_eq!(format_memory(3 * 1024 * 1024), "3mb");
        assert_eq!(format_memory(512 * 1024 * 1024), "512mb");
        assert_eq!(format_memory(1024 * 1024 * 1024), "1gb");
        assert_eq!(format_memory(1025), "1025");
    }

    #[test]
    fn booleans() {
        assert_eq!(parse_bool(b"yes"), Some(true));
        assert_eq!(parse_bool(b"YES"), Some(true));
        assert_eq!(parse_bool(b"No"), Some(false));
        assert_eq!(parse_bool(b"1"), None);
        assert_eq!(parse_bool(b"true"), None);
        assert_eq!(parse_bool(b""), None);
        assert_eq!(format_bool(true), "yes");
        assert_eq!(format_bool(false), "no");
    }

    proptest::proptest! {
        #[test]
        fn format_memory_round_trips(bytes in proptest::prelude::any::<u64>()) {
            proptest::prop_assert_eq!(parse_memory(format_memory(bytes).as_bytes()), Some(bytes));
        }

        #[test]
        fn format_memory_round_trips_on_unit_multiples(n in 0u64..(1 << 33), shift in 0u32..3) {
            let bytes = n << (10 * (shift + 1));
            proptest::prop_assert_eq!(parse_memory(format_memory(bytes).as_bytes()), Some(bytes));
        }

        #[test]
        fn integers_round_trip(v in proptest::prelude::any::<i64>()) {
            proptest::prop_assert_eq!(parse_i64(v.to_string().as_bytes()), Some(v));
        }
    }
}
