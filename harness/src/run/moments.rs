//! When things happened on a run's timeline: the first event matching a
//! pattern, close-lb, HAProxy letting a pod go; and how a verdict's details
//! write a time.
//!
//! Pure lookups over the events; it must never judge.

use crate::model::{Event, EventKind, Source};
use crate::scenario::EventPattern;

/// The first event at or after `after` matching `pattern` (and `pod`, when
/// the event has one).
pub fn find_event<'a>(
    timeline: &'a [Event],
    pattern: &str,
    pod: Option<&str>,
    after: f64,
) -> Option<&'a Event> {
    let p = EventPattern::parse(pattern)?;
    timeline.iter().find(|e| {
        e.t_ms >= after
            && p.matches(&e.source.as_str(), e.kind.as_str(), &e.detail)
            && (pod.is_none() || e.pod.is_none() || e.pod.as_deref() == pod)
    })
}

/// How long after close-lb HAProxy let `pod` go: its log's DOWN/NOLB line,
/// or the runtime API showing DOWN, NOLB, DRAIN or MAINT, whichever first.
pub fn lb_release_after_close_lb(events: &[Event], pod: &str) -> Option<f64> {
    let c = close_lb_ms(events)?;
    events
        .iter()
        .filter(|e| e.source == Source::HAPROXY && e.pod.as_deref() == Some(pod) && e.t_ms >= c)
        .find(|e| e.kind.is_lb_release())
        .map(|e| e.t_ms - c)
}

/// When hc was told to close the LB: drain's `hc_close_lb` step, else hc's
/// observed move to CLOSING (either naming).
pub fn close_lb_ms(timeline: &[Event]) -> Option<f64> {
    timeline
        .iter()
        .find(|e| e.source == Source::Drain && e.kind == EventKind::Step("hc_close_lb".into()))
        .or_else(|| {
            timeline.iter().find(|e| {
                e.source == Source::Hc
                    && e.kind == EventKind::State
                    && (e.detail.ends_with("CLOSING") || e.detail.ends_with("DRAINED_WAIT_LB"))
            })
        })
        .map(|e| e.t_ms)
}

pub(super) fn fmt_s(ms: Option<f64>) -> String {
    match ms {
        Some(ms) => format!("{:.2} s", ms / 1000.0),
        None => "never".into(),
    }
}
