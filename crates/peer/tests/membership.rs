//! Membership over real loopback UDP sockets, several nodes in one process:
//! joining through a seed, metadata changes, crash detection, restarts and
//! graceful leaves.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use ringkv_peer::{Member, Membership, MembershipConfig, NodeMeta, NodeState, WorkerClaim};

/// Upper bound on any single wait in these tests.
const WAIT_LIMIT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(20);

fn meta(id: u64) -> NodeMeta {
    let any: SocketAddr = "127.0.0.1:0".parse().unwrap();
    NodeMeta {
        id,
        client_addr: "127.0.0.1:6379".parse().unwrap(),
        peer_addr: any,
        zone: format!("zone-{}", id % 2),
        weight: 100,
        state: NodeState::Up,
        id_worker: None,
    }
}

fn config(id: u64) -> MembershipConfig {
    MembershipConfig {
        seed: id,
        ..MembershipConfig::default()
    }
}

async fn start(id: u64, seeds: Vec<SocketAddr>) -> Membership {
    Membership::start(meta(id), "127.0.0.1:0".parse().unwrap(), seeds, config(id))
        .await
        .unwrap()
}

/// Starts a node on a fixed port, retrying while the previous socket on that
/// port is still being released.
async fn start_at(id: u64, addr: SocketAddr, seeds: Vec<SocketAddr>) -> Membership {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let mut m = meta(id);
        m.peer_addr = addr;
        match Membership::start(m, addr, seeds.clone(), config(id)).await {
            Ok(node) => return node,
            Err(e) if Instant::now() < deadline => {
                eprintln!("rebind {addr}: {e}");
                tokio::time::sleep(POLL_INTERVAL).await;
            }
            Err(e) => panic!("could not rebind {addr}: {e}"),
        }
    }
}

/// Polls `cond` until it holds; returns how long that took, or panics with
/// `what` after `WAIT_LIMIT`.
async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !cond() {
        assert!(
            started.elapsed() < WAIT_LIMIT,
            "timed out waiting for: {what}"
        );
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    started.elapsed()
}

fn find(node: &Membership, id: u64) -> Option<Member> {
    node.members().into_iter().find(|m| m.meta.id == id)
}

fn alive_ids(node: &Membership) -> Vec<u64> {
    node.members()
        .into_iter()
        .filter(|m| m.alive)
        .map(|m| m.meta.id)
        .collect()
}

async fn shutdown_all(nodes: impl IntoIterator<Item = Membership>) {
    for n in nodes {
        n.shutdown().await;
    }
}

async fn three_nodes() -> (Membership, Membership, Membership, Duration) {
    let a = start(1, vec![]).await;
    let seed = a.local().peer_addr;
    let b = start(2, vec![seed]).await;
    let c = start(3, vec![seed]).await;
    let took = wait_for("three nodes see each other", || {
        [&a, &b, &c].iter().all(|n| alive_ids(n) == vec![1, 2, 3])
    })
    .await;
    (a, b, c, took)
}

#[tokio::test]
async fn nodes_converge_and_see_metadata_changes() {
    let (a, b, c, took) = three_nodes().await;
    eprintln!("3 nodes converged in {took:?}");
    let mut changes = a.subscribe();
    assert!(
        *changes.borrow_and_update() > 0,
        "joins bump the generation"
    );

    // Everybody sees the others' addresses and zone as declared.
    let seen = find(&a, 3).unwrap();
    assert_eq!(seen.meta, c.local());
    assert_eq!(seen.meta.zone, "zone-1");

    let started = Instant::now();
    let claim = WorkerClaim {
        datacenter: 1,
        worker: 30,
        configured: false,
        settled: true,
    };
    b.update_local(|m| {
        m.state = NodeState::Leaving;
        m.weight = 7;
        m.id_worker = Some(claim);
    });
    assert_eq!(b.local().state, NodeState::Leaving);
    let took = wait_for("meta change reaches the others", || {
        [&a, &c].iter().all(|n| {
            find(n, 2).is_some_and(|m| {
                m.alive
                    && m.meta.state == NodeState::Leaving
                    && m.meta.weight == 7
                    && m.meta.id_worker == Some(claim)
            })
        })
    })
    .await;
    eprintln!("meta change seen by all in {took:?}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "meta change took {took:?}"
    );
    tokio::time::timeout(Duration::from_secs(1), changes.changed())
        .await
        .expect("subscribers are told")
        .unwrap();

    // A second change right after the first still lands everywhere.
    b.update_local(|m| m.zone = "zone-9".into());
    wait_for("second meta change", || {
        [&a, &c]
            .iter()
            .all(|n| find(n, 2).is_some_and(|m| m.meta.zone == "zone-9" && m.alive))
    })
    .await;

    // The changed node is never reported down by the change itself.
    assert!(alive_ids(&a) == vec![1, 2, 3] && alive_ids(&c) == vec![1, 2, 3]);
    wait_for("probing runs", || a.stats().probes > 0).await;
    let stats = a.stats();
    eprintln!("node 1 stats: {stats:?}");
    assert_eq!(stats.members_up, 2);
    assert_eq!(stats.members_down, 0);
    assert!(stats.packets_sent > 0 && stats.packets_received > 0);
    shutdown_all([a, b, c]).await;
}

#[tokio::test]
async fn crashed_node_is_marked_down_and_comes_back_on_restart() {
    let (a, b, c, _) = three_nodes().await;
    let c_addr = c.local().peer_addr;
    let seed = a.local().peer_addr;

    // Crash: drop without leaving.
    drop(c);
    let took = wait_for("crashed node marked down", || {
        [&a, &b]
            .iter()
            .all(|n| find(n, 3).is_some_and(|m| !m.alive))
    })
    .await;
    eprintln!("crashed node declared down in {took:?}");
    assert!(
        took < Duration::from_secs(6),
        "down detection took {took:?}"
    );
    assert!(a.stats().suspicions + b.stats().suspicions > 0);
    assert_eq!(a.stats().members_down, 1);

    // Restart with the same id at the same address.
    let c = start_at(3, c_addr, vec![seed]).await;
    let took = wait_for("restarted node alive again", || {
        [&a, &b, &c].iter().all(|n| alive_ids(n) == vec![1, 2, 3])
    })
    .await;
    eprintln!("restarted node seen alive in {took:?}");
    assert!(took < Duration::from_secs(3), "rejoin took {took:?}");
    // Still one entry for it.
    assert_eq!(a.members().len(), 3);

    shutdown_all([a, b, c]).await;
}

#[tokio::test]
async fn restart_on_another_port_replaces_the_old_incarnation() {
    let (a, b, c, _) = three_nodes().await;
    let seed = a.local().peer_addr;
    let old_addr = c.local().peer_addr;
    drop(c);
    // Same id, new port, before the old incarnation was even declared down.
    let c = start(3, vec![seed]).await;
    let new_addr = c.local().peer_addr;
    assert_ne!(old_addr, new_addr);
    let took = wait_for("new incarnation wins", || {
        [&a, &b]
            .iter()
            .all(|n| find(n, 3).is_some_and(|m| m.alive && m.meta.peer_addr == new_addr))
    })
    .await;
    eprintln!("restart on a new port seen in {took:?}");
    // The old incarnation's failure does not mark the new one down.
    tokio::time::sleep(Duration::from_secs(4)).await;
    for n in [&a, &b] {
        let m = find(n, 3).unwrap();
        assert!(m.alive && m.meta.peer_addr == new_addr, "{m:?}");
        assert_eq!(n.members().len(), 3);
    }
    shutdown_all([a, b, c]).await;
}

#[tokio::test]
async fn leaving_removes_the_node_shutdown_marks_it_down_and_forget_drops_it() {
    let (a, b, c, _) = three_nodes().await;
    let d = start(4, vec![a.local().peer_addr]).await;
    wait_for("fourth node joins", || {
        [&a, &b].iter().all(|n| find(n, 4).is_some_and(|m| m.alive))
    })
    .await;
    // A stopped node is down, not gone: it still owns its data and comes back as itself.
    d.shutdown().await;
    let took = wait_for("stopped node marked down", || {
        [&a, &b]
            .iter()
            .all(|n| find(n, 4).is_some_and(|m| !m.alive))
    })
    .await;
    eprintln!("stopped node marked down in {took:?}");
    let started = Instant::now();
    c.leave().await;
    let took = wait_for("left node disappears", || {
        [&a, &b].iter().all(|n| find(n, 3).is_none())
    })
    .await;
    eprintln!(
        "gracefully left node gone in {took:?} (leave returned after {:?})",
        started.elapsed() - took
    );
    assert!(took < Duration::from_secs(3));

    // It does not come back as down later either; the stopped node stays known as down.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(find(&a, 3).is_none() && find(&b, 3).is_none());
    assert!(find(&a, 4).is_some_and(|m| !m.alive));

    // A crashed node stays as down until forgotten.
    drop(b);
    wait_for("crashed node down", || {
        find(&a, 2).is_some_and(|m| !m.alive)
    })
    .await;
    a.forget(1); // the local node is never forgotten
    a.forget(2);
    assert!(find(&a, 2).is_none());
    assert!(find(&a, 1).is_some());
    a.shutdown().await;
}

#[tokio::test]
async fn nodes_started_in_any_order_find_each_other() {
    // Pick the seed's address first, start the joiners before it exists.
    let seed_addr = {
        let s = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap()
    };
    let b = start(12, vec![seed_addr]).await;
    let c = start(13, vec![seed_addr]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let a = start_at(11, seed_addr, vec![]).await;
    let took = wait_for("late seed joins everyone", || {
        [&a, &b, &c]
            .iter()
            .all(|n| alive_ids(n) == vec![11, 12, 13])
    })
    .await;
    eprintln!("late seed converged in {took:?}");
    shutdown_all([a, b, c]).await;
}

#[test]
fn node_state_displays_lowercase() {
    let names: Vec<String> = [
        NodeState::Joining,
        NodeState::Up,
        NodeState::Leaving,
        NodeState::Left,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(names, ["joining", "up", "leaving", "left"]);
}
