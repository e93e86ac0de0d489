//! Accepting clients: one accept loop per `bind` address, `maxclients` enforced at accept time with
//! Redis's error, TCP_NODELAY and keepalive on every socket.

use crate::connection;
use ringkv_commands::Shared;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;

pub async fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    let mut shutdown = shared.shutdown_signal();
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            _ = shutdown.changed() => break,
        };
        let (mut stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE and friends: back off briefly instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        shared
            .stats
            .total_connections_received
            .fetch_add(1, Ordering::Relaxed);
        let maxclients = shared.config.read().maxclients as usize;
        if shared.clients.len() >= maxclients {
            shared
                .stats
                .rejected_connections
                .fetch_add(1, Ordering::Relaxed);
            let _ = stream
                .write_all(b"-ERR max number of clients reached\r\n")
                .await;
            continue;
        }
        let _ = stream.set_nodelay(true);
        let keepalive = shared.config.read().tcp_keepalive;
        if keepalive > 0 {
            let sock = socket2::SockRef::from(&stream);
            let ka =
                socket2::TcpKeepalive::new().with_time(std::time::Duration::from_secs(keepalive));
            let _ = sock.set_tcp_keepalive(&ka);
        }
        let laddr = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let handle = shared
            .clients
            .register(peer.to_string(), laddr, shared.now_ms());
        tracing::debug!(client = handle.id, addr = %peer, "accepted");
        tokio::spawn(connection::serve(shared.clone(), stream, handle));
    }
}
