//! Node identity: a cluster member is named by a 64-bit [`NodeId`].
//!
//! Invariant: the text form is exactly 16 lowercase hex digits, so every id has
//! one spelling and ids sort the same as text and as numbers. The same id is
//! the node's actor in version vectors, so it must never be reused by a
//! different node (a reused id could mint dots that collide with the old
//! node's).

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// The identity of one cluster node (and its version-vector actor).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct NodeId(pub u64);

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

impl FromStr for NodeId {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 {
            return Err(Error::InvalidNodeId("expected 16 hex digits"));
        }
        // Checked by hand: from_str_radix would also accept a leading '+' and
        // upper case, giving one id several spellings.
        let mut value = 0u64;
        for b in s.bytes() {
            let digit = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                _ => return Err(Error::InvalidNodeId("expected lowercase hex digits")),
            };
            value = (value << 4) | u64::from(digit);
        }
        Ok(NodeId(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_16_lowercase_hex() {
        assert_eq!(NodeId(0).to_string(), "0000000000000000");
        assert_eq!(NodeId(0xABCDEF).to_string(), "0000000000abcdef");
        assert_eq!(NodeId(u64::MAX).to_string(), "ffffffffffffffff");
    }

    #[test]
    fn parse_round_trips_and_rejects_other_spellings() {
        for v in [0, 1, 0xdead_beef, u64::MAX] {
            let id = NodeId(v);
            assert_eq!(id.to_string().parse::<NodeId>(), Ok(id));
        }
        for bad in [
            "",
            "abc",
            "0000000000ABCDEF",
            "+000000000000001",
            "00000000000000001",
            "000000000000000g",
        ] {
            assert!(bad.parse::<NodeId>().is_err(), "{bad:?} accepted");
        }
    }
}
