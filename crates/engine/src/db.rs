//! One logical database (SELECT n): the dict of entries plus the deadline-ordered expiry index,
//! and `DbRef`, the view commands use to read and change it.
//!
//! Every access goes through `DbRef` so that the rules Redis users rely on hold in one place:
//! - lazy expiry: a key past its deadline is deleted on access and never returned;
//! - read lookups count keyspace hits/misses and refresh the LRU/LFU clock;
//! - every mutation keeps the expiry index equal to the set of entries with a TTL, and bumps
//!   `dirty` (changes since the last save) and the per-key modification hooks.

use crate::dict::Dict;
use crate::entry::{Entry, NewValue, ValueRef};
use crate::expire_index::ExpireIndex;
use crate::lru::{self, ClockKind};
use crate::store::Common;
use crate::store::PolicyClock;
use crate::value::Value;

/// The value of an operation that found a key of another type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrongType;

/// What to do with the TTL of a key being overwritten.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Remove any TTL (plain SET).
    Persist,
    /// Keep the current TTL (SET KEEPTTL, APPEND, INCR...).
    Keep,
    /// Expire at this absolute unix time in milliseconds.
    At(i64),
}

/// A value detached from its key (RENAME, MOVE, COPY, GETDEL).
#[derive(Debug, Clone, PartialEq)]
pub struct Detached {
    pub value: Value,
    pub expire: Option<i64>,
}

pub struct Db {
    pub(crate) dict: Dict,
    pub(crate) expires: ExpireIndex,
    /// Where a running point-in-time capture is in this database (see `capture`).
    pub(crate) capture: crate::capture::CaptureCursor,
}

impl Db {
    pub(crate) fn new(seed: u64) -> Db {
        Db {
            dict: Dict::new(seed),
            expires: ExpireIndex::default(),
            capture: Default::default(),
        }
    }

    pub fn len(&self) -> usize {
        self.dict.len()
    }

    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// Bucket slots of the key table (memory accounting, tests).
    pub fn bucket_count(&self) -> usize {
        self.dict.bucket_count()
    }

    pub fn expires_len(&self) -> usize {
        self.expires.len()
    }

    /// Detaches all entries (FLUSHDB); the returned dict may be dropped on another thread.
    pub(crate) fn take_all(&mut self) -> Dict {
        self.expires.clear();
        self.dict.take_all()
    }
}

/// Mutable access to one entry found by `DbRef::entry_mut`. Deliberately narrow: the entry's
/// key, expiry and chain link can only change through `DbRef`, which keeps the indexes right.
pub struct EntryMut<'a>(&'a mut Entry);

impl<'a> EntryMut<'a> {
    pub fn key(&self) -> &[u8] {
        self.0.key()
    }

    pub fn value(&self) -> ValueRef<'_> {
        self.0.value()
    }

    pub fn expire(&self) -> Option<i64> {
        self.0.expire()
    }

    /// The boxed value (None for an inline string).
    pub fn object_mut(self) -> Option<&'a mut Value> {
        self.0.object_mut()
    }
}

/// One database together with the keyspace-wide state its operations update.
pub struct DbRef<'a> {
    /// Which database this is (for WATCH and blocking registries).
    pub(crate) index: usize,
    pub(crate) db: &'a mut Db,
    pub(crate) c: &'a mut Common,
}

impl<'a> DbRef<'a> {
    pub fn now_ms(&self) -> i64 {
        self.c.now_ms
    }

    /// Sizes the key table for `additional` more keys at once (bulk loading; see
    /// `Dict::reserve`).
    pub fn reserve(&mut self, additional: usize) {
        self.db.dict.reserve(additional);
    }

    /// Gives back a key table reserved for more keys than came (see `Dict::shrink_to_fit`).
    pub fn shrink_to_fit(&mut self) {
        self.db.dict.shrink_to_fit();
    }

    /// This database's index.
    pub fn index(&self) -> usize {
        self.index
    }

    /// Raises a keyspace notification (Redis notifyKeyspaceEvent) of `class`
    /// (`ringkv_config::notify::*`) if `notify-keyspace-events` enables it. Costs one branch when
    /// notifications are off.
    pub fn notify(&mut self, class: u32, event: &'static str, key: &[u8]) {
        let flags = self.c.notify_flags;
        if flags & class != 0
            && flags & (ringkv_config::notify::KEYSPACE | ringkv_config::notify::KEYEVENT) != 0
        {
            self.c.events.push(crate::store::KeyEvent {
                class,
                event,
                db: self.index,
                key: key.to_vec(),
            });
        }
    }

    /// Whether write effects are being logged (AOF on): handlers that log a replacement skip the
    /// work of building it otherwise.
    pub fn logging(&self) -> bool {
        self.c.oplog.is_enabled()
    }

    /// Logs the deterministic form of what the running command did in this database, instead of
    /// the command itself (see `oplog`). May be called several times.
    pub fn log_effect<'b, I>(&mut self, args: I)
    where
        I: IntoIterator<Item = &'b [u8]>,
        I::IntoIter: ExactSizeIterator,
    {
        self.c.oplog.replace_command(self.index, args);
    }

    /// The running command logs nothing by itself: only what it passes to `log_effect`.
    pub fn log_suppress(&mut self) {
        self.c.oplog.suppress();
    }

    /// `stream-node-max-entries` / `stream-node-max-bytes`.
    pub fn stream_limits(&self) -> crate::types::stream::NodeLimits {
        self.c.stream_limits
    }

    /// The keyspace's seeded random generator (SPOP, SRANDMEMBER, HRANDFIELD ...).
    pub fn rng(&mut self) -> &mut crate::rng::Rng {
        &mut self.c.rng
    }

    pub fn len(&self) -> usize {
        self.db.len()
    }

    pub fn is_empty(&self) -> bool {
        self.db.is_empty()
    }

    pub fn expires_len(&self) -> usize {
        self.db.expires_len()
    }

    fn initial_clock(&self) -> u32 {
        match self.c.eviction.policy.clock_kind() {
            ClockKind::Lfu => lru::lfu_initial(self.c.now_ms),
            ClockKind::Lru | ClockKind::Fifo => lru::lru_clock(self.c.now_ms),
        }
    }

    fn touch(c: &mut Common, e: &mut Entry) {
        if c.no_touch {
            return;
        }
        match c.eviction.policy.clock_kind() {
            ClockKind::Lru => e.set_clock(lru::lru_clock(c.now_ms)),
            ClockKind::Lfu => {
                let clock = lru::lfu_touch(
                    e.clock(),
                    c.now_ms,
                    c.eviction.lfu_log_factor,
                    c.eviction.lfu_decay_time,
                    &mut c.rng,
                );
                e.set_clock(clock)
            }
            ClockKind::Fifo => {}
        }
    }

    /// Finds a live entry: deletes it first if it has expired. `touch` refreshes its clock.
    fn live_entry(&mut self, key: &[u8], touch: bool) -> Option<&mut Entry> {
        let now = self.c.now_ms;
        // One lookup: the pointer stands in for a borrow the checker cannot express across the
        // expired branch (which must mutate the dict).
        let e: *mut Entry = self.db.dict.get_mut(key)?;
        // SAFETY: `e` points into `self.db.dict`, which nothing touches until it is used below
        // or the entry is deleted (after which `e` is not used again).
        let expired = matches!(unsafe { &*e }.expire(), Some(at) if at <= now);
        if expired {
            self.delete_expired(key);
            return None;
        }
        // SAFETY: as above; the returned borrow is tied to `&mut self`.
        let e = unsafe { &mut *e };
        if touch {
            Self::touch(self.c, e);
        }
        Some(e)
    }

    /// Copy-on-write for a running capture: duplicates the entry before it changes in place, if
    /// the capture still needs its current state.
    fn preserve(c: &mut Common, origin: usize, e: &mut Entry) {
        if c.capture.wants(e) {
            let parity = c.capture.parity;
            let copy = e.duplicate();
            e.set_capture_mark(parity);
            c.capture.preserved.push((origin, copy));
            c.capture.preserved_total += 1;
        }
    }

    /// Drops an entry that left the keyspace, or hands it to a running capture that still needs it
    /// (a move, not a copy).
    fn discard(&mut self, e: Entry) {
        if self.c.capture.wants(&e) {
            self.c.capture.preserved.push((self.db.capture.origin, e));
            self.c.capture.preserved_total += 1;
        }
    }

    /// A live entry about to be changed in place (preserved first for a running capture).
    fn live_entry_for_write(&mut self, key: &[u8]) -> Option<&mut Entry> {
        let origin = self.db.capture.origin;
        let e: *mut Entry = self.live_entry(key, true)?;
        // SAFETY: `e` points into `self.db.dict`, which `preserve` does not touch.
        let e = unsafe { &mut *e };
        Self::preserve(self.c, origin, e);
        Some(e)
    }

    /// Marks a newly created entry as not part of a running capture.
    fn stamp(&self, e: &mut Entry) {
        e.set_capture_mark(self.c.capture.parity);
    }

    /// Removes a key's entry and expiry record and discards it (see `discard`).
    fn delete_entry(&mut self, key: &[u8]) -> bool {
        match self.remove_entry(key) {
            Some(e) => {
                self.discard(e);
                true
            }
            None => false,
        }
    }

    fn delete_expired(&mut self, key: &[u8]) {
        if self.delete_entry(key) {
            self.c.oplog.deleted(self.index, key);
            self.c.stats.expired_keys += 1;
            if !self.c.watches.is_empty() {
                self.c.watches.touch(self.index, key);
            }
            self.notify(ringkv_config::notify::EXPIRED, "expired", key);
        }
    }

    /// Removes an entry and its expiry record; does not count as a user deletion.
    fn remove_entry(&mut self, key: &[u8]) -> Option<Entry> {
        let e = self.db.dict.remove(key)?;
        if let Some(at) = e.expire() {
            let h = self.db.dict.hash(key);
            self.db.expires.remove(at, h);
        }
        Some(e)
    }

    /// Read lookup (GET and friends): counts a hit or miss and refreshes the access clock.
    pub fn get(&mut self, key: &[u8]) -> Option<ValueRef<'_>> {
        let found = self.live_entry(key, true).map(|e| e as *const Entry);
        match found {
            Some(e) => {
                self.c.stats.keyspace_hits += 1;
                // SAFETY: the entry lives in self.db for the returned borrow of self.
                Some(unsafe { &*e }.value())
            }
            None => {
                self.c.stats.keyspace_misses += 1;
                None
            }
        }
    }

    /// Lookup without statistics or clock refresh (TYPE, OBJECT, TTL, internal checks), still
    /// honouring (and applying) expiry.
    pub fn peek(&mut self, key: &[u8]) -> Option<&Entry> {
        self.live_entry(key, false).map(|e| &*e)
    }

    /// Whether the key exists (after lazy expiry). Counts as a read like Redis's EXISTS.
    pub fn exists(&mut self, key: &[u8]) -> bool {
        let found = self.live_entry(key, false).is_some();
        if found {
            self.c.stats.keyspace_hits += 1;
        } else {
            self.c.stats.keyspace_misses += 1;
        }
        found
    }

    /// Write lookup: no hit/miss statistics, refreshes the clock.
    pub fn entry_mut(&mut self, key: &[u8]) -> Option<EntryMut<'_>> {
        self.live_entry_for_write(key).map(EntryMut)
    }

    /// The key's type name, or None if absent.
    pub fn type_of(&mut self, key: &[u8]) -> Option<&'static str> {
        self.peek(key).map(|e| e.value().type_name())
    }

    fn index_expire_change(&mut self, key: &[u8], old: Option<i64>, new: Option<i64>) {
        if old == new {
            return;
        }
        let h = self.db.dict.hash(key);
        if let Some(at) = old {
            self.db.expires.remove(at, h);
        }
        if let Some(at) = new {
            self.db.expires.add(at, h);
        }
    }

    fn after_write(&mut self, key: &[u8]) {
        self.signal_modified(key, 1);
    }

    /// Records that `key` was changed by a command that mutated its value in place (through
    /// `entry_mut`/`value_mut_or_insert`): counts `changes` towards `dirty` (save rules) and is the
    /// single hook for WATCH invalidation, blocked-client wake-ups and change recording. Operations of this type that
    /// replace or delete keys call it themselves.
    pub fn signal_modified(&mut self, key: &[u8], changes: u64) {
        self.c.dirty += changes;
        if !self.c.watches.is_empty() {
            self.c.watches.touch(self.index, key);
        }
        if !self.c.blocking.is_empty() {
            self.c.blocking.signal(self.index, key);
        }
        if self.c.changes.is_recording() {
            self.c.changes.record(self.index, key);
        }
    }

    /// The value of `key` for a write to a collection: the existing boxed value, or a new one made
    /// by `make` if the key is absent. Inline strings give `WrongType`; other mismatches are for the
    /// caller to detect when it matches on the variant. Call `signal_modified` after changing it and
    /// `remove_if_empty` after removing elements.
    pub fn value_mut_or_insert(
        &mut self,
        key: &[u8],
        make: impl FnOnce() -> Value,
    ) -> Result<&mut Value, WrongType> {
        if self.live_entry_for_write(key).is_none() {
            self.put(key, NewValue::Object(Box::new(make())), Ttl::Persist);
        }
        self.db
            .dict
            .get_mut(key)
            .and_then(|e| e.object_mut())
            .ok_or(WrongType)
    }

    /// Deletes the key if it holds an empty collection. Returns whether it was deleted.
    pub fn remove_if_empty(&mut self, key: &[u8]) -> bool {
        let empty = match self.db.dict.get(key) {
            Some(e) => matches!(e.value(), ValueRef::Obj(v) if v.is_empty_collection()),
            None => false,
        };
        if empty {
            self.delete_entry(key);
            self.after_write(key);
        }
        empty
    }

    fn put(&mut self, key: &[u8], value: NewValue<'_>, ttl: Ttl) {
        let existing: Option<*mut Entry> = self.live_entry(key, false).map(|e| e as *mut Entry);
        match existing {
            Some(ep) => {
                // SAFETY: `ep` points at the live entry in `self.db.dict`; the dict is not
                // modified until the `replace` below, after the last use of `ep`.
                let old = unsafe { &*ep }.expire();
                let new_expire = match ttl {
                    Ttl::Persist => None,
                    Ttl::Keep => old,
                    Ttl::At(at) => Some(at),
                };
                // Fast path: same-length inline overwrite with unchanged expiry presence.
                if let NewValue::Inline(v) = &value {
                    if old.is_some() == new_expire.is_some() {
                        // SAFETY: as above.
                        let e = unsafe { &mut *ep };
                        if self.c.capture.is_active()
                            && matches!(e.inline_mut(), Some(b) if b.len() == v.len())
                        {
                            Self::preserve(self.c, self.db.capture.origin, e);
                        }
                        if let Some(bytes) = e.inline_mut() {
                            if bytes.len() == v.len() {
                                bytes.copy_from_slice(v);
                                if let Some(at) = new_expire {
                                    e.overwrite_expire(at);
                                }
                                Self::touch(self.c, e);
                                self.index_expire_change(key, old, new_expire);
                                self.after_write(key);
                                return;
                            }
                        }
                    }
                }
                // SAFETY: as above.
                let mut fresh = unsafe { &*ep }.rebuild(value, new_expire);
                Self::touch(self.c, &mut fresh);
                self.stamp(&mut fresh);
                if let Some(previous) = self.db.dict.replace(fresh) {
                    self.discard(previous);
                }
                self.index_expire_change(key, old, new_expire);
            }
            None => {
                let expire = match ttl {
                    Ttl::At(at) => Some(at),
                    Ttl::Persist | Ttl::Keep => None,
                };
                let mut entry = Entry::new(key, value, expire, self.initial_clock());
                self.stamp(&mut entry);
                self.db.dict.insert_new(entry);
                self.index_expire_change(key, None, expire);
            }
        }
        self.after_write(key);
    }

    /// SET-like write of a string value.
    pub fn set_str(&mut self, key: &[u8], value: &[u8], ttl: Ttl) {
        self.put(key, NewValue::string(value), ttl);
    }

    /// Stores any value (collections are stored boxed; `Value::Str` may be inlined).
    pub fn set_value(&mut self, key: &[u8], value: Value, ttl: Ttl) {
        match value {
            Value::Str(s) if s.len() <= crate::entry::INLINE_STRING_MAX => {
                self.put(key, NewValue::Inline(&s), ttl)
            }
            other => self.put(key, NewValue::Object(Box::new(other)), ttl),
        }
    }

    /// The key's string as a growable buffer, converting an inline string to the out-of-line
    /// representation first (APPEND, SETRANGE, SETBIT). Ok(None) if the key is absent.
    pub fn string_mut(&mut self, key: &[u8]) -> Result<Option<&mut Vec<u8>>, WrongType> {
        let (inline, expire) = match self.live_entry_for_write(key) {
            None => return Ok(None),
            Some(e) => match e.value() {
                ValueRef::Obj(_) => return Err(WrongType),
                ValueRef::Str(_) => (e.is_inline(), e.expire()),
            },
        };
        if inline {
            let rebuilt = {
                let e = self.db.dict.get(key).expect("invariant: entry is live");
                let bytes = e.value().as_str().unwrap_or_default().to_vec();
                e.rebuild(NewValue::Object(Box::new(Value::Str(bytes))), expire)
            };
            drop(self.db.dict.replace(rebuilt));
        }
        self.after_write(key);
        match self.db.dict.get_mut(key).and_then(|e| e.object_mut()) {
            Some(Value::Str(s)) => Ok(Some(s)),
            _ => Err(WrongType),
        }
    }

    /// Deletes a key. Returns whether it existed (an expired key does not count).
    pub fn remove(&mut self, key: &[u8]) -> bool {
        if self.live_entry(key, false).is_none() {
            return false;
        }
        self.delete_entry(key);
        self.after_write(key);
        true
    }

    /// Removes the key and returns its value and expiry.
    pub fn take(&mut self, key: &[u8]) -> Option<Detached> {
        self.live_entry_for_write(key)?;
        let mut e = self.remove_entry(key)?;
        let expire = e.expire();
        let value = e.take_value();
        self.after_write(key);
        Some(Detached { value, expire })
    }

    /// Inserts a detached value under `key`, replacing whatever is there.
    pub fn put_detached(&mut self, key: &[u8], d: Detached) {
        let ttl = match d.expire {
            Some(at) => Ttl::At(at),
            None => Ttl::Persist,
        };
        self.set_value(key, d.value, ttl);
    }

    /// A copy of the key's value and expiry (COPY, DUMP-like uses).
    pub fn clone_value(&mut self, key: &[u8]) -> Option<Detached> {
        let e = self.live_entry(key, false)?;
        let value = match e.value() {
            ValueRef::Str(s) => Value::Str(s.to_vec()),
            ValueRef::Obj(v) => v.clone(),
        };
        Some(Detached {
            value,
            expire: e.expire(),
        })
    }

    /// The key's absolute expiry: Err(()) if the key does not exist, Ok(None) if it has no TTL.
    #[allow(clippy::result_unit_err)]
    pub fn expire_of(&mut self, key: &[u8]) -> Result<Option<i64>, ()> {
        self.peek(key).map(|e| e.expire()).ok_or(())
    }

    /// Sets (Some) or removes (None) the key's expiry. Returns false if the key does not exist.
    /// A deadline in the past deletes the key (counted as a deletion, as Redis does for EXPIRE).
    pub fn set_expire(&mut self, key: &[u8], at: Option<i64>) -> bool {
        // Preserved for a running capture only once it is known to change in place: a deleted
        // entry is moved to the capture by `delete_entry`, an unchanged one needs nothing.
        let old = match self.live_entry(key, true) {
            None => return false,
            Some(e) => e.expire(),
        };
        if let Some(t) = at {
            if t <= self.c.now_ms {
                self.delete_entry(key);
                self.after_write(key);
                return true;
            }
        }
        if old == at {
            self.after_write(key);
            return true;
        }
        let origin = self.db.capture.origin;
        let e = self.db.dict.get_mut(key).expect("invariant: entry is live");
        Self::preserve(self.c, origin, e);
        let in_place = match at {
            Some(t) => e.overwrite_expire(t),
            None => false,
        };
        if !in_place {
            // The expiry field's presence changes the layout: rebuild the entry around its value.
            let inline = e.is_inline();
            let clock = e.clock();
            let mut rebuilt = match e.take_value() {
                Value::Str(s) if inline => Entry::new(key, NewValue::Inline(&s), at, clock),
                other => Entry::new(key, NewValue::Object(Box::new(other)), at, clock),
            };
            self.stamp(&mut rebuilt);
            drop(self.db.dict.replace(rebuilt));
        }
        self.index_expire_change(key, old, at);
        self.after_write(key);
        true
    }

    /// A random live key (RANDOMKEY). Expired keys met on the way are deleted; if every sampled key
    /// is expired after many tries the last one is returned anyway (Redis does the same to bound work).
    pub fn random_key(&mut self) -> Option<Vec<u8>> {
        let mut tries = 0;
        loop {
            let (key, expired) = {
                let e = self.db.dict.random_entry(&mut self.c.rng)?;
                let expired = matches!(e.expire(), Some(at) if at <= self.c.now_ms);
                (e.key().to_vec(), expired)
            };
            tries += 1;
            if !expired || tries >= 100 {
                return Some(key);
            }
            self.delete_expired(&key);
        }
    }

    /// One SCAN step over this database; `f` sees live keys only. Expired keys met are deleted.
    pub fn scan(&mut self, cursor: u64, mut f: impl FnMut(&[u8], ValueRef<'_>)) -> u64 {
        let now = self.c.now_ms;
        let mut expired = Vec::new();
        let next = self.db.dict.scan(cursor, |e| {
            if matches!(e.expire(), Some(at) if at <= now) {
                expired.push(e.key().to_vec());
            } else {
                f(e.key(), e.value());
            }
        });
        for k in expired {
            self.delete_expired(&k);
        }
        next
    }

    /// Visits every live key (KEYS); expired keys are skipped but not deleted, as in Redis.
    pub fn for_each_live(&self, mut f: impl FnMut(&Entry)) {
        let now = self.c.now_ms;
        self.db.dict.for_each(|e| {
            if !matches!(e.expire(), Some(at) if at <= now) {
                f(e)
            }
        });
    }

    /// Counts one more incremental rehash step (for idle-time rehashing).
    pub fn rehash(&mut self, buckets: usize) -> bool {
        self.db.dict.rehash(buckets)
    }
}

#[cfg(test)]
mod tests {
    use crate::store::Store;
    use crate::value::Value;
    use crate::{Ttl, ValueRef};

    fn store() -> Store {
        let mut s = Store::new(2, 7);
        s.set_now(1_000_000);
        s
    }

    #[test]
    fn set_get_overwrite_and_stats() {
        let mut s = store();
        let mut db = s.db(0);
        assert!(db.get(b"a").is_none());
        db.set_str(b"a", b"1", Ttl::Persist);
        assert_eq!(db.get(b"a").and_then(|v| v.as_str()), Some(&b"1"[..]));
        db.set_str(b"a", b"2", Ttl::Persist); // in place
        db.set_str(b"a", b"333", Ttl::Persist); // rebuilt
        assert_eq!(db.get(b"a").and_then(|v| v.as_str()), Some(&b"333"[..]));
        let big = vec![7u8; 1000];
        db.set_str(b"a", &big, Ttl::Persist);
        assert_eq!(db.get(b"a").and_then(|v| v.as_str()), Some(&big[..]));
        assert_eq!(db.len(), 1);
        assert_eq!(s.common.stats.keyspace_hits, 3);
        assert_eq!(s.common.stats.keyspace_misses, 1);
    }

    #[test]
    fn ttl_lifecycle_and_index_consistency() {
        let mut s = store();
        let now = s.now_ms();
        {
            let mut db = s.db(0);
            db.set_str(b"k", b"v", Ttl::At(now + 100));
            assert_eq!(db.expire_of(b"k"), Ok(Some(now + 100)));
            assert_eq!(db.expires_len(), 1);
            db.set_str(b"k", b"w", Ttl::Keep);
            assert_eq!(db.expire_of(b"k"), Ok(Some(now + 100)));
            assert!(db.set_expire(b"k", Some(now + 200)));
            assert_eq!(db.expire_of(b"k"), Ok(Some(now + 200)));
            assert!(db.set_expire(b"k", None));
            assert_eq!(db.expire_of(b"k"), Ok(None));
            assert_eq!(db.expires_len(), 0);
            assert!(db.set_expire(b"k", Some(now + 50)));
            assert_eq!(db.expires_len(), 1);
            db.set_str(b"k", b"plain", Ttl::Persist);
            assert_eq!(db.expires_len(), 0);
            assert!(db.set_expire(b"k", Some(now + 50)));
            assert_eq!(db.expire_of(b"nope"), Err(()));
        }
        s.set_now(now + 51);
        let mut db = s.db(0);
        assert!(db.get(b"k").is_none());
        assert_eq!(db.len(), 0);
        assert_eq!(db.expires_len(), 0);
        assert_eq!(s.common.stats.expired_keys, 1);
    }

    #[test]
    fn expire_in_past_deletes() {
        let mut s = store();
        let now = s.now_ms();
        let mut db = s.db(0);
        db.set_str(b"k", b"v", Ttl::Persist);
        assert!(db.set_expire(b"k", Some(now - 1)));
        assert!(!db.exists(b"k"));
    }

    #[test]
    fn string_mut_converts_and_keeps_ttl() {
        let mut s = store();
        let now = s.now_ms();
        let mut db = s.db(0);
        db.set_str(b"k", b"ab", Ttl::At(now + 1000));
        db.string_mut(b"k")
            .unwrap()
            .unwrap()
            .extend_from_slice(b"cd");
        assert_eq!(db.get(b"k").and_then(|v| v.as_str()), Some(&b"abcd"[..]));
        assert_eq!(db.expire_of(b"k"), Ok(Some(now + 1000)));
        assert!(db.string_mut(b"missing").unwrap().is_none());
    }

    #[test]
    fn take_and_put_detached() {
        let mut s = store();
        let now = s.now_ms();
        let mut db = s.db(0);
        db.set_str(b"a", b"x", Ttl::At(now + 5));
        let d = db.take(b"a").unwrap();
        assert!(!db.exists(b"a"));
        assert_eq!(d.expire, Some(now + 5));
        db.put_detached(b"b", d);
        assert_eq!(db.expire_of(b"b"), Ok(Some(now + 5)));
        assert!(matches!(db.get(b"b"), Some(ValueRef::Str(b"x"))));
        assert_eq!(db.expires_len(), 1);
    }

    #[test]
    fn scan_and_random() {
        let mut s = store();
        let mut db = s.db(0);
        for i in 0..100 {
            db.set_value(
                format!("k{i}").as_bytes(),
                Value::Str(vec![1]),
                Ttl::Persist,
            );
        }
        let mut n = 0;
        let mut c = 0;
        loop {
            c = db.scan(c, |_, _| n += 1);
            if c == 0 {
                break;
            }
        }
        assert_eq!(n, 100);
        assert!(db.random_key().is_some());
    }
}
