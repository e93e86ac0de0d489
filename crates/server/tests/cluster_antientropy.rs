//! Merkle-tree anti-entropy: a replica that was down while keys were written, changed and
//! deleted catches up without any read of those keys, either on `CLUSTER ANTI-ENTROPY` or by
//! the background task; and the tree and key comparisons find exactly what differs.
//!
//! Nodes run with `--cluster-hinted-handoff no`, so only anti-entropy can bring the restarted
//! node up to date. Its data is checked with `CLIENT CONSISTENCY ONE`: with N=3 on 3 nodes
//! every node owns every key, so R=1 reads the local replica alone and repairs nothing.

mod common;
use bytes::Bytes;
use common::cluster::Cluster;
use common::{info_value, run, wait_until, Raw};
use ringkv::cluster::antientropy::{
    batches, diff_keys, differing_branches, differing_partitions, key_hash, transfer_len,
    Comparison, KeyDigest, Leaf, Tree, FANOUT,
};
use ringkv_cluster::{encode_versioned, NodeId, VersionVector, Versioned};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// What each string key should hold (None: deleted or never there).
type Model = BTreeMap<String, Option<String>>;

const HASH_KEY: &str = "profile";

/// The values of `keys` as node `i` holds them locally (R=1), in one pipeline.
fn local_values(c: &Cluster, i: usize, keys: &[&String]) -> Vec<String> {
    let mut r = c.raw(i);
    run(&mut r, &["CLIENT", "CONSISTENCY", "ONE"]);
    let cmds: Vec<[&[u8]; 2]> = keys.iter().map(|k| [&b"GET"[..], k.as_bytes()]).collect();
    let refs: Vec<&[&[u8]]> = cmds.iter().map(|c| &c[..]).collect();
    r.pipeline(&refs);
    keys.iter().map(|_| r.reply()).collect()
}

/// The keys of `model` whose local value at node `i` is not the expected one.
fn mismatches(c: &Cluster, i: usize, model: &Model) -> Vec<String> {
    let keys: Vec<&String> = model.keys().collect();
    let got = local_values(c, i, &keys);
    model
        .iter()
        .zip(got)
        .filter(|((_, want), got)| want.as_deref().unwrap_or("(nil)") != got)
        .map(|((k, want), got)| format!("{k}: want {want:?}, got {got}"))
        .collect()
}

fn local_hash_field(c: &Cluster, i: usize, field: &str) -> String {
    let mut r = c.raw(i);
    run(&mut r, &["CLIENT", "CONSISTENCY", "ONE"]);
    run(&mut r, &["HGET", HASH_KEY, field])
}

fn set(r: &mut Raw, model: &mut Model, key: String, value: String) {
    assert_eq!(run(r, &["SET", &key, &value]), "+OK", "SET {key}");
    model.insert(key, Some(value));
}

fn del(r: &mut Raw, model: &mut Model, key: String) {
    assert!(run(r, &["DEL", &key]).starts_with(':'), "DEL {key}");
    model.insert(key, None);
}

/// Writes about 500 changes through node 0 while node 2 is down: new keys, overwrites and
/// deletes of keys node 2 holds, keys created and deleted meanwhile, large values and a hash.
fn write_while_down(r: &mut Raw, model: &mut Model) {
    for i in 0..400 {
        set(r, model, format!("new:{i}"), format!("n{i}"));
    }
    for i in 0..40 {
        del(r, model, format!("old:{i}"));
    }
    for i in 40..80 {
        set(r, model, format!("old:{i}"), format!("changed{i}"));
    }
    for i in 0..10 {
        set(r, model, format!("brief:{i}"), "x".into());
        del(r, model, format!("brief:{i}"));
    }
    // 6 MB in all: fetched in more than one message.
    for i in 0..4 {
        set(
            r,
            model,
            format!("big:{i}"),
            i.to_string().repeat(1_500_000),
        );
    }
    assert_eq!(
        run(r, &["HSET", HASH_KEY, "name", "ada", "lang", "rust"]),
        ":2"
    );
}

fn info(c: &Cluster, i: usize) -> String {
    run(&mut c.raw(i), &["INFO", "cluster"])
}

fn field(info: &str, name: &str) -> u64 {
    info_value(info, name).unwrap_or_else(|| panic!("no {name} in {info}"))
}

/// Starts 3 nodes, writes `old:*` to all of them, kills node 2, writes 500 changes, and
/// restarts node 2 on its data (AOF) dir. Returns the cluster and the expected keys.
fn cluster_with_a_stale_replica(extra: &[&str]) -> (Cluster, Model) {
    let mut args = vec![
        "--cluster-hinted-handoff",
        "no",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ];
    args.extend_from_slice(extra);
    let mut c = Cluster::start(3, &args);
    let mut model = Model::new();
    let mut r0 = c.raw(0);
    // W = all: every replica holds these before node 2 goes down.
    run(&mut r0, &["CLIENT", "CONSISTENCY", "ALL"]);
    for i in 0..80 {
        set(&mut r0, &mut model, format!("old:{i}"), format!("o{i}"));
    }
    run(&mut r0, &["CLIENT", "CONSISTENCY", "DEFAULT"]);
    let dead = c.kill(2);
    c.wait_converged(2);
    write_while_down(&mut r0, &mut model);
    c.restart(2, dead);
    c.wait_converged(3);
    (c, model)
}

#[test]
fn cluster_anti_entropy_command_repairs_a_restarted_replica() {
    let (c, model) = cluster_with_a_stale_replica(&["--cluster-anti-entropy-interval", "0"]);
    // Node 2 came back with its own old data only.
    assert!(mismatches(&c, 2, &model).len() >= 480);
    let started = Instant::now();
    let repaired = common::int(&mut c.raw(2), &["CLUSTER", "ANTI-ENTROPY"]);
    let took = started.elapsed();
    // 400 new keys, 40 deletes and 40 overwrites of keys node 2 held, 4 large values and the
    // hash; the 10 keys created and deleted meanwhile are not copied (absent reads as deleted).
    assert_eq!(repaired, 485, "keys repaired");
    assert_eq!(mismatches(&c, 2, &model), Vec::<String>::new());
    assert_eq!(local_hash_field(&c, 2, "lang"), "rust");
    assert_eq!(local_hash_field(&c, 2, "name"), "ada");
    let i2 = info(&c, 2);
    assert_eq!(
        field(&i2, "cluster_anti_entropy_exchanges_started"),
        2,
        "{i2}"
    );
    assert_eq!(field(&i2, "cluster_anti_entropy_exchanges_completed"), 2);
    assert_eq!(field(&i2, "cluster_anti_entropy_exchanges_failed"), 0);
    assert_eq!(
        field(&i2, "cluster_anti_entropy_partitions_compared"),
        2 * 4096
    );
    assert!(field(&i2, "cluster_anti_entropy_partitions_differed") >= 400);
    assert!(field(&i2, "cluster_anti_entropy_keys_pulled") >= 485);
    assert!(field(&i2, "cluster_anti_entropy_keys_pushed") >= 40);
    assert_eq!(field(&i2, "cluster_anti_entropy_keys_repaired"), 485);
    assert_eq!(field(&i2, "cluster_anti_entropy_in_progress"), 0);
    let last_peer: String = info_value(&i2, "cluster_anti_entropy_last_peer").unwrap();
    assert_eq!(last_peer.len(), 16, "{i2}");
    // Everything agrees now: the next exchanges, from either side, move nothing.
    assert_eq!(run(&mut c.raw(2), &["CLUSTER", "ANTI-ENTROPY"]), ":0");
    assert_eq!(run(&mut c.raw(0), &["CLUSTER", "ANTI-ENTROPY"]), ":0");
    let pulled = field(&info(&c, 2), "cluster_anti_entropy_keys_pulled");
    assert_eq!(pulled, field(&i2, "cluster_anti_entropy_keys_pulled"));
    eprintln!(
        "exchanges with 2 peers over ~590 keys repaired 485 in {} ms",
        took.as_millis()
    );
}

#[test]
fn the_background_task_repairs_a_restarted_replica_without_a_command() {
    let (c, model) = cluster_with_a_stale_replica(&["--cluster-anti-entropy-interval", "1"]);
    wait_until(
        "anti-entropy to repair node 2",
        Duration::from_secs(30),
        || mismatches(&c, 2, &model).is_empty(),
    );
    assert_eq!(local_hash_field(&c, 2, "lang"), "rust");
    // Node 2 pulled, or the others pushed to it: the repairs are counted on their initiators.
    let repaired: u64 = (0..3)
        .map(|i| field(&info(&c, i), "cluster_anti_entropy_keys_repaired"))
        .sum();
    assert!(repaired >= 485, "{repaired}");
    let completed: u64 = (0..3)
        .map(|i| field(&info(&c, i), "cluster_anti_entropy_exchanges_completed"))
        .sum();
    assert!(completed >= 1);
    // Turning it off stops the exchanges.
    for i in 0..3 {
        run(
            &mut c.raw(i),
            &["CONFIG", "SET", "cluster-anti-entropy-interval", "0"],
        );
    }
    std::thread::sleep(Duration::from_millis(1500));
    let before = field(&info(&c, 2), "cluster_anti_entropy_exchanges_started");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        field(&info(&c, 2), "cluster_anti_entropy_exchanges_started"),
        before
    );
    assert_eq!(run(&mut c.raw(1), &["CLUSTER", "ANTI-ENTROPY"]), ":0");
}

#[test]
fn a_peer_that_refuses_ends_the_exchange_with_an_error_and_a_count() {
    let c = Cluster::start(
        3,
        &[
            "--cluster-hinted-handoff",
            "no",
            "--cluster-anti-entropy-interval",
            "0",
            "--cluster-replicas",
            "2",
        ],
    );
    assert_eq!(run(&mut c.raw(0), &["SET", "k", "v"]), "+OK");
    assert_eq!(run(&mut c.raw(0), &["CLUSTER", "ANTI-ENTROPY"]), ":0");
    // Node 0 alone now places 3 replicas per partition: it asks its peers about partitions
    // they do not own in their own views, and they refuse.
    assert_eq!(
        run(&mut c.raw(0), &["CONFIG", "SET", "cluster-replicas", "3"]),
        "+OK"
    );
    wait_until("node 0's new ring", Duration::from_secs(5), || {
        run(&mut c.raw(0), &["CLUSTER", "INFO"]).contains("cluster_replicas:3")
    });
    let reply = run(&mut c.raw(0), &["CLUSTER", "ANTI-ENTROPY"]);
    assert!(
        reply.starts_with("-ERR anti-entropy failed with node "),
        "{reply}"
    );
    assert!(reply.contains("does not own partition"), "{reply}");
    let i0 = info(&c, 0);
    assert_eq!(
        field(&i0, "cluster_anti_entropy_exchanges_failed"),
        2,
        "{i0}"
    );
    assert_eq!(field(&i0, "cluster_anti_entropy_in_progress"), 0);
    // Inside a transaction the command is refused (it waits for peers).
    let mut r = c.raw(1);
    assert_eq!(run(&mut r, &["MULTI"]), "+OK");
    assert_eq!(run(&mut r, &["CLUSTER", "ANTI-ENTROPY"]), "+QUEUED");
    let exec = run(&mut r, &["EXEC"]);
    assert!(exec.contains("cannot run inside a transaction"), "{exec}");
}

// ---------------------------------------------------------------------------------------------
// The tree and key comparisons, without a network

/// The ring's partition of a key (top 12 bits of its hash, as `Ring::partition_of`).
fn partition(key: &[u8]) -> u32 {
    (ringkv_cluster::key_hash(key) >> 52) as u32
}

/// A replica's keys: key → metadata bytes.
type Replica = BTreeMap<Bytes, Vec<u8>>;

fn tree_of(replica: &Replica, partitions: &[u32]) -> Tree {
    Tree::build(
        partitions.to_vec(),
        replica.iter().map(|(k, m)| (partition(k), key_hash(k, m))),
    )
}

/// A replica's keys of `partitions` with their metadata, as the initiator walks them.
fn entries_of(replica: &Replica, partitions: &[u32]) -> Vec<(Bytes, Vec<u8>)> {
    replica
        .iter()
        .filter(|(k, _)| partitions.contains(&partition(k)))
        .map(|(k, m)| (k.clone(), m.clone()))
        .collect()
}

fn digests_of(replica: &Replica, partitions: &[u32]) -> Vec<KeyDigest> {
    replica
        .iter()
        .filter(|(k, _)| partitions.contains(&partition(k)))
        .map(|(k, m)| KeyDigest::of(k, m))
        .collect()
}

/// What a peer answers for the leaves of `branches`.
fn leaves_of(tree: &Tree, branches: &[u32]) -> Vec<Leaf> {
    branches
        .iter()
        .flat_map(|b| tree.branch_leaves(*b as usize).unwrap_or(&[]).to_vec())
        .collect()
}

fn key(s: &str) -> Bytes {
    Bytes::copy_from_slice(s.as_bytes())
}

/// Encoded versions with one sibling: a value, or a delete.
fn versions(value: Option<&str>) -> Vec<u8> {
    let mut v: Versioned<Option<Bytes>> = Versioned::new();
    let value = value.map(|s| Bytes::copy_from_slice(s.as_bytes()));
    v.update(&VersionVector::new(), NodeId(1), 1, value);
    encode_versioned(&v)
}

#[test]
fn trees_and_digests_find_exactly_the_keys_that_differ() {
    let mine: Replica = (0..20_000)
        .map(|i| (key(&format!("k{i}")), format!("meta{i}").into_bytes()))
        .collect();
    let mut theirs = mine.clone();
    let changed = ["k7", "k1234", "k19999"];
    for k in changed {
        theirs.insert(key(k), b"newer".to_vec());
    }
    let missing_there = ["k42", "k4242"];
    for k in missing_there {
        theirs.remove(&key(k));
    }
    theirs.insert(key("only-there"), b"meta".to_vec());
    let all: Vec<u32> = (0..4096).collect();
    let expected: BTreeSet<u32> = changed
        .iter()
        .chain(&missing_there)
        .chain(&["only-there"])
        .map(|k| partition(k.as_bytes()))
        .collect();

    let (a, b) = (tree_of(&mine, &all), tree_of(&theirs, &all));
    assert_eq!(a.branches.len(), 4096 / FANOUT);
    assert_ne!(a.root, b.root);
    let branches = differing_branches(&a.branches, &b.branches).unwrap();
    assert!(branches.len() <= expected.len());
    let differing = differing_partitions(&a, &branches, &leaves_of(&b, &branches)).unwrap();
    let found: BTreeSet<u32> = differing.iter().map(|(p, _)| *p).collect();
    assert_eq!(found, expected);

    let parts: Vec<u32> = found.into_iter().collect();
    let diff = diff_keys(7, &entries_of(&mine, &parts), digests_of(&theirs, &parts));
    let as_set = |v: &[Bytes]| v.iter().cloned().collect::<BTreeSet<Bytes>>();
    let pull: BTreeSet<Bytes> = changed
        .iter()
        .chain(&["only-there"])
        .map(|k| key(k))
        .collect();
    let push: BTreeSet<Bytes> = changed
        .iter()
        .chain(&missing_there)
        .map(|k| key(k))
        .collect();
    assert_eq!(as_set(&diff.pull), pull);
    assert_eq!(as_set(&diff.push), push);

    // Equal replicas: equal roots; the order keys are added in does not matter.
    let reversed = Tree::build(
        all.clone(),
        mine.iter()
            .rev()
            .map(|(k, m)| (partition(k), key_hash(k, m))),
    );
    assert_eq!(reversed.root, a.root);
    assert_eq!(reversed.leaves, a.leaves);
}

#[test]
fn comparisons_cover_only_the_shared_partitions_and_refuse_bad_shapes() {
    let mut mine: Replica = (0..2000)
        .map(|i| (key(&format!("k{i}")), b"m".to_vec()))
        .collect();
    let mut theirs = mine.clone();
    // A difference outside the compared partitions is not seen.
    let in_partitions = |odd: u32| {
        (0..)
            .map(|i| format!("x{i}"))
            .find(|k| partition(k.as_bytes()) % 2 == odd)
            .unwrap()
    };
    let outside = in_partitions(1);
    theirs.insert(key(&outside), b"m".to_vec());
    let even: Vec<u32> = (0..4096).filter(|p| p % 2 == 0).collect();
    assert_eq!(tree_of(&mine, &even).root, tree_of(&theirs, &even).root);
    // Trees over different partition lists cannot be compared.
    let odd: Vec<u32> = (0..100).filter(|p| p % 2 == 1).collect();
    assert!(differing_branches(
        &tree_of(&mine, &even).branches,
        &tree_of(&mine, &odd).branches
    )
    .is_err());
    // A peer that sends the wrong number of leaves is refused.
    mine.insert(key(&in_partitions(0)), b"m".to_vec());
    let (a, b) = (tree_of(&mine, &even), tree_of(&theirs, &even));
    let branches = differing_branches(&a.branches, &b.branches).unwrap();
    let mut leaves = leaves_of(&b, &branches);
    leaves.pop();
    assert!(differing_partitions(&a, &branches, &leaves).is_err());
    assert!(differing_partitions(&a, &[1000], &[]).is_err());
}

#[test]
fn deletes_are_not_copied_where_the_key_is_absent_and_batches_are_bounded() {
    let tomb = versions(None);
    let (old, new) = (versions(Some("old")), versions(Some("new")));
    let mine = [
        (key("both"), tomb.clone()),
        (key("tomb-here"), tomb.clone()),
        (key("live"), old.clone()),
    ];
    let theirs = vec![
        KeyDigest::of(b"both", &new),
        KeyDigest::of(b"tomb-there", &tomb),
        KeyDigest::of(b"live", &old),
    ];
    assert!(theirs[1].deletes_only && !theirs[0].deletes_only);
    let diff = diff_keys(3, &mine, theirs);
    // A tombstone against a value moves both ways (the merge keeps the newer); a lone
    // tombstone does not move.
    assert_eq!(diff.pull, vec![key("both")]);
    assert_eq!(diff.push, vec![key("both")]);

    let differing: Vec<(u32, u64)> = vec![(1, 10), (2, 50), (3, 45), (4, 500), (5, 1)];
    let b = batches(&differing, 100);
    assert_eq!(b, vec![vec![1, 2], vec![3], vec![4], vec![5]]);
}

#[test]
fn pages_are_compared_as_they_arrive_and_fetches_are_sized() {
    let mut cmp = Comparison::new(11);
    for (k, m) in [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")] {
        cmp.add(k.as_bytes(), m.as_bytes());
    }
    let page = |items: &[(&str, &str)]| -> Vec<KeyDigest> {
        items
            .iter()
            .map(|(k, m)| KeyDigest::of(k.as_bytes(), m.as_bytes()))
            .collect()
    };
    // Pages in any order; "b" listed twice (as SCAN may) is compared once.
    let first = cmp.page(page(&[("c", "3"), ("b", "9"), ("x", "5")]));
    let second = cmp.page(page(&[("b", "9"), ("a", "1")]));
    let keys = |v: &[KeyDigest]| v.iter().map(|d| d.key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&first), vec![key("b"), key("x")]);
    assert!(second.is_empty());
    let send = cmp.finish();
    let sent: Vec<&str> = [("a", "1"), ("b", "2"), ("c", "3"), ("d", "4")]
        .into_iter()
        .filter(|(k, m)| send.wants(k.as_bytes(), m.as_bytes()))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(sent, ["b", "d"]);

    let d = |k: &str, size: u64| KeyDigest {
        key: key(k),
        hash: 0,
        deletes_only: false,
        size,
    };
    // At most 512 keys, and about 4 MiB unless one key alone is larger.
    let small: Vec<KeyDigest> = (0..2000).map(|i| d(&format!("k{i}"), 100)).collect();
    assert_eq!(transfer_len(&small), 512);
    let big: Vec<KeyDigest> = (0..10).map(|i| d(&format!("k{i}"), 3 << 20)).collect();
    assert_eq!(transfer_len(&big), 1);
    let huge = [d("h", 100 << 20)];
    assert_eq!(transfer_len(&huge), 1);
    assert_eq!(transfer_len(&[]), 0);
}

/// Writes `key:{from..to}` through `r` in pipelines of 1000.
fn write_keys(r: &mut Raw, from: usize, to: usize, value: &str) {
    for chunk in (from..to).collect::<Vec<_>>().chunks(1000) {
        let cmds: Vec<[String; 3]> = chunk
            .iter()
            .map(|i| ["SET".into(), format!("key:{i}"), format!("{value}-{i}")])
            .collect();
        let args: Vec<Vec<&[u8]>> = cmds
            .iter()
            .map(|c| c.iter().map(|a| a.as_bytes()).collect())
            .collect();
        let refs: Vec<&[&[u8]]> = args.iter().map(|a| &a[..]).collect();
        r.pipeline(&refs);
        for _ in chunk {
            assert_eq!(r.reply(), "+OK");
        }
    }
}

/// Exchange times for many keys (the figures docs/cluster.md quotes). Run with
/// `cargo test --release -p ringkv --test cluster_antientropy exchange_cost -- --ignored
/// --nocapture` (`AE_KEYS` keys, 100000 by default).
#[test]
#[ignore = "prints a measurement"]
fn exchange_cost() {
    let keys: usize = std::env::var("AE_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let mut c = Cluster::start(
        3,
        &[
            "--cluster-hinted-handoff",
            "no",
            "--cluster-anti-entropy-interval",
            "0",
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
        ],
    );
    let started = Instant::now();
    write_keys(&mut c.raw(0), 0, keys, "v");
    eprintln!("wrote {keys} keys in {} ms", started.elapsed().as_millis());
    // (A redis connection: no read timeout, however long the exchanges take.)
    let timed = |c: &Cluster, at: usize| {
        let mut conn = c.node(at).conn();
        let started = Instant::now();
        let repaired: i64 = redis::cmd("CLUSTER")
            .arg("ANTI-ENTROPY")
            .query(&mut conn)
            .unwrap();
        (repaired, started.elapsed().as_millis())
    };
    for _ in 0..3 {
        // Meanwhile a client pings node 0 (a peer: it walks its keys to answer) and node 2.
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let pingers: Vec<_> = [0, 2]
            .map(|i| {
                let (mut r, stop) = (c.raw(i), stop.clone());
                std::thread::spawn(move || {
                    let mut worst = Duration::ZERO;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        let t = Instant::now();
                        assert_eq!(run(&mut r, &["PING"]), "+PONG");
                        worst = worst.max(t.elapsed());
                    }
                    worst
                })
            })
            .into();
        let (repaired, ms) = timed(&c, 2);
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let worst: Vec<u128> = pingers
            .into_iter()
            .map(|p| p.join().unwrap().as_millis())
            .collect();
        assert_eq!(repaired, 0);
        eprintln!(
            "in sync: 2 exchanges over {keys} keys each in {ms} ms; slowest PING meanwhile: \
             {} ms at node 0, {} ms at node 2",
            worst[0], worst[1]
        );
    }
    // Node 2 misses writes; then node 2 pulls them, or node 0 pushes them.
    for (missed, at) in [(1, 2), (keys / 10, 2), (keys / 10, 0)] {
        let differed = field(&info(&c, at), "cluster_anti_entropy_partitions_differed");
        let dead = c.kill(2);
        c.wait_converged(2);
        let value = format!("m{missed}-{at}");
        write_keys(&mut c.raw(0), keys, keys + missed, &value);
        c.restart(2, dead);
        c.wait_converged(3);
        let (repaired, ms) = timed(&c, at);
        assert_eq!(repaired as usize, missed);
        eprintln!(
            "{missed} keys missed among {keys}, repaired by node {at}: {ms} ms \
             ({} partitions differed)",
            field(&info(&c, at), "cluster_anti_entropy_partitions_differed") - differed
        );
    }
}
