//! Start-up recovery: loads the data set from disk into a private store while the server already
//! answers (INFO shows `loading:1` and the progress; other commands get `-LOADING`), then swaps
//! it in and starts the AOF writer.
//!
//! - `appendonly yes` with a manifest: the base snapshot and the incr logs are replayed through
//!   the real command handlers ([`replay`]), so a logged command means exactly what it meant
//!   when it ran. A torn tail of the last log is cut back to the last whole command (with
//!   `aof-load-truncated yes`, the default) and logged as a warning; anything else stops start-up
//!   with the file and offset.
//! - `appendonly yes` without a manifest (first start, or switching from snapshots): the
//!   snapshot is loaded if present, a manifest with a fresh incr file is created, and if there is
//!   data a rewrite writes it as the first base.
//! - `appendonly no`: the snapshot `dir/dbfilename`, if present.

use crate::ctx::{Client, Ctx};
use crate::shared::Shared;
use ringkv_engine::Store;
use ringkv_persist::{Manifest, RecoveryOptions};
use ringkv_protocol::{Args, Protocol, ReplyWriter};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// Executes logged commands against a store with a connection-less client.
pub struct Replayer<'a> {
    shared: &'a Shared,
    client: Client,
    out: ReplyWriter,
    /// Commands that replied with an error (their effect is nothing, as when they first ran).
    pub errors: u64,
}

impl<'a> Replayer<'a> {
    pub fn new(shared: &'a Shared) -> Replayer<'a> {
        let mut client = Client::internal("aof-loader");
        // Never block: a logged command is the non-blocking form anyway.
        client.in_exec = true;
        Replayer {
            shared,
            client,
            out: ReplyWriter::new(Protocol::Resp2),
            errors: 0,
        }
    }

    /// Runs one logged command in database `db`. Err only if it cannot be replayed at all.
    pub fn replay(&mut self, store: &mut Store, db: usize, args: Args<'_>) -> Result<(), String> {
        let spec = self
            .shared
            .commands
            .lookup(args.arg(0))
            .ok_or_else(|| "unknown command".to_string())?;
        if !spec.arity_ok(args.len()) {
            return Err("wrong number of arguments".into());
        }
        let spec = crate::dispatch::resolve_subcommand(spec, args)
            .map_err(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())?;
        self.client.db = db;
        self.out.clear();
        let mut ctx = Ctx {
            store,
            shared: self.shared,
            client: &mut self.client,
            out: &mut self.out,
        };
        if let Err(e) = (spec.handler)(&mut ctx, args) {
            self.errors += 1;
            if self.errors <= 10 {
                tracing::warn!(command = %String::from_utf8_lossy(args.arg(0)), error = %String::from_utf8_lossy(e.as_bytes()), "logged command failed on replay");
            }
        }
        // Replies, blocking registrations and events of a replay go nowhere.
        self.client.action = None;
        store.common.events.clear();
        Ok(())
    }
}

fn set_progress(shared: &Shared, done: u64, total: u64) {
    if let Some(l) = shared.persistence.state.lock().loading.as_mut() {
        l.loaded_bytes = done;
        l.total_bytes = total;
    }
}

/// Loads the data set (on a blocking thread) and puts it in place. The server has been
/// accepting connections since before this started, with `loading` set.
pub fn load_at_startup(shared: &Arc<Shared>, mut store: Store) -> Result<(), String> {
    let started = Instant::now();
    {
        let mut st = shared.persistence.state.lock();
        st.loading = Some(crate::persistence::LoadingProgress {
            started_ms: shared.now_ms(),
            started: Some(started),
            ..Default::default()
        });
    }
    shared.persistence.loading.store(true, Ordering::SeqCst);
    let result = load(shared, &mut store);
    shared.persistence.state.lock().loading = None;
    let aof_path = result?;
    {
        let mut live = shared.store.lock();
        // The loaded store takes over the live one's runtime settings.
        crate::shared::apply_config_to_store(&shared.config.read(), &mut store);
        store.set_memory_gauge(live.memory_gauge());
        std::mem::swap(&mut *live, &mut store);
        shared.persistence.state.lock().dirty_at_last_save = live.common.dirty;
        if let Some((path, needs_base)) = aof_path {
            let aof = &shared.persistence.aof;
            aof.configure(&shared.config.read());
            aof.start(path)?;
            live.common.oplog.set_enabled(true);
            if needs_base {
                crate::persistence::start_rewrite(&mut live, shared)?;
            }
        }
        shared.persistence.loading.store(false, Ordering::SeqCst);
    }
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        "data set ready: accepting commands"
    );
    drop(store);
    Ok(())
}

/// Returns the incr file to append to (and whether a first base must be written) when AOF is on.
fn load(shared: &Shared, store: &mut Store) -> Result<Option<(std::path::PathBuf, bool)>, String> {
    let (appendonly, load_truncated, dir, name, snapshot) = {
        let c = shared.config.read();
        (
            c.appendonly,
            c.aof_load_truncated,
            Path::new(&c.dir).join(&c.appenddirname),
            c.appendfilename.clone(),
            Path::new(&c.dir).join(&c.dbfilename),
        )
    };
    let now = shared.now_ms();
    store.set_now(now);
    if !appendonly {
        load_snapshot(shared, store, &snapshot)?;
        return Ok(None);
    }
    let existing = Manifest::load_if_exists(&dir, &name).map_err(|e| e.to_string())?;
    let Some(_) = existing else {
        let keys = load_snapshot(shared, store, &snapshot)?;
        let mut m = Manifest::new(&dir, &name).map_err(|e| e.to_string())?;
        let path = m.open_new_incr().map_err(|e| e.to_string())?;
        tracing::info!(dir = %dir.display(), "AOF enabled with no AOF yet: created its manifest");
        *shared.persistence.manifest.lock() = Some(m);
        shared.persistence.aof.set_sizes(0, 0);
        return Ok(Some((path, keys > 0)));
    };
    tracing::info!(dir = %dir.display(), "loading the append-only file");
    let mut replayer = Replayer::new(shared);
    let mut last_log = Instant::now();
    let options = RecoveryOptions {
        load_truncated,
        now_ms: now,
    };
    let report = ringkv_persist::recover(
        &dir,
        &name,
        store,
        &options,
        |store, db, args| replayer.replay(store, db, args),
        |done, total| {
            set_progress(shared, done, total);
            if last_log.elapsed().as_secs() >= 1 {
                last_log = Instant::now();
                tracing::info!(
                    loaded_bytes = done,
                    total_bytes = total,
                    "loading AOF: {:.1}%",
                    done as f64 * 100.0 / total.max(1) as f64
                );
            }
        },
    )
    .map_err(|e| {
        format!(
            "cannot load the AOF: {e} (check it with `ringkv check-aof {}`)",
            dir.display()
        )
    })?;
    if let Some(t) = &report.truncated {
        tracing::warn!(
            file = %t.file.display(),
            original_len = t.original_len,
            valid_len = t.valid_len,
            "AOF loaded anyway because aof-load-truncated is enabled: the incomplete last command was dropped"
        );
    }
    tracing::info!(
        files = report.files.len(),
        keys_from_base = report.keys_loaded,
        commands = report.commands_applied,
        failed_commands = replayer.errors,
        bytes = report.total_bytes,
        "DB loaded from append only file"
    );
    let mut m = Manifest::load(&dir, &name).map_err(|e| e.to_string())?;
    if let Err(e) = m.delete_history() {
        tracing::warn!(error = %e, "cannot delete old AOF files");
    }
    let path = match m.current_incr() {
        Some(p) => p,
        None => m.open_new_incr().map_err(|e| e.to_string())?,
    };
    let base = m
        .base()
        .map(|b| std::fs::metadata(m.path_of(b)).map_or(0, |md| md.len()))
        .unwrap_or(0);
    shared
        .persistence
        .aof
        .set_sizes(base.max(1), report.total_bytes);
    shared.persistence.state.lock().keys_loaded_at_start = store.total_keys() as u64;
    *shared.persistence.manifest.lock() = Some(m);
    Ok(Some((path, false)))
}

fn load_snapshot(shared: &Shared, store: &mut Store, path: &Path) -> Result<u64, String> {
    if !path.exists() {
        return Ok(0);
    }
    let started = Instant::now();
    tracing::info!(path = %path.display(), "loading snapshot");
    let mut last_log = Instant::now();
    let report = ringkv_persist::load_snapshot(path, store, shared.now_ms(), |done, total| {
        set_progress(shared, done, total);
        if last_log.elapsed().as_secs() >= 1 {
            last_log = Instant::now();
            tracing::info!(
                "loading snapshot: {:.1}%",
                done as f64 * 100.0 / total.max(1) as f64
            );
        }
    })
    .map_err(|e| {
        format!(
            "cannot load snapshot {}: {e} (check it with `ringkv check-snapshot {}`)",
            path.display(),
            path.display()
        )
    })?;
    tracing::info!(
        keys = report.keys_loaded,
        expired_skipped = report.expired_skipped,
        ms = started.elapsed().as_millis() as u64,
        "DB loaded from disk"
    );
    shared.persistence.state.lock().keys_loaded_at_start = report.keys_loaded;
    Ok(report.keys_loaded)
}
