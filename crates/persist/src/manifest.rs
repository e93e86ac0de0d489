//! The multi-part AOF manifest (Redis 7 design): which files make up the append-only data, in
//! which order, and how a rewrite replaces them without ever leaving the directory in a state
//! that loses data.
//!
//! The directory (`appenddirname`, default `appendonlydir`) holds, for `appendfilename` = `NAME`:
//! - `NAME.<seq>.base.snap`: a snapshot of the data when the last rewrite started (at most one);
//! - `NAME.<seq>.incr.aof`: RESP logs of every write since, in increasing `seq` order; the last
//!   one is where the server appends;
//! - `NAME.manifest`: the list, one file per line in Redis's format:
//!   ```text
//!   file appendonly.aof.2.base.snap seq 2 type b
//!   file appendonly.aof.5.incr.aof seq 5 type i
//!   ```
//!   `type` is `b` (base), `i` (incremental) or `h` (history: superseded, to be deleted). Lines
//!   starting with `#` and blank lines are ignored, unknown `key value` pairs too (newer writers
//!   may add some), so the format can grow.
//!
//! Rewrite protocol (why it is crash-safe at every step):
//! 1. [`Manifest::start_rewrite`] creates a new empty incr file and saves a manifest that lists it
//!    after the old ones. The server switches its writer to it. A crash now loads old base + all
//!    incr files, which is complete.
//! 2. The server writes the new base snapshot (a point-in-time image taken when it switched) to
//!    [`RewritePlan::base_path`] with [`crate::write_snapshot_file`]. A crash now leaves an
//!    unlisted file, which the next rewrite overwrites.
//! 3. [`Manifest::finish_rewrite_keeping_history`] saves a manifest with the new base, the new
//!    incr file, and the old base and older incr files as history; then
//!    [`Manifest::delete_history`] deletes the history files and saves again. A crash between
//!    the two saves leaves history entries, which the loader ignores and
//!    [`Manifest::delete_history`] cleans up at the next start.
//!
//! Every manifest save is temp file + fsync + rename + directory fsync. File names from a
//! manifest are checked to be plain names inside the directory (no path separators), so a
//! tampered manifest cannot make the server read or delete files elsewhere.

use crate::fsutil::{fsync_dir, write_atomically};
use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Default `appenddirname`.
pub const DEFAULT_DIR_NAME: &str = "appendonlydir";
/// Default `appendfilename`.
pub const DEFAULT_FILE_NAME: &str = "appendonly.aof";
/// Suffix of the manifest file name.
pub const MANIFEST_SUFFIX: &str = ".manifest";
/// Suffix of base files (snapshots).
pub const BASE_SUFFIX: &str = ".base.snap";
/// Suffix of incremental files.
pub const INCR_SUFFIX: &str = ".incr.aof";
/// A manifest larger than this is rejected rather than read into memory.
pub const MANIFEST_MAX_BYTES: u64 = 16 * 1024 * 1024;

/// What a listed file is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AofFileKind {
    /// The snapshot the incremental files apply on top of.
    Base,
    /// A RESP log.
    Incr,
    /// Superseded by a rewrite; deleted as soon as possible, never loaded.
    History,
}

impl AofFileKind {
    fn code(self) -> char {
        match self {
            AofFileKind::Base => 'b',
            AofFileKind::Incr => 'i',
            AofFileKind::History => 'h',
        }
    }

    fn from_code(s: &str) -> Option<AofFileKind> {
        match s {
            "b" => Some(AofFileKind::Base),
            "i" => Some(AofFileKind::Incr),
            "h" => Some(AofFileKind::History),
            _ => None,
        }
    }
}

/// One line of the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofFileInfo {
    /// File name inside the directory.
    pub file: String,
    pub seq: u64,
    pub kind: AofFileKind,
}

/// Errors reading, validating or updating a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{}: no manifest", path.display())]
    NotFound { path: PathBuf },
    #[error("{}:{line}: invalid manifest: {reason}", path.display())]
    Parse {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("invalid appendfilename {0:?}: it must be a plain file name (no path separators, spaces, quotes or control characters)")]
    InvalidName(String),
    #[error("{}: manifest larger than {MANIFEST_MAX_BYTES} bytes", path.display())]
    TooLarge { path: PathBuf },
    #[error("rewrite cannot finish: {0}")]
    Rewrite(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> ManifestError + '_ {
    move |source| ManifestError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Whether `name` can be used unquoted in a manifest line and only names a file in the directory.
fn valid_file_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| !c.is_whitespace() && !c.is_control() && !matches!(c, '/' | '\\' | '"' | '\''))
}

/// What [`Manifest::start_rewrite`] prepared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewritePlan {
    /// The new (empty, already listed) incr file: the writer appends here from now on.
    pub incr_path: PathBuf,
    pub incr_seq: u64,
    /// Where the new base snapshot must be written (e.g. with [`crate::write_snapshot_file`]).
    pub base_path: PathBuf,
    pub base_file: String,
    pub base_seq: u64,
}

/// What [`Manifest::delete_history`] did.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RewriteOutcome {
    /// Superseded files that were deleted.
    pub deleted: Vec<PathBuf>,
    /// Superseded files that could not be deleted (kept as history; retried by
    /// [`Manifest::delete_history`]).
    pub kept: Vec<(PathBuf, String)>,
}

/// The manifest of one AOF directory (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    dir: PathBuf,
    name: String,
    base: Option<AofFileInfo>,
    incrs: Vec<AofFileInfo>,
    history: Vec<AofFileInfo>,
    /// Highest base seq ever listed (base or history), so new names never collide.
    base_seq: u64,
    /// Highest incr seq ever listed.
    incr_seq: u64,
}

impl Manifest {
    /// An empty manifest (nothing saved yet) for `appendfilename` `name` in `dir`.
    pub fn new(dir: impl Into<PathBuf>, name: &str) -> Result<Manifest, ManifestError> {
        if !valid_file_name(name) {
            return Err(ManifestError::InvalidName(name.to_string()));
        }
        Ok(Manifest {
            dir: dir.into(),
            name: name.to_string(),
            base: None,
            incrs: Vec::new(),
            history: Vec::new(),
            base_seq: 0,
            incr_seq: 0,
        })
    }

    /// Path of the manifest of `name` in `dir`.
    pub fn manifest_path_for(dir: &Path, name: &str) -> PathBuf {
        dir.join(format!("{name}{MANIFEST_SUFFIX}"))
    }

    /// Reads `dir/<name>.manifest`; [`ManifestError::NotFound`] if it does not exist.
    pub fn load(dir: impl Into<PathBuf>, name: &str) -> Result<Manifest, ManifestError> {
        let dir = dir.into();
        if !valid_file_name(name) {
            return Err(ManifestError::InvalidName(name.to_string()));
        }
        let path = Self::manifest_path_for(&dir, name);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(ManifestError::NotFound { path })
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        if meta.len() > MANIFEST_MAX_BYTES {
            return Err(ManifestError::TooLarge { path });
        }
        let bytes = fs::read(&path).map_err(io_err(&path))?;
        if bytes.len() as u64 > MANIFEST_MAX_BYTES {
            return Err(ManifestError::TooLarge { path });
        }
        let text = String::from_utf8(bytes).map_err(|_| ManifestError::Parse {
            path: path.clone(),
            line: 0,
            reason: "not UTF-8".into(),
        })?;
        Self::parse(dir, name, &text)
    }

    /// Like [`Manifest::load`], but a missing manifest gives `Ok(None)`.
    pub fn load_if_exists(
        dir: impl Into<PathBuf>,
        name: &str,
    ) -> Result<Option<Manifest>, ManifestError> {
        match Self::load(dir, name) {
            Ok(m) => Ok(Some(m)),
            Err(ManifestError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// [`Manifest::load`], or an empty manifest (see [`Manifest::new`]) if there is none yet.
    pub fn load_or_new(dir: impl Into<PathBuf>, name: &str) -> Result<Manifest, ManifestError> {
        let dir = dir.into();
        match Self::load_if_exists(&dir, name)? {
            Some(m) => Ok(m),
            None => Self::new(dir, name),
        }
    }

    /// Parses manifest text (pure; `dir` is only recorded).
    pub fn parse(
        dir: impl Into<PathBuf>,
        name: &str,
        text: &str,
    ) -> Result<Manifest, ManifestError> {
        let mut m = Manifest::new(dir, name)?;
        let path = m.manifest_path();
        let err = |line: usize, reason: String| ManifestError::Parse {
            path: path.clone(),
            line,
            reason,
        };
        for (i, raw) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let tokens: Vec<&str> = line.split_ascii_whitespace().collect();
            let pairs = tokens.chunks_exact(2);
            if !pairs.remainder().is_empty() {
                return Err(err(line_no, "expected `key value` pairs".into()));
            }
            let (mut file, mut seq, mut kind) = (None, None, None);
            for pair in pairs {
                match pair[0] {
                    "file" => file = Some(pair[1]),
                    "seq" => {
                        seq = Some(
                            pair[1]
                                .parse::<u64>()
                                .map_err(|_| err(line_no, format!("invalid seq {:?}", pair[1])))?,
                        )
                    }
                    "type" => {
                        kind = Some(AofFileKind::from_code(pair[1]).ok_or_else(|| {
                            err(line_no, format!("unknown file type {:?}", pair[1]))
                        })?)
                    }
                    // Unknown keys are for newer writers; ignore them.
                    _ => {}
                }
            }
            let (Some(file), Some(seq), Some(kind)) = (file, seq, kind) else {
                return Err(err(line_no, "a line needs `file`, `seq` and `type`".into()));
            };
            if !valid_file_name(file) {
                return Err(err(line_no, format!("invalid file name {file:?}")));
            }
            let info = AofFileInfo {
                file: file.to_string(),
                seq,
                kind,
            };
            if [&m.base]
                .into_iter()
                .flatten()
                .chain(&m.incrs)
                .chain(&m.history)
                .any(|f| f.file == info.file)
            {
                return Err(err(line_no, format!("file {file} listed twice")));
            }
            match kind {
                AofFileKind::Base => {
                    if m.base.is_some() {
                        return Err(err(line_no, "more than one base file".into()));
                    }
                    m.base_seq = m.base_seq.max(seq);
                    m.base = Some(info);
                }
                AofFileKind::Incr => {
                    if m.incrs.last().is_some_and(|last| seq <= last.seq) {
                        return Err(err(
                            line_no,
                            format!("incr file sequence numbers must increase ({seq})"),
                        ));
                    }
                    m.incr_seq = m.incr_seq.max(seq);
                    m.incrs.push(info);
                }
                AofFileKind::History => {
                    if info.file.ends_with(BASE_SUFFIX) {
                        m.base_seq = m.base_seq.max(seq);
                    } else if info.file.ends_with(INCR_SUFFIX) {
                        m.incr_seq = m.incr_seq.max(seq);
                    }
                    m.history.push(info);
                }
            }
        }
        Ok(m)
    }

    /// The manifest text, one line per file: base, incr files in order, then history.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for f in self.base.iter().chain(&self.incrs).chain(&self.history) {
            out.push_str(&format!(
                "file {} seq {} type {}\n",
                f.file,
                f.seq,
                f.kind.code()
            ));
        }
        out
    }

    /// Writes the manifest crash-safely (creating the directory if needed).
    pub fn save(&self) -> Result<(), ManifestError> {
        self.ensure_dir()?;
        let path = self.manifest_path();
        let text = self.to_text();
        write_atomically(&path, |f| f.write_all(text.as_bytes())).map_err(io_err(&path))
    }

    fn ensure_dir(&self) -> Result<(), ManifestError> {
        if !self.dir.is_dir() {
            fs::create_dir_all(&self.dir).map_err(io_err(&self.dir))?;
            if let Some(parent) = self.dir.parent() {
                let parent = if parent.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    parent
                };
                fsync_dir(parent).map_err(io_err(parent))?;
            }
        }
        Ok(())
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `appendfilename`.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn manifest_path(&self) -> PathBuf {
        Self::manifest_path_for(&self.dir, &self.name)
    }

    pub fn base(&self) -> Option<&AofFileInfo> {
        self.base.as_ref()
    }

    pub fn incrs(&self) -> &[AofFileInfo] {
        &self.incrs
    }

    pub fn history(&self) -> &[AofFileInfo] {
        &self.history
    }

    /// Full path of a listed file.
    pub fn path_of(&self, info: &AofFileInfo) -> PathBuf {
        self.dir.join(&info.file)
    }

    /// The files start-up loads, in order: the base (if any), then every incr file.
    pub fn load_order(&self) -> Vec<&AofFileInfo> {
        self.base.iter().chain(&self.incrs).collect()
    }

    /// The incr file the writer appends to (the last one), if any.
    pub fn current_incr(&self) -> Option<PathBuf> {
        self.incrs.last().map(|f| self.path_of(f))
    }

    fn base_name(&self, seq: u64) -> String {
        format!("{}.{seq}{BASE_SUFFIX}", self.name)
    }

    fn incr_name(&self, seq: u64) -> String {
        format!("{}.{seq}{INCR_SUFFIX}", self.name)
    }

    /// Creates a new empty incr file after the existing ones, lists it, saves the manifest, and
    /// returns its path: the writer appends there from now on (Redis openNewIncrAofForAppend).
    /// Used at first start-up with AOF on and by [`Manifest::start_rewrite`].
    pub fn open_new_incr(&mut self) -> Result<PathBuf, ManifestError> {
        self.ensure_dir()?;
        let seq = self.incr_seq + 1;
        let file = self.incr_name(seq);
        let path = self.dir.join(&file);
        let f = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .map_err(io_err(&path))?;
        f.sync_all().map_err(io_err(&path))?;
        fsync_dir(&self.dir).map_err(io_err(&self.dir))?;
        let info = AofFileInfo {
            file,
            seq,
            kind: AofFileKind::Incr,
        };
        self.incrs.push(info);
        let saved = self.save();
        if let Err(e) = saved {
            // Not listed on disk: forget it in memory too, so the two stay equal.
            self.incrs.pop();
            let _ = fs::remove_file(&path);
            return Err(e);
        }
        self.incr_seq = seq;
        Ok(path)
    }

    /// Step 1 of a rewrite (module docs): opens and lists a new incr file and names the base
    /// file to write. If a rewrite fails, nothing needs undoing: the new incr file simply stays
    /// in the list, and a later rewrite plans a fresh base.
    pub fn start_rewrite(&mut self) -> Result<RewritePlan, ManifestError> {
        let incr_path = self.open_new_incr()?;
        let base_seq = self.base_seq + 1;
        let base_file = self.base_name(base_seq);
        Ok(RewritePlan {
            incr_path,
            incr_seq: self.incr_seq,
            base_path: self.dir.join(&base_file),
            base_file,
            base_seq,
        })
    }

    /// Step 3 of a rewrite: the new base at `plan.base_path` is complete (written and fsynced).
    /// Makes it the base, turns the old base and every incr file before `plan`'s into history,
    /// and saves. The superseded files stay on disk, listed as history (never loaded), and their
    /// paths are returned, for the caller to delete at its own pace before calling
    /// [`Manifest::delete_history`] (or to call it at once). (Deleting a big file at once can
    /// stall a whole VM while its disk discards the blocks.)
    pub fn finish_rewrite_keeping_history(
        &mut self,
        plan: &RewritePlan,
    ) -> Result<Vec<PathBuf>, ManifestError> {
        if plan.base_seq <= self.base_seq {
            return Err(ManifestError::Rewrite(format!(
                "base seq {} is stale (current {})",
                plan.base_seq, self.base_seq
            )));
        }
        if !self.incrs.iter().any(|f| f.seq == plan.incr_seq) {
            return Err(ManifestError::Rewrite(format!(
                "incr file seq {} is not listed",
                plan.incr_seq
            )));
        }
        match fs::metadata(&plan.base_path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(ManifestError::Rewrite(format!(
                    "{} is not a file",
                    plan.base_path.display()
                )))
            }
            Err(source) => {
                return Err(ManifestError::Io {
                    path: plan.base_path.clone(),
                    source,
                })
            }
        }
        let before = self.clone();
        if let Some(mut old) = self.base.take() {
            old.kind = AofFileKind::History;
            self.history.push(old);
        }
        let (old_incrs, keep): (Vec<_>, Vec<_>) = std::mem::take(&mut self.incrs)
            .into_iter()
            .partition(|f| f.seq < plan.incr_seq);
        self.incrs = keep;
        self.history.extend(old_incrs.into_iter().map(|mut f| {
            f.kind = AofFileKind::History;
            f
        }));
        self.base = Some(AofFileInfo {
            file: plan.base_file.clone(),
            seq: plan.base_seq,
            kind: AofFileKind::Base,
        });
        self.base_seq = plan.base_seq;
        if let Err(e) = self.save() {
            *self = before;
            return Err(e);
        }
        Ok(self.history.iter().map(|f| self.path_of(f)).collect())
    }

    /// Deletes every history file and saves the manifest without them (files that cannot be
    /// deleted stay listed). Call after start-up recovery to finish an interrupted cleanup.
    pub fn delete_history(&mut self) -> Result<RewriteOutcome, ManifestError> {
        let mut outcome = RewriteOutcome::default();
        if self.history.is_empty() {
            return Ok(outcome);
        }
        let mut kept = Vec::new();
        for f in std::mem::take(&mut self.history) {
            let path = self.path_of(&f);
            match fs::remove_file(&path) {
                Ok(()) => outcome.deleted.push(path),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    outcome.kept.push((path, e.to_string()));
                    kept.push(f);
                }
            }
        }
        self.history = kept;
        fsync_dir(&self.dir).map_err(io_err(&self.dir))?;
        self.save()?;
        Ok(outcome)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_redis_format_and_round_trips() {
        let text = "file appendonly.aof.2.base.snap seq 2 type b\n\
                    # a comment\n\
                    \n\
                    file appendonly.aof.3.incr.aof seq 3 type i future-key x\n\
                    type i seq 4 file appendonly.aof.4.incr.aof\n\
                    file appendonly.aof.1.base.snap seq 1 type h\n";
        let m = Manifest::parse("/d", "appendonly.aof", text).unwrap();
        assert_eq!(m.base().unwrap().file, "appendonly.aof.2.base.snap");
        assert_eq!(m.incrs().len(), 2);
        assert_eq!(m.history().len(), 1);
        assert_eq!(m.load_order().len(), 3);
        assert_eq!(
            m.current_incr(),
            Some(PathBuf::from("/d/appendonly.aof.4.incr.aof"))
        );
        let again = Manifest::parse("/d", "appendonly.aof", &m.to_text()).unwrap();
        assert_eq!(again, m);
        assert!(m
            .to_text()
            .starts_with("file appendonly.aof.2.base.snap seq 2 type b\n"));
    }

    #[test]
    fn rejects_invalid_manifests() {
        for (text, what) in [
            (
                "file a seq 1 type b\nfile b seq 2 type b\n",
                "more than one base",
            ),
            (
                "file a seq 2 type i\nfile b seq 2 type i\n",
                "must increase",
            ),
            ("file a seq 1 type x\n", "unknown file type"),
            ("file a seq one type i\n", "invalid seq"),
            ("file a seq 1\n", "needs"),
            ("file a seq 1 type\n", "pairs"),
            ("file ../etc/passwd seq 1 type h\n", "invalid file name"),
            ("file a seq 1 type i\nfile a seq 2 type i\n", "twice"),
        ] {
            let err = Manifest::parse("/d", "n", text).unwrap_err().to_string();
            assert!(err.contains(what), "{text:?}: {err}");
            assert!(err.contains("n.manifest:"), "{err}");
        }
        for bad in ["", "a/b", "a b", "..", "x\"y"] {
            assert!(matches!(
                Manifest::new("/d", bad),
                Err(ManifestError::InvalidName(_))
            ));
        }
    }

    #[test]
    fn rewrite_cycle_on_disk() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("appendonlydir");
        assert!(Manifest::load_if_exists(&dir, "appendonly.aof")
            .unwrap()
            .is_none());
        let mut m = Manifest::new(&dir, "appendonly.aof").unwrap();
        assert_eq!(Manifest::load_or_new(&dir, "appendonly.aof").unwrap(), m);
        let first = m.open_new_incr().unwrap();
        assert_eq!(first, dir.join("appendonly.aof.1.incr.aof"));
        fs::write(&first, b"*1\r\n$4\r\nPING\r\n").unwrap();
        assert_eq!(Manifest::load(&dir, "appendonly.aof").unwrap(), m);
        assert_eq!(Manifest::load_or_new(&dir, "appendonly.aof").unwrap(), m);

        let plan = m.start_rewrite().unwrap();
        assert_eq!(plan.incr_path, dir.join("appendonly.aof.2.incr.aof"));
        assert_eq!(plan.base_path, dir.join("appendonly.aof.1.base.snap"));
        assert!(plan.incr_path.exists());
        // Before finishing, the manifest on disk lists both incr files and no base.
        let mid = Manifest::load(&dir, "appendonly.aof").unwrap();
        assert_eq!(mid.incrs().len(), 2);
        assert!(mid.base().is_none());
        // Finishing without the base file is refused and changes nothing.
        assert!(m.clone().finish_rewrite_keeping_history(&plan).is_err());
        fs::write(&plan.base_path, b"base").unwrap();
        m.finish_rewrite_keeping_history(&plan).unwrap();
        let outcome = m.delete_history().unwrap();
        assert_eq!(outcome.deleted, vec![first.clone()]);
        assert!(!first.exists());
        let after = Manifest::load(&dir, "appendonly.aof").unwrap();
        assert_eq!(after, m);
        assert_eq!(after.base().unwrap().seq, 1);
        assert_eq!(after.incrs().len(), 1);
        assert_eq!(after.incrs()[0].seq, 2);
        assert!(after.history().is_empty());
        // A stale plan cannot be finished twice.
        assert!(m.finish_rewrite_keeping_history(&plan).is_err());

        // Second cycle: the old base goes to history and is deleted.
        let plan2 = m.start_rewrite().unwrap();
        assert_eq!(plan2.base_seq, 2);
        assert_eq!(plan2.incr_seq, 3);
        fs::write(&plan2.base_path, b"base2").unwrap();
        m.finish_rewrite_keeping_history(&plan2).unwrap();
        let outcome = m.delete_history().unwrap();
        assert_eq!(outcome.deleted.len(), 2);
        assert!(!plan.base_path.exists());
        assert!(!plan.incr_path.exists());
        let reloaded = Manifest::load(&dir, "appendonly.aof").unwrap();
        assert_eq!(reloaded.base().unwrap().file, "appendonly.aof.2.base.snap");
        assert_eq!(reloaded.incrs()[0].file, "appendonly.aof.3.incr.aof");

        // Third cycle, keeping the superseded files: listed as history (saved), still on disk,
        // returned for the caller to delete; delete_history finishes the job.
        let plan3 = m.start_rewrite().unwrap();
        fs::write(&plan3.base_path, b"base3").unwrap();
        let kept = m.finish_rewrite_keeping_history(&plan3).unwrap();
        assert_eq!(kept, vec![plan2.base_path.clone(), plan2.incr_path.clone()]);
        assert!(kept.iter().all(|p| p.exists()));
        let saved = Manifest::load(&dir, "appendonly.aof").unwrap();
        assert_eq!(saved.history().len(), 2);
        assert_eq!(saved.base().unwrap().seq, 3);
        assert_eq!(saved.load_order().len(), 2);
        let outcome = m.delete_history().unwrap();
        assert_eq!(outcome.deleted, kept);
        assert!(Manifest::load(&dir, "appendonly.aof")
            .unwrap()
            .history()
            .is_empty());
    }

    #[test]
    fn interrupted_cleanup_is_finished_by_delete_history() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        fs::write(dir.join("a.1.base.snap"), b"x").unwrap();
        fs::write(dir.join("a.2.base.snap"), b"x").unwrap();
        fs::write(dir.join("a.3.incr.aof"), b"").unwrap();
        let text = "file a.2.base.snap seq 2 type b\nfile a.3.incr.aof seq 3 type i\n\
                    file a.1.base.snap seq 1 type h\nfile a.1.incr.aof seq 1 type h\n";
        fs::write(dir.join("a.manifest"), text).unwrap();
        let mut m = Manifest::load(dir, "a").unwrap();
        assert_eq!(m.history().len(), 2);
        let outcome = m.delete_history().unwrap();
        // The missing history file is simply forgotten.
        assert_eq!(outcome.deleted, vec![dir.join("a.1.base.snap")]);
        assert!(Manifest::load(dir, "a").unwrap().history().is_empty());
        // Seqs continue after the highest ever listed.
        let plan = m.start_rewrite().unwrap();
        assert_eq!((plan.base_seq, plan.incr_seq), (3, 4));
    }
}
