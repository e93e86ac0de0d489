//! The latency monitor and per-command latency tracking (Redis's LATENCY command,
//! `latency-monitor-threshold`, `latency-tracking`, INFO `latencystats`).
//!
//! Why: when tail latency rises, an operator asks which part of the server was slow and when.
//! The monitor keeps, per event class, one sample per second (the worst of that second) for the
//! last 160 seconds in which the class was at or above the threshold, and the all-time worst.
//! Classes, as Redis names them where the meaning is the same:
//! - `command` / `fast-command`: a command's execution (`fast-command`: those flagged fast, O(1)
//!   or O(log N)), as timed for INFO commandstats;
//! - `aof-write`: the AOF writer's `write` of a batch. ringkv's writer runs on its own thread,
//!   so it delays the `always` replies and the log, not the event loop (Redis's finer
//!   `aof-write-alone` / `-active-child` / `-pending-fsync` split is not made);
//! - `aof-fsync-always`: the fsync of an `appendfsync always` cycle;
//! - `expire-cycle`: one run of the active expiry on the event loop;
//! - `eviction-cycle`: freeing memory for a command over `maxmemory` (Redis also samples each
//!   key's deletion as `eviction-del`; ringkv does not time keys one by one).
//!
//! `latency-tracking` (default yes) keeps a histogram of every command's execution times (see
//! `ringkv_engine::latency_histogram`), which LATENCY HISTOGRAM and INFO latencystats report as
//! Redis does.
//!
//! Cost: a sample costs one relaxed load and a compare unless it is at or above the threshold
//! (off by default); the histograms add one counter increment per command, under the keyspace
//! lock the command already holds.

use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::info::field;
use crate::introspection::reply_help;
use crate::table::{flags, CommandSpec};
use parking_lot::Mutex;
use ringkv_config::Config;
use ringkv_engine::latency_histogram::LatencyHistogram;
use ringkv_protocol::Args;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

/// Samples kept per event class (Redis's LATENCY_TS_LEN).
const SERIES_LEN: usize = 160;
/// Width of LATENCY GRAPH.
const GRAPH_COLUMNS: usize = 80;
/// Height of LATENCY GRAPH's bars.
const GRAPH_ROWS: usize = 4;

/// One second's worst latency of a class.
#[derive(Clone, Copy, Default)]
struct Sample {
    /// Unix time, seconds; 0 = unused slot.
    time: i64,
    latency_ms: u64,
}

/// An event class's samples: a ring of the last [`SERIES_LEN`] seconds with a sample.
struct Series {
    event: &'static str,
    /// The next slot to write.
    next: usize,
    max_ms: u64,
    samples: [Sample; SERIES_LEN],
}

impl Series {
    fn new(event: &'static str) -> Series {
        Series {
            event,
            next: 0,
            max_ms: 0,
            samples: [Sample::default(); SERIES_LEN],
        }
    }

    fn add(&mut self, now_s: i64, latency_ms: u64) {
        self.max_ms = self.max_ms.max(latency_ms);
        let prev = &mut self.samples[(self.next + SERIES_LEN - 1) % SERIES_LEN];
        if prev.time == now_s {
            prev.latency_ms = prev.latency_ms.max(latency_ms);
            return;
        }
        self.samples[self.next] = Sample {
            time: now_s,
            latency_ms,
        };
        self.next = (self.next + 1) % SERIES_LEN;
    }

    /// The samples in use, oldest first.
    fn in_order(&self) -> impl Iterator<Item = &Sample> {
        (0..SERIES_LEN)
            .map(move |j| &self.samples[(self.next + j) % SERIES_LEN])
            .filter(|s| s.time != 0)
    }

    fn latest(&self) -> Sample {
        self.samples[(self.next + SERIES_LEN - 1) % SERIES_LEN]
    }
}

/// The process's latency monitor (one server per process, as its settings).
struct Monitor {
    threshold_ms: AtomicU64,
    tracking: AtomicBool,
    /// Event classes in the order they first had a sample.
    series: Mutex<Vec<Series>>,
}

static MONITOR: Monitor = Monitor {
    threshold_ms: AtomicU64::new(0),
    tracking: AtomicBool::new(true),
    series: Mutex::new(Vec::new()),
};

/// Takes the settings (start-up and every CONFIG SET).
pub fn configure(config: &Config) {
    MONITOR
        .threshold_ms
        .store(config.latency_monitor_threshold, Ordering::Relaxed);
    MONITOR
        .tracking
        .store(config.latency_tracking, Ordering::Relaxed);
}

/// Whether the monitor is on (`latency-monitor-threshold` above 0): callers on hot paths time an
/// event only then.
#[inline]
pub fn monitoring() -> bool {
    MONITOR.threshold_ms.load(Ordering::Relaxed) != 0
}

/// Adds a sample of `event` if the monitor is on and `took` reaches its threshold (Redis's
/// `latencyAddSampleIfNeeded`; callable from any thread).
#[inline]
pub fn sample(event: &'static str, took: Duration) {
    let threshold = MONITOR.threshold_ms.load(Ordering::Relaxed);
    let ms = took.as_millis() as u64;
    if threshold == 0 || ms < threshold {
        return;
    }
    let now_s = unix_seconds();
    let mut series = MONITOR.series.lock();
    let index = match series.iter().position(|s| s.event == event) {
        Some(i) => i,
        None => {
            series.push(Series::new(event));
            series.len() - 1
        }
    };
    series[index].add(now_s, ms);
}

/// A command ran for `usec` microseconds: the monitor's `command` / `fast-command` sample, and
/// the command's histogram when tracking is on.
#[inline]
pub(crate) fn command_ran(spec: &CommandSpec, usec: u64, histogram: &mut Option<LatencyHistogram>) {
    if monitoring() {
        let event = if spec.has(flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        sample(event, Duration::from_micros(usec));
    }
    if MONITOR.tracking.load(Ordering::Relaxed) {
        // Whole microseconds in nanoseconds, as Redis records them.
        histogram
            .get_or_insert_with(LatencyHistogram::default)
            .record(usec.saturating_mul(1000));
    }
}

/// Unix time in seconds: samples come from any thread (the AOF writer too), so from the system
/// clock rather than a command's cached time.
fn unix_seconds() -> i64 {
    use ringkv_engine::clock::{Clock, SystemClock};
    SystemClock.now_ms() / 1000
}

/// INFO latencystats: `latency_percentiles_usec_<command>:p50=…,p99=…,p99.9=…` for every command
/// with a histogram.
pub(crate) fn info_section(ctx: &mut Ctx<'_>, out: &mut String) {
    out.push_str("# Latencystats\r\n");
    let percentiles = ctx
        .shared
        .config
        .read()
        .latency_tracking_info_percentiles
        .clone();
    let names = ctx.shared.commands.stat_names();
    for (name, stat) in names.iter().zip(&ctx.store.common.command_stats) {
        let Some(h) = stat.latency.as_ref() else {
            continue;
        };
        let values: Vec<String> = percentiles
            .iter()
            .map(|p| {
                format!(
                    "p{}={:.3}",
                    ringkv_config::format_percentile(p.0),
                    h.value_at_percentile(p.0) as f64 / 1000.0
                )
            })
            .collect();
        field(
            out,
            &format!("latency_percentiles_usec_{name}"),
            values.join(","),
        );
    }
}

const ADMIN: u32 = flags::ADMIN | flags::NOSCRIPT | flags::LOADING | flags::STALE;

pub const COMMANDS: &[CommandSpec] =
    &[
        CommandSpec::new("latency", -2, 0, crate::dispatch::container)
            .group("server")
            .doc(
                "A container for latency diagnostics commands.",
                "2.8.13",
                "Depends on subcommand.",
            )
            .subcommands(SUBCOMMANDS),
    ];

const SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec::new("doctor", 2, ADMIN, doctor)
        .group("server")
        .doc(
            "Returns a human-readable latency analysis report.",
            "2.8.13",
            "O(1)",
        ),
    CommandSpec::new("graph", 3, ADMIN, graph)
        .group("server")
        .doc("Returns a latency graph for an event.", "2.8.13", "O(1)")
        .syntax("event"),
    CommandSpec::new("histogram", -2, ADMIN, histogram)
        .group("server")
        .doc(
            "Returns the cumulative distribution of latencies of a subset or all commands.",
            "7.0.0",
            "O(N) where N is the number of commands with latency information being retrieved.",
        )
        .syntax("[command [command ...]]"),
    CommandSpec::new("history", 3, ADMIN, history)
        .group("server")
        .doc(
            "Returns timestamp-latency samples for an event.",
            "2.8.13",
            "O(1)",
        )
        .syntax("event"),
    CommandSpec::new("latest", 2, ADMIN, latest)
        .group("server")
        .doc(
            "Returns the latest latency samples for all events.",
            "2.8.13",
            "O(1)",
        ),
    CommandSpec::new("reset", -2, ADMIN, reset)
        .group("server")
        .doc(
            "Resets the latency data for one or more events.",
            "2.8.13",
            "O(1)",
        )
        .syntax("[event [event ...]]"),
    CommandSpec::new("help", 2, flags::LOADING | flags::STALE, help)
        .group("server")
        .doc(
            "Returns helpful text about the different subcommands.",
            "2.8.13",
            "O(1)",
        ),
];

fn history(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let series = MONITOR.series.lock();
    let Some(s) = find(&series, args.arg(2)) else {
        ctx.out.array(0);
        return Ok(());
    };
    let samples: Vec<Sample> = s.in_order().copied().collect();
    drop(series);
    ctx.out.array(samples.len());
    for sample in samples {
        ctx.out.array(2);
        ctx.out.integer(sample.time);
        ctx.out.integer(clamp_i64(sample.latency_ms));
    }
    Ok(())
}

fn latest(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let rows: Vec<(&'static str, Sample, u64)> = MONITOR
        .series
        .lock()
        .iter()
        .map(|s| (s.event, s.latest(), s.max_ms))
        .collect();
    ctx.out.array(rows.len());
    for (event, last, max) in rows {
        ctx.out.array(4);
        ctx.out.bulk(event.as_bytes());
        ctx.out.integer(last.time);
        ctx.out.integer(clamp_i64(last.latency_ms));
        ctx.out.integer(clamp_i64(max));
    }
    Ok(())
}

fn reset(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let mut series = MONITOR.series.lock();
    let before = series.len();
    if args.len() == 2 {
        series.clear();
    } else {
        let named = |s: &Series| {
            (2..args.len()).any(|i| s.event.as_bytes().eq_ignore_ascii_case(args.arg(i)))
        };
        series.retain(|s| !named(s));
    }
    let removed = before - series.len();
    drop(series);
    ctx.out.integer(removed as i64);
    Ok(())
}

fn graph(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let series = MONITOR.series.lock();
    let Some(s) = find(&series, args.arg(2)) else {
        return Err(CmdError::Owned(format!(
            "ERR No samples available for event '{}'",
            String::from_utf8_lossy(args.arg(2))
        )));
    };
    let text = render_graph(s, unix_seconds());
    drop(series);
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn doctor(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    let report = {
        let config = ctx.shared.config.read();
        let series = MONITOR.series.lock();
        report(&series, &config, unix_seconds())
    };
    ctx.out.verbatim(b"txt", report.as_bytes());
    Ok(())
}

/// A command's name, calls and cumulative distribution (bound in µs, values at or below).
type HistogramRow<'a> = (&'a str, u64, Vec<(u64, u64)>);

/// LATENCY HISTOGRAM [command ...]: each named command (all with data when none is named) that
/// has a histogram, and its subcommands, as `name → {calls, histogram_usec → {bound → count}}`.
fn histogram(ctx: &mut Ctx<'_>, args: Args<'_>) -> CmdResult {
    let names = ctx.shared.commands.stat_names();
    let wanted = |name: &str| {
        args.len() == 2
            || (2..args.len()).any(|i| {
                let asked = args.arg(i);
                let parent = name.split('|').next().unwrap_or(name);
                parent.as_bytes().eq_ignore_ascii_case(asked)
                    || name.as_bytes().eq_ignore_ascii_case(asked)
            })
    };
    let rows: Vec<HistogramRow> = names
        .iter()
        .zip(&ctx.store.common.command_stats)
        .filter_map(|(name, stat)| {
            let h = stat.latency.as_ref()?;
            wanted(name).then(|| (name.as_str(), h.total(), h.cumulative()))
        })
        .collect();
    ctx.out.map(rows.len());
    for (name, calls, buckets) in rows {
        ctx.out.bulk(name.as_bytes());
        ctx.out.map(2);
        ctx.out.bulk(b"calls");
        ctx.out.integer(clamp_i64(calls));
        ctx.out.bulk(b"histogram_usec");
        ctx.out.map(buckets.len());
        for (bound, count) in buckets {
            ctx.out.integer(clamp_i64(bound));
            ctx.out.integer(clamp_i64(count));
        }
    }
    Ok(())
}

fn help(ctx: &mut Ctx<'_>, _: Args<'_>) -> CmdResult {
    reply_help(
        ctx,
        "latency",
        &[
            "DOCTOR",
            "    Return a human readable latency analysis report.",
            "GRAPH <event>",
            "    Return an ASCII latency graph for the <event> class.",
            "HISTORY <event>",
            "    Return time-latency samples for the <event> class.",
            "LATEST",
            "    Return the latest latency samples for all events.",
            "RESET [<event> ...]",
            "    Reset latency data of one or more <event> classes.",
            "    (default: reset all data for all event classes)",
            "HISTOGRAM [COMMAND ...]",
            "    Return a cumulative distribution of latencies in the format of a histogram for the specified command names.",
            "    If no commands are specified then all histograms are replied.",
        ],
    );
    Ok(())
}

/// Event names are matched exactly, as Redis's dictionary lookup does (RESET ignores case).
fn find<'a>(series: &'a [Series], event: &[u8]) -> Option<&'a Series> {
    series.iter().find(|s| s.event.as_bytes() == event)
}

fn clamp_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// LATENCY GRAPH's text: a title line, a rule, and the samples as a sparkline (Redis's layout:
/// four rows of `_o#|` bars scaled between the lowest and highest sample, then each sample's
/// age, written downwards under it).
fn render_graph(s: &Series, now_s: i64) -> String {
    let samples: Vec<(u64, String)> = s
        .in_order()
        .map(|sample| (sample.latency_ms, age_label(now_s - sample.time)))
        .collect();
    let high = samples.iter().map(|(v, _)| *v).max().unwrap_or(0);
    let low = samples.iter().map(|(v, _)| *v).min().unwrap_or(0);
    let mut out = format!(
        "{} - high {high} ms, low {low} ms (all time high {} ms)\n",
        s.event, s.max_ms
    );
    out.push_str(&"-".repeat(GRAPH_COLUMNS));
    out.push('\n');
    for (i, chunk) in samples.chunks(GRAPH_COLUMNS).enumerate() {
        if i != 0 {
            out.push('\n');
        }
        sparkline(&mut out, chunk, low as f64, high as f64);
    }
    out
}

/// How long ago a sample was taken: `12s`, `5m`, `3h`, `2d`.
fn age_label(seconds: i64) -> String {
    match seconds {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86_400),
    }
}

/// One band of a sparkline: [`GRAPH_ROWS`] rows of bars, a blank row, then the labels written
/// vertically, one character per row.
fn sparkline(out: &mut String, samples: &[(u64, String)], min: f64, max: f64) {
    const FILL: [char; 3] = ['_', 'o', '#'];
    let steps = (FILL.len() * GRAPH_ROWS) as f64;
    let range = if max - min == 0.0 { 1.0 } else { max - min };
    let step_of = |v: u64| {
        let step = ((v as f64 - min) * steps).trunc() / range;
        (step as i64).clamp(0, steps as i64 - 1)
    };
    for row in 0..GRAPH_ROWS {
        let line: String = samples
            .iter()
            .map(|(v, _)| {
                let index = step_of(*v) - ((GRAPH_ROWS - row - 1) * FILL.len()) as i64;
                match usize::try_from(index) {
                    Ok(i) if i < FILL.len() => FILL[i],
                    Ok(_) => '|',
                    Err(_) => ' ',
                }
            })
            .collect();
        out.push_str(&line);
        out.push('\n');
    }
    let longest = samples.iter().map(|(_, l)| l.len()).max().unwrap_or(0);
    if longest == 0 {
        return;
    }
    out.push_str(&" ".repeat(samples.len()));
    out.push('\n');
    for at in 0..longest {
        let line: String = samples
            .iter()
            .map(|(_, label)| label.as_bytes().get(at).map_or(' ', |&b| b as char))
            .collect();
        out.push_str(&line);
        out.push('\n');
    }
}

/// Per-class statistics over the samples kept (Redis's `analyzeLatencyForEvent`).
struct Stats {
    samples: u64,
    avg: u64,
    /// Mean absolute deviation from the average.
    mad: u64,
    /// Seconds from the oldest sample to now (at least 1).
    period: i64,
}

fn analyze(s: &Series, now_s: i64) -> Stats {
    let values: Vec<&Sample> = s.in_order().collect();
    let n = values.len() as u64;
    if n == 0 {
        return Stats {
            samples: 0,
            avg: 0,
            mad: 0,
            period: 0,
        };
    }
    let avg = values.iter().map(|v| v.latency_ms).sum::<u64>() / n;
    let mad = values
        .iter()
        .map(|v| v.latency_ms.abs_diff(avg))
        .sum::<u64>()
        / n;
    let oldest = values.iter().map(|v| v.time).min().unwrap_or(now_s);
    Stats {
        samples: n,
        avg,
        mad,
        period: (now_s - oldest).max(1),
    }
}

/// LATENCY DOCTOR: each class's statistics, then advice for the classes seen.
fn report(series: &[Series], config: &Config, now_s: i64) -> String {
    let threshold = config.latency_monitor_threshold;
    if series.is_empty() && threshold == 0 {
        return "Latency monitoring is disabled in this ringkv instance. Enable it with \
                \"CONFIG SET latency-monitor-threshold <milliseconds>\".\n"
            .to_string();
    }
    if series.is_empty() {
        return "No latency spike was observed during the lifetime of this ringkv instance.\n"
            .to_string();
    }
    let mut out = String::from("Latency spikes were observed in this ringkv instance.\n\n");
    let mut advice: Vec<String> = Vec::new();
    let mut advise = |text: String| {
        if !advice.contains(&text) {
            advice.push(text);
        }
    };
    for (i, s) in series.iter().enumerate() {
        let st = analyze(s, now_s);
        let _ = writeln!(
            out,
            "{}. {}: {} latency spikes (average {}ms, mean deviation {}ms, period {:.2} sec). Worst all time event {}ms.",
            i + 1,
            s.event,
            st.samples,
            st.avg,
            st.mad,
            st.period as f64 / st.samples.max(1) as f64,
            s.max_ms
        );
        match s.event {
            "command" => {
                if config.slowlog_log_slower_than < 0 {
                    advise(format!(
                        "- Slow commands caused latency, and the slow log is off: enable it with \
                         'CONFIG SET slowlog-log-slower-than {}' to see which ones.",
                        threshold.saturating_mul(1000)
                    ));
                } else if config.slowlog_log_slower_than.unsigned_abs() / 1000 > threshold {
                    advise(format!(
                        "- The slow log only records commands slower than the latency monitor's \
                         threshold: use 'CONFIG SET slowlog-log-slower-than {}'.",
                        threshold.saturating_mul(1000)
                    ));
                }
                advise(
                    "- Check SLOWLOG GET for the commands that were slow, and their arguments."
                        .into(),
                );
                advise(LARGE_OBJECTS.into());
            }
            "fast-command" => advise(
                "- Commands that are fast by design were slow: the server did not get CPU time. \
                 Lower the machine's load, give the server a machine or VM of its own, and \
                 check the system's own latency with 'redis-cli --intrinsic-latency 100'."
                    .into(),
            ),
            "aof-write" => advise(
                "- Writes to the append-only file were slow: use a local disk (SSD if possible) \
                 and keep other disk-heavy processes off it; 'no-appendfsync-on-rewrite yes' \
                 avoids fsyncs while a rewrite or background save writes."
                    .into(),
            ),
            "aof-fsync-always" if config.appendfsync == ringkv_config::AppendFsync::Always => {
                advise(
                    "- 'appendfsync always' waits for the disk on every write: \
                     'appendfsync everysec' bounds the loss to about a second instead."
                        .into(),
                )
            }
            "expire-cycle" => {
                if config.hz < 100 {
                    advise(
                        "- Active expiry took long: 'CONFIG SET hz 100' runs it in smaller steps."
                            .into(),
                    );
                }
                advise(LARGE_OBJECTS.into());
            }
            "eviction-cycle" => advise(
                "- Freeing memory for maxmemory took long: avoid lowering 'maxmemory' abruptly \
                 with CONFIG SET, and creating large values (set or sorted set operations with \
                 a destination, SORT ... STORE) close to the limit."
                    .into(),
            ),
            _ => {}
        }
    }
    if advice.is_empty() {
        out.push_str("\nThere is no simple fix to suggest for these events.\n");
    } else {
        out.push_str("\nAdvice:\n\n");
        for a in advice {
            out.push_str(&a);
            out.push('\n');
        }
    }
    out
}

const LARGE_OBJECTS: &str = "- Deleting, expiring or evicting a large value (a collection of \
    millions of elements) takes time in proportion to its size: split such values into \
    smaller ones, or delete them with UNLINK.";

#[cfg(test)]
mod tests {
    use super::*;

    fn series(event: &'static str, samples: &[(i64, u64)]) -> Series {
        let mut s = Series::new(event);
        for &(t, ms) in samples {
            s.add(t, ms);
        }
        s
    }

    #[test]
    fn one_sample_per_second_the_worst_one() {
        let s = series("command", &[(100, 5), (100, 9), (100, 7), (101, 3)]);
        let got: Vec<(i64, u64)> = s.in_order().map(|x| (x.time, x.latency_ms)).collect();
        assert_eq!(got, [(100, 9), (101, 3)]);
        assert_eq!(s.max_ms, 9);
        assert_eq!(s.latest().latency_ms, 3);
    }

    #[test]
    fn the_ring_keeps_the_last_160_seconds() {
        let samples: Vec<(i64, u64)> = (1..=200).map(|t| (t, t as u64)).collect();
        let s = series("command", &samples);
        let got: Vec<i64> = s.in_order().map(|x| x.time).collect();
        assert_eq!(got.len(), SERIES_LEN);
        assert_eq!(got[0], 41);
        assert_eq!(*got.last().unwrap(), 200);
        assert_eq!(s.max_ms, 200);
    }

    #[test]
    fn the_graph_is_redis_sparkline() {
        // Redis 7.0.15 printed these bars for DEBUG SLEEP 0.010, 0.020, 0.030 and 0.040 one
        // second apart (its labels were 4321: it was asked a second later).
        let s = series("command", &[(97, 10), (98, 20), (99, 30), (100, 40)]);
        let text = render_graph(&s, 100);
        assert_eq!(
            text,
            format!(
                "command - high 40 ms, low 10 ms (all time high 40 ms)\n{}\n   #\n  #|\n o||\n_|||\n    \n3210\nssss\n",
                "-".repeat(80)
            )
        );
    }

    #[test]
    fn doctor_reports_each_class_and_its_advice() {
        let config = Config {
            latency_monitor_threshold: 5,
            slowlog_log_slower_than: 10_000,
            hz: 10,
            ..Config::default()
        };
        let s = [
            series("command", &[(90, 10), (95, 30)]),
            series("expire-cycle", &[(99, 6)]),
        ];
        let text = report(&s, &config, 100);
        assert!(text.starts_with("Latency spikes were observed"), "{text}");
        assert!(text.contains(
            "1. command: 2 latency spikes (average 20ms, mean deviation 10ms, period 5.00 sec). Worst all time event 30ms."
        ), "{text}");
        assert!(text.contains("2. expire-cycle: 1 latency spikes"), "{text}");
        assert!(text.contains("SLOWLOG GET"));
        assert!(text.contains("'CONFIG SET hz 100'"));
        assert_eq!(text.matches(LARGE_OBJECTS).count(), 1, "advice given once");
        assert!(report(&[], &Config::default(), 100).contains("disabled"));
        assert!(report(&[], &config, 100).starts_with("No latency spike"));
    }
}
