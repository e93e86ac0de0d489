//! SLOWLOG against a real server: what is recorded (commands at or above
//! `slowlog-log-slower-than`, EXEC's queued commands but not EXEC itself), each entry's fields
//! (id, time, duration, arguments, client address and name), the bounds on arguments and on
//! the log's length, redacted secrets, GET/LEN/RESET/HELP and their errors, and the settings
//! through CONFIG. Replies were checked against a real Redis 7.0 server.

mod common;
use common::{items, run, Raw, Server};

/// The entries of SLOWLOG GET -1 as (id, time, duration, args, addr, name).
fn entries(r: &mut Raw) -> Vec<(i64, i64, i64, Vec<String>, String, String)> {
    r.cmd(&[b"SLOWLOG", b"GET", b"-1"]);
    let n: usize = r.line()[1..].parse().expect("array length");
    (0..n)
        .map(|_| {
            assert_eq!(r.line(), "*6");
            let int = |r: &mut Raw| r.line()[1..].parse::<i64>().expect("integer");
            let (id, time, duration) = (int(r), int(r), int(r));
            let args = items(&r.reply());
            (id, time, duration, args, r.reply(), r.reply())
        })
        .collect()
}

/// How many entries SLOWLOG GET with these arguments returns.
fn get_count(r: &mut Raw, args: &[&str]) -> usize {
    let mut line: Vec<&[u8]> = vec![b"SLOWLOG", b"GET"];
    line.extend(args.iter().map(|a| a.as_bytes()));
    r.cmd(&line);
    let n: usize = r.line()[1..].parse().expect("array length");
    for _ in 0..n {
        r.reply();
    }
    n
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[test]
fn records_slow_commands_with_their_client() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        run(&mut r, &["CONFIG", "GET", "slowlog-*"]),
        "[slowlog-log-slower-than,10000,slowlog-max-len,128]"
    );
    // Fast commands stay out under the default 10 ms threshold; a 50 ms one is recorded.
    run(&mut r, &["SET", "k", "v"]);
    assert_eq!(run(&mut r, &["SLOWLOG", "LEN"]), ":0");
    run(&mut r, &["CLIENT", "SETNAME", "worker-1"]);
    assert_eq!(run(&mut r, &["DEBUG", "SLEEP", "0.05"]), "+OK");
    let addr = run(&mut r, &["CLIENT", "INFO"])
        .split(' ')
        .find_map(|f| f.strip_prefix("addr=").map(str::to_string))
        .expect("addr in CLIENT INFO");
    let e = entries(&mut r);
    assert_eq!(e.len(), 1, "{e:?}");
    let (id, time, duration, args, peer, name) = &e[0];
    assert_eq!(*id, 0);
    assert!((time - unix_now()).abs() <= 2, "time {time}");
    assert!(*duration >= 50_000 && *duration < 5_000_000, "{duration}");
    assert_eq!(args, &["DEBUG", "SLEEP", "0.05"]);
    assert_eq!(peer, &addr);
    assert_eq!(name, "worker-1");
    assert_eq!(run(&mut r, &["SLOWLOG", "RESET"]), "+OK");
    assert_eq!(run(&mut r, &["SLOWLOG", "LEN"]), ":0");
}

#[test]
fn threshold_length_bounds_and_secrets() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    // 0 records every command, the CONFIG SET itself included; newest first.
    assert_eq!(
        run(&mut r, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]),
        "+OK"
    );
    run(&mut r, &["MULTI"]);
    run(&mut r, &["SET", "x", "1"]);
    assert_eq!(run(&mut r, &["EXEC"]), "[+OK]");
    run(&mut r, &["AUTH", "secret"]);
    let long = "y".repeat(200);
    run(&mut r, &["SET", "long", &long]);
    let mut rpush = vec!["RPUSH".to_string(), "l".into()];
    rpush.extend((0..40).map(|i| i.to_string()));
    common::run_owned(&mut r, &rpush);
    let e = entries(&mut r);
    let names: Vec<String> = e.iter().map(|x| x.3.join(" ")).collect();
    assert_eq!(names.len(), 6, "{names:?}");
    // EXEC is not recorded; the commands it ran are.
    assert_eq!(names[3], "SET x 1");
    assert_eq!(names[4], "MULTI");
    assert_eq!(names[5], "CONFIG SET slowlog-log-slower-than 0");
    assert_eq!(names[2], "AUTH (redacted)");
    assert_eq!(
        names[1],
        format!("SET long {}... (72 more bytes)", "y".repeat(128))
    );
    assert_eq!(e[0].3.len(), 32);
    assert_eq!(e[0].3[31], "... (11 more arguments)");
    let ids: Vec<i64> = e.iter().map(|x| x.0).collect();
    assert_eq!(ids, vec![5, 4, 3, 2, 1, 0]);

    // GET's count; the log keeps slowlog-max-len entries.
    assert_eq!(get_count(&mut r, &["2"]), 2);
    for _ in 0..3 {
        run(&mut r, &["PING"]);
    }
    // 6 + the two GETs + 3 PINGs: GET without a count gives 10.
    assert_eq!(get_count(&mut r, &[]), 10);
    assert_eq!(get_count(&mut r, &["-1"]), 12);
    run(&mut r, &["CONFIG", "SET", "slowlog-max-len", "3"]);
    run(&mut r, &["PING"]);
    assert_eq!(run(&mut r, &["SLOWLOG", "LEN"]), ":3");
    // -1 records nothing.
    run(&mut r, &["CONFIG", "SET", "slowlog-log-slower-than", "-1"]);
    run(&mut r, &["SLOWLOG", "RESET"]);
    run(&mut r, &["DEBUG", "SLEEP", "0.02"]);
    assert_eq!(run(&mut r, &["SLOWLOG", "LEN"]), ":0");

    assert_eq!(
        run(&mut r, &["SLOWLOG", "GET", "-2"]),
        "-ERR count should be greater than or equal to -1"
    );
    assert_eq!(
        run(&mut r, &["SLOWLOG", "GET", "x"]),
        "-ERR count should be greater than or equal to -1"
    );
    assert_eq!(
        run(&mut r, &["SLOWLOG", "GET", "1", "2"]),
        "-ERR unknown subcommand or wrong number of arguments for 'GET'. Try SLOWLOG HELP."
    );
    assert_eq!(
        run(&mut r, &["SLOWLOG", "FOO"]),
        "-ERR unknown subcommand 'FOO'. Try SLOWLOG HELP."
    );
    assert_eq!(
        run(&mut r, &["CONFIG", "SET", "slowlog-max-len", "-1"]),
        "-ERR CONFIG SET failed (possibly related to argument 'slowlog-max-len') - argument must be between 0 and 9223372036854775807 inclusive"
    );
    r.cmd(&[b"SLOWLOG", b"HELP"]);
    assert_eq!(r.line(), "*12");
    let help: Vec<String> = (0..12).map(|_| r.line()).collect();
    assert_eq!(help[1], "+GET [<count>]");
    assert_eq!(help[10], "+HELP");
}
