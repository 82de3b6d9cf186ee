//! Latency histograms of a run and `latency.hgrm`, HdrHistogram's standard
//! percentile-distribution text (what `HistogramLogProcessor` prints and the
//! hdrhistogram.github.io plotter reads), values in milliseconds.
//!
//! Which requests count: only `ok` ones, i.e. complete responses the user
//! would accept. Every other outcome is a disruption and is counted
//! separately (summary.json's `outcomes` / `disruptions`): a fast 502 or an
//! early reset would otherwise pull the percentiles down and hide the damage.
//! Never records anything but microseconds.

use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::rundir::write_atomic;
use super::ArtifactsError;
use crate::model::{Outcome, RequestRecord};

/// Significant value digits kept by the histograms.
pub const SIGFIG: u8 = 3;
/// Percentile ticks per half distance in `latency.hgrm` (HdrHistogram's default).
pub const TICKS_PER_HALF: u32 = 5;
/// The histograms hold microseconds; `.hgrm` prints milliseconds.
const US_PER_MS: f64 = 1000.0;

/// One latency distribution's headline figures, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// How many requests the figures are made of.
    pub count: u64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// Corrected (from the intended send time) and uncorrected (from the actual
/// send time) latency; `None` when no request counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencyMs {
    pub corrected: Option<Percentiles>,
    pub uncorrected: Option<Percentiles>,
}

/// The two histograms of a run.
#[derive(Debug, Clone)]
pub struct LatencyStats {
    corrected: Histogram<u64>,
    uncorrected: Histogram<u64>,
}

impl Default for LatencyStats {
    fn default() -> Self {
        Self::new()
    }
}

fn new_hist() -> Histogram<u64> {
    // An auto-resizing histogram with 3 significant digits cannot fail to build.
    Histogram::new(SIGFIG).expect("valid histogram settings")
}

fn to_us(ms: f64) -> u64 {
    (ms.max(0.0) * US_PER_MS).round() as u64
}

impl LatencyStats {
    pub fn new() -> Self {
        LatencyStats {
            corrected: new_hist(),
            uncorrected: new_hist(),
        }
    }

    /// Whether a request's latency is recorded (see the module doc).
    pub fn counts(r: &RequestRecord) -> bool {
        r.outcome == Outcome::Ok
    }

    /// Records `r` when it counts; returns whether it did.
    pub fn record(&mut self, r: &RequestRecord) -> bool {
        if !Self::counts(r) {
            return false;
        }
        // Auto-resize: recording can only fail past i64::MAX / 2 microseconds.
        let _ = self.corrected.record(to_us(r.latency_ms()).max(1));
        let _ = self.uncorrected.record(to_us(r.service_ms()).max(1));
        true
    }

    pub fn len(&self) -> u64 {
        self.corrected.len()
    }

    pub fn is_empty(&self) -> bool {
        self.corrected.is_empty()
    }

    pub fn corrected(&self) -> &Histogram<u64> {
        &self.corrected
    }

    pub fn uncorrected(&self) -> &Histogram<u64> {
        &self.uncorrected
    }

    /// Both distributions' percentiles in ms.
    pub fn percentiles(&self) -> LatencyMs {
        LatencyMs {
            corrected: percentiles_of(&self.corrected),
            uncorrected: percentiles_of(&self.uncorrected),
        }
    }

    /// Writes the corrected distribution to `path` (atomically).
    pub fn write_hgrm(&self, path: &Path) -> Result<(), ArtifactsError> {
        write_atomic(path, percentile_distribution(&self.corrected).as_bytes())
    }

    /// Writes the uncorrected distribution to `path` (atomically).
    pub fn write_hgrm_uncorrected(&self, path: &Path) -> Result<(), ArtifactsError> {
        write_atomic(path, percentile_distribution(&self.uncorrected).as_bytes())
    }
}

/// Percentiles of a microsecond histogram, in ms; `None` when empty.
pub fn percentiles_of(h: &Histogram<u64>) -> Option<Percentiles> {
    if h.is_empty() {
        return None;
    }
    let q = |q: f64| h.value_at_quantile(q) as f64 / US_PER_MS;
    Some(Percentiles {
        count: h.len(),
        p50: q(0.5),
        p90: q(0.9),
        p99: q(0.99),
        p999: q(0.999),
        max: h.max() as f64 / US_PER_MS,
    })
}

/// HdrHistogram's sub-bucket count for `sigfig` digits and a lowest value of 1
/// (what Java's `outputPercentileDistribution` prints as `SubBuckets`).
fn sub_bucket_count(sigfig: u8) -> u64 {
    let largest_single_unit = 2 * 10u64.pow(u32::from(sigfig));
    largest_single_unit.next_power_of_two()
}

/// The standard percentile-distribution text of a microsecond histogram,
/// printed in milliseconds (value unit scaling ratio 1000), as Java's
/// `Histogram.outputPercentileDistribution(out, 5, 1000.0)` prints it.
pub fn percentile_distribution(h: &Histogram<u64>) -> String {
    let d = usize::from(h.sigfig());
    let mut out = String::new();
    let _ = write!(
        out,
        "{:>12} {:>14} {:>10} {:>14}\n\n",
        "Value", "Percentile", "TotalCount", "1/(1-Percentile)"
    );
    let mut total = 0u64;
    if !h.is_empty() {
        for v in h.iter_quantiles(TICKS_PER_HALF) {
            total += v.count_since_last_iteration();
            let value = v.value_iterated_to() as f64 / US_PER_MS;
            let q = v.quantile_iterated_to();
            if q < 1.0 {
                let _ = writeln!(
                    out,
                    "{value:>12.d$} {q:>2.12} {total:>10} {:>14.2}",
                    1.0 / (1.0 - q)
                );
            } else {
                let _ = writeln!(out, "{value:>12.d$} {q:>2.12} {total:>10}");
            }
        }
    }
    let (mean, stdev) = if h.is_empty() {
        (0.0, 0.0)
    } else {
        (h.mean() / US_PER_MS, h.stdev() / US_PER_MS)
    };
    let max = if h.is_empty() {
        0.0
    } else {
        h.max() as f64 / US_PER_MS
    };
    let _ = writeln!(
        out,
        "#[Mean    = {mean:>12.d$}, StdDeviation   = {stdev:>12.d$}]"
    );
    let _ = writeln!(
        out,
        "#[Max     = {max:>12.d$}, Total count    = {:>12}]",
        h.len()
    );
    let _ = writeln!(
        out,
        "#[Buckets = {:>12}, SubBuckets     = {:>12}]",
        h.buckets(),
        sub_bucket_count(h.sigfig())
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Origin;

    fn req(outcome: Outcome, intended: f64, sent: f64, end: f64) -> RequestRecord {
        RequestRecord {
            pod: Some("pod-a".into()),
            intended_ms: intended,
            sent_ms: sent,
            end_ms: end,
            status: Some(200),
            bytes: 2,
            origin: (outcome == Outcome::Http5xx).then_some(Origin::Haproxy),
            ..RequestRecord::for_test("r", outcome)
        }
    }

    #[test]
    fn only_ok_requests_count_and_both_latencies_are_kept() {
        let mut s = LatencyStats::new();
        assert!(s.record(&req(Outcome::Ok, 0.0, 40.0, 50.0)));
        for o in Outcome::ALL.into_iter().filter(|o| *o != Outcome::Ok) {
            assert!(!s.record(&req(o, 0.0, 1.0, 2.0)));
        }
        let p = s.percentiles();
        let c = p.corrected.unwrap();
        let u = p.uncorrected.unwrap();
        assert_eq!(c.count, 1);
        assert!((c.p50 - 50.0).abs() < 0.1, "{c:?}");
        assert!((u.p50 - 10.0).abs() < 0.02, "{u:?}");
        assert!(LatencyStats::new().percentiles().corrected.is_none());
    }

    #[test]
    fn hgrm_has_the_standard_shape() {
        let mut s = LatencyStats::new();
        for i in 1..=1000 {
            s.record(&req(Outcome::Ok, 0.0, 0.0, f64::from(i)));
        }
        let text = percentile_distribution(s.corrected());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "       Value     Percentile TotalCount 1/(1-Percentile)"
        );
        assert_eq!(lines[1], "");
        let footer = &lines[lines.len() - 3..];
        assert!(footer[0].starts_with("#[Mean    = "), "{}", footer[0]);
        assert!(footer[0].contains(", StdDeviation   = "), "{}", footer[0]);
        assert!(footer[1].starts_with("#[Max     = "), "{}", footer[1]);
        assert!(
            footer[1].ends_with(", Total count    =         1000]"),
            "{}",
            footer[1]
        );
        assert!(footer[2].starts_with("#[Buckets = "), "{}", footer[2]);
        assert!(
            footer[2].ends_with(", SubBuckets     =         2048]"),
            "{}",
            footer[2]
        );
        let rows = &lines[2..lines.len() - 3];
        assert!(rows.len() > 20, "{text}");
        let mut last_total = 0u64;
        let mut last_q = -1.0f64;
        for (i, row) in rows.iter().enumerate() {
            let cols: Vec<&str> = row.split_whitespace().collect();
            let is_last = i == rows.len() - 1;
            assert_eq!(cols.len(), if is_last { 3 } else { 4 }, "{row}");
            let value: f64 = cols[0].parse().unwrap();
            let q: f64 = cols[1].parse().unwrap();
            let total: u64 = cols[2].parse().unwrap();
            assert_eq!(cols[0].split('.').nth(1).map(str::len), Some(3), "{row}");
            assert_eq!(cols[1].split('.').nth(1).map(str::len), Some(12), "{row}");
            assert!(value > 0.0 && value <= 1001.0, "{row}");
            assert!(q > last_q && total >= last_total, "{row}");
            if !is_last {
                let inv: f64 = cols[3].parse().unwrap();
                assert!((inv - 1.0 / (1.0 - q)).abs() < 0.01, "{row}");
            }
            last_q = q;
            last_total = total;
        }
        assert_eq!(last_q, 1.0);
        assert_eq!(last_total, 1000);
        // 5 ticks per half distance: 0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55, ...
        let qs: Vec<f64> = rows[..7]
            .iter()
            .map(|r| r.split_whitespace().nth(1).unwrap().parse().unwrap())
            .collect();
        assert_eq!(qs, vec![0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.55]);
        // The median row is printed in ms: 500 ms, within 3 significant digits.
        let median: f64 = rows[5].split_whitespace().next().unwrap().parse().unwrap();
        assert!((median - 500.0).abs() <= 0.5, "{median}");
    }

    #[test]
    fn empty_histogram_prints_header_and_footer_only() {
        let text = percentile_distribution(LatencyStats::new().corrected());
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 5, "{text}");
        assert!(lines[3].contains("Total count    =            0"), "{text}");
    }

    #[test]
    fn write_hgrm_writes_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let mut s = LatencyStats::new();
        s.record(&req(Outcome::Ok, 0.0, 1.0, 12.5));
        let p = tmp.path().join("latency.hgrm");
        s.write_hgrm(&p).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.contains("      12.503 1.000000000000          1\n"),
            "{text}"
        );
    }
}
