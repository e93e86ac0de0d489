//! Reply encoding: [`ReplyWriter`] appends RESP2 or RESP3 replies to one per-connection buffer.
//!
//! Commands write replies straight into the connection's output buffer, which the server flushes
//! once per batch of pipelined requests, so a reply costs a few `memcpy`s and no allocation
//! (integers and doubles are formatted on the stack). The writer also owns the RESP2/RESP3
//! differences (maps, sets, nulls, doubles, booleans, ...) so commands describe a reply once and
//! get the right encoding for the protocol the client chose with HELLO. Replies whose length is
//! only known at the end (Redis `addReplyDeferredLen`) are supported by inserting the header
//! afterwards.

use crate::num::{
    format_f64, format_i64, format_u64, write_i64, write_u64, F64_BUF_LEN, MAX_I64_LEN,
};

/// The protocol version negotiated with HELLO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Protocol {
    /// RESP2 (the default for new connections).
    #[default]
    Resp2,
    /// RESP3.
    Resp3,
}

/// A placeholder for an aggregate header whose length is written later with one of the
/// `finish_deferred_*` methods. Deferred headers may be finished in any order.
#[derive(Debug)]
#[must_use = "a deferred reply must be finished, or the output is malformed"]
pub struct Deferred(usize);

/// Marks a finished (or abandoned) deferred slot.
const DONE: usize = usize::MAX;

/// Encodes replies into a byte buffer.
#[derive(Debug, Clone, Default)]
pub struct ReplyWriter {
    buf: Vec<u8>,
    proto: Protocol,
    /// Insertion positions of deferred headers, indexed by `Deferred.0`; `DONE` when finished.
    deferred: Vec<usize>,
    /// Number of deferred headers not yet finished.
    open_deferred: usize,
}

impl ReplyWriter {
    /// An empty writer for `proto`.
    pub fn new(proto: Protocol) -> Self {
        ReplyWriter {
            buf: Vec::new(),
            proto,
            deferred: Vec::new(),
            open_deferred: 0,
        }
    }

    /// The protocol replies are encoded in.
    pub fn protocol(&self) -> Protocol {
        self.proto
    }

    /// Switches protocol (HELLO); affects replies written from now on.
    pub fn set_protocol(&mut self, p: Protocol) {
        self.proto = p;
    }

    /// The encoded bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// Number of encoded bytes.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// True when nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Drops all buffered bytes (after a flush) and forgets unfinished deferred headers.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.deferred.clear();
        self.open_deferred = 0;
    }

    /// Drops everything after `len` bytes (e.g. to replace a partial reply with an error).
    /// Unfinished deferred headers that started after `len` are abandoned.
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
        for pos in &mut self.deferred {
            if *pos != DONE && *pos > len {
                *pos = DONE;
                self.open_deferred -= 1;
            }
        }
        if self.open_deferred == 0 {
            self.deferred.clear();
        }
    }

    /// Direct access to the buffer (e.g. to append pre-encoded replies). Do not remove bytes
    /// before an unfinished deferred header through it.
    pub fn buffer_mut(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Reserves room for at least `additional` more bytes.
    pub fn reserve(&mut self, additional: usize) {
        self.buf.reserve(additional);
    }

    #[inline]
    fn crlf(&mut self) {
        self.buf.extend_from_slice(b"\r\n");
    }

    /// `<prefix><n>\r\n`
    #[inline]
    fn header(&mut self, prefix: u8, n: u64) {
        self.buf.push(prefix);
        write_u64(&mut self.buf, n);
        self.crlf();
    }

    /// Appends `s` with CR and LF replaced by spaces, so it cannot break the framing.
    fn line_sanitized(&mut self, s: &[u8]) {
        let start = self.buf.len();
        self.buf.extend_from_slice(s);
        for b in &mut self.buf[start..] {
            if *b == b'\r' || *b == b'\n' {
                *b = b' ';
            }
        }
        self.crlf();
    }

    /// `+OK`
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A status reply `+s`; CR/LF inside `s` become spaces.
    pub fn simple(&mut self, s: &[u8]) {
        self.buf.reserve(s.len() + 3);
        self.buf.push(b'+');
        self.line_sanitized(s);
    }

    /// An error reply `-msg`; `msg` includes its code (`b"ERR syntax error"`). CR/LF become spaces.
    pub fn error(&mut self, msg: &[u8]) {
        self.buf.reserve(msg.len() + 3);
        self.buf.push(b'-');
        self.line_sanitized(msg);
    }

    /// An integer reply `:v`.
    pub fn integer(&mut self, v: i64) {
        self.buf.push(b':');
        write_i64(&mut self.buf, v);
        self.crlf();
    }

    /// A bulk string `$len\r\n<b>\r\n`.
    pub fn bulk(&mut self, b: &[u8]) {
        self.buf.reserve(b.len() + MAX_I64_LEN + 5);
        self.header(b'$', b.len() as u64);
        self.buf.extend_from_slice(b);
        self.crlf();
    }

    /// An integer encoded as a bulk string.
    pub fn bulk_i64(&mut self, v: i64) {
        let mut tmp = [0u8; MAX_I64_LEN];
        let start = format_i64(&mut tmp, v);
        self.bulk(&tmp[start..]);
    }

    /// A double as a bulk string, formatted like Redis 7.2 (`1.5`, `3`, `inf`, `1e+300`).
    pub fn bulk_f64(&mut self, v: f64) {
        let mut tmp = [0u8; F64_BUF_LEN];
        let n = format_f64(&mut tmp, v);
        self.bulk(&tmp[..n]);
    }

    /// Null bulk: RESP2 `$-1`, RESP3 `_`.
    pub fn null(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.buf.extend_from_slice(b"$-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// Null array: RESP2 `*-1`, RESP3 `_`.
    pub fn null_array(&mut self) {
        match self.proto {
            Protocol::Resp2 => self.buf.extend_from_slice(b"*-1\r\n"),
            Protocol::Resp3 => self.buf.extend_from_slice(b"_\r\n"),
        }
    }

    /// Array header `*len`; `len` elements must follow.
    pub fn array(&mut self, len: usize) {
        self.header(b'*', len as u64);
    }

    /// Map header: RESP3 `%pairs`, RESP2 `*(2*pairs)`; `pairs` key/value pairs must follow.
    pub fn map(&mut self, pairs: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', (pairs as u64).saturating_mul(2)),
            Protocol::Resp3 => self.header(b'%', pairs as u64),
        }
    }

    /// Set header: RESP3 `~len`, RESP2 `*len`.
    pub fn set(&mut self, len: usize) {
        let prefix = match self.proto {
            Protocol::Resp2 => b'*',
            Protocol::Resp3 => b'~',
        };
        self.header(prefix, len as u64);
    }

    /// Push header (pub/sub messages, invalidations): RESP3 `>len`, RESP2 `*len`.
    pub fn push(&mut self, len: usize) {
        let prefix = match self.proto {
            Protocol::Resp2 => b'*',
            Protocol::Resp3 => b'>',
        };
        self.header(prefix, len as u64);
    }

    /// A double: RESP3 `,v` (`inf`, `-inf`, `nan`); RESP2 a bulk string as [`Self::bulk_f64`].
    pub fn double(&mut self, v: f64) {
        match self.proto {
            Protocol::Resp2 => self.bulk_f64(v),
            Protocol::Resp3 => {
                let mut tmp = [0u8; F64_BUF_LEN];
                let n = format_f64(&mut tmp, v);
                self.buf.push(b',');
                self.buf.extend_from_slice(&tmp[..n]);
                self.crlf();
            }
        }
    }

    /// A double already formatted by the caller (GEOPOS prints 17 decimals where `double`
    /// prints the shortest form): RESP3 `,text`, RESP2 a bulk string.
    pub fn double_text(&mut self, text: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.buf.push(b',');
                self.buf.extend_from_slice(text);
                self.crlf();
            }
        }
    }

    /// A boolean: RESP3 `#t` / `#f`; RESP2 `:1` / `:0`.
    pub fn boolean(&mut self, v: bool) {
        let s: &[u8] = match (self.proto, v) {
            (Protocol::Resp3, true) => b"#t\r\n",
            (Protocol::Resp3, false) => b"#f\r\n",
            (Protocol::Resp2, true) => b":1\r\n",
            (Protocol::Resp2, false) => b":0\r\n",
        };
        self.buf.extend_from_slice(s);
    }

    /// Verbatim string: RESP3 `=len\r\nfmt:text\r\n` (`format` like `b"txt"`); RESP2 a bulk of `text`.
    pub fn verbatim(&mut self, format: &[u8; 3], text: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(text),
            Protocol::Resp3 => {
                self.buf.reserve(text.len() + MAX_I64_LEN + 9);
                self.header(b'=', text.len() as u64 + 4);
                self.buf.extend_from_slice(format);
                self.buf.push(b':');
                self.buf.extend_from_slice(text);
                self.crlf();
            }
        }
    }

    /// Big number: RESP3 `(digits`; RESP2 a bulk string of the digits.
    pub fn big_number(&mut self, digits: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(digits),
            Protocol::Resp3 => {
                self.buf.push(b'(');
                self.line_sanitized(digits);
            }
        }
    }

    /// Starts an aggregate whose element count is known only after its elements are written
    /// (Redis `addReplyDeferredLen`). Finish it with `finish_deferred_array/map/set`.
    pub fn begin_deferred(&mut self) -> Deferred {
        let idx = self.deferred.len();
        self.deferred.push(self.buf.len());
        self.open_deferred += 1;
        Deferred(idx)
    }

    /// Finishes a deferred array of `len` elements.
    pub fn finish_deferred_array(&mut self, d: Deferred, len: usize) {
        self.finish_deferred(d, b'*', len as u64);
    }

    /// Finishes a deferred map of `pairs` pairs (RESP2: an array of `2*pairs`).
    pub fn finish_deferred_map(&mut self, d: Deferred, pairs: usize) {
        match self.proto {
            Protocol::Resp2 => self.finish_deferred(d, b'*', (pairs as u64).saturating_mul(2)),
            Protocol::Resp3 => self.finish_deferred(d, b'%', pairs as u64),
        }
    }

    /// Finishes a deferred set of `len` elements (RESP2: an array).
    pub fn finish_deferred_set(&mut self, d: Deferred, len: usize) {
        let prefix = match self.proto {
            Protocol::Resp2 => b'*',
            Protocol::Resp3 => b'~',
        };
        self.finish_deferred(d, prefix, len as u64);
    }

    fn finish_deferred(&mut self, d: Deferred, prefix: u8, n: u64) {
        let idx = d.0;
        let pos = match self.deferred.get(idx) {
            Some(&pos) if pos != DONE => pos.min(self.buf.len()),
            // Stale handle (cleared/truncated writer): nothing sensible to patch.
            _ => return,
        };
        let mut header = [0u8; MAX_I64_LEN + 3];
        header[0] = prefix;
        let mut digits = [0u8; MAX_I64_LEN];
        let start = format_u64(&mut digits, n);
        let dlen = MAX_I64_LEN - start;
        header[1..1 + dlen].copy_from_slice(&digits[start..]);
        header[1 + dlen..3 + dlen].copy_from_slice(b"\r\n");
        let hlen = dlen + 3;
        self.buf.splice(pos..pos, header[..hlen].iter().copied());

        // Shift the other open headers that sit after the insertion point. At equal positions
        // the one begun later is inside this aggregate, so it moves too.
        for (j, p) in self.deferred.iter_mut().enumerate() {
            if *p != DONE && j != idx && (*p > pos || (*p == pos && j > idx)) {
                *p += hlen;
            }
        }
        self.deferred[idx] = DONE;
        self.open_deferred -= 1;
        if self.open_deferred == 0 {
            self.deferred.clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(f: impl Fn(&mut ReplyWriter)) -> (String, String) {
        let mut w2 = ReplyWriter::new(Protocol::Resp2);
        let mut w3 = ReplyWriter::new(Protocol::Resp3);
        f(&mut w2);
        f(&mut w3);
        (
            String::from_utf8(w2.as_bytes().to_vec()).unwrap(),
            String::from_utf8(w3.as_bytes().to_vec()).unwrap(),
        )
    }

    fn same(f: impl Fn(&mut ReplyWriter), expected: &str) {
        assert_eq!(both(f), (expected.to_string(), expected.to_string()));
    }

    #[test]
    fn protocol_independent_replies() {
        same(|w| w.ok(), "+OK\r\n");
        same(|w| w.simple(b"PONG"), "+PONG\r\n");
        same(|w| w.simple(b"a\r\nb\nc"), "+a  b c\r\n");
        same(|w| w.error(b"ERR syntax error"), "-ERR syntax error\r\n");
        same(|w| w.error(b"ERR bad\r\nthing"), "-ERR bad  thing\r\n");
        same(|w| w.integer(0), ":0\r\n");
        same(|w| w.integer(-42), ":-42\r\n");
        same(|w| w.integer(i64::MIN), ":-9223372036854775808\r\n");
        same(|w| w.integer(i64::MAX), ":9223372036854775807\r\n");
        same(|w| w.bulk(b"hello"), "$5\r\nhello\r\n");
        same(|w| w.bulk(b""), "$0\r\n\r\n");
        same(|w| w.bulk(b"a\r\nb"), "$4\r\na\r\nb\r\n");
        same(|w| w.bulk_i64(-123), "$4\r\n-123\r\n");
        same(|w| w.bulk_f64(1.5), "$3\r\n1.5\r\n");
        same(|w| w.bulk_f64(3.0), "$1\r\n3\r\n");
        same(|w| w.bulk_f64(f64::NEG_INFINITY), "$4\r\n-inf\r\n");
        same(|w| w.array(3), "*3\r\n");
        same(|w| w.array(0), "*0\r\n");
    }

    #[test]
    fn protocol_dependent_replies() {
        assert_eq!(both(|w| w.null()), ("$-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|w| w.null_array()), ("*-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|w| w.map(2)), ("*4\r\n".into(), "%2\r\n".into()));
        assert_eq!(both(|w| w.set(3)), ("*3\r\n".into(), "~3\r\n".into()));
        assert_eq!(both(|w| w.push(3)), ("*3\r\n".into(), ">3\r\n".into()));
        assert_eq!(
            both(|w| w.double(1.5)),
            ("$3\r\n1.5\r\n".into(), ",1.5\r\n".into())
        );
        assert_eq!(
            both(|w| w.double(0.1)),
            ("$3\r\n0.1\r\n".into(), ",0.1\r\n".into())
        );
        assert_eq!(
            both(|w| w.double(f64::INFINITY)),
            ("$3\r\ninf\r\n".into(), ",inf\r\n".into())
        );
        assert_eq!(
            both(|w| w.double(f64::NEG_INFINITY)),
            ("$4\r\n-inf\r\n".into(), ",-inf\r\n".into())
        );
        assert_eq!(
            both(|w| w.double(f64::NAN)),
            ("$3\r\nnan\r\n".into(), ",nan\r\n".into())
        );
        assert_eq!(
            both(|w| w.double(1e300)),
            ("$6\r\n1e+300\r\n".into(), ",1e+300\r\n".into())
        );
        assert_eq!(
            both(|w| w.double(3.0)),
            ("$1\r\n3\r\n".into(), ",3\r\n".into())
        );
        assert_eq!(
            both(|w| w.boolean(true)),
            (":1\r\n".into(), "#t\r\n".into())
        );
        assert_eq!(
            both(|w| w.boolean(false)),
            (":0\r\n".into(), "#f\r\n".into())
        );
        assert_eq!(
            both(|w| w.verbatim(b"txt", b"Some string")),
            (
                "$11\r\nSome string\r\n".into(),
                "=15\r\ntxt:Some string\r\n".into()
            )
        );
        assert_eq!(
            both(|w| w.big_number(b"3492890328409238509324850943850943825024385")),
            (
                "$43\r\n3492890328409238509324850943850943825024385\r\n".into(),
                "(3492890328409238509324850943850943825024385\r\n".into()
            )
        );
    }

    #[test]
    fn deferred_lengths() {
        // Simple deferred array.
        same(
            |w| {
                w.ok();
                let d = w.begin_deferred();
                w.bulk(b"a");
                w.bulk(b"b");
                w.finish_deferred_array(d, 2);
            },
            "+OK\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n",
        );
        // Deferred map and set differ per protocol.
        assert_eq!(
            both(|w| {
                let d = w.begin_deferred();
                w.bulk(b"k");
                w.integer(1);
                w.finish_deferred_map(d, 1);
            }),
            (
                "*2\r\n$1\r\nk\r\n:1\r\n".into(),
                "%1\r\n$1\r\nk\r\n:1\r\n".into()
            )
        );
        assert_eq!(
            both(|w| {
                let d = w.begin_deferred();
                w.integer(7);
                w.finish_deferred_set(d, 1);
            }),
            ("*1\r\n:7\r\n".into(), "~1\r\n:7\r\n".into())
        );
        // Nested, finished innermost first, starting at the same position.
        same(
            |w| {
                let outer = w.begin_deferred();
                let inner = w.begin_deferred();
                w.integer(1);
                w.finish_deferred_array(inner, 1);
                w.integer(2);
                w.finish_deferred_array(outer, 2);
            },
            "*2\r\n*1\r\n:1\r\n:2\r\n",
        );
        // Nested, finished outermost first.
        same(
            |w| {
                let outer = w.begin_deferred();
                let inner = w.begin_deferred();
                w.integer(1);
                w.finish_deferred_array(outer, 1);
                w.finish_deferred_array(inner, 1);
            },
            "*1\r\n*1\r\n:1\r\n",
        );
        // Interleaved siblings, first finished first.
        same(
            |w| {
                w.array(2);
                let a = w.begin_deferred();
                w.integer(1);
                let b = w.begin_deferred();
                w.integer(2);
                w.integer(3);
                w.finish_deferred_array(a, 2);
                w.finish_deferred_array(b, 10);
            },
            "*2\r\n*2\r\n:1\r\n*10\r\n:2\r\n:3\r\n",
        );
        // Multi-digit lengths and an empty aggregate at the very end.
        same(
            |w| {
                let d = w.begin_deferred();
                for i in 0..12 {
                    w.integer(i);
                }
                w.finish_deferred_array(d, 12);
                let e = w.begin_deferred();
                w.finish_deferred_array(e, 0);
            },
            "*12\r\n:0\r\n:1\r\n:2\r\n:3\r\n:4\r\n:5\r\n:6\r\n:7\r\n:8\r\n:9\r\n:10\r\n:11\r\n*0\r\n",
        );
    }

    #[test]
    fn deferred_survives_clear_and_truncate_without_panicking() {
        let mut w = ReplyWriter::new(Protocol::Resp2);
        w.ok();
        let d = w.begin_deferred();
        w.integer(1);
        w.clear();
        w.finish_deferred_array(d, 1);
        assert!(w.is_empty());

        let mut w = ReplyWriter::new(Protocol::Resp2);
        w.ok();
        let mark = w.len();
        w.integer(9);
        let d = w.begin_deferred();
        w.integer(1);
        w.truncate(mark);
        w.error(b"ERR oops");
        w.finish_deferred_array(d, 1);
        assert_eq!(w.as_bytes(), b"+OK\r\n-ERR oops\r\n");
        assert!(w.deferred.is_empty());
    }

    #[test]
    fn buffer_management() {
        let mut w = ReplyWriter::new(Protocol::Resp2);
        assert!(w.is_empty());
        assert_eq!(w.protocol(), Protocol::Resp2);
        w.set_protocol(Protocol::Resp3);
        assert_eq!(w.protocol(), Protocol::Resp3);
        w.null();
        assert_eq!(w.len(), 3);
        w.buffer_mut().extend_from_slice(b"+RAW\r\n");
        assert_eq!(w.as_bytes(), b"_\r\n+RAW\r\n");
        w.truncate(3);
        assert_eq!(w.as_bytes(), b"_\r\n");
        w.reserve(100);
        w.clear();
        assert!(w.is_empty());
        assert_eq!(ReplyWriter::default().protocol(), Protocol::Resp2);
    }
}
