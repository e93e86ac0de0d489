//! The append-only file at run time: one writer thread that appends the operation log to the
//! current incr file and fsyncs it per `appendfsync`.
//!
//! Flow: commands append their effects to the keyspace's `OpLog` under the keyspace lock. This
//! thread takes everything logged so far out of the keyspace in one short lock and writes it with
//! one `write`, so one cycle covers the batches of many clients (as Redis's one write per
//! event-loop iteration does) and the file order is the execution order. It looks every 5 ms by
//! itself; under `always` the end of a batch that logged something wakes it at once ([`flush_oplog`],
//! at most one wake-up per cycle). Then:
//! - `always`: fsyncs, and only then publishes the new durable offset; connections whose batch
//!   logged something wait for that offset before sending their replies (so an acknowledged write
//!   is on disk). Everything queued while one fsync runs shares the next one (group commit).
//! - `everysec`: fsyncs at most once a second, on this thread, so a slow disk delays the file,
//!   never the event loop or a reply.
//! - `no`: leaves flushing to the kernel.
//!
//! A failed write (disk full, permissions, a file-size limit) is cut back to the last complete
//! command (`ftruncate`), the data stays queued, writes are refused with `-MISCONF` (see
//! [`Aof::refusal`]), and the write is retried every 100 ms; when it succeeds, service resumes
//! with nothing lost. Waiting `always` clients get their replies once their data is on disk.

use crate::shared::Shared;
use parking_lot::Mutex;
use ringkv_config::AppendFsync;
use ringkv_engine::Store;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How often a failed write is retried.
const RETRY_INTERVAL: Duration = Duration::from_millis(100);
/// How often the writer looks at the keyspace's log by itself. Under `everysec` and `no` that is
/// how the log reaches the file (nobody waits for it, so no wake-ups are spent); under `always`
/// batches wake the writer and this is only a safety net. An idle check is one uncontended lock.
const IDLE_POLL: Duration = Duration::from_millis(5);
/// `everysec`: the fsync period.
const FSYNC_INTERVAL: Duration = Duration::from_secs(1);

enum Msg {
    /// New log bytes are waiting in the keyspace.
    Wake,
    /// Log bytes taken out of the keyspace by someone else (before a switch or stop); `end` is
    /// the oplog offset just after them.
    Data { bytes: Vec<u8>, end: u64 },
    /// Finish the current file (write, fsync) and append to `path` from now on.
    Switch(PathBuf),
    /// Write and fsync everything queued before this, answer, and exit.
    Stop(mpsc::Sender<Result<(), String>>),
}

/// The AOF writer's shared state (one per server, in `Shared`).
pub struct Aof {
    tx: Mutex<Option<mpsc::Sender<Msg>>>,
    /// A wake-up is on its way to the writer (so batches do not send one each).
    wake_pending: AtomicBool,
    /// Oplog offset written (everysec/no) or written and fsynced (always).
    durable: watch::Sender<u64>,
    fsync: AtomicU8,
    /// Set while a rewrite runs and `no-appendfsync-on-rewrite` is on.
    skip_fsync: AtomicBool,
    /// The last write or fsync failed and has not succeeded since.
    failing: AtomicBool,
    last_error: Mutex<String>,
    /// Bytes queued and not yet written (INFO aof_buffer_length).
    queued: AtomicU64,
    /// Size of the incr file being appended to, and of all incr files plus the base
    /// (INFO aof_current_size; the auto-rewrite rule compares it with `base_size`).
    current_size: AtomicU64,
    base_size: AtomicU64,
    pub stats: AofStats,
}

/// Counters for INFO persistence.
#[derive(Default)]
pub struct AofStats {
    pub writes: AtomicU64,
    pub fsyncs: AtomicU64,
    pub write_errors: AtomicU64,
    /// Last fsync's duration, microseconds.
    pub last_fsync_us: AtomicU64,
    pub delayed_fsync: AtomicU64,
}

fn policy_code(p: AppendFsync) -> u8 {
    match p {
        AppendFsync::Always => 0,
        AppendFsync::EverySec => 1,
        AppendFsync::No => 2,
    }
}

fn policy_of(code: u8) -> AppendFsync {
    match code {
        0 => AppendFsync::Always,
        1 => AppendFsync::EverySec,
        _ => AppendFsync::No,
    }
}

impl Default for Aof {
    fn default() -> Self {
        Aof {
            tx: Mutex::new(None),
            wake_pending: AtomicBool::new(false),
            durable: watch::channel(0).0,
            fsync: AtomicU8::new(policy_code(AppendFsync::EverySec)),
            skip_fsync: AtomicBool::new(false),
            failing: AtomicBool::new(false),
            last_error: Mutex::new(String::new()),
            queued: AtomicU64::new(0),
            current_size: AtomicU64::new(0),
            base_size: AtomicU64::new(0),
            stats: AofStats::default(),
        }
    }
}

impl Aof {
    /// Whether the writer runs (AOF on).
    pub fn is_running(&self) -> bool {
        self.tx.lock().is_some()
    }

    pub fn set_fsync(&self, policy: AppendFsync) {
        self.fsync.store(policy_code(policy), Ordering::Relaxed);
    }

    pub fn fsync_policy(&self) -> AppendFsync {
        policy_of(self.fsync.load(Ordering::Relaxed))
    }

    pub fn set_skip_fsync(&self, skip: bool) {
        self.skip_fsync.store(skip, Ordering::Relaxed);
    }

    /// The `-MISCONF` text while the last write failed.
    pub fn refusal(&self) -> Option<String> {
        if self.failing.load(Ordering::Relaxed) {
            Some(format!(
                "MISCONF Errors writing to the AOF file: {}",
                self.last_error.lock()
            ))
        } else {
            None
        }
    }

    pub fn last_write_ok(&self) -> bool {
        !self.failing.load(Ordering::Relaxed)
    }

    pub fn queued_bytes(&self) -> u64 {
        self.queued.load(Ordering::Relaxed)
    }

    pub fn current_size(&self) -> u64 {
        self.current_size.load(Ordering::Relaxed)
    }

    pub fn base_size(&self) -> u64 {
        self.base_size.load(Ordering::Relaxed)
    }

    /// Records the sizes after start-up or a rewrite: the base plus existing incr files.
    pub fn set_sizes(&self, base: u64, total: u64) {
        self.base_size.store(base, Ordering::Relaxed);
        self.current_size.store(total, Ordering::Relaxed);
    }

    /// Starts the writer thread appending to `path` (created if missing); it takes the log out
    /// of `shared`'s keyspace. The oplog must be enabled by the caller under the keyspace lock.
    pub fn start(self: &Arc<Self>, path: PathBuf, shared: Weak<Shared>) -> Result<(), String> {
        let file = open_append(&path)?;
        let (tx, rx) = mpsc::channel();
        let aof = self.clone();
        std::thread::Builder::new()
            .name("ringkv-aof".into())
            .spawn(move || Writer::new(aof, file, path, shared).run(rx))
            .map_err(|e| format!("cannot start the AOF writer thread: {e}"))?;
        *self.tx.lock() = Some(tx);
        Ok(())
    }

    fn send(&self, msg: Msg) -> bool {
        match &*self.tx.lock() {
            Some(tx) => tx.send(msg).is_ok(),
            None => false,
        }
    }

    /// Makes the writer append to a new file after everything logged so far (call under the
    /// keyspace lock, so the switch falls between two commands).
    pub fn switch_to(&self, store: &mut Store, path: PathBuf) {
        self.hand_over(store);
        self.send(Msg::Switch(path));
    }

    /// Sends what the keyspace logged so far with the next message (under the keyspace lock).
    fn hand_over(&self, store: &mut Store) {
        let log = &mut store.common.oplog;
        if log.pending() > 0 {
            let end = log.offset();
            let bytes = log.take();
            self.queued.fetch_add(bytes.len() as u64, Ordering::Relaxed);
            self.send(Msg::Data { bytes, end });
        }
    }

    /// Stops the writer after it has written and fsynced everything logged so far (AOF turned
    /// off, shutdown). Call under the keyspace lock, before turning logging off (which drops
    /// unsent bytes); returns a receiver for the outcome, to wait on after the lock is released
    /// (the writer may need the lock).
    pub fn stop(&self, store: &mut Store) -> Option<mpsc::Receiver<Result<(), String>>> {
        self.hand_over(store);
        let tx = self.tx.lock().take()?;
        let (done_tx, done_rx) = mpsc::channel();
        tx.send(Msg::Stop(done_tx)).ok()?;
        Some(done_rx)
    }

    /// Wakes the writer unless a wake-up is already on its way.
    fn wake(&self) -> bool {
        if self.wake_pending.swap(true, Ordering::AcqRel) {
            return true;
        }
        self.send(Msg::Wake)
    }

    /// Resolves once the log up to `offset` is durable under the current policy.
    pub async fn wait_durable(&self, offset: u64) {
        let mut rx = self.durable.subscribe();
        let _ = rx.wait_for(|d| *d >= offset).await;
    }

    /// Whether a batch that logged up to `offset` must wait before replying.
    pub fn must_wait(&self, offset: u64) -> bool {
        self.fsync_policy() == AppendFsync::Always && *self.durable.borrow() < offset
    }
}

/// Under `appendfsync always`, wakes the writer for what the batch logged (call after a batch,
/// under the keyspace lock) and returns the log offset the batch's replies must wait for. Under
/// `everysec`/`no` nobody waits: the writer picks the bytes up on its next poll (IDLE_POLL), so no
/// cross-thread wake-up is spent per batch, and this returns None.
pub fn flush_oplog(store: &mut Store, aof: &Aof) -> Option<u64> {
    let log = &store.common.oplog;
    if log.pending() == 0 || aof.fsync_policy() != AppendFsync::Always {
        return None;
    }
    // No writer (AOF being turned off): nothing to wait for.
    aof.wake().then_some(log.offset())
}

/// Waits for the outcome of [`Aof::stop`] (after releasing the keyspace lock).
pub fn wait_stopped(
    done: Option<mpsc::Receiver<Result<(), String>>>,
    limit: Duration,
) -> Result<(), String> {
    match done {
        None => Ok(()),
        Some(rx) => rx
            .recv_timeout(limit)
            .unwrap_or_else(|_| Err("timed out waiting for the AOF writer".into())),
    }
}

fn open_append(path: &PathBuf) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| format!("cannot open the AOF file {}: {e}", path.display()))
}

struct Writer {
    aof: Arc<Aof>,
    /// Where the log is taken from.
    shared: Weak<Shared>,
    file: File,
    path: PathBuf,
    /// Length of the file as far as complete writes go (a failed write is cut back to it).
    len: u64,
    /// Work not done yet, in order.
    queue: VecDeque<Msg>,
    written_end: u64,
    synced_end: u64,
    last_fsync: Instant,
}

impl Writer {
    fn new(aof: Arc<Aof>, file: File, path: PathBuf, shared: Weak<Shared>) -> Writer {
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let start = *aof.durable.borrow();
        Writer {
            aof,
            shared,
            file,
            path,
            len,
            queue: VecDeque::new(),
            written_end: start,
            synced_end: start,
            last_fsync: Instant::now(),
        }
    }

    fn run(mut self, rx: mpsc::Receiver<Msg>) {
        loop {
            let wait = if self.aof.failing.load(Ordering::Relaxed) && !self.queue.is_empty() {
                RETRY_INTERVAL
            } else if self.synced_end < self.written_end
                && self.aof.fsync_policy() == AppendFsync::EverySec
            {
                FSYNC_INTERVAL
                    .saturating_sub(self.last_fsync.elapsed())
                    .min(IDLE_POLL)
            } else {
                IDLE_POLL
            };
            match rx.recv_timeout(wait) {
                Ok(Msg::Wake) => {}
                Ok(msg) => self.queue.push_back(msg),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let _ = self.drain();
                    let _ = self.fsync();
                    return;
                }
            }
            self.collect(&rx);
            if self.drain() == Drained::Stopped {
                return;
            }
        }
    }

    /// Queues, in execution order, the messages sent so far and then what the keyspace logged
    /// since. Both happen under one keyspace lock: bytes handed over with a message (before a
    /// switch) were taken under that lock earlier, so they are already in the channel and go
    /// first; anything logged later is taken here, after them.
    fn collect(&mut self, rx: &mpsc::Receiver<Msg>) {
        let shared = self.shared.upgrade();
        let store = shared.as_ref().map(|s| s.store.lock());
        // Under the keyspace lock nothing can be logged: everything logged so far is taken below,
        // and whatever is logged after the lock is released sends a new wake-up.
        self.aof.wake_pending.store(false, Ordering::Release);
        while let Ok(msg) = rx.try_recv() {
            if !matches!(msg, Msg::Wake) {
                self.queue.push_back(msg);
            }
        }
        // After a stop nothing more is written.
        if self.queue.iter().any(|m| matches!(m, Msg::Stop(_))) {
            return;
        }
        let Some(mut guard) = store else {
            return;
        };
        let log = &mut guard.common.oplog;
        if log.pending() == 0 {
            return;
        }
        let (bytes, end) = (log.take(), log.offset());
        drop(guard);
        self.aof
            .queued
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.queue.push_back(Msg::Data { bytes, end });
    }

    /// Applies queued work in order until done or a failure. Then fsyncs per policy.
    fn drain(&mut self) -> Drained {
        let mut pending_data = Vec::new();
        while let Some(msg) = self.queue.pop_front() {
            match msg {
                Msg::Wake => {}
                Msg::Data { bytes, end } => {
                    pending_data.push((bytes, end));
                    // Coalesce consecutive data into one write.
                    if matches!(self.queue.front(), Some(Msg::Data { .. })) {
                        continue;
                    }
                    if let Err(e) = self.write(&pending_data) {
                        self.fail(e);
                        // Put the data back in front, in order.
                        for d in pending_data.into_iter().rev() {
                            self.queue.push_front(Msg::Data {
                                bytes: d.0,
                                end: d.1,
                            });
                        }
                        return Drained::Failed;
                    }
                    pending_data.clear();
                }
                Msg::Switch(path) => {
                    if let Err(e) = self.fsync() {
                        self.fail(e);
                        self.queue.push_front(Msg::Switch(path));
                        return Drained::Failed;
                    }
                    match open_append(&path) {
                        Ok(f) => {
                            self.len = f.metadata().map(|m| m.len()).unwrap_or(0);
                            self.file = f;
                            tracing::info!(path = %path.display(), "AOF writer switched to a new incr file");
                            self.path = path;
                        }
                        Err(e) => {
                            self.fail(e);
                            self.queue.push_front(Msg::Switch(path));
                            return Drained::Failed;
                        }
                    }
                }
                Msg::Stop(reply) => {
                    let r = self.fsync();
                    let _ = reply.send(r);
                    return Drained::Stopped;
                }
            }
        }
        let policy = self.aof.fsync_policy();
        let skip = self.aof.skip_fsync.load(Ordering::Relaxed);
        let due = match policy {
            AppendFsync::Always => !skip,
            AppendFsync::EverySec => !skip && self.last_fsync.elapsed() >= FSYNC_INTERVAL,
            AppendFsync::No => false,
        };
        if due && self.synced_end < self.written_end {
            if let Err(e) = self.fsync() {
                self.fail(e);
                return Drained::Failed;
            }
        }
        self.publish();
        Drained::Done
    }

    fn write(&mut self, chunks: &[(Vec<u8>, u64)]) -> Result<(), String> {
        let total: usize = chunks.iter().map(|c| c.0.len()).sum();
        let mut buf;
        let data: &[u8] = if chunks.len() == 1 {
            &chunks[0].0
        } else {
            buf = Vec::with_capacity(total);
            for c in chunks {
                buf.extend_from_slice(&c.0);
            }
            &buf
        };
        if let Err(e) = self.file.write_all(data) {
            // Cut a partial write back so the file ends at a command boundary.
            if let Err(t) = self.file.set_len(self.len) {
                tracing::warn!(error = %t, "cannot truncate the AOF after a failed write");
            }
            return Err(format!("{e}"));
        }
        self.len += total as u64;
        self.aof.stats.writes.fetch_add(1, Ordering::Relaxed);
        self.aof.queued.fetch_sub(total as u64, Ordering::Relaxed);
        self.aof
            .current_size
            .fetch_add(total as u64, Ordering::Relaxed);
        if let Some(last) = chunks.last() {
            self.written_end = last.1;
        }
        self.recovered();
        Ok(())
    }

    fn fsync(&mut self) -> Result<(), String> {
        let t = Instant::now();
        self.file
            .sync_data()
            .map_err(|e| format!("fsync of {} failed: {e}", self.path.display()))?;
        let us = t.elapsed().as_micros() as u64;
        self.aof.stats.last_fsync_us.store(us, Ordering::Relaxed);
        self.aof.stats.fsyncs.fetch_add(1, Ordering::Relaxed);
        if us > 2_000_000 {
            self.aof.stats.delayed_fsync.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                ms = us / 1000,
                "AOF fsync is taking too long (disk is busy?)"
            );
        }
        self.last_fsync = Instant::now();
        self.synced_end = self.written_end;
        self.publish();
        Ok(())
    }

    fn publish(&self) {
        let durable = match self.aof.fsync_policy() {
            AppendFsync::Always if !self.aof.skip_fsync.load(Ordering::Relaxed) => self.synced_end,
            _ => self.written_end,
        };
        self.aof.durable.send_if_modified(|d| {
            if *d < durable {
                *d = durable;
                true
            } else {
                false
            }
        });
    }

    fn fail(&self, error: String) {
        self.aof.stats.write_errors.fetch_add(1, Ordering::Relaxed);
        if !self.aof.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(path = %self.path.display(), error = %error, "error writing the AOF: refusing writes until it works again");
        }
        *self.aof.last_error.lock() = error;
    }

    fn recovered(&self) {
        if self.aof.failing.swap(false, Ordering::Relaxed) {
            tracing::warn!(path = %self.path.display(), "AOF write succeeded again: accepting writes");
        }
    }
}

#[derive(PartialEq, Eq)]
enum Drained {
    Done,
    Failed,
    Stopped,
}
