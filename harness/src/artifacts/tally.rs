//! [`Tally`]: a run's counts by outcome and origin and its latency
//! histograms, built from requests as they come, without holding them.
//!
//! It must never keep a request: each one is counted and dropped.

use std::collections::BTreeMap;

use super::hgrm::LatencyStats;
use super::summary::{zero_outcomes, Summary};
use crate::model::{Outcome, RequestRecord};

/// `disruptions_by_origin` key of a disruption no server answered (reset,
/// closed, truncated, refused, timeout): seen by the client only.
pub const ORIGIN_CLIENT: &str = "client";
/// `disruptions_by_origin` key of an HTTP answer whose origin is not known.
pub const ORIGIN_UNKNOWN: &str = "unknown";

/// Counts requests by outcome and origin and feeds the latency histograms,
/// one request at a time.
#[derive(Debug, Clone)]
pub struct Tally {
    pub requests: u64,
    pub outcomes: BTreeMap<Outcome, u64>,
    pub disruptions: u64,
    pub disruptions_by_origin: BTreeMap<String, u64>,
    pub latency: LatencyStats,
}

impl Default for Tally {
    fn default() -> Self {
        Self::new()
    }
}

impl Tally {
    pub fn new() -> Self {
        Tally {
            requests: 0,
            outcomes: zero_outcomes(),
            disruptions: 0,
            disruptions_by_origin: BTreeMap::new(),
            latency: LatencyStats::new(),
        }
    }

    pub fn record(&mut self, r: &RequestRecord) {
        self.requests += 1;
        *self.outcomes.entry(r.outcome).or_default() += 1;
        if r.outcome.is_disruption() {
            self.disruptions += 1;
            let key = match (r.outcome.is_http(), r.origin) {
                (true, Some(o)) => o.as_str(),
                (true, None) => ORIGIN_UNKNOWN,
                (false, _) => ORIGIN_CLIENT,
            };
            *self
                .disruptions_by_origin
                .entry(key.to_string())
                .or_default() += 1;
        }
        self.latency.record(r);
    }

    /// Copies the counts and percentiles into `s`.
    pub fn apply_to(&self, s: &mut Summary) {
        s.requests = self.requests;
        s.outcomes = self.outcomes.clone();
        s.disruptions = self.disruptions;
        s.disruptions_by_origin = self.disruptions_by_origin.clone();
        s.latency_ms = self.latency.percentiles();
    }
}
