//! The latency band of `ok` requests over time: per time bucket (by
//! intended send time) a small histogram, summarised as count, p50, p99
//! and max. It is what the plot draws instead of a point per request, so
//! its size does not grow with the number of requests.
//!
//! Buckets start [`START_WIDTH_MS`] wide; when a run outgrows
//! [`MAX_BUCKETS`] of them, neighbours are merged and the width doubles,
//! so the band is built in one pass without knowing the run's length.
//! Pure: no I/O, and it never sees a disrupted request (those are points).

use hdrhistogram::Histogram;

/// The most buckets kept (the plot is about 1,500 pixels wide).
pub const MAX_BUCKETS: usize = 512;
/// The first bucket width; doubled as often as the run's length needs.
pub const START_WIDTH_MS: f64 = 10.0;
/// Significant digits of the buckets' histograms (1 % is plenty for a
/// picture; `latency.hgrm` keeps 3).
const SIGFIG: u8 = 2;
/// The largest latency a bucket tells apart (1 h, in µs); a longer one is
/// drawn at 1 h. Fixed bounds keep every bucket's histogram the same size.
const MAX_US: u64 = 3_600_000_000;

/// One bucket's figures, in ms.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BandBucket {
    /// The bucket's time span (intended send time, ms from the run's start).
    pub t0_ms: f64,
    pub t1_ms: f64,
    pub count: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// The band being built.
#[derive(Debug, Clone)]
pub struct LatencyBand {
    width_ms: f64,
    buckets: Vec<Option<Histogram<u32>>>,
}

impl Default for LatencyBand {
    fn default() -> Self {
        Self::new()
    }
}

fn new_hist() -> Histogram<u32> {
    // Constant, valid bounds and digits: this cannot fail.
    Histogram::new_with_bounds(1, MAX_US, SIGFIG).expect("valid histogram settings")
}

impl LatencyBand {
    pub fn new() -> Self {
        LatencyBand {
            width_ms: START_WIDTH_MS,
            buckets: Vec::new(),
        }
    }

    /// The current bucket width.
    pub fn width_ms(&self) -> f64 {
        self.width_ms
    }

    /// Adds one ok request sent (intended) at `t_ms` that took `latency_ms`.
    pub fn record(&mut self, t_ms: f64, latency_ms: f64) {
        let mut i = (t_ms.max(0.0) / self.width_ms) as usize;
        while i >= MAX_BUCKETS {
            self.coarsen();
            i = (t_ms.max(0.0) / self.width_ms) as usize;
        }
        if self.buckets.len() <= i {
            self.buckets.resize(i + 1, None);
        }
        let us = (latency_ms.max(0.0) * 1000.0).round() as u64;
        self.buckets[i]
            .get_or_insert_with(new_hist)
            .saturating_record(us.max(1));
    }

    /// Merges bucket pairs (2i, 2i+1) into i and doubles the width.
    fn coarsen(&mut self) {
        let old = std::mem::take(&mut self.buckets);
        let mut merged: Vec<Option<Histogram<u32>>> = Vec::with_capacity(old.len().div_ceil(2));
        for (i, b) in old.into_iter().enumerate() {
            if i % 2 == 0 {
                merged.push(b);
                continue;
            }
            let (Some(b), Some(slot)) = (b, merged.last_mut()) else {
                continue;
            };
            match slot {
                Some(into) => {
                    for v in b.iter_recorded() {
                        into.saturating_record_n(v.value_iterated_to(), v.count_at_value());
                    }
                }
                None => *slot = Some(b),
            }
        }
        self.buckets = merged;
        self.width_ms *= 2.0;
    }

    /// The non-empty buckets, in time order.
    pub fn buckets(&self) -> Vec<BandBucket> {
        let ms = |us: u64| us as f64 / 1000.0;
        self.buckets
            .iter()
            .enumerate()
            .filter_map(|(i, b)| {
                let h = b.as_ref().filter(|h| !h.is_empty())?;
                Some(BandBucket {
                    t0_ms: i as f64 * self.width_ms,
                    t1_ms: (i + 1) as f64 * self.width_ms,
                    count: h.len(),
                    p50_ms: ms(h.value_at_quantile(0.5)),
                    p99_ms: ms(h.value_at_quantile(0.99)),
                    max_ms: ms(h.max()),
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_run_keeps_the_start_width() {
        let mut b = LatencyBand::new();
        for i in 0..100 {
            b.record(5.0, f64::from(i + 1));
        }
        b.record(25.0, 3.0);
        let got = b.buckets();
        assert_eq!(b.width_ms(), START_WIDTH_MS);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].t0_ms, got[0].t1_ms, got[0].count), (0.0, 10.0, 100));
        assert!((got[0].p50_ms - 50.0).abs() <= 0.5, "{got:?}");
        assert!((got[0].p99_ms - 99.0).abs() <= 1.0, "{got:?}");
        assert!((got[0].max_ms - 100.0).abs() <= 1.0, "{got:?}");
        assert_eq!((got[1].t0_ms, got[1].count), (20.0, 1));
    }

    #[test]
    fn a_long_run_coarsens_and_loses_no_request() {
        let mut b = LatencyBand::new();
        // One request every 7 ms for 100 s: 14,286 requests.
        let n = 100_000 / 7 + 1;
        for i in 0..n {
            b.record(f64::from(i) * 7.0, 2.0 + f64::from(i % 10));
        }
        let got = b.buckets();
        assert!(got.len() <= MAX_BUCKETS, "{}", got.len());
        assert!(got.len() > MAX_BUCKETS / 4, "{}", got.len());
        assert_eq!(b.width_ms(), 320.0);
        assert_eq!(got.iter().map(|x| x.count).sum::<u64>(), n as u64);
        assert!(got
            .iter()
            .all(|x| x.p50_ms <= x.p99_ms && x.p99_ms <= x.max_ms));
        assert!(got.windows(2).all(|w| w[0].t1_ms <= w[1].t0_ms));
        assert!(LatencyBand::new().buckets().is_empty());
    }
}
