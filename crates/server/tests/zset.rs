//! Integration tests of the sorted set commands against a real server: every command, option and
//! error in RESP2 and RESP3 (expected replies were taken from a real Redis 7 and cross-checked
//! against the 7.2 sources), WRONGTYPE, encoding transitions, keyspace side effects, and rank
//! queries on a large set.

mod common;
use common::{check, encoding, hello3, run_line as run, Raw, Server};
use std::collections::HashSet;
use std::time::{Duration, Instant};

#[test]
fn zadd_options_incr_and_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(&mut r, &[
        ("zadd z 1 a 2 b 3 c", ":3"),
        ("zadd z 1 a", ":0"),
        ("zadd z ch 5 a 2 b 9 d", ":2"),
        ("zrange z 0 -1 withscores", "[b,2,c,3,a,5,d,9]"),
        ("zadd z nx 100 a 100 e", ":1"),
        ("zadd z xx 200 a 200 f", ":0"),
        ("zadd z xx ch 201 a 201 f", ":1"),
        ("zrange z 0 -1 withscores", "[b,2,c,3,d,9,e,100,a,201]"),
        ("zadd z gt 1 a", ":0"),
        ("zadd z gt ch 300 a", ":1"),
        ("zadd z lt ch 400 a 0 b", ":1"),
        ("zadd z xx gt ch 500 a 600 nothere", ":1"),
        ("zadd z xx lt ch 1 a", ":1"),
        ("zrange z 0 -1 withscores", "[b,0,a,1,c,3,d,9,e,100]"),
        ("zadd z incr 1 a", "2"),
        ("zadd z incr nx 1 a", "(nil)"),
        ("zadd z incr xx 1 zz", "(nil)"),
        ("zadd z incr gt -1 a", "(nil)"),
        ("zadd z incr lt -1 a", "1"),
        ("zadd z incr gt 0 a", "(nil)"),
        ("zadd z incr 5 newmember", "5"),
        ("zadd z NX INCR 5 newmember2", "5"),
        ("zadd nokey xx 1 a", ":0"),
        ("zadd nokey xx incr 1 a", "(nil)"),
        ("zadd nokey xx ch gt 1 a", ":0"),
        ("exists nokey", ":0"),
        ("zadd z nx xx 1 a", "-ERR XX and NX options at the same time are not compatible"),
        ("zadd z gt lt 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible"),
        ("zadd z gt nx 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible"),
        ("zadd z lt nx 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible"),
        ("zadd z incr 1 a 2 b", "-ERR INCR option supports a single increment-element pair"),
        ("zadd z 1", "-ERR wrong number of arguments for 'zadd' command"),
        ("zadd z 1 a 2", "-ERR syntax error"),
        ("zadd z nx", "-ERR wrong number of arguments for 'zadd' command"),
        ("zadd z x a", "-ERR value is not a valid float"),
        ("zadd z nan a", "-ERR value is not a valid float"),
        ("zadd z 1e400 a", "-ERR value is not a valid float"),
        ("zadd z \"\" a", "-ERR value is not a valid float"),
        ("zadd z \" 1\" a", "-ERR value is not a valid float"),
        ("zadd z 1 a x b", "-ERR value is not a valid float"),
        ("zadd z inf i -inf ni", ":2"),
        ("zadd z incr -inf i", "-ERR resulting score is not a number (NaN)"),
        ("zadd z incr +inf ni", "-ERR resulting score is not a number (NaN)"),
        ("zrange z 0 -1 withscores", "[ni,-inf,b,0,a,1,c,3,newmember,5,newmember2,5,d,9,e,100,i,inf]"),
        ("zincrby z 1.5 a", "2.5"),
        ("zincrby z -1.5 a", "1"),
        ("zincrby z x a", "-ERR value is not a valid float"),
        ("zincrby z nx a", "-ERR syntax error"),
        ("zincrby z 1 newm", "1"),
        ("zincrby z -inf i", "-ERR resulting score is not a number (NaN)"),
        ("zincrby z +inf i", "inf"),
        ("zscore z i", "inf"),
        ("zadd z -0 negzero", ":1"),
        ("zscore z negzero", "0"),
        ("zadd z 0 negzero", ":0"),
        ("zscore z negzero", "0"),
        ("zadd z 1.5 a 2.5 b -3.25 c 1e15 d", ":0"),
        ("zrange z 0 -1 withscores", "[ni,-inf,c,-3.25,negzero,0,newm,1,a,1.5,b,2.5,newmember,5,newmember2,5,e,100,d,1000000000000000,i,inf]"),
        ("zcard z", ":11"),
    ]);
    // The same script in RESP3: doubles and nested [member, score] pairs.
    let mut r = s.raw();
    hello3(&mut r);
    r.cmd(&[b"FLUSHALL"]);
    assert_eq!(r.reply(), "+OK");
    check(&mut r, &[
        ("zadd z 1 a 2 b 3 c", ":3"),
        ("zadd z 1 a", ":0"),
        ("zadd z ch 5 a 2 b 9 d", ":2"),
        ("zrange z 0 -1 withscores", "[[b,,2],[c,,3],[a,,5],[d,,9]]"),
        ("zadd z nx 100 a 100 e", ":1"),
        ("zadd z xx 200 a 200 f", ":0"),
        ("zadd z xx ch 201 a 201 f", ":1"),
        ("zrange z 0 -1 withscores", "[[b,,2],[c,,3],[d,,9],[e,,100],[a,,201]]"),
        ("zadd z gt 1 a", ":0"),
        ("zadd z gt ch 300 a", ":1"),
        ("zadd z lt ch 400 a 0 b", ":1"),
        ("zadd z xx gt ch 500 a 600 nothere", ":1"),
        ("zadd z xx lt ch 1 a", ":1"),
        ("zrange z 0 -1 withscores", "[[b,,0],[a,,1],[c,,3],[d,,9],[e,,100]]"),
        ("zadd z incr 1 a", ",2"),
        ("zadd z incr nx 1 a", "(nil)"),
        ("zadd z incr xx 1 zz", "(nil)"),
        ("zadd z incr gt -1 a", "(nil)"),
        ("zadd z incr lt -1 a", ",1"),
        ("zadd z incr gt 0 a", "(nil)"),
        ("zadd z incr 5 newmember", ",5"),
        ("zadd z NX INCR 5 newmember2", ",5"),
        ("zadd nokey xx 1 a", ":0"),
        ("zadd nokey xx incr 1 a", "(nil)"),
        ("zadd nokey xx ch gt 1 a", ":0"),
        ("exists nokey", ":0"),
        ("zadd z nx xx 1 a", "-ERR XX and NX options at the same time are not compatible"),
        ("zadd z gt lt 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible"),
        ("zadd z gt nx 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible"),
        ("zadd z lt nx 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible"),
        ("zadd z incr 1 a 2 b", "-ERR INCR option supports a single increment-element pair"),
        ("zadd z 1", "-ERR wrong number of arguments for 'zadd' command"),
        ("zadd z 1 a 2", "-ERR syntax error"),
        ("zadd z nx", "-ERR wrong number of arguments for 'zadd' command"),
        ("zadd z x a", "-ERR value is not a valid float"),
        ("zadd z nan a", "-ERR value is not a valid float"),
        ("zadd z 1e400 a", "-ERR value is not a valid float"),
        ("zadd z \"\" a", "-ERR value is not a valid float"),
        ("zadd z \" 1\" a", "-ERR value is not a valid float"),
        ("zadd z 1 a x b", "-ERR value is not a valid float"),
        ("zadd z inf i -inf ni", ":2"),
        ("zadd z incr -inf i", "-ERR resulting score is not a number (NaN)"),
        ("zadd z incr +inf ni", "-ERR resulting score is not a number (NaN)"),
        ("zrange z 0 -1 withscores", "[[ni,,-inf],[b,,0],[a,,1],[c,,3],[newmember,,5],[newmember2,,5],[d,,9],[e,,100],[i,,inf]]"),
        ("zincrby z 1.5 a", ",2.5"),
        ("zincrby z -1.5 a", ",1"),
        ("zincrby z x a", "-ERR value is not a valid float"),
        ("zincrby z nx a", "-ERR syntax error"),
        ("zincrby z 1 newm", ",1"),
        ("zincrby z -inf i", "-ERR resulting score is not a number (NaN)"),
        ("zincrby z +inf i", ",inf"),
        ("zscore z i", ",inf"),
        ("zadd z -0 negzero", ":1"),
        ("zscore z negzero", ",0"),
        ("zadd z 0 negzero", ":0"),
        ("zscore z negzero", ",0"),
        ("zadd z 1.5 a 2.5 b -3.25 c 1e15 d", ":0"),
        ("zrange z 0 -1 withscores", "[[ni,,-inf],[c,,-3.25],[negzero,,0],[newm,,1],[a,,1.5],[b,,2.5],[newmember,,5],[newmember2,,5],[e,,100],[d,,1000000000000000],[i,,inf]]"),
        ("zcard z", ":11"),
    ]);
}

#[test]
fn scores_ranks_and_counts() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("zadd z 1 a 2 b 3 c 3 d 10 e", ":5"),
            ("zscore z a", "1"),
            ("zscore z nothere", "(nil)"),
            ("zscore missing a", "(nil)"),
            ("zmscore z a nothere b", "[1,(nil),2]"),
            ("zmscore missing a b", "[(nil),(nil)]"),
            ("zcard z", ":5"),
            ("zcard missing", ":0"),
            ("zcount z -inf +inf", ":5"),
            ("zcount z (1 3", ":3"),
            ("zcount z 1 (3", ":2"),
            ("zcount z (1 (1", ":0"),
            ("zcount z 3 3", ":2"),
            ("zcount z 3 1", ":0"),
            ("zcount z x 1", "-ERR min or max is not a float"),
            ("zcount z 1 x", "-ERR min or max is not a float"),
            ("zcount z ( (", ":0"),
            ("zcount z \"\" \"\"", ":0"),
            ("zcount z \" 1\" 3", ":4"),
            ("zcount z \"1 \" 3", "-ERR min or max is not a float"),
            ("zcount z (inf +inf", ":0"),
            ("zcount z -inf (-inf", ":0"),
            ("zcount missing 0 1", ":0"),
            ("zcount missing x 1", "-ERR min or max is not a float"),
            ("zrank z a", ":0"),
            ("zrank z d", ":3"),
            ("zrank z nothere", "(nil)"),
            ("zrevrank z a", ":4"),
            ("zrevrank z e", ":0"),
            ("zrevrank z nothere", "(nil)"),
            ("zrank missing a", "(nil)"),
            ("zrevrank missing a", "(nil)"),
            ("zadd lex 0 a 0 b 0 c 0 d 0 e 0 f", ":6"),
            ("zlexcount lex - +", ":6"),
            ("zlexcount lex [b (e", ":3"),
            ("zlexcount lex (b [e", ":3"),
            ("zlexcount lex + -", ":0"),
            ("zlexcount lex - -", ":0"),
            ("zlexcount lex + +", ":0"),
            ("zlexcount lex [c [c", ":1"),
            ("zlexcount lex (c [c", ":0"),
            ("zlexcount lex [ +", ":6"),
            ("zlexcount lex ( (a", ":0"),
            (
                "zlexcount lex a b",
                "-ERR min or max not valid string range item",
            ),
            (
                "zlexcount lex [a x",
                "-ERR min or max not valid string range item",
            ),
            (
                "zlexcount lex \"\" +",
                "-ERR min or max not valid string range item",
            ),
            (
                "zlexcount lex +a +",
                "-ERR min or max not valid string range item",
            ),
            ("zlexcount missing - +", ":0"),
            (
                "zlexcount missing a b",
                "-ERR min or max not valid string range item",
            ),
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
            ("zadd z 1 a 2 b 3 c 3 d 10 e", ":5"),
            ("zscore z a", ",1"),
            ("zscore z nothere", "(nil)"),
            ("zscore missing a", "(nil)"),
            ("zmscore z a nothere b", "[,1,(nil),,2]"),
            ("zmscore missing a b", "[(nil),(nil)]"),
            ("zcard z", ":5"),
            ("zcard missing", ":0"),
            ("zcount z -inf +inf", ":5"),
            ("zcount z (1 3", ":3"),
            ("zcount z 1 (3", ":2"),
            ("zcount z (1 (1", ":0"),
            ("zcount z 3 3", ":2"),
            ("zcount z 3 1", ":0"),
            ("zcount z x 1", "-ERR min or max is not a float"),
            ("zcount z 1 x", "-ERR min or max is not a float"),
            ("zcount z ( (", ":0"),
            ("zcount z \"\" \"\"", ":0"),
            ("zcount z \" 1\" 3", ":4"),
            ("zcount z \"1 \" 3", "-ERR min or max is not a float"),
            ("zcount z (inf +inf", ":0"),
            ("zcount z -inf (-inf", ":0"),
            ("zcount missing 0 1", ":0"),
            ("zcount missing x 1", "-ERR min or max is not a float"),
            ("zrank z a", ":0"),
            ("zrank z d", ":3"),
            ("zrank z nothere", "(nil)"),
            ("zrevrank z a", ":4"),
            ("zrevrank z e", ":0"),
            ("zrevrank z nothere", "(nil)"),
            ("zrank missing a", "(nil)"),
            ("zrevrank missing a", "(nil)"),
            ("zadd lex 0 a 0 b 0 c 0 d 0 e 0 f", ":6"),
            ("zlexcount lex - +", ":6"),
            ("zlexcount lex [b (e", ":3"),
            ("zlexcount lex (b [e", ":3"),
            ("zlexcount lex + -", ":0"),
            ("zlexcount lex - -", ":0"),
            ("zlexcount lex + +", ":0"),
            ("zlexcount lex [c [c", ":1"),
            ("zlexcount lex (c [c", ":0"),
            ("zlexcount lex [ +", ":6"),
            ("zlexcount lex ( (a", ":0"),
            (
                "zlexcount lex a b",
                "-ERR min or max not valid string range item",
            ),
            (
                "zlexcount lex [a x",
                "-ERR min or max not valid string range item",
            ),
            (
                "zlexcount lex \"\" +",
                "-ERR min or max not valid string range item",
            ),
            (
                "zlexcount lex +a +",
                "-ERR min or max not valid string range item",
            ),
            ("zlexcount missing - +", ":0"),
            (
                "zlexcount missing a b",
                "-ERR min or max not valid string range item",
            ),
        ],
    );
}

#[test]
fn zrange_all_forms_and_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(&mut r, &[
        ("zadd z 1 a 2 b 3 c 4 d 5 e", ":5"),
        ("zrange z 0 -1", "[a,b,c,d,e]"),
        ("zrange z 1 2 withscores", "[b,2,c,3]"),
        ("zrange z -2 -1", "[d,e]"),
        ("zrange z 5 1", "[]"),
        ("zrange z 5 10", "[]"),
        ("zrange z -100 100 withscores", "[a,1,b,2,c,3,d,4,e,5]"),
        ("zrange z 0 100 rev withscores", "[e,5,d,4,c,3,b,2,a,1]"),
        ("zrange z 0 1 rev", "[e,d]"),
        ("zrange z -2 -1 rev", "[b,a]"),
        ("zrange z (1 4 byscore", "[b,c,d]"),
        ("zrange z 4 (1 byscore rev withscores", "[d,4,c,3,b,2]"),
        ("zrange z -inf +inf byscore limit 1 2 withscores", "[b,2,c,3]"),
        ("zrange z +inf -inf byscore rev limit 1 2 withscores", "[d,4,c,3]"),
        ("zrange z -inf +inf byscore limit 1 -1", "[b,c,d,e]"),
        ("zrange z -inf +inf byscore limit 0 0", "[]"),
        ("zrange z -inf +inf byscore limit -1 3", "[]"),
        ("zrange z -inf +inf byscore limit 5 3", "[]"),
        ("zrange z -inf +inf byscore limit 4 3", "[e]"),
        ("zrange z 3 1 byscore", "[]"),
        ("zrange z 1 3 byscore rev", "[]"),
        ("zrange z 0 -1 limit 0 1", "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
        ("zrange z 0 -1 limit 0 -1", "[a,b,c,d,e]"),
        ("zrange z 0 -1 limit 5 -1", "[a,b,c,d,e]"),
        ("zrange z 0 -1 byscore bylex", "-ERR syntax error"),
        ("zrange z 0 -1 bylex byscore", "-ERR syntax error"),
        ("zrange z 0 -1 rev rev", "-ERR syntax error"),
        ("zrange z 0 -1 withscores withscores", "[a,1,b,2,c,3,d,4,e,5]"),
        ("zrange z 0 -1 foo", "-ERR syntax error"),
        ("zrange z 0 -1 limit 1", "-ERR syntax error"),
        ("zrange z 0 -1 limit x 1 byscore", "-ERR value is not an integer or out of range"),
        ("zrange z 0 -1 limit 1 x byscore", "-ERR value is not an integer or out of range"),
        ("zrange z x 1", "-ERR value is not an integer or out of range"),
        ("zrange z 1 x", "-ERR value is not an integer or out of range"),
        ("zrange z x 1 byscore", "-ERR min or max is not a float"),
        ("zrange z a b bylex", "-ERR min or max not valid string range item"),
        ("zrange missing 0 -1", "[]"),
        ("zrange missing 0 -1 byscore withscores", "[]"),
        ("zrange missing x 1", "-ERR value is not an integer or out of range"),
        ("zadd lex 0 a 0 b 0 c 0 d 0 e 0 f", ":6"),
        ("zrange lex - + bylex", "[a,b,c,d,e,f]"),
        ("zrange lex [b (e bylex", "[b,c,d]"),
        ("zrange lex (e [b bylex rev", "[d,c,b]"),
        ("zrange lex - + bylex limit 2 2", "[c,d]"),
        ("zrange lex + - bylex rev limit 1 3", "[e,d,c]"),
        ("zrange lex - + bylex withscores", "-ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
        ("zrange lex - + bylex rev", "[]"),
        ("zrevrange z 0 -1 withscores", "[e,5,d,4,c,3,b,2,a,1]"),
        ("zrevrange z 0 0", "[e]"),
        ("zrevrange z 1 -2", "[d,c,b]"),
        ("zrevrange z 0 -1 byscore", "-ERR syntax error"),
        ("zrevrange z 0 -1 rev", "-ERR syntax error"),
        ("zrevrange z 0 -1 limit 0 1", "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
        ("zrevrange missing 0 1", "[]"),
        ("zrangebyscore z -inf +inf withscores", "[a,1,b,2,c,3,d,4,e,5]"),
        ("zrangebyscore z 1 5 limit 1 1", "[b]"),
        ("zrangebyscore z 1 5 withscores limit 0 10", "[a,1,b,2,c,3,d,4,e,5]"),
        ("zrangebyscore z (1 (5", "[b,c,d]"),
        ("zrangebyscore z -inf +inf byscore", "-ERR syntax error"),
        ("zrangebyscore z -inf +inf rev", "-ERR syntax error"),
        ("zrangebyscore z x 1", "-ERR min or max is not a float"),
        ("zrangebyscore missing 1 2", "[]"),
        ("zrevrangebyscore z +inf -inf withscores", "[e,5,d,4,c,3,b,2,a,1]"),
        ("zrevrangebyscore z 5 1 limit 1 2", "[d,c]"),
        ("zrevrangebyscore z (5 (1", "[d,c,b]"),
        ("zrevrangebyscore z +inf -inf rev", "-ERR syntax error"),
        ("zrevrangebyscore z 1 5", "[]"),
        ("zrangebylex lex - +", "[a,b,c,d,e,f]"),
        ("zrangebylex lex [c + limit 1 10", "[d,e,f]"),
        ("zrangebylex lex - + withscores", "-ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
        ("zrangebylex lex - + bylex", "-ERR syntax error"),
        ("zrangebylex lex a b", "-ERR min or max not valid string range item"),
        ("zrevrangebylex lex + -", "[f,e,d,c,b,a]"),
        ("zrevrangebylex lex [d [b", "[d,c,b]"),
        ("zrevrangebylex lex + - limit 0 2", "[f,e]"),
        ("zrevrangebylex lex - +", "[]"),
        ("zrangestore dst z 0 -1", ":5"),
        ("zrange dst 0 -1 withscores", "[a,1,b,2,c,3,d,4,e,5]"),
        ("zrangestore dst z 5 1", ":0"),
        ("exists dst", ":0"),
        ("zrangestore dst z -inf 2 byscore", ":2"),
        ("zrange dst 0 -1 withscores", "[a,1,b,2]"),
        ("zrangestore dst z +inf -inf byscore rev limit 0 2", ":2"),
        ("zrange dst 0 -1 withscores", "[d,4,e,5]"),
        ("zrangestore dst lex [b [d bylex rev limit 0 2", ":0"),
        ("zrange dst 0 -1", "[]"),
        ("zrangestore dst missing 0 -1", ":0"),
        ("exists dst", ":0"),
        ("zrangestore dst z 0 -1 withscores", "-ERR syntax error"),
        ("zrangestore dst z 0 -1 limit 0 1", "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
        ("set strk v", "+OK"),
        ("expire strk 100", ":1"),
        ("zrangestore strk z 0 0", ":1"),
        ("type strk", "+zset"),
        ("ttl strk", ":-1"),
        ("zrangestore dst strk 0 -1", ":1"),
        ("zrangestore dst z 0", "-ERR wrong number of arguments for 'zrangestore' command"),
    ]);
    // The same script in RESP3: doubles and nested [member, score] pairs.
    let mut r = s.raw();
    hello3(&mut r);
    r.cmd(&[b"FLUSHALL"]);
    assert_eq!(r.reply(), "+OK");
    check(&mut r, &[
        ("zadd z 1 a 2 b 3 c 4 d 5 e", ":5"),
        ("zrange z 0 -1", "[a,b,c,d,e]"),
        ("zrange z 1 2 withscores", "[[b,,2],[c,,3]]"),
        ("zrange z -2 -1", "[d,e]"),
        ("zrange z 5 1", "[]"),
        ("zrange z 5 10", "[]"),
        ("zrange z -100 100 withscores", "[[a,,1],[b,,2],[c,,3],[d,,4],[e,,5]]"),
        ("zrange z 0 100 rev withscores", "[[e,,5],[d,,4],[c,,3],[b,,2],[a,,1]]"),
        ("zrange z 0 1 rev", "[e,d]"),
        ("zrange z -2 -1 rev", "[b,a]"),
        ("zrange z (1 4 byscore", "[b,c,d]"),
        ("zrange z 4 (1 byscore rev withscores", "[[d,,4],[c,,3],[b,,2]]"),
        ("zrange z -inf +inf byscore limit 1 2 withscores", "[[b,,2],[c,,3]]"),
        ("zrange z +inf -inf byscore rev limit 1 2 withscores", "[[d,,4],[c,,3]]"),
        ("zrange z -inf +inf byscore limit 1 -1", "[b,c,d,e]"),
        ("zrange z -inf +inf byscore limit 0 0", "[]"),
        ("zrange z -inf +inf byscore limit -1 3", "[]"),
        ("zrange z -inf +inf byscore limit 5 3", "[]"),
        ("zrange z -inf +inf byscore limit 4 3", "[e]"),
        ("zrange z 3 1 byscore", "[]"),
        ("zrange z 1 3 byscore rev", "[]"),
        ("zrange z 0 -1 limit 0 1", "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
        ("zrange z 0 -1 limit 0 -1", "[a,b,c,d,e]"),
        ("zrange z 0 -1 limit 5 -1", "[a,b,c,d,e]"),
        ("zrange z 0 -1 byscore bylex", "-ERR syntax error"),
        ("zrange z 0 -1 bylex byscore", "-ERR syntax error"),
        ("zrange z 0 -1 rev rev", "-ERR syntax error"),
        ("zrange z 0 -1 withscores withscores", "[[a,,1],[b,,2],[c,,3],[d,,4],[e,,5]]"),
        ("zrange z 0 -1 foo", "-ERR syntax error"),
        ("zrange z 0 -1 limit 1", "-ERR syntax error"),
        ("zrange z 0 -1 limit x 1 byscore", "-ERR value is not an integer or out of range"),
        ("zrange z 0 -1 limit 1 x byscore", "-ERR value is not an integer or out of range"),
        ("zrange z x 1", "-ERR value is not an integer or out of range"),
        ("zrange z 1 x", "-ERR value is not an integer or out of range"),
        ("zrange z x 1 byscore", "-ERR min or max is not a float"),
        ("zrange z a b bylex", "-ERR min or max not valid string range item"),
        ("zrange missing 0 -1", "[]"),
        ("zrange missing 0 -1 byscore withscores", "[]"),
        ("zrange missing x 1", "-ERR value is not an integer or out of range"),
        ("zadd lex 0 a 0 b 0 c 0 d 0 e 0 f", ":6"),
        ("zrange lex - + bylex", "[a,b,c,d,e,f]"),
        ("zrange lex [b (e bylex", "[b,c,d]"),
        ("zrange lex (e [b bylex rev", "[d,c,b]"),
        ("zrange lex - + bylex limit 2 2", "[c,d]"),
        ("zrange lex + - bylex rev limit 1 3", "[e,d,c]"),
        ("zrange lex - + bylex withscores", "-ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
        ("zrange lex - + bylex rev", "[]"),
        ("zrevrange z 0 -1 withscores", "[[e,,5],[d,,4],[c,,3],[b,,2],[a,,1]]"),
        ("zrevrange z 0 0", "[e]"),
        ("zrevrange z 1 -2", "[d,c,b]"),
        ("zrevrange z 0 -1 byscore", "-ERR syntax error"),
        ("zrevrange z 0 -1 rev", "-ERR syntax error"),
        ("zrevrange z 0 -1 limit 0 1", "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
        ("zrevrange missing 0 1", "[]"),
        ("zrangebyscore z -inf +inf withscores", "[[a,,1],[b,,2],[c,,3],[d,,4],[e,,5]]"),
        ("zrangebyscore z 1 5 limit 1 1", "[b]"),
        ("zrangebyscore z 1 5 withscores limit 0 10", "[[a,,1],[b,,2],[c,,3],[d,,4],[e,,5]]"),
        ("zrangebyscore z (1 (5", "[b,c,d]"),
        ("zrangebyscore z -inf +inf byscore", "-ERR syntax error"),
        ("zrangebyscore z -inf +inf rev", "-ERR syntax error"),
        ("zrangebyscore z x 1", "-ERR min or max is not a float"),
        ("zrangebyscore missing 1 2", "[]"),
        ("zrevrangebyscore z +inf -inf withscores", "[[e,,5],[d,,4],[c,,3],[b,,2],[a,,1]]"),
        ("zrevrangebyscore z 5 1 limit 1 2", "[d,c]"),
        ("zrevrangebyscore z (5 (1", "[d,c,b]"),
        ("zrevrangebyscore z +inf -inf rev", "-ERR syntax error"),
        ("zrevrangebyscore z 1 5", "[]"),
        ("zrangebylex lex - +", "[a,b,c,d,e,f]"),
        ("zrangebylex lex [c + limit 1 10", "[d,e,f]"),
        ("zrangebylex lex - + withscores", "-ERR syntax error, WITHSCORES not supported in combination with BYLEX"),
        ("zrangebylex lex - + bylex", "-ERR syntax error"),
        ("zrangebylex lex a b", "-ERR min or max not valid string range item"),
        ("zrevrangebylex lex + -", "[f,e,d,c,b,a]"),
        ("zrevrangebylex lex [d [b", "[d,c,b]"),
        ("zrevrangebylex lex + - limit 0 2", "[f,e]"),
        ("zrevrangebylex lex - +", "[]"),
        ("zrangestore dst z 0 -1", ":5"),
        ("zrange dst 0 -1 withscores", "[[a,,1],[b,,2],[c,,3],[d,,4],[e,,5]]"),
        ("zrangestore dst z 5 1", ":0"),
        ("exists dst", ":0"),
        ("zrangestore dst z -inf 2 byscore", ":2"),
        ("zrange dst 0 -1 withscores", "[[a,,1],[b,,2]]"),
        ("zrangestore dst z +inf -inf byscore rev limit 0 2", ":2"),
        ("zrange dst 0 -1 withscores", "[[d,,4],[e,,5]]"),
        ("zrangestore dst lex [b [d bylex rev limit 0 2", ":0"),
        ("zrange dst 0 -1", "[]"),
        ("zrangestore dst missing 0 -1", ":0"),
        ("exists dst", ":0"),
        ("zrangestore dst z 0 -1 withscores", "-ERR syntax error"),
        ("zrangestore dst z 0 -1 limit 0 1", "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"),
        ("set strk v", "+OK"),
        ("expire strk 100", ":1"),
        ("zrangestore strk z 0 0", ":1"),
        ("type strk", "+zset"),
        ("ttl strk", ":-1"),
        ("zrangestore dst strk 0 -1", ":1"),
        ("zrangestore dst z 0", "-ERR wrong number of arguments for 'zrangestore' command"),
    ]);
}

#[test]
fn removals_by_member_and_range() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("zadd z 1 a 2 b 3 c", ":3"),
            ("zrem z a nothere", ":1"),
            ("zrem z a", ":0"),
            ("zrem missing a", ":0"),
            ("zrem z b c", ":2"),
            ("exists z", ":0"),
            ("zadd r 1 a 2 b 3 c 4 d 5 e", ":5"),
            ("zremrangebyrank r 0 1", ":2"),
            ("zrange r 0 -1", "[c,d,e]"),
            ("zremrangebyrank r 5 10", ":0"),
            ("zremrangebyrank r 2 1", ":0"),
            ("zremrangebyrank r -1 -1", ":1"),
            ("zrange r 0 -1", "[c,d]"),
            (
                "zremrangebyrank r x 1",
                "-ERR value is not an integer or out of range",
            ),
            (
                "zremrangebyrank r 1 x",
                "-ERR value is not an integer or out of range",
            ),
            ("zremrangebyrank missing 0 1", ":0"),
            (
                "zremrangebyrank missing x 1",
                "-ERR value is not an integer or out of range",
            ),
            ("zremrangebyrank r 0 -1", ":2"),
            ("exists r", ":0"),
            ("zadd r 1 a 2 b 3 c 4 d 5 e", ":5"),
            ("zremrangebyscore r (3 4", ":1"),
            ("zrange r 0 -1", "[a,b,c,e]"),
            ("zremrangebyscore r 10 20", ":0"),
            ("zremrangebyscore r x 1", "-ERR min or max is not a float"),
            ("zremrangebyscore missing 0 1", ":0"),
            (
                "zremrangebyscore missing x 1",
                "-ERR min or max is not a float",
            ),
            ("zremrangebyscore r -inf +inf", ":4"),
            ("exists r", ":0"),
            ("zadd r 0 a 0 b 0 c 0 d", ":4"),
            ("zremrangebylex r [b (d", ":2"),
            ("zrange r 0 -1", "[a,d]"),
            ("zremrangebylex r (x +", ":0"),
            (
                "zremrangebylex r x y",
                "-ERR min or max not valid string range item",
            ),
            ("zremrangebylex missing - +", ":0"),
            (
                "zremrangebylex missing x y",
                "-ERR min or max not valid string range item",
            ),
            ("zremrangebylex r - +", ":2"),
            ("exists r", ":0"),
        ],
    );
}

#[test]
fn pops_and_zmpop() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("zadd p 1 a 2 b 3 c 4 d", ":4"),
            ("zpopmin p", "[a,1]"),
            ("zpopmax p", "[d,4]"),
            ("zpopmin p 0", "[]"),
            ("zpopmin p 1", "[b,2]"),
            ("zadd p 1 a 2 b 3 c 4 d", ":3"),
            ("zpopmax p 2", "[d,4,c,3]"),
            ("zpopmin p 5", "[a,1,b,2]"),
            ("exists p", ":0"),
            ("zpopmin p", "[]"),
            ("zpopmax p", "[]"),
            ("zpopmin p 0", "[]"),
            ("zpopmin p 3", "[]"),
            (
                "zpopmax p -1",
                "-ERR value is out of range, must be positive",
            ),
            (
                "zpopmin p -1",
                "-ERR value is out of range, must be positive",
            ),
            (
                "zpopmax p x",
                "-ERR value is out of range, must be positive",
            ),
            ("zpopmax p 1 2", "-ERR syntax error"),
            ("zadd m1 1 a 2 b", ":2"),
            ("zadd m2 5 x 6 y", ":2"),
            ("zmpop 2 m0 m1 min", "[m1,[[a,1]]]"),
            ("zmpop 2 m1 m2 max count 10", "[m1,[[b,2]]]"),
            ("exists m1", ":0"),
            ("zmpop 2 m1 m2 max count 1", "[m2,[[y,6]]]"),
            ("zmpop 2 m1 m2 MIN COUNT 5", "[m2,[[x,5]]]"),
            ("zmpop 2 m1 m2 max", "(nil)"),
            ("zmpop 1 m1 max", "(nil)"),
            ("zmpop 0 m1 min", "-ERR numkeys should be greater than 0"),
            ("zmpop -1 m1 min", "-ERR numkeys should be greater than 0"),
            ("zmpop x m1 min", "-ERR numkeys should be greater than 0"),
            ("zmpop 1 m1 middle", "-ERR syntax error"),
            ("zmpop 3 m1 m2 min", "-ERR syntax error"),
            (
                "zmpop 1 m1 min count 0",
                "-ERR count should be greater than 0",
            ),
            (
                "zmpop 1 m1 min count -1",
                "-ERR count should be greater than 0",
            ),
            (
                "zmpop 1 m1 min count x",
                "-ERR count should be greater than 0",
            ),
            ("zmpop 1 m1 min count 1 count 1", "-ERR syntax error"),
            ("zmpop 1 m1 min foo", "-ERR syntax error"),
            ("zmpop 1 m1 min count", "-ERR syntax error"),
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
            ("zadd p 1 a 2 b 3 c 4 d", ":4"),
            ("zpopmin p", "[a,,1]"),
            ("zpopmax p", "[d,,4]"),
            ("zpopmin p 0", "[]"),
            ("zpopmin p 1", "[[b,,2]]"),
            ("zadd p 1 a 2 b 3 c 4 d", ":3"),
            ("zpopmax p 2", "[[d,,4],[c,,3]]"),
            ("zpopmin p 5", "[[a,,1],[b,,2]]"),
            ("exists p", ":0"),
            ("zpopmin p", "[]"),
            ("zpopmax p", "[]"),
            ("zpopmin p 0", "[]"),
            ("zpopmin p 3", "[]"),
            (
                "zpopmax p -1",
                "-ERR value is out of range, must be positive",
            ),
            (
                "zpopmin p -1",
                "-ERR value is out of range, must be positive",
            ),
            (
                "zpopmax p x",
                "-ERR value is out of range, must be positive",
            ),
            ("zpopmax p 1 2", "-ERR syntax error"),
            ("zadd m1 1 a 2 b", ":2"),
            ("zadd m2 5 x 6 y", ":2"),
            ("zmpop 2 m0 m1 min", "[m1,[[a,,1]]]"),
            ("zmpop 2 m1 m2 max count 10", "[m1,[[b,,2]]]"),
            ("exists m1", ":0"),
            ("zmpop 2 m1 m2 max count 1", "[m2,[[y,,6]]]"),
            ("zmpop 2 m1 m2 MIN COUNT 5", "[m2,[[x,,5]]]"),
            ("zmpop 2 m1 m2 max", "(nil)"),
            ("zmpop 1 m1 max", "(nil)"),
            ("zmpop 0 m1 min", "-ERR numkeys should be greater than 0"),
            ("zmpop -1 m1 min", "-ERR numkeys should be greater than 0"),
            ("zmpop x m1 min", "-ERR numkeys should be greater than 0"),
            ("zmpop 1 m1 middle", "-ERR syntax error"),
            ("zmpop 3 m1 m2 min", "-ERR syntax error"),
            (
                "zmpop 1 m1 min count 0",
                "-ERR count should be greater than 0",
            ),
            (
                "zmpop 1 m1 min count -1",
                "-ERR count should be greater than 0",
            ),
            (
                "zmpop 1 m1 min count x",
                "-ERR count should be greater than 0",
            ),
            ("zmpop 1 m1 min count 1 count 1", "-ERR syntax error"),
            ("zmpop 1 m1 min foo", "-ERR syntax error"),
            ("zmpop 1 m1 min count", "-ERR syntax error"),
        ],
    );
}

#[test]
fn union_inter_diff_and_intercard() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("zadd u1 1 a 2 b 3 c", ":3"),
            ("zadd u2 10 b 20 c 30 d", ":3"),
            ("sadd s1 a d x", ":3"),
            ("sadd si 1 2 3", ":3"),
            ("zadd ui 5 1 7 9", ":2"),
            ("zunion 2 u1 u2", "[a,b,c,d]"),
            ("zunion 2 u1 u2 withscores", "[a,1,b,12,c,23,d,30]"),
            (
                "zunion 2 u1 u2 weights 2 3 withscores",
                "[a,2,b,34,c,66,d,90]",
            ),
            (
                "zunion 2 u1 u2 weights 2 3 aggregate max withscores",
                "[a,2,b,30,c,60,d,90]",
            ),
            (
                "zunion 2 u1 u2 aggregate min withscores",
                "[a,1,b,2,c,3,d,30]",
            ),
            (
                "zunion 2 u1 u2 aggregate max withscores",
                "[a,1,b,10,c,20,d,30]",
            ),
            (
                "zunion 2 u1 u2 aggregate sum withscores",
                "[a,1,b,12,c,23,d,30]",
            ),
            ("zunion 3 u1 u2 s1 withscores", "[x,1,a,2,b,12,c,23,d,31]"),
            (
                "zunion 3 u1 u2 s1 weights 1 1 5 withscores",
                "[x,5,a,6,b,12,c,23,d,35]",
            ),
            ("zunion 2 si ui withscores", "[2,1,3,1,1,6,9,7]"),
            ("zunion 3 u1 u2 nothere withscores", "[a,1,b,12,c,23,d,30]"),
            ("zunion 1 nothere", "[]"),
            ("zinter 2 u1 u2 withscores", "[b,12,c,23]"),
            ("zinter 2 u1 u2", "[b,c]"),
            ("zinter 2 u1 u2 aggregate max withscores", "[b,10,c,20]"),
            ("zinter 2 u1 u2 aggregate min withscores", "[b,2,c,3]"),
            ("zinter 2 u1 u2 weights 1 -1 withscores", "[c,-17,b,-8]"),
            ("zinter 3 u1 u2 s1 withscores", "[]"),
            ("zinter 2 u1 s1 withscores", "[a,2]"),
            ("zinter 2 s1 s1 withscores", "[a,2,d,2,x,2]"),
            ("zinter 2 u1 u1 withscores", "[a,2,b,4,c,6]"),
            ("zinter 2 si ui withscores", "[1,6]"),
            ("zinter 2 u1 nothere withscores", "[]"),
            ("zdiff 2 u1 u2 withscores", "[a,1]"),
            ("zdiff 2 u2 u1", "[d]"),
            ("zdiff 2 u1 s1 withscores", "[b,2,c,3]"),
            ("zdiff 3 u1 u2 s1 withscores", "[]"),
            ("zdiff 1 u1", "[a,b,c]"),
            ("zdiff 1 nothere", "[]"),
            ("zdiff 2 nothere u1", "[]"),
            ("zdiff 2 u1 u2 weights 1 1", "-ERR syntax error"),
            ("zdiff 2 u1 u2 aggregate sum", "-ERR syntax error"),
            ("zunionstore out 2 u1 u2 weights 1 2", ":4"),
            ("zrange out 0 -1 withscores", "[a,1,b,22,c,43,d,60]"),
            ("zinterstore out 2 u1 u2", ":2"),
            ("zrange out 0 -1 withscores", "[b,12,c,23]"),
            ("zinterstore out 2 u1 u2 aggregate max weights 2 1", ":2"),
            ("zrange out 0 -1 withscores", "[b,10,c,20]"),
            ("zdiffstore out 2 u1 u2", ":1"),
            ("zrange out 0 -1 withscores", "[a,1]"),
            ("zinterstore out 2 u1 nothere", ":0"),
            ("exists out", ":0"),
            ("zunionstore out 1 s1", ":3"),
            ("zrange out 0 -1 withscores", "[a,1,d,1,x,1]"),
            ("set strk x", "+OK"),
            ("expire strk 100", ":1"),
            ("zunionstore strk 1 u1", ":3"),
            ("type strk", "+zset"),
            ("ttl strk", ":-1"),
            (
                "zunionstore out 0 u1",
                "-ERR at least 1 input key is needed for 'zunionstore' command",
            ),
            (
                "zinterstore out 0 u1",
                "-ERR at least 1 input key is needed for 'zinterstore' command",
            ),
            (
                "zdiffstore out 0 u1",
                "-ERR at least 1 input key is needed for 'zdiffstore' command",
            ),
            (
                "zunion 0 u1",
                "-ERR at least 1 input key is needed for 'zunion' command",
            ),
            (
                "zinter 0 u1",
                "-ERR at least 1 input key is needed for 'zinter' command",
            ),
            (
                "zdiff 0 u1",
                "-ERR at least 1 input key is needed for 'zdiff' command",
            ),
            ("zunionstore out 3 u1", "-ERR syntax error"),
            ("zunion 2 u1", "-ERR syntax error"),
            ("zunionstore out 1 u1 withscores", "-ERR syntax error"),
            (
                "zunionstore out 1 u1 weights x",
                "-ERR weight value is not a float",
            ),
            ("zunionstore out 1 u1 weights 1 2", "-ERR syntax error"),
            (
                "zunionstore out x u1",
                "-ERR value is not an integer or out of range",
            ),
            ("zunion 1 u1 aggregate avg", "-ERR syntax error"),
            ("zunion 1 u1 aggregate", "-ERR syntax error"),
            ("zunion 2 u1 strk", "[a,b,c]"),
            (
                "zunion 2 u1 strk weights x y",
                "-ERR weight value is not a float",
            ),
            ("zinter 2 u1 strk", "[a,b,c]"),
            ("zdiff 2 strk u1", "[]"),
            ("zdiffstore out 2 u1 strk", ":0"),
            ("zunion 1 u1 weights", "-ERR syntax error"),
            ("zunion 1 u1 foo", "-ERR syntax error"),
            ("zintercard 2 u1 u2", ":2"),
            ("zintercard 2 u1 u2 limit 1", ":1"),
            ("zintercard 2 u1 u2 limit 0", ":2"),
            ("zintercard 2 u1 u2 limit 10", ":2"),
            ("zintercard 3 u1 u2 s1", ":0"),
            ("zintercard 2 u1 s1", ":1"),
            ("zintercard 1 nothere", ":0"),
            (
                "zintercard 0 u1",
                "-ERR at least 1 input key is needed for 'zintercard' command",
            ),
            (
                "zintercard -1 u1",
                "-ERR at least 1 input key is needed for 'zintercard' command",
            ),
            (
                "zintercard x u1",
                "-ERR value is not an integer or out of range",
            ),
            ("zintercard 3 u1", "-ERR syntax error"),
            ("zintercard 1 u1 limit -1", "-ERR LIMIT can't be negative"),
            ("zintercard 1 u1 limit x", "-ERR LIMIT can't be negative"),
            ("zintercard 1 u1 limit", "-ERR syntax error"),
            ("zintercard 1 u1 withscores", "-ERR syntax error"),
            ("zintercard 1 u1 weights 1", "-ERR syntax error"),
            ("zintercard 2 u1 strk", ":3"),
            ("zadd inf 1 a", ":1"),
            ("zadd inf2 0 a", ":1"),
            ("zunion 2 inf inf2 weights inf 1 withscores", "[a,inf]"),
            ("zinter 2 inf inf2 weights 1 inf withscores", "[a,0]"),
            ("zadd big1 inf a", ":1"),
            ("zadd big2 -inf a", ":1"),
            ("zunion 2 big1 big2 withscores", "[a,0]"),
            ("zinter 2 big1 big2 withscores", "[a,0]"),
            ("zunion 1 big1 weights 0 withscores", "[a,0]"),
            ("zinter 2 big1 big2 aggregate min withscores", "[a,-inf]"),
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
            ("zadd u1 1 a 2 b 3 c", ":3"),
            ("zadd u2 10 b 20 c 30 d", ":3"),
            ("sadd s1 a d x", ":3"),
            ("sadd si 1 2 3", ":3"),
            ("zadd ui 5 1 7 9", ":2"),
            ("zunion 2 u1 u2", "[a,b,c,d]"),
            (
                "zunion 2 u1 u2 withscores",
                "[[a,,1],[b,,12],[c,,23],[d,,30]]",
            ),
            (
                "zunion 2 u1 u2 weights 2 3 withscores",
                "[[a,,2],[b,,34],[c,,66],[d,,90]]",
            ),
            (
                "zunion 2 u1 u2 weights 2 3 aggregate max withscores",
                "[[a,,2],[b,,30],[c,,60],[d,,90]]",
            ),
            (
                "zunion 2 u1 u2 aggregate min withscores",
                "[[a,,1],[b,,2],[c,,3],[d,,30]]",
            ),
            (
                "zunion 2 u1 u2 aggregate max withscores",
                "[[a,,1],[b,,10],[c,,20],[d,,30]]",
            ),
            (
                "zunion 2 u1 u2 aggregate sum withscores",
                "[[a,,1],[b,,12],[c,,23],[d,,30]]",
            ),
            (
                "zunion 3 u1 u2 s1 withscores",
                "[[x,,1],[a,,2],[b,,12],[c,,23],[d,,31]]",
            ),
            (
                "zunion 3 u1 u2 s1 weights 1 1 5 withscores",
                "[[x,,5],[a,,6],[b,,12],[c,,23],[d,,35]]",
            ),
            ("zunion 2 si ui withscores", "[[2,,1],[3,,1],[1,,6],[9,,7]]"),
            (
                "zunion 3 u1 u2 nothere withscores",
                "[[a,,1],[b,,12],[c,,23],[d,,30]]",
            ),
            ("zunion 1 nothere", "[]"),
            ("zinter 2 u1 u2 withscores", "[[b,,12],[c,,23]]"),
            ("zinter 2 u1 u2", "[b,c]"),
            (
                "zinter 2 u1 u2 aggregate max withscores",
                "[[b,,10],[c,,20]]",
            ),
            ("zinter 2 u1 u2 aggregate min withscores", "[[b,,2],[c,,3]]"),
            (
                "zinter 2 u1 u2 weights 1 -1 withscores",
                "[[c,,-17],[b,,-8]]",
            ),
            ("zinter 3 u1 u2 s1 withscores", "[]"),
            ("zinter 2 u1 s1 withscores", "[[a,,2]]"),
            ("zinter 2 s1 s1 withscores", "[[a,,2],[d,,2],[x,,2]]"),
            ("zinter 2 u1 u1 withscores", "[[a,,2],[b,,4],[c,,6]]"),
            ("zinter 2 si ui withscores", "[[1,,6]]"),
            ("zinter 2 u1 nothere withscores", "[]"),
            ("zdiff 2 u1 u2 withscores", "[[a,,1]]"),
            ("zdiff 2 u2 u1", "[d]"),
            ("zdiff 2 u1 s1 withscores", "[[b,,2],[c,,3]]"),
            ("zdiff 3 u1 u2 s1 withscores", "[]"),
            ("zdiff 1 u1", "[a,b,c]"),
            ("zdiff 1 nothere", "[]"),
            ("zdiff 2 nothere u1", "[]"),
            ("zdiff 2 u1 u2 weights 1 1", "-ERR syntax error"),
            ("zdiff 2 u1 u2 aggregate sum", "-ERR syntax error"),
            ("zunionstore out 2 u1 u2 weights 1 2", ":4"),
            (
                "zrange out 0 -1 withscores",
                "[[a,,1],[b,,22],[c,,43],[d,,60]]",
            ),
            ("zinterstore out 2 u1 u2", ":2"),
            ("zrange out 0 -1 withscores", "[[b,,12],[c,,23]]"),
            ("zinterstore out 2 u1 u2 aggregate max weights 2 1", ":2"),
            ("zrange out 0 -1 withscores", "[[b,,10],[c,,20]]"),
            ("zdiffstore out 2 u1 u2", ":1"),
            ("zrange out 0 -1 withscores", "[[a,,1]]"),
            ("zinterstore out 2 u1 nothere", ":0"),
            ("exists out", ":0"),
            ("zunionstore out 1 s1", ":3"),
            ("zrange out 0 -1 withscores", "[[a,,1],[d,,1],[x,,1]]"),
            ("set strk x", "+OK"),
            ("expire strk 100", ":1"),
            ("zunionstore strk 1 u1", ":3"),
            ("type strk", "+zset"),
            ("ttl strk", ":-1"),
            (
                "zunionstore out 0 u1",
                "-ERR at least 1 input key is needed for 'zunionstore' command",
            ),
            (
                "zinterstore out 0 u1",
                "-ERR at least 1 input key is needed for 'zinterstore' command",
            ),
            (
                "zdiffstore out 0 u1",
                "-ERR at least 1 input key is needed for 'zdiffstore' command",
            ),
            (
                "zunion 0 u1",
                "-ERR at least 1 input key is needed for 'zunion' command",
            ),
            (
                "zinter 0 u1",
                "-ERR at least 1 input key is needed for 'zinter' command",
            ),
            (
                "zdiff 0 u1",
                "-ERR at least 1 input key is needed for 'zdiff' command",
            ),
            ("zunionstore out 3 u1", "-ERR syntax error"),
            ("zunion 2 u1", "-ERR syntax error"),
            ("zunionstore out 1 u1 withscores", "-ERR syntax error"),
            (
                "zunionstore out 1 u1 weights x",
                "-ERR weight value is not a float",
            ),
            ("zunionstore out 1 u1 weights 1 2", "-ERR syntax error"),
            (
                "zunionstore out x u1",
                "-ERR value is not an integer or out of range",
            ),
            ("zunion 1 u1 aggregate avg", "-ERR syntax error"),
            ("zunion 1 u1 aggregate", "-ERR syntax error"),
            ("zunion 2 u1 strk", "[a,b,c]"),
            (
                "zunion 2 u1 strk weights x y",
                "-ERR weight value is not a float",
            ),
            ("zinter 2 u1 strk", "[a,b,c]"),
            ("zdiff 2 strk u1", "[]"),
            ("zdiffstore out 2 u1 strk", ":0"),
            ("zunion 1 u1 weights", "-ERR syntax error"),
            ("zunion 1 u1 foo", "-ERR syntax error"),
            ("zintercard 2 u1 u2", ":2"),
            ("zintercard 2 u1 u2 limit 1", ":1"),
            ("zintercard 2 u1 u2 limit 0", ":2"),
            ("zintercard 2 u1 u2 limit 10", ":2"),
            ("zintercard 3 u1 u2 s1", ":0"),
            ("zintercard 2 u1 s1", ":1"),
            ("zintercard 1 nothere", ":0"),
            (
                "zintercard 0 u1",
                "-ERR at least 1 input key is needed for 'zintercard' command",
            ),
            (
                "zintercard -1 u1",
                "-ERR at least 1 input key is needed for 'zintercard' command",
            ),
            (
                "zintercard x u1",
                "-ERR value is not an integer or out of range",
            ),
            ("zintercard 3 u1", "-ERR syntax error"),
            ("zintercard 1 u1 limit -1", "-ERR LIMIT can't be negative"),
            ("zintercard 1 u1 limit x", "-ERR LIMIT can't be negative"),
            ("zintercard 1 u1 limit", "-ERR syntax error"),
            ("zintercard 1 u1 withscores", "-ERR syntax error"),
            ("zintercard 1 u1 weights 1", "-ERR syntax error"),
            ("zintercard 2 u1 strk", ":3"),
            ("zadd inf 1 a", ":1"),
            ("zadd inf2 0 a", ":1"),
            ("zunion 2 inf inf2 weights inf 1 withscores", "[[a,,inf]]"),
            ("zinter 2 inf inf2 weights 1 inf withscores", "[[a,,0]]"),
            ("zadd big1 inf a", ":1"),
            ("zadd big2 -inf a", ":1"),
            ("zunion 2 big1 big2 withscores", "[[a,,0]]"),
            ("zinter 2 big1 big2 withscores", "[[a,,0]]"),
            ("zunion 1 big1 weights 0 withscores", "[[a,,0]]"),
            ("zinter 2 big1 big2 aggregate min withscores", "[[a,,-inf]]"),
        ],
    );
}

#[test]
fn zrandmember_and_zscan_replies() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(&mut r, &[
        ("zadd z 1 a 2 b 3 c", ":3"),
        ("zrandmember missing", "(nil)"),
        ("zrandmember missing 5", "[]"),
        ("zrandmember missing -5 withscores", "[]"),
        ("zrandmember z 0", "[]"),
        ("zrandmember z 0 withscores", "[]"),
        ("zrandmember z 10", "[c,b,a]"),
        ("zrandmember z 3 withscores", "[c,3,b,2,a,1]"),
        ("zrandmember z -9223372036854775808", "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
        ("zrandmember z 1 foo", "-ERR syntax error"),
        ("zrandmember z x", "-ERR value is not an integer or out of range"),
        ("zrandmember z 1 withscores x", "-ERR syntax error"),
        ("zrandmember z 9223372036854775807 withscores", "-ERR value is out of range"),
        ("zrandmember z -9223372036854775807 withscores", "-ERR value is out of range"),
        ("zadd one 7 only", ":1"),
        ("zrandmember one", "only"),
        ("zrandmember one -3", "[only,only,only]"),
        ("zrandmember one -2 withscores", "[only,7,only,7]"),
        ("zrandmember one 1 withscores", "[only,7]"),
        ("zscan missing 0", "[0,[]]"),
        ("zscan missing x", "-ERR invalid cursor"),
        ("zscan z x", "-ERR invalid cursor"),
        ("zscan z -1", "-ERR invalid cursor"),
        ("zscan z 0 count 0", "-ERR syntax error"),
        ("zscan z 0 count x", "-ERR value is not an integer or out of range"),
        ("zscan z 0 foo", "-ERR syntax error"),
        ("zscan z 0 match", "-ERR syntax error"),
        ("zscan z 0", "[0,[a,1,b,2,c,3]]"),
        ("zscan z 0 match [a-b]", "[0,[a,1,b,2]]"),
        ("zscan z 0 count 1 match *", "[0,[a,1,b,2,c,3]]"),
        ("zscan z 0 MATCH b COUNT 100", "[0,[b,2]]"),
        ("zscan missing 0 foo", "[0,[]]"),
    ]);
    // The same script in RESP3: doubles and nested [member, score] pairs.
    let mut r = s.raw();
    hello3(&mut r);
    r.cmd(&[b"FLUSHALL"]);
    assert_eq!(r.reply(), "+OK");
    check(&mut r, &[
        ("zadd z 1 a 2 b 3 c", ":3"),
        ("zrandmember missing", "(nil)"),
        ("zrandmember missing 5", "[]"),
        ("zrandmember missing -5 withscores", "[]"),
        ("zrandmember z 0", "[]"),
        ("zrandmember z 0 withscores", "[]"),
        ("zrandmember z 10", "[c,b,a]"),
        ("zrandmember z 3 withscores", "[[c,,3],[b,,2],[a,,1]]"),
        ("zrandmember z -9223372036854775808", "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"),
        ("zrandmember z 1 foo", "-ERR syntax error"),
        ("zrandmember z x", "-ERR value is not an integer or out of range"),
        ("zrandmember z 1 withscores x", "-ERR syntax error"),
        ("zrandmember z 9223372036854775807 withscores", "-ERR value is out of range"),
        ("zrandmember z -9223372036854775807 withscores", "-ERR value is out of range"),
        ("zadd one 7 only", ":1"),
        ("zrandmember one", "only"),
        ("zrandmember one -3", "[only,only,only]"),
        ("zrandmember one -2 withscores", "[[only,,7],[only,,7]]"),
        ("zrandmember one 1 withscores", "[[only,,7]]"),
        ("zscan missing 0", "[0,[]]"),
        ("zscan missing x", "-ERR invalid cursor"),
        ("zscan z x", "-ERR invalid cursor"),
        ("zscan z -1", "-ERR invalid cursor"),
        ("zscan z 0 count 0", "-ERR syntax error"),
        ("zscan z 0 count x", "-ERR value is not an integer or out of range"),
        ("zscan z 0 foo", "-ERR syntax error"),
        ("zscan z 0 match", "-ERR syntax error"),
        ("zscan z 0", "[0,[a,1,b,2,c,3]]"),
        ("zscan z 0 match [a-b]", "[0,[a,1,b,2]]"),
        ("zscan z 0 count 1 match *", "[0,[a,1,b,2,c,3]]"),
        ("zscan z 0 MATCH b COUNT 100", "[0,[b,2]]"),
        ("zscan missing 0 foo", "[0,[]]"),
    ]);
}

#[test]
fn wrongtype_and_arity() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("set strk v", "+OK"),
            (
                "zadd strk 1 a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zincrby strk 1 a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zrem strk a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zscore strk a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zmscore strk a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zcard strk",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zcount strk 0 1",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            ("zcount strk x 1", "-ERR min or max is not a float"),
            (
                "zlexcount strk - +",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zrank strk a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zrevrank strk a",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zrange strk 0 -1",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            ("zrange strk 0 -1 foo", "-ERR syntax error"),
            (
                "zrangestore dst strk 0 -1",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zrevrange strk 0 -1",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zrangebyscore strk 0 1",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zrevrangebyscore strk 1 0",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zrangebylex strk - +",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zrevrangebylex strk + -",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zremrangebyrank strk 0 1",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zremrangebyscore strk 0 1",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zremrangebylex strk - +",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zpopmin strk",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zpopmax strk 2",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zpopmin strk 0",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zmpop 1 strk min",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            ("zadd ok 1 a", ":1"),
            ("zmpop 2 ok strk min", "[ok,[[a,1]]]"),
            (
                "zmpop 2 nothere strk min",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zunion 1 strk",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zinter 1 strk",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zdiff 1 strk",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zunionstore d 1 strk",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zinterstore d 1 strk",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zdiffstore d 1 strk",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zintercard 1 strk",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zrandmember strk",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zrandmember strk 2",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            (
                "zscan strk 0",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            ("get strk", "v"),
            ("rpush lst a", ":1"),
            (
                "zunion 2 ok lst",
                "-WRONGTYPE Operation against a key holding the wrong kind of value",
            ),
            ("zadd", "-ERR wrong number of arguments for 'zadd' command"),
            (
                "zadd z",
                "-ERR wrong number of arguments for 'zadd' command",
            ),
            (
                "zadd z 1",
                "-ERR wrong number of arguments for 'zadd' command",
            ),
            (
                "zincrby z 1",
                "-ERR wrong number of arguments for 'zincrby' command",
            ),
            (
                "zrem z",
                "-ERR wrong number of arguments for 'zrem' command",
            ),
            (
                "zscore z",
                "-ERR wrong number of arguments for 'zscore' command",
            ),
            (
                "zmscore z",
                "-ERR wrong number of arguments for 'zmscore' command",
            ),
            (
                "zcard",
                "-ERR wrong number of arguments for 'zcard' command",
            ),
            (
                "zcount z 0",
                "-ERR wrong number of arguments for 'zcount' command",
            ),
            (
                "zlexcount z -",
                "-ERR wrong number of arguments for 'zlexcount' command",
            ),
            (
                "zrank z",
                "-ERR wrong number of arguments for 'zrank' command",
            ),
            (
                "zrevrank z",
                "-ERR wrong number of arguments for 'zrevrank' command",
            ),
            (
                "zrange z 0",
                "-ERR wrong number of arguments for 'zrange' command",
            ),
            (
                "zrangestore a b 0",
                "-ERR wrong number of arguments for 'zrangestore' command",
            ),
            (
                "zrevrange z 0",
                "-ERR wrong number of arguments for 'zrevrange' command",
            ),
            (
                "zrangebyscore z 0",
                "-ERR wrong number of arguments for 'zrangebyscore' command",
            ),
            (
                "zrevrangebyscore z 0",
                "-ERR wrong number of arguments for 'zrevrangebyscore' command",
            ),
            (
                "zrangebylex z -",
                "-ERR wrong number of arguments for 'zrangebylex' command",
            ),
            (
                "zrevrangebylex z +",
                "-ERR wrong number of arguments for 'zrevrangebylex' command",
            ),
            (
                "zremrangebyrank z 0",
                "-ERR wrong number of arguments for 'zremrangebyrank' command",
            ),
            (
                "zremrangebyscore z 0",
                "-ERR wrong number of arguments for 'zremrangebyscore' command",
            ),
            (
                "zremrangebylex z -",
                "-ERR wrong number of arguments for 'zremrangebylex' command",
            ),
            (
                "zpopmin",
                "-ERR wrong number of arguments for 'zpopmin' command",
            ),
            (
                "zpopmax",
                "-ERR wrong number of arguments for 'zpopmax' command",
            ),
            (
                "zmpop 1 z",
                "-ERR wrong number of arguments for 'zmpop' command",
            ),
            (
                "zunion 1",
                "-ERR wrong number of arguments for 'zunion' command",
            ),
            (
                "zinter 1",
                "-ERR wrong number of arguments for 'zinter' command",
            ),
            (
                "zdiff 1",
                "-ERR wrong number of arguments for 'zdiff' command",
            ),
            (
                "zunionstore d 1",
                "-ERR wrong number of arguments for 'zunionstore' command",
            ),
            (
                "zinterstore d 1",
                "-ERR wrong number of arguments for 'zinterstore' command",
            ),
            (
                "zdiffstore d 1",
                "-ERR wrong number of arguments for 'zdiffstore' command",
            ),
            (
                "zintercard 1",
                "-ERR wrong number of arguments for 'zintercard' command",
            ),
            (
                "zrandmember",
                "-ERR wrong number of arguments for 'zrandmember' command",
            ),
            (
                "zscan z",
                "-ERR wrong number of arguments for 'zscan' command",
            ),
        ],
    );
}

/// ZRANK/ZREVRANK WITHSCORE (Redis 7.2).
#[test]
fn zrank_withscore() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("ZADD z 1 a 2.5 b 3 c", ":3"),
            ("ZRANK z b WITHSCORE", "[:1,2.5]"),
            ("ZREVRANK z b withscore", "[:1,2.5]"),
            ("ZREVRANK z a WITHSCORE", "[:2,1]"),
            ("ZRANK z nothere WITHSCORE", "(nil)"),
            ("ZRANK missing a WITHSCORE", "(nil)"),
            ("ZRANK z a WITHSCORES", "-ERR syntax error"),
            (
                "ZRANK z a WITHSCORE x",
                "-ERR wrong number of arguments for 'zrank' command",
            ),
            (
                "ZREVRANK z a WITHSCORE x",
                "-ERR wrong number of arguments for 'zrevrank' command",
            ),
        ],
    );
    r.cmd(&[b"ZRANK", b"z", b"nothere", b"WITHSCORE"]);
    assert_eq!(r.line(), "*-1");
    r.cmd(&[b"ZRANK", b"z", b"nothere"]);
    assert_eq!(r.line(), "$-1");
    hello3(&mut r);
    check(
        &mut r,
        &[
            ("ZRANK z b WITHSCORE", "[:1,,2.5]"),
            ("ZREVRANK z c WITHSCORE", "[:0,,3]"),
        ],
    );
    r.cmd(&[b"ZRANK", b"z", b"nothere", b"WITHSCORE"]);
    assert_eq!(r.line(), "_");
}

/// listpack up to 128 members of up to 64 bytes, skiplist beyond; never back by removals; STORE
/// results get the encoding their size calls for.
#[test]
fn encoding_transitions() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for i in 0..128 {
        assert_eq!(run(&mut r, &format!("ZADD z {i} m{i}")), ":1");
    }
    assert_eq!(encoding(&mut r, "z"), "listpack");
    check(&mut r, &[("ZADD z 1000 m128", ":1")]);
    assert_eq!(encoding(&mut r, "z"), "skiplist");
    check(
        &mut r,
        &[("ZREMRANGEBYRANK z 0 120", ":121"), ("ZCARD z", ":8")],
    );
    assert_eq!(encoding(&mut r, "z"), "skiplist");
    // A long member converts at once.
    let long = "x".repeat(65);
    check(&mut r, &[("ZADD small 1 a", ":1")]);
    assert_eq!(encoding(&mut r, "small"), "listpack");
    check(
        &mut r,
        &[(&format!("ZADD small 2 {}", "y".repeat(64)), ":1")],
    );
    assert_eq!(encoding(&mut r, "small"), "listpack");
    check(&mut r, &[(&format!("ZADD small 3 {long}"), ":1")]);
    assert_eq!(encoding(&mut r, "small"), "skiplist");
    // Redis 7.2 sizes a new key by the ZADD's pair count: 129 pairs start as a skiplist even if
    // they name one member.
    let pairs: String = (0..129).map(|i| format!(" {i} same")).collect();
    check(
        &mut r,
        &[
            (&format!("ZADD hinted{pairs}"), ":1"),
            ("ZCARD hinted", ":1"),
        ],
    );
    assert_eq!(encoding(&mut r, "hinted"), "skiplist");
    // Store results: small ones are listpacks even from skiplist inputs, big ones skiplists.
    check(&mut r, &[("ZUNIONSTORE u 1 z", ":8")]);
    assert_eq!(encoding(&mut r, "u"), "listpack");
    check(&mut r, &[("ZRANGESTORE rs small 0 0", ":1")]);
    assert_eq!(encoding(&mut r, "rs"), "listpack");
    check(&mut r, &[("ZRANGESTORE rs small 0 -1", ":3")]);
    assert_eq!(encoding(&mut r, "rs"), "skiplist");
    for i in 0..200 {
        run(&mut r, &format!("ZADD many {i} m{i}"));
    }
    check(&mut r, &[("ZINTERSTORE i 1 many", ":200")]);
    assert_eq!(encoding(&mut r, "i"), "skiplist");
    check(
        &mut r,
        &[("ZDIFFSTORE d 1 many", ":200"), ("TYPE d", "+zset")],
    );
    // The skiplist keeps the sign of zero (the listpack reads it back as 0, as in Redis).
    check(
        &mut r,
        &[
            ("ZADD many -0 negzero", ":1"),
            ("ZSCORE many negzero", "-0"),
            ("ZADD lp -0 negzero", ":1"),
            ("ZSCORE lp negzero", "0"),
        ],
    );
}

/// Sends `cmds` pipelined and returns the replies.
fn pipeline(r: &mut Raw, cmds: &[Vec<Vec<u8>>]) -> Vec<String> {
    let mut req = Vec::new();
    for args in cmds {
        req.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            req.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            req.extend_from_slice(a);
            req.extend_from_slice(b"\r\n");
        }
    }
    r.send(&req);
    cmds.iter().map(|_| r.reply()).collect()
}

fn args(parts: &[&str]) -> Vec<Vec<u8>> {
    parts.iter().map(|p| p.as_bytes().to_vec()).collect()
}

/// 100k members: rank, range and count queries answer correctly and quickly (O(log n)).
#[test]
fn big_sorted_set_rank_queries_are_fast() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    const N: u64 = 100_000;
    // member i has score (i * 7) % 1000 (many ties, ordered by member bytes).
    let member = |i: u64| format!("member:{i:06}");
    let score = |i: u64| (i * 7) % 1000;
    let mut batches = Vec::new();
    for chunk in 0..N / 1000 {
        let mut a = args(&["ZADD", "big"]);
        for i in chunk * 1000..(chunk + 1) * 1000 {
            a.push(score(i).to_string().into_bytes());
            a.push(member(i).into_bytes());
        }
        batches.push(a);
    }
    for reply in pipeline(&mut r, &batches) {
        assert_eq!(reply, ":1000");
    }
    assert_eq!(encoding(&mut r, "big"), "skiplist");
    check(&mut r, &[("ZCARD big", ":100000")]);
    // The expected order: by score, then member.
    let mut order: Vec<u64> = (0..N).collect();
    order.sort_by_key(|&i| (score(i), member(i)));
    let mut rank_of = vec![0u64; N as usize];
    for (rank, &i) in order.iter().enumerate() {
        rank_of[i as usize] = rank as u64;
    }
    let queries: Vec<u64> = (0..10_000u64).map(|k| (k * 7919 + 13) % N).collect();
    let cmds: Vec<Vec<Vec<u8>>> = queries
        .iter()
        .map(|&i| args(&["ZRANK", "big", &member(i)]))
        .collect();
    let start = Instant::now();
    let replies = pipeline(&mut r, &cmds);
    let took = start.elapsed();
    for (&i, reply) in queries.iter().zip(&replies) {
        assert_eq!(
            *reply,
            format!(":{}", rank_of[i as usize]),
            "rank of {}",
            member(i)
        );
    }
    assert!(
        took < Duration::from_secs(2),
        "10k pipelined ZRANK took {took:?}"
    );
    // Ranges by rank, score and with LIMIT, and counts, at arbitrary positions.
    let at = |rank: usize| member(order[rank]);
    check(
        &mut r,
        &[
            (
                "ZRANGE big 50000 50001",
                &format!("[{},{}]", at(50000), at(50001)),
            ),
            (&format!("ZREVRANK big {}", at(0)), ":99999"),
            ("ZCOUNT big 10 (20", ":1000"),
            ("ZCOUNT big (10 20", ":1000"),
            ("ZCOUNT big -inf +inf", ":100000"),
            (
                "ZRANGE big 500 +inf BYSCORE LIMIT 99 2",
                &format!("[{},{}]", at(50099), at(50100)),
            ),
            (
                "ZRANGE big (500 -inf BYSCORE REV LIMIT 0 1 WITHSCORES",
                &format!("[{},499]", at(49999)),
            ),
            ("ZREMRANGEBYSCORE big 0 (500", ":50000"),
            ("ZCARD big", ":50000"),
            (&format!("ZRANK big {}", at(50000)), ":0"),
            ("ZREMRANGEBYRANK big 0 9", ":10"),
            (
                &format!("ZSCORE big {}", at(50010)),
                &score(order[50010]).to_string(),
            ),
            (
                "ZPOPMIN big",
                &format!("[{},{}]", at(50010), score(order[50010])),
            ),
        ],
    );
}

/// A full ZSCAN of a skiplist returns every member once with its score; a listpack is returned
/// whole in one call; MATCH filters.
#[test]
fn zscan_iterates_big_sets_completely() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut a = args(&["ZADD", "z"]);
    for i in 0..1000 {
        a.push(i.to_string().into_bytes());
        a.push(format!("m{i}").into_bytes());
    }
    assert_eq!(pipeline(&mut r, &[a]), [":1000"]);
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut calls = 0;
    loop {
        let reply = run(&mut r, &format!("ZSCAN z {cursor} COUNT 50"));
        calls += 1;
        let inner = reply
            .strip_prefix('[')
            .and_then(|x| x.strip_suffix("]]"))
            .expect(&reply);
        let (next, items) = inner.split_once(",[").expect(&reply);
        let items: Vec<&str> = if items.is_empty() {
            vec![]
        } else {
            items.split(',').collect()
        };
        for pair in items.chunks(2) {
            let (m, sc) = (pair[0], pair[1]);
            assert_eq!(format!("m{sc}"), m, "score of {m}");
            assert!(seen.insert(m.to_string()), "{m} returned twice");
        }
        cursor = next.to_string();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 1000);
    assert!(calls > 5, "COUNT 50 took {calls} calls");
    // MATCH over a full scan.
    let mut matched = 0;
    let mut cursor = "0".to_string();
    loop {
        let reply = run(&mut r, &format!("ZSCAN z {cursor} MATCH m99* COUNT 100"));
        let inner = &reply[1..reply.len() - 2];
        let (next, items) = inner.split_once(",[").expect(&reply);
        if !items.is_empty() {
            matched += items.split(',').count() / 2;
        }
        cursor = next.to_string();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(matched, 11); // m99, m990..m999
                             // A listpack comes back whole.
    check(
        &mut r,
        &[
            ("ZADD small 1 a 2 b", ":2"),
            ("ZSCAN small 0 COUNT 1", "[0,[a,1,b,2]]"),
        ],
    );
}

/// ZRANDMEMBER: distinct members for positive counts, repetitions for negative ones, scores that
/// match, on both encodings and protocols.
#[test]
fn zrandmember_samples() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(&mut r, &[("ZADD small 1 a 2 b 3 c 4 d 5 e", ":5")]);
    let mut a = args(&["ZADD", "big"]);
    for i in 0..500 {
        a.push(i.to_string().into_bytes());
        a.push(format!("m{i}").into_bytes());
    }
    assert_eq!(pipeline(&mut r, &[a]), [":500"]);
    for (key, size) in [("small", 5usize), ("big", 500)] {
        let mut all = HashSet::new();
        for _ in 0..200 {
            let one = run(&mut r, &format!("ZRANDMEMBER {key}"));
            all.insert(one);
        }
        assert!(all.len() > 3, "{key}: {all:?}");
        for count in [1usize, 3, 4, 300] {
            let reply = run(&mut r, &format!("ZRANDMEMBER {key} {count} WITHSCORES"));
            let items: Vec<&str> = reply[1..reply.len() - 1].split(',').collect();
            let n = count.min(size);
            assert_eq!(items.len(), 2 * n, "{key} {count}: {reply}");
            let mut distinct = HashSet::new();
            for pair in items.chunks(2) {
                if key == "small" {
                    let expected = (pair[0].as_bytes()[0] - b'a' + 1).to_string();
                    assert_eq!(pair[1], expected);
                } else {
                    assert_eq!(format!("m{}", pair[1]), pair[0]);
                }
                assert!(distinct.insert(pair[0].to_string()), "duplicate in {reply}");
            }
        }
        let reply = run(&mut r, &format!("ZRANDMEMBER {key} -1000"));
        let items: Vec<&str> = reply[1..reply.len() - 1].split(',').collect();
        assert_eq!(items.len(), 1000);
        let distinct: HashSet<&str> = items.iter().copied().collect();
        assert!(distinct.len() < 1000 && distinct.len() > 3);
    }
    hello3(&mut r);
    let reply = run(&mut r, "ZRANDMEMBER small -2 WITHSCORES");
    assert!(
        reply.starts_with("[[") && reply.matches(",,").count() == 2,
        "{reply}"
    );
    // A huge negative count is refused once the reply would exceed proto-max-bulk-len.
    check(
        &mut r,
        &[
            ("CONFIG SET proto-max-bulk-len 1mb", "+OK"),
            ("ZRANDMEMBER big -10000000", "-ERR value is out of range"),
            ("PING", "+PONG"),
        ],
    );
}

/// Writes signal the keyspace: WATCH is invalidated by changes but not by no-ops, and a client
/// blocked in BZPOPMIN is served by ZADD.
#[test]
fn writes_signal_watchers_and_blocked_clients() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    check(&mut b, &[("ZADD w 1 a", ":1")]);
    check(&mut a, &[("WATCH w", "+OK")]);
    check(
        &mut b,
        &[
            ("ZADD w 1 a", ":0"),
            ("ZADD w NX 5 a", ":0"),
            ("ZREM w nothere", ":0"),
            ("ZREMRANGEBYSCORE w 10 20", ":0"),
            ("ZADD nokey XX 1 a", ":0"),
        ],
    );
    check(
        &mut a,
        &[("MULTI", "+OK"), ("PING", "+QUEUED"), ("EXEC", "[+PONG]")],
    );
    check(&mut a, &[("WATCH w", "+OK")]);
    check(&mut b, &[("ZINCRBY w 1 a", "2")]);
    check(
        &mut a,
        &[("MULTI", "+OK"), ("PING", "+QUEUED"), ("EXEC", "(nil)")],
    );

    a.cmd(&[b"BZPOPMIN", b"q", b"5"]);
    std::thread::sleep(Duration::from_millis(100));
    check(&mut b, &[("ZADD q 3 x 1 y", ":2")]);
    assert_eq!(a.reply(), "[q,y,1]");
    check(&mut b, &[("ZRANGE q 0 -1", "[x]")]);
}

/// Keyspace notifications for sorted set events.
#[test]
fn keyspace_events() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    check(&mut c, &[("CONFIG SET notify-keyspace-events Ezg", "+OK")]);
    let mut sub = s.raw();
    sub.cmd(&[b"PSUBSCRIBE", b"__keyevent@0__:*"]);
    assert_eq!(sub.reply(), "[psubscribe,__keyevent@0__:*,:1]");
    check(
        &mut c,
        &[
            ("ZADD z 1 a 2 b 3 c 4 d", ":4"),
            ("ZADD z 1 a", ":0"),
            ("ZINCRBY z 1 a", "2"),
            ("ZREM z b", ":1"),
            ("ZREMRANGEBYSCORE z 0 2", ":1"),
            ("ZREMRANGEBYRANK z 0 0", ":1"),
            ("ZADD z 0 a 0 b", ":2"),
            ("ZREMRANGEBYLEX z [a [a", ":1"),
            ("ZPOPMIN z", "[b,0]"),
            ("ZPOPMAX z", "[d,4]"),
            ("ZADD src 1 x", ":1"),
            ("ZRANGESTORE dst src 0 -1", ":1"),
            ("ZUNIONSTORE dst 1 src", ":1"),
            ("ZINTERSTORE dst 1 src", ":1"),
            ("ZDIFFSTORE dst 1 src", ":1"),
            ("ZINTERSTORE dst 1 nothere", ":0"),
        ],
    );
    let want = [
        ("zadd", "z"),
        ("zincr", "z"),
        ("zrem", "z"),
        ("zremrangebyscore", "z"),
        ("zremrangebyrank", "z"),
        ("zadd", "z"),
        ("zremrangebylex", "z"),
        ("zpopmin", "z"),
        ("zpopmax", "z"),
        ("del", "z"),
        ("zadd", "src"),
        ("zrangestore", "dst"),
        ("zunionstore", "dst"),
        ("zinterstore", "dst"),
        ("zdiffstore", "dst"),
        ("del", "dst"),
    ];
    for (event, key) in want {
        assert_eq!(
            sub.reply(),
            format!("[pmessage,__keyevent@0__:*,__keyevent@0__:{event},{key}]")
        );
    }
}

/// The algebra over big (skiplist) inputs and mixed set inputs agrees with a direct computation.
#[test]
fn algebra_on_big_inputs() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut a = args(&["ZADD", "a"]);
    let mut b = args(&["ZADD", "b"]);
    let mut c = args(&["SADD", "c"]);
    for i in 0..3000u64 {
        if i % 2 == 0 {
            a.push(i.to_string().into_bytes());
            a.push(format!("m{i}").into_bytes());
        }
        if i % 3 == 0 {
            b.push((i * 10).to_string().into_bytes());
            b.push(format!("m{i}").into_bytes());
        }
        if i % 5 == 0 {
            c.push(format!("m{i}").into_bytes());
        }
    }
    assert_eq!(pipeline(&mut r, &[a, b, c]), [":1500", ":1000", ":600"]);
    // m_i is in all three when i % 30 == 0: 100 members, score i + 10 i * 2 + 1 * 3.
    check(
        &mut r,
        &[
            ("ZINTERCARD 3 a b c", ":100"),
            ("ZINTERCARD 3 a b c LIMIT 10", ":10"),
        ],
    );
    check(&mut r, &[("ZINTERSTORE out 3 a b c WEIGHTS 1 2 3", ":100")]);
    let mut expected: Vec<(u64, String)> = (0..3000u64)
        .filter(|i| i % 30 == 0)
        .map(|i| (i + 20 * i + 3, format!("m{i}")))
        .collect();
    expected.sort();
    let want: Vec<String> = expected.iter().map(|(s, m)| format!("{m},{s}")).collect();
    assert_eq!(
        run(&mut r, "ZRANGE out 0 -1 WITHSCORES"),
        format!("[{}]", want.join(","))
    );
    // Union size: |a ∪ b ∪ c| by inclusion-exclusion over i in 0..3000.
    let union = (0..3000u64)
        .filter(|i| i % 2 == 0 || i % 3 == 0 || i % 5 == 0)
        .count();
    check(
        &mut r,
        &[(
            "ZUNIONSTORE out 3 a b c AGGREGATE MAX",
            &format!(":{union}"),
        )],
    );
    // MAX: b's score (10 i) wins where present, else a's (i), else c's 1.
    check(
        &mut r,
        &[
            ("ZSCORE out m6", "60"),
            ("ZSCORE out m4", "4"),
            ("ZSCORE out m5", "1"),
        ],
    );
    let diff = (0..3000u64)
        .filter(|i| i % 2 == 0 && i % 3 != 0 && i % 5 != 0)
        .count();
    check(
        &mut r,
        &[
            ("ZDIFFSTORE out 3 a b c", &format!(":{diff}")),
            ("ZRANGE out 0 2", "[m2,m4,m8]"),
        ],
    );
}
