//! The sorted set value type, in Redis's two encodings.
//!
//! - "listpack": while a set has at most 128 members of at most 64 bytes (Redis's
//!   zset-max-listpack-entries/-value defaults) it is one byte buffer of entries sorted by
//!   (score, member): `varint(len) member score`, the score stored in 1 byte for small integers,
//!   2-9 bytes for other integers, 5 for values an f32 holds exactly (1.5, 0.25, ...) and 9
//!   otherwise (like Redis's listpack, which stores
//!   integral scores as integers, -0 reads back as 0 in this encoding). One allocation per set and a few bytes of
//!   overhead per member, which is what keeps millions of small sorted sets cheap; every
//!   operation is a linear scan over at most 128 entries, as in Redis.
//! - "skiplist" (the name Redis reports; the structure differs): an arena of slots (member,
//!   score) indexed two ways: a chained hash table keyed by member (O(1) ZSCORE, and a
//!   Redis-compatible reverse-binary cursor for ZSCAN that survives resizes), and an
//!   order-statistic B+tree of (score, slot id) with subtree counts (O(log n) insert, delete,
//!   rank, select, and score/lex range bounds). Members are stored once, in their slot; the tree
//!   holds 12 bytes per member.
//!
//! Ordering is by score (`f64`, NaN never stored, -0.0 == 0.0) then by member bytes. Like Redis
//! 7.2, a set converts to the big encoding when it outgrows the limits and never converts back
//! by itself; results built from scratch (the *STORE commands) get the encoding their size calls
//! for.

use std::cmp::Ordering;
use std::fmt;
use std::hash::BuildHasher;
use std::ops::Range;

/// zset-max-listpack-entries.
pub const LISTPACK_MAX_ENTRIES: usize = 128;
/// zset-max-listpack-value.
pub const LISTPACK_MAX_VALUE: usize = 64;

const _: () = assert!(LISTPACK_MAX_ENTRIES <= u8::MAX as usize);

/// Score order: -0.0 equals 0.0; NaN (never stored) compares equal to avoid panics.
#[inline]
pub fn cmp_score(a: f64, b: f64) -> Ordering {
    a.partial_cmp(&b).unwrap_or(Ordering::Equal)
}

#[inline]
fn cmp_key(sa: f64, ma: &[u8], sb: f64, mb: &[u8]) -> Ordering {
    cmp_score(sa, sb).then_with(|| ma.cmp(mb))
}

/// A score interval (ZRANGEBYSCORE, ZCOUNT, ...).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    pub min: f64,
    pub min_exclusive: bool,
    pub max: f64,
    pub max_exclusive: bool,
}

impl ScoreRange {
    /// True for scores below the interval's lower end (a prefix of the order).
    pub fn below_min(&self, s: f64) -> bool {
        if self.min_exclusive {
            s <= self.min
        } else {
            s < self.min
        }
    }

    /// True for scores not above the interval's upper end (a prefix of the order).
    pub fn within_max(&self, s: f64) -> bool {
        if self.max_exclusive {
            s < self.max
        } else {
            s <= self.max
        }
    }

    pub fn contains(&self, s: f64) -> bool {
        !self.below_min(s) && self.within_max(s)
    }
}

/// One end of a lexicographic interval (ZRANGEBYLEX): `-`, `+`, `[x` or `(x`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    NegInf,
    PosInf,
    Inclusive(Vec<u8>),
    Exclusive(Vec<u8>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    pub min: LexBound,
    pub max: LexBound,
}

impl LexRange {
    /// True for members below the lower end.
    pub fn below_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Inclusive(x) => m < x.as_slice(),
            LexBound::Exclusive(x) => m <= x.as_slice(),
        }
    }

    /// True for members not above the upper end.
    pub fn within_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Inclusive(x) => m <= x.as_slice(),
            LexBound::Exclusive(x) => m < x.as_slice(),
        }
    }

    pub fn contains(&self, m: &[u8]) -> bool {
        !self.below_min(m) && self.within_max(m)
    }
}

// ---------------------------------------------------------------------------------------------
// The listpack encoding.

const SCORE_F64: u8 = 0xFF;
const SCORE_F32: u8 = 0xFE;
const SCORE_INT_BASE: u8 = 0xF0;
/// Tags 0..=SMALL_MAX_TAG are the integers -16..=223.
const SMALL_MAX_TAG: u8 = 0xEF;
const SMALL_BIAS: i64 = 16;

/// Encodes a score into `out`, returning the byte count.
fn encode_score(out: &mut [u8; 9], s: f64) -> usize {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
    let integral = s.is_finite() && s.fract() == 0.0 && s.abs() <= EXACT;
    // -0.0 is stored as the integer 0, as Redis's listpack does (it loses the sign).
    if integral {
        let i = s as i64;
        if (-SMALL_BIAS..=(SMALL_MAX_TAG as i64 - SMALL_BIAS)).contains(&i) {
            out[0] = (i + SMALL_BIAS) as u8;
            return 1;
        }
        let bytes = i.to_le_bytes();
        let mut k = 8;
        // Drop high bytes that are pure sign extension.
        while k > 1 {
            let top = bytes[k - 1];
            let next_sign = bytes[k - 2] & 0x80;
            if (top == 0 && next_sign == 0) || (top == 0xFF && next_sign != 0) {
                k -= 1;
            } else {
                break;
            }
        }
        out[0] = SCORE_INT_BASE + k as u8;
        out[1..1 + k].copy_from_slice(&bytes[..k]);
        return 1 + k;
    }
    // Halves, quarters and other short binary fractions fit an f32 exactly.
    let f = s as f32;
    if f as f64 == s {
        out[0] = SCORE_F32;
        out[1..5].copy_from_slice(&f.to_bits().to_le_bytes());
        return 5;
    }
    out[0] = SCORE_F64;
    out[1..9].copy_from_slice(&s.to_bits().to_le_bytes());
    9
}

/// Decodes the score at `pos`: (score, bytes used).
#[inline]
fn decode_score(buf: &[u8], pos: usize) -> (f64, usize) {
    let tag = buf[pos];
    if tag <= SMALL_MAX_TAG {
        return ((tag as i64 - SMALL_BIAS) as f64, 1);
    }
    if tag == SCORE_F64 {
        let mut b = [0u8; 8];
        b.copy_from_slice(&buf[pos + 1..pos + 9]);
        return (f64::from_bits(u64::from_le_bytes(b)), 9);
    }
    if tag == SCORE_F32 {
        let mut b = [0u8; 4];
        b.copy_from_slice(&buf[pos + 1..pos + 5]);
        return (f32::from_bits(u32::from_le_bytes(b)) as f64, 5);
    }
    let k = (tag - SCORE_INT_BASE) as usize;
    let mut b = [0u8; 8];
    b[..k].copy_from_slice(&buf[pos + 1..pos + 1 + k]);
    if buf[pos + k] & 0x80 != 0 {
        for x in b.iter_mut().skip(k) {
            *x = 0xFF;
        }
    }
    (i64::from_le_bytes(b) as f64, 1 + k)
}

fn write_varint(out: &mut Vec<u8>, mut n: usize) {
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// One decoded listpack entry.
#[derive(Clone, Copy)]
struct PEntry<'a> {
    member: &'a [u8],
    score: f64,
    /// Byte range of the whole entry.
    start: usize,
    end: usize,
}

#[inline]
fn read_entry(buf: &[u8], pos: usize) -> PEntry<'_> {
    let mut len = 0usize;
    let mut shift = 0;
    let mut i = pos;
    loop {
        let b = buf[i];
        len |= ((b & 0x7f) as usize) << shift;
        i += 1;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let member = &buf[i..i + len];
    let (score, n) = decode_score(buf, i + len);
    PEntry {
        member,
        score,
        start: pos,
        end: i + len + n,
    }
}

struct PackIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackIter<'a> {
    type Item = PEntry<'a>;

    fn next(&mut self) -> Option<PEntry<'a>> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let e = read_entry(self.buf, self.pos);
        self.pos = e.end;
        Some(e)
    }
}

fn pack_iter(buf: &[u8]) -> PackIter<'_> {
    PackIter {
        buf,
        pos: buf.len().min(1),
    }
}

fn pack_len(buf: &[u8]) -> usize {
    buf.first().copied().unwrap_or(0) as usize
}

fn pack_find<'a>(buf: &'a [u8], member: &[u8]) -> Option<(usize, PEntry<'a>)> {
    pack_iter(buf).enumerate().find(|(_, e)| e.member == member)
}

/// Inserts a member known to be absent at its sorted place.
fn pack_insert(buf: &mut Vec<u8>, member: &[u8], score: f64) {
    if buf.is_empty() {
        buf.push(0);
    }
    let pos = pack_iter(buf)
        .find(|e| cmp_key(e.score, e.member, score, member) == Ordering::Greater)
        .map(|e| e.start)
        .unwrap_or(buf.len());
    let mut enc = Vec::with_capacity(member.len() + 14);
    write_varint(&mut enc, member.len());
    enc.extend_from_slice(member);
    let mut sb = [0u8; 9];
    let n = encode_score(&mut sb, score);
    enc.extend_from_slice(&sb[..n]);
    // Grow exactly: small sets are the memory-sensitive case, and the allocator rounds anyway.
    buf.reserve_exact(enc.len());
    buf.splice(pos..pos, enc);
    buf[0] += 1;
}

fn pack_remove_span(buf: &mut Vec<u8>, start: usize, end: usize, entries: usize) {
    buf.drain(start..end);
    buf[0] -= entries as u8;
    if buf[0] == 0 {
        *buf = Vec::new();
    }
}

// ---------------------------------------------------------------------------------------------
// The big encoding: slots + hash index + order-statistic B+tree.

const NIL: u32 = u32::MAX;

#[derive(Clone)]
struct Slot {
    member: Box<[u8]>,
    score: f64,
    hash: u32,
    /// Next slot in the hash chain, or in the free list for a free slot.
    next: u32,
}

const LEAF_CAP: usize = 64;
const INNER_CAP: usize = 32;
const LEAF_MIN: usize = LEAF_CAP / 4;
const INNER_MIN: usize = INNER_CAP / 4;
/// Fill used when building a tree from sorted keys, leaving room for inserts.
const LEAF_BUILD: usize = LEAF_CAP * 3 / 4;
const INNER_BUILD: usize = INNER_CAP * 3 / 4;

#[derive(Clone)]
struct Leaf {
    len: usize,
    scores: [f64; LEAF_CAP],
    ids: [u32; LEAF_CAP],
}

#[derive(Clone)]
struct Inner {
    children: Vec<TNode>,
    /// Elements under each child.
    counts: Vec<usize>,
    /// Smallest key under each child (always exact: kept up to date on every change).
    min_scores: Vec<f64>,
    min_ids: Vec<u32>,
    total: usize,
}

#[derive(Clone)]
enum TNode {
    Leaf(Box<Leaf>),
    Inner(Box<Inner>),
}

/// Compares key (sa, a) with key (sb, b), ids resolved to members through `slots`.
#[inline]
fn key_cmp(slots: &[Slot], sa: f64, a: u32, sb: f64, b: u32) -> Ordering {
    match cmp_score(sa, sb) {
        Ordering::Equal if a == b => Ordering::Equal,
        Ordering::Equal => slots[a as usize].member.cmp(&slots[b as usize].member),
        o => o,
    }
}

impl Leaf {
    fn new() -> Box<Leaf> {
        Box::new(Leaf {
            len: 0,
            scores: [0.0; LEAF_CAP],
            ids: [0; LEAF_CAP],
        })
    }

    /// Number of keys smaller than (s, id).
    fn lower_bound(&self, slots: &[Slot], s: f64, id: u32) -> usize {
        let (mut lo, mut hi) = (0, self.len);
        while lo < hi {
            let mid = (lo + hi) / 2;
            if key_cmp(slots, self.scores[mid], self.ids[mid], s, id) == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }

    fn insert_at(&mut self, pos: usize, s: f64, id: u32) {
        self.scores.copy_within(pos..self.len, pos + 1);
        self.ids.copy_within(pos..self.len, pos + 1);
        self.scores[pos] = s;
        self.ids[pos] = id;
        self.len += 1;
    }

    fn remove_at(&mut self, pos: usize) {
        self.scores.copy_within(pos + 1..self.len, pos);
        self.ids.copy_within(pos + 1..self.len, pos);
        self.len -= 1;
    }
}

impl TNode {
    fn count(&self) -> usize {
        match self {
            TNode::Leaf(l) => l.len,
            TNode::Inner(n) => n.total,
        }
    }

    /// Entries (leaf) or children (inner): what node capacity limits.
    fn width(&self) -> usize {
        match self {
            TNode::Leaf(l) => l.len,
            TNode::Inner(n) => n.children.len(),
        }
    }

    fn min_key(&self) -> (f64, u32) {
        match self {
            TNode::Leaf(l) => (l.scores[0], l.ids[0]),
            TNode::Inner(n) => (n.min_scores[0], n.min_ids[0]),
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            TNode::Leaf(_) => std::mem::size_of::<Leaf>(),
            TNode::Inner(n) => {
                std::mem::size_of::<Inner>()
                    + n.children.capacity() * std::mem::size_of::<TNode>()
                    + n.counts.capacity() * 8
                    + n.min_scores.capacity() * 8
                    + n.min_ids.capacity() * 4
                    + n.children.iter().map(TNode::heap_size).sum::<usize>()
            }
        }
    }
}

impl Inner {
    fn from_children(children: Vec<TNode>) -> Inner {
        let counts: Vec<usize> = children.iter().map(TNode::count).collect();
        let mins: Vec<(f64, u32)> = children.iter().map(TNode::min_key).collect();
        Inner {
            total: counts.iter().sum(),
            counts,
            min_scores: mins.iter().map(|m| m.0).collect(),
            min_ids: mins.iter().map(|m| m.1).collect(),
            children,
        }
    }

    /// The child whose key range holds (s, id): the last child whose min is <= the key.
    fn child_for(&self, slots: &[Slot], s: f64, id: u32) -> usize {
        let (mut lo, mut hi) = (0, self.children.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            if key_cmp(slots, self.min_scores[mid], self.min_ids[mid], s, id) != Ordering::Greater {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo.saturating_sub(1)
    }

    fn refresh(&mut self, i: usize) {
        self.counts[i] = self.children[i].count();
        let (s, id) = self.children[i].min_key();
        self.min_scores[i] = s;
        self.min_ids[i] = id;
    }

    fn insert_child(&mut self, i: usize, child: TNode) {
        let (s, id) = child.min_key();
        self.counts.insert(i, child.count());
        self.min_scores.insert(i, s);
        self.min_ids.insert(i, id);
        self.children.insert(i, child);
    }

    fn remove_child(&mut self, i: usize) -> TNode {
        self.counts.remove(i);
        self.min_scores.remove(i);
        self.min_ids.remove(i);
        self.children.remove(i)
    }

    /// Splits off the upper half of the children into a new node.
    fn split(&mut self) -> Inner {
        let half = self.children.len() / 2;
        let right = Inner::from_children(self.children.split_off(half));
        self.counts.truncate(half);
        self.min_scores.truncate(half);
        self.min_ids.truncate(half);
        self.total = self.counts.iter().sum();
        right
    }

    /// Fixes child `i` after a removal left it with too few entries: merges it with a
    /// neighbour, or moves entries over from the neighbour.
    fn rebalance(&mut self, i: usize) {
        let j = if i + 1 < self.children.len() {
            i + 1
        } else if i > 0 {
            i - 1
        } else {
            return;
        };
        let (l, r) = (i.min(j), i.max(j));
        let (left_part, right_part) = self.children.split_at_mut(r);
        let (a, b) = (&mut left_part[l], &mut right_part[0]);
        let cap = match a {
            TNode::Leaf(_) => LEAF_CAP,
            TNode::Inner(_) => INNER_CAP,
        };
        let merge = a.width() + b.width() <= cap;
        match (a, b) {
            (TNode::Leaf(a), TNode::Leaf(b)) => {
                if merge {
                    let (al, bl) = (a.len, b.len);
                    a.scores[al..al + bl].copy_from_slice(&b.scores[..bl]);
                    a.ids[al..al + bl].copy_from_slice(&b.ids[..bl]);
                    a.len += bl;
                    b.len = 0;
                } else {
                    let total = a.len + b.len;
                    let target = total / 2;
                    if a.len < target {
                        let k = target - a.len;
                        let al = a.len;
                        a.scores[al..al + k].copy_from_slice(&b.scores[..k]);
                        a.ids[al..al + k].copy_from_slice(&b.ids[..k]);
                        a.len += k;
                        b.scores.copy_within(k..b.len, 0);
                        b.ids.copy_within(k..b.len, 0);
                        b.len -= k;
                    } else {
                        let k = a.len - target;
                        let bl = b.len;
                        b.scores.copy_within(0..bl, k);
                        b.ids.copy_within(0..bl, k);
                        b.scores[..k].copy_from_slice(&a.scores[target..a.len]);
                        b.ids[..k].copy_from_slice(&a.ids[target..a.len]);
                        b.len += k;
                        a.len = target;
                    }
                }
            }
            (TNode::Inner(a), TNode::Inner(b)) => {
                if merge {
                    a.children.append(&mut b.children);
                    a.counts.append(&mut b.counts);
                    a.min_scores.append(&mut b.min_scores);
                    a.min_ids.append(&mut b.min_ids);
                    a.total += b.total;
                    b.total = 0;
                } else {
                    let total = a.children.len() + b.children.len();
                    let target = total / 2;
                    let mut all_children = std::mem::take(&mut a.children);
                    all_children.append(&mut b.children);
                    let right = all_children.split_off(target);
                    **a = Inner::from_children(all_children);
                    **b = Inner::from_children(right);
                }
            }
            _ => unreachable!("siblings are at the same depth"),
        }
        if merge {
            self.remove_child(r);
            self.refresh(l);
        } else {
            self.refresh(l);
            self.refresh(r);
        }
    }
}

/// Order-statistic B+tree of (score, slot id) keys.
#[derive(Clone)]
struct Tree {
    root: TNode,
}

impl Tree {
    fn new() -> Tree {
        Tree {
            root: TNode::Leaf(Leaf::new()),
        }
    }

    fn len(&self) -> usize {
        self.root.count()
    }

    /// Builds a tree from keys already in order (bulk load, O(n)).
    fn from_sorted(keys: &[(f64, u32)]) -> Tree {
        if keys.is_empty() {
            return Tree::new();
        }
        let leaves_n = keys.len().div_ceil(LEAF_BUILD);
        let mut level: Vec<TNode> = Vec::with_capacity(leaves_n);
        for chunk in even_chunks(keys.len(), leaves_n) {
            let mut leaf = Leaf::new();
            for (k, &(s, id)) in keys[chunk].iter().enumerate() {
                leaf.scores[k] = s;
                leaf.ids[k] = id;
                leaf.len = k + 1;
            }
            level.push(TNode::Leaf(leaf));
        }
        while level.len() > 1 {
            let n = level.len().div_ceil(INNER_BUILD);
            let mut next = Vec::with_capacity(n);
            let mut it = level.into_iter();
            for chunk in even_chunks(it.len(), n) {
                let children: Vec<TNode> = it.by_ref().take(chunk.len()).collect();
                next.push(TNode::Inner(Box::new(Inner::from_children(children))));
            }
            level = next;
        }
        Tree {
            root: level.pop().unwrap_or_else(|| TNode::Leaf(Leaf::new())),
        }
    }

    fn insert(&mut self, slots: &[Slot], s: f64, id: u32) {
        if let Some(right) = insert_rec(&mut self.root, slots, s, id) {
            let left = std::mem::replace(&mut self.root, TNode::Leaf(Leaf::new()));
            self.root = TNode::Inner(Box::new(Inner::from_children(vec![left, right])));
        }
    }

    fn remove(&mut self, slots: &[Slot], s: f64, id: u32) -> bool {
        let removed = remove_rec(&mut self.root, slots, s, id);
        // Collapse roots with a single child.
        loop {
            let collapse = match &mut self.root {
                TNode::Inner(n) if n.children.len() == 1 => n.children.pop(),
                TNode::Inner(n) if n.children.is_empty() => Some(TNode::Leaf(Leaf::new())),
                _ => None,
            };
            match collapse {
                Some(child) => self.root = child,
                None => break,
            }
        }
        removed
    }

    /// Number of keys smaller than (s, id).
    fn rank(&self, slots: &[Slot], s: f64, id: u32) -> usize {
        let mut node = &self.root;
        let mut acc = 0;
        loop {
            match node {
                TNode::Leaf(l) => return acc + l.lower_bound(slots, s, id),
                TNode::Inner(n) => {
                    let i = n.child_for(slots, s, id);
                    acc += n.counts[..i].iter().sum::<usize>();
                    node = &n.children[i];
                }
            }
        }
    }

    /// Number of leading keys for which `pred` holds (`pred` must hold on a prefix of the order).
    fn partition_point(&self, pred: &impl Fn(f64, u32) -> bool) -> usize {
        let mut node = &self.root;
        let mut acc = 0;
        loop {
            match node {
                TNode::Leaf(l) => {
                    let (mut lo, mut hi) = (0, l.len);
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        if pred(l.scores[mid], l.ids[mid]) {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    return acc + lo;
                }
                TNode::Inner(n) => {
                    // First child whose minimum fails the predicate.
                    let (mut lo, mut hi) = (0, n.children.len());
                    while lo < hi {
                        let mid = (lo + hi) / 2;
                        if pred(n.min_scores[mid], n.min_ids[mid]) {
                            lo = mid + 1;
                        } else {
                            hi = mid;
                        }
                    }
                    if lo == 0 {
                        return acc;
                    }
                    acc += n.counts[..lo - 1].iter().sum::<usize>();
                    node = &n.children[lo - 1];
                }
            }
        }
    }

    /// The key at rank `k` (< len).
    fn select(&self, mut k: usize) -> (f64, u32) {
        let mut node = &self.root;
        loop {
            match node {
                TNode::Leaf(l) => return (l.scores[k], l.ids[k]),
                TNode::Inner(n) => {
                    let mut i = 0;
                    while i + 1 < n.children.len() && k >= n.counts[i] {
                        k -= n.counts[i];
                        i += 1;
                    }
                    node = &n.children[i];
                }
            }
        }
    }

    /// Visits the keys of ranks `start..end` in order (or reverse order); `f` returns false to
    /// stop early.
    fn visit(&self, start: usize, end: usize, rev: bool, f: &mut impl FnMut(f64, u32) -> bool) {
        let end = end.min(self.len());
        if start < end {
            visit_rec(&self.root, start, end, rev, &mut |s, id| f(s, id));
        }
    }

    fn heap_size(&self) -> usize {
        self.root.heap_size()
    }
}

/// Splits `0..n` into `parts` contiguous ranges whose sizes differ by at most one.
fn even_chunks(n: usize, parts: usize) -> impl Iterator<Item = Range<usize>> {
    let parts = parts.max(1);
    let base = n / parts;
    let extra = n % parts;
    (0..parts).scan(0usize, move |start, i| {
        let len = base + usize::from(i < extra);
        let r = *start..*start + len;
        *start += len;
        Some(r)
    })
}

fn insert_rec(node: &mut TNode, slots: &[Slot], s: f64, id: u32) -> Option<TNode> {
    match node {
        TNode::Leaf(l) => {
            let pos = l.lower_bound(slots, s, id);
            if l.len < LEAF_CAP {
                l.insert_at(pos, s, id);
                return None;
            }
            let half = LEAF_CAP / 2;
            let mut right = Leaf::new();
            right.scores[..LEAF_CAP - half].copy_from_slice(&l.scores[half..]);
            right.ids[..LEAF_CAP - half].copy_from_slice(&l.ids[half..]);
            right.len = LEAF_CAP - half;
            l.len = half;
            if pos <= half {
                l.insert_at(pos, s, id);
            } else {
                right.insert_at(pos - half, s, id);
            }
            Some(TNode::Leaf(right))
        }
        TNode::Inner(n) => {
            let i = n.child_for(slots, s, id);
            let split = insert_rec(&mut n.children[i], slots, s, id);
            n.total += 1;
            n.refresh(i);
            if let Some(right) = split {
                n.insert_child(i + 1, right);
                if n.children.len() > INNER_CAP {
                    return Some(TNode::Inner(Box::new(n.split())));
                }
            }
            None
        }
    }
}

fn remove_rec(node: &mut TNode, slots: &[Slot], s: f64, id: u32) -> bool {
    match node {
        TNode::Leaf(l) => {
            let pos = l.lower_bound(slots, s, id);
            if pos < l.len && l.ids[pos] == id {
                l.remove_at(pos);
                true
            } else {
                false
            }
        }
        TNode::Inner(n) => {
            let i = n.child_for(slots, s, id);
            if !remove_rec(&mut n.children[i], slots, s, id) {
                return false;
            }
            n.total -= 1;
            if n.children[i].count() == 0 {
                n.remove_child(i);
                return true;
            }
            n.refresh(i);
            let min = match &n.children[i] {
                TNode::Leaf(_) => LEAF_MIN,
                TNode::Inner(_) => INNER_MIN,
            };
            if n.children[i].width() < min {
                n.rebalance(i);
            }
            true
        }
    }
}

fn visit_rec(
    node: &TNode,
    start: usize,
    end: usize,
    rev: bool,
    f: &mut dyn FnMut(f64, u32) -> bool,
) -> bool {
    match node {
        TNode::Leaf(l) => {
            if rev {
                for i in (start..end).rev() {
                    if !f(l.scores[i], l.ids[i]) {
                        return false;
                    }
                }
            } else {
                for i in start..end {
                    if !f(l.scores[i], l.ids[i]) {
                        return false;
                    }
                }
            }
            true
        }
        TNode::Inner(n) => {
            // The children overlapping start..end, in order, without collecting them first (a
            // range visit is on every ZRANGE and GEOSEARCH cell).
            let visit = |i: usize, lo: usize, hi: usize, f: &mut dyn FnMut(f64, u32) -> bool| {
                hi <= start
                    || lo >= end
                    || visit_rec(&n.children[i], start.max(lo) - lo, end.min(hi) - lo, rev, f)
            };
            if rev {
                let mut hi: usize = n.counts.iter().sum();
                for i in (0..n.children.len()).rev() {
                    let lo = hi - n.counts[i];
                    if lo < end && !visit(i, lo, hi, f) {
                        return false;
                    }
                    if lo <= start {
                        break;
                    }
                    hi = lo;
                }
            } else {
                let mut lo = 0;
                for i in 0..n.children.len() {
                    let hi = lo + n.counts[i];
                    if hi > start && !visit(i, lo, hi, f) {
                        return false;
                    }
                    if hi >= end {
                        break;
                    }
                    lo = hi;
                }
            }
            true
        }
    }
}

#[derive(Clone)]
struct Big {
    slots: Vec<Slot>,
    /// Head of the free-slot list.
    free: u32,
    /// Hash chains: heads per bucket, power-of-two sized.
    buckets: Vec<u32>,
    /// Per-process random seed: member hashes are unpredictable, so chains cannot be flooded.
    hasher: foldhash::fast::RandomState,
    /// Applied to every hash; tests narrow it to force collisions.
    hash_mask: u32,
    tree: Tree,
}

const MIN_BUCKETS: usize = 16;

impl Big {
    fn with_capacity(n: usize) -> Big {
        Big {
            slots: Vec::with_capacity(n),
            free: NIL,
            buckets: vec![NIL; n.next_power_of_two().max(MIN_BUCKETS)],
            hasher: foldhash::fast::RandomState::default(),
            hash_mask: u32::MAX,
            tree: Tree::new(),
        }
    }

    /// Builds from members in (score, member) order, all distinct.
    fn from_sorted(entries: impl ExactSizeIterator<Item = (Box<[u8]>, f64)>) -> Big {
        let mut b = Big::with_capacity(entries.len());
        let mut keys = Vec::with_capacity(entries.len());
        for (member, score) in entries {
            let id = b.slots.len() as u32;
            let hash = b.hash(&member);
            b.slots.push(Slot {
                member,
                score,
                hash,
                next: NIL,
            });
            b.link(id);
            keys.push((score, id));
        }
        b.tree = Tree::from_sorted(&keys);
        b
    }

    fn len(&self) -> usize {
        self.tree.len()
    }

    fn hash(&self, m: &[u8]) -> u32 {
        (self.hasher.hash_one(m) as u32) & self.hash_mask
    }

    fn bucket_of(&self, hash: u32) -> usize {
        hash as usize & (self.buckets.len() - 1)
    }

    fn link(&mut self, id: u32) {
        let b = self.bucket_of(self.slots[id as usize].hash);
        self.slots[id as usize].next = self.buckets[b];
        self.buckets[b] = id;
    }

    fn unlink(&mut self, id: u32) {
        let b = self.bucket_of(self.slots[id as usize].hash);
        let next = self.slots[id as usize].next;
        if self.buckets[b] == id {
            self.buckets[b] = next;
            return;
        }
        let mut cur = self.buckets[b];
        while cur != NIL {
            let n = self.slots[cur as usize].next;
            if n == id {
                self.slots[cur as usize].next = next;
                return;
            }
            cur = n;
        }
    }

    fn find(&self, m: &[u8]) -> Option<u32> {
        let h = self.hash(m);
        let mut cur = self.buckets[self.bucket_of(h)];
        while cur != NIL {
            let s = &self.slots[cur as usize];
            if s.hash == h && *s.member == *m {
                return Some(cur);
            }
            cur = s.next;
        }
        None
    }

    fn resize(&mut self, n: usize) {
        self.buckets = vec![NIL; n];
        let ids: Vec<u32> = self.live_ids().collect();
        for id in ids {
            self.link(id);
        }
    }

    /// Ids of live slots (free slots have `score` NaN).
    fn live_ids(&self) -> impl Iterator<Item = u32> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter(|(_, s)| !s.score.is_nan())
            .map(|(i, _)| i as u32)
    }

    fn insert_new(&mut self, member: &[u8], score: f64) {
        let hash = self.hash(member);
        let slot = Slot {
            member: member.into(),
            score,
            hash,
            next: NIL,
        };
        let id = if self.free != NIL {
            let id = self.free;
            self.free = self.slots[id as usize].next;
            self.slots[id as usize] = slot;
            id
        } else {
            self.slots.push(slot);
            (self.slots.len() - 1) as u32
        };
        self.link(id);
        self.tree.insert(&self.slots, score, id);
        if self.len() > self.buckets.len() {
            self.resize(self.buckets.len() * 2);
        }
    }

    fn set_score(&mut self, id: u32, score: f64) {
        let old = self.slots[id as usize].score;
        if old.to_bits() == score.to_bits() {
            return;
        }
        self.tree.remove(&self.slots, old, id);
        self.slots[id as usize].score = score;
        self.tree.insert(&self.slots, score, id);
    }

    /// Frees a slot already removed from the tree.
    fn free_slot(&mut self, id: u32) {
        self.unlink(id);
        let s = &mut self.slots[id as usize];
        s.member = Box::default();
        s.score = f64::NAN;
        s.next = self.free;
        self.free = id;
    }

    fn remove_id(&mut self, id: u32) -> f64 {
        let score = self.slots[id as usize].score;
        self.tree.remove(&self.slots, score, id);
        self.free_slot(id);
        self.after_removals();
        score
    }

    /// Shrinks the hash table and compacts the slot arena after many removals.
    fn after_removals(&mut self) {
        let live = self.len();
        if self.slots.len() >= 64 && self.slots.len() > 2 * live {
            self.compact();
        } else if self.buckets.len() > MIN_BUCKETS && live < self.buckets.len() / 8 {
            self.resize((live * 2).next_power_of_two().max(MIN_BUCKETS));
        }
    }

    /// Rebuilds the arena with no free slots, renumbering ids in key order.
    fn compact(&mut self) {
        let mut keys = Vec::with_capacity(self.len());
        self.tree.visit(0, self.len(), false, &mut |_, id| {
            keys.push(id);
            true
        });
        let mut old = std::mem::take(&mut self.slots);
        let entries = keys.into_iter().map(|id| {
            let s = &mut old[id as usize];
            (std::mem::take(&mut s.member), s.score)
        });
        let entries: Vec<(Box<[u8]>, f64)> = entries.collect();
        let hasher = self.hasher.clone();
        let mask = self.hash_mask;
        let mut fresh = Big::with_capacity(entries.len());
        fresh.hasher = hasher;
        fresh.hash_mask = mask;
        let mut keys = Vec::with_capacity(entries.len());
        for (member, score) in entries {
            let id = fresh.slots.len() as u32;
            let hash = fresh.hash(&member);
            fresh.slots.push(Slot {
                member,
                score,
                hash,
                next: NIL,
            });
            fresh.link(id);
            keys.push((score, id));
        }
        fresh.tree = Tree::from_sorted(&keys);
        *self = fresh;
    }

    fn member(&self, id: u32) -> &[u8] {
        &self.slots[id as usize].member
    }

    fn heap_size(&self) -> usize {
        std::mem::size_of::<Big>()
            + self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.slots.iter().map(|s| s.member.len()).sum::<usize>()
            + self.buckets.capacity() * 4
            + self.tree.heap_size()
    }

    /// One ZSCAN step over the hash buckets (Redis's reverse-binary cursor: every member present
    /// for the whole scan is returned at least once, even if the table is resized in between).
    fn scan_step<'a>(&'a self, cursor: u64, f: &mut impl FnMut(&'a [u8], f64)) -> u64 {
        let mask = (self.buckets.len() - 1) as u64;
        let mut cur = self.buckets[(cursor & mask) as usize];
        while cur != NIL {
            let s = &self.slots[cur as usize];
            f(&s.member, s.score);
            cur = s.next;
        }
        let mut v = cursor | !mask;
        v = v.reverse_bits();
        v = v.wrapping_add(1);
        v.reverse_bits()
    }
}

// ---------------------------------------------------------------------------------------------
// The public type.

#[derive(Clone)]
enum Repr {
    /// Listpack: `[count][entries]`, empty buffer when empty.
    Pack(Vec<u8>),
    Skip(Box<Big>),
}

/// A Redis sorted set.
#[derive(Clone)]
pub struct ZSetValue {
    repr: Repr,
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue {
            repr: Repr::Pack(Vec::new()),
        }
    }
}

impl PartialEq for ZSetValue {
    fn eq(&self, other: &Self) -> bool {
        if self.len() != other.len() {
            return false;
        }
        let a = self.to_vec();
        let b = other.to_vec();
        a.iter()
            .zip(b.iter())
            .all(|(x, y)| x.0 == y.0 && x.1 == y.1)
    }
}

impl fmt::Debug for ZSetValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut l = f.debug_list();
        self.for_each(|m, s| {
            l.entry(&(String::from_utf8_lossy(m), s));
        });
        l.finish()
    }
}

impl ZSetValue {
    pub fn new() -> ZSetValue {
        ZSetValue::default()
    }

    /// An empty set in the encoding a set of `size_hint` members of up to `max_len_hint` bytes
    /// needs (Redis zsetTypeCreate: ZADD with many pairs starts in the big encoding).
    pub fn with_hint(size_hint: usize, max_len_hint: usize) -> ZSetValue {
        if size_hint <= LISTPACK_MAX_ENTRIES && max_len_hint <= LISTPACK_MAX_VALUE {
            ZSetValue::default()
        } else {
            ZSetValue {
                repr: Repr::Skip(Box::new(Big::with_capacity(size_hint))),
            }
        }
    }

    /// Builds a set from distinct members already sorted by (score, member), choosing the
    /// encoding by size (the *STORE commands).
    ///
    /// Input that breaks the contract (unsorted, repeated members, NaN scores: e.g. a corrupt
    /// snapshot) is not trusted: it is then added member by member, the last score of a member
    /// winning and NaN scores skipped, so the invariants of the structure always hold.
    pub fn from_sorted(entries: Vec<(Vec<u8>, f64)>) -> ZSetValue {
        let valid = entries.iter().all(|(_, s)| !s.is_nan())
            && entries
                .windows(2)
                .all(|w| cmp_key(w[0].1, &w[0].0, w[1].1, &w[1].0) == Ordering::Less)
            && {
                let mut seen = std::collections::HashSet::with_capacity(entries.len());
                entries.iter().all(|(m, _)| seen.insert(m.as_slice()))
            };
        if !valid {
            let max_len = entries.iter().map(|(m, _)| m.len()).max().unwrap_or(0);
            let mut z = ZSetValue::with_hint(entries.len(), max_len);
            for (m, s) in &entries {
                if !s.is_nan() {
                    z.insert(m, *s);
                }
            }
            return z;
        }
        let small = entries.len() <= LISTPACK_MAX_ENTRIES
            && entries.iter().all(|(m, _)| m.len() <= LISTPACK_MAX_VALUE);
        if small {
            let mut buf = Vec::new();
            if !entries.is_empty() {
                let total: usize = entries.iter().map(|(m, _)| m.len() + 11).sum();
                buf.reserve_exact(total + 1);
                buf.push(entries.len() as u8);
                let mut sb = [0u8; 9];
                for (m, s) in &entries {
                    write_varint(&mut buf, m.len());
                    buf.extend_from_slice(m);
                    let n = encode_score(&mut sb, *s);
                    buf.extend_from_slice(&sb[..n]);
                }
                buf.shrink_to_fit();
            }
            ZSetValue {
                repr: Repr::Pack(buf),
            }
        } else {
            let it = entries.into_iter().map(|(m, s)| (m.into_boxed_slice(), s));
            ZSetValue {
                repr: Repr::Skip(Box::new(Big::from_sorted(it))),
            }
        }
    }

    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(b) => pack_len(b),
            Repr::Skip(b) => b.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Skip(_) => "skiplist",
        }
    }

    /// Heap bytes owned by the value.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Pack(b) => b.capacity(),
            Repr::Skip(b) => b.heap_size(),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Pack(b) => pack_find(b, member).map(|(_, e)| e.score),
            Repr::Skip(b) => b.find(member).map(|id| b.slots[id as usize].score),
        }
    }

    fn convert_to_big(&mut self) {
        if let Repr::Pack(buf) = &self.repr {
            let entries: Vec<(Box<[u8]>, f64)> =
                pack_iter(buf).map(|e| (e.member.into(), e.score)).collect();
            self.repr = Repr::Skip(Box::new(Big::from_sorted(entries.into_iter())));
        }
    }

    /// Sets `member`'s score, adding it if absent. Returns true if it was added. `score` must
    /// not be NaN.
    pub fn insert(&mut self, member: &[u8], score: f64) -> bool {
        debug_assert!(!score.is_nan());
        if let Repr::Pack(buf) = &mut self.repr {
            if let Some((_, e)) = pack_find(buf, member) {
                if e.score.to_bits() != score.to_bits() {
                    let (start, end) = (e.start, e.end);
                    pack_remove_span(buf, start, end, 1);
                    pack_insert(buf, member, score);
                }
                return false;
            }
            if pack_len(buf) < LISTPACK_MAX_ENTRIES && member.len() <= LISTPACK_MAX_VALUE {
                pack_insert(buf, member, score);
                return true;
            }
            self.convert_to_big();
        }
        match &mut self.repr {
            Repr::Skip(b) => match b.find(member) {
                Some(id) => {
                    b.set_score(id, score);
                    false
                }
                None => {
                    b.insert_new(member, score);
                    true
                }
            },
            Repr::Pack(_) => unreachable!("converted above"),
        }
    }

    /// Removes `member`, returning its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match &mut self.repr {
            Repr::Pack(buf) => {
                let (_, e) = pack_find(buf, member)?;
                let (score, start, end) = (e.score, e.start, e.end);
                pack_remove_span(buf, start, end, 1);
                Some(score)
            }
            Repr::Skip(b) => {
                let id = b.find(member)?;
                Some(b.remove_id(id))
            }
        }
    }

    /// 0-based ascending rank and score of `member`.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Pack(b) => pack_find(b, member).map(|(i, e)| (i, e.score)),
            Repr::Skip(b) => {
                let id = b.find(member)?;
                let score = b.slots[id as usize].score;
                Some((b.tree.rank(&b.slots, score, id), score))
            }
        }
    }

    /// The member and score at ascending rank `rank`.
    pub fn get_by_rank(&self, rank: usize) -> Option<(&[u8], f64)> {
        if rank >= self.len() {
            return None;
        }
        match &self.repr {
            Repr::Pack(b) => pack_iter(b).nth(rank).map(|e| (e.member, e.score)),
            Repr::Skip(b) => {
                let (s, id) = b.tree.select(rank);
                Some((b.member(id), s))
            }
        }
    }

    /// Ranks of the members whose score lies in `r` (empty when none).
    pub fn score_range(&self, r: &ScoreRange) -> Range<usize> {
        let (start, end) = match &self.repr {
            Repr::Pack(b) => {
                let start = pack_iter(b).take_while(|e| r.below_min(e.score)).count();
                let end = pack_iter(b).take_while(|e| r.within_max(e.score)).count();
                (start, end)
            }
            Repr::Skip(b) => (
                b.tree.partition_point(&|s, _| r.below_min(s)),
                b.tree.partition_point(&|s, _| r.within_max(s)),
            ),
        };
        start..end.max(start)
    }

    /// Ranks of the members in the lexicographic interval `r` (meaningful when all scores are
    /// equal, as in Redis).
    pub fn lex_range(&self, r: &LexRange) -> Range<usize> {
        let (start, end) = match &self.repr {
            Repr::Pack(b) => {
                let start = pack_iter(b).take_while(|e| r.below_min(e.member)).count();
                let end = pack_iter(b).take_while(|e| r.within_max(e.member)).count();
                (start, end)
            }
            Repr::Skip(b) => (
                b.tree.partition_point(&|_, id| r.below_min(b.member(id))),
                b.tree.partition_point(&|_, id| r.within_max(b.member(id))),
            ),
        };
        start..end.max(start)
    }

    /// Visits members of ranks `start..end` in ascending order, or descending if `rev`; `f`
    /// returns false to stop.
    pub fn visit_ranks<'a>(
        &'a self,
        start: usize,
        end: usize,
        rev: bool,
        mut f: impl FnMut(&'a [u8], f64) -> bool,
    ) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match &self.repr {
            Repr::Pack(b) => {
                let it = pack_iter(b).skip(start).take(end - start);
                if rev {
                    let v: Vec<PEntry<'_>> = it.collect();
                    for e in v.into_iter().rev() {
                        if !f(e.member, e.score) {
                            return;
                        }
                    }
                } else {
                    for e in it {
                        if !f(e.member, e.score) {
                            return;
                        }
                    }
                }
            }
            Repr::Skip(b) => b
                .tree
                .visit(start, end, rev, &mut |s, id| f(b.member(id), s)),
        }
    }

    /// Visits every member in ascending order.
    pub fn for_each<'a>(&'a self, mut f: impl FnMut(&'a [u8], f64)) {
        self.visit_ranks(0, self.len(), false, |m, s| {
            f(m, s);
            true
        });
    }

    /// All members and scores in ascending order.
    pub fn to_vec(&self) -> Vec<(Vec<u8>, f64)> {
        let mut v = Vec::with_capacity(self.len());
        self.for_each(|m, s| v.push((m.to_vec(), s)));
        v
    }

    /// Removes the members of ranks `start..end`; returns how many were removed.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        let k = end - start;
        match &mut self.repr {
            Repr::Pack(buf) => {
                let mut it = pack_iter(buf).skip(start);
                let first = it.next().map(|e| e.start);
                let last = pack_iter(buf).nth(end - 1).map(|e| e.end);
                if let (Some(a), Some(z)) = (first, last) {
                    pack_remove_span(buf, a, z, k);
                }
            }
            Repr::Skip(b) => {
                let mut ids = Vec::with_capacity(k);
                b.tree.visit(start, end, false, &mut |s, id| {
                    ids.push((s, id));
                    true
                });
                if k * 4 > b.len() {
                    // Many removals: rebuild the tree from the survivors (O(n)).
                    let mut keep = Vec::with_capacity(b.len() - k);
                    let len = b.len();
                    b.tree.visit(0, start, false, &mut |s, id| {
                        keep.push((s, id));
                        true
                    });
                    b.tree.visit(end, len, false, &mut |s, id| {
                        keep.push((s, id));
                        true
                    });
                    b.tree = Tree::from_sorted(&keep);
                    for &(_, id) in &ids {
                        b.free_slot(id);
                    }
                } else {
                    for &(s, id) in &ids {
                        b.tree.remove(&b.slots, s, id);
                        b.free_slot(id);
                    }
                }
                b.after_removals();
            }
        }
        k
    }

    /// Removes and returns the lowest (or highest if `max`) member.
    pub fn pop(&mut self, max: bool) -> Option<(Vec<u8>, f64)> {
        let len = self.len();
        if len == 0 {
            return None;
        }
        let rank = if max { len - 1 } else { 0 };
        let (m, s) = self.get_by_rank(rank).map(|(m, s)| (m.to_vec(), s))?;
        self.remove_ranks(rank, rank + 1);
        Some((m, s))
    }

    /// One ZSCAN step: calls `f` for at least `count` members when there are that many left
    /// (a hint, as in Redis) and returns the next cursor (0 when done). A listpack is returned
    /// whole in one step.
    pub fn scan<'a>(&'a self, cursor: u64, count: usize, mut f: impl FnMut(&'a [u8], f64)) -> u64 {
        match &self.repr {
            Repr::Pack(_) => {
                self.for_each(&mut f);
                0
            }
            Repr::Skip(b) => {
                let mut seen = 0usize;
                let mut cursor = cursor;
                let mut budget = count.saturating_mul(10).max(1);
                loop {
                    cursor = b.scan_step(cursor, &mut |m, s| {
                        seen += 1;
                        f(m, s)
                    });
                    budget -= 1;
                    if cursor == 0 || budget == 0 || seen >= count {
                        return cursor;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeSet, HashMap};

    /// Score bits with -0.0 read as 0.0 (the listpack does not keep the sign of zero).
    fn zb(f: f64) -> u64 {
        if f == 0.0 {
            0
        } else {
            f.to_bits()
        }
    }

    /// (score, member) with the zset order, for the oracle.
    #[derive(Debug, Clone, PartialEq)]
    struct K(f64, Vec<u8>);
    impl Eq for K {}
    impl PartialOrd for K {
        fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
            Some(self.cmp(o))
        }
    }
    impl Ord for K {
        fn cmp(&self, o: &Self) -> Ordering {
            cmp_key(self.0, &self.1, o.0, &o.1)
        }
    }

    #[derive(Default)]
    struct Oracle {
        set: BTreeSet<K>,
        map: HashMap<Vec<u8>, f64>,
    }

    impl Oracle {
        fn insert(&mut self, m: &[u8], s: f64) -> bool {
            let added = match self.map.insert(m.to_vec(), s) {
                Some(old) => {
                    self.set.remove(&K(old, m.to_vec()));
                    false
                }
                None => true,
            };
            self.set.insert(K(s, m.to_vec()));
            added
        }
        fn remove(&mut self, m: &[u8]) -> Option<f64> {
            let s = self.map.remove(m)?;
            self.set.remove(&K(s, m.to_vec()));
            Some(s)
        }
        fn sorted(&self) -> Vec<(Vec<u8>, f64)> {
            self.set.iter().map(|k| (k.1.clone(), k.0)).collect()
        }
    }

    fn check_tree(
        node: &TNode,
        slots: &[Slot],
        depth: usize,
        leaf_depth: &mut Option<usize>,
        root: bool,
    ) -> usize {
        match node {
            TNode::Leaf(l) => {
                match leaf_depth {
                    Some(d) => assert_eq!(*d, depth, "leaves at different depths"),
                    None => *leaf_depth = Some(depth),
                }
                assert!(l.len <= LEAF_CAP);
                if !root {
                    assert!(l.len >= 1);
                }
                for i in 1..l.len {
                    assert_eq!(
                        key_cmp(slots, l.scores[i - 1], l.ids[i - 1], l.scores[i], l.ids[i]),
                        Ordering::Less
                    );
                }
                for i in 0..l.len {
                    assert_eq!(
                        slots[l.ids[i] as usize].score.to_bits(),
                        l.scores[i].to_bits()
                    );
                }
                l.len
            }
            TNode::Inner(n) => {
                assert!(n.children.len() <= INNER_CAP);
                assert!(n.children.len() >= if root { 2 } else { 1 });
                let mut total = 0;
                for (i, c) in n.children.iter().enumerate() {
                    let cnt = check_tree(c, slots, depth + 1, leaf_depth, false);
                    assert_eq!(cnt, n.counts[i]);
                    let (s, id) = c.min_key();
                    assert_eq!((s.to_bits(), id), (n.min_scores[i].to_bits(), n.min_ids[i]));
                    total += cnt;
                }
                assert_eq!(total, n.total);
                total
            }
        }
    }

    fn check(z: &ZSetValue, o: &Oracle) {
        assert_eq!(z.len(), o.map.len());
        let got = z.to_vec();
        let want = o.sorted();
        assert_eq!(got.len(), want.len());
        for (g, w) in got.iter().zip(want.iter()) {
            assert_eq!(g.0, w.0);
            assert_eq!(zb(g.1), zb(w.1));
        }
        if let Repr::Skip(b) = &z.repr {
            let mut d = None;
            assert_eq!(check_tree(&b.tree.root, &b.slots, 0, &mut d, true), b.len());
            // Every live slot is in its hash chain exactly once.
            let mut chained = 0;
            for &head in &b.buckets {
                let mut cur = head;
                while cur != NIL {
                    let s = &b.slots[cur as usize];
                    assert!(!s.score.is_nan());
                    assert_eq!(b.bucket_of(s.hash), b.bucket_of(b.hash(&s.member)));
                    chained += 1;
                    cur = s.next;
                }
            }
            assert_eq!(chained, b.len());
        }
        if let Repr::Pack(buf) = &z.repr {
            assert!(z.len() <= LISTPACK_MAX_ENTRIES);
            if z.is_empty() {
                assert!(buf.is_empty());
            }
        }
    }

    #[test]
    fn score_encoding_roundtrips() {
        for s in [
            0.0,
            -0.0,
            1.0,
            -16.0,
            223.0,
            224.0,
            -17.0,
            255.0,
            256.0,
            -129.0,
            65535.0,
            1e15,
            -1e15,
            9007199254740992.0,
            9007199254740993.0,
            1.5,
            -2.25,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::MIN_POSITIVE,
            1e300,
            0.1,
            -0.75,
            3.4028234663852886e38,
            1e-45,
            16777217.5,
        ] {
            let mut b = [0u8; 9];
            let n = encode_score(&mut b, s);
            let (d, used) = decode_score(&b, 0);
            assert_eq!(used, n);
            assert_eq!(zb(d), zb(s), "{s}");
        }
        let mut b = [0u8; 9];
        assert_eq!(encode_score(&mut b, 5.0), 1);
        assert_eq!(encode_score(&mut b, 1000.0), 3);
        assert_eq!(encode_score(&mut b, 1.5), 5);
        assert_eq!(encode_score(&mut b, 0.1), 9);
        assert_eq!(encode_score(&mut b, 1e300), 9);
    }

    #[test]
    fn small_sets_stay_compact_and_convert() {
        let mut z = ZSetValue::default();
        assert_eq!(z.heap_size(), 0);
        for i in 0..128 {
            assert!(z.insert(format!("m{i}").as_bytes(), i as f64));
        }
        assert_eq!(z.encoding(), "listpack");
        // 128 members of ~4 bytes with small integer scores: ~6 bytes each.
        assert!(z.heap_size() < 128 * 8, "{}", z.heap_size());
        assert!(z.insert(b"one-more", 0.5));
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(z.rank(b"one-more"), Some((1, 0.5)));
        // Never converts back by itself.
        for i in 0..100 {
            z.remove(format!("m{i}").as_bytes());
        }
        assert_eq!(z.encoding(), "skiplist");
        let mut z = ZSetValue::default();
        z.insert(&[b'x'; 65], 1.0);
        assert_eq!(z.encoding(), "skiplist");
        assert_eq!(ZSetValue::with_hint(129, 1).encoding(), "skiplist");
        assert_eq!(ZSetValue::with_hint(128, 64).encoding(), "listpack");
        assert_eq!(ZSetValue::with_hint(1, 65).encoding(), "skiplist");
        let small = ZSetValue::from_sorted(vec![(b"a".to_vec(), 1.0), (b"b".to_vec(), 2.0)]);
        assert_eq!(small.encoding(), "listpack");
        assert_eq!(small.len(), 2);
    }

    #[test]
    fn from_sorted_tolerates_bad_input() {
        for n in [5usize, 300] {
            let mut entries: Vec<(Vec<u8>, f64)> = (0..n)
                .map(|i| (format!("m{}", i % (n / 2)).into_bytes(), (n - i) as f64))
                .collect();
            entries.push((b"nan".to_vec(), f64::NAN));
            let z = ZSetValue::from_sorted(entries);
            assert_eq!(z.len(), n / 2);
            // The last score of each member wins.
            let last_m0 = (0..n).filter(|i| i % (n / 2) == 0).max().unwrap_or(0);
            assert_eq!(z.score(b"m0"), Some((n - last_m0) as f64));
            assert_eq!(z.score(b"nan"), None);
            let v = z.to_vec();
            assert!(v
                .windows(2)
                .all(|w| cmp_key(w[0].1, &w[0].0, w[1].1, &w[1].0) == Ordering::Less));
        }
    }

    #[test]
    fn value_types_stay_small() {
        assert!(std::mem::size_of::<ZSetValue>() <= 24);
        assert!(std::mem::size_of::<crate::types::ListValue>() <= 24);
    }

    #[test]
    fn big_set_rank_and_ranges() {
        let mut z = ZSetValue::default();
        let n = 100_000;
        for i in 0..n {
            z.insert(format!("member:{i}").as_bytes(), (i / 2) as f64);
        }
        assert_eq!(z.len(), n);
        // Equal scores order by member bytes.
        assert_eq!(z.rank(b"member:0"), Some((0, 0.0)));
        assert_eq!(z.rank(b"member:1"), Some((1, 0.0)));
        assert_eq!(z.rank(b"member:99999"), Some((99_999, 49_999.0)));
        assert_eq!(
            z.get_by_rank(50_000),
            Some((&b"member:50000"[..], 25_000.0))
        );
        let r = z.score_range(&ScoreRange {
            min: 10.0,
            min_exclusive: true,
            max: 20.0,
            max_exclusive: false,
        });
        assert_eq!(r, 22..42);
        let mut v = Vec::new();
        z.visit_ranks(r.start, r.end, true, |m, _| {
            v.push(m.to_vec());
            true
        });
        assert_eq!(v.first().map(|m| m.as_slice()), Some(&b"member:41"[..]));
        assert_eq!(v.len(), 20);
        // Memory: below Redis's ~105 bytes per member of this size (skiplist node, sds, dict
        // entry and bucket, after jemalloc rounding).
        let per = z.heap_size() / n;
        assert!(per < 95, "{per} bytes per member");
        assert_eq!(z.remove_ranks(0, 50_000), 50_000);
        assert_eq!(z.len(), 50_000);
        assert_eq!(z.get_by_rank(0).map(|e| e.1), Some(25_000.0));
        assert_eq!(z.pop(true).map(|e| e.1), Some(49_999.0));
    }

    /// Enough members for several tree levels, then removals in random order down to empty:
    /// exercises inner-node splits, merges and borrows, with invariants checked along the way.
    #[test]
    fn tree_survives_heavy_churn() {
        let mut rng = crate::rng::Rng::new(42);
        for mask in [u32::MAX, 0xF] {
            let mut z = ZSetValue::with_hint(1000, 0);
            if let Repr::Skip(b) = &mut z.repr {
                b.hash_mask = mask;
            }
            let mut o = Oracle::default();
            let n = if mask == u32::MAX { 30_000 } else { 3_000 };
            let mut members: Vec<Vec<u8>> = (0..n).map(|i| format!("m{i}").into_bytes()).collect();
            for (i, m) in members.iter().enumerate() {
                let s = (rng.below(100) as f64) - 50.0;
                assert_eq!(z.insert(m, s), o.insert(m, s));
                if i % 5000 == 0 {
                    check(&z, &o);
                }
            }
            check(&z, &o);
            // Rescore a third (moves keys across leaves).
            for m in members.iter().step_by(3) {
                let s = rng.next_f64() * 10.0;
                z.insert(m, s);
                o.insert(m, s);
            }
            check(&z, &o);
            // Shuffle, then remove one by one.
            for i in (1..members.len()).rev() {
                let j = rng.below(i as u64 + 1) as usize;
                members.swap(i, j);
            }
            for (i, m) in members.iter().enumerate() {
                assert_eq!(z.remove(m).map(zb), o.remove(m).map(zb));
                if i % 2500 == 0 || members.len() - i < 100 {
                    check(&z, &o);
                    if let Some((m, _)) = o.sorted().get(o.map.len() / 2) {
                        assert_eq!(z.rank(m).map(|e| e.0), Some(o.map.len() / 2));
                    }
                }
            }
            assert!(z.is_empty());
        }
    }

    #[test]
    fn scan_survives_resizes() {
        let mut z = ZSetValue::default();
        for i in 0..1000 {
            z.insert(format!("k{i}").as_bytes(), i as f64);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = z.scan(cursor, 10, |m, _| {
                seen.insert(m.to_vec());
            });
            step += 1;
            // Grow, then shrink the table while scanning; the first 500 members stay.
            if step == 5 {
                for i in 1000..5000 {
                    z.insert(format!("k{i}").as_bytes(), i as f64);
                }
            }
            if step == 20 {
                for i in 500..5000 {
                    z.remove(format!("k{i}").as_bytes());
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..500 {
            assert!(seen.contains(format!("k{i}").as_bytes()), "k{i} missed");
        }
    }

    #[derive(Debug, Clone)]
    enum Op {
        Insert(Vec<u8>, f64),
        Remove(Vec<u8>),
        RemoveRanks(usize, usize),
        Pop(bool),
        Query(usize),
    }

    fn member() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            10 => prop::collection::vec(prop::sample::select(b"abcdefgh".to_vec()), 0..4),
            1 => prop::collection::vec(any::<u8>(), 60..70),
        ]
    }

    fn score() -> impl Strategy<Value = f64> {
        prop_oneof![
            5 => (-5i32..5).prop_map(|i| i as f64),
            2 => any::<f64>().prop_filter("no NaN", |f| !f.is_nan()),
            1 => Just(-0.0),
            1 => Just(f64::INFINITY),
            1 => Just(f64::NEG_INFINITY),
            1 => 0.0f64..1.0,
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            10 => (member(), score()).prop_map(|(m, s)| Op::Insert(m, s)),
            4 => member().prop_map(Op::Remove),
            1 => (any::<usize>(), 0usize..40).prop_map(|(a, k)| Op::RemoveRanks(a, k)),
            1 => any::<bool>().prop_map(Op::Pop),
            3 => any::<usize>().prop_map(Op::Query),
        ]
    }

    fn run(ops: Vec<Op>, mask: Option<u32>, force_big: bool) -> Result<(), TestCaseError> {
        let mut z = if force_big {
            ZSetValue::with_hint(1000, 0)
        } else {
            ZSetValue::default()
        };
        if let (Some(m), Repr::Skip(b)) = (mask, &mut z.repr) {
            b.hash_mask = m;
        }
        let mut o = Oracle::default();
        for op in ops {
            match op {
                Op::Insert(m, s) => {
                    let before = z.encoding();
                    prop_assert_eq!(z.insert(&m, s), o.insert(&m, s));
                    if before == "skiplist" {
                        prop_assert_eq!(z.encoding(), "skiplist");
                    }
                }
                Op::Remove(m) => {
                    let (a, b) = (z.remove(&m), o.remove(&m));
                    prop_assert_eq!(a.map(zb), b.map(zb));
                }
                Op::RemoveRanks(a, k) => {
                    let n = z.len() + 1;
                    let a = a % n;
                    let removed = z.remove_ranks(a, a + k);
                    let victims: Vec<(Vec<u8>, f64)> =
                        o.sorted().into_iter().skip(a).take(k).collect();
                    prop_assert_eq!(removed, victims.len());
                    for (m, _) in victims {
                        o.remove(&m);
                    }
                }
                Op::Pop(max) => {
                    let want = if max {
                        o.sorted().pop()
                    } else {
                        o.sorted().into_iter().next()
                    };
                    let got = z.pop(max);
                    prop_assert_eq!(got.clone().map(|e| e.0), want.clone().map(|e| e.0));
                    if let Some((m, _)) = want {
                        o.remove(&m);
                    }
                }
                Op::Query(q) => {
                    let sorted = o.sorted();
                    if !sorted.is_empty() {
                        let r = q % sorted.len();
                        let (m, s) = &sorted[r];
                        prop_assert_eq!(z.rank(m).map(|e| e.0), Some(r));
                        prop_assert_eq!(z.score(m).map(zb), Some(zb(*s)));
                        let (gm, gs) = z.get_by_rank(r).expect("rank in range");
                        prop_assert_eq!(gm, &m[..]);
                        prop_assert_eq!(zb(gs), zb(*s));
                    }
                    // Score and lex ranges against a filter over the oracle.
                    let a = ((q % 11) as f64) - 5.0;
                    let b = (((q / 11) % 11) as f64) - 5.0;
                    let sr = ScoreRange {
                        min: a,
                        min_exclusive: q % 2 == 0,
                        max: b,
                        max_exclusive: q % 3 == 0,
                    };
                    let want: Vec<usize> = sorted
                        .iter()
                        .enumerate()
                        .filter(|(_, e)| sr.contains(e.1))
                        .map(|(i, _)| i)
                        .collect();
                    let got = z.score_range(&sr);
                    prop_assert_eq!(got.clone().collect::<Vec<_>>(), want);
                    let bounds = [
                        LexBound::NegInf,
                        LexBound::PosInf,
                        LexBound::Inclusive(b"b".to_vec()),
                        LexBound::Exclusive(b"c".to_vec()),
                        LexBound::Inclusive(b"eh".to_vec()),
                        LexBound::Exclusive(Vec::new()),
                    ];
                    let lr = LexRange {
                        min: bounds[q % 6].clone(),
                        max: bounds[(q / 6) % 6].clone(),
                    };
                    // Lex ranges are only defined when all scores are equal: check on that view.
                    let mut same = ZSetValue::default();
                    for (m, _) in &sorted {
                        same.insert(m, 0.0);
                    }
                    let mut by_member: Vec<&Vec<u8>> = sorted.iter().map(|e| &e.0).collect();
                    by_member.sort();
                    let want: Vec<usize> = by_member
                        .iter()
                        .enumerate()
                        .filter(|(_, m)| lr.contains(m))
                        .map(|(i, _)| i)
                        .collect();
                    prop_assert_eq!(same.lex_range(&lr).collect::<Vec<_>>(), want.clone());
                    let mut big_same = ZSetValue::with_hint(1000, 0);
                    for (m, _) in &sorted {
                        big_same.insert(m, 0.0);
                    }
                    prop_assert_eq!(big_same.lex_range(&lr).collect::<Vec<_>>(), want);
                }
            }
            check(&z, &o);
        }
        let c = z.clone();
        prop_assert!(c == z);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]
        /// Rank ranges of a multi-level tree, both ways and stopped early, against the sorted
        /// members.
        #[test]
        fn rank_visits_match_the_sorted_members(
            n in 1usize..5000,
            a in any::<prop::sample::Index>(),
            b in any::<prop::sample::Index>(),
            stop_after in 0usize..200,
        ) {
            let entries: Vec<(Vec<u8>, f64)> =
                (0..n).map(|i| (format!("m{i:05}").into_bytes(), i as f64)).collect();
            let z = ZSetValue::from_sorted(entries.clone());
            let (x, y) = (a.index(n + 1), b.index(n + 1));
            let (start, end) = (x.min(y), x.max(y));
            for rev in [false, true] {
                let mut expected: Vec<f64> = entries[start..end].iter().map(|e| e.1).collect();
                if rev {
                    expected.reverse();
                }
                let mut all = Vec::new();
                z.visit_ranks(start, end, rev, |_, s| {
                    all.push(s);
                    true
                });
                prop_assert_eq!(&all, &expected);
                let mut some = Vec::new();
                z.visit_ranks(start, end, rev, |_, s| {
                    some.push(s);
                    some.len() < stop_after.max(1)
                });
                let keep = expected.len().min(stop_after.max(1));
                prop_assert_eq!(&some[..], &expected[..keep]);
            }
        }

        #[test]
        fn matches_btree_oracle(ops in prop::collection::vec(op(), 1..400)) {
            run(ops, None, false)?;
        }

        #[test]
        fn big_encoding_matches_oracle(ops in prop::collection::vec(op(), 1..400)) {
            run(ops, None, true)?;
        }

        #[test]
        fn big_encoding_with_colliding_hashes(ops in prop::collection::vec(op(), 1..300)) {
            run(ops, Some(0x3), true)?;
        }

        #[test]
        fn bulk_build_matches_inserts(n in 0usize..3000, seed in any::<u64>()) {
            let mut entries: Vec<(Vec<u8>, f64)> = (0..n)
                .map(|i| (format!("{:x}", (i as u64).wrapping_mul(seed | 1)).into_bytes(), ((i * 7) % 13) as f64))
                .collect();
            entries.sort_by(|a, b| cmp_key(a.1, &a.0, b.1, &b.0));
            entries.dedup_by(|a, b| a.0 == b.0);
            let z = ZSetValue::from_sorted(entries.clone());
            let mut o = Oracle::default();
            for (m, s) in &entries {
                o.insert(m, *s);
            }
            check(&z, &o);
            for (i, (m, _)) in entries.iter().enumerate().step_by(97) {
                prop_assert_eq!(z.rank(m).map(|e| e.0), Some(i));
            }
        }
    }
}
