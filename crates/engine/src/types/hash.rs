//! The hash value type (HSET and friends), with Redis's two encodings.
//!
//! - "listpack" while the hash has at most `HASH_MAX_LISTPACK_ENTRIES` fields and every field and
//!   value is at most `HASH_MAX_LISTPACK_VALUE` bytes: one exactly-sized byte buffer holding the pair
//!   count and the pairs as `[field len u8][field][value len u8][value]`. Small hashes dominate real
//!   keyspaces (`HSET user:N name alice age 30`), so this costs one small allocation per key instead
//!   of one per field; lookups are linear scans over at most 128 pairs, as in Redis.
//! - "hashtable" past those limits: an `IndexSet` of pairs, each pair one allocation
//!   (`[varint field len][field][value]`) hashed by its field. The index order gives O(1) random
//!   access for HRANDFIELD and a stable position order for HSCAN.
//!
//! Like Redis, a hash never converts back to the compact encoding.
//!
//! HSCAN guarantee (hashtable): the cursor is the number of positions not yet visited and the scan
//! walks positions from the end towards 0. Fields are only ever appended (insert) or removed with
//! `swap_remove`, which moves the *last* element into the hole, i.e. always to a lower position. So an
//! element not yet returned always sits below the cursor, and every field present for the whole
//! scan is returned at least once (fields moved from the visited region may be returned twice).
//! Nothing here may use an order-changing operation (shift_remove, sort) on the table.

use crate::rng::Rng;
use indexmap::{Equivalent, IndexSet};
use std::hash::{Hash, Hasher};

/// Redis's hash-max-listpack-entries default.
pub const HASH_MAX_LISTPACK_ENTRIES: usize = 128;
/// Redis's hash-max-listpack-value default (bytes).
pub const HASH_MAX_LISTPACK_VALUE: usize = 64;

// The listpack stores the pair count and each length in one byte.
const _: () = assert!(HASH_MAX_LISTPACK_ENTRIES <= u8::MAX as usize);
const _: () = assert!(HASH_MAX_LISTPACK_VALUE <= u8::MAX as usize);

type State = foldhash::fast::RandomState;

/// A hash value. Empty hashes exist only transiently (the keyspace deletes them).
#[derive(Clone, Default)]
pub struct HashValue {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// `[count u8]` then `count` pairs `[flen u8][field][vlen u8][value]`; empty box = no pairs.
    Listpack(CompactBuf),
    Table(Box<Table>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Listpack(CompactBuf::default())
    }
}

#[derive(Clone)]
struct Table {
    set: IndexSet<Pair, State>,
    /// Sum of the pair allocations, so `heap_size` is O(1).
    pair_bytes: usize,
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        Table {
            set: IndexSet::with_capacity_and_hasher(n, State::default()),
            pair_bytes: 0,
        }
    }

    /// Inserts or replaces; true if the field is new. Replacing keeps the position (HSCAN).
    fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        let pair = Pair::new(field, value);
        self.pair_bytes += pair.0.len();
        let (_, old) = self.set.replace_full(pair);
        match old {
            Some(old) => {
                self.pair_bytes -= old.0.len();
                false
            }
            None => true,
        }
    }

    fn remove(&mut self, field: &[u8]) -> bool {
        match self.set.swap_remove_full(&FieldRef(field)) {
            Some((_, old)) => {
                self.pair_bytes -= old.0.len();
                true
            }
            None => false,
        }
    }
}

/// Bytes a `CompactBuf` holds without a heap allocation.
pub(crate) const INLINE_CAP: usize = 22;

/// The byte buffer of the compact encodings (hash listpack, set intset/listpack): up to
/// `INLINE_CAP` bytes live inside the value itself, longer contents in one exactly-sized heap
/// allocation. Why: a keyspace value is already one allocation (the boxed `Value`, 32 bytes), and
/// a tiny hash such as `name alice age 30` (19 bytes) or an intset of a few small integers then
/// costs nothing more; with mimalloc's 32-byte bin for 17..32-byte requests a separate buffer would
/// add 32 bytes per key. 24 bytes in all, so `Value` does not grow.
#[derive(Clone)]
pub(crate) enum CompactBuf {
    Inline { len: u8, bytes: [u8; INLINE_CAP] },
    Heap(Box<[u8]>),
}

impl Default for CompactBuf {
    fn default() -> Self {
        CompactBuf::Inline {
            len: 0,
            bytes: [0; INLINE_CAP],
        }
    }
}

impl From<Vec<u8>> for CompactBuf {
    fn from(v: Vec<u8>) -> Self {
        if v.len() <= INLINE_CAP {
            CompactBuf::from(&v[..])
        } else {
            CompactBuf::Heap(v.into_boxed_slice())
        }
    }
}

impl From<&[u8]> for CompactBuf {
    fn from(v: &[u8]) -> Self {
        if v.len() <= INLINE_CAP {
            let mut bytes = [0; INLINE_CAP];
            bytes[..v.len()].copy_from_slice(v);
            CompactBuf::Inline {
                len: v.len() as u8,
                bytes,
            }
        } else {
            CompactBuf::Heap(v.into())
        }
    }
}

impl CompactBuf {
    /// Heap bytes owned (0 while inline).
    pub(crate) fn heap_size(&self) -> usize {
        match self {
            CompactBuf::Inline { .. } => 0,
            CompactBuf::Heap(b) => b.len(),
        }
    }
}

impl std::ops::Deref for CompactBuf {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            CompactBuf::Inline { len, bytes } => &bytes[..*len as usize],
            CompactBuf::Heap(b) => b,
        }
    }
}

impl std::ops::DerefMut for CompactBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        match self {
            CompactBuf::Inline { len, bytes } => &mut bytes[..*len as usize],
            CompactBuf::Heap(b) => b,
        }
    }
}

/// One field/value pair in a single allocation: `[varint field len][field][value]`.
#[derive(Clone)]
struct Pair(Box<[u8]>);

impl Pair {
    fn new(field: &[u8], value: &[u8]) -> Pair {
        let mut v = Vec::with_capacity(varint_len(field.len()) + field.len() + value.len());
        put_varint(&mut v, field.len());
        v.extend_from_slice(field);
        v.extend_from_slice(value);
        Pair(v.into_boxed_slice())
    }

    fn split(&self) -> (&[u8], &[u8]) {
        let (flen, off) = get_varint(&self.0);
        let rest = &self.0[off..];
        rest.split_at(flen)
    }

    fn field(&self) -> &[u8] {
        self.split().0
    }
}

impl Hash for Pair {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.field().hash(state)
    }
}

impl PartialEq for Pair {
    fn eq(&self, other: &Pair) -> bool {
        self.field() == other.field()
    }
}

impl Eq for Pair {}

/// Lookup key for a `Pair`: hashes exactly like `Pair::hash`.
struct FieldRef<'a>(&'a [u8]);

impl Hash for FieldRef<'_> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.0.hash(state)
    }
}

impl Equivalent<Pair> for FieldRef<'_> {
    fn equivalent(&self, key: &Pair) -> bool {
        self.0 == key.field()
    }
}

fn varint_len(mut n: usize) -> usize {
    let mut len = 1;
    while n >= 0x80 {
        n >>= 7;
        len += 1;
    }
    len
}

fn put_varint(v: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        v.push((n as u8) | 0x80);
        n >>= 7;
    }
    v.push(n as u8);
}

/// Decodes a varint written by `put_varint`: (value, bytes used).
fn get_varint(b: &[u8]) -> (usize, usize) {
    let mut n = 0usize;
    let mut shift = 0;
    for (i, &byte) in b.iter().enumerate() {
        n |= ((byte & 0x7f) as usize) << shift;
        if byte & 0x80 == 0 {
            return (n, i + 1);
        }
        shift += 7;
    }
    (n, b.len())
}

// ---- listpack helpers -------------------------------------------------------------------------

fn lp_count(buf: &[u8]) -> usize {
    buf.first().map_or(0, |&c| c as usize)
}

/// Iterates the pairs of a listpack buffer.
#[derive(Clone)]
struct LpIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> LpIter<'a> {
    fn new(buf: &'a [u8]) -> Self {
        LpIter { buf, pos: 1 }
    }
}

/// A located listpack pair: byte offsets of the pair start, its value (the length byte) and end.
struct LpPos {
    start: usize,
    value_len_at: usize,
    end: usize,
}

impl<'a> LpIter<'a> {
    fn next_pos(&mut self) -> Option<(LpPos, &'a [u8], &'a [u8])> {
        let buf = self.buf;
        if self.pos >= buf.len() {
            return None;
        }
        let start = self.pos;
        let flen = buf[start] as usize;
        let field = &buf[start + 1..start + 1 + flen];
        let value_len_at = start + 1 + flen;
        let vlen = buf[value_len_at] as usize;
        let value = &buf[value_len_at + 1..value_len_at + 1 + vlen];
        let end = value_len_at + 1 + vlen;
        self.pos = end;
        Some((
            LpPos {
                start,
                value_len_at,
                end,
            },
            field,
            value,
        ))
    }
}

impl<'a> Iterator for LpIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        self.next_pos().map(|(_, f, v)| (f, v))
    }
}

fn lp_find<'a>(buf: &'a [u8], field: &[u8]) -> Option<(LpPos, &'a [u8])> {
    let mut it = LpIter::new(buf);
    while let Some((pos, f, v)) = it.next_pos() {
        if f == field {
            return Some((pos, v));
        }
    }
    None
}

fn fits_listpack(field: &[u8], value: &[u8]) -> bool {
    field.len() <= HASH_MAX_LISTPACK_VALUE && value.len() <= HASH_MAX_LISTPACK_VALUE
}

/// Iterator over a hash's (field, value) pairs in encoding order.
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Listpack(LpIter<'a>),
    Table(indexmap::set::Iter<'a, Pair>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        match &mut self.0 {
            IterRepr::Listpack(it) => it.next(),
            IterRepr::Table(it) => it.next().map(|p| p.split()),
        }
    }
}

impl HashValue {
    pub fn new() -> HashValue {
        HashValue::default()
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Listpack(buf) => lp_count(buf),
            Repr::Table(t) => t.set.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Listpack(_) => "listpack",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Whether the compact encoding is in use (HSCAN then returns everything in one call).
    pub fn is_compact(&self) -> bool {
        matches!(self.repr, Repr::Listpack(_))
    }

    /// Heap bytes owned by the value.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Listpack(buf) => buf.heap_size(),
            Repr::Table(t) => {
                // Entries vector (hash + pair pointer) plus the index table (usize + control byte).
                let cap = t.set.capacity();
                std::mem::size_of::<Table>()
                    + cap * (std::mem::size_of::<Pair>() + std::mem::size_of::<usize>())
                    + cap * (std::mem::size_of::<usize>() + 1)
                    + t.pair_bytes
            }
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match &self.repr {
            Repr::Listpack(buf) => lp_find(buf, field).map(|(_, v)| v),
            Repr::Table(t) => t.set.get(&FieldRef(field)).map(|p| p.split().1),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Redis's hashTypeTryConversion: before a write of `new_fields` pairs whose longest field or
    /// value has `longest` bytes, converts to the hashtable encoding if the listpack could not hold
    /// them (even if some turn out to be updates or duplicates, as Redis does).
    pub fn prepare(&mut self, new_fields: usize, longest: usize) {
        if self.is_compact()
            && (new_fields > HASH_MAX_LISTPACK_ENTRIES || longest > HASH_MAX_LISTPACK_VALUE)
        {
            self.convert(self.len() + new_fields);
        }
    }

    fn convert(&mut self, capacity: usize) {
        if let Repr::Listpack(buf) = &self.repr {
            let mut t = Table::with_capacity(capacity.max(lp_count(buf)));
            for (f, v) in LpIter::new(buf) {
                t.insert(f, v);
            }
            self.repr = Repr::Table(Box::new(t));
        }
    }

    /// Sets `field` to `value`. Returns true if the field is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        if let Repr::Listpack(buf) = &mut self.repr {
            if fits_listpack(field, value) {
                if let Some((pos, old)) = lp_find(buf, field) {
                    if old.len() == value.len() {
                        buf[pos.value_len_at + 1..pos.end].copy_from_slice(value);
                    } else {
                        let mut nv = Vec::with_capacity(buf.len() - old.len() + value.len());
                        nv.extend_from_slice(&buf[..pos.value_len_at]);
                        nv.push(value.len() as u8);
                        nv.extend_from_slice(value);
                        nv.extend_from_slice(&buf[pos.end..]);
                        *buf = CompactBuf::from(nv);
                    }
                    return false;
                }
                let count = lp_count(buf);
                if count < HASH_MAX_LISTPACK_ENTRIES {
                    let extra = 2 + field.len() + value.len() + usize::from(buf.is_empty());
                    let mut nv = Vec::with_capacity(buf.len() + extra);
                    if buf.is_empty() {
                        nv.push(0);
                    } else {
                        nv.extend_from_slice(buf);
                    }
                    nv[0] += 1;
                    nv.push(field.len() as u8);
                    nv.extend_from_slice(field);
                    nv.push(value.len() as u8);
                    nv.extend_from_slice(value);
                    *buf = CompactBuf::from(nv);
                    return true;
                }
            }
            self.convert(self.len() + 1);
        }
        match &mut self.repr {
            Repr::Table(t) => t.insert(field, value),
            Repr::Listpack(_) => unreachable!("converted above"),
        }
    }

    /// Removes `field`. Returns whether it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Listpack(buf) => {
                let Some((pos, _)) = lp_find(buf, field) else {
                    return false;
                };
                let count = lp_count(buf);
                if count <= 1 {
                    *buf = CompactBuf::default();
                    return true;
                }
                let mut nv = Vec::with_capacity(buf.len() - (pos.end - pos.start));
                nv.extend_from_slice(&buf[..pos.start]);
                nv.extend_from_slice(&buf[pos.end..]);
                nv[0] -= 1;
                *buf = CompactBuf::from(nv);
                true
            }
            Repr::Table(t) => t.remove(field),
        }
    }

    /// The pairs in encoding order.
    pub fn iter(&self) -> Iter<'_> {
        match &self.repr {
            Repr::Listpack(buf) => Iter(IterRepr::Listpack(LpIter::new(buf))),
            Repr::Table(t) => Iter(IterRepr::Table(t.set.iter())),
        }
    }

    /// The pair at position `i` of the encoding order (O(1) for hashtable, O(n) for listpack).
    pub fn get_index(&self, i: usize) -> Option<(&[u8], &[u8])> {
        match &self.repr {
            Repr::Listpack(buf) => LpIter::new(buf).nth(i),
            Repr::Table(t) => t.set.get_index(i).map(|p| p.split()),
        }
    }

    /// A uniformly random pair.
    pub fn random(&self, rng: &mut Rng) -> Option<(&[u8], &[u8])> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        self.get_index(rng.below(n as u64) as usize)
    }

    /// One HSCAN step: calls `f` for roughly `count` pairs and returns the next cursor (0 = done).
    /// The listpack encoding returns everything at once with cursor 0, as Redis does. See the module
    /// docs for the hashtable cursor and its guarantee.
    pub fn scan<'a>(
        &'a self,
        cursor: u64,
        count: usize,
        mut f: impl FnMut(&'a [u8], &'a [u8]),
    ) -> u64 {
        match &self.repr {
            Repr::Listpack(buf) => {
                for (k, v) in LpIter::new(buf) {
                    f(k, v);
                }
                0
            }
            Repr::Table(t) => {
                let len = t.set.len() as u64;
                let start = if cursor == 0 { len } else { cursor.min(len) };
                let stop = start.saturating_sub(count.max(1) as u64);
                for i in (stop..start).rev() {
                    if let Some(p) = t.set.get_index(i as usize) {
                        let (k, v) = p.split();
                        f(k, v);
                    }
                }
                stop
            }
        }
    }
}

impl PartialEq for HashValue {
    fn eq(&self, other: &HashValue) -> bool {
        self.len() == other.len() && self.iter().all(|(f, v)| other.get(f) == Some(v))
    }
}

impl std::fmt::Debug for HashValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in self.iter() {
            m.entry(
                &String::from_utf8_lossy(k).into_owned(),
                &String::from_utf8_lossy(v).into_owned(),
            );
        }
        m.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    fn b(s: &str) -> Vec<u8> {
        s.as_bytes().to_vec()
    }

    #[test]
    fn value_stays_three_words() {
        // Keeps `Value` (and so every boxed keyspace value) at 32 bytes.
        assert_eq!(std::mem::size_of::<CompactBuf>(), 24);
        assert_eq!(std::mem::size_of::<HashValue>(), 24);
    }

    #[test]
    fn small_hash_is_compact_and_exact() {
        let mut h = HashValue::new();
        assert!(h.insert(b"name", b"alice"));
        assert!(h.insert(b"age", b"30"));
        assert!(!h.insert(b"age", b"31"));
        assert_eq!(h.encoding(), "listpack");
        assert_eq!(h.len(), 2);
        assert_eq!(h.get(b"age"), Some(&b"31"[..]));
        // count + (1+4) + (1+5) + (1+3) + (1+2) = 19 bytes: stored inside the value.
        assert_eq!(h.heap_size(), 0);
        assert!(h.insert(b"city", b"paris"));
        // 19 + (1+4) + (1+5) = 30 bytes: one exactly-sized heap buffer.
        assert_eq!(h.heap_size(), 30);
        assert!(!h.insert(b"name", b"bob"));
        assert_eq!(h.get(b"name"), Some(&b"bob"[..]));
        assert_eq!(h.heap_size(), 28);
        assert!(h.remove(b"city"));
        assert_eq!(h.heap_size(), 0);
        assert!(h.remove(b"name"));
        assert!(!h.remove(b"name"));
        assert_eq!(
            h.iter().collect::<Vec<_>>(),
            vec![(&b"age"[..], &b"31"[..])]
        );
        assert!(h.remove(b"age"));
        assert!(h.is_empty());
        assert_eq!(h.heap_size(), 0);
    }

    #[test]
    fn converts_on_entries_and_value_size_and_never_back() {
        let mut h = HashValue::new();
        for i in 0..HASH_MAX_LISTPACK_ENTRIES {
            h.insert(format!("f{i}").as_bytes(), b"v");
        }
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"one-more", b"v");
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.len(), HASH_MAX_LISTPACK_ENTRIES + 1);
        for i in 0..HASH_MAX_LISTPACK_ENTRIES {
            assert!(h.remove(format!("f{i}").as_bytes()));
        }
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"one-more"), Some(&b"v"[..]));

        let mut h = HashValue::new();
        h.insert(b"a", &[b'x'; HASH_MAX_LISTPACK_VALUE]);
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"b", &[b'x'; HASH_MAX_LISTPACK_VALUE + 1]);
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"a").map(|v| v.len()), Some(HASH_MAX_LISTPACK_VALUE));

        let mut h = HashValue::new();
        h.insert(b"a", b"1");
        h.prepare(1, HASH_MAX_LISTPACK_VALUE + 1);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = HashValue::new();
        h.prepare(HASH_MAX_LISTPACK_ENTRIES + 1, 1);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn long_fields_use_multi_byte_varints() {
        let mut h = HashValue::new();
        let long = vec![b'f'; 70_000];
        h.insert(&long, b"v");
        h.insert(b"x", &long);
        assert_eq!(h.get(&long), Some(&b"v"[..]));
        assert_eq!(h.get(b"x").map(|v| v.len()), Some(70_000));
    }

    #[test]
    fn scan_returns_every_stable_field_despite_deletes_and_inserts() {
        let mut h = HashValue::new();
        for i in 0..1000 {
            h.insert(format!("f{i}").as_bytes(), b"v");
        }
        let stable: BTreeSet<Vec<u8>> = (0..1000)
            .filter(|i| i % 3 != 0)
            .map(|i| format!("f{i}").into_bytes())
            .collect();
        let mut seen = BTreeSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = h.scan(cursor, 10, |f, _| {
                seen.insert(f.to_vec());
            });
            // Mutate between steps: delete some unstable fields, add new ones.
            for i in (step * 30..step * 30 + 30).filter(|i| i % 3 == 0) {
                h.remove(format!("f{i}").as_bytes());
            }
            h.insert(format!("new{step}").as_bytes(), b"v");
            step += 1;
            if cursor == 0 {
                break;
            }
        }
        assert!(stable.is_subset(&seen));
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Vec<u8>, Vec<u8>),
        Remove(Vec<u8>),
        Prepare(usize, usize),
    }

    fn field() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => (0u8..40).prop_map(|i| format!("f{i}").into_bytes()),
            1 => proptest::collection::vec(any::<u8>(), 0..80),
        ]
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => proptest::collection::vec(any::<u8>(), 0..10),
            1 => proptest::collection::vec(any::<u8>(), 60..70),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (field(), value()).prop_map(|(f, v)| Op::Insert(f, v)),
            3 => field().prop_map(Op::Remove),
            1 => (0usize..200, 0usize..80).prop_map(|(n, l)| Op::Prepare(n, l)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn behaves_like_a_btreemap(ops in proptest::collection::vec(op(), 0..400)) {
            let mut h = HashValue::new();
            let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
            let mut was_table = false;
            let mut longest = 0;
            let mut max_len = 0;
            for op in ops {
                match op {
                    Op::Insert(f, v) => {
                        longest = longest.max(f.len()).max(v.len());
                        let new = h.insert(&f, &v);
                        prop_assert_eq!(new, model.insert(f, v).is_none());
                    }
                    Op::Remove(f) => {
                        prop_assert_eq!(h.remove(&f), model.remove(&f).is_some());
                    }
                    Op::Prepare(n, l) => {
                        h.prepare(n, l);
                        if n > HASH_MAX_LISTPACK_ENTRIES || l > HASH_MAX_LISTPACK_VALUE {
                            prop_assert_eq!(h.encoding(), "hashtable");
                        }
                    }
                }
                max_len = max_len.max(model.len());
                prop_assert_eq!(h.len(), model.len());
                // Encoding rules: compact while within both limits; never converts back.
                if was_table {
                    prop_assert_eq!(h.encoding(), "hashtable");
                }
                if h.encoding() == "listpack" {
                    prop_assert!(max_len <= HASH_MAX_LISTPACK_ENTRIES);
                    prop_assert!(longest <= HASH_MAX_LISTPACK_VALUE);
                } else if max_len > HASH_MAX_LISTPACK_ENTRIES || longest > HASH_MAX_LISTPACK_VALUE {
                    prop_assert_eq!(h.encoding(), "hashtable");
                }
                was_table = h.encoding() == "hashtable";
            }
            let got: BTreeMap<Vec<u8>, Vec<u8>> =
                h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect();
            prop_assert_eq!(&got, &model);
            for (f, v) in &model {
                prop_assert_eq!(h.get(f), Some(&v[..]));
            }
            prop_assert_eq!(h.get(&b("absent-field")), None);
            // get_index covers every pair exactly once.
            let by_index: BTreeMap<Vec<u8>, Vec<u8>> = (0..h.len())
                .map(|i| h.get_index(i).map(|(f, v)| (f.to_vec(), v.to_vec())).unwrap())
                .collect();
            prop_assert_eq!(&by_index, &model);
            // A full scan returns everything.
            let mut scanned = BTreeMap::new();
            let mut c = 0;
            loop {
                c = h.scan(c, 7, |f, v| { scanned.insert(f.to_vec(), v.to_vec()); });
                if c == 0 { break; }
            }
            prop_assert_eq!(&scanned, &model);
            prop_assert_eq!(h.clone(), h);
        }
    }
}
