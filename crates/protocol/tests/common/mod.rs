//! Test helpers shared by the property tests and the fuzzer: a request encoder and a naive
//! reference parser.
//!
//! The reference parser is a deliberately simple, non-resumable transcription of Redis 7's
//! `processInlineBuffer` / `processMultibulkBuffer` / `sdssplitargs` / `string2ll`. Comparing
//! the real (incremental, allocation-free) parser against it on every input catches bugs in the
//! resumption logic that a "does not panic" check alone would miss.

#![allow(dead_code)]

use ringkv_protocol::{ParseLimits, ProtocolError, RequestParser};

pub type Outcome = Result<Option<(usize, Vec<Vec<u8>>)>, String>;

/// Encodes `args` as a RESP multibulk request.
pub fn encode(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Encodes `args` as an inline request, double-quoting every argument with `\xHH` escapes.
pub fn encode_inline(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push(b' ');
        }
        out.push(b'"');
        for &b in a {
            if b.is_ascii_alphanumeric() {
                out.push(b);
            } else {
                out.extend_from_slice(format!("\\x{b:02x}").as_bytes());
            }
        }
        out.push(b'"');
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// Runs a fresh parser on `buf`.
pub fn parse_fresh(limits: ParseLimits, buf: &[u8]) -> Outcome {
    let mut p = RequestParser::new(limits);
    outcome(&mut p, buf)
}

/// One `parse` call on an existing parser, converted to an [`Outcome`] and sanity-checked.
pub fn outcome(p: &mut RequestParser, buf: &[u8]) -> Outcome {
    match p.parse(buf) {
        Ok(Some(n)) => {
            assert!(n > 0, "consumed 0 bytes");
            assert!(n <= buf.len(), "consumed {n} of {} bytes", buf.len());
            Ok(Some((n, p.args(buf).to_vec())))
        }
        Ok(None) => Ok(None),
        Err(e) => Err(err_text(&e)),
    }
}

fn err_text(e: &ProtocolError) -> String {
    assert_eq!(e.to_string(), e.message());
    String::from_utf8_lossy(e.as_bytes()).into_owned()
}

/// `string2ll`, written independently: Rust's parser plus "the text is canonical".
fn ref_string2ll(s: &[u8]) -> Option<i64> {
    let n: i64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (n.to_string().as_bytes() == s).then_some(n)
}

fn c_isspace(c: u8) -> bool {
    c == b' ' || (9..=13).contains(&c)
}

/// `sdssplitargs`, transcribed over a NUL-terminated copy of the line.
fn ref_split(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut s = line.to_vec();
    s.extend_from_slice(&[0, 0, 0, 0]);
    let mut p = 0;
    let mut out = Vec::new();
    loop {
        while s[p] != 0 && c_isspace(s[p]) {
            p += 1;
        }
        if s[p] == 0 {
            return Some(out);
        }
        let (mut inq, mut insq, mut done) = (false, false, false);
        let mut cur = Vec::new();
        while !done {
            if inq {
                if s[p] == b'\\'
                    && s[p + 1] == b'x'
                    && s[p + 2].is_ascii_hexdigit()
                    && s[p + 3].is_ascii_hexdigit()
                {
                    let hex = std::str::from_utf8(&s[p + 2..p + 4]).unwrap();
                    cur.push(u8::from_str_radix(hex, 16).unwrap());
                    p += 3;
                } else if s[p] == b'\\' && s[p + 1] != 0 {
                    p += 1;
                    cur.push(match s[p] {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        c => c,
                    });
                } else if s[p] == b'"' {
                    if s[p + 1] != 0 && !c_isspace(s[p + 1]) {
                        return None;
                    }
                    done = true;
                } else if s[p] == 0 {
                    return None;
                } else {
                    cur.push(s[p]);
                }
            } else if insq {
                if s[p] == b'\\' && s[p + 1] == b'\'' {
                    p += 1;
                    cur.push(b'\'');
                } else if s[p] == b'\'' {
                    if s[p + 1] != 0 && !c_isspace(s[p + 1]) {
                        return None;
                    }
                    done = true;
                } else if s[p] == 0 {
                    return None;
                } else {
                    cur.push(s[p]);
                }
            } else {
                match s[p] {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    c => cur.push(c),
                }
            }
            if s[p] != 0 {
                p += 1;
            }
        }
        out.push(cur);
    }
}

const MAX_LINE: usize = 64 * 1024;

/// The reference: what Redis 7 does with `buf` (the client's whole query buffer).
pub fn reference(limits: ParseLimits, buf: &[u8]) -> Outcome {
    let e = |s: &str| Err(format!("Protocol error: {s}"));
    if buf.is_empty() {
        return Ok(None);
    }
    if buf[0] != b'*' {
        let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
            return if buf.len() > MAX_LINE {
                e("too big inline request")
            } else {
                Ok(None)
            };
        };
        let end = if nl > 0 && buf[nl - 1] == b'\r' {
            nl - 1
        } else {
            nl
        };
        return match ref_split(&buf[..end]) {
            Some(args) => Ok(Some((nl + 1, args))),
            None => e("unbalanced quotes in request"),
        };
    }
    let find_cr = |from: usize| {
        buf[from..]
            .iter()
            .position(|&b| b == b'\r')
            .map(|i| i + from)
    };
    let Some(cr) = find_cr(0) else {
        return if buf.len() > MAX_LINE {
            e("too big mbulk count string")
        } else {
            Ok(None)
        };
    };
    if cr + 2 > buf.len() {
        return Ok(None);
    }
    let count = match ref_string2ll(&buf[1..cr]) {
        Some(n) if n <= 0 || (n as u64) <= limits.max_multibulk_len => n,
        _ => return e("invalid multibulk length"),
    };
    if count > 10 && !limits.authenticated {
        return e("unauthenticated multibulk length");
    }
    let mut pos = cr + 2;
    let mut args = Vec::new();
    let mut left = count.max(0) as u64;
    while left > 0 {
        let Some(cr) = find_cr(pos) else {
            return if buf.len() - pos > MAX_LINE {
                e("too big bulk count string")
            } else {
                Ok(None)
            };
        };
        if cr + 2 > buf.len() {
            return Ok(None);
        }
        if buf[pos] != b'$' {
            let got = match buf[pos] {
                b'\r' | b'\n' => b' ',
                b => b,
            };
            let mut msg = b"Protocol error: expected '$', got '".to_vec();
            msg.push(got);
            msg.push(b'\'');
            return Err(String::from_utf8_lossy(&msg).into_owned());
        }
        let len = match ref_string2ll(&buf[pos + 1..cr]) {
            Some(n) if n >= 0 && (n as u64) <= limits.max_bulk_len => n as u64,
            _ => return e("invalid bulk length"),
        };
        if len > 16384 && !limits.authenticated {
            return e("unauthenticated bulk length");
        }
        pos = cr + 2;
        if ((buf.len() - pos) as u64) < len + 2 {
            return Ok(None);
        }
        args.push(buf[pos..pos + len as usize].to_vec());
        pos += len as usize + 2;
        left -= 1;
    }
    Ok(Some((pos, args)))
}
