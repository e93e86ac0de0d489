//! ringkv persistence: the snapshot format (ringkv's RDB), the append-only log (plain RESP, as
//! in Redis 7), the multi-part AOF manifest, start-up recovery, and offline checkers.
//!
//! This crate is a pure, synchronous library over `std::fs`: it owns the byte formats and the
//! crash-safety rules, and leaves threads, timers and configuration to the server. Its
//! invariants: no file content can make it panic or allocate more than the file can back; a
//! snapshot or manifest on disk is always complete (temp file + fsync + rename + directory
//! fsync); a log is only ever cut at a command boundary; and nothing silently drops data (every
//! skipped or repaired byte is reported).
//!
//! # Modules
//! - [`snapshot`]: [`SnapshotWriter`] (streams to any `Write`), [`write_snapshot_file`] /
//!   [`save_store`] (crash-safe files), [`SnapshotReader`] (streams records from any `Read`),
//!   [`load_snapshot`] (verified load into a `Store`). The byte layout is in the module docs.
//! - [`aof`]: [`AofEncoder`] (commands to RESP, with `SELECT` on db changes),
//!   [`rewrite_for_log`] (relative expiries to absolute), [`AofReader`] (bounded, resumable
//!   parsing that tells a torn tail from corruption).
//! - [`manifest`]: [`Manifest`] (the Redis 7 multi-part AOF directory and its rewrite protocol).
//! - [`recovery`]: [`recover`] (base snapshot + incremental logs into a `Store` at start-up).
//! - [`check`]: [`check_aof`], [`check_aof_dir`], [`check_snapshot`] (redis-check-aof/-rdb).
//!
//! # Wiring it into the server
//!
//! **Start-up** (`appendonly yes`): set the store clock, then
//! `recover(&dir, &appendfilename, &mut store, &RecoveryOptions { load_truncated, now_ms },
//! |store, db, args| execute(store, db, args), |done, total| update_loading_info(done, total))`.
//! Log `report.truncated` as a warning. Then `Manifest::load_if_exists` again, call
//! [`Manifest::delete_history`] (finishes an interrupted cleanup), and open
//! [`Manifest::current_incr`] for appending, or [`Manifest::open_new_incr`] if there is none.
//! With `appendonly no`, load `dbfilename` with [`load_snapshot`] instead. Any error is fatal,
//! as in Redis; the error text names the file and offset and suggests `check_aof`.
//!
//! **Write path**: after a write command succeeded in database `db` at time `now_ms`,
//! `let logged = rewrite_for_log(args, now_ms).unwrap_or_else(|| args.to_owned_args());`
//! then `encoder.append(&mut aof_buf, db, logged.iter())`. Commands that did not change
//! anything are not logged. Keep MULTI/EXEC blocks whole in one buffer flush. A writer thread
//! takes the buffer, `write_all`s it to the current incr file and fsyncs per `appendfsync`
//! (`always`: before replying to the clients of that batch; `everysec`: once a second on a
//! background thread; `no`: never). A write or fsync error sets `aof_last_write_status:err`
//! and makes the server refuse writes (MISCONF-like) until a write succeeds again.
//!
//! **BGREWRITEAOF**: `let plan = manifest.start_rewrite()?` (lists a new incr file), switch the
//! writer to `plan.incr_path` and call [`AofEncoder::force_select`]; take a point-in-time view of
//! the data as of that switch and write it to `plan.base_path` with [`write_snapshot_file`]
//! (feed it in chunks through [`SnapshotWriter::write_entry`] if the store lock cannot be held
//! throughout); then `let superseded = manifest.finish_rewrite_keeping_history(&plan)?`, delete
//! the `superseded` files (at your own pace: deleting a big file at once can stall the disk) and
//! call [`Manifest::delete_history`]. If the snapshot fails, just drop the plan: the new incr
//! file is already listed and holds every write since the switch.
//!
//! **SAVE / BGSAVE**: [`save_store`] or [`write_snapshot_file`] to `dir/dbfilename`. An error
//! (the temp file is removed, the old snapshot stays in place) sets `rdb_last_bgsave_status:err`
//! and, with `stop-writes-on-bgsave-error yes`, the MISCONF refusal of writes.
//!
//! **Checks**: `check_aof(path, fix)` / `check_aof_dir(dir, name, fix)` / `check_snapshot(path)`
//! return a [`CheckReport`] whose `Display` is the tool output.

pub mod aof;
pub mod check;
mod codec;
pub mod fsutil;
pub mod manifest;
pub mod recovery;
pub mod snapshot;

#[cfg(test)]
mod tests;

pub use aof::{
    encode_command, log_len, log_len_of, rewrite_for_log, AofArgs, AofCommand, AofEncoder,
    AofError, AofReader,
};
pub use check::{
    check_aof, check_aof_dir, check_snapshot, CheckReport, CheckStatus, DbKeyCounts, FileFormat,
};
pub use codec::crc64;
pub use fsutil::{fsync_dir, temp_path, write_atomically};
pub use manifest::{
    AofFileInfo, AofFileKind, Manifest, ManifestError, RewriteOutcome, RewritePlan,
};
pub use recovery::{
    recover, FileReport, RecoveryError, RecoveryOptions, RecoveryReport, TruncationReport,
};
pub use snapshot::{
    decode_value, encode_value, is_snapshot_file, load_snapshot, load_snapshot_from,
    read_snapshot_header, save_store, write_snapshot_file, write_store, EncodedEntries,
    EntryEncoder, LoadReport, SnapshotError, SnapshotHeader, SnapshotReader, SnapshotRecord,
    SnapshotSummary, SnapshotTrailer, SnapshotWriter, TypeTag,
};
