//! Reply decoding: [`parse_reply`] reads back one RESP2/RESP3 reply that [`crate::ReplyWriter`]
//! produced, as a tree of [`Reply`] values borrowing from the buffer.
//!
//! The server needs this where it runs a command on its own behalf and wants the answer as data
//! rather than bytes: a Lua script's `redis.call` runs the command through the ordinary dispatcher
//! into a scratch buffer and converts the reply to Lua values (Redis does the same with its
//! `resp_parser.c`). The input is trusted to come from the writer, but the parser still never
//! panics: malformed or truncated input gives `None`.

/// One decoded reply. Strings borrow from the parsed buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply<'a> {
    /// `+text`
    Status(&'a [u8]),
    /// `-text` (without the leading `-`)
    Error(&'a [u8]),
    /// `:n`
    Integer(i64),
    /// `$len` bulk string
    Bulk(&'a [u8]),
    /// `$-1` (RESP2 null bulk)
    NullBulk,
    /// `*-1` (RESP2 null array)
    NullArray,
    /// `_` (RESP3 null)
    Null,
    /// `*n`, or `>n` (push)
    Array(Vec<Reply<'a>>),
    /// `%n`: key, value pairs in order
    Map(Vec<(Reply<'a>, Reply<'a>)>),
    /// `~n`
    Set(Vec<Reply<'a>>),
    /// `#t` / `#f`
    Boolean(bool),
    /// `,v`
    Double(f64),
    /// `(digits`
    BigNumber(&'a [u8]),
    /// `=len` with its three-letter format and the text after `fmt:`
    Verbatim(&'a [u8], &'a [u8]),
}

/// Nesting deeper than this is refused rather than risking the stack.
const MAX_DEPTH: usize = 512;

/// Parses the reply at the start of `buf`; returns it with the number of bytes it used.
pub fn parse_reply(buf: &[u8]) -> Option<(Reply<'_>, usize)> {
    let mut pos = 0;
    let reply = parse_at(buf, &mut pos, 0)?;
    Some((reply, pos))
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let rest = buf.get(*pos..)?;
    let end = rest.windows(2).position(|w| w == b"\r\n")?;
    *pos += end + 2;
    Some(&rest[..end])
}

fn bytes<'a>(buf: &'a [u8], pos: &mut usize, len: i64) -> Option<&'a [u8]> {
    let len = usize::try_from(len).ok()?;
    let end = pos.checked_add(len)?;
    let body = buf.get(*pos..end)?;
    if buf.get(end..end + 2)? != b"\r\n" {
        return None;
    }
    *pos = end + 2;
    Some(body)
}

fn parse_at<'a>(buf: &'a [u8], pos: &mut usize, depth: usize) -> Option<Reply<'a>> {
    if depth > MAX_DEPTH {
        return None;
    }
    let kind = *buf.get(*pos)?;
    *pos += 1;
    let text = line(buf, pos)?;
    let items = |pos: &mut usize, n: i64| -> Option<Vec<Reply<'a>>> {
        let n = usize::try_from(n).ok()?;
        // Every element takes at least 3 bytes, so a bogus count cannot reserve much.
        let mut v = Vec::with_capacity(n.min(buf.len() / 3));
        for _ in 0..n {
            v.push(parse_at(buf, pos, depth + 1)?);
        }
        Some(v)
    };
    Some(match kind {
        b'+' => Reply::Status(text),
        b'-' => Reply::Error(text),
        b':' => Reply::Integer(crate::num::parse_i64(text)?),
        b'$' => match crate::num::parse_i64(text)? {
            -1 => Reply::NullBulk,
            n => Reply::Bulk(bytes(buf, pos, n)?),
        },
        b'*' | b'>' => match crate::num::parse_i64(text)? {
            -1 => Reply::NullArray,
            n => Reply::Array(items(pos, n)?),
        },
        b'~' => Reply::Set(items(pos, crate::num::parse_i64(text)?)?),
        b'%' => {
            let flat = items(pos, crate::num::parse_i64(text)?.checked_mul(2)?)?;
            let mut pairs = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Reply::Map(pairs)
        }
        b'_' => Reply::Null,
        b'#' => Reply::Boolean(text == b"t"),
        b',' => {
            let s = std::str::from_utf8(text).ok()?;
            Reply::Double(match s {
                "inf" => f64::INFINITY,
                "-inf" => f64::NEG_INFINITY,
                "nan" => f64::NAN,
                _ => s.parse().ok()?,
            })
        }
        b'(' => Reply::BigNumber(text),
        b'=' => {
            let body = bytes(buf, pos, crate::num::parse_i64(text)?)?;
            if body.len() < 4 {
                return None;
            }
            Reply::Verbatim(&body[..3], &body[4..])
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Protocol, ReplyWriter};

    #[test]
    fn round_trips_what_the_writer_writes() {
        let mut w = ReplyWriter::new(Protocol::Resp3);
        w.array(3);
        w.integer(-7);
        w.bulk(b"a\r\nb");
        w.map(1);
        w.simple(b"k");
        w.double(1.5);
        let (r, used) = parse_reply(w.as_bytes()).expect("parses");
        assert_eq!(used, w.as_bytes().len());
        assert_eq!(
            r,
            Reply::Array(vec![
                Reply::Integer(-7),
                Reply::Bulk(b"a\r\nb"),
                Reply::Map(vec![(Reply::Status(b"k"), Reply::Double(1.5))]),
            ])
        );
    }

    #[test]
    fn truncated_or_malformed_input_is_refused() {
        for bad in [
            &b"*2\r\n:1\r\n"[..],
            b"$5\r\nab\r\n",
            b"?x\r\n",
            b":x\r\n",
            b"=2\r\nab\r\n",
        ] {
            assert_eq!(parse_reply(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
