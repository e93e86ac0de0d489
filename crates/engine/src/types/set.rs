//! The set value type (SADD and friends), with Redis 7.2's three encodings.
//!
//! - "intset" while every member is a canonical integer (Redis string2ll rules: no '+', no leading
//!   zeros, no "-0") and there are at most `SET_MAX_INTSET_ENTRIES` members: one exactly-sized buffer
//!   `[width u8 = 2|4|8][sorted little-endian integers of that width]`. Like Redis's intset the width
//!   only grows (to fit a new value), lookups are binary searches and SMEMBERS comes out sorted.
//! - "listpack" for small sets with other members (at most `SET_MAX_LISTPACK_ENTRIES` members of at
//!   most `SET_MAX_LISTPACK_VALUE` bytes): `[LISTPACK_TAG][count u8]` then `[len u8][member]`...,
//!   linear scans as in Redis.
//! - "hashtable" beyond: an `IndexSet` of boxed members, which gives O(1) random members for
//!   SPOP/SRANDMEMBER and a stable position order for SSCAN.
//!
//! The compact buffers cost one small allocation per set (an empty buffer is an empty intset). Sets
//! never convert back to a more compact encoding. SSCAN over the hashtable uses the same reversed
//! position cursor as hashes (see `types::hash`): members are only appended or `swap_remove`d, so a
//! member present for the whole scan is always returned.

use crate::rng::Rng;
use crate::types::hash::CompactBuf;
use indexmap::IndexSet;
// Redis string2ll (`canonical_i64`): a member is stored in an intset only if it reads back
// identically.
use ringkv_protocol::num::{i64_digits, parse_i64 as canonical_i64, MAX_I64_LEN};

/// Redis's set-max-intset-entries default.
pub const SET_MAX_INTSET_ENTRIES: usize = 512;
/// Redis's set-max-listpack-entries default.
pub const SET_MAX_LISTPACK_ENTRIES: usize = 128;
/// Redis's set-max-listpack-value default (bytes).
pub const SET_MAX_LISTPACK_VALUE: usize = 64;

const _: () = assert!(SET_MAX_LISTPACK_ENTRIES <= u8::MAX as usize);
const _: () = assert!(SET_MAX_LISTPACK_VALUE <= u8::MAX as usize);

/// First byte of a listpack buffer (intset buffers start with their width: 2, 4 or 8).
const LISTPACK_TAG: u8 = 1;

type State = foldhash::fast::RandomState;

/// A set value. Empty sets exist only transiently (the keyspace deletes them).
#[derive(Clone, Default)]
pub struct SetValue {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// Intset or listpack, told apart by the first byte; an empty buffer is an empty intset.
    Compact(CompactBuf),
    Table(Box<Table>),
}

impl Default for Repr {
    fn default() -> Self {
        Repr::Compact(CompactBuf::default())
    }
}

#[derive(Clone)]
struct Table {
    set: IndexSet<Box<[u8]>, State>,
    /// Sum of the member allocations, so `heap_size` is O(1).
    member_bytes: usize,
}

impl Table {
    fn with_capacity(n: usize) -> Table {
        Table {
            set: IndexSet::with_capacity_and_hasher(n, State::default()),
            member_bytes: 0,
        }
    }

    fn insert(&mut self, m: &[u8]) -> bool {
        if self.set.contains(m) {
            return false;
        }
        self.member_bytes += m.len();
        self.set.insert(m.into());
        true
    }

    fn remove(&mut self, m: &[u8]) -> bool {
        match self.set.swap_remove_full(m) {
            Some((_, old)) => {
                self.member_bytes -= old.len();
                true
            }
            None => false,
        }
    }
}

/// A member as stored: intset members are integers, the others bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Member<'a> {
    Int(i64),
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// Calls `f` with the member's bytes (integers formatted in decimal on the stack).
    pub fn with_bytes<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        match *self {
            Member::Bytes(b) => f(b),
            Member::Int(v) => {
                let mut buf = [0u8; MAX_I64_LEN];
                f(i64_digits(&mut buf, v))
            }
        }
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.with_bytes(|b| b.to_vec())
    }
}

// ---- intset -----------------------------------------------------------------------------------

fn width_for(v: i64) -> u8 {
    if i16::try_from(v).is_ok() {
        2
    } else if i32::try_from(v).is_ok() {
        4
    } else {
        8
    }
}

/// A read-only view of an intset buffer (possibly empty).
#[derive(Clone, Copy)]
struct IntSet<'a>(&'a [u8]);

impl<'a> IntSet<'a> {
    fn width(&self) -> usize {
        self.0.first().map_or(2, |&w| w as usize)
    }

    fn len(&self) -> usize {
        if self.0.is_empty() {
            0
        } else {
            (self.0.len() - 1) / self.width()
        }
    }

    fn get(&self, i: usize) -> i64 {
        let w = self.width();
        let at = 1 + i * w;
        let b = &self.0[at..at + w];
        match w {
            2 => i16::from_le_bytes([b[0], b[1]]) as i64,
            4 => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as i64,
            _ => i64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        }
    }

    fn search(&self, v: i64) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.get(mid).cmp(&v) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    fn iter(self) -> impl Iterator<Item = i64> + 'a {
        (0..self.len()).map(move |i| self.get(i))
    }
}

fn put_int(v: &mut Vec<u8>, x: i64, w: usize) {
    v.extend_from_slice(&x.to_le_bytes()[..w]);
}

/// The intset buffer with `x` inserted at sorted position `at` (width grown if needed).
fn intset_with(buf: &[u8], x: i64, at: usize) -> CompactBuf {
    let set = IntSet(buf);
    let n = set.len();
    let old_w = if buf.is_empty() { 0 } else { set.width() };
    let w = old_w.max(width_for(x) as usize);
    let mut v = Vec::with_capacity(1 + (n + 1) * w);
    v.push(w as u8);
    if w == old_w {
        v.extend_from_slice(&buf[1..1 + at * w]);
        put_int(&mut v, x, w);
        v.extend_from_slice(&buf[1 + at * w..]);
    } else {
        for i in 0..at {
            put_int(&mut v, set.get(i), w);
        }
        put_int(&mut v, x, w);
        for i in at..n {
            put_int(&mut v, set.get(i), w);
        }
    }
    CompactBuf::from(v)
}

/// The intset buffer without the element at position `at`.
fn intset_without(buf: &[u8], at: usize) -> CompactBuf {
    let set = IntSet(buf);
    if set.len() <= 1 {
        return CompactBuf::default();
    }
    let w = set.width();
    let mut v = Vec::with_capacity(buf.len() - w);
    v.extend_from_slice(&buf[..1 + at * w]);
    v.extend_from_slice(&buf[1 + (at + 1) * w..]);
    CompactBuf::from(v)
}

// ---- listpack ---------------------------------------------------------------------------------

fn is_listpack(buf: &[u8]) -> bool {
    buf.first() == Some(&LISTPACK_TAG)
}

#[derive(Clone)]
struct LpIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> LpIter<'a> {
    fn new(buf: &'a [u8]) -> Self {
        LpIter { buf, pos: 2 }
    }

    /// (offset of the length byte, member)
    fn next_pos(&mut self) -> Option<(usize, &'a [u8])> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let at = self.pos;
        let len = self.buf[at] as usize;
        self.pos = at + 1 + len;
        Some((at, &self.buf[at + 1..at + 1 + len]))
    }
}

impl<'a> Iterator for LpIter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        self.next_pos().map(|(_, m)| m)
    }
}

fn lp_count(buf: &[u8]) -> usize {
    buf.get(1).map_or(0, |&c| c as usize)
}

fn lp_find(buf: &[u8], m: &[u8]) -> Option<usize> {
    let mut it = LpIter::new(buf);
    while let Some((at, x)) = it.next_pos() {
        if x == m {
            return Some(at);
        }
    }
    None
}

fn lp_with(buf: &[u8], m: &[u8]) -> CompactBuf {
    let mut v = Vec::with_capacity(buf.len().max(2) + 1 + m.len());
    if buf.is_empty() {
        v.extend_from_slice(&[LISTPACK_TAG, 0]);
    } else {
        v.extend_from_slice(buf);
    }
    v[1] += 1;
    v.push(m.len() as u8);
    v.extend_from_slice(m);
    CompactBuf::from(v)
}

fn lp_without(buf: &[u8], at: usize) -> CompactBuf {
    let len = buf[at] as usize;
    let mut v = Vec::with_capacity(buf.len() - 1 - len);
    v.extend_from_slice(&buf[..at]);
    v.extend_from_slice(&buf[at + 1 + len..]);
    v[1] -= 1;
    CompactBuf::from(v)
}

fn empty_listpack() -> CompactBuf {
    CompactBuf::from(&[LISTPACK_TAG, 0][..])
}

/// Iterator over a set's members in encoding order.
pub struct Iter<'a>(IterRepr<'a>);

enum IterRepr<'a> {
    Int(IntSet<'a>, usize),
    Listpack(LpIter<'a>),
    Table(indexmap::set::Iter<'a, Box<[u8]>>),
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        match &mut self.0 {
            IterRepr::Int(set, i) => {
                if *i < set.len() {
                    *i += 1;
                    Some(Member::Int(set.get(*i - 1)))
                } else {
                    None
                }
            }
            IterRepr::Listpack(it) => it.next().map(Member::Bytes),
            IterRepr::Table(it) => it.next().map(|m| Member::Bytes(m)),
        }
    }
}

impl SetValue {
    pub fn new() -> SetValue {
        SetValue::default()
    }

    /// Redis's setTypeCreate: the encoding a new set starts in, chosen from its first member and
    /// the number of members the command is about to add.
    pub fn with_hint(first: &[u8], size_hint: usize) -> SetValue {
        let repr = if canonical_i64(first).is_some() && size_hint <= SET_MAX_INTSET_ENTRIES {
            Repr::Compact(CompactBuf::default())
        } else if size_hint <= SET_MAX_LISTPACK_ENTRIES {
            Repr::Compact(empty_listpack())
        } else {
            Repr::Table(Box::new(Table::with_capacity(size_hint)))
        };
        SetValue { repr }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Compact(buf) if is_listpack(buf) => lp_count(buf),
            Repr::Compact(buf) => IntSet(buf).len(),
            Repr::Table(t) => t.set.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Compact(buf) if is_listpack(buf) => "listpack",
            Repr::Compact(_) => "intset",
            Repr::Table(_) => "hashtable",
        }
    }

    /// Whether a compact encoding is in use (SSCAN then returns everything in one call).
    pub fn is_compact(&self) -> bool {
        matches!(self.repr, Repr::Compact(_))
    }

    /// Heap bytes owned by the value.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Compact(buf) => buf.heap_size(),
            Repr::Table(t) => {
                let cap = t.set.capacity();
                std::mem::size_of::<Table>()
                    + cap * (std::mem::size_of::<Box<[u8]>>() + std::mem::size_of::<usize>())
                    + cap * (std::mem::size_of::<usize>() + 1)
                    + t.member_bytes
            }
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        match &self.repr {
            Repr::Compact(buf) if is_listpack(buf) => lp_find(buf, m).is_some(),
            Repr::Compact(buf) => canonical_i64(m).is_some_and(|v| IntSet(buf).search(v).is_ok()),
            Repr::Table(t) => t.set.contains(m),
        }
    }

    /// Converts a compact encoding to the hashtable, sized for `capacity` members.
    fn convert_to_table(&mut self, capacity: usize) {
        let mut t = Table::with_capacity(capacity.max(self.len()));
        for m in self.iter() {
            m.with_bytes(|b| t.insert(b));
        }
        self.repr = Repr::Table(Box::new(t));
    }

    /// Adds `m`. Returns true if it was not a member.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        if let Repr::Compact(buf) = &mut self.repr {
            if is_listpack(buf) {
                if lp_find(buf, m).is_some() {
                    return false;
                }
                if lp_count(buf) < SET_MAX_LISTPACK_ENTRIES && m.len() <= SET_MAX_LISTPACK_VALUE {
                    *buf = lp_with(buf, m);
                    return true;
                }
            } else if let Some(v) = canonical_i64(m) {
                let set = IntSet(buf);
                let at = match set.search(v) {
                    Ok(_) => return false,
                    Err(at) => at,
                };
                *buf = intset_with(buf, v, at);
                if IntSet(buf).len() > SET_MAX_INTSET_ENTRIES {
                    self.convert_to_table(SET_MAX_INTSET_ENTRIES + 1);
                }
                return true;
            } else {
                let n = IntSet(buf).len();
                if n < SET_MAX_LISTPACK_ENTRIES && m.len() <= SET_MAX_LISTPACK_VALUE {
                    // Integers print in at most 20 bytes, so they all fit a listpack.
                    let mut lp = empty_listpack();
                    for v in IntSet(buf).iter() {
                        let mut tmp = [0u8; MAX_I64_LEN];
                        lp = lp_with(&lp, i64_digits(&mut tmp, v));
                    }
                    *buf = lp_with(&lp, m);
                    return true;
                }
            }
            let n = self.len();
            self.convert_to_table(n + 1);
        }
        match &mut self.repr {
            Repr::Table(t) => t.insert(m),
            Repr::Compact(_) => unreachable!("converted above"),
        }
    }

    /// Removes `m`. Returns whether it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match &mut self.repr {
            Repr::Compact(buf) if is_listpack(buf) => match lp_find(buf, m) {
                Some(at) => {
                    *buf = lp_without(buf, at);
                    true
                }
                None => false,
            },
            Repr::Compact(buf) => {
                let found = canonical_i64(m).and_then(|v| IntSet(buf).search(v).ok());
                match found {
                    Some(at) => {
                        *buf = intset_without(buf, at);
                        true
                    }
                    None => false,
                }
            }
            Repr::Table(t) => t.remove(m),
        }
    }

    /// The members in encoding order (sorted for intsets).
    pub fn iter(&self) -> Iter<'_> {
        Iter(match &self.repr {
            Repr::Compact(buf) if is_listpack(buf) => IterRepr::Listpack(LpIter::new(buf)),
            Repr::Compact(buf) => IterRepr::Int(IntSet(buf), 0),
            Repr::Table(t) => IterRepr::Table(t.set.iter()),
        })
    }

    /// The member at position `i` (O(1) except for listpack, O(n)).
    pub fn get_index(&self, i: usize) -> Option<Member<'_>> {
        match &self.repr {
            Repr::Compact(buf) if is_listpack(buf) => LpIter::new(buf).nth(i).map(Member::Bytes),
            Repr::Compact(buf) => {
                let set = IntSet(buf);
                (i < set.len()).then(|| Member::Int(set.get(i)))
            }
            Repr::Table(t) => t.set.get_index(i).map(|m| Member::Bytes(m)),
        }
    }

    /// Removes and returns the member at position `i`. For the hashtable this is a `swap_remove`
    /// (the last member takes its place).
    pub fn remove_index(&mut self, i: usize) -> Option<Vec<u8>> {
        let m = self.get_index(i)?.to_vec();
        match &mut self.repr {
            Repr::Table(t) => {
                if let Some(old) = t.set.swap_remove_index(i) {
                    t.member_bytes -= old.len();
                }
            }
            Repr::Compact(_) => {
                self.remove(&m);
            }
        }
        Some(m)
    }

    /// A uniformly random member.
    pub fn random(&self, rng: &mut Rng) -> Option<Member<'_>> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        self.get_index(rng.below(n as u64) as usize)
    }

    /// Removes and returns a uniformly random member (SPOP).
    pub fn pop_random(&mut self, rng: &mut Rng) -> Option<Vec<u8>> {
        let n = self.len();
        if n == 0 {
            return None;
        }
        self.remove_index(rng.below(n as u64) as usize)
    }

    /// Keeps only the members for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(Member<'_>) -> bool) {
        match &mut self.repr {
            Repr::Table(t) => {
                let mut removed = 0;
                t.set.retain(|m| {
                    let k = keep(Member::Bytes(m));
                    if !k {
                        removed += m.len();
                    }
                    k
                });
                t.member_bytes -= removed;
            }
            Repr::Compact(_) => {
                let drop: Vec<Vec<u8>> = self
                    .iter()
                    .filter(|m| !keep(*m))
                    .map(|m| m.to_vec())
                    .collect();
                for m in drop {
                    self.remove(&m);
                }
            }
        }
    }

    /// One SSCAN step: calls `f` for roughly `count` members and returns the next cursor (0 =
    /// done). Compact encodings return everything at once with cursor 0, as Redis does.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(Member<'a>)) -> u64 {
        match &self.repr {
            Repr::Compact(_) => {
                for m in self.iter() {
                    f(m);
                }
                0
            }
            Repr::Table(t) => {
                let len = t.set.len() as u64;
                let start = if cursor == 0 { len } else { cursor.min(len) };
                let stop = start.saturating_sub(count.max(1) as u64);
                for i in (stop..start).rev() {
                    if let Some(m) = t.set.get_index(i as usize) {
                        f(Member::Bytes(m));
                    }
                }
                stop
            }
        }
    }
}

impl PartialEq for SetValue {
    fn eq(&self, other: &SetValue) -> bool {
        self.len() == other.len() && self.iter().all(|m| m.with_bytes(|b| other.contains(b)))
    }
}

impl std::fmt::Debug for SetValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = f.debug_set();
        for m in self.iter() {
            s.entry(&m.with_bytes(|b| String::from_utf8_lossy(b).into_owned()));
        }
        s.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    fn members(s: &SetValue) -> BTreeSet<Vec<u8>> {
        s.iter().map(|m| m.to_vec()).collect()
    }

    #[test]
    fn value_stays_three_words() {
        // Keeps `Value` (and so every boxed keyspace value) at 32 bytes.
        assert_eq!(std::mem::size_of::<SetValue>(), 24);
    }

    #[test]
    fn canonical_integers() {
        assert_eq!(canonical_i64(b"0"), Some(0));
        assert_eq!(canonical_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(canonical_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b""[..],
            b"01",
            b"+1",
            b"-0",
            b" 1",
            b"1.0",
            b"9223372036854775808",
            b"-",
        ] {
            assert_eq!(canonical_i64(bad), None);
        }
        let mut buf = [0u8; 20];
        assert_eq!(i64_digits(&mut buf, i64::MIN), b"-9223372036854775808");
        assert_eq!(i64_digits(&mut buf, 0), b"0");
    }

    #[test]
    fn intset_widths_and_order() {
        let mut s = SetValue::new();
        assert!(s.insert(b"3"));
        assert!(s.insert(b"1"));
        assert!(s.insert(b"2"));
        assert!(!s.insert(b"2"));
        assert_eq!(s.encoding(), "intset");
        assert_eq!(s.heap_size(), 0); // 7 bytes, inline
        assert!(s.insert(b"100000"));
        assert_eq!(s.heap_size(), 0); // 1 + 4 * 4 bytes, still inline
        assert!(s.insert(b"-9223372036854775808"));
        assert_eq!(s.heap_size(), 1 + 5 * 8);
        let order: Vec<Vec<u8>> = s.iter().map(|m| m.to_vec()).collect();
        assert_eq!(
            order,
            vec![
                b"-9223372036854775808".to_vec(),
                b"1".to_vec(),
                b"2".to_vec(),
                b"3".to_vec(),
                b"100000".to_vec()
            ]
        );
        assert!(s.contains(b"100000"));
        assert!(!s.contains(b"01"));
        assert!(!s.remove(b"01"));
        assert!(s.remove(b"100000"));
        assert_eq!(s.len(), 4);
        assert!(s.insert(b"01"));
        assert_eq!(s.encoding(), "listpack");
        assert!(s.contains(b"01") && s.contains(b"1") && s.contains(b"-9223372036854775808"));
    }

    #[test]
    fn conversions_follow_redis_thresholds() {
        let mut s = SetValue::new();
        for i in 0..SET_MAX_INTSET_ENTRIES {
            s.insert(i.to_string().as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        s.insert(b"100000");
        assert_eq!(s.encoding(), "hashtable");

        // A large intset gaining a string member goes straight to the hashtable.
        let mut s = SetValue::new();
        for i in 0..200 {
            s.insert(i.to_string().as_bytes());
        }
        s.insert(b"a");
        assert_eq!(s.encoding(), "hashtable");

        let mut s = SetValue::new();
        for i in 0..SET_MAX_LISTPACK_ENTRIES {
            s.insert(format!("m{i}").as_bytes());
        }
        assert_eq!(s.encoding(), "listpack");
        s.insert(b"1");
        assert_eq!(s.encoding(), "hashtable");

        let mut s = SetValue::new();
        s.insert(b"a");
        s.insert(&[b'x'; SET_MAX_LISTPACK_VALUE]);
        assert_eq!(s.encoding(), "listpack");
        s.insert(&[b'x'; SET_MAX_LISTPACK_VALUE + 1]);
        assert_eq!(s.encoding(), "hashtable");

        assert_eq!(SetValue::with_hint(b"1", 3).encoding(), "intset");
        assert_eq!(SetValue::with_hint(b"1", 600).encoding(), "hashtable");
        assert_eq!(SetValue::with_hint(b"a", 3).encoding(), "listpack");
        assert_eq!(SetValue::with_hint(b"a", 129).encoding(), "hashtable");
        // A listpack set keeps integers as strings.
        let mut s = SetValue::with_hint(b"a", 2);
        s.insert(b"5");
        assert_eq!(s.encoding(), "listpack");
    }

    #[test]
    fn random_members_are_roughly_uniform() {
        let mut rng = Rng::new(42);
        // Small (listpack) set: pop one member from a fresh copy each time.
        let mut small = SetValue::new();
        for i in 0..5 {
            small.insert(format!("m{i}").as_bytes());
        }
        let mut counts = [0u32; 5];
        for _ in 0..5000 {
            let m = small.clone().pop_random(&mut rng).unwrap();
            counts[(m[1] - b'0') as usize] += 1;
        }
        assert!(counts.iter().all(|c| (800..1200).contains(c)), "{counts:?}");
        // Hashtable: sample with `random`.
        let mut big = SetValue::new();
        for i in 0..200 {
            big.insert(format!("m{i}").as_bytes());
        }
        assert_eq!(big.encoding(), "hashtable");
        let mut counts = vec![0u32; 200];
        for _ in 0..40_000 {
            let m = big.random(&mut rng).unwrap().to_vec();
            let i: usize = std::str::from_utf8(&m[1..]).unwrap().parse().unwrap();
            counts[i] += 1;
        }
        assert!(counts.iter().all(|c| (120..280).contains(c)), "{counts:?}");
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Vec<u8>),
        Remove(Vec<u8>),
        Pop,
        Retain(u8),
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            6 => (-600i64..600).prop_map(|i| i.to_string().into_bytes()),
            1 => any::<i64>().prop_map(|i| i.to_string().into_bytes()),
            2 => (0u8..60).prop_map(|i| format!("m{i}").into_bytes()),
            1 => proptest::collection::vec(any::<u8>(), 0..80),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            8 => member().prop_map(Op::Insert),
            3 => member().prop_map(Op::Remove),
            1 => Just(Op::Pop),
            1 => any::<u8>().prop_map(Op::Retain),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn behaves_like_a_btreeset(
            ops in proptest::collection::vec(op(), 0..700),
            int_only in any::<bool>(),
            seed in any::<u64>(),
        ) {
            let mut rng = Rng::new(seed);
            let mut s = SetValue::new();
            let mut model: BTreeSet<Vec<u8>> = BTreeSet::new();
            let mut rank = 0; // 0 intset, 1 listpack, 2 hashtable: never decreases
            let mut all_ints = true;
            let mut max_len = 0;
            let mut longest = 0;
            for op in ops {
                match op {
                    Op::Insert(m) => {
                        let m = if int_only && canonical_i64(&m).is_none() { b"7".to_vec() } else { m };
                        all_ints &= canonical_i64(&m).is_some();
                        longest = longest.max(m.len());
                        prop_assert_eq!(s.insert(&m), model.insert(m));
                    }
                    Op::Remove(m) => prop_assert_eq!(s.remove(&m), model.remove(&m)),
                    Op::Pop => match s.pop_random(&mut rng) {
                        Some(m) => prop_assert!(model.remove(&m)),
                        None => prop_assert!(model.is_empty()),
                    },
                    Op::Retain(k) => {
                        s.retain(|m| m.with_bytes(|b| b.iter().map(|&x| x as u32).sum::<u32>() % 7 != k as u32 % 7));
                        model.retain(|b| b.iter().map(|&x| x as u32).sum::<u32>() % 7 != k as u32 % 7);
                    }
                }
                max_len = max_len.max(model.len());
                prop_assert_eq!(s.len(), model.len());
                let r = match s.encoding() { "intset" => 0, "listpack" => 1, _ => 2 };
                prop_assert!(r >= rank, "encoding went back");
                rank = r;
                match r {
                    0 => prop_assert!(all_ints && max_len <= SET_MAX_INTSET_ENTRIES),
                    1 => prop_assert!(max_len <= SET_MAX_LISTPACK_ENTRIES && longest <= SET_MAX_LISTPACK_VALUE),
                    _ => prop_assert!(max_len > SET_MAX_LISTPACK_ENTRIES
                        || longest > SET_MAX_LISTPACK_VALUE
                        || (all_ints && max_len > SET_MAX_INTSET_ENTRIES)),
                }
                if int_only && max_len <= SET_MAX_INTSET_ENTRIES {
                    prop_assert_eq!(s.encoding(), "intset");
                }
            }
            prop_assert_eq!(&members(&s), &model);
            for m in &model {
                prop_assert!(s.contains(m));
            }
            let by_index: BTreeSet<Vec<u8>> =
                (0..s.len()).map(|i| s.get_index(i).unwrap().to_vec()).collect();
            prop_assert_eq!(&by_index, &model);
            let mut scanned = BTreeSet::new();
            let mut c = 0;
            loop {
                c = s.scan(c, 5, |m| { scanned.insert(m.to_vec()); });
                if c == 0 { break; }
            }
            prop_assert_eq!(&scanned, &model);
            if s.encoding() == "intset" {
                let v: Vec<i64> = s.iter().map(|m| match m { Member::Int(v) => v, _ => unreachable!() }).collect();
                prop_assert!(v.windows(2).all(|w| w[0] < w[1]));
            }
            prop_assert_eq!(s.clone(), s);
        }
    }
}
