//! UUID version 7 (RFC 9562 §5.7) with a monotonic counter.
//!
//! Layout, from the most significant bit: `unix_ts_ms` (48 bits), `ver`
//! (4 bits, `0111`), `rand_a` (12 bits), `var` (2 bits, `10`), `rand_b`
//! (62 bits). To keep UUIDs from one generator strictly increasing within a
//! millisecond, `rand_a` is a fixed-length dedicated counter (RFC 9562 §6.2,
//! method 1): on a new millisecond it is seeded with 11 random bits and a zero
//! top bit (the rollover guard §6.2 describes, leaving at least 2048
//! increments), and within the millisecond it is incremented; `rand_b` is
//! fresh randomness for every UUID. The function cannot fail, so on counter
//! rollover it takes the option §6.2 allows: it moves the timestamp one
//! millisecond ahead of the clock and re-seeds the counter. A clock that went
//! backwards is handled the same way as a repeated millisecond (§6.2,
//! "Monotonic Error Checking": reuse the previous timestamp and increment).

use crate::IdError;

/// The last Unix millisecond a UUIDv7 can carry (2^48 - 1); later
/// timestamps wrap, which the RFC leaves to year-10889 implementations.
pub const UUID_MAX_TIMESTAMP_MS: u64 = (1 << 48) - 1;

const TIMESTAMP_SHIFT_BITS: u32 = 80;
const VERSION_SHIFT_BITS: u32 = 76;
const COUNTER_SHIFT_BITS: u32 = 64;
const VARIANT_SHIFT_BITS: u32 = 62;
const VERSION_7: u128 = 0x7;
const VARIANT_RFC: u128 = 0b10;
const COUNTER_MAX: u64 = (1 << 12) - 1;
/// Seeds leave the counter's top bit clear: the rollover guard.
const COUNTER_SEED_MASK: u64 = (1 << 11) - 1;
const RAND_B_MASK: u128 = (1 << 62) - 1;

/// The next UUIDv7 at `now_ms` (Unix milliseconds) with fresh randomness
/// `random`, given the previous UUID from this function (if any).
///
/// The 10 random bytes, read as a big-endian 80-bit number `r`, supply
/// `rand_b = r mod 2^62` and the counter seed `(r >> 62) mod 2^11`. If
/// `now_ms` is after `last`'s timestamp the counter is re-seeded; otherwise
/// `last`'s timestamp is kept and its counter incremented (or, at 4095, the
/// timestamp advanced by one and the counter re-seeded). The result is always
/// greater than `last` when `last` came from this function.
pub fn uuid_v7(now_ms: u64, random: [u8; 10], last: Option<u128>) -> u128 {
    let mut wide = [0u8; 16];
    wide[6..].copy_from_slice(&random);
    let random = u128::from_be_bytes(wide);
    let seed = (random >> VARIANT_SHIFT_BITS) as u64 & COUNTER_SEED_MASK;
    let (timestamp_ms, counter) = match last {
        Some(last) if now_ms <= uuid_v7_timestamp_ms(last) => {
            let last_ms = uuid_v7_timestamp_ms(last);
            let last_counter = (last >> COUNTER_SHIFT_BITS) as u64 & COUNTER_MAX;
            if last_counter < COUNTER_MAX {
                (last_ms, last_counter + 1)
            } else {
                (last_ms + 1, seed)
            }
        }
        _ => (now_ms, seed),
    };
    compose(timestamp_ms, counter, random & RAND_B_MASK)
}

/// Packs the fields, setting the version and variant bits.
fn compose(timestamp_ms: u64, counter: u64, rand_b: u128) -> u128 {
    (u128::from(timestamp_ms & UUID_MAX_TIMESTAMP_MS) << TIMESTAMP_SHIFT_BITS)
        | (VERSION_7 << VERSION_SHIFT_BITS)
        | (u128::from(counter & COUNTER_MAX) << COUNTER_SHIFT_BITS)
        | (VARIANT_RFC << VARIANT_SHIFT_BITS)
        | (rand_b & RAND_B_MASK)
}

/// The `unix_ts_ms` field of a UUIDv7.
pub fn uuid_v7_timestamp_ms(id: u128) -> u64 {
    (id >> TIMESTAMP_SHIFT_BITS) as u64
}

/// The canonical 8-4-4-4-12 lower-case hex form (RFC 9562 §4).
pub fn format_uuid(id: u128) -> String {
    let hex = format!("{id:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..32]
    )
}

/// Parses the 8-4-4-4-12 hex form, case-insensitively (RFC 9562 §4: input
/// hex digits are case-insensitive). Any version and variant are accepted.
pub fn parse_uuid(text: &str) -> Result<u128, IdError> {
    const TEXT_LEN_CHARS: usize = 36;
    const HYPHENS_AT: [usize; 4] = [8, 13, 18, 23];
    if text.len() != TEXT_LEN_CHARS {
        return Err(IdError::InvalidUuid("a UUID has 36 characters"));
    }
    let mut value: u128 = 0;
    for (index, byte) in text.bytes().enumerate() {
        if HYPHENS_AT.contains(&index) {
            if byte != b'-' {
                return Err(IdError::InvalidUuid("hyphens belong at 8-4-4-4-12"));
            }
            continue;
        }
        let digit = char::from(byte)
            .to_digit(16)
            .ok_or(IdError::InvalidUuid("not a hex digit"))?;
        value = (value << 4) | u128::from(digit);
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 9562 Appendix A.6 example: unix_ts_ms 0x017F22E279B0, rand_a
    /// 0xCC3, rand_b 0x18C4DC0C0C07398F.
    #[test]
    fn compose_reproduces_rfc_example() {
        let id = compose(0x017F_22E2_79B0, 0xCC3, 0x18C4_DC0C_0C07_398F);
        assert_eq!(format_uuid(id), "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
    }
}
