//! [`RequestsDigest`]: everything the plot, the report and the verbs need
//! from `requests.csv`, built in one streaming pass: the counts and latency
//! histograms ([`Tally`]), the ok requests' latency band per time bucket,
//! every disrupted request (a short list), the pods seen and the time and
//! latency ranges. Its size does not grow with the number of ok requests.
//!
//! It keeps aggregates only: it never holds the ok rows, and never writes.

use std::collections::BTreeSet;
use std::path::Path;

use super::band::LatencyBand;
use super::csv::requests;
use super::tally::Tally;
use super::ArtifactsError;
use crate::model::RequestRecord;

/// The aggregates of a run's requests.
#[derive(Debug, Clone, Default)]
pub struct RequestsDigest {
    pub tally: Tally,
    /// Ok requests' latency (from the intended send time) per time bucket.
    pub band: LatencyBand,
    /// Every request whose outcome is a disruption, in file order.
    pub disrupted: Vec<RequestRecord>,
    /// Every pod a request named.
    pub pods: BTreeSet<String>,
    /// The latest intended send or end time, ms.
    pub t_max_ms: f64,
    /// The smallest and largest latency of any request, ms.
    pub latency_range_ms: Option<(f64, f64)>,
}

impl RequestsDigest {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one request.
    pub fn record(&mut self, r: RequestRecord) {
        self.tally.record(&r);
        self.t_max_ms = self.t_max_ms.max(r.end_ms).max(r.intended_ms);
        let lat = r.latency_ms();
        self.latency_range_ms = Some(match self.latency_range_ms {
            Some((lo, hi)) => (lo.min(lat), hi.max(lat)),
            None => (lat, lat),
        });
        if let Some(p) = &r.pod {
            if !self.pods.contains(p) {
                self.pods.insert(p.clone());
            }
        }
        if r.outcome.is_disruption() {
            self.disrupted.push(r);
        } else {
            self.band.record(r.intended_ms, lat);
        }
    }

    /// How many requests were added.
    pub fn requests(&self) -> u64 {
        self.tally.requests
    }

    /// Streams `<run_dir>/requests.csv` (or its `.part`) into a digest;
    /// `Missing` when neither file exists.
    pub fn read(run_dir: &Path) -> Result<Self, ArtifactsError> {
        let mut d = Self::new();
        for r in requests(run_dir)? {
            d.record(r?);
        }
        Ok(d)
    }

    /// Like [`RequestsDigest::read`], but a run without requests.csv gives
    /// `None` instead of an error.
    pub fn read_if_any(run_dir: &Path) -> Result<Option<Self>, ArtifactsError> {
        match Self::read(run_dir) {
            Ok(d) => Ok(Some(d)),
            Err(ArtifactsError::Missing { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Outcome;

    fn req(i: u32, outcome: Outcome, pod: &str) -> RequestRecord {
        RequestRecord {
            pod: Some(pod.into()),
            reused: true,
            intended_ms: f64::from(i) * 10.0,
            sent_ms: f64::from(i) * 10.0,
            end_ms: f64::from(i) * 10.0 + 2.0,
            status: Some(200),
            bytes: 2,
            ..RequestRecord::for_test(&format!("steady-{i}"), outcome)
        }
    }

    #[test]
    fn keeps_disruptions_and_counts_the_rest() {
        let mut d = RequestsDigest::new();
        for i in 0..1000 {
            let o = if i % 250 == 7 {
                Outcome::Reset
            } else {
                Outcome::Ok
            };
            d.record(req(i, o, if i % 2 == 0 { "pod-a" } else { "pod-b" }));
        }
        assert_eq!(d.requests(), 1000);
        assert_eq!(d.tally.disruptions, 4);
        assert_eq!(d.disrupted.len(), 4);
        assert_eq!(d.disrupted[0].id, "steady-7");
        let band: u64 = d.band.buckets().iter().map(|b| b.count).sum();
        assert_eq!(band, 996);
        assert_eq!(d.pods.len(), 2);
        assert_eq!(d.t_max_ms, 9992.0);
        assert_eq!(d.latency_range_ms, Some((2.0, 2.0)));
    }
}
