//! Cluster nodes hosted inside turmoil's simulated network (cargo feature `sim`).
//!
//! Why: the real-process cluster tests show the coordinator works over real sockets, but they
//! cannot cut a link at an exact instant or replay a failure. Here each node is a turmoil host:
//! its peer RPC and gossip run over [`Net::Sim`], its timers on the host's simulated clock, and
//! a test crashes, restarts and partitions hosts between simulation steps.
//!
//! A node runs everything a cluster node runs (membership, ring, coordinator, replication,
//! handoff, worker claims) except the client listener, persistence and the HTTP endpoint: a
//! test hands it commands through a [`NodeHandle`], and the node executes each one on its own
//! host, exactly as for a client connected to it. Keyspace expiry still reads the system clock.

use crate::cluster::Cluster;
use ringkv_commands::pubsub::PushLink;
use ringkv_commands::Client;
use ringkv_config::{Config, StartupArgs};
use ringkv_peer::Net;
use ringkv_protocol::{OwnedArgs, Protocol, ReplyWriter};
use tokio::sync::{mpsc, oneshot};

/// One command for a node and where its reply goes.
type Job = (OwnedArgs, oneshot::Sender<Vec<u8>>);

/// Submits commands to a node running in the simulation. Cheap to clone.
#[derive(Clone)]
pub struct NodeHandle {
    jobs: mpsc::UnboundedSender<Job>,
}

impl NodeHandle {
    /// Queues `args` for the node; the reply (RESP2 bytes) arrives on the returned receiver once
    /// the simulation has run the node long enough. Dropped with the node if it crashes.
    pub fn submit<I, T>(&self, args: I) -> oneshot::Receiver<Vec<u8>>
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        let (tx, rx) = oneshot::channel();
        let _ = self.jobs.send((OwnedArgs::from_slices(args), tx));
        rx
    }
}

/// Runs one cluster node on the current turmoil host until the host is crashed: `argv` are the
/// server's command-line settings (`--cluster-enabled yes`, `--dir`, `--cluster-announce-ip`
/// with the host's address, `--cluster-seeds` ...), `seed` its random seed. `publish` receives the
/// node's handle once it serves.
pub async fn run_node(
    argv: &[String],
    seed: u64,
    publish: impl FnOnce(NodeHandle),
) -> Result<(), String> {
    let args: StartupArgs = ringkv_config::parse_command_line(argv).map_err(|e| e.to_string())?;
    let config = Config::load(&args).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&config.dir)
        .map_err(|e| format!("cannot create dir '{}': {e}", config.dir))?;
    let port = config.port;
    // A crash drops the host's tasks and with them this node's state, releasing what the end
    // of a process would (such as the lock on `idgen.lock`): a restart on the same directory
    // finds it free.
    let shared = super::new_shared(config, port, seed);
    ringkv_commands::ids::start(&shared)?;
    super::load_data(&shared, seed)?;
    let cluster = Cluster::start_on(shared.clone(), port, seed, Net::Sim).await?;

    let handle = shared
        .clients
        .register("simulation".into(), "simulation".into(), shared.now_ms());
    let (push, _pushed) = PushLink::new(handle.clone());
    let mut client = Client::new(handle, true, push);
    let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
    publish(NodeHandle { jobs });
    // One command at a time, in submission order, like one client connection.
    while let Some((args, reply)) = queue.recv().await {
        let mut out = ReplyWriter::new(Protocol::Resp2);
        cluster.execute(&mut client, &mut out, args.args()).await;
        let _ = reply.send(std::mem::take(out.buffer_mut()));
    }
    Ok(())
}
