//! The keys that have a TTL, ordered by deadline: `(expire_at_ms, key_hash) -> count`.
//!
//! Why ordered instead of Redis's sampled `expires` dict: the active expiry cycle then deletes exactly
//! the keys that are due, oldest first, and stops at the first future deadline — memory held by
//! expired keys is bounded by one cycle's lag, not by sampling luck, and volatile-ttl eviction is exact.
//! Storing the key's hash instead of the key keeps it at ~24 bytes per volatile key; the entry is
//! found again through `Dict::find_by_hash` with its deadline as a filter. The count handles two keys
//! with the same deadline and the same 64-bit hash.

use crate::rng::Rng;
use std::collections::BTreeMap;

#[derive(Default, Debug)]
pub struct ExpireIndex {
    map: BTreeMap<(i64, u64), u32>,
    len: usize,
}

impl ExpireIndex {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn add(&mut self, at: i64, hash: u64) {
        *self.map.entry((at, hash)).or_insert(0) += 1;
        self.len += 1;
    }

    pub fn remove(&mut self, at: i64, hash: u64) {
        if let Some(c) = self.map.get_mut(&(at, hash)) {
            *c -= 1;
            if *c == 0 {
                self.map.remove(&(at, hash));
            }
            self.len -= 1;
        }
    }

    /// The earliest deadline.
    pub fn first(&self) -> Option<(i64, u64)> {
        self.map.keys().next().copied()
    }

    /// A pseudo-random record (for volatile-* eviction sampling): a random point in the deadline
    /// range, then the next record at or after it. Biased towards sparse regions, which is fine for
    /// approximate eviction.
    pub fn sample(&self, rng: &mut Rng) -> Option<(i64, u64)> {
        let first = self.map.keys().next()?.0;
        let last = self.map.keys().next_back()?.0;
        let span = (last as i128 - first as i128) as u64;
        let at = first + rng.below(span.saturating_add(1)) as i64;
        let hash = rng.next_u64();
        self.map
            .range((at, hash)..)
            .next()
            .or_else(|| self.map.iter().next())
            .map(|(k, _)| *k)
    }

    pub fn clear(&mut self) {
        self.map.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_duplicates() {
        let mut ix = ExpireIndex::default();
        ix.add(10, 1);
        ix.add(10, 1);
        ix.add(5, 2);
        assert_eq!(ix.len(), 3);
        assert_eq!(ix.first(), Some((5, 2)));
        ix.remove(10, 1);
        assert_eq!(ix.len(), 2);
        ix.remove(10, 1);
        ix.remove(5, 2);
        assert!(ix.is_empty());
        assert_eq!(ix.first(), None);
        ix.remove(1, 1); // absent: no-op
        assert!(ix.is_empty());
    }

    #[test]
    fn sample_returns_members() {
        let mut ix = ExpireIndex::default();
        let mut rng = Rng::new(3);
        assert!(ix.sample(&mut rng).is_none());
        for i in 0..100 {
            ix.add(i * 10, i as u64);
        }
        for _ in 0..100 {
            let (at, h) = ix.sample(&mut rng).unwrap();
            assert_eq!(at, h as i64 * 10);
        }
    }
}
