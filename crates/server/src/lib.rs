//! The ringkv server: listeners, connections, background work, the cluster and graceful
//! shutdown. Everything a command does lives in `ringkv-commands`; this crate owns I/O.
//! `main.rs` is only the command line around [`run`]; being a library as well lets
//! tests host cluster nodes inside a network simulator (feature `sim`, module [`sim`]).

pub mod alloc;
mod busy_poll;
pub mod cluster;
mod connection;
pub mod cron;
mod http;
mod listener;
mod loop_pinning;
#[cfg(feature = "sim")]
pub mod sim;
mod thp;

use ringkv_commands::{ServerInfo, Shared};
use ringkv_config::{Config, LogLevel};
use ringkv_engine::{Store, SystemClock};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// The server's version, as INFO and `--version` report it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Maps Redis's log levels onto tracing's (verbose has no tracing equivalent: it is debug).
pub fn level_filter(level: LogLevel) -> tracing_subscriber::filter::LevelFilter {
    use tracing_subscriber::filter::LevelFilter;
    match level {
        LogLevel::Debug | LogLevel::Verbose => LevelFilter::DEBUG,
        LogLevel::Notice => LevelFilter::INFO,
        LogLevel::Warning => LevelFilter::WARN,
        LogLevel::Nothing => LevelFilter::OFF,
    }
}

/// Installs the global subscriber; the returned handle changes the level at run time
/// (CONFIG SET loglevel).
pub fn init_logging(config: &Config) -> std::io::Result<cron::LogLevelHandle> {
    use tracing_subscriber::prelude::*;
    let (filter, handle) = tracing_subscriber::reload::Layer::new(level_filter(config.loglevel));
    let registry = tracing_subscriber::registry().with(filter);
    if config.logfile.is_empty() {
        use std::io::IsTerminal;
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(std::io::stdout().is_terminal()),
            )
            .init();
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&config.logfile)?;
        registry
            .with(
                tracing_subscriber::fmt::layer()
                    .with_target(false)
                    .with_ansi(false)
                    .with_writer(std::sync::Mutex::new(file)),
            )
            .init();
    }
    Ok(handle)
}

/// Databases the keyspace holds: cluster mode keeps each key's versions, and the hints of
/// writes other nodes missed, in two extra, hidden databases.
fn databases(config: &Config) -> usize {
    config.databases as usize + 2 * usize::from(config.cluster_enabled)
}

/// The server's state before anything listens or loads: an empty keyspace seeded with `seed`,
/// the configuration and the identity INFO reports. It starts out loading: until
/// [`load_data`] is done, only `loading`-flagged commands (INFO, PING ...) run.
pub(crate) fn new_shared(config: Config, tcp_port: u16, seed: u64) -> Arc<Shared> {
    let clock = Arc::new(SystemClock);
    let mut store = Store::new(databases(&config), seed);
    store.set_memory_gauge(Arc::new(alloc::allocated_bytes));
    let info = ServerInfo {
        version: VERSION,
        pid: std::process::id(),
        tcp_port,
        run_id: format!("{:016x}{:024x}", seed, seed.rotate_left(17) as u128 * 31),
        executable: std::env::current_exe()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        config_file: config
            .config_file()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        started_ms: ringkv_engine::Clock::now_ms(&SystemClock),
        started: Instant::now(),
    };
    let shared = Arc::new(Shared::new(store, config, info, clock));
    shared.set_self();
    shared.persistence.loading.store(true, Ordering::SeqCst);
    shared
}

/// Loads the data set from the data directory (blocking; see
/// `ringkv_commands::loading::load_at_startup`) into a fresh keyspace seeded from `seed`.
pub(crate) fn load_data(shared: &Arc<Shared>, seed: u64) -> Result<(), String> {
    let store = Store::new(databases(&shared.config.read()), seed.rotate_left(29));
    ringkv_commands::loading::load_at_startup(shared, store)
}

pub async fn run(config: Config, log_handle: cron::LogLevelHandle) -> Result<(), String> {
    // Before the keyspace exists, so all of it is in small pages.
    thp::apply(config.disable_thp);
    std::fs::create_dir_all(&config.dir)
        .map_err(|e| format!("cannot create dir '{}': {e}", config.dir))?;
    let mut listeners = Vec::new();
    for addr in &config.bind {
        let addr = addr.trim_start_matches('-');
        let l = tokio::net::TcpListener::bind((addr, config.port))
            .await
            .map_err(|e| format!("could not bind {addr}:{}: {e}", config.port))?;
        listeners.push(l);
    }
    let tcp_port = listeners
        .first()
        .and_then(|l| l.local_addr().ok())
        .map(|a| a.port())
        .unwrap_or(config.port);
    if !config.pidfile.is_empty() {
        if let Err(e) = std::fs::write(&config.pidfile, format!("{}\n", std::process::id())) {
            tracing::warn!(error = %e, pidfile = %config.pidfile, "cannot write pidfile");
        }
    }
    let seed = {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        t ^ ((std::process::id() as u64) << 32)
    };
    let cluster_enabled = config.cluster_enabled;
    // Busy polling needs the single-threaded runtime and its idle accounting (main.rs).
    let single_threaded = config.io_threads <= 1 && ringkv_commands::event_loop::hooked();
    let pidfile = config.pidfile.clone();
    let shared = new_shared(config, tcp_port, seed);
    let pid = shared.info.pid;
    let config_file = shared.info.config_file.clone();
    ringkv_commands::ids::start(&shared)?;
    ringkv_commands::bgsave::Jobs::start(&shared)?;
    tracing::info!(
        version = VERSION,
        port = tcp_port,
        pid,
        config_file = %if config_file.is_empty() { "(none)" } else { &config_file },
        mode = if cluster_enabled { "cluster" } else { "standalone" },
        "ringkv starting"
    );
    let mut tasks = Vec::new();
    for l in listeners {
        tracing::info!(addr = %l.local_addr().map(|a| a.to_string()).unwrap_or_default(), "listening");
        tasks.push(tokio::spawn(listener::accept_loop(shared.clone(), l)));
    }
    tasks.push(tokio::spawn(cron::run(shared.clone(), log_handle)));
    if single_threaded {
        tasks.push(tokio::spawn(busy_poll::run(shared.clone())));
    }
    tasks.extend(http::spawn(shared.clone()).await?);
    let loader = {
        let shared = shared.clone();
        tokio::task::spawn_blocking(move || load_data(&shared, seed))
    };
    let mut shutdown = shared.shutdown_signal();
    let loaded = tokio::select! {
        r = loader => r.map_err(|e| format!("loading task failed: {e}")).and_then(|r| r),
        _ = signal_received() => Err("interrupted while loading".to_string()),
        _ = shutdown.changed() => Err("shut down while loading".to_string()),
    };
    let started = match loaded {
        Ok(()) if cluster_enabled => cluster::Cluster::start(shared.clone(), tcp_port, seed)
            .await
            .map(drop),
        other => other,
    };
    if let Err(e) = started {
        shared.request_shutdown();
        for t in tasks {
            let _ = t.await;
        }
        return Err(e);
    }
    tracing::info!("Ready to accept connections tcp");

    tokio::select! {
        _ = signal_received() => {
            tracing::info!("Received shutdown signal, scheduling shutdown...");
            shared.request_shutdown();
        }
        _ = shutdown.changed() => {
            tracing::info!("shutting down: closing listeners and clients");
        }
    }
    for t in tasks {
        let _ = t.await;
    }
    // Give connections a moment to flush their last replies.
    let deadline = Instant::now() + std::time::Duration::from_secs(2);
    while !shared.clients.is_empty() && Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The last log bytes to disk, and the final snapshot if save points are configured.
    {
        let shared = shared.clone();
        let _ =
            tokio::task::spawn_blocking(move || ringkv_commands::persistence::shutdown(&shared))
                .await;
    }
    if !pidfile.is_empty() {
        let _ = std::fs::remove_file(&pidfile);
    }
    tracing::info!("ringkv is now ready to exit, bye bye...");
    Ok(())
}

async fn signal_received() {
    use tokio::signal::unix::{signal, SignalKind};
    let term = signal(SignalKind::terminate());
    let int = signal(SignalKind::interrupt());
    match (term, int) {
        (Ok(mut term), Ok(mut int)) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = int.recv() => {}
            }
        }
        _ => std::future::pending::<()>().await,
    }
}
