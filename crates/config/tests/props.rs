//! Property tests through the public API: memory values round-trip between
//! the forms users write and what `CONFIG GET` reports, the loader and the
//! command-line parser never panic on arbitrary input, `CONFIG SET` is
//! all-or-nothing, and `CONFIG REWRITE` output always reloads to the same
//! configuration.

use proptest::prelude::*;
use ringkv_config::{param_names, parse_command_line, Config, StartupArgs};

fn set(c: &mut Config, name: &str, value: &str) -> Result<Vec<&'static str>, String> {
    c.set(&[(name.as_bytes(), value.as_bytes())])
}

fn get1(c: &Config, name: &str) -> String {
    c.get(&[name.as_bytes()])[0].1.clone()
}

const UNITS: [(&str, u64); 8] = [
    ("", 1),
    ("b", 1),
    ("k", 1000),
    ("kb", 1024),
    ("m", 1_000_000),
    ("mb", 1 << 20),
    ("g", 1_000_000_000),
    ("gb", 1 << 30),
];

/// Config-ish lines: real parameter names with plausible and garbage
/// values, quotes, comments, and arbitrary text.
fn line() -> impl Strategy<Value = String> {
    let names: Vec<String> = param_names()
        .map(str::to_string)
        .chain(["lua-time-limit", "PORT", "nosuch"].map(String::from))
        .collect();
    let value = prop_oneof![
        "[0-9]{1,25}",
        "-[0-9]{1,5}",
        "[0-9]{1,4}(k|kb|m|mb|g|gb|KB|t)",
        "(yes|no|YES|maybe)",
        "(noeviction|allkeys-lru|volatile-fifo|debug|nothing)",
        "\"[ -~]{0,12}\"",
        "'[ -~]{0,12}'",
        "[ -~]{0,12}",
        Just("/nonexistent/dir/x.conf".to_string()),
    ];
    prop_oneof![
        4 => (proptest::sample::select(names), prop::collection::vec(value, 0..4))
            .prop_map(|(n, vs)| format!("{n} {}", vs.join(" "))),
        1 => "include /nonexistent/dir/[a-z*?]{0,6}",
        1 => "#[ -~]{0,20}",
        1 => "[ \t]{0,3}",
        1 => any::<String>().prop_filter("no include of real paths", |s| {
            !s.to_ascii_lowercase().contains("include")
        }),
    ]
}

proptest! {
    #[test]
    fn memory_value_with_any_unit_reads_back_in_bytes(
        n in 0u64..5_000_000_000,
        unit in 0usize..UNITS.len(),
        upper in any::<bool>(),
    ) {
        let (u, mul) = UNITS[unit];
        let u = if upper { u.to_ascii_uppercase() } else { u.to_string() };
        let mut c = Config::default();
        let res = set(&mut c, "maxmemory", &format!("{n}{u}"));
        match n.checked_mul(mul) {
            Some(bytes) => {
                prop_assert!(res.is_ok());
                prop_assert_eq!(c.maxmemory, bytes);
                prop_assert_eq!(get1(&c, "maxmemory"), bytes.to_string());
            }
            None => prop_assert!(res.is_err()),
        }
    }

    #[test]
    fn memory_value_survives_rewrite_format(bytes in prop_oneof![
        any::<u64>(),
        (0u64..1 << 20).prop_map(|k| k * 1024),
        (0u64..1 << 20).prop_map(|m| m << 20),
        (0u64..1 << 30).prop_map(|g| g << 30),
    ]) {
        // CONFIG REWRITE writes e.g. "5gb"; loading that gives the bytes back.
        let c = Config { maxmemory: bytes, ..Config::default() };
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.conf");
        c.rewrite(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let mut back = Config::default();
        Config::load_str(&text, "m.conf", &mut back).unwrap();
        prop_assert_eq!(back.maxmemory, bytes, "file was {:?}", text);
    }

    #[test]
    fn loader_never_panics(lines in prop::collection::vec(line(), 0..12)) {
        let text = lines.join("\n");
        let mut c = Config::default();
        match Config::load_str(&text, "fuzz.conf", &mut c) {
            Ok(()) => {}
            Err(e) => {
                prop_assert!(e.line >= 1 && e.line <= text.split('\n').count());
                prop_assert!(!e.message.is_empty());
                let _ = e.to_string();
            }
        }
    }

    #[test]
    fn command_line_never_panics_and_values_survive(
        values in prop::collection::vec(any::<String>(), 1..4)
    ) {
        // Any value, however odd, reaches the config unchanged.
        let mut argv = vec!["--requirepass".to_string(), values.join(" ")];
        argv.push("--logfile".to_string());
        argv.push(values[0].clone());
        let res = parse_command_line(&argv);
        if values[0] == "-" {
            // Last argument "-" means "config from stdin" in Redis.
            prop_assert!(res.is_err());
        } else {
            let c = Config::load(&res.unwrap()).unwrap();
            prop_assert_eq!(&c.requirepass, &values.join(" "));
            prop_assert_eq!(&c.logfile, &values[0]);
        }
    }

    #[test]
    fn arbitrary_argv_never_panics(argv in prop::collection::vec("[-a-z0-9 \"']{0,8}", 0..6)) {
        if let Ok(a) = parse_command_line(&argv) {
            let _ = Config::load(&StartupArgs { config_file: None, ..a });
        }
    }

    #[test]
    fn set_is_all_or_nothing(
        hz in 0i64..600,
        samples in 0i64..80,
        timeout in -5i64..100,
    ) {
        let mut c = Config::default();
        let before = c.clone();
        let (hz_s, samples_s, timeout_s) = (hz.to_string(), samples.to_string(), timeout.to_string());
        let res = c.set(&[
            (b"hz", hz_s.as_bytes()),
            (b"maxmemory-samples", samples_s.as_bytes()),
            (b"timeout", timeout_s.as_bytes()),
        ]);
        let valid = (1..=500).contains(&hz) && (1..=64).contains(&samples) && timeout >= 0;
        prop_assert_eq!(res.is_ok(), valid);
        if valid {
            prop_assert_eq!(
                (i64::from(c.hz), i64::from(c.maxmemory_samples), c.timeout as i64),
                (hz, samples, timeout)
            );
        } else {
            prop_assert_eq!(c, before);
        }
    }

    #[test]
    fn rewrite_then_load_reproduces_config(
        file_lines in prop::collection::vec(prop_oneof![
            Just("port 7000".to_string()),
            Just("hz 20".to_string()),
            Just("hz 30".to_string()),
            Just("# comment".to_string()),
            Just(String::new()),
            Just("maxmemory 1gb".to_string()),
            Just("lua-time-limit 10".to_string()),
            Just("requirepass 'x y'".to_string()),
            Just("bind \"1.2.3.4 ::1\"".to_string()),
        ], 0..8),
        changes in prop::collection::vec(prop_oneof![
            (1u32..=500).prop_map(|v| ("hz", v.to_string())),
            (0u64..1 << 40).prop_map(|v| ("maxmemory", v.to_string())),
            (0u64..10_000).prop_map(|v| ("busy-reply-threshold", v.to_string())),
            "[ -~]{0,10}".prop_map(|v| ("requirepass", v)),
            Just(("protected-mode", "no".to_string())),
            Just(("loglevel", "debug".to_string())),
            Just(("maxmemory-policy", "allkeys-fifo".to_string())),
        ], 0..6),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.conf");
        std::fs::write(&path, file_lines.join("\n")).unwrap();
        let args = StartupArgs { config_file: Some(path.clone()), ..StartupArgs::default() };
        let mut c = Config::load(&args).unwrap();
        for (name, value) in &changes {
            set(&mut c, name, value).unwrap();
        }
        c.rewrite(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let reloaded = Config::load(&args).unwrap();
        prop_assert_eq!(&reloaded, &c, "rewritten file:\n{}", text);
        // Comments survive.
        let comments = file_lines.iter().filter(|l| l.starts_with('#')).count();
        prop_assert_eq!(text.lines().filter(|l| *l == "# comment").count(), comments);
        // Each parameter is set at most once.
        for name in param_names() {
            let n = text.lines().filter(|l| l.split(' ').next() == Some(name)).count();
            prop_assert!(n <= 1, "{} set {} times:\n{}", name, n, text);
        }
    }
}
