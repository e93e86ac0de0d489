//! Configuration for ringkv, the way Redis users know it: a config file in
//! redis.conf syntax, `--name value` command-line options that override the
//! file, and `CONFIG GET` / `CONFIG SET` / `CONFIG REWRITE` at run time,
//! with Redis 7 parsing rules and error texts. Pure library (no I/O besides
//! reading and rewriting config files) so the server, the command layer and
//! tests can all share one definition of every setting.
//!
//! Start-up: [`parse_command_line`] → [`Config::load`]. All parameters are
//! rows of one table (see [`param_names`]).

mod buffers;
mod cli;
mod config;
mod cpulist;
mod enums;
mod glob;
mod load;
mod quorum;
mod rewrite;
mod split;
mod table;
mod values;

pub use buffers::{
    notify, notify_flags_to_string, parse_notify_flags, OutputBufferLimit, OutputBufferLimits,
};
pub use cli::{parse_command_line, StartupArgs};
pub use config::{param_names, Config, Percentile};
pub use cpulist::{parse_cpulist, MAX_CPUS};
pub use enums::{AppendFsync, EvictionPolicy, LogLevel};
/// Redis `stringmatchlen` glob matching, shared by CONFIG GET, KEYS, SCAN MATCH and PSUBSCRIBE.
pub use glob::string_match as glob_match;
pub use load::{ConfigError, COMMAND_LINE_SOURCE};
pub use quorum::Quorum;
pub use rewrite::REWRITE_SIGNATURE;
/// A percentile as Redis prints it (`99.9`, `50`), for INFO latencystats.
pub use table::format_percentile;

/// The version string used in error reports (`ringkv <version>`).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
