//! Tokenising and quoting of configuration lines, byte for byte as Redis
//! does it. Config files, command-line overrides and `CONFIG REWRITE` all
//! have to agree on how a line turns into arguments, so the reader
//! ([`split_args`], Redis `sdssplitargs`) and the writer ([`quote_arg`], the
//! inverse, modelled on `sdscatrepr`) live together here and are tested
//! against each other.

/// Splits one line into arguments with the rules of Redis `sdssplitargs`:
/// blanks separate arguments; `"..."` supports `\xHH`, `\n`, `\r`, `\t`,
/// `\b`, `\a` and `\<any>` escapes; `'...'` supports only `\'`; a closing
/// quote must be followed by a blank or the end of the line. Returns `None`
/// for unbalanced quotes (Redis returns NULL). Like the C code, a NUL byte
/// ends the line. The tokenizer itself is the protocol crate's (inline
/// commands follow the same rules), so there is one implementation.
pub(crate) fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut buf = Vec::new();
    let mut spans = Vec::new();
    if !ringkv_protocol::request::split_args(line, &mut buf, &mut spans) {
        return None;
    }
    Some(spans.iter().map(|&(s, e)| buf[s..e].to_vec()).collect())
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
