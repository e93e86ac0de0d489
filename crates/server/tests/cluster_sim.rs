//! Three cluster nodes inside turmoil's deterministic simulator: the real coordinator, ring,
//! replication and membership, over a simulated network whose links and hosts the test cuts,
//! crashes and restarts at exact simulated instants (see `ringkv::sim`).
//!
//! The test body steps the simulation itself and hands commands to the nodes between steps,
//! so every duration below is simulated time. Unlike the membership simulation in
//! `crates/peer/tests/sim.rs`, a whole-node run is not bit-for-bit reproducible: a few parts
//! of a node still run outside the simulator (keyspace timestamps read the system clock, file
//! writes go through Tokio's blocking pool), which can shift timings by milliseconds.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use ringkv::sim::{run_node, NodeHandle};
use tokio::sync::oneshot;
use turmoil::{Builder, Sim};

const PEER_PORT: u16 = 16379;
/// Upper bound on any single wait, in simulated time.
const WAIT_LIMIT: Duration = Duration::from_secs(30);
/// The nodes' `cluster-request-timeout`: how long a coordinator waits for a replica.
const REQUEST_TIMEOUT: Duration = Duration::from_millis(500);

type Nodes = Arc<Mutex<HashMap<String, NodeHandle>>>;

fn name(i: usize) -> String {
    format!("node{i}")
}

/// Adds host `node{i}` running a cluster node with its data in `dir/node{i}`; every node but
/// the first joins through node1. A bounced host restarts on the same directory, so it is the
/// same node coming back.
fn add_node(
    sim: &mut Sim<'static>,
    nodes: &Nodes,
    dir: &std::path::Path,
    i: usize,
    extra: &'static [&'static str],
) {
    let nodes = nodes.clone();
    let dir = dir.join(name(i));
    sim.host(name(i), move || {
        let nodes = nodes.clone();
        let dir = dir.clone();
        async move {
            let me = turmoil::lookup(name(i));
            let mut argv: Vec<String> = [
                "--port",
                "6379",
                "--cluster-enabled",
                "yes",
                "--appendonly",
                "no",
                "--save",
                "",
            ]
            .map(String::from)
            .into();
            argv.extend([
                "--cluster-request-timeout".into(),
                REQUEST_TIMEOUT.as_millis().to_string(),
            ]);
            argv.extend(["--dir".into(), dir.display().to_string()]);
            argv.extend(extra.iter().map(|a| a.to_string()));
            argv.extend(["--cluster-announce-ip".into(), me.to_string()]);
            if i != 1 {
                let seed = turmoil::lookup(name(1));
                argv.extend(["--cluster-seeds".into(), format!("{seed}:{PEER_PORT}")]);
            }
            run_node(&argv, 0x1000 * i as u64 + 1, |handle| {
                nodes.lock().unwrap().insert(name(i), handle);
            })
            .await?;
            Ok(())
        }
    });
}

/// Runs `args` on node `i` and steps the simulation until it answers; the reply is RESP2
/// text, e.g. `+OK\r\n`.
fn exec(sim: &mut Sim<'static>, nodes: &Nodes, i: usize, args: &[&str]) -> String {
    let handle = nodes.lock().unwrap().get(&name(i)).cloned();
    let mut rx = handle
        .unwrap_or_else(|| panic!("{} is not serving", name(i)))
        .submit(args);
    let mut reply = None;
    run_until(
        sim,
        &format!("an answer to {args:?} from {}", name(i)),
        |_| {
            match rx.try_recv() {
                Ok(bytes) => reply = Some(String::from_utf8_lossy(&bytes).into_owned()),
                Err(oneshot::error::TryRecvError::Empty) => {}
                Err(oneshot::error::TryRecvError::Closed) => panic!("{} dropped {args:?}", name(i)),
            }
            reply.is_some()
        },
    );
    reply.unwrap_or_default()
}

/// Steps `sim` until `cond` holds; returns the simulated time that took.
fn run_until(
    sim: &mut Sim<'static>,
    what: &str,
    mut cond: impl FnMut(&mut Sim<'static>) -> bool,
) -> Duration {
    let start = sim.elapsed();
    while !cond(sim) {
        assert!(
            sim.elapsed() - start < WAIT_LIMIT,
            "simulated {WAIT_LIMIT:?} without: {what}"
        );
        sim.step().expect("simulation step");
    }
    sim.elapsed() - start
}

/// Whether node `i` is serving and counts `alive` live nodes in CLUSTER INFO.
fn sees_alive(sim: &mut Sim<'static>, nodes: &Nodes, i: usize, alive: usize) -> bool {
    if !nodes.lock().unwrap().contains_key(&name(i)) {
        return false;
    }
    let info = exec(sim, nodes, i, &["CLUSTER", "INFO"]);
    info.contains("cluster_state:ok") && info.contains(&format!("cluster_nodes_up:{alive}\r"))
}

/// A simulation of three nodes started with `extra` settings.
fn three_nodes(
    seed: u64,
    dir: &std::path::Path,
    extra: &'static [&'static str],
) -> (Sim<'static>, Nodes) {
    let mut sim = Builder::new()
        .rng_seed(seed)
        .tick_duration(Duration::from_millis(1))
        .simulation_duration(Duration::from_secs(600))
        .build();
    let nodes: Nodes = Arc::default();
    for i in 1..=3 {
        add_node(&mut sim, &nodes, dir, i, extra);
    }
    (sim, nodes)
}

/// An INFO cluster counter of node `i`.
fn counter(sim: &mut Sim<'static>, nodes: &Nodes, i: usize, field: &str) -> u64 {
    let info = exec(sim, nodes, i, &["INFO", "cluster"]);
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in {info}"))
}

/// The whole scenario for one seed; returns what it observed (replies and simulated
/// durations) for the log.
fn scenario(seed: u64) -> Vec<String> {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut sim, nodes) = three_nodes(seed, dir.path(), &[]);
    let mut trace = Vec::new();
    let mut note = |what: &str, value: String| trace.push(format!("{what}: {value}"));

    let took = run_until(&mut sim, "three nodes see each other", |sim| {
        (1..=3).all(|i| sees_alive(sim, &nodes, i, 3))
    });
    note("converged after", format!("{took:?}"));

    // N=3, W=2, R=2: a write through one node is read through every other.
    assert_eq!(exec(&mut sim, &nodes, 1, &["SET", "k", "v1"]), "+OK\r\n");
    for i in 1..=3 {
        assert_eq!(exec(&mut sim, &nodes, i, &["GET", "k"]), "$2\r\nv1\r\n");
    }

    // node3 crashes. Quorum reads and writes keep working at once, before failure detection
    // has noticed anything: a W=2 write does not wait out the request timeout on node3. W=3 is
    // refused with the clear error.
    sim.crash(name(3));
    nodes.lock().unwrap().remove(&name(3));
    let start = sim.elapsed();
    assert_eq!(exec(&mut sim, &nodes, 1, &["SET", "k", "v2"]), "+OK\r\n");
    let took = sim.elapsed() - start;
    assert!(
        took < REQUEST_TIMEOUT,
        "W=2 write with node3 down took {took:?}"
    );
    note("W=2 write with node3 down took", format!("{took:?}"));
    assert_eq!(exec(&mut sim, &nodes, 2, &["GET", "k"]), "$2\r\nv2\r\n");
    assert_eq!(
        exec(&mut sim, &nodes, 2, &["CLIENT", "CONSISTENCY", "ALL"]),
        "*4\r\n$1\r\nr\r\n$3\r\nall\r\n$1\r\nw\r\n$3\r\nall\r\n"
    );
    let refused = exec(&mut sim, &nodes, 2, &["SET", "k", "v3"]);
    assert_eq!(refused, "-NOQUORUM needed 3 of 3 replicas, 2 answered\r\n");
    note("W=3 with node3 down", refused.trim_end().to_string());
    let took = run_until(&mut sim, "node3 marked down", |sim| {
        sees_alive(sim, &nodes, 1, 2) && sees_alive(sim, &nodes, 2, 2)
    });
    note("node3 marked down after", format!("{took:?}"));

    // node3 restarts on its directory: the same node, back in the ring; W=3 works again.
    sim.bounce(name(3));
    let took = run_until(&mut sim, "node3 back", |sim| {
        (1..=3).all(|i| sees_alive(sim, &nodes, i, 3))
    });
    note("node3 back after", format!("{took:?}"));
    assert_eq!(exec(&mut sim, &nodes, 2, &["SET", "k", "v4"]), "+OK\r\n");
    assert_eq!(exec(&mut sim, &nodes, 3, &["GET", "k"]), "$2\r\nv4\r\n");

    // node1 is cut off from both others. It cannot reach a quorum and says so. The majority
    // side refuses too while node1 is still the key's primary in its view (a clear error,
    // never a partial write): node1 is the primary of `k` (node ids come from the seeds), and
    // failure detection takes longer than one request, so a write right after the cut always
    // meets node1 still alive in node3's view. It serves again once failure detection has marked
    // node1 down. After the link heals node1 reads what the majority wrote.
    sim.partition(name(1), name(2));
    sim.partition(name(1), name(3));
    let refused = |reply: &str| reply.starts_with("-NOQUORUM") || reply.starts_with("-CLUSTERDOWN");
    let cut_off = exec(&mut sim, &nodes, 1, &["SET", "k", "lost"]);
    assert!(refused(&cut_off), "{cut_off}");
    note("write on the minority side", cut_off.trim_end().to_string());
    let early = exec(&mut sim, &nodes, 3, &["SET", "k", "v5"]);
    assert!(refused(&early), "{early}");
    note(
        "write on the majority side at once",
        early.trim_end().to_string(),
    );
    let took = run_until(&mut sim, "the majority marks node1 down", |sim| {
        sees_alive(sim, &nodes, 2, 2) && sees_alive(sim, &nodes, 3, 2)
    });
    note(
        "node1 marked down by the majority after",
        format!("{took:?}"),
    );
    assert_eq!(exec(&mut sim, &nodes, 3, &["SET", "k", "v5"]), "+OK\r\n");
    sim.repair(name(1), name(2));
    sim.repair(name(1), name(3));
    let took = run_until(&mut sim, "the partition heals", |sim| {
        (1..=3).all(|i| sees_alive(sim, &nodes, i, 3))
    });
    note("partition healed after", format!("{took:?}"));
    assert_eq!(exec(&mut sim, &nodes, 1, &["GET", "k"]), "$2\r\nv5\r\n");
    trace
}

#[test]
fn a_simulated_cluster_survives_a_crash_a_restart_and_a_partition() {
    let trace = scenario(5);
    for line in &trace {
        eprintln!("{line}");
    }
}

#[test]
fn hints_reach_a_node_cut_off_by_a_partition_once_it_heals() {
    let dir = tempfile::tempdir().expect("tempdir");
    // Anti-entropy off: only hints can bring node3 the writes it missed.
    let (mut sim, nodes) = three_nodes(9, dir.path(), &["--cluster-anti-entropy-interval", "0"]);
    run_until(&mut sim, "three nodes see each other", |sim| {
        (1..=3).all(|i| sees_alive(sim, &nodes, i, 3))
    });
    sim.partition(name(3), name(1));
    sim.partition(name(3), name(2));
    run_until(&mut sim, "the majority marks node3 down", |sim| {
        sees_alive(sim, &nodes, 1, 2) && sees_alive(sim, &nodes, 2, 2)
    });
    for k in 0..20 {
        let key = format!("key{k}");
        assert_eq!(
            exec(&mut sim, &nodes, 1 + k % 2, &["SET", &key, "v"]),
            "+OK\r\n"
        );
    }
    let kept = counter(&mut sim, &nodes, 1, "cluster_hints_pending")
        + counter(&mut sim, &nodes, 2, "cluster_hints_pending");
    assert_eq!(kept, 20);
    sim.repair(name(3), name(1));
    sim.repair(name(3), name(2));
    let took = run_until(&mut sim, "every hint delivered", |sim| {
        (1..=2).all(|i| counter(sim, &nodes, i, "cluster_hints_pending") == 0)
    });
    eprintln!("hints delivered {took:?} after the partition healed");
    exec(&mut sim, &nodes, 3, &["CLIENT", "CONSISTENCY", "ONE"]);
    for k in 0..20 {
        let key = format!("key{k}");
        assert_eq!(
            exec(&mut sim, &nodes, 3, &["GET", &key]),
            "$1\r\nv\r\n",
            "{key}"
        );
    }
}
