//! Judges one run against its mode's expectations, plus the checks every run
//! needs to prove anything (a pinned long request really sat on its pod).
//!
//! Pure: reads the run's results, decides, never does I/O.

use std::collections::BTreeMap;

use super::moments::{close_lb_ms, find_event, fmt_s};
use crate::artifacts::ExpectationResult;
use crate::kubelet::TerminationReport;
use crate::model::Attribution;
use crate::model::{Event, Outcome, RequestRecord, Sample};
use crate::scenario::{Expect, Load, Scenario};

/// The facts a verdict is made of.
pub struct RunFacts<'a> {
    pub disruptions: u64,
    pub long: &'a [RequestRecord],
    pub timeline: &'a [Event],
    pub steady_p99_ms: Option<f64>,
    pub prestop_ms: Option<f64>,
    /// Counts by outcome name.
    pub outcomes: &'a BTreeMap<Outcome, u64>,
    pub attributions: &'a [Attribution],
    /// The first terminated pod's termination.
    pub termination: Option<&'a TerminationReport>,
    pub close_lb_to_down_ms: Option<f64>,
    /// The harness's samples of every pod.
    pub samples: &'a [Sample],
    /// The (first) terminated pod.
    pub terminated_pod: Option<&'a str>,
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
    judge_pin(sc, f, &mut push);
    judge_disruptions(expect, f, &mut push);
    judge_long(expect, f, &mut push);
    judge_timings(expect, f, &mut push);
    judge_order(expect, f, &mut push);
    judge_outcomes(expect, f, &mut push);
    judge_termination(expect, f, &mut push);
    judge_timeline(expect, f, &mut push);
    judge_gaps(expect, f, &mut push);
    out
}

/// A pinned long request must have been served by its pod, or the
/// scenario proves nothing.
fn judge_pin(sc: &Scenario, f: &RunFacts<'_>, push: &mut impl FnMut(&str, bool, String)) {
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
}

/// The disruption count's bounds.
fn judge_disruptions(expect: &Expect, f: &RunFacts<'_>, push: &mut impl FnMut(&str, bool, String)) {
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
}

/// Whether the long requests were lost, and close-lb against their end.
fn judge_long(expect: &Expect, f: &RunFacts<'_>, push: &mut impl FnMut(&str, bool, String)) {
    if let Some(want) = expect.long_lost {
        let lost = f.long.iter().filter(|r| r.outcome.is_disruption()).count();
        let all_lost = !f.long.is_empty() && lost == f.long.len();
        push(
            if want {
                "the long request is lost"
            } else {
                "no long request is lost"
            },
            if want {
                all_lost
            } else {
                !f.long.is_empty() && lost == 0
            },
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
}

/// The steady load's p99 and preStop's duration.
fn judge_timings(expect: &Expect, f: &RunFacts<'_>, push: &mut impl FnMut(&str, bool, String)) {
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
}

/// close-lb before SIGTERM, SIGTERM after Envoy went idle ([`super::order`]).
fn judge_order(expect: &Expect, f: &RunFacts<'_>, push: &mut impl FnMut(&str, bool, String)) {
    let of = super::order::OrderFacts {
        timeline: f.timeline,
        samples: f.samples,
        pod: f.terminated_pod,
        sigterm_ms: f.termination.and_then(|t| t.sigterm_ms),
    };
    if let Some(want) = expect.close_lb_before_sigterm {
        let (ok, detail) = super::order::close_lb_before_sigterm(&of);
        push(
            if want {
                "close-lb before SIGTERM"
            } else {
                "no close-lb before SIGTERM"
            },
            ok == want,
            detail,
        );
    }
    if let Some(want) = expect.sigterm_after_envoy_idle {
        let (ok, detail) = super::order::sigterm_after_envoy_idle(&of);
        push(
            if want {
                "SIGTERM only after Envoy's active requests reached 0"
            } else {
                "SIGTERM while Envoy still had active requests"
            },
            ok == want,
            detail,
        );
    }
}

/// The count bounds per outcome.
fn judge_outcomes(expect: &Expect, f: &RunFacts<'_>, push: &mut impl FnMut(&str, bool, String)) {
    let count = |k: &Outcome| f.outcomes.get(k).copied().unwrap_or(0);
    for (k, min) in &expect.outcomes_min {
        push(
            &format!("{k} >= {min}"),
            count(k) >= *min,
            format!("{} {k}", count(k)),
        );
    }
    for (k, max) in &expect.outcomes_max {
        push(
            &format!("{k} <= {max}"),
            count(k) <= *max,
            format!("{} {k}", count(k)),
        );
    }
}

/// The termination's course: preStop's exit and cut, the LB letting go,
/// each container's exit code.
fn judge_termination(expect: &Expect, f: &RunFacts<'_>, push: &mut impl FnMut(&str, bool, String)) {
    if let Some(code) = expect.drain_exit_code {
        let got = f.termination.and_then(|t| t.prestop_exit);
        push(
            &format!("preStop exit code {code}"),
            got == Some(code),
            format!(
                "exit code {}",
                got.map(|c| c.to_string()).unwrap_or("-".into())
            ),
        );
    }
    if let Some(want) = expect.prestop_cut_by_grace {
        let got = f.termination.map(|t| t.prestop_cut_by_grace);
        push(
            if want {
                "the grace period cut preStop"
            } else {
                "preStop ended within the grace period"
            },
            got == Some(want),
            format!("cut by grace: {got:?}"),
        );
    }
    if let Some([a, b]) = expect.lb_down_after_close_lb {
        let got = f.close_lb_to_down_ms;
        push(
            &format!("LB let go {a}..{b} after close-lb"),
            got.is_some_and(|g| g >= a.as_f64_ms() && g <= b.as_f64_ms()),
            format!("after {}", fmt_s(got)),
        );
    }
    for (c, code) in &expect.exit_codes {
        let got = f.termination.and_then(|t| {
            t.exits
                .iter()
                .find(|(n, _)| n == c.as_str())
                .map(|(_, x)| *x)
        });
        push(
            &format!("{c} exit code {code}"),
            got == Some(*code),
            format!(
                "exit code {}; killed: {}",
                got.map(|c| c.to_string()).unwrap_or("-".into()),
                f.termination
                    .map(|t| t.killed.join(" "))
                    .filter(|k| !k.is_empty())
                    .unwrap_or("-".into())
            ),
        );
    }
}

/// Causes found and timeline events present or absent.
fn judge_timeline(expect: &Expect, f: &RunFacts<'_>, push: &mut impl FnMut(&str, bool, String)) {
    for needle in &expect.attribution_contains {
        let hits = f
            .attributions
            .iter()
            .filter(|a| {
                a.cause
                    .as_deref()
                    .is_some_and(|c| c.contains(needle.as_str()))
            })
            .count();
        push(
            &format!("a disruption is attributed to {needle:?}"),
            hits > 0,
            format!("{hits}/{} attributions", f.attributions.len()),
        );
    }
    for p in &expect.timeline_has {
        let hit = find_event(f.timeline, p, None, f64::NEG_INFINITY);
        push(
            &format!("timeline has {p:?}"),
            hit.is_some(),
            format!("at {}", fmt_s(hit.map(|e| e.t_ms))),
        );
    }
    for p in &expect.timeline_lacks {
        let hit = find_event(f.timeline, p, None, f64::NEG_INFINITY);
        push(
            &format!("timeline lacks {p:?}"),
            hit.is_none(),
            match hit {
                Some(e) => format!("found at {}: {}", fmt_s(Some(e.t_ms)), e.detail),
                None => "not found".into(),
            },
        );
    }
}

/// The gaps between two timeline events.
fn judge_gaps(expect: &Expect, f: &RunFacts<'_>, push: &mut impl FnMut(&str, bool, String)) {
    for g in &expect.gaps {
        let from = find_event(f.timeline, &g.from, g.pod.as_deref(), f64::NEG_INFINITY);
        let to = from.and_then(|a| find_event(f.timeline, &g.to, g.pod.as_deref(), a.t_ms));
        let gap = match (from, to) {
            (Some(a), Some(b)) => Some(b.t_ms - a.t_ms),
            _ => None,
        };
        let ok = gap.is_some_and(|d| {
            g.min.is_none_or(|m| d >= m.as_f64_ms()) && g.max.is_none_or(|m| d <= m.as_f64_ms())
        });
        push(
            &format!(
                "{:?} -> {:?} within [{}, {}]",
                g.from,
                g.to,
                g.min.map(|d| d.to_string()).unwrap_or("0".into()),
                g.max.map(|d| d.to_string()).unwrap_or("inf".into())
            ),
            ok,
            format!(
                "{} (from at {}, to at {})",
                fmt_s(gap),
                fmt_s(from.map(|e| e.t_ms)),
                fmt_s(to.map(|e| e.t_ms))
            ),
        );
    }
}
