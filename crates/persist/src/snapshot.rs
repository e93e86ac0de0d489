//! The snapshot file format (ringkv's RDB): a point-in-time image of every database, written as
//! one stream, read back as a stream of records, and protected by a CRC-64 trailer.
//!
//! # Layout (format version 1)
//!
//! All fixed-width integers are little-endian; `varint` is unsigned LEB128 (at most 10 bytes,
//! value < 2^64); `bytes` is `varint length` followed by that many bytes.
//!
//! ```text
//! header   "RINGKV-SNAP"            11 bytes, magic
//!          version                  u16   = 1 (SNAPSHOT_FORMAT_VERSION)
//!          created_ms               i64   unix ms when the snapshot was started
//!          db_count                 u32   databases of the writing server (>= 1)
//!          aux_count                varint, then aux_count x (bytes name, bytes value)
//! body     any number of:
//!   0xFE   db section               varint db index (< db_count); following records belong to it
//!   tag    key record               tag = type tag (table below)
//!          flags                    u8: bit 0 = has expiry; other bits must be 0
//!          [expire_ms]              i64 absolute unix ms, present iff bit 0
//!          key                      bytes
//!          value                    per type, below
//! trailer  0xFF                     end marker
//!          key_count                u64: number of key records in the body
//!          crc64                    u64: CRC-64/REDIS of every byte before this field
//! ```
//!
//! Values:
//!
//! | tag  | type   | encoding                                                               |
//! |------|--------|------------------------------------------------------------------------|
//! | 0x00 | string | bytes                                                                  |
//! | 0x01 | list   | varint count, count x bytes, head to tail                              |
//! | 0x02 | set    | varint count, count x bytes (distinct)                                  |
//! | 0x03 | zset   | varint count, count x (bytes member, u64 f64-bits score), ascending by (score, member), no NaN |
//! | 0x04 | hash   | varint count, count x (bytes field, bytes value) (distinct fields)       |
//! | 0x05 | stream | see below                                                              |
//!
//! A stream (IDs are two varints, ms then seq; times are i64 little-endian unix ms):
//! last ID, first ID, max deleted ID, varint entries added; varint entry count, each: ID
//! (strictly ascending, not above the last ID), varint element count (even, at least 2), the
//! elements as bytes (field, value, ...); varint macro-node count, each: first ID, last ID, varint
//! taken, varint live, varint estimated bytes; varint group count, each (names strictly
//! ascending): bytes name, last delivered ID, varint entries read + 1 (0: unknown), varint
//! consumer count, each (names strictly ascending): bytes name, seen time, active time; varint
//! pending count, each (IDs strictly ascending): ID, bytes consumer name (one of the group's),
//! delivery time, varint delivery count.
//!
//! Tags `0x06..=0xFD` are reserved for types added later. Adding a tag is an
//! additive change that keeps the format version: older readers reject the new tag with
//! [`SnapshotError::UnknownTypeTag`] (naming the tag and its offset) instead of misreading it.
//! Changing how an existing tag is encoded requires bumping [`SNAPSHOT_FORMAT_VERSION`].
//!
//! # Invariants
//! - A snapshot on disk is complete or absent: [`write_snapshot_file`] writes `<path>.tmp`,
//!   fsyncs it, renames it over `<path>` and fsyncs the directory.
//! - No byte sequence makes the reader panic or allocate more than the file can back: lengths and
//!   counts are checked against the remaining file before any allocation (see `codec.rs`).
//! - [`load_snapshot`] verifies the checksum of the whole file before it inserts a single key, so
//!   a corrupted file leaves the store untouched rather than half-loaded with wrong data.
//! - Empty collections are never written (Redis never keeps them); if a file has one, it is
//!   skipped and counted in [`LoadReport::empty_skipped`].

use crate::codec::{Input, Output};
use crate::fsutil::write_atomically;
use ringkv_engine::types::stream::{
    ConsumerGroup, Fields, Node, PendingEntry, StreamId, StreamMeta, StreamValue,
};
use ringkv_engine::types::zset::cmp_score;
use ringkv_engine::{HashValue, ListValue, SetValue, Store, Ttl, Value, ValueRef, ZSetValue};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;

/// First bytes of every snapshot.
pub const SNAPSHOT_MAGIC: &[u8; 11] = b"RINGKV-SNAP";
/// The format version this build writes and reads.
pub const SNAPSHOT_FORMAT_VERSION: u16 = 1;

/// Opcode starting a database section.
pub const OP_DB_SECTION: u8 = 0xFE;
/// Opcode ending the body (followed by the trailer).
pub const OP_END: u8 = 0xFF;
/// Record flag: an `i64` expiry follows.
pub const FLAG_HAS_EXPIRY: u8 = 0x01;
const KNOWN_FLAGS: u8 = FLAG_HAS_EXPIRY;

/// Bytes after the end marker: key count and checksum.
const TRAILER_FIELDS_BYTES: u64 = 16;
/// Smallest possible file: header without aux fields plus the trailer.
const MIN_FILE_BYTES: u64 = 11 + 2 + 8 + 4 + 1 + 1 + TRAILER_FIELDS_BYTES;
/// Smallest possible key record: type tag, flags, key length 0, string length 0.
const MIN_RECORD_BYTES: u64 = 4;
/// Chunk size of the checksum pre-pass of [`load_snapshot`].
const VERIFY_CHUNK_BYTES: usize = 1024 * 1024;
/// [`load_snapshot`] reports progress at most once per this many bytes.
pub const PROGRESS_INTERVAL_BYTES: u64 = 1024 * 1024;
/// Name of the aux field carrying the writer's version.
pub const AUX_WRITER_VERSION: &[u8] = b"ringkv-ver";

/// The value type tags of format version 1. The table is explicit so that a tag can never be
/// reused by accident; see the module docs for how new types are added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum TypeTag {
    String = 0x00,
    List = 0x01,
    Set = 0x02,
    ZSet = 0x03,
    Hash = 0x04,
    Stream = 0x05,
}

impl TypeTag {
    /// Every tag this build knows, in tag order.
    pub const ALL: [TypeTag; 6] = [
        TypeTag::String,
        TypeTag::List,
        TypeTag::Set,
        TypeTag::ZSet,
        TypeTag::Hash,
        TypeTag::Stream,
    ];

    pub fn from_u8(tag: u8) -> Option<TypeTag> {
        TypeTag::ALL.into_iter().find(|t| *t as u8 == tag)
    }

    /// The tag of a value.
    pub fn of(value: ValueRef<'_>) -> TypeTag {
        match value {
            ValueRef::Str(_) | ValueRef::Obj(Value::Str(_)) => TypeTag::String,
            ValueRef::Obj(Value::List(_)) => TypeTag::List,
            ValueRef::Obj(Value::Set(_)) => TypeTag::Set,
            ValueRef::Obj(Value::ZSet(_)) => TypeTag::ZSet,
            ValueRef::Obj(Value::Hash(_)) => TypeTag::Hash,
            ValueRef::Obj(Value::Stream(_)) => TypeTag::Stream,
        }
    }

    /// The Redis type name (as TYPE reports it).
    pub fn name(self) -> &'static str {
        match self {
            TypeTag::String => "string",
            TypeTag::List => "list",
            TypeTag::Set => "set",
            TypeTag::ZSet => "zset",
            TypeTag::Hash => "hash",
            TypeTag::Stream => "stream",
        }
    }
}

/// Everything wrong a snapshot can be. Offsets are byte offsets from the start of the file.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("I/O error at offset {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("bad magic: not a ringkv snapshot (expected \"RINGKV-SNAP\" at offset 0)")]
    BadMagic,
    #[error("unsupported snapshot format version {version} (this build reads version {SNAPSHOT_FORMAT_VERSION})")]
    UnsupportedVersion { version: u16 },
    #[error("checksum mismatch: the trailer says {stored:#018x} but the content hashes to {computed:#018x}")]
    ChecksumMismatch { stored: u64, computed: u64 },
    #[error("truncated at offset {offset}: expected {expected}")]
    Truncated { offset: u64, expected: &'static str },
    #[error("unknown type tag {tag:#04x} at offset {offset} (format version {SNAPSHOT_FORMAT_VERSION} knows 0x00..=0x04)")]
    UnknownTypeTag { tag: u8, offset: u64 },
    #[error("{what} {len} at offset {offset} exceeds the remaining file ({remaining} bytes)")]
    LengthExceedsFile {
        what: &'static str,
        len: u64,
        offset: u64,
        remaining: u64,
    },
    #[error("corrupt snapshot at offset {offset}: {reason}")]
    Corrupt { offset: u64, reason: String },
    #[error("database {db} (record at offset {offset}) does not exist: the store has {available} databases")]
    DbOutOfRange {
        db: usize,
        offset: u64,
        available: usize,
    },
    #[error("duplicate key {key:?} in database {db} at offset {offset}")]
    DuplicateKey { db: usize, key: String, offset: u64 },
}

impl SnapshotError {
    /// The file offset the error refers to, when it has one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            SnapshotError::Io { offset, .. }
            | SnapshotError::Truncated { offset, .. }
            | SnapshotError::UnknownTypeTag { offset, .. }
            | SnapshotError::LengthExceedsFile { offset, .. }
            | SnapshotError::Corrupt { offset, .. }
            | SnapshotError::DbOutOfRange { offset, .. }
            | SnapshotError::DuplicateKey { offset, .. } => Some(*offset),
            SnapshotError::BadMagic => Some(0),
            SnapshotError::UnsupportedVersion { .. } => Some(SNAPSHOT_MAGIC.len() as u64),
            SnapshotError::ChecksumMismatch { .. } => None,
        }
    }

    /// True for an input that simply ends too early (a torn or partial file).
    pub fn is_truncation(&self) -> bool {
        matches!(self, SnapshotError::Truncated { .. })
    }

    fn io_at(offset: u64) -> impl FnOnce(io::Error) -> SnapshotError {
        move |source| SnapshotError::Io { offset, source }
    }
}

/// The header fields of a snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotHeader {
    /// Unix ms when the snapshot was started (the point in time it represents).
    pub created_ms: i64,
    /// Databases of the writing server (at least 1; record db indexes are below it).
    pub db_count: u32,
    /// Free-form named fields for metadata the server wants to keep with the data (writer
    /// version, replication id and offset, ...). Readers ignore names they do not know.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
}

impl SnapshotHeader {
    /// A header for `store` with the writer-version aux field.
    pub fn for_store(store: &Store, created_ms: i64) -> SnapshotHeader {
        SnapshotHeader {
            created_ms,
            db_count: u32::try_from(store.db_count()).unwrap_or(u32::MAX),
            aux: vec![(
                AUX_WRITER_VERSION.to_vec(),
                env!("CARGO_PKG_VERSION").as_bytes().to_vec(),
            )],
        }
    }

    /// The value of aux field `name`.
    pub fn aux(&self, name: &[u8]) -> Option<&[u8]> {
        self.aux
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// What a finished [`SnapshotWriter`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotSummary {
    /// Key records written.
    pub keys: u64,
    /// File size in bytes.
    pub bytes: u64,
    /// The CRC-64 stored in the trailer.
    pub checksum: u64,
}

/// Streams a snapshot to any `Write`, record by record, with bounded memory (a 64 KiB buffer;
/// big strings are passed through without copying).
///
/// The caller decides where records come from: [`SnapshotWriter::write_db`] walks a whole
/// database of a `Store`, while [`SnapshotWriter::write_entry`] / [`SnapshotWriter::write_value`]
/// accept one key at a time, so a server can copy a batch of entries under its lock, release it,
/// write the batch, and repeat. Database sections are emitted whenever the db of consecutive
/// records changes, so batches may interleave databases (the reader accepts any order), though
/// writing each database once, in order, gives the smallest file.
pub struct SnapshotWriter<W: Write> {
    out: Output<W>,
    records: RecordStream,
}

fn invalid_input(msg: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, msg)
}

impl<W: Write> SnapshotWriter<W> {
    /// Writes the header.
    pub fn new(out: W, header: &SnapshotHeader) -> io::Result<Self> {
        if header.db_count == 0 {
            return Err(invalid_input(
                "a snapshot needs at least one database".into(),
            ));
        }
        let mut out = Output::new(out);
        let b = out.buf();
        b.extend_from_slice(SNAPSHOT_MAGIC);
        b.extend_from_slice(&SNAPSHOT_FORMAT_VERSION.to_le_bytes());
        b.extend_from_slice(&header.created_ms.to_le_bytes());
        b.extend_from_slice(&header.db_count.to_le_bytes());
        out.put_varint(header.aux.len() as u64)?;
        for (name, value) in &header.aux {
            out.put_bytes(name)?;
            out.put_bytes(value)?;
        }
        Ok(SnapshotWriter {
            out,
            records: RecordStream::new(header),
        })
    }

    /// Key records written so far.
    pub fn keys_written(&self) -> u64 {
        self.records.keys
    }

    /// Writes one key. Empty collections are skipped (returns `Ok(false)`), as Redis never keeps
    /// them. `expire` is the absolute unix-ms deadline.
    pub fn write_entry(
        &mut self,
        db: usize,
        key: &[u8],
        value: ValueRef<'_>,
        expire: Option<i64>,
    ) -> io::Result<bool> {
        self.records.encode(&mut self.out, db, key, value, expire)
    }

    /// Appends records encoded elsewhere by an [`EntryEncoder`] for this snapshot's databases
    /// (they are checksummed here, as if written one by one).
    pub fn write_encoded(&mut self, entries: &EncodedEntries) -> io::Result<()> {
        if entries.db_count != self.records.db_count {
            return Err(invalid_input(format!(
                "records encoded for {} databases appended to a snapshot of {}",
                entries.db_count, self.records.db_count
            )));
        }
        self.out.put(&entries.bytes)?;
        self.records.keys += entries.keys;
        // The records may have switched databases: the next record states its own.
        self.records.current_db = None;
        Ok(())
    }

    /// Writes one key given an owned value (e.g. a copy taken under the store lock).
    pub fn write_value(
        &mut self,
        db: usize,
        key: &[u8],
        value: &Value,
        expire: Option<i64>,
    ) -> io::Result<bool> {
        self.write_entry(db, key, ValueRef::Obj(value), expire)
    }

    /// Writes every live key of database `db` of `store` (keys expired as of the store's clock
    /// are left out). Returns the number of keys written.
    pub fn write_db(&mut self, store: &mut Store, db: usize) -> io::Result<u64> {
        let before = self.records.keys;
        let mut result = Ok(());
        store.db(db).for_each_live(|e| {
            if result.is_ok() {
                result = self
                    .write_entry(db, e.key(), e.value(), e.expire())
                    .map(|_| ());
            }
        });
        result?;
        Ok(self.records.keys - before)
    }

    /// Writes the end marker and trailer, flushes, and returns the output.
    pub fn finish(mut self) -> io::Result<(W, SnapshotSummary)> {
        self.out.put_u8(OP_END)?;
        self.out.put(&self.records.keys.to_le_bytes())?;
        let checksum = self.out.checksum()?;
        self.out.write_unhashed(&checksum.to_le_bytes())?;
        let bytes = self.out.written();
        let out = self.out.into_inner()?;
        Ok((
            out,
            SnapshotSummary {
                keys: self.records.keys,
                bytes,
                checksum,
            },
        ))
    }
}

fn check_count(what: &str, declared: usize, iterated: usize) -> io::Result<()> {
    if declared == iterated {
        Ok(())
    } else {
        // The engine's len() and iterator disagree: refuse to produce a file that would not load.
        Err(io::Error::other(format!(
            "{what} reported {declared} elements but iterated {iterated}"
        )))
    }
}

/// Where records are encoded to: the snapshot's checksumming output, or the plain buffer of an
/// [`EntryEncoder`].
trait RecordOut {
    /// A scratch buffer for small items; a `put*` call follows before anything is flushed.
    fn scratch(&mut self) -> &mut Vec<u8>;
    fn put(&mut self, data: &[u8]) -> io::Result<()>;
    fn put_u8(&mut self, v: u8) -> io::Result<()>;
    fn put_varint(&mut self, v: u64) -> io::Result<()>;

    fn put_bytes(&mut self, data: &[u8]) -> io::Result<()> {
        self.put_varint(data.len() as u64)?;
        self.put(data)
    }
}

impl<W: Write> RecordOut for Output<W> {
    fn scratch(&mut self) -> &mut Vec<u8> {
        self.buf()
    }
    fn put(&mut self, data: &[u8]) -> io::Result<()> {
        Output::put(self, data)
    }
    fn put_u8(&mut self, v: u8) -> io::Result<()> {
        Output::put_u8(self, v)
    }
    fn put_varint(&mut self, v: u64) -> io::Result<()> {
        Output::put_varint(self, v)
    }
}

impl RecordOut for Vec<u8> {
    fn scratch(&mut self) -> &mut Vec<u8> {
        self
    }
    fn put(&mut self, data: &[u8]) -> io::Result<()> {
        self.extend_from_slice(data);
        Ok(())
    }
    fn put_u8(&mut self, v: u8) -> io::Result<()> {
        self.push(v);
        Ok(())
    }
    fn put_varint(&mut self, v: u64) -> io::Result<()> {
        crate::codec::put_varint(self, v);
        Ok(())
    }
}

/// Where a stream of key records stands, wherever it is encoded to ([`SnapshotWriter`],
/// [`EntryEncoder`], [`encode_value`]).
struct RecordStream {
    /// Databases the snapshot header declares.
    db_count: usize,
    /// Database of the last record: a record of another one is preceded by a database section.
    current_db: Option<usize>,
    /// Key records encoded.
    keys: u64,
}

impl RecordStream {
    fn new(header: &SnapshotHeader) -> RecordStream {
        RecordStream {
            db_count: header.db_count as usize,
            current_db: None,
            keys: 0,
        }
    }

    /// Encodes one key record (preceded by a database section when `db` is not the current
    /// one) and counts it; `Ok(false)` for an empty collection, which is skipped.
    fn encode<O: RecordOut>(
        &mut self,
        out: &mut O,
        db: usize,
        key: &[u8],
        value: ValueRef<'_>,
        expire: Option<i64>,
    ) -> io::Result<bool> {
        if db >= self.db_count {
            return Err(invalid_input(format!(
                "database {db} is out of range: the snapshot header declares {} databases",
                self.db_count
            )));
        }
        if let ValueRef::Obj(v) = value {
            if v.is_empty_collection() {
                return Ok(false);
            }
        }
        if self.current_db != Some(db) {
            out.put_u8(OP_DB_SECTION)?;
            out.put_varint(db as u64)?;
            self.current_db = Some(db);
        }
        encode_record(out, key, value, expire)?;
        self.keys += 1;
        Ok(true)
    }
}

/// Encodes one key record's type tag, flags, key and value.
fn encode_record<O: RecordOut>(
    out: &mut O,
    key: &[u8],
    value: ValueRef<'_>,
    expire: Option<i64>,
) -> io::Result<()> {
    let tag = TypeTag::of(value);
    let b = out.scratch();
    b.push(tag as u8);
    match expire {
        Some(at) => {
            b.push(FLAG_HAS_EXPIRY);
            b.extend_from_slice(&at.to_le_bytes());
        }
        None => b.push(0),
    }
    out.put_bytes(key)?;
    match value {
        ValueRef::Str(s) => out.put_bytes(s)?,
        ValueRef::Obj(Value::Str(s)) => out.put_bytes(s)?,
        ValueRef::Obj(Value::List(l)) => {
            out.put_varint(l.len() as u64)?;
            let mut n = 0usize;
            for item in l.iter() {
                out.put_bytes(item)?;
                n += 1;
            }
            check_count("list", l.len(), n)?;
        }
        ValueRef::Obj(Value::Set(s)) => {
            out.put_varint(s.len() as u64)?;
            let mut n = 0usize;
            for m in s.iter() {
                m.with_bytes(|b| out.put_bytes(b))?;
                n += 1;
            }
            check_count("set", s.len(), n)?;
        }
        ValueRef::Obj(Value::ZSet(z)) => {
            out.put_varint(z.len() as u64)?;
            let mut n = 0usize;
            let mut result = Ok(());
            z.for_each(|m, score| {
                if result.is_ok() {
                    result = out
                        .put_bytes(m)
                        .and_then(|()| out.put(&score.to_bits().to_le_bytes()));
                    n += 1;
                }
            });
            result?;
            check_count("zset", z.len(), n)?;
        }
        ValueRef::Obj(Value::Hash(h)) => {
            out.put_varint(h.len() as u64)?;
            let mut n = 0usize;
            for (f, v) in h.iter() {
                out.put_bytes(f)?;
                out.put_bytes(v)?;
                n += 1;
            }
            check_count("hash", h.len(), n)?;
        }
        ValueRef::Obj(Value::Stream(st)) => put_stream(out, st)?,
    }
    Ok(())
}

fn put_id<O: RecordOut + ?Sized>(out: &mut O, id: StreamId) -> io::Result<()> {
    out.put_varint(id.ms)?;
    out.put_varint(id.seq)
}

/// A stream's encoding (see the module docs).
fn put_stream<O: RecordOut + ?Sized>(out: &mut O, st: &StreamValue) -> io::Result<()> {
    let meta = st.meta();
    put_id(out, meta.last_id)?;
    put_id(out, meta.first_id)?;
    put_id(out, meta.max_deleted_id)?;
    out.put_varint(meta.entries_added)?;
    out.put_varint(st.len() as u64)?;
    for (id, fields) in st.entries() {
        put_id(out, id)?;
        out.put_varint(fields.len() as u64)?;
        for f in fields.iter() {
            out.put_bytes(f)?;
        }
    }
    out.put_varint(st.node_count() as u64)?;
    for (first, n) in st.node_layout() {
        put_id(out, first)?;
        put_id(out, n.last)?;
        out.put_varint(n.taken)?;
        out.put_varint(n.live)?;
        out.put_varint(n.bytes)?;
    }
    out.put_varint(st.groups.len() as u64)?;
    for (name, g) in &st.groups {
        out.put_bytes(name)?;
        put_id(out, g.last_id)?;
        out.put_varint(u64::try_from(g.entries_read.saturating_add(1)).unwrap_or(0))?;
        out.put_varint(g.consumers.len() as u64)?;
        for (cname, c) in &g.consumers {
            out.put_bytes(cname)?;
            out.put(&c.seen_time.to_le_bytes())?;
            out.put(&c.active_time.to_le_bytes())?;
        }
        out.put_varint(g.pel.len() as u64)?;
        for (id, p) in &g.pel {
            put_id(out, *id)?;
            out.put_bytes(&p.consumer)?;
            out.put(&p.delivery_time.to_le_bytes())?;
            out.put_varint(p.delivery_count)?;
        }
    }
    Ok(())
}

/// Encodes key records into memory, with no checksum and no I/O, for a [`SnapshotWriter`]
/// elsewhere to append ([`SnapshotWriter::write_encoded`]). This splits the work of a background
/// save: a server encodes entries where it can read them (under its keyspace lock, on the
/// thread that serves clients, so no other thread ever holds that lock), and another thread does
/// the checksum and the file I/O.
pub struct EntryEncoder {
    buf: Vec<u8>,
    records: RecordStream,
}

/// Records encoded by an [`EntryEncoder`], each chunk starting with its database section.
pub struct EncodedEntries {
    bytes: Vec<u8>,
    keys: u64,
    db_count: usize,
}

impl EncodedEntries {
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The buffer, for an encoder to reuse ([`EntryEncoder::take`] empties it): memory that is
    /// already mapped, so the encoding (on the event loop) does not page-fault its way through
    /// a fresh buffer.
    pub fn into_buffer(self) -> Vec<u8> {
        self.bytes
    }
}

impl EntryEncoder {
    /// An encoder for a snapshot whose header declares `header.db_count` databases.
    pub fn new(header: &SnapshotHeader) -> EntryEncoder {
        EntryEncoder {
            buf: Vec::new(),
            records: RecordStream::new(header),
        }
    }

    /// Encodes one key, as [`SnapshotWriter::write_entry`] would write it. After an error the
    /// chunk may hold part of the key: the snapshot being encoded is to be abandoned.
    pub fn write_entry(
        &mut self,
        db: usize,
        key: &[u8],
        value: ValueRef<'_>,
        expire: Option<i64>,
    ) -> io::Result<bool> {
        self.records.encode(&mut self.buf, db, key, value, expire)
    }

    /// Bytes encoded since the last [`EntryEncoder::take`].
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The records encoded so far; the encoder starts a new chunk in `spare` (emptied; a buffer
    /// handed back by [`EncodedEntries::into_buffer`]) or, without one, in a fresh buffer of the
    /// same capacity.
    pub fn take(&mut self, spare: Option<Vec<u8>>) -> EncodedEntries {
        let next = match spare {
            Some(mut buf) => {
                buf.clear();
                buf
            }
            None => Vec::with_capacity(self.buf.capacity()),
        };
        let bytes = std::mem::replace(&mut self.buf, next);
        let keys = std::mem::take(&mut self.records.keys);
        self.records.current_db = None;
        EncodedEntries {
            bytes,
            keys,
            db_count: self.records.db_count,
        }
    }
}

/// Writes a whole store (every database, live keys only) to `out`.
pub fn write_store<W: Write>(
    out: W,
    store: &mut Store,
    header: &SnapshotHeader,
) -> io::Result<(W, SnapshotSummary)> {
    let mut w = SnapshotWriter::new(out, header)?;
    for db in 0..store.db_count() {
        w.write_db(store, db)?;
    }
    w.finish()
}

/// Creates the snapshot at `path` crash-safely: `fill` writes the records into a writer over
/// `<path>.tmp`, which is then finished, fsynced, renamed over `path`, and the directory fsynced.
/// On any error the temporary file is removed and `path` is untouched.
pub fn write_snapshot_file<F>(
    path: &Path,
    header: &SnapshotHeader,
    fill: F,
) -> io::Result<SnapshotSummary>
where
    F: FnOnce(&mut SnapshotWriter<&mut File>) -> io::Result<()>,
{
    write_atomically(path, |file| {
        let mut w = SnapshotWriter::new(file, header)?;
        fill(&mut w)?;
        let (_, summary) = w.finish()?;
        Ok(summary)
    })
}

/// SAVE: writes every live key of `store` to `path` crash-safely.
pub fn save_store(path: &Path, store: &mut Store, created_ms: i64) -> io::Result<SnapshotSummary> {
    let header = SnapshotHeader::for_store(store, created_ms);
    write_snapshot_file(path, &header, |w| {
        for db in 0..store.db_count() {
            w.write_db(store, db)?;
        }
        Ok(())
    })
}

/// One key read from a snapshot.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRecord {
    pub db: usize,
    pub key: Vec<u8>,
    pub value: Value,
    /// Absolute unix-ms deadline.
    pub expire: Option<i64>,
    /// File offset of the record's type tag.
    pub offset: u64,
}

/// The verified trailer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotTrailer {
    pub keys: u64,
    pub checksum: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ReadState {
    Records,
    Done,
    Failed,
}

/// Reads a snapshot as a stream of records from any `Read`, verifying the structure as it goes
/// and the checksum at the end: [`SnapshotReader::next_record`] returns `Ok(None)` only after the
/// trailer has been checked. Records are yielded before the checksum is known, so a consumer
/// that must not act on unverified data either verifies first ([`load_snapshot`] does) or stages
/// the records until `Ok(None)`.
pub struct SnapshotReader<R: Read> {
    input: Input<R>,
    header: SnapshotHeader,
    db: Option<usize>,
    keys: u64,
    state: ReadState,
    trailer: Option<SnapshotTrailer>,
    scratch: Vec<u8>,
    scratch2: Vec<u8>,
}

impl<R: Read> SnapshotReader<R> {
    /// Reads and checks the header of a stream of unknown length (a socket). Declared lengths
    /// then cannot be checked up front, but memory still only grows with data actually received.
    pub fn new(r: R) -> Result<Self, SnapshotError> {
        Self::start(Input::new(r, None))
    }

    /// Reads and checks the header of an input of `total_len` bytes (a file): declared lengths
    /// larger than the rest of the file are rejected before any allocation.
    pub fn with_len(r: R, total_len: u64) -> Result<Self, SnapshotError> {
        Self::start(Input::new(r, Some(total_len)))
    }

    fn start(mut input: Input<R>) -> Result<Self, SnapshotError> {
        let header = read_header(&mut input)?;
        Ok(SnapshotReader {
            input,
            header,
            db: None,
            keys: 0,
            state: ReadState::Records,
            trailer: None,
            scratch: Vec::new(),
            scratch2: Vec::new(),
        })
    }

    pub fn header(&self) -> &SnapshotHeader {
        &self.header
    }

    /// Bytes consumed so far.
    pub fn offset(&self) -> u64 {
        self.input.offset()
    }

    /// The trailer, once `next_record` has returned `Ok(None)`.
    pub fn trailer(&self) -> Option<SnapshotTrailer> {
        self.trailer
    }

    /// The next record; `Ok(None)` at the end, after the trailer (key count, checksum, nothing
    /// after it) has been verified. After an error the reader stays failed.
    pub fn next_record(&mut self) -> Result<Option<SnapshotRecord>, SnapshotError> {
        match self.state {
            ReadState::Records => {}
            ReadState::Done => return Ok(None),
            ReadState::Failed => {
                return Err(SnapshotError::Corrupt {
                    offset: self.input.offset(),
                    reason: "the reader stopped at an earlier error".into(),
                })
            }
        }
        let result = self.read_next();
        match &result {
            Err(_) => self.state = ReadState::Failed,
            Ok(None) => self.state = ReadState::Done,
            Ok(Some(_)) => {}
        }
        result
    }

    fn read_next(&mut self) -> Result<Option<SnapshotRecord>, SnapshotError> {
        loop {
            let op_offset = self.input.offset();
            let op = self
                .input
                .read_u8("a type tag, a database section or the end marker")?;
            match op {
                OP_DB_SECTION => {
                    let db = self.input.read_varint("a database index")?;
                    if db >= u64::from(self.header.db_count) {
                        return Err(SnapshotError::Corrupt {
                            offset: op_offset,
                            reason: format!(
                                "database section {db} is not below the header's database count {}",
                                self.header.db_count
                            ),
                        });
                    }
                    // db < db_count <= u32::MAX, so this cannot truncate.
                    self.db = Some(db as usize);
                }
                OP_END => {
                    self.read_trailer()?;
                    return Ok(None);
                }
                tag => {
                    let Some(tag) = TypeTag::from_u8(tag) else {
                        return Err(SnapshotError::UnknownTypeTag {
                            tag,
                            offset: op_offset,
                        });
                    };
                    let Some(db) = self.db else {
                        return Err(SnapshotError::Corrupt {
                            offset: op_offset,
                            reason: "key record before any database section".into(),
                        });
                    };
                    return self.read_record(tag, db, op_offset).map(Some);
                }
            }
        }
    }

    fn read_record(
        &mut self,
        tag: TypeTag,
        db: usize,
        offset: u64,
    ) -> Result<SnapshotRecord, SnapshotError> {
        let flags_offset = self.input.offset();
        let flags = self.input.read_u8("the record flags")?;
        if flags & !KNOWN_FLAGS != 0 {
            return Err(SnapshotError::Corrupt {
                offset: flags_offset,
                reason: format!("unknown record flags {flags:#04x}"),
            });
        }
        let expire = if flags & FLAG_HAS_EXPIRY != 0 {
            Some(self.input.read_i64_le("the expiry")?)
        } else {
            None
        };
        let key = self.input.read_bytes("key length")?;
        let value = self.read_value(tag)?;
        self.keys += 1;
        Ok(SnapshotRecord {
            db,
            key,
            value,
            expire,
            offset,
        })
    }

    /// A count of items whose smallest encoding is `min_item_bytes`.
    fn read_count(
        &mut self,
        what: &'static str,
        min_item_bytes: u64,
    ) -> Result<usize, SnapshotError> {
        let at = self.input.offset();
        let n = self.input.read_varint(what)?;
        self.input.check_len(what, n, at, min_item_bytes)
    }

    fn read_value(&mut self, tag: TypeTag) -> Result<Value, SnapshotError> {
        Ok(match tag {
            TypeTag::String => Value::Str(self.input.read_bytes("string length")?),
            TypeTag::List => {
                let n = self.read_count("list element count", 1)?;
                let mut list = ListValue::default();
                for _ in 0..n {
                    self.input
                        .read_bytes_into(&mut self.scratch, "list element length")?;
                    list.push_back(&self.scratch);
                }
                Value::List(list)
            }
            TypeTag::Set => {
                let n = self.read_count("set member count", 1)?;
                let mut set = SetValue::new();
                for _ in 0..n {
                    let at = self.input.offset();
                    self.input
                        .read_bytes_into(&mut self.scratch, "set member length")?;
                    if !set.insert(&self.scratch) {
                        return Err(SnapshotError::Corrupt {
                            offset: at,
                            reason: "duplicate set member".into(),
                        });
                    }
                }
                Value::Set(set)
            }
            TypeTag::ZSet => {
                // Member (>= 1 byte) plus the 8-byte score.
                let n = self.read_count("zset member count", 9)?;
                let mut entries: Vec<(Vec<u8>, f64)> = Vec::with_capacity(n.min(4096));
                for _ in 0..n {
                    let at = self.input.offset();
                    let member = self.input.read_bytes("zset member length")?;
                    let score = f64::from_bits(self.input.read_u64_le("a zset score")?);
                    if score.is_nan() {
                        return Err(SnapshotError::Corrupt {
                            offset: at,
                            reason: "zset score is NaN".into(),
                        });
                    }
                    if let Some((pm, ps)) = entries.last() {
                        let order = cmp_score(*ps, score).then_with(|| pm.as_slice().cmp(&member));
                        if order != Ordering::Less {
                            return Err(SnapshotError::Corrupt {
                                offset: at,
                                reason: "zset members are not in strictly ascending (score, member) order".into(),
                            });
                        }
                    }
                    entries.push((member, score));
                }
                // Checked above: distinct and sorted, as from_sorted requires.
                Value::ZSet(ZSetValue::from_sorted(entries))
            }
            TypeTag::Hash => {
                let n = self.read_count("hash field count", 2)?;
                let mut hash = HashValue::new();
                for _ in 0..n {
                    let at = self.input.offset();
                    self.input
                        .read_bytes_into(&mut self.scratch, "hash field length")?;
                    self.input
                        .read_bytes_into(&mut self.scratch2, "hash value length")?;
                    if !hash.insert(&self.scratch, &self.scratch2) {
                        return Err(SnapshotError::Corrupt {
                            offset: at,
                            reason: "duplicate hash field".into(),
                        });
                    }
                }
                Value::Hash(hash)
            }
            TypeTag::Stream => Value::Stream(Box::new(self.read_stream()?)),
        })
    }

    fn read_id(&mut self, what: &'static str) -> Result<StreamId, SnapshotError> {
        let ms = self.input.read_varint(what)?;
        let seq = self.input.read_varint(what)?;
        Ok(StreamId::new(ms, seq))
    }

    fn corrupt(offset: u64, reason: &str) -> SnapshotError {
        SnapshotError::Corrupt {
            offset,
            reason: reason.into(),
        }
    }

    /// A stream (see the module docs); every ordering and reference is checked.
    fn read_stream(&mut self) -> Result<StreamValue, SnapshotError> {
        let meta = StreamMeta {
            last_id: self.read_id("a stream last ID")?,
            first_id: self.read_id("a stream first ID")?,
            max_deleted_id: self.read_id("a stream max deleted ID")?,
            entries_added: self.input.read_varint("a stream entries-added count")?,
        };
        // ID (2 bytes) + element count + two elements (1 byte each at least).
        let n = self.read_count("stream entry count", 5)?;
        let mut entries: Vec<(StreamId, Fields)> = Vec::with_capacity(n.min(4096));
        for _ in 0..n {
            let at = self.input.offset();
            let id = self.read_id("a stream entry ID")?;
            if entries.last().is_some_and(|(prev, _)| *prev >= id) || id > meta.last_id {
                return Err(Self::corrupt(
                    at,
                    "stream entry IDs are not ascending up to the last ID",
                ));
            }
            let at = self.input.offset();
            let m = self.read_count("stream element count", 1)?;
            if m < 2 || m % 2 != 0 {
                return Err(Self::corrupt(
                    at,
                    "a stream entry has an odd or empty field list",
                ));
            }
            let mut fields = Vec::with_capacity(m);
            for _ in 0..m {
                fields.push(
                    self.input
                        .read_bytes("stream element length")?
                        .into_boxed_slice(),
                );
            }
            entries.push((id, fields.into_boxed_slice()));
        }
        let n = self.read_count("stream node count", 7)?;
        let mut layout = Vec::with_capacity(n.min(4096));
        for _ in 0..n {
            let first = self.read_id("a stream node first ID")?;
            let node = Node {
                last: self.read_id("a stream node last ID")?,
                taken: self.input.read_varint("a stream node entry count")?,
                live: self.input.read_varint("a stream node live count")?,
                bytes: self.input.read_varint("a stream node size")?,
            };
            layout.push((first, node));
        }
        let n = self.read_count("stream group count", 5)?;
        let mut groups: BTreeMap<Box<[u8]>, ConsumerGroup> = BTreeMap::new();
        for _ in 0..n {
            let at = self.input.offset();
            let name = self
                .input
                .read_bytes("stream group name length")?
                .into_boxed_slice();
            if groups
                .last_key_value()
                .is_some_and(|(prev, _)| *prev >= name)
            {
                return Err(Self::corrupt(at, "stream group names are not ascending"));
            }
            let last_id = self.read_id("a group last delivered ID")?;
            let read = self.input.read_varint("a group entries-read count")?;
            let entries_read = i64::try_from(read).unwrap_or(i64::MAX).saturating_sub(1);
            let mut g = ConsumerGroup::new(last_id, entries_read);
            let c = self.read_count("stream consumer count", 17)?;
            for _ in 0..c {
                let at = self.input.offset();
                let cname = self.input.read_bytes("stream consumer name length")?;
                let seen = self.input.read_i64_le("a consumer seen time")?;
                let active = self.input.read_i64_le("a consumer active time")?;
                if g.consumers
                    .last_key_value()
                    .is_some_and(|(prev, _)| **prev >= *cname)
                {
                    return Err(Self::corrupt(at, "stream consumer names are not ascending"));
                }
                g.create_consumer(&cname, seen);
                if let Some(consumer) = g.consumers.get_mut(&*cname) {
                    consumer.active_time = active;
                }
            }
            let p = self.read_count("stream pending count", 12)?;
            for _ in 0..p {
                let at = self.input.offset();
                let id = self.read_id("a pending entry ID")?;
                let cname = self.input.read_bytes("pending consumer name length")?;
                let delivery_time = self.input.read_i64_le("a delivery time")?;
                let delivery_count = self.input.read_varint("a delivery count")?;
                if g.pel.last_key_value().is_some_and(|(prev, _)| *prev >= id) {
                    return Err(Self::corrupt(at, "pending entry IDs are not ascending"));
                }
                let Some(consumer) = g.consumers.get_mut(&*cname) else {
                    return Err(Self::corrupt(
                        at,
                        "a pending entry names an unknown consumer",
                    ));
                };
                consumer.pending.insert(id);
                let owner = consumer.name.clone();
                g.pel.insert(
                    id,
                    PendingEntry {
                        consumer: owner,
                        delivery_time,
                        delivery_count,
                    },
                );
            }
            groups.insert(name, g);
        }
        Ok(StreamValue::from_parts(entries, layout, meta, groups))
    }

    fn read_trailer(&mut self) -> Result<(), SnapshotError> {
        let count_offset = self.input.offset();
        let keys = self.input.read_u64_le("the trailer key count")?;
        let computed = self.input.checksum();
        let stored = self.input.read_u64_le("the trailer checksum")?;
        if stored != computed {
            return Err(SnapshotError::ChecksumMismatch { stored, computed });
        }
        if keys != self.keys {
            return Err(SnapshotError::Corrupt {
                offset: count_offset,
                reason: format!(
                    "the trailer counts {keys} keys but the file holds {}",
                    self.keys
                ),
            });
        }
        let end = self.input.offset();
        if !self.input.at_eof()? {
            return Err(SnapshotError::Corrupt {
                offset: end,
                reason: "unexpected bytes after the trailer".into(),
            });
        }
        self.trailer = Some(SnapshotTrailer {
            keys,
            checksum: stored,
        });
        Ok(())
    }
}

impl<R: Read> Iterator for SnapshotReader<R> {
    type Item = Result<SnapshotRecord, SnapshotError>;

    /// Records, then `None` after the verified trailer; an error is yielded once, then `None`.
    fn next(&mut self) -> Option<Self::Item> {
        if self.state == ReadState::Failed {
            return None;
        }
        self.next_record().transpose()
    }
}

fn read_header<R: Read>(input: &mut Input<R>) -> Result<SnapshotHeader, SnapshotError> {
    for &expected in SNAPSHOT_MAGIC {
        // A file that ends inside a correct magic prefix is a torn snapshot (Truncated); any
        // other byte means it is not a snapshot at all.
        if input.read_u8("the \"RINGKV-SNAP\" magic")? != expected {
            return Err(SnapshotError::BadMagic);
        }
    }
    let version = input.read_u16_le("the format version")?;
    if version != SNAPSHOT_FORMAT_VERSION {
        return Err(SnapshotError::UnsupportedVersion { version });
    }
    let created_ms = input.read_i64_le("the creation time")?;
    let db_offset = input.offset();
    let db_count = input.read_u32_le("the database count")?;
    if db_count == 0 {
        return Err(SnapshotError::Corrupt {
            offset: db_offset,
            reason: "database count is 0".into(),
        });
    }
    let aux_offset = input.offset();
    let aux_count = input.read_varint("the aux field count")?;
    // Each aux field is at least two one-byte lengths.
    let aux_count = input.check_len("aux field count", aux_count, aux_offset, 2)?;
    let mut aux = Vec::with_capacity(aux_count.min(64));
    for _ in 0..aux_count {
        let name = input.read_bytes("aux name length")?;
        let value = input.read_bytes("aux value length")?;
        aux.push((name, value));
    }
    Ok(SnapshotHeader {
        created_ms,
        db_count,
        aux,
    })
}

/// What [`load_snapshot`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadReport {
    pub header: SnapshotHeader,
    /// Keys inserted into the store.
    pub keys_loaded: u64,
    /// Keys whose deadline was already past at load time (not inserted, as Redis does on a master).
    pub expired_skipped: u64,
    /// Empty collections found in the file (not inserted).
    pub empty_skipped: u64,
    /// Size of the file.
    pub file_bytes: u64,
}

/// Computes the checksum of the whole file (of `len >= TRAILER_FIELDS_BYTES` bytes) and compares
/// it with the trailer, reporting progress. Returns the trailer's key count if it matches.
fn verified_key_count<R: Read>(
    file: &mut R,
    len: u64,
    progress: &mut dyn FnMut(u64),
) -> Result<Option<u64>, SnapshotError> {
    // Everything before the trailer, then the trailer: its key count is checksummed too.
    let body_len = len - TRAILER_FIELDS_BYTES;
    let mut digest = crate::codec::new_digest();
    let mut buf = vec![0u8; VERIFY_CHUNK_BYTES];
    let mut done = 0u64;
    while done < body_len {
        let want = usize::try_from((body_len - done).min(VERIFY_CHUNK_BYTES as u64))
            .unwrap_or(VERIFY_CHUNK_BYTES);
        file.read_exact(&mut buf[..want])
            .map_err(SnapshotError::io_at(done))?;
        digest.update(&buf[..want]);
        done += want as u64;
        progress(done);
    }
    let (mut count, mut stored) = ([0u8; 8], [0u8; 8]);
    file.read_exact(&mut count)
        .and_then(|()| file.read_exact(&mut stored))
        .map_err(SnapshotError::io_at(done))?;
    digest.update(&count);
    progress(len - 8);
    Ok((u64::from_le_bytes(stored) == digest.finalize()).then(|| u64::from_le_bytes(count)))
}

/// Loads the snapshot at `path` into `store` (which should be empty: a key that already exists
/// is reported as a duplicate).
///
/// Keys whose deadline is `<= now_ms` are skipped, as a Redis master does. The file is read
/// twice: first its checksum is verified (so a corrupted file inserts nothing), then it is
/// decoded and inserted. `progress(done, total)` is called about every MiB with `total` = the
/// file size and `done` growing monotonically to it (each pass counts for half), for INFO's
/// `loading_loaded_perc`; it is also where a server can serve -LOADING replies meanwhile.
///
/// The store's `dirty` counter is left as it was (loading is not a change to save). If decoding
/// fails after the checksum matched (a writer bug, not disk corruption) or a record names a
/// database the store does not have, the store holds the keys inserted before the error; the
/// server treats load errors as fatal, like Redis.
pub fn load_snapshot(
    path: &Path,
    store: &mut Store,
    now_ms: i64,
    progress: impl FnMut(u64, u64),
) -> Result<LoadReport, SnapshotError> {
    let file = File::open(path).map_err(SnapshotError::io_at(0))?;
    load_snapshot_from(file, store, now_ms, progress)
}

/// [`load_snapshot`] over any seekable input (an open file, an in-memory buffer); its length is
/// taken by seeking to the end.
pub fn load_snapshot_from<R: Read + Seek>(
    mut file: R,
    store: &mut Store,
    now_ms: i64,
    mut progress: impl FnMut(u64, u64),
) -> Result<LoadReport, SnapshotError> {
    let len = file
        .seek(SeekFrom::End(0))
        .map_err(SnapshotError::io_at(0))?;
    file.seek(SeekFrom::Start(0))
        .map_err(SnapshotError::io_at(0))?;
    progress(0, len);

    // Pass 1: whole-file checksum. On a mismatch, walk the structure for the most precise error
    // (truncation, bad magic, unknown tag...), falling back to the checksum mismatch.
    let verified = if len >= MIN_FILE_BYTES {
        let mut last = 0u64;
        verified_key_count(&mut file, len, &mut |done| {
            if done - last >= PROGRESS_INTERVAL_BYTES {
                last = done;
                progress(done / 2, len);
            }
        })?
    } else {
        None
    };
    file.seek(SeekFrom::Start(0))
        .map_err(SnapshotError::io_at(0))?;
    let Some(count) = verified else {
        let mut reader = SnapshotReader::with_len(&mut file, len)?;
        while reader.next_record()?.is_some() {}
        // The structure and trailer checked out this time: the file changed under us.
        return Err(SnapshotError::Corrupt {
            offset: 0,
            reason: "the checksum did not match on the first read but did on the second (file modified during load?)".into(),
        });
    };

    // The verified trailer's key count sizes the key tables before the first insert (at most
    // one key per smallest possible record, whatever a crafted trailer says).
    let expected_keys = count.min(len / MIN_RECORD_BYTES);

    // Pass 2: decode and insert.
    let dirty_before = store.common.dirty;
    let result = insert_records(&mut file, len, store, now_ms, expected_keys, &mut progress);
    store.common.dirty = dirty_before;
    let report = result?;
    progress(len, len);
    Ok(report)
}

/// Inserts the records of a verified file. `expected_keys` (the trailer's count) sizes each
/// database's key table at its first record: the database gets room for every record not read
/// yet, and at the end any database given more room than its keys need is shrunk, at once, to
/// the size growing one key at a time would have given it (records of several databases may
/// come in any order, so their split is not known in advance).
fn insert_records<R: Read>(
    file: &mut R,
    len: u64,
    store: &mut Store,
    now_ms: i64,
    expected_keys: u64,
    progress: &mut impl FnMut(u64, u64),
) -> Result<LoadReport, SnapshotError> {
    let mut reader = SnapshotReader::with_len(file, len)?;
    let mut report = LoadReport {
        header: reader.header().clone(),
        keys_loaded: 0,
        expired_skipped: 0,
        empty_skipped: 0,
        file_bytes: len,
    };
    let half = len / 2;
    let mut last_report = 0u64;
    let mut reserved = vec![false; store.db_count()];
    let mut records = 0u64;
    while let Some(rec) = reader.next_record()? {
        records += 1;
        let at = reader.offset();
        if at - last_report >= PROGRESS_INTERVAL_BYTES {
            last_report = at;
            progress(half + at / 2, len);
        }
        if rec.db >= store.db_count() {
            return Err(SnapshotError::DbOutOfRange {
                db: rec.db,
                offset: rec.offset,
                available: store.db_count(),
            });
        }
        if matches!(rec.expire, Some(t) if t <= now_ms) {
            report.expired_skipped += 1;
            continue;
        }
        if rec.value.is_empty_collection() {
            report.empty_skipped += 1;
            continue;
        }
        let ttl = match rec.expire {
            Some(t) => Ttl::At(t),
            None => Ttl::Persist,
        };
        let mut db = store.db(rec.db);
        if !reserved[rec.db] {
            reserved[rec.db] = true;
            let left = expected_keys.saturating_sub(records - 1);
            db.reserve(usize::try_from(left).unwrap_or(0));
        }
        let before = db.len();
        db.set_value(&rec.key, rec.value, ttl);
        if db.len() != before + 1 {
            return Err(SnapshotError::DuplicateKey {
                db: rec.db,
                key: String::from_utf8_lossy(&rec.key).into_owned(),
                offset: rec.offset,
            });
        }
        report.keys_loaded += 1;
    }
    // Only after a whole load: after an error the server discards the store (load errors are
    // fatal), so its table sizes do not matter.
    for (db, was_reserved) in reserved.into_iter().enumerate() {
        if was_reserved {
            store.db(db).shrink_to_fit();
        }
    }
    Ok(report)
}

/// Reads just the header of the snapshot at `path` (INFO, DEBUG, tooling).
pub fn read_snapshot_header(path: &Path) -> Result<SnapshotHeader, SnapshotError> {
    let file = File::open(path).map_err(SnapshotError::io_at(0))?;
    let len = file.metadata().map_err(SnapshotError::io_at(0))?.len();
    Ok(SnapshotReader::with_len(file, len)?.header)
}

/// True if `path` starts with the snapshot magic.
pub fn is_snapshot_file(path: &Path) -> io::Result<bool> {
    let mut file = File::open(path)?;
    let mut magic = [0u8; SNAPSHOT_MAGIC.len()];
    let mut got = 0;
    while got < magic.len() {
        match file.read(&mut magic[got..]) {
            Ok(0) => return Ok(false),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(&magic == SNAPSHOT_MAGIC)
}

/// One value and its absolute expiry in the snapshot's record encoding (type tag, flags, expiry,
/// an empty key, payload) without file header or checksum: the form in which the cluster ships a
/// key's state between replicas and keeps non-winning siblings. Empty collections encode as such
/// produce no record at all, so callers never encode them (Redis never keeps empty collections).
pub fn encode_value(value: ValueRef<'_>, expire: Option<i64>) -> Vec<u8> {
    let mut out = Vec::new();
    // Straight into the Vec: no file buffer, no checksum. Writing into a Vec cannot fail, and
    // db 0 is in range and current (no database section).
    let mut records = RecordStream {
        db_count: 1,
        current_db: Some(0),
        keys: 0,
    };
    let _ = records.encode(&mut out, 0, b"", value, expire);
    out
}

/// Decodes what [`encode_value`] produced; rejects truncated or trailing bytes.
pub fn decode_value(bytes: &[u8]) -> Result<(Value, Option<i64>), SnapshotError> {
    let mut r = SnapshotReader {
        input: Input::new(bytes, Some(bytes.len() as u64)),
        header: SnapshotHeader {
            created_ms: 0,
            db_count: 1,
            aux: Vec::new(),
        },
        db: Some(0),
        keys: 0,
        state: ReadState::Records,
        trailer: None,
        scratch: Vec::new(),
        scratch2: Vec::new(),
    };
    let tag_byte = r.input.read_u8("a type tag")?;
    let tag = TypeTag::from_u8(tag_byte).ok_or_else(|| SnapshotError::Corrupt {
        offset: 0,
        reason: format!("unknown type tag {tag_byte}"),
    })?;
    let rec = r.read_record(tag, 0, 0)?;
    if r.input.offset() != bytes.len() as u64 {
        return Err(SnapshotError::Corrupt {
            offset: r.input.offset(),
            reason: "trailing bytes after the value".into(),
        });
    }
    Ok((rec.value, rec.expire))
}
