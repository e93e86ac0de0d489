//! The 32-bit per-entry clock that approximated LRU, LFU and FIFO eviction read.
//!
//! Its meaning depends on the policy in force (as in Redis, switching policy reinterprets old values):
//! - LRU: last access time in units of `LRU_CLOCK_RESOLUTION_MS` (wraps after ~497 days).
//! - FIFO: insertion time in the same units; never updated on access.
//! - LFU: Redis's layout — high 16 bits the last decrement time in minutes, low 8 bits a
//!   logarithmic access counter (`lfu-log-factor`) that halves... decays by one per
//!   `lfu-decay-time` minutes.

use crate::rng::Rng;

/// Resolution of the LRU/FIFO clock.
pub const LRU_CLOCK_RESOLUTION_MS: i64 = 10;
/// Initial LFU counter of a new key, so it is not evicted before it had a chance to be used.
pub const LFU_INIT_VAL: u8 = 5;

/// How the per-entry clock is maintained under the current policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockKind {
    Lru,
    Lfu,
    Fifo,
}

pub fn lru_clock(now_ms: i64) -> u32 {
    (now_ms / LRU_CLOCK_RESOLUTION_MS) as u32
}

/// Milliseconds since the entry's clock, wrap-aware.
pub fn idle_ms(now_ms: i64, entry_clock: u32) -> u64 {
    lru_clock(now_ms).wrapping_sub(entry_clock) as u64 * LRU_CLOCK_RESOLUTION_MS as u64
}

fn lfu_minutes(now_ms: i64) -> u32 {
    ((now_ms / 60_000) & 0xffff) as u32
}

pub fn lfu_initial(now_ms: i64) -> u32 {
    (lfu_minutes(now_ms) << 8) | LFU_INIT_VAL as u32
}

/// The counter after applying decay for the time elapsed (Redis LFUDecrAndReturn).
pub fn lfu_decayed_counter(clock: u32, now_ms: i64, decay_time_min: u32) -> u8 {
    let ldt = clock >> 8;
    let counter = (clock & 0xff) as u64;
    let now = lfu_minutes(now_ms);
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    } as u64;
    let periods = elapsed.checked_div(decay_time_min as u64).unwrap_or(0);
    counter.saturating_sub(periods) as u8
}

/// Logarithmic increment (Redis LFULogIncr): the higher the counter, the less likely it grows.
pub fn lfu_log_incr(counter: u8, log_factor: u32, rng: &mut Rng) -> u8 {
    if counter == 255 {
        return 255;
    }
    let base = (counter as f64 - LFU_INIT_VAL as f64).max(0.0);
    let p = 1.0 / (base * log_factor as f64 + 1.0);
    if rng.next_f64() < p {
        counter + 1
    } else {
        counter
    }
}

/// New clock value after an access.
pub fn lfu_touch(
    clock: u32,
    now_ms: i64,
    log_factor: u32,
    decay_time_min: u32,
    rng: &mut Rng,
) -> u32 {
    let c = lfu_decayed_counter(clock, now_ms, decay_time_min);
    let c = lfu_log_incr(c, log_factor, rng);
    (lfu_minutes(now_ms) << 8) | c as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_wraps() {
        assert_eq!(idle_ms(1000, lru_clock(500)), 500);
        assert_eq!(idle_ms(0, u32::MAX), LRU_CLOCK_RESOLUTION_MS as u64);
    }

    #[test]
    fn lfu_grows_logarithmically_and_decays() {
        let mut rng = Rng::new(1);
        let mut clock = lfu_initial(0);
        for _ in 0..1000 {
            clock = lfu_touch(clock, 0, 10, 1, &mut rng);
        }
        let c = lfu_decayed_counter(clock, 0, 1);
        assert!(
            c > 10 && c < 40,
            "counter after 1000 hits with factor 10: {c}"
        );
        // Two minutes later with decay 1 the counter dropped by two.
        assert_eq!(lfu_decayed_counter(clock, 120_000, 1), c - 2);
        assert_eq!(lfu_decayed_counter(clock, 120_000, 0), c);
    }
}
