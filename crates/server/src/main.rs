//! The `ringkv` binary: command line, offline check tools, the runtime. The server itself
//! (listeners, background work, cluster, shutdown) is the `ringkv` library next to it.

use ringkv::{init_logging, run, VERSION};
use ringkv_commands::cpu_affinity::{self, Role};
use ringkv_config::{Config, StartupArgs};
use std::process::ExitCode;

#[global_allocator]
static GLOBAL: ringkv::alloc::CountingAllocator = ringkv::alloc::CountingAllocator;

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
    cpu_affinity::configure(&config);
    let runtime = if config.io_threads <= 1 {
        // The loop runs on this thread. The runtime's other threads (its blocking pool) are
        // background threads: they must not inherit the loop's CPU when it pins itself.
        cpu_affinity::pin_for(Role::Server);
        let mut builder = tokio::runtime::Builder::new_current_thread();
        ringkv_commands::event_loop::install_hooks(&mut builder)
            .on_thread_start(|| cpu_affinity::pin_for(Role::Background))
            .enable_all()
            .build()
    } else {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        ringkv_commands::event_loop::install_hooks(&mut builder)
            .worker_threads(config.io_threads as usize)
            .on_thread_start(|| cpu_affinity::pin_for(Role::Server))
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
