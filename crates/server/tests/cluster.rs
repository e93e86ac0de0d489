//! Cluster mode with real processes: nodes on loopback, each on its own address with its own
//! client and peer ports, talking through their gossip and RPC ports. Commands go through
//! random nodes; nodes are killed with SIGKILL and restarted.

mod common;
use common::cluster::Cluster;
use common::{run, wait_until, Raw, Server};
use std::time::Duration;

/// For tests of read repair: nothing else may bring a node that was down up to date.
const WITHOUT_HINTS_OR_ANTI_ENTROPY: &[&str] = &[
    "--cluster-hinted-handoff",
    "no",
    "--cluster-anti-entropy-interval",
    "0",
];

#[test]
fn every_family_through_random_nodes_of_three_matches_a_single_node() {
    families_match_a_single_node(3);
}

#[test]
fn every_family_through_random_nodes_of_five_matches_a_single_node() {
    families_match_a_single_node(5);
}

/// Sets the connection's read and write quorums (`CLIENT CONSISTENCY level`) and checks the
/// reply names both.
fn consistency(r: &mut Raw, level: &str) {
    let l = level.to_lowercase();
    assert_eq!(
        run(r, &["CLIENT", "CONSISTENCY", level]),
        format!("[r,{l},w,{l}]")
    );
}

fn families_match_a_single_node(n: usize) {
    let c = Cluster::start(n, &[]);
    let single = Server::start(&[]);
    let mut s = single.raw();
    let script: &[&[&str]] = &[
        &["SET", "str", "hello"],
        &["APPEND", "str", " world"],
        &["GET", "str"],
        &["STRLEN", "str"],
        &["INCRBY", "counter", "5"],
        &["INCR", "counter"],
        &["GET", "counter"],
        &["SET", "ttl", "v", "EX", "100"],
        &["TTL", "ttl"],
        &["HSET", "h", "f1", "a", "f2", "b"],
        &["HGET", "h", "f2"],
        &["HGETALL", "h"],
        &["HINCRBY", "h", "n", "3"],
        &["RPUSH", "l", "a", "b", "c"],
        &["LPUSH", "l", "z"],
        &["LRANGE", "l", "0", "-1"],
        &["LPOP", "l"],
        &["SADD", "s", "x", "y", "z"],
        &["SISMEMBER", "s", "y"],
        &["SCARD", "s"],
        &["ZADD", "z", "1", "a", "2", "b", "3", "c"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZINCRBY", "z", "10", "a"],
        &["ZRANK", "z", "a"],
        &["MSET", "m1", "1", "m2", "2", "m3", "3"],
        &["MGET", "m1", "nokey", "m2", "m3"],
        &["EXISTS", "m1", "m2", "nokey", "m1"],
        &["DEL", "m1", "m3", "nokey"],
        &["MGET", "m1", "m2", "m3"],
        &["TYPE", "h"],
        &["SET", "{t}a", "1"],
        &["RENAME", "{t}a", "{t}b"],
        &["GET", "{t}b"],
        &["SADD", "{t}s1", "a", "b"],
        &["SADD", "{t}s2", "b", "c"],
        &["SINTERSTORE", "{t}dst", "{t}s1", "{t}s2"],
        &["SMEMBERS", "{t}dst"],
        &["RPUSH", "{u}l", "3", "1", "2"],
        &["SET", "{u}w_1", "30"],
        &["SET", "{u}w_2", "10"],
        &["SORT", "{u}l"],
        &["SORT", "{u}l", "BY", "{u}w_*", "GET", "#", "GET", "{u}w_*"],
        &["SORT", "{u}l", "DESC", "STORE", "{u}sorted"],
        &["LRANGE", "{u}sorted", "0", "-1"],
        &["PFADD", "{p}h1", "a", "b", "c"],
        &["PFADD", "{p}h2", "c", "d"],
        &["PFADD", "{p}h1", "a"],
        &["PFCOUNT", "{p}h1"],
        &["PFCOUNT", "{p}h1", "{p}h2"],
        &["PFMERGE", "{p}u", "{p}h1", "{p}h2"],
        &["PFCOUNT", "{p}u"],
        &[
            "GEOADD",
            "{g}cities",
            "2.3522",
            "48.8566",
            "paris",
            "4.8357",
            "45.764",
            "lyon",
        ],
        &[
            "GEOADD",
            "{g}cities",
            "CH",
            "5.3698",
            "43.2965",
            "marseille",
            "2.35",
            "48.85",
            "paris",
        ],
        &["GEODIST", "{g}cities", "paris", "lyon", "km"],
        &["GEOPOS", "{g}cities", "lyon", "nope"],
        &["GEOHASH", "{g}cities", "marseille"],
        &[
            "GEOSEARCH",
            "{g}cities",
            "FROMLONLAT",
            "4",
            "46",
            "BYRADIUS",
            "500",
            "km",
            "DESC",
            "WITHDIST",
        ],
        &[
            "GEORADIUS_RO",
            "{g}cities",
            "4",
            "46",
            "900",
            "km",
            "COUNT",
            "2",
        ],
        &[
            "GEORADIUSBYMEMBER",
            "{g}cities",
            "lyon",
            "300",
            "km",
            "STORE",
            "{g}near",
        ],
        &["ZRANGE", "{g}near", "0", "-1"],
        &[
            "GEOSEARCHSTORE",
            "{g}far",
            "{g}cities",
            "FROMMEMBER",
            "paris",
            "BYBOX",
            "900",
            "900",
            "km",
            "STOREDIST",
        ],
        &["ZRANGE", "{g}far", "0", "-1"],
        &[
            "GEORADIUS",
            "{g}cities",
            "0",
            "0",
            "1",
            "m",
            "STORE",
            "{g}near",
        ],
        &["EXISTS", "{g}near", "{g}far"],
        &["GET", "nokey"],
        &["INCR", "str"],
        &["LPUSH", "str", "x"],
        &["DBSIZE"],
    ];
    for (i, cmd) in script.iter().enumerate() {
        let mut r = c.raw(i % n);
        let want = run(&mut s, cmd);
        let got = run(&mut r, cmd);
        assert_eq!(got, want, "{cmd:?} through node {}", i % n);
    }
    // Written through one node, read through every other.
    for i in 0..n {
        let mut r = c.raw(i);
        assert_eq!(run(&mut r, &["GET", "str"]), "hello world");
        assert_eq!(run(&mut r, &["HGET", "h", "n"]), "3");
    }
    let mut r = c.raw(1);
    let keys = run(&mut r, &["KEYS", "*"]);
    let want = run(&mut s, &["KEYS", "*"]);
    assert_eq!(common::sorted(&keys), common::sorted(&want));
    // Keys in different partitions cannot be used together, except by the split commands.
    assert!(run(&mut r, &["RENAME", "a1", "b2"]).starts_with("-CROSSSLOT"));
    assert!(run(&mut r, &["SORT", "a1", "STORE", "b2"]).starts_with("-CROSSSLOT"));
    assert!(run(&mut r, &["PFMERGE", "a1", "b2"]).starts_with("-CROSSSLOT"));
    let geo_stores: [&[&str]; 2] = [
        &[
            "GEOSEARCHSTORE",
            "a1",
            "b2",
            "FROMLONLAT",
            "1",
            "2",
            "BYRADIUS",
            "1",
            "km",
        ],
        &["GEORADIUS", "a1", "1", "2", "1", "km", "STORE", "b2"],
    ];
    for cmd in geo_stores {
        assert!(run(&mut r, cmd).starts_with("-CROSSSLOT"), "{cmd:?}");
    }
    assert!(run(&mut r, &["WAITAOF", "1", "0", "0"]).starts_with("-ERR WAITAOF is not supported"));
    assert_eq!(
        run(&mut r, &["CLIENT", "PAUSE", "1000"]),
        "-ERR CLIENT PAUSE is not supported in cluster mode"
    );
    assert_eq!(
        run(&mut r, &["CLIENT", "UNPAUSE"]),
        "-ERR CLIENT PAUSE is not supported in cluster mode"
    );
    assert_eq!(
        run(&mut r, &["CLIENT", "REPLY", "OFF"]),
        "-ERR CLIENT REPLY is not supported in cluster mode"
    );
    assert_eq!(
        run(&mut r, &["CLIENT", "NO-TOUCH", "ON"]),
        "-ERR CLIENT NO-TOUCH is not supported in cluster mode"
    );
    assert!(run(&mut r, &["LATENCY", "LATEST"]).starts_with('['));
    assert!(run(&mut r, &["WAIT", "1", "0"]).starts_with("-ERR WAIT is not supported"));
    // A script cannot run atomically across replicas: scripting is refused, key or no key.
    for cmd in [
        &["EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "a1"][..],
        &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"],
        &["EVAL_RO", "return 1", "0"],
        &[
            "EVALSHA_RO",
            "ffffffffffffffffffffffffffffffffffffffff",
            "0",
        ],
        &["SCRIPT", "LOAD", "return 1"],
    ] {
        assert!(
            run(&mut r, cmd).starts_with(
                "-ERR Lua scripts (EVAL, EVALSHA, SCRIPT) are not available in cluster mode"
            ),
            "{cmd:?}"
        );
    }
    // SORT's patterns must stay in the sorted key's partition: a hash tag guarantees it.
    for option in ["BY", "GET"] {
        assert_eq!(
            run(&mut r, &["SORT", "{u}l", option, "w_*"]),
            format!("-ERR {option} option of SORT denied in Cluster mode when keys formed by the pattern may be in different slots.")
        );
    }
    assert_eq!(
        run(&mut r, &["SELECT", "1"]),
        "-ERR SELECT is not allowed in cluster mode"
    );
    // A transaction whose keys share a hash tag runs at their primary.
    assert_eq!(run(&mut r, &["MULTI"]), "+OK");
    assert_eq!(run(&mut r, &["INCR", "{acct}x"]), "+QUEUED");
    assert_eq!(run(&mut r, &["INCRBY", "{acct}y", "2"]), "+QUEUED");
    assert_eq!(run(&mut r, &["EXEC"]), "[:1,:2]");
    assert_eq!(run(&mut c.raw(2), &["MGET", "{acct}x", "{acct}y"]), "[1,2]");
    // Cluster-wide SCAN sees every key exactly once.
    let mut conn = c.node(1).conn();
    let mut cursor = "0".to_string();
    let mut seen: Vec<String> = Vec::new();
    for _ in 0..1000 {
        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("COUNT")
            .arg(5)
            .query(&mut conn)
            .unwrap();
        seen.extend(keys);
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    seen.sort();
    let mut all = common::sorted(&run(&mut r, &["KEYS", "*"]));
    all.sort();
    assert_eq!(seen, all);
    // VGET gives non-string values as DUMP payloads, which RESTORE takes back.
    let (_, values): (String, Vec<Vec<u8>>) = redis::cmd("VGET").arg("h").query(&mut conn).unwrap();
    assert_eq!(values.len(), 1);
    let ok: String = redis::cmd("RESTORE")
        .arg("hcopy")
        .arg(0)
        .arg(&values[0])
        .query(&mut conn)
        .unwrap();
    assert_eq!(ok, "OK");
    assert_eq!(run(&mut c.raw(2), &["HGET", "hcopy", "f2"]), "b");
    // What cluster mode refuses, it refuses with a reason.
    for cmd in [&["MOVE", "str", "1"][..], &["SWAPDB", "0", "1"]] {
        let reply = run(&mut r, cmd);
        assert!(
            reply.starts_with("-ERR") && reply.contains("cluster mode"),
            "{cmd:?}: {reply}"
        );
    }
    assert_eq!(
        run(&mut r, &["CLUSTER", "KEYSLOT", "{t}a"]),
        run(&mut r, &["CLUSTER", "KEYSLOT", "{t}b"])
    );
    let myid = run(&mut c.raw(2), &["CLUSTER", "MYID"]);
    assert!(run(&mut r, &["CLUSTER", "NODES"]).contains(&myid));
    assert!(run(&mut r, &["CLUSTER", "FORGET", &myid]).contains("alive"));
    // Only a lone, empty node can join a cluster.
    let join = run(&mut r, &["CLUSTER", "JOIN", "127.0.0.1:1"]);
    assert!(
        join.starts_with(&format!(
            "-ERR this node is already in a cluster of {n} nodes"
        )),
        "{join}"
    );
    assert_eq!(run(&mut r, &["FLUSHALL"]), "+OK");
    assert_eq!(run(&mut c.raw(0), &["DBSIZE"]), ":0");
}

#[test]
fn concurrent_versions_become_siblings_and_vset_resolves_them() {
    let c = Cluster::start(3, &[]);
    let vget = |i: usize| -> (String, Vec<String>) {
        redis::cmd("VGET")
            .arg("doc")
            .query(&mut c.node(i).conn())
            .unwrap()
    };
    let mut r0 = c.raw(0);
    assert_eq!(run(&mut r0, &["SET", "doc", "v0"]), "+OK");
    let (ctx, values) = vget(0);
    assert_eq!(values, ["v0"]);
    // Two writers that both read v0 write through different coordinators.
    assert_eq!(run(&mut c.raw(1), &["VSET", "doc", &ctx, "left"]), "+OK");
    assert_eq!(run(&mut c.raw(2), &["VSET", "doc", &ctx, "right"]), "+OK");
    for i in 0..3 {
        let (_, mut values) = vget(i);
        values.sort();
        assert_eq!(values, ["left", "right"], "node {i}");
        // GET picks one deterministically, the same everywhere.
        let g = run(&mut c.raw(i), &["GET", "doc"]);
        assert!(g == "left" || g == "right");
        assert_eq!(g, run(&mut c.raw(0), &["GET", "doc"]));
    }
    // A client that read both resolves them with the merged context.
    let (both, _) = vget(1);
    assert_eq!(run(&mut c.raw(2), &["VSET", "doc", &both, "merged"]), "+OK");
    for i in 0..3 {
        assert_eq!(vget(i).1, ["merged"]);
        assert_eq!(run(&mut c.raw(i), &["GET", "doc"]), "merged");
    }
    assert_eq!(
        run(&mut r0, &["VSET", "doc", "zz", "x"]),
        "-ERR invalid version context"
    );
    let info = run(&mut r0, &["INFO", "cluster"]);
    assert!(info.contains("cluster_max_siblings:16"), "{info}");
}

#[test]
fn incr_from_many_clients_through_every_node_counts_exactly() {
    let c = Cluster::start(3, &[]);
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let addr = c.node(t % 3).addr();
            std::thread::spawn(move || {
                let client = redis::Client::open(format!("redis://{addr}")).unwrap();
                let mut conn = client.get_connection().unwrap();
                for _ in 0..200 {
                    let _: i64 = redis::cmd("INCR").arg("hits").query(&mut conn).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    for i in 0..3 {
        assert_eq!(run(&mut c.raw(i), &["GET", "hits"]), "1200");
    }
}

#[test]
fn with_one_node_down_quorum_writes_succeed_and_all_writes_fail_clearly() {
    // Hints and anti-entropy off: the node that was down catches up by read repair here.
    let mut c = Cluster::start(3, WITHOUT_HINTS_OR_ANTI_ENTROPY);
    let mut r = c.raw(0);
    for i in 0..50 {
        assert_eq!(
            run(&mut r, &["SET", &format!("k{i}"), &format!("v{i}")]),
            "+OK"
        );
    }
    let dead = c.kill(2);
    c.wait_converged(2);
    // N=3, W=2, R=2: reads and writes keep working through both survivors.
    for i in 0..50 {
        let node = i % 2;
        assert_eq!(
            run(&mut c.raw(node), &["GET", &format!("k{i}")]),
            format!("v{i}")
        );
        assert_eq!(
            run(
                &mut c.raw(node),
                &["SET", &format!("k{i}"), &format!("w{i}")]
            ),
            "+OK"
        );
    }
    // W=3 cannot be met: a clear error, per connection or for the node.
    let mut r1 = c.raw(1);
    consistency(&mut r1, "ALL");
    assert_eq!(
        run(&mut r1, &["SET", "q1", "x"]),
        "-NOQUORUM needed 3 of 3 replicas, 2 answered"
    );
    consistency(&mut r1, "DEFAULT");
    assert_eq!(
        run(
            &mut c.raw(0),
            &["CONFIG", "SET", "cluster-write-quorum", "all"]
        ),
        "+OK"
    );
    // (Not acknowledged does not mean not written: q1 and q2 may exist where they arrived.)
    assert!(run(&mut c.raw(0), &["SET", "q2", "x"]).starts_with("-NOQUORUM needed 3 of 3"));
    assert_eq!(
        run(
            &mut c.raw(0),
            &["CONFIG", "SET", "cluster-write-quorum", "quorum"]
        ),
        "+OK"
    );
    let nodes = run(&mut c.raw(0), &["CLUSTER", "NODES"]);
    assert!(nodes.contains("down"), "{nodes}");
    // The node comes back empty (no persistence in this test); reads through it merge in what
    // the others have.
    c.restart(2, dead);
    c.wait_converged(3);
    for i in 0..50 {
        assert_eq!(
            run(&mut c.raw(2), &["GET", &format!("k{i}")]),
            format!("w{i}"),
            "k{i}"
        );
    }
    let info = run(&mut c.raw(2), &["INFO", "cluster"]);
    let merged: u64 = common::info_value(&info, "cluster_merged_on_read").unwrap();
    assert!(merged > 0, "{info}");
}

#[test]
fn acknowledged_writes_are_read_back_through_every_node() {
    // R + W > N: whatever node answers a read, an acknowledged write is in it.
    let c = Cluster::start(3, &[]);
    for i in 0..100 {
        let key = format!("key:{i}");
        assert_eq!(
            run(&mut c.raw(i % 3), &["SET", &key, &i.to_string()]),
            "+OK"
        );
        for n in 0..3 {
            assert_eq!(run(&mut c.raw(n), &["GET", &key]), i.to_string());
        }
    }
    let owners = run(&mut c.raw(0), &["CLUSTER", "OWNERS", "key:1"]);
    assert!(
        owners.contains("primary") && owners.contains("replica"),
        "{owners}"
    );
}

#[test]
fn a_replica_keeps_replicated_values_and_versions_in_its_aof() {
    let mut c = Cluster::start(3, &["--appendonly", "yes", "--appendfsync", "always"]);
    let mut r0 = c.raw(0);
    // W = all: a write is acknowledged only once every replica has it in its own log, so a
    // replica can be killed the moment the last reply arrives.
    consistency(&mut r0, "ALL");
    assert_eq!(run(&mut r0, &["SET", "plain", "v"]), "+OK");
    assert_eq!(run(&mut r0, &["HSET", "h", "f", "1", "g", "2"]), ":2");
    assert_eq!(run(&mut r0, &["SET", "ttl", "t", "EX", "1000"]), "+OK");
    assert_eq!(run(&mut r0, &["SET", "gone", "x"]), "+OK");
    assert_eq!(run(&mut r0, &["DEL", "gone"]), ":1");
    let versions = |c: &Cluster, i: usize| -> (String, Vec<String>) {
        let mut conn = c.node(i).conn();
        let _: redis::Value = redis::cmd("CLIENT")
            .arg("CONSISTENCY")
            .arg("ONE")
            .query(&mut conn)
            .unwrap();
        redis::cmd("VGET").arg("plain").query(&mut conn).unwrap()
    };
    let before = versions(&c, 0);
    c.restart_node(2);
    c.wait_converged(3);
    // Read with R = 1 at node 2: only its own data (loaded from its AOF) answers.
    let mut r2 = c.raw(2);
    consistency(&mut r2, "ONE");
    assert_eq!(versions(&c, 2), before);
    assert_eq!(run(&mut r2, &["HGET", "h", "g"]), "2");
    let ttl = common::int(&mut r2, &["TTL", "ttl"]);
    assert!(ttl > 900 && ttl <= 1000, "{ttl}");
    assert_eq!(run(&mut r2, &["EXISTS", "gone"]), ":0");
}

#[test]
fn a_stale_replica_cannot_bring_a_deleted_key_back_and_is_repaired_on_read() {
    let mut args = vec!["--appendonly", "yes", "--appendfsync", "always"];
    args.extend_from_slice(WITHOUT_HINTS_OR_ANTI_ENTROPY);
    let mut c = Cluster::start(3, &args);
    let mut r0 = c.raw(0);
    consistency(&mut r0, "ALL");
    assert_eq!(run(&mut r0, &["SET", "zombie", "alive"]), "+OK");
    let dead = c.kill(2);
    c.wait_converged(2);
    consistency(&mut r0, "DEFAULT");
    assert_eq!(run(&mut r0, &["DEL", "zombie"]), ":1");
    c.restart(2, dead);
    c.wait_converged(3);
    // Node 2 still holds the old value (loaded from its own AOF) ...
    let local = |c: &Cluster| {
        let mut r = c.raw(2);
        run(&mut r, &["CLIENT", "CONSISTENCY", "ONE"]);
        run(&mut r, &["GET", "zombie"])
    };
    assert_eq!(local(&c), "alive");
    // ... but a quorum read sees the tombstone dominate it, and repairs node 2.
    consistency(&mut r0, "ALL");
    assert_eq!(run(&mut r0, &["GET", "zombie"]), "(nil)");
    let info = run(&mut r0, &["INFO", "cluster"]);
    let repairs: u64 = common::info_value(&info, "cluster_read_repairs").unwrap();
    assert!(repairs > 0, "{info}");
    wait_until("read repair of node 2", Duration::from_secs(10), || {
        local(&c) == "(nil)"
    });
}

#[test]
fn pipelined_commands_overlap_across_partitions_but_answer_in_order() {
    let c = Cluster::start(3, &[]);
    let mut r = c.raw(1);
    let n = 300;
    let owned: Vec<Vec<Vec<u8>>> = (0..n)
        .flat_map(|i| {
            [
                vec![
                    b"SET".to_vec(),
                    format!("p{i}").into_bytes(),
                    i.to_string().into_bytes(),
                ],
                vec![b"INCR".to_vec(), b"counter".to_vec()],
                vec![b"GET".to_vec(), format!("p{i}").into_bytes()],
                vec![b"CLIENT".to_vec(), b"ID".to_vec()],
            ]
        })
        .collect();
    let cmds: Vec<Vec<&[u8]>> = owned
        .iter()
        .map(|c| c.iter().map(Vec::as_slice).collect())
        .collect();
    let refs: Vec<&[&[u8]]> = cmds.iter().map(Vec::as_slice).collect();
    r.pipeline(&refs);
    let mut id = None;
    for i in 0..n {
        assert_eq!(r.reply(), "+OK", "SET p{i}");
        assert_eq!(r.reply(), format!(":{}", i + 1), "INCR number {i}");
        assert_eq!(r.reply(), i.to_string(), "GET p{i}");
        let this = r.reply();
        assert_eq!(id.get_or_insert_with(|| this.clone()), &this);
    }
    assert_eq!(run(&mut c.raw(2), &["GET", "counter"]), n.to_string());
}

#[test]
fn watch_aborts_a_transaction_when_any_node_changed_a_watched_key() {
    let c = Cluster::start(3, &[]);
    let mut a = c.raw(0);
    assert_eq!(run(&mut c.raw(1), &["SET", "{w}k", "1"]), "+OK");
    // Changed through another node after WATCH: EXEC runs nothing.
    assert_eq!(run(&mut a, &["WATCH", "{w}k", "{w}absent"]), "+OK");
    assert_eq!(run(&mut c.raw(2), &["SET", "{w}k", "2"]), "+OK");
    assert_eq!(run(&mut a, &["MULTI"]), "+OK");
    assert_eq!(run(&mut a, &["SET", "{w}k", "mine"]), "+QUEUED");
    // A null array, as Redis answers an EXEC that a WATCH aborted.
    a.cmd(&[b"EXEC"]);
    assert_eq!(a.line(), "*-1");
    assert_eq!(run(&mut c.raw(1), &["GET", "{w}k"]), "2");
    // A key created elsewhere after WATCH counts as changed too.
    assert_eq!(run(&mut a, &["WATCH", "{w}new"]), "+OK");
    assert_eq!(run(&mut c.raw(1), &["SET", "{w}new", "x"]), "+OK");
    assert_eq!(run(&mut a, &["MULTI"]), "+OK");
    assert_eq!(run(&mut a, &["DEL", "{w}new"]), "+QUEUED");
    assert_eq!(run(&mut a, &["EXEC"]), "(nil)");
    assert_eq!(run(&mut c.raw(2), &["GET", "{w}new"]), "x");
    // Untouched: the transaction runs, and the watch ends with EXEC.
    assert_eq!(run(&mut a, &["WATCH", "{w}k"]), "+OK");
    assert_eq!(run(&mut a, &["MULTI"]), "+OK");
    assert_eq!(run(&mut a, &["INCR", "{w}n"]), "+QUEUED");
    assert_eq!(run(&mut a, &["SET", "{w}k", "3"]), "+QUEUED");
    assert_eq!(run(&mut a, &["EXEC"]), "[:1,+OK]");
    assert_eq!(run(&mut c.raw(2), &["GET", "{w}k"]), "3");
    // UNWATCH forgets the watched keys.
    assert_eq!(run(&mut a, &["WATCH", "{w}k"]), "+OK");
    assert_eq!(run(&mut c.raw(1), &["SET", "{w}k", "4"]), "+OK");
    assert_eq!(run(&mut a, &["UNWATCH"]), "+OK");
    assert_eq!(run(&mut a, &["MULTI"]), "+OK");
    assert_eq!(run(&mut a, &["SET", "{w}k", "5"]), "+QUEUED");
    assert_eq!(run(&mut a, &["EXEC"]), "[+OK]");
    // A transaction without keys is guarded by its watched keys, whichever node coordinates.
    for i in 0..3 {
        let mut r = c.raw(i);
        assert_eq!(run(&mut r, &["WATCH", "{w}k"]), "+OK");
        assert_eq!(run(&mut r, &["MULTI"]), "+OK");
        assert_eq!(run(&mut r, &["PING"]), "+QUEUED");
        assert_eq!(run(&mut r, &["EXEC"]), "[+PONG]", "through node {i}");
        assert_eq!(run(&mut r, &["WATCH", "{w}k"]), "+OK");
        assert_eq!(
            run(&mut c.raw((i + 1) % 3), &["SET", "{w}k", &i.to_string()]),
            "+OK"
        );
        assert_eq!(run(&mut r, &["MULTI"]), "+OK");
        assert_eq!(run(&mut r, &["PING"]), "+QUEUED");
        assert_eq!(run(&mut r, &["EXEC"]), "(nil)", "through node {i}");
    }
    // Watched keys and the transaction must share a partition.
    let (k1, k2) = (0..)
        .map(|i| (format!("a{i}"), format!("b{i}")))
        .find(|(x, y)| {
            run(&mut c.raw(0), &["CLUSTER", "KEYSLOT", x])
                != run(&mut c.raw(0), &["CLUSTER", "KEYSLOT", y])
        })
        .unwrap();
    assert!(run(&mut a, &["WATCH", &k1, &k2]).starts_with("-CROSSSLOT"));
    assert_eq!(run(&mut a, &["WATCH", &k1]), "+OK");
    assert_eq!(run(&mut a, &["MULTI"]), "+OK");
    assert_eq!(run(&mut a, &["SET", &k2, "v"]), "+QUEUED");
    assert!(run(&mut a, &["EXEC"]).starts_with("-CROSSSLOT"));
    // Inside MULTI, WATCH is refused as Redis refuses it.
    assert_eq!(run(&mut a, &["MULTI"]), "+OK");
    assert!(run(&mut a, &["WATCH", "{w}k"]).starts_with("-ERR WATCH inside MULTI"));
    assert_eq!(run(&mut a, &["DISCARD"]), "+OK");
}

#[test]
fn blocking_pops_wait_for_pushes_through_other_nodes() {
    let c = Cluster::start(3, &[]);
    // Data already there: answered at once.
    assert_eq!(run(&mut c.raw(1), &["RPUSH", "{b}q", "a"]), ":1");
    assert_eq!(
        run(&mut c.raw(0), &["BLPOP", "{b}none", "{b}q", "1"]),
        "[{b}q,a]"
    );
    // Several keys must share a partition, as for any multi-key command.
    assert!(run(&mut c.raw(0), &["BLPOP", "a1", "b2", "1"]).starts_with("-CROSSSLOT"));
    // Nothing comes: a null array after the timeout.
    let started = std::time::Instant::now();
    let mut r = c.raw(0);
    r.cmd(&[b"BLPOP", b"q", b"0.3"]);
    assert_eq!(r.line(), "*-1");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(3),
        "{waited:?}"
    );
    assert!(run(&mut r, &["BLPOP", "q", "-1"]).starts_with("-ERR timeout is negative"));

    // Four clients blocked through different nodes; four pushes through another node: each
    // client gets exactly one element.
    let waiters: Vec<_> = (0..4)
        .map(|i| {
            let addr = c.node(i % 3).addr();
            std::thread::spawn(move || {
                let mut r = common::Raw::connect(&addr);
                run(&mut r, &["BRPOP", "jobs", "10"])
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let pushed_at = std::time::Instant::now();
    for j in 0..4 {
        let len = run(&mut c.raw(2), &["LPUSH", "jobs", &format!("job{j}")]);
        assert!(len.starts_with(':'), "{len}");
    }
    let mut got: Vec<String> = waiters.into_iter().map(|w| w.join().unwrap()).collect();
    eprintln!(
        "blocked clients served {:?} after the pushes",
        pushed_at.elapsed()
    );
    got.sort();
    assert_eq!(
        got,
        ["[jobs,job0]", "[jobs,job1]", "[jobs,job2]", "[jobs,job3]"]
    );
    assert_eq!(run(&mut c.raw(1), &["LLEN", "jobs"]), ":0");

    // BLMOVE between keys of one partition; the moved element is replicated like any write.
    let waiter = {
        let addr = c.node(1).addr();
        std::thread::spawn(move || {
            let mut r = common::Raw::connect(&addr);
            run(
                &mut r,
                &["BLMOVE", "{q}src", "{q}dst", "LEFT", "RIGHT", "10"],
            )
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(run(&mut c.raw(0), &["RPUSH", "{q}src", "v"]), ":1");
    assert_eq!(waiter.join().unwrap(), "v");
    assert_eq!(run(&mut c.raw(2), &["LRANGE", "{q}dst", "0", "-1"]), "[v]");
    // Sorted sets too, and keys in different partitions are refused.
    assert_eq!(
        run(&mut c.raw(2), &["ZADD", "zq", "2", "b", "1", "a"]),
        ":2"
    );
    assert_eq!(run(&mut c.raw(0), &["BZPOPMIN", "zq", "1"]), "[zq,a,1]");
    assert!(
        run(&mut c.raw(0), &["BLMOVE", "a1", "b2", "LEFT", "LEFT", "1"]).starts_with("-CROSSSLOT")
    );
}

#[test]
fn publish_reaches_subscribers_on_every_node() {
    let c = Cluster::start(3, &[]);
    let mut subs: Vec<common::Raw> = [0, 2, 2].iter().map(|i| c.raw(*i)).collect();
    for s in subs.iter_mut() {
        assert_eq!(run(s, &["SUBSCRIBE", "news"]), "[subscribe,news,:1]");
    }
    for n in 0..3 {
        let msg = format!("m{n}");
        assert_eq!(run(&mut c.raw(1), &["PUBLISH", "news", &msg]), ":3");
    }
    for s in subs.iter_mut() {
        for n in 0..3 {
            assert_eq!(s.reply(), format!("[message,news,m{n}]"));
        }
    }
    assert_eq!(run(&mut c.raw(0), &["PUBLISH", "nobody", "x"]), ":0");
    // Shard channels too (SPUBLISH reaches every node's shard subscribers).
    let mut shard = c.raw(2);
    assert_eq!(
        run(&mut shard, &["SSUBSCRIBE", "orders"]),
        "[ssubscribe,orders,:1]"
    );
    assert_eq!(run(&mut c.raw(0), &["SPUBLISH", "orders", "o1"]), ":1");
    assert_eq!(shard.reply(), "[smessage,orders,o1]");
    assert_eq!(run(&mut c.raw(1), &["PUBLISH", "orders", "x"]), ":0");
}

/// A stream used as a queue through every node: entries, the group and its pending entries are
/// replicated (XGROUP is a container command: its subcommand's key routes it), reads over two
/// partitions are refused as for any multi-key command, and blocked readers on one node are
/// woken by entries added through another.
#[test]
fn a_stream_queue_works_through_every_node() {
    let c = Cluster::start(3, &[]);
    let mut r: Vec<Raw> = (0..3).map(|i| c.raw(i)).collect();
    for (i, id) in ["1-0", "2-0", "3-0"].iter().enumerate() {
        assert_eq!(run(&mut r[i], &["XADD", "q", id, "n", id]), format!("{id}"));
    }
    assert_eq!(run(&mut r[1], &["XGROUP", "CREATE", "q", "g", "0"]), "+OK");
    assert_eq!(
        run(
            &mut r[2],
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c1",
                "COUNT",
                "2",
                "STREAMS",
                "q",
                ">"
            ]
        ),
        "[[q,[[1-0,[n,1-0]],[2-0,[n,2-0]]]]]"
    );
    assert_eq!(
        run(&mut r[0], &["XPENDING", "q", "g"]),
        "[:2,1-0,2-0,[[c1,2]]]"
    );
    assert_eq!(run(&mut r[1], &["XACK", "q", "g", "1-0"]), ":1");
    for r in r.iter_mut() {
        assert_eq!(run(r, &["XPENDING", "q", "g"]), "[:1,2-0,2-0,[[c1,1]]]");
        assert_eq!(run(r, &["XLEN", "q"]), ":3");
    }
    assert_eq!(
        run(
            &mut r[0],
            &["XREADGROUP", "GROUP", "g", "c2", "STREAMS", "q", ">"]
        ),
        "[[q,[[3-0,[n,3-0]]]]]"
    );
    assert!(
        run(&mut r[0], &["XREAD", "STREAMS", "q", "other", "0", "0"]).starts_with("-CROSSSLOT")
    );
    // BLOCK with data: answered at once.
    assert_eq!(
        run(&mut r[2], &["XREAD", "BLOCK", "10", "STREAMS", "q", "2-0"]),
        "[[q,[[3-0,[n,3-0]]]]]"
    );
    // Nothing new before the timeout: a null reply after it.
    let started = std::time::Instant::now();
    assert_eq!(
        run(&mut r[2], &["XREAD", "BLOCK", "300", "STREAMS", "q", "$"]),
        "(nil)"
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(
        run(
            &mut r[1],
            &[
                "XREADGROUP",
                "GROUP",
                "g",
                "c3",
                "BLOCK",
                "100",
                "STREAMS",
                "q",
                ">"
            ]
        ),
        "(nil)"
    );
    // Readers blocked on nodes 1 and 2 (`$` resolved when they started, a group reader, and
    // a reader of a stream that does not exist yet) get what node 0 adds later.
    let readers: Vec<std::thread::JoinHandle<String>> = [
        (1, vec!["XREAD", "BLOCK", "10000", "STREAMS", "q", "$"]),
        (
            2,
            vec![
                "XREADGROUP",
                "GROUP",
                "g",
                "c4",
                "BLOCK",
                "0",
                "STREAMS",
                "q",
                ">",
            ],
        ),
        (2, vec!["XREAD", "BLOCK", "10000", "STREAMS", "{q}new", "$"]),
    ]
    .into_iter()
    .map(|(node, args)| {
        let mut conn = c.raw(node);
        std::thread::spawn(move || run(&mut conn, &args))
    })
    .collect();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(run(&mut r[0], &["XADD", "q", "4-0", "n", "4"]), "4-0");
    assert_eq!(run(&mut r[0], &["XADD", "{q}new", "1-0", "a", "b"]), "1-0");
    let got: Vec<String> = readers.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(
        got,
        [
            "[[q,[[4-0,[n,4]]]]]",
            "[[q,[[4-0,[n,4]]]]]",
            "[[{q}new,[[1-0,[a,b]]]]]"
        ]
    );
    let pending = run(&mut r[0], &["XPENDING", "q", "g", "-", "+", "10", "c4"]);
    assert!(
        pending.starts_with("[[4-0,c4,") && pending.ends_with(",:1]]"),
        "{pending}"
    );
    // A group reader blocked through node 1 whose stream is deleted through node 0 is told so,
    // as on one node; one whose group is destroyed gets -NOGROUP.
    for (key, end) in [("gone", "DEL"), ("kept", "XGROUP")] {
        let create = ["XGROUP", "CREATE", key, "g", "$", "MKSTREAM"];
        assert_eq!(run(&mut r[0], &create), "+OK");
        let mut conn = c.raw(1);
        let read = [
            "XREADGROUP",
            "GROUP",
            "g",
            "c",
            "BLOCK",
            "0",
            "STREAMS",
            key,
            ">",
        ];
        let reader = std::thread::spawn(move || run(&mut conn, &read));
        std::thread::sleep(Duration::from_millis(300));
        let ended = match end {
            "DEL" => run(&mut r[0], &["DEL", key]),
            _ => run(&mut r[0], &["XGROUP", "DESTROY", key, "g"]),
        };
        assert_eq!(ended, ":1");
        let got = reader.join().unwrap();
        let want = match end {
            "DEL" => "-UNBLOCKED the stream key no longer exists",
            _ => "-NOGROUP",
        };
        assert!(got.starts_with(want), "{key}: {got}");
    }
}
