//! MONITOR against a real server: the feed's format (time, database, client address, quoted
//! arguments), what is left out (administrative commands, commands refused before running),
//! redacted secrets, and RESET or a disconnect ending monitor mode.

mod common;
use common::{run, Raw, Server};

/// The next feed line of a monitor, split into (time, "[db addr]", arguments).
fn next_line(m: &mut Raw) -> (f64, String, String) {
    let line = m.line();
    let body = line
        .strip_prefix('+')
        .unwrap_or_else(|| panic!("not a status line: {line}"));
    let (time, rest) = body.split_once(' ').expect("time");
    let (client, args) = rest.split_once("] ").expect("client");
    (
        time.parse().expect("time is a number"),
        format!("{client}]"),
        args.to_string(),
    )
}

fn client_addr(r: &mut Raw) -> String {
    run(r, &["CLIENT", "INFO"])
        .split(' ')
        .find_map(|f| f.strip_prefix("addr=").map(str::to_string))
        .expect("addr")
}

#[test]
fn monitors_see_every_command_as_redis_prints_it() {
    let s = Server::start(&[]);
    let mut m = s.raw();
    assert_eq!(run(&mut m, &["MONITOR"]), "+OK");
    let mut c = s.raw();
    let addr = client_addr(&mut c);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);

    run(&mut c, &["SET", "k", "v"]);
    run(&mut c, &["SELECT", "2"]);
    run(&mut c, &["SET", "quote\"d", "a b\r\n\x01"]);
    // Administrative commands and refused commands are not shown; failed ones are.
    run(&mut c, &["CONFIG", "GET", "maxmemory"]);
    assert!(run(&mut c, &["GET"]).starts_with("-ERR wrong number"));
    assert!(run(&mut c, &["LPUSH", "k", "x"]).starts_with(":"));
    assert!(run(&mut c, &["AUTH", "secret"]).starts_with("-ERR"));
    run(&mut c, &["MULTI"]);
    run(&mut c, &["INCR", "n"]);
    run(&mut c, &["EXEC"]);

    // CLIENT INFO ran first: it is not administrative.
    let (time, client, args) = next_line(&mut m);
    assert!((time - now).abs() < 60.0, "{time} vs {now}");
    assert_eq!(client, format!("[0 {addr}]"));
    assert_eq!(args, "\"CLIENT\" \"INFO\"");
    let expected = [
        ("0", "\"SET\" \"k\" \"v\""),
        // Fed after it ran, as in Redis: already in database 2.
        ("2", "\"SELECT\" \"2\""),
        ("2", "\"SET\" \"quote\\\"d\" \"a b\\r\\n\\x01\""),
        ("2", "\"LPUSH\" \"k\" \"x\""),
        ("2", "\"AUTH\" \"(redacted)\""),
        ("2", "\"MULTI\""),
        ("2", "\"INCR\" \"n\""),
        ("2", "\"EXEC\""),
    ];
    for (db, want) in expected {
        let (_, client, args) = next_line(&mut m);
        assert_eq!(client, format!("[{db} {addr}]"));
        assert_eq!(args, want);
    }

    // RESET ends monitor mode: nothing more arrives after its reply.
    assert_eq!(run(&mut m, &["RESET"]), "+RESET");
    run(&mut c, &["SET", "after", "reset"]);
    assert_eq!(run(&mut m, &["PING"]), "+PONG");
    // MONITOR is refused inside a transaction.
    run(&mut m, &["MULTI"]);
    assert_eq!(
        run(&mut m, &["MONITOR"]),
        "-ERR Command not allowed inside a transaction"
    );
    run(&mut m, &["DISCARD"]);
}

#[test]
fn a_disconnected_monitor_is_forgotten() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(run(&mut a, &["MONITOR"]), "+OK");
    assert_eq!(run(&mut b, &["MONITOR"]), "+OK");
    drop(a);
    let mut c = s.raw();
    // Many commands after the disconnect: the server keeps serving and feeding the other one.
    for i in 0..200 {
        run(&mut c, &["SET", "k", &i.to_string()]);
    }
    let mut seen = 0;
    while seen < 200 {
        let line = b.line();
        if line.contains("\"SET\" \"k\"") {
            seen += 1;
        }
    }
    assert_eq!(run(&mut c, &["GET", "k"]), "199");
}
