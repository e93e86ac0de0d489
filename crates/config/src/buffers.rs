//! Values of the two parameters with structure of their own: `client-output-buffer-limit`
//! (per client class: hard limit, soft limit, soft seconds) and `notify-keyspace-events`
//! (a set of event-class flags), parsed, validated and printed the way Redis 7 does.

use crate::values::{format_memory, parse_memory};

/// One client class's output buffer limit: disconnect at `hard` bytes, or when above `soft`
/// bytes for `soft_seconds` in a row. Zero disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputBufferLimit {
    pub hard: u64,
    pub soft: u64,
    pub soft_seconds: u64,
}

/// `client-output-buffer-limit` for the three Redis client classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutputBufferLimits {
    pub normal: OutputBufferLimit,
    pub replica: OutputBufferLimit,
    pub pubsub: OutputBufferLimit,
}

pub(crate) const OUTPUT_BUFFER_DEFAULT: &str =
    "normal 0 0 0 replica 256mb 64mb 60 pubsub 32mb 8mb 60";

/// Applies `class hard soft seconds` groups; classes not named keep their value.
pub(crate) fn set_output_buffer_limits(
    limits: &mut OutputBufferLimits,
    args: &[Vec<u8>],
) -> Result<(), String> {
    const INVALID: &str = "Invalid client output buffer limit class or values";
    if args.is_empty() || args.len() % 4 != 0 {
        return Err("Wrong number of arguments in buffer limit configuration.".to_string());
    }
    let mut next = *limits;
    for group in args.chunks(4) {
        let hard = parse_memory(&group[1]).ok_or(INVALID)?;
        let soft = parse_memory(&group[2]).ok_or(INVALID)?;
        let secs = std::str::from_utf8(&group[3])
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(INVALID)?;
        let limit = OutputBufferLimit {
            hard,
            soft,
            soft_seconds: secs,
        };
        match group[0].to_ascii_lowercase().as_slice() {
            b"normal" => next.normal = limit,
            b"replica" | b"slave" => next.replica = limit,
            b"pubsub" => next.pubsub = limit,
            _ => return Err(INVALID.to_string()),
        }
    }
    *limits = next;
    Ok(())
}

/// CONFIG GET form: bytes, Redis's class names ("slave" for replicas, as Redis 7 prints).
pub(crate) fn get_output_buffer_limits(l: &OutputBufferLimits) -> String {
    let one = |name: &str, x: &OutputBufferLimit| {
        format!("{name} {} {} {}", x.hard, x.soft, x.soft_seconds)
    };
    format!(
        "{} {} {}",
        one("normal", &l.normal),
        one("slave", &l.replica),
        one("pubsub", &l.pubsub)
    )
}

/// CONFIG REWRITE form: memory units where exact.
pub(crate) fn rewrite_output_buffer_limits(l: &OutputBufferLimits) -> String {
    let one = |name: &str, x: &OutputBufferLimit| {
        format!(
            "{name} {} {} {}",
            format_memory(x.hard),
            format_memory(x.soft),
            x.soft_seconds
        )
    };
    format!(
        "{} {} {}",
        one("normal", &l.normal),
        one("replica", &l.replica),
        one("pubsub", &l.pubsub)
    )
}

/// Event classes of `notify-keyspace-events` (Redis 7 server.h NOTIFY_*).
pub mod notify {
    pub const KEYSPACE: u32 = 1 << 0; // K
    pub const KEYEVENT: u32 = 1 << 1; // E
    pub const GENERIC: u32 = 1 << 2; // g
    pub const STRING: u32 = 1 << 3; // $
    pub const LIST: u32 = 1 << 4; // l
    pub const SET: u32 = 1 << 5; // s
    pub const HASH: u32 = 1 << 6; // h
    pub const ZSET: u32 = 1 << 7; // z
    pub const EXPIRED: u32 = 1 << 8; // x
    pub const EVICTED: u32 = 1 << 9; // e
    pub const STREAM: u32 = 1 << 10; // t
    pub const KEY_MISS: u32 = 1 << 11; // m
    pub const LOADED: u32 = 1 << 12; // module only
    pub const MODULE: u32 = 1 << 13; // d
    pub const NEW: u32 = 1 << 14; // n
    /// "A": every class except m and n.
    pub const ALL: u32 =
        GENERIC | STRING | LIST | SET | HASH | ZSET | EXPIRED | EVICTED | STREAM | MODULE;
}

/// Parses the flag string; Err for an unknown character (Redis keyspaceEventsStringToFlags).
pub fn parse_notify_flags(s: &[u8]) -> Result<u32, String> {
    let mut f = 0;
    for &c in s {
        f |= match c {
            b'A' => notify::ALL,
            b'g' => notify::GENERIC,
            b'$' => notify::STRING,
            b'l' => notify::LIST,
            b's' => notify::SET,
            b'h' => notify::HASH,
            b'z' => notify::ZSET,
            b'x' => notify::EXPIRED,
            b'e' => notify::EVICTED,
            b'K' => notify::KEYSPACE,
            b'E' => notify::KEYEVENT,
            b't' => notify::STREAM,
            b'm' => notify::KEY_MISS,
            b'd' => notify::MODULE,
            b'n' => notify::NEW,
            _ => return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string()),
        };
    }
    Ok(f)
}

/// Canonical string of a flag set (Redis keyspaceEventsFlagsToString).
pub fn notify_flags_to_string(flags: u32) -> String {
    let mut s = String::new();
    if flags & notify::ALL == notify::ALL {
        s.push('A');
    } else {
        for (bit, c) in [
            (notify::GENERIC, 'g'),
            (notify::STRING, '$'),
            (notify::LIST, 'l'),
            (notify::SET, 's'),
            (notify::HASH, 'h'),
            (notify::ZSET, 'z'),
            (notify::EXPIRED, 'x'),
            (notify::EVICTED, 'e'),
            (notify::STREAM, 't'),
            (notify::MODULE, 'd'),
        ] {
            if flags & bit != 0 {
                s.push(c);
            }
        }
    }
    for (bit, c) in [
        (notify::KEYSPACE, 'K'),
        (notify::KEYEVENT, 'E'),
        (notify::KEY_MISS, 'm'),
        (notify::NEW, 'n'),
    ] {
        if flags & bit != 0 {
            s.push(c);
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_limits_parse_and_print() {
        let mut l = OutputBufferLimits::default();
        let args: Vec<Vec<u8>> = OUTPUT_BUFFER_DEFAULT
            .split(' ')
            .map(|s| s.as_bytes().to_vec())
            .collect();
        set_output_buffer_limits(&mut l, &args).unwrap();
        assert_eq!(l.pubsub.hard, 32 * 1024 * 1024);
        assert_eq!(
            get_output_buffer_limits(&l),
            "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60"
        );
        let partial: Vec<Vec<u8>> = ["pubsub", "1mb", "0", "0"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        set_output_buffer_limits(&mut l, &partial).unwrap();
        assert_eq!(l.pubsub.hard, 1024 * 1024);
        assert_eq!(l.replica.hard, 256 * 1024 * 1024);
        let bad: Vec<Vec<u8>> = ["bogus", "1", "1", "1"]
            .iter()
            .map(|s| s.as_bytes().to_vec())
            .collect();
        assert!(set_output_buffer_limits(&mut l, &bad).is_err());
        assert!(set_output_buffer_limits(&mut l, &partial[..3]).is_err());
    }

    #[test]
    fn notify_flags_round_trip() {
        assert_eq!(
            notify_flags_to_string(parse_notify_flags(b"KEA").unwrap()),
            "AKE"
        );
        assert_eq!(
            notify_flags_to_string(parse_notify_flags(b"Ex").unwrap()),
            "xE"
        );
        assert_eq!(parse_notify_flags(b"").unwrap(), 0);
        assert!(parse_notify_flags(b"Q").is_err());
    }
}
