//! Unique IDs: `ID.NEXT` (snowflake, ULID or UUIDv7) and `ID.PARSE`, plus the generator's
//! start-up and durability.
//!
//! The pure `ringkv-idgen` crate decides what the next ID is; this module feeds it the server's
//! clock and randomness, waits when it has to, and makes sure a node never issues the same ID
//! twice, even across a crash and a clock that went backwards:
//!
//! * IDs are issued under the keyspace lock (the caller holds it) and the generator's own mutex,
//!   so they are strictly increasing per node whatever the number of connections. A sequence that
//!   is used up for the current millisecond, or a clock that stepped back by at most
//!   `id-max-clock-backward-ms`, is waited out by spinning on the clock (at most a millisecond in
//!   normal operation); a bigger step back is an error rather than a stalled server.
//! * A *reserved high-water mark* is kept in `idgen.state` in `dir`: before any ID whose timestamp
//!   is beyond the mark leaves the server, a new mark (that timestamp + [`LEASE_MS`]) is written
//!   with temp file + fsync + rename + directory fsync. In steady traffic a background thread
//!   extends the mark once half the lease is used, so the fsync (at most one per half second of
//!   ID traffic) does not run under the keyspace lock; only an ID beyond the durable mark waits for
//!   the write. At start-up the mark is restored into the generator, so no ID at or below it can be
//!   issued again, and a restart within the lease waits (at most [`LEASE_MS`]) for the clock to
//!   pass it.
//! * Two servers on one data directory would share a worker number; [`start`] takes an exclusive
//!   lock on `idgen.lock` so the second one refuses to start.
//! * Across machines, (datacenter, worker) is unique by construction: standalone, `id-worker` is
//!   configured (or 0); in a cluster, each node announces its pair through the membership, a
//!   configured pair a live node already holds stops the start-up, and `id-worker auto` claims a
//!   free worker (the server's `cluster::workers` module). Until the claim has settled, snowflake
//!   IDs are suspended ([`IdService::suspend_snowflakes`]) and `ID.NEXT` answers an error; then
//!   [`IdService::use_worker`] switches the running generator to the claimed worker, keeping its
//!   high-water mark, so IDs stay strictly increasing across the switch.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, SYNTAX};
use crate::parse::{int_arg, is, non_negative_arg};
use crate::shared::Shared;
use crate::table::{flags, CommandSpec};
use parking_lot::Mutex;
use ringkv_engine::Clock;
use ringkv_idgen::{Generator, IdError, Layout, Ulid};
use ringkv_protocol::{Args, Protocol};
use std::fmt::Write as _;
use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Most IDs one `ID.NEXT` may ask for. At 4096 snowflakes per millisecond this bounds the time
/// the keyspace lock is held to about 25 ms.
pub const MAX_COUNT: i64 = 100_000;

/// How far ahead of the last issued timestamp the persisted mark reaches.
pub const LEASE_MS: u64 = 1000;

/// File holding the reserved high-water mark (decimal Unix milliseconds).
pub const STATE_FILE: &str = "idgen.state";
/// File locked exclusively while a server uses the data directory's generator state.
pub const LOCK_FILE: &str = "idgen.lock";

/// Longest a single `ID.NEXT` may wait for the clock in total, whatever happens; only a stuck
/// clock can reach it.
const MAX_WAIT: Duration = Duration::from_secs(3);

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("id.next", -1, 0, id_next)
        .group("ids")
        .doc(
            "Generates unique, time-ordered IDs: snowflake integers (the default), ULIDs or \
             UUIDv7s. Without count replies one ID, with count an array.",
            "0.1.0",
            "O(N) where N is the number of IDs",
        )
        .syntax("[count] [FORMAT snowflake|ulid|uuidv7]"),
    CommandSpec::new("id.parse", 2, flags::FAST, id_parse)
        .group("ids")
        .doc(
            "Splits a snowflake ID into timestamp_ms, datacenter, worker and sequence under the \
             configured id-layout and id-epoch-ms.",
            "0.1.0",
            "O(1)",
        )
        .syntax("id"),
];

/// The generator, once [`start`] has run.
#[derive(Default)]
pub struct IdService {
    inner: Mutex<Option<IdState>>,
}

/// Where the worker number of snowflake IDs comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkerSource {
    /// `id-worker` set explicitly.
    Configured,
    /// `id-worker auto` standalone: worker 0.
    Default,
    /// `id-worker auto` in a cluster: claimed through the membership.
    Claimed,
}

impl WorkerSource {
    pub fn name(self) -> &'static str {
        match self {
            WorkerSource::Configured => "configured",
            WorkerSource::Default => "default",
            WorkerSource::Claimed => "claimed",
        }
    }
}

/// Why snowflake IDs are suspended when a cluster node starts, until its worker has settled.
pub const WORKER_NOT_SETTLED: &str = "ERR this node has no snowflake worker yet: it is being \
     claimed through the cluster membership; retry shortly, or use FORMAT ulid or uuidv7";

impl IdService {
    /// Stops issuing snowflake IDs: `ID.NEXT` in that format answers `reason` (an error text,
    /// `ERR ...`) until [`use_worker`](Self::use_worker). ULIDs and UUIDv7s need no worker and are
    /// unaffected.
    pub fn suspend_snowflakes(&self, reason: impl Into<String>) {
        if let Some(s) = self.inner.lock().as_mut() {
            s.suspended = Some(reason.into());
        }
    }

    /// Issues snowflake IDs with `worker` (same datacenter and layout) from now on and lifts a
    /// suspension. The high-water mark carries over, so the next ID is in a later millisecond
    /// than every ID issued before: IDs stay strictly increasing on this node, and none can equal
    /// an earlier one since the worker field differs or the timestamp is later.
    pub fn use_worker(&self, worker: u64, source: WorkerSource) -> Result<(), String> {
        let mut guard = self.inner.lock();
        let s = guard
            .as_mut()
            .ok_or_else(|| "the ID generator is not started".to_string())?;
        if worker != s.generator.worker() {
            let g = &s.generator;
            let mut next = Generator::new(*g.layout(), g.datacenter(), worker, s.max_backward_ms)
                .map_err(|e| format!("cannot use snowflake worker {worker}: {e}"))?;
            next.restore_high_water(g.high_water_ms());
            s.generator = next;
        }
        s.worker_source = source;
        s.suspended = None;
        Ok(())
    }
}

struct IdState {
    generator: Generator,
    worker_source: WorkerSource,
    /// Set while snowflake IDs may not be issued: the error `ID.NEXT` answers.
    suspended: Option<String>,
    max_backward_ms: u64,
    /// The persisted mark: IDs with timestamps up to here may be issued without writing.
    reserved_ms: u64,
    /// Writes of the mark (shared with the background refresher).
    mark: Arc<MarkWriter>,
    /// The mark restored at start-up: a previous run may have issued IDs up to here.
    floor_ms: u64,
    /// The latest clock reading a ULID or UUIDv7 was made with.
    latest_reading_ms: u64,
    last_ulid: Option<Ulid>,
    last_uuid: Option<u128>,
    rng: Xoshiro256,
    dir: PathBuf,
    /// Held open for the process's life: the lock is the file's.
    _lock: File,
}

/// Builds the layout the configuration describes.
pub fn layout_of(config: &ringkv_config::Config) -> Layout {
    let [time_bits, datacenter_bits, worker_bits, sequence_bits] = config.id_layout;
    Layout {
        time_bits,
        datacenter_bits,
        worker_bits,
        sequence_bits,
        epoch_ms: config.id_epoch_ms,
    }
}

/// Starts the generator: checks the ID settings, locks `idgen.lock` in `dir`, restores the
/// high-water mark from `idgen.state` and, if the mark is slightly ahead of the clock (a restart
/// within the lease), waits for the clock to pass it. Errors are start-up failures, worded for
/// the operator.
pub fn start(shared: &Shared) -> Result<(), String> {
    let (layout, datacenter, configured, cluster, max_backward_ms, dir) = {
        let c = shared.config.read();
        (
            layout_of(&c),
            c.id_datacenter,
            c.id_worker,
            c.cluster_enabled,
            c.id_max_clock_backward_ms,
            PathBuf::from(&c.dir),
        )
    };
    let worker_source = match (configured, cluster) {
        (Some(_), _) => WorkerSource::Configured,
        (None, false) => WorkerSource::Default,
        (None, true) => WorkerSource::Claimed,
    };
    // In a cluster even a configured worker waits until the membership has confirmed that no
    // other node holds it.
    let suspended = cluster.then(|| WORKER_NOT_SETTLED.to_string());
    let worker = configured.unwrap_or(0);
    let mut generator =
        Generator::new(layout, datacenter, worker, max_backward_ms).map_err(|e| {
            let hint = match e {
                IdError::DatacenterOutOfRange { .. } => " (id-datacenter)",
                IdError::WorkerOutOfRange { .. } => " (id-worker)",
                _ => "",
            };
            format!(
                "invalid unique-ID configuration: {e}{hint}; id-layout is '{} {} {} {}'",
                layout.time_bits, layout.datacenter_bits, layout.worker_bits, layout.sequence_bits
            )
        })?;
    let now = clock_ms(&*shared.clock);
    if layout.epoch_ms > now {
        return Err(format!(
            "invalid unique-ID configuration: id-epoch-ms {} is in the future",
            layout.epoch_ms
        ));
    }
    if now > layout.max_timestamp_ms() {
        return Err(format!(
            "invalid unique-ID configuration: id-layout's {} time bits from id-epoch-ms {} ended \
             at {} ms",
            layout.time_bits,
            layout.epoch_ms,
            layout.max_timestamp_ms()
        ));
    }
    let lock = lock_dir(&dir)?;
    let mark = read_mark(&dir)?;
    if let Some(mark) = mark {
        generator.restore_high_water(mark);
        let now = clock_ms(&*shared.clock);
        // A restart within the lease: the clock will pass the mark within a second, so waiting
        // keeps timestamps truthful. A bigger gap means the clock was stepped back; ID.NEXT then
        // answers with the clock error until it catches up.
        if mark >= now && mark - now <= LEASE_MS {
            std::thread::sleep(Duration::from_millis(mark - now + 1));
        } else if mark >= now {
            tracing::warn!(
                ahead_ms = mark - now,
                "the unique-ID high-water mark is ahead of the clock; ID.NEXT will fail until the \
                 clock passes it"
            );
        }
    }
    let mark = mark.unwrap_or(0);
    *shared.ids.inner.lock() = Some(IdState {
        generator,
        worker_source,
        suspended,
        max_backward_ms,
        reserved_ms: mark,
        mark: Arc::new(MarkWriter {
            durable_ms: AtomicU64::new(mark),
            refreshing: AtomicBool::new(false),
            written_ms: Mutex::new(mark),
        }),
        floor_ms: mark,
        latest_reading_ms: 0,
        last_ulid: None,
        last_uuid: None,
        rng: Xoshiro256::from_os(),
        dir,
        _lock: lock,
    });
    Ok(())
}

/// The `# Ids` section of `INFO ids`: the snowflake worker and where it came from.
pub fn info_section(shared: &Shared) -> String {
    let mut out = String::with_capacity(160);
    out.push_str("# Ids\r\n");
    if let Some(s) = shared.ids.inner.lock().as_ref() {
        // The worker is shown only once snowflake IDs are issued with it.
        let ready = s.suspended.is_none();
        let _ = write!(
            out,
            "id_datacenter:{}\r\nid_worker:",
            s.generator.datacenter()
        );
        if ready {
            let _ = write!(out, "{}", s.generator.worker());
        }
        let _ = write!(
            out,
            "\r\nid_worker_source:{}\r\nid_snowflake_ready:{}\r\n",
            s.worker_source.name(),
            u8::from(ready),
        );
    }
    let [t, d, w, s] = shared.config.read().id_layout;
    let _ = write!(out, "id_layout:{t} {d} {w} {s}\r\n");
    out
}

fn lock_dir(dir: &Path) -> Result<File, String> {
    let path = dir.join(LOCK_FILE);
    let mut file = File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| format!("cannot open '{}': {e}", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Err(format!(
                "another ringkv server (pid {}) is using the data directory '{}' ({} is locked): \
                 two servers sharing it would issue the same unique IDs",
                holder.trim(),
                dir.display(),
                LOCK_FILE
            ));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(format!("cannot lock '{}': {e}", path.display()));
        }
    }
    // Informative only: who holds the lock.
    let _ = file.set_len(0);
    let _ = writeln!(file, "{}", std::process::id());
    Ok(file)
}

fn read_mark(dir: &Path) -> Result<Option<u64>, String> {
    let path = dir.join(STATE_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("cannot read '{}': {e}", path.display())),
    };
    text.trim().parse::<u64>().map(Some).map_err(|_| {
        format!(
            "'{}' does not hold a high-water mark (decimal milliseconds); refusing to start \
             because IDs could be issued twice. Restore it, or delete it only if the clock is \
             known to be past every ID this node issued",
            path.display()
        )
    })
}

/// The persisted high-water mark and its refresher. Writes are serialised and never lower the
/// mark on disk; `durable_ms` only moves after the fsync of a mark that covers it.
struct MarkWriter {
    durable_ms: AtomicU64,
    refreshing: AtomicBool,
    /// The mark last written (the lock serialises writers).
    written_ms: Mutex<u64>,
}

impl MarkWriter {
    /// Writes `mark` (or keeps a higher one already written) and publishes it as durable.
    fn write(&self, dir: &Path, mark: u64) -> std::io::Result<()> {
        let mut written = self.written_ms.lock();
        if mark > *written {
            write_mark(dir, mark)?;
            *written = mark;
        }
        self.durable_ms.fetch_max(*written, Ordering::AcqRel);
        Ok(())
    }
}

/// Durably replaces the mark: temp file, fsync, rename, fsync of the directory.
fn write_mark(dir: &Path, mark: u64) -> std::io::Result<()> {
    let tmp = dir.join(format!("{STATE_FILE}.tmp"));
    {
        let mut f = File::create(&tmp)?;
        writeln!(f, "{mark}")?;
        f.sync_all()?;
    }
    std::fs::rename(&tmp, dir.join(STATE_FILE))?;
    File::open(dir)?.sync_all()
}

fn clock_ms(clock: &dyn Clock) -> u64 {
    u64::try_from(clock.now_ms()).unwrap_or(0)
}

fn clock_error(by_ms: u64) -> CmdError {
    CmdError::msg(format!(
        "ERR clock moved backwards by {by_ms} ms; refusing to generate IDs"
    ))
}

fn id_error(e: IdError) -> CmdError {
    match e {
        IdError::ClockMovedBackwards { by_ms } => clock_error(by_ms),
        other => CmdError::msg(format!("ERR {other}")),
    }
}

/// Spins until the clock reads at least `t` (Unix ms). Waits are at most a millisecond or two in
/// normal operation (sequence exhausted), or `id-max-clock-backward-ms` after a small clock step.
fn wait_until(clock: &dyn Clock, t: u64, started: Instant) -> Result<(), CmdError> {
    loop {
        let now = clock_ms(clock);
        if now >= t {
            return Ok(());
        }
        if started.elapsed() > MAX_WAIT {
            return Err(CmdError::Static(
                "ERR the clock is not advancing; cannot generate IDs",
            ));
        }
        if t - now > 1 {
            std::thread::sleep(Duration::from_millis(t - now - 1));
        } else {
            std::hint::spin_loop();
        }
    }
}

impl IdState {
    fn snowflakes(&mut self, clock: &dyn Clock, n: usize, out: &mut Vec<u64>) -> CmdResult {
        let started = Instant::now();
        while out.len() < n {
            let now = clock_ms(clock);
            match self
                .generator
                .next_batch(now, n - out.len(), out)
                .map_err(id_error)?
            {
                None => {}
                Some(t) => wait_until(clock, t, started)?,
            }
        }
        self.reserve(self.generator.high_water_ms())
    }

    /// The clock for a ULID / UUIDv7, refusing a clock further behind the latest reading used
    /// (or the restored mark) than tolerated, and waiting out a smaller step back across a
    /// restart (within a run the formats' monotonic counters handle it). Readings, not issued
    /// timestamps, are compared: a UUIDv7 counter that rolled over runs ahead of the clock on
    /// purpose, and that is not the clock going backwards.
    fn checked_now(&mut self, clock: &dyn Clock, started: Instant) -> Result<u64, CmdError> {
        let now = clock_ms(clock);
        let first_free = self.floor_ms.saturating_add(1);
        let newest = first_free.max(self.latest_reading_ms);
        if now < newest && newest - now > self.max_backward_ms {
            return Err(clock_error(newest - now));
        }
        let now = if now < first_free {
            wait_until(clock, first_free, started)?;
            first_free
        } else {
            now
        };
        self.latest_reading_ms = self.latest_reading_ms.max(now);
        Ok(now)
    }

    fn ulids(&mut self, clock: &dyn Clock, n: usize, out: &mut Vec<Ulid>) -> CmdResult {
        let started = Instant::now();
        while out.len() < n {
            let now = self.checked_now(clock, started)?;
            match ringkv_idgen::ulid(now, self.rng.bytes10(), self.last_ulid) {
                Ok(id) => {
                    self.last_ulid = Some(id);
                    out.push(id);
                }
                Err(IdError::Exhausted { wait_until_ms }) => {
                    wait_until(clock, wait_until_ms, started)?
                }
                Err(e) => return Err(id_error(e)),
            }
        }
        self.reserve(self.last_ulid.map_or(0, |u| u.timestamp_ms()))
    }

    fn uuids(&mut self, clock: &dyn Clock, n: usize, out: &mut Vec<u128>) -> CmdResult {
        let started = Instant::now();
        let mut now = 0;
        for i in 0..n {
            // The clock is read once per millisecond's worth of counter, not per UUID.
            if i % 1024 == 0 {
                now = self.checked_now(clock, started)?;
            }
            let id = ringkv_idgen::uuid_v7(now, self.rng.bytes10(), self.last_uuid);
            self.last_uuid = Some(id);
            out.push(id);
        }
        self.reserve(self.last_uuid.map_or(0, ringkv_idgen::uuid_v7_timestamp_ms))
    }

    /// Makes sure the persisted mark covers timestamp `ts` before IDs carrying it are replied.
    ///
    /// In steady traffic the mark is extended in the background once half of the lease is used,
    /// so the fsync never happens while the keyspace lock is held; only an ID beyond the durable
    /// mark (start-up, a clock jump, or a refresh that fell behind) waits for the write here.
    fn reserve(&mut self, ts: u64) -> CmdResult {
        self.reserved_ms = self
            .reserved_ms
            .max(self.mark.durable_ms.load(Ordering::Acquire));
        if ts > self.reserved_ms {
            let mark = ts.saturating_add(LEASE_MS);
            self.mark.write(&self.dir, mark).map_err(|e| {
                CmdError::msg(format!(
                    "ERR cannot persist the unique-ID high-water mark in '{}': {e}",
                    self.dir.display()
                ))
            })?;
            self.reserved_ms = self.mark.durable_ms.load(Ordering::Acquire);
            return Ok(());
        }
        if ts.saturating_add(LEASE_MS / 2) > self.reserved_ms
            && !self.mark.refreshing.swap(true, Ordering::AcqRel)
        {
            let (writer, dir) = (self.mark.clone(), self.dir.clone());
            let next = ts.saturating_add(LEASE_MS);
            std::thread::spawn(move || {
                if let Err(e) = writer.write(&dir, next) {
                    tracing::warn!(error = %e, dir = %dir.display(), "cannot extend the unique-ID high-water mark");
                }
                writer.refreshing.store(false, Ordering::Release);
            });
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Snowflake,
    Ulid,
    UuidV7,
}

/// ID.NEXT [count] [FORMAT snowflake|ulid|uuidv7]
fn id_next(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut i = 1;
    let mut count = None;
    if let Some(arg) = args.get(1).filter(|a| !is(a, "FORMAT")) {
        let n = int_arg(arg)?;
        if !(1..=MAX_COUNT).contains(&n) {
            return Err(CmdError::msg(format!(
                "ERR count must be between 1 and {MAX_COUNT}"
            )));
        }
        count = Some(n as usize);
        i = 2;
    }
    let mut format = Format::Snowflake;
    while i < args.len() {
        if !is(args.arg(i), "FORMAT") {
            return Err(SYNTAX);
        }
        let name = args.get(i + 1).ok_or(SYNTAX)?;
        format = if is(name, "snowflake") {
            Format::Snowflake
        } else if is(name, "ulid") {
            Format::Ulid
        } else if is(name, "uuidv7") {
            Format::UuidV7
        } else {
            return Err(CmdError::msg(format!(
                "ERR unknown ID format '{}', expected snowflake, ulid or uuidv7",
                String::from_utf8_lossy(&name[..name.len().min(64)])
            )));
        };
        i += 2;
    }
    let shared = ctx.shared;
    let mut guard = shared.ids.inner.lock();
    let state = guard
        .as_mut()
        .ok_or(CmdError::Static("ERR the ID generator is not started"))?;
    let clock = &*shared.clock;
    let n = count.unwrap_or(1);
    let out = &mut *ctx.out;
    if count.is_some() {
        out.reserve(n.saturating_mul(if format == Format::Snowflake { 22 } else { 46 }));
    }
    match format {
        Format::Snowflake => {
            if let Some(reason) = &state.suspended {
                return Err(CmdError::msg(reason.clone()));
            }
            let mut ids = Vec::with_capacity(n);
            state.snowflakes(clock, n, &mut ids)?;
            if count.is_some() {
                out.array(ids.len());
            }
            for id in ids {
                // IDs have a zero sign bit: they always fit.
                out.integer(id as i64);
            }
        }
        Format::Ulid => {
            let mut ids = Vec::with_capacity(n);
            state.ulids(clock, n, &mut ids)?;
            if count.is_some() {
                out.array(ids.len());
            }
            for id in ids {
                out.bulk(id.to_string().as_bytes());
            }
        }
        Format::UuidV7 => {
            let mut ids = Vec::with_capacity(n);
            state.uuids(clock, n, &mut ids)?;
            if count.is_some() {
                out.array(ids.len());
            }
            for id in ids {
                out.bulk(ringkv_idgen::format_uuid(id).as_bytes());
            }
        }
    }
    Ok(())
}

/// ID.PARSE id — RESP3 map {timestamp_ms, datacenter, worker, sequence}; RESP2 the four values
/// as a flat array in that order.
fn id_parse(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let id = non_negative_arg(args.arg(1))? as u64;
    let layout = layout_of(&ctx.shared.config.read());
    let parts = ringkv_idgen::parse(&layout, id);
    let fields: [(&[u8], u64); 4] = [
        (b"timestamp_ms", parts.timestamp_ms),
        (b"datacenter", parts.datacenter),
        (b"worker", parts.worker),
        (b"sequence", parts.sequence),
    ];
    let resp3 = ctx.out.protocol() == Protocol::Resp3;
    if resp3 {
        ctx.out.map(fields.len());
    } else {
        ctx.out.array(fields.len());
    }
    for (name, value) in fields {
        if resp3 {
            ctx.out.bulk(name);
        }
        ctx.out.integer(i64::try_from(value).unwrap_or(i64::MAX));
    }
    Ok(())
}

/// xoshiro256** seeded from the OS: randomness for ULIDs and UUIDv7s, which need uniqueness,
/// not secrecy (RFC 9562 §8: UUIDs are not security capabilities).
struct Xoshiro256 {
    s: [u64; 4],
}

impl Xoshiro256 {
    fn from_os() -> Xoshiro256 {
        let mut seed = [0u8; 32];
        let from_os = File::open("/dev/urandom")
            .and_then(|mut f| f.read_exact(&mut seed))
            .is_ok();
        if !from_os {
            // No /dev/urandom: time and pid, spread by splitmix64 below.
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0);
            seed[..8].copy_from_slice(&t.to_le_bytes());
            seed[8..12].copy_from_slice(&std::process::id().to_le_bytes());
        }
        let mut sm = 0u64;
        let mut s = [0u64; 4];
        for (i, word) in s.iter_mut().enumerate() {
            let mut chunk = [0u8; 8];
            chunk.copy_from_slice(&seed[i * 8..i * 8 + 8]);
            sm ^= u64::from_le_bytes(chunk);
            *word = splitmix64(&mut sm);
        }
        Xoshiro256 { s }
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    fn bytes10(&mut self) -> [u8; 10] {
        let a = self.next_u64().to_le_bytes();
        let b = self.next_u64().to_le_bytes();
        let mut out = [0u8; 10];
        out[..8].copy_from_slice(&a);
        out[8..].copy_from_slice(&b[..2]);
        out
    }
}

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_file_round_trips() {
        let dir = std::env::temp_dir().join(format!("ringkv-idgen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        assert_eq!(read_mark(&dir).unwrap(), None);
        write_mark(&dir, 1_700_000_000_123).unwrap();
        assert_eq!(read_mark(&dir).unwrap(), Some(1_700_000_000_123));
        std::fs::write(dir.join(STATE_FILE), "garbage").unwrap();
        assert!(read_mark(&dir).unwrap_err().contains("refusing to start"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rng_bytes_vary() {
        let mut rng = Xoshiro256::from_os();
        assert_ne!(rng.bytes10(), rng.bytes10());
    }
}
