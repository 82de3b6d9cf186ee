//! The order a graceful termination promises, judged from what the run saw:
//! the LB was told to let go (close-lb) before kubelet's SIGTERM, and
//! SIGTERM came only once the terminated pod's Envoy had no active request.
//!
//! Pure: reads the timeline and the samples, never does I/O. Judges only
//! what was observed; a missing observation is a failed expectation, never
//! a pass.

use crate::model::{Event, EventKind, Sample, Source};

use super::moments::{close_lb_ms, fmt_s};

/// What the order checks read.
pub struct OrderFacts<'a> {
    pub timeline: &'a [Event],
    pub samples: &'a [Sample],
    /// The (first) terminated pod.
    pub pod: Option<&'a str>,
    /// Kubelet's first SIGTERM to that pod.
    pub sigterm_ms: Option<f64>,
}

/// `close_lb_before_sigterm`: (ok, detail).
pub fn close_lb_before_sigterm(f: &OrderFacts<'_>) -> (bool, String) {
    let close_lb = close_lb_ms(f.timeline);
    let ok = matches!((close_lb, f.sigterm_ms), (Some(c), Some(t)) if c < t);
    (
        ok,
        format!(
            "close-lb at {}, SIGTERM at {}",
            fmt_s(close_lb),
            fmt_s(f.sigterm_ms)
        ),
    )
}

/// One reading of the pod's Envoy active requests.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    pub t_ms: f64,
    pub active: i64,
    /// Read by drain's poll (else by the harness's sampler).
    pub by_drain: bool,
}

/// Every reading of `pod`'s Envoy active requests, in time order: the
/// harness's samples and drain's `poll active=N` lines.
pub fn envoy_readings(f: &OrderFacts<'_>, pod: &str) -> Vec<Reading> {
    let mut out: Vec<Reading> = f
        .samples
        .iter()
        .filter(|s| s.pod == pod)
        .filter_map(|s| {
            s.envoy_rq_active.map(|active| Reading {
                t_ms: s.t_ms,
                active,
                by_drain: false,
            })
        })
        .collect();
    out.extend(
        f.timeline
            .iter()
            .filter(|e| {
                e.source == Source::Drain
                    && matches!(&e.kind, EventKind::Step(s) if s == "poll")
                    && e.pod.as_deref() == Some(pod)
            })
            .filter_map(|e| {
                let active = e
                    .detail
                    .split_whitespace()
                    .find_map(|t| t.strip_prefix("active="))?
                    .parse::<i64>()
                    .ok()?;
                Some(Reading {
                    t_ms: e.t_ms,
                    active,
                    by_drain: true,
                })
            }),
    );
    out.sort_by(|a, b| a.t_ms.total_cmp(&b.t_ms));
    out
}

/// `sigterm_after_envoy_idle`: the last reading before SIGTERM says 0.
pub fn sigterm_after_envoy_idle(f: &OrderFacts<'_>) -> (bool, String) {
    let (Some(pod), Some(sigterm)) = (f.pod, f.sigterm_ms) else {
        return (
            false,
            format!(
                "no SIGTERM to a terminated pod (pod {}, SIGTERM at {})",
                f.pod.unwrap_or("-"),
                fmt_s(f.sigterm_ms)
            ),
        );
    };
    let readings = envoy_readings(f, pod);
    let last = readings.iter().rev().find(|r| r.t_ms <= sigterm);
    match last {
        Some(r) => (
            r.active == 0,
            format!(
                "last reading before SIGTERM ({}) at {}: {} active ({})",
                fmt_s(Some(sigterm)),
                fmt_s(Some(r.t_ms)),
                r.active,
                if r.by_drain { "drain's poll" } else { "sample" }
            ),
        ),
        None => (
            false,
            format!(
                "no reading of {pod}'s Envoy before SIGTERM at {}",
                fmt_s(Some(sigterm))
            ),
        ),
    }
}
