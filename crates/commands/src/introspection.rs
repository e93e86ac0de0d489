//! COMMAND: the command table described to clients (Redis 7 `COMMAND`, `COUNT`, `LIST`, `INFO`,
//! `DOCS`, `GETKEYS`, `HELP`).
//!
//! Cluster-aware clients read key positions from COMMAND INFO, and redis-cli 7 calls COMMAND DOCS
//! at start-up for its hints, so the replies follow Redis 7.2's layouts exactly; everything comes
//! from the `CommandSpec` data in the table, never from a second hand-written list.
//!
//! COMMAND is dispatched here rather than through the gate's container mechanism because bare
//! `COMMAND` (arity -1) is valid and must run the parent, which the gate does not support for
//! commands that declare subcommands. Its subcommands live in [`COMMAND_SUBCOMMANDS`] and every
//! listing below goes through [`subcommands_of`] so they are still reported like CONFIG's.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, SYNTAX};
use crate::parse::is;
use crate::table::{flags, CommandSpec};
use ringkv_engine::glob_match;
use ringkv_protocol::Args;

const F: u32 = flags::LOADING | flags::STALE;

/// COMMAND's subcommands (see the module docs for why they are not in the spec itself).
pub const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("count", 2, F, count).group("server").doc(
        "Returns a count of commands.",
        "2.8.13",
        "O(1)",
    ),
    CommandSpec::new("docs", -2, F, docs)
        .group("server")
        .doc(
            "Returns documentary information about one, multiple or all commands.",
            "7.0.0",
            "O(N) where N is the number of commands to look up",
        )
        .syntax("[command-name [command-name ...]]"),
    CommandSpec::new("getkeys", -3, F, getkeys)
        .group("server")
        .doc(
            "Extracts the key names from an arbitrary command.",
            "2.8.13",
            "O(N) where N is the number of arguments to the command",
        )
        .syntax("command [arg [arg ...]]"),
    CommandSpec::new("help", 2, F, help).group("server").doc(
        "Returns helpful text about the different subcommands.",
        "5.0.0",
        "O(1)",
    ),
    CommandSpec::new("info", -2, F, info)
        .group("server")
        .doc(
            "Returns information about one, multiple or all commands.",
            "2.8.13",
            "O(N) where N is the number of commands to look up",
        )
        .syntax("[command-name [command-name ...]]"),
    CommandSpec::new("list", -2, F, list)
        .group("server")
        .doc(
            "Returns a list of command names.",
            "7.0.0",
            "O(N) where N is the total number of Redis commands",
        )
        .syntax("[FILTERBY <MODULE module-name | ACLCAT category | PATTERN pattern>]"),
];

/// The spec of COMMAND itself, for `server::COMMANDS`.
pub const COMMAND_SPEC: CommandSpec = CommandSpec::new("command", -1, F, command)
    .group("server")
    .doc(
        "Returns detailed information about all commands.",
        "2.8.13",
        "O(N) where N is the total number of Redis commands",
    );

/// Subcommands of a command as clients should see them (COMMAND's are kept aside, see above).
pub fn subcommands_of(spec: &CommandSpec) -> &'static [CommandSpec] {
    if spec.subcommands.is_empty() && spec.name == COMMAND_SPEC.name {
        COMMAND_SUBCOMMANDS
    } else {
        spec.subcommands
    }
}

/// COMMAND [subcommand ...]: bare COMMAND lists everything; otherwise the gate's subcommand
/// checks, done here (unknown subcommand, then the subcommand's arity).
fn command(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let Some(sub_name) = args.get(1) else {
        let commands: Vec<&'static CommandSpec> = ctx.shared.commands.iter().collect();
        ctx.out.array(commands.len());
        for spec in commands {
            write_info(ctx, spec, None);
        }
        return Ok(());
    };
    let sub = COMMAND_SUBCOMMANDS
        .iter()
        .find(|s| s.name.as_bytes().eq_ignore_ascii_case(sub_name))
        .ok_or_else(|| CmdError::unknown_subcommand("command", sub_name))?;
    if !sub.arity_ok(args.len()) {
        return Err(CmdError::arity(&format!("command|{}", sub.name)));
    }
    (sub.handler)(ctx, args)
}

/// Finds a command by its full name: "get", or "config|get" for a subcommand (case-insensitive).
fn lookup_full(
    ctx: &Ctx<'_>,
    name: &[u8],
) -> Option<(&'static CommandSpec, Option<&'static CommandSpec>)> {
    let mut parts = name.splitn(2, |b| *b == b'|');
    let parent = ctx.shared.commands.lookup(parts.next()?)?;
    match parts.next() {
        None => Some((parent, None)),
        Some(sub) => {
            let s = subcommands_of(parent)
                .iter()
                .find(|s| s.name.as_bytes().eq_ignore_ascii_case(sub))?;
            Some((parent, Some(s)))
        }
    }
}

fn full_name(parent: &CommandSpec, sub: Option<&CommandSpec>) -> String {
    match sub {
        Some(s) => format!("{}|{}", parent.name, s.name),
        None => parent.name.to_string(),
    }
}

/// One Redis 7 COMMAND INFO entry: name, arity, flags, first key, last key, step, ACL categories,
/// tips, key specs, subcommands (full entries named "parent|sub").
fn write_info(ctx: &mut Ctx<'_>, parent: &'static CommandSpec, sub: Option<&'static CommandSpec>) {
    let spec = sub.unwrap_or(parent);
    ctx.out.array(10);
    ctx.out.bulk(full_name(parent, sub).as_bytes());
    ctx.out.integer(spec.arity as i64);
    let mut names: Vec<&str> = flags::NAMES
        .iter()
        .filter(|(bit, _)| spec.has(*bit))
        .map(|(_, n)| *n)
        .collect();
    if spec.has_movable_keys() {
        names.push("movablekeys");
    }
    ctx.out.set(names.len());
    for n in names {
        ctx.out.simple(n.as_bytes());
    }
    ctx.out.integer(spec.first_key as i64);
    ctx.out.integer(spec.last_key as i64);
    ctx.out.integer(spec.key_step as i64);
    let cats = spec.acl_categories();
    ctx.out.set(cats.len());
    for c in cats {
        ctx.out.simple(c.as_bytes());
    }
    // Tips and key specs: ringkv keeps only the legacy key range (fields 4-6), which is what
    // key-routing clients read; an empty key-spec list is what Redis sends for keyless commands.
    ctx.out.set(0);
    ctx.out.array(0);
    if sub.is_some() {
        ctx.out.array(0);
    } else {
        let subs = subcommands_of(parent);
        ctx.out.array(subs.len());
        for s in subs {
            write_info(ctx, parent, Some(s));
        }
    }
}

/// One Redis 7 COMMAND DOCS value: a map of summary, since, group, complexity, subcommands.
fn write_docs(ctx: &mut Ctx<'_>, parent: &'static CommandSpec, sub: Option<&'static CommandSpec>) {
    let spec = sub.unwrap_or(parent);
    let subs = if sub.is_some() {
        &[][..]
    } else {
        subcommands_of(parent)
    };
    // Redis's order: summary, since, group (always present), complexity; empty texts are left out.
    let fields = [
        ("summary", spec.summary),
        ("since", spec.since),
        ("group", spec.group),
        ("complexity", spec.complexity),
    ];
    let present: Vec<_> = fields
        .iter()
        .filter(|(k, v)| *k == "group" || !v.is_empty())
        .collect();
    ctx.out.map(present.len() + usize::from(!subs.is_empty()));
    for (k, v) in present {
        ctx.out.bulk(k.as_bytes());
        ctx.out.bulk(v.as_bytes());
    }
    if !subs.is_empty() {
        ctx.out.bulk(b"subcommands");
        ctx.out.map(subs.len());
        for s in subs {
            ctx.out.bulk(full_name(parent, Some(s)).as_bytes());
            write_docs(ctx, parent, Some(s));
        }
    }
}

/// COMMAND COUNT: top-level commands only, like Redis's dictSize(server.commands).
fn count(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    ctx.out.integer(ctx.shared.commands.len() as i64);
    Ok(())
}

/// COMMAND INFO [name ...]: all commands without names; nil for an unknown name.
fn info(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() == 2 {
        let commands: Vec<&'static CommandSpec> = ctx.shared.commands.iter().collect();
        ctx.out.array(commands.len());
        for spec in commands {
            write_info(ctx, spec, None);
        }
        return Ok(());
    }
    ctx.out.array(args.len() - 2);
    for name in args.iter().skip(2) {
        match lookup_full(ctx, name) {
            Some((parent, sub)) => write_info(ctx, parent, sub),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

/// COMMAND DOCS [name ...]: a map of full name → docs; unknown names are left out.
fn docs(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    if args.len() == 2 {
        let commands: Vec<&'static CommandSpec> = ctx.shared.commands.iter().collect();
        ctx.out.map(commands.len());
        for spec in commands {
            ctx.out.bulk(spec.name.as_bytes());
            write_docs(ctx, spec, None);
        }
        return Ok(());
    }
    let found: Vec<_> = args
        .iter()
        .skip(2)
        .filter_map(|name| lookup_full(ctx, name))
        .collect();
    ctx.out.map(found.len());
    for (parent, sub) in found {
        ctx.out.bulk(full_name(parent, sub).as_bytes());
        write_docs(ctx, parent, sub);
    }
    Ok(())
}

enum Filter<'a> {
    None,
    /// ringkv has no modules: nothing matches.
    Module,
    AclCat(&'a [u8]),
    Pattern(&'a [u8]),
}

impl Filter<'_> {
    fn matches(&self, full_name: &str, spec: &CommandSpec) -> bool {
        match self {
            Filter::None => true,
            Filter::Module => false,
            Filter::AclCat(cat) => spec.acl_categories().iter().any(|c| {
                c.trim_start_matches('@')
                    .as_bytes()
                    .eq_ignore_ascii_case(cat)
            }),
            Filter::Pattern(p) => glob_match(p, full_name.as_bytes(), true),
        }
    }
}

/// COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: names of commands
/// and subcommands ("config|get"), as in Redis 7.
fn list(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut filter = Filter::None;
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if is(args.arg(i), "FILTERBY") && more == 2 {
            let kind = args.arg(i + 1);
            let value = args.arg(i + 2);
            filter = if is(kind, "MODULE") {
                Filter::Module
            } else if is(kind, "ACLCAT") {
                Filter::AclCat(value)
            } else if is(kind, "PATTERN") {
                Filter::Pattern(value)
            } else {
                return Err(SYNTAX);
            };
            i += 3;
        } else {
            return Err(SYNTAX);
        }
    }
    let mut names = Vec::new();
    for spec in ctx.shared.commands.iter() {
        if filter.matches(spec.name, spec) {
            names.push(spec.name.to_string());
        }
        for s in subcommands_of(spec) {
            let full = full_name(spec, Some(s));
            if filter.matches(&full, s) {
                names.push(full);
            }
        }
    }
    ctx.out.array(names.len());
    for n in names {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// COMMAND GETKEYS command [arg ...]: the key arguments of a full command line, from the spec's
/// key range, with Redis 7's checks and error texts.
fn getkeys(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let cmd_args: Vec<&[u8]> = args.iter().skip(2).collect();
    let Some(parent) = ctx.shared.commands.lookup(cmd_args[0]) else {
        return Err(CmdError::Static("ERR Invalid command specified"));
    };
    let subs = subcommands_of(parent);
    let spec = if !subs.is_empty() && cmd_args.len() >= 2 {
        subs.iter()
            .find(|s| s.name.as_bytes().eq_ignore_ascii_case(cmd_args[1]))
            .ok_or(CmdError::Static("ERR Invalid command specified"))?
    } else {
        parent
    };
    if !spec.has_keys() {
        return Err(CmdError::Static("ERR The command has no key arguments"));
    }
    if !spec.arity_ok(cmd_args.len()) {
        return Err(CmdError::Static(
            "ERR Invalid number of arguments specified for command",
        ));
    }
    let keys: Vec<usize> = spec.keys_of(&cmd_args);
    if keys.is_empty() {
        return Err(CmdError::Static(
            "ERR Invalid arguments specified for command",
        ));
    }
    ctx.out.array(keys.len());
    for k in keys {
        ctx.out.bulk(cmd_args[k]);
    }
    Ok(())
}

/// Writes Redis's `addReplyHelp` layout: header, the lines, then the HELP entry.
pub fn reply_help(ctx: &mut Ctx<'_>, command: &str, lines: &[&str]) {
    ctx.out.array(lines.len() + 3);
    ctx.out.simple(
        format!(
            "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            command.to_ascii_uppercase()
        )
        .as_bytes(),
    );
    for l in lines {
        ctx.out.simple(l.as_bytes());
    }
    ctx.out.simple(b"HELP");
    ctx.out.simple(b"    Print this help.");
}

fn help(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    reply_help(
        ctx,
        "command",
        &[
            "(no subcommand)",
            "    Return details about all Redis commands.",
            "COUNT",
            "    Return the total number of commands in this Redis server.",
            "LIST",
            "    Return a list of all commands in this Redis server.",
            "INFO [<command-name> ...]",
            "    Return details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "DOCS [<command-name> ...]",
            "    Return documentation details about multiple Redis commands.",
            "    If no command names are given, documentation details for all",
            "    commands are returned.",
            "GETKEYS <full-command>",
            "    Return the keys from a full Redis command.",
        ],
    );
    Ok(())
}
