//! The HTTP rate-limit endpoint over real sockets: off by default, 200/429 with the IETF
//! headers and the JSON body, shared state with the RESP commands, 400s for bad input, bounded
//! request sizes, and a clean stop on shutdown.

mod common;
use common::{free_port, run as cmd, Server};

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

struct HttpReply {
    status: u16,
    headers: HashMap<String, String>,
    body: String,
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), read to the end.
fn request(port: u16, raw: &str) -> HttpReply {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect http");
    s.set_read_timeout(Some(Duration::from_secs(10))).ok();
    s.write_all(raw.as_bytes()).expect("send");
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    HttpReply {
        status,
        headers,
        body: body.to_string(),
    }
}

fn get(port: u16, path: &str) -> HttpReply {
    request(
        port,
        &format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"),
    )
}

/// Ports the process listens on, from /proc (its socket inodes in LISTEN state).
fn listening_ports(pid: u32) -> HashSet<u16> {
    let mut inodes = HashSet::new();
    for fd in std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("fd dir")
        .flatten()
    {
        if let Ok(target) = std::fs::read_link(fd.path()) {
            let t = target.to_string_lossy().into_owned();
            if let Some(inode) = t.strip_prefix("socket:[").and_then(|s| s.strip_suffix(']')) {
                inodes.insert(inode.to_string());
            }
        }
    }
    let mut ports = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            if cols.len() > 9 && cols[3] == "0A" && inodes.contains(cols[9]) {
                let port = cols[1].rsplit(':').next().unwrap_or("0");
                ports.insert(u16::from_str_radix(port, 16).unwrap_or(0));
            }
        }
    }
    ports
}

#[test]
fn the_endpoint_is_off_by_default() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(
        cmd(&mut r, &["CONFIG", "GET", "http-port"]),
        "[http-port,0]"
    );
    assert_eq!(
        cmd(&mut r, &["CONFIG", "GET", "http-bind"]),
        "[http-bind,127.0.0.1]"
    );
    assert_eq!(listening_ports(s.child.id()), HashSet::from([s.port]));
    // Immutable at run time.
    assert!(
        cmd(&mut r, &["CONFIG", "SET", "http-port", "8080"]).contains("can't set immutable config")
    );
}

fn start_with_http() -> (Server, u16) {
    // The port is picked before the server binds it; retry on a lost race.
    for _ in 0..5 {
        let port = free_port();
        let p = port.to_string();
        let s = Server::start_with(
            &["--http-port", &p],
            Some("ratelimit-policy api fixed-window 2 1000000000000\nratelimit-policy gc gcra 3 3000 1\n"),
        );
        if listening_ports(s.child.id()).contains(&port) {
            return (s, port);
        }
    }
    panic!("could not start with an HTTP port");
}

#[test]
fn check_answers_200_then_429_with_headers_and_json() {
    let (s, port) = start_with_http();
    assert_eq!(listening_ports(s.child.id()), HashSet::from([s.port, port]));
    let health = get(port, "/healthz");
    assert_eq!(
        (health.status, health.body.as_str()),
        (200, "{\"status\":\"ok\"}")
    );

    let first = get(port, "/v1/ratelimit/check?policy=api&key=user%3A1");
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(first.headers["content-type"], "application/json");
    assert_eq!(
        first.headers["ratelimit-policy"],
        "\"api\";q=2;w=1000000000"
    );
    let state = &first.headers["ratelimit"];
    assert!(state.starts_with("\"api\";r=1;t="), "{state}");
    assert!(!first.headers.contains_key("retry-after"));
    assert!(
        first
            .body
            .starts_with("{\"allowed\":true,\"limit\":2,\"remaining\":1,\"reset_after_ms\":"),
        "{}",
        first.body
    );
    assert!(
        first.body.ends_with(",\"retry_after_ms\":0}"),
        "{}",
        first.body
    );

    assert_eq!(
        get(port, "/v1/ratelimit/check?policy=api&key=user%3A1").status,
        200
    );
    let limited = get(port, "/v1/ratelimit/check?key=user%3A1&policy=api");
    assert_eq!(limited.status, 429);
    assert!(limited
        .body
        .starts_with("{\"allowed\":false,\"limit\":2,\"remaining\":0,"));
    let retry: u64 = limited.headers["retry-after"].parse().unwrap();
    assert!(retry > 0 && retry <= 1_000_000_000, "{retry}");
    assert!(limited.headers["ratelimit"].starts_with("\"api\";r=0;t="));

    // The same keyspace and code path as RESP: the key is limited there too, and counted.
    let mut r = s.raw();
    assert!(cmd(&mut r, &["RL.CHECK", "api", "user:1"]).starts_with("[:0,:2,:0,"));
    let info = cmd(&mut r, &["INFO", "ratelimit"]);
    assert!(info.contains("policy_api:allowed=2,limited=2,"), "{info}");
    // A peek over HTTP does not consume or count.
    let peek = get(port, "/v1/ratelimit/check?policy=api&key=fresh&peek=1");
    assert_eq!(peek.status, 200);
    assert_eq!(cmd(&mut r, &["EXISTS", "fresh"]), ":0");
    // COST, including a refund.
    let refund = get(port, "/v1/ratelimit/check?policy=api&key=user%3A1&cost=-1");
    assert_eq!(refund.status, 200);
    assert!(refund.body.contains("\"remaining\":1,"), "{}", refund.body);
    let two = get(port, "/v1/ratelimit/check?policy=api&key=k2&cost=2");
    assert!(two.body.contains("\"remaining\":0,"), "{}", two.body);
}

#[test]
fn limit_with_inline_parameters() {
    let (s, port) = start_with_http();
    let base = "/v1/ratelimit/limit?key=a+b&algorithm=gcra&limit=2&window=10000";
    let ok = get(port, base);
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.headers["ratelimit-policy"], "\"gcra\";q=2;w=10");
    assert_eq!(ok.headers["ratelimit"], "\"gcra\";r=1;t=5");
    assert_eq!(
        ok.body,
        "{\"allowed\":true,\"limit\":2,\"remaining\":1,\"reset_after_ms\":5000,\"retry_after_ms\":0}"
    );
    assert_eq!(get(port, base).status, 200);
    let limited = get(port, base);
    assert_eq!(limited.status, 429);
    let retry: u64 = limited.headers["retry-after"].parse().unwrap();
    assert!((1..=5).contains(&retry), "{retry}");
    // '+' is a space: the RESP key is "a b".
    let mut r = s.raw();
    assert_eq!(cmd(&mut r, &["EXISTS", "a b"]), ":1");
    // BURST, a cost that can never pass (no Retry-After), and other algorithms.
    let burst = get(
        port,
        "/v1/ratelimit/limit?key=t&algorithm=token-bucket&limit=1&window=1000&burst=4",
    );
    assert!(
        burst.body.contains("\"limit\":4,\"remaining\":3,"),
        "{}",
        burst.body
    );
    let never = get(
        port,
        "/v1/ratelimit/limit?key=t2&algorithm=sliding-log&limit=1&window=1000&cost=5",
    );
    assert_eq!(never.status, 429);
    assert!(
        never.body.ends_with("\"retry_after_ms\":-1}"),
        "{}",
        never.body
    );
    assert!(!never.headers.contains_key("retry-after"));
    let info = cmd(&mut r, &["INFO", "ratelimit"]);
    assert!(info.contains("rl_limit_allowed:3\r\n"), "{info}");
    assert!(info.contains("rl_limit_limited:2\r\n"), "{info}");
}

#[test]
fn bad_requests_get_400_with_a_json_error() {
    let (s, port) = start_with_http();
    let mut r = s.raw();
    cmd(&mut r, &["SET", "plain", "x"]);
    let cases: &[(&str, u16, &str)] = &[
        (
            "/v1/ratelimit/check?policy=api",
            400,
            "missing parameter 'key'",
        ),
        (
            "/v1/ratelimit/check?key=k",
            400,
            "missing parameter 'policy'",
        ),
        (
            "/v1/ratelimit/check?policy=nope&key=k",
            400,
            "no such rate limit policy 'nope'",
        ),
        (
            "/v1/ratelimit/check?policy=api&key=k&cost=x",
            400,
            "parameter 'cost' must be an integer",
        ),
        (
            "/v1/ratelimit/check?policy=api&key=k&peek=maybe",
            400,
            "parameter 'peek' must be 1, 0, true or false",
        ),
        (
            "/v1/ratelimit/check?policy=api&key=k&limit=3",
            400,
            "unknown parameter 'limit'",
        ),
        (
            "/v1/ratelimit/check?policy=api&key=k&key=j",
            400,
            "duplicate parameter 'key'",
        ),
        (
            "/v1/ratelimit/check?policy=api&key=%zz",
            400,
            "invalid percent-encoding in the query",
        ),
        (
            "/v1/ratelimit/limit?key=k&algorithm=nope&limit=1&window=1",
            400,
            "unknown rate-limit algorithm 'nope'",
        ),
        (
            "/v1/ratelimit/limit?key=k&algorithm=gcra&window=1",
            400,
            "missing parameter 'limit'",
        ),
        (
            "/v1/ratelimit/limit?key=k&algorithm=gcra&limit=0&window=1",
            400,
            "LIMIT must be greater than 0",
        ),
        (
            "/v1/ratelimit/limit?key=k&algorithm=gcra&limit=1&window=-1",
            400,
            "WINDOW must be greater than 0",
        ),
        (
            "/v1/ratelimit/limit?key=k&algorithm=fixed-window&limit=1&window=9&burst=2",
            400,
            "BURST is not supported by the fixed-window algorithm",
        ),
        (
            "/v1/ratelimit/limit?key=plain&algorithm=gcra&limit=1&window=9",
            409,
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        ("/v1/ratelimit/nothing", 404, "not found"),
        ("/", 404, "not found"),
    ];
    for (path, status, message) in cases {
        let reply = get(port, path);
        assert_eq!(reply.status, *status, "{path}: {}", reply.body);
        assert_eq!(reply.body, format!("{{\"error\":\"{message}\"}}"), "{path}");
        assert_eq!(reply.headers["content-type"], "application/json");
    }
    assert_eq!(cmd(&mut r, &["EXISTS", "k"]), ":0");
    assert_eq!(cmd(&mut r, &["GET", "plain"]), "x");

    let post = request(
        port,
        "POST /v1/ratelimit/check?policy=api&key=k HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(post.status, 405);
    assert_eq!(post.headers["allow"], "GET");

    // An oversized request head is refused without harm; garbage is a 400 from the parser.
    let huge = format!(
        "GET /v1/ratelimit/check?policy=api&key={} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        "k".repeat(64 * 1024)
    );
    let big = request(port, &huge);
    assert!(
        big.status == 431 || big.status == 414 || big.status == 400,
        "{}",
        big.status
    );
    let garbage = request(port, "NOT HTTP AT ALL\r\n\r\n");
    assert_eq!(garbage.status, 400);
    assert_eq!(get(port, "/healthz").status, 200, "still serving");
}

#[test]
fn the_endpoint_stops_with_the_server() {
    let (mut s, port) = start_with_http();
    // An idle keep-alive connection must not hold the shutdown up.
    let mut idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    idle.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut r = s.raw();
    r.cmd(&[b"SHUTDOWN", b"NOSAVE"]);
    let status = s.wait_exit(Duration::from_secs(10)).expect("server exits");
    assert!(status.success());
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// `GET /metrics`: INFO's numbers in Prometheus's text format, typed, with per-command,
/// per-error, per-database and per-policy series; every line parses.
#[test]
fn metrics_export_every_info_number() {
    let (s, port) = start_with_http();
    let mut r = s.raw();
    cmd(&mut r, &["CONFIG", "RESETSTAT"]);
    cmd(&mut r, &["SET", "a", "1"]);
    cmd(&mut r, &["GET", "a"]);
    assert!(cmd(&mut r, &["LPUSH", "a", "x"]).starts_with("-WRONGTYPE"));
    assert_eq!(
        get(port, "/v1/ratelimit/check?policy=api&key=k").status,
        200
    );
    let reply = get(port, "/metrics");
    assert_eq!(reply.status, 200);
    assert_eq!(
        reply.headers.get("content-type").map(String::as_str),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    let body = &reply.body;
    for want in [
        "ringkv_commands_total{cmd=\"set\"} 1\n",
        "ringkv_commands_failed_calls_total{cmd=\"lpush\"} 1\n",
        "ringkv_errors_total{err=\"WRONGTYPE\"} 1\n",
        "ringkv_db_keys{db=\"0\"} ",
        "ringkv_latency_percentiles_usec{cmd=\"set\",quantile=\"0.999\"} ",
        "# TYPE ringkv_keyspace_hits_total counter\nringkv_keyspace_hits_total 1\n",
        "# TYPE ringkv_connected_clients gauge\nringkv_connected_clients 1\n",
        "ringkv_ratelimit_allowed_total{name=\"policy_api\"} 1\n",
        "# TYPE ringkv_used_memory gauge\n",
    ] {
        assert!(body.contains(want), "{want:?} missing from:\n{body}");
    }
    // Every sample line is `name[{labels}] number`, after its metric's TYPE line.
    let mut typed = HashSet::new();
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let mut parts = rest.split(' ');
            let name = parts.next().unwrap_or_default().to_string();
            assert!(matches!(parts.next(), Some("counter" | "gauge")), "{line}");
            assert!(typed.insert(name), "two TYPE lines: {line}");
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        assert!(value.parse::<f64>().is_ok(), "{line}");
        let name = series.split('{').next().unwrap_or_default();
        assert!(
            name.starts_with("ringkv_")
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        assert!(typed.contains(name), "no TYPE before {line}");
    }
    assert!(typed.len() > 50, "{}", typed.len());
    let post = request(
        port,
        "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(post.status, 405);
}
