//! XREAD and XREADGROUP: reading one or more streams after given IDs, as a plain reader or as a
//! consumer of a group, at once or blocking until an entry arrives.
//!
//! - XREAD returns the entries after each ID (`$`: after the stream's last ID at call time).
//! - XREADGROUP with `>` delivers entries the group has not delivered yet: the group's last
//!   delivered ID and read counter advance, and (unless NOACK) each entry becomes pending for
//!   the consumer. With an explicit ID it re-reads the consumer's own pending entries after that
//!   ID (a deleted one comes back as `[id, nil]`), counting a new delivery of each.
//! - BLOCK parks the request (see [`crate::blocking`]) when nothing could be served; any change
//!   to one of the streams re-runs it. XREAD parks with its `$` IDs resolved, so that the re-run
//!   waits for what was new when it blocked. Blocked readers do not take entries from each
//!   other: every waiting reader is tried on each change.
//!
//! XREADGROUP changes the group, and is logged (AOF) as Redis propagates it: an
//! `XGROUP CREATECONSUMER` for a consumer it created, one
//! `XCLAIM key group consumer 0 id TIME t RETRYCOUNT n FORCE JUSTID LASTID last` per delivery
//! (which recreates the pending entry exactly), and an `XGROUP SETID ... ENTRIESREAD n` when the
//! group moved forward, so a restart restores the read counter too.

use crate::blocking::block_reader;
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, SYNTAX};
use crate::hash::db_and_out;
use crate::parse::{int_arg, is};
use crate::stream::{existing_stream_mut, id_text, parse_strict_id, read_stream, reply_entry};
use crate::table::{flags, CommandSpec};
use ringkv_config::notify;
use ringkv_engine::types::stream::{ConsumerGroup, StreamId};
use ringkv_engine::{DbRef, StreamValue};
use ringkv_protocol::{Args, OwnedArgs, Protocol, ReplyWriter};
use std::time::Duration;

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("xread", -4, flags::READONLY | flags::BLOCKING, xread)
        .key_finder(streams_keys)
        .group("stream")
        .doc(
            "Returns messages from multiple streams with IDs greater than the ones requested. Blocks until a message is available otherwise.",
            "5.0.0",
            "",
        )
        .syntax("[COUNT count] [BLOCK milliseconds] STREAMS key [key ...] id [id ...]"),
    CommandSpec::new("xreadgroup", -7, flags::WRITE | flags::BLOCKING, xreadgroup)
        .key_finder(streams_keys)
        .group("stream")
        .doc(
            "Returns new or historical messages from a stream for a consumer in a group. Blocks until a message is available otherwise.",
            "5.0.0",
            "For each stream mentioned: O(M) with M being the number of elements returned. If M is constant (e.g. always asking for the first 10 elements with COUNT), you can consider it O(1). On the other side when XREADGROUP blocks, XADD will pay the O(N) time in order to serve the N clients blocked on the stream getting new data.",
        )
        .syntax("GROUP group consumer [COUNT count] [BLOCK milliseconds] [NOACK] STREAMS key [key ...] id [id ...]"),
];

/// The keys of XREAD/XREADGROUP: the first half of what follows STREAMS.
fn streams_keys(args: &[&[u8]], keys: &mut Vec<usize>) {
    let mut i = 1;
    while i < args.len() {
        let a = args[i];
        if is(a, "streams") {
            let n = (args.len() - i - 1) / 2;
            keys.extend(i + 1..i + 1 + n);
            return;
        }
        i += if is(a, "block") || is(a, "count") {
            2
        } else if is(a, "group") {
            3
        } else {
            1
        };
    }
}

/// The parsed options of a read.
struct ReadArgs<'a> {
    /// 0: no limit.
    count: usize,
    /// None: no BLOCK; Some(None): block forever.
    block: Option<Option<Duration>>,
    noack: bool,
    group: Option<(&'a [u8], &'a [u8])>,
    /// Position of the first key, and the number of streams.
    first_key: usize,
    streams: usize,
}

/// Redis's option loop of xreadCommand.
fn parse_read<'a>(args: Args<'a>, group_cmd: bool) -> Result<ReadArgs<'a>, CmdError> {
    let mut r = ReadArgs {
        count: 0,
        block: None,
        noack: false,
        group: None,
        first_key: 0,
        streams: 0,
    };
    let argc = args.len();
    let mut i = 1;
    while i < argc {
        let more = argc - i - 1;
        let o = args.arg(i);
        if is(o, "block") && more > 0 {
            i += 1;
            r.block = Some(crate::blocking::parse_timeout_ms(args.arg(i))?);
        } else if is(o, "count") && more > 0 {
            i += 1;
            r.count = int_arg(args.arg(i))?.max(0) as usize;
        } else if is(o, "streams") && more > 0 {
            r.first_key = i + 1;
            let n = argc - r.first_key;
            if !n.is_multiple_of(2) {
                let (name, symbol) = if group_cmd {
                    ("xreadgroup", '>')
                } else {
                    ("xread", '$')
                };
                return Err(CmdError::Owned(format!(
                    "ERR Unbalanced '{name}' list of streams: for each stream key an ID or '{symbol}' must be specified."
                )));
            }
            r.streams = n / 2;
            break;
        } else if is(o, "group") && more >= 2 {
            if !group_cmd {
                return Err(CmdError::Static(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.group = Some((args.arg(i + 1), args.arg(i + 2)));
            i += 2;
        } else if is(o, "noack") {
            if !group_cmd {
                return Err(CmdError::Static(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            r.noack = true;
        } else {
            return Err(SYNTAX);
        }
        i += 1;
    }
    if r.first_key == 0 {
        return Err(SYNTAX);
    }
    if group_cmd && r.group.is_none() {
        return Err(CmdError::Static("ERR Missing GROUP option for XREADGROUP"));
    }
    Ok(r)
}

/// What a coordinator that serves a blocking stream read as repeated non-blocking attempts
/// (cluster mode) needs to know about it; see [`blocking_read`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockingRead {
    /// How long to wait (None: forever).
    pub timeout: Option<Duration>,
    /// The arguments without BLOCK and its value (every BLOCK option, as only the last counts).
    pub args: Vec<Vec<u8>>,
    /// Positions, in `args`, of each stream's key and ID (XREAD's `$` still to be resolved).
    pub keys: std::ops::Range<usize>,
    pub ids: std::ops::Range<usize>,
}

/// For XREAD/XREADGROUP with BLOCK: the timeout and the same read without BLOCK (None without
/// BLOCK); the read's own errors (as this server answers them) otherwise.
pub fn blocking_read(args: Args<'_>, group_cmd: bool) -> Result<Option<BlockingRead>, CmdError> {
    let r = parse_read(args, group_cmd)?;
    let Some(timeout) = r.block else {
        return Ok(None);
    };
    let mut kept = Vec::with_capacity(args.len());
    let mut i = 0;
    while i < args.len() {
        if i > 0 && i < r.first_key && is(args.arg(i), "block") {
            i += 2;
            continue;
        }
        // GROUP's and COUNT's values are skipped whole, so a group named BLOCK stays.
        let skip = if i > 0 && i < r.first_key && is(args.arg(i), "group") {
            3
        } else if i > 0 && i < r.first_key && is(args.arg(i), "count") {
            2
        } else {
            1
        };
        for j in i..(i + skip).min(args.len()) {
            kept.push(args.arg(j).to_vec());
        }
        i += skip;
    }
    let first_key = kept.len() - 2 * r.streams;
    Ok(Some(BlockingRead {
        timeout,
        args: kept,
        keys: first_key..first_key + r.streams,
        ids: first_key + r.streams..first_key + 2 * r.streams,
    }))
}

/// `>` (XREADGROUP: entries never delivered to the group).
const NEW_ENTRIES: StreamId = StreamId::MAX;

/// Resolves each stream's ID argument (`$`, `>` or an ID), checking types and groups in order.
fn resolve_ids(
    db: &mut DbRef<'_>,
    args: Args<'_>,
    r: &ReadArgs<'_>,
) -> Result<Vec<StreamId>, CmdError> {
    let mut ids = Vec::with_capacity(r.streams);
    for i in 0..r.streams {
        let key = args.arg(r.first_key + i);
        let arg = args.arg(r.first_key + r.streams + i);
        let s = read_stream(db, key)?;
        if let Some((group, _)) = r.group {
            if !s.is_some_and(|s| s.groups.contains_key(group)) {
                return Err(CmdError::Owned(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(group)
                )));
            }
        }
        ids.push(if arg == b"$" {
            if r.group.is_some() {
                return Err(CmdError::Static(
                    "ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
                ));
            }
            s.map_or(StreamId::MIN, |s| s.last_id)
        } else if arg == b">" {
            if r.group.is_none() {
                return Err(CmdError::Static(
                    "ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
                ));
            }
            NEW_ENTRIES
        } else {
            parse_strict_id(arg)?
        });
    }
    Ok(ids)
}

/// Starts the reply's outer collection on the first stream served (a map in RESP3).
fn finish_outer(out: &mut ReplyWriter, d: ringkv_protocol::Deferred, n: usize) {
    match out.protocol() {
        Protocol::Resp2 => out.finish_deferred_array(d, n),
        Protocol::Resp3 => out.finish_deferred_map(d, n),
    }
}

/// One stream's `[key, entries]` opener (RESP3: the map key only).
fn open_stream(out: &mut ReplyWriter, key: &[u8]) {
    if out.protocol() == Protocol::Resp2 {
        out.array(2);
    }
    out.bulk(key);
}

fn xread(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let r = parse_read(args, false)?;
    let (mut db, out) = db_and_out(ctx);
    let ids = resolve_ids(&mut db, args, &r)?;
    let mut outer = None;
    let mut served = 0;
    for (i, gt) in ids.iter().enumerate() {
        let key = args.arg(r.first_key + i);
        let Some(s) = read_stream(&mut db, key)? else {
            continue;
        };
        if s.last_entry_id().is_none_or(|last| last <= *gt) {
            continue;
        }
        let Some(start) = gt.next() else {
            continue;
        };
        served += 1;
        outer.get_or_insert_with(|| out.begin_deferred());
        open_stream(out, key);
        crate::stream::reply_range(out, s, start, StreamId::MAX, r.count, false);
    }
    let parked = || {
        // `$` is parked as the ID it stood for.
        let resolved: Vec<Vec<u8>> = args
            .iter()
            .enumerate()
            .map(|(j, a)| {
                let id_index = j.checked_sub(r.first_key + r.streams);
                match id_index {
                    Some(k) if a == b"$" => id_text(ids[k]),
                    _ => a.to_vec(),
                }
            })
            .collect();
        OwnedArgs::from_slices(resolved.iter().map(Vec::as_slice))
    };
    finish_or_block(ctx, outer.map(|d| (d, served)), &r, args, parked);
    Ok(())
}

/// Ends a read: the streams served, or (none served) a null reply, or with BLOCK the request
/// parked as `parked` makes it.
fn finish_or_block(
    ctx: &mut Ctx<'_>,
    served: Option<(ringkv_protocol::Deferred, usize)>,
    r: &ReadArgs<'_>,
    args: Args<'_>,
    parked: impl FnOnce() -> OwnedArgs,
) {
    if let Some((d, n)) = served {
        finish_outer(ctx.out, d, n);
        return;
    }
    let Some(timeout) = r.block else {
        ctx.out.null_array();
        return;
    };
    let keys: Vec<&[u8]> = (0..r.streams).map(|i| args.arg(r.first_key + i)).collect();
    block_reader(ctx, parked, &keys, timeout);
}

fn xreadgroup(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let r = parse_read(args, true)?;
    let Some((group, consumer)) = r.group else {
        return Err(SYNTAX);
    };
    let serving_blocked = ctx.client.serving_blocked;
    let (mut db, out) = db_and_out(ctx);
    if serving_blocked {
        // A parked read re-run because one of its streams changed: a stream that is gone (or
        // is no stream any more) ends the wait with Redis 7.2's error.
        for i in 0..r.streams {
            if !matches!(read_stream(&mut db, args.arg(r.first_key + i)), Ok(Some(_))) {
                return Err(CmdError::Static(
                    "UNBLOCKED the stream key no longer exists",
                ));
            }
        }
    }
    let ids = resolve_ids(&mut db, args, &r)?;
    let now = db.now_ms();
    let logging = db.logging();
    if logging {
        db.log_suppress();
    }
    let mut outer = None;
    let mut served = 0;
    for (i, gt) in ids.iter().enumerate() {
        let key = args.arg(r.first_key + i);
        let Some(s) = existing_stream_mut(&mut db, key)? else {
            continue;
        };
        let mut read = GroupRead {
            names: [key, group, consumer],
            now,
            count: if r.count == 0 { usize::MAX } else { r.count },
            logging,
            effects: Vec::new(),
            changes: 0,
        };
        let Some(created) = read.meet_consumer(s) else {
            continue;
        };
        let Some(from) = read.serves_after(s, *gt) else {
            // `>` with nothing new: this stream has no reply part.
            read.finish(&mut db, created);
            continue;
        };
        served += 1;
        outer.get_or_insert_with(|| out.begin_deferred());
        open_stream(out, key);
        let start = from.next().unwrap_or(StreamId::MAX);
        let d = out.begin_deferred();
        let n = if *gt == NEW_ENTRIES {
            read.new_entries(s, out, start, r.noack)
        } else {
            read.history(s, out, start)
        };
        out.finish_deferred_array(d, n);
        read.changes += 1;
        read.finish(&mut db, created);
    }
    finish_or_block(ctx, outer.map(|d| (d, served)), &r, args, || {
        args.to_owned_args()
    });
    Ok(())
}

/// One stream's part of an XREADGROUP: what it changed, and the effects to log.
struct GroupRead<'a> {
    /// Key, group, consumer.
    names: [&'a [u8]; 3],
    now: i64,
    /// At most this many entries (COUNT; unlimited without it).
    count: usize,
    /// The AOF (or a replica) wants effects: without it none are built.
    logging: bool,
    effects: Vec<Vec<Vec<u8>>>,
    changes: u64,
}

impl GroupRead<'_> {
    /// Records the effect `make` builds, if anything logs it.
    fn log(&mut self, make: impl FnOnce() -> Vec<Vec<u8>>) {
        if self.logging {
            self.effects.push(make());
        }
    }

    /// Creates the consumer if needed and marks it seen (as Redis 7.2 does for every read,
    /// served or not). Returns whether it was created; None if the group is gone.
    fn meet_consumer(&mut self, s: &mut StreamValue) -> Option<bool> {
        let [key, group, consumer] = self.names;
        let g = s.groups.get_mut(group)?;
        let created = g.create_consumer(consumer, self.now);
        if let Some(c) = g.consumers.get_mut(consumer) {
            c.seen_time = self.now;
        }
        if created {
            self.changes += 1;
            self.log(|| created_effect(key, group, consumer));
        }
        Some(created)
    }

    /// The ID the reply starts after, or None when there is nothing to serve: a history read
    /// (an explicit ID) always serves, `>` only when the stream has entries after the group's.
    fn serves_after(&self, s: &StreamValue, gt: StreamId) -> Option<StreamId> {
        if gt != NEW_ENTRIES {
            return Some(gt);
        }
        let from = s.groups.get(self.names[1])?.last_id;
        s.last_entry_id()
            .is_some_and(|last| last > from)
            .then_some(from)
    }

    /// The consumer's own pending entries from `start`, each counted as delivered again; a
    /// deleted one replies `[id, nil]`.
    fn history(&mut self, s: &mut StreamValue, out: &mut ReplyWriter, start: StreamId) -> usize {
        let [key, group, consumer] = self.names;
        let pending: Vec<StreamId> = s
            .groups
            .get(group)
            .and_then(|g| g.consumers.get(consumer))
            .map(|c| c.pending.range(start..).copied().take(self.count).collect())
            .unwrap_or_default();
        for &id in &pending {
            let Some(fields) = s.get(id) else {
                out.array(2);
                crate::stream::reply_id(out, id);
                out.null_array();
                continue;
            };
            reply_entry(out, id, fields);
            let Some(g) = s.groups.get_mut(group) else {
                continue;
            };
            let last = g.last_id;
            if let Some(p) = g.pel.get_mut(&id) {
                p.delivery_time = self.now;
                p.delivery_count += 1;
                self.changes += 1;
                self.log(|| claim_effect(key, group, consumer, id, p, last));
            }
        }
        pending.len()
    }

    /// Entries from `start` never delivered to the group: the group moves past them and
    /// (unless NOACK) each becomes pending for the consumer.
    fn new_entries(
        &mut self,
        s: &mut StreamValue,
        out: &mut ReplyWriter,
        start: StreamId,
        noack: bool,
    ) -> usize {
        let [key, group, consumer] = self.names;
        // The replies in one walk of the entries (delivering them changes only the group).
        let mut new = Vec::new();
        for (id, fields) in s.range(start, StreamId::MAX).take(self.count) {
            reply_entry(out, id, fields);
            new.push(id);
        }
        let before = s.groups.get(group).map(|g| (g.last_id, g.entries_read));
        for &id in &new {
            s.advance_group(group, id);
            self.changes += 1;
            let Some(g) = s.groups.get_mut(group).filter(|_| !noack) else {
                continue;
            };
            g.deliver(id, consumer, self.now);
            if let Some(p) = g.pel.get(&id) {
                let last = g.last_id;
                self.log(|| claim_effect(key, group, consumer, id, p, last));
            }
        }
        if let Some(g) = s.groups.get(group) {
            if before != Some((g.last_id, g.entries_read)) {
                self.log(|| setid_effect(key, group, g));
            }
        }
        new.len()
    }

    /// Signals, notifies and logs what the read did.
    fn finish(self, db: &mut DbRef<'_>, created: bool) {
        let key = self.names[0];
        if self.changes > 0 {
            db.signal_modified(key, self.changes);
        }
        if created {
            db.notify(notify::STREAM, "xgroup-createconsumer", key);
        }
        // Built only when logging.
        for e in &self.effects {
            db.log_effect(e.iter().map(Vec::as_slice));
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What group changes are logged as (Redis's propagation forms), shared with XCLAIM/XAUTOCLAIM.

/// The XCLAIM that recreates pending entry `p` of `id` exactly (Redis's streamPropagateXCLAIM).
pub(crate) fn claim_effect(
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
    id: StreamId,
    p: &ringkv_engine::types::stream::PendingEntry,
    last_id: StreamId,
) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        consumer.to_vec(),
        b"0".to_vec(),
        id_text(id),
        b"TIME".to_vec(),
        p.delivery_time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        p.delivery_count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        id_text(last_id),
    ]
}

/// The group's position and read counter (Redis's streamPropagateGroupID).
pub(crate) fn setid_effect(key: &[u8], group: &[u8], g: &ConsumerGroup) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group.to_vec(),
        id_text(g.last_id),
        b"ENTRIESREAD".to_vec(),
        g.entries_read.to_string().into_bytes(),
    ]
}

/// A consumer created by a read or a claim (Redis's streamPropagateConsumerCreation).
pub(crate) fn created_effect(key: &[u8], group: &[u8], consumer: &[u8]) -> Vec<Vec<u8>> {
    [&b"XGROUP"[..], b"CREATECONSUMER", key, group, consumer]
        .map(<[u8]>::to_vec)
        .to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_follow_streams() {
        let find = |line: &[&str]| {
            let args: Vec<&[u8]> = line.iter().map(|a| a.as_bytes()).collect();
            let mut keys = Vec::new();
            streams_keys(&args, &mut keys);
            keys
        };
        assert_eq!(find(&["XREAD", "STREAMS", "a", "b", "0", "0"]), vec![2, 3]);
        assert_eq!(
            find(&["XREAD", "COUNT", "streams", "STREAMS", "a", "0"]),
            vec![4]
        );
        assert_eq!(
            find(&[
                "XREADGROUP",
                "GROUP",
                "streams",
                "c",
                "BLOCK",
                "0",
                "STREAMS",
                "k",
                ">"
            ]),
            vec![7]
        );
        assert_eq!(find(&["XREAD", "BLOCK", "0"]), Vec::<usize>::new());
    }

    #[test]
    fn a_blocking_read_without_block() {
        let parse = |a: &[&str], group: bool| {
            let owned = ringkv_protocol::OwnedArgs::from_slices(a.iter().map(|s| s.as_bytes()));
            blocking_read(owned.args(), group)
        };
        let text = |r: &BlockingRead| -> Vec<String> {
            r.args
                .iter()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        };
        let r = parse(
            &[
                "XREAD", "COUNT", "2", "BLOCK", "100", "STREAMS", "a", "b", "$", "0",
            ],
            false,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.timeout, Some(Duration::from_millis(100)));
        assert_eq!(
            text(&r),
            ["XREAD", "COUNT", "2", "STREAMS", "a", "b", "$", "0"]
        );
        assert_eq!((r.keys, r.ids), (4..6, 6..8));
        let r = parse(
            &[
                "XREADGROUP",
                "GROUP",
                "block",
                "BLOCK",
                "block",
                "0",
                "NOACK",
                "STREAMS",
                "s",
                ">",
            ],
            true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.timeout, None);
        assert_eq!(
            text(&r),
            [
                "XREADGROUP",
                "GROUP",
                "block",
                "BLOCK",
                "NOACK",
                "STREAMS",
                "s",
                ">"
            ]
        );
        assert_eq!(parse(&["XREAD", "STREAMS", "s", "$"], false).unwrap(), None);
        assert!(parse(&["XREAD", "BLOCK", "-1", "STREAMS", "s", "$"], false).is_err());
    }
}
