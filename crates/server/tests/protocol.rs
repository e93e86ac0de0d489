//! Protocol robustness against a real server: malformed input gets Redis's protocol error and the
//! connection is closed, without affecting other clients; huge declared lengths allocate nothing;
//! half-sent commands wait; deep pipelines answer every command in order.

mod common;
use common::Server;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

#[test]
fn inline_commands_work() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.send(b"PING\r\n");
    assert_eq!(r.reply(), "+PONG");
    r.send(b"ECHO \"hello world\"\n");
    assert_eq!(r.reply(), "hello world");
    r.send(b"SET k 'it''s'\r\n");
    assert_eq!(
        r.reply(),
        "-ERR Protocol error: unbalanced quotes in request"
    );
    assert!(r.closed());
}

#[test]
fn garbage_gets_protocol_error_and_close() {
    let s = Server::start(&[]);
    let cases: &[(&[u8], &str)] = &[
        (b"*abc\r\n", "-ERR Protocol error: invalid multibulk length"),
        (
            b"*1\r\n+PING\r\n",
            "-ERR Protocol error: expected '$', got '+'",
        ),
        (b"*1\r\n$-5\r\n", "-ERR Protocol error: invalid bulk length"),
        (b"*1\r\n$x\r\n", "-ERR Protocol error: invalid bulk length"),
    ];
    for (input, expected) in cases {
        let mut r = s.raw();
        r.send(input);
        assert_eq!(
            &r.reply(),
            expected,
            "input {:?}",
            String::from_utf8_lossy(input)
        );
        assert!(
            r.closed(),
            "connection closed after {:?}",
            String::from_utf8_lossy(input)
        );
    }
    // The server is unaffected.
    let mut r = s.raw();
    r.send(b"PING\r\n");
    assert_eq!(r.reply(), "+PONG");
}

#[test]
fn four_gigabyte_bulk_length_is_refused_without_allocating() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4294967296\r\n");
    assert_eq!(r.reply(), "-ERR Protocol error: invalid bulk length");
    assert!(r.closed());
    // Within proto-max-bulk-len but never sent: the server waits, holding only what arrived.
    let mut r = s.raw();
    r.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870912\r\nabc");
    std::thread::sleep(Duration::from_millis(200));
    let mut c = s.conn();
    let info: String = redis::cmd("INFO").arg("memory").query(&mut c).unwrap();
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory");
    assert!(
        used < 64 * 1024 * 1024,
        "declared 512MB bulk must not be preallocated: {used}"
    );
    drop(r);
}

#[test]
fn huge_multibulk_count_is_refused() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.send(b"*99999999999\r\n");
    assert_eq!(r.reply(), "-ERR Protocol error: invalid multibulk length");
    assert!(r.closed());
}

#[test]
fn too_big_inline_request_is_refused() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let junk = vec![b'a'; 70 * 1024];
    r.send(&junk);
    assert_eq!(r.reply(), "-ERR Protocol error: too big inline request");
    assert!(r.closed());
}

#[test]
fn half_sent_command_completes_later() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let cmd = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
    for chunk in cmd.chunks(3) {
        r.send(chunk);
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(r.reply(), "+OK");
    // A client that sends half a command and disappears leaves nothing behind.
    {
        let mut half = s.raw();
        half.send(b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva");
    }
    r.cmd(&[b"GET", b"key"]);
    assert_eq!(r.reply(), "value");
}

#[test]
fn ten_thousand_pipelined_commands_answer_in_order() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut batch = Vec::new();
    for i in 0..10_000 {
        let v = i.to_string();
        batch.extend_from_slice(
            format!(
                "*3\r\n$3\r\nSET\r\n$4\r\nk{:03}\r\n${}\r\n{}\r\n",
                i % 1000,
                v.len(),
                v
            )
            .as_bytes(),
        );
        batch
            .extend_from_slice(format!("*2\r\n$4\r\nECHO\r\n${}\r\n{}\r\n", v.len(), v).as_bytes());
    }
    // Write from another thread so neither side's socket buffer deadlocks the test.
    let mut w = r.stream.try_clone().unwrap();
    let writer = std::thread::spawn(move || w.write_all(&batch).unwrap());
    for i in 0..10_000 {
        assert_eq!(r.reply(), "+OK");
        assert_eq!(r.reply(), i.to_string());
    }
    writer.join().unwrap();
}

#[test]
fn query_buffer_limit_disconnects() {
    let s = Server::start(&["--client-query-buffer-limit", "1mb"]);
    let mut r = s.raw();
    // A bulk of 2 MB declared and streamed: exceeds the 1 MB query buffer.
    r.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    let mut closed = false;
    for _ in 0..40 {
        if r.stream.write_all(&chunk).is_err() {
            closed = true;
            break;
        }
    }
    if !closed {
        r.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        let mut buf = [0u8; 16];
        closed = matches!(r.stream.read(&mut buf), Ok(0) | Err(_));
    }
    assert!(
        closed,
        "client over client-query-buffer-limit is disconnected"
    );
    let mut c = s.conn();
    let pong: String = redis::cmd("PING").query(&mut c).unwrap();
    assert_eq!(pong, "PONG");
}

#[test]
fn many_garbage_clients_do_not_disturb_a_good_one() {
    let s = Server::start(&[]);
    let mut good = s.conn();
    let start = Instant::now();
    for i in 0..200u32 {
        let mut r = s.raw();
        let garbage: Vec<u8> = (0..64u32).map(|j| ((i * 31 + j * 7) % 251) as u8).collect();
        r.send(&garbage);
        r.send(b"\r\n*x\r\n");
        let _: String = redis::cmd("ECHO").arg(i).query(&mut good).unwrap();
    }
    assert!(start.elapsed() < Duration::from_secs(20));
}
