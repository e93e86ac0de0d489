//! Start-up recovery from a multi-part AOF directory: load the base snapshot, then replay every
//! incremental log through the server's command table (a caller-provided closure).
//!
//! Rules, as in Redis 7 `loadAppendOnlyFiles`:
//! - Files are loaded in manifest order; a file the manifest lists but the directory lacks is an
//!   error (never silently skipped: that would drop writes).
//! - The base may be a snapshot (detected by its magic) or a RESP log.
//! - Only the LAST file may have a torn tail. With `load_truncated` (`aof-load-truncated yes`,
//!   the default) it is truncated to its valid prefix and loading continues with a warning in the
//!   report; otherwise it is an error. A torn tail in an earlier file, or a protocol error
//!   anywhere, is an error naming the file and offset.
//! - `SELECT n` switches the database given to the closure (it is not passed on). `MULTI` ...
//!   `EXEC` blocks are applied only once their `EXEC` is read; a block left open at the end of the
//!   last file is treated as a torn tail starting at its `MULTI` (Redis "Revert incomplete
//!   MULTI/EXEC transaction").
//! - The store's `dirty` counter is restored afterwards: loading is not a change to save.

use crate::aof::{log_len_of, AofError, AofReader};
use crate::fsutil::truncate_file;
use crate::manifest::{Manifest, ManifestError};
use crate::snapshot::{is_snapshot_file, load_snapshot, SnapshotError, PROGRESS_INTERVAL_BYTES};
use ringkv_engine::Store;
use ringkv_protocol::num::parse_i64;
use ringkv_protocol::{Args, OwnedArgs};
use std::fs;
use std::path::{Path, PathBuf};

/// How [`recover`] behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecoveryOptions {
    /// `aof-load-truncated`: repair a torn tail of the last file instead of failing.
    pub load_truncated: bool,
    /// Keys of the base snapshot whose deadline is `<= now_ms` are skipped.
    pub now_ms: i64,
}

impl RecoveryOptions {
    /// Redis's defaults (`aof-load-truncated yes`) at time `now_ms`.
    pub fn new(now_ms: i64) -> Self {
        RecoveryOptions {
            load_truncated: true,
            now_ms,
        }
    }
}

/// A torn tail that was cut off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TruncationReport {
    pub file: PathBuf,
    /// Size before the repair.
    pub original_len: u64,
    /// Size after: the end of the last whole command (or the start of an unfinished MULTI).
    pub valid_len: u64,
}

/// What was loaded from one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileReport {
    pub file: PathBuf,
    pub bytes: u64,
    /// Commands passed to the closure (SELECT, MULTI and EXEC not counted).
    pub commands: u64,
    /// Keys inserted from a snapshot base.
    pub keys_loaded: u64,
    /// Snapshot keys skipped because already expired.
    pub expired_skipped: u64,
}

/// What [`recover`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RecoveryReport {
    /// False if there was no manifest (nothing loaded: an empty data set, as in Redis).
    pub manifest_found: bool,
    /// One entry per loaded file, in load order.
    pub files: Vec<FileReport>,
    pub commands_applied: u64,
    pub keys_loaded: u64,
    /// Set if the last file had a torn tail that was cut off (log it as a warning).
    pub truncated: Option<TruncationReport>,
    /// Total size of the loaded files (the progress total).
    pub total_bytes: u64,
}

/// Why recovery failed. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    #[error("{}: listed in the manifest but missing", path.display())]
    MissingFile { path: PathBuf },
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: {source}", path.display())]
    Snapshot {
        path: PathBuf,
        #[source]
        source: SnapshotError,
    },
    #[error("{0}")]
    Aof(AofError),
    /// A torn tail that may not be repaired: not the last file, or `load_truncated` is off.
    #[error("{}: unexpected end of file at offset {valid_len} of {file_len}{hint}", file.display())]
    Truncated {
        file: PathBuf,
        valid_len: u64,
        file_len: u64,
        hint: &'static str,
    },
    #[error("{}: bad command at offset {offset}: {reason}", file.display())]
    BadCommand {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
    /// The closure refused a command (unknown command, wrong arity...).
    #[error("{}: command {command:?} at offset {offset} failed: {message}", file.display())]
    Command {
        file: PathBuf,
        offset: u64,
        command: String,
        message: String,
    },
}

const HINT_NOT_LAST: &str =
    " (only the last file may be truncated; this one is not: check it with check_aof)";
const HINT_NOT_ALLOWED: &str =
    " (set aof-load-truncated yes to load it anyway, or repair it with check_aof --fix)";

/// Loads the AOF directory `dir` of `appendfilename` `name` into `store` (see the module docs).
///
/// `apply(store, db, args)` executes one logged command in database `db`; return `Err` only
/// for commands that cannot be replayed at all (unknown command, wrong number of arguments):
/// recovery then stops with [`RecoveryError::Command`]. Ordinary command errors (WRONGTYPE...)
/// are not fatal in Redis (the reply is discarded) and should be `Ok`. The store's clock should
/// be set to the current time first, so replayed absolute deadlines in the past delete keys.
///
/// `progress(done, total)` reports bytes over all files about every MiB.
pub fn recover<F, P>(
    dir: &Path,
    name: &str,
    store: &mut Store,
    options: &RecoveryOptions,
    mut apply: F,
    mut progress: P,
) -> Result<RecoveryReport, RecoveryError>
where
    F: FnMut(&mut Store, usize, Args<'_>) -> Result<(), String>,
    P: FnMut(u64, u64),
{
    let mut report = RecoveryReport::default();
    let Some(manifest) = Manifest::load_if_exists(dir, name)? else {
        return Ok(report);
    };
    report.manifest_found = true;
    let files: Vec<PathBuf> = manifest
        .load_order()
        .into_iter()
        .map(|f| manifest.path_of(f))
        .collect();
    // A log's size is that of its data: the preallocated zeros after it are not part of it
    // (`aof::log_len`).
    let mut sizes = Vec::with_capacity(files.len());
    for path in &files {
        let size = fs::metadata(path).and_then(|m| match is_snapshot_file(path)? {
            true => Ok(m.len()),
            false => log_len_of(path),
        });
        match size {
            Ok(n) => sizes.push(n),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(RecoveryError::MissingFile { path: path.clone() })
            }
            Err(source) => {
                return Err(RecoveryError::Io {
                    path: path.clone(),
                    source,
                })
            }
        }
    }
    report.total_bytes = sizes.iter().sum();
    let total = report.total_bytes;
    progress(0, total);

    let dirty_before = store.common.dirty;
    let result = (|| {
        let mut done_before = 0u64;
        let has_base = manifest.base().is_some();
        for (i, path) in files.iter().enumerate() {
            let is_last = i + 1 == files.len();
            let snapshot_base = i == 0
                && has_base
                && is_snapshot_file(path).map_err(|source| RecoveryError::Io {
                    path: path.clone(),
                    source,
                })?;
            let file_report = if snapshot_base {
                let r = load_snapshot(path, store, options.now_ms, |d, _| {
                    progress(done_before + d, total)
                })
                .map_err(|source| RecoveryError::Snapshot {
                    path: path.clone(),
                    source,
                })?;
                FileReport {
                    file: path.clone(),
                    bytes: sizes[i],
                    commands: 0,
                    keys_loaded: r.keys_loaded,
                    expired_skipped: r.expired_skipped,
                }
            } else {
                let mut on_progress = |d: u64| progress(done_before + d, total);
                replay_file(
                    path,
                    is_last,
                    store,
                    options,
                    &mut apply,
                    &mut on_progress,
                    &mut report,
                )?
            };
            done_before += sizes[i];
            progress(done_before.min(total), total);
            report.commands_applied += file_report.commands;
            report.keys_loaded += file_report.keys_loaded;
            report.files.push(file_report);
        }
        Ok(())
    })();
    store.common.dirty = dirty_before;
    result.map(|()| report)
}

fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// An open MULTI block: where it started and the commands queued in it (with their db and
/// offset).
struct Transaction {
    start: u64,
    queued: Vec<(usize, u64, OwnedArgs)>,
}

fn apply_one<F>(
    apply: &mut F,
    store: &mut Store,
    db: usize,
    args: Args<'_>,
    path: &Path,
    offset: u64,
) -> Result<(), RecoveryError>
where
    F: FnMut(&mut Store, usize, Args<'_>) -> Result<(), String>,
{
    apply(store, db, args).map_err(|message| RecoveryError::Command {
        file: path.to_path_buf(),
        offset,
        command: String::from_utf8_lossy(args.get(0).unwrap_or_default()).into_owned(),
        message,
    })
}

#[allow(clippy::too_many_arguments)]
fn replay_file<F>(
    path: &Path,
    is_last: bool,
    store: &mut Store,
    options: &RecoveryOptions,
    apply: &mut F,
    progress: &mut dyn FnMut(u64),
    report: &mut RecoveryReport,
) -> Result<FileReport, RecoveryError>
where
    F: FnMut(&mut Store, usize, Args<'_>) -> Result<(), String>,
{
    let mut reader = AofReader::open(path).map_err(RecoveryError::Aof)?;
    let mut out = FileReport {
        file: path.to_path_buf(),
        bytes: 0,
        commands: 0,
        keys_loaded: 0,
        expired_skipped: 0,
    };
    // Every file starts in database 0 (the writer emits SELECT at the start of each file).
    let mut db = 0usize;
    let mut tx: Option<Transaction> = None;
    let mut last_progress = 0u64;
    let bad = |offset: u64, reason: String| RecoveryError::BadCommand {
        file: path.to_path_buf(),
        offset,
        reason,
    };
    // Some((valid_len, file_len)) when the file has a torn tail.
    let torn: Option<(u64, u64)> = loop {
        let cmd = match reader.next_args() {
            Ok(Some(c)) => c,
            Ok(None) => break tx.as_ref().map(|t| (t.start, reader.offset())),
            Err(AofError::Truncated {
                valid_len,
                file_len,
                ..
            }) => break Some((tx.as_ref().map_or(valid_len, |t| t.start), file_len)),
            Err(e) => return Err(RecoveryError::Aof(e)),
        };
        if cmd.end - last_progress >= PROGRESS_INTERVAL_BYTES {
            last_progress = cmd.end;
            progress(cmd.end);
        }
        let args = cmd.args;
        // Non-empty: the reader rejects empty commands.
        let name = args.get(0).unwrap_or_default();
        if is(name, "SELECT") {
            let n = args
                .get(1)
                .and_then(parse_i64)
                .and_then(|n| usize::try_from(n).ok())
                .filter(|&n| n < store.db_count() && args.len() == 2);
            match n {
                Some(n) => db = n,
                None => {
                    return Err(bad(
                        cmd.start,
                        format!(
                            "invalid SELECT {:?} (the store has {} databases)",
                            String::from_utf8_lossy(args.get(1).unwrap_or_default()),
                            store.db_count()
                        ),
                    ))
                }
            }
        } else if is(name, "MULTI") {
            if tx.is_some() {
                return Err(bad(cmd.start, "MULTI inside MULTI".into()));
            }
            tx = Some(Transaction {
                start: cmd.start,
                queued: Vec::new(),
            });
        } else if is(name, "EXEC") {
            let Some(t) = tx.take() else {
                return Err(bad(cmd.start, "EXEC without MULTI".into()));
            };
            for (qdb, offset, qargs) in &t.queued {
                apply_one(apply, store, *qdb, qargs.args(), path, *offset)?;
                out.commands += 1;
            }
        } else if let Some(t) = tx.as_mut() {
            t.queued.push((db, cmd.start, args.to_owned_args()));
        } else {
            apply_one(apply, store, db, args, path, cmd.start)?;
            out.commands += 1;
        }
    };
    out.bytes = reader.offset();
    if let Some((valid_len, file_len)) = torn {
        let hint = if !is_last {
            Some(HINT_NOT_LAST)
        } else if !options.load_truncated {
            Some(HINT_NOT_ALLOWED)
        } else {
            None
        };
        if let Some(hint) = hint {
            return Err(RecoveryError::Truncated {
                file: path.to_path_buf(),
                valid_len,
                file_len,
                hint,
            });
        }
        // The server will append to this file: cut the torn bytes first.
        truncate_file(path, valid_len).map_err(|source| RecoveryError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        out.bytes = valid_len;
        report.truncated = Some(TruncationReport {
            file: path.to_path_buf(),
            original_len: file_len,
            valid_len,
        });
    }
    Ok(out)
}
