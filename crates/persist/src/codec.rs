//! Low-level byte codec shared by the snapshot writer and reader: LEB128 varints, the CRC-64
//! digest, a buffered checksumming output, and a buffered checksumming input that knows its
//! offset and (when it can) how many bytes remain.
//!
//! Invariants the rest of the crate relies on:
//! - [`Input`] feeds every consumed byte to its digest exactly once and in order, so the digest
//!   at any point equals the CRC of the file prefix `[0, offset)`; the snapshot trailer is checked
//!   against that value.
//! - [`Input`] never allocates from a length it read: [`Input::read_bytes_into`] first checks a
//!   declared length against the remaining bytes (when the total is known) and otherwise grows its
//!   buffer only as data actually arrives. A corrupted length therefore costs at most the size of
//!   the file (plus one growth chunk), never gigabytes.
//! - Nothing here panics on any input: every read is bounds-checked and every arithmetic step on
//!   untrusted numbers is checked.

use crate::snapshot::SnapshotError;
use crc_fast::{CrcAlgorithm, Digest};
use std::io::{self, ErrorKind, Read, Write};

/// The checksum used by snapshots: CRC-64/REDIS (Jones polynomial, reflected), the same CRC Redis
/// puts at the end of RDB files, so tooling that knows one knows the other.
pub(crate) const CRC_ALGORITHM: CrcAlgorithm = CrcAlgorithm::Crc64Redis;

/// Longest LEB128 encoding of a u64.
pub(crate) const VARINT_MAX_BYTES: usize = 10;

/// I/O buffer of the snapshot writer and reader.
const IO_BUFFER_BYTES: usize = 64 * 1024;

/// When the total length of the input is unknown, a declared length is honoured by growing the
/// destination at most this much ahead of the bytes actually received.
const GROW_CHUNK_BYTES: usize = 1024 * 1024;

/// A fresh CRC-64/REDIS digest.
pub(crate) fn new_digest() -> Digest {
    Digest::new(CRC_ALGORITHM)
}

/// CRC-64/REDIS of `data` in one call.
pub fn crc64(data: &[u8]) -> u64 {
    crc_fast::checksum(CRC_ALGORITHM, data)
}

/// Appends `v` as an unsigned LEB128 varint.
pub(crate) fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Decodes an unsigned LEB128 varint from the front of `buf`: `Ok(Some((value, len)))`,
/// `Ok(None)` if `buf` ends inside it, `Err(())` if it does not fit in 64 bits.
#[cfg(test)]
pub(crate) fn get_varint(buf: &[u8]) -> Result<Option<(u64, usize)>, ()> {
    let mut value = 0u64;
    for (i, &byte) in buf.iter().enumerate().take(VARINT_MAX_BYTES) {
        let bits = u64::from(byte & 0x7f);
        if i == VARINT_MAX_BYTES - 1 && bits > 1 {
            return Err(());
        }
        value |= bits << (7 * i);
        if byte & 0x80 == 0 {
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= VARINT_MAX_BYTES {
        Err(())
    } else {
        Ok(None)
    }
}

/// A buffered writer that checksums everything it writes (until [`Output::write_unhashed`]).
pub(crate) struct Output<W: Write> {
    inner: W,
    buf: Vec<u8>,
    digest: Digest,
    /// Bytes handed to `inner` plus bytes buffered.
    written: u64,
}

impl<W: Write> Output<W> {
    pub(crate) fn new(inner: W) -> Self {
        Output {
            inner,
            buf: Vec::with_capacity(IO_BUFFER_BYTES),
            digest: new_digest(),
            written: 0,
        }
    }

    /// Bytes produced so far, buffered ones included.
    pub(crate) fn written(&self) -> u64 {
        self.written + self.buf.len() as u64
    }

    /// The scratch buffer, for callers that encode small items in place; they must call
    /// [`Output::maybe_flush`] afterwards.
    pub(crate) fn buf(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    pub(crate) fn put(&mut self, data: &[u8]) -> io::Result<()> {
        if data.len() >= IO_BUFFER_BYTES {
            // Big payloads (long strings) go straight through instead of being copied.
            self.flush_buf()?;
            self.digest.update(data);
            self.inner.write_all(data)?;
            self.written += data.len() as u64;
            return Ok(());
        }
        self.buf.extend_from_slice(data);
        self.maybe_flush()
    }

    pub(crate) fn put_u8(&mut self, v: u8) -> io::Result<()> {
        self.buf.push(v);
        self.maybe_flush()
    }

    pub(crate) fn put_varint(&mut self, v: u64) -> io::Result<()> {
        put_varint(&mut self.buf, v);
        self.maybe_flush()
    }

    /// A length-prefixed byte string.
    pub(crate) fn put_bytes(&mut self, data: &[u8]) -> io::Result<()> {
        self.put_varint(data.len() as u64)?;
        self.put(data)
    }

    pub(crate) fn maybe_flush(&mut self) -> io::Result<()> {
        if self.buf.len() >= IO_BUFFER_BYTES {
            self.flush_buf()?;
        }
        Ok(())
    }

    fn flush_buf(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.digest.update(&self.buf);
            self.inner.write_all(&self.buf)?;
            self.written += self.buf.len() as u64;
            self.buf.clear();
        }
        Ok(())
    }

    /// Flushes the buffer and returns the CRC of everything written so far.
    pub(crate) fn checksum(&mut self) -> io::Result<u64> {
        self.flush_buf()?;
        Ok(self.digest.finalize())
    }

    /// Writes bytes that are not part of the checksummed content (the checksum itself).
    pub(crate) fn write_unhashed(&mut self, data: &[u8]) -> io::Result<()> {
        self.flush_buf()?;
        self.inner.write_all(data)?;
        self.written += data.len() as u64;
        Ok(())
    }

    pub(crate) fn into_inner(mut self) -> io::Result<W> {
        self.flush_buf()?;
        self.inner.flush()?;
        Ok(self.inner)
    }
}

/// A buffered, checksumming, offset-tracking reader over untrusted bytes.
pub(crate) struct Input<R: Read> {
    inner: R,
    buf: Box<[u8]>,
    /// Next unconsumed byte of `buf`.
    pos: usize,
    /// Valid bytes in `buf`.
    filled: usize,
    /// `buf[..hashed]` has been fed to the digest (`hashed <= pos`).
    hashed: usize,
    digest: Digest,
    /// File offset of `buf[pos]`: bytes consumed so far.
    offset: u64,
    /// Total length of the input when known (a file); bounds declared lengths.
    total: Option<u64>,
}

impl<R: Read> Input<R> {
    pub(crate) fn new(inner: R, total: Option<u64>) -> Self {
        Input {
            inner,
            buf: vec![0u8; IO_BUFFER_BYTES].into_boxed_slice(),
            pos: 0,
            filled: 0,
            hashed: 0,
            digest: new_digest(),
            offset: 0,
            total,
        }
    }

    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes left after the current offset, when the total is known.
    pub(crate) fn remaining(&self) -> Option<u64> {
        self.total.map(|t| t.saturating_sub(self.offset))
    }

    fn hash_pending(&mut self) {
        if self.hashed < self.pos {
            self.digest.update(&self.buf[self.hashed..self.pos]);
            self.hashed = self.pos;
        }
    }

    /// CRC of every byte consumed so far.
    pub(crate) fn checksum(&mut self) -> u64 {
        self.hash_pending();
        self.digest.finalize()
    }

    fn read_inner(&mut self, into: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.inner.read(into) {
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Refills the (fully consumed) buffer. Returns false at end of input.
    fn fill(&mut self) -> io::Result<bool> {
        self.hash_pending();
        self.pos = 0;
        self.hashed = 0;
        self.filled = 0;
        let mut buf = std::mem::take(&mut self.buf);
        let n = self.read_inner(&mut buf);
        self.buf = buf;
        let n = n?;
        self.filled = n;
        Ok(n > 0)
    }

    /// True if no byte is left.
    pub(crate) fn at_eof(&mut self) -> Result<bool, SnapshotError> {
        if self.pos < self.filled {
            return Ok(false);
        }
        Ok(!self.fill().map_err(|e| self.io_error(e))?)
    }

    fn io_error(&self, source: io::Error) -> SnapshotError {
        SnapshotError::Io {
            offset: self.offset,
            source,
        }
    }

    fn truncated(&self, expected: &'static str) -> SnapshotError {
        SnapshotError::Truncated {
            offset: self.offset,
            expected,
        }
    }

    /// Fills `out` completely or fails with `Truncated`.
    pub(crate) fn read_exact(
        &mut self,
        out: &mut [u8],
        expected: &'static str,
    ) -> Result<(), SnapshotError> {
        let mut done = 0;
        while done < out.len() {
            if self.pos == self.filled {
                if out.len() - done >= self.buf.len() {
                    // Large reads bypass the buffer (and are hashed as they land).
                    self.hash_pending();
                    self.pos = 0;
                    self.hashed = 0;
                    self.filled = 0;
                    let n = self
                        .read_inner(&mut out[done..])
                        .map_err(|e| self.io_error(e))?;
                    if n == 0 {
                        return Err(self.truncated(expected));
                    }
                    self.digest.update(&out[done..done + n]);
                    done += n;
                    self.offset += n as u64;
                    continue;
                }
                if !self.fill().map_err(|e| self.io_error(e))? {
                    return Err(self.truncated(expected));
                }
            }
            let n = (self.filled - self.pos).min(out.len() - done);
            out[done..done + n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            done += n;
            self.offset += n as u64;
        }
        Ok(())
    }

    pub(crate) fn read_u8(&mut self, expected: &'static str) -> Result<u8, SnapshotError> {
        if self.pos == self.filled && !self.fill().map_err(|e| self.io_error(e))? {
            return Err(self.truncated(expected));
        }
        let b = self.buf[self.pos];
        self.pos += 1;
        self.offset += 1;
        Ok(b)
    }

    pub(crate) fn read_u16_le(&mut self, expected: &'static str) -> Result<u16, SnapshotError> {
        let mut b = [0u8; 2];
        self.read_exact(&mut b, expected)?;
        Ok(u16::from_le_bytes(b))
    }

    pub(crate) fn read_u32_le(&mut self, expected: &'static str) -> Result<u32, SnapshotError> {
        let mut b = [0u8; 4];
        self.read_exact(&mut b, expected)?;
        Ok(u32::from_le_bytes(b))
    }

    pub(crate) fn read_u64_le(&mut self, expected: &'static str) -> Result<u64, SnapshotError> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b, expected)?;
        Ok(u64::from_le_bytes(b))
    }

    pub(crate) fn read_i64_le(&mut self, expected: &'static str) -> Result<i64, SnapshotError> {
        let mut b = [0u8; 8];
        self.read_exact(&mut b, expected)?;
        Ok(i64::from_le_bytes(b))
    }

    /// An unsigned LEB128 varint of at most 10 bytes whose value fits in 64 bits.
    pub(crate) fn read_varint(&mut self, expected: &'static str) -> Result<u64, SnapshotError> {
        let start = self.offset;
        let mut value = 0u64;
        for i in 0..VARINT_MAX_BYTES {
            let byte = self.read_u8(expected)?;
            let bits = u64::from(byte & 0x7f);
            if i == VARINT_MAX_BYTES - 1 && bits > 1 {
                break;
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(SnapshotError::Corrupt {
            offset: start,
            reason: format!("{expected}: varint does not fit in 64 bits"),
        })
    }

    /// Checks a declared length or count against what is left of the input. `min_item_bytes` is
    /// the smallest encoding of one counted item (1 for a byte length).
    pub(crate) fn check_len(
        &self,
        what: &'static str,
        len: u64,
        len_offset: u64,
        min_item_bytes: u64,
    ) -> Result<usize, SnapshotError> {
        let too_big = |remaining| SnapshotError::LengthExceedsFile {
            what,
            len,
            offset: len_offset,
            remaining,
        };
        if let Some(remaining) = self.remaining() {
            if len.saturating_mul(min_item_bytes) > remaining {
                return Err(too_big(remaining));
            }
        }
        usize::try_from(len).map_err(|_| too_big(self.remaining().unwrap_or(0)))
    }

    /// A varint length followed by that many bytes, into `out` (cleared first). The length is
    /// checked against the remaining input before anything is allocated.
    pub(crate) fn read_bytes_into(
        &mut self,
        out: &mut Vec<u8>,
        what: &'static str,
    ) -> Result<(), SnapshotError> {
        let len_offset = self.offset;
        let len = self.read_varint(what)?;
        let len = self.check_len(what, len, len_offset, 1)?;
        out.clear();
        if self.total.is_some() {
            // Bounded by the remaining file just above.
            out.resize(len, 0);
            return self.read_exact(out, what);
        }
        // Unknown total: never run more than one chunk ahead of the data received.
        while out.len() < len {
            let old = out.len();
            let step = (len - old).min(GROW_CHUNK_BYTES);
            out.resize(old + step, 0);
            self.read_exact(&mut out[old..], what)?;
        }
        Ok(())
    }

    pub(crate) fn read_bytes(&mut self, what: &'static str) -> Result<Vec<u8>, SnapshotError> {
        let mut v = Vec::new();
        self.read_bytes_into(&mut v, what)?;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn crc64_redis_check_value() {
        // The CRC-64/REDIS check value (also in Redis's crc64.c self-test).
        assert_eq!(crc64(b"123456789"), 0xe9c6_d914_c4b8_d9ca);
    }

    #[test]
    fn varint_edges() {
        for v in [
            0u64,
            1,
            127,
            128,
            255,
            300,
            16_383,
            16_384,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert!(b.len() <= VARINT_MAX_BYTES);
            assert_eq!(get_varint(&b), Ok(Some((v, b.len()))));
            let mut input = Input::new(&b[..], None);
            assert_eq!(input.read_varint("v").ok(), Some(v));
            assert_eq!(input.offset(), b.len() as u64);
        }
        // 2^64 does not fit.
        let mut over = vec![0xffu8; 9];
        over.push(0x02);
        assert_eq!(get_varint(&over), Err(()));
        let mut input = Input::new(&over[..], None);
        assert!(matches!(
            input.read_varint("v"),
            Err(SnapshotError::Corrupt { offset: 0, .. })
        ));
        // Eleven continuation bytes are rejected after ten.
        let long = vec![0x80u8; 11];
        assert_eq!(get_varint(&long), Err(()));
        assert_eq!(get_varint(&[0x80]), Ok(None));
    }

    #[test]
    fn huge_length_is_rejected_before_allocating() {
        // A length of 2^60 with a known total fails immediately...
        let mut b = Vec::new();
        put_varint(&mut b, 1 << 60);
        b.extend_from_slice(b"abc");
        let total = b.len() as u64;
        let mut input = Input::new(&b[..], Some(total));
        match input.read_bytes("key") {
            Err(SnapshotError::LengthExceedsFile {
                len,
                offset: 0,
                remaining: 3,
                ..
            }) => assert_eq!(len, 1 << 60),
            other => panic!("unexpected {other:?}"),
        }
        // ...and with an unknown total it fails at end of input after at most one chunk.
        let mut input = Input::new(&b[..], None);
        assert!(matches!(
            input.read_bytes("key"),
            Err(SnapshotError::Truncated { .. }) | Err(SnapshotError::LengthExceedsFile { .. })
        ));
    }

    proptest! {
        #[test]
        fn varint_round_trip(v in any::<u64>()) {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            prop_assert_eq!(get_varint(&b), Ok(Some((v, b.len()))));
        }

        #[test]
        fn input_checksum_matches_one_shot(data in proptest::collection::vec(any::<u8>(), 0..150_000), cut in 0usize..150_000) {
            let cut = cut.min(data.len());
            let mut input = Input::new(&data[..], Some(data.len() as u64));
            let mut head = vec![0u8; cut];
            input.read_exact(&mut head, "x").unwrap();
            prop_assert_eq!(input.checksum(), crc64(&data[..cut]));
            let mut rest = vec![0u8; data.len() - cut];
            input.read_exact(&mut rest, "x").unwrap();
            prop_assert_eq!(input.checksum(), crc64(&data));
            prop_assert!(input.at_eof().unwrap());
        }
    }
}
