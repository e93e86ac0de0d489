//! Integration tests of the stream commands against a real server: XADD (explicit, partial and
//! automatic IDs, NOMKSTREAM, MAXLEN/MINID trimming with `=`, `~` and LIMIT), XLEN, XRANGE and
//! XREVRANGE (exclusive ranges, COUNT), XDEL, XTRIM, XSETID, XREAD and XREADGROUP with and without
//! BLOCK, NOACK, consumer groups (XGROUP CREATE/SETID/DESTROY/CREATECONSUMER/DELCONSUMER/HELP),
//! XACK, XPENDING, XCLAIM, XAUTOCLAIM, XINFO STREAM [FULL]/GROUPS/CONSUMERS/HELP, RESP3 reply
//! shapes, WRONGTYPE and arity errors, persistence through the AOF, snapshots and AOF rewrites,
//! DUMP/RESTORE and COPY, and the keyspace notifications of the `t` class.
//!
//! Expected replies were taken from a real Redis 7 (7.0.15). The server follows Redis 7.2, so what
//! changed between the two is left out or checked loosely:
//! - XINFO CONSUMERS gained an `inactive` field and XINFO STREAM FULL consumers an `active-time`
//!   field, and `seen-time` (so `idle`) changed meaning: consumer times are only checked to be
//!   plausible, never compared.
//! - Whether an XREADGROUP, XCLAIM or XAUTOCLAIM that delivers or claims nothing still creates its
//!   consumer (and raises `xgroup-createconsumer`) is not the same in every 7.x, since 7.2 records
//!   every attempt in the consumer's `seen-time`: no test depends on it.
//! - Later releases estimate `lag` and `entries-read` in more cases around deletions and trimming
//!   (redis#13338, redis#13473): only the cases every 7.x answers alike are checked.
//! - A client blocked in XREADGROUP whose group or key goes away gets an error in both, but 7.0
//!   answers -NOGROUP/-UNBLOCKED texts where 7.2 re-runs the command: only the `-` is checked.
//! - Texts 7.2 changed, which take 7.2's form here: the unbalanced-streams error names the
//!   command (`'xread'`, `'xreadgroup'` with `'>'`), HELP ends with `Print this help.`, and XSETID
//!   refuses an ID below the stream's `max-deleted-entry-id` before it looks at the top entry.
//!
//! Approximate trimming (`~`) is checked against its contract only (never below the threshold,
//! never more entries than LIMIT, never growing), since how many entries a node holds is up to the
//! implementation. Delivery and idle times depend on the clock and are checked with tolerances.

mod common;
use common::{
    check, hello3, now_ms, raw_info_field, run_line as run, wait_until, Raw, Server, NOT_INT,
    SYNTAX, WRONGTYPE,
};
use std::fmt;
use std::io::Read;
use std::iter::Peekable;
use std::str::Chars;
use std::time::{Duration, Instant};

const SMALLER: &str =
    "-ERR The ID specified in XADD is equal or smaller than the target stream top item";
const BAD_ID: &str = "-ERR Invalid stream ID specified as stream command argument";
const NEEDS_KEY: &str = "-ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";
const NO_KEY: &str = "-ERR no such key";

// ---- Reading nested replies ----

/// A compact reply rendering (see `Raw::reply`) parsed back into a tree, to take fields out of
/// nested replies. Only for replies whose strings hold no `,`, `[` or `]`.
#[derive(Clone, Debug, PartialEq)]
enum Tree {
    Atom(String),
    List(Vec<Tree>),
}

impl Tree {
    fn parse(text: &str) -> Tree {
        let mut it = text.chars().peekable();
        let tree = Tree::parse_one(&mut it);
        assert!(it.next().is_none(), "not one reply: {text}");
        tree
    }

    fn parse_one(it: &mut Peekable<Chars<'_>>) -> Tree {
        if it.peek() == Some(&'[') {
            it.next();
            let mut items = Vec::new();
            if it.peek() == Some(&']') {
                it.next();
                return Tree::List(items);
            }
            loop {
                items.push(Tree::parse_one(it));
                match it.next() {
                    Some(',') => {}
                    Some(']') => return Tree::List(items),
                    other => panic!("unexpected {other:?} in a reply rendering"),
                }
            }
        }
        let mut atom = String::new();
        while let Some(&c) = it.peek() {
            if c == ',' || c == ']' {
                break;
            }
            atom.push(c);
            it.next();
        }
        Tree::Atom(atom)
    }

    fn items(&self) -> &[Tree] {
        match self {
            Tree::List(items) => items,
            Tree::Atom(a) => panic!("not a list: {a}"),
        }
    }

    fn items_mut(&mut self) -> &mut Vec<Tree> {
        match self {
            Tree::List(items) => items,
            Tree::Atom(a) => panic!("not a list: {a}"),
        }
    }

    fn atom(&self) -> &str {
        match self {
            Tree::Atom(a) => a,
            Tree::List(_) => panic!("not an atom: {self}"),
        }
    }

    /// The number of a `:n` atom.
    fn int(&self) -> i64 {
        let a = self.atom();
        a.strip_prefix(':')
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("not an integer: {a}"))
    }

    /// The value after `key` in a flat `[key,value,...]` list (a RESP2 map, or a RESP3 one as
    /// rendered).
    fn find(&self, key: &str) -> Option<&Tree> {
        self.items()
            .chunks(2)
            .find(|kv| kv[0].atom() == key)
            .map(|kv| &kv[1])
    }

    fn get(&self, key: &str) -> &Tree {
        self.find(key)
            .unwrap_or_else(|| panic!("no {key} in {self}"))
    }

    fn get_mut(&mut self, key: &str) -> &mut Tree {
        self.items_mut()
            .chunks_mut(2)
            .find(|kv| kv[0].atom() == key)
            .map(|kv| &mut kv[1])
            .unwrap_or_else(|| panic!("no {key}"))
    }

    /// Drops the pairs of a flat map whose key is one of `keys`.
    fn remove(&mut self, keys: &[&str]) {
        let items = std::mem::take(self.items_mut());
        *self.items_mut() = items
            .chunks(2)
            .filter(|kv| !keys.contains(&kv[0].atom()))
            .flat_map(|kv| kv.to_vec())
            .collect();
    }

    /// Replaces the `i`th item of a list, an integer, by `~` and returns the integer.
    fn mask(&mut self, i: usize) -> i64 {
        let items = self.items_mut();
        let n = items[i].int();
        items[i] = Tree::Atom("~".into());
        n
    }
}

impl fmt::Display for Tree {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Tree::Atom(a) => write!(f, "{a}"),
            Tree::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ",")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
        }
    }
}

/// `XADD key <i>-0 f <i>` for i in 1..=n, each answering its ID.
fn add_entries(r: &mut Raw, key: &str, n: u64) {
    for i in 1..=n {
        assert_eq!(run(r, &format!("xadd {key} {i}-0 f {i}")), format!("{i}-0"));
    }
}

/// XINFO STREAM key [FULL ...] (the command `line`) without what depends on the implementation or
/// the clock: the radix tree sizes go; with FULL every delivery time becomes `~` and consumers'
/// `seen-time` (and 7.2's `active-time`) go, once checked to be times.
fn info(r: &mut Raw, line: &str) -> String {
    let reply = run(r, line);
    if reply.starts_with('-') {
        return reply;
    }
    let mut t = Tree::parse(&reply);
    t.remove(&["radix-tree-keys", "radix-tree-nodes"]);
    if let Tree::List(groups) = t.get_mut("groups") {
        for group in groups {
            for entry in group.get_mut("pending").items_mut() {
                assert!(entry.mask(2) >= 0, "{line}: delivery time");
            }
            for consumer in group.get_mut("consumers").items_mut() {
                assert!(consumer.get("seen-time").int() > 0, "{line}: seen-time");
                if let Some(active) = consumer.find("active-time") {
                    assert!(active.int() >= -1, "{line}: active-time");
                }
                consumer.remove(&["seen-time", "active-time"]);
                for entry in consumer.get_mut("pending").items_mut() {
                    assert!(entry.mask(1) >= 0, "{line}: delivery time");
                }
            }
        }
    }
    t.to_string()
}

/// The extended form of XPENDING (the command `line`) with each entry's idle time replaced by
/// `~`, and those idle times (ms).
fn pending(r: &mut Raw, line: &str) -> (String, Vec<i64>) {
    let reply = run(r, line);
    if reply.starts_with('-') {
        return (reply, Vec::new());
    }
    let mut t = Tree::parse(&reply);
    let idle = t.items_mut().iter_mut().map(|e| e.mask(2)).collect();
    (t.to_string(), idle)
}

/// [`pending`] for entries delivered moments ago: every idle time is under 10 s.
fn recent(r: &mut Raw, line: &str) -> String {
    let (text, idle) = pending(r, line);
    assert!(
        idle.iter().all(|i| (0..10_000).contains(i)),
        "{line}: idle times {idle:?}"
    );
    text
}

/// XINFO CONSUMERS (the command `line`) without the clock-dependent `idle` (and 7.2's `inactive`),
/// each checked to be plausible first.
fn consumers(r: &mut Raw, line: &str) -> String {
    let reply = run(r, line);
    if reply.starts_with('-') {
        return reply;
    }
    let mut t = Tree::parse(&reply);
    for consumer in t.items_mut() {
        let idle = consumer.get("idle").int();
        assert!((0..60_000).contains(&idle), "{line}: idle {idle}");
        // Redis 7.2's field (7.0 has none): -1 until the consumer reads or claims something.
        let inactive = consumer.get("inactive").int();
        assert!(
            (-1..60_000).contains(&inactive),
            "{line}: inactive {inactive}"
        );
        consumer.remove(&["idle", "inactive"]);
    }
    t.to_string()
}

/// The integer reply of a command line.
fn num(r: &mut Raw, line: &str) -> i64 {
    Tree::Atom(run(r, line)).int()
}

/// A stream ID `ms-seq` as numbers.
fn parse_id(id: &str) -> (u64, u64) {
    let (ms, seq) = id
        .split_once('-')
        .unwrap_or_else(|| panic!("not an ID: {id}"));
    (ms.parse().unwrap(), seq.parse().unwrap())
}

/// Sends a command line and returns only the first line of its reply on the wire (the type and
/// length), reading and dropping the rest.
fn head(r: &mut Raw, line: &str) -> String {
    let args = common::split_line(line);
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    r.cmd(&refs);
    let first = r.line();
    let (kind, len) = first.split_at(1);
    let len: i64 = len.parse().unwrap_or(-1);
    match kind {
        "$" if len >= 0 => {
            let mut body = vec![0u8; len as usize + 2];
            r.reader.read_exact(&mut body).unwrap();
        }
        "*" | "%" | "~" => {
            let n = if kind == "%" { len * 2 } else { len };
            for _ in 0..n.max(0) {
                r.reply();
            }
        }
        _ => {}
    }
    first
}

/// Sends the command lines in one write and returns their replies.
fn pipeline(r: &mut Raw, lines: &[String]) -> Vec<String> {
    let args: Vec<Vec<Vec<u8>>> = lines.iter().map(|l| common::split_line(l)).collect();
    let refs: Vec<Vec<&[u8]>> = args
        .iter()
        .map(|a| a.iter().map(Vec::as_slice).collect())
        .collect();
    let cmds: Vec<&[&[u8]]> = refs.iter().map(Vec::as_slice).collect();
    r.pipeline(&cmds);
    lines.iter().map(|_| r.reply()).collect()
}

/// DUMP's payload as bytes.
fn dump(r: &mut Raw, key: &str) -> Vec<u8> {
    r.cmd(&[b"DUMP", key.as_bytes()]);
    let head = r.line();
    let len: usize = head
        .strip_prefix('$')
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("DUMP {key}: {head}"));
    let mut body = vec![0u8; len + 2];
    r.reader.read_exact(&mut body).unwrap();
    body.truncate(len);
    body
}

/// [`info`] for XINFO STREAM lines, [`run`] for the rest.
fn info_or_run(r: &mut Raw, line: &str) -> String {
    if line.starts_with("xinfo stream") {
        info(r, line)
    } else {
        run(r, line)
    }
}

/// Waits until the server counts `n` blocked clients.
fn wait_blocked(s: &Server, n: i64) {
    let mut r = s.raw();
    wait_until(
        &format!("{n} blocked clients"),
        Duration::from_secs(10),
        || raw_info_field::<i64>(&mut r, "clients", "blocked_clients") == n,
    );
}

// ---- XADD, XLEN ----

#[test]
fn xadd_explicit_ids_and_argument_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("xadd s 1-1 a 1", "1-1"),
            ("xadd s 1-2 b 2 c 3", "1-2"),
            ("xlen s", ":2"),
            ("xadd s 1-2 x y", SMALLER),
            ("xadd s 1-1 x y", SMALLER),
            ("xadd s 0-5 x y", SMALLER),
            // A bare number is ms-0; `ms-*` takes the next sequence number of that millisecond.
            ("xadd s 1 x y", SMALLER),
            ("xadd s 2 x y", "2-0"),
            ("xadd s 2-* x y", "2-1"),
            ("xadd s 2-* x y", "2-2"),
            ("xadd s 1-* x y", SMALLER),
            ("xadd s 3-* x y", "3-0"),
            (
                "xadd s 18446744073709551615-18446744073709551615 x y",
                "18446744073709551615-18446744073709551615",
            ),
            (
                "xadd s * x y",
                "-ERR The stream has exhausted the last possible ID, unable to add more items",
            ),
            (
                "xadd s 18446744073709551615-* x y",
                "-ERR The stream has exhausted the last possible ID, unable to add more items",
            ),
            ("xlen s", ":7"),
            (
                "xadd t 0-0 a 1",
                "-ERR The ID specified in XADD must be greater than 0-0",
            ),
            (
                "xadd t 0 a 1",
                "-ERR The ID specified in XADD must be greater than 0-0",
            ),
            ("exists t", ":0"),
            ("xadd t 0-* a 1", "0-1"),
            ("xadd t 0-1 a 1", SMALLER),
            ("xadd t abc a 1", BAD_ID),
            ("xadd t 1-x a 1", BAD_ID),
            ("xadd t -1 a 1", BAD_ID),
            ("xadd t 1- a 1", BAD_ID),
            ("xadd t -1-1 a 1", BAD_ID),
            ("xadd t 1-1-1 a 1", BAD_ID),
            ("xadd t 18446744073709551616 a 1", BAD_ID),
            ("xadd t 1-18446744073709551616 a 1", BAD_ID),
            ("xadd t \"\" a 1", BAD_ID),
            ("xadd t *-1 a 1", BAD_ID),
            ("xadd t \"4 \" a 1", BAD_ID),
            ("xadd t 5-0x1 a 1", BAD_ID),
            // Redis parses each part with strtoull: a leading blank or `+` and leading zeros pass.
            ("xadd t \" 1\" a 1", "1-0"),
            ("xadd t +2 a 1", "2-0"),
            ("xadd t 03-+1 a 1", "3-1"),
            (
                "xadd t 1-1 a",
                "-ERR wrong number of arguments for 'xadd' command",
            ),
            (
                "xadd t 9-1 a 1 b",
                "-ERR wrong number of arguments for 'xadd' command",
            ),
            (
                "xadd t 9-1",
                "-ERR wrong number of arguments for 'xadd' command",
            ),
            (
                "xadd t",
                "-ERR wrong number of arguments for 'xadd' command",
            ),
            (
                "xadd t 9-1 f",
                "-ERR wrong number of arguments for 'xadd' command",
            ),
            // The ID is checked before the number of fields.
            ("xadd t maxlen 1 f", BAD_ID),
            ("xadd t foo 9-0 a 1", BAD_ID),
            ("xadd t maxlen 9-0 a 1", NOT_INT),
            ("xlen t", ":4"),
            ("xlen missing", ":0"),
            ("xadd t 7-0 a 1 a 2", "7-0"),
            ("xadd t 8-0 \"\" \"\"", "8-0"),
            (
                "xrange t - +",
                "[[0-1,[a,1]],[1-0,[a,1]],[2-0,[a,1]],[3-1,[a,1]],[7-0,[a,1,a,2]],[8-0,[,]]]",
            ),
            // NOMKSTREAM: nothing is created, the reply is a null.
            ("xadd nos nomkstream 1-1 a 1", "(nil)"),
            ("xadd nos NOMKSTREAM * a 1", "(nil)"),
            ("exists nos", ":0"),
            ("xadd t nomkstream 9-0 a 1", "9-0"),
            ("xadd t NOMKSTREAM nomkstream 10-0 a 1", "10-0"),
            ("xlen t", ":8"),
            ("type t", "+stream"),
        ],
    );
    // The null of NOMKSTREAM is a null bulk string.
    assert_eq!(head(&mut r, "xadd nos nomkstream 1-1 a 1"), "$-1");
    hello3(&mut r);
    assert_eq!(head(&mut r, "xadd nos nomkstream 1-1 a 1"), "_");
}

#[test]
fn xadd_generates_ids_from_the_clock_and_the_last_id() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let before = now_ms() as u64;
    let first = run(&mut r, "xadd s * n 0");
    let (ms, seq) = parse_id(&first);
    let after = now_ms() as u64;
    assert!(
        ms + 1000 >= before && ms <= after + 1000,
        "{first} is not about now ({before}..{after})"
    );
    assert_eq!(seq, 0, "{first}: the first ID of a millisecond");
    // IDs grow strictly; within one millisecond the sequence counts up by one.
    let mut last = (ms, seq);
    for i in 1..200 {
        let id = parse_id(&run(&mut r, &format!("xadd s * n {i}")));
        assert!(id > last, "{id:?} after {last:?}");
        if id.0 == last.0 {
            assert_eq!(id.1, last.1 + 1);
        } else {
            assert_eq!(id.1, 0);
        }
        last = id;
    }
    assert!(last.0 <= now_ms() as u64 + 1000);
    let last_text = format!("{}-{}", last.0, last.1);
    let t = Tree::parse(&run(&mut r, "xinfo stream s"));
    assert_eq!(t.get("last-generated-id").atom(), last_text);
    assert_eq!(t.get("entries-added").int(), 200);
    assert_eq!(t.get("length").int(), 200);
    // `ms-*` with the last ID's millisecond continues its sequence.
    let next = run(&mut r, &format!("xadd s {}-* n x", last.0));
    assert_eq!(next, format!("{}-{}", last.0, last.1 + 1));
    // With a last ID ahead of the clock, `*` keeps its millisecond and counts the sequence up.
    check(
        &mut r,
        &[
            ("xadd f 99999999999999-5 a 1", "99999999999999-5"),
            ("xadd f * a 2", "99999999999999-6"),
            ("xadd f * a 3", "99999999999999-7"),
            ("xadd f 99999999999999-* a 4", "99999999999999-8"),
            ("xadd f 100000000000000-* a 5", "100000000000000-0"),
            ("xadd f * a 6", "100000000000000-1"),
            ("xadd f maxlen 2 * a 7", "100000000000000-2"),
            ("xlen f", ":2"),
            ("xadd g 5-* a 1", "5-0"),
            ("xadd g 5-* a 1", "5-1"),
        ],
    );
}

// ---- Trimming ----

#[test]
fn xtrim_and_xadd_trim_exactly_with_maxlen_and_minid() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    for i in 1..=10 {
        assert_eq!(run(&mut r, &format!("xadd s {i}-0 f v")), format!("{i}-0"));
    }
    check(
        &mut r,
        &[
            ("xtrim s maxlen 8", ":2"),
            ("xtrim s maxlen = 8", ":0"),
            ("xtrim s MAXLEN = 6", ":2"),
            (
                "xrange s - +",
                "[[5-0,[f,v]],[6-0,[f,v]],[7-0,[f,v]],[8-0,[f,v]],[9-0,[f,v]],[10-0,[f,v]]]",
            ),
            // MINID removes the entries below the ID; a bare number is ms-0.
            ("xtrim s minid 6", ":1"),
            ("xtrim s minid = 7-0", ":1"),
            ("xtrim s minid (7", BAD_ID),
            (
                "xrange s - +",
                "[[7-0,[f,v]],[8-0,[f,v]],[9-0,[f,v]],[10-0,[f,v]]]",
            ),
            ("xtrim s maxlen 100", ":0"),
            ("xtrim s minid 0", ":0"),
            ("xtrim s maxlen 0", ":4"),
            // An emptied stream stays, with its last ID.
            ("xlen s", ":0"),
            ("exists s", ":1"),
            ("xadd s 10-0 f v", SMALLER),
            ("xadd s 11-0 f v", "11-0"),
            // XADD trims after adding: the new entry counts.
            ("xadd s maxlen 1 12-0 f v", "12-0"),
            ("xadd s 12-0 maxlen 1 f v", SMALLER),
            ("xadd s maxlen 1 13-0 f v", "13-0"),
            ("xadd s maxlen = 2 14-0 f v", "14-0"),
            ("xadd s minid 14 15-0 f v", "15-0"),
            ("xrange s - +", "[[14-0,[f,v]],[15-0,[f,v]]]"),
            ("xadd s minid 100 16-0 f v", "16-0"),
            ("xlen s", ":0"),
            ("xadd s maxlen 0 17-0 f v", "17-0"),
            ("xlen s", ":0"),
            ("exists s", ":1"),
            // Errors of the trimming options, for XADD and XTRIM.
            (
                "xadd s maxlen 1 minid 1 18-0 f v",
                "-ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
            ),
            (
                "xadd s minid 1 maxlen 1 18-0 f v",
                "-ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
            ),
            (
                "xadd s maxlen 1 maxlen 2 18-0 f v",
                "-ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
            ),
            (
                "xadd s maxlen -1 18-0 f v",
                "-ERR The MAXLEN argument must be >= 0.",
            ),
            ("xadd s maxlen x 18-0 f v", NOT_INT),
            ("xadd s minid x 18-0 f v", BAD_ID),
            ("xadd s minid -1 18-0 f v", BAD_ID),
            ("xadd s minid 18446744073709551616 18-0 f v", BAD_ID),
            (
                "xadd s maxlen 1 limit 10 18-0 f v",
                "-ERR syntax error, LIMIT cannot be used without the special ~ option",
            ),
            (
                "xadd s maxlen = 1 limit 10 18-0 f v",
                "-ERR syntax error, LIMIT cannot be used without the special ~ option",
            ),
            (
                "xadd s limit 10 18-0 f v",
                "-ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
            ),
            (
                "xadd s maxlen ~ 1 limit -1 18-0 f v",
                "-ERR The LIMIT argument must be >= 0.",
            ),
            ("xadd s maxlen ~ 1 limit x 18-0 f v", NOT_INT),
            (
                "xadd s maxlen",
                "-ERR wrong number of arguments for 'xadd' command",
            ),
            (
                "xadd s maxlen 1",
                "-ERR wrong number of arguments for 'xadd' command",
            ),
            ("xlen s", ":0"),
            ("xadd s maxlen ~ 1 limit 10 18-0 f v", "18-0"),
            ("xadd s maxlen ~ 1 limit 0 19-0 f v", "19-0"),
            ("xadd s maxlen ~ 1 limit 10 limit 20 20-0 f v", "20-0"),
            ("xadd s maxlen = 1 21-0 f v", "21-0"),
            ("xrange s - +", "[[21-0,[f,v]]]"),
            ("xadd s minid 99999999999 22-0 f v", "22-0"),
            ("xlen s", ":0"),
            (
                "xtrim s",
                "-ERR wrong number of arguments for 'xtrim' command",
            ),
            (
                "xtrim s maxlen",
                "-ERR wrong number of arguments for 'xtrim' command",
            ),
            ("xtrim s foo 1", SYNTAX),
            ("xtrim s maxlen 1 extra", SYNTAX),
            ("xtrim s nomkstream maxlen 1", SYNTAX),
            (
                "xtrim s maxlen -1",
                "-ERR The MAXLEN argument must be >= 0.",
            ),
            ("xtrim s maxlen ~", NOT_INT),
            ("xtrim s minid foo", BAD_ID),
            (
                "xtrim s maxlen 1 limit 5",
                "-ERR syntax error, LIMIT cannot be used without the special ~ option",
            ),
            (
                "xtrim s maxlen ~ 1 limit -5",
                "-ERR The LIMIT argument must be >= 0.",
            ),
            (
                "xtrim s limit 10",
                "-ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
            ),
            (
                "xtrim s maxlen 1 maxlen 2",
                "-ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
            ),
            (
                "xtrim s maxlen 5 minid 2",
                "-ERR syntax error, MAXLEN and MINID options at the same time are not compatible",
            ),
            ("xtrim s minid ~ 1 limit 5", ":0"),
            ("xtrim s limit 10 maxlen ~ 100", ":0"),
            ("xtrim missing maxlen 0", ":0"),
            ("xtrim missing maxlen x", NOT_INT),
            ("exists missing", ":0"),
        ],
    );
    // Trimming keeps what a stream has added and deleted.
    assert_eq!(
        info(&mut r, "xinfo stream s"),
        "[length,:0,last-generated-id,22-0,max-deleted-entry-id,0-0,entries-added,:22,recorded-first-entry-id,0-0,groups,:0,first-entry,(nil),last-entry,(nil)]"
    );
}

/// `~` trims whole nodes only: the length never drops below the threshold, never more than LIMIT
/// entries go, and the oldest entries go first. With the default nodes of 100 entries the
/// outcome is exact, and the expected figures are what Redis 7.0.15 does with the same commands.
#[test]
fn approximate_trimming_keeps_its_contract() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    let adds: Vec<String> = (1..=3000).map(|i| format!("xadd s {i}-0 f {i}")).collect();
    for reply in pipeline(&mut r, &adds) {
        assert!(!reply.starts_with('-'), "{reply}");
    }
    assert_eq!(num(&mut r, "xlen s"), 3000);

    // Oldest first, never below the threshold.
    let mut len = 3000;
    for (threshold, left) in [(2500, 2500), (1000, 1000), (999, 1000), (10, 100), (1, 100)] {
        let removed = num(&mut r, &format!("xtrim s maxlen ~ {threshold}"));
        let now = num(&mut r, "xlen s");
        assert_eq!(now, left, "maxlen ~ {threshold}: {len} -> {now}");
        assert_eq!(removed, len - now);
        let first = Tree::parse(&run(&mut r, "xrange s - + count 1"));
        assert_eq!(
            first.items()[0].items()[0].atom(),
            format!("{}-0", 3000 - now + 1),
            "the newest {now} entries stay"
        );
        len = now;
    }

    // LIMIT bounds what one call removes.
    let adds: Vec<String> = (1..=3000).map(|i| format!("xadd t {i}-0 f {i}")).collect();
    pipeline(&mut r, &adds);
    let removed = num(&mut r, "xtrim t maxlen ~ 0 limit 150");
    assert_eq!(removed, 100, "one node fits in limit 150, two do not");
    assert_eq!(num(&mut r, "xlen t"), 3000 - removed);
    let before = num(&mut r, "xlen t");
    let id = run(&mut r, "xadd t maxlen ~ 0 limit 150 3001-0 f x");
    assert_eq!(id, "3001-0");
    let after = num(&mut r, "xlen t");
    assert_eq!(after, before + 1 - 100, "{before} -> {after}");

    // MINID ~ removes only entries below the ID, and not all of them need go.
    let removed = num(&mut r, "xtrim t minid ~ 2000");
    assert_eq!(removed, 1700, "the nodes that end below 2000-0");
    let first = Tree::parse(&run(&mut r, "xrange t - + count 1"));
    let first_id = parse_id(first.items()[0].items()[0].atom());
    assert_eq!(first_id, (1901, 0), "the node holding 2000-0 stays whole");
    assert_eq!(
        num(&mut r, "xlen t"),
        after - removed,
        "xtrim counts what it removed"
    );
    assert_eq!(run(&mut r, "xrange t 2000 2000"), "[[2000-0,[f,2000]]]");

    // Exact trimming after approximate trimming is exact.
    let len = num(&mut r, "xlen t");
    assert_eq!(num(&mut r, "xtrim t maxlen = 5"), len - 5);
    check(
        &mut r,
        &[
            ("xlen t", ":5"),
            (
                "xrange t - +",
                "[[2997-0,[f,2997]],[2998-0,[f,2998]],[2999-0,[f,2999]],[3000-0,[f,3000]],[3001-0,[f,x]]]",
            ),
        ],
    );

    // XADD with MAXLEN ~ keeps at least the threshold and the new entry.
    for i in 1..=500 {
        let id = run(&mut r, &format!("xadd u maxlen ~ 20 {i}-0 f v"));
        assert_eq!(id, format!("{i}-0"));
        let len = num(&mut r, "xlen u");
        assert!(len >= i.min(20), "after {i} adds: {len}");
        assert_eq!(
            run(&mut r, "xrevrange u + - count 1"),
            format!("[[{i}-0,[f,v]]]")
        );
    }
}

// ---- XRANGE, XREVRANGE ----

#[test]
fn xrange_and_xrevrange() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("xadd s 1-0 a 1", "1-0"),
            ("xadd s 1-1 b 2", "1-1"),
            ("xadd s 2-0 c 3", "2-0"),
            ("xadd s 2-5 d 4", "2-5"),
            ("xadd s 3-0 e 5 f 6", "3-0"),
            (
                "xrange s - +",
                "[[1-0,[a,1]],[1-1,[b,2]],[2-0,[c,3]],[2-5,[d,4]],[3-0,[e,5,f,6]]]",
            ),
            ("xrange s - + count 2", "[[1-0,[a,1]],[1-1,[b,2]]]"),
            ("xrange s - + COUNT 1 count 2", "[[1-0,[a,1]],[1-1,[b,2]]]"),
            // A bare number is ms-0 as a start and ms-(2^64-1) as an end.
            ("xrange s 1 1", "[[1-0,[a,1]],[1-1,[b,2]]]"),
            ("xrange s 1-1 2", "[[1-1,[b,2]],[2-0,[c,3]],[2-5,[d,4]]]"),
            ("xrange s 2 2-0", "[[2-0,[c,3]]]"),
            ("xrange s 2-0 2-3", "[[2-0,[c,3]]]"),
            (
                "xrange s 0 18446744073709551615",
                "[[1-0,[a,1]],[1-1,[b,2]],[2-0,[c,3]],[2-5,[d,4]],[3-0,[e,5,f,6]]]",
            ),
            ("xrange s 18446744073709551615 +", "[]"),
            ("xrange s 3 1", "[]"),
            ("xrange s + -", "[]"),
            // `(` makes an end exclusive.
            (
                "xrange s (1-0 +",
                "[[1-1,[b,2]],[2-0,[c,3]],[2-5,[d,4]],[3-0,[e,5,f,6]]]",
            ),
            (
                "xrange s (1 +",
                "[[1-1,[b,2]],[2-0,[c,3]],[2-5,[d,4]],[3-0,[e,5,f,6]]]",
            ),
            ("xrange s - (2-5", "[[1-0,[a,1]],[1-1,[b,2]],[2-0,[c,3]]]"),
            (
                "xrange s - (2",
                "[[1-0,[a,1]],[1-1,[b,2]],[2-0,[c,3]],[2-5,[d,4]]]",
            ),
            ("xrange s (1-1 (3-0", "[[2-0,[c,3]],[2-5,[d,4]]]"),
            ("xrange s (2-5 (2-5", "[]"),
            (
                "xrange s (0-18446744073709551615 1",
                "[[1-0,[a,1]],[1-1,[b,2]]]",
            ),
            ("xrange s (1-1 (3-0 count 1", "[[2-0,[c,3]]]"),
            ("xrange s - (0-0", "-ERR invalid end ID for the interval"),
            (
                "xrange s (18446744073709551615-18446744073709551615 +",
                "-ERR invalid start ID for the interval",
            ),
            ("xrange s (- +", BAD_ID),
            ("xrange s - (+", BAD_ID),
            ("xrange s ( +", BAD_ID),
            ("xrange s x +", BAD_ID),
            ("xrange s - x", BAD_ID),
            ("xrange s 1-x +", BAD_ID),
            ("xrange s 2-* +", BAD_ID),
            ("xrange s -1 +", BAD_ID),
            ("xrange s 18446744073709551616 +", BAD_ID),
            ("xrange s - + count x", NOT_INT),
            ("xrange s - + count", SYNTAX),
            ("xrange s - + foo 1", SYNTAX),
            ("xrange s - + count 1 foo", SYNTAX),
            (
                "xrange s -",
                "-ERR wrong number of arguments for 'xrange' command",
            ),
            ("xrange missing - +", "[]"),
            ("xrange missing x y", BAD_ID),
            (
                "xrevrange s + -",
                "[[3-0,[e,5,f,6]],[2-5,[d,4]],[2-0,[c,3]],[1-1,[b,2]],[1-0,[a,1]]]",
            ),
            ("xrevrange s + - count 2", "[[3-0,[e,5,f,6]],[2-5,[d,4]]]"),
            (
                "xrevrange s 2 1",
                "[[2-5,[d,4]],[2-0,[c,3]],[1-1,[b,2]],[1-0,[a,1]]]",
            ),
            ("xrevrange s 1 2", "[]"),
            (
                "xrevrange s (3 (1",
                "[[3-0,[e,5,f,6]],[2-5,[d,4]],[2-0,[c,3]],[1-1,[b,2]]]",
            ),
            (
                "xrevrange s (2-5 -",
                "[[2-0,[c,3]],[1-1,[b,2]],[1-0,[a,1]]]",
            ),
            ("xrevrange s + (2-5", "[[3-0,[e,5,f,6]]]"),
            ("xrevrange s (0-0 -", "-ERR invalid end ID for the interval"),
            (
                "xrevrange s + (18446744073709551615-18446744073709551615",
                "-ERR invalid start ID for the interval",
            ),
            (
                "xrevrange s +",
                "-ERR wrong number of arguments for 'xrevrange' command",
            ),
            ("xrevrange missing + -", "[]"),
            // COUNT 0 (or negative) is a null array on an existing stream, an empty one otherwise.
            ("xrange s - + COUNT 0", "(nil)"),
            ("xrange s - + count -1", "(nil)"),
            ("xrevrange s + - count 0", "(nil)"),
            ("xrevrange s + - count -3", "(nil)"),
            ("xrange missing - + count 0", "[]"),
        ],
    );
    assert_eq!(head(&mut r, "xrange s - + count 0"), "*-1");
    assert_eq!(head(&mut r, "xrevrange s + - count 0"), "*-1");
    assert_eq!(head(&mut r, "xrange missing - + count 0"), "*0");
    // Deleted entries are skipped.
    check(
        &mut r,
        &[
            ("xdel s 1-1 2-5", ":2"),
            ("xrange s - +", "[[1-0,[a,1]],[2-0,[c,3]],[3-0,[e,5,f,6]]]"),
            ("xrange s (1-0 (3-0", "[[2-0,[c,3]]]"),
            ("xrevrange s + - count 2", "[[3-0,[e,5,f,6]],[2-0,[c,3]]]"),
        ],
    );
    hello3(&mut r);
    assert_eq!(head(&mut r, "xrange s - + count 0"), "_");
    check(&mut r, &[("xrange s - + count 1", "[[1-0,[a,1]]]")]);
}

// ---- XDEL, XSETID ----

#[test]
fn xdel_and_xsetid() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    add_entries(&mut r, "s", 5);
    check(
        &mut r,
        &[
            ("xdel s 2-0 4-0 9-0", ":2"),
            ("xdel s 2-0", ":0"),
            ("xdel s 3", ":1"),
            ("xdel s x", BAD_ID),
            ("xdel s 1-0 x", BAD_ID),
            ("xdel s -", BAD_ID),
            ("xdel s +", BAD_ID),
            ("xlen s", ":2"),
            ("xrange s - +", "[[1-0,[f,1]],[5-0,[f,5]]]"),
            // On a missing key the IDs are not even parsed.
            ("xdel missing 1-0", ":0"),
            ("xdel missing x", ":0"),
            (
                "xdel s",
                "-ERR wrong number of arguments for 'xdel' command",
            ),
            ("xdel s 5-0 5-0", ":1"),
            ("xdel s 1-0", ":1"),
            ("xlen s", ":0"),
            ("exists s", ":1"),
        ],
    );
    // The deleted top entry's ID is still the last one.
    assert_eq!(
        info(&mut r, "xinfo stream s"),
        "[length,:0,last-generated-id,5-0,max-deleted-entry-id,5-0,entries-added,:5,recorded-first-entry-id,0-0,groups,:0,first-entry,(nil),last-entry,(nil)]"
    );
    check(
        &mut r,
        &[
            ("xadd s 5-0 f v", SMALLER),
            ("xadd s 6-0 f v", "6-0"),
            (
                "xsetid s 5-0",
                "-ERR The ID specified in XSETID is smaller than the target stream top item",
            ),
            ("xsetid s 7-0", "+OK"),
            ("xadd s 7-0 f v", SMALLER),
            // Down again as far as the top entry is allowed.
            ("xsetid s 6-0", "+OK"),
            ("xadd s 7-0 f v", "7-0"),
            ("xadd s 8-0 f v", "8-0"),
            (
                "xsetid s 9-0 entriesadded 1",
                "-ERR The entries_added specified in XSETID is smaller than the target stream length",
            ),
            ("xsetid s 9-0 entriesadded 3", "+OK"),
            ("xsetid s 9-0 entriesadded 100 maxdeletedid 3-0", "+OK"),
        ],
    );
    assert_eq!(
        info(&mut r, "xinfo stream s"),
        "[length,:3,last-generated-id,9-0,max-deleted-entry-id,3-0,entries-added,:100,recorded-first-entry-id,6-0,groups,:0,first-entry,[6-0,[f,v]],last-entry,[8-0,[f,v]]]"
    );
    check(
        &mut r,
        &[
            (
                "xsetid s 9-0 maxdeletedid 10-0",
                "-ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
            ),
            ("xsetid s 9-0 maxdeletedid 9-0", "+OK"),
            (
                "xsetid s 9-0 entriesadded -1",
                "-ERR entries_added must be positive",
            ),
            ("xsetid s 9-0 entriesadded x", NOT_INT),
            ("xsetid s 9-0 maxdeletedid x", BAD_ID),
            ("xsetid s 9-0 foo 1", SYNTAX),
            ("xsetid s 9-0 entriesadded", SYNTAX),
            ("xsetid s x", BAD_ID),
            ("xsetid s $", BAD_ID),
            (
                "xsetid s",
                "-ERR wrong number of arguments for 'xsetid' command",
            ),
            ("xsetid missing 1-0", NO_KEY),
            (
                "xsetid s 0-0",
                "-ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
            ),
            ("xsetid s 9-0 entriesadded 100 entriesadded 99", "+OK"),
        ],
    );
    assert_eq!(
        info(&mut r, "xinfo stream s"),
        "[length,:3,last-generated-id,9-0,max-deleted-entry-id,9-0,entries-added,:99,recorded-first-entry-id,6-0,groups,:0,first-entry,[6-0,[f,v]],last-entry,[8-0,[f,v]]]"
    );
    check(
        &mut r,
        &[
            ("xadd s 8-5 f v", SMALLER),
            ("xadd s 9-* f v", "9-1"),
            // An emptied stream keeps its last ID, and (7.2) XSETID cannot go below the
            // largest deleted ID.
            ("xadd e 5-0 a b", "5-0"),
            ("xdel e 5-0", ":1"),
            (
                "xsetid e 0-1",
                "-ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
            ),
            ("xadd e 0-2 a b", SMALLER),
            ("xsetid e 5-0", "+OK"),
            ("xadd one 1-0 a b", "1-0"),
            (
                "xsetid one 1-0 entriesadded 1 maxdeletedid 2-0",
                "-ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
            ),
            (
                "xsetid one 2-0 entriesadded 0",
                "-ERR The entries_added specified in XSETID is smaller than the target stream length",
            ),
            ("xsetid one 1-0 maxdeletedid 1-0", "+OK"),
        ],
    );
    assert_eq!(
        info(&mut r, "xinfo stream e"),
        "[length,:0,last-generated-id,5-0,max-deleted-entry-id,5-0,entries-added,:1,recorded-first-entry-id,0-0,groups,:0,first-entry,(nil),last-entry,(nil)]"
    );
}

// ---- Types, WRONGTYPE, arity, keyspace ----

#[test]
fn type_wrongtype_arity_and_key_commands() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("xadd s 1-0 f v", "1-0"),
            ("type s", "+stream"),
            ("object encoding s", "stream"),
            ("get s", WRONGTYPE),
            ("lpush s a", WRONGTYPE),
            ("hget s f", WRONGTYPE),
            ("sadd s a", WRONGTYPE),
            ("zadd s 1 a", WRONGTYPE),
            ("append s x", WRONGTYPE),
            ("incr s", WRONGTYPE),
            ("set str v", "+OK"),
            ("rpush l a", ":1"),
            ("hset h f v", ":1"),
            ("sadd st a", ":1"),
            ("zadd z 1 a", ":1"),
        ],
    );
    for key in ["str", "l", "h", "st", "z"] {
        for cmd in [
            "xadd {} 1-0 a b",
            "xadd {} nomkstream 1-0 a b",
            "xlen {}",
            "xrange {} - +",
            "xrevrange {} + -",
            "xdel {} 1-0",
            "xtrim {} maxlen 0",
            "xsetid {} 1-0",
            "xread streams {} 0",
            "xread block 10 streams {} $",
            "xgroup create {} g 0",
            "xgroup create {} g 0 mkstream",
            "xgroup setid {} g 0",
            "xgroup destroy {} g",
            "xgroup createconsumer {} g c",
            "xgroup delconsumer {} g c",
            "xreadgroup group g c streams {} >",
            "xack {} g 1-0",
            "xpending {} g",
            "xclaim {} g c 0 1-0",
            "xautoclaim {} g c 0 0",
            "xinfo stream {}",
            "xinfo groups {}",
            "xinfo consumers {} g",
        ] {
            let line = cmd.replace("{}", key);
            assert_eq!(run(&mut r, &line), WRONGTYPE, "{line}");
        }
    }
    // A wrong type anywhere in XREAD's keys fails the whole command.
    check(
        &mut r,
        &[
            ("xread streams s str 0 0", WRONGTYPE),
            ("xread streams s str 9 0", WRONGTYPE),
        ],
    );
    for (line, name) in [
        ("xadd", "xadd"),
        ("xlen", "xlen"),
        ("xlen a b", "xlen"),
        ("xrange", "xrange"),
        ("xrevrange s +", "xrevrange"),
        ("xdel", "xdel"),
        ("xtrim", "xtrim"),
        ("xsetid", "xsetid"),
        ("xread", "xread"),
        ("xreadgroup", "xreadgroup"),
        ("xack", "xack"),
        ("xack s g", "xack"),
        ("xpending s", "xpending"),
        ("xclaim s g c 0", "xclaim"),
        ("xautoclaim s g c 0", "xautoclaim"),
        ("xgroup", "xgroup"),
        ("xinfo", "xinfo"),
    ] {
        assert_eq!(
            run(&mut r, line),
            format!("-ERR wrong number of arguments for '{name}' command"),
            "{line}"
        );
    }
    // Key commands move and copy a stream with its groups and pending entries.
    check(
        &mut r,
        &[
            ("rename s s2", "+OK"),
            ("type s2", "+stream"),
            ("copy s2 s3", ":1"),
            ("xrange s3 - +", "[[1-0,[f,v]]]"),
            ("del s2 s3", ":2"),
            ("exists s2 s3", ":0"),
            ("xadd s4 1-0 a b", "1-0"),
            ("expire s4 100", ":1"),
            ("xadd s4 2-0 a b", "2-0"),
            ("xgroup create s4 g 0", "+OK"),
            ("copy s4 s5", ":1"),
            (
                "xinfo groups s5",
                "[[name,g,consumers,:0,pending,:0,last-delivered-id,0-0,entries-read,(nil),lag,:2]]",
            ),
            ("xreadgroup group g c streams s4 >", "[[s4,[[1-0,[a,b]],[2-0,[a,b]]]]]"),
            ("copy s4 s6", ":1"),
            ("xpending s6 g", "[:2,1-0,2-0,[[c,2]]]"),
            // The copy is independent of the original.
            ("xack s6 g 1-0", ":1"),
            ("xpending s4 g", "[:2,1-0,2-0,[[c,2]]]"),
            ("xinfo groups s5", "[[name,g,consumers,:0,pending,:0,last-delivered-id,0-0,entries-read,(nil),lag,:2]]"),
            ("xadd s5 3-0 a b", "3-0"),
            ("xlen s4", ":2"),
        ],
    );
    // Writing to a stream keeps its TTL.
    let ttl = num(&mut r, "ttl s4");
    assert!((90..=100).contains(&ttl), "ttl {ttl}");
}

// ---- XREAD without BLOCK ----

#[test]
fn xread_without_blocking() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("xadd a 1-0 f 1", "1-0"),
            ("xadd a 2-0 f 2", "2-0"),
            ("xadd a 3-0 f 3", "3-0"),
            ("xadd b 5-0 g 5", "5-0"),
            ("xread streams a 0", "[[a,[[1-0,[f,1]],[2-0,[f,2]],[3-0,[f,3]]]]]"),
            // Entries after the ID; a bare number is ms-0.
            ("xread streams a 1", "[[a,[[2-0,[f,2]],[3-0,[f,3]]]]]"),
            ("xread streams a 1-0", "[[a,[[2-0,[f,2]],[3-0,[f,3]]]]]"),
            ("xread streams a 3", "(nil)"),
            ("xread streams a $", "(nil)"),
            ("xread streams a 18446744073709551615-18446744073709551615", "(nil)"),
            ("xread count 1 streams a b 0 0", "[[a,[[1-0,[f,1]]]],[b,[[5-0,[g,5]]]]]"),
            ("xread COUNT 2 STREAMS a b 1 4", "[[a,[[2-0,[f,2]],[3-0,[f,3]]]],[b,[[5-0,[g,5]]]]]"),
            // Streams with nothing to give (and missing keys) are left out of the reply.
            ("xread streams a b missing 2 5 0", "[[a,[[3-0,[f,3]]]]]"),
            ("xread streams missing 0", "(nil)"),
            ("xread streams a missing 0 0", "[[a,[[1-0,[f,1]],[2-0,[f,2]],[3-0,[f,3]]]]]"),
            // COUNT 0 or negative is no limit; the last COUNT wins.
            ("xread count 0 streams a 0", "[[a,[[1-0,[f,1]],[2-0,[f,2]],[3-0,[f,3]]]]]"),
            ("xread count -5 streams a 2", "[[a,[[3-0,[f,3]]]]]"),
            ("xread count 1 count 2 streams a 0", "[[a,[[1-0,[f,1]],[2-0,[f,2]]]]]"),
            // The same key twice is answered twice.
            (
                "xread streams a a 0 1",
                "[[a,[[1-0,[f,1]],[2-0,[f,2]],[3-0,[f,3]]]],[a,[[2-0,[f,2]],[3-0,[f,3]]]]]",
            ),
            // With data available BLOCK does not wait.
            ("xread block 10 streams a 0", "[[a,[[1-0,[f,1]],[2-0,[f,2]],[3-0,[f,3]]]]]"),
            ("xread count x streams a 0", NOT_INT),
            (
                "xread streams a b 0",
                "-ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.",
            ),
            (
                "xread streams a 0 streams a 0",
                "-ERR Unbalanced 'xread' list of streams: for each stream key an ID or '$' must be specified.",
            ),
            ("xread streams a", "-ERR wrong number of arguments for 'xread' command"),
            ("xread streams", "-ERR wrong number of arguments for 'xread' command"),
            ("xread count 1", "-ERR wrong number of arguments for 'xread' command"),
            ("xread a 0", "-ERR wrong number of arguments for 'xread' command"),
            ("xread foo streams a 0", SYNTAX),
            ("xread block x streams a 0", "-ERR timeout is not an integer or out of range"),
            ("xread block -1 streams a 0", "-ERR timeout is negative"),
            ("xread streams a x", BAD_ID),
            ("xread streams a (1", BAD_ID),
            ("xread streams a -", BAD_ID),
            ("xread streams a +", BAD_ID),
            (
                "xread streams a >",
                "-ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.",
            ),
            (
                "xread noack streams a 0",
                "-ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
            ),
            ("xdel a 2-0", ":1"),
            ("xread streams a 0", "[[a,[[1-0,[f,1]],[3-0,[f,3]]]]]"),
        ],
    );
    assert_eq!(head(&mut r, "xread streams a $"), "*-1");
    assert_eq!(head(&mut r, "xread streams a 0"), "*1");
}

// ---- Consumer groups ----

#[test]
fn xgroup_subcommands() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[
            ("xgroup create s g $", NEEDS_KEY),
            ("xgroup create s g $ mkstream", "+OK"),
            ("type s", "+stream"),
            ("xlen s", ":0"),
            ("xgroup create s g $", "-BUSYGROUP Consumer Group name already exists"),
            ("xgroup create s g 0 MKSTREAM", "-BUSYGROUP Consumer Group name already exists"),
            ("xgroup create s g2 0", "+OK"),
            ("xgroup create s g3 x", BAD_ID),
            ("xgroup create s g3 -", BAD_ID),
            ("xgroup create s g3 +", BAD_ID),
            ("xgroup create s g3 (0", BAD_ID),
            (
                "xgroup create s g3 0 foo",
                "-ERR unknown subcommand or wrong number of arguments for 'create'. Try XGROUP HELP.",
            ),
            (
                "xgroup create s g3 0 entriesread",
                "-ERR unknown subcommand or wrong number of arguments for 'create'. Try XGROUP HELP.",
            ),
            ("xgroup create s g3 0 entriesread x", NOT_INT),
            (
                "xgroup create s g3 0 entriesread -2",
                "-ERR value for ENTRIESREAD must be positive or -1",
            ),
            ("xgroup create s g3 0 entriesread -1", "+OK"),
            ("xgroup create s g4 $ mkstream entriesread 0", "+OK"),
            ("xgroup create s g5", "-ERR wrong number of arguments for 'xgroup|create' command"),
            ("xgroup create s", "-ERR wrong number of arguments for 'xgroup|create' command"),
            ("xgroup create", "-ERR wrong number of arguments for 'xgroup|create' command"),
            ("xgroup", "-ERR wrong number of arguments for 'xgroup' command"),
            ("xgroup foo", "-ERR unknown subcommand 'foo'. Try XGROUP HELP."),
            ("xgroup foo s g", "-ERR unknown subcommand 'foo'. Try XGROUP HELP."),
            (
                "xinfo groups s",
                "[[name,g,consumers,:0,pending,:0,last-delivered-id,0-0,entries-read,(nil),lag,:0],[name,g2,consumers,:0,pending,:0,last-delivered-id,0-0,entries-read,(nil),lag,:0],[name,g3,consumers,:0,pending,:0,last-delivered-id,0-0,entries-read,(nil),lag,:0],[name,g4,consumers,:0,pending,:0,last-delivered-id,0-0,entries-read,:0,lag,:0]]",
            ),
            // SETID
            ("xadd s 1-0 f 1", "1-0"),
            ("xadd s 2-0 f 2", "2-0"),
            ("xgroup setid s g 0", "+OK"),
            ("xgroup setid s g $", "+OK"),
            ("xgroup setid s g 1-0 entriesread 1", "+OK"),
            ("xgroup setid s nope 0", "-NOGROUP No such consumer group 'nope' for key name 's'"),
            ("xgroup setid missing g 0", NEEDS_KEY),
            ("xgroup setid s g x", BAD_ID),
            ("xgroup setid s g 0 entriesread -3", "-ERR value for ENTRIESREAD must be positive or -1"),
            ("xgroup setid s g $ entriesread x", NOT_INT),
            (
                "xgroup setid s g 0 foo",
                "-ERR unknown subcommand or wrong number of arguments for 'setid'. Try XGROUP HELP.",
            ),
            (
                "xgroup setid s g 0 entriesread",
                "-ERR unknown subcommand or wrong number of arguments for 'setid'. Try XGROUP HELP.",
            ),
            (
                "xgroup setid s g 0 mkstream",
                "-ERR unknown subcommand or wrong number of arguments for 'setid'. Try XGROUP HELP.",
            ),
            ("xgroup setid s g", "-ERR wrong number of arguments for 'xgroup|setid' command"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:0,pending,:0,last-delivered-id,1-0,entries-read,:1,lag,:1],[name,g2,consumers,:0,pending,:0,last-delivered-id,0-0,entries-read,(nil),lag,:2],[name,g3,consumers,:0,pending,:0,last-delivered-id,0-0,entries-read,(nil),lag,:2],[name,g4,consumers,:0,pending,:0,last-delivered-id,0-0,entries-read,:0,lag,:2]]",
            ),
            // CREATECONSUMER, DELCONSUMER
            ("xgroup createconsumer s g alice", ":1"),
            ("xgroup createconsumer s g alice", ":0"),
            ("xgroup createconsumer s g bob", ":1"),
            ("xgroup createconsumer s nope alice", "-NOGROUP No such consumer group 'nope' for key name 's'"),
            ("xgroup createconsumer missing g alice", NEEDS_KEY),
            ("xgroup createconsumer s g", "-ERR wrong number of arguments for 'xgroup|createconsumer' command"),
            ("xgroup createconsumer s g a b", "-ERR wrong number of arguments for 'xgroup|createconsumer' command"),
            ("xreadgroup group g alice streams s >", "[[s,[[2-0,[f,2]]]]]"),
            ("xpending s g", "[:1,2-0,2-0,[[alice,1]]]"),
            // DELCONSUMER answers how many pending entries went with the consumer.
            ("xgroup delconsumer s g alice", ":1"),
            ("xgroup delconsumer s g alice", ":0"),
            ("xgroup delconsumer s g bob", ":0"),
            ("xpending s g", "[:0,(nil),(nil),(nil)]"),
            ("xgroup delconsumer s nope alice", "-NOGROUP No such consumer group 'nope' for key name 's'"),
            ("xgroup delconsumer missing g alice", NEEDS_KEY),
            ("xgroup delconsumer s g", "-ERR wrong number of arguments for 'xgroup|delconsumer' command"),
            ("xinfo consumers s g", "[]"),
            // DESTROY
            ("xgroup destroy s g", ":1"),
            ("xgroup destroy s g", ":0"),
            ("xgroup destroy missing g", NEEDS_KEY),
            ("xgroup destroy s", "-ERR wrong number of arguments for 'xgroup|destroy' command"),
            ("xgroup destroy s g extra", "-ERR wrong number of arguments for 'xgroup|destroy' command"),
            ("xgroup destroy s g2", ":1"),
            ("xgroup destroy s g3", ":1"),
            ("xgroup destroy s g4", ":1"),
            ("xinfo groups s", "[]"),
            ("xlen s", ":2"),
            // A group can start past the stream's last ID; an empty name is a name.
            ("xgroup create s g 18446744073709551615-18446744073709551615", "+OK"),
            ("xgroup create s \"\" 0", "+OK"),
            ("xreadgroup group g c streams s >", "(nil)"),
            ("xadd s 3-0 f 3", "3-0"),
            ("xreadgroup group g c streams s >", "(nil)"),
            ("xreadgroup group \"\" c count 1 streams s >", "[[s,[[1-0,[f,1]]]]]"),
            // A group created on a missing key with MKSTREAM.
            ("xgroup CREATE fresh g 0 MKSTREAM", "+OK"),
            ("type fresh", "+stream"),
            (
                "xgroup help x",
                "-ERR wrong number of arguments for 'xgroup|help' command",
            ),
            (
                "xgroup help",
                "[+XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:,+CREATE <key> <groupname> <id|$> [option],+    Create a new consumer group. Options are:,+    * MKSTREAM,+      Create the empty stream if it does not exist.,+    * ENTRIESREAD entries_read,+      Set the group's entries_read counter (internal use).,+CREATECONSUMER <key> <groupname> <consumer>,+    Create a new consumer in the specified group.,+DELCONSUMER <key> <groupname> <consumer>,+    Remove the specified consumer.,+DESTROY <key> <groupname>,+    Remove the specified group.,+SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read],+    Set the current group ID and entries_read counter.,+HELP,+    Print this help.]",
            ),
        ],
    );
    assert_eq!(
        info(&mut r, "xinfo stream fresh"),
        "[length,:0,last-generated-id,0-0,max-deleted-entry-id,0-0,entries-added,:0,recorded-first-entry-id,0-0,groups,:1,first-entry,(nil),last-entry,(nil)]"
    );
}

#[test]
fn xreadgroup_new_entries_history_and_noack() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    add_entries(&mut r, "s", 4);
    check(
        &mut r,
        &[
            ("xgroup create s g 0", "+OK"),
            // `>` hands out entries never delivered to the group.
            (
                "xreadgroup group g alice count 2 streams s >",
                "[[s,[[1-0,[f,1]],[2-0,[f,2]]]]]",
            ),
            (
                "xreadgroup group g bob count 1 streams s >",
                "[[s,[[3-0,[f,3]]]]]",
            ),
            // Any other ID reads the consumer's own pending entries after it.
            (
                "xreadgroup group g alice streams s 0",
                "[[s,[[1-0,[f,1]],[2-0,[f,2]]]]]",
            ),
            ("xreadgroup group g bob streams s 0", "[[s,[[3-0,[f,3]]]]]"),
            ("xreadgroup group g carol streams s 0", "[[s,[]]]"),
            (
                "xreadgroup group g alice streams s 1",
                "[[s,[[2-0,[f,2]]]]]",
            ),
            (
                "xreadgroup group g alice count 1 streams s 0",
                "[[s,[[1-0,[f,1]]]]]",
            ),
            (
                "xreadgroup group g alice count 1 count 2 streams s 0",
                "[[s,[[1-0,[f,1]],[2-0,[f,2]]]]]",
            ),
        ],
    );
    assert_eq!(
        consumers(&mut r, "xinfo consumers s g"),
        "[[name,alice,pending,:2],[name,bob,pending,:1],[name,carol,pending,:0]]"
    );
    // History reads count as deliveries.
    assert_eq!(
        recent(&mut r, "xpending s g - + 10"),
        "[[1-0,alice,~,:4],[2-0,alice,~,:4],[3-0,bob,~,:2]]"
    );
    check(
        &mut r,
        &[
            // A deleted entry still pending reads as a null.
            ("xdel s 2-0", ":1"),
            ("xreadgroup group g alice streams s 0", "[[s,[[1-0,[f,1]],[2-0,(nil)]]]]"),
            ("xreadgroup group g alice streams s >", "[[s,[[4-0,[f,4]]]]]"),
            ("xreadgroup group g alice streams s >", "(nil)"),
            ("xack s g 1-0", ":1"),
            ("xreadgroup group g alice streams s 0", "[[s,[[2-0,(nil)],[4-0,[f,4]]]]]"),
            // NOACK delivers without adding to the PEL.
            ("xadd s 5-0 f 5", "5-0"),
            ("xreadgroup group g alice noack streams s >", "[[s,[[5-0,[f,5]]]]]"),
            ("xreadgroup group g alice streams s 0", "[[s,[[2-0,(nil)],[4-0,[f,4]]]]]"),
            ("xpending s g", "[:3,2-0,4-0,[[alice,2],[bob,1]]]"),
            ("xadd s 6-0 f 6", "6-0"),
            ("xreadgroup group g dave count 0 streams s >", "[[s,[[6-0,[f,6]]]]]"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:4,pending,:4,last-delivered-id,6-0,entries-read,:6,lag,:0]]",
            ),
            // Several streams; one with nothing new is left out, history shows every stream.
            ("xgroup create s2 g $ mkstream", "+OK"),
            ("xreadgroup group g alice streams s s2 > >", "(nil)"),
            ("xreadgroup group g alice streams s s2 0 0", "[[s,[[2-0,(nil)],[4-0,[f,4]]]],[s2,[]]]"),
            ("xadd s2 1-0 x y", "1-0"),
            ("xreadgroup group g alice streams s s2 > >", "[[s2,[[1-0,[x,y]]]]]"),
            (
                "xreadgroup group g alice streams s s2 0 0",
                "[[s,[[2-0,(nil)],[4-0,[f,4]]]],[s2,[[1-0,[x,y]]]]]",
            ),
            // Errors.
            (
                "xreadgroup group nope alice streams s >",
                "-NOGROUP No such key 's' or consumer group 'nope' in XREADGROUP with GROUP option",
            ),
            (
                "xreadgroup group g alice streams missing >",
                "-NOGROUP No such key 'missing' or consumer group 'g' in XREADGROUP with GROUP option",
            ),
            (
                "xreadgroup group g alice streams missing 0",
                "-NOGROUP No such key 'missing' or consumer group 'g' in XREADGROUP with GROUP option",
            ),
            (
                "xreadgroup group g alice streams s missing > >",
                "-NOGROUP No such key 'missing' or consumer group 'g' in XREADGROUP with GROUP option",
            ),
            (
                "xreadgroup group g alice streams s $",
                "-ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.",
            ),
            ("xreadgroup group g alice streams s x", BAD_ID),
            (
                "xreadgroup group g alice streams s > 0",
                "-ERR Unbalanced 'xreadgroup' list of streams: for each stream key an ID or '>' must be specified.",
            ),
            ("xreadgroup group g streams s >", "-ERR wrong number of arguments for 'xreadgroup' command"),
            ("xreadgroup group g alice streams s", "-ERR wrong number of arguments for 'xreadgroup' command"),
            ("xreadgroup streams s >", "-ERR wrong number of arguments for 'xreadgroup' command"),
            ("xreadgroup group g alice count x streams s >", NOT_INT),
            ("xreadgroup group g alice foo streams s >", SYNTAX),
            ("xreadgroup group g alice block x streams s >", "-ERR timeout is not an integer or out of range"),
            ("xreadgroup group g alice block -1 streams s >", "-ERR timeout is negative"),
            // Nothing was changed by the failed calls.
            ("xpending s g", "[:4,2-0,6-0,[[alice,2],[bob,1],[dave,1]]]"),
        ],
    );
}

#[test]
fn xack_and_xpending() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    add_entries(&mut r, "s", 5);
    check(
        &mut r,
        &[
            ("xgroup create s g 0", "+OK"),
            ("xpending s g", "[:0,(nil),(nil),(nil)]"),
            ("xpending s g - + 10", "[]"),
            (
                "xreadgroup group g alice count 3 streams s >",
                "[[s,[[1-0,[f,1]],[2-0,[f,2]],[3-0,[f,3]]]]]",
            ),
            (
                "xreadgroup group g bob streams s >",
                "[[s,[[4-0,[f,4]],[5-0,[f,5]]]]]",
            ),
            // The summary: count, smallest and largest ID, and per consumer a count as a string.
            ("xpending s g", "[:5,1-0,5-0,[[alice,3],[bob,2]]]"),
            (
                "xpending s nope",
                "-NOGROUP No such key 's' or consumer group 'nope'",
            ),
            (
                "xpending missing g",
                "-NOGROUP No such key 'missing' or consumer group 'g'",
            ),
            ("xpending s g - + 0", "[]"),
            ("xpending s g - + -1", "[]"),
            ("xpending s g - + 10 nobody", "[]"),
            ("xpending s g - + x", NOT_INT),
            ("xpending s g - +", SYNTAX),
            ("xpending s g -", SYNTAX),
            ("xpending s g x + 10", BAD_ID),
            ("xpending s g idle", SYNTAX),
            ("xpending s g idle 10", SYNTAX),
            ("xpending s g idle x - + 10", NOT_INT),
            ("xpending s g foo - + 10", NOT_INT),
        ],
    );
    assert_eq!(
        recent(&mut r, "xpending s g - + 10"),
        "[[1-0,alice,~,:1],[2-0,alice,~,:1],[3-0,alice,~,:1],[4-0,bob,~,:1],[5-0,bob,~,:1]]"
    );
    assert_eq!(
        recent(&mut r, "xpending s g 2 4 10"),
        "[[2-0,alice,~,:1],[3-0,alice,~,:1],[4-0,bob,~,:1]]"
    );
    assert_eq!(
        recent(&mut r, "xpending s g (2 (4 10"),
        "[[3-0,alice,~,:1],[4-0,bob,~,:1]]"
    );
    assert_eq!(
        recent(&mut r, "xpending s g - + 2"),
        "[[1-0,alice,~,:1],[2-0,alice,~,:1]]"
    );
    assert_eq!(
        recent(&mut r, "xpending s g - + 10 bob"),
        "[[4-0,bob,~,:1],[5-0,bob,~,:1]]"
    );
    assert_eq!(recent(&mut r, "xpending s g - + 1 bob"), "[[4-0,bob,~,:1]]");
    // IDLE keeps entries idle for at least that long (a negative IDLE keeps all).
    assert_eq!(recent(&mut r, "xpending s g idle 3600000 - + 10"), "[]");
    assert_eq!(
        recent(&mut r, "xpending s g idle -5 - + 10"),
        "[[1-0,alice,~,:1],[2-0,alice,~,:1],[3-0,alice,~,:1],[4-0,bob,~,:1],[5-0,bob,~,:1]]"
    );
    check(
        &mut r,
        &[("xclaim s g bob 0 2-0 idle 7200000", "[[2-0,[f,2]]]")],
    );
    assert_eq!(
        recent(&mut r, "xpending s g idle 0 - + 1 alice"),
        "[[1-0,alice,~,:1]]"
    );
    let (old, idle) = pending(&mut r, "xpending s g IDLE 3600000 - + 10");
    assert_eq!(old, "[[2-0,bob,~,:2]]");
    assert!((7_200_000..7_260_000).contains(&idle[0]), "{idle:?}");
    let (old, _) = pending(&mut r, "xpending s g idle 3600000 - + 10 alice");
    assert_eq!(old, "[]");
    let (old, _) = pending(&mut r, "xpending s g idle 3600000 - + 10 bob");
    assert_eq!(old, "[[2-0,bob,~,:2]]");
    check(
        &mut r,
        &[
            // XACK counts the IDs it removed from the PEL.
            ("xack s g 1-0 2-0 9-0", ":2"),
            ("xack s g 1-0", ":0"),
            ("xack s nope 3-0", ":0"),
            ("xack missing g 3-0", ":0"),
            ("xack s g x", BAD_ID),
            // IDs are all checked before any is acknowledged.
            ("xack s g 3-0 x", BAD_ID),
            ("xpending s g", "[:3,3-0,5-0,[[alice,1],[bob,2]]]"),
            ("xack s g 3-0 3-0", ":1"),
            ("xack s g 4 5", ":2"),
            ("xpending s g", "[:0,(nil),(nil),(nil)]"),
            ("xpending s g - + 10", "[]"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:2,pending,:0,last-delivered-id,5-0,entries-read,:5,lag,:0]]",
            ),
        ],
    );
    assert_eq!(
        consumers(&mut r, "xinfo consumers s g"),
        "[[name,alice,pending,:0],[name,bob,pending,:0]]"
    );
}

#[test]
fn xclaim_options() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    add_entries(&mut r, "s", 5);
    check(
        &mut r,
        &[
            ("xgroup create s g 0", "+OK"),
            (
                "xreadgroup group g alice count 3 streams s >",
                "[[s,[[1-0,[f,1]],[2-0,[f,2]],[3-0,[f,3]]]]]",
            ),
            // Claiming moves the entry and counts a delivery; min-idle-time filters.
            ("xclaim s g bob 0 1-0", "[[1-0,[f,1]]]"),
            ("xclaim s g bob 3600000 2-0", "[]"),
            // JUSTID does not count a delivery.
            ("xclaim s g bob 0 2-0 3-0 justid", "[2-0,3-0]"),
        ],
    );
    assert_eq!(
        recent(&mut r, "xpending s g - + 10"),
        "[[1-0,bob,~,:2],[2-0,bob,~,:1],[3-0,bob,~,:1]]"
    );
    // IDLE sets the idle time, RETRYCOUNT the delivery count.
    check(
        &mut r,
        &[(
            "xclaim s g alice 0 1-0 idle 500000 retrycount 7",
            "[[1-0,[f,1]]]",
        )],
    );
    let (text, idle) = pending(&mut r, "xpending s g - + 10 alice");
    assert_eq!(text, "[[1-0,alice,~,:7]]");
    assert!((500_000..560_000).contains(&idle[0]), "{idle:?}");
    check(
        &mut r,
        &[
            ("xclaim s g alice 400000 1-0 justid", "[1-0]"),
            ("xclaim s g alice 400000 1-0 justid", "[]"),
        ],
    );
    assert_eq!(
        recent(&mut r, "xpending s g - + 10 alice"),
        "[[1-0,alice,~,:7]]"
    );
    // TIME sets the delivery time as a Unix time in ms (one in the future counts as now).
    let at = now_ms() - 1_000_000;
    assert_eq!(
        run(&mut r, &format!("xclaim s g alice 0 1-0 time {at} justid")),
        "[1-0]"
    );
    let (_, idle) = pending(&mut r, "xpending s g - + 10 alice");
    assert!((1_000_000..1_060_000).contains(&idle[0]), "{idle:?}");
    check(
        &mut r,
        &[("xclaim s g alice 0 1-0 time 99999999999999 justid", "[1-0]")],
    );
    assert_eq!(
        recent(&mut r, "xpending s g - + 10 alice"),
        "[[1-0,alice,~,:7]]"
    );
    check(
        &mut r,
        &[
            // Entries not pending are claimed only with FORCE (if they exist).
            ("xclaim s g alice 0 4-0", "[]"),
            ("xclaim s g alice 0 4-0 force", "[[4-0,[f,4]]]"),
            ("xclaim s g alice 0 9-0 force", "[]"),
            ("xclaim s g alice 0 1-0 justid retrycount 3", "[1-0]"),
        ],
    );
    assert_eq!(
        recent(&mut r, "xpending s g - + 10 alice"),
        "[[1-0,alice,~,:3],[4-0,alice,~,:2]]"
    );
    check(
        &mut r,
        &[
            // LASTID moves the group's last delivered ID forward only.
            ("xclaim s g alice 0 1-0 lastid 9-0", "[[1-0,[f,1]]]"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:2,pending,:4,last-delivered-id,9-0,entries-read,:3,lag,:2]]",
            ),
            ("xclaim s g alice 0 1-0 lastid 2-0", "[[1-0,[f,1]]]"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:2,pending,:4,last-delivered-id,9-0,entries-read,:3,lag,:2]]",
            ),
            // Loose numbers: negative min-idle-time, IDLE and RETRYCOUNT are accepted.
            ("xclaim s g alice -1 1-0 justid", "[1-0]"),
            ("xclaim s g alice 0 1-0 idle -5 justid", "[1-0]"),
            ("xclaim s g alice 0 1-0 retrycount -1 justid", "[1-0]"),
            (
                "xclaim s g alice 0 1-0 idle x",
                "-ERR Invalid IDLE option argument for XCLAIM",
            ),
            (
                "xclaim s g alice 0 1-0 time x",
                "-ERR Invalid TIME option argument for XCLAIM",
            ),
            (
                "xclaim s g alice 0 1-0 retrycount x",
                "-ERR Invalid RETRYCOUNT option argument for XCLAIM",
            ),
            ("xclaim s g alice 0 1-0 lastid x", BAD_ID),
            (
                "xclaim s g alice 0 1-0 foo",
                "-ERR Unrecognized XCLAIM option 'foo'",
            ),
            (
                "xclaim s g alice 0 1-0 idle",
                "-ERR Unrecognized XCLAIM option 'idle'",
            ),
            // The IDs end at the first argument that is not one.
            (
                "xclaim s g alice 0 x",
                "-ERR Unrecognized XCLAIM option 'x'",
            ),
            (
                "xclaim s g alice 0 1-0 x",
                "-ERR Unrecognized XCLAIM option 'x'",
            ),
            (
                "xclaim s g alice x 1-0",
                "-ERR Invalid min-idle-time argument for XCLAIM",
            ),
            (
                "xclaim s g alice 0",
                "-ERR wrong number of arguments for 'xclaim' command",
            ),
            (
                "xclaim s nope alice 0 1-0",
                "-NOGROUP No such key 's' or consumer group 'nope'",
            ),
            (
                "xclaim missing g alice 0 1-0",
                "-NOGROUP No such key 'missing' or consumer group 'g'",
            ),
            // Deleted entries leave the PEL when claimed and are not returned, even with FORCE.
            ("xdel s 2-0", ":1"),
            ("xclaim s g carol 0 2-0 3-0", "[[3-0,[f,3]]]"),
            ("xdel s 3-0", ":1"),
            ("xclaim s g carol 0 3-0 justid", "[]"),
            ("xclaim s g carol 0 3-0 force justid", "[]"),
            (
                "xclaim s g alice 0 1-0 force justid idle 1 retrycount 9 lastid 5-0",
                "[1-0]",
            ),
        ],
    );
    let (text, idle) = pending(&mut r, "xpending s g - + 10");
    assert_eq!(text, "[[1-0,alice,~,:9],[4-0,alice,~,:2]]");
    assert!(idle[0] >= 1 && idle[0] < 10_000, "{idle:?}");
    assert_eq!(
        consumers(&mut r, "xinfo consumers s g"),
        "[[name,alice,pending,:2],[name,bob,pending,:0],[name,carol,pending,:0]]"
    );
}

#[test]
fn xautoclaim_cursor_and_deleted_ids() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    add_entries(&mut r, "s", 7);
    check(
        &mut r,
        &[
            ("xgroup create s g 0", "+OK"),
            (
                "xreadgroup group g alice streams s >",
                "[[s,[[1-0,[f,1]],[2-0,[f,2]],[3-0,[f,3]],[4-0,[f,4]],[5-0,[f,5]],[6-0,[f,6]],[7-0,[f,7]]]]]",
            ),
            // [next cursor, claimed entries, IDs deleted from the stream (dropped from the PEL)].
            ("xautoclaim s g bob 0 0 count 2", "[3-0,[[1-0,[f,1]],[2-0,[f,2]]],[]]"),
            ("xautoclaim s g bob 0 3-0 count 2 justid", "[5-0,[3-0,4-0],[]]"),
            ("xdel s 5-0 6-0", ":2"),
            ("xautoclaim s g bob 0 5-0 count 2", "[7-0,[],[5-0,6-0]]"),
        ],
    );
    assert_eq!(
        recent(&mut r, "xpending s g - + 10"),
        "[[1-0,bob,~,:2],[2-0,bob,~,:2],[3-0,bob,~,:1],[4-0,bob,~,:1],[7-0,alice,~,:1]]"
    );
    check(
        &mut r,
        &[
            // A scan to the end answers the cursor 0-0; COUNT defaults to 100.
            (
                "xautoclaim s g bob 0 0-0",
                "[0-0,[[1-0,[f,1]],[2-0,[f,2]],[3-0,[f,3]],[4-0,[f,4]],[7-0,[f,7]]],[]]",
            ),
            (
                "xautoclaim s g carol 0 0 count 100 justid",
                "[0-0,[1-0,2-0,3-0,4-0,7-0],[]]",
            ),
            ("xautoclaim s g carol 3600000 0", "[0-0,[],[]]"),
            (
                "xautoclaim s g carol 0 (1",
                "[0-0,[[2-0,[f,2]],[3-0,[f,3]],[4-0,[f,4]],[7-0,[f,7]]],[]]",
            ),
            (
                "xautoclaim s g carol 0 -",
                "[0-0,[[1-0,[f,1]],[2-0,[f,2]],[3-0,[f,3]],[4-0,[f,4]],[7-0,[f,7]]],[]]",
            ),
            ("xautoclaim s g carol 0 +", "[0-0,[],[]]"),
            ("xautoclaim s g carol 0 99-0", "[0-0,[],[]]"),
            (
                "xautoclaim s g carol -1 0 count 1",
                "[2-0,[[1-0,[f,1]]],[]]",
            ),
            (
                "xautoclaim s g carol 0 0 count 1 count 2",
                "[3-0,[[1-0,[f,1]],[2-0,[f,2]]],[]]",
            ),
            (
                "xautoclaim s g carol 0 0 justid justid",
                "[0-0,[1-0,2-0,3-0,4-0,7-0],[]]",
            ),
            ("xautoclaim s g carol 0 x", BAD_ID),
            (
                "xautoclaim s g carol x 0",
                "-ERR Invalid min-idle-time argument for XAUTOCLAIM",
            ),
            ("xautoclaim s g carol 0 0 count 0", "-ERR COUNT must be > 0"),
            (
                "xautoclaim s g carol 0 0 count -1",
                "-ERR COUNT must be > 0",
            ),
            ("xautoclaim s g carol 0 0 count x", "-ERR COUNT must be > 0"),
            (
                "xautoclaim s g carol 0 0 count 9223372036854775807",
                "-ERR COUNT must be > 0",
            ),
            ("xautoclaim s g carol 0 0 count", SYNTAX),
            ("xautoclaim s g carol 0 0 foo", SYNTAX),
            ("xautoclaim s g carol 0 0 justid foo", SYNTAX),
            (
                "xautoclaim s g carol 0",
                "-ERR wrong number of arguments for 'xautoclaim' command",
            ),
            (
                "xautoclaim s nope carol 0 0",
                "-NOGROUP No such key 's' or consumer group 'nope'",
            ),
            (
                "xautoclaim missing g carol 0 0",
                "-NOGROUP No such key 'missing' or consumer group 'g'",
            ),
            ("xpending s g", "[:5,1-0,7-0,[[carol,5]]]"),
            // Deleted entries count against COUNT.
            ("xadd s 8-0 f 8", "8-0"),
            ("xreadgroup group g dave streams s >", "[[s,[[8-0,[f,8]]]]]"),
            ("xdel s 8-0", ":1"),
            ("xautoclaim s g carol 0 8-0 count 1", "[0-0,[],[8-0]]"),
            ("xpending s g", "[:5,1-0,7-0,[[carol,5]]]"),
        ],
    );
    assert_eq!(
        consumers(&mut r, "xinfo consumers s g"),
        "[[name,alice,pending,:0],[name,bob,pending,:0],[name,carol,pending,:5],[name,dave,pending,:0]]"
    );
    // An idle filter: only entries idle long enough are claimed.
    check(
        &mut r,
        &[("xclaim s g carol 0 2-0 idle 100000 justid", "[2-0]")],
    );
    check(
        &mut r,
        &[
            ("xautoclaim s g erin 50000 0", "[0-0,[[2-0,[f,2]]],[]]"),
            ("xautoclaim s g frank 50000 0 justid", "[0-0,[],[]]"),
        ],
    );
    assert_eq!(
        recent(&mut r, "xpending s g - + 10"),
        "[[1-0,carol,~,:6],[2-0,erin,~,:7],[3-0,carol,~,:4],[4-0,carol,~,:4],[7-0,carol,~,:4]]"
    );
}

// ---- XINFO ----

/// XINFO GROUPS: the group's `entries-read` counter and `lag` (entries not yet delivered), which
/// are null when they cannot be known (a group placed at an arbitrary ID, a deletion after its
/// position). Later Redis releases estimate more cases around deletions and trimming
/// (redis#13338, redis#13473): only the cases every 7.x answers alike are here.
#[test]
fn xinfo_groups_entries_read_and_lag() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    add_entries(&mut r, "s", 5);
    check(
        &mut r,
        &[
            ("xgroup create s g 0", "+OK"),
            ("xgroup create s g2 $", "+OK"),
            ("xgroup create s g3 3-0", "+OK"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:0,pending,:0,last-delivered-id,0-0,entries-read,(nil),lag,:5],[name,g2,consumers,:0,pending,:0,last-delivered-id,5-0,entries-read,(nil),lag,:0],[name,g3,consumers,:0,pending,:0,last-delivered-id,3-0,entries-read,(nil),lag,(nil)]]",
            ),
            ("xreadgroup group g alice count 2 streams s >", "[[s,[[1-0,[f,1]],[2-0,[f,2]]]]]"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:1,pending,:2,last-delivered-id,2-0,entries-read,:2,lag,:3],[name,g2,consumers,:0,pending,:0,last-delivered-id,5-0,entries-read,(nil),lag,:0],[name,g3,consumers,:0,pending,:0,last-delivered-id,3-0,entries-read,(nil),lag,(nil)]]",
            ),
            ("xgroup destroy s g2", ":1"),
            ("xgroup destroy s g3", ":1"),
            // A deletion after the group's position makes its lag unknown ...
            ("xdel s 4-0", ":1"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:1,pending,:2,last-delivered-id,2-0,entries-read,:2,lag,(nil)]]",
            ),
            // ... until the group has read the last entry.
            ("xreadgroup group g alice count 1 streams s >", "[[s,[[3-0,[f,3]]]]]"),
            ("xreadgroup group g alice streams s >", "[[s,[[5-0,[f,5]]]]]"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:1,pending,:4,last-delivered-id,5-0,entries-read,:5,lag,:0]]",
            ),
            ("xadd s 6-0 f 6", "6-0"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:1,pending,:4,last-delivered-id,5-0,entries-read,:5,lag,:1]]",
            ),
            // SETID forgets the counter unless given one; at the last ID the lag is 0.
            ("xgroup setid s g 0", "+OK"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:1,pending,:4,last-delivered-id,0-0,entries-read,(nil),lag,(nil)]]",
            ),
            ("xgroup setid s g $", "+OK"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:1,pending,:4,last-delivered-id,6-0,entries-read,(nil),lag,:0]]",
            ),
            ("xgroup setid s g 2-0 entriesread 2", "+OK"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:1,pending,:4,last-delivered-id,2-0,entries-read,:2,lag,(nil)]]",
            ),
            // Without deletions the counter is exact, and a group at 0 lags by everything.
            ("xadd t 1-0 a 1", "1-0"),
            ("xadd t 2-0 a 2", "2-0"),
            ("xadd t 3-0 a 3", "3-0"),
            ("xgroup create t g 0", "+OK"),
            ("xreadgroup group g c count 1 streams t >", "[[t,[[1-0,[a,1]]]]]"),
            ("xreadgroup group g c count 1 streams t >", "[[t,[[2-0,[a,2]]]]]"),
            (
                "xinfo groups t",
                "[[name,g,consumers,:1,pending,:2,last-delivered-id,2-0,entries-read,:2,lag,:1]]",
            ),
            ("xgroup create t g2 0 entriesread 1", "+OK"),
            ("xgroup create t g3 0", "+OK"),
            (
                "xinfo groups t",
                "[[name,g,consumers,:1,pending,:2,last-delivered-id,2-0,entries-read,:2,lag,:1],[name,g2,consumers,:0,pending,:0,last-delivered-id,0-0,entries-read,:1,lag,:2],[name,g3,consumers,:0,pending,:0,last-delivered-id,0-0,entries-read,(nil),lag,:3]]",
            ),
        ],
    );
    assert_eq!(
        info(&mut r, "xinfo stream s"),
        "[length,:5,last-generated-id,6-0,max-deleted-entry-id,4-0,entries-added,:6,recorded-first-entry-id,1-0,groups,:1,first-entry,[1-0,[f,1]],last-entry,[6-0,[f,6]]]"
    );
}

#[test]
fn xinfo_stream_consumers_help_and_errors() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    add_entries(&mut r, "s", 5);
    check(
        &mut r,
        &[
            ("xgroup create s g 0", "+OK"),
            ("xgroup create s g2 $", "+OK"),
            (
                "xreadgroup group g alice count 2 streams s >",
                "[[s,[[1-0,[f,1]],[2-0,[f,2]]]]]",
            ),
            (
                "xreadgroup group g bob count 1 streams s >",
                "[[s,[[3-0,[f,3]]]]]",
            ),
            ("xgroup createconsumer s g carol", ":1"),
            ("xdel s 2-0", ":1"),
        ],
    );
    assert_eq!(
        info(&mut r, "xinfo stream s"),
        "[length,:4,last-generated-id,5-0,max-deleted-entry-id,2-0,entries-added,:5,recorded-first-entry-id,1-0,groups,:2,first-entry,[1-0,[f,1]],last-entry,[5-0,[f,5]]]"
    );
    let full = "[length,:4,last-generated-id,5-0,max-deleted-entry-id,2-0,entries-added,:5,recorded-first-entry-id,1-0,entries,[[1-0,[f,1]],[3-0,[f,3]],[4-0,[f,4]],[5-0,[f,5]]],groups,[[name,g,last-delivered-id,3-0,entries-read,:3,lag,:2,pel-count,:3,pending,[[1-0,alice,~,:1],[2-0,alice,~,:1],[3-0,bob,~,:1]],consumers,[[name,alice,pel-count,:2,pending,[[1-0,~,:1],[2-0,~,:1]]],[name,bob,pel-count,:1,pending,[[3-0,~,:1]]],[name,carol,pel-count,:0,pending,[]]]],[name,g2,last-delivered-id,5-0,entries-read,(nil),lag,:0,pel-count,:0,pending,[],consumers,[]]]]";
    assert_eq!(info(&mut r, "xinfo stream s full"), full);
    // COUNT limits the entries and each PEL listed (default 10); 0 or negative is no limit.
    assert_eq!(info(&mut r, "xinfo stream s full count 0"), full);
    assert_eq!(info(&mut r, "xinfo stream s FULL COUNT -1"), full);
    assert_eq!(
        info(&mut r, "xinfo stream s full count 1"),
        "[length,:4,last-generated-id,5-0,max-deleted-entry-id,2-0,entries-added,:5,recorded-first-entry-id,1-0,entries,[[1-0,[f,1]]],groups,[[name,g,last-delivered-id,3-0,entries-read,:3,lag,:2,pel-count,:3,pending,[[1-0,alice,~,:1]],consumers,[[name,alice,pel-count,:2,pending,[[1-0,~,:1]]],[name,bob,pel-count,:1,pending,[[3-0,~,:1]]],[name,carol,pel-count,:0,pending,[]]]],[name,g2,last-delivered-id,5-0,entries-read,(nil),lag,:0,pel-count,:0,pending,[],consumers,[]]]]"
    );
    for i in 6..=20 {
        run(&mut r, &format!("xadd s {i}-0 f {i}"));
    }
    let entries = |r: &mut Raw, line: &str| -> usize {
        Tree::parse(&run(r, line)).get("entries").items().len()
    };
    assert_eq!(entries(&mut r, "xinfo stream s full"), 10);
    assert_eq!(entries(&mut r, "xinfo stream s full count 3"), 3);
    assert_eq!(entries(&mut r, "xinfo stream s full count 0"), 19);
    // The times in FULL are Unix times in ms of the deliveries and of the consumers.
    let t = Tree::parse(&run(&mut r, "xinfo stream s full"));
    let group = &t.get("groups").items()[0];
    let delivered = group.get("pending").items()[0].items()[2].int();
    assert!(
        (now_ms() - delivered).abs() < 60_000,
        "delivery time {delivered}"
    );
    let alice = &group.get("consumers").items()[0];
    assert_eq!(alice.get("name").atom(), "alice");
    assert!((now_ms() - alice.get("seen-time").int()).abs() < 60_000);
    assert_eq!(
        consumers(&mut r, "xinfo consumers s g"),
        "[[name,alice,pending,:2],[name,bob,pending,:1],[name,carol,pending,:0]]"
    );
    assert_eq!(consumers(&mut r, "xinfo consumers s g2"), "[]");
    check(
        &mut r,
        &[
            ("xinfo groups missing", NO_KEY),
            ("xinfo stream missing", NO_KEY),
            ("xinfo stream missing full", NO_KEY),
            ("xinfo consumers missing g", NO_KEY),
            ("xinfo consumers s nope", "-NOGROUP No such consumer group 'nope' for key name 's'"),
            ("xinfo groups s extra", "-ERR wrong number of arguments for 'xinfo|groups' command"),
            ("xinfo consumers s", "-ERR wrong number of arguments for 'xinfo|consumers' command"),
            ("xinfo stream", "-ERR wrong number of arguments for 'xinfo|stream' command"),
            (
                "xinfo stream s foo",
                "-ERR unknown subcommand or wrong number of arguments for 'stream'. Try XINFO HELP.",
            ),
            (
                "xinfo stream s full count",
                "-ERR unknown subcommand or wrong number of arguments for 'stream'. Try XINFO HELP.",
            ),
            (
                "xinfo stream s full foo",
                "-ERR unknown subcommand or wrong number of arguments for 'stream'. Try XINFO HELP.",
            ),
            ("xinfo stream s full count x", NOT_INT),
            ("xinfo", "-ERR wrong number of arguments for 'xinfo' command"),
            ("xinfo foo", "-ERR unknown subcommand 'foo'. Try XINFO HELP."),
            ("xinfo foo bar", "-ERR unknown subcommand 'foo'. Try XINFO HELP."),
            ("xinfo help x", "-ERR wrong number of arguments for 'xinfo|help' command"),
            (
                "xinfo help",
                "[+XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:,+CONSUMERS <key> <groupname>,+    Show consumers of <groupname>.,+GROUPS <key>,+    Show the stream consumer groups.,+STREAM <key> [FULL [COUNT <count>],+    Show information about the stream.,+HELP,+    Print this help.]",
            ),
        ],
    );
}

// ---- RESP3 ----

/// In RESP3 XREAD and XREADGROUP answer a map of stream to entries, XINFO answers maps, and the
/// nulls are RESP3 nulls; everything else keeps its RESP2 shape.
#[test]
fn resp3_reply_shapes() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    hello3(&mut r);
    add_entries(&mut r, "s", 3);
    check(
        &mut r,
        &[
            ("xadd t 1-0 g 1", "1-0"),
            ("xgroup create s g 0", "+OK"),
            (
                "xread streams s 0",
                "[s,[[1-0,[f,1]],[2-0,[f,2]],[3-0,[f,3]]]]",
            ),
            (
                "xread count 1 streams s t 0 0",
                "[s,[[1-0,[f,1]]],t,[[1-0,[g,1]]]]",
            ),
            ("xread count 1 streams s nope 0 0", "[s,[[1-0,[f,1]]]]"),
            ("xread streams s $", "(nil)"),
            (
                "xreadgroup group g alice count 2 streams s >",
                "[s,[[1-0,[f,1]],[2-0,[f,2]]]]",
            ),
            (
                "xreadgroup group g alice streams s 0",
                "[s,[[1-0,[f,1]],[2-0,[f,2]]]]",
            ),
            ("xrange s - + count 1", "[[1-0,[f,1]]]"),
            ("xrevrange s + - count 1", "[[3-0,[f,3]]]"),
            ("xpending s g", "[:2,1-0,2-0,[[alice,2]]]"),
            ("xautoclaim s g bob 0 0 count 1 justid", "[2-0,[1-0],[]]"),
            ("xclaim s g bob 0 2-0 justid", "[2-0]"),
            ("xdel s 1-0", ":1"),
            (
                "xreadgroup group g bob streams s 0",
                "[s,[[1-0,(nil)],[2-0,[f,2]]]]",
            ),
            (
                "xinfo groups s",
                "[[name,g,consumers,:2,pending,:2,last-delivered-id,2-0,entries-read,:2,lag,:1]]",
            ),
            ("xadd nos nomkstream 1-0 a b", "(nil)"),
            ("xrange s - + count 0", "(nil)"),
        ],
    );
    assert_eq!(
        info(&mut r, "xinfo stream s"),
        "[length,:2,last-generated-id,3-0,max-deleted-entry-id,1-0,entries-added,:3,recorded-first-entry-id,2-0,groups,:1,first-entry,[2-0,[f,2]],last-entry,[3-0,[f,3]]]"
    );
    assert_eq!(
        info(&mut r, "xinfo stream s full"),
        "[length,:2,last-generated-id,3-0,max-deleted-entry-id,1-0,entries-added,:3,recorded-first-entry-id,2-0,entries,[[2-0,[f,2]],[3-0,[f,3]]],groups,[[name,g,last-delivered-id,2-0,entries-read,:2,lag,:1,pel-count,:2,pending,[[1-0,bob,~,:2],[2-0,bob,~,:3]],consumers,[[name,alice,pel-count,:0,pending,[]],[name,bob,pel-count,:2,pending,[[1-0,~,:2],[2-0,~,:3]]]]]]]"
    );
    // The wire types.
    assert_eq!(head(&mut r, "xread streams s 0"), "%1");
    assert_eq!(head(&mut r, "xread streams s t 0 0"), "%2");
    assert_eq!(head(&mut r, "xreadgroup group g bob streams s 0"), "%1");
    assert_eq!(head(&mut r, "xread streams s $"), "_");
    assert_eq!(head(&mut r, "xreadgroup group g bob streams s >"), "%1");
    assert_eq!(head(&mut r, "xreadgroup group g bob streams s >"), "_");
    assert_eq!(head(&mut r, "xinfo stream s"), "%10");
    assert_eq!(head(&mut r, "xinfo stream s full"), "%9");
    assert_eq!(head(&mut r, "xinfo groups s"), "*1");
    assert_eq!(head(&mut r, "xpending s g"), "*4");
    assert_eq!(head(&mut r, "xrange s - +"), "*2");
    // Each group and each consumer is a map (a consumer has 3 fields in 7.0, 4 in 7.2).
    let mut raw = s.raw();
    hello3(&mut raw);
    raw.cmd(&[b"XINFO", b"GROUPS", b"s"]);
    assert_eq!(raw.line(), "*1");
    assert_eq!(raw.line(), "%6");
    for _ in 0..12 {
        raw.reply();
    }
    raw.cmd(&[b"XINFO", b"CONSUMERS", b"s", b"g"]);
    assert_eq!(raw.line(), "*2");
    let consumer = raw.line();
    assert!(consumer.starts_with('%'), "{consumer}");
}

// ---- Blocking reads ----

/// XREAD BLOCK wakes on an XADD to one of its keys and gets only what was added after it blocked
/// (`$`) or after its ID; XREAD takes nothing, so every client blocked on the key gets the entry.
#[test]
fn xread_block_is_served_by_xadd() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    check(&mut c, &[("xadd s 1-0 a 1", "1-0")]);
    let mut w1 = s.raw();
    let mut w2 = s.raw();
    let mut w3 = s.raw();
    w1.cmd(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"]);
    w2.cmd(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"]);
    w3.cmd(&[
        b"XREAD", b"COUNT", b"5", b"BLOCK", b"0", b"STREAMS", b"other", b"s", b"$", b"$",
    ]);
    wait_blocked(&s, 3);
    // Writes that add nothing to `s` wake nobody.
    check(
        &mut c,
        &[
            ("xadd unrelated 1-0 x y", "1-0"),
            ("xdel s 1-0", ":1"),
            ("xtrim s maxlen 0", ":0"),
            ("xadd s 1-0 x y", SMALLER),
        ],
    );
    std::thread::sleep(Duration::from_millis(100));
    wait_blocked(&s, 3);
    check(&mut c, &[("xadd s 2-0 b 2", "2-0")]);
    assert_eq!(w1.reply(), "[[s,[[2-0,[b,2]]]]]");
    assert_eq!(w2.reply(), "[[s,[[2-0,[b,2]]]]]");
    assert_eq!(w3.reply(), "[[s,[[2-0,[b,2]]]]]");
    wait_blocked(&s, 0);
    check(&mut c, &[("xlen s", ":1")]);

    // An explicit ID: served at once if there is something after it, else on the next XADD.
    check(
        &mut w1,
        &[("xread block 0 streams s 1-0", "[[s,[[2-0,[b,2]]]]]")],
    );
    w1.cmd(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"2-0"]);
    wait_blocked(&s, 1);
    check(&mut c, &[("xadd s 3-0 c 3", "3-0")]);
    assert_eq!(w1.reply(), "[[s,[[3-0,[c,3]]]]]");

    // Entries added by one transaction are served together, up to COUNT.
    w1.cmd(&[
        b"XREAD", b"COUNT", b"2", b"BLOCK", b"0", b"STREAMS", b"s", b"$",
    ]);
    wait_blocked(&s, 1);
    check(
        &mut c,
        &[
            ("multi", "+OK"),
            ("xadd s 4-0 d 4", "+QUEUED"),
            ("xadd s 5-0 e 5", "+QUEUED"),
            ("xadd s 6-0 f 6", "+QUEUED"),
            ("exec", "[4-0,5-0,6-0]"),
        ],
    );
    assert_eq!(w1.reply(), "[[s,[[4-0,[d,4]],[5-0,[e,5]]]]]");

    // Several keys: the one written answers; a key created while waiting counts.
    w1.cmd(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"a", b"b", b"$", b"$"]);
    wait_blocked(&s, 1);
    check(&mut c, &[("xadd b 1-0 x 1", "1-0")]);
    assert_eq!(w1.reply(), "[[b,[[1-0,[x,1]]]]]");
    w1.cmd(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"newkey", b"0"]);
    wait_blocked(&s, 1);
    check(&mut c, &[("xadd newkey 1-0 n 1", "1-0")]);
    assert_eq!(w1.reply(), "[[newkey,[[1-0,[n,1]]]]]");

    // RESP3 readers get a map.
    hello3(&mut w2);
    w2.cmd(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"]);
    wait_blocked(&s, 1);
    check(&mut c, &[("xadd s 7-0 g 7", "7-0")]);
    assert_eq!(w2.line(), "%1");
    assert_eq!(w2.reply(), "s");
    assert_eq!(w2.reply(), "[[7-0,[g,7]]]");
    wait_blocked(&s, 0);

    // A reader that stays blocked (it waits for IDs after 100-0) does not hold up the reader
    // that blocked after it.
    w1.cmd(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"100-0"]);
    wait_blocked(&s, 1);
    w3.cmd(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"]);
    wait_blocked(&s, 2);
    check(&mut c, &[("xadd s 8-0 h 8", "8-0")]);
    assert_eq!(w3.reply(), "[[s,[[8-0,[h,8]]]]]");
    wait_blocked(&s, 1);
    check(&mut c, &[("xadd s 101-0 i 9", "101-0")]);
    assert_eq!(w1.reply(), "[[s,[[101-0,[i,9]]]]]");
    wait_blocked(&s, 0);
}

/// BLOCK with a timeout answers a null after about that long; inside MULTI it does not block;
/// reading a consumer's history never blocks.
#[test]
fn blocking_reads_time_out_with_a_null() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    check(
        &mut r,
        &[("xadd s 1-0 a 1", "1-0"), ("xgroup create s g $", "+OK")],
    );
    for line in [
        "xread block 200 streams s $",
        "xreadgroup group g c block 200 streams s >",
    ] {
        let t = Instant::now();
        assert_eq!(head(&mut r, line), "*-1", "{line}");
        let waited = t.elapsed();
        assert!(
            waited >= Duration::from_millis(190) && waited < Duration::from_secs(3),
            "{line}: {waited:?}"
        );
    }
    check(
        &mut r,
        &[
            ("multi", "+OK"),
            ("xread block 0 streams s $", "+QUEUED"),
            ("xreadgroup group g c block 0 streams s >", "+QUEUED"),
            ("exec", "[(nil),(nil)]"),
        ],
    );
    let t = Instant::now();
    check(
        &mut r,
        &[("xreadgroup group g c block 5000 streams s 0", "[[s,[]]]")],
    );
    assert!(t.elapsed() < Duration::from_secs(2));
    hello3(&mut r);
    assert_eq!(head(&mut r, "xread block 100 streams s $"), "_");
    assert_eq!(
        head(&mut r, "xreadgroup group g c block 100 streams s >"),
        "_"
    );
    check(&mut r, &[("xlen s", ":1")]);
}

/// XREADGROUP BLOCK with `>`: an XADD serves the consumer blocked first (an entry goes to one
/// consumer), the delivery lands in the PEL (not with NOACK), a blocked XREAD on the same key is
/// served as well, and a group or key that goes away ends the wait with an error.
#[test]
fn xreadgroup_block_is_served_by_xadd() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    check(&mut c, &[("xgroup create s g $ mkstream", "+OK")]);
    let mut alice = s.raw();
    let mut bob = s.raw();
    alice.cmd(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"alice",
        b"BLOCK",
        b"0",
        b"STREAMS",
        b"s",
        b">",
    ]);
    wait_blocked(&s, 1);
    bob.cmd(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"bob",
        b"BLOCK",
        b"0",
        b"STREAMS",
        b"s",
        b">",
    ]);
    wait_blocked(&s, 2);
    check(&mut c, &[("xadd s 1-0 a 1", "1-0")]);
    assert_eq!(alice.reply(), "[[s,[[1-0,[a,1]]]]]");
    wait_blocked(&s, 1);
    assert_eq!(recent(&mut c, "xpending s g - + 10"), "[[1-0,alice,~,:1]]");
    check(&mut c, &[("xadd s 2-0 b 2", "2-0")]);
    assert_eq!(bob.reply(), "[[s,[[2-0,[b,2]]]]]");
    wait_blocked(&s, 0);
    assert_eq!(
        recent(&mut c, "xpending s g - + 10"),
        "[[1-0,alice,~,:1],[2-0,bob,~,:1]]"
    );

    alice.cmd(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"alice",
        b"BLOCK",
        b"0",
        b"NOACK",
        b"STREAMS",
        b"s",
        b">",
    ]);
    wait_blocked(&s, 1);
    check(&mut c, &[("xadd s 3-0 c 3", "3-0")]);
    assert_eq!(alice.reply(), "[[s,[[3-0,[c,3]]]]]");
    check(
        &mut c,
        &[
            ("xpending s g", "[:2,1-0,2-0,[[alice,1],[bob,1]]]"),
            (
                "xinfo groups s",
                "[[name,g,consumers,:2,pending,:2,last-delivered-id,3-0,entries-read,:3,lag,:0]]",
            ),
        ],
    );

    // A group reader and a plain reader blocked on the same key both get the entry.
    alice.cmd(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"alice",
        b"BLOCK",
        b"0",
        b"STREAMS",
        b"s",
        b">",
    ]);
    bob.cmd(&[b"XREAD", b"BLOCK", b"0", b"STREAMS", b"s", b"$"]);
    wait_blocked(&s, 2);
    check(&mut c, &[("xadd s 4-0 d 4", "4-0")]);
    assert_eq!(alice.reply(), "[[s,[[4-0,[d,4]]]]]");
    assert_eq!(bob.reply(), "[[s,[[4-0,[d,4]]]]]");
    wait_blocked(&s, 0);

    // The group or the key going away ends the wait with an error (7.0 and 7.2 differ in text).
    alice.cmd(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"alice",
        b"BLOCK",
        b"0",
        b"STREAMS",
        b"s",
        b">",
    ]);
    wait_blocked(&s, 1);
    check(&mut c, &[("xgroup destroy s g", ":1")]);
    let reply = alice.reply();
    assert!(reply.starts_with('-'), "{reply}");
    // ringkv re-runs the read, as 7.2 does: the group is gone.
    assert!(reply.starts_with("-NOGROUP "), "{reply}");
    wait_blocked(&s, 0);
    check(&mut c, &[("xgroup create s g $", "+OK")]);
    alice.cmd(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"alice",
        b"BLOCK",
        b"0",
        b"STREAMS",
        b"s",
        b">",
    ]);
    wait_blocked(&s, 1);
    check(&mut c, &[("del s", ":1")]);
    let reply = alice.reply();
    assert!(reply.starts_with('-'), "{reply}");
    assert_eq!(reply, "-UNBLOCKED the stream key no longer exists");
    wait_blocked(&s, 0);
    // Nothing of it is left: a new stream starts afresh.
    check(
        &mut c,
        &[("xadd s 1-0 a 1", "1-0"), ("xinfo groups s", "[]")],
    );
}

// ---- Persistence ----

/// Streams with everything persistence has to keep: entries over many nodes with deletions, groups
/// with pending entries (one claimed as idle for an hour with a delivery count of 5), acknowledged
/// and NOACK deliveries, consumers with nothing pending, an empty group, a group placed with an
/// entries-read counter, XSETID's last ID, entries-added and max-deleted-id, and emptied streams.
fn build_state(r: &mut Raw) {
    check(
        r,
        &[
            ("xadd s 1-0 f 1", "1-0"),
            ("xadd s 2-0 f 2", "2-0"),
            ("xadd s 3-0 f 3", "3-0"),
            ("xadd s 4-0 f 4", "4-0"),
            ("xadd s 5-0 f 5", "5-0"),
            ("xadd s 6-0 f 6", "6-0"),
            ("xadd s 7-0 f 7", "7-0"),
            ("xadd s 8-0 f 8", "8-0"),
            ("xgroup create s g 0", "+OK"),
            ("xgroup create s g2 $", "+OK"),
            ("xgroup create s g3 0", "+OK"),
            (
                "xreadgroup group g alice count 3 streams s >",
                "[[s,[[1-0,[f,1]],[2-0,[f,2]],[3-0,[f,3]]]]]",
            ),
            (
                "xreadgroup group g bob count 2 streams s >",
                "[[s,[[4-0,[f,4]],[5-0,[f,5]]]]]",
            ),
            (
                "xreadgroup group g carol noack count 1 streams s >",
                "[[s,[[6-0,[f,6]]]]]",
            ),
            ("xack s g 2-0", ":1"),
            (
                "xclaim s g bob 0 1-0 idle 3600000 retrycount 5 justid",
                "[1-0]",
            ),
            ("xgroup createconsumer s g dave", ":1"),
            ("xgroup createconsumer s g2 zoe", ":1"),
            ("xdel s 3-0 7-0", ":2"),
            ("xsetid s 100-0 entriesadded 50 maxdeletedid 50-0", "+OK"),
            ("xgroup setid s g3 2-0 entriesread 2", "+OK"),
            ("xadd e 1-0 a b", "1-0"),
            ("xgroup create e g 0", "+OK"),
            ("xreadgroup group g c streams e >", "[[e,[[1-0,[a,b]]]]]"),
            ("xdel e 1-0", ":1"),
            ("xadd t 1-0 a b", "1-0"),
            ("xadd t 2-0 a b", "2-0"),
            ("xtrim t maxlen 0", ":2"),
        ],
    );
    for i in 1..=500 {
        run(r, &format!("xadd big {i}-0 f {i} g x"));
    }
    check(
        r,
        &[
            ("xdel big 1-0 250-0 500-0", ":3"),
            ("xgroup create big g 100", "+OK"),
            (
                "xreadgroup group g c count 3 streams big >",
                "[[big,[[101-0,[f,101,g,x]],[102-0,[f,102,g,x]],[103-0,[f,103,g,x]]]]]",
            ),
            ("xpending s g", "[:4,1-0,5-0,[[alice,1],[bob,3]]]"),
            ("xpending e g", "[:1,1-0,1-0,[[c,1]]]"),
        ],
    );
}

/// Everything observable about the streams of [`build_state`], less the clock-dependent times.
fn state(r: &mut Raw) -> Vec<String> {
    let mut out = Vec::new();
    for key in ["s", "e", "t", "big"] {
        out.push(run(r, &format!("type {key}")));
        out.push(run(r, &format!("xrange {key} - +")));
        out.push(info(r, &format!("xinfo stream {key} full count 0")));
        out.push(run(r, &format!("xinfo groups {key}")));
    }
    for (key, group) in [
        ("s", "g"),
        ("s", "g2"),
        ("s", "g3"),
        ("e", "g"),
        ("big", "g"),
    ] {
        out.push(run(r, &format!("xpending {key} {group}")));
        out.push(pending(r, &format!("xpending {key} {group} - + 1000")).0);
        out.push(consumers(r, &format!("xinfo consumers {key} {group}")));
    }
    out
}

/// After a restart: the same state, delivery times kept (the entry claimed as idle for an hour
/// still is), and streams and groups carry on where they were.
fn check_restored(r: &mut Raw, before: &[String]) {
    assert_eq!(state(r), before);
    let (old, idle) = pending(r, "xpending s g IDLE 3000000 - + 10");
    assert_eq!(old, "[[1-0,bob,~,:5]]");
    assert!(idle[0] >= 3_600_000, "{idle:?}");
    check(
        r,
        &[
            ("xadd s 100-0 f v", SMALLER),
            ("xadd s 100-* f v", "100-1"),
            (
                "xreadgroup group g erin streams s >",
                "[[s,[[8-0,[f,8]],[100-1,[f,v]]]]]",
            ),
            (
                "xreadgroup group g alice streams s 0",
                "[[s,[[3-0,(nil)]]]]",
            ),
            (
                "xreadgroup group g3 c count 1 streams s >",
                "[[s,[[4-0,[f,4]]]]]",
            ),
            ("xadd e 1-0 a b", SMALLER),
            ("xadd e 2-0 a b", "2-0"),
            ("xadd t 3-0 a b", "3-0"),
            (
                "xreadgroup group g c count 1 streams big >",
                "[[big,[[104-0,[f,104,g,x]]]]]",
            ),
        ],
    );
}

#[test]
fn streams_survive_an_aof_replay() {
    let s = Server::start(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--save",
        "",
    ]);
    let mut r = s.raw();
    build_state(&mut r);
    // A delivery made by serving a blocked XREADGROUP is logged too.
    check(&mut r, &[("xgroup create q g $ mkstream", "+OK")]);
    let mut waiter = s.raw();
    waiter.cmd(&[
        b"XREADGROUP",
        b"GROUP",
        b"g",
        b"w",
        b"BLOCK",
        b"0",
        b"STREAMS",
        b"q",
        b">",
    ]);
    wait_blocked(&s, 1);
    check(&mut r, &[("xadd q 1-0 a b", "1-0")]);
    assert_eq!(waiter.reply(), "[[q,[[1-0,[a,b]]]]]");
    let before = state(&mut r);
    let s = s.restart(&["--appendonly", "yes", "--save", ""]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, "xpending q g"), "[:1,1-0,1-0,[[w,1]]]");
    check_restored(&mut r, &before);
}

#[test]
fn streams_survive_a_snapshot() {
    let s = Server::start(&["--save", ""]);
    let mut r = s.raw();
    build_state(&mut r);
    let before = state(&mut r);
    check(&mut r, &[("save", "+OK")]);
    let s = s.restart(&["--appendonly", "no", "--save", ""]);
    let mut r = s.raw();
    check_restored(&mut r, &before);
}

#[test]
fn streams_survive_an_aof_rewrite() {
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--auto-aof-rewrite-percentage",
        "0",
        "--save",
        "",
    ];
    let s = Server::start(&args);
    let mut r = s.raw();
    build_state(&mut r);
    check(
        &mut r,
        &[(
            "bgrewriteaof",
            "+Background append only file rewriting started",
        )],
    );
    wait_until("the rewrite", Duration::from_secs(30), || {
        raw_info_field::<i64>(&mut r, "persistence", "aof_rewrite_in_progress") == 0
    });
    assert_eq!(
        raw_info_field::<String>(&mut r, "persistence", "aof_last_bgrewrite_status"),
        "ok"
    );
    // Written after the rewrite: goes to the log on top of the rewritten base.
    check(
        &mut r,
        &[
            ("xgroup createconsumer s g2 yan", ":1"),
            ("xadd big 501-0 f 501 g x", "501-0"),
        ],
    );
    let before = state(&mut r);
    let s = s.restart(&args);
    let mut r = s.raw();
    check_restored(&mut r, &before);
}

#[test]
fn dump_restore_and_copy_keep_groups_and_pending_entries() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    build_state(&mut r);
    for key in ["s", "e", "t", "big"] {
        let payload = dump(&mut r, key);
        let copy = format!("{key}-copy");
        r.cmd(&[b"RESTORE", copy.as_bytes(), b"0", &payload]);
        assert_eq!(r.reply(), "+OK", "{key}");
        for what in [
            "xinfo stream {} full count 0",
            "xinfo groups {}",
            "type {}",
            "xrange {} - +",
        ] {
            assert_eq!(
                info_or_run(&mut r, &what.replace("{}", &copy)),
                info_or_run(&mut r, &what.replace("{}", key)),
                "{what} of {key}"
            );
        }
        r.cmd(&[b"RESTORE", copy.as_bytes(), b"0", &payload]);
        assert_eq!(r.reply(), "-BUSYKEY Target key name already exists.");
        r.cmd(&[b"RESTORE", copy.as_bytes(), b"0", &payload, b"REPLACE"]);
        assert_eq!(r.reply(), "+OK");
    }
    assert_eq!(
        pending(&mut r, "xpending s-copy g - + 100").0,
        pending(&mut r, "xpending s g - + 100").0
    );
    // Delivery times and counts travel with the payload.
    let (old, idle) = pending(&mut r, "xpending s-copy g IDLE 3000000 - + 10");
    assert_eq!(old, "[[1-0,bob,~,:5]]");
    assert!(idle[0] >= 3_600_000, "{idle:?}");
    // The copy carries on from the same IDs, on its own.
    check(
        &mut r,
        &[
            ("xadd s-copy 100-0 f v", SMALLER),
            (
                "xreadgroup group g erin streams s-copy >",
                "[[s-copy,[[8-0,[f,8]]]]]",
            ),
            (
                "xpending s-copy g",
                "[:5,1-0,8-0,[[alice,1],[bob,3],[erin,1]]]",
            ),
            ("xpending s g", "[:4,1-0,5-0,[[alice,1],[bob,3]]]"),
            ("copy s s-copy2", ":1"),
            ("xgroup destroy s g", ":1"),
            ("xpending s-copy2 g", "[:4,1-0,5-0,[[alice,1],[bob,3]]]"),
        ],
    );
    let (old, _) = pending(&mut r, "xpending s-copy2 g IDLE 3000000 - + 10");
    assert_eq!(old, "[[1-0,bob,~,:5]]");
}

// ---- Keyspace notifications ----

#[test]
fn keyspace_events() {
    let s = Server::start(&[]);
    let mut c = s.raw();
    check(&mut c, &[("config set notify-keyspace-events KEt", "+OK")]);
    let mut events = s.raw();
    events.cmd(&[b"PSUBSCRIBE", b"__keyevent@0__:*"]);
    assert_eq!(events.reply(), "[psubscribe,__keyevent@0__:*,:1]");
    let mut keyspace = s.raw();
    keyspace.cmd(&[b"SUBSCRIBE", b"__keyspace@0__:s"]);
    assert_eq!(keyspace.reply(), "[subscribe,__keyspace@0__:s,:1]");
    // Each command, its reply, and the events it raises (none when it changed nothing).
    let script: &[(&str, &str, &[&str])] = &[
        ("xadd s 1-0 f v", "1-0", &["xadd s"]),
        ("xadd s 2-0 f v", "2-0", &["xadd s"]),
        ("xadd s maxlen 1 3-0 f v", "3-0", &["xadd s", "xtrim s"]),
        ("xadd s maxlen 5 4-0 f v", "4-0", &["xadd s"]),
        ("xadd nope nomkstream 1-0 f v", "(nil)", &[]),
        ("xadd s 1-0 f v", SMALLER, &[]),
        ("xtrim s maxlen 1", ":1", &["xtrim s"]),
        ("xtrim s maxlen 1", ":0", &[]),
        ("xdel s 4-0", ":1", &["xdel s"]),
        ("xdel s 4-0", ":0", &[]),
        ("xsetid s 9-0", "+OK", &["xsetid s"]),
        ("xadd s 10-0 f v", "10-0", &["xadd s"]),
        ("xgroup create s g 0", "+OK", &["xgroup-create s"]),
        (
            "xgroup create s g 0",
            "-BUSYGROUP Consumer Group name already exists",
            &[],
        ),
        (
            "xgroup create s2 g $ mkstream",
            "+OK",
            &["xgroup-create s2"],
        ),
        ("xgroup setid s g 0", "+OK", &["xgroup-setid s"]),
        (
            "xgroup createconsumer s g c",
            ":1",
            &["xgroup-createconsumer s"],
        ),
        ("xgroup createconsumer s g c", ":0", &[]),
        (
            "xreadgroup group g c streams s >",
            "[[s,[[10-0,[f,v]]]]]",
            &[],
        ),
        // New consumers made by reading and claiming are announced as well.
        (
            "xreadgroup group g d streams s 0",
            "[[s,[]]]",
            &["xgroup-createconsumer s"],
        ),
        (
            "xclaim s g e 0 10-0",
            "[[10-0,[f,v]]]",
            &["xgroup-createconsumer s"],
        ),
        (
            "xautoclaim s g f 0 0",
            "[0-0,[[10-0,[f,v]]],[]]",
            &["xgroup-createconsumer s"],
        ),
        ("xack s g 10-0", ":1", &[]),
        ("xpending s g", "[:0,(nil),(nil),(nil)]", &[]),
        ("xread streams s 0", "[[s,[[10-0,[f,v]]]]]", &[]),
        ("xrange s - +", "[[10-0,[f,v]]]", &[]),
        ("xgroup delconsumer s g c", ":0", &["xgroup-delconsumer s"]),
        ("xgroup delconsumer s g nobody", ":0", &[]),
        ("xgroup destroy s g", ":1", &["xgroup-destroy s"]),
        ("xgroup destroy s g", ":0", &[]),
        // DEL is of the generic class, not announced with `t` alone.
        ("del s2", ":1", &[]),
        ("xadd s 11-0 f v", "11-0", &["xadd s"]),
    ];
    let mut want = Vec::new();
    for (line, reply, raised) in script {
        assert_eq!(run(&mut c, line), *reply, "{line}");
        want.extend(raised.iter().map(|e| e.to_string()));
    }
    let got: Vec<String> = want
        .iter()
        .map(|_| {
            let msg = Tree::parse(&events.reply());
            let items = msg.items();
            assert_eq!(items[0].atom(), "pmessage");
            let event = items[2].atom().trim_start_matches("__keyevent@0__:");
            format!("{event} {}", items[3].atom())
        })
        .collect();
    assert_eq!(got, want);
    let on_s: Vec<String> = want
        .iter()
        .filter(|w| w.ends_with(" s"))
        .map(|_| keyspace.reply())
        .collect();
    let want_s: Vec<String> = want
        .iter()
        .filter_map(|w| w.strip_suffix(" s"))
        .map(|event| format!("[message,__keyspace@0__:s,{event}]"))
        .collect();
    assert_eq!(on_s, want_s);
    // With the generic class on too, DEL of a stream is announced.
    check(
        &mut c,
        &[
            ("config set notify-keyspace-events KEtg", "+OK"),
            ("del s", ":1"),
        ],
    );
    assert_eq!(
        events.reply(),
        "[pmessage,__keyevent@0__:*,__keyevent@0__:del,s]"
    );
}

/// As in Redis 7.2, XREADGROUP, XCLAIM and XAUTOCLAIM create their consumer even when they
/// read or claim nothing (docs/streams.md says so; the differential test cannot check it, as
/// Redis 7.0 does not).
#[test]
fn reads_and_claims_create_their_consumer_even_when_nothing_comes() {
    let s = Server::start(&[]);
    let mut r = s.raw();
    assert_eq!(run(&mut r, "xgroup create s g $ mkstream"), "+OK");
    assert_eq!(
        run(&mut r, "xreadgroup group g reader streams s >"),
        "(nil)"
    );
    assert_eq!(run(&mut r, "xclaim s g claimer 0 1-0"), "[]");
    assert_eq!(
        run(&mut r, "xautoclaim s g autoclaimer 0 0-0"),
        "[0-0,[],[]]"
    );
    let names = consumers(&mut r, "xinfo consumers s g");
    for name in ["reader", "claimer", "autoclaimer"] {
        assert!(names.contains(name), "{name} missing from {names}");
    }
}
