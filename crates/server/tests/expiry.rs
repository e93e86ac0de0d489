//! Expiry against a real server: lazy expiry on access, and the active cycle reclaiming a million
//! short-TTL keys without stalling other clients.

mod common;
use common::Server;
use std::time::{Duration, Instant};

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> i64 {
    common::info_field(c, section, field)
}

#[test]
fn keys_expire_lazily_and_actively() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    let _: () = redis::cmd("SET")
        .arg("a")
        .arg("1")
        .arg("PX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET")
        .arg("b")
        .arg("1")
        .arg("PX")
        .arg(100)
        .query(&mut c)
        .unwrap();
    let _: () = redis::cmd("SET").arg("c").arg("1").query(&mut c).unwrap();
    std::thread::sleep(Duration::from_millis(150));
    // Lazy: reading an expired key never returns it.
    let v: Option<String> = redis::cmd("GET").arg("a").query(&mut c).unwrap();
    assert_eq!(v, None);
    // Active: b disappears without being touched.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        if n == 1 {
            break;
        }
        assert!(Instant::now() < deadline, "active expiry did not reclaim b");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(info_field(&mut c, "stats", "expired_keys"), 2);
}

#[test]
fn a_million_short_ttl_keys_are_reclaimed_without_stalls() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    const KEYS: usize = 1_000_000;
    const BATCH: usize = 10_000;
    for start in (0..KEYS).step_by(BATCH) {
        let mut p = redis::pipe();
        for i in start..start + BATCH {
            p.cmd("SET").arg(i).arg("v").arg("PX").arg(300).ignore();
        }
        let _: () = p.query(&mut c).unwrap();
    }
    // Measure the worst PING latency while the keys expire and are reclaimed.
    let mut worst = Duration::ZERO;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let t = Instant::now();
        let _: String = redis::cmd("PING").query(&mut c).unwrap();
        worst = worst.max(t.elapsed());
        let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
        if n == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{n} keys left after 60 s");
        std::thread::sleep(Duration::from_millis(2));
    }
    println!("worst PING latency during reclaim: {worst:?}");
    assert!(
        worst < Duration::from_millis(100),
        "a client waited {worst:?} while keys expired"
    );
    assert_eq!(info_field(&mut c, "stats", "expired_keys"), KEYS as i64);
}
