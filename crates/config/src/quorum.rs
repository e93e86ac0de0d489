//! Read and write quorums (`cluster-read-quorum`, `cluster-write-quorum`, `CLIENT CONSISTENCY`):
//! a named level or a replica count, resolved against the replica count N of a request.

/// How many replicas must answer a read or acknowledge a write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quorum {
    One,
    /// A majority: N / 2 + 1.
    Majority,
    All,
    /// An explicit count (capped at N when resolved).
    Count(u32),
}

impl Quorum {
    /// `quorum`, `one`, `all` (any case) or a count from 1 to 16.
    pub fn parse(s: &str) -> Result<Quorum, String> {
        match s.to_ascii_lowercase().as_str() {
            "one" => Ok(Quorum::One),
            "quorum" => Ok(Quorum::Majority),
            "all" => Ok(Quorum::All),
            other => match other.parse::<u32>() {
                Ok(n) if (1..=16).contains(&n) => Ok(Quorum::Count(n)),
                _ => Err(format!(
                    "invalid quorum '{s}': must be one, quorum, all or a number from 1 to 16"
                )),
            },
        }
    }

    /// The number of replicas needed out of `n` (at least 1, at most `n` when `n` > 0).
    pub fn resolve(self, n: usize) -> usize {
        let want = match self {
            Quorum::One => 1,
            Quorum::Majority => n / 2 + 1,
            Quorum::All => n,
            Quorum::Count(c) => c as usize,
        };
        want.clamp(1, n.max(1))
    }

    pub fn name(self) -> String {
        match self {
            Quorum::One => "one".into(),
            Quorum::Majority => "quorum".into(),
            Quorum::All => "all".into(),
            Quorum::Count(n) => n.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_resolve() {
        assert_eq!(Quorum::parse("QUORUM"), Ok(Quorum::Majority));
        assert_eq!(Quorum::parse("2"), Ok(Quorum::Count(2)));
        assert!(Quorum::parse("0").is_err());
        assert!(Quorum::parse("17").is_err());
        assert!(Quorum::parse("most").is_err());
        assert_eq!(Quorum::Majority.resolve(3), 2);
        assert_eq!(Quorum::Majority.resolve(5), 3);
        assert_eq!(Quorum::All.resolve(3), 3);
        assert_eq!(Quorum::One.resolve(3), 1);
        assert_eq!(Quorum::Count(5).resolve(3), 3);
        assert_eq!(Quorum::Majority.resolve(1), 1);
    }
}
