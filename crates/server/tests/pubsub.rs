//! Pub/Sub against a real server: channel and pattern delivery, counts, RESP2 subscribed-mode
//! restrictions, RESP3 push messages alongside normal replies, PUBSUB introspection, and a slow
//! subscriber disconnected by its output buffer limit instead of growing memory.

mod common;
use common::Server;
use std::io::Read;
use std::time::{Duration, Instant};

#[test]
fn subscribe_publish_unsubscribe() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    sub.cmd(&[b"SUBSCRIBE", b"news", b"sport"]);
    assert_eq!(sub.reply(), "[subscribe,news,:1]");
    assert_eq!(sub.reply(), "[subscribe,sport,:2]");
    let mut publisher = s.conn();
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news")
        .arg("hello")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(n, 1);
    assert_eq!(sub.reply(), "[message,news,hello]");
    let n: i64 = redis::cmd("PUBLISH")
        .arg("nobody")
        .arg("x")
        .query(&mut publisher)
        .unwrap();
    assert_eq!(n, 0);
    sub.cmd(&[b"UNSUBSCRIBE", b"news"]);
    assert_eq!(sub.reply(), "[unsubscribe,news,:1]");
    sub.cmd(&[b"UNSUBSCRIBE"]);
    assert_eq!(sub.reply(), "[unsubscribe,sport,:0]");
    sub.cmd(&[b"UNSUBSCRIBE"]);
    assert_eq!(sub.reply(), "[unsubscribe,(nil),:0]");
    // Out of subscribed mode: normal commands work again.
    sub.cmd(&[b"SET", b"k", b"v"]);
    assert_eq!(sub.reply(), "+OK");
}

#[test]
fn pattern_subscriptions() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    sub.cmd(&[b"PSUBSCRIBE", b"news.*"]);
    assert_eq!(sub.reply(), "[psubscribe,news.*,:1]");
    sub.cmd(&[b"SUBSCRIBE", b"news.tech"]);
    assert_eq!(sub.reply(), "[subscribe,news.tech,:2]");
    let mut p = s.conn();
    // Delivered twice: once by channel, once by pattern.
    let n: i64 = redis::cmd("PUBLISH")
        .arg("news.tech")
        .arg("rust")
        .query(&mut p)
        .unwrap();
    assert_eq!(n, 2);
    let mut got = vec![sub.reply(), sub.reply()];
    got.sort();
    assert_eq!(
        got,
        vec![
            "[message,news.tech,rust]",
            "[pmessage,news.*,news.tech,rust]"
        ]
    );
    sub.cmd(&[b"PUNSUBSCRIBE", b"news.*"]);
    assert_eq!(sub.reply(), "[punsubscribe,news.*,:1]");
}

#[test]
fn resp2_subscribed_mode_restricts_commands() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    sub.cmd(&[b"SUBSCRIBE", b"c"]);
    sub.reply();
    sub.cmd(&[b"GET", b"k"]);
    assert_eq!(
        sub.reply(),
        "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context"
    );
    sub.cmd(&[b"PING"]);
    assert_eq!(sub.reply(), "[pong,]");
}

#[test]
fn resp3_push_messages_interleave_with_replies() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    sub.cmd(&[b"HELLO", b"3"]);
    let hello = sub.reply();
    assert!(hello.contains("proto"), "{hello}");
    sub.cmd(&[b"SUBSCRIBE", b"ch"]);
    assert_eq!(sub.reply(), "[subscribe,ch,:1]");
    // In RESP3 other commands are allowed while subscribed.
    sub.cmd(&[b"SET", b"k", b"v"]);
    assert_eq!(sub.reply(), "+OK");
    let mut p = s.conn();
    let _: i64 = redis::cmd("PUBLISH")
        .arg("ch")
        .arg("m")
        .query(&mut p)
        .unwrap();
    // The raw reader renders '>' pushes like arrays; check the wire type byte directly.
    let mut first = [0u8; 1];
    sub.reader.read_exact(&mut first).unwrap();
    assert_eq!(first[0], b'>');
    let rest = sub.line();
    assert_eq!(rest, "3");
}

#[test]
fn pubsub_introspection() {
    let s = Server::start(&[]);
    let mut a = s.raw();
    a.cmd(&[b"SUBSCRIBE", b"x", b"y"]);
    a.reply();
    a.reply();
    let mut b = s.raw();
    b.cmd(&[b"SUBSCRIBE", b"x"]);
    b.reply();
    b.cmd(&[b"PSUBSCRIBE", b"p*", b"q*"]);
    b.reply();
    b.reply();
    let mut c = s.raw();
    c.cmd(&[b"PUBSUB", b"NUMSUB", b"x", b"y", b"z"]);
    assert_eq!(c.reply(), "[x,:2,y,:1,z,:0]");
    c.cmd(&[b"PUBSUB", b"NUMPAT"]);
    assert_eq!(c.reply(), ":2");
    c.cmd(&[b"PUBSUB", b"CHANNELS", b"x*"]);
    assert_eq!(c.reply(), "[x]");
    c.cmd(&[b"PUBSUB", b"NOPE"]);
    assert_eq!(
        c.reply(),
        "-ERR unknown subcommand 'NOPE'. Try PUBSUB HELP."
    );
    // A disconnected subscriber disappears from the counts.
    drop(a);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        c.cmd(&[b"PUBSUB", b"NUMSUB", b"y"]);
        if c.reply() == "[y,:0]" {
            break;
        }
        assert!(Instant::now() < deadline);
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn slow_subscriber_is_disconnected_by_output_buffer_limit() {
    let s = Server::start(&["--client-output-buffer-limit", "pubsub 256kb 0 0"]);
    let mut sub = s.raw();
    sub.cmd(&[b"SUBSCRIBE", b"firehose"]);
    sub.reply();
    // Never read from `sub`; publish ~64 MB.
    let mut p = s.conn();
    let payload = "x".repeat(64 * 1024);
    let mut last = 1;
    for _ in 0..1000 {
        last = redis::cmd("PUBLISH")
            .arg("firehose")
            .arg(&payload)
            .query::<i64>(&mut p)
            .unwrap();
        if last == 0 {
            break;
        }
    }
    assert_eq!(last, 0, "the slow subscriber was dropped");
    let info: String = redis::cmd("INFO").arg("memory").query(&mut p).unwrap();
    let used: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("used_memory:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap();
    assert!(used < 32 * 1024 * 1024, "memory stayed bounded: {used}");
}

/// Sharded pub/sub (Redis 7): its own namespace (SPUBLISH reaches shard subscribers only, as
/// `smessage`, and PUBLISH and patterns never reach them), confirmations counting shard channels
/// on their own, the subscribed state, PUBSUB SHARDCHANNELS/SHARDNUMSUB, CLIENT LIST's ssub.
/// Replies as Redis 7.0.15 gives them.
#[test]
fn sharded_pubsub_is_a_namespace_of_its_own() {
    let s = Server::start(&[]);
    let mut sub = s.raw();
    sub.cmd(&[b"SSUBSCRIBE", b"a", b"b"]);
    assert_eq!(sub.reply(), "[ssubscribe,a,:1]");
    assert_eq!(sub.reply(), "[ssubscribe,b,:2]");
    sub.cmd(&[b"SUBSCRIBE", b"a"]);
    assert_eq!(
        sub.reply(),
        "[subscribe,a,:1]",
        "channels are counted apart"
    );
    sub.cmd(&[b"PSUBSCRIBE", b"*"]);
    assert_eq!(sub.reply(), "[psubscribe,*,:2]");
    let mut p = s.raw();
    p.cmd(&[b"SPUBLISH", b"a", b"hi"]);
    assert_eq!(p.reply(), ":1", "patterns never match shard channels");
    assert_eq!(sub.reply(), "[smessage,a,hi]");
    p.cmd(&[b"PUBLISH", b"b", b"x"]);
    assert_eq!(p.reply(), ":1", "the pattern subscription only");
    assert_eq!(sub.reply(), "[pmessage,*,b,x]");
    p.cmd(&[b"PUBSUB", b"SHARDCHANNELS"]);
    let got = p.reply();
    assert!(got == "[a,b]" || got == "[b,a]", "{got}");
    p.cmd(&[b"PUBSUB", b"SHARDCHANNELS", b"a*"]);
    assert_eq!(p.reply(), "[a]");
    p.cmd(&[b"PUBSUB", b"SHARDNUMSUB", b"a", b"x"]);
    assert_eq!(p.reply(), "[a,:1,x,:0]");
    p.cmd(&[b"PUBSUB", b"NUMSUB", b"b"]);
    assert_eq!(p.reply(), "[b,:0]");
    p.cmd(&[b"CLIENT", b"LIST"]);
    let list = p.reply();
    assert!(list.contains("sub=1 psub=1 ssub=2 "), "{list}");
    // Subscribed state (RESP2) while only shard subscriptions are left.
    sub.cmd(&[b"UNSUBSCRIBE"]);
    assert_eq!(sub.reply(), "[unsubscribe,a,:1]");
    sub.cmd(&[b"PUNSUBSCRIBE"]);
    assert_eq!(sub.reply(), "[punsubscribe,*,:0]");
    sub.cmd(&[b"GET", b"k"]);
    assert!(sub.reply().starts_with("-ERR Can't execute 'get'"));
    sub.cmd(&[b"SUNSUBSCRIBE", b"a"]);
    assert_eq!(sub.reply(), "[sunsubscribe,a,:1]");
    sub.cmd(&[b"SUNSUBSCRIBE"]);
    assert_eq!(sub.reply(), "[sunsubscribe,b,:0]");
    sub.cmd(&[b"GET", b"k"]);
    assert_eq!(sub.reply(), "(nil)");
    p.cmd(&[b"SPUBLISH", b"a", b"gone"]);
    assert_eq!(p.reply(), ":0");
}
