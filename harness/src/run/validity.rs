//! Whether a run can prove anything (DESIGN §3.4), beside its
//! expectations: the accounting (every scheduled request is one row, no
//! writer failed), a zero-loss claim backed by requests and by an
//! expectation, and the load covering the termination. Fills
//! `summary.accounting`, `summary.coverage` and `summary.invalid`; any
//! reason there makes the verdict `invalid`.
//!
//! Pure: reads what the run collected, never does I/O.

use crate::artifacts::Summary;
use crate::loadgen::LoadSpec;
use crate::model::Event;
use crate::scenario::{coverage::claims_zero_loss, Mode, Scenario};

use super::accounting::{account, AccountingFacts};
use super::coverage::{gap, measure, WindowFacts};
use super::DriveFacts;

/// What validity is judged from.
pub struct ValidityFacts<'a> {
    pub events: &'a [Event],
    /// Sink and writer errors, one line each naming the file.
    pub write_errors: &'a [String],
    /// `None`: the drive failed.
    pub facts: Option<&'a DriveFacts>,
    /// Rows the records sink wrote (`None`: the sink failed).
    pub rows: Option<u64>,
}

/// Fills the summary's accounting, coverage and invalid reasons.
pub fn judge(summary: &mut Summary, sc: &Scenario, mode: &Mode, v: &ValidityFacts<'_>) {
    let specs: &[LoadSpec] = v.facts.map(|f| f.specs.as_slice()).unwrap_or_default();
    let (table, mut gaps) = account(&AccountingFacts {
        specs,
        stats: v.facts.and_then(|f| f.load.as_ref()),
        rows: v.rows,
        errors: v.write_errors,
    });
    summary.accounting = table;
    let zero_loss = claims_zero_loss(mode);
    if zero_loss && summary.requests == 0 {
        gaps.push(
            "the mode claims zero loss (disruptions_max = 0) but no request was recorded".into(),
        );
    }
    if summary.expectations.is_empty() {
        gaps.push("the mode has no expectation: a pass would prove nothing".into());
    }
    if let Some(pod) = sc
        .faults
        .iter()
        .find_map(|f| f.terminated_pods().first().map(|p| p.to_string()))
    {
        let c = measure(&WindowFacts {
            timeline: v.events,
            pod: &pod,
            load: steady_window(specs),
            inter_ms: sc.topology.haproxy.inter.as_f64_ms(),
        });
        if zero_loss {
            gaps.extend(gap(&c, &pod));
        }
        summary.coverage = Some(c);
    }
    summary.invalid = gaps;
}

/// When the steady load starts and its last request is scheduled (ms from
/// the run's start).
fn steady_window(specs: &[LoadSpec]) -> Option<(f64, f64)> {
    specs
        .iter()
        .filter_map(|s| match s {
            LoadSpec::Steady {
                start_ms,
                duration_ms,
                ..
            }
            | LoadSpec::Open {
                start_ms,
                duration_ms,
                ..
            } => Some((*start_ms as f64, (*start_ms + *duration_ms) as f64)),
            _ => None,
        })
        .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)))
}
