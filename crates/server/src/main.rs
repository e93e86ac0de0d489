//! The `ringkv` binary: configuration, logging, the runtime, listeners, background work and
//! graceful shutdown. Everything a command does lives in `ringkv-commands`; this crate owns I/O.

mod alloc;
mod cluster;
mod connection;
mod cron;
mod http;
mod listener;

use ringkv_commands::{ServerInfo, Shared};
use ringkv_config::{Config, LogLevel, StartupArgs};
use ringkv_engine::{Store, SystemClock};
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static GLOBAL: alloc::CountingAllocator = alloc::CountingAllocator;

const VERSION: &str = env!("CARGO_PKG_VERSION");

fn usage() -> String {
    format!(
        "ringkv {VERSION} — a Redis-compatible key-value server\n\n\
Usage: ringkv [/path/to/ringkv.conf] [--name value [value ...]] ...\n\
       ringkv check-snapshot FILE        verify a snapshot (like redis-check-rdb)\n\
       ringkv check-aof [--fix] FILE     verify an append-only file (like redis-check-aof);\n\
                                         FILE may be an AOF directory or its manifest\n\
       ringkv -v | --version\n\
       ringkv -h | --help\n\n\
Settings use redis.conf names; command-line options override the file.\n\
Examples:\n\
       ringkv --port 6380 --dir ./data\n\
       ringkv /etc/ringkv/ringkv.conf --loglevel verbose\n\
       ringkv --maxmemory 100mb --maxmemory-policy allkeys-lru\n"
    )
}

/// A multi-part AOF named by its directory or its manifest: (directory, appendfilename).
fn aof_dir_target(path: &std::path::Path) -> Option<(std::path::PathBuf, String)> {
    let manifest = if path.is_dir() {
        std::fs::read_dir(path)
            .ok()?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| {
                p.to_string_lossy()
                    .ends_with(ringkv_persist::manifest::MANIFEST_SUFFIX)
            })?
    } else {
        path.to_path_buf()
    };
    let file = manifest.file_name()?.to_str()?;
    let name = file.strip_suffix(ringkv_persist::manifest::MANIFEST_SUFFIX)?;
    let dir = manifest.parent()?.to_path_buf();
    Some((dir, name.to_string()))
}

/// `ringkv check-snapshot FILE` / `ringkv check-aof [--fix] FILE|DIR|MANIFEST`: offline diagnosis.
/// A directory or a manifest checks every file of the multi-part AOF in load order (only the last
/// may be fixed).
fn check_tool(argv: &[String]) -> Option<ExitCode> {
    let (cmd, rest) = argv.split_first()?;
    let (fix, file) = match (cmd.as_str(), rest) {
        ("check-snapshot" | "check-aof", [file]) => (false, file),
        ("check-aof", [flag, file]) if flag == "--fix" => (true, file),
        ("check-snapshot" | "check-aof", _) => {
            eprintln!("usage: ringkv check-snapshot FILE | ringkv check-aof [--fix] FILE");
            return Some(ExitCode::FAILURE);
        }
        _ => return None,
    };
    let path = std::path::Path::new(file);
    let single = |r: std::io::Result<ringkv_persist::CheckReport>| {
        r.map(|r| vec![r])
            .map_err(|e| format!("cannot read {file}: {e}"))
    };
    let reports = if cmd == "check-snapshot" {
        single(ringkv_persist::check_snapshot(path))
    } else if path.is_dir() || file.ends_with(".manifest") {
        match aof_dir_target(path) {
            Some((dir, name)) => ringkv_persist::check_aof_dir(&dir, &name, fix)
                .map_err(|e| format!("cannot check {}: {e}", dir.display())),
            None => Err(format!("no AOF manifest found at {file}")),
        }
    } else {
        single(ringkv_persist::check_aof(path, fix))
    };
    Some(match reports {
        Ok(reports) => {
            let mut ok = true;
            for r in &reports {
                println!("{r}");
                ok &= r.is_ok() || r.fixed;
            }
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("{e}");
            ExitCode::FAILURE
        }
    })
}

fn main() -> ExitCode {
    // A file-size limit (ulimit -f) must show up as a failed write, handled like a full disk,
    // not as SIGXFSZ killing the process.
    // SAFETY: setting a signal disposition to SIG_IGN before any thread exists.
    unsafe {
        libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
    }
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if let Some(code) = check_tool(&argv) {
        return code;
    }
    let args: StartupArgs = match ringkv_config::parse_command_line(&argv) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n\n{}", usage());
            return ExitCode::FAILURE;
        }
    };
    if args.help {
        print!("{}", usage());
        return ExitCode::SUCCESS;
    }
    if args.version {
        println!("ringkv v={VERSION} malloc=mimalloc bits=64");
        return ExitCode::SUCCESS;
    }
    let config = match Config::load(&args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let log_handle = match init_logging(&config) {
        Ok(h) => h,
        Err(e) => {
            eprintln!("cannot open logfile '{}': {e}", config.logfile);
            return ExitCode::FAILURE;
        }
    };
    let runtime = if config.io_threads <= 1 {
        let mut builder = tokio::runtime::Builder::new_current_thread();
        ringkv_commands::aof::install_event_loop_hooks(&mut builder)
            .enable_all()
            .build()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        ringkv_commands::aof::install_event_loop_hooks(&mut builder)
            .worker_threads(config.io_threads as usize)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "cannot start the runtime");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(config, log_handle)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e}");
            eprintln!("ringkv: {e}");
            ExitCode::FAILURE
        }
    }
}

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
fn init_logging(config: &Config) -> std::io::Result<cron::LogLevelHandle> {
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

async fn run(config: Config, log_handle: cron::LogLevelHandle) -> Result<(), String> {
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
    let clock = Arc::new(SystemClock);
    let seed = {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        t ^ ((std::process::id() as u64) << 32)
    };
    // Cluster mode keeps each key's versions in one extra, hidden database.
    let databases = config.databases as usize + usize::from(config.cluster_enabled);
    let cluster_enabled = config.cluster_enabled;
    let mut store = Store::new(databases, seed);
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
    let pidfile = config.pidfile.clone();
    let shared = Arc::new(Shared::new(store, config, info.clone(), clock));
    shared.set_self();
    // Until the data set is loaded, only `loading`-flagged commands (INFO, PING ...) run.
    shared.persistence.loading.store(true, Ordering::SeqCst);
    ringkv_commands::ids::start(&shared)?;
    ringkv_commands::bgsave::Jobs::start(&shared)?;
    tracing::info!(
        version = VERSION,
        port = tcp_port,
        pid = info.pid,
        config_file = %if info.config_file.is_empty() { "(none)" } else { &info.config_file },
        mode = if cluster_enabled { "cluster" } else { "standalone" },
        "ringkv starting"
    );
    let mut tasks = Vec::new();
    for l in listeners {
        tracing::info!(addr = %l.local_addr().map(|a| a.to_string()).unwrap_or_default(), "listening");
        tasks.push(tokio::spawn(listener::accept_loop(shared.clone(), l)));
    }
    tasks.push(tokio::spawn(cron::run(shared.clone(), log_handle)));
    tasks.extend(http::spawn(shared.clone()).await?);
    let loader = {
        let shared = shared.clone();
        let store = Store::new(databases, seed.rotate_left(29));
        tokio::task::spawn_blocking(move || {
            ringkv_commands::loading::load_at_startup(&shared, store)
        })
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
