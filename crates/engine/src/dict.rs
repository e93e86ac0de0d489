//! The keyspace hash table: chained buckets with the chain link stored inside each entry
//! (intrusive), power-of-two sizes, incremental rehashing and Redis's reverse-binary SCAN cursor.
//!
//! Why not hashbrown: three things a Redis keyspace needs are not available from it —
//! 1. **Incremental resize.** Growing a 10M-key table at once stalls every client for ~100 ms;
//!    like Redis's dict.c we keep two tables while resizing and move a few buckets per operation
//!    (plus a background step), so no single command pays for the whole resize.
//! 2. **SCAN's guarantee.** A full SCAN returns every key present for the whole iteration even when
//!    the table grows or shrinks in between. Redis's cursor (reverse-binary increment over the bucket
//!    index, visiting the expansions of a small-table bucket in the large one) gives that because an
//!    entry's bucket is a prefix of its hash; open addressing with probing breaks it.
//! 3. **Random sampling** of buckets for eviction and RANDOMKEY.
//!
//! Memory: 8 bytes per bucket (load factor kept between 1/8 and 1) plus the entry itself; the link is
//! inside the entry (see `entry`), so there is no separate node allocation.
//!
//! Invariants: `len` counts entries in both tables; while rehashing, buckets `< rehash_idx` of table 0
//! are empty; every entry is reachable from exactly one bucket.

use crate::buckets::Buckets;
use crate::entry::Entry;
use crate::rng::Rng;
use std::hash::BuildHasher;
use std::ptr;

const INITIAL_SIZE: usize = 4;
/// Empty buckets visited per rehash step before giving up for this step (Redis: 10 per bucket).
const REHASH_EMPTY_VISITS: usize = 10;
/// Buckets per `rehash` call when a resize is finished at once.
const REHASH_BATCH: usize = 1024;

struct Table {
    buckets: Buckets,
    used: usize,
}

impl Table {
    fn empty() -> Table {
        Table {
            buckets: Buckets::empty(),
            used: 0,
        }
    }

    fn with_size(size: usize) -> Table {
        Table {
            buckets: Buckets::zeroed(size),
            used: 0,
        }
    }

    fn size(&self) -> usize {
        self.buckets.len()
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }
}

pub struct Dict {
    tables: [Table; 2],
    /// Next bucket of table 0 to migrate; None when not rehashing.
    rehash_idx: Option<usize>,
    hasher: foldhash::quality::FixedState,
}

// SAFETY: the dict uniquely owns every entry reachable from its buckets; raw pointers are only an
// ownership encoding. Access requires &mut self for mutation.
unsafe impl Send for Dict {}
unsafe impl Sync for Dict {}

/// Borrowing iterator state is avoided on purpose: callers visit entries with closures so the dict
/// can never be mutated mid-walk.
impl Dict {
    pub fn new(seed: u64) -> Dict {
        Dict {
            tables: [Table::empty(), Table::empty()],
            rehash_idx: None,
            hasher: foldhash::quality::FixedState::with_seed(seed),
        }
    }

    pub fn len(&self) -> usize {
        self.tables[0].used + self.tables[1].used
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of bucket slots allocated (for memory accounting and INFO).
    pub fn bucket_count(&self) -> usize {
        self.tables[0].size() + self.tables[1].size()
    }

    pub fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn tables_to_search(&self) -> usize {
        if self.rehash_idx.is_some() {
            2
        } else {
            1
        }
    }

    /// Finds the cell (bucket or a predecessor's `next` field) that holds the entry for `key`.
    fn find_cell(&self, key: &[u8], hash: u64) -> Option<*const *mut u8> {
        for t in 0..self.tables_to_search() {
            let table = &self.tables[t];
            if table.size() == 0 {
                continue;
            }
            let mut cell: *const *mut u8 = &table.buckets[hash as usize & table.mask()];
            // SAFETY: cells are bucket slots or next fields of live entries owned by self.
            unsafe {
                while !(*cell).is_null() {
                    if Entry::from_cell(cell).key() == key {
                        return Some(cell);
                    }
                    cell = Entry::next_slot(*cell);
                }
            }
        }
        None
    }

    /// Like `find_cell` for mutation: the cell is derived from `&mut self`, and the index of the
    /// table holding the entry is returned for the used counts.
    fn find_slot_mut(&mut self, key: &[u8], hash: u64) -> Option<(usize, *mut *mut u8)> {
        for t in 0..self.tables_to_search() {
            let table = &mut self.tables[t];
            if table.size() == 0 {
                continue;
            }
            let idx = hash as usize & table.mask();
            // SAFETY: idx < size; cells are bucket slots or next fields of owned live entries.
            unsafe {
                let mut slot: *mut *mut u8 = table.buckets.as_mut_ptr().add(idx);
                while !(*slot).is_null() {
                    if Entry::from_cell(slot).key() == key {
                        return Some((t, slot));
                    }
                    slot = Entry::next_slot(*slot);
                }
            }
        }
        None
    }

    /// Shared lookup, no rehash step.
    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        let hash = self.hash(key);
        // SAFETY: a non-null slot holds a live entry owned by self.
        self.find_cell(key, hash)
            .map(|s| unsafe { Entry::from_cell(s) })
    }

    /// Exclusive lookup; performs one incremental rehash step first, like Redis.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut Entry> {
        self.rehash_step();
        let hash = self.hash(key);
        // SAFETY: as in `get`, and &mut self gives exclusivity.
        self.find_slot_mut(key, hash)
            .map(|(_, s)| unsafe { Entry::from_cell_mut(s) })
    }

    /// Inserts an entry whose key must not be present (callers look up first).
    pub fn insert_new(&mut self, entry: Entry) {
        self.rehash_step();
        self.expand_if_needed();
        let hash = self.hash(entry.key());
        let t = if self.rehash_idx.is_some() { 1 } else { 0 };
        let table = &mut self.tables[t];
        let idx = hash as usize & table.mask();
        let mut entry = entry;
        entry.set_next(table.buckets[idx]);
        table.buckets[idx] = entry.into_raw();
        table.used += 1;
    }

    /// Removes and returns the entry for `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        self.rehash_step();
        let hash = self.hash(key);
        let (table, slot) = self.find_slot_mut(key, hash)?;
        // SAFETY: slot points at a live entry; we unlink it and take ownership.
        let mut entry = unsafe {
            let p = *slot;
            let e = Entry::from_raw(p);
            *slot = e.next();
            e
        };
        entry.set_next(ptr::null_mut());
        self.tables[table].used -= 1;
        self.shrink_if_needed();
        Some(entry)
    }

    /// Swaps in `new` (same key) for the current entry and returns the old one.
    pub fn replace(&mut self, new: Entry) -> Option<Entry> {
        let hash = self.hash(new.key());
        let (_, slot) = self.find_slot_mut(new.key(), hash)?;
        let mut new = new;
        // SAFETY: slot points at a live entry; ownership is swapped.
        unsafe {
            let old = Entry::from_raw(*slot);
            new.set_next(old.next());
            *slot = new.into_raw();
            let mut old = old;
            old.set_next(ptr::null_mut());
            Some(old)
        }
    }

    /// The entry whose key hashes to `hash` and satisfies `f`; used to resolve expiry-index
    /// records, which store a key's hash instead of a second copy of the key.
    pub fn find_by_hash(&self, hash: u64, mut f: impl FnMut(&Entry) -> bool) -> Option<&Entry> {
        for t in 0..self.tables_to_search() {
            let table = &self.tables[t];
            if table.size() == 0 {
                continue;
            }
            let mut cell: *const *mut u8 = &table.buckets[hash as usize & table.mask()];
            // SAFETY: every cell is a bucket or the next field of a live entry owned by self.
            unsafe {
                while !(*cell).is_null() {
                    let e = Entry::from_cell(cell);
                    if f(e) && self.hash(e.key()) == hash {
                        return Some(e);
                    }
                    cell = Entry::next_slot(*cell);
                }
            }
        }
        None
    }

    fn expand_if_needed(&mut self) {
        if self.rehash_idx.is_some() {
            return;
        }
        let size = self.tables[0].size();
        if size == 0 {
            self.tables[0] = Table::with_size(INITIAL_SIZE);
            return;
        }
        if self.tables[0].used >= size {
            self.start_resize((self.tables[0].used + 1).next_power_of_two());
        }
    }

    fn shrink_if_needed(&mut self) {
        if self.rehash_idx.is_some() {
            return;
        }
        let size = self.tables[0].size();
        let used = self.tables[0].used;
        if size > INITIAL_SIZE && used * 8 < size {
            self.start_resize(used.max(INITIAL_SIZE).next_power_of_two());
        }
    }

    /// Makes room for `additional` more entries at once, so that inserting them never resizes:
    /// the table gets the size step-by-step growth would end at, and a running rehash is
    /// finished. For bulk loading (start-up), where no client waits on the table: growing
    /// incrementally while 10M keys are loaded moves every entry about twice more, each move a
    /// cache miss (a fifth of the load time went to `rehash`), and every lookup meanwhile
    /// searches two tables.
    pub fn reserve(&mut self, additional: usize) {
        while self.rehash(REHASH_BATCH) {}
        let Some(size) = grown_size(self.len().saturating_add(additional)) else {
            return;
        };
        if size > self.tables[0].size() {
            self.resize_now(size);
        }
    }

    /// Moves every entry into a new table of `size` buckets at once. No rehash may be running.
    fn resize_now(&mut self, size: usize) {
        debug_assert!(self.rehash_idx.is_none());
        let mut table = Table::with_size(size);
        let old = std::mem::replace(&mut self.tables[0], Table::empty());
        for &head in old.buckets.iter() {
            // SAFETY: the old table is no longer reachable from `self`; its chains move whole.
            unsafe { Self::move_chain(&self.hasher, head, &mut table) };
        }
        self.tables[0] = table;
    }

    /// Relinks every entry of the chain starting at `head` into `dst` (by its hash), counting
    /// them in `dst.used`; returns how many moved. The caller clears the cell `head` came from.
    ///
    /// # Safety
    /// `head` is null or the head of a chain of live entries owned by this dict that no bucket
    /// will reach after the move.
    unsafe fn move_chain(
        hasher: &foldhash::quality::FixedState,
        head: *mut u8,
        dst: &mut Table,
    ) -> usize {
        let mut moved = 0;
        let mut p = head;
        while !p.is_null() {
            // SAFETY: p is a live entry of the chain (caller's contract); it is relinked into
            // `dst` after its link to the rest of the chain has been read.
            unsafe {
                let next = *Entry::next_slot(p);
                let slot = hasher.hash_one(Entry::peek(p).key()) as usize & dst.mask();
                *Entry::next_slot(p) = dst.buckets[slot];
                dst.buckets[slot] = p;
                p = next;
            }
            moved += 1;
        }
        dst.used += moved;
        moved
    }

    /// Gives back what a [`Dict::reserve`] for more entries than came left unused: the table gets
    /// the size step-by-step growth would have given its entries, at once, if that is smaller.
    /// (The rule for live traffic shrinks a table only under an eighth full, which would leave it
    /// up to eight times that size.)
    pub fn shrink_to_fit(&mut self) {
        while self.rehash(REHASH_BATCH) {}
        if let Some(size) = grown_size(self.len()) {
            if size < self.tables[0].size() {
                self.resize_now(size);
            }
        }
    }

    fn start_resize(&mut self, new_size: usize) {
        if new_size == self.tables[0].size() {
            return;
        }
        self.tables[1] = Table::with_size(new_size);
        self.rehash_idx = Some(0);
    }

    /// Migrates one bucket (visiting at most a few empty ones). Returns true while still rehashing.
    pub fn rehash_step(&mut self) -> bool {
        self.rehash(1)
    }

    /// Migrates up to `n` buckets of table 0 into table 1.
    pub fn rehash(&mut self, n: usize) -> bool {
        let Some(mut idx) = self.rehash_idx else {
            return false;
        };
        let mut empty_visits = n * REHASH_EMPTY_VISITS;
        let mut moved = 0;
        let (t0, t1) = self.tables.split_at_mut(1);
        let (t0, t1) = (&mut t0[0], &mut t1[0]);
        while moved < n && t0.used > 0 {
            while t0.buckets[idx].is_null() {
                idx += 1;
                empty_visits -= 1;
                if empty_visits == 0 {
                    self.rehash_idx = Some(idx);
                    return true;
                }
            }
            // SAFETY: the bucket's chain is live and owned; its cell is cleared just below.
            t0.used -= unsafe { Self::move_chain(&self.hasher, t0.buckets[idx], t1) };
            t0.buckets[idx] = ptr::null_mut();
            idx += 1;
            moved += 1;
        }
        if t0.used == 0 {
            self.tables[0] = std::mem::replace(&mut self.tables[1], Table::empty());
            self.rehash_idx = None;
            // Deletions during the resize may have left the new table sparse already.
            self.shrink_if_needed();
            return self.rehash_idx.is_some();
        }
        self.rehash_idx = Some(idx);
        true
    }

    /// A uniformly random non-empty bucket, then a uniformly random entry of its chain.
    pub fn random_entry(&self, rng: &mut Rng) -> Option<&Entry> {
        if self.is_empty() {
            return None;
        }
        let bucket = loop {
            let p = match self.rehash_idx {
                Some(ri) => {
                    let s0 = self.tables[0].size();
                    let span = s0 + self.tables[1].size() - ri;
                    let h = ri + rng.below(span as u64) as usize;
                    if h >= s0 {
                        self.tables[1].buckets[h - s0]
                    } else {
                        self.tables[0].buckets[h]
                    }
                }
                None => self.tables[0].buckets[rng.next_u64() as usize & self.tables[0].mask()],
            };
            if !p.is_null() {
                break p;
            }
        };
        // SAFETY: `bucket` is the head of a live chain; cells are next fields of owned entries.
        unsafe {
            let mut len = 0u64;
            let mut p = bucket;
            while !p.is_null() {
                len += 1;
                p = *Entry::next_slot(p);
            }
            let mut cell: *const *mut u8 = Entry::next_slot(bucket);
            let mut pick = rng.below(len);
            if pick == 0 {
                // The head lives in a bucket cell; re-find it through its key.
                return self.get(Entry::peek(bucket).key());
            }
            while pick > 1 {
                cell = Entry::next_slot(*cell);
                pick -= 1;
            }
            Some(Entry::from_cell(cell))
        }
    }

    /// Up to `count` entries from consecutive buckets starting at a random one (Redis
    /// dictGetSomeKeys): cheap sampling for eviction. Keys are passed to `f`.
    pub fn sample(&self, rng: &mut Rng, count: usize, mut f: impl FnMut(&Entry)) {
        if self.is_empty() || count == 0 {
            return;
        }
        let count = count.min(self.len());
        let mut max_steps = count * 10;
        let mut got = 0;
        let tables = self.tables_to_search();
        let max_mask = self.tables[0].mask().max(if tables == 2 {
            self.tables[1].mask()
        } else {
            0
        });
        let mut i = rng.next_u64() as usize & max_mask;
        let mut empty_run = 0;
        while got < count && max_steps > 0 {
            max_steps -= 1;
            for t in 0..tables {
                let table = &self.tables[t];
                if t == 0 {
                    if let Some(ri) = self.rehash_idx {
                        if i < ri {
                            // Already migrated; jump to the first live bucket of table 0 if the
                            // index also lies beyond table 1.
                            if i >= self.tables[1].size() {
                                i = ri;
                            }
                            continue;
                        }
                    }
                }
                if i >= table.size() {
                    continue;
                }
                let head: *const *mut u8 = &table.buckets[i];
                // SAFETY: bucket cell of a live table.
                if unsafe { (*head).is_null() } {
                    empty_run += 1;
                    if empty_run >= 5 && empty_run > count {
                        i = rng.next_u64() as usize & max_mask;
                        empty_run = 0;
                    }
                    continue;
                }
                empty_run = 0;
                let mut cell = head;
                // SAFETY: walking cells of a live chain.
                unsafe {
                    while !(*cell).is_null() && got < count {
                        f(Entry::from_cell(cell));
                        got += 1;
                        cell = Entry::next_slot(*cell);
                    }
                }
            }
            i = (i + 1) & max_mask;
        }
    }

    fn visit_chain(head: &*mut u8, f: &mut impl FnMut(&Entry)) {
        let mut cell: *const *mut u8 = head;
        // SAFETY: walking cells of a live chain; `f` only gets shared access.
        unsafe {
            while !(*cell).is_null() {
                f(Entry::from_cell(cell));
                cell = Entry::next_slot(*cell);
            }
        }
    }

    /// One SCAN step: visits the bucket(s) named by `cursor` and returns the next cursor (0 when
    /// the iteration is complete). Port of Redis's dictScan.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Entry)) -> u64 {
        // SAFETY: every pointer handed out is a live entry; the view is never dropped.
        self.scan_cells(cursor, |p| f(&*unsafe { Entry::peek(p) }))
    }

    /// Up to `steps` SCAN steps from `cursor` in one call, with mutable access to each entry (the
    /// capture marks its entries as it goes): the same entries in the same order as that many
    /// `scan` calls, returning the cursor after them (0 when the iteration is complete). For a
    /// full walk (the capture of a background save), this is what
    /// costs: SCAN's cursor order jumps around the bucket array, so each bucket and each entry is
    /// a cache miss, and one step at a time they are paid one after the other. Here the buckets of
    /// the next steps and then their first entries are prefetched before they are visited, so the
    /// misses overlap. (While the table is being resized, it falls back to plain steps.)
    pub(crate) fn scan_mut_batch(
        &mut self,
        cursor: u64,
        steps: usize,
        mut f: impl FnMut(&mut Entry),
    ) -> u64 {
        /// Pipeline distance: a bucket is prefetched `2 * AHEAD` steps before it is visited and
        /// its first entry `AHEAD` steps before.
        const AHEAD: usize = 8;
        const RING: usize = 2 * AHEAD;
        if self.is_empty() {
            return 0;
        }
        if self.rehash_idx.is_some() {
            let mut v = cursor;
            for _ in 0..steps {
                // SAFETY: as in `scan`; &mut self gives exclusive access, and through a
                // non-owning view `f` can change an entry's flags but not unlink or free it.
                v = self.scan_cells(v, |p| f(&mut *unsafe { Entry::peek(p) }));
                if v == 0 {
                    break;
                }
            }
            return v;
        }
        let t0 = &self.tables[0];
        let m0 = t0.mask();
        let buckets = &t0.buckets;
        let mut ring = [0usize; RING];
        let (mut produced, mut visited) = (0usize, 0usize);
        let mut next = cursor as usize;
        let mut exhausted = false;
        loop {
            while !exhausted && produced < steps && produced - visited < RING {
                ring[produced % RING] = next;
                prefetch(&buckets[next & m0] as *const *mut u8 as *const u8);
                produced += 1;
                next = next_cursor(next, m0);
                exhausted = next == 0;
            }
            if visited == produced {
                break;
            }
            if visited + AHEAD < produced {
                prefetch_entry(buckets[ring[(visited + AHEAD) % RING] & m0]);
            }
            let mut p = buckets[ring[visited % RING] & m0];
            while !p.is_null() {
                // SAFETY: as above; the link is read before `f` sees the entry.
                let mut entry = unsafe { Entry::peek(p) };
                let following = entry.next();
                prefetch_entry(following);
                f(&mut entry);
                p = following;
            }
            visited += 1;
        }
        next as u64
    }

    fn scan_cells(&self, cursor: u64, mut f: impl FnMut(*mut u8)) -> u64 {
        if self.is_empty() {
            return 0;
        }
        let mut v = cursor as usize;
        if self.rehash_idx.is_none() {
            let t0 = &self.tables[0];
            let m0 = t0.mask();
            Self::visit_cells(&t0.buckets[v & m0], &mut f);
            v = next_cursor(v, m0);
        } else {
            let (small, large) = if self.tables[0].size() <= self.tables[1].size() {
                (&self.tables[0], &self.tables[1])
            } else {
                (&self.tables[1], &self.tables[0])
            };
            let m0 = small.mask();
            let m1 = large.mask();
            Self::visit_cells(&small.buckets[v & m0], &mut f);
            loop {
                Self::visit_cells(&large.buckets[v & m1], &mut f);
                v = next_cursor(v, m1);
                if v & (m0 ^ m1) == 0 {
                    break;
                }
            }
        }
        v as u64
    }

    /// Hands each entry pointer of one chain to `f`.
    fn visit_cells(head: &*mut u8, f: &mut impl FnMut(*mut u8)) {
        let mut p = *head;
        while !p.is_null() {
            // SAFETY: `p` is a live entry of this chain; read its link before `f` sees it.
            let next = unsafe { Entry::peek(p) }.next();
            f(p);
            p = next;
        }
    }

    /// Visits every entry (KEYS, snapshots). The dict cannot change during the walk.
    pub fn for_each(&self, mut f: impl FnMut(&Entry)) {
        for t in 0..self.tables_to_search() {
            for head in self.tables[t].buckets.iter() {
                Self::visit_chain(head, &mut f);
            }
        }
    }

    /// Removes every entry, returning them as a detached dict so the caller may free them on
    /// another thread (FLUSHALL ASYNC).
    pub fn take_all(&mut self) -> Dict {
        let seed_state = self.hasher.clone();
        std::mem::replace(
            self,
            Dict {
                tables: [Table::empty(), Table::empty()],
                rehash_idx: None,
                hasher: seed_state,
            },
        )
    }
}

impl Drop for Dict {
    fn drop(&mut self) {
        for t in 0..2 {
            for head in self.tables[t].buckets.iter_mut() {
                let mut p = std::mem::replace(head, ptr::null_mut());
                while !p.is_null() {
                    // SAFETY: each entry is owned exactly once by the chain; freed once here.
                    let e = unsafe { Entry::from_raw(p) };
                    p = e.next();
                    drop(e);
                }
            }
        }
    }
}

/// The table size step-by-step growth ends at for `entries` entries (None if too big): the table
/// grows when an insert finds `used >= size`, so `n` entries fit in `n.next_power_of_two()`
/// buckets.
fn grown_size(entries: usize) -> Option<usize> {
    entries.max(INITIAL_SIZE).checked_next_power_of_two()
}

/// The SCAN cursor after `v` in a table of `mask + 1` buckets: the bucket index incremented in
/// reverse-binary order (the bits outside the mask are set first, so the carry passes through
/// them into the bucket bits).
#[inline(always)]
fn next_cursor(v: usize, mask: usize) -> usize {
    (v | !mask).reverse_bits().wrapping_add(1).reverse_bits()
}

/// Prefetches an entry (null is ignored): its first line, and the next one when a typical entry
/// straddles the boundary.
#[inline(always)]
fn prefetch_entry(p: *mut u8) {
    if !p.is_null() {
        prefetch(p);
        prefetch(p.wrapping_add(crate::entry::TYPICAL_ENTRY_BYTES - 1));
    }
}

/// Asks the CPU to start loading the cache line holding `p` (a hint: never faults, whatever `p`).
#[inline(always)]
fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint and never dereferences `p` architecturally; SSE is part
    // of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(p as *const i8);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::NewValue;
    use std::collections::HashSet;

    fn e(k: &str) -> Entry {
        Entry::new(k.as_bytes(), NewValue::Inline(b"v"), None, 0)
    }

    #[test]
    fn reserve_sizes_the_table_once_and_keeps_every_entry() {
        // Into an empty table: no resize while the reserved entries go in.
        let mut d = Dict::new(3);
        d.reserve(1000);
        let size = d.bucket_count();
        assert_eq!(size, 1024);
        for i in 0..1000 {
            d.insert_new(e(&format!("k{i}")));
        }
        assert_eq!(d.bucket_count(), size);
        assert!(d.rehash_idx.is_none());
        // Into a table in the middle of a resize: the resize is finished, nothing is lost.
        let mut d = Dict::new(4);
        for i in 0..1025 {
            d.insert_new(e(&format!("k{i}")));
        }
        assert!(d.rehash_idx.is_some());
        d.reserve(3000);
        assert!(d.rehash_idx.is_none());
        assert_eq!(d.bucket_count(), 4096);
        assert_eq!(d.len(), 1025);
        for i in 0..1025 {
            assert!(d.get(format!("k{i}").as_bytes()).is_some(), "k{i}");
        }
        // Reserved for far more than came: shrunk back at once.
        let mut d = Dict::new(5);
        d.reserve(100_000);
        d.insert_new(e("only"));
        d.shrink_to_fit();
        assert!(d.bucket_count() <= 8, "{}", d.bucket_count());
        assert!(d.get(b"only").is_some());
        // Reserved for 5x what came (more than an eighth full): the size growth would give.
        let mut d = Dict::new(6);
        d.reserve(1000);
        for i in 0..200 {
            d.insert_new(e(&format!("k{i}")));
        }
        d.shrink_to_fit();
        assert!(d.rehash_idx.is_none());
        assert_eq!(d.bucket_count(), 256);
        assert_eq!(d.len(), 200);
        for i in 0..200 {
            assert!(d.get(format!("k{i}").as_bytes()).is_some(), "k{i}");
        }
        // Already the growth size: left alone.
        d.shrink_to_fit();
        assert_eq!(d.bucket_count(), 256);
    }

    #[test]
    fn insert_get_remove_across_resizes() {
        let mut d = Dict::new(1);
        for i in 0..5000 {
            d.insert_new(e(&format!("k{i}")));
        }
        assert_eq!(d.len(), 5000);
        for i in 0..5000 {
            assert!(d.get(format!("k{i}").as_bytes()).is_some(), "k{i}");
        }
        for i in 0..4990 {
            assert!(d.remove(format!("k{i}").as_bytes()).is_some());
        }
        assert_eq!(d.len(), 10);
        while d.rehash(100) {}
        assert!(d.bucket_count() <= 64, "shrunk: {}", d.bucket_count());
        for i in 4990..5000 {
            assert!(d.get_mut(format!("k{i}").as_bytes()).is_some());
        }
        assert!(d.get(b"k1").is_none());
    }

    #[test]
    fn replace_keeps_chain() {
        let mut d = Dict::new(2);
        for i in 0..100 {
            d.insert_new(e(&format!("k{i}")));
        }
        let old = d
            .replace(Entry::new(b"k50", NewValue::Inline(b"new"), Some(5), 0))
            .unwrap();
        assert_eq!(old.value().as_str(), Some(&b"v"[..]));
        assert_eq!(d.get(b"k50").unwrap().value().as_str(), Some(&b"new"[..]));
        for i in 0..100 {
            assert!(d.get(format!("k{i}").as_bytes()).is_some());
        }
    }

    #[test]
    fn batched_scan_visits_what_single_steps_visit_in_the_same_order() {
        let mut d = Dict::new(4);
        for i in 0..3000 {
            d.insert_new(e(&format!("k{i}")));
        }
        // Not resizing: the prefetching walk of a single table.
        while d.rehash(REHASH_BATCH) {}
        assert!(d.rehash_idx.is_none());
        for resizing in [false, true] {
            if resizing {
                // Mid-resize: both tables hold entries.
                for i in 3000..6000 {
                    d.insert_new(e(&format!("k{i}")));
                }
                assert!(d.rehash_idx.is_some());
            }
            let mut single = Vec::new();
            let mut cursor = 0;
            loop {
                cursor = d.scan(cursor, |e| single.push(e.key().to_vec()));
                if cursor == 0 {
                    break;
                }
            }
            for steps in [1, 7, 16, 33, 1000] {
                let mut batched = Vec::new();
                let mut cursor = 0;
                loop {
                    cursor = d.scan_mut_batch(cursor, steps, |e| batched.push(e.key().to_vec()));
                    if cursor == 0 {
                        break;
                    }
                }
                assert_eq!(batched, single, "steps {steps}, resizing {resizing}");
            }
            assert_eq!(single.len(), d.len());
        }
    }

    #[test]
    fn scan_returns_every_stable_key_while_growing_and_shrinking() {
        let mut d = Dict::new(3);
        for i in 0..1000 {
            d.insert_new(e(&format!("stable{i}")));
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0;
        loop {
            cursor = d.scan(cursor, |e| {
                seen.insert(e.key().to_vec());
            });
            round += 1;
            // Churn: grow then shrink while scanning.
            if round % 3 == 0 && round < 300 {
                for j in 0..50 {
                    d.insert_new(e(&format!("tmp{round}-{j}")));
                }
            }
            if round % 5 == 0 {
                let victims: Vec<Vec<u8>> = {
                    let mut v = Vec::new();
                    d.for_each(|e| {
                        if e.key().starts_with(b"tmp") && v.len() < 40 {
                            v.push(e.key().to_vec())
                        }
                    });
                    v
                };
                for k in victims {
                    d.remove(&k);
                }
            }
            d.rehash_step();
            if cursor == 0 {
                break;
            }
        }
        for i in 0..1000 {
            assert!(
                seen.contains(format!("stable{i}").as_bytes()),
                "missed stable{i}"
            );
        }
    }

    #[test]
    fn random_and_sample_find_entries() {
        let mut d = Dict::new(4);
        let mut rng = Rng::new(9);
        assert!(d.random_entry(&mut rng).is_none());
        for i in 0..300 {
            d.insert_new(e(&format!("k{i}")));
        }
        let mut distinct = HashSet::new();
        for _ in 0..2000 {
            distinct.insert(d.random_entry(&mut rng).unwrap().key().to_vec());
        }
        assert!(
            distinct.len() > 250,
            "random covers keys: {}",
            distinct.len()
        );
        let mut n = 0;
        d.sample(&mut rng, 16, |_| n += 1);
        assert_eq!(n, 16);
    }

    #[test]
    fn find_by_hash_matches_predicate() {
        let mut d = Dict::new(5);
        for i in 0..50 {
            d.insert_new(Entry::new(
                format!("k{i}").as_bytes(),
                NewValue::Inline(b"v"),
                Some(i),
                0,
            ));
        }
        let h = d.hash(b"k7");
        let found = d.find_by_hash(h, |e| e.expire() == Some(7)).unwrap();
        assert_eq!(found.key(), b"k7");
        assert!(d.find_by_hash(h, |e| e.expire() == Some(8)).is_none());
    }
}

#[cfg(test)]
mod model_tests {
    use super::*;
    use crate::entry::NewValue;
    use std::collections::HashSet;

    /// Walks every chain: each entry reachable once, counts match the used fields.
    fn check(d: &Dict) {
        let mut seen = HashSet::new();
        for t in 0..2 {
            let mut n = 0;
            for (i, head) in d.tables[t].buckets.iter().enumerate() {
                if t == 0 {
                    if let Some(ri) = d.rehash_idx {
                        assert!(i >= ri || head.is_null(), "migrated bucket {i} not empty");
                    }
                }
                let mut p = *head;
                while !p.is_null() {
                    assert!(seen.insert(p as usize), "entry linked twice");
                    n += 1;
                    p = unsafe { *Entry::next_slot(p) };
                }
            }
            assert_eq!(n, d.tables[t].used, "table {t} used count");
        }
    }

    #[test]
    fn random_operations_keep_structure() {
        let mut rng = Rng::new(42);
        let mut d = Dict::new(7);
        let mut model = HashSet::new();
        for step in 0..20_000 {
            let k = format!("k{}", rng.below(600));
            match rng.below(3) {
                0 | 1 => {
                    if !model.contains(&k) {
                        d.insert_new(Entry::new(k.as_bytes(), NewValue::Inline(b"v"), None, 0));
                        model.insert(k);
                    }
                }
                _ => {
                    assert_eq!(
                        d.remove(k.as_bytes()).is_some(),
                        model.remove(&k),
                        "step {step}"
                    );
                }
            }
            if step % 16 == 0 {
                check(&d);
            }
            assert_eq!(d.len(), model.len());
        }
    }

    /// Measurement behind the capture's clock-check interval (`CHECK_EVERY` in the commands
    /// crate): the cost of walking 2M small keys 64 entries at a time with `scan_mut_batch`, at
    /// rest (prefetching) and half-way through a resize (plain SCAN steps). It prints, it does
    /// not assert. Run: `cargo test --release -p ringkv-engine scan_cost -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn scan_cost_per_64_entries_at_rest_and_while_resizing() {
        use std::time::{Duration, Instant};
        let entry = |i: usize| {
            let key = format!("key:{i}");
            Entry::new(
                key.as_bytes(),
                NewValue::Inline(b"0123456789abcdef"),
                None,
                0,
            )
        };
        let n = 2_000_000;
        let mut d = Dict::new(3);
        d.reserve(n);
        for i in 0..n {
            d.insert_new(entry(i));
        }
        for resizing in [false, true] {
            if resizing {
                let mut i = n;
                while d.rehash_idx.is_none() {
                    d.insert_new(entry(i));
                    i += 1;
                }
                d.rehash(d.bucket_count() / 4);
            }
            let (mut cursor, mut total, mut worst, mut batches) =
                (0, Duration::ZERO, Duration::ZERO, 0);
            loop {
                let start = Instant::now();
                let mut visited = 0;
                while visited < 64 {
                    cursor = d.scan_mut_batch(cursor, 64 - visited, |_| visited += 1);
                    if cursor == 0 {
                        break;
                    }
                }
                let took = start.elapsed();
                total += took;
                worst = worst.max(took);
                batches += 1;
                if cursor == 0 {
                    break;
                }
            }
            eprintln!(
                "resizing {resizing}: {batches} batches of 64, {:?} in all, {:?} on average, worst {worst:?}",
                total,
                total / batches
            );
        }
    }
}
