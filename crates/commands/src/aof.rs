//! The append-only file at run time: one writer thread that appends the operation log to the
//! current incr file and fsyncs it per `appendfsync`, and the group commit of `always`.
//!
//! Flow: commands append their effects to the keyspace's `OpLog` under the keyspace lock. Whoever
//! ran a batch hands the batch's log over to the writer before releasing that lock
//! ([`flush_oplog`]: the bytes move into the writer's inbox, normally by swapping two buffers, so
//! nothing is copied or allocated). That keeps the file order the execution order without the
//! writer ever taking the keyspace lock: a thread that is descheduled while holding it stalls
//! every client. The writer takes everything handed over so far in one go and writes it with one
//! `write`. Under `everysec` and `no` it looks at its inbox every 5 ms by itself. Then:
//! - `always`: group commit, as Redis's one write + fsync per event-loop iteration, but with the
//!   fsync off the event loop:
//!   1. The first batch that finds the writer asleep wakes it (one wake-up per cycle, not per
//!      write). The writer then waits until the event loop has run out of ready work (the end of
//!      a round, reported by [`crate::event_loop`]; at most `GATHER_LIMIT`), so a cycle takes
//!      every batch of that round rather than the first of it (see `Writer::gather`).
//!   2. One `write` and one fsync cover everything taken; batches handed over meanwhile wait for
//!      the next cycle, which starts at the end of the next round. Only after the fsync is the
//!      new durable offset published: connections whose batch logged something wait for it
//!      before sending their replies, so an acknowledged write is on disk.
//!   3. The released connections are woken together: the writer wakes one task on the event loop
//!      (the dispatcher: one cross-thread wake-up per fsync), which wakes every connection the
//!      fsync covered from inside the event loop, where a wake-up is a run-queue push. Waking
//!      each connection from the writer thread costs a syscall per connection (the runtime's
//!      eventfd), and a broadcast at each fsync also wakes those it did not cover.
//!
//!   A slow fsync delays the waiting writes only: the event loop keeps serving everyone else.
//!
//!   Preallocated space: a fsync of bytes appended to a file also has to make the file's new
//!   size durable, a journal commit on ext4 and xfs; a fsync of bytes written over blocks the
//!   file already has does not. So under `always` the writer keeps `aof-preallocate` (1 MB) of
//!   zeros written ahead of the log's end: when less than a quarter of that is left, it writes
//!   zeros up to one step past the end, before the cycle's fsync, which makes them durable with
//!   the data. Writes are positioned (`pwrite` at the end of the data), and readers take the
//!   last non-zero byte as the end of the log (`ringkv_persist::log_len`: a command ends with
//!   `\n`). On this project's test VM a fsync of a 2 KB write took 157 µs appended and 107 µs
//!   over preallocated space (p50), and the `always` throughput at pipeline 1 rose about 10% on
//!   average over interleaved rounds (figures in docs/persistence.md); one fsync per step
//!   carries the zeros (about 0.5 ms for 1 MB). The file is cut back to its data when the
//!   writer leaves it (a switch to a new incr file, a stop).
//!   Under `everysec` and `no` nothing is preallocated: the fsync is not on the reply path there,
//!   and the zeros would double the log's disk writes.
//! - `everysec`: fsyncs at most once a second, on this thread, so a slow disk delays the file,
//!   never the event loop or a reply.
//! - `no`: leaves flushing to the kernel.
//!
//! A failed write (disk full, permissions, a file-size limit) is cut back to the last complete
//! command (`ftruncate`), the data stays queued, writes are refused with `-MISCONF` (see
//! [`Aof::refusal`]), and the write is retried every 100 ms; when it succeeds, service resumes
//! with nothing lost. Waiting `always` clients get their replies once their data is on disk.

use parking_lot::Mutex;
use ringkv_config::AppendFsync;
use ringkv_engine::oplog::OpLog;
use ringkv_engine::Store;
use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::future::Future;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How often a failed write is retried.
const RETRY_INTERVAL: Duration = Duration::from_millis(100);
/// How often the writer looks at its inbox by itself. Under `everysec` and `no` that is how the
/// log reaches the file (nobody waits for it, so no wake-ups are spent); under `always` batches
/// wake the writer and this is only a safety net.
const IDLE_POLL: Duration = Duration::from_millis(5);
/// `everysec`: the fsync period.
const FSYNC_INTERVAL: Duration = Duration::from_secs(1);
/// Zeros written per call when preallocating.
static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
/// Preallocated space ends on a multiple of this (a file-system block).
const PREALLOCATE_ALIGN: u64 = 4096;

/// A write buffer the writer hands back for reuse keeps at most this capacity (a huge batch
/// must not pin its memory for good).
const KEEP_BUFFER_BYTES: usize = 1 << 20;

/// How long an `always` writer with data waits for the event loop to go idle before it writes
/// anyway (a loop that never idles still gets an fsync at least this often after its data).
const GATHER_LIMIT: Duration = Duration::from_micros(300);

/// The event loop's side of the group commit (module docs): the end of each event-loop round
/// ([`crate::event_loop::round_ended`]) unparks a writer waiting for it.
struct EventLoop {
    /// A writer waits for the next round to end: [`round_ended`] unparks `writer`.
    kick: AtomicBool,
    writer: std::sync::Mutex<Option<std::thread::Thread>>,
}

static EVENT_LOOP: EventLoop = EventLoop {
    kick: AtomicBool::new(false),
    writer: std::sync::Mutex::new(None),
};

/// An event-loop round ended (called by [`crate::event_loop::round_ended`] after it counted the
/// round).
pub(crate) fn round_ended() {
    // SeqCst pairs with `Writer::gather` (which sets `kick`, then reads the round count).
    if EVENT_LOOP.kick.swap(false, Ordering::SeqCst) {
        let waiting = EVENT_LOOP
            .writer
            .lock()
            .map(|mut w| w.take())
            .unwrap_or(None);
        if let Some(writer) = waiting {
            writer.unpark();
        }
    }
}

/// Work for the writer, in execution order.
enum Msg {
    /// Log bytes; `end` is the oplog offset just after them.
    Data { bytes: Vec<u8>, end: u64 },
    /// Finish the current file (write, fsync) and append to `path` from now on.
    Switch(PathBuf),
    /// Write and fsync everything queued before this, answer, and exit.
    Stop(mpsc::Sender<Result<(), String>>),
}

/// What has been handed to the writer and not taken yet.
#[derive(Default)]
struct Inbox {
    /// Switches and stops, each after the log bytes handed over before it (as `Data`).
    queue: VecDeque<Msg>,
    /// Log bytes handed over since the last message of `queue`, and the oplog offset after them.
    tail: Vec<u8>,
    tail_end: u64,
    /// The writer waits for work: the next hand-over that wants it awake notifies it.
    idle: bool,
    /// A stop is queued: nothing more is accepted.
    closed: bool,
}

/// The hand-over point between the event loop and one writer thread (a new one per start, so a
/// writer still finishing after a stop never sees the next writer's data).
struct Link {
    inbox: Mutex<Inbox>,
    /// The writer thread, unparked by a hand-over that finds it idle. (Parking outside the
    /// inbox lock, rather than on a condition variable, means the writer never holds the lock
    /// across its wake-up, so the event loop never waits for a thread being scheduled.)
    writer: std::sync::OnceLock<std::thread::Thread>,
}

impl Inbox {
    fn is_empty(&self) -> bool {
        self.queue.is_empty() && self.tail.is_empty()
    }
}

/// A connection waiting for its batch to become durable.
struct Waiter {
    offset: u64,
    id: u64,
    waker: Waker,
}

#[derive(Default)]
struct Waiters {
    list: Vec<Waiter>,
    next_id: u64,
}

/// The AOF writer's shared state (one per server, in `Shared`).
pub struct Aof {
    link: Mutex<Option<Arc<Link>>>,
    /// Oplog offset written (everysec/no) or written and fsynced (always).
    durable: AtomicU64,
    /// Oplog offset fsynced, whatever the policy (WAITAOF).
    synced: AtomicU64,
    /// Notified after every fsync (WAITAOF waiters).
    synced_notify: Notify,
    /// WAITAOF wants an fsync through this offset sooner than the policy would do one.
    fsync_to: AtomicU64,
    /// Connections waiting for `durable` to reach their offset.
    waiters: Mutex<Waiters>,
    /// The lowest offset in `waiters` (u64::MAX: nobody waits), so the writer knows without a
    /// lock whether a new durable offset releases anyone.
    lowest_waiting: AtomicU64,
    /// Wakes the dispatcher task, which wakes the released waiters on the event loop.
    dispatch: Notify,
    /// The dispatcher task runs (otherwise the writer wakes the waiters itself).
    dispatcher: AtomicBool,
    fsync: AtomicU8,
    /// `aof-preallocate`: the zero-filled space kept after the log under `always` (bytes).
    preallocate: AtomicU64,
    /// Set while a rewrite runs and `no-appendfsync-on-rewrite` is on.
    skip_fsync: AtomicBool,
    /// The last write or fsync failed and has not succeeded since.
    failing: AtomicBool,
    last_error: Mutex<String>,
    /// Bytes handed over and not yet written (INFO aof_buffer_length).
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
    /// Zero-filled space after the current file's data now (INFO aof_preallocated_bytes).
    pub preallocated: AtomicU64,
    /// Times zeros were written ahead of the log.
    pub preallocations: AtomicU64,
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
            link: Mutex::new(None),
            durable: AtomicU64::new(0),
            synced: AtomicU64::new(0),
            synced_notify: Notify::new(),
            fsync_to: AtomicU64::new(0),
            waiters: Mutex::new(Waiters::default()),
            lowest_waiting: AtomicU64::new(u64::MAX),
            dispatch: Notify::new(),
            dispatcher: AtomicBool::new(false),
            fsync: AtomicU8::new(policy_code(AppendFsync::EverySec)),
            preallocate: AtomicU64::new(0),
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
        self.link.lock().is_some()
    }

    /// Takes the writer's settings (`appendfsync`, `aof-preallocate`) from the configuration.
    pub fn configure(&self, config: &ringkv_config::Config) {
        self.set_fsync(config.appendfsync);
        self.preallocate
            .store(config.aof_preallocate, Ordering::Relaxed);
    }

    pub fn set_fsync(&self, policy: AppendFsync) {
        self.fsync.store(policy_code(policy), Ordering::Relaxed);
    }

    pub fn fsync_policy(&self) -> AppendFsync {
        policy_of(self.fsync.load(Ordering::Relaxed))
    }

    /// The oplog offset known to be fsynced.
    pub fn synced(&self) -> u64 {
        self.synced.load(Ordering::Acquire)
    }

    /// Waits until the log is fsynced through `offset` (WAITAOF): asks the writer for an fsync
    /// now rather than at its policy's next one (everysec: within a second; no: never).
    pub async fn wait_synced(&self, offset: u64) {
        self.fsync_to.fetch_max(offset, Ordering::AcqRel);
        if let Some(link) = self.link.lock().as_ref() {
            if let Some(writer) = link.writer.get() {
                writer.unpark();
            }
        }
        loop {
            let notified = self.synced_notify.notified();
            if self.synced() >= offset {
                return;
            }
            notified.await;
        }
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

    /// Starts the writer thread appending to `path` (created if missing). The oplog must be
    /// enabled by the caller under the keyspace lock. Inside a Tokio runtime this also starts the
    /// dispatcher task that wakes `always` waiters (once per server).
    pub fn start(self: &Arc<Self>, path: PathBuf) -> Result<(), String> {
        let file = open_log(&path)?;
        let link = Arc::new(Link {
            inbox: Mutex::new(Inbox::default()),
            writer: std::sync::OnceLock::new(),
        });
        let writer = Writer::new(self.clone(), link.clone(), file, path);
        let thread = std::thread::Builder::new()
            .name("ringkv-aof".into())
            .spawn(move || {
                crate::cpu_affinity::pin_for(crate::cpu_affinity::Role::Background);
                writer.run()
            })
            .map_err(|e| format!("cannot start the AOF writer thread: {e}"))?;
        let _ = link.writer.set(thread.thread().clone());
        *self.link.lock() = Some(link);
        self.start_dispatcher();
        Ok(())
    }

    fn start_dispatcher(self: &Arc<Self>) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if !self.dispatcher.swap(true, Ordering::SeqCst) {
            runtime.spawn(dispatch(self.clone()));
        }
    }

    /// Moves what `log` holds into the writer's inbox, then queues `msg` (if any) after it. Wakes
    /// a sleeping writer for a message, or for data if `wake` and the inbox was empty: a writer
    /// asleep with data queued is waiting for the event loop's round to end (`Writer::gather`),
    /// and more data must not cut that short. False if no writer runs. Called under the keyspace
    /// lock, so hand-overs are in execution order.
    fn hand_over(&self, log: &mut OpLog, msg: Option<Msg>, wake: bool) -> bool {
        let slot = self.link.lock();
        let Some(link) = slot.as_ref() else {
            return false;
        };
        let mut inbox = link.inbox.lock();
        if inbox.closed {
            return false;
        }
        let pending = log.pending();
        let was_empty = inbox.is_empty();
        if pending > 0 {
            log.move_into(&mut inbox.tail);
            inbox.tail_end = log.offset();
            self.queued.fetch_add(pending as u64, Ordering::Relaxed);
        }
        let control = msg.is_some();
        if let Some(msg) = msg {
            if !inbox.tail.is_empty() {
                let bytes = std::mem::take(&mut inbox.tail);
                let end = inbox.tail_end;
                inbox.queue.push_back(Msg::Data { bytes, end });
            }
            inbox.closed = matches!(msg, Msg::Stop(_));
            inbox.queue.push_back(msg);
        }
        let unpark = inbox.idle && (control || (wake && was_empty));
        if unpark {
            inbox.idle = false;
        }
        drop(inbox);
        if let (true, Some(writer)) = (unpark, link.writer.get()) {
            writer.unpark();
        }
        true
    }

    /// Makes the writer append to a new file after everything logged so far (call under the
    /// keyspace lock, so the switch falls between two commands).
    pub fn switch_to(&self, store: &mut Store, path: PathBuf) {
        self.hand_over(&mut store.common.oplog, Some(Msg::Switch(path)), true);
    }

    /// Stops the writer after it has written and fsynced everything logged so far (AOF turned
    /// off, shutdown). Call under the keyspace lock, before turning logging off (which drops
    /// unsent bytes); returns a receiver for the outcome, to wait on after the lock is released.
    pub fn stop(&self, store: &mut Store) -> Option<mpsc::Receiver<Result<(), String>>> {
        let (done_tx, done_rx) = mpsc::channel();
        let sent = self.hand_over(&mut store.common.oplog, Some(Msg::Stop(done_tx)), true);
        self.link.lock().take();
        sent.then_some(done_rx)
    }

    /// Resolves once the log up to `offset` is durable under the current policy.
    pub fn wait_durable(&self, offset: u64) -> DurableWait<'_> {
        DurableWait {
            aof: self,
            offset,
            id: None,
        }
    }

    /// Whether a batch that logged up to `offset` must wait before replying.
    pub fn must_wait(&self, offset: u64) -> bool {
        self.fsync_policy() == AppendFsync::Always && self.durable.load(Ordering::Acquire) < offset
    }

    /// Publishes a new durable offset and gets the waiters it releases woken.
    fn advance_durable(&self, to: u64) {
        // SeqCst pairs with `DurableWait::poll` (which publishes its offset in `lowest_waiting`,
        // then reads `durable`): either the waiter sees the new offset or this sees the waiter.
        let before = self.durable.fetch_max(to, Ordering::SeqCst);
        if to > before && self.lowest_waiting.load(Ordering::SeqCst) <= to {
            if self.dispatcher.load(Ordering::SeqCst) {
                self.dispatch.notify_one();
            } else {
                let mut ready = Vec::new();
                self.take_released(&mut ready, false);
                ready.into_iter().for_each(Waker::wake);
            }
        }
    }

    /// Removes the waiters the durable offset covers (every waiter if `all`) and collects their
    /// wakers, to be woken after the lock is released.
    fn take_released(&self, ready: &mut Vec<Waker>, all: bool) {
        let durable = self.durable.load(Ordering::SeqCst);
        let mut w = self.waiters.lock();
        let mut lowest = u64::MAX;
        let mut i = 0;
        while i < w.list.len() {
            if all || w.list[i].offset <= durable {
                ready.push(w.list.swap_remove(i).waker);
            } else {
                lowest = lowest.min(w.list[i].offset);
                i += 1;
            }
        }
        self.lowest_waiting.store(lowest, Ordering::SeqCst);
    }
}

/// The dispatcher task: runs on the event loop for the server's life and wakes the connections
/// each durable offset releases (see the module docs for why on the event loop).
async fn dispatch(aof: Arc<Aof>) {
    /// If the task ends (runtime shutdown), the writer goes back to waking waiters itself and
    /// everyone waiting now looks again.
    struct Running(Arc<Aof>);
    impl Drop for Running {
        fn drop(&mut self) {
            self.0.dispatcher.store(false, Ordering::SeqCst);
            let mut ready = Vec::new();
            self.0.take_released(&mut ready, true);
            ready.into_iter().for_each(Waker::wake);
        }
    }
    let running = Running(aof);
    let mut ready = Vec::new();
    loop {
        running.0.dispatch.notified().await;
        running.0.take_released(&mut ready, false);
        ready.drain(..).for_each(Waker::wake);
    }
}

/// The future of [`Aof::wait_durable`].
pub struct DurableWait<'a> {
    aof: &'a Aof,
    offset: u64,
    /// Registration in `Aof::waiters`, once registered.
    id: Option<u64>,
}

impl Future for DurableWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        let aof = this.aof;
        if aof.durable.load(Ordering::Acquire) >= this.offset {
            return Poll::Ready(());
        }
        let mut w = aof.waiters.lock();
        let existing = this
            .id
            .and_then(|id| w.list.iter_mut().find(|e| e.id == id));
        match existing {
            Some(e) => {
                if !e.waker.will_wake(cx.waker()) {
                    e.waker = cx.waker().clone();
                }
            }
            None => {
                let id = w.next_id;
                w.next_id += 1;
                w.list.push(Waiter {
                    offset: this.offset,
                    id,
                    waker: cx.waker().clone(),
                });
                this.id = Some(id);
            }
        }
        aof.lowest_waiting.fetch_min(this.offset, Ordering::SeqCst);
        if aof.durable.load(Ordering::SeqCst) >= this.offset {
            // Published meanwhile (its waker may have missed this entry): done.
            if let Some(id) = this.id.take() {
                w.list.retain(|e| e.id != id);
            }
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for DurableWait<'_> {
    fn drop(&mut self) {
        // Abandoned before its offset became durable (the connection is closing): unregister. A
        // released waiter has already been removed by whoever woke it.
        if let Some(id) = self.id {
            if self.aof.durable.load(Ordering::Acquire) < self.offset {
                self.aof.waiters.lock().list.retain(|e| e.id != id);
            }
        }
    }
}

/// Hands what the batch logged to the AOF writer (call after a batch, under the keyspace lock)
/// and, under `appendfsync always`, returns the log offset the batch's replies must wait for
/// (the writer is woken if it sleeps). Under `everysec`/`no` nobody waits and no wake-up is
/// spent: the writer picks the bytes up on its next poll (IDLE_POLL). Nothing logged (or the AOF
/// off): None, at the cost of one comparison.
pub fn flush_oplog(store: &mut Store, aof: &Aof) -> Option<u64> {
    let log = &mut store.common.oplog;
    if log.pending() == 0 {
        return None;
    }
    let always = aof.fsync_policy() == AppendFsync::Always;
    // No writer (AOF being turned off): nothing to wait for.
    let running = aof.hand_over(log, None, always);
    (always && running).then_some(log.offset())
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

/// Opens (or creates) the log at `path` for positioned writes at the end of its data.
fn open_log(path: &PathBuf) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| format!("cannot open the AOF file {}: {e}", path.display()))
}

/// The end of the data of `file` and its length (more when space is preallocated).
fn log_extent(file: &File) -> (u64, u64) {
    let size = file.metadata().map_or(0, |m| m.len());
    let data = ringkv_persist::log_len(file).unwrap_or(size);
    (data, size)
}

struct Writer {
    aof: Arc<Aof>,
    link: Arc<Link>,
    file: File,
    path: PathBuf,
    /// End of the data: complete writes go up to here (a failed write is cut back to it), and
    /// the next one starts here.
    len: u64,
    /// Length of the file: beyond `len` it holds preallocated zeros.
    allocated: u64,
    /// After a failed preallocation, the next try waits until the data reaches this.
    preallocate_retry_at: u64,
    /// Work taken from the inbox and not done yet, in order.
    queue: VecDeque<Msg>,
    /// An empty buffer with capacity, swapped for the inbox's bytes (so buffers circulate
    /// between the keyspace's log, the inbox and the writer without allocations).
    spare: Vec<u8>,
    written_end: u64,
    synced_end: u64,
    last_fsync: Instant,
    /// The event loop's round count when the last cycle ended (see `gather`).
    round_seen: u64,
}

impl Writer {
    fn new(aof: Arc<Aof>, link: Arc<Link>, file: File, path: PathBuf) -> Writer {
        let (len, allocated) = log_extent(&file);
        let start = aof.durable.load(Ordering::Acquire);
        aof.synced.fetch_max(start, Ordering::AcqRel);
        Writer {
            aof,
            link,
            file,
            path,
            len,
            allocated,
            preallocate_retry_at: 0,
            queue: VecDeque::new(),
            spare: Vec::new(),
            written_end: start,
            synced_end: start,
            last_fsync: Instant::now(),
            round_seen: 0,
        }
    }

    fn run(mut self) {
        loop {
            let retrying = self.aof.failing.load(Ordering::Relaxed) && !self.queue.is_empty();
            let wait = if retrying {
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
            self.receive(wait, retrying);
            if self.drain() == Drained::Stopped {
                return;
            }
        }
    }

    /// Takes everything handed over so far, waiting up to `wait` for something first if there
    /// is nothing (or always, while retrying a failed write).
    fn receive(&mut self, wait: Duration, retrying: bool) {
        let mut inbox = self.link.inbox.lock();
        if retrying || inbox.is_empty() {
            inbox.idle = true;
            drop(inbox);
            // An unpark that comes before this park makes it return at once: no lost wake-up.
            std::thread::park_timeout(wait);
            inbox = self.link.inbox.lock();
            inbox.idle = false;
        }
        if !retrying && inbox.queue.is_empty() && !inbox.tail.is_empty() && self.gathers() {
            inbox = Self::gather(&self.link, self.round_seen, inbox);
        }
        self.queue.extend(inbox.queue.drain(..));
        if !inbox.tail.is_empty() {
            std::mem::swap(&mut inbox.tail, &mut self.spare);
            let end = inbox.tail_end;
            drop(inbox);
            let bytes = std::mem::take(&mut self.spare);
            self.queue.push_back(Msg::Data { bytes, end });
        }
    }

    /// Whether this cycle waits for the event loop to go idle before taking the data (`always`,
    /// fsyncs on, and a runtime that reports its idle waits).
    fn gathers(&self) -> bool {
        self.aof.fsync_policy() == AppendFsync::Always
            && !self.aof.skip_fsync.load(Ordering::Relaxed)
            && crate::event_loop::hooked()
    }

    /// Group commit boundary: waits (at most `GATHER_LIMIT`) for the end of the event loop's
    /// current round (a runtime thread going idle) since the last cycle ended, so that one fsync
    /// covers every batch of that round: the replies released by the last fsync have gone out
    /// and the requests that were ready have run. Starting a cycle as soon as the previous one
    /// ends instead takes only what arrived during its fsync: measured with 50 clients at
    /// pipeline 1 (`redis-benchmark -t set -P 1`), 60-90% more fsyncs for the same writes (each
    /// one costs the writer thread some 60 µs of CPU on a VM), 10-20% less throughput and two to
    /// four times the p99. Returns at once when a switch or a stop arrives.
    fn gather<'a>(
        link: &'a Link,
        since: u64,
        mut inbox: parking_lot::MutexGuard<'a, Inbox>,
    ) -> parking_lot::MutexGuard<'a, Inbox> {
        let deadline = Instant::now() + GATHER_LIMIT;
        while inbox.queue.is_empty() && crate::event_loop::rounds() == since {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            // The idle hook unparks the thread that parks below: this one.
            if let Ok(mut w) = EVENT_LOOP.writer.lock() {
                *w = Some(std::thread::current());
            }
            // SeqCst pairs with `round_ended`: either it sees the kick or this sees the
            // round end.
            EVENT_LOOP.kick.store(true, Ordering::SeqCst);
            if crate::event_loop::rounds() != since {
                break;
            }
            inbox.idle = true;
            drop(inbox);
            std::thread::park_timeout(deadline - now);
            inbox = link.inbox.lock();
            inbox.idle = false;
        }
        EVENT_LOOP.kick.store(false, Ordering::SeqCst);
        inbox
    }

    /// Applies queued work in order until done or a failure. Then fsyncs per policy.
    fn drain(&mut self) -> Drained {
        let mut pending_data = Vec::new();
        while let Some(msg) = self.queue.pop_front() {
            match msg {
                Msg::Data { bytes, end } => {
                    pending_data.push((bytes, end));
                    // Coalesce consecutive data into one write.
                    if matches!(self.queue.front(), Some(Msg::Data { .. })) {
                        continue;
                    }
                    if let Err(e) = self.write(&pending_data) {
                        self.fail(e);
                        // Put the data back in front, in order.
                        for (bytes, end) in pending_data.into_iter().rev() {
                            self.queue.push_front(Msg::Data { bytes, end });
                        }
                        return Drained::Failed;
                    }
                    for (mut bytes, _) in pending_data.drain(..) {
                        if bytes.capacity() <= KEEP_BUFFER_BYTES
                            && bytes.capacity() > self.spare.capacity()
                        {
                            bytes.clear();
                            self.spare = bytes;
                        }
                    }
                }
                Msg::Switch(path) => {
                    self.cut_preallocated();
                    if let Err(e) = self.fsync() {
                        self.fail(e);
                        self.queue.push_front(Msg::Switch(path));
                        return Drained::Failed;
                    }
                    match open_log(&path) {
                        Ok(f) => {
                            (self.len, self.allocated) = log_extent(&f);
                            self.preallocate_retry_at = 0;
                            self.note_space();
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
                    self.cut_preallocated();
                    let r = self.fsync();
                    let _ = reply.send(r);
                    return Drained::Stopped;
                }
            }
        }
        let policy = self.aof.fsync_policy();
        let skip = self.aof.skip_fsync.load(Ordering::Relaxed);
        // A WAITAOF asking for an fsync makes one due under any policy; none while
        // `no-appendfsync-on-rewrite` holds them back (the wait then outlasts the rewrite).
        let wanted = self.synced_end < self.aof.fsync_to.load(Ordering::Acquire);
        let due = !skip
            && (wanted
                || match policy {
                    AppendFsync::Always => true,
                    AppendFsync::EverySec => self.last_fsync.elapsed() >= FSYNC_INTERVAL,
                    AppendFsync::No => false,
                });
        if due && self.synced_end < self.written_end {
            if policy == AppendFsync::Always {
                self.preallocate();
            }
            if let Err(e) = self.fsync() {
                self.fail(e);
                return Drained::Failed;
            }
        }
        self.publish();
        self.round_seen = crate::event_loop::rounds();
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
        let started = Instant::now();
        let written = self.file.write_all_at(data, self.len);
        crate::latency::sample("aof-write", started.elapsed());
        if let Err(e) = written {
            // Cut a partial write back so the file ends at a command boundary (and has no
            // preallocated space left, which a retry would only find partly overwritten).
            match self.file.set_len(self.len) {
                Ok(()) => self.allocated = self.len,
                Err(t) => {
                    tracing::warn!(error = %t, "cannot truncate the AOF after a failed write")
                }
            }
            self.note_space();
            return Err(format!("{e}"));
        }
        self.len += total as u64;
        self.allocated = self.allocated.max(self.len);
        self.note_space();
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

    /// Writes zeros ahead of the log when less than a quarter of `aof-preallocate` is left
    /// (module docs, "Preallocated space"), up to one step past the end of the data. Called
    /// before a fsync, which makes them durable. A failure (disk full, a file-size limit) is
    /// not an error of the log: the zeros written are cut off again, writes go on growing the
    /// file, and the next try waits until the data has grown by one step.
    fn preallocate(&mut self) {
        let step = self.aof.preallocate.load(Ordering::Relaxed);
        if step == 0
            || self.allocated.saturating_sub(self.len) >= step / 4
            || self.len < self.preallocate_retry_at
        {
            return;
        }
        let from = self.allocated;
        let to = (self.len + step).next_multiple_of(PREALLOCATE_ALIGN);
        let mut at = from;
        let result = loop {
            if at >= to {
                break Ok(());
            }
            let n = (to - at).min(ZEROS.len() as u64);
            if let Err(e) = self.file.write_all_at(&ZEROS[..n as usize], at) {
                break Err(e);
            }
            at += n;
        };
        match result {
            Ok(()) => {
                self.allocated = to;
                self.aof
                    .stats
                    .preallocations
                    .fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                if at > from {
                    if let Err(t) = self.file.set_len(from) {
                        tracing::warn!(error = %t, "cannot cut back a failed AOF preallocation");
                        self.allocated = at;
                    }
                }
                self.preallocate_retry_at = self.len + step;
                tracing::warn!(path = %self.path.display(), error = %e, bytes = to - from,
                    "cannot preallocate AOF space; the log grows the file instead");
            }
        }
        self.note_space();
    }

    /// Cuts the file back to its data (the writer leaves it).
    fn cut_preallocated(&mut self) {
        if self.allocated > self.len {
            match self.file.set_len(self.len) {
                Ok(()) => self.allocated = self.len,
                Err(e) => tracing::warn!(path = %self.path.display(), error = %e,
                    "cannot cut the preallocated space off the AOF (it is read as the end of the log)"),
            }
            self.note_space();
        }
    }

    fn note_space(&self) {
        self.aof
            .stats
            .preallocated
            .store(self.allocated.saturating_sub(self.len), Ordering::Relaxed);
    }

    fn fsync(&mut self) -> Result<(), String> {
        let t = Instant::now();
        self.file
            .sync_data()
            .map_err(|e| format!("fsync of {} failed: {e}", self.path.display()))?;
        if self.aof.fsync_policy() == AppendFsync::Always {
            crate::event_loop::note_fsync_cpu();
            crate::latency::sample("aof-fsync-always", t.elapsed());
        }
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
        self.aof.synced.fetch_max(self.synced_end, Ordering::AcqRel);
        self.aof.synced_notify.notify_waiters();
        self.publish();
        Ok(())
    }

    fn publish(&self) {
        let durable = match self.aof.fsync_policy() {
            AppendFsync::Always if !self.aof.skip_fsync.load(Ordering::Relaxed) => self.synced_end,
            _ => self.written_end,
        };
        self.aof.advance_durable(durable);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::task::Wake;

    struct CountWakes(AtomicU64);

    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn waiters_register_once_are_released_by_their_offset_and_leave_when_dropped() {
        let aof = Aof::default();
        aof.set_fsync(AppendFsync::Always);
        let wakes = Arc::new(CountWakes(AtomicU64::new(0)));
        let waker = Waker::from(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let mut early = aof.wait_durable(10);
        let mut late = aof.wait_durable(20);
        assert!(Pin::new(&mut early).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut early).poll(&mut cx).is_pending());
        assert!(Pin::new(&mut late).poll(&mut cx).is_pending());
        assert_eq!(
            aof.waiters.lock().list.len(),
            2,
            "a second poll registers nothing"
        );
        // Without a dispatcher the publisher wakes the waiters itself: only those it covers.
        aof.advance_durable(15);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        assert!(Pin::new(&mut early).poll(&mut cx).is_ready());
        assert_eq!(aof.waiters.lock().list.len(), 1);
        assert!(!aof.must_wait(15));
        assert!(aof.must_wait(16));
        // A wait abandoned before its offset is durable (the connection closed) unregisters.
        drop(late);
        assert!(aof.waiters.lock().list.is_empty());
        aof.advance_durable(30);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        // Under everysec nobody waits.
        aof.set_fsync(AppendFsync::EverySec);
        assert!(!aof.must_wait(100));
    }

    /// 200 batches from 20 tasks under `always`: every wait resolves once its bytes are written
    /// and fsynced, and the file holds every command in execution order.
    fn always_round(runtime: tokio::runtime::Runtime) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("appendonly.aof.1.incr.aof");
        runtime.block_on(async {
            let aof = Arc::new(Aof::default());
            aof.set_fsync(AppendFsync::Always);
            aof.start(path.clone()).unwrap();
            let store = Arc::new(Mutex::new(Store::new(1, 1)));
            store.lock().common.oplog.set_enabled(true);
            let tasks: Vec<_> = (0..20)
                .map(|t| {
                    let (aof, store) = (aof.clone(), store.clone());
                    tokio::spawn(async move {
                        for i in 0..10 {
                            let offset = {
                                let mut store = store.lock();
                                let key = format!("k{t}-{i}");
                                store
                                    .common
                                    .oplog
                                    .append(0, [&b"SET"[..], key.as_bytes(), b"v"]);
                                flush_oplog(&mut store, &aof).unwrap()
                            };
                            aof.wait_durable(offset).await;
                            assert!(aof.durable.load(Ordering::SeqCst) >= offset);
                            assert!(aof.stats.fsyncs.load(Ordering::SeqCst) >= 1);
                        }
                    })
                })
                .collect();
            for t in tasks {
                tokio::time::timeout(Duration::from_secs(20), t)
                    .await
                    .unwrap()
                    .unwrap();
            }
            let fsyncs = aof.stats.fsyncs.load(Ordering::SeqCst);
            assert!((1..=200).contains(&fsyncs), "{fsyncs} fsyncs");
            assert!(aof.waiters.lock().list.is_empty());
            let done = aof.stop(&mut store.lock());
            wait_stopped(done, Duration::from_secs(10)).unwrap();
        });
        let text = std::fs::read_to_string(&path).unwrap();
        for t in 0..20 {
            let mut last = 0;
            for i in 0..10 {
                let at = text.find(&format!("k{t}-{i}\r\n")).unwrap();
                assert!(at > last, "task {t}'s writes are in order");
                last = at;
            }
        }
    }

    /// Writes `n` SETs with values of `size` bytes through the writer (under `always`, each
    /// waited for).
    fn write_sets(
        runtime: &tokio::runtime::Runtime,
        aof: &Arc<Aof>,
        store: &Mutex<Store>,
        n: usize,
        size: usize,
    ) {
        runtime.block_on(async {
            for i in 0..n {
                let offset = {
                    let mut store = store.lock();
                    let key = format!("k{i}");
                    let value = vec![b'v'; size];
                    store
                        .common
                        .oplog
                        .append(0, [&b"SET"[..], key.as_bytes(), &value]);
                    flush_oplog(&mut store, aof)
                };
                // Only `always` writes are waited for.
                if let Some(offset) = offset {
                    tokio::time::timeout(Duration::from_secs(20), aof.wait_durable(offset))
                        .await
                        .unwrap();
                }
            }
        });
    }

    #[test]
    fn always_keeps_zeroed_space_ahead_of_the_log_and_cuts_it_when_done() {
        const STEP: u64 = 64 * 1024;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("appendonly.aof.1.incr.aof");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let aof = Arc::new(Aof::default());
        aof.set_fsync(AppendFsync::Always);
        aof.preallocate.store(STEP, Ordering::Relaxed);
        runtime.block_on(async { aof.start(path.clone()).unwrap() });
        let store = Mutex::new(Store::new(1, 1));
        store.lock().common.oplog.set_enabled(true);

        write_sets(&runtime, &aof, &store, 1, 10);
        let data = ringkv_persist::log_len_of(&path).unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(data > 0);
        assert_eq!(
            size,
            (data + STEP).next_multiple_of(PREALLOCATE_ALIGN),
            "one step past the data"
        );
        assert_eq!(aof.stats.preallocated.load(Ordering::Relaxed), size - data);
        assert_eq!(aof.stats.preallocations.load(Ordering::Relaxed), 1);

        // 150 KB of log: the space is topped up whenever less than a quarter is left, and
        // never runs out (every write lands in zeros written ahead).
        write_sets(&runtime, &aof, &store, 150, 1000);
        let data = ringkv_persist::log_len_of(&path).unwrap();
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(data > 150_000, "{data}");
        assert!(
            size - data >= STEP / 4 && size - data <= STEP + PREALLOCATE_ALIGN,
            "{size} {data}"
        );
        assert!(aof.stats.preallocations.load(Ordering::Relaxed) >= 3);
        let tail = &std::fs::read(&path).unwrap()[data as usize..];
        assert!(tail.iter().all(|&b| b == 0));

        // Under everysec nothing more is written ahead; the writes use up the zeros, then grow
        // the file.
        aof.set_fsync(AppendFsync::EverySec);
        let before = aof.stats.preallocations.load(Ordering::Relaxed);
        write_sets(&runtime, &aof, &store, 100, 1000);
        assert_eq!(aof.stats.preallocations.load(Ordering::Relaxed), before);

        let done = aof.stop(&mut store.lock());
        wait_stopped(done, Duration::from_secs(10)).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            bytes.len() as u64,
            ringkv_persist::log_len_of(&path).unwrap(),
            "cut back to the data"
        );
        let commands = ringkv_persist::AofReader::open(&path)
            .unwrap()
            .map(|c| c.unwrap())
            .filter(|c| c.args.args().get(0) == Some(&b"SET"[..]))
            .count();
        assert_eq!(commands, 251);
    }

    #[test]
    fn always_waits_resolve_after_their_fsync_and_the_file_has_every_write() {
        always_round(
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
        );
        // Also with the event loop's idle hooks, where the writer waits for the end of a round.
        let mut builder = tokio::runtime::Builder::new_current_thread();
        always_round(
            crate::event_loop::install_hooks(&mut builder)
                .enable_all()
                .build()
                .unwrap(),
        );
    }
}
