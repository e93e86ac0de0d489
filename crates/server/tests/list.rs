//! Integration tests of the list commands against a real server: every command, option and error
//! (expected replies were taken from a real Redis 7 and cross-checked against the 7.2 sources),
//! WRONGTYPE, keyspace side effects, encoding transitions and large lists.

mod common;
use common::{check, encoding, hello3, run_line as run, Server};
use std::time::{Duration, Instant};

#[test]
fn push_pop_counts_and_missing_keys() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("rpush l a b c d e", ":5"),
            ("lpush l x y", ":7"),
            ("lrange l 0 -1", "[y,x,a,b,c,d,e]"),
            ("llen l", ":7"),
            ("llen missing", ":0"),
            ("lpushx nokey a", ":0"),
            ("rpushx nokey a b", ":0"),
            ("exists nokey", ":0"),
            ("lpushx l p1 p2", ":9"),
            ("rpushx l r1 r2", ":11"),
            ("lrange l 0 -1", "[p2,p1,y,x,a,b,c,d,e,r1,r2]"),
            ("lpop l", "p2"),
            ("rpop l", "r2"),
            ("lpop l 0", "[]"),
            ("lpop l 2", "[p1,y]"),
            ("rpop l 3", "[r1,e,d]"),
            ("lrange l 0 -1", "[x,a,b,c]"),
            ("lpop l -1", "-ERR value is out of range, must be positive"),
            ("lpop l x", "-ERR value is out of range, must be positive"),
            (
                "lpop l 1 2",
                "-ERR wrong number of arguments for 'lpop' command",
            ),
            (
                "rpop l 1 2",
                "-ERR wrong number of arguments for 'rpop' command",
            ),
            ("lpop missing", "(nil)"),
            ("rpop missing", "(nil)"),
            ("lpop missing 2", "(nil)"),
            ("lpop missing 0", "(nil)"),
            ("rpop l 100", "[c,b,a,x]"),
            ("exists l", ":0"),
            ("rpop l", "(nil)"),
            ("rpush one only", ":1"),
            ("rpop one 0", "[]"),
            ("lpop one", "only"),
            ("exists one", ":0"),
            ("rpush s \"\"", ":1"),
            ("lrange s 0 -1", "[]"),
            ("lpop s", ""),
        ],
    );
    // The same script in RESP3: doubles and nested [member, score] pairs.
    let mut r = s.raw();
    hello3(&mut r);
    r.cmd(&[b"FLUSHALL"]);
    assert_eq!(r.reply(), "+OK");
    check(
        &mut r,
        &[
            ("rpush l a b c d e", ":5"),
            ("lpush l x y", ":7"),
            ("lrange l 0 -1", "[y,x,a,b,c,d,e]"),
            ("llen l", ":7"),
            ("llen missing", ":0"),
            ("lpushx nokey a", ":0"),
            ("rpushx nokey a b", ":0"),
            ("exists nokey", ":0"),
            ("lpushx l p1 p2", ":9"),
            ("rpushx l r1 r2", ":11"),
            ("lrange l 0 -1", "[p2,p1,y,x,a,b,c,d,e,r1,r2]"),
            ("lpop l", "p2"),
            ("rpop l", "r2"),
            ("lpop l 0", "[]"),
            ("lpop l 2", "[p1,y]"),
            ("rpop l 3", "[r1,e,d]"),
            ("lrange l 0 -1", "[x,a,b,c]"),
            ("lpop l -1", "-ERR value is out of range, must be positive"),
            ("lpop l x", "-ERR value is out of range, must be positive"),
            (
                "lpop l 1 2",
                "-ERR wrong number of arguments for 'lpop' command",
            ),
            (
                "rpop l 1 2",
                "-ERR wrong number of arguments for 'rpop' command",
            ),
            ("lpop missing", "(nil)"),
            ("rpop missing", "(nil)"),
            ("lpop missing 2", "(nil)"),
            ("lpop missing 0", "(nil)"),
            ("rpop l 100", "[c,b,a,x]"),
            ("exists l", ":0"),
            ("rpop l", "(nil)"),
            ("rpush one only", ":1"),
            ("rpop one 0", "[]"),
            ("lpop one", "only"),
            ("exists one", ":0"),
            ("rpush s \"\"", ":1"),
            ("lrange s 0 -1", "[]"),
            ("lpop s", ""),
        ],
    );
}

#[test]
fn ranges_and_indexes() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("rpush l a b c d e f g", ":7"),
            ("lrange l 0 -1", "[a,b,c,d,e,f,g]"),
            ("lrange l 0 0", "[a]"),
            ("lrange l -3 -1", "[e,f,g]"),
            ("lrange l -100 100", "[a,b,c,d,e,f,g]"),
            ("lrange l 3 1", "[]"),
            ("lrange l 5 10", "[f,g]"),
            ("lrange l 7 10", "[]"),
            ("lrange l -1 -3", "[]"),
            ("lrange l 0 -8", "[]"),
            (
                "lrange l -9223372036854775808 9223372036854775807",
                "[a,b,c,d,e,f,g]",
            ),
            (
                "lrange l abc 1",
                "-ERR value is not an integer or out of range",
            ),
            (
                "lrange l 1 abc",
                "-ERR value is not an integer or out of range",
            ),
            (
                "lrange l 1.5 2",
                "-ERR value is not an integer or out of range",
            ),
            ("lrange missing 0 -1", "[]"),
            (
                "lrange missing x 1",
                "-ERR value is not an integer or out of range",
            ),
            ("lindex l 0", "a"),
            ("lindex l 3", "d"),
            ("lindex l -1", "g"),
            ("lindex l -7", "a"),
            ("lindex l 7", "(nil)"),
            ("lindex l -8", "(nil)"),
            ("lindex l x", "-ERR value is not an integer or out of range"),
            ("lindex missing x", "(nil)"),
            ("lindex missing 0", "(nil)"),
        ],
    );
}

#[test]
fn lrem_lset_linsert_ltrim() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("rpush l a b a c a d a", ":7"),
            ("lrem l 2 a", ":2"),
            ("lrange l 0 -1", "[b,c,a,d,a]"),
            ("lrem l -1 a", ":1"),
            ("lrange l 0 -1", "[b,c,a,d]"),
            ("lrem l 0 a", ":1"),
            ("lrange l 0 -1", "[b,c,d]"),
            ("lrem l 0 zz", ":0"),
            ("lrem l x a", "-ERR value is not an integer or out of range"),
            ("lrem missing 1 a", ":0"),
            ("lset l 0 A", "+OK"),
            ("lset l -1 D", "+OK"),
            ("lset l 1 middle", "+OK"),
            ("lset l 3 Z", "-ERR index out of range"),
            ("lset l -4 Z", "-ERR index out of range"),
            ("lset l x Z", "-ERR value is not an integer or out of range"),
            ("lset missing 0 a", "-ERR no such key"),
            ("lset missing x a", "-ERR no such key"),
            ("lrange l 0 -1", "[A,middle,D]"),
            ("linsert l BEFORE A first", ":4"),
            ("linsert l after D last", ":5"),
            ("linsert l AFTER middle m2", ":6"),
            ("linsert l before last penultimate", ":7"),
            ("linsert l after nothere x", ":-1"),
            ("linsert l middle D x", "-ERR syntax error"),
            ("linsert missing before a b", ":0"),
            ("exists missing", ":0"),
            ("lrange l 0 -1", "[first,A,middle,m2,D,penultimate,last]"),
            ("llen l", ":7"),
            ("rpush t 1 2 3 4 5 6 7 8 9", ":9"),
            ("ltrim t 2 -3", "+OK"),
            ("lrange t 0 -1", "[3,4,5,6,7]"),
            ("ltrim t 0 100", "+OK"),
            ("lrange t 0 -1", "[3,4,5,6,7]"),
            ("ltrim t -2 -1", "+OK"),
            ("lrange t 0 -1", "[6,7]"),
            ("ltrim t -100 0", "+OK"),
            ("lrange t 0 -1", "[6]"),
            ("ltrim t 5 1", "+OK"),
            ("exists t", ":0"),
            ("ltrim missing 0 1", "+OK"),
            (
                "ltrim t x 1",
                "-ERR value is not an integer or out of range",
            ),
            (
                "ltrim t 1 x",
                "-ERR value is not an integer or out of range",
            ),
            ("rpush r a a b a", ":4"),
            ("lrem r 10 a", ":3"),
            ("lrange r 0 -1", "[b]"),
            ("lrem r 1 b", ":1"),
            ("exists r", ":0"),
        ],
    );
}

#[test]
fn lpos_rank_count_maxlen_and_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(&mut r, &[
        ("rpush p a b c 1 2 3 c c", ":8"),
        ("lpos p c", ":2"),
        ("lpos p a", ":0"),
        ("lpos p c rank 2", ":6"),
        ("lpos p c rank 3", ":7"),
        ("lpos p c rank 4", "(nil)"),
        ("lpos p c rank -1", ":7"),
        ("lpos p c rank -2", ":6"),
        ("lpos p c rank -3", ":2"),
        ("lpos p c count 0", "[:2,:6,:7]"),
        ("lpos p c count 2", "[:2,:6]"),
        ("lpos p c count 10", "[:2,:6,:7]"),
        ("lpos p c rank 2 count 0", "[:6,:7]"),
        ("lpos p c rank -1 count 0", "[:7,:6,:2]"),
        ("lpos p c rank -1 count 2", "[:7,:6]"),
        ("lpos p c maxlen 2", "(nil)"),
        ("lpos p c maxlen 3", ":2"),
        ("lpos p c maxlen 3 count 0", "[:2]"),
        ("lpos p c rank 2 maxlen 3", "(nil)"),
        ("lpos p c rank -1 maxlen 1", ":7"),
        ("lpos p c rank -1 maxlen 2 count 0", "[:7,:6]"),
        ("lpos p c maxlen 0 count 0", "[:2,:6,:7]"),
        ("lpos p zz", "(nil)"),
        ("lpos p zz count 0", "[]"),
        ("lpos p zz rank -1 count 5", "[]"),
        ("lpos missing a", "(nil)"),
        ("lpos missing a count 1", "[]"),
        ("lpos missing a rank 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"),
        ("lpos p c rank 0", "-ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"),
        ("lpos p c count -1", "-ERR COUNT can't be negative"),
        ("lpos p c count x", "-ERR COUNT can't be negative"),
        ("lpos p c maxlen -1", "-ERR MAXLEN can't be negative"),
        ("lpos p c maxlen x", "-ERR MAXLEN can't be negative"),
        ("lpos p c rank x", "-ERR value is not an integer or out of range"),
        ("lpos p c foo", "-ERR syntax error"),
        ("lpos p c rank", "-ERR syntax error"),
        ("lpos p c rank 1 count", "-ERR syntax error"),
        ("lpos p c RANK 1 COUNT 1 MAXLEN 100", "[:2]"),
    ]);
}

#[test]
fn lmove_rpoplpush_lmpop() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("rpush m1 a b c", ":3"),
            ("rpush m2 x", ":1"),
            ("lmove m1 m2 left right", "a"),
            ("lrange m1 0 -1", "[b,c]"),
            ("lrange m2 0 -1", "[x,a]"),
            ("lmove m1 m2 right left", "c"),
            ("lrange m2 0 -1", "[c,x,a]"),
            ("lmove m1 m2 up left", "-ERR syntax error"),
            ("lmove m1 m2 left down", "-ERR syntax error"),
            ("lmove missing m2 left left", "(nil)"),
            ("lmove missing m2 up left", "-ERR syntax error"),
            ("lmove m2 m2 left right", "c"),
            ("lrange m2 0 -1", "[x,a,c]"),
            ("lmove m2 m2 right left", "c"),
            ("lrange m2 0 -1", "[c,x,a]"),
            ("lmove m1 m1 left left", "b"),
            ("lrange m1 0 -1", "[b]"),
            ("lmove m1 m3 right right", "b"),
            ("exists m1", ":0"),
            ("lrange m3 0 -1", "[b]"),
            ("rpush m5 1 2 3", ":3"),
            ("rpoplpush m5 m4", "3"),
            ("rpoplpush m5 m4", "2"),
            ("lrange m4 0 -1", "[2,3]"),
            ("lrange m5 0 -1", "[1]"),
            ("rpoplpush missing m4", "(nil)"),
            ("rpoplpush m5 m5", "1"),
            ("rpoplpush m5 m4", "1"),
            ("exists m5", ":0"),
            ("lrange m4 0 -1", "[1,2,3]"),
            ("rpush x1 a b c d", ":4"),
            ("rpush x2 e", ":1"),
            ("lmpop 2 x0 x1 left", "[x1,[a]]"),
            ("lmpop 2 x0 x1 right count 10", "[x1,[d,c,b]]"),
            ("exists x1", ":0"),
            ("lmpop 2 x1 x2 right count 10", "[x2,[e]]"),
            ("lmpop 2 x1 x2 left", "(nil)"),
            ("lmpop 1 x0 LEFT COUNT 3", "(nil)"),
            ("rpush x3 a b c", ":3"),
            ("lmpop 1 x3 RIGHT count 2", "[x3,[c,b]]"),
            ("lmpop 1 x3 left COUNT 5", "[x3,[a]]"),
            ("lmpop 0 x1 left", "-ERR numkeys should be greater than 0"),
            ("lmpop -1 x1 left", "-ERR numkeys should be greater than 0"),
            ("lmpop a x1 left", "-ERR numkeys should be greater than 0"),
            ("lmpop 3 x1 x2 left", "-ERR syntax error"),
            ("lmpop 1 x1 middle", "-ERR syntax error"),
            (
                "lmpop 1 x1 left count 0",
                "-ERR count should be greater than 0",
            ),
            (
                "lmpop 1 x1 left count -1",
                "-ERR count should be greater than 0",
            ),
            (
                "lmpop 1 x1 left count x",
                "-ERR count should be greater than 0",
            ),
            ("lmpop 1 x1 left count 1 count 1", "-ERR syntax error"),
            ("lmpop 1 x1 left foo", "-ERR syntax error"),
            ("lmpop 1 x1 left count", "-ERR syntax error"),
        ],
    );
    // The same script in RESP3: doubles and nested [member, score] pairs.
    let mut r = s.raw();
    hello3(&mut r);
    r.cmd(&[b"FLUSHALL"]);
    assert_eq!(r.reply(), "+OK");
    check(
        &mut r,
        &[
            ("rpush m1 a b c", ":3"),
            ("rpush m2 x", ":1"),
            ("lmove m1 m2 left right", "a"),
            ("lrange m1 0 -1", "[b,c]"),
            ("lrange m2 0 -1", "[x,a]"),
            ("lmove m1 m2 right left", "c"),
            ("lrange m2 0 -1", "[c,x,a]"),
            ("lmove m1 m2 up left", "-ERR syntax error"),
            ("lmove m1 m2 left down", "-ERR syntax error"),
            ("lmove missing m2 left left", "(nil)"),
            ("lmove missing m2 up left", "-ERR syntax error"),
            ("lmove m2 m2 left right", "c"),
            ("lrange m2 0 -1", "[x,a,c]"),
            ("lmove m2 m2 right left", "c"),
            ("lrange m2 0 -1", "[c,x,a]"),
            ("lmove m1 m1 left left", "b"),
            ("lrange m1 0 -1", "[b]"),
            ("lmove m1 m3 right right", "b"),
            ("exists m1", ":0"),
            ("lrange m3 0 -1", "[b]"),
            ("rpush m5 1 2 3", ":3"),
            ("rpoplpush m5 m4", "3"),
            ("rpoplpush m5 m4", "2"),
            ("lrange m4 0 -1", "[2,3]"),
            ("lrange m5 0 -1", "[1]"),
            ("rpoplpush missing m4", "(nil)"),
            ("rpoplpush m5 m5", "1"),
            ("rpoplpush m5 m4", "1"),
            ("exists m5", ":0"),
            ("lrange m4 0 -1", "[1,2,3]"),
            ("rpush x1 a b c d", ":4"),
            ("rpush x2 e", ":1"),
            ("lmpop 2 x0 x1 left", "[x1,[a]]"),
            ("lmpop 2 x0 x1 right count 10", "[x1,[d,c,b]]"),
            ("exists x1", ":0"),
            ("lmpop 2 x1 x2 right count 10", "[x2,[e]]"),
            ("lmpop 2 x1 x2 left", "(nil)"),
            ("lmpop 1 x0 LEFT COUNT 3", "(nil)"),
            ("rpush x3 a b c", ":3"),
            ("lmpop 1 x3 RIGHT count 2", "[x3,[c,b]]"),
            ("lmpop 1 x3 left COUNT 5", "[x3,[a]]"),
            ("lmpop 0 x1 left", "-ERR numkeys should be greater than 0"),
            ("lmpop -1 x1 left", "-ERR numkeys should be greater than 0"),
            ("lmpop a x1 left", "-ERR numkeys should be greater than 0"),
            ("lmpop 3 x1 x2 left", "-ERR syntax error"),
            ("lmpop 1 x1 middle", "-ERR syntax error"),
            (
                "lmpop 1 x1 left count 0",
                "-ERR count should be greater than 0",
            ),
            (
                "lmpop 1 x1 left count -1",
                "-ERR count should be greater than 0",
            ),
            (
                "lmpop 1 x1 left count x",
                "-ERR count should be greater than 0",
            ),
            ("lmpop 1 x1 left count 1 count 1", "-ERR syntax error"),
            ("lmpop 1 x1 left foo", "-ERR syntax error"),
            ("lmpop 1 x1 left count", "-ERR syntax error"),
        ],
    );
}

#[test]
fn wrongtype_and_arity() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("set str x", "+OK"),
            (
                "lpush str a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "rpush str a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "lpushx str a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "rpushx str a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "lpop str",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "rpop str",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "lpop str 2",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "llen str",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "lrange str 0 -1",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "lindex str 0",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "lset str 0 a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "linsert str before a b",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "lrem str 1 a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "ltrim str 0 1",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "lpos str a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            ("rpush ok a", ":1"),
            (
                "lmove str ok left left",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "lmove ok str left left",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "rpoplpush ok str",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "rpoplpush str ok",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            ("lrange ok 0 -1", "[a]"),
            (
                "lmpop 1 str left",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "lmpop 2 nothere str left",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            ("rpush x3 a", ":1"),
            ("lmpop 2 x3 str left", "[x3,[a]]"),
            ("get str", "x"),
            (
                "lpush",
                "-ERR wrong number of arguments for 'lpush' command",
            ),
            (
                "lpush k",
                "-ERR wrong number of arguments for 'lpush' command",
            ),
            (
                "rpush k",
                "-ERR wrong number of arguments for 'rpush' command",
            ),
            (
                "lpushx k",
                "-ERR wrong number of arguments for 'lpushx' command",
            ),
            ("lpop", "-ERR wrong number of arguments for 'lpop' command"),
            ("llen", "-ERR wrong number of arguments for 'llen' command"),
            (
                "llen a b",
                "-ERR wrong number of arguments for 'llen' command",
            ),
            (
                "lrange k 0",
                "-ERR wrong number of arguments for 'lrange' command",
            ),
            (
                "lindex k",
                "-ERR wrong number of arguments for 'lindex' command",
            ),
            (
                "lset k 0",
                "-ERR wrong number of arguments for 'lset' command",
            ),
            (
                "linsert k before a",
                "-ERR wrong number of arguments for 'linsert' command",
            ),
            (
                "lrem k 1",
                "-ERR wrong number of arguments for 'lrem' command",
            ),
            (
                "ltrim k 0",
                "-ERR wrong number of arguments for 'ltrim' command",
            ),
            (
                "lpos k",
                "-ERR wrong number of arguments for 'lpos' command",
            ),
            (
                "lmove a b left",
                "-ERR wrong number of arguments for 'lmove' command",
            ),
            (
                "rpoplpush a",
                "-ERR wrong number of arguments for 'rpoplpush' command",
            ),
            (
                "lmpop 1 k",
                "-ERR wrong number of arguments for 'lmpop' command",
            ),
        ],
    );
}

/// Null replies on the wire: nil bulk vs nil array in RESP2, `_` in RESP3.
#[test]
fn null_reply_types_on_the_wire() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for (cmd, resp2) in [
        (&[&b"LPOP"[..], b"nokey"][..], "$-1"),
        (&[b"RPOP", b"nokey", b"1"], "*-1"),
        (&[b"LPOP", b"nokey", b"0"], "*-1"),
        (&[b"LINDEX", b"nokey", b"0"], "$-1"),
        (&[b"LPOS", b"nokey", b"a"], "$-1"),
        (&[b"LMOVE", b"nokey", b"x", b"LEFT", b"LEFT"], "$-1"),
        (&[b"LMPOP", b"1", b"nokey", b"LEFT"], "*-1"),
    ] {
        r.cmd(cmd);
        assert_eq!(r.line(), resp2, "{cmd:?}");
    }
    hello3(&mut r);
    for cmd in [
        &[&b"LPOP"[..], b"nokey"][..],
        &[b"RPOP", b"nokey", b"1"],
        &[b"LINDEX", b"nokey", b"0"],
        &[b"LMPOP", b"1", b"nokey", b"LEFT"],
    ] {
        r.cmd(cmd);
        assert_eq!(r.line(), "_", "{cmd:?}");
    }
    // An empty pop with a count is an empty array, not a null.
    check(&mut r, &[("RPUSH l a", ":1")]);
    r.cmd(&[b"LPOP", b"l", b"0"]);
    assert_eq!(r.line(), "*0");
}

/// Redis 7.2 bounds RANK to ±LONG_MAX so that negating it cannot overflow.
#[test]
fn lpos_rank_of_long_min_is_out_of_range() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("RPUSH p a", ":1"),
            (
                "LPOS p a RANK -9223372036854775808",
                "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807",
            ),
            ("LPOS p a RANK -9223372036854775807", "(nil)"),
            ("LPOS p a RANK -1", ":0"),
            ("LPOS p a RANK 9223372036854775807", "(nil)"),
        ],
    );
}

/// listpack while the list fits one 8 KB node (list-max-listpack-size -2), quicklist beyond, and
/// back to listpack only once it shrinks under half of that (Redis 7.2's hysteresis).
#[test]
fn encoding_transitions() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let item = "x".repeat(100);
    check(&mut r, &[("RPUSH l a b c", ":3")]);
    assert_eq!(encoding(&mut r, "l"), "listpack");
    run(&mut r, "DEL l");
    for i in 1..=79 {
        assert_eq!(run(&mut r, &format!("RPUSH l {item}")), format!(":{i}"));
    }
    assert_eq!(
        encoding(&mut r, "l"),
        "listpack",
        "79 x 100 bytes fit in 8 KB"
    );
    run(&mut r, &format!("RPUSH l {item} {item}"));
    assert_eq!(encoding(&mut r, "l"), "quicklist");
    // Just under the limit again: still a quicklist.
    check(
        &mut r,
        &[("RPOP l 11", &format!("[{}]", [item.as_str(); 11].join(",")))],
    );
    assert_eq!(run(&mut r, "LLEN l"), ":70");
    assert_eq!(encoding(&mut r, "l"), "quicklist");
    // Under half the limit: a listpack again.
    run(&mut r, "LTRIM l 0 29");
    assert_eq!(encoding(&mut r, "l"), "listpack");
    // One element larger than a node makes a quicklist at once; replacing it by a small one
    // converts back.
    let big = "y".repeat(10_000);
    check(
        &mut r,
        &[("DEL l", ":1"), (&format!("LPUSH l {big}"), ":1")],
    );
    assert_eq!(encoding(&mut r, "l"), "quicklist");
    check(&mut r, &[("LSET l 0 small", "+OK")]);
    assert_eq!(encoding(&mut r, "l"), "listpack");
    // LINSERT and LREM cross the limit both ways too.
    check(&mut r, &[(&format!("LINSERT l BEFORE small {big}"), ":2")]);
    assert_eq!(encoding(&mut r, "l"), "quicklist");
    check(
        &mut r,
        &[
            (&format!("LREM l 0 {big}"), ":1"),
            ("LRANGE l 0 -1", "[small]"),
        ],
    );
    assert_eq!(encoding(&mut r, "l"), "listpack");
    check(&mut r, &[("TYPE l", "+list")]);
}

/// 100k elements: every operation stays correct across many nodes, and indexing is fast.
#[test]
fn large_list_across_many_nodes() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    const N: usize = 100_000;
    // Pipelined RPUSH batches of 1000 elements: "0" .. "99999".
    let mut batch = Vec::new();
    for chunk in 0..N / 1000 {
        let mut args: Vec<Vec<u8>> = vec![b"RPUSH".to_vec(), b"big".to_vec()];
        for i in chunk * 1000..(chunk + 1) * 1000 {
            args.push(i.to_string().into_bytes());
        }
        batch.push(args);
    }
    for args in &batch {
        let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
        r.cmd(&refs);
    }
    for chunk in 0..N / 1000 {
        assert_eq!(r.reply(), format!(":{}", (chunk + 1) * 1000));
    }
    assert_eq!(encoding(&mut r, "big"), "quicklist");
    check(
        &mut r,
        &[
            ("LINDEX big 0", "0"),
            ("LINDEX big 50000", "50000"),
            ("LINDEX big -1", "99999"),
            ("LINDEX big 100000", "(nil)"),
            ("LRANGE big 49998 50001", "[49998,49999,50000,50001]"),
            ("LRANGE big -3 -1", "[99997,99998,99999]"),
            ("LSET big 60000 changed", "+OK"),
            ("LINDEX big 60000", "changed"),
            ("LINSERT big AFTER 70000 inserted", ":100001"),
            ("LINDEX big 70001", "inserted"),
            ("LPOS big 80000", ":80001"),
            ("LPOS big 99999 RANK -1", ":100000"),
            ("LREM big 0 changed", ":1"),
            ("LREM big -1 inserted", ":1"),
            // "60000" was replaced and removed.
            ("LLEN big", ":99999"),
            ("LTRIM big 1000 -1001", "+OK"),
            ("LLEN big", ":97999"),
            ("LINDEX big 0", "1000"),
            ("LPOP big 2", "[1000,1001]"),
            ("RPOP big 2", "[98999,98998]"),
        ],
    );
    // 10k pipelined LINDEX calls spread over the list.
    let start = Instant::now();
    let mut req = Vec::new();
    for i in 0..10_000u64 {
        let idx = (i * 7919) % 97_000;
        req.extend_from_slice(
            format!(
                "*3\r\n$6\r\nLINDEX\r\n$3\r\nbig\r\n${}\r\n{}\r\n",
                idx.to_string().len(),
                idx
            )
            .as_bytes(),
        );
    }
    r.send(&req);
    for i in 0..10_000u64 {
        let idx = (i * 7919) % 97_000;
        let v = idx + 1002;
        let v = if v >= 60_000 { v + 1 } else { v };
        assert_eq!(r.reply(), v.to_string());
    }
    let took = start.elapsed();
    assert!(took < Duration::from_secs(5), "10k LINDEX took {took:?}");
}

/// Writes signal the keyspace: WATCH is invalidated by changes but not by no-ops, a client
/// blocked in BLPOP is served by LPUSH/LMOVE, and emptied lists disappear.
#[test]
fn writes_signal_watchers_and_blocked_clients() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    check(&mut a, &[("WATCH w", "+OK")]);
    check(
        &mut b,
        &[
            ("LPOP w", "(nil)"),
            ("LPUSHX w x", ":0"),
            ("LREM w 1 x", ":0"),
        ],
    );
    check(
        &mut a,
        &[("MULTI", "+OK"), ("PING", "+QUEUED"), ("EXEC", "[+PONG]")],
    );
    check(&mut a, &[("WATCH w", "+OK")]);
    check(&mut b, &[("RPUSH w x", ":1")]);
    check(
        &mut a,
        &[("MULTI", "+OK"), ("PING", "+QUEUED"), ("EXEC", "(nil)")],
    );

    a.cmd(&[b"BLPOP", b"q", b"5"]);
    std::thread::sleep(Duration::from_millis(100));
    check(
        &mut b,
        &[
            ("RPUSH src v1", ":1"),
            ("LMOVE src q LEFT RIGHT", "v1"),
            ("EXISTS src", ":0"),
        ],
    );
    assert_eq!(a.reply(), "[q,v1]");
    check(&mut b, &[("EXISTS q", ":0")]);
}

/// Keyspace notifications for list events (notify-keyspace-events).
#[test]
fn keyspace_events() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    check(&mut c, &[("CONFIG SET notify-keyspace-events El", "+OK")]);
    let mut sub = s.raw();
    sub.cmd(&[b"PSUBSCRIBE", b"__keyevent@0__:*"]);
    assert_eq!(sub.reply(), "[psubscribe,__keyevent@0__:*,:1]");
    check(
        &mut c,
        &[
            ("RPUSH l a b c", ":3"),
            ("LPUSH l z", ":4"),
            ("LSET l 0 y", "+OK"),
            ("LINSERT l BEFORE y x", ":5"),
            ("LREM l 1 x", ":1"),
            ("LTRIM l 0 -1", "+OK"),
            ("RPOP l", "c"),
            ("LMOVE l l2 LEFT RIGHT", "y"),
            ("LPOP l 5", "[a,b]"),
        ],
    );
    let events: Vec<String> = (0..10).map(|_| sub.reply()).collect();
    let names: Vec<&str> = events
        .iter()
        .map(|e| {
            e.split(',')
                .nth(2)
                .unwrap_or("")
                .trim_start_matches("__keyevent@0__:")
        })
        .collect();
    assert_eq!(
        names,
        ["rpush", "lpush", "lset", "linsert", "lrem", "ltrim", "rpop", "rpush", "lpop", "lpop"],
        "{events:?}"
    );
    // The generic "del" is sent only with the g class.
    check(
        &mut c,
        &[
            ("CONFIG SET notify-keyspace-events Elg", "+OK"),
            ("RPOP l2", "y"),
        ],
    );
    assert!(sub.reply().ends_with(":rpop,l2]"));
    assert!(sub.reply().ends_with(":del,l2]"));
}
