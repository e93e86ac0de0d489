//! Incremental, bounded parser for client requests (RESP multibulk and the inline protocol).
//!
//! This is a port of Redis 7 `processMultibulkBuffer` / `processInlineBuffer` with the same
//! limits and the same error strings, because clients, proxies and the Redis test-suite rely on
//! both. It is built for the pipelined hot path and for hostile input:
//!
//! * **No allocation per request.** Multibulk arguments are recorded as `(start, end)` spans into
//!   the caller's read buffer; the span vector and the inline scratch buffer are reused.
//! * **Resumable, linear work.** When a request is incomplete the parser remembers how far it got
//!   (current element, length of the bulk being read, how far the line-terminator search went),
//!   so a huge request arriving in many small reads is scanned once in total.
//! * **Bounded.** Declared lengths are only compared against the limits, never used to allocate;
//!   unterminated count/length/inline lines are rejected after 64 KiB like in Redis.
//! * **Never panics**, whatever the bytes (checked by property tests and a fuzzer in `tests/`).

use crate::args::Args;
use crate::num::parse_i64;
use std::borrow::Cow;
use std::fmt;

/// Redis `PROTO_INLINE_MAX_SIZE`: the longest unterminated inline request or count/length line
/// that is buffered before the client is rejected.
pub const PROTO_INLINE_MAX_SIZE: usize = 64 * 1024;
/// Default `proto-max-bulk-len` (512 MiB).
pub const DEFAULT_MAX_BULK_LEN: u64 = 512 * 1024 * 1024;
/// Default maximum number of elements in one multibulk request.
pub const DEFAULT_MAX_MULTIBULK_LEN: u64 = 1024 * 1024 * 1024;
/// Largest multibulk count accepted before the client has authenticated.
const UNAUTH_MAX_MULTIBULK_LEN: i64 = 10;
/// Largest bulk length accepted before the client has authenticated.
const UNAUTH_MAX_BULK_LEN: u64 = 16384;

/// Span vectors / scratch buffers bigger than this are shrunk back after the request completes,
/// so one huge request does not pin memory for the connection's lifetime.
const SPANS_KEEP: usize = 64 * 1024;
const SCRATCH_KEEP: usize = 256 * 1024;

/// Limits applied while parsing; adjust at runtime through [`RequestParser::limits_mut`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ParseLimits {
    /// `proto-max-bulk-len`: the longest accepted bulk argument (default 512 MiB).
    pub max_bulk_len: u64,
    /// The largest accepted multibulk element count (default 1024*1024*1024).
    pub max_multibulk_len: u64,
    /// False while a password is required and not yet given; tightens the limits to 10 elements
    /// and 16 KiB per argument like Redis does for unauthenticated clients.
    pub authenticated: bool,
}

impl Default for ParseLimits {
    fn default() -> Self {
        ParseLimits {
            max_bulk_len: DEFAULT_MAX_BULK_LEN,
            max_multibulk_len: DEFAULT_MAX_MULTIBULK_LEN,
            authenticated: true,
        }
    }
}

/// A fatal protocol violation. The server replies `-ERR <message>` and closes the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    text: Cow<'static, str>,
    /// Exact Redis bytes when they differ from `text` (only for a non-ASCII byte in
    /// "expected '$', got 'X'", which Redis emits raw).
    raw: Option<Box<[u8]>>,
}

impl ProtocolError {
    fn fixed(text: &'static str) -> Self {
        ProtocolError {
            text: Cow::Borrowed(text),
            raw: None,
        }
    }

    fn too_big_inline() -> Self {
        Self::fixed("Protocol error: too big inline request")
    }
    fn unbalanced_quotes() -> Self {
        Self::fixed("Protocol error: unbalanced quotes in request")
    }
    fn too_big_mbulk_count() -> Self {
        Self::fixed("Protocol error: too big mbulk count string")
    }
    fn invalid_multibulk_len() -> Self {
        Self::fixed("Protocol error: invalid multibulk length")
    }
    fn unauth_multibulk_len() -> Self {
        Self::fixed("Protocol error: unauthenticated multibulk length")
    }
    fn too_big_bulk_count() -> Self {
        Self::fixed("Protocol error: too big bulk count string")
    }
    fn invalid_bulk_len() -> Self {
        Self::fixed("Protocol error: invalid bulk length")
    }
    fn unauth_bulk_len() -> Self {
        Self::fixed("Protocol error: unauthenticated bulk length")
    }
    fn expected_dollar(got: u8) -> Self {
        // Redis' addReplyErrorFormat turns CR/LF inside an error into spaces.
        let got = if got == b'\r' || got == b'\n' {
            b' '
        } else {
            got
        };
        const PREFIX: &str = "Protocol error: expected '$', got '";
        let mut text = String::with_capacity(PREFIX.len() + 3);
        text.push_str(PREFIX);
        text.push(char::from(got));
        text.push('\'');
        let raw = (!got.is_ascii()).then(|| {
            let mut raw = PREFIX.as_bytes().to_vec();
            raw.push(got);
            raw.push(b'\'');
            raw.into_boxed_slice()
        });
        ProtocolError {
            text: Cow::Owned(text),
            raw,
        }
    }

    /// The Redis error text without the `ERR ` code, e.g. `Protocol error: invalid bulk length`.
    /// (A non-ASCII byte in "got 'X'" is shown as the Latin-1 character; see [`Self::as_bytes`].)
    pub fn message(&self) -> &str {
        &self.text
    }

    /// The message exactly as Redis puts it on the wire (after `-ERR `). Identical to
    /// `message().as_bytes()` except that a non-ASCII byte in "got 'X'" is the raw byte.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.raw {
            Some(raw) => raw,
            None => self.text.as_bytes(),
        }
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl std::error::Error for ProtocolError {}

/// Where the parser is within the current request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// Nothing parsed yet: the first byte decides between multibulk and inline.
    Start,
    /// Looking for the end of an inline line.
    Inline,
    /// Reading the `*<count>` line.
    Count,
    /// Reading a `$<len>` line.
    BulkHeader,
    /// Waiting for `len` payload bytes plus the 2 trailing bytes.
    BulkBody(u64),
}

/// Resumable request parser. One per connection.
///
/// Typical loop (the caller keeps unconsumed bytes at the front of its buffer):
///
/// ```
/// use ringkv_protocol::{ParseLimits, RequestParser};
/// let mut parser = RequestParser::new(ParseLimits::default());
/// let buf = b"*1\r\n$4\r\nPING\r\nECHO hi\r\n";
/// let mut off = 0;
/// let mut seen = Vec::new();
/// while let Some(n) = parser.parse(&buf[off..]).unwrap() {
///     let args = parser.args(&buf[off..]);
///     if !args.is_empty() {
///         seen.push(args.to_vec());
///     }
///     off += n;
/// }
/// assert_eq!(seen, vec![vec![b"PING".to_vec()], vec![b"ECHO".to_vec(), b"hi".to_vec()]]);
/// ```
#[derive(Debug)]
pub struct RequestParser {
    limits: ParseLimits,
    phase: Phase,
    /// Offset of the next unparsed byte of the current request.
    pos: usize,
    /// The line-terminator search resumes here (every byte before it has been checked).
    scan: usize,
    /// Multibulk elements still to read.
    remaining: u64,
    /// Argument spans: into the caller's buffer (multibulk) or into `scratch` (inline).
    spans: Vec<(usize, usize)>,
    /// Unescaped inline arguments.
    scratch: Vec<u8>,
    /// The last request was inline, so its spans point into `scratch`.
    inline: bool,
    /// The last call returned a complete request (the next call starts a new one).
    complete: bool,
    /// Bytes still needed to finish the bulk being read, as of the last call.
    wanted: usize,
    /// Bytes examined / steps taken, to prove linear work in tests.
    #[cfg(test)]
    work: u64,
}

impl RequestParser {
    /// A parser with the given limits.
    pub fn new(limits: ParseLimits) -> Self {
        RequestParser {
            limits,
            phase: Phase::Start,
            pos: 0,
            scan: 0,
            remaining: 0,
            spans: Vec::new(),
            scratch: Vec::new(),
            inline: false,
            complete: false,
            wanted: 0,
            #[cfg(test)]
            work: 0,
        }
    }

    /// The limits; changes apply from the next `parse` call (e.g. set `authenticated` after AUTH).
    pub fn limits_mut(&mut self) -> &mut ParseLimits {
        &mut self.limits
    }

    /// The current limits.
    pub fn limits(&self) -> &ParseLimits {
        &self.limits
    }

    /// Forgets any partial request (e.g. when the caller discards its buffer).
    pub fn reset(&mut self) {
        self.phase = Phase::Start;
        self.pos = 0;
        self.scan = 0;
        self.remaining = 0;
        self.spans.clear();
        if self.spans.capacity() > SPANS_KEEP {
            self.spans.shrink_to(1024);
        }
        self.scratch.clear();
        if self.scratch.capacity() > SCRATCH_KEEP {
            self.scratch.shrink_to(16 * 1024);
        }
        self.inline = false;
        self.complete = false;
        self.wanted = 0;
    }

    /// Parses one request from the front of `buf`.
    ///
    /// * `Ok(None)`: incomplete. Call again with the same bytes plus more appended; progress is
    ///   kept, so the total work for a request is linear in its size.
    /// * `Ok(Some(consumed))`: a whole request of `consumed` (> 0) bytes. Its arguments are
    ///   available through [`Self::args`] until the next call. Requests with zero arguments
    ///   (an empty inline line, `*0\r\n`, `*-1\r\n`) come back with `args().is_empty()`.
    /// * `Err(e)`: protocol violation; reply `-ERR {e}` and close. The parser is reset.
    ///
    /// If `buf` is shorter than what was already parsed (caller error), parsing restarts.
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        if self.complete || buf.len() < self.pos || buf.len() < self.scan {
            self.reset();
        }
        self.wanted = 0;
        let result = self.parse_inner(buf);
        if result.is_err() {
            self.reset();
        }
        result
    }

    /// Arguments of the request completed by the last `parse` call, which must have been given
    /// this same `buf`. Empty if the last call did not complete a request (or `buf` is not the
    /// buffer the spans refer to).
    pub fn args<'a>(&'a self, buf: &'a [u8]) -> Args<'a> {
        if !self.complete {
            return Args::new(&[], &[]);
        }
        if self.inline {
            return Args::new(&self.scratch, &self.spans);
        }
        // Spans are increasing, so checking the last one validates all of them.
        match self.spans.last() {
            Some(&(_, end)) if end > buf.len() => Args::new(&[], &[]),
            _ => Args::new(buf, &self.spans),
        }
    }

    /// Bytes still needed to finish the bulk string being read (0 if unknown), as of the last
    /// `parse` call. Lets the caller reserve read-buffer capacity for a big argument (cap it:
    /// this can be as large as `max_bulk_len`).
    pub fn wanted(&self) -> usize {
        self.wanted
    }

    fn parse_inner(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        if self.phase == Phase::Start {
            match buf.first() {
                None => return Ok(None),
                Some(b'*') => {
                    self.phase = Phase::Count;
                    self.scan = 1;
                }
                Some(_) => {
                    self.phase = Phase::Inline;
                    self.scan = 0;
                }
            }
        }
        if self.phase == Phase::Inline {
            self.parse_inline(buf)
        } else {
            self.parse_multibulk(buf)
        }
    }

    /// Finds `byte` at or after `max(self.scan, self.pos)`, remembering how far the search went.
    fn find_from_scan(&mut self, buf: &[u8], byte: u8) -> Option<usize> {
        let from = self.scan.max(self.pos);
        let tail = buf.get(from..).unwrap_or(&[]);
        match tail.iter().position(|&b| b == byte) {
            Some(i) => {
                #[cfg(test)]
                {
                    self.work += i as u64 + 1;
                }
                self.scan = from + i;
                Some(from + i)
            }
            None => {
                #[cfg(test)]
                {
                    self.work += tail.len() as u64;
                }
                self.scan = buf.len();
                None
            }
        }
    }

    /// Port of `processInlineBuffer`.
    fn parse_inline(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        let Some(newline) = self.find_from_scan(buf, b'\n') else {
            if buf.len() > PROTO_INLINE_MAX_SIZE {
                return Err(ProtocolError::too_big_inline());
            }
            return Ok(None);
        };
        let line_end = if newline > 0 && buf[newline - 1] == b'\r' {
            newline - 1
        } else {
            newline
        };
        self.scratch.clear();
        self.spans.clear();
        if !split_args(&buf[..line_end], &mut self.scratch, &mut self.spans) {
            return Err(ProtocolError::unbalanced_quotes());
        }
        #[cfg(test)]
        {
            self.work += line_end as u64;
        }
        self.pos = newline + 1;
        Ok(Some(self.finish(true)))
    }

    /// Finds the end of a `*N` / `$N` line starting at `self.pos`: the index of its `\r`, which
    /// must be followed by one more byte (Redis skips that byte without checking it is `\n`).
    /// `Err(())` when there is no `\r` and more than 64 KiB are buffered; `Ok(None)` when the
    /// line is incomplete.
    fn find_line_end(&mut self, buf: &[u8]) -> Result<Option<usize>, ()> {
        match self.find_from_scan(buf, b'\r') {
            None if buf.len() - self.pos > PROTO_INLINE_MAX_SIZE => Err(()),
            None => Ok(None),
            Some(cr) if cr + 2 > buf.len() => Ok(None),
            Some(cr) => Ok(Some(cr)),
        }
    }

    /// Port of `processMultibulkBuffer`.
    fn parse_multibulk(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        if self.phase == Phase::Count {
            let cr = match self.find_line_end(buf) {
                Err(()) => return Err(ProtocolError::too_big_mbulk_count()),
                Ok(None) => return Ok(None),
                Ok(Some(cr)) => cr,
            };
            // buf[self.pos] is '*'.
            let count = match parse_i64(&buf[self.pos + 1..cr]) {
                Some(n) if n <= 0 || n.unsigned_abs() <= self.limits.max_multibulk_len => n,
                _ => return Err(ProtocolError::invalid_multibulk_len()),
            };
            if count > UNAUTH_MAX_MULTIBULK_LEN && !self.limits.authenticated {
                return Err(ProtocolError::unauth_multibulk_len());
            }
            self.pos = cr + 2;
            if count <= 0 {
                return Ok(Some(self.finish(false)));
            }
            self.remaining = count.unsigned_abs();
            // Never trust the declared count for allocation beyond a small bound.
            self.spans
                .reserve(usize::try_from(count.min(1024)).unwrap_or(1024));
            self.phase = Phase::BulkHeader;
            self.scan = self.pos;
        }

        while self.remaining > 0 {
            #[cfg(test)]
            {
                self.work += 1;
            }
            let len = match self.phase {
                Phase::BulkBody(len) => len,
                _ => {
                    let cr = match self.find_line_end(buf) {
                        Err(()) => return Err(ProtocolError::too_big_bulk_count()),
                        Ok(None) => return Ok(None),
                        Ok(Some(cr)) => cr,
                    };
                    // self.pos <= cr < buf.len()
                    let first = buf[self.pos];
                    if first != b'$' {
                        return Err(ProtocolError::expected_dollar(first));
                    }
                    // first is '$', not '\r', so cr > self.pos.
                    let len = match parse_i64(&buf[self.pos + 1..cr]) {
                        Some(n) if n >= 0 && n.unsigned_abs() <= self.limits.max_bulk_len => {
                            n.unsigned_abs()
                        }
                        _ => return Err(ProtocolError::invalid_bulk_len()),
                    };
                    if len > UNAUTH_MAX_BULK_LEN && !self.limits.authenticated {
                        return Err(ProtocolError::unauth_bulk_len());
                    }
                    self.pos = cr + 2;
                    self.phase = Phase::BulkBody(len);
                    len
                }
            };
            let available = (buf.len() - self.pos) as u64;
            let needed = len.saturating_add(2);
            if available < needed {
                self.wanted = usize::try_from(needed - available).unwrap_or(usize::MAX);
                return Ok(None);
            }
            // len + 2 <= available, so these cannot overflow or run past the buffer.
            let start = self.pos;
            let end = start + len as usize;
            self.spans.push((start, end));
            self.pos = end + 2;
            self.scan = self.pos;
            self.remaining -= 1;
            self.phase = Phase::BulkHeader;
        }
        Ok(Some(self.finish(false)))
    }

    fn finish(&mut self, inline: bool) -> usize {
        self.complete = true;
        self.inline = inline;
        self.phase = Phase::Start;
        self.remaining = 0;
        self.pos
    }
}

/// C `isspace` in the "C" locale.
#[inline]
fn is_c_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

#[inline]
fn hex_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Splits a line like Redis `sdssplitargs`, appending unescaped arguments to `out` and their
/// `(start, end)` spans (into `out`) to `spans`. Returns false on unbalanced quotes.
///
/// Rules: arguments are separated by whitespace; `"double quotes"` support `\n \r \t \b \a`,
/// `\xHH` and `\<any>` (the char itself); `'single quotes'` only support `\'`; a closing quote
/// must be followed by whitespace or the end of the line. As in Redis (which works on C
/// strings) a NUL byte ends the line.
pub fn split_args(line: &[u8], out: &mut Vec<u8>, spans: &mut Vec<(usize, usize)>) -> bool {
    // Reading past the end (or at a NUL) yields 0, mirroring the C string terminator.
    let at = |i: usize| -> u8 { line.get(i).copied().unwrap_or(0) };
    let mut i = 0usize;
    loop {
        while at(i) != 0 && is_c_space(at(i)) {
            i += 1;
        }
        if at(i) == 0 {
            return true;
        }
        let start = out.len();
        let mut in_dq = false;
        let mut in_sq = false;
        let mut done = false;
        while !done {
            let c = at(i);
            if in_dq {
                if c == b'\\' && at(i + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_value(at(i + 2)), hex_value(at(i + 3))) {
                        out.push(h * 16 + l);
                        i += 3;
                    } else {
                        // "\x" without two hex digits: the escaped char itself ('x').
                        i += 1;
                        out.push(b'x');
                    }
                } else if c == b'\\' && at(i + 1) != 0 {
                    i += 1;
                    out.push(match at(i) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(i + 1) != 0 && !is_c_space(at(i + 1)) {
                        return false;
                    }
                    done = true;
                } else if c == 0 {
                    return false;
                } else {
                    out.push(c);
                }
            } else if in_sq {
                if c == b'\\' && at(i + 1) == b'\'' {
                    i += 1;
                    out.push(b'\'');
                } else if c == b'\'' {
                    if at(i + 1) != 0 && !is_c_space(at(i + 1)) {
                        return false;
                    }
                    done = true;
                } else if c == 0 {
                    return false;
                } else {
                    out.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => out.push(c),
                }
            }
            if at(i) != 0 {
                i += 1;
            }
        }
        spans.push((start, out.len()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Parsed = Result<Option<(usize, Vec<Vec<u8>>)>, String>;

    fn parse_with(limits: ParseLimits, buf: &[u8]) -> Parsed {
        let mut p = RequestParser::new(limits);
        match p.parse(buf) {
            Ok(Some(n)) => Ok(Some((n, p.args(buf).to_vec()))),
            Ok(None) => Ok(None),
            Err(e) => Err(e.message().to_string()),
        }
    }

    fn parse(buf: &[u8]) -> Parsed {
        parse_with(ParseLimits::default(), buf)
    }

    fn err(buf: &[u8]) -> String {
        match parse(buf) {
            Err(e) => e,
            other => panic!(
                "expected an error for {:?}, got {other:?}",
                String::from_utf8_lossy(buf)
            ),
        }
    }

    fn v(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    fn split(line: &[u8]) -> Option<Vec<Vec<u8>>> {
        let mut out = Vec::new();
        let mut spans = Vec::new();
        if !split_args(line, &mut out, &mut spans) {
            return None;
        }
        Some(Args::new(&out, &spans).to_vec())
    }

    /// All requests in `buf`, parsed from the whole buffer.
    fn parse_all(buf: &[u8]) -> (Vec<Vec<Vec<u8>>>, usize) {
        let mut p = RequestParser::new(ParseLimits::default());
        let mut off = 0;
        let mut reqs = Vec::new();
        while let Some(n) = p.parse(&buf[off..]).unwrap() {
            assert!(n > 0);
            reqs.push(p.args(&buf[off..]).to_vec());
            off += n;
        }
        (reqs, off)
    }

    #[test]
    fn multibulk_basic() {
        assert_eq!(
            parse(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n"),
            Ok(Some((31, v(&["SET", "k", "hello"]))))
        );
        assert_eq!(parse(b"*1\r\n$0\r\n\r\n"), Ok(Some((10, v(&[""])))));
        // Binary payloads may contain CR/LF.
        assert_eq!(
            parse(b"*1\r\n$4\r\n\r\n\r\n\r\n"),
            Ok(Some((14, vec![b"\r\n\r\n".to_vec()])))
        );
        // The 2 bytes after the payload are skipped, not validated (like Redis).
        assert_eq!(parse(b"*1\r\n$1\r\naXY"), Ok(Some((11, v(&["a"])))));
        // Only the '\r' of the line end is located; the next byte is skipped unchecked.
        assert_eq!(parse(b"*1\rX$1\rXaXY"), Ok(Some((11, v(&["a"])))));
    }

    #[test]
    fn empty_requests() {
        assert_eq!(parse(b"*0\r\n"), Ok(Some((4, vec![]))));
        assert_eq!(parse(b"*-1\r\n"), Ok(Some((5, vec![]))));
        assert_eq!(parse(b"*-10\r\nPING\r\n"), Ok(Some((6, vec![]))));
        assert_eq!(parse(b"\r\n"), Ok(Some((2, vec![]))));
        assert_eq!(parse(b"\n"), Ok(Some((1, vec![]))));
        assert_eq!(parse(b"   \t \r\n"), Ok(Some((7, vec![]))));
        // Unauthenticated: non-positive counts are still fine.
        let unauth = ParseLimits {
            authenticated: false,
            ..ParseLimits::default()
        };
        assert_eq!(parse_with(unauth, b"*-100\r\n"), Ok(Some((7, vec![]))));
    }

    #[test]
    fn incomplete_requests() {
        for buf in [
            &b""[..],
            b"*",
            b"*3",
            b"*3\r",
            b"*3\r\n",
            b"*3\r\n$",
            b"*3\r\n$3\r",
            b"*3\r\n$3\r\nSE",
            b"*3\r\n$3\r\nSET\r",
            b"*1\r\nfoo",
            b"PING",
            b"PING\r",
        ] {
            assert_eq!(parse(buf), Ok(None), "{:?}", String::from_utf8_lossy(buf));
        }
    }

    #[test]
    fn error_too_big_inline_request() {
        let mut buf = vec![b'a'; PROTO_INLINE_MAX_SIZE];
        assert_eq!(parse(&buf), Ok(None));
        buf.push(b'a');
        assert_eq!(err(&buf), "Protocol error: too big inline request");
        // A newline anywhere in the buffer makes it a (long) valid line, as in Redis.
        buf.push(b'\n');
        assert_eq!(parse(&buf).unwrap().unwrap().0, PROTO_INLINE_MAX_SIZE + 2);
    }

    #[test]
    fn error_unbalanced_quotes() {
        assert_eq!(
            err(b"set \"\"\"test-key\"\"\" test-value\r\nping\r\n"),
            "Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            err(b"set \"unterminated\r\n"),
            "Protocol error: unbalanced quotes in request"
        );
        assert_eq!(
            err(b"get 'x\r\n"),
            "Protocol error: unbalanced quotes in request"
        );
    }

    #[test]
    fn error_too_big_mbulk_count_string() {
        let mut buf = b"*".to_vec();
        buf.extend(std::iter::repeat_n(b'1', PROTO_INLINE_MAX_SIZE - 1));
        assert_eq!(parse(&buf), Ok(None));
        buf.push(b'1');
        assert_eq!(err(&buf), "Protocol error: too big mbulk count string");
    }

    #[test]
    fn error_invalid_multibulk_length() {
        for buf in [
            &b"*3000000000\r\n"[..],
            b"*abc\r\n",
            b"*\r\n",
            b"*-\r\n",
            b"*-0\r\n",
            b"*01\r\n",
            b"* 1\r\n",
            b"*1 \r\n",
            b"*+1\r\n",
            b"*99999999999999999999\r\n",
            b"*1073741825\r\n",
        ] {
            assert_eq!(
                err(buf),
                "Protocol error: invalid multibulk length",
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
        // At the limit it is accepted (and waits for elements without allocating them).
        assert_eq!(parse(b"*1073741824\r\n"), Ok(None));
        let tight = ParseLimits {
            max_multibulk_len: 2,
            ..ParseLimits::default()
        };
        assert_eq!(
            parse_with(tight, b"*3\r\n"),
            Err("Protocol error: invalid multibulk length".into())
        );
    }

    #[test]
    fn error_unauthenticated_multibulk_length() {
        let unauth = ParseLimits {
            authenticated: false,
            ..ParseLimits::default()
        };
        assert_eq!(
            parse_with(unauth, b"*11\r\n"),
            Err("Protocol error: unauthenticated multibulk length".into())
        );
        assert_eq!(parse_with(unauth, b"*10\r\n"), Ok(None));
        // Invalid takes precedence, as in Redis.
        assert_eq!(
            parse_with(unauth, b"*3000000000\r\n"),
            Err("Protocol error: invalid multibulk length".into())
        );
    }

    #[test]
    fn error_expected_dollar() {
        assert_eq!(
            err(b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n"),
            "Protocol error: expected '$', got 'f'"
        );
        assert_eq!(
            err(b"*1\r\nfoo\r\n"),
            "Protocol error: expected '$', got 'f'"
        );
        // CR/LF are shown as spaces, like Redis' addReplyErrorFormat.
        assert_eq!(err(b"*1\r\n\r\n"), "Protocol error: expected '$', got ' '");
        assert_eq!(
            err(b"*1\r\n\n\r\n"),
            "Protocol error: expected '$', got ' '"
        );
        // A non-ASCII byte: the wire bytes carry it raw.
        let mut p = RequestParser::new(ParseLimits::default());
        let e = p.parse(b"*1\r\n\xff\r\n").unwrap_err();
        assert_eq!(e.as_bytes(), b"Protocol error: expected '$', got '\xff'");
        assert_eq!(e.message(), "Protocol error: expected '$', got '\u{ff}'");
        assert_eq!(e.to_string(), e.message());
        // The element line must be complete before its first byte is checked.
        assert_eq!(parse(b"*1\r\nfoo"), Ok(None));
    }

    #[test]
    fn error_too_big_bulk_count_string() {
        let mut buf = b"*1\r\n$".to_vec();
        buf.extend(std::iter::repeat_n(b'1', PROTO_INLINE_MAX_SIZE - 1));
        assert_eq!(parse(&buf), Ok(None));
        buf.push(b'1');
        assert_eq!(err(&buf), "Protocol error: too big bulk count string");
        // Also for a bogus element without '$' when no line end ever arrives.
        let mut buf = b"*2\r\n$1\r\na\r\n".to_vec();
        buf.extend(std::iter::repeat_n(b'x', PROTO_INLINE_MAX_SIZE + 1));
        assert_eq!(err(&buf), "Protocol error: too big bulk count string");
    }

    #[test]
    fn error_invalid_bulk_length() {
        for buf in [
            &b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$-10\r\n"[..],
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$2000000000\r\n",
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\n$blabla\r\n",
            b"*1\r\n$4294967296\r\n",
            b"*1\r\n$-1\r\n",
            b"*1\r\n$\r\n",
            b"*1\r\n$01\r\n",
            b"*1\r\n$1 \r\n",
            b"*1\r\n$536870913\r\n",
            b"*1\r\n$99999999999999999999999\r\n",
        ] {
            assert_eq!(
                err(buf),
                "Protocol error: invalid bulk length",
                "{:?}",
                String::from_utf8_lossy(buf)
            );
        }
        // Exactly proto-max-bulk-len is accepted; nothing of that size is allocated.
        let mut p = RequestParser::new(ParseLimits::default());
        assert_eq!(p.parse(b"*1\r\n$536870912\r\nab"), Ok(None));
        assert_eq!(p.wanted(), 536870912 + 2 - 2);
    }

    #[test]
    fn huge_declared_lengths_do_not_allocate() {
        let limits = ParseLimits {
            max_bulk_len: u64::MAX,
            max_multibulk_len: u64::MAX,
            authenticated: true,
        };
        let mut p = RequestParser::new(limits);
        assert_eq!(
            p.parse(b"*9223372036854775807\r\n$9223372036854775807\r\nxy"),
            Ok(None)
        );
        assert!(p.wanted() > 1 << 40);
        assert!(p.spans.capacity() <= 1024);
        let mut p = RequestParser::new(limits);
        assert_eq!(p.parse(b"*1\r\n$4294967296\r\n"), Ok(None));
        assert_eq!(p.wanted(), 4294967298);
    }

    #[test]
    fn error_unauthenticated_bulk_length() {
        let unauth = ParseLimits {
            authenticated: false,
            ..ParseLimits::default()
        };
        assert_eq!(
            parse_with(unauth, b"*1\r\n$16385\r\n"),
            Err("Protocol error: unauthenticated bulk length".into())
        );
        assert_eq!(parse_with(unauth, b"*1\r\n$16384\r\n"), Ok(None));
        assert_eq!(
            parse_with(unauth, b"*1\r\n$-5\r\n"),
            Err("Protocol error: invalid bulk length".into())
        );
        // Authenticating mid-connection lifts the limit.
        let mut p = RequestParser::new(unauth);
        p.limits_mut().authenticated = true;
        assert!(p.limits().authenticated);
        assert_eq!(p.parse(b"*11\r\n$16385\r\n"), Ok(None));
    }

    #[test]
    fn inline_requests() {
        assert_eq!(parse(b"PING\r\n"), Ok(Some((6, v(&["PING"])))));
        assert_eq!(parse(b"PING\n"), Ok(Some((5, v(&["PING"])))));
        assert_eq!(
            parse(b"set  key   \"a b\"\r\nGET key\r\n"),
            Ok(Some((18, v(&["set", "key", "a b"]))))
        );
        // A '\r' not directly before '\n' is part of the line (and splits arguments).
        assert_eq!(parse(b"a\rb\n"), Ok(Some((4, v(&["a", "b"])))));
        assert_eq!(parse(b"a\r\r\n"), Ok(Some((4, v(&["a"])))));
    }

    #[test]
    fn sdssplitargs_cases() {
        assert_eq!(split(b"Hello World"), Some(v(&["Hello", "World"])));
        assert_eq!(split(b""), Some(vec![]));
        assert_eq!(split(b"   "), Some(vec![]));
        assert_eq!(split(b"  a  b  "), Some(v(&["a", "b"])));
        assert_eq!(split(b"\"hello world\""), Some(v(&["hello world"])));
        assert_eq!(split(b"\"\""), Some(v(&[""])));
        assert_eq!(split(b"''"), Some(v(&[""])));
        assert_eq!(split(b"\"\\x41\\x42\""), Some(v(&["AB"])));
        assert_eq!(split(b"\"\\xff\\x00\""), Some(vec![vec![0xff, 0x00]]));
        assert_eq!(split(b"\"\\xaB\""), Some(vec![vec![0xab]]));
        assert_eq!(
            split(b"\"\\n\\r\\t\\b\\a\""),
            Some(vec![b"\n\r\t\x08\x07".to_vec()])
        );
        assert_eq!(split(b"\"\\\\\\\"\""), Some(v(&["\\\""])));
        assert_eq!(split(b"\"\\q\""), Some(v(&["q"])));
        assert_eq!(split(b"\"\\x4g\""), Some(v(&["x4g"])));
        assert_eq!(split(b"\"\\x\""), Some(v(&["x"])));
        assert_eq!(split(b"'it\\'s'"), Some(v(&["it's"])));
        assert_eq!(split(b"'a\\nb'"), Some(v(&["a\\nb"])));
        assert_eq!(split(b"'a\"b'"), Some(v(&["a\"b"])));
        assert_eq!(split(b"\"a'b\""), Some(v(&["a'b"])));
        // Unquoted backslashes are literal.
        assert_eq!(split(b"a\\x41"), Some(v(&["a\\x41"])));
        // A quote inside a token opens a quoted section.
        assert_eq!(split(b"a\"b c\""), Some(v(&["ab c"])));
        assert_eq!(split(b"a'b c' d"), Some(v(&["ab c", "d"])));
        // Closing quote followed by whitespace or the end.
        assert_eq!(split(b"\"a\"\tb"), Some(v(&["a", "b"])));
        assert_eq!(split(b"\"a\"\x0bb"), Some(v(&["a", "b"])));
        assert_eq!(split(b"\"foo\"bar"), None);
        assert_eq!(split(b"'foo'bar"), None);
        assert_eq!(split(b"\"foo\"\""), None);
        // Unterminated.
        assert_eq!(split(b"\"foo"), None);
        assert_eq!(split(b"'foo"), None);
        assert_eq!(split(b"\"foo\\"), None);
        assert_eq!(split(b"'foo\\'"), None);
        assert_eq!(split(b"\""), None);
        // Token ends only on space, tab, CR, LF; isspace() (incl. \v \f) only skips blanks.
        assert_eq!(split(b"a\x0bb"), Some(vec![b"a\x0bb".to_vec()]));
        assert_eq!(split(b"\x0b\x0ca"), Some(v(&["a"])));
        // NUL ends the line like the C string it is in Redis.
        assert_eq!(split(b"a\0b c"), Some(v(&["a"])));
        assert_eq!(split(b"\"a\0b\""), None);
        assert_eq!(split(b"\"\\\0\""), None);
        // Non-ASCII bytes pass through.
        assert_eq!(
            split(b"\xc3\xa9 \xff"),
            Some(vec![b"\xc3\xa9".to_vec(), vec![0xff]])
        );
    }

    fn pipeline() -> Vec<u8> {
        let mut buf = Vec::new();
        buf.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n");
        buf.extend_from_slice(b"PING\r\n");
        buf.extend_from_slice(b"*0\r\n");
        buf.extend_from_slice(b"*2\r\n$3\r\nGET\r\n$0\r\n\r\n");
        buf.extend_from_slice(b"\r\n");
        buf.extend_from_slice(b"set \"a b\" 'c\\'d'\n");
        buf.extend_from_slice(b"*-1\r\n");
        buf.extend_from_slice(b"*1\r\n$10\r\n0123456789\r\n");
        buf
    }

    #[test]
    fn pipeline_parses_whole() {
        let buf = pipeline();
        let (reqs, consumed) = parse_all(&buf);
        assert_eq!(consumed, buf.len());
        assert_eq!(
            reqs,
            vec![
                v(&["SET", "key", "va\r\nl"]),
                v(&["PING"]),
                vec![],
                v(&["GET", ""]),
                vec![],
                v(&["set", "a b", "c'd"]),
                vec![],
                v(&["0123456789"]),
            ]
        );
    }

    #[test]
    fn pipeline_fed_byte_by_byte() {
        let buf = pipeline();
        let (expected, _) = parse_all(&buf);
        // Simulate a connection: bytes arrive one at a time into a buffer that is drained
        // from the front as requests complete.
        let mut p = RequestParser::new(ParseLimits::default());
        let mut conn: Vec<u8> = Vec::new();
        let mut got = Vec::new();
        for &b in &buf {
            conn.push(b);
            while let Some(n) = p.parse(&conn).unwrap() {
                got.push(p.args(&conn).to_vec());
                conn.drain(..n);
            }
        }
        assert!(conn.is_empty());
        assert_eq!(got, expected);
    }

    #[test]
    fn pipeline_split_at_every_point() {
        let buf = pipeline();
        let (expected, _) = parse_all(&buf);
        for split_at in 0..=buf.len() {
            let mut p = RequestParser::new(ParseLimits::default());
            let mut off = 0;
            let mut got = Vec::new();
            // First only the prefix is available, then everything.
            let avail = [split_at, buf.len()];
            for &end in &avail {
                while let Some(n) = p.parse(&buf[off..end]).unwrap() {
                    got.push(p.args(&buf[off..end]).to_vec());
                    off += n;
                }
            }
            assert_eq!(off, buf.len(), "split at {split_at}");
            assert_eq!(got, expected, "split at {split_at}");
        }
    }

    #[test]
    fn huge_request_in_small_chunks_is_linear() {
        const N: usize = 100_000;
        let mut req = format!("*{N}\r\n").into_bytes();
        for i in 0..N {
            let arg = format!("arg{i}");
            req.extend_from_slice(format!("${}\r\n{}\r\n", arg.len(), arg).as_bytes());
        }
        let mut p = RequestParser::new(ParseLimits::default());
        let started = std::time::Instant::now();
        let mut result = None;
        let mut end = 0;
        while end < req.len() {
            end = (end + 1024).min(req.len());
            if let Some(n) = p.parse(&req[..end]).unwrap() {
                result = Some(n);
            }
        }
        assert_eq!(result, Some(req.len()));
        let args = p.args(&req);
        assert_eq!(args.len(), N);
        assert_eq!(args.arg(0), b"arg0");
        assert_eq!(args.arg(N - 1), format!("arg{}", N - 1).as_bytes());
        // Each byte is examined about once, plus one step per element (a rescan-from-start
        // implementation would be ~1000x this).
        assert!(
            p.work <= 2 * req.len() as u64 + 2 * N as u64,
            "work {} for {} bytes",
            p.work,
            req.len()
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(20));
    }

    #[test]
    fn long_inline_line_in_small_chunks_is_linear() {
        let mut line = vec![b'x'; 60_000];
        line.push(b'\n');
        let mut p = RequestParser::new(ParseLimits::default());
        let mut end = 0;
        let mut result = None;
        while end < line.len() {
            end = (end + 7).min(line.len());
            if let Some(n) = p.parse(&line[..end]).unwrap() {
                result = Some(n);
            }
        }
        assert_eq!(result, Some(line.len()));
        assert!(p.work <= 3 * line.len() as u64, "work {}", p.work);
    }

    #[test]
    fn wanted_reports_missing_bulk_bytes() {
        let mut p = RequestParser::new(ParseLimits::default());
        assert_eq!(p.parse(b"*1\r\n$100\r\n0123456789"), Ok(None));
        assert_eq!(p.wanted(), 92);
        assert_eq!(p.parse(b"*1\r\n$100\r\n"), Ok(None));
        assert_eq!(p.wanted(), 102);
        assert_eq!(p.parse(b"*1\r\n$10"), Ok(None));
        assert_eq!(p.wanted(), 0);
    }

    #[test]
    fn args_are_empty_until_complete_and_after_reset() {
        let mut p = RequestParser::new(ParseLimits::default());
        let buf = b"*1\r\n$4\r\nPING\r\n";
        assert_eq!(p.parse(&buf[..8]), Ok(None));
        assert!(p.args(&buf[..8]).is_empty());
        assert_eq!(p.parse(buf), Ok(Some(14)));
        assert_eq!(p.args(buf).to_vec(), v(&["PING"]));
        // A too-short buffer given to args() yields nothing rather than panicking.
        assert!(p.args(&buf[..5]).is_empty());
        // A shorter buffer than already parsed restarts parsing instead of panicking.
        assert_eq!(p.parse(&buf[..8]), Ok(None));
        assert_eq!(p.parse(b"*"), Ok(None));
        // A different buffer needs an explicit reset.
        p.reset();
        assert_eq!(p.parse(b"PING\n"), Ok(Some(5)));
        p.reset();
        assert!(p.args(b"PING\n").is_empty());
    }

    #[test]
    fn parser_is_reusable_after_error() {
        let mut p = RequestParser::new(ParseLimits::default());
        assert!(p.parse(b"*x\r\n").is_err());
        assert_eq!(p.parse(b"*1\r\n$1\r\na\r\n"), Ok(Some(11)));
        assert_eq!(p.args(b"*1\r\n$1\r\na\r\n").to_vec(), v(&["a"]));
    }

    #[test]
    fn buffers_shrink_after_huge_requests() {
        let mut p = RequestParser::new(ParseLimits::default());
        let n = SPANS_KEEP + 10;
        let mut req = format!("*{n}\r\n").into_bytes();
        for _ in 0..n {
            req.extend_from_slice(b"$0\r\n\r\n");
        }
        assert_eq!(p.parse(&req), Ok(Some(req.len())));
        assert!(p.spans.capacity() > SPANS_KEEP);
        assert_eq!(p.parse(b"PING\r\n"), Ok(Some(6)));
        assert!(p.spans.capacity() <= SPANS_KEEP);
    }
}
