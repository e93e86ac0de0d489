//! maxmemory against a real server: memory stays near the limit under every policy, the victims are
//! the ones the policy names (within sampling tolerance), noeviction refuses writes with -OOM.

mod common;
use common::Server;

fn info_field(c: &mut redis::Connection, section: &str, field: &str) -> u64 {
    common::info_field(c, section, field)
}

fn fill(c: &mut redis::Connection, prefix: &str, n: usize, ttl_ms: Option<u64>) {
    let value = "x".repeat(100);
    for start in (0..n).step_by(1000) {
        let mut p = redis::pipe();
        for i in start..(start + 1000).min(n) {
            let cmd = p.cmd("SET").arg(format!("{prefix}{i}")).arg(&value);
            if let Some(ms) = ttl_ms {
                cmd.arg("PX").arg(ms);
            }
            cmd.ignore();
        }
        let _: () = p.query(c).unwrap();
    }
}

fn exists(c: &mut redis::Connection, key: &str) -> bool {
    redis::cmd("EXISTS").arg(key).query::<i64>(c).unwrap() == 1
}

/// Starts a server limited to `maxmemory` above its idle footprint.
fn limited(policy: &str, headroom_mb: u64) -> (Server, u64) {
    let s = Server::start(&["--maxmemory-policy", policy, "--maxmemory-samples", "10"]);
    let mut c = s.conn();
    let base = info_field(&mut c, "memory", "used_memory");
    let limit = base + headroom_mb * 1024 * 1024;
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("maxmemory")
        .arg(limit)
        .query(&mut c)
        .unwrap();
    (s, limit)
}

#[test]
fn noeviction_refuses_writes_with_oom() {
    let (s, _) = limited("noeviction", 2);
    let mut c = s.conn();
    let mut r = s.raw();
    let value = vec![b'x'; 1000];
    let mut refused = false;
    for i in 0..10_000 {
        r.cmd(&[b"SET", format!("k{i}").as_bytes(), &value]);
        let reply = r.reply();
        if reply.starts_with("-OOM") {
            assert_eq!(
                reply,
                "-OOM command not allowed when used memory > 'maxmemory'."
            );
            refused = true;
            break;
        }
        assert_eq!(reply, "+OK");
    }
    assert!(refused, "writes past maxmemory must be refused");
    // Reads and deletes still work.
    assert!(exists(&mut c, "k0"));
    let _: i64 = redis::cmd("DEL").arg("k0").query(&mut c).unwrap();
}

#[test]
fn allkeys_lru_keeps_recently_used_keys_and_memory_near_limit() {
    let (s, limit) = limited("allkeys-lru", 4);
    let mut c = s.conn();
    fill(&mut c, "old", 5_000, None);
    std::thread::sleep(std::time::Duration::from_millis(50));
    // Touch a hot set, then write far more than fits.
    for i in 0..1_000 {
        let _: Option<String> = redis::cmd("GET")
            .arg(format!("old{i}"))
            .query(&mut c)
            .unwrap();
    }
    std::thread::sleep(std::time::Duration::from_millis(50));
    for round in 0..4 {
        fill(&mut c, &format!("new{round}-"), 20_000, None);
        for i in 0..1_000 {
            let _: Option<String> = redis::cmd("GET")
                .arg(format!("old{i}"))
                .query(&mut c)
                .unwrap();
        }
    }
    let used = info_field(&mut c, "memory", "used_memory");
    assert!(used <= limit + limit / 10, "used {used} vs limit {limit}");
    assert!(info_field(&mut c, "stats", "evicted_keys") > 10_000);
    let hot_kept = (0..1_000)
        .filter(|i| exists(&mut c, &format!("old{i}")))
        .count();
    let cold_kept = (1_000..5_000)
        .filter(|i| exists(&mut c, &format!("old{i}")))
        .count();
    assert!(hot_kept > 900, "hot keys kept: {hot_kept}/1000");
    assert!(cold_kept < 400, "cold keys kept: {cold_kept}/4000");
}

#[test]
fn allkeys_lfu_keeps_frequently_used_keys() {
    let (s, _) = limited("allkeys-lfu", 4);
    let mut c = s.conn();
    fill(&mut c, "k", 5_000, None);
    for _ in 0..20 {
        for i in 0..500 {
            let _: Option<String> = redis::cmd("GET")
                .arg(format!("k{i}"))
                .query(&mut c)
                .unwrap();
        }
    }
    fill(&mut c, "filler", 60_000, None);
    let hot_kept = (0..500)
        .filter(|i| exists(&mut c, &format!("k{i}")))
        .count();
    assert!(hot_kept > 400, "frequent keys kept: {hot_kept}/500");
}

#[test]
fn fifo_evicts_in_insertion_order() {
    let (s, _) = limited("allkeys-fifo", 4);
    let mut c = s.conn();
    fill(&mut c, "first", 5_000, None);
    std::thread::sleep(std::time::Duration::from_millis(30));
    // Reading old keys does not save them under FIFO.
    for i in 0..5_000 {
        let _: Option<String> = redis::cmd("GET")
            .arg(format!("first{i}"))
            .query(&mut c)
            .unwrap();
    }
    fill(&mut c, "second", 60_000, None);
    let first_kept = (0..5_000)
        .filter(|i| exists(&mut c, &format!("first{i}")))
        .count();
    assert!(
        first_kept < 500,
        "oldest insertions evicted first: {first_kept} kept"
    );
}

#[test]
fn volatile_policies_spare_persistent_keys() {
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
        "volatile-fifo",
    ] {
        let (s, _) = limited(policy, 4);
        let mut c = s.conn();
        fill(&mut c, "keep", 2_000, None);
        fill(&mut c, "vol", 60_000, Some(3_600_000));
        let kept = (0..2_000)
            .filter(|i| exists(&mut c, &format!("keep{i}")))
            .count();
        assert_eq!(kept, 2_000, "{policy} evicted a key without TTL");
        assert!(
            info_field(&mut c, "stats", "evicted_keys") > 0,
            "{policy} evicted nothing"
        );
    }
}

#[test]
fn volatile_ttl_evicts_soonest_deadlines_first() {
    let (s, _) = limited("volatile-ttl", 4);
    let mut c = s.conn();
    fill(&mut c, "late", 5_000, Some(7_200_000));
    fill(&mut c, "soon", 5_000, Some(3_600_000));
    fill(&mut c, "mid", 60_000, Some(5_000_000));
    let soon_kept = (0..5_000)
        .filter(|i| exists(&mut c, &format!("soon{i}")))
        .count();
    let late_kept = (0..5_000)
        .filter(|i| exists(&mut c, &format!("late{i}")))
        .count();
    assert_eq!(soon_kept, 0, "keys closest to expiry go first");
    assert!(late_kept > 4_500, "keys expiring last survive: {late_kept}");
}

#[test]
fn allkeys_random_evicts_and_respects_limit() {
    let (s, limit) = limited("allkeys-random", 4);
    let mut c = s.conn();
    fill(&mut c, "k", 80_000, None);
    let used = info_field(&mut c, "memory", "used_memory");
    assert!(used <= limit + limit / 10, "used {used} vs limit {limit}");
    let n: i64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert!(n > 10_000 && n < 80_000, "dbsize {n}");
}
