//! Per-command latency histograms (`LATENCY HISTOGRAM`, INFO `latencystats`), laid out as Redis
//! lays out its HdrHistogram: values in nanoseconds from 1 ns to 1 s with two significant digits,
//! so the buckets, the reported bucket bounds and the percentiles are the numbers Redis reports.
//!
//! Layout (HdrHistogram's): 23 buckets, each covering twice the range of the previous one with
//! 128 sub-buckets (the first with 256), so any value is kept to within 1% of itself. A
//! histogram is 3,072 counters (24 KB), allocated on a command's first call.

/// Smallest and largest value kept (Redis's LATENCY_HISTOGRAM_MIN_VALUE / MAX_VALUE); values
/// outside are clamped.
pub const MIN_VALUE_NS: u64 = 1;
pub const MAX_VALUE_NS: u64 = 1_000_000_000;

/// Two significant digits: 2 * 10^2 = 200 values with unit resolution, rounded up to 256.
const SUB_BUCKET_COUNT_MAGNITUDE: u32 = 8;
const SUB_BUCKET_HALF_COUNT_MAGNITUDE: u32 = SUB_BUCKET_COUNT_MAGNITUDE - 1;
const SUB_BUCKET_COUNT: u64 = 1 << SUB_BUCKET_COUNT_MAGNITUDE;
const SUB_BUCKET_HALF_COUNT: u64 = SUB_BUCKET_COUNT / 2;
const SUB_BUCKET_MASK: u64 = SUB_BUCKET_COUNT - 1;
/// Buckets until `SUB_BUCKET_COUNT << (n - 1)` exceeds MAX_VALUE_NS: 256 << 22 > 10^9.
const BUCKET_COUNT: u32 = 23;
const COUNTS_LEN: usize = ((BUCKET_COUNT as usize) + 1) * (SUB_BUCKET_HALF_COUNT as usize);

/// One command's latency distribution.
#[derive(Clone, Debug)]
pub struct LatencyHistogram {
    counts: Box<[u64]>,
    total: u64,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        LatencyHistogram {
            counts: vec![0; COUNTS_LEN].into_boxed_slice(),
            total: 0,
        }
    }
}

/// (bucket, sub-bucket) of a value.
fn bucket_of(value: u64) -> (u32, u64) {
    let pow2ceiling = 64 - (value | SUB_BUCKET_MASK).leading_zeros();
    let bucket = pow2ceiling - (SUB_BUCKET_HALF_COUNT_MAGNITUDE + 1);
    (bucket, value >> bucket)
}

fn counts_index(bucket: u32, sub_bucket: u64) -> usize {
    let base = u64::from(bucket + 1) << SUB_BUCKET_HALF_COUNT_MAGNITUDE;
    (base + sub_bucket - SUB_BUCKET_HALF_COUNT) as usize
}

fn index_of(value: u64) -> usize {
    let (bucket, sub_bucket) = bucket_of(value);
    counts_index(bucket, sub_bucket).min(COUNTS_LEN - 1)
}

/// The lowest value counted at `index`.
fn value_at_index(index: usize) -> u64 {
    let index = index as u64;
    let mut bucket = (index >> SUB_BUCKET_HALF_COUNT_MAGNITUDE) as i64 - 1;
    let mut sub_bucket = (index & (SUB_BUCKET_HALF_COUNT - 1)) + SUB_BUCKET_HALF_COUNT;
    if bucket < 0 {
        sub_bucket -= SUB_BUCKET_HALF_COUNT;
        bucket = 0;
    }
    sub_bucket << bucket
}

/// The highest value counted together with `value` (HdrHistogram's highest equivalent value).
pub fn highest_equivalent(value: u64) -> u64 {
    let (bucket, sub_bucket) = bucket_of(value);
    let lowest = sub_bucket << bucket;
    let adjusted = if sub_bucket >= SUB_BUCKET_COUNT {
        bucket + 1
    } else {
        bucket
    };
    lowest + (1u64 << adjusted) - 1
}

impl LatencyHistogram {
    /// Records one value (nanoseconds), clamped to the histogram's range.
    pub fn record(&mut self, ns: u64) {
        // index_of clamps to the last counter.
        self.counts[index_of(ns.clamp(MIN_VALUE_NS, MAX_VALUE_NS))] += 1;
        self.total += 1;
    }

    /// Values recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The value at `percentile` (0-100): the highest value equivalent to the smallest recorded
    /// value with at least that share of the values at or below it (`hdr_value_at_percentile`).
    pub fn value_at_percentile(&self, percentile: f64) -> u64 {
        let requested = percentile.clamp(0.0, 100.0);
        let wanted = ((requested / 100.0) * self.total as f64 + 0.5) as u64;
        let wanted = wanted.max(1);
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= wanted {
                return highest_equivalent(value_at_index(index));
            }
        }
        0
    }

    /// The cumulative distribution Redis's LATENCY HISTOGRAM reports: for bucket bounds 1024 ns,
    /// 2048 ns, ... (doubling), the bound's highest equivalent value in microseconds and the
    /// number of values at or below it, for each bound that added values, until all are counted.
    pub fn cumulative(&self) -> Vec<(u64, u64)> {
        let mut rows = Vec::new();
        let (mut seen, mut index, mut reported) = (0u64, 0usize, 0u64);
        let mut level = 1024u64;
        while seen < self.total && index < COUNTS_LEN {
            let last = index_of(level);
            while index <= last {
                seen += self.counts[index];
                index += 1;
            }
            if seen > reported {
                rows.push((highest_equivalent(level) / 1000, seen));
                reported = seen;
            }
            level = level.saturating_mul(2);
        }
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equivalent_ranges_are_hdr_histograms() {
        // Unit resolution below 256, then steps of 2, 4, 8, ... (two significant digits).
        assert_eq!(highest_equivalent(1), 1);
        assert_eq!(highest_equivalent(255), 255);
        assert_eq!(highest_equivalent(256), 257);
        assert_eq!(highest_equivalent(1000), 1003);
        assert_eq!(highest_equivalent(2000), 2007);
        assert_eq!(highest_equivalent(10_000), 10_047);
        // The bucket bounds Redis 7.0.15 prints in LATENCY HISTOGRAM (microseconds).
        let bounds: Vec<u64> = (0..14)
            .map(|k| highest_equivalent(1024u64 << k) / 1000)
            .collect();
        assert_eq!(
            bounds,
            [1, 2, 4, 8, 16, 33, 66, 132, 264, 528, 1056, 2113, 4227, 8454]
        );
        // Every index maps back to a value that maps to it.
        for index in 0..COUNTS_LEN {
            assert_eq!(index_of(value_at_index(index)), index, "{index}");
        }
        assert!(index_of(MAX_VALUE_NS) < COUNTS_LEN);
    }

    #[test]
    fn percentiles_as_redis_reports_them() {
        // INFO latencystats printed these for SET and CONFIG SET on Redis 7.0.15 (values are
        // whole microseconds, recorded in nanoseconds).
        let mut h = LatencyHistogram::default();
        for _ in 0..98 {
            h.record(1_000);
        }
        h.record(2_000);
        h.record(7_000);
        assert_eq!(h.value_at_percentile(50.0), 1_003);
        assert_eq!(h.value_at_percentile(99.0), 2_007);
        assert_eq!(h.value_at_percentile(99.9), 7_007);
        assert_eq!(h.value_at_percentile(100.0), 7_007);
        assert_eq!(h.total(), 100);
        assert_eq!(LatencyHistogram::default().value_at_percentile(50.0), 0);
    }

    #[test]
    fn the_cumulative_distribution_skips_empty_bounds_and_ends_at_the_total() {
        let mut h = LatencyHistogram::default();
        h.record(0); // clamped to 1 ns
        h.record(1_000);
        h.record(3_000);
        h.record(3_000);
        h.record(40_000);
        h.record(5_000_000_000); // clamped to 1 s
        assert_eq!(h.cumulative(), [(1, 2), (4, 4), (66, 5), (1_082_130, 6)]);
        assert!(LatencyHistogram::default().cumulative().is_empty());
    }
}
