//! What the CLUSTER commands and INFO see of the cluster (the `ClusterHooks` the commands crate
//! calls under the keyspace lock: nothing here may lock the store).

use super::Cluster;
use ringkv_cluster::NodeId;
use ringkv_commands::cluster::ClusterHooks;
use ringkv_peer::NodeState;
use std::fmt::Write as _;
use std::sync::Weak;

/// Holds the cluster weakly: the cluster holds `Shared`, which holds these hooks, so a strong
/// reference would keep both alive for good. A node hosted in a simulator is dropped (and its
/// files unlocked) when its host crashes; a server process keeps its cluster until it exits.
pub struct Hooks(pub Weak<Cluster>);

/// What the hooks answer once the cluster is gone (only while a node is being torn down).
const STOPPED: &str = "this cluster node has stopped";

fn state_name(state: NodeState, alive: bool) -> String {
    if alive {
        state.to_string()
    } else {
        "down".to_string()
    }
}

impl ClusterHooks for Hooks {
    fn info(&self) -> String {
        let Some(c) = self.0.upgrade() else {
            return "cluster_state:fail\r\n".into();
        };
        let view = c.view();
        let settings = c.settings();
        let alive = view
            .members
            .iter()
            .filter(|m| m.alive && m.state == NodeState::Up)
            .count();
        let in_state = |s: NodeState| view.members.iter().filter(|m| m.state == s).count();
        let n = view.ring.effective_replicas();
        let w = settings.write_quorum.resolve(n);
        // ok while every partition has a live write quorum.
        let ok = (0..view.ring.partitions()).all(|p| {
            view.ring
                .owners(p)
                .iter()
                .filter(|id| view.is_alive(**id))
                .count()
                >= w.max(1)
        });
        let mut out = String::new();
        let _ = write!(
            out,
            "cluster_state:{}\r\ncluster_known_nodes:{}\r\ncluster_size:{}\r\ncluster_nodes_up:{}\r\n\
             cluster_partitions:{}\r\ncluster_replicas:{}\r\ncluster_read_quorum:{}\r\ncluster_write_quorum:{}\r\n\
             cluster_my_id:{}\r\ncluster_ring_generation:{}\r\ncluster_nodes_joining:{}\r\n\
             cluster_nodes_leaving:{}\r\ncluster_rebalancing:{}\r\n",
            if ok { "ok" } else { "fail" },
            view.members.len(),
            view.ring.nodes().iter().filter(|n| n.weight > 0).count(),
            alive,
            view.ring.partitions(),
            n,
            settings.read_quorum.resolve(n),
            w,
            c.node,
            view.generation,
            in_state(NodeState::Joining),
            in_state(NodeState::Leaving),
            u8::from(view.target.is_some()),
        );
        out
    }

    fn info_section(&self) -> String {
        let Some(c) = self.0.upgrade() else {
            return self.info();
        };
        let view = c.view();
        let peers = c.peers.stats();
        let gossip = c.membership.stats();
        let mut out = self.info();
        let others = [
            (
                "cluster_max_siblings",
                c.settings().state.max_siblings as u64,
            ),
            ("cluster_peer_requests_sent", peers.requests_sent),
            ("cluster_peer_requests_timed_out", peers.requests_timed_out),
            (
                "cluster_peer_connections_stalled",
                peers.connections_stalled,
            ),
            ("cluster_gossip_packets_sent", gossip.packets_sent),
            ("cluster_gossip_packets_received", gossip.packets_received),
            ("cluster_gossip_suspicions", gossip.suspicions),
        ];
        for (k, v) in c.stats.fields().into_iter().chain(others) {
            let _ = write!(out, "{k}:{v}\r\n");
        }
        for (k, v) in c.hints.fields() {
            let _ = write!(out, "{k}:{v}\r\n");
        }
        for (k, v) in c
            .handoff
            .fields()
            .into_iter()
            .chain(c.anti_entropy.fields())
        {
            let _ = write!(out, "{k}:{v}\r\n");
        }
        let _ = write!(
            out,
            "cluster_my_share:{:.4}\r\ncluster_my_addr:{}\r\ncluster_my_peer_addr:{}\r\n",
            view.ring.share(c.node),
            c.client_addr,
            c.peer_addr
        );
        // The snowflake worker this node announces (see `workers`).
        let (worker, state) = match c.membership.local().id_worker {
            Some(w) => (
                w.worker.to_string(),
                if w.settled { "settled" } else { "claiming" },
            ),
            None => (String::new(), "none"),
        };
        let _ = write!(
            out,
            "cluster_my_id_worker:{worker}\r\ncluster_my_id_worker_state:{state}\r\n"
        );
        out
    }

    fn nodes(&self) -> String {
        let Some(c) = self.0.upgrade() else {
            return String::new();
        };
        let view = c.view();
        let mut out = String::new();
        for m in &view.members {
            let _ = write!(
                out,
                "{} {} {} {}{} zone={} weight={} share={:.4}\r\n",
                m.id,
                m.client_addr,
                m.peer_addr,
                if m.id == c.node { "myself," } else { "" },
                state_name(m.state, m.alive),
                m.zone,
                m.weight,
                view.ring.share(m.id),
            );
        }
        out
    }

    fn myid(&self) -> String {
        self.0
            .upgrade()
            .map(|c| c.node.to_string())
            .unwrap_or_default()
    }

    fn owners(&self, key: &[u8]) -> Vec<[String; 4]> {
        let Some(c) = self.0.upgrade() else {
            return Vec::new();
        };
        let view = c.view();
        let primary = view.primary(key);
        view.ring
            .owners_of_key(key)
            .iter()
            .map(|id| {
                let m = view.member(*id);
                [
                    id.to_string(),
                    m.map(|m| m.client_addr.to_string()).unwrap_or_default(),
                    m.map(|m| state_name(m.state, m.alive)).unwrap_or_default(),
                    if Some(*id) == primary {
                        "primary"
                    } else {
                        "replica"
                    }
                    .to_string(),
                ]
            })
            .collect()
    }

    fn partition(&self, key: &[u8]) -> u32 {
        self.0
            .upgrade()
            .map_or(0, |c| c.view().ring.partition_of(key))
    }

    fn forget(&self, id: &str) -> Result<(), String> {
        let c = self.0.upgrade().ok_or(STOPPED)?;
        let id: NodeId = id.parse().map_err(|_| "Unknown node".to_string())?;
        let view = c.view();
        match view.member(id) {
            None => Err(format!("Unknown node {id}")),
            Some(_) if id == c.node => Err("I tried hard but I can't forget myself...".into()),
            Some(m) if m.alive => Err(format!(
                "node {id} is alive; only down nodes can be forgotten"
            )),
            Some(_) => {
                c.membership.forget(id.0);
                c.hints.forgot(id);
                Ok(())
            }
        }
    }

    fn join(&self, peer: &str, keys: usize) -> Result<(), String> {
        let c = self.0.upgrade().ok_or(STOPPED)?;
        let view = c.view();
        if view.members.len() > 1 {
            return Err(format!(
                "this node is already in a cluster of {} nodes",
                view.members.len()
            ));
        }
        if keys > 0 {
            return Err(format!(
                "this node holds {keys} keys; only an empty node can join a cluster"
            ));
        }
        let addr = std::net::ToSocketAddrs::to_socket_addrs(peer)
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| format!("cannot resolve {peer} (expected host:cluster-port)"))?;
        if addr == c.peer_addr {
            return Err("that is this node's own cluster port".into());
        }
        super::handoff::start_join(&c)?;
        c.membership.add_seed(addr);
        Ok(())
    }

    fn leave(&self) -> Result<(), String> {
        super::handoff::start_leave(&self.0.upgrade().ok_or(STOPPED)?)
    }
}
