//! HyperLogLog commands against a real server: replies and errors as Redis's (the differential
//! test compares random sequences, and the stored bytes, with a real redis-server), a value that
//! is not an HLL, a corrupted one, sparse-to-dense promotion under `hll-sparse-max-bytes`, TTLs
//! kept by updates, and HLLs brought back by the AOF after a SIGKILL.

mod common;
use common::{run, Server, WRONGTYPE};

const NOT_HLL: &str = "-WRONGTYPE Key is not a valid HyperLogLog string value.";
const CORRUPT: &str = "-INVALIDOBJ Corrupted HLL object detected";

fn get_bytes(c: &mut redis::Connection, key: &str) -> Vec<u8> {
    redis::cmd("GET").arg(key).query(c).unwrap()
}

#[test]
fn pfadd_pfcount_pfmerge_follow_redis() {
    let s = Server::start(&["--appendonly", "yes", "--appendfsync", "always"]);
    let mut r = s.raw();
    let mut c = s.conn();
    assert_eq!(run(&mut r, &["PFADD", "h", "a", "b", "c"]), ":1");
    assert_eq!(run(&mut r, &["PFADD", "h", "a", "b"]), ":0");
    assert_eq!(run(&mut r, &["PFADD", "new"]), ":1", "creates the key");
    assert_eq!(run(&mut r, &["PFADD", "new"]), ":0");
    assert_eq!(run(&mut r, &["PFCOUNT", "new"]), ":0");
    assert_eq!(run(&mut r, &["PFCOUNT", "h"]), ":3");
    assert_eq!(run(&mut r, &["PFCOUNT", "missing"]), ":0");
    assert_eq!(run(&mut r, &["TYPE", "h"]), "+string");
    assert_eq!(run(&mut r, &["PFADD", "h2", "c", "d"]), ":1");
    assert_eq!(run(&mut r, &["PFCOUNT", "h", "h2", "missing"]), ":4");
    assert_eq!(run(&mut r, &["PFMERGE", "u", "h", "h2"]), "+OK");
    assert_eq!(run(&mut r, &["PFCOUNT", "u"]), ":4");
    assert_eq!(run(&mut r, &["PFMERGE", "empty"]), "+OK");
    assert_eq!(run(&mut r, &["PFCOUNT", "empty"]), ":0");
    assert_eq!(
        run(&mut r, &["PFADD"]),
        "-ERR wrong number of arguments for 'pfadd' command"
    );

    // Wrong types: another type, a string that is not an HLL, a corrupted one.
    assert_eq!(run(&mut r, &["RPUSH", "list", "x"]), ":1");
    assert_eq!(run(&mut r, &["PFADD", "list", "x"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["PFCOUNT", "h", "list"]), WRONGTYPE);
    assert_eq!(run(&mut r, &["SET", "plain", "hello"]), "+OK");
    assert_eq!(run(&mut r, &["PFADD", "plain", "x"]), NOT_HLL);
    assert_eq!(run(&mut r, &["PFMERGE", "h", "plain"]), NOT_HLL);
    let mut bad = get_bytes(&mut c, "h");
    bad.push(0x00); // a run past the 16384 registers
    bad[15] |= 0x80; // no valid cached count to answer from
    let _: () = redis::cmd("SET")
        .arg("bad")
        .arg(&bad)
        .query(&mut c)
        .unwrap();
    assert_eq!(run(&mut r, &["PFCOUNT", "bad"]), CORRUPT);
    assert_eq!(run(&mut r, &["PFCOUNT", "h", "bad"]), CORRUPT);
    assert_eq!(run(&mut r, &["PFMERGE", "h2", "bad"]), CORRUPT);
    // A dense header on a string of the wrong length is not an HLL at all.
    let mut short = bad.clone();
    short[4] = 0;
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg(&short)
        .query(&mut c)
        .unwrap();
    assert_eq!(run(&mut r, &["PFCOUNT", "short"]), NOT_HLL);

    // Thousands of elements: the sparse form passes hll-sparse-max-bytes and turns dense
    // (16 + 12288 bytes), within 2% of the true count.
    assert_eq!(run(&mut r, &["EXPIRE", "h", "1000"]), ":1");
    for chunk in 0..10 {
        let mut cmd = redis::cmd("PFADD");
        cmd.arg("h");
        for i in 0..1000 {
            cmd.arg(format!("el:{chunk}:{i}"));
        }
        let _: i64 = cmd.query(&mut c).unwrap();
    }
    assert_eq!(get_bytes(&mut c, "h").len(), 16 + 12288);
    let n: i64 = redis::cmd("PFCOUNT").arg("h").query(&mut c).unwrap();
    assert!((n - 10_003).abs() < 200, "{n}");
    let ttl: i64 = redis::cmd("TTL").arg("h").query(&mut c).unwrap();
    assert!(ttl > 900, "updates keep the TTL: {ttl}");

    // PFCOUNT keeps the count in the value's header, not as a change: the cache is set, and
    // nothing was counted towards the save rules.
    let dirty = |c: &mut redis::Connection| -> u64 {
        common::info_field(c, "persistence", "rdb_changes_since_last_save")
    };
    // Elements until one changes a register (most land on a register that already has more).
    let changed = (0..100_000).any(|i| {
        let changed: i64 = redis::cmd("PFADD").arg("h").arg(i).query(&mut c).unwrap();
        changed == 1
    });
    assert!(changed);
    assert_eq!(
        get_bytes(&mut c, "h")[15] & 0x80,
        0x80,
        "PFADD made the cache stale"
    );
    let before_count = dirty(&mut c);
    let n: i64 = redis::cmd("PFCOUNT").arg("h").query(&mut c).unwrap();
    assert_eq!(get_bytes(&mut c, "h")[8..16], (n as u64).to_le_bytes());
    assert_eq!(dirty(&mut c), before_count);

    // The AOF brings them back after a SIGKILL, byte for byte but for the cache, which the
    // first count after the restart computes again.
    let registers = |c: &mut redis::Connection| -> Vec<Vec<u8>> {
        ["h", "h2", "u", "empty"]
            .iter()
            .map(|k| {
                let mut b = get_bytes(c, k);
                b[8..16].fill(0);
                b
            })
            .collect()
    };
    let before = registers(&mut c);
    drop(c);
    let s = s.restart(&["--appendonly", "yes"]);
    let mut c = s.conn();
    assert_eq!(registers(&mut c), before);
    let again: i64 = redis::cmd("PFCOUNT").arg("h").query(&mut c).unwrap();
    assert_eq!(again, n);
}
