//! Tokenising and quoting of configuration lines, byte for byte as Redis
//! does it. Config files, command-line overrides and `CONFIG REWRITE` all
//! have to agree on how a line turns into arguments, so the reader
//! ([`split_args`], Redis `sdssplitargs`) and the writer ([`quote_arg`], the
//! inverse, modelled on `sdscatrepr`) live together here and are tested
//! against each other.

/// `isspace` of the C locale.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Splits one line into arguments with the rules of Redis `sdssplitargs`:
/// blanks separate arguments; `"..."` supports `\xHH`, `\n`, `\r`, `\t`,
/// `\b`, `\a` and `\<any>` escapes; `'...'` supports only `\'`; a closing
/// quote must be followed by a blank or the end of the line. Returns `None`
/// for unbalanced quotes (Redis returns NULL). Like the C code, a NUL byte
/// ends the line.
pub(crate) fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let end = line.iter().position(|&b| b == 0).unwrap_or(line.len());
    let line = &line[..end];
    let at = |i: usize| -> u8 { line.get(i).copied().unwrap_or(0) };
    let mut args = Vec::new();
    let mut p = 0usize;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Some(args);
        }
        let mut current = Vec::new();
        let mut in_dq = false;
        let mut in_sq = false;
        let mut done = false;
        while !done {
            let c = at(p);
            if in_dq {
                if c == b'\\' && at(p + 1) == b'x' {
                    if let (Some(h), Some(l)) = (hex_value(at(p + 2)), hex_value(at(p + 3))) {
                        current.push(h * 16 + l);
                        p += 3;
                    } else {
                        // Not a valid \x escape: plain backslash escape of 'x'.
                        current.push(b'x');
                        p += 1;
                    }
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    let next = at(p + 1);
                    if next != 0 && !is_space(next) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else if in_sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if c == b'\'' {
                    let next = at(p + 1);
                    if next != 0 && !is_space(next) {
                        return None;
                    }
                    done = true;
                } else if c == 0 {
                    return None;
                } else {
                    current.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    other => current.push(other),
                }
            }
            if c != 0 {
                p += 1;
            }
        }
        args.push(current);
    }
}

/// Trims the characters Redis trims from config lines (`" \t\r\n"`).
pub(crate) fn trim_line(line: &[u8]) -> &[u8] {
    let is_trim = |b: &u8| matches!(*b, b' ' | b'\t' | b'\r' | b'\n');
    let start = line.iter().position(|b| !is_trim(b)).unwrap_or(line.len());
    let end = line
        .iter()
        .rposition(|b| !is_trim(b))
        .map_or(start, |e| e + 1);
    &line[start..end]
}

/// True when `arg` can be written bare and still read back by
/// [`split_args`] as exactly one argument equal to itself.
fn is_bare(arg: &[u8]) -> bool {
    !arg.is_empty()
        && arg
            .iter()
            .all(|&b| b.is_ascii_graphic() && !matches!(b, b'"' | b'\'' | b'\\'))
}

/// Writes `arg` so that [`split_args`] reads it back as one argument equal
/// to `arg`: bare when that is safe, otherwise double-quoted with the
/// escapes of Redis `sdscatrepr` (`\\`, `\"`, `\n`, `\r`, `\t`, `\a`, `\b`,
/// `\xHH` for anything not printable ASCII).
pub(crate) fn quote_arg(arg: &[u8]) -> String {
    if is_bare(arg) {
        // is_bare guarantees ASCII.
        return String::from_utf8_lossy(arg).into_owned();
    }
    let mut out = String::with_capacity(arg.len() + 2);
    out.push('"');
    for &b in arg {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'"' => out.push_str("\\\""),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            0x07 => out.push_str("\\a"),
            0x08 => out.push_str("\\b"),
            b' '..=b'~' => out.push(b as char),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Option<Vec<String>> {
        split_args(s.as_bytes()).map(|v| {
            v.into_iter()
                .map(|a| String::from_utf8(a).unwrap())
                .collect()
        })
    }

    #[test]
    fn plain_words() {
        assert_eq!(split("port 6379").unwrap(), ["port", "6379"]);
        assert_eq!(
            split("  bind\t127.0.0.1   ::1 ").unwrap(),
            ["bind", "127.0.0.1", "::1"]
        );
        assert!(split("").unwrap().is_empty());
        assert!(split("   ").unwrap().is_empty());
    }

    #[test]
    fn double_quotes_and_escapes() {
        assert_eq!(
            split(r#"requirepass "a b""#).unwrap(),
            ["requirepass", "a b"]
        );
        assert_eq!(split(r#"x "\x41\n\t\"\\z""#).unwrap(), ["x", "A\n\t\"\\z"]);
        assert_eq!(split(r#"x """#).unwrap(), ["x", ""]);
        // A quote may start mid-token, as in Redis.
        assert_eq!(split(r#"ab"c d""#).unwrap(), ["abc d"]);
        // Invalid \x escape keeps the 'x'.
        assert_eq!(split(r#""\xZZ""#).unwrap(), ["xZZ"]);
    }

    #[test]
    fn single_quotes() {
        assert_eq!(split(r"x 'a b'").unwrap(), ["x", "a b"]);
        assert_eq!(split(r"x 'it\'s'").unwrap(), ["x", "it's"]);
        assert_eq!(split(r"x 'a\nb'").unwrap(), ["x", r"a\nb"]);
    }

    #[test]
    fn unbalanced_or_glued_quotes_fail() {
        assert!(split(r#"x "abc"#).is_none());
        assert!(split(r"x 'abc").is_none());
        assert!(split(r#"x "abc"def"#).is_none());
        assert!(split(r"x 'abc'def").is_none());
        assert!(split(r#"x "abc\"#).is_none());
    }

    #[test]
    fn binary_hex_escape() {
        let v = split_args(br#""\xff\x00""#).unwrap();
        assert_eq!(v, vec![vec![0xff, 0x00]]);
    }

    #[test]
    fn trim() {
        assert_eq!(trim_line(b" \t port 1 \r\n"), b"port 1");
        assert_eq!(trim_line(b"   "), b"");
        assert_eq!(trim_line(b""), b"");
    }

    #[test]
    fn quote_round_trip_examples() {
        for s in [
            "",
            "a b",
            "plain",
            "q\"uote",
            "it's",
            "back\\slash",
            "tab\there",
            "é",
            "#x",
        ] {
            let q = quote_arg(s.as_bytes());
            let back = split_args(q.as_bytes()).unwrap();
            assert_eq!(back, vec![s.as_bytes().to_vec()], "quoted form {q}");
        }
        assert_eq!(quote_arg(b"127.0.0.1"), "127.0.0.1");
        assert_eq!(quote_arg(b"a b"), "\"a b\"");
        assert_eq!(quote_arg(b""), "\"\"");
    }

    proptest::proptest! {
        #[test]
        fn quote_then_split_round_trips(arg in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..40)) {
            let q = quote_arg(&arg);
            proptest::prop_assert_eq!(split_args(q.as_bytes()), Some(vec![arg.clone()]));
            // Several quoted args on one line come back as the same list.
            let line = format!("name {q} {q}");
            proptest::prop_assert_eq!(
                split_args(line.as_bytes()),
                Some(vec![b"name".to_vec(), arg.clone(), arg])
            );
        }

        #[test]
        fn split_never_panics(line in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..60)) {
            let _ = split_args(&line);
            let _ = trim_line(&line);
        }
    }
}
