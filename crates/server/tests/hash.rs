//! The hash commands against a real server: HSET, HSETNX, HGET, HMGET, HMSET, HDEL, HEXISTS, HLEN,
//! HSTRLEN, HKEYS, HVALS, HGETALL, HINCRBY, HINCRBYFLOAT, HRANDFIELD and HSCAN, with Redis 7's
//! exact replies and error texts (checked against a real Redis 7.0 server; NOVALUES is Redis 7.4),
//! RESP3 reply types, OBJECT ENCODING transitions (listpack → hashtable, never back) and the HSCAN
//! guarantee while the hash changes.

mod common;
use common::{encoding, items, run, run_owned, sorted, Raw, Server, NOT_INT, SYNTAX, WRONGTYPE};
use std::collections::{BTreeMap, BTreeSet, HashMap};

#[test]
fn set_get_and_field_commands() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["HSET", "h", "a", "1", "b", "2"]), ":2");
    assert_eq!(run(&mut r, &["HSET", "h", "a", "10", "c", "3"]), ":1");
    assert_eq!(run(&mut r, &["HSET", "h", "a", "x", "a", "y"]), ":0");
    assert_eq!(run(&mut r, &["HGET", "h", "a"]), "y");
    assert_eq!(run(&mut r, &["HGET", "h", "zz"]), "(nil)");
    assert_eq!(run(&mut r, &["HGET", "nope", "a"]), "(nil)");
    assert_eq!(run(&mut r, &["HMSET", "h", "d", "4", "e", "5"]), "+OK");
    assert_eq!(run(&mut r, &["HMGET", "h", "a", "zz", "e"]), "[y,(nil),5]");
    assert_eq!(run(&mut r, &["HMGET", "nope", "a", "b"]), "[(nil),(nil)]");
    assert_eq!(run(&mut r, &["HSETNX", "h", "a", "new"]), ":0");
    assert_eq!(run(&mut r, &["HGET", "h", "a"]), "y");
    assert_eq!(run(&mut r, &["HSETNX", "h", "f", "6"]), ":1");
    assert_eq!(run(&mut r, &["HSETNX", "fresh", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["HGETALL", "fresh"]), "[f,v]");
    assert_eq!(run(&mut r, &["HLEN", "h"]), ":6");
    assert_eq!(run(&mut r, &["HLEN", "nope"]), ":0");
    assert_eq!(run(&mut r, &["HEXISTS", "h", "a"]), ":1");
    assert_eq!(run(&mut r, &["HEXISTS", "h", "zz"]), ":0");
    assert_eq!(run(&mut r, &["HEXISTS", "nope", "a"]), ":0");
    assert_eq!(run(&mut r, &["HSTRLEN", "h", "a"]), ":1");
    assert_eq!(run(&mut r, &["HSET", "h", "long", "hello world"]), ":1");
    assert_eq!(run(&mut r, &["HSTRLEN", "h", "long"]), ":11");
    assert_eq!(run(&mut r, &["HSTRLEN", "h", "zz"]), ":0");
    assert_eq!(run(&mut r, &["HSTRLEN", "nope", "a"]), ":0");
    // Small hashes keep insertion order.
    assert_eq!(run(&mut r, &["HKEYS", "h"]), "[a,b,c,d,e,f,long]");
    assert_eq!(run(&mut r, &["HVALS", "h"]), "[y,2,3,4,5,6,hello world]");
    assert_eq!(
        run(&mut r, &["HGETALL", "h"]),
        "[a,y,b,2,c,3,d,4,e,5,f,6,long,hello world]"
    );
    assert_eq!(run(&mut r, &["HKEYS", "nope"]), "[]");
    assert_eq!(run(&mut r, &["HVALS", "nope"]), "[]");
    assert_eq!(run(&mut r, &["HGETALL", "nope"]), "[]");
    // Empty field names and values are ordinary.
    assert_eq!(run(&mut r, &["HSET", "h", "", ""]), ":1");
    assert_eq!(run(&mut r, &["HEXISTS", "h", ""]), ":1");
    assert_eq!(run(&mut r, &["HSTRLEN", "h", ""]), ":0");

    // HDEL: counts removed fields, deletes the key with its last field, never creates it.
    assert_eq!(run(&mut r, &["HDEL", "h", "a", "b", "zz", "a"]), ":2");
    assert_eq!(run(&mut r, &["HDEL", "nope", "a"]), ":0");
    assert_eq!(run(&mut r, &["EXISTS", "nope"]), ":0");
    assert_eq!(run(&mut r, &["HDEL", "fresh", "f"]), ":1");
    assert_eq!(run(&mut r, &["EXISTS", "fresh"]), ":0");
    assert_eq!(run(&mut r, &["TYPE", "h"]), "+hash");
    let fields = items(&run(&mut r, &["HKEYS", "h"]));
    let mut args = vec!["HDEL".to_string(), "h".to_string()];
    args.extend(fields);
    assert_eq!(run_owned(&mut r, &args), ":6");
    assert_eq!(run(&mut r, &["EXISTS", "h"]), ":0");
    // Binary-safe fields and values.
    r.cmd(&[b"HSET", b"bin", b"f\r\n\0", b"v\x00\xff"]);
    assert_eq!(r.reply(), ":1");
    r.cmd(&[b"HSTRLEN", b"bin", b"f\r\n\0"]);
    assert_eq!(r.reply(), ":3");
}

#[test]
fn argument_errors_and_wrongtype() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "str", "x"]), "+OK");
    assert_eq!(run(&mut r, &["HSET", "h", "a", "1"]), ":1");
    let arity = |c: &str| format!("-ERR wrong number of arguments for '{c}' command");
    assert_eq!(run(&mut r, &["HSET", "h", "a"]), arity("hset"));
    assert_eq!(run(&mut r, &["HSET", "h", "a", "1", "b"]), arity("hset"));
    assert_eq!(run(&mut r, &["HMSET", "h", "a", "1", "b"]), arity("hmset"));
    assert_eq!(run(&mut r, &["HGET", "h"]), arity("hget"));
    assert_eq!(run(&mut r, &["HSETNX", "h", "a"]), arity("hsetnx"));
    assert_eq!(run(&mut r, &["HDEL", "h"]), arity("hdel"));
    assert_eq!(run(&mut r, &["HLEN"]), arity("hlen"));
    assert_eq!(run(&mut r, &["HRANDFIELD"]), arity("hrandfield"));
    assert_eq!(run(&mut r, &["HSCAN", "h"]), arity("hscan"));
    assert_eq!(run(&mut r, &["HINCRBY", "h", "a"]), arity("hincrby"));

    let cases: &[&[&str]] = &[
        &["HSET", "str", "a", "1"],
        &["HMSET", "str", "a", "1"],
        &["HSETNX", "str", "a", "1"],
        &["HGET", "str", "a"],
        &["HMGET", "str", "a"],
        &["HDEL", "str", "a"],
        &["HEXISTS", "str", "a"],
        &["HLEN", "str"],
        &["HSTRLEN", "str", "a"],
        &["HKEYS", "str"],
        &["HVALS", "str"],
        &["HGETALL", "str"],
        &["HINCRBY", "str", "a", "1"],
        &["HINCRBYFLOAT", "str", "a", "1"],
        &["HRANDFIELD", "str"],
        &["HRANDFIELD", "str", "2"],
        &["HRANDFIELD", "str", "2", "WITHVALUES"],
        &["HSCAN", "str", "0"],
    ];
    for c in cases {
        assert_eq!(run(&mut r, c), WRONGTYPE, "{c:?}");
    }
    // A non-string type (a set) is as wrong as a string, and nothing was written.
    assert_eq!(run(&mut r, &["SADD", "set", "m"]), ":1");
    assert_eq!(run(&mut r, &["HSET", "set", "a", "1"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["HGET", "set", "a"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["TYPE", "str"]), "+string");
    assert_eq!(run(&mut r, &["GET", "str"]), "x");
}

#[test]
fn hincrby_and_hincrbyfloat() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["HINCRBY", "h", "n", "5"]), ":5");
    assert_eq!(run(&mut r, &["HINCRBY", "h", "n", "-7"]), ":-2");
    assert_eq!(run(&mut r, &["HGET", "h", "n"]), "-2");
    assert_eq!(run(&mut r, &["HINCRBY", "h", "n", "x"]), NOT_INT);
    assert_eq!(run(&mut r, &["HINCRBY", "h", "n", "1.5"]), NOT_INT);
    assert_eq!(
        run(
            &mut r,
            &["HSET", "h", "s", "abc", "big", "9223372036854775807"]
        ),
        ":2"
    );
    assert_eq!(
        run(&mut r, &["HINCRBY", "h", "s", "1"]),
        "-ERR hash value is not an integer"
    );
    assert_eq!(
        run(&mut r, &["HINCRBY", "h", "big", "1"]),
        "-ERR increment or decrement would overflow"
    );
    assert_eq!(
        run(&mut r, &["HSET", "h", "small", "-9223372036854775808"]),
        ":1"
    );
    assert_eq!(
        run(&mut r, &["HINCRBY", "h", "small", "-1"]),
        "-ERR increment or decrement would overflow"
    );
    assert_eq!(
        run(&mut r, &["HINCRBY", "h", "big", "-1"]),
        ":9223372036854775806"
    );
    // A non-canonical integer is not an integer.
    assert_eq!(run(&mut r, &["HSET", "h", "lead", "01"]), ":1");
    assert_eq!(
        run(&mut r, &["HINCRBY", "h", "lead", "1"]),
        "-ERR hash value is not an integer"
    );
    // An argument error never creates the key.
    assert_eq!(run(&mut r, &["HINCRBY", "new", "f", "x"]), NOT_INT);
    assert_eq!(run(&mut r, &["EXISTS", "new"]), ":0");

    assert_eq!(run(&mut r, &["HINCRBYFLOAT", "f", "x", "10.5"]), "10.5");
    assert_eq!(run(&mut r, &["HINCRBYFLOAT", "f", "x", "0.1"]), "10.6");
    assert_eq!(run(&mut r, &["HINCRBYFLOAT", "f", "y", "0.1"]), "0.1");
    // Extended precision, as Redis: 0.1 + 0.2 is "0.3".
    assert_eq!(run(&mut r, &["HINCRBYFLOAT", "f", "y", "0.2"]), "0.3");
    assert_eq!(run(&mut r, &["HINCRBYFLOAT", "f", "z", "5.0e3"]), "5000");
    assert_eq!(run(&mut r, &["HINCRBYFLOAT", "f", "z", "-5000"]), "0");
    assert_eq!(run(&mut r, &["HGET", "f", "z"]), "0");
    // Integers stored by HINCRBY are floats too.
    assert_eq!(run(&mut r, &["HINCRBYFLOAT", "h", "n", "1.5"]), "-0.5");
    assert_eq!(
        run(&mut r, &["HINCRBYFLOAT", "f", "x", "abc"]),
        "-ERR value is not a valid float"
    );
    assert_eq!(
        run(&mut r, &["HINCRBYFLOAT", "f", "x", "inf"]),
        "-ERR value is NaN or Infinity"
    );
    assert_eq!(
        run(&mut r, &["HINCRBYFLOAT", "h", "s", "1"]),
        "-ERR hash value is not a float"
    );
    // Beyond f64 but within long double, as Redis.
    run(&mut r, &["HINCRBYFLOAT", "f", "w", "1e308"]);
    let w = run(&mut r, &["HINCRBYFLOAT", "f", "w", "1e308"]);
    assert!(
        w.len() == 309 && w.starts_with("19999999999999999999337"),
        "{w}"
    );
    assert_eq!(run(&mut r, &["HSET", "f", "huge", "1.1e4932"]), ":1");
    assert_eq!(
        run(&mut r, &["HINCRBYFLOAT", "f", "huge", "1.1e4932"]),
        "-ERR increment would produce NaN or Infinity"
    );
    assert_eq!(
        run(&mut r, &["HINCRBYFLOAT", "new", "f", "inf"]),
        "-ERR value is NaN or Infinity"
    );
    assert_eq!(run(&mut r, &["EXISTS", "new"]), ":0");
}

#[test]
fn encoding_transitions() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // 128 fields stay listpack, the 129th converts.
    for i in 0..128 {
        assert_eq!(
            run_owned(
                &mut r,
                &["HSET".into(), "h".into(), format!("f{i}"), "v".into()]
            ),
            ":1"
        );
    }
    assert_eq!(encoding(&mut r, "h"), "listpack");
    assert_eq!(run(&mut r, &["HSET", "h", "f128", "v"]), ":1");
    assert_eq!(encoding(&mut r, "h"), "hashtable");
    // Never converts back, even when small again.
    for i in 0..128 {
        assert_eq!(
            run_owned(&mut r, &["HDEL".into(), "h".into(), format!("f{i}")]),
            ":1"
        );
    }
    assert_eq!(run(&mut r, &["HLEN", "h"]), ":1");
    assert_eq!(encoding(&mut r, "h"), "hashtable");
    assert_eq!(run(&mut r, &["HGETALL", "h"]), "[f128,v]");

    // A value or field over 64 bytes converts.
    let v64 = "x".repeat(64);
    let v65 = "x".repeat(65);
    assert_eq!(run(&mut r, &["HSET", "v", "a", &v64]), ":1");
    assert_eq!(encoding(&mut r, "v"), "listpack");
    assert_eq!(run(&mut r, &["HSET", "v", "b", &v65]), ":1");
    assert_eq!(encoding(&mut r, "v"), "hashtable");
    assert_eq!(run(&mut r, &["HGET", "v", "b"]), v65);
    assert_eq!(run(&mut r, &["HSET", "k", &v65, "1"]), ":1");
    assert_eq!(encoding(&mut r, "k"), "hashtable");
    // HSETNX converts before looking at the field, as Redis's hashTypeTryConversion.
    assert_eq!(run(&mut r, &["HSET", "nx", "a", "1"]), ":1");
    assert_eq!(run(&mut r, &["HSETNX", "nx", "a", &v65]), ":0");
    assert_eq!(encoding(&mut r, "nx"), "hashtable");
    // HINCRBYFLOAT producing a long value converts.
    assert_eq!(
        run(&mut r, &["HINCRBYFLOAT", "fl", "a", "1e20"]),
        "100000000000000000000"
    );
    assert_eq!(encoding(&mut r, "fl"), "listpack");
    let long = run(&mut r, &["HINCRBYFLOAT", "fl", "a", "1e100"]);
    // The x87 extended-precision sum Redis answers.
    assert_eq!(
        long,
        "9999999999999999999669353532207342619498699019828496079271391541752018669482644324418977840117055488"
    );
    assert_eq!(encoding(&mut r, "fl"), "hashtable");
    // More than 128 pairs in one HSET go straight to the hashtable (even with duplicates).
    let mut args: Vec<String> = vec!["HSET".into(), "many".into()];
    for _ in 0..129 {
        args.push("same".into());
        args.push("v".into());
    }
    assert_eq!(run_owned(&mut r, &args), ":1");
    assert_eq!(encoding(&mut r, "many"), "hashtable");
    // Commands work the same on both encodings.
    for key in ["h", "v", "many"] {
        assert_eq!(run(&mut r, &["HEXISTS", key, "nope"]), ":0");
    }
    assert_eq!(run(&mut r, &["HSTRLEN", "v", "b"]), ":65");
    assert_eq!(run(&mut r, &["HINCRBY", "h", "ctr", "3"]), ":3");
    assert_eq!(sorted(&run(&mut r, &["HKEYS", "h"])), vec!["ctr", "f128"]);
}

#[test]
fn hrandfield_forms_and_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["HRANDFIELD", "nope"]), "(nil)");
    assert_eq!(run(&mut r, &["HRANDFIELD", "nope", "5"]), "[]");
    assert_eq!(
        run(&mut r, &["HRANDFIELD", "nope", "-5", "WITHVALUES"]),
        "[]"
    );
    assert_eq!(
        run(&mut r, &["HSET", "h", "a", "1", "b", "2", "c", "3"]),
        ":3"
    );
    let one = run(&mut r, &["HRANDFIELD", "h"]);
    assert!(["a", "b", "c"].contains(&one.as_str()), "{one}");
    assert_eq!(run(&mut r, &["HRANDFIELD", "h", "0"]), "[]");
    assert_eq!(run(&mut r, &["HRANDFIELD", "h", "0", "WITHVALUES"]), "[]");
    // count >= size: every field once.
    assert_eq!(
        sorted(&run(&mut r, &["HRANDFIELD", "h", "3"])),
        vec!["a", "b", "c"]
    );
    assert_eq!(
        sorted(&run(&mut r, &["HRANDFIELD", "h", "10"])),
        vec!["a", "b", "c"]
    );
    // count < size: distinct fields.
    let two = items(&run(&mut r, &["HRANDFIELD", "h", "2"]));
    assert_eq!(two.len(), 2);
    assert_ne!(two[0], two[1]);
    // WITHVALUES in RESP2 is flat field, value pairs.
    let wv = items(&run(&mut r, &["HRANDFIELD", "h", "2", "withvalues"]));
    assert_eq!(wv.len(), 4);
    for pair in wv.chunks(2) {
        let expect = match pair[0].as_str() {
            "a" => "1",
            "b" => "2",
            "c" => "3",
            other => panic!("unexpected field {other}"),
        };
        assert_eq!(pair[1], expect);
    }
    // Negative count: exactly |count| fields, repetitions allowed.
    let rep = items(&run(&mut r, &["HRANDFIELD", "h", "-20"]));
    assert_eq!(rep.len(), 20);
    assert!(rep.iter().all(|f| ["a", "b", "c"].contains(&f.as_str())));
    assert_eq!(
        items(&run(&mut r, &["HRANDFIELD", "h", "-7", "WITHVALUES"])).len(),
        14
    );

    assert_eq!(run(&mut r, &["HRANDFIELD", "h", "x"]), NOT_INT);
    assert_eq!(run(&mut r, &["HRANDFIELD", "h", "1", "foo"]), SYNTAX);
    assert_eq!(
        run(&mut r, &["HRANDFIELD", "h", "1", "WITHVALUES", "x"]),
        SYNTAX
    );
    assert_eq!(
        run(&mut r, &["HRANDFIELD", "h", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    assert_eq!(
        run(
            &mut r,
            &["HRANDFIELD", "h", "-5000000000000000000", "WITHVALUES"]
        ),
        "-ERR value is out of range"
    );
    // Argument errors come before the key lookup.
    assert_eq!(run(&mut r, &["HRANDFIELD", "nope", "1", "foo"]), SYNTAX);
    // A repetition count whose reply would exceed proto-max-bulk-len is refused, not built.
    assert_eq!(
        run(&mut r, &["CONFIG", "SET", "proto-max-bulk-len", "1mb"]),
        "+OK"
    );
    assert_eq!(
        run(&mut r, &["HRANDFIELD", "h", "-100000000"]),
        "-ERR value is out of range"
    );
    assert_eq!(run(&mut r, &["PING"]), "+PONG");
}

/// Draws from HRANDFIELD and checks every field comes up roughly equally often.
fn assert_uniform(r: &mut Raw, key: &str, fields: usize) {
    let draws = fields * 300;
    let mut counts: HashMap<String, usize> = HashMap::new();
    // Negative counts draw independently with repetition.
    for f in items(&run(r, &["HRANDFIELD", key, &format!("-{draws}")])) {
        *counts.entry(f).or_default() += 1;
    }
    assert_eq!(counts.len(), fields, "every field drawn");
    for (f, c) in &counts {
        assert!(
            (150..450).contains(c),
            "{key}: field {f} drawn {c} times of {draws}"
        );
    }
    // Single draws and distinct samples too.
    let mut single: HashMap<String, usize> = HashMap::new();
    for _ in 0..fields * 100 {
        *single.entry(run(r, &["HRANDFIELD", key])).or_default() += 1;
    }
    assert_eq!(single.len(), fields);
    assert!(
        single.values().all(|&c| (40..170).contains(&c)),
        "{single:?}"
    );
    // Distinct samples (count < size): two different fields, each field equally likely.
    let mut distinct: HashMap<String, usize> = HashMap::new();
    let rounds = fields * 60;
    for _ in 0..rounds {
        let pair = items(&run(r, &["HRANDFIELD", key, "2"]));
        assert!(pair.len() == 2 && pair[0] != pair[1], "{pair:?}");
        for f in pair {
            *distinct.entry(f).or_default() += 1;
        }
    }
    // Expected 120 per field.
    assert!(
        distinct.values().all(|&c| (60..200).contains(&c)),
        "{distinct:?}"
    );
}

#[test]
fn hrandfield_is_roughly_uniform_in_both_encodings() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut args: Vec<String> = vec!["HSET".into(), "small".into()];
    for i in 0..5 {
        args.push(format!("f{i}"));
        args.push("v".into());
    }
    run_owned(&mut r, &args);
    assert_eq!(encoding(&mut r, "small"), "listpack");
    assert_uniform(&mut r, "small", 5);
    let mut args: Vec<String> = vec!["HSET".into(), "big".into()];
    for i in 0..200 {
        args.push(format!("f{i}"));
        args.push("v".into());
    }
    run_owned(&mut r, &args);
    // Delete some so the table has holes filled by swap-removal.
    for i in 0..50 {
        run_owned(
            &mut r,
            &["HDEL".into(), "big".into(), format!("f{}", i * 4)],
        );
    }
    assert_eq!(encoding(&mut r, "big"), "hashtable");
    assert_uniform(&mut r, "big", 150);
}

#[test]
fn hscan_options_and_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["HSCAN", "nope", "0"]), "[0,[]]");
    // A missing key answers before the options are read, as Redis.
    assert_eq!(run(&mut r, &["HSCAN", "nope", "0", "bogus"]), "[0,[]]");
    assert_eq!(
        run(&mut r, &["HSET", "h", "a1", "1", "a2", "2", "b1", "3"]),
        ":3"
    );
    // Small hashes come back whole with cursor 0 whatever COUNT says.
    assert_eq!(
        run(&mut r, &["HSCAN", "h", "0", "COUNT", "1"]),
        "[0,[a1,1,a2,2,b1,3]]"
    );
    assert_eq!(
        run(&mut r, &["HSCAN", "h", "0", "MATCH", "a*"]),
        "[0,[a1,1,a2,2]]"
    );
    assert_eq!(
        run(&mut r, &["HSCAN", "h", "0", "match", "*1"]),
        "[0,[a1,1,b1,3]]"
    );
    assert_eq!(
        run(&mut r, &["HSCAN", "h", "0", "NOVALUES"]),
        "[0,[a1,a2,b1]]"
    );
    assert_eq!(
        run(
            &mut r,
            &["HSCAN", "h", "0", "MATCH", "a*", "NOVALUES", "COUNT", "5"]
        ),
        "[0,[a1,a2]]"
    );
    assert_eq!(run(&mut r, &["HSCAN", "h", "x"]), "-ERR invalid cursor");
    assert_eq!(run(&mut r, &["HSCAN", "h", "-1"]), "-ERR invalid cursor");
    assert_eq!(
        run(&mut r, &["HSCAN", "h", "18446744073709551616"]),
        "-ERR invalid cursor"
    );
    assert_eq!(run(&mut r, &["HSCAN", "h", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(run(&mut r, &["HSCAN", "h", "0", "COUNT", "x"]), NOT_INT);
    assert_eq!(run(&mut r, &["HSCAN", "h", "0", "COUNT"]), SYNTAX);
    assert_eq!(run(&mut r, &["HSCAN", "h", "0", "MATCH"]), SYNTAX);
    assert_eq!(run(&mut r, &["HSCAN", "h", "0", "bogus"]), SYNTAX);
    // TYPE is SCAN's alone.
    assert_eq!(run(&mut r, &["HSCAN", "h", "0", "TYPE", "string"]), SYNTAX);
    assert_eq!(
        run(&mut r, &["HSCAN", "h", "0", "NOVALUES", "extra"]),
        SYNTAX
    );

    // Hashtable: COUNT bounds the step, MATCH filters, the cursor ends at 0.
    let mut args: Vec<String> = vec!["HSET".into(), "big".into()];
    for i in 0..300 {
        args.push(format!("f{i}"));
        args.push(format!("v{i}"));
    }
    run_owned(&mut r, &args);
    assert_eq!(encoding(&mut r, "big"), "hashtable");
    let mut cursor = "0".to_string();
    let mut got = BTreeMap::new();
    let mut calls = 0;
    loop {
        r.cmd(&[b"HSCAN", b"big", cursor.as_bytes(), b"COUNT", b"50"]);
        assert_eq!(r.line(), "*2");
        cursor = r.reply();
        let page = items(&r.reply());
        assert!(page.len() <= 100);
        for kv in page.chunks(2) {
            got.insert(kv[0].clone(), kv[1].clone());
        }
        calls += 1;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(calls, 6);
    assert_eq!(got.len(), 300);
    assert!(got.iter().all(|(f, v)| f[1..] == v[1..]));
    let mut matched = BTreeSet::new();
    let mut cursor = "0".to_string();
    loop {
        r.cmd(&[
            b"HSCAN",
            b"big",
            cursor.as_bytes(),
            b"MATCH",
            b"f1?",
            b"NOVALUES",
        ]);
        assert_eq!(r.line(), "*2");
        cursor = r.reply();
        matched.extend(items(&r.reply()));
        if cursor == "0" {
            break;
        }
    }
    let expect: BTreeSet<String> = (10..20).map(|i| format!("f{i}")).collect();
    assert_eq!(matched, expect);
}

#[test]
fn hscan_returns_every_field_present_throughout_while_the_hash_changes() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let n = 2000;
    let mut args: Vec<String> = vec!["HSET".into(), "h".into()];
    for i in 0..n {
        args.push(format!("f{i}"));
        args.push("v".into());
    }
    run_owned(&mut r, &args);
    // Fields f0..f999 stay for the whole scan; the others are deleted as it goes, and new fields
    // are added between every two calls.
    let stable: BTreeSet<String> = (0..n / 2).map(|i| format!("f{i}")).collect();
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    loop {
        r.cmd(&[
            b"HSCAN",
            b"h",
            cursor.as_bytes(),
            b"COUNT",
            b"37",
            b"NOVALUES",
        ]);
        assert_eq!(r.line(), "*2");
        cursor = r.reply();
        seen.extend(items(&r.reply()));
        for j in 0..20 {
            let victim = n / 2 + step * 20 + j;
            if victim < n {
                run_owned(&mut r, &["HDEL".into(), "h".into(), format!("f{victim}")]);
            }
        }
        run_owned(
            &mut r,
            &["HSET".into(), "h".into(), format!("new{step}"), "v".into()],
        );
        step += 1;
        if cursor == "0" {
            break;
        }
        assert!(step < 1000, "scan does not terminate");
    }
    let missing: Vec<&String> = stable.difference(&seen).collect();
    assert!(missing.is_empty(), "fields never returned: {missing:?}");
}

#[test]
fn resp3_reply_types() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"HELLO", b"3"]);
    let _ = r.reply();
    assert_eq!(run(&mut r, &["HSET", "h", "a", "1", "b", "2"]), ":2");
    r.cmd(&[b"HGETALL", b"h"]);
    assert_eq!(r.line(), "%2");
    let body: Vec<String> = (0..4).map(|_| r.reply()).collect();
    assert_eq!(body, vec!["a", "1", "b", "2"]);
    r.cmd(&[b"HGETALL", b"nope"]);
    assert_eq!(r.line(), "%0");
    r.cmd(&[b"HGET", b"h", b"zz"]);
    assert_eq!(r.line(), "_");
    r.cmd(&[b"HRANDFIELD", b"nope"]);
    assert_eq!(r.line(), "_");
    r.cmd(&[b"HMGET", b"h", b"a", b"zz"]);
    assert_eq!(r.line(), "*2");
    assert_eq!(r.reply(), "1");
    assert_eq!(r.line(), "_");
    r.cmd(&[b"HKEYS", b"h"]);
    assert_eq!(r.line(), "*2");
    assert_eq!((r.reply(), r.reply()), ("a".into(), "b".into()));
    // WITHVALUES pairs are two-element arrays in RESP3, the outer length is the pair count.
    r.cmd(&[b"HRANDFIELD", b"h", b"-3", b"WITHVALUES"]);
    assert_eq!(r.line(), "*3");
    for _ in 0..3 {
        assert_eq!(r.line(), "*2");
        let (f, v) = (r.reply(), r.reply());
        assert_eq!(v, if f == "a" { "1" } else { "2" });
    }
    r.cmd(&[b"HRANDFIELD", b"h", b"5", b"WITHVALUES"]);
    assert_eq!(r.line(), "*2");
    for _ in 0..2 {
        assert_eq!(r.line(), "*2");
        let _ = (r.reply(), r.reply());
    }
    r.cmd(&[b"HINCRBYFLOAT", b"h", b"a", b"1.5"]);
    assert_eq!(r.line(), "$3");
    assert_eq!(r.line(), "2.5");
    r.cmd(&[b"HSCAN", b"h", b"0"]);
    assert_eq!(r.reply(), "[0,[a,2.5,b,2]]");
}

#[test]
fn hash_survives_common_key_operations() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["HSET", "h", "a", "1"]), ":1");
    assert_eq!(run(&mut r, &["EXPIRE", "h", "100"]), ":1");
    // Field writes keep the TTL; removing the last field deletes the key with it.
    assert_eq!(run(&mut r, &["HSET", "h", "b", "2"]), ":1");
    let ttl: i64 = run(&mut r, &["TTL", "h"])[1..].parse().unwrap();
    assert!(ttl > 90 && ttl <= 100, "{ttl}");
    assert_eq!(run(&mut r, &["RENAME", "h", "h2"]), "+OK");
    assert_eq!(run(&mut r, &["HGETALL", "h2"]), "[a,1,b,2]");
    assert_eq!(run(&mut r, &["DEL", "h2"]), ":1");
    assert_eq!(run(&mut r, &["HLEN", "h2"]), ":0");
}

#[test]
fn keyspace_notifications() {
    let s = Server::start(&["--notify-keyspace-events", "Egh"]);
    let mut sub = s.raw();
    sub.cmd(&[b"PSUBSCRIBE", b"__keyevent@0__:*"]);
    assert!(sub.reply().starts_with("[psubscribe"));
    let mut r = s.raw();
    let mut expect = |r: &mut Raw, cmd: &[&str], events: &[&str], key: &str| {
        let _ = run(r, cmd);
        for e in events {
            assert_eq!(
                sub.reply(),
                format!("[pmessage,__keyevent@0__:*,__keyevent@0__:{e},{key}]"),
                "{cmd:?}"
            );
        }
    };
    expect(&mut r, &["HSET", "h", "a", "1", "b", "2"], &["hset"], "h");
    expect(&mut r, &["HMSET", "h", "c", "3"], &["hset"], "h");
    expect(&mut r, &["HSETNX", "h", "d", "4"], &["hset"], "h");
    expect(&mut r, &["HINCRBY", "h", "a", "1"], &["hincrby"], "h");
    expect(
        &mut r,
        &["HINCRBYFLOAT", "h", "a", "1.5"],
        &["hincrbyfloat"],
        "h",
    );
    // No-ops raise nothing: the next event seen is the HDEL's.
    let _ = run(&mut r, &["HSETNX", "h", "a", "9"]);
    let _ = run(&mut r, &["HDEL", "h", "zz"]);
    expect(&mut r, &["HDEL", "h", "a", "b"], &["hdel"], "h");
    expect(&mut r, &["HDEL", "h", "c", "d"], &["hdel", "del"], "h");
}
