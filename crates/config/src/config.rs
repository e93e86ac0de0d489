//! The typed [`Config`] the rest of ringkv reads, and the run-time
//! operations on it: `CONFIG GET` ([`Config::get`]) and `CONFIG SET`
//! ([`Config::set`]) with Redis 7 matching rules and error texts. All
//! per-parameter knowledge comes from the table in `table.rs`; this module
//! only implements the command semantics (pattern matching, atomicity,
//! error precedence).

use std::path::{Path, PathBuf};

use crate::enums::{AppendFsync, EvictionPolicy, LogLevel};
use crate::glob::{has_glob_chars, string_match};
use crate::table::{entries, lookup, Spec, TABLE};

/// A percentile (0 to 100) of `latency-tracking-info-percentiles`; compared by its bits so the
/// configuration stays `Eq`.
#[derive(Debug, Clone, Copy)]
pub struct Percentile(pub f64);

impl PartialEq for Percentile {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for Percentile {}

/// The server configuration. Every field is one parameter of the table
/// (see [`crate::param_names`]); units are given per field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `bind`: addresses to listen on. Empty means listen nowhere.
    pub bind: Vec<String>,
    /// `port`: TCP port (0 = do not listen on TCP).
    pub port: u16,
    /// `dir`: working directory for data files.
    pub dir: String,
    /// `requirepass`: password for the default user; empty = no AUTH.
    pub requirepass: String,
    /// `maxmemory`: bytes; 0 = no limit.
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub maxmemory_policy: EvictionPolicy,
    /// `maxmemory-samples`: keys sampled per eviction (1..=64).
    pub maxmemory_samples: u32,
    /// `lfu-log-factor`.
    pub lfu_log_factor: u32,
    /// `lfu-decay-time`: minutes.
    pub lfu_decay_time: u32,
    /// `stream-node-max-entries`: entries per stream macro node (0 = no limit).
    pub stream_node_max_entries: u64,
    /// `stream-node-max-bytes`: bytes per stream macro node (0 = no limit).
    pub stream_node_max_bytes: u64,
    /// `hll-sparse-max-bytes`: a HyperLogLog longer than this (header included) is stored dense.
    pub hll_sparse_max_bytes: u64,
    /// `loglevel`.
    pub loglevel: LogLevel,
    /// `logfile`: path; empty = standard output.
    pub logfile: String,
    /// `dbfilename`: the snapshot file inside `dir` (SAVE, load at start-up).
    pub dbfilename: String,
    /// `save`: snapshot points `(seconds, changes)`: save when at least
    /// `changes` writes happened in the last `seconds`. Empty = never.
    pub save: Vec<(u64, u64)>,
    /// `stop-writes-on-bgsave-error`: refuse writes after a failed
    /// background save.
    pub stop_writes_on_bgsave_error: bool,
    /// `appendonly`: append-only file enabled.
    pub appendonly: bool,
    /// `appendfilename`: base name of the append-only files (no path).
    pub appendfilename: String,
    /// `appenddirname`: directory inside `dir` holding the append-only
    /// files (no path).
    pub appenddirname: String,
    /// `appendfsync`.
    pub appendfsync: AppendFsync,
    /// `no-appendfsync-on-rewrite`: skip fsync while a rewrite runs.
    pub no_appendfsync_on_rewrite: bool,
    /// `auto-aof-rewrite-percentage`: growth over the last rewrite size,
    /// in percent, that triggers a rewrite; 0 = off.
    pub auto_aof_rewrite_percentage: u32,
    /// `auto-aof-rewrite-min-size`: bytes; no automatic rewrite below it.
    pub auto_aof_rewrite_min_size: u64,
    /// `aof-preallocate`: under `appendfsync always`, how much zero-filled space the AOF keeps
    /// written ahead of its end (bytes; 0 = none), so fsyncs do not grow the file.
    pub aof_preallocate: u64,
    /// `aof-load-truncated`: load a truncated append-only file (dropping
    /// the incomplete tail) instead of refusing to start.
    pub aof_load_truncated: bool,
    /// `databases`: number of logical databases.
    pub databases: u32,
    /// `maxclients`: maximum simultaneous clients.
    pub maxclients: u32,
    /// `timeout`: seconds a client may idle; 0 = never close.
    pub timeout: u64,
    /// `tcp-keepalive`: seconds; 0 = off.
    pub tcp_keepalive: u64,
    /// `tcp-backlog`: listen(2) backlog.
    pub tcp_backlog: u32,
    /// `proto-max-bulk-len`: bytes, largest bulk string accepted.
    pub proto_max_bulk_len: u64,
    /// `client-query-buffer-limit`: bytes per client query buffer.
    pub client_query_buffer_limit: u64,
    /// `hz`: background task frequency (1..=500).
    pub hz: u32,
    /// `io-threads` (1..=128).
    pub io_threads: u32,
    /// `busy-poll-us`: microseconds the event loop polls for events before it sleeps, while it
    /// is busy enough (0 = never poll).
    pub busy_poll_us: u32,
    /// `busy-poll-min-load`: percent of the last 10 ms the event loop must have been working for
    /// it to poll instead of sleeping.
    pub busy_poll_min_load: u32,
    /// `latency-monitor-threshold`: milliseconds from which an event (a command, an fsync, an
    /// expiry cycle ...) is sampled by the latency monitor; 0 turns it off.
    pub latency_monitor_threshold: u64,
    /// `latency-tracking`: per-command latency histograms (LATENCY HISTOGRAM, INFO latencystats).
    pub latency_tracking: bool,
    /// `latency-tracking-info-percentiles`: the percentiles INFO latencystats shows.
    pub latency_tracking_info_percentiles: Vec<Percentile>,
    /// `event-loop-pinning auto|no`: with `auto`, a single-threaded event loop pins itself to
    /// the CPU it runs on while it is busy (see the server's `loop_pinning`).
    pub event_loop_pinning: bool,
    /// `server_cpulist`: CPUs for the event-loop thread(s) (Redis syntax, empty: any).
    pub server_cpulist: String,
    /// `bio_cpulist`: CPUs for the background threads (AOF writer, file deletion, lazy free).
    pub bio_cpulist: String,
    /// `aof_rewrite_cpulist`: CPUs for the background thread while it rewrites the AOF.
    pub aof_rewrite_cpulist: String,
    /// `bgsave_cpulist`: CPUs for the background thread while it writes a snapshot.
    pub bgsave_cpulist: String,
    /// `slowlog-log-slower-than`: commands that run at least this many microseconds are recorded
    /// in the slow log (0 = every command, negative = none).
    pub slowlog_log_slower_than: i64,
    /// `slowlog-max-len`: entries the slow log keeps (the oldest go first).
    pub slowlog_max_len: u64,
    /// `disable-thp`: turn transparent huge pages off for the process at start-up (as Redis).
    pub disable_thp: bool,
    /// `pidfile`: path; empty = no pid file.
    pub pidfile: String,
    /// `daemonize`: always `false` (ringkv never daemonizes).
    pub daemonize: bool,
    /// `protected-mode`.
    pub protected_mode: bool,
    /// `lazyfree-lazy-user-flush`.
    pub lazyfree_lazy_user_flush: bool,
    /// `busy-reply-threshold` (alias `lua-time-limit`): milliseconds.
    pub busy_reply_threshold: u64,
    /// `client-output-buffer-limit`.
    pub client_output_buffer_limit: crate::buffers::OutputBufferLimits,
    /// `notify-keyspace-events` as flags (`crate::buffers::notify`).
    pub notify_keyspace_events: u32,
    /// `ratelimit-policy`: named policies for `RL.CHECK` and the HTTP
    /// endpoint, in configuration order (name, policy).
    pub ratelimit_policy: Vec<(String, ringkv_ratelimit::Policy)>,
    /// `http-port`: TCP port of the HTTP rate-limit endpoint; 0 = off.
    pub http_port: u16,
    /// `http-bind`: address the HTTP endpoint listens on.
    pub http_bind: String,
    /// `id-datacenter`: datacenter number in snowflake IDs.
    pub id_datacenter: u64,
    /// `id-worker`: worker number in snowflake IDs; `None` is `auto`: claimed through the
    /// cluster membership in cluster mode, 0 standalone.
    pub id_worker: Option<u64>,
    /// `id-epoch-ms`: Unix milliseconds that snowflake timestamp 0 stands for.
    pub id_epoch_ms: u64,
    /// `id-layout`: bits of time, datacenter, worker and sequence (sum 63).
    pub id_layout: [u8; 4],
    /// `id-max-clock-backward-ms`: how far the clock may step back before
    /// `ID.NEXT` refuses (smaller steps are waited out).
    pub id_max_clock_backward_ms: u64,
    /// `cluster-enabled`: run as a node of a Dynamo-style cluster.
    pub cluster_enabled: bool,
    /// `cluster-port`: TCP (RPC) and UDP (gossip) port for peers; 0 = `port` + 10000.
    pub cluster_port: u16,
    /// `cluster-seeds`: peer addresses (`host:cluster-port`, comma or space separated) to join
    /// through; empty = start a new cluster.
    pub cluster_seeds: String,
    /// `cluster-announce-ip`: the address peers and clients reach this node at; empty = the
    /// first specific `bind` address (127.0.0.1 when binding every address).
    pub cluster_announce_ip: String,
    /// `cluster-zone`: datacenter or rack label; replicas go to distinct zones when possible.
    pub cluster_zone: String,
    /// `cluster-weight`: relative capacity; a node's share of the ring follows it.
    pub cluster_weight: u32,
    /// `cluster-replicas`: N, copies of each key.
    pub cluster_replicas: u32,
    /// `cluster-write-quorum`: W (`quorum`, `one`, `all` or a number).
    pub cluster_write_quorum: String,
    /// `cluster-read-quorum`: R (`quorum`, `one`, `all` or a number).
    pub cluster_read_quorum: String,
    /// `cluster-request-timeout`: milliseconds a coordinator waits for replicas.
    pub cluster_request_timeout: u64,
    /// `cluster-tombstone-grace`: seconds a delete's tombstone is kept so that a stale replica
    /// cannot bring the key back.
    pub cluster_tombstone_grace: u64,
    /// `cluster-max-siblings`: concurrent versions kept per key; older ones (by the
    /// last-writer-wins order) are dropped beyond it.
    pub cluster_max_siblings: u32,
    /// `cluster-hinted-handoff`: a write that an owner missed (down or too slow) is remembered
    /// as a hint by the node that coordinated it, and delivered when the owner is back.
    pub cluster_hinted_handoff: bool,
    /// `cluster-sloppy-quorum`: with fewer than W owners alive, a write is also sent to the next
    /// live nodes of the key's extended preference list, which keep it as a hint for the missing
    /// owner and count towards W (Dynamo's sloppy quorum).
    pub cluster_sloppy_quorum: bool,
    /// `cluster-max-hints`: hints a node keeps at most; beyond it new hints are dropped (and
    /// counted) and anti-entropy repairs those keys instead.
    pub cluster_max_hints: u64,
    /// `cluster-anti-entropy-interval`: seconds between two Merkle-tree exchanges this node
    /// starts with a peer; 0 turns anti-entropy off.
    pub cluster_anti_entropy_interval: u64,
    /// Absolute path of the config file the server was started with, if
    /// any: the target of `CONFIG REWRITE`. Not a parameter.
    pub config_file: Option<PathBuf>,
}

impl Config {
    /// Every field at an arbitrary placeholder; [`Default`] then stores the
    /// table's defaults over it.
    fn blank() -> Config {
        Config {
            bind: Vec::new(),
            port: 0,
            dir: String::new(),
            requirepass: String::new(),
            maxmemory: 0,
            maxmemory_policy: EvictionPolicy::default(),
            maxmemory_samples: 0,
            lfu_log_factor: 0,
            lfu_decay_time: 0,
            stream_node_max_entries: 0,
            stream_node_max_bytes: 0,
            hll_sparse_max_bytes: 0,
            loglevel: LogLevel::default(),
            logfile: String::new(),
            dbfilename: String::new(),
            save: Vec::new(),
            stop_writes_on_bgsave_error: false,
            appendonly: false,
            appendfilename: String::new(),
            appenddirname: String::new(),
            appendfsync: AppendFsync::default(),
            no_appendfsync_on_rewrite: false,
            auto_aof_rewrite_percentage: 0,
            auto_aof_rewrite_min_size: 0,
            aof_preallocate: 0,
            aof_load_truncated: false,
            databases: 0,
            maxclients: 0,
            timeout: 0,
            tcp_keepalive: 0,
            tcp_backlog: 0,
            proto_max_bulk_len: 0,
            client_query_buffer_limit: 0,
            hz: 0,
            io_threads: 0,
            busy_poll_us: 0,
            busy_poll_min_load: 0,
            event_loop_pinning: false,
            latency_monitor_threshold: 0,
            latency_tracking: false,
            latency_tracking_info_percentiles: Vec::new(),
            server_cpulist: String::new(),
            bio_cpulist: String::new(),
            aof_rewrite_cpulist: String::new(),
            bgsave_cpulist: String::new(),
            slowlog_log_slower_than: 0,
            slowlog_max_len: 0,
            disable_thp: false,
            pidfile: String::new(),
            daemonize: false,
            protected_mode: false,
            lazyfree_lazy_user_flush: false,
            busy_reply_threshold: 0,
            client_output_buffer_limit: Default::default(),
            notify_keyspace_events: 0,
            ratelimit_policy: Vec::new(),
            http_port: 0,
            http_bind: String::new(),
            id_datacenter: 0,
            id_worker: None,
            id_epoch_ms: 0,
            id_layout: [0; 4],
            id_max_clock_backward_ms: 0,
            cluster_enabled: false,
            cluster_port: 0,
            cluster_seeds: String::new(),
            cluster_announce_ip: String::new(),
            cluster_zone: String::new(),
            cluster_weight: 0,
            cluster_replicas: 0,
            cluster_write_quorum: String::new(),
            cluster_read_quorum: String::new(),
            cluster_request_timeout: 0,
            cluster_tombstone_grace: 0,
            cluster_max_siblings: 0,
            cluster_hinted_handoff: false,
            cluster_sloppy_quorum: false,
            cluster_max_hints: 0,
            cluster_anti_entropy_interval: 0,
            config_file: None,
        }
    }
}

impl Default for Config {
    /// The defaults of the parameter table.
    fn default() -> Self {
        let mut c = Config::blank();
        for spec in TABLE {
            spec.apply_default(&mut c);
        }
        c
    }
}

impl Config {
    /// The config file the server was started with (absolute), if any.
    pub fn config_file(&self) -> Option<&Path> {
        self.config_file.as_deref()
    }

    /// `CONFIG GET pattern [pattern ...]`, Redis 7 semantics: a pattern
    /// without `*`, `?` or `[` is an exact, case-insensitive name lookup;
    /// otherwise it is a case-insensitive glob over all names. Aliases are
    /// names of their own, as in Redis 7: `CONFIG GET lua-time-limit`
    /// reports `lua-time-limit`, and `CONFIG GET *` reports both
    /// `busy-reply-threshold` and `lua-time-limit`. Each name appears at
    /// most once, in table order. Values are formatted as Redis does
    /// (memory in bytes, `yes`/`no`, enum names, lists space-joined).
    pub fn get(&self, patterns: &[&[u8]]) -> Vec<(&'static str, String)> {
        let all: Vec<(&'static str, &'static Spec)> = entries().collect();
        let mut matched = vec![false; all.len()];
        for pat in patterns {
            if has_glob_chars(pat) {
                for (i, (name, _)) in all.iter().enumerate() {
                    if !matched[i] && string_match(pat, name.as_bytes(), true) {
                        matched[i] = true;
                    }
                }
            } else if let Some(i) = all
                .iter()
                .position(|(name, _)| pat.eq_ignore_ascii_case(name.as_bytes()))
            {
                matched[i] = true;
            }
        }
        all.iter()
            .zip(matched)
            .filter(|(_, m)| *m)
            .map(|((name, spec), _)| (*name, spec.get(self)))
            .collect()
    }

    /// `CONFIG SET name value [name value ...]`, atomically: either every
    /// pair is applied or none is and `self` is unchanged. Returns the
    /// canonical names of the parameters whose value actually changed, in
    /// argument order. Errors are the full Redis 7 error text without the
    /// leading `-`; the first problem in argument order wins:
    /// unknown name, immutable parameter, duplicate parameter (also via an
    /// alias), then the first invalid value.
    pub fn set(&mut self, pairs: &[(&[u8], &[u8])]) -> Result<Vec<&'static str>, String> {
        if pairs.is_empty() {
            return Err("ERR wrong number of arguments for 'config|set' command".to_string());
        }
        let mut resolved: Vec<(&'static str, &'static Spec, &[u8])> = Vec::new();
        for (name, value) in pairs {
            let shown = String::from_utf8_lossy(name);
            let Some((entry_name, spec)) = lookup(name) else {
                return Err(format!(
                    "ERR Unknown option or number of arguments for CONFIG SET - '{shown}'"
                ));
            };
            if !spec.mutable {
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{shown}') - \
                     can't set immutable config"
                ));
            }
            if resolved.iter().any(|(_, s, _)| std::ptr::eq(*s, spec)) {
                return Err(format!(
                    "ERR CONFIG SET failed (possibly related to argument '{shown}') - \
                     duplicate parameter"
                ));
            }
            resolved.push((entry_name, spec, value));
        }

        let mut next = self.clone();
        for (entry_name, spec, value) in &resolved {
            let args: Vec<Vec<u8>> = if spec.multi_arg() {
                // Redis splits multi-argument values on single spaces here.
                if value.is_empty() {
                    Vec::new()
                } else {
                    value.split(|b| *b == b' ').map(<[u8]>::to_vec).collect()
                }
            } else {
                vec![value.to_vec()]
            };
            spec.apply(&mut next, &args).map_err(|e| {
                format!("ERR CONFIG SET failed (possibly related to argument '{entry_name}') - {e}")
            })?;
        }

        let changed = resolved
            .iter()
            .filter(|(_, spec, _)| spec.get(self) != spec.get(&next))
            .map(|(_, spec, _)| spec.name)
            .collect();
        *self = next;
        Ok(changed)
    }
}

/// Canonical names of all parameters, in table order (aliases excluded).
pub fn param_names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|s| s.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(c: &Config, pats: &[&str]) -> Vec<(&'static str, String)> {
        let pats: Vec<&[u8]> = pats.iter().map(|p| p.as_bytes()).collect();
        c.get(&pats)
    }

    fn set(c: &mut Config, pairs: &[(&str, &str)]) -> Result<Vec<&'static str>, String> {
        let pairs: Vec<(&[u8], &[u8])> = pairs
            .iter()
            .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
            .collect();
        c.set(&pairs)
    }

    #[test]
    fn defaults() {
        let c = Config::default();
        assert_eq!(c.bind, vec!["127.0.0.1".to_string()]);
        assert_eq!(c.port, 6379);
        assert_eq!(c.dir, "./data");
        assert_eq!(c.requirepass, "");
        assert_eq!(c.maxmemory, 0);
        assert_eq!(c.maxmemory_policy, EvictionPolicy::NoEviction);
        assert_eq!(c.maxmemory_samples, 5);
        assert_eq!(c.lfu_log_factor, 10);
        assert_eq!(c.lfu_decay_time, 1);
        assert_eq!(c.loglevel, LogLevel::Notice);
        assert_eq!(c.logfile, "");
        assert_eq!(c.databases, 16);
        assert_eq!(c.maxclients, 10000);
        assert_eq!(c.timeout, 0);
        assert_eq!(c.tcp_keepalive, 300);
        assert_eq!(c.tcp_backlog, 511);
        assert_eq!(c.proto_max_bulk_len, 512 * 1024 * 1024);
        assert_eq!(c.client_query_buffer_limit, 1024 * 1024 * 1024);
        assert_eq!(c.hz, 10);
        assert_eq!(c.io_threads, 1);
        assert_eq!(c.pidfile, "");
        assert!(!c.daemonize);
        assert!(c.protected_mode);
        assert!(!c.lazyfree_lazy_user_flush);
        assert_eq!(c.busy_reply_threshold, 5000);
        assert_eq!(c.save, [(3600, 1), (300, 100), (60, 10000)]);
        assert!(c.stop_writes_on_bgsave_error);
        assert!(!c.appendonly);
        assert_eq!(c.appendfilename, "appendonly.aof");
        assert_eq!(c.appenddirname, "appendonlydir");
        assert_eq!(c.appendfsync, AppendFsync::EverySec);
        assert!(!c.no_appendfsync_on_rewrite);
        assert_eq!(c.auto_aof_rewrite_percentage, 100);
        assert_eq!(c.auto_aof_rewrite_min_size, 64 * 1024 * 1024);
        assert!(c.aof_load_truncated);
        assert!(!c.cluster_enabled);
        assert_eq!(c.cluster_replicas, 3);
        assert_eq!(c.cluster_write_quorum, "quorum");
        assert_eq!(c.cluster_zone, "default");
        assert_eq!(c.cluster_weight, 100);
        assert!(c.cluster_hinted_handoff && c.cluster_sloppy_quorum);
        assert_eq!(c.cluster_max_hints, 1_000_000);
        assert_eq!(c.cluster_anti_entropy_interval, 30);
        assert!(c.disable_thp);
        assert_eq!(c.config_file(), None);
    }

    #[test]
    fn param_names_in_table_order() {
        let names: Vec<_> = param_names().collect();
        assert_eq!(names.len(), 79);
        assert_eq!(names[0], "bind");
        assert_eq!(names[1], "port");
        assert!(names.contains(&"busy-reply-threshold"));
        assert!(!names.contains(&"lua-time-limit"));
        let at = |n: &str| names.iter().position(|x| *x == n).unwrap();
        assert_eq!(
            names[at("dbfilename")..=at("aof-load-truncated")],
            [
                "dbfilename",
                "save",
                "stop-writes-on-bgsave-error",
                "appendonly",
                "appendfilename",
                "appenddirname",
                "appendfsync",
                "no-appendfsync-on-rewrite",
                "auto-aof-rewrite-percentage",
                "auto-aof-rewrite-min-size",
                "aof-preallocate",
                "aof-load-truncated",
            ]
        );
    }

    #[test]
    fn get_exact_and_case_insensitive() {
        let c = Config::default();
        assert_eq!(get(&c, &["port"]), vec![("port", "6379".to_string())]);
        assert_eq!(get(&c, &["PORT"]), vec![("port", "6379".to_string())]);
        assert_eq!(get(&c, &["nosuch"]), vec![]);
        assert_eq!(get(&c, &[]), vec![]);
    }

    #[test]
    fn get_star_lists_everything_once_in_table_order() {
        let c = Config::default();
        let all = get(&c, &["*"]);
        let names: Vec<_> = all.iter().map(|(n, _)| *n).collect();
        let expected: Vec<_> = entries().map(|(n, _)| n).collect();
        assert_eq!(names, expected);
        assert_eq!(all.len(), 80); // 79 params + 1 alias
                                   // Overlapping patterns do not duplicate.
        assert_eq!(get(&c, &["*", "port", "p*"]).len(), 80);
    }

    #[test]
    fn get_prefix_pattern() {
        let c = Config::default();
        let names: Vec<_> = get(&c, &["max*"]).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                "maxmemory",
                "maxmemory-policy",
                "maxmemory-samples",
                "maxclients"
            ]
        );
        let names: Vec<_> = get(&c, &["MAXMEMORY*"])
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            ["maxmemory", "maxmemory-policy", "maxmemory-samples"]
        );
    }

    #[test]
    fn get_multiple_patterns_in_table_order() {
        let c = Config::default();
        let got = get(&c, &["hz", "port", "*policy"]);
        assert_eq!(
            got,
            vec![
                ("port", "6379".to_string()),
                ("maxmemory-policy", "noeviction".to_string()),
                ("hz", "10".to_string()),
                ("ratelimit-policy", String::new()),
            ]
        );
    }

    #[test]
    fn get_alias_reports_alias_name_like_redis7() {
        let c = Config {
            busy_reply_threshold: 1234,
            ..Config::default()
        };
        assert_eq!(
            get(&c, &["lua-time-limit"]),
            vec![("lua-time-limit", "1234".to_string())]
        );
        assert_eq!(
            get(&c, &["lua*"]),
            vec![("lua-time-limit", "1234".to_string())]
        );
        assert_eq!(
            get(&c, &["busy-reply*", "lua-time-limit"]),
            vec![
                ("busy-reply-threshold", "1234".to_string()),
                ("lua-time-limit", "1234".to_string())
            ]
        );
    }

    #[test]
    fn get_value_formats() {
        let c = Config {
            maxmemory: 100 * 1024 * 1024,
            bind: vec!["127.0.0.1".into(), "::1".into()],
            maxmemory_policy: EvictionPolicy::AllKeysLru,
            ..Config::default()
        };
        let got = get(
            &c,
            &[
                "maxmemory",
                "bind",
                "protected-mode",
                "maxmemory-policy",
                "daemonize",
            ],
        );
        assert_eq!(
            got,
            vec![
                ("bind", "127.0.0.1 ::1".to_string()),
                ("maxmemory", "104857600".to_string()),
                ("maxmemory-policy", "allkeys-lru".to_string()),
                ("daemonize", "no".to_string()),
                ("protected-mode", "yes".to_string()),
            ]
        );
        assert_eq!(get(&c, &["proto-max-bulk-len"])[0].1, "536870912");
    }

    #[test]
    fn set_ok_and_reports_changes() {
        let mut c = Config::default();
        let changed = set(
            &mut c,
            &[("maxmemory", "1mb"), ("HZ", "10"), ("loglevel", "WARNING")],
        )
        .unwrap();
        assert_eq!(changed, ["maxmemory", "loglevel"]);
        assert_eq!(c.maxmemory, 1_048_576);
        assert_eq!(c.loglevel, LogLevel::Warning);
        let changed = set(&mut c, &[("lua-time-limit", "100")]).unwrap();
        assert_eq!(changed, ["busy-reply-threshold"]);
        assert_eq!(c.busy_reply_threshold, 100);
    }

    #[test]
    fn set_is_atomic() {
        let mut c = Config::default();
        let before = c.clone();
        let err = set(&mut c, &[("maxmemory", "1mb"), ("maxmemory-samples", "0")]).unwrap_err();
        assert_eq!(
            err,
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - \
             argument must be between 1 and 64 inclusive"
        );
        assert_eq!(c, before);
        let err = set(&mut c, &[("timeout", "5"), ("nosuch", "1")]).unwrap_err();
        assert_eq!(
            err,
            "ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'"
        );
        assert_eq!(c, before);
    }

    #[test]
    fn set_error_texts() {
        let mut c = Config::default();
        assert_eq!(
            set(&mut c, &[("foo", "bar")]).unwrap_err(),
            "ERR Unknown option or number of arguments for CONFIG SET - 'foo'"
        );
        assert_eq!(
            set(&mut c, &[("maxmemory", "lots")]).unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory') - \
             argument must be a memory value"
        );
        assert_eq!(
            set(&mut c, &[("databases", "4")]).unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'databases') - \
             can't set immutable config"
        );
        assert_eq!(
            set(&mut c, &[("port", "1"), ("PORT", "2")]).unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'port') - \
             can't set immutable config"
        );
        assert_eq!(
            set(&mut c, &[("hz", "1"), ("HZ", "2")]).unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'HZ') - duplicate parameter"
        );
        assert_eq!(
            set(
                &mut c,
                &[("busy-reply-threshold", "1"), ("lua-time-limit", "2")]
            )
            .unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'lua-time-limit') - \
             duplicate parameter"
        );
        assert_eq!(
            set(&mut c, &[("lua-time-limit", "x")]).unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'lua-time-limit') - \
             argument couldn't be parsed into an integer"
        );
        assert_eq!(
            set(&mut c, &[("protected-mode", "maybe")]).unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'protected-mode') - \
             argument must be 'yes' or 'no'"
        );
        assert_eq!(
            set(&mut c, &[("maxmemory-policy", "lru")]).unwrap_err(),
            "ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - \
             argument(s) must be one of the following: noeviction, allkeys-lru, allkeys-lfu, \
             allkeys-random, allkeys-fifo, volatile-lru, volatile-lfu, volatile-random, \
             volatile-ttl, volatile-fifo"
        );
        assert_eq!(
            set(&mut c, &[]).unwrap_err(),
            "ERR wrong number of arguments for 'config|set' command"
        );
        assert_eq!(c, Config::default());
    }

    #[test]
    fn set_first_error_wins_in_argument_order() {
        let mut c = Config::default();
        // Immutable before unknown.
        assert!(set(&mut c, &[("port", "1"), ("nosuch", "1")])
            .unwrap_err()
            .contains("immutable"));
        // Unknown before an invalid value (values are checked last).
        assert!(set(&mut c, &[("hz", "0"), ("nosuch", "1")])
            .unwrap_err()
            .contains("Unknown option"));
    }

    #[test]
    fn set_memory_and_string_values() {
        let mut c = Config::default();
        set(
            &mut c,
            &[
                ("requirepass", "s3cret pass"),
                ("proto-max-bulk-len", "2MB"),
            ],
        )
        .unwrap();
        assert_eq!(c.requirepass, "s3cret pass");
        assert_eq!(c.proto_max_bulk_len, 2 * 1024 * 1024);
        assert!(set(&mut c, &[("proto-max-bulk-len", "1000")])
            .unwrap_err()
            .ends_with("argument must be between 1048576 and 9223372036854775807 inclusive"));
        set(&mut c, &[("requirepass", "")]).unwrap();
        assert_eq!(c.requirepass, "");
        assert_eq!(
            set(&mut c, &[("maxmemory", "0")]).unwrap(),
            Vec::<&str>::new()
        );
    }
    #[test]
    fn persistence_defaults_as_config_get_shows_them() {
        let c = Config::default();
        assert_eq!(
            get(
                &c,
                &["save", "*append*", "*aof*", "stop-writes-on-bgsave-error"]
            ),
            vec![
                ("save", "3600 1 300 100 60 10000".to_string()),
                ("stop-writes-on-bgsave-error", "yes".to_string()),
                ("appendonly", "no".to_string()),
                ("appendfilename", "appendonly.aof".to_string()),
                ("appenddirname", "appendonlydir".to_string()),
                ("appendfsync", "everysec".to_string()),
                ("no-appendfsync-on-rewrite", "no".to_string()),
                ("auto-aof-rewrite-percentage", "100".to_string()),
                ("auto-aof-rewrite-min-size", "67108864".to_string()),
                ("aof-preallocate", "1048576".to_string()),
                ("aof-load-truncated", "yes".to_string()),
                ("aof_rewrite_cpulist", String::new()),
            ]
        );
    }

    #[test]
    fn appendfsync_set_and_errors() {
        let mut c = Config::default();
        assert_eq!(
            set(&mut c, &[("appendfsync", "ALWAYS")]).unwrap(),
            ["appendfsync"]
        );
        assert_eq!(c.appendfsync, AppendFsync::Always);
        set(&mut c, &[("appendfsync", "no")]).unwrap();
        assert_eq!(c.appendfsync, AppendFsync::No);
        assert_eq!(get(&c, &["appendfsync"])[0].1, "no");
        set(&mut c, &[("appendfsync", "EverySec")]).unwrap();
        assert_eq!(c.appendfsync, AppendFsync::EverySec);
        for bad in ["sometimes", "", "yes", "every-sec"] {
            assert_eq!(
                set(&mut c, &[("appendfsync", bad)]).unwrap_err(),
                "ERR CONFIG SET failed (possibly related to argument 'appendfsync') - \
                 argument(s) must be one of the following: always, everysec, no",
                "{bad:?}"
            );
        }
        assert_eq!(c.appendfsync, AppendFsync::EverySec);
    }

    #[test]
    fn save_config_set_replaces_and_validates() {
        let mut c = Config::default();
        assert_eq!(set(&mut c, &[("save", "900 1 300 10")]).unwrap(), ["save"]);
        assert_eq!(c.save, [(900, 1), (300, 10)]);
        assert_eq!(
            get(&c, &["save"]),
            vec![("save", "900 1 300 10".to_string())]
        );
        // Changes may be 0.
        set(&mut c, &[("save", "5 0")]).unwrap();
        assert_eq!(c.save, [(5, 0)]);
        // Empty value: no save points.
        set(&mut c, &[("save", "")]).unwrap();
        assert!(c.save.is_empty());
        assert_eq!(get(&c, &["save"]), vec![("save", String::new())]);
        set(&mut c, &[("save", "60 10000")]).unwrap();
        for bad in [
            "900",
            "900 1 300",
            "-1 1",
            "900 -1",
            "0 1",
            "x 1",
            "900 1x",
            "1.5 1",
            "900  1",
            "99999999999999999999 1",
        ] {
            assert_eq!(
                set(&mut c, &[("save", bad)]).unwrap_err(),
                "ERR CONFIG SET failed (possibly related to argument 'save') - \
                 Invalid save parameters",
                "{bad:?}"
            );
        }
        assert_eq!(c.save, [(60, 10000)]);
    }

    #[test]
    fn append_names_must_be_plain_names() {
        let mut c = Config::default();
        Config::load_str("appendfilename my.aof\nappenddirname aofs", "t", &mut c).unwrap();
        assert_eq!(
            (c.appendfilename.as_str(), c.appenddirname.as_str()),
            ("my.aof", "aofs")
        );
        for (line, msg) in [
            (
                "appendfilename dir/x.aof",
                "appendfilename can't be a path, just a filename",
            ),
            (
                "appendfilename /abs.aof",
                "appendfilename can't be a path, just a filename",
            ),
            ("appendfilename \"\"", "appendfilename can't be empty"),
            (
                "appenddirname a/b",
                "appenddirname can't be a path, just a dirname",
            ),
            ("appenddirname \"\"", "appenddirname can't be empty"),
        ] {
            let e = Config::load_str(line, "t", &mut Config::default()).unwrap_err();
            assert_eq!(e.message, msg, "{line}");
        }
        // Neither can change at run time.
        assert!(set(&mut c, &[("appendfilename", "x.aof")])
            .unwrap_err()
            .ends_with("can't set immutable config"));
        assert!(set(&mut c, &[("appenddirname", "d")])
            .unwrap_err()
            .ends_with("can't set immutable config"));
    }

    #[test]
    fn aof_rewrite_thresholds() {
        let mut c = Config::default();
        set(
            &mut c,
            &[
                ("auto-aof-rewrite-percentage", "0"),
                ("auto-aof-rewrite-min-size", "1gb"),
                ("no-appendfsync-on-rewrite", "yes"),
                ("aof-load-truncated", "no"),
                ("stop-writes-on-bgsave-error", "no"),
                ("appendonly", "yes"),
            ],
        )
        .unwrap();
        assert_eq!(c.auto_aof_rewrite_percentage, 0);
        assert_eq!(c.auto_aof_rewrite_min_size, 1 << 30);
        assert!(c.no_appendfsync_on_rewrite);
        assert!(!c.aof_load_truncated);
        assert!(!c.stop_writes_on_bgsave_error);
        assert!(c.appendonly);
        assert!(set(&mut c, &[("auto-aof-rewrite-percentage", "-1")])
            .unwrap_err()
            .ends_with("argument must be between 0 and 2147483647 inclusive"));
        assert!(set(&mut c, &[("auto-aof-rewrite-min-size", "-1")])
            .unwrap_err()
            .ends_with("argument must be a memory value"));
    }
}
