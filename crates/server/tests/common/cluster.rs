//! A cluster of real `ringkv` processes for the cluster tests, each on its own loopback address
//! (node i on 127.0.0.(10+i), as separate machines would be): node 0 starts alone, the others
//! join through it.

use super::{free_port_on, run, wait_until, Raw, Server};
use std::time::Duration;

pub struct Cluster {
    pub nodes: Vec<Option<Server>>,
    pub peer_ports: Vec<u16>,
    pub extra: Vec<String>,
}

/// The loopback address of node `i`.
pub fn host(i: usize) -> String {
    format!("127.0.0.{}", 10 + i)
}

/// Arguments of a cluster node with this peer port and seed (`host:cluster-port`).
pub fn node_args(peer_port: u16, seed: Option<String>, extra: &[String]) -> Vec<String> {
    let mut a = vec![
        "--cluster-enabled".to_string(),
        "yes".into(),
        "--cluster-port".into(),
        peer_port.to_string(),
        "--save".into(),
        "".into(),
    ];
    if let Some(s) = seed {
        a.push("--cluster-seeds".into());
        a.push(s);
    }
    a.extend(extra.iter().cloned());
    a
}

/// Starts a cluster node on `host` with a free peer port; returns it and the port. A peer port
/// is chosen free but only bound by the node later, and tests running at once share the
/// 127.0.0.x addresses: when another process took it meanwhile, another port is tried.
fn start_node(host: &str, seed: Option<String>, extra: &[String]) -> (Server, u16) {
    let mut last = String::new();
    for _ in 0..5 {
        let p = free_port_on(host);
        let args = node_args(p, seed.clone(), extra);
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        match Server::try_start_on(host, &refs) {
            Ok(server) => return (server, p),
            Err(e) if e.contains("cannot listen on cluster port") => last = e,
            Err(e) => panic!("{e}"),
        }
    }
    panic!("{last}");
}

impl Cluster {
    pub fn start(n: usize, extra: &[&str]) -> Cluster {
        let extra: Vec<String> = extra.iter().map(|s| s.to_string()).collect();
        let mut peer_ports: Vec<u16> = Vec::new();
        let mut nodes = Vec::new();
        for i in 0..n {
            let seed = (i > 0).then(|| format!("{}:{}", host(0), peer_ports[0]));
            let (server, p) = start_node(&host(i), seed, &extra);
            nodes.push(Some(server));
            peer_ports.push(p);
        }
        let c = Cluster {
            nodes,
            peer_ports,
            extra,
        };
        c.wait_converged(n);
        c
    }

    pub fn node(&self, i: usize) -> &Server {
        self.nodes[i].as_ref().expect("node is running")
    }

    pub fn raw(&self, i: usize) -> Raw {
        self.node(i).raw()
    }

    /// Node `i`'s peer address (what `--cluster-seeds` and `CLUSTER JOIN` take).
    pub fn peer_addr(&self, i: usize) -> String {
        format!("{}:{}", host(i), self.peer_ports[i])
    }

    /// Starts one more node that joins through node 0 (it pulls its partitions, then is up);
    /// returns its index.
    pub fn add_node(&mut self) -> usize {
        let i = self.nodes.len();
        let (server, p) = start_node(&host(i), Some(self.peer_addr(0)), &self.extra);
        self.nodes.push(Some(server));
        self.peer_ports.push(p);
        i
    }

    /// Waits until every running node sees `up` live nodes that are up (not joining).
    pub fn wait_converged(&self, up: usize) {
        for s in self.nodes.iter().flatten() {
            wait_until("cluster membership", Duration::from_secs(20), || {
                let mut r = s.raw();
                let info = run(&mut r, &["CLUSTER", "INFO"]);
                info.contains(&format!("cluster_nodes_up:{up}"))
            });
        }
    }

    pub fn kill(&mut self, i: usize) -> Server {
        let mut s = self.nodes[i].take().expect("running");
        s.kill9();
        s
    }

    /// Kills node `i` with SIGKILL and starts it again on its data directory.
    pub fn restart_node(&mut self, i: usize) {
        let old = self.kill(i);
        self.restart(i, old);
    }

    pub fn restart(&mut self, i: usize, old: Server) {
        let args = node_args(
            self.peer_ports[i],
            Some(self.peer_addr((i + 1) % self.peer_ports.len())),
            &self.extra,
        );
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        self.nodes[i] = Some(old.restart_on(&refs));
    }
}
