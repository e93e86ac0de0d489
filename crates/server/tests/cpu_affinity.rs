//! CPU affinity: Redis's `server_cpulist` / `bio_cpulist` / `bgsave_cpulist` pin the threads they
//! name, a bad list stops start-up, and the event loop's automatic pinning
//! (`event-loop-pinning auto`) pins the loop while it is busy and frees it when it goes idle.

mod common;

use common::{info_field, Server};
use ringkv_config::parse_cpulist;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// The CPUs a thread may run on, from its `Cpus_allowed_list`.
fn thread_cpus(pid: u32, tid: u32) -> Vec<usize> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).unwrap();
    let list = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list");
    parse_cpulist(list.trim()).unwrap()
}

/// The id of the server's thread called `name`.
fn thread_named(pid: u32, name: &str) -> Option<u32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .unwrap()
        .filter_map(|e| e.ok())
        .find(|e| std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.trim() == name))
        .and_then(|e| e.file_name().to_str()?.parse().ok())
}

/// The CPUs this test process may use.
fn our_cpus() -> Vec<usize> {
    thread_cpus(std::process::id(), std::process::id())
}

/// Clients sending SETs one at a time until `stop` (or 30 s, a bound for a failing test).
fn load(server: &Server, clients: usize, stop: &Arc<AtomicBool>) -> Vec<thread::JoinHandle<u64>> {
    common::set_load(server, clients, stop, Duration::from_secs(30))
}

/// Polls `check` every 10 ms until it holds or `limit` passes.
fn within(limit: Duration, mut check: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if check() {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    false
}

#[test]
fn cpulists_pin_the_threads_they_name() {
    let cpu = *our_cpus().last().unwrap();
    let list = cpu.to_string();
    let server = Server::start(&[
        "--server_cpulist",
        &list,
        "--bio_cpulist",
        &list,
        "--bgsave_cpulist",
        &list,
        "--appendonly",
        "yes",
    ]);
    let pid = server.child.id();
    assert_eq!(thread_cpus(pid, pid), vec![cpu], "the event loop");
    let writer = thread_named(pid, "ringkv-aof").expect("the AOF writer thread");
    assert_eq!(thread_cpus(pid, writer), vec![cpu], "the AOF writer");

    let mut c = server.conn();
    let got: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("server_cpulist")
        .query(&mut c)
        .unwrap();
    assert_eq!(got, ["server_cpulist", list.as_str()]);
    let err = redis::cmd("CONFIG")
        .arg("SET")
        .arg("server_cpulist")
        .arg("0")
        .query::<()>(&mut c)
        .unwrap_err();
    assert!(
        err.to_string().contains("can't set immutable config"),
        "{err}"
    );

    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    assert!(within(Duration::from_secs(10), || {
        info_field::<u64>(&mut c, "persistence", "rdb_bgsave_in_progress") == 0
    }));
    let job = thread_named(pid, "ringkv-bgsave").expect("the job thread");
    assert_eq!(
        thread_cpus(pid, job),
        vec![cpu],
        "the job thread after BGSAVE"
    );
}

#[test]
fn an_explicit_server_list_turns_automatic_pinning_off_and_others_keep_every_cpu() {
    let cpus = our_cpus();
    if cpus.len() < 2 {
        eprintln!("skipped: one CPU, nothing to choose between");
        return;
    }
    // Two CPUs: the loop could still pin itself to one of them if the list did not stop it.
    let list = format!("{},{}", cpus[0], cpus[1]);
    let server = Server::start(&["--server_cpulist", &list, "--appendonly", "yes"]);
    let pid = server.child.id();
    let mut c = server.conn();
    // A thread with no list of its own does not inherit the loop's CPUs.
    let writer = thread_named(pid, "ringkv-aof").expect("the AOF writer thread");
    assert_eq!(thread_cpus(pid, writer), cpus, "the AOF writer");
    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(&server, 4, &stop);
    thread::sleep(Duration::from_millis(500));
    stop.store(true, Ordering::Relaxed);
    workers.into_iter().for_each(|w| {
        w.join().unwrap();
    });
    assert_eq!(info_field::<u64>(&mut c, "stats", "eventloop_pins"), 0);
    assert_eq!(thread_cpus(pid, pid), vec![cpus[0], cpus[1]]);
}

#[test]
fn a_bad_cpulist_stops_start_up() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["3-1", "x", "0-4:0", "5000"] {
        let (code, stderr) = common::refused(dir.path(), &["--bio_cpulist", bad]);
        assert_ne!(code, 0, "{bad} accepted");
        assert!(stderr.contains("invalid CPU list"), "{bad}: {stderr}");
    }
}

#[test]
fn the_event_loop_pins_itself_while_busy_and_not_when_idle() {
    let cpus = our_cpus();
    if cpus.len() < 2 || !std::path::Path::new("/proc/self/schedstat").exists() {
        eprintln!("one CPU or no schedstat: the loop never pins here");
        return;
    }
    let server = Server::start(&[]);
    let pid = server.child.id();
    let mut c = server.conn();
    assert_eq!(info_field::<i64>(&mut c, "stats", "eventloop_cpu"), -1);
    assert_eq!(thread_cpus(pid, pid), cpus);

    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(&server, 4, &stop);
    let mut pinned_to = None;
    let pinned = within(Duration::from_secs(20), || {
        let cpu = info_field::<i64>(&mut c, "stats", "eventloop_cpu");
        pinned_to = usize::try_from(cpu).ok();
        pinned_to.is_some()
    });
    let affinity_while_pinned = thread_cpus(pid, pid);
    stop.store(true, Ordering::Relaxed);
    workers.into_iter().for_each(|w| {
        w.join().unwrap();
    });
    assert!(pinned, "the loop never pinned itself under load");
    let cpu = pinned_to.unwrap();
    // The loop may have unpinned (went idle for a sample period) between INFO and the read.
    assert!(
        affinity_while_pinned == vec![cpu] || affinity_while_pinned == cpus,
        "{affinity_while_pinned:?}"
    );
    assert!(info_field::<u64>(&mut c, "stats", "eventloop_pins") >= 1);

    // Idle: free again within a few sample periods.
    assert!(
        within(Duration::from_secs(2), || thread_cpus(pid, pid) == cpus),
        "still pinned when idle: {:?}",
        thread_cpus(pid, pid)
    );
    assert_eq!(info_field::<i64>(&mut c, "stats", "eventloop_cpu"), -1);

    // `event-loop-pinning no`: the same load pins nothing.
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("event-loop-pinning")
        .arg("no")
        .query(&mut c)
        .unwrap();
    let pins = info_field::<u64>(&mut c, "stats", "eventloop_pins");
    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(&server, 4, &stop);
    let mut seen = Vec::new();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        seen.push(thread_cpus(pid, pid));
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    workers.into_iter().for_each(|w| {
        w.join().unwrap();
    });
    let info: String = redis::cmd("INFO").arg("stats").query(&mut c).unwrap();
    assert_eq!(
        common::info_value::<u64>(&info, "eventloop_pins"),
        Some(pins),
        "{info}"
    );
    assert!(seen.iter().all(|s| *s == cpus), "{seen:?}");
}
