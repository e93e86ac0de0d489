//! One client connection: read, parse every complete request, execute them under one keyspace lock,
//! write all replies with one syscall (what makes pipelining fast), repeat.
//!
//! Protection: the query buffer is bounded by `client-query-buffer-limit`, bulk and multibulk
//! lengths by the parser's limits, and a protocol error gets `-ERR Protocol error: ...` and closes
//! the connection, touching nothing else.

use crate::cluster::coordinator::{Detached, Prepared};
use bytes::{Buf, BytesMut};
use ringkv_commands::blocking::{self, BlockWait};
use ringkv_commands::clients::ClientHandle;
use ringkv_commands::pubsub::PushLink;
use ringkv_commands::{execute, pubsub, transactions, Action, Client, Ctx, Shared};
use ringkv_protocol::{ParseLimits, Protocol, ProtocolError, ReplyWriter, RequestParser};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read granularity (Redis PROTO_IOBUF_LEN).
const READ_CHUNK_BYTES: usize = 16 * 1024;
/// Reply buffers above this are shrunk back after a flush so idle clients hold little memory.
const REPLY_BUFFER_KEEP_BYTES: usize = 64 * 1024;
/// Pipelined cluster commands of one connection coordinated at the same time, at most.
const MAX_OVERLAP: usize = 64;

struct Limits {
    epoch: u64,
    query_buffer: usize,
    parse: ParseLimits,
}

fn read_limits(shared: &Shared, authenticated: bool) -> Limits {
    let epoch = shared.config_epoch.load(Ordering::Acquire);
    let cfg = shared.config.read();
    Limits {
        epoch,
        query_buffer: cfg.client_query_buffer_limit as usize,
        parse: ParseLimits {
            max_bulk_len: cfg.proto_max_bulk_len,
            authenticated,
            ..ParseLimits::default()
        },
    }
}

pub async fn serve(shared: Arc<Shared>, mut stream: TcpStream, handle: Arc<ClientHandle>) {
    let needs_auth = !shared.config.read().requirepass.is_empty();
    let (push, mut push_rx) = PushLink::new(handle.clone());
    let mut client = Client::new(handle.clone(), !needs_auth, push.clone());
    let mut limits = read_limits(&shared, client.authenticated);
    let mut parser = RequestParser::new(limits.parse);
    let mut rbuf = BytesMut::with_capacity(READ_CHUNK_BYTES);
    let mut out = ReplyWriter::new(Protocol::Resp2);
    let mut shutdown = shared.shutdown_signal();
    // One long-lived future for "this connection must stop" (CLIENT KILL, timeout, shutdown):
    // re-creating it on every read would register and unregister a waiter under a lock each time.
    let stop = async {
        tokio::select! {
            _ = handle.killed() => {}
            _ = shutdown.changed() => {}
        }
    };
    tokio::pin!(stop);
    // What CLIENT LIST last saw of this connection (to skip the meta lock when nothing changed).
    let mut published = Published::default();
    // False right after a blocking command was answered: pipelined requests may already be buffered.
    let mut need_read = true;

    'conn: loop {
        // A killed client is not served again, even if it keeps its input flowing.
        if handle.is_killed() {
            break;
        }
        if need_read {
            if rbuf.capacity() - rbuf.len() < READ_CHUNK_BYTES {
                // Grow with what has actually arrived (at most doubling), never by the length a
                // client merely declared: a "$536870912" header must not cost 512 MB up front.
                let wanted = parser.wanted().min(limits.query_buffer);
                let grow = wanted.min(rbuf.len().max(READ_CHUNK_BYTES));
                rbuf.reserve(READ_CHUNK_BYTES.max(grow));
            }
            let read = tokio::select! {
                biased;
                _ = &mut stop => break 'conn,
                r = stream.read_buf(&mut rbuf) => r,
                // Only subscribers are sent messages: skip the poll (a waker registration) for
                // everyone else, but still drain what was queued before an unsubscribe.
                Some(first) = push_rx.recv(), if client.subs.any() || client.monitoring || push.pending() > 0 => {
                    // Published messages: write everything queued in one go.
                    let mut batch = first;
                    while let Ok(more) = push_rx.try_recv() {
                        batch.extend_from_slice(&more);
                    }
                    let n = batch.len();
                    // A subscriber that stopped reading must still notice CLIENT KILL / its
                    // output-buffer limit, so the write races the stop signal.
                    let written = tokio::select! {
                        biased;
                        _ = &mut stop => break 'conn,
                        w = stream.write_all(&batch) => w,
                    };
                    push.delivered(n);
                    shared.stats.total_net_output_bytes.fetch_add(n as u64, Ordering::Relaxed);
                    if written.is_err() {
                        break 'conn;
                    }
                    continue 'conn;
                }
            };
            match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    shared
                        .stats
                        .total_net_input_bytes
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
            }
        }
        need_read = true;
        if shared.config_epoch.load(Ordering::Relaxed) != limits.epoch {
            limits = read_limits(&shared, client.authenticated);
            *parser.limits_mut() = limits.parse;
        }
        // Checked before anything runs (as Redis does): an oversized request is never executed.
        if rbuf.len() > limits.query_buffer {
            shared
                .stats
                .client_query_buffer_limit_disconnections
                .fetch_add(1, Ordering::Relaxed);
            tracing::warn!(
                client = handle.id,
                addr = %handle.addr,
                bytes = rbuf.len(),
                "closing client that exceeded client-query-buffer-limit"
            );
            break;
        }

        let mut consumed = 0;
        let mut close = false;
        let mut commands = 0u64;
        let mut logged_to = None;
        let mut paused = false;
        let mut blocked_reply_dropped = false;
        // Parse the first request before locking: a partial request costs no lock.
        let mut next = parser.parse(&rbuf);
        if let (Some(cluster), false) = (crate::cluster::get(), matches!(next, Ok(None))) {
            // Cluster mode: a command may wait for other nodes. Keyed commands on distinct
            // partitions overlap (at most MAX_OVERLAP); anything else, or a second command on
            // a partition already in flight, first waits for those in flight. Replies go out
            // in request order.
            let mut in_flight = InFlight::default();
            loop {
                match next {
                    Ok(Some(n)) => {
                        let args = parser.args(&rbuf[consumed..]);
                        if !args.is_empty() {
                            match cluster.prepare(&client, out.protocol(), args) {
                                Prepared::Detached(d) => {
                                    if in_flight.must_wait_before(d.partition) {
                                        in_flight.collect(&mut out).await;
                                    }
                                    in_flight.push(d);
                                }
                                Prepared::Inline(inline) => {
                                    in_flight.collect(&mut out).await;
                                    cluster
                                        .run_inline(&mut client, &mut out, args, inline)
                                        .await;
                                }
                            }
                            commands += 1;
                        }
                        parser.limits_mut().authenticated = client.authenticated;
                        consumed += n;
                        if client.action.is_some() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        in_flight.collect(&mut out).await;
                        protocol_error(&shared, &handle, &mut out, &e);
                        close = true;
                        break;
                    }
                }
                next = parser.parse(&rbuf[consumed..]);
            }
            in_flight.collect(&mut out).await;
            publish_state(
                &handle,
                &client,
                &mut published,
                shared.clock.now_ms(),
                None,
                out.protocol(),
            );
        } else if !matches!(next, Ok(None)) {
            let mut store = shared.store.lock();
            store.set_now(shared.clock.now_ms());
            let mut ctx = Ctx {
                store: &mut store,
                shared: &shared,
                client: &mut client,
                out: &mut out,
            };
            let mut last_spec = None;
            loop {
                match next {
                    Ok(Some(n)) => {
                        let args = parser.args(&rbuf[consumed..]);
                        if !args.is_empty() {
                            if shared.pause.holds(&shared.commands, ctx.client, args) {
                                // CLIENT PAUSE: stop before it, unconsumed; run it after.
                                paused = true;
                                break;
                            }
                            let mark = ctx.out.len();
                            let spec = execute(&mut ctx, args);
                            last_spec = spec.or(last_spec);
                            // CLIENT REPLY OFF / SKIP (as the command left it): drop this
                            // command's reply, and if it blocked, the reply it will get later.
                            // Subscription confirmations are pushes, sent anyway (Redis 7).
                            let (drop_reply, next) = ctx.client.reply.after_command();
                            if drop_reply && !spec.is_some_and(pubsub::confirms_with_pushes) {
                                ctx.out.truncate(mark);
                                blocked_reply_dropped =
                                    matches!(ctx.client.action, Some(Action::Block(_)));
                            }
                            ctx.client.reply = next;
                            commands += 1;
                            parser.limits_mut().authenticated = ctx.client.authenticated;
                        }
                        consumed += n;
                        if ctx.client.action.is_some() {
                            break;
                        }
                    }
                    Ok(None) => break,
                    Err(e) => {
                        protocol_error(&shared, &handle, ctx.out, &e);
                        close = true;
                        break;
                    }
                }
                next = parser.parse(&rbuf[consumed..]);
            }
            let now_ms = store.now_ms();
            // Hand this batch's log to the AOF writer while the lock still orders it.
            logged_to = ringkv_commands::aof::flush_oplog(&mut store, &shared.persistence.aof);
            drop(store);
            // (The memory peak is sampled by the cron and by INFO, as Redis does.)
            publish_state(
                &handle,
                &client,
                &mut published,
                now_ms,
                last_spec.map(|s| s.name),
                out.protocol(),
            );
        }
        // appendfsync always: nothing is acknowledged before it is on disk (group commit: every
        // batch queued meanwhile shares the same fsync).
        if let Some(offset) = logged_to {
            let aof = &shared.persistence.aof;
            if aof.must_wait(offset) {
                // The stop signal is polled second: it is only looked at (a lock in the
                // notifier) when the wait is not over at once, not on every reply.
                tokio::select! {
                    biased;
                    _ = aof.wait_durable(offset) => {}
                    _ = &mut stop => break 'conn,
                }
            }
        }
        rbuf.advance(consumed);
        if commands > 0 {
            shared
                .stats
                .total_commands_processed
                .fetch_add(commands, Ordering::Relaxed);
            crate::busy_poll::note_commands();
        }
        if !out.is_empty() {
            // A write that completes at once (the usual case) never polls the stop signal; a
            // client that stopped reading still notices it (the loop checks again before reading).
            let written = tokio::select! {
                biased;
                w = stream.write_all(out.as_bytes()) => w,
                _ = &mut stop => break,
            };
            if written.is_err() {
                break;
            }
            shared
                .stats
                .total_net_output_bytes
                .fetch_add(out.len() as u64, Ordering::Relaxed);
            out.clear();
            if out.buffer_mut().capacity() > REPLY_BUFFER_KEEP_BYTES {
                out.buffer_mut().shrink_to(READ_CHUNK_BYTES);
            }
        }
        if paused {
            // The held command is first in the buffer: wait for the pause to end, then run it
            // without reading more.
            // Input arriving meanwhile is buffered, as for a blocked command, so a client that
            // disconnects while held is noticed at once.
            handle.meta.lock().blocked = true;
            if parser.parse(&rbuf).ok().flatten().is_some() {
                let held = parser.args(&rbuf).to_owned_args();
                let wait = shared.pause.wait(&shared.commands, &client, held.args());
                tokio::pin!(wait);
                loop {
                    tokio::select! {
                        biased;
                        _ = &mut stop => break 'conn,
                        _ = &mut wait => break,
                        open = buffer_input(&mut stream, &mut rbuf, limits.query_buffer) => {
                            if !open {
                                break 'conn;
                            }
                        }
                    }
                }
            }
            handle.meta.lock().blocked = false;
            need_read = false;
            continue 'conn;
        }
        match client.action.take() {
            Some(Action::Close) => break,
            Some(Action::Block(wait)) => {
                let Some(reply) = wait_blocked(
                    &shared,
                    &mut client,
                    wait,
                    stop.as_mut(),
                    out.protocol(),
                    &mut stream,
                    &mut rbuf,
                    limits.query_buffer,
                )
                .await
                else {
                    break;
                };
                // A reply produced by another client's batch: under appendfsync always it waits
                // for that batch's log like any other write.
                let aof = &shared.persistence.aof;
                if aof.fsync_policy() == ringkv_config::AppendFsync::Always {
                    let offset = shared.store.lock().common.oplog.offset();
                    if aof.must_wait(offset) {
                        aof.wait_durable(offset).await;
                    }
                }
                if !blocked_reply_dropped {
                    if stream.write_all(&reply).await.is_err() {
                        break;
                    }
                    shared
                        .stats
                        .total_net_output_bytes
                        .fetch_add(reply.len() as u64, Ordering::Relaxed);
                }
                need_read = rbuf.is_empty();
            }
            None => {}
        }
        if close {
            break;
        }
        if rbuf.is_empty() && rbuf.capacity() > REPLY_BUFFER_KEEP_BYTES {
            rbuf = BytesMut::with_capacity(READ_CHUNK_BYTES);
        }
    }
    let _ = stream.shutdown().await;
    {
        let mut store = shared.store.lock();
        transactions::forget(&mut store, &mut client);
        blocking::unpark(&mut store, &shared, handle.id);
    }
    pubsub::forget(&shared, &mut client);
    if client.monitoring {
        shared.monitors.remove(handle.id);
    }
    shared.clients.unregister(handle.id);
}

/// The detached cluster commands of one connection in flight (see `Cluster::prepare`). A lone
/// command is awaited in place; only when a second one joins do they run as tasks, so a
/// command that is not pipelined costs no task.
#[derive(Default)]
struct InFlight {
    commands: Vec<(u32, Flight)>,
}

enum Flight {
    Waiting(std::pin::Pin<Box<dyn std::future::Future<Output = Vec<u8>> + Send>>),
    Running(tokio::task::JoinHandle<Vec<u8>>),
}

impl InFlight {
    /// Whether a command on `partition` must wait for those in flight (one on the same
    /// partition, or too many).
    fn must_wait_before(&self, partition: u32) -> bool {
        self.commands.len() >= MAX_OVERLAP || self.commands.iter().any(|(p, _)| *p == partition)
    }

    fn push(&mut self, d: Detached) {
        // A second command joins: the first one runs as a task too, so they overlap.
        if let [(_, Flight::Waiting(_))] = self.commands.as_slice() {
            if let Some((p, Flight::Waiting(f))) = self.commands.pop() {
                self.commands.push((p, Flight::Running(tokio::spawn(f))));
            }
        }
        let flight = if self.commands.is_empty() {
            Flight::Waiting(d.reply)
        } else {
            Flight::Running(tokio::spawn(d.reply))
        };
        self.commands.push((d.partition, flight));
    }

    /// Appends their replies, in request order.
    async fn collect(&mut self, out: &mut ReplyWriter) {
        for (_, flight) in self.commands.drain(..) {
            let reply = match flight {
                Flight::Waiting(f) => Ok(f.await),
                Flight::Running(task) => task.await,
            };
            match reply {
                Ok(reply) => out.buffer_mut().extend_from_slice(&reply),
                Err(_) => out.error(b"ERR internal error while coordinating the command"),
            }
        }
    }
}

/// A malformed request: counted, logged, answered with `-ERR Protocol error: ...` (the caller
/// then closes the connection).
fn protocol_error(
    shared: &Shared,
    handle: &ClientHandle,
    out: &mut ReplyWriter,
    e: &ProtocolError,
) {
    shared.stats.protocol_errors.fetch_add(1, Ordering::Relaxed);
    tracing::debug!(client = handle.id, error = %e, "protocol error");
    out.error(&[&b"ERR "[..], e.as_bytes()].concat());
}

/// Waits for a parked blocking request: its reply, its timeout (null reply), or the end of the
/// connection (None). Input arriving meanwhile is buffered, not executed (Redis does the same), so
/// a client that disconnects while blocked is noticed at once.
#[allow(clippy::too_many_arguments)]
async fn wait_blocked(
    shared: &Shared,
    client: &mut Client,
    wait: BlockWait,
    mut stop: std::pin::Pin<&mut impl std::future::Future<Output = ()>>,
    proto: Protocol,
    stream: &mut TcpStream,
    rbuf: &mut BytesMut,
    query_buffer_limit: usize,
) -> Option<Vec<u8>> {
    let handle = client.handle.clone();
    handle.meta.lock().blocked = true;
    let BlockWait { mut reply, timeout } = wait;
    let expired = async {
        match timeout {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending::<()>().await,
        }
    };
    tokio::pin!(expired);
    let result = loop {
        tokio::select! {
            r = &mut reply => break r.ok(),
            _ = &mut expired => {
                let unparked = {
                    let mut store = shared.store.lock();
                    blocking::unpark(&mut store, shared, handle.id)
                };
                if unparked {
                    let mut w = ReplyWriter::new(proto);
                    w.null_array();
                    break Some(std::mem::take(w.buffer_mut()));
                }
                // Served while the timer fired: the reply is already in the channel.
                break reply.await.ok();
            }
            open = buffer_input(stream, rbuf, query_buffer_limit) => {
                if !open {
                    break None;
                }
            }
            _ = &mut stop => break None,
        }
    };
    handle.meta.lock().blocked = false;
    result
}

/// Reads what a waiting client (blocked, or held by CLIENT PAUSE) sends into `rbuf`, buffered and
/// not executed; false once the connection ends or the input passes the query-buffer limit.
async fn buffer_input(stream: &mut TcpStream, rbuf: &mut BytesMut, limit: usize) -> bool {
    if rbuf.capacity() - rbuf.len() < READ_CHUNK_BYTES {
        rbuf.reserve(READ_CHUNK_BYTES);
    }
    matches!(stream.read_buf(rbuf).await, Ok(n) if n > 0 && rbuf.len() <= limit)
}

/// The client-visible state last published to the registry.
#[derive(Default, PartialEq, Eq, Clone, Copy)]
struct Published {
    last_command: Option<&'static str>,
    db: usize,
    resp3: bool,
    in_multi: bool,
    subscriptions: usize,
    pattern_subscriptions: usize,
    shard_subscriptions: usize,
}

/// Publishes what CLIENT LIST shows, once per batch; the lock-protected part only when it changed
/// (in a steady benchmark loop it never does).
fn publish_state(
    handle: &ClientHandle,
    client: &Client,
    published: &mut Published,
    now_ms: i64,
    last_command: Option<&'static str>,
    proto: Protocol,
) {
    handle.last_interaction_ms.store(now_ms, Ordering::Relaxed);
    let current = Published {
        last_command: last_command.or(published.last_command),
        db: client.db,
        resp3: proto == Protocol::Resp3,
        in_multi: client.multi.is_some(),
        subscriptions: client.subs.channels.len(),
        pattern_subscriptions: client.subs.patterns.len(),
        shard_subscriptions: client.subs.shards.len(),
    };
    if current == *published {
        return;
    }
    *published = current;
    handle.db.store(current.db, Ordering::Relaxed);
    handle
        .resp
        .store(if current.resp3 { 3 } else { 2 }, Ordering::Relaxed);
    client.push.set_protocol(proto);
    let mut meta = handle.meta.lock();
    if let Some(name) = current.last_command {
        meta.last_command = name;
    }
    meta.in_multi = current.in_multi;
    meta.subscriptions = current.subscriptions;
    meta.pattern_subscriptions = current.pattern_subscriptions;
    meta.shard_subscriptions = current.shard_subscriptions;
}
