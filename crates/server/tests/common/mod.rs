//! Test harness: starts the real `ringkv` binary on an ephemeral port with its own data directory
//! and stops it (SIGKILL on drop if it did not exit). Every integration test talks to a real process.
#![allow(dead_code)]

pub mod cluster;
pub mod redis_server;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Server {
    /// The loopback address it listens on (127.0.0.1 unless started with `start_on`).
    pub host: String,
    pub port: u16,
    pub child: Child,
    pub dir: tempfile::TempDir,
}

/// A free loopback port (bind to 0, read it back, release it).
pub fn free_port() -> u16 {
    free_port_on("127.0.0.1")
}

/// A port free on `host` for TCP and UDP both, as a cluster node's peer port (RPC and gossip)
/// must be. Probing the address the node will bind matters: tests running at once give their
/// nodes the same 127.0.0.x addresses, and a port free on 127.0.0.1 may be taken there.
pub fn free_port_on(host: &str) -> u16 {
    for _ in 0..100 {
        let port = TcpListener::bind((host, 0))
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("ephemeral port");
        if std::net::UdpSocket::bind((host, port)).is_ok() {
            return port;
        }
    }
    panic!("no port free for both TCP and UDP on {host}");
}

pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_ringkv"))
}

/// Starts the binary with `--dir dir` on 127.0.0.1 and a free port (stderr piped) without
/// waiting for it; returns the process and the port.
pub fn spawn_in(dir: &Path, extra: &[&str]) -> (Child, u16) {
    let port = free_port();
    let child = Command::new(binary())
        .args([
            "--port",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
            "--loglevel",
            "warning",
        ])
        .arg("--dir")
        .arg(dir)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ringkv");
    (child, port)
}

/// Runs a server that must refuse to start; returns its exit code (-1 if a signal ended it) and
/// its stderr. Panics if it is still running after 30 s.
pub fn refused(dir: &Path, extra: &[&str]) -> (i32, String) {
    let (mut child, _) = spawn_in(dir, extra);
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return (status.code().unwrap_or(-1), stderr_of(&mut child));
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("server started although it should have refused");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// What `child` wrote to its piped stderr (read to the end: call it once the process exited).
pub fn stderr_of(child: &mut Child) -> String {
    let mut s = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut s);
    }
    s
}

impl Server {
    /// Starts a server with extra `--name value` arguments.
    pub fn start(extra: &[&str]) -> Server {
        Server::start_with(extra, None)
    }

    /// Starts a server with a config file written from `config_text` plus extra arguments.
    pub fn start_with(extra: &[&str], config_text: Option<&str>) -> Server {
        Server::start_in(tempfile::tempdir().expect("tempdir"), extra, config_text)
    }

    /// Stops this server (SIGKILL if still running) and starts a new one on the same address
    /// and data directory with `extra` arguments: what a restart after a crash or a shutdown
    /// looks like.
    pub fn restart(mut self, extra: &[&str]) -> Server {
        self.kill9();
        let dir = std::mem::replace(&mut self.dir, tempfile::tempdir().expect("tempdir"));
        let host = std::mem::take(&mut self.host);
        drop(self);
        Self::spawn(&host, dir, extra, None, false)
    }

    /// Starts a server whose `--dir` is `dir`.
    pub fn start_in(dir: tempfile::TempDir, extra: &[&str], config_text: Option<&str>) -> Server {
        Self::spawn("127.0.0.1", dir, extra, config_text, false)
    }

    /// Starts a server listening on another loopback address (127.0.0.x), as a separate
    /// machine would have its own address.
    pub fn start_on(host: &str, extra: &[&str]) -> Server {
        Self::try_start_on(host, extra).unwrap_or_else(|e| panic!("{e}"))
    }

    /// [`Server::start_on`], or what the server said when it did not start.
    pub fn try_start_on(host: &str, extra: &[&str]) -> Result<Server, String> {
        Self::try_spawn(
            host,
            tempfile::tempdir().expect("tempdir"),
            extra,
            None,
            false,
        )
    }

    /// [`restart`](Self::restart), which keeps the address as well.
    pub fn restart_on(self, extra: &[&str]) -> Server {
        self.restart(extra)
    }

    /// Starts a server and returns as soon as it answers at all, even `-LOADING` (to watch
    /// start-up loading).
    pub fn start_loading(dir: tempfile::TempDir, extra: &[&str]) -> Server {
        Self::spawn("127.0.0.1", dir, extra, None, true)
    }

    fn spawn(
        host: &str,
        dir: tempfile::TempDir,
        extra: &[&str],
        config_text: Option<&str>,
        loading_is_ready: bool,
    ) -> Server {
        Self::try_spawn(host, dir, extra, config_text, loading_is_ready)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn try_spawn(
        host: &str,
        dir: tempfile::TempDir,
        extra: &[&str],
        config_text: Option<&str>,
        loading_is_ready: bool,
    ) -> Result<Server, String> {
        // The port is chosen before the server binds it; retry if another process raced us to it.
        let mut last_stderr = String::new();
        for _attempt in 0..5 {
            let port = free_port_on(host);
            let mut cmd = Command::new(binary());
            if let Some(text) = config_text {
                let path = dir.path().join("ringkv.conf");
                std::fs::write(&path, text).expect("write config");
                cmd.arg(path);
            }
            cmd.arg("--port")
                .arg(port.to_string())
                .arg("--bind")
                .arg(host)
                .arg("--dir")
                .arg(dir.path())
                .arg("--loglevel")
                .arg("warning");
            cmd.args(extra);
            cmd.stdout(Stdio::null()).stderr(Stdio::piped());
            let mut child = cmd.spawn().expect("spawn ringkv");
            if wait_ready(
                &mut child,
                host,
                port,
                Duration::from_secs(30),
                loading_is_ready,
            ) {
                return Ok(Server {
                    host: host.to_string(),
                    port,
                    child,
                    dir,
                });
            }
            let _ = child.kill();
            let _ = child.wait();
            last_stderr = stderr_of(&mut child);
        }
        Err(format!(
            "ringkv did not start; the last attempt said:\n{last_stderr}"
        ))
    }

    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }

    pub fn url(&self) -> String {
        format!("redis://{}:{}/", self.host, self.port)
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
        Raw::connect(&self.addr())
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

    /// Kills the process with SIGKILL (a crash) and reaps it; the data directory stays.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
        stderr_of(&mut self.child)
    }
}

/// Waits until the server `child` started on `host:port` answers PING with anything but
/// `-LOADING` (or anything at all with `loading_is_ready`); false if it exited or `timeout` passed.
pub fn wait_ready(
    child: &mut Child,
    host: &str,
    port: u16,
    timeout: Duration,
    loading_is_ready: bool,
) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Ok(Some(_)) = child.try_wait() {
            return false;
        }
        if let Ok(mut s) = TcpStream::connect((host, port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
            if s.write_all(b"PING\r\n").is_ok() {
                let mut buf = [0u8; 64];
                // -LOADING while the data set loads; any other reply (PONG, NOAUTH) means ready.
                if let Ok(n) = s.read(&mut buf) {
                    if n > 0 && (loading_is_ready || !buf[..n].starts_with(b"-LOADING")) {
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
    /// Connects to `host:port` (10 s read timeout).
    pub fn connect(addr: &str) -> Raw {
        let s = TcpStream::connect(addr).expect("connect raw");
        s.set_read_timeout(Some(Duration::from_secs(10))).ok();
        Raw {
            reader: BufReader::new(s.try_clone().expect("clone")),
            stream: s,
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("send");
    }

    /// Sends a command as a RESP multibulk.
    pub fn cmd(&mut self, args: &[&[u8]]) {
        self.pipeline(&[args]);
    }

    /// Sends several commands with one write (the server runs them as one batch).
    pub fn pipeline(&mut self, cmds: &[&[&[u8]]]) {
        let mut b = Vec::new();
        for args in cmds {
            b.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
            for a in *args {
                b.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                b.extend_from_slice(a);
                b.extend_from_slice(b"\r\n");
            }
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

// ---- Helpers shared by the integration test files ----

pub const WRONGTYPE: &str = "-WRONGTYPE Operation against a key holding the wrong kind of value";
pub const SYNTAX: &str = "-ERR syntax error";
pub const NOT_INT: &str = "-ERR value is not an integer or out of range";

/// Sends one command on a raw connection and returns its compact rendering.
pub fn run(r: &mut Raw, args: &[&str]) -> String {
    let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    r.cmd(&bytes);
    r.reply()
}

/// [`run`] with owned string arguments.
pub fn run_owned(r: &mut Raw, args: &[String]) -> String {
    let bytes: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    r.cmd(&bytes);
    r.reply()
}

/// Sends one command on a fresh raw connection and returns its compact rendering.
pub fn run_once(s: &Server, args: &[&str]) -> String {
    let mut r = s.raw();
    run(&mut r, args)
}

/// Sends a command and parses its integer reply, panicking on anything else.
pub fn int(r: &mut Raw, args: &[&str]) -> i64 {
    let reply = run(r, args);
    reply
        .strip_prefix(':')
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{args:?}: expected an integer, got {reply}"))
}

/// Splits a command line on spaces; `""` is an empty argument, `" 1"`/`"1 "` keep their blank.
pub fn split_line(line: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        if let Some(q) = rest.strip_prefix('"') {
            let end = q.find('"').unwrap_or(q.len());
            out.push(q.as_bytes()[..end].to_vec());
            rest = q.get(end + 1..).unwrap_or("").trim_start();
        } else {
            let end = rest.find(' ').unwrap_or(rest.len());
            out.push(rest.as_bytes()[..end].to_vec());
            rest = rest[end..].trim_start();
        }
    }
    out
}

/// Sends one command written as a line (see [`split_line`]) and returns its compact rendering.
pub fn run_line(r: &mut Raw, line: &str) -> String {
    let args = split_line(line);
    let refs: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    r.cmd(&refs);
    r.reply()
}

/// Runs each command line and compares the compact rendering of its reply.
pub fn check(r: &mut Raw, script: &[(&str, &str)]) {
    for (line, want) in script {
        assert_eq!(run_line(r, line), *want, "command: {line}");
    }
}

/// Switches a raw connection to RESP3.
pub fn hello3(r: &mut Raw) {
    r.cmd(&[b"HELLO", b"3"]);
    let hello = r.reply();
    assert!(hello.contains("proto,:3"), "{hello}");
}

/// `OBJECT ENCODING key`.
pub fn encoding(r: &mut Raw, key: &str) -> String {
    run(r, &["OBJECT", "ENCODING", key])
}

/// Splits a compact array rendering "[a,b,c]" (no nesting, no commas inside elements); "[]" is
/// empty.
pub fn items(reply: &str) -> Vec<String> {
    let inner = array_inner(reply);
    if inner.is_empty() {
        Vec::new()
    } else {
        inner.split(',').map(str::to_string).collect()
    }
}

/// Like [`items`], but "[]" gives one empty item.
pub fn split_items(reply: &str) -> Vec<String> {
    array_inner(reply).split(',').map(str::to_string).collect()
}

fn array_inner(reply: &str) -> &str {
    reply
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or_else(|| panic!("not an array: {reply}"))
}

/// [`items`], sorted.
pub fn sorted(reply: &str) -> Vec<String> {
    let mut v = items(reply);
    v.sort();
    v
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Peak resident memory of the server process (VmHWM) in kB.
pub fn peak_rss_kb(s: &Server) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", s.child.id())).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// The number after `field:` in an INFO text, if it is there and parses.
pub fn info_value<T: std::str::FromStr>(info: &str, field: &str) -> Option<T> {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
}

/// A numeric field of `INFO section` read over a `redis` connection.
pub fn info_field<T: std::str::FromStr>(
    c: &mut redis::Connection,
    section: &str,
    field: &str,
) -> T {
    let info: String = redis::cmd("INFO").arg(section).query(c).unwrap();
    info_value(&info, field).unwrap_or_else(|| panic!("{field} in INFO {section}"))
}

/// A numeric field of `INFO section` read over a raw connection.
pub fn raw_info_field<T: std::str::FromStr>(r: &mut Raw, section: &str, field: &str) -> T {
    let info = run(r, &["INFO", section]);
    info_value(&info, field).unwrap_or_else(|| panic!("{field} in INFO {section}"))
}

/// One field of `INFO persistence` (panics if absent).
pub fn persistence_field(c: &mut redis::Connection, field: &str) -> String {
    info_field(c, "persistence", field)
}

/// `DEBUG POPULATE keys`: that many keys `key:N` with the value `value:N`.
pub fn populate(c: &mut redis::Connection, keys: u64) {
    let _: () = redis::cmd("DEBUG")
        .arg("POPULATE")
        .arg(keys)
        .query(c)
        .unwrap();
}

/// Polls `f` every 20 ms until it holds; panics after `limit`.
pub fn wait_until(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Clients sending `SET k<i> <n>` one at a time (a request, then its reply) until `stop` is set
/// or `limit` passes; each returns how many it sent.
pub fn set_load(
    server: &Server,
    clients: usize,
    stop: &std::sync::Arc<std::sync::atomic::AtomicBool>,
    limit: Duration,
) -> Vec<std::thread::JoinHandle<u64>> {
    (0..clients)
        .map(|i| {
            let mut c = server.conn();
            let stop = stop.clone();
            std::thread::spawn(move || {
                let started = Instant::now();
                let mut done = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) && started.elapsed() < limit
                {
                    let _: () = redis::cmd("SET")
                        .arg(format!("k{i}"))
                        .arg(done)
                        .query(&mut c)
                        .unwrap();
                    done += 1;
                }
                done
            })
        })
        .collect()
}

/// `CONFIG SET name value`, which must succeed.
pub fn config_set(c: &mut redis::Connection, name: &str, value: &str) {
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg(name)
        .arg(value)
        .query(c)
        .unwrap();
}
