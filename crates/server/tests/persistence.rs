//! Snapshot persistence against a real server: SAVE writes every type and TTL, a restart on the
//! same data directory loads them, SHUTDOWN SAVE saves, expired keys are not resurrected, a damaged
//! snapshot stops start-up with a clear message, and `ringkv check-snapshot` diagnoses files.

mod common;
use common::{binary, persistence_field, run_once as run, Server};
use std::process::Command;
use std::time::Duration;

fn info_line(s: &Server, field: &str) -> String {
    persistence_field(&mut s.conn(), field)
}

#[test]
fn save_then_restart_keeps_every_type_and_ttl() {
    let s = Server::start(&[]);
    assert_eq!(run(&s, &["SET", "str", "value"]), "+OK");
    assert_eq!(run(&s, &["SET", "ttl", "v", "EX", "1000"]), "+OK");
    assert_eq!(run(&s, &["HSET", "h", "f1", "a", "f2", "b"]), ":2");
    assert_eq!(run(&s, &["RPUSH", "l", "x", "y", "z"]), ":3");
    assert_eq!(run(&s, &["SADD", "s", "m1", "m2"]), ":2");
    assert_eq!(run(&s, &["ZADD", "z", "1.5", "a", "2", "b"]), ":2");
    let mut r = s.raw();
    r.cmd(&[b"SELECT", b"3"]);
    r.reply();
    r.cmd(&[b"SET", b"in-db3", b"yes"]);
    assert_eq!(r.reply(), "+OK");
    assert!(
        info_line(&s, "rdb_changes_since_last_save")
            .parse::<u64>()
            .unwrap()
            > 0
    );
    let before: i64 = run(&s, &["LASTSAVE"])
        .trim_start_matches(':')
        .parse()
        .unwrap();
    assert_eq!(run(&s, &["SAVE"]), "+OK");
    assert_eq!(info_line(&s, "rdb_changes_since_last_save"), "0");
    assert_eq!(info_line(&s, "rdb_saves"), "1");
    assert_eq!(info_line(&s, "rdb_last_bgsave_status"), "ok");
    let after: i64 = run(&s, &["LASTSAVE"])
        .trim_start_matches(':')
        .parse()
        .unwrap();
    assert!(after >= before);
    assert!(s.dir.path().join("dump.snap").exists());

    let s = s.restart(&[]);
    assert_eq!(run(&s, &["GET", "str"]), "value");
    let ttl: i64 = run(&s, &["TTL", "ttl"])
        .trim_start_matches(':')
        .parse()
        .unwrap();
    assert!(ttl > 990 && ttl <= 1000, "ttl {ttl}");
    assert_eq!(run(&s, &["HGETALL", "h"]), "[f1,a,f2,b]");
    assert_eq!(run(&s, &["LRANGE", "l", "0", "-1"]), "[x,y,z]");
    assert_eq!(run(&s, &["SCARD", "s"]), ":2");
    assert_eq!(
        run(&s, &["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        "[a,1.5,b,2]"
    );
    let mut r = s.raw();
    r.cmd(&[b"SELECT", b"3"]);
    r.reply();
    r.cmd(&[b"GET", b"in-db3"]);
    assert_eq!(r.reply(), "yes");
    assert_eq!(info_line(&s, "rdb_keys_loaded_at_start"), "7");
}

#[test]
fn shutdown_save_persists_and_plain_restart_without_save_does_not() {
    let mut s = Server::start(&[]);
    run(&s, &["SET", "kept", "1"]);
    let mut r = s.raw();
    r.cmd(&[b"SHUTDOWN", b"SAVE"]);
    assert!(r.closed());
    assert!(s.wait_exit(Duration::from_secs(10)).is_some());
    let s = s.restart(&[]);
    assert_eq!(run(&s, &["GET", "kept"]), "1");
    // Without SAVE (and with no save rules) a write after the last save is not on disk.
    run(&s, &["SET", "unsaved", "1"]);
    let s = s.restart(&[]);
    assert_eq!(run(&s, &["EXISTS", "unsaved"]), ":0");
    assert_eq!(run(&s, &["GET", "kept"]), "1");
}

#[test]
fn keys_expired_while_down_are_not_loaded() {
    let s = Server::start(&[]);
    run(&s, &["SET", "short", "v", "PX", "300"]);
    run(&s, &["SET", "long", "v"]);
    assert_eq!(run(&s, &["SAVE"]), "+OK");
    std::thread::sleep(Duration::from_millis(400));
    let s = s.restart(&[]);
    assert_eq!(run(&s, &["EXISTS", "short"]), ":0");
    assert_eq!(run(&s, &["EXISTS", "long"]), ":1");
}

#[test]
fn dbfilename_is_configurable_and_validated() {
    let s = Server::start(&["--dbfilename", "other.snap"]);
    run(&s, &["SET", "k", "v"]);
    assert_eq!(run(&s, &["SAVE"]), "+OK");
    assert!(s.dir.path().join("other.snap").exists());
    assert!(run(&s, &["CONFIG", "SET", "dbfilename", "a/b"]).starts_with("-ERR"));
}

#[test]
fn damaged_snapshot_stops_startup_and_check_snapshot_explains() {
    let s = Server::start(&[]);
    for i in 0..100 {
        run(&s, &["SET", &format!("k{i}"), "some value"]);
    }
    assert_eq!(run(&s, &["SAVE"]), "+OK");
    let path = s.dir.path().join("dump.snap");
    let ok = Command::new(binary())
        .args(["check-snapshot", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stdout)
    );

    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();
    let bad = Command::new(binary())
        .args(["check-snapshot", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!bad.status.success());

    // A server started on the damaged file refuses to run and says why (the first one is
    // stopped: two servers never share a data directory).
    let mut s = s;
    let _ = s.child.kill();
    let _ = s.child.wait();
    let dir = s.dir.path().to_path_buf();
    let out = Command::new(binary())
        .args([
            "--port",
            "0",
            "--dir",
            dir.to_str().unwrap(),
            "--loglevel",
            "warning",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dump.snap"), "{err}");
}

#[test]
fn check_aof_reports_and_fixes_a_torn_tail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("appendonly.aof");
    let good = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
    let mut torn = good.to_vec();
    torn.extend_from_slice(b"*3\r\n$3\r\nSET\r\n$1\r\nx"); // crash mid-write
    std::fs::write(&path, &torn).unwrap();

    let check = Command::new(binary())
        .args(["check-aof", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(!check.status.success(), "a torn tail is reported");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        torn,
        "checking alone changes nothing"
    );

    let fix = Command::new(binary())
        .args(["check-aof", "--fix", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        fix.status.success(),
        "{}",
        String::from_utf8_lossy(&fix.stdout)
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        good.to_vec(),
        "truncated to the valid prefix"
    );

    let again = Command::new(binary())
        .args(["check-aof", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(again.status.success());
}
