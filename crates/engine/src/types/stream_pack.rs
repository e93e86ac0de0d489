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
//! flags      u8       bit 0: deleted; bit 1: same fields as the node's master entry
//! ms delta   varint   the entry's ms minus the ms of the node's first ID (IDs only grow)
//! seq        varint
//! count      varint   fields + values, or with "same fields" values only
//! count × (length varint, bytes)
//! back-length          the entry's length up to here, as a varint stored last byte first
//! ```
//!
//! As in a listpack, a node keeps the field names of the first entry it took (its *master
//! fields*: a count, then each name with its length); an entry with exactly those names stores
//! its values only. Streams whose entries share a schema (`XADD s * user 42 action click`) then
//! pay for each field name once per node instead of once per entry.
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
/// The "same fields as the master entry" bit.
const SAME_FIELDS: u8 = 2;

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

/// The master fields of a node that starts with an entry of `fields`: their names, packed.
pub(crate) fn master_of(fields: &Fields) -> Box<[u8]> {
    let mut out = Vec::new();
    if fields.len().is_multiple_of(2) {
        put_varint(&mut out, (fields.len() / 2) as u64);
        for name in fields.iter().step_by(2) {
            put_varint(&mut out, name.len() as u64);
            out.extend_from_slice(name);
        }
    }
    out.into_boxed_slice()
}

/// Whether `fields` has exactly the names of `master`.
fn same_names(master: &[u8], fields: &Fields) -> bool {
    let mut at = 0;
    match get_varint(master, &mut at) {
        Some(n) if fields.len().is_multiple_of(2) && n == (fields.len() / 2) as u64 => {
            let names = Elements {
                left: fields.len() / 2,
                data: &master[at..],
            };
            names.eq(fields.iter().step_by(2).map(|f| &f[..]))
        }
        _ => false,
    }
}

/// One node's packed entries: its buffer, its first ID and its master fields.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Packed<'a> {
    pub data: &'a [u8],
    pub first: StreamId,
    pub master: &'a [u8],
}

/// Appends an entry to a node whose first ID is `first` (`id >= first`) and whose master fields
/// are `master`.
pub(crate) fn push_entry(
    data: &mut Vec<u8>,
    master: &[u8],
    first: StreamId,
    id: StreamId,
    fields: &Fields,
) {
    let start = data.len();
    let same = same_names(master, fields);
    data.push(if same { SAME_FIELDS } else { 0 });
    put_varint(data, id.ms - first.ms);
    put_varint(data, id.seq);
    if same {
        put_varint(data, (fields.len() / 2) as u64);
        for v in fields.iter().skip(1).step_by(2) {
            put_varint(data, v.len() as u64);
            data.extend_from_slice(v);
        }
    } else {
        put_varint(data, fields.len() as u64);
        for f in fields.iter() {
            put_varint(data, f.len() as u64);
            data.extend_from_slice(f);
        }
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

impl<'a> Packed<'a> {
    /// Decodes the entry at `at`; None at the end.
    pub fn entry(&self, at: usize) -> Option<Entry<'a>> {
        let data = self.data;
        let flags = *data.get(at)?;
        let mut pos = at + 1;
        let ms = self.first.ms.checked_add(get_varint(data, &mut pos)?)?;
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
        let fields = if flags & SAME_FIELDS != 0 {
            // The names come from the master fields (count, then each name).
            let mut names = 0;
            let pairs = get_varint(self.master, &mut names)?;
            if pairs != count as u64 {
                return None;
            }
            FieldsRef {
                count: count * 2,
                data: &data[start..fields_end],
                names: &self.master[names..],
            }
        } else {
            FieldsRef {
                count,
                data: &data[start..fields_end],
                names: &[],
            }
        };
        Some(Entry {
            id: StreamId::new(ms, seq),
            deleted: flags & DELETED != 0,
            at,
            fields,
            next: pos,
        })
    }

    /// Decodes the entry that ends at `end` (an entry boundary, or the end of the buffer); None
    /// before the first entry.
    pub fn entry_before(&self, end: usize) -> Option<Entry<'a>> {
        let at = entry_start_before(self.data, end)?;
        self.entry(at).filter(|e| e.next == end)
    }

    /// The entries, deleted ones included, in order.
    pub fn entries(self) -> impl Iterator<Item = Entry<'a>> {
        let mut at = 0;
        std::iter::from_fn(move || {
            let e = self.entry(at)?;
            at = e.next;
            Some(e)
        })
    }
}

/// Flags the entry at `at` as deleted.
pub(crate) fn mark_deleted(data: &mut [u8], at: usize) {
    if let Some(flags) = data.get_mut(at) {
        *flags |= DELETED;
    }
}

/// An entry's fields and values, read in place from its node: field, value, field, value ...
#[derive(Clone, Copy, Debug)]
pub struct FieldsRef<'a> {
    count: usize,
    /// The entry's elements: all of them, or with shared names its values only.
    data: &'a [u8],
    /// Shared names (the node's master fields after their count); empty when the entry stores
    /// its own.
    names: &'a [u8],
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
        let inner = if self.names.is_empty() {
            Inner::Own(Elements {
                left: self.count,
                data: self.data,
            })
        } else {
            Inner::Shared {
                names: Elements {
                    left: self.count / 2,
                    data: self.names,
                },
                values: Elements {
                    left: self.count / 2,
                    data: self.data,
                },
                name_next: true,
            }
        };
        FieldIter(inner)
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

/// Length-prefixed elements read one by one.
#[derive(Clone, Debug)]
struct Elements<'a> {
    left: usize,
    data: &'a [u8],
}

impl<'a> Iterator for Elements<'a> {
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
}

/// The elements of a [`FieldsRef`]: field, value, field, value ...
#[derive(Clone, Debug)]
pub struct FieldIter<'a>(Inner<'a>);

#[derive(Clone, Debug)]
enum Inner<'a> {
    /// The entry's own elements.
    Own(Elements<'a>),
    /// Names from the master fields, values from the entry, alternating.
    Shared {
        names: Elements<'a>,
        values: Elements<'a>,
        name_next: bool,
    },
}

impl<'a> Iterator for FieldIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match &mut self.0 {
            Inner::Own(e) => e.next(),
            Inner::Shared {
                names,
                values,
                name_next,
            } => {
                let item = if *name_next {
                    names.next()
                } else {
                    values.next()
                };
                *name_next = !*name_next;
                item
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = match &self.0 {
            Inner::Own(e) => e.left,
            Inner::Shared { names, values, .. } => names.left + values.left,
        };
        (n, Some(n))
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
    fn entries_round_trip_with_deltas_shared_names_binary_data_and_deleted_flags() {
        let first = StreamId::new(1_700_000_000_000, 5);
        let big = vec![0xffu8; 300];
        let list = [
            (first, fields(&[b"f", b"1", b"g", b"2"])),
            // The master's names: stored as values only.
            (StreamId::new(first.ms, 9), fields(&[b"f", b"", b"g", &big])),
            // Other names, the same names in another order, an odd count, none.
            (StreamId::new(first.ms, u64::MAX), fields(&[b"", &big])),
            (
                StreamId::new(first.ms + 1, 0),
                fields(&[b"g", b"x", b"f", b"y"]),
            ),
            (StreamId::new(first.ms + 2, 0), fields(&[b"f"])),
            (StreamId::new(u64::MAX, 0), fields(&[])),
        ];
        let master = master_of(&list[0].1);
        let mut data = Vec::new();
        let mut sizes = Vec::new();
        for (id, f) in &list {
            let before = data.len();
            push_entry(&mut data, &master, first, *id, f);
            sizes.push(data.len() - before);
        }
        let packed = Packed {
            data: &data,
            first,
            master: &master,
        };
        // flags, ms delta, seq, count, then the values "1" and "2" only, back-length.
        assert_eq!(sizes[0], 1 + 1 + 1 + 1 + 2 + 2 + 1);
        let at = packed.entries().nth(1).map(|e| e.at).unwrap();
        mark_deleted(&mut data, at);
        let packed = Packed {
            data: &data,
            first,
            master: &master,
        };
        let got: Vec<_> = packed
            .entries()
            .map(|e| (e.id, e.deleted, e.fields.to_fields(), e.fields.len()))
            .collect();
        assert_eq!(got.len(), list.len());
        for (i, ((id, f), (gid, deleted, gf, n))) in list.iter().zip(&got).enumerate() {
            assert_eq!((id, f, *deleted, *n), (gid, gf, i == 1, f.len()));
        }
        // Backwards from the end: the same entries, last first.
        let mut end = data.len();
        let mut ids = Vec::new();
        while let Some(e) = packed.entry_before(end) {
            ids.push(e.id);
            end = e.at;
        }
        assert_eq!(end, 0);
        ids.reverse();
        assert_eq!(ids, list.iter().map(|(id, _)| *id).collect::<Vec<_>>());
        // A cut buffer ends the walk instead of panicking.
        for cut in 0..data.len() {
            let p = Packed {
                data: &data[..cut],
                first,
                master: &master,
            };
            assert!(p.entries().count() < list.len());
            let _ = p.entry_before(cut);
        }
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(varint_len(v), b.len(), "{v}");
        }
    }
}
