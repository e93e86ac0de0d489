//! The latency monitor (LATENCY LATEST/HISTORY/GRAPH/RESET/DOCTOR, `latency-monitor-threshold`)
//! and per-command latency tracking (LATENCY HISTOGRAM, INFO latencystats,
//! `latency-tracking`, `latency-tracking-info-percentiles`), with Redis 7.0's replies and errors.

mod common;

use common::{config_set, run, Server};
use redis::Value;

fn latest(c: &mut redis::Connection) -> Vec<(String, i64, i64, i64)> {
    redis::cmd("LATENCY").arg("LATEST").query(c).unwrap()
}

#[test]
fn the_monitor_samples_slow_events_once_enabled() {
    let s = Server::start(&[]);
    let mut c = s.conn();
    // Off by default: nothing is sampled, and the doctor says how to turn it on.
    let _: () = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg("0.02")
        .query(&mut c)
        .unwrap();
    assert!(latest(&mut c).is_empty());
    let doctor: String = redis::cmd("LATENCY").arg("DOCTOR").query(&mut c).unwrap();
    assert!(doctor.contains("latency-monitor-threshold"), "{doctor}");

    config_set(&mut c, "latency-monitor-threshold", "10");
    let _: () = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg("0.005")
        .query(&mut c)
        .unwrap();
    assert!(latest(&mut c).is_empty(), "below the threshold");
    let _: () = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg("0.03")
        .query(&mut c)
        .unwrap();
    let rows = latest(&mut c);
    assert_eq!(rows.len(), 1, "{rows:?}");
    let (event, time, last, max) = rows[0].clone();
    assert_eq!(event, "command");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert!((now - time).abs() <= 2, "{time} vs {now}");
    assert!((30..1000).contains(&last), "{last}");
    assert_eq!(max, last);

    let history: Vec<(i64, i64)> = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("command")
        .query(&mut c)
        .unwrap();
    assert_eq!(history, vec![(time, last)]);
    let none: Vec<(i64, i64)> = redis::cmd("LATENCY")
        .arg("HISTORY")
        .arg("nosuch")
        .query(&mut c)
        .unwrap();
    assert!(none.is_empty());

    let graph: String = redis::cmd("LATENCY")
        .arg("GRAPH")
        .arg("command")
        .query(&mut c)
        .unwrap();
    assert!(
        graph.starts_with(&format!(
            "command - high {last} ms, low {last} ms (all time high {last} ms)\n{}\n",
            "-".repeat(80)
        )),
        "{graph}"
    );
    let doctor: String = redis::cmd("LATENCY").arg("DOCTOR").query(&mut c).unwrap();
    assert!(doctor.contains("1. command: 1 latency spikes"), "{doctor}");

    let mut r = s.raw();
    assert_eq!(
        run(&mut r, &["LATENCY", "GRAPH", "nosuch"]),
        "-ERR No samples available for event 'nosuch'"
    );
    assert_eq!(
        run(&mut r, &["LATENCY", "HISTORY"]),
        "-ERR wrong number of arguments for 'latency|history' command"
    );
    assert_eq!(
        run(&mut r, &["LATENCY", "LATEST", "x"]),
        "-ERR wrong number of arguments for 'latency|latest' command"
    );
    assert_eq!(
        run(&mut r, &["LATENCY", "FOO"]),
        "-ERR unknown subcommand 'FOO'. Try LATENCY HELP."
    );
    assert_eq!(run(&mut r, &["LATENCY", "RESET", "nosuch"]), ":0");
    assert_eq!(run(&mut r, &["LATENCY", "RESET", "COMMAND"]), ":1");
    assert!(latest(&mut c).is_empty());
    assert_eq!(
        run(&mut r, &["CONFIG", "SET", "latency-monitor-threshold", "-1"]),
        "-ERR CONFIG SET failed (possibly related to argument 'latency-monitor-threshold') - argument must be between 0 and 9223372036854775807 inclusive"
    );
}

/// `histogram_usec` of one command in a LATENCY HISTOGRAM reply: (bound, cumulative count).
fn histogram_of(reply: &Value, command: &str) -> Option<(i64, Vec<(i64, i64)>)> {
    let Value::Map(commands) = reply else {
        panic!("not a map: {reply:?}")
    };
    let (_, data) = commands
        .iter()
        .find(|(k, _)| matches!(k, Value::BulkString(b) if b == command.as_bytes()))?;
    let Value::Map(fields) = data else {
        panic!("{data:?}")
    };
    let calls = match &fields[0] {
        (Value::BulkString(k), Value::Int(n)) if k == b"calls" => *n,
        other => panic!("{other:?}"),
    };
    let buckets = match &fields[1] {
        (Value::BulkString(k), Value::Map(b)) if k == b"histogram_usec" => b
            .iter()
            .map(|(bound, count)| match (bound, count) {
                (Value::Int(a), Value::Int(b)) => (*a, *b),
                other => panic!("{other:?}"),
            })
            .collect(),
        other => panic!("{other:?}"),
    };
    Some((calls, buckets))
}

#[test]
fn commands_get_latency_histograms_and_percentiles() {
    let s = Server::start(&[]);
    let mut c = s.conn3();
    for i in 0..100 {
        let _: () = redis::cmd("SET").arg("k").arg(i).query(&mut c).unwrap();
    }
    let _: () = redis::cmd("DEBUG")
        .arg("SLEEP")
        .arg("0.003")
        .query(&mut c)
        .unwrap();
    let reply: Value = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .arg("set")
        .arg("debug")
        .arg("nosuch")
        .query(&mut c)
        .unwrap();
    let (calls, buckets) = histogram_of(&reply, "set").expect("set's histogram");
    assert_eq!(calls, 100);
    assert_eq!(buckets.last().map(|b| b.1), Some(100));
    assert!(buckets
        .windows(2)
        .all(|w| w[0].0 < w[1].0 && w[0].1 < w[1].1));
    // Bounds are Redis's: 1, 2, 4, 8, 16, 33, 66 ... microseconds.
    for (bound, _) in &buckets {
        assert!(
            [1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454].contains(bound),
            "{bound}"
        );
    }
    // A subcommand is reported under its full name when its parent is asked for.
    let (debug_calls, debug_buckets) =
        histogram_of(&reply, "debug|sleep").expect("debug|sleep's histogram");
    assert_eq!(debug_calls, 1);
    assert!(debug_buckets[0].0 >= 2113, "{debug_buckets:?}");
    assert!(histogram_of(&reply, "get").is_none());
    // A subcommand can be asked for by its full name.
    let reply: Value = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .arg("DEBUG|SLEEP")
        .query(&mut c)
        .unwrap();
    assert_eq!(histogram_of(&reply, "debug|sleep").map(|h| h.0), Some(1));
    assert!(histogram_of(&reply, "set").is_none());

    let info: String = redis::cmd("INFO")
        .arg("latencystats")
        .query(&mut c)
        .unwrap();
    let line = info
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_set:"))
        .unwrap_or_else(|| panic!("{info}"));
    let fields: Vec<&str> = line.split(':').nth(1).unwrap().split(',').collect();
    assert_eq!(fields.len(), 3, "{line}");
    assert!(fields[0].starts_with("p50=") && fields[1].starts_with("p99="));
    assert!(fields[2].starts_with("p99.9="), "{line}");
    // Values are microseconds: DEBUG SLEEP 0.003 is about 3000 (not 3, nor 3,000,000).
    let sleep_line = info
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_debug|sleep:"))
        .unwrap_or_else(|| panic!("{info}"));
    let p50: f64 = sleep_line
        .split(['=', ','])
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{sleep_line}"));
    assert!((3000.0..100_000.0).contains(&p50), "{sleep_line}");
    let info_all: String = redis::cmd("INFO").arg("everything").query(&mut c).unwrap();
    assert!(info_all.contains("# Latencystats\r\n"));
    let info_default: String = redis::cmd("INFO").query(&mut c).unwrap();
    assert!(!info_default.contains("# Latencystats"));

    config_set(&mut c, "latency-tracking-info-percentiles", "10 99.99");
    let info: String = redis::cmd("INFO")
        .arg("latencystats")
        .query(&mut c)
        .unwrap();
    assert!(info.contains("latency_percentiles_usec_set:p10="), "{info}");
    assert!(info.contains(",p99.99="), "{info}");

    // Tracking off: commands run since get no histogram.
    config_set(&mut c, "latency-tracking", "no");
    let _: Option<String> = redis::cmd("GET").arg("k").query(&mut c).unwrap();
    let reply: Value = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .query(&mut c)
        .unwrap();
    assert!(histogram_of(&reply, "get").is_none());
    assert!(histogram_of(&reply, "set").is_some());
    // CONFIG RESETSTAT drops the histograms.
    let _: () = redis::cmd("CONFIG").arg("RESETSTAT").query(&mut c).unwrap();
    let reply: Value = redis::cmd("LATENCY")
        .arg("HISTOGRAM")
        .query(&mut c)
        .unwrap();
    assert_eq!(reply, Value::Map(vec![]));

    let mut r = s.raw();
    assert_eq!(
        run(
            &mut r,
            &["CONFIG", "SET", "latency-tracking-info-percentiles", "101"]
        ),
        "-ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
    );
    assert_eq!(
        run(
            &mut r,
            &["CONFIG", "SET", "latency-tracking-info-percentiles", "abc"]
        ),
        "-ERR CONFIG SET failed (possibly related to argument 'latency-tracking-info-percentiles') - Invalid latency-tracking-info-percentiles parameters"
    );
}
