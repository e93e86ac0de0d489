//! The HTTP rate-limit endpoint (off unless `http-port` is set), for callers that would rather
//! not speak RESP: API gateways, sidecars, shell scripts.
//!
//! * `GET /v1/ratelimit/check?policy=NAME&key=KEY[&cost=N][&peek=1]` — a configured policy
//!   (`ratelimit-policy`), as `RL.CHECK`.
//! * `GET /v1/ratelimit/limit?key=KEY&algorithm=A&limit=N&window=MS[&burst=B][&cost=C][&peek=1]`
//!   — parameters inline, as `RL.LIMIT`.
//! * `GET /healthz` — 200 while the server runs.
//! * `GET /metrics` — Prometheus metrics: every number INFO reports (`ringkv_commands::metrics`).
//!
//! A check answers 200 when allowed and 429 when limited, with the IETF rate-limit headers
//! (`RateLimit-Policy: "NAME";q=LIMIT;w=WINDOW_SECONDS`, `RateLimit: "NAME";r=REMAINING;t=RESET`,
//! `Retry-After` on 429) and a JSON body with the same five fields `RL.LIMIT` replies. Bad input
//! is a 400 with `{"error": ...}`. Both checks go through `ringkv_commands::ratelimit::http_limit`:
//! the same keyspace lock and the same code as the RESP commands, on database 0.
//!
//! Requests are bounded (16 KiB of request line and headers, a header timeout, a cap on open
//! connections), bodies are never read, and no input can panic the server. The endpoint stops
//! with the server's shutdown signal, letting in-flight requests finish.

use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE, RETRY_AFTER};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use ringkv_commands::parse::parse_i64;
use ringkv_commands::ratelimit::{http_limit, retry_after_ms, HttpDecision, HttpPolicy};
use ringkv_commands::{CmdError, Shared};
use ringkv_ratelimit::{Algorithm, Policy};
use std::convert::Infallible;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Request line plus headers may not exceed this (hyper's minimum is 8 KiB).
const MAX_HEAD_BYTES: usize = 16 * 1024;
/// A client has this long to send a complete request head.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Open HTTP connections beyond this are closed at once.
const MAX_CONNECTIONS: usize = 1024;
/// In-flight requests get this long to finish once shutdown starts.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Binds the endpoint if `http-port` is set and returns its accept loop's task; `None` when off.
pub async fn spawn(shared: Arc<Shared>) -> Result<Option<tokio::task::JoinHandle<()>>, String> {
    let (bind, port) = {
        let c = shared.config.read();
        (c.http_bind.clone(), c.http_port)
    };
    if port == 0 {
        return Ok(None);
    }
    let listener = TcpListener::bind((bind.as_str(), port))
        .await
        .map_err(|e| format!("could not bind the HTTP endpoint to {bind}:{port}: {e}"))?;
    tracing::info!(addr = %format!("{bind}:{port}"), "HTTP rate-limit endpoint listening");
    Ok(Some(tokio::spawn(accept_loop(shared, listener))))
}

async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut shutdown = shared.shutdown_signal();
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) => {
                tracing::warn!(error = %e, "HTTP accept failed");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            continue; // Too many connections: dropping the stream closes it.
        };
        let _ = stream.set_nodelay(true);
        let shared = shared.clone();
        tokio::spawn(async move {
            let mut shutdown = shared.shutdown_signal();
            let service = service_fn(move |req| {
                let shared = shared.clone();
                async move {
                    let (reply, logged_to) = handle(&shared, &req);
                    // appendfsync always: the decision is answered once its state is on disk.
                    if let Some(offset) = logged_to {
                        let aof = &shared.persistence.aof;
                        if aof.must_wait(offset) {
                            aof.wait_durable(offset).await;
                        }
                    }
                    Ok::<_, Infallible>(reply)
                }
            });
            let conn = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_HEAD_BYTES)
                .serve_connection(TokioIo::new(stream), service);
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => {}
                _ = shutdown.changed() => {
                    conn.as_mut().graceful_shutdown();
                    let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
                }
            }
            drop(permit);
        });
    }
}

type Reply = Response<Full<Bytes>>;

/// Routes one request. Never panics: every failure is a response. Also returns the AOF offset
/// the request logged up to, if it changed data.
fn handle(shared: &Shared, req: &Request<Incoming>) -> (Reply, Option<u64>) {
    match route(shared, req) {
        Ok(decision) => (decided(&decision), decision.logged_to),
        Err(reply) => (*reply, None),
    }
}

/// The rate-limit decision a request asks for, or the reply that answers it without one.
fn route(shared: &Shared, req: &Request<Incoming>) -> Result<HttpDecision, Box<Reply>> {
    let path = req.uri().path();
    let known = matches!(
        path,
        "/healthz" | "/metrics" | "/v1/ratelimit/check" | "/v1/ratelimit/limit"
    );
    if !known {
        return Err(Box::new(error(StatusCode::NOT_FOUND, "not found")));
    }
    if req.method() != Method::GET {
        let mut r = error(StatusCode::METHOD_NOT_ALLOWED, "only GET is supported");
        r.headers_mut()
            .insert(ALLOW, HeaderValue::from_static("GET"));
        return Err(Box::new(r));
    }
    if path == "/metrics" {
        let mut r = Response::new(Full::new(Bytes::from(ringkv_commands::metrics::render(
            shared,
        ))));
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(ringkv_commands::metrics::CONTENT_TYPE),
        );
        return Err(Box::new(r));
    }
    if path == "/healthz" {
        return Err(Box::new(json(
            StatusCode::OK,
            "{\"status\":\"ok\"}".to_string(),
        )));
    }
    let params = match Params::parse(req.uri().query().unwrap_or("")) {
        Ok(p) => p,
        Err(e) => return Err(Box::new(error(StatusCode::BAD_REQUEST, &e))),
    };
    check(shared, path, &params).map_err(|(status, message)| Box::new(error(status, &message)))
}

/// Why a check was not made: the status and the message of the JSON error.
type Failure = (StatusCode, String);

/// Runs the check a request asks for.
fn check(shared: &Shared, path: &str, params: &Params) -> Result<HttpDecision, Failure> {
    let bad = |e: String| (StatusCode::BAD_REQUEST, e);
    let key = params.required("key").map_err(bad)?;
    let cost = params.int("cost").map_err(bad)?.unwrap_or(1);
    let peek = params.flag("peek").map_err(bad)?;
    let (which, allowed): (HttpPolicy<'_>, &[&str]) = if path == "/v1/ratelimit/check" {
        let name = params.required("policy").map_err(bad)?;
        (HttpPolicy::Named(name), &["policy", "key", "cost", "peek"])
    } else {
        let algorithm = params.required("algorithm").map_err(bad)?;
        let algorithm = Algorithm::parse(&String::from_utf8_lossy(algorithm))
            .map_err(|e| bad(e.to_string()))?;
        let positive = |name: &str| -> Result<u64, Failure> {
            match params.int(name).map_err(bad)? {
                // 0 and below reach Policy::validate, which words the error.
                Some(v) => Ok(u64::try_from(v).unwrap_or(0)),
                None => Err(bad(format!("missing parameter '{name}'"))),
            }
        };
        let mut policy = Policy::new(algorithm, positive("limit")?, positive("window")?);
        if params.get("burst").is_some() {
            policy = policy.with_burst(positive("burst")?);
        }
        (
            HttpPolicy::Inline(policy),
            &[
                "key",
                "algorithm",
                "limit",
                "window",
                "burst",
                "cost",
                "peek",
            ],
        )
    };
    if let Some(extra) = params.unknown(allowed) {
        return Err(bad(format!("unknown parameter '{extra}'")));
    }
    http_limit(shared, which, key, cost, peek).map_err(|e| command_error(&e))
}

/// Maps a command error onto a status: WRONGTYPE is a conflict with what the key holds, OOM a
/// temporary refusal, everything else the caller's mistake.
fn command_error(e: &CmdError) -> Failure {
    let text = e.to_string();
    let status = match e.code() {
        "WRONGTYPE" => StatusCode::CONFLICT,
        "OOM" | "LOADING" | "MISCONF" => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let message = text.strip_prefix("ERR ").unwrap_or(&text).to_string();
    (status, message)
}

/// Seconds for the headers: whole seconds, rounded up.
fn ceil_seconds(ms: u64) -> u64 {
    ms.div_ceil(1000)
}

fn decided(d: &HttpDecision) -> Reply {
    let dec = &d.decision;
    let retry = retry_after_ms(dec);
    let body = format!(
        "{{\"allowed\":{},\"limit\":{},\"remaining\":{},\"reset_after_ms\":{},\"retry_after_ms\":{}}}",
        dec.allowed, dec.limit, dec.remaining, dec.reset_after_ms, retry
    );
    let status = if dec.allowed {
        StatusCode::OK
    } else {
        StatusCode::TOO_MANY_REQUESTS
    };
    let mut r = json(status, body);
    // Policy names are restricted to [A-Za-z0-9_.-] and algorithm names are fixed, so the
    // structured-field strings need no escaping and the values are valid header text.
    let policy = format!(
        "\"{}\";q={};w={}",
        d.name,
        d.policy.limit,
        ceil_seconds(d.policy.window_ms)
    );
    let state = format!(
        "\"{}\";r={};t={}",
        d.name,
        dec.remaining,
        ceil_seconds(dec.reset_after_ms)
    );
    let headers = r.headers_mut();
    for (name, value) in [("ratelimit-policy", policy), ("ratelimit", state)] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
    if !dec.allowed && retry >= 0 {
        headers.insert(RETRY_AFTER, HeaderValue::from(ceil_seconds(retry as u64)));
    }
    r
}

fn json(status: StatusCode, body: String) -> Reply {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn error(status: StatusCode, message: &str) -> Reply {
    let mut body = String::with_capacity(message.len() + 16);
    body.push_str("{\"error\":\"");
    for c in message.chars() {
        match c {
            '"' => body.push_str("\\\""),
            '\\' => body.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(body, "\\u{:04x}", c as u32);
            }
            c => body.push(c),
        }
    }
    body.push_str("\"}");
    json(status, body)
}

/// Percent-decoded query parameters, each name at most once.
struct Params {
    pairs: Vec<(String, Vec<u8>)>,
}

impl Params {
    fn parse(query: &str) -> Result<Params, String> {
        let mut pairs: Vec<(String, Vec<u8>)> = Vec::new();
        for part in query.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = part.split_once('=').unwrap_or((part, ""));
            let name = String::from_utf8(percent_decode(name)?)
                .map_err(|_| "parameter names must be UTF-8".to_string())?;
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(format!("duplicate parameter '{name}'"));
            }
            pairs.push((name, percent_decode(value)?));
        }
        Ok(Params { pairs })
    }

    fn get(&self, name: &str) -> Option<&[u8]> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }

    fn required(&self, name: &str) -> Result<&[u8], String> {
        match self.get(name) {
            Some(v) if !v.is_empty() => Ok(v),
            _ => Err(format!("missing parameter '{name}'")),
        }
    }

    fn int(&self, name: &str) -> Result<Option<i64>, String> {
        self.get(name)
            .map(|v| parse_i64(v).ok_or_else(|| format!("parameter '{name}' must be an integer")))
            .transpose()
    }

    fn flag(&self, name: &str) -> Result<bool, String> {
        match self.get(name) {
            None => Ok(false),
            Some(b"1" | b"true") => Ok(true),
            Some(b"0" | b"false") => Ok(false),
            Some(_) => Err(format!("parameter '{name}' must be 1, 0, true or false")),
        }
    }

    fn unknown(&self, allowed: &[&str]) -> Option<&str> {
        self.pairs
            .iter()
            .map(|(n, _)| n.as_str())
            .find(|n| !allowed.contains(n))
    }
}

/// `application/x-www-form-urlencoded` decoding: `%XX` escapes and `+` for space.
fn percent_decode(s: &str) -> Result<Vec<u8>, String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| "invalid percent-encoding in the query".to_string())?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let p = Params::parse("key=a%20b+c&policy=api&cost=-2&peek=1").unwrap();
        assert_eq!(p.get("key"), Some(&b"a b c"[..]));
        assert_eq!(p.int("cost").unwrap(), Some(-2));
        assert!(p.flag("peek").unwrap());
        assert_eq!(p.unknown(&["key", "policy", "cost", "peek"]), None);
        assert_eq!(p.unknown(&["key"]), Some("policy"));
        assert!(Params::parse("key=%zz").is_err());
        assert!(Params::parse("key=%4").is_err());
        assert!(Params::parse("key=a&key=b").is_err());
        assert!(Params::parse("cost=1x").unwrap().int("cost").is_err());
        assert_eq!(percent_decode("%e2%82%ac").unwrap(), "€".as_bytes());
    }

    #[test]
    fn error_body_escapes() {
        let r = error(StatusCode::BAD_REQUEST, "a\"b\\c\nd");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}
