//! Disk trouble is never silent: when the AOF or a background save cannot be written (here a
//! file-size limit set on the running server with prlimit(2), which fails writes exactly like a
//! full disk), writes are refused with -MISCONF, INFO reports it, nothing acknowledged is lost,
//! and service resumes by itself once the disk accepts writes again.

mod common;
use common::{persistence_field as info_field, populate, wait_until, Server};
use redis::Commands;
use std::time::Duration;

#[repr(C)]
struct RLimit {
    cur: u64,
    max: u64,
}

extern "C" {
    fn prlimit(pid: i32, resource: i32, new: *const RLimit, old: *mut RLimit) -> i32;
}

const RLIMIT_FSIZE: i32 = 1;
const UNLIMITED: u64 = u64::MAX;

fn set_file_size_limit(pid: u32, bytes: u64) {
    let lim = RLimit {
        cur: bytes,
        max: UNLIMITED,
    };
    // SAFETY: prlimit(2) on our own child, with valid pointers.
    let rc = unsafe { prlimit(pid as i32, RLIMIT_FSIZE, &lim, std::ptr::null_mut()) };
    assert_eq!(rc, 0, "prlimit failed");
}

/// Bytes of data in the AOF directory's files: under `always` the log has zeros written ahead
/// of its end (preallocated space), which a write beyond the file-size limit cannot use either.
fn aof_bytes(s: &Server) -> u64 {
    std::fs::read_dir(s.dir.path().join("appendonlydir"))
        .unwrap()
        .map(|e| ringkv_persist::log_len_of(&e.unwrap().path()).unwrap())
        .sum()
}

/// A connection whose reads give up after `ms`: under `appendfsync always` a write the disk
/// refused is never acknowledged (until the disk recovers), so the client must not wait forever.
fn conn_with_timeout(s: &Server, ms: u64) -> redis::Connection {
    let c = s.conn();
    c.set_read_timeout(Some(Duration::from_millis(ms))).unwrap();
    c
}

#[test]
fn full_disk_refuses_writes_and_recovers_without_loss() {
    for fsync in ["everysec", "always"] {
        let args = ["--appendonly", "yes", "--appendfsync", fsync, "--save", ""];
        let s = Server::start(&args);
        let mut c = s.conn();
        let _: () = c.set("first", "1").unwrap();
        wait_until("first write on disk", Duration::from_secs(20), || {
            aof_bytes(&s) > 0
        });
        set_file_size_limit(s.child.id(), aof_bytes(&s) + 4096);
        let value = "x".repeat(200);
        let mut acked = Vec::new();
        // Writes sent but not acknowledged (always: waiting for the disk).
        let mut waiting = Vec::new();
        let mut refused = None;
        let mut w = conn_with_timeout(&s, 1000);
        for i in 0..2_000 {
            let key = format!("k{i}");
            match w.set::<_, _, ()>(&key, &value) {
                Ok(()) => acked.push(key),
                Err(e) if e.is_timeout() => {
                    waiting.push(key);
                    w = conn_with_timeout(&s, 1000);
                }
                Err(e) => {
                    refused = Some(e);
                    break;
                }
            }
        }
        let e = refused.expect("writes are refused while the disk fails");
        assert!(e.to_string().contains("MISCONF"), "{fsync}: {e}");
        assert_eq!(info_field(&mut c, "aof_last_write_status"), "err");
        if fsync == "always" {
            assert!(
                !waiting.is_empty(),
                "the write that hit the limit is not acknowledged"
            );
        }
        // Reads still work.
        let first: String = c.get("first").unwrap();
        assert_eq!(first, "1");

        // The disk recovers: the queued data is written and writes are accepted again.
        set_file_size_limit(s.child.id(), UNLIMITED);
        wait_until("recovery", Duration::from_secs(20), || {
            info_field(&mut c, "aof_last_write_status") == "ok"
        });
        let _: () = c.set("after", "ok").unwrap();
        acked.push("after".into());
        // everysec acknowledges before the write: let the writer catch up before the crash (the
        // crash tests cover what everysec may lose).
        wait_until("log written", Duration::from_secs(20), || {
            info_field(&mut c, "aof_buffer_length") == "0"
        });

        let s = s.restart(&args);
        let mut c = s.conn();
        for k in acked.iter().chain(&waiting) {
            let exists: bool = c.exists(k).unwrap();
            assert!(exists, "{fsync}: key {k} lost");
        }
    }
}

#[test]
fn failed_background_save_refuses_writes_until_a_save_works() {
    let s = Server::start(&["--save", "3600 1"]);
    let mut c = s.conn();
    populate(&mut c, 50_000);
    set_file_size_limit(s.child.id(), 64 * 1024);
    let r: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(r, "Background saving started");
    wait_until("failed save", Duration::from_secs(20), || {
        info_field(&mut c, "rdb_last_bgsave_status") == "err"
    });
    let e = c.set::<_, _, ()>("k", "v").unwrap_err();
    assert!(e.to_string().contains("MISCONF"), "{e}");
    assert!(
        !s.dir.path().join("dump.snap.tmp").exists(),
        "the partial temp file is removed"
    );
    set_file_size_limit(s.child.id(), UNLIMITED);
    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    wait_until("good save", Duration::from_secs(20), || {
        info_field(&mut c, "rdb_last_bgsave_status") == "ok"
    });
    let _: () = c.set("k", "v").unwrap();
}

/// Under `always` the log keeps zeros written ahead of its end. A disk that refuses more of
/// them is not an error of the log: writes go on into the space already there, acknowledged
/// and durable, and only a write past what the disk accepts is refused.
#[test]
fn a_failed_preallocation_is_not_a_write_error() {
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
        "--aof-preallocate",
        "1mb",
    ];
    let s = Server::start(&args);
    let mut c = s.conn();
    let _: () = c.set("first", "1").unwrap();
    assert_eq!(info_field(&mut c, "aof_preallocations"), "1");
    let space: u64 = info_field(&mut c, "aof_preallocated_bytes")
        .parse()
        .unwrap();
    assert!(space >= 1 << 20, "{space}");
    // The limit lets the log grow by 900 KB: past the point (768 KB) where the writer tops the
    // space up, which the limit refuses, but short of the end of the space it has.
    set_file_size_limit(s.child.id(), aof_bytes(&s) + 900 * 1024);
    let value = "x".repeat(200);
    let mut w = conn_with_timeout(&s, 5000);
    for i in 0..3_500 {
        let r = w.set::<_, _, ()>(format!("k{i}"), &value);
        assert!(r.is_ok(), "write {i}: {r:?}");
    }
    assert_eq!(info_field(&mut c, "aof_last_write_status"), "ok");
    assert_eq!(
        info_field(&mut c, "aof_preallocations"),
        "1",
        "the top-up was refused"
    );
    let left: u64 = info_field(&mut c, "aof_preallocated_bytes")
        .parse()
        .unwrap();
    assert!(left < 256 * 1024, "{left} bytes left");
    set_file_size_limit(s.child.id(), UNLIMITED);

    let s = s.restart(&args);
    let mut c = s.conn();
    let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 3_501, "every acknowledged write is back");
}
