//! Prometheus metrics (`GET /metrics` on the HTTP endpoint): every number INFO reports, in the
//! Prometheus text exposition format (version 0.0.4).
//!
//! Why derived from INFO rather than kept separately: INFO is where every subsystem already
//! reports its counters (clients, memory, persistence, the AOF writer, the cluster, rate limits,
//! IDs, per-command and per-error statistics), so a counter added there is exported here with no
//! second list to keep in step, and the two can never disagree. A scrape costs what one
//! `INFO everything` costs: the keyspace lock for the few microseconds the report takes.
//!
//! Naming:
//! - `field:number` becomes `ringkv_<field>`. INFO's cumulative counters are Prometheus counters
//!   named `…_total` (`total_commands_processed` → `ringkv_commands_processed_total`,
//!   `keyspace_hits` → `ringkv_keyspace_hits_total`); everything else is a gauge.
//! - `# Keyspace` lines become `ringkv_db_keys{db="0"}`, `ringkv_db_expires`, `ringkv_db_avg_ttl`
//!   (milliseconds, as INFO).
//! - `# Commandstats` becomes `ringkv_commands_total{cmd="get"}`,
//!   `ringkv_commands_duration_seconds_total`, `ringkv_commands_rejected_calls_total` and
//!   `ringkv_commands_failed_calls_total` (the names redis_exporter uses, with `ringkv_`), and
//!   `# Errorstats` `ringkv_errors_total{err="ERR"}`, and `# Latencystats`
//!   `ringkv_latency_percentiles_usec{cmd="get",quantile="0.99"}` (redis_exporter's name).
//! - Other `name:k=v,…` lines (rate-limit policies, …) become `ringkv_<section>_<k>{name="…"}`
//!   for each numeric `v`.
//! - Text values (versions, policies, `*_human`) are left out; they are not measurements.

use crate::ctx::{Client, Ctx};
use crate::shared::Shared;
use ringkv_protocol::{Protocol, ReplyWriter};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The content type of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// INFO fields that only grow (besides `# Stats`'s `total_*`): exported as counters.
const COUNTERS: &[&str] = &[
    "protocol_errors",
    "timeout_disconnections",
    "client_query_buffer_limit_disconnections",
    "eventloop_parks",
    "busy_poll_idle_usec",
    "rdb_saves",
    "aof_rewrites",
    "cl_throttle_allowed",
    "cl_throttle_limited",
    "rl_limit_allowed",
    "rl_limit_limited",
    "rl_check_allowed",
    "rl_check_limited",
    "expired_keys",
    "evicted_keys",
    "keyspace_hits",
    "keyspace_misses",
    "rejected_connections",
    "expired_time_cap_reached_count",
    "lazyfreed_objects",
    "aof_writes",
    "aof_fsyncs",
    "aof_preallocations",
    "aof_write_errors",
    "aof_delayed_fsync",
];

/// The metrics text for a scrape.
pub fn render(shared: &Shared) -> String {
    let info = {
        let mut store = shared.store.lock();
        store.set_now(shared.clock.now_ms());
        let mut client = Client::internal("metrics");
        let mut out = ReplyWriter::new(Protocol::Resp2);
        let mut ctx = Ctx {
            store: &mut store,
            shared,
            client: &mut client,
            out: &mut out,
        };
        crate::info::generate(&mut ctx, &[b"everything", b"ratelimit", b"ids"])
    };
    from_info(&info)
}

/// A series' labels: (label name, value).
type Labels = Vec<(&'static str, String)>;
/// One sample: metric name, labels, value.
type Sample = (String, Labels, f64);

/// Converts an INFO report to the exposition format (see the module docs for the names).
pub fn from_info(info: &str) -> String {
    let mut samples: Vec<Sample> = Vec::new();
    let mut section = String::new();
    for line in info.lines() {
        if let Some(name) = line.strip_prefix("# ") {
            section = name.trim().to_ascii_lowercase();
            continue;
        }
        // `name` is INFO's field as written (label values keep it: `client|list`).
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        match section.as_str() {
            "keyspace" => {
                let db = name.trim_start_matches("db").to_string();
                for (k, v) in numeric_pairs(value) {
                    samples.push((format!("ringkv_db_{k}"), vec![("db", db.clone())], v));
                }
            }
            "commandstats" => {
                let cmd = name.trim_start_matches("cmdstat_");
                for (k, v) in numeric_pairs(value) {
                    let (metric, v) = match k.as_str() {
                        "calls" => ("ringkv_commands_total", v),
                        "usec" => ("ringkv_commands_duration_seconds_total", v / 1e6),
                        "rejected_calls" => ("ringkv_commands_rejected_calls_total", v),
                        "failed_calls" => ("ringkv_commands_failed_calls_total", v),
                        _ => continue,
                    };
                    samples.push((metric.to_string(), vec![("cmd", cmd.to_string())], v));
                }
            }
            "latencystats" => {
                let cmd = name.trim_start_matches("latency_percentiles_usec_");
                for (p, usec) in value.split(',').filter_map(|kv| kv.split_once('=')) {
                    let quantile = p.trim_start_matches('p').parse::<f64>().map(|p| p / 100.0);
                    if let (Ok(q), Ok(usec)) = (quantile, usec.parse::<f64>()) {
                        samples.push((
                            "ringkv_latency_percentiles_usec".into(),
                            vec![
                                ("cmd", cmd.to_string()),
                                ("quantile", ringkv_config::format_percentile(q)),
                            ],
                            usec,
                        ));
                    }
                }
            }
            "errorstats" => {
                let code = name.trim_start_matches("errorstat_");
                for (k, v) in numeric_pairs(value) {
                    if k == "count" {
                        samples.push((
                            "ringkv_errors_total".into(),
                            vec![("err", code.to_string())],
                            v,
                        ));
                    }
                }
            }
            _ => {
                if let Ok(v) = value.trim().parse::<f64>() {
                    samples.push((metric_name(&section, &sanitize(name)), Vec::new(), v));
                } else if value.contains('=') {
                    for (k, v) in numeric_pairs(value) {
                        // Rate-limit decisions only grow.
                        let suffix = if k == "allowed" || k == "limited" {
                            "_total"
                        } else {
                            ""
                        };
                        samples.push((
                            format!("ringkv_{}_{k}{suffix}", sanitize(&section)),
                            vec![("name", name.to_string())],
                            v,
                        ));
                    }
                }
            }
        }
    }
    exposition(samples)
}

/// `ringkv_<field>`, with cumulative INFO counters named `…_total`.
fn metric_name(section: &str, field: &str) -> String {
    match field.strip_prefix("total_") {
        Some(rest) if section == "stats" => return format!("ringkv_{rest}_total"),
        _ => {}
    }
    if COUNTERS.contains(&field) {
        format!("ringkv_{field}_total")
    } else {
        format!("ringkv_{field}")
    }
}

/// The numeric `k=v` pairs of an INFO value like `keys=1,expires=0,avg_ttl=0`.
fn numeric_pairs(value: &str) -> Vec<(String, f64)> {
    value
        .split(',')
        .filter_map(|kv| kv.split_once('='))
        .filter_map(|(k, v)| v.trim().parse::<f64>().ok().map(|v| (sanitize(k), v)))
        .collect()
}

/// A metric-name-safe version of an INFO name: `[a-zA-Z0-9_]`, anything else becomes `_`.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A label value with the format's escapes (backslash, double quote, newline).
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Groups samples by metric (each metric's samples together, after one `# TYPE` line).
fn exposition(samples: Vec<Sample>) -> String {
    let mut by_name: BTreeMap<String, Vec<(Labels, f64)>> = BTreeMap::new();
    for (name, labels, value) in samples {
        by_name.entry(name).or_default().push((labels, value));
    }
    let mut out = String::with_capacity(by_name.len() * 64);
    for (name, series) in by_name {
        let kind = if name.ends_with("_total") {
            "counter"
        } else {
            "gauge"
        };
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in series {
            out.push_str(&name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {value}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn info_becomes_typed_metrics() {
        let info = "# Stats\r\ntotal_commands_processed:12\r\nkeyspace_hits:3\r\n\
                    instantaneous_ops_per_sec:4\r\nos:Linux 6\r\nused_memory_human:1.5K\r\n\
                    \r\n# Memory\r\ntotal_system_memory:1024\r\n\
                    \r\n# Commandstats\r\n\
                    cmdstat_client|list:calls=2,usec=30,usec_per_call=15.00,rejected_calls=0,failed_calls=1\r\n\
                    \r\n# Errorstats\r\nerrorstat_WRONGTYPE:count=5\r\n\
                    \r\n# Keyspace\r\ndb3:keys=10,expires=2,avg_ttl=500\r\n\
                    \r\n# Ratelimit\r\npolicy_a\"b:allowed=7,limited=1,algorithm=gcra\r\n";
        let text = from_info(info);
        for want in [
            "# TYPE ringkv_commands_processed_total counter\nringkv_commands_processed_total 12\n",
            "# TYPE ringkv_keyspace_hits_total counter\nringkv_keyspace_hits_total 3\n",
            "# TYPE ringkv_instantaneous_ops_per_sec gauge\nringkv_instantaneous_ops_per_sec 4\n",
            "ringkv_commands_total{cmd=\"client|list\"} 2\n",
            "ringkv_commands_duration_seconds_total{cmd=\"client|list\"} 0.00003\n",
            "ringkv_commands_failed_calls_total{cmd=\"client|list\"} 1\n",
            "ringkv_errors_total{err=\"WRONGTYPE\"} 5\n",
            "ringkv_db_keys{db=\"3\"} 10\n",
            "ringkv_db_avg_ttl{db=\"3\"} 500\n",
            "ringkv_ratelimit_allowed_total{name=\"policy_a\\\"b\"} 7\n",
        ] {
            assert!(text.contains(want), "{want:?} missing from:\n{text}");
        }
        assert!(!text.contains("ringkv_os"), "{text}");
        assert!(
            text.contains("# TYPE ringkv_total_system_memory gauge\n"),
            "{text}"
        );
        assert!(!text.contains("human"), "{text}");
        assert!(!text.contains("usec_per_call"), "{text}");
        // One TYPE line per metric.
        assert_eq!(text.matches("# TYPE ringkv_commands_total ").count(), 1);
    }
}
