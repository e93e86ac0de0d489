//! `maxmemory` enforcement: choosing and deleting victims under each `maxmemory-policy`.
//!
//! Like Redis (evict.c) LRU, LFU and FIFO are approximated: each eviction samples
//! `maxmemory-samples` keys per database into a small pool of the best candidates seen so far (the
//! pool carries good candidates across calls, which makes the approximation close to exact LRU).
//! `volatile-ttl` is exact here because the expiry index is ordered by deadline; the random policies
//! pick uniformly. The caller (the command gate) runs this before every command flagged `denyoom`.

use crate::db::DbRef;
use crate::lru::{self, ClockKind};
use crate::store::PolicyClock;
use crate::store::{EvictionPolicy, Store};

/// Candidates kept between evictions (Redis EVPOOL_SIZE).
const EVICTION_POOL_SIZE: usize = 16;
/// Sampling rounds per victim before giving up (guards against pathological emptiness).
const MAX_SAMPLING_ROUNDS: usize = 16;

#[derive(Debug, Default)]
pub(crate) struct EvictionPool {
    /// Sorted by score ascending; the best victim is last.
    entries: Vec<Candidate>,
}

#[derive(Debug)]
struct Candidate {
    score: u64,
    db: usize,
    key: Vec<u8>,
}

impl EvictionPool {
    fn offer(&mut self, score: u64, db: usize, key: &[u8]) {
        if self.entries.iter().any(|c| c.db == db && c.key == key) {
            return;
        }
        if self.entries.len() >= EVICTION_POOL_SIZE {
            if self.entries[0].score >= score {
                return;
            }
            self.entries.remove(0);
        }
        let pos = self.entries.partition_point(|c| c.score < score);
        self.entries.insert(
            pos,
            Candidate {
                score,
                db,
                key: key.to_vec(),
            },
        );
    }
}

/// The command that triggered eviction may not run: memory is over the limit and nothing (more)
/// can be evicted under the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutOfMemory;

impl Store {
    /// Whether a maxmemory limit is set and currently exceeded.
    pub fn over_maxmemory(&self) -> bool {
        let max = self.common.eviction.maxmemory;
        max != 0 && self.used_memory() as u64 > max
    }

    /// Evicts keys until used memory is within `maxmemory`, at most `max_evictions` of them in this
    /// call (the rest is left for the next command so one command never stalls for long). Returns the
    /// number evicted, or OutOfMemory when over the limit with nothing evictable.
    pub fn evict_if_needed(&mut self, max_evictions: usize) -> Result<usize, OutOfMemory> {
        if !self.over_maxmemory() {
            return Ok(0);
        }
        if self.common.eviction.policy == EvictionPolicy::NoEviction {
            return Err(OutOfMemory);
        }
        let mut evicted = 0;
        while self.over_maxmemory() {
            if evicted >= max_evictions {
                return Ok(evicted);
            }
            let Some((db, key)) = self.select_victim() else {
                return Err(OutOfMemory);
            };
            let removed = self.db(db).evict(&key);
            if removed {
                evicted += 1;
                self.common.stats.evicted_keys += 1;
            }
        }
        Ok(evicted)
    }

    fn select_victim(&mut self) -> Option<(usize, Vec<u8>)> {
        let policy = self.common.eviction.policy;
        match policy {
            EvictionPolicy::NoEviction => None,
            EvictionPolicy::AllKeysRandom | EvictionPolicy::VolatileRandom => {
                self.random_victim(policy.is_volatile())
            }
            EvictionPolicy::VolatileTtl => self.soonest_deadline(),
            _ => self.pool_victim(policy.is_volatile()),
        }
    }

    fn random_victim(&mut self, volatile: bool) -> Option<(usize, Vec<u8>)> {
        let (dbs, c) = self.dbs_mut();
        let n = dbs.len();
        let start = c.rng.below(n as u64) as usize;
        for i in 0..n {
            let d = (start + i) % n;
            let db = &dbs[d];
            if volatile {
                if let Some((at, h)) = db.expires.sample(&mut c.rng) {
                    if let Some(e) = db.dict.find_by_hash(h, |e| e.expire() == Some(at)) {
                        return Some((d, e.key().to_vec()));
                    }
                }
            } else if let Some(e) = db.dict.random_entry(&mut c.rng) {
                return Some((d, e.key().to_vec()));
            }
        }
        None
    }

    fn soonest_deadline(&mut self) -> Option<(usize, Vec<u8>)> {
        let (dbs, _) = self.dbs_mut();
        let (d, (at, h)) = dbs
            .iter()
            .enumerate()
            .filter_map(|(i, db)| db.expires.first().map(|f| (i, f)))
            .min_by_key(|(_, f)| f.0)?;
        let e = dbs[d].dict.find_by_hash(h, |e| e.expire() == Some(at))?;
        Some((d, e.key().to_vec()))
    }

    fn pool_victim(&mut self, volatile: bool) -> Option<(usize, Vec<u8>)> {
        for _ in 0..MAX_SAMPLING_ROUNDS {
            self.fill_pool(volatile);
            // Best candidates first; skip those deleted or changed since they were pooled.
            while let Some(c) = self.evict_pool.entries.pop() {
                let still_valid = {
                    let db = &self.db_ref(c.db).dict;
                    match db.get(&c.key) {
                        Some(e) => !volatile || e.expire().is_some(),
                        None => false,
                    }
                };
                if still_valid {
                    return Some((c.db, c.key));
                }
            }
            if self.total_keys() == 0 {
                return None;
            }
        }
        None
    }

    fn fill_pool(&mut self, volatile: bool) {
        let now = self.common.now_ms;
        let kind = self.common.eviction.policy.clock_kind();
        let decay = self.common.eviction.lfu_decay_time;
        let samples = self.common.eviction.samples.max(1);
        let score_of = |clock: u32| -> u64 {
            match kind {
                ClockKind::Lru | ClockKind::Fifo => lru::idle_ms(now, clock),
                ClockKind::Lfu => 255 - lru::lfu_decayed_counter(clock, now, decay) as u64,
            }
        };
        let mut found: Vec<(u64, usize, Vec<u8>)> = Vec::with_capacity(samples);
        {
            let (dbs, c) = self.dbs_mut();
            for (d, db) in dbs.iter().enumerate() {
                if volatile {
                    for _ in 0..samples {
                        if let Some((at, h)) = db.expires.sample(&mut c.rng) {
                            if let Some(e) = db.dict.find_by_hash(h, |e| e.expire() == Some(at)) {
                                found.push((score_of(e.clock()), d, e.key().to_vec()));
                            }
                        }
                    }
                } else {
                    db.dict.sample(&mut c.rng, samples, |e| {
                        found.push((score_of(e.clock()), d, e.key().to_vec()));
                    });
                }
            }
        }
        for (score, d, key) in found {
            self.evict_pool.offer(score, d, &key);
        }
    }
}

impl DbRef<'_> {
    /// Deletes a key chosen by eviction (no lazy-expiry accounting).
    fn evict(&mut self, key: &[u8]) -> bool {
        let removed = self.remove(key);
        if removed {
            self.c.oplog.deleted(self.index, key);
            self.notify(ringkv_config::notify::EVICTED, "evicted", key);
        }
        removed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Ttl;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// A store whose "used memory" is 100 bytes per key.
    fn store_with_gauge(policy: EvictionPolicy, max_keys: u64) -> (Store, Arc<AtomicUsize>) {
        let mut s = Store::new(1, 11);
        let keys = Arc::new(AtomicUsize::new(0));
        s.common.eviction.maxmemory = max_keys * 100;
        s.common.eviction.policy = policy;
        s.common.eviction.samples = 10;
        let k = keys.clone();
        s.set_memory_gauge(Arc::new(move || k.load(Ordering::SeqCst) * 100));
        (s, keys)
    }

    fn sync_count(s: &mut Store, keys: &AtomicUsize) {
        keys.store(s.total_keys(), Ordering::SeqCst);
    }

    #[test]
    fn noeviction_refuses() {
        let (mut s, keys) = store_with_gauge(EvictionPolicy::NoEviction, 1);
        s.db(0).set_str(b"a", b"1", Ttl::Persist);
        s.db(0).set_str(b"b", b"1", Ttl::Persist);
        sync_count(&mut s, &keys);
        assert_eq!(s.evict_if_needed(100), Err(OutOfMemory));
    }

    #[test]
    fn lru_evicts_the_idle_keys() {
        let (mut s, keys) = store_with_gauge(EvictionPolicy::AllKeysLru, 100);
        // Gauge follows the live key count exactly.
        let k = keys.clone();
        s.set_now(1_000_000);
        for i in 0..200 {
            s.db(0)
                .set_str(format!("k{i}").as_bytes(), b"v", Ttl::Persist);
        }
        // Touch the upper half much later: the lower half is idle.
        s.set_now(2_000_000);
        for i in 100..200 {
            s.db(0).get(format!("k{i}").as_bytes());
        }
        // Evict one by one, updating the gauge after each deletion.
        loop {
            sync_count(&mut s, &k);
            if !s.over_maxmemory() {
                break;
            }
            assert_eq!(s.evict_if_needed(1), Ok(1));
        }
        let survivors_hot = (100..200)
            .filter(|i| s.db(0).peek(format!("k{i}").as_bytes()).is_some())
            .count();
        assert!(survivors_hot >= 90, "hot keys kept: {survivors_hot}");
        assert_eq!(s.common.stats.evicted_keys, 100);
    }

    #[test]
    fn volatile_ttl_is_exact_and_spares_persistent_keys() {
        let (mut s, keys) = store_with_gauge(EvictionPolicy::VolatileTtl, 3);
        s.set_now(1000);
        s.db(0).set_str(b"persist", b"v", Ttl::Persist);
        s.db(0).set_str(b"late", b"v", Ttl::At(9000));
        s.db(0).set_str(b"soon", b"v", Ttl::At(5000));
        s.db(0).set_str(b"mid", b"v", Ttl::At(7000));
        sync_count(&mut s, &keys);
        assert_eq!(s.evict_if_needed(1), Ok(1));
        assert!(s.db(0).peek(b"soon").is_none());
        sync_count(&mut s, &keys);
        assert!(!s.over_maxmemory());
        // Only persistent keys left and still over: OOM.
        s.common.eviction.maxmemory = 1;
        s.db(0).remove(b"mid");
        s.db(0).remove(b"late");
        sync_count(&mut s, &keys);
        assert_eq!(s.evict_if_needed(10), Err(OutOfMemory));
        assert!(s.db(0).peek(b"persist").is_some());
    }

    #[test]
    fn fifo_evicts_oldest_insertions_despite_access() {
        let (mut s, keys) = store_with_gauge(EvictionPolicy::AllKeysFifo, 50);
        for i in 0..100 {
            s.set_now(1_000_000 + i * 1000);
            s.db(0)
                .set_str(format!("k{i}").as_bytes(), b"v", Ttl::Persist);
        }
        // Access old keys: FIFO ignores it.
        for i in 0..50 {
            s.db(0).get(format!("k{i}").as_bytes());
        }
        loop {
            sync_count(&mut s, &keys);
            if !s.over_maxmemory() {
                break;
            }
            s.evict_if_needed(1).unwrap();
        }
        let young_kept = (50..100)
            .filter(|i| s.db(0).peek(format!("k{i}").as_bytes()).is_some())
            .count();
        assert!(young_kept >= 40, "young keys kept: {young_kept}");
    }

    #[test]
    fn random_policies_only_touch_eligible_keys() {
        let (mut s, keys) = store_with_gauge(EvictionPolicy::VolatileRandom, 10);
        s.set_now(1000);
        for i in 0..10 {
            s.db(0)
                .set_str(format!("p{i}").as_bytes(), b"v", Ttl::Persist);
            s.db(0)
                .set_str(format!("v{i}").as_bytes(), b"v", Ttl::At(100_000));
        }
        loop {
            sync_count(&mut s, &keys);
            if !s.over_maxmemory() {
                break;
            }
            s.evict_if_needed(1).unwrap();
        }
        for i in 0..10 {
            assert!(s.db(0).peek(format!("p{i}").as_bytes()).is_some());
        }
    }
}
