//! Connection commands against the real binary: PING, ECHO, HELLO (RESP2/RESP3), AUTH with and
//! without `requirepass`, SELECT, QUIT, RESET, every CLIENT subcommand, and the gate's
//! unknown-command / arity / NOAUTH texts. Exact replies are compared on raw sockets.

mod common;
use common::{run as cmd, Raw, Server};
use std::io::Read;
use std::time::{Duration, Instant};

/// Reads a HELLO reply whose header line is `header` and returns its fields as (key, value) pairs.
fn hello_fields(r: &mut Raw, header: &str) -> Vec<(String, String)> {
    assert_eq!(r.line(), header);
    (0..7).map(|_| (r.reply(), r.reply())).collect()
}

fn field(line: &str, name: &str) -> String {
    line.trim_end_matches('\n')
        .split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name}= in {line}"))
        .to_string()
}

/// Waits until exactly `n` clients are connected (the start-up readiness probe and connections
/// killed a moment ago may still be on their way out).
fn wait_clients(r: &mut Raw, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let list = cmd(r, &["CLIENT", "LIST"]);
        if list.lines().count() == n {
            return;
        }
        assert!(Instant::now() < deadline, "expected {n} clients: {list}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn client_id(r: &mut Raw) -> String {
    let id = cmd(r, &["CLIENT", "ID"]);
    id.strip_prefix(':').expect("integer id").to_string()
}

#[test]
fn ping_and_echo() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["PING"]), "+PONG");
    assert_eq!(cmd(&mut r, &["ping", "hello world"]), "hello world");
    r.cmd(&[b"PING", b""]);
    assert_eq!(r.line(), "$0");
    assert_eq!(r.line(), "");
    assert_eq!(
        cmd(&mut r, &["PING", "a", "b"]),
        "-ERR wrong number of arguments for 'ping' command"
    );
    // Binary-safe: CR, LF and NUL come back untouched.
    r.cmd(&[b"ECHO", b"bin\r\n\x00ary"]);
    assert_eq!(r.line(), "$9");
    let mut body = [0u8; 11];
    r.reader.read_exact(&mut body).unwrap();
    assert_eq!(&body, b"bin\r\n\x00ary\r\n");
    assert_eq!(
        cmd(&mut r, &["ECHO"]),
        "-ERR wrong number of arguments for 'echo' command"
    );
    assert_eq!(
        cmd(&mut r, &["ECHO", "a", "b"]),
        "-ERR wrong number of arguments for 'echo' command"
    );
    // Inline commands reach the same handlers.
    r.send(b"PING\r\necho inline\r\n");
    assert_eq!(r.reply(), "+PONG");
    assert_eq!(r.reply(), "inline");
    // RESP3: PING is still a simple string.
    r.cmd(&[b"HELLO", b"3"]);
    hello_fields(&mut r, "%7");
    assert_eq!(cmd(&mut r, &["PING"]), "+PONG");
    assert_eq!(cmd(&mut r, &["PING", "x"]), "x");
}

#[test]
fn gate_unknown_command_and_arity_texts() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        cmd(&mut r, &["NOSUCHCMD"]),
        "-ERR unknown command 'NOSUCHCMD', with args beginning with: "
    );
    assert_eq!(
        cmd(&mut r, &["nosuchcmd", "a", "b c"]),
        "-ERR unknown command 'nosuchcmd', with args beginning with: 'a' 'b c' "
    );
    // Arguments are shown up to 128 characters in total.
    let long = "x".repeat(200);
    let e = cmd(&mut r, &["nosuch", &long, "next"]);
    assert_eq!(
        e,
        format!(
            "-ERR unknown command 'nosuch', with args beginning with: '{}' ",
            "x".repeat(128)
        )
    );
    let e = cmd(&mut r, &["nosuch", &"a".repeat(100), &"b".repeat(100), "c"]);
    assert_eq!(
        e,
        format!(
            "-ERR unknown command 'nosuch', with args beginning with: '{}' '{}' ",
            "a".repeat(100),
            "b".repeat(25)
        )
    );
    // The command name is cut at 128 characters too.
    let name = "Z".repeat(300);
    let e = cmd(&mut r, &[&name]);
    assert_eq!(
        e,
        format!(
            "-ERR unknown command '{}', with args beginning with: ",
            "Z".repeat(128)
        )
    );
    // Newlines cannot break the framing of the error line.
    assert_eq!(
        cmd(&mut r, &["bad\r\ncmd", "x\ny"]),
        "-ERR unknown command 'bad  cmd', with args beginning with: 'x y' "
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT"]),
        "-ERR wrong number of arguments for 'client' command"
    );
    assert_eq!(
        cmd(&mut r, &["client", "nosuch", "x"]),
        "-ERR unknown subcommand 'nosuch'. Try CLIENT HELP."
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETNAME"]),
        "-ERR wrong number of arguments for 'client|setname' command"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "ID", "extra"]),
        "-ERR wrong number of arguments for 'client|id' command"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "KILL"]),
        "-ERR wrong number of arguments for 'client|kill' command"
    );
    assert_eq!(
        cmd(&mut r, &["SELECT"]),
        "-ERR wrong number of arguments for 'select' command"
    );
    assert_eq!(
        cmd(&mut r, &["RESET", "x"]),
        "-ERR wrong number of arguments for 'reset' command"
    );
    assert_eq!(
        cmd(&mut r, &["AUTH"]),
        "-ERR wrong number of arguments for 'auth' command"
    );
    // Not implemented, so not registered.
    assert_eq!(
        cmd(&mut r, &["CLIENT", "TRACKING", "x"]),
        "-ERR unknown subcommand 'TRACKING'. Try CLIENT HELP."
    );
    assert_eq!(
        cmd(&mut r, &["PING"]),
        "+PONG",
        "errors keep the connection"
    );
}

#[test]
fn hello_replies_in_resp2_and_resp3() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let id = client_id(&mut r);

    // No arguments: the map in the current protocol (RESP2: a flat array).
    r.cmd(&[b"HELLO"]);
    let f = hello_fields(&mut r, "*14");
    let expect = vec![
        ("server", "redis".to_string()),
        ("version", "7.2.0".to_string()),
        ("proto", ":2".to_string()),
        ("id", format!(":{id}")),
        ("mode", "standalone".to_string()),
        ("role", "master".to_string()),
        ("modules", "[]".to_string()),
    ];
    let expect: Vec<(String, String)> = expect
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    assert_eq!(f, expect);

    // HELLO 3 switches; the reply itself is already RESP3.
    r.cmd(&[b"HELLO", b"3"]);
    assert_eq!(r.line(), "%7");
    assert_eq!(r.line(), "$6");
    assert_eq!(r.line(), "server");
    assert_eq!(r.line(), "$5");
    assert_eq!(r.line(), "redis");
    assert_eq!(r.reply(), "version");
    assert_eq!(r.reply(), "7.2.0");
    assert_eq!(r.reply(), "proto");
    assert_eq!(r.line(), ":3");
    assert_eq!(r.reply(), "id");
    assert_eq!(r.line(), format!(":{id}"));
    assert_eq!(r.reply(), "mode");
    assert_eq!(r.reply(), "standalone");
    assert_eq!(r.reply(), "role");
    assert_eq!(r.reply(), "master");
    assert_eq!(r.reply(), "modules");
    assert_eq!(r.line(), "*0");

    // Now RESP3 nulls, and HELLO without arguments keeps RESP3.
    r.cmd(&[b"CLIENT", b"GETNAME"]);
    assert_eq!(r.line(), "_");
    r.cmd(&[b"HELLO"]);
    let f = hello_fields(&mut r, "%7");
    assert_eq!(f[2], ("proto".into(), ":3".into()));
    assert!(cmd(&mut r, &["CLIENT", "INFO"]).contains(" resp=3 "));

    // Back to RESP2.
    r.cmd(&[b"HELLO", b"2"]);
    let f = hello_fields(&mut r, "*14");
    assert_eq!(f[2], ("proto".into(), ":2".into()));
    r.cmd(&[b"CLIENT", b"GETNAME"]);
    assert_eq!(r.line(), "$-1");
    assert!(cmd(&mut r, &["CLIENT", "INFO"]).contains(" resp=2 "));
}

#[test]
fn hello_options_and_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        cmd(&mut r, &["HELLO", "three"]),
        "-ERR Protocol version is not an integer or out of range"
    );
    assert_eq!(
        cmd(&mut r, &["HELLO", "03"]),
        "-ERR Protocol version is not an integer or out of range"
    );
    for v in ["1", "4", "0", "-3"] {
        assert_eq!(
            cmd(&mut r, &["HELLO", v]),
            "-NOPROTO unsupported protocol version"
        );
    }
    assert_eq!(
        cmd(&mut r, &["HELLO", "3", "FOO"]),
        "-ERR Syntax error in HELLO option 'FOO'"
    );
    // AUTH needs two values, SETNAME one.
    assert_eq!(
        cmd(&mut r, &["HELLO", "3", "AUTH", "default"]),
        "-ERR Syntax error in HELLO option 'AUTH'"
    );
    assert_eq!(
        cmd(&mut r, &["HELLO", "3", "SETNAME"]),
        "-ERR Syntax error in HELLO option 'SETNAME'"
    );
    // The protocol version is required before options.
    assert_eq!(
        cmd(&mut r, &["HELLO", "SETNAME", "x"]),
        "-ERR Protocol version is not an integer or out of range"
    );
    assert_eq!(
        cmd(&mut r, &["HELLO", "3", "SETNAME", "has space"]),
        "-ERR Client names cannot contain spaces, newlines or special characters."
    );
    // A failed HELLO changes nothing.
    r.cmd(&[b"CLIENT", b"GETNAME"]);
    assert_eq!(r.line(), "$-1");

    // SETNAME, case-insensitive options, and AUTH with the nopass default user.
    r.cmd(&[
        b"hello",
        b"2",
        b"setname",
        b"conn-a",
        b"auth",
        b"default",
        b"anything",
    ]);
    let f = hello_fields(&mut r, "*14");
    assert_eq!(f[0], ("server".into(), "redis".into()));
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "conn-a");
    assert_eq!(
        cmd(&mut r, &["HELLO", "3", "AUTH", "nosuchuser", "pw"]),
        "-WRONGPASS invalid username-password pair or user is disabled."
    );
    // The last SETNAME wins; an empty name clears it.
    r.cmd(&[b"HELLO", b"2", b"SETNAME", b"x", b"SETNAME", b"y"]);
    hello_fields(&mut r, "*14");
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "y");
    r.cmd(&[b"HELLO", b"2", b"SETNAME", b""]);
    hello_fields(&mut r, "*14");
    assert_eq!(cmd(&mut r, &["CLIENT", "GETNAME"]), "(nil)");
}

#[test]
fn auth_without_requirepass() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        cmd(&mut r, &["AUTH", "secret"]),
        "-ERR AUTH <password> called without any password configured for the default user. \
         Are you sure your configuration is correct?"
    );
    // The default user has no password: any password is accepted for it.
    assert_eq!(cmd(&mut r, &["AUTH", "default", "whatever"]), "+OK");
    assert_eq!(
        cmd(&mut r, &["AUTH", "alice", "whatever"]),
        "-WRONGPASS invalid username-password pair or user is disabled."
    );
    assert_eq!(cmd(&mut r, &["AUTH", "a", "b", "c"]), "-ERR syntax error");
    assert_eq!(cmd(&mut r, &["PING"]), "+PONG");
}

#[test]
fn requirepass_gates_commands_until_auth() {
    let s = Server::start(&["--requirepass", "secret"]);
    let mut r = s.raw();
    const NOAUTH: &str = "-NOAUTH Authentication required.";
    assert_eq!(cmd(&mut r, &["PING"]), NOAUTH);
    assert_eq!(cmd(&mut r, &["ECHO", "x"]), NOAUTH);
    assert_eq!(cmd(&mut r, &["SELECT", "1"]), NOAUTH);
    assert_eq!(cmd(&mut r, &["CLIENT", "ID"]), NOAUTH);
    assert_eq!(cmd(&mut r, &["CLIENT", "SETINFO", "LIB-NAME", "x"]), NOAUTH);
    // Existence and arity are checked before authentication, as in Redis.
    assert_eq!(
        cmd(&mut r, &["NOSUCH"]),
        "-ERR unknown command 'NOSUCH', with args beginning with: "
    );
    assert_eq!(
        cmd(&mut r, &["ECHO"]),
        "-ERR wrong number of arguments for 'echo' command"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "NOSUCH"]),
        "-ERR unknown subcommand 'NOSUCH'. Try CLIENT HELP."
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "ID", "x"]),
        "-ERR wrong number of arguments for 'client|id' command"
    );
    assert_eq!(
        cmd(&mut r, &["HELLO", "3"]),
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the \
         HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
         select the RESP protocol version at the same time"
    );
    assert_eq!(
        cmd(&mut r, &["HELLO"]),
        "-NOAUTH HELLO must be called with the client already authenticated, otherwise the \
         HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and \
         select the RESP protocol version at the same time"
    );
    const WRONGPASS: &str = "-WRONGPASS invalid username-password pair or user is disabled.";
    assert_eq!(cmd(&mut r, &["AUTH", "wrong"]), WRONGPASS);
    assert_eq!(cmd(&mut r, &["AUTH", "default", "wrong"]), WRONGPASS);
    assert_eq!(cmd(&mut r, &["AUTH", "admin", "secret"]), WRONGPASS);
    assert_eq!(cmd(&mut r, &["AUTH", "SECRET"]), WRONGPASS);
    assert_eq!(
        cmd(&mut r, &["HELLO", "3", "AUTH", "default", "nope"]),
        WRONGPASS
    );
    assert_eq!(cmd(&mut r, &["PING"]), NOAUTH);
    assert_eq!(cmd(&mut r, &["AUTH", "secret"]), "+OK");
    assert_eq!(cmd(&mut r, &["PING"]), "+PONG");
    // A later failed AUTH does not log the connection out.
    assert_eq!(cmd(&mut r, &["AUTH", "wrong"]), WRONGPASS);
    assert_eq!(cmd(&mut r, &["PING"]), "+PONG");
    // Two-argument form.
    let mut r2 = s.raw();
    assert_eq!(cmd(&mut r2, &["AUTH", "default", "secret"]), "+OK");
    assert_eq!(cmd(&mut r2, &["ECHO", "in"]), "in");

    // HELLO 3 AUTH authenticates and switches protocol at once.
    let mut r3 = s.raw();
    r3.cmd(&[
        b"HELLO", b"3", b"AUTH", b"default", b"secret", b"SETNAME", b"h3",
    ]);
    let f = hello_fields(&mut r3, "%7");
    assert_eq!(f[2], ("proto".into(), ":3".into()));
    assert_eq!(cmd(&mut r3, &["PING"]), "+PONG");
    assert_eq!(cmd(&mut r3, &["CLIENT", "GETNAME"]), "h3");
    r3.cmd(&[b"HELLO"]);
    hello_fields(&mut r3, "%7");

    // A failed HELLO AUTH neither switches protocol nor sets the name.
    let mut r4 = s.raw();
    assert_eq!(
        cmd(
            &mut r4,
            &["HELLO", "3", "AUTH", "default", "bad", "SETNAME", "n"]
        ),
        WRONGPASS
    );
    assert_eq!(cmd(&mut r4, &["AUTH", "secret"]), "+OK");
    r4.cmd(&[b"CLIENT", b"GETNAME"]);
    assert_eq!(r4.line(), "$-1");

    // QUIT needs no authentication.
    let mut r5 = s.raw();
    assert_eq!(cmd(&mut r5, &["QUIT"]), "+OK");
    assert!(r5.closed());

    // RESET logs the connection out again when a password is set.
    assert_eq!(cmd(&mut r2, &["RESET"]), "+RESET");
    assert_eq!(cmd(&mut r2, &["PING"]), NOAUTH);
    assert_eq!(cmd(&mut r2, &["RESET"]), "+RESET", "RESET needs no auth");
    assert_eq!(cmd(&mut r2, &["AUTH", "secret"]), "+OK");
    assert_eq!(cmd(&mut r2, &["PING"]), "+PONG");

    // A client library connecting with a password works end to end.
    let url = format!("redis://:secret@127.0.0.1:{}/", s.port);
    let mut con = redis::Client::open(url.as_str())
        .and_then(|c| c.get_connection())
        .expect("connect with password");
    let pong: String = redis::cmd("PING").query(&mut con).expect("ping");
    assert_eq!(pong, "PONG");
    let mut con3 = redis::Client::open(format!("{url}?protocol=resp3").as_str())
        .and_then(|c| c.get_connection())
        .expect("connect resp3 with password");
    let pong: String = redis::cmd("PING").query(&mut con3).expect("ping");
    assert_eq!(pong, "PONG");
}

#[test]
fn unauthenticated_clients_get_small_protocol_limits() {
    let s = Server::start(&["--requirepass", "secret"]);

    // More than 10 arguments before AUTH: protocol error, then the connection is closed.
    let mut r = s.raw();
    let mut big = b"*11\r\n".to_vec();
    for _ in 0..11 {
        big.extend_from_slice(b"$1\r\na\r\n");
    }
    r.send(&big);
    assert_eq!(
        r.reply(),
        "-ERR Protocol error: unauthenticated multibulk length"
    );
    assert!(r.closed());

    // Ten arguments are fine (and get NOAUTH).
    let mut r = s.raw();
    let mut ten = b"*10\r\n$4\r\nPING\r\n".to_vec();
    for _ in 0..9 {
        ten.extend_from_slice(b"$1\r\na\r\n");
    }
    r.send(&ten);
    assert_eq!(r.reply(), "-NOAUTH Authentication required.");

    // Bulk arguments above 16 KiB before AUTH are refused too.
    let mut r = s.raw();
    r.send(b"*2\r\n$4\r\nAUTH\r\n$16385\r\n");
    assert_eq!(
        r.reply(),
        "-ERR Protocol error: unauthenticated bulk length"
    );
    assert!(r.closed());

    // After AUTH the limits lift, within the same pipeline too.
    let mut r = s.raw();
    let mut p = b"*2\r\n$4\r\nAUTH\r\n$6\r\nsecret\r\n".to_vec();
    p.extend_from_slice(b"*11\r\n$4\r\nPING\r\n");
    for _ in 0..10 {
        p.extend_from_slice(b"$1\r\na\r\n");
    }
    r.send(&p);
    assert_eq!(r.reply(), "+OK");
    assert_eq!(
        r.reply(),
        "-ERR wrong number of arguments for 'ping' command"
    );
    let long = "v".repeat(20_000);
    assert_eq!(cmd(&mut r, &["ECHO", &long]), long);
}

#[test]
fn select_validates_and_isolates_databases() {
    let s = Server::start(&["--databases", "4"]);
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["SELECT", "3"]), "+OK");
    assert_eq!(cmd(&mut r, &["SELECT", "0"]), "+OK");
    assert_eq!(
        cmd(&mut r, &["SELECT", "4"]),
        "-ERR DB index is out of range"
    );
    assert_eq!(
        cmd(&mut r, &["SELECT", "-1"]),
        "-ERR DB index is out of range"
    );
    for bad in ["abc", "01", "+1", " 1", "1.0", ""] {
        assert_eq!(
            cmd(&mut r, &["SELECT", bad]),
            "-ERR value is not an integer or out of range",
            "{bad:?}"
        );
    }
    for huge in ["2147483648", "-2147483649", "99999999999999999"] {
        assert_eq!(
            cmd(&mut r, &["SELECT", huge]),
            "-ERR value is out of range, value must between -2147483648 and 2147483647"
        );
    }
    assert_eq!(
        cmd(&mut r, &["SELECT", "2147483647"]),
        "-ERR DB index is out of range"
    );
    // The selected db shows in CLIENT INFO right away, even within one pipeline.
    r.send(b"SELECT 2\r\nCLIENT INFO\r\n");
    assert_eq!(r.reply(), "+OK");
    assert_eq!(field(&r.reply(), "db"), "2");
    // A failed SELECT keeps the current db.
    assert_eq!(
        cmd(&mut r, &["SELECT", "9"]),
        "-ERR DB index is out of range"
    );
    assert_eq!(field(&cmd(&mut r, &["CLIENT", "INFO"]), "db"), "2");
}

#[test]
fn select_isolates_keys() {
    let s = Server::start(&["--databases", "4"]);
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["SELECT", "2"]), "+OK");
    assert_eq!(cmd(&mut r, &["SET", "k", "in-two"]), "+OK");
    assert_eq!(cmd(&mut r, &["GET", "k"]), "in-two");
    assert_eq!(cmd(&mut r, &["SELECT", "1"]), "+OK");
    assert_eq!(cmd(&mut r, &["GET", "k"]), "(nil)");
    assert_eq!(cmd(&mut r, &["SET", "k", "in-one"]), "+OK");
    assert_eq!(cmd(&mut r, &["SELECT", "2"]), "+OK");
    assert_eq!(cmd(&mut r, &["GET", "k"]), "in-two");
    // Another connection starts in db 0.
    let mut other = s.raw();
    assert_eq!(cmd(&mut other, &["GET", "k"]), "(nil)");
    assert_eq!(cmd(&mut other, &["SELECT", "1"]), "+OK");
    assert_eq!(cmd(&mut other, &["GET", "k"]), "in-one");
}

#[test]
fn quit_replies_ok_then_closes() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["QUIT"]), "+OK");
    assert!(r.closed());
    // QUIT ignores extra arguments (arity -1); commands pipelined after it are not run.
    let mut r = s.raw();
    r.send(b"QUIT now please\r\nCLIENT SETNAME ghost\r\n");
    assert_eq!(r.reply(), "+OK");
    assert!(r.closed());
    let mut r = s.raw();
    let list = cmd(&mut r, &["CLIENT", "LIST"]);
    assert!(!list.contains("name=ghost"), "{list}");
}

#[test]
fn reset_restores_a_fresh_connection() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["SELECT", "5"]), "+OK");
    assert_eq!(cmd(&mut r, &["CLIENT", "SETNAME", "before"]), "+OK");
    assert_eq!(cmd(&mut r, &["CLIENT", "NO-EVICT", "on"]), "+OK");
    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETINFO", "LIB-NAME", "mylib"]),
        "+OK"
    );
    r.cmd(&[b"HELLO", b"3"]);
    hello_fields(&mut r, "%7");
    let id = client_id(&mut r);

    r.cmd(&[b"RESET"]);
    assert_eq!(r.line(), "+RESET");
    let info = cmd(&mut r, &["CLIENT", "INFO"]);
    assert_eq!(field(&info, "db"), "0");
    assert_eq!(field(&info, "name"), "");
    assert_eq!(field(&info, "resp"), "2");
    assert_eq!(field(&info, "flags"), "N");
    assert_eq!(field(&info, "id"), id, "same connection");
    assert_eq!(
        field(&info, "lib-name"),
        "mylib",
        "library info survives RESET"
    );
    r.cmd(&[b"CLIENT", b"GETNAME"]);
    assert_eq!(r.line(), "$-1", "RESP2 null after RESET");
    // Without a password, the connection stays usable.
    assert_eq!(cmd(&mut r, &["PING"]), "+PONG");

    // RESET runs even inside MULTI, and discards the transaction.
    assert_eq!(cmd(&mut r, &["MULTI"]), "+OK");
    assert_eq!(cmd(&mut r, &["PING"]), "+QUEUED");
    assert_eq!(cmd(&mut r, &["RESET"]), "+RESET");
    assert_eq!(cmd(&mut r, &["EXEC"]), "-ERR EXEC without MULTI");
}

#[test]
fn client_id_setname_getname() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    let ia: u64 = client_id(&mut a).parse().unwrap();
    let ib: u64 = client_id(&mut b).parse().unwrap();
    assert!(ib > ia, "ids grow with each connection");
    assert_eq!(client_id(&mut a), ia.to_string(), "stable");

    assert_eq!(cmd(&mut a, &["CLIENT", "GETNAME"]), "(nil)");
    assert_eq!(cmd(&mut a, &["CLIENT", "SETNAME", "worker-1"]), "+OK");
    assert_eq!(cmd(&mut a, &["client", "getname"]), "worker-1");
    const BAD: &str = "-ERR Client names cannot contain spaces, newlines or special characters.";
    for bad in [
        "two words",
        "line\nbreak",
        "tab\there",
        "caf\u{e9}",
        "del\u{7f}",
    ] {
        assert_eq!(cmd(&mut a, &["CLIENT", "SETNAME", bad]), BAD, "{bad:?}");
    }
    assert_eq!(cmd(&mut a, &["CLIENT", "GETNAME"]), "worker-1", "unchanged");
    assert_eq!(cmd(&mut a, &["CLIENT", "SETNAME", "!~{}[]"]), "+OK");
    assert_eq!(cmd(&mut a, &["CLIENT", "GETNAME"]), "!~{}[]");
    assert_eq!(cmd(&mut a, &["CLIENT", "SETNAME", ""]), "+OK");
    a.cmd(&[b"CLIENT", b"GETNAME"]);
    assert_eq!(a.line(), "$-1");
    // Names are per connection.
    assert_eq!(cmd(&mut b, &["CLIENT", "GETNAME"]), "(nil)");
}

#[test]
fn client_list_and_info() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    let mut b = s.raw();
    assert_eq!(cmd(&mut a, &["CLIENT", "SETNAME", "alpha"]), "+OK");
    assert_eq!(cmd(&mut b, &["CLIENT", "SETNAME", "beta"]), "+OK");
    assert_eq!(cmd(&mut b, &["SELECT", "3"]), "+OK");
    let ia = client_id(&mut a);
    let ib = client_id(&mut b);
    wait_clients(&mut a, 2);

    let list = cmd(&mut a, &["CLIENT", "LIST"]);
    assert!(list.ends_with('\n'));
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 2, "{list}");
    assert_eq!(field(lines[0], "id"), ia);
    assert_eq!(field(lines[0], "name"), "alpha");
    assert_eq!(field(lines[1], "id"), ib);
    assert_eq!(field(lines[1], "name"), "beta");
    assert_eq!(field(lines[1], "db"), "3");
    // Field order as in Redis.
    let keys: Vec<&str> = lines[0]
        .split(' ')
        .map(|kv| kv.split('=').next().unwrap())
        .collect();
    assert_eq!(
        &keys[..8],
        &["id", "addr", "laddr", "fd", "name", "age", "idle", "flags"]
    );
    assert_eq!(keys.last(), Some(&"lib-ver"));
    assert_eq!(field(lines[0], "laddr"), format!("127.0.0.1:{}", s.port));
    assert_eq!(
        field(lines[0], "addr"),
        a.stream.local_addr().unwrap().to_string()
    );
    assert_eq!(field(lines[0], "user"), "default");

    // TYPE filter.
    assert_eq!(
        cmd(&mut a, &["CLIENT", "LIST", "TYPE", "normal"])
            .lines()
            .count(),
        2
    );
    for t in ["pubsub", "master", "replica", "SLAVE"] {
        assert_eq!(cmd(&mut a, &["CLIENT", "LIST", "TYPE", t]), "", "{t}");
    }
    assert_eq!(
        cmd(&mut a, &["CLIENT", "LIST", "TYPE", "bogus"]),
        "-ERR Unknown client type 'bogus'"
    );
    // ID filter: listed in the order asked, unknown ids skipped.
    let l = cmd(&mut a, &["CLIENT", "LIST", "ID", &ib, "999999", &ia]);
    let ids: Vec<String> = l.lines().map(|x| field(x, "id")).collect();
    assert_eq!(ids, vec![ib.clone(), ia.clone()]);
    assert_eq!(cmd(&mut a, &["CLIENT", "LIST", "ID", "-5"]), "");
    assert_eq!(
        cmd(&mut a, &["CLIENT", "LIST", "ID", &ia, "x"]),
        "-ERR Invalid client ID"
    );
    for bad in [
        &["CLIENT", "LIST", "TYPE"][..],
        &["CLIENT", "LIST", "ID"],
        &["CLIENT", "LIST", "foo"],
        &["CLIENT", "LIST", "TYPE", "normal", "x"],
    ] {
        assert_eq!(cmd(&mut a, bad), "-ERR syntax error", "{bad:?}");
    }

    // CLIENT INFO: this connection's line only.
    let info = cmd(&mut b, &["CLIENT", "INFO"]);
    assert!(
        info.ends_with('\n') && info.lines().count() == 1,
        "{info:?}"
    );
    assert_eq!(field(&info, "id"), ib);
    assert_eq!(field(&info, "name"), "beta");
    assert_eq!(field(&info, "db"), "3");
    assert_eq!(field(&info, "resp"), "2");
    assert_eq!(field(&info, "idle"), "0");
    assert_eq!(field(&info, "flags"), "N");

    // RESP3: verbatim strings with the txt format.
    b.cmd(&[b"HELLO", b"3"]);
    hello_fields(&mut b, "%7");
    b.cmd(&[b"CLIENT", b"INFO"]);
    let header = b.line();
    assert!(header.starts_with('='), "{header}");
    let body = b.line();
    assert!(body.starts_with("txt:id="), "{body}");
    assert_eq!(field(&body, "resp"), "3");
    assert_eq!(b.line(), "", "the line ends with a newline");
    b.cmd(&[b"CLIENT", b"LIST"]);
    assert!(b.line().starts_with('='));
    assert!(b.line().starts_with("txt:id="));
    assert_eq!(b.line().split(' ').next().unwrap(), format!("id={ib}"));
    assert_eq!(b.line(), "");

    // A closed connection disappears from the list.
    drop(a);
    wait_clients(&mut b, 1);
    assert!(!cmd(&mut b, &["CLIENT", "LIST"]).contains("name=alpha"));
}

#[test]
fn client_kill_forms_and_filters() {
    let s = Server::start(&[]);
    let mut me = s.raw();
    let my_id = client_id(&mut me);

    // Old form by address.
    let mut v = s.raw();
    client_id(&mut v); // registered by now
    let v_addr = v.stream.local_addr().unwrap().to_string();
    assert_eq!(cmd(&mut me, &["CLIENT", "KILL", &v_addr]), "+OK");
    assert!(v.closed());
    assert_eq!(
        cmd(&mut me, &["CLIENT", "KILL", &v_addr]),
        "-ERR No such client"
    );
    assert_eq!(
        cmd(&mut me, &["CLIENT", "KILL", "1.2.3.4:5"]),
        "-ERR No such client"
    );

    // New form by ID: count, and the victim's connection is closed.
    let mut v = s.raw();
    let vid = client_id(&mut v);
    assert_eq!(cmd(&mut me, &["CLIENT", "KILL", "ID", &vid]), ":1");
    assert!(v.closed());
    assert_eq!(cmd(&mut me, &["CLIENT", "KILL", "ID", &vid]), ":0");
    assert!(!cmd(&mut me, &["CLIENT", "LIST"]).contains(&format!("id={vid} ")));

    // ADDR / LADDR / TYPE / USER filters combine.
    let mut v = s.raw();
    client_id(&mut v); // registered by now
    let v_addr = v.stream.local_addr().unwrap().to_string();
    assert_eq!(
        cmd(
            &mut me,
            &["CLIENT", "KILL", "ADDR", &v_addr, "TYPE", "pubsub"]
        ),
        ":0"
    );
    assert_eq!(
        cmd(
            &mut me,
            &["CLIENT", "KILL", "ADDR", &v_addr, "LADDR", "127.0.0.1:1"]
        ),
        ":0"
    );
    assert_eq!(
        cmd(
            &mut me,
            &[
                "client",
                "kill",
                "addr",
                &v_addr,
                "laddr",
                &format!("127.0.0.1:{}", s.port),
                "type",
                "normal",
                "user",
                "default"
            ]
        ),
        ":1"
    );
    assert!(v.closed());

    // Errors.
    assert_eq!(
        cmd(&mut me, &["CLIENT", "KILL", "ID", "0"]),
        "-ERR client-id should be greater than 0"
    );
    assert_eq!(
        cmd(&mut me, &["CLIENT", "KILL", "ID", "abc"]),
        "-ERR client-id should be greater than 0"
    );
    assert_eq!(
        cmd(&mut me, &["CLIENT", "KILL", "TYPE", "bogus"]),
        "-ERR Unknown client type 'bogus'"
    );
    assert_eq!(
        cmd(&mut me, &["CLIENT", "KILL", "USER", "alice"]),
        "-ERR No such user 'alice'"
    );
    assert_eq!(
        cmd(&mut me, &["CLIENT", "KILL", "SKIPME", "maybe"]),
        "-ERR syntax error"
    );
    assert_eq!(
        cmd(&mut me, &["CLIENT", "KILL", "FOO", "bar"]),
        "-ERR syntax error"
    );
    assert_eq!(
        cmd(&mut me, &["CLIENT", "KILL", "ID", &my_id, "TYPE"]),
        "-ERR syntax error"
    );

    // USER default kills every other client; the caller is skipped by default.
    let mut v1 = s.raw();
    let mut v2 = s.raw();
    client_id(&mut v1);
    client_id(&mut v2);
    wait_clients(&mut me, 3);
    assert_eq!(cmd(&mut me, &["CLIENT", "KILL", "USER", "default"]), ":2");
    assert!(v1.closed());
    assert!(v2.closed());
    assert_eq!(cmd(&mut me, &["CLIENT", "KILL", "ID", &my_id]), ":0");
    assert_eq!(
        cmd(&mut me, &["CLIENT", "KILL", "ID", &my_id, "SKIPME", "yes"]),
        ":0"
    );
    assert_eq!(cmd(&mut me, &["PING"]), "+PONG");

    // Killing yourself: the reply arrives, then the connection closes.
    assert_eq!(
        cmd(&mut me, &["CLIENT", "KILL", "ID", &my_id, "SKIPME", "no"]),
        ":1"
    );
    assert!(me.closed());
    let mut me2 = s.raw();
    let addr = me2.stream.local_addr().unwrap().to_string();
    assert_eq!(cmd(&mut me2, &["CLIENT", "KILL", &addr]), "+OK");
    assert!(me2.closed());
}

#[test]
fn client_no_evict_setinfo_and_help() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["CLIENT", "NO-EVICT", "on"]), "+OK");
    assert_eq!(field(&cmd(&mut r, &["CLIENT", "INFO"]), "flags"), "e");
    assert_eq!(cmd(&mut r, &["client", "no-evict", "OFF"]), "+OK");
    assert_eq!(field(&cmd(&mut r, &["CLIENT", "INFO"]), "flags"), "N");
    assert_eq!(
        cmd(&mut r, &["CLIENT", "NO-EVICT", "maybe"]),
        "-ERR syntax error"
    );

    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETINFO", "LIB-NAME", "redis-py"]),
        "+OK"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETINFO", "lib-ver", "5.0.1"]),
        "+OK"
    );
    let info = cmd(&mut r, &["CLIENT", "INFO"]);
    assert_eq!(field(&info, "lib-name"), "redis-py");
    assert_eq!(field(&info, "lib-ver"), "5.0.1");
    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETINFO", "lib-color", "x"]),
        "-ERR Unrecognized option 'lib-color'"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETINFO", "LIB-NAME", "has space"]),
        "-ERR LIB-NAME cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETINFO", "lib-ver", "1\n2"]),
        "-ERR lib-ver cannot contain spaces, newlines or special characters."
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "SETINFO", "lib-name"]),
        "-ERR wrong number of arguments for 'client|setinfo' command"
    );
    assert_eq!(cmd(&mut r, &["CLIENT", "SETINFO", "lib-name", ""]), "+OK");
    let info = cmd(&mut r, &["CLIENT", "INFO"]);
    assert_eq!(field(&info, "lib-name"), "");
    assert_eq!(field(&info, "lib-ver"), "5.0.1");

    r.cmd(&[b"CLIENT", b"HELP"]);
    let header = r.line();
    let n: usize = header.strip_prefix('*').unwrap().parse().unwrap();
    let lines: Vec<String> = (0..n).map(|_| r.line()).collect();
    assert_eq!(
        lines[0],
        "+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
    assert_eq!(lines[n - 2], "+HELP");
    assert_eq!(lines[n - 1], "+    Print this help.");
    for sub in [
        "GETNAME",
        "ID",
        "INFO",
        "SETNAME <name>",
        "NO-EVICT (ON|OFF)",
        "SETINFO <option> <value>",
    ] {
        assert!(lines.contains(&format!("+{sub}")), "{sub}");
    }
    assert!(
        lines.iter().any(|l| l.starts_with("+PAUSE <timeout>")),
        "CLIENT PAUSE is in the help"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("+TRACKING")),
        "no help for unregistered TRACKING"
    );
    assert_eq!(
        cmd(&mut r, &["CLIENT", "HELP", "x"]),
        "-ERR wrong number of arguments for 'client|help' command"
    );
}

#[test]
fn client_libraries_connect() {
    let s = Server::start(&[]);
    // redis-rs sends CLIENT SETINFO (and HELLO 3 for RESP3) when it connects.
    let mut c2 = s.conn();
    let mut c3 = s.conn3();
    let id2: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c2).unwrap();
    let id3: i64 = redis::cmd("CLIENT").arg("ID").query(&mut c3).unwrap();
    assert_ne!(id2, id3);
    let echoed: String = redis::cmd("ECHO").arg("hi").query(&mut c3).unwrap();
    assert_eq!(echoed, "hi");
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut c3).unwrap();
    assert_eq!(field(&info, "resp"), "3");
    assert_eq!(field(&info, "id"), id3.to_string());
    let () = redis::cmd("SELECT").arg(1).query(&mut c2).unwrap();
    let info: String = redis::cmd("CLIENT").arg("INFO").query(&mut c2).unwrap();
    assert_eq!(field(&info, "db"), "1");
    assert_eq!(field(&info, "resp"), "2");
    // redis-rs announced itself with CLIENT SETINFO on connect.
    assert_eq!(field(&info, "lib-name"), "redis-rs");
    assert!(!field(&info, "lib-ver").is_empty());
}

/// Everything that arrives on `c` within `wait` (read until the socket stays quiet).
fn drain(c: &mut std::net::TcpStream, wait: Duration) -> Vec<u8> {
    c.set_read_timeout(Some(wait)).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = c.read(&mut buf) {
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    got
}

#[test]
fn client_reply_off_on_and_skip() {
    use std::io::Write;
    let s = Server::start(&[]);
    let mut c = std::net::TcpStream::connect(s.addr()).unwrap();
    let wait = Duration::from_millis(300);
    // OFF drops every reply, errors included, until ON (whose +OK is sent).
    c.write_all(b"CLIENT REPLY OFF\r\nSET a 1\r\nGET a\r\nNOSUCH\r\nCLIENT REPLY ON\r\nGET a\r\n")
        .unwrap();
    assert_eq!(drain(&mut c, wait), b"+OK\r\n$1\r\n1\r\n");
    // SKIP drops its own reply and the next command's only.
    c.write_all(b"CLIENT REPLY SKIP\r\nINCR n\r\nINCR n\r\n")
        .unwrap();
    assert_eq!(drain(&mut c, wait), b":2\r\n");
    // A skipped blocking command's later reply is dropped too.
    c.write_all(b"CLIENT REPLY SKIP\r\nBLPOP q 0\r\n").unwrap();
    assert_eq!(drain(&mut c, wait), b"");
    let mut other = s.raw();
    assert_eq!(cmd(&mut other, &["LPUSH", "q", "x"]), ":1");
    c.write_all(b"PING\r\n").unwrap();
    assert_eq!(drain(&mut c, wait), b"+PONG\r\n");
    assert_eq!(
        cmd(&mut other, &["LLEN", "q"]),
        ":0",
        "the BLPOP took the element"
    );
    // Subscription confirmations and published messages are pushes: sent even under OFF (as
    // Redis 7.0.15 does).
    c.write_all(b"CLIENT REPLY OFF\r\nSUBSCRIBE ch\r\n")
        .unwrap();
    assert_eq!(
        drain(&mut c, wait),
        b"*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n"
    );
    assert_eq!(cmd(&mut other, &["PUBLISH", "ch", "m"]), ":1");
    assert_eq!(
        drain(&mut c, wait),
        b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nm\r\n"
    );
    assert_eq!(
        cmd(&mut other, &["CLIENT", "REPLY", "maybe"]),
        "-ERR syntax error"
    );
}

#[test]
fn client_no_touch_leaves_the_lru_clock_alone() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["SET", "k", "v"]), "+OK");
    assert_eq!(cmd(&mut r, &["SET", "t", "v"]), "+OK");
    std::thread::sleep(Duration::from_millis(2100));
    assert_eq!(cmd(&mut r, &["CLIENT", "NO-TOUCH", "ON"]), "+OK");
    assert!(cmd(&mut r, &["CLIENT", "INFO"]).contains(" flags=T "));
    assert_eq!(cmd(&mut r, &["GET", "k"]), "v");
    let idle: i64 = cmd(&mut r, &["OBJECT", "IDLETIME", "k"])[1..]
        .parse()
        .unwrap();
    assert!(idle >= 2, "GET under NO-TOUCH reset the clock: {idle}");
    // TOUCH still touches.
    assert_eq!(cmd(&mut r, &["TOUCH", "t"]), ":1");
    assert_eq!(cmd(&mut r, &["OBJECT", "IDLETIME", "t"]), ":0");
    assert_eq!(cmd(&mut r, &["CLIENT", "NO-TOUCH", "OFF"]), "+OK");
    assert_eq!(cmd(&mut r, &["GET", "k"]), "v");
    assert_eq!(cmd(&mut r, &["OBJECT", "IDLETIME", "k"]), ":0");
    assert_eq!(
        cmd(&mut r, &["CLIENT", "NO-TOUCH", "maybe"]),
        "-ERR syntax error"
    );
}
