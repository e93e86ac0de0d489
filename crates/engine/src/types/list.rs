//! The list value type: a quicklist-like deque of compact byte nodes.
//!
//! Why this shape (the same trade-offs as Redis 7.2's listpack/quicklist):
//! - A node is one `Vec<u8>`: a 2-byte element count, then entries encoded as
//!   `varint(len) bytes reversed-varint(len)`. The trailing length lets a node be walked from
//!   either end (Redis's listpack "backlen"), an element costs 2-3 bytes of overhead, and no
//!   element has its own heap allocation.
//! - A small list is a single node held directly ("listpack"). Past 8 KB (the default
//!   list-max-listpack-size -2) it becomes a deque of nodes of at most 8 KB each ("quicklist"):
//!   pushes and pops at either end touch one node (O(1)), and indexing skips whole nodes by their
//!   counts (O(n / node size)). An element larger than a node gets a node of its own.
//! - As in Redis 7.2, a quicklist turns back into a listpack only when it shrinks to a single node
//!   of at most half the limit, so a list hovering around the limit does not flip encodings.
//!   Unlike Redis, neighbouring nodes that together fit in half a node are merged after removals
//!   and middle inserts, so nodes stay dense and indexing stays O(n / node size).
//! - Sizes are counted with this encoding (a few bytes per element off Redis's listpack), so the
//!   conversion points match Redis's to within an element or two.

use std::collections::VecDeque;
use std::fmt;

/// Node size limit in bytes (list-max-listpack-size -2).
const NODE_LIMIT: usize = 8192;
/// A node's byte size as Redis would count the equivalent listpack: Redis adds a 6-byte header
/// and a terminator (7 bytes); our node carries a 2-byte header, so 5 more.
const LP_EXTRA: usize = 5;
/// The element count at the start of every node.
const HEADER: usize = 2;
/// Adjacent nodes are merged when together they would be at most this big (keeps nodes dense
/// after removals from the middle, so indexing stays O(n / node size)).
const MERGE_LIMIT: usize = NODE_LIMIT / 2;

fn varint_len(mut n: usize) -> usize {
    let mut l = 1;
    while n >= 0x80 {
        n >>= 7;
        l += 1;
    }
    l
}

/// Bytes one element of `len` bytes occupies in a node.
fn entry_size(len: usize) -> usize {
    2 * varint_len(len) + len
}

/// Writes the encoded entry for `data` into `out` (which must be exactly `entry_size` long).
fn encode_into(out: &mut [u8], data: &[u8]) {
    let mut tmp = [0u8; 10];
    let mut n = data.len();
    let mut k = 0;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            tmp[k] = b;
            k += 1;
            break;
        }
        tmp[k] = b | 0x80;
        k += 1;
    }
    out[..k].copy_from_slice(&tmp[..k]);
    out[k..k + data.len()].copy_from_slice(data);
    let tail = &mut out[k + data.len()..];
    for (i, slot) in tail.iter_mut().enumerate() {
        *slot = tmp[k - 1 - i];
    }
}

/// Decodes the entry starting at `pos`: (data start, data end, next entry start).
#[inline]
fn read_fwd(buf: &[u8], pos: usize) -> (usize, usize, usize) {
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
    let prefix = i - pos;
    (i, i + len, i + len + prefix)
}

/// Decodes the entry ending at `end`: (entry start, data start, data end).
#[inline]
fn read_back(buf: &[u8], end: usize) -> (usize, usize, usize) {
    let mut len = 0usize;
    let mut shift = 0;
    let mut i = end;
    loop {
        i -= 1;
        let b = buf[i];
        len |= ((b & 0x7f) as usize) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let suffix = end - i;
    let data_start = i - len;
    (data_start - suffix, data_start, i)
}

/// One compact node. An empty `buf` (no header yet) is an empty node, so a fresh list allocates
/// nothing until its first push.
#[derive(Clone, Default)]
struct Node {
    buf: Vec<u8>,
}

impl Node {
    fn count(&self) -> usize {
        if self.buf.len() < HEADER {
            0
        } else {
            u16::from_le_bytes([self.buf[0], self.buf[1]]) as usize
        }
    }

    fn set_count(&mut self, n: usize) {
        debug_assert!(n <= u16::MAX as usize);
        if self.buf.len() < HEADER {
            self.buf.resize(HEADER, 0);
        }
        let b = (n as u16).to_le_bytes();
        self.buf[0] = b[0];
        self.buf[1] = b[1];
    }

    /// The listpack-equivalent size used for the node limits.
    fn size(&self) -> usize {
        self.buf.len().max(HEADER) + LP_EXTRA
    }

    fn end(&self) -> usize {
        self.buf.len().max(HEADER)
    }

    /// Inserts raw encoded bytes at `pos`.
    fn insert_bytes(&mut self, pos: usize, data: &[u8]) {
        let es = entry_size(data.len());
        if self.buf.len() < HEADER {
            self.buf.resize(HEADER, 0);
        }
        let old = self.buf.len();
        self.buf.resize(old + es, 0);
        self.buf.copy_within(pos..old, pos + es);
        encode_into(&mut self.buf[pos..pos + es], data);
    }

    fn push_back(&mut self, data: &[u8]) {
        let n = self.count();
        let end = self.end();
        self.insert_bytes(end, data);
        self.set_count(n + 1);
    }

    fn push_front(&mut self, data: &[u8]) {
        let n = self.count();
        self.insert_bytes(HEADER, data);
        self.set_count(n + 1);
    }

    fn pop_front(&mut self) -> Option<Vec<u8>> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let (s, e, next) = read_fwd(&self.buf, HEADER);
        let v = self.buf[s..e].to_vec();
        self.buf.drain(HEADER..next);
        self.set_count(n - 1);
        Some(v)
    }

    fn pop_back(&mut self) -> Option<Vec<u8>> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let end = self.buf.len();
        let (start, s, e) = read_back(&self.buf, end);
        let v = self.buf[s..e].to_vec();
        self.buf.truncate(start);
        self.set_count(n - 1);
        Some(v)
    }

    /// Byte offset of entry `idx` (`idx == count` gives the end).
    fn offset_of(&self, idx: usize) -> usize {
        let n = self.count();
        debug_assert!(idx <= n);
        if idx <= n / 2 {
            let mut pos = HEADER;
            for _ in 0..idx {
                pos = read_fwd(&self.buf, pos).2;
            }
            pos
        } else {
            let mut pos = self.end();
            for _ in idx..n {
                pos = read_back(&self.buf, pos).0;
            }
            pos
        }
    }

    fn get(&self, idx: usize) -> &[u8] {
        let pos = self.offset_of(idx);
        let (s, e, _) = read_fwd(&self.buf, pos);
        &self.buf[s..e]
    }

    fn insert(&mut self, idx: usize, data: &[u8]) {
        let n = self.count();
        let pos = self.offset_of(idx);
        self.insert_bytes(pos, data);
        self.set_count(n + 1);
    }

    fn replace(&mut self, idx: usize, data: &[u8]) {
        let pos = self.offset_of(idx);
        let (_, _, next) = read_fwd(&self.buf, pos);
        let mut enc = vec![0u8; entry_size(data.len())];
        encode_into(&mut enc, data);
        self.buf.splice(pos..next, enc);
    }

    /// Removes `k` entries starting at entry `idx`.
    fn remove_range(&mut self, idx: usize, k: usize) {
        if k == 0 {
            return;
        }
        let n = self.count();
        let start = self.offset_of(idx);
        let mut end = start;
        for _ in 0..k {
            end = read_fwd(&self.buf, end).2;
        }
        self.buf.drain(start..end);
        self.set_count(n - k);
    }

    /// Appends all entries of `other` (already encoded) to this node.
    fn append(&mut self, other: &Node) {
        let n = self.count() + other.count();
        if self.buf.len() < HEADER {
            self.buf.resize(HEADER, 0);
        }
        if other.buf.len() > HEADER {
            self.buf.extend_from_slice(&other.buf[HEADER..]);
        }
        self.set_count(n);
    }

    /// Bytes of the entries alone (no header).
    fn payload(&self) -> usize {
        self.buf.len().saturating_sub(HEADER)
    }

    /// Splits an oversized node in halves (by bytes, at entry boundaries) until every piece is
    /// within the limit or holds a single entry.
    fn split_into(self, out: &mut Vec<Node>) {
        let n = self.count();
        if n <= 1 || self.size() <= NODE_LIMIT {
            out.push(self);
            return;
        }
        let half = self.payload() / 2;
        let mut pos = HEADER;
        let mut k = 0;
        while k < n - 1 {
            pos = read_fwd(&self.buf, pos).2;
            k += 1;
            if pos - HEADER >= half {
                break;
            }
        }
        let mut left = Node::default();
        left.buf.reserve(pos);
        left.buf.extend_from_slice(&self.buf[..pos]);
        left.set_count(k);
        let mut right = Node::default();
        right.buf.reserve(HEADER + self.buf.len() - pos);
        right.buf.extend_from_slice(&[0, 0]);
        right.buf.extend_from_slice(&self.buf[pos..]);
        right.set_count(n - k);
        left.split_into(out);
        right.split_into(out);
    }
}

#[derive(Clone, Default)]
struct Quick {
    nodes: VecDeque<Node>,
    len: usize,
}

impl Quick {
    /// Node and entry index of element `index` (< len), walking from the nearer end.
    fn locate(&self, index: usize) -> (usize, usize) {
        if index < self.len / 2 {
            let mut rem = index;
            for (i, n) in self.nodes.iter().enumerate() {
                let c = n.count();
                if rem < c {
                    return (i, rem);
                }
                rem -= c;
            }
        } else {
            let mut rem = self.len - index; // 1-based position from the tail
            for (i, n) in self.nodes.iter().enumerate().rev() {
                let c = n.count();
                if rem <= c {
                    return (i, c - rem);
                }
                rem -= c;
            }
        }
        unreachable!("index {index} within len {}", self.len)
    }

    fn push_back(&mut self, v: &[u8]) {
        let es = entry_size(v.len());
        match self.nodes.back_mut() {
            Some(last) if last.size() + es <= NODE_LIMIT => last.push_back(v),
            _ => {
                let mut n = Node::default();
                n.buf.reserve(HEADER + es);
                n.push_back(v);
                self.nodes.push_back(n);
            }
        }
        self.len += 1;
    }

    fn push_front(&mut self, v: &[u8]) {
        let es = entry_size(v.len());
        match self.nodes.front_mut() {
            Some(first) if first.size() + es <= NODE_LIMIT => first.push_front(v),
            _ => {
                let mut n = Node::default();
                n.buf.reserve(HEADER + es);
                n.push_back(v);
                self.nodes.push_front(n);
            }
        }
        self.len += 1;
    }

    /// Restores the node invariants around node `i` after it changed: removes it if empty,
    /// splits it if oversized, merges it with a neighbour when both are small.
    fn fix(&mut self, i: usize) {
        if i >= self.nodes.len() {
            return;
        }
        if self.nodes[i].count() == 0 {
            self.nodes.remove(i);
            if i > 0 {
                self.merge_pair(i - 1);
            }
            return;
        }
        if self.nodes[i].size() > NODE_LIMIT && self.nodes[i].count() > 1 {
            let node = std::mem::take(&mut self.nodes[i]);
            let mut parts = Vec::new();
            node.split_into(&mut parts);
            self.nodes.remove(i);
            for (k, p) in parts.into_iter().enumerate() {
                self.nodes.insert(i + k, p);
            }
            return;
        }
        self.merge_pair(i);
        if i > 0 {
            self.merge_pair(i - 1);
        }
    }

    /// Merges nodes `i` and `i + 1` if together they are small. Returns whether it merged.
    fn merge_pair(&mut self, i: usize) -> bool {
        if i + 1 >= self.nodes.len() {
            return false;
        }
        let combined = self.nodes[i].size() + self.nodes[i + 1].payload();
        if combined > MERGE_LIMIT {
            return false;
        }
        if let Some(right) = self.nodes.remove(i + 1) {
            self.nodes[i].append(&right);
        }
        true
    }
}

enum Repr {
    /// One node held directly: the "listpack" encoding.
    Pack(Node),
    /// A deque of nodes: the "quicklist" encoding.
    Quick(Box<Quick>),
}

/// A Redis list.
pub struct ListValue {
    repr: Repr,
}

impl Default for ListValue {
    fn default() -> Self {
        ListValue {
            repr: Repr::Pack(Node::default()),
        }
    }
}

impl Clone for ListValue {
    fn clone(&self) -> Self {
        let repr = match &self.repr {
            Repr::Pack(n) => Repr::Pack(n.clone()),
            Repr::Quick(q) => Repr::Quick(q.clone()),
        };
        ListValue { repr }
    }
}

impl PartialEq for ListValue {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl fmt::Debug for ListValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

impl<A: AsRef<[u8]>> FromIterator<A> for ListValue {
    fn from_iter<I: IntoIterator<Item = A>>(iter: I) -> Self {
        let mut l = ListValue::default();
        for v in iter {
            l.push_back(v.as_ref());
        }
        l
    }
}

impl ListValue {
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Pack(n) => n.count(),
            Repr::Quick(q) => q.len,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        match &self.repr {
            Repr::Pack(_) => "listpack",
            Repr::Quick(_) => "quicklist",
        }
    }

    /// Heap bytes owned by the value.
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Pack(n) => n.buf.capacity(),
            Repr::Quick(q) => {
                std::mem::size_of::<Quick>()
                    + q.nodes.capacity() * std::mem::size_of::<Node>()
                    + q.nodes.iter().map(|n| n.buf.capacity()).sum::<usize>()
            }
        }
    }

    /// Number of nodes (1 for a listpack); for tests and DEBUG-style introspection.
    pub fn node_count(&self) -> usize {
        match &self.repr {
            Repr::Pack(_) => 1,
            Repr::Quick(q) => q.nodes.len(),
        }
    }

    fn node(&self, i: usize) -> &Node {
        match &self.repr {
            Repr::Pack(n) => n,
            Repr::Quick(q) => &q.nodes[i],
        }
    }

    /// Converts a listpack that is about to grow by `extra` bytes past the limit.
    fn grow_check(&mut self, extra: usize) {
        if let Repr::Pack(n) = &self.repr {
            if n.size() + extra > NODE_LIMIT {
                self.convert_to_quick();
            }
        }
    }

    fn convert_to_quick(&mut self) {
        if let Repr::Pack(n) = &mut self.repr {
            let node = std::mem::take(n);
            let len = node.count();
            let mut nodes = VecDeque::new();
            if len > 0 {
                nodes.push_back(node);
            }
            self.repr = Repr::Quick(Box::new(Quick { nodes, len }));
        }
    }

    /// Converts a quicklist that shrank to one node of at most half the limit back to a listpack.
    fn shrink_check(&mut self) {
        if let Repr::Quick(q) = &mut self.repr {
            let small = match q.nodes.len() {
                0 => true,
                1 => q.nodes[0].size() <= NODE_LIMIT / 2,
                _ => false,
            };
            if small {
                let node = q.nodes.pop_front().unwrap_or_default();
                self.repr = Repr::Pack(node);
            }
        }
    }

    pub fn push_back(&mut self, v: &[u8]) {
        self.grow_check(entry_size(v.len()));
        match &mut self.repr {
            Repr::Pack(n) => n.push_back(v),
            Repr::Quick(q) => q.push_back(v),
        }
    }

    pub fn push_front(&mut self, v: &[u8]) {
        self.grow_check(entry_size(v.len()));
        match &mut self.repr {
            Repr::Pack(n) => n.push_front(v),
            Repr::Quick(q) => q.push_front(v),
        }
    }

    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        let v = match &mut self.repr {
            Repr::Pack(n) => n.pop_front(),
            Repr::Quick(q) => {
                let first = q.nodes.front_mut()?;
                let v = first.pop_front();
                if first.count() == 0 {
                    q.nodes.pop_front();
                }
                q.len -= 1;
                v
            }
        };
        self.shrink_check();
        v
    }

    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let v = match &mut self.repr {
            Repr::Pack(n) => n.pop_back(),
            Repr::Quick(q) => {
                let last = q.nodes.back_mut()?;
                let v = last.pop_back();
                if last.count() == 0 {
                    q.nodes.pop_back();
                }
                q.len -= 1;
                v
            }
        };
        self.shrink_check();
        v
    }

    /// Element `index` (0-based from the head).
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        if index >= self.len() {
            return None;
        }
        match &self.repr {
            Repr::Pack(n) => Some(n.get(index)),
            Repr::Quick(q) => {
                let (ni, ei) = q.locate(index);
                Some(q.nodes[ni].get(ei))
            }
        }
    }

    /// Replaces element `index`. Returns false if out of range.
    pub fn set(&mut self, index: usize, v: &[u8]) -> bool {
        if index >= self.len() {
            return false;
        }
        if let Repr::Pack(n) = &self.repr {
            let old = n.get(index).len();
            let new_size = n.size() + entry_size(v.len());
            if new_size.saturating_sub(entry_size(old)) > NODE_LIMIT {
                self.convert_to_quick();
            }
        }
        match &mut self.repr {
            Repr::Pack(n) => n.replace(index, v),
            Repr::Quick(q) => {
                let (ni, ei) = q.locate(index);
                q.nodes[ni].replace(ei, v);
                q.fix(ni);
            }
        }
        self.shrink_check();
        true
    }

    /// Inserts `v` so that it becomes element `index` (`index == len` appends).
    pub fn insert(&mut self, index: usize, v: &[u8]) {
        let len = self.len();
        let index = index.min(len);
        if index == len {
            return self.push_back(v);
        }
        if index == 0 {
            return self.push_front(v);
        }
        self.grow_check(entry_size(v.len()));
        match &mut self.repr {
            Repr::Pack(n) => n.insert(index, v),
            Repr::Quick(q) => {
                let (ni, ei) = q.locate(index);
                q.nodes[ni].insert(ei, v);
                q.len += 1;
                q.fix(ni);
            }
        }
        // Node merges may have left a single small node.
        self.shrink_check();
    }

    /// Removes the first `k` elements.
    pub fn remove_front(&mut self, k: usize) {
        let k = k.min(self.len());
        if k == 0 {
            return;
        }
        match &mut self.repr {
            Repr::Pack(n) => n.remove_range(0, k),
            Repr::Quick(q) => {
                let mut rem = k;
                while rem > 0 {
                    let Some(first) = q.nodes.front_mut() else {
                        break;
                    };
                    let c = first.count();
                    if c <= rem {
                        q.nodes.pop_front();
                        rem -= c;
                    } else {
                        first.remove_range(0, rem);
                        rem = 0;
                    }
                }
                q.len -= k;
                q.fix(0);
            }
        }
        self.shrink_check();
    }

    /// Removes the last `k` elements.
    pub fn remove_back(&mut self, k: usize) {
        let k = k.min(self.len());
        if k == 0 {
            return;
        }
        match &mut self.repr {
            Repr::Pack(n) => {
                let c = n.count();
                n.remove_range(c - k, k)
            }
            Repr::Quick(q) => {
                let mut rem = k;
                while rem > 0 {
                    let Some(last) = q.nodes.back_mut() else {
                        break;
                    };
                    let c = last.count();
                    if c <= rem {
                        q.nodes.pop_back();
                        rem -= c;
                    } else {
                        last.remove_range(c - rem, rem);
                        rem = 0;
                    }
                }
                q.len -= k;
                let last = q.nodes.len().saturating_sub(1);
                q.fix(last);
            }
        }
        self.shrink_check();
    }

    /// LREM: removes up to `|count|` elements equal to `v`, from the head when `count > 0`, from
    /// the tail when `count < 0`, all of them when `count == 0`. Returns how many were removed.
    pub fn remove_matching(&mut self, v: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().min(usize::MAX as u64) as usize
        };
        let from_tail = count < 0;
        let mut removed = 0;
        {
            let nodes: &mut [Node] = match &mut self.repr {
                Repr::Pack(n) => std::slice::from_mut(n),
                Repr::Quick(q) => q.nodes.make_contiguous(),
            };
            let order: Box<dyn Iterator<Item = usize>> = if from_tail {
                Box::new((0..nodes.len()).rev())
            } else {
                Box::new(0..nodes.len())
            };
            for i in order {
                if removed >= limit {
                    break;
                }
                removed += remove_in_node(&mut nodes[i], v, limit - removed, from_tail);
            }
        }
        if removed > 0 {
            if let Repr::Quick(q) = &mut self.repr {
                q.len -= removed;
                q.nodes.retain(|n| n.count() > 0);
                let mut i = 0;
                while i + 1 < q.nodes.len() {
                    if !q.merge_pair(i) {
                        i += 1;
                    }
                }
            }
            self.shrink_check();
        }
        removed
    }

    /// All elements from head to tail.
    pub fn iter(&self) -> Iter<'_> {
        self.range(0, self.len())
    }

    /// Elements `start..end` (clamped to the length) from head to tail; reversible.
    pub fn range(&self, start: usize, end: usize) -> Iter<'_> {
        let end = end.min(self.len());
        if start >= end {
            return Iter {
                list: self,
                front: (0, HEADER),
                back: (0, HEADER),
                remaining: 0,
            };
        }
        let (fnode, fidx, bnode, bidx) = match &self.repr {
            Repr::Pack(_) => (0, start, 0, end - 1),
            Repr::Quick(q) => {
                let (a, b) = q.locate(start);
                let (c, d) = q.locate(end - 1);
                (a, b, c, d)
            }
        };
        let front = (fnode, self.node(fnode).offset_of(fidx));
        let back = (bnode, self.node(bnode).offset_of(bidx + 1));
        Iter {
            list: self,
            front,
            back,
            remaining: end - start,
        }
    }
}

/// Removes up to `limit` entries equal to `v` from one node, scanning from its tail if
/// `from_tail`. Returns how many were removed.
fn remove_in_node(node: &mut Node, v: &[u8], limit: usize, from_tail: bool) -> usize {
    let n = node.count();
    if n == 0 {
        return 0;
    }
    // Entry spans of the matches, in node order.
    let mut matches: Vec<(usize, usize)> = Vec::new();
    let mut pos = HEADER;
    for _ in 0..n {
        let (s, e, next) = read_fwd(&node.buf, pos);
        if &node.buf[s..e] == v {
            matches.push((pos, next));
        }
        pos = next;
    }
    if matches.is_empty() {
        return 0;
    }
    if matches.len() > limit {
        if from_tail {
            matches.drain(..matches.len() - limit);
        } else {
            matches.truncate(limit);
        }
    }
    let mut out = Vec::with_capacity(node.buf.len());
    out.extend_from_slice(&node.buf[..HEADER]);
    let mut last = HEADER;
    for &(s, e) in &matches {
        out.extend_from_slice(&node.buf[last..s]);
        last = e;
    }
    out.extend_from_slice(&node.buf[last..]);
    node.buf = out;
    node.set_count(n - matches.len());
    matches.len()
}

/// Iterator over a range of list elements, from either end.
pub struct Iter<'a> {
    list: &'a ListValue,
    /// (node index, byte offset of the next entry)
    front: (usize, usize),
    /// (node index, byte offset just past the next entry from the back)
    back: (usize, usize),
    remaining: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let list: &'a ListValue = self.list;
        let mut node = list.node(self.front.0);
        while self.front.1 >= node.buf.len() {
            self.front = (self.front.0 + 1, HEADER);
            node = list.node(self.front.0);
        }
        let (s, e, next) = read_fwd(&node.buf, self.front.1);
        self.front.1 = next;
        self.remaining -= 1;
        Some(&node.buf[s..e])
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl<'a> DoubleEndedIterator for Iter<'a> {
    fn next_back(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        let list: &'a ListValue = self.list;
        let mut node = list.node(self.back.0);
        while self.back.1 <= HEADER {
            self.back.0 -= 1;
            node = list.node(self.back.0);
            self.back.1 = node.buf.len();
        }
        let (start, s, e) = read_back(&node.buf, self.back.1);
        self.back.1 = start;
        self.remaining -= 1;
        Some(&node.buf[s..e])
    }
}

impl ExactSizeIterator for Iter<'_> {}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn collect(l: &ListValue) -> Vec<Vec<u8>> {
        l.iter().map(|v| v.to_vec()).collect()
    }

    /// Structural invariants: counts add up, nodes are non-empty and within the limit (unless
    /// single-entry), a listpack is a single node within the limit.
    fn check(l: &ListValue) {
        match &l.repr {
            Repr::Pack(n) => {
                assert!(n.size() <= NODE_LIMIT || n.count() <= 1);
                let mut pos = HEADER;
                for _ in 0..n.count() {
                    pos = read_fwd(&n.buf, pos).2;
                }
                assert_eq!(pos, n.end());
            }
            Repr::Quick(q) => {
                let mut total = 0;
                for n in &q.nodes {
                    assert!(n.count() > 0, "empty node");
                    assert!(n.size() <= NODE_LIMIT || n.count() == 1, "oversized node");
                    let mut pos = HEADER;
                    for _ in 0..n.count() {
                        pos = read_fwd(&n.buf, pos).2;
                    }
                    assert_eq!(pos, n.buf.len());
                    total += n.count();
                }
                assert_eq!(total, q.len);
                assert!(q.nodes.len() > 1 || q.nodes[0].size() > NODE_LIMIT / 2);
            }
        }
        let fwd = collect(l);
        let mut back: Vec<Vec<u8>> = l.iter().rev().map(|v| v.to_vec()).collect();
        back.reverse();
        assert_eq!(fwd, back);
        assert_eq!(fwd.len(), l.len());
    }

    #[test]
    fn entry_encoding_roundtrips_lengths() {
        for len in [0usize, 1, 127, 128, 300, 16383, 16384, 70000] {
            let data = vec![7u8; len];
            let mut buf = vec![0u8; entry_size(len)];
            encode_into(&mut buf, &data);
            let (s, e, next) = read_fwd(&buf, 0);
            assert_eq!(
                (s, e, next),
                (varint_len(len), varint_len(len) + len, buf.len())
            );
            let (start, s2, e2) = read_back(&buf, buf.len());
            assert_eq!((start, s2, e2), (0, s, e));
        }
    }

    #[test]
    fn push_pop_both_ends() {
        let mut l = ListValue::default();
        assert_eq!(l.encoding(), "listpack");
        assert_eq!(l.heap_size(), 0);
        l.push_back(b"b");
        l.push_front(b"a");
        l.push_back(b"c");
        assert_eq!(
            collect(&l),
            vec![b"a".to_vec(), b"b".to_vec(), b"c".to_vec()]
        );
        assert_eq!(l.get(1), Some(&b"b"[..]));
        assert_eq!(l.get(3), None);
        assert_eq!(l.pop_back(), Some(b"c".to_vec()));
        assert_eq!(l.pop_front(), Some(b"a".to_vec()));
        assert_eq!(l.pop_front(), Some(b"b".to_vec()));
        assert_eq!(l.pop_front(), None);
        assert!(l.is_empty());
    }

    #[test]
    fn encoding_converts_and_comes_back_with_hysteresis() {
        let mut l = ListValue::default();
        let item = [b'x'; 100];
        let mut n = 0;
        while l.encoding() == "listpack" {
            l.push_back(&item);
            n += 1;
        }
        // 8 KB / 102 bytes per entry.
        assert_eq!(n, 81);
        check(&l);
        // Shrinking just under the limit keeps the quicklist; under half converts back.
        l.pop_back();
        assert_eq!(l.encoding(), "quicklist");
        while l.len() > 41 {
            l.pop_front();
        }
        assert_eq!(l.encoding(), "quicklist");
        l.pop_front();
        assert_eq!(l.encoding(), "listpack");
        check(&l);
        // A single big element makes a quicklist at once.
        let mut big = ListValue::default();
        big.push_back(&vec![1u8; 10_000]);
        assert_eq!(big.encoding(), "quicklist");
        check(&big);
        big.push_back(b"small");
        assert_eq!(big.node_count(), 2);
        check(&big);
    }

    #[test]
    fn large_list_many_nodes_and_index() {
        let mut l = ListValue::default();
        for i in 0..100_000u32 {
            l.push_back(i.to_string().as_bytes());
        }
        assert_eq!(l.encoding(), "quicklist");
        assert!(l.node_count() > 50);
        for i in [0usize, 1, 4095, 50_000, 99_999] {
            assert_eq!(l.get(i), Some(i.to_string().as_bytes()));
        }
        let r: Vec<_> = l.range(49_998, 50_002).map(|v| v.to_vec()).collect();
        assert_eq!(
            r,
            vec![
                b"49998".to_vec(),
                b"49999".to_vec(),
                b"50000".to_vec(),
                b"50001".to_vec()
            ]
        );
        let r: Vec<_> = l.range(49_998, 50_002).rev().map(|v| v.to_vec()).collect();
        assert_eq!(r[0], b"50001".to_vec());
        // Memory: a few bytes per element, no allocation per element.
        assert!(l.heap_size() < 100_000 * 12, "{}", l.heap_size());
        check(&l);
        l.remove_front(99_990);
        assert_eq!(l.len(), 10);
        assert_eq!(l.encoding(), "listpack");
        check(&l);
    }

    #[derive(Clone)]
    enum Op {
        PushBack(Vec<u8>),
        PushFront(Vec<u8>),
        PopBack,
        PopFront,
        Set(usize, Vec<u8>),
        Insert(usize, Vec<u8>),
        RemoveFront(usize),
        RemoveBack(usize),
        Rem(Vec<u8>, i64),
        Range(usize, usize),
    }

    impl std::fmt::Debug for Op {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let s = |v: &Vec<u8>| {
                if v.len() <= 3 {
                    String::from_utf8_lossy(v).into_owned()
                } else {
                    format!("<{} bytes>", v.len())
                }
            };
            match self {
                Op::PushBack(v) => write!(f, "PushBack({})", s(v)),
                Op::PushFront(v) => write!(f, "PushFront({})", s(v)),
                Op::PopBack => write!(f, "PopBack"),
                Op::PopFront => write!(f, "PopFront"),
                Op::Set(i, v) => write!(f, "Set({i}, {})", s(v)),
                Op::Insert(i, v) => write!(f, "Insert({i}, {})", s(v)),
                Op::RemoveFront(k) => write!(f, "RemoveFront({k})"),
                Op::RemoveBack(k) => write!(f, "RemoveBack({k})"),
                Op::Rem(v, c) => write!(f, "Rem({}, {c})", s(v)),
                Op::Range(a, b) => write!(f, "Range({a}, {b})"),
            }
        }
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            8 => prop::collection::vec(prop::sample::select(vec![b'a', b'b', b'c']), 0..3),
            3 => prop::collection::vec(any::<u8>(), 0..300),
            1 => prop::collection::vec(any::<u8>(), 5000..12000),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => value().prop_map(Op::PushBack),
            6 => value().prop_map(Op::PushFront),
            3 => Just(Op::PopBack),
            3 => Just(Op::PopFront),
            2 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Set(i, v)),
            2 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => (0usize..60).prop_map(Op::RemoveFront),
            1 => (0usize..60).prop_map(Op::RemoveBack),
            1 => (value(), -3i64..4).prop_map(|(v, c)| Op::Rem(v, c)),
            2 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Range(a, b)),
        ]
    }

    fn model_rem(m: &mut VecDeque<Vec<u8>>, v: &[u8], count: i64) -> usize {
        let limit = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs() as usize
        };
        let mut removed = 0;
        if count >= 0 {
            let mut i = 0;
            while i < m.len() && removed < limit {
                if m[i] == v {
                    m.remove(i);
                    removed += 1;
                } else {
                    i += 1;
                }
            }
        } else {
            let mut i = m.len();
            while i > 0 && removed < limit {
                i -= 1;
                if m[i] == v {
                    m.remove(i);
                    removed += 1;
                }
            }
        }
        removed
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn matches_vecdeque_model(ops in prop::collection::vec(op(), 1..250)) {
            let mut l = ListValue::default();
            let mut m: VecDeque<Vec<u8>> = VecDeque::new();
            for op in ops {
                match op {
                    Op::PushBack(v) => { l.push_back(&v); m.push_back(v); }
                    Op::PushFront(v) => { l.push_front(&v); m.push_front(v); }
                    Op::PopBack => prop_assert_eq!(l.pop_back(), m.pop_back()),
                    Op::PopFront => prop_assert_eq!(l.pop_front(), m.pop_front()),
                    Op::Set(i, v) => {
                        let i = if m.is_empty() { i % 3 } else { i % (m.len() + 1) };
                        let ok = l.set(i, &v);
                        prop_assert_eq!(ok, i < m.len());
                        if ok { m[i] = v; }
                    }
                    Op::Insert(i, v) => {
                        let i = i % (m.len() + 1);
                        l.insert(i, &v);
                        m.insert(i, v);
                    }
                    Op::RemoveFront(k) => { l.remove_front(k); for _ in 0..k.min(m.len()) { m.pop_front(); } }
                    Op::RemoveBack(k) => { l.remove_back(k); for _ in 0..k.min(m.len()) { m.pop_back(); } }
                    Op::Rem(v, c) => {
                        let a = l.remove_matching(&v, c);
                        let b = model_rem(&mut m, &v, c);
                        prop_assert_eq!(a, b);
                    }
                    Op::Range(a, b) => {
                        let n = m.len() + 2;
                        let (a, b) = (a % n, b % n);
                        let got: Vec<Vec<u8>> = l.range(a, b).map(|x| x.to_vec()).collect();
                        let want: Vec<Vec<u8>> = m.iter().skip(a).take(b.saturating_sub(a)).cloned().collect();
                        prop_assert_eq!(&got, &want);
                        let got_rev: Vec<Vec<u8>> = l.range(a, b).rev().map(|x| x.to_vec()).collect();
                        let want_rev: Vec<Vec<u8>> = want.into_iter().rev().collect();
                        prop_assert_eq!(got_rev, want_rev);
                    }
                }
                prop_assert_eq!(l.len(), m.len());
                check(&l);
            }
            let all: Vec<Vec<u8>> = m.iter().cloned().collect();
            prop_assert_eq!(collect(&l), all);
            for (i, v) in m.iter().enumerate() {
                prop_assert_eq!(l.get(i), Some(&v[..]));
            }
            let c = l.clone();
            prop_assert_eq!(&c, &l);
        }
    }
}
