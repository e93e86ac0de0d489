//! The generic keyspace commands against a real server: DEL, UNLINK, EXISTS, TYPE, KEYS, SCAN,
//! RANDOMKEY, RENAME, RENAMENX, COPY, MOVE, TOUCH, OBJECT, the EXPIRE and TTL families and PERSIST,
//! with Redis 7's exact replies and error texts.
//!
//! None of these commands answers WRONGTYPE (they work on every type), so there is no WRONGTYPE case.

mod common;
use common::{int, now_ms, raw_info_field, run, Raw, Server};
use std::collections::HashSet;
use std::time::Duration;

fn sorted_keys(c: &mut redis::Connection, pattern: &str) -> Vec<String> {
    let mut v: Vec<String> = redis::cmd("KEYS").arg(pattern).query(c).unwrap();
    v.sort();
    v
}

#[test]
fn del_unlink_exists_type_touch() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for k in ["a", "b", "c", "d"] {
        assert_eq!(run(&mut r, &["SET", k, "v"]), "+OK");
    }
    assert_eq!(run(&mut r, &["EXISTS", "a", "a", "b", "nokey"]), ":3");
    assert_eq!(run(&mut r, &["EXISTS", "nokey"]), ":0");
    assert_eq!(run(&mut r, &["DEL", "a", "b", "nokey", "a"]), ":2");
    assert_eq!(run(&mut r, &["EXISTS", "a", "b"]), ":0");
    assert_eq!(run(&mut r, &["UNLINK", "c", "nokey"]), ":1");
    assert_eq!(run(&mut r, &["EXISTS", "c"]), ":0");
    assert_eq!(run(&mut r, &["TYPE", "d"]), "+string");
    assert_eq!(run(&mut r, &["TYPE", "a"]), "+none");
    assert_eq!(run(&mut r, &["TOUCH", "d", "d", "a"]), ":2");
    assert_eq!(run(&mut r, &["TOUCH", "a"]), ":0");
    // Arity errors come from the command table.
    assert_eq!(
        run(&mut r, &["DEL"]),
        "-ERR wrong number of arguments for 'del' command"
    );
    assert_eq!(
        run(&mut r, &["UNLINK"]),
        "-ERR wrong number of arguments for 'unlink' command"
    );
    assert_eq!(
        run(&mut r, &["EXISTS"]),
        "-ERR wrong number of arguments for 'exists' command"
    );
    assert_eq!(
        run(&mut r, &["TYPE", "a", "b"]),
        "-ERR wrong number of arguments for 'type' command"
    );
    assert_eq!(
        run(&mut r, &["TOUCH"]),
        "-ERR wrong number of arguments for 'touch' command"
    );
    // An expired key neither exists nor counts for DEL.
    assert_eq!(run(&mut r, &["SET", "e", "v", "PX", "30"]), "+OK");
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(run(&mut r, &["DEL", "e"]), ":0");
    assert_eq!(run(&mut r, &["TYPE", "e"]), "+none");
}

#[test]
fn keys_matches_globs_and_skips_expired() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    for k in ["", "foo", "fao", "foobar", "bar", "f*o", "F00"] {
        let _: () = redis::cmd("SET").arg(k).arg("v").query(&mut c).unwrap();
    }
    // "*" alone matches every key, the empty key included.
    assert_eq!(
        sorted_keys(&mut c, "*"),
        vec!["", "F00", "bar", "f*o", "fao", "foo", "foobar"]
    );
    assert_eq!(
        sorted_keys(&mut c, "f*"),
        vec!["f*o", "fao", "foo", "foobar"]
    );
    assert_eq!(sorted_keys(&mut c, "f?o"), vec!["f*o", "fao", "foo"]);
    assert_eq!(sorted_keys(&mut c, "f[ao]o"), vec!["fao", "foo"]);
    assert_eq!(sorted_keys(&mut c, "f[^a]o"), vec!["f*o", "foo"]);
    assert_eq!(sorted_keys(&mut c, "f\\*o"), vec!["f*o"]);
    // Matching is case-sensitive.
    assert_eq!(sorted_keys(&mut c, "F*"), vec!["F00"]);
    assert_eq!(sorted_keys(&mut c, "nomatch*"), Vec::<String>::new());
    assert_eq!(sorted_keys(&mut c, ""), vec![""]);
    let _: () = redis::cmd("SET")
        .arg("fleeting")
        .arg("v")
        .arg("PX")
        .arg(30)
        .query(&mut c)
        .unwrap();
    assert_eq!(sorted_keys(&mut c, "fl*"), vec!["fleeting"]);
    std::thread::sleep(Duration::from_millis(80));
    assert_eq!(sorted_keys(&mut c, "fl*"), Vec::<String>::new());
    let mut r = s.raw();
    assert_eq!(
        run(&mut r, &["KEYS"]),
        "-ERR wrong number of arguments for 'keys' command"
    );
    assert_eq!(run(&mut r, &["KEYS", "bar"]), "[bar]");
}

/// Runs a complete SCAN iteration with extra arguments and returns every key it produced.
fn full_scan(c: &mut redis::Connection, extra: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut all = Vec::new();
    for _ in 0..100_000 {
        let (next, keys): (String, Vec<String>) =
            redis::cmd("SCAN").arg(&cursor).arg(extra).query(c).unwrap();
        all.extend(keys);
        cursor = next;
        if cursor == "0" {
            return all;
        }
    }
    panic!("SCAN did not terminate");
}

fn dedup_sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

#[test]
fn scan_options_and_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // Empty database: one call, cursor 0.
    assert_eq!(run(&mut r, &["SCAN", "0"]), "[0,[]]");
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..100 {
        p.cmd("SET").arg(format!("user:{i}")).arg("v").ignore();
        p.cmd("SET").arg(format!("item:{i}")).arg("v").ignore();
    }
    let _: () = p.query(&mut c).unwrap();

    let all = dedup_sorted(full_scan(&mut c, &[]));
    assert_eq!(all.len(), 200);
    let users = dedup_sorted(full_scan(&mut c, &["MATCH", "user:*"]));
    let expected: Vec<String> = dedup_sorted((0..100).map(|i| format!("user:{i}")).collect());
    assert_eq!(users, expected);
    let one = dedup_sorted(full_scan(&mut c, &["MATCH", "user:1?", "COUNT", "7"]));
    assert_eq!(
        one,
        dedup_sorted((10..20).map(|i| format!("user:{i}")).collect())
    );
    // MATCH "*" is no filter at all.
    assert_eq!(dedup_sorted(full_scan(&mut c, &["MATCH", "*"])).len(), 200);
    // TYPE filters by the type name, case-insensitively; unknown types match nothing.
    assert_eq!(
        dedup_sorted(full_scan(&mut c, &["TYPE", "string"])).len(),
        200
    );
    assert_eq!(
        dedup_sorted(full_scan(&mut c, &["TYPE", "STRING"])).len(),
        200
    );
    assert!(full_scan(&mut c, &["TYPE", "hash"]).is_empty());
    assert!(full_scan(&mut c, &["TYPE", "nosuchtype"]).is_empty());
    assert_eq!(
        dedup_sorted(full_scan(
            &mut c,
            &["MATCH", "item:*", "TYPE", "string", "COUNT", "3"]
        ))
        .len(),
        100
    );
    // A large COUNT returns everything in one call with cursor 0.
    let (cursor, keys): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    assert_eq!(cursor, "0");
    assert_eq!(keys.len(), 200);
    // COUNT bounds the work per call: a small COUNT cannot return everything at once.
    let (cursor, keys): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(5)
        .query(&mut c)
        .unwrap();
    assert_ne!(cursor, "0");
    assert!(keys.len() < 200, "{} keys", keys.len());
    // Options may repeat (last wins) and are case-insensitive.
    let (_, keys): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("match")
        .arg("nothing*")
        .arg("MaTcH")
        .arg("user:*")
        .arg("count")
        .arg(1000)
        .query(&mut c)
        .unwrap();
    assert_eq!(keys.len(), 100);

    // Cursor syntax: an unsigned 64-bit decimal.
    for bad in ["abc", "-1", "1.5", "", "18446744073709551616", "1 "] {
        assert_eq!(
            run(&mut r, &["SCAN", bad]),
            "-ERR invalid cursor",
            "{bad:?}"
        );
    }
    let big = run(&mut r, &["SCAN", "18446744073709551615", "COUNT", "1"]);
    assert!(big.starts_with('['), "{big}");
    // The cursor is checked before the options.
    assert_eq!(run(&mut r, &["SCAN", "x", "FOO"]), "-ERR invalid cursor");
    assert_eq!(
        run(&mut r, &["SCAN", "0", "COUNT", "0"]),
        "-ERR syntax error"
    );
    assert_eq!(
        run(&mut r, &["SCAN", "0", "COUNT", "-1"]),
        "-ERR syntax error"
    );
    assert_eq!(
        run(&mut r, &["SCAN", "0", "COUNT", "abc"]),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(run(&mut r, &["SCAN", "0", "COUNT"]), "-ERR syntax error");
    assert_eq!(run(&mut r, &["SCAN", "0", "MATCH"]), "-ERR syntax error");
    assert_eq!(run(&mut r, &["SCAN", "0", "TYPE"]), "-ERR syntax error");
    // Redis 7.4: NOVALUES belongs to HSCAN alone.
    assert_eq!(
        run(&mut r, &["SCAN", "0", "NOVALUES"]),
        "-ERR NOVALUES option can only be used in HSCAN"
    );
    assert_eq!(
        run(&mut r, &["SCAN", "0", "FOO", "bar"]),
        "-ERR syntax error"
    );
    assert_eq!(
        run(&mut r, &["SCAN"]),
        "-ERR wrong number of arguments for 'scan' command"
    );
}

/// SCAN's guarantee: a full iteration returns every key present from start to end even though the
/// table grows and shrinks (and rehashes) between calls.
#[test]
fn scan_returns_every_stable_key_while_the_table_grows_and_shrinks() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..2000 {
        p.cmd("SET").arg(format!("orig:{i}")).arg("v").ignore();
    }
    let _: () = p.query(&mut c).unwrap();

    let mut churn: std::collections::VecDeque<String> = Default::default();
    let mut next_churn = 0u64;
    let mut seen: HashSet<String> = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0u64;
    loop {
        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("COUNT")
            .arg(100)
            .query(&mut c)
            .unwrap();
        seen.extend(keys);
        cursor = next;
        calls += 1;
        if cursor == "0" {
            break;
        }
        assert!(calls < 20_000, "SCAN did not terminate");
        // Cycles of 16 calls: eight add 1000 keys each (2000 -> 10000 keys: the table grows to
        // 16384 buckets), eight remove 1000 each (back to 2000: it shrinks again).
        let mut p = redis::pipe();
        if (calls - 1) % 16 < 8 {
            for _ in 0..1000 {
                let k = format!("churn:{next_churn}");
                next_churn += 1;
                p.cmd("SET").arg(&k).arg("v").ignore();
                churn.push_back(k);
            }
        } else {
            for _ in 0..1000 {
                if let Some(k) = churn.pop_front() {
                    p.cmd("DEL").arg(k).ignore();
                }
            }
        }
        if p.cmd_iter().next().is_some() {
            let _: () = p.query(&mut c).unwrap();
        }
    }
    assert!(
        calls > 16,
        "the iteration should span growth and shrink cycles ({calls} calls)"
    );
    let missing: Vec<String> = (0..2000)
        .map(|i| format!("orig:{i}"))
        .filter(|k| !seen.contains(k))
        .collect();
    assert!(
        missing.is_empty(),
        "{} keys never returned: {:?}",
        missing.len(),
        &missing[..missing.len().min(10)]
    );
}

#[test]
fn randomkey_returns_a_live_key_or_nil() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["RANDOMKEY"]), "(nil)");
    for k in ["a", "b", "c"] {
        assert_eq!(run(&mut r, &["SET", k, "v"]), "+OK");
    }
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let k = run(&mut r, &["RANDOMKEY"]);
        assert!(["a", "b", "c"].contains(&k.as_str()), "{k}");
        seen.insert(k);
    }
    assert_eq!(seen.len(), 3);
    // Expired keys are never returned.
    assert_eq!(run(&mut r, &["DEL", "a", "b", "c"]), ":3");
    assert_eq!(run(&mut r, &["SET", "gone", "v", "PX", "20"]), "+OK");
    assert_eq!(run(&mut r, &["SET", "kept", "v"]), "+OK");
    std::thread::sleep(Duration::from_millis(60));
    for _ in 0..20 {
        assert_eq!(run(&mut r, &["RANDOMKEY"]), "kept");
    }
    assert_eq!(
        run(&mut r, &["RANDOMKEY", "x"]),
        "-ERR wrong number of arguments for 'randomkey' command"
    );
}

#[test]
fn rename_and_renamenx() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["RENAME", "nokey", "x"]), "-ERR no such key");
    assert_eq!(
        run(&mut r, &["RENAME", "nokey", "nokey"]),
        "-ERR no such key"
    );
    assert_eq!(run(&mut r, &["RENAMENX", "nokey", "x"]), "-ERR no such key");
    assert_eq!(run(&mut r, &["SET", "a", "1"]), "+OK");
    // Same name: no-op.
    assert_eq!(run(&mut r, &["RENAME", "a", "a"]), "+OK");
    assert_eq!(run(&mut r, &["RENAMENX", "a", "a"]), ":0");
    assert_eq!(run(&mut r, &["GET", "a"]), "1");
    assert_eq!(run(&mut r, &["RENAME", "a", "b"]), "+OK");
    assert_eq!(run(&mut r, &["EXISTS", "a"]), ":0");
    assert_eq!(run(&mut r, &["GET", "b"]), "1");

    // RENAME keeps the source's TTL; the overwritten destination's TTL goes with its value.
    assert_eq!(run(&mut r, &["SET", "t", "ttl-value", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["RENAME", "t", "t2"]), "+OK");
    assert_eq!(run(&mut r, &["TTL", "t2"]), ":100");
    assert_eq!(run(&mut r, &["GET", "t2"]), "ttl-value");
    assert_eq!(run(&mut r, &["SET", "dst", "old", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["RENAME", "b", "dst"]), "+OK");
    assert_eq!(run(&mut r, &["GET", "dst"]), "1");
    assert_eq!(run(&mut r, &["TTL", "dst"]), ":-1");
    assert_eq!(run(&mut r, &["RENAME", "t2", "dst"]), "+OK");
    assert_eq!(run(&mut r, &["TTL", "dst"]), ":100");

    // RENAMENX refuses an existing destination and leaves both keys alone.
    assert_eq!(run(&mut r, &["SET", "x", "X"]), "+OK");
    assert_eq!(run(&mut r, &["SET", "y", "Y"]), "+OK");
    assert_eq!(run(&mut r, &["RENAMENX", "x", "y"]), ":0");
    assert_eq!(run(&mut r, &["GET", "x"]), "X");
    assert_eq!(run(&mut r, &["GET", "y"]), "Y");
    assert_eq!(run(&mut r, &["RENAMENX", "x", "z"]), ":1");
    assert_eq!(run(&mut r, &["GET", "z"]), "X");
    assert_eq!(run(&mut r, &["EXISTS", "x"]), ":0");
    // An expired source does not exist.
    assert_eq!(run(&mut r, &["SET", "e", "v", "PX", "20"]), "+OK");
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(run(&mut r, &["RENAME", "e", "f"]), "-ERR no such key");
    assert_eq!(
        run(&mut r, &["RENAME", "a"]),
        "-ERR wrong number of arguments for 'rename' command"
    );
    assert_eq!(
        run(&mut r, &["RENAMENX", "a", "b", "c"]),
        "-ERR wrong number of arguments for 'renamenx' command"
    );
}

#[test]
fn copy_within_and_across_databases() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "a", "va"]), "+OK");
    assert_eq!(run(&mut r, &["COPY", "a", "b"]), ":1");
    assert_eq!(run(&mut r, &["GET", "b"]), "va");
    assert_eq!(run(&mut r, &["GET", "a"]), "va");
    // Existing destination: refused unless REPLACE.
    assert_eq!(run(&mut r, &["SET", "a", "va2"]), "+OK");
    assert_eq!(run(&mut r, &["COPY", "a", "b"]), ":0");
    assert_eq!(run(&mut r, &["GET", "b"]), "va");
    assert_eq!(run(&mut r, &["COPY", "a", "b", "replace"]), ":1");
    assert_eq!(run(&mut r, &["GET", "b"]), "va2");
    assert_eq!(run(&mut r, &["COPY", "nokey", "b"]), ":0");
    assert_eq!(run(&mut r, &["COPY", "nokey", "nokey2", "REPLACE"]), ":0");
    // The copy is independent of the source.
    assert_eq!(run(&mut r, &["APPEND", "b", "!"]), ":4");
    assert_eq!(run(&mut r, &["GET", "a"]), "va2");
    // TTL is copied; REPLACE drops the destination's own TTL.
    assert_eq!(run(&mut r, &["SET", "t", "v", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["COPY", "t", "t2"]), ":1");
    assert_eq!(run(&mut r, &["TTL", "t2"]), ":100");
    assert_eq!(run(&mut r, &["COPY", "a", "t2", "REPLACE"]), ":1");
    assert_eq!(run(&mut r, &["TTL", "t2"]), ":-1");
    assert_eq!(run(&mut r, &["TTL", "t"]), ":100");

    // Same key in the same database is an error, whichever way the db is named.
    let same = "-ERR source and destination objects are the same";
    assert_eq!(run(&mut r, &["COPY", "a", "a"]), same);
    assert_eq!(run(&mut r, &["COPY", "a", "a", "DB", "0"]), same);
    assert_eq!(run(&mut r, &["COPY", "nokey", "nokey"]), same);
    // Option errors.
    let range = "-ERR DB index is out of range";
    assert_eq!(run(&mut r, &["COPY", "a", "b", "DB", "16"]), range);
    assert_eq!(run(&mut r, &["COPY", "a", "b", "DB", "-1"]), range);
    let not_int = "-ERR value is not an integer or out of range";
    assert_eq!(run(&mut r, &["COPY", "a", "b", "DB", "x"]), not_int);
    assert_eq!(
        run(&mut r, &["COPY", "a", "b", "DB", "4294967296"]),
        not_int
    );
    assert_eq!(run(&mut r, &["COPY", "a", "b", "DB"]), "-ERR syntax error");
    assert_eq!(run(&mut r, &["COPY", "a", "b", "FOO"]), "-ERR syntax error");
    assert_eq!(
        run(&mut r, &["COPY", "a"]),
        "-ERR wrong number of arguments for 'copy' command"
    );

    // Across databases, same key name allowed; TTL travels too.
    assert_eq!(run(&mut r, &["COPY", "a", "a", "DB", "1"]), ":1");
    assert_eq!(run(&mut r, &["COPY", "t", "t", "db", "1"]), ":1");
    assert_eq!(run(&mut r, &["COPY", "a", "a", "DB", "1"]), ":0");
    assert_eq!(run(&mut r, &["SET", "a", "newer"]), "+OK");
    assert_eq!(run(&mut r, &["COPY", "a", "a", "REPLACE", "DB", "1"]), ":1");
    assert_eq!(run(&mut r, &["SELECT", "1"]), "+OK");
    assert_eq!(run(&mut r, &["GET", "a"]), "newer");
    assert_eq!(run(&mut r, &["TTL", "t"]), ":100");
    assert_eq!(run(&mut r, &["EXISTS", "b"]), ":0");
    // And back from db 1 to db 0 under a new name.
    assert_eq!(run(&mut r, &["COPY", "a", "from1", "DB", "0"]), ":1");
    assert_eq!(run(&mut r, &["SELECT", "0"]), "+OK");
    assert_eq!(run(&mut r, &["GET", "from1"]), "newer");
    assert_eq!(run(&mut r, &["GET", "a"]), "newer");
}

#[test]
fn move_between_databases() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "k", "v", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["MOVE", "k", "1"]), ":1");
    assert_eq!(run(&mut r, &["EXISTS", "k"]), ":0");
    assert_eq!(run(&mut r, &["MOVE", "k", "1"]), ":0");
    assert_eq!(run(&mut r, &["MOVE", "nokey", "2"]), ":0");
    assert_eq!(run(&mut r, &["SELECT", "1"]), "+OK");
    assert_eq!(run(&mut r, &["GET", "k"]), "v");
    assert_eq!(run(&mut r, &["TTL", "k"]), ":100");
    let same = "-ERR source and destination objects are the same";
    assert_eq!(run(&mut r, &["MOVE", "k", "1"]), same);
    // The same-db check comes before the key lookup.
    assert_eq!(run(&mut r, &["MOVE", "nokey", "1"]), same);
    let range = "-ERR DB index is out of range";
    assert_eq!(run(&mut r, &["MOVE", "k", "16"]), range);
    assert_eq!(run(&mut r, &["MOVE", "k", "-1"]), range);
    let not_int = "-ERR value is not an integer or out of range";
    assert_eq!(run(&mut r, &["MOVE", "k", "one"]), not_int);
    assert_eq!(run(&mut r, &["MOVE", "k", "2147483648"]), not_int);
    // A key already present in the destination blocks the move; both values stay.
    assert_eq!(run(&mut r, &["SELECT", "0"]), "+OK");
    assert_eq!(run(&mut r, &["SET", "k", "zero"]), "+OK");
    assert_eq!(run(&mut r, &["MOVE", "k", "1"]), ":0");
    assert_eq!(run(&mut r, &["GET", "k"]), "zero");
    assert_eq!(run(&mut r, &["SELECT", "1"]), "+OK");
    assert_eq!(run(&mut r, &["GET", "k"]), "v");
    // Back to db 0 after deleting the blocker: works, TTL kept.
    assert_eq!(run(&mut r, &["SELECT", "0"]), "+OK");
    assert_eq!(run(&mut r, &["DEL", "k"]), ":1");
    assert_eq!(run(&mut r, &["SELECT", "1"]), "+OK");
    assert_eq!(run(&mut r, &["MOVE", "k", "0"]), ":1");
    assert_eq!(run(&mut r, &["EXISTS", "k"]), ":0");
    assert_eq!(run(&mut r, &["SELECT", "0"]), "+OK");
    assert_eq!(run(&mut r, &["GET", "k"]), "v");
    assert_eq!(run(&mut r, &["TTL", "k"]), ":100");
    assert_eq!(
        run(&mut r, &["MOVE", "k"]),
        "-ERR wrong number of arguments for 'move' command"
    );
}

#[test]
fn object_encoding_refcount_help() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let cases: Vec<(String, &str)> = vec![
        ("12345".into(), "int"),
        ("-12".into(), "int"),
        ("0".into(), "int"),
        ("9223372036854775807".into(), "int"),
        ("9223372036854775808".into(), "embstr"),
        ("012".into(), "embstr"),
        ("1.5".into(), "embstr"),
        ("hello".into(), "embstr"),
        ("x".repeat(44), "embstr"),
        ("x".repeat(45), "raw"),
        ("x".repeat(500), "raw"),
    ];
    for (i, (value, enc)) in cases.iter().enumerate() {
        let key = format!("k{i}");
        assert_eq!(run(&mut r, &["SET", &key, value]), "+OK");
        assert_eq!(
            run(&mut r, &["OBJECT", "ENCODING", &key]),
            *enc,
            "{value:?}"
        );
    }
    // A string edited in place is "raw" whatever its content, as in Redis.
    assert_eq!(run(&mut r, &["SET", "ap", "1"]), "+OK");
    assert_eq!(run(&mut r, &["APPEND", "ap", "2"]), ":2");
    assert_eq!(run(&mut r, &["OBJECT", "ENCODING", "ap"]), "raw");
    assert_eq!(run(&mut r, &["object", "encoding", "nokey"]), "(nil)");
    assert_eq!(run(&mut r, &["OBJECT", "REFCOUNT", "k0"]), ":1");
    // Redis shares the integers 0..9999 and reports INT_MAX references for them.
    assert_eq!(run(&mut r, &["SET", "small", "9999"]), "+OK");
    assert_eq!(run(&mut r, &["OBJECT", "REFCOUNT", "small"]), ":2147483647");
    assert_eq!(run(&mut r, &["SET", "small", "0"]), "+OK");
    assert_eq!(run(&mut r, &["OBJECT", "REFCOUNT", "small"]), ":2147483647");
    assert_eq!(run(&mut r, &["SET", "small", "10000"]), "+OK");
    assert_eq!(run(&mut r, &["OBJECT", "REFCOUNT", "small"]), ":1");
    assert_eq!(run(&mut r, &["SET", "small", "-1"]), "+OK");
    assert_eq!(run(&mut r, &["OBJECT", "REFCOUNT", "small"]), ":1");
    assert_eq!(run(&mut r, &["OBJECT", "REFCOUNT", "k7"]), ":1");
    assert_eq!(run(&mut r, &["OBJECT", "REFCOUNT", "nokey"]), "(nil)");

    let help = run(&mut r, &["OBJECT", "HELP"]);
    assert!(
        help.starts_with(
            "[+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:,+ENCODING <key>,"
        ),
        "{help}"
    );
    assert!(help.ends_with(",+HELP,+    Print this help.]"), "{help}");
    assert_eq!(help.matches(",+").count(), 14, "{help}");

    assert_eq!(
        run(&mut r, &["OBJECT", "FOO", "k"]),
        "-ERR unknown subcommand 'FOO'. Try OBJECT HELP."
    );
    assert_eq!(
        run(&mut r, &["OBJECT", "ENCODING"]),
        "-ERR wrong number of arguments for 'object|encoding' command"
    );
    assert_eq!(
        run(&mut r, &["OBJECT", "HELP", "x"]),
        "-ERR wrong number of arguments for 'object|help' command"
    );
    assert_eq!(
        run(&mut r, &["OBJECT"]),
        "-ERR wrong number of arguments for 'object' command"
    );
}

const NOT_LFU: &str = "-ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const IS_LFU: &str = "-ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

#[test]
fn object_idletime_and_freq_under_lru() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "k", "v"]), "+OK");
    assert_eq!(run(&mut r, &["SET", "other", "v"]), "+OK");
    assert_eq!(run(&mut r, &["OBJECT", "IDLETIME", "k"]), ":0");
    assert_eq!(run(&mut r, &["OBJECT", "FREQ", "k"]), NOT_LFU);
    // A missing key is nil before the policy is looked at.
    assert_eq!(run(&mut r, &["OBJECT", "FREQ", "nokey"]), "(nil)");
    assert_eq!(run(&mut r, &["OBJECT", "IDLETIME", "nokey"]), "(nil)");
    std::thread::sleep(Duration::from_millis(2100));
    // OBJECT itself does not refresh the clock; TOUCH does.
    assert_eq!(run(&mut r, &["OBJECT", "IDLETIME", "k"]), ":2");
    assert_eq!(run(&mut r, &["OBJECT", "IDLETIME", "k"]), ":2");
    assert_eq!(run(&mut r, &["TOUCH", "k"]), ":1");
    assert_eq!(run(&mut r, &["OBJECT", "IDLETIME", "k"]), ":0");
    // TYPE, TTL and EXISTS do not count as accesses either.
    assert_eq!(run(&mut r, &["TYPE", "other"]), "+string");
    assert_eq!(run(&mut r, &["TTL", "other"]), ":-1");
    assert_eq!(run(&mut r, &["OBJECT", "IDLETIME", "other"]), ":2");
}

#[test]
fn object_freq_and_idletime_under_lfu() {
    // lfu-decay-time 0 disables decay so the counter cannot drop at a minute boundary mid-test.
    // With maxmemory set, an LFU policy needs a per-key clock: no shared integers.
    let s = Server::start(&[
        "--maxmemory",
        "100mb",
        "--maxmemory-policy",
        "allkeys-lfu",
        "--lfu-decay-time",
        "0",
    ]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "k", "v"]), "+OK");
    // New keys start at LFU_INIT_VAL (5); the first access from there always increments.
    assert_eq!(run(&mut r, &["OBJECT", "FREQ", "k"]), ":5");
    assert_eq!(run(&mut r, &["GET", "k"]), "v");
    assert_eq!(run(&mut r, &["OBJECT", "FREQ", "k"]), ":6");
    for _ in 0..200 {
        run(&mut r, &["TOUCH", "k"]);
    }
    let freq = int(&mut r, &["OBJECT", "FREQ", "k"]);
    assert!(freq > 6 && freq < 255, "{freq}");
    assert_eq!(run(&mut r, &["OBJECT", "IDLETIME", "k"]), IS_LFU);
    assert_eq!(run(&mut r, &["OBJECT", "IDLETIME", "nokey"]), "(nil)");
    assert_eq!(run(&mut r, &["OBJECT", "FREQ", "nokey"]), "(nil)");
    assert_eq!(run(&mut r, &["SET", "small", "1"]), "+OK");
    assert_eq!(run(&mut r, &["OBJECT", "REFCOUNT", "small"]), ":1");
    assert_eq!(run(&mut r, &["OBJECT", "ENCODING", "small"]), "int");
}

fn info_stat(r: &mut Raw, field: &str) -> i64 {
    raw_info_field(r, "stats", field)
}

/// Read lookups count keyspace hits and misses; write lookups do not (Redis LOOKUP_WRITE).
#[test]
fn keyspace_hits_and_misses() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "k", "v"]), "+OK");
    let mut last = (
        info_stat(&mut r, "keyspace_hits"),
        info_stat(&mut r, "keyspace_misses"),
    );
    let cases: &[(&[&str], i64, i64)] = &[
        (&["TYPE", "k"], 1, 0),
        (&["TYPE", "nokey"], 0, 1),
        (&["TTL", "k"], 1, 0),
        (&["PTTL", "nokey"], 0, 1),
        (&["EXPIRETIME", "k"], 1, 0),
        (&["EXISTS", "k", "k", "nokey"], 2, 1),
        (&["TOUCH", "k", "nokey"], 1, 1),
        (&["OBJECT", "ENCODING", "k"], 1, 0),
        (&["OBJECT", "REFCOUNT", "nokey"], 0, 1),
        (&["COPY", "k", "k2"], 1, 0),
        (&["COPY", "nokey", "k3"], 0, 1),
        (&["EXPIRE", "k", "100"], 0, 0),
        (&["EXPIRE", "nokey", "100"], 0, 0),
        (&["PERSIST", "k"], 0, 0),
        (&["RENAME", "k2", "k4"], 0, 0),
        (&["MOVE", "k4", "1"], 0, 0),
        (&["DEL", "k", "nokey"], 0, 0),
    ];
    for (cmd, hits, misses) in cases {
        run(&mut r, cmd);
        let now = (
            info_stat(&mut r, "keyspace_hits"),
            info_stat(&mut r, "keyspace_misses"),
        );
        assert_eq!(
            (now.0 - last.0, now.1 - last.1),
            (*hits, *misses),
            "{cmd:?}"
        );
        last = now;
    }
}

/// Nil replies are RESP3 nulls on a RESP3 connection.
#[test]
fn nil_replies_in_resp3() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"HELLO", b"3"]);
    let hello = r.reply();
    assert!(hello.contains("proto"), "{hello}");
    for cmd in [
        &[&b"RANDOMKEY"[..]][..],
        &[b"OBJECT", b"ENCODING", b"nokey"],
        &[b"OBJECT", b"FREQ", b"nokey"],
        &[b"OBJECT", b"IDLETIME", b"nokey"],
        &[b"OBJECT", b"REFCOUNT", b"nokey"],
    ] {
        r.cmd(cmd);
        assert_eq!(r.line(), "_");
    }
    r.cmd(&[b"SCAN", b"0"]);
    assert_eq!(r.reply(), "[0,[]]");
    r.cmd(&[b"SET", b"k", b"v"]);
    assert_eq!(r.reply(), "+OK");
    r.cmd(&[b"OBJECT", b"HELP"]);
    assert_eq!(r.line(), "*15");
}

#[test]
fn expire_family_with_every_flag() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["EXPIRE", "nokey", "100"]), ":0");
    assert_eq!(run(&mut r, &["PEXPIRE", "nokey", "100", "XX"]), ":0");
    assert_eq!(run(&mut r, &["SET", "k", "v"]), "+OK");
    assert_eq!(run(&mut r, &["EXPIRE", "k", "100"]), ":1");
    assert_eq!(run(&mut r, &["TTL", "k"]), ":100");
    let pttl = int(&mut r, &["PTTL", "k"]);
    assert!(pttl > 99_000 && pttl <= 100_000, "{pttl}");

    // NX: only without a TTL.
    assert_eq!(run(&mut r, &["EXPIRE", "k", "200", "NX"]), ":0");
    assert_eq!(run(&mut r, &["TTL", "k"]), ":100");
    assert_eq!(run(&mut r, &["SET", "n", "v"]), "+OK");
    assert_eq!(run(&mut r, &["EXPIRE", "n", "200", "nx"]), ":1");
    assert_eq!(run(&mut r, &["TTL", "n"]), ":200");

    // XX: only with a TTL.
    assert_eq!(run(&mut r, &["SET", "x", "v"]), "+OK");
    assert_eq!(run(&mut r, &["EXPIRE", "x", "50", "XX"]), ":0");
    assert_eq!(run(&mut r, &["TTL", "x"]), ":-1");
    assert_eq!(run(&mut r, &["EXPIRE", "k", "150", "XX"]), ":1");
    assert_eq!(run(&mut r, &["TTL", "k"]), ":150");

    // GT: no TTL is infinite, so GT never applies to it.
    assert_eq!(run(&mut r, &["EXPIRE", "x", "50", "GT"]), ":0");
    assert_eq!(run(&mut r, &["TTL", "x"]), ":-1");
    assert_eq!(run(&mut r, &["EXPIRE", "k", "100", "GT"]), ":0");
    // (150 again would be later than the current deadline: time has passed since it was set.)
    assert_eq!(run(&mut r, &["EXPIRE", "k", "140", "GT"]), ":0");
    assert_eq!(run(&mut r, &["EXPIRE", "k", "300", "GT"]), ":1");
    assert_eq!(run(&mut r, &["TTL", "k"]), ":300");

    // LT: no TTL is infinite, so any TTL is lower.
    assert_eq!(run(&mut r, &["EXPIRE", "k", "400", "LT"]), ":0");
    assert_eq!(run(&mut r, &["TTL", "k"]), ":300");
    assert_eq!(run(&mut r, &["EXPIRE", "k", "250", "LT"]), ":1");
    assert_eq!(run(&mut r, &["TTL", "k"]), ":250");
    assert_eq!(run(&mut r, &["EXPIRE", "x", "500", "LT"]), ":1");
    assert_eq!(run(&mut r, &["TTL", "x"]), ":500");
    // XX combines with GT / LT.
    assert_eq!(run(&mut r, &["SET", "y", "v"]), "+OK");
    assert_eq!(run(&mut r, &["EXPIRE", "y", "100", "XX", "LT"]), ":0");
    assert_eq!(run(&mut r, &["EXPIRE", "x", "600", "XX", "GT"]), ":1");
    assert_eq!(run(&mut r, &["TTL", "x"]), ":600");

    // Flag conflicts and unknown options (checked before the time argument).
    let nx = "-ERR NX and XX, GT or LT options at the same time are not compatible";
    let gtlt = "-ERR GT and LT options at the same time are not compatible";
    assert_eq!(run(&mut r, &["EXPIRE", "k", "10", "NX", "XX"]), nx);
    assert_eq!(run(&mut r, &["EXPIRE", "k", "10", "NX", "GT"]), nx);
    assert_eq!(run(&mut r, &["PEXPIRE", "k", "10", "LT", "NX"]), nx);
    assert_eq!(run(&mut r, &["EXPIREAT", "k", "10", "GT", "LT", "NX"]), nx);
    assert_eq!(run(&mut r, &["EXPIRE", "k", "10", "GT", "LT"]), gtlt);
    assert_eq!(
        run(&mut r, &["PEXPIREAT", "k", "10", "XX", "GT", "LT"]),
        gtlt
    );
    assert_eq!(
        run(&mut r, &["EXPIRE", "k", "10", "FOO"]),
        "-ERR Unsupported option FOO"
    );
    assert_eq!(
        run(&mut r, &["EXPIRE", "k", "abc", "XX", "bar"]),
        "-ERR Unsupported option bar"
    );
    assert_eq!(
        run(&mut r, &["EXPIRE", "k", "abc"]),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(
        run(&mut r, &["EXPIRE", "k", "1.5"]),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(
        run(&mut r, &["EXPIRE", "k"]),
        "-ERR wrong number of arguments for 'expire' command"
    );
    // None of the failed commands touched the TTL.
    assert_eq!(run(&mut r, &["TTL", "k"]), ":250");

    // Overflow of seconds*1000 or of base+time.
    assert_eq!(
        run(&mut r, &["EXPIRE", "k", "9223372036854775807"]),
        "-ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        run(&mut r, &["EXPIRE", "k", "9223372036854775"]),
        "-ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        run(&mut r, &["EXPIRE", "nokey", "-9223372036854775808"]),
        "-ERR invalid expire time in 'expire' command"
    );
    assert_eq!(
        run(&mut r, &["PEXPIRE", "k", "9223372036854775807"]),
        "-ERR invalid expire time in 'pexpire' command"
    );
    assert_eq!(
        run(&mut r, &["EXPIREAT", "k", "9223372036854775807"]),
        "-ERR invalid expire time in 'expireat' command"
    );
    assert_eq!(run(&mut r, &["TTL", "k"]), ":250");
    // The largest absolute millisecond time is fine.
    assert_eq!(
        run(&mut r, &["PEXPIREAT", "x", "9223372036854775807"]),
        ":1"
    );
    assert_eq!(run(&mut r, &["PEXPIRETIME", "x"]), ":9223372036854775807");

    // Absolute forms and EXPIRETIME / PEXPIRETIME (EXPIRETIME rounds like TTL).
    assert_eq!(run(&mut r, &["PEXPIREAT", "k", "4102444800499"]), ":1");
    assert_eq!(run(&mut r, &["PEXPIRETIME", "k"]), ":4102444800499");
    assert_eq!(run(&mut r, &["EXPIRETIME", "k"]), ":4102444800");
    assert_eq!(run(&mut r, &["PEXPIREAT", "k", "4102444800500"]), ":1");
    assert_eq!(run(&mut r, &["EXPIRETIME", "k"]), ":4102444801");
    assert_eq!(run(&mut r, &["EXPIREAT", "k", "4102444800"]), ":1");
    assert_eq!(run(&mut r, &["PEXPIRETIME", "k"]), ":4102444800000");
    let ttl = int(&mut r, &["TTL", "k"]);
    let expected = 4_102_444_800 - now_ms() / 1000;
    assert!((ttl - expected).abs() <= 2, "{ttl} vs {expected}");
    assert_eq!(run(&mut r, &["EXPIRETIME", "nokey"]), ":-2");
    assert_eq!(run(&mut r, &["PEXPIRETIME", "nokey"]), ":-2");
    assert_eq!(run(&mut r, &["SET", "plain", "v"]), "+OK");
    assert_eq!(run(&mut r, &["EXPIRETIME", "plain"]), ":-1");
    assert_eq!(run(&mut r, &["PEXPIRETIME", "plain"]), ":-1");
    assert_eq!(run(&mut r, &["TTL", "plain"]), ":-1");
    assert_eq!(run(&mut r, &["PTTL", "plain"]), ":-1");
    assert_eq!(run(&mut r, &["TTL", "nokey"]), ":-2");
    assert_eq!(run(&mut r, &["PTTL", "nokey"]), ":-2");

    // TTL rounds to the nearest second: 2700 ms left reads as 3 (truncation would say 2).
    assert_eq!(run(&mut r, &["PEXPIRE", "plain", "2700"]), ":1");
    assert_eq!(run(&mut r, &["TTL", "plain"]), ":3");
    let pttl = int(&mut r, &["PTTL", "plain"]);
    assert!(pttl > 2500 && pttl <= 2700, "{pttl}");

    // A time in the past deletes the key and still answers 1, with or without flags.
    for (cmd, t) in [
        ("EXPIRE", "-1"),
        ("PEXPIRE", "0"),
        ("EXPIREAT", "1"),
        ("PEXPIREAT", "1000"),
    ] {
        assert_eq!(run(&mut r, &["SET", "gone", "v"]), "+OK");
        assert_eq!(run(&mut r, &[cmd, "gone", t]), ":1", "{cmd} {t}");
        assert_eq!(run(&mut r, &["EXISTS", "gone"]), ":0", "{cmd} {t}");
    }
    assert_eq!(run(&mut r, &["SET", "gone", "v"]), "+OK");
    assert_eq!(run(&mut r, &["EXPIRE", "gone", "-5", "LT"]), ":1");
    assert_eq!(run(&mut r, &["EXISTS", "gone"]), ":0");
    assert_eq!(run(&mut r, &["SET", "gone", "v", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["EXPIRE", "gone", "-5", "GT"]), ":0");
    assert_eq!(run(&mut r, &["EXISTS", "gone"]), ":1");
}

#[test]
fn persist_removes_the_ttl() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["PERSIST", "nokey"]), ":0");
    assert_eq!(run(&mut r, &["SET", "k", "v", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["PERSIST", "k"]), ":1");
    assert_eq!(run(&mut r, &["TTL", "k"]), ":-1");
    assert_eq!(run(&mut r, &["PERSIST", "k"]), ":0");
    assert_eq!(run(&mut r, &["GET", "k"]), "v");
    // A persisted key outlives its old deadline.
    assert_eq!(run(&mut r, &["PEXPIRE", "k", "50"]), ":1");
    assert_eq!(run(&mut r, &["PERSIST", "k"]), ":1");
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(run(&mut r, &["GET", "k"]), "v");
    assert_eq!(
        run(&mut r, &["PERSIST"]),
        "-ERR wrong number of arguments for 'persist' command"
    );
    assert_eq!(
        run(&mut r, &["TTL"]),
        "-ERR wrong number of arguments for 'ttl' command"
    );
}

#[test]
fn keys_with_a_ttl_disappear() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "px", "v", "PX", "300"]), "+OK");
    assert_eq!(run(&mut r, &["SET", "pexp", "v"]), "+OK");
    assert_eq!(run(&mut r, &["PEXPIRE", "pexp", "300"]), ":1");
    assert_eq!(run(&mut r, &["SET", "exp", "v"]), "+OK");
    assert_eq!(run(&mut r, &["EXPIRE", "exp", "2"]), ":1");
    let at = (now_ms() + 300).to_string();
    assert_eq!(run(&mut r, &["SET", "pat", "v"]), "+OK");
    assert_eq!(run(&mut r, &["PEXPIREAT", "pat", &at]), ":1");
    assert_eq!(run(&mut r, &["SET", "stays", "v"]), "+OK");
    let pttl = int(&mut r, &["PTTL", "px"]);
    assert!(pttl > 0 && pttl <= 300, "{pttl}");
    std::thread::sleep(Duration::from_millis(700));
    for k in ["px", "pexp", "pat"] {
        assert_eq!(run(&mut r, &["TTL", k]), ":-2", "{k}");
        assert_eq!(run(&mut r, &["PTTL", k]), ":-2", "{k}");
        assert_eq!(run(&mut r, &["EXISTS", k]), ":0", "{k}");
    }
    assert_eq!(run(&mut r, &["EXISTS", "exp"]), ":1");
    std::thread::sleep(Duration::from_millis(1400));
    assert_eq!(run(&mut r, &["TTL", "exp"]), ":-2");
    assert_eq!(run(&mut r, &["GET", "exp"]), "(nil)");
    assert_eq!(run(&mut r, &["KEYS", "*"]), "[stays]");
    assert_eq!(run(&mut r, &["SCAN", "0", "COUNT", "100"]), "[0,[stays]]");
}

/// The generic commands work on every type: TYPE, SCAN TYPE, COPY (a deep copy), RENAME, MOVE,
/// OBJECT and the EXPIRE family on hashes and sets.
#[test]
fn generic_commands_on_collections() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["HSET", "h", "f1", "v1", "f2", "v2"]), ":2");
    assert_eq!(run(&mut r, &["SADD", "si", "1", "2", "3"]), ":3");
    assert_eq!(run(&mut r, &["SADD", "ss", "a", "b"]), ":2");
    assert_eq!(run(&mut r, &["SET", "str", "v"]), "+OK");
    assert_eq!(run(&mut r, &["TYPE", "h"]), "+hash");
    assert_eq!(run(&mut r, &["TYPE", "si"]), "+set");
    assert_eq!(run(&mut r, &["OBJECT", "ENCODING", "h"]), "listpack");
    assert_eq!(run(&mut r, &["OBJECT", "ENCODING", "si"]), "intset");
    assert_eq!(run(&mut r, &["OBJECT", "ENCODING", "ss"]), "listpack");
    assert_eq!(run(&mut r, &["OBJECT", "REFCOUNT", "h"]), ":1");

    let mut c = s.conn();
    assert_eq!(
        dedup_sorted(full_scan(&mut c, &["TYPE", "hash"])),
        vec!["h"]
    );
    assert_eq!(
        dedup_sorted(full_scan(&mut c, &["TYPE", "Set"])),
        vec!["si", "ss"]
    );
    assert_eq!(
        dedup_sorted(full_scan(&mut c, &["TYPE", "string"])),
        vec!["str"]
    );
    assert_eq!(
        dedup_sorted(full_scan(&mut c, &["TYPE", "set", "MATCH", "s?"])),
        vec!["si", "ss"]
    );

    // COPY is deep: changing the copy leaves the source alone.
    assert_eq!(run(&mut r, &["COPY", "h", "h2"]), ":1");
    assert_eq!(run(&mut r, &["HSET", "h2", "f3", "v3"]), ":1");
    assert_eq!(run(&mut r, &["HLEN", "h"]), ":2");
    assert_eq!(run(&mut r, &["HLEN", "h2"]), ":3");
    // REPLACE across types.
    assert_eq!(run(&mut r, &["COPY", "si", "str", "REPLACE"]), ":1");
    assert_eq!(run(&mut r, &["TYPE", "str"]), "+set");
    assert_eq!(run(&mut r, &["SCARD", "str"]), ":3");

    // RENAME and MOVE keep the value and the TTL.
    assert_eq!(run(&mut r, &["EXPIRE", "ss", "100"]), ":1");
    assert_eq!(run(&mut r, &["RENAME", "ss", "ss2"]), "+OK");
    assert_eq!(run(&mut r, &["TTL", "ss2"]), ":100");
    assert_eq!(run(&mut r, &["SISMEMBER", "ss2", "b"]), ":1");
    assert_eq!(run(&mut r, &["MOVE", "h", "1"]), ":1");
    assert_eq!(run(&mut r, &["SELECT", "1"]), "+OK");
    assert_eq!(run(&mut r, &["HGET", "h", "f2"]), "v2");
    assert_eq!(run(&mut r, &["PEXPIRE", "h", "50"]), ":1");
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(run(&mut r, &["EXISTS", "h"]), ":0");
    assert_eq!(run(&mut r, &["SELECT", "0"]), "+OK");
    assert_eq!(run(&mut r, &["DEL", "h2", "si", "ss2", "str"]), ":4");
    assert_eq!(run(&mut r, &["KEYS", "*"]), "[]");
}

#[test]
fn dump_and_restore_every_type_with_ttl_and_errors() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["RPUSH", "l", "a", "b", "c"]), ":3");
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v", "g", "w"]), ":2");
    assert_eq!(run(&mut r, &["SADD", "s", "x", "y"]), ":2");
    assert_eq!(run(&mut r, &["ZADD", "z", "1.5", "m", "2", "n"]), ":2");
    assert_eq!(run(&mut r, &["SET", "str", "hello"]), "+OK");
    for key in ["l", "h", "s", "z", "str"] {
        let payload: Vec<u8> = redis::cmd("DUMP").arg(key).query(&mut c).unwrap();
        let before: String = redis::cmd("TYPE").arg(key).query(&mut c).unwrap();
        let copy = format!("{key}-copy");
        let ok: String = redis::cmd("RESTORE")
            .arg(&copy)
            .arg(0)
            .arg(&payload)
            .query(&mut c)
            .unwrap();
        assert_eq!(ok, "OK");
        let after: String = redis::cmd("TYPE").arg(&copy).query(&mut c).unwrap();
        assert_eq!(before, after);
        // The key exists now: without REPLACE it is refused.
        let err = redis::cmd("RESTORE")
            .arg(&copy)
            .arg(0)
            .arg(&payload)
            .query::<String>(&mut c)
            .unwrap_err();
        assert!(err.to_string().contains("BUSYKEY"), "{err}");
        // A damaged payload is refused and changes nothing.
        let mut bad = payload.clone();
        let mid = bad.len() / 2;
        bad[mid] ^= 0x40;
        let err = redis::cmd("RESTORE")
            .arg(&copy)
            .arg(0)
            .arg(&bad)
            .arg("REPLACE")
            .query::<String>(&mut c)
            .unwrap_err();
        assert!(err.to_string().contains("checksum"), "{err}");
    }
    assert_eq!(run(&mut r, &["LRANGE", "l-copy", "0", "-1"]), "[a,b,c]");
    assert_eq!(run(&mut r, &["ZSCORE", "z-copy", "m"]), "1.5");
    assert_eq!(run(&mut r, &["GET", "str-copy"]), "hello");
    // TTL relative and absolute; an absolute time in the past creates nothing.
    let payload: Vec<u8> = redis::cmd("DUMP").arg("str").query(&mut c).unwrap();
    let _: String = redis::cmd("RESTORE")
        .arg("t1")
        .arg(100_000)
        .arg(&payload)
        .query(&mut c)
        .unwrap();
    let pttl = int(&mut r, &["PTTL", "t1"]);
    assert!(pttl > 90_000 && pttl <= 100_000, "{pttl}");
    let at = now_ms() + 50_000;
    let _: String = redis::cmd("RESTORE")
        .arg("t2")
        .arg(at)
        .arg(&payload)
        .arg("ABSTTL")
        .query(&mut c)
        .unwrap();
    assert_eq!(int(&mut r, &["PEXPIRETIME", "t2"]), at);
    let _: String = redis::cmd("RESTORE")
        .arg("t3")
        .arg(1000)
        .arg(&payload)
        .arg("ABSTTL")
        .query(&mut c)
        .unwrap();
    assert_eq!(int(&mut r, &["EXISTS", "t3"]), 0);
    assert_eq!(run(&mut r, &["DUMP", "nokey"]), "(nil)");
    assert_eq!(
        run(&mut r, &["RESTORE", "x", "-1", "abc"]),
        "-ERR Invalid TTL value, must be >= 0"
    );
    assert_eq!(
        run(&mut r, &["RESTORE", "x", "0", "abc"]),
        "-ERR DUMP payload version or checksum are wrong"
    );
    assert_eq!(
        run(&mut r, &["RESTORE", "x", "0", "abc", "BOGUS"]),
        "-ERR syntax error"
    );
}
