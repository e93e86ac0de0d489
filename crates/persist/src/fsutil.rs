//! Crash-safe file replacement: write a temporary sibling, fsync it, rename it over the target,
//! fsync the directory.
//!
//! Why each step: the rename is atomic, so readers see either the old file or the complete new
//! one, never a half-written file in place; the file fsync before the rename makes sure the data
//! the new name points to is on disk (otherwise a crash could leave a renamed but empty or partial
//! file on some file systems); the directory fsync makes the rename itself durable. If anything
//! fails, the temporary file is removed and the target is untouched.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// Suffix of the temporary sibling a file is written to before being renamed into place.
pub const TEMP_SUFFIX: &str = ".tmp";

/// `path` with [`TEMP_SUFFIX`] appended to its file name (`dump.snap` -> `dump.snap.tmp`).
pub fn temp_path(path: &Path) -> PathBuf {
    let mut name = OsString::from(path.as_os_str());
    name.push(TEMP_SUFFIX);
    PathBuf::from(name)
}

/// The directory holding `path` ("." for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Makes directory entries (creations, renames, removals) in `dir` durable.
pub fn fsync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Directories cannot be opened for syncing on every platform; renames are durable
        // enough there.
        let _ = dir;
        Ok(())
    }
}

/// Writes a file through `fill` and atomically puts it in place of `path` (see the module docs).
/// Returns what `fill` returned.
pub fn write_atomically<T>(
    path: &Path,
    fill: impl FnOnce(&mut File) -> io::Result<T>,
) -> io::Result<T> {
    let tmp = temp_path(path);
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)?;
        let value = fill(&mut file)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&tmp, path)?;
        fsync_dir(parent_dir(path))?;
        Ok(value)
    })();
    if result.is_err() {
        // Best effort: the error being returned is the one that matters.
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Truncates `path` to `len` bytes and fsyncs it (repairing a torn AOF tail).
pub fn truncate_file(path: &Path, len: u64) -> io::Result<()> {
    let file = OpenOptions::new().write(true).open(path)?;
    file.set_len(len)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn replaces_atomically_and_cleans_up_on_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        fs::write(&path, b"old").unwrap();
        let err = write_atomically(&path, |f| {
            f.write_all(b"partial")?;
            Err::<(), _>(io::Error::other("boom"))
        });
        assert!(err.is_err());
        assert_eq!(fs::read(&path).unwrap(), b"old");
        assert!(!temp_path(&path).exists());
        write_atomically(&path, |f| f.write_all(b"new")).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(!temp_path(&path).exists());
        truncate_file(&path, 1).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"n");
        assert_eq!(
            temp_path(Path::new("a/b.snap")),
            PathBuf::from("a/b.snap.tmp")
        );
        assert_eq!(parent_dir(Path::new("x")), Path::new("."));
    }
}
