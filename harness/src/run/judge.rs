//! Judge: from a [`Driven`] run, the summary's counts, attributions (from
//! the proxies' evidence), drain facts, expectations, validity (accounting
//! and coverage) and the verdict.
//!
//! Pure: reads what drive collected, never does I/O and never starts
//! anything.

use crate::artifacts::{DrainStep, Summary};
use crate::model::{Event, EventKind, Source};
use crate::observe::evidence::{self, Evidence};
use crate::scenario::{Mode, Scenario};

use super::drive::Driven;
use super::validity::{self, ValidityFacts};
use super::verdict::{self, RunFacts};

/// A judged run: its complete summary, verdict decided.
pub struct Judged {
    pub summary: Summary,
}

/// Judges `d` against `mode` of `sc`, completing the staged `summary`.
pub fn judge(sc: &Scenario, mode: &Mode, mut summary: Summary, d: &Driven) -> Judged {
    let failed = d.outcome.is_err();
    if let Err(e) = &d.outcome {
        summary.notes.push(format!("run failed: {e:#}"));
    }
    let facts = d.outcome.as_ref().ok();
    let (long, disruptions) = match &d.records {
        Some(r) => {
            r.tally.apply_to(&mut summary);
            (r.long.as_slice(), r.disruptions.as_slice())
        }
        None => (&[][..], &[][..]),
    };
    for e in &d.write_errors {
        summary.notes.push(e.clone());
    }
    evidence_notes(&mut summary.notes, d);
    let no_lines = Evidence::default();
    summary.attributions = disruptions
        .iter()
        .map(|r| {
            let ev = d.records.as_ref().and_then(|x| x.evidence.get(&r.id));
            evidence::attribute(r, ev.unwrap_or(&no_lines), &d.events)
        })
        .collect();
    // Drain facts of the (first) terminated pod.
    let first_term = facts.and_then(|f| f.terminations.first().map(|(_, t)| t.clone()));
    if let Some(f) = facts {
        if let Some((_, t)) = f.terminations.first() {
            summary.drain.prestop_ms = t.prestop_ms;
            summary.drain.exit_code = t.prestop_exit;
        }
        if let Some(l) = &f.load {
            summary.notes.push(format!(
                "load: {} scheduled, {} sent, {} completed, {} sent more than 1 ms late",
                l.scheduled, l.sent, l.completed, l.late_sends
            ));
        }
    }
    summary.drain.steps = drain_steps(&d.events);
    let first_terminated = sc.faults.iter().flat_map(|f| f.terminated_pods()).next();
    if let Some(pod) = first_terminated {
        summary.drain.close_lb_to_down_ms =
            super::moments::lb_release_after_close_lb(&d.events, pod);
    }
    let interrupted = d.interrupted.is_some() || failed;
    if !interrupted {
        let steady_p99 = summary.latency_ms.corrected.as_ref().map(|p| p.p99);
        summary.expectations = verdict::judge(
            sc,
            &mode.expect,
            &RunFacts {
                disruptions: summary.disruptions,
                long,
                timeline: &d.events,
                steady_p99_ms: steady_p99,
                prestop_ms: summary.drain.prestop_ms,
                outcomes: &summary.outcomes,
                attributions: &summary.attributions,
                termination: first_term.as_ref(),
                close_lb_to_down_ms: summary.drain.close_lb_to_down_ms,
                samples: &d.samples,
                terminated_pod: first_terminated,
            },
        );
        validity::judge(
            &mut summary,
            sc,
            mode,
            &ValidityFacts {
                events: &d.events,
                write_errors: &d.write_errors,
                facts,
                rows: d.records.as_ref().map(|r| r.tally.requests),
            },
        );
    }
    summary.interrupted = interrupted;
    summary.decide_verdict();
    Judged { summary }
}

/// What the run could not join to HAProxy's log: requests without a line
/// the harness read, and the lines HAProxy itself dropped (its stdout full).
fn evidence_notes(notes: &mut Vec<String>, d: &Driven) {
    if let Some(r) = &d.records {
        if r.haproxy_lines < r.tally.requests {
            notes.push(format!(
                "the harness read HAProxy's log line of {} of {} requests: {} have none \
                 to join (HAProxy's own drops are its DroppedLogs)",
                r.haproxy_lines,
                r.tally.requests,
                r.tally.requests - r.haproxy_lines
            ));
        }
    }
    let dropped = d
        .outcome
        .as_ref()
        .ok()
        .and_then(|f| f.haproxy_dropped_logs.as_ref());
    match dropped {
        Some(Ok(0)) | None => {}
        Some(Ok(n)) => notes.push(format!(
            "HAProxy dropped {n} of its log lines (its stdout was full): those requests \
             have no HAProxy evidence; a request without x-served-by takes its pod from \
             Envoy's line"
        )),
        Some(Err(e)) => notes.push(format!("HAProxy's dropped log lines unknown: {e}")),
    }
}

/// Kubelet's preStop moments and every drain step, in timeline order.
fn drain_steps(events: &[Event]) -> Vec<DrainStep> {
    events
        .iter()
        .filter(|e| {
            e.source == Source::Drain
                || (e.source == Source::Kubelet
                    && matches!(
                        e.kind,
                        EventKind::PrestopStart
                            | EventKind::PrestopEnd
                            | EventKind::PrestopTimeout
                            | EventKind::PrestopFailed
                    ))
        })
        .map(|e| DrainStep {
            step: format!("{} {}", e.source, e.kind),
            t_ms: e.t_ms,
        })
        .collect()
}
