//! One command's latency distribution, for `INFO latencystats` and `LATENCY HISTOGRAM`.
//!
//! Place in the flow: the dispatcher records every completed call's run time here (when
//! `latency-tracking` is on), in the command's statistics; the INFO and LATENCY commands
//! read it. Redis keeps these figures in an HDR histogram of nanoseconds from 1 ns to 1 s with
//! two significant digits, and its replies show that histogram's bucket edges (a p50 of
//! `3.007` µs, a bucket labelled `33816`), so the buckets here are laid out the same way:
//! values under 256 ns exactly, then for each power of two 128 buckets, each twice as wide
//! as in the power below.

/// Smallest and largest value recorded (ns): shorter and longer runs are clamped.
const LOWEST_NS: u64 = 1;
const HIGHEST_NS: u64 = 1_000_000_000;
/// Buckets per power of two above the exact range (two significant decimal digits need 128).
const HALF_BITS: u32 = 7;
const HALF: u64 = 1 << HALF_BITS;
/// `LATENCY HISTOGRAM` reports cumulative counts at 1,024 ns, then every power of two above.
const FIRST_REPORT_NS: u64 = 1024;
/// Where Redis's bucket array ends (its last band holds 1 s): a report point past it is
/// labelled with the array's last value.
const ARRAY_END_NS: u64 = (2 * HALF) << 22;

/// Counts of run times, by bucket; grows to the highest bucket used.
#[derive(Clone, Debug, Default)]
pub struct LatencyHistogram {
    counts: Vec<u64>,
    total: u64,
}

/// The bucket of `ns`: its power-of-two band and its place in the band.
fn index_of(ns: u64) -> usize {
    let band = (63 - (ns | (2 * HALF - 1)).leading_zeros()) - HALF_BITS;
    (((u64::from(band) + 1) << HALF_BITS) + (ns >> band) - HALF) as usize
}

/// The smallest value of bucket `index`, and the bucket's width.
fn bucket_of(index: usize) -> (u64, u64) {
    let index = index as u64;
    let mut band = (index >> HALF_BITS) as i64 - 1;
    let mut sub = (index & (HALF - 1)) + HALF;
    if band < 0 {
        band = 0;
        sub -= HALF;
    }
    (sub << band, 1 << band)
}

/// The largest value in the bucket holding `ns`.
fn highest_equivalent(ns: u64) -> u64 {
    let (low, width) = bucket_of(index_of(ns));
    low + width - 1
}

impl LatencyHistogram {
    /// Records one run of `usec` microseconds.
    #[inline]
    pub fn record_usec(&mut self, usec: u64) {
        let ns = usec.saturating_mul(1000).clamp(LOWEST_NS, HIGHEST_NS);
        let i = index_of(ns);
        if i >= self.counts.len() {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] += 1;
        self.total += 1;
    }

    /// Runs recorded.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// The run time (µs) at `percentile` (0–100): the highest value of the bucket where the
    /// count reaches that share of the runs (the lowest for percentile 0), as Redis reports it.
    pub fn usec_at_percentile(&self, percentile: f64) -> f64 {
        let wanted = ((percentile.min(100.0) / 100.0 * self.total as f64 + 0.5) as u64).max(1);
        let mut seen = 0;
        let mut index = 0;
        for (i, &n) in self.counts.iter().enumerate() {
            seen += n;
            index = i;
            if seen >= wanted {
                break;
            }
        }
        let (low, width) = bucket_of(index);
        let ns = if percentile == 0.0 {
            low
        } else {
            low + width - 1
        };
        ns as f64 / 1000.0
    }

    /// The cumulative distribution `LATENCY HISTOGRAM` shows: at 1,024 ns and each power of two
    /// above, the number of runs up to that bucket, labelled with the bucket's highest value
    /// in µs; only the points where the count grew.
    pub fn cumulative_usec(&self) -> Vec<(u64, u64)> {
        let mut points = Vec::new();
        let (mut level, mut seen, mut reported, mut next) = (FIRST_REPORT_NS, 0u64, 0u64, 0usize);
        while reported < self.total {
            let upto = index_of(level);
            while next <= upto && next < self.counts.len() {
                seen += self.counts[next];
                next += 1;
            }
            if seen > reported {
                let label = highest_equivalent(level.min(ARRAY_END_NS - 1));
                points.push((label / 1000, seen));
                reported = seen;
            }
            level *= 2;
        }
        points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(usecs: &[u64]) -> LatencyHistogram {
        let mut h = LatencyHistogram::default();
        for &u in usecs {
            h.record_usec(u);
        }
        h
    }

    #[test]
    fn buckets_are_contiguous_and_grow_with_the_value() {
        let mut expected_low = 0;
        for i in 0..index_of(HIGHEST_NS) {
            let (low, width) = bucket_of(i);
            assert_eq!(low, expected_low, "bucket {i}");
            assert_eq!(index_of(low), i);
            assert_eq!(index_of(low + width - 1), i);
            expected_low = low + width;
        }
    }

    #[test]
    fn percentiles_read_as_redis_reports_them() {
        // Figures redis-server 7.0.15 printed for the same runs (INFO latencystats).
        assert_eq!(of(&[3]).usec_at_percentile(50.0), 3.007);
        assert_eq!(of(&[13]).usec_at_percentile(99.9), 13.055);
        assert_eq!(of(&[4]).usec_at_percentile(0.0), 4.0);
        let three = of(&[100, 3178, 20185]);
        assert_eq!(three.usec_at_percentile(50.0), 3178.495);
        assert_eq!(three.usec_at_percentile(99.0), 20185.087);
        // Under 1 µs and over 1 s are clamped.
        assert_eq!(of(&[0]).usec_at_percentile(50.0), 0.001);
        assert_eq!(of(&[5_000_000]).usec_at_percentile(100.0), 1_002_438.655);
    }

    #[test]
    fn cumulative_points_are_labelled_with_bucket_edges() {
        // redis-server 7.0.15's LATENCY HISTOGRAM for DEBUG SLEEP runs of these lengths.
        let h = of(&[200, 3178, 20185]);
        assert_eq!(h.cumulative_usec(), vec![(264, 1), (4227, 2), (33816, 3)]);
        assert_eq!(of(&[4]).cumulative_usec(), vec![(4, 1)]);
        assert_eq!(of(&[0, 1, 1]).cumulative_usec(), vec![(1, 3)]);
        // Past 2^29 ns the label is the end of Redis's bucket array (a 1.5 s DEBUG SLEEP).
        assert_eq!(of(&[1_500_000]).cumulative_usec(), vec![(1_073_741, 1)]);
        assert!(LatencyHistogram::default().cumulative_usec().is_empty());
    }
}
