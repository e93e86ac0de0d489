//! The enumerated settings (`loglevel`, `maxmemory-policy`, `appendfsync`)
//! as Rust enums.
//! Each knows its Redis spelling, so the parameter table, `CONFIG GET`,
//! `CONFIG REWRITE` and the error text listing the allowed values all use
//! one list of names.

use std::fmt;
use std::str::FromStr;

/// `loglevel`: how chatty the server log is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum LogLevel {
    Debug,
    Verbose,
    #[default]
    Notice,
    Warning,
    /// Log nothing at all (Redis 7.2 `nothing`).
    Nothing,
}

impl LogLevel {
    /// Every level, in the order Redis lists them.
    pub const ALL: [LogLevel; 5] = [
        LogLevel::Debug,
        LogLevel::Verbose,
        LogLevel::Notice,
        LogLevel::Warning,
        LogLevel::Nothing,
    ];
    /// Config-file names, index-aligned with [`LogLevel::ALL`].
    pub const NAMES: [&'static str; 5] = ["debug", "verbose", "notice", "warning", "nothing"];
}

/// `maxmemory-policy`: what to evict when `maxmemory` is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum EvictionPolicy {
    #[default]
    NoEviction,
    AllKeysLru,
    AllKeysLfu,
    AllKeysRandom,
    AllKeysFifo,
    VolatileLru,
    VolatileLfu,
    VolatileRandom,
    VolatileTtl,
    VolatileFifo,
}

impl EvictionPolicy {
    /// Every policy, in declaration order.
    pub const ALL: [EvictionPolicy; 10] = [
        EvictionPolicy::NoEviction,
        EvictionPolicy::AllKeysLru,
        EvictionPolicy::AllKeysLfu,
        EvictionPolicy::AllKeysRandom,
        EvictionPolicy::AllKeysFifo,
        EvictionPolicy::VolatileLru,
        EvictionPolicy::VolatileLfu,
        EvictionPolicy::VolatileRandom,
        EvictionPolicy::VolatileTtl,
        EvictionPolicy::VolatileFifo,
    ];
    /// Config-file names, index-aligned with [`EvictionPolicy::ALL`].
    pub const NAMES: [&'static str; 10] = [
        "noeviction",
        "allkeys-lru",
        "allkeys-lfu",
        "allkeys-random",
        "allkeys-fifo",
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
        "volatile-fifo",
    ];

    /// True for the `volatile-*` policies, which only evict keys with a TTL.
    pub fn is_volatile(self) -> bool {
        matches!(
            self,
            EvictionPolicy::VolatileLru
                | EvictionPolicy::VolatileLfu
                | EvictionPolicy::VolatileRandom
                | EvictionPolicy::VolatileTtl
                | EvictionPolicy::VolatileFifo
        )
    }
}

/// `appendfsync`: when the append-only file is fsynced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum AppendFsync {
    /// After every write.
    Always,
    /// Once per second.
    #[default]
    EverySec,
    /// Never explicitly; the operating system decides.
    No,
}

impl AppendFsync {
    /// Every mode, in the order Redis lists them.
    pub const ALL: [AppendFsync; 3] = [AppendFsync::Always, AppendFsync::EverySec, AppendFsync::No];
    /// Config-file names, index-aligned with [`AppendFsync::ALL`].
    pub const NAMES: [&'static str; 3] = ["always", "everysec", "no"];
}

/// The name handling every enumerated setting shares: `as_str`, `from_name`, `Display` and
/// `FromStr`, all over the type's index-aligned `ALL` and `NAMES`.
macro_rules! named_setting {
    ($t:ty, $what:literal) => {
        impl $t {
            /// The config-file spelling.
            pub fn as_str(self) -> &'static str {
                Self::NAMES[self as usize]
            }

            /// Parses a config-file spelling, ignoring ASCII case.
            pub fn from_name(name: &str) -> Option<Self> {
                Self::NAMES
                    .iter()
                    .position(|n| n.eq_ignore_ascii_case(name))
                    .map(|i| Self::ALL[i])
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $t {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::from_name(s).ok_or_else(|| {
                    format!(
                        "invalid {} '{}': must be one of the following: {}",
                        $what,
                        s,
                        Self::NAMES.join(", ")
                    )
                })
            }
        }
    };
}

named_setting!(LogLevel, "loglevel");
named_setting!(EvictionPolicy, "maxmemory-policy");
named_setting!(AppendFsync, "appendfsync");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for l in LogLevel::ALL {
            assert_eq!(LogLevel::from_name(l.as_str()), Some(l));
            assert_eq!(l.to_string().parse::<LogLevel>(), Ok(l));
        }
        for p in EvictionPolicy::ALL {
            assert_eq!(EvictionPolicy::from_name(p.as_str()), Some(p));
            assert_eq!(p.to_string().parse::<EvictionPolicy>(), Ok(p));
        }
        assert_eq!(
            EvictionPolicy::from_name("ALLKEYS-LRU"),
            Some(EvictionPolicy::AllKeysLru)
        );
        assert_eq!(EvictionPolicy::from_name("lru"), None);
        assert!("loud".parse::<LogLevel>().is_err());
        for f in AppendFsync::ALL {
            assert_eq!(AppendFsync::from_name(f.as_str()), Some(f));
            assert_eq!(f.to_string().parse::<AppendFsync>(), Ok(f));
        }
    }

    #[test]
    fn append_fsync_names() {
        assert_eq!(AppendFsync::default(), AppendFsync::EverySec);
        assert_eq!(AppendFsync::Always.as_str(), "always");
        assert_eq!(AppendFsync::EverySec.as_str(), "everysec");
        assert_eq!(AppendFsync::No.as_str(), "no");
        assert_eq!(
            AppendFsync::from_name("EVERYSEC"),
            Some(AppendFsync::EverySec)
        );
        assert_eq!(AppendFsync::from_name("Always"), Some(AppendFsync::Always));
        assert_eq!(AppendFsync::from_name("sometimes"), None);
        assert_eq!(AppendFsync::from_name(""), None);
        assert_eq!(
            "yes".parse::<AppendFsync>(),
            Err(
                "invalid appendfsync 'yes': must be one of the following: always, everysec, no"
                    .to_string()
            )
        );
    }

    #[test]
    fn spellings() {
        assert_eq!(EvictionPolicy::AllKeysFifo.as_str(), "allkeys-fifo");
        assert_eq!(EvictionPolicy::VolatileFifo.as_str(), "volatile-fifo");
        assert_eq!(EvictionPolicy::VolatileTtl.as_str(), "volatile-ttl");
        assert_eq!(LogLevel::Nothing.as_str(), "nothing");
        assert!(EvictionPolicy::VolatileTtl.is_volatile());
        assert!(!EvictionPolicy::AllKeysLru.is_volatile());
    }
}
