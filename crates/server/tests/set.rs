//! The set commands against a real server: SADD, SREM, SISMEMBER, SMISMEMBER, SMEMBERS, SCARD,
//! SPOP, SRANDMEMBER, SMOVE, SINTER, SINTERCARD, SUNION, SDIFF, the STORE forms and SSCAN, with
//! Redis 7's exact replies and error texts (checked against a real Redis 7.0 server; encodings are
//! Redis 7.2's: intset → listpack → hashtable), RESP3 reply types, the SSCAN guarantee while the
//! set changes, and rough uniformity of SPOP/SRANDMEMBER.

mod common;
use common::{encoding, items, run, run_owned, sorted, Raw, Server, NOT_INT, SYNTAX, WRONGTYPE};
use std::collections::{BTreeSet, HashMap};

/// SADD key with members `prefix0..prefix{n-1}`.
fn fill(r: &mut Raw, key: &str, prefix: &str, n: usize) {
    let mut args: Vec<String> = vec!["SADD".into(), key.into()];
    args.extend((0..n).map(|i| format!("{prefix}{i}")));
    assert_eq!(run_owned(r, &args), format!(":{n}"));
}

#[test]
fn membership_commands() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SADD", "s", "a", "b", "c", "a"]), ":3");
    assert_eq!(run(&mut r, &["SADD", "s", "a", "d"]), ":1");
    assert_eq!(run(&mut r, &["SCARD", "s"]), ":4");
    assert_eq!(run(&mut r, &["SCARD", "nope"]), ":0");
    // Small sets keep insertion order; intsets come out sorted.
    assert_eq!(run(&mut r, &["SMEMBERS", "s"]), "[a,b,c,d]");
    assert_eq!(run(&mut r, &["SADD", "i", "30", "-5", "10", "10"]), ":3");
    assert_eq!(run(&mut r, &["SMEMBERS", "i"]), "[-5,10,30]");
    assert_eq!(run(&mut r, &["SMEMBERS", "nope"]), "[]");
    assert_eq!(run(&mut r, &["SISMEMBER", "s", "a"]), ":1");
    assert_eq!(run(&mut r, &["SISMEMBER", "s", "zz"]), ":0");
    assert_eq!(run(&mut r, &["SISMEMBER", "nope", "a"]), ":0");
    assert_eq!(run(&mut r, &["SISMEMBER", "i", "10"]), ":1");
    // "010" is not the integer 10.
    assert_eq!(run(&mut r, &["SISMEMBER", "i", "010"]), ":0");
    assert_eq!(
        run(&mut r, &["SMISMEMBER", "s", "a", "zz", "d"]),
        "[:1,:0,:1]"
    );
    assert_eq!(run(&mut r, &["SMISMEMBER", "nope", "a", "b"]), "[:0,:0]");
    assert_eq!(run(&mut r, &["SREM", "s", "a", "zz", "a"]), ":1");
    assert_eq!(run(&mut r, &["SREM", "s", "zz"]), ":0");
    assert_eq!(run(&mut r, &["SREM", "nope", "a"]), ":0");
    assert_eq!(run(&mut r, &["EXISTS", "nope"]), ":0");
    assert_eq!(run(&mut r, &["SREM", "s", "b", "c", "d"]), ":3");
    assert_eq!(run(&mut r, &["EXISTS", "s"]), ":0");
    assert_eq!(run(&mut r, &["SREM", "i", "-5"]), ":1");
    assert_eq!(run(&mut r, &["SMEMBERS", "i"]), "[10,30]");
    assert_eq!(run(&mut r, &["TYPE", "i"]), "+set");
    // Empty and binary members.
    assert_eq!(run(&mut r, &["SADD", "e", ""]), ":1");
    assert_eq!(run(&mut r, &["SISMEMBER", "e", ""]), ":1");
    r.cmd(&[b"SADD", b"bin", b"a\r\n\0\xff"]);
    assert_eq!(r.reply(), ":1");
    r.cmd(&[b"SISMEMBER", b"bin", b"a\r\n\0\xff"]);
    assert_eq!(r.reply(), ":1");
}

#[test]
fn argument_errors_and_wrongtype() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "str", "x"]), "+OK");
    assert_eq!(run(&mut r, &["SADD", "s", "a"]), ":1");
    let arity = |c: &str| format!("-ERR wrong number of arguments for '{c}' command");
    assert_eq!(run(&mut r, &["SADD", "s"]), arity("sadd"));
    assert_eq!(run(&mut r, &["SREM", "s"]), arity("srem"));
    assert_eq!(run(&mut r, &["SISMEMBER", "s"]), arity("sismember"));
    assert_eq!(run(&mut r, &["SMISMEMBER", "s"]), arity("smismember"));
    assert_eq!(run(&mut r, &["SMOVE", "s", "t"]), arity("smove"));
    assert_eq!(run(&mut r, &["SINTER"]), arity("sinter"));
    assert_eq!(run(&mut r, &["SINTERSTORE", "d"]), arity("sinterstore"));
    assert_eq!(run(&mut r, &["SINTERCARD", "1"]), arity("sintercard"));
    assert_eq!(run(&mut r, &["SSCAN", "s"]), arity("sscan"));

    let cases: &[&[&str]] = &[
        &["SADD", "str", "a"],
        &["SREM", "str", "a"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SMEMBERS", "str"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SPOP", "str", "2"],
        &["SRANDMEMBER", "str"],
        &["SRANDMEMBER", "str", "2"],
        &["SMOVE", "str", "s", "a"],
        &["SMOVE", "s", "str", "a"],
        &["SINTER", "s", "str"],
        &["SINTER", "nope", "str"],
        &["SINTERCARD", "2", "s", "str"],
        &["SINTERSTORE", "d", "s", "str"],
        &["SUNION", "s", "str"],
        &["SUNIONSTORE", "d", "nope", "str"],
        &["SDIFF", "s", "str"],
        &["SDIFF", "nope", "str"],
        &["SDIFFSTORE", "d", "s", "str"],
        &["SSCAN", "str", "0"],
    ];
    for c in cases {
        assert_eq!(run(&mut r, c), WRONGTYPE, "{c:?}");
    }
    // Nothing was touched by the failed commands.
    assert_eq!(run(&mut r, &["GET", "str"]), "x");
    assert_eq!(run(&mut r, &["SMEMBERS", "s"]), "[a]");
    assert_eq!(run(&mut r, &["EXISTS", "d"]), ":0");
    // A hash is as wrong as a string.
    assert_eq!(run(&mut r, &["HSET", "h", "f", "v"]), ":1");
    assert_eq!(run(&mut r, &["SADD", "h", "a"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["SCARD", "h"]), WRONGTYPE);
    // SMOVE from a missing source answers 0 before looking at the destination's type.
    assert_eq!(run(&mut r, &["SMOVE", "nope", "str", "a"]), ":0");
}

#[test]
fn spop_and_srandmember() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SPOP", "nope"]), "(nil)");
    assert_eq!(run(&mut r, &["SPOP", "nope", "3"]), "[]");
    assert_eq!(run(&mut r, &["SPOP", "nope", "0"]), "[]");
    assert_eq!(run(&mut r, &["SRANDMEMBER", "nope"]), "(nil)");
    assert_eq!(run(&mut r, &["SRANDMEMBER", "nope", "3"]), "[]");
    assert_eq!(run(&mut r, &["SRANDMEMBER", "nope", "-3"]), "[]");
    assert_eq!(run(&mut r, &["SADD", "s", "a", "b", "c", "d", "e"]), ":5");
    let all: BTreeSet<String> = ["a", "b", "c", "d", "e"]
        .iter()
        .map(|x| x.to_string())
        .collect();

    let one = run(&mut r, &["SRANDMEMBER", "s"]);
    assert!(all.contains(&one));
    assert_eq!(run(&mut r, &["SRANDMEMBER", "s", "0"]), "[]");
    assert_eq!(
        sorted(&run(&mut r, &["SRANDMEMBER", "s", "5"])),
        sorted("[a,b,c,d,e]")
    );
    assert_eq!(
        sorted(&run(&mut r, &["SRANDMEMBER", "s", "50"])),
        sorted("[a,b,c,d,e]")
    );
    let three = items(&run(&mut r, &["SRANDMEMBER", "s", "3"]));
    assert_eq!(three.iter().collect::<BTreeSet<_>>().len(), 3);
    assert!(three.iter().all(|m| all.contains(m)));
    let rep = items(&run(&mut r, &["SRANDMEMBER", "s", "-12"]));
    assert_eq!(rep.len(), 12);
    assert!(rep.iter().all(|m| all.contains(m)));
    assert_eq!(run(&mut r, &["SCARD", "s"]), ":5");
    assert_eq!(run(&mut r, &["SRANDMEMBER", "s", "x"]), NOT_INT);
    assert_eq!(run(&mut r, &["SRANDMEMBER", "s", "1", "2"]), SYNTAX);
    assert_eq!(
        run(&mut r, &["SRANDMEMBER", "s", "-9223372036854775808"]),
        "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
    );
    // Intset members come back as integers.
    assert_eq!(run(&mut r, &["SADD", "i", "7"]), ":1");
    assert_eq!(run(&mut r, &["SRANDMEMBER", "i"]), "7");
    assert_eq!(run(&mut r, &["SRANDMEMBER", "i", "-2"]), "[7,7]");

    let popped = run(&mut r, &["SPOP", "s"]);
    assert!(all.contains(&popped));
    assert_eq!(run(&mut r, &["SISMEMBER", "s", &popped]), ":0");
    let two = items(&run(&mut r, &["SPOP", "s", "2"]));
    assert_eq!(two.len(), 2);
    assert_eq!(run(&mut r, &["SCARD", "s"]), ":2");
    assert_eq!(run(&mut r, &["SPOP", "s", "0"]), "[]");
    assert_eq!(run(&mut r, &["SCARD", "s"]), ":2");
    // Popping at least everything returns the whole set and deletes the key.
    assert_eq!(items(&run(&mut r, &["SPOP", "s", "10"])).len(), 2);
    assert_eq!(run(&mut r, &["EXISTS", "s"]), ":0");
    let mut got = BTreeSet::new();
    got.insert(popped);
    got.extend(two);
    assert_eq!(got.len(), 3);
    // The last single pop deletes the key too.
    assert_eq!(run(&mut r, &["SPOP", "i"]), "7");
    assert_eq!(run(&mut r, &["EXISTS", "i"]), ":0");

    assert_eq!(run(&mut r, &["SADD", "s", "a"]), ":1");
    let positive = "-ERR value is out of range, must be positive";
    assert_eq!(run(&mut r, &["SPOP", "s", "-1"]), positive);
    assert_eq!(run(&mut r, &["SPOP", "s", "x"]), positive);
    assert_eq!(run(&mut r, &["SPOP", "s", "1", "2"]), SYNTAX);
    assert_eq!(run(&mut r, &["SPOP", "nope", "-1"]), positive);

    // Pops from a hashtable set, in steps, return every member exactly once.
    fill(&mut r, "big", "m", 1000);
    assert_eq!(encoding(&mut r, "big"), "hashtable");
    let mut seen = BTreeSet::new();
    for _ in 0..10 {
        for m in items(&run(&mut r, &["SPOP", "big", "99"])) {
            assert!(seen.insert(m));
        }
    }
    assert_eq!(run(&mut r, &["SCARD", "big"]), ":10");
    assert_eq!(items(&run(&mut r, &["SRANDMEMBER", "big", "9"])).len(), 9);
    for m in items(&run(&mut r, &["SPOP", "big", "10"])) {
        assert!(seen.insert(m));
    }
    assert_eq!(seen.len(), 1000);
    assert_eq!(run(&mut r, &["EXISTS", "big"]), ":0");

    // A repetition count whose reply would exceed proto-max-bulk-len is refused, not built.
    assert_eq!(
        run(&mut r, &["CONFIG", "SET", "proto-max-bulk-len", "1mb"]),
        "+OK"
    );
    assert_eq!(
        run(&mut r, &["SRANDMEMBER", "s", "-100000000"]),
        "-ERR value is out of range"
    );
    assert_eq!(run(&mut r, &["PING"]), "+PONG");
}

/// Sends `cmds` pipelined (in batches, so neither side's socket buffer fills up) and returns the
/// replies in order.
fn pipeline(r: &mut Raw, cmds: &[Vec<String>]) -> Vec<String> {
    let mut replies = Vec::with_capacity(cmds.len());
    for batch in cmds.chunks(200) {
        let mut buf = Vec::new();
        for c in batch {
            buf.extend_from_slice(format!("*{}\r\n", c.len()).as_bytes());
            for a in c {
                buf.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
            }
        }
        r.send(&buf);
        replies.extend(batch.iter().map(|_| r.reply()));
    }
    replies
}

fn check_uniform(counts: &HashMap<String, usize>, n: usize, expect: usize) {
    assert_eq!(counts.len(), n, "every member drawn: {counts:?}");
    let (lo, hi) = (expect / 2, expect * 3 / 2);
    for (m, &c) in counts {
        assert!(
            c > lo && c < hi,
            "member {m} drawn {c} times, expected about {expect}"
        );
    }
}

#[test]
fn random_members_are_roughly_uniform() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for (key, n) in [("small", 6usize), ("big", 300)] {
        fill(&mut r, key, "m", n);
        // Holes from swap-removal must not bias sampling.
        for i in (0..n).step_by(3) {
            run_owned(&mut r, &["SREM".into(), key.into(), format!("m{i}")]);
        }
        let left = n - n.div_ceil(3);
        let mut counts: HashMap<String, usize> = HashMap::new();
        for m in items(&run(
            &mut r,
            &["SRANDMEMBER", key, &format!("-{}", left * 200)],
        )) {
            *counts.entry(m).or_default() += 1;
        }
        check_uniform(&counts, left, 200);
        let mut single: HashMap<String, usize> = HashMap::new();
        let cmds = vec![vec!["SRANDMEMBER".to_string(), key.to_string()]; left * 100];
        for m in pipeline(&mut r, &cmds) {
            *single.entry(m).or_default() += 1;
        }
        check_uniform(&single, left, 100);
    }
    assert_eq!(encoding(&mut r, "small"), "listpack");
    assert_eq!(encoding(&mut r, "big"), "hashtable");

    // Distinct samples: each member equally likely to be in a sample of 2 out of 4.
    fill(&mut r, "four", "m", 4);
    let mut counts: HashMap<String, usize> = HashMap::new();
    let cmds = vec![vec!["SRANDMEMBER".to_string(), "four".into(), "2".into()]; 800];
    for reply in pipeline(&mut r, &cmds) {
        let pair = items(&reply);
        assert!(pair.len() == 2 && pair[0] != pair[1]);
        for m in pair {
            *counts.entry(m).or_default() += 1;
        }
    }
    check_uniform(&counts, 4, 400);

    // SPOP from fresh copies of a set: each member equally likely to be popped. Single pops from
    // a listpack set, and pops of a third of a hashtable set at a time.
    for (n, pop, rounds) in [(5usize, 1usize, 1000usize), (150, 50, 300)] {
        let mut counts: HashMap<String, usize> = HashMap::new();
        let mut base: Vec<String> = vec!["SADD".into(), "src".into()];
        base.extend((0..n).map(|i| format!("m{i}")));
        run_owned(&mut r, &base);
        let mut spop = vec!["SPOP".to_string(), "copy".into()];
        if pop > 1 {
            spop.push(pop.to_string());
        }
        let round = [
            vec!["SUNIONSTORE".to_string(), "copy".into(), "src".into()],
            spop,
        ];
        let cmds: Vec<Vec<String>> = (0..rounds).flat_map(|_| round.clone()).collect();
        for pair in pipeline(&mut r, &cmds).chunks(2) {
            assert_eq!(pair[0], format!(":{n}"));
            let popped = if pop > 1 {
                items(&pair[1])
            } else {
                vec![pair[1].clone()]
            };
            assert_eq!(popped.iter().collect::<BTreeSet<_>>().len(), pop);
            for m in popped {
                *counts.entry(m).or_default() += 1;
            }
        }
        check_uniform(&counts, n, rounds * pop / n);
        assert_eq!(
            encoding(&mut r, "src"),
            if n > 128 { "hashtable" } else { "listpack" }
        );
        assert_eq!(run(&mut r, &["DEL", "src", "copy"]), ":2");
    }
}

#[test]
fn smove() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SADD", "a", "x", "y"]), ":2");
    assert_eq!(run(&mut r, &["SMOVE", "a", "b", "x"]), ":1");
    assert_eq!(run(&mut r, &["SMEMBERS", "a"]), "[y]");
    assert_eq!(run(&mut r, &["SMEMBERS", "b"]), "[x]");
    assert_eq!(run(&mut r, &["SMOVE", "a", "b", "zz"]), ":0");
    assert_eq!(run(&mut r, &["SMOVE", "nope", "b", "x"]), ":0");
    // Same source and destination: membership answer, no change.
    assert_eq!(run(&mut r, &["SMOVE", "a", "a", "y"]), ":1");
    assert_eq!(run(&mut r, &["SMOVE", "a", "a", "zz"]), ":0");
    assert_eq!(run(&mut r, &["SMEMBERS", "a"]), "[y]");
    // Member already in the destination: still moved out of the source.
    assert_eq!(run(&mut r, &["SADD", "b", "y"]), ":1");
    assert_eq!(run(&mut r, &["SMOVE", "a", "b", "y"]), ":1");
    assert_eq!(run(&mut r, &["EXISTS", "a"]), ":0");
    assert_eq!(sorted(&run(&mut r, &["SMEMBERS", "b"])), vec!["x", "y"]);
    // A new destination starts in the encoding its first member suggests.
    assert_eq!(run(&mut r, &["SADD", "n", "5", "6"]), ":2");
    assert_eq!(run(&mut r, &["SMOVE", "n", "ni", "5"]), ":1");
    assert_eq!(encoding(&mut r, "ni"), "intset");
    assert_eq!(run(&mut r, &["SET", "str", "v"]), "+OK");
    assert_eq!(run(&mut r, &["SMOVE", "n", "str", "6"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["SMEMBERS", "n"]), "[6]");
}

#[test]
fn set_algebra() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SADD", "a", "1", "2", "3", "4", "x"]), ":5");
    assert_eq!(run(&mut r, &["SADD", "b", "2", "3", "4", "y"]), ":4");
    assert_eq!(run(&mut r, &["SADD", "c", "3", "4", "5", "y"]), ":4");
    assert_eq!(
        sorted(&run(&mut r, &["SINTER", "a", "b", "c"])),
        vec!["3", "4"]
    );
    assert_eq!(
        sorted(&run(&mut r, &["SINTER", "a", "b"])),
        vec!["2", "3", "4"]
    );
    assert_eq!(
        sorted(&run(&mut r, &["SINTER", "a"])),
        vec!["1", "2", "3", "4", "x"]
    );
    assert_eq!(run(&mut r, &["SINTER", "a", "nope"]), "[]");
    assert_eq!(
        sorted(&run(&mut r, &["SUNION", "a", "b", "c", "nope"])),
        vec!["1", "2", "3", "4", "5", "x", "y"]
    );
    assert_eq!(run(&mut r, &["SUNION", "nope"]), "[]");
    assert_eq!(sorted(&run(&mut r, &["SDIFF", "a", "b"])), vec!["1", "x"]);
    assert_eq!(
        sorted(&run(&mut r, &["SDIFF", "a", "b", "c"])),
        vec!["1", "x"]
    );
    assert_eq!(sorted(&run(&mut r, &["SDIFF", "c", "a"])), vec!["5", "y"]);
    assert_eq!(
        sorted(&run(&mut r, &["SDIFF", "a", "nope"])),
        vec!["1", "2", "3", "4", "x"]
    );
    assert_eq!(run(&mut r, &["SDIFF", "nope", "a"]), "[]");
    assert_eq!(run(&mut r, &["SDIFF", "a", "a"]), "[]");

    assert_eq!(run(&mut r, &["SINTERCARD", "1", "a"]), ":5");
    assert_eq!(run(&mut r, &["SINTERCARD", "3", "a", "b", "c"]), ":2");
    assert_eq!(
        run(&mut r, &["SINTERCARD", "3", "a", "b", "c", "LIMIT", "1"]),
        ":1"
    );
    assert_eq!(
        run(&mut r, &["SINTERCARD", "3", "a", "b", "c", "limit", "0"]),
        ":2"
    );
    assert_eq!(
        run(&mut r, &["SINTERCARD", "2", "a", "b", "LIMIT", "100"]),
        ":3"
    );
    assert_eq!(run(&mut r, &["SINTERCARD", "2", "a", "nope"]), ":0");
    let numkeys = "-ERR numkeys should be greater than 0";
    assert_eq!(run(&mut r, &["SINTERCARD", "0", "a"]), numkeys);
    assert_eq!(run(&mut r, &["SINTERCARD", "-1", "a"]), numkeys);
    assert_eq!(run(&mut r, &["SINTERCARD", "x", "a"]), numkeys);
    assert_eq!(
        run(&mut r, &["SINTERCARD", "3", "a", "b"]),
        "-ERR Number of keys can't be greater than number of args"
    );
    let limit = "-ERR LIMIT can't be negative";
    assert_eq!(run(&mut r, &["SINTERCARD", "1", "a", "LIMIT", "-1"]), limit);
    assert_eq!(run(&mut r, &["SINTERCARD", "1", "a", "LIMIT", "x"]), limit);
    assert_eq!(run(&mut r, &["SINTERCARD", "1", "a", "LIMIT"]), SYNTAX);
    assert_eq!(run(&mut r, &["SINTERCARD", "1", "a", "b"]), SYNTAX);
    assert_eq!(run(&mut r, &["SINTERCARD", "1", "a", "foo", "1"]), SYNTAX);

    // STORE forms: replace the destination whatever its type, drop its TTL, reply the size.
    assert_eq!(run(&mut r, &["SET", "dst", "string"]), "+OK");
    assert_eq!(run(&mut r, &["EXPIRE", "dst", "100"]), ":1");
    assert_eq!(run(&mut r, &["SINTERSTORE", "dst", "a", "b", "c"]), ":2");
    assert_eq!(run(&mut r, &["TYPE", "dst"]), "+set");
    assert_eq!(run(&mut r, &["TTL", "dst"]), ":-1");
    assert_eq!(run(&mut r, &["SMEMBERS", "dst"]), "[3,4]");
    assert_eq!(encoding(&mut r, "dst"), "intset");
    assert_eq!(run(&mut r, &["SUNIONSTORE", "dst", "a", "b"]), ":6");
    assert_eq!(
        sorted(&run(&mut r, &["SMEMBERS", "dst"])),
        vec!["1", "2", "3", "4", "x", "y"]
    );
    assert_eq!(encoding(&mut r, "dst"), "listpack");
    assert_eq!(run(&mut r, &["SDIFFSTORE", "dst", "a", "b"]), ":2");
    assert_eq!(sorted(&run(&mut r, &["SMEMBERS", "dst"])), vec!["1", "x"]);
    // A source may be the destination.
    assert_eq!(run(&mut r, &["SUNIONSTORE", "dst", "dst", "c"]), ":6");
    // Empty results delete the destination.
    assert_eq!(run(&mut r, &["SINTERSTORE", "dst", "a", "nope"]), ":0");
    assert_eq!(run(&mut r, &["EXISTS", "dst"]), ":0");
    assert_eq!(run(&mut r, &["SET", "dst", "string"]), "+OK");
    assert_eq!(run(&mut r, &["SDIFFSTORE", "dst", "a", "a"]), ":0");
    assert_eq!(run(&mut r, &["EXISTS", "dst"]), ":0");
    assert_eq!(run(&mut r, &["SUNIONSTORE", "dst", "nope"]), ":0");
    assert_eq!(run(&mut r, &["EXISTS", "dst"]), ":0");

    // Larger sets across encodings (hashtable × intset × listpack), checked against a model.
    fill(&mut r, "h1", "", 3000); // integers 0..2999 in a hashtable (more than 512)
    let mut args: Vec<String> = vec!["SADD".into(), "h2".into()];
    args.extend((0..3000).step_by(7).map(|i| i.to_string()));
    args.push("tag".into());
    run_owned(&mut r, &args);
    assert_eq!(encoding(&mut r, "h1"), "hashtable");
    assert_eq!(encoding(&mut r, "h2"), "hashtable");
    let mut args: Vec<String> = vec!["SADD".into(), "small".into()];
    args.extend((0..3000).step_by(350).map(|i| i.to_string()));
    run_owned(&mut r, &args);
    assert_eq!(encoding(&mut r, "small"), "intset");
    let expect: Vec<String> = {
        let mut v: Vec<String> = (0..3000)
            .filter(|i| i % 7 == 0 && i % 350 == 0)
            .map(|i: i32| i.to_string())
            .collect();
        v.sort();
        v
    };
    assert_eq!(
        sorted(&run(&mut r, &["SINTER", "h1", "h2", "small"])),
        expect
    );
    let inter12 = (0..3000).filter(|i| i % 7 == 0).count();
    assert_eq!(
        run(&mut r, &["SINTERCARD", "2", "h1", "h2"]),
        format!(":{inter12}")
    );
    assert_eq!(
        run(&mut r, &["SINTERSTORE", "d2", "h2", "h1"]),
        format!(":{inter12}")
    );
    assert_eq!(
        run(&mut r, &["SINTERCARD", "2", "h1", "h2", "LIMIT", "100"]),
        ":100"
    );
    assert_eq!(
        run(&mut r, &["SDIFFSTORE", "d3", "h1", "h2"]),
        format!(":{}", 3000 - inter12)
    );
    assert_eq!(run(&mut r, &["SUNIONSTORE", "d4", "h1", "h2"]), ":3001");
    assert_eq!(run(&mut r, &["SDIFF", "h2", "h1"]), "[tag]");
}

#[test]
fn encoding_transitions() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // intset up to 512 integers, then hashtable.
    fill(&mut r, "i", "", 512);
    assert_eq!(encoding(&mut r, "i"), "intset");
    assert_eq!(run(&mut r, &["SADD", "i", "100000"]), ":1");
    assert_eq!(encoding(&mut r, "i"), "hashtable");
    // intset → listpack on a non-integer member while small.
    assert_eq!(run(&mut r, &["SADD", "il", "1", "2", "3"]), ":3");
    assert_eq!(encoding(&mut r, "il"), "intset");
    assert_eq!(run(&mut r, &["SADD", "il", "a"]), ":1");
    assert_eq!(encoding(&mut r, "il"), "listpack");
    assert_eq!(
        sorted(&run(&mut r, &["SMEMBERS", "il"])),
        vec!["1", "2", "3", "a"]
    );
    // Non-canonical integers are strings.
    assert_eq!(run(&mut r, &["SADD", "nc", "007"]), ":1");
    assert_eq!(encoding(&mut r, "nc"), "listpack");
    // listpack → hashtable past 128 members …
    fill(&mut r, "l", "m", 128);
    assert_eq!(encoding(&mut r, "l"), "listpack");
    assert_eq!(run(&mut r, &["SADD", "l", "1"]), ":1");
    assert_eq!(encoding(&mut r, "l"), "hashtable");
    // … or on a member over 64 bytes.
    let m64 = "x".repeat(64);
    let m65 = "y".repeat(65);
    assert_eq!(run(&mut r, &["SADD", "v", "a", &m64]), ":2");
    assert_eq!(encoding(&mut r, "v"), "listpack");
    assert_eq!(run(&mut r, &["SADD", "v", &m65]), ":1");
    assert_eq!(encoding(&mut r, "v"), "hashtable");
    // A large intset gaining a string member goes straight to hashtable.
    fill(&mut r, "big", "", 200);
    assert_eq!(encoding(&mut r, "big"), "intset");
    assert_eq!(run(&mut r, &["SADD", "big", "s"]), ":1");
    assert_eq!(encoding(&mut r, "big"), "hashtable");
    // The first SADD sizes the set from its members (Redis setTypeCreate).
    fill(&mut r, "wide", "m", 129);
    assert_eq!(encoding(&mut r, "wide"), "hashtable");
    // Never back, even when small again.
    for i in 0..128 {
        run_owned(&mut r, &["SREM".into(), "l".into(), format!("m{i}")]);
    }
    assert_eq!(run(&mut r, &["SMEMBERS", "l"]), "[1]");
    assert_eq!(encoding(&mut r, "l"), "hashtable");
    assert_eq!(run(&mut r, &["SREM", "il", "a"]), ":1");
    assert_eq!(encoding(&mut r, "il"), "listpack");
}

#[test]
fn sscan_options_and_guarantee() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SSCAN", "nope", "0"]), "[0,[]]");
    assert_eq!(run(&mut r, &["SSCAN", "nope", "0", "bogus"]), "[0,[]]");
    assert_eq!(run(&mut r, &["SADD", "s", "a1", "a2", "b1"]), ":3");
    assert_eq!(
        run(&mut r, &["SSCAN", "s", "0", "COUNT", "1"]),
        "[0,[a1,a2,b1]]"
    );
    assert_eq!(
        run(&mut r, &["SSCAN", "s", "0", "MATCH", "a*"]),
        "[0,[a1,a2]]"
    );
    assert_eq!(run(&mut r, &["SADD", "i", "3", "1", "20"]), ":3");
    assert_eq!(run(&mut r, &["SSCAN", "i", "0", "MATCH", "*0"]), "[0,[20]]");
    assert_eq!(run(&mut r, &["SSCAN", "s", "x"]), "-ERR invalid cursor");
    assert_eq!(run(&mut r, &["SSCAN", "s", "0", "COUNT", "0"]), SYNTAX);
    assert_eq!(run(&mut r, &["SSCAN", "s", "0", "COUNT", "x"]), NOT_INT);
    assert_eq!(run(&mut r, &["SSCAN", "s", "0", "MATCH"]), SYNTAX);
    assert_eq!(run(&mut r, &["SSCAN", "s", "0", "foo", "bar"]), SYNTAX);
    assert_eq!(
        run(&mut r, &["SSCAN", "s", "0", "NOVALUES"]),
        "-ERR NOVALUES option can only be used in HSCAN"
    );

    // Every member present for the whole scan is returned while others come and go.
    let n = 3000;
    fill(&mut r, "big", "m", n);
    let stable: BTreeSet<String> = (0..n / 2).map(|i| format!("m{i}")).collect();
    let mut seen = BTreeSet::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    loop {
        r.cmd(&[b"SSCAN", b"big", cursor.as_bytes(), b"COUNT", b"41"]);
        assert_eq!(r.line(), "*2");
        cursor = r.reply();
        let page = items(&r.reply());
        assert!(page.len() <= 41);
        seen.extend(page);
        let mut srem: Vec<String> = vec!["SREM".into(), "big".into()];
        srem.extend(
            (0..25)
                .map(|j| n / 2 + step * 25 + j)
                .filter(|&v| v < n)
                .map(|v| format!("m{v}")),
        );
        if srem.len() > 2 {
            run_owned(&mut r, &srem);
        }
        run_owned(&mut r, &["SADD".into(), "big".into(), format!("new{step}")]);
        // SPOP from the unstable part would be random: pop only what was added.
        step += 1;
        if cursor == "0" {
            break;
        }
        assert!(step < 1000, "scan does not terminate");
    }
    let missing: Vec<&String> = stable.difference(&seen).collect();
    assert!(missing.is_empty(), "members never returned: {missing:?}");
}

#[test]
fn resp3_reply_types() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"HELLO", b"3"]);
    let _ = r.reply();
    assert_eq!(run(&mut r, &["SADD", "s", "a", "b"]), ":2");
    assert_eq!(run(&mut r, &["SADD", "t", "b", "c"]), ":2");
    for (cmd, header) in [
        (&["SMEMBERS", "s"][..], "~2"),
        (&["SMEMBERS", "nope"][..], "~0"),
        (&["SINTER", "s", "t"][..], "~1"),
        (&["SINTER", "s", "nope"][..], "~0"),
        (&["SUNION", "s", "t"][..], "~3"),
        (&["SDIFF", "s", "t"][..], "~1"),
        (&["SRANDMEMBER", "s", "5"][..], "*2"),
        (&["SRANDMEMBER", "s", "-3"][..], "*3"),
        (&["SRANDMEMBER", "nope", "3"][..], "*0"),
        (&["SMISMEMBER", "s", "a", "z"][..], "*2"),
        (&["SPOP", "nope", "2"][..], "~0"),
    ] {
        let bytes: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
        r.cmd(&bytes);
        assert_eq!(r.line(), header, "{cmd:?}");
        let n: usize = header[1..].parse().unwrap();
        for _ in 0..n {
            let _ = r.reply();
        }
    }
    r.cmd(&[b"SMISMEMBER", b"s", b"a", b"z"]);
    assert_eq!(r.reply(), "[:1,:0]");
    r.cmd(&[b"SPOP", b"s", b"1"]);
    assert_eq!(r.line(), "~1");
    let _ = r.reply();
    r.cmd(&[b"SPOP", b"nope"]);
    assert_eq!(r.line(), "_");
    r.cmd(&[b"SRANDMEMBER", b"nope"]);
    assert_eq!(r.line(), "_");
    r.cmd(&[b"SISMEMBER", b"t", b"b"]);
    assert_eq!(r.line(), ":1");
    r.cmd(&[b"SSCAN", b"t", b"0"]);
    assert_eq!(r.reply(), "[0,[b,c]]");
}

#[test]
fn keyspace_notifications() {
    let s = Server::start(&["--notify-keyspace-events", "Egs"]);
    let mut sub = s.raw();
    sub.cmd(&[b"PSUBSCRIBE", b"__keyevent@0__:*"]);
    assert!(sub.reply().starts_with("[psubscribe"));
    let mut r = s.raw();
    let mut expect = |r: &mut Raw, cmd: &[&str], events: &[(&str, &str)]| {
        let _ = run(r, cmd);
        for (e, key) in events {
            assert_eq!(
                sub.reply(),
                format!("[pmessage,__keyevent@0__:*,__keyevent@0__:{e},{key}]"),
                "{cmd:?}"
            );
        }
    };
    expect(&mut r, &["SADD", "s", "a", "b", "c"], &[("sadd", "s")]);
    // No-ops raise nothing: the next event seen is the SREM's.
    let _ = run(&mut r, &["SADD", "s", "a"]);
    let _ = run(&mut r, &["SREM", "s", "zz"]);
    expect(&mut r, &["SREM", "s", "a"], &[("srem", "s")]);
    expect(
        &mut r,
        &["SMOVE", "s", "t", "b"],
        &[("srem", "s"), ("sadd", "t")],
    );
    expect(
        &mut r,
        &["SMOVE", "s", "t", "c"],
        &[("srem", "s"), ("del", "s"), ("sadd", "t")],
    );
    expect(&mut r, &["SPOP", "t"], &[("spop", "t")]);
    expect(&mut r, &["SPOP", "t", "5"], &[("spop", "t"), ("del", "t")]);
    expect(&mut r, &["SADD", "x", "1", "2", "3"], &[("sadd", "x")]);
    expect(&mut r, &["SPOP", "x", "1"], &[("spop", "x")]);
    expect(&mut r, &["SUNIONSTORE", "u", "x"], &[("sunionstore", "u")]);
    expect(
        &mut r,
        &["SINTERSTORE", "i", "x", "u"],
        &[("sinterstore", "i")],
    );
    expect(
        &mut r,
        &["SDIFFSTORE", "d", "x", "nope"],
        &[("sdiffstore", "d")],
    );
    expect(&mut r, &["SDIFFSTORE", "d", "x", "x"], &[("del", "d")]);
    expect(&mut r, &["SPOP", "x"], &[("spop", "x")]);
    expect(&mut r, &["SPOP", "x"], &[("spop", "x"), ("del", "x")]);
}
