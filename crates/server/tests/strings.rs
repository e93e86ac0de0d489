//! The string commands against a real server: GET/SET and every SET option, SETNX, SETEX, PSETEX,
//! MGET, MSET, MSETNX, GETSET, GETDEL, GETEX, APPEND, STRLEN, GETRANGE/SUBSTR, SETRANGE, the INCR
//! family, INCRBYFLOAT and LCS, with Redis 7's exact replies and error texts (the expected values
//! were checked against a real Redis 7.0 server).
//!
//! WRONGTYPE cases use a hash key (HSET). TTL checks use PTTL/EXISTS/TYPE from the keyspace family.

mod common;
use common::{int, now_ms, peak_rss_kb, run, Raw, Server, NOT_INT, SYNTAX, WRONGTYPE};
use std::time::{Duration, Instant};

const NOT_FLOAT: &str = "-ERR value is not a valid float";

/// Asserts PTTL is in (lo, hi].
fn assert_pttl(r: &mut Raw, key: &str, lo: i64, hi: i64) {
    let t = int(r, &["PTTL", key]);
    assert!(
        t > lo && t <= hi,
        "PTTL {key} = {t}, expected in ({lo}, {hi}]"
    );
}

#[test]
fn get_and_plain_set() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["GET", "k"]), "(nil)");
    assert_eq!(run(&mut r, &["SET", "k", "v"]), "+OK");
    assert_eq!(run(&mut r, &["GET", "k"]), "v");
    assert_eq!(run(&mut r, &["SET", "k", ""]), "+OK");
    assert_eq!(run(&mut r, &["GET", "k"]), "");
    assert_eq!(run(&mut r, &["EXISTS", "k"]), ":1");
    let long = "x".repeat(5000);
    assert_eq!(run(&mut r, &["SET", "k", &long]), "+OK");
    assert_eq!(run(&mut r, &["GET", "k"]), long);
    assert_eq!(run(&mut r, &["set", "k", "lower"]), "+OK");
    assert_eq!(run(&mut r, &["gEt", "k"]), "lower");
    assert_eq!(
        run(&mut r, &["GET"]),
        "-ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        run(&mut r, &["GET", "a", "b"]),
        "-ERR wrong number of arguments for 'get' command"
    );
    assert_eq!(
        run(&mut r, &["SET", "k"]),
        "-ERR wrong number of arguments for 'set' command"
    );
    // Binary safety.
    let mut c = s.conn();
    let bin: Vec<u8> = (0..=255u8).chain([0, 13, 10, 0]).collect();
    let _: () = redis::cmd("SET")
        .arg("bin")
        .arg(&bin)
        .query(&mut c)
        .unwrap();
    let got: Vec<u8> = redis::cmd("GET").arg("bin").query(&mut c).unwrap();
    assert_eq!(got, bin);
    // SET overwrites a key of another type.
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["GET", "h"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["SET", "h", "s"]), "+OK");
    assert_eq!(run(&mut r, &["TYPE", "h"]), "+string");
    assert_eq!(run(&mut r, &["GET", "h"]), "s");
}

#[test]
fn set_nx_xx_get() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "k", "1", "XX"]), "(nil)");
    assert_eq!(run(&mut r, &["EXISTS", "k"]), ":0");
    assert_eq!(run(&mut r, &["SET", "k", "1", "NX"]), "+OK");
    assert_eq!(run(&mut r, &["SET", "k", "2", "NX"]), "(nil)");
    assert_eq!(run(&mut r, &["GET", "k"]), "1");
    assert_eq!(run(&mut r, &["SET", "k", "3", "xx"]), "+OK");
    assert_eq!(run(&mut r, &["GET", "k"]), "3");
    // Repeating the same flag is allowed; combining NX and XX is not.
    assert_eq!(run(&mut r, &["SET", "k", "4", "XX", "XX"]), "+OK");
    assert_eq!(run(&mut r, &["SET", "k", "4", "NX", "XX"]), SYNTAX);
    assert_eq!(run(&mut r, &["SET", "k", "4", "XX", "NX"]), SYNTAX);
    // GET returns the old value (or nil) and sets.
    assert_eq!(run(&mut r, &["SET", "k", "5", "GET"]), "4");
    assert_eq!(run(&mut r, &["SET", "new", "5", "GET"]), "(nil)");
    assert_eq!(run(&mut r, &["GET", "new"]), "5");
    assert_eq!(run(&mut r, &["SET", "k", "6", "GET", "GET"]), "5");
    // Redis 7: NX and GET together: the old value, and nothing set when it exists.
    assert_eq!(run(&mut r, &["SET", "k", "7", "NX", "GET"]), "6");
    assert_eq!(run(&mut r, &["GET", "k"]), "6");
    assert_eq!(run(&mut r, &["SET", "nx", "7", "NX", "GET"]), "(nil)");
    assert_eq!(run(&mut r, &["GET", "nx"]), "7");
    assert_eq!(run(&mut r, &["SET", "k", "8", "XX", "GET"]), "6");
    assert_eq!(run(&mut r, &["SET", "xx", "8", "XX", "GET"]), "(nil)");
    assert_eq!(run(&mut r, &["EXISTS", "xx"]), ":0");
    // SET ... GET on a non-string is WRONGTYPE and sets nothing.
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["SET", "h", "x", "GET"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["TYPE", "h"]), "+hash");
    assert_eq!(run(&mut r, &["SET", "h", "x", "NX"]), "(nil)");
    assert_eq!(run(&mut r, &["TYPE", "h"]), "+hash");
}

#[test]
fn set_expire_options_then_pttl() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "k", "v", "EX", "100"]), "+OK");
    assert_pttl(&mut r, "k", 98_000, 100_000);
    assert_eq!(run(&mut r, &["SET", "k", "v", "PX", "5000"]), "+OK");
    assert_pttl(&mut r, "k", 3_000, 5_000);
    let at_s = now_ms() / 1000 + 200;
    assert_eq!(
        run(&mut r, &["SET", "k", "v", "EXAT", &at_s.to_string()]),
        "+OK"
    );
    assert_pttl(&mut r, "k", 195_000, 201_000);
    let at_ms = now_ms() + 50_000;
    assert_eq!(
        run(&mut r, &["SET", "k", "v", "PXAT", &at_ms.to_string()]),
        "+OK"
    );
    assert_pttl(&mut r, "k", 48_000, 50_000);
    // KEEPTTL keeps it, a plain SET removes it.
    assert_eq!(run(&mut r, &["SET", "k", "w", "KEEPTTL"]), "+OK");
    assert_pttl(&mut r, "k", 48_000, 50_000);
    assert_eq!(run(&mut r, &["GET", "k"]), "w");
    assert_eq!(run(&mut r, &["SET", "k", "w"]), "+OK");
    assert_eq!(run(&mut r, &["PTTL", "k"]), ":-1");
    // The last of repeated expiries wins; options combine with NX/XX/GET in any order.
    assert_eq!(
        run(&mut r, &["SET", "k", "v", "EX", "10", "EX", "300"]),
        "+OK"
    );
    assert_pttl(&mut r, "k", 298_000, 300_000);
    assert_eq!(
        run(&mut r, &["SET", "k", "v2", "PX", "7000", "XX", "GET"]),
        "v"
    );
    assert_pttl(&mut r, "k", 5_000, 7_000);
    assert_eq!(run(&mut r, &["SET", "k", "v3", "keepttl", "get"]), "v2");
    assert_pttl(&mut r, "k", 5_000, 7_000);
    // A deadline already past: the key is set and immediately expired.
    assert_eq!(run(&mut r, &["SET", "old", "v", "EXAT", "1"]), "+OK");
    assert_eq!(run(&mut r, &["GET", "old"]), "(nil)");
    assert_eq!(run(&mut r, &["SET", "old", "v", "PXAT", "1"]), "+OK");
    assert_eq!(run(&mut r, &["EXISTS", "old"]), ":0");
    // The largest PXAT is accepted.
    assert_eq!(
        run(&mut r, &["SET", "far", "v", "PXAT", "9223372036854775807"]),
        "+OK"
    );
    assert!(int(&mut r, &["PTTL", "far"]) > 9_000_000_000_000_000_000);
    // Short TTLs really expire.
    assert_eq!(run(&mut r, &["SET", "short", "v", "PX", "50"]), "+OK");
    std::thread::sleep(Duration::from_millis(120));
    assert_eq!(run(&mut r, &["GET", "short"]), "(nil)");
}

#[test]
fn set_option_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for args in [
        &["SET", "k", "v", "EX", "10", "PX", "100"][..],
        &["SET", "k", "v", "PX", "100", "EX", "10"],
        &["SET", "k", "v", "EX", "10", "EXAT", "100"],
        &["SET", "k", "v", "PXAT", "10", "EXAT", "100"],
        &["SET", "k", "v", "PXAT", "10", "PX", "100"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        &["SET", "k", "v", "KEEPTTL", "PXAT", "10"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PX"],
        &["SET", "k", "v", "NX", "EXAT"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "FOO"],
        &["SET", "k", "v", "NXX"],
        &["SET", "k", "v", "NX", "XX", "GET"],
    ] {
        assert_eq!(run(&mut r, args), SYNTAX, "{args:?}");
    }
    assert_eq!(run(&mut r, &["EXISTS", "k"]), ":0");
    let invalid = "-ERR invalid expire time in 'set' command";
    for args in [
        &["SET", "k", "v", "EX", "0"][..],
        &["SET", "k", "v", "EX", "-1"],
        &["SET", "k", "v", "PX", "0"],
        &["SET", "k", "v", "PX", "-100"],
        &["SET", "k", "v", "EXAT", "0"],
        &["SET", "k", "v", "PXAT", "0"],
        &["SET", "k", "v", "PXAT", "-5"],
        // Overflow once converted to milliseconds, or once the current time is added.
        &["SET", "k", "v", "EX", "9223372036854775807"],
        &["SET", "k", "v", "EX", "9223372036854775"],
        &["SET", "k", "v", "EXAT", "9223372036854776"],
        &["SET", "k", "v", "PX", "9223372036854775807"],
    ] {
        assert_eq!(run(&mut r, args), invalid, "{args:?}");
    }
    for args in [
        &["SET", "k", "v", "EX", "abc"][..],
        &["SET", "k", "v", "EX", "1.5"],
        &["SET", "k", "v", "PX", " 1"],
        &["SET", "k", "v", "EX", "9223372036854775808"],
    ] {
        assert_eq!(run(&mut r, args), NOT_INT, "{args:?}");
    }
    assert_eq!(run(&mut r, &["EXISTS", "k"]), ":0");
    // The expiry is validated before GET answers.
    assert_eq!(run(&mut r, &["SET", "k", "v"]), "+OK");
    assert_eq!(run(&mut r, &["SET", "k", "w", "GET", "EX", "0"]), invalid);
    assert_eq!(run(&mut r, &["GET", "k"]), "v");
    // EXAT at the largest value that fits is valid.
    assert_eq!(
        run(&mut r, &["SET", "k", "v", "EXAT", "9223372036854775"]),
        "+OK"
    );
}

#[test]
fn setnx_setex_psetex() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SETNX", "k", "1"]), ":1");
    assert_eq!(run(&mut r, &["SETNX", "k", "2"]), ":0");
    assert_eq!(run(&mut r, &["GET", "k"]), "1");
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["SETNX", "h", "2"]), ":0");
    assert_eq!(
        run(&mut r, &["SETNX", "k"]),
        "-ERR wrong number of arguments for 'setnx' command"
    );

    assert_eq!(run(&mut r, &["SETEX", "e", "100", "v"]), "+OK");
    assert_eq!(run(&mut r, &["GET", "e"]), "v");
    assert_pttl(&mut r, "e", 98_000, 100_000);
    assert_eq!(run(&mut r, &["SETEX", "h", "100", "v"]), "+OK");
    assert_eq!(run(&mut r, &["TYPE", "h"]), "+string");
    for bad in ["0", "-1", "9223372036854775807", "9223372036854775"] {
        assert_eq!(
            run(&mut r, &["SETEX", "e2", bad, "v"]),
            "-ERR invalid expire time in 'setex' command",
            "{bad}"
        );
    }
    assert_eq!(run(&mut r, &["SETEX", "e2", "x", "v"]), NOT_INT);
    assert_eq!(run(&mut r, &["EXISTS", "e2"]), ":0");
    assert_eq!(
        run(&mut r, &["SETEX", "e2", "10"]),
        "-ERR wrong number of arguments for 'setex' command"
    );

    assert_eq!(run(&mut r, &["PSETEX", "p", "5000", "v"]), "+OK");
    assert_eq!(run(&mut r, &["GET", "p"]), "v");
    assert_pttl(&mut r, "p", 3_000, 5_000);
    for bad in ["0", "-1", "9223372036854775807"] {
        assert_eq!(
            run(&mut r, &["PSETEX", "p2", bad, "v"]),
            "-ERR invalid expire time in 'psetex' command",
            "{bad}"
        );
    }
    assert_eq!(run(&mut r, &["PSETEX", "p2", "1.5", "v"]), NOT_INT);
    assert_eq!(run(&mut r, &["EXISTS", "p2"]), ":0");
}

#[test]
fn mget_mset_msetnx() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["MSET", "a", "1", "b", "2", "a", "3"]), "+OK");
    assert_eq!(
        run(&mut r, &["MGET", "a", "b", "nokey", "a"]),
        "[3,2,(nil),3]"
    );
    assert_eq!(
        run(&mut r, &["MSET", "a", "1", "b"]),
        "-ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        run(&mut r, &["MSET", "a"]),
        "-ERR wrong number of arguments for 'mset' command"
    );
    assert_eq!(
        run(&mut r, &["MGET"]),
        "-ERR wrong number of arguments for 'mget' command"
    );
    // MGET answers nil for a key of another type.
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["MGET", "h", "a"]), "[(nil),3]");
    // MSET drops TTLs.
    assert_eq!(run(&mut r, &["SET", "t", "v", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["MSET", "t", "w"]), "+OK");
    assert_eq!(run(&mut r, &["PTTL", "t"]), ":-1");
    // MSETNX: all or nothing.
    assert_eq!(run(&mut r, &["MSETNX", "x", "1", "a", "9"]), ":0");
    assert_eq!(run(&mut r, &["MGET", "x", "a"]), "[(nil),3]");
    assert_eq!(run(&mut r, &["MSETNX", "x", "1", "y", "2"]), ":1");
    assert_eq!(run(&mut r, &["MGET", "x", "y"]), "[1,2]");
    assert_eq!(run(&mut r, &["MSETNX", "z", "1", "h", "2"]), ":0");
    assert_eq!(run(&mut r, &["EXISTS", "z"]), ":0");
    assert_eq!(
        run(&mut r, &["MSETNX", "q", "1", "w"]),
        "-ERR wrong number of arguments for 'msetnx' command"
    );
    assert_eq!(run(&mut r, &["EXISTS", "q"]), ":0");
}

#[test]
fn getset_getdel() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["GETSET", "k", "1"]), "(nil)");
    assert_eq!(run(&mut r, &["GETSET", "k", "2"]), "1");
    assert_eq!(run(&mut r, &["GET", "k"]), "2");
    assert_eq!(run(&mut r, &["SET", "t", "v", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["GETSET", "t", "w"]), "v");
    assert_eq!(run(&mut r, &["PTTL", "t"]), ":-1");
    assert_eq!(run(&mut r, &["GETDEL", "k"]), "2");
    assert_eq!(run(&mut r, &["EXISTS", "k"]), ":0");
    assert_eq!(run(&mut r, &["GETDEL", "k"]), "(nil)");
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["GETSET", "h", "x"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["GETDEL", "h"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["TYPE", "h"]), "+hash");
    assert_eq!(
        run(&mut r, &["GETDEL", "a", "b"]),
        "-ERR wrong number of arguments for 'getdel' command"
    );
    assert_eq!(
        run(&mut r, &["GETSET", "a"]),
        "-ERR wrong number of arguments for 'getset' command"
    );
}

#[test]
fn getex_options() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["GETEX", "nokey"]), "(nil)");
    assert_eq!(run(&mut r, &["SET", "k", "v"]), "+OK");
    assert_eq!(run(&mut r, &["GETEX", "k"]), "v");
    assert_eq!(run(&mut r, &["PTTL", "k"]), ":-1");
    assert_eq!(run(&mut r, &["GETEX", "k", "EX", "100"]), "v");
    assert_pttl(&mut r, "k", 98_000, 100_000);
    // No option leaves the TTL alone.
    assert_eq!(run(&mut r, &["GETEX", "k"]), "v");
    assert_pttl(&mut r, "k", 98_000, 100_000);
    assert_eq!(run(&mut r, &["GETEX", "k", "PX", "5000"]), "v");
    assert_pttl(&mut r, "k", 3_000, 5_000);
    let at_s = now_ms() / 1000 + 200;
    assert_eq!(run(&mut r, &["GETEX", "k", "EXAT", &at_s.to_string()]), "v");
    assert_pttl(&mut r, "k", 195_000, 201_000);
    let at_ms = now_ms() + 60_000;
    assert_eq!(
        run(&mut r, &["GETEX", "k", "pxat", &at_ms.to_string()]),
        "v"
    );
    assert_pttl(&mut r, "k", 58_000, 60_000);
    assert_eq!(run(&mut r, &["GETEX", "k", "PERSIST"]), "v");
    assert_eq!(run(&mut r, &["PTTL", "k"]), ":-1");
    assert_eq!(run(&mut r, &["GETEX", "k", "PERSIST"]), "v");
    assert_eq!(run(&mut r, &["PTTL", "k"]), ":-1");
    // A past absolute time deletes the key after answering.
    assert_eq!(run(&mut r, &["GETEX", "k", "EXAT", "1"]), "v");
    assert_eq!(run(&mut r, &["EXISTS", "k"]), ":0");
    assert_eq!(run(&mut r, &["SET", "k", "v"]), "+OK");
    for args in [
        &["GETEX", "k", "NX"][..],
        &["GETEX", "k", "XX"],
        &["GETEX", "k", "GET"],
        &["GETEX", "k", "KEEPTTL"],
        &["GETEX", "k", "EX"],
        &["GETEX", "k", "EX", "10", "PX", "10"],
        &["GETEX", "k", "PERSIST", "EX", "10"],
        &["GETEX", "k", "EX", "10", "PERSIST"],
        &["GETEX", "k", "FOO"],
        &["GETEX", "nokey", "FOO"],
    ] {
        assert_eq!(run(&mut r, args), SYNTAX, "{args:?}");
    }
    let invalid = "-ERR invalid expire time in 'getex' command";
    assert_eq!(run(&mut r, &["GETEX", "k", "EX", "0"]), invalid);
    assert_eq!(run(&mut r, &["GETEX", "k", "PXAT", "-1"]), invalid);
    assert_eq!(
        run(&mut r, &["GETEX", "k", "EX", "9223372036854775807"]),
        invalid
    );
    assert_eq!(run(&mut r, &["GETEX", "k", "EX", "abc"]), NOT_INT);
    assert_eq!(run(&mut r, &["PTTL", "k"]), ":-1");
    // The key is looked up before the expiry is validated.
    assert_eq!(run(&mut r, &["GETEX", "nokey", "EX", "abc"]), "(nil)");
    assert_eq!(run(&mut r, &["GETEX", "nokey", "EX", "0"]), "(nil)");
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["GETEX", "h", "EX", "10"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["GETEX", "h", "EX", "0"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["PTTL", "h"]), ":-1");
}

#[test]
fn append_and_strlen() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["STRLEN", "k"]), ":0");
    assert_eq!(run(&mut r, &["APPEND", "k", "hello"]), ":5");
    assert_eq!(run(&mut r, &["APPEND", "k", " world"]), ":11");
    assert_eq!(run(&mut r, &["APPEND", "k", ""]), ":11");
    assert_eq!(run(&mut r, &["GET", "k"]), "hello world");
    assert_eq!(run(&mut r, &["STRLEN", "k"]), ":11");
    assert_eq!(run(&mut r, &["APPEND", "e", ""]), ":0");
    assert_eq!(run(&mut r, &["EXISTS", "e"]), ":1");
    // APPEND keeps the TTL.
    assert_eq!(run(&mut r, &["SET", "t", "a", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["APPEND", "t", "b"]), ":2");
    assert_pttl(&mut r, "t", 98_000, 100_000);
    // Appending to a number-looking string is plain concatenation.
    assert_eq!(run(&mut r, &["SET", "n", "12"]), "+OK");
    assert_eq!(run(&mut r, &["APPEND", "n", "3"]), ":3");
    assert_eq!(run(&mut r, &["INCR", "n"]), ":124");
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["APPEND", "h", "x"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["STRLEN", "h"]), WRONGTYPE);
    assert_eq!(
        run(&mut r, &["STRLEN"]),
        "-ERR wrong number of arguments for 'strlen' command"
    );
    assert_eq!(
        run(&mut r, &["APPEND", "k"]),
        "-ERR wrong number of arguments for 'append' command"
    );
}

#[test]
fn append_to_a_1mb_string_repeatedly_is_fast() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let mb = vec![b'a'; 1 << 20];
    let _: () = redis::cmd("SET").arg("big").arg(&mb).query(&mut c).unwrap();
    // 50,000 small appends: a copy-on-append implementation would move ~50 GB.
    let start = Instant::now();
    let mut p = redis::pipe();
    for _ in 0..50_000 {
        p.cmd("APPEND").arg("big").arg("0123456789").ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    // And 1 MB at a time, 16 times.
    for i in 0..16 {
        let n: i64 = redis::cmd("APPEND")
            .arg("big")
            .arg(&mb)
            .query(&mut c)
            .unwrap();
        assert_eq!(n, (1 << 20) + 500_000 + (i + 1) * (1 << 20));
    }
    let elapsed = start.elapsed();
    assert!(elapsed < Duration::from_secs(10), "took {elapsed:?}");
    let len: i64 = redis::cmd("STRLEN").arg("big").query(&mut c).unwrap();
    assert_eq!(len, 17 * (1 << 20) + 500_000);
    let tail: Vec<u8> = redis::cmd("GETRANGE")
        .arg("big")
        .arg((1 << 20) - 2)
        .arg((1 << 20) + 9)
        .query(&mut c)
        .unwrap();
    assert_eq!(tail, b"aa0123456789".to_vec());
}

#[test]
fn getrange_and_substr() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "k", "This is a string"]), "+OK");
    for (a, b, want) in [
        ("0", "3", "This"),
        ("-3", "-1", "ing"),
        ("0", "-1", "This is a string"),
        ("10", "100", "string"),
        ("-100", "3", "This"),
        ("5", "3", ""),
        ("-1", "-3", ""),
        ("100", "200", ""),
        ("15", "15", "g"),
        (
            "-9223372036854775808",
            "9223372036854775807",
            "This is a string",
        ),
        // A too-negative end clamps to 0 (only start < end < 0 with start > end is empty).
        ("0", "-100", "T"),
    ] {
        assert_eq!(run(&mut r, &["GETRANGE", "k", a, b]), want, "{a} {b}");
        assert_eq!(run(&mut r, &["SUBSTR", "k", a, b]), want, "{a} {b}");
    }
    assert_eq!(run(&mut r, &["GETRANGE", "nokey", "0", "-1"]), "");
    assert_eq!(run(&mut r, &["GETRANGE", "k", "a", "1"]), NOT_INT);
    assert_eq!(run(&mut r, &["GETRANGE", "k", "0", "1.5"]), NOT_INT);
    assert_eq!(run(&mut r, &["GETRANGE", "nokey", "0", "x"]), NOT_INT);
    assert_eq!(run(&mut r, &["SET", "e", ""]), "+OK");
    assert_eq!(run(&mut r, &["GETRANGE", "e", "0", "-1"]), "");
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["GETRANGE", "h", "0", "1"]), WRONGTYPE);
    assert_eq!(
        run(&mut r, &["GETRANGE", "k", "0"]),
        "-ERR wrong number of arguments for 'getrange' command"
    );
}

#[test]
fn setrange_edits_in_place() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut c = s.conn();
    assert_eq!(run(&mut r, &["SET", "k", "Hello World"]), "+OK");
    assert_eq!(run(&mut r, &["SETRANGE", "k", "6", "Redis"]), ":11");
    assert_eq!(run(&mut r, &["GET", "k"]), "Hello Redis");
    assert_eq!(run(&mut r, &["SETRANGE", "k", "11", "!!"]), ":13");
    assert_eq!(run(&mut r, &["GET", "k"]), "Hello Redis!!");
    // Past the end: zero padding.
    assert_eq!(run(&mut r, &["SETRANGE", "p", "5", "ab"]), ":7");
    let v: Vec<u8> = redis::cmd("GET").arg("p").query(&mut c).unwrap();
    assert_eq!(v, b"\0\0\0\0\0ab".to_vec());
    // Empty value: no change, the current length (0 and no key when missing).
    assert_eq!(run(&mut r, &["SETRANGE", "k", "100", ""]), ":13");
    assert_eq!(run(&mut r, &["STRLEN", "k"]), ":13");
    assert_eq!(run(&mut r, &["SETRANGE", "nokey", "5", ""]), ":0");
    assert_eq!(run(&mut r, &["EXISTS", "nokey"]), ":0");
    // The TTL is kept.
    assert_eq!(run(&mut r, &["SET", "t", "abc", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["SETRANGE", "t", "1", "X"]), ":3");
    assert_eq!(run(&mut r, &["GET", "t"]), "aXc");
    assert_pttl(&mut r, "t", 98_000, 100_000);
    assert_eq!(
        run(&mut r, &["SETRANGE", "k", "-1", "x"]),
        "-ERR offset is out of range"
    );
    assert_eq!(run(&mut r, &["SETRANGE", "k", "x", "x"]), NOT_INT);
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["SETRANGE", "h", "0", "x"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["SETRANGE", "h", "0", ""]), WRONGTYPE);
    assert_eq!(
        run(&mut r, &["SETRANGE", "k", "0"]),
        "-ERR wrong number of arguments for 'setrange' command"
    );
}

#[test]
fn size_limits_are_checked_before_allocating() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let too_long = "-ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    let before = peak_rss_kb(&s);
    // Default proto-max-bulk-len is 512 MB: each of these would need more.
    assert_eq!(run(&mut r, &["SETRANGE", "k", "536870912", "x"]), too_long);
    assert_eq!(run(&mut r, &["SETRANGE", "k", "536870911", "xy"]), too_long);
    assert_eq!(
        run(&mut r, &["SETRANGE", "k", "9223372036854775807", "x"]),
        too_long
    );
    assert_eq!(run(&mut r, &["SET", "k", "abc"]), "+OK");
    assert_eq!(run(&mut r, &["SETRANGE", "k", "536870912", "x"]), too_long);
    assert_eq!(run(&mut r, &["STRLEN", "k"]), ":3");
    // But an empty value needs no room: it answers the length without checking.
    assert_eq!(run(&mut r, &["SETRANGE", "k", "536870912", ""]), ":3");
    assert_eq!(run(&mut r, &["EXISTS", "nokey"]), ":0");
    let after = peak_rss_kb(&s);
    assert!(
        after < before + 64 * 1024,
        "peak RSS grew from {before} kB to {after} kB"
    );
    drop(r);
    drop(s);

    // With a 1 MB limit the boundary is exact, for SETRANGE and APPEND alike.
    let s = Server::start(&["--proto-max-bulk-len", "1mb"]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SETRANGE", "a", "1048575", "x"]), ":1048576");
    assert_eq!(run(&mut r, &["SETRANGE", "a", "1048576", "x"]), too_long);
    assert_eq!(run(&mut r, &["APPEND", "a", "y"]), too_long);
    assert_eq!(run(&mut r, &["STRLEN", "a"]), ":1048576");
    assert_eq!(
        run(&mut r, &["SETRANGE", "b", "1048570", "0123456"]),
        too_long
    );
    assert_eq!(run(&mut r, &["EXISTS", "b"]), ":0");
    assert_eq!(
        run(&mut r, &["SETRANGE", "b", "1048570", "012345"]),
        ":1048576"
    );
    assert_eq!(run(&mut r, &["SET", "c", "x"]), "+OK");
    assert_eq!(run(&mut r, &["SETRANGE", "c", "1048576", "x"]), too_long);
    let chunk = "z".repeat(1 << 19);
    assert_eq!(run(&mut r, &["APPEND", "d", &chunk]), ":524288");
    assert_eq!(run(&mut r, &["APPEND", "d", &chunk]), ":1048576");
    assert_eq!(run(&mut r, &["APPEND", "d", "z"]), too_long);
    assert_eq!(run(&mut r, &["STRLEN", "d"]), ":1048576");
}

#[test]
fn incr_decr_family() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["INCR", "n"]), ":1");
    assert_eq!(run(&mut r, &["INCR", "n"]), ":2");
    assert_eq!(run(&mut r, &["DECR", "n"]), ":1");
    assert_eq!(run(&mut r, &["INCRBY", "n", "10"]), ":11");
    assert_eq!(run(&mut r, &["INCRBY", "n", "-20"]), ":-9");
    assert_eq!(run(&mut r, &["DECRBY", "n", "1"]), ":-10");
    assert_eq!(run(&mut r, &["DECRBY", "n", "-15"]), ":5");
    assert_eq!(run(&mut r, &["GET", "n"]), "5");
    assert_eq!(run(&mut r, &["DECR", "m"]), ":-1");
    assert_eq!(run(&mut r, &["DECRBY", "m2", "5"]), ":-5");
    assert_eq!(run(&mut r, &["INCRBY", "m3", "0"]), ":0");
    assert_eq!(run(&mut r, &["GET", "m3"]), "0");
    // 64-bit edges.
    let overflow = "-ERR increment or decrement would overflow";
    assert_eq!(run(&mut r, &["SET", "n", "9223372036854775806"]), "+OK");
    assert_eq!(run(&mut r, &["INCR", "n"]), ":9223372036854775807");
    assert_eq!(run(&mut r, &["INCR", "n"]), overflow);
    assert_eq!(run(&mut r, &["INCRBY", "n", "1"]), overflow);
    assert_eq!(run(&mut r, &["DECRBY", "n", "-1"]), overflow);
    assert_eq!(run(&mut r, &["GET", "n"]), "9223372036854775807");
    assert_eq!(run(&mut r, &["INCRBY", "n", "-9223372036854775808"]), ":-1");
    assert_eq!(run(&mut r, &["SET", "n", "-9223372036854775807"]), "+OK");
    assert_eq!(run(&mut r, &["DECR", "n"]), ":-9223372036854775808");
    assert_eq!(run(&mut r, &["DECR", "n"]), overflow);
    assert_eq!(run(&mut r, &["INCRBY", "n", "-1"]), overflow);
    assert_eq!(run(&mut r, &["DECRBY", "n", "1"]), overflow);
    assert_eq!(run(&mut r, &["INCRBY", "n", "9223372036854775807"]), ":-1");
    assert_eq!(
        run(&mut r, &["DECRBY", "n", "-9223372036854775808"]),
        "-ERR decrement would overflow"
    );
    assert_eq!(
        run(&mut r, &["INCRBY", "z", "-9223372036854775808"]),
        ":-9223372036854775808"
    );
    assert_eq!(run(&mut r, &["INCRBY", "z", "-1"]), overflow);
    // Only strict integers (Redis string2ll) are numbers.
    for bad in [
        " 1",
        "1 ",
        "01",
        "+1",
        "-0",
        "1.0",
        "1e3",
        "",
        "abc",
        "9223372036854775808",
        "-9223372036854775809",
        "123456789012345678901",
    ] {
        assert_eq!(run(&mut r, &["SET", "bad", bad]), "+OK");
        assert_eq!(run(&mut r, &["INCR", "bad"]), NOT_INT, "{bad:?}");
        assert_eq!(run(&mut r, &["DECRBY", "bad", "1"]), NOT_INT, "{bad:?}");
        assert_eq!(run(&mut r, &["INCRBY", "n", bad]), NOT_INT, "{bad:?}");
        assert_eq!(run(&mut r, &["DECRBY", "n", bad]), NOT_INT, "{bad:?}");
    }
    // The TTL is kept.
    assert_eq!(run(&mut r, &["SET", "t", "1", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["INCR", "t"]), ":2");
    assert_eq!(run(&mut r, &["DECRBY", "t", "5"]), ":-3");
    assert_pttl(&mut r, "t", 98_000, 100_000);
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    for args in [
        &["INCR", "h"][..],
        &["DECR", "h"],
        &["INCRBY", "h", "1"],
        &["DECRBY", "h", "1"],
    ] {
        assert_eq!(run(&mut r, args), WRONGTYPE, "{args:?}");
    }
    assert_eq!(
        run(&mut r, &["INCRBY", "n"]),
        "-ERR wrong number of arguments for 'incrby' command"
    );
    assert_eq!(
        run(&mut r, &["INCR", "a", "b"]),
        "-ERR wrong number of arguments for 'incr' command"
    );
}

#[test]
fn incrbyfloat_long_double_semantics() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "f", "10.50"]), "+OK");
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "f", "0.1"]), "10.6");
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "f", "-5"]), "5.6");
    assert_eq!(run(&mut r, &["GET", "f"]), "5.6");
    assert_eq!(run(&mut r, &["SET", "f", "5.0e3"]), "+OK");
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "f", "2.0e2"]), "5200");
    // Long double precision printed with %.17Lf: 0.1 + 0.2 is 0.3 as in Redis.
    assert_eq!(run(&mut r, &["SET", "f", "0.1"]), "+OK");
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "f", "0.2"]), "0.3");
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "new", "1"]), "1");
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "new", "0.25"]), "1.25");
    assert_eq!(
        run(&mut r, &["INCRBYFLOAT", "n2", "1e30"]),
        "1000000000000000000024696061952"
    );
    assert_eq!(
        run(&mut r, &["INCRBYFLOAT", "n3", "-1.5e-7"]),
        "-0.00000015"
    );
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "n4", "0x10p-1"]), "8");
    assert_eq!(
        run(&mut r, &["INCRBYFLOAT", "n5", "0.3333333333333333333333"]),
        "0.33333333333333333"
    );
    assert_eq!(run(&mut r, &["SET", "n6", "3"]), "+OK");
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "n6", "1e-18"]), "3");
    assert_eq!(run(&mut r, &["SET", "n7", "17179869184"]), "+OK");
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "n7", "1.5"]), "17179869185.5");
    // No negative zero.
    assert_eq!(
        run(&mut r, &["INCRBYFLOAT", "z", "0.024390243902439025"]),
        "0.02439024390243902"
    );
    assert_eq!(
        run(&mut r, &["INCRBYFLOAT", "z", "-0.024390243902439025"]),
        "0"
    );
    // Values beyond double range but within long double are fine, as in Redis.
    assert_eq!(
        run(&mut r, &["SET", "big", "1.7976931348623157e308"]),
        "+OK"
    );
    let doubled = run(&mut r, &["INCRBYFLOAT", "big", "1.7976931348623157e308"]);
    assert!(doubled.starts_with("359538626972463139991842093548208868096772893888658356970628"));
    assert_eq!(doubled.len(), 309);
    let nan_inf = "-ERR increment would produce NaN or Infinity";
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "f", "inf"]), nan_inf);
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "f", "-inf"]), nan_inf);
    assert_eq!(run(&mut r, &["SET", "h1", "1.1e4932"]), "+OK");
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "h1", "1.1e4932"]), nan_inf);
    assert_eq!(run(&mut r, &["GET", "h1"]), "1.1e4932");
    for bad in [
        "nan", "abc", " 1", "1 ", "", "1e", "1e5000", "1e-5000", "0x",
    ] {
        assert_eq!(
            run(&mut r, &["INCRBYFLOAT", "f", bad]),
            NOT_FLOAT,
            "{bad:?}"
        );
        assert_eq!(run(&mut r, &["SET", "badf", bad]), "+OK");
        assert_eq!(
            run(&mut r, &["INCRBYFLOAT", "badf", "1"]),
            NOT_FLOAT,
            "{bad:?}"
        );
    }
    assert_eq!(run(&mut r, &["GET", "f"]), "0.3");
    // The TTL is kept.
    assert_eq!(run(&mut r, &["SET", "t", "1.5", "EX", "100"]), "+OK");
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "t", "1"]), "2.5");
    assert_pttl(&mut r, "t", 98_000, 100_000);
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["INCRBYFLOAT", "h", "1"]), WRONGTYPE);
    assert_eq!(
        run(&mut r, &["INCRBYFLOAT", "f"]),
        "-ERR wrong number of arguments for 'incrbyfloat' command"
    );
}

#[test]
fn lcs_all_forms_resp2() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        run(&mut r, &["MSET", "k1", "ohmytext", "k2", "mynewtext"]),
        "+OK"
    );
    assert_eq!(run(&mut r, &["LCS", "k1", "k2"]), "mytext");
    assert_eq!(run(&mut r, &["LCS", "k1", "k2", "LEN"]), ":6");
    assert_eq!(
        run(&mut r, &["LCS", "k1", "k2", "IDX"]),
        "[matches,[[[:4,:7],[:5,:8]],[[:2,:3],[:0,:1]]],len,:6]"
    );
    assert_eq!(
        run(&mut r, &["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "4"]),
        "[matches,[[[:4,:7],[:5,:8]]],len,:6]"
    );
    assert_eq!(
        run(
            &mut r,
            &["LCS", "k1", "k2", "IDX", "MINMATCHLEN", "4", "WITHMATCHLEN"]
        ),
        "[matches,[[[:4,:7],[:5,:8],:4]],len,:6]"
    );
    assert_eq!(
        run(
            &mut r,
            &[
                "LCS",
                "k1",
                "k2",
                "idx",
                "withmatchlen",
                "minmatchlen",
                "-5"
            ]
        ),
        "[matches,[[[:4,:7],[:5,:8],:4],[[:2,:3],[:0,:1],:2]],len,:6]"
    );
    // WITHMATCHLEN and MINMATCHLEN without IDX do not change the plain answer.
    assert_eq!(run(&mut r, &["LCS", "k1", "k2", "WITHMATCHLEN"]), "mytext");
    assert_eq!(
        run(&mut r, &["LCS", "k1", "k2", "LEN", "MINMATCHLEN", "3"]),
        ":6"
    );
    assert_eq!(
        run(&mut r, &["MSET", "a", "abcabcabcxyz", "b", "xyzabcqqabc"]),
        "+OK"
    );
    assert_eq!(run(&mut r, &["LCS", "a", "b"]), "abcabc");
    assert_eq!(
        run(&mut r, &["LCS", "a", "b", "IDX", "WITHMATCHLEN"]),
        "[matches,[[[:6,:8],[:8,:10],:3],[[:3,:5],[:3,:5],:3]],len,:6]"
    );
    // Missing keys are empty strings.
    assert_eq!(run(&mut r, &["LCS", "k1", "nokey"]), "");
    assert_eq!(run(&mut r, &["LCS", "nokey", "nokey2", "LEN"]), ":0");
    assert_eq!(
        run(&mut r, &["LCS", "nokey", "k1", "IDX"]),
        "[matches,[],len,:0]"
    );
    // Errors.
    assert_eq!(
        run(&mut r, &["LCS", "k1", "k2", "LEN", "IDX"]),
        "-ERR If you want both the length and indexes, please just use IDX."
    );
    assert_eq!(run(&mut r, &["LCS", "k1", "k2", "FOO"]), SYNTAX);
    assert_eq!(run(&mut r, &["LCS", "k1", "k2", "MINMATCHLEN"]), SYNTAX);
    assert_eq!(
        run(&mut r, &["LCS", "k1", "k2", "MINMATCHLEN", "x"]),
        NOT_INT
    );
    assert_eq!(
        run(&mut r, &["LCS", "k1"]),
        "-ERR wrong number of arguments for 'lcs' command"
    );
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    let not_strings = "-ERR The specified keys must contain string values";
    assert_eq!(run(&mut r, &["LCS", "h", "k1"]), not_strings);
    assert_eq!(run(&mut r, &["LCS", "k1", "h"]), not_strings);
    // The type check comes before option parsing.
    assert_eq!(run(&mut r, &["LCS", "k1", "h", "FOO"]), not_strings);
}

#[test]
fn lcs_idx_is_a_map_in_resp3() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        run(&mut r, &["MSET", "k1", "ohmytext", "k2", "mynewtext"]),
        "+OK"
    );
    r.cmd(&[b"HELLO", b"3"]);
    let _ = r.reply();
    r.cmd(&[b"LCS", b"k1", b"k2", b"IDX", b"WITHMATCHLEN"]);
    assert_eq!(r.line(), "%2");
    assert_eq!(r.reply(), "matches");
    assert_eq!(r.reply(), "[[[:4,:7],[:5,:8],:4],[[:2,:3],[:0,:1],:2]]");
    assert_eq!(r.reply(), "len");
    assert_eq!(r.reply(), ":6");
    // The other forms are the same in RESP3.
    assert_eq!(run(&mut r, &["LCS", "k1", "k2"]), "mytext");
    assert_eq!(run(&mut r, &["LCS", "k1", "k2", "LEN"]), ":6");
    // And through the redis crate.
    let mut c = s.conn3();
    let v: redis::Value = redis::cmd("LCS")
        .arg("k1")
        .arg("k2")
        .arg("IDX")
        .query(&mut c)
        .unwrap();
    match v {
        redis::Value::Map(pairs) => assert_eq!(pairs.len(), 2),
        other => panic!("expected a map, got {other:?}"),
    }
}

#[test]
fn lcs_refuses_tables_over_proto_max_bulk_len() {
    let s = Server::start(&["--proto-max-bulk-len", "1mb"]);
    let mut r = s.raw();
    // 501 * 501 * 4 bytes fits in 1 MB, 601 * 601 * 4 does not.
    let a500 = "ab".repeat(250);
    let b500 = "ba".repeat(250);
    assert_eq!(run(&mut r, &["MSET", "a", &a500, "b", &b500]), "+OK");
    assert_eq!(run(&mut r, &["LCS", "a", "b", "LEN"]), ":499");
    let a600 = "ab".repeat(300);
    assert_eq!(run(&mut r, &["MSET", "a", &a600, "b", &a600]), "+OK");
    let refused = "-ERR Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len";
    assert_eq!(run(&mut r, &["LCS", "a", "b"]), refused);
    assert_eq!(run(&mut r, &["LCS", "a", "b", "LEN"]), refused);
    assert_eq!(run(&mut r, &["LCS", "a", "b", "IDX"]), refused);
    // One side empty is always cheap.
    assert_eq!(run(&mut r, &["LCS", "a", "nokey", "LEN"]), ":0");
}

#[test]
fn wrongtype_and_mget_nil_on_other_types() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    for args in [
        &["GET", "h"][..],
        &["SET", "h", "v", "GET"],
        &["GETSET", "h", "v"],
        &["GETDEL", "h"],
        &["GETEX", "h"],
        &["GETEX", "h", "PERSIST"],
        &["APPEND", "h", "v"],
        &["STRLEN", "h"],
        &["GETRANGE", "h", "0", "-1"],
        &["SUBSTR", "h", "0", "-1"],
        &["SETRANGE", "h", "0", "v"],
        &["INCR", "h"],
        &["DECR", "h"],
        &["INCRBY", "h", "1"],
        &["DECRBY", "h", "1"],
        &["INCRBYFLOAT", "h", "1"],
    ] {
        assert_eq!(run(&mut r, args), WRONGTYPE, "{args:?}");
    }
    assert_eq!(run(&mut r, &["TYPE", "h"]), "+hash");
    assert_eq!(run(&mut r, &["HGET", "h", "f"]), "v");
    assert_eq!(run(&mut r, &["MGET", "h", "nokey"]), "[(nil),(nil)]");
    assert_eq!(run(&mut r, &["SETNX", "h", "v"]), ":0");
    assert_eq!(run(&mut r, &["MSETNX", "h", "v"]), ":0");
    assert_eq!(run(&mut r, &["TYPE", "h"]), "+hash");
    assert_eq!(run(&mut r, &["MSET", "h", "v"]), "+OK");
    assert_eq!(run(&mut r, &["TYPE", "h"]), "+string");
}
