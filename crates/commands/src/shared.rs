//! State shared by every connection: the keyspace (behind its one mutex), the live configuration,
//! the client registry, server-wide counters and the shutdown signal.
//!
//! Lock order, always: `store` before `config` before `clients`. Handlers already hold the store
//! (through `Ctx`) and must never lock it again.

use crate::clients::ClientRegistry;
use crate::table::CommandTable;
use parking_lot::{Mutex, RwLock};
use ringkv_config::Config;
use ringkv_engine::{Clock, Store};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::watch;

/// Server-wide counters for INFO stats (relaxed atomics; exactness across threads is not needed).
#[derive(Default)]
pub struct ServerStats {
    pub total_connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
    pub total_commands_processed: AtomicU64,
    pub total_net_input_bytes: AtomicU64,
    pub total_net_output_bytes: AtomicU64,
    pub total_error_replies: AtomicU64,
    pub protocol_errors: AtomicU64,
    pub client_query_buffer_limit_disconnections: AtomicU64,
    pub timeout_disconnections: AtomicU64,
    pub used_memory_peak: AtomicUsize,
    /// Ring of (time ms, commands processed) samples for instantaneous_ops_per_sec.
    pub ops_samples: Mutex<OpsSamples>,
}

const OPS_SAMPLES: usize = 16;

#[derive(Default)]
pub struct OpsSamples {
    samples: [u64; OPS_SAMPLES],
    idx: usize,
    last_ms: i64,
    last_count: u64,
}

impl OpsSamples {
    /// Records the ops/sec since the previous call (Redis trackInstantaneousMetric).
    pub fn record(&mut self, now_ms: i64, count: u64) {
        if self.last_ms > 0 && now_ms > self.last_ms {
            let dt = (now_ms - self.last_ms) as u64;
            let ops = count.saturating_sub(self.last_count) * 1000 / dt;
            self.samples[self.idx] = ops;
            self.idx = (self.idx + 1) % OPS_SAMPLES;
        }
        self.last_ms = now_ms;
        self.last_count = count;
    }

    pub fn per_sec(&self) -> u64 {
        self.samples.iter().sum::<u64>() / OPS_SAMPLES as u64
    }
}

impl ServerStats {
    pub fn reset(&self) {
        for c in [
            &self.total_connections_received,
            &self.rejected_connections,
            &self.total_commands_processed,
            &self.total_net_input_bytes,
            &self.total_net_output_bytes,
            &self.total_error_replies,
            &self.protocol_errors,
            &self.client_query_buffer_limit_disconnections,
            &self.timeout_disconnections,
        ] {
            c.store(0, Ordering::Relaxed);
        }
        *self.ops_samples.lock() = OpsSamples::default();
    }
}

/// Facts about this process for INFO server.
#[derive(Debug, Clone)]
pub struct ServerInfo {
    pub version: &'static str,
    pub pid: u32,
    pub tcp_port: u16,
    pub run_id: String,
    pub executable: String,
    pub config_file: String,
    pub started_ms: i64,
    pub started: Instant,
}

pub struct Shared {
    pub store: Mutex<Store>,
    pub config: RwLock<Config>,
    /// Bumped by every CONFIG SET so connections refresh their cached limits.
    pub config_epoch: AtomicU64,
    pub clients: ClientRegistry,
    /// Channel and pattern subscriptions (lock after `store`).
    pub pubsub: Mutex<crate::pubsub::PubSub>,
    /// Snapshots, the AOF writer, background jobs and loading (lock `state` after `store`).
    pub persistence: crate::persistence::Persistence,
    /// Parked blocking requests (lock after `store`).
    pub blocked: Mutex<crate::blocking::BlockedClients>,
    pub stats: ServerStats,
    /// Times every command (INFO commandstats, SLOWLOG): the CPU's time-stamp counter, calibrated
    /// once, with the OS clock as the fallback where the counter is unusable, as Redis's
    /// monotonic.c does. A pair of reads costs about a third of two `Instant::now()` calls: at
    /// pipeline 16 (about 0.75 µs of server CPU per command) about 3% instead of 7%
    /// (`command_clock_cost` in `dispatch`, an ignored test, prints both on this machine).
    pub command_clock: quanta::Clock,
    /// SLOWLOG: commands that ran at least `slowlog-log-slower-than`.
    pub slowlog: crate::slowlog::SlowLog,
    /// Connections in MONITOR mode.
    pub monitors: crate::monitor::Monitors,
    pub info: ServerInfo,
    pub commands: CommandTable,
    pub clock: Arc<dyn Clock>,
    /// Rate-limit decision counters (INFO ratelimit).
    pub ratelimit: crate::ratelimit::RateLimitStats,
    /// The unique-ID generator (`ID.NEXT`); started by `crate::ids::start`.
    pub ids: crate::ids::IdService,
    /// The Lua interpreter and the scripts cache (EVAL, SCRIPT; lock after `store`).
    pub scripting: crate::scripting::Scripts,
    /// The cluster layer, installed by the server in cluster mode (CLUSTER commands, INFO).
    pub cluster: std::sync::OnceLock<Arc<dyn crate::cluster::ClusterHooks>>,
    /// CLIENT PAUSE.
    pub pause: crate::pause::Pause,
    shutdown_tx: watch::Sender<bool>,
    shutting_down: AtomicBool,
    /// This `Shared` itself, for threads started from a handler (set by `set_self`).
    self_ref: std::sync::OnceLock<std::sync::Weak<Shared>>,
}

impl Shared {
    pub fn new(store: Store, config: Config, info: ServerInfo, clock: Arc<dyn Clock>) -> Shared {
        let (shutdown_tx, _) = watch::channel(false);
        let mut store = store;
        apply_config_to_store(&config, &mut store);
        let slowlog = crate::slowlog::SlowLog::default();
        slowlog.configure(&config);
        crate::latency::configure(&config);
        Shared {
            store: Mutex::new(store),
            config: RwLock::new(config),
            config_epoch: AtomicU64::new(0),
            clients: ClientRegistry::default(),
            pubsub: Mutex::new(crate::pubsub::PubSub::default()),
            blocked: Mutex::new(crate::blocking::BlockedClients::default()),
            persistence: crate::persistence::Persistence::new(info.started_ms),
            stats: ServerStats::default(),
            command_clock: quanta::Clock::new(),
            slowlog,
            monitors: Default::default(),
            info,
            commands: crate::command_table(),
            clock,
            ratelimit: Default::default(),
            ids: Default::default(),
            scripting: Default::default(),
            cluster: std::sync::OnceLock::new(),
            pause: Default::default(),
            shutdown_tx,
            shutting_down: AtomicBool::new(false),
            self_ref: std::sync::OnceLock::new(),
        }
    }

    /// Records the `Arc` this lives in, so work started from a handler (the AOF writer) can hold
    /// a weak reference to it. Call once after `Arc::new`.
    pub fn set_self(self: &Arc<Self>) {
        let _ = self.self_ref.set(Arc::downgrade(self));
    }

    /// A weak reference to this `Shared` (dangling if `set_self` was never called).
    pub fn weak(&self) -> std::sync::Weak<Shared> {
        self.self_ref.get().cloned().unwrap_or_default()
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Starts a graceful shutdown (SHUTDOWN, SIGTERM): every listener and connection stops.
    pub fn request_shutdown(&self) {
        self.shutting_down.store(true, Ordering::SeqCst);
        self.shutdown_tx.send_replace(true);
        self.clients.kill_all();
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::SeqCst)
    }

    /// A receiver that changes to true when shutdown starts. Subscribing after shutdown began
    /// still sees a change: a task that starts late (e.g. not yet polled when start-up fails)
    /// must not wait forever for a signal sent before it subscribed.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        let mut rx = self.shutdown_tx.subscribe();
        if *rx.borrow() {
            rx.mark_changed();
        }
        rx
    }

    /// Updates the peak memory gauge; returns current used memory.
    pub fn track_memory(&self, used: usize) -> usize {
        self.stats
            .used_memory_peak
            .fetch_max(used, Ordering::Relaxed);
        used
    }
}

/// Copies the settings the keyspace enforces into it (start-up and every CONFIG SET).
pub fn apply_config_to_store(config: &Config, store: &mut Store) {
    let e = &mut store.common.eviction;
    e.maxmemory = config.maxmemory;
    e.policy = config.maxmemory_policy;
    e.samples = config.maxmemory_samples as usize;
    e.lfu_log_factor = config.lfu_log_factor;
    e.lfu_decay_time = config.lfu_decay_time;
    store.common.notify_flags = config.notify_keyspace_events;
    store.common.stream_limits = ringkv_engine::types::stream::NodeLimits {
        max_entries: config.stream_node_max_entries,
        max_bytes: config.stream_node_max_bytes,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A task spawned at start-up may first subscribe after start-up has already failed (the
    /// loader can finish before the task is polled); it must still see the shutdown, or the
    /// process waits for it forever instead of exiting.
    #[test]
    fn a_late_subscriber_still_sees_a_shutdown_that_already_began() {
        let info = ServerInfo {
            version: "test",
            pid: 0,
            tcp_port: 0,
            run_id: String::new(),
            executable: String::new(),
            config_file: String::new(),
            started_ms: 0,
            started: Instant::now(),
        };
        let clock = Arc::new(ringkv_engine::ManualClock::new(0));
        let shared = Shared::new(Store::new(1, 1), Config::default(), info, clock);
        let early = shared.shutdown_signal();
        assert!(!early.has_changed().unwrap_or(true));
        shared.request_shutdown();
        let late = shared.shutdown_signal();
        assert!(matches!(late.has_changed(), Ok(true)));
        assert!(matches!(early.has_changed(), Ok(true)));
    }
}
