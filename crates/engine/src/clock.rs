//! Time as an injected dependency. The keyspace never reads the system clock itself: the server
//! sets the current time once per batch of commands (as Redis caches `mstime()` per command), so
//! TTLs, LRU clocks and rate limits are testable without sleeping and deterministic in simulation.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

pub trait Clock: Send + Sync {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Microseconds since the Unix epoch (rate limiting wants sub-ms precision).
    fn now_us(&self) -> i64 {
        self.now_ms() * 1000
    }
}

/// The real wall clock.
#[derive(Default, Debug, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        self.now_us() / 1000
    }

    fn now_us(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_micros() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Default)]
pub struct ManualClock {
    us: AtomicI64,
}

impl ManualClock {
    pub fn new(ms: i64) -> ManualClock {
        ManualClock {
            us: AtomicI64::new(ms * 1000),
        }
    }

    pub fn advance_ms(&self, ms: i64) {
        self.us.fetch_add(ms * 1000, Ordering::SeqCst);
    }

    pub fn set_ms(&self, ms: i64) {
        self.us.store(ms * 1000, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.us.load(Ordering::SeqCst) / 1000
    }

    fn now_us(&self) -> i64 {
        self.us.load(Ordering::SeqCst)
    }
}
