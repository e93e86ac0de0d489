//! Where a command runs in a cluster: on this node alone, on the replicas of one partition,
//! split across partitions, across the whole cluster, or nowhere (with the reason).
//!
//! Pure: it looks only at the command table entry, the arguments and the ring.

use bytes::Bytes;
use ringkv_cluster::Ring;
use ringkv_commands::table::flags;
use ringkv_commands::CommandSpec;
use ringkv_protocol::Args;

/// Multi-key commands that are split by partition and gathered (not atomic across keys).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Split {
    /// MGET: an array in key order.
    Mget,
    /// MSET: key value pairs, +OK.
    Mset,
    /// DEL, UNLINK, EXISTS, TOUCH: integers summed.
    Sum,
}

/// Commands answered from every node's share of the keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wide {
    Keys,
    DbSize,
    Flush,
    Scan,
    RandomKey,
    /// PUBLISH: delivered on every node (subscribers may be connected to any of them).
    Publish,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// No keys (or node-local by nature: INFO, CONFIG, CLIENT, PING, CLUSTER ...).
    Local,
    /// A blocking command (BLPOP ...) with every key in one partition: retried at the
    /// partition's primary until it finds data or times out.
    Blocking {
        keys: Vec<Bytes>,
    },
    /// Every key in one partition: coordinated by that partition's replicas.
    Keyed {
        write: bool,
        keys: Vec<Bytes>,
    },
    Split(Split),
    Wide(Wide),
    /// Keys in more than one partition for a command that needs them together.
    CrossSlot,
    /// Not available in cluster mode, with the reason.
    Refused(&'static str),
}

pub const CROSSSLOT: &str =
    "CROSSSLOT Keys in request don't hash to the same partition (use a {hash tag} to keep them together)";

/// The spec that says where a command's keys are: a container's subcommand carries them
/// (XGROUP CREATE key ..., OBJECT ENCODING key, XINFO STREAM key).
pub fn keyed_spec<'s>(spec: &'s CommandSpec, args: Args<'_>) -> &'s CommandSpec {
    match (spec.subcommands.is_empty(), args.len()) {
        (false, 2..) => ringkv_commands::table::find_subcommand(spec, args.arg(1)).unwrap_or(spec),
        _ => spec,
    }
}

pub fn route(spec: &CommandSpec, args: Args<'_>, ring: &Ring) -> Route {
    // A script's commands would each be coordinated on their own, so it could not run
    // atomically across the replicas of its keys.
    if matches!(
        spec.name,
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" | "script"
    ) {
        return Route::Refused(
            "ERR Lua scripts (EVAL, EVALSHA, SCRIPT) are not available in cluster mode: a script cannot run atomically across replicas",
        );
    }
    let spec = keyed_spec(spec, args);
    let name = spec.name;
    match name {
        "select" => {
            return if args.len() == 2 && args.arg(1) == b"0" {
                Route::Local
            } else {
                Route::Refused("ERR SELECT is not allowed in cluster mode")
            }
        }
        "move" | "swapdb" => {
            return Route::Refused("ERR MOVE and SWAPDB are not allowed in cluster mode")
        }
        // A write is acknowledged by W replicas (under appendfsync always, once it is in their
        // AOFs); this node's own AOF says nothing about writes other nodes coordinated.
        "waitaof" => {
            return Route::Refused(
                "ERR WAITAOF is not supported in cluster mode: use cluster-write-quorum and appendfsync always",
            )
        }
        // Writes other nodes coordinate keep changing this node's data.
        "pause" | "unpause" => {
            return Route::Refused("ERR CLIENT PAUSE is not supported in cluster mode")
        }
        // Replies of commands coordinated across nodes are assembled out of order.
        "reply" => return Route::Refused("ERR CLIENT REPLY is not supported in cluster mode"),
        // Reads run at the keys' replicas, for an internal client of the coordinator.
        "no-touch" => {
            return Route::Refused("ERR CLIENT NO-TOUCH is not supported in cluster mode")
        }
        "wait" => {
            return Route::Refused(
                "ERR WAIT is not supported in cluster mode: writes are acknowledged by cluster-write-quorum replicas",
            )
        }
        // Answered by the coordinator before routing (it records versions at the primary).
        "watch" => return Route::Local,
        "keys" => return Route::Wide(Wide::Keys),
        "publish" | "spublish" => return Route::Wide(Wide::Publish),
        "dbsize" => return Route::Wide(Wide::DbSize),
        "flushall" | "flushdb" => return Route::Wide(Wide::Flush),
        "scan" => return Route::Wide(Wide::Scan),
        "randomkey" => return Route::Wide(Wide::RandomKey),
        "mget" => return Route::Split(Split::Mget),
        "mset" => return Route::Split(Split::Mset),
        "del" | "unlink" | "exists" | "touch" => return Route::Split(Split::Sum),
        _ => {}
    }
    if !spec.has_keys() {
        return Route::Local;
    }
    let all: Vec<&[u8]> = args.iter().collect();
    let positions = spec.keys_of(&all);
    if positions.is_empty() {
        return Route::Local;
    }
    let first = ring.partition_of(all[positions[0]]);
    let mut keys = Vec::with_capacity(positions.len());
    for &p in &positions {
        if ring.partition_of(all[p]) != first {
            return Route::CrossSlot;
        }
        let k = Bytes::copy_from_slice(all[p]);
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
    if matches!(name, "xread" | "xreadgroup") {
        // Stream reads block only with BLOCK (the coordinator parses the options exactly: a
        // group named "block" is an ordinary read there).
        if args.iter().any(|a| a.eq_ignore_ascii_case(b"block")) {
            return Route::Blocking { keys };
        }
        return Route::Keyed {
            write: spec.has(flags::WRITE),
            keys,
        };
    }
    if spec.has(flags::BLOCKING) {
        return Route::Blocking { keys };
    }
    Route::Keyed {
        write: spec.has(flags::WRITE),
        keys,
    }
}
