//! The stream value type (Redis streams): an append-only log of field/value entries keyed by
//! 128-bit IDs (`ms-seq`), and the consumer groups that read it, each with its pending entries
//! list (PEL: what was delivered to which consumer and not acknowledged yet).
//!
//! Layout and why:
//! - Entries live in a B-tree map by ID: O(log n) append, lookup, delete and range start, ordered
//!   iteration both ways. IDs only grow, so appends always go to the right edge.
//! - Redis stores entries in "macro nodes" (listpacks of at most `stream-node-max-entries`
//!   entries / `stream-node-max-bytes` bytes) and its approximate trimming (`MAXLEN ~`, `MINID ~`)
//!   removes whole nodes only; XINFO reports the node count. Users tune and rely on that
//!   behaviour (a `~` trim leaves the stream at a node boundary, and costs nothing when no whole
//!   node can go), so the node boundaries are kept here as bookkeeping beside the map: each node
//!   records its first and last ID, how many entries it ever took (deleted ones still count
//!   towards its capacity, as in a listpack), how many are still live, and its estimated size.
//!   Trimming follows Redis's algorithm over those nodes exactly; a node's byte size is an
//!   estimate of the listpack's (field and value lengths plus a few bytes per element).
//! - Groups and consumers are kept in name order (Redis's radix trees iterate that way, and
//!   XINFO lists them so). A pending entry names its consumer with a shared `Arc<[u8]>`; each
//!   consumer keeps the set of IDs it owns, so per-consumer PEL reads are ranges too.
//!
//! Time (delivery times, consumer seen/active times) is passed in by the caller in unix ms, so
//! the type stays deterministic.

use std::collections::{btree_map, BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

/// A stream entry ID: milliseconds and a sequence number, ordered as the pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub ms: u64,
    pub seq: u64,
}

impl StreamId {
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next ID, or None after the last possible one.
    pub fn next(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous ID, or None before 0-0.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// An entry's fields and values, flat: field, value, field, value ...
pub type Fields = Box<[Box<[u8]>]>;

/// `stream-node-max-entries` / `stream-node-max-bytes` (0 = no limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeLimits {
    pub max_entries: u64,
    pub max_bytes: u64,
}

impl Default for NodeLimits {
    fn default() -> Self {
        NodeLimits {
            max_entries: 100,
            max_bytes: 4096,
        }
    }
}

/// Redis caps a listpack at 1 GiB whatever the settings say.
const NODE_MAX_SIZE: u64 = 1 << 30;

/// Bookkeeping of one macro node (see the module doc); nodes are keyed by their first ID.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Node {
    /// The ID of the last entry appended to the node (live or not).
    pub last: StreamId,
    /// Entries the node ever took (live + deleted): its fill for `max_entries`.
    pub taken: u64,
    /// Entries still live.
    pub live: u64,
    /// Estimated listpack size.
    pub bytes: u64,
}

/// The trimming strategy of XADD/XTRIM.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrimStrategy {
    MaxLen(u64),
    MinId(StreamId),
}

/// A trim request: strategy, `~` (whole nodes only) and LIMIT (0 = none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trim {
    pub strategy: TrimStrategy,
    pub approx: bool,
    pub limit: u64,
}

/// A pending (delivered, unacknowledged) entry of a group.
#[derive(Clone, Debug, PartialEq)]
pub struct PendingEntry {
    pub consumer: Arc<[u8]>,
    /// Unix ms of the last delivery.
    pub delivery_time: i64,
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Clone, Debug, PartialEq)]
pub struct Consumer {
    pub name: Arc<[u8]>,
    /// Last time the consumer was named by a command (unix ms).
    pub seen_time: i64,
    /// Last time it was delivered or claimed something (unix ms), -1 if never.
    pub active_time: i64,
    /// The IDs it owns in the group's PEL.
    pub pending: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug, PartialEq)]
pub struct ConsumerGroup {
    /// The last ID delivered to the group (`>` reads continue after it).
    pub last_id: StreamId,
    /// The group's logical read counter; -1 when unknown (Redis's SCG_INVALID_ENTRIES_READ).
    pub entries_read: i64,
    pub pel: BTreeMap<StreamId, PendingEntry>,
    pub consumers: BTreeMap<Box<[u8]>, Consumer>,
}

/// The entries-read value meaning "unknown".
pub const ENTRIES_READ_UNKNOWN: i64 = -1;

impl ConsumerGroup {
    pub fn new(last_id: StreamId, entries_read: i64) -> ConsumerGroup {
        ConsumerGroup {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Creates the consumer if absent; returns whether it was created.
    pub fn create_consumer(&mut self, name: &[u8], now: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(
            name.into(),
            Consumer {
                name: Arc::from(name),
                seen_time: now,
                active_time: -1,
                pending: BTreeSet::new(),
            },
        );
        true
    }

    /// Deletes a consumer and its pending entries; returns how many it had, or None if absent.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pending {
            self.pel.remove(id);
        }
        Some(c.pending.len())
    }

    /// Acknowledges `id`: removes it from the PEL and its consumer. Returns whether it was pending.
    pub fn ack(&mut self, id: StreamId) -> bool {
        let Some(p) = self.pel.remove(&id) else {
            return false;
        };
        if let Some(c) = self.consumers.get_mut(&*p.consumer) {
            c.pending.remove(&id);
        }
        true
    }

    /// Records a delivery of `id` to `consumer` (which must exist): a new pending entry with
    /// count 1, or an existing one moved to this consumer with its count reset to 1, as Redis
    /// does when XREADGROUP meets an ID already pending (after XGROUP SETID moved back).
    pub fn deliver(&mut self, id: StreamId, consumer: &[u8], now: i64) {
        let Some(owner) = self.consumers.get(consumer).map(|c| c.name.clone()) else {
            return;
        };
        if let Some(old) = self.pel.get(&id).map(|p| p.consumer.clone()) {
            if let Some(c) = self.consumers.get_mut(&*old) {
                c.pending.remove(&id);
            }
        }
        self.pel.insert(
            id,
            PendingEntry {
                consumer: owner,
                delivery_time: now,
                delivery_count: 1,
            },
        );
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pending.insert(id);
            c.active_time = now;
        }
    }

    /// Gives the pending entry `id` (which must exist) to `consumer` (which must exist).
    pub fn transfer(&mut self, id: StreamId, consumer: &[u8]) {
        let Some(owner) = self.consumers.get(consumer).map(|c| c.name.clone()) else {
            return;
        };
        let Some(p) = self.pel.get_mut(&id) else {
            return;
        };
        if *p.consumer != *consumer {
            let old = std::mem::replace(&mut p.consumer, owner);
            if let Some(c) = self.consumers.get_mut(&*old) {
                c.pending.remove(&id);
            }
        }
        if let Some(c) = self.consumers.get_mut(consumer) {
            c.pending.insert(id);
        }
    }

    /// Heap estimate.
    fn heap_size(&self) -> usize {
        self.pel.len() * 96
            + self
                .consumers
                .values()
                .map(|c| 96 + 2 * c.name.len() + c.pending.len() * 24)
                .sum::<usize>()
    }
}

/// A stream.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct StreamValue {
    entries: BTreeMap<StreamId, Fields>,
    /// Macro nodes by first ID.
    nodes: BTreeMap<StreamId, Node>,
    pub last_id: StreamId,
    /// The first live entry's ID (0-0 when empty), as Redis records it.
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
    pub groups: BTreeMap<Box<[u8]>, ConsumerGroup>,
    /// Bytes of field and value data held.
    data_bytes: usize,
}

/// The estimated listpack size of an entry (flags, two ID deltas, field count, elements with
/// their headers, the back-length element).
fn entry_bytes(fields: &Fields) -> u64 {
    6 + fields.iter().map(|f| f.len() as u64 + 2).sum::<u64>()
}

impl StreamValue {
    pub fn new() -> StreamValue {
        StreamValue::default()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Macro nodes (XINFO STREAM radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    pub fn heap_size(&self) -> usize {
        std::mem::size_of::<StreamValue>()
            + self.data_bytes
            + self.entries.len() * 64
            + self.nodes.len() * 64
            + self
                .groups
                .iter()
                .map(|(n, g)| 128 + n.len() + g.heap_size())
                .sum::<usize>()
    }

    /// The ID an auto-generated XADD gets at time `now_ms` (`*`), or None when the stream has
    /// used the last possible ID.
    pub fn next_auto_id(&self, now_ms: u64) -> Option<StreamId> {
        if now_ms > self.last_id.ms {
            Some(StreamId::new(now_ms, 0))
        } else {
            self.last_id.next()
        }
    }

    /// The ID for `ms-*`: the next sequence within `ms` after the last ID, or `ms-0`; None when
    /// that is not greater than the last ID.
    pub fn next_id_in_ms(&self, ms: u64) -> Option<StreamId> {
        let id = if self.last_id.ms == ms {
            StreamId::new(ms, self.last_id.seq.checked_add(1)?)
        } else {
            StreamId::new(ms, 0)
        };
        (id > self.last_id).then_some(id)
    }

    /// Appends an entry with `id`, which must be greater than `last_id` (the caller checks).
    pub fn append(&mut self, id: StreamId, fields: Fields, limits: NodeLimits) {
        let size = entry_bytes(&fields);
        let data: usize = fields.iter().map(|f| f.len()).sum();
        let max_bytes = match limits.max_bytes {
            0 => NODE_MAX_SIZE,
            b => b.min(NODE_MAX_SIZE),
        };
        let fits = self.nodes.last_key_value().is_some_and(|(_, n)| {
            let total: u64 = fields.iter().map(|f| f.len() as u64).sum();
            n.bytes + total < max_bytes && (limits.max_entries == 0 || n.taken < limits.max_entries)
        });
        if fits {
            if let Some(mut last) = self.nodes.last_entry() {
                let n = last.get_mut();
                n.last = id;
                n.taken += 1;
                n.live += 1;
                n.bytes += size;
            }
        } else {
            // A new node: header (counts, master fields) plus the entry.
            let master: u64 = fields.iter().step_by(2).map(|f| f.len() as u64 + 2).sum();
            self.nodes.insert(
                id,
                Node {
                    last: id,
                    taken: 1,
                    live: 1,
                    bytes: 12 + master + size,
                },
            );
        }
        self.entries.insert(id, fields);
        self.data_bytes += data;
        self.entries_added += 1;
        self.last_id = id;
        if self.entries.len() == 1 {
            self.first_id = id;
        }
    }

    pub fn get(&self, id: StreamId) -> Option<&Fields> {
        self.entries.get(&id)
    }

    pub fn contains(&self, id: StreamId) -> bool {
        self.entries.contains_key(&id)
    }

    /// The last live entry's ID.
    pub fn last_entry_id(&self) -> Option<StreamId> {
        self.entries.last_key_value().map(|(k, _)| *k)
    }

    /// Entries with `start <= id <= end`, in order (`.rev()` for the other way); none when
    /// `start > end`.
    pub fn range(&self, start: StreamId, end: StreamId) -> btree_map::Range<'_, StreamId, Fields> {
        if start > end {
            // Empty (a map range may not run backwards).
            return self.entries.range(start..start);
        }
        self.entries.range(start..=end)
    }

    /// Removes one entry; returns whether it existed. Keeps `first_id` and `max_deleted_id`
    /// as XDEL does.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some(fields) = self.entries.remove(&id) else {
            return false;
        };
        self.data_bytes -= fields.iter().map(|f| f.len()).sum::<usize>();
        if let Some((&first, n)) = self.nodes.range_mut(..=id).next_back() {
            if n.live <= 1 {
                self.nodes.remove(&first);
            } else {
                n.live -= 1;
            }
        }
        if id > self.max_deleted_id {
            self.max_deleted_id = id;
        }
        self.refresh_first_id();
        true
    }

    fn refresh_first_id(&mut self) {
        self.first_id = self
            .entries
            .first_key_value()
            .map_or(StreamId::MIN, |(k, _)| *k);
    }

    fn pop_first_entry(&mut self) {
        if let Some((_, fields)) = self.entries.pop_first() {
            self.data_bytes -= fields.iter().map(|f| f.len()).sum::<usize>();
        }
    }

    /// Trims per `t`, Redis's streamTrim over the macro nodes; returns the entries removed.
    pub fn trim(&mut self, t: &Trim) -> u64 {
        let mut deleted = 0u64;
        while let Some((&first, node)) = self.nodes.first_key_value() {
            let (live, node_last) = (node.live, node.last);
            let len = self.entries.len() as u64;
            if let TrimStrategy::MaxLen(max) = t.strategy {
                if len <= max {
                    break;
                }
            }
            if t.limit != 0 && deleted + live > t.limit {
                break;
            }
            let remove_node = match t.strategy {
                TrimStrategy::MaxLen(max) => len.saturating_sub(live) >= max,
                TrimStrategy::MinId(min) => node_last < min,
            };
            if remove_node {
                // The node's live entries are the first `live` entries of the stream.
                for _ in 0..live {
                    self.pop_first_entry();
                }
                self.nodes.remove(&first);
                deleted += live;
                continue;
            }
            if t.approx {
                break;
            }
            // Delete from inside this node, then stop.
            let mut removed = 0;
            while let Some((&id, _)) = self.entries.first_key_value() {
                let stop = match t.strategy {
                    TrimStrategy::MaxLen(max) => self.entries.len() as u64 <= max,
                    TrimStrategy::MinId(min) => id >= min,
                };
                if stop || id > node_last {
                    break;
                }
                self.pop_first_entry();
                removed += 1;
            }
            if let Some(n) = self.nodes.get_mut(&first) {
                n.live -= removed;
            }
            deleted += removed;
            break;
        }
        if deleted > 0 {
            self.refresh_first_id();
        }
        deleted
    }

    /// Whether the range `start..=end` holds the latest tombstone (Redis's
    /// streamRangeHasTombstones).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.entries.is_empty() || self.max_deleted_id.is_zero() {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// The logical read counter of `id` (its distance from the first entry ever added), or -1
    /// when it cannot be known (Redis's streamEstimateDistanceFromFirstEverEntry).
    pub fn estimate_distance(&self, id: StreamId) -> i64 {
        let added = self.entries_added as i64;
        if self.entries_added == 0 {
            return 0;
        }
        if self.entries.is_empty() && id <= self.last_id {
            return added;
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return added,
            std::cmp::Ordering::Greater => return ENTRIES_READ_UNKNOWN,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            let len = self.entries.len() as i64;
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return added - len,
                std::cmp::Ordering::Equal => return added - len + 1,
                std::cmp::Ordering::Greater => {}
            }
        }
        ENTRIES_READ_UNKNOWN
    }

    /// A group's lag (entries not delivered to it yet), None when it cannot be known. Signed,
    /// as Redis computes it: a group given a read counter ahead of the stream shows a negative
    /// lag.
    pub fn group_lag(&self, g: &ConsumerGroup) -> Option<i64> {
        let added = i64::try_from(self.entries_added).unwrap_or(i64::MAX);
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != ENTRIES_READ_UNKNOWN
            && !self.range_has_tombstones(g.last_id, StreamId::MAX)
        {
            return Some(added.wrapping_sub(g.entries_read));
        }
        let read = self.estimate_distance(g.last_id);
        (read != ENTRIES_READ_UNKNOWN).then(|| added.wrapping_sub(read))
    }

    /// Moves a group's last delivered ID forward to `id` (an entry just delivered), keeping its
    /// read counter as Redis 7.2 does: counting on while no tombstone lies ahead, re-estimated
    /// otherwise.
    pub fn advance_group(&mut self, group: &[u8], id: StreamId) {
        let Some(g) = self.groups.get(group) else {
            return;
        };
        if id <= g.last_id {
            return;
        }
        let read = if g.entries_read != ENTRIES_READ_UNKNOWN
            && !self.range_has_tombstones(id, StreamId::MAX)
        {
            g.entries_read + 1
        } else if self.entries_added > 0 {
            self.estimate_distance(id)
        } else {
            g.entries_read
        };
        if let Some(g) = self.groups.get_mut(group) {
            g.entries_read = read;
            g.last_id = id;
        }
    }

    /// Every entry in order (`.next_back()` is the last one).
    pub fn entries(&self) -> btree_map::Iter<'_, StreamId, Fields> {
        self.entries.iter()
    }

    /// Macro nodes in order, by first ID — for snapshots, so a restart keeps the node layout
    /// (and so `~` trimming behaves the same).
    pub fn node_layout(&self) -> btree_map::Iter<'_, StreamId, Node> {
        self.nodes.iter()
    }

    /// Rebuilds a stream from its parts (snapshot load). Node layout entries that do not match
    /// the entries (a damaged or foreign file) are replaced by a layout rebuilt from scratch.
    pub fn from_parts(
        entries: Vec<(StreamId, Fields)>,
        layout: Vec<(StreamId, Node)>,
        meta: StreamMeta,
        groups: BTreeMap<Box<[u8]>, ConsumerGroup>,
    ) -> StreamValue {
        let mut s = StreamValue::new();
        for (id, fields) in entries {
            s.append(id, fields, NodeLimits::default());
        }
        let live_total: u64 = layout.iter().map(|(_, n)| n.live).sum();
        let consistent = live_total == s.entries.len() as u64
            && layout.windows(2).all(|w| w[0].1.last < w[1].0)
            && layout.iter().all(|(first, n)| {
                *first <= n.last
                    && n.live <= n.taken
                    && s.entries.range(*first..=n.last).count() as u64 == n.live
            });
        if consistent {
            s.nodes = layout.into_iter().filter(|(_, n)| n.taken > 0).collect();
        }
        s.last_id = meta.last_id;
        s.first_id = meta.first_id;
        s.max_deleted_id = meta.max_deleted_id;
        s.entries_added = meta.entries_added;
        s.groups = groups;
        s
    }

    /// The stream's counters (snapshots).
    pub fn meta(&self) -> StreamMeta {
        StreamMeta {
            last_id: self.last_id,
            first_id: self.first_id,
            max_deleted_id: self.max_deleted_id,
            entries_added: self.entries_added,
        }
    }
}

/// The counters a stream keeps besides its entries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct StreamMeta {
    pub last_id: StreamId,
    pub first_id: StreamId,
    pub max_deleted_id: StreamId,
    pub entries_added: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(n: usize) -> Fields {
        vec![
            b"f".to_vec().into_boxed_slice(),
            n.to_string().into_bytes().into_boxed_slice(),
        ]
        .into_boxed_slice()
    }

    fn stream_of(n: u64, limits: NodeLimits) -> StreamValue {
        let mut s = StreamValue::new();
        for i in 1..=n {
            s.append(StreamId::new(i, 0), fields(i as usize), limits);
        }
        s
    }

    #[test]
    fn ids_order_and_step() {
        assert!(StreamId::new(1, u64::MAX) < StreamId::new(2, 0));
        assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.prev(), None);
        assert_eq!(StreamId::new(5, 7).to_string(), "5-7");
    }

    #[test]
    fn auto_ids_never_go_back() {
        let mut s = StreamValue::new();
        assert_eq!(s.next_auto_id(10), Some(StreamId::new(10, 0)));
        s.append(StreamId::new(10, 5), fields(1), NodeLimits::default());
        assert_eq!(s.next_auto_id(9), Some(StreamId::new(10, 6)));
        assert_eq!(s.next_id_in_ms(10), Some(StreamId::new(10, 6)));
        assert_eq!(s.next_id_in_ms(9), None);
        assert_eq!(s.next_id_in_ms(11), Some(StreamId::new(11, 0)));
        s.last_id = StreamId::MAX;
        assert_eq!(s.next_auto_id(u64::MAX), None);
    }

    #[test]
    fn nodes_fill_by_entries_and_bytes() {
        let s = stream_of(250, NodeLimits::default());
        assert_eq!(s.node_count(), 3);
        let s = stream_of(
            10,
            NodeLimits {
                max_entries: 0,
                max_bytes: 40,
            },
        );
        // Each entry is ~12 bytes with a ~30-byte node header: one entry per node at most two.
        assert!(s.node_count() >= 5, "{}", s.node_count());
    }

    #[test]
    fn approximate_trim_removes_whole_nodes_only() {
        let mut s = stream_of(1000, NodeLimits::default());
        let t = Trim {
            strategy: TrimStrategy::MaxLen(555),
            approx: true,
            limit: 10_000,
        };
        assert_eq!(s.trim(&t), 400);
        assert_eq!(s.len(), 600);
        assert_eq!(s.first_id, StreamId::new(401, 0));
        // Exact trimming then cuts inside the first node.
        let t = Trim {
            strategy: TrimStrategy::MaxLen(555),
            approx: false,
            limit: 0,
        };
        assert_eq!(s.trim(&t), 45);
        assert_eq!(s.len(), 555);
        assert_eq!(s.first_id, StreamId::new(446, 0));
        // LIMIT stops before a node that would exceed it.
        let t = Trim {
            strategy: TrimStrategy::MaxLen(0),
            approx: true,
            limit: 100,
        };
        assert_eq!(s.trim(&t), 55);
    }

    #[test]
    fn minid_trim_and_delete_bookkeeping() {
        let mut s = stream_of(300, NodeLimits::default());
        let t = Trim {
            strategy: TrimStrategy::MinId(StreamId::new(150, 0)),
            approx: false,
            limit: 0,
        };
        assert_eq!(s.trim(&t), 149);
        assert_eq!(s.first_id, StreamId::new(150, 0));
        assert!(s.delete(StreamId::new(150, 0)));
        assert!(!s.delete(StreamId::new(150, 0)));
        assert_eq!(s.first_id, StreamId::new(151, 0));
        assert_eq!(s.max_deleted_id, StreamId::new(150, 0));
        // Deleting a node's last live entry drops the node.
        let nodes = s.node_count();
        for i in 151..=200 {
            s.delete(StreamId::new(i, 0));
        }
        assert_eq!(s.node_count(), nodes - 1);
        assert_eq!(s.len(), 100);
    }

    #[test]
    fn lag_and_distance_follow_redis() {
        let mut s = stream_of(10, NodeLimits::default());
        s.groups.insert(
            b"g".to_vec().into(),
            ConsumerGroup::new(StreamId::MIN, ENTRIES_READ_UNKNOWN),
        );
        let g = &s.groups[&b"g"[..]];
        assert_eq!(s.group_lag(g), Some(10));
        s.advance_group(b"g", StreamId::new(1, 0));
        assert_eq!(s.groups[&b"g"[..]].entries_read, 1);
        s.advance_group(b"g", StreamId::new(2, 0));
        assert_eq!(s.groups[&b"g"[..]].entries_read, 2);
        assert_eq!(s.group_lag(&s.groups[&b"g"[..]]), Some(8));
        s.delete(StreamId::new(5, 0));
        assert_eq!(s.group_lag(&s.groups[&b"g"[..]]), None);
        assert_eq!(s.estimate_distance(StreamId::new(10, 0)), 10);
        assert_eq!(
            s.estimate_distance(StreamId::new(11, 0)),
            ENTRIES_READ_UNKNOWN
        );
    }

    #[test]
    fn pel_moves_between_consumers() {
        let mut g = ConsumerGroup::new(StreamId::MIN, 0);
        g.create_consumer(b"a", 1);
        g.create_consumer(b"b", 1);
        g.deliver(StreamId::new(1, 0), b"a", 5);
        g.deliver(StreamId::new(2, 0), b"a", 5);
        g.transfer(StreamId::new(1, 0), b"b");
        assert_eq!(g.consumers[&b"a"[..]].pending.len(), 1);
        assert_eq!(g.consumers[&b"b"[..]].pending.len(), 1);
        assert_eq!(&*g.pel[&StreamId::new(1, 0)].consumer, b"b");
        assert!(g.ack(StreamId::new(2, 0)));
        assert!(!g.ack(StreamId::new(2, 0)));
        assert_eq!(g.delete_consumer(b"b"), Some(1));
        assert!(g.pel.is_empty());
    }
}
