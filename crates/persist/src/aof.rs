//! The append-only log format: plain RESP multibulk commands, exactly as Redis 7 writes its AOF
//! (and its incremental `.incr.aof` files), so the files are human-readable and
//! `redis-check-aof` habits carry over.
//!
//! ```text
//! *2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n                  emitted whenever the database changes
//! *3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n
//! #TS:1700000000\r\n                                  annotation lines starting with '#' are skipped
//! ```
//!
//! - [`AofEncoder`] appends commands to the caller's buffer and emits `SELECT` when the database
//!   differs from the previous command's (and before the first command of every new file).
//! - [`rewrite_for_log`] turns commands with relative expiries into absolute ones before they are
//!   logged, because replaying `EXPIRE k 10` an hour later would extend the key's life. Redis 7
//!   does the same rewrites when it propagates commands.
//! - [`AofReader`] parses a log back one command at a time with the server's own
//!   [`RequestParser`], in bounded chunks (memory is one command plus one read chunk, whatever the
//!   file size). It distinguishes a torn tail (the process died mid-write: the last command is
//!   incomplete, reported as [`AofError::Truncated`] with the length of the valid prefix) from
//!   corruption (a protocol error before end of file: [`AofError::Corrupt`] with the offset).
//!
//! Preallocated space: under `appendfsync always` the live log keeps a run of zero bytes after its
//! end (space written ahead of time, so that each fsync rewrites blocks the file already has
//! instead of growing it; see `commands::aof`). A command starts with `*` and ends with `\n`, so
//! the log's data ends at its last non-zero byte: [`log_len`] finds it and [`AofReader::open`]
//! reads only that far.
//!
//! Invariants: the reader never yields a partial command; every yielded command is followed by
//! its `end` offset, so `end` of the last good command is always a safe truncation point; the
//! reader never panics on any bytes.

use ringkv_protocol::num::parse_i64;
use ringkv_protocol::{Args, OwnedArgs, ParseLimits, RequestParser};
use std::fs::File;
use std::io::{self, ErrorKind, Read};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// Bytes read from the file per read call (grown up to [`MAX_READ_CHUNK_BYTES`] while a large
/// argument is being read).
pub const READ_CHUNK_BYTES: usize = 64 * 1024;
/// Upper bound of one read call, so a corrupted huge length never makes us allocate ahead of data.
pub const MAX_READ_CHUNK_BYTES: usize = 8 * 1024 * 1024;
/// Longest accepted annotation line (`#...\n`), like Redis's AOF_ANNOTATION_LINE_MAX_LEN.
pub const ANNOTATION_MAX_BYTES: usize = 1024;
/// After a big command, a read buffer with more capacity than this is shrunk back.
const BUFFER_KEEP_BYTES: usize = 4 * MAX_READ_CHUNK_BYTES;

/// The log's encoding is the engine's operation log encoding (one definition for both the live
/// writer and the rewrite/test tooling).
pub use ringkv_engine::oplog::{encode_command, CommandEncoder as AofEncoder};

fn is(arg: &[u8], name: &str) -> bool {
    arg.eq_ignore_ascii_case(name.as_bytes())
}

fn int(arg: &[u8]) -> Option<i64> {
    parse_i64(arg)
}

fn ms_arg(v: i64) -> Vec<u8> {
    let mut out = Vec::with_capacity(20);
    ringkv_protocol::num::write_i64(&mut out, v);
    out
}

/// Rewrites a command whose expiry is relative (or in seconds) into its absolute-milliseconds
/// form, given the time it executed (`now_ms`), so replaying the log later reproduces the same
/// deadline. Returns `None` when the command should be logged as it is (including commands that
/// would have failed: they are not logged at all).
///
/// | executed                               | logged                           |
/// |----------------------------------------|----------------------------------|
/// | `EXPIRE k s [NX/XX/GT/LT]`             | `PEXPIREAT k now+s*1000 [flags]` |
/// | `PEXPIRE k ms [flags]`                 | `PEXPIREAT k now+ms [flags]`     |
/// | `EXPIREAT k unix_s [flags]`            | `PEXPIREAT k unix_s*1000 [flags]`|
/// | `SETEX k s v`                          | `SET k v PXAT now+s*1000`        |
/// | `PSETEX k ms v`                        | `SET k v PXAT now+ms`            |
/// | `SET k v [NX/XX] [GET] EX s / PX ms / EXAT unix_s` | `SET k v PXAT at`    |
/// | `GETEX k EX s / PX ms / EXAT unix_s / PXAT ms`     | `PEXPIREAT k at`     |
/// | `GETEX k PERSIST`                      | `PERSIST k`                      |
///
/// As in Redis, the rewritten SET drops NX/XX/GET: it is only logged when it did write, and then
/// the plain write is what replay must do. The caller logs only commands that changed the data.
pub fn rewrite_for_log(args: Args<'_>, now_ms: i64) -> Option<OwnedArgs> {
    let name = args.get(0)?;
    if is(name, "EXPIRE") {
        expire_to_pexpireat(args, now_ms, 1000)
    } else if is(name, "PEXPIRE") {
        expire_to_pexpireat(args, now_ms, 1)
    } else if is(name, "EXPIREAT") {
        expire_to_pexpireat(args, 0, 1000)
    } else if is(name, "SETEX") || is(name, "PSETEX") {
        if args.len() != 4 {
            return None;
        }
        let unit = if is(name, "SETEX") { 1000 } else { 1 };
        let at = deadline(args.get(2)?, now_ms, unit)?;
        Some(set_pxat(args.get(1)?, args.get(3)?, at))
    } else if is(name, "SET") {
        let (kind, value) = find_expire_option(args, 3)?;
        let at = match kind {
            ExpireOpt::Ex => deadline(value, now_ms, 1000)?,
            ExpireOpt::Px => deadline(value, now_ms, 1)?,
            ExpireOpt::ExAt => deadline(value, 0, 1000)?,
            // Already absolute milliseconds.
            ExpireOpt::PxAt | ExpireOpt::Persist => return None,
        };
        Some(set_pxat(args.get(1)?, args.get(2)?, at))
    } else if is(name, "GETEX") {
        let key = args.get(1)?;
        let (kind, value) = find_expire_option(args, 2)?;
        let at = match kind {
            ExpireOpt::Ex => deadline(value, now_ms, 1000)?,
            ExpireOpt::Px => deadline(value, now_ms, 1)?,
            ExpireOpt::ExAt => deadline(value, 0, 1000)?,
            ExpireOpt::PxAt => deadline(value, 0, 1)?,
            ExpireOpt::Persist => return Some(OwnedArgs::from_slices([&b"PERSIST"[..], key])),
        };
        Some(OwnedArgs::from_slices([
            &b"PEXPIREAT"[..],
            key,
            &ms_arg(at),
        ]))
    } else if is(name, "RESTORE") {
        // A relative TTL becomes absolute (ABSTTL); 0 means no TTL and stays as it is.
        if args.len() < 4 || args.iter().skip(4).any(|a| is(a, "ABSTTL")) {
            return None;
        }
        let at = deadline(args.get(2)?, now_ms, 1)?;
        let ms = ms_arg(at);
        let mut parts: Vec<&[u8]> = args.iter().collect();
        parts[2] = &ms;
        parts.push(b"ABSTTL");
        Some(OwnedArgs::from_slices(parts))
    } else {
        None
    }
}

/// `base + v * unit`, positive, without overflow (SET/GETEX reject anything else).
fn deadline(v: &[u8], base: i64, unit: i64) -> Option<i64> {
    let v = int(v)?;
    if v <= 0 {
        return None;
    }
    let at = v.checked_mul(unit)?.checked_add(base)?;
    (at > 0).then_some(at)
}

fn set_pxat(key: &[u8], value: &[u8], at: i64) -> OwnedArgs {
    OwnedArgs::from_slices([&b"SET"[..], key, value, b"PXAT", &ms_arg(at)])
}

/// EXPIRE-family: negative or past deadlines are allowed (they delete the key, and replaying the
/// PEXPIREAT deletes it too); only overflow makes the command fail.
fn expire_to_pexpireat(args: Args<'_>, base: i64, unit: i64) -> Option<OwnedArgs> {
    if args.len() < 3 {
        return None;
    }
    let when = int(args.get(2)?)?.checked_mul(unit)?.checked_add(base)?;
    let mut out = OwnedArgs::new();
    out.push(b"PEXPIREAT");
    out.push(args.get(1)?);
    out.push(&ms_arg(when));
    for flag in args.iter().skip(3) {
        out.push(flag);
    }
    Some(out)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ExpireOpt {
    Ex,
    Px,
    ExAt,
    PxAt,
    Persist,
}

/// The first expiry option at or after argument `from` and its value (empty for PERSIST).
fn find_expire_option<'a>(args: Args<'a>, from: usize) -> Option<(ExpireOpt, &'a [u8])> {
    let mut j = from;
    while let Some(opt) = args.get(j) {
        let kind = if is(opt, "EX") {
            ExpireOpt::Ex
        } else if is(opt, "PX") {
            ExpireOpt::Px
        } else if is(opt, "EXAT") {
            ExpireOpt::ExAt
        } else if is(opt, "PXAT") {
            ExpireOpt::PxAt
        } else if is(opt, "PERSIST") {
            return Some((ExpireOpt::Persist, &[]));
        } else {
            j += 1;
            continue;
        };
        return Some((kind, args.get(j + 1)?));
    }
    None
}

/// Why a log could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum AofError {
    #[error("{}: I/O error at offset {offset}: {source}", file.display())]
    Io {
        file: PathBuf,
        offset: u64,
        #[source]
        source: io::Error,
    },
    /// The file ends inside a command: the first `valid_len` bytes are whole commands. A crash
    /// during a write leaves this; with `aof-load-truncated yes` the loader truncates the file to
    /// `valid_len` and continues.
    #[error("{}: unexpected end of file: the command at offset {valid_len} is incomplete (the first {valid_len} of {file_len} bytes are valid)", file.display())]
    Truncated {
        file: PathBuf,
        valid_len: u64,
        file_len: u64,
    },
    /// Bytes that are not a valid command before the end of the file.
    #[error("{}: bad file format at offset {offset}: {reason}", file.display())]
    Corrupt {
        file: PathBuf,
        offset: u64,
        reason: String,
    },
}

impl AofError {
    /// The file offset the error refers to (the valid prefix length for `Truncated`).
    pub fn offset(&self) -> u64 {
        match self {
            AofError::Io { offset, .. } | AofError::Corrupt { offset, .. } => *offset,
            AofError::Truncated { valid_len, .. } => *valid_len,
        }
    }
}

/// One command read from a log, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct AofArgs<'a> {
    pub args: Args<'a>,
    /// File offset of the command's first byte.
    pub start: u64,
    /// File offset just past the command (a safe truncation point).
    pub end: u64,
}

/// One command read from a log, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AofCommand {
    pub args: OwnedArgs,
    pub start: u64,
    pub end: u64,
}

/// Reads a RESP log command by command (see the module docs).
pub struct AofReader<R: Read> {
    src: R,
    file: PathBuf,
    buf: Vec<u8>,
    /// First unconsumed byte of `buf`.
    start: usize,
    /// File offset of `buf[0]`.
    base: u64,
    parser: RequestParser,
    eof: bool,
    failed: bool,
}

impl AofReader<io::Take<File>> {
    /// Opens the log at `path`, up to the end of its data (its preallocated zeros are not read).
    pub fn open(path: &Path) -> Result<Self, AofError> {
        let io_error = |source| AofError::Io {
            file: path.to_path_buf(),
            offset: 0,
            source,
        };
        let file = File::open(path).map_err(io_error)?;
        let len = log_len(&file).map_err(io_error)?;
        Ok(AofReader::new(file.take(len), path))
    }
}

/// How far back [`log_len`] reads at a time.
const TAIL_SCAN_BYTES: u64 = 64 * 1024;

/// The length of a log's data: the file's length without the run of zero bytes at its end
/// (preallocated space; the module docs say why that is never data). Reads the file backwards
/// from its end, one block at a time, up to the last non-zero byte: as much as the zeros, which
/// the writer keeps to about one `aof-preallocate` step.
pub fn log_len(file: &File) -> io::Result<u64> {
    let mut end = file.metadata()?.len();
    let mut block = vec![0u8; TAIL_SCAN_BYTES as usize];
    while end > 0 {
        let start = end.saturating_sub(TAIL_SCAN_BYTES);
        let chunk = &mut block[..(end - start) as usize];
        file.read_exact_at(chunk, start)?;
        match chunk.iter().rposition(|&b| b != 0) {
            Some(i) => return Ok(start + i as u64 + 1),
            None => end = start,
        }
    }
    Ok(0)
}

/// [`log_len`] of the file at `path`.
pub fn log_len_of(path: &Path) -> io::Result<u64> {
    log_len(&File::open(path)?)
}

impl<R: Read> AofReader<R> {
    /// Reads from `src`; `name` is used in error messages.
    pub fn new(src: R, name: impl Into<PathBuf>) -> Self {
        // Declared lengths never drive allocation (the parser only compares them, and we only
        // read what the file has), so the log may hold arguments of any size.
        let limits = ParseLimits {
            max_bulk_len: i64::MAX as u64,
            max_multibulk_len: i64::MAX as u64,
            authenticated: true,
        };
        AofReader {
            src,
            file: name.into(),
            buf: Vec::new(),
            start: 0,
            base: 0,
            parser: RequestParser::new(limits),
            eof: false,
            failed: false,
        }
    }

    /// The file name used in errors.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// End offset of the last command returned: the length of the valid prefix read so far.
    pub fn offset(&self) -> u64 {
        self.base + self.start as u64
    }

    /// The next command, borrowed; `Ok(None)` at a clean end of file (after a whole command).
    pub fn next_args(&mut self) -> Result<Option<AofArgs<'_>>, AofError> {
        let Some(at) = self.advance()? else {
            return Ok(None);
        };
        let start = self.base + at as u64;
        let end = self.offset();
        let args = self.parser.args(&self.buf[at..]);
        Ok(Some(AofArgs { args, start, end }))
    }

    /// The next command, owned.
    pub fn next_command(&mut self) -> Result<Option<AofCommand>, AofError> {
        Ok(self.next_args()?.map(|a| AofCommand {
            args: a.args.to_owned_args(),
            start: a.start,
            end: a.end,
        }))
    }

    fn corrupt(&mut self, reason: String) -> AofError {
        self.failed = true;
        AofError::Corrupt {
            file: self.file.clone(),
            offset: self.offset(),
            reason,
        }
    }

    fn truncated(&mut self) -> AofError {
        self.failed = true;
        AofError::Truncated {
            file: self.file.clone(),
            valid_len: self.offset(),
            file_len: self.base + self.buf.len() as u64,
        }
    }

    /// Parses the next whole command; returns its position in `buf` (`self.start` is past it).
    fn advance(&mut self) -> Result<Option<usize>, AofError> {
        if self.failed {
            return Err(self.corrupt("the reader stopped at an earlier error".into()));
        }
        loop {
            if self.start == self.buf.len() {
                if self.eof {
                    return Ok(None);
                }
                self.fill()?;
                continue;
            }
            let first = self.buf[self.start];
            if first == b'#' {
                // Annotation line (Redis writes "#TS:<unix>" ones): skipped whole.
                let line = &self.buf[self.start..];
                match line.iter().position(|&b| b == b'\n') {
                    Some(i) if i < ANNOTATION_MAX_BYTES => {
                        self.start += i + 1;
                        continue;
                    }
                    Some(_) => return Err(self.corrupt("annotation line too long".into())),
                    None if line.len() >= ANNOTATION_MAX_BYTES => {
                        return Err(self.corrupt("annotation line too long".into()))
                    }
                    None if self.eof => return Err(self.truncated()),
                    None => {
                        self.fill()?;
                        continue;
                    }
                }
            }
            if first != b'*' {
                return Err(self.corrupt(format!(
                    "expected '*' starting a command, found byte {:?}",
                    char::from(first)
                )));
            }
            match self.parser.parse(&self.buf[self.start..]) {
                Err(e) => return Err(self.corrupt(e.message().to_string())),
                Ok(None) if self.eof => return Err(self.truncated()),
                Ok(None) => self.fill()?,
                Ok(Some(n)) => {
                    let at = self.start;
                    if let Some(reason) = self.check_command(at) {
                        return Err(self.corrupt(reason));
                    }
                    self.start += n;
                    return Ok(Some(at));
                }
            }
        }
    }

    /// Checks what the parser does not: a command has arguments, and every argument is followed
    /// by CRLF (the parser skips those two bytes unchecked, like Redis).
    fn check_command(&self, at: usize) -> Option<String> {
        let slice = &self.buf[at..];
        let args = self.parser.args(slice);
        if args.is_empty() {
            return Some("empty command".into());
        }
        // The spans are into `slice`; recover them from the argument pointers' offsets.
        let base_ptr = slice.as_ptr() as usize;
        for arg in args.iter() {
            let end = arg.as_ptr() as usize - base_ptr + arg.len();
            if slice.get(end..end + 2) != Some(&b"\r\n"[..]) {
                return Some("argument not terminated by CRLF".into());
            }
        }
        None
    }

    /// Reads more bytes, first dropping consumed ones.
    fn fill(&mut self) -> Result<(), AofError> {
        if self.start > 0 && self.start * 2 >= self.buf.len() {
            self.buf.drain(..self.start);
            self.base += self.start as u64;
            self.start = 0;
            if self.buf.capacity() > BUFFER_KEEP_BYTES && self.buf.len() < READ_CHUNK_BYTES {
                self.buf.shrink_to(2 * READ_CHUNK_BYTES);
            }
        }
        let chunk = self
            .parser
            .wanted()
            .clamp(READ_CHUNK_BYTES, MAX_READ_CHUNK_BYTES);
        let old = self.buf.len();
        self.buf.resize(old + chunk, 0);
        loop {
            match self.src.read(&mut self.buf[old..]) {
                Ok(n) => {
                    self.buf.truncate(old + n);
                    if n == 0 {
                        self.eof = true;
                    }
                    return Ok(());
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(source) => {
                    self.buf.truncate(old);
                    self.failed = true;
                    return Err(AofError::Io {
                        file: self.file.clone(),
                        offset: self.base + old as u64,
                        source,
                    });
                }
            }
        }
    }
}

impl<R: Read> Iterator for AofReader<R> {
    type Item = Result<AofCommand, AofError>;

    /// Commands, then `None` at a clean end; an error is yielded once, then `None`.
    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        self.next_command().transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cmd(parts: &[&str]) -> OwnedArgs {
        OwnedArgs::from_slices(parts.iter().map(|s| s.as_bytes()))
    }

    fn rw(parts: &[&str], now: i64) -> Option<Vec<String>> {
        let c = cmd(parts);
        rewrite_for_log(c.args(), now).map(|o| {
            o.iter()
                .map(|a| String::from_utf8(a.to_vec()).unwrap())
                .collect()
        })
    }

    fn v(parts: &[&str]) -> Option<Vec<String>> {
        Some(parts.iter().map(|s| s.to_string()).collect())
    }

    #[test]
    fn rewrite_every_relative_expiry_form() {
        let now = 1_700_000_000_000;
        assert_eq!(
            rw(&["EXPIRE", "k", "10"], now),
            v(&["PEXPIREAT", "k", "1700000010000"])
        );
        assert_eq!(
            rw(&["expire", "k", "10", "NX"], now),
            v(&["PEXPIREAT", "k", "1700000010000", "NX"])
        );
        assert_eq!(
            rw(&["EXPIRE", "k", "-1"], now),
            v(&["PEXPIREAT", "k", "1699999999000"])
        );
        assert_eq!(
            rw(&["PEXPIRE", "k", "1500", "GT"], now),
            v(&["PEXPIREAT", "k", "1700000001500", "GT"])
        );
        assert_eq!(
            rw(&["EXPIREAT", "k", "1800000000"], now),
            v(&["PEXPIREAT", "k", "1800000000000"])
        );
        assert_eq!(rw(&["PEXPIREAT", "k", "5"], now), None);
        assert_eq!(
            rw(&["SETEX", "k", "10", "val"], now),
            v(&["SET", "k", "val", "PXAT", "1700000010000"])
        );
        assert_eq!(
            rw(&["psetex", "k", "250", "val"], now),
            v(&["SET", "k", "val", "PXAT", "1700000000250"])
        );
        assert_eq!(
            rw(&["SET", "k", "val", "EX", "10"], now),
            v(&["SET", "k", "val", "PXAT", "1700000010000"])
        );
        assert_eq!(
            rw(&["SET", "k", "val", "NX", "GET", "px", "7"], now),
            v(&["SET", "k", "val", "PXAT", "1700000000007"])
        );
        assert_eq!(
            rw(&["SET", "k", "val", "EXAT", "1800000000", "XX"], now),
            v(&["SET", "k", "val", "PXAT", "1800000000000"])
        );
        assert_eq!(rw(&["SET", "k", "val", "PXAT", "1800000000000"], now), None);
        assert_eq!(rw(&["SET", "k", "val"], now), None);
        assert_eq!(rw(&["SET", "k", "val", "KEEPTTL"], now), None);
        // A value that looks like an option is not one.
        assert_eq!(rw(&["SET", "EX", "PX"], now), None);
        assert_eq!(
            rw(&["GETEX", "k", "EX", "10"], now),
            v(&["PEXPIREAT", "k", "1700000010000"])
        );
        assert_eq!(
            rw(&["GETEX", "k", "PX", "10"], now),
            v(&["PEXPIREAT", "k", "1700000000010"])
        );
        assert_eq!(
            rw(&["GETEX", "k", "EXAT", "1800000000"], now),
            v(&["PEXPIREAT", "k", "1800000000000"])
        );
        assert_eq!(
            rw(&["GETEX", "k", "PXAT", "1800000000001"], now),
            v(&["PEXPIREAT", "k", "1800000000001"])
        );
        assert_eq!(rw(&["getex", "k", "persist"], now), v(&["PERSIST", "k"]));
        assert_eq!(rw(&["GETEX", "k"], now), None);
        assert_eq!(rw(&["GET", "k"], now), None);
        assert_eq!(rw(&["HSET", "h", "EX", "10"], now), None);
        // Commands that fail (and so are never logged) are not rewritten.
        assert_eq!(rw(&["EXPIRE", "k", "abc"], now), None);
        assert_eq!(rw(&["EXPIRE", "k", "9223372036854775807"], now), None);
        assert_eq!(rw(&["EXPIRE", "k"], now), None);
        assert_eq!(rw(&["SETEX", "k", "0", "v"], now), None);
        assert_eq!(rw(&["SETEX", "k", "10"], now), None);
        assert_eq!(rw(&["SET", "k", "v", "EX"], now), None);
        assert_eq!(rw(&["SET", "k", "v", "EX", "-5"], now), None);
        assert_eq!(rw(&["GETEX", "k", "EX", "0"], now), None);
        assert_eq!(rw(&[], now), None);
    }

    #[test]
    fn encoder_selects_db_on_change_and_after_force() {
        let mut e = AofEncoder::new();
        let mut out = Vec::new();
        e.append(&mut out, 0, [&b"SET"[..], b"k", b"v"]);
        e.append(&mut out, 0, [&b"DEL"[..], b"k"]);
        e.append(&mut out, 3, [&b"INCR"[..], b"n"]);
        assert_eq!(
            out,
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
              *2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n\
              *2\r\n$4\r\nINCR\r\n$1\r\nn\r\n"
        );
        assert_eq!(e.selected_db(), Some(3));
        e.force_select();
        let mut out2 = Vec::new();
        let c = cmd(&["PING"]);
        e.append(&mut out2, 3, c.iter());
        assert!(out2.starts_with(b"*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n"));
    }

    #[test]
    fn restore_with_a_relative_ttl_is_logged_absolute() {
        let now = 1_000_000;
        let r = |a: &[&str]| rewrite_for_log(cmd(a).args(), now);
        assert_eq!(
            r(&["RESTORE", "k", "500", "payload", "REPLACE"]),
            Some(cmd(&[
                "RESTORE", "k", "1000500", "payload", "REPLACE", "ABSTTL"
            ]))
        );
        assert_eq!(r(&["RESTORE", "k", "0", "payload"]), None);
        assert_eq!(r(&["RESTORE", "k", "7", "payload", "absttl"]), None);
    }

    #[test]
    fn reader_round_trips_binary_args_and_annotations() {
        let mut log = Vec::new();
        let mut e = AofEncoder::new();
        let big = vec![b'\n'; 300_000];
        e.append(&mut log, 0, [&b"SET"[..], b"a\r\nb", b""]);
        log.extend_from_slice(b"#TS:12345\r\n");
        e.append(&mut log, 1, [&b"SET"[..], b"big", &big]);
        let mut r = AofReader::new(&log[..], "mem");
        let mut got = Vec::new();
        while let Some(c) = r.next_command().unwrap() {
            got.push(c);
        }
        assert_eq!(got.len(), 4);
        assert_eq!(got[0].args, cmd(&["SELECT", "0"]));
        assert_eq!(got[1].args.arg(1), b"a\r\nb");
        assert_eq!(got[1].args.arg(2), b"");
        assert_eq!(got[2].args, cmd(&["SELECT", "1"]));
        assert_eq!(got[3].args.arg(2), &big[..]);
        assert_eq!(got[3].end, log.len() as u64);
        assert_eq!(got[2].start, got[1].end + b"#TS:12345\r\n".len() as u64);
        assert_eq!(r.offset(), log.len() as u64);
    }

    #[test]
    fn corruption_in_the_middle_names_file_and_offset() {
        let mut log = Vec::new();
        encode_command(&mut log, [&b"SET"[..], b"k", b"v"]);
        let good = log.len() as u64;
        log.extend_from_slice(b"*2\r\n$3\r\nDEL\r\n!1\r\nk\r\n");
        encode_command(&mut log, [&b"SET"[..], b"k", b"v"]);
        let mut r = AofReader::new(&log[..], "appendonly.aof.1.incr.aof");
        assert!(r.next_command().unwrap().is_some());
        let err = r.next_command().unwrap_err();
        assert!(matches!(err, AofError::Corrupt { offset, .. } if offset == good));
        let msg = err.to_string();
        assert!(msg.contains("appendonly.aof.1.incr.aof"), "{msg}");
        assert!(msg.contains(&format!("offset {good}")), "{msg}");
        // The reader stays failed.
        assert!(r.next_command().is_err());

        for bad in [
            &b"GARBAGE\r\n"[..],
            b"*0\r\n",
            b"*1\r\n$3\r\nabcXY",
            b"*1\r\n$x\r\n",
        ] {
            let mut r = AofReader::new(bad, "f");
            assert!(
                matches!(r.next_command(), Err(AofError::Corrupt { offset: 0, .. })),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn every_cut_of_a_log_is_a_clean_prefix_or_truncated() {
        let mut log = Vec::new();
        let mut e = AofEncoder::new();
        let mut ends = Vec::new();
        for i in 0..12u32 {
            let key = format!("key:{i}");
            let val = "x".repeat(i as usize * 7);
            e.append(
                &mut log,
                (i % 3) as usize,
                [&b"SET"[..], key.as_bytes(), val.as_bytes()],
            );
            ends.push(log.len() as u64);
            if i == 5 {
                log.extend_from_slice(b"#TS:99\r\n");
                ends.push(log.len() as u64);
            }
        }
        // Boundaries where the file is whole: 0 and after every command or annotation. SELECTs
        // are separate commands, so collect their ends by reading the full log.
        let mut boundaries = vec![0u64];
        let mut r = AofReader::new(&log[..], "full");
        while let Some(c) = r.next_command().unwrap() {
            boundaries.push(c.end);
        }
        boundaries.extend(ends);
        boundaries.sort_unstable();
        boundaries.dedup();
        let full: Vec<AofCommand> = AofReader::new(&log[..], "full")
            .map(|c| c.unwrap())
            .collect();

        for cut in 0..=log.len() {
            let mut r = AofReader::new(&log[..cut], "cut");
            let mut got = Vec::new();
            let outcome = loop {
                match r.next_command() {
                    Ok(Some(c)) => got.push(c),
                    Ok(None) => break None,
                    Err(e) => break Some(e),
                }
            };
            // Never a partial command: everything returned is a prefix of the full log's commands.
            assert_eq!(&full[..got.len()], &got[..], "cut {cut}");
            let last_end = got.last().map_or(0, |c| c.end);
            let expected_valid = *boundaries
                .iter()
                .filter(|&&b| b <= cut as u64)
                .max()
                .unwrap();
            match outcome {
                None => assert!(boundaries.contains(&(cut as u64)), "clean end at {cut}"),
                Some(AofError::Truncated {
                    valid_len,
                    file_len,
                    ..
                }) => {
                    assert_eq!(valid_len, expected_valid, "cut {cut}");
                    assert_eq!(file_len, cut as u64);
                    assert!(valid_len >= last_end);
                }
                Some(other) => panic!("cut {cut}: {other}"),
            }
        }
    }

    #[test]
    fn small_reads_and_huge_declared_length() {
        // A reader that returns one byte at a time must give the same commands.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() || buf.is_empty() {
                    return Ok(0);
                }
                buf[0] = self.0[0];
                self.0 = &self.0[1..];
                Ok(1)
            }
        }
        let mut log = Vec::new();
        let mut e = AofEncoder::new();
        for i in 0..50 {
            e.append(
                &mut log,
                i % 2,
                [&b"RPUSH"[..], b"l", format!("{i}").as_bytes()],
            );
        }
        let a: Vec<_> = AofReader::new(&log[..], "a").map(|c| c.unwrap()).collect();
        let b: Vec<_> = AofReader::new(Trickle(&log), "b")
            .map(|c| c.unwrap())
            .collect();
        assert_eq!(a, b);
        // A declared 2^60-byte argument is just an incomplete command at end of file.
        let bad = b"*2\r\n$3\r\nGET\r\n$1152921504606846976\r\nabc";
        let mut r = AofReader::new(&bad[..], "f");
        assert!(matches!(
            r.next_command(),
            Err(AofError::Truncated { valid_len: 0, .. })
        ));
    }
}
