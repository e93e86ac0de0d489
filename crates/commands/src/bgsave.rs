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

/// Entries encoded per lock hold: about 0.1 ms of work for small values.
pub const STEP_ENTRIES: usize = 500;
/// While clients are being served, the job stays off the lock after each slice for this multiple
/// of the slice's hold time (at least [`MIN_PAUSE`]), so it takes at most a third of the
/// keyspace's time. Without the pause the event loop would get one batch in between two slices,
/// and every connection would wait a slice. On an idle server the job runs at full speed.
const PAUSE_FACTOR: u32 = 2;
const MIN_PAUSE: std::time::Duration = std::time::Duration::from_micros(100);

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

/// What the job thread is asked to do.
pub enum JobRequest {
    /// Write a capture that has begun (BGSAVE).
    Run(Job),
    /// Plan a rewrite, begin its capture, write it.
    Rewrite,
}

/// The job thread's queue (one job at a time: at most one capture exists).
#[derive(Default)]
pub struct Jobs {
    tx: parking_lot::Mutex<Option<mpsc::Sender<JobRequest>>>,
}

impl Jobs {
    /// Starts the job thread (once, at server start).
    pub fn start(shared: &Arc<Shared>) -> Result<(), String> {
        let (tx, rx) = mpsc::channel::<JobRequest>();
        let weak = Arc::downgrade(shared);
        std::thread::Builder::new()
            .name("ringkv-bgsave".into())
            .spawn(move || {
                lower_priority();
                for request in rx {
                    let Some(shared) = weak.upgrade() else { return };
                    let job = match request {
                        JobRequest::Run(job) => job,
                        JobRequest::Rewrite => match crate::persistence::prepare_rewrite(&shared) {
                            Ok(job) => job,
                            Err(e) => {
                                crate::persistence::rewrite_not_started(&shared, &e);
                                continue;
                            }
                        },
                    };
                    run(&shared, job);
                }
            })
            .map_err(|e| format!("cannot start the background save thread: {e}"))?;
        *shared.persistence.jobs.tx.lock() = Some(tx);
        Ok(())
    }

    /// Queues a request. False if the thread is not running.
    pub(crate) fn submit(&self, request: JobRequest) -> bool {
        match &*self.tx.lock() {
            Some(tx) => tx.send(request).is_ok(),
            None => false,
        }
    }
}

/// Background saves yield the CPU to the event loop: on a busy machine a job thread at the same
/// priority takes a third of two cores from it and, worse, can be preempted while it holds the
/// keyspace lock. At nice 10 the scheduler runs it when a core is free (including while the event
/// loop waits for the lock, so a preempted slice finishes at once).
fn lower_priority() {
    // SAFETY: setpriority(2) on the calling thread (tid from gettid); no memory is involved.
    let rc = unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, JOB_NICE)
    };
    if rc != 0 {
        tracing::debug!("cannot lower the background save thread's priority");
    }
}

/// The job thread's nice value.
const JOB_NICE: libc::c_int = 10;

/// What a finished job reports.
pub struct JobOutcome {
    pub keys: u64,
    pub bytes: u64,
    pub preserved: u64,
    /// Slices taken and the longest time one held the keyspace lock (what clients may wait).
    pub slices: u64,
    pub max_slice_us: u64,
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
    let mut slices = 0u64;
    let mut max_slice_us = 0u64;
    let mut pause_until;
    let mut served_before = u64::MAX;
    loop {
        // One slice under the lock: encode into memory only.
        let (done, preserved) = {
            let mut store = shared.store.lock();
            let held = Instant::now();
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
            drop(store);
            let held = held.elapsed();
            slices += 1;
            max_slice_us = max_slice_us.max(held.as_micros() as u64);
            let served = shared
                .stats
                .total_commands_processed
                .load(std::sync::atomic::Ordering::Relaxed);
            pause_until = if served != served_before {
                Instant::now() + (held * PAUSE_FACTOR).max(MIN_PAUSE)
            } else {
                Instant::now()
            };
            served_before = served;
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
        let now = Instant::now();
        if pause_until > now {
            std::thread::sleep(pause_until - now);
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
        slices,
        max_slice_us,
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
