//! Background snapshots (BGSAVE, the `save` rules) and AOF rewrites (BGREWRITEAOF, automatic by
//! size), written from a point-in-time capture by one job thread while clients keep being served.
//!
//! The capture (`ringkv_engine::capture`) is Redis's fork without the fork: it is started under
//! the keyspace lock by [`start_job`], so its moment falls between two commands (and, for a
//! rewrite, at the exact point where the AOF writer switches to the new incr file). The job then
//! takes the lock for one short slice at a time ([`STEP_ENTRIES`] entries encoded into memory),
//! hands it back fairly, and writes the encoded bytes and the pre-images writers preserved in the
//! meantime outside the lock. The file is a temp file, fsynced and renamed at the end.
//!
//! A capture always runs to its end, even after its file failed (marks must become consistent
//! again); a failed job only records its error.

use crate::shared::Shared;
use ringkv_persist::{fsync_dir, temp_path, RewritePlan, SnapshotHeader, SnapshotWriter};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Instant;

/// Entries encoded per lock hold: about 0.1-1 ms of work for small values.
pub const STEP_ENTRIES: usize = 2_000;

/// What a job produces.
#[derive(Debug)]
pub enum JobKind {
    /// BGSAVE: `dir/dbfilename`.
    Snapshot { path: PathBuf },
    /// BGREWRITEAOF: the new base of the multi-part AOF.
    Rewrite { plan: RewritePlan },
}

#[derive(Debug)]
pub struct Job {
    pub kind: JobKind,
    pub header: SnapshotHeader,
    /// `dirty` when the capture began (what the snapshot covers).
    pub dirty_at_start: u64,
    pub started: Instant,
    pub started_ms: i64,
}

/// The job thread's queue (one job at a time: at most one capture exists).
#[derive(Default)]
pub struct Jobs {
    tx: parking_lot::Mutex<Option<mpsc::Sender<Job>>>,
}

impl Jobs {
    /// Starts the job thread (once, at server start).
    pub fn start(shared: &Arc<Shared>) -> Result<(), String> {
        let (tx, rx) = mpsc::channel::<Job>();
        let weak = Arc::downgrade(shared);
        std::thread::Builder::new()
            .name("ringkv-bgsave".into())
            .spawn(move || {
                for job in rx {
                    let Some(shared) = weak.upgrade() else { return };
                    run(&shared, job);
                }
            })
            .map_err(|e| format!("cannot start the background save thread: {e}"))?;
        *shared.persistence.jobs.tx.lock() = Some(tx);
        Ok(())
    }

    /// Queues a job whose capture the caller has begun. False if the thread is not running.
    pub(crate) fn submit(&self, job: Job) -> bool {
        match &*self.tx.lock() {
            Some(tx) => tx.send(job).is_ok(),
            None => false,
        }
    }
}

/// What a finished job reports.
pub struct JobOutcome {
    pub keys: u64,
    pub bytes: u64,
    pub preserved: u64,
    pub result: Result<(), String>,
}

fn run(shared: &Shared, job: Job) {
    let target = match &job.kind {
        JobKind::Snapshot { path } => path.clone(),
        JobKind::Rewrite { plan } => plan.base_path.clone(),
    };
    tracing::info!(path = %target.display(), kind = job_name(&job.kind), "background save started");
    let outcome = write_capture(shared, &job, &target);
    crate::persistence::job_finished(shared, job, outcome);
}

fn job_name(kind: &JobKind) -> &'static str {
    match kind {
        JobKind::Snapshot { .. } => "snapshot",
        JobKind::Rewrite { .. } => "aof-rewrite",
    }
}

/// Streams the capture into `<target>.tmp`, then fsync + rename + directory fsync.
fn write_capture(shared: &Shared, job: &Job, target: &std::path::Path) -> JobOutcome {
    let tmp = temp_path(target);
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| format!("cannot create {}: {e}", tmp.display()));
    let mut writer = match SnapshotWriter::new(Vec::with_capacity(1 << 20), &job.header) {
        Ok(w) => Some(w),
        Err(e) => {
            file = Err(e.to_string());
            None
        }
    };
    let mut error: Option<String> = file.as_ref().err().cloned();
    let mut preserved_total;
    loop {
        // One slice under the lock: encode into memory only.
        let (done, preserved) = {
            let mut store = shared.store.lock();
            let done = store.capture_step(STEP_ENTRIES, |db, e| {
                if let (Some(w), None) = (writer.as_mut(), &error) {
                    if let Err(err) = w.write_entry(db, e.key(), e.value(), e.expire()) {
                        error = Some(err.to_string());
                    }
                }
            });
            preserved_total = store.common.capture.preserved_total();
            let preserved = if done {
                store.end_capture()
            } else {
                store.take_preserved()
            };
            parking_lot::MutexGuard::unlock_fair(store);
            (done, preserved)
        };
        // Outside the lock: pre-images, file I/O, and freeing what writers moved aside.
        if let (Some(w), None) = (writer.as_mut(), &error) {
            preserved.for_each(|db, e| {
                if error.is_none() {
                    if let Err(err) = w.write_entry(db, e.key(), e.value(), e.expire()) {
                        error = Some(err.to_string());
                    }
                }
            });
        }
        drop(preserved);
        if let (Some(w), Ok(f), None) = (writer.as_mut(), file.as_mut(), &error) {
            let chunk = w.output_mut();
            if let Err(e) = f.write_all(chunk) {
                error = Some(format!("writing {}: {e}", tmp.display()));
            }
            chunk.clear();
        }
        if let Some(w) = writer.as_ref() {
            shared
                .persistence
                .state
                .lock()
                .job_progress(w.keys_written(), w.bytes_written());
        }
        if done {
            break;
        }
    }
    let mut keys = 0;
    let mut bytes = 0;
    let result = match (error, writer, file) {
        (Some(e), _, _) => Err(e),
        (None, Some(w), Ok(mut f)) => finish(w, &mut f).map(|(k, b)| {
            keys = k;
            bytes = b;
        }),
        _ => Err("snapshot writer unavailable".into()),
    }
    .and_then(|()| {
        fs::rename(&tmp, target).map_err(|e| format!("renaming {}: {e}", tmp.display()))?;
        let dir = target.parent().unwrap_or(std::path::Path::new("."));
        fsync_dir(dir).map_err(|e| format!("fsync of {}: {e}", dir.display()))
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    JobOutcome {
        keys,
        bytes,
        preserved: preserved_total,
        result,
    }
}

fn finish(w: SnapshotWriter<Vec<u8>>, f: &mut File) -> Result<(u64, u64), String> {
    let (rest, summary) = w.finish().map_err(|e| e.to_string())?;
    let io = |e: io::Error| e.to_string();
    f.write_all(&rest).map_err(io)?;
    f.sync_all().map_err(io)?;
    Ok((summary.keys, summary.bytes))
}
