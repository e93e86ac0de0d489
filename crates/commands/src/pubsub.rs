//! Pub/Sub: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH, PUBSUB, the sharded
//! variant of Redis 7 (SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH, PUBSUB SHARDCHANNELS/SHARDNUMSUB: a
//! namespace of its own, delivered as `smessage`, never matched by patterns), and keyspace
//! notifications (`notify-keyspace-events`), which are published through the same registry.
//! In cluster mode SPUBLISH reaches every node's shard subscribers, as PUBLISH does (a shard
//! channel is not tied to one node here).
//!
//! Every connection owns a `PushLink`: an unbounded channel into its connection task plus a count of
//! bytes queued and not yet written. Publishing encodes the message for the subscriber's protocol
//! (RESP2 array or RESP3 push) and enqueues it; the connection writes queued messages as soon as its
//! socket accepts them. The byte count enforces `client-output-buffer-limit pubsub`: past the hard
//! limit, or above the soft limit for longer than its seconds, the subscriber is disconnected
//! instead of letting a slow reader exhaust memory.

use crate::clients::ClientHandle;
use crate::ctx::Ctx;
use crate::error::CmdResult;
use crate::table::{flags, CommandSpec};
use ringkv_config::OutputBufferLimit;
use ringkv_engine::glob_match;
use ringkv_protocol::{Args, Protocol, ReplyWriter};
use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;

/// The server's way to reach one connection outside request/response.
pub struct PushLink {
    pub client_id: u64,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    pending_bytes: AtomicUsize,
    resp3: AtomicBool,
    /// Since when (unix ms) the queue has been above the soft limit; 0 = not above.
    over_soft_since_ms: AtomicI64,
    handle: Arc<ClientHandle>,
}

impl PushLink {
    pub fn new(handle: Arc<ClientHandle>) -> (Arc<PushLink>, mpsc::UnboundedReceiver<Vec<u8>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        let link = Arc::new(PushLink {
            client_id: handle.id,
            tx,
            pending_bytes: AtomicUsize::new(0),
            resp3: AtomicBool::new(false),
            over_soft_since_ms: AtomicI64::new(0),
            handle,
        });
        (link, rx)
    }

    pub fn set_protocol(&self, p: Protocol) {
        self.resp3.store(p == Protocol::Resp3, Ordering::Relaxed);
    }

    fn protocol(&self) -> Protocol {
        if self.resp3.load(Ordering::Relaxed) {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        }
    }

    /// Whether the connection is gone or going (killed): it receives nothing more.
    pub(crate) fn closed(&self) -> bool {
        self.handle.is_killed()
    }

    /// Queues a message (a published message, a MONITOR line); disconnects the client if that
    /// breaks its output buffer limit.
    pub(crate) fn send(&self, msg: Vec<u8>, limit: &OutputBufferLimit, now_ms: i64) {
        let pending = self.pending_bytes.fetch_add(msg.len(), Ordering::Relaxed) + msg.len();
        let pending = pending as u64;
        if limit.hard > 0 && pending > limit.hard {
            tracing::warn!(
                client = self.client_id,
                pending,
                "pubsub client over hard output buffer limit, closing"
            );
            self.handle.kill();
            return;
        }
        if limit.soft > 0 && pending > limit.soft {
            let since = self.over_soft_since_ms.load(Ordering::Relaxed);
            if since == 0 {
                self.over_soft_since_ms.store(now_ms, Ordering::Relaxed);
            } else if now_ms - since >= (limit.soft_seconds as i64) * 1000 {
                tracing::warn!(
                    client = self.client_id,
                    pending,
                    "pubsub client over soft output buffer limit too long, closing"
                );
                self.handle.kill();
                return;
            }
        } else {
            self.over_soft_since_ms.store(0, Ordering::Relaxed);
        }
        let _ = self.tx.send(msg);
    }

    /// The connection wrote `n` queued bytes.
    pub fn delivered(&self, n: usize) {
        self.pending_bytes.fetch_sub(n, Ordering::Relaxed);
    }

    pub fn pending(&self) -> usize {
        self.pending_bytes.load(Ordering::Relaxed)
    }
}

/// One push frame, encoded lazily for each protocol version it is needed in.
#[derive(Default)]
struct Frames {
    resp2: Option<Vec<u8>>,
    resp3: Option<Vec<u8>>,
}

impl Frames {
    fn get(&mut self, proto: Protocol, parts: &[&[u8]]) -> &[u8] {
        let slot = match proto {
            Protocol::Resp2 => &mut self.resp2,
            Protocol::Resp3 => &mut self.resp3,
        };
        slot.get_or_insert_with(|| {
            let mut w = ReplyWriter::new(proto);
            w.push(parts.len());
            for p in parts {
                w.bulk(p);
            }
            std::mem::take(w.buffer_mut())
        })
    }
}

/// Channel and pattern subscriptions of all clients.
#[derive(Default)]
pub struct PubSub {
    channels: HashMap<Vec<u8>, Vec<Arc<PushLink>>>,
    patterns: HashMap<Vec<u8>, Vec<Arc<PushLink>>>,
    shard_channels: HashMap<Vec<u8>, Vec<Arc<PushLink>>>,
}

impl PubSub {
    fn add(map: &mut HashMap<Vec<u8>, Vec<Arc<PushLink>>>, name: &[u8], link: &Arc<PushLink>) {
        let subs = map.entry(name.to_vec()).or_default();
        if !subs.iter().any(|l| l.client_id == link.client_id) {
            subs.push(link.clone());
        }
    }

    fn remove(map: &mut HashMap<Vec<u8>, Vec<Arc<PushLink>>>, name: &[u8], client: u64) {
        if let Some(subs) = map.get_mut(name) {
            subs.retain(|l| l.client_id != client);
            if subs.is_empty() {
                map.remove(name);
            }
        }
    }

    /// Delivers a message; returns the number of receiving subscriptions (PUBLISH's reply).
    /// Each frame is encoded at most once per protocol version, however many subscribers.
    pub fn publish(
        &self,
        channel: &[u8],
        message: &[u8],
        limit: &OutputBufferLimit,
        now_ms: i64,
    ) -> usize {
        let mut receivers = deliver(
            self.channels.get(channel),
            &[b"message", channel, message],
            limit,
            now_ms,
        );
        for (pattern, subs) in &self.patterns {
            if glob_match(pattern, channel, false) {
                let parts: [&[u8]; 4] = [b"pmessage", pattern, channel, message];
                receivers += deliver(Some(subs), &parts, limit, now_ms);
            }
        }
        receivers
    }

    /// SPUBLISH: delivers to the shard channel's subscribers (patterns never match shard
    /// channels); returns their number.
    pub fn spublish(
        &self,
        channel: &[u8],
        message: &[u8],
        limit: &OutputBufferLimit,
        now_ms: i64,
    ) -> usize {
        deliver(
            self.shard_channels.get(channel),
            &[b"smessage", channel, message],
            limit,
            now_ms,
        )
    }

    pub fn channel_count(&self) -> usize {
        self.channels.len()
    }

    pub fn pattern_count(&self) -> usize {
        self.patterns.len()
    }
}

/// Sends one frame (`parts`) to each live subscriber of a channel; returns how many got it.
fn deliver(
    subs: Option<&Vec<Arc<PushLink>>>,
    parts: &[&[u8]],
    limit: &OutputBufferLimit,
    now_ms: i64,
) -> usize {
    let mut frames = Frames::default();
    let mut receivers = 0;
    for link in subs.into_iter().flatten().filter(|l| !l.closed()) {
        let frame = frames.get(link.protocol(), parts);
        link.send(frame.to_vec(), limit, now_ms);
        receivers += 1;
    }
    receivers
}

/// Per-connection subscription state.
#[derive(Default)]
pub struct Subscriptions {
    pub channels: BTreeSet<Vec<u8>>,
    pub patterns: BTreeSet<Vec<u8>>,
    pub shards: BTreeSet<Vec<u8>>,
}

impl Subscriptions {
    /// Channel and pattern subscriptions (what SUBSCRIBE's confirmations count).
    pub fn count(&self) -> usize {
        self.channels.len() + self.patterns.len()
    }

    /// Whether the client has any subscription, shard ones included (the subscribed state).
    pub fn any(&self) -> bool {
        self.count() + self.shards.len() > 0
    }
}

/// Commands allowed while a RESP2 client has subscriptions.
pub fn allowed_when_subscribed(name: &str) -> bool {
    matches!(
        name,
        "subscribe"
            | "unsubscribe"
            | "psubscribe"
            | "punsubscribe"
            | "ssubscribe"
            | "sunsubscribe"
            | "ping"
            | "quit"
            | "reset"
    )
}

fn limit(ctx: &Ctx<'_>) -> OutputBufferLimit {
    ctx.shared.config.read().client_output_buffer_limit.pubsub
}

/// A (un)subscription confirmation: `kind`, the name, and the client's subscriptions of that
/// family (channels and patterns together; shard channels on their own, as Redis counts them).
fn confirm(ctx: &mut Ctx<'_>, kind: Kind, reply: &[u8], name: Option<&[u8]>) {
    ctx.out.push(3);
    ctx.out.bulk(reply);
    match name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    let count = match kind {
        Kind::Shard => ctx.client.subs.shards.len(),
        _ => ctx.client.subs.count(),
    };
    ctx.out.integer(count as i64);
}

/// Channels or patterns: the two kinds of subscription, handled by the same code.
#[derive(Clone, Copy)]
enum Kind {
    Channel,
    Pattern,
    Shard,
}

impl Kind {
    /// This client's own subscriptions of the kind.
    fn of_client(self, subs: &mut Subscriptions) -> &mut BTreeSet<Vec<u8>> {
        match self {
            Kind::Channel => &mut subs.channels,
            Kind::Pattern => &mut subs.patterns,
            Kind::Shard => &mut subs.shards,
        }
    }

    /// The server-wide registry of the kind.
    fn of_server(self, ps: &mut PubSub) -> &mut HashMap<Vec<u8>, Vec<Arc<PushLink>>> {
        match self {
            Kind::Channel => &mut ps.channels,
            Kind::Pattern => &mut ps.patterns,
            Kind::Shard => &mut ps.shard_channels,
        }
    }
}

/// SUBSCRIBE / PSUBSCRIBE: one confirmation per name, in order.
fn subscribe_generic(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind, reply: &[u8]) -> CmdResult {
    let link = ctx.client.push.clone();
    link.set_protocol(ctx.out.protocol());
    for name in args.iter().skip(1) {
        if kind.of_client(&mut ctx.client.subs).insert(name.to_vec()) {
            PubSub::add(kind.of_server(&mut ctx.shared.pubsub.lock()), name, &link);
        }
        confirm(ctx, kind, reply, Some(name));
    }
    Ok(())
}

/// UNSUBSCRIBE / PUNSUBSCRIBE: the names given, or all of the client's; one confirmation each
/// (one with a null name when there are none).
fn unsubscribe_generic(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind, reply: &[u8]) -> CmdResult {
    let names: Vec<Vec<u8>> = if args.len() > 1 {
        args.iter().skip(1).map(|a| a.to_vec()).collect()
    } else {
        kind.of_client(&mut ctx.client.subs)
            .iter()
            .cloned()
            .collect()
    };
    if names.is_empty() {
        confirm(ctx, kind, reply, None);
    }
    let id = ctx.client.handle.id;
    for name in names {
        if kind.of_client(&mut ctx.client.subs).remove(&name) {
            PubSub::remove(kind.of_server(&mut ctx.shared.pubsub.lock()), &name, id);
        }
        confirm(ctx, kind, reply, Some(&name));
    }
    Ok(())
}

fn subscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Channel, b"subscribe")
}

fn psubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Pattern, b"psubscribe")
}

fn unsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Channel, b"unsubscribe")
}

fn punsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Pattern, b"punsubscribe")
}

fn ssubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    subscribe_generic(ctx, args, Kind::Shard, b"ssubscribe")
}

fn sunsubscribe(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    unsubscribe_generic(ctx, args, Kind::Shard, b"sunsubscribe")
}

fn spublish(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    publish_with(ctx, args, PubSub::spublish)
}

fn publish(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    publish_with(ctx, args, PubSub::publish)
}

/// PUBLISH / SPUBLISH: delivers through `how` and answers the number of receivers.
fn publish_with(
    ctx: &mut Ctx<'_>,
    args: Args<'_>,
    how: fn(&PubSub, &[u8], &[u8], &OutputBufferLimit, i64) -> usize,
) -> CmdResult {
    let limit = limit(ctx);
    let now = ctx.now_ms();
    let n = how(
        &ctx.shared.pubsub.lock(),
        args.arg(1),
        args.arg(2),
        &limit,
        now,
    );
    ctx.out.integer(n as i64);
    Ok(())
}

fn pubsub_channels(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    channels_of(ctx, args, Kind::Channel)
}

fn pubsub_shardchannels(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    channels_of(ctx, args, Kind::Shard)
}

fn pubsub_numsub(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    numsub_of(ctx, args, Kind::Channel)
}

fn pubsub_shardnumsub(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    numsub_of(ctx, args, Kind::Shard)
}

/// PUBSUB CHANNELS / SHARDCHANNELS: the active channels of the kind matching the pattern.
fn channels_of(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> CmdResult {
    let pattern = args.get(2);
    let names: Vec<Vec<u8>> = {
        let mut ps = ctx.shared.pubsub.lock();
        kind.of_server(&mut ps)
            .keys()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c, false)))
            .cloned()
            .collect()
    };
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(&n);
    }
    Ok(())
}

/// PUBSUB NUMSUB / SHARDNUMSUB: each channel with its number of subscribers of the kind.
fn numsub_of(ctx: &mut Ctx<'_>, args: Args<'_>, kind: Kind) -> CmdResult {
    let counts: Vec<(Vec<u8>, usize)> = {
        let mut ps = ctx.shared.pubsub.lock();
        let map = kind.of_server(&mut ps);
        args.iter()
            .skip(2)
            .map(|c| (c.to_vec(), map.get(c).map_or(0, |s| s.len())))
            .collect()
    };
    ctx.out.array(counts.len() * 2);
    for (c, n) in counts {
        ctx.out.bulk(&c);
        ctx.out.integer(n as i64);
    }
    Ok(())
}

fn pubsub_numpat(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let n = ctx.shared.pubsub.lock().pattern_count();
    ctx.out.integer(n as i64);
    Ok(())
}

fn pubsub_help(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let lines: &[&[u8]] = &[
        b"PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        b"CHANNELS [<pattern>]",
        b"    Return the currently active channels matching a <pattern> (default: '*').",
        b"NUMPAT",
        b"    Return number of subscriptions to patterns.",
        b"NUMSUB [<channel> ...]",
        b"    Return the number of subscribers for the specified channels, excluding",
        b"    pattern subscriptions(default: no channels).",
        b"SHARDCHANNELS [<pattern>]",
        b"    Return the currently active shard level channels matching a <pattern> (default: '*').",
        b"SHARDNUMSUB [<shardchannel> ...]",
        b"    Return the number of subscribers for the specified shard level channel(s)",
        b"HELP",
        b"    Print this help.",
    ];
    ctx.out.array(lines.len());
    for l in lines {
        ctx.out.simple(l);
    }
    Ok(())
}

/// Drops every subscription of a client (RESET, disconnect).
pub fn forget(shared: &crate::shared::Shared, client: &mut crate::ctx::Client) {
    if !client.subs.any() {
        return;
    }
    let id = client.handle.id;
    let mut ps = shared.pubsub.lock();
    for ch in std::mem::take(&mut client.subs.channels) {
        PubSub::remove(&mut ps.channels, &ch, id);
    }
    for p in std::mem::take(&mut client.subs.patterns) {
        PubSub::remove(&mut ps.patterns, &p, id);
    }
    for ch in std::mem::take(&mut client.subs.shards) {
        PubSub::remove(&mut ps.shard_channels, &ch, id);
    }
}

/// Publishes the keyspace events raised by the last command(s) (Redis notifyKeyspaceEvent):
/// `__keyspace@<db>__:<key>` with the event name and `__keyevent@<db>__:<event>` with the key.
pub fn publish_key_events(store: &mut ringkv_engine::Store, shared: &crate::shared::Shared) {
    use ringkv_config::notify;
    if store.common.events.is_empty() {
        return;
    }
    let events = std::mem::take(&mut store.common.events);
    let flags = store.common.notify_flags;
    let now = store.now_ms();
    let limit = shared.config.read().client_output_buffer_limit.pubsub;
    let ps = shared.pubsub.lock();
    for ev in events {
        if flags & notify::KEYSPACE != 0 {
            let mut ch = format!("__keyspace@{}__:", ev.db).into_bytes();
            ch.extend_from_slice(&ev.key);
            ps.publish(&ch, ev.event.as_bytes(), &limit, now);
        }
        if flags & notify::KEYEVENT != 0 {
            let ch = format!("__keyevent@{}__:{}", ev.db, ev.event).into_bytes();
            ps.publish(&ch, &ev.key, &limit, now);
        }
    }
}

const PS: u32 = flags::PUBSUB | flags::NOSCRIPT | flags::LOADING | flags::STALE;

/// Whether a command's replies are subscription confirmations: pushes, which Redis 7 sends even
/// under CLIENT REPLY OFF / SKIP.
pub fn confirms_with_pushes(spec: &CommandSpec) -> bool {
    matches!(
        spec.name,
        "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe" | "sunsubscribe"
    )
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("subscribe", -2, PS, subscribe)
        .group("pubsub")
        .doc("Listens for messages published to channels.", "2.0.0", "O(N) where N is the number of channels to subscribe to.")
        .syntax("channel [channel ...]"),
    CommandSpec::new("unsubscribe", -1, PS, unsubscribe)
        .group("pubsub")
        .doc("Stops listening to messages posted to channels.", "2.0.0", "O(N) where N is the number of channels to unsubscribe.")
        .syntax("[channel [channel ...]]"),
    CommandSpec::new("psubscribe", -2, PS, psubscribe)
        .group("pubsub")
        .doc("Listens for messages published to channels that match one or more patterns.", "2.0.0", "O(N) where N is the number of patterns to subscribe to.")
        .syntax("pattern [pattern ...]"),
    CommandSpec::new("punsubscribe", -1, PS, punsubscribe)
        .group("pubsub")
        .doc("Stops listening to messages published to channels that match one or more patterns.", "2.0.0", "O(N) where N is the number of patterns to unsubscribe.")
        .syntax("[pattern [pattern ...]]"),
    CommandSpec::new("publish", 3, PS | flags::FAST | flags::MAY_REPLICATE, publish)
        .group("pubsub")
        .doc("Posts a message to a channel.", "2.0.0", "O(N+M) where N is the number of clients subscribed to the receiving channel and M is the total number of subscribed patterns (by any client).")
        .syntax("channel message"),
    CommandSpec::new("ssubscribe", -2, PS, ssubscribe)
        .group("pubsub")
        .doc("Listens for messages published to shard channels.", "7.0.0", "O(N) where N is the number of shard channels to subscribe to.")
        .syntax("shardchannel [shardchannel ...]"),
    CommandSpec::new("sunsubscribe", -1, PS, sunsubscribe)
        .group("pubsub")
        .doc("Stops listening to messages posted to shard channels.", "7.0.0", "O(N) where N is the number of shard channels to unsubscribe.")
        .syntax("[shardchannel [shardchannel ...]]"),
    CommandSpec::new("spublish", 3, PS | flags::FAST | flags::MAY_REPLICATE, spublish)
        .group("pubsub")
        .doc("Post a message to a shard channel", "7.0.0", "O(N) where N is the number of clients subscribed to the receiving shard channel.")
        .syntax("shardchannel message"),
    CommandSpec::new("pubsub", -2, 0, crate::dispatch::container)
        .group("pubsub")
        .doc("A container for Pub/Sub commands.", "2.8.0", "Depends on subcommand.")
        .subcommands(&[
            CommandSpec::new("channels", -2, PS, pubsub_channels)
                .group("pubsub")
                .doc("Returns the active channels.", "2.8.0", "O(N) where N is the number of active channels, and assuming constant time pattern matching (relatively short channels and patterns)")
                .syntax("[pattern]"),
            CommandSpec::new("numsub", -2, PS, pubsub_numsub)
                .group("pubsub")
                .doc("Returns a count of subscribers to channels.", "2.8.0", "O(N) for the NUMSUB subcommand, where N is the number of requested channels")
                .syntax("[channel [channel ...]]"),
            CommandSpec::new("numpat", 2, PS, pubsub_numpat)
                .group("pubsub")
                .doc("Returns a count of unique pattern subscriptions.", "2.8.0", "O(1)"),
            CommandSpec::new("shardchannels", -2, PS, pubsub_shardchannels)
                .group("pubsub")
                .doc("Returns the active shard channels.", "7.0.0", "O(N) where N is the number of active shard channels, and assuming constant time pattern matching (relatively short shard channels).")
                .syntax("[pattern]"),
            CommandSpec::new("shardnumsub", -2, PS, pubsub_shardnumsub)
                .group("pubsub")
                .doc("Returns the count of subscribers of shard channels.", "7.0.0", "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested shard channels")
                .syntax("[shardchannel [shardchannel ...]]"),
            CommandSpec::new("help", 2, flags::LOADING | flags::STALE, pubsub_help)
                .group("pubsub")
                .doc("Returns helpful text about the different subcommands.", "6.2.0", "O(1)"),
        ]),
];
