//! Loading configuration text the way Redis `loadServerConfigFromString`
//! does: defaults first, then the config file, then the command-line
//! overrides, line by line, last assignment wins. Lines are trimmed, `#`
//! lines and blank lines skipped, split with `sdssplitargs` rules, the
//! directive name matched case-insensitively; `include` loads another file
//! (relative paths are relative to the current directory, `*?[` wildcards
//! in the file name are allowed, as in Redis 7). The first bad line stops
//! loading with a [`ConfigError`] naming the line and the problem, using
//! Redis 7 wording, because start-up must not go on with a half-understood
//! configuration.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::cli::StartupArgs;
use crate::config::Config;
use crate::glob::{has_glob_chars, string_match};
use crate::split::{split_args, trim_line};
use crate::table::lookup;

/// Source name used for errors in command-line overrides.
pub const COMMAND_LINE_SOURCE: &str = "command line";

/// Includes nested deeper than this are rejected (an include loop would
/// otherwise recurse forever; Redis has no limit and crashes).
const MAX_INCLUDE_DEPTH: usize = 16;

/// A configuration problem that stops start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// 1-based line number in `source_name`; 0 when the error is not about
    /// a line (e.g. the file cannot be read).
    pub line: usize,
    /// The offending line, trimmed (empty when `line` is 0).
    pub text: String,
    /// What is wrong, in Redis 7 wording.
    pub message: String,
    /// Path of the file the line is in, or `"command line"`.
    pub source_name: String,
}

impl fmt::Display for ConfigError {
    /// Formats like Redis' fatal config error report.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "\n*** FATAL CONFIG FILE ERROR (ringkv {}) ***\n",
            crate::VERSION
        )?;
        if self.line > 0 {
            write!(
                f,
                "Reading the configuration file, at line {}\n>>> '{}'\n",
                self.line, self.text
            )?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

/// The text of an I/O error the way C `strerror` prints it (Rust appends
/// " (os error N)", Redis does not).
pub(crate) fn io_error_text(e: &std::io::Error) -> String {
    let s = e.to_string();
    match s.rfind(" (os error ") {
        Some(i) => s[..i].to_string(),
        None => s,
    }
}

fn cant_open(path: &Path, e: &std::io::Error) -> String {
    format!(
        "Fatal error, can't open config file '{}': {}",
        path.display(),
        io_error_text(e)
    )
}

pub(crate) fn bytes_to_path(b: &[u8]) -> PathBuf {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        PathBuf::from(std::ffi::OsStr::from_bytes(b))
    }
    #[cfg(not(unix))]
    {
        PathBuf::from(String::from_utf8_lossy(b).into_owned())
    }
}

impl Config {
    /// Builds the start-up configuration: defaults, then the config file
    /// (if any), then `args.overrides` (source name `"command line"`).
    /// Records the config file's absolute path for `CONFIG REWRITE`.
    pub fn load(args: &StartupArgs) -> Result<Config, ConfigError> {
        let mut cfg = Config::default();
        // Shared by the file and the command line, so that list parameters
        // accumulate across both, as Redis `save` lines do.
        let mut touched = Vec::new();
        if let Some(path) = &args.config_file {
            let source = path.display().to_string();
            let bytes = std::fs::read(path).map_err(|e| ConfigError {
                line: 0,
                text: String::new(),
                message: cant_open(path, &e),
                source_name: source.clone(),
            })?;
            apply_text(&bytes, &source, &mut cfg, 0, &mut touched)?;
            cfg.config_file = Some(std::path::absolute(path).unwrap_or_else(|_| path.clone()));
        }
        apply_text(
            args.overrides.as_bytes(),
            COMMAND_LINE_SOURCE,
            &mut cfg,
            0,
            &mut touched,
        )?;
        Ok(cfg)
    }

    /// Applies config-file text on top of `into`. `source_name` is used in
    /// errors. On error `into` may hold the settings of the lines before
    /// the bad one (start-up stops anyway).
    pub fn load_str(text: &str, source_name: &str, into: &mut Config) -> Result<(), ConfigError> {
        apply_text(text.as_bytes(), source_name, into, 0, &mut Vec::new())
    }
}

/// Applies config text to `cfg`. `touched` collects the canonical name of
/// every parameter assigned (including through includes), in order.
pub(crate) fn apply_text(
    text: &[u8],
    source: &str,
    cfg: &mut Config,
    depth: usize,
    touched: &mut Vec<&'static str>,
) -> Result<(), ConfigError> {
    for (idx, raw) in text.split(|b| *b == b'\n').enumerate() {
        let line = trim_line(raw);
        let err = |message: String| ConfigError {
            line: idx + 1,
            text: String::from_utf8_lossy(line).into_owned(),
            message,
            source_name: source.to_string(),
        };
        if line.is_empty() || line[0] == b'#' {
            continue;
        }
        let Some(args) = split_args(line) else {
            return Err(err("Unbalanced quotes in configuration line".into()));
        };
        let Some(name) = args.first() else { continue };

        if let Some((_, spec)) = lookup(name) {
            let mut values = spec.line_values(&args[1..]).map_err(err)?;
            let clears = values.len() == 1 && values[0].is_empty();
            if crate::table::ACCUMULATING.contains(&spec.name)
                && touched.contains(&spec.name)
                && !clears
            {
                // A repeated line adds to the list the earlier lines built
                // (Redis `save`); a lone empty argument (`save ""`) instead
                // clears it, whatever came before.
                let mut all = split_args(spec.rewrite_value(cfg).as_bytes()).unwrap_or_default();
                all.retain(|a| !a.is_empty());
                all.append(&mut values);
                values = all;
            }
            spec.apply(cfg, &values).map_err(err)?;
            touched.push(spec.name);
        } else if name.eq_ignore_ascii_case(b"include") && args.len() == 2 {
            if depth >= MAX_INCLUDE_DEPTH {
                return Err(err(format!(
                    "include nesting deeper than {MAX_INCLUDE_DEPTH} levels (include loop?)"
                )));
            }
            for path in include_targets(&bytes_to_path(&args[1])).map_err(err)? {
                let bytes = std::fs::read(&path).map_err(|e| err(cant_open(&path, &e)))?;
                apply_text(&bytes, &path.display().to_string(), cfg, depth + 1, touched)?;
            }
        } else {
            return Err(err("Bad directive or wrong number of arguments".into()));
        }
    }
    Ok(())
}

/// The files an `include` argument names. Without wildcards: the path
/// itself (it must exist). With `*`, `?` or `[` in the file name: every
/// regular file in that directory matching it, sorted; none is fine (an
/// empty conf.d), as in Redis 7. Wildcards in directory components are not
/// supported.
fn include_targets(path: &Path) -> Result<Vec<PathBuf>, String> {
    let Some(file_name) = path.file_name() else {
        return Ok(vec![path.to_path_buf()]);
    };
    let pattern = file_name.to_string_lossy();
    if !has_glob_chars(pattern.as_bytes()) {
        return Ok(vec![path.to_path_buf()]);
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    if has_glob_chars(dir.to_string_lossy().as_bytes()) {
        return Err(format!(
            "wildcards are only supported in the file name of an include path: '{}'",
            path.display()
        ));
    }
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        // Like glob(3) finding nothing.
        Err(_) => return Ok(Vec::new()),
    };
    let mut found: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .filter(|e| {
            string_match(
                pattern.as_bytes(),
                e.file_name().to_string_lossy().as_bytes(),
                false,
            )
        })
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::enums::{EvictionPolicy, LogLevel};

    fn load(text: &str) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        Config::load_str(text, "test.conf", &mut c)?;
        Ok(c)
    }

    fn load_err(text: &str) -> ConfigError {
        load(text).unwrap_err()
    }

    #[test]
    fn comments_blank_lines_and_case() {
        let c =
            load("# comment\n\n   \n  # indented comment\nPORT 7000\r\nMaxMemory 1GB\n").unwrap();
        assert_eq!(c.port, 7000);
        assert_eq!(c.maxmemory, 1 << 30);
    }

    #[test]
    fn last_assignment_wins() {
        let c = load("port 1\nport 2\nport 3").unwrap();
        assert_eq!(c.port, 3);
    }

    #[test]
    fn every_type_parses() {
        let c = load(
            "bind 0.0.0.0 ::\n\
             dir /var/lib/ringkv\n\
             requirepass \"p w\"\n\
             maxmemory 100mb\n\
             maxmemory-policy allkeys-fifo\n\
             maxmemory-samples 10\n\
             loglevel VERBOSE\n\
             protected-mode no\n\
             lazyfree-lazy-user-flush yes\n\
             lua-time-limit 42\n\
             daemonize no\n",
        )
        .unwrap();
        assert_eq!(c.bind, ["0.0.0.0", "::"]);
        assert_eq!(c.dir, "/var/lib/ringkv");
        assert_eq!(c.requirepass, "p w");
        assert_eq!(c.maxmemory, 100 * 1024 * 1024);
        assert_eq!(c.maxmemory_policy, EvictionPolicy::AllKeysFifo);
        assert_eq!(c.maxmemory_samples, 10);
        assert_eq!(c.loglevel, LogLevel::Verbose);
        assert!(!c.protected_mode);
        assert!(c.lazyfree_lazy_user_flush);
        assert_eq!(c.busy_reply_threshold, 42);
    }

    #[test]
    fn bind_forms() {
        assert_eq!(
            load("bind \"1.2.3.4 ::1\"").unwrap().bind,
            ["1.2.3.4", "::1"]
        );
        assert_eq!(load("bind 1.2.3.4").unwrap().bind, ["1.2.3.4"]);
        assert!(load("bind \"\"").unwrap().bind.is_empty());
        assert!(load("bind").unwrap().bind.is_empty());
        let many = format!("bind {}", vec!["1.1.1.1"; 17].join(" "));
        assert_eq!(
            load_err(&many).message,
            "Too many bind addresses specified."
        );
    }

    #[test]
    fn error_messages_and_line_numbers() {
        let e = load_err("port 6380\n# c\nfoo bar\n");
        assert_eq!(e.line, 3);
        assert_eq!(e.text, "foo bar");
        assert_eq!(e.message, "Bad directive or wrong number of arguments");
        assert_eq!(e.source_name, "test.conf");

        let e = load_err("\n\nport abc");
        assert_eq!(
            (e.line, e.message.as_str()),
            (3, "argument couldn't be parsed into an integer")
        );
        let e = load_err("port 70000");
        assert_eq!(e.message, "argument must be between 0 and 65535 inclusive");
        let e = load_err("port -1");
        assert_eq!(e.message, "argument must be between 0 and 65535 inclusive");
        let e = load_err("port 1 2");
        assert_eq!(e.message, "wrong number of arguments");
        let e = load_err("port");
        assert_eq!(e.message, "wrong number of arguments");
        let e = load_err("maxmemory 1tb");
        assert_eq!(e.message, "argument must be a memory value");
        let e = load_err("maxmemory -1");
        assert_eq!(e.message, "argument must be a memory value");
        let e = load_err("client-query-buffer-limit 1k");
        assert_eq!(
            e.message,
            "argument must be between 1048576 and 9223372036854775807 inclusive"
        );
        let e = load_err("protected-mode on");
        assert_eq!(e.message, "argument must be 'yes' or 'no'");
        let e = load_err("loglevel loud");
        assert_eq!(
            e.message,
            "argument(s) must be one of the following: debug, verbose, notice, warning, nothing"
        );
        let e = load_err("maxmemory-policy lru");
        assert!(e
            .message
            .starts_with("argument(s) must be one of the following: noeviction, allkeys-lru, "));
        let e = load_err("hz 501");
        assert_eq!(e.message, "argument must be between 1 and 500 inclusive");
        let e = load_err("databases 0");
        assert_eq!(
            e.message,
            "argument must be between 1 and 2147483647 inclusive"
        );
        let e = load_err("io-threads 129");
        assert_eq!(e.message, "argument must be between 1 and 128 inclusive");
        let e = load_err("requirepass \"abc");
        assert_eq!(e.message, "Unbalanced quotes in configuration line");
        let e = load_err("requirepass \"\\xff\"");
        assert_eq!(e.message, "argument must be a valid UTF-8 string");
        let e = load_err("include");
        assert_eq!(e.message, "Bad directive or wrong number of arguments");
    }

    #[test]
    fn daemonize_yes_is_rejected() {
        let e = load_err("daemonize yes");
        assert!(
            e.message.contains("daemonize yes is not supported"),
            "{}",
            e.message
        );
        assert!(load("daemonize NO").is_ok());
        assert_eq!(
            load_err("daemonize 1").message,
            "argument must be 'yes' or 'no'"
        );
    }

    #[test]
    fn display_is_redis_style() {
        let e = load_err("port 1\n  maxmemory lots  \n");
        let text = e.to_string();
        assert_eq!(
            text,
            format!(
                "\n*** FATAL CONFIG FILE ERROR (ringkv {}) ***\n\
                 Reading the configuration file, at line 2\n\
                 >>> 'maxmemory lots'\n\
                 argument must be a memory value",
                env!("CARGO_PKG_VERSION")
            )
        );
    }

    #[test]
    fn display_without_line() {
        let e = ConfigError {
            line: 0,
            text: String::new(),
            message: "boom".into(),
            source_name: "x".into(),
        };
        assert!(!e.to_string().contains("at line"));
        assert!(e.to_string().ends_with("***\nboom"));
    }

    #[test]
    fn quoting_in_values() {
        let c = load("requirepass 'it\\'s'\nlogfile \"/tmp/a b.log\"\ndir \"\"").unwrap();
        assert_eq!(c.requirepass, "it's");
        assert_eq!(c.logfile, "/tmp/a b.log");
        assert_eq!(c.dir, "");
        assert_eq!(
            load("requirepass \"\\x41\\x42\"").unwrap().requirepass,
            "AB"
        );
        assert_eq!(
            load_err("requirepass \"a\"b").message,
            "Unbalanced quotes in configuration line"
        );
    }

    #[test]
    fn strerror_text() {
        let e = std::io::Error::from_raw_os_error(2);
        assert_eq!(io_error_text(&e), "No such file or directory");
    }

    #[test]
    fn save_lines_accumulate_and_empty_clears() {
        // One line with several pairs, or one pair per line: same result;
        // the first line replaces the defaults.
        assert_eq!(
            load("save 900 1 300 10").unwrap().save,
            [(900, 1), (300, 10)]
        );
        assert_eq!(
            load("save 900 1\nhz 12\nsave 300 10\nsave \"60 10000\"")
                .unwrap()
                .save,
            [(900, 1), (300, 10), (60, 10000)]
        );
        // `save ""` clears the defaults and everything before it ...
        assert!(load("save \"\"").unwrap().save.is_empty());
        assert!(load("save 900 1\nsave 300 10\nsave \"\"")
            .unwrap()
            .save
            .is_empty());
        // ... and later lines add to the empty list again.
        assert_eq!(
            load("save 900 1\nsave \"\"\nsave 60 5\nsave 30 7")
                .unwrap()
                .save,
            [(60, 5), (30, 7)]
        );
        // A bare `save` clears the defaults once, then adds nothing.
        assert!(load("save").unwrap().save.is_empty());
        assert_eq!(load("save 1 2\nsave").unwrap().save, [(1, 2)]);
        // No save line: the defaults stay.
        assert_eq!(load("hz 11").unwrap().save, Config::default().save);
    }

    #[test]
    fn save_errors() {
        for line in [
            "save 900",
            "save 900 1 300",
            "save -1 1",
            "save 900 -1",
            "save 0 1",
            "save abc 1",
            "save 900 1.5",
            "save \"\" 900 1",
        ] {
            let e = load_err(line);
            assert_eq!(e.message, "Invalid save parameters", "{line}");
        }
        // The accumulated list is validated as a whole, and the error
        // names the line that broke it.
        let e = load_err("save 900 1\nsave 300");
        assert_eq!((e.line, e.message.as_str()), (2, "Invalid save parameters"));
    }

    #[test]
    fn save_accumulates_across_file_and_command_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("save.conf");
        std::fs::write(&path, "save 900 1\n").unwrap();
        let load_with = |overrides: &str| {
            Config::load(&StartupArgs {
                config_file: Some(path.clone()),
                overrides: overrides.to_string(),
                ..StartupArgs::default()
            })
            .unwrap()
            .save
        };
        assert_eq!(load_with("save 60 5\n"), [(900, 1), (60, 5)]);
        assert!(load_with("save \"\"\n").is_empty());
    }

    #[test]
    fn ratelimit_policy_empty_line_clears_too() {
        let c = load("ratelimit-policy a gcra 1 10\nratelimit-policy \"\"").unwrap();
        assert!(c.ratelimit_policy.is_empty());
        let c = load(
            "ratelimit-policy a gcra 1 10\nratelimit-policy \"\"\nratelimit-policy b gcra 2 20",
        )
        .unwrap();
        let names: Vec<&str> = c.ratelimit_policy.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["b"]);
    }

    #[test]
    fn persistence_parameters_parse() {
        let c = load(
            "appendonly yes\n\
             appendfilename \"my file.aof\"\n\
             appenddirname aof\n\
             appendfsync Always\n\
             no-appendfsync-on-rewrite yes\n\
             auto-aof-rewrite-percentage 50\n\
             auto-aof-rewrite-min-size 1gb\n\
             aof-load-truncated no\n\
             stop-writes-on-bgsave-error no\n",
        )
        .unwrap();
        assert!(c.appendonly);
        assert_eq!(c.appendfilename, "my file.aof");
        assert_eq!(c.appenddirname, "aof");
        assert_eq!(c.appendfsync, crate::enums::AppendFsync::Always);
        assert!(c.no_appendfsync_on_rewrite);
        assert_eq!(c.auto_aof_rewrite_percentage, 50);
        assert_eq!(c.auto_aof_rewrite_min_size, 1 << 30);
        assert!(!c.aof_load_truncated);
        assert!(!c.stop_writes_on_bgsave_error);
        assert_eq!(
            load_err("appendfsync sometimes").message,
            "argument(s) must be one of the following: always, everysec, no"
        );
        assert_eq!(load_err("appendfsync").message, "wrong number of arguments");
    }
}
