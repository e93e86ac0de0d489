//! Offline checkers, the equivalents of `redis-check-aof` and `redis-check-rdb`: walk a file
//! completely, report how much of it is valid and what is wrong, and optionally repair an AOF.
//!
//! Repair policy ([`check_aof`] with `fix`): like `redis-check-aof --fix`, the file is truncated
//! at the start of the first invalid command, whether the problem is a torn tail or corruption in
//! the middle. Redis asks for confirmation first; this library does not ask, so `fix = true` is
//! the "yes" answer: every byte after the first bad command (including valid commands after a
//! corrupt one) is discarded. Callers offering this to users should confirm and keep a copy.
//! A snapshot is never modified.

use crate::aof::{log_len_of, AofError, AofReader};
use crate::fsutil::truncate_file;
use crate::manifest::{Manifest, ManifestError};
use crate::snapshot::{is_snapshot_file, SnapshotError, SnapshotHeader, SnapshotReader, TypeTag};
use ringkv_engine::ValueRef;
use std::collections::BTreeMap;
use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Which format a checked file has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Snapshot,
    Aof,
}

/// The verdict on a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CheckStatus {
    Ok,
    /// The file ends early (torn write); the first `valid_len` bytes are good.
    Truncated {
        reason: String,
    },
    /// Invalid content at `offset`.
    Corrupt {
        offset: u64,
        reason: String,
    },
}

/// Key statistics of one database of a snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DbKeyCounts {
    pub keys: u64,
    pub expires: u64,
    pub by_type: BTreeMap<TypeTag, u64>,
}

/// What a checker found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub path: PathBuf,
    pub format: FileFormat,
    pub file_len: u64,
    /// Bytes verified good from the start (for an AOF: the safe truncation point).
    pub valid_len: u64,
    pub status: CheckStatus,
    /// The file was truncated to `valid_len`.
    pub fixed: bool,
    /// AOF: whole commands read (up to the first problem).
    pub commands: u64,
    /// AOF: zero bytes after the log's data (space the live log preallocates; not an error).
    pub preallocated: u64,
    /// Snapshot: per-database key counts (only databases with keys).
    pub dbs: BTreeMap<usize, DbKeyCounts>,
    /// Snapshot: the header, if it could be read.
    pub header: Option<SnapshotHeader>,
}

impl CheckReport {
    fn new(path: &Path, format: FileFormat, file_len: u64) -> Self {
        CheckReport {
            path: path.to_path_buf(),
            format,
            file_len,
            valid_len: 0,
            status: CheckStatus::Ok,
            fixed: false,
            commands: 0,
            preallocated: 0,
            dbs: BTreeMap::new(),
            header: None,
        }
    }

    pub fn is_ok(&self) -> bool {
        self.status == CheckStatus::Ok
    }

    /// Keys over all databases (snapshot).
    pub fn total_keys(&self) -> u64 {
        self.dbs.values().map(|d| d.keys).sum()
    }
}

impl fmt::Display for CheckReport {
    /// A summary in the spirit of the redis-check tools.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.format {
            FileFormat::Snapshot => "snapshot",
            FileFormat::Aof => "AOF",
        };
        writeln!(
            f,
            "{kind} analyzed: filename={}, size={}, ok_up_to={}, diff={}",
            self.path.display(),
            self.file_len,
            self.valid_len,
            self.file_len - self.valid_len.min(self.file_len)
        )?;
        match self.format {
            FileFormat::Aof => {
                writeln!(f, "commands: {}", self.commands)?;
                if self.preallocated > 0 {
                    writeln!(
                        f,
                        "preallocated space (zero bytes after the log, not an error): {}",
                        self.preallocated
                    )?;
                }
            }
            FileFormat::Snapshot => {
                for (db, c) in &self.dbs {
                    let types: Vec<String> = c
                        .by_type
                        .iter()
                        .map(|(t, n)| format!("{}={n}", t.name()))
                        .collect();
                    writeln!(
                        f,
                        "db{db}: keys={} expires={} {}",
                        c.keys,
                        c.expires,
                        types.join(" ")
                    )?;
                }
            }
        }
        match &self.status {
            CheckStatus::Ok => write!(f, "{kind} {} is valid", self.path.display())?,
            CheckStatus::Truncated { reason } => write!(f, "truncated: {reason}")?,
            CheckStatus::Corrupt { offset, reason } => {
                write!(f, "corrupt at offset {offset}: {reason}")?
            }
        }
        if self.fixed {
            write!(f, "\nsuccessfully truncated to {} bytes", self.valid_len)?;
        }
        Ok(())
    }
}

/// Checks a snapshot: every record, the key count and the checksum.
pub fn check_snapshot(path: &Path) -> io::Result<CheckReport> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut report = CheckReport::new(path, FileFormat::Snapshot, len);
    let mut reader = match SnapshotReader::with_len(io::BufReader::new(file), len) {
        Ok(r) => r,
        Err(e) => {
            set_snapshot_error(&mut report, e, len);
            return Ok(report);
        }
    };
    report.header = Some(reader.header().clone());
    loop {
        match reader.next_record() {
            Ok(Some(rec)) => {
                let c = report.dbs.entry(rec.db).or_default();
                c.keys += 1;
                c.expires += u64::from(rec.expire.is_some());
                *c.by_type
                    .entry(TypeTag::of(ValueRef::Obj(&rec.value)))
                    .or_default() += 1;
            }
            Ok(None) => {
                report.valid_len = len;
                return Ok(report);
            }
            Err(e) => {
                set_snapshot_error(&mut report, e, len);
                return Ok(report);
            }
        }
    }
}

fn set_snapshot_error(report: &mut CheckReport, e: SnapshotError, len: u64) {
    if let SnapshotError::Io { source, .. } = e {
        // Keep the kind for the caller, but a checker reports rather than fails.
        report.status = CheckStatus::Corrupt {
            offset: report.valid_len,
            reason: format!("I/O error: {source}"),
        };
        return;
    }
    let offset = e.offset().unwrap_or(len.saturating_sub(8));
    report.valid_len = offset.min(len);
    report.status = if e.is_truncation() {
        CheckStatus::Truncated {
            reason: e.to_string(),
        }
    } else {
        CheckStatus::Corrupt {
            offset,
            reason: e.to_string(),
        }
    };
}

fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

/// Checks a RESP log (or, if the file is a snapshot, checks it as one). With `fix`, truncates
/// the file to its valid prefix when there is a problem (see the module docs for the policy).
/// A `MULTI` without its `EXEC` at the end counts as a torn tail starting at the `MULTI`.
pub fn check_aof(path: &Path, fix: bool) -> io::Result<CheckReport> {
    if is_snapshot_file(path)? {
        return check_snapshot(path);
    }
    let len = std::fs::metadata(path)?.len();
    let mut report = CheckReport::new(path, FileFormat::Aof, len);
    report.preallocated = len - log_len_of(path)?.min(len);
    let mut reader = AofReader::open(path).map_err(into_io)?;
    // Start of an open MULTI: while one is open, the safe truncation point stays before it
    // (redis-check-aof does the same).
    let mut multi: Option<u64> = None;
    report.valid_len = loop {
        match reader.next_args() {
            Ok(Some(cmd)) => {
                let name = cmd.args.get(0).unwrap_or_default();
                if is(name, "MULTI") {
                    if let Some(open) = multi {
                        report.status = CheckStatus::Corrupt {
                            offset: cmd.start,
                            reason: "unexpected MULTI inside a transaction".into(),
                        };
                        break open;
                    }
                    multi = Some(cmd.start);
                } else if is(name, "EXEC") && multi.take().is_none() {
                    report.status = CheckStatus::Corrupt {
                        offset: cmd.start,
                        reason: "unexpected EXEC without MULTI".into(),
                    };
                    break cmd.start;
                }
                report.commands += 1;
            }
            Ok(None) => match multi {
                Some(open) => {
                    report.status = CheckStatus::Truncated {
                        reason: format!(
                            "end of file before the EXEC of the MULTI at offset {open}"
                        ),
                    };
                    break open;
                }
                None => break reader.offset(),
            },
            Err(AofError::Truncated { valid_len, .. }) => {
                report.status = CheckStatus::Truncated {
                    reason: format!("the command at offset {valid_len} is incomplete"),
                };
                break multi.unwrap_or(valid_len);
            }
            Err(AofError::Corrupt { offset, reason, .. }) => {
                report.status = CheckStatus::Corrupt { offset, reason };
                break multi.unwrap_or(offset);
            }
            Err(e @ AofError::Io { .. }) => return Err(into_io(e)),
        }
    };
    if report.is_ok() {
        // Valid up to the end of the data; the zeros after it are preallocated space.
        report.valid_len = len;
    } else if fix && report.valid_len < len {
        truncate_file(path, report.valid_len)?;
        report.fixed = true;
    }
    Ok(report)
}

fn into_io(e: AofError) -> io::Error {
    match e {
        AofError::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }
}

/// Checks every file of a multi-part AOF directory in load order. `fix` is applied only to the
/// last file, the only one a crash can tear (earlier files were complete when the next one was
/// started).
pub fn check_aof_dir(dir: &Path, name: &str, fix: bool) -> Result<Vec<CheckReport>, ManifestError> {
    let manifest = Manifest::load(dir, name)?;
    let files = manifest.load_order();
    let mut reports = Vec::with_capacity(files.len());
    for (i, info) in files.iter().enumerate() {
        let path = manifest.path_of(info);
        let is_last = i + 1 == files.len();
        let report = check_aof(&path, fix && is_last).map_err(|source| ManifestError::Io {
            path: path.clone(),
            source,
        })?;
        reports.push(report);
    }
    Ok(reports)
}
