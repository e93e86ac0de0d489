//! Test harness: starts the real `ringkv` binary on an ephemeral port with its own data directory
//! and stops it (SIGKILL on drop if it did not exit). Every integration test talks to a real process.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    pub port: u16,
    pub child: Child,
    pub dir: tempfile::TempDir,
}

/// A free loopback port (bind to 0, read it back, release it).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("ephemeral port")
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ringkv"))
}

impl Server {
    /// Starts a server with extra `--name value` arguments.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_with(extra, None)
    }

    /// Starts a server with a config file written from `config_text` plus extra arguments.
    pub fn start_with(extra: &[&str], config_text: Option<&str>) -> Server {
        let dir = tempfile::tempdir().expect("tempdir");
        // The port is chosen before the server binds it; retry if another process raced us to it.
        for _attempt in 0..5 {
            let port = free_port();
            let mut cmd = Command::new(binary());
            if let Some(text) = config_text {
                let path = dir.path().join("ringkv.conf");
                std::fs::write(&path, text).expect("write config");
                cmd.arg(path);
            }
            cmd.arg("--port")
                .arg(port.to_string())
                .arg("--bind")
                .arg("127.0.0.1")
                .arg("--dir")
                .arg(dir.path())
                .arg("--loglevel")
                .arg("warning");
            cmd.args(extra);
            cmd.stdout(Stdio::null()).stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("spawn ringkv");
            if wait_ready(&mut child, port, Duration::from_secs(10)) {
                return Server { port, child, dir };
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        panic!("ringkv did not start");
    }

    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A synchronous `redis` crate connection (RESP2).
    pub fn conn(&self) -> redis::Connection {
        redis::Client::open(self.url())
            .and_then(|c| c.get_connection())
            .expect("connect")
    }

    /// A RESP3 connection.
    pub fn conn3(&self) -> redis::Connection {
        redis::Client::open(format!("{}?protocol=resp3", self.url()))
            .and_then(|c| c.get_connection())
            .expect("connect resp3")
    }

    /// A raw socket for protocol-level tests.
    pub fn raw(&self) -> Raw {
        let s = TcpStream::connect(("127.0.0.1", self.port)).expect("connect raw");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        Raw {
            reader: BufReader::new(s.try_clone().expect("clone")),
            stream: s,
        }
    }

    /// Stops with SIGTERM and waits; returns whether it exited in time.
    pub fn stop(&mut self) -> bool {
        // SAFETY: plain kill(2) on our own child's pid.
        unsafe {
            libc_kill(self.child.id() as i32, 15);
        }
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(10) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Waits for the process to exit by itself (after SHUTDOWN).
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    pub fn stderr_text(&mut self) -> String {
        let mut s = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            let _ = e.read_to_string(&mut s);
        }
        s
    }
}

fn wait_ready(child: &mut Child, port: u16, timeout: Duration) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            if s.write_all(b"PING\r\n").is_ok() {
                let mut buf = [0u8; 64];
                if let Ok(n) = s.read(&mut buf) {
                    if n > 0 {
                        return true;
                    }
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

extern "C" {
    #[link_name = "kill"]
    fn libc_kill(pid: i32, sig: i32) -> i32;
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw connection: send bytes, read RESP replies as text lines.
pub struct Raw {
    pub stream: TcpStream,
    pub reader: BufReader<TcpStream>,
}

impl Raw {
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends a command as a RESP multibulk.
    pub fn cmd(&mut self, args: &[&[u8]]) {
        let mut b = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            b.extend_from_slice(a);
            b.extend_from_slice(b"\r\n");
        }
        self.send(&b);
    }

    /// Reads one line without the CRLF.
    pub fn line(&mut self) -> String {
        let mut s = String::new();
        self.reader.read_line(&mut s).expect("read line");
        s.trim_end_matches(['\r', '\n']).to_string()
    }

    /// Reads one whole reply and renders it compactly, e.g. "+OK", ":1", "$3 foo", "*2 [...]".
    pub fn reply(&mut self) -> String {
        let line = self.line();
        let (kind, rest) = line.split_at(1.min(line.len()));
        match kind {
            "$" | "=" | "!" => {
                let n: i64 = rest.parse().expect("bulk len");
                if n < 0 {
                    return "(nil)".into();
                }
                let mut buf = vec![0u8; n as usize + 2];
                self.reader.read_exact(&mut buf).expect("bulk body");
                buf.truncate(n as usize);
                String::from_utf8_lossy(&buf).into_owned()
            }
            "*" | "~" | ">" | "%" => {
                let n: i64 = rest.parse().expect("agg len");
                if n < 0 {
                    return "(nil)".into();
                }
                let n = if kind == "%" { n * 2 } else { n };
                let items: Vec<String> = (0..n).map(|_| self.reply()).collect();
                format!("[{}]", items.join(","))
            }
            "_" => "(nil)".into(),
            _ => line,
        }
    }

    /// True when the server closed the connection (read returns 0 bytes).
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0) | Err(_))
    }
}
