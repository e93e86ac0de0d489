//! Transport behaviour over real loopback sockets: multiplexing, per-request
//! timeouts, reconnects, frame limits, handshake versions and garbage input.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use ringkv_peer::{Handler, PeerClient, PeerConfig, PeerError, PeerServer, PROTOCOL_VERSION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const TEST_DEADLINE: Duration = Duration::from_secs(10);

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// Echoes the request; a request starting with `sleep:` sleeps that many
/// milliseconds first.
fn echo_handler() -> Handler {
    Arc::new(|_peer, req: Bytes| {
        Box::pin(async move {
            if let Some(ms) = req
                .strip_prefix(b"sleep:")
                .and_then(|r| std::str::from_utf8(r).ok())
                .and_then(|s| s.parse::<u64>().ok())
            {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            }
            req
        })
    })
}

/// Reads until EOF or error; true when the peer closed within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let deadline = tokio::time::Instant::now() + within;
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => continue,
            Err(_) => return false,
        }
    }
}

fn handshake(version: u16) -> Vec<u8> {
    let mut hs = b"RKVP".to_vec();
    hs.extend_from_slice(&version.to_be_bytes());
    hs
}

/// A raw connection to `addr` past a successful handshake.
async fn handshaken(addr: SocketAddr) -> TcpStream {
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(&handshake(PROTOCOL_VERSION)).await.unwrap();
    let mut hs = [0u8; 6];
    raw.read_exact(&mut hs).await.unwrap();
    raw
}

/// Starts `n` concurrent requests of `payload` to `addr`.
fn spawn_requests(
    client: &PeerClient,
    addr: SocketAddr,
    n: usize,
    payload: &'static [u8],
) -> Vec<JoinHandle<Result<Bytes, PeerError>>> {
    (0..n)
        .map(|_| {
            let client = client.clone();
            tokio::spawn(async move {
                client
                    .request(addr, Bytes::from_static(payload), TEST_DEADLINE)
                    .await
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thousand_concurrent_requests_share_one_connection() {
    let server = PeerServer::bind(loopback(), echo_handler()).unwrap();
    let addr = server.local_addr();
    let client = PeerClient::new(PeerConfig::default());

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..1000u32 {
        let client = client.clone();
        tasks.spawn(async move {
            let payload = Bytes::from(format!("request-{i}"));
            let got = client
                .request(addr, payload.clone(), TEST_DEADLINE)
                .await
                .unwrap();
            assert_eq!(got, payload);
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let elapsed = started.elapsed();
    let stats = client.stats();
    eprintln!("1000 concurrent requests answered in {elapsed:?}; stats {stats:?}");
    assert_eq!(stats.open_connections, 1);
    assert_eq!(stats.requests_sent, 1000);
    assert_eq!(stats.requests_failed + stats.requests_timed_out, 0);
    assert_eq!(stats.in_flight, 0);

    // Pipelined throughput, for the record: 20k small requests, 256 at a time.
    let started = Instant::now();
    let total = 20_000u32;
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..256u32 {
        let client = client.clone();
        tasks.spawn(async move {
            let mut i = w;
            while i < total {
                let payload = Bytes::from(vec![7u8; 64]);
                client.request(addr, payload, TEST_DEADLINE).await.unwrap();
                i += 256;
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let elapsed = started.elapsed();
    eprintln!(
        "{total} pipelined 64-byte requests in {elapsed:?} ({:.0} req/s)",
        total as f64 / elapsed.as_secs_f64()
    );
    assert_eq!(client.stats().open_connections, 1);
}

#[tokio::test]
async fn large_payloads_round_trip_between_small_ones() {
    let server = PeerServer::bind(loopback(), echo_handler()).unwrap();
    let addr = server.local_addr();
    let client = PeerClient::new(PeerConfig::default());
    // Above the size the writer copies into its batch buffer, so these go
    // out as their own slice of a vectored write, in both directions.
    let large: Vec<Bytes> = (0..4u8).map(|i| Bytes::from(vec![i; 1 << 20])).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for (i, payload) in large.into_iter().enumerate() {
        for p in [Bytes::from(format!("small-{i}")), payload] {
            let client = client.clone();
            tasks.spawn(async move {
                let got = client.request(addr, p.clone(), TEST_DEADLINE).await;
                assert_eq!(got, Ok(p));
            });
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    assert_eq!(client.stats().open_connections, 1);
}

#[tokio::test]
async fn slow_handler_times_out_only_its_own_request() {
    let server = PeerServer::bind(loopback(), echo_handler()).unwrap();
    let addr = server.local_addr();
    let client = PeerClient::new(PeerConfig::default());

    let slow = {
        let client = client.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = client
                .request(
                    addr,
                    Bytes::from_static(b"sleep:3000"),
                    Duration::from_millis(200),
                )
                .await;
            (r, started.elapsed())
        })
    };
    let mut fast = Vec::new();
    for i in 0..50 {
        let client = client.clone();
        fast.push(tokio::spawn(async move {
            let payload = Bytes::from(format!("fast-{i}"));
            let got = client.request(addr, payload.clone(), TEST_DEADLINE).await;
            assert_eq!(got, Ok(payload));
        }));
    }
    for f in fast {
        f.await.unwrap();
    }
    let (r, took) = slow.await.unwrap();
    assert_eq!(r, Err(PeerError::Timeout));
    assert!(took < Duration::from_secs(1), "timeout took {took:?}");
    // The connection survives the timeout.
    let again = client
        .request(addr, Bytes::from_static(b"after"), TEST_DEADLINE)
        .await;
    assert_eq!(again, Ok(Bytes::from_static(b"after")));
    let stats = client.stats();
    assert_eq!(stats.requests_timed_out, 1);
    assert_eq!(stats.open_connections, 1);
    assert_eq!(stats.in_flight, 0);
}

#[tokio::test]
async fn killed_server_fails_pending_with_closed_and_restart_reconnects() {
    let server = PeerServer::bind(loopback(), echo_handler()).unwrap();
    let addr = server.local_addr();
    let client = PeerClient::new(PeerConfig::default());
    assert!(client
        .request(addr, Bytes::from_static(b"warm"), TEST_DEADLINE)
        .await
        .is_ok());

    let pending = spawn_requests(&client, addr, 10, b"sleep:5000");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let killed = Instant::now();
    server.shutdown_and_wait().await;
    for p in pending {
        assert_eq!(p.await.unwrap(), Err(PeerError::Closed));
    }
    eprintln!(
        "pending requests failed {:?} after the server stopped",
        killed.elapsed()
    );

    // While nothing listens, requests fail to connect rather than hang.
    let down = client
        .request(addr, Bytes::from_static(b"x"), TEST_DEADLINE)
        .await;
    assert!(matches!(down, Err(PeerError::Connect(_))), "{down:?}");

    let deadline = Instant::now() + Duration::from_secs(5);
    let server = loop {
        match PeerServer::bind(addr, echo_handler()) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                eprintln!("rebind: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("could not rebind {addr}: {e}"),
        }
    };
    let got = client
        .request(addr, Bytes::from_static(b"back"), TEST_DEADLINE)
        .await;
    assert_eq!(got, Ok(Bytes::from_static(b"back")));
    assert_eq!(client.stats().open_connections, 1);
    drop(server);
}

#[tokio::test]
async fn frames_over_the_limit_are_rejected() {
    let config = PeerConfig {
        max_frame_bytes: 1024,
        ..PeerConfig::default()
    };
    // Handler answering with a response bigger than the limit on request.
    let handler: Handler = Arc::new(|_peer, req: Bytes| {
        Box::pin(async move {
            if req.as_ref() == b"big" {
                Bytes::from(vec![1u8; 4096])
            } else {
                req
            }
        })
    });
    let server = PeerServer::bind_with_config(loopback(), handler, config.clone()).unwrap();
    let addr = server.local_addr();
    let client = PeerClient::new(config);

    // Outgoing request over the limit: refused locally.
    let r = client
        .request(addr, Bytes::from(vec![0u8; 2048]), TEST_DEADLINE)
        .await;
    assert_eq!(r, Err(PeerError::FrameTooLarge));
    // Response over the server's limit: reported, connection kept.
    let r = client
        .request(addr, Bytes::from_static(b"big"), TEST_DEADLINE)
        .await;
    assert_eq!(r, Err(PeerError::FrameTooLarge));
    let r = client
        .request(addr, Bytes::from_static(b"ok"), TEST_DEADLINE)
        .await;
    assert_eq!(r, Ok(Bytes::from_static(b"ok")));

    // A raw peer announcing a 1 GiB frame is cut off without the server
    // allocating it; other connections keep working.
    let mut raw = handshaken(addr).await;
    let mut frame = (1u32 << 30).to_be_bytes().to_vec();
    frame.extend_from_slice(&42u64.to_be_bytes());
    frame.push(0);
    raw.write_all(&frame).await.unwrap();
    assert!(closed_within(&mut raw, Duration::from_secs(3)).await);

    // A frame too short to hold its id and kind is a protocol error as well.
    let mut raw = handshaken(addr).await;
    raw.write_all(&3u32.to_be_bytes()).await.unwrap();
    assert!(closed_within(&mut raw, Duration::from_secs(3)).await);

    let r = client
        .request(addr, Bytes::from_static(b"still"), TEST_DEADLINE)
        .await;
    assert_eq!(r, Ok(Bytes::from_static(b"still")));
}

#[tokio::test]
async fn server_with_another_version_is_a_version_mismatch() {
    // A fake peer that speaks version 99.
    let listener = TcpListener::bind(loopback()).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let fake = tokio::spawn(async move {
        for _ in 0..2 {
            let Ok(Ok((mut s, _))) = tokio::time::timeout(TEST_DEADLINE, listener.accept()).await
            else {
                return;
            };
            let mut hs = [0u8; 6];
            let _ = s.read_exact(&mut hs).await;
            let _ = s.write_all(&handshake(99)).await;
        }
    });
    let client = PeerClient::new(PeerConfig::default());
    let r = client
        .request(addr, Bytes::from_static(b"hello"), TEST_DEADLINE)
        .await;
    assert_eq!(
        r,
        Err(PeerError::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs: 99
        })
    );
    // Every new attempt re-checks rather than caching the verdict.
    let r = client
        .request(addr, Bytes::from_static(b"hello"), TEST_DEADLINE)
        .await;
    assert!(matches!(
        r,
        Err(PeerError::VersionMismatch { theirs: 99, .. })
    ));
    fake.await.unwrap();

    // The real server answers a version-99 client with its own version and
    // closes the connection.
    let server = PeerServer::bind(loopback(), echo_handler()).unwrap();
    let mut raw = TcpStream::connect(server.local_addr()).await.unwrap();
    raw.write_all(&handshake(99)).await.unwrap();
    let mut hs = [0u8; 6];
    raw.read_exact(&mut hs).await.unwrap();
    assert_eq!(hs.to_vec(), handshake(PROTOCOL_VERSION));
    assert!(closed_within(&mut raw, Duration::from_secs(3)).await);
}

#[tokio::test]
async fn garbage_closes_only_that_connection() {
    let server = PeerServer::bind(loopback(), echo_handler()).unwrap();
    let addr = server.local_addr();
    let client = PeerClient::new(PeerConfig::default());
    assert!(client
        .request(addr, Bytes::from_static(b"first"), TEST_DEADLINE)
        .await
        .is_ok());

    // Not our magic at all: closed without a handshake answer.
    let mut raw = TcpStream::connect(addr).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 16];
    let first = tokio::time::timeout(Duration::from_secs(3), raw.read(&mut answer))
        .await
        .expect("bad magic closes the connection");
    assert!(matches!(first, Ok(0) | Err(_)), "answered: {first:?}");
    assert!(closed_within(&mut raw, Duration::from_secs(3)).await);

    // Valid handshake, then a response-kind frame from a client and noise.
    let mut raw = handshaken(addr).await;
    let mut junk = 9u32.to_be_bytes().to_vec();
    junk.extend_from_slice(&1u64.to_be_bytes());
    junk.push(7);
    junk.extend_from_slice(&[0xff; 64]);
    raw.write_all(&junk).await.unwrap();
    assert!(closed_within(&mut raw, Duration::from_secs(3)).await);

    let r = client
        .request(addr, Bytes::from_static(b"second"), TEST_DEADLINE)
        .await;
    assert_eq!(r, Ok(Bytes::from_static(b"second")));
    assert_eq!(client.stats().open_connections, 1);
}

#[tokio::test]
async fn requests_beyond_the_in_flight_bound_fail_fast() {
    let server = PeerServer::bind(loopback(), echo_handler()).unwrap();
    let addr = server.local_addr();
    let client = PeerClient::new(PeerConfig {
        max_in_flight_per_peer: 4,
        ..PeerConfig::default()
    });
    let busy = spawn_requests(&client, addr, 4, b"sleep:500");
    let deadline = Instant::now() + Duration::from_secs(3);
    while client.stats().in_flight < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let started = Instant::now();
    let r = client
        .request(addr, Bytes::from_static(b"one more"), TEST_DEADLINE)
        .await;
    assert_eq!(r, Err(PeerError::Overloaded));
    assert!(started.elapsed() < Duration::from_millis(100));
    for b in busy {
        assert!(b.await.unwrap().is_ok());
    }
    // Slots are released.
    let r = client
        .request(addr, Bytes::from_static(b"fine"), TEST_DEADLINE)
        .await;
    assert_eq!(r, Ok(Bytes::from_static(b"fine")));
}

#[tokio::test]
async fn unreachable_peer_is_a_connect_error() {
    // Bind and release a port so nothing listens there.
    let addr = {
        let l = std::net::TcpListener::bind(loopback()).unwrap();
        l.local_addr().unwrap()
    };
    let client = PeerClient::new(PeerConfig::default());
    let r = client
        .request(addr, Bytes::from_static(b"x"), TEST_DEADLINE)
        .await;
    assert!(matches!(r, Err(PeerError::Connect(_))), "{r:?}");
    assert_eq!(client.stats().requests_failed, 1);
}
