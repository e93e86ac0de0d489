//! The active expiry cycle: deletes keys whose deadline has passed even if nobody reads them.
//!
//! Because the expiry index is ordered by deadline, a cycle walks each database's due keys oldest
//! first and stops at the first future deadline: no sampling, no scanning of live keys. The server
//! calls it in small slices (a key budget per call, the store lock released in between), so a
//! million keys expiring at once are reclaimed over a few hundred milliseconds without ever blocking
//! clients for more than one slice.

use crate::store::Store;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ExpireCycleReport {
    /// Keys deleted by this call.
    pub expired: usize,
    /// Whether due keys remain (the caller should run another slice soon).
    pub more: bool,
}

impl Store {
    /// Deletes up to `max_keys` due keys across all databases.
    pub fn active_expire_cycle(&mut self, max_keys: usize) -> ExpireCycleReport {
        let now = self.common.now_ms;
        let n = self.db_count();
        let mut report = ExpireCycleReport::default();
        for i in 0..n {
            let d = (self.expire_next_db + i) % n;
            loop {
                if report.expired >= max_keys {
                    self.expire_next_db = d;
                    report.more = true;
                    self.common.stats.expire_cycles_budget_hit += 1;
                    return report;
                }
                let (at, h) = match self.db_ref(d).expires.first() {
                    Some((at, h)) if at <= now => (at, h),
                    _ => break,
                };
                let key = self
                    .db_ref(d)
                    .dict
                    .find_by_hash(h, |e| e.expire() == Some(at))
                    .map(|e| e.key().to_vec());
                match key {
                    Some(key) => {
                        // Reading it applies lazy expiry, which deletes and counts it.
                        let gone = self.db(d).peek(&key).is_none();
                        debug_assert!(gone, "due key must expire");
                        report.expired += 1;
                    }
                    None => {
                        // An index record without an entry would be a bug; repair rather than spin.
                        debug_assert!(false, "expiry index record without entry");
                        let (dbs, _) = self.dbs_mut();
                        dbs[d].expires.remove(at, h);
                    }
                }
            }
        }
        self.expire_next_db = 0;
        report
    }
}

#[cfg(test)]
mod tests {
    use crate::{Store, Ttl};

    #[test]
    fn deletes_due_keys_in_slices() {
        let mut s = Store::new(2, 1);
        s.set_now(1000);
        for i in 0..1000 {
            s.db(i % 2)
                .set_str(format!("k{i}").as_bytes(), b"v", Ttl::At(2000 + i as i64));
        }
        s.db(0).set_str(b"forever", b"v", Ttl::Persist);
        s.set_now(2500); // 500 keys due
        let r = s.active_expire_cycle(100);
        assert_eq!(r.expired, 100);
        assert!(r.more);
        let mut total = r.expired;
        loop {
            let r = s.active_expire_cycle(100);
            total += r.expired;
            if !r.more {
                break;
            }
        }
        assert_eq!(total, 501);
        assert_eq!(s.total_keys(), 1000 - 501 + 1);
        assert_eq!(s.common.stats.expired_keys, 501);
        s.set_now(10_000);
        s.active_expire_cycle(10_000);
        assert_eq!(s.total_keys(), 1);
        assert_eq!(s.db(0).expires_len() + s.db(1).expires_len(), 0);
    }
}
