//! Joining and leaving a running cluster of real processes under a continuous write load: the
//! partitions that change owners are streamed to their new owners, no acknowledged write is
//! lost, the moved fraction of keys is close to 1/nodes, and the old owners drop what moved.

mod common;
use common::cluster::Cluster;
use common::{info_value, run, wait_until, Raw, Server};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Keys written before the membership change.
const PRELOAD: usize = 3000;
/// Keys each writer cycles through (each write overwrites with a larger number).
const WRITER_KEYS: u64 = 300;
/// Upper bounds on a writer's run.
const WRITER_MAX_OPS: u64 = 200_000;
const WRITER_MAX_TIME: Duration = Duration::from_secs(120);

fn info(r: &mut Raw) -> String {
    run(r, &["INFO", "cluster"])
}

fn field(s: &Server, name: &str) -> u64 {
    let text = info(&mut s.raw());
    info_value(&text, name).unwrap_or_else(|| panic!("{name} in INFO cluster:\n{text}"))
}

/// Keys this node holds in database 0 (its own replicas, not the cluster-wide DBSIZE).
fn local_keys(s: &Server) -> u64 {
    let text = run(&mut s.raw(), &["INFO", "keyspace"]);
    text.lines()
        .find_map(|l| l.strip_prefix("db0:keys="))
        .and_then(|rest| rest.split(',').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn preload(c: &Cluster) {
    let mut r = c.raw(0);
    for chunk in (0..PRELOAD).collect::<Vec<_>>().chunks(100) {
        let mut args = vec!["MSET".to_string()];
        for i in chunk {
            args.push(format!("pre:{i}"));
            args.push(format!("v{i}"));
        }
        assert_eq!(common::run_owned(&mut r, &args), "+OK");
    }
}

/// A writer: SETs `w<id>:<k>` to increasing numbers through one node and records the last
/// acknowledged number per key (a refused write is not acknowledged, though it may have
/// landed: reads must then see at least the acknowledged number).
struct Writer {
    handle: JoinHandle<(HashMap<String, u64>, u64, u64)>,
}

fn start_writer(id: usize, host: String, port: u16, stop: Arc<AtomicBool>) -> Writer {
    let handle = std::thread::spawn(move || {
        let mut acked = HashMap::new();
        let (mut ok, mut refused) = (0u64, 0u64);
        let started = Instant::now();
        let mut r = Raw::connect(&format!("{host}:{port}"));
        let mut i = 0u64;
        while !stop.load(Ordering::Relaxed)
            && i < WRITER_MAX_OPS
            && started.elapsed() < WRITER_MAX_TIME
        {
            i += 1;
            let key = format!("w{id}:{}", i % WRITER_KEYS);
            let reply = run(&mut r, &["SET", &key, &i.to_string()]);
            if reply == "+OK" {
                acked.insert(key, i);
                ok += 1;
            } else {
                if refused < 3 {
                    eprintln!("writer {id}: {key} refused: {reply}");
                }
                refused += 1;
            }
        }
        (acked, ok, refused)
    });
    Writer { handle }
}

/// Every preloaded key and every acknowledged write, read through every node.
fn check_no_acknowledged_write_lost(c: &Cluster, nodes: &[usize], acked: &HashMap<String, u64>) {
    for (n, &i) in nodes.iter().enumerate() {
        let mut r = c.raw(i);
        for k in (0..PRELOAD).skip(n).step_by(nodes.len()) {
            assert_eq!(run(&mut r, &["GET", &format!("pre:{k}")]), format!("v{k}"));
        }
        for (key, want) in acked.iter().skip(n).step_by(nodes.len()) {
            let got: u64 = run(&mut r, &["GET", key])
                .parse()
                .unwrap_or_else(|_| panic!("{key} through node {i}: not a number"));
            assert!(
                got >= *want,
                "{key} through node {i}: {got} < acknowledged {want}"
            );
        }
    }
}

/// One writer per node `0..n`, running for half a second before this returns.
fn start_writers(c: &Cluster, n: usize) -> (Arc<AtomicBool>, Vec<Writer>) {
    let stop = Arc::new(AtomicBool::new(false));
    let writers = (0..n)
        .map(|i| start_writer(i, c.node(i).host.clone(), c.node(i).port, stop.clone()))
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    (stop, writers)
}

fn stop_writers(stop: &AtomicBool, writers: Vec<Writer>) -> HashMap<String, u64> {
    stop.store(true, Ordering::Relaxed);
    let mut all = HashMap::new();
    let (mut ok, mut refused) = (0, 0);
    for w in writers {
        let (acked, o, r) = w.handle.join().expect("writer thread");
        all.extend(acked);
        ok += o;
        refused += r;
    }
    eprintln!("writers: {ok} acknowledged, {refused} refused");
    assert!(ok > 0);
    all
}

#[test]
fn a_node_joins_under_write_load_and_takes_a_fair_share_without_losing_writes() {
    let mut c = Cluster::start(3, &[]);
    preload(&c);
    let (stop, writers) = start_writers(&c, 3);

    let started = Instant::now();
    let new = c.add_node();
    wait_until(
        "the new node to finish joining",
        Duration::from_secs(60),
        || info(&mut c.raw(new)).contains("cluster_handoff_phase:done"),
    );
    eprintln!("join took {:?}", started.elapsed());
    c.wait_converged(4);
    std::thread::sleep(Duration::from_millis(500));
    let acked = stop_writers(&stop, writers);

    // No acknowledged write is missing, through any node, the new one included.
    check_no_acknowledged_write_lost(&c, &[0, 1, 2, new], &acked);

    // The new node received about a quarter of all replicas (1/4 with 4 nodes).
    let total: u64 = run(&mut c.raw(0), &["DBSIZE"])
        .trim_start_matches(':')
        .parse()
        .expect("DBSIZE");
    assert_eq!(total as usize, PRELOAD + acked.len());
    let moved = field(c.node(new), "cluster_handoff_keys_moved");
    let replicas = 3;
    let fraction = moved as f64 / (total * replicas) as f64;
    eprintln!(
        "moved {moved} of {} key replicas: {fraction:.3} (ideal 0.25)",
        total * replicas
    );
    assert!(
        (0.15..0.35).contains(&fraction),
        "moved fraction {fraction}"
    );
    assert!(field(c.node(new), "cluster_handoff_partitions_done") > 0);
    assert_eq!(
        field(c.node(new), "cluster_handoff_partitions_done"),
        field(c.node(new), "cluster_handoff_partitions_total")
    );

    // The old owners drop what moved: N copies of every key remain in the cluster.
    wait_until(
        "old owners to drop moved keys",
        Duration::from_secs(30),
        || {
            let held: u64 = [0, 1, 2, new].iter().map(|i| local_keys(c.node(*i))).sum();
            held == total * replicas
        },
    );
    let dropped: u64 = [0, 1, 2]
        .iter()
        .map(|i| field(c.node(*i), "cluster_handoff_keys_dropped"))
        .sum();
    eprintln!("old owners dropped {dropped} keys");
    assert!(dropped > 0);
    check_no_acknowledged_write_lost(&c, &[new, 0], &acked);
}

#[test]
fn a_node_of_five_leaves_under_write_load_hands_everything_off_and_stops() {
    let c = Cluster::start(5, &[]);
    preload(&c);
    let (stop, writers) = start_writers(&c, 4);

    let leaving = 4;
    let keys_before = local_keys(c.node(leaving));
    assert!(keys_before > 0);
    assert_eq!(run(&mut c.raw(leaving), &["CLUSTER", "LEAVE"]), "+OK");
    // Leaving twice is refused while the first is under way.
    assert!(run(&mut c.raw(leaving), &["CLUSTER", "LEAVE"]).starts_with("-ERR"));
    let mut c = c;
    let mut gone = c.nodes[leaving].take().expect("running");
    let status = gone
        .wait_exit(Duration::from_secs(60))
        .expect("the leaving node stops by itself");
    assert!(status.success(), "{status:?}");
    c.wait_converged(4);
    for i in 0..4 {
        let text = run(&mut c.raw(i), &["CLUSTER", "INFO"]);
        assert!(text.contains("cluster_known_nodes:4"), "{text}");
    }
    std::thread::sleep(Duration::from_millis(500));
    let acked = stop_writers(&stop, writers);
    check_no_acknowledged_write_lost(&c, &[0, 1, 2, 3], &acked);

    // The gainers received the leaving node's replicas: about 1/5 of all.
    let total: u64 = run(&mut c.raw(0), &["DBSIZE"])
        .trim_start_matches(':')
        .parse()
        .expect("DBSIZE");
    let moved: u64 = (0..4)
        .map(|i| field(c.node(i), "cluster_handoff_keys_moved"))
        .sum();
    let fraction = moved as f64 / (total * 3) as f64;
    eprintln!(
        "moved {moved} of {} key replicas: {fraction:.3} (ideal 0.20); the leaving node held {keys_before}",
        total * 3
    );
    assert!(
        (0.10..0.30).contains(&fraction),
        "moved fraction {fraction}"
    );
    let held: u64 = (0..4).map(|i| local_keys(c.node(i))).sum();
    assert_eq!(held, total * 3);

    // A node that left does not come back by accident.
    let stderr = gone.stderr_text();
    assert!(!stderr.contains("panicked"), "{stderr}");
    let again = std::process::Command::new(common::binary())
        .args([
            "--port",
            &common::free_port().to_string(),
            "--bind",
            &gone.host,
        ])
        .arg("--dir")
        .arg(gone.dir.path())
        .args(["--cluster-enabled", "yes", "--save", ""])
        .output()
        .expect("run ringkv");
    assert!(!again.status.success());
    let text = String::from_utf8_lossy(&again.stderr);
    assert!(text.contains("left the cluster"), "{text}");
}

#[test]
fn cluster_join_adds_an_empty_standalone_node_and_refuses_a_node_with_data() {
    let c = Cluster::start(2, &[]);
    assert_eq!(run(&mut c.raw(0), &["SET", "k", "v"]), "+OK");
    // A lone cluster node with data cannot join.
    let lone = Server::start_on(
        &common::cluster::host(20),
        &common::cluster::node_args(common::free_port_on(&common::cluster::host(20)), None, &[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert_eq!(run(&mut lone.raw(), &["SET", "mine", "1"]), "+OK");
    let seed = c.peer_addr(0);
    let reply = run(&mut lone.raw(), &["CLUSTER", "JOIN", &seed]);
    assert!(reply.contains("only an empty node can join"), "{reply}");
    assert_eq!(run(&mut lone.raw(), &["DEL", "mine"]), ":1");
    // Versions of the deleted key are kept for the tombstone grace period: still not empty.
    assert!(run(&mut lone.raw(), &["CLUSTER", "JOIN", &seed]).starts_with("-ERR"));

    let empty = Server::start_on(
        &common::cluster::host(21),
        &common::cluster::node_args(common::free_port_on(&common::cluster::host(21)), None, &[])
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );
    assert!(
        run(&mut empty.raw(), &["CLUSTER", "JOIN", "nonsense"]).starts_with("-ERR cannot resolve")
    );
    assert_eq!(run(&mut empty.raw(), &["CLUSTER", "JOIN", &seed]), "+OK");
    wait_until("CLUSTER JOIN to finish", Duration::from_secs(30), || {
        info(&mut empty.raw()).contains("cluster_handoff_phase:done")
    });
    assert_eq!(run(&mut empty.raw(), &["GET", "k"]), "v");
    assert!(field(&empty, "cluster_handoff_keys_moved") >= 1);
    wait_until("three nodes up", Duration::from_secs(20), || {
        run(&mut c.raw(1), &["CLUSTER", "INFO"]).contains("cluster_nodes_up:3")
    });
}
