//! Background snapshots (BGSAVE, the `save` rules) and AOF rewrites (BGREWRITEAOF, automatic by
//! size), written from a point-in-time capture while clients keep being served.
//!
//! The capture (`ringkv_engine::capture`) is Redis's fork without the fork. The work is split in
//! two, so that no thread other than the event loop ever holds the keyspace lock:
//! - On the event loop, a capture task (`drive`) begins the capture (for a rewrite, in the same
//!   critical section in which the AOF writer switches to the new incr file) and then walks the
//!   keyspace one short slice at a time ([`SLICE_BUDGET`] of encoding under the lock, with a
//!   yield to the clients between slices). It hands the encoded records, and the pre-images
//!   writers preserved meanwhile, to the job thread.
//! - The job thread (at nice 10) checksums and writes those bytes (handing the buffers back for
//!   the next chunks, see `SPARE_BUFFERS`), encodes and frees the pre-images, fsyncs every
//!   `SYNC_EVERY_BYTES`, paces its writes while clients are being served
//!   (`BUSY_WRITE_BYTES_PER_SEC`), and at the end fsyncs, renames and updates the
//!   manifest (which lists the superseded files as history; the `ringkv-retire` thread deletes
//!   them a step at a time, see `Jobs::retire`).
//!
//! Why the slices run on the event loop: a slice taken by another thread holds the lock that
//! every client needs, and that thread can be descheduled in the middle (at nice 10 on a busy
//! machine, for tens of milliseconds: the cause of the 135 ms outliers measured while rewrites
//! ran back to back), stalling every client for as long. A slice on the event loop cannot be
//! preempted by the clients it delays, so a client waits at most one slice. Freeing pre-images (a
//! flushed database can be millions of entries) and all file I/O stay off the event loop.
//!
//! A capture always runs to its end, even after its file failed (marks must become consistent
//! again); a failed job only records its error.

use crate::cpu_affinity::{self, Role};
use crate::persistence::{begin_rewrite, job_finished, plan_rewrite, rewrite_not_started};
use crate::shared::Shared;
use ringkv_engine::capture::Preserved;
use ringkv_persist::{
    fsync_dir, temp_path, EncodedEntries, EntryEncoder, RewritePlan, SnapshotHeader, SnapshotWriter,
};
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};
use tokio::sync::mpsc as pieces;

/// Longest a capture slice holds the keyspace lock on the event loop while clients are being
/// served: what a request can wait for it. With one slice per round of the event loop (see
/// `drive`) this keeps the capture to about a fifth of a saturated loop; measured with 50
/// clients at pipeline 1, 200 µs slices took a third and pushed the clients' p99 from about 1 ms
/// to 4 ms, for rewrites only 1.6x faster. The clock is read every `CHECK_EVERY` entries, so a
/// slice overshoots by at most that many entries (plus one big value).
pub const SLICE_BUDGET: Duration = Duration::from_micros(100);
/// Slice length when no command ran since the previous slice: an idle server walks in longer
/// slices (fewer round trips through the scheduler), and a client that arrives waits at most this.
pub const IDLE_SLICE_BUDGET: Duration = Duration::from_millis(1);
/// Entries walked between two looks at the clock. Measured on a 2M-key table by the ignored test
/// `scan_cost_per_64_entries_at_rest_and_while_resizing` (engine crate), per 64 entries: about
/// 4 µs on average when the walk can prefetch, 5-6 µs while the table is being resized (plain
/// SCAN steps), and a worst 64 of 76-282 µs over three runs. 256 entries between looks could
/// therefore hold the loop for several times a 100 µs slice; a resize lasts as long as the
/// clients take to finish it.
const CHECK_EVERY: usize = 64;
/// Encoded bytes the event loop gathers before handing them to the job thread.
const CHUNK_BYTES: usize = 256 * 1024;
/// Pre-images gathered in the keyspace before they are handed over (without waiting for a chunk).
const PRESERVED_BATCH: usize = 1024;
/// Pieces in flight between the event loop and the job thread. When the disk is slower than
/// the walk, the capture task waits (serving clients meanwhile) instead of buffering the data set.
const PIECES_IN_FLIGHT: usize = 16;
/// Written chunk buffers the job thread keeps for the event loop to encode into again (as many
/// as can be in flight, so a loop that keeps up never needs a fresh one). A fresh buffer is
/// mapped page by page as the loop fills it, a page fault each 4 KB on the loop (each 2 MB with
/// huge pages, see `disable-thp`); the memory is freed when the job ends.
const SPARE_BUFFERS: usize = PIECES_IN_FLIGHT;
/// The job thread fsyncs the file every this many bytes (Redis's incremental fsync), so the end
/// of a job does not push the whole file to the disk at once, in front of the AOF's own fsyncs.
const SYNC_EVERY_BYTES: u64 = 8 << 20;
/// While clients are being served, the job writes at most this fast (an idle server writes at
/// full speed). Unpaced, a rewrite under load wrote as fast as the walk produced (over 60 MB/s
/// on the 2-core VM of `bench/`, twice Redis's rewrite child), and the disk and CPU work of that
/// writeback roughly doubled the client stalls above 8 ms while rewrites ran back to back; at
/// this pace rewrites under load take about as long as Redis's.
const BUSY_WRITE_BYTES_PER_SEC: f64 = 32.0 * 1024.0 * 1024.0;
/// Longest single pause of the pacing (the job stays responsive to the end of the capture).
const MAX_PACING_SLEEP: Duration = Duration::from_millis(50);
/// The server counts as idle (the job writes at full speed) once it served no command for this
/// long.
const IDLE_AFTER: Duration = Duration::from_millis(10);

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

/// What the event loop's capture task hands the job thread, in order.
pub enum Piece {
    /// A rewrite's capture has begun (its job follows the manifest planning).
    Begun(Job),
    /// A rewrite's capture could not begin.
    NotBegun(String),
    /// Records encoded under the keyspace lock.
    Entries(EncodedEntries),
    /// Pre-images writers moved aside: encoded (and freed) by the job thread.
    Preserved(Preserved),
    /// An entry could not be encoded: the job fails (the capture still runs to its end).
    Failed(String),
    /// The capture is complete.
    Done(CaptureStats),
}

/// How the capture went on the event loop.
#[derive(Debug, Default, Clone, Copy)]
pub struct CaptureStats {
    /// Entries writers preserved (the copy-on-write cost).
    pub preserved: u64,
    /// Slices taken and the longest one: the longest a client waited for the capture.
    pub slices: u64,
    pub max_slice_us: u64,
}

/// What the job thread is asked to do.
pub enum JobRequest {
    /// Write a capture that has begun (BGSAVE), fed by the capture task through `pieces`.
    Run(Job, pieces::Receiver<Piece>),
    /// Plan a rewrite in the manifest, have the event loop begin its capture, write it.
    Rewrite,
}

/// Superseded AOF files (the old base and incr files after a rewrite) are deleted a step at a
/// time: truncated by this much, then a pause. Deleting a 90 MB base at once froze the whole
/// 2-core VM of `bench/` for 10-15 ms (every thread at once while the disk discarded the blocks;
/// `rm` of such a file next to two busy loops shows it, files up to 45 MB do not), which was the
/// last latency spike left while rewrites ran back to back. 8 MB steps 100 ms apart show none.
const RETIRE_STEP_BYTES: u64 = 8 << 20;
const RETIRE_PAUSE: Duration = Duration::from_millis(100);

/// The job thread's queue (one job at a time: at most one capture exists), the runtime the
/// capture tasks run on, and the thread that deletes superseded files.
#[derive(Default)]
pub struct Jobs {
    tx: parking_lot::Mutex<Option<mpsc::Sender<JobRequest>>>,
    runtime: parking_lot::Mutex<Option<tokio::runtime::Handle>>,
    retired: parking_lot::Mutex<Option<mpsc::Sender<Vec<PathBuf>>>>,
    /// Chunk buffers written out by the job thread, for the capture task to reuse.
    spare_buffers: parking_lot::Mutex<Vec<Vec<u8>>>,
}

impl Jobs {
    /// Starts the job thread (once, at server start, inside the server's runtime).
    pub fn start(shared: &Arc<Shared>) -> Result<(), String> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "background saves need the server's runtime".to_string())?;
        let (tx, rx) = mpsc::channel::<JobRequest>();
        let weak = Arc::downgrade(shared);
        std::thread::Builder::new()
            .name("ringkv-bgsave".into())
            .spawn(move || {
                lower_priority();
                for request in rx {
                    let Some(shared) = weak.upgrade() else { return };
                    match request {
                        JobRequest::Run(job, pieces) => {
                            cpu_affinity::pin_for(match job.kind {
                                JobKind::Rewrite { .. } => Role::AofRewrite,
                                JobKind::Snapshot { .. } => Role::Bgsave,
                            });
                            run(&shared, job, pieces)
                        }
                        JobRequest::Rewrite => {
                            cpu_affinity::pin_for(Role::AofRewrite);
                            rewrite(&shared)
                        }
                    }
                }
            })
            .map_err(|e| format!("cannot start the background save thread: {e}"))?;
        let (retire_tx, retire_rx) = mpsc::channel::<Vec<PathBuf>>();
        let weak = Arc::downgrade(shared);
        std::thread::Builder::new()
            .name("ringkv-retire".into())
            .spawn(move || {
                cpu_affinity::pin_for(Role::Background);
                retire_files(weak, retire_rx)
            })
            .map_err(|e| format!("cannot start the file deletion thread: {e}"))?;
        *shared.persistence.jobs.runtime.lock() = Some(runtime);
        *shared.persistence.jobs.tx.lock() = Some(tx);
        *shared.persistence.jobs.retired.lock() = Some(retire_tx);
        Ok(())
    }

    /// Deletes files a rewrite superseded (listed as history in the manifest) in the background,
    /// a step at a time, then drops them from the manifest. Without the deletion thread, at once.
    pub(crate) fn retire(&self, shared: &Shared, files: Vec<PathBuf>) {
        let sent = match &*self.retired.lock() {
            Some(tx) => tx.send(files).is_ok(),
            None => false,
        };
        if !sent {
            forget_history(shared, &[]);
        }
    }

    /// A written chunk's buffer, kept for the next chunks (dropped if enough are kept).
    fn give_back(&self, entries: EncodedEntries) {
        let mut spares = self.spare_buffers.lock();
        if spares.len() < SPARE_BUFFERS {
            spares.push(entries.into_buffer());
        }
    }

    /// A buffer for the next chunk, if one was given back.
    fn spare_buffer(&self) -> Option<Vec<u8>> {
        self.spare_buffers.lock().pop()
    }

    /// Frees the kept buffers (at the end of a job), outside the lock.
    fn drop_spare_buffers(&self) {
        let spares = std::mem::take(&mut *self.spare_buffers.lock());
        drop(spares);
    }

    /// Queues a request. False if the thread is not running.
    pub(crate) fn submit(&self, request: JobRequest) -> bool {
        match &*self.tx.lock() {
            Some(tx) => tx.send(request).is_ok(),
            None => false,
        }
    }

    /// Starts the capture task of a rewrite on the event loop; returns the job thread's end of
    /// its pieces, or None if the server's runtime is gone.
    fn spawn_rewrite_capture(
        &self,
        shared: &Shared,
        plan: RewritePlan,
    ) -> Option<pieces::Receiver<Piece>> {
        let runtime = self.runtime.lock().clone()?;
        let shared = shared.weak().upgrade()?;
        let (tx, rx) = pieces::channel(PIECES_IN_FLIGHT);
        runtime.spawn(drive(shared, Start::Rewrite(plan), tx));
        Some(rx)
    }

    /// BGSAVE, once its capture has begun (under the keyspace lock): hands the job to the job
    /// thread and starts its capture task on the event loop. On an error nothing has started and
    /// the caller abandons the capture.
    pub(crate) fn run_begun(&self, shared: &Shared, job: Job) -> Result<(), String> {
        let not_running = || "the background save thread is not running".to_string();
        let runtime = self.runtime.lock().clone().ok_or_else(not_running)?;
        let shared = shared.weak().upgrade().ok_or_else(not_running)?;
        let header = job.header.clone();
        let (tx, rx) = pieces::channel(PIECES_IN_FLIGHT);
        if !self.submit(JobRequest::Run(job, rx)) {
            return Err(not_running());
        }
        runtime.spawn(drive(shared, Start::Begun(header), tx));
        Ok(())
    }
}

/// How a capture task starts.
enum Start {
    /// The capture has begun already (BGSAVE begins it in the command itself).
    Begun(SnapshotHeader),
    /// A rewrite: begin the capture and switch the AOF writer, in one critical section.
    Rewrite(RewritePlan),
}

/// The deletion thread: shrinks every file it is given a step at a time, then, once nothing more
/// is queued, has the manifest delete the (now empty) history files and forget them.
fn retire_files(shared: std::sync::Weak<Shared>, rx: mpsc::Receiver<Vec<PathBuf>>) {
    // Shrunk files the manifest still lists (kept until it forgets them all).
    let mut shrunk = Vec::new();
    while let Ok(first) = rx.recv() {
        let mut next = Some(first);
        while let Some(files) = next {
            for path in files {
                shrink(&path);
                shrunk.push(path);
            }
            next = rx.try_recv().ok();
        }
        let Some(shared) = shared.upgrade() else {
            return;
        };
        if forget_history(&shared, &shrunk) {
            shrunk.clear();
        }
    }
}

/// Truncates `path` to nothing, [`RETIRE_STEP_BYTES`] at a time. Errors are left to the final
/// deletion, which reports them.
fn shrink(path: &Path) {
    let Ok(file) = OpenOptions::new().write(true).open(path) else {
        return;
    };
    let mut len = file.metadata().map_or(0, |m| m.len());
    while len > 0 {
        len = len.saturating_sub(RETIRE_STEP_BYTES);
        if file.set_len(len).is_err() {
            return;
        }
        if len > 0 {
            std::thread::sleep(RETIRE_PAUSE);
        }
    }
}

/// Deletes the manifest's history files and saves it without them, if every one of them has
/// been shrunk (a file listed since is left for a later round; with `shrunk` empty, deletes at
/// once). With the AOF turned off meanwhile, deletes the shrunk files only: the manifest on disk
/// still lists them as history, which the next start-up forgets. True when nothing shrunk is
/// left listed.
fn forget_history(shared: &Shared, shrunk: &[PathBuf]) -> bool {
    let mut slot = shared.persistence.manifest.lock();
    let Some(m) = slot.as_mut() else {
        drop(slot);
        for path in shrunk {
            let _ = fs::remove_file(path);
        }
        return true;
    };
    let all_shrunk =
        shrunk.is_empty() || m.history().iter().all(|f| shrunk.contains(&m.path_of(f)));
    if !all_shrunk {
        return false;
    }
    match m.delete_history() {
        Ok(done) => {
            for (path, e) in &done.kept {
                tracing::warn!(path = %path.display(), error = %e, "cannot delete an old AOF file");
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot update the AOF manifest after deleting old files")
        }
    }
    true
}

/// Background saves yield the CPU to the event loop: on a busy machine a job thread at the same
/// priority takes a share of two cores from it. The job thread never holds the keyspace lock,
/// so its low priority cannot stall clients.
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

/// The capture task: begins a rewrite's capture if asked to, then walks the keyspace in slices
/// on the event loop and hands the results to the job thread. If the job thread has gone, it
/// still walks to the end (without encoding), so the entry marks are consistent again.
async fn drive(shared: Arc<Shared>, start: Start, tx: pieces::Sender<Piece>) {
    // `open`: the job thread still listens. Without it the walk goes on (without encoding).
    let (header, mut open) = match start {
        Start::Begun(header) => (header, true),
        Start::Rewrite(plan) => {
            let begun = begin_rewrite(&mut shared.store.lock(), &shared, plan);
            match begun {
                Ok(job) => {
                    let header = job.header.clone();
                    (header, tx.send(Piece::Begun(job)).await.is_ok())
                }
                Err(e) => {
                    let _ = tx.send(Piece::NotBegun(e)).await;
                    return;
                }
            }
        }
    };
    let mut encoder = EntryEncoder::new(&header);
    let mut stats = CaptureStats::default();
    // Encoding stops after an error or without a listener; the walk does not.
    let mut encoding = open;
    let mut error = None;
    let mut served_before = u64::MAX;
    loop {
        let served = shared
            .stats
            .total_commands_processed
            .load(Ordering::Relaxed);
        let budget = if served == served_before {
            IDLE_SLICE_BUDGET
        } else {
            SLICE_BUDGET
        };
        served_before = served;
        let (done, preserved) = {
            let mut store = shared.store.lock();
            let held = Instant::now();
            let done = loop {
                let done = store.capture_step(CHECK_EVERY, |db, e| {
                    if encoding && error.is_none() {
                        if let Err(err) = encoder.write_entry(db, e.key(), e.value(), e.expire()) {
                            error = Some(format!("cannot encode a key: {err}"));
                        }
                    }
                });
                if done || encoder.len() >= CHUNK_BYTES || held.elapsed() >= budget {
                    break done;
                }
            };
            stats.preserved = store.common.capture.preserved_total();
            let preserved = if done {
                Some(store.end_capture())
            } else if store.common.capture.preserved_pending() >= PRESERVED_BATCH
                || encoder.len() >= CHUNK_BYTES
            {
                Some(store.take_preserved())
            } else {
                None
            };
            drop(store);
            let held = held.elapsed();
            stats.slices += 1;
            stats.max_slice_us = stats.max_slice_us.max(held.as_micros() as u64);
            (done, preserved)
        };
        if let Some(e) = error.take() {
            encoding = false;
            open = open && tx.send(Piece::Failed(e)).await.is_ok();
        }
        if !encoder.is_empty() && (done || encoder.len() >= CHUNK_BYTES) {
            let entries = encoder.take(shared.persistence.jobs.spare_buffer());
            open = open && tx.send(Piece::Entries(entries)).await.is_ok();
        }
        encoding &= open;
        // Pre-images are freed by the job thread: freeing a flushed database's table takes as
        // long as the table is big. (Dropped here only if the job thread has gone.)
        if let Some(p) = preserved.filter(|p| !p.is_empty()) {
            open = open && tx.send(Piece::Preserved(p)).await.is_ok();
        }
        if done {
            if open {
                let _ = tx.send(Piece::Done(stats)).await;
            }
            return;
        }
        // Let every client with a request waiting be served before the next slice. On an idle
        // server this returns at once and the walk runs at full speed.
        tokio::task::yield_now().await;
    }
}

/// BGREWRITEAOF on the job thread: plan it in the manifest (file I/O, away from the event
/// loop), have the event loop begin the capture, write it.
fn rewrite(shared: &Arc<Shared>) {
    let plan = match plan_rewrite(shared) {
        Ok(plan) => plan,
        Err(e) => return rewrite_not_started(shared, &e),
    };
    let Some(mut rx) = shared.persistence.jobs.spawn_rewrite_capture(shared, plan) else {
        return rewrite_not_started(shared, "the server's runtime is gone");
    };
    match rx.blocking_recv() {
        Some(Piece::Begun(job)) => run(shared, job, rx),
        Some(Piece::NotBegun(e)) => rewrite_not_started(shared, &e),
        _ => rewrite_not_started(shared, "the capture task ended before it began"),
    }
}

/// What a finished job reports.
pub struct JobOutcome {
    pub keys: u64,
    pub bytes: u64,
    pub capture: CaptureStats,
    pub result: Result<(), String>,
}

fn run(shared: &Shared, job: Job, pieces: pieces::Receiver<Piece>) {
    let target = match &job.kind {
        JobKind::Snapshot { path } => path.clone(),
        JobKind::Rewrite { plan } => plan.base_path.clone(),
    };
    tracing::info!(path = %target.display(), kind = job_name(&job.kind), "background save started");
    let outcome = write_capture(shared, &job, &target, pieces);
    job_finished(shared, job, outcome);
}

fn job_name(kind: &JobKind) -> &'static str {
    match kind {
        JobKind::Snapshot { .. } => "snapshot",
        JobKind::Rewrite { .. } => "aof-rewrite",
    }
}

/// The file being written: fsyncs itself every `SYNC_EVERY_BYTES`, and paces itself to
/// [`BUSY_WRITE_BYTES_PER_SEC`] while clients are being served.
struct JobFile<'a> {
    file: File,
    unsynced: u64,
    /// Commands served so far (the server's counter), to tell a busy server from an idle one,
    /// and when it last moved.
    served: &'a AtomicU64,
    served_seen: u64,
    served_moved: Instant,
    /// Bytes written since `paced_from`, while the server was busy.
    paced_bytes: u64,
    paced_from: Instant,
}

impl<'a> JobFile<'a> {
    fn new(file: File, served: &'a AtomicU64) -> JobFile<'a> {
        let now = Instant::now();
        JobFile {
            file,
            unsynced: 0,
            served,
            served_seen: served.load(Ordering::Relaxed),
            served_moved: now,
            paced_bytes: 0,
            paced_from: now,
        }
    }

    /// Sleeps as long as writing `n` more bytes would put the job ahead of its pace. A server
    /// that served no command for [`IDLE_AFTER`] is idle: not paced, and no allowance builds up
    /// for later.
    fn pace(&mut self, n: usize) {
        let now = Instant::now();
        let served = self.served.load(Ordering::Relaxed);
        if served != self.served_seen {
            self.served_seen = served;
            self.served_moved = now;
        } else if now.duration_since(self.served_moved) >= IDLE_AFTER {
            self.paced_bytes = 0;
            self.paced_from = now;
            return;
        }
        self.paced_bytes += n as u64;
        let due = Duration::from_secs_f64(self.paced_bytes as f64 / BUSY_WRITE_BYTES_PER_SEC);
        let ahead = due.saturating_sub(now.duration_since(self.paced_from));
        if !ahead.is_zero() {
            std::thread::sleep(ahead.min(MAX_PACING_SLEEP));
        }
    }
}

impl io::Write for JobFile<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.pace(buf.len());
        let n = self.file.write(buf)?;
        self.unsynced += n as u64;
        if self.unsynced >= SYNC_EVERY_BYTES {
            self.file.sync_data()?;
            self.unsynced = 0;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes what the capture task sends into `<target>.tmp`, then fsync + rename + directory
/// fsync. Receives every piece to the end whatever happens to the file, so the capture finishes
/// and the pre-images are freed here.
fn write_capture(
    shared: &Shared,
    job: &Job,
    target: &Path,
    mut pieces: pieces::Receiver<Piece>,
) -> JobOutcome {
    let tmp = temp_path(target);
    let mut error = None;
    let mut writer = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .open(&tmp)
        .map_err(|e| format!("cannot create {}: {e}", tmp.display()))
        .and_then(|file| {
            SnapshotWriter::new(
                JobFile::new(file, &shared.stats.total_commands_processed),
                &job.header,
            )
            .map_err(|e| format!("writing {}: {e}", tmp.display()))
        })
        .map_err(|e| error = Some(e))
        .ok();
    let mut capture = None;
    let progress = &shared.persistence;
    while let Some(piece) = pieces.blocking_recv() {
        let written = match (&mut writer, piece) {
            (_, Piece::Done(stats)) => {
                capture = Some(stats);
                break;
            }
            (_, Piece::Failed(e)) => Err(e),
            (_, Piece::Begun(_) | Piece::NotBegun(_)) => Ok(()),
            (Some(w), Piece::Entries(entries)) if error.is_none() => {
                let written = w
                    .write_encoded(&entries)
                    .map_err(|e| format!("writing {}: {e}", tmp.display()));
                shared.persistence.jobs.give_back(entries);
                written
            }
            (Some(w), Piece::Preserved(preserved)) if error.is_none() => {
                let mut result = Ok(());
                preserved.for_each(|db, e| {
                    if result.is_ok() {
                        result = w.write_entry(db, e.key(), e.value(), e.expire()).map(drop);
                    }
                });
                result.map_err(|e| format!("writing {}: {e}", tmp.display()))
            }
            // After an error the pieces are only received (and the pre-images freed).
            _ => Ok(()),
        };
        if let Err(e) = written {
            error.get_or_insert(e);
        }
        if let Some(w) = &writer {
            progress.job_keys.store(w.keys_written(), Ordering::Relaxed);
        }
    }
    shared.persistence.jobs.drop_spare_buffers();
    let mut keys = 0;
    let mut bytes = 0;
    let result = match (error, writer, capture) {
        (Some(e), _, _) => Err(e),
        (None, _, None) => Err("the capture task ended early".into()),
        (None, None, _) => Err("snapshot writer unavailable".into()),
        (None, Some(w), Some(_)) => finish(w).map(|(k, b)| {
            keys = k;
            bytes = b;
        }),
    }
    .and_then(|()| {
        fs::rename(&tmp, target).map_err(|e| format!("renaming {}: {e}", tmp.display()))?;
        let dir = target.parent().unwrap_or(Path::new("."));
        fsync_dir(dir).map_err(|e| format!("fsync of {}: {e}", dir.display()))
    });
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    JobOutcome {
        keys,
        bytes,
        capture: capture.unwrap_or_default(),
        result,
    }
}

fn finish(w: SnapshotWriter<JobFile<'_>>) -> Result<(u64, u64), String> {
    let (out, summary) = w.finish().map_err(|e| e.to_string())?;
    out.file.sync_all().map_err(|e| e.to_string())?;
    Ok((summary.keys, summary.bytes))
}
