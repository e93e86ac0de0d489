//! The cluster's client-facing commands: CLUSTER INFO/NODES/MYID/OWNERS/KEYSLOT/FORGET/JOIN/
//! LEAVE/ANTI-ENTROPY, VGET/VSET (versions and conflict resolution) and the per-connection
//! consistency level.
//!
//! The cluster itself (membership, ring, replication) lives in the server crate, which owns the
//! network; it installs a [`ClusterHooks`] in `Shared::cluster` at start-up. These handlers only
//! ask the hooks. Without a cluster (standalone mode) they answer as Redis does on a server
//! without cluster support. VGET and VSET need the replicas, so in cluster mode the server
//! coordinates them before they reach this table; the handlers here only ever refuse.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult, SYNTAX};
use crate::parse::is;
use crate::table::{flags, CommandSpec};
use ringkv_config::Quorum;
use ringkv_protocol::Args;

pub const DISABLED: CmdError = CmdError::Static("ERR This instance has cluster support disabled");

/// What the cluster layer answers for the CLUSTER subcommands (all called under the keyspace
/// lock, so they must not lock the store).
pub trait ClusterHooks: Send + Sync {
    /// CLUSTER INFO body (`field:value\r\n` lines).
    fn info(&self) -> String;
    /// The `# Cluster` INFO section fields after `cluster_enabled:1`.
    fn info_section(&self) -> String;
    /// CLUSTER NODES body.
    fn nodes(&self) -> String;
    fn myid(&self) -> String;
    /// The preference list of a key: (node id, client address, state, role) in order.
    fn owners(&self, key: &[u8]) -> Vec<[String; 4]>;
    /// The partition of a key.
    fn partition(&self, key: &[u8]) -> u32;
    /// Drops a node that is down from the membership.
    fn forget(&self, id: &str) -> Result<(), String>;
    /// Joins the cluster a peer (`host:cluster-port`) belongs to; `keys` is how many keys this
    /// node holds (a node with data cannot join another cluster).
    fn join(&self, peer: &str, keys: usize) -> Result<(), String>;
    /// Starts handing this node's data off and leaving the cluster.
    fn leave(&self) -> Result<(), String>;
}

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("cluster", -2, 0, crate::dispatch::container)
        .group("cluster")
        .doc(
            "A container for cluster commands.",
            "3.0.0",
            "Depends on subcommand.",
        )
        .subcommands(CLUSTER_SUBCOMMANDS),
    CommandSpec::new("vget", 2, flags::READONLY, refuse)
        .keys(1, 1, 1)
        .group("cluster")
        .doc(
            "Returns every concurrent version (sibling) of a key with its causal context.",
            "0.1.0",
            "O(S) where S is the number of siblings.",
        )
        .syntax("key"),
    CommandSpec::new("vset", 4, flags::WRITE | flags::DENYOOM, refuse)
        .keys(1, 1, 1)
        .group("cluster")
        .doc(
            "Writes a string value that supersedes exactly the versions in a causal context.",
            "0.1.0",
            "O(S) where S is the number of siblings.",
        )
        .syntax("key context value"),
];

const CLUSTER_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("info", 2, flags::STALE | flags::LOADING, cluster_info)
        .group("cluster")
        .doc(
            "Returns information about the state of the cluster.",
            "3.0.0",
            "O(1)",
        ),
    CommandSpec::new("nodes", 2, flags::STALE | flags::LOADING, cluster_nodes)
        .group("cluster")
        .doc(
            "Returns the cluster configuration for a node.",
            "3.0.0",
            "O(N) where N is the total number of Cluster nodes",
        ),
    CommandSpec::new("myid", 2, flags::STALE | flags::LOADING, cluster_myid)
        .group("cluster")
        .doc("Returns the ID of a node.", "3.0.0", "O(1)"),
    CommandSpec::new("owners", 3, flags::STALE, cluster_owners)
        .group("cluster")
        .doc(
            "Returns the preference list (replica nodes, primary first) of a key.",
            "0.1.0",
            "O(N)",
        )
        .syntax("key"),
    CommandSpec::new("keyslot", 3, flags::STALE, cluster_keyslot)
        .group("cluster")
        .doc(
            "Returns the partition (ring slot) of a key.",
            "3.0.0",
            "O(N) where N is the number of bytes in the key",
        )
        .syntax("key"),
    CommandSpec::new("forget", 3, flags::ADMIN | flags::STALE, cluster_forget)
        .group("cluster")
        .doc(
            "Removes a node that is down from the membership.",
            "3.0.0",
            "O(1)",
        )
        .syntax("node-id"),
    CommandSpec::new("join", 3, flags::ADMIN | flags::STALE, cluster_join)
        .group("cluster")
        .doc(
            "Joins the cluster of a peer (host:cluster-port): this empty node pulls the \
             partitions it will own, then serves them. Progress in INFO cluster.",
            "0.1.0",
            "O(1); the handoff runs in the background",
        )
        .syntax("host:cluster-port"),
    CommandSpec::new("leave", 2, flags::ADMIN | flags::STALE, cluster_leave)
        .group("cluster")
        .doc(
            "Hands every partition of this node to its new owners, leaves the cluster and \
             stops the server. Progress in INFO cluster.",
            "0.1.0",
            "O(1); the handoff runs in the background",
        ),
    CommandSpec::new("anti-entropy", 2, flags::ADMIN, cluster_anti_entropy)
        .group("cluster")
        .doc(
            "Runs one Merkle-tree anti-entropy exchange with every live node that shares \
             partitions with this node, and returns the number of keys repaired.",
            "0.1.0",
            "O(K) where K is the number of keys of the shared partitions",
        ),
];

fn hooks<'a>(ctx: &Ctx<'a>) -> Result<&'a dyn ClusterHooks, CmdError> {
    ctx.shared.cluster.get().map(|h| h.as_ref()).ok_or(DISABLED)
}

/// A failure text from the cluster layer (or a bad quorum) as an `ERR` reply.
fn err_reply(e: String) -> CmdError {
    CmdError::msg(format!("ERR {e}"))
}

fn refuse(_: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    Err(DISABLED)
}

fn cluster_info(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let text = hooks(ctx)?.info();
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn cluster_nodes(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let text = hooks(ctx)?.nodes();
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn cluster_myid(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let id = hooks(ctx)?.myid();
    ctx.out.bulk(id.as_bytes());
    Ok(())
}

fn cluster_owners(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let owners = hooks(ctx)?.owners(args.arg(2));
    ctx.out.array(owners.len());
    for o in &owners {
        ctx.out.array(4);
        for f in o {
            ctx.out.bulk(f.as_bytes());
        }
    }
    Ok(())
}

fn cluster_keyslot(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let p = hooks(ctx)?.partition(args.arg(2));
    ctx.out.integer(p.into());
    Ok(())
}

fn cluster_forget(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let id = String::from_utf8_lossy(args.arg(2)).into_owned();
    hooks(ctx)?.forget(&id).map_err(err_reply)?;
    ctx.out.ok();
    Ok(())
}

fn cluster_join(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let peer = String::from_utf8_lossy(args.arg(2)).into_owned();
    let keys = ctx.store.total_keys();
    hooks(ctx)?.join(&peer, keys).map_err(err_reply)?;
    ctx.out.ok();
    Ok(())
}

fn cluster_leave(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    hooks(ctx)?.leave().map_err(err_reply)?;
    ctx.out.ok();
    Ok(())
}

/// In cluster mode the coordinator runs CLUSTER ANTI-ENTROPY before it reaches this table (it
/// waits for peers); what arrives here was queued in a transaction.
fn cluster_anti_entropy(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    hooks(ctx)?;
    Err(CmdError::Static(
        "ERR CLUSTER ANTI-ENTROPY cannot run inside a transaction",
    ))
}

/// `CLIENT CONSISTENCY ONE|QUORUM|ALL|DEFAULT` sets both levels; `CLIENT CONSISTENCY R <r> W <w>`
/// (either or both, each a level or a count) sets them apart. Replies with the levels in effect.
pub fn client_consistency(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let parse = |a: &[u8]| -> Result<Option<Quorum>, CmdError> {
        if is(a, "default") {
            return Ok(None);
        }
        Quorum::parse(&String::from_utf8_lossy(a))
            .map(Some)
            .map_err(err_reply)
    };
    let (mut read, mut write) = (ctx.client.read_quorum, ctx.client.write_quorum);
    match args.len() {
        3 => {
            let q = parse(args.arg(2))?;
            read = q;
            write = q;
        }
        n if n >= 4 && n % 2 == 0 => {
            for pair in (2..n).step_by(2) {
                let q = parse(args.arg(pair + 1))?;
                if is(args.arg(pair), "r") || is(args.arg(pair), "read") {
                    read = q;
                } else if is(args.arg(pair), "w") || is(args.arg(pair), "write") {
                    write = q;
                } else {
                    return Err(SYNTAX);
                }
            }
        }
        _ => return Err(SYNTAX),
    }
    ctx.client.read_quorum = read;
    ctx.client.write_quorum = write;
    let name = |q: Option<Quorum>| q.map_or("default".to_string(), |q| q.name());
    ctx.out.array(4);
    ctx.out.bulk(b"r");
    ctx.out.bulk(name(read).as_bytes());
    ctx.out.bulk(b"w");
    ctx.out.bulk(name(write).as_bytes());
    Ok(())
}
