//! Persistence as the server runs it: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE, the `save` rules and
//! automatic AOF rewrites (checked by the cron through [`tick`]), turning `appendonly` on and
//! off at run time, the `-MISCONF` refusal of writes while the disk fails, and the
//! `# Persistence` INFO section.
//!
//! The moving parts live next door: [`crate::aof`] (the writer thread), [`crate::bgsave`] (the
//! capture job behind BGSAVE and rewrites) and [`crate::loading`] (start-up recovery). Lock order
//! as everywhere: the keyspace before `Persistence::state`.

use crate::aof::{flush_oplog, Aof};
use crate::bgsave::{Job, JobKind, JobOutcome, JobRequest, Jobs};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::shared::Shared;
use crate::table::{flags, CommandSpec};
use parking_lot::Mutex;
use ringkv_engine::Store;
use ringkv_persist::{Manifest, RewritePlan, SnapshotHeader};
use ringkv_protocol::Args;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// After a failed background save, the `save` rules wait this long before trying again (Redis
/// CONFIG_BGSAVE_RETRY_DELAY).
const BGSAVE_RETRY_DELAY_MS: i64 = 5_000;

/// Everything persistence keeps at run time (one per server, in `Shared`).
pub struct Persistence {
    pub state: Mutex<PersistState>,
    /// The multi-part AOF manifest while AOF is on. Its own lock, never taken by the event loop
    /// while a job does file I/O under it (rewrites update it from the job thread).
    pub manifest: Mutex<Option<Manifest>>,
    pub aof: Arc<Aof>,
    pub jobs: Jobs,
    /// True while start-up recovery runs: commands without the `loading` flag get `-LOADING`.
    pub loading: AtomicBool,
    /// The last background save failed and `stop-writes-on-bgsave-error` applies.
    bgsave_failing: AtomicBool,
    /// Keys the running job has written (INFO current_save_keys_processed), updated by the job
    /// thread without a lock the event loop takes.
    pub(crate) job_keys: AtomicU64,
}

impl Persistence {
    pub fn new(started_ms: i64) -> Persistence {
        Persistence {
            state: Mutex::new(PersistState::new(started_ms)),
            manifest: Mutex::new(None),
            aof: Arc::new(Aof::default()),
            jobs: Jobs::default(),
            loading: AtomicBool::new(false),
            bgsave_failing: AtomicBool::new(false),
            job_keys: AtomicU64::new(0),
        }
    }

    pub fn is_loading(&self) -> bool {
        self.loading.load(Ordering::Relaxed)
    }

    /// The `-MISCONF` error write commands get while the AOF or the last background save fails.
    pub fn write_refusal(&self) -> Option<CmdError> {
        if let Some(msg) = self.aof.refusal() {
            return Some(CmdError::Owned(msg));
        }
        if self.bgsave_failing.load(Ordering::Relaxed) {
            return Some(CmdError::Static(
                "MISCONF ringkv is configured to save snapshots, but it's currently unable to \
                 persist to disk. Commands that may modify the data set are disabled, because \
                 this instance is configured to report errors during writes if snapshotting \
                 fails (stop-writes-on-bgsave-error option). Please check the ringkv logs for \
                 details about the snapshot error.",
            ));
        }
        None
    }
}

/// A background job in progress.
#[derive(Debug, Clone)]
pub struct RunningJob {
    pub rewrite: bool,
    pub started: Instant,
}

/// Start-up loading progress (INFO loading_*).
#[derive(Debug, Clone, Default)]
pub struct LoadingProgress {
    pub started_ms: i64,
    pub total_bytes: u64,
    pub loaded_bytes: u64,
    pub started: Option<Instant>,
}

/// What INFO persistence and LASTSAVE report.
#[derive(Debug)]
pub struct PersistState {
    /// Unix ms of the last successful save (the start time until the first one, as in Redis).
    pub last_save_ms: i64,
    /// `Store::common.dirty` covered by the last successful save (or load).
    pub dirty_at_last_save: u64,
    pub saves: u64,
    pub last_bgsave_ok: bool,
    pub last_bgsave_try_ms: i64,
    /// Seconds the last background save took (-1: none yet).
    pub last_bgsave_secs: i64,
    pub last_save_duration_ms: u64,
    pub bgsave_scheduled: bool,
    /// Keys loaded from disk at start-up.
    pub keys_loaded_at_start: u64,
    pub job: Option<RunningJob>,
    pub rewrite_scheduled: bool,
    pub last_rewrite_ok: bool,
    pub last_rewrite_secs: i64,
    pub rewrites: u64,
    /// Entries writers preserved for the last capture (its copy-on-write cost).
    pub last_preserved: u64,
    /// The longest the last capture held the keyspace in one slice (what a client could wait).
    pub last_max_slice_us: u64,
    pub loading: Option<LoadingProgress>,
    /// SHUTDOWN already saved (or was told NOSAVE): the exit path must not save again.
    pub shutdown_save_done: bool,
}

impl PersistState {
    pub fn new(started_ms: i64) -> PersistState {
        PersistState {
            last_save_ms: started_ms,
            dirty_at_last_save: 0,
            saves: 0,
            last_bgsave_ok: true,
            last_bgsave_try_ms: 0,
            last_bgsave_secs: -1,
            last_save_duration_ms: 0,
            bgsave_scheduled: false,
            keys_loaded_at_start: 0,
            job: None,
            rewrite_scheduled: false,
            last_rewrite_ok: true,
            last_rewrite_secs: -1,
            rewrites: 0,
            last_preserved: 0,
            last_max_slice_us: 0,
            loading: None,
            shutdown_save_done: false,
        }
    }

    fn rewrite_running(&self) -> bool {
        matches!(&self.job, Some(j) if j.rewrite)
    }

    fn bgsave_running(&self) -> bool {
        matches!(&self.job, Some(j) if !j.rewrite)
    }
}

/// `dir/dbfilename` under the current configuration.
pub fn snapshot_path(shared: &Shared) -> PathBuf {
    let cfg = shared.config.read();
    PathBuf::from(&cfg.dir).join(&cfg.dbfilename)
}

/// `dir/appenddirname` and `appendfilename`.
pub fn aof_location(shared: &Shared) -> (PathBuf, String) {
    let cfg = shared.config.read();
    (
        PathBuf::from(&cfg.dir).join(&cfg.appenddirname),
        cfg.appendfilename.clone(),
    )
}

/// Writes the keyspace now (the caller holds the keyspace lock). Updates the persistence state
/// and logs the outcome either way.
pub fn save_now(store: &mut Store, shared: &Shared) -> Result<u64, String> {
    let path = snapshot_path(shared);
    let started = Instant::now();
    let now = shared.now_ms();
    let result = ringkv_persist::save_store(&path, store, now);
    let mut st = shared.persistence.state.lock();
    st.last_save_duration_ms = started.elapsed().as_millis() as u64;
    match result {
        Ok(summary) => {
            st.last_save_ms = now;
            st.dirty_at_last_save = store.common.dirty;
            st.saves += 1;
            st.last_bgsave_ok = true;
            shared
                .persistence
                .bgsave_failing
                .store(false, Ordering::Relaxed);
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
            tracing::warn!(path = %path.display(), error = %e, "snapshot save failed");
            Err(e.to_string())
        }
    }
}

/// Begins a capture now (under the keyspace lock) and describes the job that writes it.
pub(crate) fn begin_capture(
    store: &mut Store,
    shared: &Shared,
    kind: JobKind,
) -> Result<Job, String> {
    let now = shared.now_ms();
    store.set_now(now);
    if !store.begin_capture() {
        return Err("a background save is already in progress".into());
    }
    Ok(Job {
        header: SnapshotHeader::for_store(store, now),
        dirty_at_start: store.common.dirty,
        started: Instant::now(),
        started_ms: now,
        kind,
    })
}

/// Marks a job as running (INFO, and no second job until it ends). False if one already is.
fn claim_job(shared: &Shared, rewrite: bool) -> bool {
    let p = &shared.persistence;
    let mut st = p.state.lock();
    if st.job.is_some() {
        return false;
    }
    st.job = Some(RunningJob {
        rewrite,
        started: Instant::now(),
    });
    p.job_keys.store(0, Ordering::Relaxed);
    true
}

/// BGSAVE (and the `save` rules): the capture begins now, between two commands; the event loop
/// walks it and the job thread writes it (see `bgsave`).
pub fn start_bgsave(store: &mut Store, shared: &Shared) -> Result<(), String> {
    shared.persistence.state.lock().last_bgsave_try_ms = shared.now_ms();
    if store.capture_active() || !claim_job(shared, false) {
        return Err("a background save is already in progress".into());
    }
    let started = begin_capture(
        store,
        shared,
        JobKind::Snapshot {
            path: snapshot_path(shared),
        },
    )
    .and_then(|job| shared.persistence.jobs.run_begun(shared, job));
    if let Err(e) = started {
        abandon_capture(store);
        shared.persistence.state.lock().job = None;
        return Err(e);
    }
    Ok(())
}

/// Walks a capture nobody will write to its end, so the entry marks are consistent again.
fn abandon_capture(store: &mut Store) {
    if store.capture_active() {
        while !store.capture_step(usize::MAX, |_, _| {}) {}
        drop(store.end_capture());
    }
}

/// BGREWRITEAOF (and the automatic rewrite): the job thread lists a new incr file (file I/O,
/// away from the keyspace lock, `plan_rewrite`), then the event loop switches the writer to it
/// and begins the capture of the new base in one critical section (`begin_rewrite`).
pub fn start_rewrite(store: &mut Store, shared: &Shared) -> Result<(), String> {
    if store.capture_active() || !claim_job(shared, true) {
        return Err("a background save is already in progress".into());
    }
    shared.persistence.state.lock().rewrite_scheduled = false;
    if !shared.persistence.jobs.submit(JobRequest::Rewrite) {
        shared.persistence.state.lock().job = None;
        return Err("the background save thread is not running".into());
    }
    Ok(())
}

/// The job thread's first step of a rewrite: plan it in the manifest (a new incr file, listed).
pub(crate) fn plan_rewrite(shared: &Shared) -> Result<RewritePlan, String> {
    let (dir, name) = aof_location(shared);
    let mut slot = shared.persistence.manifest.lock();
    if slot.is_none() {
        *slot = Some(Manifest::load_or_new(&dir, &name).map_err(|e| e.to_string())?);
    }
    match slot.as_mut() {
        Some(m) => m.start_rewrite().map_err(|e| e.to_string()),
        None => Err("no AOF manifest".into()),
    }
}

/// The event loop's first step of a rewrite (under the keyspace lock): hand the log so far to the
/// old incr file, switch the writer to the planned one, and begin the capture.
pub(crate) fn begin_rewrite(
    store: &mut Store,
    shared: &Shared,
    plan: RewritePlan,
) -> Result<Job, String> {
    let aof = &shared.persistence.aof;
    if aof.is_running() {
        aof.switch_to(store, plan.incr_path.clone());
        store.common.oplog.force_select();
        if shared.config.read().no_appendfsync_on_rewrite {
            aof.set_skip_fsync(true);
        }
    }
    begin_capture(store, shared, JobKind::Rewrite { plan })
}

/// A rewrite that could not start.
pub(crate) fn rewrite_not_started(shared: &Shared, error: &str) {
    let mut st = shared.persistence.state.lock();
    st.job = None;
    st.last_rewrite_ok = false;
    tracing::warn!(error, "cannot start the AOF rewrite");
}

/// Called by the job thread when a job ends (lock-free of the keyspace).
pub(crate) fn job_finished(shared: &Shared, job: Job, outcome: JobOutcome) {
    let secs = job.started.elapsed().as_secs() as i64;
    let ms = job.started.elapsed().as_millis() as u64;
    let p = &shared.persistence;
    let capture = outcome.capture;
    let mut st = p.state.lock();
    st.last_preserved = capture.preserved;
    st.last_max_slice_us = capture.max_slice_us;
    match job.kind {
        JobKind::Snapshot { path } => {
            st.job = None;
            st.last_bgsave_secs = secs;
            st.last_save_duration_ms = ms;
            match outcome.result {
                Ok(()) => {
                    st.last_bgsave_ok = true;
                    st.last_save_ms = job.started_ms;
                    st.dirty_at_last_save = job.dirty_at_start;
                    st.saves += 1;
                    p.bgsave_failing.store(false, Ordering::Relaxed);
                    tracing::info!(path = %path.display(), keys = outcome.keys, bytes = outcome.bytes,
                        ms, preserved = capture.preserved, slices = capture.slices,
                        max_slice_us = capture.max_slice_us, "Background saving terminated with success");
                }
                Err(e) => {
                    st.last_bgsave_ok = false;
                    let cfg = shared.config.read();
                    let refuse = cfg.stop_writes_on_bgsave_error && !cfg.save.is_empty();
                    p.bgsave_failing.store(refuse, Ordering::Relaxed);
                    tracing::warn!(path = %path.display(), error = %e, "Background saving error");
                }
            }
        }
        JobKind::Rewrite { plan } => {
            p.aof.set_skip_fsync(false);
            // The manifest update (fsyncs) runs without the state lock, which the event loop takes
            // every cron tick.
            drop(st);
            let finished = outcome
                .result
                .and_then(|()| match p.manifest.lock().as_mut() {
                    Some(m) => m
                        .finish_rewrite_keeping_history(&plan)
                        .map_err(|e| e.to_string()),
                    None => Err("the AOF manifest is gone (appendonly turned off?)".into()),
                })
                // The superseded files are deleted a step at a time in the background (see
                // `bgsave::Jobs::retire`).
                .map(|superseded| p.jobs.retire(shared, superseded));
            // Sizes first: no file-system call under the state lock, which the event loop takes.
            let base = std::fs::metadata(&plan.base_path).map_or(0, |m| m.len());
            let incr = ringkv_persist::log_len_of(&plan.incr_path).unwrap_or(0);
            let mut st = p.state.lock();
            st.job = None;
            st.last_rewrite_secs = secs;
            match finished {
                Ok(()) => {
                    st.last_rewrite_ok = true;
                    st.rewrites += 1;
                    p.aof.set_sizes(base + incr, base + incr);
                    tracing::info!(base = %plan.base_path.display(), keys = outcome.keys, bytes = outcome.bytes,
                        ms, preserved = capture.preserved, slices = capture.slices,
                        max_slice_us = capture.max_slice_us, "Background AOF rewrite finished successfully");
                }
                Err(e) => {
                    st.last_rewrite_ok = false;
                    tracing::warn!(error = %e, "Background AOF rewrite failed; the log keeps growing until a rewrite succeeds");
                }
            }
        }
    }
}

/// Turns the AOF on at run time (CONFIG SET appendonly yes): the writer starts on a new incr
/// file and a rewrite captures the current data as its base, as Redis's startAppendOnly does.
fn enable_aof(store: &mut Store, shared: &Shared) -> Result<(), String> {
    if job_busy(store, shared) {
        shared.persistence.state.lock().rewrite_scheduled = true;
        return Err("a background save is in progress; AOF starts when it ends".into());
    }
    let (dir, name) = aof_location(shared);
    let path = {
        let mut m = Manifest::load_or_new(&dir, &name).map_err(|e| e.to_string())?;
        let path = m.open_new_incr().map_err(|e| e.to_string())?;
        *shared.persistence.manifest.lock() = Some(m);
        path
    };
    let aof = &shared.persistence.aof;
    aof.configure(&shared.config.read());
    aof.start(path)?;
    store.common.oplog.set_enabled(true);
    start_rewrite(store, shared)
}

/// Turns the AOF off: stops logging, then writes, fsyncs and closes the file.
fn disable_aof(store: &mut Store, shared: &Shared) {
    // The writer finishes the file (write, fsync) on its own; it reports its own errors.
    drop(shared.persistence.aof.stop(store));
    store.common.oplog.set_enabled(false);
    *shared.persistence.manifest.lock() = None;
}

/// Applies persistence settings after CONFIG SET (under the keyspace lock).
pub fn config_changed(store: &mut Store, shared: &Shared) {
    let on = shared.config.read().appendonly;
    let aof = &shared.persistence.aof;
    aof.configure(&shared.config.read());
    if on && !aof.is_running() {
        match enable_aof(store, shared) {
            Ok(()) => tracing::info!("AOF enabled: rewriting the current data as its base"),
            Err(e) => tracing::warn!(error = %e, "AOF not enabled yet"),
        }
    } else if !on && aof.is_running() {
        disable_aof(store, shared);
        tracing::info!("AOF disabled");
    }
}

/// The cron's persistence duties (every tick, under the keyspace lock): hand the log to the
/// writer, start scheduled jobs, the `save` rules and the automatic AOF rewrite.
pub fn tick(store: &mut Store, shared: &Shared) {
    let aof = &shared.persistence.aof;
    flush_oplog(store, aof);
    if job_busy(store, shared) || shared.persistence.is_loading() {
        return;
    }
    let now = shared.now_ms();
    let (save_rules, appendonly, perc, min_size) = {
        let c = shared.config.read();
        (
            c.save.clone(),
            c.appendonly,
            c.auto_aof_rewrite_percentage,
            c.auto_aof_rewrite_min_size,
        )
    };
    if appendonly && !aof.is_running() {
        config_changed(store, shared);
        return;
    }
    let (rewrite_scheduled, bgsave_scheduled, last_save, dirty_at, last_ok, last_try) = {
        let st = shared.persistence.state.lock();
        (
            st.rewrite_scheduled,
            st.bgsave_scheduled,
            st.last_save_ms,
            st.dirty_at_last_save,
            st.last_bgsave_ok,
            st.last_bgsave_try_ms,
        )
    };
    if rewrite_scheduled && aof.is_running() {
        if let Err(e) = start_rewrite(store, shared) {
            tracing::warn!(error = %e, "cannot start the scheduled AOF rewrite");
        }
        return;
    }
    let changes = store.common.dirty.saturating_sub(dirty_at);
    let rule_due = save_rules.iter().any(|&(secs, min_changes)| {
        changes >= min_changes
            && now - last_save >= (secs as i64).saturating_mul(1000)
            && (last_ok || now - last_try >= BGSAVE_RETRY_DELAY_MS)
    });
    if bgsave_scheduled || rule_due {
        shared.persistence.state.lock().bgsave_scheduled = false;
        if rule_due {
            tracing::info!(changes, "save rule met: saving in the background");
        }
        if let Err(e) = start_bgsave(store, shared) {
            tracing::warn!(error = %e, "cannot start a background save");
        }
        return;
    }
    if aof.is_running() && perc > 0 {
        let size = aof.current_size();
        let base = aof.base_size().max(1);
        if size > min_size && size.saturating_sub(base) * 100 / base >= u64::from(perc) {
            tracing::info!(
                size,
                base,
                "starting automatic AOF rewrite ({perc}% growth)"
            );
            if let Err(e) = start_rewrite(store, shared) {
                tracing::warn!(error = %e, "cannot start the automatic AOF rewrite");
            }
        }
    }
}

/// Shutdown: the last log bytes to disk, and a final snapshot if `save` rules exist and AOF
/// is off (Redis does the same on SIGTERM / SHUTDOWN).
pub fn shutdown(shared: &Shared) {
    let save = saves_on_shutdown(shared) && !shared.persistence.state.lock().shutdown_save_done;
    let done = shared.persistence.aof.stop(&mut shared.store.lock());
    if let Err(e) = crate::aof::wait_stopped(done, std::time::Duration::from_secs(30)) {
        tracing::warn!(error = %e, "AOF not fully synced at shutdown");
    }
    let mut store = shared.store.lock();
    if save && !shared.persistence.is_loading() {
        if let Err(e) = save_now(&mut store, shared) {
            tracing::warn!(error = %e, "final snapshot failed");
        }
    }
}

/// Whether shutdown should write a snapshot by default (save points configured).
pub fn saves_on_shutdown(shared: &Shared) -> bool {
    !shared.config.read().save.is_empty()
}

/// Whether a background job runs (or is about to: a rewrite claims the job before its capture).
fn job_busy(store: &Store, shared: &Shared) -> bool {
    store.capture_active() || shared.persistence.state.lock().job.is_some()
}

fn busy_error(st: &PersistState) -> CmdError {
    if st.rewrite_running() {
        CmdError::Static("ERR An AOF log rewriting in progress: can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.")
    } else {
        CmdError::Static("ERR Background save already in progress")
    }
}

fn save(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    if job_busy(ctx.store, ctx.shared) {
        return Err(CmdError::Static("ERR Background save already in progress"));
    }
    save_now(ctx.store, ctx.shared).map_err(|_| CmdError::Static("ERR"))?;
    ctx.out.ok();
    Ok(())
}

fn bgsave(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let schedule = match args.get(1) {
        None => false,
        Some(a) if a.eq_ignore_ascii_case(b"schedule") => true,
        Some(_) => return Err(crate::error::SYNTAX),
    };
    if job_busy(ctx.store, ctx.shared) {
        let mut st = ctx.shared.persistence.state.lock();
        if schedule && !st.bgsave_running() {
            st.bgsave_scheduled = true;
            ctx.out.simple(b"Background saving scheduled");
            return Ok(());
        }
        return Err(busy_error(&st));
    }
    start_bgsave(ctx.store, ctx.shared).map_err(|e| CmdError::Owned(format!("ERR {e}")))?;
    ctx.out.simple(b"Background saving started");
    Ok(())
}

fn bgrewriteaof(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    if job_busy(ctx.store, ctx.shared) {
        let mut st = ctx.shared.persistence.state.lock();
        if st.rewrite_running() {
            return Err(CmdError::Static(
                "ERR Background append only file rewriting already in progress",
            ));
        }
        st.rewrite_scheduled = true;
        ctx.out
            .simple(b"Background append only file rewriting scheduled");
        return Ok(());
    }
    start_rewrite(ctx.store, ctx.shared).map_err(|e| CmdError::Owned(format!("ERR {e}")))?;
    ctx.out
        .simple(b"Background append only file rewriting started");
    Ok(())
}

fn lastsave(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let ms = ctx.shared.persistence.state.lock().last_save_ms;
    ctx.out.integer(ms / 1000);
    Ok(())
}

/// The `# Persistence` INFO section (Redis 7 field names; fork-specific ones are absent and
/// `capture_preserved_keys` reports the copy-on-write cost of the running capture).
pub fn info_section(store: &Store, shared: &Shared, out: &mut String) {
    let p = &shared.persistence;
    let st = p.state.lock();
    let aof = &p.aof;
    let changes = store.common.dirty.saturating_sub(st.dirty_at_last_save);
    let job_secs = |rewrite: bool| match &st.job {
        Some(j) if j.rewrite == rewrite => j.started.elapsed().as_secs() as i64,
        _ => -1,
    };
    let ok = |b: bool| if b { "ok" } else { "err" };
    let (job_keys, job_total) = match &st.job {
        Some(_) => (
            p.job_keys.load(Ordering::Relaxed),
            store.total_keys() as u64,
        ),
        None => (0, 0),
    };
    let mut lines: Vec<(&str, String)> = vec![("loading", u8::from(p.is_loading()).to_string())];
    lines.push(("async_loading", "0".into()));
    lines.push(("current_save_keys_processed", job_keys.to_string()));
    lines.push(("current_save_keys_total", job_total.to_string()));
    lines.push((
        "capture_preserved_keys",
        store.common.capture.preserved_total().to_string(),
    ));
    lines.push(("last_capture_preserved_keys", st.last_preserved.to_string()));
    lines.push((
        "last_capture_max_slice_us",
        st.last_max_slice_us.to_string(),
    ));
    lines.push(("rdb_changes_since_last_save", changes.to_string()));
    lines.push((
        "rdb_bgsave_in_progress",
        u8::from(st.bgsave_running()).to_string(),
    ));
    lines.push(("rdb_last_save_time", (st.last_save_ms / 1000).to_string()));
    lines.push(("rdb_last_bgsave_status", ok(st.last_bgsave_ok).into()));
    lines.push(("rdb_last_bgsave_time_sec", st.last_bgsave_secs.to_string()));
    lines.push(("rdb_current_bgsave_time_sec", job_secs(false).to_string()));
    lines.push(("rdb_saves", st.saves.to_string()));
    lines.push((
        "rdb_last_save_time_ms",
        st.last_save_duration_ms.to_string(),
    ));
    lines.push((
        "rdb_keys_loaded_at_start",
        st.keys_loaded_at_start.to_string(),
    ));
    lines.push(("aof_enabled", u8::from(aof.is_running()).to_string()));
    lines.push((
        "aof_rewrite_in_progress",
        u8::from(st.rewrite_running()).to_string(),
    ));
    lines.push((
        "aof_rewrite_scheduled",
        u8::from(st.rewrite_scheduled).to_string(),
    ));
    lines.push((
        "aof_last_rewrite_time_sec",
        st.last_rewrite_secs.to_string(),
    ));
    lines.push(("aof_current_rewrite_time_sec", job_secs(true).to_string()));
    lines.push(("aof_last_bgrewrite_status", ok(st.last_rewrite_ok).into()));
    lines.push(("aof_rewrites", st.rewrites.to_string()));
    lines.push(("aof_last_write_status", ok(aof.last_write_ok()).into()));
    if aof.is_running() {
        let s = &aof.stats;
        lines.push(("aof_current_size", aof.current_size().to_string()));
        lines.push(("aof_base_size", aof.base_size().to_string()));
        lines.push((
            "aof_pending_rewrite",
            u8::from(st.rewrite_scheduled).to_string(),
        ));
        let buffered = aof.queued_bytes() + store.common.oplog.pending() as u64;
        lines.push(("aof_buffer_length", buffered.to_string()));
        lines.push((
            "aof_delayed_fsync",
            s.delayed_fsync.load(Ordering::Relaxed).to_string(),
        ));
        lines.push(("aof_writes", s.writes.load(Ordering::Relaxed).to_string()));
        lines.push(("aof_fsyncs", s.fsyncs.load(Ordering::Relaxed).to_string()));
        lines.push((
            "aof_last_fsync_us",
            s.last_fsync_us.load(Ordering::Relaxed).to_string(),
        ));
        lines.push((
            "aof_preallocated_bytes",
            s.preallocated.load(Ordering::Relaxed).to_string(),
        ));
        lines.push((
            "aof_preallocations",
            s.preallocations.load(Ordering::Relaxed).to_string(),
        ));
        lines.push((
            "aof_write_errors",
            s.write_errors.load(Ordering::Relaxed).to_string(),
        ));
    }
    if let Some(l) = &st.loading {
        let perc = if l.total_bytes == 0 {
            0.0
        } else {
            l.loaded_bytes as f64 * 100.0 / l.total_bytes as f64
        };
        let elapsed = l.started.map_or(0.0, |t| t.elapsed().as_secs_f64());
        let eta = if l.loaded_bytes == 0 {
            1
        } else {
            ((l.total_bytes.saturating_sub(l.loaded_bytes)) as f64 * elapsed
                / l.loaded_bytes as f64) as u64
        };
        lines.push(("loading_start_time", (l.started_ms / 1000).to_string()));
        lines.push(("loading_total_bytes", l.total_bytes.to_string()));
        lines.push(("loading_loaded_bytes", l.loaded_bytes.to_string()));
        lines.push(("loading_loaded_perc", format!("{perc:.2}")));
        lines.push(("loading_eta_seconds", eta.to_string()));
    }
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
        "bgsave",
        -1,
        flags::ADMIN | flags::NOSCRIPT | flags::NO_MULTI,
        bgsave,
    )
    .group("server")
    .doc(
        "Asynchronously saves the database(s) to disk.",
        "1.0.0",
        "O(1)",
    )
    .syntax("[SCHEDULE]"),
    CommandSpec::new(
        "bgrewriteaof",
        1,
        flags::ADMIN | flags::NOSCRIPT | flags::NO_MULTI,
        bgrewriteaof,
    )
    .group("server")
    .doc(
        "Asynchronously rewrites the append-only file to disk.",
        "1.0.0",
        "O(1)",
    ),
    CommandSpec::new("wait", 3, flags::BLOCKING | flags::NOSCRIPT, wait)
        .group("generic")
        .doc(
            "Blocks until the asynchronous replication of all preceding write commands sent by the connection is completed.",
            "3.0.0",
            "O(1)",
        )
        .syntax("numreplicas timeout"),
    CommandSpec::new("waitaof", 4, flags::BLOCKING | flags::NOSCRIPT, waitaof)
        .group("generic")
        .doc(
            "Blocks until all of the preceding write commands sent by the connection are written to the append-only file of the master and/or replicas.",
            "7.2.0",
            "O(1)",
        )
        .syntax("numlocal numreplicas timeout"),
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

/// `WAITAOF numlocal numreplicas timeout` (Redis 7.2): blocks until every write this connection
/// sent before it is fsynced to the local AOF (`numlocal` 1), or until `timeout` milliseconds
/// (0: no limit), and answers how many AOFs have them: `[local, replicas]`. There are no
/// replicas (ringkv replicates through its cluster mode, where writes are acknowledged by W
/// nodes instead, and WAITAOF is refused there), so `replicas` is 0 and a `numreplicas` above 0
/// waits for the whole timeout, as Redis without replicas does.
///
/// "Every write before it" is taken as the whole log so far (its current offset), which covers
/// this connection's writes and may cover others' too. The writer is asked to fsync at once
/// instead of at its policy's next fsync, so under `everysec` the wait is one fsync, not up to a
/// second, and under `no` it ends at all. Inside MULTI it does not block: it answers what is
/// fsynced already, as Redis does.
fn waitaof(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let numlocal = crate::parse::int_arg(args.arg(1))?;
    if !(0..=1).contains(&numlocal) {
        return Err(CmdError::Static(
            "ERR value is out of range, value must between 0 and 1",
        ));
    }
    let numreplicas = crate::parse::non_negative_arg(args.arg(2))?;
    let timeout = crate::blocking::parse_timeout_ms(args.arg(3))?;
    if numlocal > 0 && !ctx.shared.config.read().appendonly {
        return Err(CmdError::Static(
            "ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled.",
        ));
    }
    let aof = ctx.shared.persistence.aof.clone();
    let aof2 = aof.clone();
    let target = ctx.store.common.oplog.offset();
    let acked = move |aof: &Aof| i64::from(aof.is_running() && aof.synced() >= target);
    let proto = ctx.out.protocol();
    let reply = move |local: i64| {
        let mut w = ringkv_protocol::ReplyWriter::new(proto);
        w.array(2);
        w.integer(local);
        w.integer(0);
        std::mem::take(w.buffer_mut())
    };
    let now = acked(&aof);
    if (now >= numlocal && numreplicas == 0) || ctx.client.in_exec {
        ctx.out.buffer_mut().extend_from_slice(&reply(now));
        return Ok(());
    }
    block_until(
        ctx,
        timeout,
        async move {
            // Local fsync first (when asked for), then whatever replicas would add: none.
            if numlocal > 0 && aof.is_running() {
                aof.wait_synced(target).await;
            }
            if numreplicas > 0 {
                std::future::pending::<()>().await;
            }
        },
        move || reply(acked(&aof2)),
    );
    Ok(())
}

/// Blocks the client until `done` completes or `timeout` passes (None: no limit), then replies
/// with what `reply` says then.
fn block_until(
    ctx: &mut Ctx<'_>,
    timeout: Option<std::time::Duration>,
    done: impl std::future::Future<Output = ()> + Send + 'static,
    reply: impl FnOnce() -> Vec<u8> + Send + 'static,
) {
    let (mut tx, rx) = tokio::sync::oneshot::channel();
    let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
    tokio::spawn(async move {
        let limit = async {
            match deadline {
                Some(at) => tokio::time::sleep_until(at).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = done => {}
            _ = limit => {}
            _ = tx.closed() => return,
        }
        let _ = tx.send(reply());
    });
    ctx.client.action = Some(crate::Action::Block(crate::blocking::BlockWait {
        reply: rx,
        timeout: None,
    }));
}

/// `WAIT numreplicas timeout`: the number of replicas that acknowledged this connection's
/// writes. A single node has none, so it answers 0: at once when `numreplicas` is 0 (or inside
/// MULTI), after the timeout otherwise (0: never), as Redis without replicas does. Refused in
/// cluster mode (writes there are acknowledged by `cluster-write-quorum` replicas).
fn wait(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let numreplicas = crate::parse::int_arg(args.arg(1))?;
    let timeout = crate::blocking::parse_timeout_ms(args.arg(2))?;
    if numreplicas <= 0 || ctx.client.in_exec {
        ctx.out.integer(0);
        return Ok(());
    }
    let proto = ctx.out.protocol();
    block_until(ctx, timeout, std::future::pending(), move || {
        let mut w = ringkv_protocol::ReplyWriter::new(proto);
        w.integer(0);
        std::mem::take(w.buffer_mut())
    });
    Ok(())
}
