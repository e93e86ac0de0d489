//! Key-change tracking for the features that react to writes: WATCH (optimistic transactions) and
//! blocking pops (BLPOP and friends wait for a key to receive data).
//!
//! Both registries are empty in the common case, so `DbRef::signal_modified` costs one branch per
//! write when nobody watches or blocks.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// A (database index, key) pair.
pub type DbKey = (usize, Vec<u8>);

/// The keys changed while a recording runs. The cluster records around each command it
/// coordinates, so it stamps a new version on exactly the keys the command changed; when no
/// recording runs, a write pays one branch.
#[derive(Default)]
pub struct ChangeRecorder {
    recording: bool,
    keys: Vec<DbKey>,
}

impl ChangeRecorder {
    /// Starts recording (forgetting any earlier recording).
    pub fn start(&mut self) {
        self.recording = true;
        self.keys.clear();
    }

    pub fn is_recording(&self) -> bool {
        self.recording
    }

    /// Notes a changed key once.
    pub fn record(&mut self, db: usize, key: &[u8]) {
        if !self.keys.iter().any(|(d, k)| *d == db && k == key) {
            self.keys.push((db, key.to_vec()));
        }
    }

    /// Stops recording and returns the changed keys in first-change order.
    pub fn finish(&mut self) -> Vec<DbKey> {
        self.recording = false;
        std::mem::take(&mut self.keys)
    }
}

/// WATCHed keys → the "transaction is dirty" flags of the clients watching them.
#[derive(Default)]
pub struct WatchRegistry {
    keys: HashMap<DbKey, Vec<Arc<AtomicBool>>>,
}

impl WatchRegistry {
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn watch(&mut self, db: usize, key: &[u8], flag: &Arc<AtomicBool>) {
        let list = self.keys.entry((db, key.to_vec())).or_default();
        if !list.iter().any(|f| Arc::ptr_eq(f, flag)) {
            list.push(flag.clone());
        }
    }

    /// Removes one client's watches (UNWATCH, EXEC, DISCARD, disconnect).
    pub fn unwatch(&mut self, keys: &[DbKey], flag: &Arc<AtomicBool>) {
        for k in keys {
            if let Some(list) = self.keys.get_mut(k) {
                list.retain(|f| !Arc::ptr_eq(f, flag));
                if list.is_empty() {
                    self.keys.remove(k);
                }
            }
        }
    }

    /// A watched key changed: every watcher's transaction will fail.
    pub fn touch(&self, db: usize, key: &[u8]) {
        if let Some(list) = self.keys.get(&(db, key.to_vec())) {
            for f in list {
                f.store(true, Ordering::Relaxed);
            }
        }
    }

    /// Every watched key of a database changed (FLUSHDB, FLUSHALL, SWAPDB).
    pub fn touch_db(&self, db: usize) {
        for ((d, _), list) in &self.keys {
            if *d == db {
                for f in list {
                    f.store(true, Ordering::Relaxed);
                }
            }
        }
    }
}

/// Keys that clients are blocked on, in arrival order per key, and the keys that received data
/// since the last time the server served blocked clients.
#[derive(Default)]
pub struct BlockingKeys {
    waiting: HashMap<DbKey, VecDeque<u64>>,
    ready: Vec<DbKey>,
    ready_set: HashSet<DbKey>,
}

impl BlockingKeys {
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Registers `client` as waiting on each key (FIFO per key).
    pub fn block(&mut self, client: u64, keys: &[DbKey]) {
        for k in keys {
            self.waiting.entry(k.clone()).or_default().push_back(client);
        }
    }

    /// Removes `client` from the waiting lists of `keys`.
    pub fn unblock(&mut self, client: u64, keys: &[DbKey]) {
        for k in keys {
            if let Some(q) = self.waiting.get_mut(k) {
                q.retain(|&c| c != client);
                if q.is_empty() {
                    self.waiting.remove(k);
                }
            }
        }
    }

    /// The waiters of a key in arrival order.
    pub fn waiters(&self, db: usize, key: &[u8]) -> Vec<u64> {
        self.waiting
            .get(&(db, key.to_vec()))
            .map(|q| q.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Keys of database `db` that somebody waits on.
    pub fn waiting_keys(&self, db: usize) -> Vec<Vec<u8>> {
        self.waiting
            .keys()
            .filter(|(d, _)| *d == db)
            .map(|(_, k)| k.clone())
            .collect()
    }

    /// A key changed: if somebody waits on it, remember it for serving.
    pub fn signal(&mut self, db: usize, key: &[u8]) {
        let k = (db, key.to_vec());
        if self.waiting.contains_key(&k) && self.ready_set.insert(k.clone()) {
            self.ready.push(k);
        }
    }

    /// Takes the keys signalled since the last call, in signal order.
    pub fn take_ready(&mut self) -> Vec<DbKey> {
        self.ready_set.clear();
        std::mem::take(&mut self.ready)
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Number of distinct clients blocked (INFO blocked_clients).
    pub fn blocked_clients(&self) -> usize {
        let mut ids: HashSet<u64> = HashSet::new();
        for q in self.waiting.values() {
            ids.extend(q.iter().copied());
        }
        ids.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_recorder_records_once_and_only_while_on() {
        let mut store = crate::Store::new(2, 1);
        store.db(0).set_str(b"before", b"v", crate::Ttl::Persist);
        store.common.changes.start();
        store.db(0).set_str(b"a", b"1", crate::Ttl::Persist);
        store.db(1).set_str(b"a", b"1", crate::Ttl::Persist);
        store.db(0).set_str(b"a", b"2", crate::Ttl::Persist);
        store.db(0).remove(b"before");
        assert!(store.common.changes.is_recording());
        assert_eq!(
            store.common.changes.finish(),
            vec![
                (0, b"a".to_vec()),
                (1, b"a".to_vec()),
                (0, b"before".to_vec())
            ]
        );
        store.db(0).set_str(b"b", b"1", crate::Ttl::Persist);
        assert!(store.common.changes.finish().is_empty());
    }

    #[test]
    fn watch_touch_unwatch() {
        let mut w = WatchRegistry::default();
        let f = Arc::new(AtomicBool::new(false));
        w.watch(0, b"k", &f);
        w.touch(1, b"k");
        assert!(!f.load(Ordering::Relaxed));
        w.touch(0, b"k");
        assert!(f.load(Ordering::Relaxed));
        w.unwatch(&[(0, b"k".to_vec())], &f);
        assert!(w.is_empty());
    }

    #[test]
    fn blocking_fifo_and_ready_dedup() {
        let mut b = BlockingKeys::default();
        b.block(1, &[(0, b"a".to_vec())]);
        b.block(2, &[(0, b"a".to_vec()), (0, b"b".to_vec())]);
        assert_eq!(b.waiters(0, b"a"), vec![1, 2]);
        b.signal(0, b"a");
        b.signal(0, b"a");
        b.signal(0, b"zzz");
        assert_eq!(b.take_ready(), vec![(0, b"a".to_vec())]);
        assert!(!b.has_ready());
        b.unblock(2, &[(0, b"a".to_vec()), (0, b"b".to_vec())]);
        assert_eq!(b.waiters(0, b"a"), vec![1]);
        assert_eq!(b.blocked_clients(), 1);
    }
}
