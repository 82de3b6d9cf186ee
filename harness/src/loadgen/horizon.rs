//! The moving end of the open-loop schedules (`steady`, `open`): a load
//! whose end is not known when it starts (`harness watch` runs until its
//! command ended plus a settle time) is scheduled for its longest duration,
//! and the horizon, once set, cuts every open-loop schedule at that instant.
//! A request whose intended time is at or past the horizon is never
//! scheduled (it is taken back from the entry's count, so the accounting
//! stays exact: scheduled == started == recorded).
//!
//! Plain shared state; never sleeps, never sends.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Unset: the schedules run to their own end.
const UNSET: u64 = u64::MAX;

/// A cloneable handle on the end of a run's open-loop load (ms of the run).
#[derive(Debug, Clone)]
pub struct Horizon(Arc<AtomicU64>);

impl Default for Horizon {
    fn default() -> Self {
        Horizon(Arc::new(AtomicU64::new(UNSET)))
    }
}

/// Two handles are equal when they are the same horizon.
impl PartialEq for Horizon {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Horizon {
    pub fn new() -> Self {
        Self::default()
    }

    /// Ends the open-loop schedules at `end_ms` (whole ms of the run). Set it
    /// at or after now: a request already sent keeps its row. Only the first
    /// call counts, so a later, longer one cannot extend a load already cut.
    pub fn set(&self, end_ms: u64) {
        let end = end_ms.min(UNSET - 1);
        if let Err(was) = self
            .0
            .compare_exchange(UNSET, end, Ordering::SeqCst, Ordering::SeqCst)
        {
            tracing::debug!(was, end, "the load's end was already set");
        }
    }

    /// The end, once set.
    pub fn get(&self) -> Option<u64> {
        match self.0.load(Ordering::SeqCst) {
            UNSET => None,
            v => Some(v),
        }
    }

    /// Whether a request intended at `intended_ms` is past the end.
    pub fn cuts(&self, intended_ms: f64) -> bool {
        self.get().is_some_and(|end| intended_ms >= end as f64)
    }
}

impl super::LoadSpec {
    /// This spec as its schedule ran once a horizon cut it at `end_ms`
    /// (`None`: not cut): an open-loop entry's duration ends there, so its
    /// count is that of the requests intended before it.
    pub fn cut_at(self, end_ms: Option<u64>) -> Self {
        use super::LoadSpec::{Open, Steady};
        let Some(end) = end_ms else { return self };
        match self {
            Steady {
                duration_ms,
                start_ms,
                rate,
                path,
                keepalive,
                max_conns,
                seed,
            } => Steady {
                duration_ms: duration_ms.min(end.saturating_sub(start_ms)),
                start_ms,
                rate,
                path,
                keepalive,
                max_conns,
                seed,
            },
            Open {
                duration_ms,
                start_ms,
                rate,
                path,
                connections,
                send_window,
            } => Open {
                duration_ms: duration_ms.min(end.saturating_sub(start_ms)),
                start_ms,
                rate,
                path,
                connections,
                send_window,
            },
            other => other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_end_set_counts() {
        let h = Horizon::new();
        assert!(!h.cuts(1e12));
        h.set(5_000);
        assert!(h.cuts(5_000.0) && !h.cuts(4_999.9));
        h.set(9_000);
        assert_eq!(h.get(), Some(5_000));
    }

    #[test]
    fn a_cut_spec_counts_the_requests_intended_before_the_end() {
        use super::super::{LoadSpec, SteadySchedule};
        let spec = LoadSpec::Steady {
            rate: 800.0,
            duration_ms: 115_000,
            path: "/".into(),
            start_ms: 4_000,
            keepalive: 0.9,
            max_conns: 512,
            seed: 1,
        };
        assert_eq!(spec.clone().cut_at(None), spec);
        let LoadSpec::Steady { duration_ms, .. } = spec.clone().cut_at(Some(90_001)) else {
            unreachable!()
        };
        assert_eq!(duration_ms, 86_001);
        // What the driver keeps (intended < end) is the cut schedule's count.
        let full = SteadySchedule::new(4_000, 800.0, 115_000);
        let kept = full.iter().filter(|t| *t < 90_001.0).count() as u64;
        assert_eq!(SteadySchedule::new(4_000, 800.0, duration_ms).len(), kept);
        // A horizon past the spec's own end changes nothing.
        assert_eq!(spec.clone().cut_at(Some(500_000)), spec);
    }
}
