//! XINFO STREAM [FULL [COUNT n]], XINFO GROUPS, XINFO CONSUMERS and XINFO HELP: the state of a
//! stream, its groups and their consumers, in Redis 7.2's field order and reply types (maps,
//! which RESP2 flattens into arrays).
//!
//! `radix-tree-keys` and `radix-tree-nodes` report the stream's macro nodes (see
//! `ringkv_engine::types::stream`): ringkv keeps their boundaries but has no radix tree, so both
//! fields carry the node count.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, NO_SUCH_KEY};
use crate::hash::db_and_out;
use crate::introspection::reply_help;
use crate::parse::{int_arg, is};
use crate::stream::{read_stream, reply_entry, reply_id};
use crate::table::{flags, CommandSpec};
use ringkv_engine::types::stream::{ConsumerGroup, StreamId, ENTRIES_READ_UNKNOWN};
use ringkv_engine::StreamValue;
use ringkv_protocol::{Args, ReplyWriter};

pub const COMMANDS: &[CommandSpec] =
    &[CommandSpec::new("xinfo", -2, 0, crate::dispatch::container)
        .group("stream")
        .doc(
            "A container for stream introspection commands.",
            "5.0.0",
            "Depends on subcommand.",
        )
        .subcommands(XINFO_SUBCOMMANDS)];

const XINFO_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("consumers", 4, flags::READONLY, xinfo_consumers)
        .keys(2, 2, 1)
        .group("stream")
        .doc(
            "Returns a list of the consumers in a consumer group.",
            "5.0.0",
            "O(1)",
        )
        .syntax("key group"),
    CommandSpec::new("groups", 3, flags::READONLY, xinfo_groups)
        .keys(2, 2, 1)
        .group("stream")
        .doc(
            "Returns a list of the consumer groups of a stream.",
            "5.0.0",
            "O(1)",
        )
        .syntax("key"),
    CommandSpec::new("stream", -3, flags::READONLY, xinfo_stream)
        .keys(2, 2, 1)
        .group("stream")
        .doc("Returns information about a stream.", "5.0.0", "O(1)")
        .syntax("key [FULL [COUNT count]]"),
    CommandSpec::new("help", 2, flags::LOADING | flags::STALE, xinfo_help)
        .group("stream")
        .doc(
            "Returns helpful text about the different subcommands.",
            "5.0.0",
            "O(1)",
        ),
];

fn xinfo_help(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    reply_help(
        ctx,
        "xinfo",
        &[
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
        ],
    );
    Ok(())
}

/// A group's `last-delivered-id`, `entries-read` (nil when unknown) and `lag` (nil when it
/// cannot be known) fields.
fn group_position(out: &mut ReplyWriter, s: &StreamValue, g: &ConsumerGroup) {
    out.bulk(b"last-delivered-id");
    reply_id(out, g.last_id);
    out.bulk(b"entries-read");
    if g.entries_read == ENTRIES_READ_UNKNOWN {
        out.null();
    } else {
        out.integer(g.entries_read);
    }
    out.bulk(b"lag");
    match s.group_lag(g) {
        Some(n) => out.integer(n),
        None => out.null(),
    }
}

/// The stream's counters, the first seven fields of both XINFO STREAM forms.
fn stream_header(out: &mut ReplyWriter, s: &StreamValue) {
    out.bulk(b"length");
    out.integer(s.len() as i64);
    out.bulk(b"radix-tree-keys");
    out.integer(s.node_count() as i64);
    out.bulk(b"radix-tree-nodes");
    out.integer(s.node_count() as i64);
    out.bulk(b"last-generated-id");
    reply_id(out, s.last_id);
    out.bulk(b"max-deleted-entry-id");
    reply_id(out, s.max_deleted_id);
    out.bulk(b"entries-added");
    out.integer(i64::try_from(s.entries_added).unwrap_or(i64::MAX));
    out.bulk(b"recorded-first-entry-id");
    reply_id(out, s.first_id);
}

fn xinfo_stream(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let key = args.arg(2);
    let syntax = || CmdError::subcommand_syntax("xinfo", args.arg(1));
    // The key is looked up before the options are read, as Redis does.
    {
        let (mut db, _) = db_and_out(ctx);
        read_stream(&mut db, key)?.ok_or(NO_SUCH_KEY)?;
    }
    let (full, count) = match args.len() {
        3 => (false, 0),
        4 if is(args.arg(3), "full") => (true, 10),
        6 if is(args.arg(3), "full") && is(args.arg(4), "count") => {
            let n = int_arg(args.arg(5))?;
            (true, if n < 0 { 10 } else { n as usize })
        }
        _ => return Err(syntax()),
    };
    let (mut db, out) = db_and_out(ctx);
    let s = read_stream(&mut db, key)?.ok_or(NO_SUCH_KEY)?;
    if !full {
        out.map(10);
        stream_header(out, s);
        out.bulk(b"groups");
        out.integer(s.groups.len() as i64);
        out.bulk(b"first-entry");
        match s.entries().next() {
            Some((id, f)) => reply_entry(out, id, f),
            None => out.null(),
        }
        out.bulk(b"last-entry");
        match s.entries().next_back() {
            Some((id, f)) => reply_entry(out, id, f),
            None => out.null(),
        }
        return Ok(());
    }
    // COUNT 0: everything.
    let limit = if count == 0 { usize::MAX } else { count };
    out.map(9);
    stream_header(out, s);
    out.bulk(b"entries");
    crate::stream::reply_range(out, s, StreamId::MIN, StreamId::MAX, count, false);
    out.bulk(b"groups");
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(7);
        out.bulk(b"name");
        out.bulk(name);
        group_position(out, s, g);
        out.bulk(b"pel-count");
        out.integer(g.pel.len() as i64);
        out.bulk(b"pending");
        let shown = g.pel.len().min(limit);
        out.array(shown);
        for (id, p) in g.pel.iter().take(shown) {
            out.array(4);
            reply_id(out, *id);
            out.bulk(&p.consumer);
            out.integer(p.delivery_time);
            out.integer(i64::try_from(p.delivery_count).unwrap_or(i64::MAX));
        }
        out.bulk(b"consumers");
        out.array(g.consumers.len());
        for c in g.consumers.values() {
            out.map(5);
            out.bulk(b"name");
            out.bulk(&c.name);
            out.bulk(b"seen-time");
            out.integer(c.seen_time);
            out.bulk(b"active-time");
            out.integer(c.active_time);
            out.bulk(b"pel-count");
            out.integer(c.pending.len() as i64);
            out.bulk(b"pending");
            let shown = c.pending.len().min(limit);
            out.array(shown);
            for id in c.pending.iter().take(shown) {
                let p = g.pel.get(id);
                out.array(3);
                reply_id(out, *id);
                out.integer(p.map_or(0, |p| p.delivery_time));
                out.integer(p.map_or(0, |p| i64::try_from(p.delivery_count).unwrap_or(i64::MAX)));
            }
        }
    }
    Ok(())
}

fn xinfo_groups(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (mut db, out) = db_and_out(ctx);
    let s = read_stream(&mut db, args.arg(2))?.ok_or(NO_SUCH_KEY)?;
    out.array(s.groups.len());
    for (name, g) in &s.groups {
        out.map(6);
        out.bulk(b"name");
        out.bulk(name);
        out.bulk(b"consumers");
        out.integer(g.consumers.len() as i64);
        out.bulk(b"pending");
        out.integer(g.pel.len() as i64);
        group_position(out, s, g);
    }
    Ok(())
}

fn xinfo_consumers(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let (key, group) = (args.arg(2), args.arg(3));
    let now = ctx.store.now_ms();
    let (mut db, out) = db_and_out(ctx);
    let s = read_stream(&mut db, key)?.ok_or(NO_SUCH_KEY)?;
    let g = s
        .groups
        .get(group)
        .ok_or_else(|| crate::stream_group::nogroup_for_key(group, key))?;
    out.array(g.consumers.len());
    for c in g.consumers.values() {
        out.map(4);
        out.bulk(b"name");
        out.bulk(&c.name);
        out.bulk(b"pending");
        out.integer(c.pending.len() as i64);
        out.bulk(b"idle");
        out.integer((now - c.seen_time).max(0));
        out.bulk(b"inactive");
        out.integer(if c.active_time == -1 {
            -1
        } else {
            now - c.active_time
        });
    }
    Ok(())
}
