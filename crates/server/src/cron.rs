//! Background work on the event loop, every 1000/hz ms (Redis serverCron): the active expiry cycle
//! in small slices, idle-time rehashing, persistence duties (log hand-off, `save` rules, automatic
//! AOF rewrites), instantaneous ops/sec sampling, the memory peak, and closing clients idle for
//! longer than `timeout`.

use ringkv_commands::Shared;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Due keys deleted per lock hold: small enough that clients wait at most ~1 ms.
const EXPIRE_KEYS_PER_SLICE: usize = 2_000;
/// Share of each cron period the expiry cycle may use while a backlog remains (Redis: 25%).
const EXPIRE_TIME_SHARE: f64 = 0.25;
/// Buckets moved per step of idle-time rehashing, and the time the steps may take per tick
/// (Redis: 100-bucket steps for 1 ms in serverCron).
const IDLE_REHASH_STEP_BUCKETS: usize = 100;
const IDLE_REHASH_BUDGET: Duration = Duration::from_millis(1);

/// Changes the log level of the running subscriber.
pub type LogLevelHandle = tracing_subscriber::reload::Handle<
    tracing_subscriber::filter::LevelFilter,
    tracing_subscriber::Registry,
>;

pub async fn run(shared: Arc<Shared>, log_level: LogLevelHandle) {
    let mut shutdown = shared.shutdown_signal();
    let mut last_timeout_check = Instant::now();
    let mut seen_config_epoch = shared.config_epoch.load(Ordering::Acquire);
    loop {
        let hz = shared.config.read().hz.max(1);
        let period = Duration::from_millis(1000 / hz as u64);
        tokio::select! {
            _ = tokio::time::sleep(period) => {}
            _ = shutdown.changed() => break,
        }
        expire_and_rehash(&shared, period).await;
        {
            let mut store = shared.store.lock();
            ringkv_commands::persistence::tick(&mut store, &shared);
        }
        let epoch = shared.config_epoch.load(Ordering::Acquire);
        if epoch != seen_config_epoch {
            seen_config_epoch = epoch;
            let level = crate::level_filter(shared.config.read().loglevel);
            if let Err(e) = log_level.modify(|f| *f = level) {
                tracing::warn!(error = %e, "cannot change log level");
            }
        }
        let now = shared.now_ms();
        shared.stats.ops_samples.lock().record(
            now,
            shared
                .stats
                .total_commands_processed
                .load(Ordering::Relaxed),
        );
        shared.track_memory(crate::alloc::allocated_bytes());
        if last_timeout_check.elapsed() >= Duration::from_secs(1) {
            last_timeout_check = Instant::now();
            close_idle_clients(&shared, now);
        }
    }
}

async fn expire_and_rehash(shared: &Shared, period: Duration) {
    // CLIENT PAUSE keeps the data set still: no active expiry meanwhile (as in Redis).
    if shared.pause.writes_paused() {
        return;
    }
    let budget = period.mul_f64(EXPIRE_TIME_SHARE);
    let start = Instant::now();
    loop {
        let report = {
            let mut store = shared.store.lock();
            store.set_now(shared.now_ms());
            let rehash_start = Instant::now();
            while store.rehash_idle(IDLE_REHASH_STEP_BUCKETS)
                && rehash_start.elapsed() < IDLE_REHASH_BUDGET
            {}
            let expire_start = Instant::now();
            let report = store.active_expire_cycle(EXPIRE_KEYS_PER_SLICE);
            ringkv_commands::latency::sample("expire-cycle", expire_start.elapsed());
            ringkv_commands::pubsub::publish_key_events(&mut store, shared);
            report
        };
        if !report.more || start.elapsed() >= budget {
            break;
        }
        // Let clients in between slices.
        tokio::task::yield_now().await;
    }
}

fn close_idle_clients(shared: &Shared, now_ms: i64) {
    let timeout = shared.config.read().timeout;
    if timeout == 0 {
        return;
    }
    let limit_ms = timeout.saturating_mul(1000) as i64;
    for c in shared.clients.all() {
        let meta = c.meta.lock();
        // Redis never times out blocked or pub/sub clients.
        let exempt = meta.blocked || meta.subscriptions + meta.pattern_subscriptions > 0;
        drop(meta);
        if !exempt && now_ms - c.last_interaction_ms.load(Ordering::Relaxed) > limit_ms {
            shared
                .stats
                .timeout_disconnections
                .fetch_add(1, Ordering::Relaxed);
            tracing::debug!(client = c.id, "closing idle client (timeout)");
            c.kill();
        }
    }
}
