//! ULIDs: 128-bit lexicographically sortable identifiers
//! (<https://github.com/ulid/spec>).
//!
//! A ULID is a 48-bit Unix-millisecond timestamp followed by 80 random bits,
//! written as 26 characters of Crockford base32 (the first character carries
//! only 3 bits, so it is at most `7`). Text and integer order agree, which is
//! why ULIDs make good keys. Generation is monotonic as the spec's
//! "monotonic factory": within one millisecond (and while the clock is behind
//! the previous ULID) the previous random part is incremented by one instead
//! of drawing a new one, so a sequence of ULIDs is strictly increasing; if the
//! 80 random bits would overflow, generation fails until the next
//! millisecond, as the spec prescribes.

use std::fmt;
use std::str::FromStr;

use crate::IdError;

/// Bits of randomness below the timestamp.
pub const ULID_RANDOM_BITS: u32 = 80;

/// The last Unix millisecond a ULID can carry (2^48 - 1, in the year 10889).
pub const ULID_MAX_TIMESTAMP_MS: u64 = (1 << 48) - 1;

const RANDOM_MASK: u128 = (1 << ULID_RANDOM_BITS) - 1;
const ENCODED_LEN_CHARS: usize = 26;
const BITS_PER_CHAR: u32 = 5;
/// Crockford's base32 alphabet: no I, L, O or U.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/// A ULID as its 128-bit value (timestamp in the top 48 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Ulid(pub u128);

impl Ulid {
    /// Builds a ULID from its parts; fails if they do not fit their bits.
    pub fn from_parts(timestamp_ms: u64, random: u128) -> Result<Ulid, IdError> {
        if timestamp_ms > ULID_MAX_TIMESTAMP_MS {
            return Err(IdError::TimestampOverflow {
                now_ms: timestamp_ms,
                max_ms: ULID_MAX_TIMESTAMP_MS,
            });
        }
        if random > RANDOM_MASK {
            return Err(IdError::InvalidUlid("random part exceeds 80 bits"));
        }
        Ok(Ulid(
            (u128::from(timestamp_ms) << ULID_RANDOM_BITS) | random,
        ))
    }

    /// The Unix-millisecond timestamp.
    pub fn timestamp_ms(&self) -> u64 {
        // The top 48 bits always fit.
        (self.0 >> ULID_RANDOM_BITS) as u64
    }

    /// The 80-bit random part.
    pub fn random(&self) -> u128 {
        self.0 & RANDOM_MASK
    }
}

impl fmt::Display for Ulid {
    /// The canonical 26-character upper-case Crockford base32 form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut text = [0u8; ENCODED_LEN_CHARS];
        for (index, slot) in text.iter_mut().enumerate() {
            let shift = BITS_PER_CHAR * (ENCODED_LEN_CHARS - 1 - index) as u32;
            *slot = ALPHABET[((self.0 >> shift) & 0x1f) as usize];
        }
        // The alphabet is ASCII, so this cannot fail.
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl FromStr for Ulid {
    type Err = IdError;

    /// Parses the 26-character form, case-insensitively. Like the reference
    /// implementation it rejects Crockford's optional aliases (`I`, `L`, `O`)
    /// and `U`, so every ULID has exactly one spelling up to case; a first
    /// character above `7` would overflow 128 bits and is rejected.
    fn from_str(text: &str) -> Result<Ulid, IdError> {
        if text.len() != ENCODED_LEN_CHARS {
            return Err(IdError::InvalidUlid("a ULID has 26 characters"));
        }
        let mut value: u128 = 0;
        for (index, byte) in text.bytes().enumerate() {
            let digit = decode_digit(byte)
                .ok_or(IdError::InvalidUlid("not a Crockford base32 character"))?;
            if index == 0 && digit > 7 {
                return Err(IdError::InvalidUlid("value exceeds 128 bits"));
            }
            value = (value << BITS_PER_CHAR) | u128::from(digit);
        }
        Ok(Ulid(value))
    }
}

fn decode_digit(byte: u8) -> Option<u8> {
    let upper = byte.to_ascii_uppercase();
    ALPHABET
        .iter()
        .position(|&c| c == upper)
        .map(|position| position as u8)
}

/// The next ULID at `now_ms` (Unix milliseconds) with fresh randomness
/// `random` (big-endian), given the previously generated ULID, if any.
///
/// If `now_ms` is not after `last`'s timestamp (same millisecond, or the clock
/// went backwards), the result is `last + 1` in its random part, keeping
/// `last`'s timestamp, as the spec's monotonic factory does; when that would
/// overflow, `Err(Exhausted { wait_until_ms })` names the next millisecond.
/// Otherwise the result is `now_ms` with `random`.
/// `Err(TimestampOverflow)` if `now_ms` does not fit in 48 bits.
pub fn ulid(now_ms: u64, random: [u8; 10], last: Option<Ulid>) -> Result<Ulid, IdError> {
    if let Some(last) = last {
        if now_ms <= last.timestamp_ms() {
            let incremented = last.random() + 1;
            if incremented > RANDOM_MASK {
                return Err(IdError::Exhausted {
                    wait_until_ms: last.timestamp_ms().saturating_add(1),
                });
            }
            return Ulid::from_parts(last.timestamp_ms(), incremented);
        }
    }
    let mut wide = [0u8; 16];
    wide[6..].copy_from_slice(&random);
    Ulid::from_parts(now_ms, u128::from_be_bytes(wide))
}
