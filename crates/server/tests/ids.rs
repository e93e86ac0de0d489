//! Unique IDs over a real server: ID.NEXT in every format and shape, uniqueness and per-client
//! monotonicity under concurrency, ID.PARSE, start-up validation, the durable high-water mark
//! across kill -9, the clock-backwards refusal, and the data-directory lock.

mod common;
use common::{refused, run as cmd, spawn_in, split_items as items, stderr_of, wait_ready, Server};

use std::collections::HashSet;
use std::net::TcpStream;
use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn int(reply: &str) -> i64 {
    reply
        .strip_prefix(':')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("not an integer reply: {reply}"))
}

#[test]
fn id_next_shapes_and_order() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let a = int(&cmd(&mut r, &["ID.NEXT"]));
    let b = int(&cmd(&mut r, &["id.next", "FORMAT", "snowflake"]));
    assert!(b > a && a > 0);
    let batch: Vec<i64> = items(&cmd(&mut r, &["ID.NEXT", "5"]))
        .iter()
        .map(|s| int(s))
        .collect();
    assert_eq!(batch.len(), 5);
    assert!(batch[0] > b);
    assert!(batch.windows(2).all(|w| w[0] < w[1]), "{batch:?}");
    // A count of 1 is still an array.
    assert_eq!(items(&cmd(&mut r, &["ID.NEXT", "1"])).len(), 1);

    // ULIDs: 26 Crockford base32 characters, strictly increasing, timestamped now.
    let before = now_ms();
    let ulids = items(&cmd(&mut r, &["ID.NEXT", "1000", "FORMAT", "ULID"]));
    let single = cmd(&mut r, &["ID.NEXT", "format", "ulid"]);
    let after = now_ms();
    assert_eq!(ulids.len(), 1000);
    for u in ulids.iter().chain([&single]) {
        assert_eq!(u.len(), 26, "{u}");
        assert!(
            u.bytes()
                .all(|c| b"0123456789ABCDEFGHJKMNPQRSTVWXYZ".contains(&c)),
            "{u}"
        );
    }
    assert!(ulids.windows(2).all(|w| w[0] < w[1]));
    assert!(ulids[999] < single);
    let ulid_ms = ulids[0][..10].bytes().fold(0u64, |acc, c| {
        let digit = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ"
            .iter()
            .position(|&x| x == c)
            .unwrap() as u64;
        acc * 32 + digit
    });
    assert!(
        (before..=after).contains(&ulid_ms),
        "{ulid_ms} not in {before}..{after}"
    );

    // UUIDv7: 8-4-4-4-12 lower-case hex, version 7, RFC variant, strictly increasing.
    let before = now_ms();
    let uuids = items(&cmd(&mut r, &["ID.NEXT", "5000", "FORMAT", "uuidv7"]));
    assert_eq!(uuids.len(), 5000);
    for u in &uuids {
        let groups: Vec<&str> = u.split('-').collect();
        assert_eq!(
            groups.iter().map(|g| g.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12],
            "{u}"
        );
        assert!(u
            .bytes()
            .all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c)));
        assert_eq!(&u[14..15], "7", "{u}");
        assert!("89ab".contains(&u[19..20]), "{u}");
    }
    assert!(uuids.windows(2).all(|w| w[0] < w[1]));
    let uuid_ms = u64::from_str_radix(&uuids[0].replace('-', "")[..12], 16).unwrap();
    assert!(uuid_ms >= before && uuid_ms <= now_ms() + 10, "{uuid_ms}");
    let one = cmd(&mut r, &["ID.NEXT", "FORMAT", "uuidv7"]);
    assert_eq!(one.len(), 36);
    assert!(one > uuids[4999]);
}

#[test]
fn id_next_and_parse_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let cases: &[(&[&str], &str)] = &[
        (&["ID.NEXT", "0"], "-ERR count must be between 1 and 100000"),
        (
            &["ID.NEXT", "100001"],
            "-ERR count must be between 1 and 100000",
        ),
        (
            &["ID.NEXT", "-3"],
            "-ERR count must be between 1 and 100000",
        ),
        (
            &["ID.NEXT", "abc"],
            "-ERR value is not an integer or out of range",
        ),
        (&["ID.NEXT", "5", "FORMAT"], "-ERR syntax error"),
        (&["ID.NEXT", "5", "extra"], "-ERR syntax error"),
        (&["ID.NEXT", "FORMAT", "ulid", "5"], "-ERR syntax error"),
        (
            &["ID.NEXT", "FORMAT", "uuid4"],
            "-ERR unknown ID format 'uuid4', expected snowflake, ulid or uuidv7",
        ),
        (
            &["ID.PARSE", "-1"],
            "-ERR value is out of range, must be positive",
        ),
        (
            &["ID.PARSE", "12x"],
            "-ERR value is not an integer or out of range",
        ),
        (
            &["ID.PARSE"],
            "-ERR wrong number of arguments for 'id.parse' command",
        ),
        (
            &["ID.PARSE", "1", "2"],
            "-ERR wrong number of arguments for 'id.parse' command",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(cmd(&mut r, args), *want, "{args:?}");
    }
    // The largest count works, in every format. 100,000 UUIDv7s roll their 12-bit counter over
    // so often that their timestamps run ahead of the clock: that is not a clock step back.
    assert_eq!(items(&cmd(&mut r, &["ID.NEXT", "100000"])).len(), 100_000);
    for format in ["ulid", "uuidv7"] {
        let batch = items(&cmd(&mut r, &["ID.NEXT", "100000", "FORMAT", format]));
        assert_eq!(batch.len(), 100_000);
        assert!(batch.windows(2).all(|w| w[0] < w[1]), "{format}");
        let next = cmd(&mut r, &["ID.NEXT", "FORMAT", format]);
        assert!(next > batch[99_999], "{format}: {next}");
    }
}

#[test]
fn id_parse_round_trips_the_configured_fields() {
    let s = Server::start(&[
        "--id-datacenter",
        "9",
        "--id-worker",
        "300",
        "--id-layout",
        "40 4 10 9",
        "--id-epoch-ms",
        "1600000000000",
    ]);
    let mut r = s.raw();
    let before = now_ms();
    let ids: Vec<i64> = items(&cmd(&mut r, &["ID.NEXT", "2000"]))
        .iter()
        .map(|s| int(s))
        .collect();
    let after = now_ms();
    let mut last_seq_by_ms: Option<(i64, i64)> = None;
    for id in &ids {
        let parts: Vec<i64> = items(&cmd(&mut r, &["ID.PARSE", &id.to_string()]))
            .iter()
            .map(|s| int(s))
            .collect();
        let [ts, dc, worker, seq] = parts[..] else {
            panic!("{parts:?}")
        };
        assert!((before as i64..=after as i64).contains(&ts), "{ts}");
        assert_eq!((dc, worker), (9, 300));
        assert!((0..512).contains(&seq));
        // Reassembling the fields gives the ID back.
        let rebuilt = ((ts - 1_600_000_000_000) << 23) | (dc << 19) | (worker << 9) | seq;
        assert_eq!(rebuilt, *id);
        if let Some((last_ts, last_seq)) = last_seq_by_ms {
            assert!(ts > last_ts || (ts == last_ts && seq == last_seq + 1));
        }
        last_seq_by_ms = Some((ts, seq));
    }
    // 2000 IDs need at least 4 milliseconds at 512 per millisecond.
    let distinct_ms: HashSet<i64> = ids.iter().map(|id| id >> 23).collect();
    assert!(distinct_ms.len() >= 4);
    // RESP3: a map.
    cmd(&mut r, &["HELLO", "3"]);
    let m = cmd(&mut r, &["ID.PARSE", &ids[0].to_string()]);
    assert!(
        m.starts_with("[timestamp_ms,:") && m.contains(",datacenter,:9,worker,:300,sequence,:"),
        "{m}"
    );
    assert_eq!(
        cmd(&mut r, &["CONFIG", "GET", "id-worker"]),
        "[id-worker,300]"
    );
    let info = cmd(&mut r, &["INFO", "ids"]);
    for field in [
        "id_datacenter:9\r\n",
        "id_worker:300\r\n",
        "id_worker_source:configured\r\n",
        "id_snowflake_ready:1\r\n",
        "id_layout:40 4 10 9\r\n",
    ] {
        assert!(info.contains(field), "{field} in {info}");
    }
}

#[test]
fn standalone_id_worker_auto_is_worker_0() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        cmd(&mut r, &["CONFIG", "GET", "id-worker"]),
        "[id-worker,auto]"
    );
    let id = int(&cmd(&mut r, &["ID.NEXT"]));
    let parts = items(&cmd(&mut r, &["ID.PARSE", &id.to_string()]));
    assert_eq!(parts[1..3], [":0", ":0"], "{parts:?}");
    let info = cmd(&mut r, &["INFO", "ids"]);
    assert!(
        info.contains("id_worker:0\r\nid_worker_source:default\r\n"),
        "{info}"
    );
    // Not part of the default INFO.
    assert!(!cmd(&mut r, &["INFO"]).contains("id_worker"));
    let s = Server::start(&["--id-worker", "auto"]);
    assert_eq!(
        cmd(&mut s.raw(), &["CONFIG", "GET", "id-worker"]),
        "[id-worker,auto]"
    );
}

/// 1,000,000 IDs from 4 concurrent clients: each client's IDs strictly increase, none repeats.
#[test]
fn a_million_ids_from_four_clients_are_unique() {
    let s = Server::start(&[]);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let mut con = s.conn();
            std::thread::spawn(move || {
                let mut all: Vec<i64> = Vec::with_capacity(250_000);
                for _ in 0..250 {
                    let batch: Vec<i64> = redis::cmd("ID.NEXT").arg(1000).query(&mut con).unwrap();
                    assert_eq!(batch.len(), 1000);
                    all.extend(batch);
                }
                all
            })
        })
        .collect();
    let mut seen = HashSet::with_capacity(1_000_000);
    for t in threads {
        let ids = t.join().expect("client thread");
        assert!(
            ids.windows(2).all(|w| w[0] < w[1]),
            "a client's IDs went backwards"
        );
        for id in ids {
            assert!(seen.insert(id), "duplicate ID {id}");
        }
    }
    assert_eq!(seen.len(), 1_000_000);
}

// ---------------------------------------------------------------------------------------------
// Start-up, restart and locking, with servers launched on a directory the test owns.

struct Proc {
    child: Child,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts a server on `dir` and waits until it answers (while it loads it answers -LOADING).
fn launch(dir: &Path, extra: &[&str]) -> Proc {
    let (child, port) = spawn_in(dir, extra);
    let mut p = Proc { child, port };
    if !wait_ready(
        &mut p.child,
        "127.0.0.1",
        port,
        Duration::from_secs(10),
        false,
    ) {
        if let Ok(Some(status)) = p.child.try_wait() {
            panic!("server exited: {status}: {}", stderr_of(&mut p.child));
        }
        panic!("server did not start");
    }
    p
}

fn conn(port: u16) -> redis::Connection {
    redis::Client::open(format!("redis://127.0.0.1:{port}/"))
        .and_then(|c| c.get_connection())
        .expect("connect")
}

fn mark(dir: &Path) -> u64 {
    std::fs::read_to_string(dir.join("idgen.state"))
        .expect("idgen.state")
        .trim()
        .parse()
        .expect("mark")
}

#[test]
fn restart_after_kill_9_issues_only_larger_ids() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = launch(dir.path(), &[]);
    let mut con = conn(server.port);
    let mut issued: Vec<i64> = redis::cmd("ID.NEXT").arg(20_000).query(&mut con).unwrap();
    let ulid: String = redis::cmd("ID.NEXT")
        .arg("FORMAT")
        .arg("ulid")
        .query(&mut con)
        .unwrap();
    issued.extend(
        redis::cmd("ID.NEXT")
            .arg(3)
            .query::<Vec<i64>>(&mut con)
            .unwrap(),
    );
    let max = *issued.iter().max().unwrap();
    let max_ts = (max >> 22) as u64 + 1_577_836_800_000;
    // The persisted mark covers every timestamp issued, with the lease ahead of it.
    let reserved = mark(dir.path());
    assert!(
        reserved >= max_ts && reserved <= max_ts + 1000 + 50,
        "{reserved} vs {max_ts}"
    );

    server.child.kill().unwrap(); // SIGKILL: nothing is flushed at exit.
    server.child.wait().unwrap();
    drop(server);

    let started = Instant::now();
    let server = launch(dir.path(), &[]);
    let mut con = conn(server.port);
    let next: Vec<i64> = redis::cmd("ID.NEXT").arg(1000).query(&mut con).unwrap();
    assert!(
        next.iter().all(|&id| id > max),
        "an ID was reissued after restart"
    );
    // Every new ID is past the reserved mark, so not even an unreplied ID can repeat.
    let first_ts = (next[0] >> 22) as u64 + 1_577_836_800_000;
    assert!(first_ts > reserved, "{first_ts} <= {reserved}");
    let ulid2: String = redis::cmd("ID.NEXT")
        .arg("FORMAT")
        .arg("ulid")
        .query(&mut con)
        .unwrap();
    assert!(ulid2 > ulid);
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_mark_ahead_of_the_clock_refuses_ids() {
    // As if the clock was stepped back a minute since the last run.
    let dir = tempfile::tempdir().unwrap();
    let ahead = now_ms() + 60_000;
    std::fs::write(dir.path().join("idgen.state"), format!("{ahead}\n")).unwrap();
    let server = launch(dir.path(), &["--id-max-clock-backward-ms", "20"]);
    let mut r = {
        let s = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        common::Raw {
            reader: std::io::BufReader::new(s.try_clone().unwrap()),
            stream: s,
        }
    };
    for format in ["snowflake", "ulid", "uuidv7"] {
        let e = cmd(&mut r, &["ID.NEXT", "FORMAT", format]);
        let by: u64 = e
            .strip_prefix("-ERR clock moved backwards by ")
            .and_then(|rest| rest.strip_suffix(" ms; refusing to generate IDs"))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("{format}: {e}"));
        assert!((59_000..=60_001).contains(&by), "{format}: {by}");
    }
    // A corrupt mark stops the start-up instead of risking duplicates.
    drop(r);
    drop(server);
    std::fs::write(dir.path().join("idgen.state"), "not a number").unwrap();
    let (code, err) = refused(dir.path(), &[]);
    assert_ne!(code, 0);
    assert!(err.contains("does not hold a high-water mark"), "{err}");
}

#[test]
fn a_second_server_on_the_same_dir_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let first = launch(dir.path(), &[]);
    let (code, err) = refused(dir.path(), &[]);
    assert_ne!(code, 0);
    assert!(err.contains("idgen.lock is locked"), "{err}");
    assert!(
        err.contains(&format!("pid {}", first.child.id())),
        "names the holder: {err}"
    );
    // The first one still works, and once it is gone the directory is free again.
    let mut con = conn(first.port);
    let _: i64 = redis::cmd("ID.NEXT").query(&mut con).unwrap();
    drop(first);
    let again = launch(dir.path(), &[]);
    let mut con = conn(again.port);
    let _: i64 = redis::cmd("ID.NEXT").query(&mut con).unwrap();
}

#[test]
fn invalid_id_settings_stop_the_start_up() {
    let dir = tempfile::tempdir().unwrap();
    for (args, want) in [
        (
            &["--id-worker", "32"][..],
            "worker 32 does not fit in 5 bits (id-worker)",
        ),
        (
            &["--id-datacenter", "40"],
            "datacenter 40 does not fit in 5 bits (id-datacenter)",
        ),
        (
            &["--id-layout", "41 5 5 11"],
            "time, datacenter, worker and sequence bits must sum to 63",
        ),
        (
            &["--id-epoch-ms", "99999999999999"],
            "id-epoch-ms 99999999999999 is in the future",
        ),
        (&["--id-layout", "1 0 0 62"], "time bits from id-epoch-ms"),
    ] {
        let (code, err) = refused(dir.path(), args);
        assert_ne!(code, 0, "{args:?}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
    // A wider worker field accepts the same worker number.
    let ok = launch(
        dir.path(),
        &["--id-worker", "32", "--id-layout", "41 4 6 12"],
    );
    let mut con = conn(ok.port);
    let id: i64 = redis::cmd("ID.NEXT").query(&mut con).unwrap();
    let parts: Vec<i64> = redis::cmd("ID.PARSE").arg(id).query(&mut con).unwrap();
    assert_eq!(parts[2], 32);
}
