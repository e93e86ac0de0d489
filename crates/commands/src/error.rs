//! Command errors and their exact Redis wire texts.
//!
//! Handlers return `Err(CmdError)`; the dispatcher writes it as an error reply and keeps the
//! connection. Common errors are static strings so the hot path never allocates for them.

use ringkv_engine::{OutOfMemory, WrongType};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CmdError {
    /// A complete static message including its code, e.g. "ERR syntax error".
    Static(&'static str),
    /// A formatted message including its code.
    Owned(String),
}

pub type CmdResult = Result<(), CmdError>;

/// EVAL / SINTERCARD with a numkeys above the arguments given.
pub const NUMKEYS_TOO_MANY: CmdError =
    CmdError::Static("ERR Number of keys can't be greater than number of args");

pub const SYNTAX: CmdError = CmdError::Static("ERR syntax error");
pub const WRONG_TYPE: CmdError =
    CmdError::Static("WRONGTYPE Operation against a key holding the wrong kind of value");
pub const NOT_INTEGER: CmdError = CmdError::Static("ERR value is not an integer or out of range");
pub const NOT_FLOAT: CmdError = CmdError::Static("ERR value is not a valid float");
pub const OVERFLOW: CmdError = CmdError::Static("ERR increment or decrement would overflow");
pub const NO_SUCH_KEY: CmdError = CmdError::Static("ERR no such key");
pub const DB_OUT_OF_RANGE: CmdError = CmdError::Static("ERR DB index is out of range");
pub const OOM: CmdError =
    CmdError::Static("OOM command not allowed when used memory > 'maxmemory'.");
pub const NOAUTH: CmdError = CmdError::Static("NOAUTH Authentication required.");
/// Start-up loading is still running (Redis's -LOADING).
pub const LOADING: CmdError = CmdError::Static("LOADING ringkv is loading the dataset in memory");
pub const STRING_TOO_LONG: CmdError =
    CmdError::Static("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
pub const TIMEOUT_NOT_FLOAT: CmdError =
    CmdError::Static("ERR timeout is not a float or out of range");

impl CmdError {
    pub fn msg(s: impl Into<String>) -> CmdError {
        CmdError::Owned(s.into())
    }

    /// "ERR wrong number of arguments for 'x' command"
    pub fn arity(name: &str) -> CmdError {
        CmdError::Owned(format!(
            "ERR wrong number of arguments for '{}' command",
            name.to_ascii_lowercase()
        ))
    }

    /// "ERR invalid expire time in 'x' command"
    pub fn invalid_expire(name: &str) -> CmdError {
        CmdError::Owned(format!(
            "ERR invalid expire time in '{}' command",
            name.to_ascii_lowercase()
        ))
    }

    /// "ERR unknown subcommand 'x'. Try CMD HELP."
    pub fn unknown_subcommand(cmd: &str, sub: &[u8]) -> CmdError {
        CmdError::Owned(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)]),
            cmd.to_ascii_uppercase()
        ))
    }

    /// Redis's addReplySubcommandSyntaxError: "ERR unknown subcommand or wrong number of arguments
    /// for 'sub'. Try CMD HELP." (a known subcommand given arguments its handler does not take).
    pub fn subcommand_syntax(cmd: &str, sub: &[u8]) -> CmdError {
        CmdError::Owned(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try {} HELP.",
            String::from_utf8_lossy(&sub[..sub.len().min(128)]),
            cmd.to_ascii_uppercase()
        ))
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            CmdError::Static(s) => s.as_bytes(),
            CmdError::Owned(s) => s.as_bytes(),
        }
    }

    /// The error code (first word), e.g. "ERR", "WRONGTYPE" — for error statistics.
    pub fn code(&self) -> &str {
        let s = match self {
            CmdError::Static(s) => s,
            CmdError::Owned(s) => s.as_str(),
        };
        s.split(' ').next().unwrap_or("ERR")
    }
}

impl From<WrongType> for CmdError {
    fn from(_: WrongType) -> Self {
        WRONG_TYPE
    }
}

impl From<OutOfMemory> for CmdError {
    fn from(_: OutOfMemory) -> Self {
        OOM
    }
}

impl std::fmt::Display for CmdError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&String::from_utf8_lossy(self.as_bytes()))
    }
}
