//! The single table of configuration parameters. Every setting ringkv knows
//! is one [`Spec`] row here: its name and aliases, its value type (bool,
//! bounded integer, memory size, enum, string, or a special multi-argument
//! kind), whether `CONFIG SET` may change it, its default in config-file
//! syntax, and typed accessors into [`Config`]. The file loader,
//! `CONFIG GET/SET/REWRITE` and [`Config::default`] are all driven by this
//! table, so adding a parameter means adding a field to [`Config`] and one
//! row below.

use crate::config::Config;
use crate::enums::{AppendFsync, EvictionPolicy, LogLevel};
use crate::split::quote_arg;
use crate::values::{format_bool, format_memory, parse_bool, parse_i64, parse_memory};

/// The value type of a parameter, with typed accessors into [`Config`].
/// Accessors are plain function pointers so the table can be a `static`.
pub(crate) enum Kind {
    /// `yes` / `no`.
    Bool {
        get: fn(&Config) -> bool,
        set: fn(&mut Config, bool),
    },
    /// Integer checked with Redis `string2ll` rules and inclusive bounds.
    Int {
        min: i64,
        max: i64,
        get: fn(&Config) -> i64,
        set: fn(&mut Config, i64),
    },
    /// Byte count with optional unit (`k`, `kb`, `m`, `mb`, `g`, `gb`).
    Memory {
        min: u64,
        max: u64,
        get: fn(&Config) -> u64,
        set: fn(&mut Config, u64),
    },
    /// One of a fixed list of names; the index is into `names`.
    Enum {
        names: &'static [&'static str],
        get: fn(&Config) -> usize,
        set: fn(&mut Config, usize),
    },
    /// Free-form UTF-8 string (may be empty).
    Str {
        get: fn(&Config) -> &str,
        set: fn(&mut Config, String),
    },
    /// Anything else (lists like `bind` and `save`, ...). With
    /// `multi_arg` the parameter takes any number of arguments, and a single
    /// non-empty argument is split again like a config line (Redis
    /// `MULTI_ARG_CONFIG`), so `--bind "a b"` works.
    Special {
        multi_arg: bool,
        set: fn(&mut Config, &[Vec<u8>]) -> Result<(), String>,
        /// Value as `CONFIG GET` shows it.
        get: fn(&Config) -> String,
        /// Arguments as `CONFIG REWRITE` writes them after the name.
        rewrite: fn(&Config) -> String,
    },
}

/// Extra validation of a stored value (see [`Spec::check`]).
pub(crate) type CheckFn = fn(&Config) -> Result<(), String>;

/// One configuration parameter.
pub(crate) struct Spec {
    /// Canonical (lower-case) name.
    pub name: &'static str,
    /// Other accepted names (lower-case), e.g. `lua-time-limit`.
    pub aliases: &'static [&'static str],
    /// Whether `CONFIG SET` may change it at run time.
    pub mutable: bool,
    /// Default value as the single argument of a config line.
    pub default: &'static str,
    pub kind: Kind,
    /// Extra validation run after a new value is stored; the error text
    /// becomes the config error message.
    pub check: Option<CheckFn>,
}

impl Spec {
    /// True when the parameter takes a variable number of arguments.
    pub fn multi_arg(&self) -> bool {
        matches!(
            self.kind,
            Kind::Special {
                multi_arg: true,
                ..
            }
        )
    }

    /// The values of a config line whose arguments after the name are
    /// `args`: checks the count of single-argument kinds and re-splits a
    /// lone non-empty argument of a multi-argument kind (Redis
    /// `MULTI_ARG_CONFIG`), so `bind "a b"` means `bind a b`.
    pub fn line_values(&self, args: &[Vec<u8>]) -> Result<Vec<Vec<u8>>, String> {
        if !self.multi_arg() {
            if args.len() != 1 {
                return Err("wrong number of arguments".to_string());
            }
            return Ok(args.to_vec());
        }
        if args.len() == 1 && !args[0].is_empty() {
            return crate::split::split_args(&args[0])
                .ok_or_else(|| "Unbalanced quotes in configuration line".to_string());
        }
        Ok(args.to_vec())
    }

    /// Stores `args` (the arguments after the name) into `cfg`, or returns
    /// the Redis 7 error text.
    pub fn apply(&self, cfg: &mut Config, args: &[Vec<u8>]) -> Result<(), String> {
        let arg = || args.first().map(Vec::as_slice).unwrap_or_default();
        if !self.multi_arg() && args.len() != 1 {
            return Err("wrong number of arguments".to_string());
        }
        match &self.kind {
            Kind::Bool { set, .. } => {
                let v = parse_bool(arg()).ok_or("argument must be 'yes' or 'no'")?;
                set(cfg, v);
            }
            Kind::Int { min, max, set, .. } => {
                let v = parse_i64(arg()).ok_or("argument couldn't be parsed into an integer")?;
                if v < *min || v > *max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                set(cfg, v);
            }
            Kind::Memory { min, max, set, .. } => {
                let v = parse_memory(arg()).ok_or("argument must be a memory value")?;
                if v < *min || v > *max {
                    return Err(format!(
                        "argument must be between {min} and {max} inclusive"
                    ));
                }
                set(cfg, v);
            }
            Kind::Enum { names, set, .. } => {
                let a = arg();
                let idx = names
                    .iter()
                    .position(|n| a.eq_ignore_ascii_case(n.as_bytes()))
                    .ok_or_else(|| {
                        format!(
                            "argument(s) must be one of the following: {}",
                            names.join(", ")
                        )
                    })?;
                set(cfg, idx);
            }
            Kind::Str { set, .. } => {
                let s = std::str::from_utf8(arg())
                    .map_err(|_| "argument must be a valid UTF-8 string".to_string())?;
                set(cfg, s.to_string());
            }
            Kind::Special { set, .. } => set(cfg, args)?,
        }
        match self.check {
            Some(check) => check(cfg),
            None => Ok(()),
        }
    }

    /// The value as `CONFIG GET` reports it.
    pub fn get(&self, cfg: &Config) -> String {
        match &self.kind {
            Kind::Bool { get, .. } => format_bool(get(cfg)).to_string(),
            Kind::Int { get, .. } => get(cfg).to_string(),
            Kind::Memory { get, .. } => get(cfg).to_string(),
            Kind::Enum { names, get, .. } => names[get(cfg)].to_string(),
            Kind::Str { get, .. } => get(cfg).to_string(),
            Kind::Special { get, .. } => get(cfg),
        }
    }

    /// The argument text `CONFIG REWRITE` writes after the name.
    pub fn rewrite_value(&self, cfg: &Config) -> String {
        match &self.kind {
            Kind::Memory { get, .. } => format_memory(get(cfg)),
            Kind::Str { get, .. } => quote_arg(get(cfg).as_bytes()),
            Kind::Special { rewrite, .. } => rewrite(cfg),
            _ => self.get(cfg),
        }
    }

    /// Stores the built-in default. Defaults are validated by tests.
    pub fn apply_default(&self, cfg: &mut Config) {
        let res = self
            .line_values(&[self.default.as_bytes().to_vec()])
            .and_then(|values| self.apply(cfg, &values));
        if let Err(e) = res {
            panic!("built-in default of '{}' is invalid: {e}", self.name);
        }
    }
}

/// Finds a parameter by name or alias, ignoring ASCII case. Returns the
/// matched entry name (canonical or alias, lower-case) and the spec.
pub(crate) fn lookup(name: &[u8]) -> Option<(&'static str, &'static Spec)> {
    TABLE.iter().find_map(|spec| {
        std::iter::once(spec.name)
            .chain(spec.aliases.iter().copied())
            .find(|n| name.eq_ignore_ascii_case(n.as_bytes()))
            .map(|n| (n, spec))
    })
}

/// Every name `CONFIG GET` can report, in table order: each canonical name
/// followed by its aliases (Redis 7 registers aliases as entries of their
/// own).
pub(crate) fn entries() -> impl Iterator<Item = (&'static str, &'static Spec)> {
    TABLE.iter().flat_map(|spec| {
        std::iter::once(spec.name)
            .chain(spec.aliases.iter().copied())
            .map(move |n| (n, spec))
    })
}

/// Maximum number of `bind` addresses (Redis `CONFIG_BINDADDR_MAX`).
const BIND_MAX: usize = 16;

fn set_bind(c: &mut Config, args: &[Vec<u8>]) -> Result<(), String> {
    if args.len() > BIND_MAX {
        return Err("Too many bind addresses specified.".to_string());
    }
    // A single empty argument means "no addresses", as in Redis.
    let args = if args.len() == 1 && args[0].is_empty() {
        &[][..]
    } else {
        args
    };
    let mut addrs = Vec::with_capacity(args.len());
    for a in args {
        let s = std::str::from_utf8(a)
            .map_err(|_| "argument must be a valid UTF-8 string".to_string())?;
        addrs.push(s.to_string());
    }
    c.bind = addrs;
    Ok(())
}

fn rewrite_bind(c: &Config) -> String {
    if c.bind.is_empty() {
        return "\"\"".to_string();
    }
    c.bind
        .iter()
        .map(|a| quote_arg(a.as_bytes()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn check_daemonize(c: &Config) -> Result<(), String> {
    if c.daemonize {
        Err(
            "daemonize yes is not supported: ringkv always runs in the foreground, \
             use a process supervisor instead"
                .to_string(),
        )
    } else {
        Ok(())
    }
}

/// Parameters whose repeated config lines add to the list instead of
/// replacing it (Redis `save` style); `CONFIG SET` still replaces, and a
/// line whose only argument is empty (`save ""`) clears the list.
pub(crate) const ACCUMULATING: &[&str] = &["save", "ratelimit-policy"];

/// Redis `setConfigSaveOption`: `<seconds> <changes>` pairs, the whole
/// list (a lone empty argument means no save points). Seconds must be at
/// least 1 and changes at least 0, as in Redis 7.
fn set_save(c: &mut Config, args: &[Vec<u8>]) -> Result<(), String> {
    const INVALID: &str = "Invalid save parameters";
    let args = if args.len() == 1 && args[0].is_empty() {
        &[][..]
    } else {
        args
    };
    if args.len() % 2 != 0 {
        return Err(INVALID.to_string());
    }
    let mut points = Vec::with_capacity(args.len() / 2);
    for pair in args.chunks_exact(2) {
        let (seconds, changes) = match (parse_i64(&pair[0]), parse_i64(&pair[1])) {
            (Some(s), Some(ch)) if s >= 1 && ch >= 0 => (s as u64, ch as u64),
            _ => return Err(INVALID.to_string()),
        };
        points.push((seconds, changes));
    }
    c.save = points;
    Ok(())
}

/// The save points as `CONFIG GET` shows them: `3600 1 300 100`, or empty.
fn format_save(c: &Config) -> String {
    c.save
        .iter()
        .map(|(seconds, changes)| format!("{seconds} {changes}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `CONFIG REWRITE` writes all save points on one line, `save ""` for none.
fn rewrite_save(c: &Config) -> String {
    if c.save.is_empty() {
        "\"\"".to_string()
    } else {
        format_save(c)
    }
}

/// `latency-tracking-info-percentiles`: the whole list of percentiles, each a number from 0 to
/// 100 (a lone empty argument means none), with Redis's errors.
fn set_percentiles(c: &mut Config, args: &[Vec<u8>]) -> Result<(), String> {
    let args = if args.len() == 1 && args[0].is_empty() {
        &[][..]
    } else {
        args
    };
    let mut percentiles = Vec::with_capacity(args.len());
    for arg in args {
        let p = std::str::from_utf8(arg)
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .filter(|p| !p.is_nan())
            .ok_or("Invalid latency-tracking-info-percentiles parameters")?;
        if !(0.0..=100.0).contains(&p) {
            return Err(
                "latency-tracking-info-percentiles parameters should sit between [0.0,100.0]"
                    .into(),
            );
        }
        percentiles.push(crate::config::Percentile(p));
    }
    c.latency_tracking_info_percentiles = percentiles;
    Ok(())
}

/// A percentile as Redis prints it: `%f` without its trailing zeros (`99.9`, `50`).
pub fn format_percentile(p: f64) -> String {
    let text = format!("{p:.6}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn format_percentiles(c: &Config) -> String {
    c.latency_tracking_info_percentiles
        .iter()
        .map(|p| format_percentile(p.0))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `CONFIG REWRITE`: all percentiles on one line, `""` for none.
fn rewrite_percentiles(c: &Config) -> String {
    if c.latency_tracking_info_percentiles.is_empty() {
        "\"\"".to_string()
    } else {
        format_percentiles(c)
    }
}

/// Redis `isValidAOFfilename` / `isValidAOFdirname`: a non-empty name
/// without a `/`.
fn check_base_name(value: &str, param: &str, what: &str) -> Result<(), String> {
    if value.is_empty() {
        Err(format!("{param} can't be empty"))
    } else if value.contains('/') {
        Err(format!("{param} can't be a path, just a {what}"))
    } else {
        Ok(())
    }
}

/// A zone label travels in gossip and shows in CLUSTER NODES: short, no spaces.
fn check_zone(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > 64 || value.contains(char::is_whitespace) {
        Err("cluster-zone must be 1 to 64 characters without spaces".into())
    } else {
        Ok(())
    }
}

/// Most named rate-limit policies a configuration may hold.
const RATELIMIT_POLICIES_MAX: usize = 1024;
/// Longest rate-limit policy name.
const RATELIMIT_POLICY_NAME_MAX: usize = 64;

/// A policy name: 1..=64 of `[A-Za-z0-9_.-]`, not starting with a digit or
/// `-`. Names can then never be mistaken for the optional burst that may
/// precede them, and appear unquoted in config files, INFO fields and HTTP headers.
fn valid_policy_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name.len() <= RATELIMIT_POLICY_NAME_MAX
        && !name[0].is_ascii_digit()
        && name[0] != b'-'
        && name
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

fn positive_u64(arg: &[u8], what: &str) -> Result<u64, String> {
    match parse_i64(arg) {
        Some(v) if v > 0 => Ok(v as u64),
        _ => Err(format!("{what} must be a positive integer")),
    }
}

/// `ratelimit-policy name algorithm limit window_ms [burst] [name ...]`:
/// the whole list (a lone empty argument clears it). A token after
/// `window_ms` that is an integer is that policy's burst; policy names
/// cannot start with a digit, so the split is unambiguous.
fn set_ratelimit_policies(c: &mut Config, args: &[Vec<u8>]) -> Result<(), String> {
    const USAGE: &str = "ratelimit-policy expects: name algorithm limit window_ms [burst] ...";
    let args = if args.len() == 1 && args[0].is_empty() {
        &[][..]
    } else {
        args
    };
    let mut policies: Vec<(String, ringkv_ratelimit::Policy)> = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let [name, algorithm, limit, window] = match args.get(i..i + 4) {
            Some([a, b, c, d]) => [a, b, c, d],
            _ => return Err(USAGE.to_string()),
        };
        i += 4;
        if !valid_policy_name(name) {
            return Err(format!(
                "invalid rate limit policy name '{}': use 1 to {RATELIMIT_POLICY_NAME_MAX} \
                 letters, digits, '_', '.' or '-', not starting with a digit or '-'",
                String::from_utf8_lossy(&name[..name.len().min(RATELIMIT_POLICY_NAME_MAX + 1)])
            ));
        }
        let name = String::from_utf8_lossy(name).into_owned();
        if policies.iter().any(|(n, _)| *n == name) {
            return Err(format!("duplicate rate limit policy '{name}'"));
        }
        let algorithm = ringkv_ratelimit::Algorithm::parse(&String::from_utf8_lossy(algorithm))
            .map_err(|e| e.to_string())?;
        let mut policy = ringkv_ratelimit::Policy::new(
            algorithm,
            positive_u64(limit, "limit")?,
            positive_u64(window, "window_ms")?,
        );
        if let Some(burst) = args.get(i).filter(|a| parse_i64(a).is_some()) {
            policy = policy.with_burst(positive_u64(burst, "burst")?);
            i += 1;
        }
        policy
            .validate()
            .map_err(|e| format!("policy '{name}': {e}"))?;
        if policies.len() == RATELIMIT_POLICIES_MAX {
            return Err(format!(
                "too many rate limit policies (at most {RATELIMIT_POLICIES_MAX})"
            ));
        }
        policies.push((name, policy));
    }
    c.ratelimit_policy = policies;
    Ok(())
}

/// The policy list as `CONFIG GET` shows it and a config line spells it.
fn format_ratelimit_policies(c: &Config) -> String {
    let mut out = String::new();
    for (name, p) in &c.ratelimit_policy {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&format!(
            "{name} {} {} {}",
            p.algorithm.name(),
            p.limit,
            p.window_ms
        ));
        if let Some(burst) = p.burst {
            out.push_str(&format!(" {burst}"));
        }
    }
    out
}

/// `id-layout time datacenter worker sequence`: bit counts summing to 63.
fn set_id_layout(c: &mut Config, args: &[Vec<u8>]) -> Result<(), String> {
    const USAGE: &str =
        "id-layout expects four bit counts: time datacenter worker sequence (summing to 63)";
    let [time, datacenter, worker, sequence] = args else {
        return Err(USAGE.to_string());
    };
    let mut bits = [0u8; 4];
    for (slot, arg) in bits.iter_mut().zip([time, datacenter, worker, sequence]) {
        *slot = match parse_i64(arg) {
            Some(v @ 0..=63) => v as u8,
            _ => return Err(USAGE.to_string()),
        };
    }
    let layout = ringkv_idgen::Layout {
        time_bits: bits[0],
        datacenter_bits: bits[1],
        worker_bits: bits[2],
        sequence_bits: bits[3],
        epoch_ms: 0,
    };
    layout.validate().map_err(|e| e.to_string())?;
    c.id_layout = bits;
    Ok(())
}

/// `auto` or a worker number (whether it fits the layout is checked at start-up).
fn set_id_worker(c: &mut Config, args: &[Vec<u8>]) -> Result<(), String> {
    let arg = args.first().map(Vec::as_slice).unwrap_or_default();
    if arg.eq_ignore_ascii_case(b"auto") {
        c.id_worker = None;
        return Ok(());
    }
    match parse_i64(arg) {
        Some(v) if v >= 0 => {
            c.id_worker = Some(v as u64);
            Ok(())
        }
        _ => Err(format!(
            "argument must be 'auto' or an integer between 0 and {}",
            i64::MAX
        )),
    }
}

fn format_id_worker(c: &Config) -> String {
    c.id_worker
        .map_or_else(|| "auto".to_string(), |w| w.to_string())
}

fn format_id_layout(c: &Config) -> String {
    let [t, d, w, s] = c.id_layout;
    format!("{t} {d} {w} {s}")
}

const I32_MAX: i64 = i32::MAX as i64;
const MB: u64 = 1024 * 1024;

/// The parameter table. Order is the order of `CONFIG GET *` and of lines
/// appended by `CONFIG REWRITE`.
pub(crate) static TABLE: &[Spec] = &[
    Spec {
        name: "bind",
        aliases: &[],
        mutable: false,
        default: "127.0.0.1",
        kind: Kind::Special {
            multi_arg: true,
            set: set_bind,
            get: |c| c.bind.join(" "),
            rewrite: rewrite_bind,
        },
        check: None,
    },
    Spec {
        name: "port",
        aliases: &[],
        mutable: false,
        default: "6379",
        kind: Kind::Int {
            min: 0,
            max: 65535,
            get: |c| c.port.into(),
            set: |c, v| c.port = v as u16,
        },
        check: None,
    },
    Spec {
        name: "dir",
        aliases: &[],
        mutable: false,
        default: "./data",
        kind: Kind::Str {
            get: |c| &c.dir,
            set: |c, v| c.dir = v,
        },
        check: None,
    },
    Spec {
        name: "requirepass",
        aliases: &[],
        mutable: true,
        default: "",
        kind: Kind::Str {
            get: |c| &c.requirepass,
            set: |c, v| c.requirepass = v,
        },
        check: None,
    },
    Spec {
        name: "maxmemory",
        aliases: &[],
        mutable: true,
        default: "0",
        kind: Kind::Memory {
            min: 0,
            max: u64::MAX,
            get: |c| c.maxmemory,
            set: |c, v| c.maxmemory = v,
        },
        check: None,
    },
    Spec {
        name: "stream-node-max-entries",
        aliases: &[],
        mutable: true,
        default: "100",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| i64::try_from(c.stream_node_max_entries).unwrap_or(i64::MAX),
            set: |c, v| c.stream_node_max_entries = u64::try_from(v).unwrap_or(0),
        },
        check: None,
    },
    Spec {
        name: "stream-node-max-bytes",
        aliases: &[],
        mutable: true,
        default: "4096",
        kind: Kind::Memory {
            min: 0,
            max: u64::MAX,
            get: |c| c.stream_node_max_bytes,
            set: |c, v| c.stream_node_max_bytes = v,
        },
        check: None,
    },
    Spec {
        name: "hll-sparse-max-bytes",
        aliases: &[],
        mutable: true,
        default: "3000",
        kind: Kind::Memory {
            min: 0,
            max: i32::MAX as u64,
            get: |c| c.hll_sparse_max_bytes,
            set: |c, v| c.hll_sparse_max_bytes = v,
        },
        check: None,
    },
    Spec {
        name: "maxmemory-policy",
        aliases: &[],
        mutable: true,
        default: "noeviction",
        kind: Kind::Enum {
            names: &EvictionPolicy::NAMES,
            get: |c| c.maxmemory_policy as usize,
            set: |c, i| c.maxmemory_policy = EvictionPolicy::ALL[i],
        },
        check: None,
    },
    Spec {
        name: "maxmemory-samples",
        aliases: &[],
        mutable: true,
        default: "5",
        kind: Kind::Int {
            min: 1,
            max: 64,
            get: |c| c.maxmemory_samples.into(),
            set: |c, v| c.maxmemory_samples = v as u32,
        },
        check: None,
    },
    Spec {
        name: "lfu-log-factor",
        aliases: &[],
        mutable: true,
        default: "10",
        kind: Kind::Int {
            min: 0,
            max: I32_MAX,
            get: |c| c.lfu_log_factor.into(),
            set: |c, v| c.lfu_log_factor = v as u32,
        },
        check: None,
    },
    Spec {
        name: "lfu-decay-time",
        aliases: &[],
        mutable: true,
        default: "1",
        kind: Kind::Int {
            min: 0,
            max: I32_MAX,
            get: |c| c.lfu_decay_time.into(),
            set: |c, v| c.lfu_decay_time = v as u32,
        },
        check: None,
    },
    Spec {
        name: "loglevel",
        aliases: &[],
        mutable: true,
        default: "notice",
        kind: Kind::Enum {
            names: &LogLevel::NAMES,
            get: |c| c.loglevel as usize,
            set: |c, i| c.loglevel = LogLevel::ALL[i],
        },
        check: None,
    },
    Spec {
        name: "logfile",
        aliases: &[],
        mutable: false,
        default: "",
        kind: Kind::Str {
            get: |c| &c.logfile,
            set: |c, v| c.logfile = v,
        },
        check: None,
    },
    Spec {
        name: "dbfilename",
        aliases: &[],
        mutable: true,
        default: "dump.snap",
        kind: Kind::Str {
            get: |c| &c.dbfilename,
            set: |c, v| c.dbfilename = v,
        },
        check: Some(|c| {
            if c.dbfilename.is_empty() || c.dbfilename.contains('/') {
                Err("dbfilename can't be a path, just a filename".to_string())
            } else {
                Ok(())
            }
        }),
    },
    Spec {
        name: "save",
        aliases: &[],
        mutable: true,
        default: "3600 1 300 100 60 10000",
        kind: Kind::Special {
            multi_arg: true,
            set: set_save,
            get: format_save,
            rewrite: rewrite_save,
        },
        check: None,
    },
    Spec {
        name: "stop-writes-on-bgsave-error",
        aliases: &[],
        mutable: true,
        default: "yes",
        kind: Kind::Bool {
            get: |c| c.stop_writes_on_bgsave_error,
            set: |c, v| c.stop_writes_on_bgsave_error = v,
        },
        check: None,
    },
    Spec {
        name: "appendonly",
        aliases: &[],
        mutable: true,
        default: "no",
        kind: Kind::Bool {
            get: |c| c.appendonly,
            set: |c, v| c.appendonly = v,
        },
        check: None,
    },
    Spec {
        name: "appendfilename",
        aliases: &[],
        mutable: false,
        default: "appendonly.aof",
        kind: Kind::Str {
            get: |c| &c.appendfilename,
            set: |c, v| c.appendfilename = v,
        },
        check: Some(|c| check_base_name(&c.appendfilename, "appendfilename", "filename")),
    },
    Spec {
        name: "appenddirname",
        aliases: &[],
        mutable: false,
        default: "appendonlydir",
        kind: Kind::Str {
            get: |c| &c.appenddirname,
            set: |c, v| c.appenddirname = v,
        },
        check: Some(|c| check_base_name(&c.appenddirname, "appenddirname", "dirname")),
    },
    Spec {
        name: "appendfsync",
        aliases: &[],
        mutable: true,
        default: "everysec",
        kind: Kind::Enum {
            names: &AppendFsync::NAMES,
            get: |c| c.appendfsync as usize,
            set: |c, i| c.appendfsync = AppendFsync::ALL[i],
        },
        check: None,
    },
    Spec {
        name: "no-appendfsync-on-rewrite",
        aliases: &[],
        mutable: true,
        default: "no",
        kind: Kind::Bool {
            get: |c| c.no_appendfsync_on_rewrite,
            set: |c, v| c.no_appendfsync_on_rewrite = v,
        },
        check: None,
    },
    Spec {
        name: "auto-aof-rewrite-percentage",
        aliases: &[],
        mutable: true,
        default: "100",
        kind: Kind::Int {
            min: 0,
            max: I32_MAX,
            get: |c| c.auto_aof_rewrite_percentage.into(),
            set: |c, v| c.auto_aof_rewrite_percentage = v as u32,
        },
        check: None,
    },
    Spec {
        name: "auto-aof-rewrite-min-size",
        aliases: &[],
        mutable: true,
        default: "64mb",
        kind: Kind::Memory {
            min: 0,
            max: i64::MAX as u64,
            get: |c| c.auto_aof_rewrite_min_size,
            set: |c, v| c.auto_aof_rewrite_min_size = v,
        },
        check: None,
    },
    Spec {
        name: "aof-preallocate",
        aliases: &[],
        mutable: true,
        default: "1mb",
        kind: Kind::Memory {
            min: 0,
            max: 1 << 30,
            get: |c| c.aof_preallocate,
            set: |c, v| c.aof_preallocate = v,
        },
        check: None,
    },
    Spec {
        name: "aof-load-truncated",
        aliases: &[],
        mutable: true,
        default: "yes",
        kind: Kind::Bool {
            get: |c| c.aof_load_truncated,
            set: |c, v| c.aof_load_truncated = v,
        },
        check: None,
    },
    Spec {
        name: "databases",
        aliases: &[],
        mutable: false,
        default: "16",
        kind: Kind::Int {
            min: 1,
            max: I32_MAX,
            get: |c| c.databases.into(),
            set: |c, v| c.databases = v as u32,
        },
        check: None,
    },
    Spec {
        name: "maxclients",
        aliases: &[],
        mutable: true,
        default: "10000",
        kind: Kind::Int {
            min: 1,
            max: u32::MAX as i64,
            get: |c| c.maxclients.into(),
            set: |c, v| c.maxclients = v as u32,
        },
        check: None,
    },
    Spec {
        name: "timeout",
        aliases: &[],
        mutable: true,
        default: "0",
        kind: Kind::Int {
            min: 0,
            max: I32_MAX,
            get: |c| c.timeout as i64,
            set: |c, v| c.timeout = v as u64,
        },
        check: None,
    },
    Spec {
        name: "tcp-keepalive",
        aliases: &[],
        mutable: true,
        default: "300",
        kind: Kind::Int {
            min: 0,
            max: I32_MAX,
            get: |c| c.tcp_keepalive as i64,
            set: |c, v| c.tcp_keepalive = v as u64,
        },
        check: None,
    },
    Spec {
        name: "tcp-backlog",
        aliases: &[],
        mutable: false,
        default: "511",
        kind: Kind::Int {
            min: 0,
            max: I32_MAX,
            get: |c| c.tcp_backlog.into(),
            set: |c, v| c.tcp_backlog = v as u32,
        },
        check: None,
    },
    Spec {
        name: "proto-max-bulk-len",
        aliases: &[],
        mutable: true,
        default: "512mb",
        kind: Kind::Memory {
            min: MB,
            max: i64::MAX as u64,
            get: |c| c.proto_max_bulk_len,
            set: |c, v| c.proto_max_bulk_len = v,
        },
        check: None,
    },
    Spec {
        name: "client-query-buffer-limit",
        aliases: &[],
        mutable: true,
        default: "1gb",
        kind: Kind::Memory {
            min: MB,
            max: i64::MAX as u64,
            get: |c| c.client_query_buffer_limit,
            set: |c, v| c.client_query_buffer_limit = v,
        },
        check: None,
    },
    Spec {
        name: "hz",
        aliases: &[],
        mutable: true,
        default: "10",
        kind: Kind::Int {
            min: 1,
            max: 500,
            get: |c| c.hz.into(),
            set: |c, v| c.hz = v as u32,
        },
        check: None,
    },
    Spec {
        name: "io-threads",
        aliases: &[],
        mutable: false,
        default: "1",
        kind: Kind::Int {
            min: 1,
            max: 128,
            get: |c| c.io_threads.into(),
            set: |c, v| c.io_threads = v as u32,
        },
        check: None,
    },
    Spec {
        name: "busy-poll-us",
        aliases: &[],
        mutable: true,
        default: "50",
        kind: Kind::Int {
            min: 0,
            max: 10_000,
            get: |c| c.busy_poll_us.into(),
            set: |c, v| c.busy_poll_us = v as u32,
        },
        check: None,
    },
    Spec {
        name: "slowlog-log-slower-than",
        aliases: &[],
        mutable: true,
        default: "10000",
        kind: Kind::Int {
            min: -1,
            max: i64::MAX,
            get: |c| c.slowlog_log_slower_than,
            set: |c, v| c.slowlog_log_slower_than = v,
        },
        check: None,
    },
    Spec {
        name: "slowlog-max-len",
        aliases: &[],
        mutable: true,
        default: "128",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| i64::try_from(c.slowlog_max_len).unwrap_or(i64::MAX),
            set: |c, v| c.slowlog_max_len = u64::try_from(v).unwrap_or(0),
        },
        check: None,
    },
    Spec {
        name: "busy-poll-min-load",
        aliases: &[],
        mutable: true,
        default: "50",
        kind: Kind::Int {
            min: 0,
            max: 100,
            get: |c| c.busy_poll_min_load.into(),
            set: |c, v| c.busy_poll_min_load = v as u32,
        },
        check: None,
    },
    Spec {
        name: "latency-monitor-threshold",
        aliases: &[],
        mutable: true,
        default: "0",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| i64::try_from(c.latency_monitor_threshold).unwrap_or(i64::MAX),
            set: |c, v| c.latency_monitor_threshold = u64::try_from(v).unwrap_or(0),
        },
        check: None,
    },
    Spec {
        name: "latency-tracking",
        aliases: &[],
        mutable: true,
        default: "yes",
        kind: Kind::Bool {
            get: |c| c.latency_tracking,
            set: |c, v| c.latency_tracking = v,
        },
        check: None,
    },
    Spec {
        name: "latency-tracking-info-percentiles",
        aliases: &[],
        mutable: true,
        default: "50 99 99.9",
        kind: Kind::Special {
            multi_arg: true,
            set: set_percentiles,
            get: format_percentiles,
            rewrite: rewrite_percentiles,
        },
        check: None,
    },
    Spec {
        name: "event-loop-pinning",
        aliases: &[],
        mutable: true,
        default: "auto",
        kind: Kind::Enum {
            names: &["auto", "no"],
            get: |c| usize::from(!c.event_loop_pinning),
            set: |c, i| c.event_loop_pinning = i == 0,
        },
        check: None,
    },
    Spec {
        name: "server_cpulist",
        aliases: &[],
        mutable: false,
        default: "",
        kind: Kind::Str {
            get: |c| &c.server_cpulist,
            set: |c, v| c.server_cpulist = v,
        },
        check: Some(|c| crate::cpulist::parse_cpulist(&c.server_cpulist).map(|_| ())),
    },
    Spec {
        name: "bio_cpulist",
        aliases: &[],
        mutable: false,
        default: "",
        kind: Kind::Str {
            get: |c| &c.bio_cpulist,
            set: |c, v| c.bio_cpulist = v,
        },
        check: Some(|c| crate::cpulist::parse_cpulist(&c.bio_cpulist).map(|_| ())),
    },
    Spec {
        name: "aof_rewrite_cpulist",
        aliases: &[],
        mutable: false,
        default: "",
        kind: Kind::Str {
            get: |c| &c.aof_rewrite_cpulist,
            set: |c, v| c.aof_rewrite_cpulist = v,
        },
        check: Some(|c| crate::cpulist::parse_cpulist(&c.aof_rewrite_cpulist).map(|_| ())),
    },
    Spec {
        name: "bgsave_cpulist",
        aliases: &[],
        mutable: false,
        default: "",
        kind: Kind::Str {
            get: |c| &c.bgsave_cpulist,
            set: |c, v| c.bgsave_cpulist = v,
        },
        check: Some(|c| crate::cpulist::parse_cpulist(&c.bgsave_cpulist).map(|_| ())),
    },
    Spec {
        name: "pidfile",
        aliases: &[],
        mutable: false,
        default: "",
        kind: Kind::Str {
            get: |c| &c.pidfile,
            set: |c, v| c.pidfile = v,
        },
        check: None,
    },
    Spec {
        name: "disable-thp",
        aliases: &[],
        mutable: false,
        default: "yes",
        kind: Kind::Bool {
            get: |c| c.disable_thp,
            set: |c, v| c.disable_thp = v,
        },
        check: None,
    },
    Spec {
        name: "daemonize",
        aliases: &[],
        mutable: false,
        default: "no",
        kind: Kind::Bool {
            get: |c| c.daemonize,
            set: |c, v| c.daemonize = v,
        },
        check: Some(check_daemonize),
    },
    Spec {
        name: "protected-mode",
        aliases: &[],
        mutable: true,
        default: "yes",
        kind: Kind::Bool {
            get: |c| c.protected_mode,
            set: |c, v| c.protected_mode = v,
        },
        check: None,
    },
    Spec {
        name: "lazyfree-lazy-user-flush",
        aliases: &[],
        mutable: true,
        default: "no",
        kind: Kind::Bool {
            get: |c| c.lazyfree_lazy_user_flush,
            set: |c, v| c.lazyfree_lazy_user_flush = v,
        },
        check: None,
    },
    Spec {
        name: "busy-reply-threshold",
        aliases: &["lua-time-limit"],
        mutable: true,
        default: "5000",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.busy_reply_threshold as i64,
            set: |c, v| c.busy_reply_threshold = v as u64,
        },
        check: None,
    },
    Spec {
        name: "client-output-buffer-limit",
        aliases: &[],
        mutable: true,
        default: crate::buffers::OUTPUT_BUFFER_DEFAULT,
        kind: Kind::Special {
            multi_arg: true,
            set: |c, args| {
                crate::buffers::set_output_buffer_limits(&mut c.client_output_buffer_limit, args)
            },
            get: |c| crate::buffers::get_output_buffer_limits(&c.client_output_buffer_limit),
            rewrite: |c| {
                crate::buffers::rewrite_output_buffer_limits(&c.client_output_buffer_limit)
            },
        },
        check: None,
    },
    Spec {
        name: "notify-keyspace-events",
        aliases: &[],
        mutable: true,
        default: "",
        kind: Kind::Special {
            multi_arg: false,
            set: |c, args| {
                let arg = args.first().map(|a| a.as_slice()).unwrap_or_default();
                c.notify_keyspace_events = crate::buffers::parse_notify_flags(arg)?;
                Ok(())
            },
            get: |c| crate::buffers::notify_flags_to_string(c.notify_keyspace_events),
            rewrite: |c| {
                crate::split::quote_arg(
                    crate::buffers::notify_flags_to_string(c.notify_keyspace_events).as_bytes(),
                )
            },
        },
        check: None,
    },
    Spec {
        name: "ratelimit-policy",
        aliases: &[],
        mutable: true,
        default: "",
        kind: Kind::Special {
            multi_arg: true,
            set: set_ratelimit_policies,
            get: format_ratelimit_policies,
            rewrite: |c| {
                if c.ratelimit_policy.is_empty() {
                    "\"\"".to_string()
                } else {
                    format_ratelimit_policies(c)
                }
            },
        },
        check: None,
    },
    Spec {
        name: "http-port",
        aliases: &[],
        mutable: false,
        default: "0",
        kind: Kind::Int {
            min: 0,
            max: 65535,
            get: |c| c.http_port.into(),
            set: |c, v| c.http_port = v as u16,
        },
        check: None,
    },
    Spec {
        name: "http-bind",
        aliases: &[],
        mutable: false,
        default: "127.0.0.1",
        kind: Kind::Str {
            get: |c| &c.http_bind,
            set: |c, v| c.http_bind = v,
        },
        check: None,
    },
    Spec {
        name: "id-datacenter",
        aliases: &[],
        mutable: false,
        default: "0",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.id_datacenter as i64,
            set: |c, v| c.id_datacenter = v as u64,
        },
        check: None,
    },
    Spec {
        name: "id-worker",
        aliases: &[],
        mutable: false,
        default: "auto",
        kind: Kind::Special {
            multi_arg: false,
            set: set_id_worker,
            get: format_id_worker,
            rewrite: format_id_worker,
        },
        check: None,
    },
    Spec {
        name: "id-epoch-ms",
        aliases: &[],
        mutable: false,
        default: "1577836800000",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.id_epoch_ms as i64,
            set: |c, v| c.id_epoch_ms = v as u64,
        },
        check: None,
    },
    Spec {
        name: "id-layout",
        aliases: &[],
        mutable: false,
        default: "41 5 5 12",
        kind: Kind::Special {
            multi_arg: true,
            set: set_id_layout,
            get: format_id_layout,
            rewrite: format_id_layout,
        },
        check: None,
    },
    Spec {
        name: "id-max-clock-backward-ms",
        aliases: &[],
        mutable: false,
        default: "10",
        kind: Kind::Int {
            min: 0,
            max: 1000,
            get: |c| c.id_max_clock_backward_ms as i64,
            set: |c, v| c.id_max_clock_backward_ms = v as u64,
        },
        check: None,
    },
    Spec {
        name: "cluster-enabled",
        aliases: &[],
        mutable: false,
        default: "no",
        kind: Kind::Bool {
            get: |c| c.cluster_enabled,
            set: |c, v| c.cluster_enabled = v,
        },
        check: None,
    },
    Spec {
        name: "cluster-port",
        aliases: &[],
        mutable: false,
        default: "0",
        kind: Kind::Int {
            min: 0,
            max: 65535,
            get: |c| c.cluster_port as i64,
            set: |c, v| c.cluster_port = v as u16,
        },
        check: None,
    },
    Spec {
        name: "cluster-seeds",
        aliases: &[],
        mutable: false,
        default: "",
        kind: Kind::Str {
            get: |c| &c.cluster_seeds,
            set: |c, v| c.cluster_seeds = v,
        },
        check: None,
    },
    Spec {
        name: "cluster-announce-ip",
        aliases: &[],
        mutable: false,
        default: "",
        kind: Kind::Str {
            get: |c| &c.cluster_announce_ip,
            set: |c, v| c.cluster_announce_ip = v,
        },
        check: None,
    },
    Spec {
        name: "cluster-zone",
        aliases: &[],
        mutable: false,
        default: "default",
        kind: Kind::Str {
            get: |c| &c.cluster_zone,
            set: |c, v| c.cluster_zone = v,
        },
        check: Some(|c| check_zone(&c.cluster_zone)),
    },
    Spec {
        name: "cluster-weight",
        aliases: &[],
        mutable: false,
        default: "100",
        kind: Kind::Int {
            min: 1,
            max: 1000000,
            get: |c| c.cluster_weight as i64,
            set: |c, v| c.cluster_weight = v as u32,
        },
        check: None,
    },
    Spec {
        name: "cluster-replicas",
        aliases: &[],
        mutable: true,
        default: "3",
        kind: Kind::Int {
            min: 1,
            max: 16,
            get: |c| c.cluster_replicas as i64,
            set: |c, v| c.cluster_replicas = v as u32,
        },
        check: None,
    },
    Spec {
        name: "cluster-write-quorum",
        aliases: &[],
        mutable: true,
        default: "quorum",
        kind: Kind::Str {
            get: |c| &c.cluster_write_quorum,
            set: |c, v| c.cluster_write_quorum = v,
        },
        check: Some(|c| crate::quorum::Quorum::parse(&c.cluster_write_quorum).map(|_| ())),
    },
    Spec {
        name: "cluster-read-quorum",
        aliases: &[],
        mutable: true,
        default: "quorum",
        kind: Kind::Str {
            get: |c| &c.cluster_read_quorum,
            set: |c, v| c.cluster_read_quorum = v,
        },
        check: Some(|c| crate::quorum::Quorum::parse(&c.cluster_read_quorum).map(|_| ())),
    },
    Spec {
        name: "cluster-request-timeout",
        aliases: &[],
        mutable: true,
        default: "1000",
        kind: Kind::Int {
            min: 1,
            max: 3600000,
            get: |c| c.cluster_request_timeout as i64,
            set: |c, v| c.cluster_request_timeout = v as u64,
        },
        check: None,
    },
    Spec {
        name: "cluster-tombstone-grace",
        aliases: &[],
        mutable: true,
        default: "86400",
        kind: Kind::Int {
            min: 1,
            max: 3153600000,
            get: |c| c.cluster_tombstone_grace as i64,
            set: |c, v| c.cluster_tombstone_grace = v as u64,
        },
        check: None,
    },
    Spec {
        name: "cluster-max-siblings",
        aliases: &[],
        mutable: true,
        default: "16",
        kind: Kind::Int {
            min: 1,
            max: 1024,
            get: |c| c.cluster_max_siblings as i64,
            set: |c, v| c.cluster_max_siblings = v as u32,
        },
        check: None,
    },
    Spec {
        name: "cluster-hinted-handoff",
        aliases: &[],
        mutable: true,
        default: "yes",
        kind: Kind::Bool {
            get: |c| c.cluster_hinted_handoff,
            set: |c, v| c.cluster_hinted_handoff = v,
        },
        check: None,
    },
    Spec {
        name: "cluster-sloppy-quorum",
        aliases: &[],
        mutable: true,
        default: "yes",
        kind: Kind::Bool {
            get: |c| c.cluster_sloppy_quorum,
            set: |c, v| c.cluster_sloppy_quorum = v,
        },
        check: None,
    },
    Spec {
        name: "cluster-max-hints",
        aliases: &[],
        mutable: true,
        default: "1000000",
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
            get: |c| c.cluster_max_hints as i64,
            set: |c, v| c.cluster_max_hints = v as u64,
        },
        check: None,
    },
    Spec {
        name: "cluster-anti-entropy-interval",
        aliases: &[],
        mutable: true,
        default: "30",
        kind: Kind::Int {
            min: 0,
            max: 86400,
            get: |c| c.cluster_anti_entropy_interval as i64,
            set: |c, v| c.cluster_anti_entropy_interval = v as u64,
        },
        check: None,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn names_are_unique_and_lower_case() {
        let mut seen = HashSet::new();
        for (name, _) in entries() {
            assert_eq!(name, name.to_ascii_lowercase());
            assert!(seen.insert(name), "duplicate name {name}");
            assert_ne!(name, "include");
        }
    }

    #[test]
    fn every_default_parses_and_reads_back() {
        for spec in TABLE {
            let mut c = Config::default();
            spec.apply_default(&mut c);
            // The default, parsed and formatted, equals Config::default().
            assert_eq!(spec.get(&c), spec.get(&Config::default()), "{}", spec.name);
        }
    }

    #[test]
    fn integer_bounds_fit_the_field_types() {
        // Setting min and max must read back unchanged (no truncating cast).
        for spec in TABLE {
            if let Kind::Int { min, max, get, set } = spec.kind {
                for v in [min, max] {
                    let mut c = Config::default();
                    set(&mut c, v);
                    assert_eq!(get(&c), v, "{}", spec.name);
                }
            }
            if let Kind::Memory { min, max, get, set } = spec.kind {
                for v in [min, max] {
                    let mut c = Config::default();
                    set(&mut c, v);
                    assert_eq!(get(&c), v, "{}", spec.name);
                }
            }
        }
    }

    #[test]
    fn lookup_is_case_insensitive_and_knows_aliases() {
        assert_eq!(lookup(b"PORT").unwrap().0, "port");
        let (n, s) = lookup(b"Lua-Time-Limit").unwrap();
        assert_eq!(n, "lua-time-limit");
        assert_eq!(s.name, "busy-reply-threshold");
        assert!(lookup(b"nosuch").is_none());
    }
}
