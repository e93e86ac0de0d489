//! Point-in-time captures of the keyspace without fork and without a second copy of the data:
//! what BGSAVE and BGREWRITEAOF write.
//!
//! Redis forks and lets the kernel copy pages on write. ringkv does the same thing per key,
//! explicitly:
//! - `Store::begin_capture` fixes the moment (under the keyspace lock, so it falls between two
//!   commands) by flipping the store's capture *parity*. Every entry carries a one-bit mark; at
//!   rest all marks equal the parity, so after the flip every existing entry is "not yet seen".
//! - The server calls `Store::capture_step` in short slices (the lock is held for one slice only;
//!   ringkv runs them on its event loop, between batches of clients' commands). It walks each
//!   database with the SCAN cursor, which visits every entry present for the whole walk at least
//!   once despite rehashing; entries not yet seen are handed to the caller and marked. The walk
//!   prefetches buckets and entries ahead (`Dict::scan_mut_batch`): SCAN's order jumps around
//!   memory, and the cache misses are most of its cost.
//! - Before any write changes or deletes an entry that is not yet seen, `DbRef` *preserves* it:
//!   a deleted or replaced entry is moved (no copy), an entry about to change in place is
//!   duplicated. FLUSHDB hands over the whole detached dict. The server drains these with
//!   `Store::take_preserved` and writes (and frees) them outside the lock.
//! - Entries created after the moment are marked seen at birth, so they are not in the image.
//!
//! So the image is exactly the keyspace at the moment of `begin_capture`, the extra memory is
//! only the pre-images of keys written during the capture (usually a small fraction), and the
//! keyspace lock is held for one slice at a time. A capture must always run to its end (the
//! walk goes on even if its file failed), because the marks are only consistent again once
//! every entry has been seen.

use crate::dict::Dict;
use crate::entry::Entry;

/// Most SCAN steps (buckets) walked per batch (long enough for the batch's prefetching to pay
/// off). A batch takes no more steps than entries are left to visit in the slice, so a slice
/// stays about `max_entries` long (a bucket holds about one entry).
const SCAN_BATCH_STEPS: usize = 128;

/// The capture state kept in `Common`.
#[derive(Default)]
pub struct Capture {
    pub(crate) active: bool,
    pub(crate) parity: bool,
    /// Keys that expired by this time are left out of the image (they were already logically gone).
    pub(crate) started_ms: i64,
    pub(crate) preserved: Vec<(usize, Entry)>,
    pub(crate) detached: Vec<(usize, Dict)>,
    /// Entries preserved during the current capture (INFO).
    pub(crate) preserved_total: u64,
}

impl Capture {
    pub fn is_active(&self) -> bool {
        self.active
    }

    /// Entries copied or moved aside by writers since the capture began.
    pub fn preserved_total(&self) -> u64 {
        self.preserved_total
    }

    /// Pre-images (entries and detached tables) waiting for `Store::take_preserved`.
    pub fn preserved_pending(&self) -> usize {
        self.preserved.len() + self.detached.len()
    }

    /// Whether an entry still belongs to the running capture and has not been seen yet.
    #[inline]
    pub(crate) fn wants(&self, e: &Entry) -> bool {
        self.active && e.capture_mark() != self.parity
    }
}

/// Pre-images handed to the capture job, to be written outside the keyspace lock.
pub struct Preserved {
    parity: bool,
    started_ms: i64,
    entries: Vec<(usize, Entry)>,
    dicts: Vec<(usize, Dict)>,
}

impl Preserved {
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty() && self.dicts.is_empty()
    }

    /// Visits every preserved entry of the image with the database it belongs to. Entries of a
    /// flushed database that the walk had already seen are skipped (they were written then).
    pub fn for_each(&self, mut f: impl FnMut(usize, &Entry)) {
        for (db, e) in &self.entries {
            if !expired_at_start(e, self.started_ms) {
                f(*db, e);
            }
        }
        for (db, dict) in &self.dicts {
            dict.for_each(|e| {
                if e.capture_mark() != self.parity && !expired_at_start(e, self.started_ms) {
                    f(*db, e);
                }
            });
        }
    }
}

fn expired_at_start(e: &Entry, started_ms: i64) -> bool {
    matches!(e.expire(), Some(at) if at <= started_ms)
}

/// Per-database walk position of the running capture.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct CaptureCursor {
    /// The database index at the moment of the capture (SWAPDB moves the `Db`, and this with it).
    pub(crate) origin: usize,
    pub(crate) cursor: u64,
    pub(crate) done: bool,
}

impl crate::store::Store {
    /// Fixes the point in time of a new capture. Returns false if one is already running.
    pub fn begin_capture(&mut self) -> bool {
        let now = self.common.now_ms;
        let (dbs, common) = self.dbs_mut();
        let cap = &mut common.capture;
        if cap.active {
            return false;
        }
        cap.active = true;
        cap.parity = !cap.parity;
        cap.started_ms = now;
        cap.preserved_total = 0;
        for (i, db) in dbs.iter_mut().enumerate() {
            db.capture = CaptureCursor {
                origin: i,
                cursor: 0,
                done: db.dict.is_empty(),
            };
        }
        true
    }

    pub fn capture_active(&self) -> bool {
        self.common.capture.active
    }

    /// Walks the databases for about `max_entries` entries, handing each entry not yet seen to
    /// `f` with its database (as numbered at the moment of the capture). Returns true when every
    /// database has been walked completely.
    pub fn capture_step(&mut self, max_entries: usize, mut f: impl FnMut(usize, &Entry)) -> bool {
        let (dbs, common) = self.dbs_mut();
        let cap = &mut common.capture;
        if !cap.active {
            return true;
        }
        let parity = cap.parity;
        let started = cap.started_ms;
        let mut visited = 0usize;
        for db in dbs.iter_mut() {
            let origin = db.capture.origin;
            while !db.capture.done {
                if visited >= max_entries {
                    return false;
                }
                let steps = SCAN_BATCH_STEPS.min(max_entries - visited);
                let next = db.dict.scan_mut_batch(db.capture.cursor, steps, |e| {
                    visited += 1;
                    if e.capture_mark() != parity {
                        e.set_capture_mark(parity);
                        if !expired_at_start(e, started) {
                            f(origin, e);
                        }
                    }
                });
                db.capture.cursor = next;
                db.capture.done = next == 0;
            }
        }
        true
    }

    /// Takes the pre-images preserved by writers since the last call.
    pub fn take_preserved(&mut self) -> Preserved {
        let cap = &mut self.common.capture;
        Preserved {
            parity: cap.parity,
            started_ms: cap.started_ms,
            entries: std::mem::take(&mut cap.preserved),
            dicts: std::mem::take(&mut cap.detached),
        }
    }

    /// Ends the capture after `capture_step` returned true; returns the last pre-images.
    pub fn end_capture(&mut self) -> Preserved {
        let rest = self.take_preserved();
        self.common.capture.active = false;
        rest
    }
}

#[cfg(test)]
mod tests {
    use crate::{Store, Ttl, Value};
    use std::collections::BTreeMap;

    type Image = BTreeMap<(usize, Vec<u8>), (String, Option<i64>)>;

    fn describe(e: &crate::Entry) -> String {
        match e.value() {
            crate::ValueRef::Str(s) => String::from_utf8_lossy(s).into_owned(),
            crate::ValueRef::Obj(v) => format!("{v:?}"),
        }
    }

    fn image_now(store: &mut Store) -> Image {
        let mut out = Image::new();
        for d in 0..store.db_count() {
            store.db(d).for_each_live(|e| {
                out.insert((d, e.key().to_vec()), (describe(e), e.expire()));
            });
        }
        out
    }

    /// Runs a capture while `write` mutates the store between slices; returns what the capture
    /// produced. At least `min_rounds` write rounds must run before the capture ends, so that
    /// every round a test's `write` acts on happens while the capture is still going.
    fn capture_with(
        store: &mut Store,
        min_rounds: usize,
        mut write: impl FnMut(&mut Store, usize),
    ) -> Image {
        assert!(store.begin_capture());
        let mut image = Image::new();
        let mut add = |db: usize, e: &crate::Entry| {
            let fresh = image
                .insert((db, e.key().to_vec()), (describe(e), e.expire()))
                .is_none();
            assert!(fresh, "key captured twice: {:?}", e.key());
        };
        let mut round = 0;
        loop {
            let done = store.capture_step(7, &mut add);
            store.take_preserved().for_each(&mut add);
            if done {
                break;
            }
            write(store, round);
            round += 1;
        }
        store.end_capture().for_each(&mut add);
        assert!(
            round >= min_rounds,
            "the capture ended after {round} write rounds, {min_rounds} wanted"
        );
        image
    }

    fn filled() -> Store {
        let mut s = Store::new(2, 9);
        s.set_now(1_000);
        for i in 0..300 {
            s.db(i % 2)
                .set_str(format!("k{i}").as_bytes(), b"orig", Ttl::Persist);
        }
        s.db(0).set_value(
            b"list",
            Value::List(crate::ListValue::from_iter([b"a"])),
            Ttl::At(50_000),
        );
        s
    }

    #[test]
    fn image_is_the_state_at_the_start_whatever_writers_do() {
        let mut s = filled();
        let expected = image_now(&mut s);
        // Rounds 0..=30: every kind of write, then SWAPDB (20) and FLUSHDB (30).
        let got = capture_with(&mut s, 31, |s, round| {
            let i = round * 13 % 300;
            let db = i % 2;
            match round % 6 {
                0 => s
                    .db(db)
                    .set_str(format!("k{i}").as_bytes(), b"changed", Ttl::Persist),
                1 => {
                    s.db(db).remove(format!("k{i}").as_bytes());
                }
                2 => s
                    .db(db)
                    .set_str(format!("new{round}").as_bytes(), b"x", Ttl::Persist),
                3 => {
                    if let Ok(crate::Value::List(l)) = s
                        .db(0)
                        .value_mut_or_insert(b"list", || Value::List(Default::default()))
                    {
                        l.push_back(b"more");
                    }
                    s.db(0).signal_modified(b"list", 1);
                }
                4 => {
                    s.db(db)
                        .set_expire(format!("k{i}").as_bytes(), Some(90_000));
                }
                _ => {
                    let d = s.db(db).take(format!("k{i}").as_bytes());
                    if let Some(d) = d {
                        s.db(db).put_detached(format!("moved{round}").as_bytes(), d);
                    }
                }
            }
            if round == 20 {
                s.swap_dbs(0, 1);
            }
            if round == 30 {
                drop(s.flush_db(1));
            }
        });
        assert_eq!(got, expected);
        // The marks are consistent again: a second capture with no writes sees everything live.
        let now = image_now(&mut s);
        assert_eq!(capture_with(&mut s, 0, |_, _| {}), now);
    }

    #[test]
    fn expiry_changes_during_a_capture_keep_the_image() {
        let mut s = filled();
        let expected = image_now(&mut s);
        let got = capture_with(&mut s, 3, |s, round| {
            let key = format!("k{}", round * 2 % 300);
            match round % 3 {
                // No change (the key has no TTL): nothing to preserve.
                0 => assert!(s.db(0).set_expire(key.as_bytes(), None)),
                // A deadline in the past deletes the key: the entry moves to the capture.
                1 => assert!(s.db(0).set_expire(key.as_bytes(), Some(1))),
                // A new TTL changes the entry: its pre-image is preserved.
                _ => assert!(s.db(0).set_expire(key.as_bytes(), Some(80_000))),
            }
        });
        assert_eq!(got, expected);
    }

    #[test]
    fn keys_expired_at_the_start_are_left_out() {
        let mut s = Store::new(1, 1);
        s.set_now(1_000);
        s.db(0).set_str(b"old", b"v", Ttl::At(1_500));
        s.db(0).set_str(b"live", b"v", Ttl::Persist);
        s.set_now(2_000);
        let got = capture_with(&mut s, 0, |_, _| {});
        assert_eq!(got.len(), 1);
        assert!(got.contains_key(&(0, b"live".to_vec())));
    }
}
