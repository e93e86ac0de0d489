//! MULTI/EXEC/DISCARD/WATCH against a real server: queueing, EXECABORT on queue-time errors,
//! runtime errors that do not stop the transaction, WATCH failing EXEC after writes by other
//! clients, expiry and eviction, and atomicity under concurrent clients.

mod common;
use common::Server;
use std::time::Duration;

#[test]
fn multi_exec_queues_and_runs() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"MULTI"]);
    assert_eq!(r.reply(), "+OK");
    r.cmd(&[b"SET", b"a", b"1"]);
    assert_eq!(r.reply(), "+QUEUED");
    r.cmd(&[b"INCR", b"a"]);
    assert_eq!(r.reply(), "+QUEUED");
    r.cmd(&[b"GET", b"a"]);
    assert_eq!(r.reply(), "+QUEUED");
    r.cmd(&[b"EXEC"]);
    assert_eq!(r.reply(), "[+OK,:2,2]");
}

#[test]
fn errors_and_nesting() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"EXEC"]);
    assert_eq!(r.reply(), "-ERR EXEC without MULTI");
    r.cmd(&[b"DISCARD"]);
    assert_eq!(r.reply(), "-ERR DISCARD without MULTI");
    r.cmd(&[b"MULTI"]);
    assert_eq!(r.reply(), "+OK");
    r.cmd(&[b"MULTI"]);
    assert_eq!(r.reply(), "-ERR MULTI calls can not be nested");
    r.cmd(&[b"WATCH", b"x"]);
    assert_eq!(r.reply(), "-ERR WATCH inside MULTI is not allowed");
    // The transaction is still good.
    r.cmd(&[b"SET", b"k", b"v"]);
    assert_eq!(r.reply(), "+QUEUED");
    r.cmd(&[b"EXEC"]);
    assert_eq!(r.reply(), "[+OK]");
}

#[test]
fn queue_time_error_aborts_exec() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"MULTI"]);
    r.reply();
    r.cmd(&[b"SET", b"k", b"v"]);
    assert_eq!(r.reply(), "+QUEUED");
    r.cmd(&[b"NOSUCHCOMMAND"]);
    assert!(r
        .reply()
        .starts_with("-ERR unknown command 'NOSUCHCOMMAND'"));
    r.cmd(&[b"GET"]);
    assert_eq!(
        r.reply(),
        "-ERR wrong number of arguments for 'get' command"
    );
    r.cmd(&[b"EXEC"]);
    assert_eq!(
        r.reply(),
        "-EXECABORT Transaction discarded because of previous errors."
    );
    r.cmd(&[b"EXISTS", b"k"]);
    assert_eq!(r.reply(), ":0");
}

#[test]
fn runtime_error_does_not_stop_the_rest() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"SET", b"s", b"text"]);
    r.reply();
    r.cmd(&[b"MULTI"]);
    r.reply();
    r.cmd(&[b"INCR", b"s"]);
    r.reply();
    r.cmd(&[b"SET", b"t", b"1"]);
    r.reply();
    r.cmd(&[b"EXEC"]);
    assert_eq!(
        r.reply(),
        "[-ERR value is not an integer or out of range,+OK]"
    );
}

#[test]
fn discard_drops_queue_and_watches() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"WATCH", b"w"]);
    assert_eq!(r.reply(), "+OK");
    r.cmd(&[b"MULTI"]);
    r.reply();
    r.cmd(&[b"SET", b"d", b"1"]);
    r.reply();
    r.cmd(&[b"DISCARD"]);
    assert_eq!(r.reply(), "+OK");
    r.cmd(&[b"EXISTS", b"d"]);
    assert_eq!(r.reply(), ":0");
    // The watch is gone: another client's write no longer fails a new transaction.
    let mut other = s.conn();
    let _: () = redis::cmd("SET")
        .arg("w")
        .arg("x")
        .query(&mut other)
        .unwrap();
    r.cmd(&[b"MULTI"]);
    r.reply();
    r.cmd(&[b"PING"]);
    r.reply();
    r.cmd(&[b"EXEC"]);
    assert_eq!(r.reply(), "[+PONG]");
}

#[test]
fn watch_fails_exec_after_another_clients_write() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let mut other = s.conn();
    r.cmd(&[b"SET", b"balance", b"10"]);
    r.reply();
    r.cmd(&[b"WATCH", b"balance"]);
    assert_eq!(r.reply(), "+OK");
    let _: i64 = redis::cmd("INCR").arg("balance").query(&mut other).unwrap();
    r.cmd(&[b"MULTI"]);
    r.reply();
    r.cmd(&[b"SET", b"balance", b"0"]);
    r.reply();
    r.cmd(&[b"EXEC"]);
    assert_eq!(r.reply(), "(nil)");
    r.cmd(&[b"GET", b"balance"]);
    assert_eq!(r.reply(), "11");
    // UNWATCH then the same flow succeeds.
    r.cmd(&[b"WATCH", b"balance"]);
    r.reply();
    r.cmd(&[b"UNWATCH"]);
    assert_eq!(r.reply(), "+OK");
    let _: i64 = redis::cmd("INCR").arg("balance").query(&mut other).unwrap();
    r.cmd(&[b"MULTI"]);
    r.reply();
    r.cmd(&[b"GET", b"balance"]);
    r.reply();
    r.cmd(&[b"EXEC"]);
    assert_eq!(r.reply(), "[12]");
}

#[test]
fn watch_fails_after_expiry_and_after_flush() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"SET", b"e", b"1", b"PX", b"50"]);
    r.reply();
    r.cmd(&[b"WATCH", b"e"]);
    r.reply();
    std::thread::sleep(Duration::from_millis(120));
    r.cmd(&[b"MULTI"]);
    r.reply();
    r.cmd(&[b"PING"]);
    r.reply();
    r.cmd(&[b"EXEC"]);
    assert_eq!(r.reply(), "(nil)", "expiry of a watched key fails EXEC");

    r.cmd(&[b"SET", b"f", b"1"]);
    r.reply();
    r.cmd(&[b"WATCH", b"f"]);
    r.reply();
    let mut other = s.conn();
    let _: () = redis::cmd("FLUSHDB").query(&mut other).unwrap();
    r.cmd(&[b"MULTI"]);
    r.reply();
    r.cmd(&[b"PING"]);
    r.reply();
    r.cmd(&[b"EXEC"]);
    assert_eq!(r.reply(), "(nil)", "FLUSHDB touches watched keys");
}

#[test]
fn watch_of_missing_key_fails_when_created() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    r.cmd(&[b"WATCH", b"ghost"]);
    r.reply();
    let mut other = s.conn();
    let _: () = redis::cmd("SET")
        .arg("ghost")
        .arg("boo")
        .query(&mut other)
        .unwrap();
    r.cmd(&[b"MULTI"]);
    r.reply();
    r.cmd(&[b"GET", b"ghost"]);
    r.reply();
    r.cmd(&[b"EXEC"]);
    assert_eq!(r.reply(), "(nil)");
}

#[test]
fn optimistic_counter_is_exact_under_contention() {
    let s = Server::start(&[]);
    const CLIENTS: usize = 8;
    const PER_CLIENT: usize = 100;
    let url = s.url();
    let handles: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                let mut done = 0;
                let mut retries = 0;
                while done < PER_CLIENT {
                    let _: () = redis::cmd("WATCH").arg("ctr").query(&mut c).unwrap();
                    let v: Option<i64> = redis::cmd("GET").arg("ctr").query(&mut c).unwrap();
                    let next = v.unwrap_or(0) + 1;
                    let res: Option<(String,)> = redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg("ctr")
                        .arg(next)
                        .query(&mut c)
                        .unwrap();
                    if res.is_some() {
                        done += 1;
                    } else {
                        retries += 1;
                    }
                }
                retries
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let mut c = s.conn();
    let v: i64 = redis::cmd("GET").arg("ctr").query(&mut c).unwrap();
    assert_eq!(v, (CLIENTS * PER_CLIENT) as i64);
}

#[test]
fn exec_is_atomic_with_respect_to_other_clients() {
    let s = Server::start(&[]);
    let url = s.url();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let st = stop.clone();
    // A reader that must never observe a and b differing.
    let reader = std::thread::spawn(move || {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        let mut checks = 0;
        while !st.load(std::sync::atomic::Ordering::Relaxed) {
            let (a, b): (Option<i64>, Option<i64>) =
                redis::cmd("MGET").arg("a").arg("b").query(&mut c).unwrap();
            assert_eq!(a, b, "saw a half-applied transaction");
            checks += 1;
        }
        checks
    });
    let mut c = s.conn();
    for i in 0..500 {
        let _: () = redis::pipe()
            .atomic()
            .cmd("SET")
            .arg("a")
            .arg(i)
            .ignore()
            .cmd("SET")
            .arg("b")
            .arg(i)
            .ignore()
            .query(&mut c)
            .unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(reader.join().unwrap() > 0);
}
