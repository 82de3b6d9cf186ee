//! Judges one run against its mode's expectations, plus the checks every run
//! needs to prove anything (a pinned long request really sat on its pod).
//!
//! Pure: reads the run's results, decides, never does I/O.

use crate::artifacts::ExpectationResult;
use crate::model::{RequestRecord, TimelineEvent};
use crate::scenario::{Expect, Load, Scenario};

/// The facts a verdict is made of.
pub struct RunFacts<'a> {
    pub disruptions: u64,
    pub long: &'a [RequestRecord],
    pub timeline: &'a [TimelineEvent],
    pub steady_p99_ms: Option<f64>,
    pub prestop_ms: Option<f64>,
}

pub fn judge(sc: &Scenario, expect: &Expect, f: &RunFacts<'_>) -> Vec<ExpectationResult> {
    let mut out = Vec::new();
    let mut push = |name: &str, ok: bool, detail: String| {
        out.push(ExpectationResult {
            name: name.to_string(),
            ok,
            detail,
        })
    };
    // A pinned long request must have been served by its pod, or the scenario proves nothing.
    let pins: Vec<&String> = sc
        .load
        .iter()
        .filter_map(|l| match l {
            Load::Long { pin: Some(p), .. } => Some(p),
            _ => None,
        })
        .collect();
    if let Some(pin) = pins.first() {
        let on_pod = f
            .long
            .iter()
            .filter(|r| r.pod.as_deref() == Some(pin.as_str()))
            .count();
        let seen: Vec<String> = f
            .long
            .iter()
            .map(|r| format!("{}@{}", r.id, r.pod.as_deref().unwrap_or("?")))
            .collect();
        push(
            "long requests sat on their pinned pod",
            !f.long.is_empty() && on_pod == f.long.len(),
            format!("{on_pod}/{} on {pin} ({})", f.long.len(), seen.join(", ")),
        );
    }
    if let Some(min) = expect.disruptions_min {
        push(
            &format!("disruptions >= {min}"),
            f.disruptions >= min,
            format!("{} disruptions", f.disruptions),
        );
    }
    if let Some(max) = expect.disruptions_max {
        push(
            &format!("disruptions <= {max}"),
            f.disruptions <= max,
            format!("{} disruptions", f.disruptions),
        );
    }
    if let Some(want) = expect.long_lost {
        let lost = f.long.iter().filter(|r| r.outcome.is_disruption()).count();
        let all_lost = !f.long.is_empty() && lost == f.long.len();
        push(
            if want {
                "the long request is lost"
            } else {
                "no long request is lost"
            },
            if want { all_lost } else { lost == 0 },
            format!(
                "{lost}/{} long requests lost ({})",
                f.long.len(),
                f.long
                    .iter()
                    .map(|r| format!("{} {}", r.id, r.outcome))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
    }
    if expect.close_lb_after_long_end == Some(true) {
        let last_end = f.long.iter().map(|r| r.end_ms).fold(f64::NAN, f64::max);
        let close_lb = close_lb_ms(f.timeline);
        let ok = match close_lb {
            Some(c) => !last_end.is_nan() && c >= last_end,
            None => false,
        };
        push(
            "close-lb after the long request ended",
            ok,
            format!(
                "long ended at {}, close-lb at {}",
                fmt_s(Some(last_end).filter(|x| !x.is_nan())),
                fmt_s(close_lb)
            ),
        );
    }
    if let Some(max) = expect.steady_p99_max {
        let ok = f.steady_p99_ms.is_some_and(|p| p <= max.as_f64_ms());
        push(
            &format!("steady p99 <= {max}"),
            ok,
            format!(
                "p99 {:?} ms",
                f.steady_p99_ms.map(|p| (p * 10.0).round() / 10.0)
            ),
        );
    }
    if let Some(min) = expect.prestop_min {
        push(
            &format!("preStop >= {min}"),
            f.prestop_ms.is_some_and(|p| p >= min.as_f64_ms()),
            format!("preStop {}", fmt_s(f.prestop_ms)),
        );
    }
    if let Some(max) = expect.prestop_max {
        push(
            &format!("preStop <= {max}"),
            f.prestop_ms.is_some_and(|p| p <= max.as_f64_ms()),
            format!("preStop {}", fmt_s(f.prestop_ms)),
        );
    }
    out
}

/// When hc was told to close the LB: drain's `hc_close_lb` step, else hc's
/// observed move to CLOSING (either naming).
pub fn close_lb_ms(timeline: &[TimelineEvent]) -> Option<f64> {
    timeline
        .iter()
        .find(|e| e.source == "drain" && e.event == "hc_close_lb")
        .or_else(|| {
            timeline.iter().find(|e| {
                e.source == "hc"
                    && e.event == "state"
                    && (e.detail.ends_with("CLOSING") || e.detail.ends_with("DRAINED_WAIT_LB"))
            })
        })
        .map(|e| e.t_ms)
}

fn fmt_s(ms: Option<f64>) -> String {
    match ms {
        Some(ms) => format!("{:.2} s", ms / 1000.0),
        None => "never".into(),
    }
}
