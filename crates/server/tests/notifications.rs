//! Keyspace notifications (`notify-keyspace-events`) against a real server: the K and E channels,
//! class filtering, and the events the keyspace raises itself (expired, evicted).

mod common;
use common::{run_once as run, Raw, Server};
use std::time::Duration;

fn subscriber(s: &Server, pattern: &[u8]) -> Raw {
    let mut sub = s.raw();
    sub.cmd(&[b"PSUBSCRIBE", pattern]);
    assert!(sub.reply().starts_with("[psubscribe"));
    sub
}

#[test]
fn off_by_default_and_configurable() {
    let s = Server::start(&[]);
    assert_eq!(
        run(&s, &["CONFIG", "GET", "notify-keyspace-events"]),
        "[notify-keyspace-events,]"
    );
    assert_eq!(
        run(&s, &["CONFIG", "SET", "notify-keyspace-events", "KEA"]),
        "+OK"
    );
    assert_eq!(
        run(&s, &["CONFIG", "GET", "notify-keyspace-events"]),
        "[notify-keyspace-events,AKE]"
    );
    assert!(run(&s, &["CONFIG", "SET", "notify-keyspace-events", "Q"]).starts_with("-ERR"));
}

#[test]
fn generic_events_on_both_channels() {
    let s = Server::start(&["--notify-keyspace-events", "KEg"]);
    let mut ev = subscriber(&s, b"__keyevent@0__:*");
    let mut ks = subscriber(&s, b"__keyspace@0__:*");
    run(&s, &["RPUSH", "a", "1"]); // list class not enabled: no event
    run(&s, &["DEL", "a"]);
    assert_eq!(
        ev.reply(),
        "[pmessage,__keyevent@0__:*,__keyevent@0__:del,a]"
    );
    assert_eq!(
        ks.reply(),
        "[pmessage,__keyspace@0__:*,__keyspace@0__:a,del]"
    );
    run(&s, &["RPUSH", "b", "1"]);
    run(&s, &["RENAME", "b", "c"]);
    assert_eq!(
        ev.reply(),
        "[pmessage,__keyevent@0__:*,__keyevent@0__:rename_from,b]"
    );
    assert_eq!(
        ev.reply(),
        "[pmessage,__keyevent@0__:*,__keyevent@0__:rename_to,c]"
    );
    run(&s, &["EXPIRE", "c", "100"]);
    assert_eq!(
        ev.reply(),
        "[pmessage,__keyevent@0__:*,__keyevent@0__:expire,c]"
    );
    run(&s, &["PERSIST", "c"]);
    assert_eq!(
        ev.reply(),
        "[pmessage,__keyevent@0__:*,__keyevent@0__:persist,c]"
    );
}

#[test]
fn expired_events_come_from_the_active_cycle() {
    let s = Server::start(&["--notify-keyspace-events", "Ex"]);
    let mut ev = subscriber(&s, b"__keyevent@0__:expired");
    run(&s, &["RPUSH", "short", "v"]);
    run(&s, &["PEXPIRE", "short", "50"]);
    std::thread::sleep(Duration::from_millis(50));
    // Nobody reads the key: the active expiry cycle deletes it and publishes.
    ev.stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    assert_eq!(
        ev.reply(),
        "[pmessage,__keyevent@0__:expired,__keyevent@0__:expired,short]"
    );
}

#[test]
fn evicted_events() {
    let s = Server::start(&[
        "--notify-keyspace-events",
        "Ee",
        "--maxmemory-policy",
        "allkeys-random",
    ]);
    let mut ev = subscriber(&s, b"__keyevent@0__:evicted");
    let mut c = s.conn();
    let info: String = redis::cmd("INFO").arg("memory").query(&mut c).unwrap();
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(used + 512 * 1024)
        .query(&mut c)
        .unwrap();
    let value = "x".repeat(1000);
    for i in 0..2000 {
        let _: () = redis::cmd("RPUSH")
            .arg(format!("k{i}"))
            .arg(&value)
            .query(&mut c)
            .unwrap();
    }
    let msg = ev.reply();
    assert!(
        msg.starts_with("[pmessage,__keyevent@0__:evicted,__keyevent@0__:evicted,k"),
        "{msg}"
    );
}
