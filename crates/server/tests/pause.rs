//! CLIENT PAUSE / CLIENT UNPAUSE: held commands wait (in order, replies to earlier commands
//! sent), WRITE holds only commands that may write, ALL holds everything (CLIENT UNPAUSE too),
//! a second pause keeps the later end and stricter mode, and the data set stays still (no
//! active expiry) meanwhile. Errors as Redis 7.0 words them.

mod common;

use common::{info_field, run, Server};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Sends `request` on a fresh connection and returns the time until `expect` bytes arrived.
fn timed(server: &Server, request: &[u8], expect: &[u8]) -> Duration {
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    s.write_all(request).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    while got.len() < expect.len() {
        let n = s.read(&mut buf).unwrap();
        assert!(n > 0, "closed after {got:?}");
        got.extend_from_slice(&buf[..n]);
    }
    assert_eq!(got, expect);
    started.elapsed()
}

#[test]
fn write_pauses_hold_writes_only() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "k", "v"]), "+OK");
    assert_eq!(run(&mut r, &["CLIENT", "PAUSE", "500", "WRITE"]), "+OK");
    let read = timed(&s, b"GET k\r\n", b"$1\r\nv\r\n");
    assert!(read < Duration::from_millis(300), "a read waited {read:?}");

    // A pipeline: the GET's reply goes out at once, the SET waits for the end of the pause.
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let started = Instant::now();
    c.write_all(b"GET k\r\nSET k w\r\nGET k\r\n").unwrap();
    let mut first = [0u8; 7];
    c.read_exact(&mut first).unwrap();
    assert_eq!(&first, b"$1\r\nv\r\n");
    assert!(started.elapsed() < Duration::from_millis(300));
    // Meanwhile the held client is counted as blocked.
    let mut info = s.conn();
    assert_eq!(
        info_field::<u64>(&mut info, "clients", "blocked_clients"),
        1
    );
    let mut rest = [0u8; 12];
    c.read_exact(&mut rest).unwrap();
    assert_eq!(&rest, b"+OK\r\n$1\r\nw\r\n");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(350),
        "the SET ran after {waited:?}"
    );
    assert_eq!(
        info_field::<u64>(&mut info, "clients", "blocked_clients"),
        0
    );

    // May-replicate commands (PUBLISH) and EXEC of a queued write wait too; CLIENT UNPAUSE ends
    // the pause early.
    assert_eq!(run(&mut r, &["CLIENT", "PAUSE", "10000", "WRITE"]), "+OK");
    let unpauser = {
        let addr = s.addr();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(400));
            let mut u = common::Raw::connect(&addr);
            assert_eq!(run(&mut u, &["CLIENT", "UNPAUSE"]), "+OK");
        })
    };
    let waited = timed(&s, b"PUBLISH ch m\r\n", b":0\r\n");
    assert!(
        (Duration::from_millis(300)..Duration::from_secs(5)).contains(&waited),
        "PUBLISH waited {waited:?}"
    );
    unpauser.join().unwrap();
    assert_eq!(run(&mut r, &["CLIENT", "PAUSE", "400", "WRITE"]), "+OK");
    let waited = timed(
        &s,
        b"MULTI\r\nGET k\r\nEXEC\r\n",
        b"+OK\r\n+QUEUED\r\n*1\r\n$1\r\nw\r\n",
    );
    assert!(
        waited < Duration::from_millis(300),
        "a read-only EXEC waited"
    );
    let waited = timed(&s, b"INCR n\r\n", b":1\r\n");
    assert!(
        waited >= Duration::from_millis(100),
        "INCR ran during the pause"
    );
}

#[test]
fn all_pauses_hold_everything_and_pauses_combine() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["CLIENT", "PAUSE", "300"]), "+OK");
    let waited = timed(&s, b"PING\r\n", b"+PONG\r\n");
    assert!(
        waited >= Duration::from_millis(200),
        "PING ran after {waited:?}"
    );

    // WRITE for 600 ms, then ALL for 1 ms: ALL (stricter) until the later end.
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["CLIENT", "PAUSE", "600", "WRITE"]), "+OK");
    assert_eq!(run(&mut r, &["CLIENT", "PAUSE", "1", "ALL"]), "+OK");
    let waited = timed(&s, b"CLIENT UNPAUSE\r\n", b"+OK\r\n");
    assert!(
        waited >= Duration::from_millis(450),
        "CLIENT UNPAUSE ran after {waited:?} under ALL"
    );
    let waited = timed(&s, b"SET a b\r\n", b"+OK\r\n");
    assert!(
        waited < Duration::from_millis(300),
        "still paused: {waited:?}"
    );
}

#[test]
fn no_active_expiry_during_a_pause() {
    let s = Server::start(&["--hz", "100"]);
    let mut c = s.conn();
    let mut r = s.raw();
    assert_eq!(run(&mut r, &["SET", "k", "v", "PX", "50"]), "+OK");
    assert_eq!(run(&mut r, &["CLIENT", "PAUSE", "800", "WRITE"]), "+OK");
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(info_field::<u64>(&mut c, "stats", "expired_keys"), 0);
    std::thread::sleep(Duration::from_millis(900));
    let deadline = Instant::now() + Duration::from_secs(5);
    while info_field::<u64>(&mut c, "stats", "expired_keys") == 0 {
        assert!(
            Instant::now() < deadline,
            "the key never expired after the pause"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn pause_errors_are_redis_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for (cmd, reply) in [
        (
            &["CLIENT", "PAUSE"][..],
            "-ERR wrong number of arguments for 'client|pause' command",
        ),
        (
            &["CLIENT", "PAUSE", "abc"][..],
            "-ERR timeout is not an integer or out of range",
        ),
        (&["CLIENT", "PAUSE", "-1"][..], "-ERR timeout is negative"),
        (
            &["CLIENT", "PAUSE", "100", "foo"][..],
            "-ERR CLIENT PAUSE mode must be WRITE or ALL",
        ),
        (
            &["CLIENT", "pause", "100", "write", "extra"][..],
            "-ERR unknown subcommand or wrong number of arguments for 'pause'. Try CLIENT HELP.",
        ),
        (
            &["CLIENT", "UNPAUSE", "x"][..],
            "-ERR wrong number of arguments for 'client|unpause' command",
        ),
        (&["CLIENT", "PAUSE", "0"][..], "+OK"),
        (&["CLIENT", "UNPAUSE"][..], "+OK"),
    ] {
        assert_eq!(run(&mut r, cmd), reply, "{cmd:?}");
    }
}

#[test]
fn a_held_client_that_disconnects_is_noticed_at_once() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut info = s.conn();
    assert_eq!(run(&mut r, &["CLIENT", "PAUSE", "10000", "WRITE"]), "+OK");
    let mut c = TcpStream::connect(s.addr()).unwrap();
    c.write_all(b"SET k v\r\n").unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while info_field::<u64>(&mut info, "clients", "blocked_clients") != 1 {
        assert!(Instant::now() < deadline, "the SET was never held");
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(c);
    while info_field::<u64>(&mut info, "clients", "blocked_clients") != 0 {
        assert!(
            Instant::now() < deadline,
            "a disconnected client stayed held until the pause ended"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(run(&mut r, &["CLIENT", "UNPAUSE"]), "+OK");
    assert_eq!(
        run(&mut r, &["EXISTS", "k"]),
        ":0",
        "a held command of a gone client never runs"
    );
}
