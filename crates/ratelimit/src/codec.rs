//! Byte encoding of limiter state, and the decoder's error type.
//!
//! The server keeps each limiter's state inside an ordinary key and will later
//! replicate those bytes across a cluster, so the format has to be stable,
//! compact and safe to read back from anywhere: a leading format-version byte
//! lets a later release change the layout without misreading old keys, a kind
//! tag says which algorithm wrote the bytes, and every integer is an unsigned
//! LEB128 varint (most fields are small, so most states fit in a dozen
//! bytes). The reader treats its input as hostile: every length and value is
//! checked, allocation is bounded by the input's own length, and no input can
//! make it panic.

use thiserror::Error;

/// The format version written as the first byte of every encoded state.
pub const STATE_FORMAT_VERSION: u8 = 1;

/// Kind tags: the second byte of an encoded state names the algorithm that
/// wrote it. Values are part of the stored format and must never be reused.
pub(crate) const TAG_TOKEN_BUCKET: u8 = 1;
pub(crate) const TAG_LEAKY_BUCKET: u8 = 2;
pub(crate) const TAG_FIXED_WINDOW: u8 = 3;
pub(crate) const TAG_SLIDING_LOG: u8 = 4;
pub(crate) const TAG_SLIDING_WINDOW: u8 = 5;
pub(crate) const TAG_GCRA: u8 = 6;
pub(crate) const TAG_CELL: u8 = 7;

/// A u128 needs at most 19 groups of 7 bits; anything longer is corrupt.
const VARINT_MAX_BYTES: usize = 19;

/// Why a byte string is not a valid encoded state.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// The input has no bytes at all.
    #[error("empty state")]
    Empty,
    /// The first byte is a format version this build does not understand.
    #[error("unsupported state format version {0}")]
    UnsupportedVersion(u8),
    /// The kind tag names no known algorithm.
    #[error("unknown state kind {0}")]
    UnknownKind(u8),
    /// The tag is known but belongs to a different state type (for example a
    /// `CL.THROTTLE` state handed to the `RL.LIMIT` decoder).
    #[error("state kind {0} is not the expected kind")]
    WrongKind(u8),
    /// The input ends in the middle of a field.
    #[error("state is truncated")]
    Truncated,
    /// Bytes are left over after a complete state.
    #[error("{0} trailing bytes after the state")]
    TrailingBytes(usize),
    /// A varint is longer than its type allows or its value does not fit.
    #[error("integer field out of range")]
    Overflow,
    /// The fields parse but break an invariant of the state.
    #[error("invalid state: {0}")]
    Invalid(&'static str),
}

/// Appends `value` as an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u128) {
    loop {
        let low_bits = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(low_bits);
            return;
        }
        out.push(low_bits | 0x80);
    }
}

/// Writes the two header bytes every encoded state starts with.
pub(crate) fn put_header(out: &mut Vec<u8>, tag: u8) {
    out.push(STATE_FORMAT_VERSION);
    out.push(tag);
}

/// A cursor over untrusted bytes; every accessor fails instead of panicking.
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { bytes }
    }

    /// Reads the version byte and kind tag, rejecting unknown versions.
    pub(crate) fn header(&mut self) -> Result<u8, DecodeError> {
        if self.bytes.is_empty() {
            return Err(DecodeError::Empty);
        }
        let version = self.u8()?;
        if version != STATE_FORMAT_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        self.u8()
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len()
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let (&first, rest) = self.bytes.split_first().ok_or(DecodeError::Truncated)?;
        self.bytes = rest;
        Ok(first)
    }

    pub(crate) fn u128(&mut self) -> Result<u128, DecodeError> {
        let mut value: u128 = 0;
        for index in 0..VARINT_MAX_BYTES {
            let byte = self.u8()?;
            let shift = 7 * index as u32;
            let bits = u128::from(byte & 0x7f);
            // The last group may only carry the bits that still fit in 128.
            if shift > 0 && bits.leading_zeros() < shift {
                return Err(DecodeError::Overflow);
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::Overflow)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        u64::try_from(self.u128()?).map_err(|_| DecodeError::Overflow)
    }

    /// Succeeds only if every byte was consumed.
    pub(crate) fn finish(self) -> Result<(), DecodeError> {
        if self.bytes.is_empty() {
            Ok(())
        } else {
            Err(DecodeError::TrailingBytes(self.bytes.len()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trips_extremes() {
        for value in [0u128, 1, 127, 128, 300, u64::MAX as u128, u128::MAX] {
            let mut out = Vec::new();
            put_varint(&mut out, value);
            assert!(out.len() <= VARINT_MAX_BYTES);
            let mut reader = Reader::new(&out);
            assert_eq!(reader.u128(), Ok(value));
            assert_eq!(reader.finish(), Ok(()));
        }
    }

    #[test]
    fn varint_rejects_overlong_and_out_of_range() {
        // 19 continuation bytes: longer than any u128.
        let overlong = [0x80u8; 20];
        assert_eq!(Reader::new(&overlong).u128(), Err(DecodeError::Overflow));
        // 2^128 itself: the 19th group carries one bit too many.
        let mut too_big = vec![0x80u8; 18];
        too_big.push(0x04);
        assert_eq!(Reader::new(&too_big).u128(), Err(DecodeError::Overflow));
        let mut big = Vec::new();
        put_varint(&mut big, u64::MAX as u128 + 1);
        assert_eq!(Reader::new(&big).u64(), Err(DecodeError::Overflow));
        assert_eq!(Reader::new(&[0x80]).u128(), Err(DecodeError::Truncated));
    }
}
