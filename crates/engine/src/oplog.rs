//! The operation log: the effects of write commands in the order they executed, as RESP
//! commands, ready to be appended to the AOF (and, later, streamed to replicas).
//!
//! It lives in the keyspace because the keyspace lock is what orders writes: appending under the
//! same lock as the change itself makes the log's order the execution order, with no sequence
//! numbers. It is RESP because that is the AOF's format; encoding once here means the writer
//! thread only copies bytes.
//!
//! What is logged (the rules Redis's propagation follows):
//! - a write command that changed something is logged as executed, or as the deterministic
//!   replacement its handler recorded with [`OpLog::replace_command`] (SPOP becomes SREM, a rate
//!   limiter check becomes the SET of its new state, BLPOP becomes LPOP ...);
//! - keys deleted by expiry or eviction are logged as `DEL`, at the point they were deleted;
//! - a `SELECT` precedes a command whose database differs from the previous one.
//!
//! The log is off until the server enables it (AOF on), so it costs one branch per write
//! otherwise.

use ringkv_protocol::num::{format_u64, write_u64, MAX_I64_LEN};

/// Appends one RESP multibulk command (`*<n>\r\n` then `$<len>\r\n<arg>\r\n` per argument).
pub fn encode_command<'a, I>(out: &mut Vec<u8>, args: I)
where
    I: IntoIterator<Item = &'a [u8]>,
    I::IntoIter: ExactSizeIterator,
{
    let args = args.into_iter();
    out.push(b'*');
    write_u64(out, args.len() as u64);
    out.extend_from_slice(b"\r\n");
    for arg in args {
        out.push(b'$');
        write_u64(out, arg.len() as u64);
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
}

/// Encodes commands for one log stream, tracking the selected database.
#[derive(Debug, Clone, Default)]
pub struct CommandEncoder {
    db: Option<usize>,
}

impl CommandEncoder {
    pub fn new() -> Self {
        CommandEncoder { db: None }
    }

    /// The database of the last appended command.
    pub fn selected_db(&self) -> Option<usize> {
        self.db
    }

    /// Makes the next command emit `SELECT` whatever its database (a new file starts in db 0
    /// and must not depend on the previous file).
    pub fn force_select(&mut self) {
        self.db = None;
    }

    /// Appends `args` as executed in `db`, preceded by `SELECT` if the database changed.
    pub fn append<'a, I>(&mut self, out: &mut Vec<u8>, db: usize, args: I)
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: ExactSizeIterator,
    {
        if self.db != Some(db) {
            let mut digits = [0u8; MAX_I64_LEN];
            let start = format_u64(&mut digits, db as u64);
            encode_command(out, [&b"SELECT"[..], &digits[start..]]);
            self.db = Some(db);
        }
        encode_command(out, args);
    }
}

/// The operation log kept in `Common`.
#[derive(Default)]
pub struct OpLog {
    enabled: bool,
    buf: Vec<u8>,
    encoder: CommandEncoder,
    /// Bytes ever appended: the log position a writer reports durability against.
    offset: u64,
    /// Set when the running command logged its own replacement.
    replaced: bool,
}

impl OpLog {
    pub fn is_enabled(&self) -> bool {
        self.enabled
    }

    /// Turns logging on or off; on a change the next command starts with `SELECT`.
    pub fn set_enabled(&mut self, on: bool) {
        if on != self.enabled {
            self.enabled = on;
            self.encoder.force_select();
            self.buf.clear();
        }
    }

    /// Makes the next command emit `SELECT` (the writer is switching to a new file).
    pub fn force_select(&mut self) {
        self.encoder.force_select();
    }

    /// Total bytes appended so far (what has been taken plus what is buffered).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes buffered and not yet taken.
    pub fn pending(&self) -> usize {
        self.buf.len()
    }

    /// Logs a command executed in `db` (no-op when logging is off).
    pub fn append<'a, I>(&mut self, db: usize, args: I)
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: ExactSizeIterator,
    {
        if self.enabled {
            let before = self.buf.len();
            self.encoder.append(&mut self.buf, db, args);
            self.offset += (self.buf.len() - before) as u64;
        }
    }

    /// Logs the deletion of a key by expiry or eviction.
    pub fn deleted(&mut self, db: usize, key: &[u8]) {
        self.append(db, [&b"DEL"[..], key]);
    }

    /// Called before each command runs.
    pub fn begin_command(&mut self) {
        self.replaced = false;
    }

    /// Logs what the running command did in a deterministic form instead of the command itself.
    /// May be called several times (each call logs one command).
    pub fn replace_command<'a, I>(&mut self, db: usize, args: I)
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: ExactSizeIterator,
    {
        self.replaced = true;
        self.append(db, args);
    }

    /// The running command logs nothing itself (EXEC, whose commands logged themselves).
    pub fn suppress(&mut self) {
        self.replaced = true;
    }

    /// The database the log last selected (a closing EXEC must not switch it).
    pub fn selected_db(&self) -> usize {
        self.encoder.selected_db().unwrap_or(0)
    }

    /// Whether the running command logged a replacement.
    pub fn replaced(&self) -> bool {
        self.replaced
    }

    /// Position in the buffer, for wrapping what follows (MULTI ... EXEC).
    pub fn mark(&self) -> usize {
        self.buf.len()
    }

    /// Inserts a command at an earlier `mark` (MULTI before a transaction's commands).
    pub fn insert_at<'a, I>(&mut self, mark: usize, args: I)
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: ExactSizeIterator,
    {
        if !self.enabled || mark > self.buf.len() {
            return;
        }
        let mut cmd = Vec::new();
        encode_command(&mut cmd, args);
        self.offset += cmd.len() as u64;
        self.buf.splice(mark..mark, cmd);
    }

    /// Moves the buffered bytes to the end of `out` (the AOF writer's inbox). When `out` is empty
    /// the two buffers are swapped, so nothing is copied and both keep their capacity: the writer
    /// hands its written buffers back this way, and the log does not reallocate in steady state.
    pub fn move_into(&mut self, out: &mut Vec<u8>) {
        if out.is_empty() {
            std::mem::swap(&mut self.buf, out);
        } else {
            out.extend_from_slice(&self.buf);
            self.buf.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_with_select_and_tracks_offset() {
        let mut log = OpLog::default();
        log.append(0, [&b"SET"[..], b"k", b"v"]);
        assert_eq!(log.offset(), 0, "off by default");
        log.set_enabled(true);
        log.append(0, [&b"SET"[..], b"k", b"v"]);
        log.append(0, [&b"DEL"[..], b"k"]);
        log.append(12, [&b"DEL"[..], b"k"]);
        let mut out = Vec::new();
        log.move_into(&mut out);
        assert_eq!(log.pending(), 0);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n\
             *2\r\n$3\r\nDEL\r\n$1\r\nk\r\n*2\r\n$6\r\nSELECT\r\n$2\r\n12\r\n*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n"
        );
        assert_eq!(log.offset(), text.len() as u64);
        let mark = log.mark();
        log.append(12, [&b"INCR"[..], b"a"]);
        log.insert_at(mark, [&b"MULTI"[..]]);
        log.append(12, [&b"EXEC"[..]]);
        // Appended after bytes still waiting in `out`.
        let mut out = b"head".to_vec();
        log.move_into(&mut out);
        let text = String::from_utf8(out).unwrap();
        let text = text.strip_prefix("head").unwrap();
        assert!(text.starts_with("*1\r\n$5\r\nMULTI\r\n*2\r\n$4\r\nINCR"));
        assert!(text.ends_with("$4\r\nEXEC\r\n"));
    }
}
