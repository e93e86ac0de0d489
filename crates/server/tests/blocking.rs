//! Blocking pops against a real server: immediate service, wake-up on push from another client,
//! timeouts, FIFO fairness among waiters, BLMOVE/BRPOPLPUSH/BLMPOP/BZPOP*/BZMPOP, behaviour inside
//! MULTI, WRONGTYPE, disconnected waiters, and requests pipelined behind a blocked one.

mod common;
use common::{info_value, run_once as push, Raw, Server};
use std::time::{Duration, Instant};

fn wait_blocked(s: &Server, n: i64) {
    let mut c = s.conn();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let info: String = redis::cmd("INFO").arg("clients").query(&mut c).unwrap();
        let blocked: i64 = info_value(&info, "blocked_clients").unwrap_or(-1);
        if blocked == n {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "expected {n} blocked clients, have {blocked}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn blpop_serves_immediately_when_data_exists() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"RPUSH", b"l", b"a", b"b"]);
    assert_eq!(r.reply(), ":2");
    r.cmd(&[b"BLPOP", b"empty", b"l", b"0"]);
    assert_eq!(r.reply(), "[l,a]");
    r.cmd(&[b"BRPOP", b"l", b"0"]);
    assert_eq!(r.reply(), "[l,b]");
    r.cmd(&[b"EXISTS", b"l"]);
    assert_eq!(r.reply(), ":0");
}

#[test]
fn blpop_wakes_on_push_from_another_client() {
    let s = Server::start(&[]);
    let mut waiter = s.raw();
    waiter.cmd(&[b"BLPOP", b"q1", b"q2", b"0"]);
    wait_blocked(&s, 1);
    assert_eq!(push(&s, &["RPUSH", "q2", "job"]), ":1");
    assert_eq!(waiter.reply(), "[q2,job]");
    assert_eq!(push(&s, &["LLEN", "q2"]), ":0");
    wait_blocked(&s, 0);
}

/// CLIENT UNBLOCK ends another client's wait: as a timeout (a null, in that client's protocol)
/// or with an -UNBLOCKED error; the waiter no longer takes data pushed afterwards.
#[test]
fn client_unblock_ends_a_wait_as_timeout_or_error() {
    let s = Server::start(&[]);
    let mut waiter = s.raw();
    let id = {
        waiter.cmd(&[b"CLIENT", b"ID"]);
        waiter.reply().trim_start_matches(':').to_string()
    };
    waiter.cmd(&[b"BLPOP", b"q", b"0"]);
    wait_blocked(&s, 1);
    assert_eq!(push(&s, &["CLIENT", "UNBLOCK", &id]), ":1");
    assert_eq!(waiter.line(), "*-1");
    wait_blocked(&s, 0);
    assert_eq!(push(&s, &["RPUSH", "q", "a"]), ":1");
    assert_eq!(push(&s, &["LLEN", "q"]), ":1");
    assert_eq!(push(&s, &["CLIENT", "UNBLOCK", &id]), ":0");

    waiter.cmd(&[b"HELLO", b"3"]);
    waiter.reply();
    waiter.cmd(&[b"BZPOPMIN", b"z", b"0"]);
    wait_blocked(&s, 1);
    assert_eq!(push(&s, &["CLIENT", "UNBLOCK", &id, "TIMEOUT"]), ":1");
    assert_eq!(waiter.line(), "_");
    waiter.cmd(&[b"BLMOVE", b"e", b"d", b"LEFT", b"RIGHT", b"0"]);
    wait_blocked(&s, 1);
    assert_eq!(push(&s, &["CLIENT", "UNBLOCK", &id, "error"]), ":1");
    assert_eq!(
        waiter.line(),
        "-UNBLOCKED client unblocked via CLIENT UNBLOCK"
    );
    // The connection goes on normally.
    waiter.cmd(&[b"PING"]);
    assert_eq!(waiter.line(), "+PONG");

    assert_eq!(
        push(&s, &["CLIENT", "UNBLOCK", &id, "FOO"]),
        "-ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    );
    assert_eq!(
        push(&s, &["CLIENT", "UNBLOCK", "x"]),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(push(&s, &["CLIENT", "UNBLOCK", "-5"]), ":0");
}

#[test]
fn timeout_returns_null() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let t = Instant::now();
    r.cmd(&[b"BLPOP", b"nothing", b"0.2"]);
    assert_eq!(r.reply(), "(nil)");
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(190) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    r.cmd(&[b"BLPOP", b"nothing", b"-1"]);
    assert_eq!(r.reply(), "-ERR timeout is negative");
    r.cmd(&[b"BLPOP", b"nothing", b"x"]);
    assert_eq!(r.reply(), "-ERR timeout is not a float or out of range");
    // RESP3 timeout is a null.
    r.cmd(&[b"HELLO", b"3"]);
    r.reply();
    r.cmd(&[b"BZPOPMIN", b"nothing", b"0.05"]);
    assert_eq!(r.line(), "_");
}

#[test]
fn waiters_are_served_in_arrival_order() {
    let s = Server::start(&[]);
    let mut waiters: Vec<Raw> = Vec::new();
    for i in 0..3 {
        let mut w = s.raw();
        w.cmd(&[b"BLPOP", b"fair", b"0"]);
        wait_blocked(&s, i + 1);
        waiters.push(w);
    }
    // One push with three elements: each waiter gets one, in the order they blocked.
    assert_eq!(
        push(&s, &["RPUSH", "fair", "first", "second", "third"]),
        ":3"
    );
    assert_eq!(waiters[0].reply(), "[fair,first]");
    assert_eq!(waiters[1].reply(), "[fair,second]");
    assert_eq!(waiters[2].reply(), "[fair,third]");
}

#[test]
fn one_element_goes_to_the_longest_waiter_only() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    a.cmd(&[b"BLPOP", b"k", b"0"]);
    wait_blocked(&s, 1);
    let mut b = s.raw();
    b.cmd(&[b"BLPOP", b"k", b"0.5"]);
    wait_blocked(&s, 2);
    push(&s, &["LPUSH", "k", "only"]);
    assert_eq!(a.reply(), "[k,only]");
    assert_eq!(b.reply(), "(nil)");
}

#[test]
fn blmove_and_brpoplpush() {
    let s = Server::start(&[]);
    let mut w = s.raw();
    w.cmd(&[b"BLMOVE", b"src", b"dst", b"LEFT", b"RIGHT", b"0"]);
    wait_blocked(&s, 1);
    push(&s, &["RPUSH", "src", "x", "y"]);
    assert_eq!(w.reply(), "x");
    assert_eq!(push(&s, &["LRANGE", "dst", "0", "-1"]), "[x]");
    assert_eq!(push(&s, &["LRANGE", "src", "0", "-1"]), "[y]");
    w.cmd(&[b"BRPOPLPUSH", b"src", b"dst", b"0"]);
    assert_eq!(w.reply(), "y");
    assert_eq!(push(&s, &["LRANGE", "dst", "0", "-1"]), "[y,x]");
    w.cmd(&[b"BLMOVE", b"src", b"dst", b"UP", b"RIGHT", b"0"]);
    assert_eq!(w.reply(), "-ERR syntax error");
    // Destination of the wrong type: the element stays where it was.
    push(&s, &["SET", "str", "v"]);
    push(&s, &["RPUSH", "src2", "z"]);
    w.cmd(&[b"BLMOVE", b"src2", b"str", b"LEFT", b"LEFT", b"0"]);
    assert_eq!(
        w.reply(),
        "-WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(push(&s, &["LLEN", "src2"]), ":1");
}

#[test]
fn blmpop_and_bzmpop() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"BLMPOP", b"0", b"0", b"a", b"LEFT"]);
    assert_eq!(r.reply(), "-ERR numkeys should be greater than 0");
    r.cmd(&[b"BLMPOP", b"0", b"1", b"a", b"LEFT", b"COUNT", b"0"]);
    assert_eq!(r.reply(), "-ERR count should be greater than 0");
    r.cmd(&[b"BLMPOP", b"0", b"3", b"a", b"LEFT"]);
    assert_eq!(r.reply(), "-ERR syntax error");
    r.cmd(&[b"BLMPOP", b"0", b"2", b"a", b"b", b"RIGHT", b"COUNT", b"2"]);
    wait_blocked(&s, 1);
    push(&s, &["RPUSH", "b", "1", "2", "3"]);
    assert_eq!(r.reply(), "[b,[3,2]]");
    r.cmd(&[b"BZMPOP", b"0", b"1", b"z", b"MAX", b"COUNT", b"2"]);
    wait_blocked(&s, 1);
    push(&s, &["ZADD", "z", "1", "one", "2", "two", "3", "three"]);
    assert_eq!(r.reply(), "[z,[[three,3],[two,2]]]");
}

#[test]
fn bzpopmin_and_bzpopmax() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"BZPOPMIN", b"zs", b"0"]);
    wait_blocked(&s, 1);
    push(&s, &["ZADD", "zs", "5", "five", "1", "one"]);
    assert_eq!(r.reply(), "[zs,one,1]");
    r.cmd(&[b"BZPOPMAX", b"zs", b"0"]);
    assert_eq!(r.reply(), "[zs,five,5]");
    r.cmd(&[b"EXISTS", b"zs"]);
    assert_eq!(r.reply(), ":0");
}

#[test]
fn blocking_commands_inside_multi_do_not_block() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"MULTI"]);
    r.reply();
    r.cmd(&[b"BLPOP", b"none", b"0"]);
    assert_eq!(r.reply(), "+QUEUED");
    r.cmd(&[b"RPUSH", b"l", b"v"]);
    r.reply();
    r.cmd(&[b"BLPOP", b"l", b"0"]);
    r.reply();
    r.cmd(&[b"EXEC"]);
    assert_eq!(r.reply(), "[(nil),:1,[l,v]]");
}

#[test]
fn pushes_inside_exec_serve_waiters_after_the_transaction() {
    let s = Server::start(&[]);
    let mut w = s.raw();
    w.cmd(&[b"BLPOP", b"t", b"0"]);
    wait_blocked(&s, 1);
    let mut r = s.raw();
    r.cmd(&[b"MULTI"]);
    r.reply();
    r.cmd(&[b"RPUSH", b"t", b"a"]);
    r.reply();
    r.cmd(&[b"RPUSH", b"t", b"b"]);
    r.reply();
    r.cmd(&[b"EXEC"]);
    assert_eq!(r.reply(), "[:1,:2]");
    assert_eq!(w.reply(), "[t,a]");
    assert_eq!(push(&s, &["LRANGE", "t", "0", "-1"]), "[b]");
}

#[test]
fn wrong_type_errors_at_once() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"SET", b"s", b"v"]);
    r.reply();
    r.cmd(&[b"BLPOP", b"s", b"0"]);
    assert_eq!(
        r.reply(),
        "-WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    r.cmd(&[b"BZPOPMIN", b"s", b"0"]);
    assert_eq!(
        r.reply(),
        "-WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn disconnected_waiter_does_not_swallow_data() {
    let s = Server::start(&[]);
    {
        let mut gone = s.raw();
        gone.cmd(&[b"BLPOP", b"dq", b"0"]);
        wait_blocked(&s, 1);
    }
    wait_blocked(&s, 0);
    push(&s, &["RPUSH", "dq", "kept"]);
    assert_eq!(push(&s, &["LLEN", "dq"]), ":1");
}

#[test]
fn pipelined_requests_behind_a_blocked_one_run_after_it() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.send(b"*3\r\n$5\r\nBLPOP\r\n$1\r\np\r\n$1\r\n0\r\n*2\r\n$4\r\nECHO\r\n$5\r\nafter\r\n");
    wait_blocked(&s, 1);
    push(&s, &["RPUSH", "p", "v"]);
    assert_eq!(r.reply(), "[p,v]");
    assert_eq!(r.reply(), "after");
}

#[test]
fn key_turning_into_another_type_wakes_waiter_with_wrongtype() {
    let s = Server::start(&[]);
    let mut w = s.raw();
    w.cmd(&[b"BLPOP", b"m", b"0"]);
    wait_blocked(&s, 1);
    push(&s, &["SET", "m", "string"]);
    assert_eq!(
        w.reply(),
        "-WRONGTYPE Operation against a key holding the wrong kind of value"
    );
}

#[test]
fn movable_keys_are_reported_by_command_getkeys() {
    let s = Server::start(&[]);
    assert_eq!(
        push(
            &s,
            &["COMMAND", "GETKEYS", "BLMPOP", "0", "2", "a", "b", "LEFT"]
        ),
        "[a,b]"
    );
    assert_eq!(
        push(
            &s,
            &[
                "COMMAND",
                "GETKEYS",
                "SINTERCARD",
                "2",
                "x",
                "y",
                "LIMIT",
                "1"
            ]
        ),
        "[x,y]"
    );
    let info = push(&s, &["COMMAND", "INFO", "bzmpop"]);
    assert!(info.contains("movablekeys"), "{info}");
}
