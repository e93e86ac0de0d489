//! Busy polling of the event loop (`busy-poll-us`, `busy-poll-min-load`): it polls while
//! commands keep coming and the loop is loaded enough, never under `appendfsync always`, and an
//! idle server goes back to sleep.

mod common;

use common::{config_set, info_field, populate, Server};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

/// Clients sending one command at a time until `stop` or 5 s.
fn load(server: &Server, clients: usize, stop: &Arc<AtomicBool>) -> Vec<thread::JoinHandle<u64>> {
    common::set_load(server, clients, stop, Duration::from_secs(5))
}

/// Runs `clients` under load for about a second; returns whether INFO showed
/// `busy_poll_active:1` meanwhile, the commands the clients ran, and the highest
/// `eventloop_load_perc` INFO showed.
fn watch_load(server: &Server, clients: usize) -> (bool, u64, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(server, clients, &stop);
    let mut c = server.conn();
    let mut seen_active = false;
    let mut max_load = 0;
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(1) {
        seen_active |= info_field::<u64>(&mut c, "stats", "busy_poll_active") == 1;
        max_load = max_load.max(info_field::<u64>(&mut c, "stats", "eventloop_load_perc"));
        thread::sleep(Duration::from_millis(20));
    }
    stop.store(true, Ordering::Relaxed);
    let done = workers.into_iter().map(|w| w.join().unwrap()).sum();
    (seen_active, done, max_load)
}

/// Runs a load and checks that the loop never polled.
fn assert_no_polling_under_load(server: &Server, c: &mut redis::Connection) {
    let (active, done, _) = watch_load(server, 4);
    assert!(done > 0);
    assert!(!active, "busy polling showed as active");
    assert_eq!(info_field::<u64>(c, "stats", "busy_poll_idle_usec"), 0);
    // Without polling the loop parks between rounds.
    assert!(info_field::<u64>(c, "stats", "eventloop_parks") > 0);
}

/// `CONFIG GET busy-poll-*`: names and values, in table order.
fn busy_poll_settings(c: &mut redis::Connection) -> Vec<String> {
    redis::cmd("CONFIG")
        .arg("GET")
        .arg("busy-poll-*")
        .query(c)
        .unwrap()
}

/// Whether INFO shows `busy_poll_active:1` within `limit` (looked at every 10 ms).
fn polling_within(c: &mut redis::Connection, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if info_field::<u64>(c, "stats", "busy_poll_active") == 1 {
            return true;
        }
        thread::sleep(Duration::from_millis(10));
    }
    false
}

/// CPU ticks (user + system, 1/100 s) the process used so far.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may contain spaces) start after the last ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the line: 12 and 13 after the name and state.
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

#[test]
fn the_loop_polls_under_load_and_sleeps_when_idle() {
    // min-load 0: poll whenever commands ran in the last sample period, whatever the load.
    let server = Server::start(&["--busy-poll-min-load", "0"]);
    let mut c = server.conn();
    let (active, done, max_load) = watch_load(&server, 4);
    assert!(done > 0);
    assert!(active, "busy polling never showed as active under load");
    assert!(max_load > 0, "no event-loop load measured under load");
    let polled: u64 = info_field(&mut c, "stats", "busy_poll_idle_usec");
    assert!(polled > 0, "no polling time counted");

    // Idle: the poller stops within a sample period and the process sleeps.
    thread::sleep(Duration::from_millis(200));
    let before = cpu_ticks(server.child.id());
    thread::sleep(Duration::from_millis(1000));
    let used = cpu_ticks(server.child.id()) - before;
    assert!(used <= 15, "an idle server used {used} CPU ticks in 1 s");
    assert_eq!(info_field::<u64>(&mut c, "stats", "busy_poll_active"), 0);
    // Every write went through.
    let v: u64 = redis::cmd("GET").arg("k0").query(&mut c).unwrap();
    assert!(v > 0);
}

#[test]
fn busy_poll_us_0_never_polls_and_can_be_set_at_run_time() {
    let server = Server::start(&["--busy-poll-us", "0", "--busy-poll-min-load", "0"]);
    let mut c = server.conn();
    assert_no_polling_under_load(&server, &mut c);

    config_set(&mut c, "busy-poll-us", "50");
    let got = busy_poll_settings(&mut c);
    assert_eq!(got, ["busy-poll-us", "50", "busy-poll-min-load", "0"]);
    let (active, _, _) = watch_load(&server, 4);
    assert!(
        active,
        "polling did not start after CONFIG SET busy-poll-us 50"
    );
}

#[test]
fn the_loop_does_not_poll_under_appendfsync_always() {
    // The fsync thread needs the CPU the polling would take (docs/persistence.md).
    let server = Server::start(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--busy-poll-min-load",
        "0",
    ]);
    let mut c = server.conn();
    assert_no_polling_under_load(&server, &mut c);

    // Under everysec it polls again.
    config_set(&mut c, "appendfsync", "everysec");
    let (active, _, _) = watch_load(&server, 4);
    assert!(active, "polling did not start after appendfsync everysec");
}

#[test]
fn the_loop_does_not_poll_while_a_background_save_runs() {
    let server = Server::start(&["--busy-poll-min-load", "0"]);
    let mut c = server.conn();
    populate(&mut c, 1_000_000);
    let stop = Arc::new(AtomicBool::new(false));
    let workers = load(&server, 4, &stop);
    assert!(
        polling_within(&mut c, Duration::from_secs(2)),
        "no polling before the save"
    );
    let _: String = redis::cmd("BGSAVE").query(&mut c).unwrap();
    let save_seen = Instant::now();
    // Once the save has run for a sample period, the loop no longer polls; checked every 5 ms
    // until the save ends.
    let mut checked = 0;
    loop {
        let info: String = redis::cmd("INFO")
            .arg("persistence")
            .arg("stats")
            .query(&mut c)
            .unwrap();
        let running = common::info_value::<u64>(&info, "rdb_bgsave_in_progress") == Some(1);
        if !running {
            break;
        }
        if save_seen.elapsed() > Duration::from_millis(50) {
            assert_eq!(
                common::info_value::<u64>(&info, "busy_poll_active"),
                Some(0),
                "polling while a background save runs"
            );
            checked += 1;
        }
        assert!(save_seen.elapsed() < Duration::from_secs(60));
        thread::sleep(Duration::from_millis(5));
    }
    assert!(
        checked >= 3,
        "the save ended too soon to check ({checked} samples)"
    );
    // After the save, polling resumes.
    let active = polling_within(&mut c, Duration::from_secs(2));
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    assert!(active, "polling did not resume after the save");
}

#[test]
fn busy_poll_settings_are_validated() {
    let server = Server::start(&[]);
    let mut c = server.conn();
    for (name, bad) in [("busy-poll-us", "10001"), ("busy-poll-min-load", "101")] {
        let err = redis::cmd("CONFIG")
            .arg("SET")
            .arg(name)
            .arg(bad)
            .query::<()>(&mut c)
            .unwrap_err();
        assert!(
            err.to_string().contains("must be between"),
            "{name} {bad}: {err}"
        );
    }
    let got = busy_poll_settings(&mut c);
    assert_eq!(got, ["busy-poll-us", "50", "busy-poll-min-load", "50"]);
}
