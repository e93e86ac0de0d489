//! The append-only file and background saves against the real server, with real crashes
//! (SIGKILL): replay reproduces every type and TTL (and never extends a TTL), non-deterministic
//! and time-dependent commands replay to the same data, `appendfsync always` loses no
//! acknowledged write, every run leaves a prefix of what was written, rewrites and background
//! saves are point-in-time while writers keep going, a torn tail is repaired at start-up, and the
//! files a rewrite supersedes are deleted a step at a time.

mod common;
use common::{persistence_field as info_field, populate, run, wait_until, Server};
use redis::Commands;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Equality with a readable difference (the first few keys that differ).
fn assert_same(
    got: &BTreeMap<(u32, String), String>,
    want: &BTreeMap<(u32, String), String>,
    what: &str,
) {
    if got != want {
        let diff: Vec<String> = want
            .iter()
            .filter(|(k, v)| got.get(*k) != Some(*v))
            .map(|(k, v)| format!("{k:?}: want {v}, got {:?}", got.get(k)))
            .chain(
                got.keys()
                    .filter(|k| !want.contains_key(*k))
                    .map(|k| format!("{k:?}: unexpected")),
            )
            .take(10)
            .collect();
        panic!("{what}: {} vs {} keys; {diff:#?}", got.len(), want.len());
    }
}

/// AOF on, no snapshots, and rewrites only when a test asks for one.
const AOF_REWRITES_BY_HAND: &[&str] = &[
    "--appendonly",
    "yes",
    "--save",
    "",
    "--auto-aof-rewrite-percentage",
    "0",
];

fn wait_jobs_done(c: &mut redis::Connection) {
    wait_until("background jobs", Duration::from_secs(60), || {
        info_field(c, "aof_rewrite_in_progress") == "0"
            && info_field(c, "rdb_bgsave_in_progress") == "0"
    });
}

/// Waits until the AOF writer has written everything acknowledged so far (under `everysec` a
/// reply comes before the write; a crash right after it may lose that write, by design).
fn wait_log_written(c: &mut redis::Connection) {
    wait_until("log written", Duration::from_secs(10), || {
        info_field(c, "aof_buffer_length") == "0"
    });
}

/// Everything in every database, canonically: key -> (type, value, has TTL). Pipelined, so
/// hundreds of thousands of keys take a moment, not minutes.
fn dump_all(c: &mut redis::Connection) -> BTreeMap<(u32, String), String> {
    let mut out = BTreeMap::new();
    for db in 0..4u32 {
        let _: () = redis::cmd("SELECT").arg(db).query(c).unwrap();
        let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(c).unwrap();
        for chunk in keys.chunks(5_000) {
            let mut p = redis::pipe();
            for k in chunk {
                p.cmd("TYPE").arg(k).cmd("PTTL").arg(k);
            }
            let meta: Vec<redis::Value> = p.query(c).unwrap();
            let mut p = redis::pipe();
            let mut types = Vec::new();
            for (i, k) in chunk.iter().enumerate() {
                let t: String = redis::from_redis_value(meta[2 * i].clone()).unwrap();
                match t.as_str() {
                    "string" => p.cmd("GET").arg(k),
                    "list" => p.cmd("LRANGE").arg(k).arg(0).arg(-1),
                    "set" => p.cmd("SMEMBERS").arg(k),
                    "zset" => p.cmd("ZRANGE").arg(k).arg(0).arg(-1).arg("WITHSCORES"),
                    "hash" => p.cmd("HGETALL").arg(k),
                    other => panic!("unexpected type {other}"),
                };
                types.push(t);
            }
            let values: Vec<redis::Value> = p.query(c).unwrap();
            for (i, k) in chunk.iter().enumerate() {
                let pttl: i64 = redis::from_redis_value(meta[2 * i + 1].clone()).unwrap();
                let v = match types[i].as_str() {
                    "set" | "hash" => {
                        // Unordered: compare sorted (hash as sorted field/value pairs).
                        let items: Vec<Vec<u8>> =
                            redis::from_redis_value(values[i].clone()).unwrap();
                        let mut items: Vec<Vec<Vec<u8>>> = if types[i] == "hash" {
                            items.chunks(2).map(|c| c.to_vec()).collect()
                        } else {
                            items.into_iter().map(|m| vec![m]).collect()
                        };
                        items.sort();
                        format!("{items:?}")
                    }
                    _ => format!("{:?}", values[i]),
                };
                out.insert(
                    (db, k.clone()),
                    format!("{} {v} ttl={}", types[i], pttl > 0),
                );
            }
        }
    }
    let _: () = redis::cmd("SELECT").arg(0).query(c).unwrap();
    out
}

/// One check of the rate limiter the replay test uses.
const RL_CHECK: &[&str] = &[
    "RL.LIMIT",
    "limited",
    "TOKEN_BUCKET",
    "LIMIT",
    "5",
    "WINDOW",
    "60000",
];

/// What that limiter has left (a PEEK, which changes nothing).
fn limiter_remaining(c: &mut redis::Connection) -> redis::Value {
    let r: Vec<redis::Value> = redis::cmd(RL_CHECK[0])
        .arg(&RL_CHECK[1..])
        .arg("PEEK")
        .query(c)
        .unwrap();
    r[2].clone()
}

#[test]
fn replay_after_sigkill_reproduces_every_type_and_never_extends_ttls() {
    let s = Server::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = s.conn();
    let q = |c: &mut redis::Connection, args: &[&str]| -> redis::Value {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(c).unwrap()
    };
    for args in [
        &["SET", "s", "v"][..],
        &["APPEND", "s", "-more"],
        &["INCR", "n"],
        &["INCRBYFLOAT", "f", "1.1"],
        &["INCRBYFLOAT", "f", "2.0000000001"],
        &["SET", "ttl", "v", "EX", "100"],
        &["PEXPIRE", "s", "50000"],
        &["SETEX", "short", "1", "gone soon"],
        &["RPUSH", "l", "a", "b", "c", "d"],
        &["LPOP", "l"],
        &["SADD", "set", "1", "2", "3", "4", "5", "6", "7", "8"],
        &["SPOP", "set"],
        &["SPOP", "set", "3"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZINCRBY", "z", "5", "a"],
        &["ZPOPMIN", "z"],
        &["HSET", "h", "f1", "v1", "f2", "1.5"],
        &["HINCRBYFLOAT", "h", "f2", "0.25"],
        &["SELECT", "2"],
        &["SET", "in-db2", "x"],
        &["SELECT", "0"],
        &["MOVE", "n", "3"],
        RL_CHECK,
        RL_CHECK,
        &["CL.THROTTLE", "cell", "10", "5", "60"],
        &["SET", "gone", "x"],
        &["DEL", "gone"],
        &["SET", "bit", ""],
        &["SETBIT", "bit", "7", "1"],
    ] {
        q(&mut c, args);
    }
    // A transaction and a served blocking pop.
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .incr("tx", 1)
        .incr("tx", 10)
        .query(&mut c)
        .unwrap();
    assert_eq!((a, b), (1, 11));
    let url = s.url();
    let waiter = std::thread::spawn(move || {
        let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
        let r: Option<(String, String)> =
            redis::cmd("BLPOP").arg("bl").arg(5).query(&mut c).unwrap();
        r
    });
    wait_until("blocked client", Duration::from_secs(5), || {
        let clients: String = redis::cmd("CLIENT").arg("LIST").query(&mut c).unwrap();
        clients.contains("cmd=blpop")
    });
    let _: () = c.rpush("bl", &["first", "second"]).unwrap();
    assert_eq!(
        waiter.join().unwrap(),
        Some(("bl".to_string(), "first".to_string()))
    );
    // Wait for the short key to expire (its deletion is logged too).
    std::thread::sleep(Duration::from_millis(1100));
    let _: Option<String> = c.get("short").unwrap();

    let remaining_before = limiter_remaining(&mut c);
    let before = dump_all(&mut c);
    let pttl_before: i64 = c.pttl("ttl").unwrap();
    drop(c);
    let s = s.restart(&["--appendonly", "yes"]);
    let mut c = s.conn();
    assert_same(&dump_all(&mut c), &before, "replay after SIGKILL");
    let pttl_after: i64 = c.pttl("ttl").unwrap();
    assert!(
        pttl_after <= pttl_before,
        "a replay must not extend a TTL: {pttl_before} then {pttl_after}"
    );
    // Rate-limit state came back too.
    assert_eq!(
        limiter_remaining(&mut c),
        remaining_before,
        "limiter state survives the crash"
    );
}

/// One writer appends 0, 1, 2 ... to a list and records each acknowledged index; the server is
/// killed with SIGKILL meanwhile (optionally during a rewrite or a background save). After the
/// restart the list must be exactly 0..n (a prefix, in order, no garbage), and with
/// `appendfsync always` n covers every acknowledged write.
fn crash_round(fsync: &str, during: Option<&str>) -> (u64, u64) {
    let args = ["--appendonly", "yes", "--appendfsync", fsync, "--save", ""];
    let s = Server::start(&args);
    let mut c = s.conn();
    if during.is_some() {
        // Enough data for a rewrite/save to take a while.
        populate(&mut c, 300_000);
    }
    let acked = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, url) = (acked.clone(), stop.clone(), s.url());
        std::thread::spawn(move || {
            let mut c = redis::Client::open(url).unwrap().get_connection().unwrap();
            for i in 1..=5_000_000u64 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                let r: redis::RedisResult<i64> = c.rpush("log", i);
                match r {
                    Ok(len) => {
                        assert_eq!(len as u64, i, "list length after push {i}");
                        acked.store(i, Ordering::SeqCst);
                    }
                    Err(_) => break, // the server died
                }
            }
        })
    };
    // The kill lands at a different moment every run.
    let jitter = |max_ms: u64| {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() as u64);
        Duration::from_millis(nanos % max_ms)
    };
    std::thread::sleep(Duration::from_millis(150) + jitter(300));
    if let Some(cmd) = during {
        let _: redis::Value = redis::cmd(cmd).query(&mut c).unwrap();
        std::thread::sleep(Duration::from_millis(5) + jitter(150));
    } else {
        std::thread::sleep(Duration::from_millis(50) + jitter(300));
    }
    // SIGKILL: Server::restart kills the process without warning.
    let s = s.restart(&args);
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let acked = acked.load(Ordering::SeqCst);
    let mut c = s.conn();
    let list: Vec<u64> = c.lrange("log", 0, -1).unwrap();
    let n = list.len() as u64;
    assert!(
        list.iter().enumerate().all(|(i, v)| *v == i as u64 + 1),
        "the list must be 1..=n in order (a prefix of what was written)"
    );
    (acked, n)
}

#[test]
fn appendfsync_always_loses_no_acknowledged_write_under_sigkill() {
    for during in [None, Some("BGREWRITEAOF"), Some("BGSAVE")] {
        let (acked, n) = crash_round("always", during);
        assert!(acked > 0, "the writer made progress");
        assert!(
            n >= acked,
            "during {during:?}: {acked} writes acknowledged but only {n} recovered"
        );
        assert!(n <= acked + 1, "at most the one write in flight extra");
    }
}

#[test]
fn appendfsync_everysec_recovers_a_prefix_under_sigkill() {
    let (acked, n) = crash_round("everysec", Some("BGREWRITEAOF"));
    // SIGKILL keeps what reached the kernel, so the loss is what the writer thread had not yet
    // written: far less than two seconds of writes.
    assert!(n <= acked + 1);
    assert!(
        acked - n.min(acked) < 20_000,
        "lost {} of {acked}",
        acked - n
    );
}

#[test]
fn rewrite_and_bgsave_are_point_in_time_while_writers_change_everything() {
    let s = Server::start(&["--appendonly", "yes", "--save", ""]);
    let mut c = s.conn();
    let _: () = redis::cmd("DEBUG")
        .arg("POPULATE")
        .arg(200_000)
        .arg("k")
        .query(&mut c)
        .unwrap();
    // BGSAVE captures now; then every key is overwritten, some deleted, new ones added.
    let started: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert_eq!(started, "Background saving started");
    let busy: redis::RedisResult<String> = redis::cmd("BGSAVE").query(&mut c);
    assert!(busy.is_err(), "a second BGSAVE is refused while one runs");
    let mut p = redis::pipe();
    for i in (0..200_000).step_by(7) {
        p.set(format!("k:{i}"), "changed").ignore();
        p.del(format!("k:{}", i + 1)).ignore();
        p.set(format!("new:{i}"), "x").ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    wait_jobs_done(&mut c);
    assert_eq!(info_field(&mut c, "rdb_last_bgsave_status"), "ok");
    let live = dump_all(&mut c);
    wait_log_written(&mut c);

    // The AOF (base + log) has the live data; the snapshot has the data at BGSAVE time.
    let mut s = s.restart(&["--appendonly", "yes"]);
    let mut c = s.conn();
    assert_same(&dump_all(&mut c), &live, "AOF replay equals the live data");
    drop(c);
    let data = std::mem::replace(&mut s.dir, tempfile::tempdir().unwrap());
    drop(s);
    let dir = data.path();
    // Only the snapshot: start without AOF on a copy holding dump.snap alone.
    let snap_dir = tempfile::tempdir().unwrap();
    std::fs::copy(dir.join("dump.snap"), snap_dir.path().join("dump.snap")).unwrap();
    let s = Server::start_in(snap_dir, &["--save", ""], None);
    let mut c = s.conn();
    let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(
        n, 200_000,
        "the snapshot has exactly the keys at BGSAVE time"
    );
    let changed: Option<String> = c.get("k:7").unwrap();
    assert_eq!(changed.as_deref(), Some("value:7"));
    let deleted: Option<String> = c.get("k:8").unwrap();
    assert_eq!(deleted.as_deref(), Some("value:8"));
    let added: Option<String> = c.get("new:7").unwrap();
    assert_eq!(added, None);
}

#[test]
fn rewrite_during_writes_keeps_everything_and_shrinks_the_log() {
    let s = Server::start(AOF_REWRITES_BY_HAND);
    let mut c = s.conn();
    for round in 0..20 {
        let mut p = redis::pipe();
        for i in 0..2_000 {
            p.incr(format!("counter:{i}"), round).ignore();
        }
        let _: () = p.query(&mut c).unwrap();
    }
    wait_log_written(&mut c);
    let size_before: u64 = info_field(&mut c, "aof_current_size").parse().unwrap();
    let r: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
    assert_eq!(r, "Background append only file rewriting started");
    // Keep writing while it runs.
    for i in 0..2_000 {
        let _: i64 = c.incr(format!("counter:{i}"), 1000).unwrap();
    }
    wait_jobs_done(&mut c);
    assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
    wait_log_written(&mut c);
    let size_after: u64 = info_field(&mut c, "aof_current_size").parse().unwrap();
    assert!(
        size_after < size_before,
        "a rewrite compacts 40k INCRs into 2k keys: {size_before} -> {size_after}"
    );
    let live = dump_all(&mut c);
    wait_log_written(&mut c);
    let s = s.restart(&["--appendonly", "yes"]);
    let mut c = s.conn();
    assert_same(&dump_all(&mut c), &live, "replay after a rewrite");
    let v: i64 = c.get("counter:5").unwrap();
    assert_eq!(v, (0..20).sum::<i64>() + 1000);
}

#[test]
fn automatic_rewrite_starts_when_the_log_doubles() {
    let s = Server::start(&[
        "--appendonly",
        "yes",
        "--auto-aof-rewrite-min-size",
        "256kb",
        "--auto-aof-rewrite-percentage",
        "100",
    ]);
    let mut c = s.conn();
    let mut p = redis::pipe();
    for i in 0..20_000 {
        p.set("same-key", i).ignore();
    }
    let _: () = p.query(&mut c).unwrap();
    wait_until("automatic rewrite", Duration::from_secs(20), || {
        info_field(&mut c, "aof_rewrites") != "0"
    });
    wait_jobs_done(&mut c);
    let v: i64 = c.get("same-key").unwrap();
    assert_eq!(v, 19_999);
}

#[test]
fn appendonly_turned_on_at_run_time_keeps_existing_data() {
    let s = Server::start(&["--save", ""]);
    let mut c = s.conn();
    let _: () = c.set("before", "1").unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "appendonly", "yes"])
        .query(&mut c)
        .unwrap();
    wait_jobs_done(&mut c);
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    let _: () = c.set("after", "2").unwrap();
    wait_log_written(&mut c);
    let s = s.restart(&["--appendonly", "yes"]);
    let mut c = s.conn();
    let (a, b): (String, String) = (c.get("before").unwrap(), c.get("after").unwrap());
    assert_eq!((a.as_str(), b.as_str()), ("1", "2"));
}

#[test]
fn torn_tail_is_repaired_and_corruption_stops_startup_with_the_offset() {
    let s = Server::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut c = s.conn();
    for i in 0..10 {
        let _: () = c.set(format!("key{i}"), i).unwrap();
    }
    drop(c);
    let mut s = s.restart(&["--appendonly", "yes"]); // SIGKILL + restart: nothing lost
    drop(s.conn());
    // Keep the data directory; stop the server.
    let data = std::mem::replace(&mut s.dir, tempfile::tempdir().unwrap());
    drop(s);
    let tmp = data.path().to_path_buf();
    let aof_dir = tmp.join("appendonlydir");
    let incr = std::fs::read_dir(&aof_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".incr.aof"))
        .unwrap();
    // The killed `always` server left zeros written ahead of the log (preallocated space);
    // the server after it appended over them. The offline check calls that valid.
    let mut bytes = std::fs::read(&incr).unwrap();
    let data_len = ringkv_persist::log_len_of(&incr).unwrap();
    assert!(
        (bytes.len() as u64) > data_len,
        "{} bytes, {data_len} of data",
        bytes.len()
    );
    let check = std::process::Command::new(common::binary())
        .arg("check-aof")
        .arg(&aof_dir)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{report}");
    assert!(report.contains("preallocated space"), "{report}");
    bytes.truncate(data_len as usize);

    // A torn last command (a crash mid-write): the partial command is dropped, the rest loads.
    let cut = bytes.len() - 5;
    std::fs::write(
        tmp.join("appendonlydir").join(incr.file_name().unwrap()),
        &bytes[..cut],
    )
    .unwrap();
    // The offline checker sees the torn tail in the directory (by directory or manifest).
    let check = std::process::Command::new(common::binary())
        .arg("check-aof")
        .arg(tmp.join("appendonlydir"))
        .output()
        .unwrap();
    assert!(!check.status.success(), "a torn tail is reported");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(report.contains(".incr.aof"), "{report}");
    let keep = tempfile::TempDir::new().unwrap();
    copy_dir(&tmp, keep.path());
    let s = Server::start_in(keep, &["--appendonly", "yes"], None);
    let mut c = s.conn();
    let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(
        n, 9,
        "the torn SET key9 is dropped, the nine before it load"
    );
    drop(c);
    drop(s);

    // Corruption in the middle: start-up stops and names the file and offset.
    // Break the framing of the third command (its leading '*'), not just a payload byte.
    let mut bad = bytes.clone();
    let third = bad
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == b"*3\r\n")
        .map(|(i, _)| i)
        .nth(2)
        .unwrap();
    bad[third] = b'!';
    std::fs::write(
        tmp.join("appendonlydir").join(incr.file_name().unwrap()),
        &bad,
    )
    .unwrap();
    let mut child = std::process::Command::new(common::binary())
        .args(["--port", "0", "--dir"])
        .arg(&tmp)
        .args(["--appendonly", "yes"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if start.elapsed() > Duration::from_secs(20) {
            let _ = child.kill();
            panic!("a server with a corrupt AOF kept running");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(!status.success(), "start-up must fail on a corrupt AOF");
    let out = child.wait_with_output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&format!("offset {third}")),
        "names the offset {third}: {text}"
    );
    assert!(text.contains(".incr.aof"), "names the file: {text}");
}

fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

#[test]
fn background_job_errors_and_scheduling_follow_redis() {
    let s = Server::start(&["--appendonly", "yes", "--save", ""]);
    let mut c = s.conn();
    populate(&mut c, 300_000);
    // One write is one batch, run under one keyspace lock: the rewrite claimed by the first
    // command is still running for the next three, so the answers are deterministic.
    let mut raw = s.raw();
    raw.pipeline(&[
        &[b"BGREWRITEAOF"],
        &[b"BGREWRITEAOF"],
        &[b"BGSAVE"],
        &[b"BGSAVE", b"SCHEDULE"],
    ]);
    assert_eq!(raw.line(), "+Background append only file rewriting started");
    let again = raw.line();
    assert!(again.contains("already in progress"), "{again}");
    let bg = raw.line();
    assert!(
        bg.starts_with('-') && bg.contains("BGSAVE SCHEDULE"),
        "{bg}"
    );
    assert_eq!(raw.line(), "+Background saving scheduled");
    wait_jobs_done(&mut c);
    // The scheduled save runs once the rewrite is over.
    wait_until("scheduled save", Duration::from_secs(20), || {
        info_field(&mut c, "rdb_saves") == "1"
    });
    let lastsave: i64 = redis::cmd("LASTSAVE").query(&mut c).unwrap();
    assert!(lastsave > 0);
}

#[test]
fn loading_is_visible_in_info_and_other_commands_wait_for_it() {
    let s = Server::start(&["--save", ""]);
    let mut c = s.conn();
    populate(&mut c, 1_500_000);
    let _: () = redis::cmd("SAVE").query(&mut c).unwrap();
    let mut s = s;
    let data = std::mem::replace(&mut s.dir, tempfile::tempdir().unwrap());
    drop(c);
    drop(s);
    let s = Server::start_loading(data, &["--save", ""]);
    let mut r = s.raw();
    let mut saw_loading = false;
    let mut saw_progress = false;
    let start = Instant::now();
    loop {
        r.cmd(&[b"GET", b"key:1"]);
        let reply = r.reply();
        if !reply.starts_with("-LOADING") {
            assert!(reply.contains("value:1"), "after loading: {reply}");
            break;
        }
        saw_loading = true;
        r.cmd(&[b"INFO", b"persistence"]);
        let info = r.reply();
        if info.contains("loading:1") && info.contains("loading_loaded_perc:") {
            saw_progress = true;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "loading never ended"
        );
    }
    assert!(
        saw_loading,
        "a 1.5M-key snapshot takes long enough to see -LOADING"
    );
    assert!(saw_progress, "INFO reported loading:1 with its progress");
    let mut c = s.conn();
    let n: u64 = redis::cmd("DBSIZE").query(&mut c).unwrap();
    assert_eq!(n, 1_500_000);
    assert_eq!(info_field(&mut c, "loading"), "0");
}

#[test]
fn save_rules_trigger_background_saves() {
    let s = Server::start(&["--save", "1 3"]);
    let mut c = s.conn();
    for i in 0..3 {
        let _: () = c.set(format!("k{i}"), i).unwrap();
    }
    wait_until("a save by the rule", Duration::from_secs(10), || {
        info_field(&mut c, "rdb_saves") != "0"
    });
    assert_eq!(info_field(&mut c, "rdb_changes_since_last_save"), "0");
    assert!(s.dir.path().join("dump.snap").exists());
}

/// Size of `path`, or None once it is gone.
fn file_len(path: &std::path::Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

/// The base file the manifest lists (`type b`), and the lines listing history files (`type h`).
fn manifest_base_and_history(dir: &std::path::Path) -> (String, Vec<String>) {
    let text = std::fs::read_to_string(dir.join("appendonlydir/appendonly.aof.manifest")).unwrap();
    let name = |line: &str| line.split_whitespace().nth(1).unwrap_or("").to_string();
    let base = text
        .lines()
        .find(|l| l.ends_with("type b"))
        .map(name)
        .expect("the manifest lists a base");
    let history = text
        .lines()
        .filter(|l| l.ends_with("type h"))
        .map(name)
        .collect();
    (base, history)
}

/// The files a rewrite supersedes are deleted a step at a time (8 MB, then a pause), not at
/// once, and only then dropped from the manifest; the data is whole before, during and after.
#[test]
fn superseded_aof_files_are_deleted_in_steps_then_forgotten() {
    const STEP: u64 = 8 << 20;
    let s = Server::start(AOF_REWRITES_BY_HAND);
    let mut c = s.conn();
    // About 30 MB of values in few keys, so a debug build writes the base quickly.
    let _: () = redis::cmd("DEBUG")
        .arg("POPULATE")
        .arg(3_000)
        .arg("big")
        .arg(10_000)
        .query(&mut c)
        .unwrap();
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
    wait_jobs_done(&mut c);
    let dir = s.dir.path().to_path_buf();
    let (old_base, _) = manifest_base_and_history(&dir);
    let old_path = dir.join("appendonlydir").join(&old_base);
    let full = file_len(&old_path).expect("the first rewrite's base exists");
    assert!(full > 3 * STEP, "the base holds the 30 MB: {full} bytes");
    wait_until(
        "old files of the first rewrite gone",
        Duration::from_secs(20),
        || manifest_base_and_history(&dir).1.is_empty(),
    );

    // The second rewrite supersedes that base; watch it shrink.
    let _: String = redis::cmd("BGREWRITEAOF").query(&mut c).unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut sizes = vec![full];
    let mut listed_while_shrinking = false;
    while let Some(len) = file_len(&old_path) {
        assert!(Instant::now() < deadline, "the old base is never deleted");
        if len != *sizes.last().unwrap_or(&0) {
            sizes.push(len);
            if len < full && len > 0 {
                let (_, history) = manifest_base_and_history(&dir);
                listed_while_shrinking |= history.contains(&old_base);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let partial: Vec<u64> = sizes
        .iter()
        .copied()
        .filter(|&l| l > 0 && l < full)
        .collect();
    assert!(
        partial.len() >= 2,
        "seen shrinking a step at a time, not deleted at once: sizes {sizes:?}"
    );
    for l in &partial {
        assert_eq!((full - l) % STEP, 0, "steps of 8 MB: sizes {sizes:?}");
    }
    assert!(
        listed_while_shrinking,
        "the manifest keeps the file as history while it shrinks"
    );
    wait_jobs_done(&mut c);
    wait_until(
        "manifest forgets the old files",
        Duration::from_secs(20),
        || manifest_base_and_history(&dir).1.is_empty(),
    );
    let (new_base, _) = manifest_base_and_history(&dir);
    assert_ne!(new_base, old_base);
    let names: Vec<String> = std::fs::read_dir(dir.join("appendonlydir"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.contains(&old_base), "files left: {names:?}");

    let live = dump_all(&mut c);
    assert_eq!(live.len(), 3_000);
    wait_log_written(&mut c);
    let s = s.restart(&["--appendonly", "yes"]);
    let mut c = s.conn();
    assert_same(
        &dump_all(&mut c),
        &live,
        "restart after the old files are gone",
    );
}

/// WAITAOF (Redis 7.2): errors as Redis's, an answer at once when nothing is to wait for (or
/// inside MULTI), an fsync asked for at once (under `appendfsync no` nothing else would ever
/// fsync, so the test fails without it), and the full timeout when replicas are asked for.
#[test]
fn waitaof_waits_for_this_connections_writes_to_be_fsynced() {
    let s = Server::start(&["--appendonly", "no"]);
    let mut r = s.raw();
    assert_eq!(
        run(&mut r, &["WAITAOF", "2", "0", "0"]),
        "-ERR value is out of range, value must between 0 and 1"
    );
    assert_eq!(
        run(&mut r, &["WAITAOF", "0", "-1", "0"]),
        "-ERR value is out of range, must be positive"
    );
    assert_eq!(
        run(&mut r, &["WAITAOF", "0", "0", "-1"]),
        "-ERR timeout is negative"
    );
    assert_eq!(
        run(&mut r, &["WAITAOF", "0", "0", "x"]),
        "-ERR timeout is not an integer or out of range"
    );
    assert_eq!(
        run(&mut r, &["WAITAOF", "1", "0", "0"]),
        "-ERR WAITAOF cannot be used when numlocal is set but appendonly is disabled."
    );
    assert_eq!(run(&mut r, &["WAITAOF", "0", "0", "0"]), "[:0,:0]");
    drop(r);
    drop(s);

    let s = Server::start(&["--appendonly", "yes", "--appendfsync", "no"]);
    let mut c = s.conn();
    let mut r = s.raw();
    wait_log_written(&mut c);
    let fsyncs =
        |c: &mut redis::Connection| -> u64 { info_field(c, "aof_fsyncs").parse().unwrap() };
    let before = fsyncs(&mut c);
    assert_eq!(run(&mut r, &["SET", "k", "v"]), "+OK");
    // Inside MULTI it answers at once with what is fsynced already: not this write.
    assert_eq!(run(&mut r, &["MULTI"]), "+OK");
    assert_eq!(run(&mut r, &["WAITAOF", "1", "0", "0"]), "+QUEUED");
    assert_eq!(run(&mut r, &["EXEC"]), "[[:0,:0]]");
    assert_eq!(
        fsyncs(&mut c),
        before,
        "appendfsync no: nothing fsyncs by itself"
    );
    let started = Instant::now();
    assert_eq!(run(&mut r, &["WAITAOF", "1", "0", "10000"]), "[:1,:0]");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert!(fsyncs(&mut c) > before);
    // Nothing new to wait for: at once.
    assert_eq!(run(&mut r, &["WAITAOF", "1", "0", "0"]), "[:1,:0]");
    // Replicas never answer: the whole timeout, then the counts.
    let started = Instant::now();
    assert_eq!(run(&mut r, &["WAITAOF", "1", "1", "300"]), "[:1,:0]");
    assert!(started.elapsed() >= Duration::from_millis(300));

    drop(r);
    drop(c);
    drop(s);

    // Under everysec a WAITAOF does not wait for the once-a-second fsync: 20 writes each
    // waited for take far less than the 10-20 s those fsyncs would.
    let s = Server::start(&["--appendonly", "yes", "--appendfsync", "everysec"]);
    let mut r = s.raw();
    let started = Instant::now();
    for i in 0..20 {
        assert_eq!(run(&mut r, &["SET", "k", &i.to_string()]), "+OK");
        assert_eq!(run(&mut r, &["WAITAOF", "1", "0", "0"]), "[:1,:0]");
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(5), "{took:?}");

    // WAIT: no replicas acknowledge anything.
    assert_eq!(run(&mut r, &["WAIT", "0", "0"]), ":0");
    assert_eq!(
        run(&mut r, &["WAIT", "x", "0"]),
        "-ERR value is not an integer or out of range"
    );
    assert_eq!(
        run(&mut r, &["WAIT", "1", "-1"]),
        "-ERR timeout is negative"
    );
    let started = Instant::now();
    assert_eq!(run(&mut r, &["WAIT", "1", "200"]), ":0");
    assert!(started.elapsed() >= Duration::from_millis(200));
}
