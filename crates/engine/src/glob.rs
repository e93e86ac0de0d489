//! Glob-style pattern matching with Redis's exact rules (util.c `stringmatchlen`): `*`, `?`,
//! `[abc]`, `[^a-z]`, `\x` escapes, optional case folding. Used by KEYS, SCAN MATCH and
//! PSUBSCRIBE; the implementation lives in the config crate (CONFIG GET needs it too, and config is
//! the lowest layer), so there is exactly one.

pub use ringkv_config::glob_match;

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn redis_cases() {
        assert!(m("*", "anything"));
        // Like Redis stringmatchlen, "*" does not match the empty string (KEYS * special-cases it).
        assert!(!m("*", ""));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("h\\*llo", "h*llo"));
        assert!(!m("h\\*llo", "hello"));
        assert!(m("key:*", "key:1"));
        assert!(!m("key:*", "ke"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(glob_match(b"HELLO", b"hello", true));
        assert!(!m("", "a"));
        assert!(m("", ""));
        assert!(m("a**", "a"));
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let p = "a*".repeat(50) + "b";
        let s = "a".repeat(60);
        let start = std::time::Instant::now();
        assert!(!m(&p, &s));
        assert!(start.elapsed().as_secs() < 2);
    }
}
