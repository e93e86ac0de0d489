//! Request/response RPC between nodes over TCP, one multiplexed connection
//! per peer address.
//!
//! Responsibilities: the connection handshake, framing, matching responses
//! to requests by id, per-request timeouts, per-peer admission control and
//! reconnecting after a connection breaks. Payloads are opaque bytes.
//!
//! Invariants:
//! - A frame's payload never exceeds `PeerConfig::max_frame_bytes`; a larger
//!   incoming length prefix is a protocol error that closes that connection
//!   (and only that one) before any buffer of that size is allocated.
//! - Every pending request is resolved exactly once: by its response, by
//!   `Closed` when its connection breaks, or by the caller giving up
//!   (timeout or cancellation), which removes its entry from the table.
//! - At most `max_in_flight_per_peer` requests are outstanding per peer
//!   address on the client; the server runs at most that many handlers per
//!   connection and stops reading from the socket while at the limit.
//! - Nothing read from the network is trusted: lengths are checked before
//!   use and no code path here panics on peer-controlled bytes.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::net::{Listener, Net, ReadHalf, WriteHalf};
use bytes::{Buf, BufMut, Bytes, BytesMut};
use parking_lot::Mutex;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, oneshot, Semaphore};
use tokio::task::{AbortHandle, JoinHandle, JoinSet};
use tokio::time::Instant;

/// First bytes of every connection, in both directions.
pub const HANDSHAKE_MAGIC: [u8; 4] = *b"RKVP";
/// Version of the framing protocol spoken by this build.
pub const PROTOCOL_VERSION: u16 = 1;
/// Magic plus big-endian u16 version.
pub const HANDSHAKE_BYTES: usize = 6;
/// Bytes counted by the length prefix besides the payload: request id + kind.
pub const FRAME_META_BYTES: usize = 8 + 1;
/// Length prefix plus id plus kind.
pub const FRAME_HEADER_BYTES: usize = 4 + FRAME_META_BYTES;
/// Default bound on one frame's payload.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 << 20;
/// Default bound on outstanding requests per peer.
pub const DEFAULT_MAX_IN_FLIGHT_PER_PEER: usize = 1024;
/// Default bound on establishing a connection, handshake included.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// Frame kinds.
const KIND_REQUEST: u8 = 0;
const KIND_RESPONSE: u8 = 1;
/// The server could not send the response because it exceeds its frame limit.
const KIND_RESPONSE_TOO_LARGE: u8 = 2;

/// The writer stops coalescing frames into one buffer past this size, so one
/// flush never holds more than this much copied data.
const WRITE_BATCH_BYTES: usize = 256 << 10;
/// Payloads above this size are written straight from their own buffer
/// rather than copied into the batch buffer.
const INLINE_PAYLOAD_BYTES: usize = 16 << 10;
/// Read buffer growth step when waiting for more bytes.
const READ_CHUNK_BYTES: usize = 16 << 10;
/// How long the server waits for a client's handshake before dropping it.
const SERVER_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// Back-off after a failed `accept` (e.g. out of file descriptors), so the
/// accept loop does not spin.
const ACCEPT_ERROR_BACKOFF: Duration = Duration::from_millis(50);

/// Serves one request: receives the peer's address and the request payload,
/// resolves to the response payload.
pub type Handler =
    Arc<dyn Fn(SocketAddr, Bytes) -> Pin<Box<dyn Future<Output = Bytes> + Send>> + Send + Sync>;

/// Errors of a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PeerError {
    /// No response within the request's timeout.
    #[error("request timed out")]
    Timeout,
    /// The connection could not be established.
    #[error("connect failed: {0}")]
    Connect(String),
    /// The connection broke before the response arrived.
    #[error("connection closed")]
    Closed,
    /// `max_in_flight_per_peer` requests are already outstanding to this peer.
    #[error("too many requests in flight to this peer")]
    Overloaded,
    /// The request or its response exceeds the frame size limit.
    #[error("frame exceeds the size limit")]
    FrameTooLarge,
    /// The peer sent something that is not this protocol.
    #[error("protocol error: {0}")]
    Protocol(String),
    /// The peer speaks another protocol version.
    #[error("protocol version mismatch: ours {ours}, theirs {theirs}")]
    VersionMismatch { ours: u16, theirs: u16 },
}

/// Transport settings, shared by client and server.
#[derive(Debug, Clone)]
pub struct PeerConfig {
    /// Client: outstanding requests per peer before new ones fail with
    /// `Overloaded`. Server: concurrent handlers per connection.
    pub max_in_flight_per_peer: usize,
    /// Bound on TCP connect plus handshake.
    pub connect_timeout: Duration,
    /// Bound on one frame's payload, in both directions.
    pub max_frame_bytes: usize,
    /// The network the sockets live on: the OS's, or a simulator's.
    pub net: Net,
}

impl Default for PeerConfig {
    fn default() -> Self {
        Self {
            max_in_flight_per_peer: DEFAULT_MAX_IN_FLIGHT_PER_PEER,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            net: Net::Os,
        }
    }
}

impl PeerConfig {
    /// The payload limit actually enforced: the length prefix is a u32.
    fn frame_limit(&self) -> usize {
        self.max_frame_bytes
            .min(u32::MAX as usize - FRAME_META_BYTES)
    }
}

/// Client counters. `requests_failed` counts every error except timeouts,
/// which are counted in `requests_timed_out` only.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PeerStats {
    pub requests_sent: u64,
    pub requests_failed: u64,
    pub requests_timed_out: u64,
    /// Connections dropped because a request timed out on them while
    /// nothing at all arrived (see [`PeerClient::request`]).
    pub connections_stalled: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub open_connections: usize,
    pub in_flight: usize,
}

#[derive(Default)]
struct Counters {
    requests_sent: AtomicU64,
    requests_failed: AtomicU64,
    requests_timed_out: AtomicU64,
    connections_stalled: AtomicU64,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    open_connections: AtomicUsize,
    in_flight: AtomicUsize,
}

// ---------------------------------------------------------------------------
// Framing

/// One outgoing frame. The payload is kept apart from the header so large
/// payloads are written without being copied.
struct OutFrame {
    id: u64,
    kind: u8,
    payload: Bytes,
}

fn put_header(buf: &mut BytesMut, frame: &OutFrame) {
    // The payload length was checked against `frame_limit`, which keeps the
    // sum within u32.
    let len = (frame.payload.len() + FRAME_META_BYTES) as u32;
    buf.put_u32(len);
    buf.put_u64(frame.id);
    buf.put_u8(frame.kind);
}

/// Drains the queue into as few write calls as possible: everything queued
/// when the writer wakes up goes out in one write, plus one vectored write
/// per payload too large to copy into the batch.
async fn write_loop<W: AsyncWrite + Unpin>(
    mut w: W,
    mut rx: mpsc::UnboundedReceiver<OutFrame>,
    bytes_out: Option<Arc<Counters>>,
) -> io::Result<()> {
    let mut buf = BytesMut::with_capacity(64 << 10);
    while let Some(first) = rx.recv().await {
        let mut written = 0usize;
        let mut next = Some(first);
        while let Some(frame) = next.take() {
            written += FRAME_HEADER_BYTES + frame.payload.len();
            put_header(&mut buf, &frame);
            if frame.payload.len() <= INLINE_PAYLOAD_BYTES {
                buf.put_slice(&frame.payload);
            } else {
                // The batch so far, with this frame's header, and the payload
                // leave in one vectored write; the payload is not copied.
                let mut out = Buf::chain(&buf[..], &frame.payload[..]);
                w.write_all_buf(&mut out).await?;
                buf.clear();
            }
            if buf.len() < WRITE_BATCH_BYTES {
                next = rx.try_recv().ok();
            }
        }
        if !buf.is_empty() {
            w.write_all(&buf).await?;
            buf.clear();
        }
        if let Some(c) = &bytes_out {
            c.bytes_out.fetch_add(written as u64, Ordering::Relaxed);
        }
    }
    Ok(())
}

/// Incremental frame decoder over the read half of a connection.
struct FrameReader {
    r: ReadHalf,
    buf: BytesMut,
    max_payload: usize,
}

struct InFrame {
    id: u64,
    kind: u8,
    payload: Bytes,
}

impl FrameReader {
    fn new(r: ReadHalf, max_payload: usize) -> Self {
        Self {
            r,
            buf: BytesMut::with_capacity(READ_CHUNK_BYTES),
            max_payload,
        }
    }

    /// Next frame, `Ok(None)` on a clean end of stream between frames.
    async fn next(&mut self) -> Result<Option<InFrame>, PeerError> {
        loop {
            if let Some(prefix) = self.buf.first_chunk::<4>() {
                let len = u32::from_be_bytes(*prefix) as usize;
                let Some(payload_len) = len.checked_sub(FRAME_META_BYTES) else {
                    return Err(PeerError::Protocol(format!("frame length {len} too short")));
                };
                if payload_len > self.max_payload {
                    return Err(PeerError::FrameTooLarge);
                }
                let total = 4 + len;
                if self.buf.len() >= total {
                    self.buf.advance(4);
                    let id = self.buf.get_u64();
                    let kind = self.buf.get_u8();
                    let payload = self.buf.split_to(payload_len).freeze();
                    return Ok(Some(InFrame { id, kind, payload }));
                }
                // The frame is within the limit, so reserving the rest of it
                // is bounded.
                self.buf
                    .reserve((total - self.buf.len()).max(READ_CHUNK_BYTES));
            } else {
                self.buf.reserve(READ_CHUNK_BYTES);
            }
            match self.r.read_buf(&mut self.buf).await {
                Ok(0) if self.buf.is_empty() => return Ok(None),
                Ok(0) => return Err(PeerError::Closed),
                Ok(_) => {}
                Err(_) => return Err(PeerError::Closed),
            }
        }
    }
}

fn handshake_bytes(version: u16) -> [u8; HANDSHAKE_BYTES] {
    let v = version.to_be_bytes();
    let m = HANDSHAKE_MAGIC;
    [m[0], m[1], m[2], m[3], v[0], v[1]]
}

/// Parses a handshake: the peer's version, or a protocol error for bad magic.
fn parse_handshake(hs: &[u8; HANDSHAKE_BYTES]) -> Result<u16, PeerError> {
    if hs[..4] != HANDSHAKE_MAGIC {
        return Err(PeerError::Protocol("bad handshake magic".into()));
    }
    Ok(u16::from_be_bytes([hs[4], hs[5]]))
}

/// Aborts a task when dropped, so tasks tied to a connection never outlive it.
struct AbortOnDrop(AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

// ---------------------------------------------------------------------------
// Server

/// Accepts peer connections and answers requests with a [`Handler`].
///
/// Dropping it (or calling [`PeerServer::shutdown`]) closes the listener and
/// every connection it accepted; handlers already running finish on their
/// own but their responses are discarded.
pub struct PeerServer {
    local_addr: SocketAddr,
    /// The accept loop; `None` only once `shutdown_and_wait` took it.
    task: Option<JoinHandle<()>>,
}

impl PeerServer {
    /// Binds `addr` and starts serving with the default [`PeerConfig`].
    /// Must be called from within a Tokio runtime.
    pub fn bind(addr: SocketAddr, handler: Handler) -> io::Result<PeerServer> {
        Self::bind_with_config(addr, handler, PeerConfig::default())
    }

    /// Binds `addr` and starts serving with `config`'s limits.
    /// Must be called from within a Tokio runtime.
    pub fn bind_with_config(
        addr: SocketAddr,
        handler: Handler,
        config: PeerConfig,
    ) -> io::Result<PeerServer> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| io::Error::other(format!("PeerServer needs a Tokio runtime: {e}")))?;
        let _guard = runtime.enter();
        let listener = config.net.listen(addr)?;
        let local_addr = listener.local_addr()?;
        let task = runtime.spawn(accept_loop(listener, handler, config));
        Ok(PeerServer {
            local_addr,
            task: Some(task),
        })
    }

    /// The bound address (with the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Stops accepting and closes all connections. The listening socket is
    /// released shortly after; use [`PeerServer::shutdown_and_wait`] to know
    /// when.
    pub fn shutdown(&self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }

    /// Like [`PeerServer::shutdown`], returning once the listener and all
    /// connections are closed, so the port can be bound again.
    pub async fn shutdown_and_wait(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }
}

impl Drop for PeerServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

async fn accept_loop(listener: Listener, handler: Handler, config: PeerConfig) {
    // Owning the connection tasks here means aborting this task aborts them.
    let mut conns = JoinSet::new();
    loop {
        match listener.accept().await {
            Ok((halves, peer)) => {
                conns.spawn(serve_connection(
                    halves,
                    peer,
                    handler.clone(),
                    config.clone(),
                ));
            }
            Err(e) => {
                tracing::warn!(error = %e, "peer accept failed");
                tokio::time::sleep(ACCEPT_ERROR_BACKOFF).await;
            }
        }
        while conns.try_join_next().is_some() {}
    }
}

async fn serve_connection(
    halves: (ReadHalf, WriteHalf),
    peer: SocketAddr,
    handler: Handler,
    config: PeerConfig,
) {
    if let Err(e) = serve_connection_inner(halves, peer, handler, config).await {
        tracing::debug!(%peer, error = %e, "peer connection closed");
    }
}

async fn serve_connection_inner(
    (mut r, mut w): (ReadHalf, WriteHalf),
    peer: SocketAddr,
    handler: Handler,
    config: PeerConfig,
) -> Result<(), PeerError> {
    let mut hs = [0u8; HANDSHAKE_BYTES];
    match tokio::time::timeout(SERVER_HANDSHAKE_TIMEOUT, r.read_exact(&mut hs)).await {
        Ok(Ok(_)) => {}
        Ok(Err(_)) => return Err(PeerError::Closed),
        Err(_) => return Err(PeerError::Timeout),
    }
    let theirs = parse_handshake(&hs)?;
    // Always answer with our version, even on a mismatch, so the client can
    // report which versions met.
    w.write_all(&handshake_bytes(PROTOCOL_VERSION))
        .await
        .map_err(|_| PeerError::Closed)?;
    if theirs != PROTOCOL_VERSION {
        return Err(PeerError::VersionMismatch {
            ours: PROTOCOL_VERSION,
            theirs,
        });
    }

    let (tx, rx) = mpsc::unbounded_channel();
    let writer = tokio::spawn(async move {
        let _ = write_loop(w, rx, None).await;
    });
    let _writer = AbortOnDrop(writer.abort_handle());
    let limit = config.frame_limit();
    let permits = Arc::new(Semaphore::new(config.max_in_flight_per_peer.max(1)));
    let mut reader = FrameReader::new(r, limit);

    while let Some(frame) = reader.next().await? {
        if frame.kind != KIND_REQUEST {
            return Err(PeerError::Protocol(format!(
                "unexpected frame kind {} from client",
                frame.kind
            )));
        }
        // Waiting here stops reading from the socket, which pushes back on a
        // client that exceeds the limit instead of queueing without bound.
        let Ok(permit) = permits.clone().acquire_owned().await else {
            return Err(PeerError::Closed);
        };
        let handler = handler.clone();
        let tx = tx.clone();
        let id = frame.id;
        tokio::spawn(async move {
            let response = handler(peer, frame.payload).await;
            let out = if response.len() > limit {
                OutFrame {
                    id,
                    kind: KIND_RESPONSE_TOO_LARGE,
                    payload: Bytes::new(),
                }
            } else {
                OutFrame {
                    id,
                    kind: KIND_RESPONSE,
                    payload: response,
                }
            };
            // The connection may be gone by now; the response is then moot.
            let _ = tx.send(out);
            drop(permit);
        });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Client

/// Sends requests to peers, one reused connection per peer address.
/// Cheap to clone; clones share connections and counters.
#[derive(Clone)]
pub struct PeerClient {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    config: PeerConfig,
    peers: Mutex<HashMap<SocketAddr, Arc<Endpoint>>>,
    next_id: AtomicU64,
    counters: Arc<Counters>,
}

/// Per peer address: admission counter and the current connection.
struct Endpoint {
    addr: SocketAddr,
    in_flight: AtomicUsize,
    conn: Mutex<Option<Arc<Conn>>>,
    /// Serialises connection attempts so concurrent requests share one.
    connecting: tokio::sync::Mutex<()>,
}

impl Endpoint {
    fn live(&self) -> Option<Arc<Conn>> {
        self.conn
            .lock()
            .as_ref()
            .filter(|c| !c.shared.is_closed())
            .cloned()
    }
}

/// One established connection. Dropping it stops its tasks and fails what
/// is still pending on it.
struct Conn {
    shared: Arc<ConnShared>,
    tx: mpsc::UnboundedSender<OutFrame>,
    _reader: AbortOnDrop,
    _writer: AbortOnDrop,
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.shared.fail_all();
    }
}

impl Endpoint {
    /// Stops using a connection that let a whole request timeout pass without delivering a
    /// single frame. Across a cut link TCP keeps such a connection open and retransmits with
    /// growing back-off, for many minutes by default; every request on it would time out long
    /// after the link is back. Dropping it from the endpoint makes the next request reconnect,
    /// which succeeds as soon as the peer is reachable. Requests already waiting on it keep
    /// their own deadlines (a long one, such as a handoff, is not cut short by a short one's),
    /// and the connection closes when the last of them is done. A healthy but slow peer costs
    /// one reconnect at worst.
    fn drop_stalled(&self, conn: &Arc<Conn>) {
        let mut slot = self.conn.lock();
        if slot.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
            *slot = None;
            drop(slot);
            tracing::debug!(peer = %self.addr, "peer connection stalled; reconnecting on the next request");
            conn.shared
                .counters
                .connections_stalled
                .fetch_add(1, Ordering::Relaxed);
        }
    }
}

struct ConnShared {
    pending: Mutex<Pending>,
    counters: Arc<Counters>,
    /// Frames read so far; a request that times out while this stands still
    /// reveals a stalled connection.
    frames_received: AtomicU64,
}

#[derive(Default)]
struct Pending {
    waiters: HashMap<u64, oneshot::Sender<Result<Bytes, PeerError>>>,
    closed: bool,
}

impl ConnShared {
    fn is_closed(&self) -> bool {
        self.pending.lock().closed
    }

    /// Marks the connection broken and fails every pending request with
    /// `Closed`. Idempotent.
    fn fail_all(&self) {
        let waiters = {
            let mut p = self.pending.lock();
            if p.closed {
                return;
            }
            p.closed = true;
            std::mem::take(&mut p.waiters)
        };
        self.counters
            .open_connections
            .fetch_sub(1, Ordering::Relaxed);
        for (_, w) in waiters {
            let _ = w.send(Err(PeerError::Closed));
        }
    }

    fn resolve(&self, id: u64, result: Result<Bytes, PeerError>) {
        let waiter = self.pending.lock().waiters.remove(&id);
        // No waiter: the request timed out or was cancelled; drop the answer.
        if let Some(w) = waiter {
            let _ = w.send(result);
        }
    }
}

/// Releases a request's admission slot.
struct InFlightGuard<'a> {
    endpoint: &'a Endpoint,
    counters: &'a Counters,
}

impl Drop for InFlightGuard<'_> {
    fn drop(&mut self) {
        self.endpoint.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.counters.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Removes a request's waiter when the caller stops waiting (timeout or
/// cancellation), so the table only holds requests someone still awaits.
/// Disarmed once the request is answered: whoever answered it already took
/// the waiter out of the table.
struct PendingGuard<'a> {
    shared: &'a ConnShared,
    id: u64,
    armed: bool,
}

impl Drop for PendingGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            self.shared.pending.lock().waiters.remove(&self.id);
        }
    }
}

impl PeerClient {
    pub fn new(config: PeerConfig) -> PeerClient {
        PeerClient {
            inner: Arc::new(ClientInner {
                config,
                peers: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(1),
                counters: Arc::new(Counters::default()),
            }),
        }
    }

    /// Sends `payload` to the peer at `to` and waits for its response, for at
    /// most `timeout` (connecting included).
    pub async fn request(
        &self,
        to: SocketAddr,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, PeerError> {
        let c = &self.inner.counters;
        c.requests_sent.fetch_add(1, Ordering::Relaxed);
        let result = self.request_inner(to, payload, timeout).await;
        match &result {
            Ok(_) => {}
            Err(PeerError::Timeout) => {
                c.requests_timed_out.fetch_add(1, Ordering::Relaxed);
            }
            Err(_) => {
                c.requests_failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }

    /// Snapshot of the counters.
    pub fn stats(&self) -> PeerStats {
        let c = &self.inner.counters;
        PeerStats {
            requests_sent: c.requests_sent.load(Ordering::Relaxed),
            requests_failed: c.requests_failed.load(Ordering::Relaxed),
            requests_timed_out: c.requests_timed_out.load(Ordering::Relaxed),
            connections_stalled: c.connections_stalled.load(Ordering::Relaxed),
            bytes_in: c.bytes_in.load(Ordering::Relaxed),
            bytes_out: c.bytes_out.load(Ordering::Relaxed),
            open_connections: c.open_connections.load(Ordering::Relaxed),
            in_flight: c.in_flight.load(Ordering::Relaxed),
        }
    }

    fn endpoint(&self, to: SocketAddr) -> Arc<Endpoint> {
        self.inner
            .peers
            .lock()
            .entry(to)
            .or_insert_with(|| {
                Arc::new(Endpoint {
                    addr: to,
                    in_flight: AtomicUsize::new(0),
                    conn: Mutex::new(None),
                    connecting: tokio::sync::Mutex::new(()),
                })
            })
            .clone()
    }

    async fn request_inner(
        &self,
        to: SocketAddr,
        payload: Bytes,
        timeout: Duration,
    ) -> Result<Bytes, PeerError> {
        let config = &self.inner.config;
        if payload.len() > config.frame_limit() {
            return Err(PeerError::FrameTooLarge);
        }
        let deadline = Instant::now() + timeout;
        let endpoint = self.endpoint(to);
        let counters = &*self.inner.counters;

        let previous = endpoint.in_flight.fetch_add(1, Ordering::AcqRel);
        counters.in_flight.fetch_add(1, Ordering::Relaxed);
        let _slot = InFlightGuard {
            endpoint: &endpoint,
            counters,
        };
        if previous >= config.max_in_flight_per_peer {
            return Err(PeerError::Overloaded);
        }

        let conn = tokio::time::timeout_at(deadline, self.connection(&endpoint))
            .await
            .map_err(|_| PeerError::Timeout)??;

        let id = self.inner.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        {
            let mut p = conn.shared.pending.lock();
            if p.closed {
                return Err(PeerError::Closed);
            }
            p.waiters.insert(id, tx);
        }
        let mut pending = PendingGuard {
            shared: &conn.shared,
            id,
            armed: true,
        };
        let frame = OutFrame {
            id,
            kind: KIND_REQUEST,
            payload,
        };
        let received_before = conn.shared.frames_received.load(Ordering::Relaxed);
        if conn.tx.send(frame).is_err() {
            return Err(PeerError::Closed);
        }
        let answer = tokio::time::timeout_at(deadline, rx).await;
        // Answered (or failed by `fail_all`): the waiter is out of the table.
        pending.armed = answer.is_err();
        match answer {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(PeerError::Closed),
            Err(_) => {
                if conn.shared.frames_received.load(Ordering::Relaxed) == received_before {
                    endpoint.drop_stalled(&conn);
                }
                Err(PeerError::Timeout)
            }
        }
    }

    async fn connection(&self, endpoint: &Endpoint) -> Result<Arc<Conn>, PeerError> {
        if let Some(conn) = endpoint.live() {
            return Ok(conn);
        }
        let _connecting = endpoint.connecting.lock().await;
        if let Some(conn) = endpoint.live() {
            return Ok(conn);
        }
        let conn = Arc::new(self.connect(endpoint.addr).await?);
        // Replacing the broken connection drops it once its last request
        // lets go, which stops its tasks.
        *endpoint.conn.lock() = Some(conn.clone());
        Ok(conn)
    }

    async fn connect(&self, addr: SocketAddr) -> Result<Conn, PeerError> {
        let config = &self.inner.config;
        let (r, w) = tokio::time::timeout(config.connect_timeout, async {
            let (mut r, mut w) = config
                .net
                .connect(addr)
                .await
                .map_err(|e| PeerError::Connect(e.to_string()))?;
            w.write_all(&handshake_bytes(PROTOCOL_VERSION))
                .await
                .map_err(|e| PeerError::Connect(e.to_string()))?;
            let mut hs = [0u8; HANDSHAKE_BYTES];
            r.read_exact(&mut hs)
                .await
                .map_err(|e| PeerError::Connect(format!("handshake: {e}")))?;
            let theirs = parse_handshake(&hs)?;
            if theirs != PROTOCOL_VERSION {
                return Err(PeerError::VersionMismatch {
                    ours: PROTOCOL_VERSION,
                    theirs,
                });
            }
            Ok::<_, PeerError>((r, w))
        })
        .await
        .map_err(|_| PeerError::Connect(format!("connect to {addr} timed out")))??;

        let counters = self.inner.counters.clone();
        counters.open_connections.fetch_add(1, Ordering::Relaxed);
        let shared = Arc::new(ConnShared {
            pending: Mutex::new(Pending::default()),
            counters: counters.clone(),
            frames_received: AtomicU64::new(0),
        });
        let (tx, rx) = mpsc::unbounded_channel();

        let writer_shared = shared.clone();
        let writer_counters = counters.clone();
        let writer = tokio::spawn(async move {
            if write_loop(w, rx, Some(writer_counters)).await.is_err() {
                writer_shared.fail_all();
            }
        });

        let reader_shared = shared.clone();
        let limit = config.frame_limit();
        let reader = tokio::spawn(async move {
            let mut frames = FrameReader::new(r, limit);
            loop {
                match frames.next().await {
                    Ok(Some(frame)) => {
                        reader_shared
                            .frames_received
                            .fetch_add(1, Ordering::Relaxed);
                        reader_shared.counters.bytes_in.fetch_add(
                            (FRAME_HEADER_BYTES + frame.payload.len()) as u64,
                            Ordering::Relaxed,
                        );
                        match frame.kind {
                            KIND_RESPONSE => reader_shared.resolve(frame.id, Ok(frame.payload)),
                            KIND_RESPONSE_TOO_LARGE => {
                                reader_shared.resolve(frame.id, Err(PeerError::FrameTooLarge))
                            }
                            other => {
                                tracing::debug!(%addr, kind = other, "unexpected frame kind from server");
                                break;
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        tracing::debug!(%addr, error = %e, "peer connection failed");
                        break;
                    }
                }
            }
            reader_shared.fail_all();
        });

        Ok(Conn {
            shared,
            tx,
            _reader: AbortOnDrop(reader.abort_handle()),
            _writer: AbortOnDrop(writer.abort_handle()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::IoSlice;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// Records every write call it receives, as a TCP socket would see them.
    #[derive(Default)]
    struct RecordingWriter {
        calls: usize,
        data: Vec<u8>,
    }

    impl AsyncWrite for RecordingWriter {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            self.calls += 1;
            self.data.extend_from_slice(buf);
            Poll::Ready(Ok(buf.len()))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            self.calls += 1;
            let mut n = 0;
            for b in bufs {
                self.data.extend_from_slice(b);
                n += b.len();
            }
            Poll::Ready(Ok(n))
        }

        fn is_write_vectored(&self) -> bool {
            true
        }

        fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    fn frame(id: u64, payload: Bytes) -> OutFrame {
        OutFrame {
            id,
            kind: KIND_REQUEST,
            payload,
        }
    }

    fn encoded(frames: &[(u64, &Bytes)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (id, payload) in frames {
            out.extend_from_slice(&((payload.len() + FRAME_META_BYTES) as u32).to_be_bytes());
            out.extend_from_slice(&id.to_be_bytes());
            out.push(KIND_REQUEST);
            out.extend_from_slice(payload);
        }
        out
    }

    /// Runs the writer over everything in `frames`, queued before it starts.
    async fn write_all_queued(frames: Vec<OutFrame>) -> (RecordingWriter, u64) {
        let (tx, rx) = mpsc::unbounded_channel();
        for f in frames {
            tx.send(f).unwrap();
        }
        drop(tx);
        let counters = Arc::new(Counters::default());
        let mut w = RecordingWriter::default();
        write_loop(&mut w, rx, Some(counters.clone()))
            .await
            .unwrap();
        (w, counters.bytes_out.load(Ordering::Relaxed))
    }

    #[tokio::test]
    async fn a_burst_of_small_frames_is_one_write() {
        let payloads: Vec<Bytes> = (0..100u64)
            .map(|i| Bytes::from(format!("payload-{i}")))
            .collect();
        let frames = payloads
            .iter()
            .enumerate()
            .map(|(i, p)| frame(i as u64, p.clone()))
            .collect();
        let (w, bytes_out) = write_all_queued(frames).await;
        let expected = encoded(
            &payloads
                .iter()
                .enumerate()
                .map(|(i, p)| (i as u64, p))
                .collect::<Vec<_>>(),
        );
        assert_eq!(w.calls, 1);
        assert_eq!(w.data, expected);
        assert_eq!(bytes_out, expected.len() as u64);
    }

    #[tokio::test]
    async fn a_large_payload_shares_a_vectored_write_with_the_batch() {
        let small = Bytes::from_static(b"small");
        let large = Bytes::from(vec![7u8; INLINE_PAYLOAD_BYTES + 1]);
        let frames = vec![
            frame(1, small.clone()),
            frame(2, large.clone()),
            frame(3, small.clone()),
        ];
        let (w, bytes_out) = write_all_queued(frames).await;
        let expected = encoded(&[(1, &small), (2, &large), (3, &small)]);
        // The first frame, the large one's header and its payload in one
        // call; the trailing frame in the final flush.
        assert_eq!(w.calls, 2);
        assert_eq!(w.data, expected);
        assert_eq!(bytes_out, expected.len() as u64);
    }
}
