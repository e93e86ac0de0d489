//! A real `redis-server` (Debian's Redis 7, which `.ci/run` installs) for differential tests.

use super::{free_port, wait_until};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A `redis-server` on a free loopback port, killed on drop.
pub struct Redis {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Redis {
    /// None (with a note) when no usable redis-server is installed.
    pub fn start() -> Option<Redis> {
        let version = match Command::new("redis-server").arg("--version").output() {
            Ok(out) => String::from_utf8_lossy(&out.stdout).into_owned(),
            Err(_) => {
                println!("note: redis-server not installed; nothing compared");
                return None;
            }
        };
        if !version.contains(" v=7.") {
            println!("note: {version} is not a Redis 7; nothing compared");
            return None;
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let addr = format!("127.0.0.1:{port}");
        wait_until("redis-server to start", Duration::from_secs(10), || {
            std::net::TcpStream::connect(&addr).is_ok()
        });
        Some(Redis {
            child,
            port,
            _dir: dir,
        })
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
