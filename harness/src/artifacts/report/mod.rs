//! `report.html`: one self-contained page per run (inline CSS, the plot's
//! SVG inline, no script, no network): verdict first, what happened (every
//! disruption and its cause in words, the key moments), the scenario in
//! plain words, the plot, expectations, counts, percentiles, drain steps,
//! disruptions with their causes, the timeline, versions and settings, and
//! links to the raw files.
//!
//! It only reads the run folder's files and writes `report.html`; it never
//! recomputes a verdict.

use std::fmt::Write as _;

use chrono::SecondsFormat;
use std::fs;
use std::path::{Path, PathBuf};

use super::csv::read_timeline;
use super::digest::RequestsDigest;
use super::plot::{render_svg, PlotData};
use super::rundir::write_atomic;
use super::summary::{Summary, Verdict};
use super::{names, ArtifactsError};
use crate::model::{Event, EventKind, RequestRecord};

pub mod narrative;
mod sections;
use sections::{list, state_detail, write_disruptions, write_summary_sections};

/// Escapes text for HTML and XML content and attribute values (report,
/// comparison page, JUnit), dropping the control characters XML 1.0 cannot
/// carry at all.
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            '\t' | '\n' | '\r' => o.push(c),
            c if (c as u32) < 0x20 || c == '\u{FFFE}' || c == '\u{FFFF}' => o.push('?'),
            c => o.push(c),
        }
    }
    o
}

const CSS: &str = "body{font-family:DejaVu Sans,Helvetica,Arial,sans-serif;margin:1.5em;color:#222;max-width:1700px}\
h1{margin:.2em 0}h2{margin-top:1.6em;border-bottom:1px solid #ccc}\
.verdict{display:inline-block;padding:.3em .8em;border-radius:4px;color:#fff;font-weight:bold;font-size:1.4em}\
.pass{background:#2e7d32}.fail{background:#c62828}.interrupted{background:#ef6c00}.invalid{background:#6a1b9a}.unknown{background:#777}\
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;font-size:.92em}\
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}tr.bad td{background:#fdecea}\
pre{background:#f7f7f7;padding:.8em;overflow:auto;font-size:.85em}.plot svg{max-width:100%;height:auto}\
.muted{color:#777}.lost{color:#c62828;font-weight:bold}li{margin:.2em 0}";

pub(super) fn table(out: &mut String, head: &[&str], rows: &[Vec<String>], numeric: &[usize]) {
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
    let requests = RequestsDigest::read_if_any(dir)?;
    write_report_with(dir, requests.as_ref())
}

/// Like [`write_report`], with requests.csv already digested (`None`: the
/// run has none).
pub fn write_report_with(
    dir: &Path,
    requests: Option<&RequestsDigest>,
) -> Result<PathBuf, ArtifactsError> {
    let path = dir.join(names::REPORT);
    let html = render_report_with(dir, requests)?;
    write_atomic(&path, html.as_bytes())?;
    Ok(path)
}

/// Writes `<dir>/report.html` for `summary` (the run's, before its
/// summary.json is written), with requests.csv already digested.
pub fn write_report_for(
    dir: &Path,
    summary: &Summary,
    requests: Option<&RequestsDigest>,
) -> Result<PathBuf, ArtifactsError> {
    let path = dir.join(names::REPORT);
    let html = render_page(dir, Some(summary.clone()), requests)?;
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
    let requests = RequestsDigest::read_if_any(dir)?;
    render_report_with(dir, requests.as_ref())
}

/// The page as a string, with requests.csv already digested.
pub fn render_report_with(
    dir: &Path,
    requests: Option<&RequestsDigest>,
) -> Result<String, ArtifactsError> {
    render_page(dir, Summary::read(dir).ok(), requests)
}

/// The page of `summary` (`None`: the run has no readable summary.json).
fn render_page(
    dir: &Path,
    summary: Option<Summary>,
    requests: Option<&RequestsDigest>,
) -> Result<String, ArtifactsError> {
    let timeline = or_empty(read_timeline(dir))?;
    let svg = plot_svg(dir, requests)?;
    let disrupted = requests.map_or(&[][..], |d| d.disrupted.as_slice());
    let total = requests.map(RequestsDigest::requests);
    let run_name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let scenario_toml = fs::read_to_string(dir.join(names::SCENARIO)).ok();
    let summary = summary.as_ref();

    let mut o = String::new();
    write_heading(&mut o, &run_name, summary);
    write_what_happened(&mut o, summary, disrupted, total, &timeline);
    write_scenario(&mut o, summary, scenario_toml.as_deref());
    let _ = writeln!(
        o,
        "<h2 id=\"plot\">Plot</h2><p class=\"muted\">Top: latency at the intended send time: every disrupted request as a point coloured by its outcome, the ok requests as a band per time bucket (line: p50; darker shade: p50 to p99; lighter: p99 to max); vertical lines are the timeline's events (labelled above). Middle: hc state and HAProxy's view per pod. Bottom: Envoy's active requests and connections per pod. Also as <a href=\"plot.png\">plot.png</a>.</p><div class=\"plot\">{svg}</div>"
    );
    let t_term = timeline
        .iter()
        .find(|e| e.kind == EventKind::Terminating)
        .map(|e| e.t_ms);
    if let Some(s) = summary {
        write_summary_sections(&mut o, s, t_term);
    }
    write_disruptions(&mut o, summary, disrupted, total.unwrap_or(0));
    write_timeline(&mut o, &timeline);
    write_versions_settings_files(&mut o, dir, summary, scenario_toml.as_deref());
    o.push_str("</body></html>\n");
    Ok(o)
}

/// plot.svg as written, or drawn now when it is missing.
fn plot_svg(dir: &Path, requests: Option<&RequestsDigest>) -> Result<String, ArtifactsError> {
    if let Ok(s) = fs::read_to_string(dir.join(names::PLOT_SVG)) {
        return Ok(s);
    }
    let data = PlotData::with_requests(dir, requests.cloned().unwrap_or_default())?;
    render_svg(&data).map_err(|detail| ArtifactsError::Plot {
        path: dir.join(names::PLOT_SVG),
        detail,
    })
}

/// The page's head, the verdict badge, the title line and what the verdict
/// means for this mode.
fn write_heading(o: &mut String, run_name: &str, summary: Option<&Summary>) {
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<link rel=\"icon\" href=\"data:,\"><title>{}</title><style>{CSS}</style></head><body>\n",
        esc(run_name)
    );
    let (class, word) = match summary.map(|s| s.verdict) {
        Some(Verdict::Pass) => ("pass", "PASS"),
        Some(Verdict::Fail) => ("fail", "FAIL"),
        Some(Verdict::Interrupted) => ("interrupted", "INTERRUPTED"),
        Some(Verdict::Invalid) => ("invalid", "INVALID"),
        None => ("unknown", "NO SUMMARY"),
    };
    let _ = writeln!(
        o,
        "<div class=\"verdict {class}\" id=\"verdict\">{word}</div>"
    );
    let Some(s) = summary else {
        let _ = writeln!(
            o,
            "<h1>{}</h1><p>summary.json is missing or unreadable: the run did not get to write it.</p>",
            esc(run_name)
        );
        return;
    };
    let _ = writeln!(
        o,
        "<h1>{} / {}</h1><p class=\"muted\">run {} · started {} · {} · runtime {} ({}) · naming {}</p>",
        esc(&s.scenario),
        esc(&s.mode),
        esc(&s.run_id),
        esc(&s.started_at.to_rfc3339_opts(SecondsFormat::Millis, true)),
        s.wall_s.map_or("wall time unknown".into(), |w| format!("{w:.1} s")),
        esc(s.runtime_name()),
        esc(&s.runtime_reason),
        if s.naming == gate::Naming::Legacy { "legacy (hc states shown with their gate names in brackets)" } else { "gate" },
    );
    if !s.expectations.is_empty() {
        let exp: Vec<String> = s
            .expectations
            .iter()
            .map(|e| {
                format!(
                    "{} ({})",
                    esc(&e.name),
                    if e.ok { "held" } else { "<b>FAILED</b>" }
                )
            })
            .collect();
        let _ = writeln!(
            o,
            "<p>The verdict says whether this mode's expectations held: {}.</p>",
            exp.join("; ")
        );
    }
}

/// Every disruption and its cause in words, then the key moments.
fn write_what_happened(
    o: &mut String,
    summary: Option<&Summary>,
    disrupted: &[RequestRecord],
    total: Option<u64>,
    timeline: &[Event],
) {
    let _ = writeln!(o, "<h2 id=\"what-happened\">What happened</h2>");
    list(o, &narrative::what_happened(summary, disrupted, total));
    let moments = narrative::key_moments(timeline);
    if !moments.is_empty() {
        o.push_str("<p>Key moments (seconds from the run's start):</p>\n");
        list(o, &moments);
    }
}

/// The scenario in plain words, then the run's notes.
fn write_scenario(o: &mut String, summary: Option<&Summary>, scenario_toml: Option<&str>) {
    let mode = summary.map(|s| s.mode.as_str()).unwrap_or_default();
    let _ = writeln!(o, "<h2 id=\"scenario\">The scenario</h2>");
    match scenario_toml {
        Some(t) => list(o, &narrative::scenario_in_words(t, mode)),
        None => o.push_str("<p class=\"muted\">scenario.toml is missing.</p>\n"),
    }
    if let Some(s) = summary {
        if !s.notes.is_empty() {
            o.push_str("<p>Notes:</p>");
            let notes: Vec<String> = s.notes.iter().map(|n| esc(n)).collect();
            list(o, &notes);
        }
    }
}

/// Every timeline event as a table row.
fn write_timeline(o: &mut String, timeline: &[Event]) {
    let _ = writeln!(o, "<h2>Timeline ({} events)</h2>", timeline.len());
    let rows: Vec<Vec<String>> = timeline
        .iter()
        .map(|e| {
            vec![
                format!("{:.3}", e.t_ms / 1000.0),
                e.source.to_string(),
                e.pod.clone().unwrap_or_default(),
                e.kind.to_string(),
                state_detail(e),
            ]
        })
        .collect();
    table(
        o,
        &["t (s)", "source", "pod", "event", "detail"],
        &rows,
        &[0],
    );
}

/// The page's end: versions, scenario.toml verbatim, links to the raw files.
fn write_versions_settings_files(
    o: &mut String,
    dir: &Path,
    summary: Option<&Summary>,
    scenario_toml: Option<&str>,
) {
    if let Some(s) = summary {
        let _ = writeln!(o, "<h2>Versions</h2>");
        let rows: Vec<Vec<String>> = s
            .versions
            .iter()
            .map(|(k, v)| vec![k.clone(), v.clone()])
            .collect();
        table(o, &["component", "version"], &rows, &[]);
    }
    let _ = writeln!(o, "<h2>Settings (scenario.toml)</h2>");
    match scenario_toml {
        Some(t) => {
            let _ = writeln!(o, "<pre>{}</pre>", esc(t));
        }
        None => o.push_str("<p class=\"muted\">scenario.toml is missing.</p>\n"),
    }
    let _ = writeln!(o, "<h2>Raw files</h2><ul>");
    for f in raw_files(dir) {
        let _ = writeln!(o, "<li><a href=\"{0}\">{0}</a></li>", esc(&f));
    }
    o.push_str("</ul>\n");
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
