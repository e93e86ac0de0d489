//! Disk trouble is never silent: when the AOF or a background save cannot be written (here a
//! file-size limit set on the running server with prlimit(2), which fails writes exactly like a
//! full disk), writes are refused with -MISCONF, INFO reports it, nothing acknowledged is lost,
//! and service resumes by itself once the disk accepts writes again.

mod common;
use common::Server;
use redis::Commands;
use std::time::{Duration, Instant};

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

fn info_field(c: &mut redis::Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg("persistence").query(c).unwrap();
    info.lines()
        .find_map(|l| {
            l.strip_prefix(&format!("{field}:"))
                .map(|v| v.trim().to_string())
        })
        .unwrap_or_else(|| panic!("{field} not in INFO: {info}"))
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "timed out: {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn aof_bytes(s: &Server) -> u64 {
    std::fs::read_dir(s.dir.path().join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

#[test]
fn full_disk_refuses_writes_and_recovers_without_loss() {
    for fsync in ["everysec", "always"] {
        let args = ["--appendonly", "yes", "--appendfsync", fsync, "--save", ""];
        let s = Server::start(&args);
        let mut c = s.conn();
        let _: () = c.set("first", "1").unwrap();
        wait_until("first write on disk", || aof_bytes(&s) > 0);
        set_file_size_limit(s.child.id(), aof_bytes(&s) + 4096);
        let value = "x".repeat(200);
        let mut acked = Vec::new();
        let mut refused = None;
        let mut stuck = None;
        for i in 0..2_000 {
            let key = format!("k{i}");
            if fsync == "always" {
                // An unacknowledged write waits for the disk; do it on the side.
                let url = s.url();
                let (k, v) = (key.clone(), value.clone());
                let h = std::thread::spawn(move || {
                    let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
                    c.set::<_, _, ()>(k, v)
                });
                std::thread::sleep(Duration::from_millis(5));
                if !h.is_finished() {
                    stuck = Some((key, h));
                    break;
                }
                match h.join().unwrap() {
                    Ok(()) => acked.push(key),
                    Err(e) => {
                        refused = Some(e);
                        break;
                    }
                }
            } else {
                match c.set::<_, _, ()>(&key, &value) {
                    Ok(()) => acked.push(key),
                    Err(e) => {
                        refused = Some(e);
                        break;
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        if refused.is_none() {
            // Writes already accepted before the failure was known; the next one is refused.
            wait_until("MISCONF", || {
                c.set::<_, _, ()>("probe", "v")
                    .err()
                    .map(|e| {
                        refused = Some(e);
                        true
                    })
                    .unwrap_or(false)
            });
        }
        let e = refused.unwrap();
        assert!(e.to_string().contains("MISCONF"), "{fsync}: {e}");
        assert_eq!(info_field(&mut c, "aof_last_write_status"), "err");
        // Reads still work.
        let first: String = c.get("first").unwrap();
        assert_eq!(first, "1");

        // The disk recovers: the queued data is written and writes are accepted again.
        set_file_size_limit(s.child.id(), UNLIMITED);
        wait_until("recovery", || {
            info_field(&mut c, "aof_last_write_status") == "ok"
        });
        if let Some((key, h)) = stuck {
            h.join()
                .unwrap()
                .expect("the waiting write is acknowledged after recovery");
            acked.push(key);
        }
        let _: () = c.set("after", "ok").unwrap();
        acked.push("after".into());

        let s = s.restart(&args);
        let mut c = s.conn();
        for k in &acked {
            let exists: bool = c.exists(k).unwrap();
            assert!(exists, "{fsync}: acknowledged key {k} lost");
        }
    }
}

#[test]
fn failed_background_save_refuses_writes_until_a_save_works() {
    let s = Server::start(&["--save", "3600 1"]);
    let mut c = s.conn();
    let _: () = redis::cmd("DEBUG")
        .arg("POPULATE")
        .arg(50_000)
        .query(&mut c)
        .unwrap();
    set_file_size_limit(s.child.id(), 64 * 1024);
    let r: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(r, "Background saving started");
    wait_until("failed save", || {
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
    wait_until("good save", || {
        info_field(&mut c, "rdb_last_bgsave_status") == "ok"
    });
    let _: () = c.set("k", "v").unwrap();
}
