//! The command table: one `CommandSpec` per command (name, arity, flags, key positions, docs,
//! handler), gathered from the family modules, and the lookup the dispatcher uses.
//!
//! Keeping arity, flags and key positions in data (Redis's commands/*.json) lets one generic gate
//! check arity, authentication and memory before any handler runs, lets COMMAND INFO/DOCS answer
//! redis-cli, and later lets the cluster router find keys without knowing each command.

use crate::ctx::Ctx;
use crate::error::CmdResult;
use ringkv_protocol::Args;
use std::collections::HashMap;

pub type Handler = fn(&mut Ctx<'_>, Args<'_>) -> CmdResult;

/// Finds key arguments that only options reveal (SORT ... STORE destination): appends their
/// positions in the full command line.
pub type KeyFinder = fn(&[&[u8]], &mut Vec<usize>);

/// Command flags (Redis COMMAND INFO flag names in `flag_names`).
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const PUBSUB: u32 = 1 << 4;
    pub const NOSCRIPT: u32 = 1 << 5;
    pub const BLOCKING: u32 = 1 << 6;
    pub const LOADING: u32 = 1 << 7;
    pub const STALE: u32 = 1 << 8;
    pub const FAST: u32 = 1 << 9;
    pub const NO_AUTH: u32 = 1 << 10;
    pub const NO_MULTI: u32 = 1 << 11;
    pub const ALLOW_BUSY: u32 = 1 << 12;
    pub const MAY_REPLICATE: u32 = 1 << 13;
    pub const SKIP_SLOWLOG: u32 = 1 << 14;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (BLOCKING, "blocking"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (NO_MULTI, "no_multi"),
        (ALLOW_BUSY, "allow_busy"),
        (MAY_REPLICATE, "may_replicate"),
        (SKIP_SLOWLOG, "skip_slowlog"),
    ];
}

#[derive(Clone, Copy)]
pub struct CommandSpec {
    /// Lower-case name (for subcommands: the subcommand alone, e.g. "get").
    pub name: &'static str,
    /// Redis arity: N means exactly N arguments including the name; -N means at least N.
    pub arity: i32,
    pub flags: u32,
    /// Key positions (1-based; last -1 = up to the end; 0 = no keys).
    pub first_key: i32,
    pub last_key: i32,
    pub key_step: i32,
    /// For commands whose keys are counted by an argument ("movable keys": ZUNIONSTORE dest
    /// numkeys key..., LMPOP numkeys key..., SINTERCARD numkeys key...): the index of that
    /// argument; the keys follow it. 0 = none.
    pub numkeys_at: usize,
    /// For commands with a key behind an option (SORT's STORE): finds it.
    pub key_finder: Option<KeyFinder>,
    /// Docs group: "string", "generic", "connection", "server", "hash", ...
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
    pub complexity: &'static str,
    /// Argument synopsis for COMMAND DOCS / HELP, e.g. "key value [EX seconds]".
    pub syntax: &'static str,
    pub handler: Handler,
    pub subcommands: &'static [CommandSpec],
}

impl CommandSpec {
    pub const fn new(name: &'static str, arity: i32, flags: u32, handler: Handler) -> CommandSpec {
        CommandSpec {
            name,
            arity,
            flags,
            first_key: 0,
            last_key: 0,
            key_step: 0,
            numkeys_at: 0,
            key_finder: None,
            group: "generic",
            summary: "",
            since: "1.0.0",
            complexity: "O(1)",
            syntax: "",
            handler,
            subcommands: &[],
        }
    }

    pub const fn keys(mut self, first: i32, last: i32, step: i32) -> CommandSpec {
        self.first_key = first;
        self.last_key = last;
        self.key_step = step;
        self
    }

    /// Declares movable keys counted by the argument at `index` (see `numkeys_at`).
    pub const fn numkeys_at(mut self, index: usize) -> CommandSpec {
        self.numkeys_at = index;
        self
    }

    /// Declares keys found by `finder` besides the fixed range (see `key_finder`).
    pub const fn key_finder(mut self, finder: KeyFinder) -> CommandSpec {
        self.key_finder = Some(finder);
        self
    }

    /// Whether some key positions depend on the arguments (COMMAND INFO's `movablekeys`).
    pub fn has_movable_keys(&self) -> bool {
        self.numkeys_at > 0 || self.key_finder.is_some()
    }

    pub const fn group(mut self, group: &'static str) -> CommandSpec {
        self.group = group;
        self
    }

    pub const fn doc(
        mut self,
        summary: &'static str,
        since: &'static str,
        complexity: &'static str,
    ) -> CommandSpec {
        self.summary = summary;
        self.since = since;
        self.complexity = complexity;
        self
    }

    pub const fn syntax(mut self, syntax: &'static str) -> CommandSpec {
        self.syntax = syntax;
        self
    }

    pub const fn subcommands(mut self, subs: &'static [CommandSpec]) -> CommandSpec {
        self.subcommands = subs;
        self
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let a = self.arity as i64;
        if a >= 0 {
            argc == a
        } else {
            argc >= -a
        }
    }

    /// Positions of key arguments in `argc` arguments (for routing and COMMAND GETKEYS).
    pub fn key_positions(&self, argc: usize) -> impl Iterator<Item = usize> {
        let first = self.first_key.max(0) as usize;
        let last = if self.last_key < 0 {
            (argc as i64 + self.last_key as i64).max(0) as usize
        } else {
            self.last_key as usize
        };
        let step = self.key_step.max(1) as usize;
        let end = if first == 0 {
            0
        } else {
            last.min(argc.saturating_sub(1)) + 1
        };
        (first..end.max(first)).step_by(step)
    }

    /// Whether the command has key arguments at all (fixed range or movable).
    pub fn has_keys(&self) -> bool {
        self.first_key > 0 || self.numkeys_at > 0 || self.key_finder.is_some()
    }

    /// Positions of every key argument of a full command line: the fixed range plus the keys
    /// counted by the `numkeys` argument (bounded by the arguments actually present).
    pub fn keys_of(&self, args: &[&[u8]]) -> Vec<usize> {
        let mut keys: Vec<usize> = self.key_positions(args.len()).collect();
        if self.numkeys_at > 0 {
            if let Some(n) = args
                .get(self.numkeys_at)
                .and_then(|a| crate::parse::parse_i64(a))
                .filter(|n| *n > 0)
            {
                let start = self.numkeys_at + 1;
                let end = start.saturating_add(n as usize).min(args.len());
                keys.extend(start..end);
            }
        }
        if let Some(finder) = self.key_finder {
            finder(args, &mut keys);
        }
        keys
    }

    /// Redis ACL categories implied by the group and flags (COMMAND INFO / DOCS).
    pub fn acl_categories(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.has(flags::WRITE) {
            v.push("@write");
        }
        if self.has(flags::READONLY) {
            v.push("@read");
        }
        if self.has(flags::ADMIN) {
            v.push("@admin");
            v.push("@dangerous");
        }
        if self.has(flags::PUBSUB) {
            v.push("@pubsub");
        }
        if self.has(flags::BLOCKING) {
            v.push("@blocking");
        }
        v.push(if self.has(flags::FAST) {
            "@fast"
        } else {
            "@slow"
        });
        let group_cat = match self.group {
            "string" | "bitmap" => "@string",
            "hash" => "@hash",
            "list" => "@list",
            "set" => "@set",
            "sorted-set" => "@sortedset",
            "geo" => "@geo",
            "connection" => "@connection",
            "generic" if self.first_key > 0 => "@keyspace",
            "transactions" => "@transaction",
            _ => "",
        };
        if !group_cat.is_empty() {
            v.push(group_cat);
        }
        if self.group == "bitmap" {
            v.push("@bitmap");
        }
        v
    }
}

/// Name → spec, built once at start-up from the family modules.
pub struct CommandTable {
    /// foldhash: the lookup runs for every command, and names are not attacker-chosen keys that
    /// could be flooded (the table is fixed at start-up). With each command its statistics index.
    by_name: HashMap<Vec<u8>, (&'static CommandSpec, usize), foldhash::fast::RandomState>,
    ordered: Vec<&'static CommandSpec>,
    /// INFO commandstats names by statistics index: every command, each followed by its
    /// subcommands (`client|list`), so a subcommand's index is its parent's + 1 + its position.
    stat_names: Vec<String>,
}

impl CommandTable {
    pub fn new(families: &[&'static [CommandSpec]]) -> CommandTable {
        let mut by_name = HashMap::with_hasher(foldhash::fast::RandomState::default());
        let mut ordered = Vec::new();
        let mut stat_names = Vec::new();
        for family in families {
            for spec in family.iter() {
                let prev = by_name.insert(spec.name.as_bytes().to_vec(), (spec, stat_names.len()));
                assert!(prev.is_none(), "duplicate command {}", spec.name);
                ordered.push(spec);
                stat_names.push(spec.name.to_string());
                stat_names.extend(
                    spec.subcommands
                        .iter()
                        .map(|sub| format!("{}|{}", spec.name, sub.name)),
                );
            }
        }
        CommandTable {
            by_name,
            ordered,
            stat_names,
        }
    }

    /// [`lookup`](Self::lookup) with the command's statistics index.
    pub fn lookup_indexed(&self, name: &[u8]) -> Option<(&'static CommandSpec, usize)> {
        let mut buf = [0u8; 32];
        if name.len() <= buf.len() {
            let lower = &mut buf[..name.len()];
            lower.copy_from_slice(name);
            lower.make_ascii_lowercase();
            self.by_name.get(&*lower).copied()
        } else {
            None
        }
    }

    /// The statistics index of `spec`, given the command it was resolved from (itself or its
    /// container).
    pub fn stat_index(parent: &CommandSpec, parent_index: usize, spec: &CommandSpec) -> usize {
        match parent
            .subcommands
            .iter()
            .position(|sub| std::ptr::eq(sub, spec))
        {
            Some(pos) => parent_index + 1 + pos,
            None => parent_index,
        }
    }

    /// The INFO commandstats names, by statistics index.
    pub fn stat_names(&self) -> &[String] {
        &self.stat_names
    }

    /// Case-insensitive lookup without allocating for names up to 32 bytes.
    pub fn lookup(&self, name: &[u8]) -> Option<&'static CommandSpec> {
        self.lookup_indexed(name).map(|(spec, _)| spec)
    }

    pub fn len(&self) -> usize {
        self.ordered.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ordered.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &'static CommandSpec> + '_ {
        self.ordered.iter().copied()
    }
}

/// Finds a subcommand of a container command (CONFIG GET, CLIENT LIST ...).
pub fn find_subcommand(parent: &CommandSpec, name: &[u8]) -> Option<&'static CommandSpec> {
    parent
        .subcommands
        .iter()
        .find(|s| s.name.as_bytes().eq_ignore_ascii_case(name))
}
