//! How a stream's entries are packed: each macro node keeps its entries in one byte buffer, as
//! Redis's listpacks do, instead of a map slot, a boxed field list and one allocation per field
//! and per value for every entry.
//!
//! Why: stored that way a small entry (`XADD s * f <n>`) cost about 148 bytes against Redis's
//! 16. Packed, it takes its encoded size (about 14 bytes for that entry) plus its share of the
//! node's map slot and buffer header, spread over up to `stream-node-max-entries` entries.
//!
//! An entry in a node's buffer (varint = unsigned LEB128):
//!
//! ```text
//! flags      u8       bit 0: deleted
//! ms delta   varint   the entry's ms minus the ms of the node's first ID (IDs only grow)
//! seq        varint
//! count      varint   fields + values
//! count × (length varint, bytes)
//! back-length          the entry's length up to here, as a varint stored last byte first
//! ```
//!
//! The back-length (as in a listpack) lets a walk go backwards from the end of a node without
//! decoding it from the start: XREVRANGE and the last entry's ID (which every XREAD with `$`
//! asks for) cost one entry, not a node.
//!
//! A deleted entry keeps its bytes, flagged, until its whole node goes (Redis does the same:
//! XDEL marks the listpack entry, and only trimming or emptying a node frees memory).
//!
//! The buffers are written only by this module, so a decoding failure cannot come from outside;
//! it still ends a walk (`None`) rather than panicking.

use super::stream::{Fields, StreamId};

/// The deleted bit of an entry's flags.
const DELETED: u8 = 1;

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Reads a varint at `*at`, moving `*at` past it.
fn get_varint(data: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *data.get(*at)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// Appends an entry to a node whose first ID is `first` (`id >= first`).
pub(crate) fn push_entry(data: &mut Vec<u8>, first: StreamId, id: StreamId, fields: &Fields) {
    let start = data.len();
    data.push(0);
    put_varint(data, id.ms - first.ms);
    put_varint(data, id.seq);
    put_varint(data, fields.len() as u64);
    for f in fields.iter() {
        put_varint(data, f.len() as u64);
        data.extend_from_slice(f);
    }
    let len = (data.len() - start) as u64;
    let at = data.len();
    put_varint(data, len);
    data[at..].reverse();
}

/// Bytes of `v` as a varint.
fn varint_len(v: u64) -> usize {
    (64 - (v | 1).leading_zeros() as usize).div_ceil(7)
}

/// The back-length that ends just before `end`: the length of the entry before it, and where
/// that entry starts.
fn entry_start_before(data: &[u8], end: usize) -> Option<usize> {
    let mut v = 0u64;
    let mut pos = end;
    for shift in (0..64).step_by(7) {
        pos = pos.checked_sub(1)?;
        let b = *data.get(pos)?;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return pos.checked_sub(usize::try_from(v).ok()?);
        }
    }
    None
}

/// Decodes the entry that ends at `end` (an entry boundary, or the end of the buffer) of a node
/// whose first ID is `first`; None before the first entry.
pub(crate) fn entry_before(data: &[u8], first: StreamId, end: usize) -> Option<Entry<'_>> {
    let at = entry_start_before(data, end)?;
    entry(data, first, at).filter(|e| e.next == end)
}

/// One entry decoded from a node's buffer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Entry<'a> {
    pub id: StreamId,
    pub deleted: bool,
    /// Offset of the entry's flags byte.
    pub at: usize,
    pub fields: FieldsRef<'a>,
    /// Offset of the next entry.
    pub next: usize,
}

/// Decodes the entry at `at` of a node whose first ID is `first`; None at the end.
pub(crate) fn entry(data: &[u8], first: StreamId, at: usize) -> Option<Entry<'_>> {
    let flags = *data.get(at)?;
    let mut pos = at + 1;
    let ms = first.ms.checked_add(get_varint(data, &mut pos)?)?;
    let seq = get_varint(data, &mut pos)?;
    let count = usize::try_from(get_varint(data, &mut pos)?).ok()?;
    let start = pos;
    for _ in 0..count {
        let len = usize::try_from(get_varint(data, &mut pos)?).ok()?;
        pos = pos.checked_add(len).filter(|&end| end <= data.len())?;
    }
    let fields_end = pos;
    pos = pos
        .checked_add(varint_len((pos - at) as u64))
        .filter(|&end| end <= data.len())?;
    Some(Entry {
        id: StreamId::new(ms, seq),
        deleted: flags & DELETED != 0,
        at,
        fields: FieldsRef {
            count,
            data: &data[start..fields_end],
        },
        next: pos,
    })
}

/// Flags the entry at `at` as deleted.
pub(crate) fn mark_deleted(data: &mut [u8], at: usize) {
    if let Some(flags) = data.get_mut(at) {
        *flags |= DELETED;
    }
}

/// The entries of one node's buffer, deleted ones included, in order.
pub(crate) fn entries(data: &[u8], first: StreamId) -> impl Iterator<Item = Entry<'_>> {
    let mut at = 0;
    std::iter::from_fn(move || {
        let e = entry(data, first, at)?;
        at = e.next;
        Some(e)
    })
}

/// An entry's fields and values, read in place from its node: field, value, field, value ...
#[derive(Clone, Copy, Debug)]
pub struct FieldsRef<'a> {
    count: usize,
    data: &'a [u8],
}

impl<'a> FieldsRef<'a> {
    /// Fields plus values.
    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn iter(&self) -> FieldIter<'a> {
        FieldIter {
            left: self.count,
            data: self.data,
        }
    }

    /// An owned copy.
    pub fn to_fields(&self) -> Fields {
        self.iter().map(Box::from).collect()
    }
}

impl PartialEq for FieldsRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.count == other.count && self.iter().eq(other.iter())
    }
}

/// The elements of a [`FieldsRef`].
#[derive(Clone, Debug)]
pub struct FieldIter<'a> {
    left: usize,
    data: &'a [u8],
}

impl<'a> Iterator for FieldIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.left == 0 {
            return None;
        }
        let mut at = 0;
        let len = usize::try_from(get_varint(self.data, &mut at)?).ok()?;
        let item = self.data.get(at..at.checked_add(len)?)?;
        self.data = &self.data[at + len..];
        self.left -= 1;
        Some(item)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for FieldIter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(items: &[&[u8]]) -> Fields {
        items.iter().map(|f| Box::from(*f)).collect()
    }

    #[test]
    fn entries_round_trip_with_deltas_binary_data_and_deleted_flags() {
        let first = StreamId::new(1_700_000_000_000, 5);
        let big = vec![0xffu8; 300];
        let list = [
            (first, fields(&[b"f", b"1"])),
            (StreamId::new(first.ms, u64::MAX), fields(&[b"", &big])),
            (StreamId::new(u64::MAX, 0), fields(&[])),
        ];
        let mut data = Vec::new();
        for (id, f) in &list {
            push_entry(&mut data, first, *id, f);
        }
        assert_eq!(
            entry(&data, first, 0).map(|e| e.next),
            Some(1 + 1 + 1 + 1 + 2 + 2 + 1)
        );
        // Backwards from the end: the same entries, last first.
        let mut end = data.len();
        let mut ids = Vec::new();
        while let Some(e) = entry_before(&data, first, end) {
            ids.push(e.id);
            end = e.at;
        }
        assert_eq!(end, 0);
        ids.reverse();
        assert_eq!(ids, list.iter().map(|(id, _)| *id).collect::<Vec<_>>());
        let at = entries(&data, first).nth(1).map(|e| e.at).unwrap();
        mark_deleted(&mut data, at);
        let got: Vec<_> = entries(&data, first)
            .map(|e| (e.id, e.deleted, e.fields.to_fields()))
            .collect();
        assert_eq!(got.len(), 3);
        for (i, ((id, f), (gid, deleted, gf))) in list.iter().zip(&got).enumerate() {
            assert_eq!((id, f, *deleted), (gid, gf, i == 1));
        }
        assert_eq!(entries(&data, first).last().unwrap().fields.len(), 0);
        // A cut buffer ends the walk instead of panicking.
        for cut in 0..data.len() {
            let n = entries(&data[..cut], first).count();
            assert!(n < 3);
            let _ = entry_before(&data[..cut], first, cut);
        }
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(varint_len(v), b.len(), "{v}");
        }
    }
}
