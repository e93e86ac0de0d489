//! Snapshot persistence commands: SAVE and LASTSAVE, the save used by SHUTDOWN SAVE, and the
//! `# Persistence` INFO section.
//!
//! SAVE writes the whole keyspace to `dir/dbfilename` while holding the keyspace lock, exactly like
//! Redis's SAVE: every client waits, and the file is a consistent point-in-time image. The file is
//! written to a temporary name, fsynced and renamed (`ringkv_persist::save_store`), so a crash
//! mid-save never leaves a half-written snapshot in place. The server loads the file at start-up.
//! (BGSAVE, `save` rules and the append-only file are the next steps of the persistence work.)

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::shared::Shared;
use crate::table::{flags, CommandSpec};
use ringkv_engine::Store;
use ringkv_protocol::Args;
use std::path::PathBuf;
use std::time::Instant;

/// What INFO persistence and LASTSAVE report.
#[derive(Debug, Clone)]
pub struct PersistState {
    /// Unix ms of the last successful save (the start time until the first one, as in Redis).
    pub last_save_ms: i64,
    /// `Store::common.dirty` at the last successful save (or load).
    pub dirty_at_last_save: u64,
    pub saves: u64,
    pub last_save_ok: bool,
    pub last_save_duration_ms: u64,
    /// Keys loaded from the snapshot at start-up.
    pub keys_loaded_at_start: u64,
}

impl PersistState {
    pub fn new(started_ms: i64) -> PersistState {
        PersistState {
            last_save_ms: started_ms,
            dirty_at_last_save: 0,
            saves: 0,
            last_save_ok: true,
            last_save_duration_ms: 0,
            keys_loaded_at_start: 0,
        }
    }
}

/// `dir/dbfilename` under the current configuration.
pub fn snapshot_path(shared: &Shared) -> PathBuf {
    let cfg = shared.config.read();
    PathBuf::from(&cfg.dir).join(&cfg.dbfilename)
}

/// Writes the keyspace now (the caller holds the keyspace lock). Updates the persistence state
/// and logs the outcome either way.
pub fn save_now(store: &mut Store, shared: &Shared) -> Result<u64, String> {
    let path = snapshot_path(shared);
    let started = Instant::now();
    let now = shared.now_ms();
    let result = ringkv_persist::save_store(&path, store, now);
    let mut st = shared.persistence.lock();
    st.last_save_duration_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(summary) => {
            st.last_save_ms = now;
            st.dirty_at_last_save = store.common.dirty;
            st.saves += 1;
            st.last_save_ok = true;
            tracing::info!(
                path = %path.display(),
                keys = summary.keys,
                bytes = summary.bytes,
                ms = st.last_save_duration_ms,
                "DB saved on disk"
            );
            Ok(summary.keys)
        }
        Err(e) => {
            st.last_save_ok = false;
            tracing::warn!(path = %path.display(), error = %e, "snapshot save failed");
            Err(e.to_string())
        }
    }
}

fn save(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    save_now(ctx.store, ctx.shared).map_err(|_| CmdError::Static("ERR"))?;
    ctx.out.ok();
    Ok(())
}

fn lastsave(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let ms = ctx.shared.persistence.lock().last_save_ms;
    ctx.out.integer(ms / 1000);
    Ok(())
}

/// The `# Persistence` INFO fields that are real today.
pub fn info_section(store: &Store, shared: &Shared, out: &mut String) {
    let st = shared.persistence.lock().clone();
    let changes = store.common.dirty.saturating_sub(st.dirty_at_last_save);
    let lines = [
        ("loading", "0".to_string()),
        ("rdb_changes_since_last_save", changes.to_string()),
        ("rdb_saves", st.saves.to_string()),
        ("rdb_last_save_time", (st.last_save_ms / 1000).to_string()),
        (
            "rdb_last_save_status",
            if st.last_save_ok { "ok" } else { "err" }.to_string(),
        ),
        (
            "rdb_last_save_time_ms",
            st.last_save_duration_ms.to_string(),
        ),
        (
            "rdb_keys_loaded_at_start",
            st.keys_loaded_at_start.to_string(),
        ),
        ("aof_enabled", "0".to_string()),
    ];
    for (k, v) in lines {
        out.push_str(k);
        out.push(':');
        out.push_str(&v);
        out.push_str("\r\n");
    }
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new(
        "save",
        1,
        flags::ADMIN | flags::NOSCRIPT | flags::NO_MULTI,
        save,
    )
    .group("server")
    .doc(
        "Synchronously saves the database(s) to disk.",
        "1.0.0",
        "O(N) where N is the total number of keys in all databases",
    ),
    CommandSpec::new(
        "lastsave",
        1,
        flags::LOADING | flags::STALE | flags::FAST,
        lastsave,
    )
    .group("server")
    .doc(
        "Returns the Unix timestamp of the last successful save to disk.",
        "1.0.0",
        "O(1)",
    ),
];
