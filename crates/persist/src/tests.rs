//! Cross-module tests: snapshot round trips (hand-built and property-based), torn and bit-flipped
//! files, corrupted lengths under an allocation watchdog, expiry on load, the checkers, and
//! recovery of a multi-part AOF directory against a model store that executed the same commands.

use crate::aof::{AofEncoder, AofError};
use crate::check::{check_aof, check_aof_dir, check_snapshot, CheckStatus, FileFormat};
use crate::codec::put_varint;
use crate::manifest::Manifest;
use crate::recovery::{recover, RecoveryError, RecoveryOptions};
use crate::rewrite_for_log;
use crate::snapshot::*;
use proptest::prelude::*;
use ringkv_engine::types::stream::{
    ConsumerGroup, Fields, NodeLimits, StreamId, Trim, TrimStrategy,
};
use ringkv_engine::{
    HashValue, ListValue, SetValue, Store, StreamValue, Ttl, Value, ValueRef, ZSetValue,
};
use ringkv_protocol::num::parse_i64;
use ringkv_protocol::{Args, OwnedArgs};
use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Cursor;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

// ---------------------------------------------------------------------------------------------
// Allocation watchdog: the largest single allocation made by this test process. A corrupted
// length that made the reader allocate by it would show up here (or abort the process).

struct LargestAlloc;

static LARGEST_ALLOC_BYTES: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call unchanged to the system allocator; only records sizes.
unsafe impl GlobalAlloc for LargestAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST_ALLOC_BYTES.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST_ALLOC_BYTES.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST_ALLOC_BYTES.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: LargestAlloc = LargestAlloc;

/// No test in this crate legitimately allocates more than this in one piece.
const ALLOC_CEILING_BYTES: usize = 64 * 1024 * 1024;

// ---------------------------------------------------------------------------------------------
// Canonical view of a store, independent of encodings.

const NOW_MS: i64 = 1_700_000_000_000;

#[derive(Debug, Clone, PartialEq)]
enum Canon {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    /// (member, score bits with -0.0 folded into 0.0, as the compact zset encoding does).
    ZSet(Vec<(Vec<u8>, u64)>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    Stream(Box<StreamValue>),
}

type Dump = BTreeMap<(usize, Vec<u8>), (Canon, Option<i64>)>;

fn canon(v: ValueRef<'_>) -> Canon {
    match v {
        ValueRef::Str(s) => Canon::Str(s.to_vec()),
        ValueRef::Obj(Value::Str(s)) => Canon::Str(s.clone()),
        ValueRef::Obj(Value::List(l)) => Canon::List(l.iter().map(<[u8]>::to_vec).collect()),
        ValueRef::Obj(Value::Set(s)) => Canon::Set(s.iter().map(|m| m.to_vec()).collect()),
        ValueRef::Obj(Value::ZSet(z)) => {
            let mut out = Vec::new();
            z.for_each(|m, s| out.push((m.to_vec(), (s + 0.0).to_bits())));
            Canon::ZSet(out)
        }
        ValueRef::Obj(Value::Hash(h)) => {
            Canon::Hash(h.iter().map(|(f, v)| (f.to_vec(), v.to_vec())).collect())
        }
        ValueRef::Obj(Value::Stream(st)) => Canon::Stream(st.clone()),
    }
}

/// A stream of `n` entries with trimmed and deleted entries, two groups, consumers (one with
/// nothing pending) and pending entries, one of them for a deleted entry.
fn sample_stream(n: u64) -> StreamValue {
    let limits = NodeLimits::default();
    let mut st = StreamValue::new();
    for i in 1..=n {
        let fields: Fields = vec![
            b"f".to_vec().into_boxed_slice(),
            i.to_string().into_bytes().into_boxed_slice(),
        ]
        .into_boxed_slice();
        st.append(StreamId::new(i, i % 3), fields, limits);
    }
    st.trim(&Trim {
        strategy: TrimStrategy::MaxLen(n.saturating_sub(3)),
        approx: false,
        limit: 0,
    });
    st.delete(StreamId::new(n, n % 3));
    let mut g = ConsumerGroup::new(StreamId::new(n.min(5), 0), 4);
    g.create_consumer(b"alice", NOW_MS - 10);
    g.create_consumer(b"bob", NOW_MS - 5);
    g.create_consumer(b"", NOW_MS);
    for i in [4u64, 5, n] {
        g.deliver(
            StreamId::new(i, i % 3),
            if i == 5 { b"bob" } else { b"alice" },
            NOW_MS - 1,
        );
    }
    st.groups.insert(b"workers".to_vec().into(), g);
    st.groups
        .insert(b"".to_vec().into(), ConsumerGroup::new(StreamId::MIN, -1));
    st
}

fn dump(store: &mut Store) -> Dump {
    let mut out = Dump::new();
    for db in 0..store.db_count() {
        store.db(db).for_each_live(|e| {
            out.insert((db, e.key().to_vec()), (canon(e.value()), e.expire()));
        });
    }
    out
}

fn new_store(dbs: usize) -> Store {
    let mut s = Store::new(dbs, 42);
    s.set_now(NOW_MS);
    s
}

fn snapshot_bytes(store: &mut Store) -> Vec<u8> {
    let header = SnapshotHeader::for_store(store, NOW_MS);
    write_store(Vec::new(), store, &header).unwrap().0
}

fn load_bytes(bytes: &[u8], dbs: usize, now_ms: i64) -> (Store, Result<LoadReport, SnapshotError>) {
    let mut store = new_store(dbs);
    let r = load_snapshot_from(Cursor::new(bytes), &mut store, now_ms, |_, _| {});
    (store, r)
}

/// A store with every type, TTLs, several databases, and empty values; db 2 holds collections
/// of `n` elements (past the compact encodings when `n > 128`); with `huge`, db 3 holds a
/// 1 MiB string and a 100k-element list.
fn rich_store(n: usize, huge: bool) -> Store {
    let mut s = new_store(4);
    {
        let mut db = s.db(0);
        db.set_str(b"empty-string", b"", Ttl::Persist);
        db.set_str(b"", b"empty key", Ttl::Persist);
        db.set_str(b"inline", b"hello", Ttl::At(NOW_MS + 10_000));
        db.set_value(b"raw", Value::Str(vec![7u8; 500]), Ttl::Persist);
        db.set_str(b"bin\r\n\0\xff", b"\0\x01\x02", Ttl::At(i64::MAX));
        let list: ListValue = ["a", "", "ccc"].into_iter().collect();
        db.set_value(b"list", Value::List(list), Ttl::At(NOW_MS + 1));
        let mut set = SetValue::new();
        for m in ["1", "2", "-3", "99999999999"] {
            set.insert(m.as_bytes());
        }
        db.set_value(b"intset", Value::Set(set), Ttl::Persist);
        let mut set = SetValue::new();
        for m in ["x", "y", "", "10"] {
            set.insert(m.as_bytes());
        }
        db.set_value(b"set", Value::Set(set), Ttl::Persist);
        let mut z = ZSetValue::new();
        z.insert(b"a", 1.5);
        z.insert(b"b", -0.0);
        z.insert(b"c", f64::INFINITY);
        z.insert(b"d", f64::NEG_INFINITY);
        z.insert(b"e", 1.5);
        z.insert(b"", 3.0);
        db.set_value(b"zset", Value::ZSet(z), Ttl::Persist);
        let mut h = HashValue::new();
        h.insert(b"f1", b"v1");
        h.insert(b"", b"");
        db.set_value(b"hash", Value::Hash(h), Ttl::At(NOW_MS + 5_000));
        db.set_value(
            b"stream",
            Value::Stream(Box::new(sample_stream(8))),
            Ttl::Persist,
        );
        db.set_value(
            b"empty-stream",
            Value::Stream(Box::default()),
            Ttl::At(NOW_MS + 7),
        );
    }
    {
        let mut db = s.db(2);
        // Past the compact-encoding thresholds.
        let mut h = HashValue::new();
        for i in 0..n {
            h.insert(format!("field{i}").as_bytes(), format!("{i}").as_bytes());
        }
        h.insert(b"long", &[b'v'; 300]);
        db.set_value(b"bighash", Value::Hash(h), Ttl::Persist);
        let mut z = ZSetValue::new();
        for i in 0..n {
            z.insert(format!("m{i}").as_bytes(), (i % 17) as f64 * 0.25);
        }
        db.set_value(b"bigzset", Value::ZSet(z), Ttl::At(NOW_MS + 99_999));
        let mut set = SetValue::new();
        for i in 0..n {
            set.insert(format!("{i}").as_bytes());
        }
        db.set_value(b"bigintset", Value::Set(set), Ttl::Persist);
        let mut set = SetValue::new();
        for i in 0..n {
            set.insert(format!("member-{i}").as_bytes());
        }
        db.set_value(b"bigset", Value::Set(set), Ttl::Persist);
        db.set_value(
            b"bigstream",
            Value::Stream(Box::new(sample_stream(n as u64 + 10))),
            Ttl::Persist,
        );
        // Already expired relative to the store clock: never written.
        db.set_str(b"gone", b"x", Ttl::At(NOW_MS - 1));
    }
    {
        let mut db = s.db(3);
        db.set_str(b"k", b"in db 3", Ttl::Persist);
        if huge {
            db.set_value(b"1mb", Value::Str(vec![0xA5; 1024 * 1024]), Ttl::Persist);
            let list: ListValue = (0..100_000u32).map(|i| i.to_string()).collect();
            db.set_value(b"100k-list", Value::List(list), Ttl::At(NOW_MS + 3_600_000));
        }
    }
    s
}

// ---------------------------------------------------------------------------------------------
// Snapshot round trips.

#[test]
fn round_trip_every_type_ttl_and_large_values_through_a_file() {
    let mut src = rich_store(1000, true);
    let expected = dump(&mut src);
    assert!(!expected.contains_key(&(2, b"gone".to_vec())));
    assert_eq!(expected.len(), 20);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dump.snap");
    let summary = save_store(&path, &mut src, NOW_MS).unwrap();
    assert_eq!(summary.keys, 20);
    assert_eq!(summary.bytes, fs::metadata(&path).unwrap().len());
    assert!(!crate::temp_path(&path).exists());

    let mut dst = new_store(4);
    let mut calls = Vec::new();
    let report = load_snapshot(&path, &mut dst, NOW_MS, |d, t| calls.push((d, t))).unwrap();
    assert_eq!(report.keys_loaded, 20);
    assert_eq!(report.expired_skipped, 0);
    assert_eq!(report.header.db_count, 4);
    assert_eq!(report.header.created_ms, NOW_MS);
    assert_eq!(
        report.header.aux(AUX_WRITER_VERSION),
        Some(env!("CARGO_PKG_VERSION").as_bytes())
    );
    assert_eq!(dump(&mut dst), expected);
    // Loading is not a change: dirty is untouched.
    assert_eq!(dst.common.dirty, 0);
    // Progress is monotonic and ends at (total, total).
    assert!(calls.windows(2).all(|w| w[0].0 <= w[1].0));
    assert_eq!(calls.last(), Some(&(summary.bytes, summary.bytes)));
    assert!(
        calls.len() > 2,
        "a >1 MiB file reports intermediate progress"
    );

    let check = check_snapshot(&path).unwrap();
    assert!(check.is_ok(), "{check}");
    assert_eq!(check.total_keys(), 20);
    assert_eq!(check.dbs[&0].keys, 12);
    assert_eq!(check.dbs[&0].expires, 5);
    assert_eq!(check.dbs[&0].by_type[&TypeTag::String], 5);
    assert_eq!(check.dbs[&0].by_type[&TypeTag::Stream], 2);
    assert_eq!(check.dbs[&2].by_type[&TypeTag::Set], 2);
    assert_eq!(check.dbs[&2].by_type[&TypeTag::Stream], 1);
    assert_eq!(check.dbs[&3].by_type[&TypeTag::List], 1);
    assert!(check.to_string().contains("is valid"));
}

#[test]
fn streaming_writer_accepts_interleaved_databases_and_owned_values() {
    let header = SnapshotHeader {
        created_ms: 5,
        db_count: 3,
        aux: vec![(b"repl-offset".to_vec(), b"1234".to_vec())],
    };
    let mut w = SnapshotWriter::new(Vec::new(), &header).unwrap();
    let list: ListValue = ["x"].into_iter().collect();
    assert!(w.write_entry(1, b"a", ValueRef::Str(b"1"), None).unwrap());
    assert!(w
        .write_value(0, b"b", &Value::List(list), Some(NOW_MS + 9))
        .unwrap());
    assert!(w.write_entry(1, b"c", ValueRef::Str(b"3"), None).unwrap());
    // Empty collections are skipped; databases beyond the header are refused.
    assert!(!w
        .write_value(2, b"e", &Value::Set(SetValue::new()), None)
        .unwrap());
    assert!(w.write_entry(3, b"x", ValueRef::Str(b""), None).is_err());
    assert_eq!(w.keys_written(), 3);
    let (bytes, summary) = w.finish().unwrap();
    assert_eq!(summary.bytes, bytes.len() as u64);
    assert_eq!(summary.checksum, crate::crc64(&bytes[..bytes.len() - 8]));

    let mut r = SnapshotReader::new(&bytes[..]).unwrap();
    assert_eq!(r.header(), &header);
    assert_eq!(r.header().aux(b"repl-offset"), Some(&b"1234"[..]));
    let recs: Vec<SnapshotRecord> = r.by_ref().map(|x| x.unwrap()).collect();
    assert_eq!(
        recs.iter()
            .map(|x| (x.db, x.key.clone()))
            .collect::<Vec<_>>(),
        vec![(1, b"a".to_vec()), (0, b"b".to_vec()), (1, b"c".to_vec())]
    );
    assert_eq!(recs[1].expire, Some(NOW_MS + 9));
    assert_eq!(r.trailer().unwrap().keys, 3);
    let (mut s, rep) = load_bytes(&bytes, 3, NOW_MS);
    assert_eq!(rep.unwrap().keys_loaded, 3);
    assert_eq!(s.db(0).len(), 1);
    assert_eq!(s.db(1).len(), 2);
}

/// Loads a file of 3000 keys `k0`..`k2999` over two databases, key `i` in database `db_of(i)`.
fn load_3000_keys(db_of: impl Fn(usize) -> usize) -> Store {
    let header = SnapshotHeader {
        created_ms: 5,
        db_count: 2,
        aux: Vec::new(),
    };
    let mut w = SnapshotWriter::new(Vec::new(), &header).unwrap();
    for i in 0..3000 {
        let key = format!("k{i}");
        w.write_entry(db_of(i), key.as_bytes(), ValueRef::Str(b"v"), None)
            .unwrap();
    }
    let (bytes, _) = w.finish().unwrap();
    let (s, rep) = load_bytes(&bytes, 2, NOW_MS);
    assert_eq!(rep.unwrap().keys_loaded, 3000);
    s
}

#[test]
fn loading_sizes_each_key_table_once_and_shrinks_those_given_too_much() {
    // db 0's first record comes first, so it is sized for every key of the file; db 1 holds
    // nearly all of them, interleaved with db 0's.
    let s = load_3000_keys(|i| usize::from(i % 1000 != 0));
    assert_eq!(s.db_ref(0).len(), 3);
    assert_eq!(s.db_ref(1).len(), 2997);
    assert!(
        s.db_ref(0).bucket_count() <= 8,
        "{}",
        s.db_ref(0).bucket_count()
    );
    assert_eq!(s.db_ref(1).bucket_count(), 4096);

    // db 0 comes first with a third of the keys, so it is sized for all 3000, then shrunk to
    // the size growing one key at a time would end at (a third full is not mostly empty, but
    // the table would still be four times too big).
    let s = load_3000_keys(|i| usize::from(i >= 1000));
    assert_eq!(s.db_ref(0).len(), 1000);
    assert_eq!(s.db_ref(0).bucket_count(), 1024);
    assert_eq!(s.db_ref(1).bucket_count(), 2048);
}

#[test]
fn records_encoded_elsewhere_load_like_records_written_directly() {
    // Every other key goes through an EntryEncoder in small chunks (the event loop's part of a
    // background save), the rest straight to the writer (the job thread's pre-images): the file
    // loads to the same data and its checksum holds.
    let mut src = rich_store(300, true);
    let expected = dump(&mut src);
    let header = SnapshotHeader::for_store(&src, NOW_MS);
    let mut w = SnapshotWriter::new(Vec::new(), &header).unwrap();
    let mut enc = EntryEncoder::new(&header);
    let mut i = 0;
    // Chunks go through recycled buffers, as the job thread hands them back to the event loop.
    let mut spare = None;
    for db in 0..src.db_count() {
        src.db(db).for_each_live(|e| {
            if i % 2 == 0 {
                enc.write_entry(db, e.key(), e.value(), e.expire()).unwrap();
            } else {
                w.write_entry(db, e.key(), e.value(), e.expire()).unwrap();
            }
            if i % 3 == 2 {
                let chunk = enc.take(spare.take());
                w.write_encoded(&chunk).unwrap();
                spare = Some(chunk.into_buffer());
            }
            i += 1;
        });
    }
    let last = enc.take(spare);
    assert!(!last.is_empty() || i % 3 == 0);
    w.write_encoded(&last).unwrap();
    // A database beyond the header is refused; so is a chunk for another layout.
    assert!(enc.write_entry(9, b"k", ValueRef::Str(b"v"), None).is_err());
    let other = SnapshotHeader {
        db_count: 1,
        ..header.clone()
    };
    let mut stray = EntryEncoder::new(&other);
    stray
        .write_entry(0, b"k", ValueRef::Str(b"v"), None)
        .unwrap();
    assert!(w.write_encoded(&stray.take(None)).is_err());
    let (bytes, summary) = w.finish().unwrap();
    assert_eq!(summary.keys, expected.len() as u64);
    let (mut dst, report) = load_bytes(&bytes, 4, NOW_MS);
    assert_eq!(report.unwrap().keys_loaded, expected.len() as u64);
    assert_eq!(dump(&mut dst), expected);
}

#[test]
fn expired_keys_are_skipped_on_load() {
    let mut src = new_store(2);
    {
        let mut db = src.db(0);
        db.set_str(b"soon", b"1", Ttl::At(NOW_MS + 100));
        db.set_str(b"later", b"2", Ttl::At(NOW_MS + 10_000));
        db.set_str(b"never", b"3", Ttl::Persist);
    }
    src.db(1).set_str(b"soon2", b"4", Ttl::At(NOW_MS + 200));
    let bytes = snapshot_bytes(&mut src);
    // Loaded before the deadlines: everything.
    let (_, r) = load_bytes(&bytes, 2, NOW_MS);
    assert_eq!(r.unwrap().keys_loaded, 4);
    // Loaded after two deadlines (a deadline equal to now counts as expired).
    let (mut s, r) = load_bytes(&bytes, 2, NOW_MS + 200);
    let r = r.unwrap();
    assert_eq!((r.keys_loaded, r.expired_skipped), (2, 2));
    let keys: Vec<_> = dump(&mut s).into_keys().collect();
    assert_eq!(keys, vec![(0, b"later".to_vec()), (0, b"never".to_vec())]);
}

#[test]
fn records_in_a_database_the_store_lacks_fail_and_fewer_used_dbs_are_fine() {
    let mut src = rich_store(200, false);
    let bytes = snapshot_bytes(&mut src);
    // db 3 is used: a 3-database store cannot hold it.
    let (_, r) = load_bytes(&bytes, 3, NOW_MS);
    assert!(
        matches!(
            r,
            Err(SnapshotError::DbOutOfRange {
                db: 3,
                available: 3,
                ..
            })
        ),
        "{r:?}"
    );
    let mut only0 = new_store(16);
    only0.db(0).set_str(b"k", b"v", Ttl::Persist);
    let bytes = snapshot_bytes(&mut only0);
    let (_, r) = load_bytes(&bytes, 1, NOW_MS);
    assert_eq!(r.unwrap().keys_loaded, 1);
}

#[test]
fn duplicate_keys_are_an_error() {
    let header = SnapshotHeader {
        created_ms: 0,
        db_count: 1,
        aux: vec![],
    };
    let mut w = SnapshotWriter::new(Vec::new(), &header).unwrap();
    w.write_entry(0, b"k", ValueRef::Str(b"1"), None).unwrap();
    w.write_entry(0, b"k", ValueRef::Str(b"2"), None).unwrap();
    let bytes = w.finish().unwrap().0;
    let (_, r) = load_bytes(&bytes, 1, NOW_MS);
    assert!(
        matches!(r, Err(SnapshotError::DuplicateKey { .. })),
        "{r:?}"
    );
}

#[test]
fn failed_write_leaves_the_previous_snapshot_in_place() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("dump.snap");
    let mut src = rich_store(200, false);
    save_store(&path, &mut src, NOW_MS).unwrap();
    let before = fs::read(&path).unwrap();
    let header = SnapshotHeader::for_store(&src, NOW_MS);
    let err = write_snapshot_file(&path, &header, |w| {
        w.write_entry(0, b"k", ValueRef::Str(b"v"), None)?;
        Err(std::io::Error::other("disk full"))
    });
    assert!(err.is_err());
    assert_eq!(fs::read(&path).unwrap(), before);
    assert!(!crate::temp_path(&path).exists());
}

// ---------------------------------------------------------------------------------------------
// Hostile files.

fn small_snapshot() -> Vec<u8> {
    let mut s = new_store(2);
    {
        let mut db = s.db(0);
        db.set_str(b"str", b"value", Ttl::At(NOW_MS + 1000));
        let list: ListValue = ["a", "bb"].into_iter().collect();
        db.set_value(b"list", Value::List(list), Ttl::Persist);
        let mut set = SetValue::new();
        set.insert(b"m");
        set.insert(b"7");
        db.set_value(b"set", Value::Set(set), Ttl::Persist);
    }
    {
        let mut db = s.db(1);
        let mut z = ZSetValue::new();
        z.insert(b"z1", 1.0);
        z.insert(b"z2", 2.5);
        db.set_value(b"zset", Value::ZSet(z), Ttl::Persist);
        let mut h = HashValue::new();
        h.insert(b"f", b"v");
        db.set_value(b"hash", Value::Hash(h), Ttl::Persist);
    }
    snapshot_bytes(&mut s)
}

/// Streams `bytes` through a reader of unknown length; returns whether it ended cleanly.
fn stream_ok(bytes: &[u8]) -> bool {
    let Ok(mut r) = SnapshotReader::new(bytes) else {
        return false;
    };
    loop {
        match r.next_record() {
            Ok(Some(_)) => {}
            Ok(None) => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn every_cut_of_a_snapshot_fails_cleanly() {
    let bytes = small_snapshot();
    assert!(stream_ok(&bytes));
    for cut in 0..bytes.len() {
        let part = &bytes[..cut];
        let (mut s, r) = load_bytes(part, 2, NOW_MS);
        let err = r.expect_err("a cut snapshot must not load");
        // The structure walk explains the failure as a truncation, or as a length running past
        // the end of the (cut) file.
        assert!(
            err.is_truncation() || matches!(err, SnapshotError::LengthExceedsFile { .. }),
            "cut {cut}: {err} (expected a truncation)"
        );
        assert!(dump(&mut s).is_empty(), "cut {cut}: nothing inserted");
        assert!(
            !stream_ok(part),
            "cut {cut}: the streaming reader must fail"
        );
        let with_len = SnapshotReader::with_len(part, cut as u64).and_then(|mut r| {
            while r.next_record()?.is_some() {}
            Ok(())
        });
        assert!(with_len.is_err());
    }
    // Trailing garbage is rejected too.
    let mut longer = bytes.clone();
    longer.push(0);
    assert!(load_bytes(&longer, 2, NOW_MS).1.is_err());
    assert!(!stream_ok(&longer));
}

#[test]
fn every_flipped_byte_of_a_snapshot_is_detected() {
    let bytes = small_snapshot();
    for pos in 0..bytes.len() {
        for mask in [0x01u8, 0x80, 0xFF] {
            let mut bad = bytes.clone();
            bad[pos] ^= mask;
            let (mut s, r) = load_bytes(&bad, 2, NOW_MS);
            assert!(r.is_err(), "flip {mask:#x} at {pos} loaded");
            assert!(dump(&mut s).is_empty(), "flip at {pos}: store touched");
            // The streaming reader may yield records, but must end in an error.
            assert!(!stream_ok(&bad), "flip {mask:#x} at {pos} streamed cleanly");
        }
    }
}

#[test]
fn random_flips_of_a_bigger_snapshot_are_detected() {
    let mut src = rich_store(150, false);
    let bytes = snapshot_bytes(&mut src);
    let mut rng = ringkv_engine::Rng::new(7);
    for _ in 0..2000 {
        let pos = rng.below(bytes.len() as u64) as usize;
        let mask = (rng.below(255) + 1) as u8;
        let mut bad = bytes.clone();
        bad[pos] ^= mask;
        let (_, r) = load_bytes(&bad, 4, NOW_MS);
        assert!(r.is_err(), "flip {mask:#x} at {pos} loaded");
    }
}

/// Header of a 1-database snapshot (no aux fields) followed by a db-0 section.
fn header_and_db0() -> Vec<u8> {
    let mut b = SNAPSHOT_MAGIC.to_vec();
    b.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    b.extend_from_slice(&0i64.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    b.push(0); // aux count
    b.push(OP_DB_SECTION);
    b.push(0);
    b
}

fn read_all(bytes: &[u8], known_len: bool) -> Result<(), SnapshotError> {
    let mut r = if known_len {
        SnapshotReader::with_len(bytes, bytes.len() as u64)?
    } else {
        SnapshotReader::new(bytes)?
    };
    while r.next_record()?.is_some() {}
    Ok(())
}

#[test]
fn corrupted_lengths_error_without_allocating() {
    let huge = 1u64 << 60;
    let mut cases: Vec<(Vec<u8>, &str)> = Vec::new();
    // Key length.
    let mut b = header_and_db0();
    b.extend_from_slice(&[TypeTag::String as u8, 0]);
    put_varint(&mut b, huge);
    b.extend_from_slice(b"abc");
    cases.push((b, "key length"));
    // String length.
    let mut b = header_and_db0();
    b.extend_from_slice(&[TypeTag::String as u8, 0, 1, b'k']);
    put_varint(&mut b, huge);
    cases.push((b, "string length"));
    // Element counts of each collection, and an element length.
    for (tag, what) in [
        (TypeTag::List, "list element count"),
        (TypeTag::Set, "set member count"),
        (TypeTag::ZSet, "zset member count"),
        (TypeTag::Hash, "hash field count"),
    ] {
        let mut b = header_and_db0();
        b.extend_from_slice(&[tag as u8, 0, 1, b'k']);
        put_varint(&mut b, huge);
        b.extend_from_slice(&[0u8; 40]);
        cases.push((b, what));
    }
    let mut b = header_and_db0();
    b.extend_from_slice(&[TypeTag::List as u8, 0, 1, b'k', 1]);
    put_varint(&mut b, u64::MAX);
    cases.push((b, "list element length"));
    // Aux count and aux lengths in the header.
    let mut b = SNAPSHOT_MAGIC.to_vec();
    b.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
    b.extend_from_slice(&0i64.to_le_bytes());
    b.extend_from_slice(&1u32.to_le_bytes());
    put_varint(&mut b, huge);
    cases.push((b, "aux field count"));

    for (bytes, what) in &cases {
        match read_all(bytes, true) {
            Err(SnapshotError::LengthExceedsFile { what: w, len, .. }) => {
                assert_eq!(w, *what);
                assert!(len >= huge);
            }
            other => panic!("{what}: {other:?}"),
        }
        let msg = read_all(bytes, true).unwrap_err().to_string();
        assert!(msg.contains("exceeds the remaining file"), "{msg}");
        // Unknown length (a stream): it must fail at end of input (or on the filler bytes)
        // instead, still without allocating by the declared size.
        assert!(read_all(bytes, false).is_err(), "{what}");
        // And through the loader (checksum first, then the structure walk explains it).
        let (_, r) = load_bytes(bytes, 1, NOW_MS);
        assert!(r.is_err());
    }
    // A varint that does not fit 64 bits.
    let mut b = header_and_db0();
    b.extend_from_slice(&[TypeTag::String as u8, 0]);
    b.extend_from_slice(&[0xff; 9]);
    b.push(0x7f);
    assert!(matches!(
        read_all(&b, true),
        Err(SnapshotError::Corrupt { .. })
    ));
    let largest = LARGEST_ALLOC_BYTES.load(Ordering::Relaxed);
    assert!(
        largest < ALLOC_CEILING_BYTES,
        "largest allocation {largest} bytes"
    );
}

#[test]
fn header_errors_are_explicit() {
    let good = small_snapshot();
    let mut v9 = good.clone();
    v9[11..13].copy_from_slice(&9u16.to_le_bytes());
    let err = read_all(&v9, true).unwrap_err();
    assert!(matches!(
        err,
        SnapshotError::UnsupportedVersion { version: 9 }
    ));
    assert!(
        err.to_string()
            .contains("unsupported snapshot format version 9"),
        "{err}"
    );
    let (_, r) = load_bytes(&v9, 2, NOW_MS);
    assert!(matches!(
        r,
        Err(SnapshotError::UnsupportedVersion { version: 9 })
    ));

    let err = read_all(b"REDIS0011\xfa", true).unwrap_err();
    assert!(matches!(err, SnapshotError::BadMagic));
    assert!(err.to_string().contains("bad magic"));
    let (_, r) = load_bytes(
        b"not a snapshot at all, but long enough to have a trailer",
        1,
        NOW_MS,
    );
    assert!(matches!(r, Err(SnapshotError::BadMagic)), "{r:?}");

    // An unknown type tag names itself and its offset.
    let mut b = header_and_db0();
    let at = b.len();
    b.extend_from_slice(&[0x17, 0, 1, b'k', 0]);
    let err = read_all(&b, true).unwrap_err();
    assert!(
        matches!(err, SnapshotError::UnknownTypeTag { tag: 0x17, offset } if offset == at as u64)
    );
    assert!(
        err.to_string()
            .starts_with(&format!("unknown type tag 0x17 at offset {at}")),
        "{err}"
    );

    // A flipped checksum byte is a checksum mismatch.
    let mut bad = good.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let (_, r) = load_bytes(&bad, 2, NOW_MS);
    let err = r.unwrap_err();
    assert!(
        matches!(err, SnapshotError::ChecksumMismatch { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("checksum mismatch"));
}

#[test]
fn structural_checks_catch_bad_collections() {
    let header = |b: &mut Vec<u8>, tag: TypeTag| b.extend_from_slice(&[tag as u8, 0, 1, b'k']);
    let score = |b: &mut Vec<u8>, s: f64| b.extend_from_slice(&s.to_bits().to_le_bytes());
    let mut cases: Vec<(Vec<u8>, &str)> = Vec::new();
    let mut b = header_and_db0();
    header(&mut b, TypeTag::Set);
    b.extend_from_slice(&[2, 1, b'a', 1, b'a']);
    cases.push((b, "duplicate set member"));
    let mut b = header_and_db0();
    header(&mut b, TypeTag::Hash);
    b.extend_from_slice(&[2, 1, b'f', 0, 1, b'f', 0]);
    cases.push((b, "duplicate hash field"));
    let mut b = header_and_db0();
    header(&mut b, TypeTag::ZSet);
    b.extend_from_slice(&[2, 1, b'a']);
    score(&mut b, 2.0);
    b.extend_from_slice(&[1, b'b']);
    score(&mut b, 1.0);
    cases.push((b, "ascending"));
    let mut b = header_and_db0();
    header(&mut b, TypeTag::ZSet);
    b.extend_from_slice(&[1, 1, b'a']);
    score(&mut b, f64::NAN);
    cases.push((b, "NaN"));
    let mut b = header_and_db0();
    b.extend_from_slice(&[TypeTag::String as u8, 0x02, 1, b'k', 0]);
    cases.push((b, "unknown record flags"));
    let mut b = header_and_db0();
    b.extend_from_slice(&[OP_DB_SECTION, 5]);
    cases.push((b, "not below the header's database count"));
    let mut b = header_and_db0();
    b.truncate(b.len() - 2);
    b.extend_from_slice(&[TypeTag::String as u8, 0, 1, b'k', 0]);
    cases.push((b, "before any database section"));
    for (mut bytes, what) in cases {
        // Give each a trailer with a correct checksum so only the structure is wrong.
        bytes.push(OP_END);
        bytes.extend_from_slice(&1u64.to_le_bytes());
        let crc = crate::crc64(&bytes);
        bytes.extend_from_slice(&crc.to_le_bytes());
        let err = read_all(&bytes, true).unwrap_err();
        assert!(err.to_string().contains(what), "{what}: {err}");
        let (mut s, r) = load_bytes(&bytes, 8, NOW_MS);
        assert!(r.is_err(), "{what}");
        assert!(dump(&mut s).is_empty());
    }
    // A trailer whose key count disagrees with the records.
    let mut b = header_and_db0();
    b.push(OP_END);
    b.extend_from_slice(&3u64.to_le_bytes());
    let crc = crate::crc64(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    let err = read_all(&b, true).unwrap_err();
    assert!(err.to_string().contains("counts 3 keys"), "{err}");
}

// ---------------------------------------------------------------------------------------------
// Property-based round trip.

#[derive(Debug, Clone)]
enum GenValue {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(Vec<Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
}

fn bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..12),
        (0i64..300).prop_map(|n| n.to_string().into_bytes()),
        proptest::collection::vec(any::<u8>(), 100..200),
    ]
}

fn value_strategy() -> impl Strategy<Value = GenValue> {
    let items = || proptest::collection::vec(bytes_strategy(), 1..20);
    let score = prop_oneof![
        (-1000i32..1000).prop_map(|i| f64::from(i) / 4.0),
        any::<f64>().prop_filter("no NaN", |f| !f.is_nan()),
    ];
    prop_oneof![
        bytes_strategy().prop_map(GenValue::Str),
        items().prop_map(GenValue::List),
        items().prop_map(GenValue::Set),
        proptest::collection::vec((bytes_strategy(), score), 1..20).prop_map(GenValue::ZSet),
        proptest::collection::vec((bytes_strategy(), bytes_strategy()), 1..20)
            .prop_map(GenValue::Hash),
    ]
}

fn build(v: GenValue) -> Value {
    match v {
        GenValue::Str(s) => Value::Str(s),
        GenValue::List(l) => Value::List(l.into_iter().collect()),
        GenValue::Set(items) => {
            let mut s = SetValue::new();
            for m in items {
                s.insert(&m);
            }
            Value::Set(s)
        }
        GenValue::ZSet(items) => {
            let mut z = ZSetValue::new();
            for (m, sc) in items {
                z.insert(&m, sc);
            }
            Value::ZSet(z)
        }
        GenValue::Hash(items) => {
            let mut h = HashValue::new();
            for (f, v) in items {
                h.insert(&f, &v);
            }
            Value::Hash(h)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_stores_round_trip(
        entries in proptest::collection::vec(
            (0usize..3, bytes_strategy(), value_strategy(), proptest::option::of(-5_000i64..50_000)),
            0..40,
        ),
        load_delay in 0i64..10_000,
    ) {
        let mut src = new_store(3);
        for (db, key, value, ttl) in entries {
            let ttl = ttl.map_or(Ttl::Persist, |d| Ttl::At(NOW_MS + d));
            src.db(db).set_value(&key, build(value), ttl);
        }
        let bytes = snapshot_bytes(&mut src);
        let (mut dst, report) = load_bytes(&bytes, 3, NOW_MS + load_delay);
        let report = report.unwrap();
        // Expected: what is live at load time.
        src.set_now(NOW_MS + load_delay);
        dst.set_now(NOW_MS + load_delay);
        let expected = dump(&mut src);
        prop_assert_eq!(report.keys_loaded as usize, expected.len());
        prop_assert_eq!(dump(&mut dst), expected);
    }
}

// ---------------------------------------------------------------------------------------------
// AOF recovery against a model.

/// A tiny command executor standing in for the server's command table.
fn exec(store: &mut Store, db: usize, args: Args<'_>) -> Result<(), String> {
    let name = args.get(0).unwrap_or_default().to_ascii_uppercase();
    let mut d = store.db(db);
    let key = args.get(1).ok_or("wrong number of arguments")?;
    let int = |i: usize| args.get(i).and_then(parse_i64).ok_or("not an integer");
    match &name[..] {
        b"SET" => {
            let now = d.now_ms();
            let ttl = match args.len() {
                3 => Ttl::Persist,
                5 if args.arg(3).eq_ignore_ascii_case(b"PXAT") => Ttl::At(int(4)?),
                5 if args.arg(3).eq_ignore_ascii_case(b"EX") => Ttl::At(now + int(4)? * 1000),
                _ => return Err("unsupported SET form".into()),
            };
            d.set_value(key, Value::Str(args.arg(2).to_vec()), ttl);
        }
        b"SETEX" => {
            let at = d.now_ms() + int(2)? * 1000;
            d.set_value(
                key,
                Value::Str(args.get(3).ok_or("arity")?.to_vec()),
                Ttl::At(at),
            );
        }
        b"EXPIRE" => {
            let at = d.now_ms() + int(2)? * 1000;
            d.set_expire(key, Some(at));
        }
        b"GETEX" if args.len() == 4 && args.arg(2).eq_ignore_ascii_case(b"PX") => {
            let at = d.now_ms() + int(3)?;
            d.set_expire(key, Some(at));
        }
        b"DEL" => {
            d.remove(key);
        }
        b"PEXPIREAT" => {
            d.set_expire(key, Some(int(2)?));
        }
        b"PERSIST" => {
            d.set_expire(key, None);
        }
        b"RPUSH" => {
            let v = d
                .value_mut_or_insert(key, || Value::List(ListValue::default()))
                .map_err(|_| "WRONGTYPE")?;
            if let Value::List(l) = v {
                for item in args.iter().skip(2) {
                    l.push_back(item);
                }
            }
        }
        b"HSET" => {
            let v = d
                .value_mut_or_insert(key, || Value::Hash(HashValue::new()))
                .map_err(|_| "WRONGTYPE")?;
            if let Value::Hash(h) = v {
                let rest: Vec<&[u8]> = args.iter().skip(2).collect();
                for pair in rest.chunks_exact(2) {
                    h.insert(pair[0], pair[1]);
                }
            }
        }
        b"SADD" => {
            let v = d
                .value_mut_or_insert(key, || Value::Set(SetValue::new()))
                .map_err(|_| "WRONGTYPE")?;
            if let Value::Set(s) = v {
                for m in args.iter().skip(2) {
                    s.insert(m);
                }
            }
        }
        b"ZADD" => {
            let v = d
                .value_mut_or_insert(key, || Value::ZSet(ZSetValue::new()))
                .map_err(|_| "WRONGTYPE")?;
            if let Value::ZSet(z) = v {
                let rest: Vec<&[u8]> = args.iter().skip(2).collect();
                for pair in rest.chunks_exact(2) {
                    let score = std::str::from_utf8(pair[0])
                        .ok()
                        .and_then(|s| s.parse::<f64>().ok())
                        .ok_or("not a float")?;
                    z.insert(pair[1], score);
                }
            }
        }
        _ => {
            return Err(format!(
                "unknown command '{}'",
                String::from_utf8_lossy(&name)
            ))
        }
    }
    d.signal_modified(key, 1);
    Ok(())
}

/// The server side of the test: executes commands on the live store and logs them.
struct Server {
    store: Store,
    enc: AofEncoder,
    log: Vec<u8>,
}

impl Server {
    fn new() -> Self {
        Server {
            store: new_store(4),
            enc: AofEncoder::new(),
            log: Vec::new(),
        }
    }

    fn run(&mut self, db: usize, parts: &[&str]) {
        let cmd = OwnedArgs::from_slices(parts.iter().map(|s| s.as_bytes()));
        exec(&mut self.store, db, cmd.args()).unwrap();
        let logged = rewrite_for_log(cmd.args(), self.store.now_ms()).unwrap_or(cmd);
        self.enc.append(&mut self.log, db, logged.iter());
    }

    /// Appends the buffered log to `path` (the writer thread's job).
    fn flush(&mut self, path: &Path) {
        use std::io::Write;
        let mut f = fs::OpenOptions::new().append(true).open(path).unwrap();
        f.write_all(&self.log).unwrap();
        self.log.clear();
    }
}

fn recover_into(
    dir: &Path,
    opts: &RecoveryOptions,
) -> (Store, Result<crate::RecoveryReport, RecoveryError>) {
    let mut store = new_store(4);
    let r = recover(dir, "appendonly.aof", &mut store, opts, exec, |_, _| {});
    (store, r)
}

/// Builds a directory with base + two incr files; returns (dir guard, dir, live server).
fn aof_dir_with_base_and_two_incrs() -> (tempfile::TempDir, std::path::PathBuf, Server) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("appendonlydir");
    let mut m = Manifest::new(&dir, "appendonly.aof").unwrap();
    let mut srv = Server::new();
    let incr1 = m.open_new_incr().unwrap();
    srv.run(0, &["SET", "a", "1"]);
    srv.run(0, &["RPUSH", "list", "x", "y"]);
    srv.run(1, &["HSET", "h", "f", "v", "g", "w"]);
    srv.run(0, &["SET", "ttl", "v", "EX", "100"]);
    srv.run(2, &["SETEX", "short", "1", "v"]);
    srv.flush(&incr1);

    // Rewrite: switch to a new incr file, snapshot the data as of the switch, finish.
    let plan = m.start_rewrite().unwrap();
    srv.enc.force_select();
    let header = SnapshotHeader::for_store(&srv.store, NOW_MS);
    let mut base_image = Vec::new();
    for db in 0..srv.store.db_count() {
        srv.store.db(db).for_each_live(|e| {
            let v = match e.value() {
                ValueRef::Str(s) => Value::Str(s.to_vec()),
                ValueRef::Obj(v) => v.clone(),
            };
            base_image.push((db, e.key().to_vec(), v, e.expire()));
        });
    }
    srv.run(0, &["SADD", "s", "m1", "m2"]);
    srv.run(3, &["ZADD", "z", "1.5", "a", "-2", "b"]);
    srv.run(0, &["EXPIRE", "a", "1000"]);
    srv.flush(&plan.incr_path);
    write_snapshot_file(&plan.base_path, &header, |w| {
        for (db, k, v, exp) in &base_image {
            w.write_value(*db, k, v, *exp)?;
        }
        Ok(())
    })
    .unwrap();
    m.finish_rewrite_keeping_history(&plan).unwrap();
    m.delete_history().unwrap();
    assert!(!incr1.exists());

    // A later rewrite that failed after switching: a second incr file stays listed.
    srv.run(0, &["DEL", "list"]);
    srv.run(1, &["HSET", "h", "f", "v2"]);
    srv.flush(&plan.incr_path);
    let failed = m.start_rewrite().unwrap();
    srv.enc.force_select();
    srv.run(1, &["SET", "after", "x"]);
    srv.run(0, &["GETEX", "s", "PX", "50000"]);
    srv.flush(&failed.incr_path);
    assert!(!failed.base_path.exists());
    let m = Manifest::load(&dir, "appendonly.aof").unwrap();
    assert!(m.base().is_some());
    assert_eq!(m.incrs().len(), 2);
    (tmp, dir, srv)
}

#[test]
fn recovery_of_base_and_two_incr_files_matches_the_live_store() {
    let (_tmp, dir, mut srv) = aof_dir_with_base_and_two_incrs();
    let opts = RecoveryOptions::new(NOW_MS);
    let mut progress = Vec::new();
    let mut store = new_store(4);
    let report = recover(&dir, "appendonly.aof", &mut store, &opts, exec, |d, t| {
        progress.push((d, t))
    })
    .unwrap();
    assert!(report.manifest_found);
    assert_eq!(report.files.len(), 3);
    assert!(report.truncated.is_none());
    assert_eq!(report.commands_applied, 7);
    assert_eq!(report.files[0].keys_loaded, 5);
    assert_eq!(
        progress.last(),
        Some(&(report.total_bytes, report.total_bytes))
    );
    assert!(progress.windows(2).all(|w| w[0].0 <= w[1].0));
    assert_eq!(store.common.dirty, 0);
    let expected = dump(&mut srv.store);
    assert_eq!(dump(&mut store), expected);
    // Relative expiries were logged as absolute deadlines.
    assert_eq!(expected[&(0, b"a".to_vec())].1, Some(NOW_MS + 1_000_000));
    assert_eq!(expected[&(0, b"s".to_vec())].1, Some(NOW_MS + 50_000));

    // Recovering later: the snapshot skips keys already expired, and replayed past deadlines
    // delete keys (the store clock is set first, as the server does).
    let later = NOW_MS + 60_000;
    let mut store = new_store(4);
    store.set_now(later);
    recover(
        &dir,
        "appendonly.aof",
        &mut store,
        &RecoveryOptions::new(later),
        exec,
        |_, _| {},
    )
    .unwrap();
    srv.store.set_now(later);
    assert_eq!(dump(&mut store), dump(&mut srv.store));
    assert!(!dump(&mut store).contains_key(&(0, b"s".to_vec())));
}

#[test]
fn truncated_last_incr_file_with_and_without_permission() {
    let (_tmp, dir, mut srv) = aof_dir_with_base_and_two_incrs();
    let m = Manifest::load(&dir, "appendonly.aof").unwrap();
    let last = m.current_incr().unwrap();
    let good_len = fs::metadata(&last).unwrap().len();
    let expected = dump(&mut srv.store);
    // A torn write: half of a command.
    let mut torn = Vec::new();
    crate::encode_command(&mut torn, [&b"SET"[..], b"torn", b"value"]);
    let mut bytes = fs::read(&last).unwrap();
    bytes.extend_from_slice(&torn[..torn.len() / 2]);
    fs::write(&last, &bytes).unwrap();

    let strict = RecoveryOptions {
        load_truncated: false,
        now_ms: NOW_MS,
    };
    let (_, r) = recover_into(&dir, &strict);
    match r {
        Err(e @ RecoveryError::Truncated { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&format!("offset {good_len}")), "{msg}");
            assert!(msg.contains("appendonly.aof.3.incr.aof"), "{msg}");
            assert!(msg.contains("aof-load-truncated"), "{msg}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        fs::read(&last).unwrap(),
        bytes,
        "strict mode leaves the file alone"
    );

    let (mut store, r) = recover_into(&dir, &RecoveryOptions::new(NOW_MS));
    let r = r.unwrap();
    let t = r.truncated.unwrap();
    assert_eq!(t.file, last);
    assert_eq!(t.valid_len, good_len);
    assert_eq!(t.original_len, bytes.len() as u64);
    assert_eq!(fs::metadata(&last).unwrap().len(), good_len);
    assert_eq!(dump(&mut store), expected);
    // Now clean.
    let (_, r) = recover_into(&dir, &strict);
    assert!(r.unwrap().truncated.is_none());
}

/// Appends `n` zero bytes to `path` (the space the live writer preallocates).
fn append_zeros(path: &Path, n: usize) {
    let mut bytes = fs::read(path).unwrap();
    bytes.resize(bytes.len() + n, 0);
    fs::write(path, &bytes).unwrap();
}

#[test]
fn log_len_ends_at_the_last_non_zero_byte() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("log");
    let len_of = |bytes: &[u8]| {
        fs::write(&path, bytes).unwrap();
        crate::log_len_of(&path).unwrap()
    };
    assert_eq!(len_of(b""), 0);
    assert_eq!(len_of(&[0; 10]), 0);
    assert_eq!(len_of(b"*1\r\n$4\r\nPING\r\n"), 14);
    // Zeros over several scan blocks, and data over several blocks before them.
    let mut bytes = vec![b'x'; 200_000];
    bytes.push(b'\n');
    bytes.extend(std::iter::repeat_n(0u8, 300_000));
    assert_eq!(len_of(&bytes), 200_001);
    bytes[199_999] = 0;
    bytes[200_000] = b'y';
    assert_eq!(len_of(&bytes), 200_001);
}

#[test]
fn preallocated_zeros_after_the_last_incr_file_are_not_data() {
    let (_tmp, dir, mut srv) = aof_dir_with_base_and_two_incrs();
    let expected = dump(&mut srv.store);
    let (_, clean) = recover_into(&dir, &RecoveryOptions::new(NOW_MS));
    let clean = clean.unwrap();
    let m = Manifest::load(&dir, "appendonly.aof").unwrap();
    let last = m.current_incr().unwrap();
    let good_len = fs::metadata(&last).unwrap().len();
    append_zeros(&last, 150_000);

    // Loads the same data with the same sizes, with nothing cut or reported torn, and even
    // with aof-load-truncated off.
    let strict = RecoveryOptions {
        load_truncated: false,
        now_ms: NOW_MS,
    };
    let (mut store, r) = recover_into(&dir, &strict);
    let r = r.unwrap();
    assert!(r.truncated.is_none());
    assert_eq!(r.total_bytes, clean.total_bytes);
    assert_eq!(r.files.last().unwrap().bytes, good_len);
    assert_eq!(dump(&mut store), expected);
    // The offline check agrees: valid, with the zeros reported as preallocated space.
    let report = check_aof(&last, true).unwrap();
    assert!(report.is_ok(), "{report}");
    assert!(!report.fixed);
    assert_eq!(report.preallocated, 150_000);
    assert_eq!(report.valid_len, good_len + 150_000);
    assert!(
        report.to_string().contains("preallocated space"),
        "{report}"
    );
    assert_eq!(fs::metadata(&last).unwrap().len(), good_len + 150_000);

    // A command torn inside preallocated space (the process died in the middle of a write):
    // a torn tail at the end of the data, cut together with the zeros.
    let mut torn = Vec::new();
    crate::encode_command(&mut torn, [&b"SET"[..], b"torn", b"value"]);
    let mut bytes = fs::read(&last).unwrap();
    let cut = torn.len() / 2;
    bytes[good_len as usize..good_len as usize + cut].copy_from_slice(&torn[..cut]);
    fs::write(&last, &bytes).unwrap();
    let (_, r) = recover_into(&dir, &strict);
    assert!(matches!(r, Err(RecoveryError::Truncated { .. })), "{r:?}");
    let (mut store, r) = recover_into(&dir, &RecoveryOptions::new(NOW_MS));
    let t = r.unwrap().truncated.unwrap();
    assert_eq!(
        (t.valid_len, t.original_len),
        (good_len, good_len + cut as u64)
    );
    assert_eq!(fs::metadata(&last).unwrap().len(), good_len);
    assert_eq!(dump(&mut store), expected);
}

#[test]
fn torn_middle_file_and_unfinished_multi() {
    let (_tmp, dir, mut srv) = aof_dir_with_base_and_two_incrs();
    let m = Manifest::load(&dir, "appendonly.aof").unwrap();
    let first_incr = m.path_of(&m.incrs()[0]);
    let last = m.current_incr().unwrap();
    let expected = dump(&mut srv.store);

    // An unfinished MULTI at the end of the last file: reverted, not applied.
    let good_len = fs::metadata(&last).unwrap().len();
    let mut tail = Vec::new();
    crate::encode_command(&mut tail, [&b"MULTI"[..]]);
    crate::encode_command(&mut tail, [&b"SET"[..], b"tx", b"1"]);
    let mut bytes = fs::read(&last).unwrap();
    bytes.extend_from_slice(&tail);
    fs::write(&last, &bytes).unwrap();
    let check = check_aof(&last, false).unwrap();
    assert!(
        matches!(check.status, CheckStatus::Truncated { .. }),
        "{check}"
    );
    assert_eq!(check.valid_len, good_len);
    let (mut store, r) = recover_into(&dir, &RecoveryOptions::new(NOW_MS));
    assert_eq!(r.unwrap().truncated.unwrap().valid_len, good_len);
    assert_eq!(dump(&mut store), expected);
    assert_eq!(fs::metadata(&last).unwrap().len(), good_len);

    // A complete MULTI/EXEC block is applied.
    let mut block = Vec::new();
    crate::encode_command(&mut block, [&b"MULTI"[..]]);
    crate::encode_command(&mut block, [&b"SET"[..], b"tx", b"1"]);
    crate::encode_command(&mut block, [&b"EXEC"[..]]);
    let mut bytes = fs::read(&last).unwrap();
    bytes.extend_from_slice(&block);
    fs::write(&last, &bytes).unwrap();
    let (mut store, r) = recover_into(&dir, &RecoveryOptions::new(NOW_MS));
    assert_eq!(r.unwrap().commands_applied, 8);
    assert!(dump(&mut store).contains_key(&(0, b"tx".to_vec())));

    // A torn tail in a file that is not the last is fatal even with aof-load-truncated.
    let mut bytes = fs::read(&first_incr).unwrap();
    bytes.extend_from_slice(b"*3\r\n$3\r\nSET");
    fs::write(&first_incr, &bytes).unwrap();
    let (_, r) = recover_into(&dir, &RecoveryOptions::new(NOW_MS));
    let err = r.unwrap_err();
    assert!(matches!(err, RecoveryError::Truncated { .. }), "{err}");
    assert!(err.to_string().contains("only the last file"), "{err}");
}

#[test]
fn recovery_errors_name_the_file_and_offset() {
    // No manifest: nothing to load.
    let tmp = tempfile::tempdir().unwrap();
    let (_, r) = recover_into(tmp.path(), &RecoveryOptions::new(NOW_MS));
    assert!(!r.unwrap().manifest_found);

    let (_tmp, dir, _) = aof_dir_with_base_and_two_incrs();
    let m = Manifest::load(&dir, "appendonly.aof").unwrap();
    let last = m.current_incr().unwrap();
    let original = fs::read(&last).unwrap();

    // Corruption in the middle of the last file.
    let mut bad = original.clone();
    let at = bad.len();
    bad.extend_from_slice(
        b"*1\r\n$4\r\nPING\r\n"
            .map(|c| if c == b'$' { b'%' } else { c })
            .as_slice(),
    );
    crate::encode_command(&mut bad, [&b"SET"[..], b"k", b"v"]);
    fs::write(&last, &bad).unwrap();
    let (_, r) = recover_into(&dir, &RecoveryOptions::new(NOW_MS));
    let err = r.unwrap_err();
    assert!(
        matches!(err, RecoveryError::Aof(AofError::Corrupt { offset, .. }) if offset == at as u64)
    );
    let msg = err.to_string();
    assert!(
        msg.contains("appendonly.aof.3.incr.aof") && msg.contains(&format!("offset {at}")),
        "{msg}"
    );

    // An unknown command refused by the closure.
    let mut bad = original.clone();
    crate::encode_command(&mut bad, [&b"FROBNICATE"[..], b"k"]);
    fs::write(&last, &bad).unwrap();
    let (_, r) = recover_into(&dir, &RecoveryOptions::new(NOW_MS));
    let err = r.unwrap_err();
    assert!(
        matches!(&err, RecoveryError::Command { command, offset, .. } if command == "FROBNICATE" && *offset == original.len() as u64),
        "{err}"
    );

    // A SELECT of a database the store lacks.
    let mut bad = original.clone();
    crate::encode_command(&mut bad, [&b"SELECT"[..], b"99"]);
    fs::write(&last, &bad).unwrap();
    let (_, r) = recover_into(&dir, &RecoveryOptions::new(NOW_MS));
    assert!(matches!(r, Err(RecoveryError::BadCommand { .. })));

    // A listed file that is missing.
    fs::write(&last, &original).unwrap();
    fs::remove_file(m.path_of(m.base().unwrap())).unwrap();
    let (_, r) = recover_into(&dir, &RecoveryOptions::new(NOW_MS));
    assert!(matches!(r, Err(RecoveryError::MissingFile { .. })));
}

#[test]
fn check_aof_reports_and_fixes() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a.aof");
    let mut log = Vec::new();
    let mut enc = AofEncoder::new();
    enc.append(&mut log, 0, [&b"SET"[..], b"k", b"v"]);
    enc.append(&mut log, 0, [&b"DEL"[..], b"k"]);
    let good = log.len() as u64;
    fs::write(&path, &log).unwrap();
    let r = check_aof(&path, true).unwrap();
    assert!(r.is_ok() && !r.fixed, "{r}");
    assert_eq!(
        (r.commands, r.valid_len, r.format),
        (3, good, FileFormat::Aof)
    );

    // Torn tail: reported, then fixed.
    let mut torn = log.clone();
    torn.extend_from_slice(b"*2\r\n$3\r\nDEL\r\n$1\r");
    fs::write(&path, &torn).unwrap();
    let r = check_aof(&path, false).unwrap();
    assert!(matches!(r.status, CheckStatus::Truncated { .. }));
    assert_eq!(r.valid_len, good);
    assert_eq!(fs::metadata(&path).unwrap().len(), torn.len() as u64);
    let text = r.to_string();
    assert!(text.contains(&format!("ok_up_to={good}")), "{text}");
    let r = check_aof(&path, true).unwrap();
    assert!(r.fixed);
    assert_eq!(fs::read(&path).unwrap(), log);

    // Corruption in the middle: --fix cuts at the bad command, dropping what follows.
    let mut bad = log.clone();
    bad.extend_from_slice(b"*1\r\n$4\r\nPINGxx");
    bad.extend_from_slice(&log);
    fs::write(&path, &bad).unwrap();
    let r = check_aof(&path, false).unwrap();
    assert!(
        matches!(r.status, CheckStatus::Corrupt { offset, .. } if offset == good),
        "{r}"
    );
    let r = check_aof(&path, true).unwrap();
    assert!(r.fixed);
    assert_eq!(fs::read(&path).unwrap(), log);

    // EXEC without MULTI.
    let mut bad = log.clone();
    crate::encode_command(&mut bad, [&b"EXEC"[..]]);
    fs::write(&path, &bad).unwrap();
    let r = check_aof(&path, false).unwrap();
    assert!(
        matches!(r.status, CheckStatus::Corrupt { offset, .. } if offset == good),
        "{r}"
    );

    // A snapshot given to check_aof is checked as a snapshot; a corrupted one reports where.
    let snap = tmp.path().join("d.snap");
    fs::write(&snap, small_snapshot()).unwrap();
    let r = check_aof(&snap, true).unwrap();
    assert_eq!(r.format, FileFormat::Snapshot);
    assert!(r.is_ok());
    assert_eq!(r.total_keys(), 5);
    let mut bytes = small_snapshot();
    bytes.truncate(bytes.len() - 3);
    fs::write(&snap, &bytes).unwrap();
    let r = check_snapshot(&snap).unwrap();
    assert!(matches!(r.status, CheckStatus::Truncated { .. }), "{r}");
    let mut bytes = small_snapshot();
    bytes[40] ^= 0x55;
    fs::write(&snap, &bytes).unwrap();
    let r = check_snapshot(&snap).unwrap();
    assert!(!r.is_ok(), "{r}");
    assert!(!r.fixed);
    assert_eq!(
        fs::read(&snap).unwrap(),
        bytes,
        "snapshots are never modified"
    );
}

#[test]
fn check_aof_dir_fixes_only_the_last_file() {
    let (_tmp, dir, _) = aof_dir_with_base_and_two_incrs();
    let m = Manifest::load(&dir, "appendonly.aof").unwrap();
    let reports = check_aof_dir(&dir, "appendonly.aof", true).unwrap();
    assert_eq!(reports.len(), 3);
    assert!(reports.iter().all(|r| r.is_ok()));
    assert_eq!(reports[0].format, FileFormat::Snapshot);
    let last = m.current_incr().unwrap();
    let len = fs::metadata(&last).unwrap().len();
    let mut bytes = fs::read(&last).unwrap();
    bytes.extend_from_slice(b"*1\r\n");
    fs::write(&last, &bytes).unwrap();
    let first = m.path_of(&m.incrs()[0]);
    let mut fb = fs::read(&first).unwrap();
    fb.extend_from_slice(b"*1\r\n");
    fs::write(&first, &fb).unwrap();
    let reports = check_aof_dir(&dir, "appendonly.aof", true).unwrap();
    assert!(!reports[1].is_ok() && !reports[1].fixed);
    assert!(reports[2].fixed);
    assert_eq!(fs::metadata(&last).unwrap().len(), len);
    assert_eq!(fs::read(&first).unwrap(), fb);
}

/// A crash can stop a write at any byte. Whatever the cut, recovery with `aof-load-truncated`
/// loads exactly the commands that are complete before it (a MULTI block only with its EXEC),
/// repairs the file to that boundary, and without the permission refuses to start.
#[test]
fn every_cut_of_a_small_aof_loads_exactly_the_complete_commands() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("appendonlydir");
    let mut m = Manifest::new(&dir, "appendonly.aof").unwrap();
    let incr = m.open_new_incr().unwrap();
    let mut srv = Server::new();
    // After each step: the log length and the data a replay of the log so far must give.
    let mut boundaries = vec![(0usize, dump(&mut srv.store))];
    let steps: &[(usize, &[&str])] = &[
        (0, &["SET", "a", "1"]),
        (0, &["RPUSH", "l", "x", "y"]),
        (1, &["SET", "b", "2", "EX", "100"]),
        (0, &["SADD", "s", "m1", "m2"]),
    ];
    for (db, cmd) in steps {
        srv.run(*db, cmd);
        boundaries.push((srv.log.len(), dump(&mut srv.store)));
    }
    // A transaction: only whole with its EXEC.
    let select = srv.enc.selected_db().unwrap_or(0);
    crate::encode_command(&mut srv.log, [&b"MULTI"[..]]);
    srv.run(select, &["SET", "t1", "v"]);
    srv.run(select, &["SET", "t2", "v"]);
    crate::encode_command(&mut srv.log, [&b"EXEC"[..]]);
    boundaries.push((srv.log.len(), dump(&mut srv.store)));
    let full = srv.log.clone();
    srv.flush(&incr);
    // Every command end (SELECTs included): a cut there is clean, outside a MULTI block.
    let mut reader = crate::AofReader::new(std::io::Cursor::new(full.clone()), "incr");
    let mut ends = vec![0u64];
    let mut multi_start = None;
    while let Some(cmd) = reader.next_command().unwrap() {
        if cmd.args.args().arg(0) == b"MULTI" {
            multi_start = Some(cmd.start);
        }
        ends.push(cmd.end);
    }
    let multi_start = multi_start.unwrap() as usize;

    for cut in 0..=full.len() {
        fs::write(&incr, &full[..cut]).unwrap();
        let strict = RecoveryOptions {
            load_truncated: false,
            now_ms: NOW_MS,
        };
        let want = boundaries
            .iter()
            .rev()
            .find(|(end, _)| *end <= cut)
            .map(|(_, d)| d.clone())
            .unwrap();
        // Inside the MULTI block, even at a command boundary, the block is unfinished.
        let in_multi = cut > multi_start && cut < full.len();
        let complete = !in_multi && ends.contains(&(cut as u64));
        let want_len = if in_multi {
            multi_start
        } else {
            *ends.iter().rev().find(|e| **e <= cut as u64).unwrap() as usize
        };
        let (_, r) = recover_into(&dir, &strict);
        if complete {
            assert!(r.is_ok(), "cut {cut}: {r:?}");
        } else {
            assert!(
                matches!(r, Err(RecoveryError::Truncated { .. })),
                "cut {cut}: strict mode must refuse a torn tail: {r:?}"
            );
        }
        let (mut store, r) = recover_into(&dir, &RecoveryOptions::new(NOW_MS));
        let r = r.unwrap_or_else(|e| panic!("cut {cut}: {e}"));
        assert_eq!(dump(&mut store), want, "cut {cut}");
        assert_eq!(
            fs::metadata(&incr).unwrap().len(),
            want_len as u64,
            "cut {cut}: file repaired to the last complete command"
        );
        assert_eq!(r.truncated.is_some(), !complete, "cut {cut}");
    }
}

#[test]
fn single_values_round_trip_and_damaged_ones_are_rejected() {
    let mut store = rich_store(300, false);
    let mut checked = 0;
    for db in 0..store.db_count() {
        let mut items = Vec::new();
        store.db(db).for_each_live(|e| {
            if !matches!(e.value(), ValueRef::Obj(v) if v.is_empty_collection()) {
                items.push((
                    canon(e.value()),
                    e.expire(),
                    encode_value(e.value(), e.expire()),
                ));
            }
        });
        for (want, expire, bytes) in items {
            let (value, got_expire) = decode_value(&bytes).unwrap();
            assert_eq!(canon(ValueRef::Obj(&value)), want);
            assert_eq!(got_expire, expire);
            // Every truncation and one trailing byte are errors, never a panic or a wrong value.
            for cut in 0..bytes.len() {
                assert!(decode_value(&bytes[..cut]).is_err(), "cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(decode_value(&longer).is_err());
            checked += 1;
        }
    }
    assert!(checked > 10);
}
