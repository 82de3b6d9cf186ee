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
}
