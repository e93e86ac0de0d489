//! Redis-style glob matching (`stringmatchlen`): `*`, `?`, `[...]` with
//! `^` negation and `a-z` ranges, and `\` escapes. `CONFIG GET` patterns and
//! wildcard `include` paths must match exactly what Redis would match, so
//! this is a faithful port, including the "skip longer matches" cut-off
//! and the nesting limit that keep hostile patterns from taking exponential
//! time.

/// Matches `string` against the glob `pattern`; `nocase` folds ASCII case.
pub fn string_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer = false;
    match_impl(pattern, string, nocase, &mut skip_longer, 0)
}

fn fold(b: u8, nocase: bool) -> u8 {
    if nocase {
        b.to_ascii_lowercase()
    } else {
        b
    }
}

fn match_impl(
    pattern: &[u8],
    string: &[u8],
    nocase: bool,
    skip_longer: &mut bool,
    nesting: usize,
) -> bool {
    if nesting > 1000 {
        return false;
    }
    // Byte at `i` of `s`, or 0 past the end (the C code reads the NUL).
    fn at(s: &[u8], i: usize) -> u8 {
        s.get(i).copied().unwrap_or(0)
    }
    let mut p = 0usize; // index into pattern
    let mut s = 0usize; // index into string
    while p < pattern.len() && s < string.len() {
        match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                while s < string.len() {
                    if match_impl(
                        &pattern[p + 1..],
                        &string[s..],
                        nocase,
                        skip_longer,
                        nesting + 1,
                    ) {
                        return true;
                    }
                    if *skip_longer {
                        return false;
                    }
                    s += 1;
                }
                *skip_longer = true;
                return false;
            }
            b'?' => {
                s += 1;
            }
            b'[' => {
                p += 1;
                let not = at(pattern, p) == b'^';
                if not {
                    p += 1;
                }
                let mut matched = false;
                let c = string[s];
                loop {
                    let remaining = pattern.len().saturating_sub(p);
                    if at(pattern, p) == b'\\' && remaining >= 2 {
                        p += 1;
                        if pattern[p] == c {
                            matched = true;
                        }
                    } else if at(pattern, p) == b']' && remaining >= 1 {
                        break;
                    } else if remaining == 0 {
                        // Unterminated class: step back so the outer
                        // increment lands on the end of the pattern.
                        p -= 1;
                        break;
                    } else if remaining >= 3 && pattern[p + 1] == b'-' {
                        let mut start = pattern[p];
                        let mut end = pattern[p + 2];
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        let (start, end, ch) =
                            (fold(start, nocase), fold(end, nocase), fold(c, nocase));
                        p += 2;
                        if ch >= start && ch <= end {
                            matched = true;
                        }
                    } else if fold(pattern[p], nocase) == fold(c, nocase) {
                        matched = true;
                    }
                    p += 1;
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s += 1;
            }
            b => {
                let mut lit = b;
                if b == b'\\' && pattern.len() - p >= 2 {
                    p += 1;
                    lit = pattern[p];
                }
                if fold(lit, nocase) != fold(string[s], nocase) {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
        if s == string.len() {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            break;
        }
    }
    p >= pattern.len() && s == string.len()
}

/// True when `pattern` contains a glob metacharacter that Redis looks for
/// before deciding between an exact lookup and a pattern scan.
pub(crate) fn has_glob_chars(pattern: &[u8]) -> bool {
    pattern.iter().any(|b| matches!(b, b'*' | b'?' | b'['))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, s: &str) -> bool {
        string_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn basics() {
        assert!(m("*", "anything"));
        // Faithful to Redis: the loop never runs for an empty string, so
        // "*" does not match "" (config names are never empty).
        assert!(!m("*", ""));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("max*", "maxmemory"));
        assert!(!m("max*", "amaxmemory"));
        assert!(m("*memory*", "maxmemory-policy"));
        assert!(m("h?", "hz"));
        assert!(!m("h?", "h"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
    }

    #[test]
    fn classes() {
        assert!(m("[ph]*", "port"));
        assert!(m("[ph]*", "hz"));
        assert!(!m("[ph]*", "dir"));
        assert!(m("[^ph]*", "dir"));
        assert!(!m("[^ph]*", "port"));
        assert!(m("[a-c]x", "bx"));
        assert!(m("[c-a]x", "bx"));
        assert!(!m("[a-c]x", "dx"));
        assert!(m("[\\]]", "]"));
        // Unterminated class behaves as in Redis.
        assert!(m("[ab", "a"));
    }

    #[test]
    fn escapes_and_case() {
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "aXb"));
        assert!(string_match(b"MAX*", b"maxmemory", true));
        assert!(!string_match(b"MAX*", b"maxmemory", false));
        assert!(string_match(b"[A-C]x", b"bx", true));
    }

    #[test]
    fn trailing_stars_after_string_end() {
        assert!(m("abc***", "abc"));
        assert!(!m("abc*?", "abc"));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let pat = "a*".repeat(40) + "b";
        let s = "a".repeat(60);
        assert!(!m(&pat, &s));
    }

    #[test]
    fn glob_chars() {
        assert!(has_glob_chars(b"ma*"));
        assert!(has_glob_chars(b"h?"));
        assert!(has_glob_chars(b"[ab]"));
        assert!(!has_glob_chars(b"maxmemory"));
    }
}
