//! End-to-end tests through the public API with real files: start-up
//! precedence (defaults < file < command line), includes, error reports,
//! and `CONFIG REWRITE` on disk including the reload round trip.

use std::fs;
use std::path::{Path, PathBuf};

use ringkv_config::{
    param_names, parse_command_line, Config, ConfigError, EvictionPolicy, LogLevel, StartupArgs,
    REWRITE_SIGNATURE,
};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

fn args(v: &[&str]) -> StartupArgs {
    let v: Vec<String> = v.iter().map(|s| s.to_string()).collect();
    parse_command_line(&v).unwrap()
}

fn load_file(path: &Path) -> Result<Config, ConfigError> {
    Config::load(&StartupArgs {
        config_file: Some(path.to_path_buf()),
        ..StartupArgs::default()
    })
}

#[test]
fn no_file_no_options_gives_defaults() {
    let c = Config::load(&args(&[])).unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.config_file(), None);
}

#[test]
fn command_line_overrides_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "ringkv.conf",
        "port 7000\nmaxmemory 1mb\nloglevel warning\nbind 10.0.0.1\n",
    );
    let a = args(&[
        conf.to_str().unwrap(),
        "--port",
        "7001",
        "--bind",
        "127.0.0.1",
        "::1",
        "--requirepass",
        "two words",
    ]);
    let c = Config::load(&a).unwrap();
    assert_eq!(c.port, 7001); // command line wins
    assert_eq!(c.maxmemory, 1024 * 1024); // file value kept
    assert_eq!(c.loglevel, LogLevel::Warning);
    assert_eq!(c.bind, ["127.0.0.1", "::1"]);
    assert_eq!(c.requirepass, "two words");
    assert_eq!(c.hz, 10); // default untouched
    assert_eq!(c.config_file(), Some(conf.as_path()));
    assert!(c.config_file().unwrap().is_absolute());
}

#[test]
fn missing_config_file_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.conf");
    let e = load_file(&missing).unwrap_err();
    assert_eq!(e.line, 0);
    assert_eq!(
        e.message,
        format!(
            "Fatal error, can't open config file '{}': No such file or directory",
            missing.display()
        )
    );
}

#[test]
fn file_error_names_line_and_setting() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "r.conf",
        "# header\nport 6380\n\nmaxmemory-policy lru\n",
    );
    let e = load_file(&conf).unwrap_err();
    assert_eq!(e.line, 4);
    assert_eq!(e.text, "maxmemory-policy lru");
    assert_eq!(e.source_name, conf.display().to_string());
    let shown = e.to_string();
    assert!(
        shown.starts_with("\n*** FATAL CONFIG FILE ERROR (ringkv "),
        "{shown}"
    );
    assert!(
        shown.contains("Reading the configuration file, at line 4\n>>> 'maxmemory-policy lru'\n")
    );
    assert!(shown.ends_with(
        "argument(s) must be one of the following: noeviction, allkeys-lru, allkeys-lfu, \
         allkeys-random, allkeys-fifo, volatile-lru, volatile-lfu, volatile-random, \
         volatile-ttl, volatile-fifo"
    ));
}

#[test]
fn command_line_errors_come_from_the_command_line_source() {
    let e = Config::load(&args(&["--port", "6380", "--hz", "fast"])).unwrap_err();
    assert_eq!(e.source_name, "command line");
    assert_eq!(e.line, 2);
    assert_eq!(e.text, "hz fast");
    assert_eq!(e.message, "argument couldn't be parsed into an integer");

    let e = Config::load(&args(&["--no-such-thing", "1"])).unwrap_err();
    assert_eq!(e.message, "Bad directive or wrong number of arguments");
    assert_eq!(e.text, "no-such-thing 1");

    let e = Config::load(&args(&["--port"])).unwrap_err();
    assert_eq!(e.message, "wrong number of arguments");

    let e = Config::load(&args(&["--daemonize", "yes"])).unwrap_err();
    assert!(e.message.contains("not supported"));
}

#[test]
fn include_loads_other_files_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let inc = write(dir.path(), "inc.conf", "port 7100\nhz 20\n");
    let main = write(
        dir.path(),
        "main.conf",
        &format!("port 7000\ninclude {}\nhz 30\n", inc.display()),
    );
    let c = load_file(&main).unwrap();
    assert_eq!(c.port, 7100); // include after port wins
    assert_eq!(c.hz, 30); // line after include wins
}

#[test]
fn include_errors_point_into_the_included_file() {
    let dir = tempfile::tempdir().unwrap();
    let inc = write(dir.path(), "bad.conf", "hz 10\n\ntimeout soon\n");
    let main = write(
        dir.path(),
        "main.conf",
        &format!("include \"{}\"\n", inc.display()),
    );
    let e = load_file(&main).unwrap_err();
    assert_eq!(e.source_name, inc.display().to_string());
    assert_eq!(e.line, 3);
    assert_eq!(e.text, "timeout soon");

    let main2 = write(
        dir.path(),
        "main2.conf",
        "\ninclude /definitely/not/here.conf\n",
    );
    let e = load_file(&main2).unwrap_err();
    assert_eq!(e.line, 2);
    assert_eq!(e.source_name, main2.display().to_string());
    assert_eq!(
        e.message,
        "Fatal error, can't open config file '/definitely/not/here.conf': No such file or directory"
    );
}

#[test]
fn include_with_wildcards() {
    let dir = tempfile::tempdir().unwrap();
    let confd = dir.path().join("conf.d");
    fs::create_dir(&confd).unwrap();
    write(&confd, "10-a.conf", "port 7001\nhz 11\n");
    write(&confd, "20-b.conf", "port 7002\n");
    write(&confd, "notes.txt", "this is not config\n");
    let main = write(
        dir.path(),
        "main.conf",
        &format!("include {}/*.conf\n", confd.display()),
    );
    let c = load_file(&main).unwrap();
    assert_eq!((c.port, c.hz), (7002, 11)); // sorted order, last wins

    // An empty match is fine (empty conf.d).
    let main = write(
        dir.path(),
        "main2.conf",
        &format!("include {}/*.nothing\nport 1\n", confd.display()),
    );
    assert_eq!(load_file(&main).unwrap().port, 1);
}

#[test]
fn include_loop_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("loop.conf");
    fs::write(&p, format!("include {}\n", p.display())).unwrap();
    let e = load_file(&p).unwrap_err();
    assert!(e.message.contains("include loop"), "{}", e.message);
}

#[test]
fn include_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let inc = write(dir.path(), "inc.conf", "databases 4\n");
    let c = Config::load(&args(&["--include", inc.to_str().unwrap()])).unwrap();
    assert_eq!(c.databases, 4);
}

fn set(c: &mut Config, pairs: &[(&str, &str)]) {
    let pairs: Vec<(&[u8], &[u8])> = pairs
        .iter()
        .map(|(n, v)| (n.as_bytes(), v.as_bytes()))
        .collect();
    c.set(&pairs).unwrap();
}

const SAMPLE: &str = "\
# ringkv sample config
# (comments must survive)

bind 127.0.0.1
port 7000

# memory
maxmemory 100mb
maxmemory-policy allkeys-lru
hz 20
hz 25
lua-time-limit 3000
";

#[test]
fn rewrite_preserves_comments_replaces_and_appends() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(dir.path(), "ringkv.conf", SAMPLE);
    let mut c = load_file(&conf).unwrap();
    assert_eq!(c.hz, 25);
    set(
        &mut c,
        &[
            ("maxmemory", "2gb"),
            ("maxmemory-policy", "volatile-fifo"),
            ("timeout", "60"),
            ("requirepass", "sec ret"),
        ],
    );
    c.rewrite(c.config_file().unwrap()).unwrap();
    let text = fs::read_to_string(&conf).unwrap();
    assert_eq!(
        text,
        "\
# ringkv sample config
# (comments must survive)

bind 127.0.0.1
port 7000

# memory
maxmemory 2gb
maxmemory-policy volatile-fifo
hz 25
lua-time-limit 3000
# Generated by CONFIG REWRITE
requirepass \"sec ret\"
timeout 60
"
    );
    // Round trip.
    assert_eq!(load_file(&conf).unwrap(), c);
    // No temp files left behind.
    let names: Vec<_> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["ringkv.conf"]);
    // A second rewrite with no change is a no-op.
    c.rewrite(&conf).unwrap();
    assert_eq!(fs::read_to_string(&conf).unwrap(), text);
    assert_eq!(text.matches(REWRITE_SIGNATURE).count(), 1);
}

#[test]
fn rewrite_round_trip_with_command_line_options() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(dir.path(), "r.conf", "port 7000\n");
    let a = args(&[
        conf.to_str().unwrap(),
        "--loglevel",
        "debug",
        "--port",
        "7005",
    ]);
    let c = Config::load(&a).unwrap();
    c.rewrite(&conf).unwrap();
    let reloaded = load_file(&conf).unwrap();
    assert_eq!(reloaded, c);
    assert_eq!(reloaded.loglevel, LogLevel::Debug);
    assert_eq!(
        fs::read_to_string(&conf).unwrap(),
        "port 7005\n# Generated by CONFIG REWRITE\nloglevel debug\n"
    );
}

#[test]
fn rewrite_moves_a_line_that_a_later_include_would_override() {
    let dir = tempfile::tempdir().unwrap();
    let inc = write(
        dir.path(),
        "inc.conf",
        "maxmemory-policy allkeys-lru\nhz 15\n",
    );
    let main_text = format!("maxmemory-policy noeviction\ninclude {}\n", inc.display());
    let conf = write(dir.path(), "main.conf", &main_text);
    let mut c = load_file(&conf).unwrap();
    assert_eq!(c.maxmemory_policy, EvictionPolicy::AllKeysLru);
    assert_eq!(c.hz, 15);
    set(&mut c, &[("maxmemory-policy", "allkeys-lfu"), ("hz", "10")]);
    c.rewrite(&conf).unwrap();
    let text = fs::read_to_string(&conf).unwrap();
    assert_eq!(
        text,
        format!(
            "include {}\n# Generated by CONFIG REWRITE\nmaxmemory-policy allkeys-lfu\nhz 10\n",
            inc.display()
        )
    );
    assert_eq!(load_file(&conf).unwrap(), c);
}

#[test]
fn rewrite_creates_missing_file_and_keeps_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("new.conf");
    let mut c = Config::default();
    set(&mut c, &[("maxclients", "50")]);
    c.rewrite(&conf).unwrap();
    assert_eq!(
        fs::read_to_string(&conf).unwrap(),
        "# Generated by CONFIG REWRITE\nmaxclients 50\n"
    );

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&conf, fs::Permissions::from_mode(0o600)).unwrap();
        set(&mut c, &[("maxclients", "60")]);
        c.rewrite(&conf).unwrap();
        let mode = fs::metadata(&conf).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
    }
}

#[cfg(unix)]
#[test]
fn rewrite_through_a_symlink_updates_the_target() {
    let dir = tempfile::tempdir().unwrap();
    let real = write(dir.path(), "real.conf", "port 7000\n");
    let link = dir.path().join("link.conf");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    let mut c = load_file(&link).unwrap();
    set(&mut c, &[("hz", "99")]);
    c.rewrite(&link).unwrap();
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::read_to_string(&real).unwrap().contains("hz 99\n"));
}

#[test]
fn every_parameter_round_trips_through_rewrite() {
    // Change every mutable parameter and every immutable one (by loading),
    // rewrite, and reload.
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "all.conf",
        "bind 0.0.0.0 \"::\"\nport 0\ndir \"/tmp/with space\"\nlogfile x.log\ndatabases 2\n\
         tcp-backlog 10\nio-threads 4\ndisable-thp no\npidfile \"/run/ringkv.pid\"\nhttp-port 8080\n\
         server_cpulist 0-7:2\nbio_cpulist 1,3\naof_rewrite_cpulist 5\nbgsave_cpulist \"2-3\"\n\
         http-bind 0.0.0.0\nid-datacenter 3\nid-worker 7\nid-epoch-ms 1600000000000\n\
         id-layout 40 6 5 12\nid-max-clock-backward-ms 50\n\
         appendfilename \"my aof\"\nappenddirname aof-dir\n\
         cluster-enabled yes\ncluster-port 16000\ncluster-seeds \"10.0.0.1:16379,10.0.0.2:16379\"\n\
         cluster-announce-ip 10.0.0.3\ncluster-zone rack-a\ncluster-weight 200\n",
    );
    let mut c = load_file(&conf).unwrap();
    set(
        &mut c,
        &[
            ("requirepass", "p\"w\\x"),
            ("maxmemory", "12345"),
            ("maxmemory-policy", "volatile-ttl"),
            ("maxmemory-samples", "7"),
            ("lfu-log-factor", "3"),
            ("lfu-decay-time", "0"),
            ("stream-node-max-entries", "7"),
            ("stream-node-max-bytes", "1mb"),
            ("loglevel", "nothing"),
            ("maxclients", "1"),
            ("timeout", "2"),
            ("tcp-keepalive", "0"),
            ("proto-max-bulk-len", "3mb"),
            ("client-query-buffer-limit", "5000000"),
            ("hz", "500"),
            ("busy-poll-us", "200"),
            ("busy-poll-min-load", "80"),
            ("event-loop-pinning", "no"),
            ("latency-monitor-threshold", "25"),
            ("latency-tracking", "no"),
            ("latency-tracking-info-percentiles", "10 99.99"),
            ("slowlog-log-slower-than", "-1"),
            ("slowlog-max-len", "7"),
            ("protected-mode", "no"),
            ("lazyfree-lazy-user-flush", "yes"),
            ("busy-reply-threshold", "0"),
            ("client-output-buffer-limit", "pubsub 1mb 512kb 10"),
            ("dbfilename", "other.snap"),
            ("notify-keyspace-events", "KEA"),
            (
                "ratelimit-policy",
                "api gcra 100 1000 20 web sliding-log 10 60000",
            ),
            ("save", "900 1 300 10"),
            ("stop-writes-on-bgsave-error", "no"),
            ("appendonly", "yes"),
            ("appendfsync", "always"),
            ("no-appendfsync-on-rewrite", "yes"),
            ("auto-aof-rewrite-percentage", "0"),
            ("auto-aof-rewrite-min-size", "1000"),
            ("aof-preallocate", "4mb"),
            ("hll-sparse-max-bytes", "5000"),
            ("aof-load-truncated", "no"),
            ("cluster-replicas", "5"),
            ("cluster-write-quorum", "all"),
            ("cluster-read-quorum", "1"),
            ("cluster-request-timeout", "250"),
            ("cluster-tombstone-grace", "60"),
            ("cluster-max-siblings", "4"),
            ("cluster-hinted-handoff", "no"),
            ("cluster-sloppy-quorum", "no"),
            ("cluster-max-hints", "5000"),
            ("cluster-anti-entropy-interval", "5"),
        ],
    );
    for name in param_names() {
        let d = Config::default().get(&[name.as_bytes()]);
        let v = c.get(&[name.as_bytes()]);
        if name != "daemonize" {
            assert_ne!(d, v, "{name} should differ from its default in this test");
        }
    }
    c.rewrite(&conf).unwrap();
    assert_eq!(load_file(&conf).unwrap(), c);
}

#[test]
fn ratelimit_policy_lines_accumulate_and_config_set_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "rl.conf",
        "ratelimit-policy api gcra 100 1000 20\nhz 12\n\
         ratelimit-policy \"web token-bucket 10 1000 login fixed-window 5 60000\"\n",
    );
    let c = Config::load(&args(&[
        conf.to_str().unwrap(),
        "--ratelimit-policy",
        "cli",
        "leaky-bucket",
        "7",
        "700",
    ]))
    .unwrap();
    let names: Vec<&str> = c.ratelimit_policy.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["api", "web", "login", "cli"]);
    assert_eq!(c.ratelimit_policy[0].1.burst, Some(20));
    assert_eq!(c.ratelimit_policy[1].1.burst, None);
    assert_eq!(
        c.get(&[b"ratelimit-policy"])[0].1,
        "api gcra 100 1000 20 web token-bucket 10 1000 login fixed-window 5 60000 \
         cli leaky-bucket 7 700"
    );

    // CONFIG SET replaces the whole list; errors leave it unchanged.
    let mut c2 = c.clone();
    c2.set(&[(b"ratelimit-policy", b"only gcra 1 10")]).unwrap();
    assert_eq!(c2.ratelimit_policy.len(), 1);
    for (bad, why) in [
        ("x gcra 1", "expects"),
        ("x nosuch 1 10", "unknown rate-limit algorithm 'nosuch'"),
        ("x gcra 0 10", "limit must be a positive integer"),
        ("x gcra 1 -5", "window_ms must be a positive integer"),
        ("x fixed-window 1 10 3", "BURST is not supported"),
        (
            "x gcra 1 10 y gcra 1 10 x gcra 2 20",
            "duplicate rate limit policy 'x'",
        ),
        ("1x gcra 1 10", "invalid rate limit policy name"),
    ] {
        let e = c2
            .set(&[(b"ratelimit-policy", bad.as_bytes())])
            .unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
        assert_eq!(c2.ratelimit_policy.len(), 1);
    }
    c2.set(&[(b"ratelimit-policy", b"")]).unwrap();
    assert!(c2.ratelimit_policy.is_empty());

    // Rewriting collapses the lines into one that reloads to the same list.
    let mut c3 = load_file(&conf).unwrap();
    c3.set(&[(b"hz", b"13")]).unwrap();
    c3.rewrite(&conf).unwrap();
    let text = fs::read_to_string(&conf).unwrap();
    assert_eq!(
        text.lines()
            .filter(|l| l.starts_with("ratelimit-policy"))
            .count(),
        1,
        "{text}"
    );
    assert_eq!(load_file(&conf).unwrap(), c3);
}

#[test]
fn id_layout_is_validated() {
    let dir = tempfile::tempdir().unwrap();
    for (line, why) in [
        ("id-layout 41 5 5 11", "sum to 63"),
        ("id-layout 41 5 5", "four bit counts"),
        ("id-layout 0 10 10 43", "time_bits must be at least 1"),
        ("id-max-clock-backward-ms 1001", "between 0 and 1000"),
        ("id-worker -1", "between 0 and"),
    ] {
        let conf = write(dir.path(), "id.conf", line);
        let e = load_file(&conf).unwrap_err();
        assert!(e.message.contains(why), "{line}: {}", e.message);
    }
    let conf = write(dir.path(), "id.conf", "id-layout 40 6 5 12\n");
    assert_eq!(load_file(&conf).unwrap().id_layout, [40, 6, 5, 12]);
}

#[test]
fn save_lines_accumulate_clear_and_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    let conf = write(
        dir.path(),
        "save.conf",
        "# snapshots\nsave 900 1\nsave 300 10\nhz 12\nsave 60 10000\n",
    );
    let c = Config::load(&args(&[conf.to_str().unwrap(), "--save", "30", "5"])).unwrap();
    assert_eq!(c.save, [(900, 1), (300, 10), (60, 10000), (30, 5)]);
    assert_eq!(c.get(&[b"save"])[0].1, "900 1 300 10 60 10000 30 5");
    // A bare `--save` on the command line is `save ""`: no save points.
    let c2 = Config::load(&args(&[conf.to_str().unwrap(), "--save"])).unwrap();
    assert!(c2.save.is_empty());
    assert_eq!(c2.get(&[b"save"])[0].1, "");

    // CONFIG REWRITE writes one line, in place of the first.
    c.rewrite(&conf).unwrap();
    assert_eq!(
        fs::read_to_string(&conf).unwrap(),
        "# snapshots\nsave 900 1 300 10 60 10000 30 5\nhz 12\n"
    );
    assert_eq!(load_file(&conf).unwrap(), c);
    c2.rewrite(&conf).unwrap();
    assert_eq!(
        fs::read_to_string(&conf).unwrap(),
        "# snapshots\nsave \"\"\nhz 12\n"
    );
    assert_eq!(load_file(&conf).unwrap(), c2);

    // CONFIG SET replaces rather than adds.
    let mut c3 = c.clone();
    set(&mut c3, &[("save", "10 1")]);
    assert_eq!(c3.save, [(10, 1)]);
}
