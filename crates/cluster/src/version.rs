//! Causality tracking for replicated values: version vectors, dots and
//! [`Versioned`] values with siblings (dotted version vectors, one actor per
//! replica node).
//!
//! The actor of every dot is the *replica node* that coordinated the write,
//! never the client: the number of entries in a vector is bounded by the
//! cluster size, however many clients write. A client reads a value's context
//! and sends it back with its next write; the write supersedes exactly the
//! siblings that context covers, and anything written concurrently survives as
//! a sibling until a later write covers it.
//!
//! Invariants of a [`Versioned`] (checked again when decoding):
//! * its siblings have distinct dots, sorted by dot, and every dot is covered
//!   by its context;
//! * a dot that the context covers but no sibling holds was superseded (or
//!   dropped by [`Versioned::cap_siblings`]) and can never come back through
//!   [`Versioned::merge`];
//! * merge is commutative, associative and idempotent, so replicas converge
//!   whatever order anti-entropy and read repair happen in.
//!
//! Encoding (format version 1, all integers little-endian or LEB128 varints):
//! a context is `[1][varint n]{[u64 node][varint counter]}*n`, entries sorted
//! by node with non-zero counters; a versioned value is `[1][context without
//! its version byte][varint s]{[u64 node][varint counter][varint timestamp_ms]
//! [varint len][len value bytes]}*s`. The value bytes are produced by a
//! caller-supplied encoder ([`encode_versioned_with`]); for the store's own
//! `Option<Bytes>` values ([`encode_versioned`]) they are `[0]` for a
//! tombstone and `[1][bytes]` for a value.

use std::cmp::Ordering;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::node::NodeId;

/// The first byte of every encoding this module produces.
pub const FORMAT_VERSION: u8 = 1;

/// One event: the `counter`-th write coordinated by `node`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Dot {
    /// The replica node that coordinated the write.
    pub node: NodeId,
    /// That node's write counter for this key, from 1.
    pub counter: u64,
}

/// How two version vectors relate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Causality {
    /// Same events.
    Equal,
    /// `self` happened before `other` (other has seen everything self has).
    Before,
    /// `self` happened after `other`.
    After,
    /// Each has seen an event the other has not.
    Concurrent,
}

/// A version vector: per node, the highest counter seen.
///
/// Stored as `(node, counter)` pairs sorted by node with no zero counters, so
/// equal vectors are equal structurally and encode to the same bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct VersionVector {
    entries: Vec<(NodeId, u64)>,
}

impl VersionVector {
    /// The empty vector (has seen nothing).
    pub fn new() -> Self {
        Self::default()
    }

    /// The `(node, counter)` entries, sorted by node, counters non-zero.
    pub fn entries(&self) -> &[(NodeId, u64)] {
        &self.entries
    }

    /// Number of nodes with a non-zero counter.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if the vector has seen nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The counter of `node` (0 if absent).
    pub fn get(&self, node: NodeId) -> u64 {
        match self.entries.binary_search_by_key(&node, |e| e.0) {
            Ok(i) => self.entries[i].1,
            Err(_) => 0,
        }
    }

    /// Raises `node`'s counter to at least `counter` (a counter never goes
    /// down, so merging in an older event is harmless).
    pub fn advance(&mut self, node: NodeId, counter: u64) {
        if counter == 0 {
            return;
        }
        match self.entries.binary_search_by_key(&node, |e| e.0) {
            Ok(i) => self.entries[i].1 = self.entries[i].1.max(counter),
            Err(i) => self.entries.insert(i, (node, counter)),
        }
    }

    /// Records the next event of `node` and returns its dot.
    pub fn increment(&mut self, node: NodeId) -> Dot {
        let counter = self.get(node) + 1;
        self.advance(node, counter);
        Dot { node, counter }
    }

    /// True if the event `dot` is covered (has been seen).
    pub fn contains(&self, dot: Dot) -> bool {
        dot.counter != 0 && self.get(dot.node) >= dot.counter
    }

    /// Pointwise maximum, in place. Vectors hold one entry per replica node,
    /// so advancing entry by entry is cheap and allocates only for a node
    /// `self` has not seen.
    pub fn merge(&mut self, other: &VersionVector) {
        for &(node, counter) in &other.entries {
            self.advance(node, counter);
        }
    }

    /// Pointwise maximum of two vectors.
    pub fn merged(&self, other: &VersionVector) -> VersionVector {
        let mut out = self.clone();
        out.merge(other);
        out
    }

    /// True if `self` has seen every event `other` has (`self >= other`
    /// pointwise); every vector descends itself and the empty vector.
    pub fn descends(&self, other: &VersionVector) -> bool {
        other.entries.iter().all(|&(n, c)| self.get(n) >= c)
    }

    /// The causal relation of `self` to `other`.
    pub fn compare(&self, other: &VersionVector) -> Causality {
        match (self.descends(other), other.descends(self)) {
            (true, true) => Causality::Equal,
            (true, false) => Causality::After,
            (false, true) => Causality::Before,
            (false, false) => Causality::Concurrent,
        }
    }
}

impl FromIterator<(NodeId, u64)> for VersionVector {
    /// Builds a vector from pairs in any order; repeated nodes keep the
    /// highest counter and zero counters are ignored.
    fn from_iter<I: IntoIterator<Item = (NodeId, u64)>>(iter: I) -> Self {
        let mut vv = VersionVector::new();
        for (n, c) in iter {
            vv.advance(n, c);
        }
        vv
    }
}

/// One concurrent value of a key.
///
/// A tombstone is whatever value the caller chooses (the store uses
/// `Option<Bytes>::None`); this module treats it like any other value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sibling<V> {
    /// The write that produced this value.
    pub dot: Dot,
    /// The coordinator's wall clock at the write, used only to pick a
    /// [`Versioned::winner`], never for causality.
    pub timestamp_ms: u64,
    /// The value (or tombstone).
    pub value: V,
}

/// A replicated value: the causal context seen so far and the concurrent
/// values (siblings) not yet superseded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Versioned<V> {
    context: VersionVector,
    siblings: Vec<Sibling<V>>,
}

impl<V> Default for Versioned<V> {
    fn default() -> Self {
        Versioned {
            context: VersionVector::new(),
            siblings: Vec::new(),
        }
    }
}

/// The last-writer-wins order: (timestamp_ms, dot.node, dot.counter).
fn lww_key<V>(s: &Sibling<V>) -> (u64, NodeId, u64) {
    (s.timestamp_ms, s.dot.node, s.dot.counter)
}

impl<V: Clone + PartialEq> Versioned<V> {
    /// Nothing written and nothing seen.
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a value from a context and siblings (in any order), checking
    /// the invariants: distinct dots, each covered by the context.
    pub fn from_parts(context: VersionVector, mut siblings: Vec<Sibling<V>>) -> Result<Self> {
        siblings.sort_by_key(|s| s.dot);
        if siblings.windows(2).any(|w| w[0].dot == w[1].dot) {
            return Err(Error::InvalidSiblings("duplicate dot"));
        }
        if siblings.iter().any(|s| !context.contains(s.dot)) {
            return Err(Error::InvalidSiblings("dot not covered by the context"));
        }
        Ok(Versioned { context, siblings })
    }

    /// Everything this replica has seen; what a client gets with a read and
    /// sends back with its next write.
    pub fn context(&self) -> &VersionVector {
        &self.context
    }

    /// The concurrent values, sorted by dot.
    pub fn siblings(&self) -> &[Sibling<V>] {
        &self.siblings
    }

    /// True if there is no value (nothing written, or every sibling dropped
    /// by [`Self::cap_siblings`]). A tombstone sibling is not "empty".
    pub fn is_empty(&self) -> bool {
        self.siblings.is_empty()
    }

    /// How this value's context relates to `other`'s.
    pub fn compare(&self, other: &Versioned<V>) -> Causality {
        self.context.compare(&other.context)
    }

    /// Applies a write coordinated by `node` whose client had seen `ctx`.
    ///
    /// The write supersedes exactly the siblings whose dots `ctx` covers;
    /// the others were written concurrently and stay. The new dot is
    /// `(node, max(self.context[node], ctx[node]) + 1)`, so it is new even if
    /// the client's context came from another replica that saw more of
    /// `node`'s writes. To overwrite everything this replica knows, pass a
    /// clone of [`Self::context`].
    pub fn update(
        &mut self,
        ctx: &VersionVector,
        node: NodeId,
        timestamp_ms: u64,
        value: V,
    ) -> Dot {
        self.siblings.retain(|s| !ctx.contains(s.dot));
        let dot = Dot {
            node,
            counter: self.context.get(node).max(ctx.get(node)) + 1,
        };
        self.context.merge(ctx);
        self.context.advance(node, dot.counter);
        // The new dot is the highest of its node, so it sorts after every
        // sibling of the same node; insert in place to keep dot order.
        let at = self.siblings.partition_point(|s| s.dot < dot);
        self.siblings.insert(
            at,
            Sibling {
                dot,
                timestamp_ms,
                value,
            },
        );
        dot
    }

    /// Merges another replica's state into this one (anti-entropy, read
    /// repair, hinted handoff).
    ///
    /// A sibling survives if both sides hold it, or if one side holds it and
    /// the other side's context does not cover it (the other side never saw
    /// it, so it is concurrent, not superseded). The context becomes the
    /// pointwise maximum. Commutative, associative and idempotent.
    pub fn merge(&mut self, other: &Versioned<V>) {
        let mut out = Vec::with_capacity(self.siblings.len() + other.siblings.len());
        let mine = std::mem::take(&mut self.siblings);
        let (mut a, mut b) = (
            mine.into_iter().peekable(),
            other.siblings.iter().peekable(),
        );
        loop {
            match (a.peek(), b.peek()) {
                (Some(x), Some(y)) => match x.dot.cmp(&y.dot) {
                    Ordering::Less => {
                        if let Some(x) = a.next().filter(|x| !other.context.contains(x.dot)) {
                            out.push(x);
                        }
                    }
                    Ordering::Greater => {
                        if let Some(y) = b.next().filter(|y| !self.context.contains(y.dot)) {
                            out.push(y.clone());
                        }
                    }
                    Ordering::Equal => {
                        // Same dot means same write, so the same value; keep
                        // ours.
                        b.next();
                        out.extend(a.next());
                    }
                },
                (Some(_), None) => {
                    out.extend(a.by_ref().filter(|x| !other.context.contains(x.dot)));
                }
                (None, Some(_)) => {
                    out.extend(
                        b.by_ref()
                            .filter(|y| !self.context.contains(y.dot))
                            .cloned(),
                    );
                }
                (None, None) => break,
            }
        }
        self.siblings = out;
        self.context.merge(&other.context);
    }

    /// The sibling a last-writer-wins reader sees.
    ///
    /// Rule: the maximum by `(timestamp_ms, dot.node, dot.counter)`: latest
    /// coordinator timestamp first, then the higher node id, then the higher
    /// counter. Every replica holding the same siblings picks the same one;
    /// clock skew between nodes can make an older write win, which is why
    /// the siblings themselves are kept for clients that resolve conflicts.
    pub fn winner(&self) -> Option<&Sibling<V>> {
        self.siblings.iter().max_by_key(|s| lww_key(s))
    }

    /// Keeps at most `max` siblings, dropping the oldest by the
    /// [`Self::winner`] order, and returns how many were dropped.
    ///
    /// The dropped dots stay covered by the context, so a merge with a
    /// replica that still holds them drops them there too instead of
    /// bringing them back: the cap is a (lossy) resolution, not a hiding.
    pub fn cap_siblings(&mut self, max: usize) -> usize {
        let n = self.siblings.len();
        if n <= max {
            return 0;
        }
        let mut order: Vec<(u64, NodeId, u64)> = self.siblings.iter().map(lww_key).collect();
        order.sort_unstable();
        // Siblings have distinct dots, so LWW keys are distinct and the
        // threshold keeps exactly `max`.
        let threshold = order[n - max - 1];
        self.siblings.retain(|s| lww_key(s) > threshold);
        n - self.siblings.len()
    }
}

// ---- binary encoding -------------------------------------------------------

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A cursor over untrusted input; every read checks the length.
struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if self.buf.len() < n {
            return Err(Error::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8> {
        Ok(self.take(1)?[0])
    }

    fn u64_le(&mut self) -> Result<u64> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    fn varint(&mut self) -> Result<u64> {
        let mut v = 0u64;
        for i in 0..10 {
            let b = self.u8()?;
            // The 10th byte may only carry the top bit of a u64.
            if i == 9 && b > 1 {
                return Err(Error::InvalidVarint);
            }
            v |= u64::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                // A final zero byte after others is an overlong encoding.
                if i > 0 && b == 0 {
                    return Err(Error::InvalidVarint);
                }
                return Ok(v);
            }
        }
        Err(Error::InvalidVarint)
    }

    /// A count of items each at least `min_size` bytes long; rejecting counts
    /// the remaining input cannot hold keeps a forged count from reserving
    /// gigabytes.
    fn count(&mut self, min_size: usize) -> Result<usize> {
        let n = self.varint()?;
        if n > (self.buf.len() / min_size) as u64 {
            return Err(Error::Truncated);
        }
        Ok(n as usize)
    }

    fn version(&mut self) -> Result<()> {
        match self.u8()? {
            FORMAT_VERSION => Ok(()),
            v => Err(Error::UnsupportedFormat(v)),
        }
    }

    fn finish(&self) -> Result<()> {
        if self.buf.is_empty() {
            Ok(())
        } else {
            Err(Error::TrailingBytes(self.buf.len()))
        }
    }
}

fn put_context_body(out: &mut Vec<u8>, vv: &VersionVector) {
    put_varint(out, vv.entries.len() as u64);
    for &(node, counter) in &vv.entries {
        out.extend_from_slice(&node.0.to_le_bytes());
        put_varint(out, counter);
    }
}

fn read_context_body(r: &mut Reader<'_>) -> Result<VersionVector> {
    let n = r.count(9)?;
    let mut entries = Vec::with_capacity(n);
    for _ in 0..n {
        let node = NodeId(r.u64_le()?);
        let counter = r.varint()?;
        if counter == 0 {
            return Err(Error::InvalidContext("zero counter"));
        }
        if entries.last().is_some_and(|&(prev, _)| prev >= node) {
            return Err(Error::InvalidContext("nodes not strictly ascending"));
        }
        entries.push((node, counter));
    }
    Ok(VersionVector { entries })
}

/// The binary form of a context (format version 1).
pub fn encode_context(vv: &VersionVector) -> Vec<u8> {
    let mut out = Vec::with_capacity(2 + vv.entries.len() * 10);
    out.push(FORMAT_VERSION);
    put_context_body(&mut out, vv);
    out
}

/// Parses [`encode_context`]'s output; rejects anything else, including
/// trailing bytes and non-canonical vectors (unsorted nodes, zero counters).
pub fn decode_context(bytes: &[u8]) -> Result<VersionVector> {
    let mut r = Reader { buf: bytes };
    r.version()?;
    let vv = read_context_body(&mut r)?;
    r.finish()?;
    Ok(vv)
}

/// The opaque text form of a context handed to clients: lowercase hex of
/// [`encode_context`]. Clients must treat it as opaque and send it back
/// unchanged.
pub fn context_to_token(vv: &VersionVector) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let bytes = encode_context(vv);
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(HEX[usize::from(b >> 4)]));
        s.push(char::from(HEX[usize::from(b & 15)]));
    }
    s
}

/// Parses a [`context_to_token`] token (hex digits in either case).
pub fn context_from_token(token: &str) -> Result<VersionVector> {
    let t = token.as_bytes();
    if t.len() % 2 != 0 {
        return Err(Error::InvalidToken("odd number of hex digits"));
    }
    fn nibble(c: u8) -> Result<u8> {
        match c {
            b'0'..=b'9' => Ok(c - b'0'),
            b'a'..=b'f' => Ok(c - b'a' + 10),
            b'A'..=b'F' => Ok(c - b'A' + 10),
            _ => Err(Error::InvalidToken("not a hex digit")),
        }
    }
    let mut bytes = Vec::with_capacity(t.len() / 2);
    for pair in t.chunks_exact(2) {
        bytes.push((nibble(pair[0])? << 4) | nibble(pair[1])?);
    }
    decode_context(&bytes)
}

/// Encodes a versioned value, writing each sibling's value with `encode`
/// (which appends that value's bytes; the framing records their length).
pub fn encode_versioned_with<V, F>(v: &Versioned<V>, mut encode: F) -> Vec<u8>
where
    F: FnMut(&V, &mut Vec<u8>),
{
    let mut out = Vec::new();
    out.push(FORMAT_VERSION);
    put_context_body(&mut out, &v.context);
    put_varint(&mut out, v.siblings.len() as u64);
    let mut value = Vec::new();
    for s in &v.siblings {
        out.extend_from_slice(&s.dot.node.0.to_le_bytes());
        put_varint(&mut out, s.dot.counter);
        put_varint(&mut out, s.timestamp_ms);
        value.clear();
        encode(&s.value, &mut value);
        put_varint(&mut out, value.len() as u64);
        out.extend_from_slice(&value);
    }
    out
}

/// Decodes [`encode_versioned_with`]'s output; `decode` gets exactly one
/// value's bytes and may reject them (e.g. with [`Error::InvalidValue`]).
/// Checks the [`Versioned`] invariants, so a decoded value is always valid.
pub fn decode_versioned_with<V, F>(bytes: &[u8], mut decode: F) -> Result<Versioned<V>>
where
    V: Clone + PartialEq,
    F: FnMut(&[u8]) -> Result<V>,
{
    let mut r = Reader { buf: bytes };
    r.version()?;
    let context = read_context_body(&mut r)?;
    // node (8) + counter, timestamp and length varints (1 each).
    let n = r.count(11)?;
    let mut siblings: Vec<Sibling<V>> = Vec::with_capacity(n);
    for _ in 0..n {
        let node = NodeId(r.u64_le()?);
        let counter = r.varint()?;
        let timestamp_ms = r.varint()?;
        let len = r.varint()?;
        let len = usize::try_from(len).map_err(|_| Error::Truncated)?;
        let value = decode(r.take(len)?)?;
        let dot = Dot { node, counter };
        if siblings.last().is_some_and(|prev| prev.dot >= dot) {
            return Err(Error::InvalidSiblings("dots not strictly ascending"));
        }
        if !context.contains(dot) {
            return Err(Error::InvalidSiblings("dot not covered by the context"));
        }
        siblings.push(Sibling {
            dot,
            timestamp_ms,
            value,
        });
    }
    r.finish()?;
    Ok(Versioned { context, siblings })
}

/// Encodes the store's values: `None` is a tombstone (`[0]`), `Some(b)` is
/// `[1]` followed by the bytes.
pub fn encode_versioned(v: &Versioned<Option<Bytes>>) -> Vec<u8> {
    encode_versioned_with(v, |value, out| match value {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            out.extend_from_slice(b);
        }
    })
}

/// Decodes [`encode_versioned`]'s output.
pub fn decode_versioned(bytes: &[u8]) -> Result<Versioned<Option<Bytes>>> {
    decode_versioned_with(bytes, |raw| match raw.split_first() {
        Some((0, [])) => Ok(None),
        Some((1, data)) => Ok(Some(Bytes::copy_from_slice(data))),
        Some((0, _)) => Err(Error::InvalidValue("tombstone with a payload".into())),
        Some((tag, _)) => Err(Error::InvalidValue(format!("unknown value tag {tag}"))),
        None => Err(Error::InvalidValue("empty value".into())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    const A: NodeId = NodeId(0xa);
    const B: NodeId = NodeId(0xb);
    const C: NodeId = NodeId(0xc);

    fn val(s: &str) -> Option<Bytes> {
        Some(Bytes::copy_from_slice(s.as_bytes()))
    }

    fn values(v: &Versioned<Option<Bytes>>) -> Vec<Option<Bytes>> {
        v.siblings().iter().map(|s| s.value.clone()).collect()
    }

    fn dot(node: NodeId, counter: u64) -> Dot {
        Dot { node, counter }
    }

    fn vv(pairs: &[(NodeId, u64)]) -> VersionVector {
        pairs.iter().copied().collect()
    }

    #[test]
    fn vector_basics() {
        let mut x = VersionVector::new();
        assert_eq!(x.increment(A), dot(A, 1));
        assert_eq!(x.increment(A), dot(A, 2));
        x.advance(B, 5);
        x.advance(B, 3);
        assert_eq!(x, vv(&[(B, 5), (A, 2)]));
        assert!(x.contains(dot(B, 5)));
        assert!(!x.contains(dot(B, 6)));
        assert!(!x.contains(dot(C, 0)));
        let y = vv(&[(A, 3), (C, 1)]);
        assert_eq!(x.compare(&y), Causality::Concurrent);
        let m = x.merged(&y);
        assert_eq!(m, vv(&[(A, 3), (B, 5), (C, 1)]));
        assert_eq!(m.compare(&x), Causality::After);
        assert_eq!(x.compare(&m), Causality::Before);
        assert_eq!(m.compare(&m.clone()), Causality::Equal);
        assert!(m.descends(&VersionVector::new()));
        assert_eq!(vv(&[(A, 0)]), VersionVector::new());
    }

    #[test]
    fn sequential_writes_replace() {
        let mut v = Versioned::new();
        let ctx = v.context().clone();
        v.update(&ctx, A, 1, val("one"));
        let ctx = v.context().clone();
        let written = v.update(&ctx, A, 2, val("two"));
        assert_eq!(written, dot(A, 2));
        assert_eq!(values(&v), vec![val("two")]);
        assert_eq!(v.context(), &vv(&[(A, 2)]));
    }

    #[test]
    fn same_stale_context_on_two_nodes_gives_siblings_then_resolves() {
        let mut ra = Versioned::new();
        ra.update(&VersionVector::new(), A, 1, val("base"));
        let mut rb = ra.clone();
        let stale = ra.context().clone();
        ra.update(&stale, A, 2, val("from a"));
        rb.update(&stale, B, 3, val("from b"));
        let mut merged = ra.clone();
        merged.merge(&rb);
        assert_eq!(values(&merged), vec![val("from a"), val("from b")]);
        assert_eq!(merged.compare(&ra), Causality::After);
        assert_eq!(ra.compare(&rb), Causality::Concurrent);
        // A client that read both siblings writes with the merged context.
        let ctx = merged.context().clone();
        rb.update(&ctx, B, 4, val("resolved"));
        assert_eq!(values(&rb), vec![val("resolved")]);
        merged.merge(&rb);
        assert_eq!(values(&merged), vec![val("resolved")]);
        ra.merge(&rb);
        assert_eq!(ra, merged);
    }

    #[test]
    fn same_stale_context_on_one_node_gives_siblings() {
        let mut r = Versioned::new();
        let empty = VersionVector::new();
        r.update(&empty, A, 1, val("x"));
        r.update(&empty, A, 2, val("y"));
        assert_eq!(values(&r), vec![val("x"), val("y")]);
        assert_eq!(r.context(), &vv(&[(A, 2)]));
    }

    #[test]
    fn context_from_another_replica_yields_a_fresh_dot() {
        // The client read from a replica that has seen more of A's writes
        // than A's own copy of the key (A's copy was restored, say).
        let mut r = Versioned::new();
        let dot = r.update(&vv(&[(A, 7)]), A, 1, val("x"));
        assert_eq!(dot.counter, 8);
    }

    #[test]
    fn merging_a_stale_replica_is_a_no_op() {
        let mut fresh = Versioned::new();
        fresh.update(&VersionVector::new(), A, 1, val("v1"));
        let stale = fresh.clone();
        let ctx = fresh.context().clone();
        fresh.update(&ctx, B, 2, val("v2"));
        let before = fresh.clone();
        fresh.merge(&stale);
        assert_eq!(fresh, before);
        let mut old = stale.clone();
        old.merge(&before);
        assert_eq!(old, before);
    }

    #[test]
    fn tombstone_dominates_older_value() {
        let mut ra = Versioned::new();
        ra.update(&VersionVector::new(), A, 1, val("v"));
        let rb = ra.clone();
        let ctx = ra.context().clone();
        ra.update(&ctx, A, 2, None);
        assert_eq!(values(&ra), vec![None]);
        let mut synced = rb.clone();
        synced.merge(&ra);
        assert_eq!(values(&synced), vec![None]);
        assert_eq!(synced.winner().map(|s| s.value.clone()), Some(None));
        assert!(!synced.is_empty());
    }

    #[test]
    fn winner_is_lww_with_node_and_counter_tie_breaks() {
        let mut r = Versioned::new();
        let empty = VersionVector::new();
        r.update(&empty, B, 10, val("b10"));
        r.update(&empty, A, 10, val("a10"));
        r.update(&empty, A, 9, val("a9"));
        assert_eq!(r.winner().map(|s| s.value.clone()), Some(val("b10")));
        r.update(&empty, B, 10, val("b10-2"));
        assert_eq!(r.winner().map(|s| s.value.clone()), Some(val("b10-2")));
        assert!(Versioned::<u8>::new().winner().is_none());
    }

    #[test]
    fn capped_siblings_never_come_back() {
        let empty = VersionVector::new();
        let mut r = Versioned::new();
        for (i, node) in [A, B, C, A].into_iter().enumerate() {
            r.update(&empty, node, 100 - i as u64, val(&format!("w{i}")));
        }
        let full = r.clone();
        assert_eq!(r.cap_siblings(4), 0);
        assert_eq!(r.cap_siblings(2), 2);
        assert_eq!(values(&r), vec![val("w0"), val("w1")]);
        r.merge(&full);
        assert_eq!(values(&r), vec![val("w0"), val("w1")]);
        let mut other = full.clone();
        other.merge(&r);
        assert_eq!(other, r);
        assert_eq!(r.cap_siblings(0), 2);
        assert!(r.is_empty());
    }

    #[test]
    fn from_parts_checks_invariants() {
        let s = |node, counter| Sibling {
            dot: Dot { node, counter },
            timestamp_ms: 0,
            value: 1u8,
        };
        let ctx = vv(&[(A, 2), (B, 1)]);
        let v = Versioned::from_parts(ctx.clone(), vec![s(B, 1), s(A, 2)]);
        assert_eq!(v.map(|v| v.siblings()[0].dot.node), Ok(A));
        assert!(Versioned::from_parts(ctx.clone(), vec![s(A, 3)]).is_err());
        assert!(Versioned::from_parts(ctx, vec![s(A, 1), s(A, 1)]).is_err());
    }

    #[test]
    fn encodings_are_compact_and_strict() {
        let ctx = vv(&[(A, 1), (B, 300)]);
        let bytes = encode_context(&ctx);
        assert_eq!(bytes.len(), 1 + 1 + 9 + 10);
        assert_eq!(decode_context(&bytes), Ok(ctx.clone()));
        assert_eq!(decode_context(&[]), Err(Error::Truncated));
        assert_eq!(decode_context(&[2, 0]), Err(Error::UnsupportedFormat(2)));
        assert_eq!(decode_context(&[1, 0, 0]), Err(Error::TrailingBytes(1)));
        let mut zero = vec![1, 1];
        zero.extend_from_slice(&[0; 9]);
        assert!(matches!(
            decode_context(&zero),
            Err(Error::InvalidContext(_))
        ));
        let mut unsorted = vec![1, 2];
        unsorted.extend_from_slice(&B.0.to_le_bytes());
        unsorted.push(1);
        unsorted.extend_from_slice(&A.0.to_le_bytes());
        unsorted.push(1);
        assert!(matches!(
            decode_context(&unsorted),
            Err(Error::InvalidContext(_))
        ));
        let overflow = [
            1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0x02,
        ];
        assert_eq!(decode_context(&overflow), Err(Error::InvalidVarint));
        assert_eq!(
            decode_context(&[1, 0xff, 0xff, 0x7f]),
            Err(Error::Truncated)
        );

        let token = context_to_token(&ctx);
        assert!(token
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
        assert_eq!(context_from_token(&token), Ok(ctx.clone()));
        assert_eq!(context_from_token(&token.to_uppercase()), Ok(ctx));
        assert!(context_from_token("0").is_err());
        assert!(context_from_token("zz").is_err());
        assert_eq!(context_from_token("0100"), Ok(VersionVector::new()));

        let mut v = Versioned::new();
        v.update(&VersionVector::new(), A, 5, val("x"));
        v.update(&VersionVector::new(), B, 6, None);
        let bytes = encode_versioned(&v);
        assert_eq!(decode_versioned(&bytes), Ok(v.clone()));
        for cut in 0..bytes.len() {
            assert!(decode_versioned(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        let generic = encode_versioned_with(&v, |value, out| {
            out.extend_from_slice(value.as_deref().unwrap_or(b"<deleted>"))
        });
        let back = decode_versioned_with(&generic, |raw| Ok(raw.to_vec()));
        let back = back.map(|b| {
            b.siblings()
                .iter()
                .map(|s| s.value.clone())
                .collect::<Vec<_>>()
        });
        assert_eq!(back, Ok(vec![b"x".to_vec(), b"<deleted>".to_vec()]));
    }

    // ---- property tests over simulated histories ----

    #[derive(Clone, Debug)]
    enum Op {
        /// A client reads replica `r`'s context.
        Read(usize),
        /// A client writes through replica `r` with the `ctx`-th context read
        /// so far (0 = no context).
        Write {
            r: usize,
            ctx: usize,
            ts: u64,
            value: u8,
        },
        /// Replica `to` merges replica `from`'s state.
        Sync { to: usize, from: usize },
    }

    fn arb_op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (0usize..3).prop_map(Op::Read),
            (0usize..3, any::<usize>(), 0u64..20, any::<u8>())
                .prop_map(|(r, ctx, ts, value)| Op::Write { r, ctx, ts, value }),
            (0usize..3, 0usize..3).prop_map(|(to, from)| Op::Sync { to, from }),
        ]
    }

    const NODES: [NodeId; 3] = [A, B, C];

    struct History {
        replicas: Vec<Versioned<Option<Bytes>>>,
        /// Every write: its dot and the context its client had seen.
        writes: Vec<(Dot, VersionVector, Option<Bytes>)>,
    }

    fn run(ops: &[Op]) -> History {
        let mut replicas = vec![Versioned::new(); 3];
        let mut reads = vec![VersionVector::new()];
        let mut writes = Vec::new();
        for op in ops {
            match *op {
                Op::Read(r) => reads.push(replicas[r].context().clone()),
                Op::Write { r, ctx, ts, value } => {
                    let ctx = reads[ctx % reads.len()].clone();
                    // Value 0 stands for a delete.
                    let value = (value != 0).then(|| Bytes::from(vec![value]));
                    let dot = replicas[r].update(&ctx, NODES[r], ts, value.clone());
                    writes.push((dot, ctx, value));
                }
                Op::Sync { to, from } => {
                    let src = replicas[from].clone();
                    replicas[to].merge(&src);
                }
            }
        }
        History { replicas, writes }
    }

    fn merged(
        a: &Versioned<Option<Bytes>>,
        b: &Versioned<Option<Bytes>>,
    ) -> Versioned<Option<Bytes>> {
        let mut out = a.clone();
        out.merge(b);
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn merge_is_a_semilattice(ops in proptest::collection::vec(arb_op(), 0..40)) {
            let h = run(&ops);
            let [x, y, z] = [&h.replicas[0], &h.replicas[1], &h.replicas[2]];
            prop_assert_eq!(merged(x, y), merged(y, x));
            prop_assert_eq!(merged(&merged(x, y), z), merged(x, &merged(y, z)));
            prop_assert_eq!(&merged(x, x), x);
            prop_assert_eq!(merged(&merged(x, y), y), merged(x, y));
        }

        #[test]
        fn full_merge_keeps_exactly_the_unsuperseded_writes(
            ops in proptest::collection::vec(arb_op(), 0..40),
        ) {
            let h = run(&ops);
            let all = merged(&merged(&h.replicas[0], &h.replicas[1]), &h.replicas[2]);
            // A write survives iff no write's client context covered it.
            let expect: BTreeMap<Dot, Option<Bytes>> = h
                .writes
                .iter()
                .filter(|(dot, _, _)| !h.writes.iter().any(|(_, ctx, _)| ctx.contains(*dot)))
                .map(|(dot, _, v)| (*dot, v.clone()))
                .collect();
            let got: BTreeMap<Dot, Option<Bytes>> =
                all.siblings().iter().map(|s| (s.dot, s.value.clone())).collect();
            prop_assert_eq!(got, expect);
            let dots: BTreeSet<Dot> = h.writes.iter().map(|w| w.0).collect();
            prop_assert_eq!(dots.len(), h.writes.len(), "dots are unique");
            for r in &h.replicas {
                prop_assert!(all.context().descends(r.context()));
            }
        }

        #[test]
        fn versioned_round_trips(ops in proptest::collection::vec(arb_op(), 0..40), cap in 0usize..4) {
            let h = run(&ops);
            for r in &h.replicas {
                prop_assert_eq!(decode_versioned(&encode_versioned(r)), Ok(r.clone()));
                prop_assert_eq!(decode_context(&encode_context(r.context())), Ok(r.context().clone()));
                let mut capped = r.clone();
                let dropped = capped.cap_siblings(cap);
                prop_assert_eq!(capped.siblings().len(), r.siblings().len().min(cap));
                prop_assert_eq!(dropped, r.siblings().len() - capped.siblings().len());
                prop_assert_eq!(merged(&capped, r), capped.clone());
            }
        }

        #[test]
        fn context_round_trips(pairs in proptest::collection::vec((any::<u64>(), any::<u64>()), 0..20)) {
            let ctx: VersionVector = pairs.into_iter().map(|(n, c)| (NodeId(n), c)).collect();
            prop_assert_eq!(decode_context(&encode_context(&ctx)), Ok(ctx.clone()));
            prop_assert_eq!(context_from_token(&context_to_token(&ctx)), Ok(ctx));
        }

        #[test]
        fn decoders_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_context(&bytes);
            let _ = decode_versioned(&bytes);
            if let Ok(s) = std::str::from_utf8(&bytes) {
                let _ = context_from_token(s);
            }
            // Same, behind a valid version byte so the parsers get further.
            let mut v1 = vec![FORMAT_VERSION];
            v1.extend_from_slice(&bytes);
            if let Ok(v) = decode_versioned(&v1) {
                prop_assert_eq!(encode_versioned(&v), v1.clone());
            }
            let _ = decode_context(&v1);
        }
    }
}
