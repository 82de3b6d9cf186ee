//! The report's tables: expectations, counts, percentiles, drain steps,
//! disruptions with their causes, and the timeline's hc states with their
//! gate names. HTML fragments only; it reads and writes no file.

use std::fmt::Write as _;

use super::table;
use crate::artifacts::hgrm::Percentiles;
use crate::artifacts::summary::Summary;
use crate::model::{Attribution, Event, EventKind, Outcome, RequestRecord, Source};

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.3}"))
}

fn pct_row(name: &str, p: &Option<Percentiles>) -> Vec<String> {
    let mut row = vec![name.to_string()];
    match p {
        Some(p) => {
            row.push(p.count.to_string());
            for v in [p.p50, p.p90, p.p99, p.p999, p.max] {
                row.push(format!("{v:.3}"));
            }
        }
        None => row.extend(std::iter::repeat_n("–".to_string(), 6)),
    }
    row
}

/// A `<ul>` of already escaped items.
pub(super) fn list(o: &mut String, items: &[String]) {
    o.push_str("<ul>\n");
    for i in items {
        let _ = writeln!(o, "<li>{i}</li>");
    }
    o.push_str("</ul>\n");
}

/// An hc `state` event's detail with legacy names followed by their gate
/// names (`READY -> DRAINING [OPEN -> DRAINING]`); other details unchanged.
pub(super) fn state_detail(e: &Event) -> String {
    if e.source != Source::Hc || e.kind != EventKind::State {
        return e.detail.clone();
    }
    let mapped: Vec<String> = e
        .detail
        .split(" -> ")
        .map(|p| gate::to_gate_name(p.trim()))
        .collect();
    let mapped = mapped.join(" -> ");
    if mapped == e.detail {
        e.detail.clone()
    } else {
        format!("{} [{mapped}]", e.detail)
    }
}

/// The sections of the summary: expectations, counts, latency, drain.
pub(super) fn write_summary_sections(o: &mut String, s: &Summary, t_term: Option<f64>) {
    write_expectations(o, s);
    write_counts(o, s);
    write_latency(o, s);
    write_drain(o, s, t_term);
}

fn write_expectations(o: &mut String, s: &Summary) {
    let _ = writeln!(o, "<h2>Expectations</h2>");
    if s.expectations.is_empty() {
        o.push_str("<p class=\"muted\">none recorded</p>\n");
    } else {
        let rows: Vec<Vec<String>> = s
            .expectations
            .iter()
            .map(|e| {
                let ok = if e.ok { "ok" } else { "FAILED" };
                vec![e.name.clone(), ok.to_string(), e.detail.clone()]
            })
            .collect();
        table(o, &["expectation", "result", "detail"], &rows, &[]);
    }
}

/// Requests by outcome (in the model's order, ok first) and disruptions by
/// origin.
fn write_counts(o: &mut String, s: &Summary) {
    let _ = writeln!(
        o,
        "<h2>Requests: {} · disruptions: {}</h2>",
        s.requests, s.disruptions
    );
    let rows: Vec<Vec<String>> = Outcome::ALL
        .iter()
        .map(|k| {
            let n = s.outcomes.get(k).copied().unwrap_or(0);
            vec![k.as_str().to_string(), n.to_string()]
        })
        .collect();
    table(o, &["outcome", "count"], &rows, &[1]);
    if !s.disruptions_by_origin.is_empty() {
        let rows: Vec<Vec<String>> = s
            .disruptions_by_origin
            .iter()
            .map(|(k, v)| vec![k.clone(), v.to_string()])
            .collect();
        table(o, &["disruptions by origin", "count"], &rows, &[1]);
    }
}

fn write_latency(o: &mut String, s: &Summary) {
    let _ = writeln!(
        o,
        "<h2>Latency (ms, ok requests only)</h2>\
<p class=\"muted\">corrected: from the intended send time (no coordinated omission); uncorrected: from the actual send time.</p>"
    );
    let rows = vec![
        pct_row("corrected", &s.latency_ms.corrected),
        pct_row("uncorrected", &s.latency_ms.uncorrected),
    ];
    table(
        o,
        &["", "count", "p50", "p90", "p99", "p99.9", "max"],
        &rows,
        &[1, 2, 3, 4, 5, 6],
    );
}

/// preStop, its exit code, the LB letting go, and drain's steps.
fn write_drain(o: &mut String, s: &Summary, t_term: Option<f64>) {
    let d = &s.drain;
    let _ = writeln!(
        o,
        "<h2>Drain</h2><p>preStop: {} ms · exit code: {} · close-lb → DOWN: {} ms</p>",
        ms(d.prestop_ms),
        d.exit_code.map_or("–".into(), |c| c.to_string()),
        ms(d.close_lb_to_down_ms)
    );
    let rows: Vec<Vec<String>> = d
        .steps
        .iter()
        .enumerate()
        .map(|(i, st)| {
            vec![
                st.step.clone(),
                format!("{:.3}", st.t_ms / 1000.0),
                t_term.map_or("–".into(), |t| format!("{:.3}", (st.t_ms - t) / 1000.0)),
                d.steps.get(i + 1).map_or("–".into(), |n| {
                    format!("{:.3}", (n.t_ms - st.t_ms) / 1000.0)
                }),
            ]
        })
        .collect();
    table(
        o,
        &[
            "step",
            "t (s)",
            "since terminating (s)",
            "until the next step (s)",
        ],
        &rows,
        &[1, 2, 3],
    );
}

/// Every disruption (the disrupted rows of requests.csv, or the
/// attributions alone when it held no row: `csv_rows` is how many it held),
/// with its attributed cause.
pub(super) fn write_disruptions(
    o: &mut String,
    summary: Option<&Summary>,
    disrupted: &[RequestRecord],
    csv_rows: u64,
) {
    let attributions = summary.map(|s| s.attributions.as_slice()).unwrap_or(&[]);
    let mut rows: Vec<Vec<String>> = disrupted
        .iter()
        .filter(|r| r.outcome.is_disruption())
        .map(|r| record_row(r, attributions))
        .collect();
    if csv_rows == 0 {
        rows.extend(
            attributions
                .iter()
                .map(|a| attribution_row(a, attributions)),
        );
    }
    let _ = writeln!(o, "<h2>Disruptions ({})</h2>", rows.len());
    if rows.is_empty() {
        o.push_str("<p>none</p>\n");
        return;
    }
    o.push_str(
        "<p>haproxy term, envoy flags: the proxies' own log lines of the request \
         (by x-request-id), – where that proxy logged none. evidence: what the \
         cause rests on (haproxy_log, envoy_log, both; inferred = no proxy logged \
         it, nearest event of its pod; none).</p>\n",
    );
    table(
        o,
        &[
            "request",
            "outcome",
            "phase",
            "origin",
            "pod",
            "path",
            "t (s)",
            "error",
            "haproxy term",
            "envoy flags",
            "evidence",
            "cause",
            "after cause (ms)",
        ],
        &rows,
        &[6, 12],
    );
}

/// A request's cause, how long after it, and what it rests on.
fn cause_cells(id: &str, attributions: &[Attribution]) -> (String, String, String) {
    match attributions.iter().find(|a| a.request_id == id) {
        Some(a) => (
            a.cause
                .clone()
                .unwrap_or_else(|| "no preceding cause".into()),
            ms(a.delta_ms),
            a.evidence.as_str().to_string(),
        ),
        None => ("not attributed".into(), "–".into(), "–".into()),
    }
}

/// A disrupted row of requests.csv.
fn record_row(r: &RequestRecord, attributions: &[Attribution]) -> Vec<String> {
    let (cause, delta, evidence) = cause_cells(&r.id, attributions);
    // `–`: that proxy logged no line of it (or the run predates the columns).
    let logged = |v: &Option<String>| v.clone().unwrap_or_else(|| "–".into());
    vec![
        r.id.clone(),
        r.outcome.to_string(),
        r.phase.map(|x| x.as_str().to_string()).unwrap_or_default(),
        r.origin.map(|x| x.as_str().to_string()).unwrap_or_default(),
        r.pod.clone().unwrap_or_default(),
        r.path.clone(),
        format!("{:.3}", r.end_ms / 1000.0),
        r.error.clone().unwrap_or_default(),
        logged(&r.haproxy_term),
        logged(&r.envoy_flags),
        evidence,
        cause,
        delta,
    ]
}

/// An attribution alone (requests.csv held no row).
fn attribution_row(a: &Attribution, attributions: &[Attribution]) -> Vec<String> {
    let (cause, delta, evidence) = cause_cells(&a.request_id, attributions);
    vec![
        a.request_id.clone(),
        a.outcome.to_string(),
        String::new(),
        String::new(),
        a.pod.clone().unwrap_or_default(),
        String::new(),
        format!("{:.3}", a.t_ms / 1000.0),
        String::new(),
        String::new(),
        String::new(),
        evidence,
        cause,
        delta,
    ]
}
