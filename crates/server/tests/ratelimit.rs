//! Rate limiting over a real server: CL.THROTTLE against redis-cell's documented replies,
//! RL.LIMIT for every algorithm and option, RL.CHECK with configured policies, RL.RESET, state
//! stored as ordinary expiring values, WRONGTYPE protection, INFO counters and atomicity under
//! hundreds of concurrent connections.

mod common;
use common::{run as cmd, split_items as items, Server};

use std::time::Duration;

const ALGORITHMS: [&str; 6] = [
    "token-bucket",
    "leaky-bucket",
    "fixed-window",
    "sliding-log",
    "sliding-window",
    "gcra",
];

/// The integers of a flat array reply like "[:0,:16,:15,:-1,:2]".
fn ints(reply: &str) -> Vec<i64> {
    items(reply)
        .iter()
        .map(|s| {
            s.strip_prefix(':')
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("not an integer item {s} in {reply}"))
        })
        .collect()
}

fn pttl(r: &mut common::Raw, key: &str) -> i64 {
    ints(&format!("[{}]", cmd(r, &["PTTL", key])))[0]
}

#[test]
fn cl_throttle_matches_the_redis_cell_readme() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // README: "CL.THROTTLE user123 15 30 60" → allowed, limit 16, remaining 15, retry -1, reset 2.
    assert_eq!(
        ints(&cmd(&mut r, &["CL.THROTTLE", "user123", "15", "30", "60"])),
        [0, 16, 15, -1, 2]
    );
    // Each further action takes one 2-second emission interval from the burst.
    for i in 1..16 {
        assert_eq!(
            ints(&cmd(
                &mut r,
                &["CL.THROTTLE", "user123", "15", "30", "60", "1"]
            )),
            [0, 16, 15 - i, -1, 2 * (i + 1)],
            "action {i}"
        );
    }
    // Burst used up: limited, retry in one interval, full again in 32 s.
    assert_eq!(
        ints(&cmd(&mut r, &["CL.THROTTLE", "user123", "15", "30", "60"])),
        [1, 16, 0, 2, 32]
    );
    // Quantity 0 peeks without consuming or being limited.
    assert_eq!(
        ints(&cmd(
            &mut r,
            &["CL.THROTTLE", "user123", "15", "30", "60", "0"]
        )),
        [0, 16, 0, -1, 32]
    );
    // The state is an ordinary string value that expires when the limiter would be full again.
    assert_eq!(cmd(&mut r, &["TYPE", "user123"]), "+string");
    // The expiry is the full-again time rounded up to the millisecond (never early), and PTTL
    // counts from the current millisecond, so within the same millisecond it can read 32001.
    let ttl = pttl(&mut r, "user123");
    assert!((31_000..=32_001).contains(&ttl), "pttl {ttl}");
    // A quantity above the burst can never pass: limited with retry -1, nothing consumed.
    assert_eq!(
        ints(&cmd(
            &mut r,
            &["CL.THROTTLE", "big", "15", "30", "60", "17"]
        )),
        [1, 16, 16, -1, 0]
    );
    assert_eq!(cmd(&mut r, &["EXISTS", "big"]), ":0");
    // A quantity of several units.
    assert_eq!(
        ints(&cmd(&mut r, &["CL.THROTTLE", "q", "4", "1", "1", "3"])),
        [0, 5, 2, -1, 3]
    );
}

#[test]
fn cl_throttle_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for args in [
        &["CL.THROTTLE", "k", "x", "30", "60"][..],
        &["CL.THROTTLE", "k", "15", "3.5", "60"],
        &["CL.THROTTLE", "k", "15", "30", ""],
        &["CL.THROTTLE", "k", "15", "30", "60", "one"],
    ] {
        assert_eq!(
            cmd(&mut r, args),
            "-ERR value is not an integer or out of range",
            "{args:?}"
        );
    }
    assert_eq!(
        cmd(&mut r, &["CL.THROTTLE", "k", "15", "0", "60"]),
        "-Cell error: Zero rates are not supported"
    );
    assert_eq!(
        cmd(&mut r, &["CL.THROTTLE", "k", "15", "30", "0"]),
        "-Cell error: Zero rates are not supported"
    );
    assert_eq!(
        cmd(&mut r, &["CL.THROTTLE", "k", "-1", "30", "60"]),
        "-ERR max_burst must not be negative"
    );
    assert_eq!(
        cmd(&mut r, &["CL.THROTTLE", "k", "1", "30", "60", "-2"]),
        "-ERR quantity must not be negative"
    );
    assert_eq!(
        cmd(
            &mut r,
            &["CL.THROTTLE", "k", "1", "1", "9223372036854775807"]
        ),
        "-ERR period is too long"
    );
    for args in [
        &["CL.THROTTLE", "k", "15", "30"][..],
        &["CL.THROTTLE", "k", "15", "30", "60", "1", "extra"],
    ] {
        assert_eq!(
            cmd(&mut r, args),
            "-ERR wrong number of arguments for 'cl.throttle' command"
        );
    }
    assert_eq!(cmd(&mut r, &["EXISTS", "k"]), ":0");
    // User data is never taken for limiter state.
    assert_eq!(cmd(&mut r, &["SET", "plain", "hello"]), "+OK");
    assert_eq!(
        cmd(&mut r, &["CL.THROTTLE", "plain", "15", "30", "60"]),
        "-WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(cmd(&mut r, &["GET", "plain"]), "hello");
}

/// One RL.LIMIT call (RESP2): [allowed, limit, remaining, reset_after_ms, retry_after_ms].
fn rl(r: &mut common::Raw, key: &str, algorithm: &str, rest: &[&str]) -> Vec<i64> {
    let mut args = vec!["RL.LIMIT", key, algorithm];
    args.extend_from_slice(rest);
    let reply = cmd(r, &args);
    ints(&reply)
}

#[test]
fn rl_limit_allows_denies_refunds_and_peeks_with_every_algorithm() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for alg in ALGORITHMS {
        // The window algorithms cut time into epoch-aligned windows: one that ends in 2033 keeps
        // a window boundary out of the test.
        let window: i64 = if alg.contains("window") {
            1_000_000_000_000
        } else {
            60_000
        };
        let w = window.to_string();
        let lw = ["LIMIT", "3", "WINDOW", w.as_str()];
        let key = format!("k:{alg}");
        // PEEK on a fresh key: the decision a real call would get, nothing stored.
        let peek = rl(&mut r, &key, alg, &[&lw[..], &["PEEK"]].concat());
        assert_eq!(&peek[..3], [1, 3, 2], "{alg} peek");
        assert_eq!(
            cmd(&mut r, &["EXISTS", &key]),
            ":0",
            "{alg}: peek stored state"
        );
        // Three allowed, with remaining counting down.
        for remaining in [2, 1, 0] {
            let d = rl(&mut r, &key, alg, &lw);
            assert_eq!(&d[..3], [1, 3, remaining], "{alg}");
            assert_eq!(d[4], 0, "{alg}: retry_after_ms of an allowed call");
            // The sliding window counter weighs the current window into the next one.
            assert!(
                d[3] > 0 && d[3] <= 2 * window,
                "{alg}: reset_after_ms {}",
                d[3]
            );
        }
        // The fourth is denied, with a retry time within the window.
        let d = rl(&mut r, &key, alg, &lw);
        assert_eq!(&d[..3], [0, 3, 0], "{alg} denied");
        assert!(d[4] > 0 && d[4] <= window, "{alg}: retry_after_ms {}", d[4]);
        // PEEK of a denied request says the same and consumes nothing.
        let p = rl(&mut r, &key, alg, &[&lw[..], &["PEEK"]].concat());
        assert_eq!(&p[..3], [0, 3, 0], "{alg} peek denied");
        // The state is an expiring string value.
        assert_eq!(cmd(&mut r, &["TYPE", &key]), "+string", "{alg}");
        let ttl = pttl(&mut r, &key);
        assert!(ttl > 0 && ttl <= 2 * window, "{alg}: pttl {ttl}");
        // A refund (negative COST) gives back capacity: exactly one more passes.
        let refund = rl(&mut r, &key, alg, &[&lw[..], &["COST", "-1"]].concat());
        assert_eq!(&refund[..3], [1, 3, 1], "{alg} refund");
        assert_eq!(&rl(&mut r, &key, alg, &lw)[..3], [1, 3, 0], "{alg}");
        assert_eq!(rl(&mut r, &key, alg, &lw)[0], 0, "{alg}");
        // COST 0 inspects: always allowed, consumes nothing.
        assert_eq!(
            &rl(&mut r, &key, alg, &[&lw[..], &["COST", "0"]].concat())[..3],
            [1, 3, 0],
            "{alg}"
        );
        // A cost above the capacity never passes: retry_after_ms is -1.
        let huge = rl(&mut r, "huge", alg, &[&lw[..], &["COST", "4"]].concat());
        assert_eq!(&huge[..3], [0, 3, 3], "{alg} huge");
        assert_eq!(huge[4], -1, "{alg} huge retry");
        // Several units at once.
        let multi = rl(
            &mut r,
            &format!("m:{alg}"),
            alg,
            &[&lw[..], &["COST", "2"]].concat(),
        );
        assert_eq!(&multi[..3], [1, 3, 1], "{alg} cost 2");
    }
}

#[test]
fn rl_limit_options_and_replies() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // BURST: the token bucket holds 5 although only 1 per second refills; options in any order.
    for _ in 0..5 {
        assert_eq!(
            rl(
                &mut r,
                "b",
                "token-bucket",
                &["WINDOW", "1000", "BURST", "5", "LIMIT", "1"]
            )[0],
            1
        );
    }
    let d = rl(
        &mut r,
        "b",
        "TokenBucket",
        &["LIMIT", "1", "WINDOW", "1000", "BURST", "5"],
    );
    assert_eq!(
        &d[..3],
        [0, 5, 0],
        "algorithm names are case and separator insensitive"
    );
    // GCRA with a burst, and a window refill: after 1/3 of the window one unit is back.
    assert_eq!(
        rl(
            &mut r,
            "g",
            "gcra",
            &["LIMIT", "3", "WINDOW", "600", "BURST", "1"]
        )[..3],
        [1, 1, 0]
    );
    assert_eq!(
        rl(
            &mut r,
            "g",
            "gcra",
            &["LIMIT", "3", "WINDOW", "600", "BURST", "1"]
        )[0],
        0
    );
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(
        rl(
            &mut r,
            "g",
            "gcra",
            &["LIMIT", "3", "WINDOW", "600", "BURST", "1"]
        )[0],
        1
    );

    // RESP3: a map with a boolean.
    assert!(cmd(&mut r, &["HELLO", "3"]).contains("proto"));
    assert_eq!(
        cmd(
            &mut r,
            &[
                "RL.LIMIT",
                "r3",
                "sliding-log",
                "LIMIT",
                "2",
                "WINDOW",
                "60000"
            ]
        ),
        "[allowed,#t,limit,:2,remaining,:1,reset_after_ms,:60000,retry_after_ms,:0]"
    );
    let denied = {
        cmd(
            &mut r,
            &[
                "RL.LIMIT",
                "r3",
                "sliding-log",
                "LIMIT",
                "2",
                "WINDOW",
                "60000",
            ],
        );
        cmd(
            &mut r,
            &[
                "RL.LIMIT",
                "r3",
                "sliding-log",
                "LIMIT",
                "2",
                "WINDOW",
                "60000",
            ],
        )
    };
    assert!(
        denied.starts_with("[allowed,#f,limit,:2,remaining,:0,reset_after_ms,:"),
        "{denied}"
    );
}

#[test]
fn rl_limit_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let cases: &[(&[&str], &str)] = &[
        (
            &["RL.LIMIT", "k", "nosuch", "LIMIT", "1", "WINDOW", "1"],
            "-ERR unknown rate-limit algorithm 'nosuch'",
        ),
        (
            &["RL.LIMIT", "k", "gcra", "LIMIT", "0", "WINDOW", "1000"],
            "-ERR LIMIT must be greater than 0",
        ),
        (
            &["RL.LIMIT", "k", "gcra", "LIMIT", "-5", "WINDOW", "1000"],
            "-ERR LIMIT must be greater than 0",
        ),
        (
            &["RL.LIMIT", "k", "gcra", "LIMIT", "1", "WINDOW", "0"],
            "-ERR WINDOW must be greater than 0",
        ),
        (
            &[
                "RL.LIMIT", "k", "gcra", "LIMIT", "1", "WINDOW", "1000", "BURST", "0",
            ],
            "-ERR BURST must be greater than 0",
        ),
        (
            &[
                "RL.LIMIT",
                "k",
                "fixed-window",
                "LIMIT",
                "1",
                "WINDOW",
                "1000",
                "BURST",
                "2",
            ],
            "-ERR BURST is not supported by the fixed-window algorithm",
        ),
        (
            &["RL.LIMIT", "k", "gcra", "LIMIT", "x", "WINDOW", "1000"],
            "-ERR value is not an integer or out of range",
        ),
        (
            &[
                "RL.LIMIT", "k", "gcra", "LIMIT", "1", "WINDOW", "1000", "COST", "1.5",
            ],
            "-ERR value is not an integer or out of range",
        ),
        (
            &[
                "RL.LIMIT", "k", "gcra", "LIMIT", "1", "WINDOW", "1000", "COST",
            ],
            "-ERR syntax error",
        ),
        (
            &[
                "RL.LIMIT", "k", "gcra", "LIMIT", "1", "WINDOW", "1000", "FAST",
            ],
            "-ERR syntax error",
        ),
        (
            &["RL.LIMIT", "k", "gcra", "LIMIT", "1", "COST", "1"],
            "-ERR LIMIT and WINDOW are required",
        ),
        (
            &["RL.LIMIT", "k", "gcra", "LIMIT", "1", "WINDOW"],
            "-ERR wrong number of arguments for 'rl.limit' command",
        ),
        (
            &["RL.RESET"],
            "-ERR wrong number of arguments for 'rl.reset' command",
        ),
        (
            &["RL.RESET", "a", "b"],
            "-ERR wrong number of arguments for 'rl.reset' command",
        ),
        (
            &["RL.CHECK", "p"],
            "-ERR wrong number of arguments for 'rl.check' command",
        ),
    ];
    for (args, want) in cases {
        assert_eq!(cmd(&mut r, args), *want, "{args:?}");
    }
    assert_eq!(cmd(&mut r, &["EXISTS", "k"]), ":0");
}

#[test]
fn wrongtype_never_overwrites_user_data() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value";
    assert_eq!(cmd(&mut r, &["SET", "plain", "hello"]), "+OK");
    assert_eq!(cmd(&mut r, &["HSET", "hash", "f", "v"]), ":1");
    // A string that starts like limiter state but is not.
    r.cmd(&[b"SET", b"fake", b"\x00RLv1garbage"]);
    assert_eq!(r.reply(), "+OK");
    for key in ["plain", "hash", "fake"] {
        assert_eq!(
            cmd(
                &mut r,
                &["RL.LIMIT", key, "gcra", "LIMIT", "1", "WINDOW", "1000"]
            ),
            WRONGTYPE,
            "{key}"
        );
        assert_eq!(cmd(&mut r, &["RL.RESET", key]), WRONGTYPE, "{key}");
        assert_eq!(cmd(&mut r, &["CL.THROTTLE", key, "1", "1", "1"]), WRONGTYPE);
    }
    assert_eq!(cmd(&mut r, &["GET", "plain"]), "hello");
    assert_eq!(cmd(&mut r, &["HGET", "hash", "f"]), "v");
    assert_eq!(cmd(&mut r, &["PTTL", "plain"]), ":-1");
}

#[test]
fn reset_state_copies_and_idle_expiry() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let lw = ["LIMIT", "2", "WINDOW", "60000"];
    assert_eq!(cmd(&mut r, &["RL.RESET", "nothing"]), ":0");
    rl(&mut r, "k", "sliding-log", &lw);
    rl(&mut r, "k", "sliding-log", &lw);
    assert_eq!(rl(&mut r, "k", "sliding-log", &lw)[0], 0);

    // The state travels as an ordinary value: a copy of it is limited too.
    let mut con = s.conn();
    let value: Vec<u8> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert!(value.starts_with(b"\x00RLv1"), "{value:?}");
    redis::cmd("SET")
        .arg("copy")
        .arg(&value)
        .query::<()>(&mut con)
        .unwrap();
    assert_eq!(rl(&mut r, "copy", "sliding-log", &lw)[0], 0);

    assert_eq!(cmd(&mut r, &["RL.RESET", "k"]), ":1");
    assert_eq!(cmd(&mut r, &["EXISTS", "k"]), ":0");
    assert_eq!(cmd(&mut r, &["RL.RESET", "k"]), ":0");
    assert_eq!(&rl(&mut r, "k", "sliding-log", &lw)[..3], [1, 2, 1]);
    // RL.RESET also removes CL.THROTTLE state.
    cmd(&mut r, &["CL.THROTTLE", "cell", "1", "1", "60"]);
    assert_eq!(cmd(&mut r, &["RL.RESET", "cell"]), ":1");
    // State of another algorithm (or of CL.THROTTLE) counts as fresh, and is replaced.
    cmd(&mut r, &["CL.THROTTLE", "mixed", "0", "1", "60"]);
    assert_eq!(&rl(&mut r, "mixed", "gcra", &lw)[..3], [1, 2, 1]);
    assert_eq!(&rl(&mut r, "mixed", "fixed-window", &lw)[..3], [1, 2, 1]);

    // Idle state expires by itself once the limiter would be fresh again.
    for alg in ALGORITHMS {
        let key = format!("idle:{alg}");
        rl(&mut r, &key, alg, &["LIMIT", "1", "WINDOW", "150"]);
        assert_eq!(cmd(&mut r, &["EXISTS", &key]), ":1", "{alg}");
        let ttl = pttl(&mut r, &key);
        assert!(ttl > 0 && ttl <= 300, "{alg}: pttl {ttl}");
    }
    cmd(&mut r, &["CL.THROTTLE", "idle:cell", "0", "10", "1"]);
    assert!(
        pttl(&mut r, "idle:cell") <= 101,
        "TTL ends at the TAT, rounded up"
    );
    std::thread::sleep(Duration::from_millis(450));
    for alg in ALGORITHMS {
        assert_eq!(
            cmd(&mut r, &["EXISTS", &format!("idle:{alg}")]),
            ":0",
            "{alg}"
        );
    }
    assert_eq!(cmd(&mut r, &["EXISTS", "idle:cell"]), ":0");
}

#[test]
fn named_policies_from_config_and_config_set() {
    let s = Server::start_with(
        &["--ratelimit-policy", "cli", "gcra", "1", "60000"],
        Some(
            "ratelimit-policy api sliding-log 3 60000\n\
             ratelimit-policy burst token-bucket 1 60000 4\n",
        ),
    );
    let mut r = s.raw();
    assert_eq!(
        cmd(&mut r, &["CONFIG", "GET", "ratelimit-policy"]),
        "[ratelimit-policy,api sliding-log 3 60000 burst token-bucket 1 60000 4 cli gcra 1 60000]"
    );
    let check = |r: &mut common::Raw, args: &[&str]| {
        let mut a = vec!["RL.CHECK"];
        a.extend_from_slice(args);
        ints(&cmd(r, &a))
    };
    assert_eq!(check(&mut r, &["api", "u1"]), [1, 3, 2, 60000, 0]);
    assert_eq!(&check(&mut r, &["api", "u1", "COST", "2"])[..3], [1, 3, 0]);
    let d = check(&mut r, &["api", "u1"]);
    assert_eq!(&d[..3], [0, 3, 0]);
    assert!(d[4] > 0);
    assert_eq!(
        &check(&mut r, &["api", "u1", "COST", "-1", "PEEK"])[..3],
        [1, 3, 1]
    );
    assert_eq!(
        &check(&mut r, &["api", "u1", "PEEK"])[..3],
        [0, 3, 0],
        "peek kept nothing"
    );
    assert_eq!(&check(&mut r, &["burst", "u3"])[..3], [1, 4, 3]);
    assert_eq!(&check(&mut r, &["cli", "u2"])[..3], [1, 1, 0]);
    assert_eq!(
        cmd(&mut r, &["RL.CHECK", "nope", "u1"]),
        "-ERR no such rate limit policy 'nope'"
    );
    assert_eq!(
        cmd(&mut r, &["RL.CHECK", "api", "u1", "COST"]),
        "-ERR syntax error"
    );
    assert_eq!(
        cmd(&mut r, &["RL.CHECK", "api", "u1", "BURST", "3"]),
        "-ERR syntax error"
    );

    // CONFIG SET replaces the list; counters of a changed policy stay with the keys.
    assert_eq!(
        cmd(
            &mut r,
            &[
                "CONFIG",
                "SET",
                "ratelimit-policy",
                "api sliding-log 4 60000"
            ]
        ),
        "+OK"
    );
    assert_eq!(
        &check(&mut r, &["api", "u1"])[..3],
        [1, 4, 0],
        "3 of 4 were already used"
    );
    assert_eq!(check(&mut r, &["api", "u1"])[0], 0);
    assert_eq!(
        cmd(&mut r, &["RL.CHECK", "cli", "u2"]),
        "-ERR no such rate limit policy 'cli'"
    );
    let e = cmd(
        &mut r,
        &["CONFIG", "SET", "ratelimit-policy", "x nosuch 1 1"],
    );
    assert_eq!(
        e,
        "-ERR CONFIG SET failed (possibly related to argument 'ratelimit-policy') - \
         unknown rate-limit algorithm 'nosuch'"
    );

    // INFO ratelimit: totals and per-policy counts (peeks are not counted).
    cmd(
        &mut r,
        &["RL.LIMIT", "x", "gcra", "LIMIT", "1", "WINDOW", "60000"],
    );
    cmd(
        &mut r,
        &["RL.LIMIT", "x", "gcra", "LIMIT", "1", "WINDOW", "60000"],
    );
    cmd(&mut r, &["CL.THROTTLE", "c", "0", "1", "60"]);
    let info = cmd(&mut r, &["INFO", "ratelimit"]);
    for line in [
        "# Ratelimit",
        "cl_throttle_allowed:1",
        "cl_throttle_limited:0",
        "rl_limit_allowed:1",
        "rl_limit_limited:1",
        "rl_check_allowed:5",
        "rl_check_limited:2",
        "ratelimit_policies:1",
        "policy_api:allowed=3,limited=2,algorithm=sliding-log,limit=4,window_ms=60000",
    ] {
        assert!(
            info.contains(&format!("{line}\r\n")),
            "{line} missing in:\n{info}"
        );
    }
    assert!(
        !cmd(&mut r, &["INFO"]).contains("Ratelimit"),
        "not a default section"
    );
    assert!(!cmd(&mut r, &["INFO", "everything"]).contains("Ratelimit"));
    let two = cmd(&mut r, &["INFO", "server", "RATELIMIT"]);
    assert!(two.starts_with("# Server\r\n") && two.contains("\r\n\r\n# Ratelimit\r\n"));
}

#[test]
fn command_docs_describe_the_commands() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let docs = cmd(
        &mut r,
        &[
            "COMMAND",
            "DOCS",
            "cl.throttle",
            "rl.limit",
            "rl.check",
            "rl.reset",
        ],
    );
    for text in [
        "redis-cell",
        "algorithm",
        "ratelimit-policy",
        "rate limiter's state",
    ] {
        assert!(docs.contains(text), "{text} missing in {docs}");
    }
    let info = cmd(&mut r, &["COMMAND", "INFO", "rl.limit", "cl.throttle"]);
    assert!(info.contains("rl.limit,:-7"), "{info}");
    assert!(info.contains("cl.throttle,:-5"), "{info}");
}

/// Hundreds of connections on one key: the keyspace lock makes check-and-consume atomic, so
/// exactly `limit` requests pass.
#[test]
fn concurrent_connections_get_exactly_the_limit() {
    let s = Server::start(&[]);
    let addr = s.addr();
    let run = |args: Vec<String>| -> usize {
        let threads: Vec<_> = (0..200)
            .map(|_| {
                let addr = addr.clone();
                let args = args.clone();
                std::thread::spawn(move || {
                    let stream = std::net::TcpStream::connect(&addr).expect("connect");
                    stream.set_read_timeout(Some(Duration::from_secs(20))).ok();
                    let mut r = common::Raw {
                        reader: std::io::BufReader::new(stream.try_clone().expect("clone")),
                        stream,
                    };
                    let a: Vec<&str> = args.iter().map(String::as_str).collect();
                    (0..3)
                        .filter(|_| {
                            let reply = cmd(&mut r, &a);
                            ints(&reply)[0] == if a[0] == "CL.THROTTLE" { 0 } else { 1 }
                        })
                        .count()
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("thread")).sum()
    };
    let owned = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(
        run(owned(&[
            "RL.LIMIT",
            "hot",
            "sliding-log",
            "LIMIT",
            "100",
            "WINDOW",
            "3600000"
        ])),
        100
    );
    assert_eq!(
        run(owned(&[
            "RL.LIMIT", "hot2", "gcra", "LIMIT", "100", "WINDOW", "3600000"
        ])),
        100
    );
    assert_eq!(run(owned(&["CL.THROTTLE", "hot3", "99", "1", "3600"])), 100);
}
