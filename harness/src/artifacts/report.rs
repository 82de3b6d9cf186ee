//! `report.html`: one self-contained page per run (inline CSS, the plot's
//! SVG inline, no script, no network): verdict first, then counts,
//! percentiles, drain steps, disruptions with their causes, the timeline,
//! versions and settings, and links to the raw files.
//!
//! It only reads the run folder's files and writes `report.html`; it never
//! recomputes a verdict.

use std::fmt::Write as _;

use chrono::SecondsFormat;
use std::fs;
use std::path::{Path, PathBuf};

use super::csv::{read_requests, read_timeline};
use super::hgrm::Percentiles;
use super::plot::{render_svg, PlotData};
use super::rundir::write_atomic;
use super::summary::{Summary, Verdict};
use super::{names, ArtifactsError};
use crate::model::{Outcome, RequestRecord};

/// Escapes text for HTML content and attribute values.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:1.5em;color:#222;max-width:1700px}\
h1{margin:.2em 0}h2{margin-top:1.6em;border-bottom:1px solid #ccc}\
.verdict{display:inline-block;padding:.3em .8em;border-radius:4px;color:#fff;font-weight:bold;font-size:1.4em}\
.pass{background:#2e7d32}.fail{background:#c62828}.interrupted{background:#ef6c00}.unknown{background:#777}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;font-size:.92em}\
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}tr.bad td{background:#fdecea}\
pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.85em}.plot svg{max-width:100%;height:auto}\
.muted{color:#777}";

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "–".to_string(), |v| format!("{v:.3}"))
}

fn table(out: &mut String, head: &[&str], rows: &[Vec<String>], numeric: &[usize]) {
    out.push_str("<table><tr>");
    for h in head {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr>\n");
    for row in rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let class = if numeric.contains(&i) {
                " class=\"n\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", esc(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
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

/// Relative paths of the raw files in the run folder (top level, `config/`,
/// `logs/`), sorted.
fn raw_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for sub in ["", names::CONFIG_DIR, names::LOGS_DIR] {
        let Ok(rd) = fs::read_dir(dir.join(sub)) else {
            continue;
        };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !e.path().is_file() || name == names::REPORT {
                continue;
            }
            out.push(if sub.is_empty() {
                name
            } else {
                format!("{sub}/{name}")
            });
        }
    }
    out.sort();
    out
}

/// Writes `<dir>/report.html` from the run folder's files; returns its path.
/// Works on a killed run (`.part` CSVs, a summary marked interrupted) and on
/// a folder with files missing (each missing part says so).
pub fn write_report(dir: &Path) -> Result<PathBuf, ArtifactsError> {
    let path = dir.join(names::REPORT);
    let html = render_report(dir)?;
    write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

fn or_empty<T>(r: Result<Vec<T>, ArtifactsError>) -> Result<Vec<T>, ArtifactsError> {
    match r {
        Err(ArtifactsError::Missing { .. }) => Ok(Vec::new()),
        other => other,
    }
}

/// The page as a string.
pub fn render_report(dir: &Path) -> Result<String, ArtifactsError> {
    let summary = Summary::read(dir).ok();
    let requests = or_empty(read_requests(dir))?;
    let timeline = or_empty(read_timeline(dir))?;
    let svg = match fs::read_to_string(dir.join(names::PLOT_SVG)) {
        Ok(s) => s,
        Err(_) => render_svg(&PlotData::load(dir)?).map_err(|detail| ArtifactsError::Plot {
            path: dir.join(names::PLOT_SVG),
            detail,
        })?,
    };
    let run_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();

    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<link rel=\"icon\" href=\"data:,\"><title>{}</title><style>{CSS}</style></head><body>\n",
        esc(&run_name)
    );
    let (class, word) = match summary.as_ref().map(|s| s.verdict) {
        Some(Verdict::Pass) => ("pass", "PASS"),
        Some(Verdict::Fail) => ("fail", "FAIL"),
        Some(Verdict::Interrupted) => ("interrupted", "INTERRUPTED"),
        None => ("unknown", "NO SUMMARY"),
    };
    let _ = writeln!(o, "<div class=\"verdict {class}\">{word}</div>");
    match &summary {
        Some(s) => {
            let _ = writeln!(
                o,
                "<h1>{} / {}</h1><p class=\"muted\">run {} · started {} · {} · runtime {} ({}) · naming {}</p>",
                esc(&s.scenario),
                esc(&s.mode),
                esc(&s.run_id),
                esc(&s.started_at.to_rfc3339_opts(SecondsFormat::Millis, true)),
                s.wall_s.map_or("wall time unknown".into(), |w| format!("{w:.1} s")),
                esc(&s.runtime),
                esc(&s.runtime_reason),
                if s.naming == gate::Naming::Legacy { "legacy" } else { "gate" },
            );
            write_summary_sections(&mut o, s);
        }
        None => {
            let _ = writeln!(
                o,
                "<h1>{}</h1><p>summary.json is missing or unreadable: the run did not get to write it.</p>",
                esc(&run_name)
            );
        }
    }
    let _ = writeln!(o, "<h2>Plot</h2><div class=\"plot\">{svg}</div>");
    write_disruptions(&mut o, summary.as_ref(), &requests);

    let _ = writeln!(o, "<h2>Timeline ({} events)</h2>", timeline.len());
    let rows: Vec<Vec<String>> = timeline
        .iter()
        .map(|e| {
            vec![
                format!("{:.3}", e.t_ms / 1000.0),
                e.source.clone(),
                e.pod.clone().unwrap_or_default(),
                e.event.clone(),
                e.detail.clone(),
            ]
        })
        .collect();
    table(
        &mut o,
        &["t (s)", "source", "pod", "event", "detail"],
        &rows,
        &[0],
    );

    if let Some(s) = &summary {
        let _ = writeln!(o, "<h2>Versions</h2>");
        let rows: Vec<Vec<String>> = s
            .versions
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        table(&mut o, &["component", "version"], &rows, &[]);
    }
    let _ = writeln!(o, "<h2>Settings (scenario.toml)</h2>");
    match fs::read_to_string(dir.join(names::SCENARIO)) {
        Ok(t) => {
            let _ = writeln!(o, "<pre>{}</pre>", esc(&t));
        }
        Err(_) => o.push_str("<p class=\"muted\">scenario.toml is missing.</p>\n"),
    }
    let _ = writeln!(o, "<h2>Raw files</h2><ul>");
    for f in raw_files(dir) {
        let _ = writeln!(o, "<li><a href=\"{0}\">{0}</a></li>", esc(&f));
    }
    o.push_str("</ul>\n</body></html>\n");
    Ok(o)
}

fn write_summary_sections(o: &mut String, s: &Summary) {
    if !s.notes.is_empty() {
        o.push_str("<ul>");
        for n in &s.notes {
            let _ = write!(o, "<li>{}</li>", esc(n));
        }
        o.push_str("</ul>\n");
    }
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
    let _ = writeln!(
        o,
        "<h2>Requests: {} · disruptions: {}</h2>",
        s.requests, s.disruptions
    );
    // In the model's order (ok first), then any name this build does not know.
    let known: Vec<&str> = Outcome::ALL.iter().map(|x| x.as_str()).collect();
    let rows: Vec<Vec<String>> = known
        .iter()
        .map(|k| (k.to_string(), s.outcomes.get(*k).copied().unwrap_or(0)))
        .chain(
            s.outcomes
                .iter()
                .filter(|(k, _)| !known.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), *v)),
        )
        .map(|(k, v)| vec![k, v.to_string()])
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
        .map(|st| vec![st.step.clone(), format!("{:.3}", st.t_ms / 1000.0)])
        .collect();
    table(o, &["step", "t (s)"], &rows, &[1]);
}

/// Every disruption (from requests.csv, or from the attributions alone when
/// the CSV is gone), with its attributed cause.
fn write_disruptions(o: &mut String, summary: Option<&Summary>, requests: &[RequestRecord]) {
    let attributions = summary.map(|s| s.attributions.as_slice()).unwrap_or(&[]);
    let mut rows: Vec<Vec<String>> = Vec::new();
    let cause_of = |id: &str| attributions.iter().find(|a| a.request_id == id);
    let fmt_cause = |id: &str| match cause_of(id) {
        Some(a) => (
            a.cause
                .clone()
                .unwrap_or_else(|| "no preceding cause".into()),
            ms(a.delta_ms),
        ),
        None => ("not attributed".into(), "–".into()),
    };
    for r in requests.iter().filter(|r| r.outcome.is_disruption()) {
        let (cause, delta) = fmt_cause(&r.id);
        rows.push(vec![
            r.id.clone(),
            r.outcome.to_string(),
            r.origin.map(|x| x.as_str().to_string()).unwrap_or_default(),
            r.pod.clone().unwrap_or_default(),
            r.path.clone(),
            format!("{:.3}", r.end_ms / 1000.0),
            r.error.clone().unwrap_or_default(),
            cause,
            delta,
        ]);
    }
    if requests.is_empty() {
        for a in attributions {
            let (cause, delta) = fmt_cause(&a.request_id);
            rows.push(vec![
                a.request_id.clone(),
                a.outcome.to_string(),
                String::new(),
                a.pod.clone().unwrap_or_default(),
                String::new(),
                format!("{:.3}", a.t_ms / 1000.0),
                String::new(),
                cause,
                delta,
            ]);
        }
    }
    let _ = writeln!(o, "<h2>Disruptions ({})</h2>", rows.len());
    if rows.is_empty() {
        o.push_str("<p>none</p>\n");
        return;
    }
    table(
        o,
        &[
            "request",
            "outcome",
            "origin",
            "pod",
            "path",
            "t (s)",
            "error",
            "cause",
            "after cause (ms)",
        ],
        &rows,
        &[5, 8],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
